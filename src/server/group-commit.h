/* tidingsd's group commit of IMAP, LMTP and POP3 changes (store.h
 * store_group_enable): the changes of one event-loop turn share one
 * durable commit, and no client hears of them before it. */
#ifndef TIDINGS_SERVER_GROUP_COMMIT_H
#define TIDINGS_SERVER_GROUP_COMMIT_H

#include <event2/event.h>

#include "store/store.h"

struct group_commit;
/* committed(ctx) runs after each group commit (to wake the sinks, which
 * read through their own handles and see the changes only now); may be
 * NULL.  NULL when the store cannot group its commits: then every change
 * commits on its own, as before. */
struct group_commit *group_commit_start(struct event_base *base,
					struct store *store,
					void (*committed)(void *ctx),
					void *ctx);
/* Commits what is open and returns the store to one commit per change. */
void group_commit_stop(struct group_commit **gc);

#endif
