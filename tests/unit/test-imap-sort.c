/* SORT: sort-criteria parsing, the RFC 5256 §2.1 base subject, the first
 * address's mailbox, and the order of message descriptors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-parser.h"
#include "imap/imap-sort.h"
#include "lib/strbuf.h"

/* Parses "a SORT <text>" with the real parser; returns 0 or -1 from
 * imap_sort_program_parse on the first argument. */
static int program_parse(const char *text, struct imap_sort_program *prog)
{
	char line[512];
	snprintf(line, sizeof(line), "a SORT %s\r\n", text);
	struct imap_parsed_command cmd;
	const char *error = NULL;
	assert_int_equal(imap_parse_command(line, strlen(line), NULL, &cmd, &error), 0);
	int ret = imap_sort_program_parse(cmd.arg_count > 0 ? &cmd.args[0] : NULL,
					  prog, &error);
	if (ret < 0)
		assert_non_null(error);
	imap_parsed_command_free(&cmd);
	return ret;
}

static void test_program(void **state)
{
	(void)state;
	struct imap_sort_program p;
	assert_int_equal(program_parse("(SUBJECT REVERSE DATE) UTF-8 ALL", &p), 0);
	assert_int_equal(p.count, 2);
	assert_int_equal(p.criteria[0].key, IMAP_SORT_SUBJECT);
	assert_false(p.criteria[0].reverse);
	assert_int_equal(p.criteria[1].key, IMAP_SORT_DATE);
	assert_true(p.criteria[1].reverse);
	assert_int_equal(program_parse("(arrival cc from size to) UTF-8 ALL", &p), 0);
	assert_int_equal(p.count, 5);
	assert_false(imap_sort_program_needs_header(&(struct imap_sort_program){
		.criteria = { { IMAP_SORT_SIZE, true }, { IMAP_SORT_ARRIVAL, false } },
		.count = 2 }));
	assert_true(imap_sort_program_needs_header(&p));

	assert_int_equal(program_parse("(BOGUS) UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("() UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("(REVERSE) UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("(REVERSE REVERSE DATE) UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("(DATE REVERSE) UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("DATE UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("((DATE)) UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("(\"DATE\") UTF-8 ALL", &p), -1);
	assert_int_equal(program_parse("(DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE"
				       " DATE DATE DATE DATE DATE DATE DATE) UTF-8 ALL", &p), -1);
	const char *error = NULL;
	assert_int_equal(imap_sort_program_parse(NULL, &p, &error), -1);

	assert_true(imap_sort_charset_supported("utf-8"));
	assert_true(imap_sort_charset_supported("US-ASCII"));
	assert_false(imap_sort_charset_supported("KOI8-R"));
}

static void check_base(const char *in, const char *want, bool want_reply)
{
	struct strbuf out = STRBUF_INIT;
	bool reply = imap_sort_base_subject(in, strlen(in), &out);
	strbuf_append(&out, "", 0);
	if (strcmp(out.s, want) != 0 || reply != want_reply)
		fail_msg("base subject of \"%s\": got \"%s\" (%d), want \"%s\" (%d)",
			 in, out.s, reply, want, want_reply);
	strbuf_free(&out);
}

static void test_base_subject(void **state)
{
	(void)state;
	check_base("Hello", "Hello", false);
	check_base("", "", false);
	check_base("   ", "", false);
	check_base("Re: Hello", "Hello", true);
	check_base("RE: re: Re:Hello", "Hello", true);
	check_base("Fwd: Hello", "Hello", true);
	check_base("FW: Hello", "Hello", true);
	check_base("fw : Hello", "Hello", true);
	check_base("Re[2]: Hello", "Hello", true);
	check_base("Re [2]: Hello", "Hello", true);
	check_base("[list] Re: Hello", "Hello", true);
	check_base("[list] [other] Re: [list] Hello", "Hello", true);
	check_base("Re: [list] Hello", "Hello", true);
	/* A blob alone is the subject (step 4: "non-empty subj-base"). */
	check_base("[list]", "[list]", false);
	check_base("Re: [list]", "[list]", true);
	check_base("[a] [b]", "[b]", false);
	/* (fwd) trailers and whitespace, repeatedly. */
	check_base("Hello (fwd)", "Hello", true);
	check_base("Hello (fwd) (FWD)  ", "Hello", true);
	check_base("Hello(fwd)", "Hello", true);
	/* [fwd: ...] wrappers, nested, with leaders inside. */
	check_base("[Fwd: Hello]", "Hello", true);
	check_base("[fwd: Re: Hello]", "Hello", true);
	check_base("Re: [fwd: [Fwd: Re: Hello (fwd)]]", "Hello", true);
	check_base("[fwd: Hello", "[fwd: Hello", false);
	/* Whitespace folds to single spaces. */
	check_base("Re:\tHello \r\n  world", "Hello world", true);
	/* Not leaders. */
	check_base("Reply: Hello", "Reply: Hello", false);
	check_base("Fwdx: Hello", "Fwdx: Hello", false);
	check_base("Hello Re: x", "Hello Re: x", false);
	check_base("re", "re", false);
	check_base("Re:", "", true);
	check_base("[unterminated Re: Hello", "[unterminated Re: Hello", false);
}

static void check_addr(const char *in, const char *want)
{
	struct strbuf out = STRBUF_INIT;
	imap_sort_address_mailbox(in, strlen(in), &out);
	strbuf_append(&out, "", 0);
	if (strcmp(out.s, want) != 0)
		fail_msg("mailbox of \"%s\": got \"%s\", want \"%s\"", in, out.s, want);
	strbuf_free(&out);
}

static void test_address(void **state)
{
	(void)state;
	check_addr("alice@example.org", "alice");
	check_addr("Alice Smith <alice@example.org>", "alice");
	check_addr("\"Smith, Alice\" <alice@example.org>, bob@example.org", "alice");
	check_addr("bob@example.org, alice@example.org", "bob");
	check_addr("alice@example.org (Alice <x@y>)", "alice");
	check_addr("(comment) alice @ example.org", "alice");
	check_addr("\"a b\"@example.org", "a b");
	check_addr("<@route.example,@r2:carol@example.org>", "carol");
	check_addr("friends: dave@example.org, erin@example.org;", "dave");
	check_addr("undisclosed-recipients:;", "");
	check_addr("undisclosed-recipients:;, frank@example.org", "frank");
	check_addr("", "");
	check_addr("<", "");
	check_addr("\"unterminated", "unterminated");
	check_addr("(unterminated", "");
}

static void test_compare(void **state)
{
	(void)state;
	struct imap_sort_message m[4] = {
		{ .seq = 1, .uid = 10, .arrival = 300, .date = 100, .size = 50,
		  .from = "bob", .to = "", .cc = "x", .subject = "beta" },
		{ .seq = 2, .uid = 11, .arrival = 100, .date = 300, .size = 10,
		  .from = "Alice", .to = "z", .cc = "", .subject = "Alpha" },
		{ .seq = 3, .uid = 12, .arrival = 200, .date = 100, .size = 50,
		  .from = "carol", .to = "a", .cc = "y", .subject = "alpha" },
		{ .seq = 4, .uid = 13, .arrival = 200, .date = 200, .size = 20,
		  .from = "", .to = "m", .cc = "", .subject = "" },
	};
	struct {
		struct imap_sort_criterion c[2];
		size_t n;
		uint32_t want[4];
	} cases[] = {
		{ { { IMAP_SORT_ARRIVAL, false } }, 1, { 2, 3, 4, 1 } },
		{ { { IMAP_SORT_ARRIVAL, true } }, 1, { 1, 3, 4, 2 } },
		{ { { IMAP_SORT_DATE, false } }, 1, { 1, 3, 4, 2 } },
		/* REVERSE does not reverse the implicit sequence order. */
		{ { { IMAP_SORT_DATE, true } }, 1, { 2, 4, 1, 3 } },
		{ { { IMAP_SORT_SIZE, false } }, 1, { 2, 4, 1, 3 } },
		{ { { IMAP_SORT_FROM, false } }, 1, { 4, 2, 1, 3 } },
		{ { { IMAP_SORT_TO, false } }, 1, { 1, 3, 4, 2 } },
		{ { { IMAP_SORT_CC, false } }, 1, { 2, 4, 1, 3 } },
		{ { { IMAP_SORT_SUBJECT, false } }, 1, { 4, 2, 3, 1 } },
		{ { { IMAP_SORT_SUBJECT, false }, { IMAP_SORT_DATE, true } }, 2, { 4, 2, 3, 1 } },
		{ { { IMAP_SORT_SIZE, false }, { IMAP_SORT_ARRIVAL, true } }, 2, { 2, 4, 1, 3 } },
		{ { { IMAP_SORT_SIZE, true }, { IMAP_SORT_ARRIVAL, false } }, 2, { 3, 1, 4, 2 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_sort_program p = { .count = cases[i].n };
		memcpy(p.criteria, cases[i].c, sizeof(cases[i].c));
		struct imap_sort_message copy[4];
		memcpy(copy, m, sizeof(m));
		imap_sort_messages(&p, copy, 4);
		for (size_t k = 0; k < 4; k++)
			if (copy[k].seq != cases[i].want[k])
				fail_msg("case %zu: position %zu is %u, want %u", i, k,
					 copy[k].seq, cases[i].want[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_program),
		cmocka_unit_test(test_base_subject),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_compare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
