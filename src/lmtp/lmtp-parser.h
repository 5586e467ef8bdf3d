/* The LMTP grammar (RFC 2033 on RFC 5321's syntax), without sockets or the
 * store, so it can be unit-tested and fuzzed alone:
 * - lmtp_command_parse(): one command line into a verb and its arguments,
 *   or the exact reply a server sends for it;
 * - lmtp_recipient_split(): "user+detail@domain" into its parts;
 * - the DATA decoder: the bytes after "354" up to the "." line, with dot
 *   stuffing removed (RFC 5321 §4.5.2) and every line ending made CRLF. */
#ifndef TIDINGS_LMTP_PARSER_H
#define TIDINGS_LMTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

/* Longest command line in octets, without its line ending.  RFC 5321
 * §4.5.3.1.4 asks for 512 with CRLF; extensions' parameters make longer
 * lines legal, and 1000 is the text-line limit of §4.5.3.1.6. */
#define LMTP_LINE_MAX 1000
/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets. */
#define LMTP_PATH_MAX 256

enum lmtp_verb {
	LMTP_VERB_UNKNOWN = 0,
	LMTP_VERB_LHLO,
	LMTP_VERB_MAIL,
	LMTP_VERB_RCPT,
	LMTP_VERB_DATA,
	LMTP_VERB_RSET,
	LMTP_VERB_NOOP,
	LMTP_VERB_QUIT,
	LMTP_VERB_VRFY,
};

enum lmtp_body {
	LMTP_BODY_NONE = 0,  /* no BODY= parameter */
	LMTP_BODY_7BIT,
	LMTP_BODY_8BITMIME,  /* RFC 6152 */
};

struct lmtp_command {
	enum lmtp_verb verb;
	/* LHLO: the client's name; VRFY: the string asked about */
	char arg[LMTP_LINE_MAX + 1];
	/* MAIL / RCPT: the address between < and >, source route dropped;
	 * "" for the null reverse-path <> */
	char path[LMTP_PATH_MAX + 1];
	bool has_size;       /* MAIL SIZE=n (RFC 1870) */
	uint64_t size;
	enum lmtp_body body; /* MAIL BODY= */
	bool smtputf8;       /* MAIL SMTPUTF8 (RFC 6531) */
};

/* Parses one line (without CRLF; may hold any bytes).  0, or -1 with
 * *reply_r set to the whole reply to send, e.g. "500 5.5.1 Unknown
 * command" (RFC 2034 enhanced codes; without CRLF). */
int lmtp_command_parse(const char *line, size_t len, struct lmtp_command *cmd,
		       const char **reply_r);

/* Splits a RCPT path: the local part (unquoted) at its first '+' into user
 * and detail (RFC 5233 subaddress; "" when none), and the domain ("" when
 * none).  -1 when the path is empty, the user part is empty or a part does
 * not fit. */
int lmtp_recipient_split(const char *path, char *user, size_t user_size,
			 char *detail, size_t detail_size, char *domain,
			 size_t domain_size);

/* True when domain is one of the space-separated names in list (ASCII
 * case-insensitive), or list has no names. */
bool lmtp_domain_listed(const char *list, const char *domain);

/* ---- DATA ---- */

enum lmtp_data_state {
	LMTP_DATA_LINE_START,
	LMTP_DATA_DOT,        /* a '.' began the line */
	LMTP_DATA_DOT_CR,     /* ".\r" */
	LMTP_DATA_TEXT,
	LMTP_DATA_CR,         /* '\r' inside a line */
	LMTP_DATA_DONE,
};

struct lmtp_data_decoder {
	enum lmtp_data_state state;
	struct strbuf *out;
	uint64_t max;      /* output bytes kept at most; 0 = no limit */
	uint64_t size;     /* output bytes so far, kept or not */
	bool too_big;      /* size went over max: out holds a prefix only */
	bool has_nul;      /* NUL bytes were seen (and dropped) */
};

/* out receives the message with CRLF line endings (a bare LF or CR is
 * made CRLF; RFC 5321 §2.3.8). */
void lmtp_data_init(struct lmtp_data_decoder *d, struct strbuf *out,
		    uint64_t max);
/* Consumes bytes of the DATA stream.  1 when the terminating "." line
 * was read (*consumed_r stops right after it: what follows is the next
 * command), 0 when all of buf was consumed and more is needed. */
int lmtp_data_feed(struct lmtp_data_decoder *d, const char *buf, size_t len,
		   size_t *consumed_r);

#endif
