/* SORT (RFC 5256 §3, ESORT RFC 5267): the sort program, the base subject
 * of §2.1, the addr-mailbox of an address header, and the comparison of
 * message descriptors.  Knows nothing of sessions or storage: the caller
 * fills struct imap_sort_message from the index and the message header, so
 * that everything here can be unit-tested and fuzzed alone. */
#ifndef TIDINGS_IMAP_SORT_H
#define TIDINGS_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/strbuf.h"

enum imap_sort_key {
	IMAP_SORT_ARRIVAL,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
};

#define IMAP_SORT_MAX_CRITERIA 16
/* Strings longer than this (base subjects, addr-mailboxes) are cut: a
 * comparison needs no more, and a hostile header cannot make sorting
 * quadratic in its size. */
#define IMAP_SORT_MAX_STRING 1024

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

struct imap_sort_program {
	struct imap_sort_criterion criteria[IMAP_SORT_MAX_CRITERIA];
	size_t count;
};

/* Parses a sort-criteria list "(REVERSE DATE SUBJECT)" (RFC 5256 §5).
 * Returns 0, or -1 with *error_r a static reason (answer BAD). */
int imap_sort_program_parse(const struct imap_arg *list,
			    struct imap_sort_program *prog_r,
			    const char **error_r);
/* True when some key needs the message header (all but ARRIVAL, SIZE). */
bool imap_sort_program_needs_header(const struct imap_sort_program *prog);

/* True when the charset argument of SORT/THREAD is one we implement
 * (UTF-8, US-ASCII; RFC 5256 §3 makes both mandatory). */
bool imap_sort_charset_supported(const char *charset);

/* RFC 5256 §2.1 base subject of `subject` (already RFC 2047-decoded to
 * UTF-8, steps (2)-(6) and the whitespace part of (1) are done here),
 * appended to out.  Returns true when the extraction removed a subj-refwd,
 * a "(fwd)" trailer or a [fwd: ...] wrapper, i.e. the message is a reply
 * or forward in the sense of the REFERENCES algorithm (§3). */
bool imap_sort_base_subject(const char *subject, size_t len,
			    struct strbuf *out);

/* The [IMAP] addr-mailbox (local part, unquoted) of the first address of
 * an address header value (From, To, Cc), appended to out; nothing when
 * there is none.  Group syntax, display names, comments and source routes
 * are skipped. */
void imap_sort_address_mailbox(const char *value, size_t len,
			       struct strbuf *out);

/* String collation for SORT and THREAD: i;ascii-casemap (the empty string
 * sorts first).  <0, 0, >0. */
int imap_sort_string_compare(const char *a, const char *b);

/* One message, as SORT needs it.  Strings are never NULL ("" when the
 * header is absent) and are the already-extracted keys. */
struct imap_sort_message {
	uint32_t seq;
	uint32_t uid;
	int64_t arrival;      /* INTERNALDATE, seconds since the epoch (UTC) */
	int64_t date;         /* sent date (§2.2), INTERNALDATE when none */
	uint64_t size;
	const char *from;     /* addr-mailbox */
	const char *to;
	const char *cc;
	const char *subject;  /* base subject */
};

/* Compares by the program's criteria, then by sequence number (the
 * implicit last criterion, never reversed). */
int imap_sort_compare(const struct imap_sort_program *prog,
		      const struct imap_sort_message *a,
		      const struct imap_sort_message *b);
/* Sorts msgs in place by imap_sort_compare(). */
void imap_sort_messages(const struct imap_sort_program *prog,
			struct imap_sort_message *msgs, size_t count);

#endif
