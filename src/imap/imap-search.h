/* SEARCH (RFC 3501 §6.4.4): parse the search keys into a program, then run
 * it against one message at a time.  Knows nothing of sessions or storage:
 * the caller describes each message through struct imap_search_message and
 * supplies the body lazily (only keys that need it open it). */
#ifndef TIDINGS_IMAP_SEARCH_H
#define TIDINGS_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-annotate.h"
#include "imap/imap-parser.h"

struct imap_search;

struct imap_search_limits {
	unsigned int max_depth;   /* nesting of (), OR, NOT */
	unsigned int max_keys;
	/* IMAP4rev2 (RFC 9051 §6.4.4 has no RECENT, NEW, OLD keys and no
	 * \Recent keyword): refuse them as unknown keys. */
	bool no_recent_keys;
	/* UTF8=ACCEPT enabled: a CHARSET is refused (RFC 6855 §3). */
	bool no_charset;
};
/* limits may be NULL, and a 0 field means the default (depth 32, 1000
 * keys); depth is capped at 128 whatever is asked, since parsing and
 * matching recurse once per level. */

/* Parses the SEARCH arguments (args[0..count), after the command name;
 * an optional leading "CHARSET x" is accepted for UTF-8 and US-ASCII).
 * Sequence sets are kept unresolved; they are resolved per run with the
 * session's current message count and largest UID.
 * Returns 0, or -1 with *error_r a static reason and *badcharset_r set when
 * the error is an unknown charset (answer NO [BADCHARSET (UTF-8 US-ASCII)]). */
int imap_search_parse(const struct imap_arg *args, size_t count,
		      const struct imap_search_limits *limits,
		      struct imap_search **search_r, const char **error_r,
		      bool *badcharset_r);
void imap_search_free(struct imap_search **search);

/* WITHIN (RFC 5032): OLDER n and YOUNGER n (n an nz-number of seconds)
 * compare INTERNALDATE with the time of the match, to the second: OLDER
 * matches INTERNALDATE <= now - n, YOUNGER INTERNALDATE >= now - n. */

/* True when any key needs the message text (header or body). */
bool imap_search_needs_body(const struct imap_search *search);
/* True when the keys that need the text look at the top-level header
 * only (HEADER, FROM, SUBJECT, SENT*, ...): the caller may then load just
 * the header (store_body_header), with the empty line that ends it. */
bool imap_search_needs_header_only(const struct imap_search *search);
/* True when a MODSEQ key was used (RFC 7162 §3.1.5: the SEARCH response
 * then carries "(MODSEQ n)" with the highest mod-sequence found). */
bool imap_search_uses_modseq(const struct imap_search *search);
/* True when an ANNOTATION key (RFC 5257 §4.8) was used: the caller then
 * fills imap_search_message.annotations (else such keys never match). */
bool imap_search_uses_annotations(const struct imap_search *search);

struct imap_search_message {
	uint32_t seq;             /* message sequence number */
	uint32_t uid;
	uint32_t flags;           /* enum store_flag bits */
	bool recent;
	const char *keywords;     /* space-separated */
	int64_t internaldate;     /* seconds since the epoch */
	int tz_offset;            /* minutes east of UTC of internaldate */
	uint64_t size;
	uint64_t modseq;
	/* The message's text, or NULL/0 when not (yet) loaded: the caller
	 * loads it when imap_search_needs_body() says so. */
	const char *data;
	size_t len;
	/* ANNOTATION keys: the values the user may read (imap_search_uses_
	 * annotations() says when they are needed); NULL/0: none */
	const struct imap_annotate_value *annotations;
	size_t annotation_count;
};

struct imap_search_context {
	uint32_t max_seq;   /* '*' for sequence sets */
	uint32_t max_uid;   /* '*' for UID sets */
	/* SEARCHRES (RFC 5182): the UIDs (ascending) that the key "$" and
	 * "UID $" stand for; none when NULL. */
	const uint32_t *saved_uids;
	size_t saved_count;
};

/* Evaluates the program for one message.  Date keys compare dates
 * disregarding time and timezone, as RFC 3501 says: INTERNALDATE in its own
 * zone, SENT* the Date: header's date in its own zone.  Text keys are
 * case-insensitive substring matches on the MIME-decoded UTF-8 text.
 * A message without a parsable Date: header never matches SENT* keys.
 * The program caches its resolved sequence sets inside itself, so one
 * program must not be matched from two threads at once. */
bool imap_search_match(const struct imap_search *search,
		       const struct imap_search_context *ctx,
		       const struct imap_search_message *msg);

/* Decides what it can without the message text (msg->data is not looked
 * at): 1 matches, 0 does not, -1 the text is needed, so that a caller can
 * skip loading the bodies of messages that cheap keys (flags, sets, sizes,
 * INTERNALDATE) already rule out, then call imap_search_match(). */
int imap_search_match_without_text(const struct imap_search *search,
				   const struct imap_search_context *ctx,
				   const struct imap_search_message *msg);

#endif
