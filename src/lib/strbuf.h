/* A growable byte string, always NUL-terminated (s[len] == '\0') so it can be
 * used as a C string when it holds text.  Zero-initialise (STRBUF_INIT) to use. */
#ifndef TIDINGS_STRBUF_H
#define TIDINGS_STRBUF_H
#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *s;
	size_t len;
	size_t cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_append(struct strbuf *sb, const void *data, size_t len);
void strbuf_appends(struct strbuf *sb, const char *s);
void strbuf_appendc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Empty the buffer, keeping its memory. */
void strbuf_reset(struct strbuf *sb);
/* Release the memory; the buffer is empty and reusable afterwards. */
void strbuf_free(struct strbuf *sb);
/* Hand the string to the caller (never NULL); the buffer is left empty. */
char *strbuf_detach(struct strbuf *sb, size_t *len_r);
/* A C string view, "" when nothing was ever appended. */
const char *strbuf_str(const struct strbuf *sb);

#endif
