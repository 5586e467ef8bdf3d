/* Keyword sets: the IMAP keywords of a message or a request. */
#include "store/store-private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

/* RFC 3501 §9: flag-keyword = atom; ATOM-CHAR is any CHAR except
 * atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]". */
static bool keyword_char_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

int store_keywords_find(const struct store_keywords *kw, const char *name)
{
	for (size_t i = 0; i < kw->count; i++) {
		/* keywords are ASCII atoms, so ASCII case folding is all */
		if (strcasecmp(kw->names[i], name) == 0)
			return (int)i;
	}
	return -1;
}

static void keywords_push(struct store_keywords *kw, char *name)
{
	if (kw->count == kw->cap) {
		kw->cap = kw->cap ? kw->cap * 2 : 8;
		kw->names = xrealloc(kw->names, kw->cap * sizeof(*kw->names));
	}
	kw->names[kw->count++] = name;
}

bool store_keywords_add(struct store_keywords *kw, const char *name)
{
	if (store_keywords_find(kw, name) >= 0)
		return false;
	keywords_push(kw, xstrdup(name));
	return true;
}

bool store_keywords_remove(struct store_keywords *kw, const char *name)
{
	int i = store_keywords_find(kw, name);
	if (i < 0)
		return false;
	free(kw->names[i]);
	memmove(&kw->names[i], &kw->names[i + 1],
		(kw->count - (size_t)i - 1) * sizeof(*kw->names));
	kw->count--;
	return true;
}

int store_keywords_parse(struct store_keywords *kw, const char *list,
			 struct store_error *err)
{
	if (list == NULL)
		return 0;
	const char *p = list;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		const char *start = p;
		while (*p != ' ' && *p != '\0') {
			if (!keyword_char_ok((unsigned char)*p)) {
				store_error_set(err, STORE_ERR_CANNOT,
						"Invalid keyword");
				return -1;
			}
			p++;
		}
		size_t len = (size_t)(p - start);
		if (len > STORE_KEYWORD_LEN_MAX) {
			store_error_set(err, STORE_ERR_CANNOT,
					"Keyword is too long");
			return -1;
		}
		char *name = xmemdupz(start, len);
		if (store_keywords_find(kw, name) >= 0) {
			free(name);
			continue;
		}
		if (kw->count >= STORE_KEYWORDS_PER_MESSAGE_MAX) {
			free(name);
			store_error_set(err, STORE_ERR_LIMIT,
					"Too many keywords");
			return -1;
		}
		keywords_push(kw, name);
	}
}

void store_keywords_free(struct store_keywords *kw)
{
	for (size_t i = 0; i < kw->count; i++)
		free(kw->names[i]);
	free(kw->names);
	kw->names = NULL;
	kw->count = 0;
	kw->cap = 0;
}

bool store_keywords_equal(const struct store_keywords *a,
			  const struct store_keywords *b)
{
	if (a->count != b->count)
		return false;
	/* both are sets, so one inclusion and equal sizes suffice */
	for (size_t i = 0; i < a->count; i++) {
		if (store_keywords_find(b, a->names[i]) < 0)
			return false;
	}
	return true;
}

void store_keywords_copy(struct store_keywords *dst,
			 const struct store_keywords *src)
{
	for (size_t i = 0; i < src->count; i++)
		store_keywords_add(dst, src->names[i]);
}

void store_keywords_format(const struct store_keywords *kw,
			   struct strbuf *out)
{
	for (size_t i = 0; i < kw->count; i++) {
		if (i > 0)
			strbuf_appendc(out, ' ');
		strbuf_appends(out, kw->names[i]);
	}
}
