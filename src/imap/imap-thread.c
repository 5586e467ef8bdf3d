/* THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3).
 *
 * The tree is an array of nodes linked by index (parent, first/last child,
 * previous/next sibling).  A node without a message is a "dummy".  All
 * traversals use explicit stacks or a pre-order array walked backwards
 * (which visits every child before its parent), because References chains
 * from the outside world can be as deep as the mailbox is large. */
#include "imap/imap-thread.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap-sort.h"
#include "lib/xalloc.h"

#define NONE UINT32_MAX

static void *thread_array(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		abort();
	return xrealloc(p, n * size);
}

struct thread_node {
	uint32_t parent;
	uint32_t first, last;   /* children */
	uint32_t prev, next;    /* siblings */
	uint32_t child_count;
	uint32_t msg;           /* index into msgs, NONE for a dummy */
};

struct thread_map_slot {
	char *key;
	uint32_t node;
};

/* Open addressing, keys owned; fold: ASCII case-insensitive keys. */
struct thread_map {
	struct thread_map_slot *slots;
	size_t cap;
	size_t used;
	bool fold;
};

struct thread_ctx {
	const struct imap_thread_message *msgs;
	size_t msg_count;
	struct thread_node *nodes;
	size_t count;
	size_t cap;
	uint32_t root;
};

bool imap_thread_algorithm_parse(const char *name,
				 enum imap_thread_algorithm *alg_r)
{
	if (strcasecmp(name, "ORDEREDSUBJECT") == 0) {
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
		return true;
	}
	if (strcasecmp(name, "REFERENCES") == 0) {
		*alg_r = IMAP_THREAD_REFERENCES;
		return true;
	}
	return false;
}

/* ---- the map ---- */

static uint64_t map_hash(const char *key, bool fold)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		unsigned char c = *p;
		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

static bool map_key_eq(const char *a, const char *b, bool fold)
{
	return fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

static struct thread_map_slot *map_find_slot(struct thread_map *m,
					     const char *key)
{
	size_t i = (size_t)map_hash(key, m->fold) & (m->cap - 1);
	while (m->slots[i].key != NULL && !map_key_eq(m->slots[i].key, key, m->fold))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static void map_init(struct thread_map *m, bool fold)
{
	m->cap = 64;
	m->used = 0;
	m->fold = fold;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
}

static void map_free(struct thread_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
}

static uint32_t map_get(struct thread_map *m, const char *key)
{
	struct thread_map_slot *s = map_find_slot(m, key);
	return s->key != NULL ? s->node : NONE;
}

static void map_set(struct thread_map *m, const char *key, uint32_t node)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct thread_map old = *m;
		m->cap *= 2;
		m->slots = xcalloc(m->cap, sizeof(*m->slots));
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].key != NULL)
				*map_find_slot(m, old.slots[i].key) = old.slots[i];
		free(old.slots);
	}
	struct thread_map_slot *s = map_find_slot(m, key);
	if (s->key == NULL) {
		s->key = xstrdup(key);
		m->used++;
	}
	s->node = node;
}

/* ---- nodes ---- */

static uint32_t node_new(struct thread_ctx *t, uint32_t msg)
{
	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->nodes = thread_array(t->nodes, t->cap, sizeof(*t->nodes));
	}
	struct thread_node *n = &t->nodes[t->count];
	n->parent = n->first = n->last = n->prev = n->next = NONE;
	n->child_count = 0;
	n->msg = msg;
	return (uint32_t)t->count++;
}

static void node_unlink(struct thread_ctx *t, uint32_t x)
{
	struct thread_node *n = &t->nodes[x];
	if (n->parent == NONE)
		return;
	struct thread_node *p = &t->nodes[n->parent];
	if (n->prev != NONE)
		t->nodes[n->prev].next = n->next;
	else
		p->first = n->next;
	if (n->next != NONE)
		t->nodes[n->next].prev = n->prev;
	else
		p->last = n->prev;
	p->child_count--;
	n->parent = n->prev = n->next = NONE;
}

/* Makes x (which has no parent) the last child of p. */
static void node_append(struct thread_ctx *t, uint32_t p, uint32_t x)
{
	struct thread_node *n = &t->nodes[x];
	struct thread_node *pn = &t->nodes[p];
	n->parent = p;
	n->prev = pn->last;
	n->next = NONE;
	if (pn->last != NONE)
		t->nodes[pn->last].next = x;
	else
		pn->first = x;
	pn->last = x;
	pn->child_count++;
}

/* Puts x (which has no parent) just before the sibling `before`. */
static void node_insert_before(struct thread_ctx *t, uint32_t before,
			       uint32_t x)
{
	struct thread_node *b = &t->nodes[before];
	struct thread_node *n = &t->nodes[x];
	struct thread_node *p = &t->nodes[b->parent];
	n->parent = b->parent;
	n->next = before;
	n->prev = b->prev;
	if (b->prev != NONE)
		t->nodes[b->prev].next = x;
	else
		p->first = x;
	b->prev = x;
	p->child_count++;
}

/* Whether a is b or one of b's descendants.  The walk up from a is capped:
 * hostile References can build chains as deep as the mailbox and then ask
 * for the same check again and again.  Past the cap the answer is "yes",
 * which only refuses a link (never makes a loop); real threads are far
 * shallower. */
#define THREAD_MAX_WALK 4096

static bool node_descends(const struct thread_ctx *t, uint32_t a, uint32_t b)
{
	if (a == b)
		return true;
	if (t->nodes[b].first == NONE)
		return false;
	unsigned int hops = 0;
	for (uint32_t x = a; x != NONE; x = t->nodes[x].parent) {
		if (x == b || ++hops > THREAD_MAX_WALK)
			return true;
	}
	return false;
}

/* Pre-order of the subtree at top (top first), into *order_r. */
static size_t tree_preorder(const struct thread_ctx *t, uint32_t top,
			    uint32_t **order_r)
{
	uint32_t *order = thread_array(NULL, t->count, sizeof(*order));
	uint32_t *stack = thread_array(NULL, t->count, sizeof(*stack));
	size_t n = 0, sp = 0;
	stack[sp++] = top;
	while (sp > 0) {
		uint32_t x = stack[--sp];
		order[n++] = x;
		for (uint32_t c = t->nodes[x].last; c != NONE; c = t->nodes[c].prev)
			stack[sp++] = c;
	}
	free(stack);
	*order_r = order;
	return n;
}

/* The message that stands for x in sorting and subject matching: its own,
 * or for a dummy its first child's (RFC 5256 §3 steps 4-6). */
static uint32_t node_message(const struct thread_ctx *t, uint32_t x)
{
	while (x != NONE && t->nodes[x].msg == NONE)
		x = t->nodes[x].first;
	return x == NONE ? NONE : t->nodes[x].msg;
}

static int date_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct thread_ctx *t = ctx;
	uint32_t a = node_message(t, *(const uint32_t *)pa);
	uint32_t b = node_message(t, *(const uint32_t *)pb);
	if (a == NONE || b == NONE)
		return a == b ? 0 : a == NONE ? -1 : 1;
	const struct imap_thread_message *ma = &t->msgs[a], *mb = &t->msgs[b];
	if (ma->date != mb->date)
		return ma->date < mb->date ? -1 : 1;
	return ma->seq < mb->seq ? -1 : ma->seq > mb->seq ? 1 : 0;
}

/* Sorts x's children by sent date, then sequence number (§2.2). */
static void node_sort_children(struct thread_ctx *t, uint32_t x)
{
	size_t n = t->nodes[x].child_count;
	if (n < 2)
		return;
	uint32_t *kids = thread_array(NULL, n, sizeof(*kids));
	size_t i = 0;
	for (uint32_t c = t->nodes[x].first; c != NONE; c = t->nodes[c].next)
		kids[i++] = c;
	qsort_r(kids, n, sizeof(*kids), date_cmp, t);
	for (i = 0; i < n; i++) {
		t->nodes[kids[i]].prev = i > 0 ? kids[i - 1] : NONE;
		t->nodes[kids[i]].next = i + 1 < n ? kids[i + 1] : NONE;
	}
	t->nodes[x].first = kids[0];
	t->nodes[x].last = kids[n - 1];
	free(kids);
}

/* ---- Message IDs ---- */

void imap_thread_msgids_parse(const char *v,
			      bool (*fn)(const char *id, size_t len, void *ctx),
			      void *ctx)
{
	struct strbuf id = STRBUF_INIT;
	size_t len = v != NULL ? strlen(v) : 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && v[i] != '<')
			i++;
		if (i == len)
			break;
		i++;
		strbuf_reset(&id);
		bool quoted = false, closed = false, restart = false;
		while (i < len) {
			char c = v[i];
			if (quoted) {
				if (c == '\\' && i + 1 < len) {
					strbuf_appendc(&id, v[i + 1]);
					i += 2;
					continue;
				}
				if (c == '"')
					quoted = false;
				else if (c != '\r' && c != '\n')
					strbuf_appendc(&id, c);
				i++;
				continue;
			}
			if (c == '"') {
				quoted = true;
			} else if (c == '(') {
				unsigned int depth = 0;
				for (; i < len; i++) {
					if (v[i] == '\\')
						i++;
					else if (v[i] == '(')
						depth++;
					else if (v[i] == ')' && --depth == 0)
						break;
				}
			} else if (c == '>') {
				closed = true;
				i++;
				break;
			} else if (c == '<') {
				/* "<a <b@c>": the first was no msg-id. */
				restart = true;
				break;
			} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
				strbuf_appendc(&id, c);
			}
			i++;
		}
		if (restart)
			continue;
		if (!closed)
			break;
		const char *s = strbuf_str(&id);
		if (id.len > 0 && id.len <= IMAP_THREAD_MAX_ID_LEN &&
		    memchr(s, '@', id.len) != NULL && memchr(s, '\0', id.len) == NULL &&
		    !fn(s, id.len, ctx))
			break;
	}
	strbuf_free(&id);
}

struct id_list {
	char *ids[IMAP_THREAD_MAX_REFERENCES];
	size_t count;   /* how many were seen; the last MAX are kept */
	bool first_only;
};

static bool id_list_add(const char *id, size_t len, void *ctx)
{
	struct id_list *l = ctx;
	size_t slot = l->count % IMAP_THREAD_MAX_REFERENCES;
	free(l->ids[slot]);
	l->ids[slot] = xstrndup(id, len);
	l->count++;
	return !l->first_only;
}

static void id_list_free(struct id_list *l)
{
	for (size_t i = 0; i < IMAP_THREAD_MAX_REFERENCES; i++)
		free(l->ids[i]);
	memset(l, 0, sizeof(*l));
}

/* The i-th kept id, oldest first. */
static const char *id_list_get(const struct id_list *l, size_t i)
{
	size_t kept = l->count < IMAP_THREAD_MAX_REFERENCES ? l->count
							    : IMAP_THREAD_MAX_REFERENCES;
	size_t base = l->count - kept;
	return l->ids[(base + i) % IMAP_THREAD_MAX_REFERENCES];
}

static size_t id_list_kept(const struct id_list *l)
{
	return l->count < IMAP_THREAD_MAX_REFERENCES ? l->count
						     : IMAP_THREAD_MAX_REFERENCES;
}

/* ---- REFERENCES ---- */

static uint32_t id_node(struct thread_ctx *t, struct thread_map *ids,
			const char *id)
{
	uint32_t n = map_get(ids, id);
	if (n == NONE) {
		n = node_new(t, NONE);
		map_set(ids, id, n);
	}
	return n;
}

/* §3 step 1. */
static void references_link(struct thread_ctx *t, struct thread_map *ids)
{
	for (size_t i = 0; i < t->msg_count; i++) {
		const struct imap_thread_message *m = &t->msgs[i];
		struct id_list own = { .first_only = true };
		imap_thread_msgids_parse(m->message_id, id_list_add, &own);
		uint32_t self = NONE;
		if (own.count > 0) {
			uint32_t n = map_get(ids, id_list_get(&own, 0));
			if (n != NONE && t->nodes[n].msg == NONE) {
				t->nodes[n].msg = (uint32_t)i;
				self = n;
			} else if (n == NONE) {
				self = node_new(t, (uint32_t)i);
				map_set(ids, id_list_get(&own, 0), self);
			}
		}
		/* No Message-ID, or a duplicate: a unique one of its own. */
		if (self == NONE)
			self = node_new(t, (uint32_t)i);
		id_list_free(&own);

		struct id_list refs = { .first_only = false };
		imap_thread_msgids_parse(m->references, id_list_add, &refs);
		if (refs.count == 0) {
			refs.first_only = true;
			imap_thread_msgids_parse(m->in_reply_to, id_list_add, &refs);
		}
		/* (A) link the references to one another. */
		uint32_t prev = NONE;
		for (size_t r = 0; r < id_list_kept(&refs); r++) {
			uint32_t n = id_node(t, ids, id_list_get(&refs, r));
			if (prev != NONE && t->nodes[n].parent == NONE &&
			    !node_descends(t, prev, n))
				node_append(t, prev, n);
			prev = n;
		}
		id_list_free(&refs);
		/* (B) the last reference is the parent, whatever was there. */
		if (t->nodes[self].parent != prev || prev == NONE) {
			node_unlink(t, self);
			if (prev != NONE && !node_descends(t, prev, self))
				node_append(t, prev, self);
		}
	}
}

/* §3 step 3: every child is handled before its parent, so a dummy's
 * children are already free of dummies when it is spliced away. */
static void references_prune(struct thread_ctx *t)
{
	uint32_t *order;
	size_t n = tree_preorder(t, t->root, &order);
	for (size_t k = n; k-- > 0;) {
		uint32_t x = order[k];
		uint32_t c = t->nodes[x].first;
		while (c != NONE) {
			uint32_t next = t->nodes[c].next;
			struct thread_node *cn = &t->nodes[c];
			if (cn->msg == NONE &&
			    (cn->child_count == 0 || x != t->root || cn->child_count == 1)) {
				while (cn->first != NONE) {
					uint32_t g = cn->first;
					node_unlink(t, g);
					node_insert_before(t, c, g);
				}
				node_unlink(t, c);
			}
			c = next;
		}
	}
	free(order);
}

static const struct imap_thread_message *thread_subject_msg(
	const struct thread_ctx *t, uint32_t x)
{
	uint32_t m = node_message(t, x);
	return m == NONE ? NULL : &t->msgs[m];
}

static bool node_is_dummy(const struct thread_ctx *t, uint32_t x)
{
	return t->nodes[x].msg == NONE;
}

static bool node_is_reply(const struct thread_ctx *t, uint32_t x)
{
	return !node_is_dummy(t, x) && t->msgs[t->nodes[x].msg].is_reply;
}

/* §3 step 5: threads whose subjects match are merged. */
static void references_subjects(struct thread_ctx *t)
{
	struct thread_map table;
	map_init(&table, true);
	uint32_t root = t->root;
	size_t n = t->nodes[root].child_count;
	uint32_t *kids = thread_array(NULL, n ? n : 1, sizeof(*kids));
	size_t i = 0;
	for (uint32_t c = t->nodes[root].first; c != NONE; c = t->nodes[c].next)
		kids[i++] = c;

	/* (B) one message per base subject. */
	for (i = 0; i < n; i++) {
		uint32_t c = kids[i];
		const struct imap_thread_message *m = thread_subject_msg(t, c);
		if (m == NULL || m->subject == NULL || m->subject[0] == '\0')
			continue;
		uint32_t have = map_get(&table, m->subject);
		if (have == NONE ||
		    (!node_is_dummy(t, have) &&
		     (node_is_dummy(t, c) ||
		      (node_is_reply(t, have) && !node_is_reply(t, c)))))
			map_set(&table, m->subject, c);
	}
	/* (C) merge.  The snapshot may hold nodes that have since been
	 * moved under another: only the root's children take part. */
	for (i = 0; i < n; i++) {
		uint32_t c = kids[i];
		if (t->nodes[c].parent != root)
			continue;
		const struct imap_thread_message *m = thread_subject_msg(t, c);
		if (m == NULL || m->subject == NULL || m->subject[0] == '\0')
			continue;
		uint32_t have = map_get(&table, m->subject);
		if (have == NONE || have == c)
			continue;
		if (node_is_dummy(t, have) && node_is_dummy(t, c)) {
			while (t->nodes[c].first != NONE) {
				uint32_t g = t->nodes[c].first;
				node_unlink(t, g);
				node_append(t, have, g);
			}
			node_unlink(t, c);
		} else if (node_is_dummy(t, have) ||
			   (node_is_reply(t, c) && !node_is_reply(t, have))) {
			node_unlink(t, c);
			node_append(t, have, c);
		} else {
			uint32_t d = node_new(t, NONE);
			node_insert_before(t, have, d);
			node_unlink(t, have);
			node_append(t, d, have);
			node_unlink(t, c);
			node_append(t, d, c);
			map_set(&table, m->subject, d);
		}
	}
	free(kids);
	map_free(&table);
}

/* Sorts every set of siblings, the deepest first (§3 steps 4 and 6). */
static void tree_sort_all(struct thread_ctx *t)
{
	uint32_t *order;
	size_t n = tree_preorder(t, t->root, &order);
	for (size_t k = n; k-- > 0;)
		node_sort_children(t, order[k]);
	free(order);
}

static void thread_references(struct thread_ctx *t)
{
	struct thread_map ids;
	map_init(&ids, false);
	references_link(t, &ids);
	map_free(&ids);
	/* (2) everything without a parent goes under the root. */
	size_t count = t->count;
	t->root = node_new(t, NONE);
	for (size_t i = 0; i < count; i++)
		if (t->nodes[i].parent == NONE)
			node_append(t, t->root, (uint32_t)i);
	references_prune(t);
	/* (4) needs the dummies' children sorted first; sorting everything
	 * now gives the same top-level order. */
	tree_sort_all(t);
	references_subjects(t);
	tree_sort_all(t);
}

/* ---- ORDEREDSUBJECT ---- */

static int subject_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct imap_thread_message *msgs = ctx;
	const struct imap_thread_message *a = &msgs[*(const uint32_t *)pa];
	const struct imap_thread_message *b = &msgs[*(const uint32_t *)pb];
	int c = imap_sort_string_compare(a->subject ? a->subject : "",
					 b->subject ? b->subject : "");
	if (c != 0)
		return c;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static void thread_orderedsubject(struct thread_ctx *t)
{
	size_t n = t->msg_count;
	uint32_t *idx = thread_array(NULL, n ? n : 1, sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof(*idx), subject_cmp, (void *)t->msgs);
	t->root = node_new(t, NONE);
	uint32_t head = NONE;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = node_new(t, idx[i]);
		const struct imap_thread_message *m = &t->msgs[idx[i]];
		if (head != NONE) {
			const struct imap_thread_message *h = &t->msgs[t->nodes[head].msg];
			if (imap_sort_string_compare(h->subject ? h->subject : "",
						     m->subject ? m->subject : "") == 0) {
				node_append(t, head, x);
				continue;
			}
		}
		node_append(t, t->root, x);
		head = x;
	}
	free(idx);
	/* Threads by the sent date of their first message. */
	node_sort_children(t, t->root);
}

/* ---- output ---- */

struct write_item {
	uint32_t node;
	char ch;        /* when not 0, write this character instead */
};

static void push_children(const struct thread_ctx *t, uint32_t x,
			  struct write_item *stack, size_t *sp)
{
	for (uint32_t c = t->nodes[x].last; c != NONE; c = t->nodes[c].prev) {
		stack[(*sp)++] = (struct write_item){ NONE, ')' };
		stack[(*sp)++] = (struct write_item){ c, 0 };
		stack[(*sp)++] = (struct write_item){ NONE, '(' };
	}
}

/* thread-list contents, RFC 5256 §5: "n", "n m", "n (a)(b)", "(a)(b)". */
static void tree_write(const struct thread_ctx *t, bool uid, struct strbuf *out)
{
	struct write_item *stack = thread_array(NULL, t->count * 3 + 3, sizeof(*stack));
	size_t sp = 0;
	push_children(t, t->root, stack, &sp);
	while (sp > 0) {
		struct write_item it = stack[--sp];
		if (it.ch != 0) {
			strbuf_appendc(out, it.ch);
			continue;
		}
		const struct thread_node *n = &t->nodes[it.node];
		if (n->msg == NONE) {
			push_children(t, it.node, stack, &sp);
			continue;
		}
		const struct imap_thread_message *m = &t->msgs[n->msg];
		strbuf_printf(out, "%u", uid ? m->uid : m->seq);
		if (n->child_count == 0)
			continue;
		strbuf_appendc(out, ' ');
		if (n->child_count == 1 && t->nodes[n->first].msg != NONE)
			stack[sp++] = (struct write_item){ n->first, 0 };
		else
			push_children(t, it.node, stack, &sp);
	}
	free(stack);
}

void imap_thread_build(enum imap_thread_algorithm alg,
		       const struct imap_thread_message *msgs, size_t count,
		       bool uid, struct strbuf *out)
{
	if (count == 0)
		return;
	struct thread_ctx t = { .msgs = msgs, .msg_count = count };
	if (alg == IMAP_THREAD_ORDEREDSUBJECT)
		thread_orderedsubject(&t);
	else
		thread_references(&t);
	tree_write(&t, uid, out);
	free(t.nodes);
}
