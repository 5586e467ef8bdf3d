/* THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES over an array of
 * message descriptors.  No store, no session: the caller extracts the
 * headers, so the algorithms can be unit-tested and fuzzed alone.
 *
 * Every walk over the thread tree is iterative, so a hostile chain of
 * References headers costs time bounded by the limits below, never stack. */
#ifndef TIDINGS_IMAP_THREAD_H
#define TIDINGS_IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

enum imap_thread_algorithm {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/* Only the last this many Message IDs of a References header are used
 * (RFC 5256 §3 already expects truncated headers). */
#define IMAP_THREAD_MAX_REFERENCES 128
/* A Message ID longer than this is not valid. */
#define IMAP_THREAD_MAX_ID_LEN 998

/* "ORDEREDSUBJECT" / "REFERENCES", any case.  false when unknown. */
bool imap_thread_algorithm_parse(const char *name,
				 enum imap_thread_algorithm *alg_r);

struct imap_thread_message {
	uint32_t seq;
	uint32_t uid;
	int64_t date;               /* sent date (§2.2), INTERNALDATE fallback */
	const char *subject;        /* base subject (imap_sort_base_subject) */
	bool is_reply;              /* what imap_sort_base_subject returned */
	const char *message_id;     /* raw header values, NULL when absent */
	const char *references;
	const char *in_reply_to;
};

/* Threads msgs[0..count) (in ascending sequence order) and appends the
 * thread-data members "(1 2)(3 (4)(5))" (no "THREAD" and no leading space)
 * to out, numbering messages by UID when uid, else by sequence number. */
void imap_thread_build(enum imap_thread_algorithm alg,
		       const struct imap_thread_message *msgs, size_t count,
		       bool uid, struct strbuf *out);

/* The normalized Message IDs in a header value, in order: each <...>
 * msg-id with quoting, comments and whitespace removed ("<"a b"@c>" is
 * "a b@c"); an id without '@' or too long is skipped.  Calls fn for each
 * and stops when it returns false.  Exposed for the unit tests. */
void imap_thread_msgids_parse(const char *value,
			      bool (*fn)(const char *id, size_t len, void *ctx),
			      void *ctx);

#endif
