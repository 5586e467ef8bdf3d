/* The POP3 server (RFC 1939 with CAPA RFC 2449, STLS RFC 2595, AUTH PLAIN
 * RFC 5034, RESP-CODES and AUTH-RESP-CODE RFC 3206).
 *
 * The maildrop is the user's INBOX as it was at login: its UIDs are kept
 * for the whole session (RFC 1939 §8 numbers must not change), UIDL is
 * "<uidvalidity>.<uid>" and so stable across sessions and restarts, and
 * DELE only marks.  The marked messages are expunged through the store
 * (MessageExpunge events, so IMAP sessions see EXPUNGE) when QUIT is given
 * in the TRANSACTION state; a connection lost before QUIT deletes nothing.
 * After each store commit on_commit(ctx) is called (run the event pump). */
#ifndef TIDINGS_POP3_SERVER_H
#define TIDINGS_POP3_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config/config.h"
#include "store/store.h"

struct pop3_server;

/* tls may be NULL (then no STLS and no implicit TLS). */
struct pop3_server *pop3_server_create(struct event_base *base,
				       const struct config *cfg,
				       struct store *store, SSL_CTX *tls,
				       void (*on_commit)(void *ctx),
				       void *ctx);
/* Listens on "host:port" / "[v6]:port"; implicit_tls for POP3S (RFC 8314).
 * 0 or -1 with err. */
int pop3_server_listen(struct pop3_server *srv, const char *address,
		       bool implicit_tls, char *err, size_t err_size);
/* Stops accepting; every session gets "-ERR [SYS/TEMP] Server shutting
 * down" and closes without the UPDATE state (nothing is deleted).  A
 * session that is writing a message closes after it. */
void pop3_server_shutdown(struct pop3_server *srv);
void pop3_server_destroy(struct pop3_server **srv);
unsigned int pop3_server_session_count(const struct pop3_server *srv);

#endif
