/* The store with its SQLite backend, each test in a fresh data_dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "store/store.h"

static const char *const default_mailboxes[][2] = {
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

static const struct store_options options = {
	.default_mailboxes = default_mailboxes,
	.default_mailbox_count = 5,
	.max_message_size = 1024 * 1024,
	.server_fqdn = "mail.example.org",
};

static const struct store_actor imap_actor = {
	.service = "imap",
	.user = "alice",
	.client_ip = "192.0.2.1",
	.client_port = 50123,
	.server_port = 143,
	.origin = 77,
};

static const struct store_actor cli_actor = {
	.service = "admincli",
};

/* ---- outbox capture ---- */

struct captured {
	json_t *json;
	char type[64];
	int64_t seq;
	int64_t user_id;
	int64_t mailbox_id;
	uint64_t origin;
	int origin_pid;
};

struct capture {
	struct captured *ev;
	size_t n;
};

static void capture_cb(const struct store_outbox_event *ev, void *ctx)
{
	struct capture *cap = ctx;
	cap->ev = realloc(cap->ev, (cap->n + 1) * sizeof(*cap->ev));
	struct captured *c = &cap->ev[cap->n++];
	json_error_t jerr;
	c->json = json_loads(ev->json, 0, &jerr);
	assert_non_null(c->json);
	snprintf(c->type, sizeof(c->type), "%s", ev->type);
	c->seq = ev->seq;
	c->user_id = ev->user_id;
	c->mailbox_id = ev->mailbox_id;
	c->origin = ev->origin;
	c->origin_pid = ev->origin_pid;
}

static void capture_free(struct capture *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		json_decref(cap->ev[i].json);
	free(cap->ev);
	cap->ev = NULL;
	cap->n = 0;
}

/* ---- fixture ---- */

struct fx {
	char dir[64];
	struct store *store;
	int64_t cursor;
	struct capture cap;
	int64_t alice;
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

static void rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/tidings-test-store-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	struct store_error err;
	if (store_open(fx->dir, &options, &fx->store, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	store_close(&fx->store);
	capture_free(&fx->cap);
	rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* Events written since the last call, in fx->cap. */
static struct capture *new_events(struct fx *fx)
{
	struct store_error err;
	capture_free(&fx->cap);
	assert_int_equal(store_outbox_read(fx->store, fx->cursor, 100000,
					   capture_cb, &fx->cap, &err), 0);
	if (fx->cap.n > 0)
		fx->cursor = fx->cap.ev[fx->cap.n - 1].seq;
	return &fx->cap;
}

static const char *jstr(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || !json_is_string(v))
		return NULL;
	return json_string_value(v);
}

static int64_t jint(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	assert_non_null(v);
	assert_true(json_is_integer(v));
	return (int64_t)json_integer_value(v);
}

static bool jhas(json_t *obj, const char *key)
{
	return json_object_get(obj, key) != NULL;
}

/* flagNames joined by spaces */
static void jflags(json_t *obj, char *buf, size_t size)
{
	json_t *arr = json_object_get(obj, "flagNames");
	buf[0] = '\0';
	assert_non_null(arr);
	assert_true(json_is_array(arr));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		if (i > 0)
			strncat(buf, " ", size - strlen(buf) - 1);
		strncat(buf, json_string_value(v), size - strlen(buf) - 1);
	}
}

static void create_alice(struct fx *fx)
{
	struct store_error err;
	struct store_user user;
	assert_int_equal(store_user_create(fx->store, &cli_actor, "alice",
					   "$argon2id$x", &err), 0);
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err), 0);
	fx->alice = user.id;
	new_events(fx);
}

static struct store_mailbox get_mailbox(struct fx *fx, const char *name)
{
	struct store_error err;
	struct store_mailbox mb;
	int ret = store_mailbox_get(fx->store, fx->alice, name, &mb, &err);
	if (ret < 0)
		fail_msg("mailbox %s: %s", name, err.msg);
	return mb;
}

static uint32_t append(struct fx *fx, int64_t mailbox_id, const char *text,
		       uint32_t flags, const char *keywords)
{
	struct store_error err;
	uint32_t uid = 0, uidvalidity = 0;
	int ret = store_message_append(fx->store, &imap_actor, mailbox_id,
				       text, strlen(text), flags, keywords,
				       1700000000, 60, &uid, &uidvalidity,
				       &err);
	if (ret < 0)
		fail_msg("append: %s", err.msg);
	assert_int_not_equal(uid, 0);
	assert_int_not_equal(uidvalidity, 0);
	return uid;
}

static size_t count_files(const char *dir, const char *sub)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char child[1024];
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		struct stat st;
		if (stat(child, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			char subsub[512];
			snprintf(subsub, sizeof(subsub), "%s/%s", sub,
				 de->d_name);
			n += count_files(dir, subsub);
		} else {
			n++;
		}
	}
	closedir(d);
	return n;
}

static bool body_file_exists(struct fx *fx, int64_t body_id)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/mail/%02x/%lld", fx->dir,
		 (unsigned int)(body_id & 0xff), (long long)body_id);
	return access(path, F_OK) == 0;
}

/* ---- tests ---- */

static void test_user_create(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	assert_int_equal(store_user_create(fx->store, &cli_actor, "alice",
					   "$argon2id$hash", &err), 0);
	struct store_user user;
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err), 0);
	assert_string_equal(user.name, "alice");
	assert_string_equal(user.password_hash, "$argon2id$hash");
	fx->alice = user.id;

	struct store_mailbox *list;
	size_t n;
	assert_int_equal(store_mailbox_list(fx->store, user.id, &list, &n,
					    &err), 0);
	assert_int_equal(n, 6);
	static const char *const names[][2] = {
		{ "Archive", "\\Archive" }, { "Drafts", "\\Drafts" },
		{ "INBOX", "" }, { "Junk", "\\Junk" }, { "Sent", "\\Sent" },
		{ "Trash", "\\Trash" },
	};
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(list[i].name, names[i][0]);
		assert_string_equal(list[i].special_use, names[i][1]);
		assert_int_equal(list[i].uidnext, 1);
		assert_int_equal(list[i].highestmodseq, 1);
		assert_int_equal(list[i].messages, 0);
		assert_false(list[i].noselect);
		assert_true(list[i].uidvalidity >= (uint32_t)time(NULL) - 5);
		for (size_t k = 0; k < i; k++)
			assert_int_not_equal(list[i].uidvalidity,
					     list[k].uidvalidity);
	}

	/* one MailboxCreate each, INBOX first, then the defaults in order */
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 6);
	static const char *const order[] = {
		"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive",
	};
	for (size_t i = 0; i < cap->n; i++) {
		struct captured *ev = &cap->ev[i];
		assert_string_equal(ev->type, "MailboxCreate");
		assert_string_equal(jstr(ev->json, "event"), "MailboxCreate");
		assert_int_equal(ev->user_id, user.id);
		assert_int_equal(ev->origin, 0);
		assert_int_equal(ev->origin_pid, getpid());
		struct store_mailbox mb = get_mailbox(fx, order[i]);
		assert_int_equal(ev->mailbox_id, mb.id);
		char url[256];
		snprintf(url, sizeof(url),
			 "imap://alice@mail.example.org/%s;UIDVALIDITY=%u",
			 order[i], mb.uidvalidity);
		assert_string_equal(jstr(ev->json, "uri"), url);
		assert_string_equal(jstr(ev->json, "mailboxID"), url);
		assert_int_equal(jint(ev->json, "uidnext"), 1);
		assert_string_equal(jstr(ev->json, "service"), "admincli");
		assert_string_equal(jstr(ev->json, "serverFQDN"),
				    "mail.example.org");
		assert_string_equal(jstr(ev->json, "process"), "test-store");
		assert_int_equal(jint(ev->json, "pid"), getpid());
		assert_non_null(jstr(ev->json, "timestamp"));
		assert_false(jhas(ev->json, "user"));
		assert_false(jhas(ev->json, "clientIP"));
		assert_false(jhas(ev->json, "seq"));
		if (i > 0)
			assert_string_equal(jstr(ev->json,
						 "vnd.tidings.specialUse"),
					    mb.special_use);
	}
	free(list);
}

static void test_user_misc(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	assert_int_equal(store_user_create(fx->store, &cli_actor, "alice",
					   "x", &err), -1);
	assert_int_equal(err.code, STORE_ERR_ALREADYEXISTS);
	assert_int_equal(new_events(fx)->n, 0);
	assert_int_equal(store_user_create(fx->store, &cli_actor, "", "x",
					   &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_user_create(fx->store, &cli_actor, "a\nb", "x",
					   &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_user_create(fx->store, &cli_actor, "b\xc3",
					   "x", &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);

	struct store_user user;
	assert_int_equal(store_user_lookup(fx->store, "bob", &user, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_user_set_password(fx->store, "bob", "h", &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_user_set_password(fx->store, "alice", "new",
						 &err), 0);
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err), 0);
	assert_string_equal(user.password_hash, "new");
	assert_int_equal(err.code, STORE_OK);
}

struct names {
	char names[400][16];
	size_t n;
	size_t stop_at;
};

static int collect_user(const struct store_user *user, void *ctx)
{
	struct names *names = ctx;
	snprintf(names->names[names->n++], 16, "%.15s", user->name);
	return names->n == names->stop_at;
}

static void test_user_foreach(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	/* more than one batch, created in a different order */
	for (int i = 299; i >= 0; i--) {
		char name[16];
		snprintf(name, sizeof(name), "u%03d", i);
		assert_int_equal(store_user_create(fx->store, &cli_actor, name,
						   "", &err), 0);
	}
	struct names *names = calloc(1, sizeof(*names));
	assert_int_equal(store_user_foreach(fx->store, collect_user, names,
					    &err), 0);
	assert_int_equal(names->n, 300);
	for (size_t i = 0; i < names->n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "u%03zu", i);
		assert_string_equal(names->names[i], name);
	}
	names->n = 0;
	names->stop_at = 3;
	assert_int_equal(store_user_foreach(fx->store, collect_user, names,
					    &err), 0);
	assert_int_equal(names->n, 3);
	free(names);
}

static void test_append_range_body(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	const char *m1 = "Subject: one\r\n\r\nbody one\r\n";
	const char *m2 = "Subject: two\r\n\r\nbody two\r\n";
	assert_int_equal(append(fx, inbox.id, m1, 0, NULL), 1);
	assert_int_equal(append(fx, inbox.id, m2,
				STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
				"$Label1 Work $label1"), 2);
	assert_int_equal(append(fx, inbox.id, "", STORE_FLAG_DRAFT, ""), 3);

	struct store_mailbox mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.uidvalidity, inbox.uidvalidity);
	assert_int_equal(mb.uidnext, 4);
	assert_int_equal(mb.messages, 3);
	assert_int_equal(mb.unseen, 2);
	assert_int_equal(mb.highestmodseq, 4);

	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 1,
					     UINT32_MAX, &list, &err), 0);
	assert_int_equal(list.count, 3);
	assert_int_equal(list.msgs[0].uid, 1);
	assert_int_equal(list.msgs[0].flags, 0);
	assert_string_equal(list.msgs[0].keywords, "");
	assert_int_equal(list.msgs[0].modseq, 2);
	assert_int_equal(list.msgs[0].internaldate, 1700000000);
	assert_int_equal(list.msgs[0].tz_offset, 60);
	assert_int_equal(list.msgs[0].size, strlen(m1));
	assert_int_equal(list.msgs[1].uid, 2);
	assert_int_equal(list.msgs[1].flags,
			 STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(list.msgs[1].keywords, "$Label1 Work");
	assert_int_equal(list.msgs[1].modseq, 3);
	assert_int_equal(list.msgs[2].size, 0);
	assert_int_equal(list.msgs[2].modseq, 4);

	struct store_body body;
	assert_int_equal(store_body_open(fx->store, list.msgs[1].body_id,
					 &body, &err), 0);
	assert_int_equal(body.len, strlen(m2));
	assert_memory_equal(body.data, m2, body.len);
	store_body_close(&body);
	assert_int_equal(store_body_open(fx->store, list.msgs[2].body_id,
					 &body, &err), 0);
	assert_int_equal(body.len, 0);
	assert_string_equal(body.data, "");
	store_body_close(&body);
	assert_int_equal(store_body_open(fx->store, 999999, &body, &err), -1);
	assert_int_equal(err.code, STORE_ERR_EXPUNGED);
	store_message_list_free(&list);

	assert_int_equal(store_message_range(fx->store, inbox.id, 2, 2, &list,
					     &err), 0);
	assert_int_equal(list.count, 1);
	assert_int_equal(list.msgs[0].uid, 2);
	store_message_list_free(&list);
	assert_int_equal(store_message_range(fx->store, inbox.id, 5, 9, &list,
					     &err), 0);
	assert_int_equal(list.count, 0);
	assert_null(list.msgs);
	store_message_list_free(&list);
	assert_int_equal(store_message_range(fx->store, 424242, 1, 9, &list,
					     &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);

	char **kw;
	size_t nkw;
	assert_int_equal(store_mailbox_keywords(fx->store, inbox.id, &kw, &nkw,
						&err), 0);
	assert_int_equal(nkw, 2);
	assert_string_equal(kw[0], "$Label1");
	assert_string_equal(kw[1], "Work");
	store_strings_free(kw, nkw);

	/* nothing left behind in tmp/, one file per body */
	assert_int_equal(count_files(fx->dir, "tmp"), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 3);

	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 3);
	json_t *ev = cap->ev[1].json;
	assert_string_equal(cap->ev[1].type, "MessageAppend");
	assert_int_equal(cap->ev[1].mailbox_id, inbox.id);
	assert_int_equal(cap->ev[1].user_id, fx->alice);
	assert_int_equal(cap->ev[1].origin, 77);
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX;UIDVALIDITY=%u/;UID=2",
		 inbox.uidvalidity);
	assert_string_equal(jstr(ev, "uri"), url);
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX;UIDVALIDITY=%u",
		 inbox.uidvalidity);
	assert_string_equal(jstr(ev, "mailboxID"), url);
	assert_string_equal(jstr(ev, "uidset"), "2");
	assert_int_equal(jint(ev, "uidnext"), 3);
	assert_int_equal(jint(ev, "modseq"), 3);
	assert_int_equal(jint(ev, "messageSize"), strlen(m2));
	assert_int_equal(jint(ev, "messages"), 2);
	char flags[256];
	jflags(ev, flags, sizeof(flags));
	assert_string_equal(flags, "\\Seen \\Flagged $Label1 Work");
	assert_string_equal(jstr(ev, "service"), "imap");
	assert_string_equal(jstr(ev, "user"), "alice");
	assert_string_equal(jstr(ev, "clientIP"), "192.0.2.1");
	assert_int_equal(jint(ev, "clientPort"), 50123);
	assert_int_equal(jint(ev, "serverPort"), 143);
	assert_false(jhas(ev, "admin"));
	/* no flags, no flagNames */
	assert_false(jhas(cap->ev[0].json, "flagNames"));
	assert_int_equal(jint(cap->ev[2].json, "messageSize"), 0);
}

static void test_append_failures(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	uint32_t uid, uidvalidity;
	assert_int_equal(store_message_append(fx->store, &imap_actor, 424242,
					      "x", 1, 0, NULL, 0, 0, &uid,
					      &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(count_files(fx->dir, "tmp"), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 0);

	char *big = calloc(1, 1024 * 1024 + 2);
	memset(big, 'a', 1024 * 1024 + 1);
	assert_int_equal(store_message_append(fx->store, &imap_actor, inbox.id,
					      big, strlen(big), 0, NULL, 0, 0,
					      &uid, &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_TOOBIG);
	free(big);

	assert_int_equal(store_message_append(fx->store, &imap_actor, inbox.id,
					      "x", 1, 0, "ok bad\\kw", 0, 0,
					      &uid, &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_message_append(fx->store, &imap_actor, inbox.id,
					      "x", 1, 0, "a(b", 0, 0, &uid,
					      &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_message_append(fx->store, &imap_actor, inbox.id,
					      "x", 1, 0, NULL, 0, 100000,
					      &uid, &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);

	/* a \Noselect mailbox holds no messages */
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "p/c", NULL, &err), 0);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "p", &err), 0);
	struct store_mailbox p = get_mailbox(fx, "p");
	assert_true(p.noselect);
	assert_int_equal(store_message_append(fx->store, &imap_actor, p.id,
					      "x", 1, 0, NULL, 0, 0, &uid,
					      &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);

	assert_int_equal(count_files(fx->dir, "tmp"), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 0);
	struct capture *cap = new_events(fx);
	for (size_t i = 0; i < cap->n; i++)
		assert_string_not_equal(cap->ev[i].type, "MessageAppend");
	inbox = get_mailbox(fx, "INBOX");
	assert_int_equal(inbox.uidnext, 1);
	assert_int_equal(inbox.highestmodseq, 1);
}

static void test_flags(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	for (int i = 0; i < 4; i++)
		append(fx, inbox.id, "m", i == 3 ? STORE_FLAG_SEEN : 0,
		       i == 0 ? "Old" : NULL);
	new_events(fx);
	uint64_t modseq = get_mailbox(fx, "INBOX").highestmodseq;

	/* add \Seen and a keyword to 1..3 (4 already has \Seen), plus a UID
	 * that does not exist */
	uint32_t uids[] = { 1, 2, 3, 4, 99 };
	uint32_t *changed;
	size_t nchanged;
	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     uids, 5, STORE_FLAGS_ADD,
					     STORE_FLAG_SEEN, "$junk",
					     &changed, &nchanged, &err), 0);
	assert_int_equal(nchanged, 4);
	assert_int_equal(changed[0], 1);
	assert_int_equal(changed[3], 4);
	free(changed);
	struct store_mailbox mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.highestmodseq, modseq + 1);
	assert_int_equal(mb.unseen, 0);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "FlagsSet");
	json_t *ev = cap->ev[0].json;
	assert_string_equal(jstr(ev, "uidset"), "1:4");
	assert_int_equal(jint(ev, "modseq"), modseq + 1);
	char flags[256];
	jflags(ev, flags, sizeof(flags));
	assert_string_equal(flags, "\\Seen $junk");
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX;UIDVALIDITY=%u",
		 inbox.uidvalidity);
	assert_string_equal(jstr(ev, "uri"), url);
	assert_string_equal(jstr(ev, "mailboxID"), url);
	assert_false(jhas(ev, "messages"));

	/* the same again changes nothing: no modseq, no event */
	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     uids, 4, STORE_FLAGS_ADD,
					     STORE_FLAG_SEEN, "$JUNK",
					     &changed, &nchanged, &err), 0);
	assert_int_equal(nchanged, 0);
	free(changed);
	assert_int_equal(get_mailbox(fx, "INBOX").highestmodseq, modseq + 1);
	assert_int_equal(new_events(fx)->n, 0);

	/* remove \Seen from 2 and 3 */
	uint32_t two[] = { 2, 3 };
	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     two, 2, STORE_FLAGS_REMOVE,
					     STORE_FLAG_SEEN, NULL, NULL, NULL,
					     &err), 0);
	mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.highestmodseq, modseq + 2);
	assert_int_equal(mb.unseen, 2);
	cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "FlagsClear");
	assert_string_equal(jstr(cap->ev[0].json, "uidset"), "2:3");
	jflags(cap->ev[0].json, flags, sizeof(flags));
	assert_string_equal(flags, "\\Seen");

	/* replace on message 1 (\Seen Old $junk) -> \Flagged $junk New:
	 * both a FlagsSet and a FlagsClear, one modseq */
	uint32_t one = 1;
	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     &one, 1, STORE_FLAGS_REPLACE,
					     STORE_FLAG_FLAGGED, "$Junk New",
					     &changed, &nchanged, &err), 0);
	assert_int_equal(nchanged, 1);
	free(changed);
	cap = new_events(fx);
	assert_int_equal(cap->n, 2);
	assert_string_equal(cap->ev[0].type, "FlagsSet");
	assert_string_equal(cap->ev[1].type, "FlagsClear");
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX;UIDVALIDITY=%u/;UID=1",
		 inbox.uidvalidity);
	assert_string_equal(jstr(cap->ev[0].json, "uri"), url);
	jflags(cap->ev[0].json, flags, sizeof(flags));
	assert_string_equal(flags, "\\Flagged New");
	jflags(cap->ev[1].json, flags, sizeof(flags));
	assert_string_equal(flags, "\\Seen Old");
	assert_int_equal(jint(cap->ev[0].json, "modseq"), modseq + 3);
	assert_int_equal(jint(cap->ev[1].json, "modseq"), modseq + 3);

	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 1, 4, &list,
					     &err), 0);
	assert_int_equal(list.msgs[0].flags, STORE_FLAG_FLAGGED);
	/* the spelling the mailbox saw first */
	assert_string_equal(list.msgs[0].keywords, "$junk New");
	assert_int_equal(list.msgs[0].modseq, modseq + 3);
	assert_int_equal(list.msgs[1].flags, 0);
	assert_string_equal(list.msgs[1].keywords, "$junk");
	assert_int_equal(list.msgs[1].modseq, modseq + 2);
	assert_int_equal(list.msgs[3].flags, STORE_FLAG_SEEN);
	assert_int_equal(list.msgs[3].modseq, modseq + 1);
	store_message_list_free(&list);

	/* \Recent-free keyword list of the mailbox */
	char **kw;
	size_t nkw;
	assert_int_equal(store_mailbox_keywords(fx->store, inbox.id, &kw, &nkw,
						&err), 0);
	assert_int_equal(nkw, 3);
	assert_string_equal(kw[0], "Old");
	assert_string_equal(kw[1], "$junk");
	assert_string_equal(kw[2], "New");
	store_strings_free(kw, nkw);

	/* unsorted input with duplicates is handled */
	uint32_t messy[] = { 3, 1, 3, 2 };
	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     messy, 4, STORE_FLAGS_ADD,
					     STORE_FLAG_ANSWERED, NULL,
					     &changed, &nchanged, &err), 0);
	assert_int_equal(nchanged, 3);
	assert_int_equal(changed[0], 1);
	assert_int_equal(changed[2], 3);
	free(changed);
	cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(jstr(cap->ev[0].json, "uidset"), "1:3");

	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     &one, 1, STORE_FLAGS_ADD, 0,
					     "bad]kw", NULL, NULL, &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_message_flags(fx->store, &imap_actor, 424242,
					     &one, 1, STORE_FLAGS_ADD,
					     STORE_FLAG_SEEN, NULL, NULL, NULL,
					     &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
}

static void test_expunge(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	for (int i = 0; i < 5; i++)
		append(fx, inbox.id, "msg", i % 2 == 0 ? STORE_FLAG_DELETED : 0,
		       NULL);
	new_events(fx);
	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 1, 5, &list,
					     &err), 0);
	int64_t body1 = list.msgs[0].body_id;
	store_message_list_free(&list);
	assert_true(body_file_exists(fx, body1));

	uint32_t *gone;
	size_t ngone;
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, NULL, 0, &gone,
					       &ngone, &err), 0);
	assert_int_equal(ngone, 3);
	assert_int_equal(gone[0], 1);
	assert_int_equal(gone[1], 3);
	assert_int_equal(gone[2], 5);
	free(gone);
	assert_false(body_file_exists(fx, body1));
	assert_int_equal(count_files(fx->dir, "mail"), 2);

	struct store_mailbox mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.messages, 2);
	assert_int_equal(mb.uidnext, 6);
	assert_int_equal(mb.highestmodseq, 7);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	json_t *ev = cap->ev[0].json;
	assert_string_equal(cap->ev[0].type, "MessageExpunge");
	assert_string_equal(jstr(ev, "uidset"), "1,3,5");
	assert_int_equal(jint(ev, "uidnext"), 6);
	assert_int_equal(jint(ev, "modseq"), 7);
	assert_int_equal(jint(ev, "messages"), 2);

	/* by UID, whatever the flags; unknown UIDs are skipped */
	uint32_t uids[] = { 2, 3, 77 };
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, uids, 3, &gone, &ngone,
					       &err), 0);
	assert_int_equal(ngone, 1);
	assert_int_equal(gone[0], 2);
	free(gone);
	cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(jstr(cap->ev[0].json, "uidset"), "2");
	assert_non_null(strstr(jstr(cap->ev[0].json, "uri"), "/;UID=2"));

	/* nothing to expunge: nothing happens */
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, NULL, 0, NULL, NULL,
					       &err), 0);
	assert_int_equal(new_events(fx)->n, 0);
	assert_int_equal(get_mailbox(fx, "INBOX").highestmodseq, 8);
}

static void test_copy_move(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	struct store_mailbox trash = get_mailbox(fx, "Trash");
	append(fx, inbox.id, "one", STORE_FLAG_SEEN, "Work");
	append(fx, inbox.id, "two", 0, NULL);
	append(fx, inbox.id, "three", STORE_FLAG_FLAGGED, NULL);
	append(fx, trash.id, "old", 0, NULL);
	new_events(fx);

	/* copy 3 and 1 (any order) to Trash: target UIDs follow source order */
	uint32_t uids[] = { 3, 1, 42 };
	uint32_t *src, *dst, uidvalidity;
	size_t n;
	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    uids, 3, trash.id, false, &src,
					    &dst, &n, &uidvalidity, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(src[0], 1);
	assert_int_equal(src[1], 3);
	assert_int_equal(dst[0], 2);
	assert_int_equal(dst[1], 3);
	assert_int_equal(uidvalidity, trash.uidvalidity);
	free(src);
	free(dst);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "MessageAppend");
	assert_int_equal(cap->ev[0].mailbox_id, trash.id);
	json_t *ev = cap->ev[0].json;
	assert_string_equal(jstr(ev, "uidset"), "2:3");
	assert_int_equal(jint(ev, "messages"), 3);
	assert_int_equal(jint(ev, "uidnext"), 4);
	assert_false(jhas(ev, "messageSize"));
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/Trash;UIDVALIDITY=%u",
		 trash.uidvalidity);
	assert_string_equal(jstr(ev, "uri"), url);

	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, trash.id, 2, 3, &list,
					     &err), 0);
	assert_int_equal(list.count, 2);
	assert_int_equal(list.msgs[0].flags, STORE_FLAG_SEEN);
	assert_string_equal(list.msgs[0].keywords, "Work");
	assert_int_equal(list.msgs[1].flags, STORE_FLAG_FLAGGED);
	int64_t shared_body = list.msgs[0].body_id;
	store_message_list_free(&list);
	/* copies share the body file */
	assert_int_equal(count_files(fx->dir, "mail"), 4);

	/* expunging the original keeps the copy's body */
	uint32_t one = 1;
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, &one, 1, NULL, NULL,
					       &err), 0);
	assert_true(body_file_exists(fx, shared_body));
	struct store_body body;
	assert_int_equal(store_body_open(fx->store, shared_body, &body, &err),
			 0);
	assert_memory_equal(body.data, "one", 3);
	store_body_close(&body);
	new_events(fx);

	/* move 2 from INBOX to Trash: MessageAppend, then MessageExpunge */
	uint32_t two = 2;
	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    &two, 1, trash.id, true, &src,
					    &dst, &n, &uidvalidity, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dst[0], 4);
	free(src);
	free(dst);
	cap = new_events(fx);
	assert_int_equal(cap->n, 2);
	assert_string_equal(cap->ev[0].type, "MessageAppend");
	assert_int_equal(cap->ev[0].mailbox_id, trash.id);
	assert_string_equal(jstr(cap->ev[0].json, "uidset"), "4");
	assert_int_equal(jint(cap->ev[0].json, "messageSize"), 3);
	assert_non_null(strstr(jstr(cap->ev[0].json, "uri"),
			       "/Trash;UIDVALIDITY="));
	assert_non_null(strstr(jstr(cap->ev[0].json, "uri"), "/;UID=4"));
	assert_string_equal(cap->ev[1].type, "MessageExpunge");
	assert_int_equal(cap->ev[1].mailbox_id, inbox.id);
	assert_string_equal(jstr(cap->ev[1].json, "uidset"), "2");
	assert_int_equal(jint(cap->ev[1].json, "messages"), 1);
	struct store_mailbox in_after = get_mailbox(fx, "INBOX");
	assert_int_equal(in_after.messages, 1);
	assert_int_equal(get_mailbox(fx, "Trash").messages, 4);
	assert_int_equal(count_files(fx->dir, "mail"), 4);

	/* move within one mailbox: new UID, one modseq step */
	uint32_t three = 3;
	uint64_t before = in_after.highestmodseq;
	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    &three, 1, inbox.id, true, &src,
					    &dst, &n, NULL, &err), 0);
	assert_int_equal(dst[0], 4);
	free(src);
	free(dst);
	in_after = get_mailbox(fx, "INBOX");
	assert_int_equal(in_after.messages, 1);
	assert_int_equal(in_after.highestmodseq, before + 1);
	new_events(fx);

	/* nothing to copy: OK, no events */
	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    &three, 1, trash.id, false, &src,
					    &dst, &n, &uidvalidity, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(uidvalidity, trash.uidvalidity);
	free(src);
	free(dst);
	assert_int_equal(new_events(fx)->n, 0);

	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    &three, 1, 424242, false, NULL,
					    NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
}

static void test_uid_never_reused(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	for (int i = 0; i < 3; i++)
		append(fx, inbox.id, "x", STORE_FLAG_DELETED, NULL);
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, NULL, 0, NULL, NULL,
					       &err), 0);
	assert_int_equal(append(fx, inbox.id, "y", 0, NULL), 4);
	store_close(&fx->store);
	assert_int_equal(store_open(fx->dir, &options, &fx->store, &err), 0);
	assert_int_equal(append(fx, inbox.id, "z", 0, NULL), 5);
	uint32_t four = 4;
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, &four, 1, NULL, NULL,
					       &err), 0);
	store_close(&fx->store);
	assert_int_equal(store_open(fx->dir, &options, &fx->store, &err), 0);
	assert_int_equal(append(fx, inbox.id, "w", 0, NULL), 6);
	struct store_mailbox mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.uidvalidity, inbox.uidvalidity);
	assert_int_equal(mb.uidnext, 7);
	assert_int_equal(mb.messages, 2);
}

static void test_delete_recreate(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Foo", NULL, &err), 0);
	struct store_mailbox foo1 = get_mailbox(fx, "Foo");
	append(fx, foo1.id, "a", 0, NULL);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Foo", NULL, &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_ALREADYEXISTS);
	new_events(fx);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "Foo", &err), 0);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "MailboxDelete");
	assert_int_equal(cap->ev[0].mailbox_id, foo1.id);
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/Foo;UIDVALIDITY=%u",
		 foo1.uidvalidity);
	assert_string_equal(jstr(cap->ev[0].json, "uri"), url);
	assert_string_equal(jstr(cap->ev[0].json, "mailboxID"), url);
	assert_int_equal(count_files(fx->dir, "mail"), 0);

	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "Foo", &mb,
					   &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "Foo", &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);

	/* within the same second: still a new UIDVALIDITY */
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Foo", NULL, &err), 0);
	struct store_mailbox foo2 = get_mailbox(fx, "Foo");
	assert_true(foo2.uidvalidity > foo1.uidvalidity);
	assert_int_not_equal(foo2.id, foo1.id);
	assert_int_equal(foo2.uidnext, 1);
	assert_int_equal(foo2.messages, 0);

	/* and across a reopen */
	store_close(&fx->store);
	assert_int_equal(store_open(fx->dir, &options, &fx->store, &err), 0);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "Foo", &err), 0);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Foo", NULL, &err), 0);
	assert_true(get_mailbox(fx, "Foo").uidvalidity > foo2.uidvalidity);

	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "inbox", &err), -1);
	assert_int_equal(err.code, STORE_ERR_NOPERM);
}

static void test_create_names(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	static const char *const bad[] = {
		"", "/a", "a/", "a//b", "a*", "50%", "a\tb", "a\x7f",
		"\xc3\x28", "\xed\xa0\x80", "\xc2\x85", "\xc0\xaf",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
						      fx->alice, bad[i], NULL,
						      &err), -1);
		assert_int_equal(err.code, STORE_ERR_CANNOT);
	}
	char *longname = malloc(1002);
	memset(longname, 'x', 1001);
	longname[1001] = '\0';
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, longname, NULL, &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	longname[1000] = '\0';
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, longname, NULL, &err),
			 0);
	free(longname);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "x", "\\Bogus", &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Inbox", NULL, &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_ALREADYEXISTS);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor, 424242,
					      "x", NULL, &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	new_events(fx);

	/* parents are created, each with its MailboxCreate; INBOX is
	 * case-insensitive as the first level */
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "inbox/a b/ç%d",
					      NULL, &err), -1);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "inbox/a b/ç;?",
					      "\\flagged", &err), 0);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 2);
	struct store_mailbox mb = get_mailbox(fx, "INBOX/a b");
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX/a%%20b;UIDVALIDITY=%u",
		 mb.uidvalidity);
	assert_string_equal(jstr(cap->ev[0].json, "uri"), url);
	mb = get_mailbox(fx, "Inbox/a b/ç;?");
	assert_string_equal(mb.name, "INBOX/a b/ç;?");
	assert_string_equal(mb.special_use, "\\Flagged");
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX/a%%20b/%%C3%%A7%%3B%%3F"
		 ";UIDVALIDITY=%u", mb.uidvalidity);
	assert_string_equal(jstr(cap->ev[1].json, "uri"), url);
	assert_string_equal(jstr(cap->ev[1].json, "vnd.tidings.specialUse"),
			    "\\Flagged");

	char canon[STORE_MAILBOX_NAME_MAX + 1];
	assert_int_equal(store_mailbox_name_normalize("iNbOx", canon, &err), 0);
	assert_string_equal(canon, "INBOX");
	assert_int_equal(store_mailbox_name_normalize("inboxes/x", canon,
						      &err), 0);
	assert_string_equal(canon, "inboxes/x");
	assert_int_equal(store_mailbox_name_normalize("x/inbox", canon, &err),
			 0);
	assert_string_equal(canon, "x/inbox");
}

static void test_rename(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Work/Projects/X",
					      NULL, &err), 0);
	struct store_mailbox work = get_mailbox(fx, "Work");
	struct store_mailbox proj = get_mailbox(fx, "Work/Projects");
	append(fx, proj.id, "hello", 0, NULL);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "Workshop", NULL,
					      &err), 0);
	new_events(fx);

	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "Work", "Workshop",
					      &err), -1);
	assert_int_equal(err.code, STORE_ERR_ALREADYEXISTS);
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "Work", "Work/Sub",
					      &err), -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "Nope", "Other",
					      &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "Work", "inbox",
					      &err), -1);
	assert_int_equal(err.code, STORE_ERR_ALREADYEXISTS);
	assert_int_equal(new_events(fx)->n, 0);

	/* the whole hierarchy moves, under a new parent that is created */
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "Work",
					      "Archive/2024/Work", &err), 0);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "Work", &mb,
					   &err), -1);
	assert_int_equal(store_mailbox_get(fx->store, fx->alice,
					   "Work/Projects", &mb, &err), -1);
	struct store_mailbox nw = get_mailbox(fx, "Archive/2024/Work");
	struct store_mailbox np = get_mailbox(fx, "Archive/2024/Work/Projects");
	get_mailbox(fx, "Archive/2024/Work/Projects/X");
	get_mailbox(fx, "Workshop");
	assert_int_equal(nw.id, work.id);
	assert_int_equal(nw.uidvalidity, work.uidvalidity);
	assert_int_equal(np.id, proj.id);
	assert_int_equal(np.uidvalidity, proj.uidvalidity);
	assert_int_equal(np.messages, 1);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 2);
	assert_string_equal(cap->ev[0].type, "MailboxCreate");
	assert_non_null(strstr(jstr(cap->ev[0].json, "uri"), "/Archive/2024;"));
	assert_string_equal(cap->ev[1].type, "MailboxRename");
	assert_int_equal(cap->ev[1].mailbox_id, work.id);
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/Archive/2024/Work"
		 ";UIDVALIDITY=%u", work.uidvalidity);
	assert_string_equal(jstr(cap->ev[1].json, "uri"), url);
	assert_string_equal(jstr(cap->ev[1].json, "mailboxID"), url);
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/Work;UIDVALIDITY=%u",
		 work.uidvalidity);
	assert_string_equal(jstr(cap->ev[1].json, "oldMailboxID"), url);

	/* a leaf rename within its level */
	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "Workshop", "Shop",
					      &err), 0);
	get_mailbox(fx, "Shop");
	assert_int_equal(new_events(fx)->n, 1);
}

static void test_rename_inbox(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	append(fx, inbox.id, "first", STORE_FLAG_SEEN, "Tag");
	append(fx, inbox.id, "second", 0, NULL);
	append(fx, inbox.id, "third", 0, NULL);
	uint32_t one = 1;
	assert_int_equal(store_message_expunge(fx->store, &imap_actor,
					       inbox.id, &one, 1, NULL, NULL,
					       &err), 0);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "INBOX/Child", NULL,
					      &err), 0);
	inbox = get_mailbox(fx, "INBOX");
	new_events(fx);

	assert_int_equal(store_mailbox_rename(fx->store, &imap_actor,
					      fx->alice, "inbox", "Old Mail",
					      &err), 0);
	struct store_mailbox in2 = get_mailbox(fx, "INBOX");
	struct store_mailbox old = get_mailbox(fx, "Old Mail");
	get_mailbox(fx, "INBOX/Child");
	assert_int_equal(in2.id, inbox.id);
	assert_int_equal(in2.uidvalidity, inbox.uidvalidity);
	assert_int_equal(in2.uidnext, 4);
	assert_int_equal(in2.messages, 0);
	assert_int_equal(in2.highestmodseq, inbox.highestmodseq + 1);
	assert_int_not_equal(old.uidvalidity, inbox.uidvalidity);
	assert_int_equal(old.messages, 2);
	assert_int_equal(old.uidnext, 3);

	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, old.id, 1, UINT32_MAX,
					     &list, &err), 0);
	assert_int_equal(list.count, 2);
	assert_int_equal(list.msgs[0].uid, 1);
	assert_int_equal(list.msgs[1].uid, 2);
	struct store_body body;
	assert_int_equal(store_body_open(fx->store, list.msgs[0].body_id,
					 &body, &err), 0);
	assert_memory_equal(body.data, "second", 6);
	store_body_close(&body);
	store_message_list_free(&list);
	assert_int_equal(count_files(fx->dir, "mail"), 2);

	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 3);
	assert_string_equal(cap->ev[0].type, "MailboxRename");
	assert_int_equal(cap->ev[0].mailbox_id, old.id);
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/Old%%20Mail;UIDVALIDITY=%u",
		 old.uidvalidity);
	assert_string_equal(jstr(cap->ev[0].json, "mailboxID"), url);
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX;UIDVALIDITY=%u",
		 inbox.uidvalidity);
	assert_string_equal(jstr(cap->ev[0].json, "oldMailboxID"), url);
	assert_string_equal(cap->ev[1].type, "MessageAppend");
	assert_int_equal(cap->ev[1].mailbox_id, old.id);
	assert_string_equal(jstr(cap->ev[1].json, "uidset"), "1:2");
	assert_string_equal(cap->ev[2].type, "MessageExpunge");
	assert_int_equal(cap->ev[2].mailbox_id, inbox.id);
	assert_string_equal(jstr(cap->ev[2].json, "uidset"), "2:3");
	assert_int_equal(jint(cap->ev[2].json, "messages"), 0);

	/* INBOX still works and continues its UIDs */
	assert_int_equal(append(fx, inbox.id, "new", 0, NULL), 4);
}

static void test_delete_children(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "a/b", NULL, &err), 0);
	struct store_mailbox a = get_mailbox(fx, "a");
	append(fx, a.id, "in a", 0, NULL);
	new_events(fx);

	/* RFC 3501 §6.3.4: a mailbox with children loses its messages and
	 * stays as \Noselect */
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "a", &err), 0);
	struct store_mailbox mb = get_mailbox(fx, "a");
	assert_true(mb.noselect);
	assert_int_equal(mb.messages, 0);
	assert_int_equal(count_files(fx->dir, "mail"), 0);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "MailboxDelete");

	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "a", &err), -1);
	assert_int_equal(err.code, STORE_ERR_HASCHILDREN);
	struct store_message_list list;
	uint32_t first;
	assert_int_equal(store_mailbox_claim_recent(fx->store, a.id, &first,
						    &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_message_range(fx->store, a.id, 1, 10, &list,
					     &err), 0);
	assert_int_equal(list.count, 0);

	/* "ab" is no child of "a" */
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "ab", NULL, &err), 0);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "a/b", &err), 0);
	/* \Noselect without children: removed */
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "a", &err), 0);
	assert_int_equal(store_mailbox_get(fx->store, fx->alice, "a", &mb,
					   &err), -1);
	get_mailbox(fx, "ab");

	/* creating a \Noselect name makes it a mailbox again, with a new
	 * UIDVALIDITY */
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "p/q", NULL, &err), 0);
	struct store_mailbox p1 = get_mailbox(fx, "p");
	append(fx, p1.id, "x", 0, NULL);
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "p", &err), 0);
	new_events(fx);
	assert_int_equal(store_mailbox_create(fx->store, &imap_actor,
					      fx->alice, "p", "\\Archive",
					      &err), 0);
	struct store_mailbox p2 = get_mailbox(fx, "p");
	assert_false(p2.noselect);
	assert_true(p2.uidvalidity > p1.uidvalidity);
	assert_int_equal(p2.uidnext, 1);
	assert_string_equal(p2.special_use, "\\Archive");
	cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "MailboxCreate");
	assert_int_equal(append(fx, p2.id, "y", 0, NULL), 1);
}

static void test_subscriptions(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "inbox", true,
						&err), 0);
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "Nowhere/x", true,
						&err), 0);
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "Drafts", true,
						&err), 0);
	/* again: no change, no event */
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "Drafts", true,
						&err), 0);
	char **names;
	size_t n;
	assert_int_equal(store_subscription_list(fx->store, fx->alice, &names,
						 &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "Drafts");
	assert_string_equal(names[1], "INBOX");
	assert_string_equal(names[2], "Nowhere/x");
	store_strings_free(names, n);

	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 3);
	assert_string_equal(cap->ev[0].type, "MailboxSubscribe");
	assert_int_equal(cap->ev[0].mailbox_id, inbox.id);
	char url[256];
	snprintf(url, sizeof(url),
		 "imap://alice@mail.example.org/INBOX;UIDVALIDITY=%u",
		 inbox.uidvalidity);
	assert_string_equal(jstr(cap->ev[0].json, "uri"), url);
	assert_string_equal(jstr(cap->ev[0].json, "user"), "alice");
	assert_string_equal(jstr(cap->ev[1].json, "uri"),
			    "imap://alice@mail.example.org/Nowhere/x");
	assert_int_equal(cap->ev[1].mailbox_id, 0);

	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "Nowhere/x", false,
						&err), 0);
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "Nowhere/x", false,
						&err), 0);
	cap = new_events(fx);
	assert_int_equal(cap->n, 1);
	assert_string_equal(cap->ev[0].type, "MailboxUnSubscribe");
	assert_int_equal(store_subscription_list(fx->store, fx->alice, &names,
						 &n, &err), 0);
	assert_int_equal(n, 2);
	store_strings_free(names, n);

	/* subscriptions survive the mailbox */
	assert_int_equal(store_mailbox_delete(fx->store, &imap_actor,
					      fx->alice, "Drafts", &err), 0);
	assert_int_equal(store_subscription_list(fx->store, fx->alice, &names,
						 &n, &err), 0);
	assert_int_equal(n, 2);
	store_strings_free(names, n);
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "a//b", true, &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
}

static void test_claim_recent(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	uint32_t first;
	assert_int_equal(store_mailbox_claim_recent(fx->store, inbox.id,
						    &first, &err), 0);
	assert_int_equal(first, 1);
	append(fx, inbox.id, "a", 0, NULL);
	append(fx, inbox.id, "b", 0, NULL);
	assert_int_equal(store_mailbox_claim_recent(fx->store, inbox.id,
						    &first, &err), 0);
	assert_int_equal(first, 1);
	assert_int_equal(get_mailbox(fx, "INBOX").recent_uid, 2);
	/* the next session gets none */
	assert_int_equal(store_mailbox_claim_recent(fx->store, inbox.id,
						    &first, &err), 0);
	assert_int_equal(first, 3);
	append(fx, inbox.id, "c", 0, NULL);
	assert_int_equal(store_mailbox_claim_recent(fx->store, inbox.id,
						    &first, &err), 0);
	assert_int_equal(first, 3);
	assert_int_equal(store_mailbox_claim_recent(fx->store, inbox.id,
						    &first, &err), 0);
	assert_int_equal(first, 4);
	assert_int_equal(store_mailbox_claim_recent(fx->store, 424242, &first,
						    &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
}

static void test_login_logout(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_actor actor = imap_actor;
	actor.admin = "admin@example.org";
	assert_int_equal(store_event_login(fx->store, &actor, &err), 0);
	assert_int_equal(store_event_logout(fx->store, &imap_actor, &err), 0);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 2);
	assert_string_equal(cap->ev[0].type, "Login");
	assert_int_equal(cap->ev[0].user_id, fx->alice);
	assert_int_equal(cap->ev[0].mailbox_id, 0);
	assert_int_equal(cap->ev[0].origin, 77);
	json_t *ev = cap->ev[0].json;
	assert_string_equal(jstr(ev, "user"), "alice");
	assert_string_equal(jstr(ev, "admin"), "admin@example.org");
	assert_string_equal(jstr(ev, "clientIP"), "192.0.2.1");
	assert_int_equal(jint(ev, "clientPort"), 50123);
	assert_int_equal(jint(ev, "serverPort"), 143);
	assert_string_equal(jstr(ev, "service"), "imap");
	assert_string_equal(jstr(ev, "uri"),
			    "imap://alice@mail.example.org/");
	/* exact key order: event, timestamp, then the rest */
	const char *key;
	json_t *v;
	const char *expect[] = {
		"event", "timestamp", "uri", "service", "user", "admin",
		"clientIP", "clientPort", "serverPort", "serverDomain",
		"serverFQDN", "pid", "process",
	};
	size_t i = 0;
	json_object_foreach(ev, key, v) {
		assert_true(i < sizeof(expect) / sizeof(expect[0]));
		assert_string_equal(key, expect[i]);
		i++;
	}
	assert_int_equal(i, sizeof(expect) / sizeof(expect[0]));
	assert_string_equal(cap->ev[1].type, "Logout");
	assert_false(jhas(cap->ev[1].json, "admin"));

	/* a user name that needs encoding in the URL */
	struct store_actor odd = { .service = "imap", .user = "a@b:c;d" };
	assert_int_equal(store_event_login(fx->store, &odd, &err), 0);
	cap = new_events(fx);
	assert_string_equal(jstr(cap->ev[0].json, "uri"),
			    "imap://a%40b%3Ac%3Bd@mail.example.org/");
	assert_int_equal(cap->ev[0].user_id, 0);
}

struct reentry {
	struct store *store;
	int64_t user_id;
	size_t calls;
	int64_t last_seq;
	bool wrote;
};

static void reentry_cb(const struct store_outbox_event *ev, void *ctx)
{
	struct reentry *r = ctx;
	struct store_error err;
	assert_true(ev->seq > r->last_seq);
	r->last_seq = ev->seq;
	r->calls++;
	/* a consumer may use (and write to) the store from its callback */
	struct store_mailbox *list;
	size_t n;
	assert_int_equal(store_mailbox_list(r->store, r->user_id, &list, &n,
					    &err), 0);
	free(list);
	if (!r->wrote) {
		r->wrote = true;
		assert_int_equal(store_event_logout(r->store, &imap_actor,
						    &err), 0);
	}
}

static void test_outbox_read(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	int64_t seq;
	assert_int_equal(store_outbox_last_seq(fx->store, &seq, &err), 0);
	assert_int_equal(seq, 0);
	create_alice(fx);
	for (int i = 0; i < 300; i++)
		assert_int_equal(store_event_login(fx->store, &imap_actor,
						   &err), 0);
	assert_int_equal(store_outbox_last_seq(fx->store, &seq, &err), 0);
	assert_int_equal(seq, 306);

	struct reentry r = { fx->store, fx->alice, 0, 0, false };
	assert_int_equal(store_outbox_read(fx->store, 0, 10, reentry_cb, &r,
					   &err), 0);
	assert_int_equal(r.calls, 10);
	assert_int_equal(r.last_seq, 10);
	assert_int_equal(store_outbox_read(fx->store, 300, 1000, reentry_cb,
					   &r, &err), 0);
	/* 301..306 and the Logout written by the first callback */
	assert_int_equal(r.calls, 17);
	assert_int_equal(r.last_seq, 307);
	r.last_seq = 0;
	r.calls = 0;
	assert_int_equal(store_outbox_read(fx->store, 0, SIZE_MAX, reentry_cb,
					   &r, &err), 0);
	assert_int_equal(r.calls, 307);
	assert_int_equal(store_outbox_read(fx->store, 0, 0, reentry_cb, &r,
					   &err), 0);
	assert_int_equal(r.calls, 307);
}

static void test_second_handle(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store *other;
	assert_int_equal(store_open(fx->dir, &options, &other, &err), 0);
	int64_t v1, v2, v3;
	assert_int_equal(store_data_version(other, &v1), 0);
	assert_int_equal(store_data_version(other, &v2), 0);
	assert_int_equal(v1, v2);

	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	append(fx, inbox.id, "from the first", 0, NULL);
	assert_int_equal(store_data_version(other, &v2), 0);
	assert_int_not_equal(v1, v2);

	/* its own commits do not change its data_version */
	assert_int_equal(store_data_version(fx->store, &v1), 0);
	uint32_t uid, uidvalidity;
	assert_int_equal(store_message_append(other, &cli_actor, inbox.id,
					      "from the other", 14, 0, NULL, 0,
					      0, &uid, &uidvalidity, &err), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(store_data_version(other, &v3), 0);
	assert_int_equal(v2, v3);
	assert_int_equal(store_data_version(fx->store, &v2), 0);
	assert_int_not_equal(v1, v2);

	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 1, 10, &list,
					     &err), 0);
	assert_int_equal(list.count, 2);
	store_message_list_free(&list);
	assert_int_equal(store_message_range(other, inbox.id, 1, 10, &list,
					     &err), 0);
	assert_int_equal(list.count, 2);
	store_message_list_free(&list);

	int64_t s1, s2;
	assert_int_equal(store_outbox_last_seq(fx->store, &s1, &err), 0);
	assert_int_equal(store_outbox_last_seq(other, &s2, &err), 0);
	assert_int_equal(s1, s2);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 2);
	assert_string_equal(jstr(cap->ev[1].json, "service"), "admincli");

	store_close(&other);
}

static void test_busy(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	/* another process holding the write lock for too long */
	char path[512];
	snprintf(path, sizeof(path), "%s/index.db", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			 SQLITE_OK);
	uint32_t uid, uidvalidity;
	assert_int_equal(store_message_append(fx->store, &imap_actor, inbox.id,
					      "x", 1, 0, NULL, 0, 0, &uid,
					      &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_BUSY);
	assert_int_equal(count_files(fx->dir, "tmp"), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 0);
	/* readers are not blocked */
	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 1, 10, &list,
					     &err), 0);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(append(fx, inbox.id, "x", 0, NULL), 1);
}

static void test_user_delete(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	assert_int_equal(store_user_create(fx->store, &cli_actor, "bob", "",
					   &err), 0);
	struct store_user bob;
	assert_int_equal(store_user_lookup(fx->store, "bob", &bob, &err), 0);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	struct store_mailbox bob_inbox;
	assert_int_equal(store_mailbox_get(fx->store, bob.id, "INBOX",
					   &bob_inbox, &err), 0);
	append(fx, inbox.id, "a1", 0, NULL);
	append(fx, inbox.id, "a2", 0, NULL);
	append(fx, bob_inbox.id, "b1", 0, NULL);
	struct store_mailbox trash = get_mailbox(fx, "Trash");
	uint32_t one = 1;
	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    &one, 1, trash.id, false, NULL,
					    NULL, NULL, NULL, &err), 0);
	assert_int_equal(store_subscription_set(fx->store, &imap_actor,
						fx->alice, "INBOX", true,
						&err), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 3);
	new_events(fx);

	assert_int_equal(store_user_delete(fx->store, &cli_actor, "alice",
					   &err), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 1);
	struct store_user user;
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err),
			 -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	struct store_mailbox *list;
	size_t n;
	assert_int_equal(store_mailbox_list(fx->store, fx->alice, &list, &n,
					    &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, 6);
	for (size_t i = 0; i < cap->n; i++) {
		assert_string_equal(cap->ev[i].type, "MailboxDelete");
		assert_int_equal(cap->ev[i].user_id, fx->alice);
	}
	/* bob is untouched */
	struct store_message_list msgs;
	assert_int_equal(store_message_range(fx->store, bob_inbox.id, 1, 10,
					     &msgs, &err), 0);
	assert_int_equal(msgs.count, 1);
	store_message_list_free(&msgs);
	assert_int_equal(store_user_delete(fx->store, &cli_actor, "alice",
					   &err), -1);
	assert_int_equal(err.code, STORE_ERR_NONEXISTENT);

	/* the name can be used again; nothing of the old user shows */
	assert_int_equal(store_user_create(fx->store, &cli_actor, "alice", "",
					   &err), 0);
	assert_int_equal(store_user_lookup(fx->store, "alice", &user, &err), 0);
	assert_int_not_equal(user.id, fx->alice);
	char **names;
	assert_int_equal(store_subscription_list(fx->store, user.id, &names,
						 &n, &err), 0);
	assert_int_equal(n, 0);
	store_strings_free(names, n);
	struct store_mailbox mb;
	assert_int_equal(store_mailbox_get(fx->store, user.id, "INBOX", &mb,
					   &err), 0);
	assert_true(mb.uidvalidity > inbox.uidvalidity);
	assert_int_equal(mb.messages, 0);
}

static void test_sweep(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	append(fx, inbox.id, "kept", 0, NULL);
	store_close(&fx->store);

	/* what a crash may leave: a body file renamed into place whose row
	 * never committed (id 2), and a temporary file of a dead process */
	char path[512];
	snprintf(path, sizeof(path), "%s/mail/02", fx->dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/mail/02/2", fx->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("orphan", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/tmp/999999999.1.00", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	/* one of a live process (ours, as another handle could be writing)
	 * stays */
	snprintf(path, sizeof(path), "%s/tmp/%d.1.00", fx->dir, getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(count_files(fx->dir, "mail"), 2);
	assert_int_equal(count_files(fx->dir, "tmp"), 2);

	assert_int_equal(store_open(fx->dir, &options, &fx->store, &err), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 1);
	assert_int_equal(count_files(fx->dir, "tmp"), 1);
	unlink(path);
	/* the next body reuses id 2 */
	append(fx, inbox.id, "next", 0, NULL);
	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 2, 2, &list,
					     &err), 0);
	assert_int_equal(list.msgs[0].body_id, 2);
	struct store_body body;
	assert_int_equal(store_body_open(fx->store, 2, &body, &err), 0);
	assert_int_equal(body.len, 4);
	assert_memory_equal(body.data, "next", 4);
	store_body_close(&body);
	store_message_list_free(&list);
}

static void test_uid_exhaustion(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	append(fx, inbox.id, "a", 0, NULL);
	char path[512];
	snprintf(path, sizeof(path), "%s/index.db", fx->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "UPDATE mailboxes SET uidnext = "
				      "4294967294 WHERE name = 'INBOX'",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	/* 4294967294 is the last UID: UIDNEXT must still fit in 32 bits */
	assert_int_equal(append(fx, inbox.id, "b", 0, NULL), 4294967294u);
	assert_int_equal(get_mailbox(fx, "INBOX").uidnext, 4294967295u);
	uint32_t uid, uidvalidity;
	assert_int_equal(store_message_append(fx->store, &imap_actor, inbox.id,
					      "c", 1, 0, NULL, 0, 0, &uid,
					      &uidvalidity, &err), -1);
	assert_int_equal(err.code, STORE_ERR_LIMIT);
	uint32_t one = 1;
	assert_int_equal(store_message_copy(fx->store, &imap_actor, inbox.id,
					    &one, 1, inbox.id, false, NULL,
					    NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, STORE_ERR_LIMIT);
	assert_int_equal(count_files(fx->dir, "tmp"), 0);
	assert_int_equal(count_files(fx->dir, "mail"), 2);
	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 2,
					     UINT32_MAX, &list, &err), 0);
	assert_int_equal(list.count, 1);
	assert_int_equal(list.msgs[0].uid, 4294967294u);
	store_message_list_free(&list);
}

/* tidingsd and the CLI write at the same time: UIDs stay unique and
 * every append has its event. */
static void test_concurrent_processes(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	enum { CHILDREN = 3, EACH = 15 };
	pid_t pids[CHILDREN];
	for (int c = 0; c < CHILDREN; c++) {
		pids[c] = fork();
		assert_true(pids[c] >= 0);
		if (pids[c] != 0)
			continue;
		struct store *store;
		int bad = 0;
		if (store_open(fx->dir, &options, &store, &err) < 0)
			_exit(1);
		for (int i = 0; i < EACH; i++) {
			uint32_t uid, uidvalidity;
			char text[32];
			snprintf(text, sizeof(text), "child %d msg %d", c, i);
			if (store_message_append(store, &cli_actor, inbox.id,
						 text, strlen(text), 0, NULL, 0,
						 0, &uid, &uidvalidity,
						 &err) < 0)
				bad = 1;
			if (i % 5 == 0 &&
			    store_message_flags(store, &cli_actor, inbox.id,
						&uid, 1, STORE_FLAGS_ADD,
						STORE_FLAG_SEEN, NULL, NULL,
						NULL, &err) < 0)
				bad = 1;
		}
		store_close(&store);
		_exit(bad);
	}
	for (int c = 0; c < CHILDREN; c++) {
		int status;
		assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	struct store_mailbox mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.messages, CHILDREN * EACH);
	assert_int_equal(mb.uidnext, CHILDREN * EACH + 1);
	assert_int_equal(mb.unseen, CHILDREN * EACH - CHILDREN * 3);
	assert_int_equal(mb.highestmodseq, 1 + CHILDREN * EACH + CHILDREN * 3);
	struct capture *cap = new_events(fx);
	assert_int_equal(cap->n, CHILDREN * EACH + CHILDREN * 3);
	uint64_t last_modseq = 0;
	for (size_t i = 0; i < cap->n; i++) {
		uint64_t m = (uint64_t)jint(cap->ev[i].json, "modseq");
		assert_true(m > last_modseq);
		last_modseq = m;
		assert_int_not_equal(cap->ev[i].origin_pid, getpid());
	}
	assert_int_equal(count_files(fx->dir, "mail"), CHILDREN * EACH);
	assert_int_equal(count_files(fx->dir, "tmp"), 0);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_big_mailbox(void **state)
{
	struct fx *fx = *state;
	struct store_error err;
	create_alice(fx);
	struct store_mailbox inbox = get_mailbox(fx, "INBOX");
	append(fx, inbox.id, "Subject: x\r\n\r\ny\r\n", 0, "k1");
	append(fx, inbox.id, "Subject: z\r\n\r\nw\r\n", STORE_FLAG_SEEN,
	       NULL);
	/* double by copying into itself up to 16384 messages */
	for (int round = 0; round < 13; round++) {
		struct store_mailbox mb = get_mailbox(fx, "INBOX");
		uint32_t *uids = malloc(mb.messages * sizeof(*uids));
		for (uint32_t i = 0; i < mb.messages; i++)
			uids[i] = i + 1;
		size_t n;
		assert_int_equal(store_message_copy(fx->store, &imap_actor,
						    inbox.id, uids,
						    mb.messages, inbox.id,
						    false, NULL, NULL, &n,
						    NULL, &err), 0);
		assert_int_equal(n, mb.messages);
		free(uids);
	}
	struct store_mailbox mb = get_mailbox(fx, "INBOX");
	assert_int_equal(mb.messages, 16384);
	assert_int_equal(mb.unseen, 8192);

	double t0 = now_seconds();
	struct store_message_list list;
	assert_int_equal(store_message_range(fx->store, inbox.id, 1,
					     UINT32_MAX, &list, &err), 0);
	double t1 = now_seconds();
	assert_int_equal(list.count, 16384);
	for (size_t i = 0; i < list.count; i++)
		assert_int_equal(list.msgs[i].uid, i + 1);
	assert_string_equal(list.msgs[16382].keywords, "k1");
	assert_string_equal(list.msgs[16383].keywords, "");
	store_message_list_free(&list);
	/* generous even for a sanitizer build */
	assert_true(t1 - t0 < 2.0);

	uint32_t *uids = malloc(16384 * sizeof(*uids));
	for (uint32_t i = 0; i < 16384; i++)
		uids[i] = i + 1;
	size_t n;
	t0 = now_seconds();
	assert_int_equal(store_message_flags(fx->store, &imap_actor, inbox.id,
					     uids, 16384, STORE_FLAGS_ADD,
					     STORE_FLAG_SEEN, NULL, NULL, &n,
					     &err), 0);
	t1 = now_seconds();
	assert_int_equal(n, 8192);
	assert_true(t1 - t0 < 10.0);
	free(uids);
	assert_int_equal(get_mailbox(fx, "INBOX").unseen, 0);
	/* the uidset of the FlagsSet compresses to ranges */
	struct capture *cap = new_events(fx);
	json_t *last = cap->ev[cap->n - 1].json;
	assert_string_equal(cap->ev[cap->n - 1].type, "FlagsSet");
	assert_true(strlen(jstr(last, "uidset")) < 16384 * 7);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_user_create, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_misc, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_user_foreach, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_range_body, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_uid_never_reused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_recreate, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_children, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_subscriptions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_claim_recent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_login_logout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outbox_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_second_handle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_delete, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uid_exhaustion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_processes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_mailbox, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
