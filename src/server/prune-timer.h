/* tidingsd's outbox prune timer (events/outbox-prune.h): every
 * outbox_prune_interval seconds, or a second after a run that left rows. */
#ifndef TIDINGS_SERVER_PRUNE_TIMER_H
#define TIDINGS_SERVER_PRUNE_TIMER_H

#include <event2/event.h>

#include "config/config.h"
#include "store/store.h"

struct prune_timer;
/* pump(ctx) runs the live event pump just before each run: every row up
 * to the outbox's last seq read before that call is then dispatched. */
struct prune_timer *prune_timer_start(struct event_base *base,
				      struct store *store,
				      const struct config *cfg,
				      void (*pump)(void *ctx), void *ctx);
void prune_timer_destroy(struct prune_timer **timer);

#endif
