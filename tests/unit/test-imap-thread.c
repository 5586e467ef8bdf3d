/* THREAD: ORDEREDSUBJECT and REFERENCES over hand-made message
 * descriptors, Message-ID parsing, and hostile inputs (loops, duplicates,
 * very deep chains). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-sort.h"
#include "imap/imap-thread.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

struct tmsg {
	int64_t date;
	const char *subject;   /* raw; the base subject is taken here */
	const char *message_id;
	const char *references;
	const char *in_reply_to;
};

/* Threads msgs (seq = index + 1, uid = 100 + seq) and compares. */
static void check_thread(enum imap_thread_algorithm alg, const struct tmsg *in,
			 size_t n, bool uid, const char *want)
{
	struct imap_thread_message *m = xcalloc(n, sizeof(*m));
	struct strbuf *subj = xcalloc(n, sizeof(*subj));
	for (size_t i = 0; i < n; i++) {
		const char *s = in[i].subject ? in[i].subject : "";
		m[i].is_reply = imap_sort_base_subject(s, strlen(s), &subj[i]);
		strbuf_append(&subj[i], "", 0);
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i + 101;
		m[i].date = in[i].date;
		m[i].subject = subj[i].s;
		m[i].message_id = in[i].message_id;
		m[i].references = in[i].references;
		m[i].in_reply_to = in[i].in_reply_to;
	}
	struct strbuf out = STRBUF_INIT;
	imap_thread_build(alg, m, n, uid, &out);
	strbuf_append(&out, "", 0);
	if (strcmp(out.s, want) != 0)
		fail_msg("thread: got \"%s\", want \"%s\"", out.s, want);
	strbuf_free(&out);
	for (size_t i = 0; i < n; i++)
		strbuf_free(&subj[i]);
	free(subj);
	free(m);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_algorithm_names(void **state)
{
	(void)state;
	enum imap_thread_algorithm a;
	assert_true(imap_thread_algorithm_parse("orderedsubject", &a));
	assert_int_equal(a, IMAP_THREAD_ORDEREDSUBJECT);
	assert_true(imap_thread_algorithm_parse("REFERENCES", &a));
	assert_int_equal(a, IMAP_THREAD_REFERENCES);
	assert_false(imap_thread_algorithm_parse("REFS", &a));
}

static void test_orderedsubject(void **state)
{
	(void)state;
	/* Sorted by base subject then date; threads by their first date;
	 * children never have children of their own. */
	const struct tmsg a[] = {
		{ 100, "A", NULL, NULL, NULL },
		{ 200, "Re: A", NULL, NULL, NULL },
		{ 150, "B", NULL, NULL, NULL },
		{ 50, "re: a", NULL, NULL, NULL },
		{ 300, "[list] Re: B", NULL, NULL, NULL },
		{ 10, "C", NULL, NULL, NULL },
		{ 300, "A (fwd)", NULL, NULL, "<x@y>" },
	};
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, a, N(a), false,
		     "(6)(4 (1)(2)(7))(3 5)");
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, a, N(a), true,
		     "(106)(104 (101)(102)(107))(103 105)");
	/* Equal dates: sequence order. */
	const struct tmsg b[] = {
		{ 100, "X", NULL, NULL, NULL },
		{ 100, "X", NULL, NULL, NULL },
		{ 100, "", NULL, NULL, NULL },
	};
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, b, N(b), false, "(1 2)(3)");
	check_thread(IMAP_THREAD_ORDEREDSUBJECT, b, 0, false, "");
}

static void test_references_chain(void **state)
{
	(void)state;
	const struct tmsg a[] = {
		{ 100, "Hi", "<a@x>", NULL, NULL },
		{ 200, "Re: Hi", "<b@x>", "<a@x>", NULL },
		{ 300, "Re: Hi", "<c@x>", "<a@x> <b@x>", NULL },
		/* a sibling of b, answered before it */
		{ 150, "Re: Hi", "<d@x>", "<a@x>", NULL },
		{ 50, "Other", "<e@x>", NULL, NULL },
	};
	check_thread(IMAP_THREAD_REFERENCES, a, N(a), false, "(5)(1 (4)(2 3))");
}

static void test_references_missing_parent(void **state)
{
	(void)state;
	/* Two replies to a message we do not have: a dummy parent at the
	 * top, kept because it has two children. */
	const struct tmsg a[] = {
		{ 200, "Re: one", "<b@x>", "<a@x>", NULL },
		{ 100, "Re: two", "<c@x>", "<zz@x> <a@x>", NULL },
		{ 300, "three", "<d@x>", "<gone@x>", NULL },
	};
	check_thread(IMAP_THREAD_REFERENCES, a, N(a), false, "((2)(1))(3)");
	/* A missing message in the middle of a chain is spliced out. */
	const struct tmsg b[] = {
		{ 100, "p", "<a@x>", NULL, NULL },
		{ 300, "q", "<c@x>", "<a@x> <b@x>", NULL },
		{ 200, "r", "<d@x>", "<a@x> <b@x>", NULL },
	};
	check_thread(IMAP_THREAD_REFERENCES, b, N(b), false, "(1 (3)(2))");
}

static void test_references_in_reply_to(void **state)
{
	(void)state;
	const struct tmsg a[] = {
		{ 100, "p", "<a@x>", NULL, NULL },
		/* first valid id only; References without ids falls back */
		{ 200, "q", "<b@x>", "no ids here", "<a@x> (sent from) <b@x>" },
		/* quoting differs, same id */
		{ 300, "r", "<c@x>", "<\"b\"@x>", NULL },
		{ 400, "s", "<d@x>", NULL, "<noat> <c@x>" },
	};
	check_thread(IMAP_THREAD_REFERENCES, a, N(a), false, "(1 2 3 4)");
}

static void test_references_loops(void **state)
{
	(void)state;
	/* a says b is its parent, b says a is: one link is refused. */
	const struct tmsg a[] = {
		{ 100, "p", "<a@x>", "<b@x>", NULL },
		{ 200, "q", "<b@x>", "<a@x>", NULL },
	};
	check_thread(IMAP_THREAD_REFERENCES, a, N(a), false, "(2 1)");
	/* Self-reference, and a References list that repeats itself. */
	const struct tmsg b[] = {
		{ 100, "p", "<a@x>", "<a@x>", NULL },
		{ 200, "q", "<b@x>", "<c@x> <d@x> <c@x> <b@x> <a@x>", NULL },
	};
	/* The list itself makes b the parent of a, so a cannot be b's. */
	check_thread(IMAP_THREAD_REFERENCES, b, N(b), false, "(2 1)");
	/* Duplicate Message-IDs: only the first message owns it. */
	const struct tmsg c[] = {
		{ 100, "p", "<a@x>", NULL, NULL },
		{ 200, "q", "<a@x>", NULL, NULL },
		{ 300, "r", "<c@x>", "<a@x>", NULL },
		{ 400, "s", NULL, NULL, NULL },
	};
	check_thread(IMAP_THREAD_REFERENCES, c, N(c), false, "(1 3)(2)(4)");
}

static void test_references_subjects(void **state)
{
	(void)state;
	/* No references: a reply joins the original by subject. */
	const struct tmsg a[] = {
		{ 100, "Hello", "<a@x>", NULL, NULL },
		{ 200, "Re: Hello", "<b@x>", NULL, NULL },
		{ 300, "hello", "<c@x>", NULL, NULL },
		{ 400, "Unrelated", "<d@x>", NULL, NULL },
		{ 500, "", "<e@x>", NULL, NULL },
		{ 600, "", "<f@x>", NULL, NULL },
	};
	/* 2 is a reply to 1; 1 and 3 are both originals, so a dummy holds
	 * them.  Empty subjects are never merged. */
	check_thread(IMAP_THREAD_REFERENCES, a, N(a), false,
		     "((1 2)(3))(4)(5)(6)");
	const struct tmsg b[] = {
		{ 100, "Re: Hello", "<a@x>", NULL, NULL },
		{ 200, "Hello", "<b@x>", NULL, NULL },
	};
	/* The table prefers the original over the reply. */
	check_thread(IMAP_THREAD_REFERENCES, b, N(b), false, "(2 1)");
	/* Two dummy-headed threads with the same subject are merged. */
	const struct tmsg c[] = {
		{ 100, "Re: topic", "<b@x>", "<a@x>", NULL },
		{ 200, "Re: topic", "<c@x>", "<a@x>", NULL },
		{ 300, "Re: topic", "<e@x>", "<d@x>", NULL },
		{ 400, "Re: topic", "<f@x>", "<d@x>", NULL },
	};
	check_thread(IMAP_THREAD_REFERENCES, c, N(c), false, "((1)(2)(3)(4))");
}

static bool collect_id(const char *id, size_t len, void *ctx)
{
	struct strbuf *sb = ctx;
	strbuf_append(sb, id, len);
	strbuf_appendc(sb, '|');
	return true;
}

static void test_msgids(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	imap_thread_msgids_parse("<a@b> junk <c d@e> <noat> <\"q\\\"x\"@x> <x <y@z>"
				 " <(comment)p@q> <unterminated@x", collect_id, &sb);
	strbuf_append(&sb, "", 0);
	assert_string_equal(sb.s, "a@b|cd@e|q\"x@x|y@z|p@q|");
	strbuf_free(&sb);
	imap_thread_msgids_parse(NULL, collect_id, &sb);
	assert_int_equal(sb.len, 0);
}

/* A chain as deep as a big mailbox: nothing may recurse per level. */
static void test_deep_chain(void **state)
{
	(void)state;
	const size_t n = 50000;
	struct imap_thread_message *m = xcalloc(n, sizeof(*m));
	char **ids = xcalloc(n, sizeof(*ids));
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "<m%zu@x>", i);
		ids[i] = xstrdup(buf);
		m[i].seq = (uint32_t)i + 1;
		m[i].uid = (uint32_t)i + 1;
		/* Reverse dates: siblings sorting has work to do. */
		m[i].date = (int64_t)(n - i);
		m[i].subject = "deep";
		m[i].message_id = ids[i];
		m[i].references = i > 0 ? ids[i - 1] : NULL;
	}
	struct strbuf out = STRBUF_INIT;
	imap_thread_build(IMAP_THREAD_REFERENCES, m, n, false, &out);
	strbuf_append(&out, "", 0);
	assert_true(strncmp(out.s, "(1 2 3 ", 7) == 0);
	assert_true(out.len > 0 && out.s[out.len - 1] == ')');
	strbuf_reset(&out);
	/* Now every message also names the first as the parent of all: a
	 * wide tree under message 1. */
	for (size_t i = 1; i < n; i++)
		m[i].references = ids[0];
	imap_thread_build(IMAP_THREAD_REFERENCES, m, n, false, &out);
	strbuf_append(&out, "", 0);
	char want[32];
	snprintf(want, sizeof(want), "(1 (%zu)(", n);
	assert_true(strncmp(out.s, want, strlen(want)) == 0);
	strbuf_free(&out);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(m);
}

/* References that ask again and again whether a deep node descends from
 * the top of its chain: each check is a bounded walk. */
static void test_repeated_deep_checks(void **state)
{
	(void)state;
	const size_t depth = 2000, attackers = 500;
	size_t n = depth + attackers;
	struct imap_thread_message *m = xcalloc(n, sizeof(*m));
	char **ids = xcalloc(n, sizeof(*ids));
	struct strbuf hostile = STRBUF_INIT;
	for (size_t k = 0; k < 64; k++)
		strbuf_printf(&hostile, "<m%zu@x> <m0@x> ", depth - 1);
	strbuf_append(&hostile, "", 0);
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "<m%zu@x>", i);
		ids[i] = xstrdup(buf);
		m[i].seq = m[i].uid = (uint32_t)i + 1;
		m[i].date = (int64_t)i;
		m[i].subject = "";
		m[i].message_id = ids[i];
		m[i].references = i == 0 ? NULL : i < depth ? ids[i - 1] : hostile.s;
	}
	struct strbuf out = STRBUF_INIT;
	imap_thread_build(IMAP_THREAD_REFERENCES, m, n, false, &out);
	strbuf_append(&out, "", 0);
	assert_true(strncmp(out.s, "(1 (2 3 4 ", 10) == 0);
	strbuf_free(&out);
	strbuf_free(&hostile);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_algorithm_names),
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_references_chain),
		cmocka_unit_test(test_references_missing_parent),
		cmocka_unit_test(test_references_in_reply_to),
		cmocka_unit_test(test_references_loops),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_msgids),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_repeated_deep_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
