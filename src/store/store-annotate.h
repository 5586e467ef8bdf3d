/* Message annotations (RFC 5257 ANNOTATE-EXPERIMENT-1), kept in table
 * annotations of the SQLite index (schema v4): one row per message, entry
 * and owner, user_id 0 for the value.shared, else that user's value.priv.
 * Rows go with their message (ON DELETE CASCADE), and with COPY / MOVE
 * (store_annotate_copy, called inside the copy's transaction).
 *
 * Entry names are checked by the caller (imap_annotate_entry_valid) and
 * are case-sensitive (§3.2).  A change through store_annotate_set gives
 * each message whose values really changed a new MODSEQ (RFC 7162 §3.1:
 * metadata changes bump the mod-sequence; RFC 5257 §1 asks for CONDSTORE
 * for this) and writes, in the same transaction, vnd.tidings.AnnotationChange
 * (docs/events.md): at most one for the .shared values and one for the
 * .priv values, each with uri, mailboxID, uidset, modseq,
 * vnd.tidings.entries ("/a /b": the changed entries, sorted) and
 * vnd.tidings.private. */
#ifndef TIDINGS_STORE_ANNOTATE_H
#define TIDINGS_STORE_ANNOTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_annotation {
	char *entry;
	bool priv;          /* the user's value.priv, else value.shared */
	char *value;        /* NUL-terminated, may also hold NUL */
	size_t len;
};

struct store_annotation_list {
	struct store_annotation *items;
	size_t count;
};
void store_annotation_list_free(struct store_annotation_list *list);

/* The values of message uid in mailbox_id that user_id sees: the .shared
 * ones and user_id's .priv ones (none when user_id is 0), by entry, the
 * .priv value of an entry before its .shared one.  A message that does
 * not exist has none. */
int store_annotate_get(struct store *store, int64_t mailbox_id, uint32_t uid,
		       int64_t user_id, struct store_annotation_list *list_r,
		       struct store_error *err);

/* One value to set: value NULL removes it. */
struct store_annotate_item {
	const char *entry;
	bool priv;
	const char *value;
	size_t len;
};

struct store_annotate_limits {
	uint64_t max_size;       /* bytes in one value */
	size_t max_entries;      /* values a message may hold for a user:
				  * its .shared ones plus the user's .priv */
};

/* Sets the items on each existing message among uids (ascending) of
 * mailbox_id, as user_id, in one transaction: all or nothing.  TOOBIG for
 * a value over max_size, LIMIT when a message would hold more than
 * max_entries values.  With unchangedsince > 0 (RFC 7162 §3.1.3), the
 * messages whose modseq is above it are left alone and listed in
 * *modified_r (malloc'd, ascending; NULL when none).  new_message: the
 * message was just appended (APPEND ... ANNOTATION): no new modseq and no
 * event, its MessageAppend says it all. */
int store_annotate_set(struct store *store, const struct store_actor *actor,
		       int64_t user_id, int64_t mailbox_id,
		       const uint32_t *uids, size_t count,
		       const struct store_annotate_item *items, size_t nitems,
		       const struct store_annotate_limits *limits,
		       bool new_message, uint64_t unchangedsince,
		       uint32_t **modified_r, size_t *modified_count_r,
		       struct store_error *err);

/* For the store's COPY / MOVE, inside its transaction (store-sqlite.c):
 * RFC 5257 §4.6, the copies get every .shared value and the acting user's
 * .priv values (actor->user; none when there is no user), never another
 * user's.  src_uids[i] was copied to dst_uids[i]. */
int store_annotate_copy(struct store *store, const struct store_actor *actor,
			int64_t src_mailbox_id, const uint32_t *src_uids,
			int64_t dst_mailbox_id, const uint32_t *dst_uids,
			size_t count, struct store_error *err);

#endif
