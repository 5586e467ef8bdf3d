/* Sinks: each configured `[sink NAME]` section delivers the outbox's events,
 * filtered and shaped per sink (RFC 5423 §3 "filtering at generation"), to
 * its far end, at least once and in order, with a durable cursor in the
 * store (DESIGN.md "Events").
 *
 * Every sink runs on its own thread with its own store handle: a slow or
 * failing far end never slows IMAP or the other sinks.  The thread reads
 * outbox rows after its cursor in batches, filters them, delivers them and
 * advances the cursor only once the far end has acknowledged them (for the
 * journal: written and fsynced).  On failure it retries with capped
 * exponential back-off for as long as it takes.
 *
 * Each type lives in its own file (sink-journal.c, sink-webhook.c,
 * sink-nats.c, sink-syslog.c) behind struct sink_type_desc; a type not
 * built yet is refused at startup as "not supported yet".  docs/events.md
 * and docs/configuration.md describe every option. */
#ifndef TIDINGS_SINK_H
#define TIDINGS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "events/event-types.h"
#include "lib/strbuf.h"
#include "store/store.h"

enum sink_type {
	SINK_TYPE_JOURNAL,
	SINK_TYPE_WEBHOOK,
	SINK_TYPE_NATS,
	SINK_TYPE_SYSLOG,
};

/* RFC 5423 §4.2: how \Seen and \Deleted being set are reported. */
enum sink_flag_mode {
	SINK_FLAG_MODE_SIMPLE, /* MessageRead / MessageTrash (the default) */
	SINK_FLAG_MODE_FLAGS,  /* FlagsSet / FlagsClear as they are */
	SINK_FLAG_MODE_BOTH,   /* both forms */
};

/* Hard limits on one sink's lists. */
#define SINK_LIST_MAX 256
#define SINK_ITEM_MAX 1024

struct sink_list {
	char **items;
	size_t count;
};

struct sink_filter {
	uint32_t types;           /* bit (1u << enum event_type) per type sent */
	bool all_users;
	struct sink_list users;   /* mailbox owners (or acting users) */
	bool all_mailboxes;
	struct sink_list mailboxes;
	bool all_params;
	uint32_t params;          /* bit (1u << enum event_param) per RFC param */
	struct sink_list vendor_params; /* "vnd.tidings.x" names kept */
	/* messageContent (RFC 5423 §5; sink-content.c): 0 = not sent;
	 * else messages up to content_max bytes inline and bigger ones as
	 * a URLAUTH URL (vnd.tidings.contentURL) with access identifier
	 * content_access ("" = user+<mailbox owner>, "authuser", or
	 * "user+<name>" already percent-encoded). */
	uint64_t content_max;
	char content_access[300];
	enum sink_flag_mode flag_mode;
	struct sink_list tags;    /* the "tags" parameter; none when empty */
};

struct sink_config {
	char *name;
	enum sink_type type;
	struct sink_filter filter;
	/* journal */
	char *path;               /* as configured, or data_dir/events.jsonl */
	uint64_t rotate_size;     /* 0: never rotate */
	unsigned int rotate_keep;
	/* webhook and nats: the far end's URL */
	char *url;
	/* webhook (sink-webhook.c fills these; add fields below) */
	char *secret;
	unsigned int timeout;     /* seconds for one POST, answer included */
	unsigned int connect_timeout; /* seconds */
	unsigned int batch_max;   /* events per POST */
	bool tls_verify;
	char *ca_file;            /* NULL: the system's CA store */
	/* nats (sink-nats.c fills these; add fields below) */
	char *stream;
	char *subject;            /* template, e.g. tidings.<event>.<user> */
	/* syslog (sink-syslog.c fills these; add fields below) */
	int facility;             /* LOG_MAIL, LOG_LOCAL0, ... */
	char *ident;              /* APP-NAME / tag, default "tidings" */
	char *socket_path;        /* the syslog daemon's socket, /dev/log */
	bool rfc3164;             /* format = rfc3164 (else rfc5424) */
};

/* The defaults: every event, user, mailbox and parameter; simple mode. */
void sink_filter_init(struct sink_filter *filter);
void sink_filter_free(struct sink_filter *filter);

/* Checks and reads one raw section of cfg (cfg->path names the file in
 * errors).  0, or -1 with "FILE:LINE: message" in err. */
int sink_config_parse(const struct config *cfg, const struct config_sink *raw,
		      struct sink_config *sink_r, char *err, size_t err_size);
void sink_config_free(struct sink_config *sink);

/* Checks every [sink NAME] section of cfg (what tidingsd does before it
 * starts anything).  0, or -1 with "FILE:LINE: message" in err. */
int sink_config_check_all(const struct config *cfg, char *err,
			  size_t err_size);

/* Parses one option value as the config does: "events", "users", ... are
 * lists separated by spaces or commas, items may be "double quoted" (with
 * \" and \\ inside).  0, or -1 with a message in err. */
int sink_list_parse(const char *value, struct sink_list *list_r, char *err,
		    size_t err_size);
void sink_list_free(struct sink_list *list);

/* "message" -> its types' bits, "MessageNew" -> one bit; false when the
 * name is neither a group nor an RFC 5423 type. */
bool sink_events_name_bits(const char *name, uint32_t *bits_r);

/* Applies the filter to one outbox event (seq and its JSON object, as in
 * struct store_outbox_event) and appends what the sink sends, one JSON
 * object per line ("seq", "event", then the parameters), to out.  One row
 * can give none, one or several lines (flag_mode); lines that come from one
 * row share its seq.  Returns the number of lines appended; -1 when the
 * row's JSON cannot be read (it is skipped: logged by the caller). */
int sink_filter_apply(const struct sink_filter *filter, int64_t seq,
		      const char *json, struct strbuf *out);
/* The same on a sink thread with its own store handle: MessageAppend and
 * MessageNew of one message then carry its content (sink_content_add). */
int sink_filter_apply_store(const struct sink_filter *filter,
			    struct store *store, int64_t seq,
			    const char *json, struct strbuf *out);
/* sink-content.c: when the filter sends messageContent (content_max > 0
 * and the parameter kept) and obj is a MessageAppend or MessageNew whose
 * uri names one message, loads that message through store and adds
 * "messageContent" (the text, when it is valid UTF-8),
 * "vnd.tidings.contentBase64" (when it is not), or, over content_max,
 * "vnd.tidings.contentURL" (an RFC 4467 URLAUTH URL for URLFETCH).  A
 * message already expunged adds nothing. */
struct json_t;
void sink_content_add(const struct sink_filter *filter, struct store *store,
		      struct json_t *obj);
/* Reads a content_access value into filter->content_access.  0 / -1. */
int sink_content_access_parse(const char *value, struct sink_filter *filter);

/* `tidings events replay --sink NAME --from SEQ` asks the running (or next)
 * sink to resend from SEQ by writing SEQ into the sink_cursors row named
 * SINK_REPLAY_PREFIX NAME ('/' cannot occur in a sink name); 0 there means
 * no pending replay.  The runner checks that row before each batch, moves
 * its own cursor to SEQ - 1 and clears the row.  Writing the request beside
 * the cursor rather than the cursor itself means a runner that is
 * acknowledging a batch at that moment cannot overwrite it. */
#define SINK_REPLAY_PREFIX "replay/"

/* ---- the runner ---- */

struct sink_manager;

/* Checks every sink section (as sink_config_check_all); nothing starts. */
int sink_manager_create(const struct config *cfg,
			const struct store_options *store_opts,
			struct sink_manager **manager_r, char *err,
			size_t err_size);
/* Opens each sink's own store handle and starts its thread.  0 / -1
 * (logged). */
int sink_manager_start(struct sink_manager *manager);
/* Wakes the sinks at once (call after a commit); they also poll the
 * store's data_version every 20 ms. */
void sink_manager_notify(struct sink_manager *manager);
/* True once sink_manager_destroy() has begun (any thread may ask). */
bool sink_manager_stopping(struct sink_manager *manager);
/* Stops every thread (a batch being delivered is finished first), joins
 * them and frees everything. */
void sink_manager_destroy(struct sink_manager **manager);

/* ---- sink types ---- */

/* One sink's far end.  Each type embeds struct sink_backend as the first
 * member of its own struct and fills ops.  All calls come from the sink's
 * own thread. */
struct sink_backend;
struct sink_backend_ops {
	/* Connects / opens; called again after a failure.  0 / -1. */
	int (*open)(struct sink_backend *backend);
	/* The highest seq the far end already holds when it can tell (the
	 * journal's last line), else 0: lets a restart skip a batch that
	 * was written but whose cursor update was lost in a crash. */
	int64_t (*last_seq)(struct sink_backend *backend);
	/* deliver() gets a batch of JSON lines (each ending in '\n', as
	 * sink_filter_apply writes them) and returns 0 once the far end has
	 * acknowledged all of it (the cursor then advances past last_seq),
	 * -1 when the whole batch must be retried later. */
	int (*deliver)(struct sink_backend *backend, const char *data,
		       size_t len, int64_t last_seq);
	void (*destroy)(struct sink_backend *backend);
};
struct sink_backend {
	const struct sink_backend_ops *ops;
	const char *name;         /* the sink's name, for logs */
	/* Set by the runner.  A deliver() that waits on the network asks
	 * sink_manager_stopping(manager) at least every 100 ms and gives up
	 * (-1) once it is true: shutdown never waits for a far end's
	 * time-out. */
	struct sink_manager *manager;
};

/* A sink type: its name in `type = ...`, its own keys beyond the common
 * ones, a parser for them (fills sink; 0, or -1 with "FILE:LINE: msg" via
 * sink_config_error) and the constructor of its backend. */
struct sink_type_desc {
	const char *name;
	enum sink_type type;
	const char *const *keys;
	int (*parse)(const struct config *cfg, const struct config_sink *raw,
		     struct sink_config *sink, char *err, size_t err_size);
	struct sink_backend *(*create)(const struct sink_config *sink);
};
extern const struct sink_type_desc sink_type_journal;
extern const struct sink_type_desc sink_type_webhook;
extern const struct sink_type_desc sink_type_nats;
extern const struct sink_type_desc sink_type_syslog;

/* For type parsers: the option named key of the section, or NULL. */
const struct config_option *sink_config_option(const struct config_sink *raw,
					       const char *key);
/* For type parsers: writes "FILE:LINE: message" to err, returns -1. */
int sink_config_error(char *err, size_t err_size, const struct config *cfg,
		      unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
