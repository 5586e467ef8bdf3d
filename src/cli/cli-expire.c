/* tidings expire [USER]: applies the configured `expire` rules now, to one
 * user or to all, as tidingsd's timer would (docs/cli.md). */
#include "cli/cli.h"
#include "server/expire.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cli_expire {
	struct cli *cli;
	struct config_expire_rule *rules;
	size_t rule_count;
	struct store_actor actor;
	int64_t now;
	size_t removed;
	int ret;
};

static void cli_expire_report(const struct store_user *user,
			      const struct store_mailbox *mb, size_t count,
			      void *ctx)
{
	fputs("user ", stdout);
	cli_print_safe(stdout, user->name);
	fputs(" mailbox ", stdout);
	cli_print_safe(stdout, mb->name);
	printf(": %zu expired\n", count);
}

static int cli_expire_user(const struct store_user *user, void *ctx)
{
	struct cli_expire *ce = ctx;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (expire_user_run(ce->cli->store, &ce->actor, ce->rules,
			    ce->rule_count, user, ce->now, 0, &ce->removed,
			    cli_expire_report, ce, &err) < 0) {
		char safe[CLI_SAFE_NAME_MAX];
		ce->ret = cli_fail("cannot expire messages of user '%s': %s",
				   cli_safe_name(user->name, safe,
						 sizeof(safe)),
				   err.msg[0] != '\0' ? err.msg
						      : "unknown error");
	}
	return 0;
}

static int cli_expire(struct cli *cli, char **argv)
{
	const char *name = cli->argc > 0 ? argv[0] : NULL;
	if (name != NULL && !cli_user_name_ok(name))
		return CLI_EXIT_USAGE;
	struct cli_expire ce;
	memset(&ce, 0, sizeof(ce));
	ce.cli = cli;
	char why[256];
	/* config_load() checked it; the default is "" */
	if (config_parse_expire(cli->cfg.expire, &ce.rules, &ce.rule_count,
				why, sizeof(why)) < 0) {
		fprintf(stderr, "tidings: expire: %s\n", why);
		return CLI_EXIT_USAGE;
	}
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		goto out;
	if (ce.rule_count == 0) {
		printf("no expire rules configured: nothing expired\n");
		goto out;
	}
	/* the expiry acts, on behalf of the admin running us */
	ce.actor = cli->actor;
	ce.actor.service = "expiry";
	ce.now = (int64_t)time(NULL);
	if (name != NULL) {
		struct store_user user;
		ret = cli_user_find(cli, name, &user);
		if (ret == CLI_EXIT_OK)
			cli_expire_user(&user, &ce);
	} else {
		struct store_error err;
		memset(&err, 0, sizeof(err));
		if (store_user_foreach(cli->store, cli_expire_user, &ce,
				       &err) < 0)
			ret = cli_fail("cannot list users: %s", err.msg);
	}
	if (ret == CLI_EXIT_OK)
		ret = ce.ret;
	if (ret == CLI_EXIT_OK)
		printf("%zu message%s expired\n", ce.removed,
		       ce.removed == 1 ? "" : "s");
out:
	free(ce.rules);
	return ret;
}

const struct cli_command cli_expire_commands[] = {
	/* a verb without a second word: "tidings expire [USER]" */
	{ "expire", "", "[USER]", 0,
	  "remove messages older than the configured expire rules now",
	  cli_expire, 1, NULL },
};
const size_t cli_expire_command_count =
	sizeof(cli_expire_commands) / sizeof(cli_expire_commands[0]);
