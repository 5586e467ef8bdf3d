/* BINARY (RFC 3516, RFC 9051 §6.4.5): a body part with its
 * Content-Transfer-Encoding removed.  Knows nothing of sessions or
 * storage, so it can be fuzzed alone (fuzz/fuzz-cte.c). */
#ifndef TIDINGS_IMAP_CTE_H
#define TIDINGS_IMAP_CTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "mime/mime.h"

enum imap_cte_result {
	IMAP_CTE_OK = 0,
	/* The encoding is none of 7bit, 8bit, binary, base64,
	 * quoted-printable: NO [UNKNOWN-CTE] (RFC 3516 §4.3). */
	IMAP_CTE_UNKNOWN = -1,
	/* The section is a multipart or message/rfc822 part: BINARY is
	 * only for leaf parts (RFC 9051 §6.4.5). */
	IMAP_CTE_NOT_LEAF = -2,
};

/* Appends in[0..len) decoded from encoding (lower case, NULL = 7bit).
 * Decoding is lenient, as RFC 2045 §6.7 and §6.8 ask: bytes outside the
 * base64 alphabet are skipped, a bad "=" in quoted-printable is kept.
 * With text (a text/ part), bare LF and bare CR become CRLF (RFC 9051
 * §7.5.2: textual sections go out with CRLF).  IMAP_CTE_OK or
 * IMAP_CTE_UNKNOWN (then nothing is appended). */
int imap_cte_decode(const char *encoding, const char *in, size_t len,
		    bool text, struct strbuf *out);

/* BINARY[parts]: appends the decoded content of the part that
 * parts[0..count) names.  count 0 is the whole message, sent as stored
 * (its own CTE is the transport's 7bit/8bit/binary).  A path that names
 * no part appends nothing and succeeds (as BODY[] does). */
int imap_cte_section(const struct mime_message *msg, const uint32_t *parts,
		     size_t count, struct strbuf *out);

#endif
