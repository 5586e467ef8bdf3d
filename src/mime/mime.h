/* RFC 5322 / MIME (RFC 2045-2047, 2231) parsing for IMAP: the part tree
 * behind BODYSTRUCTURE, ENVELOPE and BODY[section], and decoded text for
 * SEARCH.
 *
 * The parser never fails: malformed input (missing or broken boundaries,
 * bad encodings, 8-bit headers, absurd nesting) is tolerated the way deployed
 * servers tolerate it and always yields a tree.  Nesting is capped at
 * MIME_MAX_DEPTH; deeper parts are treated as opaque bodies.
 *
 * The tree references the caller's buffer by offset; the buffer must outlive
 * the tree and must not change. */
#ifndef TIDINGS_MIME_H
#define TIDINGS_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/strbuf.h"

#define MIME_MAX_DEPTH 64
/* At most this many parts per message (every multipart child and every
 * encapsulated message counts); further boundary delimiters are taken as
 * body text, as Dovecot's max_total_mime_parts does. */
#define MIME_MAX_PARTS 10000

struct mime_param {
	char *name;   /* lowercased; RFC 2231 continuations joined */
	char *value;  /* RFC 2231 charset-decoded to UTF-8 where possible */
};

struct mime_part {
	/* Offsets into the message buffer. */
	size_t header_start;   /* first byte of the part's header */
	size_t header_end;     /* one past the blank line ending the header
				* (== body_start) */
	size_t body_start;
	size_t body_end;
	size_t body_lines;     /* lines in the body (for text/ and message/rfc822) */

	/* Content-Type, defaulted as RFC 2045 §5.2 and RFC 2046 §5.1.5 say
	 * (text/plain; charset=us-ascii, or message/rfc822 inside
	 * multipart/digest).  Lowercased. */
	char *type;
	char *subtype;
	struct mime_param *params;
	size_t param_count;

	char *content_id;          /* raw, NULL when absent */
	char *content_description; /* raw, NULL when absent */
	char *encoding;            /* lowercased; NULL means 7bit */
	char *content_md5;
	char *disposition;         /* lowercased, NULL when absent */
	struct mime_param *disposition_params;
	size_t disposition_param_count;
	char **languages;          /* Content-Language values */
	size_t language_count;
	char *location;            /* Content-Location, NULL when absent */

	struct mime_part *parent;
	struct mime_part *children;   /* multipart/ : array of child parts */
	size_t child_count;
	struct mime_part *message;    /* message/rfc822 (and global): the
				       * encapsulated message's top part */
};

struct mime_message {
	const char *data;
	size_t len;
	struct mime_part root;
};

struct mime_message *mime_parse(const char *data, size_t len);
void mime_message_free(struct mime_message **msg);

/* IMAP ENVELOPE (RFC 3501 §7.4.2) of the message whose top part is `top`
 * (the root, or a message/rfc822 part's ->message), as the parenthesised
 * list, appended to out. */
void mime_envelope_write(const struct mime_message *msg,
			 const struct mime_part *top, struct strbuf *out);
/* IMAP BODY (extended == false) or BODYSTRUCTURE (extended == true).
 * Type, subtype, parameter names, encoding and disposition type are
 * written in upper case ("TEXT" "PLAIN" ("CHARSET" "utf-8") ... "7BIT"),
 * values as they appear in the message. */
void mime_bodystructure_write(const struct mime_message *msg,
			      const struct mime_part *part, bool extended,
			      struct strbuf *out);

/* BODY[section] addressing (RFC 3501 §6.4.5). */
enum mime_section_kind {
	MIME_SECTION_ALL,              /* BODY[] or BODY[1.2] */
	MIME_SECTION_HEADER,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
};

struct mime_section {
	uint32_t parts[MIME_MAX_DEPTH]; /* 1-based part numbers */
	size_t part_count;
	enum mime_section_kind kind;
	char **fields;                  /* for HEADER.FIELDS(.NOT) */
	size_t field_count;
};

/* Appends the bytes the section names to out.  A section that does not
 * exist yields nothing (an empty string), as deployed servers answer.
 * Returns 0, or -1 when the section is invalid for the part (e.g. MIME on
 * the top level), in which case nothing is appended. */
int mime_section_fetch(const struct mime_message *msg,
		       const struct mime_section *section, struct strbuf *out);

/* Header access for SEARCH and the events: the first header field named
 * `name` (case-insensitive) of the given part's header, unfolded.  Returns
 * false when absent.  mime_header_decoded() also decodes RFC 2047 words to
 * UTF-8. */
bool mime_header_raw(const struct mime_message *msg,
		     const struct mime_part *part, const char *name,
		     struct strbuf *out);
bool mime_header_decoded(const struct mime_message *msg,
			 const struct mime_part *part, const char *name,
			 struct strbuf *out);
/* Every header field of the part, unfolded and RFC 2047-decoded to UTF-8,
 * as "Name: value\n" lines (for SEARCH TEXT). */
void mime_headers_decoded(const struct mime_message *msg,
			  const struct mime_part *part, struct strbuf *out);
/* The text of every text/ part (transfer-decoded, charset-converted to
 * UTF-8 with iconv; undecodable bytes replaced), for SEARCH BODY/TEXT. */
void mime_body_text(const struct mime_message *msg, struct strbuf *out);

/* Content-transfer decoding (RFC 2045 §6.7, §6.8), lenient: base64 skips
 * bytes outside its alphabet; quoted-printable keeps a bad "=" and drops
 * transport padding and soft line breaks.  Appends to out. */
void mime_base64_decode(const char *in, size_t len, struct strbuf *out);
void mime_qp_decode(const char *in, size_t len, struct strbuf *out);

/* RFC 2047 decoding of one header value to UTF-8. */
void mime_decode_words(const char *in, size_t len, struct strbuf *out);

/* Parses an RFC 5322 date-time (lenient, obsolete forms too).  Returns 0 and
 * the UTC time and the zone offset in minutes, or -1. */
int mime_parse_date(const char *s, time_t *t_r, int *tz_offset_r);

/* APPEND of binary content (RFC 3516 §4.4, §6): leaf parts with
 * Content-Transfer-Encoding: binary, or with NUL under 7bit/8bit, are
 * rewritten as base64 (their CTE field replaced or added).  Returns 1 with
 * the new message appended to out, 0 when nothing needed changing (out
 * untouched), or -1 with *error_r set when NUL octets sit where no
 * re-encoding can carry them (a header, base64 or QP text). */
int mime_binary_reencode(const char *data, size_t len, struct strbuf *out,
			 const char **error_r);

#endif
