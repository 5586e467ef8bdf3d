/* The selected mailbox view: message sequence numbers, \Recent, and the
 * updates the event pump queued, sent when RFC 3501 §7 allows. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"
#include "imap/imap-search.h"
#include "lib/log.h"
#include "lib/xalloc.h"

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static size_t sort_unique(uint32_t *a, size_t n)
{
	if (n == 0)
		return 0;
	qsort(a, n, sizeof(*a), uid_cmp);
	size_t w = 1;
	for (size_t i = 1; i < n; i++)
		if (a[i] != a[w - 1])
			a[w++] = a[i];
	return w;
}

/* Index of the first element >= key. */
static size_t lower_bound(const uint32_t *a, size_t n, uint32_t key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool sorted_contains(const uint32_t *a, size_t n, uint32_t key)
{
	size_t i = lower_bound(a, n, key);
	return i < n && a[i] == key;
}

uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	size_t i = lower_bound(v->uids, v->count, uid);
	return i < v->count && v->uids[i] == uid ? (uint32_t)(i + 1) : 0;
}

bool imap_view_is_recent(const struct imap_view *v, uint32_t uid)
{
	if (v->no_recent)
		return false;
	return sorted_contains(v->recent, v->recent_count, uid);
}

void imap_view_search_message(const struct imap_view *v,
			      const struct store_message *m, uint32_t seq,
			      struct imap_search_message *sm)
{
	*sm = (struct imap_search_message) {
		.seq = seq, .uid = m->uid, .flags = m->flags,
		.recent = imap_view_is_recent(v, m->uid),
		.keywords = m->keywords, .internaldate = m->internaldate,
		.tz_offset = m->tz_offset, .size = m->size, .modseq = m->modseq,
	};
}

static void view_append(struct imap_view *v, uint32_t uid)
{
	if (v->count == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->uids = xrealloc(v->uids, v->cap * sizeof(*v->uids));
	}
	v->uids[v->count++] = uid;
	if (uid > v->last_uid)
		v->last_uid = uid;
}

static void view_add_recent(struct imap_view *v, uint32_t uid)
{
	if (v->recent_count == v->recent_cap) {
		v->recent_cap = v->recent_cap ? v->recent_cap * 2 : 16;
		v->recent = xrealloc(v->recent, v->recent_cap * sizeof(*v->recent));
	}
	v->recent[v->recent_count++] = uid;
}

/* Claims \Recent for new messages (RFC 3501 §2.3.2: exactly one session
 * sees a message as recent). */
static void view_claim_recent(struct imap_session *s, uint32_t from_uid)
{
	struct imap_view *v = s->view;
	if (v->readonly)
		return;
	uint32_t first = 0;
	struct store_error err;
	if (store_mailbox_claim_recent(s->server->store, v->mailbox_id, &first, &err) < 0) {
		log_warn("imap: claiming \\Recent in %s: %s", v->name, err.msg);
		return;
	}
	size_t i = lower_bound(v->uids, v->count, first > from_uid ? first : from_uid);
	for (; i < v->count; i++)
		if (!imap_view_is_recent(v, v->uids[i]))
			view_add_recent(v, v->uids[i]);
}

static void view_free(struct imap_view *v)
{
	free(v->uids);
	free(v->recent);
	free(v->pending_expunge);
	free(v->pending_flags);
	free(v->saved);
	free(v);
}

int imap_session_select(struct imap_session *s, const struct store_mailbox *mb,
			bool readonly, struct store_error *err)
{
	imap_session_unselect(s);
	struct store_message_list list;
	if (store_message_range(s->server->store, mb->id, 1, UINT32_MAX, &list, err) < 0)
		return -1;
	struct imap_view *v = xcalloc(1, sizeof(*v));
	v->mailbox_id = mb->id;
	snprintf(v->name, sizeof(v->name), "%s", mb->name);
	v->readonly = readonly;
	v->uidvalidity = mb->uidvalidity;
	v->cap = list.count ? list.count : 16;
	v->uids = xmalloc(v->cap * sizeof(*v->uids));
	for (size_t i = 0; i < list.count; i++)
		view_append(v, list.msgs[i].uid);
	store_message_list_free(&list);
	if (mb->uidnext > 0 && mb->uidnext - 1 > v->last_uid)
		v->last_uid = mb->uidnext - 1;
	s->view = v;
	v->no_recent = imap_rev2_enabled(s);
	view_claim_recent(s, 1);
	v->last_recent_sent = (uint32_t)v->recent_count;
	s->state = IMAP_STATE_SELECTED;
	imap_server_index_add(s);
	return 0;
}

void imap_session_unselect(struct imap_session *s)
{
	if (s->view == NULL)
		return;
	imap_server_index_remove(s);
	view_free(s->view);
	s->view = NULL;
	if (s->state == IMAP_STATE_SELECTED)
		s->state = IMAP_STATE_AUTHENTICATED;
}

static bool expunge_allowed(const struct imap_session *s)
{
	/* RFC 3501 §7.4.1: no EXPUNGE while responding to FETCH, STORE or
	 * SEARCH, nor (RFC 5256 §3) SORT or THREAD; their UID forms may get
	 * them. */
	if (s->cmd_name == NULL || s->cmd_uid)
		return true;
	return strcmp(s->cmd_name, "FETCH") != 0 &&
	       strcmp(s->cmd_name, "STORE") != 0 &&
	       strcmp(s->cmd_name, "SEARCH") != 0 &&
	       strcmp(s->cmd_name, "SORT") != 0 &&
	       strcmp(s->cmd_name, "THREAD") != 0;
}

static void flush_expunges(struct imap_session *s)
{
	struct imap_view *v = s->view;
	v->pending_expunge_count = sort_unique(v->pending_expunge, v->pending_expunge_count);
	if (v->pending_expunge_count == 0)
		return;
	/* Highest sequence number first, so each number sent is still right
	 * when the client reads it. */
	struct strbuf *out = &s->out;
	strbuf_reset(out);
	size_t removed = 0;
	/* RFC 7162 §3.2.10: VANISHED in lieu of EXPUNGE once QRESYNC is
	 * enabled, with only UIDs the client knows (it counts them). */
	bool vanished = imap_qresync_enabled(s);
	uint32_t *gone = vanished ? xmalloc(v->pending_expunge_count * sizeof(*gone)) : NULL;
	for (size_t i = v->count; i-- > 0;) {
		if (sorted_contains(v->pending_expunge, v->pending_expunge_count, v->uids[i])) {
			if (vanished)
				gone[v->pending_expunge_count - 1 - removed] = v->uids[i];
			else
				strbuf_printf(out, "* %zu EXPUNGE\r\n", i + 1);
			v->uids[i] = 0;
			removed++;
		}
	}
	if (vanished && removed > 0)
		imap_vanished_write(s, false, gone + v->pending_expunge_count - removed, removed);
	free(gone);
	if (removed > 0) {
		size_t w = 0;
		for (size_t i = 0; i < v->count; i++)
			if (v->uids[i] != 0)
				v->uids[w++] = v->uids[i];
		v->count = w;
		w = 0;
		for (size_t i = 0; i < v->recent_count; i++)
			if (!sorted_contains(v->pending_expunge, v->pending_expunge_count,
					     v->recent[i]))
				v->recent[w++] = v->recent[i];
		v->recent_count = w;
		v->last_recent_sent = (uint32_t)v->recent_count;
		if (out->len > 0)
			imap_session_send(s, out->s, out->len);
	}
	v->pending_expunge_count = 0;
}

/* Returns false when the mailbox is gone and the session was closed. */
static bool flush_new(struct imap_session *s)
{
	struct imap_view *v = s->view;
	v->pending_new = false;
	struct store_error err;
	struct store_mailbox mb;
	if (store_mailbox_get_by_id(s->server->store, v->mailbox_id, &mb, &err) < 0) {
		if (err.code != STORE_ERR_NONEXISTENT)
			return true;
		/* Deleted under us: the view cannot go on. */
		imap_session_bye(s, "Selected mailbox was deleted, have to disconnect");
		return false;
	}
	if (mb.uidvalidity != v->uidvalidity || mb.noselect) {
		imap_session_bye(s, "Selected mailbox was recreated, have to disconnect");
		return false;
	}
	/* A rename keeps the mailbox and its UIDs: follow it. */
	if (strcmp(mb.name, v->name) != 0)
		snprintf(v->name, sizeof(v->name), "%s", mb.name);
	struct store_message_list list;
	if (store_message_range(s->server->store, v->mailbox_id, v->last_uid + 1,
				UINT32_MAX, &list, &err) < 0) {
		log_warn("imap: reading new messages of %s: %s", v->name, err.msg);
		return true;
	}
	if (list.count > 0) {
		uint32_t first = list.msgs[0].uid;
		size_t old_count = v->count;
		for (size_t i = 0; i < list.count; i++)
			view_append(v, list.msgs[i].uid);
		view_claim_recent(s, first);
		imap_session_sendf(s, "* %zu EXISTS\r\n", v->count);
		/* NOTIFY MessageNew fetch-att (RFC 5465 §5.2) */
		imap_notify_new_messages(s, old_count);
	}
	store_message_list_free(&list);
	if (v->recent_count != v->last_recent_sent && !v->no_recent) {
		imap_session_sendf(s, "* %zu RECENT\r\n", v->recent_count);
		v->last_recent_sent = (uint32_t)v->recent_count;
	}
	return true;
}

static void flush_flags(struct imap_session *s)
{
	struct imap_view *v = s->view;
	v->pending_flags_count = sort_unique(v->pending_flags, v->pending_flags_count);
	if (v->pending_flags_count == 0)
		return;
	uint32_t lo = v->pending_flags[0];
	uint32_t hi = v->pending_flags[v->pending_flags_count - 1];
	struct store_message_list list;
	struct store_error err;
	if (store_message_range(s->server->store, v->mailbox_id, lo, hi, &list, &err) < 0) {
		log_warn("imap: reading flags in %s: %s", v->name, err.msg);
		v->pending_flags_count = 0;
		return;
	}
	struct strbuf *out = &s->out;
	strbuf_reset(out);
	for (size_t i = 0; i < list.count; i++) {
		const struct store_message *m = &list.msgs[i];
		if (!sorted_contains(v->pending_flags, v->pending_flags_count, m->uid))
			continue;
		uint32_t seq = imap_view_seq(v, m->uid);
		if (seq == 0)
			continue;
		strbuf_printf(out, "* %u FETCH (", seq);
		/* RFC 7162 §3.2.4: UID and MODSEQ once CONDSTORE is on
		 * (QRESYNC implies it), on a server offering QRESYNC. */
		/* RFC 9051 App. E item 21: always for IMAP4rev2 */
		if (s->cmd_uid || imap_condstore_enabled(s) || imap_rev2_enabled(s))
			strbuf_printf(out, "UID %u ", m->uid);
		strbuf_appends(out, "FLAGS ");
		imap_flags_write(out, m->flags, m->keywords, imap_view_is_recent(v, m->uid));
		if (imap_condstore_enabled(s))
			strbuf_printf(out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
		strbuf_appends(out, ")\r\n");
	}
	store_message_list_free(&list);
	v->pending_flags_count = 0;
	if (out->len > 0)
		imap_session_send(s, out->s, out->len);
}

void imap_session_flush_updates(struct imap_session *s)
{
	if (s->view == NULL || s->conn == NULL || s->closing)
		return;
	/* RFC 4314: nothing more of a mailbox the user may no longer read */
	if (!imap_view_access_check(s))
		return;
	if (expunge_allowed(s))
		flush_expunges(s);
	if (s->view->pending_new && !flush_new(s))
		return;
	flush_flags(s);
}

int imap_view_resolve(const struct imap_view *v, const char *set, bool uid_set,
		      uint32_t **uids_r, size_t *count_r, const char **error_r)
{
	struct seqset ss;
	*uids_r = NULL;
	*count_r = 0;
	/* RFC 5182: "$" is the saved search result, for FETCH as for UID
	 * FETCH; an empty one is a valid set that matches nothing. */
	if (strcmp(set, "$") == 0) {
		uint32_t *out = xmalloc((v->saved_count ? v->saved_count : 1) * sizeof(*out));
		size_t n = 0;
		for (size_t i = 0; i < v->saved_count; i++) {
			if (imap_view_seq(v, v->saved[i]) != 0)
				out[n++] = v->saved[i];
		}
		if (n == 0) {
			free(out);
			out = NULL;
		}
		*uids_r = out;
		*count_r = n;
		return 0;
	}
	if (seqset_parse(set, &ss) < 0) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	uint32_t star = uid_set ? (v->count ? v->uids[v->count - 1] : 0) :
				  (uint32_t)v->count;
	if (!uid_set) {
		for (size_t i = 0; i < ss.count; i++) {
			uint32_t lo = ss.ranges[i].lo, hi = ss.ranges[i].hi;
			if ((lo != SEQSET_STAR && lo > v->count) ||
			    (hi != SEQSET_STAR && hi > v->count)) {
				seqset_free(&ss);
				*error_r = "Invalid message sequence number";
				return -1;
			}
		}
	}
	if (v->count == 0) {
		seqset_free(&ss);
		return 0;
	}
	seqset_resolve(&ss, star);
	uint32_t *out = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < ss.count; i++) {
		uint32_t lo = ss.ranges[i].lo, hi = ss.ranges[i].hi;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		size_t a, b;
		if (uid_set) {
			a = lower_bound(v->uids, v->count, lo);
			b = hi == UINT32_MAX ? v->count : lower_bound(v->uids, v->count, hi + 1);
		} else {
			if (lo == 0)
				lo = 1;
			a = lo - 1;
			b = hi > v->count ? v->count : hi;
		}
		for (size_t j = a; j < b; j++) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				out = xrealloc(out, cap * sizeof(*out));
			}
			out[n++] = v->uids[j];
		}
	}
	seqset_free(&ss);
	*count_r = sort_unique(out, n);
	*uids_r = out;
	return 0;
}
