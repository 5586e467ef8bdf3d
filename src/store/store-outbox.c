/* Outbox upkeep on the SQLite backend: batched pruning and the list of
 * sink cursor rows.  Runs its own statements on the backend's connection
 * through the helpers of store-private.h. */
#include "store/store-outbox.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/store-private.h"

int store_outbox_prune(struct store *store, int64_t max_seq,
		       int64_t before_ms, size_t limit, size_t *deleted_r,
		       struct store_error *err)
{
	*deleted_r = 0;
	memset(err, 0, sizeof(*err));
	sqlite3 *db = store_sqlite_db(store);
	if (db == NULL) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Pruning needs the SQLite backend");
		return -1;
	}
	if (limit == 0 || max_seq <= 0)
		return 0;
	if (limit > STORE_OUTBOX_PRUNE_BATCH)
		limit = STORE_OUTBOX_PRUNE_BATCH;
	/* The seq range is found on the primary key first, so the DELETE
	 * touches only the oldest rows and never scans the whole table. */
	static const char sql[] =
		"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
		"WHERE seq <= ?1 AND created < ?2 ORDER BY seq LIMIT ?3)";
	if (store_sqlite_begin(store, true, err) < 0)
		return -1;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	int ret = 0;
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, max_seq);
		sqlite3_bind_int64(st, 2, before_ms);
		sqlite3_bind_int64(st, 3, (int64_t)limit);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE)
		ret = store_sqlite_fail(store, rc, "pruning the outbox", err);
	else
		*deleted_r = (size_t)sqlite3_changes(db);
	sqlite3_finalize(st);
	if (store_sqlite_end(store, ret, err) < 0) {
		*deleted_r = 0;
		return -1;
	}
	return 0;
}

int store_sink_cursor_foreach(struct store *store,
			      void (*cb)(const char *name, int64_t seq,
					 int64_t updated, void *ctx),
			      void *ctx, struct store_error *err)
{
	memset(err, 0, sizeof(*err));
	sqlite3 *db = store_sqlite_db(store);
	if (db == NULL) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Listing cursors needs the SQLite backend");
		return -1;
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT name, seq, updated FROM "
				    "sink_cursors ORDER BY name", -1, &st,
				    NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return store_sqlite_fail(store, rc, "reading sink cursors",
					 err);
	}
	/* Copied out first: cb may call the store. */
	struct row {
		char *name;
		int64_t seq, updated;
	} *rows = NULL;
	size_t n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		rows = xrealloc(rows, (n + 1) * sizeof(*rows));
		rows[n].name = xstrdup(name != NULL ? name : "");
		rows[n].seq = sqlite3_column_int64(st, 1);
		rows[n].updated = sqlite3_column_int64(st, 2);
		n++;
	}
	int ret = 0;
	if (rc != SQLITE_DONE)
		ret = store_sqlite_fail(store, rc, "reading sink cursors", err);
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++) {
		if (ret == 0)
			cb(rows[i].name, rows[i].seq, rows[i].updated, ctx);
		free(rows[i].name);
	}
	free(rows);
	return ret;
}
