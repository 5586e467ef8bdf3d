/* Group commit for the loop's store handle.
 *
 * Every change a command, a delivery or a timer makes through the loop's
 * store joins one open transaction (store_group_enable).  When that
 * transaction opens, all client output is held (net_conn_hold_output) and
 * an event is made active; libevent runs it after the callbacks already
 * active in this loop turn (the other sockets that were ready), so all
 * their changes share one COMMIT and one fsync.  Only after the COMMIT is
 * durable does the held output go out: a 250 or a tagged OK never
 * precedes the durability of what it acknowledges, and no other client
 * (IDLE, NOTIFY) hears of a change before then.  The sink threads and the
 * CLI use their own handles, so they see it only once it is committed.
 *
 * A failed group COMMIT leaves this process's sessions believing in
 * changes that were rolled back, and the only safe answer is the one a
 * crash gives: stop without sending any of the held replies, and let the
 * restart find the store as it was at the last durable commit. */
#include "server/group-commit.h"

#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "net/net-conn.h"

struct group_commit {
	struct store *store;
	struct event *ev;
	void (*committed)(void *ctx);
	void *ctx;
};

static void group_commit_run(evutil_socket_t fd, short what, void *arg)
{
	struct group_commit *gc = arg;
	struct store_error err;
	if (store_group_commit(gc->store, &err) < 0) {
		log_error("tidingsd: a group commit failed (%s): stopping "
			  "without acknowledging its changes", err.msg);
		_exit(EXIT_FAILURE);
	}
	net_conn_hold_output(false);
	if (gc->committed != NULL)
		gc->committed(gc->ctx);
}

static void group_commit_opened(void *ctx)
{
	struct group_commit *gc = ctx;
	net_conn_hold_output(true);
	event_active(gc->ev, 0, 0);
}

struct group_commit *group_commit_start(struct event_base *base,
					struct store *store,
					void (*committed)(void *ctx),
					void *ctx)
{
	struct group_commit *gc = xcalloc(1, sizeof(*gc));
	gc->store = store;
	gc->committed = committed;
	gc->ctx = ctx;
	gc->ev = event_new(base, -1, 0, group_commit_run, gc);
	struct store_error err;
	if (store_group_enable(store, true, group_commit_opened, gc,
			       &err) < 0) {
		log_warn("tidingsd: no group commit: %s", err.msg);
		event_free(gc->ev);
		free(gc);
		return NULL;
	}
	return gc;
}

void group_commit_stop(struct group_commit **gcp)
{
	struct group_commit *gc = *gcp;
	if (gc == NULL)
		return;
	*gcp = NULL;
	struct store_error err;
	if (store_group_enable(gc->store, false, NULL, NULL, &err) < 0) {
		log_error("tidingsd: the last group commit failed (%s): "
			  "stopping without acknowledging its changes",
			  err.msg);
		_exit(EXIT_FAILURE);
	}
	net_conn_hold_output(false);
	if (gc->committed != NULL)
		gc->committed(gc->ctx);
	event_free(gc->ev);
	free(gc);
}
