/* Outbox retention: what may go, and deleting it in short transactions. */
#include "events/outbox-prune.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "events/sink.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"
#include "store/store-outbox.h"

struct prune_scan {
	const struct config *cfg;
	struct outbox_prune *state;
	int64_t done;
};

static bool prune_sink_configured(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->sink_count; i++) {
		if (strcmp(cfg->sinks[i].name, name) == 0)
			return true;
	}
	return false;
}

static void prune_scan_row(const char *name, int64_t seq, int64_t updated,
			   void *ctx)
{
	struct prune_scan *s = ctx;
	(void)updated;
	const size_t plen = sizeof(SINK_REPLAY_PREFIX) - 1;
	bool replay = strncmp(name, SINK_REPLAY_PREFIX, plen) == 0;
	const char *sink = replay ? name + plen : name;
	if (!prune_sink_configured(s->cfg, sink)) {
		/* A sink removed from the config must not hold the outbox
		 * forever; its row stays (it may come back, from its
		 * cursor, if the rows are still kept). */
		if (replay || s->state == NULL)
			return;
		for (size_t i = 0; i < s->state->stale_count; i++) {
			if (strcmp(s->state->stale_logged[i], name) == 0)
				return;
		}
		log_info("outbox: cursor of sink '%s' (at %" PRId64 ") is not "
			 "in the config; it does not hold back pruning",
			 name, seq);
		s->state->stale_logged = xrealloc(s->state->stale_logged,
			(s->state->stale_count + 1) *
			sizeof(*s->state->stale_logged));
		s->state->stale_logged[s->state->stale_count++] =
			xstrdup(name);
		return;
	}
	/* a pending replay needs every row from its seq on */
	int64_t need = replay ? (seq > 0 ? seq - 1 : INT64_MAX) : seq;
	if (need < s->done)
		s->done = need;
}

int outbox_prune_sinks_done(struct store *store, const struct config *cfg,
			    int64_t last_seq, struct outbox_prune *state,
			    int64_t *done_r, struct store_error *err)
{
	struct prune_scan s = { cfg, state, last_seq };
	if (store_sink_cursor_foreach(store, prune_scan_row, &s, err) < 0)
		return -1;
	/* A configured sink without a row has delivered nothing yet. */
	for (size_t i = 0; i < cfg->sink_count; i++) {
		int64_t cursor;
		if (store_sink_cursor_get(store, cfg->sinks[i].name, &cursor,
					  err) < 0)
			return -1;
		if (cursor < s.done)
			s.done = cursor;
	}
	*done_r = s.done;
	return 0;
}

long outbox_prune_run(struct store *store, const struct config *cfg,
		      int64_t live_seq, int64_t now_ms,
		      struct outbox_prune *state, bool *more_r)
{
	struct store_error err;
	memset(&err, 0, sizeof(err));
	*more_r = false;
	int64_t last_seq, done;
	if (store_outbox_last_seq(store, &last_seq, &err) < 0 ||
	    outbox_prune_sinks_done(store, cfg, last_seq, state, &done,
				    &err) < 0) {
		log_error("outbox: pruning: %s", err.msg);
		return -1;
	}
	/* The live pump (IMAP sessions, NOTIFY) must have dispatched a row
	 * before it goes. */
	int64_t max_seq = done < live_seq ? done : live_seq;
	int64_t before_ms = now_ms - (int64_t)cfg->outbox_keep * 1000;
	long total = 0;
	while (total < OUTBOX_PRUNE_RUN_MAX) {
		size_t n = 0;
		if (store_outbox_prune(store, max_seq, before_ms,
				       STORE_OUTBOX_PRUNE_BATCH, &n,
				       &err) < 0) {
			log_error("outbox: pruning: %s", err.msg);
			return total > 0 ? total : -1;
		}
		total += (long)n;
		if (n < STORE_OUTBOX_PRUNE_BATCH)
			return total;
	}
	*more_r = true;
	return total;
}

void outbox_status_log(struct store *store, const struct config *cfg)
{
	struct store_error err;
	memset(&err, 0, sizeof(err));
	int64_t count, min_seq, max_seq, last_seq;
	if (store_outbox_stats(store, &count, &min_seq, &max_seq, &err) < 0 ||
	    store_outbox_last_seq(store, &last_seq, &err) < 0) {
		log_error("outbox: reading its size: %s", err.msg);
		return;
	}
	struct strbuf line = STRBUF_INIT;
	bool behind = false;
	for (size_t i = 0; i < cfg->sink_count; i++) {
		int64_t cursor;
		if (store_sink_cursor_get(store, cfg->sinks[i].name, &cursor,
					  &err) < 0) {
			log_error("outbox: reading the cursor of sink %s: %s",
				  cfg->sinks[i].name, err.msg);
			strbuf_free(&line);
			return;
		}
		int64_t lag = last_seq > cursor ? last_seq - cursor : 0;
		if (lag > 0)
			behind = true;
		strbuf_printf(&line, "%ssink %s lag %" PRId64,
			      i == 0 ? "; " : ", ", cfg->sinks[i].name, lag);
	}
	/* What `tidings events status` shows, once per prune interval: at
	 * info while some sink is behind (an operator looking at the log
	 * for a sink that is down sees it grow), else at debug. */
	if (behind)
		log_info("outbox: %" PRId64 " events, first %" PRId64
			 ", last %" PRId64 "%s", count, min_seq, last_seq,
			 strbuf_str(&line));
	else
		log_debug("outbox: %" PRId64 " events, first %" PRId64
			  ", last %" PRId64 "%s", count, min_seq, last_seq,
			  strbuf_str(&line));
	strbuf_free(&line);
}

void outbox_prune_free(struct outbox_prune *state)
{
	for (size_t i = 0; i < state->stale_count; i++)
		free(state->stale_logged[i]);
	free(state->stale_logged);
	state->stale_logged = NULL;
	state->stale_count = 0;
}
