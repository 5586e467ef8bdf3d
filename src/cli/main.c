/* tidings: options, `help`, configuration and dispatch to the verbs in
 * cli-user.c, cli-mailbox.c and cli-message.c.  docs/cli.md is the
 * reference. */
#include "cli/cli.h"

#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TIDINGS_VERSION
#define TIDINGS_VERSION "0.1.0"
#endif

static const char cli_usage_short[] =
	"usage: tidings [-c FILE] COMMAND ARGS...; try 'tidings help'";

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("tidings: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

void cli_print_safe(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

const char *cli_safe_name(const char *name, char *buf, size_t size)
{
	size_t o = 0;
	for (const char *p = name; *p != '\0' && o + 1 < size; p++) {
		unsigned char c = (unsigned char)*p;
		buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[o] = '\0';
	return buf;
}

bool cli_user_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0) {
		cli_fail("a user name cannot be empty");
		return false;
	}
	if (len > 255) {
		cli_fail("user name too long (at most 255 bytes)");
		return false;
	}
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f || c == ' ') {
			cli_fail("a user name cannot contain spaces or "
				 "control characters");
			return false;
		}
	}
	return true;
}

bool cli_mailbox_name_ok(const char *name)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_mailbox_name_normalize(name, canon, &err) == 0)
		return true;
	char safe[CLI_SAFE_NAME_MAX];
	cli_fail("invalid mailbox name '%s': %s",
		 cli_safe_name(name, safe, sizeof(safe)),
		 err.msg[0] != '\0' ? err.msg : "refused by the store");
	return false;
}

int cli_user_find(struct cli *cli, const char *name, struct store_user *user_r)
{
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_user_lookup(cli->store, name, user_r, &err) == 0)
		return CLI_EXIT_OK;
	char safe[CLI_SAFE_NAME_MAX];
	cli_safe_name(name, safe, sizeof(safe));
	if (err.code == STORE_ERR_NONEXISTENT)
		return cli_fail("no such user '%s'", safe);
	return cli_fail("cannot look up user '%s': %s", safe,
			err.msg[0] != '\0' ? err.msg : "unknown error");
}

int cli_mailbox_fail(const char *what, const char *user, const char *mailbox,
		     const struct store_error *err)
{
	char safe_user[CLI_SAFE_NAME_MAX], safe_mailbox[CLI_SAFE_NAME_MAX];
	cli_safe_name(user, safe_user, sizeof(safe_user));
	cli_safe_name(mailbox, safe_mailbox, sizeof(safe_mailbox));
	const char *msg = err->msg[0] != '\0' ? err->msg : "unknown error";
	switch (err->code) {
	case STORE_ERR_NONEXISTENT:
		return cli_fail("mailbox '%s' does not exist for user '%s'",
				safe_mailbox, safe_user);
	case STORE_ERR_ALREADYEXISTS:
		return cli_fail("mailbox '%s' already exists for user '%s'",
				safe_mailbox, safe_user);
	case STORE_ERR_HASCHILDREN:
		/* RFC 3501 §6.3.4: a \Noselect name with inferiors stays. */
		return cli_fail("cannot %s mailbox '%s' of user '%s': it holds "
				"no messages and has child mailboxes; delete "
				"those first", what, safe_mailbox, safe_user);
	default:
		return cli_fail("cannot %s mailbox '%s' of user '%s': %s", what,
				safe_mailbox, safe_user, msg);
	}
}

/* cli-events.c */
extern const struct cli_command cli_events_commands[];
extern const size_t cli_events_command_count;
/* cli-quota.c */
extern const struct cli_command cli_quota_commands[];
extern const size_t cli_quota_command_count;
/* cli-expire.c */
extern const struct cli_command cli_expire_commands[];
extern const size_t cli_expire_command_count;
/* cli-acl.c */
extern const struct cli_command cli_acl_commands[];
extern const size_t cli_acl_command_count;

static const struct {
	const struct cli_command *commands;
	const size_t *count;
} cli_tables[] = {
	{ cli_user_commands, &cli_user_command_count },
	{ cli_mailbox_commands, &cli_mailbox_command_count },
	{ cli_message_commands, &cli_message_command_count },
	{ cli_events_commands, &cli_events_command_count },
	{ cli_quota_commands, &cli_quota_command_count },
	{ cli_expire_commands, &cli_expire_command_count },
	{ cli_acl_commands, &cli_acl_command_count },
};
#define CLI_TABLE_COUNT (sizeof(cli_tables) / sizeof(cli_tables[0]))

static void cli_help(FILE *f)
{
	fputs("usage: tidings [-c FILE] COMMAND ARGS...\n"
	      "\n"
	      "Administers the Tidings message store in data_dir (from FILE, or\n"
	      "./var without -c).  Works while tidingsd runs: every change goes\n"
	      "through the store and emits the same events as over IMAP.\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t t = 0; t < CLI_TABLE_COUNT; t++) {
		for (size_t i = 0; i < *cli_tables[t].count; i++) {
			const struct cli_command *c = &cli_tables[t].commands[i];
			char left[128];
			snprintf(left, sizeof(left), "%s%s%s %s", c->noun,
				 c->verb[0] != '\0' ? " " : "", c->verb,
				 c->args);
			/* A long synopsis gets its own line. */
			if (strlen(left) > 22)
				fprintf(f, "  %s\n  %-22s %s\n", left, "",
					c->summary);
			else
				fprintf(f, "  %-22s %s\n", left, c->summary);
		}
	}
	fputs("  help                   this text\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE      configuration file (docs/configuration.md)\n"
	      "  -h, --help             this text\n"
	      "  --version              the version\n"
	      "\n"
	      "Passwords are read from standard input: one line, without its\n"
	      "line ending (asked twice, without echo, on a terminal).\n"
	      "\n"
	      "message append reads the message (RFC 5322, stored byte for byte)\n"
	      "from FILE or, without FILE or with '-', standard input, and prints\n"
	      "its UID.  FLAGS is one argument: system flags and keywords\n"
	      "separated by blanks, e.g. --flags '\\Seen $Label'.\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or configuration error.\n",
	      f);
}

static int cli_usage_for(const struct cli_command *c)
{
	fprintf(stderr, "usage: tidings [-c FILE] %s%s%s%s%s; try 'tidings help'\n",
		c->noun, c->verb[0] != '\0' ? " " : "", c->verb,
		c->args[0] != '\0' ? " " : "", c->args);
	return CLI_EXIT_USAGE;
}

static int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int cli_usage(const char *fmt, ...)
{
	if (fmt != NULL) {
		va_list ap;
		fputs("tidings: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputs("; try 'tidings help'\n", stderr);
	} else {
		fprintf(stderr, "%s\n", cli_usage_short);
	}
	return CLI_EXIT_USAGE;
}

int cli_store_open(struct cli *cli, bool create)
{
	if (cli->store != NULL)
		return CLI_EXIT_OK;
	const char *dir = cli->cfg.data_dir;
	if (!create) {
		struct stat st;
		if (stat(dir, &st) < 0) {
			if (errno == ENOENT)
				return cli_fail("%s: no such directory (no store "
						"there yet; is -c FILE missing?)",
						dir);
			return cli_fail("%s: %s", dir, strerror(errno));
		}
		if (!S_ISDIR(st.st_mode))
			return cli_fail("%s: not a directory", dir);
	}

	struct store_options opts;
	memset(&opts, 0, sizeof(opts));
	/* char *[N][2] and const char *const [N][2] have the same layout;
	 * C only lacks the implicit conversion. */
	opts.default_mailboxes =
		(const char *const (*)[2])cli->cfg.default_mailboxes;
	opts.default_mailbox_count = cli->cfg.default_mailbox_count;
	opts.max_message_size = cli->cfg.max_message_size;
	opts.server_fqdn = cli->cfg.server_name;
	opts.default_storage_limit = cli->cfg.quota_storage;
	opts.default_message_limit = cli->cfg.quota_messages;
	opts.default_mailbox_limit = cli->cfg.quota_mailboxes;

	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_open(dir, &opts, &cli->store, &err) < 0) {
		cli->store = NULL;
		return cli_fail("cannot open the store in %s: %s", dir,
				err.msg[0] != '\0' ? err.msg : "unknown error");
	}
	return CLI_EXIT_OK;
}

static void cli_actor_init(struct cli *cli)
{
	memset(&cli->actor, 0, sizeof(cli->actor));
	cli->actor.service = "cli";
	/* RFC 5423 §5 "admin": who made the change when it is not the user
	 * whose mailboxes changed; here, the Unix account. */
	struct passwd *pw = getpwuid(getuid());
	if (pw != NULL && pw->pw_name != NULL)
		snprintf(cli->admin, sizeof(cli->admin), "%s", pw->pw_name);
	else
		snprintf(cli->admin, sizeof(cli->admin), "uid %u",
			 (unsigned int)getuid());
	cli->actor.admin = cli->admin;
}

static const struct cli_command *cli_command_find(const char *noun,
						  const char *verb,
						  bool *noun_known_r)
{
	*noun_known_r = false;
	for (size_t t = 0; t < CLI_TABLE_COUNT; t++) {
		for (size_t i = 0; i < *cli_tables[t].count; i++) {
			const struct cli_command *c = &cli_tables[t].commands[i];
			if (strcmp(c->noun, noun) != 0)
				continue;
			*noun_known_r = true;
			/* a noun that is its own verb ("expire") */
			if (c->verb[0] == '\0')
				return c;
			if (verb != NULL && strcmp(c->verb, verb) == 0)
				return c;
		}
	}
	return NULL;
}

/* The verbs of NOUN, "add|passwd|del|list", for a usage hint. */
static void cli_noun_usage(const char *noun)
{
	fprintf(stderr, "usage: tidings [-c FILE] %s ", noun);
	const char *sep = "";
	for (size_t t = 0; t < CLI_TABLE_COUNT; t++) {
		for (size_t i = 0; i < *cli_tables[t].count; i++) {
			const struct cli_command *c = &cli_tables[t].commands[i];
			if (strcmp(c->noun, noun) == 0) {
				fprintf(stderr, "%s%s", sep, c->verb);
				sep = "|";
			}
		}
	}
	fputs(" ...; try 'tidings help'\n", stderr);
}

/* The options of verb CMD from ARGV[*I] on, up to its first argument or
 * "--": "--name VALUE" or "--name=VALUE", each at most once.  Verbs without
 * options take none, so that their arguments may start with '-'.
 * CLI_EXIT_OK, or CLI_EXIT_USAGE after the hint. */
static int cli_verb_options(const struct cli_command *cmd, int argc,
			    char **argv, int *i, const char **values)
{
	if (cmd->options == NULL)
		return CLI_EXIT_OK;
	while (*i < argc) {
		const char *a = argv[*i];
		/* "-" alone is an argument: standard input. */
		if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
			break;
		size_t k;
		size_t nlen = strcspn(a, "=");
		for (k = 0; k < CLI_OPTIONS_MAX && cmd->options[k] != NULL; k++) {
			if (strlen(cmd->options[k]) == nlen &&
			    strncmp(cmd->options[k], a, nlen) == 0)
				break;
		}
		if (k >= CLI_OPTIONS_MAX || cmd->options[k] == NULL) {
			char safe[CLI_SAFE_NAME_MAX];
			return cli_usage("unknown option '%s' for %s %s",
					 cli_safe_name(a, safe, sizeof(safe)),
					 cmd->noun, cmd->verb);
		}
		if (values[k] != NULL)
			return cli_usage("option %s given twice", cmd->options[k]);
		if (a[nlen] == '=') {
			values[k] = a + nlen + 1;
		} else {
			if (*i + 1 >= argc)
				return cli_usage("option %s needs a value",
						 cmd->options[k]);
			values[k] = argv[++*i];
		}
		++*i;
	}
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	int i = 1;

	/* Options come before the command, so that a name that starts with
	 * '-' after it is never taken for one. */
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("tidings %s\n", TIDINGS_VERSION);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= argc)
				return cli_usage("option %s needs a FILE", a);
			config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			config_path = a + 9;
		} else if (strncmp(a, "-c", 2) == 0) {
			config_path = a + 2;
		} else {
			return cli_usage("unknown option '%s'", a);
		}
		if (config_path[0] == '\0')
			return cli_usage("option -c needs a FILE");
	}

	if (i >= argc)
		return cli_usage(NULL);
	const char *noun = argv[i++];
	if (strcmp(noun, "help") == 0) {
		cli_help(stdout);
		return CLI_EXIT_OK;
	}
	const char *verb = i < argc ? argv[i++] : NULL;
	bool noun_known;
	const struct cli_command *cmd = cli_command_find(noun, verb, &noun_known);
	/* a noun that is its own verb: the word after it is an argument */
	if (cmd != NULL && cmd->verb[0] == '\0' && verb != NULL)
		i--;
	if (cmd == NULL) {
		if (!noun_known)
			return cli_usage("unknown command '%s'", noun);
		cli_noun_usage(noun);
		return CLI_EXIT_USAGE;
	}
	struct cli cli;
	memset(&cli, 0, sizeof(cli));
	int ret = cli_verb_options(cmd, argc, argv, &i, cli.option_values);
	if (ret != CLI_EXIT_OK)
		return ret;
	/* Names after the verb are never options (but those of the verb
	 * itself, which come first), yet "--" there is what people type out
	 * of habit before a name that starts with '-'. */
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	int max = cmd->argc_max > cmd->argc ? cmd->argc_max : cmd->argc;
	if (argc - i < cmd->argc || argc - i > max)
		return cli_usage_for(cmd);
	cli.argc = argc - i;

	config_init_defaults(&cli.cfg);
	if (config_path != NULL) {
		char err[512];
		if (config_load(&cli.cfg, config_path, err, sizeof(err)) < 0) {
			fprintf(stderr, "tidings: %s\n", err);
			config_free(&cli.cfg);
			return CLI_EXIT_USAGE;
		}
	}
	enum log_level level;
	if (log_level_parse(cli.cfg.log_level, &level) == 0)
		log_set_level(level);
	cli_actor_init(&cli);

	ret = cmd->run(&cli, argv + i);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_fail("cannot write the output: %s", strerror(errno));
		if (ret == CLI_EXIT_OK)
			ret = CLI_EXIT_FAIL;
	}
	if (cli.store != NULL)
		store_close(&cli.store);
	config_free(&cli.cfg);
	return ret;
}
