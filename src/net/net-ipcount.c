#include "net/net-ipcount.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct ipcount_entry {
	struct ipcount_entry *next;
	unsigned int count;
	char ip[INET6_ADDRSTRLEN];
};

struct net_ipcount {
	struct ipcount_entry **buckets;
	size_t nbuckets;        /* a power of two */
	size_t entries;
};

#define IPCOUNT_MIN_BUCKETS 64

/* FNV-1a: addresses are short and not chosen to collide by anyone who
 * could not as well open connections from many addresses. */
static size_t ipcount_hash(const char *ip)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)ip; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

struct net_ipcount *net_ipcount_create(void)
{
	struct net_ipcount *t = xcalloc(1, sizeof(*t));
	t->nbuckets = IPCOUNT_MIN_BUCKETS;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	return t;
}

void net_ipcount_destroy(struct net_ipcount **tp)
{
	struct net_ipcount *t = *tp;
	if (t == NULL)
		return;
	*tp = NULL;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct ipcount_entry *e = t->buckets[i];
		while (e != NULL) {
			struct ipcount_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(t->buckets);
	free(t);
}

static void ipcount_resize(struct net_ipcount *t, size_t nbuckets)
{
	struct ipcount_entry **nb = xcalloc(nbuckets, sizeof(*nb));
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct ipcount_entry *e = t->buckets[i];
		while (e != NULL) {
			struct ipcount_entry *next = e->next;
			size_t b = ipcount_hash(e->ip) & (nbuckets - 1);
			e->next = nb[b];
			nb[b] = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = nbuckets;
}

static struct ipcount_entry **ipcount_find(const struct net_ipcount *t,
					   const char *ip)
{
	struct ipcount_entry **ep = &t->buckets[ipcount_hash(ip) & (t->nbuckets - 1)];
	while (*ep != NULL && strcmp((*ep)->ip, ip) != 0)
		ep = &(*ep)->next;
	return ep;
}

unsigned int net_ipcount_add(struct net_ipcount *t, const char *ip)
{
	struct ipcount_entry **ep = ipcount_find(t, ip);
	if (*ep != NULL)
		return ++(*ep)->count;
	struct ipcount_entry *e = xcalloc(1, sizeof(*e));
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	e->count = 1;
	*ep = e;
	if (++t->entries > t->nbuckets)
		ipcount_resize(t, t->nbuckets * 2);
	return 1;
}

void net_ipcount_remove(struct net_ipcount *t, const char *ip)
{
	struct ipcount_entry **ep = ipcount_find(t, ip);
	struct ipcount_entry *e = *ep;
	if (e == NULL || --e->count > 0)
		return;
	*ep = e->next;
	free(e);
	t->entries--;
	/* shrink when mostly empty, so a burst of addresses is not kept */
	if (t->nbuckets > IPCOUNT_MIN_BUCKETS && t->entries < t->nbuckets / 8)
		ipcount_resize(t, t->nbuckets / 2);
}

unsigned int net_ipcount_get(const struct net_ipcount *t, const char *ip)
{
	struct ipcount_entry *e = *ipcount_find(t, ip);
	return e != NULL ? e->count : 0;
}
