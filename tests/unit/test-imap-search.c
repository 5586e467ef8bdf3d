/* SEARCH: keys parsed from hand-built argument trees, matched against a few
 * in-memory messages parsed by the real MIME module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap/imap-search.h"
#include "lib/xalloc.h"
#include "store/store.h"

/* ---- argument trees ---- */

/* A tiny reader for test strings: atoms, "quoted" (with \ escapes),
 * (lists) and NIL.  Builds the same struct imap_arg the real parser
 * builds, without depending on it. */
static struct imap_arg *args_read(const char **p, size_t *count_r,
				  bool inner)
{
	struct imap_arg *args = NULL;
	size_t count = 0;

	for (;;) {
		while (**p == ' ')
			(*p)++;
		if (**p == '\0') {
			assert_false(inner);
			break;
		}
		if (**p == ')') {
			assert_true(inner);
			(*p)++;
			break;
		}
		args = xrealloc(args, (count + 1) * sizeof(*args));
		struct imap_arg *arg = &args[count++];
		memset(arg, 0, sizeof(*arg));
		if (**p == '(') {
			(*p)++;
			arg->type = IMAP_ARG_LIST;
			arg->list = args_read(p, &arg->count, true);
		} else if (**p == '"') {
			char *s = xmalloc(strlen(*p) + 1);
			size_t n = 0;
			(*p)++;
			while (**p != '"') {
				assert_true(**p != '\0');
				if (**p == '\\')
					(*p)++;
				s[n++] = *(*p)++;
			}
			(*p)++;
			s[n] = '\0';
			arg->type = IMAP_ARG_QUOTED;
			arg->str = s;
			arg->len = n;
		} else {
			const char *start = *p;
			while (**p != '\0' && **p != ' ' && **p != '(' &&
			       **p != ')')
				(*p)++;
			arg->str = xmemdupz(start, (size_t)(*p - start));
			arg->len = (size_t)(*p - start);
			arg->type = strcmp(arg->str, "NIL") == 0 ?
				    IMAP_ARG_NIL : IMAP_ARG_ATOM;
		}
	}
	*count_r = count;
	return args;
}

static void args_free(struct imap_arg *args, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(args[i].str);
		if (args[i].type == IMAP_ARG_LIST)
			args_free(args[i].list, args[i].count);
	}
	free(args);
}

static int try_parse_limits(const char *keys,
			    const struct imap_search_limits *limits,
			    struct imap_search **search_r,
			    const char **error_r, bool *badcharset_r)
{
	size_t count;
	const char *p = keys;
	struct imap_arg *args = args_read(&p, &count, false);
	int ret = imap_search_parse(args, count, limits, search_r, error_r,
				    badcharset_r);
	args_free(args, count);
	return ret;
}

static struct imap_search *parse_ok(const char *keys)
{
	struct imap_search *search = NULL;
	const char *error = NULL;
	bool badcharset = true;

	if (try_parse_limits(keys, NULL, &search, &error, &badcharset) < 0)
		fail_msg("parse \"%s\" failed: %s", keys, error);
	assert_false(badcharset);
	assert_non_null(search);
	return search;
}

/* Expects a parse error; returns the reason. */
static const char *parse_bad_limits(const char *keys,
				    const struct imap_search_limits *limits,
				    bool want_badcharset)
{
	struct imap_search *search = NULL;
	const char *error = NULL;
	bool badcharset = !want_badcharset;

	if (try_parse_limits(keys, limits, &search, &error, &badcharset) == 0)
		fail_msg("parse \"%s\" succeeded", keys);
	assert_null(search);
	assert_non_null(error);
	assert_true(badcharset == want_badcharset);
	return error;
}

static const char *parse_bad(const char *keys)
{
	return parse_bad_limits(keys, NULL, false);
}

/* ---- messages ---- */

static const char msg1_text[] =
	"Return-Path: <alice@example.com>\r\n"
	"Received: from a.example by b.example\r\n"
	"Received: from special.example\r\n"
	"\tby a.example\r\n"
	"From: Alice Example <alice@example.com>\r\n"
	"To: Bob <bob@example.org>,\r\n"
	" carol@example.net\r\n"
	"Cc: Dave <dave@example.com>\r\n"
	"Bcc: eve@example.com\r\n"
	"Subject: =?UTF-8?B?w4lsw6h2ZSBtZWV0aW5n?=\r\n"
	"Date: Mon, 31 Dec 2007 23:30:00 -0800\r\n"
	"X-Custom: Hello World\r\n"
	"X-Empty:\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"R3LDvMOfZSBhdXMgS8OWTE4sIHRoZSBxdWljayBicm93biBmb3gganVtcHMNCg==\r\n";

static const char msg2_text[] =
	"From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\r\n"
	"To: team@example.com\r\n"
	"Subject: \xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3 "
	"\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Caf=C3=A9 au lait, soft=\r\n"
	"break here\r\n"
	"--XX\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"c2VjcmV0d29yZCBpbnNpZGUgYW4gYXR0YWNobWVudA0K\r\n"
	"--XX--\r\n";

static const char msg3_text[] =
	"From: nobody@example.com\r\n"
	"Subject: Nil points\r\n"
	"Date: Tue, 1 Jan 2008 05:00:00 +0900\r\n"
	"X-City: \xc5\x81\xc3\x93" "D\xc5\xb9 \xc5\xa0ibenik\r\n"
	"\r\n"
	"Plain body.\r\n";

static struct imap_search_message msgs[3];
static const struct imap_search_context ctx = { .max_seq = 3, .max_uid = 300 };

static void msgs_init(void)
{
	memset(msgs, 0, sizeof(msgs));

	/* 2008-01-01 07:30 UTC, written at -0800: 31-Dec-2007 locally */
	msgs[0].seq = 1;
	msgs[0].uid = 100;
	msgs[0].flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED;
	msgs[0].recent = false;
	msgs[0].keywords = "$Forwarded Work";
	msgs[0].internaldate = 1199172600;
	msgs[0].tz_offset = -480;
	msgs[0].modseq = 10;
	msgs[0].data = msg1_text;
	msgs[0].len = sizeof(msg1_text) - 1;
	msgs[0].size = 1000;

	/* 2007-12-31 20:00 UTC, at +0900: 1-Jan-2008 locally */
	msgs[1].seq = 2;
	msgs[1].uid = 200;
	msgs[1].flags = STORE_FLAG_ANSWERED | STORE_FLAG_DELETED |
			STORE_FLAG_DRAFT;
	msgs[1].recent = true;
	msgs[1].keywords = NULL;
	msgs[1].internaldate = 1199131200;
	msgs[1].tz_offset = 540;
	msgs[1].modseq = 20;
	msgs[1].data = msg2_text;
	msgs[1].len = sizeof(msg2_text) - 1;
	msgs[1].size = 2000;

	/* 2008-01-01 07:30 UTC in UTC */
	msgs[2].seq = 3;
	msgs[2].uid = 300;
	msgs[2].flags = 0;
	msgs[2].recent = true;
	msgs[2].keywords = "";
	msgs[2].internaldate = 1199172600;
	msgs[2].tz_offset = 0;
	msgs[2].modseq = 30;
	msgs[2].data = msg3_text;
	msgs[2].len = sizeof(msg3_text) - 1;
	msgs[2].size = 500;
}

/* Which of the three messages match: bit 0 = msg1, bit 1 = msg2, ... */
static unsigned int match_mask_ctx(const char *keys,
				   const struct imap_search_context *c)
{
	struct imap_search *search = parse_ok(keys);
	unsigned int mask = 0;

	msgs_init();
	for (unsigned int i = 0; i < 3; i++) {
		if (imap_search_match(search, c, &msgs[i]))
			mask |= 1u << i;
	}
	imap_search_free(&search);
	assert_null(search);
	return mask;
}

static unsigned int match_mask(const char *keys)
{
	return match_mask_ctx(keys, &ctx);
}

#define assert_matches(keys, want) do { \
	unsigned int got_ = match_mask(keys); \
	if (got_ != (unsigned int)(want)) \
		fail_msg("\"%s\": matched %#x, want %#x", keys, got_, \
			 (unsigned int)(want)); \
} while (0)

/* ---- tests ---- */

static void test_flags(void **state)
{
	assert_matches("ALL", 7);
	assert_matches("all", 7);
	assert_matches("ANSWERED", 2);
	assert_matches("UNANSWERED", 5);
	assert_matches("DELETED", 2);
	assert_matches("UNDELETED", 5);
	assert_matches("DRAFT", 2);
	assert_matches("UNDRAFT", 5);
	assert_matches("FLAGGED", 1);
	assert_matches("unflagged", 6);
	assert_matches("SEEN", 1);
	assert_matches("UNSEEN", 6);
	assert_matches("RECENT", 6);
	assert_matches("OLD", 1);
	assert_matches("NEW", 6);
	msgs_init();
	/* NEW needs both RECENT and UNSEEN */
	struct imap_search *search = parse_ok("NEW");
	msgs[1].flags |= STORE_FLAG_SEEN;
	assert_false(imap_search_match(search, &ctx, &msgs[1]));
	msgs[1].flags &= ~(uint32_t)STORE_FLAG_SEEN;
	msgs[1].recent = false;
	assert_false(imap_search_match(search, &ctx, &msgs[1]));
	imap_search_free(&search);
}

static void test_keywords(void **state)
{
	assert_matches("KEYWORD $Forwarded", 1);
	assert_matches("KEYWORD work", 1);
	assert_matches("KEYWORD Wor", 0);
	assert_matches("KEYWORD Junk", 0);
	assert_matches("UNKEYWORD Work", 6);
	assert_matches("UNKEYWORD Junk", 7);
	assert_matches("KEYWORD \\Seen", 1);
	assert_matches("UNKEYWORD \\Seen", 6);
	assert_matches("KEYWORD \\Recent", 6);
	parse_bad("KEYWORD \\Bogus");
	parse_bad("KEYWORD \"a b\"");
	parse_bad("KEYWORD \"\"");
	parse_bad("KEYWORD");
}

static void test_sizes_modseq(void **state)
{
	/* sizes: msg1 1000, msg2 2000, msg3 500 */
	assert_matches("LARGER 999", 1 | 2);
	assert_matches("LARGER 1000", 2);
	assert_matches("SMALLER 1000", 4);
	assert_matches("SMALLER 1001", 1 | 4);
	assert_matches("larger 1999 SMALLER 2001", 2);
	assert_matches("SMALLER 0", 0);
	assert_matches("LARGER 0", 7);
	assert_matches("LARGER 9223372036854775807", 0);
	assert_string_equal(parse_bad("LARGER 9223372036854775808"),
			 "Invalid number");
	assert_string_equal(parse_bad("LARGER abc"), "Invalid number");
	assert_string_equal(parse_bad("SMALLER -1"), "Invalid number");
	assert_string_equal(parse_bad("LARGER \"\""), "Invalid number");
	parse_bad("SMALLER");

	assert_matches("MODSEQ 20", 2 | 4);
	assert_matches("MODSEQ 0", 7);
	assert_matches("MODSEQ 31", 0);
	assert_matches("MODSEQ \"/flags/\\\\seen\" all 20", 2 | 4);
	assert_matches("MODSEQ \"/flags/$mdnsent\" PRIV 30", 4);
	assert_matches("MODSEQ \"/flags/x\" shared 11", 2 | 4);
	parse_bad("MODSEQ \"/flags/x\" bogus 11");
	parse_bad("MODSEQ \"/other\" all 11");
	parse_bad("MODSEQ \"/flags/x\" all");
	parse_bad("MODSEQ \"/flags/x\"");
	parse_bad("MODSEQ abc");
	parse_bad("MODSEQ");

	struct imap_search *search = parse_ok("MODSEQ 5");
	assert_true(imap_search_uses_modseq(search));
	assert_false(imap_search_needs_body(search));
	imap_search_free(&search);
	search = parse_ok("OR SEEN NOT MODSEQ 5");
	assert_true(imap_search_uses_modseq(search));
	imap_search_free(&search);
	search = parse_ok("SEEN");
	assert_false(imap_search_uses_modseq(search));
	imap_search_free(&search);
}

static void test_sequence_sets(void **state)
{
	assert_matches("1", 1);
	assert_matches("2:*", 6);
	assert_matches("*", 4);
	assert_matches("*:2", 6);
	assert_matches("1,3", 5);
	assert_matches("3:1", 7);
	assert_matches("4:5", 0);
	assert_matches("UID 100", 1);
	assert_matches("UID 150:250", 2);
	assert_matches("UID 250:*", 4);
	assert_matches("uid *", 4);
	/* RFC 3501 §6.4.8: n:* with n beyond the largest UID still matches
	 * the last message. */
	assert_matches("UID 500:*", 4);
	assert_matches("UID 1,200,301", 2);
	assert_matches("UID 1:99", 0);
	assert_matches("UID \"100,300\"", 5);
	assert_string_equal(parse_bad("UID 1:x"), "Invalid sequence set");
	assert_string_equal(parse_bad("0"), "Invalid sequence set");
	assert_string_equal(parse_bad("1,,2"), "Invalid sequence set");
	assert_string_equal(parse_bad("UID 0:5"), "Invalid sequence set");
	parse_bad("UID");
	parse_bad("UID (1)");

	/* The same program over different '*' values. */
	struct imap_search_context small = { .max_seq = 2, .max_uid = 200 };
	assert_int_equal(match_mask_ctx("*", &small), 2);
	struct imap_search *search = parse_ok("2:* UID *");
	msgs_init();
	assert_false(imap_search_match(search, &ctx, &msgs[1]));
	assert_true(imap_search_match(search, &ctx, &msgs[2]));
	assert_true(imap_search_match(search, &small, &msgs[1]));
	assert_false(imap_search_match(search, &small, &msgs[2]));
	assert_false(imap_search_match(search, &ctx, &msgs[1]));
	assert_true(imap_search_match(search, &ctx, &msgs[2]));
	imap_search_free(&search);
}

static void test_internal_dates(void **state)
{
	/* msg1: 31-Dec-2007 (-0800); msg2: 1-Jan-2008 (+0900);
	 * msg3: 1-Jan-2008 (UTC) */
	assert_matches("ON 31-Dec-2007", 1);
	assert_matches("ON 1-Jan-2008", 6);
	assert_matches("ON \"01-jan-2008\"", 6);
	assert_matches("BEFORE 1-Jan-2008", 1);
	assert_matches("BEFORE 31-Dec-2007", 0);
	assert_matches("BEFORE 2-Jan-2008", 7);
	assert_matches("SINCE 1-Jan-2008", 6);
	assert_matches("SINCE 31-Dec-2007", 7);
	assert_matches("SINCE 2-JAN-2008", 0);
	assert_matches("SINCE 29-Feb-2000", 7);
	assert_matches("BEFORE 1-Jan-1970", 0);

	/* one second either side of midnight, in the message's zone */
	msgs_init();
	struct imap_search *on = parse_ok("ON 1-Jan-2008");
	msgs[2].internaldate = 1199145600 - 1;   /* 2007-12-31 23:59:59 Z */
	assert_false(imap_search_match(on, &ctx, &msgs[2]));
	msgs[2].internaldate = 1199145600;
	assert_true(imap_search_match(on, &ctx, &msgs[2]));
	msgs[2].tz_offset = -1;                  /* 23:59 at -0001 */
	assert_false(imap_search_match(on, &ctx, &msgs[2]));
	msgs[2].internaldate = 1199145600 - 3600;
	msgs[2].tz_offset = 60;                  /* 00:00 at +0100 */
	assert_true(imap_search_match(on, &ctx, &msgs[2]));
	/* before the epoch */
	msgs[2].internaldate = -1;
	msgs[2].tz_offset = 0;
	assert_false(imap_search_match(on, &ctx, &msgs[2]));
	imap_search_free(&on);
	on = parse_ok("ON 31-Dec-1969");
	assert_true(imap_search_match(on, &ctx, &msgs[2]));
	imap_search_free(&on);

	assert_string_equal(parse_bad("ON 32-Jan-2008"), "Invalid date");
	assert_string_equal(parse_bad("ON 29-Feb-2001"), "Invalid date");
	assert_string_equal(parse_bad("ON 29-Feb-1900"), "Invalid date");
	assert_string_equal(parse_bad("ON 0-Jan-2008"), "Invalid date");
	assert_string_equal(parse_bad("ON 1-Foo-2008"), "Invalid date");
	assert_string_equal(parse_bad("ON 1-Jan-08"), "Invalid date");
	assert_string_equal(parse_bad("ON 1-Jan-20080"), "Invalid date");
	assert_string_equal(parse_bad("ON 001-Jan-2008"), "Invalid date");
	assert_string_equal(parse_bad("ON 1 Jan 2008"), "Invalid date");
	assert_string_equal(parse_bad("ON -Jan-2008"), "Invalid date");
	assert_string_equal(parse_bad("SINCE \"\""), "Invalid date");
	assert_string_equal(parse_bad("BEFORE"), "Missing argument for search key");
	parse_bad("BEFORE (1-Jan-2008)");
}

static void test_sent_dates(void **state)
{
	/* msg1 Date: 31 Dec 2007 23:30 -0800 (07:30 UTC on 1 Jan);
	 * msg2 has no Date:; msg3 Date: 1 Jan 2008 05:00 +0900 (20:00 UTC
	 * on 31 Dec). */
	assert_matches("SENTON 31-Dec-2007", 1);
	assert_matches("SENTON 1-Jan-2008", 4);
	assert_matches("SENTBEFORE 1-Jan-2008", 1);
	assert_matches("SENTBEFORE 2-Jan-2008", 1 | 4);
	assert_matches("SENTSINCE 31-Dec-2007", 1 | 4);
	assert_matches("SENTSINCE 1-Jan-2008", 4);
	/* no Date: never matches, so NOT does */
	assert_matches("NOT SENTSINCE 1-Jan-1900", 2);
	assert_matches("NOT SENTBEFORE 1-Jan-9999", 2);
	parse_bad("SENTON 31-Dec-2007x");

	struct imap_search *search = parse_ok("SENTON 1-Jan-2008");
	assert_true(imap_search_needs_body(search));
	imap_search_free(&search);
}

static void test_headers(void **state)
{
	assert_matches("FROM alice", 1);
	assert_matches("FROM \"ALICE@EXAMPLE.COM\"", 1);
	assert_matches("FROM bob", 0);
	assert_matches("FROM example", 7);
	assert_matches("TO bob", 1);
	assert_matches("TO carol@example.net", 1);    /* folded line */
	assert_matches("TO team", 2);
	assert_matches("CC dave", 1);
	assert_matches("CC alice", 0);
	assert_matches("BCC eve@", 1);
	assert_matches("BCC bob", 0);
	assert_matches("SUBJECT points", 4);
	assert_matches("SUBJECT \"no such\"", 0);
	/* NIL is an astring, "NIL" */
	assert_matches("SUBJECT NIL", 4);
	/* RFC 2047 words are matched by their decoded UTF-8 */
	assert_matches("SUBJECT \"\xc3\x89L\xc3\x88VE MEETING\"", 1);
	assert_matches("SUBJECT \"\xc3\xa9l\xc3\xa8ve\"", 1);
	assert_matches("SUBJECT \"w4lsw6\"", 0);
	assert_matches("FROM \"j\xc3\xb6rg m\xc3\xbcller\"", 2);
	assert_matches("FROM \"J\xc3\x96RG\"", 2);
	/* raw UTF-8 Greek and Cyrillic, folded both ways; final sigma */
	assert_matches("SUBJECT \"\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86"
		       "\xce\xbf\xcf\x82\"", 2);
	assert_matches("SUBJECT \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5"
		       "\xd1\x82\"", 2);
	assert_matches("SUBJECT \"\"", 7);
	/* Latin Extended-A, both ways */
	assert_matches("HEADER X-City \"\xc5\x82\xc3\xb3" "d\xc5\xba "
		       "\xc5\xa1IBENIK\"", 4);
	assert_matches("HEADER X-City \"\xc5\x81\xc3\x93" "D\xc5\xb9\"", 4);
	assert_matches("HEADER X-City \"lodz\"", 0);

	assert_matches("HEADER X-Custom \"\"", 1);
	assert_matches("HEADER x-custom world", 1);
	assert_matches("HEADER X-Custom moon", 0);
	assert_matches("HEADER X-Missing \"\"", 0);
	assert_matches("HEADER X-Empty \"\"", 1);
	assert_matches("HEADER X-Empty x", 0);
	/* every instance of a field, unfolded */
	assert_matches("HEADER Received special", 1);
	assert_matches("HEADER Received \"from special\"", 1);
	assert_matches("HEADER Return-Path alice", 1);
	assert_matches("HEADER Subject \"\xc3\xa9l\xc3\xa8ve\"", 1);
	/* headers of the body parts are not the message's */
	assert_matches("HEADER Content-Transfer-Encoding quoted", 0);
	assert_matches("HEADER Content-Type multipart", 2);
	/* the field name must match whole */
	assert_matches("HEADER X-Cust \"\"", 0);
	assert_matches("HEADER \"\" \"\"", 0);

	parse_bad("HEADER X-Custom");
	parse_bad("HEADER");
	parse_bad("FROM");
	parse_bad("SUBJECT (a)");

	struct imap_search *search = parse_ok("OR SEEN SUBJECT x");
	assert_true(imap_search_needs_body(search));
	imap_search_free(&search);
}

static void test_body_text(void **state)
{
	/* base64 body */
	assert_matches("BODY \"quick brown\"", 1);
	assert_matches("BODY \"QUICK BROWN FOX\"", 1);
	assert_matches("BODY \"k\xc3\xb6ln\"", 1);
	assert_matches("BODY \"gr\xc3\x9c\xc3\x9f\x65\"", 1);
	assert_matches("BODY UXVpY2s", 0);
	/* header text is not body text */
	assert_matches("BODY alice", 0);
	assert_matches("TEXT alice", 1);
	assert_matches("TEXT \"Hello World\"", 1);
	assert_matches("TEXT \"\xc3\xa9l\xc3\xa8ve\"", 1);
	assert_matches("TEXT fox", 1);
	assert_matches("TEXT nowhere", 0);
	/* quoted-printable text part, soft line break; the octet-stream
	 * part is not text */
	assert_matches("BODY \"CAF\xc3\x89 AU LAIT\"", 2);
	assert_matches("BODY \"softbreak here\"", 2);
	assert_matches("BODY secretword", 0);
	assert_matches("TEXT secretword", 0);
	assert_matches("BODY \"plain body\"", 4);
	assert_matches("BODY \"\"", 7);
	assert_matches("TEXT \"\"", 7);
	parse_bad("BODY");
	parse_bad("TEXT");

	/* a literal argument */
	struct imap_arg args[2];
	memset(args, 0, sizeof(args));
	args[0].type = IMAP_ARG_ATOM;
	args[0].str = (char *)"BODY";
	args[0].len = 4;
	args[1].type = IMAP_ARG_LITERAL;
	args[1].str = (char *)"Lait";
	args[1].len = 4;
	struct imap_search *search = NULL;
	const char *error = NULL;
	bool badcharset = false;
	assert_int_equal(imap_search_parse(args, 2, NULL, &search, &error,
					   &badcharset), 0);
	assert_true(imap_search_needs_body(search));
	msgs_init();
	assert_false(imap_search_match(search, &ctx, &msgs[0]));
	assert_true(imap_search_match(search, &ctx, &msgs[1]));
	/* without its text the message is searched as empty */
	msgs[1].data = NULL;
	msgs[1].len = 0;
	assert_false(imap_search_match(search, &ctx, &msgs[1]));
	imap_search_free(&search);

	/* a literal with a NUL byte never matches text without one */
	args[1].str = (char *)"a\0b";
	args[1].len = 3;
	assert_int_equal(imap_search_parse(args, 2, NULL, &search, &error,
					   &badcharset), 0);
	msgs_init();
	for (int i = 0; i < 3; i++)
		assert_false(imap_search_match(search, &ctx, &msgs[i]));
	imap_search_free(&search);
}

static void test_logic(void **state)
{
	assert_matches("SEEN FLAGGED", 1);
	assert_matches("SEEN DELETED", 0);
	assert_matches("OR SEEN DELETED", 3);
	assert_matches("NOT SEEN", 6);
	assert_matches("NOT NOT SEEN", 1);
	assert_matches("OR OR SEEN DELETED 3", 7);
	assert_matches("(SEEN)", 1);
	assert_matches("(OR SEEN DELETED) NOT 1", 2);
	assert_matches("NOT (SEEN FLAGGED)", 6);
	assert_matches("OR (SEEN FLAGGED) (RECENT SUBJECT points)", 5);
	assert_matches("OR BODY fox UID 300", 5);
	assert_matches("NOT OR BODY fox FROM joerg", 4);
	assert_matches("((((ALL))))", 7);
	assert_matches("UNSEEN TEXT example OR FROM example BODY nothing", 6);
	assert_matches("1:2 NOT 1", 2);
}

static void test_charset(void **state)
{
	assert_matches("CHARSET UTF-8 ALL", 7);
	assert_matches("charset utf-8 SEEN", 1);
	assert_matches("CHARSET \"US-ASCII\" DELETED", 2);
	assert_matches("CHARSET us-ascii FROM alice", 1);
	assert_string_equal(parse_bad_limits("CHARSET ISO-8859-1 ALL", NULL, true),
			 "Unsupported charset");
	parse_bad_limits("CHARSET \"UTF-7\" ALL", NULL, true);
	parse_bad_limits("CHARSET UTF-8", NULL, false);
	parse_bad_limits("CHARSET", NULL, false);
	parse_bad_limits("CHARSET (UTF-8) ALL", NULL, false);
	/* CHARSET only comes first */
	parse_bad_limits("ALL CHARSET UTF-8", NULL, false);
}

static void test_bad(void **state)
{
	assert_string_equal(parse_bad(""), "Missing search key");
	assert_string_equal(parse_bad("FOO"), "Unknown search key");
	assert_string_equal(parse_bad("SEEN FOO"), "Unknown search key");
	assert_string_equal(parse_bad("\"SEEN\""), "Unknown search key");
	assert_string_equal(parse_bad("NIL"), "Unknown search key");
	assert_string_equal(parse_bad("SENTONx 1-Jan-2008"), "Unknown search key");
	assert_string_equal(parse_bad("()"), "Empty search key list");
	assert_string_equal(parse_bad("NOT"), "Missing search key");
	assert_string_equal(parse_bad("OR SEEN"), "Missing search key");
	assert_string_equal(parse_bad("OR"), "Missing search key");
	assert_string_equal(parse_bad("(NOT)"), "Missing search key");
	assert_string_equal(parse_bad("SUBJECT"),
			 "Missing argument for search key");
	parse_bad("(SEEN (FOO))");
	parse_bad("OR SEEN (UID 1 BEFORE x)");
}

static void test_limits(void **state)
{
	struct imap_search_limits limits = { .max_depth = 2, .max_keys = 4 };
	struct imap_search *search = NULL;
	const char *error = NULL;
	bool badcharset = false;

	assert_int_equal(try_parse_limits("NOT NOT SEEN", &limits, &search,
					  &error, &badcharset), 0);
	imap_search_free(&search);
	assert_string_equal(parse_bad_limits("NOT NOT NOT SEEN", &limits, false),
			 "Search keys nested too deeply");
	assert_int_equal(try_parse_limits("((SEEN))", &limits, &search,
					  &error, &badcharset), 0);
	imap_search_free(&search);
	assert_string_equal(parse_bad_limits("(((SEEN)))", &limits, false),
			 "Search keys nested too deeply");
	assert_string_equal(parse_bad_limits("OR (NOT SEEN) ALL", &limits, false),
			 "Search keys nested too deeply");
	assert_int_equal(try_parse_limits("SEEN SEEN SEEN SEEN", &limits,
					  &search, &error, &badcharset), 0);
	imap_search_free(&search);
	assert_string_equal(parse_bad_limits("SEEN SEEN SEEN SEEN SEEN", &limits,
					  false), "Too many search keys");
	assert_string_equal(parse_bad_limits("(SEEN SEEN SEEN SEEN)", &limits,
					  false), "Too many search keys");

	/* The defaults hold without limits, and huge requests are capped. */
	struct strbuf deep = STRBUF_INIT;
	for (int i = 0; i < 5000; i++)
		strbuf_appends(&deep, "NOT ");
	strbuf_appends(&deep, "SEEN");
	assert_string_equal(parse_bad(deep.s), "Search keys nested too deeply");
	limits.max_depth = 1000000;
	limits.max_keys = 1000000;
	parse_bad_limits(deep.s, &limits, false);
	strbuf_free(&deep);

	struct strbuf many = STRBUF_INIT;
	for (int i = 0; i < 2000; i++)
		strbuf_appends(&many, "SEEN ");
	assert_string_equal(parse_bad(many.s), "Too many search keys");
	strbuf_free(&many);

	/* imap_search_free(NULL pointer) is harmless */
	search = NULL;
	imap_search_free(&search);
}

static int without_text(const char *keys, unsigned int i)
{
	struct imap_search *search = parse_ok(keys);

	msgs_init();
	msgs[i].data = NULL;
	msgs[i].len = 0;
	int ret = imap_search_match_without_text(search, &ctx, &msgs[i]);
	imap_search_free(&search);
	return ret;
}

static void test_without_text(void **state)
{
	/* msg1 is \Seen, msg2 is not */
	assert_int_equal(without_text("SEEN", 0), 1);
	assert_int_equal(without_text("SEEN", 1), 0);
	assert_int_equal(without_text("BODY fox SEEN", 0), -1);
	assert_int_equal(without_text("BODY fox SEEN", 1), 0);
	assert_int_equal(without_text("OR SEEN BODY fox", 0), 1);
	assert_int_equal(without_text("OR SEEN BODY fox", 1), -1);
	assert_int_equal(without_text("OR BODY fox SUBJECT x", 0), -1);
	assert_int_equal(without_text("NOT (UNSEEN BODY x)", 0), 1);
	assert_int_equal(without_text("NOT (UNSEEN BODY x)", 1), -1);
	assert_int_equal(without_text("NOT SENTON 1-Jan-2008", 1), -1);
	assert_int_equal(without_text("TEXT x", 2), -1);
	assert_int_equal(without_text("UID 200 (OR HEADER a b NOT DRAFT)", 1),
			 -1);
	assert_int_equal(without_text("UID 200 (OR HEADER a b NOT DRAFT)", 2),
			 0);
	assert_int_equal(without_text("(OR HEADER a b DRAFT) 2", 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_sizes_modseq),
		cmocka_unit_test(test_sequence_sets),
		cmocka_unit_test(test_internal_dates),
		cmocka_unit_test(test_sent_dates),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_body_text),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_without_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
