/* tidingsd's expiry timer: the `expire` rules for every user, ~1 s after
 * start and then every expire_interval seconds.  A run is bounded
 * (EXPIRE_RUN_MAX messages) so that the event loop, which also serves
 * every session, is never held for long; what is left waits for the next
 * run, a second later. */
#define EXPIRE_WITH_LIBEVENT
#include "server/expire.h"

#include "lib/log.h"
#include "lib/xalloc.h"

#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

struct expire_timer {
	struct store *store;
	struct event *ev;
	struct config_expire_rule *rules;
	size_t rule_count;
	unsigned int interval;
	void (*on_change)(void *ctx);
	void *ctx;
	struct store_actor actor;
	/* during a run */
	int64_t now;
	size_t removed;
	bool failed;
};

static void expire_timer_report(const struct store_user *user,
				const struct store_mailbox *mb, size_t count,
				void *ctx)
{
	log_info("expiry: %zu message(s) expired from %s of %s", count,
		 mb->name, user->name);
}

static int expire_timer_user(const struct store_user *user, void *ctx)
{
	struct expire_timer *t = ctx;
	struct store_error err = { 0 };
	if (expire_user_run(t->store, &t->actor, t->rules, t->rule_count,
			    user, t->now, EXPIRE_RUN_MAX, &t->removed,
			    expire_timer_report, t, &err) < 0) {
		log_warn("expiry: user %s: %s", user->name, err.msg);
		t->failed = true;
	}
	return t->removed >= EXPIRE_RUN_MAX ? 1 : 0;
}

static void expire_timer_run(evutil_socket_t fd, short what, void *arg)
{
	struct expire_timer *t = arg;
	struct store_error err = { 0 };
	t->now = (int64_t)time(NULL);
	t->removed = 0;
	t->failed = false;
	if (store_user_foreach(t->store, expire_timer_user, t, &err) < 0)
		log_warn("expiry: listing users: %s", err.msg);
	if (t->removed > 0 && t->on_change != NULL)
		t->on_change(t->ctx);
	/* more to do: come back soon rather than after a whole interval */
	struct timeval tv = {
		.tv_sec = t->removed >= EXPIRE_RUN_MAX ? 1 : t->interval,
	};
	event_add(t->ev, &tv);
}

struct expire_timer *expire_timer_start(struct event_base *base,
					struct store *store,
					const struct config *cfg,
					void (*on_change)(void *ctx),
					void *ctx)
{
	struct config_expire_rule *rules = NULL;
	size_t count = 0;
	char err[256];
	/* config_load() checked the value already */
	if (config_parse_expire(cfg->expire, &rules, &count, err,
				sizeof(err)) < 0) {
		log_error("expiry: %s", err);
		return NULL;
	}
	if (count == 0)
		return NULL;
	struct expire_timer *t = xcalloc(1, sizeof(*t));
	t->store = store;
	t->rules = rules;
	t->rule_count = count;
	t->interval = cfg->expire_interval > 0 ? cfg->expire_interval : 3600;
	t->on_change = on_change;
	t->ctx = ctx;
	t->actor.service = "expiry";
	t->ev = evtimer_new(base, expire_timer_run, t);
	struct timeval tv = { .tv_sec = 1 };
	event_add(t->ev, &tv);
	return t;
}

void expire_timer_destroy(struct expire_timer **timer)
{
	struct expire_timer *t = *timer;
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t->rules);
	free(t);
	*timer = NULL;
}
