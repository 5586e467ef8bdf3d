/* Tests of the LMTP grammar: command lines, recipient parts, domains and
 * the DATA decoder (dot stuffing, line endings, limits, byte at a time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/strbuf.h"
#include "lmtp/lmtp-parser.h"

static int parse(const char *line, struct lmtp_command *cmd,
		 const char **reply)
{
	return lmtp_command_parse(line, strlen(line), cmd, reply);
}

static void assert_refused(const char *line, const char *reply_prefix)
{
	struct lmtp_command cmd;
	const char *reply = NULL;
	if (parse(line, &cmd, &reply) == 0) {
		print_error("accepted \"%s\"\n", line);
		fail();
	}
	assert_non_null(reply);
	if (strncmp(reply, reply_prefix, strlen(reply_prefix)) != 0) {
		print_error("\"%s\": got \"%s\"\n", line, reply);
		fail();
	}
}

static void test_verbs(void **state)
{
	struct lmtp_command cmd;
	const char *reply;
	assert_int_equal(parse("LHLO mx.example.org", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_LHLO);
	assert_string_equal(cmd.arg, "mx.example.org");
	assert_int_equal(parse("lhlo x", &cmd, &reply), 0);
	assert_int_equal(parse("DATA", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_DATA);
	assert_int_equal(parse("data ", &cmd, &reply), 0);
	assert_int_equal(parse("RSET", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_RSET);
	assert_int_equal(parse("NOOP anything at all", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_NOOP);
	assert_int_equal(parse("QUIT", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_QUIT);
	assert_int_equal(parse("VRFY alice", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_VRFY);
	assert_string_equal(cmd.arg, "alice");

	assert_refused("", "500 5.5.1");
	assert_refused("HELO x", "500 5.5.1");
	assert_refused("EHLO x", "500 5.5.1");
	assert_refused("DATAX", "500 5.5.1");
	assert_refused("LHLO", "501 5.5.4");
	assert_refused("LHLO a b", "501 5.5.4");
	assert_refused("DATA now", "501 5.5.4");
	assert_refused("QUIT x", "501 5.5.4");
	assert_refused("VRFY", "501 5.5.4");
	assert_refused("NOOP \x01", "501 5.5.2");
}

static void test_mail(void **state)
{
	struct lmtp_command cmd;
	const char *reply;
	assert_int_equal(parse("MAIL FROM:<a@example.org>", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_MAIL);
	assert_string_equal(cmd.path, "a@example.org");
	assert_false(cmd.has_size);
	assert_int_equal(parse("mail from:<>", &cmd, &reply), 0);
	assert_string_equal(cmd.path, "");
	assert_int_equal(parse("MAIL FROM: <a@b.c>", &cmd, &reply), 0);
	assert_int_equal(parse("MAIL FROM:<@relay.example:a@b.c>", &cmd, &reply), 0);
	assert_string_equal(cmd.path, "a@b.c");
	assert_int_equal(parse("MAIL FROM:<\"x y\"@[192.0.2.1]> SIZE=1234 "
			       "BODY=8BITMIME SMTPUTF8", &cmd, &reply), 0);
	assert_string_equal(cmd.path, "\"x y\"@[192.0.2.1]");
	assert_true(cmd.has_size);
	assert_int_equal(cmd.size, 1234);
	assert_int_equal(cmd.body, LMTP_BODY_8BITMIME);
	assert_true(cmd.smtputf8);
	assert_int_equal(parse("MAIL FROM:<a@b.c> body=7bit", &cmd, &reply), 0);
	assert_int_equal(cmd.body, LMTP_BODY_7BIT);
	assert_int_equal(parse("MAIL FROM:<a@b.c> SIZE=99999999999999999999",
			       &cmd, &reply), 0);
	assert_int_equal(cmd.size, UINT64_MAX);
	assert_int_equal(parse("MAIL FROM:<j\xc3\xb6rg@b\xc3\xa4r.de>", &cmd,
			       &reply), 0);

	assert_refused("MAIL", "501 5.5.4");
	assert_refused("MAIL TO:<a@b.c>", "501 5.5.4");
	assert_refused("MAIL FROM:a@b.c", "501 5.1.7");
	assert_refused("MAIL FROM:<a@b.c", "501 5.1.7");
	assert_refused("MAIL FROM:<a>", "501 5.1.7");
	assert_refused("MAIL FROM:<a@>", "501 5.1.7");
	assert_refused("MAIL FROM:<a@b..c>", "501 5.1.7");
	assert_refused("MAIL FROM:<a..b@c>", "501 5.1.7");
	assert_refused("MAIL FROM:<@x:>", "501 5.1.7");
	assert_refused("MAIL FROM:<a@b.c>x", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> SIZE", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> SIZE=", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> SIZE=1 SIZE=2", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> SIZE=123456789012345678901", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> BODY=BINARYMIME", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> SMTPUTF8=yes", "501 5.5.4");
	assert_refused("MAIL FROM:<a@b.c> RET=HDRS", "555 5.5.4");

	char longpath[400];
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "MAIL FROM:<", 11);
	strcpy(longpath + 300, "@b.c>");
	assert_refused(longpath, "501 5.1.7");
}

static void test_rcpt(void **state)
{
	struct lmtp_command cmd;
	const char *reply;
	assert_int_equal(parse("RCPT TO:<alice>", &cmd, &reply), 0);
	assert_int_equal(cmd.verb, LMTP_VERB_RCPT);
	assert_string_equal(cmd.path, "alice");
	assert_int_equal(parse("rcpt to:<alice+work@example.org>", &cmd, &reply), 0);
	assert_string_equal(cmd.path, "alice+work@example.org");
	assert_refused("RCPT TO:<>", "501 5.1.3");
	assert_refused("RCPT TO:alice", "501 5.1.3");
	assert_refused("RCPT TO:<alice> NOTIFY=NEVER", "555 5.5.4");
	assert_refused("RCPT FROM:<alice>", "501 5.5.4");
	assert_refused("RCPT TO:<a@-b.c>", "501 5.1.3");
	assert_refused("RCPT TO:<a@b-.c>", "501 5.1.3");
	assert_refused("RCPT TO:<a@[1.2.3.4>", "501 5.1.3");
}

static void test_line_limit(void **state)
{
	char line[LMTP_LINE_MAX + 2];
	memset(line, 'x', sizeof(line));
	memcpy(line, "NOOP ", 5);
	struct lmtp_command cmd;
	const char *reply;
	assert_int_equal(lmtp_command_parse(line, LMTP_LINE_MAX, &cmd, &reply), 0);
	assert_int_equal(lmtp_command_parse(line, LMTP_LINE_MAX + 1, &cmd,
					    &reply), -1);
	assert_string_equal(reply, "500 5.5.2 Line too long");
	/* NUL inside a line */
	assert_int_equal(lmtp_command_parse("NOOP a\0b", 8, &cmd, &reply), -1);
}

static void test_recipient_split(void **state)
{
	char u[64], d[64], dom[64];
	assert_int_equal(lmtp_recipient_split("alice", u, sizeof(u), d,
					      sizeof(d), dom, sizeof(dom)), 0);
	assert_string_equal(u, "alice");
	assert_string_equal(d, "");
	assert_string_equal(dom, "");
	assert_int_equal(lmtp_recipient_split("alice+Work@Example.org", u,
					      sizeof(u), d, sizeof(d), dom,
					      sizeof(dom)), 0);
	assert_string_equal(u, "alice");
	assert_string_equal(d, "Work");
	assert_string_equal(dom, "Example.org");
	assert_int_equal(lmtp_recipient_split("a+b+c@x", u, sizeof(u), d,
					      sizeof(d), dom, sizeof(dom)), 0);
	assert_string_equal(u, "a");
	assert_string_equal(d, "b+c");
	assert_int_equal(lmtp_recipient_split("\"al ice\"@x", u, sizeof(u), d,
					      sizeof(d), dom, sizeof(dom)), 0);
	assert_string_equal(u, "al ice");
	assert_int_equal(lmtp_recipient_split("alice+@x", u, sizeof(u), d,
					      sizeof(d), dom, sizeof(dom)), 0);
	assert_string_equal(d, "");
	assert_int_equal(lmtp_recipient_split("", u, sizeof(u), d, sizeof(d),
					      dom, sizeof(dom)), -1);
	assert_int_equal(lmtp_recipient_split("+x@y", u, sizeof(u), d,
					      sizeof(d), dom, sizeof(dom)), -1);
	assert_int_equal(lmtp_recipient_split("a@", u, sizeof(u), d, sizeof(d),
					      dom, sizeof(dom)), -1);
	/* does not fit */
	assert_int_equal(lmtp_recipient_split("abcdef", u, 4, d, sizeof(d),
					      dom, sizeof(dom)), -1);
}

static void test_domains(void **state)
{
	assert_true(lmtp_domain_listed("", "example.org"));
	assert_true(lmtp_domain_listed("  ", "example.org"));
	assert_true(lmtp_domain_listed("a.org example.org", "EXAMPLE.org"));
	assert_false(lmtp_domain_listed("a.org example.org", "example.com"));
	assert_false(lmtp_domain_listed("a.org", "a.or"));
	assert_false(lmtp_domain_listed("a.org", ""));
}

static struct strbuf decoded;

/* Feeds input in chunks of `step` bytes; returns what was decoded and
 * the bytes consumed in total. */
static char *decode(const char *in, size_t len, size_t step, uint64_t max,
		    struct lmtp_data_decoder *d, size_t *consumed_r,
		    int *done_r)
{
	strbuf_reset(&decoded);
	lmtp_data_init(d, &decoded, max);
	size_t pos = 0;
	int done = 0;
	while (pos < len && !done) {
		size_t n = len - pos < step ? len - pos : step;
		size_t used = 0;
		done = lmtp_data_feed(d, in + pos, n, &used);
		assert_true(used <= n);
		if (!done)
			assert_int_equal(used, n);
		pos += used;
	}
	*consumed_r = pos;
	*done_r = done;
	strbuf_append(&decoded, "", 0);
	return decoded.s;
}

static void check_decode(const char *in, const char *expected,
			 size_t expected_consumed)
{
	size_t len = strlen(in);
	for (size_t step = 1; step <= len; step++) {
		struct lmtp_data_decoder d;
		size_t consumed;
		int done;
		char *got = decode(in, len, step, 0, &d, &consumed, &done);
		assert_int_equal(done, 1);
		assert_string_equal(got, expected);
		assert_int_equal(consumed, expected_consumed);
		assert_false(d.too_big);
	}
}

static void test_data(void **state)
{
	check_decode(".\r\n", "", 3);
	check_decode("a\r\n.\r\n", "a\r\n", 6);
	check_decode("a\r\n.\r\nNOOP\r\n", "a\r\n", 6);
	check_decode("..x\r\n.\r\n", ".x\r\n", 8);
	check_decode("...\r\n.\r\n", "..\r\n", 8);
	check_decode("a\nb\n.\n", "a\r\nb\r\n", 6);
	check_decode("a\rb\r\n.\r\n", "a\r\nb\r\n", 8);
	check_decode("a.\r\n.\r\n", "a.\r\n", 7);
	check_decode(".a\r\n.b\r\n.\r\n", "a\r\nb\r\n", 11);

	struct lmtp_data_decoder d;
	size_t consumed;
	int done;
	char *got = decode("a\0b\r\n.\r\n", 8, 3, 0, &d, &consumed, &done);
	assert_int_equal(done, 1);
	assert_true(d.has_nul);
	assert_string_equal(got, "ab\r\n");

	got = decode("0123456789\r\n.\r\n", 15, 4, 5, &d, &consumed, &done);
	assert_int_equal(done, 1);
	assert_true(d.too_big);
	assert_int_equal(d.size, 12);
	assert_true(strlen(got) <= 5);

	got = decode("no end\r\n", 8, 8, 0, &d, &consumed, &done);
	assert_int_equal(done, 0);
	assert_int_equal(consumed, 8);
	assert_string_equal(got, "no end\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_mail),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_recipient_split),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_data),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	strbuf_free(&decoded);
	return failed;
}
