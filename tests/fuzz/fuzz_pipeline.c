/*
 * fuzz_pipeline.c - libFuzzer harness for the worker pipeline and the control
 * thread's packet work, in process (dp/fastpath, dp/control/arp.c).
 *
 * Input: byte 0 picks the receiving port (bit 0) and whether the frame's
 * destination MAC is set to that port's own (bit 1: most frames then get past
 * the MAC check); the rest is the frame. It goes through worker 0
 * (lb_worker_process, lb_worker_flush) on a dp built as fuzz_dp.h says, then the
 * control thread serves what was punted (lb_arp_poll). Everything sent is taken
 * from the ports' TX rings and from the control thread's TX ring. Oracles:
 *  - every frame the dp sends parses (dp/lib/parse.c) and its IP datagram fits
 *    the egress port's MTU;
 *  - when the input was a correct datagram (IPv4 header and TCP/UDP/ICMP checksums
 *    right from scratch, tests/csum_ref.h) and no frame was held from before,
 *    every IP frame sent has both checksums right from scratch;
 *  - no mbuf leaks: the pool never falls below its size minus what the ARP
 *    module may hold (LB_HOLD_MAX) and the rings' capacity.
 * Seeds: the frames tests/test_pipeline.c sends.
 */
#define _GNU_SOURCE /* sched_getaffinity (pipeline_eal.h) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../csum_ref.h"
#include "fuzz_dp.h"
#include "lb_addr.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const uint16_t port_mtu[FZ_PORTS] = {1500, 1400};
static const uint8_t port_mac[FZ_PORTS][6] = {{2, 0, 0, 0, 0, 2}, {2, 0, 0, 0, 1, 1}};

/* Is the IP datagram of an accepted frame correct: L4 (or ICMP) checksum from scratch. */
static int
csum_ok(const uint8_t *f, const struct lb_pkt *p)
{
	const uint8_t *l3 = f + p->l2_len, *l4 = l3 + p->l3_len;
	uint32_t l4len = (uint32_t)p->ip_len - p->l3_len, acc = 0;
	uint8_t ph[4] = {0, p->proto, (uint8_t)(l4len >> 8), (uint8_t)l4len};

	if (p->kind == LB_PKT_ARP)
		return 1;
	if (p->family == LB_AF_INET && ref_fold(ref_add(0, l3, 20)) != 0xffff)
		return 0;
	if (p->family == LB_AF_INET && p->proto == LB_IPPROTO_UDP && rd16(l4 + 6) == 0)
		return 1; /* IPv4 UDP without a checksum */
	if (p->family == LB_AF_INET && p->proto == LB_IPPROTO_ICMP)
		return ref_fold(ref_add(0, l4, l4len)) == 0xffff;
	acc = ref_add(acc, p->family == LB_AF_INET ? l3 + 12 : l3 + 8,
		      p->family == LB_AF_INET ? 8 : 32);
	acc = ref_add(acc, ph, 4);
	acc = ref_add(acc, l4, l4len);
	return ref_fold(acc) == 0xffff;
}

static void
check_out(struct rte_mbuf *m, unsigned port, int want_csum)
{
	struct lb_pkt p;
	enum lb_drop why;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);

	if (m->nb_segs != 1 || m->pkt_len != m->data_len)
		abort();
	if (lb_parse(f, m->data_len, &p, &why) < 0)
		abort(); /* the dp sent a frame that it would drop itself */
	if (p.kind != LB_PKT_ARP && p.ip_len > port_mtu[port])
		abort(); /* larger than the egress port's MTU */
	if (want_csum && !csum_ok(f, &p))
		abort(); /* a checksum went wrong on the way */
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_dp_init("pipeline");
	for (unsigned p = 0; p < FZ_PORTS; p++)
		for (unsigned q = 0; q < FZ_WORKERS; q++)
			fz_drain(fz_tx[p][q]); /* the start's announcements */
	fz_drain(lb_worker_tx_ring(fz_dp.workers[0]));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rte_mbuf *m, *pkts[64];
	struct lb_pkt p;
	enum lb_drop why;

	if (size < 1 || size - 1 > 2048 - RTE_PKTMBUF_HEADROOM)
		return 0;
	uint16_t port = data[0] & 1;
	unsigned held_before = lb_arp_held(fz_dp.arp);
	m = rte_pktmbuf_alloc(fz_dp.pool);
	if (m == NULL)
		abort(); /* mbufs leaked */
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(size - 1));
	if (f == NULL && size > 1)
		abort();
	if (size > 1)
		memcpy(f, data + 1, size - 1);
	if ((data[0] & 2) && size - 1 >= 6)
		memcpy(f, port_mac[port], 6);
	int valid = size > 1 && lb_parse(f, (uint32_t)(size - 1), &p, &why) == 0 &&
		    p.kind != LB_PKT_ARP && csum_ok(f, &p);

	lb_worker_process(fz_dp.workers[0], port, &m, 1);
	lb_worker_flush(fz_dp.workers[0]);
	lb_arp_poll(fz_dp.arp);
	lb_svcs_reclaim(fz_dp.svcs);

	int want_csum = valid && held_before == 0;
	for (unsigned pi = 0; pi < FZ_PORTS; pi++)
		for (unsigned q = 0; q < FZ_WORKERS; q++) {
			unsigned n;
			while ((n = rte_ring_sc_dequeue_burst(fz_tx[pi][q], (void **)pkts, 64, NULL)) > 0)
				for (unsigned i = 0; i < n; i++) {
					check_out(pkts[i], pi, want_csum);
					rte_pktmbuf_free(pkts[i]);
				}
		}
	void *x;
	struct rte_ring *txq = lb_worker_tx_ring(fz_dp.workers[0]);
	while (rte_ring_sc_dequeue(txq, &x) == 0) {
		struct rte_mbuf *o = x;
		unsigned op = lb_meta(fz_dp.meta_off, o)->port;
		if (op >= FZ_PORTS)
			abort();
		check_out(o, op, want_csum);
		rte_pktmbuf_free(o);
	}
	fz_drain(fz_handoff1);
	fz_drain(lb_worker_ctrl_ring(fz_dp.workers[1]));
	if (rte_mempool_avail_count(fz_dp.pool) + LB_HOLD_MAX + 64 < fz_dp.pool->size)
		abort(); /* mbufs leak */
	return 0;
}
