/* SEARCH keys (RFC 3501 §6.4.4, MODSEQ from RFC 7162 §3.1.5): parsed once
 * into a tree of nodes, then evaluated per message.
 *
 * Cheap keys (flags, numbers, sets, INTERNALDATE) are sorted before the
 * keys that need the message's header, and those before the keys that need
 * its body, so that AND and OR short-circuit before the message is parsed
 * whenever they can.  Within one imap_search_match() call the MIME tree,
 * the Date: header and the decoded, case-folded header and body text are
 * computed at most once, and only when a key asks for them. */
#include "imap/imap-search.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"
#include "store/store.h"

#define SEARCH_DEFAULT_MAX_DEPTH 32
#define SEARCH_DEFAULT_MAX_KEYS 1000
/* Parsing and matching recurse once per level of nesting. */
#define SEARCH_HARD_MAX_DEPTH 128

enum search_op {
	SEARCH_AND,        /* every child (the top level, "(...)") */
	SEARCH_OR,         /* two children */
	SEARCH_NOT,        /* one child */
	SEARCH_FLAGS,      /* system flags and \Recent; ALL is the empty test */
	SEARCH_KEYWORD,
	SEARCH_SEQSET,
	SEARCH_UIDSET,
	SEARCH_SAVED,      /* "$" (RFC 5182): the saved result */
	SEARCH_LARGER,
	SEARCH_SMALLER,
	SEARCH_MODSEQ,
	SEARCH_BEFORE,
	SEARCH_ON,
	SEARCH_SINCE,
	SEARCH_SENTBEFORE,
	SEARCH_SENTON,
	SEARCH_SENTSINCE,
	SEARCH_OLDER,      /* WITHIN (RFC 5032): number = interval */
	SEARCH_YOUNGER,
	SEARCH_HEADER,     /* FROM, TO, CC, BCC, SUBJECT, HEADER */
	SEARCH_BODY,
	SEARCH_TEXT,
	/* ANNOTATION entry attrib value (RFC 5257 §4.8): field = entry
	 * pattern, flag_mask = attribute bits, str = folded needle */
	SEARCH_ANNOTATION,
};

/* What a key needs from the message: the evaluation order. */
enum search_cost {
	SEARCH_COST_CHEAP,
	SEARCH_COST_HEADER,
	SEARCH_COST_BODY,
};
#define SEARCH_COST_COUNT 3

struct search_node {
	enum search_op op;
	enum search_cost cost;

	struct search_node *children;
	size_t child_count;

	/* SEARCH_FLAGS: (flags & flag_mask) == flag_want, and recent is
	 * -1 (don't care), 0 (must not be recent) or 1 (must be). */
	uint32_t flag_mask;
	uint32_t flag_want;
	int recent;

	uint64_t number;   /* LARGER, SMALLER, MODSEQ */
	int64_t day;       /* date keys: days since 1970-01-01 */

	/* KEYWORD: the keyword; text keys: the case-folded needle. */
	char *str;
	size_t str_len;
	/* HEADER: the field name. */
	char *field;
	size_t field_len;

	/* SEQSET/UIDSET: the set as given, and a copy resolved for the last
	 * '*' value it was used with (so that a run over many messages
	 * resolves it once). */
	struct seqset set;
	struct seqset resolved;
	uint32_t resolved_star;
	bool resolved_valid;
};

struct imap_search {
	struct search_node root;
	bool uses_modseq;
	bool uses_annotations;
};

/* ---- case folding ---- */

/* Simple case folding (Unicode CaseFolding.txt, status C and S) for the
 * scripts whose letters are two-byte UTF-8: Latin-1, Latin Extended-A, the
 * common part of Latin Extended-B, Greek and Cyrillic.  Code points beyond
 * U+07FF are compared as they are. */
static uint32_t search_fold_cp(uint32_t c)
{
	if (c == 0xb5)
		return 0x3bc;                           /* micro sign */
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if ((c >= 0x100 && c <= 0x12f) || (c >= 0x132 && c <= 0x137) ||
	    (c >= 0x14a && c <= 0x177))
		return c | 1;
	if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
		return (c & 1) ? c + 1 : c;
	if (c == 0x178)
		return 0xff;
	if (c == 0x17f)
		return 's';                             /* long s */
	if ((c >= 0x200 && c <= 0x21f) || (c >= 0x222 && c <= 0x233))
		return c | 1;
	/* Greek */
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if ((c >= 0x391 && c <= 0x3a1) || (c >= 0x3a3 && c <= 0x3ab))
		return c + 0x20;
	if (c == 0x3c2)
		return 0x3c3;                           /* final sigma */
	/* Cyrillic */
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) ||
	    (c >= 0x4d0 && c <= 0x52f))
		return c | 1;
	if (c == 0x4c0)
		return 0x4cf;
	if (c >= 0x4c1 && c <= 0x4ce)
		return (c & 1) ? c + 1 : c;
	return c;
}

/* Appends the case-folded form of s to out.  Folding never makes the text
 * longer: ASCII stays one byte, two-byte sequences fold to one or two.
 * Bytes that are not two-byte UTF-8 sequences are copied unchanged, so
 * invalid UTF-8 still compares byte for byte. */
static void search_fold(const char *s, size_t len, struct strbuf *out)
{
	strbuf_grow(out, len);
	const unsigned char *p = (const unsigned char *)s;
	unsigned char *o = (unsigned char *)out->s + out->len;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];

		if (c < 0x80) {
			*o++ = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
			i++;
		} else if (c >= 0xc2 && c <= 0xdf && i + 1 < len &&
			   (p[i + 1] & 0xc0) == 0x80) {
			uint32_t cp = ((uint32_t)(c & 0x1f) << 6) |
				      (p[i + 1] & 0x3f);
			cp = search_fold_cp(cp);
			if (cp < 0x80) {
				*o++ = (unsigned char)cp;
			} else {
				*o++ = (unsigned char)(0xc0 | (cp >> 6));
				*o++ = (unsigned char)(0x80 | (cp & 0x3f));
			}
			i += 2;
		} else {
			*o++ = c;
			i++;
		}
	}
	out->len = (size_t)((char *)o - out->s);
	out->s[out->len] = '\0';
}

static bool search_contains(const char *hay, size_t hay_len,
			    const char *needle, size_t needle_len)
{
	if (needle_len == 0)
		return true;
	if (hay_len < needle_len)
		return false;
	return memmem(hay, hay_len, needle, needle_len) != NULL;
}

/* ASCII case-insensitive comparison of equal-length byte strings. */
static bool search_ascii_equal(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i];
		unsigned char y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

static bool search_name_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && search_ascii_equal(s, name, len);
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t search_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The calendar day of time t as seen in a zone offset_min minutes east of
 * UTC. */
static int64_t search_local_day(int64_t t, int64_t offset_min)
{
	int64_t local;

	/* Offsets beyond a day are nonsense; ignore them rather than let
	 * them overflow. */
	if (offset_min < -24 * 60 || offset_min > 24 * 60)
		offset_min = 0;
	if (__builtin_add_overflow(t, offset_min * 60, &local))
		local = t;
	int64_t day = local / 86400;
	if (local % 86400 < 0)
		day--;
	return day;
}

/* RFC 3501 date-text: date-day "-" date-month "-" date-year, the day one
 * or two digits, the year four. */
static bool search_date_parse(const char *s, size_t len, int64_t *day_r)
{
	static const char months[12][4] = {
		"jan", "feb", "mar", "apr", "may", "jun",
		"jul", "aug", "sep", "oct", "nov", "dec",
	};
	static const int month_days[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};
	size_t i = 0;
	int day = 0, month = -1, year = 0;

	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		day = day * 10 + (s[i++] - '0');
	/* what follows the day must be exactly "-Mon-YYYY" */
	if (i == 0 || len - i != 9 || s[i] != '-')
		return false;
	i++;
	for (int m = 0; m < 12; m++) {
		if (search_ascii_equal(s + i, months[m], 3)) {
			month = m;
			break;
		}
	}
	if (month < 0 || s[i + 3] != '-')
		return false;
	i += 4;
	for (size_t k = 0; k < 4; k++, i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		year = year * 10 + (s[i] - '0');
	}
	if (day < 1 || day > month_days[month])
		return false;
	if (month == 1 && day == 29 &&
	    !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return false;
	*day_r = search_days_from_civil(year, month + 1, day);
	return true;
}

/* ---- parsing ---- */

struct search_parser {
	unsigned int max_depth;
	unsigned int max_keys;
	unsigned int keys;
	bool uses_modseq;
	bool uses_annotations;
	bool no_recent_keys;
	const char *error;
	bool badcharset;
};

/* astring (atom, quoted, literal); the atom NIL is a fine astring too. */
static bool search_arg_astring(const struct imap_arg *arg, const char **str_r,
			       size_t *len_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		if (arg->str == NULL)
			return false;
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	case IMAP_ARG_NIL:
		*str_r = "NIL";
		*len_r = 3;
		return true;
	case IMAP_ARG_LIST:
		break;
	}
	return false;
}

/* number / number64 / mod-sequence-valzer: digits only, at most 2^63-1
 * (RFC 9051 number64, RFC 7162 mod-sequence-value). */
static bool search_parse_number(const char *s, size_t len, uint64_t *n_r)
{
	uint64_t n = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (n > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(s[i] - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*n_r = n;
	return true;
}

static int search_fail(struct search_parser *p, const char *error)
{
	if (p->error == NULL)
		p->error = error;
	return -1;
}

/* Takes the next argument as an astring, or fails with "missing" / "bad". */
static int search_next_astring(struct search_parser *p,
			       const struct imap_arg *args, size_t count,
			       size_t *i, const char **str_r, size_t *len_r)
{
	if (*i >= count)
		return search_fail(p, "Missing argument for search key");
	if (!search_arg_astring(&args[*i], str_r, len_r))
		return search_fail(p, "Invalid argument for search key");
	(*i)++;
	return 0;
}

static void search_node_free(struct search_node *node)
{
	for (size_t i = 0; i < node->child_count; i++)
		search_node_free(&node->children[i]);
	free(node->children);
	free(node->str);
	free(node->field);
	seqset_free(&node->set);
	seqset_free(&node->resolved);
	memset(node, 0, sizeof(*node));
}

static int search_parse_key(struct search_parser *p,
			    const struct imap_arg *args, size_t count,
			    size_t *i, unsigned int depth,
			    struct search_node *node);

/* Keys in args[0..count) all of which must match.  Children are ordered
 * cheapest first (stable, so the order stays as given within a cost). */
static int search_parse_and(struct search_parser *p,
			    const struct imap_arg *args, size_t count,
			    unsigned int depth, struct search_node *node)
{
	size_t i = 0, cap = 0;

	node->op = SEARCH_AND;
	while (i < count) {
		if (node->child_count == cap) {
			cap = cap ? cap * 2 : 4;
			node->children = xrealloc(node->children,
						  cap * sizeof(*node->children));
		}
		struct search_node *child = &node->children[node->child_count++];
		memset(child, 0, sizeof(*child));
		if (search_parse_key(p, args, count, &i, depth, child) < 0)
			return -1;
	}

	if (node->child_count > 1) {
		struct search_node *sorted =
			xmalloc(node->child_count * sizeof(*sorted));
		size_t n = 0;
		for (int cost = 0; cost < SEARCH_COST_COUNT; cost++) {
			for (size_t k = 0; k < node->child_count; k++) {
				if ((int)node->children[k].cost == cost)
					sorted[n++] = node->children[k];
			}
		}
		free(node->children);
		node->children = sorted;
	}
	node->cost = SEARCH_COST_CHEAP;
	for (size_t k = 0; k < node->child_count; k++) {
		if (node->children[k].cost > node->cost)
			node->cost = node->children[k].cost;
	}
	return 0;
}

static const struct search_flag_key {
	const char *name;
	uint32_t mask;
	uint32_t want;
	int recent;
} search_flag_keys[] = {
	{ "ALL", 0, 0, -1 },
	{ "ANSWERED", STORE_FLAG_ANSWERED, STORE_FLAG_ANSWERED, -1 },
	{ "DELETED", STORE_FLAG_DELETED, STORE_FLAG_DELETED, -1 },
	{ "DRAFT", STORE_FLAG_DRAFT, STORE_FLAG_DRAFT, -1 },
	{ "FLAGGED", STORE_FLAG_FLAGGED, STORE_FLAG_FLAGGED, -1 },
	{ "SEEN", STORE_FLAG_SEEN, STORE_FLAG_SEEN, -1 },
	{ "UNANSWERED", STORE_FLAG_ANSWERED, 0, -1 },
	{ "UNDELETED", STORE_FLAG_DELETED, 0, -1 },
	{ "UNDRAFT", STORE_FLAG_DRAFT, 0, -1 },
	{ "UNFLAGGED", STORE_FLAG_FLAGGED, 0, -1 },
	{ "UNSEEN", STORE_FLAG_SEEN, 0, -1 },
	{ "RECENT", 0, 0, 1 },
	{ "OLD", 0, 0, 0 },                       /* NOT RECENT */
	{ "NEW", STORE_FLAG_SEEN, 0, 1 },         /* RECENT UNSEEN */
};

/* The address and subject keys search one decoded header field. */
static const struct search_header_key {
	const char *name;
	const char *field;
} search_header_keys[] = {
	{ "FROM", "From" },
	{ "TO", "To" },
	{ "CC", "Cc" },
	{ "BCC", "Bcc" },
	{ "SUBJECT", "Subject" },
};

static const struct search_date_key {
	const char *name;
	enum search_op op;
} search_date_keys[] = {
	{ "BEFORE", SEARCH_BEFORE },
	{ "ON", SEARCH_ON },
	{ "SINCE", SEARCH_SINCE },
	{ "SENTBEFORE", SEARCH_SENTBEFORE },
	{ "SENTON", SEARCH_SENTON },
	{ "SENTSINCE", SEARCH_SENTSINCE },
};

/* System flags accepted after KEYWORD / UNKEYWORD for clients that send
 * them there; other backslashed names are not keywords. */
static const struct search_system_flag {
	const char *name;
	uint32_t flag;
} search_system_flags[] = {
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

/* No key name starts with a digit or '*': such an atom is a sequence set,
 * and a malformed one is reported as a bad set, not as an unknown key. */
static bool search_looks_like_seqset(const char *s, size_t len)
{
	return len > 0 && ((s[0] >= '0' && s[0] <= '9') || s[0] == '*');
}

static int search_parse_seqset(struct search_parser *p, const char *s,
			       size_t len, struct search_node *node)
{
	if (memchr(s, '\0', len) != NULL || seqset_parse(s, &node->set) < 0 ||
	    node->set.count == 0)
		return search_fail(p, "Invalid sequence set");
	return 0;
}

static int search_parse_keyword(struct search_parser *p, const char *s,
				size_t len, bool negate,
				struct search_node *node)
{
	if (len == 0 || memchr(s, '\0', len) != NULL)
		return search_fail(p, "Invalid keyword");
	if (s[0] == '\\') {
		for (size_t k = 0; k < sizeof(search_system_flags) /
				       sizeof(search_system_flags[0]); k++) {
			if (search_name_is(s, len, search_system_flags[k].name)) {
				node->op = SEARCH_FLAGS;
				node->flag_mask = search_system_flags[k].flag;
				node->flag_want = negate ? 0 : node->flag_mask;
				node->recent = -1;
				return 0;
			}
		}
		if (search_name_is(s, len, "\\Recent")) {
			if (p->no_recent_keys)
				return search_fail(p, "No \\Recent in IMAP4rev2");
			node->op = SEARCH_FLAGS;
			node->recent = negate ? 0 : 1;
			return 0;
		}
		return search_fail(p, "Invalid keyword");
	}
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)s[k];
		/* atom-specials (RFC 3501 §9) never occur in a keyword, and
		 * keywords are stored space-separated. */
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return search_fail(p, "Invalid keyword");
	}
	if (negate) {
		/* UNKEYWORD k = NOT KEYWORD k */
		node->op = SEARCH_NOT;
		node->children = xcalloc(1, sizeof(*node->children));
		node->child_count = 1;
		node = &node->children[0];
	}
	node->op = SEARCH_KEYWORD;
	node->str = xmemdupz(s, len);
	node->str_len = len;
	return 0;
}

/* MODSEQ [entry-name entry-type-req] mod-sequence-valzer.  Tidings keeps
 * one mod-sequence per message, so RFC 7162 §3.1.5 says the entry name and
 * type are checked and then ignored. */
static int search_parse_modseq(struct search_parser *p,
			       const struct imap_arg *args, size_t count,
			       size_t *i, struct search_node *node)
{
	const char *s;
	size_t len;

	if (*i >= count)
		return search_fail(p, "Missing argument for search key");
	if (args[*i].type == IMAP_ARG_QUOTED ||
	    args[*i].type == IMAP_ARG_LITERAL) {
		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		if (len <= 7 || !search_ascii_equal(s, "/flags/", 7))
			return search_fail(p, "Invalid MODSEQ entry name");
		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		if (!search_name_is(s, len, "priv") &&
		    !search_name_is(s, len, "shared") &&
		    !search_name_is(s, len, "all"))
			return search_fail(p, "Invalid MODSEQ entry type");
	}
	if (search_next_astring(p, args, count, i, &s, &len) < 0)
		return -1;
	if (!search_parse_number(s, len, &node->number))
		return search_fail(p, "Invalid number");
	node->op = SEARCH_MODSEQ;
	p->uses_modseq = true;
	return 0;
}

static void search_set_needle(struct search_node *node, const char *s,
			      size_t len)
{
	struct strbuf folded = STRBUF_INIT;

	search_fold(s, len, &folded);
	node->str_len = folded.len;
	node->str = strbuf_detach(&folded, NULL);
}

/* ANNOTATION entry-match att-search value (RFC 5257 §4.8).  Only value,
 * value.priv and value.shared may be searched: anything else is BAD. */
static int search_parse_annotation(struct search_parser *p,
				   const struct imap_arg *args, size_t count,
				   size_t *i, struct search_node *node)
{
	const char *s;
	size_t len;
	unsigned int bits;

	if (*i + 3 > count)
		return search_fail(p, "ANNOTATION needs an entry, an attribute and a value");
	if (!imap_arg_list_mailbox(&args[*i], &s, &len) ||
	    !imap_annotate_entry_valid(s, len, true))
		return search_fail(p, "Invalid annotation entry name");
	node->field = xmemdupz(s, len);
	node->field_len = len;
	(*i)++;
	if (!search_arg_astring(&args[*i], &s, &len) ||
	    !imap_annotate_attr_parse(s, len, false, &bits) ||
	    (bits & ~(unsigned int)(IMAP_ANNOTATE_VALUE_PRIV |
				    IMAP_ANNOTATE_VALUE_SHARED)) != 0 ||
	    bits == 0)
		return search_fail(p, "ANNOTATION searches only value, value.priv or value.shared");
	(*i)++;
	if (search_next_astring(p, args, count, i, &s, &len) < 0)
		return -1;
	node->flag_mask = bits;
	search_set_needle(node, s, len);
	node->op = SEARCH_ANNOTATION;
	p->uses_annotations = true;
	return 0;
}

static bool search_match_annotation(const struct search_node *node,
				    const struct imap_search_message *msg)
{
	struct strbuf folded = STRBUF_INIT;
	bool found = false;

	for (size_t k = 0; k < msg->annotation_count && !found; k++) {
		const struct imap_annotate_value *a = &msg->annotations[k];
		unsigned int bit = a->priv ? IMAP_ANNOTATE_VALUE_PRIV :
					     IMAP_ANNOTATE_VALUE_SHARED;
		if ((node->flag_mask & bit) == 0 ||
		    !imap_annotate_entry_match(node->field, a->entry))
			continue;
		strbuf_reset(&folded);
		search_fold(a->value, a->len, &folded);
		found = search_contains(folded.s, folded.len, node->str,
					node->str_len);
	}
	strbuf_free(&folded);
	return found;
}

static int search_parse_key(struct search_parser *p,
			    const struct imap_arg *args, size_t count,
			    size_t *i, unsigned int depth,
			    struct search_node *node)
{
	const struct imap_arg *arg;
	const char *s, *name;
	size_t len, name_len;

	if (*i >= count)
		return search_fail(p, "Missing search key");
	if (++p->keys > p->max_keys)
		return search_fail(p, "Too many search keys");
	arg = &args[(*i)++];
	node->cost = SEARCH_COST_CHEAP;
	node->recent = -1;

	if (arg->type == IMAP_ARG_LIST) {
		if (depth + 1 > p->max_depth)
			return search_fail(p, "Search keys nested too deeply");
		if (arg->count == 0 || arg->list == NULL)
			return search_fail(p, "Empty search key list");
		return search_parse_and(p, arg->list, arg->count, depth + 1,
					node);
	}
	if (arg->type != IMAP_ARG_ATOM || arg->str == NULL)
		return search_fail(p, "Unknown search key");
	name = arg->str;
	name_len = arg->len;

	if (search_name_is(name, name_len, "$")) {
		node->op = SEARCH_SAVED;
		return 0;
	}
	if (search_looks_like_seqset(name, name_len)) {
		node->op = SEARCH_SEQSET;
		return search_parse_seqset(p, name, name_len, node);
	}

	for (size_t k = 0; k < sizeof(search_flag_keys) /
			       sizeof(search_flag_keys[0]); k++) {
		const struct search_flag_key *fk = &search_flag_keys[k];
		if (search_name_is(name, name_len, fk->name)) {
			if (p->no_recent_keys && fk->recent >= 0)
				return search_fail(p, "RECENT, NEW and OLD are not IMAP4rev2 search keys");
			node->op = SEARCH_FLAGS;
			node->flag_mask = fk->mask;
			node->flag_want = fk->want;
			node->recent = fk->recent;
			return 0;
		}
	}

	for (size_t k = 0; k < sizeof(search_header_keys) /
			       sizeof(search_header_keys[0]); k++) {
		const struct search_header_key *hk = &search_header_keys[k];
		if (search_name_is(name, name_len, hk->name)) {
			if (search_next_astring(p, args, count, i, &s, &len) < 0)
				return -1;
			node->op = SEARCH_HEADER;
			node->cost = SEARCH_COST_HEADER;
			node->field = xstrdup(hk->field);
			node->field_len = strlen(hk->field);
			search_set_needle(node, s, len);
			return 0;
		}
	}

	for (size_t k = 0; k < sizeof(search_date_keys) /
			       sizeof(search_date_keys[0]); k++) {
		const struct search_date_key *dk = &search_date_keys[k];
		if (search_name_is(name, name_len, dk->name)) {
			if (search_next_astring(p, args, count, i, &s, &len) < 0)
				return -1;
			if (!search_date_parse(s, len, &node->day))
				return search_fail(p, "Invalid date");
			node->op = dk->op;
			if (dk->op == SEARCH_SENTBEFORE ||
			    dk->op == SEARCH_SENTON ||
			    dk->op == SEARCH_SENTSINCE)
				node->cost = SEARCH_COST_HEADER;
			return 0;
		}
	}

	if (search_name_is(name, name_len, "HEADER")) {
		const char *field;
		size_t field_len;

		if (search_next_astring(p, args, count, i, &field,
					&field_len) < 0 ||
		    search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		node->op = SEARCH_HEADER;
		node->cost = SEARCH_COST_HEADER;
		node->field = xmemdupz(field, field_len);
		node->field_len = field_len;
		search_set_needle(node, s, len);
		return 0;
	}
	if (search_name_is(name, name_len, "BODY") ||
	    search_name_is(name, name_len, "TEXT")) {
		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		node->op = name_len == 4 && (name[0] == 'B' || name[0] == 'b') ?
			   SEARCH_BODY : SEARCH_TEXT;
		node->cost = SEARCH_COST_BODY;
		search_set_needle(node, s, len);
		return 0;
	}
	if (search_name_is(name, name_len, "KEYWORD") ||
	    search_name_is(name, name_len, "UNKEYWORD")) {
		bool negate = name_len == 9;

		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		return search_parse_keyword(p, s, len, negate, node);
	}
	if (search_name_is(name, name_len, "LARGER") ||
	    search_name_is(name, name_len, "SMALLER")) {
		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		if (!search_parse_number(s, len, &node->number))
			return search_fail(p, "Invalid number");
		node->op = name_len == 6 ? SEARCH_LARGER : SEARCH_SMALLER;
		return 0;
	}
	if (search_name_is(name, name_len, "UID")) {
		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		/* RFC 5182: "UID $" is the same messages as "$" */
		if (search_name_is(s, len, "$")) {
			node->op = SEARCH_SAVED;
			return 0;
		}
		node->op = SEARCH_UIDSET;
		return search_parse_seqset(p, s, len, node);
	}
	if (search_name_is(name, name_len, "MODSEQ"))
		return search_parse_modseq(p, args, count, i, node);
	if (search_name_is(name, name_len, "ANNOTATION"))
		return search_parse_annotation(p, args, count, i, node);
	if (search_name_is(name, name_len, "OLDER") ||
	    search_name_is(name, name_len, "YOUNGER")) {
		/* RFC 5032 §3: nz-number, which RFC 3501 bounds to 32 bits */
		if (search_next_astring(p, args, count, i, &s, &len) < 0)
			return -1;
		if (!search_parse_number(s, len, &node->number) ||
		    node->number == 0 || node->number > UINT32_MAX)
			return search_fail(p, "OLDER and YOUNGER need a number of seconds (1 to 4294967295)");
		node->op = name_len == 5 ? SEARCH_OLDER : SEARCH_YOUNGER;
		return 0;
	}
	if (search_name_is(name, name_len, "NOT") ||
	    search_name_is(name, name_len, "OR")) {
		size_t n = name_len == 2 ? 2 : 1;

		if (depth + 1 > p->max_depth)
			return search_fail(p, "Search keys nested too deeply");
		node->op = n == 2 ? SEARCH_OR : SEARCH_NOT;
		node->children = xcalloc(n, sizeof(*node->children));
		node->child_count = n;
		for (size_t k = 0; k < n; k++) {
			if (search_parse_key(p, args, count, i, depth + 1,
					     &node->children[k]) < 0)
				return -1;
		}
		if (n == 2 && node->children[1].cost < node->children[0].cost) {
			/* OR: try the cheaper side first. */
			struct search_node tmp = node->children[0];
			node->children[0] = node->children[1];
			node->children[1] = tmp;
		}
		node->cost = node->children[0].cost;
		if (n == 2 && node->children[1].cost > node->cost)
			node->cost = node->children[1].cost;
		return 0;
	}
	return search_fail(p, "Unknown search key");
}

int imap_search_parse(const struct imap_arg *args, size_t count,
		      const struct imap_search_limits *limits,
		      struct imap_search **search_r, const char **error_r,
		      bool *badcharset_r)
{
	struct search_parser p = {
		.max_depth = SEARCH_DEFAULT_MAX_DEPTH,
		.max_keys = SEARCH_DEFAULT_MAX_KEYS,
	};
	size_t start = 0;

	*search_r = NULL;
	*error_r = NULL;
	if (badcharset_r != NULL)
		*badcharset_r = false;
	if (limits != NULL && limits->max_depth > 0)
		p.max_depth = limits->max_depth;
	if (limits != NULL && limits->max_keys > 0)
		p.max_keys = limits->max_keys;
	if (limits != NULL)
		p.no_recent_keys = limits->no_recent_keys;
	if (p.max_depth > SEARCH_HARD_MAX_DEPTH)
		p.max_depth = SEARCH_HARD_MAX_DEPTH;

	/* RFC 3501 §6.4.4: [CHARSET SP astring SP] first; we search UTF-8,
	 * of which US-ASCII is a subset. */
	if (count > 0 && args[0].type == IMAP_ARG_ATOM && args[0].str != NULL &&
	    search_name_is(args[0].str, args[0].len, "CHARSET")) {
		const char *cs;
		size_t cs_len;

		if (count < 2 || !search_arg_astring(&args[1], &cs, &cs_len)) {
			*error_r = "Missing charset";
			return -1;
		}
		/* RFC 6855 §3: after ENABLE UTF8=ACCEPT, a CHARSET conflicts
		 * with the UTF-8 the strings are already in. */
		if (limits != NULL && limits->no_charset) {
			*error_r = "No SEARCH CHARSET after ENABLE UTF8=ACCEPT";
			return -1;
		}
		if (!search_name_is(cs, cs_len, "UTF-8") &&
		    !search_name_is(cs, cs_len, "US-ASCII")) {
			*error_r = "Unsupported charset";
			if (badcharset_r != NULL)
				*badcharset_r = true;
			return -1;
		}
		start = 2;
	}
	if (start >= count) {
		*error_r = "Missing search key";
		return -1;
	}

	struct imap_search *search = xcalloc(1, sizeof(*search));
	if (search_parse_and(&p, args + start, count - start, 0,
			     &search->root) < 0) {
		search_node_free(&search->root);
		free(search);
		*error_r = p.error != NULL ? p.error : "Invalid search";
		return -1;
	}
	search->uses_modseq = p.uses_modseq;
	search->uses_annotations = p.uses_annotations;
	*search_r = search;
	return 0;
}

void imap_search_free(struct imap_search **search)
{
	if (*search == NULL)
		return;
	search_node_free(&(*search)->root);
	free(*search);
	*search = NULL;
}

bool imap_search_needs_body(const struct imap_search *search)
{
	return search->root.cost != SEARCH_COST_CHEAP;
}

bool imap_search_needs_header_only(const struct imap_search *search)
{
	return search->root.cost == SEARCH_COST_HEADER;
}

bool imap_search_uses_modseq(const struct imap_search *search)
{
	return search->uses_modseq;
}

bool imap_search_uses_annotations(const struct imap_search *search)
{
	return search->uses_annotations;
}

/* ---- matching ---- */

/* What one imap_search_match() call has learnt about its message. */
struct search_state {
	const struct imap_search_context *ctx;
	const struct imap_search_message *msg;

	struct mime_message *mime;

	bool sent_done;
	bool sent_valid;
	int64_t sent_day;

	bool headers_done;
	struct strbuf headers;   /* every field decoded, case-folded */
	bool body_done;
	struct strbuf body;      /* text parts decoded, case-folded */

	struct strbuf tmp;
	struct strbuf tmp2;
};

static const struct mime_message *search_state_mime(struct search_state *st)
{
	if (st->mime == NULL) {
		/* Without the text, search an empty message: the caller was
		 * told by imap_search_needs_body() to load it. */
		const char *data = st->msg->data != NULL ? st->msg->data : "";
		size_t len = st->msg->data != NULL ? st->msg->len : 0;
		st->mime = mime_parse(data, len);
	}
	return st->mime;
}

/* The membership test of a SEQSET/UIDSET node, resolving its set when '*'
 * has changed since the last message. */
static bool search_set_contains(struct search_node *node, uint32_t star,
				uint32_t n)
{
	if (!node->resolved_valid || node->resolved_star != star) {
		size_t size = node->set.count * sizeof(*node->set.ranges);

		seqset_free(&node->resolved);
		node->resolved = node->set;
		node->resolved.ranges = xmalloc(size);
		memcpy(node->resolved.ranges, node->set.ranges, size);
		seqset_resolve(&node->resolved, star);
		node->resolved_star = star;
		node->resolved_valid = true;
	}
	return seqset_contains(&node->resolved, n);
}

static bool search_saved_contains(const struct imap_search_context *ctx,
				  uint32_t uid)
{
	size_t lo = 0, hi = ctx->saved_uids != NULL ? ctx->saved_count : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctx->saved_uids[mid] == uid)
			return true;
		if (ctx->saved_uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool search_keyword_has(const char *keywords, const char *kw,
			       size_t kw_len)
{
	const char *p = keywords;

	if (p == NULL)
		return false;
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		const char *end = p;
		while (*end != '\0' && *end != ' ')
			end++;
		if ((size_t)(end - p) == kw_len &&
		    search_ascii_equal(p, kw, kw_len))
			return true;
		p = end;
	}
	return false;
}

/* HEADER / FROM / ...: every field of the top-level header with that name
 * (RFC 3501 says "a header with the specified field-name"), unfolded,
 * RFC 2047-decoded and case-folded.  An empty string matches any message
 * that has the field (RFC 3501 §6.4.4). */
static bool search_match_header(struct search_state *st,
				const struct search_node *node)
{
	const struct mime_message *m = search_state_mime(st);
	const char *d = m->data;
	size_t end = m->root.header_end;
	size_t pos = m->root.header_start;

	if (end > m->len)
		end = m->len;
	while (pos < end) {
		size_t start = pos;

		/* One field: its line and the continuation lines that begin
		 * with white space (RFC 5322 §2.2.3). */
		for (;;) {
			const char *nl = memchr(d + pos, '\n', end - pos);
			if (nl == NULL) {
				pos = end;
				break;
			}
			pos = (size_t)(nl - d) + 1;
			if (pos < end && (d[pos] == ' ' || d[pos] == '\t'))
				continue;
			break;
		}

		const char *colon = memchr(d + start, ':', pos - start);
		if (colon == NULL)
			continue;
		size_t name_len = (size_t)(colon - (d + start));
		while (name_len > 0 && (d[start + name_len - 1] == ' ' ||
					d[start + name_len - 1] == '\t'))
			name_len--;
		if (name_len != node->field_len ||
		    !search_ascii_equal(d + start, node->field, name_len))
			continue;
		if (node->str_len == 0)
			return true;

		const char *v = colon + 1, *vend = d + pos;
		while (v < vend && (*v == ' ' || *v == '\t'))
			v++;
		strbuf_reset(&st->tmp);
		while (v < vend) {
			const char *run = v;
			while (v < vend && *v != '\r' && *v != '\n')
				v++;
			strbuf_append(&st->tmp, run, (size_t)(v - run));
			while (v < vend && (*v == '\r' || *v == '\n'))
				v++;
		}
		strbuf_reset(&st->tmp2);
		mime_decode_words(strbuf_str(&st->tmp), st->tmp.len, &st->tmp2);
		strbuf_reset(&st->tmp);
		search_fold(strbuf_str(&st->tmp2), st->tmp2.len, &st->tmp);
		if (search_contains(st->tmp.s, st->tmp.len, node->str,
				    node->str_len))
			return true;
	}
	return false;
}

static bool search_match_text(struct search_state *st,
			      const struct search_node *node, bool headers)
{
	if (headers) {
		if (!st->headers_done) {
			const struct mime_message *m = search_state_mime(st);
			strbuf_reset(&st->tmp);
			mime_headers_decoded(m, &m->root, &st->tmp);
			search_fold(strbuf_str(&st->tmp), st->tmp.len,
				    &st->headers);
			st->headers_done = true;
		}
		if (search_contains(st->headers.s, st->headers.len,
				    node->str, node->str_len))
			return true;
	}
	if (!st->body_done) {
		const struct mime_message *m = search_state_mime(st);
		strbuf_reset(&st->tmp);
		mime_body_text(m, &st->tmp);
		search_fold(strbuf_str(&st->tmp), st->tmp.len, &st->body);
		st->body_done = true;
	}
	return search_contains(st->body.s, st->body.len, node->str,
			       node->str_len);
}

/* The Date: header's calendar day in the zone it was written in; false
 * when there is no parsable Date:, and then no SENT* key matches (neither
 * the arrival date nor "the epoch" would be an honest stand-in). */
static bool search_sent_day(struct search_state *st, int64_t *day_r)
{
	if (!st->sent_done) {
		const struct mime_message *m = search_state_mime(st);
		time_t t;
		int offset;

		st->sent_done = true;
		strbuf_reset(&st->tmp);
		if (mime_header_raw(m, &m->root, "Date", &st->tmp) &&
		    mime_parse_date(strbuf_str(&st->tmp), &t, &offset) == 0) {
			st->sent_valid = true;
			st->sent_day = search_local_day((int64_t)t, offset);
		}
	}
	*day_r = st->sent_day;
	return st->sent_valid;
}

static bool search_node_match(struct search_node *node,
			      struct search_state *st)
{
	const struct imap_search_message *msg = st->msg;
	int64_t day;

	switch (node->op) {
	case SEARCH_AND:
		for (size_t k = 0; k < node->child_count; k++) {
			if (!search_node_match(&node->children[k], st))
				return false;
		}
		return true;
	case SEARCH_OR:
		return search_node_match(&node->children[0], st) ||
		       search_node_match(&node->children[1], st);
	case SEARCH_NOT:
		return !search_node_match(&node->children[0], st);
	case SEARCH_FLAGS:
		if ((msg->flags & node->flag_mask) != node->flag_want)
			return false;
		return node->recent < 0 || msg->recent == (node->recent > 0);
	case SEARCH_KEYWORD:
		return search_keyword_has(msg->keywords, node->str,
					  node->str_len);
	case SEARCH_SEQSET:
		return search_set_contains(node, st->ctx->max_seq, msg->seq);
	case SEARCH_UIDSET:
		return search_set_contains(node, st->ctx->max_uid, msg->uid);
	case SEARCH_SAVED:
		return search_saved_contains(st->ctx, msg->uid);
	case SEARCH_LARGER:
		return msg->size > node->number;
	case SEARCH_SMALLER:
		return msg->size < node->number;
	case SEARCH_MODSEQ:
		return msg->modseq >= node->number;
	case SEARCH_ANNOTATION:
		return search_match_annotation(node, msg);
	case SEARCH_BEFORE:
		return search_local_day(msg->internaldate, msg->tz_offset) <
		       node->day;
	case SEARCH_ON:
		return search_local_day(msg->internaldate, msg->tz_offset) ==
		       node->day;
	case SEARCH_SINCE:
		return search_local_day(msg->internaldate, msg->tz_offset) >=
		       node->day;
	case SEARCH_SENTBEFORE:
		return search_sent_day(st, &day) && day < node->day;
	case SEARCH_SENTON:
		return search_sent_day(st, &day) && day == node->day;
	case SEARCH_SENTSINCE:
		return search_sent_day(st, &day) && day >= node->day;
	case SEARCH_OLDER:
		return msg->internaldate <= (int64_t)time(NULL) - (int64_t)node->number;
	case SEARCH_YOUNGER:
		return msg->internaldate >= (int64_t)time(NULL) - (int64_t)node->number;
	case SEARCH_HEADER:
		return search_match_header(st, node);
	case SEARCH_BODY:
		return search_match_text(st, node, false);
	case SEARCH_TEXT:
		return search_match_text(st, node, true);
	}
	return false;
}

/* Three-valued evaluation (1, 0, -1 unknown) that leaves the keys needing
 * the message text unknown. */
static int search_node_match_cheap(struct search_node *node,
				   struct search_state *st)
{
	int ret, r;

	if (node->cost == SEARCH_COST_CHEAP)
		return search_node_match(node, st) ? 1 : 0;
	switch (node->op) {
	case SEARCH_AND:
		ret = 1;
		for (size_t k = 0; k < node->child_count; k++) {
			r = search_node_match_cheap(&node->children[k], st);
			if (r == 0)
				return 0;
			if (r < 0)
				ret = -1;
		}
		return ret;
	case SEARCH_OR:
		ret = 0;
		for (size_t k = 0; k < 2; k++) {
			r = search_node_match_cheap(&node->children[k], st);
			if (r == 1)
				return 1;
			if (r < 0)
				ret = -1;
		}
		return ret;
	case SEARCH_NOT:
		r = search_node_match_cheap(&node->children[0], st);
		return r < 0 ? -1 : !r;
	default:
		return -1;
	}
}

int imap_search_match_without_text(const struct imap_search *search,
				   const struct imap_search_context *ctx,
				   const struct imap_search_message *msg)
{
	static const struct imap_search_context no_ctx;
	struct search_state st = {
		.ctx = ctx != NULL ? ctx : &no_ctx,
		.msg = msg,
	};

	/* Cheap keys never touch the state's text caches, so there is
	 * nothing to free. */
	return search_node_match_cheap((struct search_node *)&search->root,
				       &st);
}

bool imap_search_match(const struct imap_search *search,
		       const struct imap_search_context *ctx,
		       const struct imap_search_message *msg)
{
	static const struct imap_search_context no_ctx;
	struct search_state st = {
		.ctx = ctx != NULL ? ctx : &no_ctx,
		.msg = msg,
	};
	/* The tree is the caller's const object, but a node's resolved-set
	 * cache is ours to update (see the header). */
	struct search_node *root = (struct search_node *)&search->root;
	bool ret = search_node_match(root, &st);

	if (st.mime != NULL)
		mime_message_free(&st.mime);
	strbuf_free(&st.headers);
	strbuf_free(&st.body);
	strbuf_free(&st.tmp);
	strbuf_free(&st.tmp2);
	return ret;
}
