/* SORT keys and the RFC 5256 §2.1 base subject.  No store, no session:
 * struct imap_sort_message carries what the comparison needs. */
#include "imap/imap-sort.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
	{ "ARRIVAL", IMAP_SORT_ARRIVAL },
	{ "CC", IMAP_SORT_CC },
	{ "DATE", IMAP_SORT_DATE },
	{ "FROM", IMAP_SORT_FROM },
	{ "SIZE", IMAP_SORT_SIZE },
	{ "SUBJECT", IMAP_SORT_SUBJECT },
	{ "TO", IMAP_SORT_TO },
};

int imap_sort_program_parse(const struct imap_arg *list,
			    struct imap_sort_program *prog_r,
			    const char **error_r)
{
	memset(prog_r, 0, sizeof(*prog_r));
	if (list == NULL || list->type != IMAP_ARG_LIST || list->count == 0) {
		*error_r = "Sort criteria must be a non-empty list";
		return -1;
	}
	bool reverse = false;
	for (size_t i = 0; i < list->count; i++) {
		const char *name;
		if (list->list[i].type != IMAP_ARG_ATOM ||
		    !imap_arg_atom(&list->list[i], &name)) {
			*error_r = "Invalid sort criterion";
			return -1;
		}
		if (strcasecmp(name, "REVERSE") == 0) {
			/* sort-criterion = ["REVERSE" SP] sort-key: once. */
			if (reverse) {
				*error_r = "REVERSE must be followed by a sort key";
				return -1;
			}
			reverse = true;
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof(sort_keys) / sizeof(sort_keys[0]); k++)
			if (strcasecmp(name, sort_keys[k].name) == 0)
				break;
		if (k == sizeof(sort_keys) / sizeof(sort_keys[0])) {
			*error_r = "Unknown sort key";
			return -1;
		}
		if (prog_r->count == IMAP_SORT_MAX_CRITERIA) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		prog_r->criteria[prog_r->count].key = sort_keys[k].key;
		prog_r->criteria[prog_r->count].reverse = reverse;
		prog_r->count++;
		reverse = false;
	}
	if (reverse) {
		*error_r = "REVERSE must be followed by a sort key";
		return -1;
	}
	return 0;
}

bool imap_sort_program_needs_header(const struct imap_sort_program *prog)
{
	for (size_t i = 0; i < prog->count; i++)
		if (prog->criteria[i].key != IMAP_SORT_ARRIVAL &&
		    prog->criteria[i].key != IMAP_SORT_SIZE)
			return true;
	return false;
}

bool imap_sort_charset_supported(const char *charset)
{
	return strcasecmp(charset, "UTF-8") == 0 ||
	       strcasecmp(charset, "US-ASCII") == 0;
}

/* ---- base subject (RFC 5256 §2.1) ---- */

static bool ci_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && strncasecmp(s, prefix, n) == 0;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP; returns its length at s, or 0. */
static size_t subj_blob(const char *s, size_t len)
{
	if (len == 0 || s[0] != '[')
		return 0;
	size_t i = 1;
	while (i < len && s[i] != '[' && s[i] != ']')
		i++;
	if (i == len || s[i] != ']')
		return 0;
	i++;
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" */
static size_t subj_refwd(const char *s, size_t len)
{
	size_t i;
	if (ci_prefix(s, len, "re"))
		i = 2;
	else if (ci_prefix(s, len, "fwd"))
		i = 3;
	else if (ci_prefix(s, len, "fw"))
		i = 2;
	else
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	i += subj_blob(s + i, len - i);
	if (i < len && s[i] == ':')
		return i + 1;
	return 0;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP; length or 0. */
static size_t subj_leader(const char *s, size_t len, bool *refwd_r)
{
	if (len > 0 && s[0] == ' ')
		return 1;
	size_t i = 0, n;
	while ((n = subj_blob(s + i, len - i)) > 0)
		i += n;
	n = subj_refwd(s + i, len - i);
	if (n == 0)
		return 0;
	*refwd_r = true;
	return i + n;
}

static bool has_nonwsp(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ')
			return true;
	return false;
}

bool imap_sort_base_subject(const char *subject, size_t len,
			    struct strbuf *out)
{
	bool reply = false;
	/* (1) tabs and line breaks become spaces, runs of spaces one space.
	 * (RFC 2047 decoding is the caller's part.) */
	if (len > IMAP_SORT_MAX_STRING * 4)
		len = IMAP_SORT_MAX_STRING * 4;
	char *buf = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = subject[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == '\0')
			continue;
		if (c == ' ' && n > 0 && buf[n - 1] == ' ')
			continue;
		buf[n++] = c;
	}
	const char *s = buf;
	size_t l = n;
	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, removed repeatedly. */
		for (;;) {
			if (l > 0 && s[l - 1] == ' ') {
				l--;
			} else if (l >= 5 && strncasecmp(s + l - 5, "(fwd)", 5) == 0) {
				l -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3)-(5): leaders, then a blob when something follows it. */
		for (;;) {
			size_t k;
			bool changed = false;
			while ((k = subj_leader(s, l, &reply)) > 0) {
				s += k;
				l -= k;
				changed = true;
			}
			k = subj_blob(s, l);
			if (k > 0 && has_nonwsp(s + k, l - k)) {
				s += k;
				l -= k;
				changed = true;
			}
			if (!changed)
				break;
		}
		/* (6) "[fwd:" subject "]" */
		if (l >= 6 && ci_prefix(s, l, "[fwd:") && s[l - 1] == ']') {
			s += 5;
			l -= 6;
			reply = true;
			continue;
		}
		break;
	}
	if (l > IMAP_SORT_MAX_STRING)
		l = IMAP_SORT_MAX_STRING;
	strbuf_append(out, s, l);
	free(buf);
	return reply;
}

/* ---- addresses ---- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips a comment starting at v[i] == '('; returns the index after it. */
static size_t skip_comment(const char *v, size_t len, size_t i)
{
	unsigned int depth = 0;
	for (; i < len; i++) {
		if (v[i] == '\\') {
			i++;
		} else if (v[i] == '(') {
			depth++;
		} else if (v[i] == ')') {
			if (--depth == 0)
				return i + 1;
		}
	}
	return len;
}

/* Copies the local part starting at v[i]: quotes removed, comments and
 * whitespace dropped, up to '@', '>', ',' or the end. */
static void local_part_copy(const char *v, size_t len, size_t i,
			    struct strbuf *out)
{
	bool quoted = false;
	size_t start = out->len;
	while (i < len && out->len - start < IMAP_SORT_MAX_STRING) {
		char c = v[i];
		if (quoted) {
			if (c == '\\' && i + 1 < len) {
				strbuf_appendc(out, v[i + 1]);
				i += 2;
				continue;
			}
			if (c == '"')
				quoted = false;
			else if (c != '\r' && c != '\n')
				strbuf_appendc(out, c);
			i++;
			continue;
		}
		if (c == '"') {
			quoted = true;
			i++;
		} else if (c == '(') {
			i = skip_comment(v, len, i);
		} else if (is_wsp(c)) {
			i++;
		} else if (c == '@' || c == '>' || c == ',' || c == ';') {
			break;
		} else {
			strbuf_appendc(out, c);
			i++;
		}
	}
}

void imap_sort_address_mailbox(const char *v, size_t len, struct strbuf *out)
{
	size_t start = 0;
	bool content = false, quoted = false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (c == '(') {
			i = skip_comment(v, len, i) - 1;
		} else if (c == '"') {
			quoted = true;
			content = true;
		} else if (c == '<') {
			/* angle-addr, maybe with an obsolete route "@a,@b:". */
			size_t j = i + 1;
			while (j < len && is_wsp(v[j]))
				j++;
			if (j < len && v[j] == '@') {
				while (j < len && v[j] != ':' && v[j] != '>')
					j++;
				if (j < len && v[j] == ':')
					j++;
			}
			local_part_copy(v, len, j, out);
			return;
		} else if (c == ':') {
			/* A group's display name: its members follow. */
			start = i + 1;
			content = false;
		} else if (c == ',' || c == ';') {
			if (content)
				break;
			start = i + 1;
		} else if (!is_wsp(c)) {
			content = true;
		}
	}
	/* A bare addr-spec (no angle brackets) at [start, ...). */
	local_part_copy(v, len, start, out);
}

int imap_sort_string_compare(const char *a, const char *b)
{
	return strcasecmp(a, b);
}

/* ---- comparison ---- */

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

int imap_sort_compare(const struct imap_sort_program *prog,
		      const struct imap_sort_message *a,
		      const struct imap_sort_message *b)
{
	for (size_t i = 0; i < prog->count; i++) {
		int c = 0;
		switch (prog->criteria[i].key) {
		case IMAP_SORT_ARRIVAL:
			c = cmp_i64(a->arrival, b->arrival);
			break;
		case IMAP_SORT_DATE:
			c = cmp_i64(a->date, b->date);
			break;
		case IMAP_SORT_SIZE:
			c = a->size < b->size ? -1 : a->size > b->size ? 1 : 0;
			break;
		case IMAP_SORT_CC:
			c = imap_sort_string_compare(a->cc, b->cc);
			break;
		case IMAP_SORT_FROM:
			c = imap_sort_string_compare(a->from, b->from);
			break;
		case IMAP_SORT_TO:
			c = imap_sort_string_compare(a->to, b->to);
			break;
		case IMAP_SORT_SUBJECT:
			c = imap_sort_string_compare(a->subject, b->subject);
			break;
		}
		if (c != 0)
			return prog->criteria[i].reverse ? (c < 0 ? 1 : -1) : c;
	}
	/* RFC 5256 §3: the implicit last criterion, unaffected by REVERSE. */
	return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static int sort_cmp(const void *a, const void *b, void *ctx)
{
	return imap_sort_compare(ctx, a, b);
}

void imap_sort_messages(const struct imap_sort_program *prog,
			struct imap_sort_message *msgs, size_t count)
{
	if (count > 1)
		qsort_r(msgs, count, sizeof(*msgs), sort_cmp, (void *)prog);
}
