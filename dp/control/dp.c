/*
 * dp.c - assembles an edgelb-dp process from its configuration, and takes it
 * apart again, from one ordered table of modules (see `modules` below).
 *
 * Main lcore, before workers launch (lb_dp_build) and after they stopped
 * (lb_dp_teardown). Shared by edgelb-dp and the in-process benchmark and
 * pipeline tests, so all run exactly the same ports, tables and workers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "affinity.h"
#include "arp.h"
#include "ctl.h"
#include "dp.h"
#include "lb_error.h"
#include "neigh.h"
#include "port.h"
#include "service.h"
#include "state.h"
#include "peer.h"
#include "stats.h"
#include "sync.h"
#include "worker.h"

/* Worker lcores: the configured list, or every enabled lcore but the main one. */
static int
pick_workers(struct lb_dp *dp, char *err, size_t errlen)
{
	struct lb_dp_conf *c = &dp->conf;
	unsigned l;

	if (c->n_workers == 0) {
		RTE_LCORE_FOREACH_WORKER(l) {
			if (c->n_workers == LB_MAX_WORKERS)
				break;
			c->worker_lcores[c->n_workers++] = l;
		}
	}
	if (c->n_workers == 0) {
		snprintf(err, errlen, "no worker lcore: give EAL at least two lcores (e.g. -l 0-1)");
		return LB_EINVAL;
	}
	for (unsigned i = 0; i < c->n_workers; i++) {
		l = c->worker_lcores[i];
		if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l) || l == rte_get_main_lcore()) {
			snprintf(err, errlen, "dp.workers: lcore %u is not an EAL worker lcore", l);
			return LB_EINVAL;
		}
	}
	dp->n_workers = c->n_workers;
	return 0;
}

static int
make_pool(struct lb_dp *dp, char *err, size_t errlen)
{
	uint32_t n = dp->conf.mbufs;
	uint16_t mtu = 1500;

	for (unsigned pi = 0; pi < dp->n_ports; pi++)
		if (dp->conf.ports[pi].mtu > mtu)
			mtu = dp->conf.ports[pi].mtu;
	if (n == 0) {
		for (unsigned pi = 0; pi < dp->n_ports; pi++)
			n += dp->n_workers * (dp->conf.ports[pi].rx_desc + dp->conf.ports[pi].tx_desc + 128u);
		n += dp->n_workers * (4096u + 256u) + 4096u;
	}
	/* 128 bytes of slack: some PMDs (af_packet) need room beyond the frame. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + mtu + RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + 4 + 128;
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	dp->pool = rte_pktmbuf_pool_create("lb_mbufs", n, 256, 0, (uint16_t)room, (int)rte_socket_id());
	if (dp->pool == NULL) {
		snprintf(err, errlen, "mbuf pool of %u: %s (more hugepages, or EAL -m / --no-huge -m)",
			 n, rte_strerror(rte_errno));
		return LB_ENOMEM;
	}
	return 0;
}

static int
make_qsbr(struct lb_dp *dp, char *err, size_t errlen)
{
	size_t sz = rte_rcu_qsbr_get_memsize(dp->n_workers);

	dp->qsbr = rte_zmalloc("lb_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (dp->qsbr == NULL || rte_rcu_qsbr_init(dp->qsbr, dp->n_workers) != 0) {
		snprintf(err, errlen, "QSBR variable for %u workers", dp->n_workers);
		return LB_ENOMEM;
	}
	for (unsigned w = 0; w < dp->n_workers; w++)
		rte_rcu_qsbr_thread_register(dp->qsbr, w);
	return 0;
}

/* Own addresses and fnat sources, in config order: local_idx = position. */
static int
collect_addrs(struct lb_dp *dp, char *err, size_t errlen)
{
	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		const struct lb_port_conf *pc = &dp->conf.ports[pi];
		for (unsigned i = 0; i < pc->n_local; i++) {
			if (dp->n_local == LB_MAX_LOCAL_ADDRS) {
				snprintf(err, errlen, "more than %d local addresses", LB_MAX_LOCAL_ADDRS);
				return LB_EINVAL;
			}
			dp->local[dp->n_local].addr = pc->local[i];
			dp->local[dp->n_local].port = (uint16_t)pi;
			dp->n_local++;
		}
	}
	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		const struct lb_port_conf *pc = &dp->conf.ports[pi];
		for (unsigned i = 0; i < pc->n_addrs; i++)
			if (lb_svcs_add_addr(dp->svcs, &pc->addrs[i].addr, LB_ADDR_OWN, 0) < 0)
				goto full;
	}
	for (unsigned l = 0; l < dp->n_local; l++)
		if (lb_svcs_add_addr(dp->svcs, &dp->local[l].addr, LB_ADDR_LOCAL, (uint8_t)l) < 0)
			goto full;
	return 0;
full:
	snprintf(err, errlen, "address table full");
	return LB_EFULL;
}

static int
register_meta(struct lb_dp *dp, char *err, size_t errlen)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "edgelb_meta",
		.size = sizeof(struct lb_mbuf_meta),
		.align = __alignof__(struct lb_mbuf_meta),
	};

	dp->meta_off = rte_mbuf_dynfield_register(&desc);
	if (dp->meta_off < 0) {
		snprintf(err, errlen, "mbuf dynamic field: %s", rte_strerror(rte_errno));
		return LB_ENOMEM;
	}
	return 0;
}

static void
free_pool(struct lb_dp *dp)
{
	rte_mempool_free(dp->pool);
	dp->pool = NULL;
}

static void
free_qsbr(struct lb_dp *dp)
{
	rte_free(dp->qsbr);
	dp->qsbr = NULL;
}

static int
make_neigh(struct lb_dp *dp, char *err, size_t errlen)
{
	dp->neigh = lb_neigh_create(dp, dp->conf.max_backends + 4096, err, errlen);
	return dp->neigh ? 0 : LB_EINVAL;
}

static void
free_neigh(struct lb_dp *dp)
{
	lb_neigh_destroy(dp->neigh);
	dp->neigh = NULL;
}

static int
make_affinity(struct lb_dp *dp, char *err, size_t errlen)
{
	size_t asz = lb_aff_mem_size(dp->conf.affinity_capacity);
	void *amem = rte_zmalloc("lb_affinity", asz, RTE_CACHE_LINE_SIZE);

	dp->affinity = amem ? lb_aff_init(amem, asz, dp->conf.affinity_capacity, dp->conf.hash_seed)
			    : NULL;
	if (dp->affinity == NULL) {
		rte_free(amem);
		snprintf(err, errlen, "affinity table of %u entries: out of memory",
			 dp->conf.affinity_capacity);
		return LB_ENOMEM;
	}
	return 0;
}

static void
free_affinity(struct lb_dp *dp)
{
	rte_free(dp->affinity);
	dp->affinity = NULL;
}

/* The service table's reports, handled here so tables/ never calls into control/. */
static void
on_vip_added(void *arg, const struct lb_addr *vip)
{
	struct lb_dp *dp = arg;

	lb_arp_announce(dp->arp, vip); /* NULL before the ARP module: it announces all then */
}

static void
on_svc_id_reused(void *arg, uint32_t id)
{
	lb_stats_svc_rebase(arg, id);
}

static void
on_real_id_reused(void *arg, uint32_t id)
{
	lb_stats_real_rebase(arg, id);
}

static int
make_services(struct lb_dp *dp, char *err, size_t errlen)
{
	const struct lb_svcs_events ev = {
		.vip_added = on_vip_added,
		.svc_id_reused = on_svc_id_reused,
		.real_id_reused = on_real_id_reused,
		.arg = dp,
	};

	dp->svcs = lb_svcs_create(dp, dp->conf.max_services, dp->conf.max_backends, err, errlen);
	if (dp->svcs == NULL)
		return LB_ENOMEM;
	lb_svcs_set_events(dp->svcs, &ev);
	return 0;
}

static void
free_services(struct lb_dp *dp)
{
	lb_svcs_destroy(dp->svcs);
	dp->svcs = NULL;
}

static int
make_ports(struct lb_dp *dp, char *err, size_t errlen)
{
	int rc = lb_ports_init(dp, err, errlen);

	return rc < 0 ? rc : lb_ports_steer(dp, err, errlen);
}

static int
make_workers(struct lb_dp *dp, char *err, size_t errlen)
{
	for (unsigned w = 0; w < dp->n_workers; w++) {
		dp->workers[w] = lb_worker_create(dp, w, dp->conf.worker_lcores[w], err, errlen);
		if (dp->workers[w] == NULL)
			return LB_ENOMEM;
		dp->wstats[w] = lb_worker_stats(dp->workers[w]);
	}
	return 0;
}

static void
free_workers(struct lb_dp *dp)
{
	for (unsigned w = 0; w < dp->n_workers; w++) {
		lb_worker_destroy(dp->workers[w]);
		dp->workers[w] = NULL;
		dp->wstats[w] = NULL;
	}
}

/* Flow sync (docs/flow-sync.md): the peer table before the workers that read it. */
static int
make_peers(struct lb_dp *dp, char *err, size_t errlen)
{
	if (!dp->conf.sync.enabled)
		return 0;
	dp->peers = lb_peer_create(dp->conf.sync.capacity, dp->conf.hash_seed ^ rte_rdtsc());
	if (dp->peers == NULL) {
		snprintf(err, errlen, "flow sync: peer table of %u entries: out of memory",
			 dp->conf.sync.capacity);
		return LB_ENOMEM;
	}
	return 0;
}

static void
free_peers(struct lb_dp *dp)
{
	lb_peer_destroy(dp->peers);
	dp->peers = NULL;
}

static int
make_sync(struct lb_dp *dp, char *err, size_t errlen)
{
	if (!dp->conf.sync.enabled)
		return 0;
	dp->sync = lb_sync_create(dp, err, errlen);
	if (dp->sync == NULL)
		return LB_EINVAL;
	if (dp->adopting) {
		unsigned n = lb_sync_forget_foreign(dp);
		if (n)
			fprintf(stderr, "edgelb-dp: flow sync: %u connection(s) the previous process "
					"took over from peers dropped; taken over again on their next "
					"packet\n", n);
	}
	return 0;
}

static void
free_sync(struct lb_dp *dp)
{
	lb_sync_destroy(dp->sync);
	dp->sync = NULL;
}

/* Services of the configuration file, as if the control socket had sent them. */
static int
load_services(struct lb_dp *dp, char *err, size_t errlen)
{
	for (unsigned i = 0; i < dp->conf.n_services; i++) {
		char why[256];
		int rc = lb_svcs_upsert(dp->svcs, &dp->conf.services[i], why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "service %.100s: %s", dp->conf.services[i].name, why);
			return rc;
		}
	}
	return 0;
}

static int
make_arp(struct lb_dp *dp, char *err, size_t errlen)
{
	dp->arp = lb_arp_create(dp, err, errlen);
	return dp->arp ? 0 : LB_ENOMEM;
}

static void
free_arp(struct lb_dp *dp)
{
	lb_arp_destroy(dp->arp);
	dp->arp = NULL;
}

static int
make_ctl(struct lb_dp *dp, char *err, size_t errlen)
{
	if (dp->conf.control_socket[0] == '\0')
		return 0;
	dp->ctl = lb_ctl_create(dp, err, errlen);
	return dp->ctl ? 0 : LB_EIO;
}

static void
free_ctl(struct lb_dp *dp)
{
	lb_ctl_destroy(dp->ctl);
	dp->ctl = NULL;
}

/*
 * The dp, module by module (DPVS's DPVS_MODULES): build runs the table top to
 * bottom and stops at the first failure; teardown runs the modules that were
 * built, bottom to top. Each row may read what the rows above it made.
 * LB_MOD_DAEMON rows are left out by an in-process user (the benchmark).
 */
enum { LB_MOD_CORE = 0, LB_MOD_DAEMON = 1 };

static const struct lb_dp_module {
	const char *name;
	int (*init)(struct lb_dp *dp, char *err, size_t errlen);
	void (*term)(struct lb_dp *dp);
	int kind;
} modules[] = {
	{"mbuf metadata", register_meta, NULL, LB_MOD_CORE},
	{"worker lcores", pick_workers, NULL, LB_MOD_CORE},
	{"mbuf pool", make_pool, free_pool, LB_MOD_CORE},
	{"QSBR", make_qsbr, free_qsbr, LB_MOD_CORE},
	{"routes and neighbours", make_neigh, free_neigh, LB_MOD_CORE},
	{"ClientIP affinity", make_affinity, free_affinity, LB_MOD_CORE},
	{"counter baselines", lb_stats_create, lb_stats_destroy, LB_MOD_CORE},
	{"persistent state", lb_state_open, lb_state_close, LB_MOD_CORE},
	{"service table", make_services, free_services, LB_MOD_CORE},
	{"own addresses", collect_addrs, NULL, LB_MOD_CORE},
	{"ports", make_ports, lb_ports_close, LB_MOD_CORE},
	{"flow sync peer table", make_peers, free_peers, LB_MOD_CORE},
	{"workers", make_workers, free_workers, LB_MOD_CORE},
	{"flow sync", make_sync, free_sync, LB_MOD_CORE},
	{"configured services", load_services, NULL, LB_MOD_CORE},
	{"ARP/NDP/ICMP", make_arp, free_arp, LB_MOD_DAEMON},
	{"control socket", make_ctl, free_ctl, LB_MOD_DAEMON},
};

int
lb_dp_build(struct lb_dp *dp, bool daemon, char *err, size_t errlen)
{
	dp->n_ports = dp->conf.n_ports;
	struct timespec ts;

	dp->tsc_hz = rte_get_tsc_hz();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	dp->start_tsc = rte_rdtsc();
	dp->clock_base_ms = (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	dp->daemon = daemon;
	dp->n_built = 0;
	for (unsigned i = 0; i < RTE_DIM(modules); i++) {
		if (modules[i].kind == LB_MOD_DAEMON && !daemon)
			break;
		int rc = modules[i].init(dp, err, errlen);
		if (rc < 0) {
			if (err[0] == '\0')
				snprintf(err, errlen, "%s: %s", modules[i].name, lb_strerror(rc));
			return rc;
		}
		dp->n_built = i + 1;
	}
	return 0;
}

void
lb_dp_teardown(struct lb_dp *dp)
{
	while (dp->n_built > 0) {
		const struct lb_dp_module *m = &modules[--dp->n_built];
		if (m->term)
			m->term(dp);
	}
	lb_dp_conf_free(&dp->conf);
}
