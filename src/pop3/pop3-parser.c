/* The POP3 command grammar and the RETR/TOP encoder. */
#include "pop3/pop3-parser.h"

#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum pop3_verb verb;
} pop3_verbs[] = {
	{ "USER", POP3_VERB_USER }, { "PASS", POP3_VERB_PASS },
	{ "AUTH", POP3_VERB_AUTH }, { "STAT", POP3_VERB_STAT },
	{ "LIST", POP3_VERB_LIST }, { "UIDL", POP3_VERB_UIDL },
	{ "RETR", POP3_VERB_RETR }, { "TOP", POP3_VERB_TOP },
	{ "DELE", POP3_VERB_DELE }, { "NOOP", POP3_VERB_NOOP },
	{ "RSET", POP3_VERB_RSET }, { "QUIT", POP3_VERB_QUIT },
	{ "CAPA", POP3_VERB_CAPA }, { "STLS", POP3_VERB_STLS },
};

const char *pop3_verb_name(enum pop3_verb verb)
{
	for (size_t i = 0; i < sizeof(pop3_verbs) / sizeof(pop3_verbs[0]); i++)
		if (pop3_verbs[i].verb == verb)
			return pop3_verbs[i].name;
	return "?";
}

/* A decimal number of digits only.  Saturates at UINT64_MAX, so that a
 * huge message number is simply "no such message". */
static int parse_number(const char *s, size_t len, uint64_t *out)
{
	if (len == 0)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + d;
	}
	*out = v;
	return 0;
}

#define POP3_MAX_WORDS 3

int pop3_command_parse(const char *line, size_t len, struct pop3_command *cmd,
		       const char **error_r)
{
	memset(cmd, 0, offsetof(struct pop3_command, arg));
	cmd->arg[0] = '\0';
	cmd->arg2[0] = '\0';
	cmd->msg = 0;
	cmd->lines = 0;
	if (len > POP3_LINE_MAX) {
		*error_r = "Line too long";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL in command";
		return -1;
	}
	/* RFC 1939 §3: a keyword of three or four characters, case-
	 * insensitive, then arguments separated by single spaces.  Extra
	 * spaces are tolerated (clients in the wild send them). */
	const char *words[POP3_MAX_WORDS + 1];
	size_t lens[POP3_MAX_WORDS + 1];
	size_t n = 0, i = 0;
	while (i < len && n <= POP3_MAX_WORDS) {
		while (i < len && line[i] == ' ')
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && line[i] != ' ')
			i++;
		words[n] = line + start;
		lens[n] = i - start;
		n++;
	}
	bool more = false;
	while (i < len && line[i] == ' ')
		i++;
	if (i < len)
		more = true;
	if (n == 0) {
		*error_r = "Empty command";
		return -1;
	}
	for (size_t k = 0; k < sizeof(pop3_verbs) / sizeof(pop3_verbs[0]); k++) {
		if (strlen(pop3_verbs[k].name) == lens[0] &&
		    strncasecmp(pop3_verbs[k].name, words[0], lens[0]) == 0) {
			cmd->verb = pop3_verbs[k].verb;
			break;
		}
	}
	if (cmd->verb == POP3_VERB_UNKNOWN) {
		*error_r = "Unknown command";
		return -1;
	}
	unsigned int argc = (unsigned int)(n - 1);
	if (more)
		argc = POP3_MAX_WORDS + 1;  /* too many in any case */
	*error_r = "Invalid arguments";
	switch (cmd->verb) {
	case POP3_VERB_PASS: {
		/* RFC 1939 §7: the password is the rest of the line; it may
		 * hold spaces, so exactly one space separates it. */
		const char *p = words[0] + lens[0];
		size_t plen = len - (size_t)(p - line);
		if (plen < 2 || p[0] != ' ')
			return -1;
		memcpy(cmd->arg, p + 1, plen - 1);
		cmd->arg[plen - 1] = '\0';
		cmd->argc = 1;
		*error_r = NULL;
		return 0;
	}
	case POP3_VERB_USER:
		if (argc != 1)
			return -1;
		memcpy(cmd->arg, words[1], lens[1]);
		cmd->arg[lens[1]] = '\0';
		break;
	case POP3_VERB_AUTH:
		if (argc > 2)
			return -1;
		if (argc >= 1) {
			memcpy(cmd->arg, words[1], lens[1]);
			cmd->arg[lens[1]] = '\0';
		}
		if (argc == 2) {
			memcpy(cmd->arg2, words[2], lens[2]);
			cmd->arg2[lens[2]] = '\0';
		}
		break;
	case POP3_VERB_STAT:
	case POP3_VERB_NOOP:
	case POP3_VERB_RSET:
	case POP3_VERB_QUIT:
	case POP3_VERB_CAPA:
	case POP3_VERB_STLS:
		if (argc != 0)
			return -1;
		break;
	case POP3_VERB_LIST:
	case POP3_VERB_UIDL:
		if (argc > 1)
			return -1;
		if (argc == 1 && parse_number(words[1], lens[1], &cmd->msg) < 0) {
			*error_r = "Invalid message number";
			return -1;
		}
		break;
	case POP3_VERB_RETR:
	case POP3_VERB_DELE:
		if (argc != 1)
			return -1;
		if (parse_number(words[1], lens[1], &cmd->msg) < 0) {
			*error_r = "Invalid message number";
			return -1;
		}
		break;
	case POP3_VERB_TOP:
		if (argc != 2)
			return -1;
		if (parse_number(words[1], lens[1], &cmd->msg) < 0) {
			*error_r = "Invalid message number";
			return -1;
		}
		if (parse_number(words[2], lens[2], &cmd->lines) < 0) {
			*error_r = "Invalid number of lines";
			return -1;
		}
		break;
	case POP3_VERB_UNKNOWN:
		return -1;
	}
	bool numbered = cmd->verb == POP3_VERB_RETR ||
		cmd->verb == POP3_VERB_DELE || cmd->verb == POP3_VERB_TOP ||
		((cmd->verb == POP3_VERB_LIST || cmd->verb == POP3_VERB_UIDL) &&
		 argc == 1);
	if (numbered && cmd->msg == 0) {
		/* message numbers start at 1 (RFC 1939 §5) */
		*error_r = "Invalid message number";
		return -1;
	}
	cmd->argc = argc;
	*error_r = NULL;
	return 0;
}

/* ---- the encoder ---- */

void pop3_encoder_init(struct pop3_encoder *e, bool top, uint64_t max_lines)
{
	memset(e, 0, sizeof(*e));
	e->top = top;
	e->max_lines = max_lines;
	e->at_bol = true;
}

size_t pop3_encoder_feed(struct pop3_encoder *e, const char *data, size_t len,
			 struct strbuf *out)
{
	size_t i = 0;
	while (i < len && !e->done) {
		if (e->at_bol) {
			/* RFC 1939 §3: a line beginning with the termination
			 * octet gets one more */
			if (data[i] == '.')
				strbuf_appendc(out, '.');
			e->at_bol = false;
			e->line_nonempty = false;
		}
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - data) : len;
		if (end > i) {
			if (!e->in_body && !e->line_nonempty) {
				for (size_t k = i; k < end; k++) {
					if (data[k] != '\r') {
						e->line_nonempty = true;
						break;
					}
				}
			}
			strbuf_append(out, data + i, end - i);
			e->prev_cr = data[end - 1] == '\r';
		}
		if (nl == NULL) {
			i = end;
			break;
		}
		/* a bare LF becomes CRLF */
		strbuf_appends(out, e->prev_cr ? "\n" : "\r\n");
		e->prev_cr = false;
		e->at_bol = true;
		i = end + 1;
		if (!e->in_body) {
			if (!e->line_nonempty) {
				/* the empty line that ends the header */
				e->in_body = true;
				if (e->top && e->max_lines == 0)
					e->done = true;
			}
		} else {
			e->body_lines++;
			if (e->top && e->body_lines >= e->max_lines)
				e->done = true;
		}
	}
	return i;
}

void pop3_encoder_finish(struct pop3_encoder *e, struct strbuf *out)
{
	if (!e->at_bol)
		strbuf_appends(out, e->prev_cr ? "\n" : "\r\n");
	e->at_bol = true;
	e->prev_cr = false;
	strbuf_appends(out, ".\r\n");
}
