/* The MIME part tree: one linear pass over the message, no recursion.
 *
 * The scanner walks the message line by line.  Open multiparts are kept on
 * a stack of boundary frames; every line beginning with "--" is compared
 * with the active boundaries (by length and hash first, so that a body full
 * of dashes costs no more than any other body).  A boundary line of frame k
 * closes every part opened inside frame k, so a missing close delimiter of
 * an inner multipart is tolerated, and a message/rfc822 part simply ends
 * where its enclosing multipart's next boundary is.  Parts are collected as
 * linked nodes first and turned into the arrays of struct mime_part at the
 * end, once their counts are known. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "mime/mime.h"
#include "mime/mime-private.h"

/* RFC 2046 §5.1.1 caps boundaries at 70 characters; be generous. */
#define MIME_MAX_BOUNDARY_LEN 256
/* Per Content-Type / Content-Disposition header. */
#define MIME_MAX_RAW_PARAMS 64
#define MIME_MAX_LANGUAGES 32
/* RFC 2231 continuation section numbers above this are ignored. */
#define MIME_MAX_SECTION 999

struct node {
	struct mime_part part;
	struct node *up;
	struct node *first_child, *last_child, *next;
	size_t child_count;
	struct node *message;
	struct node *all_next;       /* every node, for freeing */
	unsigned int depth;
	size_t body_start_line;      /* LFs in data[0..body_start) */
	bool have_content_type;
};

struct frame {
	struct node *node;
	const char *boundary;
	size_t len;
	uint32_t hash;
};

struct parser {
	const char *data;
	size_t len;
	size_t pos;                  /* always at the start of a line */
	size_t line;                 /* LFs in data[0..pos) */
	struct frame frames[MIME_MAX_DEPTH];
	size_t frame_count;
	size_t part_count;
	struct node *all;
};

/* FNV-1a: boundaries are short; this only filters candidate lines. */
static uint32_t hash_step(uint32_t h, unsigned char c)
{
	return (h ^ c) * 16777619u;
}

#define HASH_INIT 2166136261u

static char *lowercase_dup(const char *s, size_t len)
{
	char *r = xmemdupz(s, len);
	for (size_t i = 0; i < len; i++) {
		if (r[i] >= 'A' && r[i] <= 'Z')
			r[i] = (char)(r[i] - 'A' + 'a');
	}
	return r;
}

/* ---- structured field lexing (RFC 2045 §5.1, RFC 822 comments) ---- */

struct lex {
	const char *s;
	size_t len;
	size_t pos;
};

static void lex_cfws(struct lex *lx)
{
	while (lx->pos < lx->len) {
		char c = lx->s[lx->pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->pos++;
			continue;
		}
		if (c != '(')
			break;
		/* Comments nest (RFC 5322 §3.2.2); an unterminated one runs
		 * to the end of the field. */
		unsigned int level = 0;
		while (lx->pos < lx->len) {
			c = lx->s[lx->pos++];
			if (c == '\\' && lx->pos < lx->len)
				lx->pos++;
			else if (c == '(')
				level++;
			else if (c == ')' && --level == 0)
				break;
		}
	}
}

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token; 8-bit bytes are tolerated. */
static bool lex_token(struct lex *lx, size_t *start_r, size_t *len_r)
{
	size_t start = lx->pos;

	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		if (c <= 32 || c == 127 || is_tspecial(c))
			break;
		lx->pos++;
	}
	*start_r = start;
	*len_r = lx->pos - start;
	return *len_r > 0;
}

/* A quoted string (unescaped) or, leniently, any run of bytes up to the
 * next ';', whitespace, quote or comment: unquoted values with tspecials
 * such as "boundary=----=_Part_1" are common. */
static void lex_value(struct lex *lx, struct strbuf *out)
{
	if (lx->pos < lx->len && lx->s[lx->pos] == '"') {
		lx->pos++;
		while (lx->pos < lx->len) {
			char c = lx->s[lx->pos++];
			if (c == '"')
				return;
			if (c == '\\' && lx->pos < lx->len)
				c = lx->s[lx->pos++];
			if (c == '\r' || c == '\n')
				continue;
			strbuf_appendc(out, c);
		}
		return;
	}
	size_t start = lx->pos;
	while (lx->pos < lx->len) {
		unsigned char c = (unsigned char)lx->s[lx->pos];
		if (c == ';' || c <= 32 || c == '"' || c == '(' || c == 127)
			break;
		lx->pos++;
	}
	strbuf_append(out, lx->s + start, lx->pos - start);
}

/* ---- parameters and RFC 2231 ---- */

struct raw_param {
	char *name;                  /* lowercased */
	size_t base_len;             /* name length without the 2231 suffix */
	int section;                 /* -2 plain, -1 "name*", else section */
	bool extended;               /* value is charset'lang'%XX encoded */
	char *value;
	size_t value_len;
	size_t order;
};

static void raw_param_classify(struct raw_param *r)
{
	size_t name_len = strlen(r->name);
	const char *star = memchr(r->name, '*', name_len);

	r->section = -2;
	r->extended = false;
	r->base_len = name_len;
	if (star == NULL || star == r->name)
		return;
	size_t base_len = (size_t)(star - r->name);
	const char *rest = star + 1;
	size_t rest_len = name_len - base_len - 1;
	if (rest_len == 0) {
		/* RFC 2231 §4: name*=charset'lang'value */
		r->section = -1;
		r->extended = true;
		r->base_len = base_len;
		return;
	}
	size_t digits = 0;
	int section = 0;
	while (digits < rest_len && rest[digits] >= '0' && rest[digits] <= '9') {
		if (section <= MIME_MAX_SECTION)
			section = section * 10 + (rest[digits] - '0');
		digits++;
	}
	if (digits == 0 || section > MIME_MAX_SECTION)
		return;
	if (digits + 1 == rest_len && rest[digits] == '*')
		r->extended = true;
	else if (digits != rest_len)
		return;
	/* RFC 2231 §3: no leading zeros ("name*01") except section 0. */
	if (digits > 1 && rest[0] == '0')
		return;
	r->section = section;
	r->base_len = base_len;
}

static int raw_param_cmp(const void *a, const void *b)
{
	const struct raw_param *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->name, y->name, n);

	if (c != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void percent_decode(const char *s, size_t len, struct strbuf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len &&
		    (hi = hexval(s[i + 1])) >= 0 && (lo = hexval(s[i + 2])) >= 0) {
			strbuf_appendc(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			strbuf_appendc(out, s[i]);
		}
	}
}

struct param_out {
	struct mime_param param;
	size_t order;
};

static int param_out_cmp(const void *a, const void *b)
{
	const struct param_out *x = a, *y = b;
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* Joins one group of raw parameters sharing a base name (sorted by
 * section) into a value; returns false when the group yields nothing. */
static bool param_group_value(struct raw_param *g, size_t n,
			      struct strbuf *value)
{
	size_t i = 0;
	const char *charset = NULL;
	size_t charset_len = 0;
	struct strbuf bytes = STRBUF_INIT;
	bool found = false;

	/* Skip plain forms when an RFC 2231 form exists; they come first
	 * (section -2) in the sorted group. */
	size_t first_2231 = 0;
	while (first_2231 < n && g[first_2231].section == -2)
		first_2231++;
	if (first_2231 == n) {
		strbuf_append(value, g[0].value, g[0].value_len);
		return true;
	}
	i = first_2231;
	if (g[i].section == -1) {
		/* name*=: a single extended value; continuations are not
		 * mixed with it. */
		n = i + 1;
	} else if (g[i].section != 0) {
		/* No section 0: the continuations are unusable. */
		if (first_2231 > 0) {
			strbuf_append(value, g[0].value, g[0].value_len);
			return true;
		}
		return false;
	}

	int expect = g[i].section == -1 ? -1 : 0;
	for (; i < n; i++) {
		const char *v = g[i].value;
		size_t vlen = g[i].value_len;
		if (g[i].section < expect)
			continue;          /* duplicate section */
		if (g[i].section > expect)
			break;             /* gap: RFC 2231 §3 */
		if (g[i].extended && (expect == 0 || expect == -1)) {
			/* RFC 2231 §4: charset'language'value; leniently
			 * accept a missing charset part. */
			const char *q1 = memchr(v, '\'', vlen);
			const char *q2 = q1 == NULL ? NULL :
				memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v));
			if (q2 != NULL) {
				charset = v;
				charset_len = (size_t)(q1 - v);
				vlen -= (size_t)(q2 + 1 - v);
				v = q2 + 1;
			}
		}
		if (g[i].extended)
			percent_decode(v, vlen, &bytes);
		else
			strbuf_append(&bytes, v, vlen);
		found = true;
		expect = expect == -1 ? 0 : expect + 1;
		if (g[i].section == -1)
			break;
	}
	if (found) {
		if (charset != NULL && charset_len > 0)
			mime_charset_to_utf8(charset, charset_len,
					     strbuf_str(&bytes), bytes.len,
					     value);
		else
			strbuf_append(value, strbuf_str(&bytes), bytes.len);
	}
	strbuf_free(&bytes);
	return found;
}

static void params_parse(struct lex *lx, struct mime_param **params_r,
			 size_t *count_r)
{
	struct raw_param raw[MIME_MAX_RAW_PARAMS];
	size_t raw_count = 0;
	struct strbuf value = STRBUF_INIT;

	while (lx->pos < lx->len) {
		lex_cfws(lx);
		if (lx->pos >= lx->len)
			break;
		if (lx->s[lx->pos] == ';') {
			lx->pos++;
			continue;
		}
		size_t name_start, name_len;
		if (!lex_token(lx, &name_start, &name_len)) {
			lx->pos++;        /* junk byte */
			continue;
		}
		lex_cfws(lx);
		if (lx->pos >= lx->len || lx->s[lx->pos] != '=') {
			/* Not attribute=value: skip to the next ';'. */
			while (lx->pos < lx->len && lx->s[lx->pos] != ';')
				lx->pos++;
			continue;
		}
		lx->pos++;
		lex_cfws(lx);
		strbuf_reset(&value);
		lex_value(lx, &value);
		if (raw_count == MIME_MAX_RAW_PARAMS)
			continue;
		struct raw_param *r = &raw[raw_count];
		r->name = lowercase_dup(lx->s + name_start, name_len);
		r->value = xmemdupz(strbuf_str(&value), value.len);
		r->value_len = value.len;
		r->order = raw_count;
		raw_param_classify(r);
		raw_count++;
	}
	strbuf_free(&value);

	*params_r = NULL;
	*count_r = 0;
	if (raw_count == 0)
		return;

	qsort(raw, raw_count, sizeof(raw[0]), raw_param_cmp);
	struct param_out *out = xcalloc(raw_count, sizeof(*out));
	size_t out_count = 0;
	for (size_t i = 0; i < raw_count;) {
		size_t j = i + 1;
		size_t order = raw[i].order;
		while (j < raw_count && raw[j].base_len == raw[i].base_len &&
		       memcmp(raw[j].name, raw[i].name, raw[i].base_len) == 0) {
			if (raw[j].order < order)
				order = raw[j].order;
			j++;
		}
		struct strbuf v = STRBUF_INIT;
		if (param_group_value(raw + i, j - i, &v)) {
			out[out_count].param.name = xmemdupz(raw[i].name,
							     raw[i].base_len);
			out[out_count].param.value = mime_strbuf_take(&v);
			out[out_count].order = order;
			out_count++;
		}
		strbuf_free(&v);
		i = j;
	}
	for (size_t i = 0; i < raw_count; i++) {
		free(raw[i].name);
		free(raw[i].value);
	}
	qsort(out, out_count, sizeof(out[0]), param_out_cmp);
	if (out_count > 0) {
		struct mime_param *params = xcalloc(out_count, sizeof(*params));
		for (size_t i = 0; i < out_count; i++)
			params[i] = out[i].param;
		*params_r = params;
		*count_r = out_count;
	}
	free(out);
}

static void params_free(struct mime_param *params, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(params[i].name);
		free(params[i].value);
	}
	free(params);
}

const char *mime_param_get(const struct mime_param *params, size_t count,
			   const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(params[i].name, name) == 0)
			return params[i].value;
	}
	return NULL;
}

/* ---- Content-* header fields ---- */

static void content_type_parse(struct node *n, const char *v, size_t len)
{
	struct lex lx = { v, len, 0 };
	size_t t_start, t_len, s_start, s_len;

	lex_cfws(&lx);
	if (!lex_token(&lx, &t_start, &t_len))
		return;
	lex_cfws(&lx);
	if (lx.pos >= lx.len || v[lx.pos] != '/')
		return;
	lx.pos++;
	lex_cfws(&lx);
	if (!lex_token(&lx, &s_start, &s_len))
		return;
	/* RFC 2045 §5.2: only a syntactically valid type/subtype counts;
	 * otherwise the default applies. */
	n->part.type = lowercase_dup(v + t_start, t_len);
	n->part.subtype = lowercase_dup(v + s_start, s_len);
	n->have_content_type = true;
	params_parse(&lx, &n->part.params, &n->part.param_count);
}

static void content_disposition_parse(struct node *n, const char *v,
				      size_t len)
{
	struct lex lx = { v, len, 0 };
	size_t start, tlen;

	lex_cfws(&lx);
	if (!lex_token(&lx, &start, &tlen))
		return;
	n->part.disposition = lowercase_dup(v + start, tlen);
	params_parse(&lx, &n->part.disposition_params,
		     &n->part.disposition_param_count);
}

/* RFC 3282: Content-Language is a comma-separated list of tags. */
static void content_language_parse(struct node *n, const char *v, size_t len)
{
	struct lex lx = { v, len, 0 };
	char **langs = NULL;
	size_t count = 0;

	for (;;) {
		lex_cfws(&lx);
		if (lx.pos >= len)
			break;
		size_t start = lx.pos;
		while (lx.pos < len && strchr(",;() \t\r\n\"", v[lx.pos]) == NULL)
			lx.pos++;
		if (lx.pos == start) {
			lx.pos++;
			continue;
		}
		if (count == MIME_MAX_LANGUAGES)
			break;
		langs = xrealloc(langs, (count + 1) * sizeof(*langs));
		langs[count++] = xmemdupz(v + start, lx.pos - start);
	}
	n->part.languages = langs;
	n->part.language_count = count;
}

static void content_encoding_parse(struct node *n, const char *v, size_t len)
{
	struct lex lx = { v, len, 0 };
	size_t start, tlen;

	lex_cfws(&lx);
	if (lex_token(&lx, &start, &tlen))
		n->part.encoding = lowercase_dup(v + start, tlen);
}

static void field_process(struct parser *p, struct node *n,
			  const struct mime_field *f)
{
	static const char prefix[] = "content-";
	const size_t plen = sizeof(prefix) - 1;

	if (f->name_len <= plen ||
	    strncasecmp(p->data + f->start, prefix, plen) != 0)
		return;

	struct mime_field sub = *f;
	sub.start += plen;
	sub.name_len -= plen;
	struct strbuf v = STRBUF_INIT;
	const char *d = p->data;

	/* The first occurrence of each field counts. */
	if (mime_field_name_is(d, &sub, "type")) {
		if (!n->have_content_type) {
			mime_field_value(d, f, &v);
			content_type_parse(n, strbuf_str(&v), v.len);
		}
	} else if (mime_field_name_is(d, &sub, "transfer-encoding")) {
		if (n->part.encoding == NULL) {
			mime_field_value(d, f, &v);
			content_encoding_parse(n, strbuf_str(&v), v.len);
		}
	} else if (mime_field_name_is(d, &sub, "id")) {
		if (n->part.content_id == NULL) {
			mime_field_value(d, f, &v);
			n->part.content_id = mime_strbuf_take(&v);
		}
	} else if (mime_field_name_is(d, &sub, "description")) {
		if (n->part.content_description == NULL) {
			mime_field_value(d, f, &v);
			n->part.content_description = mime_strbuf_take(&v);
		}
	} else if (mime_field_name_is(d, &sub, "md5")) {
		if (n->part.content_md5 == NULL) {
			mime_field_value(d, f, &v);
			n->part.content_md5 = mime_strbuf_take(&v);
		}
	} else if (mime_field_name_is(d, &sub, "disposition")) {
		if (n->part.disposition == NULL) {
			mime_field_value(d, f, &v);
			content_disposition_parse(n, strbuf_str(&v), v.len);
		}
	} else if (mime_field_name_is(d, &sub, "language")) {
		if (n->part.languages == NULL) {
			mime_field_value(d, f, &v);
			content_language_parse(n, strbuf_str(&v), v.len);
		}
	} else if (mime_field_name_is(d, &sub, "location")) {
		if (n->part.location == NULL) {
			mime_field_value(d, f, &v);
			n->part.location = mime_strbuf_take(&v);
		}
	}
	strbuf_free(&v);
}

/* ---- the scanner ---- */

static struct node *node_new(struct parser *p, struct node *up)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->up = up;
	n->depth = up == NULL ? 0 : up->depth + 1;
	n->all_next = p->all;
	p->all = n;
	p->part_count++;
	n->part.header_start = p->pos;
	return n;
}

static size_t next_line(const struct parser *p, size_t pos, bool *had_lf)
{
	const char *nl = memchr(p->data + pos, '\n', p->len - pos);

	*had_lf = nl != NULL;
	return nl == NULL ? p->len : (size_t)(nl - p->data) + 1;
}

/* Is the line [pos, end) a boundary line of an active frame?  RFC 2046
 * §5.1.1: "--" boundary, optionally "--" (close), then optional linear
 * whitespace.  Exact matching (rather than prefix matching) is what lets
 * a nested multipart use a boundary that is a prefix of the outer one.
 * The innermost matching frame wins. */
static bool boundary_match(const struct parser *p, size_t pos, size_t end,
			   size_t *frame_r, bool *close_r)
{
	const char *d = p->data;

	if (p->frame_count == 0 || end - pos < 3 || d[pos] != '-' ||
	    d[pos + 1] != '-')
		return false;
	size_t start = pos + 2;
	while (end > start && (d[end - 1] == '\n' || d[end - 1] == '\r' ||
			       d[end - 1] == ' ' || d[end - 1] == '\t'))
		end--;
	size_t n = end - start;
	if (n == 0 || n > MIME_MAX_BOUNDARY_LEN + 2)
		return false;

	uint32_t h = HASH_INIT, h_short = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == n - 2)
			h_short = h;
		h = hash_step(h, (unsigned char)d[start + i]);
	}
	if (n == 2)
		h_short = HASH_INIT;
	bool dashes = n >= 2 && d[end - 1] == '-' && d[end - 2] == '-';

	for (size_t k = p->frame_count; k-- > 0;) {
		const struct frame *f = &p->frames[k];
		if (f->len == n && f->hash == h &&
		    memcmp(f->boundary, d + start, n) == 0) {
			*frame_r = k;
			*close_r = false;
			return true;
		}
		if (dashes && f->len + 2 == n && f->hash == h_short &&
		    memcmp(f->boundary, d + start, f->len) == 0) {
			*frame_r = k;
			*close_r = true;
			return true;
		}
	}
	return false;
}

/* Parses the header block at p->pos into n, and leaves p->pos at the body.
 * The header ends at the blank line, at a boundary line of an enclosing
 * multipart, or at a line that is neither a field nor a continuation
 * (then the body starts with that line: there was no separator). */
static void header_parse(struct parser *p, struct node *n)
{
	struct mime_field f;
	bool pending = false;
	size_t frame;
	bool close, had_lf;

	n->part.header_start = p->pos;
	for (;;) {
		size_t pos = p->pos;
		if (pos >= p->len) {
			n->part.header_end = p->len;
			break;
		}
		size_t end = next_line(p, pos, &had_lf);
		const char *d = p->data;
		if (d[pos] == '\n' || (d[pos] == '\r' && pos + 1 < p->len &&
				       d[pos + 1] == '\n')) {
			p->pos = end;
			p->line++;
			n->part.header_end = end;
			break;
		}
		if (d[pos] == ' ' || d[pos] == '\t') {
			/* Continuation (or a stray one at the top). */
			p->pos = end;
			p->line += had_lf;
			if (pending)
				f.end = end;
			continue;
		}
		if (boundary_match(p, pos, end, &frame, &close)) {
			n->part.header_end = pos;
			break;
		}
		size_t colon;
		size_t name_len = mime_field_name_len(d, pos, end, &colon);
		if (name_len == 0) {
			n->part.header_end = pos;
			break;
		}
		if (pending)
			field_process(p, n, &f);
		f.start = pos;
		f.name_len = name_len;
		f.value_start = colon + 1;
		f.end = end;
		pending = true;
		p->pos = end;
		p->line += had_lf;
	}
	if (pending)
		field_process(p, n, &f);
	n->part.body_start = n->part.header_end;
	n->body_start_line = p->line;
}

static void part_set_type(struct mime_part *part, const char *type,
			  const char *subtype)
{
	free(part->type);
	free(part->subtype);
	part->type = xstrdup(type);
	part->subtype = xstrdup(subtype);
}

static void part_apply_defaults(struct node *n)
{
	if (n->have_content_type) {
		/* RFC 2046 §4.1.2: a text part without a charset parameter
		 * is US-ASCII.  Say so in BODYSTRUCTURE, as UW and Dovecot
		 * do, so clients need not know the default. */
		struct mime_part *part = &n->part;
		if (strcmp(part->type, "text") == 0 &&
		    mime_param_get(part->params, part->param_count,
				   "charset") == NULL) {
			part->params = xrealloc(part->params,
				(part->param_count + 1) * sizeof(*part->params));
			part->params[part->param_count].name =
				xstrdup("charset");
			part->params[part->param_count].value =
				xstrdup("us-ascii");
			part->param_count++;
		}
		return;
	}
	/* RFC 2046 §5.1.5: in a digest the default is message/rfc822. */
	const struct mime_part *parent = n->up == NULL ? NULL : &n->up->part;
	if (parent != NULL && parent->type != NULL && n->up->message != n &&
	    strcmp(parent->type, "multipart") == 0 &&
	    strcmp(parent->subtype, "digest") == 0) {
		part_set_type(&n->part, "message", "rfc822");
		return;
	}
	/* RFC 2045 §5.2 */
	part_set_type(&n->part, "text", "plain");
	n->part.params = xcalloc(1, sizeof(*n->part.params));
	n->part.params[0].name = xstrdup("charset");
	n->part.params[0].value = xstrdup("us-ascii");
	n->part.param_count = 1;
}

/* A multipart or message part that cannot be descended into (nesting or
 * part-count limit, no boundary, an encoded message/rfc822) becomes an
 * opaque application/octet-stream leaf, as Dovecot does on overflow: its
 * BODYSTRUCTURE stays well-formed and the bytes remain fetchable. */
static void part_make_opaque(struct node *n)
{
	part_set_type(&n->part, "application", "octet-stream");
	params_free(n->part.params, n->part.param_count);
	n->part.params = NULL;
	n->part.param_count = 0;
}

static bool encoding_is_identity(const char *enc)
{
	return enc == NULL || strcmp(enc, "7bit") == 0 ||
		strcmp(enc, "8bit") == 0 || strcmp(enc, "binary") == 0;
}

/* After the header: opens the part as a container if it is one.  Returns
 * the encapsulated message's node for message/rfc822, else NULL. */
static struct node *part_body_enter(struct parser *p, struct node *n)
{
	struct mime_part *part = &n->part;
	bool room = n->depth + 1 < MIME_MAX_DEPTH &&
		p->part_count < MIME_MAX_PARTS;

	if (strcmp(part->type, "multipart") == 0) {
		const char *b = mime_param_get(part->params, part->param_count,
					       "boundary");
		size_t blen = b == NULL ? 0 : strlen(b);
		if (!room || blen == 0 || blen > MIME_MAX_BOUNDARY_LEN ||
		    p->frame_count == MIME_MAX_DEPTH) {
			part_make_opaque(n);
			return NULL;
		}
		struct frame *f = &p->frames[p->frame_count++];
		f->node = n;
		f->boundary = b;
		f->len = blen;
		f->hash = HASH_INIT;
		for (size_t i = 0; i < blen; i++)
			f->hash = hash_step(f->hash, (unsigned char)b[i]);
		return NULL;
	}
	if (strcmp(part->type, "message") == 0 &&
	    (strcmp(part->subtype, "rfc822") == 0 ||
	     strcmp(part->subtype, "global") == 0)) {
		if (!room || !encoding_is_identity(part->encoding)) {
			part_make_opaque(n);
			return NULL;
		}
		struct node *m = node_new(p, n);
		n->message = m;
		return m;
	}
	return NULL;
}

static void node_close(struct node *n, size_t end, size_t lfs_to_end,
		       const char *data)
{
	size_t start = n->part.body_start;

	if (end < start && end >= n->part.header_start) {
		/* A header cut off by a boundary with no blank line: the
		 * CRLF the header took as its last line end belongs to the
		 * delimiter (RFC 2046 §5.1.1), so BODY[n.MIME] must not
		 * include it (Dovecot agrees). */
		n->part.header_end = end;
		n->part.body_start = end;
		start = end;
	}
	if (end <= start) {
		n->part.body_end = start;
		n->part.body_lines = 0;
		return;
	}
	n->part.body_end = end;
	/* Lines: LFs in the body, plus a last line without one. */
	n->part.body_lines = lfs_to_end - n->body_start_line +
		(data[end - 1] != '\n' ? 1 : 0);
}

static void node_append_child(struct node *parent, struct node *child)
{
	if (parent->last_child == NULL)
		parent->first_child = child;
	else
		parent->last_child->next = child;
	parent->last_child = child;
	parent->child_count++;
}

static void node_export(struct node *n, struct mime_part *dst,
			struct mime_part *parent)
{
	*dst = n->part;
	dst->parent = parent;
	dst->children = NULL;
	dst->child_count = 0;
	dst->message = NULL;
	if (n->child_count > 0) {
		dst->children = xcalloc(n->child_count, sizeof(*dst->children));
		size_t i = 0;
		for (struct node *c = n->first_child; c != NULL; c = c->next)
			node_export(c, &dst->children[i++], dst);
		dst->child_count = n->child_count;
	}
	if (n->message != NULL) {
		dst->message = xcalloc(1, sizeof(*dst->message));
		node_export(n->message, dst->message, dst);
	}
}

struct mime_message *mime_parse(const char *data, size_t len)
{
	struct mime_message *msg = xcalloc(1, sizeof(*msg));
	struct parser *p = xcalloc(1, sizeof(*p));

	if (data == NULL)
		len = 0;
	msg->data = data == NULL ? "" : data;
	msg->len = len;
	p->data = msg->data;
	p->len = len;

	struct node *root = node_new(p, NULL);
	struct node *cur = root;
	bool need_header = true;

	for (;;) {
		if (need_header) {
			header_parse(p, cur);
			part_apply_defaults(cur);
			struct node *m = part_body_enter(p, cur);
			if (m != NULL) {
				cur = m;
				continue;
			}
			need_header = false;
		}

		/* Scan the body for the next boundary line. */
		size_t frame = 0;
		bool close = false, found = false, had_lf;
		while (p->pos < p->len) {
			size_t end;
			if (p->frame_count == 0) {
				/* Nothing can end the part but the end. */
				const char *s = p->data + p->pos;
				const char *e = p->data + p->len;
				while ((s = memchr(s, '\n', (size_t)(e - s)))) {
					p->line++;
					s++;
				}
				p->pos = p->len;
				break;
			}
			end = next_line(p, p->pos, &had_lf);
			if (boundary_match(p, p->pos, end, &frame, &close) &&
			    (close || p->part_count < MIME_MAX_PARTS)) {
				found = true;
				break;
			}
			p->pos = end;
			p->line += had_lf;
		}
		if (!found) {
			for (struct node *n = cur; n != NULL; n = n->up)
				node_close(n, p->len, p->line, p->data);
			break;
		}

		/* RFC 2046 §5.1.1: the CRLF before the boundary belongs to
		 * the boundary, not to the part before it. */
		size_t at = p->pos;
		size_t eol = 0;
		if (at >= 1 && p->data[at - 1] == '\n')
			eol = at >= 2 && p->data[at - 2] == '\r' ? 2 : 1;
		struct node *mp = p->frames[frame].node;
		for (struct node *n = cur; n != mp; n = n->up)
			node_close(n, at - eol, p->line - (eol > 0), p->data);
		p->pos = next_line(p, at, &had_lf);
		p->line += had_lf;

		if (close) {
			/* The epilogue runs to the next outer boundary. */
			p->frame_count = frame;
			cur = mp;
			continue;
		}
		p->frame_count = frame + 1;
		struct node *child = node_new(p, mp);
		node_append_child(mp, child);
		cur = child;
		need_header = true;
	}

	node_export(root, &msg->root, NULL);
	for (struct node *n = p->all, *next; n != NULL; n = next) {
		next = n->all_next;
		free(n);
	}
	free(p);
	return msg;
}

static void part_free(struct mime_part *part)
{
	free(part->type);
	free(part->subtype);
	params_free(part->params, part->param_count);
	free(part->content_id);
	free(part->content_description);
	free(part->encoding);
	free(part->content_md5);
	free(part->disposition);
	params_free(part->disposition_params, part->disposition_param_count);
	for (size_t i = 0; i < part->language_count; i++)
		free(part->languages[i]);
	free(part->languages);
	free(part->location);
	for (size_t i = 0; i < part->child_count; i++)
		part_free(&part->children[i]);
	free(part->children);
	if (part->message != NULL) {
		part_free(part->message);
		free(part->message);
	}
}

void mime_message_free(struct mime_message **msgp)
{
	struct mime_message *msg = *msgp;

	if (msg == NULL)
		return;
	part_free(&msg->root);
	free(msg);
	*msgp = NULL;
}

bool mime_part_is_multipart(const struct mime_part *part)
{
	return part->type != NULL && strcmp(part->type, "multipart") == 0;
}

bool mime_part_is_message(const struct mime_part *part)
{
	return part->message != NULL;
}
