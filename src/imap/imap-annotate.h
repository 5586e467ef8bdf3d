/* ANNOTATE-EXPERIMENT-1 (RFC 5257) grammar: entry and attribute names, the
 * FETCH ANNOTATION (entries attribs) item, the STORE / APPEND
 * ANNOTATION (entry (attrib value ...) ...) list, entry wild cards, and the
 * writing of values.  Knows nothing of sessions or storage (part of the
 * core library, fuzzed through fuzz-imap-fetch and fuzz-imap-search).
 *
 * Tidings' rules for names, stricter than RFC 5257 §3.2 only where the
 * RFC "strongly discourages": an entry is '/' then components separated by
 * '/', no "//", no trailing '/', printable ASCII without space, '*', '%'
 * or '"' / '\\', at most IMAP_ANNOTATE_ENTRY_MAX bytes.  Names under
 * /flags are reserved (§3.5) and refused.  An entry whose first component
 * starts with a digit must start with a section-part (§3.2.1). */
#ifndef TIDINGS_IMAP_ANNOTATE_H
#define TIDINGS_IMAP_ANNOTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap-parser.h"
#include "lib/strbuf.h"

#define IMAP_ANNOTATE_ENTRY_MAX 255
/* entry patterns in one FETCH item, entries in one STORE / APPEND */
#define IMAP_ANNOTATE_FETCH_ENTRIES_MAX 100
#define IMAP_ANNOTATE_STORE_ITEMS_MAX 1000

/* Attributes as bits: what a FETCH asks for, what a SEARCH looks at. */
enum imap_annotate_attr {
	IMAP_ANNOTATE_VALUE_PRIV = 1 << 0,
	IMAP_ANNOTATE_VALUE_SHARED = 1 << 1,
	IMAP_ANNOTATE_SIZE_PRIV = 1 << 2,
	IMAP_ANNOTATE_SIZE_SHARED = 1 << 3,
};

/* An entry name (pattern: '*' and '%' allowed as wild cards). */
bool imap_annotate_entry_valid(const char *s, size_t len, bool pattern);
/* RFC 5257 §4.3: '*' matches any characters, '%' any but '/'. */
bool imap_annotate_entry_match(const char *pattern, const char *entry);
/* An attribute name: "value", "size", optionally with ".priv" or
 * ".shared" (store: the suffix is required and only value.* is allowed).
 * *bits_r gets the bits it names; 0 for a valid name Tidings has no such
 * attribute for (FETCH then returns nothing for it).  false: BAD. */
bool imap_annotate_attr_parse(const char *s, size_t len, bool store,
			      unsigned int *bits_r);

/* One stored value as SEARCH looks at it. */
struct imap_annotate_value {
	const char *entry;
	bool priv;            /* value.priv, else value.shared */
	const char *value;
	size_t len;
};

/* FETCH ANNOTATION (entries attribs). */
struct imap_annotate_fetch {
	char **entries;       /* patterns, in the client's order */
	size_t entry_count;
	unsigned int attrs;   /* enum imap_annotate_attr bits */
};
/* arg: the list "(entries attribs)".  0, or -1 with *error_r (BAD). */
int imap_annotate_fetch_parse(const struct imap_arg *arg,
			      struct imap_annotate_fetch **fetch_r,
			      const char **error_r);
void imap_annotate_fetch_free(struct imap_annotate_fetch **fetch);

/* One value to store: value NULL removes it (NIL). */
struct imap_annotate_store_item {
	char *entry;
	bool priv;
	char *value;
	size_t len;
};
struct imap_annotate_store {
	struct imap_annotate_store_item *items;
	size_t count;
};
/* arg: the list "(entry (attrib value ...) ...)" of STORE / APPEND.  The
 * same entry and attribute given twice: the last one counts.  0, or -1
 * with *error_r (BAD). */
int imap_annotate_store_parse(const struct imap_arg *arg,
			      struct imap_annotate_store *store_r,
			      const char **error_r);
void imap_annotate_store_free(struct imap_annotate_store *store);

/* A value as FETCH writes it: NIL, a quoted string, a literal, or a
 * literal8 (RFC 4466) when it holds NUL. */
void imap_annotate_value_write(struct strbuf *out, const char *value,
			       size_t len);

#endif
