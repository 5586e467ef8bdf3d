/* Tests of the POP3 grammar: command lines, message numbers, limits, and
 * the RETR/TOP encoder (byte stuffing, line endings, TOP cuts, fed whole
 * and a byte at a time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/strbuf.h"
#include "pop3/pop3-parser.h"

static int parse(const char *line, struct pop3_command *cmd,
		 const char **error)
{
	return pop3_command_parse(line, strlen(line), cmd, error);
}

static void assert_refused(const char *line)
{
	struct pop3_command cmd;
	const char *error = NULL;
	if (parse(line, &cmd, &error) == 0) {
		print_error("accepted \"%s\"\n", line);
		fail();
	}
	assert_non_null(error);
}

static void test_verbs(void **state)
{
	struct pop3_command cmd;
	const char *error;
	assert_int_equal(parse("USER alice", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_USER);
	assert_string_equal(cmd.arg, "alice");
	assert_int_equal(parse("pass  two  spaces ", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_PASS);
	assert_string_equal(cmd.arg, " two  spaces ");
	assert_int_equal(parse("AUTH", &cmd, &error), 0);
	assert_int_equal(cmd.argc, 0);
	assert_int_equal(parse("AUTH PLAIN", &cmd, &error), 0);
	assert_int_equal(cmd.argc, 1);
	assert_string_equal(cmd.arg, "PLAIN");
	assert_int_equal(parse("AUTH PLAIN AGFsaWNlAHB3", &cmd, &error), 0);
	assert_int_equal(cmd.argc, 2);
	assert_string_equal(cmd.arg2, "AGFsaWNlAHB3");
	assert_int_equal(parse("Stat", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_STAT);
	assert_int_equal(parse("LIST", &cmd, &error), 0);
	assert_int_equal(cmd.argc, 0);
	assert_int_equal(parse("LIST 7", &cmd, &error), 0);
	assert_int_equal(cmd.argc, 1);
	assert_int_equal(cmd.msg, 7);
	assert_int_equal(parse("UIDL 12", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_UIDL);
	assert_int_equal(cmd.msg, 12);
	assert_int_equal(parse("RETR 1", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_RETR);
	assert_int_equal(parse("TOP 3 0", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_TOP);
	assert_int_equal(cmd.msg, 3);
	assert_int_equal(cmd.lines, 0);
	assert_int_equal(parse("TOP 3 99999999999999999999999", &cmd, &error), 0);
	assert_true(cmd.lines == UINT64_MAX);
	assert_int_equal(parse("DELE 2", &cmd, &error), 0);
	assert_int_equal(parse("NOOP", &cmd, &error), 0);
	assert_int_equal(parse("RSET", &cmd, &error), 0);
	assert_int_equal(parse("QUIT", &cmd, &error), 0);
	assert_int_equal(parse("CAPA", &cmd, &error), 0);
	assert_int_equal(parse("STLS", &cmd, &error), 0);
	assert_int_equal(cmd.verb, POP3_VERB_STLS);
	assert_string_equal(pop3_verb_name(POP3_VERB_TOP), "TOP");
	/* a huge message number saturates (then "no such message") */
	assert_int_equal(parse("RETR 99999999999999999999999", &cmd, &error), 0);
	assert_true(cmd.msg == UINT64_MAX);
}

static void test_refused(void **state)
{
	struct pop3_command cmd;
	const char *error;
	assert_int_equal(parse("FOO", &cmd, &error), -1);
	assert_int_equal(cmd.verb, POP3_VERB_UNKNOWN);
	assert_refused("");
	assert_refused("   ");
	assert_refused("APOP alice abc");
	assert_refused("STATUS");
	assert_refused("USER");
	assert_refused("USER a b");
	assert_refused("PASS");
	assert_refused("PASS ");
	assert_refused("PASSx");
	assert_refused("AUTH a b c");
	assert_refused("STAT 1");
	assert_refused("NOOP x");
	assert_refused("LIST 1 2");
	assert_refused("LIST x");
	assert_refused("LIST 0");
	assert_refused("RETR");
	assert_refused("RETR 0");
	assert_refused("RETR -1");
	assert_refused("RETR +1");
	assert_refused("RETR 1x");
	assert_refused("DELE");
	assert_refused("TOP 1");
	assert_refused("TOP 1 -1");
	assert_refused("TOP 0 1");
	assert_refused("TOP 1 2 3");
	char nul[] = "NOOP\0";
	assert_int_equal(pop3_command_parse(nul, 5, &cmd, &error), -1);
	char *big = malloc(POP3_LINE_MAX + 2);
	memset(big, 'a', POP3_LINE_MAX + 1);
	memcpy(big, "USER ", 5);
	big[POP3_LINE_MAX + 1] = '\0';
	assert_int_equal(parse(big, &cmd, &error), -1);
	big[POP3_LINE_MAX] = '\0';
	assert_int_equal(parse(big, &cmd, &error), 0);
	assert_int_equal(strlen(cmd.arg), POP3_LINE_MAX - 5);
	free(big);
}

/* Encodes msg whole and a byte at a time; both must agree. */
static char *encode(const char *msg, bool top, uint64_t lines)
{
	struct pop3_encoder e;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	size_t len = strlen(msg);
	pop3_encoder_init(&e, top, lines);
	size_t used = pop3_encoder_feed(&e, msg, len, &a);
	assert_true(used <= len);
	assert_true(used == len || e.done);
	pop3_encoder_finish(&e, &a);
	pop3_encoder_init(&e, top, lines);
	for (size_t i = 0; i < len && !e.done; i++)
		assert_int_equal(pop3_encoder_feed(&e, msg + i, 1, &b), 1);
	pop3_encoder_finish(&e, &b);
	assert_string_equal(strbuf_str(&a), strbuf_str(&b));
	strbuf_free(&b);
	return strbuf_detach(&a, NULL);
}

static void assert_encoded(const char *msg, bool top, uint64_t lines,
			   const char *want)
{
	char *got = encode(msg, top, lines);
	assert_string_equal(got, want);
	free(got);
}

static void test_encoder(void **state)
{
	assert_encoded("", false, 0, ".\r\n");
	assert_encoded("A: b\r\n\r\nbody\r\n", false, 0,
		       "A: b\r\n\r\nbody\r\n.\r\n");
	/* RFC 1939 §3: byte-stuffing */
	assert_encoded("A: b\r\n\r\n.\r\n..x\r\n.y\r\n", false, 0,
		       "A: b\r\n\r\n..\r\n...x\r\n..y\r\n.\r\n");
	assert_encoded(".first\r\n", false, 0, "..first\r\n.\r\n");
	/* bare LF becomes CRLF; a missing last line end is added */
	assert_encoded("A: b\n\nx\n.y", false, 0,
		       "A: b\r\n\r\nx\r\n..y\r\n.\r\n");
	assert_encoded("A: b\r\n\r\nx\r", false, 0, "A: b\r\n\r\nx\r\n.\r\n");
	/* a CR inside a line is data */
	assert_encoded("A: b\r\n\r\nx\ry\r\n", false, 0,
		       "A: b\r\n\r\nx\ry\r\n.\r\n");
}

static void test_top(void **state)
{
	const char *msg = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";
	assert_encoded(msg, true, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
	assert_encoded(msg, true, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
	assert_encoded(msg, true, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
	assert_encoded(msg, true, 3,
		       "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	assert_encoded(msg, true, UINT64_MAX,
		       "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* no body separator: everything is header */
	assert_encoded("A: 1\r\nB: 2", true, 0, "A: 1\r\nB: 2\r\n.\r\n");
	/* bare LF separator */
	assert_encoded("A: 1\n\nx\ny\n", true, 1, "A: 1\r\n\r\nx\r\n.\r\n");
	/* an empty line in the body counts as a line */
	assert_encoded("A: 1\r\n\r\n\r\nx\r\n", true, 1,
		       "A: 1\r\n\r\n\r\n.\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_encoder),
		cmocka_unit_test(test_top),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
