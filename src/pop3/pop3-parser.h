/* The POP3 grammar (RFC 1939, RFC 2449, RFC 5034) without sockets or the
 * store, so it can be unit-tested and fuzzed alone:
 * - pop3_command_parse(): one command line into a verb and its arguments,
 *   or the text of the -ERR a server sends for it;
 * - the message encoder: a message's bytes as a RETR or TOP response body,
 *   every line ending made CRLF, lines starting with '.' byte-stuffed
 *   (RFC 1939 §3), TOP cut after the header and N body lines (§7),
 *   resumable so a big message is written while the client reads. */
#ifndef TIDINGS_POP3_PARSER_H
#define TIDINGS_POP3_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

/* Longest command line accepted, without CRLF.  RFC 2449 §4 caps command
 * lines at 255 octets, but SASL responses (RFC 5034 §4) may be longer;
 * a longer line is discarded to its end and answered -ERR. */
#define POP3_LINE_MAX 1000

enum pop3_verb {
	POP3_VERB_UNKNOWN = 0,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_AUTH,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_UIDL,
	POP3_VERB_RETR,
	POP3_VERB_TOP,
	POP3_VERB_DELE,
	POP3_VERB_NOOP,
	POP3_VERB_RSET,
	POP3_VERB_QUIT,
	POP3_VERB_CAPA,
	POP3_VERB_STLS,
};

struct pop3_command {
	enum pop3_verb verb;
	unsigned int argc;   /* arguments given (0..2) */
	/* USER: the name; PASS: the rest of the line after one space (a
	 * password may hold spaces); AUTH: the mechanism */
	char arg[POP3_LINE_MAX + 1];
	/* AUTH: the initial response (RFC 5034 §4), "=" for an empty one */
	char arg2[POP3_LINE_MAX + 1];
	/* LIST/UIDL (when argc == 1), RETR, DELE, TOP: the message number,
	 * >= 1; the caller checks it against the maildrop */
	uint64_t msg;
	/* TOP: body lines wanted (saturates at UINT64_MAX) */
	uint64_t lines;
};

/* Parses one line (without CRLF; may hold any bytes).  0, or -1 with
 * *error_r set to the text for "-ERR <text>" (no CRLF).  An unknown
 * keyword is -1 with cmd->verb == POP3_VERB_UNKNOWN. */
int pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd,
		       const char **error_r);

/* The verb's name ("RETR") for logs. */
const char *pop3_verb_name(enum pop3_verb verb);

struct pop3_encoder {
	bool top;              /* TOP: stop after max_lines body lines */
	uint64_t max_lines;
	uint64_t body_lines;   /* body lines written */
	bool in_body;          /* past the empty line ending the header */
	bool at_bol;           /* the next byte starts a line */
	bool prev_cr;          /* the last byte written was '\r' */
	bool line_nonempty;    /* the current line has more than CR */
	bool done;             /* TOP reached its limit: feed takes no more */
};

/* RETR: top == false.  TOP n lines: top == true, max_lines = lines. */
void pop3_encoder_init(struct pop3_encoder *e, bool top, uint64_t max_lines);
/* Appends the encoding of up to len bytes to out and returns how many were
 * used: all of them, unless TOP reached its limit (e->done). */
size_t pop3_encoder_feed(struct pop3_encoder *e, const char *data, size_t len,
			 struct strbuf *out);
/* Ends the response: CRLF when a line is open, then ".\r\n". */
void pop3_encoder_finish(struct pop3_encoder *e, struct strbuf *out);

#endif
