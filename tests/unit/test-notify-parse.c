/* The NOTIFY grammar (RFC 5465 §8 and draft -07): whole command lines
 * through the real IMAP parser, then notify_parse(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/notify-parse.h"

#define ALL_BUILT (NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_MESSAGE_EXPUNGE | \
		   NOTIFY_EV_FLAG_CHANGE | NOTIFY_EV_MAILBOX_NAME | \
		   NOTIFY_EV_SUBSCRIPTION_CHANGE | NOTIFY_EV_MAILBOX_CREATE | \
		   NOTIFY_EV_MAILBOX_DELETE | NOTIFY_EV_MAILBOX_RENAME)

struct parsed {
	struct imap_parsed_command cmd;
	struct notify_command nc;
	const char *error;
	enum notify_parse_result r;
};

static void run(struct parsed *p, const char *line, size_t max_mailboxes)
{
	const char *error = NULL;
	struct notify_limits limits = { .max_mailboxes = max_mailboxes, .max_groups = 8 };
	assert_int_equal(imap_parse_command(line, strlen(line), NULL, &p->cmd, &error), 0);
	assert_string_equal(p->cmd.name, "NOTIFY");
	p->r = notify_parse(p->cmd.args, p->cmd.arg_count, ALL_BUILT, &limits,
			    &p->nc, &p->error);
}

static void done(struct parsed *p)
{
	notify_command_free(&p->nc);
	imap_parsed_command_free(&p->cmd);
}

static enum notify_parse_result result_of(const char *line)
{
	struct parsed p;
	run(&p, line, 100);
	enum notify_parse_result r = p.r;
	if (r == NOTIFY_PARSE_BAD)
		assert_non_null(p.error);
	done(&p);
	return r;
}

static void test_none(void **state)
{
	struct parsed p;
	run(&p, "a NOTIFY NONE", 100);
	assert_int_equal(p.r, NOTIFY_PARSE_OK);
	assert_true(p.nc.none);
	assert_int_equal(p.nc.group_count, 0);
	done(&p);
	assert_int_equal(result_of("a notify none"), NOTIFY_PARSE_OK);
	assert_int_equal(result_of("a NOTIFY NONE x"), NOTIFY_PARSE_BAD);
}

static void test_rfc_example(void **state)
{
	struct parsed p;
	/* RFC 5465 §3.1's example */
	run(&p, "b notify set status (selected MessageNew (uid "
		"body.peek[header.fields (from to subject)]) MessageExpunge) "
		"(subtree Lists MessageNew)", 100);
	/* as printed there, the events are not parenthesised: BAD */
	assert_int_equal(p.r, NOTIFY_PARSE_BAD);
	done(&p);

	run(&p, "b notify set status (selected (MessageNew (uid "
		"body.peek[header.fields (from to subject)]) MessageExpunge)) "
		"(subtree (Lists \"Other &AMQ-\") (MessageNew MessageExpunge))", 100);
	assert_int_equal(p.r, NOTIFY_PARSE_OK);
	assert_true(p.nc.status);
	assert_false(p.nc.add);
	assert_int_equal(p.nc.group_count, 2);
	assert_int_equal(p.nc.groups[0].filter, NOTIFY_FILTER_SELECTED);
	assert_int_equal(p.nc.groups[0].events,
			 NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_MESSAGE_EXPUNGE);
	assert_non_null(p.nc.groups[0].new_fetch);
	assert_int_equal(p.nc.groups[0].new_fetch->count, 2);
	assert_int_equal(p.nc.groups[1].filter, NOTIFY_FILTER_SUBTREE);
	assert_int_equal(p.nc.groups[1].mailbox_count, 2);
	assert_string_equal(p.nc.groups[1].mailboxes[0], "Lists");
	assert_string_equal(p.nc.groups[1].mailboxes[1], "Other &AMQ-");
	done(&p);
}

static void test_filters(void **state)
{
	static const struct {
		const char *line;
		enum notify_filter filter;
	} cases[] = {
		{ "a NOTIFY SET (selected NONE)", NOTIFY_FILTER_SELECTED },
		{ "a NOTIFY SET (Selected-Delayed NONE)", NOTIFY_FILTER_SELECTED_DELAYED },
		{ "a NOTIFY SET (inboxes NONE)", NOTIFY_FILTER_INBOXES },
		{ "a NOTIFY SET (PERSONAL NONE)", NOTIFY_FILTER_PERSONAL },
		{ "a NOTIFY SET (subscribed NONE)", NOTIFY_FILTER_SUBSCRIBED },
		{ "a NOTIFY SET (subtree INBOX NONE)", NOTIFY_FILTER_SUBTREE },
		{ "a NOTIFY SET (mailboxes {3+}\r\nA b NONE)", NOTIFY_FILTER_MAILBOXES },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct parsed p;
		run(&p, cases[i].line, 100);
		assert_int_equal(p.r, NOTIFY_PARSE_OK);
		assert_int_equal(p.nc.group_count, 1);
		assert_int_equal(p.nc.groups[0].filter, cases[i].filter);
		assert_int_equal(p.nc.groups[0].events, 0);
		done(&p);
	}
}

static void test_rules(void **state)
{
	/* §5: MessageNew and MessageExpunge together */
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageNew))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageExpunge))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageExpunge MessageNew))"),
			 NOTIFY_PARSE_OK);
	/* FlagChange needs both */
	assert_int_equal(result_of("a NOTIFY SET (personal (FlagChange))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal (FlagChange MessageNew MessageExpunge))"),
			 NOTIFY_PARSE_OK);
	/* §6.1: message events only, one selected filter */
	assert_int_equal(result_of("a NOTIFY SET (selected (MailboxName))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (selected NONE) (selected-delayed NONE)"),
			 NOTIFY_PARSE_BAD);
	/* §8: fetch-att only for the selected filters */
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageNew (UID) MessageExpunge))"),
			 NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (selected (MessageNew (FOO) MessageExpunge))"),
			 NOTIFY_PARSE_BAD);
	/* an event twice */
	assert_int_equal(result_of("a NOTIFY SET (personal (MailboxName MailboxName))"),
			 NOTIFY_PARSE_BAD);
	/* shapes */
	assert_int_equal(result_of("a NOTIFY"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET STATUS"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal)"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal ())"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal x (MailboxName))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (subtree (MailboxName))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (subtree () (MailboxName))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (nowhere (MailboxName))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal (\"MailboxName\"))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal ((MailboxName)))"), NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY GET (personal (MailboxName))"), NOTIFY_PARSE_BAD);
}

static void test_badevent(void **state)
{
	/* unknown and known-but-unsupported: NO [BADEVENT], §3.1 */
	assert_int_equal(result_of("a NOTIFY SET (personal (Frobnicate))"),
			 NOTIFY_PARSE_BADEVENT);
	assert_int_equal(result_of("a NOTIFY SET (personal (ServerMetadataChange))"),
			 NOTIFY_PARSE_BADEVENT);
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))"),
			 NOTIFY_PARSE_BADEVENT);
	/* a syntax error wins over an unsupported event */
	assert_int_equal(result_of("a NOTIFY SET (personal (Frobnicate)) (bogus NONE)"),
			 NOTIFY_PARSE_BAD);
	struct strbuf sb = STRBUF_INIT;
	notify_events_write(&sb, NOTIFY_EV_MESSAGE_NEW | NOTIFY_EV_FLAG_CHANGE |
			    NOTIFY_EV_QUOTA_CHANGE);
	assert_string_equal(strbuf_str(&sb), "MessageNew FlagChange QuotaChange");
	strbuf_free(&sb);
}

static void test_limits(void **state)
{
	struct parsed p;
	run(&p, "a NOTIFY SET (mailboxes (a b) NONE) (subtree c NONE)", 3);
	assert_int_equal(p.r, NOTIFY_PARSE_OK);
	done(&p);
	run(&p, "a NOTIFY SET (mailboxes (a b) NONE) (subtree (c d) NONE)", 3);
	assert_int_equal(p.r, NOTIFY_PARSE_OVERFLOW);
	done(&p);
	run(&p, "a NOTIFY SET (personal NONE) (personal NONE) (personal NONE) "
		"(personal NONE) (personal NONE) (personal NONE) (personal NONE) "
		"(personal NONE) (personal NONE)", 3);
	assert_int_equal(p.r, NOTIFY_PARSE_OVERFLOW);
	done(&p);
}

static void test_draft_forms(void **state)
{
	struct parsed p;
	run(&p, "a NOTIFY ADD STATUS (personal (MailboxName QuotaExceed))", 100);
	/* QuotaExceed is not in this test's supported set */
	assert_int_equal(p.r, NOTIFY_PARSE_BADEVENT);
	done(&p);
	run(&p, "a NOTIFY ADD (personal (MailboxName))", 100);
	assert_int_equal(p.r, NOTIFY_PARSE_OK);
	assert_true(p.nc.add);
	/* MailboxName is the three draft events */
	assert_int_equal(p.nc.groups[0].events, NOTIFY_EV_MAILBOX_NAME |
			 NOTIFY_EV_MAILBOX_CREATE | NOTIFY_EV_MAILBOX_DELETE |
			 NOTIFY_EV_MAILBOX_RENAME);
	done(&p);
	run(&p, "a NOTIFY SET (inboxes (MessageNew (UID) (FROM \"boss\" UNSEEN) "
		"MessageExpunge FlagChange (OR FLAGGED DRAFT)))", 100);
	assert_int_equal(p.r, NOTIFY_PARSE_OK);
	/* outside selected, the draft's fetch-att is accepted and dropped */
	assert_null(p.nc.groups[0].new_fetch);
	assert_non_null(p.nc.groups[0].new_match);
	assert_int_equal(p.nc.groups[0].new_match->count, 3);
	assert_non_null(p.nc.groups[0].flag_match);
	done(&p);
	run(&p, "a NOTIFY SET (selected (MessageNew (UID) (SUBJECT x) MessageExpunge))", 100);
	assert_int_equal(p.r, NOTIFY_PARSE_OK);
	assert_non_null(p.nc.groups[0].new_fetch);
	assert_non_null(p.nc.groups[0].new_match);
	done(&p);
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageNew (UID) (BOGUS) MessageExpunge))"),
			 NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageNew (UID) () MessageExpunge))"),
			 NOTIFY_PARSE_BAD);
	assert_int_equal(result_of("a NOTIFY SET (personal (MessageNew MessageExpunge (ALL)))"),
			 NOTIFY_PARSE_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_badevent),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_draft_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
