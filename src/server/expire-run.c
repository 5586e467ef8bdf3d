/* The expiry rules applied to one user's mailboxes (shared by tidingsd
 * and the tidings CLI). */
#include "server/expire.h"

#include "lib/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int64_t expire_mailbox_age(const struct config_expire_rule *rules,
			   size_t rule_count, const struct store_mailbox *mb)
{
	int64_t age = 0;
	for (size_t i = 0; i < rule_count; i++) {
		const struct config_expire_rule *r = &rules[i];
		bool match;
		if (r->special_use) {
			match = mb->special_use[0] != '\0' &&
				strcasecmp(r->target, mb->special_use) == 0;
		} else {
			/* compare canonical forms: "inbox" names INBOX */
			char canon[STORE_MAILBOX_NAME_MAX + 1];
			struct store_error err;
			match = store_mailbox_name_normalize(r->target, canon,
							     &err) == 0 &&
				strcmp(canon, mb->name) == 0;
		}
		if (match && (age == 0 || r->age < age))
			age = r->age;
	}
	return age;
}

int expire_user_run(struct store *store, const struct store_actor *actor,
		    const struct config_expire_rule *rules, size_t rule_count,
		    const struct store_user *user, int64_t now, size_t limit,
		    size_t *removed_io, expire_report_fn *report, void *ctx,
		    struct store_error *err)
{
	struct store_mailbox *list = NULL;
	size_t count = 0;
	if (rule_count == 0)
		return 0;
	if (store_mailbox_list(store, user->id, &list, &count, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < count && ret == 0; i++) {
		const struct store_mailbox *mb = &list[i];
		if (mb->noselect)
			continue;
		int64_t age = expire_mailbox_age(rules, rule_count, mb);
		if (age <= 0)
			continue;
		size_t total = 0;
		for (;;) {
			if (limit != 0 && *removed_io >= limit)
				break;
			size_t n = 0;
			if (store_message_expire(store, actor, mb->id,
						 now - age, NULL, &n,
						 err) < 0) {
				/* gone meanwhile: nothing to expire there */
				if (err->code == STORE_ERR_NONEXISTENT)
					break;
				ret = -1;
				break;
			}
			total += n;
			*removed_io += n;
			if (n < STORE_EXPIRE_BATCH_MAX)
				break;
		}
		if (total > 0 && report != NULL)
			report(user, mb, total, ctx);
		if (limit != 0 && *removed_io >= limit)
			break;
	}
	free(list);
	return ret;
}
