/* Sinks: option lists, [sink NAME] validation with FILE:LINE, and the
 * per-sink filter (types and groups, users, mailboxes, params, flag_mode,
 * tags). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/sink.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

static const char flags_set[] =
	"{\"event\":\"FlagsSet\",\"timestamp\":\"2026-11-23T10:00:00.000+01:00\","
	"\"uri\":\"imap://alice@h/INBOX;UIDVALIDITY=7/;UID=3\","
	"\"mailboxID\":\"imap://alice@h/INBOX;UIDVALIDITY=7\",\"uidset\":\"3\","
	"\"modseq\":9,\"flagNames\":[\"\\\\Seen\",\"\\\\Deleted\",\"$x\"],"
	"\"service\":\"imap\",\"user\":\"alice\"}";
static const char append_work[] =
	"{\"event\":\"MessageAppend\","
	"\"mailboxID\":\"imap://bob@h/Work%20Stuff;UIDVALIDITY=4\","
	"\"uidset\":\"1\",\"modseq\":2,\"vnd.tidings.x\":1,"
	"\"service\":\"cli\",\"admin\":\"root\"}";
static const char login_bob[] =
	"{\"event\":\"Login\",\"uri\":\"imap://bob@h/\",\"user\":\"bob\"}";
static const char rename_ev[] =
	"{\"event\":\"MailboxRename\","
	"\"mailboxID\":\"imap://bob@h/New;UIDVALIDITY=5\","
	"\"oldMailboxID\":\"imap://bob@h/Old;UIDVALIDITY=4\"}";

/* A config with one [sink s] section of the given KEY=VALUE pairs, each
 * on its own line from line 11 on. */
struct fixture {
	struct config cfg;
	struct config_sink raw;
	struct config_option opts[16];
};

static void fixture_init(struct fixture *fx, const char *const *kv)
{
	memset(fx, 0, sizeof(*fx));
	config_init_defaults(&fx->cfg);
	fx->cfg.path = xstrdup("t.conf");
	fx->raw.name = (char *)"s";
	fx->raw.line = 10;
	size_t n = 0;
	for (; kv[2 * n] != NULL; n++) {
		fx->opts[n].key = (char *)kv[2 * n];
		fx->opts[n].value = (char *)kv[2 * n + 1];
		fx->opts[n].line = 11 + (unsigned int)n;
	}
	fx->raw.options = fx->opts;
	fx->raw.option_count = n;
	/* cfg owns nothing of the section: it is not in cfg.sinks */
}

static void fixture_free(struct fixture *fx)
{
	config_free(&fx->cfg);
}

static int parse(const char *const *kv, struct sink_config *sc, char *err,
		 size_t size)
{
	struct fixture fx;
	fixture_init(&fx, kv);
	int r = sink_config_parse(&fx.cfg, &fx.raw, sc, err, size);
	fixture_free(&fx);
	return r;
}

/* Runs the filter of a sink made of KV over JSON; returns the output. */
static char *run(const char *const *kv, const char *json, int *lines_r)
{
	struct sink_config sc;
	char err[512];
	assert_int_equal(parse(kv, &sc, err, sizeof(err)), 0);
	struct strbuf out = STRBUF_INIT;
	*lines_r = sink_filter_apply(&sc.filter, 42, json, &out);
	sink_config_free(&sc);
	char *s = strbuf_detach(&out, NULL);
	return s != NULL ? s : xstrdup("");
}

static void test_list_parse(void **state)
{
	(void)state;
	struct sink_list l;
	char err[128];
	assert_int_equal(sink_list_parse("a, b  c,,\"d e\" \"f\\\"g\" a", &l,
					 err, sizeof(err)), 0);
	assert_int_equal(l.count, 5);
	assert_string_equal(l.items[0], "a");
	assert_string_equal(l.items[2], "c");
	assert_string_equal(l.items[3], "d e");
	assert_string_equal(l.items[4], "f\"g");
	sink_list_free(&l);
	assert_int_equal(sink_list_parse("\"open", &l, err, sizeof(err)), -1);
	assert_int_equal(sink_list_parse("\"a\"b", &l, err, sizeof(err)), -1);
	assert_int_equal(sink_list_parse("\"\"", &l, err, sizeof(err)), -1);
	assert_int_equal(sink_list_parse("", &l, err, sizeof(err)), 0);
	assert_int_equal(l.count, 0);
	char *big = xmalloc(SINK_ITEM_MAX + 2);
	memset(big, 'x', SINK_ITEM_MAX + 1);
	big[SINK_ITEM_MAX + 1] = '\0';
	assert_int_equal(sink_list_parse(big, &l, err, sizeof(err)), -1);
	free(big);
}

static void test_groups(void **state)
{
	(void)state;
	uint32_t bits;
	assert_true(sink_events_name_bits("flags", &bits));
	assert_int_equal(bits, (1u << EVENT_FLAGS_SET) |
			       (1u << EVENT_FLAGS_CLEAR));
	assert_true(sink_events_name_bits("MessageNew", &bits));
	assert_int_equal(bits, 1u << EVENT_MESSAGE_NEW);
	assert_true(sink_events_name_bits("quota", &bits));
	assert_int_equal(__builtin_popcount(bits), 3);
	assert_true(sink_events_name_bits("mailbox", &bits));
	assert_int_equal(__builtin_popcount(bits), 5);
	assert_true(sink_events_name_bits("message", &bits));
	assert_int_equal(__builtin_popcount(bits), 6);
	assert_false(sink_events_name_bits("messagenew", &bits));
}

static void expect_error(const char *const *kv, const char *where,
			 const char *what)
{
	struct sink_config sc;
	char err[512];
	assert_int_equal(parse(kv, &sc, err, sizeof(err)), -1);
	if (strstr(err, where) == NULL || strstr(err, what) == NULL)
		fail_msg("got '%s', want '%s' and '%s'", err, where, what);
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_error((const char *const[]){ "path", "x", NULL }, "t.conf:10:",
		     "missing 'type'");
	expect_error((const char *const[]){ "type", "nats", NULL },
		     "t.conf:10:", "needs 'url'");
	expect_error((const char *const[]){ "type", "ftp", NULL },
		     "t.conf:11:", "unknown sink type");
	expect_error((const char *const[]){ "type", "journal", "events",
					    "message nope", NULL },
		     "t.conf:12:", "'nope'");
	expect_error((const char *const[]){ "type", "journal", "mailboxes",
					    "a//b", NULL },
		     "t.conf:12:", "invalid mailbox name");
	expect_error((const char *const[]){ "type", "journal", "tags", "a",
					    "tags", "b", NULL },
		     "t.conf:13:", "given twice");
	expect_error((const char *const[]){ "type", "journal", "url", "x",
					    NULL },
		     "t.conf:12:", "unknown key 'url'");
	expect_error((const char *const[]){ "type", "journal", "rotate_keep",
					    "-1", NULL },
		     "t.conf:12:", "rotate_keep");
	expect_error((const char *const[]){ "type", "journal", "content_max",
					    "big", NULL },
		     "t.conf:12:", "content_max");
}

static void test_config_defaults(void **state)
{
	(void)state;
	struct sink_config sc;
	char err[512];
	assert_int_equal(parse((const char *const[]){ "type", "journal",
						      "content_max", "1M",
						      NULL },
			       &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.type, SINK_TYPE_JOURNAL);
	assert_int_equal(sc.filter.flag_mode, SINK_FLAG_MODE_SIMPLE);
	assert_int_equal(sc.filter.content_max, 1024 * 1024);
	assert_int_equal(sc.rotate_size, 64ull * 1024 * 1024);
	assert_int_equal(sc.rotate_keep, 5);
	assert_non_null(strstr(sc.path, "/events.jsonl"));
	assert_true(sc.filter.all_users && sc.filter.all_mailboxes &&
		    sc.filter.all_params);
	sink_config_free(&sc);
}

static void test_flag_modes(void **state)
{
	(void)state;
	int n;
	char *s = run((const char *const[]){ "type", "journal", NULL },
		      flags_set, &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(s, "{\"seq\":42,\"event\":\"MessageRead\""));
	assert_non_null(strstr(s, "{\"seq\":42,\"event\":\"MessageTrash\""));
	assert_non_null(strstr(s, "\"event\":\"FlagsSet\""));
	assert_non_null(strstr(s, "\"flagNames\":[\"$x\"]"));
	free(s);

	s = run((const char *const[]){ "type", "journal", "flag_mode",
				       "flags", NULL }, flags_set, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(s, "\"flagNames\":[\"\\\\Seen\",\"\\\\Deleted\","
				  "\"$x\"]"));
	free(s);

	s = run((const char *const[]){ "type", "journal", "flag_mode",
				       "both", NULL }, flags_set, &n);
	assert_int_equal(n, 3);
	assert_non_null(strstr(s, "MessageRead"));
	assert_non_null(strstr(s, "\"flagNames\":[\"\\\\Seen\",\"\\\\Deleted\","
				  "\"$x\"]"));
	free(s);

	/* only MessageRead wanted: the rest is dropped */
	s = run((const char *const[]){ "type", "journal", "events",
				       "MessageRead", NULL }, flags_set, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(s, "MessageRead"));
	assert_null(strstr(s, "flagNames"));
	free(s);
}

static void test_users_mailboxes(void **state)
{
	(void)state;
	int n;
	const char *const bob[] = { "type", "journal", "users", "bob", NULL };
	free(run(bob, flags_set, &n));
	assert_int_equal(n, 0);
	free(run(bob, append_work, &n)); /* owner from the URL, no "user" */
	assert_int_equal(n, 1);
	free(run(bob, login_bob, &n));
	assert_int_equal(n, 1);

	const char *const work[] = { "type", "journal", "mailboxes",
				     "\"Work Stuff\" inbox", NULL };
	free(run(work, append_work, &n));
	assert_int_equal(n, 1);
	free(run(work, flags_set, &n)); /* "inbox" is INBOX */
	assert_int_equal(n, 3);
	free(run(work, login_bob, &n)); /* concerns no mailbox */
	assert_int_equal(n, 0);

	const char *const old[] = { "type", "journal", "mailboxes", "Old",
				    NULL };
	free(run(old, rename_ev, &n)); /* either side of a rename */
	assert_int_equal(n, 1);
}

static void test_params_tags(void **state)
{
	(void)state;
	int n;
	char *s = run((const char *const[]){ "type", "journal", "params",
					     "uidset vnd.tidings.x", "tags",
					     "a,b", NULL }, append_work, &n);
	assert_int_equal(n, 1);
	assert_string_equal(s, "{\"seq\":42,\"event\":\"MessageAppend\","
			       "\"uidset\":\"1\",\"vnd.tidings.x\":1,"
			       "\"tags\":[\"a\",\"b\"]}\n");
	free(s);

	/* bad JSON is reported, not sent */
	struct sink_filter f;
	sink_filter_init(&f);
	struct strbuf out = STRBUF_INIT;
	assert_int_equal(sink_filter_apply(&f, 1, "{\"event\":", &out), -1);
	assert_int_equal(sink_filter_apply(&f, 1, "[1]", &out), -1);
	assert_int_equal(sink_filter_apply(&f, 1, "{\"x\":1}", &out), -1);
	/* an unknown type goes to a sink that takes all */
	assert_int_equal(sink_filter_apply(&f, 1, "{\"event\":\"Zzz\"}", &out),
			 1);
	strbuf_free(&out);
	sink_filter_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_flag_modes),
		cmocka_unit_test(test_users_mailboxes),
		cmocka_unit_test(test_params_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
