/* METADATA (RFC 5464) entries in table metadata of the SQLite index:
 * (mailbox_id, user_id, entry, value), mailbox_id 0 for server entries,
 * user_id 0 for /shared entries, entry the name after "/private" or
 * "/shared" in lower case ("/comment").  See store-metadata.h. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "store/store-metadata.h"
#include "store/store-private.h"

void store_metadata_list_free(struct store_metadata_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].entry);
		free(list->items[i].value);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* "/private/x" -> scope private, key "/x"; "/shared" -> shared, "". */
static bool metadata_split(const char *entry, bool *private_r, const char **key_r)
{
	if (strncmp(entry, "/private", 8) == 0 && (entry[8] == '\0' || entry[8] == '/')) {
		*private_r = true;
		*key_r = entry + 8;
		return true;
	}
	if (strncmp(entry, "/shared", 7) == 0 && (entry[7] == '\0' || entry[7] == '/')) {
		*private_r = false;
		*key_r = entry + 7;
		return true;
	}
	return false;
}

bool store_metadata_entry_valid(const char *entry, bool for_set)
{
	size_t len = strlen(entry);
	if (len == 0 || len > STORE_METADATA_ENTRY_MAX || entry[0] != '/' ||
	    entry[len - 1] == '/')
		return false;
	unsigned int components = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)entry[i];
		/* §3.2: no '*' or '%', ASCII only, nothing below 0x20 (and
		 * no DEL either) */
		if (c < 0x20 || c > 0x7e || c == '*' || c == '%')
			return false;
		if (c == '/') {
			if (entry[i + 1] == '/')
				return false;
			components++;
		}
	}
	bool private;
	const char *key;
	if (!metadata_split(entry, &private, &key))
		return false;
	if (!for_set)
		return true;
	/* §3.2: at least two components, four under the vendor trees */
	if (components < 2)
		return false;
	if (strncmp(key, "/vendor", 7) == 0 && (key[7] == '/' || key[7] == '\0') &&
	    components < 4)
		return false;
	return true;
}

static sqlite3_stmt *metadata_prepare(struct store *store, const char *sql,
				      struct store_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(store_sqlite_db(store), sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_fail(store, rc, "preparing a metadata statement", err);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static void metadata_list_add(struct store_metadata_list *list, size_t *cap,
			      const char *entry, const void *value, size_t len)
{
	if (list->count == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		list->items = xrealloc(list->items, *cap * sizeof(*list->items));
	}
	struct store_metadata_item *it = &list->items[list->count++];
	it->entry = xstrdup(entry);
	it->value = xmalloc(len + 1);
	if (len > 0)
		memcpy(it->value, value, len);
	it->value[len] = '\0';
	it->len = len;
}

static int metadata_item_cmp(const void *a, const void *b)
{
	const struct store_metadata_item *x = a, *y = b;
	return strcmp(x->entry, y->entry);
}

/* The rows below (and at) key for one scope.  ?4 = key, ?5 = key/ */
static const char metadata_get_sql[] =
	"SELECT entry, value FROM metadata WHERE mailbox_id = ?1 AND user_id = ?2"
	" AND (entry = ?4 OR (?3 > 0 AND substr(entry, 1, length(?5)) = ?5"
	"  AND (?3 = 2 OR instr(substr(entry, length(?5) + 1), '/') = 0)))";

int store_metadata_get(struct store *store, int64_t user_id,
		       int64_t mailbox_id, char *const *entries, size_t count,
		       enum store_metadata_depth depth,
		       struct store_metadata_list *list_r,
		       struct store_error *err)
{
	memset(list_r, 0, sizeof(*list_r));
	if (store_sqlite_db(store) == NULL) {
		store_error_set(err, STORE_ERR_CANNOT, "METADATA needs the SQLite store");
		return -1;
	}
	if (store_sqlite_begin(store, false, err) < 0)
		return -1;
	sqlite3_stmt *st = metadata_prepare(store, metadata_get_sql, err);
	int ret = st == NULL ? -1 : 0;
	size_t cap = 0;
	struct strbuf full = STRBUF_INIT, below = STRBUF_INIT;
	for (size_t i = 0; ret == 0 && i < count; i++) {
		bool private;
		const char *key;
		if (!metadata_split(entries[i], &private, &key))
			continue;
		strbuf_reset(&below);
		strbuf_appends(&below, key);
		strbuf_appendc(&below, '/');
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, private ? user_id : 0);
		sqlite3_bind_int(st, 3, (int)depth);
		sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, below.s, (int)below.len, SQLITE_TRANSIENT);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			strbuf_reset(&full);
			strbuf_appends(&full, private ? "/private" : "/shared");
			strbuf_appends(&full, (const char *)sqlite3_column_text(st, 0));
			metadata_list_add(list_r, &cap, full.s, sqlite3_column_blob(st, 1),
					  (size_t)sqlite3_column_bytes(st, 1));
		}
		if (rc != SQLITE_DONE)
			ret = store_sqlite_fail(store, rc, "reading metadata", err);
	}
	sqlite3_finalize(st);
	strbuf_free(&full);
	strbuf_free(&below);
	ret = store_sqlite_end(store, ret, err);
	if (ret < 0) {
		store_metadata_list_free(list_r);
		return -1;
	}
	/* in name order, each once (requests may overlap) */
	if (list_r->count > 1)  /* items is NULL when nothing was found */
		qsort(list_r->items, list_r->count, sizeof(*list_r->items),
		      metadata_item_cmp);
	size_t w = 0;
	for (size_t i = 0; i < list_r->count; i++) {
		if (w > 0 && strcmp(list_r->items[w - 1].entry, list_r->items[i].entry) == 0) {
			free(list_r->items[i].entry);
			free(list_r->items[i].value);
			continue;
		}
		list_r->items[w++] = list_r->items[i];
	}
	list_r->count = w;
	return 0;
}

/* Entries counted against a user's limit, and the server's /shared ones. */
static int metadata_counts(struct store *store, int64_t user_id,
			   int64_t *user_r, int64_t *server_r,
			   struct store_error *err)
{
	sqlite3_stmt *st = metadata_prepare(store,
		"SELECT (SELECT COUNT(*) FROM metadata WHERE user_id = ?1 OR"
		"  (user_id = 0 AND mailbox_id IN"
		"   (SELECT id FROM mailboxes WHERE user_id = ?1))),"
		" (SELECT COUNT(*) FROM metadata WHERE user_id = 0 AND mailbox_id = 0)",
		err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		*user_r = sqlite3_column_int64(st, 0);
		*server_r = sqlite3_column_int64(st, 1);
	} else {
		ret = store_sqlite_fail(store, rc, "counting metadata", err);
	}
	sqlite3_finalize(st);
	return ret;
}

static int metadata_owner_name(struct store *store, int64_t user_id,
			       struct strbuf *out, struct store_error *err)
{
	sqlite3_stmt *st = metadata_prepare(store, "SELECT name FROM users WHERE id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW)
		strbuf_appends(out, (const char *)sqlite3_column_text(st, 0));
	else if (rc == SQLITE_DONE)
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user"), ret = -1;
	else
		ret = store_sqlite_fail(store, rc, "reading a user", err);
	sqlite3_finalize(st);
	return ret;
}

static int metadata_event(struct store *store, const struct store_actor *actor,
			  int64_t user_id, const struct store_mailbox *mb,
			  const char *entry, bool private, const char *owner,
			  struct store_error *err)
{
	char ts[48];
	event_timestamp_now(ts, sizeof(ts));
	struct event_builder *eb = store_event_new(mb != NULL
		? EVENT_MAILBOX_METADATA_CHANGE : EVENT_SERVER_METADATA_CHANGE, ts);
	struct strbuf url = STRBUF_INIT;
	int64_t row_user;
	if (mb != NULL) {
		store_url_mailbox(&url, store, owner, mb->name, mb->uidvalidity);
		event_builder_set_str(eb, EVENT_PARAM_URI, url.s);
		event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, url.s);
		/* a /private entry on a mailbox shared with this user is
		 * this user's business, not the owner's */
		row_user = private ? user_id : mb->user_id;
	} else {
		store_url_server(&url, store, owner);
		event_builder_set_str(eb, EVENT_PARAM_URI, url.s);
		/* a /shared server entry concerns every user */
		row_user = private ? user_id : 0;
	}
	event_builder_set_vendor_str(eb, "entry", entry);
	strbuf_free(&url);
	return store_sqlite_event_write(store, actor, &eb, row_user,
					mb != NULL ? mb->id : 0, err);
}

/* One item; *changed_r when the stored value is now different. */
static int metadata_set_one(struct store *store, sqlite3_stmt *sel,
			    sqlite3_stmt *put, sqlite3_stmt *del,
			    int64_t mailbox_id, int64_t scope_user,
			    const char *key, const struct store_metadata_item *it,
			    bool *changed_r, struct store_error *err)
{
	*changed_r = false;
	sqlite3_reset(sel);
	sqlite3_bind_int64(sel, 1, mailbox_id);
	sqlite3_bind_int64(sel, 2, scope_user);
	sqlite3_bind_text(sel, 3, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(sel);
	bool exists = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "reading metadata", err);
	if (it->value == NULL) {
		sqlite3_reset(sel);
		if (!exists)
			return 0;
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, mailbox_id);
		sqlite3_bind_int64(del, 2, scope_user);
		sqlite3_bind_text(del, 3, key, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(del);
		if (rc != SQLITE_DONE)
			return store_sqlite_fail(store, rc, "removing metadata", err);
		*changed_r = true;
		return 0;
	}
	if (exists && (size_t)sqlite3_column_bytes(sel, 0) == it->len &&
	    (it->len == 0 || memcmp(sqlite3_column_blob(sel, 0), it->value, it->len) == 0)) {
		sqlite3_reset(sel);
		return 0;
	}
	sqlite3_reset(sel);
	sqlite3_reset(put);
	sqlite3_bind_int64(put, 1, mailbox_id);
	sqlite3_bind_int64(put, 2, scope_user);
	sqlite3_bind_text(put, 3, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(put, 4, it->len > 0 ? it->value : "", (int)it->len, SQLITE_TRANSIENT);
	rc = sqlite3_step(put);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "writing metadata", err);
	*changed_r = true;
	return 0;
}

static int metadata_set_txn(struct store *store, const struct store_actor *actor,
			    int64_t user_id, const struct store_mailbox *mb,
			    const struct store_metadata_item *items, size_t count,
			    size_t max_entries, struct store_error *err)
{
	int64_t user_before = 0, server_before = 0, user_after = 0, server_after = 0;
	struct strbuf owner = STRBUF_INIT;
	sqlite3_stmt *sel = NULL, *put = NULL, *del = NULL;
	int ret = -1;
	if (mb != NULL) {
		/* the mailbox may have gone since the caller looked it up */
		struct store_mailbox now;
		if (store_mailbox_get_by_id(store, mb->id, &now, err) < 0)
			goto out;
	}
	if (metadata_counts(store, user_id, &user_before, &server_before, err) < 0 ||
	    metadata_owner_name(store, mb != NULL ? mb->user_id : user_id, &owner, err) < 0)
		goto out;
	sel = metadata_prepare(store, "SELECT value FROM metadata WHERE mailbox_id = ?1"
			       " AND user_id = ?2 AND entry = ?3", err);
	put = metadata_prepare(store, "INSERT OR REPLACE INTO metadata(mailbox_id,"
			       " user_id, entry, value) VALUES (?1, ?2, ?3, ?4)", err);
	del = metadata_prepare(store, "DELETE FROM metadata WHERE mailbox_id = ?1"
			       " AND user_id = ?2 AND entry = ?3", err);
	if (sel == NULL || put == NULL || del == NULL)
		goto out;
	for (size_t i = 0; i < count; i++) {
		bool private, changed;
		const char *key;
		if (!metadata_split(items[i].entry, &private, &key) || key[0] == '\0') {
			store_error_set(err, STORE_ERR_CANNOT, "Invalid entry name");
			goto out;
		}
		if (metadata_set_one(store, sel, put, del, mb != NULL ? mb->id : 0,
				     private ? user_id : 0, key, &items[i], &changed, err) < 0)
			goto out;
		if (changed && metadata_event(store, actor, user_id, mb, items[i].entry,
					      private, owner.s, err) < 0)
			goto out;
	}
	if (metadata_counts(store, user_id, &user_after, &server_after, err) < 0)
		goto out;
	/* only growth is refused: after the limit was lowered, replacing
	 * and removing entries still work */
	if ((user_after > (int64_t)max_entries && user_after > user_before) ||
	    (server_after > (int64_t)max_entries && server_after > server_before)) {
		store_error_set(err, STORE_ERR_LIMIT, "Too many metadata entries");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(sel);
	sqlite3_finalize(put);
	sqlite3_finalize(del);
	strbuf_free(&owner);
	return ret;
}

int store_metadata_set(struct store *store, const struct store_actor *actor,
		       int64_t user_id, const struct store_mailbox *mb,
		       const struct store_metadata_item *items, size_t count,
		       size_t max_entries, struct store_error *err)
{
	if (store_sqlite_db(store) == NULL) {
		store_error_set(err, STORE_ERR_CANNOT, "METADATA needs the SQLite store");
		return -1;
	}
	if (store_sqlite_begin(store, true, err) < 0)
		return -1;
	int ret = metadata_set_txn(store, actor, user_id, mb, items, count,
				   max_entries, err);
	return store_sqlite_end(store, ret, err);
}
