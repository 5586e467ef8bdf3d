/* The SQLite backend: the index and the outbox in data_dir/index.db.
 *
 * WAL mode with synchronous=FULL: a commit is durable when it returns, and
 * readers (other sessions, the CLI, the event pump) never wait for the
 * writer.  Every change is one BEGIN IMMEDIATE transaction that also
 * inserts its RFC 5423 events into the outbox, so the change and its
 * events commit or vanish together.  Taking the write lock at BEGIN means
 * a transaction never has to upgrade a read snapshot, which is where WAL
 * mode would report SQLITE_BUSY without waiting.
 *
 * Counters that LIST/STATUS need at once (messages, unseen) and body
 * reference counts are kept by triggers, so no code path can forget them.
 * A body whose count drops to zero keeps its row (refcount 0) until its
 * file is unlinked after the commit; a crash in between leaves a row that
 * the next store_open() finds and finishes. */
#include "store/store-private.h"
#include "store/store-annotate.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define SQ_SCHEMA_VERSION 4
#define SQ_BUSY_TIMEOUT_MS 5000
/* rows copied per round by readers that call back into user code */
#define SQ_BATCH 256
/* at most this many orphan files past the last body id are looked for */
#define SQ_ORPHAN_SCAN 16

static const char sq_schema_v1[] =
	"CREATE TABLE meta("
	"  key TEXT PRIMARY KEY,"
	"  value INTEGER NOT NULL) WITHOUT ROWID;"
	/* AUTOINCREMENT: ids are never reused, so an id in an old outbox
	 * row or in a session's memory never names something else */
	"CREATE TABLE users("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  password_hash TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE mailboxes("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  special_use TEXT NOT NULL DEFAULT '',"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL DEFAULT 1,"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	"  recent_uid INTEGER NOT NULL DEFAULT 0,"
	"  noselect INTEGER NOT NULL DEFAULT 0,"
	"  messages INTEGER NOT NULL DEFAULT 0,"
	"  unseen INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE(user_id, name));"
	"CREATE TABLE bodies("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  size INTEGER NOT NULL,"
	"  refcount INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX bodies_dead ON bodies(id) WHERE refcount <= 0;"
	"CREATE TABLE messages("
	"  id INTEGER PRIMARY KEY,"
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  modseq INTEGER NOT NULL,"
	"  internaldate INTEGER NOT NULL,"
	"  tz_offset INTEGER NOT NULL DEFAULT 0,"
	"  size INTEGER NOT NULL,"
	"  body_id INTEGER NOT NULL REFERENCES bodies(id),"
	"  UNIQUE(mailbox_id, uid));"
	"CREATE INDEX messages_body ON messages(body_id);"
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);"
	/* RFC 7162 §3.2.10 VANISHED / QRESYNC: which UIDs went when */
	"CREATE TABLE expunged("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE mailbox_keywords("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL COLLATE NOCASE,"
	"  UNIQUE(mailbox_id, name));"
	"CREATE TABLE subscriptions("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  PRIMARY KEY(user_id, name)) WITHOUT ROWID;"
	"CREATE TABLE outbox("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  user_id INTEGER NOT NULL DEFAULT 0,"
	"  mailbox_id INTEGER NOT NULL DEFAULT 0,"
	"  origin INTEGER NOT NULL DEFAULT 0,"
	"  origin_pid INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  params TEXT NOT NULL);"
	"CREATE TRIGGER messages_insert AFTER INSERT ON messages BEGIN"
	"  UPDATE mailboxes SET messages = messages + 1,"
	"    unseen = unseen + ((NEW.flags & 1) = 0)"
	"    WHERE id = NEW.mailbox_id;"
	"  UPDATE bodies SET refcount = refcount + 1 WHERE id = NEW.body_id;"
	"END;"
	"CREATE TRIGGER messages_delete AFTER DELETE ON messages BEGIN"
	"  UPDATE mailboxes SET messages = messages - 1,"
	"    unseen = unseen - ((OLD.flags & 1) = 0)"
	"    WHERE id = OLD.mailbox_id;"
	"  UPDATE bodies SET refcount = refcount - 1 WHERE id = OLD.body_id;"
	"END;"
	"CREATE TRIGGER messages_seen AFTER UPDATE OF flags ON messages"
	"  WHEN (OLD.flags & 1) != (NEW.flags & 1) BEGIN"
	"  UPDATE mailboxes SET unseen = unseen + ((NEW.flags & 1) = 0)"
	"    - ((OLD.flags & 1) = 0) WHERE id = NEW.mailbox_id;"
	"END;"
	"INSERT INTO meta(key, value) VALUES ('schema_version', 1);"
	"PRAGMA user_version = 1;";

/* Version 2: the sinks' durable cursors into the outbox (the events
 * issue) and the SMTP envelope of delivered messages (LMTP; RFC 5423
 * needs it for the `envelope` parameter). */
static const char sq_schema_v2[] =
	"CREATE TABLE sink_cursors("
	"  name TEXT PRIMARY KEY,"
	"  seq INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
	"CREATE TABLE envelopes("
	"  message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
	"  mail_from TEXT NOT NULL,"
	"  rcpt_to TEXT NOT NULL);"
	"UPDATE meta SET value = 2 WHERE key = 'schema_version';"
	"PRAGMA user_version = 2;";

/* Version 3: per-user quota.  The limits (NULL: the configured default,
 * 0: unlimited) and the usage counted against them, kept by triggers like
 * the mailbox counters, so every path that adds or removes a message
 * (append, delivery, copy, move, expunge, mailbox and user deletion) keeps
 * it right.  Messages are always deleted while their mailbox row still
 * exists (sq_mailbox_purge), which the delete trigger relies on.
 * "exceeded" remembers a QuotaExceed not yet followed by QuotaWithin. */
static const char sq_schema_v3[] =
	"CREATE TABLE quotas("
	"  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,"
	"  storage_limit INTEGER,"
	"  message_limit INTEGER,"
	"  storage_used INTEGER NOT NULL DEFAULT 0,"
	"  messages_used INTEGER NOT NULL DEFAULT 0,"
	"  exceeded INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO quotas(user_id, storage_used, messages_used)"
	"  SELECT u.id, COALESCE(SUM(m.size), 0), COUNT(m.id) FROM users u"
	"  LEFT JOIN mailboxes b ON b.user_id = u.id"
	"  LEFT JOIN messages m ON m.mailbox_id = b.id GROUP BY u.id;"
	"CREATE TRIGGER users_quota AFTER INSERT ON users BEGIN"
	"  INSERT OR IGNORE INTO quotas(user_id) VALUES (NEW.id);"
	"END;"
	"CREATE TRIGGER messages_quota_insert AFTER INSERT ON messages BEGIN"
	"  UPDATE quotas SET storage_used = storage_used + NEW.size,"
	"    messages_used = messages_used + 1"
	"    WHERE user_id = (SELECT user_id FROM mailboxes"
	"      WHERE id = NEW.mailbox_id);"
	"END;"
	"CREATE TRIGGER messages_quota_delete AFTER DELETE ON messages BEGIN"
	"  UPDATE quotas SET storage_used = storage_used - OLD.size,"
	"    messages_used = messages_used - 1"
	"    WHERE user_id = (SELECT user_id FROM mailboxes"
	"      WHERE id = OLD.mailbox_id);"
	"END;"
	"UPDATE meta SET value = 3 WHERE key = 'schema_version';"
	"PRAGMA user_version = 3;";

/* Version 4: what the NOTIFY issue's extensions keep.
 * - acl: RFC 4314 rights granted on a mailbox; identifier is a user name,
 *   "anyone", or either with a leading '-' for negative rights.  The owner
 *   has every right implicitly (no row needed).
 * - metadata: RFC 5464 entries.  mailbox_id 0 = server entries; user_id 0
 *   = a /shared entry, else the user whose /private entry it is.  entry is
 *   the name after "/private" or "/shared" (e.g. "/comment"), lower case.
 * - annotations: RFC 5257 per-message entries (user_id 0 = value.shared,
 *   else that user's value.priv).
 * - urlauth_keys: RFC 4467 mailbox access keys, one per user and mailbox.
 * - mailboxes.delivered: set once mail has been delivered to the mailbox
 *   (LMTP), so NOTIFY's "inboxes" (RFC 5465 §6) is INBOX plus these.
 * - quotas.mailbox_limit: the RFC 9208 §5.3 MAILBOX limit, as the other
 *   limits (NULL: the configured default, 0: unlimited).  Its usage is
 *   counted when needed (a user has few mailboxes), not kept. */
static const char sq_schema_v4[] =
	"CREATE TABLE acl("
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  identifier TEXT NOT NULL,"
	"  rights TEXT NOT NULL,"
	"  PRIMARY KEY(mailbox_id, identifier)) WITHOUT ROWID;"
	"CREATE INDEX acl_identifier ON acl(identifier);"
	/* RFC 4314 §4: DELETE removes the ACL, also when the name stays as a
	 * \Noselect parent (whose row, and id, a later CREATE revives). */
	"CREATE TRIGGER mailboxes_acl_noselect AFTER UPDATE OF noselect"
	"  ON mailboxes WHEN NEW.noselect = 1 BEGIN"
	"  DELETE FROM acl WHERE mailbox_id = NEW.id;"
	"END;"
	"CREATE TABLE metadata("
	"  mailbox_id INTEGER NOT NULL,"
	"  user_id INTEGER NOT NULL,"
	"  entry TEXT NOT NULL,"
	"  value BLOB NOT NULL,"
	"  PRIMARY KEY(mailbox_id, user_id, entry)) WITHOUT ROWID;"
	"CREATE TRIGGER mailboxes_metadata AFTER DELETE ON mailboxes BEGIN"
	"  DELETE FROM metadata WHERE mailbox_id = OLD.id;"
	"END;"
	"CREATE TRIGGER users_metadata AFTER DELETE ON users BEGIN"
	"  DELETE FROM metadata WHERE user_id = OLD.id;"
	"END;"
	/* RFC 5464 §4.1: a deleted mailbox's entries go, also when its name
	 * stays as a \Noselect parent (a later CREATE revives the row) */
	"CREATE TRIGGER mailboxes_metadata_noselect AFTER UPDATE OF noselect"
	"  ON mailboxes WHEN NEW.noselect = 1 BEGIN"
	"  DELETE FROM metadata WHERE mailbox_id = NEW.id;"
	"END;"
	"CREATE TABLE annotations("
	"  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	"  entry TEXT NOT NULL,"
	"  user_id INTEGER NOT NULL,"
	"  value BLOB NOT NULL,"
	"  PRIMARY KEY(message_id, entry, user_id)) WITHOUT ROWID;"
	"CREATE TABLE urlauth_keys("
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	"  key BLOB NOT NULL,"
	"  PRIMARY KEY(user_id, mailbox_id)) WITHOUT ROWID;"
	"ALTER TABLE mailboxes ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE quotas ADD COLUMN mailbox_limit INTEGER;"
	"UPDATE meta SET value = 4 WHERE key = 'schema_version';"
	"PRAGMA user_version = 4;";

enum sq_stmt_id {
	SQ_BEGIN,
	SQ_BEGIN_IMMEDIATE,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_META_GET,
	SQ_META_SET,
	SQ_USER_INSERT,
	SQ_USER_BY_NAME,
	SQ_USER_BY_ID,
	SQ_USER_SET_PASSWORD,
	SQ_USER_DELETE,
	SQ_USER_LIST_AFTER,
	SQ_MAILBOX_BY_ID,
	SQ_MAILBOX_BY_NAME,
	SQ_MAILBOX_LIST,
	SQ_MAILBOX_INSERT,
	SQ_MAILBOX_REVIVE,
	SQ_MAILBOX_CHILD_NAMES,
	SQ_MAILBOX_SET_NOSELECT,
	SQ_MAILBOX_DELETE,
	SQ_MAILBOX_RENAME,
	SQ_MAILBOX_SET_COUNTERS,
	SQ_MAILBOX_SET_MODSEQ,
	SQ_MAILBOX_SET_RECENT,
	SQ_MAILBOX_PURGE_MESSAGES,
	SQ_MAILBOX_PURGE_EXPUNGED,
	SQ_MAILBOX_PURGE_KEYWORDS,
	SQ_KEYWORD_LIST,
	SQ_KEYWORD_INSERT,
	SQ_SUBSCRIBE,
	SQ_UNSUBSCRIBE,
	SQ_SUBSCRIPTION_LIST,
	SQ_USER_PURGE_SUBSCRIPTIONS,
	SQ_BODY_INSERT,
	SQ_BODY_DEAD,
	SQ_BODY_REAP,
	SQ_BODY_LAST_ID,
	SQ_MESSAGE_INSERT,
	SQ_MESSAGE_GET,
	SQ_MESSAGE_RANGE,
	SQ_MESSAGE_DELETED,
	SQ_MESSAGE_SET_FLAGS,
	SQ_MESSAGE_DELETE,
	SQ_EXPUNGED_INSERT,
	SQ_OUTBOX_INSERT,
	SQ_OUTBOX_READ,
	SQ_OUTBOX_LAST_SEQ,
	SQ_DATA_VERSION,
	SQ_QUOTA_GET,
	SQ_QUOTA_SET_LIMITS,
	SQ_QUOTA_SET_EXCEEDED,
	SQ_QUOTA_MAILBOXES,
	SQ_MESSAGE_EXPIRED,
	SQ_STMT_COUNT
};

#define SQ_MAILBOX_COLS \
	"id, user_id, name, special_use, uidvalidity, uidnext, " \
	"highestmodseq, messages, unseen, recent_uid, noselect, delivered"
#define SQ_MESSAGE_COLS \
	"uid, flags, keywords, modseq, internaldate, tz_offset, size, body_id"
/* name itself, or anything below it: "a" -> "a/..." sorts in
 * ["a/", "a0") since '0' follows '/' in byte order */
#define SQ_BELOW(name) \
	"(name >= " name " || '/' AND name < " name " || '0')"

static const char *const sq_sql[SQ_STMT_COUNT] = {
	[SQ_BEGIN] = "BEGIN",
	[SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[SQ_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
		"ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[SQ_USER_INSERT] =
		"INSERT INTO users(name, password_hash) VALUES (?1, ?2)",
	[SQ_USER_BY_NAME] =
		"SELECT id, name, password_hash FROM users WHERE name = ?1",
	[SQ_USER_BY_ID] =
		"SELECT id, name, password_hash FROM users WHERE id = ?1",
	[SQ_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = ?2 WHERE name = ?1",
	[SQ_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
	[SQ_USER_LIST_AFTER] = "SELECT id, name, password_hash FROM users "
		"WHERE name > ?1 ORDER BY name LIMIT ?2",
	[SQ_MAILBOX_BY_ID] =
		"SELECT " SQ_MAILBOX_COLS " FROM mailboxes WHERE id = ?1",
	[SQ_MAILBOX_BY_NAME] = "SELECT " SQ_MAILBOX_COLS " FROM mailboxes "
		"WHERE user_id = ?1 AND name = ?2",
	[SQ_MAILBOX_LIST] = "SELECT " SQ_MAILBOX_COLS " FROM mailboxes "
		"WHERE user_id = ?1 ORDER BY name",
	[SQ_MAILBOX_INSERT] = "INSERT INTO mailboxes(user_id, name, "
		"special_use, uidvalidity) VALUES (?1, ?2, ?3, ?4)",
	[SQ_MAILBOX_REVIVE] = "UPDATE mailboxes SET noselect = 0, "
		"special_use = ?2, uidvalidity = ?3, uidnext = 1, "
		"highestmodseq = 1, recent_uid = 0 WHERE id = ?1",
	[SQ_MAILBOX_CHILD_NAMES] = "SELECT name FROM mailboxes "
		"WHERE user_id = ?1 AND " SQ_BELOW("?2") " ORDER BY name",
	[SQ_MAILBOX_SET_NOSELECT] = "UPDATE mailboxes SET noselect = 1, "
		"special_use = '' WHERE id = ?1",
	[SQ_MAILBOX_DELETE] = "DELETE FROM mailboxes WHERE id = ?1",
	/* substr() and length() both count characters here, and every
	 * name renamed starts with ?2 */
	[SQ_MAILBOX_RENAME] = "UPDATE mailboxes "
		"SET name = ?3 || substr(name, length(?2) + 1) "
		"WHERE user_id = ?1 AND (name = ?2 OR " SQ_BELOW("?2") ")",
	[SQ_MAILBOX_SET_COUNTERS] = "UPDATE mailboxes SET uidnext = ?2, "
		"highestmodseq = ?3 WHERE id = ?1",
	[SQ_MAILBOX_SET_MODSEQ] =
		"UPDATE mailboxes SET highestmodseq = ?2 WHERE id = ?1",
	[SQ_MAILBOX_SET_RECENT] =
		"UPDATE mailboxes SET recent_uid = ?2 WHERE id = ?1",
	[SQ_MAILBOX_PURGE_MESSAGES] =
		"DELETE FROM messages WHERE mailbox_id = ?1",
	[SQ_MAILBOX_PURGE_EXPUNGED] =
		"DELETE FROM expunged WHERE mailbox_id = ?1",
	[SQ_MAILBOX_PURGE_KEYWORDS] =
		"DELETE FROM mailbox_keywords WHERE mailbox_id = ?1",
	[SQ_KEYWORD_LIST] = "SELECT name FROM mailbox_keywords "
		"WHERE mailbox_id = ?1 ORDER BY rowid",
	[SQ_KEYWORD_INSERT] =
		"INSERT INTO mailbox_keywords(mailbox_id, name) VALUES (?1, ?2)",
	[SQ_SUBSCRIBE] = "INSERT OR IGNORE INTO subscriptions(user_id, name) "
		"VALUES (?1, ?2)",
	[SQ_UNSUBSCRIBE] =
		"DELETE FROM subscriptions WHERE user_id = ?1 AND name = ?2",
	[SQ_SUBSCRIPTION_LIST] = "SELECT name FROM subscriptions "
		"WHERE user_id = ?1 ORDER BY name",
	[SQ_USER_PURGE_SUBSCRIPTIONS] =
		"DELETE FROM subscriptions WHERE user_id = ?1",
	[SQ_BODY_INSERT] = "INSERT INTO bodies(size) VALUES (?1)",
	[SQ_BODY_DEAD] = "SELECT id FROM bodies WHERE refcount <= 0",
	[SQ_BODY_REAP] = "DELETE FROM bodies WHERE id = ?1 AND refcount <= 0",
	[SQ_BODY_LAST_ID] =
		"SELECT seq FROM sqlite_sequence WHERE name = 'bodies'",
	[SQ_MESSAGE_INSERT] = "INSERT INTO messages(mailbox_id, uid, flags, "
		"keywords, modseq, internaldate, tz_offset, size, body_id) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_MESSAGE_GET] = "SELECT " SQ_MESSAGE_COLS " FROM messages "
		"WHERE mailbox_id = ?1 AND uid = ?2",
	[SQ_MESSAGE_RANGE] = "SELECT " SQ_MESSAGE_COLS " FROM messages "
		"WHERE mailbox_id = ?1 AND uid >= ?2 AND uid <= ?3 "
		"ORDER BY uid",
	[SQ_MESSAGE_DELETED] = "SELECT uid FROM messages "
		"WHERE mailbox_id = ?1 AND (flags & 8) != 0 ORDER BY uid",
	[SQ_MESSAGE_SET_FLAGS] = "UPDATE messages SET flags = ?3, "
		"keywords = ?4, modseq = ?5 WHERE mailbox_id = ?1 AND uid = ?2",
	[SQ_MESSAGE_DELETE] =
		"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
	[SQ_EXPUNGED_INSERT] = "INSERT OR REPLACE INTO expunged(mailbox_id, "
		"uid, modseq) VALUES (?1, ?2, ?3)",
	[SQ_OUTBOX_INSERT] = "INSERT INTO outbox(type, user_id, mailbox_id, "
		"origin, origin_pid, created, params) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_OUTBOX_READ] = "SELECT seq, type, user_id, mailbox_id, origin, "
		"origin_pid, params FROM outbox WHERE seq > ?1 "
		"ORDER BY seq LIMIT ?2",
	/* sqlite_sequence keeps the highest seq even when old rows have
	 * been pruned from the outbox */
	[SQ_OUTBOX_LAST_SEQ] =
		"SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
	[SQ_DATA_VERSION] = "PRAGMA data_version",
	[SQ_QUOTA_GET] = "SELECT storage_limit, message_limit, storage_used, "
		"messages_used, exceeded, mailbox_limit FROM quotas "
		"WHERE user_id = ?1",
	[SQ_QUOTA_SET_LIMITS] = "INSERT INTO quotas(user_id, storage_limit, "
		"message_limit, mailbox_limit) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT(user_id) DO "
		"UPDATE SET storage_limit = excluded.storage_limit, "
		"message_limit = excluded.message_limit, "
		"mailbox_limit = excluded.mailbox_limit",
	[SQ_QUOTA_SET_EXCEEDED] =
		"UPDATE quotas SET exceeded = ?2 WHERE user_id = ?1",
	/* RFC 9208 §5.3 usage: \Noselect names left by DELETE are not
	 * mailboxes the user has (nor can select, nor delete again) */
	[SQ_QUOTA_MAILBOXES] = "SELECT COUNT(*) FROM mailboxes "
		"WHERE user_id = ?1 AND noselect = 0",
	[SQ_MESSAGE_EXPIRED] = "SELECT uid FROM messages "
		"WHERE mailbox_id = ?1 AND internaldate < ?2 ORDER BY uid "
		"LIMIT ?3",
};

struct sq {
	sqlite3 *db;
	sqlite3_stmt *stmts[SQ_STMT_COUNT];
	/* Group commit (store_group_enable): every change runs under a
	 * SAVEPOINT inside one outer BEGIN IMMEDIATE that stays open until
	 * store_group_commit(); group_opened is told when it opens. */
	bool group;
	bool group_open;
	bool group_op;     /* the savepoint of one change is open */
	bool group_read;   /* a plain read transaction, no group open */
	void (*group_opened)(void *ctx);
	void *group_ctx;
	/* bodies whose last reference went in the open group (files go
	 * after its COMMIT), and those whose files went after the last
	 * one (rows go in the next) */
	int64_t *reap_new, *reap_done;
	size_t reap_new_n, reap_new_cap, reap_done_n, reap_done_cap;
};

/* One API call's worth of context. */
struct sq_ctx {
	struct store *store;
	struct sq *sq;
	const struct store_actor *actor;
	char timestamp[48];
	/* the last owner name looked up, for the URLs */
	int64_t owner_id;
	char owner[STORE_USER_NAME_MAX + 1];
};

struct u32vec {
	uint32_t *v;
	size_t n;
	size_t cap;
};

static void u32vec_push(struct u32vec *vec, uint32_t value)
{
	if (vec->n == vec->cap) {
		vec->cap = vec->cap ? vec->cap * 2 : 16;
		vec->v = xrealloc(vec->v, vec->cap * sizeof(*vec->v));
	}
	vec->v[vec->n++] = value;
}

struct i64vec {
	int64_t *v;
	size_t n;
	size_t cap;
};

static void i64vec_push(struct i64vec *vec, int64_t value)
{
	if (vec->n == vec->cap) {
		vec->cap = vec->cap ? vec->cap * 2 : 16;
		vec->v = xrealloc(vec->v, vec->cap * sizeof(*vec->v));
	}
	vec->v[vec->n++] = value;
}

/* ---- errors and statements ---- */

static struct sq *sq_of(struct store *store)
{
	return store->backend;
}

/* Logs SQLite's own message at once (the next call would overwrite it)
 * and gives the user only a safe text. */
static int sq_fail(struct sq *sq, int rc, const char *what,
		   struct store_error *err)
{
	int primary = rc & 0xff;
	if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
		log_warn("store: %s: database busy: %s", what,
			 sqlite3_errmsg(sq->db));
		store_error_set(err, STORE_ERR_BUSY,
				"Mail store is busy, try again later");
	} else if (primary == SQLITE_FULL) {
		log_error("store: %s: %s", what, sqlite3_errmsg(sq->db));
		store_error_set(err, STORE_ERR_OVERQUOTA,
				"Not enough disk space");
	} else {
		log_error("store: %s: %s (%d)", what, sqlite3_errmsg(sq->db),
			  rc);
		store_error_internal(err);
	}
	return -1;
}

static sqlite3_stmt *sq_stmt(struct sq *sq, enum sq_stmt_id id,
			     struct store_error *err)
{
	sqlite3_stmt *st = sq->stmts[id];
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return st;
	}
	int rc = sqlite3_prepare_v3(sq->db, sq_sql[id], -1,
				    SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(sq, rc, "preparing a statement", err);
		sqlite3_finalize(st);
		return NULL;
	}
	sq->stmts[id] = st;
	return st;
}

/* Runs st to completion, ignoring rows.  0 / -1. */
static int sq_run(struct sq *sq, sqlite3_stmt *st, const char *what,
		  struct store_error *err)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, what, err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/* Steps st once: 1 with a row (read it, then reset st), 0 when there is
 * none (st is reset), -1 on error (st is reset). */
static int sq_row(struct sq *sq, sqlite3_stmt *st, const char *what,
		  struct store_error *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, what, err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

static void sq_text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	if (t == NULL)
		n = 0;
	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(buf, t, n);
	buf[n] = '\0';
}

static int sq_group_begin(struct sq *sq, struct store_error *err);

static int sq_begin(struct sq *sq, bool write, struct store_error *err)
{
	if (sq->group && (write || sq->group_open))
		return sq_group_begin(sq, err);
	/* a read with no group open needs no group: a snapshot */
	sq->group_read = sq->group;
	sqlite3_stmt *st = sq_stmt(sq, write ? SQ_BEGIN_IMMEDIATE : SQ_BEGIN,
				   err);
	if (st == NULL)
		return -1;
	return sq_run(sq, st, "beginning a transaction", err);
}

static void sq_rollback(struct sq *sq)
{
	if (sq->group && !sq->group_read) {
		/* undo this change only; the group goes on */
		if (sq->group_op)
			sqlite3_exec(sq->db, "ROLLBACK TO sq_op; RELEASE sq_op",
				     NULL, NULL, NULL);
		sq->group_op = false;
		return;
	}
	sq->group_read = false;
	if (sqlite3_get_autocommit(sq->db))
		return;
	struct store_error ignored;
	sqlite3_stmt *st = sq_stmt(sq, SQ_ROLLBACK, &ignored);
	if (st == NULL || sq_run(sq, st, "rolling back", &ignored) < 0) {
		/* a statement left in progress would keep it open */
		sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

static int sq_exec(struct sq *sq, const char *sql, const char *what,
		   struct store_error *err);

/* Opens the group's outer transaction if need be, then this change's
 * savepoint.  The group's COMMIT (store_group_commit) is what makes the
 * change durable; until then the front ends hold every reply. */
static int sq_group_begin(struct sq *sq, struct store_error *err)
{
	if (!sq->group_open) {
		if (sq_exec(sq, "BEGIN IMMEDIATE", "beginning a group commit",
			    err) < 0)
			return -1;
		sq->group_open = true;
		if (sq->group_opened != NULL)
			sq->group_opened(sq->group_ctx);
	}
	if (sq_exec(sq, "SAVEPOINT sq_op", "beginning a transaction",
		    err) < 0)
		return -1;
	sq->group_op = true;
	return 0;
}

/* The end of one change that went well: COMMIT, or with group commit
 * the release of its savepoint.  0 / -1 (the caller rolls back). */
static int sq_commit(struct sq *sq, struct store_error *err)
{
	if (sq->group && !sq->group_read) {
		if (sq_exec(sq, "RELEASE sq_op", "committing", err) < 0)
			return -1;
		sq->group_op = false;
		return 0;
	}
	sq->group_read = false;
	sqlite3_stmt *st = sq_stmt(sq, SQ_COMMIT, err);
	if (st != NULL && sq_run(sq, st, "committing", err) == 0)
		return 0;
	return -1;
}

/* Commits when ret is 0, rolls back otherwise; returns 0 only when the
 * commit went through. */
static int sq_end(struct sq *sq, int ret, struct store_error *err)
{
	if (ret == 0) {
		if (sq_commit(sq, err) == 0)
			return 0;
		ret = -1;
	}
	sq_rollback(sq);
	return ret;
}

static void sq_ctx_init(struct sq_ctx *c, struct store *store,
			const struct store_actor *actor)
{
	memset(c, 0, sizeof(*c));
	c->store = store;
	c->sq = sq_of(store);
	c->actor = actor;
	event_timestamp_now(c->timestamp, sizeof(c->timestamp));
}

/* ---- meta ---- */

static int sq_meta_get(struct sq *sq, const char *key, int64_t *value_r,
		       struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_META_GET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int r = sq_row(sq, st, "reading meta", err);
	*value_r = 0;
	if (r == 1) {
		*value_r = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return r < 0 ? -1 : 0;
}

static int sq_meta_set(struct sq *sq, const char *key, int64_t value,
		       struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_META_SET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	return sq_run(sq, st, "writing meta", err);
}

/* RFC 3501 §2.3.1.1: a new mailbox (or one recreated under an old name)
 * must get a UIDVALIDITY larger than any the name had.  One counter for
 * the whole store, never going back: max(last + 1, now).  Starting from
 * the clock keeps values fresh even if index.db is ever rebuilt. */
static int sq_uidvalidity_next(struct sq *sq, uint32_t *uidvalidity_r,
			       struct store_error *err)
{
	int64_t last;
	if (sq_meta_get(sq, "uidvalidity_last", &last, err) < 0)
		return -1;
	int64_t next = last + 1;
	int64_t now = (int64_t)time(NULL);
	if (now > next)
		next = now;
	if (next > (int64_t)UINT32_MAX) {
		log_error("store: UIDVALIDITY space exhausted (last %" PRId64
			  ")", last);
		store_error_internal(err);
		return -1;
	}
	if (sq_meta_set(sq, "uidvalidity_last", next, err) < 0)
		return -1;
	*uidvalidity_r = (uint32_t)next;
	return 0;
}

/* ---- reading rows ---- */

static void sq_user_from_row(sqlite3_stmt *st, struct store_user *user)
{
	memset(user, 0, sizeof(*user));
	user->id = sqlite3_column_int64(st, 0);
	sq_text(st, 1, user->name, sizeof(user->name));
	sq_text(st, 2, user->password_hash, sizeof(user->password_hash));
}

/* 1 found, 0 not, -1 error */
static int sq_user_by_name(struct sq *sq, const char *name,
			   struct store_user *user_r, struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_USER_BY_NAME, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int r = sq_row(sq, st, "looking up a user", err);
	if (r == 1) {
		sq_user_from_row(st, user_r);
		sqlite3_reset(st);
	}
	return r;
}

static int sq_user_by_id(struct sq *sq, int64_t id, struct store_user *user_r,
			 struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_USER_BY_ID, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int r = sq_row(sq, st, "looking up a user", err);
	if (r == 1) {
		sq_user_from_row(st, user_r);
		sqlite3_reset(st);
	}
	return r;
}

/* The owner's name, for URLs; NULL with NONEXISTENT when there is none. */
static const char *sq_owner(struct sq_ctx *c, int64_t user_id,
			    struct store_error *err)
{
	if (c->owner_id == user_id && user_id != 0)
		return c->owner;
	struct store_user user;
	int r = sq_user_by_id(c->sq, user_id, &user, err);
	if (r < 0)
		return NULL;
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return NULL;
	}
	c->owner_id = user_id;
	memcpy(c->owner, user.name, sizeof(c->owner));
	return c->owner;
}

static void sq_mailbox_from_row(sqlite3_stmt *st, struct store_mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->id = sqlite3_column_int64(st, 0);
	mb->user_id = sqlite3_column_int64(st, 1);
	sq_text(st, 2, mb->name, sizeof(mb->name));
	sq_text(st, 3, mb->special_use, sizeof(mb->special_use));
	mb->uidvalidity = (uint32_t)sqlite3_column_int64(st, 4);
	mb->uidnext = (uint32_t)sqlite3_column_int64(st, 5);
	mb->highestmodseq = (uint64_t)sqlite3_column_int64(st, 6);
	mb->messages = (uint32_t)sqlite3_column_int64(st, 7);
	mb->unseen = (uint32_t)sqlite3_column_int64(st, 8);
	mb->recent_uid = (uint32_t)sqlite3_column_int64(st, 9);
	mb->noselect = sqlite3_column_int(st, 10) != 0;
	mb->delivered = sqlite3_column_int(st, 11) != 0;
}

/* 1 found, 0 not, -1 error */
static int sq_mailbox_by_id(struct sq *sq, int64_t id,
			    struct store_mailbox *mb_r, struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_BY_ID, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	int r = sq_row(sq, st, "reading a mailbox", err);
	if (r == 1) {
		sq_mailbox_from_row(st, mb_r);
		sqlite3_reset(st);
	}
	return r;
}

static int sq_mailbox_by_name(struct sq *sq, int64_t user_id,
			      const char *name, struct store_mailbox *mb_r,
			      struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_BY_NAME, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int r = sq_row(sq, st, "reading a mailbox", err);
	if (r == 1) {
		sq_mailbox_from_row(st, mb_r);
		sqlite3_reset(st);
	}
	return r;
}

/* A mailbox that can hold messages: 0, or -1 with NONEXISTENT. */
static int sq_mailbox_selectable(struct sq *sq, int64_t id,
				 struct store_mailbox *mb_r,
				 struct store_error *err)
{
	int r = sq_mailbox_by_id(sq, id, mb_r, err);
	if (r < 0)
		return -1;
	if (r == 0 || mb_r->noselect) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				r == 0 ? "Mailbox doesn't exist"
				       : "Mailbox isn't selectable");
		return -1;
	}
	return 0;
}

/* 1 when name has mailboxes below it */
static int sq_mailbox_has_children(struct sq *sq, int64_t user_id,
				   const char *name, struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_CHILD_NAMES, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int r = sq_row(sq, st, "looking for children", err);
	if (r == 1)
		sqlite3_reset(st);
	return r;
}

/* ---- events ---- */

static int sq_event_write(struct sq_ctx *c, struct event_builder **ebp,
			  int64_t user_id, int64_t mailbox_id,
			  struct store_error *err)
{
	struct event_builder *eb = *ebp;
	store_event_finish(c->store, eb, c->actor);
	char *json = event_builder_json(eb);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	int ret = -1;
	sqlite3_stmt *st = sq_stmt(c->sq, SQ_OUTBOX_INSERT, err);
	if (st != NULL) {
		sqlite3_bind_text(st, 1,
				  event_type_name(event_builder_type(eb)), -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, user_id);
		sqlite3_bind_int64(st, 3, mailbox_id);
		sqlite3_bind_int64(st, 4, c->actor != NULL
				   ? (int64_t)c->actor->origin : 0);
		sqlite3_bind_int64(st, 5, (int64_t)getpid());
		sqlite3_bind_int64(st, 6, (int64_t)tv.tv_sec * 1000 +
				   tv.tv_usec / 1000);
		sqlite3_bind_text(st, 7, json, -1, SQLITE_STATIC);
		ret = sq_run(c->sq, st, "writing an event", err);
	}
	free(json);
	event_builder_destroy(ebp);
	return ret;
}

static int sq_event_mailbox(struct sq_ctx *c, enum event_type type,
			    const struct store_mailbox *mb,
			    const struct store_mailbox *old,
			    struct store_error *err)
{
	const char *owner = sq_owner(c, mb->user_id, err);
	if (owner == NULL)
		return -1;
	struct event_builder *eb = store_event_new(type, c->timestamp);
	struct strbuf url = STRBUF_INIT;
	store_url_mailbox(&url, c->store, owner, mb->name, mb->uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_URI, url.s);
	event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, url.s);
	if (old != NULL) {
		strbuf_reset(&url);
		store_url_mailbox(&url, c->store, owner, old->name,
				  old->uidvalidity);
		event_builder_set_str(eb, EVENT_PARAM_OLD_MAILBOX_ID, url.s);
	}
	if (type == EVENT_MAILBOX_CREATE) {
		event_builder_set_int(eb, EVENT_PARAM_UIDNEXT, mb->uidnext);
		if (mb->special_use[0] != '\0')
			event_builder_set_vendor_str(eb, "specialUse",
						     mb->special_use);
	}
	strbuf_free(&url);
	return sq_event_write(c, &eb, mb->user_id, mb->id, err);
}

/* An event about some messages of one mailbox (its state after the
 * change): MessageAppend, MessageExpunge, FlagsSet, FlagsClear. */
struct sq_message_event {
	enum event_type type;
	const struct store_mailbox *mb;
	const uint32_t *uids;
	size_t count;
	uint64_t modseq;
	int64_t message_size;           /* < 0: leave out */
	bool with_flags;
	uint32_t flags;
	const struct store_keywords *keywords;
	/* the message itself, for bodyStructure (APPEND); NULL: none */
	const char *data;
	size_t data_len;
};

static int sq_event_messages(struct sq_ctx *c,
			     const struct sq_message_event *me,
			     struct store_error *err)
{
	const struct store_mailbox *mb = me->mb;
	const char *owner = sq_owner(c, mb->user_id, err);
	if (owner == NULL)
		return -1;
	struct event_builder *eb = store_event_new(me->type, c->timestamp);
	struct strbuf buf = STRBUF_INIT;
	/* uri names the message when there is one, else the mailbox */
	if (me->count == 1)
		store_url_message(&buf, c->store, owner, mb->name,
				  mb->uidvalidity, me->uids[0]);
	else
		store_url_mailbox(&buf, c->store, owner, mb->name,
				  mb->uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_URI, buf.s);
	strbuf_reset(&buf);
	store_url_mailbox(&buf, c->store, owner, mb->name, mb->uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, buf.s);
	strbuf_reset(&buf);
	store_uidset_format(&buf, me->uids, me->count);
	event_builder_set_str(eb, EVENT_PARAM_UIDSET, strbuf_str(&buf));
	strbuf_free(&buf);
	bool counts = me->type == EVENT_MESSAGE_APPEND ||
		      me->type == EVENT_MESSAGE_EXPUNGE ||
		      me->type == EVENT_MESSAGE_EXPIRE;
	if (counts)
		event_builder_set_int(eb, EVENT_PARAM_UIDNEXT, mb->uidnext);
	event_builder_set_int(eb, EVENT_PARAM_MODSEQ, (int64_t)me->modseq);
	if (me->message_size >= 0)
		event_builder_set_int(eb, EVENT_PARAM_MESSAGE_SIZE,
				      me->message_size);
	if (counts)
		event_builder_set_int(eb, EVENT_PARAM_MESSAGES, mb->messages);
	if (me->with_flags)
		store_event_add_flags(eb, me->flags, me->keywords);
	if (me->data != NULL)
		store_event_add_body_structure(eb, NULL, me->data,
					       me->data_len);
	return sq_event_write(c, &eb, mb->user_id, mb->id, err);
}

/* ---- quota ---- */

/* A transaction function's result when the change was refused for quota
 * but the QuotaExceed it wrote must still commit (sq_end_quota). */
#define SQ_OVERQUOTA (-2)

struct sq_quota {
	int64_t user_id;
	int64_t own_storage;        /* the user's own limit, -1 when NULL */
	int64_t own_messages;
	int64_t own_mailboxes;
	uint64_t storage_limit;     /* in force: own, else default; 0 = none */
	uint64_t message_limit;
	uint64_t mailbox_limit;
	uint64_t storage_used;
	uint64_t messages_used;
	/* counted only when mailbox_limit != 0 (sq_quota_load) or when
	 * asked for (sq_quota_count_mailboxes) */
	uint64_t mailboxes_used;
	bool exceeded;
};

static int sq_quota_count_mailboxes(struct sq_ctx *c, struct sq_quota *q,
				    struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(c->sq, SQ_QUOTA_MAILBOXES, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, q->user_id);
	int r = sq_row(c->sq, st, "counting mailboxes", err);
	if (r < 0)
		return -1;
	q->mailboxes_used = 0;
	if (r == 1) {
		q->mailboxes_used = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return 0;
}

static uint64_t sq_column_u64(sqlite3_stmt *st, int col)
{
	int64_t v = sqlite3_column_int64(st, col);
	return v > 0 ? (uint64_t)v : 0;
}

static int sq_quota_load(struct sq_ctx *c, int64_t user_id,
			 struct sq_quota *q, struct store_error *err)
{
	memset(q, 0, sizeof(*q));
	q->user_id = user_id;
	q->own_storage = -1;
	q->own_messages = -1;
	q->own_mailboxes = -1;
	sqlite3_stmt *st = sq_stmt(c->sq, SQ_QUOTA_GET, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	int r = sq_row(c->sq, st, "reading a quota", err);
	if (r < 0)
		return -1;
	if (r == 1) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			q->own_storage = (int64_t)sq_column_u64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			q->own_messages = (int64_t)sq_column_u64(st, 1);
		q->storage_used = sq_column_u64(st, 2);
		q->messages_used = sq_column_u64(st, 3);
		q->exceeded = sqlite3_column_int64(st, 4) != 0;
		if (sqlite3_column_type(st, 5) != SQLITE_NULL)
			q->own_mailboxes = (int64_t)sq_column_u64(st, 5);
		sqlite3_reset(st);
	}
	q->storage_limit = q->own_storage >= 0
			   ? (uint64_t)q->own_storage
			   : c->store->default_storage_limit;
	q->message_limit = q->own_messages >= 0
			   ? (uint64_t)q->own_messages
			   : c->store->default_message_limit;
	q->mailbox_limit = q->own_mailboxes >= 0
			   ? (uint64_t)q->own_mailboxes
			   : c->store->default_mailbox_limit;
	/* the count costs a query: only when a limit makes it matter */
	if (q->mailbox_limit != 0)
		return sq_quota_count_mailboxes(c, q, err);
	return 0;
}

/* Whether bytes more in msgs more messages stay within every limit (a
 * usage equal to the limit is within it). */
static bool sq_quota_fits(const struct sq_quota *q, uint64_t bytes,
			  uint64_t msgs)
{
	if (q->storage_limit != 0 &&
	    (bytes > q->storage_limit ||
	     q->storage_used > q->storage_limit - bytes))
		return false;
	if (q->message_limit != 0 &&
	    (msgs > q->message_limit ||
	     q->messages_used > q->message_limit - msgs))
		return false;
	return true;
}

/* Whether the usage is within every limit, MAILBOX included (a user over
 * the mailbox limit may still append: RFC 9208 §4.3.1 ties OVERQUOTA on
 * APPEND/COPY/MOVE to what the message(s) add). */
static bool sq_quota_within_all(const struct sq_quota *q)
{
	if (q->mailbox_limit != 0 && q->mailboxes_used > q->mailbox_limit)
		return false;
	return sq_quota_fits(q, 0, 0);
}

static int sq_quota_set_exceeded(struct sq_ctx *c, int64_t user_id,
				 bool exceeded, struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(c->sq, SQ_QUOTA_SET_EXCEEDED, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_int64(st, 2, exceeded ? 1 : 0);
	return sq_run(c->sq, st, "updating a quota", err);
}

/* RFC 5423 §5: diskQuota and diskUsed are in kilobytes of 1024 octets.
 * Both are rounded up, so that any use shows and a consumer comparing
 * them sees what the store compares. */
static int64_t sq_kib(uint64_t bytes)
{
	return (int64_t)(bytes / 1024 + (bytes % 1024 != 0));
}

/* QuotaExceed, QuotaWithin or QuotaChange for the user of q: the limits
 * that apply (diskQuota, maxMessages; left out when unlimited), the usage
 * (diskUsed, messages) and user, the quota's owner (RFC 5423 §4.1: "at
 * least the relevant user and quota"), with mailboxID when a mailbox is
 * concerned. */
static int sq_event_quota(struct sq_ctx *c, enum event_type type,
			  const struct sq_quota *q,
			  const struct store_mailbox *mb,
			  struct store_error *err)
{
	const char *owner = sq_owner(c, q->user_id, err);
	if (owner == NULL)
		return -1;
	struct event_builder *eb = store_event_new(type, c->timestamp);
	if (mb != NULL) {
		struct strbuf url = STRBUF_INIT;
		store_url_mailbox(&url, c->store, owner, mb->name,
				  mb->uidvalidity);
		event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, url.s);
		strbuf_free(&url);
	}
	if (q->storage_limit != 0)
		event_builder_set_int(eb, EVENT_PARAM_DISK_QUOTA,
				      sq_kib(q->storage_limit));
	event_builder_set_int(eb, EVENT_PARAM_DISK_USED,
			      sq_kib(q->storage_used));
	if (q->message_limit != 0)
		event_builder_set_int(eb, EVENT_PARAM_MAX_MESSAGES,
				      (int64_t)q->message_limit);
	event_builder_set_int(eb, EVENT_PARAM_MESSAGES,
			      (int64_t)q->messages_used);
	/* RFC 5423 has no parameter for the MAILBOX resource (RFC 9208
	 * §5.3): vendor ones (§6), present when that limit is in force */
	if (q->mailbox_limit != 0) {
		event_builder_set_vendor_int(eb, "maxMailboxes",
					     (int64_t)q->mailbox_limit);
		event_builder_set_vendor_int(eb, "mailboxes",
					     (int64_t)q->mailboxes_used);
	}
	/* the owner, also when an administrator (the CLI) acts */
	event_builder_set_str(eb, EVENT_PARAM_USER, owner);
	return sq_event_write(c, &eb, q->user_id, mb != NULL ? mb->id : 0,
			      err);
}

/* Before adding msgs messages of bytes octets to mailbox mb: 0 when they
 * fit the owner's quota; otherwise SQ_OVERQUOTA with err set, after
 * writing QuotaExceed (RFC 5423 §4.1: "An operation failed ... because
 * the user's mailbox exceeded one of the quotas") and remembering it for
 * QuotaWithin.  -1 on a database error. */
static int sq_quota_check(struct sq_ctx *c, const struct store_mailbox *mb,
			  uint64_t bytes, uint64_t msgs,
			  struct store_error *err)
{
	struct sq_quota q;
	if (sq_quota_load(c, mb->user_id, &q, err) < 0)
		return -1;
	if (sq_quota_fits(&q, bytes, msgs))
		return 0;
	if (sq_event_quota(c, EVENT_QUOTA_EXCEED, &q, mb, err) < 0 ||
	    (!q.exceeded && sq_quota_set_exceeded(c, q.user_id, true,
						  err) < 0))
		return -1;
	struct sq_quota empty = q;
	empty.storage_used = 0;
	empty.messages_used = 0;
	/* STORE_OVERQUOTA_TOO_BIG_MSG: what no expunge will ever make fit */
	if (!sq_quota_fits(&empty, bytes, msgs))
		store_error_set(err, STORE_ERR_OVERQUOTA, "%s",
				STORE_OVERQUOTA_TOO_BIG_MSG);
	else
		store_error_set(err, STORE_ERR_OVERQUOTA, "Quota exceeded");
	return SQ_OVERQUOTA;
}

/* Before creating n mailboxes of the user (CREATE, with its new parents;
 * RENAME's new parents, RENAME INBOX's new mailbox): 0 when they fit the
 * MAILBOX limit (RFC 9208 §5.3), else SQ_OVERQUOTA after QuotaExceed
 * (RFC 5423 §4.1, without mailboxID: the mailbox does not exist), as
 * sq_quota_check does for messages.  The caller has written nothing yet,
 * so sq_end_quota commits only the event. */
static int sq_quota_check_mailboxes(struct sq_ctx *c, int64_t user_id,
				    uint64_t n, struct store_error *err)
{
	struct sq_quota q;
	if (n == 0)
		return 0;
	if (sq_quota_load(c, user_id, &q, err) < 0)
		return -1;
	if (q.mailbox_limit == 0 ||
	    (q.mailboxes_used <= q.mailbox_limit &&
	     n <= q.mailbox_limit - q.mailboxes_used))
		return 0;
	if (sq_event_quota(c, EVENT_QUOTA_EXCEED, &q, NULL, err) < 0 ||
	    (!q.exceeded && sq_quota_set_exceeded(c, user_id, true, err) < 0))
		return -1;
	store_error_set(err, STORE_ERR_OVERQUOTA, "Mailbox quota exceeded");
	return SQ_OVERQUOTA;
}

/* After a change that may have lowered the user's usage: QuotaWithin
 * when a QuotaExceed (or a limit lowered under the usage) came before
 * and the usage is now within every limit (RFC 5423 §4.1). */
static int sq_quota_within(struct sq_ctx *c, int64_t user_id,
			   const struct store_mailbox *mb,
			   struct store_error *err)
{
	struct sq_quota q;
	if (sq_quota_load(c, user_id, &q, err) < 0)
		return -1;
	if (!q.exceeded || !sq_quota_within_all(&q))
		return 0;
	if (sq_event_quota(c, EVENT_QUOTA_WITHIN, &q, mb, err) < 0)
		return -1;
	return sq_quota_set_exceeded(c, user_id, false, err);
}

/* sq_end() for a transaction that may have been refused for quota:
 * commits its QuotaExceed and still fails with the OVERQUOTA error. */
static int sq_end_quota(struct sq *sq, int ret, struct store_error *err)
{
	if (ret != SQ_OVERQUOTA)
		return sq_end(sq, ret, err);
	struct store_error commit_err;
	if (sq_end(sq, 0, &commit_err) < 0)
		log_warn("store: QuotaExceed not recorded: %s",
			 commit_err.msg);
	return -1;
}

/* ---- bodies ---- */

static int sq_bodies_dead(struct sq *sq, struct i64vec *ids,
			  struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_BODY_DEAD, err);
	if (st == NULL)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		i64vec_push(ids, sqlite3_column_int64(st, 0));
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "finding unused bodies", err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/* After the commit that dropped their last reference: the files go, then
 * the rows.  Failing here only leaves work for the next store_open(). */
static void sq_bodies_reap(struct store *store, const struct i64vec *ids)
{
	struct sq *sq = sq_of(store);
	struct store_error err;
	if (ids->n == 0)
		return;
	if (sq->group_open) {
		/* the change is not durable yet: its files must stay until
		 * the group's COMMIT (store_group_commit) */
		for (size_t i = 0; i < ids->n; i++) {
			if (sq->reap_new_n == sq->reap_new_cap) {
				sq->reap_new_cap = sq->reap_new_cap ?
						   sq->reap_new_cap * 2 : 64;
				sq->reap_new = xrealloc(sq->reap_new,
							sq->reap_new_cap *
							sizeof(int64_t));
			}
			sq->reap_new[sq->reap_new_n++] = ids->v[i];
		}
		return;
	}
	for (size_t i = 0; i < ids->n; i++)
		store_files_unlink_body(store, ids->v[i]);
	if (sq_begin(sq, true, &err) < 0)
		return;
	int ret = 0;
	for (size_t i = 0; i < ids->n && ret == 0; i++) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_BODY_REAP, &err);
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, ids->v[i]);
		ret = sq_run(sq, st, "removing unused bodies", &err);
	}
	sq_end(sq, ret, &err);
}

/* ---- keywords ---- */

static int sq_keywords_load(struct sq *sq, int64_t mailbox_id,
			    struct store_keywords *known,
			    struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_KEYWORD_LIST, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name != NULL)
			store_keywords_add(known, name);
	}
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "reading keywords", err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/* Records kw's keywords as used in the mailbox and rewrites each to the
 * spelling the mailbox first saw, so that FLAGS and FETCH agree. */
static int sq_keywords_record(struct sq *sq, int64_t mailbox_id,
			      struct store_keywords *known,
			      struct store_keywords *kw,
			      struct store_error *err)
{
	for (size_t i = 0; i < kw->count; i++) {
		int k = store_keywords_find(known, kw->names[i]);
		if (k >= 0) {
			if (strcmp(known->names[k], kw->names[i]) != 0) {
				free(kw->names[i]);
				kw->names[i] = xstrdup(known->names[k]);
			}
			continue;
		}
		if (known->count >= STORE_KEYWORDS_PER_MAILBOX_MAX) {
			store_error_set(err, STORE_ERR_LIMIT,
					"Too many keywords in this mailbox");
			return -1;
		}
		sqlite3_stmt *st = sq_stmt(sq, SQ_KEYWORD_INSERT, err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_text(st, 2, kw->names[i], -1, SQLITE_STATIC);
		if (sq_run(sq, st, "recording a keyword", err) < 0)
			return -1;
		store_keywords_add(known, kw->names[i]);
	}
	return 0;
}

/* ---- messages, shared by several calls ---- */

struct sq_msg_row {
	uint32_t uid;
	uint32_t flags;
	char *keywords;
	uint64_t modseq;
	int64_t internaldate;
	int tz_offset;
	uint64_t size;
	int64_t body_id;
};

static void sq_msg_from_row(sqlite3_stmt *st, struct sq_msg_row *m)
{
	m->uid = (uint32_t)sqlite3_column_int64(st, 0);
	m->flags = (uint32_t)sqlite3_column_int64(st, 1) & STORE_FLAG_ALL;
	const char *kw = (const char *)sqlite3_column_text(st, 2);
	m->keywords = xstrdup(kw != NULL ? kw : "");
	m->modseq = (uint64_t)sqlite3_column_int64(st, 3);
	m->internaldate = sqlite3_column_int64(st, 4);
	m->tz_offset = sqlite3_column_int(st, 5);
	m->size = (uint64_t)sqlite3_column_int64(st, 6);
	m->body_id = sqlite3_column_int64(st, 7);
}

static void sq_msg_rows_free(struct sq_msg_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].keywords);
	free(rows);
}

/* The existing messages among uids (ascending), or all when uids is NULL. */
static int sq_msg_rows_fetch(struct sq *sq, int64_t mailbox_id,
			     const uint32_t *uids, size_t count,
			     struct sq_msg_row **rows_r, size_t *n_r,
			     struct store_error *err)
{
	struct sq_msg_row *rows = NULL;
	size_t n = 0, cap = 0;
	*rows_r = NULL;
	*n_r = 0;
	if (uids == NULL) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_RANGE, err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, 1);
		sqlite3_bind_int64(st, 3, UINT32_MAX);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				rows = xrealloc(rows, cap * sizeof(*rows));
			}
			sq_msg_from_row(st, &rows[n++]);
		}
		if (rc != SQLITE_DONE) {
			sq_fail(sq, rc, "reading messages", err);
			sqlite3_reset(st);
			sq_msg_rows_free(rows, n);
			return -1;
		}
		sqlite3_reset(st);
	} else {
		for (size_t i = 0; i < count; i++) {
			sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_GET, err);
			if (st == NULL) {
				sq_msg_rows_free(rows, n);
				return -1;
			}
			sqlite3_bind_int64(st, 1, mailbox_id);
			sqlite3_bind_int64(st, 2, uids[i]);
			int r = sq_row(sq, st, "reading a message", err);
			if (r < 0) {
				sq_msg_rows_free(rows, n);
				return -1;
			}
			if (r == 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				rows = xrealloc(rows, cap * sizeof(*rows));
			}
			sq_msg_from_row(st, &rows[n++]);
			sqlite3_reset(st);
		}
	}
	*rows_r = rows;
	*n_r = n;
	return 0;
}

static int sq_message_insert(struct sq *sq, int64_t mailbox_id, uint32_t uid,
			     uint32_t flags, const char *keywords,
			     uint64_t modseq, int64_t internaldate,
			     int tz_offset, uint64_t size, int64_t body_id,
			     struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_INSERT, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_int64(st, 3, flags);
	sqlite3_bind_text(st, 4, keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)modseq);
	sqlite3_bind_int64(st, 6, internaldate);
	sqlite3_bind_int(st, 7, tz_offset);
	sqlite3_bind_int64(st, 8, (int64_t)size);
	sqlite3_bind_int64(st, 9, body_id);
	return sq_run(sq, st, "inserting a message", err);
}

static int sq_mailbox_set_counters(struct sq *sq, int64_t mailbox_id,
				   uint32_t uidnext, uint64_t modseq,
				   struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_SET_COUNTERS, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uidnext);
	sqlite3_bind_int64(st, 3, (int64_t)modseq);
	return sq_run(sq, st, "updating a mailbox", err);
}

static int sq_mailbox_set_modseq(struct sq *sq, int64_t mailbox_id,
				 uint64_t modseq, struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_SET_MODSEQ, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (int64_t)modseq);
	return sq_run(sq, st, "updating a mailbox", err);
}

/* Refuses a change that would need UIDs beyond STORE_UID_MAX. */
static int sq_check_uid_space(const struct store_mailbox *mb, size_t n,
			      struct store_error *err)
{
	if ((uint64_t)mb->uidnext + n - 1 > STORE_UID_MAX) {
		log_error("store: mailbox %" PRId64 " has run out of UIDs",
			  mb->id);
		store_error_set(err, STORE_ERR_LIMIT,
				"Mailbox has run out of UIDs");
		return -1;
	}
	return 0;
}

/* Inserts copies of rows into dst, with UIDs from dst->uidnext on in the
 * rows' order and the given modseq, and moves dst's UIDNEXT and
 * HIGHESTMODSEQ on.  dst_uids receives the new UIDs. */
static int sq_msg_rows_copy(struct sq *sq, const struct store_mailbox *dst,
			    const struct sq_msg_row *rows, size_t n,
			    uint64_t modseq, uint32_t *dst_uids,
			    struct store_error *err)
{
	struct store_keywords known = { 0 };
	struct strbuf buf = STRBUF_INIT;
	int ret = sq_check_uid_space(dst, n, err);
	if (ret == 0)
		ret = sq_keywords_load(sq, dst->id, &known, err);
	uint32_t uid = dst->uidnext;
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *keywords = rows[i].keywords;
		if (keywords[0] != '\0') {
			struct store_keywords kw = { 0 };
			ret = store_keywords_parse(&kw, keywords, err);
			if (ret == 0)
				ret = sq_keywords_record(sq, dst->id, &known,
							 &kw, err);
			strbuf_reset(&buf);
			store_keywords_format(&kw, &buf);
			store_keywords_free(&kw);
			keywords = strbuf_str(&buf);
			if (ret < 0)
				break;
		}
		dst_uids[i] = uid;
		ret = sq_message_insert(sq, dst->id, uid, rows[i].flags,
					keywords, modseq, rows[i].internaldate,
					rows[i].tz_offset, rows[i].size,
					rows[i].body_id, err);
		uid++;
	}
	if (ret == 0)
		ret = sq_mailbox_set_counters(sq, dst->id, uid, modseq, err);
	store_keywords_free(&known);
	strbuf_free(&buf);
	return ret;
}

/* Deletes the messages with these UIDs (which exist), remembering them as
 * expunged at modseq (RFC 7162 §3.2.10), and sets HIGHESTMODSEQ. */
static int sq_msg_remove(struct sq *sq, int64_t mailbox_id,
			 const uint32_t *uids, size_t n, uint64_t modseq,
			 struct store_error *err)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_DELETE, err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[i]);
		if (sq_run(sq, st, "expunging a message", err) < 0)
			return -1;
		st = sq_stmt(sq, SQ_EXPUNGED_INSERT, err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[i]);
		sqlite3_bind_int64(st, 3, (int64_t)modseq);
		if (sq_run(sq, st, "recording an expunge", err) < 0)
			return -1;
	}
	return sq_mailbox_set_modseq(sq, mailbox_id, modseq, err);
}

/* Removes a mailbox's messages and what hangs on them. */
static int sq_mailbox_purge(struct sq *sq, int64_t mailbox_id,
			    struct store_error *err)
{
	static const enum sq_stmt_id purges[] = {
		SQ_MAILBOX_PURGE_MESSAGES, SQ_MAILBOX_PURGE_EXPUNGED,
		SQ_MAILBOX_PURGE_KEYWORDS,
	};
	for (size_t i = 0; i < sizeof(purges) / sizeof(purges[0]); i++) {
		sqlite3_stmt *st = sq_stmt(sq, purges[i], err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		if (sq_run(sq, st, "emptying a mailbox", err) < 0)
			return -1;
	}
	return 0;
}

/* ---- mailbox creation ---- */

/* Inserts a new mailbox (name must be free) with a fresh UIDVALIDITY. */
static int sq_mailbox_insert(struct sq_ctx *c, int64_t user_id,
			     const char *name, const char *special_use,
			     bool emit, struct store_mailbox *mb_r,
			     struct store_error *err)
{
	uint32_t uidvalidity;
	if (sq_uidvalidity_next(c->sq, &uidvalidity, err) < 0)
		return -1;
	sqlite3_stmt *st = sq_stmt(c->sq, SQ_MAILBOX_INSERT, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, special_use != NULL ? special_use : "", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, uidvalidity);
	if (sq_run(c->sq, st, "creating a mailbox", err) < 0)
		return -1;
	int64_t id = sqlite3_last_insert_rowid(c->sq->db);
	int r = sq_mailbox_by_id(c->sq, id, mb_r, err);
	if (r <= 0) {
		if (r == 0) {
			log_error("store: new mailbox %" PRId64 " vanished", id);
			store_error_internal(err);
		}
		return -1;
	}
	if (emit)
		return sq_event_mailbox(c, EVENT_MAILBOX_CREATE, mb_r, NULL,
					err);
	return 0;
}

/* RFC 3501 §6.3.3: "the server SHOULD create any superior hierarchical
 * names that are needed".  Each gets its own MailboxCreate, so that NOTIFY
 * sessions and sinks learn of every name. */
static int sq_mailbox_create_parents(struct sq_ctx *c, int64_t user_id,
				     const char *name, struct store_error *err)
{
	char buf[STORE_MAILBOX_NAME_MAX + 1];
	size_t len = strlen(name);
	if (len > STORE_MAILBOX_NAME_MAX)
		len = STORE_MAILBOX_NAME_MAX;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (size_t i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		struct store_mailbox mb;
		int r = sq_mailbox_by_name(c->sq, user_id, buf, &mb, err);
		if (r < 0)
			return -1;
		if (r == 0 && sq_mailbox_insert(c, user_id, buf, "", true, &mb,
						err) < 0)
			return -1;
		buf[i] = '/';
	}
	return 0;
}

/* How many mailboxes sq_mailbox_create_parents(name) would create. */
static int sq_mailbox_parents_missing(struct sq_ctx *c, int64_t user_id,
				      const char *name, uint64_t *n_r,
				      struct store_error *err)
{
	char buf[STORE_MAILBOX_NAME_MAX + 1];
	size_t len = strlen(name);
	if (len > STORE_MAILBOX_NAME_MAX)
		len = STORE_MAILBOX_NAME_MAX;
	memcpy(buf, name, len);
	buf[len] = '\0';
	*n_r = 0;
	for (size_t i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		struct store_mailbox mb;
		int r = sq_mailbox_by_name(c->sq, user_id, buf, &mb, err);
		if (r < 0)
			return -1;
		if (r == 0)
			(*n_r)++;
		buf[i] = '/';
	}
	return 0;
}

/* ---- open / close ---- */

static int sq_exec(struct sq *sq, const char *sql, const char *what,
		   struct store_error *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(sq->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		int primary = rc & 0xff;
		log_error("store: %s: %s", what,
			  msg != NULL ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
			store_error_set(err, STORE_ERR_BUSY,
					"Mail store is busy, try again later");
		else
			store_error_internal(err);
		return -1;
	}
	return 0;
}

static int sq_pragma_int(struct sq *sq, const char *sql, int64_t *value_r,
			 struct store_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(sq->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(sq, rc, sql, err);
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sq_fail(sq, rc, sql, err);
		sqlite3_finalize(st);
		return -1;
	}
	*value_r = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int sq_schema(struct sq *sq, struct store_error *err)
{
	int64_t version;
	if (sq_pragma_int(sq, "PRAGMA user_version", &version, err) < 0)
		return -1;
	if (version == SQ_SCHEMA_VERSION)
		return 0;
	if (version > SQ_SCHEMA_VERSION) {
		log_error("store: index.db has schema version %" PRId64
			  ", newer than this program's %d", version,
			  SQ_SCHEMA_VERSION);
		store_error_internal(err);
		return -1;
	}
	if (sq_exec(sq, "BEGIN IMMEDIATE", "creating the schema", err) < 0)
		return -1;
	/* another process may have got there first */
	if (sq_pragma_int(sq, "PRAGMA user_version", &version, err) < 0) {
		sq_rollback(sq);
		return -1;
	}
	if (version == 0 &&
	    sq_exec(sq, sq_schema_v1, "creating the schema", err) < 0) {
		sq_rollback(sq);
		return -1;
	}
	/* later versions migrate here, one step at a time */
	if (version < 2 &&
	    sq_exec(sq, sq_schema_v2, "migrating the schema to version 2", err) < 0) {
		sq_rollback(sq);
		return -1;
	}
	if (version < 3 &&
	    sq_exec(sq, sq_schema_v3, "migrating the schema to version 3", err) < 0) {
		sq_rollback(sq);
		return -1;
	}
	if (version < 4 &&
	    sq_exec(sq, sq_schema_v4, "migrating the schema to version 4", err) < 0) {
		sq_rollback(sq);
		return -1;
	}
	return sq_exec(sq, "COMMIT", "creating the schema", err);
}

/* Finishes what a crash interrupted: bodies whose last message went but
 * whose file did not, and a body file renamed into place whose row never
 * committed.  The second can only be the id after the highest one ever
 * committed (AUTOINCREMENT hands it out again after a rollback), and is
 * checked under the write lock: a writer holds that lock from before its
 * rename until its commit, so a file seen there is never someone's
 * append in progress. */
static void sq_sweep(struct store *store)
{
	struct sq *sq = sq_of(store);
	struct store_error err;
	store_files_sweep_tmp(store);

	struct i64vec dead = { 0 };
	if (sq_bodies_dead(sq, &dead, &err) == 0 && dead.n > 0) {
		log_info("store: removing %zu unused message bodies", dead.n);
		sq_bodies_reap(store, &dead);
	}
	free(dead.v);

	int64_t last = 0;
	sqlite3_stmt *st = sq_stmt(sq, SQ_BODY_LAST_ID, &err);
	if (st == NULL)
		return;
	int r = sq_row(sq, st, "reading the last body id", &err);
	if (r < 0)
		return;
	if (r == 1) {
		last = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	if (!store_files_body_exists(store, last + 1))
		return;
	if (sq_begin(sq, true, &err) < 0)
		return;
	st = sq_stmt(sq, SQ_BODY_LAST_ID, &err);
	r = st != NULL ? sq_row(sq, st, "reading the last body id", &err) : -1;
	if (r >= 0) {
		last = 0;
		if (r == 1) {
			last = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
		for (int64_t id = last + 1; id <= last + SQ_ORPHAN_SCAN &&
		     store_files_body_exists(store, id); id++) {
			log_info("store: removing orphan body file %" PRId64,
				 id);
			store_files_unlink_body(store, id);
		}
	}
	sq_end(sq, r < 0 ? -1 : 0, &err);
}

/* ---- group commit ---- */

static int sq_group_commit(struct store *store, struct store_error *err)
{
	struct sq *sq = sq_of(store);
	if (!sq->group_open)
		return 0;
	int ret = 0;
	/* rows of the bodies whose files went after the last COMMIT */
	for (size_t i = 0; i < sq->reap_done_n && ret == 0; i++) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_BODY_REAP, err);
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, sq->reap_done[i]);
		ret = sq_run(sq, st, "removing unused bodies", err);
	}
	/* the bodies first, then the rows that name them */
	if (ret == 0)
		ret = store_sync_pending(store, err);
	if (ret == 0) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_COMMIT, err);
		if (st == NULL || sq_run(sq, st, "committing", err) < 0)
			ret = -1;
	}
	sq->group_open = false;
	sq->group_op = false;
	if (ret < 0) {
		if (!sqlite3_get_autocommit(sq->db))
			sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
		store_sync_free(store);
		sq->reap_new_n = 0;
		return -1;
	}
	sq->reap_done_n = 0;
	/* the expunges are durable now: their files may go, and their rows
	 * with the next group */
	for (size_t i = 0; i < sq->reap_new_n; i++)
		store_files_unlink_body(store, sq->reap_new[i]);
	int64_t *v = sq->reap_done;
	size_t cap = sq->reap_done_cap;
	sq->reap_done = sq->reap_new;
	sq->reap_done_cap = sq->reap_new_cap;
	sq->reap_done_n = sq->reap_new_n;
	sq->reap_new = v;
	sq->reap_new_cap = cap;
	sq->reap_new_n = 0;
	return 0;
}

static int sq_group_enable(struct store *store, bool on,
			   void (*opened)(void *ctx), void *ctx,
			   struct store_error *err)
{
	struct sq *sq = sq_of(store);
	if (!on && sq_group_commit(store, err) < 0)
		return -1;
	sq->group = on;
	sq->group_opened = opened;
	sq->group_ctx = ctx;
	store->sync_defer = on;
	return 0;
}

static void sq_close(struct store *store)
{
	struct sq *sq = sq_of(store);
	if (sq == NULL)
		return;
	if (sq->group_open) {
		struct store_error err;
		if (sq_group_commit(store, &err) < 0)
			log_error("store: the last group commit failed: %s",
				  err.msg);
	}
	free(sq->reap_new);
	free(sq->reap_done);
	store_sync_free(store);
	for (size_t i = 0; i < SQ_STMT_COUNT; i++)
		sqlite3_finalize(sq->stmts[i]);
	if (sq->db != NULL && sqlite3_close(sq->db) != SQLITE_OK)
		log_error("store: closing index.db: %s",
			  sqlite3_errmsg(sq->db));
	free(sq);
	store->backend = NULL;
}

static int sq_open(struct store *store, struct store_error *err)
{
	struct sq *sq = xcalloc(1, sizeof(*sq));
	store->backend = sq;
	struct strbuf path = STRBUF_INIT;
	strbuf_printf(&path, "%s/index.db", store->data_dir);
	int rc = sqlite3_open_v2(path.s, &sq->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store: cannot open %s: %s", path.s,
			  sq->db != NULL ? sqlite3_errmsg(sq->db)
					 : sqlite3_errstr(rc));
		strbuf_free(&path);
		store_error_internal(err);
		sq_close(store);
		return -1;
	}
	strbuf_free(&path);
	sqlite3_extended_result_codes(sq->db, 1);
	sqlite3_busy_timeout(sq->db, SQ_BUSY_TIMEOUT_MS);

	/* WAL: readers never block the writer nor the other way round, and
	 * synchronous=FULL makes each commit durable (DESIGN.md "Storage") */
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(sq->db, "PRAGMA journal_mode=WAL", -1, &st,
				NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sq_fail(sq, rc, "setting WAL mode", err);
		sqlite3_finalize(st);
		sq_close(store);
		return -1;
	}
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		log_error("store: index.db refuses WAL mode (%s)",
			  mode != NULL ? mode : "?");
		sqlite3_finalize(st);
		store_error_internal(err);
		sq_close(store);
		return -1;
	}
	sqlite3_finalize(st);
	if (sq_exec(sq, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
		    "configuring index.db", err) < 0 ||
	    sq_schema(sq, err) < 0) {
		sq_close(store);
		return -1;
	}
	sq_sweep(store);
	return 0;
}

/* ---- users ---- */

static int sq_create_defaults(struct sq_ctx *c, int64_t user_id,
			      struct store_error *err)
{
	struct store *store = c->store;
	for (size_t i = 0; i < store->default_count; i++) {
		char name[STORE_MAILBOX_NAME_MAX + 1];
		char use[32];
		struct store_error ignored;
		if (store_name_normalize(store->default_names[i], name,
					 &ignored) < 0) {
			log_warn("store: default mailbox \"%s\" skipped: %s",
				 store->default_names[i], ignored.msg);
			continue;
		}
		if (store_special_use_normalize(store->default_special_use[i],
						use, &ignored) < 0) {
			log_warn("store: default mailbox %s: unknown "
				 "special-use \"%s\" ignored", name,
				 store->default_special_use[i]);
			use[0] = '\0';
		}
		if (store_name_is_inbox(name))
			continue;
		struct store_mailbox mb;
		int r = sq_mailbox_by_name(c->sq, user_id, name, &mb, err);
		if (r < 0)
			return -1;
		if (r == 1)
			continue;
		if (sq_mailbox_create_parents(c, user_id, name, err) < 0 ||
		    sq_mailbox_insert(c, user_id, name, use, true, &mb,
				      err) < 0)
			return -1;
	}
	return 0;
}

static int sq_user_create_txn(struct sq_ctx *c, const char *name,
			      const char *password_hash,
			      struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_user user;
	int r = sq_user_by_name(sq, name, &user, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		store_error_set(err, STORE_ERR_ALREADYEXISTS,
				"User already exists");
		return -1;
	}
	sqlite3_stmt *st = sq_stmt(sq, SQ_USER_INSERT, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, password_hash, -1, SQLITE_STATIC);
	if (sq_run(sq, st, "creating a user", err) < 0)
		return -1;
	int64_t user_id = sqlite3_last_insert_rowid(sq->db);
	struct store_mailbox inbox;
	if (sq_mailbox_insert(c, user_id, "INBOX", "", true, &inbox, err) < 0)
		return -1;
	return sq_create_defaults(c, user_id, err);
}

static int sq_user_create(struct store *store, const struct store_actor *actor,
			  const char *name, const char *password_hash,
			  struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_user_create_txn(&c, name, password_hash, err);
	return sq_end(c.sq, ret, err);
}

static int sq_user_set_password(struct store *store, const char *name,
				const char *password_hash,
				struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st = sq_stmt(sq, SQ_USER_SET_PASSWORD, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, password_hash, -1, SQLITE_STATIC);
	if (sq_run(sq, st, "setting a password", err) < 0)
		return -1;
	if (sqlite3_changes(sq->db) == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	return 0;
}

static int sq_mailbox_list_rows(struct sq *sq, int64_t user_id,
				struct store_mailbox **list_r, size_t *count_r,
				struct store_error *err)
{
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_LIST, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	struct store_mailbox *list = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			list = xrealloc(list, cap * sizeof(*list));
		}
		sq_mailbox_from_row(st, &list[n++]);
	}
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "listing mailboxes", err);
		sqlite3_reset(st);
		free(list);
		return -1;
	}
	sqlite3_reset(st);
	*list_r = list;
	*count_r = n;
	return 0;
}

static int sq_user_delete_txn(struct sq_ctx *c, const char *name,
			      struct i64vec *dead, struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_user user;
	int r = sq_user_by_name(sq, name, &user, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	struct store_mailbox *list = NULL;
	size_t n = 0;
	if (sq_mailbox_list_rows(sq, user.id, &list, &n, err) < 0)
		return -1;
	int ret = 0;
	/* children before their parents, as a client deleting them one by
	 * one would have to */
	for (size_t i = n; i-- > 0 && ret == 0;) {
		ret = sq_event_mailbox(c, EVENT_MAILBOX_DELETE, &list[i], NULL,
				       err);
		if (ret == 0)
			ret = sq_mailbox_purge(sq, list[i].id, err);
		if (ret == 0) {
			sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_DELETE, err);
			if (st == NULL) {
				ret = -1;
				break;
			}
			sqlite3_bind_int64(st, 1, list[i].id);
			ret = sq_run(sq, st, "deleting a mailbox", err);
		}
	}
	free(list);
	if (ret < 0)
		return -1;
	sqlite3_stmt *st = sq_stmt(sq, SQ_USER_PURGE_SUBSCRIPTIONS, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user.id);
	if (sq_run(sq, st, "deleting subscriptions", err) < 0)
		return -1;
	st = sq_stmt(sq, SQ_USER_DELETE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user.id);
	if (sq_run(sq, st, "deleting a user", err) < 0)
		return -1;
	return sq_bodies_dead(sq, dead, err);
}

static int sq_user_delete(struct store *store, const struct store_actor *actor,
			  const char *name, struct store_error *err)
{
	struct sq_ctx c;
	struct i64vec dead = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_user_delete_txn(&c, name, &dead, err);
	ret = sq_end(c.sq, ret, err);
	if (ret == 0)
		sq_bodies_reap(store, &dead);
	free(dead.v);
	return ret;
}

static int sq_user_lookup(struct store *store, const char *name,
			  struct store_user *user_r, struct store_error *err)
{
	int r = sq_user_by_name(sq_of(store), name, user_r, err);
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static int sq_user_foreach(struct store *store,
			   int (*cb)(const struct store_user *user, void *ctx),
			   void *ctx, struct store_error *err)
{
	struct sq *sq = sq_of(store);
	char after[STORE_USER_NAME_MAX + 1] = "";
	struct store_user *batch = xmalloc(SQ_BATCH * sizeof(*batch));
	int ret = 0;
	/* in batches, calling back with no statement running: the callback
	 * may use the store */
	for (;;) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_USER_LIST_AFTER, err);
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, SQ_BATCH);
		size_t n = 0;
		int rc = SQLITE_DONE;
		while (n < SQ_BATCH && (rc = sqlite3_step(st)) == SQLITE_ROW)
			sq_user_from_row(st, &batch[n++]);
		if (n < SQ_BATCH && rc != SQLITE_DONE) {
			sq_fail(sq, rc, "listing users", err);
			sqlite3_reset(st);
			ret = -1;
			break;
		}
		sqlite3_reset(st);
		for (size_t i = 0; i < n; i++) {
			if (cb(&batch[i], ctx) != 0)
				goto out;
		}
		if (n < SQ_BATCH)
			break;
		memcpy(after, batch[n - 1].name, sizeof(after));
	}
out:
	free(batch);
	return ret;
}

/* ---- mailboxes ---- */

static int sq_mailbox_list(struct store *store, int64_t user_id,
			   struct store_mailbox **list_r, size_t *count_r,
			   struct store_error *err)
{
	struct sq *sq = sq_of(store);
	struct store_user user;
	int r = sq_user_by_id(sq, user_id, &user, err);
	if (r <= 0) {
		if (r == 0)
			store_error_set(err, STORE_ERR_NONEXISTENT,
					"No such user");
		return -1;
	}
	return sq_mailbox_list_rows(sq, user_id, list_r, count_r, err);
}

static int sq_mailbox_get(struct store *store, int64_t user_id,
			  const char *name, struct store_mailbox *mailbox_r,
			  struct store_error *err)
{
	int r = sq_mailbox_by_name(sq_of(store), user_id, name, mailbox_r,
				   err);
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static int sq_mailbox_get_by_id(struct store *store, int64_t mailbox_id,
				struct store_mailbox *mailbox_r,
				struct store_error *err)
{
	int r = sq_mailbox_by_id(sq_of(store), mailbox_id, mailbox_r, err);
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static int sq_mailbox_create_txn(struct sq_ctx *c, int64_t user_id,
				 const char *name, const char *special_use,
				 struct store_error *err)
{
	struct sq *sq = c->sq;
	if (sq_owner(c, user_id, err) == NULL)
		return -1;
	struct store_mailbox mb;
	int r = sq_mailbox_by_name(sq, user_id, name, &mb, err);
	if (r < 0)
		return -1;
	if (r == 1 && !mb.noselect) {
		store_error_set(err, STORE_ERR_ALREADYEXISTS,
				"Mailbox already exists");
		return -1;
	}
	/* RFC 9208 §5.3: the mailbox and any new parents must fit */
	uint64_t n = 1;
	if (r == 0 && sq_mailbox_parents_missing(c, user_id, name, &n,
						 err) < 0)
		return -1;
	if (r == 0)
		n++;
	int qr = sq_quota_check_mailboxes(c, user_id, n, err);
	if (qr != 0)
		return qr;
	if (r == 0) {
		if (sq_mailbox_create_parents(c, user_id, name, err) < 0)
			return -1;
		return sq_mailbox_insert(c, user_id, name, special_use, true,
					 &mb, err);
	}
	/* A \Noselect name left by DELETE (RFC 3501 §6.3.4) becomes a real
	 * mailbox again, with a UIDVALIDITY it never had. */
	uint32_t uidvalidity;
	if (sq_uidvalidity_next(sq, &uidvalidity, err) < 0)
		return -1;
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_REVIVE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mb.id);
	sqlite3_bind_text(st, 2, special_use, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, uidvalidity);
	if (sq_run(sq, st, "recreating a mailbox", err) < 0 ||
	    sq_mailbox_by_id(sq, mb.id, &mb, err) <= 0)
		return -1;
	return sq_event_mailbox(c, EVENT_MAILBOX_CREATE, &mb, NULL, err);
}

static int sq_mailbox_create(struct store *store,
			     const struct store_actor *actor, int64_t user_id,
			     const char *name, const char *special_use,
			     struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_mailbox_create_txn(&c, user_id, name, special_use, err);
	return sq_end_quota(c.sq, ret, err);
}

static int sq_mailbox_delete_txn(struct sq_ctx *c, int64_t user_id,
				 const char *name, struct i64vec *dead,
				 struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox mb;
	int r = sq_mailbox_by_name(sq, user_id, name, &mb, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	int children = sq_mailbox_has_children(sq, user_id, name, err);
	if (children < 0)
		return -1;
	/* RFC 3501 §6.3.4 */
	if (children && mb.noselect) {
		store_error_set(err, STORE_ERR_HASCHILDREN,
				"Mailbox has children");
		return -1;
	}
	if (sq_event_mailbox(c, EVENT_MAILBOX_DELETE, &mb, NULL, err) < 0 ||
	    sq_mailbox_purge(sq, mb.id, err) < 0)
		return -1;
	sqlite3_stmt *st = sq_stmt(sq, children ? SQ_MAILBOX_SET_NOSELECT
						: SQ_MAILBOX_DELETE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mb.id);
	if (sq_run(sq, st, "deleting a mailbox", err) < 0 ||
	    sq_quota_within(c, user_id, NULL, err) < 0)
		return -1;
	return sq_bodies_dead(sq, dead, err);
}

static int sq_mailbox_delete(struct store *store,
			     const struct store_actor *actor, int64_t user_id,
			     const char *name, struct store_error *err)
{
	struct sq_ctx c;
	struct i64vec dead = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_mailbox_delete_txn(&c, user_id, name, &dead, err);
	ret = sq_end(c.sq, ret, err);
	if (ret == 0)
		sq_bodies_reap(store, &dead);
	free(dead.v);
	return ret;
}

/* RFC 3501 §6.3.5: renaming INBOX moves its messages into a new mailbox
 * and leaves INBOX empty; INBOX's children stay.  INBOX keeps its
 * UIDVALIDITY, so a session that has it selected sees plain expunges; the
 * new mailbox gets a UIDVALIDITY of its own and UIDs from 1. */
static int sq_rename_inbox(struct sq_ctx *c, const struct store_mailbox *inbox,
			   const char *new_name, struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox dst;
	if (sq_mailbox_create_parents(c, inbox->user_id, new_name, err) < 0 ||
	    sq_mailbox_insert(c, inbox->user_id, new_name, "", false, &dst,
			      err) < 0)
		return -1;
	struct sq_msg_row *rows = NULL;
	size_t n = 0;
	if (sq_msg_rows_fetch(sq, inbox->id, NULL, 0, &rows, &n, err) < 0)
		return -1;
	uint32_t *src_uids = xmalloc((n ? n : 1) * sizeof(uint32_t));
	uint32_t *dst_uids = xmalloc((n ? n : 1) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		src_uids[i] = rows[i].uid;
	uint64_t dst_modseq = dst.highestmodseq + 1;
	uint64_t src_modseq = inbox->highestmodseq + 1;
	int ret = 0;
	if (n > 0) {
		ret = sq_msg_rows_copy(sq, &dst, rows, n, dst_modseq, dst_uids,
				       err);
		if (ret == 0)
			ret = sq_msg_remove(sq, inbox->id, src_uids, n,
					    src_modseq, err);
	}
	struct store_mailbox dst_after, inbox_after;
	if (ret == 0 && (sq_mailbox_by_id(sq, dst.id, &dst_after, err) <= 0 ||
			 sq_mailbox_by_id(sq, inbox->id, &inbox_after,
					  err) <= 0))
		ret = -1;
	if (ret == 0)
		ret = sq_event_mailbox(c, EVENT_MAILBOX_RENAME, &dst_after,
				       inbox, err);
	if (ret == 0 && n > 0) {
		/* tell archives where the messages went, and sessions with
		 * INBOX selected that they are gone from there */
		struct sq_message_event append = {
			.type = EVENT_MESSAGE_APPEND, .mb = &dst_after,
			.uids = dst_uids, .count = n, .modseq = dst_modseq,
			.message_size = n == 1 ? (int64_t)rows[0].size : -1,
		};
		struct sq_message_event expunge = {
			.type = EVENT_MESSAGE_EXPUNGE, .mb = &inbox_after,
			.uids = src_uids, .count = n, .modseq = src_modseq,
			.message_size = -1,
		};
		ret = sq_event_messages(c, &append, err);
		if (ret == 0)
			ret = sq_event_messages(c, &expunge, err);
	}
	sq_msg_rows_free(rows, n);
	free(src_uids);
	free(dst_uids);
	return ret;
}

static unsigned int name_depth(const char *name)
{
	unsigned int depth = 1;
	for (; *name; name++) {
		if (*name == '/')
			depth++;
	}
	return depth;
}

static int sq_mailbox_rename_txn(struct sq_ctx *c, int64_t user_id,
				 const char *old_name, const char *new_name,
				 struct store_error *err)
{
	struct sq *sq = c->sq;
	if (sq_owner(c, user_id, err) == NULL)
		return -1;
	struct store_mailbox src, other;
	int r = sq_mailbox_by_name(sq, user_id, old_name, &src, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	r = sq_mailbox_by_name(sq, user_id, new_name, &other, err);
	if (r == 0)
		r = sq_mailbox_has_children(sq, user_id, new_name, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		store_error_set(err, STORE_ERR_ALREADYEXISTS,
				"Mailbox already exists");
		return -1;
	}
	/* A rename keeps the mailbox count, except for the parents it
	 * creates and RENAME INBOX's new mailbox (RFC 9208 §5.3) */
	uint64_t added;
	if (sq_mailbox_parents_missing(c, user_id, new_name, &added, err) < 0)
		return -1;
	if (store_name_is_inbox(old_name))
		added++;
	int qr = sq_quota_check_mailboxes(c, user_id, added, err);
	if (qr != 0)
		return qr;
	if (store_name_is_inbox(old_name))
		return sq_rename_inbox(c, &src, new_name, err);

	/* every renamed child must still be a name the store accepts */
	size_t old_len = strlen(old_name), new_len = strlen(new_name);
	unsigned int old_depth = name_depth(old_name);
	unsigned int new_depth = name_depth(new_name);
	sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_CHILD_NAMES, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, old_name, -1, SQLITE_STATIC);
	int rc;
	bool too_long = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *child = (const char *)sqlite3_column_text(st, 0);
		if (child == NULL)
			continue;
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (len - old_len + new_len > STORE_MAILBOX_NAME_MAX ||
		    name_depth(child) - old_depth + new_depth >
			    STORE_MAILBOX_DEPTH_MAX)
			too_long = true;
	}
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "listing children", err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	if (too_long) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Mailbox names would become too long");
		return -1;
	}
	if (sq_mailbox_create_parents(c, user_id, new_name, err) < 0)
		return -1;
	st = sq_stmt(sq, SQ_MAILBOX_RENAME, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, old_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, new_name, -1, SQLITE_STATIC);
	if (sq_run(sq, st, "renaming a mailbox", err) < 0)
		return -1;
	struct store_mailbox dst;
	if (sq_mailbox_by_id(sq, src.id, &dst, err) <= 0)
		return -1;
	/* RFC 5423 §4.4: one event; the children's renames are implied */
	return sq_event_mailbox(c, EVENT_MAILBOX_RENAME, &dst, &src, err);
}

static int sq_mailbox_rename(struct store *store,
			     const struct store_actor *actor, int64_t user_id,
			     const char *old_name, const char *new_name,
			     struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_mailbox_rename_txn(&c, user_id, old_name, new_name, err);
	return sq_end_quota(c.sq, ret, err);
}

static int sq_subscription_set_txn(struct sq_ctx *c, int64_t user_id,
				   const char *name, bool subscribed,
				   struct store_error *err)
{
	struct sq *sq = c->sq;
	const char *owner = sq_owner(c, user_id, err);
	if (owner == NULL)
		return -1;
	sqlite3_stmt *st = sq_stmt(sq, subscribed ? SQ_SUBSCRIBE
						  : SQ_UNSUBSCRIBE, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sq_run(sq, st, "changing a subscription", err) < 0)
		return -1;
	if (sqlite3_changes(sq->db) == 0)
		return 0; /* no change, no event */
	struct store_mailbox mb;
	int r = sq_mailbox_by_name(sq, user_id, name, &mb, err);
	if (r < 0)
		return -1;
	bool exists = r == 1 && !mb.noselect;
	struct event_builder *eb = store_event_new(
		subscribed ? EVENT_MAILBOX_SUBSCRIBE
			   : EVENT_MAILBOX_UNSUBSCRIBE, c->timestamp);
	struct strbuf url = STRBUF_INIT;
	store_url_mailbox(&url, c->store, owner, name,
			  exists ? mb.uidvalidity : 0);
	event_builder_set_str(eb, EVENT_PARAM_URI, url.s);
	event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, url.s);
	strbuf_free(&url);
	return sq_event_write(c, &eb, user_id, r == 1 ? mb.id : 0, err);
}

static int sq_subscription_set(struct store *store,
			       const struct store_actor *actor, int64_t user_id,
			       const char *name, bool subscribed,
			       struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_subscription_set_txn(&c, user_id, name, subscribed, err);
	return sq_end(c.sq, ret, err);
}

/* Collects column 0 of every row as strings. */
static int sq_strings(struct sq *sq, sqlite3_stmt *st, const char *what,
		      char ***names_r, size_t *count_r,
		      struct store_error *err)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(s != NULL ? s : "");
	}
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, what, err);
		sqlite3_reset(st);
		store_strings_free(names, n);
		return -1;
	}
	sqlite3_reset(st);
	*names_r = names;
	*count_r = n;
	return 0;
}

static int sq_subscription_list(struct store *store, int64_t user_id,
				char ***names_r, size_t *count_r,
				struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st = sq_stmt(sq, SQ_SUBSCRIPTION_LIST, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user_id);
	return sq_strings(sq, st, "listing subscriptions", names_r, count_r,
			  err);
}

static int sq_mailbox_keywords(struct store *store, int64_t mailbox_id,
			       char ***names_r, size_t *count_r,
			       struct store_error *err)
{
	struct sq *sq = sq_of(store);
	struct store_mailbox mb;
	if (sq_mailbox_get_by_id(store, mailbox_id, &mb, err) < 0)
		return -1;
	sqlite3_stmt *st = sq_stmt(sq, SQ_KEYWORD_LIST, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	return sq_strings(sq, st, "listing keywords", names_r, count_r, err);
}

static int sq_mailbox_claim_recent(struct store *store, int64_t mailbox_id,
				   uint32_t *first_uid_r,
				   struct store_error *err)
{
	struct sq *sq = sq_of(store);
	struct store_mailbox mb;
	*first_uid_r = 0;
	/* the common case, nothing new, needs no write lock */
	if (sq_mailbox_selectable(sq, mailbox_id, &mb, err) < 0)
		return -1;
	if (mb.recent_uid + 1 >= mb.uidnext) {
		*first_uid_r = mb.uidnext;
		return 0;
	}
	if (sq_begin(sq, true, err) < 0)
		return -1;
	int ret = sq_mailbox_selectable(sq, mailbox_id, &mb, err);
	uint32_t first = mb.recent_uid + 1;
	if (ret == 0 && first < mb.uidnext) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_MAILBOX_SET_RECENT, err);
		if (st == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(st, 1, mailbox_id);
			sqlite3_bind_int64(st, 2, (int64_t)mb.uidnext - 1);
			ret = sq_run(sq, st, "claiming \\Recent", err);
		}
	}
	if (sq_end(sq, ret, err) < 0)
		return -1;
	*first_uid_r = first < mb.uidnext ? first : mb.uidnext;
	return 0;
}

/* ---- messages ---- */

static int sq_message_range(struct store *store, int64_t mailbox_id,
			    uint32_t uid_lo, uint32_t uid_hi,
			    struct store_message_list *list_r,
			    struct store_error *err)
{
	struct sq *sq = sq_of(store);
	if (sq_begin(sq, false, err) < 0)
		return -1;
	struct store_mailbox mb;
	int r = sq_mailbox_by_id(sq, mailbox_id, &mb, err);
	if (r <= 0) {
		if (r == 0)
			store_error_set(err, STORE_ERR_NONEXISTENT,
					"Mailbox doesn't exist");
		sq_end(sq, -1, err);
		return -1;
	}
	if (uid_lo > uid_hi || mb.messages == 0)
		return sq_end(sq, 0, err);
	sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_RANGE, err);
	if (st == NULL) {
		sq_end(sq, -1, err);
		return -1;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, uid_lo);
	sqlite3_bind_int64(st, 3, uid_hi);
	/* One allocation for the array and all keyword strings after it:
	 * listing a big mailbox costs two mallocs, and one free(). */
	struct store_message *msgs = NULL;
	size_t *offsets = NULL;
	size_t n = 0, cap = 0;
	struct strbuf pool = STRBUF_INIT;
	strbuf_appendc(&pool, '\0');     /* offset 0: "" */
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			msgs = xrealloc(msgs, cap * sizeof(*msgs));
			offsets = xrealloc(offsets, cap * sizeof(*offsets));
		}
		struct store_message *m = &msgs[n];
		m->uid = (uint32_t)sqlite3_column_int64(st, 0);
		m->flags = (uint32_t)sqlite3_column_int64(st, 1) &
			   STORE_FLAG_ALL;
		m->keywords = NULL;
		size_t kwlen = (size_t)sqlite3_column_bytes(st, 2);
		const unsigned char *kw = sqlite3_column_text(st, 2);
		if (kw != NULL && kwlen > 0) {
			offsets[n] = pool.len;
			strbuf_append(&pool, kw, kwlen);
			strbuf_appendc(&pool, '\0');
		} else {
			offsets[n] = 0;
		}
		m->modseq = (uint64_t)sqlite3_column_int64(st, 3);
		m->internaldate = sqlite3_column_int64(st, 4);
		m->tz_offset = sqlite3_column_int(st, 5);
		m->size = (uint64_t)sqlite3_column_int64(st, 6);
		m->body_id = sqlite3_column_int64(st, 7);
		n++;
	}
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "listing messages", err);
		sqlite3_reset(st);
		sq_end(sq, -1, err);
		free(msgs);
		free(offsets);
		strbuf_free(&pool);
		return -1;
	}
	sqlite3_reset(st);
	sq_end(sq, 0, err);
	if (n > 0) {
		size_t array = n * sizeof(*msgs);
		char *block = xrealloc(msgs, array + pool.len);
		memcpy(block + array, pool.s, pool.len);
		msgs = (struct store_message *)(void *)block;
		for (size_t i = 0; i < n; i++)
			msgs[i].keywords = block + array + offsets[i];
	}
	free(offsets);
	strbuf_free(&pool);
	list_r->msgs = msgs;
	list_r->count = n;
	return 0;
}

static int sq_body_open(struct store *store, int64_t body_id,
			struct store_body *body_r, struct store_error *err)
{
	return store_files_body_open(store, body_id, body_r, err);
}

static int sq_message_append(struct store *store,
			     const struct store_actor *actor,
			     int64_t mailbox_id, const char *data, size_t len,
			     uint32_t flags,
			     const struct store_keywords *keywords,
			     int64_t internaldate, int tz_offset,
			     uint32_t *uid_r, uint32_t *uidvalidity_r,
			     struct store_error *err)
{
	struct sq_ctx c;
	struct sq *sq = sq_of(store);
	char *tmp = NULL;
	/* the slow part, writing and syncing the file, happens before the
	 * write lock is taken */
	if (store_files_write_tmp(store, data, len, &tmp, err) < 0)
		return -1;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(sq, true, err) < 0) {
		unlink(tmp);
		free(tmp);
		return -1;
	}
	struct store_keywords kw = { 0 };
	struct store_keywords known = { 0 };
	struct store_mailbox mb = { 0 }, after;
	int64_t body_id = 0;
	bool installed = false;
	int ret = sq_mailbox_selectable(sq, mailbox_id, &mb, err);
	if (ret == 0)
		ret = sq_check_uid_space(&mb, 1, err);
	/* before any change: a refusal commits only its QuotaExceed */
	if (ret == 0)
		ret = sq_quota_check(&c, &mb, len, 1, err);
	store_keywords_copy(&kw, keywords);
	if (ret == 0 && kw.count > 0) {
		ret = sq_keywords_load(sq, mailbox_id, &known, err);
		if (ret == 0)
			ret = sq_keywords_record(sq, mailbox_id, &known, &kw,
						 err);
	}
	if (ret == 0) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_BODY_INSERT, err);
		if (st == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(st, 1, (int64_t)len);
			ret = sq_run(sq, st, "adding a body", err);
			body_id = sqlite3_last_insert_rowid(sq->db);
		}
	}
	if (ret == 0) {
		ret = store_files_install(store, tmp, body_id, err);
		/* the temporary file is gone either way */
		free(tmp);
		tmp = NULL;
		installed = ret == 0;
	}
	uint32_t uid = mb.uidnext;
	uint64_t modseq = mb.highestmodseq + 1;
	struct strbuf kwbuf = STRBUF_INIT;
	store_keywords_format(&kw, &kwbuf);
	if (ret == 0)
		ret = sq_message_insert(sq, mailbox_id, uid, flags,
					strbuf_str(&kwbuf), modseq,
					internaldate, tz_offset, len, body_id,
					err);
	strbuf_free(&kwbuf);
	if (ret == 0)
		ret = sq_mailbox_set_counters(sq, mailbox_id, uid + 1, modseq,
					      err);
	if (ret == 0 && sq_mailbox_by_id(sq, mailbox_id, &after, err) <= 0)
		ret = -1;
	if (ret == 0) {
		struct sq_message_event me = {
			.type = EVENT_MESSAGE_APPEND, .mb = &after,
			.uids = &uid, .count = 1, .modseq = modseq,
			.message_size = (int64_t)len,
			.with_flags = flags != 0 || kw.count > 0,
			.flags = flags, .keywords = &kw,
			.data = data, .data_len = len,
		};
		ret = sq_event_messages(&c, &me, err);
	}
	store_keywords_free(&kw);
	store_keywords_free(&known);
	if (ret == 0) {
		if (sq_commit(sq, err) == 0) {
			*uid_r = uid;
			*uidvalidity_r = mb.uidvalidity;
			return 0;
		}
	}
	if (ret == SQ_OVERQUOTA) {
		/* nothing was installed; the body file is still in tmp */
		sq_end_quota(sq, ret, err);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	/* Unlink while the write lock is still held: once it is released
	 * another append may get the same body id (AUTOINCREMENT reuses an
	 * id that never committed) and its file must not be touched.  If the
	 * transaction is already gone, the next store_open() sweeps. */
	if (installed && !sqlite3_get_autocommit(sq->db))
		store_files_unlink_body(store, body_id);
	sq_rollback(sq);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return -1;
}

/* ---- delivery (LMTP) ---- */

/* MessageNew (RFC 5423 §4.1): the parameters of a MessageAppend for one
 * message plus "envelope", written as the SMTP commands that carried it:
 * "MAIL FROM:<from>\r\nRCPT TO:<rcpt>". */
static int sq_event_message_new(struct sq_ctx *c,
				const struct store_mailbox *mb, uint32_t uid,
				uint64_t modseq, uint64_t size,
				const struct store_delivery *item,
				struct store_error *err)
{
	const char *owner = sq_owner(c, mb->user_id, err);
	if (owner == NULL)
		return -1;
	struct event_builder *eb = store_event_new(EVENT_MESSAGE_NEW,
						   c->timestamp);
	struct strbuf buf = STRBUF_INIT;
	store_url_message(&buf, c->store, owner, mb->name, mb->uidvalidity,
			  uid);
	event_builder_set_str(eb, EVENT_PARAM_URI, buf.s);
	strbuf_reset(&buf);
	store_url_mailbox(&buf, c->store, owner, mb->name, mb->uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, buf.s);
	strbuf_reset(&buf);
	store_uidset_format(&buf, &uid, 1);
	event_builder_set_str(eb, EVENT_PARAM_UIDSET, strbuf_str(&buf));
	event_builder_set_int(eb, EVENT_PARAM_UIDNEXT, mb->uidnext);
	event_builder_set_int(eb, EVENT_PARAM_MODSEQ, (int64_t)modseq);
	event_builder_set_int(eb, EVENT_PARAM_MESSAGE_SIZE, (int64_t)size);
	event_builder_set_int(eb, EVENT_PARAM_MESSAGES, mb->messages);
	if (item->flags != 0)
		store_event_add_flags(eb, item->flags, NULL);
	strbuf_reset(&buf);
	strbuf_printf(&buf, "MAIL FROM:<%s>\r\nRCPT TO:<%s>", item->mail_from,
		      item->rcpt_to);
	event_builder_set_str(eb, EVENT_PARAM_ENVELOPE, buf.s);
	strbuf_free(&buf);
	store_event_add_body_structure(eb, item->header, item->data,
				       item->len);
	/* RFC 5423 §5 serverDomain, "the domain name ... used to access
	 * the ... mailbox": for a delivery, the recipient's domain. */
	const char *at = strrchr(item->rcpt_to, '@');
	if (at != NULL && at[1] != '\0')
		event_builder_set_str(eb, EVENT_PARAM_SERVER_DOMAIN, at + 1);
	return sq_event_write(c, &eb, mb->user_id, mb->id, err);
}

/* One delivery inside the batch's transaction, after its body file was
 * written and synced to tmp_path.  *installed_r says whether the body is
 * in place (the caller removes it when the item is rolled back). */
static int sq_deliver_one(struct sq_ctx *c, sqlite3_stmt *env_st,
			  const struct store_delivery *item, size_t size,
			  char **tmp_path, int64_t *body_id_r,
			  bool *installed_r, uint32_t *uid_r,
			  uint32_t *uidvalidity_r, struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox mb = { 0 }, after;
	int64_t body_id = 0;
	int ret = sq_mailbox_selectable(sq, item->mailbox_id, &mb, err);
	if (ret == 0)
		ret = sq_check_uid_space(&mb, 1, err);
	if (ret == 0) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_BODY_INSERT, err);
		if (st == NULL) {
			ret = -1;
		} else {
			sqlite3_bind_int64(st, 1, (int64_t)size);
			ret = sq_run(sq, st, "adding a body", err);
			body_id = sqlite3_last_insert_rowid(sq->db);
		}
	}
	if (ret == 0) {
		ret = store_files_install(c->store, *tmp_path, body_id, err);
		free(*tmp_path);
		*tmp_path = NULL;
		*installed_r = ret == 0;
		*body_id_r = body_id;
	}
	uint32_t uid = mb.uidnext;
	uint64_t modseq = mb.highestmodseq + 1;
	int64_t message_id = 0;
	if (ret == 0)
		ret = sq_message_insert(sq, item->mailbox_id, uid,
					item->flags & STORE_FLAG_ALL, "",
					modseq, item->internaldate,
					item->tz_offset, size, body_id, err);
	if (ret == 0)
		message_id = sqlite3_last_insert_rowid(sq->db);
	if (ret == 0)
		ret = sq_mailbox_set_counters(sq, item->mailbox_id, uid + 1,
					      modseq, err);
	if (ret == 0) {
		sqlite3_reset(env_st);
		sqlite3_bind_int64(env_st, 1, message_id);
		sqlite3_bind_text(env_st, 2, item->mail_from, -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(env_st, 3, item->rcpt_to, -1, SQLITE_STATIC);
		ret = sq_run(sq, env_st, "recording an envelope", err);
	}
	/* NOTIFY's "inboxes" (RFC 5465 §6.3): every mailbox mail is
	 * delivered to, marked in the delivery's transaction. */
	if (ret == 0 && !mb.delivered) {
		char sql[96];
		sqlite3_snprintf((int)sizeof(sql), sql,
				 "UPDATE mailboxes SET delivered = 1 WHERE id = %lld",
				 (long long)item->mailbox_id);
		ret = sq_exec(sq, sql, "marking a mailbox delivered-to", err);
	}
	if (ret == 0 && sq_mailbox_by_id(sq, item->mailbox_id, &after,
					 err) <= 0)
		ret = -1;
	if (ret == 0)
		ret = sq_event_message_new(c, &after, uid, modseq, size, item,
					   err);
	if (ret == 0) {
		*uid_r = uid;
		*uidvalidity_r = mb.uidvalidity;
	}
	return ret;
}

/* Group commit: every body is written and fsynced first (outside the write
 * lock), then all rows and events go into one transaction with one commit,
 * so N deliveries cost one index fsync instead of N.  Each item runs under
 * its own SAVEPOINT, so one that fails is undone alone. */
static int sq_message_deliver_batch(struct store *store,
				    const struct store_actor *actor,
				    const struct store_delivery *items,
				    size_t count,
				    struct store_delivery_result *results,
				    struct store_error *err)
{
	struct sq *sq = sq_of(store);
	char **tmp = xcalloc(count, sizeof(*tmp));
	int64_t *body_ids = xcalloc(count, sizeof(*body_ids));
	bool *installed = xcalloc(count, sizeof(*installed));
	struct strbuf text = STRBUF_INIT;
	sqlite3_stmt *env_st = NULL;
	int ret = -1;

	for (size_t i = 0; i < count; i++) {
		if (results[i].status < 0)
			continue;
		const struct store_delivery *it = &items[i];
		const char *data = it->data;
		size_t len = it->len;
		if (it->header != NULL && it->header[0] != '\0') {
			strbuf_reset(&text);
			strbuf_appends(&text, it->header);
			strbuf_append(&text, it->data != NULL ? it->data : "",
				      it->len);
			data = text.s;
			len = text.len;
		}
		if (store_files_write_tmp(store, data != NULL ? data : "", len,
					  &tmp[i], &results[i].err) < 0)
			results[i].status = -1;
	}
	strbuf_free(&text);

	if (sq_begin(sq, true, err) < 0)
		goto fail_all;
	static const char env_sql[] =
		"INSERT INTO envelopes(message_id, mail_from, rcpt_to) "
		"VALUES (?1, ?2, ?3)";
	if (sqlite3_prepare_v2(sq->db, env_sql, -1, &env_st, NULL) !=
	    SQLITE_OK) {
		log_error("store: preparing the envelope insert: %s",
			  sqlite3_errmsg(sq->db));
		store_error_internal(err);
		goto fail_all;
	}
	for (size_t i = 0; i < count; i++) {
		if (results[i].status < 0)
			continue;
		struct sq_ctx c;
		sq_ctx_init(&c, store, items[i].actor != NULL ? items[i].actor
							       : actor);
		size_t size = (items[i].header != NULL ?
			       strlen(items[i].header) : 0) + items[i].len;
		/* a refusal keeps its QuotaExceed in the batch's commit;
		 * a missing mailbox is reported by sq_deliver_one() */
		struct store_mailbox qmb;
		int qr = sq_mailbox_by_id(sq, items[i].mailbox_id, &qmb,
					  &results[i].err);
		if (qr == 1)
			qr = sq_quota_check(&c, &qmb, size, 1,
					    &results[i].err);
		if (qr < 0) {
			results[i].status = -1;
			continue;
		}
		if (sq_exec(sq, "SAVEPOINT deliver", "starting a delivery",
			    &results[i].err) < 0) {
			results[i].status = -1;
			continue;
		}
		if (sq_deliver_one(&c, env_st, &items[i], size, &tmp[i],
				   &body_ids[i], &installed[i],
				   &results[i].uid, &results[i].uidvalidity,
				   &results[i].err) == 0) {
			sq_exec(sq, "RELEASE deliver", "ending a delivery",
				&results[i].err);
			continue;
		}
		/* the body id goes back with the savepoint and may be
		 * handed out again: its file must go first */
		results[i].status = -1;
		if (installed[i]) {
			store_files_unlink_body(store, body_ids[i]);
			installed[i] = false;
		}
		struct store_error ignored;
		if (sq_exec(sq, "ROLLBACK TO deliver; RELEASE deliver",
			    "undoing a delivery", &ignored) < 0)
			goto fail_all;
	}
	sqlite3_finalize(env_st);
	env_st = NULL;
	if (sq_commit(sq, err) == 0) {
		ret = 0;
		goto out;
	}
fail_all:
	if (env_st != NULL)
		sqlite3_finalize(env_st);
	/* as in sq_message_append: unlink while the lock is held */
	for (size_t i = 0; i < count; i++) {
		if (installed[i] && !sqlite3_get_autocommit(sq->db))
			store_files_unlink_body(store, body_ids[i]);
		if (results[i].status == 0) {
			results[i].status = -1;
			results[i].uid = 0;
			results[i].uidvalidity = 0;
			results[i].err = *err;
		}
	}
	sq_rollback(sq);
out:
	for (size_t i = 0; i < count; i++) {
		if (tmp[i] != NULL) {
			unlink(tmp[i]);
			free(tmp[i]);
		}
	}
	free(tmp);
	free(body_ids);
	free(installed);
	return ret;
}

static int sq_message_flags_txn(struct sq_ctx *c, int64_t mailbox_id,
				const uint32_t *uids, size_t count,
				enum store_flag_op op, uint32_t flags,
				const struct store_keywords *keywords,
				struct u32vec *changed,
				struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox mb;
	if (sq_mailbox_selectable(sq, mailbox_id, &mb, err) < 0)
		return -1;
	struct store_keywords req = { 0 }, known = { 0 };
	struct store_keywords gained = { 0 }, lost = { 0 };
	struct u32vec set_uids = { 0 }, clear_uids = { 0 };
	uint32_t gained_flags = 0, lost_flags = 0;
	uint64_t modseq = mb.highestmodseq + 1;
	struct strbuf buf = STRBUF_INIT;
	int ret = 0;
	store_keywords_copy(&req, keywords);
	if (op != STORE_FLAGS_REMOVE && req.count > 0) {
		ret = sq_keywords_load(sq, mailbox_id, &known, err);
		if (ret == 0)
			ret = sq_keywords_record(sq, mailbox_id, &known, &req,
						 err);
	}
	for (size_t i = 0; i < count && ret == 0; i++) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_GET, err);
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[i]);
		int r = sq_row(sq, st, "reading a message", err);
		if (r <= 0) {
			ret = r;
			continue; /* gone: skipped */
		}
		uint32_t old_flags = (uint32_t)sqlite3_column_int64(st, 1) &
				     STORE_FLAG_ALL;
		struct store_keywords old_kw = { 0 }, new_kw = { 0 };
		const char *stored = (const char *)sqlite3_column_text(st, 2);
		struct store_error ignored;
		/* stored lists are valid; a damaged one counts as empty */
		if (store_keywords_parse(&old_kw, stored, &ignored) < 0)
			store_keywords_free(&old_kw);
		sqlite3_reset(st);

		uint32_t new_flags;
		switch (op) {
		case STORE_FLAGS_ADD:
			new_flags = old_flags | flags;
			store_keywords_copy(&new_kw, &old_kw);
			store_keywords_copy(&new_kw, &req);
			break;
		case STORE_FLAGS_REMOVE:
			new_flags = old_flags & ~flags;
			store_keywords_copy(&new_kw, &old_kw);
			for (size_t k = 0; k < req.count; k++)
				store_keywords_remove(&new_kw, req.names[k]);
			break;
		default:
			new_flags = flags;
			store_keywords_copy(&new_kw, &req);
			break;
		}
		bool set = (new_flags & ~old_flags) != 0;
		bool clear = (old_flags & ~new_flags) != 0;
		for (size_t k = 0; k < new_kw.count; k++) {
			if (store_keywords_find(&old_kw, new_kw.names[k]) < 0) {
				set = true;
				store_keywords_add(&gained, new_kw.names[k]);
			}
		}
		for (size_t k = 0; k < old_kw.count; k++) {
			if (store_keywords_find(&new_kw, old_kw.names[k]) < 0) {
				clear = true;
				store_keywords_add(&lost, old_kw.names[k]);
			}
		}
		if (new_kw.count > STORE_KEYWORDS_PER_MESSAGE_MAX) {
			store_error_set(err, STORE_ERR_LIMIT,
					"Too many keywords");
			ret = -1;
		}
		if (ret == 0 && (set || clear)) {
			gained_flags |= new_flags & ~old_flags;
			lost_flags |= old_flags & ~new_flags;
			strbuf_reset(&buf);
			store_keywords_format(&new_kw, &buf);
			st = sq_stmt(sq, SQ_MESSAGE_SET_FLAGS, err);
			if (st == NULL) {
				ret = -1;
			} else {
				sqlite3_bind_int64(st, 1, mailbox_id);
				sqlite3_bind_int64(st, 2, uids[i]);
				sqlite3_bind_int64(st, 3, new_flags);
				sqlite3_bind_text(st, 4, strbuf_str(&buf), -1,
						  SQLITE_STATIC);
				sqlite3_bind_int64(st, 5, (int64_t)modseq);
				ret = sq_run(sq, st, "changing flags", err);
			}
			u32vec_push(changed, uids[i]);
			if (set)
				u32vec_push(&set_uids, uids[i]);
			if (clear)
				u32vec_push(&clear_uids, uids[i]);
		}
		store_keywords_free(&old_kw);
		store_keywords_free(&new_kw);
	}
	struct store_mailbox after;
	if (ret == 0 && changed->n > 0) {
		ret = sq_mailbox_set_modseq(sq, mailbox_id, modseq, err);
		if (ret == 0 && sq_mailbox_by_id(sq, mailbox_id, &after,
						 err) <= 0)
			ret = -1;
	}
	/* One FlagsSet for what was added and one FlagsClear for what was
	 * removed.  Each holds for every UID it lists: those messages now
	 * all have (or all lack) every flag named. */
	if (ret == 0 && set_uids.n > 0) {
		struct sq_message_event me = {
			.type = EVENT_FLAGS_SET, .mb = &after,
			.uids = set_uids.v, .count = set_uids.n,
			.modseq = modseq, .message_size = -1,
			.with_flags = true, .flags = gained_flags,
			.keywords = &gained,
		};
		ret = sq_event_messages(c, &me, err);
	}
	if (ret == 0 && clear_uids.n > 0) {
		struct sq_message_event me = {
			.type = EVENT_FLAGS_CLEAR, .mb = &after,
			.uids = clear_uids.v, .count = clear_uids.n,
			.modseq = modseq, .message_size = -1,
			.with_flags = true, .flags = lost_flags,
			.keywords = &lost,
		};
		ret = sq_event_messages(c, &me, err);
	}
	strbuf_free(&buf);
	free(set_uids.v);
	free(clear_uids.v);
	store_keywords_free(&req);
	store_keywords_free(&known);
	store_keywords_free(&gained);
	store_keywords_free(&lost);
	return ret;
}

static int sq_message_flags(struct store *store,
			    const struct store_actor *actor,
			    int64_t mailbox_id, const uint32_t *uids,
			    size_t count, enum store_flag_op op,
			    uint32_t flags,
			    const struct store_keywords *keywords,
			    uint32_t **changed_r, size_t *changed_count_r,
			    struct store_error *err)
{
	struct sq_ctx c;
	struct u32vec changed = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_message_flags_txn(&c, mailbox_id, uids, count, op, flags,
				       keywords, &changed, err);
	ret = sq_end(c.sq, ret, err);
	if (ret == 0 && changed_r != NULL) {
		*changed_r = changed.v;
		changed.v = NULL;
	}
	if (ret == 0 && changed_count_r != NULL)
		*changed_count_r = changed.n;
	free(changed.v);
	return ret;
}

/* RFC 7162 §3.1.3: the modseq test and the change in one write
 * transaction, so no other writer can slip in between. */
static int sq_message_flags_unchanged(struct store *store,
				      const struct store_actor *actor,
				      int64_t mailbox_id,
				      const uint32_t *uids, size_t count,
				      enum store_flag_op op, uint32_t flags,
				      const struct store_keywords *keywords,
				      uint64_t unchangedsince,
				      uint32_t **changed_r,
				      size_t *changed_count_r,
				      uint32_t **modified_r,
				      size_t *modified_count_r,
				      struct store_error *err)
{
	struct sq_ctx c;
	struct u32vec changed = { 0 }, keep = { 0 }, modified = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0; i++) {
		sqlite3_stmt *st = sq_stmt(c.sq, SQ_MESSAGE_GET, err);
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_int64(st, 2, uids[i]);
		int r = sq_row(c.sq, st, "reading a message", err);
		if (r < 0) {
			ret = -1;
			break;
		}
		if (r == 0)
			continue; /* gone: skipped */
		uint64_t modseq = (uint64_t)sqlite3_column_int64(st, 3);
		sqlite3_reset(st);
		if (modseq > unchangedsince)
			u32vec_push(&modified, uids[i]);
		else
			u32vec_push(&keep, uids[i]);
	}
	if (ret == 0 && keep.n > 0)
		ret = sq_message_flags_txn(&c, mailbox_id, keep.v, keep.n, op,
					   flags, keywords, &changed, err);
	ret = sq_end(c.sq, ret, err);
	if (ret == 0 && changed_r != NULL) {
		*changed_r = changed.v;
		changed.v = NULL;
	}
	if (ret == 0 && changed_count_r != NULL)
		*changed_count_r = changed.n;
	if (ret == 0 && modified_r != NULL) {
		*modified_r = modified.v;
		modified.v = NULL;
	}
	if (ret == 0 && modified_count_r != NULL)
		*modified_count_r = modified.n;
	free(changed.v);
	free(keep.v);
	free(modified.v);
	return ret;
}

static int sq_message_expunged_since(struct store *store, int64_t mailbox_id,
				     uint64_t modseq, uint32_t **uids_r,
				     size_t *count_r, struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(sq->db, "SELECT uid FROM expunged "
				    "WHERE mailbox_id = ?1 AND modseq > ?2 "
				    "ORDER BY uid", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(sq, rc, "preparing a statement", err);
		return -1;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, (int64_t)modseq);
	struct u32vec uids = { 0 };
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		u32vec_push(&uids, (uint32_t)sqlite3_column_int64(st, 0));
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "reading expunged UIDs", err);
		sqlite3_finalize(st);
		free(uids.v);
		return -1;
	}
	sqlite3_finalize(st);
	*uids_r = uids.v;
	*count_r = uids.n;
	return 0;
}

/* The one way messages leave a mailbox one by one (expunge, expiry):
 * removes the UIDs in gone (which exist in mb), writes the event (type:
 * MessageExpunge or MessageExpire, RFC 5423 §4.1, same parameters), sends
 * QuotaWithin when the usage (kept by triggers on messages) came back
 * under the limits, and collects bodies no longer used into dead. */
static int sq_messages_remove_txn(struct sq_ctx *c,
				  const struct store_mailbox *mb,
				  const struct u32vec *gone,
				  enum event_type type, struct i64vec *dead,
				  struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox after;
	if (gone->n == 0)
		return 0;
	uint64_t modseq = mb->highestmodseq + 1;
	if (sq_msg_remove(sq, mb->id, gone->v, gone->n, modseq, err) < 0 ||
	    sq_mailbox_by_id(sq, mb->id, &after, err) <= 0)
		return -1;
	struct sq_message_event me = {
		.type = type, .mb = &after,
		.uids = gone->v, .count = gone->n, .modseq = modseq,
		.message_size = -1,
	};
	if (sq_event_messages(c, &me, err) < 0 ||
	    sq_quota_within(c, after.user_id, &after, err) < 0)
		return -1;
	return sq_bodies_dead(sq, dead, err);
}

static int sq_message_expunge_txn(struct sq_ctx *c, int64_t mailbox_id,
				  const uint32_t *uids, size_t count,
				  struct u32vec *gone, struct i64vec *dead,
				  struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox mb;
	if (sq_mailbox_selectable(sq, mailbox_id, &mb, err) < 0)
		return -1;
	if (uids == NULL) {
		sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_DELETED, err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			u32vec_push(gone,
				    (uint32_t)sqlite3_column_int64(st, 0));
		if (rc != SQLITE_DONE) {
			sq_fail(sq, rc, "finding \\Deleted messages", err);
			sqlite3_reset(st);
			return -1;
		}
		sqlite3_reset(st);
	} else {
		struct sq_msg_row *rows = NULL;
		size_t n = 0;
		if (sq_msg_rows_fetch(sq, mailbox_id, uids, count, &rows, &n,
				      err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			u32vec_push(gone, rows[i].uid);
		sq_msg_rows_free(rows, n);
	}
	return sq_messages_remove_txn(c, &mb, gone, EVENT_MESSAGE_EXPUNGE,
				      dead, err);
}

static int sq_message_expunge(struct store *store,
			      const struct store_actor *actor,
			      int64_t mailbox_id, const uint32_t *uids,
			      size_t count, uint32_t **expunged_r,
			      size_t *expunged_count_r,
			      struct store_error *err)
{
	struct sq_ctx c;
	struct u32vec gone = { 0 };
	struct i64vec dead = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_message_expunge_txn(&c, mailbox_id, uids, count, &gone,
					 &dead, err);
	ret = sq_end(c.sq, ret, err);
	if (ret == 0) {
		sq_bodies_reap(store, &dead);
		if (expunged_r != NULL) {
			*expunged_r = gone.v;
			gone.v = NULL;
		}
		if (expunged_count_r != NULL)
			*expunged_count_r = gone.n;
	}
	free(gone.v);
	free(dead.v);
	return ret;
}

/* Expiry: the messages of mailbox_id with INTERNALDATE before
 * older_than (at most STORE_EXPIRE_BATCH_MAX, lowest UIDs first) leave
 * through the expunge path, with MessageExpire as the event. */
static int sq_message_expire_txn(struct sq_ctx *c, int64_t mailbox_id,
				 int64_t older_than, struct u32vec *gone,
				 struct i64vec *dead, struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox mb;
	if (sq_mailbox_selectable(sq, mailbox_id, &mb, err) < 0)
		return -1;
	sqlite3_stmt *st = sq_stmt(sq, SQ_MESSAGE_EXPIRED, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_int64(st, 2, older_than);
	sqlite3_bind_int64(st, 3, STORE_EXPIRE_BATCH_MAX);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		u32vec_push(gone, (uint32_t)sqlite3_column_int64(st, 0));
	if (rc != SQLITE_DONE) {
		sq_fail(sq, rc, "finding expired messages", err);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return sq_messages_remove_txn(c, &mb, gone, EVENT_MESSAGE_EXPIRE,
				      dead, err);
}

static int sq_message_expire(struct store *store,
			     const struct store_actor *actor,
			     int64_t mailbox_id, int64_t older_than_epoch,
			     uint32_t **uids_r, size_t *count_r,
			     struct store_error *err)
{
	struct sq_ctx c;
	struct u32vec gone = { 0 };
	struct i64vec dead = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_message_expire_txn(&c, mailbox_id, older_than_epoch,
					&gone, &dead, err);
	ret = sq_end(c.sq, ret, err);
	if (ret == 0) {
		sq_bodies_reap(store, &dead);
		if (uids_r != NULL) {
			*uids_r = gone.v;
			gone.v = NULL;
		}
		if (count_r != NULL)
			*count_r = gone.n;
	}
	free(gone.v);
	free(dead.v);
	return ret;
}

struct sq_copy_result {
	uint32_t *src_uids;
	uint32_t *dst_uids;
	size_t count;
	uint32_t dst_uidvalidity;
};

static int sq_message_copy_txn(struct sq_ctx *c, int64_t src_id,
			       const uint32_t *uids, size_t count,
			       int64_t dst_id, bool move,
			       struct sq_copy_result *res,
			       struct store_error *err)
{
	struct sq *sq = c->sq;
	struct store_mailbox src, dst;
	if (sq_mailbox_selectable(sq, src_id, &src, err) < 0 ||
	    sq_mailbox_selectable(sq, dst_id, &dst, err) < 0)
		return -1;
	res->dst_uidvalidity = dst.uidvalidity;
	struct sq_msg_row *rows = NULL;
	size_t n = 0;
	if (count == 0)
		return 0;
	if (sq_msg_rows_fetch(sq, src_id, uids, count, &rows, &n, err) < 0)
		return -1;
	if (n == 0)
		return 0;
	int ret = 0;
	uint64_t max = c->store->max_message_size;
	for (size_t i = 0; i < n && max != 0; i++) {
		if (rows[i].size > max) {
			store_error_set(err, STORE_ERR_TOOBIG,
					"Message is too large");
			ret = -1;
			break;
		}
	}
	res->src_uids = xmalloc(n * sizeof(uint32_t));
	res->dst_uids = xmalloc(n * sizeof(uint32_t));
	res->count = n;
	for (size_t i = 0; i < n; i++)
		res->src_uids[i] = rows[i].uid;
	/* a move within one user's mailboxes changes no usage */
	if (ret == 0 && !(move && src.user_id == dst.user_id)) {
		uint64_t bytes = 0;
		for (size_t i = 0; i < n; i++)
			bytes += rows[i].size;
		ret = sq_quota_check(c, &dst, bytes, n, err);
	}
	uint64_t dst_modseq = dst.highestmodseq + 1;
	/* one new modseq per mailbox per transaction, also when the
	 * source is the target */
	uint64_t src_modseq = src_id == dst_id ? dst_modseq
					       : src.highestmodseq + 1;
	if (ret == 0)
		ret = sq_msg_rows_copy(sq, &dst, rows, n, dst_modseq,
				       res->dst_uids, err);
	/* RFC 5257 §4.6: annotations go with the copies (store-annotate.c),
	 * before a move's sources (and their annotations) are removed */
	if (ret == 0)
		ret = store_annotate_copy(c->store, c->actor, src_id,
					  res->src_uids, dst_id,
					  res->dst_uids, n, err);
	if (ret == 0 && move)
		ret = sq_msg_remove(sq, src_id, res->src_uids, n, src_modseq,
				    err);
	struct store_mailbox src_after, dst_after;
	if (ret == 0 && (sq_mailbox_by_id(sq, dst_id, &dst_after, err) <= 0 ||
			 sq_mailbox_by_id(sq, src_id, &src_after, err) <= 0))
		ret = -1;
	struct store_keywords kw = { 0 };
	struct store_error ignored;
	if (ret == 0 && n == 1 &&
	    store_keywords_parse(&kw, rows[0].keywords, &ignored) < 0)
		store_keywords_free(&kw);
	if (ret == 0) {
		/* a single message's size and flags are known; for several
		 * they differ, and the uidset says which to fetch */
		struct sq_message_event me = {
			.type = EVENT_MESSAGE_APPEND, .mb = &dst_after,
			.uids = res->dst_uids, .count = n,
			.modseq = dst_modseq,
			.message_size = n == 1 ? (int64_t)rows[0].size : -1,
			.with_flags = n == 1 && (rows[0].flags != 0 ||
						 kw.count > 0),
			.flags = n == 1 ? rows[0].flags : 0, .keywords = &kw,
		};
		ret = sq_event_messages(c, &me, err);
	}
	if (ret == 0 && move) {
		struct sq_message_event me = {
			.type = EVENT_MESSAGE_EXPUNGE, .mb = &src_after,
			.uids = res->src_uids, .count = n,
			.modseq = src_modseq, .message_size = -1,
		};
		ret = sq_event_messages(c, &me, err);
	}
	if (ret == 0 && move && src.user_id != dst.user_id)
		ret = sq_quota_within(c, src.user_id, &src_after, err);
	store_keywords_free(&kw);
	sq_msg_rows_free(rows, n);
	return ret;
}

static int sq_message_copy(struct store *store, const struct store_actor *actor,
			   int64_t src_mailbox_id, const uint32_t *uids,
			   size_t count, int64_t dst_mailbox_id, bool move,
			   uint32_t **src_uids_r, uint32_t **dst_uids_r,
			   size_t *copied_r, uint32_t *dst_uidvalidity_r,
			   struct store_error *err)
{
	struct sq_ctx c;
	struct sq_copy_result res = { 0 };
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_message_copy_txn(&c, src_mailbox_id, uids, count,
				      dst_mailbox_id, move, &res, err);
	ret = sq_end_quota(c.sq, ret, err);
	if (ret == 0) {
		if (src_uids_r != NULL) {
			*src_uids_r = res.src_uids;
			res.src_uids = NULL;
		}
		if (dst_uids_r != NULL) {
			*dst_uids_r = res.dst_uids;
			res.dst_uids = NULL;
		}
		if (copied_r != NULL)
			*copied_r = res.count;
		if (dst_uidvalidity_r != NULL)
			*dst_uidvalidity_r = res.dst_uidvalidity;
	}
	free(res.src_uids);
	free(res.dst_uids);
	return ret;
}

/* ---- access events ---- */

static int sq_event_access_txn(struct sq_ctx *c, enum event_type type,
			       struct store_error *err)
{
	const struct store_actor *actor = c->actor;
	int64_t user_id = 0;
	if (actor != NULL && actor->user != NULL) {
		struct store_user user;
		int r = sq_user_by_name(c->sq, actor->user, &user, err);
		if (r < 0)
			return -1;
		if (r == 1)
			user_id = user.id;
	}
	struct event_builder *eb = store_event_new(type, c->timestamp);
	struct strbuf url = STRBUF_INIT;
	/* RFC 5423 §5 "uri": included with all notifications; here the
	 * server the user logged in to */
	store_url_server(&url, c->store, actor != NULL ? actor->user : NULL);
	event_builder_set_str(eb, EVENT_PARAM_URI, url.s);
	strbuf_free(&url);
	/* RFC 5423 §6: what a Login/Logout carries beyond §5 goes in
	 * vendor parameters */
	if (actor != NULL && actor->mechanism != NULL) {
		event_builder_set_vendor_str(eb, "mechanism", actor->mechanism);
		event_builder_set_vendor_bool(eb, "tls", actor->tls);
	}
	if (type == EVENT_LOGOUT && actor != NULL &&
	    actor->logout_reason != NULL) {
		event_builder_set_vendor_str(eb, "reason",
					     actor->logout_reason);
		if (actor->session_seconds >= 0)
			event_builder_set_vendor_int(eb, "duration",
						     actor->session_seconds);
	}
	return sq_event_write(c, &eb, user_id, 0, err);
}

static int sq_event_access(struct store *store,
			   const struct store_actor *actor,
			   enum event_type type, struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_event_access_txn(&c, type, err);
	return sq_end(c.sq, ret, err);
}

/* ---- the outbox ---- */

static int sq_outbox_last_seq(struct store *store, int64_t *seq_r,
			      struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st = sq_stmt(sq, SQ_OUTBOX_LAST_SEQ, err);
	if (st == NULL)
		return -1;
	int r = sq_row(sq, st, "reading the outbox", err);
	if (r < 0)
		return -1;
	*seq_r = 0;
	if (r == 1) {
		*seq_r = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return 0;
}

struct sq_outbox_row {
	struct store_outbox_event ev;
	char *type;
	char *json;
};

static int sq_outbox_read(struct store *store, int64_t after_seq,
			  size_t limit,
			  void (*cb)(const struct store_outbox_event *ev,
				     void *ctx),
			  void *ctx, struct store_error *err)
{
	struct sq *sq = sq_of(store);
	struct sq_outbox_row *rows = xcalloc(SQ_BATCH, sizeof(*rows));
	int ret = 0;
	/* Rows are copied out in batches and the callbacks run with no
	 * statement in progress: a consumer may call the store (and commit)
	 * from its callback. */
	while (limit > 0) {
		size_t want = limit < SQ_BATCH ? limit : SQ_BATCH;
		sqlite3_stmt *st = sq_stmt(sq, SQ_OUTBOX_READ, err);
		if (st == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(st, 1, after_seq);
		sqlite3_bind_int64(st, 2, (int64_t)want);
		size_t n = 0;
		int rc = SQLITE_DONE;
		while (n < want && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct sq_outbox_row *row = &rows[n++];
			const char *type =
				(const char *)sqlite3_column_text(st, 1);
			const char *json =
				(const char *)sqlite3_column_text(st, 6);
			row->type = xstrdup(type != NULL ? type : "");
			row->json = xstrdup(json != NULL ? json : "{}");
			row->ev.seq = sqlite3_column_int64(st, 0);
			row->ev.type = row->type;
			row->ev.user_id = sqlite3_column_int64(st, 2);
			row->ev.mailbox_id = sqlite3_column_int64(st, 3);
			row->ev.origin = (uint64_t)sqlite3_column_int64(st, 4);
			row->ev.origin_pid = sqlite3_column_int(st, 5);
			row->ev.json = row->json;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			sq_fail(sq, rc, "reading the outbox", err);
			ret = -1;
		}
		sqlite3_reset(st);
		for (size_t i = 0; i < n; i++) {
			if (ret == 0)
				cb(&rows[i].ev, ctx);
			free(rows[i].type);
			free(rows[i].json);
		}
		if (ret < 0 || n < want)
			break;
		after_seq = rows[n - 1].ev.seq;
		limit -= n;
	}
	free(rows);
	return ret;
}

static int sq_data_version(struct store *store, int64_t *version_r)
{
	struct sq *sq = sq_of(store);
	struct store_error err;
	sqlite3_stmt *st = sq_stmt(sq, SQ_DATA_VERSION, &err);
	if (st == NULL)
		return -1;
	int r = sq_row(sq, st, "reading data_version", &err);
	if (r <= 0)
		return -1;
	*version_r = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* ---- sink cursors ---- */

/* Prepared per call rather than kept in sq->stmts: a sink touches these
 * once per delivered batch, and the CLI once per run. */
static int sq_sink_prepare(struct sq *sq, const char *sql,
			   sqlite3_stmt **st_r, struct store_error *err)
{
	int rc = sqlite3_prepare_v2(sq->db, sql, -1, st_r, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*st_r);
		*st_r = NULL;
		return sq_fail(sq, rc, "preparing a sink statement", err);
	}
	return 0;
}

static int sq_sink_cursor_get(struct store *store, const char *name,
			      int64_t *seq_r, struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st;
	if (sq_sink_prepare(sq, "SELECT seq FROM sink_cursors WHERE name = ?1",
			    &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	int ret = 0;
	*seq_r = 0;
	if (rc == SQLITE_ROW)
		*seq_r = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		ret = sq_fail(sq, rc, "reading a sink cursor", err);
	sqlite3_finalize(st);
	return ret;
}

static int sq_sink_cursor_set(struct store *store, const char *name,
			      int64_t seq, struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st;
	/* One statement is its own transaction: durable when it returns
	 * (synchronous=FULL). */
	if (sq_sink_prepare(sq, "INSERT INTO sink_cursors(name, seq, updated) "
			    "VALUES (?1, ?2, ?3) ON CONFLICT(name) DO UPDATE "
			    "SET seq = excluded.seq, updated = excluded.updated",
			    &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc != SQLITE_DONE)
		ret = sq_fail(sq, rc, "writing a sink cursor", err);
	sqlite3_finalize(st);
	return ret;
}

static int sq_outbox_stats(struct store *store, int64_t *count_r,
			   int64_t *min_seq_r, int64_t *max_seq_r,
			   struct store_error *err)
{
	struct sq *sq = sq_of(store);
	sqlite3_stmt *st;
	if (sq_sink_prepare(sq, "SELECT count(*), coalesce(min(seq), 0), "
			    "coalesce(max(seq), 0) FROM outbox", &st, err) < 0)
		return -1;
	int rc = sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		*count_r = sqlite3_column_int64(st, 0);
		*min_seq_r = sqlite3_column_int64(st, 1);
		*max_seq_r = sqlite3_column_int64(st, 2);
	} else {
		ret = sq_fail(sq, rc, "reading the outbox", err);
	}
	sqlite3_finalize(st);
	return ret;
}

/* ---- quota API ---- */

static void sq_quota_export(const struct sq_quota *q, struct store_quota *out)
{
	memset(out, 0, sizeof(*out));
	out->storage_limit = q->storage_limit;
	out->message_limit = q->message_limit;
	out->storage_is_default = q->own_storage < 0;
	out->message_is_default = q->own_messages < 0;
	out->storage_used = q->storage_used;
	out->messages_used = q->messages_used;
	out->mailbox_limit = q->mailbox_limit;
	out->mailbox_is_default = q->own_mailboxes < 0;
	out->mailboxes_used = q->mailboxes_used;
}

static int sq_quota_get(struct store *store, int64_t user_id,
			struct store_quota *quota_r, struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, NULL);
	if (sq_begin(c.sq, false, err) < 0)
		return -1;
	struct store_user user;
	struct sq_quota q;
	int ret = 0;
	int r = sq_user_by_id(c.sq, user_id, &user, err);
	if (r < 0) {
		ret = -1;
	} else if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		ret = -1;
	}
	if (ret == 0)
		ret = sq_quota_load(&c, user_id, &q, err);
	/* shown also when unlimited (GETQUOTA leaves it out, the CLI not) */
	if (ret == 0 && q.mailbox_limit == 0)
		ret = sq_quota_count_mailboxes(&c, &q, err);
	if (ret == 0)
		sq_quota_export(&q, quota_r);
	return sq_end(c.sq, ret, err);
}

/* own: the stored limit (-1 = NULL); request: a value, KEEP or DEFAULT */
static int64_t sq_quota_own_next(int64_t own, int64_t request)
{
	if (request == STORE_QUOTA_KEEP)
		return own;
	if (request == STORE_QUOTA_DEFAULT)
		return -1;
	return request;
}

static int sq_quota_set_txn(struct sq_ctx *c, const char *user_name,
			    int64_t storage_limit, int64_t message_limit,
			    int64_t mailbox_limit, struct store_error *err)
{
	struct store_user user;
	int r = sq_user_by_name(c->sq, user_name, &user, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	struct sq_quota before, after;
	if (sq_quota_load(c, user.id, &before, err) < 0)
		return -1;
	int64_t own_storage = sq_quota_own_next(before.own_storage,
						storage_limit);
	int64_t own_messages = sq_quota_own_next(before.own_messages,
						 message_limit);
	int64_t own_mailboxes = sq_quota_own_next(before.own_mailboxes,
						  mailbox_limit);
	if (own_storage == before.own_storage &&
	    own_messages == before.own_messages &&
	    own_mailboxes == before.own_mailboxes)
		return 0;
	sqlite3_stmt *st = sq_stmt(c->sq, SQ_QUOTA_SET_LIMITS, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, user.id);
	if (own_storage >= 0)
		sqlite3_bind_int64(st, 2, own_storage);
	else
		sqlite3_bind_null(st, 2);
	if (own_messages >= 0)
		sqlite3_bind_int64(st, 3, own_messages);
	else
		sqlite3_bind_null(st, 3);
	if (own_mailboxes >= 0)
		sqlite3_bind_int64(st, 4, own_mailboxes);
	else
		sqlite3_bind_null(st, 4);
	if (sq_run(c->sq, st, "setting a quota", err) < 0 ||
	    sq_quota_load(c, user.id, &after, err) < 0)
		return -1;
	/* RFC 5423 §4.1 QuotaChange: "The user's quota was changed" */
	if (sq_event_quota(c, EVENT_QUOTA_CHANGE, &after, NULL, err) < 0)
		return -1;
	bool fits = sq_quota_within_all(&after);
	if (after.exceeded && fits) {
		/* a raised limit brings the usage back under it */
		if (sq_event_quota(c, EVENT_QUOTA_WITHIN, &after, NULL,
				   err) < 0)
			return -1;
		return sq_quota_set_exceeded(c, user.id, false, err);
	}
	/* a limit lowered under the usage: no operation failed, so no
	 * QuotaExceed, but the expunge that cures it sends QuotaWithin */
	if (!after.exceeded && !fits)
		return sq_quota_set_exceeded(c, user.id, true, err);
	return 0;
}

static int sq_quota_set(struct store *store, const struct store_actor *actor,
			const char *user_name, int64_t storage_limit,
			int64_t message_limit, int64_t mailbox_limit,
			struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	if (sq_begin(c.sq, true, err) < 0)
		return -1;
	int ret = sq_quota_set_txn(&c, user_name, storage_limit,
				   message_limit, mailbox_limit, err);
	return sq_end(c.sq, ret, err);
}

struct sqlite3 *store_sqlite_db(struct store *store)
{
	if (store->ops != &store_sqlite_ops || store->backend == NULL)
		return NULL;
	return ((struct sq *)store->backend)->db;
}

/* ---- for the store's feature modules (store-acl.c) ---- */

int store_sqlite_begin(struct store *store, bool write,
		       struct store_error *err)
{
	return sq_begin(sq_of(store), write, err);
}

int store_sqlite_end(struct store *store, int ret, struct store_error *err)
{
	return sq_end(sq_of(store), ret, err);
}

int store_sqlite_fail(struct store *store, int rc, const char *what,
		      struct store_error *err)
{
	return sq_fail(sq_of(store), rc, what, err);
}

int store_sqlite_event_write(struct store *store,
			     const struct store_actor *actor,
			     struct event_builder **ebp, int64_t user_id,
			     int64_t mailbox_id, struct store_error *err)
{
	struct sq_ctx c;
	sq_ctx_init(&c, store, actor);
	return sq_event_write(&c, ebp, user_id, mailbox_id, err);
}

const struct store_backend_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.user_create = sq_user_create,
	.user_set_password = sq_user_set_password,
	.user_delete = sq_user_delete,
	.user_lookup = sq_user_lookup,
	.user_foreach = sq_user_foreach,
	.mailbox_list = sq_mailbox_list,
	.mailbox_get = sq_mailbox_get,
	.mailbox_get_by_id = sq_mailbox_get_by_id,
	.mailbox_create = sq_mailbox_create,
	.mailbox_delete = sq_mailbox_delete,
	.mailbox_rename = sq_mailbox_rename,
	.subscription_set = sq_subscription_set,
	.subscription_list = sq_subscription_list,
	.mailbox_keywords = sq_mailbox_keywords,
	.mailbox_claim_recent = sq_mailbox_claim_recent,
	.message_range = sq_message_range,
	.body_open = sq_body_open,
	.message_append = sq_message_append,
	.message_flags = sq_message_flags,
	.message_expunge = sq_message_expunge,
	.message_copy = sq_message_copy,
	.message_deliver_batch = sq_message_deliver_batch,
	.event_access = sq_event_access,
	.outbox_last_seq = sq_outbox_last_seq,
	.outbox_read = sq_outbox_read,
	.data_version = sq_data_version,
	.sink_cursor_get = sq_sink_cursor_get,
	.sink_cursor_set = sq_sink_cursor_set,
	.outbox_stats = sq_outbox_stats,
	.quota_get = sq_quota_get,
	.quota_set = sq_quota_set,
	.message_expire = sq_message_expire,
	.message_flags_unchanged = sq_message_flags_unchanged,
	.message_expunged_since = sq_message_expunged_since,
	.group_enable = sq_group_enable,
	.group_commit = sq_group_commit,
};
