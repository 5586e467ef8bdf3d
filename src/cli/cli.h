/* tidings, the admin command line: shared state of one run and the verbs.
 *
 * Exit status: 0 success, 1 the operation failed (message on stderr),
 * 2 usage or configuration error.  Every change goes through the store API
 * (store/store.h) with service "cli", so it emits the same RFC 5423 events
 * as the same change made over IMAP, and a running tidingsd sees it. */
#ifndef TIDINGS_CLI_H
#define TIDINGS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "store/store.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Most options one verb may take (struct cli_command.options). */
#define CLI_OPTIONS_MAX 4

struct cli {
	struct config cfg;
	struct store *store;     /* opened by cli_store_open() */
	struct store_actor actor;
	char admin[64];          /* the Unix user running us (actor.admin) */
	int argc;                /* arguments given to the verb */
	const char *option_values[CLI_OPTIONS_MAX];
};

/* One verb: ARGC/ARGV are the words after the verb's own name(s) and its
 * options. */
struct cli_command {
	const char *noun;        /* "user", "mailbox", "message" */
	const char *verb;        /* "add", "list", ... */
	const char *args;        /* for the usage line: "NAME" or "" */
	int argc;                /* number of arguments (the least, when
				  * argc_max is set) */
	const char *summary;     /* one line for `tidings help` */
	/* Checks its arguments, then opens the store with cli_store_open()
	 * (validate first, so that a bad call changes nothing). */
	int (*run)(struct cli *cli, char **argv);
	int argc_max;            /* most arguments; 0 means exactly argc */
	/* Options the verb takes between its name and its arguments, each
	 * with a value ("--flags VALUE" or "--flags=VALUE"); NULL-terminated,
	 * at most CLI_OPTIONS_MAX, or NULL for none.  The value of options[k]
	 * is in cli->option_values[k] (NULL when not given). */
	const char *const *options;
};

extern const struct cli_command cli_user_commands[];
extern const size_t cli_user_command_count;
extern const struct cli_command cli_mailbox_commands[];
extern const size_t cli_mailbox_command_count;
extern const struct cli_command cli_message_commands[];
extern const size_t cli_message_command_count;

/* Opens the store under cfg.data_dir (once), creating it only when CREATE
 * (else data_dir must exist: reading from a missing one is a forgotten -c).
 * CLI_EXIT_OK, or an exit status after printing why. */
int cli_store_open(struct cli *cli, bool create);

/* "tidings: " + message on stderr; returns CLI_EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints S with control characters shown as '?': names come from the
 * store, but a terminal must never receive escape sequences from data. */
void cli_print_safe(FILE *f, const char *s);

/* NAME with control characters as '?', cut to fit BUF; returns BUF. */
#define CLI_SAFE_NAME_MAX 300
const char *cli_safe_name(const char *name, char *buf, size_t size);

/* Checks a user name given on the command line; prints why and returns
 * false when it cannot be one. */
bool cli_user_name_ok(const char *name);

/* Checks a mailbox name given on the command line as the store would
 * (store_mailbox_name_normalize); prints why and returns false when it
 * cannot be one. */
bool cli_mailbox_name_ok(const char *name);

/* Looks up user NAME in the opened store.  CLI_EXIT_OK, or CLI_EXIT_FAIL
 * after printing why ("no such user 'bob'"). */
int cli_user_find(struct cli *cli, const char *name, struct store_user *user_r);

/* Prints why an operation WHAT ("create", "delete", ...) on mailbox MAILBOX
 * of user USER failed, e.g. "mailbox 'X' does not exist for user 'bob'";
 * returns CLI_EXIT_FAIL. */
int cli_mailbox_fail(const char *what, const char *user, const char *mailbox,
		     const struct store_error *err);

#endif
