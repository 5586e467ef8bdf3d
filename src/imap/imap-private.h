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
};

/* ENABLEd extensions (RFC 5161).  A bit stays 0 until its extension is
 * built, so ENABLE ignores the name meanwhile. */
enum imap_enable_bits {
	IMAP_ENABLE_CONDSTORE = 0,
	IMAP_ENABLE_QRESYNC = 0,
	IMAP_ENABLE_UTF8_ACCEPT = 0,
	IMAP_ENABLE_IMAP4REV2 = 0,
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

	struct imap_view *view;
	unsigned int enabled;       /* enum imap_enable_bits */

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
/* cmd-append.c */
imap_cmd_fn cmd_append;
/* cmd-message.c */
imap_cmd_fn cmd_check, cmd_close, cmd_unselect, cmd_expunge, cmd_search,
	cmd_fetch, cmd_store, cmd_copy, cmd_move, cmd_uid;
void imap_fetch_job_continue(struct imap_session *s);
/* cmd-sort.c: SORT, THREAD (RFC 5256), ESORT (RFC 5267), ESEARCH (RFC 4731) */
imap_cmd_fn cmd_sort, cmd_thread;
void imap_sort_run(struct imap_session *s, const char *tag,
		   const struct imap_arg *args, size_t count, bool uid);
void imap_thread_run(struct imap_session *s, const char *tag,
		     const struct imap_arg *args, size_t count, bool uid);
enum imap_esearch_option {
	IMAP_ESEARCH_MIN = 1 << 0,
	IMAP_ESEARCH_MAX = 1 << 1,
	IMAP_ESEARCH_ALL = 1 << 2,
	IMAP_ESEARCH_COUNT = 1 << 3,
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
