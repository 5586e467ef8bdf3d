/* tidings quota set|get: a user's storage, message-count and mailbox-count
 * limits. */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* SIZE as in the configuration ("100M", "1G", "4096"), a count, or
 * "default" for the configured default.  0 is unlimited. */
static int cli_quota_parse(const char *option, const char *value, bool size,
			   int64_t *limit_r)
{
	if (value == NULL) {
		*limit_r = STORE_QUOTA_KEEP;
		return 0;
	}
	if (strcmp(value, "default") == 0) {
		*limit_r = STORE_QUOTA_DEFAULT;
		return 0;
	}
	uint64_t n = 0;
	bool ok;
	if (size) {
		ok = config_parse_size(value, &n) == 0;
	} else {
		char *end = NULL;
		errno = 0;
		ok = value[0] >= '0' && value[0] <= '9';
		if (ok) {
			unsigned long long v = strtoull(value, &end, 10);
			ok = errno == 0 && *end == '\0';
			n = v;
		}
	}
	if (!ok || n > INT64_MAX) {
		char safe[CLI_SAFE_NAME_MAX];
		cli_fail("invalid value '%s' for %s: expected %s, 0 (unlimited) "
			 "or 'default'", cli_safe_name(value, safe, sizeof(safe)),
			 option, size ? "a size such as 4096, 64K, 16M or 1G"
				      : "a number");
		return -1;
	}
	*limit_r = (int64_t)n;
	return 0;
}

/* USER and the options in any order, as docs/cli.md shows them after the
 * user: "--storage SIZE" or "--storage=SIZE", "--messages N" likewise. */
static int cli_quota_set_args(struct cli *cli, char **argv,
			      const char **name_r, const char **storage_r,
			      const char **messages_r, const char **mailboxes_r)
{
	*name_r = *storage_r = *messages_r = *mailboxes_r = NULL;
	for (int i = 0; i < cli->argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		size_t nlen = strcspn(a, "=");
		if (nlen == 9 && strncmp(a, "--storage", 9) == 0)
			slot = storage_r;
		else if (nlen == 10 && strncmp(a, "--messages", 10) == 0)
			slot = messages_r;
		else if (nlen == 11 && strncmp(a, "--mailboxes", 11) == 0)
			slot = mailboxes_r;
		char safe[CLI_SAFE_NAME_MAX];
		if (slot == NULL) {
			if (a[0] == '-' && a[1] == '-') {
				cli_fail("quota set: unknown option '%s'",
					 cli_safe_name(a, safe, sizeof(safe)));
				return -1;
			}
			if (*name_r != NULL) {
				cli_fail("quota set: one USER only");
				return -1;
			}
			*name_r = a;
			continue;
		}
		if (*slot != NULL) {
			cli_fail("quota set: option %.*s given twice",
				 (int)nlen, a);
			return -1;
		}
		if (a[nlen] == '=') {
			*slot = a + nlen + 1;
		} else if (i + 1 < cli->argc) {
			*slot = argv[++i];
		} else {
			cli_fail("quota set: option %s needs a value", a);
			return -1;
		}
	}
	if (*name_r == NULL) {
		cli_fail("quota set: USER missing");
		return -1;
	}
	if (*storage_r == NULL && *messages_r == NULL && *mailboxes_r == NULL) {
		cli_fail("quota set: give --storage SIZE, --messages N and/or "
			 "--mailboxes N");
		return -1;
	}
	return 0;
}

static int cli_quota_set(struct cli *cli, char **argv)
{
	const char *name, *storage, *messages, *mailboxes;
	if (cli_quota_set_args(cli, argv, &name, &storage, &messages,
			       &mailboxes) < 0 ||
	    !cli_user_name_ok(name))
		return CLI_EXIT_USAGE;
	int64_t storage_limit, message_limit, mailbox_limit;
	if (cli_quota_parse("--storage", storage, true, &storage_limit) < 0 ||
	    cli_quota_parse("--messages", messages, false,
			    &message_limit) < 0 ||
	    cli_quota_parse("--mailboxes", mailboxes, false,
			    &mailbox_limit) < 0)
		return CLI_EXIT_USAGE;
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_quota_set_limits(cli->store, &cli->actor, name,
				   storage_limit, message_limit, mailbox_limit,
				   &err) == 0)
		return CLI_EXIT_OK;
	char safe[CLI_SAFE_NAME_MAX];
	cli_safe_name(name, safe, sizeof(safe));
	if (err.code == STORE_ERR_NONEXISTENT)
		return cli_fail("no such user '%s'", safe);
	return cli_fail("cannot set the quota of user '%s': %s", safe,
			err.msg[0] != '\0' ? err.msg : "unknown error");
}

static void cli_quota_print(const char *what, uint64_t used, uint64_t limit,
			    bool is_default)
{
	printf("%s used %" PRIu64 " limit ", what, used);
	if (limit == 0)
		printf("unlimited");
	else
		printf("%" PRIu64, limit);
	printf(" (%s)\n", is_default ? "default" : "own");
}

static int cli_quota_get(struct cli *cli, char **argv)
{
	const char *name = argv[0];
	if (!cli_user_name_ok(name))
		return CLI_EXIT_USAGE;
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_user user;
	ret = cli_user_find(cli, name, &user);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_quota q;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_quota_get(cli->store, user.id, &q, &err) < 0) {
		char safe[CLI_SAFE_NAME_MAX];
		return cli_fail("cannot read the quota of user '%s': %s",
				cli_safe_name(name, safe, sizeof(safe)),
				err.msg[0] != '\0' ? err.msg : "unknown error");
	}
	fputs("user ", stdout);
	cli_print_safe(stdout, user.name);
	fputc('\n', stdout);
	cli_quota_print("storage", q.storage_used, q.storage_limit,
			q.storage_is_default);
	cli_quota_print("messages", q.messages_used, q.message_limit,
			q.message_is_default);
	cli_quota_print("mailboxes", q.mailboxes_used, q.mailbox_limit,
			q.mailbox_is_default);
	return CLI_EXIT_OK;
}

const struct cli_command cli_quota_commands[] = {
	/* options parsed by cli_quota_set_args(), also after USER */
	{ "quota", "set", "USER [--storage SIZE] [--messages N] "
	  "[--mailboxes N]", 1,
	  "set a user's limits (0 = unlimited, 'default' = the configured "
	  "default)", cli_quota_set, 7, NULL },
	{ "quota", "get", "USER", 1,
	  "show a user's quota limits and usage", cli_quota_get, 0, NULL },
};
const size_t cli_quota_command_count =
	sizeof(cli_quota_commands) / sizeof(cli_quota_commands[0]);
