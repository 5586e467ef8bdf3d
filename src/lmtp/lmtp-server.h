/* The LMTP server (RFC 2033): the MTA's way in.  Sessions on TCP or Unix
 * sockets; every message is durable before its 250, and the DATAs that
 * complete in the same loop turn (every recipient of one DATA, and DATAs
 * of several connections) are committed together in one store transaction
 * (group commit).  Each delivery emits MessageNew through the outbox; after
 * each commit on_commit(ctx) is called so the event pump can run at once. */
#ifndef TIDINGS_LMTP_SERVER_H
#define TIDINGS_LMTP_SERVER_H

#include <stddef.h>

#include <event2/event.h>

#include "config/config.h"
#include "store/store.h"

/* The default of lmtp_max_recipients: recipients accepted per
 * transaction; more get 452 4.5.3 (RFC 5321 §4.5.3.1.8 requires at least
 * 100). */
#define LMTP_MAX_RECIPIENTS 100

struct lmtp_server;

struct lmtp_server *lmtp_server_create(struct event_base *base,
				       const struct config *cfg,
				       struct store *store,
				       void (*on_commit)(void *ctx),
				       void *ctx);
/* address: "host:port", "[v6]:port", or a Unix socket path starting with
 * '/' (a stale socket file there is replaced; mode 0660).  0 or -1 with
 * err. */
int lmtp_server_listen(struct lmtp_server *srv, const char *address,
		       char *err, size_t err_size);
/* Stops accepting; idle sessions get 421 and close; a session waiting for
 * its commit gets its replies first. */
void lmtp_server_shutdown(struct lmtp_server *srv);
void lmtp_server_destroy(struct lmtp_server **srv);
unsigned int lmtp_server_session_count(const struct lmtp_server *srv);

#endif
