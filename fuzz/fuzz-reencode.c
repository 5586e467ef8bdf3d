/* libFuzzer target: APPEND's re-encoding of binary content
 * (src/mime/mime-reencode.c, RFC 3516 §4.4).  Whatever the message, the
 * result must be free of NUL (so BODY[] can carry it), unchanged input must
 * have held none, and a refusal must leave the output empty. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/strbuf.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;
	const char *in = (const char *)data;

	int rc = mime_binary_reencode(in, size, &out, &error);
	if (rc < 0 && (error == NULL || out.len != 0))
		__builtin_trap();
	if (rc == 0 && (out.len != 0 || (size > 0 && memchr(in, '\0', size) != NULL)))
		__builtin_trap();
	if (rc > 0) {
		if (memchr(out.s, '\0', out.len) != NULL)
			__builtin_trap();
		struct mime_message *msg = mime_parse(out.s, out.len);
		mime_message_free(&msg);
	}
	strbuf_free(&out);
	return 0;
}
