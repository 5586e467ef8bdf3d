/* Connections per client address, for max_connections_per_ip: a hash
 * table, so that an accept costs O(1) instead of a scan of every session
 * (which made opening N connections O(N^2)). */
#ifndef TIDINGS_NET_IPCOUNT_H
#define TIDINGS_NET_IPCOUNT_H

struct net_ipcount;

struct net_ipcount *net_ipcount_create(void);
void net_ipcount_destroy(struct net_ipcount **t);
/* Counts one more connection from ip; returns the new count. */
unsigned int net_ipcount_add(struct net_ipcount *t, const char *ip);
/* One connection from ip is gone (ignored if none is counted). */
void net_ipcount_remove(struct net_ipcount *t, const char *ip);
unsigned int net_ipcount_get(const struct net_ipcount *t, const char *ip);

#endif
