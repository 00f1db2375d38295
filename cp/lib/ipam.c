/*
 * ipam.c - external IP address management: pools, allocations, sharing.
 *
 * Owns a copy of the pools and every allocation (address -> pool and holders,
 * owner -> its addresses). Pure C, no I/O, no locks: edgelb-cp's store (cp/store.c)
 * calls it under its store lock on the cp main thread and persists the allocations
 * itself (cp/state.c).
 *
 * Addresses are handled as 128-bit integers so that range arithmetic is the same
 * for both families (an IPv4 address is its 32-bit number). Allocated addresses
 * live in a chained hash table for O(1) membership. Each pool range keeps a cursor
 * below which no address is free, so handing out addresses one after another does
 * not rescan the allocated head of the range each time; a release moves the cursor
 * back. Every request is resolved to candidate addresses first and committed only
 * when all families succeeded, which is what makes an allocation all or nothing.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"
#include "lb_error.h"
#include "lb_model.h"

__extension__ typedef unsigned __int128 u128;

#define U128_MAX (~(u128)0)
#define TABLE_MIN_BUCKETS 64

struct owner;

/* One allocated address and everyone holding it (several only when shared). */
struct alloc {
	struct alloc *next;      /* hash chain */
	struct lb_addr addr;
	u128 v;
	int pool;                /* index in ip->pools: the pool it was taken from */
	int new_pool;            /* reload scratch: index in the new list, -1 = released */
	uint32_t n_holders, cap;
	struct owner **holders;  /* when shared, all carry the same non-empty key */
};

struct owner {
	struct owner *next;      /* hash chain */
	uint64_t hash;
	char name[LB_OWNER_MAX];
	char key[LB_SHARING_KEY_MAX];  /* "" = does not share */
	uint32_t n_ports;
	struct lb_ipam_port *ports;
	uint32_t n_addrs;
	struct alloc *addrs[2];  /* IPv4 first */
};

struct pool {
	struct lb_pool_conf conf;
	u128 lo[LB_POOL_RANGES_MAX], hi[LB_POOL_RANGES_MAX];
	/* No free address in [lo, cursor); full = none in [lo, hi] (cursor cannot say
	 * hi + 1 when hi is the last IPv6 address). */
	u128 cursor[LB_POOL_RANGES_MAX];
	bool full[LB_POOL_RANGES_MAX];
	uint64_t size[2];
};

struct lb_ipam {
	struct pool *pools;
	uint32_t n_pools;
	struct alloc **ab;       /* allocations by address */
	size_t anb, an;
	struct owner **ob;       /* owners by name */
	size_t onb, on;
};

/* An address a request will get: an existing (shared) allocation or a new one. */
struct choice {
	struct lb_addr addr;
	u128 v;
	int pool;
	struct alloc *existing;
};

static void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int
fam_idx(uint8_t family)
{
	return family == LB_AF_INET ? 0 : 1;
}

static const char *
fam_name(uint8_t family)
{
	return family == LB_AF_INET ? "IPv4" : "IPv6";
}

static bool
fam_valid(uint8_t family)
{
	return family == LB_AF_INET || family == LB_AF_INET6;
}

static u128
addr_val(const struct lb_addr *a)
{
	int n = lb_addr_len(a->family);
	u128 v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | a->bytes[i];
	return v;
}

static void
val_addr(uint8_t family, u128 v, struct lb_addr *a)
{
	int n = lb_addr_len(family);

	memset(a, 0, sizeof(*a));
	a->family = family;
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		a->bytes[i] = (uint8_t)v;
}

/* Old IPv4 stacks took x.x.x.0 and x.x.x.255 for network/broadcast addresses. */
static bool
is_buggy(uint8_t family, u128 v)
{
	unsigned low = (unsigned)(v & 0xff);

	return family == LB_AF_INET && (low == 0 || low == 0xff);
}

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

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* ---- allocation and owner tables ---------------------------------------- */

static struct alloc *
alloc_find(const struct lb_ipam *ip, uint8_t family, u128 v)
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

static void
alloc_insert(struct lb_ipam *ip, struct alloc *a)
{
	alloc_grow(ip);
	size_t k = hash_addr(a->addr.family, a->v) & (ip->anb - 1);
	a->next = ip->ab[k];
	ip->ab[k] = a;
	ip->an++;
}

static void
alloc_unlink(struct lb_ipam *ip, struct alloc *a)
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

static void
alloc_free(struct alloc *a)
{
	if (a) {
		free(a->holders);
		free(a);
	}
}

static struct owner *
owner_find(const struct lb_ipam *ip, const char *name)
{
	uint64_t h = hash_str(name);
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

static void
owner_insert(struct lb_ipam *ip, struct owner *o)
{
	owner_grow(ip);
	o->next = ip->ob[o->hash & (ip->onb - 1)];
	ip->ob[o->hash & (ip->onb - 1)] = o;
	ip->on++;
}

static void
owner_unlink(struct lb_ipam *ip, struct owner *o)
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

static void
owner_free(struct owner *o)
{
	if (o) {
		free(o->ports);
		free(o);
	}
}

/* ---- pools --------------------------------------------------------------- */

/* IPv4 x.x.x.0 and x.x.x.255 addresses in [0, n]. */
static u128
buggy_upto(u128 n)
{
	return 2 * (n >> 8) + 1 + ((n & 0xff) == 0xff);
}

static int
cmp_u128_pair(const void *x, const void *y)
{
	const u128 *a = x, *b = y;

	return a[0] < b[0] ? -1 : a[0] > b[0];
}

/*
 * Usable addresses of one family: ranges merged first so that overlapping ranges
 * in one pool are not counted twice; saturates because an IPv6 /64 alone holds
 * 2^64 addresses.
 */
static uint64_t
pool_size(const struct pool *p, uint8_t family)
{
	u128 r[LB_POOL_RANGES_MAX][2];
	uint32_t n = 0;
	u128 total = 0;

	for (uint32_t i = 0; i < p->conf.n_ranges; i++) {
		if (p->conf.ranges[i].lo.family != family)
			continue;
		r[n][0] = p->lo[i];
		r[n][1] = p->hi[i];
		n++;
	}
	qsort(r, n, sizeof(r[0]), cmp_u128_pair);
	for (uint32_t i = 0; i < n;) {
		u128 lo = r[i][0], hi = r[i][1];
		for (i++; i < n && (hi == U128_MAX || r[i][0] <= hi + 1); i++)
			if (r[i][1] > hi)
				hi = r[i][1];
		if (hi - lo == U128_MAX)
			return UINT64_MAX;
		u128 count = hi - lo + 1;
		if (family == LB_AF_INET && p->conf.avoid_buggy_ips)
			count -= buggy_upto(hi) - (lo ? buggy_upto(lo - 1) : 0);
		total += count;
		if (total >= UINT64_MAX)
			return UINT64_MAX;
	}
	return (uint64_t)total;
}

static int
pool_init(struct pool *p, const struct lb_pool_conf *c)
{
	if (memchr(c->name, '\0', sizeof(c->name)) == NULL || c->name[0] == '\0' ||
	    c->n_ranges > LB_POOL_RANGES_MAX)
		return LB_EINVAL;
	memset(p, 0, sizeof(*p));
	p->conf = *c;
	for (uint32_t i = 0; i < c->n_ranges; i++) {
		const struct lb_ip_range *r = &c->ranges[i];
		if (!fam_valid(r->lo.family) || r->hi.family != r->lo.family)
			return LB_EINVAL;
		p->lo[i] = addr_val(&r->lo);
		p->hi[i] = addr_val(&r->hi);
		if (p->lo[i] > p->hi[i])
			return LB_EINVAL;
		p->cursor[i] = p->lo[i];
	}
	p->size[0] = pool_size(p, LB_AF_INET);
	p->size[1] = pool_size(p, LB_AF_INET6);
	return 0;
}

static int
pools_build(const struct lb_pool_conf *confs, uint32_t n, struct pool **out)
{
	struct pool *p;

	*out = NULL;
	if (n > 0 && confs == NULL)
		return LB_EINVAL;
	if ((p = calloc(n ? n : 1, sizeof(*p))) == NULL)
		return LB_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (pool_init(&p[i], &confs[i]) < 0)
			goto invalid;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(p[i].conf.name, p[j].conf.name) == 0)
				goto invalid;
	}
	*out = p;
	return 0;
invalid:
	free(p);
	return LB_EINVAL;
}

static bool
pool_in_range(const struct pool *p, uint8_t family, u128 v)
{
	for (uint32_t i = 0; i < p->conf.n_ranges; i++)
		if (p->conf.ranges[i].lo.family == family && p->lo[i] <= v && v <= p->hi[i])
			return true;
	return false;
}

/* A pool holds an address it could hand out: in a range and not avoided. */
static bool
pool_holds(const struct pool *p, uint8_t family, u128 v)
{
	if (p->conf.avoid_buggy_ips && is_buggy(family, v))
		return false;
	return pool_in_range(p, family, v);
}

static bool
pool_has_family(const struct pool *p, uint8_t family)
{
	for (uint32_t i = 0; i < p->conf.n_ranges; i++)
		if (p->conf.ranges[i].lo.family == family)
			return true;
	return false;
}

static int
first_pool_holding(const struct pool *pools, uint32_t n, uint8_t family, u128 v)
{
	for (uint32_t i = 0; i < n; i++)
		if (pool_holds(&pools[i], family, v))
			return (int)i;
	return -1;
}

static int
pools_find(const struct pool *pools, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(pools[i].conf.name, name) == 0)
			return (int)i;
	return -1;
}

/* v became free: ranges holding it may have free space below their cursor again. */
static void
note_free(struct lb_ipam *ip, uint8_t family, u128 v)
{
	for (uint32_t i = 0; i < ip->n_pools; i++) {
		struct pool *p = &ip->pools[i];
		for (uint32_t r = 0; r < p->conf.n_ranges; r++) {
			if (p->conf.ranges[r].lo.family != family || v < p->lo[r] || v > p->hi[r])
				continue;
			if (p->full[r] || v < p->cursor[r])
				p->cursor[r] = v;
			p->full[r] = false;
		}
	}
}

/* ---- requests -------------------------------------------------------------- */

static const char *
str_or_empty(const char *s)
{
	return s ? s : "";
}

static int
check_common(const struct lb_ipam_req *req, char *err, size_t errlen)
{
	if (req->owner == NULL || req->owner[0] == '\0' ||
	    strnlen(req->owner, LB_OWNER_MAX) >= LB_OWNER_MAX) {
		seterr(err, errlen, "owner must be a non-empty name shorter than %d bytes",
		       LB_OWNER_MAX);
		return LB_EINVAL;
	}
	if (strnlen(str_or_empty(req->sharing_key), LB_SHARING_KEY_MAX) >= LB_SHARING_KEY_MAX) {
		seterr(err, errlen, "sharing key is longer than %d bytes", LB_SHARING_KEY_MAX - 1);
		return LB_EINVAL;
	}
	if (req->n_ports > 0 && req->ports == NULL) {
		seterr(err, errlen, "%u ports given without a port list", req->n_ports);
		return LB_EINVAL;
	}
	return 0;
}

static int
check_owner_free(const struct lb_ipam *ip, const char *owner, char *err, size_t errlen)
{
	const struct owner *o = owner_find(ip, owner);
	char as[LB_ADDR_STRLEN];

	if (o == NULL)
		return 0;
	seterr(err, errlen, "%s already holds %s; release it first", owner,
	       lb_addr_format(&o->addrs[0]->addr, as, sizeof(as)));
	return LB_EEXIST;
}

/* The first (protocol, port) both sets contain, or NULL. */
static const struct lb_ipam_port *
ports_overlap(const struct lb_ipam_port *a, uint32_t na, const struct lb_ipam_port *b,
	      uint32_t nb)
{
	for (uint32_t i = 0; i < na; i++)
		for (uint32_t j = 0; j < nb; j++)
			if (a[i].proto == b[j].proto && a[i].port == b[j].port)
				return &a[i];
	return NULL;
}

/* May a request with key and ports join the holders of a? err only when given. */
static int
share_check(const struct alloc *a, const char *key, const struct lb_ipam_port *ports,
	    uint32_t n_ports, char *err, size_t errlen)
{
	char as[LB_ADDR_STRLEN];
	const struct lb_ipam_port *x;

	for (uint32_t i = 0; i < a->n_holders; i++) {
		const struct owner *h = a->holders[i];
		const char *why = NULL;

		if (key[0] == '\0')
			why = "sharing needs the same sharing key on both";
		else if (h->key[0] == '\0')
			why = "it does not allow sharing (no sharing key)";
		else if (strcmp(h->key, key) != 0)
			why = "sharing key differs";
		if (why != NULL) {
			seterr(err, errlen, "%s is held by %s; %s",
			       lb_addr_format(&a->addr, as, sizeof(as)), h->name, why);
			return LB_ECONFLICT;
		}
		if ((x = ports_overlap(ports, n_ports, h->ports, h->n_ports)) != NULL) {
			seterr(err, errlen, "%s is held by %s; both use %s/%u",
			       lb_addr_format(&a->addr, as, sizeof(as)), h->name,
			       lb_proto_name(x->proto), x->port);
			return LB_ECONFLICT;
		}
	}
	return 0;
}

/* An explicitly named address: restore and requested IPs. */
static int
take_address(const struct lb_ipam *ip, const struct lb_ipam_req *req, const struct lb_addr *want,
	     int pool, struct choice *c, char *err, size_t errlen)
{
	char as[LB_ADDR_STRLEN];
	u128 v = addr_val(want);

	lb_addr_format(want, as, sizeof(as));
	if (pool < 0 && (pool = first_pool_holding(ip->pools, ip->n_pools, want->family, v)) < 0) {
		for (uint32_t i = 0; i < ip->n_pools; i++) {
			if (pool_in_range(&ip->pools[i], want->family, v)) {
				seterr(err, errlen, "%s is not usable: pool \"%s\" avoids .0 and .255 addresses",
				       as, ip->pools[i].conf.name);
				return LB_ENOENT;
			}
		}
		seterr(err, errlen, "%s is not in any pool", as);
		return LB_ENOENT;
	}
	val_addr(want->family, v, &c->addr);
	c->v = v;
	c->pool = pool;
	c->existing = alloc_find(ip, want->family, v);
	if (c->existing) {
		int rc = share_check(c->existing, str_or_empty(req->sharing_key), req->ports,
				     req->n_ports, err, errlen);
		if (rc < 0)
			return rc;
		c->pool = c->existing->pool;  /* a shared address keeps the pool it came from */
	}
	return 0;
}

/* An address of family from pool pi: a compatible shared one first, else the first free. */
static bool
take_from_pool(struct lb_ipam *ip, const struct lb_ipam_req *req, uint8_t family, int pi,
	       struct choice *c)
{
	struct pool *p = &ip->pools[pi];
	const char *key = str_or_empty(req->sharing_key);
	struct alloc *best = NULL;

	if (key[0] != '\0') {
		/* Lowest compatible address, so the choice does not depend on hash order. */
		for (size_t i = 0; i < ip->anb; i++) {
			for (struct alloc *a = ip->ab[i]; a; a = a->next) {
				if (a->pool != pi || a->addr.family != family ||
				    strcmp(a->holders[0]->key, key) != 0 || (best && best->v < a->v))
					continue;
				if (share_check(a, key, req->ports, req->n_ports, NULL, 0) == 0)
					best = a;
			}
		}
		if (best) {
			c->addr = best->addr;
			c->v = best->v;
			c->pool = pi;
			c->existing = best;
			return true;
		}
	}
	for (uint32_t r = 0; r < p->conf.n_ranges; r++) {
		if (p->conf.ranges[r].lo.family != family || p->full[r])
			continue;
		for (u128 v = p->cursor[r];; v++) {
			if (!(p->conf.avoid_buggy_ips && is_buggy(family, v)) &&
			    alloc_find(ip, family, v) == NULL) {
				/* Not taken yet: the commit may still fail, so v stays at the cursor. */
				p->cursor[r] = v;
				val_addr(family, v, &c->addr);
				c->v = v;
				c->pool = pi;
				c->existing = NULL;
				return true;
			}
			if (v == p->hi[r])
				break;
		}
		p->full[r] = true;
	}
	return false;
}

static int
resolve_family(struct lb_ipam *ip, const struct lb_ipam_req *req, uint8_t family, int req_pool,
	       struct choice *c, char *err, size_t errlen)
{
	char as[LB_ADDR_STRLEN];

	for (uint32_t i = 0; i < req->n_ips; i++) {
		if (req->ips[i].family != family)
			continue;
		u128 v = addr_val(&req->ips[i]);
		/* "Not in any pool" wins over "not in the requested pool": it is the real cause. */
		if (req_pool >= 0 && !pool_holds(&ip->pools[req_pool], family, v) &&
		    first_pool_holding(ip->pools, ip->n_pools, family, v) >= 0) {
			seterr(err, errlen, "%s is not in pool \"%s\"",
			       lb_addr_format(&req->ips[i], as, sizeof(as)),
			       ip->pools[req_pool].conf.name);
			return LB_ENOENT;
		}
		int pool = req_pool >= 0 && pool_holds(&ip->pools[req_pool], family, v) ? req_pool : -1;
		return take_address(ip, req, &req->ips[i], pool, c, err, errlen);
	}

	if (req_pool >= 0) {
		const char *name = ip->pools[req_pool].conf.name;
		if (take_from_pool(ip, req, family, req_pool, c))
			return 0;
		if (!pool_has_family(&ip->pools[req_pool], family))
			seterr(err, errlen, "pool \"%s\" has no %s range", name, fam_name(family));
		else
			seterr(err, errlen, "no free %s address in pool \"%s\"", fam_name(family), name);
		return LB_EFULL;
	}

	/* Automatic: auto_assign pools in configuration order; remember which were tried. */
	char tried[512] = "";
	size_t len = 0;
	for (uint32_t i = 0; i < ip->n_pools; i++) {
		const struct pool *p = &ip->pools[i];
		if (!p->conf.auto_assign || !pool_has_family(p, family))
			continue;
		if (take_from_pool(ip, req, family, (int)i, c))
			return 0;
		if (len < sizeof(tried))
			len += (size_t)snprintf(tried + len, sizeof(tried) - len, "%s\"%s\"",
						len ? ", " : "", p->conf.name);
	}
	if (len == 0)
		seterr(err, errlen, "no auto_assign pool has %s addresses", fam_name(family));
	else
		seterr(err, errlen, "no free %s address in pool%s %s", fam_name(family),
		       strchr(tried, ',') ? "s" : "", tried);
	return LB_EFULL;
}

/* Take the chosen addresses for req->owner. Only ENOMEM fails, and before any change. */
static int
commit(struct lb_ipam *ip, const struct lb_ipam_req *req, const struct choice *c, uint32_t n)
{
	struct owner *o = calloc(1, sizeof(*o));
	struct alloc *fresh[2] = {NULL, NULL};

	if (o == NULL)
		return LB_ENOMEM;
	if (req->n_ports > 0) {
		if ((o->ports = malloc(req->n_ports * sizeof(*o->ports))) == NULL)
			goto nomem;
		memcpy(o->ports, req->ports, req->n_ports * sizeof(*o->ports));
		o->n_ports = req->n_ports;
	}
	snprintf(o->name, sizeof(o->name), "%s", req->owner);
	snprintf(o->key, sizeof(o->key), "%s", str_or_empty(req->sharing_key));
	o->hash = hash_str(o->name);

	for (uint32_t i = 0; i < n; i++) {
		struct alloc *a = c[i].existing;
		if (a != NULL) {
			if (a->n_holders == a->cap) {
				uint32_t cap = a->cap * 2;
				struct owner **h = realloc(a->holders, cap * sizeof(*h));
				if (h == NULL)
					goto nomem;
				a->holders = h;  /* a bigger array is harmless if we fail later */
				a->cap = cap;
			}
			continue;
		}
		if ((a = fresh[i] = calloc(1, sizeof(*a))) == NULL ||
		    (a->holders = malloc(sizeof(*a->holders))) == NULL)
			goto nomem;
		a->cap = 1;
		a->addr = c[i].addr;
		a->v = c[i].v;
		a->pool = c[i].pool;
	}

	for (uint32_t i = 0; i < n; i++) {
		struct alloc *a = c[i].existing ? c[i].existing : fresh[i];
		if (!c[i].existing)
			alloc_insert(ip, a);
		a->holders[a->n_holders++] = o;
		o->addrs[o->n_addrs++] = a;
	}
	owner_insert(ip, o);
	return 0;
nomem:
	alloc_free(fresh[0]);
	alloc_free(fresh[1]);
	owner_free(o);
	return LB_ENOMEM;
}

/* ---- API ------------------------------------------------------------------------- */

int
lb_ip_range_parse(const char *s, struct lb_ip_range *r)
{
	char buf[2 * LB_ADDR_STRLEN + 16];
	size_t len;
	char *dash, *left, *right;

	if (s == NULL || r == NULL)
		return LB_EINVAL;
	memset(r, 0, sizeof(*r));
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return LB_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	/* No address form contains '-', so a dash always means "start-end". */
	if ((dash = strchr(buf, '-')) != NULL) {
		left = buf;
		right = dash + 1;
		for (char *e = dash; e > left && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		*dash = '\0';
		while (isspace((unsigned char)*right))
			right++;
		if (lb_addr_parse(left, &r->lo) < 0 || lb_addr_parse(right, &r->hi) < 0 ||
		    r->lo.family != r->hi.family || addr_val(&r->lo) > addr_val(&r->hi))
			goto invalid;
		return 0;
	}
	if (strchr(buf, '/') != NULL) {
		struct lb_prefix p;
		/* Strict: "198.18.0.1/24" is more likely a typo than a wish for the /24. */
		if (lb_prefix_parse(buf, &p, NULL, true) < 0)
			goto invalid;
		r->lo = r->hi = p.addr;
		unsigned total = (unsigned)lb_addr_len(p.addr.family) * 8;
		for (unsigned bit = p.len; bit < total; bit++)
			r->hi.bytes[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		return 0;
	}
	if (lb_addr_parse(buf, &r->lo) < 0)
		goto invalid;
	r->hi = r->lo;
	return 0;
invalid:
	memset(r, 0, sizeof(*r));
	return LB_EINVAL;
}

struct lb_ipam *
lb_ipam_create(const struct lb_pool_conf *pools, uint32_t n_pools)
{
	struct lb_ipam *ip = calloc(1, sizeof(*ip));

	if (ip == NULL)
		return NULL;
	if (pools_build(pools, n_pools, &ip->pools) < 0)
		goto fail;
	ip->n_pools = n_pools;
	ip->anb = ip->onb = TABLE_MIN_BUCKETS;
	ip->ab = calloc(ip->anb, sizeof(*ip->ab));
	ip->ob = calloc(ip->onb, sizeof(*ip->ob));
	if (ip->ab == NULL || ip->ob == NULL)
		goto fail;
	return ip;
fail:
	lb_ipam_destroy(ip);
	return NULL;
}

void
lb_ipam_destroy(struct lb_ipam *ip)
{
	if (ip == NULL)
		return;
	for (size_t i = 0; ip->ab && i < ip->anb; i++) {
		struct alloc *a = ip->ab[i], *next;
		for (; a; a = next) {
			next = a->next;
			alloc_free(a);
		}
	}
	for (size_t i = 0; ip->ob && i < ip->onb; i++) {
		struct owner *o = ip->ob[i], *next;
		for (; o; o = next) {
			next = o->next;
			owner_free(o);
		}
	}
	free(ip->ab);
	free(ip->ob);
	free(ip->pools);
	free(ip);
}

int
lb_ipam_assign(struct lb_ipam *ip, const struct lb_ipam_req *req, struct lb_addr out[2],
	       uint32_t *n_out, char *pool_out, char *err, size_t errlen)
{
	static const uint8_t fams[2] = {LB_AF_INET, LB_AF_INET6};
	struct choice c[2];
	uint32_t n = 0;
	int req_pool = -1, rc;
	char as[LB_ADDR_STRLEN];

	seterr(err, errlen, "%s", "");
	if (n_out)
		*n_out = 0;
	if (ip == NULL || req == NULL || out == NULL || n_out == NULL) {
		seterr(err, errlen, "missing argument");
		return LB_EINVAL;
	}
	if ((rc = check_common(req, err, errlen)) < 0)
		return rc;
	if (req->families == 0 || (req->families & ~(LB_FAMILY_V4 | LB_FAMILY_V6)) != 0) {
		seterr(err, errlen, "families must be IPv4, IPv6 or both");
		return LB_EINVAL;
	}
	if (req->n_ips > 2) {
		seterr(err, errlen, "at most one requested address per family");
		return LB_EINVAL;
	}
	for (uint32_t i = 0; i < req->n_ips; i++) {
		const struct lb_addr *a = &req->ips[i];
		if (!fam_valid(a->family)) {
			seterr(err, errlen, "requested address %u has no family", i);
			return LB_EINVAL;
		}
		lb_addr_format(a, as, sizeof(as));
		if (!(req->families & (a->family == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6))) {
			seterr(err, errlen, "%s requested but %s not asked for", as,
			       fam_name(a->family));
			return LB_EINVAL;
		}
		if (i == 1 && req->ips[0].family == a->family) {
			seterr(err, errlen, "two %s addresses requested", fam_name(a->family));
			return LB_EINVAL;
		}
	}
	if ((rc = check_owner_free(ip, req->owner, err, errlen)) < 0)
		return rc;
	if (req->pool && req->pool[0] &&
	    (req_pool = pools_find(ip->pools, ip->n_pools, req->pool)) < 0) {
		seterr(err, errlen, "unknown pool \"%s\"", req->pool);
		return LB_ENOENT;
	}

	for (int f = 0; f < 2; f++) {
		if (!(req->families & (f == 0 ? LB_FAMILY_V4 : LB_FAMILY_V6)))
			continue;
		if ((rc = resolve_family(ip, req, fams[f], req_pool, &c[n], err, errlen)) < 0)
			return rc;
		n++;
	}
	if ((rc = commit(ip, req, c, n)) < 0) {
		seterr(err, errlen, "out of memory");
		return rc;
	}
	for (uint32_t i = 0; i < n; i++)
		out[i] = c[i].addr;
	*n_out = n;
	if (pool_out)
		snprintf(pool_out, LB_POOL_NAME_MAX, "%s", ip->pools[c[0].pool].conf.name);
	return 0;
}

int
lb_ipam_restore(struct lb_ipam *ip, const struct lb_ipam_req *req, const struct lb_addr *addrs,
		uint32_t n, char *err, size_t errlen)
{
	struct choice c[2];
	int given = -1, rc;

	seterr(err, errlen, "%s", "");
	if (ip == NULL || req == NULL || addrs == NULL || n == 0 || n > 2) {
		seterr(err, errlen, "restore needs an owner and one or two addresses");
		return LB_EINVAL;
	}
	if ((rc = check_common(req, err, errlen)) < 0)
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		if (!fam_valid(addrs[i].family) || (i == 1 && addrs[0].family == addrs[1].family)) {
			seterr(err, errlen, "restore needs at most one address per family");
			return LB_EINVAL;
		}
	}
	if ((rc = check_owner_free(ip, req->owner, err, errlen)) < 0)
		return rc;
	if (req->pool && req->pool[0])
		given = pools_find(ip->pools, ip->n_pools, req->pool);

	/* IPv4 first, as assign stores them. */
	uint32_t first = (n == 2 && addrs[0].family == LB_AF_INET6) ? 1 : 0;
	for (uint32_t k = 0; k < n; k++) {
		const struct lb_addr *a = &addrs[(first + k) % n];
		/* The recorded pool survives while it holds the address; else the first that does. */
		int pool = given >= 0 && pool_holds(&ip->pools[given], a->family, addr_val(a)) ? given : -1;
		if ((rc = take_address(ip, req, a, pool, &c[k], err, errlen)) < 0)
			return rc;
	}
	if ((rc = commit(ip, req, c, n)) < 0) {
		seterr(err, errlen, "out of memory");
		return rc;
	}
	return 0;
}

int
lb_ipam_release(struct lb_ipam *ip, const char *owner)
{
	struct owner *o;
	int n;

	if (ip == NULL || owner == NULL)
		return LB_EINVAL;
	if ((o = owner_find(ip, owner)) == NULL)
		return 0;
	for (uint32_t i = 0; i < o->n_addrs; i++) {
		struct alloc *a = o->addrs[i];
		for (uint32_t k = 0; k < a->n_holders; k++) {
			if (a->holders[k] == o) {
				memmove(&a->holders[k], &a->holders[k + 1],
					(a->n_holders - k - 1) * sizeof(a->holders[0]));
				a->n_holders--;
				break;
			}
		}
		if (a->n_holders == 0) {
			alloc_unlink(ip, a);
			note_free(ip, a->addr.family, a->v);
			alloc_free(a);
		}
	}
	n = (int)o->n_addrs;
	owner_unlink(ip, o);
	owner_free(o);
	return n;
}

uint32_t
lb_ipam_lookup(const struct lb_ipam *ip, const char *owner, struct lb_addr out[2])
{
	const struct owner *o;

	if (ip == NULL || owner == NULL || out == NULL || (o = owner_find(ip, owner)) == NULL)
		return 0;
	for (uint32_t i = 0; i < o->n_addrs; i++)
		out[i] = o->addrs[i]->addr;
	return o->n_addrs;
}

struct released {
	char owner[LB_OWNER_MAX];
	struct lb_addr addr;
};

int
lb_ipam_reload(struct lb_ipam *ip, const struct lb_pool_conf *pools, uint32_t n_pools,
	       void (*cb)(const char *owner, const struct lb_addr *a, void *arg), void *arg)
{
	struct pool *np;
	struct released *rel = NULL;
	size_t n_rel = 0, k = 0;
	int rc;

	if (ip == NULL)
		return LB_EINVAL;
	if ((rc = pools_build(pools, n_pools, &np)) < 0)
		return rc;

	/* Pass 1 decides every allocation's new pool, so nothing changes if we run out of memory. */
	for (size_t i = 0; i < ip->anb; i++) {
		for (struct alloc *a = ip->ab[i]; a; a = a->next) {
			int p = pools_find(np, n_pools, ip->pools[a->pool].conf.name);
			if (p < 0 || !pool_holds(&np[p], a->addr.family, a->v))
				p = first_pool_holding(np, n_pools, a->addr.family, a->v);
			a->new_pool = p;
			if (p < 0)
				n_rel += a->n_holders;
		}
	}
	if (n_rel > 0 && (rel = calloc(n_rel, sizeof(*rel))) == NULL) {
		free(np);
		return LB_ENOMEM;
	}

	free(ip->pools);
	ip->pools = np;
	ip->n_pools = n_pools;
	for (size_t i = 0; i < ip->anb; i++) {
		for (struct alloc **pp = &ip->ab[i]; *pp;) {
			struct alloc *a = *pp;
			if (a->new_pool >= 0) {
				a->pool = a->new_pool;
				pp = &a->next;
				continue;
			}
			/* Released per address: a dual-stack owner keeps the family still in a pool. */
			for (uint32_t h = 0; h < a->n_holders; h++) {
				struct owner *o = a->holders[h];
				snprintf(rel[k].owner, sizeof(rel[k].owner), "%s", o->name);
				rel[k++].addr = a->addr;
				for (uint32_t j = 0; j < o->n_addrs; j++) {
					if (o->addrs[j] == a) {
						memmove(&o->addrs[j], &o->addrs[j + 1],
							(o->n_addrs - j - 1) * sizeof(o->addrs[0]));
						o->n_addrs--;
						break;
					}
				}
				if (o->n_addrs == 0) {
					owner_unlink(ip, o);
					owner_free(o);
				}
			}
			*pp = a->next;
			ip->an--;
			alloc_free(a);
		}
	}
	/* Callbacks last: the state is consistent and cb may call back into ipam. */
	for (size_t i = 0; cb && i < k; i++)
		cb(rel[i].owner, &rel[i].addr, arg);
	free(rel);
	return 0;
}

uint32_t
lb_ipam_pool_count(const struct lb_ipam *ip)
{
	return ip ? ip->n_pools : 0;
}

int
lb_ipam_pool_usage(const struct lb_ipam *ip, uint32_t i, struct lb_pool_usage *u)
{
	if (ip == NULL || u == NULL)
		return LB_EINVAL;
	if (i >= ip->n_pools)
		return LB_ENOENT;
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", ip->pools[i].conf.name);
	u->size[0] = ip->pools[i].size[0];
	u->size[1] = ip->pools[i].size[1];
	/* A shared address counts once: it is one address taken from the pool. */
	for (size_t b = 0; b < ip->anb; b++)
		for (const struct alloc *a = ip->ab[b]; a; a = a->next)
			if (a->pool == (int)i)
				u->used[fam_idx(a->addr.family)]++;
	return 0;
}

int
lb_ipam_pool_find(const struct lb_ipam *ip, const char *name)
{
	if (ip == NULL || name == NULL)
		return -1;
	return pools_find(ip->pools, ip->n_pools, name);
}
