#include "lib/strbuf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/xalloc.h"
#include <stdlib.h>

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	bool fresh = sb->s == NULL;
	sb->s = xrealloc(sb->s, cap);
	sb->cap = cap;
	if (fresh)
		sb->s[0] = '\0';
}

void strbuf_append(struct strbuf *sb, const void *data, size_t len)
{
	strbuf_grow(sb, len);
	if (len > 0)
		memcpy(sb->s + sb->len, data, len);
	sb->len += len;
	sb->s[sb->len] = '\0';
}

void strbuf_appends(struct strbuf *sb, const char *s)
{
	strbuf_append(sb, s, strlen(s));
}

void strbuf_appendc(struct strbuf *sb, char c)
{
	strbuf_grow(sb, 1);
	sb->s[sb->len++] = c;
	sb->s[sb->len] = '\0';
}

void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n <= 0)
		return;
	strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->s != NULL)
		sb->s[0] = '\0';
}

void strbuf_free(struct strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
}

char *strbuf_detach(struct strbuf *sb, size_t *len_r)
{
	if (sb->s == NULL) {
		strbuf_grow(sb, 0);
		sb->s[0] = '\0';
	}
	char *s = sb->s;
	if (len_r != NULL)
		*len_r = sb->len;
	sb->s = NULL;
	sb->len = sb->cap = 0;
	return s;
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->s != NULL ? sb->s : "";
}
