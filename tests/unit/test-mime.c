/* Unit tests for src/mime: part tree, ENVELOPE, BODY/BODYSTRUCTURE,
 * sections, header and body decoding, dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"

/* ---- helpers ---- */

static struct mime_message *parse(const char *s)
{
	return mime_parse(s, strlen(s));
}

static void assert_envelope(const char *msgtext, const char *expected)
{
	struct mime_message *m = parse(msgtext);
	struct strbuf sb = STRBUF_INIT;

	mime_envelope_write(m, &m->root, &sb);
	assert_string_equal(strbuf_str(&sb), expected);
	strbuf_free(&sb);
	mime_message_free(&m);
}

static void assert_bodystructure(const struct mime_message *m, bool extended,
				 const char *expected)
{
	struct strbuf sb = STRBUF_INIT;

	mime_bodystructure_write(m, &m->root, extended, &sb);
	assert_string_equal(strbuf_str(&sb), expected);
	strbuf_free(&sb);
}

/* Parses "1.2.3" plus an optional kind. */
static void section_init(struct mime_section *sec, const char *parts,
			 enum mime_section_kind kind)
{
	memset(sec, 0, sizeof(*sec));
	sec->kind = kind;
	while (parts != NULL && *parts != '\0') {
		sec->parts[sec->part_count++] = (uint32_t)strtoul(parts, (char **)&parts, 10);
		if (*parts == '.')
			parts++;
	}
}

static void assert_section(const struct mime_message *m, const char *parts,
			   enum mime_section_kind kind, const char *expected)
{
	struct mime_section sec;
	struct strbuf sb = STRBUF_INIT;

	section_init(&sec, parts, kind);
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb), expected);
	strbuf_free(&sb);
}

static void assert_decoded(const char *in, const char *expected)
{
	struct strbuf sb = STRBUF_INIT;

	mime_decode_words(in, strlen(in), &sb);
	assert_string_equal(strbuf_str(&sb), expected);
	strbuf_free(&sb);
}

static void assert_fields(const struct mime_message *m, const char *parts,
			  enum mime_section_kind kind, char **fields,
			  size_t count, const char *expected)
{
	struct mime_section sec;
	struct strbuf sb = STRBUF_INIT;

	section_init(&sec, parts, kind);
	sec.fields = fields;
	sec.field_count = count;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb), expected);
	strbuf_free(&sb);
}

static const char *param(const struct mime_part *p, const char *name)
{
	for (size_t i = 0; i < p->param_count; i++) {
		if (strcmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	}
	return NULL;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- messages ---- */

/* RFC 3501 §8's sample FETCH FULL, rebuilt: a 92-line, 3028-octet body. */
static char *rfc3501_sample(void)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_appends(&sb,
		"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
		"From: Terry Gray <gray@cac.washington.edu>\r\n"
		"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
		"To: imap@cac.washington.edu\r\n"
		"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
		"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
		"\r\n");
	for (int i = 0; i < 91; i++)
		strbuf_appends(&sb, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
	strbuf_appends(&sb, "yyyyyyyyyyyyyyyyyyyyyyy\r\n");
	return strbuf_detach(&sb, NULL);
}

static const char mixed_msg[] =
	"From: a@example.com\r\n"
	"Subject: mixed\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"This is the preamble.\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"hello\r\n"
	"world\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=inner\r\n"
	"\r\n"
	"--inner\r\n"
	"\r\n"
	"plain\r\n"
	"--inner\r\n"
	"Content-Type: text/html\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<b>caf=C3=A9</b>=\r\n"
	"!\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"Content-Description: forwarded\r\n"
	"\r\n"
	"From: Bob <bob@example.org>\r\n"
	"Subject: inner\r\n"
	"\r\n"
	"inner body\r\n"
	"--outer\r\n"
	"Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
	"Content-ID: <id1@example.com>\r\n"
	"Content-Language: en, de\r\n"
	"Content-Location: http://example.com/a.bin\r\n"
	"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
	"\r\n"
	"AAEC\r\n"
	"--outer--\r\n"
	"This is the epilogue.\r\n";

/* ---- tests: structure ---- */

static void test_simple(void **state)
{
	static const char msg[] =
		"From: a@example.com\r\n"
		"Subject: hi\r\n"
		"\r\n"
		"line 1\r\n"
		"line 2\r\n";
	struct mime_message *m = parse(msg);
	const struct mime_part *r = &m->root;

	assert_int_equal(r->header_start, 0);
	assert_int_equal(r->header_end, 36);
	assert_int_equal(r->body_start, 36);
	assert_int_equal(r->body_end, strlen(msg));
	assert_int_equal(r->body_lines, 2);
	assert_string_equal(r->type, "text");
	assert_string_equal(r->subtype, "plain");
	assert_string_equal(param(r, "charset"), "us-ascii");
	assert_null(r->encoding);
	assert_int_equal(r->child_count, 0);
	assert_null(r->message);
	/* RFC 2045 §5.2 defaults, body 16 octets in 2 lines. */
	assert_bodystructure(m, false,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 16 2)");
	assert_bodystructure(m, true,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 16 2"
		" NIL NIL NIL NIL)");
	mime_message_free(&m);
	assert_null(m);
}

static void test_rfc3501_sample(void **state)
{
	char *msg = rfc3501_sample();
	struct mime_message *m = parse(msg);
	struct strbuf sb = STRBUF_INIT;

	/* Both strings are RFC 3501 §8's, verbatim. */
	mime_envelope_write(m, &m->root, &sb);
	assert_string_equal(strbuf_str(&sb),
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
		"\"IMAP4rev1 WG mtg summary and minutes\" "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
		"((NIL NIL \"imap\" \"cac.washington.edu\")) "
		"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
		"(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
		"\"<B27397-0100000@cac.washington.edu>\")");
	assert_bodystructure(m, false,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)");
	strbuf_free(&sb);
	mime_message_free(&m);
	free(msg);
}

static void test_multipart_mixed(void **state)
{
	struct mime_message *m = parse(mixed_msg);
	const struct mime_part *r = &m->root;

	assert_string_equal(r->type, "multipart");
	assert_string_equal(r->subtype, "mixed");
	assert_string_equal(param(r, "boundary"), "outer");
	assert_int_equal(r->child_count, 4);

	const struct mime_part *p1 = &r->children[0];
	assert_ptr_equal(p1->parent, r);
	assert_string_equal(p1->type, "text");
	/* The CRLF before the boundary belongs to the boundary. */
	assert_int_equal(p1->body_end - p1->body_start, 12);
	assert_memory_equal(mixed_msg + p1->body_start, "hello\r\nworld", 12);
	assert_int_equal(p1->body_lines, 2);

	const struct mime_part *p2 = &r->children[1];
	assert_string_equal(p2->subtype, "alternative");
	assert_int_equal(p2->child_count, 2);
	assert_ptr_equal(p2->children[1].parent, p2);
	assert_string_equal(p2->children[1].encoding, "quoted-printable");
	/* A part with an empty header gets the defaults. */
	assert_string_equal(p2->children[0].subtype, "plain");
	assert_int_equal(p2->children[0].header_end - p2->children[0].header_start, 2);

	const struct mime_part *p3 = &r->children[2];
	assert_non_null(p3->message);
	assert_ptr_equal(p3->message->parent, p3);
	assert_int_equal(p3->message->header_start, p3->body_start);
	assert_string_equal(p3->content_description, "forwarded");

	const struct mime_part *p4 = &r->children[3];
	assert_string_equal(p4->disposition, "attachment");
	assert_int_equal(p4->language_count, 2);
	assert_string_equal(p4->languages[1], "de");
	assert_string_equal(p4->location, "http://example.com/a.bin");
	assert_string_equal(p4->content_id, "<id1@example.com>");
	assert_int_equal(p4->body_end - p4->body_start, 4);

	assert_bodystructure(m, true,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 2 NIL NIL NIL NIL)"
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"us-ascii\") NIL NIL \"QUOTED-PRINTABLE\" 20 2 NIL NIL NIL NIL)"
		" \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded\" \"7BIT\" 57"
		" (NIL \"inner\" ((\"Bob\" NIL \"bob\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.org\"))"
		" ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL NIL NIL)"
		" (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL)"
		" 4 NIL NIL NIL NIL)"
		"(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"a.bin\") \"<id1@example.com>\" NIL"
		" \"BASE64\" 4 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"ATTACHMENT\" (\"FILENAME\" \"a.bin\"))"
		" (\"en\" \"de\") \"http://example.com/a.bin\")"
		" \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)");
	assert_bodystructure(m, false,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 2)"
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"us-ascii\") NIL NIL \"QUOTED-PRINTABLE\" 20 2) \"ALTERNATIVE\")"
		"(\"MESSAGE\" \"RFC822\" NIL NIL \"forwarded\" \"7BIT\" 57"
		" (NIL \"inner\" ((\"Bob\" NIL \"bob\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.org\"))"
		" ((\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL NIL NIL)"
		" (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1) 4)"
		"(\"APPLICATION\" \"OCTET-STREAM\" (\"NAME\" \"a.bin\") \"<id1@example.com>\" NIL"
		" \"BASE64\" 4) \"MIXED\")");
	mime_message_free(&m);
}

static void test_bare_lf(void **state)
{
	static const char msg[] =
		"Subject: lf\n"
		"Content-Type: multipart/mixed;\n"
		"\tboundary=zz\n"
		"\n"
		"--zz\n"
		"Content-Type: text/plain\n"
		"\n"
		"one\n"
		"two\n"
		"--zz\n"
		"\n"
		"three\n"
		"--zz--\n";
	struct mime_message *m = parse(msg);

	assert_int_equal(m->root.child_count, 2);
	assert_memory_equal(msg + m->root.children[0].body_start, "one\ntwo", 7);
	assert_bodystructure(m, false,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 7 2)"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1) \"MIXED\")");
	assert_section(m, "1", MIME_SECTION_MIME, "Content-Type: text/plain\n\n");
	char *ct[] = { "content-type" };
	assert_fields(m, "", MIME_SECTION_HEADER_FIELDS_NOT, ct, 1,
		      "Subject: lf\n\n");
	assert_fields(m, "", MIME_SECTION_HEADER_FIELDS, ct, 1,
		      "Content-Type: multipart/mixed;\n\tboundary=zz\n\n");
	mime_message_free(&m);
}

static void test_message_rfc822_single(void **state)
{
	/* A message/rfc822 top level whose encapsulated message is not
	 * multipart: 1 is the encapsulated message, 1.1 its body. */
	static const char msg[] =
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"Subject: in\r\n"
		"\r\n"
		"body\r\n";
	struct mime_message *m = parse(msg);

	assert_non_null(m->root.message);
	assert_section(m, "1", MIME_SECTION_ALL, "Subject: in\r\n\r\nbody\r\n");
	assert_section(m, "1.1", MIME_SECTION_ALL, "body\r\n");
	assert_section(m, "1", MIME_SECTION_HEADER, "Subject: in\r\n\r\n");
	assert_section(m, "1", MIME_SECTION_TEXT, "body\r\n");
	assert_section(m, "1.2", MIME_SECTION_ALL, "");
	assert_section(m, "1.1.1", MIME_SECTION_ALL, "");
	mime_message_free(&m);
}

static void test_digest_default(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/digest; boundary=d\r\n"
		"\r\n"
		"--d\r\n"
		"\r\n"
		"Subject: one\r\n"
		"\r\n"
		"1\r\n"
		"--d\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"2\r\n"
		"--d--\r\n";
	struct mime_message *m = parse(msg);

	assert_int_equal(m->root.child_count, 2);
	/* RFC 2046 §5.1.5 */
	assert_string_equal(m->root.children[0].type, "message");
	assert_string_equal(m->root.children[0].subtype, "rfc822");
	assert_non_null(m->root.children[0].message);
	assert_section(m, "1", MIME_SECTION_HEADER, "Subject: one\r\n\r\n");
	assert_string_equal(m->root.children[1].type, "text");
	mime_message_free(&m);
}

static void test_rfc2231(void **state)
{
	static const char msg[] =
		"Content-Type: application/x-stuff;\r\n"
		" title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
		" title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
		" title*2=\"isn't it!\"\r\n"
		"Content-Disposition: attachment; filename=\"fallback.txt\";\r\n"
		" filename*=iso-8859-1'de'na%EFve%20f%FCr.txt; size=12\r\n"
		"\r\n"
		"x";
	struct mime_message *m = parse(msg);
	const struct mime_part *r = &m->root;

	/* RFC 2231 §4.1's example, joined. */
	assert_int_equal(r->param_count, 1);
	assert_string_equal(r->params[0].name, "title");
	assert_string_equal(r->params[0].value,
			    "This is even more ***fun*** isn't it!");
	/* The charset-tagged form wins over the plain one, in its place. */
	assert_int_equal(r->disposition_param_count, 2);
	assert_string_equal(r->disposition_params[0].name, "filename");
	assert_string_equal(r->disposition_params[0].value,
			    "na\xC3\xAFve f\xC3\xBCr.txt");
	assert_string_equal(r->disposition_params[1].name, "size");
	assert_bodystructure(m, true,
		"(\"APPLICATION\" \"X-STUFF\" (\"TITLE\" \"This is even more ***fun*** isn't it!\")"
		" NIL NIL \"7BIT\" 1 NIL (\"ATTACHMENT\" (\"FILENAME\" {15}\r\nna\xC3\xAFve f\xC3\xBCr.txt"
		" \"SIZE\" \"12\")) NIL NIL)");
	mime_message_free(&m);
}

static void test_content_type_syntax(void **state)
{
	static const char msg[] =
		"Content-Type: (comment) Text / HTML (x) ; CharSet = \"UTF-8\" (c);"
		" format=flowed ; junk ; x=\"a\\\"b\"; boundary=----=_Part_1\r\n"
		"\r\n";
	struct mime_message *m = parse(msg);
	const struct mime_part *r = &m->root;

	assert_string_equal(r->type, "text");
	assert_string_equal(r->subtype, "html");
	assert_string_equal(param(r, "charset"), "UTF-8");
	assert_string_equal(param(r, "format"), "flowed");
	assert_string_equal(param(r, "x"), "a\"b");
	assert_string_equal(param(r, "boundary"), "----=_Part_1");
	mime_message_free(&m);

	/* Invalid: RFC 2045 §5.2 default. */
	m = parse("Content-Type: garbage\r\n\r\nbody");
	assert_string_equal(m->root.type, "text");
	assert_string_equal(m->root.subtype, "plain");
	assert_string_equal(param(&m->root, "charset"), "us-ascii");
	mime_message_free(&m);
}

static void test_broken_boundaries(void **state)
{
	/* No final boundary. */
	struct mime_message *m = parse(
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n");
	assert_int_equal(m->root.child_count, 2);
	assert_section(m, "2", MIME_SECTION_ALL, "two\r\n");
	mime_message_free(&m);

	/* Trailing whitespace after boundaries. */
	m = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		  "--b \t\r\n\r\none\r\n--b--  \r\n");
	assert_int_equal(m->root.child_count, 1);
	assert_section(m, "1", MIME_SECTION_ALL, "one");
	mime_message_free(&m);

	/* A line that only starts with the boundary is not one. */
	m = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		  "--b\r\n\r\none\r\n--bx\r\n--b--\r\n");
	assert_int_equal(m->root.child_count, 1);
	assert_section(m, "1", MIME_SECTION_ALL, "one\r\n--bx");
	mime_message_free(&m);

	/* The inner multipart's close delimiter is missing: the outer
	 * boundary ends it. */
	m = parse("Content-Type: multipart/mixed; boundary=out\r\n\r\n"
		  "--out\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n"
		  "--in\r\n\r\na\r\n--in\r\n\r\nb\r\n"
		  "--out\r\n\r\nc\r\n--out--\r\n");
	assert_int_equal(m->root.child_count, 2);
	assert_int_equal(m->root.children[0].child_count, 2);
	assert_section(m, "1.2", MIME_SECTION_ALL, "b");
	assert_section(m, "2", MIME_SECTION_ALL, "c");
	mime_message_free(&m);

	/* Boundary never seen: a multipart without parts; BODYSTRUCTURE
	 * still needs one body. */
	m = parse("Content-Type: multipart/mixed; boundary=nope\r\n\r\nbody\r\n");
	assert_int_equal(m->root.child_count, 0);
	assert_bodystructure(m, false,
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) \"MIXED\")");
	assert_section(m, "1", MIME_SECTION_ALL, "");
	mime_message_free(&m);

	/* No boundary parameter at all: an opaque body. */
	m = parse("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n");
	assert_string_equal(m->root.type, "application");
	assert_bodystructure(m, false,
		"(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\" 13)");
	mime_message_free(&m);

	/* A boundary line right after a part's header, without the blank
	 * line. */
	m = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		  "--b\r\nContent-Type: text/plain\r\n--b\r\n\r\nx\r\n--b--\r\n");
	assert_int_equal(m->root.child_count, 2);
	assert_int_equal(m->root.children[0].body_end, m->root.children[0].body_start);
	/* The CRLF before "--b" belongs to the delimiter (RFC 2046
	 * §5.1.1), not to the header. */
	assert_section(m, "1", MIME_SECTION_MIME, "Content-Type: text/plain");
	assert_section(m, "2", MIME_SECTION_ALL, "x");
	mime_message_free(&m);
}

static void test_boundary_prefix(void **state)
{
	/* The inner boundary is a prefix of the outer one (and the other
	 * way round for the third level): exact matching keeps them apart. */
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=\"abc-outer\"\r\n"
		"\r\n"
		"--abc-outer\r\n"
		"Content-Type: multipart/alternative; boundary=\"abc\"\r\n"
		"\r\n"
		"--abc\r\n"
		"\r\n"
		"one\r\n"
		"--abc\r\n"
		"Content-Type: multipart/related; boundary=\"abc-outer-x\"\r\n"
		"\r\n"
		"--abc-outer-x\r\n"
		"\r\n"
		"two\r\n"
		"--abc-outer-x--\r\n"
		"--abc--\r\n"
		"--abc-outer\r\n"
		"\r\n"
		"three\r\n"
		"--abc-outer--\r\n";
	struct mime_message *m = parse(msg);

	assert_int_equal(m->root.child_count, 2);
	assert_int_equal(m->root.children[0].child_count, 2);
	assert_int_equal(m->root.children[0].children[1].child_count, 1);
	assert_section(m, "1.1", MIME_SECTION_ALL, "one");
	assert_section(m, "1.2.1", MIME_SECTION_ALL, "two");
	assert_section(m, "2", MIME_SECTION_ALL, "three");
	mime_message_free(&m);
}

static void test_empty_values(void **state)
{
	/* Empty fields: empty strings, never garbage. */
	struct mime_message *m = parse(
		"Subject:\r\nContent-Location:   \r\nContent-ID:\r\n"
		"Content-Description:\r\nContent-MD5:\r\nContent-Language:\r\n"
		"Content-Transfer-Encoding:\r\nContent-Disposition:\r\n\r\n");
	struct strbuf sb = STRBUF_INIT;

	assert_true(mime_header_raw(m, &m->root, "subject", &sb));
	assert_string_equal(strbuf_str(&sb), "");
	strbuf_free(&sb);
	assert_true(mime_header_decoded(m, &m->root, "subject", &sb));
	assert_string_equal(strbuf_str(&sb), "");
	strbuf_free(&sb);
	assert_string_equal(m->root.location, "");
	assert_string_equal(m->root.content_id, "");
	assert_null(m->root.encoding);
	assert_null(m->root.disposition);
	assert_int_equal(m->root.language_count, 0);
	assert_bodystructure(m, true,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") \"\" \"\" \"7BIT\" 0 0"
		" \"\" NIL NIL \"\")");
	assert_envelope("Subject:\r\nFrom:\r\nSender: \r\nMessage-ID:\r\n\r\n",
			"(NIL \"\" NIL NIL NIL NIL NIL NIL NIL \"\")");
	mime_message_free(&m);
}

static void test_missing_mime_version(void **state)
{
	/* Like deployed servers, Content-Type counts without MIME-Version. */
	struct mime_message *m = parse(
		"Subject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
		"--q\r\n\r\na\r\n--q\r\n\r\nb\r\n--q--\r\n");
	assert_int_equal(m->root.child_count, 2);
	mime_message_free(&m);
}

static void test_empty_and_headerless(void **state)
{
	struct mime_message *m = mime_parse("", 0);
	assert_int_equal(m->root.header_end, 0);
	assert_int_equal(m->root.body_end, 0);
	assert_bodystructure(m, true,
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)");
	assert_envelope("", "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	assert_section(m, "", MIME_SECTION_ALL, "");
	assert_section(m, "1", MIME_SECTION_ALL, "");
	mime_message_free(&m);

	m = mime_parse(NULL, 0);
	assert_int_equal(m->len, 0);
	mime_message_free(&m);

	/* Header only, no blank line: all header, empty body. */
	m = parse("Subject: a\r\nFrom: b@c");
	assert_int_equal(m->root.header_end, 21);
	assert_int_equal(m->root.body_start, 21);
	assert_int_equal(m->root.body_end, 21);
	assert_section(m, "", MIME_SECTION_HEADER, "Subject: a\r\nFrom: b@c");
	/* No body and no blank line: no blank line appended (§6.4.5). */
	struct mime_section sec;
	section_init(&sec, "", MIME_SECTION_HEADER_FIELDS);
	char *fields[] = { "from" };
	sec.fields = fields;
	sec.field_count = 1;
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "From: b@c\r\n");
	strbuf_free(&sb);
	mime_message_free(&m);

	/* No header at all: the first line is no field, so it is body. */
	m = parse("just text\r\nmore: text\r\n");
	assert_int_equal(m->root.header_end, 0);
	assert_int_equal(m->root.body_start, 0);
	assert_int_equal(m->root.body_lines, 2);
	mime_message_free(&m);

	/* 8-bit bytes in a field name do not end the header. */
	m = parse("X-T\xC3\xA9st: 1\r\nSubject: s\r\n\r\nbody");
	assert_int_equal(m->root.header_end, 26);
	assert_section(m, "", MIME_SECTION_TEXT, "body");
	mime_message_free(&m);

	/* A header ended by a non-field line. */
	m = parse("Subject: a\r\nthis is body\r\n");
	assert_int_equal(m->root.header_end, 12);
	assert_section(m, "", MIME_SECTION_TEXT, "this is body\r\n");
	mime_message_free(&m);
}

static char *deep_message(int depth)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_appends(&sb, "Subject: deep\r\n");
	for (int i = 0; i < depth; i++) {
		strbuf_printf(&sb, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n"
			      "--b%d\r\n", i, i);
	}
	strbuf_appends(&sb, "Content-Type: text/plain\r\n\r\nleaf\r\n");
	for (int i = depth - 1; i >= 0; i--)
		strbuf_printf(&sb, "--b%d--\r\n", i);
	return strbuf_detach(&sb, NULL);
}

static void test_deep_nesting(void **state)
{
	char *msg = deep_message(1000);
	double t0 = now_seconds();
	struct mime_message *m = parse(msg);
	double t1 = now_seconds();

	assert_true(t1 - t0 < 1.0);
	size_t depth = 0;
	const struct mime_part *p = &m->root;
	while (p->child_count > 0) {
		assert_int_equal(p->child_count, 1);
		p = &p->children[0];
		depth++;
	}
	assert_int_equal(depth, MIME_MAX_DEPTH - 1);
	/* The deepest part is opaque and holds everything below it. */
	assert_string_equal(p->type, "application");
	assert_string_equal(p->subtype, "octet-stream");

	struct strbuf sb = STRBUF_INIT;
	mime_bodystructure_write(m, &m->root, true, &sb);
	int level = 0, max = 0;
	for (size_t i = 0; i < sb.len; i++) {
		if (sb.s[i] == '(' && ++level > max)
			max = level;
		if (sb.s[i] == ')')
			level--;
	}
	assert_int_equal(level, 0);
	assert_true(max >= MIME_MAX_DEPTH);
	strbuf_reset(&sb);

	struct mime_section sec;
	section_init(&sec, "", MIME_SECTION_MIME);
	sec.part_count = MIME_MAX_DEPTH - 1;
	for (size_t i = 0; i < sec.part_count; i++)
		sec.parts[i] = 1;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb),
			    "Content-Type: multipart/mixed; boundary=\"b63\"\r\n\r\n");
	strbuf_reset(&sb);
	sec.kind = MIME_SECTION_ALL;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_memory_equal(sb.s, "--b63\r\nContent-Type: multipart/mixed; boundary=\"b64\"", 52);
	strbuf_free(&sb);
	mime_message_free(&m);
	free(msg);

	/* message/rfc822 nested deeply. */
	struct strbuf d = STRBUF_INIT;
	for (int i = 0; i < 200; i++)
		strbuf_appends(&d, "Content-Type: message/rfc822\r\n\r\n");
	strbuf_appends(&d, "Subject: bottom\r\n\r\nx\r\n");
	m = mime_parse(d.s, d.len);
	depth = 0;
	p = &m->root;
	while (p->message != NULL) {
		p = p->message;
		depth++;
	}
	assert_int_equal(depth, MIME_MAX_DEPTH - 1);
	mime_bodystructure_write(m, &m->root, true, &sb);
	strbuf_free(&sb);
	mime_message_free(&m);
	strbuf_free(&d);
}

static void test_many_parts(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_appends(&sb, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < MIME_MAX_PARTS + 50; i++)
		strbuf_appends(&sb, "--p\r\n\r\nx\r\n");
	strbuf_appends(&sb, "--p--\r\n");
	struct mime_message *m = mime_parse(sb.s, sb.len);
	assert_true(m->root.child_count < MIME_MAX_PARTS);
	assert_true(m->root.child_count > MIME_MAX_PARTS - 10);
	mime_message_free(&m);
	strbuf_free(&sb);
}

static void test_large_message(void **state)
{
	/* 50 MB: a text part, a big base64 attachment, and lots of lines
	 * that start with dashes under several open boundaries. */
	const size_t target = 50u * 1024 * 1024;
	struct strbuf sb = STRBUF_INIT;

	strbuf_grow(&sb, target + 4096);
	strbuf_appends(&sb, "Subject: big\r\nContent-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n"
		       "--=_outer\r\nContent-Type: multipart/mixed; boundary=\"=_inner\"\r\n\r\n"
		       "--=_inner\r\nContent-Type: text/plain\r\n\r\n");
	for (int i = 0; i < 100000; i++)
		strbuf_appends(&sb, "-- =_inner-not-quite\r\n--=_outerX\r\n");
	strbuf_appends(&sb, "--=_inner\r\nContent-Type: application/octet-stream\r\n"
		       "Content-Transfer-Encoding: base64\r\n\r\n");
	while (sb.len < target)
		strbuf_appends(&sb, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2\r\n");
	strbuf_appends(&sb, "--=_inner--\r\n--=_outer--\r\n");

	double t0 = now_seconds();
	struct mime_message *m = mime_parse(sb.s, sb.len);
	double t1 = now_seconds();
	/* Generous for sanitizer builds; unoptimised it is ~0.1 s. */
	assert_true(t1 - t0 < 3.0);
	assert_int_equal(m->root.child_count, 1);
	assert_int_equal(m->root.children[0].child_count, 2);
	assert_true(m->root.children[0].children[1].body_lines > 700000);
	mime_message_free(&m);
	strbuf_free(&sb);
}

/* ---- tests: ENVELOPE ---- */

static void test_envelope_addresses(void **state)
{
	/* Groups (RFC 3501 §7.4.2: start (NIL NIL "name" NIL), end
	 * (NIL NIL NIL NIL)), an obsolete route, quoted display names with
	 * escapes and comments, a quoted local part. */
	assert_envelope(
		"From: \"Doe, \\\"J\\\"\" (comment) <john.doe@example.com>\r\n"
		"To: undisclosed-recipients:;\r\n"
		"Cc: Team: a@x.org, \"B B\" <b@x.org>; , c@y.org\r\n"
		"Bcc: <@relay1.example,@relay2.example:joe@z.example>\r\n"
		"Reply-To: \"quoted local\"@example.com (The Name)\r\n",
		"(NIL NIL "
		"((\"Doe, \\\"J\\\"\" NIL \"john.doe\" \"example.com\")) "
		"((\"Doe, \\\"J\\\"\" NIL \"john.doe\" \"example.com\")) "
		"((\"The Name\" NIL \"\\\"quoted local\\\"\" \"example.com\")) "
		"((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
		"((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(\"B B\" NIL \"b\" \"x.org\")"
		"(NIL NIL NIL NIL)(NIL NIL \"c\" \"y.org\")) "
		"((NIL \"@relay1.example,@relay2.example\" \"joe\" \"z.example\")) "
		"NIL NIL)");
}

static void test_envelope_bad_input(void **state)
{
	assert_envelope(
		"From: John Doe john@example.com\r\n"
		"To: nodomain, <>, Jane <jane@x.org, <jim@y.org> junk\r\n"
		"Cc: ,,,\r\n"
		"Sender: \r\n"
		"Reply-To: Group: ;\r\n",
		"(NIL NIL "
		"((\"John Doe\" NIL \"john\" \"example.com\")) "
		"((\"John Doe\" NIL \"john\" \"example.com\")) "
		"((NIL NIL \"Group\" NIL)(NIL NIL NIL NIL)) "
		"((NIL NIL \"nodomain\" \"\")(NIL NIL \"\" \"\")(\"Jane\" NIL \"jane\" \"x.org\")"
		"(NIL NIL \"jim\" \"y.org\")) "
		"NIL NIL NIL NIL)");
}

static void test_envelope_strings(void **state)
{
	/* Raw (not RFC 2047-decoded), unfolded; quotes escaped; 8-bit and
	 * CR/LF force a literal; sender/reply-to default to from. */
	assert_envelope(
		"Subject: =?utf-8?q?caf=C3=A9?= \"quoted\"\r\n"
		"  and folded\r\n"
		"From: =?iso-8859-1?q?J=F6rg?= <j@example.de>\r\n"
		"In-Reply-To: <a@b>\r\n"
		"Message-ID: <c@d>\r\n"
		"Date: 7 Feb 94 21:52 EST\r\n",
		"(\"7 Feb 94 21:52 EST\" \"=?utf-8?q?caf=C3=A9?= \\\"quoted\\\"  and folded\" "
		"((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"example.de\")) "
		"((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"example.de\")) "
		"((\"=?iso-8859-1?q?J=F6rg?=\" NIL \"j\" \"example.de\")) "
		"NIL NIL NIL \"<a@b>\" \"<c@d>\")");
	assert_envelope(
		"Subject: caf\xC3\xA9\r\n"
		"From: J\xC3\xB6rg <j@example.de>\r\n"
		"Sender: s@example.de\r\n",
		"(NIL {5}\r\ncaf\xC3\xA9 "
		"(({5}\r\nJ\xC3\xB6rg NIL \"j\" \"example.de\")) "
		"((NIL NIL \"s\" \"example.de\")) "
		"(({5}\r\nJ\xC3\xB6rg NIL \"j\" \"example.de\")) "
		"NIL NIL NIL NIL NIL)");
	/* The encapsulated message's envelope. */
	struct mime_message *m = parse(mixed_msg);
	struct strbuf sb = STRBUF_INIT;
	mime_envelope_write(m, m->root.children[2].message, &sb);
	assert_string_equal(strbuf_str(&sb),
		"(NIL \"inner\" ((\"Bob\" NIL \"bob\" \"example.org\")) "
		"((\"Bob\" NIL \"bob\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.org\")) "
		"NIL NIL NIL NIL NIL)");
	strbuf_free(&sb);
	mime_message_free(&m);
}

/* ---- tests: sections ---- */

static void test_sections(void **state)
{
	struct mime_message *m = parse(mixed_msg);
	struct mime_section sec;
	struct strbuf sb = STRBUF_INIT;

	assert_section(m, "", MIME_SECTION_ALL, mixed_msg);
	assert_section(m, "", MIME_SECTION_HEADER,
		"From: a@example.com\r\n"
		"Subject: mixed\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
		"\r\n");
	assert_section(m, "1", MIME_SECTION_ALL, "hello\r\nworld");
	assert_section(m, "1", MIME_SECTION_MIME,
		       "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	assert_section(m, "2.2", MIME_SECTION_MIME,
		       "Content-Type: text/html\r\n"
		       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	assert_section(m, "2.2", MIME_SECTION_ALL, "<b>caf=C3=A9</b>=\r\n!");
	assert_section(m, "2.1", MIME_SECTION_ALL, "plain");
	assert_section(m, "3", MIME_SECTION_ALL,
		       "From: Bob <bob@example.org>\r\nSubject: inner\r\n\r\ninner body");
	assert_section(m, "3", MIME_SECTION_HEADER,
		       "From: Bob <bob@example.org>\r\nSubject: inner\r\n\r\n");
	assert_section(m, "3", MIME_SECTION_TEXT, "inner body");
	/* Part 1 of the non-multipart encapsulated message: its body. */
	assert_section(m, "3.1", MIME_SECTION_ALL, "inner body");
	assert_section(m, "4", MIME_SECTION_ALL, "AAEC");
	/* Nonexistent parts and HEADER/TEXT of a non-message part: empty. */
	assert_section(m, "5", MIME_SECTION_ALL, "");
	assert_section(m, "2.3", MIME_SECTION_ALL, "");
	assert_section(m, "1.1", MIME_SECTION_ALL, "");
	assert_section(m, "1", MIME_SECTION_TEXT, "");
	assert_section(m, "0", MIME_SECTION_ALL, "");

	/* MIME needs a part number. */
	section_init(&sec, "", MIME_SECTION_MIME);
	assert_int_equal(mime_section_fetch(m, &sec, &sb), -1);
	assert_int_equal(sb.len, 0);

	/* HEADER.FIELDS: case-insensitive names, original order, blank
	 * line included. */
	char *fields[] = { "SUBJECT", "from", "x-absent" };
	section_init(&sec, "", MIME_SECTION_HEADER_FIELDS);
	sec.fields = fields;
	sec.field_count = 3;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb),
			    "From: a@example.com\r\nSubject: mixed\r\n\r\n");
	strbuf_reset(&sb);

	sec.kind = MIME_SECTION_HEADER_FIELDS_NOT;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb),
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n");
	strbuf_reset(&sb);

	/* 3.HEADER.FIELDS addresses the encapsulated message. */
	section_init(&sec, "3", MIME_SECTION_HEADER_FIELDS);
	sec.fields = fields;
	sec.field_count = 1;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "Subject: inner\r\n\r\n");
	strbuf_reset(&sb);

	/* Nothing matches: only the blank line. */
	char *none[] = { "x-none" };
	section_init(&sec, "", MIME_SECTION_HEADER_FIELDS);
	sec.fields = none;
	sec.field_count = 1;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb), "\r\n");
	strbuf_free(&sb);
	mime_message_free(&m);

	/* Folded fields come out whole; a single-part message's part 1 is
	 * its body and 1.MIME its header. */
	static const char simple[] =
		"Subject: a\r\n  folded\r\nTo: x@y\r\nsubject: again\r\n\r\nbody";
	m = parse(simple);
	char *subj[] = { "subject" };
	section_init(&sec, "", MIME_SECTION_HEADER_FIELDS);
	sec.fields = subj;
	sec.field_count = 1;
	assert_int_equal(mime_section_fetch(m, &sec, &sb), 0);
	assert_string_equal(strbuf_str(&sb),
			    "Subject: a\r\n  folded\r\nsubject: again\r\n\r\n");
	strbuf_free(&sb);
	assert_section(m, "1", MIME_SECTION_ALL, "body");
	assert_section(m, "1", MIME_SECTION_MIME,
		       "Subject: a\r\n  folded\r\nTo: x@y\r\nsubject: again\r\n\r\n");
	assert_section(m, "2", MIME_SECTION_ALL, "");
	assert_section(m, "", MIME_SECTION_TEXT, "body");
	mime_message_free(&m);
}

/* ---- tests: header decoding ---- */

static void test_encoded_words(void **state)
{
	assert_decoded("=?UTF-8?B?w6lsw6h2ZQ==?=", "\xC3\xA9l\xC3\xA8ve");
	assert_decoded("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xC3\xA9 Pirard");
	/* KOI8-R "Привет" */
	assert_decoded("=?koi8-r?B?8NLJ18XU?=",
		       "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");
	/* RFC 2047 §8 examples */
	assert_decoded("(=?ISO-8859-1?Q?a?= b)", "(a b)");
	assert_decoded("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)");
	assert_decoded("(=?ISO-8859-1?Q?a?=  \t =?ISO-8859-1?Q?b?=)", "(ab)");
	assert_decoded("(=?ISO-8859-1?Q?a_b?=)", "(a b)");
	assert_decoded("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)");
	/* A UTF-8 character split across two words. */
	assert_decoded("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=", "caf\xC3\xA9");
	/* RFC 2231 §5 language suffix */
	assert_decoded("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore");
	/* Not encoded-words: kept as they are. */
	assert_decoded("=?utf-8?x?abc?=", "=?utf-8?x?abc?=");
	assert_decoded("a =?utf-8?q?unterminated", "a =?utf-8?q?unterminated");
	assert_decoded("=?", "=?");
	assert_decoded("", "");
	/* Unknown charset: treated as UTF-8; invalid bytes replaced. */
	assert_decoded("=?x-nonesuch?q?ok=FF?=", "ok\xEF\xBF\xBD");
	/* Raw 8-bit in a header: valid UTF-8 kept, the rest replaced. */
	assert_decoded("caf\xC3\xA9 caf\xE9", "caf\xC3\xA9 caf\xEF\xBF\xBD");

	struct mime_message *m = parse(
		"Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
		" =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\r\n"
		"From: =?koi8-r?B?8NLJ18XU?= <p@example.ru>\r\n\r\n");
	struct strbuf sb = STRBUF_INIT;
	assert_true(mime_header_decoded(m, &m->root, "SUBJECT", &sb));
	assert_string_equal(strbuf_str(&sb),
			    "If you can read this you understand the example.");
	strbuf_reset(&sb);
	assert_true(mime_header_raw(m, &m->root, "subject", &sb));
	assert_string_equal(strbuf_str(&sb),
		"=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= "
		"=?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=");
	strbuf_reset(&sb);
	assert_false(mime_header_raw(m, &m->root, "cc", &sb));
	mime_headers_decoded(m, &m->root, &sb);
	assert_string_equal(strbuf_str(&sb),
		"Subject: If you can read this you understand the example.\n"
		"From: \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 <p@example.ru>\n");
	strbuf_free(&sb);
	mime_message_free(&m);
}

static void test_8bit_headers(void **state)
{
	static const char msg[] =
		"Subject: Gr\xFC\xDF""e\r\n"
		"From: M\xC3\xBCller <m@example.de>\r\n"
		"Content-Type: text/plain; name=\"\xC3\xA4.txt\"\r\n"
		"\r\n"
		"x\r\n";
	struct mime_message *m = parse(msg);
	struct strbuf sb = STRBUF_INIT;

	assert_string_equal(param(&m->root, "name"), "\xC3\xA4.txt");
	assert_true(mime_header_decoded(m, &m->root, "subject", &sb));
	assert_string_equal(strbuf_str(&sb), "Gr\xEF\xBF\xBD\xEF\xBF\xBD""e");
	strbuf_reset(&sb);
	mime_envelope_write(m, &m->root, &sb);
	assert_string_equal(strbuf_str(&sb),
		"(NIL {5}\r\nGr\xFC\xDF""e "
		"(({7}\r\nM\xC3\xBCller NIL \"m\" \"example.de\")) "
		"(({7}\r\nM\xC3\xBCller NIL \"m\" \"example.de\")) "
		"(({7}\r\nM\xC3\xBCller NIL \"m\" \"example.de\")) NIL NIL NIL NIL NIL)");
	strbuf_reset(&sb);
	mime_bodystructure_write(m, &m->root, false, &sb);
	assert_string_equal(strbuf_str(&sb),
		"(\"TEXT\" \"PLAIN\" (\"NAME\" {6}\r\n\xC3\xA4.txt \"CHARSET\" \"us-ascii\")"
		" NIL NIL \"7BIT\" 3 1)");
	strbuf_free(&sb);
	mime_message_free(&m);
}

/* ---- tests: body text ---- */

static void test_body_text(void **state)
{
	static const char msg[] =
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
		"caf=E9 =\r\nna=EFve  \r\nend=3D\r\n"
		"--b\r\nContent-Type: text/plain; charset=koi8-r\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\n"
		"8NLJ\r\n18XU\r\n"
		"--b\r\nContent-Type: image/png\r\n"
		"Content-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n"
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
		"bad \xFF byte\r\n"
		"--b\r\nContent-Type: text/plain; charset=x-unknown-thing\r\n\r\n"
		"plain\r\n"
		"--b\r\nContent-Type: message/rfc822\r\n\r\n"
		"Subject: in\r\n\r\ninner text\r\n"
		"--b--\r\n";
	struct mime_message *m = parse(msg);
	struct strbuf sb = STRBUF_INIT;

	mime_body_text(m, &sb);
	assert_string_equal(strbuf_str(&sb),
		"caf\xC3\xA9 na\xC3\xAFve\r\nend=\n"
		"\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82\n"
		"bad \xEF\xBF\xBD byte\n"
		"plain\n"
		/* the encapsulated header is body text of the outer part */
		"Subject: in\n"
		"inner text");
	strbuf_free(&sb);
	mime_message_free(&m);
}

/* ---- tests: dates ---- */

static void assert_date(const char *s, time_t expected, int expected_tz)
{
	time_t t = 0;
	int tz = 12345;

	assert_int_equal(mime_parse_date(s, &t, &tz), 0);
	assert_int_equal((long long)t, (long long)expected);
	assert_int_equal(tz, expected_tz);
}

static void test_dates(void **state)
{
	time_t t;
	int tz;

	/* 1994-02-08 05:52:25 UTC */
	assert_date("Mon, 7 Feb 1994 21:52:25 -0800", 760686745, -480);
	assert_date("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -480);
	assert_date("7 Feb 1994 21:52:25 -0800", 760686745, -480);
	assert_date("  Mon ,  7  Feb  1994  21:52:25  -0800  ", 760686745, -480);
	assert_date("Mon, 07 Feb 94 21:52:25 PST", 760686745, -480);
	assert_date("Mon, 7 Feb 94 21:52 PST", 760686720, -480);
	assert_date("Mon, 8 Feb 1994 05:52:25 GMT", 760686745, 0);
	assert_date("8 Feb 1994 05:52:25 UT", 760686745, 0);
	assert_date("8 Feb 1994 05:52:25 Z", 760686745, 0);
	assert_date("8 Feb 1994 00:52:25 EST", 760686745, -300);
	assert_date("8 Feb 1994 01:52:25 EDT", 760686745, -240);
	assert_date("8 (c) Feb (c) 1994 (c) 05:52:25 (c) +0000 (c)", 760686745, 0);
	assert_date("8-Feb-1994 07:22:25 +0130", 760686745, 90);
	assert_date("8 February 1994 05:52:25 +0000", 760686745, 0);
	assert_date("Tue Feb  8 05:52:25 1994", 760686745, 0);
	assert_date("8 Feb 1994 05:52:25", 760686745, 0);
	/* RFC 5322 §4.3: 2-digit years below 50 are 20xx, 3-digit + 1900 */
	assert_date("1 Jan 49 00:00:00 +0000", 2493072000, 0);
	assert_date("1 Jan 50 00:00:00 +0000", -631152000, 0);
	assert_date("1 Jan 100 00:00:00 +0000", 946684800, 0);
	assert_date("29 Feb 2000 12:00:00 +0000", 951825600, 0);
	assert_date("1 Jan 1970 00:00:00 +0000", 0, 0);

	assert_int_equal(mime_parse_date("", &t, &tz), -1);
	assert_int_equal(mime_parse_date(NULL, &t, &tz), -1);
	assert_int_equal(mime_parse_date("garbage", &t, &tz), -1);
	assert_int_equal(mime_parse_date("30 Feb 2001 00:00:00 +0000", &t, &tz), -1);
	assert_int_equal(mime_parse_date("1 Foo 2001 00:00:00 +0000", &t, &tz), -1);
	assert_int_equal(mime_parse_date("1 Jan 2001 25:00:00 +0000", &t, &tz), -1);
	assert_int_equal(mime_parse_date("1 Jan 2001 10:00:00 +0075", &t, &tz), -1);
	assert_int_equal(mime_parse_date("1 Jan 20011 10:00:00 +0000", &t, &tz), -1);
	assert_int_equal(mime_parse_date("Mon,", &t, &tz), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_rfc3501_sample),
		cmocka_unit_test(test_multipart_mixed),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_message_rfc822_single),
		cmocka_unit_test(test_digest_default),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_content_type_syntax),
		cmocka_unit_test(test_broken_boundaries),
		cmocka_unit_test(test_boundary_prefix),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_missing_mime_version),
		cmocka_unit_test(test_empty_and_headerless),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_large_message),
		cmocka_unit_test(test_envelope_addresses),
		cmocka_unit_test(test_envelope_bad_input),
		cmocka_unit_test(test_envelope_strings),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_8bit_headers),
		cmocka_unit_test(test_body_text),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
