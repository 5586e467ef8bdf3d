/* TCP listeners on "host:port" addresses. */
#ifndef TIDINGS_NET_LISTEN_H
#define TIDINGS_NET_LISTEN_H

#include <event2/event.h>

struct net_listener;

/* Calls accept_cb(fd, ctx) for each new connection; the callee owns fd.
 * NULL on failure with a message in err. */
struct net_listener *net_listener_create(struct event_base *base,
					 const char *host, int port,
					 void (*accept_cb)(int fd, void *ctx),
					 void *ctx, char *err, size_t err_size);
void net_listener_destroy(struct net_listener **listener);
/* Stop accepting (shutdown) without closing the socket yet. */
void net_listener_pause(struct net_listener *listener);

#endif
