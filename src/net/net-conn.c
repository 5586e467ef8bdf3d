#include "net/net-conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "lib/xalloc.h"

struct net_conn {
	struct bufferevent *bev;
	struct net_conn_callbacks cb;
	void *ctx;
	bool tls;
	bool closing;
	struct event *close_timer;   /* polls the TLS filter's socket side */
	unsigned int close_ticks;
	char peer_ip[INET6_ADDRSTRLEN];
	int peer_port;
	int local_port;
	bool loopback;
	char tls_info[96];
	/* output held by net_conn_hold_output(), on the held list */
	bool held;
	struct net_conn *held_next, **held_prevp;
	/* inside on_read: a free asked for then waits until it returns */
	bool in_read;
	bool free_deferred;
	/* Plain socket: output is sent by conn_flush() straight from the
	 * bufferevent's output buffer; libevent's write event is enabled
	 * (armed) only while the kernel did not take all of it. */
	bool direct;
	bool armed;
	/* on the flush list */
	bool queued;
	struct net_conn *flush_next, *flush_prev;
};

/* Group commit: while on, every connection written to stops writing to
 * its socket until net_conn_hold_output(false). */
static bool hold_active;
static struct net_conn *held_head;

static size_t conn_sndbuf;

void net_conn_set_sndbuf(size_t bytes)
{
	conn_sndbuf = bytes;
}

/* Direct writes.  Waking libevent's write event for every response costs
 * two epoll_ctl calls and a loop turn per connection written to, which is
 * most of the cost of a NOTIFY fan-out to thousands of sessions.  So a
 * plain connection's output is queued in its bufferevent with the write
 * event disabled, the connection goes on the flush list, and one event
 * in the next loop turn sends each connection's output with one
 * sendmsg(): all the lines a command or a push wrote in one go.
 * Only what the kernel does not take is left to libevent. */
static struct net_conn flush_head = {
	.flush_next = &flush_head, .flush_prev = &flush_head,
};
static struct event *flush_ev;  /* on the one loop of tidingsd, made on first use */
static bool flush_scheduled;

static void conn_flush_unlink(struct net_conn *conn)
{
	if (!conn->queued)
		return;
	conn->flush_prev->flush_next = conn->flush_next;
	conn->flush_next->flush_prev = conn->flush_prev;
	conn->flush_next = conn->flush_prev = NULL;
	conn->queued = false;
}

static void conn_flush_run(evutil_socket_t fd, short what, void *arg);

static void conn_flush_schedule(struct net_conn *conn)
{
	if (conn->queued)
		return;
	conn->flush_prev = flush_head.flush_prev;
	conn->flush_next = &flush_head;
	flush_head.flush_prev->flush_next = conn;
	flush_head.flush_prev = conn;
	conn->queued = true;
	if (flush_scheduled)
		return;
	if (flush_ev == NULL)
		flush_ev = event_new(bufferevent_get_base(conn->bev), -1, 0,
				     conn_flush_run, NULL);
	/* A timer due at once runs in the next loop turn, after the sockets
	 * found ready then: the order in which libevent's write event used
	 * to send (a peer's close seen before the replies of that turn go
	 * out), and what on_drained writes inside the flush (a streamed
	 * FETCH) waits a turn, so one fast reader cannot starve the rest. */
	static const struct timeval now = { 0, 0 };
	flush_scheduled = true;
	event_add(flush_ev, &now);
}

static void conn_hold(struct net_conn *conn)
{
	if (!hold_active || conn->held)
		return;
	/* before the data goes in: a TLS bufferevent would write it at once */
	bufferevent_disable(conn->bev, EV_WRITE);
	conn->armed = false;
	conn_flush_unlink(conn);
	conn->held = true;
	conn->held_next = held_head;
	if (held_head != NULL)
		held_head->held_prevp = &conn->held_next;
	conn->held_prevp = &held_head;
	held_head = conn;
}

static void conn_unhold(struct net_conn *conn)
{
	if (!conn->held)
		return;
	*conn->held_prevp = conn->held_next;
	if (conn->held_next != NULL)
		conn->held_next->held_prevp = conn->held_prevp;
	conn->held = false;
}

void net_conn_hold_output(bool on)
{
	hold_active = on;
	if (on)
		return;
	while (held_head != NULL) {
		struct net_conn *conn = held_head;
		conn_unhold(conn);
		if (conn->direct) {
			conn_flush_schedule(conn);
			continue;
		}
		bufferevent_enable(conn->bev, EV_WRITE);
		/* after STARTTLS in the held turn the socket side was
		 * disabled too (net_conn_starttls) */
		struct bufferevent *under = bufferevent_get_underlying(conn->bev);
		if (under != NULL)
			bufferevent_enable(under, EV_WRITE);
	}
}

static size_t conn_pending(struct net_conn *conn);
static void conn_free(struct net_conn *conn);

/* Input that produced no reply (half a command, a literal in pieces) is
 * acknowledged at once.  Otherwise a client with Nagle's algorithm on
 * (most of them: Python's imaplib, many MUAs) holds its next small
 * segment, e.g. the CRLF after an APPEND literal, until the kernel's
 * delayed ACK fires some 40 ms later, since there is no reply for the
 * ACK to ride on.  TCP_QUICKACK is not sticky, so it is set per read;
 * replies carry their own ACK as before. */
static void conn_ack_now(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd < 0)
		return;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *conn = arg;
	if (conn->closing || conn->cb.on_read == NULL)
		return;
	size_t before = conn_pending(conn);
	conn->in_read = true;
	conn->cb.on_read(conn, conn->ctx);
	conn->in_read = false;
	if (conn->free_deferred) {
		conn_free(conn);
		return;
	}
	if (!conn->closing && conn_pending(conn) == before)
		conn_ack_now(bev);
}

/* Bytes not yet handed to the kernel: with a TLS filter (STARTTLS) the
 * filter's buffer empties into the socket bufferevent beneath it, which
 * must drain too before the connection may be freed. */
static size_t conn_pending(struct net_conn *conn)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(conn->bev));
	struct bufferevent *under = bufferevent_get_underlying(conn->bev);
	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

static void conn_free(struct net_conn *conn)
{
	if (conn->in_read) {
		conn->free_deferred = true;
		return;
	}
	conn_unhold(conn);
	conn_flush_unlink(conn);
	if (conn->close_timer != NULL)
		event_free(conn->close_timer);
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	free(conn);
}

/* Sends what the output buffer holds without waiting for the write
 * event; may free conn (closing) or call on_drained.  What the kernel
 * does not take, and any error, is left to libevent: the write event is
 * armed, libevent writes the rest (or meets the error again and reports
 * it to conn_event_cb, so EPIPE or ECONNRESET still close the session). */
static void conn_flush(struct net_conn *conn)
{
	if (!conn->direct || conn->held || conn->armed)
		return;
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	if (evbuffer_get_length(out) == 0)
		return;
	evutil_socket_t fd = bufferevent_getfd(conn->bev);
	while (fd >= 0 && evbuffer_get_length(out) > 0) {
		struct evbuffer_iovec v[16];
		struct iovec iov[16];
		int n = evbuffer_peek(out, -1, NULL, v, 16);
		if (n > 16)
			n = 16;
		size_t want = 0;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
			want += v[i].iov_len;
		}
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t sent = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0)
			break;
		/* libevent freezes the start of a socket bufferevent's output
		 * buffer outside its own writes */
		evbuffer_unfreeze(out, 1);
		evbuffer_drain(out, (size_t)sent);
		evbuffer_freeze(out, 1);
		if ((size_t)sent < want)
			break;          /* the socket buffer is full */
	}
	if (evbuffer_get_length(out) > 0) {
		conn->armed = true;
		bufferevent_enable(conn->bev, EV_WRITE);
		return;
	}
	if (conn->closing) {
		conn_free(conn);
		return;
	}
	if (conn->cb.on_drained != NULL)
		conn->cb.on_drained(conn, conn->ctx);
}

static void conn_flush_run(evutil_socket_t fd, short what, void *arg)
{
	flush_scheduled = false;
	/* this pass takes the list as it is: what on_drained writes now
	 * waits for the next pass */
	struct net_conn batch = {
		.flush_next = &batch, .flush_prev = &batch,
	};
	if (flush_head.flush_next != &flush_head) {
		batch.flush_next = flush_head.flush_next;
		batch.flush_prev = flush_head.flush_prev;
		batch.flush_next->flush_prev = &batch;
		batch.flush_prev->flush_next = &batch;
		flush_head.flush_next = flush_head.flush_prev = &flush_head;
	}
	while (batch.flush_next != &batch) {
		struct net_conn *conn = batch.flush_next;
		/* unlinked first: on_drained may free it, or any other */
		conn_flush_unlink(conn);
		conn_flush(conn);
	}
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *conn = arg;
	if (conn->direct && conn->armed) {
		/* all written: back to direct writes */
		conn->armed = false;
		bufferevent_disable(bev, EV_WRITE);
	}
	if (conn->closing) {
		if (conn_pending(conn) == 0)
			conn_free(conn);
		return;
	}
	if (conn->cb.on_drained != NULL)
		conn->cb.on_drained(conn, conn->ctx);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct net_conn *conn = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (conn->closing) {
		conn_free(conn);
		return;
	}
	const char *reason = "Connection closed";
	if (what & BEV_EVENT_TIMEOUT)
		reason = "Timed out";
	else if (what & BEV_EVENT_ERROR)
		reason = conn->tls && bufferevent_get_openssl_error(bev) != 0 ?
			 "TLS error" : "Connection error";
	ERR_clear_error();
	if (conn->cb.on_close != NULL)
		conn->cb.on_close(conn, conn->ctx, reason);
}

static void conn_setup(struct net_conn *conn)
{
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  conn);
	if (conn->direct) {
		/* a new bufferevent starts with EV_WRITE enabled */
		bufferevent_disable(conn->bev, EV_WRITE);
		bufferevent_enable(conn->bev, EV_READ);
	} else {
		bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	}
}

struct net_conn *net_conn_create(struct event_base *base, int fd, SSL_CTX *tls,
				 const struct net_conn_callbacks *cb, void *ctx)
{
	struct net_conn *conn = xcalloc(1, sizeof(*conn));
	conn->cb = *cb;
	conn->ctx = ctx;

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, conn->peer_ip, sizeof(conn->peer_ip));
			conn->peer_port = ntohs(in->sin_port);
			conn->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, conn->peer_ip, sizeof(conn->peer_ip));
			conn->peer_port = ntohs(in6->sin6_port);
			conn->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		} else {
			snprintf(conn->peer_ip, sizeof(conn->peer_ip), "local");
			conn->loopback = true;
		}
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			conn->local_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			conn->local_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (conn_sndbuf > 0) {
		/* bounds the kernel memory a client that does not read can
		 * hold (the kernel doubles the value for its bookkeeping) */
		int sz = (int)conn_sndbuf;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	evutil_make_socket_nonblocking(fd);

	if (tls != NULL) {
		SSL *ssl = SSL_new(tls);
		if (ssl == NULL) {
			close(fd);
			free(conn);
			return NULL;
		}
		conn->bev = bufferevent_openssl_socket_new(base, fd, ssl,
			BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		conn->tls = true;
	} else {
		conn->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
		conn->direct = true;
	}
	if (conn->bev == NULL) {
		close(fd);
		free(conn);
		return NULL;
	}
	if (conn->tls)
		bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	conn_setup(conn);
	return conn;
}

void net_conn_destroy(struct net_conn **connp)
{
	struct net_conn *conn = *connp;
	if (conn == NULL)
		return;
	*connp = NULL;
	conn_free(conn);
}

/* 5 ms checks, for at most 10 s: a peer that does not read is cut off. */
#define CLOSE_TICK_USEC 5000
#define CLOSE_TICKS_MAX 2000

static void conn_close_tick(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *conn = arg;
	if (conn_pending(conn) == 0 || ++conn->close_ticks >= CLOSE_TICKS_MAX)
		conn_free(conn);
}

void net_conn_close_after_flush(struct net_conn **connp)
{
	struct net_conn *conn = *connp;
	if (conn == NULL)
		return;
	*connp = NULL;
	conn->closing = true;
	bufferevent_disable(conn->bev, EV_READ);
	if (conn_pending(conn) == 0) {
		conn_free(conn);
		return;
	}
	/* held: the flush after the hold sends it and frees conn */
	if (conn->direct && !conn->held && !conn->armed)
		conn_flush_schedule(conn);
	/* The write callback frees a plain connection once its output is
	 * written; the timer also covers the TLS filter's socket side, whose
	 * draining the filter does not report. */
	struct timeval tick = { 0, CLOSE_TICK_USEC };
	conn->close_timer = event_new(bufferevent_get_base(conn->bev), -1,
				      EV_PERSIST, conn_close_tick, conn);
	event_add(conn->close_timer, &tick);
}

struct evbuffer *net_conn_input(struct net_conn *conn)
{
	return bufferevent_get_input(conn->bev);
}

void net_conn_write(struct net_conn *conn, const void *data, size_t len)
{
	conn_hold(conn);
	bufferevent_write(conn->bev, data, len);
	if (conn->direct && !conn->held && !conn->armed)
		conn_flush_schedule(conn);
}

void net_conn_writes(struct net_conn *conn, const char *s)
{
	net_conn_write(conn, s, strlen(s));
}

size_t net_conn_output_pending(struct net_conn *conn)
{
	/* The top layer only: its write callback is what resumes a paused
	 * writer (after STARTTLS the socket side beneath may hold more). */
	return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

void net_conn_set_reading(struct net_conn *conn, bool on)
{
	if (on)
		bufferevent_enable(conn->bev, EV_READ);
	else
		bufferevent_disable(conn->bev, EV_READ);
}

int net_conn_starttls(struct net_conn *conn, SSL_CTX *tls)
{
	if (conn->tls)
		return -1;
	SSL *ssl = SSL_new(tls);
	if (ssl == NULL)
		return -1;
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (conn->direct) {
		/* from now on the TLS filter writes to the socket side */
		conn_flush_unlink(conn);
		conn->direct = false;
		conn->armed = false;
		if (!conn->held)
			bufferevent_enable(conn->bev, EV_WRITE);
	}
	struct bufferevent *filtered = bufferevent_openssl_filter_new(
		bufferevent_get_base(conn->bev), conn->bev, ssl,
		BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (filtered == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(filtered, 1);
	conn->bev = filtered;
	conn->tls = true;
	conn_setup(conn);
	/* still held: the socket side beneath is, and the filter is too */
	if (conn->held)
		bufferevent_disable(conn->bev, EV_WRITE);
	return 0;
}

bool net_conn_is_tls(const struct net_conn *conn)
{
	return conn->tls;
}

const char *net_conn_tls_info(struct net_conn *conn)
{
	if (!conn->tls)
		return "";
	SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
	if (ssl == NULL)
		return "";
	snprintf(conn->tls_info, sizeof(conn->tls_info), "%s %s",
		 SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	return conn->tls_info;
}

const char *net_conn_peer_ip(const struct net_conn *conn)
{
	return conn->peer_ip;
}

int net_conn_peer_port(const struct net_conn *conn)
{
	return conn->peer_port;
}

int net_conn_local_port(const struct net_conn *conn)
{
	return conn->local_port;
}

bool net_conn_peer_is_loopback(const struct net_conn *conn)
{
	return conn->loopback;
}
