/* ANNOTATE-EXPERIMENT-1 (RFC 5257) grammar: see imap-annotate.h. */
#include "imap/imap-annotate.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

static bool annotate_name_char(unsigned char c, bool pattern)
{
	/* §3.2: no '*', '%' (except as wild cards), no non-ASCII, no NUL;
	 * controls and space are "strongly discouraged": refused here, so
	 * that an entry list can be space-separated (the event's
	 * vnd.tidings.entries).  '"' and '\\' would need quoting. */
	if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
		return false;
	if (c == '*' || c == '%')
		return pattern;
	return true;
}

/* section-part = nz-number *("." nz-number) (RFC 3501 §9) */
static bool annotate_section_part_valid(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (s[i] < '1' || s[i] > '9')
			return false;
		size_t digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			i++;
			if (++digits > 9)     /* fits in a uint32 */
				return false;
		}
		if (i == len)
			return true;
		if (s[i] != '.' || i + 1 == len)
			return false;
		i++;
	}
	return false;
}

bool imap_annotate_entry_valid(const char *s, size_t len, bool pattern)
{
	if (len > IMAP_ANNOTATE_ENTRY_MAX || strlen(s) != len)
		return false;
	/* a pattern may start with a wild card ("*" matches every entry,
	 * §4.8's example) */
	if (pattern && len >= 1 && (s[0] == '*' || s[0] == '%')) {
		for (size_t i = 0; i < len; i++) {
			if (!annotate_name_char((unsigned char)s[i], true) ||
			    (s[i] == '/' && (i + 1 == len || s[i + 1] == '/')))
				return false;
		}
		return true;
	}
	if (len < 2 || s[0] != '/')
		return false;
	/* §3.2: no "//", no trailing '/' */
	for (size_t i = 0; i < len; i++) {
		if (!annotate_name_char((unsigned char)s[i], pattern))
			return false;
		if (s[i] == '/' && (i + 1 == len || s[i + 1] == '/'))
			return false;
	}
	const char *first = s + 1;
	const char *slash = memchr(first, '/', len - 1);
	size_t first_len = slash ? (size_t)(slash - first) : len - 1;
	/* §3.5: /flags is reserved and MUST NOT be used.  A pattern such as
	 * "/%" may still match past it (nothing is stored there). */
	if (first_len == 5 && memcmp(first, "flags", 5) == 0)
		return false;
	/* §3.2.1: an entry starting with a digit names a body part; the
	 * part specifier must be well formed, and the part's top-level
	 * entry holds no attributes, so "/1" alone is no entry. */
	if (!pattern && first[0] >= '0' && first[0] <= '9') {
		if (!annotate_section_part_valid(first, first_len))
			return false;
		if (slash == NULL)
			return false;
	}
	return true;
}

bool imap_annotate_entry_match(const char *pattern, const char *entry)
{
	/* Dynamic programming over (pattern position, entry position): time
	 * O(|pattern| * |entry|) whatever the pattern, where backtracking
	 * could take exponential time on "%a%a%a%a..." patterns.
	 * cur[j]: the pattern so far matches the first j bytes of entry. */
	size_t elen = strlen(entry);
	if (elen > IMAP_ANNOTATE_ENTRY_MAX)
		return false;
	bool cur[IMAP_ANNOTATE_ENTRY_MAX + 1], next[IMAP_ANNOTATE_ENTRY_MAX + 1];
	memset(cur, 0, sizeof(cur));
	cur[0] = true;
	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p == '*') {
			bool any = false;
			for (size_t j = 0; j <= elen; j++) {
				any = any || cur[j];
				next[j] = any;
			}
		} else if (*p == '%') {
			/* as '*', but the run restarts after each '/' */
			bool any = false;
			for (size_t j = 0; j <= elen; j++) {
				if (j > 0 && entry[j - 1] == '/')
					any = false;
				any = any || cur[j];
				next[j] = any;
			}
		} else {
			next[0] = false;
			for (size_t j = 1; j <= elen; j++)
				next[j] = cur[j - 1] && entry[j - 1] == *p;
		}
		memcpy(cur, next, (elen + 1) * sizeof(bool));
	}
	return cur[elen];
}

bool imap_annotate_attr_parse(const char *s, size_t len, bool store,
			      unsigned int *bits_r)
{
	*bits_r = 0;
	if (len == 0 || len > 64 || strlen(s) != len)
		return false;
	/* §3.2: components separated by '.', no "..", no trailing '.' */
	for (size_t i = 0; i < len; i++) {
		if (!annotate_name_char((unsigned char)s[i], false) ||
		    s[i] == '/')
			return false;
		if (s[i] == '.' && (i == 0 || i + 1 == len || s[i + 1] == '.'))
			return false;
	}
	const char *dot = memchr(s, '.', len);
	size_t base_len = dot ? (size_t)(dot - s) : len;
	const char *suffix = dot ? dot + 1 : NULL;
	bool priv = false, shared = false;
	if (suffix == NULL) {
		priv = shared = true;
	} else if (strcasecmp(suffix, "priv") == 0) {
		priv = true;
	} else if (strcasecmp(suffix, "shared") == 0) {
		shared = true;
	} else {
		/* "a.priv.b" and the like: §3.2 reserves the components priv
		 * and shared for the suffix */
		for (const char *p = s; p != NULL && p < s + len;) {
			const char *e = memchr(p, '.', (size_t)(s + len - p));
			size_t l = e ? (size_t)(e - p) : (size_t)(s + len - p);
			if ((l == 4 && strncasecmp(p, "priv", 4) == 0) ||
			    (l == 6 && strncasecmp(p, "shared", 6) == 0))
				return false;
			p = e ? e + 1 : NULL;
		}
		/* an attribute Tidings does not have (a vendor's, say) */
		return !store;
	}
	bool value = base_len == 5 && strncasecmp(s, "value", 5) == 0;
	bool size = base_len == 4 && strncasecmp(s, "size", 4) == 0;
	if (store) {
		/* §3.3: STORE and APPEND MUST give the suffix; size is
		 * read-only (§3.2.2) */
		return value && suffix != NULL;
	}
	if (value)
		*bits_r = (priv ? IMAP_ANNOTATE_VALUE_PRIV : 0) |
			  (shared ? IMAP_ANNOTATE_VALUE_SHARED : 0);
	else if (size)
		*bits_r = (priv ? IMAP_ANNOTATE_SIZE_PRIV : 0) |
			  (shared ? IMAP_ANNOTATE_SIZE_SHARED : 0);
	return true;
}

/* ---- FETCH ---- */

void imap_annotate_fetch_free(struct imap_annotate_fetch **fetch)
{
	struct imap_annotate_fetch *f = *fetch;
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->entry_count; i++)
		free(f->entries[i]);
	free(f->entries);
	free(f);
	*fetch = NULL;
}

int imap_annotate_fetch_parse(const struct imap_arg *arg,
			      struct imap_annotate_fetch **fetch_r,
			      const char **error_r)
{
	*fetch_r = NULL;
	if (arg == NULL || arg->type != IMAP_ARG_LIST || arg->count != 2) {
		*error_r = "ANNOTATION needs (entries attributes)";
		return -1;
	}
	const struct imap_arg *ents = &arg->list[0], *atts = &arg->list[1];
	const struct imap_arg *elist = ents, *alist = atts;
	size_t ecount = 1, acount = 1;
	if (ents->type == IMAP_ARG_LIST) {
		elist = ents->list;
		ecount = ents->count;
	}
	if (atts->type == IMAP_ARG_LIST) {
		alist = atts->list;
		acount = atts->count;
	}
	if (ecount == 0 || acount == 0) {
		*error_r = "Empty ANNOTATION entry or attribute list";
		return -1;
	}
	if (ecount > IMAP_ANNOTATE_FETCH_ENTRIES_MAX || acount > 16) {
		*error_r = "Too many ANNOTATION entries or attributes";
		return -1;
	}
	struct imap_annotate_fetch *f = xcalloc(1, sizeof(*f));
	f->entries = xcalloc(ecount, sizeof(char *));
	for (size_t i = 0; i < ecount; i++) {
		const char *s;
		size_t len;
		/* entry-match = list-mailbox */
		if (!imap_arg_list_mailbox(&elist[i], &s, &len) ||
		    !imap_annotate_entry_valid(s, len, true)) {
			*error_r = "Invalid annotation entry name";
			goto fail;
		}
		f->entries[f->entry_count++] = xstrdup(s);
	}
	for (size_t i = 0; i < acount; i++) {
		const char *s;
		size_t len;
		unsigned int bits;
		if (!imap_arg_astring(&alist[i], &s, &len) ||
		    !imap_annotate_attr_parse(s, len, false, &bits)) {
			*error_r = "Invalid annotation attribute name";
			goto fail;
		}
		f->attrs |= bits;
	}
	*fetch_r = f;
	return 0;
fail:
	imap_annotate_fetch_free(&f);
	return -1;
}

/* ---- STORE / APPEND ---- */

void imap_annotate_store_free(struct imap_annotate_store *store)
{
	for (size_t i = 0; i < store->count; i++) {
		free(store->items[i].entry);
		free(store->items[i].value);
	}
	free(store->items);
	store->items = NULL;
	store->count = 0;
}

static void annotate_store_put(struct imap_annotate_store *st, size_t *cap,
			       const char *entry, bool priv, const char *value,
			       size_t len)
{
	struct imap_annotate_store_item *it = NULL;
	for (size_t i = 0; i < st->count; i++) {
		if (st->items[i].priv == priv &&
		    strcmp(st->items[i].entry, entry) == 0) {
			it = &st->items[i];
			free(it->value);
			break;
		}
	}
	if (it == NULL) {
		if (st->count == *cap) {
			*cap = *cap ? *cap * 2 : 4;
			st->items = xrealloc(st->items,
					     *cap * sizeof(*st->items));
		}
		it = &st->items[st->count++];
		it->entry = xstrdup(entry);
		it->priv = priv;
	}
	it->value = NULL;
	it->len = 0;
	if (value != NULL) {
		it->value = xmalloc(len + 1);
		memcpy(it->value, value, len);
		it->value[len] = '\0';
		it->len = len;
	}
}

int imap_annotate_store_parse(const struct imap_arg *arg,
			      struct imap_annotate_store *store_r,
			      const char **error_r)
{
	memset(store_r, 0, sizeof(*store_r));
	size_t cap = 0;
	/* att-annotate = "(" entry-att *(SP entry-att) ")"
	 * entry-att = entry SP "(" att-value *(SP att-value) ")" */
	if (arg == NULL || arg->type != IMAP_ARG_LIST || arg->count == 0 ||
	    arg->count % 2 != 0) {
		*error_r = "ANNOTATION needs (entry (attribute value ...) ...)";
		return -1;
	}
	for (size_t i = 0; i < arg->count; i += 2) {
		const char *entry;
		size_t elen;
		if (!imap_arg_astring(&arg->list[i], &entry, &elen) ||
		    !imap_annotate_entry_valid(entry, elen, false)) {
			*error_r = "Invalid annotation entry name";
			goto fail;
		}
		const struct imap_arg *avs = &arg->list[i + 1];
		if (avs->type != IMAP_ARG_LIST || avs->count == 0 ||
		    avs->count % 2 != 0) {
			*error_r = "Annotation entry needs (attribute value ...)";
			goto fail;
		}
		for (size_t j = 0; j < avs->count; j += 2) {
			const char *attr;
			size_t alen;
			unsigned int bits;
			if (!imap_arg_astring(&avs->list[j], &attr, &alen) ||
			    !imap_annotate_attr_parse(attr, alen, true,
						      &bits)) {
				*error_r = "Only value.priv and value.shared "
					   "can be stored";
				goto fail;
			}
			bool priv = strcasecmp(attr + 6, "priv") == 0;
			/* value = nstring / literal8 */
			const struct imap_arg *v = &avs->list[j + 1];
			const char *value = NULL;
			size_t vlen = 0;
			if (v->type == IMAP_ARG_NIL) {
				value = NULL;
			} else if (v->type == IMAP_ARG_QUOTED ||
				   v->type == IMAP_ARG_LITERAL) {
				value = v->str != NULL ? v->str : "";
				vlen = v->len;
			} else {
				*error_r = "Annotation value must be a string "
					   "or NIL";
				goto fail;
			}
			if (store_r->count >= IMAP_ANNOTATE_STORE_ITEMS_MAX) {
				*error_r = "Too many annotations in one command";
				goto fail;
			}
			annotate_store_put(store_r, &cap, entry, priv, value,
					   vlen);
		}
	}
	return 0;
fail:
	imap_annotate_store_free(store_r);
	return -1;
}

void imap_annotate_value_write(struct strbuf *out, const char *value,
			       size_t len)
{
	if (value == NULL) {
		strbuf_appends(out, "NIL");
		return;
	}
	bool quotable = len <= 1024;
	bool nul = false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c == '\0')
			nul = true;
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			quotable = false;
	}
	if (quotable) {
		strbuf_appendc(out, '"');
		strbuf_append(out, value, len);
		strbuf_appendc(out, '"');
		return;
	}
	/* RFC 5257 §3.2.2: binary values use literal8 (RFC 4466) */
	strbuf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	strbuf_append(out, value, len);
}
