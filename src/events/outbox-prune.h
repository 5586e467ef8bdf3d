/* Outbox retention (docs/events.md "Outbox retention"): tidingsd deletes
 * outbox rows that every configured sink has delivered, that the live
 * event pump has dispatched, and that are older than outbox_keep seconds
 * (kept that long for `tidings events replay`). */
#ifndef TIDINGS_OUTBOX_PRUNE_H
#define TIDINGS_OUTBOX_PRUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "store/store.h"

/* Rows one run deletes at most (in transactions of
 * STORE_OUTBOX_PRUNE_BATCH); a run that hits it asks to run again soon. */
#define OUTBOX_PRUNE_RUN_MAX 50000

struct outbox_prune {
	/* cursor rows of sinks not in the config, already logged */
	char **stale_logged;
	size_t stale_count;
};

/* The highest seq every configured sink of cfg has delivered (its cursor,
 * or one below a pending replay); last_seq when cfg has no sinks.  Rows
 * of sinks no longer in cfg are ignored (logged once per name when
 * state is not NULL).  0 / -1 with err. */
int outbox_prune_sinks_done(struct store *store, const struct config *cfg,
			    int64_t last_seq, struct outbox_prune *state,
			    int64_t *done_r, struct store_error *err);

/* One run: deletes rows with seq <= min(sinks done, live_seq) created
 * more than cfg->outbox_keep seconds before now_ms.  *more_r: it stopped
 * at OUTBOX_PRUNE_RUN_MAX with rows left.  Returns rows deleted, or -1
 * (logged). */
long outbox_prune_run(struct store *store, const struct config *cfg,
		      int64_t live_seq, int64_t now_ms,
		      struct outbox_prune *state, bool *more_r);
void outbox_prune_free(struct outbox_prune *state);

/* Logs the outbox's size and each configured sink's lag (events behind
 * the last seq): at info when a sink is behind, else at debug. */
void outbox_status_log(struct store *store, const struct config *cfg);

#endif
