/* Tests of APPEND's re-encoding of binary content (RFC 3516 §4.4, §6):
 * src/mime/mime-reencode.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/strbuf.h"
#include "mime/mime.h"

#define LIT(s) s, sizeof(s) - 1

static void assert_reencodes(const char *in, size_t len, const char *want)
{
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	assert_int_equal(mime_binary_reencode(in, len, &out, &error), 1);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.s, want, out.len);
	strbuf_free(&out);
}

static void assert_unchanged(const char *in, size_t len)
{
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	assert_int_equal(mime_binary_reencode(in, len, &out, &error), 0);
	assert_int_equal(out.len, 0);
	strbuf_free(&out);
}

static void assert_refused(const char *in, size_t len)
{
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	assert_int_equal(mime_binary_reencode(in, len, &out, &error), -1);
	assert_non_null(error);
	assert_int_equal(out.len, 0);
	strbuf_free(&out);
}

static void test_single_part(void **state)
{
	(void)state;
	/* the folded CTE field is replaced whole; no CRLF added at the end
	 * of a message that had none */
	assert_reencodes(LIT("Subject: x\r\nContent-Transfer-Encoding:\r\n binary\r\n"
			     "X-After: y\r\n\r\nab\0cd"),
			 "Subject: x\r\nContent-Transfer-Encoding: base64\r\n"
			 "X-After: y\r\n\r\nYWIAY2Q=");
	assert_reencodes(LIT("Content-Transfer-Encoding: BINARY\r\n\r\n\xff\r\n"),
			 "Content-Transfer-Encoding: base64\r\n\r\n/w0K\r\n");
}

static void test_multipart(void **state)
{
	(void)state;
	/* the CRLF before a delimiter stays the delimiter's; a NUL under
	 * 7bit gets a CTE field; the text part is untouched */
	assert_reencodes(LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			     "--b\r\n\r\ntext\r\n"
			     "--b\r\nContent-Type: application/x\r\n\r\n\0\r\n"
			     "--b\r\nContent-Transfer-Encoding: binary\r\n\r\n\0\0\0\r\n"
			     "--b--\r\n"),
			 "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			 "--b\r\n\r\ntext\r\n"
			 "--b\r\nContent-Transfer-Encoding: base64\r\n"
			 "Content-Type: application/x\r\n\r\nAA==\r\n"
			 "--b\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
			 "--b--\r\n");
}

static void test_nested_message(void **state)
{
	(void)state;
	assert_reencodes(LIT("Content-Type: message/rfc822\r\n\r\n"
			     "Subject: in\r\nContent-Transfer-Encoding: binary\r\n\r\n"
			     "x\0y\r\n"),
			 "Content-Type: message/rfc822\r\n\r\n"
			 "Subject: in\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			 "eAB5DQo=\r\n");
}

static void test_long_lines(void **state)
{
	(void)state;
	char in[200], want[400];
	size_t n = strlen("Content-Transfer-Encoding: binary\r\n\r\n");

	memcpy(in, "Content-Transfer-Encoding: binary\r\n\r\n", n);
	memset(in + n, 0, 60);
	/* 60 octets: 80 base64 characters, 76 on the first line */
	strcpy(want, "Content-Transfer-Encoding: base64\r\n\r\n");
	size_t w = strlen(want);
	memset(want + w, 'A', 76);
	memcpy(want + w + 76, "\r\nAAAA", 7);
	assert_reencodes(in, n + 60, want);
}

static void test_unchanged(void **state)
{
	(void)state;
	assert_unchanged(LIT("Subject: x\r\n\r\nplain 8bit \xc3\xa9\r\n"));
	assert_unchanged(LIT("Content-Transfer-Encoding: base64\r\n\r\nYWI=\r\n"));
	assert_unchanged(LIT(""));
}

static void test_refused(void **state)
{
	(void)state;
	assert_refused(LIT("Subject: a\0b\r\n\r\nbody\r\n"));
	assert_refused(LIT("Content-Transfer-Encoding: quoted-printable\r\n\r\na\0\r\n"));
	assert_refused(LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			   "pre\0\r\n--b\r\n\r\nx\r\n--b--\r\n"));
	assert_refused(LIT("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			   "--b\r\n\r\nx\r\n--b--\r\nepi\0logue\r\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_nested_message),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
