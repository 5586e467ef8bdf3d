/* The IMAP server: listeners, sessions, and the event pump that drives every
 * session's untagged updates. */
#ifndef TIDINGS_IMAP_SERVER_H
#define TIDINGS_IMAP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config/config.h"
#include "store/store.h"

struct imap_server;

struct imap_server *imap_server_create(struct event_base *base,
				       const struct config *cfg,
				       struct store *store, SSL_CTX *tls);
/* Listens on "host:port"; implicit_tls for IMAPS.  0 or -1 with err. */
int imap_server_listen(struct imap_server *srv, const char *host, int port,
		       bool implicit_tls, char *err, size_t err_size);
/* Stops accepting and says BYE to every session (they close once their
 * output is written).  Commands run to completion before this is called:
 * the server is single-threaded and every commit finishes inside its
 * command. */
void imap_server_shutdown(struct imap_server *srv);
void imap_server_destroy(struct imap_server **srv);
/* Called after every commit this process makes (after the pump ran). */
void imap_server_set_change_hook(struct imap_server *srv,
				 void (*hook)(void *ctx), void *ctx);
unsigned int imap_server_session_count(const struct imap_server *srv);
/* Runs the event pump now: for changes committed outside the IMAP
 * sessions (LMTP deliveries), so IDLE sessions hear of them at once. */
void imap_server_notify_changed(struct imap_server *srv);

#endif
