/* Message expiry in the store (store_message_expire: the expunge path
 * with one MessageExpire, RFC 5423 §4.1) and the `expire` rules of the
 * configuration (config_parse_expire). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "store/store.h"

static const struct store_actor cli_actor = {
	.service = "cli",
	.admin = "root",
};

static const struct store_actor expiry_actor = {
	.service = "expiry",
};

struct fx {
	char dir[64];
	struct store *store;
	int64_t cursor;
	int64_t alice;
	int64_t inbox;
	int64_t trash;
	json_t *events;
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

static struct fx *fx_create(uint64_t message_limit)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/tidings-test-expire-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	struct store_options opts = {
		.server_fqdn = "mail.example.org",
		.default_message_limit = message_limit,
	};
	struct store_error err;
	if (store_open(fx->dir, &opts, &fx->store, &err) < 0)
		fail_msg("store_open: %s", err.msg);
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
	json_array_append_new(fx->events, obj);
	fx->cursor = ev->seq;
}

static json_t *new_events(struct fx *fx)
{
	struct store_error err;
	json_decref(fx->events);
	fx->events = json_array();
	assert_int_equal(store_outbox_read(fx->store, fx->cursor, 100000,
					   capture_cb, fx, &err), 0);
	return fx->events;
}

static const char *ev_str(json_t *ev, const char *key)
{
	json_t *v = json_object_get(ev, key);
	assert_non_null(v);
	return json_string_value(v);
}

static int64_t ev_int(json_t *ev, const char *key)
{
	json_t *v = json_object_get(ev, key);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static int append(struct fx *fx, int64_t mailbox, int64_t date,
		  struct store_error *err)
{
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	uint32_t uid, uidv;
	return store_message_append(fx->store, &cli_actor, mailbox, msg,
				    sizeof(msg) - 1, 0, NULL, date, 0, &uid,
				    &uidv, err);
}

static void test_expire_old_only(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0);
	struct store_error err;
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(append(fx, fx->trash, 1000, &err), 0);
	assert_int_equal(append(fx, fx->trash, now, &err), 0);
	assert_int_equal(append(fx, fx->trash, 2000, &err), 0);
	assert_int_equal(append(fx, fx->inbox, 1000, &err), 0);
	struct store_mailbox before;
	assert_int_equal(store_mailbox_get_by_id(fx->store, fx->trash, &before,
						 &err), 0);
	new_events(fx);

	uint32_t *uids = NULL;
	size_t count = 0;
	assert_int_equal(store_message_expire(fx->store, &expiry_actor,
					      fx->trash, 5000, &uids, &count,
					      &err), 0);
	assert_int_equal(count, 2);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 3);
	free(uids);

	json_t *evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	assert_string_equal(ev_str(ev, "event"), "MessageExpire");
	assert_string_equal(ev_str(ev, "uidset"), "1,3");
	assert_int_equal(ev_int(ev, "messages"), 1);
	assert_int_equal(ev_int(ev, "uidnext"), 4);
	assert_int_equal(ev_int(ev, "modseq"), (int64_t)before.highestmodseq + 1);
	assert_string_equal(ev_str(ev, "service"), "expiry");
	assert_non_null(strstr(ev_str(ev, "mailboxID"),
			       "/Trash;UIDVALIDITY="));
	assert_string_equal(ev_str(ev, "uri"), ev_str(ev, "mailboxID"));

	/* the mailbox, its modseq and the quota usage as after an expunge */
	struct store_mailbox after;
	assert_int_equal(store_mailbox_get_by_id(fx->store, fx->trash, &after,
						 &err), 0);
	assert_int_equal(after.messages, 1);
	assert_int_equal(after.highestmodseq, before.highestmodseq + 1);
	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, fx->trash, 1,
					     UINT32_MAX, &list, &err), 0);
	assert_int_equal(list.count, 1);
	assert_int_equal(list.msgs[0].uid, 2);
	store_message_list_free(&list);
	struct store_quota q;
	assert_int_equal(store_quota_get(fx->store, fx->alice, &q, &err), 0);
	assert_int_equal(q.messages_used, 2);

	/* nothing left that old: no event */
	count = 99;
	assert_int_equal(store_message_expire(fx->store, &expiry_actor,
					      fx->trash, 5000, NULL, &count,
					      &err), 0);
	assert_int_equal(count, 0);
	assert_int_equal(json_array_size(new_events(fx)), 0);
	/* INBOX was not touched */
	assert_int_equal(store_mailbox_get_by_id(fx->store, fx->inbox, &after,
						 &err), 0);
	assert_int_equal(after.messages, 1);
	fx_destroy(fx);
}

static void test_expire_single_uri(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0);
	struct store_error err;
	assert_int_equal(append(fx, fx->trash, 1000, &err), 0);
	new_events(fx);
	size_t count = 0;
	assert_int_equal(store_message_expire(fx->store, &expiry_actor,
					      fx->trash, 1001, NULL, &count,
					      &err), 0);
	assert_int_equal(count, 1);
	json_t *evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	/* one message: uri names it (as for MessageExpunge) */
	assert_non_null(strstr(ev_str(ev, "uri"), "/;UID=1"));
	assert_string_equal(ev_str(ev, "uidset"), "1");
	assert_int_equal(ev_int(ev, "messages"), 0);
	/* the boundary: INTERNALDATE equal to older_than stays */
	assert_int_equal(append(fx, fx->trash, 1000, &err), 0);
	assert_int_equal(store_message_expire(fx->store, &expiry_actor,
					      fx->trash, 1000, NULL, &count,
					      &err), 0);
	assert_int_equal(count, 0);
	fx_destroy(fx);
}

static void test_expire_quota_within(void **state)
{
	(void)state;
	struct fx *fx = fx_create(2);
	struct store_error err;
	assert_int_equal(append(fx, fx->trash, 1000, &err), 0);
	assert_int_equal(append(fx, fx->trash, 1000, &err), 0);
	assert_int_equal(append(fx, fx->inbox, 1000, &err), -1);
	assert_int_equal(err.code, STORE_ERR_OVERQUOTA);
	new_events(fx);
	size_t count = 0;
	assert_int_equal(store_message_expire(fx->store, &expiry_actor,
					      fx->trash, 1001, NULL, &count,
					      &err), 0);
	assert_int_equal(count, 2);
	json_t *evs = new_events(fx);
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(ev_str(json_array_get(evs, 0), "event"),
			    "MessageExpire");
	assert_string_equal(ev_str(json_array_get(evs, 1), "event"),
			    "QuotaWithin");
	assert_int_equal(ev_int(json_array_get(evs, 1), "messages"), 0);
	assert_int_equal(append(fx, fx->inbox, 1000, &err), 0);
	fx_destroy(fx);
}

static void test_expire_no_mailbox(void **state)
{
	(void)state;
	struct fx *fx = fx_create(0);
	struct store_error err;
	size_t count = 7;
	uint32_t *uids = (uint32_t *)&count;
	assert_int_equal(store_message_expire(fx->store, &expiry_actor, 99999,
					      1000, &uids, &count, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_null(uids);
	assert_int_equal(count, 0);
	fx_destroy(fx);
}

static void test_config_expire(void **state)
{
	(void)state;
	struct config_expire_rule *rules;
	size_t count;
	char err[256];
	assert_int_equal(config_parse_expire("", &rules, &count, err,
					     sizeof(err)), 0);
	assert_int_equal(count, 0);
	assert_null(rules);
	assert_int_equal(config_parse_expire(" \\Trash:30d  Junk:12h "
					     "a:b:90m Archive/Old:365d x:5s",
					     &rules, &count, err,
					     sizeof(err)), 0);
	assert_int_equal(count, 5);
	assert_string_equal(rules[0].target, "\\Trash");
	assert_true(rules[0].special_use);
	assert_int_equal(rules[0].age, 30 * 86400);
	assert_string_equal(rules[1].target, "Junk");
	assert_false(rules[1].special_use);
	assert_int_equal(rules[1].age, 12 * 3600);
	assert_string_equal(rules[2].target, "a:b");
	assert_int_equal(rules[2].age, 90 * 60);
	assert_string_equal(rules[3].target, "Archive/Old");
	assert_int_equal(rules[4].age, 5);
	free(rules);
	static const char *const bad[] = {
		"Trash", "Trash:", ":30d", "Trash:30", "Trash:d", "Trash:0d",
		"Trash:30x", "Trash:-1d", "Trash:1.5d", "\\:30d",
		"Trash:99999999999999999999999d", "Trash:36700d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rules = NULL;
		err[0] = '\0';
		if (config_parse_expire(bad[i], &rules, &count, err,
					sizeof(err)) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		assert_null(rules);
	}
	/* too many rules */
	char many[4096] = "";
	for (int i = 0; i <= CONFIG_MAX_EXPIRE_RULES; i++)
		strcat(many, "x:1d ");
	assert_int_equal(config_parse_expire(many, &rules, &count, err,
					     sizeof(err)), -1);
	/* through the key table, with the default */
	struct config cfg;
	config_init_defaults(&cfg);
	assert_string_equal(cfg.expire, "");
	assert_int_equal(cfg.expire_interval, 3600);
	assert_int_equal(config_set(&cfg, "expire", "\\Junk:7d", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "expire", "\\Junk", err,
				    sizeof(err)), -1);
	assert_int_equal(config_set(&cfg, "expire_interval", "1", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "expire_interval", "0", err,
				    sizeof(err)), -1);
	assert_string_equal(cfg.expire, "\\Junk:7d");
	assert_int_equal(cfg.expire_interval, 1);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expire_old_only),
		cmocka_unit_test(test_expire_single_uri),
		cmocka_unit_test(test_expire_quota_within),
		cmocka_unit_test(test_expire_no_mailbox),
		cmocka_unit_test(test_config_expire),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
