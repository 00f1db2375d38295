/*
 * neigh.c - routes and the neighbour cache (see neigh.h).
 *
 * Built on the main lcore at start; afterwards the control thread is the only
 * writer (ARP/NDP learning, static entries) and workers only read.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_malloc.h>

#include "dp.h"
#include "lb_error.h"
#include "neigh.h"
#include "rcu.h"

const char *const lb_neigh_state_names[LB_NEIGH_NSTATES] = {
	"incomplete", "reachable", "stale", "static", "probe", "failed",
};

struct neigh_key {
	uint8_t addr[16];
	uint8_t family;
	uint8_t pad[3];
};

struct lb_neigh_table {
	struct lb_dp *dp;
	unsigned n_routes;
	struct lb_route routes[LB_MAX_ROUTES]; /* longest prefix first */
	unsigned n_routes4;
	struct lb_route4 routes4[LB_MAX_ROUTES]; /* the IPv4 ones, same order (route4_index) */
	struct rte_hash *hash;                 /* neigh_key -> entry index (key position) */
	struct lb_neigh *entries;              /* [capacity] */
	uint32_t capacity;
	uint32_t count;                        /* entries in the hash */
	uint32_t unref;                        /* of which refs == 0 (static ones too) */
	uint32_t dynamic_max;                  /* unreferenced entries allowed */
	struct lb_rcu *rcu;                    /* deleted entries' indexes */
};

static void
prefix_mask(struct lb_route *r)
{
	uint8_t m[16] = {0};

	for (unsigned bit = 0; bit < r->prefix.len; bit++)
		m[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
	memcpy(r->mask, m, 16);
}

static bool
route_match(const struct lb_route *r, uint8_t family, const uint8_t *addr)
{
	uint64_t a[2], p[2];

	if (r->prefix.addr.family != family)
		return false;
	memcpy(a, addr, 16);
	if (family == LB_AF_INET)
		a[1] = 0; /* an IPv4 key carries only 4 bytes */
	memcpy(p, r->prefix.addr.bytes, 16);
	return ((a[0] & r->mask[0]) == p[0]) && ((a[1] & r->mask[1]) == p[1]);
}

/*
 * The IPv4 routes' scan list, from the finished route list. A prefix whose bytes
 * 4..15 are not zero never matches an IPv4 address in route_match() (the address's
 * are taken as zero): it is left out. Prefix bytes 0..3 are taken as they are,
 * unmasked, as route_match() compares them.
 */
static void
route4_index(struct lb_neigh_table *t)
{
	static const uint8_t zero[12];

	t->n_routes4 = 0;
	for (unsigned i = 0; i < t->n_routes; i++) {
		const struct lb_route *r = &t->routes[i];
		if (r->prefix.addr.family != LB_AF_INET ||
		    memcmp(r->prefix.addr.bytes + 4, zero, 12) != 0)
			continue;
		struct lb_route4 *r4 = &t->routes4[t->n_routes4++];
		memcpy(&r4->addr, r->prefix.addr.bytes, 4);
		memcpy(&r4->mask, r->mask, 4);
		r4->r = r;
	}
}

const struct lb_route4 *
lb_route4_list(const struct lb_neigh_table *t, unsigned *n)
{
	*n = t->n_routes4;
	return t->routes4;
}

const struct lb_route *
lb_route_lookup(const struct lb_neigh_table *t, uint8_t family, const uint8_t *addr)
{
	if (family == LB_AF_INET)
		return lb_route4_find(t->routes4, t->n_routes4, addr);
	for (unsigned i = 0; i < t->n_routes; i++)
		if (route_match(&t->routes[i], family, addr))
			return &t->routes[i];
	return NULL;
}

uint32_t
lb_neigh_lookup(const struct lb_neigh_table *t, uint8_t family, const uint8_t *addr)
{
	struct neigh_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr, addr, (size_t)lb_addr_len(family));
	k.family = family;
	int32_t pos = rte_hash_lookup(t->hash, &k);
	return pos < 0 ? LB_NEIGH_NONE : (uint32_t)pos;
}

struct lb_neigh *
lb_neigh_entry(const struct lb_neigh_table *t, uint32_t idx)
{
	return &t->entries[idx];
}

int
lb_neigh_ensure(struct lb_neigh_table *t, const struct lb_addr *addr, uint16_t port)
{
	struct neigh_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr, addr->bytes, 16);
	k.family = addr->family;
	int32_t pos = rte_hash_lookup(t->hash, &k);
	if (pos >= 0)
		return pos;
	/*
	 * Fill the entry before the key becomes visible: the hash insert is a release,
	 * so a worker that finds the key sees these fields.
	 */
	pos = rte_hash_add_key(t->hash, &k);
	if (pos < 0)
		return pos == -ENOSPC ? LB_EFULL : LB_EINVAL;
	struct lb_neigh *n = &t->entries[pos];
	__atomic_store_n(&n->mac, 0, __ATOMIC_RELAXED);
	memcpy(n->addr, addr->bytes, 16);
	n->family = addr->family;
	n->state = LB_NEIGH_INCOMPLETE;
	n->port = port;
	n->confirmed_tsc = 0;
	n->probe_tsc = 0;
	n->probes = 0;
	n->refs = 0;
	n->retry_ms = 0;
	n->state_tsc = rte_rdtsc();
	t->count++;
	t->unref++;
	return pos;
}

int
lb_neigh_ensure_dynamic(struct lb_neigh_table *t, const struct lb_addr *addr, uint16_t port)
{
	uint32_t idx = lb_neigh_lookup(t, addr->family, addr->bytes);

	if (idx != LB_NEIGH_NONE)
		return (int)idx;
	if (t->unref >= t->dynamic_max)
		return LB_EFULL;
	return lb_neigh_ensure(t, addr, port);
}

void
lb_neigh_ref(struct lb_neigh_table *t, uint32_t idx)
{
	if (idx == LB_NEIGH_NONE)
		return;
	if (t->entries[idx].refs++ == 0)
		t->unref--;
}

void
lb_neigh_unref(struct lb_neigh_table *t, uint32_t idx)
{
	if (idx == LB_NEIGH_NONE || t->entries[idx].refs == 0)
		return;
	if (--t->entries[idx].refs == 0)
		t->unref++;
}

static void
free_pos(void *ctx, void *p, uintptr_t pos)
{
	struct lb_neigh_table *t = ctx;

	(void)p;
	rte_hash_free_key_with_position(t->hash, (int32_t)pos);
}

int
lb_neigh_delete(struct lb_neigh_table *t, uint32_t idx)
{
	struct lb_neigh *n = &t->entries[idx];
	struct neigh_key k;

	if (n->state == LB_NEIGH_STATIC || n->refs > 0)
		return LB_ECONFLICT;
	memset(&k, 0, sizeof(k));
	memcpy(k.addr, n->addr, 16);
	k.family = n->family;
	/* Unusable first: a worker that still finds it punts its frame. */
	__atomic_store_n(&n->mac, 0, __ATOMIC_RELEASE);
	int32_t pos = rte_hash_del_key(t->hash, &k);
	if (pos < 0)
		return LB_ENOENT;
	t->count--;
	t->unref--;
	/*
	 * Lock-free mode keeps the key's slot until told: free it once every worker
	 * that may have looked it up let go. Out of memory for the retire record: the
	 * slot stays taken (a lost entry, never a reused one).
	 */
	(void)lb_rcu_retire(t->rcu, free_pos, t, NULL, (uintptr_t)pos);
	return 0;
}

void
lb_neigh_reclaim(struct lb_neigh_table *t)
{
	lb_rcu_reclaim(t->rcu);
}

uint32_t
lb_neigh_count(const struct lb_neigh_table *t)
{
	return t->count;
}

uint32_t
lb_neigh_unreferenced(const struct lb_neigh_table *t)
{
	return t->unref;
}

int
lb_neigh_learn(struct lb_neigh_table *t, const struct lb_addr *addr, const uint8_t mac[6],
	       uint16_t port, uint8_t state)
{
	int idx = lb_neigh_ensure(t, addr, port);
	if (idx < 0)
		return idx;
	struct lb_neigh *n = &t->entries[idx];
	if (n->state == LB_NEIGH_STATIC && state != LB_NEIGH_STATIC)
		return idx; /* the operator's entry wins over what the wire says */
	uint64_t w = LB_NEIGH_MAC_VALID;
	for (int i = 0; i < 6; i++)
		w |= (uint64_t)mac[i] << (8 * i);
	n->port = port;
	if (n->state != state)
		n->state_tsc = rte_rdtsc();
	n->state = state;
	n->probes = 0;
	n->retry_ms = 0;
	/* One store: a worker sees the old MAC or the new one, never a mix. */
	__atomic_store_n(&n->mac, w, __ATOMIC_RELEASE);
	return idx;
}

int
lb_neigh_resolve(struct lb_neigh_table *t, const struct lb_addr *dst, uint16_t *port,
		 uint32_t *neigh)
{
	const struct lb_route *r = lb_route_lookup(t, dst->family, dst->bytes);

	if (r == NULL)
		return LB_ENOENT;
	*port = r->port;
	if (r->gw_neigh != LB_NEIGH_NONE) {
		*neigh = r->gw_neigh;
		return 0;
	}
	int idx = lb_neigh_ensure(t, dst, r->port);
	if (idx < 0)
		return idx;
	*neigh = (uint32_t)idx;
	return 0;
}

/* Port index whose connected subnet holds a, or -1. */
static int
connected_port(const struct lb_dp *dp, const struct lb_addr *a)
{
	for (unsigned p = 0; p < dp->n_ports; p++) {
		const struct lb_port_conf *pc = &dp->conf.ports[p];
		for (unsigned i = 0; i < pc->n_addrs; i++) {
			struct lb_prefix pf = {.addr = pc->addrs[i].addr, .len = pc->addrs[i].len};
			lb_addr_mask(&pf.addr, pf.len);
			if (lb_prefix_contains(&pf, a))
				return (int)p;
		}
	}
	return -1;
}

static int
add_route(struct lb_neigh_table *t, const struct lb_prefix *pf, uint16_t port, uint32_t gw)
{
	if (t->n_routes == LB_MAX_ROUTES)
		return LB_EFULL;
	/* Keep longest prefixes first; equal lengths keep insertion order. */
	unsigned at = t->n_routes;
	while (at > 0 && t->routes[at - 1].prefix.len < pf->len)
		at--;
	memmove(&t->routes[at + 1], &t->routes[at], (t->n_routes - at) * sizeof(t->routes[0]));
	struct lb_route *r = &t->routes[at];
	memset(r, 0, sizeof(*r));
	r->prefix = *pf;
	r->port = port;
	r->gw_neigh = gw;
	prefix_mask(r);
	t->n_routes++;
	return 0;
}

struct lb_neigh_table *
lb_neigh_create(struct lb_dp *dp, uint32_t capacity, char *err, size_t errlen)
{
	struct lb_neigh_table *t = calloc(1, sizeof(*t));
	char name[RTE_HASH_NAMESIZE], a[LB_ADDR_STRLEN];
	const struct lb_dp_conf *c = &dp->conf;

	if (t == NULL)
		goto nomem;
	t->dp = dp;
	t->capacity = capacity;
	snprintf(name, sizeof(name), "lb_neigh");
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = sizeof(struct neigh_key),
		.socket_id = (int)rte_socket_id(),
		/* Workers read while the control thread writes; positions are entry indexes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};
	t->hash = rte_hash_create(&hp);
	if (t->hash == NULL) {
		snprintf(err, errlen, "neighbour hash: %s", rte_strerror(rte_errno));
		goto fail;
	}
	t->entries = rte_zmalloc("lb_neigh", (size_t)capacity * sizeof(*t->entries),
				 RTE_CACHE_LINE_SIZE);
	t->rcu = lb_rcu_create(dp->qsbr);
	if (t->entries == NULL || t->rcu == NULL)
		goto nomem;
	/* Room kept for what routes and backends need; the rest may hold clients. */
	t->dynamic_max = capacity > c->max_backends + LB_MAX_ROUTES
				 ? capacity - c->max_backends - LB_MAX_ROUTES : capacity / 2;

	/* Connected subnets of the ports' own addresses. */
	for (unsigned p = 0; p < dp->n_ports; p++) {
		const struct lb_port_conf *pc = &c->ports[p];
		for (unsigned i = 0; i < pc->n_addrs; i++) {
			struct lb_prefix pf = {.addr = pc->addrs[i].addr, .len = pc->addrs[i].len};
			lb_addr_mask(&pf.addr, pf.len);
			if (add_route(t, &pf, (uint16_t)p, LB_NEIGH_NONE) < 0)
				goto toomany;
		}
	}
	/* Static neighbours first, so a gateway's entry is static from the start. */
	for (unsigned i = 0; i < c->n_neighs; i++) {
		const struct lb_neigh_conf *nc = &c->neighs[i];
		int p = nc->port[0] ? lb_dp_conf_port_index(c, nc->port)
				    : connected_port(dp, &nc->addr);
		if (p < 0) {
			snprintf(err, errlen, "neighbour %s: no port given and no port's subnet holds it",
				 lb_addr_format(&nc->addr, a, sizeof(a)));
			goto fail;
		}
		if (lb_neigh_learn(t, &nc->addr, nc->mac, (uint16_t)p, LB_NEIGH_STATIC) < 0)
			goto toomany;
	}
	for (unsigned i = 0; i < c->n_routes; i++) {
		const struct lb_route_conf *rc = &c->routes[i];
		int p = rc->port[0] ? lb_dp_conf_port_index(c, rc->port) : -1;
		uint32_t gw = LB_NEIGH_NONE;
		if (p < 0 && rc->via.family)
			p = connected_port(dp, &rc->via);
		if (p < 0) {
			snprintf(err, errlen, "route %s: cannot tell its port",
				 lb_prefix_format(&rc->prefix, a, sizeof(a)));
			goto fail;
		}
		if (rc->via.family) {
			int idx = lb_neigh_ensure(t, &rc->via, (uint16_t)p);
			if (idx < 0)
				goto toomany;
			gw = (uint32_t)idx;
			lb_neigh_ref(t, gw); /* a gateway is never aged out */
		}
		if (add_route(t, &rc->prefix, (uint16_t)p, gw) < 0)
			goto toomany;
	}
	route4_index(t); /* the routes are final from here on */
	return t;

toomany:
	snprintf(err, errlen, "too many routes or neighbours (routes max %d, neighbours max %u)",
		 LB_MAX_ROUTES, capacity);
	goto fail;
nomem:
	snprintf(err, errlen, "out of memory for the neighbour table");
fail:
	lb_neigh_destroy(t);
	return NULL;
}

void
lb_neigh_destroy(struct lb_neigh_table *t)
{
	if (t == NULL)
		return;
	lb_rcu_destroy(t->rcu); /* frees pending slots: the hash must still exist */
	rte_hash_free(t->hash);
	rte_free(t->entries);
	free(t);
}

json_t *
lb_neigh_json(const struct lb_neigh_table *t)
{
	json_t *a = json_array();
	const void *key;
	void *data;
	uint32_t next = 0;
	int32_t pos;
	char s[LB_ADDR_STRLEN], m[32];

	while ((pos = rte_hash_iterate(t->hash, &key, &data, &next)) >= 0) {
		const struct lb_neigh *n = &t->entries[pos];
		struct lb_addr addr;
		uint8_t mac[6];
		lb_addr_set(&addr, n->family, n->addr);
		if (lb_neigh_mac(n, mac))
			snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
				 mac[3], mac[4], mac[5]);
		else
			snprintf(m, sizeof(m), "-");
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:i}", "address",
						   lb_addr_format(&addr, s, sizeof(s)), "mac", m, "state",
						   n->state < LB_NEIGH_NSTATES
							   ? lb_neigh_state_names[n->state] : "?",
						   "port", t->dp->conf.ports[n->port].name,
						   "refs", (int)n->refs));
	}
	return a;
}

int64_t
lb_neigh_next(const struct lb_neigh_table *t, uint32_t *iter)
{
	const void *key;
	void *data;
	int32_t pos = rte_hash_iterate(t->hash, &key, &data, iter);

	return pos < 0 ? -1 : pos;
}

void
lb_neigh_forget(struct lb_neigh_table *t, uint32_t idx)
{
	struct lb_neigh *n = &t->entries[idx];

	if (n->state == LB_NEIGH_STATIC)
		return;
	n->state = LB_NEIGH_FAILED;
	n->state_tsc = rte_rdtsc();
	/* Workers see "unresolved" and hand their packets to the control thread. */
	__atomic_store_n(&n->mac, 0, __ATOMIC_RELEASE);
}
