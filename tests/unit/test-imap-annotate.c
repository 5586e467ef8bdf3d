/* ANNOTATE (RFC 5257) grammar: entry and attribute names, wild cards, the
 * FETCH and STORE arguments, value writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-annotate.h"
#include "imap/imap-parser.h"
#include "lib/strbuf.h"

static bool entry_ok(const char *s, bool pattern)
{
	return imap_annotate_entry_valid(s, strlen(s), pattern);
}

static void test_entry_names(void **state)
{
	(void)state;
	assert_true(entry_ok("/comment", false));
	assert_true(entry_ok("/altsubject", false));
	assert_true(entry_ok("/vendor/cmu/x-y.z", false));
	assert_true(entry_ok("/1/comment", false));
	assert_true(entry_ok("/1.2.10/flags/seen", false));
	assert_true(entry_ok("/Comment", false));
	assert_false(entry_ok("", false));
	assert_false(entry_ok("/", false));
	assert_false(entry_ok("comment", false));
	assert_false(entry_ok("/a//b", false));
	assert_false(entry_ok("/a/", false));
	assert_false(entry_ok("/a*", false));
	assert_false(entry_ok("/a%", false));
	assert_false(entry_ok("/a b", false));
	assert_false(entry_ok("/a\"b", false));
	assert_false(entry_ok("/\xc3\xa9t\xc3\xa9", false));
	assert_false(entry_ok("/flags", false));
	assert_false(entry_ok("/flags/x", false));
	assert_true(entry_ok("/flagsx", false));
	assert_false(entry_ok("/0/comment", false));
	assert_false(entry_ok("/1./comment", false));
	assert_false(entry_ok("/1..2/comment", false));
	assert_false(entry_ok("/1x/comment", false));
	assert_false(entry_ok("/1", false));
	assert_false(entry_ok("/1234567890/comment", false));
	/* patterns */
	assert_true(entry_ok("/*", true));
	assert_true(entry_ok("/%", true));
	assert_true(entry_ok("*", true));
	assert_true(entry_ok("%/comment", true));
	assert_false(entry_ok("*//a", true));
	assert_false(entry_ok("/a/", true));
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name));
	long_name[0] = '/';
	long_name[256] = '\0';
	assert_false(entry_ok(long_name, false));
	long_name[255] = '\0';
	assert_true(entry_ok(long_name, false));
	/* a length that disagrees with an embedded NUL */
	assert_false(imap_annotate_entry_valid("/a\0b", 4, false));
}

static void test_entry_match(void **state)
{
	(void)state;
	assert_true(imap_annotate_entry_match("/comment", "/comment"));
	assert_false(imap_annotate_entry_match("/comment", "/Comment"));
	assert_false(imap_annotate_entry_match("/comment", "/comments"));
	assert_true(imap_annotate_entry_match("/*", "/comment"));
	assert_true(imap_annotate_entry_match("/*", "/1/comment"));
	assert_true(imap_annotate_entry_match("/%", "/comment"));
	assert_false(imap_annotate_entry_match("/%", "/1/comment"));
	assert_true(imap_annotate_entry_match("/%/comment", "/1/comment"));
	assert_true(imap_annotate_entry_match("*", "/vendor/x/y"));
	assert_true(imap_annotate_entry_match("/c%t", "/comment"));
	assert_false(imap_annotate_entry_match("/c%t", "/c/t"));
	assert_true(imap_annotate_entry_match("/c*t", "/c/t"));
	assert_true(imap_annotate_entry_match("/%%", "/a"));
	assert_true(imap_annotate_entry_match("/%*%", "/a/b/c"));
	assert_false(imap_annotate_entry_match("/a*b", "/acbd"));
	/* many wild cards cost no more than |pattern| * |entry| */
	char pat[256], ent[256];
	pat[0] = '/';
	for (int i = 1; i < 254; i += 2) {
		pat[i] = '%';
		pat[i + 1] = 'a';
	}
	pat[254] = 'x';
	pat[255] = '\0';
	memset(ent, 'a', sizeof(ent));
	ent[0] = '/';
	ent[255] = '\0';
	assert_false(imap_annotate_entry_match(pat, ent));
}

static void test_attr_names(void **state)
{
	(void)state;
	unsigned int bits;
	assert_true(imap_annotate_attr_parse("value", 5, false, &bits));
	assert_int_equal(bits, IMAP_ANNOTATE_VALUE_PRIV | IMAP_ANNOTATE_VALUE_SHARED);
	assert_true(imap_annotate_attr_parse("size.shared", 11, false, &bits));
	assert_int_equal(bits, IMAP_ANNOTATE_SIZE_SHARED);
	assert_true(imap_annotate_attr_parse("VALUE.PRIV", 10, false, &bits));
	assert_int_equal(bits, IMAP_ANNOTATE_VALUE_PRIV);
	assert_true(imap_annotate_attr_parse("vendor-x", 8, false, &bits));
	assert_int_equal(bits, 0);
	assert_false(imap_annotate_attr_parse("value.", 6, false, &bits));
	assert_false(imap_annotate_attr_parse(".value", 6, false, &bits));
	assert_false(imap_annotate_attr_parse("value..priv", 11, false, &bits));
	assert_false(imap_annotate_attr_parse("value.priv.x", 12, false, &bits));
	assert_false(imap_annotate_attr_parse("value*", 6, false, &bits));
	assert_false(imap_annotate_attr_parse("", 0, false, &bits));
	/* STORE: only value.priv / value.shared */
	assert_true(imap_annotate_attr_parse("value.priv", 10, true, &bits));
	assert_true(imap_annotate_attr_parse("value.shared", 12, true, &bits));
	assert_false(imap_annotate_attr_parse("value", 5, true, &bits));
	assert_false(imap_annotate_attr_parse("size.priv", 9, true, &bits));
	assert_false(imap_annotate_attr_parse("vendor-x", 8, true, &bits));
}

/* The arguments of "a X <text>". */
static struct imap_parsed_command parse(const char *text)
{
	struct imap_parsed_command cmd;
	const char *error;
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "a X %s\r\n", text);
	assert_int_equal(imap_parse_command(buf, (size_t)n, NULL, &cmd,
					    &error), 0);
	return cmd;
}

static void test_fetch_parse(void **state)
{
	(void)state;
	struct imap_annotate_fetch *f;
	const char *error;
	struct imap_parsed_command cmd = parse("((/comment /a*) (value size.priv))");
	assert_int_equal(imap_annotate_fetch_parse(&cmd.args[0], &f, &error), 0);
	assert_int_equal(f->entry_count, 2);
	assert_string_equal(f->entries[1], "/a*");
	assert_int_equal(f->attrs, IMAP_ANNOTATE_VALUE_PRIV |
			 IMAP_ANNOTATE_VALUE_SHARED | IMAP_ANNOTATE_SIZE_PRIV);
	imap_annotate_fetch_free(&f);
	assert_null(f);
	imap_parsed_command_free(&cmd);

	static const char *const bad[] = {
		"(/comment)", "(/comment value extra)", "(() value)",
		"(/comment ())", "(comment value)", "(/comment value.x.priv)",
		"/comment", "((/a (/b)) value)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = parse(bad[i]);
		assert_int_equal(imap_annotate_fetch_parse(&cmd.args[0], &f,
							   &error), -1);
		assert_null(f);
		imap_parsed_command_free(&cmd);
	}
}

static void test_store_parse(void **state)
{
	(void)state;
	struct imap_annotate_store st;
	const char *error;
	struct imap_parsed_command cmd = parse(
		"(/comment (value.priv \"a\" value.shared NIL) /x (value.priv {3+}\r\nb\"c value.priv \"d\"))");
	assert_int_equal(imap_annotate_store_parse(&cmd.args[0], &st, &error), 0);
	/* the same entry and attribute twice: the last counts */
	assert_int_equal(st.count, 3);
	assert_string_equal(st.items[0].entry, "/comment");
	assert_true(st.items[0].priv);
	assert_string_equal(st.items[0].value, "a");
	assert_false(st.items[1].priv);
	assert_null(st.items[1].value);
	assert_string_equal(st.items[2].entry, "/x");
	assert_string_equal(st.items[2].value, "d");
	imap_annotate_store_free(&st);
	imap_parsed_command_free(&cmd);

	static const char *const bad[] = {
		"()", "(/comment)", "(/comment ())", "(/comment (value.priv))",
		"(/comment (value \"a\"))", "(/comment (value.priv a))",
		"(/comment (value.priv (\"a\")))", "(/a* (value.priv \"a\"))",
		"(/flags/seen (value.priv \"1\"))", "/comment",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = parse(bad[i]);
		assert_int_equal(imap_annotate_store_parse(&cmd.args[0], &st,
							   &error), -1);
		assert_int_equal(st.count, 0);
		imap_parsed_command_free(&cmd);
	}
}

static void test_value_write(void **state)
{
	(void)state;
	struct strbuf out = STRBUF_INIT;
	imap_annotate_value_write(&out, NULL, 0);
	assert_string_equal(out.s, "NIL");
	strbuf_reset(&out);
	imap_annotate_value_write(&out, "My comment", 10);
	assert_string_equal(out.s, "\"My comment\"");
	strbuf_reset(&out);
	imap_annotate_value_write(&out, "a\"b", 3);
	assert_string_equal(out.s, "{3}\r\na\"b");
	strbuf_reset(&out);
	imap_annotate_value_write(&out, "a\0b", 3);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.s, "~{3}\r\na\0b", 9);
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_names),
		cmocka_unit_test(test_entry_match),
		cmocka_unit_test(test_attr_names),
		cmocka_unit_test(test_fetch_parse),
		cmocka_unit_test(test_store_parse),
		cmocka_unit_test(test_value_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
