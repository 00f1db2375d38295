/*
 * dp.c - assembles an edgelb-dp process from its configuration.
 *
 * Main lcore, before workers launch (lb_dp_build) and after they stopped
 * (lb_dp_teardown). Shared by edgelb-dp and the in-process benchmark, so both
 * run exactly the same ports, tables and workers.
 */
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "affinity.h"
#include "dp.h"
#include "lb_error.h"
#include "neigh.h"
#include "port.h"
#include "service.h"
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

int lb_meta_off = -1;

static int
register_meta(char *err, size_t errlen)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "edgelb_meta",
		.size = sizeof(struct lb_mbuf_meta),
		.align = __alignof__(struct lb_mbuf_meta),
	};

	lb_meta_off = rte_mbuf_dynfield_register(&desc);
	if (lb_meta_off < 0) {
		snprintf(err, errlen, "mbuf dynamic field: %s", rte_strerror(rte_errno));
		return LB_ENOMEM;
	}
	return 0;
}

int
lb_dp_build(struct lb_dp *dp, char *err, size_t errlen)
{
	int rc;

	dp->n_ports = dp->conf.n_ports;
	dp->tsc_hz = rte_get_tsc_hz();
	dp->start_tsc = rte_rdtsc();
	if ((rc = register_meta(err, errlen)) < 0 || (rc = pick_workers(dp, err, errlen)) < 0 ||
	    (rc = make_pool(dp, err, errlen)) < 0 ||
	    (rc = make_qsbr(dp, err, errlen)) < 0)
		return rc;
	dp->neigh = lb_neigh_create(dp, dp->conf.max_backends + 4096, err, errlen);
	if (dp->neigh == NULL)
		return LB_EINVAL;
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
	dp->svcs = lb_svcs_create(dp, dp->conf.max_services, dp->conf.max_backends, err, errlen);
	if (dp->svcs == NULL)
		return LB_ENOMEM;
	if ((rc = collect_addrs(dp, err, errlen)) < 0 || (rc = lb_ports_init(dp, err, errlen)) < 0 ||
	    (rc = lb_ports_steer(dp, err, errlen)) < 0)
		return rc;
	for (unsigned w = 0; w < dp->n_workers; w++) {
		dp->workers[w] = lb_worker_create(dp, w, dp->conf.worker_lcores[w], err, errlen);
		if (dp->workers[w] == NULL)
			return LB_ENOMEM;
		dp->wstats[w] = lb_worker_stats(dp->workers[w]);
	}
	for (unsigned i = 0; i < dp->conf.n_services; i++) {
		char why[256];
		rc = lb_svcs_upsert(dp->svcs, &dp->conf.services[i], why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "service %.100s: %s", dp->conf.services[i].name, why);
			return rc;
		}
	}
	return 0;
}

void
lb_dp_teardown(struct lb_dp *dp)
{
	lb_ports_close(dp);
	for (unsigned w = 0; w < dp->n_workers; w++)
		lb_worker_destroy(dp->workers[w]);
	lb_svcs_destroy(dp->svcs);
	lb_neigh_destroy(dp->neigh);
	rte_free(dp->affinity);
	rte_free(dp->qsbr);
	rte_mempool_free(dp->pool);
	lb_dp_conf_free(&dp->conf);
}

