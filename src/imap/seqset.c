/* Sequence sets (RFC 3501 §9 sequence-set, and §6.4.8 for '*' in UID
 * ranges): parsing, resolving '*', membership, and writing compact sets. */
#include "imap/imap-parser.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* seq-number = nz-number / "*"; nz-number = digit-nz *DIGIT, so neither 0
 * nor a leading zero is allowed. */
static int seqset_parse_number(const char **p, uint32_t *n_r)
{
	const char *s = *p;
	uint32_t n = 0;

	if (*s == '*') {
		*p = s + 1;
		*n_r = SEQSET_STAR;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		uint32_t digit = (uint32_t)(*s - '0');
		if (n > (UINT32_MAX - digit) / 10)
			return -1;
		n = n * 10 + digit;
		s++;
	}
	*p = s;
	*n_r = n;
	return 0;
}

static void seqset_add(struct seqset *set, size_t *cap, uint32_t a, uint32_t b)
{
	if (set->count == *cap) {
		*cap = *cap == 0 ? 4 : *cap * 2;
		set->ranges = xrealloc(set->ranges, *cap * sizeof(*set->ranges));
	}
	set->ranges[set->count].lo = a < b ? a : b;
	set->ranges[set->count].hi = a < b ? b : a;
	set->count++;
}

int seqset_parse(const char *s, struct seqset *set_r)
{
	size_t cap = 0;

	memset(set_r, 0, sizeof(*set_r));
	for (;;) {
		uint32_t a, b;

		if (seqset_parse_number(&s, &a) < 0)
			goto fail;
		b = a;
		if (*s == ':') {
			s++;
			if (seqset_parse_number(&s, &b) < 0)
				goto fail;
		}
		seqset_add(set_r, &cap, a, b);
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto fail;
		s++;
	}
fail:
	seqset_free(set_r);
	return -1;
}

void seqset_free(struct seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}

static int seqset_range_cmp(const void *a, const void *b)
{
	const struct seqset_range *ra = a, *rb = b;

	if (ra->lo != rb->lo)
		return ra->lo < rb->lo ? -1 : 1;
	if (ra->hi != rb->hi)
		return ra->hi < rb->hi ? -1 : 1;
	return 0;
}

void seqset_resolve(struct seqset *set, uint32_t star)
{
	size_t out = 0;

	for (size_t i = 0; i < set->count; i++) {
		uint32_t a = set->ranges[i].lo, b = set->ranges[i].hi;
		if (a == SEQSET_STAR)
			a = star;
		if (b == SEQSET_STAR)
			b = star;
		struct seqset_range r = {
			.lo = a < b ? a : b,
			.hi = a < b ? b : a,
		};
		/* star 0: an empty mailbox has no message 0 */
		if (r.hi == 0)
			continue;
		if (r.lo == 0)
			r.lo = 1;
		set->ranges[out++] = r;
	}
	set->count = out;
	if (set->count > 1)
		qsort(set->ranges, set->count, sizeof(*set->ranges),
		      seqset_range_cmp);

	/* Merge overlapping and adjacent ranges. */
	out = 0;
	for (size_t i = 0; i < set->count; i++) {
		struct seqset_range r = set->ranges[i];
		if (out > 0 &&
		    (uint64_t)r.lo <= (uint64_t)set->ranges[out - 1].hi + 1) {
			if (r.hi > set->ranges[out - 1].hi)
				set->ranges[out - 1].hi = r.hi;
			continue;
		}
		set->ranges[out++] = r;
	}
	set->count = out;
	set->resolved = true;
}

bool seqset_contains(const struct seqset *set, uint32_t n)
{
	if (!set->resolved) {
		for (size_t i = 0; i < set->count; i++) {
			if (n >= set->ranges[i].lo && n <= set->ranges[i].hi)
				return true;
		}
		return false;
	}

	/* Sorted and disjoint: find the last range with lo <= n. */
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->ranges[mid].lo <= n)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && n <= set->ranges[lo - 1].hi;
}

void seqset_write_numbers(struct strbuf *out, const uint32_t *nums,
			  size_t count)
{
	size_t i = 0;
	bool first = true;

	while (i < count) {
		uint32_t lo = nums[i], hi = nums[i];
		/* Extend over duplicates and consecutive numbers. */
		i++;
		while (i < count &&
		       (nums[i] == hi || (hi != UINT32_MAX && nums[i] == hi + 1))) {
			hi = nums[i];
			i++;
		}
		if (!first)
			strbuf_appendc(out, ',');
		first = false;
		if (lo == hi)
			strbuf_printf(out, "%u", lo);
		else
			strbuf_printf(out, "%u:%u", lo, hi);
	}
}

int seqset_to_numbers(const char *s, uint32_t **nums_r, size_t *count_r,
		      size_t max)
{
	struct seqset set;

	*nums_r = NULL;
	*count_r = 0;
	if (strchr(s, '*') != NULL)
		return -1;
	if (seqset_parse(s, &set) < 0)
		return -1;
	/* No '*' here, so 4294967295 stays itself. */
	seqset_resolve(&set, SEQSET_STAR);

	uint64_t total = 0;
	for (size_t i = 0; i < set.count; i++)
		total += (uint64_t)set.ranges[i].hi - set.ranges[i].lo + 1;
	if (total > max) {
		seqset_free(&set);
		return -1;
	}

	uint32_t *nums = xmalloc((total > 0 ? (size_t)total : 1) * sizeof(*nums));
	size_t n = 0;
	for (size_t i = 0; i < set.count; i++) {
		uint32_t v = set.ranges[i].lo;
		for (;;) {
			nums[n++] = v;
			if (v == set.ranges[i].hi)
				break;
			v++;
		}
	}
	seqset_free(&set);
	*nums_r = nums;
	*count_r = n;
	return 0;
}
