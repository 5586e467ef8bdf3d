/* BODY[section] (RFC 3501 §6.4.5). */
#include <string.h>
#include <strings.h>

#include "mime/mime.h"
#include "mime/mime-private.h"

/* Follows the part numbers.  A multipart's parts are numbered from 1; a
 * part that is not multipart (the top of a single-part message, or of a
 * message/rfc822 body) has only part 1, which is that part itself; the
 * numbers after a message/rfc822 part address its encapsulated message.
 * Returns NULL when the path names no part. */
static const struct mime_part *section_part_find(const struct mime_message *msg,
						 const struct mime_section *sec)
{
	const struct mime_part *container = &msg->root, *cur = NULL;

	if (sec->part_count > MIME_MAX_DEPTH)
		return NULL;
	for (size_t i = 0; i < sec->part_count; i++) {
		uint32_t n = sec->parts[i];
		if (container == NULL || n == 0)
			return NULL;
		if (mime_part_is_multipart(container)) {
			if (n > container->child_count)
				return NULL;
			cur = &container->children[n - 1];
		} else if (n == 1) {
			cur = container;
		} else {
			return NULL;
		}
		if (cur->message != NULL)
			container = cur->message;
		else if (mime_part_is_multipart(cur) && cur != container)
			container = cur;
		else
			container = NULL;
	}
	return cur;
}

static void range_append(const struct mime_message *msg, size_t start,
			 size_t end, struct strbuf *out)
{
	if (end > msg->len)
		end = msg->len;
	if (start < end)
		strbuf_append(out, msg->data + start, end - start);
}

static bool field_listed(const struct mime_message *msg,
			 const struct mime_field *f,
			 const struct mime_section *sec)
{
	for (size_t i = 0; i < sec->field_count; i++) {
		if (sec->fields[i] != NULL &&
		    mime_field_name_is(msg->data, f, sec->fields[i]))
			return true;
	}
	return false;
}

/* The header block's own blank line, as offsets, when it ends in one. */
static bool header_blank_line(const struct mime_message *msg,
			      const struct mime_part *part, size_t *start_r)
{
	const char *d = msg->data;
	size_t start = part->header_start, end = part->header_end;

	if (end <= start || d[end - 1] != '\n')
		return false;
	size_t q = end - 1;
	if (q > start && d[q - 1] == '\r')
		q--;
	if (q != start && d[q - 1] != '\n')
		return false;
	*start_r = q;
	return true;
}

static void header_fields_append(const struct mime_message *msg,
				 const struct mime_part *part,
				 const struct mime_section *sec, bool negate,
				 struct strbuf *out)
{
	struct mime_field f;
	size_t pos = part->header_start;

	while (mime_field_next(msg->data, &pos, part->header_end, &f)) {
		if (field_listed(msg, &f, sec) == negate)
			continue;
		range_append(msg, f.start, f.end, out);
		if (msg->data[f.end - 1] != '\n')
			strbuf_append(out, "\r\n", 2);
	}
	/* "Subsetting does not exclude the [RFC-2822] delimiting blank line
	 * between the header and the body; the blank line is included in
	 * all header fetches, except in the case of a message which has no
	 * body and no blank line." */
	size_t blank;
	if (header_blank_line(msg, part, &blank))
		range_append(msg, blank, part->header_end, out);
	else if (part->body_end > part->body_start)
		strbuf_append(out, "\r\n", 2);
}

int mime_section_fetch(const struct mime_message *msg,
		       const struct mime_section *section, struct strbuf *out)
{
	const struct mime_part *part, *top;

	if (section->part_count == 0) {
		if (section->kind == MIME_SECTION_MIME)
			return -1;
		if (section->kind == MIME_SECTION_ALL) {
			range_append(msg, 0, msg->len, out);
			return 0;
		}
		top = &msg->root;
	} else {
		part = section_part_find(msg, section);
		if (part == NULL)
			return 0;
		switch (section->kind) {
		case MIME_SECTION_ALL:
			/* BODY[n] is the part's body without its MIME
			 * header; for a single-part message BODY[1] is the
			 * message body and BODY[1.MIME] its whole header. */
			range_append(msg, part->body_start, part->body_end, out);
			return 0;
		case MIME_SECTION_MIME:
			range_append(msg, part->header_start, part->header_end,
				     out);
			return 0;
		default:
			break;
		}
		/* HEADER, HEADER.FIELDS and TEXT after a part number only
		 * exist for message/rfc822 parts. */
		top = part->message;
		if (top == NULL)
			return 0;
	}

	switch (section->kind) {
	case MIME_SECTION_HEADER:
		range_append(msg, top->header_start, top->header_end, out);
		break;
	case MIME_SECTION_HEADER_FIELDS:
		header_fields_append(msg, top, section, false, out);
		break;
	case MIME_SECTION_HEADER_FIELDS_NOT:
		header_fields_append(msg, top, section, true, out);
		break;
	case MIME_SECTION_TEXT:
		range_append(msg, top->body_start, top->body_end, out);
		break;
	default:
		break;
	}
	return 0;
}
