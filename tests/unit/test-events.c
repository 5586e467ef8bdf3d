/* RFC 5423 vocabulary and the event builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "events/event-types.h"

static void test_type_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"MessageAppend", "MessageExpire", "MessageExpunge",
		"MessageNew", "QuotaExceed", "QuotaWithin", "QuotaChange",
		"MessageRead", "MessageTrash", "FlagsSet", "FlagsClear",
		"Login", "Logout", "MailboxCreate", "MailboxDelete",
		"MailboxRename", "MailboxSubscribe", "MailboxUnSubscribe",
		"vnd.tidings.AclChange", "vnd.tidings.MailboxMetadataChange",
		"vnd.tidings.ServerMetadataChange",
		"vnd.tidings.AnnotationChange",
	};
	assert_int_equal(sizeof(names) / sizeof(names[0]), EVENT_TYPE_COUNT);
	for (int i = 0; i < EVENT_TYPE_COUNT; i++) {
		assert_string_equal(event_type_name((enum event_type)i),
				    names[i]);
		assert_int_equal(event_type_from_name(names[i]), i);
	}
	assert_int_equal(event_type_name(EVENT_MESSAGE_APPEND)[0], 'M');
	assert_int_equal(event_type_from_name("messageappend"), -1);
	assert_int_equal(event_type_from_name("MailboxUnsubscribe"), -1);
	assert_int_equal(event_type_from_name(""), -1);
	assert_int_equal(event_type_from_name(NULL), -1);
	assert_string_equal(event_type_name(EVENT_TYPE_COUNT), "unknown");
}

static void test_param_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"admin", "bodyStructure", "clientIP", "clientPort",
		"diskQuota", "diskUsed", "envelope", "flagNames", "mailboxID",
		"maxMessages", "messageContent", "messageSize", "messages",
		"modseq", "oldMailboxID", "pid", "process", "serverDomain",
		"serverPort", "serverFQDN", "service", "tags", "timestamp",
		"uidnext", "uidset", "uri", "user",
	};
	assert_int_equal(sizeof(names) / sizeof(names[0]), EVENT_PARAM_COUNT);
	for (int i = 0; i < EVENT_PARAM_COUNT; i++) {
		assert_string_equal(event_param_name((enum event_param)i),
				    names[i]);
		assert_int_equal(event_param_from_name(names[i]), i);
	}
	assert_int_equal(event_param_from_name("mailboxid"), -1);
	assert_int_equal(event_param_from_name("vnd.tidings.x"), -1);
	assert_int_equal(event_param_from_name(NULL), -1);
}

static void test_builder_json(void **state)
{
	(void)state;
	struct event_builder *eb = event_builder_create(EVENT_MESSAGE_APPEND);
	assert_int_equal(event_builder_type(eb), EVENT_MESSAGE_APPEND);
	event_builder_set_str(eb, EVENT_PARAM_URI,
			      "imap://a@h/INBOX;UIDVALIDITY=7/;UID=3");
	event_builder_set_int(eb, EVENT_PARAM_MODSEQ, 12);
	event_builder_add_flag(eb, "\\Seen");
	event_builder_add_flag(eb, "\\Recent"); /* RFC 5423 §5: never */
	event_builder_add_flag(eb, "$Label1");
	event_builder_set_vendor_str(eb, "specialUse", "\\Sent");
	event_builder_set_vendor_int(eb, "n", -5);
	event_builder_set_int(eb, EVENT_PARAM_MESSAGE_SIZE,
			      (int64_t)1 << 40);
	/* set twice: the value is replaced, the position stays */
	event_builder_set_int(eb, EVENT_PARAM_MODSEQ, 13);
	event_builder_set_str(eb, EVENT_PARAM_USER, "quote\" and \\ é");
	char *json = event_builder_json(eb);
	assert_string_equal(json,
		"{\"event\":\"MessageAppend\","
		"\"uri\":\"imap://a@h/INBOX;UIDVALIDITY=7/;UID=3\","
		"\"modseq\":13,"
		"\"flagNames\":[\"\\\\Seen\",\"$Label1\"],"
		"\"vnd.tidings.specialUse\":\"\\\\Sent\","
		"\"vnd.tidings.n\":-5,"
		"\"messageSize\":1099511627776,"
		"\"user\":\"quote\\\" and \\\\ \xc3\xa9\"}");
	free(json);
	event_builder_destroy(&eb);
	assert_null(eb);
	event_builder_destroy(&eb);
}

static void test_builder_empty_and_bad(void **state)
{
	(void)state;
	struct event_builder *eb = event_builder_create(EVENT_LOGOUT);
	char *json = event_builder_json(eb);
	assert_string_equal(json, "{\"event\":\"Logout\"}");
	free(json);
	/* invalid UTF-8 must not lose the event */
	event_builder_set_str(eb, EVENT_PARAM_USER, "bad\xff\xfe");
	event_builder_set_str(eb, EVENT_PARAM_CLIENT_IP, NULL);
	event_builder_set_vendor_str(eb, "", "ignored");
	event_builder_set_int(eb, EVENT_PARAM_COUNT, 1);
	json = event_builder_json(eb);
	assert_string_equal(json, "{\"event\":\"Logout\",\"user\":\"bad??\","
			    "\"clientIP\":\"\"}");
	free(json);
	event_builder_destroy(&eb);

	/* flagNames is an array even when it stays empty */
	eb = event_builder_create(EVENT_FLAGS_SET);
	event_builder_add_flag(eb, "\\Recent");
	json = event_builder_json(eb);
	assert_string_equal(json, "{\"event\":\"FlagsSet\",\"flagNames\":[]}");
	free(json);
	event_builder_destroy(&eb);
}

static void test_timestamp(void **state)
{
	(void)state;
	char buf[64];
	setenv("TZ", "UTC", 1);
	tzset();
	event_timestamp_now(buf, sizeof(buf));
	/* 2026-11-23T10:55:03.123+00:00 */
	assert_int_equal(strlen(buf), 29);
	assert_int_equal(buf[4], '-');
	assert_int_equal(buf[10], 'T');
	assert_int_equal(buf[19], '.');
	assert_string_equal(buf + 23, "+00:00");

	setenv("TZ", "XXX-05:30", 1);
	tzset();
	event_timestamp_now(buf, sizeof(buf));
	assert_string_equal(buf + 23, "+05:30");
	setenv("TZ", "XXX+03", 1);
	tzset();
	event_timestamp_now(buf, sizeof(buf));
	assert_string_equal(buf + 23, "-03:00");

	char tiny[8];
	event_timestamp_now(tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), 7);
	event_timestamp_now(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_param_names),
		cmocka_unit_test(test_builder_json),
		cmocka_unit_test(test_builder_empty_and_bad),
		cmocka_unit_test(test_timestamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
