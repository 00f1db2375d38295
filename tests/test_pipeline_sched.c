/*
 * test_pipeline_sched.c - the schedulers through the real worker pipeline.
 *
 * Same harness as tests/test_pipeline.c: a whole dp built in process with
 * lb_dp_build(&dp, false, ...) on two net_ring ports, EAL --no-huge --no-shconf, no
 * root. The main thread plays both workers (their lcores are never launched) and
 * hands each a burst of TCP SYNs from new clients; what the worker sent to the
 * internal port says which backend each new flow got (the destination address of
 * the rewritten frame). One service per scheduler (config_text below):
 *
 *   198.18.0.100:80 rr   .10 .11 .12            exact round robin per worker
 *   198.18.0.101:80 wrr  .10 w1 .11 w2 .12 w3 .13 w0   shares by weight (1 %)
 *   198.18.0.102:80 lc   .10 .11 .12 (+ .13 by a row)   new flows to the least loaded
 *   198.18.0.103:80 sh   .10 .11 .12 .13        one client, one backend, any worker
 *   198.18.0.104:80 dh   .10 .11 .12            one VIP, one backend
 *   198.18.0.105:80 maglev (the default)        unchanged: spread over all
 *   198.18.0.106:80 sed  .10 .11                closed connections do not count
 *   198.18.0.107:80 lc   .10 .11                a closed one weighs 1/256 of an open one
 *
 * Last, worker 1's conntrack is filled with half-open flows: a new rr or lc flow then
 * takes the place of one of them (evicted), is tracked, and gets its scheduler's
 * answer; no flow is ever forwarded without state.
 *
 * Backends 198.19.0.10-.13 on port "int"; clients 198.18.x.y from port "ext".
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "conntrack.h"
#include "dp.h"
#include "lb_addr.h"
#include "lb_counters.h"
#include "service.h"
#include "worker.h"
#include "pipeline_eal.h"

#define N_WORKERS 2
#define N_BACKENDS 4
#define RING 1024
#define BURST 32

enum { P_EXT = 0, P_INT = 1, N_PORTS = 2 };

static const char config_text[] =
	"dp: {\n"
	"  workers = [1, 2];\n"
	"  mbufs = 4096;\n"
	"  hash_seed = \"0x5eed5eed5eed5eed\";\n"
	"  max_services = 16;\n"
	"  max_backends = 64;\n"
	"  steering = \"ring\";\n"
	"  snat_ports = [1024, 65535];\n"
	"  control_socket = \"\";\n"
	"};\n"
	"conntrack: { capacity = 16384; };\n"
	"ports = (\n"
	"  { name = \"ext\"; device = \"net_ring_ext\"; role = \"external\";\n"
	"    addresses = [\"198.18.0.2/16\"]; mac = \"02:00:00:00:00:02\";\n"
	"    rx_desc = 64; tx_desc = 64; },\n"
	"  { name = \"int\"; device = \"net_ring_int\"; role = \"internal\";\n"
	"    addresses = [\"198.19.0.1/24\"]; local_addresses = [\"198.19.0.2\"];\n"
	"    mac = \"02:00:00:00:01:01\"; rx_desc = 64; tx_desc = 64; }\n"
	");\n"
	"routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; } );\n"
	"neighbours = (\n"
	"  { address = \"198.18.0.1\"; mac = \"02:00:00:00:00:01\"; },\n"
	"  { address = \"198.19.0.10\"; mac = \"02:00:00:00:01:10\"; },\n"
	"  { address = \"198.19.0.11\"; mac = \"02:00:00:00:01:11\"; },\n"
	"  { address = \"198.19.0.12\"; mac = \"02:00:00:00:01:12\"; },\n"
	"  { address = \"198.19.0.13\"; mac = \"02:00:00:00:01:13\"; }\n"
	");\n"
#define B(a, w) "{ address = \"198.19.0." #a "\"; port = 8080; weight = " #w "; }"
	"services = (\n"
	"  { name = \"rr\"; vip = \"198.18.0.100\"; port = 80; scheduler = \"rr\";\n"
	"    backends = ( " B(10, 1) ", " B(11, 1) ", " B(12, 1) " ); },\n"
	"  { name = \"wrr\"; vip = \"198.18.0.101\"; port = 80; scheduler = \"WRR\";\n"
	"    backends = ( " B(10, 1) ", " B(11, 2) ", " B(12, 3) ", " B(13, 0) " ); },\n"
	"  { name = \"lc\"; vip = \"198.18.0.102\"; port = 80; scheduler = \"lc\";\n"
	"    backends = ( " B(12, 1) ", " B(11, 1) ", " B(10, 1) " ); },\n"
	"  { name = \"sh\"; vip = \"198.18.0.103\"; port = 80; scheduler = \"sh\";\n"
	"    backends = ( " B(10, 1) ", " B(11, 1) ", " B(12, 1) ", " B(13, 1) " ); },\n"
	"  { name = \"dh\"; vip = \"198.18.0.104\"; port = 80; scheduler = \"dh\";\n"
	"    backends = ( " B(10, 1) ", " B(11, 1) ", " B(12, 1) " ); },\n"
	"  { name = \"maglev\"; vip = \"198.18.0.105\"; port = 80;\n"
	"    backends = ( " B(10, 1) ", " B(11, 1) ", " B(12, 1) " ); },\n"
	"  { name = \"sed\"; vip = \"198.18.0.106\"; port = 80; scheduler = \"sed\";\n"
	"    backends = ( " B(10, 1) ", " B(11, 1) " ); },\n"
	"  { name = \"lc2\"; vip = \"198.18.0.107\"; port = 80; scheduler = \"lc\";\n"
	"    backends = ( " B(10, 1) ", " B(11, 1) " ); }\n"
	");\n";
#undef B

static struct lb_dp dp;
static struct rte_ring *rx_rings[N_PORTS][N_WORKERS], *tx_rings[N_PORTS][N_WORKERS];
static unsigned next_client; /* every flow its own client address and port unless asked */

static const uint8_t ext_mac[6] = {2, 0, 0, 0, 0, 2}, gw_mac[6] = {2, 0, 0, 0, 0, 1};

static uint16_t
csum16(const uint8_t *b, unsigned n)
{
	uint32_t s = 0;

	for (unsigned i = 0; i + 1 < n; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Eth/IPv4/TCP SYN client:sport -> 198.18.0.<vip>:80 (the TCP checksum is not checked). */
static struct rte_mbuf *
syn(uint32_t client, uint16_t sport, unsigned vip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
	assert_non_null(m);
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	memset(f, 0, 54);
	memcpy(f, ext_mac, 6);
	memcpy(f + 6, gw_mac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[3] = 40;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	uint32_t c = htonl(client);
	memcpy(ip + 12, &c, 4);
	const uint8_t dst[4] = {198, 18, 0, (uint8_t)vip};
	memcpy(ip + 16, dst, 4);
	uint16_t sum = htons(csum16(ip, 20));
	memcpy(ip + 10, &sum, 2);
	uint8_t *tcp = ip + 20;
	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	tcp[3] = 80;
	tcp[12] = 5 << 4;
	tcp[13] = 0x02; /* SYN */
	tcp[14] = 0xff;
	m->data_len = 54;
	m->pkt_len = 54;
	return m;
}

static uint32_t
new_client(void)
{
	next_client++;
	return (198u << 24) | (18u << 16) | (uint32_t)(1 + next_client / 250) << 8 |
	       (1 + next_client % 250);
}

/*
 * n SYNs to the service at 198.18.0.<vip> through worker w, in bursts; clients[i]
 * (0: a new client each) with source ports from 20000. got[i] is the backend
 * (0..3 for .10...13) flow i reached, read from what the worker sent.
 */
static void
send_flows(unsigned w, unsigned vip, unsigned n, const uint32_t *clients, int *got)
{
	static uint16_t sport = 20000;

	for (unsigned done = 0; done < n;) {
		struct rte_mbuf *pkts[BURST], *out[BURST];
		unsigned k = n - done < BURST ? n - done : BURST;

		for (unsigned i = 0; i < k; i++) {
			uint32_t c = clients && clients[done + i] ? clients[done + i] : new_client();
			pkts[i] = syn(c, sport, vip);
			sport = sport == 65000 ? 20000 : sport + 1;
		}
		lb_worker_process(dp.workers[w], P_EXT, pkts, (uint16_t)k);
		lb_worker_flush(dp.workers[w]);
		unsigned o = rte_ring_dequeue_burst(tx_rings[P_INT][w], (void **)out, BURST, NULL);
		assert_int_equal(o, k); /* one frame to a backend per SYN, in order */
		for (unsigned i = 0; i < o; i++) {
			const uint8_t *ip = rte_pktmbuf_mtod_offset(out[i], const uint8_t *, 14);
			assert_int_equal(ip[16], 198);
			assert_int_equal(ip[17], 19);
			assert_true(ip[19] >= 10 && ip[19] < 10 + N_BACKENDS);
			got[done + i] = ip[19] - 10;
		}
		rte_pktmbuf_free_bulk(out, o);
		done += k;
	}
}

/* One SYN client:sport -> 198.18.0.<vip>:80 through worker w: the backend it reached. */
static int
send_one(unsigned w, unsigned vip, uint32_t client, uint16_t sport)
{
	struct rte_mbuf *m = syn(client, sport, vip), *out = NULL;

	lb_worker_process(dp.workers[w], P_EXT, &m, 1);
	lb_worker_flush(dp.workers[w]);
	assert_int_equal(rte_ring_dequeue(tx_rings[P_INT][w], (void **)&out), 0);
	int b = rte_pktmbuf_mtod_offset(out, const uint8_t *, 14)[19] - 10;
	rte_pktmbuf_free(out);
	return b;
}

static void
count(const int *got, unsigned n, unsigned *per)
{
	memset(per, 0, sizeof(*per) * N_BACKENDS);
	for (unsigned i = 0; i < n; i++)
		per[got[i]]++;
}

/* ---- rr ------------------------------------------------------------------- */

static void
test_rr_is_exact_round_robin_per_worker(void **state)
{
	int got[300];

	(void)state;
	/* interleave the workers: each keeps its own place */
	for (unsigned round = 0; round < 3; round++)
		for (unsigned w = 0; w < N_WORKERS; w++) {
			send_flows(w, 100, 100, NULL, got);
			for (unsigned i = 0; i < 100; i++)
				assert_int_equal(got[i], (int)((round * 100 + i) % 3));
		}
}

static void
test_rr_is_consulted_only_for_new_flows(void **state)
{
	uint32_t c = new_client();

	(void)state;
	/* the rr test left worker 0's cursor after backend 2: next is 0 */
	assert_int_equal(send_one(0, 100, c, 1111), 0);
	/* the same flow again (a retransmitted SYN): conntrack, not the scheduler */
	assert_int_equal(send_one(0, 100, c, 1111), 0);
	assert_int_equal(send_one(0, 100, c, 1111), 0);
	/* so the next new flow still gets the next backend */
	assert_int_equal(send_one(0, 100, c, 1112), 1);
	assert_int_equal(send_one(0, 100, c, 1111), 0);
	assert_int_equal(send_one(0, 100, c, 1113), 2);
}

/* ---- wrr ------------------------------------------------------------------ */

static void
test_wrr_shares_follow_weights_within_1_percent(void **state)
{
	static int got[3000];
	unsigned per[N_BACKENDS], total[N_BACKENDS] = {0};
	const double want[N_BACKENDS] = {1.0 / 6, 2.0 / 6, 3.0 / 6, 0};

	(void)state;
	for (unsigned w = 0; w < N_WORKERS; w++) {
		send_flows(w, 101, 3000, NULL, got);
		count(got, 3000, per);
		for (unsigned b = 0; b < N_BACKENDS; b++)
			total[b] += per[b];
		/* per worker the interleaved sequence is exact: 500, 1000, 1500, 0 */
		assert_int_equal(per[0], 500);
		assert_int_equal(per[1], 1000);
		assert_int_equal(per[2], 1500);
		assert_int_equal(per[3], 0); /* weight 0 takes no new flow */
	}
	for (unsigned b = 0; b < N_BACKENDS; b++) {
		double share = total[b] / 6000.0;
		assert_true(share >= want[b] - 0.01 && share <= want[b] + 0.01);
	}
}

/* ---- lc ------------------------------------------------------------------- */

static void
set_lc_backends(unsigned n)
{
	struct lb_svc_spec spec;
	char why[256];

	lb_svc_spec_init(&spec);
	snprintf(spec.name, sizeof(spec.name), "lc");
	lb_addr_parse("198.18.0.102", &spec.vip);
	spec.port = 80;
	spec.proto = LB_PROTO_TCP;
	spec.sched = LB_SCHED_LC;
	spec.backends = calloc(n, sizeof(*spec.backends));
	assert_non_null(spec.backends);
	spec.n_backends = n;
	for (unsigned i = 0; i < n; i++) {
		char a[32];
		snprintf(a, sizeof(a), "198.19.0.%u", 10 + i);
		lb_addr_parse(a, &spec.backends[i].addr);
		spec.backends[i].port = 8080;
		spec.backends[i].weight = 1;
	}
	int rc = lb_svcs_upsert(dp.svcs, &spec, why, sizeof(why));
	lb_svc_spec_free(&spec);
	if (rc < 0)
		fail_msg("upsert lc: %s", why);
}

static void
test_lc_sends_new_flows_to_the_least_loaded(void **state)
{
	int got[40];
	unsigned per[N_BACKENDS];

	(void)state;
	/* even load: lc fills the three evenly, ties to the first (sorted) backend */
	send_flows(0, 102, 30, NULL, got);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(got[i], (int)i);
	count(got, 30, per);
	assert_int_equal(per[0], 10);
	assert_int_equal(per[1], 10);
	assert_int_equal(per[2], 10);
	/* a fourth backend with no connection takes every new flow until it catches up */
	set_lc_backends(4);
	send_flows(0, 102, 10, NULL, got);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(got[i], 3);
	send_flows(0, 102, 4, NULL, got);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(got[i], (int)i);
	/* counts are per worker: worker 1 saw none of these, and starts at the first */
	send_flows(1, 102, 4, NULL, got);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(got[i], (int)i);
}

/* A client RST on flow client:sport to 198.18.0.<vip> through worker w (forwarded). */
static void
send_rst(unsigned w, unsigned vip, uint32_t client, uint16_t sport)
{
	struct rte_mbuf *m = syn(client, sport, vip), *out = NULL;

	rte_pktmbuf_mtod(m, uint8_t *)[14 + 20 + 13] = 0x04; /* RST: ends the half-open flow */
	lb_worker_process(dp.workers[w], P_EXT, &m, 1);
	lb_worker_flush(dp.workers[w]);
	assert_int_equal(rte_ring_dequeue(tx_rings[P_INT][w], (void **)&out), 0);
	rte_pktmbuf_free(out);
}

/*
 * IPVS's active/inactive split (ip_vs_proto_tcp.c, tcp_state_active): a connection
 * in its handshake or established is active, a closed one (here by the client's
 * RST) inactive until it expires. sed/nq count active ones only; lc/wlc weigh
 * active * 256 + inactive. Counting every tracked connection as active (the dp
 * before this split) gives the other answer in each case below.
 */
static void
test_least_schedulers_split_active_and_inactive(void **state)
{
	uint32_t a = new_client(), b = new_client(), c = new_client();

	(void)state;
	/* sed: A to .10, B to .11 (.10 busy), C to .10 (tie); A and C close */
	assert_int_equal(send_one(0, 106, a, 3001), 0);
	assert_int_equal(send_one(0, 106, b, 3002), 1);
	assert_int_equal(send_one(0, 106, c, 3003), 0);
	send_rst(0, 106, a, 3001);
	send_rst(0, 106, c, 3003);
	assert_int_equal(send_one(0, 106, a, 3004), 0); /* (0+1)/1 vs (1+1)/1 */
	/* lc: A .10, B .11, C .10 (tie): .10 has 2 active, .11 1 */
	assert_int_equal(send_one(0, 107, a, 4001), 0);
	assert_int_equal(send_one(0, 107, b, 4002), 1);
	assert_int_equal(send_one(0, 107, c, 4003), 0);
	/* A and C close: .10 weighs 2 (two inactive), .11 256: the next goes to .10 */
	send_rst(0, 107, a, 4001);
	send_rst(0, 107, c, 4003);
	assert_int_equal(send_one(0, 107, a, 4004), 0);
	/* .10: 1 active + 2 inactive = 258 > 256: now .11 */
	assert_int_equal(send_one(0, 107, b, 4005), 1);
}

/* ---- sh, dh, maglev ------------------------------------------------------------ */

static void
test_sh_keeps_one_client_on_one_backend_on_every_worker(void **state)
{
	enum { CLIENTS = 200, CONNS = 5 };
	static uint32_t clients[CLIENTS * CONNS];
	static int got[CLIENTS * CONNS];
	int first[CLIENTS];
	unsigned per[N_BACKENDS];

	(void)state;
	for (unsigned c = 0; c < CLIENTS; c++) {
		uint32_t a = new_client();
		for (unsigned k = 0; k < CONNS; k++)
			clients[k * CLIENTS + c] = a; /* each client's connections spread out */
	}
	for (unsigned w = 0; w < N_WORKERS; w++) {
		send_flows(w, 103, CLIENTS * CONNS, clients, got);
		for (unsigned i = 0; i < CLIENTS * CONNS; i++) {
			unsigned c = i % CLIENTS;
			if (w == 0 && i < CLIENTS)
				first[c] = got[i];
			else
				assert_int_equal(got[i], first[c]);
		}
	}
	count(first, CLIENTS, per);
	for (unsigned b = 0; b < N_BACKENDS; b++) /* every backend gets clients */
		assert_true(per[b] > CLIENTS / N_BACKENDS / 2);
}

static void
test_dh_sends_a_vip_to_one_backend(void **state)
{
	int got[200];

	(void)state;
	for (unsigned w = 0; w < N_WORKERS; w++) {
		send_flows(w, 104, 200, NULL, got);
		for (unsigned i = 1; i < 200; i++)
			assert_int_equal(got[i], got[0]);
	}
}

static void
test_maglev_default_spreads_over_every_backend(void **state)
{
	int got[900];
	unsigned per[N_BACKENDS];

	(void)state;
	send_flows(0, 105, 900, NULL, got);
	count(got, 900, per);
	for (unsigned b = 0; b < 3; b++)
		assert_true(per[b] > 200 && per[b] < 400);
	assert_int_equal(per[3], 0);
}

/*
 * A full table gives a new flow the place of a half-open entry (every entry here is
 * a SYN nobody answered): the flow is tracked like any other, so rr and lc keep
 * their own answer (no fallback to Maglev) and see each flow once.
 */
static void
test_full_conntrack_evicts_and_keeps_the_scheduler(void **state)
{
	struct lb_ct *ct = lb_worker_ct(dp.workers[1]);
	const uint64_t *ev = dp.wstats[1]->ev;
	int got[BURST];
	uint32_t c = new_client();

	(void)state;
	/* fill worker 1's table with Maglev flows, all half-open */
	while (lb_ct_count(ct) < lb_ct_capacity(ct))
		send_flows(1, 105, BURST, NULL, got);
	uint64_t full = ev[LB_EV_CT_FULL], evicted = ev[LB_EV_CT_EVICTED];
	uint64_t created = ev[LB_EV_CT_CREATED];
	/* rr on worker 1: 300 flows so far (its first test), so the next is backend 0 */
	assert_int_equal(send_one(1, 100, c, 2222), 0);
	assert_int_equal(ev[LB_EV_CT_FULL], full + 1);
	assert_int_equal(ev[LB_EV_CT_EVICTED], evicted + 1);
	assert_int_equal(ev[LB_EV_CT_CREATED], created + 1);
	assert_int_equal(lb_ct_count(ct), lb_ct_capacity(ct));
	/* the same flow again: its entry answers, the scheduler is not asked */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(send_one(1, 100, c, 2222), 0);
	assert_int_equal(ev[LB_EV_CT_FULL], full + 1);
	/* the next new rr flows go on round the robin, each taking a half-open place */
	assert_int_equal(send_one(1, 100, c, 2223), 1);
	assert_int_equal(send_one(1, 100, c, 2224), 2);
	assert_int_equal(ev[LB_EV_CT_EVICTED], evicted + 3);
	/*
	 * lc on worker 1: one connection on each of its four backends (the lc test);
	 * the new flow goes to the first of the least loaded, and is counted there.
	 */
	assert_int_equal(send_one(1, 102, c, 2225), 0);
	assert_int_equal(send_one(1, 102, c, 2226), 1);
	assert_int_equal(send_one(1, 102, c, 2225), 0);
	assert_int_equal(ev[LB_EV_CT_EVICTED], evicted + 5);
	assert_int_equal(lb_ct_count(ct), lb_ct_capacity(ct));
}

static void
test_no_drop_and_no_mbuf_leaked(void **state)
{
	(void)state;
	for (unsigned w = 0; w < N_WORKERS; w++)
		for (int i = 0; i < LB_DROP_MAX; i++)
			if (dp.wstats[w]->drop[i] != 0)
				fail_msg("worker %u dropped %s", w, lb_drop_names[i]);
	assert_int_equal(rte_mempool_avail_count(dp.pool), dp.pool->size);
}

/* ---- EAL and dp ------------------------------------------------------------------ */

static int
make_ports(void)
{
	static const char *const names[N_PORTS] = {"ext", "int"};

	for (unsigned p = 0; p < N_PORTS; p++)
		if (pl_make_port(names[p], "s", p, rx_rings[p], tx_rings[p], N_WORKERS, RING) < 0)
			return -1;
	return 0;
}

int
main(void)
{
	char err[512] = "";

	if (pl_eal_init("test-sched", "256") < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (make_ports() < 0) {
		fprintf(stderr, "net_ring ports: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (lb_dp_conf_parse(config_text, &dp.conf, err, sizeof(err)) < 0 ||
	    lb_dp_build(&dp, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "dp: %s\n", err);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rr_is_exact_round_robin_per_worker),
		cmocka_unit_test(test_rr_is_consulted_only_for_new_flows),
		cmocka_unit_test(test_wrr_shares_follow_weights_within_1_percent),
		cmocka_unit_test(test_lc_sends_new_flows_to_the_least_loaded),
		cmocka_unit_test(test_least_schedulers_split_active_and_inactive),
		cmocka_unit_test(test_sh_keeps_one_client_on_one_backend_on_every_worker),
		cmocka_unit_test(test_dh_sends_a_vip_to_one_backend),
		cmocka_unit_test(test_maglev_default_spreads_over_every_backend),
		cmocka_unit_test(test_full_conntrack_evicts_and_keeps_the_scheduler),
		cmocka_unit_test(test_no_drop_and_no_mbuf_leaked),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	char rundir[PATH_MAX];
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	lb_dp_teardown(&dp);
	for (unsigned p = 0; p < N_PORTS; p++)
		for (unsigned q = 0; q < N_WORKERS; q++) {
			rte_ring_free(rx_rings[p][q]);
			rte_ring_free(tx_rings[p][q]);
		}
	rte_eal_cleanup();
	rmdir(rundir);
	return failed;
}
