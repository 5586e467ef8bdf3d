/* tidingsd / tidings configuration: `key = value` lines, `#` comments,
 * `[sink NAME]` sections (parsed by a later issue; unknown section types are
 * an error).  Every key, its default and its meaning: docs/configuration.md.
 *
 * config_load() reports the first problem as "FILE:LINE: message" in
 * err (the caller prints it and exits with status 2). */
#ifndef TIDINGS_CONFIG_H
#define TIDINGS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_DEFAULT_MAILBOXES 32
/* Hard limits on the file itself. */
#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define CONFIG_MAX_LINE_LENGTH 8192
#define CONFIG_MAX_SINKS 64
#define CONFIG_MAX_SINK_OPTIONS 128

/* One `key = value` line inside a [sink NAME] section, kept raw: the events
 * module validates sink options (the file's line is kept for its errors). */
struct config_option {
	char *key;
	char *value;
	unsigned int line;
};

/* One `[sink NAME]` section, in file order. */
struct config_sink {
	char *name;
	unsigned int line;          /* line of the [sink NAME] header */
	struct config_option *options;
	size_t option_count;
};

struct config {
	char *data_dir;            /* "./var" */
	char *imap_listen;         /* "127.0.0.1:1143"; "" disables */
	char *imaps_listen;        /* "127.0.0.1:1993"; "" disables */
	char *lmtp_listen;         /* "" (the LMTP issue) */
	char *tls_cert;            /* "" = data_dir/tls/cert.pem, self-signed on first start */
	char *tls_key;             /* "" = data_dir/tls/key.pem */
	char *log_level;           /* "info" */
	char *server_name;         /* hostname used in greetings and event URIs */
	bool allow_plaintext_auth; /* LOGIN/AUTHENTICATE without TLS; default:
				      false, but loopback clients always may
				      unless plaintext_auth_loopback = no */
	bool plaintext_auth_loopback;

	/* limits */
	size_t max_line_length;          /* 65536 */
	uint64_t max_literal_size;       /* = APPENDLIMIT, 64 MiB */
	uint64_t max_message_size;       /* 64 MiB */
	unsigned int max_connections;    /* 10000 */
	unsigned int max_connections_per_ip; /* 100 */
	unsigned int max_bad_commands;   /* 20 */
	unsigned int auth_fail_delay_ms; /* 1000: first failure; doubles, capped at 15 s */
	unsigned int max_auth_failures;  /* 5 then BYE */
	unsigned int idle_timeout;       /* seconds, authenticated: 1800 (>= 30 min) */
	unsigned int login_timeout;      /* seconds, not authenticated: 60 */
	unsigned int output_buffer_max;  /* bytes queued to one client before it is
					    cut off: 16 MiB */

	/* mailboxes every new user gets besides INBOX: name and SPECIAL-USE */
	char *default_mailboxes[CONFIG_MAX_DEFAULT_MAILBOXES][2];
	size_t default_mailbox_count;

	/* "demo": the user `make run` creates; "" = none */
	char *demo_user;

	/* LMTP (docs/configuration.md, "LMTP delivery") */
	char *lmtp_domains;        /* "": any domain; else space-separated */
	unsigned int lmtp_timeout; /* seconds a client may be silent: 300 */
	unsigned int lmtp_max_recipients; /* per transaction: 100 (>= 100) */

	/* POP3 (docs/configuration.md, "POP3") */
	char *pop3_listen;         /* "" (make run: 127.0.0.1:1110) */
	char *pop3s_listen;        /* "" (make run: 127.0.0.1:1995) */

	/* quota of a user without limits of its own (docs/configuration.md,
	 * "Quota"); 0 = unlimited */
	uint64_t quota_storage;    /* bytes: 0 */
	uint64_t quota_messages;   /* messages: 0 */
	uint64_t quota_mailboxes;  /* mailboxes (RFC 9208 §5.3): 0 */

	/* expiry (docs/configuration.md, "Expiry"): "TARGET:AGE ..." rules,
	 * parsed with config_parse_expire(); "" = no expiry */
	char *expire;
	unsigned int expire_interval; /* seconds between runs in tidingsd: 3600 */

	/* outbox retention (docs/events.md "Outbox retention"): rows every
	 * sink has delivered are kept outbox_keep seconds for replay */
	uint64_t outbox_keep;      /* seconds: 7 days */
	unsigned int outbox_prune_interval; /* seconds between runs: 60 */

	/* users allowed to act as another (SASL authzid), to SETQUOTA and to
	 * write /shared server metadata: names separated by spaces; "" */
	char *admins;
	/* METADATA (RFC 5464, docs/metadata.md): largest value in bytes
	 * (64K), most entries per user, server entries included (1000) */
	uint64_t metadata_max_size;
	unsigned int metadata_max_entries;

	/* NOTIFY (docs/notify.md): most mailbox names in one NOTIFY SET
	 * (1000); more get NO [NOTIFICATIONOVERFLOW] */
	unsigned int notify_max_mailboxes;

	/* ANNOTATE (RFC 5257, docs/metadata.md): largest annotation value in
	 * bytes (64K), most annotation values per message (100) */
	uint64_t annotate_max_size;
	unsigned int annotate_max_entries;

	/* SO_SNDBUF of each client connection in bytes; 0 (the default)
	 * leaves the kernel's own sizing (docs/configuration.md) */
	uint64_t socket_sndbuf;

	char *path;                /* the file it was read from, or NULL */

	/* [sink NAME] sections, raw (see struct config_sink) */
	struct config_sink *sinks;
	size_t sink_count;
};

/* Whether user is listed in the admins key. */
bool config_is_admin(const struct config *cfg, const char *user);
/* The embedded defaults (what `make run` uses). */
void config_init_defaults(struct config *cfg);
/* Reads FILE over the defaults.  0, or -1 with "FILE:LINE: message" in err. */
int config_load(struct config *cfg, const char *path, char *err, size_t err_size);
/* Sets one key (as from a line of the file); 0 or -1 with a message. */
int config_set(struct config *cfg, const char *key, const char *value,
	       char *err, size_t err_size);
void config_free(struct config *cfg);

/* Splits "host:port" / "[v6]:port"; 0 or -1. */
int config_parse_listen(const char *value, char *host, size_t host_size,
			int *port_r);
/* "64M", "1G", "4096" -> bytes; 0 or -1. */
int config_parse_size(const char *value, uint64_t *bytes_r);
/* "yes"/"no"/"true"/"false"/"on"/"off"/"1"/"0" (any case); 0 or -1. */
int config_parse_bool(const char *value, bool *bool_r);

/* The TLS certificate and key files: tls_cert / tls_key, or
 * data_dir/tls/cert.pem and data_dir/tls/key.pem when those are "".
 * The result is malloc'd; free() it. */
char *config_tls_cert_path(const struct config *cfg);
char *config_tls_key_path(const struct config *cfg);

/* One expiry rule: messages of the mailboxes TARGET names whose
 * INTERNALDATE is more than age seconds old are removed (MessageExpire). */
#define CONFIG_MAX_EXPIRE_RULES 64
#define CONFIG_MAX_EXPIRE_AGE (100ll * 366 * 24 * 3600)
struct config_expire_rule {
	char target[1001];   /* a SPECIAL-USE attribute ("\\Trash") or a name */
	bool special_use;    /* target starts with '\\' */
	int64_t age;         /* seconds, 1 .. CONFIG_MAX_EXPIRE_AGE */
};
/* Parses the expire value: space-separated TARGET:AGE, AGE a number with
 * a d, h, m or s suffix.  *rules_r is malloc'd (NULL when there are none);
 * free() it.  0, or -1 with a message. */
int config_parse_expire(const char *value, struct config_expire_rule **rules_r,
			size_t *count_r, char *err, size_t err_size);

/* The value of KEY in a sink section, or NULL when it is not there. */
const char *config_sink_get(const struct config_sink *sink, const char *key);

#endif
