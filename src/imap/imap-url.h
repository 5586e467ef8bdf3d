/* IMAP URLs (RFC 5092) with the URLAUTH extensions of RFC 4467: parsing,
 * percent-encoding, and the INTERNAL mechanism's authorization token.
 * Knows nothing of sessions or storage, so it can be fuzzed alone.
 *
 * The parser accepts the forms Tidings needs:
 *   imap://[enc-user[;AUTH=x]@]host[:port]/
 *   imap://[...@]host/enc-mailbox[;UIDVALIDITY=n][?enc-search]
 *   imap://[...@]host/enc-mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s]
 *       [/;PARTIAL=a[.b]][;EXPIRE=date-time][;URLAUTH=access[:mech:token]]
 * Keywords (";UID=", ";urlauth=" ...) are case-insensitive. */
#ifndef TIDINGS_IMAP_URL_H
#define TIDINGS_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

/* Longest URL accepted (bytes). */
#define IMAP_URL_MAX 4096
/* Key of the INTERNAL mechanism: random, per user and mailbox. */
#define IMAP_URLAUTH_KEY_LEN 32

enum imap_url_access {
	IMAP_URL_ACCESS_NONE,       /* no ;URLAUTH= */
	IMAP_URL_ACCESS_ANONYMOUS,
	IMAP_URL_ACCESS_AUTHUSER,
	IMAP_URL_ACCESS_USER,       /* user+<access_user> */
	IMAP_URL_ACCESS_SUBMIT,     /* submit+<access_user> */
};

struct imap_url {
	char *user;             /* decoded enc-user, NULL when absent */
	char *auth_type;        /* ;AUTH= value as written, NULL */
	char *host;             /* as written */
	uint32_t port;          /* 0 when absent */
	char *mailbox;          /* decoded (UTF-8), NULL for a server URL */
	uint32_t uidvalidity;   /* 0 when absent */
	bool has_search;        /* "?..." (a message list) */
	uint32_t uid;           /* 0 when absent */
	char *section;          /* decoded, NULL when absent */
	bool has_partial;
	uint32_t partial_offset;
	uint32_t partial_length;  /* 0: to the end */
	bool has_expire;
	int64_t expire;         /* seconds since the epoch */
	enum imap_url_access access;
	char *access_user;      /* decoded, for USER and SUBMIT */
	char *mechanism;        /* NULL for a rump URL (RFC 4467 §5) */
	char *token;            /* hex, with mechanism */
	size_t rump_len;        /* bytes of the URL before ":mech:token" */
};

/* Parses url (len bytes, no NUL needed).  0, or -1 with *error_r a static
 * reason; u must be freed with imap_url_free() either way. */
int imap_url_parse(const char *url, size_t len, struct imap_url *u,
		   const char **error_r);
void imap_url_free(struct imap_url *u);

/* Percent-encodes s for a URL: achar (RFC 5092) for a user name, bchar
 * (which keeps '/', ':', '@') for a mailbox or section. */
void imap_url_append_encoded(struct strbuf *out, const char *s, bool bchar);

/* The INTERNAL mechanism's token over the rump URL (RFC 4467 §5):
 * "01" (the algorithm: HMAC-SHA256, so a later algorithm can be told
 * apart, §2.4.1) followed by the 64 hex digits of the HMAC.  Appends to
 * out. */
void imap_urlauth_token(const unsigned char *key, size_t key_len,
			const char *rump, size_t rump_len, struct strbuf *out);
/* Whether token (token_len hex digits, any case) is the token of rump
 * under key; compares in constant time. */
bool imap_urlauth_token_verify(const unsigned char *key, size_t key_len,
			       const char *rump, size_t rump_len,
			       const char *token, size_t token_len);

#endif
