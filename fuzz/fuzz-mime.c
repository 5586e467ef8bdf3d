/* libFuzzer target for src/mime: parse, then exercise every writer on the
 * tree.  The first input byte picks a section to fetch so that the fuzzer
 * explores part paths too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/strbuf.h"
#include "mime/mime.h"

static void walk(const struct mime_message *msg, const struct mime_part *part,
		 struct strbuf *out, unsigned int depth)
{
	mime_header_decoded(msg, part, "subject", out);
	mime_header_raw(msg, part, "content-type", out);
	if (part->message != NULL) {
		mime_envelope_write(msg, part->message, out);
		walk(msg, part->message, out, depth + 1);
	}
	for (size_t i = 0; i < part->child_count && i < 16; i++)
		walk(msg, &part->children[i], out, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t selector = size > 0 ? data[0] : 0;
	struct mime_message *msg = mime_parse((const char *)data, size);
	struct strbuf out = STRBUF_INIT;

	mime_envelope_write(msg, &msg->root, &out);
	mime_bodystructure_write(msg, &msg->root, true, &out);
	mime_bodystructure_write(msg, &msg->root, false, &out);
	mime_headers_decoded(msg, &msg->root, &out);
	mime_body_text(msg, &out);
	walk(msg, &msg->root, &out, 0);

	struct strbuf date = STRBUF_INIT;
	if (mime_header_raw(msg, &msg->root, "date", &date)) {
		time_t t;
		int tz;
		(void)mime_parse_date(strbuf_str(&date), &t, &tz);
	}
	strbuf_free(&date);

	static char *fields[] = { "from", "SUBJECT", "content-type", "x" };
	static const enum mime_section_kind kinds[] = {
		MIME_SECTION_ALL, MIME_SECTION_HEADER,
		MIME_SECTION_HEADER_FIELDS, MIME_SECTION_HEADER_FIELDS_NOT,
		MIME_SECTION_TEXT, MIME_SECTION_MIME,
	};
	struct mime_section sec;
	memset(&sec, 0, sizeof(sec));
	sec.fields = fields;
	sec.field_count = 4;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		sec.kind = kinds[k];
		/* The top level, then paths built from the selector's bits. */
		for (size_t depth = 0; depth <= 4; depth++) {
			sec.part_count = depth;
			for (size_t i = 0; i < depth; i++)
				sec.parts[i] = 1 + ((selector >> (2 * i)) & 3);
			strbuf_reset(&out);
			(void)mime_section_fetch(msg, &sec, &out);
		}
	}

	strbuf_free(&out);
	mime_message_free(&msg);
	return 0;
}
