/* tidings user add|passwd|del|list */
#include "cli/cli.h"

#include "auth/auth.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* ---- reading a password ---- */

static struct termios cli_saved_termios;
static volatile sig_atomic_t cli_echo_off;

static void cli_restore_echo(void)
{
	if (cli_echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &cli_saved_termios);
		cli_echo_off = 0;
	}
}

static void cli_signal_restore(int sig)
{
	/* A ^C at the prompt must not leave the terminal without echo. */
	if (cli_echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &cli_saved_termios);
	static const char nl = '\n';
	(void)!write(STDERR_FILENO, &nl, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads one line from stdin into BUF (SIZE bytes), without its LF or
 * CR LF.  Returns the length, or -1 (with a message) when the line holds
 * a NUL or does not fit; -2 at end of input before any byte. */
static ssize_t cli_read_line(char *buf, size_t size)
{
	size_t len = 0;
	bool any = false;
	bool too_long = false;
	bool nul = false;
	int c;
	while ((c = getchar()) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (c == '\0')
			nul = true;
		if (len + 1 < size)
			buf[len++] = (char)c;
		else
			too_long = true;
		/* Stop reading a runaway line once it is known to be bad, but
		 * finish the line on a terminal so that nothing is left over. */
		if ((too_long || nul) && !isatty(STDIN_FILENO))
			break;
	}
	if (!any && ferror(stdin)) {
		cli_fail("cannot read the password: %s", strerror(errno));
		return -1;
	}
	if (!any)
		return -2;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (nul) {
		cli_fail("the password contains a NUL byte");
		return -1;
	}
	if (too_long) {
		cli_fail("password too long (at most %d bytes)",
			 AUTH_PASSWORD_MAX);
		return -1;
	}
	return (ssize_t)len;
}

static void cli_signals(void (*handler)(int))
{
	signal(SIGINT, handler);
	signal(SIGTERM, handler);
	signal(SIGHUP, handler);
	signal(SIGQUIT, handler);
}

static int cli_prompt(const char *prompt, char *buf, size_t size)
{
	fputs(prompt, stderr);
	fflush(stderr);
	ssize_t n = cli_read_line(buf, size);
	fputc('\n', stderr); /* the user's Enter was not echoed */
	if (n == -2) {
		cli_fail("no password given");
		return -1;
	}
	return n < 0 ? -1 : 0;
}

/* Gets the new password for NAME into BUF: from a terminal, asked twice
 * without echo; otherwise the first line of stdin.  0 or -1 (printed). */
static int cli_password_read(const char *name, char *buf, size_t size)
{
	if (!isatty(STDIN_FILENO)) {
		ssize_t n = cli_read_line(buf, size);
		if (n == -2) {
			cli_fail("no password on standard input");
			return -1;
		}
		if (n < 0)
			return -1;
	} else {
		char again[AUTH_PASSWORD_MAX + 2];
		char prompt[320];
		int ret = -1;
		if (tcgetattr(STDIN_FILENO, &cli_saved_termios) < 0) {
			cli_fail("cannot read the terminal: %s", strerror(errno));
			return -1;
		}
		struct termios quiet = cli_saved_termios;
		quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		cli_signals(cli_signal_restore);
		cli_echo_off = 1;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
			cli_echo_off = 0;
			cli_signals(SIG_DFL);
			cli_fail("cannot turn off echo: %s", strerror(errno));
			return -1;
		}
		char safe[CLI_SAFE_NAME_MAX];
		snprintf(prompt, sizeof(prompt), "New password for %s: ",
			 cli_safe_name(name, safe, sizeof(safe)));
		if (cli_prompt(prompt, buf, size) == 0 &&
		    cli_prompt("Retype the password: ", again,
			       sizeof(again)) == 0) {
			if (strcmp(buf, again) != 0)
				cli_fail("the passwords differ; nothing changed");
			else
				ret = 0;
		}
		explicit_bzero(again, sizeof(again));
		cli_restore_echo();
		cli_signals(SIG_DFL);
		if (ret < 0)
			return -1;
	}
	if (buf[0] == '\0') {
		cli_fail("empty password refused");
		return -1;
	}
	/* RFC 4616 and RFC 3501 carry passwords as UTF-8 text: one that is
	 * not could never be typed into a client. */
	if (!auth_utf8_valid(buf, strlen(buf))) {
		cli_fail("the password is not valid UTF-8");
		return -1;
	}
	return 0;
}

/* Reads and hashes a new password into HASH.  CLI_EXIT_* */
static int cli_password_new(const char *name, char *hash, size_t hash_size)
{
	char pw[AUTH_PASSWORD_MAX + 2];
	int ret = CLI_EXIT_OK;
	if (cli_password_read(name, pw, sizeof(pw)) < 0)
		ret = CLI_EXIT_FAIL;
	else if (auth_password_hash(pw, hash, hash_size) < 0)
		ret = cli_fail("cannot hash the password (see the log)");
	explicit_bzero(pw, sizeof(pw));
	return ret;
}

static int cli_store_fail(const char *what, const char *name,
			  const struct store_error *err)
{
	char buf[CLI_SAFE_NAME_MAX];
	const char *safe = cli_safe_name(name, buf, sizeof(buf));
	switch (err->code) {
	case STORE_ERR_NONEXISTENT:
		return cli_fail("no such user '%s'", safe);
	case STORE_ERR_ALREADYEXISTS:
		return cli_fail("user '%s' already exists", safe);
	default:
		return cli_fail("cannot %s user '%s': %s", what, safe,
				err->msg[0] != '\0' ? err->msg : "unknown error");
	}
}

/* ---- the verbs ---- */

static int cli_user_add(struct cli *cli, char **argv)
{
	const char *name = argv[0];
	char hash[AUTH_HASH_MAX];
	if (!cli_user_name_ok(name))
		return CLI_EXIT_FAIL;
	int ret = cli_store_open(cli, true);
	if (ret != CLI_EXIT_OK)
		return ret;
	/* Ask for the password only for a name that is free. */
	struct store_user user;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_user_lookup(cli->store, name, &user, &err) == 0)
		return cli_fail("user '%s' already exists", name);
	if (err.code != STORE_ERR_NONEXISTENT)
		return cli_store_fail("look up", name, &err);

	ret = cli_password_new(name, hash, sizeof(hash));
	if (ret != CLI_EXIT_OK)
		return ret;
	memset(&err, 0, sizeof(err));
	if (store_user_create(cli->store, &cli->actor, name, hash, &err) < 0)
		return cli_store_fail("create", name, &err);
	return CLI_EXIT_OK;
}

static int cli_user_passwd(struct cli *cli, char **argv)
{
	const char *name = argv[0];
	char hash[AUTH_HASH_MAX];
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_user user;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_user_lookup(cli->store, name, &user, &err) < 0)
		return cli_store_fail("look up", name, &err);

	ret = cli_password_new(name, hash, sizeof(hash));
	if (ret != CLI_EXIT_OK)
		return ret;
	memset(&err, 0, sizeof(err));
	if (store_user_set_password(cli->store, name, hash, &err) < 0)
		return cli_store_fail("change the password of", name, &err);
	return CLI_EXIT_OK;
}

static int cli_user_del(struct cli *cli, char **argv)
{
	const char *name = argv[0];
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_user_delete(cli->store, &cli->actor, name, &err) < 0)
		return cli_store_fail("delete", name, &err);
	return CLI_EXIT_OK;
}

static int cli_user_list_one(const struct store_user *user, void *ctx)
{
	cli_print_safe(stdout, user->name);
	putchar('\n');
	return ferror(stdout) ? -1 : 0;
}

static int cli_user_list(struct cli *cli, char **argv)
{
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_user_foreach(cli->store, cli_user_list_one, NULL, &err) < 0)
		return cli_fail("cannot list the users: %s",
				err.msg[0] != '\0' ? err.msg : "unknown error");
	return CLI_EXIT_OK;
}

const struct cli_command cli_user_commands[] = {
	{ "user", "add", "NAME", 1,
	  "create a user with INBOX and the default mailboxes",
	  cli_user_add, 0, NULL },
	{ "user", "passwd", "NAME", 1,
	  "set a user's password", cli_user_passwd, 0, NULL },
	{ "user", "del", "NAME", 1,
	  "delete a user with all mailboxes and messages", cli_user_del,
	  0, NULL },
	{ "user", "list", "", 0, "list the users, one per line", cli_user_list,
	  0, NULL },
};
const size_t cli_user_command_count =
	sizeof(cli_user_commands) / sizeof(cli_user_commands[0]);
