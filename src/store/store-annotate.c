/* Message annotations (RFC 5257) in the SQLite index: see store-annotate.h.
 *
 * Runs its own statements on the backend's connection, inside
 * store_sqlite_begin/_end, and writes its events with
 * store_sqlite_event_write, as store-acl.c does. */
#include "store/store-annotate.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "store/store-private.h"

void store_annotation_list_free(struct store_annotation_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].entry);
		free(list->items[i].value);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static sqlite3_stmt *ann_prepare(struct store *store, const char *sql,
				 struct store_error *err)
{
	struct sqlite3 *db = store_sqlite_db(store);
	if (db == NULL) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Annotations need the SQLite store");
		return NULL;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_fail(store, rc, "preparing an annotation statement",
				  err);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

/* ---- reading ---- */

static int ann_get_txn(struct store *store, int64_t mailbox_id, uint32_t uid,
		       int64_t user_id, struct store_annotation_list *list,
		       struct store_error *err)
{
	/* user_id DESC: a user's .priv (id > 0) before the .shared (0) */
	sqlite3_stmt *st = ann_prepare(store,
		"SELECT a.entry, a.user_id, a.value FROM messages m "
		"JOIN annotations a ON a.message_id = m.id "
		"WHERE m.mailbox_id = ?1 AND m.uid = ?2 AND a.user_id IN (0, ?3) "
		"ORDER BY a.entry, a.user_id DESC", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	/* no user: only the shared values (0 matches twice, harmlessly) */
	sqlite3_bind_int64(st, 3, user_id > 0 ? user_id : 0);
	size_t cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (list->count == cap) {
			cap = cap ? cap * 2 : 8;
			list->items = xrealloc(list->items,
					       cap * sizeof(*list->items));
		}
		struct store_annotation *a = &list->items[list->count++];
		const char *entry = (const char *)sqlite3_column_text(st, 0);
		a->entry = xstrdup(entry != NULL ? entry : "");
		a->priv = sqlite3_column_int64(st, 1) != 0;
		const void *blob = sqlite3_column_blob(st, 2);
		a->len = (size_t)sqlite3_column_bytes(st, 2);
		a->value = xmalloc(a->len + 1);
		if (a->len > 0)
			memcpy(a->value, blob, a->len);
		a->value[a->len] = '\0';
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "reading annotations", err);
	return 0;
}

int store_annotate_get(struct store *store, int64_t mailbox_id, uint32_t uid,
		       int64_t user_id, struct store_annotation_list *list_r,
		       struct store_error *err)
{
	memset(list_r, 0, sizeof(*list_r));
	if (store_sqlite_begin(store, false, err) < 0)
		return -1;
	int ret = ann_get_txn(store, mailbox_id, uid, user_id, list_r, err);
	ret = store_sqlite_end(store, ret, err);
	if (ret < 0)
		store_annotation_list_free(list_r);
	return ret;
}

/* ---- changing ---- */

struct ann_u32s {
	uint32_t *v;
	size_t n, cap;
};

static void ann_u32_push(struct ann_u32s *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

/* A set of entry names, kept sorted. */
struct ann_names {
	char **v;
	size_t n, cap;
};

static void ann_names_add(struct ann_names *s, const char *name)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->v[mid], name);
		if (c == 0)
			return;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memmove(&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof(*s->v));
	s->v[lo] = xstrdup(name);
	s->n++;
}

static void ann_names_free(struct ann_names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

struct ann_mailbox {
	int64_t owner_id;
	char owner[256];
	char name[STORE_MAILBOX_NAME_MAX + 1];
	uint32_t uidvalidity;
	uint64_t highestmodseq;
};

static int ann_mailbox_load(struct store *store, int64_t mailbox_id,
			    struct ann_mailbox *mb, struct store_error *err)
{
	sqlite3_stmt *st = ann_prepare(store,
		"SELECT m.user_id, u.name, m.name, m.uidvalidity, "
		"m.highestmodseq, m.noselect FROM mailboxes m "
		"JOIN users u ON u.id = m.user_id WHERE m.id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW && sqlite3_column_int(st, 5) == 0) {
		mb->owner_id = sqlite3_column_int64(st, 0);
		const char *o = (const char *)sqlite3_column_text(st, 1);
		const char *n = (const char *)sqlite3_column_text(st, 2);
		snprintf(mb->owner, sizeof(mb->owner), "%s", o ? o : "");
		snprintf(mb->name, sizeof(mb->name), "%s", n ? n : "");
		mb->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
		mb->highestmodseq = (uint64_t)sqlite3_column_int64(st, 4);
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox does not exist");
		ret = -1;
	} else {
		ret = store_sqlite_fail(store, rc, "reading a mailbox", err);
	}
	sqlite3_finalize(st);
	return ret;
}

static int ann_event(struct store *store, const struct store_actor *actor,
		     int64_t mailbox_id, const struct ann_mailbox *mb,
		     const struct ann_u32s *uids, const struct ann_names *names,
		     bool priv, uint64_t modseq, struct store_error *err)
{
	char ts[48];
	event_timestamp_now(ts, sizeof(ts));
	struct event_builder *eb = store_event_new(EVENT_ANNOTATION_CHANGE, ts);
	struct strbuf buf = STRBUF_INIT;
	/* as for FlagsSet: uri names the message when there is one */
	if (uids->n == 1)
		store_url_message(&buf, store, mb->owner, mb->name,
				  mb->uidvalidity, uids->v[0]);
	else
		store_url_mailbox(&buf, store, mb->owner, mb->name,
				  mb->uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_URI, buf.s);
	strbuf_reset(&buf);
	store_url_mailbox(&buf, store, mb->owner, mb->name, mb->uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, buf.s);
	strbuf_reset(&buf);
	store_uidset_format(&buf, uids->v, uids->n);
	event_builder_set_str(eb, EVENT_PARAM_UIDSET, strbuf_str(&buf));
	event_builder_set_int(eb, EVENT_PARAM_MODSEQ, (int64_t)modseq);
	strbuf_reset(&buf);
	for (size_t i = 0; i < names->n; i++) {
		if (i > 0)
			strbuf_appendc(&buf, ' ');
		strbuf_appends(&buf, names->v[i]);
	}
	event_builder_set_vendor_str(eb, "entries", strbuf_str(&buf));
	event_builder_set_vendor_bool(eb, "private", priv);
	strbuf_free(&buf);
	return store_sqlite_event_write(store, actor, &eb, mb->owner_id,
					mailbox_id, err);
}

enum {
	ANN_MSG,      /* the message's id and modseq */
	ANN_SEL,      /* one value */
	ANN_PUT,
	ANN_DEL,
	ANN_COUNT,    /* values the user sees on the message */
	ANN_BUMP,     /* the message's new modseq */
	ANN_STMTS
};

static const char *const ann_set_sql[ANN_STMTS] = {
	[ANN_MSG] = "SELECT id, modseq FROM messages "
		"WHERE mailbox_id = ?1 AND uid = ?2",
	[ANN_SEL] = "SELECT value FROM annotations "
		"WHERE message_id = ?1 AND entry = ?2 AND user_id = ?3",
	[ANN_PUT] = "INSERT INTO annotations(message_id, entry, user_id, value) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT(message_id, entry, user_id) "
		"DO UPDATE SET value = excluded.value",
	[ANN_DEL] = "DELETE FROM annotations "
		"WHERE message_id = ?1 AND entry = ?2 AND user_id = ?3",
	[ANN_COUNT] = "SELECT count(*) FROM annotations "
		"WHERE message_id = ?1 AND user_id IN (0, ?2)",
	[ANN_BUMP] = "UPDATE messages SET modseq = ?2 WHERE id = ?1",
};

/* Sets one item on message message_id; *changed_r when its value is now
 * different. */
static int ann_set_one(struct store *store, sqlite3_stmt **st,
		       int64_t message_id, int64_t owner,
		       const struct store_annotate_item *it, bool *changed_r,
		       struct store_error *err)
{
	*changed_r = false;
	sqlite3_stmt *sel = st[ANN_SEL];
	sqlite3_reset(sel);
	sqlite3_bind_int64(sel, 1, message_id);
	sqlite3_bind_text(sel, 2, it->entry, -1, SQLITE_STATIC);
	sqlite3_bind_int64(sel, 3, owner);
	int rc = sqlite3_step(sel);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "reading an annotation", err);
	bool exists = rc == SQLITE_ROW;
	if (exists && it->value != NULL &&
	    (size_t)sqlite3_column_bytes(sel, 0) == it->len &&
	    (it->len == 0 ||
	     memcmp(sqlite3_column_blob(sel, 0), it->value, it->len) == 0)) {
		sqlite3_reset(sel);
		return 0;   /* the same value again: no change */
	}
	sqlite3_reset(sel);
	if (!exists && it->value == NULL)
		return 0;   /* removing what is not there */
	sqlite3_stmt *w = st[it->value != NULL ? ANN_PUT : ANN_DEL];
	sqlite3_reset(w);
	sqlite3_bind_int64(w, 1, message_id);
	sqlite3_bind_text(w, 2, it->entry, -1, SQLITE_STATIC);
	sqlite3_bind_int64(w, 3, owner);
	if (it->value != NULL)
		sqlite3_bind_blob(w, 4, it->len > 0 ? it->value : "",
				  (int)it->len, SQLITE_STATIC);
	rc = sqlite3_step(w);
	sqlite3_reset(w);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "changing an annotation",
					 err);
	*changed_r = true;
	return 0;
}

struct ann_set_args {
	const struct store_actor *actor;
	int64_t user_id;
	int64_t mailbox_id;
	const uint32_t *uids;
	size_t count;
	const struct store_annotate_item *items;
	size_t nitems;
	const struct store_annotate_limits *limits;
	bool new_message;
	uint64_t unchangedsince;
	struct ann_u32s modified;
};

static int ann_set_txn(struct store *store, struct ann_set_args *a,
		       struct store_error *err)
{
	struct ann_mailbox mb;
	if (ann_mailbox_load(store, a->mailbox_id, &mb, err) < 0)
		return -1;
	uint64_t modseq = mb.highestmodseq + 1;
	sqlite3_stmt *st[ANN_STMTS] = { 0 };
	for (int i = 0; i < ANN_STMTS; i++) {
		st[i] = ann_prepare(store, ann_set_sql[i], err);
		if (st[i] == NULL)
			goto fail;
	}
	struct ann_u32s uids_shared = { 0 }, uids_priv = { 0 };
	struct ann_names names_shared = { 0 }, names_priv = { 0 };
	int ret = 0;
	for (size_t i = 0; i < a->count && ret == 0; i++) {
		sqlite3_stmt *m = st[ANN_MSG];
		sqlite3_reset(m);
		sqlite3_bind_int64(m, 1, a->mailbox_id);
		sqlite3_bind_int64(m, 2, a->uids[i]);
		int rc = sqlite3_step(m);
		if (rc == SQLITE_DONE)
			continue;   /* expunged meanwhile: skipped */
		if (rc != SQLITE_ROW) {
			ret = store_sqlite_fail(store, rc, "reading a message",
						err);
			break;
		}
		int64_t message_id = sqlite3_column_int64(m, 0);
		uint64_t old_modseq = (uint64_t)sqlite3_column_int64(m, 1);
		sqlite3_reset(m);
		if (a->unchangedsince > 0 && old_modseq > a->unchangedsince) {
			ann_u32_push(&a->modified, a->uids[i]);
			continue;
		}
		bool ch_shared = false, ch_priv = false;
		for (size_t k = 0; k < a->nitems && ret == 0; k++) {
			const struct store_annotate_item *it = &a->items[k];
			bool changed;
			ret = ann_set_one(store, st, message_id,
					  it->priv ? a->user_id : 0, it,
					  &changed, err);
			if (ret < 0 || !changed)
				continue;
			if (it->priv) {
				ch_priv = true;
				ann_names_add(&names_priv, it->entry);
			} else {
				ch_shared = true;
				ann_names_add(&names_shared, it->entry);
			}
		}
		if (ret < 0 || !(ch_shared || ch_priv))
			continue;
		/* §4.1: the limit on values per message; checked after the
		 * writes so that replacing values never counts twice */
		sqlite3_stmt *c = st[ANN_COUNT];
		sqlite3_reset(c);
		sqlite3_bind_int64(c, 1, message_id);
		sqlite3_bind_int64(c, 2, a->user_id);
		rc = sqlite3_step(c);
		if (rc != SQLITE_ROW) {
			ret = store_sqlite_fail(store, rc,
						"counting annotations", err);
			break;
		}
		int64_t n = sqlite3_column_int64(c, 0);
		sqlite3_reset(c);
		if ((uint64_t)n > a->limits->max_entries) {
			store_error_set(err, STORE_ERR_LIMIT,
					"Too many annotations on a message "
					"(at most %zu)", a->limits->max_entries);
			ret = -1;
			break;
		}
		if (!a->new_message) {
			sqlite3_stmt *b = st[ANN_BUMP];
			sqlite3_reset(b);
			sqlite3_bind_int64(b, 1, message_id);
			sqlite3_bind_int64(b, 2, (int64_t)modseq);
			rc = sqlite3_step(b);
			sqlite3_reset(b);
			if (rc != SQLITE_DONE) {
				ret = store_sqlite_fail(store, rc,
							"changing a modseq", err);
				break;
			}
		}
		if (ch_shared)
			ann_u32_push(&uids_shared, a->uids[i]);
		if (ch_priv)
			ann_u32_push(&uids_priv, a->uids[i]);
	}
	bool any = uids_shared.n > 0 || uids_priv.n > 0;
	if (ret == 0 && any && !a->new_message) {
		/* RFC 7162 §3.1.1: HIGHESTMODSEQ follows the messages */
		sqlite3_stmt *h = ann_prepare(store, "UPDATE mailboxes SET "
					      "highestmodseq = ?2 WHERE id = ?1",
					      err);
		if (h == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(h, 1, a->mailbox_id);
			sqlite3_bind_int64(h, 2, (int64_t)modseq);
			int rc = sqlite3_step(h);
			sqlite3_finalize(h);
			if (rc != SQLITE_DONE)
				ret = store_sqlite_fail(store, rc,
							"changing a mailbox", err);
		}
		if (ret == 0 && uids_shared.n > 0)
			ret = ann_event(store, a->actor, a->mailbox_id, &mb,
					&uids_shared, &names_shared, false,
					modseq, err);
		if (ret == 0 && uids_priv.n > 0)
			ret = ann_event(store, a->actor, a->mailbox_id, &mb,
					&uids_priv, &names_priv, true, modseq,
					err);
	}
	free(uids_shared.v);
	free(uids_priv.v);
	ann_names_free(&names_shared);
	ann_names_free(&names_priv);
	for (int i = 0; i < ANN_STMTS; i++)
		sqlite3_finalize(st[i]);
	return ret;
fail:
	for (int i = 0; i < ANN_STMTS; i++)
		sqlite3_finalize(st[i]);
	return -1;
}

int store_annotate_set(struct store *store, const struct store_actor *actor,
		       int64_t user_id, int64_t mailbox_id,
		       const uint32_t *uids, size_t count,
		       const struct store_annotate_item *items, size_t nitems,
		       const struct store_annotate_limits *limits,
		       bool new_message, uint64_t unchangedsince,
		       uint32_t **modified_r, size_t *modified_count_r,
		       struct store_error *err)
{
	if (modified_r != NULL)
		*modified_r = NULL;
	if (modified_count_r != NULL)
		*modified_count_r = 0;
	for (size_t k = 0; k < nitems; k++) {
		if (items[k].value != NULL && items[k].len > limits->max_size) {
			store_error_set(err, STORE_ERR_TOOBIG,
					"Annotation value too big (at most "
					"%llu bytes)",
					(unsigned long long)limits->max_size);
			return -1;
		}
		if (items[k].priv && user_id <= 0) {
			store_error_set(err, STORE_ERR_CANNOT,
					"No user for a private annotation");
			return -1;
		}
	}
	if (count == 0 || nitems == 0)
		return 0;
	struct ann_set_args a = {
		.actor = actor, .user_id = user_id, .mailbox_id = mailbox_id,
		.uids = uids, .count = count, .items = items, .nitems = nitems,
		.limits = limits, .new_message = new_message,
		.unchangedsince = unchangedsince,
	};
	if (store_sqlite_begin(store, true, err) < 0)
		return -1;
	int ret = ann_set_txn(store, &a, err);
	ret = store_sqlite_end(store, ret, err);
	if (ret == 0 && modified_r != NULL && a.modified.n > 0) {
		*modified_r = a.modified.v;
		a.modified.v = NULL;
		if (modified_count_r != NULL)
			*modified_count_r = a.modified.n;
	}
	free(a.modified.v);
	return ret;
}

/* ---- COPY / MOVE ---- */

int store_annotate_copy(struct store *store, const struct store_actor *actor,
			int64_t src_mailbox_id, const uint32_t *src_uids,
			int64_t dst_mailbox_id, const uint32_t *dst_uids,
			size_t count, struct store_error *err)
{
	if (count == 0 || store_sqlite_db(store) == NULL)
		return 0;
	/* the acting user's id; -1 (no row has it) when there is none */
	int64_t user_id = -1;
	if (actor != NULL && actor->user != NULL) {
		sqlite3_stmt *u = ann_prepare(store,
			"SELECT id FROM users WHERE name = ?1", err);
		if (u == NULL)
			return -1;
		sqlite3_bind_text(u, 1, actor->user, -1, SQLITE_STATIC);
		int rc = sqlite3_step(u);
		if (rc == SQLITE_ROW)
			user_id = sqlite3_column_int64(u, 0);
		sqlite3_finalize(u);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return store_sqlite_fail(store, rc, "reading a user",
						 err);
	}
	sqlite3_stmt *st = ann_prepare(store,
		"INSERT OR REPLACE INTO annotations(message_id, entry, user_id, "
		"value) SELECT d.id, a.entry, a.user_id, a.value "
		"FROM messages s JOIN annotations a ON a.message_id = s.id "
		"JOIN messages d ON d.mailbox_id = ?3 AND d.uid = ?4 "
		"WHERE s.mailbox_id = ?1 AND s.uid = ?2 "
		"AND a.user_id IN (0, ?5)", err);
	if (st == NULL)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < count; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, src_mailbox_id);
		sqlite3_bind_int64(st, 2, src_uids[i]);
		sqlite3_bind_int64(st, 3, dst_mailbox_id);
		sqlite3_bind_int64(st, 4, dst_uids[i]);
		sqlite3_bind_int64(st, 5, user_id);
		int rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			ret = store_sqlite_fail(store, rc, "copying annotations",
						err);
			break;
		}
	}
	sqlite3_finalize(st);
	return ret;
}
