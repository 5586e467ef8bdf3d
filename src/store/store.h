/* The store: users, mailboxes, messages, flags, modseqs, subscriptions and the
 * RFC 5423 event outbox.
 *
 * Every mutating call runs in one database transaction that also appends the
 * RFC 5423 event(s) the change means to the outbox (see events/event-types.h).
 * A call returns 0 only after that transaction is durable (SQLite WAL with
 * synchronous=FULL; message bodies are written to their own file and fsynced,
 * together with their directory, before the row naming them commits).
 *
 * Errors: every call that can fail returns 0 on success and -1 on failure,
 * filling *err with a code (mapped to IMAP response codes by the front ends)
 * and a message that is safe to show to the user.  Internal detail goes to the
 * log, not into err->msg.
 *
 * The store is used from one thread at a time per `struct store` handle.
 * Several processes (tidingsd and the tidings CLI) may open the same data_dir
 * at once; their changes are seen by each other through the outbox.
 *
 * Mailbox names are UTF-8 with '/' as the hierarchy delimiter.  "INBOX" is
 * matched case-insensitively and always stored as "INBOX".
 */
#ifndef TIDINGS_STORE_H
#define TIDINGS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct store;

enum store_error_code {
	STORE_OK = 0,
	STORE_ERR_NONEXISTENT,   /* no such user, mailbox or message */
	STORE_ERR_ALREADYEXISTS, /* name taken */
	STORE_ERR_NOPERM,        /* not allowed (e.g. deleting INBOX) */
	STORE_ERR_CANNOT,        /* a name or operation the store cannot do */
	STORE_ERR_HASCHILDREN,   /* RFC 3501 DELETE of \Noselect with children */
	STORE_ERR_OVERQUOTA,
	STORE_ERR_TOOBIG,        /* message over the size limit */
	STORE_ERR_LIMIT,         /* some other configured limit */
	STORE_ERR_EXPUNGED,      /* some requested messages no longer exist */
	STORE_ERR_BUSY,          /* database locked too long; try again */
	STORE_ERR_INTERNAL,      /* disk or database failure: see the log */
};

struct store_error {
	enum store_error_code code;
	char msg[256];
};

/* System flags as a bitmask.  \Recent is per session and never stored. */
enum store_flag {
	STORE_FLAG_SEEN = 1u << 0,
	STORE_FLAG_ANSWERED = 1u << 1,
	STORE_FLAG_FLAGGED = 1u << 2,
	STORE_FLAG_DELETED = 1u << 3,
	STORE_FLAG_DRAFT = 1u << 4,
};
#define STORE_FLAG_ALL 0x1fu

/* "\Seen" -> STORE_FLAG_SEEN (case-insensitive); 0 when not a system flag. */
uint32_t store_flag_from_name(const char *name);
/* STORE_FLAG_SEEN -> "\Seen"; exactly one bit must be set. */
const char *store_flag_name(uint32_t flag);

/* Who makes a change: carried into the events' parameters (RFC 5423 §5:
 * service, clientIP, clientPort, serverPort, ...) and into the outbox's
 * origin column, which lets a session recognise its own changes. */
struct store_actor {
	const char *service;     /* "imap", "cli", "lmtp", "pop3", "expiry" */
	const char *user;        /* authorization identity, or NULL */
	const char *admin;       /* authentication identity when it differs, or NULL */
	const char *client_ip;   /* or NULL */
	int client_port;         /* 0 if none */
	int server_port;         /* 0 if none */
	uint64_t origin;         /* session id within this process, 0 if none */
	/* Login / Logout only (RFC 5423 §6 vendor parameters); zero = omit.
	 * mechanism: "LOGIN", "PLAIN", "USER" -> vnd.tidings.mechanism, with
	 * vnd.tidings.tls from tls.  Logout adds vnd.tidings.reason
	 * ("logout", "disconnect", "timeout", "shutdown", "error") and
	 * vnd.tidings.duration (whole seconds since Login, when >= 0 and
	 * logout_reason is set). */
	const char *mechanism;
	bool tls;
	const char *logout_reason;
	int64_t session_seconds;
};

/* A session id for store_actor.origin, unique within this process across
 * every service (IMAP, LMTP, POP3), so that "this change is my own" never
 * confuses a POP3 session with the IMAP session of the same number. */
uint64_t store_origin_next(void);

struct store_options {
	/* The mailboxes every new user gets besides INBOX, each with its
	 * SPECIAL-USE attribute (RFC 6154), e.g. {"Drafts", "\\Drafts"}. */
	const char *const (*default_mailboxes)[2];
	size_t default_mailbox_count;
	/* Largest message accepted by append/copy (bytes); 0 = no limit. */
	uint64_t max_message_size;
	/* Name used in RFC 5092 IMAP URLs in events (uri, mailboxID). */
	const char *server_fqdn;
	/* Quota of a user without a limit of its own (store_quota_set):
	 * bytes of messages and number of messages; 0 = unlimited. */
	uint64_t default_storage_limit;
	uint64_t default_message_limit;
	/* MAILBOX (RFC 9208 §5.3): number of mailboxes; 0 = unlimited */
	uint64_t default_mailbox_limit;
};

/* Open (creating when needed) the store under data_dir: data_dir/index.db
 * and data_dir/mail/.  Schema creation and migration happen here. */
int store_open(const char *data_dir, const struct store_options *opts,
	       struct store **store_r, struct store_error *err);
void store_close(struct store **store);

/* ---- users ---- */

struct store_user {
	int64_t id;
	char name[256];
	char password_hash[256]; /* argon2id encoded string */
};

/* Creates the user with INBOX and the default mailboxes (MailboxCreate for
 * each).  ALREADYEXISTS when the name is taken. */
int store_user_create(struct store *store, const struct store_actor *actor,
		      const char *name, const char *password_hash,
		      struct store_error *err);
int store_user_set_password(struct store *store, const char *name,
			    const char *password_hash, struct store_error *err);
/* Deletes the user, all its mailboxes (MailboxDelete for each), messages and
 * their body files. */
int store_user_delete(struct store *store, const struct store_actor *actor,
		      const char *name, struct store_error *err);
/* NONEXISTENT when there is no such user. */
int store_user_lookup(struct store *store, const char *name,
		      struct store_user *user_r, struct store_error *err);
/* Calls cb for each user in name order; stops early when cb returns non-zero. */
int store_user_foreach(struct store *store,
		       int (*cb)(const struct store_user *user, void *ctx),
		       void *ctx, struct store_error *err);

/* ---- mailboxes ---- */

/* Longest mailbox name in bytes (struct store_mailbox.name holds it). */
#define STORE_MAILBOX_NAME_MAX 1000

/* Checks a mailbox name as the store does and writes its canonical form to
 * out: "inbox/Foo" -> "INBOX/Foo".  Refused (CANNOT): empty, longer than
 * STORE_MAILBOX_NAME_MAX, invalid UTF-8, control characters, '*' or '%',
 * an empty hierarchy level ("a//b", "/a", "a/"), more than 64 levels. */
int store_mailbox_name_normalize(const char *name,
				 char out[STORE_MAILBOX_NAME_MAX + 1],
				 struct store_error *err);

struct store_mailbox {
	int64_t id;
	int64_t user_id;
	char name[1024];          /* UTF-8, '/' delimited */
	char special_use[32];     /* "\\Sent" etc. or "" */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;   /* RFC 7162; starts at 1, grows with every change */
	uint32_t messages;
	uint32_t unseen;
	uint32_t recent_uid;      /* highest UID already claimed as \Recent */
	bool noselect;            /* kept only as the parent of others */
	bool delivered;           /* mail was delivered here (LMTP): one of
				   * NOTIFY's "inboxes" */
};

/* All mailboxes of a user, sorted by name.  *list_r is malloc'd; free() it. */
int store_mailbox_list(struct store *store, int64_t user_id,
		       struct store_mailbox **list_r, size_t *count_r,
		       struct store_error *err);
int store_mailbox_get(struct store *store, int64_t user_id, const char *name,
		      struct store_mailbox *mailbox_r, struct store_error *err);
int store_mailbox_get_by_id(struct store *store, int64_t mailbox_id,
			    struct store_mailbox *mailbox_r,
			    struct store_error *err);
/* Creates the mailbox (and any missing parents, RFC 3501 §6.3.3).  A new
 * mailbox always gets a UIDVALIDITY never used before for that name. */
int store_mailbox_create(struct store *store, const struct store_actor *actor,
			 int64_t user_id, const char *name,
			 const char *special_use, struct store_error *err);
/* Deletes the mailbox and its messages.  INBOX cannot be deleted (NOPERM).
 * RFC 3501 §6.3.4: a mailbox that has children loses its messages and stays
 * as a \Noselect name; deleting a \Noselect mailbox that has children fails
 * with HASCHILDREN; a \Noselect mailbox without children is removed. */
int store_mailbox_delete(struct store *store, const struct store_actor *actor,
			 int64_t user_id, const char *name,
			 struct store_error *err);
/* Renames the mailbox and its whole hierarchy.  Renaming INBOX moves its
 * messages into a new mailbox and leaves INBOX empty (RFC 3501 §6.3.5). */
int store_mailbox_rename(struct store *store, const struct store_actor *actor,
			 int64_t user_id, const char *old_name,
			 const char *new_name, struct store_error *err);

/* Subscriptions are by name and may name mailboxes that do not exist. */
int store_subscription_set(struct store *store,
			   const struct store_actor *actor, int64_t user_id,
			   const char *name, bool subscribed,
			   struct store_error *err);
/* Sorted names; free each and the array with store_strings_free(). */
int store_subscription_list(struct store *store, int64_t user_id,
			    char ***names_r, size_t *count_r,
			    struct store_error *err);
void store_strings_free(char **names, size_t count);

/* Keywords ever used in the mailbox (for the FLAGS response). */
int store_mailbox_keywords(struct store *store, int64_t mailbox_id,
			   char ***names_r, size_t *count_r,
			   struct store_error *err);

/* Atomically claims the messages with UID > mailbox.recent_uid as \Recent
 * for the caller: *first_uid_r is the lowest UID now recent for the caller
 * (or uidnext when none).  RFC 3501 §2.3.2: only one session sees \Recent. */
int store_mailbox_claim_recent(struct store *store, int64_t mailbox_id,
			       uint32_t *first_uid_r, struct store_error *err);

/* ---- messages ---- */

struct store_message {
	uint32_t uid;
	uint32_t flags;          /* enum store_flag bits */
	char *keywords;          /* space-separated, "" when none; owned by list */
	uint64_t modseq;
	int64_t internaldate;    /* seconds since the epoch */
	int tz_offset;           /* minutes east of UTC of internaldate */
	uint64_t size;           /* RFC822.SIZE */
	int64_t body_id;
};

struct store_message_list {
	struct store_message *msgs;
	size_t count;
};
void store_message_list_free(struct store_message_list *list);

/* Messages with uid_lo <= UID <= uid_hi in UID order. */
int store_message_range(struct store *store, int64_t mailbox_id,
			uint32_t uid_lo, uint32_t uid_hi,
			struct store_message_list *list_r,
			struct store_error *err);

/* The message's full RFC 5322 text, mapped read-only. */
struct store_body {
	const char *data;
	size_t len;
	void *priv_;
};
int store_body_open(struct store *store, int64_t body_id,
		    struct store_body *body_r, struct store_error *err);
void store_body_close(struct store_body *body);
/* The body's top-level header, up to and including the empty line that
 * ends it (the whole body when it has none), into out (reset first):
 * what a SEARCH on header fields needs, without reading the rest; cached
 * by body id (bodies never change).  0, 1 when the header is too long to
 * read this way (use store_body_open), -1 with err set (NONEXISTENT when
 * the body is gone). */
struct strbuf;
int store_body_header(struct store *store, int64_t body_id, struct strbuf *out,
		      struct store_error *err);

/* Appends one message (MessageAppend).  flags/keywords as in store_message.
 * keywords may be NULL.  Returns the new UID and the mailbox UIDVALIDITY
 * (for UIDPLUS APPENDUID). */
int store_message_append(struct store *store, const struct store_actor *actor,
			 int64_t mailbox_id, const char *data, size_t len,
			 uint32_t flags, const char *keywords,
			 int64_t internaldate, int tz_offset,
			 uint32_t *uid_r, uint32_t *uidvalidity_r,
			 struct store_error *err);

enum store_flag_op { STORE_FLAGS_REPLACE, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };

/* Changes flags of the given UIDs (ascending; UIDs that no longer exist are
 * skipped).  Emits FlagsSet / FlagsClear with flagNames and the uidset of the
 * messages whose flags really changed; each changed message gets a new
 * modseq.  *changed_r (may be NULL) receives those UIDs, malloc'd. */
int store_message_flags(struct store *store, const struct store_actor *actor,
			int64_t mailbox_id, const uint32_t *uids, size_t count,
			enum store_flag_op op, uint32_t flags,
			const char *keywords, uint32_t **changed_r,
			size_t *changed_count_r, struct store_error *err);

/* RFC 7162 §3.1.3 STORE (UNCHANGEDSINCE n): like store_message_flags, but
 * in the same transaction every message whose modseq is above
 * unchangedsince is left alone and listed in *modified_r (malloc'd,
 * ascending; may be NULL).  UIDs that no longer exist are skipped. */
int store_message_flags_unchanged(struct store *store,
				  const struct store_actor *actor,
				  int64_t mailbox_id, const uint32_t *uids,
				  size_t count, enum store_flag_op op,
				  uint32_t flags, const char *keywords,
				  uint64_t unchangedsince,
				  uint32_t **changed_r, size_t *changed_count_r,
				  uint32_t **modified_r,
				  size_t *modified_count_r,
				  struct store_error *err);
/* RFC 7162 §3.2.10: the UIDs expunged from the mailbox with a modseq above
 * modseq, ascending, malloc'd.  The expunged table keeps every expunge
 * for the life of the mailbox's UIDVALIDITY (nothing prunes it), so this
 * is exact. */
int store_message_expunged_since(struct store *store, int64_t mailbox_id,
				 uint64_t modseq, uint32_t **uids_r,
				 size_t *count_r, struct store_error *err);

/* Group commit (tidingsd's loop; store-sync.c, store-sqlite.c).  Once
 * enabled, the changes made through this handle are no longer committed
 * one by one: the first opens a transaction that the following ones join
 * (each still under its own savepoint, so a failed change is undone
 * alone), `opened` is called when it opens, and store_group_commit()
 * makes all of them durable with one fsync of the index (the bodies they
 * wrote are synced first, together).  Until that returns 0 the caller
 * must not show anything of those changes outside the process: tidingsd
 * holds all client output (net_conn_hold_output) in between.  Other
 * handles (sinks, the CLI) see the changes only after the COMMIT.
 * Disabling commits what is open.  0 / -1 (not supported: -1). */
int store_group_enable(struct store *store, bool on,
		       void (*opened)(void *ctx), void *ctx,
		       struct store_error *err);
/* 0 also when nothing is open.  On -1 everything since the last group
 * commit is rolled back, and nothing of it may be acknowledged. */
int store_group_commit(struct store *store, struct store_error *err);

/* Expunges the given UIDs (or, when uids == NULL, every message with
 * \Deleted).  Emits one MessageExpunge with the uidset.  *expunged_r (may be
 * NULL) receives the expunged UIDs, ascending, malloc'd. */
int store_message_expunge(struct store *store, const struct store_actor *actor,
			  int64_t mailbox_id, const uint32_t *uids,
			  size_t count, uint32_t **expunged_r,
			  size_t *expunged_count_r, struct store_error *err);

/* Copies (or moves: copy + expunge of the sources in the same transaction)
 * the given UIDs into dst.  Emits MessageAppend for the target and, for a
 * move, MessageExpunge for the source.  Returns source and destination UIDs
 * in matching order (UIDPLUS COPYUID) and the destination UIDVALIDITY. */
int store_message_copy(struct store *store, const struct store_actor *actor,
		       int64_t src_mailbox_id, const uint32_t *uids,
		       size_t count, int64_t dst_mailbox_id, bool move,
		       uint32_t **src_uids_r, uint32_t **dst_uids_r,
		       size_t *copied_r, uint32_t *dst_uidvalidity_r,
		       struct store_error *err);

/* One message delivered by the MTA (LMTP): like an append, but the event
 * is MessageNew (RFC 5423 §4.1) and the SMTP envelope is kept with the
 * message (table envelopes) and put into the event's "envelope" parameter
 * as SMTP command lines, "MAIL FROM:<from>\r\nRCPT TO:<rcpt>" (RFC 5423 §5
 * leaves the form open; this one is what the MTA said, minus parameters).
 * The stored text is header (may be NULL: e.g. "Return-Path: <...>\r\n
 * Delivered-To: <...>\r\n") followed by data; its size counts both. */
struct store_delivery {
	const struct store_actor *actor; /* NULL: the batch's actor */
	int64_t mailbox_id;
	const char *header;
	const char *data;
	size_t len;
	uint32_t flags;
	int64_t internaldate;
	int tz_offset;
	const char *mail_from;   /* reverse-path without <>, "" for <> */
	const char *rcpt_to;     /* the recipient as given in RCPT TO */
};

struct store_delivery_result {
	int status;              /* 0 delivered, -1 failed (see err) */
	uint32_t uid;
	uint32_t uidvalidity;
	struct store_error err;
};

/* Delivers one message (MessageNew).  0 or -1 with err. */
int store_message_deliver(struct store *store, const struct store_actor *actor,
			  const struct store_delivery *item, uint32_t *uid_r,
			  uint32_t *uidvalidity_r, struct store_error *err);
/* Group commit: delivers count messages in ONE transaction (one commit,
 * bodies fsynced before it), each with its own mailbox and envelope.  An
 * item that cannot be delivered (no such mailbox, too big, ...) fails alone
 * in results[i]; the others still commit.  Returns 0 when the transaction
 * committed (look at each result), -1 with err when nothing was delivered
 * (every result then carries the same error). */
int store_message_deliver_batch(struct store *store,
				const struct store_actor *actor,
				const struct store_delivery *items,
				size_t count,
				struct store_delivery_result *results,
				struct store_error *err);

/* ---- access events that change nothing else ---- */

/* Login / Logout (RFC 5423 §4.4) through the outbox. */
int store_event_login(struct store *store, const struct store_actor *actor,
		      struct store_error *err);
int store_event_logout(struct store *store, const struct store_actor *actor,
		       struct store_error *err);

/* ---- the outbox ---- */

/* What the calls above write (RFC 5423 §4; parameter names as in §5).
 * Every event: event, timestamp (RFC 3339, local offset), then its own
 * parameters, then service, user, admin (when it differs from user),
 * clientIP, clientPort, serverPort (what the actor has), serverFQDN, pid,
 * process.  URLs are RFC 5092 with the owner as user:
 * imap://owner@fqdn/Mail%20box;UIDVALIDITY=n[/;UID=u].
 *
 *   user_create       MailboxCreate for INBOX and each default mailbox
 *   user_delete       MailboxDelete for each mailbox, children first
 *   mailbox_create    MailboxCreate for each missing parent, then the
 *                     mailbox: uri, mailboxID, uidnext,
 *                     vnd.tidings.specialUse (when it has one)
 *   mailbox_delete    MailboxDelete: uri, mailboxID
 *   mailbox_rename    MailboxCreate for each missing parent of the new
 *                     name, then MailboxRename: uri and mailboxID (new
 *                     name), oldMailboxID.  Renaming INBOX adds a
 *                     MessageAppend (new mailbox) and a MessageExpunge
 *                     (INBOX) when INBOX had messages.
 *   subscription_set  MailboxSubscribe / MailboxUnSubscribe when the list
 *                     changed: uri, mailboxID (without UIDVALIDITY when
 *                     no such selectable mailbox exists)
 *   message_append    MessageAppend: uri (the message), mailboxID,
 *                     uidset, uidnext, modseq, messageSize, messages,
 *                     flagNames (when any)
 *   message_copy      MessageAppend on the target (uri is the message
 *                     when one, else the mailbox; messageSize and
 *                     flagNames only for one message); a move adds
 *                     MessageExpunge on the source
 *   message_expunge   MessageExpunge: uri, mailboxID, uidset, uidnext,
 *                     modseq, messages
 *   message_flags     FlagsSet (flags added) and/or FlagsClear (flags
 *                     removed): uri, mailboxID, uidset, modseq, flagNames
 *   event_login/out   Login / Logout: uri (imap://user@fqdn/)
 *                     Login: vnd.tidings.mechanism, vnd.tidings.tls
 *                     (a JSON boolean) when the actor has a mechanism;
 *                     Logout: those and vnd.tidings.reason,
 *                     vnd.tidings.duration when it has a logout_reason
 *
 * flagNames is a JSON array; modseq, uidnext, messages, messageSize, pid
 * and the ports are JSON numbers.  The outbox row's mailbox_id is the
 * mailbox concerned (for a rename, the renamed mailbox; for a Login, 0). */

struct store_outbox_event {
	int64_t seq;
	const char *type;     /* RFC 5423 name, e.g. "MessageAppend" */
	int64_t user_id;      /* 0 if none */
	int64_t mailbox_id;   /* 0 if none */
	uint64_t origin;      /* the actor's origin when it was this process */
	int origin_pid;       /* pid of the process that made the change */
	const char *json;     /* the RFC 5423 parameters as a JSON object,
			       * including "event"; without "seq" */
};

/* Highest seq in the outbox (0 when empty). */
int store_outbox_last_seq(struct store *store, int64_t *seq_r,
			  struct store_error *err);
/* Calls cb for each event with seq > after_seq, in order, at most limit.
 * Pointers in the event are valid during the callback only. */
int store_outbox_read(struct store *store, int64_t after_seq, size_t limit,
		      void (*cb)(const struct store_outbox_event *ev, void *ctx),
		      void *ctx, struct store_error *err);
/* A number that changes whenever another connection (another process)
 * commits to the database (PRAGMA data_version): cheap to poll. */
int store_data_version(struct store *store, int64_t *version_r);

/* ---- sink cursors (the events module's sinks) ---- */

/* The durable cursor of sink NAME: the seq of the last outbox event it has
 * delivered and had acknowledged; 0 when the sink never advanced. */
int store_sink_cursor_get(struct store *store, const char *name,
			  int64_t *seq_r, struct store_error *err);
/* Sets it (one transaction, durable when it returns). */
int store_sink_cursor_set(struct store *store, const char *name, int64_t seq,
			  struct store_error *err);
/* Rows now in the outbox and their lowest and highest seq (0 when empty). */
int store_outbox_stats(struct store *store, int64_t *count_r,
		       int64_t *min_seq_r, int64_t *max_seq_r,
		       struct store_error *err);

/* ---- quota ---- */

/* A user's quota: the limits in force (a user's own, else the configured
 * default; 0 = unlimited) and the usage counted against them, which is
 * every message in the user's mailboxes (RFC822.SIZE; a copy counts
 * again).  An append, copy or delivery that would take usage over a
 * limit fails with OVERQUOTA and writes QuotaExceed (RFC 5423 §4.1). */
struct store_quota {
	uint64_t storage_limit;      /* bytes, 0 = unlimited */
	uint64_t message_limit;      /* messages, 0 = unlimited */
	bool storage_is_default;     /* no limit of the user's own */
	bool message_is_default;
	uint64_t storage_used;       /* bytes */
	uint64_t messages_used;
	/* MAILBOX (RFC 9208 §5.3): the user's selectable mailboxes (INBOX
	 * included, \Noselect hierarchy names not); a CREATE (or RENAME
	 * that makes new parents) past the limit fails with OVERQUOTA. */
	uint64_t mailbox_limit;      /* mailboxes, 0 = unlimited */
	bool mailbox_is_default;
	uint64_t mailboxes_used;
};

/* err->msg of an OVERQUOTA refusal that no expunge would cure: the message
 * (or the set copied) alone is over a limit.  LMTP answers 552 5.2.2 for it
 * and 452 4.2.2 for other OVERQUOTA refusals (RFC 3463 X.2.2). */
#define STORE_OVERQUOTA_TOO_BIG_MSG "Message is larger than the quota"

int store_quota_get(struct store *store, int64_t user_id,
		    struct store_quota *quota_r, struct store_error *err);
/* Sets the user's own limits: a value, 0 for unlimited, or -1 to keep
 * what is there (STORE_QUOTA_DEFAULT: go back to the configured default).
 * Emits QuotaChange when a limit in force changed. */
#define STORE_QUOTA_KEEP (-1)
#define STORE_QUOTA_DEFAULT (-2)
int store_quota_set(struct store *store, const struct store_actor *actor,
		    const char *user_name, int64_t storage_limit,
		    int64_t message_limit, struct store_error *err);
/* The same with the MAILBOX limit too (store_quota_set keeps it); one
 * transaction, one QuotaChange. */
int store_quota_set_limits(struct store *store,
			   const struct store_actor *actor,
			   const char *user_name, int64_t storage_limit,
			   int64_t message_limit, int64_t mailbox_limit,
			   struct store_error *err);


/* ---- expiry ---- */

/* Most messages one store_message_expire() call removes, so that one
 * call never holds the database (or tidingsd's loop) for long. */
#define STORE_EXPIRE_BATCH_MAX 10000

/* Removes the messages of the mailbox whose INTERNALDATE is before
 * older_than_epoch (at most STORE_EXPIRE_BATCH_MAX, oldest UIDs first), in
 * one transaction, exactly as an expunge would (same bookkeeping, quota
 * usage and QuotaWithin), but the event is one MessageExpire (RFC 5423
 * §4.1) with the parameters of a MessageExpunge: uri, mailboxID, uidset,
 * uidnext, modseq, messages.  Nothing to remove: 0 with *count_r = 0 and
 * no event.  *uids_r (may be NULL) receives the UIDs, ascending, malloc'd. */
int store_message_expire(struct store *store, const struct store_actor *actor,
			 int64_t mailbox_id, int64_t older_than_epoch,
			 uint32_t **uids_r, size_t *count_r,
			 struct store_error *err);

/* ---- access control lists (store-acl.c, RFC 4314) ---- */

/* The standard rights in canonical order (RFC 4314 §2.1), then "n", the
 * right to write .shared annotations (RFC 5257 §3.4, §4.10). */
#define STORE_ACL_RIGHTS_ALL "lrswipkxtean"
#define STORE_ACL_RIGHTS_MAX 12
#define STORE_ACL_IDENTIFIER_MAX 255
#define STORE_ACL_ENTRIES_MAX 256        /* per mailbox */

struct store_acl_entry {
	char identifier[STORE_ACL_IDENTIFIER_MAX + 1];
	char rights[STORE_ACL_RIGHTS_MAX + 1];   /* canonical order */
};

/* A user name, "anyone", or either after '-': 1..255 bytes of UTF-8. */
bool store_acl_identifier_valid(const char *identifier);
/* Only letters of STORE_ACL_RIGHTS_ALL. */
bool store_acl_rights_valid(const char *rights);
/* The mailbox's entries, sorted by identifier; free(*entries_r). */
int store_acl_get(struct store *store, int64_t mailbox_id,
		  struct store_acl_entry **entries_r, size_t *count_r,
		  struct store_error *err);
/* Sets identifier's rights (any order; NULL or "" removes the entry) and
 * writes vnd.tidings.AclChange (uri, mailboxID, vnd.tidings.identifier,
 * vnd.tidings.rights: "" when removed) in the same transaction.
 * NONEXISTENT for a \Noselect or missing mailbox, LIMIT past
 * STORE_ACL_ENTRIES_MAX entries. */
int store_acl_set(struct store *store, const struct store_actor *actor,
		  int64_t mailbox_id, const char *identifier,
		  const char *rights, struct store_error *err);
/* What the entries grant user_name (not the owner's implicit rights):
 * (user | anyone) minus (-user | -anyone). */
int store_acl_lookup(struct store *store, int64_t mailbox_id,
		     const char *user_name,
		     char rights_r[STORE_ACL_RIGHTS_MAX + 1],
		     struct store_error *err);
/* Selectable mailboxes of other users on which user_name has 'l', by
 * owner name then mailbox name; free(*shares_r). */
struct store_acl_share {
	int64_t mailbox_id;
	int64_t owner_id;
	char owner[256];
	char name[STORE_MAILBOX_NAME_MAX + 1];
	char rights[STORE_ACL_RIGHTS_MAX + 1];
};
int store_acl_shared_list(struct store *store, int64_t user_id,
			  const char *user_name,
			  struct store_acl_share **shares_r, size_t *count_r,
			  struct store_error *err);
/* Gives to_mailbox_id every entry of from_mailbox_id (RFC 4314 §4: a
 * new mailbox SHOULD inherit its parent's ACL), one AclChange each. */
int store_acl_copy(struct store *store, const struct store_actor *actor,
		   int64_t from_mailbox_id, int64_t to_mailbox_id,
		   struct store_error *err);


/* ---- URLAUTH mailbox access keys (RFC 4467 §2.3; store-urlauth.c) ----
 * One random key per user and mailbox (table urlauth_keys), the secret of
 * the INTERNAL mechanism.  Deleting the mailbox or the user deletes it. */
#define STORE_URLAUTH_KEY_LEN 32

/* The user's key for the mailbox into key_r.  When there is none and
 * create is true, a new random one is made and stored.  1 when key_r was
 * filled, 0 when there is no key (create false), -1 with err. */
int store_urlauth_key_get(struct store *store, int64_t user_id,
			  int64_t mailbox_id, bool create,
			  unsigned char key_r[STORE_URLAUTH_KEY_LEN],
			  struct store_error *err);
/* RESETKEY: mailbox_id > 0 replaces that mailbox's key with a new random
 * one; 0 removes every key of the user.  Either way every URL authorized
 * with an old key stops working. */
int store_urlauth_key_reset(struct store *store, int64_t user_id,
			    int64_t mailbox_id, struct store_error *err);

#endif
