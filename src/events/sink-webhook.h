/* The webhook sink's signature, for its unit test and for anyone who wants
 * to sign or check a body the way a receiver does (docs/events.md,
 * "Webhook sink"). */
#ifndef TIDINGS_SINK_WEBHOOK_H
#define TIDINGS_SINK_WEBHOOK_H

#include <stddef.h>

/* Hex digits of an HMAC-SHA256. */
#define SINK_WEBHOOK_SIGNATURE_HEX 64

/* HMAC-SHA256 with key SECRET over "TIMESTAMP.BODY", as lower-case hex
 * (NUL-terminated) in hex_r.  0, or -1 when OpenSSL fails. */
int sink_webhook_sign(const void *secret, size_t secret_len,
		      const char *timestamp, const char *body, size_t body_len,
		      char hex_r[SINK_WEBHOOK_SIGNATURE_HEX + 1]);

#endif
