/* Tests of modified UTF-7 (RFC 3501 §5.1.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-parser.h"
#include "lib/strbuf.h"

static void assert_decodes(const char *mutf7, const char *utf8)
{
	struct strbuf out = STRBUF_INIT;

	if (mutf7_to_utf8(mutf7, &out) < 0) {
		print_error("failed to decode \"%s\"\n", mutf7);
		fail();
	}
	assert_string_equal(strbuf_str(&out), utf8);
	strbuf_free(&out);
}

static void assert_encodes(const char *utf8, const char *mutf7)
{
	struct strbuf out = STRBUF_INIT;

	assert_int_equal(utf8_to_mutf7(utf8, &out), 0);
	assert_string_equal(strbuf_str(&out), mutf7);
	strbuf_free(&out);
}

/* Both directions, and the result is unchanged after a prefix. */
static void assert_pair(const char *utf8, const char *mutf7)
{
	assert_decodes(mutf7, utf8);
	assert_encodes(utf8, mutf7);
}

static void assert_bad_mutf7(const char *mutf7)
{
	struct strbuf out = STRBUF_INIT;

	strbuf_appends(&out, "keep");
	if (mutf7_to_utf8(mutf7, &out) == 0) {
		print_error("accepted \"%s\"\n", mutf7);
		fail();
	}
	/* the output is left as it was */
	assert_string_equal(out.s, "keep");
	strbuf_free(&out);
}

static void assert_bad_utf8(const char *utf8)
{
	struct strbuf out = STRBUF_INIT;

	strbuf_appends(&out, "keep");
	assert_int_equal(utf8_to_mutf7(utf8, &out), -1);
	assert_string_equal(out.s, "keep");
	strbuf_free(&out);
}

static void test_rfc_example(void **state)
{
	(void)state;
	/* RFC 3501 §5.1.3 */
	assert_pair("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
		    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		    "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	/* ... and its counter-example: a superfluous shift */
	assert_bad_mutf7("~peter/mail/&U,BTFw-&ZeVnLIqe-");
	assert_pair("\xe5\x8f\xb0\xe5\x8c\x97\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		    "&U,BTF2XlZyyKng-");
}

static void test_ascii(void **state)
{
	(void)state;
	assert_pair("", "");
	assert_pair("INBOX", "INBOX");
	assert_pair(" !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
		    " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
	assert_pair("&", "&-");
	assert_pair("A&B&&", "A&-B&-&-");
	assert_pair("-&-", "-&--");
}

static void test_encoded(void **state)
{
	(void)state;
	assert_pair("\xc2\xa3", "&AKM-");
	assert_pair("\xc2\xa3\xc2\xa4", "&AKMApA-");
	assert_pair("a\xc2\xa3" "b\xc2\xa4" "c", "a&AKM-b&AKQ-c");
	assert_pair("&\xc2\xa3", "&-&AKM-");
	assert_pair("\xc2\xa3&", "&AKM-&-");
	assert_pair("\xc2\xa3-", "&AKM--");
	assert_pair("\xc3\xbc", "&APw-");
	/* surrogate pairs */
	assert_pair("\xf0\x9f\x98\x80", "&2D3eAA-");
	assert_pair("\xc3\xa9\xf0\x9f\x98\x80", "&AOnYPd4A-");
	assert_pair("\xf4\x8f\xbf\xbf", "&2,,f,w-");
	/* controls are not printable: encoded */
	assert_pair("\x01", "&AAE-");
	assert_pair("a\tb\x7f", "a&AAk-b&AH8-");
	/* U+FFFF and U+0080 at the edges */
	assert_pair("\xef\xbf\xbf\xc2\x80", "&,,8AgA-");
}

static void test_bad_mutf7(void **state)
{
	(void)state;
	assert_bad_mutf7("&");
	assert_bad_mutf7("a&");
	assert_bad_mutf7("&AKM");
	assert_bad_mutf7("&U,BTFw");
	/* encoded printable US-ASCII: 'a', '&', ' ', '~' */
	assert_bad_mutf7("&AGE-");
	assert_bad_mutf7("&ACY-");
	assert_bad_mutf7("&ACA-");
	assert_bad_mutf7("&AH4-");
	assert_bad_mutf7("&AKMAYQ-");
	/* U+0000 */
	assert_bad_mutf7("&AAA-");
	/* bad base64: standard '/' instead of ',', padding, other bytes */
	assert_bad_mutf7("&U/BTFw-");
	assert_bad_mutf7("&AKM=-");
	assert_bad_mutf7("&AK M-");
	assert_bad_mutf7("&AK.M-");
	/* unpaired surrogates */
	assert_bad_mutf7("&2AA-");
	assert_bad_mutf7("&3AA-");
	assert_bad_mutf7("&2D3YPQ-");
	assert_bad_mutf7("&2D0AYQ-");
	assert_bad_mutf7("&3gDYPQ-");
	/* bits left over: non-zero padding, or a whole extra character */
	assert_bad_mutf7("&AKN-");
	assert_bad_mutf7("&AKMA-");
	assert_bad_mutf7("&A-");
	assert_bad_mutf7("&AK-");
	/* superfluous shifts */
	assert_bad_mutf7("&AKM-&AKQ-");
	assert_bad_mutf7("&-&AKM-&AKQ-");
	/* raw bytes that must be encoded */
	assert_bad_mutf7("\xc2\xa3");
	assert_bad_mutf7("a\tb");
	assert_bad_mutf7("\x7f");
	assert_bad_mutf7("\x01");
}

static void test_bad_utf8(void **state)
{
	(void)state;
	assert_bad_utf8("\xc3");
	assert_bad_utf8("a\xc3" "a");
	assert_bad_utf8("\x80");
	assert_bad_utf8("\xc0\x80");
	assert_bad_utf8("\xc1\xbf");
	assert_bad_utf8("\xe0\x80\xaf");
	assert_bad_utf8("\xf0\x80\x80\xaf");
	assert_bad_utf8("\xed\xa0\x80");
	assert_bad_utf8("\xed\xbf\xbf");
	assert_bad_utf8("\xf4\x90\x80\x80");
	assert_bad_utf8("\xf5\x80\x80\x80");
	assert_bad_utf8("\xff");
	assert_bad_utf8("\xe6\x97");
	assert_bad_utf8("ok\xe6\x97\xa5\xe6");
}

/* Every code point class survives a round trip, appending to a buffer
 * that already holds something. */
static void test_round_trip(void **state)
{
	(void)state;
	static const uint32_t cps[] = {
		0x01, 0x1f, 0x20, 0x26, 0x2d, 0x7e, 0x7f, 0x80, 0xff, 0x100,
		0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000,
		0x1f600, 0x10ffff,
	};
	size_t n = sizeof(cps) / sizeof(cps[0]);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct strbuf utf8 = STRBUF_INIT;
			struct strbuf enc = STRBUF_INIT;
			struct strbuf dec = STRBUF_INIT;
			uint32_t pair[3] = { cps[i], 'x', cps[j] };

			for (size_t k = 0; k < 3; k++) {
				uint32_t cp = pair[k];
				if (k == 1 && (i + j) % 2 == 0)
					continue;
				if (cp < 0x80) {
					strbuf_appendc(&utf8, (char)cp);
				} else if (cp < 0x800) {
					strbuf_appendc(&utf8, (char)(0xc0 | (cp >> 6)));
					strbuf_appendc(&utf8, (char)(0x80 | (cp & 0x3f)));
				} else if (cp < 0x10000) {
					strbuf_appendc(&utf8, (char)(0xe0 | (cp >> 12)));
					strbuf_appendc(&utf8, (char)(0x80 | ((cp >> 6) & 0x3f)));
					strbuf_appendc(&utf8, (char)(0x80 | (cp & 0x3f)));
				} else {
					strbuf_appendc(&utf8, (char)(0xf0 | (cp >> 18)));
					strbuf_appendc(&utf8, (char)(0x80 | ((cp >> 12) & 0x3f)));
					strbuf_appendc(&utf8, (char)(0x80 | ((cp >> 6) & 0x3f)));
					strbuf_appendc(&utf8, (char)(0x80 | (cp & 0x3f)));
				}
			}
			strbuf_appends(&enc, "P/");
			assert_int_equal(utf8_to_mutf7(utf8.s, &enc), 0);
			for (size_t k = 2; k < enc.len; k++) {
				assert_true(enc.s[k] >= 0x20 && enc.s[k] <= 0x7e);
			}
			strbuf_appends(&dec, "P/");
			assert_int_equal(mutf7_to_utf8(enc.s + 2, &dec), 0);
			assert_string_equal(dec.s + 2, utf8.s);
			strbuf_free(&utf8);
			strbuf_free(&enc);
			strbuf_free(&dec);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_encoded),
		cmocka_unit_test(test_bad_mutf7),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
