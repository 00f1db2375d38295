/*
 * announce.c - the announce decision and the BIRD include file (see announce.h).
 * Called by the bgp thread (cp/bgp/bgp.c) and the unit tests; no thread, no I/O,
 * no state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "lb_error.h"

const char *
cp_gate_name(enum cp_gate g)
{
	switch (g) {
	case CP_GATE_OPEN: return "open";
	case CP_GATE_DP_DOWN: return "dp down";
	case CP_GATE_DP_UNSYNCED: return "dp not synced yet";
	case CP_GATE_DRAINED: return "box drained";
	case CP_GATE_JOINING: return "waiting for the bulk copy from peers";
	}
	return "?";
}

const char *
cp_join_name(enum cp_join j)
{
	switch (j) {
	case CP_JOIN_NONE: return "no peers";
	case CP_JOIN_WAITING: return "waiting for the bulk copy";
	case CP_JOIN_DONE: return "bulk copy done";
	case CP_JOIN_TIMED_OUT: return "timed out";
	case CP_JOIN_NO_SYNC: return "the dp does not sync";
	}
	return "?";
}

enum cp_join
cp_join_decide(const struct cp_conf *c, int bulk_done, uint64_t dp_uptime_ms)
{
	if (c->cluster.n_peers == 0)
		return CP_JOIN_NONE;
	if (bulk_done < 0)
		return CP_JOIN_NO_SYNC;
	if (bulk_done > 0)
		return CP_JOIN_DONE;
	if (dp_uptime_ms >= (uint64_t)c->cluster.join_timeout_s * 1000)
		return CP_JOIN_TIMED_OUT;
	return CP_JOIN_WAITING;
}

bool
cp_join_open(enum cp_join j)
{
	return j != CP_JOIN_WAITING;
}

static void
snat_set(struct cp_snat *s, const struct lb_addr *a, const char *owner, bool ok, const char *why)
{
	s->addr = *a;
	s->owner = owner;
	s->announce = ok;
	s->why = ok ? "" : why;
}

int
cp_announce_snat(const struct cp_conf *c, bool dp_alive, bool joined, bool drained,
		 struct cp_snat **out, uint32_t *n_out)
{
	const struct cp_cluster_conf *cl = &c->cluster;
	uint32_t n = cl->n_local, k = 0;
	const char *why = !dp_alive  ? cp_gate_name(CP_GATE_DP_DOWN)
			  : !joined ? cp_gate_name(CP_GATE_JOINING)
				    : "";

	*out = NULL;
	*n_out = 0;
	if (cl->backup)
		for (uint32_t p = 0; p < cl->n_peers; p++)
			n += cl->peers[p].n_local;
	if (n == 0)
		return 0;
	struct cp_snat *s = calloc(n, sizeof(*s));
	if (s == NULL)
		return LB_ENOMEM;
	/* Ours while the dp is alive, drained or not: it still serves its flows. */
	for (uint32_t i = 0; i < cl->n_local; i++)
		snat_set(&s[k++], &cl->local[i], NULL, dp_alive && joined, why);
	/* A peer's while we could take its flows over, and are not on our way out. */
	for (uint32_t p = 0; cl->backup && p < cl->n_peers; p++)
		for (uint32_t i = 0; i < cl->peers[p].n_local; i++)
			snat_set(&s[k++], &cl->peers[p].local[i], cl->peers[p].name,
				 dp_alive && joined && !drained,
				 *why ? why : cp_gate_name(CP_GATE_DRAINED));
	*out = s;
	*n_out = k;
	return 0;
}

static int
cmp_vip(const void *a, const void *b)
{
	return lb_addr_cmp(&((const struct cp_vip *)a)->vip, &((const struct cp_vip *)b)->vip);
}

static bool
in_range(const struct lb_ip_range *r, const struct lb_addr *a)
{
	return a->family == r->lo.family && lb_addr_cmp(&r->lo, a) <= 0 &&
	       lb_addr_cmp(a, &r->hi) <= 0;
}

/* Whether the pool holding a (if any) is configured to announce regardless. */
static bool
always_pool(const struct cp_conf *c, const struct lb_addr *a)
{
	for (uint32_t p = 0; p < c->n_pools; p++) {
		const struct lb_pool_conf *pc = &c->pools[p];
		bool holds = false;
		for (uint32_t r = 0; r < pc->n_ranges && !holds; r++)
			holds = in_range(&pc->ranges[r], a);
		if (!holds)
			continue;
		for (uint32_t k = 0; k < c->bgp.n_always_pools; k++)
			if (strcmp(c->bgp.always_pools[k], pc->name) == 0)
				return true;
	}
	return false;
}

static bool
has_ready_backend(const struct lb_svc_spec *s)
{
	for (uint32_t b = 0; b < s->n_backends; b++)
		if (s->backends[b].state == LB_BACKEND_ACTIVE && s->backends[b].weight > 0)
			return true;
	return false;
}

int
cp_announce_decide(const struct lb_svc_spec *specs, uint32_t n, const struct cp_conf *c,
		   enum cp_gate gate, struct cp_vip **out, uint32_t *n_out)
{
	struct cp_vip *v = NULL;
	uint32_t nv = 0;

	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	v = calloc(n, sizeof(*v));
	if (v == NULL)
		return LB_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		v[i].vip = specs[i].vip;
		v[i].ready = has_ready_backend(&specs[i]);
	}
	qsort(v, n, sizeof(*v), cmp_vip);
	/* Merge the services of one VIP: ready if any is. */
	for (uint32_t i = 0; i < n; i++) {
		if (nv > 0 && lb_addr_eq(&v[nv - 1].vip, &v[i].vip)) {
			v[nv - 1].ready |= v[i].ready;
			continue;
		}
		v[nv++] = v[i];
	}
	for (uint32_t i = 0; i < nv; i++) {
		v[i].always = c->bgp.announce_always || always_pool(c, &v[i].vip);
		if (gate != CP_GATE_OPEN) {
			v[i].why = cp_gate_name(gate);
		} else if (!v[i].ready && !v[i].always) {
			v[i].why = "no ready backend";
		} else {
			v[i].announce = true;
			v[i].why = "";
		}
	}
	*out = v;
	*n_out = nv;
	return 0;
}

struct sb {
	char *s;
	size_t len, cap;
	bool oom;
};

static void __attribute__((format(printf, 2, 3)))
put(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
		char *s = realloc(b->s, cap);
		if (s == NULL) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* <protocol><kind>4 and 6 with the SNAT addresses of s that match mine (own or not). */
static void
render_snat(struct sb *b, const struct cp_snat *s, uint32_t ns, const char *protocol,
	    const char *kind, bool mine)
{
	char a[LB_ADDR_STRLEN];

	for (int fam = 0; fam < 2; fam++) {
		uint8_t af = fam == 0 ? LB_AF_INET : LB_AF_INET6;
		put(b, "protocol static %s%s%c {\n\t%s;\n", protocol, kind, fam == 0 ? '4' : '6',
		    fam == 0 ? "ipv4" : "ipv6");
		for (uint32_t i = 0; i < ns; i++) {
			if (!s[i].announce || s[i].addr.family != af || (s[i].owner == NULL) != mine)
				continue;
			put(b, "\troute %s/%d blackhole;", lb_addr_format(&s[i].addr, a, sizeof(a)),
			    fam == 0 ? 32 : 128);
			if (s[i].owner)
				put(b, " # %s", s[i].owner);
			put(b, "\n");
		}
		put(b, "}\n");
	}
}

int
cp_announce_render(const struct cp_vip *v, uint32_t n, const struct cp_snat *s, uint32_t ns,
		   const char *protocol, char **text)
{
	struct sb b = {0};
	char a[LB_ADDR_STRLEN];

	*text = NULL;
	put(&b, "# Generated by edgelb-cp: the VIPs this box announces. Do not edit;\n"
		"# include it from bird.conf and export these protocols' routes to BGP.\n");
	for (int fam = 0; fam < 2; fam++) {
		uint8_t af = fam == 0 ? LB_AF_INET : LB_AF_INET6;
		put(&b, "protocol static %s%c {\n\t%s;\n", protocol, fam == 0 ? '4' : '6',
		    fam == 0 ? "ipv4" : "ipv6");
		for (uint32_t i = 0; i < n; i++) {
			if (!v[i].announce || v[i].vip.family != af)
				continue;
			put(&b, "\troute %s/%d blackhole;\n", lb_addr_format(&v[i].vip, a, sizeof(a)),
			    fam == 0 ? 32 : 128);
		}
		put(&b, "}\n");
	}
	put(&b, "# SNAT addresses: this box's (normal preference), its peers' (backups:\n"
		"# bird.conf exports them with a worse preference).\n");
	render_snat(&b, s, ns, protocol, "snat", true);
	render_snat(&b, s, ns, protocol, "backup", false);
	if (b.oom) {
		free(b.s);
		return LB_ENOMEM;
	}
	*text = b.s;
	return 0;
}
