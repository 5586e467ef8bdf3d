/* libFuzzer target: BINARY's content-transfer decoding.  The first byte
 * picks the encoding and whether the part is text; the rest is decoded.
 * The whole input is also parsed as a message and BINARY[] of a few
 * part paths is taken from it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap/imap-cte.h"
#include "lib/strbuf.h"
#include "mime/mime.h"

static const char *const fuzz_encodings[] = {
	NULL, "7bit", "8bit", "binary", "base64", "quoted-printable",
	"x-uuencode", "BASE64",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf out = STRBUF_INIT;

	if (size == 0)
		return 0;
	const char *enc = fuzz_encodings[data[0] % 8];
	bool text = (data[0] & 0x80) != 0;
	size_t before = out.len;
	int rc = imap_cte_decode(enc, (const char *)data + 1, size - 1, text,
				 &out);
	if (rc != IMAP_CTE_OK && out.len != before)
		__builtin_trap();
	strbuf_free(&out);

	struct mime_message *msg = mime_parse((const char *)data, size);
	static const uint32_t paths[][3] = {
		{ 1, 0, 0 }, { 2, 0, 0 }, { 1, 1, 0 }, { 2, 1, 1 }, { 3, 2, 1 },
	};
	static const size_t lens[] = { 1, 1, 2, 3, 3 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		(void)imap_cte_section(msg, paths[i], lens[i], &out);
		strbuf_reset(&out);
	}
	(void)imap_cte_section(msg, NULL, 0, &out);
	if (out.len != size)
		__builtin_trap();
	strbuf_free(&out);
	mime_message_free(&msg);
	return 0;
}
