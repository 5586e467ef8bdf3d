/* Tests of sequence sets (RFC 3501 §9 sequence-set). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-parser.h"
#include "lib/strbuf.h"

/* The ranges as "lo:hi,..." with '*' for SEQSET_STAR unless resolved. */
static char *set_str(const struct seqset *set)
{
	uint32_t star = set->resolved ? 0 : SEQSET_STAR;

	struct strbuf out = STRBUF_INIT;

	for (size_t i = 0; i < set->count; i++) {
		if (i > 0)
			strbuf_appendc(&out, ',');
		if (set->ranges[i].lo == star)
			strbuf_appendc(&out, '*');
		else
			strbuf_printf(&out, "%u", set->ranges[i].lo);
		strbuf_appendc(&out, ':');
		if (set->ranges[i].hi == star)
			strbuf_appendc(&out, '*');
		else
			strbuf_printf(&out, "%u", set->ranges[i].hi);
	}
	/* (strbuf_detach() of a never-used buffer skips the NUL) */
	strbuf_append(&out, "", 0);
	return strbuf_detach(&out, NULL);
}

static void assert_parsed(const char *in, const char *expected)
{
	struct seqset set;

	if (seqset_parse(in, &set) < 0) {
		print_error("refused \"%s\"\n", in);
		fail();
	}
	assert_false(set.resolved);
	char *got = set_str(&set);
	assert_string_equal(got, expected);
	free(got);
	seqset_free(&set);
	assert_null(set.ranges);
	assert_int_equal(set.count, 0);
}

static void assert_resolved(const char *in, uint32_t star, const char *expected)
{
	struct seqset set;

	assert_int_equal(seqset_parse(in, &set), 0);
	seqset_resolve(&set, star);
	assert_true(set.resolved);
	char *got = set_str(&set);
	assert_string_equal(got, expected);
	free(got);
	seqset_free(&set);
}

static void assert_bad(const char *in)
{
	struct seqset set;

	if (seqset_parse(in, &set) == 0) {
		print_error("accepted \"%s\"\n", in);
		fail();
	}
	assert_null(set.ranges);
	assert_int_equal(set.count, 0);
}

static void test_parse(void **state)
{
	(void)state;
	assert_parsed("1", "1:1");
	assert_parsed("1:3,5,7:*", "1:3,5:5,7:*");
	assert_parsed("3:1", "1:3");
	assert_parsed("*:4", "4:*");
	assert_parsed("*", "*:*");
	assert_parsed("*:*", "*:*");
	assert_parsed("4294967294", "4294967294:4294967294");
	/* the largest number cannot be told from '*' */
	assert_parsed("4294967295", "*:*");
	assert_parsed("10,9,8,1:100", "10:10,9:9,8:8,1:100");
	assert_parsed("2,2,2", "2:2,2:2,2:2");
}

static void test_parse_bad(void **state)
{
	(void)state;
	assert_bad("");
	assert_bad("0");
	assert_bad("0:5");
	assert_bad("5:0");
	assert_bad("01");
	assert_bad("1:05");
	assert_bad("4294967296");
	assert_bad("99999999999");
	assert_bad("1,");
	assert_bad(",1");
	assert_bad("1,,2");
	assert_bad("1:");
	assert_bad(":1");
	assert_bad("1::2");
	assert_bad("1:2:3");
	assert_bad("1 ");
	assert_bad(" 1");
	assert_bad("-1");
	assert_bad("+1");
	assert_bad("1:*x");
	assert_bad("**");
	assert_bad("$");
	assert_bad("a");
}

static void test_resolve(void **state)
{
	(void)state;
	assert_resolved("1:3,5,7:*", 10, "1:3,5:5,7:10");
	/* sort, merge overlapping and adjacent */
	assert_resolved("7,1:3,4,9:8,2", 100, "1:4,7:9");
	assert_resolved("5:*", 3, "3:5");     /* RFC 3501 §6.4.8 */
	assert_resolved("*,1", 1, "1:1");
	assert_resolved("1:*", 4294967295u, "1:4294967295");
	assert_resolved("4294967294,1:4294967293", 7, "1:4294967294");
	/* empty mailbox: nothing is 0 */
	assert_resolved("*", 0, "");
	assert_resolved("*:*,3", 0, "3:3");
	assert_resolved("5:*", 0, "1:5");
	assert_resolved("1:4294967294,3", 5, "1:4294967294");
}

static void test_contains(void **state)
{
	(void)state;
	struct seqset set;

	assert_int_equal(seqset_parse("10:20,5,30:*,1", &set), 0);
	/* before resolving: '*' is the largest number */
	assert_true(seqset_contains(&set, 1));
	assert_false(seqset_contains(&set, 2));
	assert_true(seqset_contains(&set, 15));
	assert_true(seqset_contains(&set, 4000000000u));
	assert_false(seqset_contains(&set, 0));
	seqset_resolve(&set, 40);
	static const uint32_t yes[] = { 1, 5, 10, 11, 19, 20, 30, 35, 40 };
	static const uint32_t no[] = { 0, 2, 4, 6, 9, 21, 29, 41, UINT32_MAX };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(seqset_contains(&set, yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(seqset_contains(&set, no[i]));
	seqset_free(&set);

	/* an empty set */
	struct seqset empty = { 0 };
	assert_false(seqset_contains(&empty, 1));
	assert_int_equal(seqset_parse("*", &set), 0);
	seqset_resolve(&set, 0);
	assert_false(seqset_contains(&set, 0));
	assert_false(seqset_contains(&set, 1));
	seqset_free(&set);

	/* many ranges: every other number up to 20000 */
	struct strbuf s = STRBUF_INIT;
	for (uint32_t i = 10000; i >= 1; i--)
		strbuf_printf(&s, "%s%u", i == 10000 ? "" : ",", i * 2);
	assert_int_equal(seqset_parse(s.s, &set), 0);
	seqset_resolve(&set, 1);
	assert_int_equal(set.count, 10000);
	for (uint32_t n = 0; n <= 20002; n++)
		assert_int_equal(seqset_contains(&set, n),
				 n >= 2 && n <= 20000 && n % 2 == 0);
	seqset_free(&set);
	strbuf_free(&s);
}

static void assert_written(const uint32_t *nums, size_t count,
			   const char *expected)
{
	struct strbuf out = STRBUF_INIT;

	seqset_write_numbers(&out, nums, count);
	assert_string_equal(strbuf_str(&out), expected);
	strbuf_free(&out);
}

static void test_write_numbers(void **state)
{
	(void)state;
	static const uint32_t a[] = { 1, 2, 3, 5, 7, 8, 10 };
	static const uint32_t b[] = { 4 };
	static const uint32_t c[] = { 1, 1, 2, 2, 4, 4 };
	static const uint32_t d[] = { 4294967294u, 4294967295u };
	static const uint32_t e[] = { 4294967295u, 4294967295u };

	assert_written(a, 7, "1:3,5,7:8,10");
	assert_written(b, 1, "4");
	assert_written(a, 0, "");
	assert_written(c, 6, "1:2,4");
	assert_written(d, 2, "4294967294:4294967295");
	assert_written(e, 2, "4294967295");
}

static void test_to_numbers(void **state)
{
	(void)state;
	uint32_t *nums;
	size_t count;

	assert_int_equal(seqset_to_numbers("5,1:3,2,9:8", &nums, &count, 100), 0);
	assert_int_equal(count, 6);
	static const uint32_t want[] = { 1, 2, 3, 5, 8, 9 };
	assert_memory_equal(nums, want, sizeof(want));

	/* round trip through the compact form */
	struct strbuf out = STRBUF_INIT;
	seqset_write_numbers(&out, nums, count);
	assert_string_equal(out.s, "1:3,5,8:9");
	strbuf_free(&out);
	free(nums);

	assert_int_equal(seqset_to_numbers("1:10", &nums, &count, 10), 0);
	assert_int_equal(count, 10);
	free(nums);
	assert_int_equal(seqset_to_numbers("1:11", &nums, &count, 10), -1);
	assert_null(nums);
	assert_int_equal(count, 0);
	/* a huge range is refused before anything is allocated */
	assert_int_equal(seqset_to_numbers("1:4294967294", &nums, &count, 1000),
			 -1);
	assert_int_equal(seqset_to_numbers("1:*", &nums, &count, 1000), -1);
	assert_int_equal(seqset_to_numbers("*", &nums, &count, 1000), -1);
	assert_int_equal(seqset_to_numbers("0", &nums, &count, 1000), -1);
	assert_int_equal(seqset_to_numbers("", &nums, &count, 1000), -1);
	assert_int_equal(seqset_to_numbers("4294967295", &nums, &count, 1), 0);
	assert_int_equal(count, 1);
	assert_int_equal(nums[0], 4294967295u);
	free(nums);
	assert_int_equal(seqset_to_numbers("4294967294:4294967295", &nums,
					   &count, 2), 0);
	assert_int_equal(count, 2);
	assert_int_equal(nums[1], 4294967295u);
	free(nums);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_write_numbers),
		cmocka_unit_test(test_to_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
