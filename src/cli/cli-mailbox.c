/* tidings mailbox list|create|delete|rename */
#include "cli/cli.h"

#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Columns on screen of a UTF-8 string: one per character (wide CJK
 * characters will push a row out by one; good enough for a listing). */
static size_t cli_columns(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

static void cli_pad(size_t n)
{
	while (n-- > 0)
		putchar(' ');
}

/* "\Sent", "\Noselect", "\Noselect,\Trash" or "-": one word, so that the
 * last five columns of a row never contain blanks. */
static void cli_mailbox_attributes(const struct store_mailbox *mb,
				   struct strbuf *sb)
{
	strbuf_reset(sb);
	if (mb->noselect)
		strbuf_appends(sb, "\\Noselect");
	if (mb->special_use[0] != '\0') {
		if (sb->len > 0)
			strbuf_appendc(sb, ',');
		strbuf_append(sb, mb->special_use,
			      strnlen(mb->special_use, sizeof(mb->special_use)));
	}
	if (sb->len == 0)
		strbuf_appendc(sb, '-');
}

static int cli_mailbox_list(struct cli *cli, char **argv)
{
	const char *name = argv[0];
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;

	char safe[CLI_SAFE_NAME_MAX];
	struct store_user user;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_user_lookup(cli->store, name, &user, &err) < 0) {
		cli_safe_name(name, safe, sizeof(safe));
		if (err.code == STORE_ERR_NONEXISTENT)
			return cli_fail("no such user '%s'", safe);
		return cli_fail("cannot look up user '%s': %s", safe,
				err.msg[0] != '\0' ? err.msg : "unknown error");
	}

	struct store_mailbox *list = NULL;
	size_t count = 0;
	memset(&err, 0, sizeof(err));
	if (store_mailbox_list(cli->store, user.id, &list, &count, &err) < 0) {
		cli_safe_name(name, safe, sizeof(safe));
		return cli_fail("cannot list the mailboxes of '%s': %s", safe,
				err.msg[0] != '\0' ? err.msg : "unknown error");
	}

	/* Names are shown as stored (UTF-8), control characters as '?'. */
	static const char *const heads[] = {
		"MAILBOX", "ATTRIBUTES", "MESSAGES", "UNSEEN", "UIDVALIDITY",
		"UIDNEXT",
	};
	char **names = xcalloc(count ? count : 1, sizeof(*names));
	char **attrs = xcalloc(count ? count : 1, sizeof(*attrs));
	char (*nums)[4][24] = xcalloc(count ? count : 1, sizeof(*nums));
	size_t width[6];
	for (size_t c = 0; c < 6; c++)
		width[c] = strlen(heads[c]);

	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < count; i++) {
		const struct store_mailbox *mb = &list[i];
		size_t nlen = strnlen(mb->name, sizeof(mb->name));
		char *raw = xmemdupz(mb->name, nlen);
		names[i] = xmalloc(nlen + 1);
		cli_safe_name(raw, names[i], nlen + 1);
		free(raw);
		cli_mailbox_attributes(mb, &sb);
		attrs[i] = xstrdup(strbuf_str(&sb));
		snprintf(nums[i][0], sizeof(nums[i][0]), "%" PRIu32, mb->messages);
		snprintf(nums[i][1], sizeof(nums[i][1]), "%" PRIu32, mb->unseen);
		snprintf(nums[i][2], sizeof(nums[i][2]), "%" PRIu32,
			 mb->uidvalidity);
		snprintf(nums[i][3], sizeof(nums[i][3]), "%" PRIu32, mb->uidnext);

		size_t w[6] = {
			cli_columns(names[i]), cli_columns(attrs[i]),
			strlen(nums[i][0]), strlen(nums[i][1]),
			strlen(nums[i][2]), strlen(nums[i][3]),
		};
		for (size_t c = 0; c < 6; c++) {
			if (w[c] > width[c])
				width[c] = w[c];
		}
	}
	strbuf_free(&sb);

	/* Text columns left-aligned, numbers right-aligned, two blanks
	 * between columns, no trailing blanks. */
	for (size_t c = 0; c < 6; c++) {
		if (c > 0)
			cli_pad(2);
		if (c >= 2)
			cli_pad(width[c] - strlen(heads[c]));
		fputs(heads[c], stdout);
		if (c < 2)
			cli_pad(width[c] - strlen(heads[c]));
	}
	putchar('\n');
	for (size_t i = 0; i < count; i++) {
		fputs(names[i], stdout);
		cli_pad(2 + width[0] - cli_columns(names[i]));
		fputs(attrs[i], stdout);
		cli_pad(width[1] - cli_columns(attrs[i]));
		for (size_t c = 0; c < 4; c++) {
			cli_pad(2 + width[c + 2] - strlen(nums[i][c]));
			fputs(nums[i][c], stdout);
		}
		putchar('\n');
		free(names[i]);
		free(attrs[i]);
	}
	free(names);
	free(attrs);
	free(nums);
	free(list);
	return CLI_EXIT_OK;
}

/* The user and mailbox names of a verb that changes a mailbox, checked
 * before the store is opened; then the store and the user. */
static int cli_mailbox_prepare(struct cli *cli, const char *user_name,
			       const char *const *names, size_t count,
			       struct store_user *user_r)
{
	if (!cli_user_name_ok(user_name))
		return CLI_EXIT_FAIL;
	for (size_t i = 0; i < count; i++) {
		if (!cli_mailbox_name_ok(names[i]))
			return CLI_EXIT_FAIL;
	}
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	return cli_user_find(cli, user_name, user_r);
}

static int cli_mailbox_create(struct cli *cli, char **argv)
{
	const char *user_name = argv[0], *name = argv[1];
	struct store_user user;
	int ret = cli_mailbox_prepare(cli, user_name, (const char *const *)&argv[1],
				      1, &user);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	/* Missing parents are created too (RFC 3501 §6.3.3), each with its
	 * own MailboxCreate event. */
	if (store_mailbox_create(cli->store, &cli->actor, user.id, name, NULL,
				 &err) < 0)
		return cli_mailbox_fail("create", user_name, name, &err);
	return CLI_EXIT_OK;
}

static int cli_mailbox_delete(struct cli *cli, char **argv)
{
	const char *user_name = argv[0], *name = argv[1];
	struct store_user user;
	int ret = cli_mailbox_prepare(cli, user_name, (const char *const *)&argv[1],
				      1, &user);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_mailbox_delete(cli->store, &cli->actor, user.id, name,
				 &err) < 0)
		return cli_mailbox_fail("delete", user_name, name, &err);
	return CLI_EXIT_OK;
}

static int cli_mailbox_rename(struct cli *cli, char **argv)
{
	const char *user_name = argv[0], *from = argv[1], *to = argv[2];
	struct store_user user;
	int ret = cli_mailbox_prepare(cli, user_name, (const char *const *)&argv[1],
				      2, &user);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_mailbox_rename(cli->store, &cli->actor, user.id, from, to,
				 &err) < 0) {
		/* "already exists" is about the new name, anything else
		 * about the old one. */
		if (err.code == STORE_ERR_ALREADYEXISTS)
			return cli_mailbox_fail("rename", user_name, to, &err);
		return cli_mailbox_fail("rename", user_name, from, &err);
	}
	return CLI_EXIT_OK;
}

const struct cli_command cli_mailbox_commands[] = {
	{ "mailbox", "list", "NAME", 1,
	  "list a user's mailboxes with their counters", cli_mailbox_list,
	  0, NULL },
	{ "mailbox", "create", "USER NAME", 2,
	  "create a mailbox (and any missing parents)", cli_mailbox_create,
	  0, NULL },
	{ "mailbox", "delete", "USER NAME", 2,
	  "delete a mailbox with its messages", cli_mailbox_delete,
	  0, NULL },
	{ "mailbox", "rename", "USER OLD NEW", 3,
	  "rename a mailbox with the mailboxes below it", cli_mailbox_rename,
	  0, NULL },
};
const size_t cli_mailbox_command_count =
	sizeof(cli_mailbox_commands) / sizeof(cli_mailbox_commands[0]);
