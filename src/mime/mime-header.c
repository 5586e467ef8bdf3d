/* Header fields: iteration over a header block, unfolding, lookup. */
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "mime/mime-private.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static size_t line_end(const char *data, size_t pos, size_t end)
{
	const char *nl = memchr(data + pos, '\n', end - pos);
	return nl == NULL ? end : (size_t)(nl - data) + 1;
}

/* RFC 5322 §2.2: field-name = 1*ftext (printable ASCII but colon); the
 * obsolete syntax (§4.5.8) allows whitespace before the colon.  8-bit
 * bytes are tolerated in names, as deployed parsers do, so that one odd
 * field does not turn the rest of the header into body. */
size_t mime_field_name_len(const char *data, size_t pos, size_t end,
			   size_t *colon_r)
{
	size_t i = pos;

	while (i < end) {
		unsigned char c = (unsigned char)data[i];
		if (c <= 32 || c == 127 || c == ':')
			break;
		i++;
	}
	size_t name_len = i - pos;
	if (name_len == 0)
		return 0;
	while (i < end && is_wsp(data[i]))
		i++;
	if (i >= end || data[i] != ':')
		return 0;
	*colon_r = i;
	return name_len;
}

bool mime_field_next(const char *data, size_t *pos, size_t end,
		     struct mime_field *f)
{
	size_t p = *pos;

	while (p < end) {
		size_t le = line_end(data, p, end);
		/* The blank line ends the header. */
		if (data[p] == '\n' || (data[p] == '\r' && p + 1 < end &&
					data[p + 1] == '\n')) {
			*pos = end;
			return false;
		}
		size_t colon;
		size_t name_len = is_wsp(data[p]) ? 0 :
			mime_field_name_len(data, p, le, &colon);
		if (name_len == 0) {
			/* Stray continuation or junk: not a field. */
			p = le;
			continue;
		}
		f->start = p;
		f->name_len = name_len;
		f->value_start = colon + 1;
		p = le;
		while (p < end && is_wsp(data[p]))
			p = line_end(data, p, end);
		f->end = p;
		*pos = p;
		return true;
	}
	*pos = p;
	return false;
}

bool mime_field_name_is(const char *data, const struct mime_field *f,
			const char *name)
{
	size_t n = strlen(name);
	return n == f->name_len &&
		strncasecmp(data + f->start, name, n) == 0;
}

void mime_field_value(const char *data, const struct mime_field *f,
		      struct strbuf *out)
{
	size_t i = f->value_start, end = f->end;

	while (i < end && (is_wsp(data[i]) || data[i] == '\r' ||
			   data[i] == '\n'))
		i++;
	while (end > i && (is_wsp(data[end - 1]) || data[end - 1] == '\r' ||
			   data[end - 1] == '\n'))
		end--;
	/* Unfolding (RFC 5322 §2.2.3) removes the CRLF before the WSP that
	 * starts a continuation line, keeping the WSP itself. */
	mime_strbuf_reserve(out, end - i);
	while (i < end) {
		const char *nl = memchr(data + i, '\n', end - i);
		size_t seg_end = nl == NULL ? end : (size_t)(nl - data);
		size_t copy_end = seg_end;
		if (nl != NULL && copy_end > i && data[copy_end - 1] == '\r')
			copy_end--;
		strbuf_append(out, data + i, copy_end - i);
		i = nl == NULL ? end : seg_end + 1;
	}
}

static bool header_find(const struct mime_message *msg,
			const struct mime_part *part, const char *name,
			struct mime_field *f)
{
	size_t pos = part->header_start;

	while (mime_field_next(msg->data, &pos, part->header_end, f)) {
		if (mime_field_name_is(msg->data, f, name))
			return true;
	}
	return false;
}

bool mime_header_raw(const struct mime_message *msg,
		     const struct mime_part *part, const char *name,
		     struct strbuf *out)
{
	struct mime_field f;

	if (!header_find(msg, part, name, &f))
		return false;
	mime_field_value(msg->data, &f, out);
	return true;
}

bool mime_header_decoded(const struct mime_message *msg,
			 const struct mime_part *part, const char *name,
			 struct strbuf *out)
{
	struct mime_field f;
	struct strbuf raw = STRBUF_INIT;

	if (!header_find(msg, part, name, &f))
		return false;
	mime_field_value(msg->data, &f, &raw);
	mime_decode_words(strbuf_str(&raw), raw.len, out);
	strbuf_free(&raw);
	return true;
}

void mime_headers_decoded(const struct mime_message *msg,
			  const struct mime_part *part, struct strbuf *out)
{
	struct mime_field f;
	struct strbuf raw = STRBUF_INIT;
	size_t pos = part->header_start;

	while (mime_field_next(msg->data, &pos, part->header_end, &f)) {
		/* Field names are ASCII by construction. */
		strbuf_append(out, msg->data + f.start, f.name_len);
		strbuf_append(out, ": ", 2);
		strbuf_reset(&raw);
		mime_field_value(msg->data, &f, &raw);
		mime_decode_words(strbuf_str(&raw), raw.len, out);
		strbuf_appendc(out, '\n');
	}
	strbuf_free(&raw);
}
