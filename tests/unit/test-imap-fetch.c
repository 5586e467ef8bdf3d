/* FETCH attributes, FETCH responses, IMAP dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "imap/imap-fetch.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"
#include "store/store.h"

/* ---- argument builders: what the parser delivers for a FETCH argument.
 * A bracketed section with its spaces, parens and quoted strings, and the
 * partial after it, is one atom. ---- */

static void arg_atom(struct imap_arg *arg, const char *s, size_t len)
{
	memset(arg, 0, sizeof(*arg));
	arg->type = IMAP_ARG_ATOM;
	arg->str = xmemdupz(s, len);
	arg->len = len;
}

/* Splits at spaces outside brackets and quotes. */
static void arg_list_items(struct imap_arg *list, const char *s, size_t len)
{
	size_t cap = 0;
	size_t i = 0;

	memset(list, 0, sizeof(*list));
	list->type = IMAP_ARG_LIST;
	while (i < len) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		size_t start = i;
		int depth = 0;
		bool quoted = false;
		while (i < len && (s[i] != ' ' || depth > 0 || quoted)) {
			if (quoted) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == '"')
					quoted = false;
			} else if (s[i] == '"' && depth > 0) {
				quoted = true;
			} else if (s[i] == '[') {
				depth++;
			} else if (s[i] == ']' && depth > 0) {
				depth--;
			}
			i++;
		}
		if (list->count == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			list->list = xrealloc(list->list,
					      cap * sizeof(*list->list));
		}
		arg_atom(&list->list[list->count++], s + start, i - start);
	}
}

/* "(a b)" -> LIST, anything else -> one ATOM. */
static void arg_build(struct imap_arg *arg, const char *spec)
{
	size_t len = strlen(spec);

	if (len >= 2 && spec[0] == '(' && spec[len - 1] == ')')
		arg_list_items(arg, spec + 1, len - 2);
	else
		arg_atom(arg, spec, len);
}

static void arg_free(struct imap_arg *arg)
{
	for (size_t i = 0; i < arg->count; i++)
		arg_free(&arg->list[i]);
	free(arg->list);
	free(arg->str);
	memset(arg, 0, sizeof(*arg));
}

static int parse_spec(const char *spec, bool uid, struct imap_fetch_request *req,
		      const char **error_r)
{
	struct imap_arg arg;

	arg_build(&arg, spec);
	*error_r = NULL;
	int ret = imap_fetch_parse(&arg, uid, req, error_r);
	arg_free(&arg);
	if (ret < 0) {
		assert_non_null(*error_r);
		assert_int_equal(req->count, 0);
	}
	return ret;
}

static void parse_ok(const char *spec, bool uid, struct imap_fetch_request *req)
{
	const char *error;

	if (parse_spec(spec, uid, req, &error) < 0)
		fail_msg("\"%s\" failed: %s", spec, error);
}

static void parse_bad(const char *spec)
{
	struct imap_fetch_request req;
	const char *error;

	if (parse_spec(spec, false, &req, &error) == 0) {
		imap_fetch_request_free(&req);
		fail_msg("\"%s\" was accepted", spec);
	}
}

/* ---- parsing ---- */

static void test_parse_simple_items(void **state)
{
	static const struct {
		const char *spec;
		enum imap_fetch_item_kind kind;
		bool needs_body, sets_seen, needs_mime;
	} cases[] = {
		{ "UID", IMAP_FETCH_UID, false, false, false },
		{ "uid", IMAP_FETCH_UID, false, false, false },
		{ "FLAGS", IMAP_FETCH_FLAGS, false, false, false },
		{ "Flags", IMAP_FETCH_FLAGS, false, false, false },
		{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE, false, false, false },
		{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, false, false, false },
		{ "rfc822.size", IMAP_FETCH_RFC822_SIZE, false, false, false },
		{ "ENVELOPE", IMAP_FETCH_ENVELOPE, true, false, true },
		{ "BODY", IMAP_FETCH_BODY, true, false, true },
		{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, true, false, true },
		{ "bodystructure", IMAP_FETCH_BODYSTRUCTURE, true, false, true },
		{ "RFC822", IMAP_FETCH_RFC822, true, true, false },
		{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, true, false, true },
		{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, true, true, true },
		{ "MODSEQ", IMAP_FETCH_MODSEQ, false, false, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_fetch_request req;

		/* alone and as a one-item list */
		for (int list = 0; list < 2; list++) {
			char spec[64];
			snprintf(spec, sizeof(spec), list ? "(%s)" : "%s",
				 cases[i].spec);
			parse_ok(spec, false, &req);
			assert_int_equal(req.count, 1);
			assert_int_equal(req.items[0].kind, cases[i].kind);
			assert_int_equal(req.needs_body, cases[i].needs_body);
			assert_int_equal(req.sets_seen, cases[i].sets_seen);
			assert_int_equal(req.needs_mime, cases[i].needs_mime);
			imap_fetch_request_free(&req);
		}
	}
}

static void test_parse_list_order(void **state)
{
	struct imap_fetch_request req;

	(void)state;
	parse_ok("(FLAGS UID RFC822.SIZE BODY.PEEK[HEADER] INTERNALDATE)",
		 false, &req);
	assert_int_equal(req.count, 5);
	assert_int_equal(req.items[0].kind, IMAP_FETCH_FLAGS);
	assert_int_equal(req.items[1].kind, IMAP_FETCH_UID);
	assert_int_equal(req.items[2].kind, IMAP_FETCH_RFC822_SIZE);
	assert_int_equal(req.items[3].kind, IMAP_FETCH_BODY_SECTION);
	assert_int_equal(req.items[4].kind, IMAP_FETCH_INTERNALDATE);
	assert_true(req.needs_body);
	assert_true(req.needs_mime);
	assert_false(req.sets_seen);
	imap_fetch_request_free(&req);

	/* simple items asked twice are answered once */
	parse_ok("(FLAGS FLAGS UID flags)", false, &req);
	assert_int_equal(req.count, 2);
	imap_fetch_request_free(&req);
}

static void test_parse_macros(void **state)
{
	static const enum imap_fetch_item_kind full[] = {
		IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY,
	};
	static const struct {
		const char *spec;
		size_t count;
	} cases[] = {
		{ "FAST", 3 }, { "fast", 3 }, { "ALL", 4 }, { "All", 4 },
		{ "FULL", 5 }, { "full", 5 },
	};
	struct imap_fetch_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok(cases[i].spec, false, &req);
		assert_int_equal(req.count, cases[i].count);
		for (size_t j = 0; j < req.count; j++)
			assert_int_equal(req.items[j].kind, full[j]);
		assert_int_equal(req.needs_mime, cases[i].count > 3);
		assert_int_equal(req.needs_body, cases[i].count > 3);
		assert_false(req.sets_seen);
		imap_fetch_request_free(&req);
	}

	/* UID FETCH 1 ALL: UID first */
	parse_ok("ALL", true, &req);
	assert_int_equal(req.count, 5);
	assert_int_equal(req.items[0].kind, IMAP_FETCH_UID);
	assert_int_equal(req.items[1].kind, IMAP_FETCH_FLAGS);
	imap_fetch_request_free(&req);
}

static void test_parse_uid_command(void **state)
{
	struct imap_fetch_request req;

	(void)state;
	parse_ok("FLAGS", true, &req);
	assert_int_equal(req.count, 2);
	assert_int_equal(req.items[0].kind, IMAP_FETCH_UID);
	assert_int_equal(req.items[1].kind, IMAP_FETCH_FLAGS);
	imap_fetch_request_free(&req);

	/* asked for: stays where the client put it, only once */
	parse_ok("(FLAGS UID)", true, &req);
	assert_int_equal(req.count, 2);
	assert_int_equal(req.items[0].kind, IMAP_FETCH_FLAGS);
	assert_int_equal(req.items[1].kind, IMAP_FETCH_UID);
	imap_fetch_request_free(&req);

	parse_ok("UID", true, &req);
	assert_int_equal(req.count, 1);
	assert_int_equal(req.items[0].kind, IMAP_FETCH_UID);
	imap_fetch_request_free(&req);
}

struct section_case {
	const char *spec;
	bool peek;
	const char *text;          /* normalised section_text */
	size_t part_count;
	uint32_t parts[4];
	enum mime_section_kind kind;
	size_t field_count;
	const char *fields[4];
	bool partial;
	uint32_t offset, length;
	bool needs_mime;
};

static void test_parse_sections(void **state)
{
	static const struct section_case cases[] = {
		{ "BODY[]", false, "", 0, { 0 }, MIME_SECTION_ALL, 0, { 0 },
		  false, 0, 0, false },
		{ "body.peek[]", true, "", 0, { 0 }, MIME_SECTION_ALL, 0,
		  { 0 }, false, 0, 0, false },
		{ "BODY[]<0.10>", false, "", 0, { 0 }, MIME_SECTION_ALL, 0,
		  { 0 }, true, 0, 10, false },
		{ "BODY.PEEK[]<1000.4294967295>", true, "", 0, { 0 },
		  MIME_SECTION_ALL, 0, { 0 }, true, 1000, 4294967295u,
		  false },
		{ "BODY[HEADER]", false, "HEADER", 0, { 0 },
		  MIME_SECTION_HEADER, 0, { 0 }, false, 0, 0, true },
		{ "BODY.PEEK[header]", true, "HEADER", 0, { 0 },
		  MIME_SECTION_HEADER, 0, { 0 }, false, 0, 0, true },
		{ "BODY[TEXT]", false, "TEXT", 0, { 0 }, MIME_SECTION_TEXT,
		  0, { 0 }, false, 0, 0, true },
		{ "BODY[1]", false, "1", 1, { 1 }, MIME_SECTION_ALL, 0, { 0 },
		  false, 0, 0, true },
		{ "BODY[1.2.3]", false, "1.2.3", 3, { 1, 2, 3 },
		  MIME_SECTION_ALL, 0, { 0 }, false, 0, 0, true },
		{ "BODY.PEEK[1.2.MIME]", true, "1.2.MIME", 2, { 1, 2 },
		  MIME_SECTION_MIME, 0, { 0 }, false, 0, 0, true },
		{ "BODY[2.mime]<5.7>", false, "2.MIME", 1, { 2 },
		  MIME_SECTION_MIME, 0, { 0 }, true, 5, 7, true },
		{ "BODY[3.HEADER]", false, "3.HEADER", 1, { 3 },
		  MIME_SECTION_HEADER, 0, { 0 }, false, 0, 0, true },
		{ "BODY[4.1.TEXT]", false, "4.1.TEXT", 2, { 4, 1 },
		  MIME_SECTION_TEXT, 0, { 0 }, false, 0, 0, true },
		{ "BODY[HEADER.FIELDS (FROM TO)]", false,
		  "HEADER.FIELDS (FROM TO)", 0, { 0 },
		  MIME_SECTION_HEADER_FIELDS, 2, { "FROM", "TO" }, false, 0,
		  0, true },
		{ "BODY.PEEK[header.fields (From to Message-ID)]<0.100>",
		  true, "HEADER.FIELDS (From to Message-ID)", 0, { 0 },
		  MIME_SECTION_HEADER_FIELDS, 3,
		  { "From", "to", "Message-ID" }, true, 0, 100, true },
		{ "BODY[HEADER.FIELDS.NOT (X-Spam \"Received\")]", false,
		  "HEADER.FIELDS.NOT (X-Spam Received)", 0, { 0 },
		  MIME_SECTION_HEADER_FIELDS_NOT, 2, { "X-Spam", "Received" },
		  false, 0, 0, true },
		{ "BODY[1.2.HEADER.FIELDS (SUBJECT)]", false,
		  "1.2.HEADER.FIELDS (SUBJECT)", 2, { 1, 2 },
		  MIME_SECTION_HEADER_FIELDS, 1, { "SUBJECT" }, false, 0, 0,
		  true },
		/* quoted names that are not atoms stay quoted in the echo */
		{ "BODY[HEADER.FIELDS (\"X-A]B\" \"X-%\")]", false,
		  "HEADER.FIELDS (\"X-A]B\" \"X-%\")", 0, { 0 },
		  MIME_SECTION_HEADER_FIELDS, 2, { "X-A]B", "X-%" }, false,
		  0, 0, true },
		/* extra spaces are tolerated, the echo is normalised */
		{ "BODY[HEADER.FIELDS  ( FROM   TO )]", false,
		  "HEADER.FIELDS (FROM TO)", 0, { 0 },
		  MIME_SECTION_HEADER_FIELDS, 2, { "FROM", "TO" }, false, 0,
		  0, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct section_case *c = &cases[i];
		struct imap_fetch_request req;

		parse_ok(c->spec, false, &req);
		assert_int_equal(req.count, 1);
		const struct imap_fetch_item *it = &req.items[0];
		assert_int_equal(it->kind, IMAP_FETCH_BODY_SECTION);
		assert_int_equal(it->peek, c->peek);
		assert_non_null(it->section_text);
		assert_string_equal(it->section_text, c->text);
		assert_int_equal(it->section.part_count, c->part_count);
		for (size_t j = 0; j < c->part_count; j++)
			assert_int_equal(it->section.parts[j], c->parts[j]);
		assert_int_equal(it->section.kind, c->kind);
		assert_int_equal(it->section.field_count, c->field_count);
		for (size_t j = 0; j < c->field_count; j++)
			assert_string_equal(it->section.fields[j],
					    c->fields[j]);
		assert_int_equal(it->partial, c->partial);
		if (c->partial) {
			assert_int_equal(it->partial_offset, c->offset);
			assert_int_equal(it->partial_length, c->length);
		}
		assert_true(req.needs_body);
		assert_int_equal(req.sets_seen, !c->peek);
		assert_int_equal(req.needs_mime, c->needs_mime);
		imap_fetch_request_free(&req);
	}
}

static void test_parse_part_depth(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct imap_fetch_request req;

	(void)state;
	strbuf_appends(&sb, "BODY[");
	for (int i = 0; i < MIME_MAX_DEPTH; i++)
		strbuf_printf(&sb, "%s%d", i ? "." : "", i + 1);
	strbuf_appends(&sb, "]");
	parse_ok(sb.s, false, &req);
	assert_int_equal(req.items[0].section.part_count, MIME_MAX_DEPTH);
	assert_int_equal(req.items[0].section.parts[MIME_MAX_DEPTH - 1],
			 MIME_MAX_DEPTH);
	imap_fetch_request_free(&req);

	/* one more is too deep */
	sb.len -= 1;
	strbuf_appends(&sb, ".1]");
	parse_bad(sb.s);
	strbuf_free(&sb);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "FOO", "(FOO)", "(FLAGS FOO)", "UIDX", "FLAG", "RFC822.",
		"RFC822.SIZEX", "BODY.PEEK", "(BODY.PEEK)", "BODYSTRUCTUREX",
		"()",
		/* BINARY (RFC 3516): section-part only, no partial on SIZE */
		"BINARY[TEXT]", "BINARY[1.HEADER]", "BINARY[1.MIME]", "BINARY[0]",
		"BINARY[1.]", "BINARY[.1]", "BINARY[1", "BINARY.SIZE[1]<0.1>",
		"BINARY[1]<5>", "BINARY.PEEK", "BINARY.SIZE",
		/* macros only on their own */
		"(ALL)", "(FLAGS FAST)", "(FULL UID)",
		/* sections */
		"BODY[", "BODY[]]", "BODY[1.0]", "BODY[0]", "BODY[01]",
		"BODY[1.]", "BODY[.1]", "BODY[1..2]", "BODY[-1]",
		"BODY[4294967296]", "BODY[MIME]", "BODY[mime]",
		"BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (FROM]", "BODY[HEADER.FIELDS FROM]",
		"BODY[HEADER.FIELDS (FROM TO]", "BODY[HEADER.FIELDS (\"FROM)]",
		"BODY[HEADER.FIELDS (\"\")]", "BODY[HEADER.FIELDS (\"A:B\")]",
		"BODY[HEADER.FIELDS (\"A B\")]", "BODY[HEADER.FIELDS (\"\\x\")]",
		"BODY[HEADER.FIELDS ({3}FOO)]",
		"BODY[HEADER.FIELDS (FROM)(TO)]",
		"BODY[HEADER.FIELDS (FROM)] ", "BODY[HEADER.FIELDS.NOT]",
		"BODY[HEADER (FROM)]", "BODY[HEADERS]", "BODY[TEXT.MIME]",
		"BODY[HEADER.TEXT]", "BODY[1.HEADER.2]", "BODY[TEXT ]",
		"BODY[ TEXT]", "BODY[FOO]", "BODY[1.FOO]", "BODY[1 ]",
		"BODY[]x", "BODY.PEEK[]x", "BODY[]<", "BODY[]<0>",
		"BODY[]<0.>", "BODY[]<.5>", "BODY[]<1.0>", "BODY[]<0.05>",
		"BODY[]<0.10", "BODY[]<0.10>>", "BODY[]<-1.10>",
		"BODY[]<4294967296.1>", "BODY[]<0.4294967296>",
		"BODY[]<0.10><0.10>", "BODY.PEEK[MIME]", "BODY.PEEK [1]",
		"BODY[]<a.b>",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i]);
}

static void test_parse_bad_args(void **state)
{
	struct imap_fetch_request req;
	struct imap_arg arg, inner;
	const char *error = NULL;

	(void)state;
	/* a quoted string is not a fetch-att */
	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_QUOTED;
	arg.str = (char *)"FLAGS";
	arg.len = 5;
	assert_int_equal(imap_fetch_parse(&arg, false, &req, &error), -1);
	assert_non_null(error);

	/* nor is NIL, nor a nested list */
	arg.type = IMAP_ARG_NIL;
	arg.str = (char *)"NIL";
	arg.len = 3;
	assert_int_equal(imap_fetch_parse(&arg, false, &req, &error), -1);

	arg_build(&inner, "(FLAGS)");
	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_LIST;
	arg.list = &inner;
	arg.count = 1;
	assert_int_equal(imap_fetch_parse(&arg, false, &req, &error), -1);
	arg_free(&inner);

	assert_int_equal(imap_fetch_parse(NULL, false, &req, &error), -1);

	/* an atom with an embedded NUL (len counts it) is unknown */
	memset(&arg, 0, sizeof(arg));
	arg.type = IMAP_ARG_ATOM;
	arg.str = (char *)"UID\0X";
	arg.len = 5;
	assert_int_equal(imap_fetch_parse(&arg, false, &req, &error), -1);
}

/* The same through the real command parser, which delivers a bracketed
 * section (spaces, parens, quoted names and partial included) as one atom. */
static void test_parse_via_parser(void **state)
{
	static const struct imap_parser_limits limits = {
		.max_depth = 16, .max_args = 1000,
	};
	static const char line[] =
		"a1 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From \"To\" "
		"X-A)]<0.100> BODY[1.2.MIME] RFC822.SIZE)\r\n";
	struct imap_parsed_command cmd;
	struct imap_fetch_request req;
	const char *error = NULL;

	(void)state;
	memset(&cmd, 0, sizeof(cmd));
	assert_int_equal(imap_parse_command(line, strlen(line), &limits, &cmd,
					    &error), 0);
	assert_string_equal(cmd.name, "UID");
	assert_int_equal(cmd.arg_count, 3);
	assert_int_equal(imap_fetch_parse(&cmd.args[2], true, &req, &error),
			 0);
	assert_int_equal(req.count, 5);
	assert_int_equal(req.items[0].kind, IMAP_FETCH_UID);
	assert_int_equal(req.items[1].kind, IMAP_FETCH_FLAGS);
	assert_int_equal(req.items[2].kind, IMAP_FETCH_BODY_SECTION);
	assert_string_equal(req.items[2].section_text,
			    "HEADER.FIELDS (From To X-A)");
	assert_true(req.items[2].peek);
	assert_true(req.items[2].partial);
	assert_int_equal(req.items[2].partial_length, 100);
	assert_int_equal(req.items[2].section.field_count, 3);
	assert_string_equal(req.items[2].section.fields[1], "To");
	assert_string_equal(req.items[3].section_text, "1.2.MIME");
	assert_int_equal(req.items[4].kind, IMAP_FETCH_RFC822_SIZE);
	assert_true(req.sets_seen);
	imap_fetch_request_free(&req);
	imap_parsed_command_free(&cmd);

	static const char bad[] = "a2 FETCH 1 (FLAGS BODY[1.0])\r\n";
	memset(&cmd, 0, sizeof(cmd));
	assert_int_equal(imap_parse_command(bad, strlen(bad), &limits, &cmd,
					    &error), 0);
	assert_int_equal(cmd.arg_count, 2);
	assert_int_equal(imap_fetch_parse(&cmd.args[1], false, &req, &error),
			 -1);
	imap_parsed_command_free(&cmd);
}

/* ---- flags and dates ---- */

static void test_flags_write(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	imap_flags_write(&sb, 0, NULL, false);
	assert_string_equal(sb.s, "()");
	strbuf_reset(&sb);
	imap_flags_write(&sb, STORE_FLAG_ALL, "", true);
	assert_string_equal(sb.s,
		"(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent)");
	strbuf_reset(&sb);
	imap_flags_write(&sb, STORE_FLAG_DRAFT | STORE_FLAG_SEEN,
			 "$Forwarded  Junk ", false);
	assert_string_equal(sb.s, "(\\Seen \\Draft $Forwarded Junk)");
	strbuf_reset(&sb);
	imap_flags_write(&sb, 0, "kw1", true);
	assert_string_equal(sb.s, "(\\Recent kw1)");
	strbuf_reset(&sb);
	/* things that are not atoms never reach the wire */
	imap_flags_write(&sb, STORE_FLAG_FLAGGED, "a(b \\Seen ok c\r\nd",
			 false);
	assert_string_equal(sb.s, "(\\Flagged ok)");
	strbuf_free(&sb);
}

static void check_datetime(int64_t t, int tz, const char *expect)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t t2;
	int tz2;

	imap_datetime_write(&sb, t, tz);
	assert_string_equal(sb.s, expect);
	assert_int_equal(imap_datetime_parse(sb.s, &t2, &tz2), 0);
	assert_int_equal(t2, t);
	assert_int_equal(tz2, tz);
	strbuf_free(&sb);
}

static void test_datetime_write(void **state)
{
	(void)state;
	check_datetime(0, 0, " 1-Jan-1970 00:00:00 +0000");
	/* RFC 3501 §8 example: 17-Jul-1996 02:44:25 -0700 */
	check_datetime(837596665, -420, "17-Jul-1996 02:44:25 -0700");
	/* 2026-02-01 09:30:00 UTC */
	check_datetime(1769938200, 60, " 1-Feb-2026 10:30:00 +0100");
	check_datetime(1769938200, -330, " 1-Feb-2026 04:00:00 -0530");
	/* the zone moves the date */
	check_datetime(1769938200, -600, "31-Jan-2026 23:30:00 -1000");
	check_datetime(951825600, 0, "29-Feb-2000 12:00:00 +0000");
	check_datetime(4102444799LL, 840, " 1-Jan-2100 13:59:59 +1400");
	check_datetime(-86400, 0, "31-Dec-1969 00:00:00 +0000");

	/* out-of-range input is clamped, never garbage */
	struct strbuf sb = STRBUF_INIT;
	imap_datetime_write(&sb, 0, 100000);
	assert_string_equal(sb.s, " 1-Jan-1970 00:00:00 +0000");
	strbuf_reset(&sb);
	imap_datetime_write(&sb, INT64_MAX, 0);
	assert_string_equal(sb.s, "31-Dec-9999 23:59:59 +0000");
	strbuf_reset(&sb);
	imap_datetime_write(&sb, INT64_MIN, -60);
	assert_string_equal(sb.s, " 1-Jan-0000 00:00:00 -0100");
	strbuf_free(&sb);
}

static void test_datetime_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t t;
		int tz;
	} good[] = {
		{ "17-Jul-1996 02:44:25 -0700", 837596665, -420 },
		{ "17-jul-1996 02:44:25 -0700", 837596665, -420 },
		{ " 1-Feb-2026 10:30:00 +0100", 1769938200, 60 },
		{ "01-Feb-2026 10:30:00 +0100", 1769938200, 60 },
		{ "1-Feb-2026 10:30:00 +0100", 1769938200, 60 },
		{ "01-FEB-2026 04:00:00 -0530", 1769938200, -330 },
		{ "29-Feb-2000 12:00:00 +0000", 951825600, 0 },
		{ "31-Dec-1969 23:59:60 +0000", -1, 0 },
		{ "31-Dec-9999 23:59:60 +0000", 253402300799LL, 0 },
		{ "01-Jan-0000 00:00:00 +0000", -62167219200LL, 0 },
	};
	static const char *const bad[] = {
		"", " ", "17-Jul-1996", "17-Jul-1996 02:44:25",
		"17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 -070",
		"17-Jul-1996 02:44:25 -07000", "17-Jul-1996 02:44:25 -0700 ",
		" 17-Jul-1996 02:44:25 -0700", "  1-Feb-2026 10:30:00 +0100",
		"001-Feb-2026 10:30:00 +0100", "1-Febr-2026 10:30:00 +0100",
		"1-Foo-2026 10:30:00 +0100", "1-Feb-26 10:30:00 +0100",
		"1-Feb-02026 10:30:00 +0100", "1 Feb 2026 10:30:00 +0100",
		"1-Feb-2026  10:30:00 +0100", "1-Feb-2026 1:30:00 +0100",
		"1-Feb-2026 10:3:00 +0100", "1-Feb-2026 10:30:0 +0100",
		"1-Feb-2026 10:30 +0100", "1-Feb-2026 24:00:00 +0100",
		"1-Feb-2026 10:60:00 +0100", "1-Feb-2026 10:30:61 +0100",
		"1-Feb-2026 10:30:00 +0160", "1-Feb-2026 10:30:00 +2400",
		"30-Feb-2026 10:30:00 +0100", "29-Feb-1900 10:30:00 +0100",
		"31-Apr-2026 10:30:00 +0100", "0-Feb-2026 10:30:00 +0100",
		"32-Jan-2026 10:30:00 +0100", "\"1-Feb-2026 10:30:00 +0100\"",
		"1-Feb-2026 10:30:00 +0100\r\n", "1-Feb-2026T10:30:00 +0100",
	};
	int64_t t;
	int tz;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (imap_datetime_parse(good[i].s, &t, &tz) != 0)
			fail_msg("\"%s\" rejected", good[i].s);
		assert_int_equal(t, good[i].t);
		assert_int_equal(tz, good[i].tz);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_datetime_parse(bad[i], &t, &tz) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
	}
	assert_int_equal(imap_datetime_parse(NULL, &t, &tz), -1);
}

static void test_datetime_round_trip(void **state)
{
	static const int zones[] = { 0, 60, -60, -330, 330, 345, -720, 840,
				     -599, 1439, -1439 };
	struct strbuf sb = STRBUF_INIT;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		/* xorshift: times from 1900 to 2200 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int64_t t = (int64_t)(x % 9467280000ULL) - 2208988800LL;
		int tz = zones[i % (sizeof(zones) / sizeof(zones[0]))];
		int64_t t2;
		int tz2;

		strbuf_reset(&sb);
		imap_datetime_write(&sb, t, tz);
		assert_int_equal(sb.len, 26);
		assert_int_equal(imap_datetime_parse(sb.s, &t2, &tz2), 0);
		assert_int_equal(t2, t);
		assert_int_equal(tz2, tz);

		/* and the date part as a SEARCH date */
		int y, m, d;
		char date[16];
		const char *p = sb.s[0] == ' ' ? sb.s + 1 : sb.s;
		size_t n = (size_t)(strchr(p, ' ') - p);
		memcpy(date, p, n);
		date[n] = '\0';
		assert_int_equal(imap_date_parse(date, &y, &m, &d), 0);

		time_t tt = (time_t)(t + tz * 60);
		struct tm tm;
		gmtime_r(&tt, &tm);
		assert_int_equal(y, tm.tm_year + 1900);
		assert_int_equal(m, tm.tm_mon + 1);
		assert_int_equal(d, tm.tm_mday);
	}
	strbuf_free(&sb);
}

static void test_date_parse(void **state)
{
	static const char *const bad[] = {
		"", "1", "1-Feb", "1-Feb-94", "1-Feb-1994 ", " 1-Feb-1994",
		"001-Feb-1994", "1-feb1994", "1-Fex-1994", "0-Feb-1994",
		"29-Feb-1994", "32-Dec-1994", "1--Feb-1994", "1-Feb-19944",
		"\"1-Feb-1994\"", "1-Feb-199x", "x-Feb-1994",
	};
	int y, m, d;

	(void)state;
	assert_int_equal(imap_date_parse("1-Feb-1994", &y, &m, &d), 0);
	assert_int_equal(y, 1994);
	assert_int_equal(m, 2);
	assert_int_equal(d, 1);
	assert_int_equal(imap_date_parse("01-Feb-1994", &y, &m, &d), 0);
	assert_int_equal(d, 1);
	assert_int_equal(imap_date_parse("29-feb-2024", &y, &m, &d), 0);
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);
	assert_int_equal(imap_date_parse("31-DEC-9999", &y, &m, &d), 0);
	assert_int_equal(y, 9999);
	assert_int_equal(m, 12);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_date_parse(bad[i], &y, &m, &d) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
	}
	assert_int_equal(imap_date_parse(NULL, &y, &m, &d), -1);
}

/* ---- writing ---- */

static const char simple_header[] =
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.org>\r\n"
	"Subject: hello\r\n"
	"Message-ID: <1@example.org>\r\n"
	"\r\n";
static const char simple_body[] = "Hello Bob,\r\nhow are you?\r\n";

static char *simple_message(size_t *len_r)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_appends(&sb, simple_header);
	strbuf_appends(&sb, simple_body);
	return strbuf_detach(&sb, len_r);
}

static void message_init(struct imap_fetch_message *msg, const char *data,
			 size_t len)
{
	memset(msg, 0, sizeof(*msg));
	msg->seq = 12;
	msg->uid = 5;
	msg->flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	msg->keywords = "$Label1";
	msg->internaldate = 1769938200;   /* 2026-02-01 09:30:00 UTC */
	msg->tz_offset = 60;
	msg->size = len;
	msg->modseq = 1234567890123ULL;
	msg->data = data;
	msg->len = len;
}

/* Parses spec, writes the response for msg (parsing MIME when asked). */
static char *fetch_response(const char *spec, bool uid,
			    const struct imap_fetch_message *msg_in)
{
	struct imap_fetch_request req;
	struct imap_fetch_message msg = *msg_in;
	struct mime_message *mime = NULL;
	struct strbuf out = STRBUF_INIT;

	parse_ok(spec, uid, &req);
	if (req.needs_mime && msg.data != NULL) {
		mime = mime_parse(msg.data, msg.len);
		msg.mime = mime;
	}
	imap_fetch_write(&req, &msg, &out);
	if (mime != NULL)
		mime_message_free(&mime);
	imap_fetch_request_free(&req);
	return strbuf_detach(&out, NULL);
}

static void check_response(const char *spec, bool uid,
			   const struct imap_fetch_message *msg,
			   const char *expect)
{
	char *got = fetch_response(spec, uid, msg);
	if (strcmp(got, expect) != 0)
		fail_msg("%s:\n got \"%s\"\nwant \"%s\"", spec, got, expect);
	free(got);
}

static char *literal(const char *prefix, const char *data, size_t len,
		     const char *suffix)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_printf(&sb, "%s{%zu}\r\n", prefix, len);
	strbuf_append(&sb, data, len);
	strbuf_appends(&sb, suffix);
	return strbuf_detach(&sb, NULL);
}

static void test_write_simple_items(void **state)
{
	struct imap_fetch_message msg;

	(void)state;
	message_init(&msg, NULL, 0);
	msg.size = 2345;
	check_response("(UID FLAGS)", false, &msg,
		       "* 12 FETCH (UID 5 FLAGS (\\Seen \\Flagged $Label1))\r\n");
	check_response("FLAGS", true, &msg,
		       "* 12 FETCH (UID 5 FLAGS (\\Seen \\Flagged $Label1))\r\n");
	check_response("(FLAGS UID)", true, &msg,
		       "* 12 FETCH (FLAGS (\\Seen \\Flagged $Label1) UID 5)\r\n");
	check_response("FAST", false, &msg,
		       "* 12 FETCH (FLAGS (\\Seen \\Flagged $Label1) "
		       "INTERNALDATE \" 1-Feb-2026 10:30:00 +0100\" "
		       "RFC822.SIZE 2345)\r\n");
	msg.tz_offset = -330;
	check_response("INTERNALDATE", false, &msg,
		       "* 12 FETCH (INTERNALDATE \" 1-Feb-2026 04:00:00 "
		       "-0530\")\r\n");
	check_response("MODSEQ", false, &msg,
		       "* 12 FETCH (MODSEQ (1234567890123))\r\n");
	msg.recent = true;
	msg.flags = 0;
	msg.keywords = NULL;
	msg.seq = 1;
	msg.uid = 4294967295u;
	check_response("(FLAGS UID RFC822.SIZE)", false, &msg,
		       "* 1 FETCH (FLAGS (\\Recent) UID 4294967295 "
		       "RFC822.SIZE 2345)\r\n");
}

static void test_write_body_whole(void **state)
{
	struct imap_fetch_message msg;
	size_t len;
	char *data = simple_message(&len);
	char *expect;

	(void)state;
	message_init(&msg, data, len);

	expect = literal("* 12 FETCH (BODY[] ", data, len, ")\r\n");
	check_response("BODY[]", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (UID 5 BODY[] ", data, len, ")\r\n");
	check_response("BODY.PEEK[]", true, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (RFC822 ", data, len, ")\r\n");
	check_response("RFC822", false, &msg, expect);
	free(expect);

	/* partial: origin echoed, length not */
	expect = literal("* 12 FETCH (BODY[]<0> ", data, 10, ")\r\n");
	check_response("BODY.PEEK[]<0.10>", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (BODY[]<6> ", data + 6, 5, ")\r\n");
	check_response("BODY[]<6.5>", false, &msg, expect);
	free(expect);
	/* truncated at the end, still a partial response (§6.4.5) */
	expect = literal("* 12 FETCH (BODY[]<0> ", data, len, ")\r\n");
	check_response("BODY[]<0.100000>", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (BODY[]<100> ", data + 100, len - 100,
			 ")\r\n");
	check_response("BODY[]<100.4294967295>", false, &msg, expect);
	free(expect);
	/* beyond the end: empty string */
	check_response("BODY[]<1000.10>", false, &msg,
		       "* 12 FETCH (BODY[]<1000> \"\")\r\n");
	char pos[64];
	snprintf(pos, sizeof(pos), "BODY[]<%zu.1>", len);
	expect = xmalloc(128);
	snprintf(expect, 128, "* 12 FETCH (BODY[]<%zu> \"\")\r\n", len);
	check_response(pos, false, &msg, expect);
	free(expect);

	/* an empty message: "" rather than NIL */
	message_init(&msg, "", 0);
	check_response("(BODY[] RFC822)", false, &msg,
		       "* 12 FETCH (BODY[] \"\" RFC822 \"\")\r\n");
	/* no data given at all: the same, no crash */
	message_init(&msg, NULL, 0);
	check_response("BODY[]", false, &msg, "* 12 FETCH (BODY[] \"\")\r\n");

	/* NUL is not a CHAR8: sent as 0x80, the length unchanged */
	static const char with_nul[] = "A: b\r\n\r\nx\0y\0";
	message_init(&msg, with_nul, sizeof(with_nul) - 1);
	expect = literal("* 12 FETCH (BODY[] ", "A: b\r\n\r\nx\x80y\x80",
			 sizeof(with_nul) - 1, ")\r\n");
	check_response("BODY[]", false, &msg, expect);
	free(expect);
	free(data);
}

static void test_write_sections(void **state)
{
	struct imap_fetch_message msg;
	size_t len, hlen = strlen(simple_header);
	char *data = simple_message(&len);
	char *expect;

	(void)state;
	message_init(&msg, data, len);

	expect = literal("* 12 FETCH (BODY[HEADER] ", simple_header, hlen,
			 ")\r\n");
	check_response("BODY.PEEK[HEADER]", false, &msg, expect);
	check_response("body.peek[header]", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (RFC822.HEADER ", simple_header, hlen,
			 ")\r\n");
	check_response("RFC822.HEADER", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (BODY[TEXT] ", simple_body,
			 strlen(simple_body), ")\r\n");
	check_response("BODY[TEXT]", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (RFC822.TEXT ", simple_body,
			 strlen(simple_body), ")\r\n");
	check_response("RFC822.TEXT", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (BODY[HEADER]<4> ", simple_header + 4, 10,
			 ")\r\n");
	check_response("BODY.PEEK[HEADER]<4.10>", false, &msg, expect);
	free(expect);

	/* HEADER.FIELDS: keywords upper-cased, names echoed as given */
	static const char fields[] =
		"From: Alice <alice@example.org>\r\n"
		"Subject: hello\r\n"
		"\r\n";
	expect = literal("* 12 FETCH (UID 5 BODY[HEADER.FIELDS (from "
			 "Subject)] ", fields, strlen(fields), ")\r\n");
	check_response("BODY.PEEK[header.fields (from Subject)]", true, &msg,
		       expect);
	free(expect);
	static const char not_fields[] =
		"To: Bob <bob@example.org>\r\n"
		"Message-ID: <1@example.org>\r\n"
		"\r\n";
	expect = literal("* 12 FETCH (BODY[HEADER.FIELDS.NOT (FROM "
			 "SUBJECT)] ", not_fields, strlen(not_fields),
			 ")\r\n");
	check_response("BODY.PEEK[HEADER.FIELDS.NOT (FROM \"SUBJECT\")]",
		       false, &msg, expect);
	free(expect);

	/* a part that does not exist: empty, never NIL */
	check_response("BODY.PEEK[3]", false, &msg,
		       "* 12 FETCH (BODY[3] \"\")\r\n");

	/* ENVELOPE and BODY as the mime module writes them */
	struct mime_message *mime = mime_parse(data, len);
	struct strbuf sb = STRBUF_INIT;
	strbuf_appends(&sb, "* 12 FETCH (ENVELOPE ");
	mime_envelope_write(mime, &mime->root, &sb);
	strbuf_appends(&sb, " BODY ");
	mime_bodystructure_write(mime, &mime->root, false, &sb);
	strbuf_appends(&sb, ")\r\n");
	check_response("(ENVELOPE BODY)", false, &msg, sb.s);
	/* and without a tree from the caller, parsed on the spot */
	struct imap_fetch_request req;
	struct strbuf out = STRBUF_INIT;
	parse_ok("(ENVELOPE BODY)", false, &req);
	imap_fetch_write(&req, &msg, &out);
	assert_string_equal(out.s, sb.s);
	imap_fetch_request_free(&req);
	strbuf_free(&out);
	strbuf_free(&sb);
	mime_message_free(&mime);
	free(data);
}

static const char multipart_message[] =
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.org>\r\n"
	"Subject: parts\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"part one\r\n"
	"--XX\r\n"
	"Content-Type: text/html\r\n"
	"Content-ID: <x@example.org>\r\n"
	"\r\n"
	"<b>two</b>\r\n"
	"--XX--\r\n";

static void test_write_multipart(void **state)
{
	struct imap_fetch_message msg;
	char *expect;

	(void)state;
	message_init(&msg, multipart_message, strlen(multipart_message));

	expect = literal("* 12 FETCH (BODY[1] ", "part one", 8, ")\r\n");
	check_response("BODY[1]", false, &msg, expect);
	free(expect);
	static const char mime2[] = "Content-Type: text/html\r\n"
				    "Content-ID: <x@example.org>\r\n"
				    "\r\n";
	expect = literal("* 12 FETCH (BODY[2.MIME] ", mime2, strlen(mime2),
			 ")\r\n");
	check_response("BODY.PEEK[2.MIME]", false, &msg, expect);
	free(expect);
	expect = literal("* 12 FETCH (BODY[2]<3> ", "two</b>", 7, ")\r\n");
	check_response("BODY[2]<3.100>", false, &msg, expect);
	free(expect);
	check_response("BODY[2]<300.100>", false, &msg,
		       "* 12 FETCH (BODY[2]<300> \"\")\r\n");
	check_response("BODY[3]", false, &msg, "* 12 FETCH (BODY[3] \"\")\r\n");

	/* BODYSTRUCTURE is the mime module's; FETCH wraps it */
	struct mime_message *mime = mime_parse(msg.data, msg.len);
	struct strbuf sb = STRBUF_INIT;
	strbuf_appends(&sb, "* 12 FETCH (UID 5 BODYSTRUCTURE ");
	mime_bodystructure_write(mime, &mime->root, true, &sb);
	strbuf_appends(&sb, ")\r\n");
	assert_non_null(strcasestr(sb.s, "\"mixed\""));
	check_response("BODYSTRUCTURE", true, &msg, sb.s);
	strbuf_free(&sb);
	mime_message_free(&mime);
}

/* FETCH 1:* FLAGS over 100k messages: linear, and quick. */
static void test_write_many(void **state)
{
	struct imap_fetch_request req;
	struct imap_fetch_message msg;
	struct strbuf out = STRBUF_INIT;
	struct timespec t0, t1;

	(void)state;
	parse_ok("(UID FLAGS)", true, &req);
	message_init(&msg, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 1; i <= 100000; i++) {
		msg.seq = i;
		msg.uid = i * 2;
		msg.flags = i % 32;
		msg.keywords = i % 3 == 0 ? "$Junk" : NULL;
		imap_fetch_write(&req, &msg, &out);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* well under 0.1 s in a normal build; generous for sanitizers */
	assert_true(secs < 5.0);
	assert_non_null(strstr(out.s, "* 100000 FETCH (UID 200000 FLAGS ("));
	assert_int_equal(memcmp(out.s, "* 1 FETCH (UID 2 FLAGS (\\Seen))\r\n",
				33), 0);
	imap_fetch_request_free(&req);
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_simple_items),
		cmocka_unit_test(test_parse_list_order),
		cmocka_unit_test(test_parse_macros),
		cmocka_unit_test(test_parse_uid_command),
		cmocka_unit_test(test_parse_sections),
		cmocka_unit_test(test_parse_part_depth),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_bad_args),
		cmocka_unit_test(test_parse_via_parser),
		cmocka_unit_test(test_flags_write),
		cmocka_unit_test(test_datetime_write),
		cmocka_unit_test(test_datetime_parse),
		cmocka_unit_test(test_datetime_round_trip),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_write_simple_items),
		cmocka_unit_test(test_write_body_whole),
		cmocka_unit_test(test_write_sections),
		cmocka_unit_test(test_write_multipart),
		cmocka_unit_test(test_write_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
