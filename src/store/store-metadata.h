/* METADATA (RFC 5464) entries of the server and of mailboxes, kept in table
 * metadata of the SQLite index (schema v4).
 *
 * Entry names are full names as IMAP writes them ("/private/comment",
 * "/shared/vendor/x/y"), checked by the caller (store_metadata_entry_valid)
 * and compared without regard to case (RFC 5464 §3.2): the store keeps them
 * in lower case.  A /private entry belongs to one user; a /shared entry
 * has one value for everyone who may see it.  Server entries have no
 * mailbox.
 *
 * Each change writes, in the same transaction, one event per entry that
 * really changed: vnd.tidings.MailboxMetadataChange (uri and mailboxID of
 * the mailbox) or vnd.tidings.ServerMetadataChange (uri of the server),
 * each with vnd.tidings.entry = the entry name; values are never put in
 * events.  The outbox row's user is the mailbox owner for /shared mailbox
 * entries, the user for /private entries (of a mailbox, also one shared
 * with the user by another, or of the server) and 0 for /shared server
 * entries. */
#ifndef TIDINGS_STORE_METADATA_H
#define TIDINGS_STORE_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Longest entry name in bytes. */
#define STORE_METADATA_ENTRY_MAX 1024

enum store_metadata_depth {
	STORE_METADATA_DEPTH_0,         /* the entry itself */
	STORE_METADATA_DEPTH_1,         /* and its children */
	STORE_METADATA_DEPTH_INFINITY,  /* and everything below it */
};

struct store_metadata_item {
	char *entry;      /* full name, lower case */
	char *value;      /* NULL: no value (set: remove the entry) */
	size_t len;       /* bytes in value (may hold NUL) */
};

struct store_metadata_list {
	struct store_metadata_item *items;
	size_t count;
};
void store_metadata_list_free(struct store_metadata_list *list);

/* RFC 5464 §3.2: "/private" or "/shared" then components, no "//", no
 * trailing '/', no '*' or '%', ASCII 0x20-0x7e only, at most
 * STORE_METADATA_ENTRY_MAX bytes.  for_set: at least two components, and
 * at least four under /private/vendor/ and /shared/vendor/; otherwise a
 * bare "/private" or "/shared" is allowed (a DEPTH root). */
bool store_metadata_entry_valid(const char *entry, bool for_set);

/* The entries of mailbox mailbox_id (0: the server) that user_id sees
 * (its own /private ones and the /shared ones), for each name in
 * entries (valid, lower case) down to depth; in name order, each once. */
int store_metadata_get(struct store *store, int64_t user_id,
		       int64_t mailbox_id, char *const *entries, size_t count,
		       enum store_metadata_depth depth,
		       struct store_metadata_list *list_r,
		       struct store_error *err);

/* Sets (value != NULL) or removes (value == NULL) each item (valid, lower
 * case entry names) on mailbox mb (NULL: the server), as user_id, in one
 * transaction: all or nothing.  LIMIT ("too many") when a new entry would
 * take the user's entries (its /private entries everywhere plus the
 * /shared entries of its mailboxes), or the server's /shared entries,
 * above max_entries.  A removal of an entry that does not exist is no
 * change. */
int store_metadata_set(struct store *store, const struct store_actor *actor,
		       int64_t user_id, const struct store_mailbox *mb,
		       const struct store_metadata_item *items, size_t count,
		       size_t max_entries, struct store_error *err);

#endif
