/* libFuzzer target: a FETCH command through the IMAP parser, its items
 * through imap_fetch_parse, and the response written for one fixed
 * multipart message; the input is also tried as an IMAP date and
 * date-time. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

static const char fuzz_message[] =
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.org>, \"Carol\" <carol@example.org>\r\n"
	"Subject: =?utf-8?q?parts?=\r\n"
	"Date: Sun, 1 Feb 2026 10:30:00 +0100\r\n"
	"Message-ID: <1@example.org>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"part one\r\n"
	"--XX\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: inner@example.org\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/alternative; boundary=YY\r\n"
	"\r\n"
	"--YY\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"inner plain\0with a NUL\r\n"
	"--YY\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<b>inner</b>\r\n"
	"--YY--\r\n"
	"\r\n"
	"--XX--\r\n";

static struct mime_message *fuzz_mime;

static void fuzz_dates(const uint8_t *data, size_t size)
{
	char buf[64];
	int64_t t;
	int tz, y, m, d;

	if (size >= sizeof(buf))
		return;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (imap_datetime_parse(buf, &t, &tz) == 0) {
		struct strbuf sb = STRBUF_INIT;
		int64_t t2;
		int tz2;

		/* what parses must write back and parse to the same */
		imap_datetime_write(&sb, t, tz);
		if (imap_datetime_parse(sb.s, &t2, &tz2) != 0 || t2 != t ||
		    tz2 != tz)
			abort();
		strbuf_free(&sb);
	}
	(void)imap_date_parse(buf, &y, &m, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parser_limits limits = {
		.max_depth = 16, .max_args = 1000,
	};
	struct imap_parsed_command cmd;
	const char *error;

	if (fuzz_mime == NULL)
		fuzz_mime = mime_parse(fuzz_message, sizeof(fuzz_message) - 1);

	fuzz_dates(data, size);

	memset(&cmd, 0, sizeof(cmd));
	if (imap_parse_command((const char *)data, size, &limits, &cmd,
			       &error) < 0) {
		imap_parsed_command_free(&cmd);
		return 0;
	}

	/* "t FETCH set items" or "t UID FETCH set items" */
	const struct imap_arg *args = cmd.args;
	size_t count = cmd.arg_count;
	bool uid = false;
	if (cmd.name != NULL && strcmp(cmd.name, "UID") == 0 && count > 0 &&
	    imap_arg_is_atom(&args[0], "FETCH")) {
		uid = true;
		args++;
		count--;
	}
	if (count >= 2) {
		struct imap_fetch_request req;

		if (imap_fetch_parse(&args[1], uid, &req, &error) == 0) {
			struct imap_fetch_message msg;
			struct strbuf out = STRBUF_INIT;

			memset(&msg, 0, sizeof(msg));
			msg.seq = 3;
			msg.uid = 77;
			msg.flags = 0x1f;
			msg.recent = true;
			msg.keywords = "$Forwarded Junk";
			msg.internaldate = 1769938200;
			msg.tz_offset = -330;
			msg.size = sizeof(fuzz_message) - 1;
			msg.modseq = 42;
			msg.data = fuzz_message;
			msg.len = sizeof(fuzz_message) - 1;
			msg.mime = fuzz_mime;
			imap_fetch_write(&req, &msg, &out);
			if (out.len < 2 || out.s[out.len - 2] != '\r' ||
			    out.s[out.len - 1] != '\n')
				abort();
			/* without a tree, parsed on demand */
			msg.mime = NULL;
			strbuf_reset(&out);
			imap_fetch_write(&req, &msg, &out);
			strbuf_free(&out);
			imap_fetch_request_free(&req);
		}
	}
	imap_parsed_command_free(&cmd);
	return 0;
}
