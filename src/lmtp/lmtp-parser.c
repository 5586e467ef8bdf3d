/* LMTP command lines, addresses and the DATA stream: see lmtp-parser.h. */
#include "lmtp/lmtp-parser.h"

#include <string.h>
#include <strings.h>

#define REPLY_UNKNOWN "500 5.5.1 Unknown command"
#define REPLY_BAD_CHARS "501 5.5.2 Invalid characters in command"
#define REPLY_SYNTAX "501 5.5.4 Syntax error in parameters"
#define REPLY_BAD_SENDER "501 5.1.7 Bad sender address syntax"
#define REPLY_BAD_RCPT "501 5.1.3 Bad recipient address syntax"
#define REPLY_PARAM "555 5.5.4 Unsupported parameter"

static const struct {
	const char *name;
	enum lmtp_verb verb;
} lmtp_verbs[] = {
	{ "LHLO", LMTP_VERB_LHLO },
	{ "MAIL", LMTP_VERB_MAIL },
	{ "RCPT", LMTP_VERB_RCPT },
	{ "DATA", LMTP_VERB_DATA },
	{ "RSET", LMTP_VERB_RSET },
	{ "NOOP", LMTP_VERB_NOOP },
	{ "QUIT", LMTP_VERB_QUIT },
	{ "VRFY", LMTP_VERB_VRFY },
};

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 5322 atext, plus any octet >= 0x80 (RFC 6531 UTF-8 addresses; we
 * take them whether or not SMTPUTF8 was given, as most servers do). */
static bool is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c >= 0x80 ||
	       (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Domain = sub-domain *("." sub-domain), or an address literal "[...]". */
static bool domain_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < len; i++) {
			unsigned char c = (unsigned char)s[i];
			/* dcontent: printable ASCII but [ \ ] */
			if (c < 33 || c > 126 || c == '[' || c == '\\' ||
			    c == ']')
				return false;
		}
		return true;
	}
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alpha(c) || is_digit(c) || c >= 0x80 ||
			   (c == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return label > 0 && s[len - 1] != '-';
}

/* Local-part = Dot-string / Quoted-string (RFC 5321 §4.1.2).  Returns its
 * length in s, or 0 when there is none. */
static size_t local_part_len(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	if (s[0] == '"') {
		for (size_t i = 1; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '"')
				return i + 1;
			if (c == '\\') {
				/* quoted-pairSMTP: %d92 %d32-126 */
				if (i + 1 >= len ||
				    (unsigned char)s[i + 1] < 32 ||
				    (unsigned char)s[i + 1] > 126)
					return 0;
				i++;
			} else if (c < 32 || c == 127) {
				return 0;
			}
		}
		return 0;
	}
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && is_atext((unsigned char)s[i]))
			i++;
		if (i == start)
			return 0;         /* empty atom: leading or double dot */
		if (i < len && s[i] == '.') {
			i++;
			if (i == len || !is_atext((unsigned char)s[i]))
				return 0; /* trailing dot */
			continue;
		}
		break;
	}
	return i;
}

/* Parses "<path>" at *p (after optional spaces, for the clients that
 * write "MAIL FROM: <x>").  allow_null: "<>" is accepted (MAIL).
 * allow_no_domain: "<user>" is accepted (RCPT; LMTP delivers locally). */
static int path_parse(const char **p, const char *end, char *out,
		      bool allow_null, bool allow_no_domain)
{
	const char *s = *p;
	while (s < end && *s == ' ')
		s++;
	if (s >= end || *s != '<')
		return -1;
	s++;
	const char *close = NULL;
	const char *lt = s;
	const char *start = s;
	if (s < end && *s == '@') {
		/* A-d-l ":" (source route): RFC 5321 §4.1.2 says to accept
		 * and ignore it */
		const char *colon = memchr(s, ':', (size_t)(end - s));
		if (colon == NULL)
			return -1;
		for (const char *q = s; q < colon; q++) {
			if (*q == '>' || *q == '<' || *q == ' ')
				return -1;
		}
		s = colon + 1;
		start = s;
	}
	if (s < end && *s == '>') {
		/* "<>", the null reverse-path (not after a source route) */
		if (!allow_null || s != lt)
			return -1;
		out[0] = '\0';
		*p = s + 1;
		return 0;
	}
	size_t lp = local_part_len(s, (size_t)(end - s));
	if (lp == 0)
		return -1;
	const char *q = s + lp;
	if (q < end && *q == '@') {
		const char *dom = q + 1;
		const char *d = dom;
		if (d < end && *d == '[') {
			while (d < end && *d != ']')
				d++;
			if (d < end)
				d++;
		} else {
			while (d < end && *d != '>')
				d++;
		}
		if (!domain_valid(dom, (size_t)(d - dom)))
			return -1;
		q = d;
	} else if (!allow_no_domain) {
		return -1;
	}
	if (q >= end || *q != '>')
		return -1;
	close = q;
	size_t n = (size_t)(close - start);
	if (n + 2 > LMTP_PATH_MAX)
		return -1;
	memcpy(out, start, n);
	out[n] = '\0';
	*p = close + 1;
	return 0;
}

/* "KEY=VALUE" or "KEY" (esmtp-param), separated by single or more SP. */
static int mail_params_parse(const char *s, const char *end,
			     struct lmtp_command *cmd, const char **reply_r)
{
	bool seen_size = false, seen_body = false, seen_utf8 = false;
	while (s < end) {
		if (*s != ' ') {
			*reply_r = REPLY_SYNTAX;
			return -1;
		}
		while (s < end && *s == ' ')
			s++;
		if (s == end)
			break;
		const char *kw = s;
		while (s < end && *s != ' ' && *s != '=')
			s++;
		size_t kwlen = (size_t)(s - kw);
		const char *val = NULL;
		size_t vlen = 0;
		if (s < end && *s == '=') {
			val = ++s;
			while (s < end && *s != ' ')
				s++;
			vlen = (size_t)(s - val);
		}
		if (kwlen == 4 && strncasecmp(kw, "SIZE", 4) == 0) {
			/* RFC 1870: size-value ::= 1*20DIGIT */
			if (seen_size || val == NULL || vlen == 0 || vlen > 20) {
				*reply_r = REPLY_SYNTAX;
				return -1;
			}
			uint64_t v = 0;
			for (size_t i = 0; i < vlen; i++) {
				unsigned char c = (unsigned char)val[i];
				if (!is_digit(c)) {
					*reply_r = REPLY_SYNTAX;
					return -1;
				}
				if (v > (UINT64_MAX - (c - '0')) / 10)
					v = UINT64_MAX; /* too big anyway */
				else
					v = v * 10 + (c - '0');
			}
			seen_size = true;
			cmd->has_size = true;
			cmd->size = v;
		} else if (kwlen == 4 && strncasecmp(kw, "BODY", 4) == 0) {
			if (seen_body || val == NULL) {
				*reply_r = REPLY_SYNTAX;
				return -1;
			}
			if (vlen == 4 && strncasecmp(val, "7BIT", 4) == 0) {
				cmd->body = LMTP_BODY_7BIT;
			} else if (vlen == 8 &&
				   strncasecmp(val, "8BITMIME", 8) == 0) {
				cmd->body = LMTP_BODY_8BITMIME;
			} else {
				/* BINARYMIME (RFC 3030) is not offered */
				*reply_r = "501 5.5.4 Unsupported BODY type";
				return -1;
			}
			seen_body = true;
		} else if (kwlen == 8 && strncasecmp(kw, "SMTPUTF8", 8) == 0) {
			if (seen_utf8 || val != NULL) {
				*reply_r = REPLY_SYNTAX;
				return -1;
			}
			seen_utf8 = true;
			cmd->smtputf8 = true;
		} else {
			*reply_r = REPLY_PARAM;
			return -1;
		}
	}
	return 0;
}

/* "FROM:" / "TO:" after the verb's space, case-insensitively. */
static bool keyword_at(const char **p, const char *end, const char *kw)
{
	size_t n = strlen(kw);
	if ((size_t)(end - *p) < n || strncasecmp(*p, kw, n) != 0)
		return false;
	*p += n;
	return true;
}

int lmtp_command_parse(const char *line, size_t len, struct lmtp_command *cmd,
		       const char **reply_r)
{
	memset(cmd, 0, sizeof(*cmd));
	*reply_r = NULL;
	if (len > LMTP_LINE_MAX) {
		*reply_r = "500 5.5.2 Line too long";
		return -1;
	}
	const char *end = line + len;
	/* tolerate trailing spaces (some clients send "DATA ") */
	while (end > line && end[-1] == ' ')
		end--;
	size_t vlen = 0;
	while (line + vlen < end && line[vlen] != ' ')
		vlen++;
	for (size_t i = 0; i < sizeof(lmtp_verbs) / sizeof(lmtp_verbs[0]); i++) {
		if (vlen == 4 && strncasecmp(line, lmtp_verbs[i].name, 4) == 0) {
			cmd->verb = lmtp_verbs[i].verb;
			break;
		}
	}
	if (cmd->verb == LMTP_VERB_UNKNOWN) {
		*reply_r = REPLY_UNKNOWN;
		return -1;
	}
	for (const char *q = line; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (c < 32 || c == 127) {
			*reply_r = REPLY_BAD_CHARS;
			return -1;
		}
	}
	const char *p = line + vlen;
	bool has_args = p < end;
	if (has_args)
		p++; /* the SP after the verb */

	switch (cmd->verb) {
	case LMTP_VERB_LHLO:
		/* RFC 2033 §4.1 / RFC 5321 §4.1.1.1: a domain or address
		 * literal; take any single word (many MTAs send their own
		 * unqualified name). */
		if (!has_args || p >= end || memchr(p, ' ', (size_t)(end - p))) {
			*reply_r = "501 5.5.4 Syntax: LHLO hostname";
			return -1;
		}
		memcpy(cmd->arg, p, (size_t)(end - p));
		cmd->arg[end - p] = '\0';
		return 0;
	case LMTP_VERB_MAIL:
		if (!has_args || !keyword_at(&p, end, "FROM:")) {
			*reply_r = "501 5.5.4 Syntax: MAIL FROM:<address>";
			return -1;
		}
		if (path_parse(&p, end, cmd->path, true, false) < 0) {
			*reply_r = REPLY_BAD_SENDER;
			return -1;
		}
		return mail_params_parse(p, end, cmd, reply_r);
	case LMTP_VERB_RCPT:
		if (!has_args || !keyword_at(&p, end, "TO:")) {
			*reply_r = "501 5.5.4 Syntax: RCPT TO:<address>";
			return -1;
		}
		if (path_parse(&p, end, cmd->path, false, true) < 0) {
			*reply_r = REPLY_BAD_RCPT;
			return -1;
		}
		if (p < end) {
			/* no RCPT parameters are offered (no DSN) */
			if (*p != ' ') {
				*reply_r = REPLY_BAD_RCPT;
				return -1;
			}
			*reply_r = REPLY_PARAM;
			return -1;
		}
		return 0;
	case LMTP_VERB_VRFY:
		if (!has_args || p >= end) {
			*reply_r = "501 5.5.4 Syntax: VRFY address";
			return -1;
		}
		memcpy(cmd->arg, p, (size_t)(end - p));
		cmd->arg[end - p] = '\0';
		return 0;
	case LMTP_VERB_NOOP:
		/* RFC 5321 §4.1.1.9: a string argument is allowed, ignored */
		return 0;
	case LMTP_VERB_DATA:
	case LMTP_VERB_RSET:
	case LMTP_VERB_QUIT:
		if (has_args) {
			*reply_r = REPLY_SYNTAX;
			return -1;
		}
		return 0;
	case LMTP_VERB_UNKNOWN:
		break;
	}
	*reply_r = REPLY_UNKNOWN;
	return -1;
}

int lmtp_recipient_split(const char *path, char *user, size_t user_size,
			 char *detail, size_t detail_size, char *domain,
			 size_t domain_size)
{
	if (user_size == 0 || detail_size == 0 || domain_size == 0)
		return -1;
	user[0] = detail[0] = domain[0] = '\0';
	size_t len = strlen(path);
	size_t lp = local_part_len(path, len);
	if (lp == 0)
		return -1;
	/* the local part, unquoted */
	char local[LMTP_PATH_MAX + 1];
	size_t n = 0;
	if (path[0] == '"') {
		for (size_t i = 1; i + 1 < lp; i++) {
			if (path[i] == '\\')
				i++;
			if (n >= sizeof(local) - 1)
				return -1;
			local[n++] = path[i];
		}
	} else {
		if (lp >= sizeof(local))
			return -1;
		memcpy(local, path, lp);
		n = lp;
	}
	local[n] = '\0';
	if (lp < len) {
		if (path[lp] != '@' || !domain_valid(path + lp + 1, len - lp - 1))
			return -1;
		if (len - lp - 1 >= domain_size)
			return -1;
		memcpy(domain, path + lp + 1, len - lp - 1);
		domain[len - lp - 1] = '\0';
	}
	char *plus = memchr(local, '+', n);
	size_t ulen = plus != NULL ? (size_t)(plus - local) : n;
	if (ulen == 0 || ulen >= user_size)
		return -1;
	memcpy(user, local, ulen);
	user[ulen] = '\0';
	if (plus != NULL) {
		size_t dlen = n - ulen - 1;
		if (dlen >= detail_size)
			return -1;
		memcpy(detail, plus + 1, dlen);
		detail[dlen] = '\0';
	}
	return 0;
}

bool lmtp_domain_listed(const char *list, const char *domain)
{
	bool any = false;
	const char *p = list;
	size_t dlen = strlen(domain);
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		if (p == w)
			continue;
		any = true;
		if ((size_t)(p - w) == dlen && strncasecmp(w, domain, dlen) == 0)
			return true;
	}
	return !any;
}

/* ---- DATA ---- */

void lmtp_data_init(struct lmtp_data_decoder *d, struct strbuf *out,
		    uint64_t max)
{
	memset(d, 0, sizeof(*d));
	d->state = LMTP_DATA_LINE_START;
	d->out = out;
	d->max = max;
}

static void data_emit(struct lmtp_data_decoder *d, const char *s, size_t n)
{
	d->size += n;
	if (d->too_big)
		return;
	if (d->max != 0 && d->size > d->max) {
		d->too_big = true;
		return;
	}
	strbuf_append(d->out, s, n);
}

int lmtp_data_feed(struct lmtp_data_decoder *d, const char *buf, size_t len,
		   size_t *consumed_r)
{
	size_t i = 0;
	while (i < len && d->state != LMTP_DATA_DONE) {
		char c = buf[i];
		switch (d->state) {
		case LMTP_DATA_LINE_START:
			if (c == '.') {
				d->state = LMTP_DATA_DOT;
				i++;
			} else {
				d->state = LMTP_DATA_TEXT;
			}
			break;
		case LMTP_DATA_DOT:
			if (c == '\n') {
				/* ".\n": a bare LF ends it too */
				d->state = LMTP_DATA_DONE;
				i++;
			} else if (c == '\r') {
				d->state = LMTP_DATA_DOT_CR;
				i++;
			} else {
				/* RFC 5321 §4.5.2: the first dot of a line
				 * that has more is dropped */
				d->state = LMTP_DATA_TEXT;
			}
			break;
		case LMTP_DATA_DOT_CR:
			if (c == '\n') {
				d->state = LMTP_DATA_DONE;
				i++;
			} else {
				/* "." then a bare CR: the line was ".\r" + x */
				data_emit(d, "\r\n", 2);
				d->state = LMTP_DATA_LINE_START;
			}
			break;
		case LMTP_DATA_TEXT: {
			size_t j = i;
			while (j < len && buf[j] != '\r' && buf[j] != '\n' &&
			       buf[j] != '\0')
				j++;
			if (j > i)
				data_emit(d, buf + i, j - i);
			i = j;
			if (i == len)
				break;
			if (buf[i] == '\0') {
				d->has_nul = true;
			} else if (buf[i] == '\r') {
				d->state = LMTP_DATA_CR;
			} else {
				data_emit(d, "\r\n", 2);
				d->state = LMTP_DATA_LINE_START;
			}
			i++;
			break;
		}
		case LMTP_DATA_CR:
			/* CRLF, or a bare CR made into a line end */
			data_emit(d, "\r\n", 2);
			d->state = LMTP_DATA_LINE_START;
			if (c == '\n')
				i++;
			break;
		case LMTP_DATA_DONE:
			break;
		}
	}
	*consumed_r = i;
	return d->state == LMTP_DATA_DONE ? 1 : 0;
}
