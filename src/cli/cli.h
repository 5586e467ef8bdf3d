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

struct cli {
	struct config cfg;
	struct store *store;     /* opened by cli_store_open() */
	struct store_actor actor;
	char admin[64];          /* the Unix user running us (actor.admin) */
};

/* One verb: ARGC/ARGV are the words after the verb's own name(s). */
struct cli_command {
	const char *noun;        /* "user", "mailbox" */
	const char *verb;        /* "add", "list", ... */
	const char *args;        /* for the usage line: "NAME" or "" */
	int argc;                /* exact number of arguments */
	const char *summary;     /* one line for `tidings help` */
	/* Checks its arguments, then opens the store with cli_store_open()
	 * (validate first, so that a bad call changes nothing). */
	int (*run)(struct cli *cli, char **argv);
};

extern const struct cli_command cli_user_commands[];
extern const size_t cli_user_command_count;
extern const struct cli_command cli_mailbox_commands[];
extern const size_t cli_mailbox_command_count;

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

#endif
