/* The IMAP server's inside: sessions, the command table, the selected
 * mailbox view and its pending updates.  Shared by imap-*.c and cmd-*.c. */
#ifndef TIDINGS_IMAP_PRIVATE_H
#define TIDINGS_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "auth/auth-worker.h"
#include "config/config.h"
#include "events/event-pump.h"
#include "imap/imap-fetch.h"
#include "imap/imap-parser.h"
#include "lib/strbuf.h"
#include "net/net-conn.h"
#include "store/store.h"

#define IMAP_MAILBOX_BUCKETS 4096

enum imap_state {
	IMAP_STATE_NOT_AUTHENTICATED,
	IMAP_STATE_AUTHENTICATED,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

enum imap_input_mode {
	IMAP_INPUT_COMMAND,
	IMAP_INPUT_IDLE,          /* waiting for DONE */
	IMAP_INPUT_AUTHENTICATE,  /* waiting for the SASL response line */
	IMAP_INPUT_PAUSED,        /* a command is in progress (FETCH output,
				   * auth failure delay) */
};

struct imap_session;
struct imap_server;

/* The selected mailbox as this session knows it.  uids[i] is the UID of
 * message sequence number i + 1.  Changes reach the view only through the
 * event pump: they are queued here and applied at the points RFC 3501 §7
 * allows (imap_session_flush_updates). */
struct imap_view {
	int64_t mailbox_id;
	char name[1024];
	bool readonly;
	uint32_t uidvalidity;
	uint32_t *uids;
	size_t count;
	size_t cap;
	uint32_t last_uid;          /* highest UID this view has considered */
	uint32_t *recent;           /* sorted UIDs that are \Recent here */
	size_t recent_count;
	size_t recent_cap;
	uint32_t last_recent_sent;  /* RECENT count the client last saw */

	bool pending_new;
	uint32_t *pending_expunge;
	size_t pending_expunge_count;
	size_t pending_expunge_cap;
	uint32_t *pending_flags;
	size_t pending_flags_count;
	size_t pending_flags_cap;
	/* ACL (RFC 4314): another user's mailbox, and this user's rights
	 * on it as of SELECT (§5.1.1 lets a server keep them until then) */
	bool acl_shared;
	uint32_t acl_rights;
	/* The mailbox's owner; acl_revoked once another user's rights on it
	 * lost 'l' or 'r' while selected (imap_view_access_check). */
	int64_t acl_owner_id;
	bool acl_revoked;
	/* IMAP4rev2 (RFC 9051 App. E item 12): no \Recent, no RECENT */
	bool no_recent;
	/* SEARCHRES (RFC 5182): the "$" of the last SEARCH RETURN (SAVE),
	 * ascending UIDs; expunged ones drop out when "$" is resolved. */
	uint32_t *saved;
	size_t saved_count;
};

/* A command in progress that yields the loop (FETCH of much data). */
struct imap_fetch_job {
	char *tag;
	bool uid_command;
	struct imap_fetch_request req;
	uint32_t *uids;     /* the UIDs to send, ascending */
	size_t count;
	size_t next;
	size_t vanished;    /* requested messages no longer in the store */
	uint64_t changedsince;  /* RFC 7162 CHANGEDSINCE; 0 = none */
	bool unknown_cte;   /* a BINARY item failed: NO [UNKNOWN-CTE] */
};

/* ENABLEd extensions (RFC 5161).  A bit stays 0 until its extension is
 * built, so ENABLE ignores the name meanwhile. */
enum imap_enable_bits {
	IMAP_ENABLE_CONDSTORE = 1 << 0,
	IMAP_ENABLE_QRESYNC = 1 << 1,
	IMAP_ENABLE_UTF8_ACCEPT = 1 << 2,
	IMAP_ENABLE_IMAP4REV2 = 1 << 3,
};

struct imap_session {
	uint64_t id;
	struct imap_server *server;
	struct net_conn *conn;
	struct imap_reader *reader;
	enum imap_state state;
	enum imap_input_mode mode;

	struct store_user user;
	struct store_actor actor;
	char client_ip[64];
	/* An admin acting as user (SASL authzid): the admin's name, which
	 * actor.admin points to (RFC 5423 "admin"); "" otherwise. */
	char admin_name[256];

	struct imap_view *view;
	unsigned int enabled;       /* enum imap_enable_bits */
	/* imap_acl_rights()' one-entry cache (imap-mailbox.c) */
	int64_t acl_cache_mailbox;
	uint64_t acl_cache_generation;
	uint32_t acl_cache_rights;
	struct imap_notify *notify; /* NOTIFY (RFC 5465) state, or NULL */

	/* The command being executed (for the §7.4.1 EXPUNGE rule). */
	const char *cmd_name;
	bool cmd_uid;
	bool cmd_silent_store;
	char *pending_tag;          /* IDLE / AUTHENTICATE tag */
	struct imap_fetch_job *fetch_job;

	unsigned int bad_commands;
	unsigned int auth_failures;
	struct event *delay_event;
	char *delayed_reply;        /* auth failure reply written after delay */
	struct auth_job *auth_job;  /* password check in progress */

	bool logged_out;
	bool closing;
	bool tls_pending;           /* STARTTLS answered, switch after flush */
	/* For Logout's vnd.tidings.reason / duration: why the session ends
	 * (first one set wins; NULL = the peer went away) and when it
	 * logged in. */
	const char *close_reason;
	time_t login_time;

	/* the timeout list (least recently active first) */
	time_t last_activity;
	struct imap_session *lru_prev, *lru_next;
	/* all sessions, and sessions by selected mailbox */
	struct imap_session *all_prev, *all_next;
	struct imap_session *mbox_prev, *mbox_next;
	size_t mbox_bucket;
	bool in_mbox_index;

	bool reaping;
	struct imap_session *reap_next;

	struct strbuf out;
	size_t out_grace;           /* allowed above output_buffer_max */
	bool input_stopped;         /* reading paused while mode is PAUSED */
};

struct imap_server {
	struct event_base *base;
	const struct config *cfg;
	struct store *store;
	struct event_pump *pump;
	SSL_CTX *tls;
	struct imap_reader_limits reader_limits;
	struct imap_parser_limits parser_limits;

	uint64_t next_session_id;
	unsigned int session_count;
	struct imap_session *all;
	struct net_ipcount *ip_counts;  /* sessions on the all list, per client_ip */
	struct imap_session *lru_head, *lru_tail;
	struct imap_session *by_mailbox[IMAP_MAILBOX_BUCKETS];

	struct event *tick_event;
	void (*change_hook)(void *ctx);  /* after each commit (sinks) */
	void *change_hook_ctx;
	struct auth_worker *auth_worker;
	struct event *auth_event;
	struct event *reap_event;
	struct imap_session *reap_list;
	struct event *poll_event;
	bool shutting_down;
	struct imap_listener_entry *listeners;
	uint64_t acl_generation;    /* bumped by every vnd.tidings.AclChange */
	struct imap_notify_hub *notify_hub; /* NOTIFY sessions by user */
};

/* ---- output ---- */

/* Appends to the session's output and sends it. */
void imap_session_send(struct imap_session *s, const char *data, size_t len);
void imap_session_sendf(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "TAG OK [CODE] text" etc.  code may be NULL. */
void imap_session_tagged(struct imap_session *s, const char *tag,
			 const char *status, const char *code,
			 const char *text);
/* Tagged NO/BAD for a store error, with its RFC 5530 response code. */
void imap_session_store_error(struct imap_session *s, const char *tag,
			      const struct store_error *err);
void imap_session_bye(struct imap_session *s, const char *text);
/* Sends a constant string. */
void imap_session_sends(struct imap_session *s, const char *str);
/* Continue reading input after a pause (auth delay, command finished). */
void imap_session_resume(struct imap_session *s);
/* Flush the queued updates, then "TAG OK [code] text". */
void imap_session_ok(struct imap_session *s, const char *tag, const char *code,
		     const char *text);

/* ---- the selected mailbox ---- */

/* Selects (or examines) the mailbox: builds the view, claims \Recent, joins
 * the mailbox index.  Sends nothing. */
int imap_session_select(struct imap_session *s, const struct store_mailbox *mb,
			bool readonly, struct store_error *err);
void imap_session_unselect(struct imap_session *s);
/* Sends the queued updates the current command allows: EXPUNGE (unless
 * the command is FETCH, STORE or SEARCH, RFC 3501 §7.4.1), EXISTS, RECENT,
 * FETCH FLAGS. */
void imap_session_flush_updates(struct imap_session *s);
/* Runs the event pump after this process committed a change, so every
 * session (this one too) gets its updates queued. */
void imap_server_changed(struct imap_server *srv);

/* The index of sessions by selected mailbox (imap-server.c). */
void imap_server_index_add(struct imap_session *s);
void imap_server_index_remove(struct imap_session *s);

/* Sequence set argument -> ascending UIDs in the view.  uid_set: the set
 * holds UIDs.  0, or -1 (bad syntax / MSN out of range) with *error_r. */
int imap_view_resolve(const struct imap_view *v, const char *set, bool uid_set,
		      uint32_t **uids_r, size_t *count_r, const char **error_r);
/* Message sequence number of uid, 0 when not in the view. */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);
bool imap_view_is_recent(const struct imap_view *v, uint32_t uid);
struct imap_search_message;
/* Describes message m (sequence number seq in the view) for SEARCH, SORT
 * and THREAD; the text (data/len) is left empty for the caller to load. */
void imap_view_search_message(const struct imap_view *v,
			      const struct store_message *m, uint32_t seq,
			      struct imap_search_message *sm);

/* A flag list "(\Seen kw)" -> system flag bits and space-separated
 * keywords.  \Recent and unknown system flags are refused.  0 / -1. */
int imap_flags_parse(const struct imap_arg *list, uint32_t *flags_r,
		     struct strbuf *keywords, const char **error_r);

/* ---- mailbox names ---- */

/* Client (modified UTF-7) mailbox name -> store name (UTF-8).  0 / -1. */
int imap_mailbox_from_client(const char *name, struct strbuf *out);
/* Store name -> client form, written as an astring. */
void imap_mailbox_write(struct strbuf *out, const char *name);

/* ---- commands ---- */

enum imap_cmd_flags {
	IMAP_CMD_NOT_AUTH = 1 << 0,   /* allowed before login */
	IMAP_CMD_AUTH = 1 << 1,       /* allowed when authenticated */
	IMAP_CMD_SELECTED = 1 << 2,   /* allowed with a mailbox selected */
};
#define IMAP_CMD_ANY (IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH | IMAP_CMD_SELECTED)
#define IMAP_CMD_LOGGED_IN (IMAP_CMD_AUTH | IMAP_CMD_SELECTED)

typedef void imap_cmd_fn(struct imap_session *s, struct imap_parsed_command *cmd);

struct imap_command {
	const char *name;
	imap_cmd_fn *fn;
	unsigned int flags;
};

const struct imap_command *imap_command_find(const char *name);

/* cmd-any.c */
imap_cmd_fn cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable;
void imap_enable_apply(struct imap_session *s, unsigned int bit);
/* cmd-auth.c */
imap_cmd_fn cmd_starttls, cmd_login, cmd_authenticate;
void imap_auth_continue(struct imap_session *s, const char *line, size_t len);
/* cmd-mailbox.c */
imap_cmd_fn cmd_select, cmd_examine, cmd_create, cmd_delete, cmd_rename,
	cmd_subscribe, cmd_unsubscribe, cmd_list, cmd_lsub, cmd_status,
	cmd_namespace;
/* cmd-list.c: LIST, LSUB, LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) */
void imap_list_run(struct imap_session *s, struct imap_parsed_command *cmd,
		   bool lsub);
enum imap_list_attr {
	IMAP_LIST_NOSELECT = 1 << 0,
	IMAP_LIST_NOINFERIORS = 1 << 1,
	IMAP_LIST_NONEXISTENT = 1 << 2,
	IMAP_LIST_SUBSCRIBED = 1 << 3,
	IMAP_LIST_HAS_CHILDREN = 1 << 4,
	IMAP_LIST_HAS_NO_CHILDREN = 1 << 5,
};
/* Appends one "* LIST (attrs) "/" name[ ("OLDNAME" ("old"))]\r\n" line
 * for a store (UTF-8) mailbox name: attrs are enum imap_list_attr bits,
 * special_use an RFC 6154 attribute or NULL/"", old_name the name before
 * a RENAME (RFC 5465 §5.4, RFC 9051 §7.3.1 OLDNAME) or NULL.  For NOTIFY's
 * MailboxName and LIST itself. */
void imap_list_write(struct strbuf *out, const char *name, unsigned int attrs,
		     const char *special_use, const char *old_name);
/* cmd-quota.c: GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208) */
imap_cmd_fn cmd_getquota, cmd_getquotaroot, cmd_setquota;
/* "* QUOTA root (STORAGE u l MESSAGE u l MAILBOX u l)\r\n" for a user's
 * quota root (only resources with a limit are listed, RFC 9208 §4.2.1). */
void imap_quota_write(struct strbuf *out, const char *root,
		      const struct store_quota *q);
/* STATUS DELETED / DELETED-STORAGE (RFC 9208 §4.1.4): whether a names
 * one, and "DELETED n" / "DELETED-STORAGE n" for mailbox mb. */
bool imap_quota_status_item(const struct imap_arg *a);
void imap_quota_status_write(struct imap_session *s, struct strbuf *o,
			     const struct store_mailbox *mb,
			     const struct imap_arg *a);
/* cmd-metadata.c: GETMETADATA, SETMETADATA (RFC 5464) */
imap_cmd_fn cmd_getmetadata, cmd_setmetadata;
/* Whether the session may write /shared (shared) or /private entries of
 * mailbox mb (NULL: server entries).  The ACL area refines it (RFC 5464
 * §3.3: /shared needs ACL 'w'... see cmd-metadata.c). */
bool imap_metadata_may_write(const struct imap_session *s,
			     const struct store_mailbox *mb, bool shared);
/* Whether the session's user is an admin (config "admins"). */
bool imap_session_is_admin(const struct imap_session *s);
/* imap-mailbox.c, cmd-acl.c: ACL (RFC 4314) and the "Other Users"
 * namespace (RFC 2342).  Rights are bits in the order of
 * STORE_ACL_RIGHTS_ALL, "lrswipkxtean". */
imap_cmd_fn cmd_setacl, cmd_deleteacl, cmd_getacl, cmd_listrights,
	cmd_myrights;
#define IMAP_SHARED_ROOT "Other Users"
enum imap_acl_right {
	IMAP_ACL_LOOKUP = 1 << 0,          /* l */
	IMAP_ACL_READ = 1 << 1,            /* r */
	IMAP_ACL_SEEN = 1 << 2,            /* s */
	IMAP_ACL_WRITE = 1 << 3,           /* w */
	IMAP_ACL_INSERT = 1 << 4,          /* i */
	IMAP_ACL_POST = 1 << 5,            /* p */
	IMAP_ACL_CREATE = 1 << 6,          /* k */
	IMAP_ACL_DELETE_MAILBOX = 1 << 7,  /* x */
	IMAP_ACL_DELETE_MESSAGES = 1 << 8, /* t */
	IMAP_ACL_EXPUNGE = 1 << 9,         /* e */
	IMAP_ACL_ADMIN = 1 << 10,          /* a */
	IMAP_ACL_ANNOTATE = 1 << 11,       /* n: .shared annotations (RFC 5257 §3.4) */
};
#define IMAP_ACL_ALL 0xfffu
#define IMAP_ACL_LETTERS_MAX 14            /* 12 rights + virtual c, d */
uint32_t imap_acl_from_letters(const char *letters);
/* With virtual_rights, adds RFC 4314 §2.1.1's "c" and "d". */
void imap_acl_to_letters(uint32_t rights, bool virtual_rights,
			 char out[IMAP_ACL_LETTERS_MAX + 1]);
/* The session user's rights on a mailbox (owner_id 0: look it up).  The
 * owner has IMAP_ACL_ALL.  Cached per session until any ACL changes;
 * cheap enough for NOTIFY to call per event. */
uint32_t imap_acl_rights(struct imap_session *s, int64_t mailbox_id,
			 int64_t owner_id);
/* Called for every vnd.tidings.AclChange the pump sees. */
void imap_acl_changed(struct imap_server *srv);
/* Rights on the selected mailbox (IMAP_ACL_ALL for one's own, 0 once
 * access to another user's was revoked). */
uint32_t imap_view_rights(const struct imap_session *s);
/* Re-reads the rights on the selected mailbox after any ACL change: false
 * (and the view drops what it had queued, for good) once the user lost
 * 'l' or 'r' on another user's mailbox; true otherwise or when nothing
 * is selected.  Cheap when no ACL changed. */
bool imap_view_access_check(struct imap_session *s);
/* A client mailbox name (store form, after imap_mailbox_from_client). */
struct imap_mailbox_ref {
	bool shared;          /* under "Other Users/" */
	bool exists;          /* exists and (shared) has 'l' */
	int64_t owner_id;     /* 0: no such owner */
	char owner[256];
	char name[1024];      /* the owner's name for it (store form) */
	uint32_t rights;      /* 0 when !exists */
	struct store_mailbox mb;  /* when exists; mb.name is the client's */
};
bool imap_mailbox_is_shared_name(const char *name);
/* 0 with *ref (ref->exists false when there is no such mailbox, or the
 * user may not see it), -1 with *err on a store failure. */
int imap_mailbox_resolve(struct imap_session *s, const char *name,
			 struct imap_mailbox_ref *ref, struct store_error *err);
/* NO [NONEXISTENT] when !ref->exists, NO [NOPERM] without every right in
 * need (tagged, then -1); 0 when the command may go on. */
int imap_mailbox_check(struct imap_session *s, const char *tag,
		       const struct imap_mailbox_ref *ref, uint32_t need);
/* Appends the shared mailboxes the user may see, named "Other Users/
 * owner/name", and their \Noselect parents, to a store_mailbox_list(). */
int imap_mailbox_list_add_shared(struct imap_session *s,
				 struct store_mailbox **boxes, size_t *count,
				 struct store_error *err);
/* store_mailbox_get() for a client name: one's own mailbox, or a shared
 * one the user may see (else NONEXISTENT) with every right in need (else
 * NOPERM); mb_r->name is the client's name, *rights_r (may be NULL) the
 * user's rights. */
int imap_mailbox_get(struct imap_session *s, const char *name, uint32_t need,
		     struct store_mailbox *mb_r, uint32_t *rights_r,
		     struct store_error *err);
/* Rewrites the flags of the messages uids (ascending) of mailbox_id so that
 * only what rights allow changed: replace = STORE FLAGS with req_flags /
 * req_keywords (flags the user may not touch keep their value), else
 * strip what the user may not set (COPY into a shared mailbox). */
int imap_acl_flags_rewrite(struct imap_session *s, int64_t mailbox_id,
			   const uint32_t *uids, size_t n, uint32_t rights,
			   bool replace, uint32_t req_flags,
			   const char *req_keywords, struct store_error *err);
/* STORE on a shared mailbox (RFC 4314 §4): drops the flags the user may
 * not change.  0: go on with *flags/keywords; 1: a FLAGS replace that
 * needs imap_acl_flags_rewrite(); -1: answered NO [NOPERM]. */
int imap_acl_store_prepare(struct imap_session *s, const char *tag,
			   bool replace, bool conditional, uint32_t *flags,
			   struct strbuf *keywords);
/* CREATE, DELETE and RENAME of "Other Users/..." names (RFC 4314 §4:
 * 'k' on the nearest existing parent, 'x' on the mailbox); they answer
 * the command themselves. */
void imap_mailbox_shared_create(struct imap_session *s, const char *tag,
				const char *name);
void imap_mailbox_shared_delete(struct imap_session *s, const char *tag,
				const char *name);
void imap_mailbox_shared_rename(struct imap_session *s, const char *tag,
				const char *from, const char *to);
/* RFC 4314 §5.2: SELECT gives READ-ONLY with none of i, e, s, w, t. */
bool imap_acl_readonly(uint32_t rights);
/* "(flags ...)" for PERMANENTFLAGS with only what rights allow to change. */
void imap_acl_permanent_flags_write(struct strbuf *out, uint32_t rights,
				    char **keywords, size_t n);
/* The system flags of flags that rights let the user set or clear
 * (RFC 4314 §4: s for \Seen, t for \Deleted, w for the others and for
 * keywords, *keywords_ok_r). */
uint32_t imap_acl_flags_allowed(uint32_t rights, uint32_t flags,
				bool *keywords_ok_r);
/* cmd-append.c */
imap_cmd_fn cmd_append;
/* cmd-annotate.c: ANNOTATE-EXPERIMENT-1 (RFC 5257) */
struct imap_annotate_store;
struct imap_annotate_loaded;
struct imap_search_message;
/* SELECT/EXAMINE: "* OK [ANNOTATIONS n]" or "[ANNOTATIONS READ-ONLY]". */
void imap_annotate_select_write(struct imap_session *s, struct strbuf *o,
				bool readonly);
/* FETCH: when req has ANNOTATION, fm->annotation = the message's entries
 * (written into buf, which the caller frees after imap_fetch_write). */
void imap_annotate_fetch_fill(struct imap_session *s,
			      const struct imap_fetch_request *req,
			      uint32_t uid, struct strbuf *buf,
			      struct imap_fetch_message *fm);
/* SEARCH with ANNOTATION keys: fills sm->annotations for message uid of
 * the selected mailbox; free the result after matching. */
struct imap_annotate_loaded *
imap_annotate_search_load(struct imap_session *s, uint32_t uid,
			  struct imap_search_message *sm);
void imap_annotate_loaded_free(struct imap_annotate_loaded **l);
/* STORE set ANNOTATION (...): runs and answers the whole command. */
void imap_annotate_store_run(struct imap_session *s, const char *tag,
			     const struct imap_arg *args, size_t count,
			     bool uid, bool conditional,
			     uint64_t unchangedsince);
/* APPEND's ANNOTATION (...) at args[*i] (none: st empty, 0); -1 after
 * answering BAD.  Then _check (rights, limits: -1 after answering NO)
 * before the append, _apply to the new message after it. */
int imap_annotate_append_parse(struct imap_session *s, const char *tag,
			       const struct imap_arg *args, size_t count,
			       size_t *i, struct imap_annotate_store *st);
int imap_annotate_append_check(struct imap_session *s, const char *tag,
			       const struct imap_annotate_store *st,
			       uint32_t rights);
int imap_annotate_append_apply(struct imap_session *s, int64_t mailbox_id,
			       uint32_t uid,
			       const struct imap_annotate_store *st,
			       struct store_error *err);
/* cmd-message.c */
imap_cmd_fn cmd_check, cmd_close, cmd_unselect, cmd_expunge, cmd_search,
	cmd_fetch, cmd_store, cmd_copy, cmd_move, cmd_uid;
void imap_fetch_job_continue(struct imap_session *s);
/* cmd-sort.c: SORT, THREAD (RFC 5256), ESORT (RFC 5267), ESEARCH (RFC 4731) */
imap_cmd_fn cmd_sort, cmd_thread;
/* cmd-urlauth.c: URLAUTH (RFC 4467) */
imap_cmd_fn cmd_genurlauth, cmd_urlfetch, cmd_resetkey;
void imap_sort_run(struct imap_session *s, const char *tag,
		   const struct imap_arg *args, size_t count, bool uid);
void imap_thread_run(struct imap_session *s, const char *tag,
		     const struct imap_arg *args, size_t count, bool uid);
enum imap_esearch_option {
	IMAP_ESEARCH_MIN = 1 << 0,
	IMAP_ESEARCH_MAX = 1 << 1,
	IMAP_ESEARCH_ALL = 1 << 2,
	IMAP_ESEARCH_COUNT = 1 << 3,
	IMAP_ESEARCH_SAVE = 1 << 4,    /* SEARCHRES (RFC 5182) */
};
/* A leading "RETURN (opts)": 1 with the options and the number of
 * arguments it took, 0 when absent, -1 (BAD) with *error_r. */
int imap_esearch_return_parse(const struct imap_arg *args, size_t count,
			      unsigned int *options_r, size_t *consumed_r,
			      const char **error_r);
/* "* ESEARCH (TAG "t") [UID] ..." for nums (ascending for SEARCH, in
 * sort order for SORT). */
void imap_esearch_write(struct strbuf *out, const char *tag, bool uid,
			unsigned int options, const uint32_t *nums, size_t count);
/* cmd-notify.c, imap-notify.c: NOTIFY (RFC 5465, draft -07) */
imap_cmd_fn cmd_notify;
struct imap_notify_hub;
/* Joins the server's event pump as a consumer (after the view matcher). */
struct imap_notify_hub *imap_notify_hub_create(struct imap_server *srv);
void imap_notify_hub_destroy(struct imap_notify_hub **hub);
/* Drops the session's NOTIFY state (NOTIFY NONE, session end). */
void imap_notify_session_free(struct imap_session *s);
/* After EXISTS for the view's messages from index first on: the FETCH of
 * NOTIFY's MessageNew fetch-att for them (RFC 5465 §5.2). */
void imap_notify_new_messages(struct imap_session *s, size_t first);
/* The selected mailbox had event type (its updates are queued): NOTIFY
 * SELECTED sends them now.  And after every command: what §7.4.1 of RFC
 * 3501 held back while it ran goes out now. */
void imap_notify_selected_event(struct imap_session *s,
				const struct store_outbox_event *ev);
void imap_notify_command_done(struct imap_session *s);
/* cmd-qresync.c: CONDSTORE and QRESYNC (RFC 7162) */
/* mod-sequence-value (1..2^63-1), or with allow_zero -valzer.  0 / -1. */
int imap_modseq_parse(const struct imap_arg *arg, bool allow_zero,
		      uint64_t *modseq_r);
bool imap_condstore_enabled(const struct imap_session *s);
bool imap_qresync_enabled(const struct imap_session *s);
/* A CONDSTORE enabling command (§3.1): sets the bit and, the first time
 * with a mailbox selected, sends its HIGHESTMODSEQ. */
void imap_condstore_enable(struct imap_session *s);
/* "* VANISHED [(EARLIER)] uid-set" for ascending UIDs (split over several
 * lines when long).  Also for NOTIFY sessions with QRESYNC. */
void imap_vanished_write(struct imap_session *s, bool earlier,
			 const uint32_t *uids, size_t count);
/* The tagged OK's code after EXPUNGE / UID EXPUNGE / MOVE removed messages
 * from the selected mailbox: "HIGHESTMODSEQ n" once QRESYNC is enabled
 * (RFC 7162 §3.2.9, RFC 6851 §4.4), else nothing.  Into code, a buffer
 * of size bytes (at least 48); returns code, or NULL for no code. */
const char *imap_qresync_expunge_code(struct imap_session *s, char *code,
				      size_t size);
struct imap_select_params {
	bool condstore;
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	char *known_uids;   /* NULL: all UIDs below UIDNEXT */
};
/* SELECT/EXAMINE's optional parameter list.  0, or -1 (BAD) with *error_r. */
int imap_select_params_parse(struct imap_session *s, const struct imap_arg *args,
			     size_t count, struct imap_select_params *p,
			     const char **error_r);
void imap_select_params_free(struct imap_select_params *p);
/* After the old mailbox is closed, before the new one is opened. */
void imap_select_params_begin(struct imap_session *s,
			      const struct imap_select_params *p);
/* After the RFC 3501 responses: HIGHESTMODSEQ, then for QRESYNC the
 * VANISHED (EARLIER) and FETCH responses of §3.2.5.1. */
void imap_select_params_respond(struct imap_session *s,
				const struct store_mailbox *mb,
				const struct imap_select_params *p);
/* FETCH's (CHANGEDSINCE n [VANISHED]) list.  0, or -1 (BAD). */
int imap_fetch_modifiers_parse(struct imap_session *s, const struct imap_arg *arg,
			       bool uid, uint64_t *changedsince_r,
			       bool *vanished_r, const char **error_r);
void imap_fetch_request_add_modseq(struct imap_fetch_request *req);
/* A FETCH that set \Seen implicitly: MODSEQ once CONDSTORE is enabled,
 * UID too once QRESYNC is (RFC 7162 §3.2.4). */
void imap_fetch_request_add_seen_items(struct imap_session *s,
				       struct imap_fetch_request *req);
bool imap_fetch_request_has_modseq(const struct imap_fetch_request *req);
/* VANISHED (EARLIER) for the UIDs of set expunged after changedsince. */
void imap_fetch_vanished_send(struct imap_session *s, const char *set,
			      uint64_t changedsince);
/* One untagged FETCH answering STORE: FLAGS unless silent (always for a
 * UID in modified, which failed UNCHANGEDSINCE), UID for UID STORE or
 * QRESYNC, MODSEQ once CONDSTORE is enabled. */
void imap_condstore_store_fetch_write(struct imap_session *s, struct strbuf *o,
				      const struct store_message *m, bool uid,
				      bool silent, const uint32_t *modified,
				      size_t nmodified);
/* "MODIFIED set": UIDs for UID STORE, else their sequence numbers. */
void imap_condstore_modified_code(struct imap_session *s, struct strbuf *code,
				  const uint32_t *modified, size_t nmodified,
				  bool uid);
/* Adds " MODSEQ n" to the ESEARCH line in o (before its CRLF). */
void imap_esearch_modseq_append(struct strbuf *o, uint64_t modseq);
/* STORE's (UNCHANGEDSINCE n).  0, or -1 (BAD). */
int imap_store_modifiers_parse(const struct imap_arg *arg, uint64_t *unchangedsince_r,
			       const char **error_r);
/* cmd-rev2.c: IMAP4rev2 (RFC 9051), UTF8=ACCEPT (RFC 6855) */
bool imap_rev2_enabled(const struct imap_session *s);
/* Mailbox names in UTF-8 (UTF8=ACCEPT or IMAP4rev2 enabled). */
bool imap_utf8_enabled(const struct imap_session *s);
/* The form imap_mailbox_write/imap_mailbox_from_client use: set by the
 * server around each command to the running session's. */
void imap_mailbox_names_utf8_set(bool on);
bool imap_mailbox_names_utf8(void);
/* ENABLE's side effects for IMAP4rev2 / UTF8=ACCEPT. */
void imap_rev2_enable(struct imap_session *s, unsigned int bit);
struct imap_search_limits;
/* base with the session's rev2 / UTF8=ACCEPT restrictions added. */
void imap_search_limits_for(const struct imap_session *s,
			    const struct imap_search_limits *base,
			    struct imap_search_limits *out);
/* A UTF-8 mailbox name as RFC 6855 §3 allows it: 0 / -1. */
int imap_mailbox_name_utf8_check(const char *name);
/* STATUS SIZE (RFC 9051 §6.3.11, RFC 8438). */
bool imap_status_size_item(const struct imap_arg *a);
void imap_status_size_write(struct imap_session *s, struct strbuf *o,
			    const struct store_mailbox *mb);
/* APPEND's message argument from args[i]: a literal (literal8 too, RFC
 * 3516 §4.4), or UTF8 (~{n}) once UTF8=ACCEPT is enabled (RFC 6855 §4).
 * 0, or -1 (BAD) with *error_r. */
int imap_append_message_arg(const struct imap_session *s,
			    const struct imap_arg *args, size_t count,
			    size_t i, const struct imap_arg **msg_r,
			    const char **error_r);
/* SEARCHRES (RFC 5182 §2.4): sets the view's "$" from a SEARCH with
 * RETURN (SAVE ...) that found nums[0..count) (UIDs when uid, else
 * sequence numbers, ascending). */
void imap_searchres_save(struct imap_session *s, unsigned int options,
			 bool uid, const uint32_t *nums, size_t count);
/* cmd-idle.c */
imap_cmd_fn cmd_idle;
void imap_idle_line(struct imap_session *s, const char *line, size_t len);

/* The capability list for the session's state (no leading "CAPABILITY"). */
void imap_capabilities_write(struct imap_session *s, struct strbuf *out);
/* Whether LOGIN/AUTHENTICATE PLAIN are allowed on this connection now. */
bool imap_session_plaintext_ok(const struct imap_session *s);

/* Authentication succeeded for user: state change, Login event. */
void imap_session_logged_in(struct imap_session *s, const struct store_user *u,
			    const char *tag, const char *authzid_differs);
/* Authentication failed: delayed tagged NO, BYE after too many. */
void imap_session_auth_failed(struct imap_session *s, const char *tag,
			      const char *text);

#endif
