/* Per-user quota in the store: limits, usage, enforcement and the
 * QuotaExceed / QuotaWithin / QuotaChange events (RFC 5423 §4.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

static const struct store_actor imap_actor = {
	.service = "imap",
	.user = "alice",
	.client_ip = "192.0.2.1",
	.client_port = 50123,
	.server_port = 143,
	.origin = 7,
};

static const struct store_actor cli_actor = {
	.service = "cli",
	.admin = "root",
};

struct fx {
	char dir[64];
	struct store *store;
	int64_t cursor;
	int64_t alice;
	int64_t inbox;
	int64_t trash;
	json_t *events;          /* array of the events read last */
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fx_open(struct fx *fx, uint64_t storage, uint64_t messages)
{
	struct store_options opts = {
		.server_fqdn = "mail.example.org",
		.default_storage_limit = storage,
		.default_message_limit = messages,
	};
	struct store_error err;
	if (store_open(fx->dir, &opts, &fx->store, &err) < 0)
		fail_msg("store_open: %s", err.msg);
}

static struct fx *fx_create(uint64_t storage, uint64_t messages)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/tidings-test-quota-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx_open(fx, storage, messages);
	struct store_error err;
	struct store_user user;
	assert_int_equal(store_user_create(fx->store, &cli_actor, "alice",
					   "$argon2id$x", &err), 0);
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err), 0);
	fx->alice = user.id;
	assert_int_equal(store_mailbox_create(fx->store, &cli_actor, fx->alice,
					      "Trash", "\\Trash", &err), 0);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "INBOX", &mb,
					   &err), 0);
	fx->inbox = mb.id;
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "Trash", &mb,
					   &err), 0);
	fx->trash = mb.id;
	assert_int_equal(store_outbox_last_seq(fx->store, &fx->cursor, &err),
			 0);
	return fx;
}

static void fx_destroy(struct fx *fx)
{
	store_close(&fx->store);
	json_decref(fx->events);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
}

static void capture_cb(const struct store_outbox_event *ev, void *ctx)
{
	struct fx *fx = ctx;
	json_error_t jerr;
	json_t *obj = json_loads(ev->json, 0, &jerr);
	assert_non_null(obj);
	json_object_set_new(obj, "_user_id", json_integer(ev->user_id));
	json_array_append_new(fx->events, obj);
	fx->cursor = ev->seq;
}

/* The events written since the last call, as a JSON array. */
static json_t *new_events(struct fx *fx)
{
	struct store_error err;
	json_decref(fx->events);
	fx->events = json_array();
	assert_int_equal(store_outbox_read(fx->store, fx->cursor, 100000,
					   capture_cb, fx, &err), 0);
	return fx->events;
}

static const char *ev_type(json_t *ev)
{
	return json_string_value(json_object_get(ev, "event"));
}

static int64_t ev_int(json_t *ev, const char *key)
{
	json_t *v = json_object_get(ev, key);
	if (v == NULL || !json_is_integer(v))
		fail_msg("no integer %s", key);
	return (int64_t)json_integer_value(v);
}

static bool ev_has(json_t *ev, const char *key)
{
	return json_object_get(ev, key) != NULL;
}

static int append(struct fx *fx, int64_t mailbox_id, size_t len,
		  struct store_error *err)
{
	char *text = malloc(len + 1);
	memset(text, 'x', len);
	if (len >= 4)
		memcpy(text, "S: \n", 4);
	text[len] = '\0';
	uint32_t uid, uidvalidity;
	int ret = store_message_append(fx->store, &imap_actor, mailbox_id,
				       text, len, 0, NULL, 1700000000, 0,
				       &uid, &uidvalidity, err);
	free(text);
	return ret;
}

static struct store_quota quota(struct fx *fx)
{
	struct store_quota q;
	struct store_error err;
	assert_int_equal(store_quota_get(fx->store, fx->alice, &q, &err), 0);
	return q;
}

static uint32_t mailbox_messages(struct fx *fx, int64_t id)
{
	struct store_mailbox mb;
	struct store_error err;
	assert_int_equal(store_mailbox_get_by_id(fx->store, id, &mb, &err), 0);
	return mb.messages;
}

static void test_defaults_and_message_limit(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0, 3);
	struct store_error err;
	struct store_quota q = quota(fx);
	assert_int_equal(q.storage_limit, 0);
	assert_int_equal(q.message_limit, 3);
	assert_true(q.storage_is_default);
	assert_true(q.message_is_default);
	assert_int_equal(q.messages_used, 0);

	for (int i = 0; i < 3; i++)
		assert_int_equal(append(fx, fx->inbox, 100, &err), 0);
	q = quota(fx);
	assert_int_equal(q.messages_used, 3);
	assert_int_equal(q.storage_used, 300);
	new_events(fx);

	/* the fourth is refused; the only change is the QuotaExceed */
	assert_int_equal(append(fx, fx->inbox, 100, &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);
	assert_string_equal(err.msg, "Quota exceeded");
	assert_int_equal(mailbox_messages(fx, fx->inbox), 3);
	json_t *evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	assert_string_equal(ev_type(ev), "QuotaExceed");
	assert_int_equal(ev_int(ev, "maxMessages"), 3);
	assert_int_equal(ev_int(ev, "messages"), 3);
	assert_int_equal(ev_int(ev, "diskUsed"), 1);
	assert_false(ev_has(ev, "diskQuota"));
	assert_string_equal(json_string_value(json_object_get(ev, "user")),
			    "alice");
	assert_non_null(json_object_get(ev, "mailboxID"));
	assert_int_equal(ev_int(ev, "_user_id"), fx->alice);

	/* a copy of one more does not fit either; a move within alice's
	 * mailboxes changes nothing and is allowed */
	uint32_t uids[] = { 1, 2 };
	uint32_t *src = NULL, *dst = NULL;
	size_t copied = 0;
	uint32_t uv;
	assert_int_equal(store_message_copy(fx->store, &imap_actor, fx->inbox,
					    uids, 1, fx->trash, false, &src,
					    &dst, &copied, &uv, &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);
	assert_int_equal(mailbox_messages(fx, fx->trash), 0);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	assert_string_equal(ev_type(json_array_get(evs, 0)), "QuotaExceed");
	assert_int_equal(store_message_copy(fx->store, &imap_actor, fx->inbox,
					    uids, 2, fx->trash, true, &src,
					    &dst, &copied, &uv, &err), 0);
	assert_int_equal(copied, 2);
	free(src);
	free(dst);
	q = quota(fx);
	assert_int_equal(q.messages_used, 3);
	evs = new_events(fx);
	for (size_t i = 0; i < json_array_size(evs); i++)
		assert_string_not_equal(ev_type(json_array_get(evs, i)),
					"QuotaWithin");

	/* an expunge brings usage back under: QuotaWithin, once */
	uint32_t one = 3;
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       fx->inbox, &one, 1, NULL, NULL,
					       &err), 0);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(ev_type(json_array_get(evs, 0)),
			    "MessageExpunge");
	ev = json_array_get(evs, 1);
	assert_string_equal(ev_type(ev), "QuotaWithin");
	assert_int_equal(ev_int(ev, "messages"), 2);
	assert_int_equal(ev_int(ev, "maxMessages"), 3);
	assert_int_equal(ev_int(ev, "diskUsed"), 1);
	uint32_t two = 1;
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       fx->trash, &two, 1, NULL, NULL,
					       &err), 0);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	assert_int_equal(quota(fx).messages_used, 1);
	fx_destroy(fx);
}

static void test_storage_limit_and_change(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0, 0);
	struct store_error err;
	/* unlimited by default */
	assert_int_equal(append(fx, fx->inbox, 5000, &err), 0);
	new_events(fx);

	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice",
					 8192, STORE_QUOTA_KEEP, &err), 0);
	json_t *evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	assert_string_equal(ev_type(ev), "QuotaChange");
	/* RFC 5423 §5: diskQuota and diskUsed in KiB */
	assert_int_equal(ev_int(ev, "diskQuota"), 8);
	assert_int_equal(ev_int(ev, "diskUsed"), 5);
	assert_int_equal(ev_int(ev, "messages"), 1);
	assert_false(ev_has(ev, "maxMessages"));
	assert_string_equal(json_string_value(json_object_get(ev, "user")),
			    "alice");
	assert_string_equal(json_string_value(json_object_get(ev, "admin")),
			    "root");
	struct store_quota q = quota(fx);
	assert_int_equal(q.storage_limit, 8192);
	assert_false(q.storage_is_default);
	assert_true(q.message_is_default);

	/* the same again changes nothing and says nothing */
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice",
					 8192, STORE_QUOTA_KEEP, &err), 0);
	assert_int_equal(json_array_size(new_events(fx)), 0);

	/* alone larger than the limit: the permanent kind */
	assert_int_equal(append(fx, fx->inbox, 9000, &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);
	assert_string_equal(err.msg, STORE_OVERQUOTA_TOO_BIG_MSG);
	/* fits alone, not with what is there */
	assert_int_equal(append(fx, fx->inbox, 4000, &err), -1);
	assert_string_equal(err.msg, "Quota exceeded");
	/* exactly up to the limit is fine */
	assert_int_equal(append(fx, fx->inbox, 8192 - 5000, &err), 0);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 3);
	assert_string_equal(ev_type(json_array_get(evs, 0)), "QuotaExceed");
	assert_string_equal(ev_type(json_array_get(evs, 1)), "QuotaExceed");
	assert_string_equal(ev_type(json_array_get(evs, 2)), "MessageAppend");
	assert_int_equal(quota(fx).storage_used, 8192);

	/* raising the limit: QuotaChange, then QuotaWithin */
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice", 0,
					 STORE_QUOTA_KEEP, &err), 0);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(ev_type(json_array_get(evs, 0)), "QuotaChange");
	assert_false(ev_has(json_array_get(evs, 0), "diskQuota"));
	assert_string_equal(ev_type(json_array_get(evs, 1)), "QuotaWithin");

	/* lowering it under the usage refuses nothing already stored; the
	 * delete of the mailbox that cures it says QuotaWithin */
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice", 4096,
					 STORE_QUOTA_KEEP, &err), 0);
	assert_int_equal(json_array_size(new_events(fx)), 1);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor, fx->alice,
					      "Old", NULL, &err), 0);
	struct store_mailbox old;
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "Old", &old,
					   &err), 0);
	uint32_t uids[] = { 1, 2 };
	assert_int_equal(store_message_copy(fx->store, &imap_actor, fx->inbox,
					    uids, 2, old.id, true, NULL, NULL,
					    NULL, NULL, &err), 0);
	new_events(fx);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "Old", &err), 0);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(ev_type(json_array_get(evs, 0)), "MailboxDelete");
	ev = json_array_get(evs, 1);
	assert_string_equal(ev_type(ev), "QuotaWithin");
	assert_int_equal(ev_int(ev, "diskUsed"), 0);
	assert_int_equal(ev_int(ev, "messages"), 0);
	assert_int_equal(ev_int(ev, "diskQuota"), 4);
	q = quota(fx);
	assert_int_equal(q.storage_used, 0);
	assert_int_equal(q.messages_used, 0);

	/* back to the default */
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice",
					 STORE_QUOTA_DEFAULT, 10, &err), 0);
	q = quota(fx);
	assert_true(q.storage_is_default);
	assert_int_equal(q.storage_limit, 0);
	assert_int_equal(q.message_limit, 10);

	/* errors */
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "nobody", 1,
					 1, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice", -5,
					 1, &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	struct store_quota none;
	assert_int_equal(store_quota_get(fx->store, 999999, &none, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	fx_destroy(fx);
}

static void test_deliver_batch(void **state)
{
	(void)state;
	struct fx *fx = fx_create(700, 0);
	struct store_error err;
	static char small[300], big[2000];
	memset(small, 's', sizeof(small) - 1);
	memset(big, 'b', sizeof(big) - 1);
	struct store_delivery items[3] = {
		{ .mailbox_id = fx->inbox, .header = "Return-Path: <a@b>\r\n",
		  .data = small, .len = strlen(small), .mail_from = "a@b",
		  .rcpt_to = "alice" },
		{ .mailbox_id = fx->inbox, .data = big, .len = strlen(big),
		  .mail_from = "a@b", .rcpt_to = "alice" },
		{ .mailbox_id = fx->inbox, .data = small, .len = strlen(small),
		  .mail_from = "a@b", .rcpt_to = "alice" },
	};
	struct store_delivery_result res[3];
	memset(res, 0, sizeof(res));
	struct store_actor lmtp = { .service = "lmtp" };
	assert_int_equal(store_message_deliver_batch(fx->store, &lmtp, items,
						     3, res, &err), 0);
	assert_int_equal(res[0].status, 0);
	assert_int_equal(res[1].status, -1);
	assert_int_equal(res[1].err.code, STORE_ERR_OVERQUOTA);
	assert_string_equal(res[1].err.msg, STORE_OVERQUOTA_TOO_BIG_MSG);
	assert_int_equal(res[2].status, 0);
	struct store_quota q = quota(fx);
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(q.storage_used, 2 * 299 + strlen("Return-Path: <a@b>\r\n"));

	/* now full: the next one is refused for now (not permanently) */
	res[0].status = 0;
	assert_int_equal(store_message_deliver_batch(fx->store, &lmtp, items,
						     1, res, &err), 0);
	assert_int_equal(res[0].status, -1);
	assert_string_equal(res[0].err.msg, "Quota exceeded");
	json_t *evs = new_events(fx);
	size_t exceed = 0, news = 0;
	for (size_t i = 0; i < json_array_size(evs); i++) {
		json_t *ev = json_array_get(evs, i);
		if (strcmp(ev_type(ev), "QuotaExceed") == 0) {
			exceed++;
			assert_int_equal(ev_int(ev, "diskQuota"), 1);
			assert_string_equal(json_string_value(
				json_object_get(ev, "user")), "alice");
		} else if (strcmp(ev_type(ev), "MessageNew") == 0) {
			news++;
		}
	}
	assert_int_equal(exceed, 2);
	assert_int_equal(news, 2);
	assert_int_equal(mailbox_messages(fx, fx->inbox), 2);
	fx_destroy(fx);
}

/* An index.db of schema version 2 gets its usage counted on open. */
static void test_migration(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0, 0);
	struct store_error err;
	assert_int_equal(append(fx, fx->inbox, 100, &err), 0);
	assert_int_equal(append(fx, fx->trash, 50, &err), 0);
	store_close(&fx->store);

	char path[128];
	snprintf(path, sizeof(path), "%s/index.db", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"DROP TABLE acl; DROP TABLE metadata; DROP TABLE annotations;"
		"DROP TABLE urlauth_keys; DROP TRIGGER users_metadata;"
		"DROP TRIGGER mailboxes_metadata;"
		"DROP TRIGGER IF EXISTS mailboxes_metadata_noselect;"
		"DROP TRIGGER IF EXISTS mailboxes_acl_noselect;"
		"ALTER TABLE mailboxes DROP COLUMN delivered;"
		"DROP TRIGGER users_quota; DROP TRIGGER messages_quota_insert;"
		"DROP TRIGGER messages_quota_delete; DROP TABLE quotas;"
		"UPDATE meta SET value = 2 WHERE key = 'schema_version';"
		"PRAGMA user_version = 2;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	fx_open(fx, 0, 2);
	struct store_quota q = quota(fx);
	assert_int_equal(q.storage_used, 150);
	assert_int_equal(q.messages_used, 2);
	assert_int_equal(q.message_limit, 2);
	assert_int_equal(append(fx, fx->inbox, 10, &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);

	/* deleting the user takes its quota row with it */
	assert_int_equal(store_user_delete(fx->store, &cli_actor, "alice",
					   &err), 0);
	assert_int_equal(store_user_create(fx->store, &cli_actor, "alice",
					   "$argon2id$x", &err), 0);
	struct store_user user;
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err), 0);
	fx->alice = user.id;
	q = quota(fx);
	assert_int_equal(q.storage_used, 0);
	assert_int_equal(q.messages_used, 0);
	fx_destroy(fx);
}

/* An index.db of schema version 3 (quotas without mailbox_limit) keeps
 * its own limits and gains the MAILBOX one (RFC 9208 §5.3) on open; the
 * limit then holds on CREATE, with QuotaExceed and QuotaWithin. */
static void test_migration_v3_mailbox_limit(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0, 0);
	struct store_error err;
	assert_int_equal(store_quota_set(fx->store, &cli_actor, "alice",
					 4096, 7, &err), 0);
	store_close(&fx->store);

	char path[128];
	snprintf(path, sizeof(path), "%s/index.db", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"DROP TABLE acl; DROP TABLE metadata; DROP TABLE annotations;"
		"DROP TABLE urlauth_keys; DROP TRIGGER users_metadata;"
		"DROP TRIGGER mailboxes_metadata;"
		"DROP TRIGGER IF EXISTS mailboxes_metadata_noselect;"
		"DROP TRIGGER IF EXISTS mailboxes_acl_noselect;"
		"ALTER TABLE mailboxes DROP COLUMN delivered;"
		"ALTER TABLE quotas DROP COLUMN mailbox_limit;"
		"UPDATE meta SET value = 3 WHERE key = 'schema_version';"
		"PRAGMA user_version = 3;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct store_options opts = {
		.server_fqdn = "mail.example.org",
		.default_mailbox_limit = 50,
	};
	assert_int_equal(store_open(fx->dir, &opts, &fx->store, &err), 0);
	struct store_quota q = quota(fx);
	assert_int_equal(q.storage_limit, 4096);
	assert_false(q.storage_is_default);
	assert_int_equal(q.message_limit, 7);
	assert_int_equal(q.mailbox_limit, 50);
	assert_true(q.mailbox_is_default);
	assert_int_equal(q.mailboxes_used, 2);          /* INBOX, Trash */

	/* KEEP leaves the others alone; one QuotaChange */
	new_events(fx);
	assert_int_equal(store_quota_set_limits(fx->store, &cli_actor, "alice",
						STORE_QUOTA_KEEP,
						STORE_QUOTA_KEEP, 3, &err), 0);
	q = quota(fx);
	assert_int_equal(q.storage_limit, 4096);
	assert_int_equal(q.mailbox_limit, 3);
	assert_false(q.mailbox_is_default);
	json_t *evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	assert_string_equal(ev_type(ev), "QuotaChange");
	assert_int_equal(ev_int(ev, "vnd.tidings.maxMailboxes"), 3);
	assert_int_equal(ev_int(ev, "vnd.tidings.mailboxes"), 2);

	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "a", "", &err), 0);
	/* b/c needs b too: 2 > 0 free, refused without a trace but the
	 * QuotaExceed */
	new_events(fx);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "b/c", "", &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);
	evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	ev = json_array_get(evs, 0);
	assert_string_equal(ev_type(ev), "QuotaExceed");
	assert_false(ev_has(ev, "mailboxID"));
	assert_int_equal(ev_int(ev, "vnd.tidings.mailboxes"), 3);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "b", &mb,
					   &err), -1);
	/* renaming INBOX makes a mailbox: refused too */
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "INBOX", "old",
					      &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);
	/* a plain rename does not */
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "a", "z", &err), 0);
	new_events(fx);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "z", &err), 0);
	evs = new_events(fx);
	bool within = false;
	for (size_t i = 0; i < json_array_size(evs); i++)
		within |= strcmp(ev_type(json_array_get(evs, i)),
				 "QuotaWithin") == 0;
	assert_true(within);
	assert_int_equal(quota(fx).mailboxes_used, 2);
	/* invalid limits are refused */
	assert_int_equal(store_quota_set_limits(fx->store, &cli_actor, "alice",
						STORE_QUOTA_KEEP,
						STORE_QUOTA_KEEP, -7, &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	fx_destroy(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_message_limit),
		cmocka_unit_test(test_storage_limit_and_change),
		cmocka_unit_test(test_deliver_batch),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_migration_v3_mailbox_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
