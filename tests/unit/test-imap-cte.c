/* Tests of BINARY's content-transfer decoding (src/imap/imap-cte.c,
 * RFC 3516, RFC 2045 §6.7-§6.8, RFC 9051 §7.5.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap/imap-cte.h"
#include "lib/strbuf.h"
#include "mime/mime.h"

static void assert_decodes(const char *enc, const char *in, bool text,
			   const char *want, size_t want_len)
{
	struct strbuf out = STRBUF_INIT;

	assert_int_equal(imap_cte_decode(enc, in, strlen(in), text, &out),
			 IMAP_CTE_OK);
	assert_int_equal(out.len, want_len);
	if (want_len > 0)
		assert_memory_equal(out.s, want, want_len);
	strbuf_free(&out);
}

static void test_identity(void **state)
{
	(void)state;
	assert_decodes(NULL, "a\r\nb", false, "a\r\nb", 4);
	assert_decodes("7bit", "x", false, "x", 1);
	assert_decodes("8BIT", "\xc3\xa9", false, "\xc3\xa9", 2);
	assert_decodes("binary", "", false, "", 0);
}

static void test_base64(void **state)
{
	(void)state;
	assert_decodes("base64", "SGVsbG8=", false, "Hello", 5);
	assert_decodes("base64", "AAEC\r\nAw==\r\n", false, "\0\1\2\3", 4);
	/* RFC 2045 §6.8: characters outside the alphabet are ignored */
	assert_decodes("base64", "S*G!V sbG8", false, "Hello", 5);
	/* a truncated last quantum keeps the whole octets */
	assert_decodes("base64", "SGVsbG8", false, "Hello", 5);
	assert_decodes("base64", "S", false, "", 0);
	assert_decodes("BASE64", "", false, "", 0);
}

static void test_quoted_printable(void **state)
{
	(void)state;
	assert_decodes("quoted-printable", "caf=C3=A9", false, "caf\xc3\xa9", 5);
	assert_decodes("quoted-printable", "a=3d=3D", false, "a==", 3);
	/* soft line breaks, with or without trailing white space */
	assert_decodes("quoted-printable", "ab=\r\ncd= \t\r\nef=\nx", false,
		       "abcdefx", 7);
	/* trailing white space is transport padding */
	assert_decodes("quoted-printable", "a  \r\nb\t", false, "a\r\nb", 4);
	/* a bad "=" stays */
	assert_decodes("quoted-printable", "a=ZZ=", false, "a=ZZ", 4);
	assert_decodes("quoted-printable", "=0", false, "=0", 2);
}

static void test_text_crlf(void **state)
{
	(void)state;
	assert_decodes("base64", "YQpiDWMNCmQ=", true, "a\r\nb\r\nc\r\nd", 10);
	assert_decodes("base64", "YQpiDWMNCmQ=", false, "a\nb\rc\r\nd", 8);
	assert_decodes(NULL, "\n\n", true, "\r\n\r\n", 4);
}

static void test_unknown(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	strbuf_appends(&out, "keep");
	assert_int_equal(imap_cte_decode("x-uuencode", "begin", 5, false, &out),
			 IMAP_CTE_UNKNOWN);
	assert_int_equal(imap_cte_decode("base-64", "QQ==", 4, false, &out),
			 IMAP_CTE_UNKNOWN);
	assert_string_equal(strbuf_str(&out), "keep");
	strbuf_free(&out);
}

static const char message[] =
	"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
	"--B\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n"
	"--B\r\nContent-Type: message/rfc822\r\n\r\n"
	"Subject: in\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	"x=3Dy\r\n"
	"--B\r\nContent-Transfer-Encoding: x-foo\r\n\r\nzz\r\n"
	"--B--\r\n";

static int section(const uint32_t *parts, size_t n, struct strbuf *out)
{
	struct mime_message *msg = mime_parse(message, sizeof(message) - 1);
	strbuf_reset(out);
	int rc = imap_cte_section(msg, parts, n, out);
	mime_message_free(&msg);
	return rc;
}

static void test_sections(void **state)
{
	struct strbuf out = STRBUF_INIT;
	static const uint32_t p1[] = { 1 }, p2[] = { 2 }, p21[] = { 2, 1 },
			      p3[] = { 3 }, p9[] = { 9 }, p11[] = { 1, 1 };

	(void)state;
	assert_int_equal(section(p1, 1, &out), IMAP_CTE_OK);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.s, "\0\1\2\3", 4);
	assert_int_equal(section(p2, 1, &out), IMAP_CTE_NOT_LEAF);
	assert_int_equal(section(p21, 2, &out), IMAP_CTE_OK);
	assert_string_equal(strbuf_str(&out), "x=y");
	assert_int_equal(section(p3, 1, &out), IMAP_CTE_UNKNOWN);
	assert_int_equal(section(p9, 1, &out), IMAP_CTE_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(section(p11, 2, &out), IMAP_CTE_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(section(NULL, 0, &out), IMAP_CTE_OK);
	assert_int_equal(out.len, sizeof(message) - 1);
	strbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_text_crlf),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_sections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
