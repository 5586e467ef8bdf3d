/* Access control lists (RFC 4314) in table acl of the SQLite index.
 *
 * The store keeps rights as strings of the standard letters in canonical
 * order ("lrswipkxtean", RFC 5257's "n" last); parsing what a client sends (+/- modifiers, the
 * obsolete "c" and "d") is the front end's business.  An entry's
 * identifier is a user name, "anyone", or either with a leading '-' for
 * negative rights (RFC 4314 §2).  The owner has every right without an
 * entry; entries naming the owner are kept but change nothing.
 *
 * A change writes vnd.tidings.AclChange to the outbox in the same
 * transaction, so every session (and NOTIFY) learns of it. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store-private.h"

static const char acl_letters[] = STORE_ACL_RIGHTS_ALL;

bool store_acl_rights_valid(const char *rights)
{
	if (strlen(rights) > STORE_ACL_RIGHTS_MAX)
		return false;
	for (const char *p = rights; *p != '\0'; p++)
		if (strchr(acl_letters, *p) == NULL)
			return false;
	return true;
}

/* Letters of a set as a bitmask over acl_letters, and back. */
static unsigned int acl_mask(const char *rights)
{
	unsigned int m = 0;
	for (const char *p = rights; *p != '\0'; p++) {
		const char *at = strchr(acl_letters, *p);
		if (at != NULL && *p != '\0')
			m |= 1u << (at - acl_letters);
	}
	return m;
}

static void acl_string(unsigned int mask, char out[STORE_ACL_RIGHTS_MAX + 1])
{
	size_t n = 0;
	for (size_t i = 0; acl_letters[i] != '\0'; i++)
		if (mask & (1u << i))
			out[n++] = acl_letters[i];
	out[n] = '\0';
}

bool store_acl_identifier_valid(const char *identifier)
{
	size_t len = strlen(identifier);
	const char *name = identifier[0] == '-' ? identifier + 1 : identifier;
	return len > 0 && len <= STORE_ACL_IDENTIFIER_MAX && name[0] != '\0' &&
	       store_utf8_is_valid_text(identifier, len);
}

static sqlite3_stmt *acl_prepare(struct store *store, const char *sql,
				 struct store_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(store_sqlite_db(store), sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_fail(store, rc, "preparing an ACL statement", err);
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

static void acl_column(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = t != NULL ? (size_t)sqlite3_column_bytes(st, col) : 0;
	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(buf, t, n);
	buf[n] = '\0';
}

static int acl_get_txn(struct store *store, int64_t mailbox_id,
		       struct store_acl_entry **entries_r, size_t *count_r,
		       struct store_error *err)
{
	sqlite3_stmt *st = acl_prepare(store, "SELECT identifier, rights "
				       "FROM acl WHERE mailbox_id = ?1 "
				       "ORDER BY identifier", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	struct store_acl_entry *v = NULL;
	size_t n = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		acl_column(st, 0, v[n].identifier, sizeof(v[n].identifier));
		acl_column(st, 1, v[n].rights, sizeof(v[n].rights));
		n++;
	}
	if (rc != SQLITE_DONE) {
		store_sqlite_fail(store, rc, "reading an ACL", err);
		sqlite3_finalize(st);
		free(v);
		return -1;
	}
	sqlite3_finalize(st);
	*entries_r = v;
	*count_r = n;
	return 0;
}

int store_acl_get(struct store *store, int64_t mailbox_id,
		  struct store_acl_entry **entries_r, size_t *count_r,
		  struct store_error *err)
{
	*entries_r = NULL;
	*count_r = 0;
	if (store_sqlite_begin(store, false, err) < 0)
		return -1;
	int ret = acl_get_txn(store, mailbox_id, entries_r, count_r, err);
	return store_sqlite_end(store, ret, err);
}

/* RFC 4314 §2 leaves combining to the implementation: the union of what
 * user and "anyone" are granted, less the union of "-user" and
 * "-anyone". */
static void acl_effective(const struct store_acl_entry *e, size_t n,
			  const char *user_name,
			  char rights_r[STORE_ACL_RIGHTS_MAX + 1])
{
	unsigned int grant = 0, deny = 0;
	for (size_t i = 0; i < n; i++) {
		const char *id = e[i].identifier;
		bool negative = id[0] == '-';
		if (negative)
			id++;
		if (strcmp(id, "anyone") != 0 && strcmp(id, user_name) != 0)
			continue;
		if (negative)
			deny |= acl_mask(e[i].rights);
		else
			grant |= acl_mask(e[i].rights);
	}
	acl_string(grant & ~deny, rights_r);
}

int store_acl_lookup(struct store *store, int64_t mailbox_id,
		     const char *user_name,
		     char rights_r[STORE_ACL_RIGHTS_MAX + 1],
		     struct store_error *err)
{
	struct store_acl_entry *e = NULL;
	size_t n = 0;
	rights_r[0] = '\0';
	if (store_acl_get(store, mailbox_id, &e, &n, err) < 0)
		return -1;
	acl_effective(e, n, user_name, rights_r);
	free(e);
	return 0;
}

/* The mailbox and its owner's name, for the event's URL. */
struct acl_mailbox {
	int64_t owner_id;
	char owner[STORE_USER_NAME_MAX + 1];
	char name[STORE_MAILBOX_NAME_MAX + 1];
	uint32_t uidvalidity;
	bool noselect;
};

static int acl_mailbox_load(struct store *store, int64_t mailbox_id,
			    struct acl_mailbox *mb, struct store_error *err)
{
	sqlite3_stmt *st = acl_prepare(store, "SELECT m.user_id, u.name, "
				       "m.name, m.uidvalidity, m.noselect "
				       "FROM mailboxes m JOIN users u ON "
				       "u.id = m.user_id WHERE m.id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		mb->owner_id = sqlite3_column_int64(st, 0);
		acl_column(st, 1, mb->owner, sizeof(mb->owner));
		acl_column(st, 2, mb->name, sizeof(mb->name));
		mb->uidvalidity = (uint32_t)sqlite3_column_int64(st, 3);
		mb->noselect = sqlite3_column_int(st, 4) != 0;
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "reading a mailbox", err);
	store_error_set(err, STORE_ERR_NONEXISTENT, "Mailbox doesn't exist");
	return -1;
}

static int acl_set_txn(struct store *store, const struct store_actor *actor,
		       int64_t mailbox_id, const char *identifier,
		       const char *rights, struct store_error *err)
{
	struct acl_mailbox mb;
	if (acl_mailbox_load(store, mailbox_id, &mb, err) < 0)
		return -1;
	/* A \Noselect name is only a parent; RFC 4314 §4 DELETE drops the
	 * ACL of a mailbox that stays as one, so none can be set on it. */
	if (mb.noselect) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox isn't selectable");
		return -1;
	}
	sqlite3_stmt *st;
	bool remove = rights == NULL || rights[0] == '\0';
	if (!remove) {
		st = acl_prepare(store, "SELECT count(*) FROM acl WHERE "
				 "mailbox_id = ?1 AND identifier != ?2", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, mailbox_id);
		sqlite3_bind_text(st, 2, identifier, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		int64_t others = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			return store_sqlite_fail(store, rc, "counting ACL entries", err);
		if (others >= STORE_ACL_ENTRIES_MAX) {
			store_error_set(err, STORE_ERR_LIMIT,
					"Too many entries in this mailbox's ACL");
			return -1;
		}
		st = acl_prepare(store, "INSERT INTO acl(mailbox_id, identifier, "
				 "rights) VALUES (?1, ?2, ?3) ON CONFLICT"
				 "(mailbox_id, identifier) DO UPDATE SET "
				 "rights = excluded.rights", err);
	} else {
		st = acl_prepare(store, "DELETE FROM acl WHERE mailbox_id = ?1 "
				 "AND identifier = ?2", err);
	}
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, mailbox_id);
	sqlite3_bind_text(st, 2, identifier, -1, SQLITE_STATIC);
	if (!remove)
		sqlite3_bind_text(st, 3, rights, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_sqlite_fail(store, rc, "changing an ACL", err);

	char ts[48];
	event_timestamp_now(ts, sizeof(ts));
	struct event_builder *eb = store_event_new(EVENT_ACL_CHANGE, ts);
	struct strbuf url = STRBUF_INIT;
	store_url_mailbox(&url, store, mb.owner, mb.name, mb.uidvalidity);
	event_builder_set_str(eb, EVENT_PARAM_URI, url.s);
	event_builder_set_str(eb, EVENT_PARAM_MAILBOX_ID, url.s);
	event_builder_set_vendor_str(eb, "identifier", identifier);
	event_builder_set_vendor_str(eb, "rights", remove ? "" : rights);
	strbuf_free(&url);
	return store_sqlite_event_write(store, actor, &eb, mb.owner_id,
					mailbox_id, err);
}

int store_acl_set(struct store *store, const struct store_actor *actor,
		  int64_t mailbox_id, const char *identifier,
		  const char *rights, struct store_error *err)
{
	if (!store_acl_identifier_valid(identifier)) {
		store_error_set(err, STORE_ERR_CANNOT, "Invalid identifier");
		return -1;
	}
	if (rights != NULL && !store_acl_rights_valid(rights)) {
		store_error_set(err, STORE_ERR_CANNOT, "Invalid rights");
		return -1;
	}
	char canonical[STORE_ACL_RIGHTS_MAX + 1] = "";
	if (rights != NULL)
		acl_string(acl_mask(rights), canonical);
	if (store_sqlite_begin(store, true, err) < 0)
		return -1;
	int ret = acl_set_txn(store, actor, mailbox_id, identifier,
			      rights != NULL ? canonical : NULL, err);
	return store_sqlite_end(store, ret, err);
}

static int acl_shared_txn(struct store *store, int64_t user_id,
			  const char *user_name,
			  struct store_acl_share **shares_r, size_t *count_r,
			  struct store_error *err)
{
	/* Every entry that can concern the user, grouped by mailbox. */
	sqlite3_stmt *st = acl_prepare(store,
		"SELECT m.id, m.user_id, u.name, m.name, a.identifier, a.rights "
		"FROM acl a JOIN mailboxes m ON m.id = a.mailbox_id "
		"JOIN users u ON u.id = m.user_id "
		"WHERE a.identifier IN (?1, '-' || ?1, 'anyone', '-anyone') "
		"AND m.user_id != ?2 AND m.noselect = 0 "
		"ORDER BY u.name, m.name, m.id", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, user_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, user_id);
	struct store_acl_share *v = NULL;
	size_t n = 0, cap = 0;
	struct store_acl_entry group[4];
	size_t ng = 0;
	bool open = false;
	int rc;
	for (;;) {
		rc = sqlite3_step(st);
		int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		/* close the previous mailbox's group */
		if (open && (rc != SQLITE_ROW || v[n - 1].mailbox_id != id)) {
			acl_effective(group, ng, user_name, v[n - 1].rights);
			if (strchr(v[n - 1].rights, 'l') == NULL)
				n--;    /* no 'l': it does not exist for them */
			ng = 0;
			open = false;
		}
		if (rc != SQLITE_ROW)
			break;
		if (!open) {
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				v = xrealloc(v, cap * sizeof(*v));
			}
			memset(&v[n], 0, sizeof(v[n]));
			v[n].mailbox_id = id;
			v[n].owner_id = sqlite3_column_int64(st, 1);
			acl_column(st, 2, v[n].owner, sizeof(v[n].owner));
			acl_column(st, 3, v[n].name, sizeof(v[n].name));
			n++;
			open = true;
		}
		/* at most four identifiers can match: user, -user, anyone,
		 * -anyone (the primary key makes each unique) */
		if (ng < 4) {
			acl_column(st, 4, group[ng].identifier,
				   sizeof(group[ng].identifier));
			acl_column(st, 5, group[ng].rights,
				   sizeof(group[ng].rights));
			ng++;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return store_sqlite_fail(store, rc, "listing shared mailboxes", err);
	}
	*shares_r = v;
	*count_r = n;
	return 0;
}

int store_acl_shared_list(struct store *store, int64_t user_id,
			  const char *user_name,
			  struct store_acl_share **shares_r, size_t *count_r,
			  struct store_error *err)
{
	*shares_r = NULL;
	*count_r = 0;
	if (store_sqlite_begin(store, false, err) < 0)
		return -1;
	int ret = acl_shared_txn(store, user_id, user_name, shares_r, count_r,
				 err);
	if (ret < 0) {
		free(*shares_r);
		*shares_r = NULL;
		*count_r = 0;
	}
	return store_sqlite_end(store, ret, err);
}

int store_acl_copy(struct store *store, const struct store_actor *actor,
		   int64_t from_mailbox_id, int64_t to_mailbox_id,
		   struct store_error *err)
{
	struct store_acl_entry *e = NULL;
	size_t n = 0;
	if (store_acl_get(store, from_mailbox_id, &e, &n, err) < 0)
		return -1;
	if (n == 0) {
		free(e);
		return 0;
	}
	if (store_sqlite_begin(store, true, err) < 0) {
		free(e);
		return -1;
	}
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = acl_set_txn(store, actor, to_mailbox_id, e[i].identifier,
				  e[i].rights, err);
	free(e);
	return store_sqlite_end(store, ret, err);
}
