/* FETCH (RFC 3501 §6.4.5, §7.4.2): parse the fetch attributes, then write the
 * data items of one message.  Knows nothing of sessions or storage: the
 * caller describes the message and supplies its text when needed. */
#ifndef TIDINGS_IMAP_FETCH_H
#define TIDINGS_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-annotate.h"
#include "imap/imap-parser.h"
#include "lib/strbuf.h"
#include "mime/mime.h"

enum imap_fetch_item_kind {
	IMAP_FETCH_UID,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
	IMAP_FETCH_BODY,            /* BODY (non-extensible BODYSTRUCTURE) */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_RFC822,          /* = BODY[] (sets \Seen) */
	IMAP_FETCH_RFC822_HEADER,   /* = BODY.PEEK[HEADER] */
	IMAP_FETCH_RFC822_TEXT,     /* = BODY[TEXT] (sets \Seen) */
	IMAP_FETCH_BODY_SECTION,    /* BODY[...]<...> and BODY.PEEK[...] */
	IMAP_FETCH_MODSEQ,          /* CONDSTORE, later */
	/* BINARY (RFC 3516): BINARY[parts]<...>, BINARY.PEEK[...] (peek)
	 * and BINARY.SIZE[parts]; section.parts holds the path, and
	 * section_text its spelling ("1.2"). */
	IMAP_FETCH_BINARY,
	IMAP_FETCH_BINARY_SIZE,
	/* ANNOTATION (entries attribs) of RFC 5257 §4.3; the caller writes
	 * the values (imap_fetch_message.annotation) */
	IMAP_FETCH_ANNOTATION,
};

struct imap_fetch_item {
	enum imap_fetch_item_kind kind;
	struct mime_section section;  /* BODY_SECTION */
	bool peek;
	bool partial;
	uint32_t partial_offset;
	uint32_t partial_length;
	char *section_text;           /* the section as the client spelt it
				       * (normalised: keywords upper case,
				       * single spaces, header field names
				       * as given), e.g.
				       * "1.2.HEADER.FIELDS (FROM To)" */
	struct imap_annotate_fetch *annotation;  /* ANNOTATION */
};

struct imap_fetch_request {
	struct imap_fetch_item *items;
	size_t count;
	bool needs_body;    /* some item needs the message text */
	bool sets_seen;     /* some item implicitly sets \Seen (§6.4.5) */
	bool needs_mime;    /* some item needs the parsed MIME tree */
};

/* Parses the fetch argument (a macro ALL/FAST/FULL, one item, or a
 * parenthesised list).  For UID FETCH pass uid_command = true: UID is then
 * always included (§6.4.8).  0, or -1 with *error_r a static reason. */
int imap_fetch_parse(const struct imap_arg *arg, bool uid_command,
		     struct imap_fetch_request *req_r, const char **error_r);
void imap_fetch_request_free(struct imap_fetch_request *req);

struct imap_fetch_message {
	uint32_t seq;
	uint32_t uid;
	uint32_t flags;            /* enum store_flag bits */
	bool recent;
	const char *keywords;      /* space-separated */
	int64_t internaldate;
	int tz_offset;
	uint64_t size;
	uint64_t modseq;
	const char *data;          /* message text when req->needs_body */
	size_t len;
	const struct mime_message *mime; /* when req->needs_mime */
	/* ANNOTATION: the parenthesised entry list to write after
	 * "ANNOTATION " (RFC 5257 §4.4); NULL writes "()" */
	const char *annotation;
	size_t annotation_len;      /* may hold NUL (literal8) */
};

/* Writes "* SEQ FETCH (...)\r\n" for the message, data items in request
 * order, FLAGS as given (the caller has already applied an implicit \Seen).
 * Literals are used for body sections and any string that needs one.  A
 * BINARY item that cannot be decoded is answered NIL (BINARY.SIZE 0). */
void imap_fetch_write(const struct imap_fetch_request *req,
		      const struct imap_fetch_message *msg,
		      struct strbuf *out);
/* The same, but 0, or IMAP_FETCH_UNKNOWN_CTE when a BINARY item cannot be
 * decoded (unknown CTE, or a multipart / message part): then nothing is
 * appended, and the command ends NO [UNKNOWN-CTE] (RFC 3516 §4.3). */
#define IMAP_FETCH_UNKNOWN_CTE (-1)
int imap_fetch_write_checked(const struct imap_fetch_request *req,
			     const struct imap_fetch_message *msg,
			     struct strbuf *out);

/* "(\Seen \Flagged kw1)" for flags + keywords (+ \Recent when recent). */
void imap_flags_write(struct strbuf *out, uint32_t flags, const char *keywords,
		      bool recent);
/* IMAP date-time "23-Nov-2026 10:55:03 +0100" of t in the given offset
 * (minutes east of UTC), without the surrounding DQUOTEs; the day is
 * SP-padded (" 1-Feb-..."), as §9 date-day-fixed prefers. */
void imap_datetime_write(struct strbuf *out, int64_t t, int tz_offset);
/* Parses an IMAP date-time (APPEND), the quoted string's value without the
 * DQUOTEs; the day may be " 1", "01" or "1".  0 / -1. */
int imap_datetime_parse(const char *s, int64_t *t_r, int *tz_offset_r);
/* Parses an IMAP date "1-Feb-1994" (SEARCH); 0 / -1, gives y/m/d. */
int imap_date_parse(const char *s, int *year_r, int *month_r, int *day_r);

#endif
