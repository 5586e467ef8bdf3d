/* Allocation that aborts on out-of-memory: callers never check for NULL. */
#ifndef TIDINGS_XALLOC_H
#define TIDINGS_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* memdup that adds a terminating NUL after n bytes. */
char *xmemdupz(const void *p, size_t n);

#endif
