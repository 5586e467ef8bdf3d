/* ENVELOPE (RFC 3501 §7.4.2) and the IMAP string output it needs.
 *
 * Strings are the raw header values, unfolded and trimmed, never RFC 2047
 * decoded (clients decode them).  Address lists are parsed per RFC 5322
 * §3.4 and tolerantly: a display name without angle brackets, a missing
 * domain, unbalanced brackets, junk between addresses.  A missing mailbox
 * or host is written as "" (never NIL, which would mark a group). */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mime/mime.h"
#include "mime/mime-private.h"

/* ---- IMAP strings (kept here so that mime does not depend on imap) ---- */

void mime_imap_string_write(struct strbuf *out, const char *s, size_t len)
{
	bool literal = false;
	size_t nuls = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			nuls++;
		else if (c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
	}
	if (literal) {
		strbuf_printf(out, "{%zu}\r\n", len - nuls);
		if (nuls == 0) {
			strbuf_append(out, s, len);
			return;
		}
		for (size_t i = 0; i < len; i++) {
			if (s[i] != '\0')
				strbuf_appendc(out, s[i]);
		}
		return;
	}
	mime_strbuf_reserve(out, len + 2);
	strbuf_appendc(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			continue;
		if (s[i] == '"' || s[i] == '\\')
			strbuf_appendc(out, '\\');
		strbuf_appendc(out, s[i]);
	}
	strbuf_appendc(out, '"');
}

void mime_imap_nstring_write(struct strbuf *out, const char *s)
{
	if (s == NULL)
		strbuf_append(out, "NIL", 3);
	else
		mime_imap_string_write(out, s, strlen(s));
}

void mime_imap_upper_write(struct strbuf *out, const char *s)
{
	size_t len = strlen(s);
	char *up = xmemdupz(s, len);

	for (size_t i = 0; i < len; i++) {
		if (up[i] >= 'a' && up[i] <= 'z')
			up[i] = (char)(up[i] - 'a' + 'A');
	}
	mime_imap_string_write(out, up, len);
	free(up);
}

/* ---- RFC 5322 address lexing ---- */

enum tok_type { TOK_ATOM, TOK_QSTR, TOK_DLIT, TOK_COMMENT, TOK_SPECIAL };

struct tok {
	enum tok_type type;
	size_t start, len;          /* QSTR/DLIT include their delimiters;
				     * COMMENT is the text inside */
	bool space_before;
	char ch;                    /* TOK_SPECIAL */
};

struct toks {
	struct tok *v;
	size_t count, cap;
};

static void toks_add(struct toks *t, enum tok_type type, size_t start,
		     size_t len, bool space, char ch)
{
	if (t->count == t->cap) {
		t->cap = t->cap == 0 ? 16 : t->cap * 2;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->count++] = (struct tok){ type, start, len, space, ch };
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void address_lex(const char *s, size_t len, struct toks *t)
{
	size_t i = 0;
	bool space = false;

	while (i < len) {
		char c = s[i];
		if (is_space(c)) {
			space = true;
			i++;
		} else if (c == '(') {
			unsigned int level = 0;
			size_t start = i + 1, end = len;
			while (i < len) {
				c = s[i++];
				if (c == '\\' && i < len)
					i++;
				else if (c == '(')
					level++;
				else if (c == ')' && --level == 0) {
					end = i - 1;
					break;
				}
			}
			if (end < start)
				end = start;
			toks_add(t, TOK_COMMENT, start, end - start, space, 0);
			space = true;
		} else if (c == '"' || c == '[') {
			char close = c == '"' ? '"' : ']';
			size_t start = i++;
			while (i < len) {
				c = s[i++];
				if (c == '\\' && i < len)
					i++;
				else if (c == close)
					break;
			}
			toks_add(t, close == '"' ? TOK_QSTR : TOK_DLIT, start,
				 i - start, space, 0);
			space = false;
		} else if (strchr("<>@,;:.", c) != NULL) {
			toks_add(t, TOK_SPECIAL, i, 1, space, c);
			space = false;
			i++;
		} else {
			/* A stray ")" or "]" is taken as part of an atom. */
			size_t start = i++;
			while (i < len && !is_space(s[i]) &&
			       strchr("(<>[:;@,.\"", s[i]) == NULL)
				i++;
			toks_add(t, TOK_ATOM, start, i - start, space, 0);
			space = false;
		}
	}
}

static bool tok_is(const struct tok *t, char ch)
{
	return t->type == TOK_SPECIAL && t->ch == ch;
}

/* A display name: words joined by single spaces, quoted strings
 * unquoted, comments dropped. */
static void phrase_text(const char *s, const struct tok *t, size_t a,
			size_t b, struct strbuf *out)
{
	size_t start_len = out->len;

	for (size_t i = a; i < b; i++) {
		if (t[i].type == TOK_COMMENT)
			continue;
		if (t[i].space_before && out->len > start_len)
			strbuf_appendc(out, ' ');
		if (t[i].type == TOK_QSTR) {
			size_t end = t[i].start + t[i].len;
			for (size_t j = t[i].start + 1; j < end; j++) {
				if (s[j] == '"')
					break;          /* the closing quote */
				if (s[j] == '\\' && j + 1 < end)
					j++;
				strbuf_appendc(out, s[j]);
			}
		} else {
			strbuf_append(out, s + t[i].start, t[i].len);
		}
	}
}

/* Local parts, domains and routes: tokens as written, without the
 * whitespace and comments between them. */
static void raw_join(const char *s, const struct tok *t, size_t a, size_t b,
		     struct strbuf *out)
{
	for (size_t i = a; i < b; i++) {
		if (t[i].type != TOK_COMMENT)
			strbuf_append(out, s + t[i].start, t[i].len);
	}
}

struct addr_list {
	struct strbuf out;
	size_t count;
};

static void addr_emit(struct addr_list *l, const struct strbuf *name,
		      const char *adl, const char *mailbox, const char *host)
{
	strbuf_appendc(&l->out, '(');
	if (name != NULL && name->len > 0)
		mime_imap_string_write(&l->out, name->s, name->len);
	else
		strbuf_append(&l->out, "NIL", 3);
	strbuf_appendc(&l->out, ' ');
	mime_imap_nstring_write(&l->out, adl);
	strbuf_appendc(&l->out, ' ');
	mime_imap_nstring_write(&l->out, mailbox);
	strbuf_appendc(&l->out, ' ');
	mime_imap_nstring_write(&l->out, host);
	strbuf_appendc(&l->out, ')');
	l->count++;
}

static bool connected(const struct tok *a, const struct tok *b)
{
	return tok_is(a, '.') || tok_is(b, '.') || !b->space_before;
}

static bool is_word(const struct tok *t)
{
	return t->type == TOK_ATOM || t->type == TOK_QSTR || tok_is(t, '.');
}

static void first_comment(const char *s, const struct tok *t, size_t a,
			  size_t b, struct strbuf *out)
{
	for (size_t i = a; i < b; i++) {
		if (t[i].type == TOK_COMMENT && t[i].len > 0) {
			strbuf_append(out, s + t[i].start, t[i].len);
			return;
		}
	}
}

/* name-addr: [phrase] "<" [route ":"] addr-spec ">" */
static void angle_addr(const char *s, const struct tok *t, size_t a,
		       size_t lt, size_t end, struct addr_list *l)
{
	struct strbuf name = STRBUF_INIT, adl = STRBUF_INIT;
	struct strbuf mbox = STRBUF_INIT, host = STRBUF_INIT;
	size_t gt = lt + 1;
	bool have_adl = false;

	while (gt < end && !tok_is(&t[gt], '>'))
		gt++;
	phrase_text(s, t, a, lt, &name);
	size_t i = lt + 1;
	if (i < gt && tok_is(&t[i], '@')) {
		/* RFC 5322 §4.4 obs-route: "@a,@b:" */
		size_t c = i;
		while (c < gt && !tok_is(&t[c], ':'))
			c++;
		if (c < gt) {
			raw_join(s, t, i, c, &adl);
			have_adl = true;
			i = c + 1;
		}
	}
	size_t at = i;
	while (at < gt && !tok_is(&t[at], '@'))
		at++;
	raw_join(s, t, i, at, &mbox);
	if (at < gt)
		raw_join(s, t, at + 1, gt, &host);
	if (name.len == 0)
		first_comment(s, t, gt, end, &name);
	addr_emit(l, &name, have_adl ? strbuf_str(&adl) : NULL,
		  strbuf_str(&mbox), strbuf_str(&host));
	strbuf_free(&name);
	strbuf_free(&adl);
	strbuf_free(&mbox);
	strbuf_free(&host);
}

/* addr-spec without brackets, with any words before it taken as a
 * display name (a common mistake: From: John Doe john@example.com). */
static void bare_addr(const char *s, const struct tok *t, size_t a,
		      size_t at, size_t end, struct addr_list *l)
{
	struct strbuf name = STRBUF_INIT, mbox = STRBUF_INIT;
	struct strbuf host = STRBUF_INIT;
	size_t ls = at;

	while (ls > a && is_word(&t[ls - 1]) &&
	       (ls == at || connected(&t[ls - 1], &t[ls])))
		ls--;
	phrase_text(s, t, a, ls, &name);
	raw_join(s, t, ls, at, &mbox);
	size_t de = at + 1;
	while (de < end && (t[de].type == TOK_ATOM || t[de].type == TOK_DLIT ||
			    tok_is(&t[de], '.')) &&
	       (de == at + 1 || connected(&t[de - 1], &t[de])))
		de++;
	raw_join(s, t, at + 1, de, &host);
	if (name.len == 0)
		first_comment(s, t, de, end, &name);
	addr_emit(l, &name, NULL, strbuf_str(&mbox), strbuf_str(&host));
	strbuf_free(&name);
	strbuf_free(&mbox);
	strbuf_free(&host);
}

/* Writes the address list in v as "(" 1*address ")" or NIL. */
static void address_list_write(const char *v, size_t len, struct strbuf *out)
{
	struct toks tk = { NULL, 0, 0 };
	struct addr_list l = { STRBUF_INIT, 0 };
	bool in_group = false;

	address_lex(v, len, &tk);
	const struct tok *t = tk.v;
	size_t n = tk.count, i = 0;
	while (i < n) {
		size_t k, lt = SIZE_MAX, at = SIZE_MAX, colon = SIZE_MAX;
		bool in_angle = false;
		for (k = i; k < n; k++) {
			if (t[k].type != TOK_SPECIAL)
				continue;
			char c = t[k].ch;
			if (in_angle) {
				/* Only an obs-route puts "," inside angle
				 * brackets, and always before an "@"; any
				 * other "," or ";" means the ">" is missing. */
				if (c == '>')
					in_angle = false;
				else if (c == ';' || (c == ',' &&
					 (k + 1 >= n || !tok_is(&t[k + 1], '@'))))
					break;
				continue;
			}
			if (c == ',' || c == ';')
				break;
			if (c == '<' && lt == SIZE_MAX) {
				lt = k;
				in_angle = true;
			} else if (c == '@' && at == SIZE_MAX &&
				   lt == SIZE_MAX) {
				at = k;
			} else if (c == ':' && colon == SIZE_MAX &&
				   lt == SIZE_MAX && at == SIZE_MAX) {
				colon = k;
				break;
			}
		}
		if (colon != SIZE_MAX) {
			/* group = display-name ":" [group-list] ";" */
			if (!in_group) {
				struct strbuf name = STRBUF_INIT;
				phrase_text(v, t, i, colon, &name);
				addr_emit(&l, NULL, NULL, strbuf_str(&name),
					  NULL);
				strbuf_free(&name);
				in_group = true;
			}
			i = colon + 1;
			continue;
		}
		if (lt != SIZE_MAX) {
			angle_addr(v, t, i, lt, k, &l);
		} else if (at != SIZE_MAX) {
			bare_addr(v, t, i, at, k, &l);
		} else {
			/* Words only: a local name without a domain. */
			struct strbuf mbox = STRBUF_INIT, name = STRBUF_INIT;
			phrase_text(v, t, i, k, &mbox);
			if (mbox.len > 0) {
				first_comment(v, t, i, k, &name);
				addr_emit(&l, &name, NULL, strbuf_str(&mbox),
					  "");
			}
			strbuf_free(&mbox);
			strbuf_free(&name);
		}
		if (k < n && tok_is(&t[k], ';') && in_group) {
			addr_emit(&l, NULL, NULL, NULL, NULL);
			in_group = false;
		}
		i = k + 1;
	}
	if (in_group)
		addr_emit(&l, NULL, NULL, NULL, NULL);

	if (l.count == 0) {
		strbuf_append(out, "NIL", 3);
	} else {
		strbuf_appendc(out, '(');
		strbuf_append(out, strbuf_str(&l.out), l.out.len);
		strbuf_appendc(out, ')');
	}
	strbuf_free(&l.out);
	free(tk.v);
}

/* ---- ENVELOPE ---- */

enum env_field {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO, ENV_TO,
	ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

static void env_addresses(const struct strbuf *v, bool present,
			  struct strbuf *out)
{
	if (!present)
		strbuf_append(out, "NIL", 3);
	else
		address_list_write(strbuf_str(v), v->len, out);
}

void mime_envelope_write(const struct mime_message *msg,
			 const struct mime_part *top, struct strbuf *out)
{
	struct strbuf v[ENV_COUNT];
	bool present[ENV_COUNT] = { false };
	struct mime_field f;
	size_t pos = top->header_start;

	for (size_t i = 0; i < ENV_COUNT; i++)
		v[i] = (struct strbuf)STRBUF_INIT;
	/* One pass over the header; the first occurrence of a field wins. */
	while (mime_field_next(msg->data, &pos, top->header_end, &f)) {
		for (size_t i = 0; i < ENV_COUNT; i++) {
			if (!present[i] &&
			    mime_field_name_is(msg->data, &f, env_names[i])) {
				mime_field_value(msg->data, &f, &v[i]);
				present[i] = true;
				break;
			}
		}
	}

	struct strbuf from = STRBUF_INIT, addrs = STRBUF_INIT;
	env_addresses(&v[ENV_FROM], present[ENV_FROM], &from);

	strbuf_appendc(out, '(');
	for (size_t i = ENV_DATE; i <= ENV_SUBJECT; i++) {
		if (present[i])
			mime_imap_string_write(out, strbuf_str(&v[i]), v[i].len);
		else
			strbuf_append(out, "NIL", 3);
		strbuf_appendc(out, ' ');
	}
	strbuf_append(out, from.s == NULL ? "" : from.s, from.len);
	for (size_t i = ENV_SENDER; i <= ENV_BCC; i++) {
		strbuf_appendc(out, ' ');
		strbuf_reset(&addrs);
		env_addresses(&v[i], present[i], &addrs);
		/* RFC 3501 §7.4.2: an absent or empty Sender or Reply-To
		 * is sent as the From value. */
		if ((i == ENV_SENDER || i == ENV_REPLY_TO) &&
		    strcmp(strbuf_str(&addrs), "NIL") == 0)
			strbuf_append(out, strbuf_str(&from), from.len);
		else
			strbuf_append(out, strbuf_str(&addrs), addrs.len);
	}
	for (size_t i = ENV_IN_REPLY_TO; i <= ENV_MESSAGE_ID; i++) {
		strbuf_appendc(out, ' ');
		if (present[i])
			mime_imap_string_write(out, strbuf_str(&v[i]), v[i].len);
		else
			strbuf_append(out, "NIL", 3);
	}
	strbuf_appendc(out, ')');

	strbuf_free(&from);
	strbuf_free(&addrs);
	for (size_t i = 0; i < ENV_COUNT; i++)
		strbuf_free(&v[i]);
}
