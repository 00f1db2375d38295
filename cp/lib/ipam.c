/*
 * ipam.c - external IP address management: requests, sharing, commit, reload
 * and the lb_ipam_* API (see ipam.h); pools live in ipam_pool.c, the hash
 * tables in ipam_table.c (ipam_impl.h).
 *
 * Owns a copy of the pools and every allocation (address -> pool and holders,
 * owner -> its addresses). Pure C, no I/O, no locks, no thread of its own:
 * edgelb-cp's store (cp/store) calls it under the store lock, from whichever
 * thread changes the store (API, Kubernetes reconcile, reload), and persists
 * the allocations itself.
 *
 * Addresses are handled as 128-bit integers so that range arithmetic is the same
 * for both families (an IPv4 address is its 32-bit number). Allocated addresses
 * live in a chained hash table for O(1) membership. Each pool range keeps a cursor
 * below which no address is free, so handing out addresses one after another does
 * not rescan the allocated head of the range each time; a release moves the cursor
 * back. Every request is resolved to candidate addresses first and committed only
 * when all families succeeded, which is what makes an allocation all or nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipam.h"
#include "ipam_impl.h"
#include "lb_error.h"
#include "lb_model.h"

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
	const struct owner *o = lb_ipam_owner_find(ip, owner);
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
	if (pool < 0 &&
	    (pool = lb_ipam_pools_first_holding(ip->pools, ip->n_pools, want->family, v)) < 0) {
		for (uint32_t i = 0; i < ip->n_pools; i++) {
			if (lb_ipam_pool_in_range(&ip->pools[i], want->family, v)) {
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
	c->existing = lb_ipam_alloc_find(ip, want->family, v);
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
			    lb_ipam_alloc_find(ip, family, v) == NULL) {
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
		if (req_pool >= 0 && !lb_ipam_pool_holds(&ip->pools[req_pool], family, v) &&
		    lb_ipam_pools_first_holding(ip->pools, ip->n_pools, family, v) >= 0) {
			seterr(err, errlen, "%s is not in pool \"%s\"",
			       lb_addr_format(&req->ips[i], as, sizeof(as)),
			       ip->pools[req_pool].conf.name);
			return LB_ENOENT;
		}
		int pool = req_pool >= 0 && lb_ipam_pool_holds(&ip->pools[req_pool], family, v) ? req_pool : -1;
		return take_address(ip, req, &req->ips[i], pool, c, err, errlen);
	}

	if (req_pool >= 0) {
		const char *name = ip->pools[req_pool].conf.name;
		if (take_from_pool(ip, req, family, req_pool, c))
			return 0;
		if (!lb_ipam_pool_has_family(&ip->pools[req_pool], family))
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
		if (!p->conf.auto_assign || !lb_ipam_pool_has_family(p, family))
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
	o->hash = lb_ipam_hash_str(o->name);

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
			lb_ipam_alloc_insert(ip, a);
		a->holders[a->n_holders++] = o;
		o->addrs[o->n_addrs++] = a;
	}
	lb_ipam_owner_insert(ip, o);
	return 0;
nomem:
	lb_ipam_alloc_free(fresh[0]);
	lb_ipam_alloc_free(fresh[1]);
	lb_ipam_owner_free(o);
	return LB_ENOMEM;
}

/* ---- API ------------------------------------------------------------------------- */

struct lb_ipam *
lb_ipam_create(const struct lb_pool_conf *pools, uint32_t n_pools)
{
	struct lb_ipam *ip = calloc(1, sizeof(*ip));

	if (ip == NULL)
		return NULL;
	if (lb_ipam_pools_build(pools, n_pools, &ip->pools) < 0)
		goto fail;
	ip->n_pools = n_pools;
	ip->anb = ip->onb = LB_IPAM_MIN_BUCKETS;
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
			lb_ipam_alloc_free(a);
		}
	}
	for (size_t i = 0; ip->ob && i < ip->onb; i++) {
		struct owner *o = ip->ob[i], *next;
		for (; o; o = next) {
			next = o->next;
			lb_ipam_owner_free(o);
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
	    (req_pool = lb_ipam_pools_find(ip->pools, ip->n_pools, req->pool)) < 0) {
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
		given = lb_ipam_pools_find(ip->pools, ip->n_pools, req->pool);

	/* IPv4 first, as assign stores them. */
	uint32_t first = (n == 2 && addrs[0].family == LB_AF_INET6) ? 1 : 0;
	for (uint32_t k = 0; k < n; k++) {
		const struct lb_addr *a = &addrs[(first + k) % n];
		/* The recorded pool survives while it holds the address; else the first that does. */
		int pool = given >= 0 && lb_ipam_pool_holds(&ip->pools[given], a->family, addr_val(a))
			   ? given : -1;
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
	if ((o = lb_ipam_owner_find(ip, owner)) == NULL)
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
			lb_ipam_alloc_unlink(ip, a);
			note_free(ip, a->addr.family, a->v);
			lb_ipam_alloc_free(a);
		}
	}
	n = (int)o->n_addrs;
	lb_ipam_owner_unlink(ip, o);
	lb_ipam_owner_free(o);
	return n;
}

uint32_t
lb_ipam_lookup(const struct lb_ipam *ip, const char *owner, struct lb_addr out[2])
{
	const struct owner *o;

	if (ip == NULL || owner == NULL || out == NULL || (o = lb_ipam_owner_find(ip, owner)) == NULL)
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
	if ((rc = lb_ipam_pools_build(pools, n_pools, &np)) < 0)
		return rc;

	/* Pass 1 decides every allocation's new pool, so nothing changes if we run out of memory. */
	for (size_t i = 0; i < ip->anb; i++) {
		for (struct alloc *a = ip->ab[i]; a; a = a->next) {
			int p = lb_ipam_pools_find(np, n_pools, ip->pools[a->pool].conf.name);
			if (p < 0 || !lb_ipam_pool_holds(&np[p], a->addr.family, a->v))
				p = lb_ipam_pools_first_holding(np, n_pools, a->addr.family, a->v);
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
					lb_ipam_owner_unlink(ip, o);
					lb_ipam_owner_free(o);
				}
			}
			*pp = a->next;
			ip->an--;
			lb_ipam_alloc_free(a);
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
	return lb_ipam_pools_find(ip->pools, ip->n_pools, name);
}
