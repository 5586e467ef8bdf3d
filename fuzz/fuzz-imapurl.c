/* libFuzzer target: RFC 5092 / RFC 4467 IMAP URLs through imap_url_parse;
 * a URL that parses is written back from its parts, parsed again (must
 * still parse, with the same parts), and its URLAUTH token checked. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap-url.h"
#include "lib/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_same(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_url u, again;
	const char *error = NULL;
	if (imap_url_parse((const char *)data, size, &u, &error) < 0) {
		if (error == NULL)
			abort();
		imap_url_free(&u);
		return 0;
	}
	if (u.rump_len > size)
		abort();
	/* the decoded parts, encoded again, give an equivalent URL */
	struct strbuf sb = STRBUF_INIT;
	strbuf_appends(&sb, "imap://");
	if (u.user != NULL) {
		imap_url_append_encoded(&sb, u.user, false);
		strbuf_appendc(&sb, '@');
	}
	strbuf_appends(&sb, u.host);
	strbuf_appendc(&sb, '/');
	if (u.mailbox != NULL) {
		imap_url_append_encoded(&sb, u.mailbox, true);
		if (u.uid != 0)
			strbuf_printf(&sb, "/;UID=%u", u.uid);
	}
	if (imap_url_parse(sb.s, sb.len, &again, &error) < 0)
		abort();
	fuzz_check_same(u.user, again.user);
	fuzz_check_same(u.mailbox, again.mailbox);
	if (u.uid != again.uid)
		abort();
	imap_url_free(&again);

	static const unsigned char key[IMAP_URLAUTH_KEY_LEN] = { 1, 2, 3 };
	struct strbuf token = STRBUF_INIT;
	imap_urlauth_token(key, sizeof(key), (const char *)data, u.rump_len,
			   &token);
	if (!imap_urlauth_token_verify(key, sizeof(key), (const char *)data,
				       u.rump_len, token.s, token.len))
		abort();
	if (u.token != NULL)
		(void)imap_urlauth_token_verify(key, sizeof(key),
						(const char *)data, u.rump_len,
						u.token, strlen(u.token));
	strbuf_free(&token);
	strbuf_free(&sb);
	imap_url_free(&u);
	return 0;
}
