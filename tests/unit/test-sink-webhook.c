/* The webhook sink: its HMAC-SHA256 signature against known vectors, and
 * its [sink NAME] keys (defaults, limits, FILE:LINE errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/sink.h"
#include "events/sink-webhook.h"
#include "lib/xalloc.h"

static void test_sign_rfc4231(void **state)
{
	(void)state;
	/* RFC 4231 §4.8 (test case 7): its data has a '.' where our
	 * "<timestamp>.<body>" has one, so it checks the joining too. */
	unsigned char key[131];
	memset(key, 0xaa, sizeof(key));
	static const char stamp[] = "This is a test using a larger than "
				    "block-size key and a larger than "
				    "block-size data";
	static const char body[] = " The key needs to be hashed before being "
				   "used by the HMAC algorithm.";
	char hex[SINK_WEBHOOK_SIGNATURE_HEX + 1];
	assert_int_equal(sink_webhook_sign(key, sizeof(key), stamp, body,
					   strlen(body), hex), 0);
	assert_string_equal(hex, "9b09ffa71b942fcb27635fbcd5b0e944"
				 "bfdc63644f0713938a7f51535c3a35e2");
}

static void test_sign_body(void **state)
{
	(void)state;
	/* Python: hmac.new(secret, b"1700000000." + body, sha256) */
	static const char secret[] = "whsec-0123456789abcdef";
	static const char body[] = "[{\"seq\":1,\"event\":\"Login\"}]";
	char hex[SINK_WEBHOOK_SIGNATURE_HEX + 1];
	assert_int_equal(sink_webhook_sign(secret, strlen(secret), "1700000000",
					   body, strlen(body), hex), 0);
	assert_string_equal(hex, "0f924569fc50b6afdd285539013e9f7f"
				 "fde4c3eedd6f18662a41a2c7a5d715f6");
	/* The length given counts, not a NUL: one byte less differs. */
	char other[SINK_WEBHOOK_SIGNATURE_HEX + 1];
	assert_int_equal(sink_webhook_sign(secret, strlen(secret), "1700000000",
					   body, strlen(body) - 1, other), 0);
	assert_string_not_equal(hex, other);
}

/* One [sink s] section (header on line 10) of KEY, VALUE pairs, each on
 * its own line from line 11 on. */
static int parse(const char *const *kv, struct sink_config *sc, char *err,
		 size_t size)
{
	struct config cfg;
	struct config_sink raw;
	struct config_option opts[16];
	memset(&raw, 0, sizeof(raw));
	config_init_defaults(&cfg);
	cfg.path = xstrdup("t.conf");
	raw.name = (char *)"s";
	raw.line = 10;
	size_t n = 0;
	for (; kv[2 * n] != NULL; n++) {
		opts[n].key = (char *)kv[2 * n];
		opts[n].value = (char *)kv[2 * n + 1];
		opts[n].line = 11 + (unsigned int)n;
	}
	raw.options = opts;
	raw.option_count = n;
	int r = sink_config_parse(&cfg, &raw, sc, err, size);
	config_free(&cfg);
	return r;
}

#define SECRET "0123456789abcdef"

static void test_config_defaults(void **state)
{
	(void)state;
	struct sink_config sc;
	char err[512] = "";
	assert_int_equal(parse((const char *const[]){
		"type", "webhook", "url", "https://hooks.example.org/t?x=1",
		"secret", SECRET, NULL }, &sc, err, sizeof(err)), 0);
	assert_int_equal(sc.type, SINK_TYPE_WEBHOOK);
	assert_string_equal(sc.url, "https://hooks.example.org/t?x=1");
	assert_string_equal(sc.secret, SECRET);
	assert_int_equal(sc.timeout, 10);
	assert_int_equal(sc.connect_timeout, 5);
	assert_int_equal(sc.batch_max, 100);
	assert_true(sc.tls_verify);
	assert_null(sc.ca_file);
	sink_config_free(&sc);

	assert_int_equal(parse((const char *const[]){
		"type", "webhook", "url", "http://127.0.0.1:8080/",
		"secret", SECRET, "timeout", "3s", "batch_max", "1",
		"tls_verify", "no", "ca_file", "/dev/null", NULL },
		&sc, err, sizeof(err)), 0);
	assert_int_equal(sc.timeout, 3);
	/* connecting is part of the whole POST's time */
	assert_int_equal(sc.connect_timeout, 3);
	assert_int_equal(sc.batch_max, 1);
	assert_false(sc.tls_verify);
	assert_string_equal(sc.ca_file, "/dev/null");
	sink_config_free(&sc);
}

static void expect_error(const char *const *kv, const char *where,
			 const char *what)
{
	struct sink_config sc;
	char err[512] = "";
	assert_int_equal(parse(kv, &sc, err, sizeof(err)), -1);
	if (strstr(err, where) == NULL || strstr(err, what) == NULL)
		fail_msg("got '%s', want '%s' and '%s'", err, where, what);
}

static void test_config_errors(void **state)
{
	(void)state;
	expect_error((const char *const[]){ "type", "webhook", "secret",
					    SECRET, NULL },
		     "t.conf:10:", "missing 'url'");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", NULL },
		     "t.conf:10:", "missing 'secret'");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", "secret", "short",
					    NULL },
		     "t.conf:13:", "secret: must be 16");
	static const char *const bad_urls[] = {
		"ftp://h/", "h/x", "http://", "http:// h/", "https://h/\x01",
		"", "mailto:a@b",
	};
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
		expect_error((const char *const[]){ "type", "webhook", "url",
						    bad_urls[i], "secret",
						    SECRET, NULL },
			     "t.conf:12:", "url: ");
	char *long_url = xmalloc(3000);
	memset(long_url, 'a', 2999);
	long_url[2999] = '\0';
	memcpy(long_url, "http://", 7);
	expect_error((const char *const[]){ "type", "webhook", "url",
					    long_url, "secret", SECRET, NULL },
		     "t.conf:12:", "longer than");
	free(long_url);
	static const char *const bad_timeouts[] = {
		"0", "-1", "ten", "10ms", "3601", "", "99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]);
	     i++)
		expect_error((const char *const[]){ "type", "webhook", "url",
						    "http://h/", "secret",
						    SECRET, "timeout",
						    bad_timeouts[i], NULL },
			     "t.conf:14:", "timeout: expected");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", "secret", SECRET,
					    "batch_max", "0", NULL },
		     "t.conf:14:", "batch_max");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", "secret", SECRET,
					    "batch_max", "1001", NULL },
		     "t.conf:14:", "batch_max");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", "secret", SECRET,
					    "tls_verify", "maybe", NULL },
		     "t.conf:14:", "tls_verify");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", "secret", SECRET,
					    "ca_file", "/nonexistent/ca.pem",
					    NULL },
		     "t.conf:14:", "ca_file: cannot read");
	expect_error((const char *const[]){ "type", "webhook", "url",
					    "http://h/", "secret", SECRET,
					    "path", "/tmp/x", NULL },
		     "t.conf:14:", "unknown key 'path'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_rfc4231),
		cmocka_unit_test(test_sign_body),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
