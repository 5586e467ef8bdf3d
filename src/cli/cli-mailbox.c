/* tidings mailbox list NAME */
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

const struct cli_command cli_mailbox_commands[] = {
	{ "mailbox", "list", "NAME", 1,
	  "list a user's mailboxes with their counters", cli_mailbox_list },
};
const size_t cli_mailbox_command_count =
	sizeof(cli_mailbox_commands) / sizeof(cli_mailbox_commands[0]);
