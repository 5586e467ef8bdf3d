/* Message expiry (docs/configuration.md, "Expiry"): the `expire` rules
 * applied to a user's mailboxes, by tidingsd on a timer and by
 * `tidings expire [USER]`.  Messages go through store_message_expire(),
 * the expunge path with MessageExpire as the event (RFC 5423 §4.1). */
#ifndef TIDINGS_SERVER_EXPIRE_H
#define TIDINGS_SERVER_EXPIRE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

/* Most messages one run of tidingsd's timer sets out to remove; a run
 * stops once it has removed this many (each store call removes at most
 * STORE_EXPIRE_BATCH_MAX in one transaction), and the next run follows
 * a second later instead of after expire_interval. */
#define EXPIRE_RUN_MAX 10000

/* Called for each mailbox where messages were expired. */
typedef void expire_report_fn(const struct store_user *user,
			      const struct store_mailbox *mailbox,
			      size_t count, void *ctx);

/* The age (seconds) the rules give mailbox mb: the shortest of the rules
 * that name it by SPECIAL-USE attribute (case-insensitive) or by name;
 * 0 when none does. */
int64_t expire_mailbox_age(const struct config_expire_rule *rules,
			   size_t rule_count, const struct store_mailbox *mb);

/* Applies the rules to every mailbox of user at time now.  *removed_io
 * grows by what was removed; stops early (returning 0) once it reaches
 * limit (0 = no limit).  report may be NULL.  0, or -1 with err. */
int expire_user_run(struct store *store, const struct store_actor *actor,
		    const struct config_expire_rule *rules, size_t rule_count,
		    const struct store_user *user, int64_t now, size_t limit,
		    size_t *removed_io, expire_report_fn *report, void *ctx,
		    struct store_error *err);

#ifdef EXPIRE_WITH_LIBEVENT
struct event_base;
struct expire_timer;
/* Runs the rules for every user ~1 s after start, then every
 * cfg->expire_interval seconds; on_change(ctx) after a run that removed
 * messages (so IMAP sessions hear the EXPUNGEs).  NULL when cfg has no
 * rules. */
struct expire_timer *expire_timer_start(struct event_base *base,
					struct store *store,
					const struct config *cfg,
					void (*on_change)(void *ctx),
					void *ctx);
void expire_timer_destroy(struct expire_timer **timer);
#endif

#endif
