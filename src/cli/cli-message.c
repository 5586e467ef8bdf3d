/* tidings message append|list */
#include "cli/cli.h"

#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Only the header is parsed for the Subject column, and at most this much
 * of it: a listing must not cost a full MIME parse of every message. */
#define CLI_HEADER_SCAN_MAX (256 * 1024)

/* ---- flags ---- */

/* RFC 3501 §9: flag-keyword = atom; ATOM-CHAR is any CHAR except
 * atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
static bool cli_keyword_char_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* Whether KEYWORDS (blank-separated) already holds WORD: keywords compare
 * case-insensitively (RFC 3501 §2.3.2). */
static bool cli_keyword_seen(const struct strbuf *keywords, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = strbuf_str(keywords);
	while (*p != '\0') {
		size_t l = strcspn(p, " ");
		if (l == wlen && strncasecmp(p, word, l) == 0)
			return true;
		p += l;
		if (*p == ' ')
			p++;
	}
	return false;
}

/* Parses the --flags value: system flags and keywords separated by blanks,
 * as in an IMAP flag list without its parentheses.  0, or -1 after
 * printing why. */
static int cli_flags_parse(const char *text, uint32_t *flags_r,
			   struct strbuf *keywords)
{
	const char *p = text;
	*flags_r = 0;
	for (;;) {
		p += strspn(p, " \t\r\n");
		if (*p == '\0')
			return 0;
		size_t len = strcspn(p, " \t\r\n");
		char *word = xmemdupz(p, len);
		p += len;
		char safe[CLI_SAFE_NAME_MAX];
		cli_safe_name(word, safe, sizeof(safe));
		if (word[0] == '\\') {
			uint32_t bit = store_flag_from_name(word);
			if (bit == 0) {
				/* RFC 3501 §2.3.2: \Recent is the server's. */
				if (strcasecmp(word, "\\Recent") == 0)
					cli_fail("\\Recent cannot be set");
				else
					cli_fail("unknown system flag '%s'", safe);
				free(word);
				return -1;
			}
			*flags_r |= bit;
			free(word);
			continue;
		}
		for (const char *c = word; *c != '\0'; c++) {
			if (!cli_keyword_char_ok((unsigned char)*c)) {
				cli_fail("invalid keyword '%s' (an IMAP atom: "
					 "no controls, non-ASCII or any of "
					 "( ) { %% * \" \\ ])", safe);
				free(word);
				return -1;
			}
		}
		if (!cli_keyword_seen(keywords, word)) {
			if (keywords->len > 0)
				strbuf_appendc(keywords, ' ');
			strbuf_appends(keywords, word);
		}
		free(word);
	}
}

/* ---- message append ---- */

static const char *const cli_append_options[] = { "--flags", NULL };

/* Reads all of FD (WHAT names it in messages) into SB, refusing more than
 * MAX bytes.  Bytes are kept exactly as read.  0, or -1 after printing
 * why. */
static int cli_message_read(int fd, const char *what, uint64_t max,
			    struct strbuf *sb)
{
	for (;;) {
		size_t room = 64 * 1024;
		strbuf_grow(sb, room);
		ssize_t n = read(fd, sb->s + sb->len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cli_fail("cannot read %s: %s", what, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		sb->len += (size_t)n;
		if ((uint64_t)sb->len > max) {
			cli_fail("%s: message too large (over %" PRIu64
				 " bytes, the max_message_size)", what, max);
			return -1;
		}
	}
	sb->s[sb->len] = '\0';
	return 0;
}

/* Opens FILE for reading, or standard input for NULL or "-".  The fd, or
 * -1 after printing why. */
static int cli_message_open(const char *path, const char *what, uint64_t max,
			    size_t *size_hint_r)
{
	*size_hint_r = 0;
	if (path == NULL || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		cli_fail("%s: %s", what, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		cli_fail("%s: %s", what, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		cli_fail("%s: is a directory", what);
		close(fd);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		/* Refuse an oversized file before reading any of it. */
		if ((uint64_t)st.st_size > max) {
			cli_fail("%s: message too large (%" PRIu64 " bytes; "
				 "max_message_size is %" PRIu64 ")", what,
				 (uint64_t)st.st_size, max);
			close(fd);
			return -1;
		}
		*size_hint_r = (size_t)st.st_size;
	}
	return fd;
}

static int cli_message_append(struct cli *cli, char **argv)
{
	const char *user_name = argv[0], *mailbox_name = argv[1];
	const char *path = cli->argc > 2 ? argv[2] : NULL;
	const char *flags_text = cli->option_values[0];
	uint32_t flags = 0;
	struct strbuf keywords = STRBUF_INIT;
	struct strbuf msg = STRBUF_INIT;
	int fd = -1;
	int ret = CLI_EXIT_FAIL;

	/* Everything that can be checked without the store first. */
	if (!cli_user_name_ok(user_name) || !cli_mailbox_name_ok(mailbox_name))
		goto out;
	if (flags_text != NULL &&
	    cli_flags_parse(flags_text, &flags, &keywords) < 0)
		goto out;

	char what[CLI_SAFE_NAME_MAX];
	if (path == NULL || strcmp(path, "-") == 0)
		snprintf(what, sizeof(what), "standard input");
	else
		cli_safe_name(path, what, sizeof(what));
	/* config guarantees 1 <= max_message_size < 4 GiB */
	uint64_t max = cli->cfg.max_message_size;
	size_t size_hint;
	fd = cli_message_open(path, what, max, &size_hint);
	if (fd < 0)
		goto out;

	ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		goto out;
	struct store_user user;
	ret = cli_user_find(cli, user_name, &user);
	if (ret != CLI_EXIT_OK)
		goto out;
	/* Look the mailbox up before reading, so that a typo does not cost
	 * reading a whole message first. */
	struct store_mailbox mb;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	ret = CLI_EXIT_FAIL;
	if (store_mailbox_get(cli->store, user.id, mailbox_name, &mb,
			      &err) < 0) {
		cli_mailbox_fail("append to", user_name, mailbox_name, &err);
		goto out;
	}
	if (mb.noselect) {
		char su[CLI_SAFE_NAME_MAX], sm[CLI_SAFE_NAME_MAX];
		cli_fail("mailbox '%s' of user '%s' cannot hold messages "
			 "(\\Noselect)",
			 cli_safe_name(mailbox_name, sm, sizeof(sm)),
			 cli_safe_name(user_name, su, sizeof(su)));
		goto out;
	}

	if (size_hint > 0)
		strbuf_grow(&msg, size_hint);
	if (fd == STDIN_FILENO && isatty(STDIN_FILENO))
		fputs("Type the message, then ^D on a line of its own.\n",
		      stderr);
	if (cli_message_read(fd, what, max, &msg) < 0)
		goto out;
	if (msg.len == 0) {
		cli_fail("%s: empty message refused", what);
		goto out;
	}

	/* INTERNALDATE (RFC 3501 §2.3.3) is now, in the local zone, as for
	 * an IMAP APPEND without a date. */
	time_t now = time(NULL);
	struct tm tm;
	int tz_offset = 0;
	if (localtime_r(&now, &tm) != NULL)
		tz_offset = (int)(tm.tm_gmtoff / 60);
	uint32_t uid = 0, uidvalidity = 0;
	memset(&err, 0, sizeof(err));
	if (store_message_append(cli->store, &cli->actor, mb.id, msg.s, msg.len,
				 flags, keywords.len > 0 ? keywords.s : NULL,
				 (int64_t)now, tz_offset, &uid, &uidvalidity,
				 &err) < 0) {
		if (err.code == STORE_ERR_TOOBIG)
			cli_fail("%s: message too large (max_message_size is "
				 "%" PRIu64 " bytes)", what, max);
		else
			cli_mailbox_fail("append to", user_name, mailbox_name,
					 &err);
		goto out;
	}
	printf("%" PRIu32 "\n", uid);
	ret = CLI_EXIT_OK;
out:
	if (fd > STDIN_FILENO)
		close(fd);
	strbuf_free(&msg);
	strbuf_free(&keywords);
	return ret;
}

/* ---- message list ---- */

/* Length of the valid UTF-8 sequence at P (N bytes available) that is not
 * a control character (C0, DEL, C1), or 0. */
static size_t cli_utf8_char(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return c < 0x20 || c == 0x7f ? 0 : 1;
	uint32_t cp;
	size_t more;
	if (c >= 0xc2 && c <= 0xdf) {
		cp = c & 0x1f;
		more = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		cp = c & 0x0f;
		more = 2;
	} else if (c >= 0xf0 && c <= 0xf4) {
		cp = c & 0x07;
		more = 3;
	} else {
		return 0;
	}
	if (n - 1 < more)
		return 0;
	for (size_t k = 1; k <= more; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
		return 0;
	return more + 1;
}

/* Appends the first line of S (LEN bytes) to OUT for a terminal: blanks
 * trimmed, tabs as blanks, control characters (C1 included: 0x9b is CSI
 * to some terminals) and bytes that are not UTF-8 as '?'. */
static void cli_text_line(const char *s, size_t len, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, keep = out->len;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	while (i < len && p[i] != '\r' && p[i] != '\n') {
		size_t n = cli_utf8_char(p + i, len - i);
		if (p[i] == '\t') {
			strbuf_appendc(out, ' ');
			i++;
			continue;
		}
		if (n == 0) {
			strbuf_appendc(out, '?');
			n = 1;
		} else {
			strbuf_append(out, p + i, n);
		}
		i += n;
		if (p[i - 1] != ' ')
			keep = out->len;
	}
	out->len = keep;
	if (out->s != NULL)
		out->s[out->len] = '\0';
}

/* The Subject of the message in DATA, RFC 2047-decoded (RFC 2047 §6), its
 * first line, made safe for a terminal; "" when there is none. */
static void cli_message_subject(const char *data, size_t len,
				struct strbuf *out)
{
	size_t hlen = len < CLI_HEADER_SCAN_MAX ? len : CLI_HEADER_SCAN_MAX;
	/* The header ends at the first empty line (RFC 5322 §2.1); a message
	 * that starts with one has no header at all. */
	for (size_t i = 0; i < hlen; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < hlen && data[i + 1] == '\n') {
			hlen = i + 2;
			break;
		}
		if (i + 2 < hlen && data[i + 1] == '\r' && data[i + 2] == '\n') {
			hlen = i + 3;
			break;
		}
	}
	struct mime_message *msg = mime_parse(data, hlen);
	struct strbuf raw = STRBUF_INIT;
	if (mime_header_decoded(msg, &msg->root, "Subject", &raw))
		cli_text_line(strbuf_str(&raw), raw.len, out);
	strbuf_free(&raw);
	mime_message_free(&msg);
}

/* "\Seen,\Flagged,$Label", or "-" when none: one word, like the attribute
 * column of `mailbox list`. */
static void cli_message_flags(const struct store_message *m,
			      struct strbuf *out)
{
	for (uint32_t bit = 1; bit <= STORE_FLAG_ALL; bit <<= 1) {
		if ((m->flags & bit) == 0)
			continue;
		if (out->len > 0)
			strbuf_appendc(out, ',');
		strbuf_appends(out, store_flag_name(bit));
	}
	if (m->keywords != NULL) {
		for (const char *k = m->keywords; *k != '\0';) {
			size_t l = strcspn(k, " ");
			if (l > 0) {
				if (out->len > 0)
					strbuf_appendc(out, ',');
				/* keywords are atoms, but the listing must
				 * stay safe whatever the store holds */
				cli_text_line(k, l, out);
			}
			k += l;
			if (*k == ' ')
				k++;
		}
	}
	if (out->len == 0)
		strbuf_appendc(out, '-');
}

/* INTERNALDATE as ISO 8601 in its own zone: 2026-11-23T10:00:00+01:00 */
static void cli_iso8601(int64_t t, int tz_offset, char *buf, size_t size)
{
	struct tm tm;
	time_t local = (time_t)(t + (int64_t)tz_offset * 60);
	if (gmtime_r(&local, &tm) == NULL) {
		snprintf(buf, size, "?");
		return;
	}
	int off = tz_offset < 0 ? -tz_offset : tz_offset;
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, tz_offset < 0 ? '-' : '+', off / 60,
		 off % 60);
}

static int cli_message_list(struct cli *cli, char **argv)
{
	const char *user_name = argv[0], *mailbox_name = argv[1];
	if (!cli_user_name_ok(user_name) || !cli_mailbox_name_ok(mailbox_name))
		return CLI_EXIT_FAIL;
	int ret = cli_store_open(cli, false);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_user user;
	ret = cli_user_find(cli, user_name, &user);
	if (ret != CLI_EXIT_OK)
		return ret;
	struct store_mailbox mb;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	if (store_mailbox_get(cli->store, user.id, mailbox_name, &mb, &err) < 0)
		return cli_mailbox_fail("list", user_name, mailbox_name, &err);

	struct store_message_list list;
	memset(&list, 0, sizeof(list));
	memset(&err, 0, sizeof(err));
	if (store_message_range(cli->store, mb.id, 1, UINT32_MAX, &list,
				&err) < 0)
		return cli_mailbox_fail("list", user_name, mailbox_name, &err);

	/* Widths first, so that the columns line up: UID and SIZE right-
	 * aligned, FLAGS left-aligned, each one word; Subject last, so that
	 * a script can split a line on blanks four times. */
	char **flags = xcalloc(list.count ? list.count : 1, sizeof(*flags));
	int uid_width = 1, flags_width = 1, size_width = 1;
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		char num[24];
		strbuf_reset(&sb);
		cli_message_flags(m, &sb);
		flags[i] = xstrdup(strbuf_str(&sb));
		int w = (int)strlen(flags[i]);
		if (w > flags_width)
			flags_width = w;
		w = snprintf(num, sizeof(num), "%" PRIu32, m->uid);
		if (w > uid_width)
			uid_width = w;
		w = snprintf(num, sizeof(num), "%" PRIu64, m->size);
		if (w > size_width)
			size_width = w;
	}

	ret = CLI_EXIT_OK;
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		char date[64];
		cli_iso8601(m->internaldate, m->tz_offset, date, sizeof(date));

		strbuf_reset(&sb);
		struct store_body body;
		memset(&err, 0, sizeof(err));
		if (store_body_open(cli->store, m->body_id, &body, &err) == 0) {
			cli_message_subject(body.data, body.len, &sb);
			store_body_close(&body);
		} else {
			/* List the rest; the exit status tells. */
			cli_fail("cannot read the message with UID %" PRIu32
				 ": %s", m->uid,
				 err.msg[0] != '\0' ? err.msg : "unknown error");
			ret = CLI_EXIT_FAIL;
		}
		printf("%*" PRIu32 "  %-*s  %*" PRIu64 "  %s", uid_width, m->uid,
		       flags_width, flags[i], size_width, m->size, date);
		if (sb.len > 0)
			printf("  %s", sb.s);
		putchar('\n');
		if (ferror(stdout))
			break;
	}
	for (size_t i = 0; i < list.count; i++)
		free(flags[i]);
	strbuf_free(&sb);
	free(flags);
	store_message_list_free(&list);
	return ret;
}

const struct cli_command cli_message_commands[] = {
	{ "message", "append", "[--flags FLAGS] USER MAILBOX [FILE]", 2,
	  "append a message from FILE or stdin; print its UID",
	  cli_message_append, 3, cli_append_options },
	{ "message", "list", "USER MAILBOX", 2,
	  "list messages: UID, flags, size, date, subject",
	  cli_message_list, 0, NULL },
};
const size_t cli_message_command_count =
	sizeof(cli_message_commands) / sizeof(cli_message_commands[0]);
