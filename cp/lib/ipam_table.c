/*
 * ipam_table.c - the IPAM module's two chained hash tables (see ipam_impl.h):
 * allocations by address and owners by name, each doubling once it holds
 * as many entries as buckets.
 *
 * Pure C, no I/O, no thread of its own: called by ipam.c under the store lock.
 */
#include <stdlib.h>
#include <string.h>

#include "ipam_impl.h"

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t
hash_addr(uint8_t family, u128 v)
{
	return mix64((uint64_t)(v >> 64) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)v ^ family);
}

uint64_t
lb_ipam_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

struct alloc *
lb_ipam_alloc_find(const struct lb_ipam *ip, uint8_t family, u128 v)
{
	struct alloc *a = ip->ab[hash_addr(family, v) & (ip->anb - 1)];

	for (; a; a = a->next)
		if (a->v == v && a->addr.family == family)
			return a;
	return NULL;
}

/* Growing is best effort: when it fails the chains just get longer. */
static void
alloc_grow(struct lb_ipam *ip)
{
	size_t nb = ip->anb * 2;
	struct alloc **b;

	if (ip->an < ip->anb || (b = calloc(nb, sizeof(*b))) == NULL)
		return;
	for (size_t i = 0; i < ip->anb; i++) {
		struct alloc *a = ip->ab[i], *next;
		for (; a; a = next) {
			next = a->next;
			size_t k = hash_addr(a->addr.family, a->v) & (nb - 1);
			a->next = b[k];
			b[k] = a;
		}
	}
	free(ip->ab);
	ip->ab = b;
	ip->anb = nb;
}

void
lb_ipam_alloc_insert(struct lb_ipam *ip, struct alloc *a)
{
	alloc_grow(ip);
	size_t k = hash_addr(a->addr.family, a->v) & (ip->anb - 1);
	a->next = ip->ab[k];
	ip->ab[k] = a;
	ip->an++;
}

void
lb_ipam_alloc_unlink(struct lb_ipam *ip, struct alloc *a)
{
	struct alloc **pp = &ip->ab[hash_addr(a->addr.family, a->v) & (ip->anb - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			ip->an--;
			return;
		}
	}
}

void
lb_ipam_alloc_free(struct alloc *a)
{
	if (a) {
		free(a->holders);
		free(a);
	}
}

struct owner *
lb_ipam_owner_find(const struct lb_ipam *ip, const char *name)
{
	uint64_t h = lb_ipam_hash_str(name);
	struct owner *o = ip->ob[h & (ip->onb - 1)];

	for (; o; o = o->next)
		if (o->hash == h && strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static void
owner_grow(struct lb_ipam *ip)
{
	size_t nb = ip->onb * 2;
	struct owner **b;

	if (ip->on < ip->onb || (b = calloc(nb, sizeof(*b))) == NULL)
		return;
	for (size_t i = 0; i < ip->onb; i++) {
		struct owner *o = ip->ob[i], *next;
		for (; o; o = next) {
			next = o->next;
			o->next = b[o->hash & (nb - 1)];
			b[o->hash & (nb - 1)] = o;
		}
	}
	free(ip->ob);
	ip->ob = b;
	ip->onb = nb;
}

void
lb_ipam_owner_insert(struct lb_ipam *ip, struct owner *o)
{
	owner_grow(ip);
	o->next = ip->ob[o->hash & (ip->onb - 1)];
	ip->ob[o->hash & (ip->onb - 1)] = o;
	ip->on++;
}

void
lb_ipam_owner_unlink(struct lb_ipam *ip, struct owner *o)
{
	struct owner **pp = &ip->ob[o->hash & (ip->onb - 1)];

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			ip->on--;
			return;
		}
	}
}

void
lb_ipam_owner_free(struct owner *o)
{
	if (o) {
		free(o->ports);
		free(o);
	}
}

