/* Passwords and SASL: argon2id password hashes, the RFC 4616 PLAIN message,
 * strict base64 (RFC 4648 §4) and random passwords.
 *
 * Every function that can fail returns 0 (or true) on success and -1 (or
 * false) on failure; none of them logs a password. */
#ifndef TIDINGS_AUTH_H
#define TIDINGS_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest password accepted for hashing or verifying (bytes). */
#define AUTH_PASSWORD_MAX 1024
/* Room for an encoded hash with the default parameters (fits
 * store_user.password_hash[256]). */
#define AUTH_HASH_MAX 256
/* RFC 4616 servers must take 255 octets per field; we take a whole decoded
 * message of up to this many bytes. */
#define AUTH_SASL_PLAIN_MAX 8192
/* Characters auth_random_password() writes (plus a NUL). */
#define AUTH_RANDOM_PASSWORD_LEN 20

/* argon2id cost.  Defaults: t=2, m=19456 KiB, p=1 (the OWASP minimum for
 * argon2id).  Tests lower it to keep hashing fast; m must be >= 8*p. */
void auth_password_set_cost(uint32_t t_cost, uint32_t m_cost_kib,
			    uint32_t parallelism);

/* Hashes PASSWORD (a NUL-terminated string, at most AUTH_PASSWORD_MAX
 * bytes) with argon2id and a random 16-byte salt into OUT as the encoded
 * "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string.  0 or -1. */
int auth_password_hash(const char *password, char *out, size_t out_size);
/* True when PASSWORD matches ENCODED (an argon2id string as made above).
 * False for a mismatch and for a malformed or absurdly costly ENCODED. */
bool auth_password_verify(const char *encoded, const char *password);
/* Spends about the time of a verify and returns nothing: call it when the
 * user does not exist, so that timing does not tell which users exist. */
void auth_password_verify_dummy(const char *password);

/* Decodes an RFC 4616 PLAIN message given as base64 (B64, LEN bytes, no
 * line breaks): authzid NUL authcid NUL passwd, valid UTF-8, no other NUL,
 * authcid and passwd non-empty, at most AUTH_SASL_PLAIN_MAX decoded bytes.
 * On success the three strings are malloc'd and NUL-terminated; *authzid
 * is "" when the client sent none.  Free them with auth_secret_free() (the
 * password at least).  On failure returns -1 and sets all three to NULL. */
int auth_sasl_plain_decode(const char *b64, size_t len, char **authzid,
			   char **authcid, char **password);

/* Strict base64 (RFC 4648 §4): the standard alphabet, padding required,
 * no whitespace, unused bits zero.  *out_r is malloc'd with a NUL after
 * the *out_len_r bytes.  "" decodes to zero bytes.  0 or -1. */
int auth_base64_decode(const char *in, size_t len, unsigned char **out_r,
		       size_t *out_len_r);
/* Encodes LEN bytes; the result is malloc'd and NUL-terminated. */
char *auth_base64_encode(const void *data, size_t len);

/* Writes AUTH_RANDOM_PASSWORD_LEN characters from an alphabet without look-
 * alike characters (no 0/O, 1/l/I) and a NUL into OUT.  -1 when SIZE is too
 * small or the kernel gives no randomness. */
int auth_random_password(char *out, size_t size);

/* True when S (LEN bytes) is well-formed UTF-8 (RFC 3629) with no NUL. */
bool auth_utf8_valid(const char *s, size_t len);

/* Overwrites the NUL-terminated secret, then frees it.  NULL is fine. */
void auth_secret_free(char *secret);

#endif
