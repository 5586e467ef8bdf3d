/* The store API: checks and normalises arguments, then hands each call to
 * the backend (store-sqlite.c for now) through struct store_backend_ops. */
#include "store/store-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define STORE_INTERNAL_MSG \
	"Internal error occurred. Refer to server log for more information."

uint64_t store_origin_next(void)
{
	static uint64_t last;
	return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

void store_error_set(struct store_error *err, enum store_error_code code,
		     const char *fmt, ...)
{
	if (err == NULL)
		return;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void store_error_internal(struct store_error *err)
{
	store_error_set(err, STORE_ERR_INTERNAL, "%s", STORE_INTERNAL_MSG);
}

static void store_error_clear(struct store_error *err)
{
	if (err != NULL) {
		err->code = STORE_OK;
		err->msg[0] = '\0';
	}
}

/* ---- flags ---- */

static const char *const flag_names[] = {
	"\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft",
};

uint32_t store_flag_from_name(const char *name)
{
	if (name == NULL)
		return 0;
	for (unsigned int i = 0; i < 5; i++) {
		if (strcasecmp(name, flag_names[i]) == 0)
			return 1u << i;
	}
	return 0;
}

const char *store_flag_name(uint32_t flag)
{
	for (unsigned int i = 0; i < 5; i++) {
		if (flag == 1u << i)
			return flag_names[i];
	}
	return NULL;
}

/* ---- open / close ---- */

static char *default_fqdn(void)
{
	char host[256];
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

int store_open(const char *data_dir, const struct store_options *opts,
	       struct store **store_r, struct store_error *err)
{
	store_error_clear(err);
	*store_r = NULL;
	if (data_dir == NULL || *data_dir == '\0') {
		store_error_set(err, STORE_ERR_CANNOT, "No data directory");
		return -1;
	}
	struct store *store = xcalloc(1, sizeof(*store));
	store->ops = &store_sqlite_ops;
	store->data_dir = xstrdup(data_dir);
	/* "a/b/" and "a/b" are the same place; paths are built by appending */
	size_t len = strlen(store->data_dir);
	while (len > 1 && store->data_dir[len - 1] == '/')
		store->data_dir[--len] = '\0';
	store->process = xstrdup(program_invocation_short_name);
	if (opts != NULL) {
		store->max_message_size = opts->max_message_size;
		store->default_storage_limit = opts->default_storage_limit;
		store->default_message_limit = opts->default_message_limit;
		store->default_mailbox_limit = opts->default_mailbox_limit;
		if (opts->server_fqdn != NULL && *opts->server_fqdn != '\0')
			store->server_fqdn = xstrdup(opts->server_fqdn);
		if (opts->default_mailboxes != NULL &&
		    opts->default_mailbox_count > 0) {
			size_t n = opts->default_mailbox_count;
			store->default_names = xcalloc(n, sizeof(char *));
			store->default_special_use = xcalloc(n, sizeof(char *));
			for (size_t i = 0; i < n; i++) {
				const char *name = opts->default_mailboxes[i][0];
				const char *use = opts->default_mailboxes[i][1];
				store->default_names[i] =
					xstrdup(name != NULL ? name : "");
				store->default_special_use[i] =
					xstrdup(use != NULL ? use : "");
			}
			store->default_count = n;
		}
	}
	if (store->server_fqdn == NULL)
		store->server_fqdn = default_fqdn();

	if (store_files_init(store, err) < 0 ||
	    store->ops->open(store, err) < 0) {
		store->ops = NULL;
		store_close(&store);
		return -1;
	}
	*store_r = store;
	return 0;
}

void store_close(struct store **storep)
{
	struct store *store = *storep;
	if (store == NULL)
		return;
	*storep = NULL;
	if (store->ops != NULL)
		store->ops->close(store);
	store_hdrcache_free(store);
	for (size_t i = 0; i < store->default_count; i++) {
		free(store->default_names[i]);
		free(store->default_special_use[i]);
	}
	free(store->default_names);
	free(store->default_special_use);
	free(store->process);
	free(store->server_fqdn);
	free(store->data_dir);
	free(store);
}

/* ---- users ---- */

static int check_password_hash(const char *hash, struct store_error *err)
{
	if (hash == NULL)
		return 0;
	size_t len = strnlen(hash, STORE_PASSWORD_HASH_MAX + 1);
	if (len > STORE_PASSWORD_HASH_MAX ||
	    !store_utf8_is_valid_text(hash, len)) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Invalid password hash");
		return -1;
	}
	return 0;
}

int store_user_create(struct store *store, const struct store_actor *actor,
		      const char *name, const char *password_hash,
		      struct store_error *err)
{
	store_error_clear(err);
	if (store_user_name_check(name, err) < 0 ||
	    check_password_hash(password_hash, err) < 0)
		return -1;
	return store->ops->user_create(store, actor, name,
				       password_hash != NULL ? password_hash
							     : "",
				       err);
}

int store_user_set_password(struct store *store, const char *name,
			    const char *password_hash, struct store_error *err)
{
	store_error_clear(err);
	if (store_user_name_check(name, err) < 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	if (check_password_hash(password_hash, err) < 0)
		return -1;
	return store->ops->user_set_password(store, name,
					     password_hash != NULL
						     ? password_hash : "",
					     err);
}

int store_user_delete(struct store *store, const struct store_actor *actor,
		      const char *name, struct store_error *err)
{
	store_error_clear(err);
	if (store_user_name_check(name, err) < 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	return store->ops->user_delete(store, actor, name, err);
}

int store_user_lookup(struct store *store, const char *name,
		      struct store_user *user_r, struct store_error *err)
{
	store_error_clear(err);
	memset(user_r, 0, sizeof(*user_r));
	if (store_user_name_check(name, err) < 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	return store->ops->user_lookup(store, name, user_r, err);
}

int store_user_foreach(struct store *store,
		       int (*cb)(const struct store_user *user, void *ctx),
		       void *ctx, struct store_error *err)
{
	store_error_clear(err);
	return store->ops->user_foreach(store, cb, ctx, err);
}

/* ---- mailboxes ---- */

int store_mailbox_name_normalize(const char *name,
				 char out[STORE_MAILBOX_NAME_MAX + 1],
				 struct store_error *err)
{
	store_error_clear(err);
	return store_name_normalize(name, out, err);
}

int store_mailbox_list(struct store *store, int64_t user_id,
		       struct store_mailbox **list_r, size_t *count_r,
		       struct store_error *err)
{
	store_error_clear(err);
	*list_r = NULL;
	*count_r = 0;
	return store->ops->mailbox_list(store, user_id, list_r, count_r, err);
}

int store_mailbox_get(struct store *store, int64_t user_id, const char *name,
		      struct store_mailbox *mailbox_r, struct store_error *err)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	store_error_clear(err);
	memset(mailbox_r, 0, sizeof(*mailbox_r));
	if (store_name_normalize(name, canon, err) < 0) {
		/* a name the store cannot hold names nothing */
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	return store->ops->mailbox_get(store, user_id, canon, mailbox_r, err);
}

int store_mailbox_get_by_id(struct store *store, int64_t mailbox_id,
			    struct store_mailbox *mailbox_r,
			    struct store_error *err)
{
	store_error_clear(err);
	memset(mailbox_r, 0, sizeof(*mailbox_r));
	return store->ops->mailbox_get_by_id(store, mailbox_id, mailbox_r,
					     err);
}

int store_mailbox_create(struct store *store, const struct store_actor *actor,
			 int64_t user_id, const char *name,
			 const char *special_use, struct store_error *err)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	char use[32];
	store_error_clear(err);
	if (store_name_normalize(name, canon, err) < 0 ||
	    store_special_use_normalize(special_use, use, err) < 0)
		return -1;
	if (store_name_is_inbox(canon)) {
		store_error_set(err, STORE_ERR_ALREADYEXISTS,
				"Mailbox already exists");
		return -1;
	}
	return store->ops->mailbox_create(store, actor, user_id, canon, use,
					  err);
}

int store_mailbox_delete(struct store *store, const struct store_actor *actor,
			 int64_t user_id, const char *name,
			 struct store_error *err)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	store_error_clear(err);
	if (store_name_normalize(name, canon, err) < 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	if (store_name_is_inbox(canon)) {
		store_error_set(err, STORE_ERR_NOPERM,
				"INBOX can't be deleted");
		return -1;
	}
	return store->ops->mailbox_delete(store, actor, user_id, canon, err);
}

int store_mailbox_rename(struct store *store, const struct store_actor *actor,
			 int64_t user_id, const char *old_name,
			 const char *new_name, struct store_error *err)
{
	char old_canon[STORE_MAILBOX_NAME_MAX + 1];
	char new_canon[STORE_MAILBOX_NAME_MAX + 1];
	store_error_clear(err);
	if (store_name_normalize(old_name, old_canon, err) < 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT,
				"Mailbox doesn't exist");
		return -1;
	}
	if (store_name_normalize(new_name, new_canon, err) < 0)
		return -1;
	if (strcmp(old_canon, new_canon) == 0 ||
	    store_name_is_inbox(new_canon)) {
		store_error_set(err, STORE_ERR_ALREADYEXISTS,
				"Mailbox already exists");
		return -1;
	}
	/* RFC 3501 §6.3.5: INBOX's children stay where they are, so only
	 * another mailbox cannot move below itself */
	if (!store_name_is_inbox(old_canon) &&
	    store_name_is_below(new_canon, old_canon)) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Can't rename a mailbox to a name below itself");
		return -1;
	}
	return store->ops->mailbox_rename(store, actor, user_id, old_canon,
					  new_canon, err);
}

int store_subscription_set(struct store *store,
			   const struct store_actor *actor, int64_t user_id,
			   const char *name, bool subscribed,
			   struct store_error *err)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	store_error_clear(err);
	if (store_name_normalize(name, canon, err) < 0)
		return -1;
	return store->ops->subscription_set(store, actor, user_id, canon,
					    subscribed, err);
}

int store_subscription_list(struct store *store, int64_t user_id,
			    char ***names_r, size_t *count_r,
			    struct store_error *err)
{
	store_error_clear(err);
	*names_r = NULL;
	*count_r = 0;
	return store->ops->subscription_list(store, user_id, names_r, count_r,
					     err);
}

void store_strings_free(char **names, size_t count)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int store_mailbox_keywords(struct store *store, int64_t mailbox_id,
			   char ***names_r, size_t *count_r,
			   struct store_error *err)
{
	store_error_clear(err);
	*names_r = NULL;
	*count_r = 0;
	return store->ops->mailbox_keywords(store, mailbox_id, names_r,
					    count_r, err);
}

int store_mailbox_claim_recent(struct store *store, int64_t mailbox_id,
			       uint32_t *first_uid_r, struct store_error *err)
{
	store_error_clear(err);
	return store->ops->mailbox_claim_recent(store, mailbox_id,
						first_uid_r, err);
}

/* ---- messages ---- */

void store_message_list_free(struct store_message_list *list)
{
	if (list == NULL)
		return;
	/* the keywords live in the same allocation as the array */
	free(list->msgs);
	list->msgs = NULL;
	list->count = 0;
}

int store_message_range(struct store *store, int64_t mailbox_id,
			uint32_t uid_lo, uint32_t uid_hi,
			struct store_message_list *list_r,
			struct store_error *err)
{
	store_error_clear(err);
	list_r->msgs = NULL;
	list_r->count = 0;
	return store->ops->message_range(store, mailbox_id, uid_lo, uid_hi,
					 list_r, err);
}

int store_body_open(struct store *store, int64_t body_id,
		    struct store_body *body_r, struct store_error *err)
{
	store_error_clear(err);
	return store->ops->body_open(store, body_id, body_r, err);
}

int store_message_append(struct store *store, const struct store_actor *actor,
			 int64_t mailbox_id, const char *data, size_t len,
			 uint32_t flags, const char *keywords,
			 int64_t internaldate, int tz_offset,
			 uint32_t *uid_r, uint32_t *uidvalidity_r,
			 struct store_error *err)
{
	store_error_clear(err);
	if (store->max_message_size != 0 && len > store->max_message_size) {
		store_error_set(err, STORE_ERR_TOOBIG, "Message is too large");
		return -1;
	}
	if (data == NULL && len > 0) {
		store_error_set(err, STORE_ERR_CANNOT, "No message data");
		return -1;
	}
	if (tz_offset < -STORE_TZ_OFFSET_MAX || tz_offset > STORE_TZ_OFFSET_MAX) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Invalid time zone offset");
		return -1;
	}
	struct store_keywords kw = { 0 };
	if (store_keywords_parse(&kw, keywords, err) < 0) {
		store_keywords_free(&kw);
		return -1;
	}
	uint32_t uid = 0, uidvalidity = 0;
	int ret = store->ops->message_append(store, actor, mailbox_id,
					     data != NULL ? data : "", len,
					     flags & STORE_FLAG_ALL, &kw,
					     internaldate, tz_offset, &uid,
					     &uidvalidity, err);
	store_keywords_free(&kw);
	if (uid_r != NULL)
		*uid_r = uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = uidvalidity;
	return ret;
}

static int uid_compare(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The backends want UIDs ascending and unique; callers promise ascending,
 * but a broken promise must not double-count anything. */
static uint32_t *uids_sorted_copy(const uint32_t *uids, size_t count,
				  size_t *count_r)
{
	uint32_t *copy = xmalloc((count ? count : 1) * sizeof(*copy));
	size_t n = 0;
	bool sorted = true;
	for (size_t i = 0; i < count; i++) {
		if (uids[i] == 0)
			continue;
		if (n > 0 && uids[i] <= copy[n - 1])
			sorted = false;
		copy[n++] = uids[i];
	}
	if (!sorted) {
		qsort(copy, n, sizeof(*copy), uid_compare);
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (k == 0 || copy[i] != copy[k - 1])
				copy[k++] = copy[i];
		}
		n = k;
	}
	*count_r = n;
	return copy;
}

int store_message_flags(struct store *store, const struct store_actor *actor,
			int64_t mailbox_id, const uint32_t *uids, size_t count,
			enum store_flag_op op, uint32_t flags,
			const char *keywords, uint32_t **changed_r,
			size_t *changed_count_r, struct store_error *err)
{
	store_error_clear(err);
	if (changed_r != NULL)
		*changed_r = NULL;
	if (changed_count_r != NULL)
		*changed_count_r = 0;
	if (op != STORE_FLAGS_REPLACE && op != STORE_FLAGS_ADD &&
	    op != STORE_FLAGS_REMOVE) {
		store_error_set(err, STORE_ERR_CANNOT, "Invalid flag operation");
		return -1;
	}
	struct store_keywords kw = { 0 };
	if (store_keywords_parse(&kw, keywords, err) < 0) {
		store_keywords_free(&kw);
		return -1;
	}
	size_t n = 0;
	uint32_t *sorted = uids_sorted_copy(uids, uids != NULL ? count : 0,
					    &n);
	int ret = store->ops->message_flags(store, actor, mailbox_id, sorted,
					    n, op, flags & STORE_FLAG_ALL, &kw,
					    changed_r, changed_count_r, err);
	free(sorted);
	store_keywords_free(&kw);
	return ret;
}

int store_message_flags_unchanged(struct store *store,
				  const struct store_actor *actor,
				  int64_t mailbox_id, const uint32_t *uids,
				  size_t count, enum store_flag_op op,
				  uint32_t flags, const char *keywords,
				  uint64_t unchangedsince,
				  uint32_t **changed_r, size_t *changed_count_r,
				  uint32_t **modified_r,
				  size_t *modified_count_r,
				  struct store_error *err)
{
	store_error_clear(err);
	if (changed_r != NULL)
		*changed_r = NULL;
	if (changed_count_r != NULL)
		*changed_count_r = 0;
	if (modified_r != NULL)
		*modified_r = NULL;
	if (modified_count_r != NULL)
		*modified_count_r = 0;
	if (op != STORE_FLAGS_REPLACE && op != STORE_FLAGS_ADD &&
	    op != STORE_FLAGS_REMOVE) {
		store_error_set(err, STORE_ERR_CANNOT, "Invalid flag operation");
		return -1;
	}
	struct store_keywords kw = { 0 };
	if (store_keywords_parse(&kw, keywords, err) < 0) {
		store_keywords_free(&kw);
		return -1;
	}
	size_t n = 0;
	uint32_t *sorted = uids_sorted_copy(uids, uids != NULL ? count : 0,
					    &n);
	int ret = 0;
	if (n > 0)
		ret = store->ops->message_flags_unchanged(store, actor,
			mailbox_id, sorted, n, op, flags & STORE_FLAG_ALL, &kw,
			unchangedsince, changed_r, changed_count_r, modified_r,
			modified_count_r, err);
	free(sorted);
	store_keywords_free(&kw);
	return ret;
}

int store_message_expunged_since(struct store *store, int64_t mailbox_id,
				 uint64_t modseq, uint32_t **uids_r,
				 size_t *count_r, struct store_error *err)
{
	store_error_clear(err);
	*uids_r = NULL;
	*count_r = 0;
	return store->ops->message_expunged_since(store, mailbox_id, modseq,
						  uids_r, count_r, err);
}

int store_group_enable(struct store *store, bool on,
		       void (*opened)(void *ctx), void *ctx,
		       struct store_error *err)
{
	store_error_clear(err);
	if (store->ops->group_enable == NULL) {
		store_error_internal(err);
		return -1;
	}
	return store->ops->group_enable(store, on, opened, ctx, err);
}

int store_group_commit(struct store *store, struct store_error *err)
{
	store_error_clear(err);
	if (store->ops->group_commit == NULL)
		return 0;
	return store->ops->group_commit(store, err);
}

int store_message_expunge(struct store *store, const struct store_actor *actor,
			  int64_t mailbox_id, const uint32_t *uids,
			  size_t count, uint32_t **expunged_r,
			  size_t *expunged_count_r, struct store_error *err)
{
	store_error_clear(err);
	if (expunged_r != NULL)
		*expunged_r = NULL;
	if (expunged_count_r != NULL)
		*expunged_count_r = 0;
	if (uids == NULL)
		return store->ops->message_expunge(store, actor, mailbox_id,
						   NULL, 0, expunged_r,
						   expunged_count_r, err);
	size_t n = 0;
	uint32_t *sorted = uids_sorted_copy(uids, count, &n);
	int ret = store->ops->message_expunge(store, actor, mailbox_id,
					      sorted, n, expunged_r,
					      expunged_count_r, err);
	free(sorted);
	return ret;
}

int store_message_expire(struct store *store, const struct store_actor *actor,
			 int64_t mailbox_id, int64_t older_than_epoch,
			 uint32_t **uids_r, size_t *count_r,
			 struct store_error *err)
{
	store_error_clear(err);
	if (uids_r != NULL)
		*uids_r = NULL;
	if (count_r != NULL)
		*count_r = 0;
	return store->ops->message_expire(store, actor, mailbox_id,
					  older_than_epoch, uids_r, count_r,
					  err);
}

int store_message_copy(struct store *store, const struct store_actor *actor,
		       int64_t src_mailbox_id, const uint32_t *uids,
		       size_t count, int64_t dst_mailbox_id, bool move,
		       uint32_t **src_uids_r, uint32_t **dst_uids_r,
		       size_t *copied_r, uint32_t *dst_uidvalidity_r,
		       struct store_error *err)
{
	store_error_clear(err);
	if (src_uids_r != NULL)
		*src_uids_r = NULL;
	if (dst_uids_r != NULL)
		*dst_uids_r = NULL;
	if (copied_r != NULL)
		*copied_r = 0;
	if (dst_uidvalidity_r != NULL)
		*dst_uidvalidity_r = 0;
	size_t n = 0;
	uint32_t *sorted = uids_sorted_copy(uids, uids != NULL ? count : 0,
					    &n);
	int ret = store->ops->message_copy(store, actor, src_mailbox_id,
					   sorted, n, dst_mailbox_id, move,
					   src_uids_r, dst_uids_r, copied_r,
					   dst_uidvalidity_r, err);
	free(sorted);
	return ret;
}

/* ---- delivery (LMTP) ---- */

/* The checks an append makes, per item: a failure is that item's alone. */
static int delivery_check(const struct store *store,
			  const struct store_delivery *item,
			  struct store_error *err)
{
	size_t header_len = item->header != NULL ? strlen(item->header) : 0;
	if (item->data == NULL && item->len > 0) {
		store_error_set(err, STORE_ERR_CANNOT, "No message data");
		return -1;
	}
	if (item->len > SIZE_MAX - header_len ||
	    (store->max_message_size != 0 &&
	     header_len + item->len > store->max_message_size)) {
		store_error_set(err, STORE_ERR_TOOBIG, "Message is too large");
		return -1;
	}
	if (item->tz_offset < -STORE_TZ_OFFSET_MAX ||
	    item->tz_offset > STORE_TZ_OFFSET_MAX) {
		store_error_set(err, STORE_ERR_CANNOT,
				"Invalid time zone offset");
		return -1;
	}
	if (item->mail_from == NULL || item->rcpt_to == NULL) {
		store_error_set(err, STORE_ERR_CANNOT, "No envelope");
		return -1;
	}
	return 0;
}

int store_message_deliver_batch(struct store *store,
				const struct store_actor *actor,
				const struct store_delivery *items,
				size_t count,
				struct store_delivery_result *results,
				struct store_error *err)
{
	store_error_clear(err);
	if (count == 0)
		return 0;
	memset(results, 0, count * sizeof(*results));
	bool any = false;
	for (size_t i = 0; i < count; i++) {
		if (delivery_check(store, &items[i], &results[i].err) < 0)
			results[i].status = -1;
		else
			any = true;
	}
	if (!any) {
		/* nothing to commit; each item says why */
		return 0;
	}
	return store->ops->message_deliver_batch(store, actor, items, count,
						 results, err);
}

int store_message_deliver(struct store *store, const struct store_actor *actor,
			  const struct store_delivery *item, uint32_t *uid_r,
			  uint32_t *uidvalidity_r, struct store_error *err)
{
	struct store_delivery_result res;
	if (uid_r != NULL)
		*uid_r = 0;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = 0;
	if (store_message_deliver_batch(store, actor, item, 1, &res, err) < 0)
		return -1;
	if (res.status < 0) {
		*err = res.err;
		return -1;
	}
	if (uid_r != NULL)
		*uid_r = res.uid;
	if (uidvalidity_r != NULL)
		*uidvalidity_r = res.uidvalidity;
	return 0;
}

/* ---- access events ---- */

int store_event_login(struct store *store, const struct store_actor *actor,
		      struct store_error *err)
{
	store_error_clear(err);
	return store->ops->event_access(store, actor, EVENT_LOGIN, err);
}

int store_event_logout(struct store *store, const struct store_actor *actor,
		       struct store_error *err)
{
	store_error_clear(err);
	return store->ops->event_access(store, actor, EVENT_LOGOUT, err);
}

/* ---- the outbox ---- */

int store_outbox_last_seq(struct store *store, int64_t *seq_r,
			  struct store_error *err)
{
	store_error_clear(err);
	*seq_r = 0;
	return store->ops->outbox_last_seq(store, seq_r, err);
}

int store_outbox_read(struct store *store, int64_t after_seq, size_t limit,
		      void (*cb)(const struct store_outbox_event *ev, void *ctx),
		      void *ctx, struct store_error *err)
{
	store_error_clear(err);
	if (limit == 0 || cb == NULL)
		return 0;
	return store->ops->outbox_read(store, after_seq, limit, cb, ctx, err);
}

int store_data_version(struct store *store, int64_t *version_r)
{
	*version_r = 0;
	return store->ops->data_version(store, version_r);
}

/* ---- sink cursors ---- */

int store_sink_cursor_get(struct store *store, const char *name,
			  int64_t *seq_r, struct store_error *err)
{
	store_error_clear(err);
	*seq_r = 0;
	if (name == NULL || name[0] == '\0') {
		store_error_set(err, STORE_ERR_CANNOT, "Empty sink name");
		return -1;
	}
	return store->ops->sink_cursor_get(store, name, seq_r, err);
}

int store_sink_cursor_set(struct store *store, const char *name, int64_t seq,
			  struct store_error *err)
{
	store_error_clear(err);
	if (name == NULL || name[0] == '\0' || seq < 0) {
		store_error_set(err, STORE_ERR_CANNOT, "Invalid sink cursor");
		return -1;
	}
	return store->ops->sink_cursor_set(store, name, seq, err);
}

int store_outbox_stats(struct store *store, int64_t *count_r,
		       int64_t *min_seq_r, int64_t *max_seq_r,
		       struct store_error *err)
{
	store_error_clear(err);
	*count_r = 0;
	*min_seq_r = 0;
	*max_seq_r = 0;
	return store->ops->outbox_stats(store, count_r, min_seq_r, max_seq_r,
					err);
}

/* ---- quota ---- */

int store_quota_get(struct store *store, int64_t user_id,
		    struct store_quota *quota_r, struct store_error *err)
{
	store_error_clear(err);
	memset(quota_r, 0, sizeof(*quota_r));
	return store->ops->quota_get(store, user_id, quota_r, err);
}

static bool store_quota_limit_valid(int64_t limit)
{
	return limit >= 0 || limit == STORE_QUOTA_KEEP ||
	       limit == STORE_QUOTA_DEFAULT;
}

int store_quota_set(struct store *store, const struct store_actor *actor,
		    const char *user_name, int64_t storage_limit,
		    int64_t message_limit, struct store_error *err)
{
	return store_quota_set_limits(store, actor, user_name, storage_limit,
				      message_limit, STORE_QUOTA_KEEP, err);
}

int store_quota_set_limits(struct store *store,
			   const struct store_actor *actor,
			   const char *user_name, int64_t storage_limit,
			   int64_t message_limit, int64_t mailbox_limit,
			   struct store_error *err)
{
	store_error_clear(err);
	if (store_user_name_check(user_name, err) < 0) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such user");
		return -1;
	}
	if (!store_quota_limit_valid(storage_limit) ||
	    !store_quota_limit_valid(message_limit) ||
	    !store_quota_limit_valid(mailbox_limit)) {
		store_error_set(err, STORE_ERR_CANNOT, "Invalid quota limit");
		return -1;
	}
	return store->ops->quota_set(store, actor, user_name, storage_limit,
				     message_limit, mailbox_limit, err);
}
