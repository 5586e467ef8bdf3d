/* A client connection: a socket, plain or TLS, behind one interface
 * (libevent bufferevents; STARTTLS swaps in an OpenSSL filter).
 *
 * Callbacks are never made after net_conn_destroy() or
 * net_conn_close_after_flush(); both may be called from inside a callback. */
#ifndef TIDINGS_NET_CONN_H
#define TIDINGS_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

struct net_conn;

struct net_conn_callbacks {
	/* New input is in net_conn_input(). */
	void (*on_read)(struct net_conn *conn, void *ctx);
	/* The peer closed, the TLS handshake failed or a socket error
	 * happened: the owner must destroy the connection. */
	void (*on_close)(struct net_conn *conn, void *ctx, const char *reason);
	/* Output drained below the low mark (optional). */
	void (*on_drained)(struct net_conn *conn, void *ctx);
};

/* Takes ownership of fd.  tls != NULL starts a TLS server handshake at once
 * (implicit TLS, RFC 8314). */
struct net_conn *net_conn_create(struct event_base *base, int fd, SSL_CTX *tls,
				 const struct net_conn_callbacks *cb, void *ctx);
void net_conn_destroy(struct net_conn **conn);
/* Stop reading, write what is queued, then close and free: for BYE. */
void net_conn_close_after_flush(struct net_conn **conn);

struct evbuffer *net_conn_input(struct net_conn *conn);
void net_conn_write(struct net_conn *conn, const void *data, size_t len);
void net_conn_writes(struct net_conn *conn, const char *s);
/* Bytes queued and not yet written to the socket. */
size_t net_conn_output_pending(struct net_conn *conn);
void net_conn_set_reading(struct net_conn *conn, bool on);
/* Group commit (store_group_enable): while on, output written to any
 * connection stays queued, so that no reply acknowledges a change before
 * its commit is durable; off writes everything held.  Loop thread only. */
void net_conn_hold_output(bool on);
/* SO_SNDBUF for connections created from now on; 0 = the kernel's
 * default (autotuned).  Config socket_sndbuf. */
void net_conn_set_sndbuf(size_t bytes);

/* Switches to TLS (STARTTLS).  Input already buffered is discarded: nothing
 * sent in clear after STARTTLS may be taken as sent under TLS.  0 / -1. */
int net_conn_starttls(struct net_conn *conn, SSL_CTX *tls);
bool net_conn_is_tls(const struct net_conn *conn);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "" */
const char *net_conn_tls_info(struct net_conn *conn);

const char *net_conn_peer_ip(const struct net_conn *conn);
int net_conn_peer_port(const struct net_conn *conn);
int net_conn_local_port(const struct net_conn *conn);
bool net_conn_peer_is_loopback(const struct net_conn *conn);

#endif
