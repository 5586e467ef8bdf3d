/* Tests of the RFC 5092 IMAP URL parser and the RFC 4467 URLAUTH token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-url.h"
#include "lib/strbuf.h"

static int parse(const char *s, struct imap_url *u)
{
	const char *error = NULL;
	int r = imap_url_parse(s, strlen(s), u, &error);
	if (r < 0)
		assert_non_null(error);
	return r;
}

static void test_server_and_mailbox(void **state)
{
	struct imap_url u;
	assert_int_equal(parse("imap://alice@mail.example.org/", &u), 0);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.host, "mail.example.org");
	assert_null(u.mailbox);
	assert_int_equal(u.port, 0);
	imap_url_free(&u);

	assert_int_equal(parse("imap://a%20b;AUTH=*@[::1]:143", &u), 0);
	assert_string_equal(u.user, "a b");
	assert_string_equal(u.auth_type, "*");
	assert_string_equal(u.host, "[::1]");
	assert_int_equal(u.port, 143);
	imap_url_free(&u);

	assert_int_equal(parse("imap://h/Work/Caf%C3%A9;UIDVALIDITY=42", &u), 0);
	assert_null(u.user);
	assert_string_equal(u.mailbox, "Work/Caf\xc3\xa9");
	assert_int_equal(u.uidvalidity, 42);
	assert_int_equal(u.uid, 0);
	imap_url_free(&u);

	assert_int_equal(parse("imap://h/INBOX?SUBJECT%20x", &u), 0);
	assert_true(u.has_search);
	imap_url_free(&u);
}

static void test_message_parts(void **state)
{
	struct imap_url u;
	/* RFC 4467 §7's example, keywords in lower case */
	const char *url = "imap://joe@example.com/INBOX/;uid=20/;section=1.2"
			  ";urlauth=submit+fred:internal:"
			  "91354a473744909de610943775f92038";
	assert_int_equal(parse(url, &u), 0);
	assert_string_equal(u.user, "joe");
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uid, 20);
	assert_string_equal(u.section, "1.2");
	assert_int_equal(u.access, IMAP_URL_ACCESS_SUBMIT);
	assert_string_equal(u.access_user, "fred");
	assert_string_equal(u.mechanism, "internal");
	assert_string_equal(u.token, "91354a473744909de610943775f92038");
	/* the rump ends before ":internal:..." (RFC 4467 §6) */
	assert_int_equal(u.rump_len, strstr(url, ":internal") - url);
	imap_url_free(&u);

	assert_int_equal(parse("imap://a@h/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=TEXT"
			       "/;PARTIAL=10.20;EXPIRE=2026-11-23T10:00:00+01:00"
			       ";URLAUTH=authuser", &u), 0);
	assert_int_equal(u.uidvalidity, 7);
	assert_int_equal(u.uid, 3);
	assert_string_equal(u.section, "TEXT");
	assert_true(u.has_partial);
	assert_int_equal(u.partial_offset, 10);
	assert_int_equal(u.partial_length, 20);
	assert_true(u.has_expire);
	assert_int_equal(u.expire, 1795428000 - 3600); /* 09:00Z */
	assert_int_equal(u.access, IMAP_URL_ACCESS_AUTHUSER);
	assert_null(u.mechanism);
	imap_url_free(&u);

	assert_int_equal(parse("imap://a@h/A/B/;UID=1/;PARTIAL=5;URLAUTH=anonymous",
			       &u), 0);
	assert_string_equal(u.mailbox, "A/B");
	assert_int_equal(u.partial_offset, 5);
	assert_int_equal(u.partial_length, 0);
	assert_int_equal(u.access, IMAP_URL_ACCESS_ANONYMOUS);
	imap_url_free(&u);

	assert_int_equal(parse("imap://a@h/INBOX/;UID=1;URLAUTH=user+b%40c", &u), 0);
	assert_int_equal(u.access, IMAP_URL_ACCESS_USER);
	assert_string_equal(u.access_user, "b@c");
	imap_url_free(&u);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"http://h/",
		"imap://",
		"imap://@h/",
		"imap://a b@h/",
		"imap://a@h:0/",
		"imap://a@h:99999/",
		"imap://a@h/IN%ZZ",
		"imap://a@h/IN%00X",
		"imap://a@h/INBOX/;UID=0",
		"imap://a@h/INBOX/;UID=01",
		"imap://a@h/INBOX/;UID=4294967296",
		"imap://a@h/INBOX;UIDVALIDITY=x",
		"imap://a@h/INBOX/;UID=1/;PARTIAL=1.0",
		"imap://a@h/INBOX/;UID=1;EXPIRE=2026-11-23T10:00:00Z",
		"imap://a@h/INBOX/;UID=1;EXPIRE=2026-13-23T10:00:00Z;URLAUTH=authuser",
		"imap://a@h/INBOX/;UID=1;URLAUTH=someone",
		"imap://a@h/INBOX/;UID=1;URLAUTH=user+",
		"imap://a@h/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:abc",
		"imap://a@h/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:"
		"0123456789abcdef0123456789abcdeg",
		"imap://a@h/INBOX/;UID=1;URLAUTH=authuser::"
		"0123456789abcdef0123456789abcdef",
		"imap://a@h/INBOX/;UID=1/trailing",
		"imap://a@h/INBOX/;UID=1\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_url u;
		if (parse(bad[i], &u) == 0)
			fail_msg("accepted: %s", bad[i]);
		imap_url_free(&u);
	}
	/* the length limit */
	struct strbuf long_url = STRBUF_INIT;
	strbuf_appends(&long_url, "imap://a@h/");
	while (long_url.len <= IMAP_URL_MAX)
		strbuf_appendc(&long_url, 'x');
	struct imap_url u;
	assert_int_equal(parse(long_url.s, &u), -1);
	imap_url_free(&u);
	strbuf_free(&long_url);
}

static void test_encode_roundtrip(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_appends(&sb, "imap://");
	imap_url_append_encoded(&sb, "we ird@user%", false);
	strbuf_appends(&sb, "@h/");
	imap_url_append_encoded(&sb, "Caf\xc3\xa9/x;y?z", true);
	strbuf_appends(&sb, "/;UID=1");
	assert_string_equal(sb.s, "imap://we%20ird%40user%25@h/"
			    "Caf%C3%A9/x%3By%3Fz/;UID=1");
	struct imap_url u;
	assert_int_equal(parse(sb.s, &u), 0);
	assert_string_equal(u.user, "we ird@user%");
	assert_string_equal(u.mailbox, "Caf\xc3\xa9/x;y?z");
	imap_url_free(&u);
	strbuf_free(&sb);
}

static void test_token(void **state)
{
	unsigned char key[IMAP_URLAUTH_KEY_LEN];
	memset(key, 7, sizeof(key));
	const char *rump = "imap://a@h/INBOX/;UID=1;URLAUTH=authuser";
	struct strbuf t = STRBUF_INIT;
	imap_urlauth_token(key, sizeof(key), rump, strlen(rump), &t);
	assert_int_equal(t.len, 66);
	assert_memory_equal(t.s, "01", 2);
	assert_true(imap_urlauth_token_verify(key, sizeof(key), rump,
					      strlen(rump), t.s, t.len));
	/* hex digits in either case */
	for (size_t i = 0; i < t.len; i++)
		if (t.s[i] >= 'a' && t.s[i] <= 'f')
			t.s[i] = (char)(t.s[i] - 'a' + 'A');
	assert_true(imap_urlauth_token_verify(key, sizeof(key), rump,
					      strlen(rump), t.s, t.len));
	/* another rump, key, length or version fails */
	assert_false(imap_urlauth_token_verify(key, sizeof(key), rump,
					       strlen(rump) - 1, t.s, t.len));
	assert_false(imap_urlauth_token_verify(key, sizeof(key), rump,
					       strlen(rump), t.s, t.len - 1));
	t.s[1] = '2';
	assert_false(imap_urlauth_token_verify(key, sizeof(key), rump,
					       strlen(rump), t.s, t.len));
	t.s[1] = '1';
	key[0] ^= 1;
	assert_false(imap_urlauth_token_verify(key, sizeof(key), rump,
					       strlen(rump), t.s, t.len));
	strbuf_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_and_mailbox),
		cmocka_unit_test(test_message_parts),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
