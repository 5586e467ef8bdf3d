/* argon2id hashes (libargon2), SASL PLAIN (RFC 4616), strict base64
 * (RFC 4648) and random passwords. */
#include "auth/auth.h"
#include "lib/text.h"

#include "lib/log.h"
#include "lib/xalloc.h"

#include <argon2.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define AUTH_SALT_LEN 16
#define AUTH_HASH_LEN 32
/* A stored hash naming more than this is refused rather than run: a
 * damaged or planted row must not make one login allocate gigabytes. */
#define AUTH_VERIFY_MAX_M_KIB (1024u * 1024u)
#define AUTH_VERIFY_MAX_T 64u
#define AUTH_VERIFY_MAX_P 16u

static uint32_t auth_t_cost = 2;
static uint32_t auth_m_cost = 19456;
static uint32_t auth_parallelism = 1;

static pthread_mutex_t auth_dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char auth_dummy_hash[AUTH_HASH_MAX];

void auth_password_set_cost(uint32_t t_cost, uint32_t m_cost_kib,
			    uint32_t parallelism)
{
	auth_t_cost = t_cost;
	auth_m_cost = m_cost_kib;
	auth_parallelism = parallelism;
	pthread_mutex_lock(&auth_dummy_lock);
	auth_dummy_hash[0] = '\0'; /* made again with the new cost */
	pthread_mutex_unlock(&auth_dummy_lock);
}

static int auth_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("getrandom() failed: %s", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int auth_password_hash(const char *password, char *out, size_t out_size)
{
	size_t pwlen = strlen(password);
	if (pwlen > AUTH_PASSWORD_MAX)
		return -1;
	size_t need = argon2_encodedlen(auth_t_cost, auth_m_cost,
					auth_parallelism, AUTH_SALT_LEN,
					AUTH_HASH_LEN, Argon2_id);
	if (out_size < need)
		return -1;

	unsigned char salt[AUTH_SALT_LEN];
	if (auth_random_bytes(salt, sizeof(salt)) < 0)
		return -1;
	int rc = argon2id_hash_encoded(auth_t_cost, auth_m_cost,
				       auth_parallelism, password, pwlen, salt,
				       sizeof(salt), AUTH_HASH_LEN, out, out_size);
	if (rc != ARGON2_OK) {
		log_error("argon2id hashing failed: %s", argon2_error_message(rc));
		return -1;
	}
	return 0;
}

/* Reads "NAME=digits" at *p; advances past it. */
static int auth_param(const char **p, char name, uint64_t *value_r)
{
	const char *s = *p;
	if (s[0] != name || s[1] != '=')
		return -1;
	s += 2;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*value_r = v;
	*p = s;
	return 0;
}

/* Checks the cost of an encoded argon2id string before running it. */
static bool auth_encoded_cost_ok(const char *encoded)
{
	static const char prefix[] = "$argon2id$v=19$";
	if (strncmp(encoded, prefix, sizeof(prefix) - 1) != 0)
		return false;
	const char *p = encoded + sizeof(prefix) - 1;
	uint64_t m, t, par;
	if (auth_param(&p, 'm', &m) < 0 || *p++ != ',' ||
	    auth_param(&p, 't', &t) < 0 || *p++ != ',' ||
	    auth_param(&p, 'p', &par) < 0 || *p != '$')
		return false;
	return m <= AUTH_VERIFY_MAX_M_KIB && t >= 1 &&
	       t <= AUTH_VERIFY_MAX_T && par >= 1 && par <= AUTH_VERIFY_MAX_P;
}

bool auth_password_verify(const char *encoded, const char *password)
{
	if (encoded == NULL || password == NULL)
		return false;
	size_t pwlen = strlen(password);
	if (pwlen > AUTH_PASSWORD_MAX || strlen(encoded) >= AUTH_HASH_MAX ||
	    !auth_encoded_cost_ok(encoded))
		return false;
	return argon2id_verify(encoded, password, pwlen) == ARGON2_OK;
}

void auth_password_verify_dummy(const char *password)
{
	char hash[AUTH_HASH_MAX];
	pthread_mutex_lock(&auth_dummy_lock);
	if (auth_dummy_hash[0] == '\0') {
		char pw[AUTH_RANDOM_PASSWORD_LEN + 1];
		if (auth_random_password(pw, sizeof(pw)) < 0 ||
		    auth_password_hash(pw, auth_dummy_hash,
				       sizeof(auth_dummy_hash)) < 0)
			auth_dummy_hash[0] = '\0';
	}
	memcpy(hash, auth_dummy_hash, sizeof(hash));
	pthread_mutex_unlock(&auth_dummy_lock);
	if (hash[0] != '\0' && password != NULL)
		(void)auth_password_verify(hash, password);
}

/* ---- base64, RFC 4648 §4 ---- */

static const char auth_b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int auth_b64_value(unsigned char c)
{
	return base64_digit(c, '/');
}

char *auth_base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;
	size_t i = 0;
	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		out[o++] = auth_b64_alphabet[(v >> 18) & 63];
		out[o++] = auth_b64_alphabet[(v >> 12) & 63];
		out[o++] = auth_b64_alphabet[(v >> 6) & 63];
		out[o++] = auth_b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = auth_b64_alphabet[(v >> 18) & 63];
		out[o++] = auth_b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = auth_b64_alphabet[(v >> 18) & 63];
		out[o++] = auth_b64_alphabet[(v >> 12) & 63];
		out[o++] = auth_b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

int auth_base64_decode(const char *in, size_t len, unsigned char **out_r,
		       size_t *out_len_r)
{
	*out_r = NULL;
	*out_len_r = 0;
	if (len % 4 != 0)
		return -1;
	unsigned char *out = xmalloc(len / 4 * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;
		bool last = i + 4 == len;
		int pad = 0;
		if (last && q[3] == '=')
			pad = q[2] == '=' ? 2 : 1;
		int v[4];
		for (int k = 0; k < 4 - pad; k++) {
			v[k] = auth_b64_value(q[k]);
			if (v[k] < 0)
				goto fail;
		}
		/* RFC 4648 §3.5: the bits the padding leaves over must be
		 * zero in a canonical encoding; we accept no other. */
		if (pad == 2) {
			if (v[1] & 0x0f)
				goto fail;
			out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		} else if (pad == 1) {
			if (v[2] & 0x03)
				goto fail;
			out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
			out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
		} else {
			out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
			out[o++] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
			out[o++] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
		}
	}
	out[o] = '\0';
	*out_r = out;
	*out_len_r = o;
	return 0;
fail:
	free(out);
	return -1;
}

/* ---- UTF-8, RFC 3629 §4 ---- */

bool auth_utf8_valid(const char *s, size_t len)
{
	return memchr(s, '\0', len) == NULL && utf8_valid(s, len);
}

/* ---- SASL PLAIN, RFC 4616 §2 ---- */

int auth_sasl_plain_decode(const char *b64, size_t len, char **authzid,
			   char **authcid, char **password)
{
	*authzid = NULL;
	*authcid = NULL;
	*password = NULL;
	if (len > (AUTH_SASL_PLAIN_MAX + 2) / 3 * 4)
		return -1;

	unsigned char *msg;
	size_t msg_len;
	if (auth_base64_decode(b64, len, &msg, &msg_len) < 0)
		return -1;
	int ret = -1;
	if (msg_len > AUTH_SASL_PLAIN_MAX)
		goto out;

	/* message = [authzid] UTF8NUL authcid UTF8NUL passwd: exactly two
	 * NULs; RFC 4616 says NUL MUST NOT appear in any of the fields. */
	unsigned char *nul1 = memchr(msg, '\0', msg_len);
	if (nul1 == NULL)
		goto out;
	size_t rest1 = msg_len - (size_t)(nul1 + 1 - msg);
	unsigned char *nul2 = memchr(nul1 + 1, '\0', rest1);
	if (nul2 == NULL)
		goto out;
	size_t zid_len = (size_t)(nul1 - msg);
	size_t cid_len = (size_t)(nul2 - (nul1 + 1));
	size_t pw_len = msg_len - (size_t)(nul2 + 1 - msg);
	const char *zid = (const char *)msg;
	const char *cid = (const char *)nul1 + 1;
	const char *pw = (const char *)nul2 + 1;
	/* authcid and passwd are 1*SAFE; a NUL in the password would show
	 * up as a third separator, which auth_utf8_valid() refuses. */
	if (cid_len == 0 || pw_len == 0 || pw_len > AUTH_PASSWORD_MAX)
		goto out;
	if (!auth_utf8_valid(zid, zid_len) || !auth_utf8_valid(cid, cid_len) ||
	    !auth_utf8_valid(pw, pw_len))
		goto out;

	*authzid = xmemdupz(zid, zid_len);
	*authcid = xmemdupz(cid, cid_len);
	*password = xmemdupz(pw, pw_len);
	ret = 0;
out:
	explicit_bzero(msg, msg_len);
	free(msg);
	return ret;
}

/* ---- random passwords ---- */

/* No 0/O/o, 1/l/I: the password is read off a screen and typed. */
static const char auth_password_alphabet[] =
	"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

int auth_random_password(char *out, size_t size)
{
	const size_t n = sizeof(auth_password_alphabet) - 1;
	/* Bytes at or above the largest multiple of n are dropped so that
	 * every character is equally likely. */
	const unsigned int limit = 256 - 256 % n;
	if (size < AUTH_RANDOM_PASSWORD_LEN + 1)
		return -1;
	size_t o = 0;
	while (o < AUTH_RANDOM_PASSWORD_LEN) {
		unsigned char buf[64];
		if (auth_random_bytes(buf, sizeof(buf)) < 0) {
			explicit_bzero(out, size);
			out[0] = '\0';
			return -1;
		}
		for (size_t i = 0; i < sizeof(buf) &&
			     o < AUTH_RANDOM_PASSWORD_LEN; i++) {
			if (buf[i] < limit)
				out[o++] = auth_password_alphabet[buf[i] % n];
		}
		explicit_bzero(buf, sizeof(buf));
	}
	out[o] = '\0';
	return 0;
}

void auth_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
