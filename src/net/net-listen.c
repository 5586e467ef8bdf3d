#include "net/net-listen.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/listener.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct net_listener {
	struct evconnlistener *lev;
	void (*accept_cb)(int fd, void *ctx);
	void *ctx;
};

static void listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
			    struct sockaddr *sa, int socklen, void *arg)
{
	struct net_listener *l = arg;
	l->accept_cb(fd, l->ctx);
}

static void listener_error(struct evconnlistener *lev, void *arg)
{
	/* EMFILE and friends: keep the listener; the next accept may work. */
	log_warn("accept failed: %s", strerror(errno));
}

struct net_listener *net_listener_create(struct event_base *base,
					 const char *host, int port,
					 void (*accept_cb)(int fd, void *ctx),
					 void *ctx, char *err, size_t err_size)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	int rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, err_size, "%s:%d: %s", host, port, gai_strerror(rc));
		return NULL;
	}
	struct net_listener *l = xcalloc(1, sizeof(*l));
	l->accept_cb = accept_cb;
	l->ctx = ctx;
	l->lev = evconnlistener_new_bind(base, listener_accept, l,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		1024, res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (l->lev == NULL) {
		snprintf(err, err_size, "cannot listen on %s:%d: %s", host, port,
			 strerror(errno));
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->lev, listener_error);
	return l;
}

void net_listener_pause(struct net_listener *l)
{
	evconnlistener_disable(l->lev);
}

void net_listener_destroy(struct net_listener **lp)
{
	struct net_listener *l = *lp;
	if (l == NULL)
		return;
	*lp = NULL;
	evconnlistener_free(l->lev);
	free(l);
}
