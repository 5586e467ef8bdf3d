/* Inside the store: the backend vtable, the handle, and the helpers every
 * backend shares (names, keywords, event parameters, message files).
 *
 * store.c checks and normalises the arguments of each public call (mailbox
 * names, keywords, flags, sizes), then calls the backend through
 * struct store_backend_ops.  A backend gets canonical names and a valid
 * keyword list, runs the change and its events in one transaction, and
 * fills *err itself. */
#ifndef TIDINGS_STORE_PRIVATE_H
#define TIDINGS_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/event-types.h"
#include "lib/strbuf.h"
#include "store/store.h"

/* Hard limits on what the store accepts. */
#define STORE_USER_NAME_MAX 255          /* bytes, struct store_user.name */
#define STORE_PASSWORD_HASH_MAX 255
#define STORE_MAILBOX_DEPTH_MAX 64       /* hierarchy levels in a name */
#define STORE_KEYWORD_LEN_MAX 128        /* bytes in one keyword */
#define STORE_KEYWORDS_PER_MESSAGE_MAX 100
#define STORE_KEYWORDS_PER_MAILBOX_MAX 1000
#define STORE_TZ_OFFSET_MAX (24 * 60)    /* minutes either side of UTC */
/* The largest UID the store hands out: UIDNEXT must still fit in 32 bits
 * (RFC 3501 §2.3.1.1 nz-number; RFC 9051 says the same). */
#define STORE_UID_MAX (UINT32_MAX - 1)

struct store_keywords;

struct store_backend_ops {
	const char *name;
	int (*open)(struct store *store, struct store_error *err);
	void (*close)(struct store *store);

	int (*user_create)(struct store *store,
			   const struct store_actor *actor, const char *name,
			   const char *password_hash, struct store_error *err);
	int (*user_set_password)(struct store *store, const char *name,
				 const char *password_hash,
				 struct store_error *err);
	int (*user_delete)(struct store *store,
			   const struct store_actor *actor, const char *name,
			   struct store_error *err);
	int (*user_lookup)(struct store *store, const char *name,
			   struct store_user *user_r, struct store_error *err);
	int (*user_foreach)(struct store *store,
			    int (*cb)(const struct store_user *user, void *ctx),
			    void *ctx, struct store_error *err);

	int (*mailbox_list)(struct store *store, int64_t user_id,
			    struct store_mailbox **list_r, size_t *count_r,
			    struct store_error *err);
	int (*mailbox_get)(struct store *store, int64_t user_id,
			   const char *name, struct store_mailbox *mailbox_r,
			   struct store_error *err);
	int (*mailbox_get_by_id)(struct store *store, int64_t mailbox_id,
				 struct store_mailbox *mailbox_r,
				 struct store_error *err);
	int (*mailbox_create)(struct store *store,
			      const struct store_actor *actor, int64_t user_id,
			      const char *name, const char *special_use,
			      struct store_error *err);
	int (*mailbox_delete)(struct store *store,
			      const struct store_actor *actor, int64_t user_id,
			      const char *name, struct store_error *err);
	int (*mailbox_rename)(struct store *store,
			      const struct store_actor *actor, int64_t user_id,
			      const char *old_name, const char *new_name,
			      struct store_error *err);
	int (*subscription_set)(struct store *store,
				const struct store_actor *actor,
				int64_t user_id, const char *name,
				bool subscribed, struct store_error *err);
	int (*subscription_list)(struct store *store, int64_t user_id,
				 char ***names_r, size_t *count_r,
				 struct store_error *err);
	int (*mailbox_keywords)(struct store *store, int64_t mailbox_id,
				char ***names_r, size_t *count_r,
				struct store_error *err);
	int (*mailbox_claim_recent)(struct store *store, int64_t mailbox_id,
				    uint32_t *first_uid_r,
				    struct store_error *err);

	int (*message_range)(struct store *store, int64_t mailbox_id,
			     uint32_t uid_lo, uint32_t uid_hi,
			     struct store_message_list *list_r,
			     struct store_error *err);
	int (*body_open)(struct store *store, int64_t body_id,
			 struct store_body *body_r, struct store_error *err);
	/* keywords: parsed and valid, possibly empty. */
	int (*message_append)(struct store *store,
			      const struct store_actor *actor,
			      int64_t mailbox_id, const char *data, size_t len,
			      uint32_t flags,
			      const struct store_keywords *keywords,
			      int64_t internaldate, int tz_offset,
			      uint32_t *uid_r, uint32_t *uidvalidity_r,
			      struct store_error *err);
	/* uids: ascending, without duplicates, count > 0. */
	int (*message_flags)(struct store *store,
			     const struct store_actor *actor,
			     int64_t mailbox_id, const uint32_t *uids,
			     size_t count, enum store_flag_op op,
			     uint32_t flags,
			     const struct store_keywords *keywords,
			     uint32_t **changed_r, size_t *changed_count_r,
			     struct store_error *err);
	/* uids: ascending, without duplicates; NULL = every \Deleted. */
	int (*message_expunge)(struct store *store,
			       const struct store_actor *actor,
			       int64_t mailbox_id, const uint32_t *uids,
			       size_t count, uint32_t **expunged_r,
			       size_t *expunged_count_r,
			       struct store_error *err);
	/* uids: ascending, without duplicates. */
	int (*message_copy)(struct store *store,
			    const struct store_actor *actor,
			    int64_t src_mailbox_id, const uint32_t *uids,
			    size_t count, int64_t dst_mailbox_id, bool move,
			    uint32_t **src_uids_r, uint32_t **dst_uids_r,
			    size_t *copied_r, uint32_t *dst_uidvalidity_r,
			    struct store_error *err);
	/* items checked by store.c (size, time zone); results zeroed. */
	int (*message_deliver_batch)(struct store *store,
				     const struct store_actor *actor,
				     const struct store_delivery *items,
				     size_t count,
				     struct store_delivery_result *results,
				     struct store_error *err);

	/* Login / Logout */
	int (*event_access)(struct store *store,
			    const struct store_actor *actor,
			    enum event_type type, struct store_error *err);

	int (*outbox_last_seq)(struct store *store, int64_t *seq_r,
			       struct store_error *err);
	int (*outbox_read)(struct store *store, int64_t after_seq, size_t limit,
			   void (*cb)(const struct store_outbox_event *ev,
				      void *ctx),
			   void *ctx, struct store_error *err);
	int (*data_version)(struct store *store, int64_t *version_r);
	/* sink cursors */
	int (*sink_cursor_get)(struct store *store, const char *name,
			       int64_t *seq_r, struct store_error *err);
	int (*sink_cursor_set)(struct store *store, const char *name,
			       int64_t seq, struct store_error *err);
	int (*outbox_stats)(struct store *store, int64_t *count_r,
			    int64_t *min_seq_r, int64_t *max_seq_r,
			    struct store_error *err);
	/* quota; limits: a value, STORE_QUOTA_KEEP or STORE_QUOTA_DEFAULT */
	int (*quota_get)(struct store *store, int64_t user_id,
			 struct store_quota *quota_r, struct store_error *err);
	int (*quota_set)(struct store *store, const struct store_actor *actor,
			 const char *user_name, int64_t storage_limit,
			 int64_t message_limit, int64_t mailbox_limit,
			 struct store_error *err);
	/* expiry: at most STORE_EXPIRE_BATCH_MAX messages */
	int (*message_expire)(struct store *store,
			      const struct store_actor *actor,
			      int64_t mailbox_id, int64_t older_than_epoch,
			      uint32_t **uids_r, size_t *count_r,
			      struct store_error *err);
	/* CONDSTORE/QRESYNC (RFC 7162); uids as for message_flags */
	int (*message_flags_unchanged)(struct store *store,
				       const struct store_actor *actor,
				       int64_t mailbox_id,
				       const uint32_t *uids, size_t count,
				       enum store_flag_op op, uint32_t flags,
				       const struct store_keywords *keywords,
				       uint64_t unchangedsince,
				       uint32_t **changed_r,
				       size_t *changed_count_r,
				       uint32_t **modified_r,
				       size_t *modified_count_r,
				       struct store_error *err);
	int (*message_expunged_since)(struct store *store, int64_t mailbox_id,
				      uint64_t modseq, uint32_t **uids_r,
				      size_t *count_r,
				      struct store_error *err);
	/* group commit (store.h store_group_enable); NULL: not supported */
	int (*group_enable)(struct store *store, bool on,
			    void (*opened)(void *ctx), void *ctx,
			    struct store_error *err);
	int (*group_commit)(struct store *store, struct store_error *err);
};

struct store {
	const struct store_backend_ops *ops;
	void *backend;

	char *data_dir;
	char *server_fqdn;
	/* "tidingsd", "tidings": RFC 5423 "process" */
	char *process;
	uint64_t max_message_size;
	/* default mailboxes, copied from the options */
	char **default_names;
	char **default_special_use;
	size_t default_count;

	/* for unique temporary file names */
	uint64_t tmp_counter;
	/* quota of users without their own limits; 0 = unlimited */
	uint64_t default_storage_limit;
	uint64_t default_message_limit;
	uint64_t default_mailbox_limit;
	/* Group commit (store_group_enable, store-sync.c): body files are
	 * written without fsync and listed here; store_group_commit() syncs
	 * them all, in parallel, before the one COMMIT that names them. */
	bool sync_defer;
	char **sync_paths;
	bool *sync_dirs;
	size_t sync_count;
	size_t sync_cap;
	/* top-level headers by body id (store-hdrcache.c), made on first use */
	struct store_hdrcache *hdrcache;
};

extern const struct store_backend_ops store_sqlite_ops;
/* The SQLite database of a store using the SQLite backend (NULL for any
 * other backend), for store-*.c files that keep their own small tables
 * (store-urlauth.c).  Opaque here so this header needs no sqlite3.h. */
struct sqlite3;
struct sqlite3 *store_sqlite_db(struct store *store);

/* ---- errors (store.c) ---- */

void store_error_set(struct store_error *err, enum store_error_code code,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* INTERNAL with the user-safe text; the detail must already be logged. */
void store_error_internal(struct store_error *err);

/* ---- names (store-names.c) ---- */

/* Checks a mailbox name and writes its canonical form (INBOX upper-cased
 * as the first level) into out, which has room for
 * STORE_MAILBOX_NAME_MAX + 1 bytes.  CANNOT with a reason otherwise. */
int store_name_normalize(const char *name, char *out,
			 struct store_error *err);
bool store_name_is_inbox(const char *name);
/* true when name is parent/... at any depth below parent */
bool store_name_is_below(const char *name, const char *parent);
/* Checks a user name: 1..255 bytes of UTF-8 without controls. */
int store_user_name_check(const char *name, struct store_error *err);
/* RFC 6154 attribute, case-insensitive, into canonical form; "" for none. */
int store_special_use_normalize(const char *in, char out[32],
				struct store_error *err);
/* RFC 3629 UTF-8 without control characters (C0, DEL, C1). */
bool store_utf8_is_valid_text(const char *s, size_t len);

/* ---- keywords (store-keywords.c) ---- */

/* A set of IMAP keywords (RFC 3501 flag-keyword: atoms), compared without
 * regard to ASCII case, in insertion order. */
struct store_keywords {
	char **names;
	size_t count;
	size_t cap;
};

/* Parses a space-separated list into kw (which must be empty or zeroed).
 * Repeated keywords collapse.  CANNOT for a name that is not a keyword,
 * LIMIT when there are too many. */
int store_keywords_parse(struct store_keywords *kw, const char *list,
			 struct store_error *err);
void store_keywords_free(struct store_keywords *kw);
/* index of name, or -1 */
int store_keywords_find(const struct store_keywords *kw, const char *name);
/* Adds name unless present; returns true when it was added. */
bool store_keywords_add(struct store_keywords *kw, const char *name);
bool store_keywords_remove(struct store_keywords *kw, const char *name);
/* Same names regardless of order and case. */
bool store_keywords_equal(const struct store_keywords *a,
			  const struct store_keywords *b);
void store_keywords_copy(struct store_keywords *dst,
			 const struct store_keywords *src);
/* "a b c" (empty string when none) */
void store_keywords_format(const struct store_keywords *kw,
			   struct strbuf *out);

/* ---- events (store-events.c) ---- */

/* A new event with "timestamp" right after "event". */
struct event_builder *store_event_new(enum event_type type,
				      const char *timestamp);
/* Adds what every event carries (RFC 5423 §5): service, user, admin,
 * clientIP, clientPort, serverPort, serverFQDN, pid, process. */
void store_event_finish(struct store *store, struct event_builder *eb,
			const struct store_actor *actor);
/* RFC 5092 URLs.  uidvalidity 0 leaves it out. */
void store_url_server(struct strbuf *out, const struct store *store,
		      const char *owner);
void store_url_mailbox(struct strbuf *out, const struct store *store,
		       const char *owner, const char *mailbox,
		       uint32_t uidvalidity);
void store_url_message(struct strbuf *out, const struct store *store,
		       const char *owner, const char *mailbox,
		       uint32_t uidvalidity, uint32_t uid);
/* RFC 3501 sequence-set of ascending UIDs, e.g. "1:3,7,9:10". */
void store_uidset_format(struct strbuf *out, const uint32_t *uids,
			 size_t count);
/* flagNames: the system flags in flags, then the keywords. */
void store_event_add_flags(struct event_builder *eb, uint32_t flags,
			   const struct store_keywords *keywords);
/* bodyStructure (RFC 5423 §5): the IMAP BODYSTRUCTURE of the message
 * header + data (header may be NULL), as FETCH BODYSTRUCTURE writes it. */
void store_event_add_body_structure(struct event_builder *eb,
				    const char *header, const char *data,
				    size_t len);

/* ---- message files (store-files.c) ---- */

/* Creates data_dir, data_dir/mail and data_dir/tmp when missing. */
int store_files_init(struct store *store, struct store_error *err);
/* Writes data to a new file in data_dir/tmp and fsyncs it. *path_r is
 * malloc'd. */
int store_files_write_tmp(struct store *store, const char *data, size_t len,
			  char **path_r, struct store_error *err);
/* Renames the temporary file to the body's place and fsyncs the
 * directory.  The temporary file is gone afterwards either way. */
int store_files_install(struct store *store, const char *tmp_path,
			int64_t body_id, struct store_error *err);
void store_files_body_path(const struct store *store, int64_t body_id,
			   struct strbuf *out);
bool store_files_body_exists(struct store *store, int64_t body_id);
void store_files_unlink_body(struct store *store, int64_t body_id);
int store_files_body_open(struct store *store, int64_t body_id,
			  struct store_body *body_r, struct store_error *err);
/* Removes temporary files that no live process is writing. */
void store_files_sweep_tmp(struct store *store);

/* ---- deferred body syncs (store-sync.c) ---- */

/* Lists path (a body file, or its directory when dir) for the next
 * store_sync_pending(); a directory already listed is not added twice. */
void store_sync_add(struct store *store, const char *path, bool dir);
/* fsyncs everything listed, several at a time (a file removed since, by
 * a rolled-back delivery, is skipped), and empties the list.  0 / -1. */
int store_sync_pending(struct store *store, struct store_error *err);
void store_sync_free(struct store *store);

/* ---- header cache (store-hdrcache.c) ---- */

/* Drops body_id's entry: its file is going away. */
void store_hdrcache_forget(struct store *store, int64_t body_id);
void store_hdrcache_free(struct store *store);

/* ---- the SQLite backend's helpers for feature modules (store-acl.c) ----
 * These modules run their own statements on the backend's connection,
 * inside store_sqlite_begin/_end, and write their events with
 * store_sqlite_event_write so change and event share one transaction.
 * (store_sqlite_db() is declared above.) */
int store_sqlite_begin(struct store *store, bool write,
		       struct store_error *err);
/* Commits when ret is 0, rolls back otherwise; 0 only when committed. */
int store_sqlite_end(struct store *store, int ret, struct store_error *err);
/* Logs SQLite's message, sets a user-safe *err; returns -1. */
int store_sqlite_fail(struct store *store, int rc, const char *what,
		      struct store_error *err);
/* Finishes (common parameters from actor) and writes the event; frees it. */
int store_sqlite_event_write(struct store *store,
			     const struct store_actor *actor,
			     struct event_builder **ebp, int64_t user_id,
			     int64_t mailbox_id, struct store_error *err);

#endif
