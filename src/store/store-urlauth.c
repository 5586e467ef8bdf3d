/* RFC 4467 §2.3 mailbox access keys: the secret of the INTERNAL URLAUTH
 * mechanism, one per user and mailbox, in table urlauth_keys (schema v4).
 *
 * A key is 32 bytes from OpenSSL's CSPRNG (RFC 4467 §10: at least 128
 * bits, unpredictable), made on first use (GENURLAUTH, or a sink that
 * replaces an oversized messageContent by a URL) and replaced by
 * RESETKEY.  The rows go with their mailbox or user (ON DELETE CASCADE),
 * so a mailbox deleted and created again under the same name never
 * validates the old URLs: it gets a new key (and a new UIDVALIDITY). */
#include "store/store-private.h"

#include <sqlite3.h>
#include <string.h>

#include <openssl/rand.h>

#include "lib/log.h"

static int urlauth_db(struct store *store, sqlite3 **db_r,
		      struct store_error *err)
{
	*db_r = (sqlite3 *)store_sqlite_db(store);
	if (*db_r == NULL) {
		store_error_set(err, STORE_ERR_CANNOT,
				"URLAUTH keys are not supported by this store");
		return -1;
	}
	return 0;
}

static int urlauth_random_key(unsigned char key[STORE_URLAUTH_KEY_LEN],
			      struct store_error *err)
{
	if (RAND_bytes(key, STORE_URLAUTH_KEY_LEN) != 1) {
		log_error("store: urlauth: RAND_bytes failed");
		store_error_internal(err);
		return -1;
	}
	return 0;
}

/* Runs one statement with up to three int64 bindings and an optional
 * key blob (bound last); reads one blob column into key_r when asked.
 * 1 row read, 0 done without a row, -1. */
static int urlauth_run(struct store *store, sqlite3 *db, const char *sql,
		       const int64_t *ints, size_t nints,
		       const unsigned char *blob,
		       unsigned char key_r[STORE_URLAUTH_KEY_LEN],
		       struct store_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_fail(store, rc, "preparing a URLAUTH "
					 "key statement", err);
	for (size_t i = 0; i < nints; i++)
		sqlite3_bind_int64(st, (int)i + 1, ints[i]);
	if (blob != NULL)
		sqlite3_bind_blob(st, (int)nints + 1, blob,
				  STORE_URLAUTH_KEY_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW && key_r != NULL) {
		const void *b = sqlite3_column_blob(st, 0);
		if (b == NULL || sqlite3_column_bytes(st, 0) !=
				 STORE_URLAUTH_KEY_LEN) {
			log_error("store: urlauth: a stored key has the "
				  "wrong length");
			store_error_internal(err);
			ret = -1;
		} else {
			memcpy(key_r, b, STORE_URLAUTH_KEY_LEN);
			ret = 1;
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = store_sqlite_fail(store, rc, "URLAUTH keys", err);
	}
	sqlite3_finalize(st);
	return ret;
}

int store_urlauth_key_get(struct store *store, int64_t user_id,
			  int64_t mailbox_id, bool create,
			  unsigned char key_r[STORE_URLAUTH_KEY_LEN],
			  struct store_error *err)
{
	sqlite3 *db;
	if (urlauth_db(store, &db, err) < 0)
		return -1;
	const int64_t ids[2] = { user_id, mailbox_id };
	static const char select_sql[] =
		"SELECT key FROM urlauth_keys WHERE user_id = ?1 AND "
		"mailbox_id = ?2";
	if (!create)
		return urlauth_run(store, db, select_sql, ids, 2, NULL, key_r,
				   err);
	unsigned char fresh[STORE_URLAUTH_KEY_LEN];
	if (urlauth_random_key(fresh, err) < 0)
		return -1;
	if (store_sqlite_begin(store, true, err) < 0)
		return -1;
	/* Two sessions may create at once: the first row wins and both
	 * read it back.  The mailbox must belong to the user. */
	int ret = urlauth_run(store, db,
			      "INSERT OR IGNORE INTO urlauth_keys(user_id, "
			      "mailbox_id, key) SELECT ?1, ?2, ?3 WHERE "
			      "EXISTS (SELECT 1 FROM mailboxes WHERE id = ?2 "
			      "AND user_id = ?1)", ids, 2, fresh, NULL, err);
	if (ret == 0)
		ret = urlauth_run(store, db, select_sql, ids, 2, NULL, key_r,
				  err);
	if (ret == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such mailbox");
		ret = -1;
	}
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (store_sqlite_end(store, ret < 0 ? -1 : 0, err) < 0)
		return -1;
	return ret;
}

int store_urlauth_key_reset(struct store *store, int64_t user_id,
			    int64_t mailbox_id, struct store_error *err)
{
	sqlite3 *db;
	if (urlauth_db(store, &db, err) < 0)
		return -1;
	if (mailbox_id == 0) {
		/* RFC 4467 §7 RESETKEY without arguments */
		const int64_t ids[1] = { user_id };
		return urlauth_run(store, db, "DELETE FROM urlauth_keys WHERE "
				   "user_id = ?1", ids, 1, NULL, NULL, err);
	}
	unsigned char fresh[STORE_URLAUTH_KEY_LEN];
	if (urlauth_random_key(fresh, err) < 0)
		return -1;
	const int64_t ids[2] = { user_id, mailbox_id };
	int ret = urlauth_run(store, db,
			      "INSERT OR REPLACE INTO urlauth_keys(user_id, "
			      "mailbox_id, key) SELECT ?1, ?2, ?3 WHERE "
			      "EXISTS (SELECT 1 FROM mailboxes WHERE id = ?2 "
			      "AND user_id = ?1)", ids, 2, fresh, NULL, err);
	OPENSSL_cleanse(fresh, sizeof(fresh));
	return ret < 0 ? -1 : 0;
}
