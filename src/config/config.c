/* The configuration file: `key = value` lines, `#` comments, [sink NAME]
 * sections kept raw for the events module.  Every key is described in one
 * table below; docs/configuration.md is the reference for operators. */
#include "config/config.h"
#include "lib/text.h"

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_DEFAULT_MAILBOXES \
	"Drafts:\\Drafts Sent:\\Sent Trash:\\Trash Junk:\\Junk Archive:\\Archive"
#define CONFIG_MAX_MAILBOX_NAME 255
#define CONFIG_MAX_NAME 255

enum config_kind {
	CONFIG_KIND_STRING,   /* char *, checked by the key's check function */
	CONFIG_KIND_LISTEN,   /* char *, "" or host:port */
	CONFIG_KIND_BOOL,     /* bool */
	CONFIG_KIND_SIZE,     /* bytes with K/M/G suffix; width from the field */
	CONFIG_KIND_NUMBER,   /* plain decimal number; width from the field */
	CONFIG_KIND_MAILBOXES,/* default_mailboxes */
};

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t offset;
	size_t width;          /* sizeof the field for SIZE and NUMBER */
	uint64_t min, max;     /* inclusive range for SIZE and NUMBER */
	/* Extra checks for STRING: 0, or -1 with a message. */
	int (*check)(const char *value, char *err, size_t err_size);
	const char *min_reason; /* why min is what it is, for the error */
};

static int config_check_nonempty(const char *value, char *err, size_t err_size);
static int config_check_log_level(const char *value, char *err, size_t err_size);
static int config_check_server_name(const char *value, char *err,
				    size_t err_size);
static int config_check_user_name(const char *value, char *err,
				  size_t err_size);
static int config_check_any(const char *value, char *err, size_t err_size);
static int config_check_domains(const char *value, char *err,
			       size_t err_size);
static int config_check_expire(const char *value, char *err,
			       size_t err_size);
static int config_check_admins(const char *value, char *err, size_t err_size);

#define STR(name, check) \
	{ #name, CONFIG_KIND_STRING, offsetof(struct config, name), 0, 0, 0, \
	  check, NULL }
#define LISTEN(name) \
	{ #name, CONFIG_KIND_LISTEN, offsetof(struct config, name), 0, 0, 0, \
	  NULL, NULL }
#define BOOL(name) \
	{ #name, CONFIG_KIND_BOOL, offsetof(struct config, name), 0, 0, 0, \
	  NULL, NULL }
#define SIZE(name, lo, hi, why) \
	{ #name, CONFIG_KIND_SIZE, offsetof(struct config, name), \
	  sizeof(((struct config *)0)->name), lo, hi, NULL, why }
#define NUMBER(name, lo, hi, why) \
	{ #name, CONFIG_KIND_NUMBER, offsetof(struct config, name), \
	  sizeof(((struct config *)0)->name), lo, hi, NULL, why }

static const struct config_key config_keys[] = {
	STR(data_dir, config_check_nonempty),
	LISTEN(imap_listen),
	LISTEN(imaps_listen),
	LISTEN(lmtp_listen),
	STR(tls_cert, config_check_any),
	STR(tls_key, config_check_any),
	STR(log_level, config_check_log_level),
	STR(server_name, config_check_server_name),
	BOOL(allow_plaintext_auth),
	BOOL(plaintext_auth_loopback),
	/* RFC 7162 §4 asks servers to take command lines of at least 8192
	 * octets; a lower limit is allowed for tests, but not below 1 KiB,
	 * where ordinary commands would start to fail. */
	SIZE(max_line_length, 1024, 1024ull * 1024 * 1024, NULL),
	SIZE(max_literal_size, 1, UINT32_MAX, NULL),
	SIZE(max_message_size, 1, UINT32_MAX, NULL),
	NUMBER(max_connections, 1, UINT_MAX, NULL),
	NUMBER(max_connections_per_ip, 1, UINT_MAX, NULL),
	NUMBER(max_bad_commands, 1, UINT_MAX, NULL),
	NUMBER(auth_fail_delay_ms, 0, 15000, NULL),
	NUMBER(max_auth_failures, 1, UINT_MAX, NULL),
	/* RFC 3501 §5.4: the inactivity autologout timer, if present, MUST be
	 * at least 30 minutes. */
	NUMBER(idle_timeout, 1800, 7 * 24 * 3600,
	       "RFC 3501 section 5.4 requires at least 30 minutes"),
	NUMBER(login_timeout, 1, 24 * 3600, NULL),
	SIZE(output_buffer_max, 4096, UINT_MAX, NULL),
	{ "default_mailboxes", CONFIG_KIND_MAILBOXES, 0, 0, 0, 0, NULL, NULL },
	STR(demo_user, config_check_user_name),
	STR(lmtp_domains, config_check_domains),
	/* RFC 5321 §4.5.3.2.7 asks for at least 5 minutes; shorter is allowed
	 * for a local MTA that knows it */
	NUMBER(lmtp_timeout, 1, 24 * 3600, NULL),
	/* RFC 5321 §4.5.3.1.8: at least 100 recipients MUST be buffered */
	NUMBER(lmtp_max_recipients, 100, 100000,
	       "RFC 5321 section 4.5.3.1.8 requires at least 100"),
	LISTEN(pop3_listen),
	LISTEN(pop3s_listen),
	SIZE(quota_storage, 0, INT64_MAX, NULL),
	NUMBER(quota_messages, 0, INT64_MAX, NULL),
	STR(expire, config_check_expire),
	NUMBER(expire_interval, 1, 7 * 24 * 3600, NULL),
	/* admins, METADATA limits (docs/metadata.md) */
	STR(admins, config_check_admins),
	SIZE(metadata_max_size, 1, 1024ull * 1024, NULL),
	NUMBER(metadata_max_entries, 1, 100000, NULL),
	/* outbox retention (docs/events.md "Outbox retention") */
	NUMBER(outbox_keep, 0, 10ll * 366 * 24 * 3600, NULL),
	NUMBER(outbox_prune_interval, 1, 24 * 3600, NULL),
	/* NOTIFY (docs/notify.md) */
	NUMBER(notify_max_mailboxes, 1, 1000000, NULL),
	/* ANNOTATE (RFC 5257 §4.1: at least 1024 octets and 10 entries) */
	SIZE(annotate_max_size, 1024, 1024ull * 1024,
	     "RFC 5257 section 4.1 requires at least 1024"),
	NUMBER(annotate_max_entries, 10, 10000,
	       "RFC 5257 section 4.1 requires at least 10"),
	/* RFC 9208 §5.3 MAILBOX default (docs/configuration.md "Quota") */
	NUMBER(quota_mailboxes, 0, INT64_MAX, NULL),
	/* client sockets' kernel send buffer (docs/configuration.md) */
	SIZE(socket_sndbuf, 0, 64ull * 1024 * 1024, NULL),
};
#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))

static void config_err(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void config_err(char *err, size_t err_size, const char *fmt, ...)
{
	if (err == NULL || err_size == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

/* A value or key quoted into an error message: printable ASCII only and
 * short, so that a binary file cannot fill the terminal. */
static const char *config_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; s[i] != '\0' && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= 60) {
			buf[o++] = '.';
			buf[o++] = '.';
			buf[o++] = '.';
			break;
		}
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o] = '\0';
	return buf;
}


static bool config_has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/* ---- value parsers ---- */

int config_parse_size(const char *value, uint64_t *bytes_r)
{
	const char *p = value;
	uint64_t n = 0;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = (unsigned int)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	unsigned int shift = 0;
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		p++;
		break;
	case 'm': case 'M':
		shift = 20;
		p++;
		break;
	case 'g': case 'G':
		shift = 30;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (shift != 0 && n > (UINT64_MAX >> shift))
		return -1;
	*bytes_r = n << shift;
	return 0;
}

/* A plain decimal number without sign or suffix. */
static int config_parse_number(const char *value, uint64_t *n_r)
{
	uint64_t n = 0;
	const char *p = value;
	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		unsigned int d = (unsigned int)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*n_r = n;
	return 0;
}

int config_parse_bool(const char *value, bool *bool_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*bool_r = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*bool_r = false;
			return 0;
		}
	}
	return -1;
}

static bool config_hostname_valid(const char *host)
{
	/* A DNS name or an IPv4 address: letters, digits, '-', '.', and '_'
	 * (seen in container host names); the network layer resolves it.
	 * IPv6 literals need brackets and are checked apart. */
	if (*host == '\0' || strlen(host) > 253)
		return false;
	for (const char *p = host; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' &&
		    *p != '_')
			return false;
	}
	return true;
}

int config_parse_listen(const char *value, char *host, size_t host_size,
			int *port_r)
{
	const char *host_start, *host_end, *port;
	if (value[0] == '[') {
		/* "[v6]:port" (the form RFC 3986 uses for IPv6 literals) */
		host_start = value + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL || host_end[1] != ':')
			return -1;
		port = host_end + 2;
	} else {
		host_start = value;
		host_end = strrchr(value, ':');
		if (host_end == NULL)
			return -1;
		port = host_end + 1;
	}
	size_t host_len = (size_t)(host_end - host_start);
	if (host_len == 0 || host_len >= host_size)
		return -1;

	char tmp[256];
	if (host_len >= sizeof(tmp))
		return -1;
	memcpy(tmp, host_start, host_len);
	tmp[host_len] = '\0';
	if (value[0] == '[') {
		struct in6_addr addr6;
		if (inet_pton(AF_INET6, tmp, &addr6) != 1)
			return -1;
	} else if (!config_hostname_valid(tmp)) {
		return -1;
	}

	uint64_t n;
	if (strlen(port) > 5 || config_parse_number(port, &n) < 0 ||
	    n < 1 || n > 65535)
		return -1;

	memcpy(host, tmp, host_len + 1);
	*port_r = (int)n;
	return 0;
}

/* ---- per-key checks ---- */

static int config_check_any(const char *value, char *err, size_t err_size)
{
	return 0;
}

/* lmtp_domains: blank- or comma-separated domain names; "" = any. */
static int config_check_domains(const char *value, char *err,
				size_t err_size)
{
	const char *p = value;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		if (p == w)
			continue;
		char name[256];
		if ((size_t)(p - w) >= sizeof(name)) {
			config_err(err, err_size, "domain name too long");
			return -1;
		}
		memcpy(name, w, (size_t)(p - w));
		name[p - w] = '\0';
		if (!config_hostname_valid(name)) {
			config_err(err, err_size,
				   "not a domain name: letters, digits, '-', "
				   "'_' and '.' separated by blanks");
			return -1;
		}
	}
	return 0;
}

/* expire: "TARGET:AGE ..." (docs/configuration.md, "Expiry"). */
int config_parse_expire(const char *value, struct config_expire_rule **rules_r,
			size_t *count_r, char *err, size_t err_size)
{
	struct config_expire_rule *rules = NULL;
	size_t count = 0;
	const char *p = value;
	*rules_r = NULL;
	*count_r = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		size_t len = (size_t)(p - w);
		if (len == 0)
			continue;
		/* the last ':' splits, so that a name may hold one */
		const char *colon = NULL;
		for (const char *q = w; q < p; q++) {
			if (*q == ':')
				colon = q;
		}
		if (colon == NULL || colon == w || colon + 1 == p) {
			config_err(err, err_size,
				   "expected TARGET:AGE, e.g. \\Trash:30d");
			goto fail;
		}
		size_t tlen = (size_t)(colon - w);
		if (tlen >= sizeof(rules[0].target)) {
			config_err(err, err_size, "mailbox name too long");
			goto fail;
		}
		/* AGE: digits, then one of d h m s */
		const char *d = colon + 1;
		int64_t n = 0;
		for (; d < p - 1; d++) {
			if (!isdigit((unsigned char)*d) ||
			    n > CONFIG_MAX_EXPIRE_AGE)
				break;
			n = n * 10 + (*d - '0');
		}
		int64_t unit = 0;
		if (d == p - 1 && d > colon + 1) {
			switch (*d) {
			case 'd': unit = 24 * 3600; break;
			case 'h': unit = 3600; break;
			case 'm': unit = 60; break;
			case 's': unit = 1; break;
			default: break;
			}
		}
		if (unit == 0) {
			config_err(err, err_size,
				   "age must be a number with a d, h, m or s "
				   "suffix, e.g. 30d");
			goto fail;
		}
		if (n == 0 || n > CONFIG_MAX_EXPIRE_AGE / unit) {
			config_err(err, err_size,
				   "age must be from 1s to 100 years");
			goto fail;
		}
		if (count >= CONFIG_MAX_EXPIRE_RULES) {
			config_err(err, err_size, "more than %d rules",
				   CONFIG_MAX_EXPIRE_RULES);
			goto fail;
		}
		rules = xrealloc(rules, (count + 1) * sizeof(*rules));
		struct config_expire_rule *r = &rules[count++];
		memcpy(r->target, w, tlen);
		r->target[tlen] = '\0';
		r->special_use = w[0] == '\\';
		r->age = n * unit;
		if (r->special_use && tlen < 2) {
			config_err(err, err_size,
				   "expected a SPECIAL-USE attribute such as "
				   "\\Trash");
			goto fail;
		}
	}
	*rules_r = rules;
	*count_r = count;
	return 0;
fail:
	free(rules);
	return -1;
}

static int config_check_expire(const char *value, char *err, size_t err_size)
{
	struct config_expire_rule *rules;
	size_t count;
	if (config_parse_expire(value, &rules, &count, err, err_size) < 0)
		return -1;
	free(rules);
	return 0;
}

static int config_check_nonempty(const char *value, char *err, size_t err_size)
{
	if (*value == '\0') {
		config_err(err, err_size, "must not be empty");
		return -1;
	}
	return 0;
}

static int config_check_log_level(const char *value, char *err, size_t err_size)
{
	enum log_level level;
	if (log_level_parse(value, &level) < 0) {
		config_err(err, err_size, "expected error, warn, info or debug");
		return -1;
	}
	return 0;
}

static int config_check_server_name(const char *value, char *err,
				    size_t err_size)
{
	/* It goes into the greeting and into RFC 5092 URLs in events, so it
	 * must be a plain host name. */
	if (!config_hostname_valid(value)) {
		config_err(err, err_size,
			   "expected a host name (letters, digits, '-', '_' and '.')");
		return -1;
	}
	return 0;
}

static int config_check_user_name(const char *value, char *err,
				  size_t err_size)
{
	if (strlen(value) > CONFIG_MAX_NAME || config_has_control(value) ||
	    strchr(value, ' ') != NULL ||
	    !utf8_valid(value, strlen(value))) {
		config_err(err, err_size,
			   "expected a user name without spaces or control characters");
		return -1;
	}
	return 0;
}

/* admins: user names separated by spaces (docs/metadata.md, "Admins"). */
static int config_check_admins(const char *value, char *err, size_t err_size)
{
	if (strlen(value) > 64 * (CONFIG_MAX_NAME + 1) ||
	    config_has_control(value) || !utf8_valid(value, strlen(value))) {
		config_err(err, err_size,
			   "expected user names separated by spaces");
		return -1;
	}
	return 0;
}

bool config_is_admin(const struct config *cfg, const char *user)
{
	const char *p = cfg->admins;
	size_t len = strlen(user);
	if (p == NULL || len == 0)
		return false;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - w) == len && memcmp(w, user, len) == 0)
			return true;
	}
	return false;
}

/* RFC 6154 §2 attributes, plus \Important from RFC 8457. */
static const char *const config_special_uses[] = {
	"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
	"\\Trash", "\\Important",
};

static int config_mailbox_name_check(const char *name, char *err,
				     size_t err_size)
{
	char q[80];
	size_t len = strlen(name);
	if (len == 0) {
		config_err(err, err_size, "empty mailbox name");
		return -1;
	}
	if (len > CONFIG_MAX_MAILBOX_NAME || !utf8_valid(name, len) ||
	    config_has_control(name) || strpbrk(name, "*%\"\\") != NULL ||
	    name[0] == '/' || name[len - 1] == '/' ||
	    strstr(name, "//") != NULL) {
		config_err(err, err_size, "invalid mailbox name '%s'",
			   config_quote(name, q, sizeof(q)));
		return -1;
	}
	/* INBOX always exists (RFC 3501 §5.1) and is not a default mailbox. */
	if (strcasecmp(name, "INBOX") == 0) {
		config_err(err, err_size,
			   "INBOX is always created and cannot be listed");
		return -1;
	}
	return 0;
}

/* "Drafts:\Drafts Sent:\Sent Notes" -> pairs; "" -> none. */
static int config_parse_mailboxes(struct config *cfg, const char *value,
				  char *err, size_t err_size)
{
	char *list[CONFIG_MAX_DEFAULT_MAILBOXES][2];
	size_t count = 0;
	const char *p = value;
	char q[80];
	int ret = -1;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		size_t tlen = strcspn(p, " \t");
		char *tok = xstrndup(p, tlen);
		p += tlen;

		if (count == CONFIG_MAX_DEFAULT_MAILBOXES) {
			config_err(err, err_size,
				   "too many default mailboxes (at most %d)",
				   CONFIG_MAX_DEFAULT_MAILBOXES);
			free(tok);
			goto out;
		}
		const char *special = "";
		char *sep = strstr(tok, ":\\");
		if (sep != NULL) {
			*sep = '\0';
			const char *want = sep + 1;
			special = NULL;
			for (size_t i = 0; i < sizeof(config_special_uses) /
				     sizeof(config_special_uses[0]); i++) {
				if (strcasecmp(want, config_special_uses[i]) == 0)
					special = config_special_uses[i];
			}
			if (special == NULL) {
				config_err(err, err_size,
					   "unknown special-use attribute '%s' "
					   "(RFC 6154: \\All \\Archive \\Drafts "
					   "\\Flagged \\Junk \\Sent \\Trash; "
					   "RFC 8457: \\Important)",
					   config_quote(want, q, sizeof(q)));
				free(tok);
				goto out;
			}
		}
		if (config_mailbox_name_check(tok, err, err_size) < 0) {
			free(tok);
			goto out;
		}
		for (size_t i = 0; i < count; i++) {
			if (strcmp(list[i][0], tok) == 0) {
				config_err(err, err_size,
					   "mailbox '%s' listed twice",
					   config_quote(tok, q, sizeof(q)));
				free(tok);
				goto out;
			}
		}
		list[count][0] = tok;
		list[count][1] = xstrdup(special);
		count++;
	}

	for (size_t i = 0; i < cfg->default_mailbox_count; i++) {
		free(cfg->default_mailboxes[i][0]);
		free(cfg->default_mailboxes[i][1]);
		cfg->default_mailboxes[i][0] = NULL;
		cfg->default_mailboxes[i][1] = NULL;
	}
	for (size_t i = 0; i < count; i++) {
		cfg->default_mailboxes[i][0] = list[i][0];
		cfg->default_mailboxes[i][1] = list[i][1];
	}
	cfg->default_mailbox_count = count;
	return 0;
out:
	for (size_t i = 0; i < count; i++) {
		free(list[i][0]);
		free(list[i][1]);
	}
	return ret;
}

/* ---- setting keys ---- */

static const struct config_key *config_key_find(const char *key)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (strcmp(config_keys[i].name, key) == 0)
			return &config_keys[i];
	}
	return NULL;
}

static void config_store_number(struct config *cfg, const struct config_key *k,
				uint64_t n)
{
	void *field = (char *)cfg + k->offset;
	if (k->width == sizeof(uint64_t)) {
		uint64_t v = n;
		memcpy(field, &v, sizeof(v));
	} else {
		unsigned int v = (unsigned int)n;
		_Static_assert(sizeof(unsigned int) == 4, "unsigned int is 32 bits");
		memcpy(field, &v, sizeof(v));
	}
}

static int config_set_key(struct config *cfg, const struct config_key *k,
			  const char *value, char *err, size_t err_size)
{
	char q[80];
	char why[200];
	char **str = (char **)((char *)cfg + k->offset);
	uint64_t n;
	bool b;

	switch (k->kind) {
	case CONFIG_KIND_STRING:
		if (config_has_control(value)) {
			config_err(err, err_size,
				   "invalid value for %s: control characters",
				   k->name);
			return -1;
		}
		why[0] = '\0';
		if (k->check(value, why, sizeof(why)) < 0) {
			config_err(err, err_size, "invalid value '%s' for %s: %s",
				   config_quote(value, q, sizeof(q)), k->name,
				   why);
			return -1;
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	case CONFIG_KIND_LISTEN:
		/* lmtp_listen may also be a Unix socket path */
		if (*value == '/' && strcmp(k->name, "lmtp_listen") == 0) {
			free(*str);
			*str = xstrdup(value);
			return 0;
		}
		if (*value != '\0') {
			char host[256];
			int port;
			if (config_parse_listen(value, host, sizeof(host),
						&port) < 0) {
				config_err(err, err_size,
					   "invalid value '%s' for %s: expected "
					   "host:port or [ipv6]:port with a port "
					   "from 1 to 65535, or nothing to disable",
					   config_quote(value, q, sizeof(q)),
					   k->name);
				return -1;
			}
		}
		free(*str);
		*str = xstrdup(value);
		return 0;
	case CONFIG_KIND_BOOL:
		if (config_parse_bool(value, &b) < 0) {
			config_err(err, err_size,
				   "invalid value '%s' for %s: expected yes or no",
				   config_quote(value, q, sizeof(q)), k->name);
			return -1;
		}
		*(bool *)((char *)cfg + k->offset) = b;
		return 0;
	case CONFIG_KIND_SIZE:
	case CONFIG_KIND_NUMBER:
		if (k->kind == CONFIG_KIND_SIZE ?
		    config_parse_size(value, &n) < 0 :
		    config_parse_number(value, &n) < 0) {
			config_err(err, err_size,
				   "invalid value '%s' for %s: expected %s",
				   config_quote(value, q, sizeof(q)), k->name,
				   k->kind == CONFIG_KIND_SIZE ?
				   "a size such as 4096, 64K, 16M or 1G" :
				   "a number");
			return -1;
		}
		if (n < k->min || n > k->max) {
			if (k->min_reason != NULL && n < k->min) {
				config_err(err, err_size,
					   "invalid value '%s' for %s: at least "
					   "%" PRIu64 " (%s)",
					   config_quote(value, q, sizeof(q)),
					   k->name, k->min, k->min_reason);
			} else {
				config_err(err, err_size,
					   "invalid value '%s' for %s: must be "
					   "from %" PRIu64 " to %" PRIu64,
					   config_quote(value, q, sizeof(q)),
					   k->name, k->min, k->max);
			}
			return -1;
		}
		config_store_number(cfg, k, n);
		return 0;
	case CONFIG_KIND_MAILBOXES:
		if (config_parse_mailboxes(cfg, value, why, sizeof(why)) < 0) {
			config_err(err, err_size,
				   "invalid value for default_mailboxes: %s", why);
			return -1;
		}
		return 0;
	}
	return -1;
}

int config_set(struct config *cfg, const char *key, const char *value,
	       char *err, size_t err_size)
{
	char q[80];
	const struct config_key *k = config_key_find(key);
	if (k == NULL) {
		config_err(err, err_size, "unknown key '%s'",
			   config_quote(key, q, sizeof(q)));
		return -1;
	}
	return config_set_key(cfg, k, value, err, err_size);
}

/* ---- defaults and cleanup ---- */

void config_init_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = xstrdup("./var");
	cfg->imap_listen = xstrdup("127.0.0.1:1143");
	cfg->imaps_listen = xstrdup("127.0.0.1:1993");
	cfg->lmtp_listen = xstrdup("");
	cfg->tls_cert = xstrdup("");
	cfg->tls_key = xstrdup("");
	cfg->log_level = xstrdup("info");

	char host[256];
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0' ||
	    !config_hostname_valid(host))
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->server_name = xstrdup(host);

	cfg->allow_plaintext_auth = false;
	cfg->plaintext_auth_loopback = true;

	cfg->max_line_length = 65536;
	cfg->max_literal_size = 64ull * 1024 * 1024;
	cfg->max_message_size = 64ull * 1024 * 1024;
	cfg->max_connections = 10000;
	cfg->max_connections_per_ip = 100;
	cfg->max_bad_commands = 20;
	cfg->auth_fail_delay_ms = 1000;
	cfg->max_auth_failures = 5;
	cfg->idle_timeout = 1800;
	cfg->login_timeout = 60;
	cfg->output_buffer_max = 16u * 1024 * 1024;

	if (config_parse_mailboxes(cfg, CONFIG_DEFAULT_MAILBOXES, NULL, 0) < 0)
		abort(); /* the built-in list is valid */

	cfg->demo_user = xstrdup("");
	cfg->lmtp_domains = xstrdup("");
	cfg->lmtp_timeout = 300;
	cfg->lmtp_max_recipients = 100;
	cfg->pop3_listen = xstrdup("");
	cfg->pop3s_listen = xstrdup("");
	cfg->quota_storage = 0;
	cfg->quota_messages = 0;
	cfg->quota_mailboxes = 0;
	cfg->expire = xstrdup("");
	cfg->expire_interval = 3600;
	cfg->outbox_keep = 7 * 24 * 3600;
	cfg->outbox_prune_interval = 60;
	cfg->admins = xstrdup("");
	cfg->metadata_max_size = 64 * 1024;
	cfg->metadata_max_entries = 1000;
	cfg->notify_max_mailboxes = 1000;
	cfg->annotate_max_size = 64 * 1024;
	cfg->annotate_max_entries = 100;
	cfg->path = NULL;
	cfg->sinks = NULL;
	cfg->sink_count = 0;
}

static void config_sinks_free(struct config_sink *sinks, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < sinks[i].option_count; j++) {
			free(sinks[i].options[j].key);
			free(sinks[i].options[j].value);
		}
		free(sinks[i].options);
		free(sinks[i].name);
	}
	free(sinks);
}

void config_free(struct config *cfg)
{
	free(cfg->data_dir);
	free(cfg->imap_listen);
	free(cfg->imaps_listen);
	free(cfg->lmtp_listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->log_level);
	free(cfg->server_name);
	for (size_t i = 0; i < cfg->default_mailbox_count; i++) {
		free(cfg->default_mailboxes[i][0]);
		free(cfg->default_mailboxes[i][1]);
	}
	free(cfg->demo_user);
	free(cfg->pop3_listen);
	free(cfg->pop3s_listen);
	free(cfg->lmtp_domains);
	free(cfg->expire);
	free(cfg->admins);
	free(cfg->path);
	config_sinks_free(cfg->sinks, cfg->sink_count);
	memset(cfg, 0, sizeof(*cfg));
}

static char *config_data_path(const struct config *cfg, const char *set,
			      const char *file)
{
	if (set != NULL && *set != '\0')
		return xstrdup(set);
	struct strbuf sb = STRBUF_INIT;
	strbuf_printf(&sb, "%s/tls/%s", cfg->data_dir, file);
	return strbuf_detach(&sb, NULL);
}

char *config_tls_cert_path(const struct config *cfg)
{
	return config_data_path(cfg, cfg->tls_cert, "cert.pem");
}

char *config_tls_key_path(const struct config *cfg)
{
	return config_data_path(cfg, cfg->tls_key, "key.pem");
}

const char *config_sink_get(const struct config_sink *sink, const char *key)
{
	for (size_t i = 0; i < sink->option_count; i++) {
		if (strcmp(sink->options[i].key, key) == 0)
			return sink->options[i].value;
	}
	return NULL;
}

/* ---- the file ---- */

static bool config_is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool config_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Trailing part of a line after a value: only blanks or a comment. */
static bool config_rest_empty(const char *p)
{
	while (config_is_space(*p))
		p++;
	return *p == '\0' || *p == '#';
}

/* Parses the value part of a line (after '=') in place into *value_r.
 * Unquoted: trimmed, ends at a '#' that follows a blank.  Quoted: "..."
 * with \" and \\ as escapes (other backslashes stay as they are, so
 * "Sent:\Sent" needs no doubling); nothing but a comment may follow. */
static int config_parse_value(char *p, char **value_r, char *err,
			      size_t err_size)
{
	while (config_is_space(*p))
		p++;
	if (*p == '"') {
		char *in = p + 1, *out = p;
		char *start = out;
		for (;;) {
			if (*in == '\0') {
				config_err(err, err_size, "unterminated quoted value");
				return -1;
			}
			if (*in == '"')
				break;
			if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
				in++;
			*out++ = *in++;
		}
		char *rest = in + 1;
		*out = '\0';
		if (!config_rest_empty(rest)) {
			config_err(err, err_size,
				   "unexpected text after the closing quote");
			return -1;
		}
		*value_r = start;
		return 0;
	}
	char *start = p;
	char *end = p;
	for (; *p != '\0'; p++) {
		if (*p == '#' && p > start && config_is_space(p[-1]))
			break;
		if (*p == '#' && p == start)
			break; /* "key = # comment": empty value */
		if (!config_is_space(*p))
			end = p + 1;
	}
	*end = '\0';
	*value_r = start;
	return 0;
}

static bool config_sink_name_valid(const char *name)
{
	if (*name == '\0' || strlen(name) > 64)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		if (!config_key_char(*p))
			return false;
	}
	return true;
}

struct config_parse {
	struct config *cfg;
	const char *path;
	unsigned int line;
	bool seen[CONFIG_KEY_COUNT];
	struct config_sink *sink; /* current section, or NULL for the top */
	char *err;
	size_t err_size;
};

static int config_line_error(struct config_parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int config_line_error(struct config_parse *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_err(ps->err, ps->err_size, "%s:%u: %s", ps->path, ps->line, msg);
	return -1;
}

static int config_parse_section(struct config_parse *ps, char *p)
{
	char q[80];
	struct config *cfg = ps->cfg;
	char *close = strchr(p, ']');
	if (close == NULL)
		return config_line_error(ps, "missing ']' in section header");
	if (!config_rest_empty(close + 1))
		return config_line_error(ps, "unexpected text after ']'");
	*close = '\0';
	p++; /* '[' */
	while (config_is_space(*p))
		p++;
	char *type = p;
	while (*p != '\0' && !config_is_space(*p))
		p++;
	char *type_end = p;
	while (config_is_space(*p))
		p++;
	char *name = p;
	char *name_end = name + strlen(name);
	while (name_end > name && config_is_space(name_end[-1]))
		name_end--;
	*type_end = '\0';
	*name_end = '\0';

	if (strcmp(type, "sink") != 0)
		return config_line_error(ps, "unknown section [%s]",
					 config_quote(type, q, sizeof(q)));
	if (!config_sink_name_valid(name))
		return config_line_error(ps,
			"invalid sink name '%s': expected letters, digits, "
			"'_', '-' or '.'", config_quote(name, q, sizeof(q)));
	for (size_t i = 0; i < cfg->sink_count; i++) {
		if (strcmp(cfg->sinks[i].name, name) == 0)
			return config_line_error(ps,
				"duplicate section [sink %s] (first at line %u)",
				name, cfg->sinks[i].line);
	}
	if (cfg->sink_count == CONFIG_MAX_SINKS)
		return config_line_error(ps, "too many sinks (at most %d)",
					 CONFIG_MAX_SINKS);
	cfg->sinks = xrealloc(cfg->sinks,
			      (cfg->sink_count + 1) * sizeof(*cfg->sinks));
	struct config_sink *sink = &cfg->sinks[cfg->sink_count++];
	memset(sink, 0, sizeof(*sink));
	sink->name = xstrdup(name);
	sink->line = ps->line;
	ps->sink = sink;
	return 0;
}

static int config_parse_line(struct config_parse *ps, char *line)
{
	char q[80];
	char *p = line;
	while (config_is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	if (*p == '[')
		return config_parse_section(ps, p);

	char *key = p;
	while (config_key_char(*p))
		p++;
	char *key_end = p;
	while (config_is_space(*p))
		p++;
	if (*p != '=') {
		char *eq = strchr(p, '=');
		if (eq != NULL) {
			while (eq > key && config_is_space(eq[-1]))
				eq--;
			*eq = '\0';
			return config_line_error(ps, "invalid key '%s'",
						 config_quote(key, q, sizeof(q)));
		}
		/* "data_dir /srv": name the key; anything else is not a
		 * `key = value` line at all. */
		if (key_end == key || (*key_end != '\0' &&
				       !config_is_space(*key_end)))
			return config_line_error(ps, "expected 'key = value'");
		*key_end = '\0';
		return config_line_error(ps, "missing '=' after '%s'",
					 config_quote(key, q, sizeof(q)));
	}
	if (key_end == key)
		return config_line_error(ps, "missing key before '='");
	*key_end = '\0';

	char *value;
	char msg[400];
	if (config_parse_value(p + 1, &value, msg, sizeof(msg)) < 0)
		return config_line_error(ps, "%s", msg);

	if (ps->sink != NULL) {
		struct config_sink *sink = ps->sink;
		for (size_t i = 0; i < sink->option_count; i++) {
			if (strcmp(sink->options[i].key, key) == 0)
				return config_line_error(ps,
					"duplicate key '%s' in [sink %s] "
					"(first at line %u)",
					key, sink->name, sink->options[i].line);
		}
		if (sink->option_count == CONFIG_MAX_SINK_OPTIONS)
			return config_line_error(ps,
				"too many keys in [sink %s] (at most %d)",
				sink->name, CONFIG_MAX_SINK_OPTIONS);
		if (config_has_control(value))
			return config_line_error(ps,
				"invalid value for %s: control characters", key);
		sink->options = xrealloc(sink->options,
					 (sink->option_count + 1) *
					 sizeof(*sink->options));
		struct config_option *opt = &sink->options[sink->option_count++];
		opt->key = xstrdup(key);
		opt->value = xstrdup(value);
		opt->line = ps->line;
		return 0;
	}

	const struct config_key *k = config_key_find(key);
	if (k == NULL)
		return config_line_error(ps, "unknown key '%s'",
					 config_quote(key, q, sizeof(q)));
	size_t idx = (size_t)(k - config_keys);
	if (ps->seen[idx])
		return config_line_error(ps, "duplicate key '%s'", key);
	ps->seen[idx] = true;
	if (config_set_key(ps->cfg, k, value, msg, sizeof(msg)) < 0)
		return config_line_error(ps, "%s", msg);
	return 0;
}

/* Reads the whole file (it is small; the cap keeps it so). */
static int config_read_file(const char *path, char **data_r, size_t *len_r,
			    char *err, size_t err_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		config_err(err, err_size, "%s: cannot open: %s", path,
			   strerror(errno));
		return -1;
	}
	struct stat st;
	/* Not only regular files: -c /dev/null is an empty configuration. */
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		config_err(err, err_size, "%s: is a directory", path);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)CONFIG_MAX_FILE_SIZE + 1;
	char *data = xmalloc(cap + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			config_err(err, err_size, "%s: cannot read: %s", path,
				   strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			config_err(err, err_size,
				   "%s: file too large (over %d bytes)", path,
				   CONFIG_MAX_FILE_SIZE);
			goto fail;
		}
	}
	close(fd);
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
fail:
	close(fd);
	free(data);
	return -1;
}

int config_load(struct config *cfg, const char *path, char *err,
		size_t err_size)
{
	char *data;
	size_t len;
	if (config_read_file(path, &data, &len, err, err_size) < 0)
		return -1;

	struct config_parse *ps = xcalloc(1, sizeof(*ps));
	ps->cfg = cfg;
	ps->path = path;
	ps->err = err;
	ps->err_size = err_size;

	int ret = 0;
	size_t pos = 0;
	while (pos < len) {
		ps->line++;
		char *line = data + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += line_len + (nl != NULL ? 1 : 0);
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;
		if (memchr(line, '\0', line_len) != NULL) {
			ret = config_line_error(ps, "NUL byte in line");
			break;
		}
		if (line_len > CONFIG_MAX_LINE_LENGTH) {
			ret = config_line_error(ps, "line too long (over %d bytes)",
						CONFIG_MAX_LINE_LENGTH);
			break;
		}
		line[line_len] = '\0';
		if (ps->line == 1 && line_len >= 3 &&
		    memcmp(line, "\xef\xbb\xbf", 3) == 0)
			line += 3; /* a UTF-8 byte order mark from some editor */
		if (config_parse_line(ps, line) < 0) {
			ret = -1;
			break;
		}
	}
	free(ps);
	free(data);
	if (ret == 0) {
		free(cfg->path);
		cfg->path = xstrdup(path);
	}
	return ret;
}
