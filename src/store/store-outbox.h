/* Outbox upkeep: pruning the rows every sink has delivered, and listing
 * the sinks' cursor rows (docs/events.md "Outbox retention").  Used by
 * tidingsd's prune timer (events/outbox-prune.c) and `tidings events`. */
#ifndef TIDINGS_STORE_OUTBOX_H
#define TIDINGS_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Rows one prune transaction deletes at most: the write lock is held for
 * a few milliseconds, never long enough to delay an APPEND or delivery. */
#define STORE_OUTBOX_PRUNE_BATCH 2000

/* Deletes, in one transaction, at most limit (<= STORE_OUTBOX_PRUNE_BATCH)
 * of the oldest outbox rows with seq <= max_seq and created before
 * before_ms (milliseconds since the epoch).  *deleted_r: rows removed. */
int store_outbox_prune(struct store *store, int64_t max_seq,
		       int64_t before_ms, size_t limit, size_t *deleted_r,
		       struct store_error *err);

/* Calls cb for each row of the sink cursor table, in name order: the
 * sinks' cursors and their pending replay requests ("replay/NAME"). */
int store_sink_cursor_foreach(struct store *store,
			      void (*cb)(const char *name, int64_t seq,
					 int64_t updated, void *ctx),
			      void *ctx, struct store_error *err);

#endif
