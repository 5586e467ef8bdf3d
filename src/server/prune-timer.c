/* The outbox prune timer on tidingsd's event loop. */
#include "server/prune-timer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "events/outbox-prune.h"
#include "lib/log.h"
#include "lib/xalloc.h"

struct prune_timer {
	struct event *ev;
	struct store *store;
	const struct config *cfg;
	void (*pump)(void *ctx);
	void *ctx;
	struct outbox_prune state;
};

static void prune_timer_arm(struct prune_timer *t, unsigned int seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };
	evtimer_add(t->ev, &tv);
}

static void prune_timer_tick(evutil_socket_t fd, short what, void *arg)
{
	struct prune_timer *t = arg;
	(void)fd;
	(void)what;
	struct store_error err;
	memset(&err, 0, sizeof(err));
	int64_t live = 0;
	/* Read the last seq, then run the pump: it dispatches at least
	 * every row up to there before anything is deleted. */
	if (store_outbox_last_seq(t->store, &live, &err) < 0) {
		log_error("outbox: pruning: %s", err.msg);
		prune_timer_arm(t, t->cfg->outbox_prune_interval);
		return;
	}
	if (t->pump != NULL)
		t->pump(t->ctx);
	struct timeval now;
	gettimeofday(&now, NULL);
	bool more = false;
	long n = outbox_prune_run(t->store, t->cfg, live,
				  (int64_t)now.tv_sec * 1000 +
				  now.tv_usec / 1000, &t->state, &more);
	if (n > 0)
		log_info("outbox: pruned %ld events", n);
	outbox_status_log(t->store, t->cfg);
	prune_timer_arm(t, more ? 1 : t->cfg->outbox_prune_interval);
}

struct prune_timer *prune_timer_start(struct event_base *base,
				      struct store *store,
				      const struct config *cfg,
				      void (*pump)(void *ctx), void *ctx)
{
	struct prune_timer *t = xcalloc(1, sizeof(*t));
	t->store = store;
	t->cfg = cfg;
	t->pump = pump;
	t->ctx = ctx;
	t->ev = evtimer_new(base, prune_timer_tick, t);
	if (t->ev == NULL)
		abort();
	/* the first run soon after start: a restart catches up at once */
	prune_timer_arm(t, 1);
	return t;
}

void prune_timer_destroy(struct prune_timer **tp)
{
	struct prune_timer *t = *tp;
	if (t == NULL)
		return;
	*tp = NULL;
	event_free(t->ev);
	outbox_prune_free(&t->state);
	free(t);
}
