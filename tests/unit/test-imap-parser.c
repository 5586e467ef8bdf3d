/* Tests of the IMAP command reader (framing) and parser (arguments). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-parser.h"
#include "lib/strbuf.h"

static const struct imap_parser_limits test_parser_limits = {
	.max_depth = 8,
	.max_args = 100,
};

static const struct imap_reader_limits reader_limits = {
	.max_line = 200,
	.max_literal = 1000,
	.max_command = 4000,
	.max_literals = 5,
};

/* ---- dumping parsed commands in a compact form ---- */

static void dump_args(struct strbuf *out, const struct imap_arg *args,
		      size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *arg = &args[i];
		if (i > 0)
			strbuf_appendc(out, ' ');
		switch (arg->type) {
		case IMAP_ARG_ATOM:
			strbuf_append(out, arg->str, arg->len);
			break;
		case IMAP_ARG_NIL:
			strbuf_appends(out, "<NIL>");
			break;
		case IMAP_ARG_QUOTED:
			strbuf_appendc(out, '"');
			strbuf_append(out, arg->str, arg->len);
			strbuf_appendc(out, '"');
			break;
		case IMAP_ARG_LITERAL:
			strbuf_printf(out, "%s{%zu}", arg->literal8 ? "~" : "",
				      arg->len);
			for (size_t j = 0; j < arg->len; j++) {
				if (arg->str[j] == '\0')
					strbuf_appends(out, "\\0");
				else
					strbuf_appendc(out, arg->str[j]);
			}
			break;
		case IMAP_ARG_LIST:
			strbuf_appendc(out, '(');
			dump_args(out, arg->list, arg->count);
			strbuf_appendc(out, ')');
			break;
		}
	}
}

/* "tag NAME args" or "!error [tag]" */
static void dump_parse(struct strbuf *out, const char *data, size_t len,
		       const struct imap_parser_limits *limits)
{
	struct imap_parsed_command cmd;
	const char *error;

	if (imap_parse_command(data, len, limits, &cmd, &error) < 0) {
		assert_non_null(error);
		assert_null(cmd.args);
		strbuf_printf(out, "!%s [%s]", error,
			      cmd.tag != NULL ? cmd.tag : "-");
	} else {
		assert_null(error);
		strbuf_printf(out, "%s %s", cmd.tag, cmd.name);
		if (cmd.arg_count > 0) {
			strbuf_appendc(out, ' ');
			dump_args(out, cmd.args, cmd.arg_count);
		}
	}
	imap_parsed_command_free(&cmd);
}

static char *parse_str(const char *data)
{
	struct strbuf out = STRBUF_INIT;
	dump_parse(&out, data, strlen(data), &test_parser_limits);
	return strbuf_detach(&out, NULL);
}

#define assert_parse(input, expected) do { \
	char *got_ = parse_str(input); \
	assert_string_equal(got_, expected); \
	free(got_); \
} while (0)

/* ---- framing a stream into a transcript ---- */

/* Feeds `in` in chunks of `chunk` bytes and records what happens:
 * each command's parse, "+" for a continuation request, "E:<status>:<tag>"
 * for errors (after which the reader is reset), and "..." when a partial
 * command is left at the end. */
static char *transcript(const char *in, size_t len, size_t chunk,
			const struct imap_reader_limits *limits)
{
	struct imap_reader *reader = imap_reader_create(limits);
	struct strbuf out = STRBUF_INIT;
	size_t pos = 0, rounds = 0;
	size_t end = 0;   /* bytes made available so far */

	while (pos < len) {
		size_t used;
		if (end <= pos)
			end = pos + chunk < len ? pos + chunk : len;
		assert_true(++rounds < 10 * len + 100);
		enum imap_reader_status status =
			imap_reader_feed(reader, in + pos, end - pos, &used);
		assert_true(used <= end - pos);
		pos += used;

		const char *data;
		size_t data_len;
		switch (status) {
		case IMAP_READER_NEED_MORE:
			assert_int_equal(pos, end);
			break;
		case IMAP_READER_COMMAND:
			data = imap_reader_command(reader, &data_len);
			strbuf_appendc(&out, '[');
			dump_parse(&out, data, data_len, &test_parser_limits);
			strbuf_appends(&out, "] ");
			imap_reader_reset(reader);
			break;
		case IMAP_READER_LITERAL_WAIT:
			strbuf_appends(&out, "+ ");
			break;
		case IMAP_READER_LINE_TOO_LONG:
		case IMAP_READER_LITERAL_TOO_BIG:
		case IMAP_READER_COMMAND_TOO_BIG: {
			bool nonsync;
			uint64_t size = imap_reader_literal_size(reader, &nonsync);
			const char *name =
				status == IMAP_READER_LINE_TOO_LONG ? "LONG" :
				status == IMAP_READER_LITERAL_TOO_BIG ? "BIGLIT" :
				"BIGCMD";
			strbuf_printf(&out, "E:%s:%s", name,
				      imap_reader_tag(reader));
			if (status != IMAP_READER_LINE_TOO_LONG)
				strbuf_printf(&out, ":%llu%s",
					      (unsigned long long)size,
					      nonsync ? "+" : "");
			strbuf_appendc(&out, ' ');
			imap_reader_reset(reader);
			break;
		}
		}
	}
	if (imap_reader_busy(reader))
		strbuf_appends(&out, "...");
	imap_reader_destroy(&reader);
	assert_null(reader);
	/* (strbuf_detach() of a never-used buffer skips the NUL) */
	strbuf_append(&out, "", 0);
	return strbuf_detach(&out, NULL);
}

/* The transcript must not depend on how the input is split. */
static void assert_stream(const char *in, size_t len,
			  const struct imap_reader_limits *limits,
			  const char *expected)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 64, 100000 };
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char *got = transcript(in, len, chunks[i], limits);
		if (strcmp(got, expected) != 0) {
			print_error("chunk %zu:\n got: %s\nwant: %s\n",
				    chunks[i], got, expected);
			free(got);
			fail();
		}
		free(got);
	}
}

#define STREAM(s, expected) \
	assert_stream(s, sizeof(s) - 1, &reader_limits, expected)

/* ---- the parser ---- */

static void test_parse_atoms(void **state)
{
	(void)state;
	assert_parse("a1 NOOP\r\n", "a1 NOOP");
	assert_parse("a1 noop\r\n", "a1 NOOP");
	assert_parse("a1 NOOP", "a1 NOOP");
	assert_parse("a1 NOOP\n", "a1 NOOP");
	assert_parse("A.b]c SELECT INBOX\r\n", "A.b]c SELECT INBOX");
	assert_parse("a STORE 1:3,5,7:* +FLAGS (\\Seen \\Deleted $Junk)\r\n",
		     "a STORE 1:3,5,7:* +FLAGS (\\Seen \\Deleted $Junk)");
	assert_parse("a X \\* foo] %/* ~x\r\n", "a X \\* foo] %/* ~x");
	/* '\' only leads */
	assert_parse("a X a\\b\r\n", "!Invalid characters in atom [a]");
	assert_parse("a X \\\r\n", "a X \\");
}

static void test_parse_nil(void **state)
{
	(void)state;
	struct imap_parsed_command cmd;
	const char *error;
	const char *s = "a X NIL nil \"NIL\" NILS\r\n";

	assert_int_equal(imap_parse_command(s, strlen(s), NULL, &cmd, &error), 0);
	assert_int_equal(cmd.arg_count, 4);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_NIL);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_NIL);
	assert_string_equal(cmd.args[1].str, "nil");
	assert_int_equal(cmd.args[2].type, IMAP_ARG_QUOTED);
	assert_int_equal(cmd.args[3].type, IMAP_ARG_ATOM);
	imap_parsed_command_free(&cmd);
	assert_null(cmd.tag);
}

static void test_parse_quoted(void **state)
{
	(void)state;
	assert_parse("a LOGIN \"fred\" \"a b\\\"c\\\\d\"\r\n",
		     "a LOGIN \"fred\" \"a b\"c\\d\"");
	assert_parse("a X \"\"\r\n", "a X \"\"");
	assert_parse("a X \"\xc3\xa9t\xc3\xa9\"\r\n", "a X \"\xc3\xa9t\xc3\xa9\"");
	assert_parse("a X \"a\\b\"\r\n", "!Invalid escape in quoted string [a]");
	assert_parse("a X \"a\\n\"\r\n", "!Invalid escape in quoted string [a]");
	assert_parse("a X \"abc\r\n", "!Missing closing quote [a]");
	assert_parse("a X \"abc", "!Missing closing quote [a]");
	assert_parse("a X \"a\\", "!Invalid escape in quoted string [a]");
	assert_parse("a X \"a\rb\"\r\n", "!Missing closing quote [a]");
	assert_parse("a X \"a\"b\r\n", "!Missing space after argument [a]");

	static const char nul[] = "a X \"a\0b\"\r\n";
	struct strbuf out = STRBUF_INIT;
	dump_parse(&out, nul, sizeof(nul) - 1, NULL);
	assert_string_equal(out.s, "!NUL in quoted string [a]");
	strbuf_free(&out);
}

static void test_parse_literals(void **state)
{
	(void)state;
	assert_parse("a LOGIN {4}\r\nfred {3+}\r\nx y\r\n",
		     "a LOGIN {4}fred {3}x y");
	assert_parse("a X {0}\r\n\r\n", "a X {0}");
	assert_parse("a X {0}\r\n {1}\r\n)\r\n", "a X {0} {1})");
	assert_parse("a X ({2}\r\nab {2}\nc\n)\r\n", "a X ({2}ab {2}c\n)");
	assert_parse("a APPEND box ~{3}\r\nabc\r\n", "a APPEND box ~{3}abc");
	assert_parse("a APPEND box ~{3+}\r\nabc\r\n", "a APPEND box ~{3}abc");
	assert_parse("a X {3}\r\nab", "!Literal too short [a]");
	assert_parse("a X {3}", "!Missing CRLF after literal size [a]");
	assert_parse("a X {3} \r\nabc", "!Missing CRLF after literal size [a]");
	assert_parse("a X {}\r\n", "!Invalid literal size [a]");
	assert_parse("a X {3x}\r\nabc\r\n", "!Invalid literal size [a]");
	assert_parse("a X {99999999999999999999999}\r\n",
		     "!Literal size too large [a]");
	assert_parse("a X {3}\r\nabcd\r\n", "!Missing space after argument [a]");
	assert_parse("a X {3}\r\nabc(\r\n", "!Missing space after argument [a]");
	/* '{' inside an atom is not a literal */
	assert_parse("a X b{3}\r\nabc\r\n", "!Invalid characters in atom [a]");

	/* NUL only in literal8 (CHAR8 excludes NUL) */
	static const char nul[] = "a X {3}\r\na\0b ~{3}\r\na\0b\r\n";
	static const char nul8[] = "a X ~{3}\r\na\0b\r\n";
	struct strbuf out = STRBUF_INIT;
	dump_parse(&out, nul, sizeof(nul) - 1, NULL);
	assert_string_equal(out.s, "!NUL in literal (use literal8) [a]");
	strbuf_reset(&out);
	dump_parse(&out, nul8, sizeof(nul8) - 1, NULL);
	assert_string_equal(out.s, "a X ~{3}a\\0b");
	strbuf_free(&out);

	struct imap_parsed_command cmd;
	const char *error;
	assert_int_equal(imap_parse_command(nul8, sizeof(nul8) - 1, NULL,
					    &cmd, &error), 0);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_LITERAL);
	assert_true(cmd.args[0].literal8);
	assert_int_equal(cmd.args[0].len, 3);
	assert_memory_equal(cmd.args[0].str, "a\0b", 4);
	imap_parsed_command_free(&cmd);
}

static void test_parse_lists(void **state)
{
	(void)state;
	assert_parse("a X ()\r\n", "a X ()");
	assert_parse("a X (())\r\n", "a X (())");
	assert_parse("a X (a (b (c \"d\") ()) e) f\r\n",
		     "a X (a (b (c \"d\") ()) e) f");
	assert_parse("a X (a)(b)\r\n", "!Missing space after argument [a]");
	assert_parse("a X (a\r\n", "!Unbalanced parentheses [a]");
	assert_parse("a X (\r\n", "!Unbalanced parentheses [a]");
	assert_parse("a X a)\r\n", "!Unbalanced parentheses [a]");
	assert_parse("a X )\r\n", "!Unbalanced parentheses [a]");
	assert_parse("a X ((a)\r\n", "!Unbalanced parentheses [a]");
	assert_parse("a X (a))\r\n", "!Unbalanced parentheses [a]");
	assert_parse("a X ( a)\r\n", "!Unexpected space [a]");
	assert_parse("a X (a )\r\n", "!Unexpected space before ')' [a]");
	assert_parse("a X (a  b)\r\n", "!Unexpected space [a]");

	struct imap_parsed_command cmd;
	const char *error;
	const char *s = "a X (a (b) ()) c\r\n";
	assert_int_equal(imap_parse_command(s, strlen(s), NULL, &cmd, &error), 0);
	assert_int_equal(cmd.arg_count, 2);
	assert_int_equal(cmd.args[0].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[0].count, 3);
	assert_int_equal(cmd.args[0].list[1].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[0].list[1].count, 1);
	assert_string_equal(cmd.args[0].list[1].list[0].str, "b");
	assert_int_equal(cmd.args[0].list[2].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[0].list[2].count, 0);
	imap_parsed_command_free(&cmd);
}

static void test_parse_sections(void **state)
{
	(void)state;
	struct imap_parsed_command cmd;
	const char *error;
	const char *s = "a FETCH 1 (BODY.PEEK[HEADER.FIELDS (A B)]<0.100> "
		"BODY[] BODY[1.2.MIME] FLAGS)\r\n";

	assert_int_equal(imap_parse_command(s, strlen(s), NULL, &cmd, &error), 0);
	assert_int_equal(cmd.arg_count, 2);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[1].count, 4);
	assert_int_equal(cmd.args[1].list[0].type, IMAP_ARG_ATOM);
	assert_string_equal(cmd.args[1].list[0].str,
			    "BODY.PEEK[HEADER.FIELDS (A B)]<0.100>");
	assert_string_equal(cmd.args[1].list[1].str, "BODY[]");
	assert_string_equal(cmd.args[1].list[2].str, "BODY[1.2.MIME]");
	imap_parsed_command_free(&cmd);

	assert_parse("a FETCH 1 BODY[HEADER.FIELDS (\"X]\" \"a\\\"b\")]\r\n",
		     "a FETCH 1 BODY[HEADER.FIELDS (\"X]\" \"a\\\"b\")]");
	assert_parse("a FETCH 1 BODY[HEADER.FIELDS.NOT (Subject)] RFC822\r\n",
		     "a FETCH 1 BODY[HEADER.FIELDS.NOT (Subject)] RFC822");
	assert_parse("a FETCH 1 binary.peek[1 (x)] Binary.Size[1 2] BODYX[1 2]\r\n",
		     "a FETCH 1 binary.peek[1 (x)] Binary.Size[1 2] BODYX[1 2]");
	/* only after those names */
	const char *two = "a RENAME a[b c]\r\n";
	assert_int_equal(imap_parse_command(two, strlen(two), NULL, &cmd,
					    &error), 0);
	assert_int_equal(cmd.arg_count, 2);
	assert_string_equal(cmd.args[0].str, "a[b");
	assert_string_equal(cmd.args[1].str, "c]");
	imap_parsed_command_free(&cmd);
	two = "a X BODYX[1 2] body[ ]\r\n";
	assert_int_equal(imap_parse_command(two, strlen(two), NULL, &cmd,
					    &error), 0);
	assert_int_equal(cmd.arg_count, 3);
	assert_string_equal(cmd.args[2].str, "body[ ]");
	imap_parsed_command_free(&cmd);
	/* no ']' on the line: '[' is a plain ATOM-CHAR */
	assert_parse("a X a[b c\r\n", "a X a[b c");
	assert_parse("a X BODY[b c\r\n", "a X BODY[b c");
	assert_parse("a X BODY[ BODY[ BODY[ BODY[ c\r\n",
		     "a X BODY[ BODY[ BODY[ BODY[ c");
	assert_parse("a X [[[ [\r\n", "a X [[[ [");
	assert_parse("a X BODY[b (c\r\n", "!Unbalanced parentheses [a]");
	/* the ']' must be on the same line, not beyond a literal */
	assert_parse("a X BODY[b {1}\r\n]\r\n", "a X BODY[b {1}]");
	assert_parse("a X BODY[\"]\"\r\n", "!Invalid characters in atom [a]");
	/* control characters end the search */
	assert_parse("a X BODY[b\tc]\r\n", "!Invalid characters in atom [a]");
}

static void test_parse_uid(void **state)
{
	(void)state;
	assert_parse("a uid fetch 1:* (FLAGS)\r\n", "a UID FETCH 1:* (FLAGS)");
	assert_parse("a UID Store 1 +FLAGS \\Seen\r\n",
		     "a UID STORE 1 +FLAGS \\Seen");
	assert_parse("a UID\r\n", "a UID");
}

static void test_parse_errors(void **state)
{
	(void)state;
	assert_parse("", "!Missing tag [-]");
	assert_parse("\r\n", "!Missing tag [-]");
	assert_parse(" NOOP\r\n", "!Missing tag [-]");
	assert_parse("a+1 NOOP\r\n", "!Invalid characters in tag [-]");
	assert_parse("+ NOOP\r\n", "!Invalid characters in tag [-]");
	assert_parse("a*1 NOOP\r\n", "!Invalid characters in tag [-]");
	assert_parse("a(1 NOOP\r\n", "!Invalid characters in tag [-]");
	assert_parse("{3}\r\nabc NOOP\r\n", "!Invalid characters in tag [-]");
	assert_parse("\xc3\xa9 NOOP\r\n", "!Invalid characters in tag [-]");
	assert_parse("a1\r\n", "!Missing command [a1]");
	assert_parse("a1 \r\n", "!Missing command [a1]");
	assert_parse("a1  NOOP\r\n", "!Unexpected space [a1]");
	assert_parse("a1 NO(OP\r\n", "!Invalid characters in command name [a1]");
	assert_parse("a1 \"NOOP\"\r\n", "!Invalid characters in command name [a1]");
	assert_parse("a1 NOOP \r\n", "!Unexpected space at end of line [a1]");
	assert_parse("a1 X a  b\r\n", "!Unexpected space [a1]");
	assert_parse("a1 X a \r\n", "!Unexpected space at end of line [a1]");
	assert_parse("a1 X a\"b\r\n", "!Invalid characters in atom [a1]");
	assert_parse("a1 X \xc3\xa9\r\n", "!Invalid characters in atom [a1]");
	assert_parse("a1 X a\xc3\xa9\r\n", "!Invalid characters in atom [a1]");
	assert_parse("a1 X a\rb\r\n", "!Invalid characters in atom [a1]");
	assert_parse("a1 X a\r\nb\r\n",
		     "!Unexpected data after end of command [a1]");
	assert_parse("a1 X a\x7f\r\n", "!Invalid characters in atom [a1]");
	/* a lone CR at the very end is taken as the line end */
	assert_parse("a1 X a\r", "a1 X a");
}

static void test_parse_limits(void **state)
{
	(void)state;
	struct imap_parser_limits limits = { .max_depth = 2, .max_args = 5 };
	struct strbuf out = STRBUF_INIT;
	const char *s;

	s = "a X ((a))\r\n";
	dump_parse(&out, s, strlen(s), &limits);
	assert_string_equal(out.s, "a X ((a))");
	strbuf_reset(&out);
	s = "a X (((a)))\r\n";
	dump_parse(&out, s, strlen(s), &limits);
	assert_string_equal(out.s, "!Too deep nesting [a]");
	strbuf_reset(&out);
	s = "a X (1 2) 3 4\r\n";
	dump_parse(&out, s, strlen(s), &limits);
	assert_string_equal(out.s, "a X (1 2) 3 4");
	strbuf_reset(&out);
	s = "a X (1 2) 3 4 5\r\n";
	dump_parse(&out, s, strlen(s), &limits);
	assert_string_equal(out.s, "!Too many arguments [a]");
	strbuf_reset(&out);

	/* A deep nesting far beyond any limit costs no stack. */
	size_t depth = 100000;
	char *deep = malloc(depth * 2 + 16);
	strcpy(deep, "a X ");
	memset(deep + 4, '(', depth);
	memset(deep + 4 + depth, ')', depth);
	strcpy(deep + 4 + 2 * depth, "\r\n");
	limits.max_depth = UINT32_MAX;
	limits.max_args = UINT32_MAX;
	dump_parse(&out, deep, strlen(deep), &limits);
	assert_string_equal(out.s, "!Too deep nesting [a]");
	strbuf_reset(&out);
	limits.max_depth = IMAP_PARSER_MAX_DEPTH;
	strcpy(deep + 4 + IMAP_PARSER_MAX_DEPTH, "");
	memset(deep + 4 + IMAP_PARSER_MAX_DEPTH, ')', IMAP_PARSER_MAX_DEPTH);
	strcpy(deep + 4 + 2 * IMAP_PARSER_MAX_DEPTH, "\r\n");
	struct imap_parsed_command cmd;
	const char *error;
	assert_int_equal(imap_parse_command(deep, strlen(deep), &limits, &cmd,
					    &error), 0);
	imap_parsed_command_free(&cmd);
	free(deep);
	strbuf_free(&out);
}

/* Many '[' without ']' must not make the parser quadratic. */
static void test_parse_linear(void **state)
{
	(void)state;
	struct imap_parsed_command cmd;
	const char *error;
	struct strbuf s = STRBUF_INIT;
	size_t n = 300000;
	struct imap_parser_limits limits = { .max_depth = 1, .max_args = n };

	/* each BODY[ would search to the end of the line */
	strbuf_appends(&s, "a X ");
	for (size_t i = 0; i < n; i++)
		strbuf_appends(&s, "BODY[[ ");
	strbuf_appends(&s, "\"]\r\n");
	assert_int_equal(imap_parse_command(s.s, s.len, &limits, &cmd, &error), -1);
	assert_string_equal(error, "Missing closing quote");
	imap_parsed_command_free(&cmd);

	s.len -= 5;  /* and the last space */
	s.s[s.len] = '\0';
	assert_int_equal(imap_parse_command(s.s, s.len, &limits, &cmd, &error), 0);
	assert_int_equal(cmd.arg_count, n);
	assert_string_equal(cmd.args[n - 1].str, "BODY[[");
	imap_parsed_command_free(&cmd);
	strbuf_free(&s);
}

/* ---- helpers ---- */

static void test_arg_helpers(void **state)
{
	(void)state;
	struct imap_parsed_command cmd;
	const char *error, *str;
	size_t len;
	uint32_t n32;
	uint64_t n64;
	const char *s = "a X INBOX \"q s\" {3}\r\nl\x01t NIL foo%* \\Seen "
		"BODY[] 0 4294967295 4294967296 007 18446744073709551615 "
		"9223372036854775807 "
		"9223372036854775808 12a () \"12\"\r\n";

	assert_int_equal(imap_parse_command(s, strlen(s), NULL, &cmd, &error), 0);
	assert_int_equal(cmd.arg_count, 17);
	const struct imap_arg *a = cmd.args;

	/* astring */
	assert_true(imap_arg_astring(&a[0], &str, &len));
	assert_string_equal(str, "INBOX");
	assert_int_equal(len, 5);
	assert_true(imap_arg_astring(&a[1], &str, &len));
	assert_string_equal(str, "q s");
	assert_true(imap_arg_astring(&a[2], &str, &len));
	assert_int_equal(len, 3);
	assert_true(imap_arg_astring(&a[3], &str, NULL));
	assert_string_equal(str, "NIL");
	assert_false(imap_arg_astring(&a[4], &str, &len));
	assert_false(imap_arg_astring(&a[5], &str, &len));
	/* "[" and "]" are ASTRING-CHARs */
	assert_true(imap_arg_astring(&a[6], &str, &len));
	assert_false(imap_arg_astring(&a[15], &str, &len));
	/* list-mailbox */
	assert_true(imap_arg_list_mailbox(&a[4], &str, &len));
	assert_string_equal(str, "foo%*");
	assert_true(imap_arg_list_mailbox(&a[1], &str, &len));
	assert_false(imap_arg_list_mailbox(&a[5], &str, &len));
	/* string / nstring */
	assert_false(imap_arg_string(&a[0], &str, &len));
	assert_true(imap_arg_string(&a[1], &str, &len));
	assert_true(imap_arg_string(&a[2], &str, &len));
	assert_false(imap_arg_string(&a[3], &str, &len));
	assert_true(imap_arg_nstring(&a[3], &str));
	assert_null(str);
	assert_true(imap_arg_nstring(&a[1], &str));
	assert_string_equal(str, "q s");
	assert_false(imap_arg_nstring(&a[0], &str));
	/* atoms */
	assert_true(imap_arg_atom(&a[5], &str));
	assert_string_equal(str, "\\Seen");
	assert_true(imap_arg_atom(&a[3], &str));
	assert_false(imap_arg_atom(&a[1], &str));
	assert_false(imap_arg_atom(&a[15], &str));
	assert_true(imap_arg_is_atom(&a[0], "inbox"));
	assert_true(imap_arg_is_atom(&a[6], "body[]"));
	assert_true(imap_arg_is_atom(&a[3], "NIL"));
	assert_false(imap_arg_is_atom(&a[1], "q s"));
	assert_false(imap_arg_is_atom(&a[0], "INBO"));
	/* numbers */
	assert_true(imap_arg_number(&a[7], &n32));
	assert_int_equal(n32, 0);
	assert_true(imap_arg_number(&a[8], &n32));
	assert_int_equal(n32, 4294967295u);
	assert_false(imap_arg_number(&a[9], &n32));
	assert_true(imap_arg_number(&a[10], &n32));
	assert_int_equal(n32, 7);
	assert_false(imap_arg_number(&a[14], &n32));
	assert_false(imap_arg_number(&a[16], &n32));
	assert_false(imap_arg_number(&a[0], &n32));
	assert_false(imap_arg_number64(&a[11], &n64));
	assert_true(imap_arg_number64(&a[9], &n64));
	assert_int_equal(n64, 4294967296ULL);
	assert_true(imap_arg_number64(&a[12], &n64));
	assert_int_equal(n64, 9223372036854775807ULL);
	assert_false(imap_arg_number64(&a[13], &n64));
	imap_parsed_command_free(&cmd);

	assert_true(imap_char_is_atom('a'));
	assert_false(imap_char_is_atom(']'));
	assert_true(imap_char_is_astring(']'));
	assert_true(imap_char_is_tag('-'));
	assert_false(imap_char_is_tag('+'));
	assert_false(imap_char_is_tag('*'));
}

static void assert_write(void (*fn)(struct strbuf *, const char *),
			 const char *in, const char *expected)
{
	struct strbuf out = STRBUF_INIT;
	fn(&out, in);
	assert_string_equal(strbuf_str(&out), expected);
	strbuf_free(&out);
}

static void test_write(void **state)
{
	(void)state;
	struct strbuf out = STRBUF_INIT;

	imap_write_string(&out, "abc", 3);
	assert_string_equal(out.s, "\"abc\"");
	strbuf_reset(&out);
	imap_write_string(&out, "a\"b\\c", 5);
	assert_string_equal(out.s, "\"a\\\"b\\\\c\"");
	strbuf_reset(&out);
	imap_write_string(&out, "", 0);
	assert_string_equal(out.s, "\"\"");
	strbuf_reset(&out);
	imap_write_string(&out, "a\r\nb", 4);
	assert_string_equal(out.s, "{4}\r\na\r\nb");
	strbuf_reset(&out);
	imap_write_string(&out, "a\0b", 3);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.s, "{3}\r\na\0b", 8);
	strbuf_reset(&out);
	imap_write_string(&out, "caf\xc3\xa9", 5);
	assert_string_equal(out.s, "{5}\r\ncaf\xc3\xa9");
	strbuf_reset(&out);
	imap_write_string(&out, "a\tb", 3);
	assert_string_equal(out.s, "{3}\r\na\tb");
	strbuf_reset(&out);
	imap_write_string(&out, NULL, 0);
	assert_string_equal(out.s, "NIL");
	strbuf_free(&out);

	assert_write(imap_write_nstring, NULL, "NIL");
	assert_write(imap_write_nstring, "x y", "\"x y\"");
	assert_write(imap_write_nstring, "NIL", "\"NIL\"");

	assert_write(imap_write_astring, "INBOX", "INBOX");
	assert_write(imap_write_astring, "a]b", "a]b");
	assert_write(imap_write_astring, "nil", "\"nil\"");
	assert_write(imap_write_astring, "", "\"\"");
	assert_write(imap_write_astring, NULL, "\"\"");
	assert_write(imap_write_astring, "a b", "\"a b\"");
	assert_write(imap_write_astring, "a%", "\"a%\"");
	assert_write(imap_write_astring, "a*", "\"a*\"");
	assert_write(imap_write_astring, "\\Seen", "\"\\\\Seen\"");
	assert_write(imap_write_astring, "a(", "\"a(\"");
	assert_write(imap_write_astring, "a{", "\"a{\"");
	assert_write(imap_write_astring, "a\"", "\"a\\\"\"");
	assert_write(imap_write_astring, "\xc3\xa9", "{2}\r\n\xc3\xa9");

	/* What is written parses back to the same string. */
	static const char *const samples[] = {
		"x", "a b", "\"", "\\", "a\r\nb", "\xff\x01", "NIL", "",
		"{3}", "(", "]", "~{1}",
	};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		struct strbuf line = STRBUF_INIT;
		struct imap_parsed_command cmd;
		const char *error, *str;
		size_t len;

		strbuf_appends(&line, "a X ");
		imap_write_astring(&line, samples[i]);
		strbuf_appendc(&line, ' ');
		imap_write_string(&line, samples[i], strlen(samples[i]));
		strbuf_appends(&line, "\r\n");
		assert_int_equal(imap_parse_command(line.s, line.len, NULL,
						    &cmd, &error), 0);
		assert_int_equal(cmd.arg_count, 2);
		assert_true(imap_arg_astring(&cmd.args[0], &str, &len));
		assert_int_equal(len, strlen(samples[i]));
		assert_memory_equal(str, samples[i], len);
		assert_true(imap_arg_string(&cmd.args[1], &str, &len));
		assert_int_equal(len, strlen(samples[i]));
		assert_memory_equal(str, samples[i], len);
		imap_parsed_command_free(&cmd);
		strbuf_free(&line);
	}
}

/* ---- the reader ---- */

static void test_reader_pipelined(void **state)
{
	(void)state;
	STREAM("a1 NOOP\r\na2 SELECT INBOX\r\na3 FETCH 1 (FLAGS)\n",
	       "[a1 NOOP] [a2 SELECT INBOX] [a3 FETCH 1 (FLAGS)] ");
	STREAM("a1 LOGIN {4}\r\nfred {6}\r\nsecret\r\na2 NOOP\r\n",
	       "+ + [a1 LOGIN {4}fred {6}secret] [a2 NOOP] ");
	STREAM("a1 LOGIN {4+}\r\nfred {6+}\r\nsecret\r\na2 NOOP\r\n",
	       "[a1 LOGIN {4}fred {6}secret] [a2 NOOP] ");
	STREAM("a APPEND box (\\Seen) ~{5}\r\na\r\n\0b\r\n",
	       "+ [a APPEND box (\\Seen) ~{5}a\r\n\\0b] ");
	STREAM("a APPEND box ~{5+}\r\nab\r\nc\r\nb NOOP\r\n",
	       "[a APPEND box ~{5}ab\r\nc] [b NOOP] ");
	/* zero-length literals, sync and not */
	STREAM("a X {0}\r\n {0+}\r\n\r\n", "+ [a X {0} {0}] ");
	/* a literal's contents are never framed: CRLFs and "{n}" inside */
	STREAM("a X {12+}\r\nb NOOP {3}\r\n\r\n",
	       "[a X {12}b NOOP {3}\r\n] ");
	/* empty lines between commands are dropped */
	STREAM("\r\n\n\r\na NOOP\r\n\r\nb NOOP\r\n",
	       "[a NOOP] [b NOOP] ");
	STREAM("a X {1+}\r\nx\r\n", "[a X {1}x] ");
	/* partial command left over */
	STREAM("a NOOP\r\nb NO", "[a NOOP] ...");
	STREAM("a X {5}\r\nab", "+ ...");
}

static void test_reader_literal_recognition(void **state)
{
	(void)state;
	/* inside an unterminated quoted string: not a literal */
	STREAM("a X \"{5}\r\nb NOOP\r\n",
	       "[!Missing closing quote [a]] [b NOOP] ");
	STREAM("a X \"a\\\"{5}\r\nb NOOP\r\n",
	       "[!Missing closing quote [a]] [b NOOP] ");
	/* after a closed one it is */
	STREAM("a X \"a\\\\\" {1}\r\nx\r\n", "+ [a X \"a\\\" {1}x] ");
	/* only where an argument may begin */
	STREAM("a X b{5}\r\nc NOOP\r\n",
	       "[!Invalid characters in atom [a]] [c NOOP] ");
	STREAM("{5}\r\nc NOOP\r\n",
	       "[!Invalid characters in tag [-]] [c NOOP] ");
	STREAM("a X ({1}\r\nx)\r\n", "+ [a X ({1}x)] ");
	STREAM("a X (~{1+}\r\nx)\r\n", "[a X (~{1}x)] ");
	/* malformed announcements are not literals */
	STREAM("a X {1\r\nb NOOP\r\n",
	       "[!Invalid literal size [a]] [b NOOP] ");
	STREAM("a X {+}\r\nb NOOP\r\n",
	       "[!Invalid literal size [a]] [b NOOP] ");
	STREAM("a X {1++}\r\nb NOOP\r\n",
	       "[!Invalid literal size [a]] [b NOOP] ");
	STREAM("a X {1} \r\nb NOOP\r\n",
	       "[!Missing CRLF after literal size [a]] [b NOOP] ");
	STREAM("a X ~ {1}\r\nx\r\n", "+ [a X ~ {1}x] ");
	STREAM("a X {1}\rx\r\nb NOOP\r\n",
	       "[!Missing CRLF after literal size [a]] [b NOOP] ");
	/* bare LF after the announcement */
	STREAM("a X {1}\nx\n", "+ [a X {1}x] ");
}

static void test_reader_limits(void **state)
{
	(void)state;
	struct strbuf in = STRBUF_INIT;
	char *got;

	/* max_line 200: 198 bytes + CRLF is fine, 199 + CRLF not */
	strbuf_appends(&in, "a X ");
	for (int i = 0; i < 194; i++)
		strbuf_appendc(&in, 'x');
	strbuf_appends(&in, "\r\n");
	assert_int_equal(in.len, 200);
	got = transcript(in.s, in.len, 1, &reader_limits);
	assert_int_equal(strncmp(got, "[a X xxx", 8), 0);
	free(got);
	strbuf_reset(&in);

	strbuf_appends(&in, "a X ");
	for (int i = 0; i < 195; i++)
		strbuf_appendc(&in, 'x');
	strbuf_appends(&in, "\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:LONG:a [b NOOP] ");
	strbuf_reset(&in);

	/* a bare LF counts as one byte */
	strbuf_appends(&in, "a X ");
	for (int i = 0; i < 195; i++)
		strbuf_appendc(&in, 'x');
	strbuf_appends(&in, "\nb NOOP\r\n");
	got = transcript(in.s, in.len, 1000, &reader_limits);
	assert_int_equal(strncmp(got, "[a X xxx", 8), 0);
	free(got);
	strbuf_reset(&in);

	/* a huge line, with a non-synchronising literal at its end that must
	 * be skipped too, then a command that parses */
	strbuf_appends(&in, "a X ");
	for (int i = 0; i < 5000; i++)
		strbuf_appendc(&in, 'x');
	strbuf_appends(&in, " {8+}\r\nc NOOP\r\n\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:LONG:a [b NOOP] ");
	strbuf_reset(&in);

	/* ... and a synchronising one is not awaited */
	strbuf_appends(&in, "a X ");
	for (int i = 0; i < 5000; i++)
		strbuf_appendc(&in, 'x');
	strbuf_appends(&in, " {10}\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:LONG:a [b NOOP] ");
	strbuf_reset(&in);

	/* the tag is unknown when the line breaks the limit within it */
	for (int i = 0; i < 300; i++)
		strbuf_appendc(&in, 'a');
	strbuf_appends(&in, " NOOP\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:LONG: [b NOOP] ");
	strbuf_reset(&in);

	/* the line after a literal is a line of its own for max_line */
	strbuf_appends(&in, "a X ");
	for (int i = 0; i < 180; i++)
		strbuf_appendc(&in, 'x');
	strbuf_appends(&in, " {1+}\r\n1 ");
	for (int i = 0; i < 190; i++)
		strbuf_appendc(&in, 'y');
	strbuf_appends(&in, "\r\n");
	got = transcript(in.s, in.len, 3, &reader_limits);
	assert_int_equal(strncmp(got, "[a X xxx", 8), 0);
	free(got);
	strbuf_reset(&in);

	/* literal too big: synchronising, the client sends nothing more */
	STREAM("a1 APPEND box {1001}\r\na2 NOOP\r\n",
	       "E:BIGLIT:a1:1001 [a2 NOOP] ");
	STREAM("a1 APPEND box {1000}\r\n", "+ ...");
	/* non-synchronising: its bytes are skipped, and the rest of the
	 * command with further non-synchronising literals */
	strbuf_appends(&in, "a1 APPEND box {1001+}\r\n");
	for (int i = 0; i < 1001; i++)
		strbuf_appendc(&in, i % 2 ? '\n' : 'z');
	strbuf_appends(&in, " box2 {3+}\r\nabc\r\na2 NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:BIGLIT:a1:1001+ [a2 NOOP] ");
	strbuf_reset(&in);
	STREAM("a1 X {99999999999999999999999+}\r\n",
	       "E:BIGLIT:a1:18446744073709551615+ ...");

	/* too many literals */
	STREAM("a X {1+}\r\n1 {1+}\r\n2 {1+}\r\n3 {1+}\r\n4 {1+}\r\n5 {1+}\r\n6\r\n"
	       "b NOOP\r\n",
	       "E:BIGCMD:a:1+ [b NOOP] ");
	STREAM("a X {1}\r\n1 {1}\r\n2 {1}\r\n3 {1}\r\n4 {1}\r\n5 {1}\r\n6\r\n",
	       "+ + + + + E:BIGCMD:a:1 [!Missing command [6]] ");
	/* command too big, by a literal ... */
	strbuf_appends(&in, "a X");
	for (int i = 0; i < 5; i++) {
		strbuf_appends(&in, " {900+}\r\n");
		for (int j = 0; j < 900; j++)
			strbuf_appendc(&in, 'q');
	}
	strbuf_appends(&in, "\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:BIGCMD:a:900+ [b NOOP] ");
	strbuf_reset(&in);
	/* ... and by a line */
	strbuf_appends(&in, "a X");
	for (int i = 0; i < 4; i++) {
		strbuf_printf(&in, " {%d+}\r\n", i < 3 ? 1000 : 800);
		for (int j = 0; j < (i < 3 ? 1000 : 800); j++)
			strbuf_appendc(&in, 'q');
	}
	strbuf_appendc(&in, ' ');
	for (int i = 0; i < 190; i++)
		strbuf_appendc(&in, 'y');
	strbuf_appends(&in, " {5+}\r\nabcde\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &reader_limits,
		      "E:BIGCMD:a:0 [b NOOP] ");
	strbuf_reset(&in);

	/* max_command counts everything, up to the final LF */
	struct imap_reader_limits exact = reader_limits;
	exact.max_literal = 10000;
	strbuf_appends(&in, "a X {3987+}\n");
	for (int i = 0; i < 3987; i++)
		strbuf_appendc(&in, 'q');
	strbuf_appends(&in, "\n");
	assert_int_equal(in.len, 4000);
	got = transcript(in.s, in.len, 1, &exact);
	assert_int_equal(strncmp(got, "[a X {3987}qqq", 14), 0);
	free(got);
	strbuf_reset(&in);
	strbuf_appends(&in, "a X {3988+}\n");
	for (int i = 0; i < 3988; i++)
		strbuf_appendc(&in, 'q');
	strbuf_appends(&in, "\nb NOOP\r\n");
	assert_stream(in.s, in.len, &exact, "E:BIGCMD:a:3988+ [b NOOP] ");
	strbuf_reset(&in);
	/* here the CR is one byte too many */
	strbuf_appends(&in, "a X {3987+}\n");
	for (int i = 0; i < 3987; i++)
		strbuf_appendc(&in, 'q');
	strbuf_appends(&in, "\r\nb NOOP\r\n");
	assert_stream(in.s, in.len, &exact, "E:BIGCMD:a:0 [b NOOP] ");
	strbuf_free(&in);
}

/* The reset rules, spelled out with the raw API. */
static void test_reader_reset(void **state)
{
	(void)state;
	struct imap_reader *reader = imap_reader_create(&reader_limits);
	size_t used, len;
	const char *data;

	assert_false(imap_reader_busy(reader));
	assert_string_equal(imap_reader_tag(reader), "");

	/* reset mid-line: the rest of that line is dropped */
	assert_int_equal(imap_reader_feed(reader, "t1 NOO", 6, &used),
			 IMAP_READER_NEED_MORE);
	assert_int_equal(used, 6);
	assert_true(imap_reader_busy(reader));
	assert_string_equal(imap_reader_tag(reader), "t1");
	imap_reader_reset(reader);
	assert_true(imap_reader_busy(reader));
	assert_int_equal(imap_reader_feed(reader, "P\r\nt2 NOOP\r\n", 12, &used),
			 IMAP_READER_COMMAND);
	assert_int_equal(used, 12);
	data = imap_reader_command(reader, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(data, "t2 NOOP\r\n", 9);
	assert_string_equal(imap_reader_tag(reader), "t2");
	assert_false(imap_reader_busy(reader));

	/* feeding again without a reset starts the next command */
	assert_int_equal(imap_reader_feed(reader, "t3 X {2}\r\n", 10, &used),
			 IMAP_READER_LITERAL_WAIT);
	assert_int_equal(used, 10);
	bool nonsync = true;
	assert_int_equal(imap_reader_literal_size(reader, &nonsync), 2);
	assert_false(nonsync);
	assert_string_equal(imap_reader_tag(reader), "t3");
	/* refuse the literal: nothing is skipped */
	imap_reader_reset(reader);
	assert_false(imap_reader_busy(reader));
	assert_int_equal(imap_reader_feed(reader, "t4 NOOP\r\n", 9, &used),
			 IMAP_READER_COMMAND);
	imap_reader_reset(reader);

	/* reset in a literal: the rest of it and its line are skipped */
	assert_int_equal(imap_reader_feed(reader, "t5 X {4}\r\n", 10, &used),
			 IMAP_READER_LITERAL_WAIT);
	assert_int_equal(imap_reader_feed(reader, "ab", 2, &used),
			 IMAP_READER_NEED_MORE);
	imap_reader_reset(reader);
	const char *rest = "\r\n y {2+}\r\nzz\r\nt6 NOOP\r\n";
	assert_int_equal(imap_reader_feed(reader, rest, strlen(rest), &used),
			 IMAP_READER_COMMAND);
	assert_int_equal(used, strlen(rest));
	data = imap_reader_command(reader, &len);
	assert_memory_equal(data, "t6 NOOP\r\n", len);
	imap_reader_reset(reader);

	/* errors stick until reset */
	assert_int_equal(imap_reader_feed(reader, "t7 X {1001}\r\nt8", 15, &used),
			 IMAP_READER_LITERAL_TOO_BIG);
	assert_int_equal(used, 13);
	assert_int_equal(imap_reader_feed(reader, "t8", 2, &used),
			 IMAP_READER_LITERAL_TOO_BIG);
	assert_int_equal(used, 0);
	assert_string_equal(imap_reader_tag(reader), "t7");
	imap_reader_reset(reader);

	/* LITERAL-: only non-synchronising literals are limited */
	imap_reader_set_nonsync_limit(reader, 4);
	assert_int_equal(imap_reader_feed(reader, "u1 X {5+}\r\n", 11, &used),
			 IMAP_READER_LITERAL_TOO_BIG);
	assert_int_equal(imap_reader_literal_size(reader, &nonsync), 5);
	assert_true(nonsync);
	imap_reader_reset(reader);
	rest = "12345\r\nu2 X {4+}\r\n1234\r\n";
	assert_int_equal(imap_reader_feed(reader, rest, strlen(rest), &used),
			 IMAP_READER_COMMAND);
	assert_int_equal(used, strlen(rest));
	data = imap_reader_command(reader, &len);
	assert_memory_equal(data, "u2 X {4+}\r\n1234\r\n", len);
	assert_int_equal(imap_reader_feed(reader, "u3 X {5}\r\n", 10, &used),
			 IMAP_READER_LITERAL_WAIT);
	imap_reader_reset(reader);
	imap_reader_set_nonsync_limit(reader, UINT64_MAX);

	/* explicit skip_literal */
	assert_int_equal(imap_reader_feed(reader, "t9 X {2000+}\r\n", 14, &used),
			 IMAP_READER_LITERAL_TOO_BIG);
	assert_int_equal(imap_reader_literal_size(reader, &nonsync), 2000);
	assert_true(nonsync);
	imap_reader_skip_literal(reader, 3);
	assert_true(imap_reader_busy(reader));
	assert_int_equal(imap_reader_feed(reader, "abc rest\r\nt10 NOOP\r\n", 20,
					  &used), IMAP_READER_COMMAND);
	data = imap_reader_command(reader, &len);
	assert_memory_equal(data, "t10 NOOP\r\n", len);

	imap_reader_destroy(&reader);
	assert_null(reader);
	imap_reader_destroy(&reader);

	/* default limits */
	reader = imap_reader_create(NULL);
	assert_int_equal(imap_reader_feed(reader, "a NOOP\r\n", 8, &used),
			 IMAP_READER_COMMAND);
	imap_reader_destroy(&reader);
}

static void test_reader_line_mode(void **state)
{
	(void)state;
	struct imap_reader *reader = imap_reader_create(&reader_limits);
	size_t used, len;
	const char *line;
	const char *in = "a AUTHENTICATE PLAIN\r\nAGZyZWQAc2VjcmV0\r\n\r\n"
		"{5}\r\nDONE\nb NOOP\r\n";
	size_t pos = 0, in_len = strlen(in);

	assert_int_equal(imap_reader_feed(reader, in, in_len, &used),
			 IMAP_READER_COMMAND);
	pos += used;
	imap_reader_reset(reader);
	imap_reader_set_line_mode(reader, true);

	/* one byte at a time */
	enum imap_reader_status status;
	do {
		status = imap_reader_feed(reader, in + pos, 1, &used);
		pos += used;
	} while (status == IMAP_READER_NEED_MORE);
	assert_int_equal(status, IMAP_READER_COMMAND);
	line = imap_reader_line(reader, &len);
	assert_int_equal(len, 16);
	assert_string_equal(line, "AGZyZWQAc2VjcmV0");
	imap_reader_reset(reader);

	/* an empty line is a line here */
	assert_int_equal(imap_reader_feed(reader, in + pos, in_len - pos, &used),
			 IMAP_READER_COMMAND);
	pos += used;
	line = imap_reader_line(reader, &len);
	assert_int_equal(len, 0);
	assert_string_equal(line, "");
	imap_reader_reset(reader);

	/* no literal processing */
	assert_int_equal(imap_reader_feed(reader, in + pos, in_len - pos, &used),
			 IMAP_READER_COMMAND);
	pos += used;
	line = imap_reader_line(reader, &len);
	assert_string_equal(line, "{5}");
	imap_reader_reset(reader);
	assert_int_equal(imap_reader_feed(reader, in + pos, in_len - pos, &used),
			 IMAP_READER_COMMAND);
	pos += used;
	line = imap_reader_line(reader, &len);
	assert_string_equal(line, "DONE");
	imap_reader_reset(reader);

	imap_reader_set_line_mode(reader, false);
	assert_int_equal(imap_reader_feed(reader, in + pos, in_len - pos, &used),
			 IMAP_READER_COMMAND);
	assert_int_equal(pos + used, in_len);
	imap_reader_reset(reader);

	/* too long in line mode: skipped to its LF without literal
	 * processing */
	imap_reader_set_line_mode(reader, true);
	char big[400];
	memset(big, 'x', sizeof(big));
	memcpy(big + 390, " {5+}\r\nab\n", 10);
	assert_int_equal(imap_reader_feed(reader, big, sizeof(big), &used),
			 IMAP_READER_LINE_TOO_LONG);
	imap_reader_reset(reader);
	assert_int_equal(imap_reader_feed(reader, big + used, sizeof(big) - used,
					  &used), IMAP_READER_COMMAND);
	line = imap_reader_line(reader, &len);
	assert_string_equal(line, "ab");
	imap_reader_destroy(&reader);
}

/* A mixed stream gives identical results fed in one piece, one byte at a
 * time, and everything in between. */
static void test_reader_byte_at_a_time(void **state)
{
	(void)state;
	STREAM("a1 CAPABILITY\r\n"
	       "a2 LOGIN \"fred\" {6+}\r\nsecret\r\n"
	       "a3 LIST \"\" \"*\"\r\n"
	       "a4 SELECT \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"\r\n"
	       "a5 UID FETCH 1:*,7 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM \"TO\")]<0.100>)\r\n"
	       "a6 APPEND INBOX (\\Seen) \"7-Feb-1994 21:52:25 -0800\" {10}\r\n"
	       "0123456789\r\n"
	       "a7 APPEND INBOX ~{3+}\r\n\0\r\n\r\n"
	       "a8 STORE 1 +FLAGS.SILENT (\\Deleted)\n"
	       "a9 SEARCH CHARSET UTF-8 OR (FROM x) NOT TEXT {2}\r\nyz\r\n"
	       "a10 ID NIL\r\n"
	       "a11 X ((((a)))) () \"\"\r\n"
	       "a12 X a  b\r\n"
	       "a+13 NOOP\r\n",
	       "[a1 CAPABILITY] "
	       "[a2 LOGIN \"fred\" {6}secret] "
	       "[a3 LIST \"\" \"*\"] "
	       "[a4 SELECT \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"] "
	       "[a5 UID FETCH 1:*,7 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM \"TO\")]<0.100>)] "
	       "+ [a6 APPEND INBOX (\\Seen) \"7-Feb-1994 21:52:25 -0800\" {10}0123456789] "
	       "[a7 APPEND INBOX ~{3}\\0\r\n] "
	       "[a8 STORE 1 +FLAGS.SILENT (\\Deleted)] "
	       "+ [a9 SEARCH CHARSET UTF-8 OR (FROM x) NOT TEXT {2}yz] "
	       "[a10 ID <NIL>] "
	       "[a11 X ((((a)))) () \"\"] "
	       "[!Unexpected space [a12]] "
	       "[!Invalid characters in tag [-]] ");
}

/* Feeding a long line one byte at a time stays linear. */
static void test_reader_linear(void **state)
{
	(void)state;
	struct imap_reader_limits limits = {
		.max_line = 4 * 1024 * 1024,
		.max_literal = 4 * 1024 * 1024,
		.max_command = 16 * 1024 * 1024,
		.max_literals = 10,
	};
	struct imap_reader *reader = imap_reader_create(&limits);
	size_t n = 2 * 1024 * 1024, used;
	char *buf = malloc(n);

	memset(buf, '"', n);
	memcpy(buf, "a X ", 4);
	for (size_t i = 0; i + 1 < n; i++) {
		assert_int_equal(imap_reader_feed(reader, buf + i, 1, &used),
				 IMAP_READER_NEED_MORE);
	}
	assert_int_equal(imap_reader_feed(reader, "\n", 1, &used),
			 IMAP_READER_COMMAND);
	imap_reader_destroy(&reader);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_atoms),
		cmocka_unit_test(test_parse_nil),
		cmocka_unit_test(test_parse_quoted),
		cmocka_unit_test(test_parse_literals),
		cmocka_unit_test(test_parse_lists),
		cmocka_unit_test(test_parse_sections),
		cmocka_unit_test(test_parse_uid),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_linear),
		cmocka_unit_test(test_arg_helpers),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_reader_pipelined),
		cmocka_unit_test(test_reader_literal_recognition),
		cmocka_unit_test(test_reader_limits),
		cmocka_unit_test(test_reader_reset),
		cmocka_unit_test(test_reader_line_mode),
		cmocka_unit_test(test_reader_byte_at_a_time),
		cmocka_unit_test(test_reader_linear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
