/* RFC 5092 IMAP URLs and the RFC 4467 URLAUTH additions. */
#include "imap/imap-url.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/xalloc.h"

static const char url_hex[] = "0123456789ABCDEF";

/* sub-delims-sh / "&" / "=" (RFC 5092 achar besides unreserved) */
#define URL_ACHAR_EXTRA "!$'()*+,&="
/* bchar = achar / ":" / "@" / "/" */
#define URL_BCHAR_EXTRA URL_ACHAR_EXTRA ":@/"

static bool url_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static bool url_char_ok(unsigned char c, bool bchar)
{
	if (c == '\0')
		return false;
	return url_unreserved(c) || c == '%' ||
	       strchr(bchar ? URL_BCHAR_EXTRA : URL_ACHAR_EXTRA, c) != NULL;
}

void imap_url_append_encoded(struct strbuf *out, const char *s, bool bchar)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p != '%' && url_char_ok(*p, bchar)) {
			strbuf_appendc(out, (char)*p);
		} else {
			strbuf_appendc(out, '%');
			strbuf_appendc(out, url_hex[*p >> 4]);
			strbuf_appendc(out, url_hex[*p & 15]);
		}
	}
}

static int url_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) that must consist of achar or bchar; NUL after
 * decoding is refused (no name in Tidings holds one).  NULL on error. */
static char *url_decode(const char *s, size_t len, bool bchar)
{
	if (len == 0)
		return NULL;
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!url_char_ok(c, bchar))
			goto fail;
		if (c != '%') {
			strbuf_appendc(&out, (char)c);
			continue;
		}
		int hi, lo;
		if (i + 2 >= len)
			goto fail;
		if ((hi = url_hex_value(s[i + 1])) < 0 ||
		    (lo = url_hex_value(s[i + 2])) < 0 || (hi | lo) == 0)
			goto fail;
		strbuf_appendc(&out, (char)(hi * 16 + lo));
		i += 2;
	}
	return strbuf_detach(&out, NULL);
fail:
	strbuf_free(&out);
	return NULL;
}

/* Case-insensitive "does p (up to end) start with kw". */
static bool url_keyword(const char *p, const char *end, const char *kw)
{
	size_t n = strlen(kw);
	return (size_t)(end - p) >= n && strncasecmp(p, kw, n) == 0;
}

/* nz-number (or number when zero_ok) up to 32 bits; advances *pp. */
static bool url_number(const char **pp, const char *end, bool zero_ok,
		       uint32_t *value_r)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (p >= end || !isdigit((unsigned char)*p))
		return false;
	if (*p == '0' && !zero_ok)
		return false;
	/* no leading zeros beyond a lone "0" */
	if (*p == '0' && p + 1 < end && isdigit((unsigned char)p[1]))
		return false;
	while (p < end && isdigit((unsigned char)*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
		p++;
	}
	*pp = p;
	*value_r = (uint32_t)v;
	return true;
}

static bool url_digits(const char **pp, const char *end, size_t n, int *v_r)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (*pp >= end || !isdigit((unsigned char)**pp))
			return false;
		v = v * 10 + (**pp - '0');
		(*pp)++;
	}
	*v_r = v;
	return true;
}

/* RFC 3339 date-time: full-date "T" full-time, time-offset Z or +hh:mm;
 * an optional fraction is allowed and ignored.  Advances *pp. */
static bool url_datetime(const char **pp, const char *end, int64_t *t_r)
{
	const char *p = *pp;
	int y, mo, d, h, mi, s, oh = 0, om = 0;
	if (!url_digits(&p, end, 4, &y) || p >= end || *p++ != '-' ||
	    !url_digits(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
	    !url_digits(&p, end, 2, &d) || p >= end ||
	    (*p != 'T' && *p != 't'))
		return false;
	p++;
	if (!url_digits(&p, end, 2, &h) || p >= end || *p++ != ':' ||
	    !url_digits(&p, end, 2, &mi) || p >= end || *p++ != ':' ||
	    !url_digits(&p, end, 2, &s))
		return false;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return false;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	if (p >= end)
		return false;
	int sign = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!url_digits(&p, end, 2, &oh) || p >= end || *p++ != ':' ||
		    !url_digits(&p, end, 2, &om) || oh > 23 || om > 59)
			return false;
	} else {
		return false;
	}
	/* RFC 3339 §5.6 ranges (leap second 60 allowed) */
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    s > 60)
		return false;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*t_r = (int64_t)timegm(&tm) - sign * (oh * 3600 + om * 60);
	*pp = p;
	return true;
}

void imap_url_free(struct imap_url *u)
{
	free(u->user);
	free(u->auth_type);
	free(u->host);
	free(u->mailbox);
	free(u->section);
	free(u->access_user);
	free(u->mechanism);
	free(u->token);
	memset(u, 0, sizeof(*u));
}

static char *url_dup(const char *s, size_t len)
{
	char *r = xmalloc(len + 1);
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

/* ";URLAUTH=" access [":" mechanism ":" token] up to end (RFC 4467 §9). */
static int url_parse_urlauth(const char *url, const char *p, const char *end,
			     struct imap_url *u, const char **error_r)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *aend = colon != NULL ? colon : end;
	if (url_keyword(p, aend, "submit+") || url_keyword(p, aend, "user+")) {
		bool submit = url_keyword(p, aend, "submit+");
		const char *name = p + (submit ? 7 : 5);
		u->access = submit ? IMAP_URL_ACCESS_SUBMIT : IMAP_URL_ACCESS_USER;
		u->access_user = url_decode(name, (size_t)(aend - name), false);
		if (u->access_user == NULL) {
			*error_r = "Invalid user name in the access identifier";
			return -1;
		}
	} else if ((size_t)(aend - p) == 8 &&
		   strncasecmp(p, "authuser", 8) == 0) {
		u->access = IMAP_URL_ACCESS_AUTHUSER;
	} else if ((size_t)(aend - p) == 9 &&
		   strncasecmp(p, "anonymous", 9) == 0) {
		u->access = IMAP_URL_ACCESS_ANONYMOUS;
	} else {
		*error_r = "Unknown URLAUTH access identifier";
		return -1;
	}
	u->rump_len = (size_t)(aend - url);
	if (colon == NULL)
		return 0;
	/* mechanism = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".") */
	const char *m = colon + 1;
	const char *mend = memchr(m, ':', (size_t)(end - m));
	if (mend == NULL || mend == m || mend - m > 64) {
		*error_r = "Invalid URLAUTH mechanism";
		return -1;
	}
	for (const char *q = m; q < mend; q++) {
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.') {
			*error_r = "Invalid URLAUTH mechanism";
			return -1;
		}
	}
	/* enc-urlauth = 32*HEXDIG */
	const char *t = mend + 1;
	if (end - t < 32 || end - t > 256) {
		*error_r = "Invalid URLAUTH token";
		return -1;
	}
	for (const char *q = t; q < end; q++) {
		if (!isxdigit((unsigned char)*q)) {
			*error_r = "Invalid URLAUTH token";
			return -1;
		}
	}
	u->mechanism = url_dup(m, (size_t)(mend - m));
	u->token = url_dup(t, (size_t)(end - t));
	return 0;
}

/* What follows "/;UID=n": [/;SECTION=s] [/;PARTIAL=a[.b]] [;EXPIRE=dt]
 * [;URLAUTH=...]. */
static int url_parse_message_tail(const char *url, const char *p,
				  const char *end, struct imap_url *u,
				  const char **error_r)
{
	if (url_keyword(p, end, "/;SECTION=")) {
		p += 10;
		const char *s = p;
		/* enc-section = 1*bchar; it ends where a ';' begins the
		 * next component ("/;PARTIAL", ";EXPIRE", ";URLAUTH") */
		while (p < end && *p != ';')
			p++;
		size_t n = (size_t)(p - s);
		if (n > 0 && p < end && s[n - 1] == '/')
			n--;
		u->section = url_decode(s, n, true);
		if (u->section == NULL || strlen(u->section) > 256) {
			*error_r = "Invalid SECTION";
			return -1;
		}
		if (p < end && s[n] == '/')
			p = s + n;
	}
	if (url_keyword(p, end, "/;PARTIAL=")) {
		p += 10;
		u->has_partial = true;
		if (!url_number(&p, end, true, &u->partial_offset)) {
			*error_r = "Invalid PARTIAL";
			return -1;
		}
		if (p < end && *p == '.') {
			p++;
			if (!url_number(&p, end, false, &u->partial_length)) {
				*error_r = "Invalid PARTIAL";
				return -1;
			}
		}
	}
	if (url_keyword(p, end, ";EXPIRE=")) {
		p += 8;
		u->has_expire = true;
		if (!url_datetime(&p, end, &u->expire)) {
			*error_r = "Invalid EXPIRE date-time";
			return -1;
		}
	}
	if (url_keyword(p, end, ";URLAUTH=")) {
		p += 9;
		return url_parse_urlauth(url, p, end, u, error_r);
	}
	if (u->has_expire) {
		/* RFC 4467 §9: expire belongs to iurlauth-rump */
		*error_r = "EXPIRE without URLAUTH";
		return -1;
	}
	if (p != end) {
		*error_r = "Unexpected text after the message part";
		return -1;
	}
	return 0;
}

static int url_parse_path(const char *url, const char *p, const char *end,
			  struct imap_url *u, const char **error_r)
{
	if (p == end)
		return 0;               /* the server itself */
	const char *m = p;
	while (p < end && *p != ';' && *p != '?')
		p++;
	size_t n = (size_t)(p - m);
	/* "INBOX/;UID=1": the '/' before ";UID" is not the mailbox's */
	if (n > 0 && m[n - 1] == '/' && p < end && *p == ';')
		n--;
	u->mailbox = url_decode(m, n, true);
	if (u->mailbox == NULL || n > 3 * 1000) {
		*error_r = "Invalid mailbox name in URL";
		return -1;
	}
	p = m + n;
	if (url_keyword(p, end, ";UIDVALIDITY=")) {
		p += 13;
		if (!url_number(&p, end, false, &u->uidvalidity)) {
			*error_r = "Invalid UIDVALIDITY";
			return -1;
		}
	}
	if (p == end)
		return 0;
	if (*p == '?') {
		/* enc-search: kept as a message list; URLFETCH answers NIL */
		for (const char *q = p + 1; q < end; q++) {
			if (!url_char_ok((unsigned char)*q, true) && *q != '?') {
				*error_r = "Invalid search in URL";
				return -1;
			}
		}
		u->has_search = true;
		return 0;
	}
	if (!url_keyword(p, end, "/;UID=")) {
		*error_r = "Unexpected text after the mailbox";
		return -1;
	}
	p += 6;
	if (!url_number(&p, end, false, &u->uid)) {
		*error_r = "Invalid UID";
		return -1;
	}
	return url_parse_message_tail(url, p, end, u, error_r);
}

int imap_url_parse(const char *url, size_t len, struct imap_url *u,
		   const char **error_r)
{
	memset(u, 0, sizeof(*u));
	if (len > IMAP_URL_MAX) {
		*error_r = "URL too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f) {
			*error_r = "URL contains invalid characters";
			return -1;
		}
	}
	const char *end = url + len;
	if (!url_keyword(url, end, "imap://")) {
		*error_r = "Not an imap:// URL";
		return -1;
	}
	const char *p = url + 7;
	const char *slash = memchr(p, '/', (size_t)(end - p));
	const char *aend = slash != NULL ? slash : end;
	const char *at = memchr(p, '@', (size_t)(aend - p));
	if (at != NULL) {
		/* iuserinfo = enc-user [iauth] / [enc-user] iauth */
		const char *semi = memchr(p, ';', (size_t)(at - p));
		const char *uend = semi != NULL ? semi : at;
		if (uend > p) {
			u->user = url_decode(p, (size_t)(uend - p), false);
			if (u->user == NULL || strlen(u->user) > 255) {
				*error_r = "Invalid user name in URL";
				return -1;
			}
		}
		if (semi != NULL) {
			if (!url_keyword(semi, at, ";AUTH=") || at - semi <= 6 ||
			    at - semi > 6 + 64) {
				*error_r = "Invalid ;AUTH= in URL";
				return -1;
			}
			u->auth_type = url_dup(semi + 6, (size_t)(at - semi - 6));
		} else if (u->user == NULL) {
			*error_r = "Empty user name in URL";
			return -1;
		}
		p = at + 1;
	}
	/* host [":" port]; an IP-literal keeps its brackets */
	const char *hend = aend;
	const char *colon = NULL;
	if (p < aend && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(aend - p));
		if (rb == NULL) {
			*error_r = "Invalid host in URL";
			return -1;
		}
		if (rb + 1 < aend) {
			if (rb[1] != ':') {
				*error_r = "Invalid host in URL";
				return -1;
			}
			colon = rb + 1;
		}
	} else {
		colon = memchr(p, ':', (size_t)(aend - p));
	}
	if (colon != NULL)
		hend = colon;
	if (hend == p || hend - p > 255) {
		*error_r = "Invalid host in URL";
		return -1;
	}
	for (const char *q = p; q < hend; q++) {
		unsigned char c = (unsigned char)*q;
		if (!url_unreserved(c) && c != '%' && c != '[' && c != ']' &&
		    c != ':' && strchr("!$'()*+,&=", c) == NULL) {
			*error_r = "Invalid host in URL";
			return -1;
		}
	}
	u->host = url_dup(p, (size_t)(hend - p));
	if (colon != NULL) {
		const char *q = colon + 1;
		if (!url_number(&q, aend, false, &u->port) || q != aend ||
		    u->port > 65535) {
			*error_r = "Invalid port in URL";
			return -1;
		}
	}
	if (slash == NULL)
		return 0;
	return url_parse_path(url, slash + 1, end, u, error_r);
}

static void url_hmac(const unsigned char *key, size_t key_len,
		     const char *rump, size_t rump_len,
		     unsigned char mac[32])
{
	unsigned int mac_len = 32;
	if (HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)rump,
		 rump_len, mac, &mac_len) == NULL)
		abort();
}

void imap_urlauth_token(const unsigned char *key, size_t key_len,
			const char *rump, size_t rump_len, struct strbuf *out)
{
	static const char lower_hex[] = "0123456789abcdef";
	unsigned char mac[32];
	url_hmac(key, key_len, rump, rump_len, mac);
	strbuf_appends(out, "01");
	for (size_t i = 0; i < sizeof(mac); i++) {
		strbuf_appendc(out, lower_hex[mac[i] >> 4]);
		strbuf_appendc(out, lower_hex[mac[i] & 15]);
	}
}

bool imap_urlauth_token_verify(const unsigned char *key, size_t key_len,
			       const char *rump, size_t rump_len,
			       const char *token, size_t token_len)
{
	/* The HMAC is computed whatever the token looks like, so a wrong
	 * length or version costs the same time as a wrong digest. */
	unsigned char mac[32], given[32];
	url_hmac(key, key_len, rump, rump_len, mac);
	memset(given, 0, sizeof(given));
	bool ok = token_len == 2 + 2 * sizeof(mac) && token[0] == '0' &&
		  token[1] == '1';
	for (size_t i = 0; ok && i < sizeof(given); i++) {
		int hi = url_hex_value(token[2 + 2 * i]);
		int lo = url_hex_value(token[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			ok = false;
		else
			given[i] = (unsigned char)(hi * 16 + lo);
	}
	bool same = CRYPTO_memcmp(mac, given, sizeof(mac)) == 0;
	return ok && same;
}
