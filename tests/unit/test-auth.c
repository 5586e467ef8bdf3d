/* Unit tests for auth/: argon2id hash and verify, SASL PLAIN (RFC 4616),
 * strict base64 (RFC 4648), UTF-8 checks and random passwords. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

static int setup_cheap_hashing(void **state)
{
	/* Keep the suite fast; the default cost is exercised once below. */
	auth_password_set_cost(1, 64, 1);
	return 0;
}

static void test_hash_verify(void **state)
{
	char hash[AUTH_HASH_MAX];
	char hash2[AUTH_HASH_MAX];
	assert_int_equal(auth_password_hash("correct horse", hash, sizeof(hash)), 0);
	assert_true(strncmp(hash, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
	assert_true(auth_password_verify(hash, "correct horse"));
	assert_false(auth_password_verify(hash, "correct horsE"));
	assert_false(auth_password_verify(hash, "correct horse "));
	assert_false(auth_password_verify(hash, ""));

	/* A random salt: the same password hashes differently. */
	assert_int_equal(auth_password_hash("correct horse", hash2,
					    sizeof(hash2)), 0);
	assert_string_not_equal(hash, hash2);
	assert_true(auth_password_verify(hash2, "correct horse"));

	/* UTF-8 and the empty password hash fine (policy is the caller's). */
	assert_int_equal(auth_password_hash("p\xc3\xa4ss", hash, sizeof(hash)), 0);
	assert_true(auth_password_verify(hash, "p\xc3\xa4ss"));
	assert_false(auth_password_verify(hash, "pass"));

	/* Too small an output buffer. */
	char tiny[16];
	assert_int_equal(auth_password_hash("x", tiny, sizeof(tiny)), -1);

	/* Over-long passwords are refused both ways. */
	char *longpw = malloc(AUTH_PASSWORD_MAX + 2);
	memset(longpw, 'a', AUTH_PASSWORD_MAX + 1);
	longpw[AUTH_PASSWORD_MAX + 1] = '\0';
	assert_int_equal(auth_password_hash(longpw, hash, sizeof(hash)), -1);
	longpw[AUTH_PASSWORD_MAX] = '\0';
	assert_int_equal(auth_password_hash(longpw, hash, sizeof(hash)), 0);
	assert_true(auth_password_verify(hash, longpw));
	free(longpw);
}

static void test_verify_malformed(void **state)
{
	char hash[AUTH_HASH_MAX];
	assert_int_equal(auth_password_hash("pw", hash, sizeof(hash)), 0);
	assert_false(auth_password_verify(NULL, "pw"));
	assert_false(auth_password_verify(hash, NULL));
	assert_false(auth_password_verify("", "pw"));
	assert_false(auth_password_verify("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
					  "pw"));
	assert_false(auth_password_verify("plaintext", "plaintext"));
	/* Refused before running: 4 GiB of memory, absurd t. */
	assert_false(auth_password_verify(
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "pw"));
	assert_false(auth_password_verify(
		"$argon2id$v=19$m=64,t=100000,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
		"aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g", "pw"));
	assert_false(auth_password_verify(
		"$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdA$aGFzaA", "pw"));
	/* Truncated and damaged. */
	char cut[AUTH_HASH_MAX];
	for (size_t n = 0; n < strlen(hash); n++) {
		memcpy(cut, hash, n);
		cut[n] = '\0';
		assert_false(auth_password_verify(cut, "pw"));
	}
	strcpy(cut, hash);
	cut[strlen(cut) - 2] ^= 1;
	assert_false(auth_password_verify(cut, "pw"));

	/* The dummy verify runs and does not crash. */
	auth_password_verify_dummy("pw");
	auth_password_verify_dummy(NULL);
}

static void test_default_cost(void **state)
{
	char hash[AUTH_HASH_MAX];
	auth_password_set_cost(2, 19456, 1);
	assert_int_equal(auth_password_hash("s3cret", hash, sizeof(hash)), 0);
	assert_true(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	assert_true(strlen(hash) < 128);
	assert_true(auth_password_verify(hash, "s3cret"));
	assert_false(auth_password_verify(hash, "s3cres"));
	auth_password_set_cost(1, 64, 1);
	/* A hash made with other parameters still verifies. */
	assert_true(auth_password_verify(hash, "s3cret"));
}

/* Builds base64 of LEN raw bytes (may contain NULs). */
static char *b64(const char *raw, size_t len)
{
	return auth_base64_encode(raw, len);
}


static void expect_plain(const char *raw, size_t raw_len, const char *zid,
			 const char *cid, const char *pw)
{
	char *enc = b64(raw, raw_len);
	char *a = (char *)1, *c = (char *)1, *p = (char *)1;
	int ret = auth_sasl_plain_decode(enc, strlen(enc), &a, &c, &p);
	if (cid == NULL) {
		if (ret != -1)
			fail_msg("accepted malformed PLAIN message '%s'", enc);
		assert_null(a);
		assert_null(c);
		assert_null(p);
	} else {
		if (ret != 0)
			fail_msg("refused PLAIN message '%s'", enc);
		assert_string_equal(a, zid);
		assert_string_equal(c, cid);
		assert_string_equal(p, pw);
		free(a);
		free(c);
		auth_secret_free(p);
	}
	free(enc);
}

#define EXPECT_PLAIN(lit, zid, cid, pw) \
	expect_plain(lit, sizeof(lit) - 1, zid, cid, pw)

static void test_sasl_plain(void **state)
{
	/* RFC 4616 §4 examples */
	EXPECT_PLAIN("\0tim\0tanstaaftanstaaf", "", "tim", "tanstaaftanstaaf");
	EXPECT_PLAIN("Ursel\0Kurt\0xipj3plmq", "Ursel", "Kurt", "xipj3plmq");
	EXPECT_PLAIN("\0u\0p w\xc3\xb6rd", "", "u", "p w\xc3\xb6rd");

	/* malformed */
	EXPECT_PLAIN("", NULL, NULL, NULL);
	EXPECT_PLAIN("user", NULL, NULL, NULL);
	EXPECT_PLAIN("\0user", NULL, NULL, NULL);
	EXPECT_PLAIN("\0user\0", NULL, NULL, NULL);      /* empty passwd */
	EXPECT_PLAIN("\0\0pass", NULL, NULL, NULL);      /* empty authcid */
	EXPECT_PLAIN("z\0\0pass", NULL, NULL, NULL);
	EXPECT_PLAIN("\0user\0pa\0ss", NULL, NULL, NULL); /* third NUL */
	EXPECT_PLAIN("\0user\0pass\0", NULL, NULL, NULL);
	EXPECT_PLAIN("\0\0\0", NULL, NULL, NULL);
	EXPECT_PLAIN("\0us\xffr\0pass", NULL, NULL, NULL); /* not UTF-8 */
	EXPECT_PLAIN("\xc0\xaf\0user\0pass", NULL, NULL, NULL); /* overlong */
	EXPECT_PLAIN("\0user\0pa\xed\xa0\x80ss", NULL, NULL, NULL); /* surrogate */

	/* The literal RFC 4616 base64 example, decoded from the wire form. */
	char *a, *c, *p;
	const char *wire = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
	assert_int_equal(auth_sasl_plain_decode(wire, strlen(wire), &a, &c, &p), 0);
	assert_string_equal(c, "tim");
	free(a);
	free(c);
	auth_secret_free(p);

	/* Bad base64 around a good message. */
	static const char *const bad_b64[] = {
		"AHRpbQB0YW5zdGFhZnRhbnN0YWFm=", "AHRpbQB0YW5zdGFhZnRhbnN0YWF",
		"AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n", " AHRpbQB0YW5zdGFhZnRhbnN0YWFm",
		"AHRpbQB0YW5zdGFh ZnRhbnN0YWFm", "AHRpbQB0YW5zdGFhZnRhbnN0YW-m",
		"=", "====",
	};
	for (size_t i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); i++) {
		a = c = p = (char *)1;
		if (auth_sasl_plain_decode(bad_b64[i], strlen(bad_b64[i]),
					   &a, &c, &p) != -1)
			fail_msg("accepted '%s'", bad_b64[i]);
		assert_null(a);
		assert_null(c);
		assert_null(p);
	}

	/* The length given is obeyed: a valid prefix of a longer buffer. */
	const char *longer = "AHRpbQB0YW5zdGFhZnRhbnN0YWFmXXXX";
	assert_int_equal(auth_sasl_plain_decode(longer, 28, &a, &c, &p), 0);
	assert_string_equal(p, "tanstaaftanstaaf");
	free(a);
	free(c);
	auth_secret_free(p);

	/* Size cap: 255-octet fields are accepted; over 8 KiB is not. */
	char raw[AUTH_SASL_PLAIN_MAX + 16];
	size_t n = 0;
	memset(raw, 'z', 255);
	n = 255;
	raw[n++] = '\0';
	memset(raw + n, 'c', 255);
	n += 255;
	raw[n++] = '\0';
	memset(raw + n, 'p', 255);
	n += 255;
	char *enc = b64(raw, n);
	assert_int_equal(auth_sasl_plain_decode(enc, strlen(enc), &a, &c, &p), 0);
	assert_int_equal(strlen(a), 255);
	assert_int_equal(strlen(c), 255);
	assert_int_equal(strlen(p), 255);
	free(a);
	free(c);
	auth_secret_free(p);
	free(enc);

	n = 0;
	raw[n++] = '\0';
	raw[n++] = 'u';
	raw[n++] = '\0';
	memset(raw + n, 'p', AUTH_SASL_PLAIN_MAX + 16 - n);
	enc = b64(raw, AUTH_SASL_PLAIN_MAX + 1);
	assert_int_equal(auth_sasl_plain_decode(enc, strlen(enc), &a, &c, &p), -1);
	free(enc);
	enc = b64(raw, AUTH_SASL_PLAIN_MAX + 16);
	assert_int_equal(auth_sasl_plain_decode(enc, strlen(enc), &a, &c, &p), -1);
	free(enc);
	/* a long authzid with a short password fits within 8 KiB */
	memset(raw, 'z', 4000);
	raw[4000] = '\0';
	raw[4001] = 'u';
	raw[4002] = '\0';
	raw[4003] = 'p';
	enc = b64(raw, 4004);
	assert_int_equal(auth_sasl_plain_decode(enc, strlen(enc), &a, &c, &p), 0);
	assert_int_equal(strlen(a), 4000);
	free(a);
	free(c);
	auth_secret_free(p);
	free(enc);
}

static void expect_b64(const char *in, const char *want, size_t want_len)
{
	unsigned char *out = (unsigned char *)1;
	size_t len = 99;
	int ret = auth_base64_decode(in, strlen(in), &out, &len);
	if (want == NULL) {
		if (ret != -1)
			fail_msg("accepted '%s'", in);
		assert_null(out);
		assert_int_equal(len, 0);
		return;
	}
	if (ret != 0)
		fail_msg("refused '%s'", in);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, want_len);
	assert_int_equal(out[len], '\0');
	free(out);
}

static void test_base64(void **state)
{
	/* RFC 4648 §10 test vectors, both ways. */
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		char *enc = auth_base64_encode(vec[i][0], strlen(vec[i][0]));
		assert_string_equal(enc, vec[i][1]);
		free(enc);
		expect_b64(vec[i][1], vec[i][0], strlen(vec[i][0]));
	}
	/* all byte values round-trip */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= 256; n += 1) {
		char *enc = auth_base64_encode(all, n);
		assert_int_equal(strlen(enc), (n + 2) / 3 * 4);
		expect_b64(enc, (const char *)all, n);
		free(enc);
	}
	expect_b64("+/+/", "\xfb\xff\xbf", 3);

	/* strictness */
	expect_b64("Zg", NULL, 0);          /* padding required */
	expect_b64("Zg=", NULL, 0);
	expect_b64("Zg===", NULL, 0);
	expect_b64("Zh==", NULL, 0);        /* non-zero leftover bits */
	expect_b64("Zm9=", NULL, 0);
	expect_b64("Zg==Zg==", NULL, 0);    /* padding in the middle */
	expect_b64("Z===", NULL, 0);
	expect_b64("=Zg=", NULL, 0);
	expect_b64("Zm9v\n", NULL, 0);
	expect_b64("Zm 9v", NULL, 0);
	expect_b64("Zm9-", NULL, 0);        /* base64url alphabet */
	expect_b64("Zm9_", NULL, 0);
	expect_b64("Zm9\x80", NULL, 0);
	expect_b64("Zm9v====", NULL, 0);

	/* an embedded NUL is a bad character, not an end */
	unsigned char *out;
	size_t len;
	assert_int_equal(auth_base64_decode("Zm\0v", 4, &out, &len), -1);
}

static void test_utf8(void **state)
{
	assert_true(auth_utf8_valid("", 0));
	assert_true(auth_utf8_valid("abc", 3));
	assert_true(auth_utf8_valid("\xc3\xa4", 2));
	assert_true(auth_utf8_valid("\xe2\x82\xac", 3));
	assert_true(auth_utf8_valid("\xf0\x9f\x98\x80", 4));
	assert_true(auth_utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_false(auth_utf8_valid("a\0b", 3));
	assert_false(auth_utf8_valid("\xc3", 1));
	assert_false(auth_utf8_valid("\xe2\x82", 2));
	assert_false(auth_utf8_valid("\x80", 1));
	assert_false(auth_utf8_valid("\xc0\x80", 2));
	assert_false(auth_utf8_valid("\xe0\x80\x80", 3));
	assert_false(auth_utf8_valid("\xed\xa0\x80", 3));
	assert_false(auth_utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(auth_utf8_valid("\xf5\x80\x80\x80", 4));
	assert_false(auth_utf8_valid("\xff", 1));
	/* the length bounds the read */
	assert_true(auth_utf8_valid("ab\xff", 2));
}

static void test_random_password(void **state)
{
	char a[AUTH_RANDOM_PASSWORD_LEN + 1];
	char b[64];
	assert_int_equal(auth_random_password(a, sizeof(a)), 0);
	assert_int_equal(auth_random_password(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), AUTH_RANDOM_PASSWORD_LEN);
	assert_int_equal(strlen(b), AUTH_RANDOM_PASSWORD_LEN);
	assert_string_not_equal(a, b);
	for (int round = 0; round < 200; round++) {
		assert_int_equal(auth_random_password(a, sizeof(a)), 0);
		for (size_t i = 0; a[i] != '\0'; i++) {
			if (strchr("0O1lIo", a[i]) != NULL ||
			    !((a[i] >= 'a' && a[i] <= 'z') ||
			      (a[i] >= 'A' && a[i] <= 'Z') ||
			      (a[i] >= '2' && a[i] <= '9')))
				fail_msg("bad character '%c' in '%s'", a[i], a);
		}
	}
	char small[AUTH_RANDOM_PASSWORD_LEN];
	assert_int_equal(auth_random_password(small, sizeof(small)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_default_cost),
		cmocka_unit_test(test_sasl_plain),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_random_password),
	};
	return cmocka_run_group_tests(tests, setup_cheap_hashing, NULL);
}
