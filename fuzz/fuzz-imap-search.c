/* libFuzzer target: a SEARCH command line through the real IMAP parser,
 * then imap_search_parse, then a match against fixed messages (one with
 * and one without the text), so that every key is evaluated. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "store/store.h"

static const char fuzz_message[] =
	"Received: from a.example\r\n"
	"\tby b.example\r\n"
	"From: =?UTF-8?B?w4lsw6h2ZQ==?= <alice@example.com>\r\n"
	"To: Bob <bob@example.org>, carol@example.net\r\n"
	"Cc: dave@example.com\r\n"
	"Subject: =?ISO-8859-1?Q?caf=E9?= meeting\r\n"
	"Date: Mon, 31 Dec 2007 23:30:00 -0800\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"R3LDvMOfZSBhdXMgS8OWTE4=\r\n"
	"--b\r\n"
	"Content-Type: text/html; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<p>Sch=F6n</p>\r\n"
	"--b--\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_parser_limits parser_limits = {
		.max_depth = 32,
		.max_args = 2000,
	};
	static const struct imap_search_limits search_limits = {
		.max_depth = 32,
		.max_keys = 1000,
	};
	struct imap_parsed_command cmd;
	const char *error;

	if (size > 65536)
		return 0;
	if (imap_parse_command((const char *)data, size, &parser_limits,
			       &cmd, &error) < 0) {
		imap_parsed_command_free(&cmd);
		return 0;
	}

	const struct imap_arg *args = cmd.args;
	size_t count = cmd.arg_count;
	/* "tag UID SEARCH ...": the keys follow the subcommand */
	if (strcmp(cmd.name, "UID") == 0 && count > 0) {
		args++;
		count--;
	}

	struct imap_search *search = NULL;
	bool badcharset = false;
	if (imap_search_parse(args, count, &search_limits, &search, &error,
			      &badcharset) == 0) {
		struct imap_search_message msg = {
			.seq = 2,
			.uid = 1000,
			.flags = STORE_FLAG_SEEN | STORE_FLAG_DRAFT,
			.recent = true,
			.keywords = "$Forwarded work",
			.internaldate = 1199172600,
			.tz_offset = -480,
			.size = sizeof(fuzz_message) - 1,
			.modseq = 77,
			.data = fuzz_message,
			.len = sizeof(fuzz_message) - 1,
		};
		struct imap_search_context ctx = { .max_seq = 3,
						   .max_uid = 1001 };

		(void)imap_search_needs_body(search);
		(void)imap_search_uses_modseq(search);
		(void)imap_search_match_without_text(search, &ctx, &msg);
		(void)imap_search_match(search, &ctx, &msg);
		/* a different '*' re-resolves the cached sets */
		ctx.max_seq = 2;
		ctx.max_uid = 999;
		(void)imap_search_match(search, &ctx, &msg);
		/* text not loaded: searched as empty */
		msg.data = NULL;
		msg.len = 0;
		msg.uid = 1;
		(void)imap_search_match(search, &ctx, &msg);
		imap_search_free(&search);
	}
	imap_parsed_command_free(&cmd);
	return 0;
}
