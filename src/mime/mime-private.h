/* Internals shared by the mime-*.c files; not for use outside src/mime. */
#ifndef TIDINGS_MIME_PRIVATE_H
#define TIDINGS_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/strbuf.h"
#include "mime/mime.h"

/* One header field inside a header block, by offset into the message. */
struct mime_field {
	size_t start;        /* first byte of the field name */
	size_t name_len;
	size_t value_start;  /* first byte after the colon */
	size_t end;          /* one past the field's last line (incl. its LF) */
};

/* Iterates the fields of the header block [*pos, end): fills f and returns
 * true, or returns false at the blank line ending the header or at end.
 * Lines that are not fields (a stray continuation at the top) are skipped. */
bool mime_field_next(const char *data, size_t *pos, size_t end,
		     struct mime_field *f);
bool mime_field_name_is(const char *data, const struct mime_field *f,
			const char *name);
/* The field's value unfolded (line breaks removed, the whitespace after
 * them kept) and trimmed of surrounding whitespace, appended to out. */
void mime_field_value(const char *data, const struct mime_field *f,
		      struct strbuf *out);
/* Length of a field name at data[pos..end) followed by optional WSP and a
 * colon; 0 when the line does not start a header field.  *colon_r is set
 * to the offset of the colon. */
size_t mime_field_name_len(const char *data, size_t pos, size_t end,
			   size_t *colon_r);

/* IMAP string output (RFC 3501 §4.3): a quoted string when every byte is
 * 7-bit and neither CR, LF nor NUL, otherwise a literal.  NUL bytes can be
 * in neither, so they are dropped. */
void mime_imap_string_write(struct strbuf *out, const char *s, size_t len);
/* NULL -> NIL */
void mime_imap_nstring_write(struct strbuf *out, const char *s);
/* Quoted string of an ASCII-uppercased copy of s (type names). */
void mime_imap_upper_write(struct strbuf *out, const char *s);

/* Converts len bytes in `charset` to UTF-8, appended to out.  Invalid or
 * unconvertible input becomes U+FFFD; an unknown charset is treated as
 * UTF-8.  Never fails. */
void mime_charset_to_utf8(const char *charset, size_t charset_len,
			  const char *in, size_t len, struct strbuf *out);
/* Copies UTF-8, replacing invalid sequences with U+FFFD. */
void mime_utf8_sanitize(const char *in, size_t len, struct strbuf *out);

/* strbuf_grow() alone leaves a never-written buffer unterminated; these
 * reserve or detach and always leave a NUL-terminated string. */
static inline void mime_strbuf_reserve(struct strbuf *sb, size_t extra)
{
	strbuf_grow(sb, extra);
	strbuf_append(sb, "", 0);
}

static inline char *mime_strbuf_take(struct strbuf *sb)
{
	strbuf_append(sb, "", 0);
	return strbuf_detach(sb, NULL);
}

bool mime_part_is_multipart(const struct mime_part *part);
/* message/rfc822 or message/global whose body was parsed as a message. */
bool mime_part_is_message(const struct mime_part *part);
const char *mime_param_get(const struct mime_param *params, size_t count,
			   const char *name);

#endif
