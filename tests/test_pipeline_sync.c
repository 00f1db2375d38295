/*
 * test_pipeline_sync.c - flow sync through the in-process pipeline (docs/flow-sync.md).
 *
 * The same harness as test_pipeline.c (tests/pipeline_eal.h): a whole dp built by
 * lb_dp_build() on net_ring ports under EAL --no-huge, the main thread playing
 * worker 0 and the control thread in turn (lb_worker_process, then lb_sync_poll).
 * This box is "B" (sync.id 1); its peer "A" (198.19.0.3, id 2) owns the SNAT address
 * 198.19.0.50. Sync datagrams from A are sealed here with the codec and the shared
 * key, and enter like any frame, through the worker. Expected frames are built
 * from their description with checksums from scratch (tests/csum_ref.h) and
 * compared byte for byte.
 *
 *   clients 198.18.200.0/24 -- gw 198.18.0.1 -- ext 198.18.0.2 [B] int 198.19.0.1
 *     -- backend 198.19.0.10:8080, peer A 198.19.0.3; B's own SNAT 198.19.0.2
 *   service 198.18.0.100:80/tcp fnat -> 198.19.0.10:8080
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "conntrack.h"
#include "csum_ref.h"
#include "dp.h"
#include "lb_addr.h"
#include "lb_counters.h"
#include "peer.h"
#include "pipeline_eal.h"
#include "sync.h"
#include "sync_codec.h"
#include "worker.h"

#define N_WORKERS 2
#define TX_RING 256
#define FRAME_MAX 1600
enum { P_EXT = 0, P_INT = 1, N_PORTS = 2 };

#define EXT_MAC "02:00:00:00:00:02"
#define INT_MAC "02:00:00:00:01:01"
#define GW_MAC "02:00:00:00:00:01"
#define B10_MAC "02:00:00:00:01:10"
#define PEER_MAC "02:00:00:00:01:03"
#define VIP "198.18.0.100"
#define B10 "198.19.0.10"
#define B11 "198.19.0.11"
#define B11_MAC "02:00:00:00:01:11"
#define OWN_SNAT "198.19.0.2"
#define PEER "198.19.0.3"
#define PEER_SNAT "198.19.0.50"
#define BOX_INT "198.19.0.1"
#define SYNC_PORT 7471
#define TCP 6
#define UDP 17
#define SYN 0x02
#define ACK 0x10
#define PSHACK 0x18

static const uint8_t key[LB_SYNC_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static char key_path[] = "/tmp/edgelb-test-sync-key-XXXXXX";
static struct lb_dp dp;
static struct rte_ring *rx_rings[N_PORTS][N_WORKERS], *tx_rings[N_PORTS][N_WORKERS];
static uint64_t seq_a = 100; /* peer A's datagram sequence */
static const uint32_t epoch_a = 1000;

static char config_text[4096];

static void
make_config(void)
{
	snprintf(config_text, sizeof(config_text),
		 "dp: { workers = [1, 2]; mbufs = 2048; max_services = 8; max_backends = 8;\n"
		 "  steering = \"ring\"; snat_ports = [40000, 40001]; control_socket = \"\"; };\n"
		 "conntrack: { capacity = 64; };\n"
		 "ports = (\n"
		 "  { name = \"ext\"; device = \"net_ring_ext\"; role = \"external\";\n"
		 "    addresses = [\"198.18.0.2/24\"]; mac = \"" EXT_MAC "\"; rx_desc = 64; tx_desc = 64; },\n"
		 "  { name = \"int\"; device = \"net_ring_int\"; role = \"internal\";\n"
		 "    addresses = [\"" BOX_INT "/24\"]; local_addresses = [\"" OWN_SNAT "\"];\n"
		 "    mac = \"" INT_MAC "\"; rx_desc = 64; tx_desc = 64; } );\n"
		 "routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; } );\n"
		 "neighbours = ( { address = \"198.18.0.1\"; mac = \"" GW_MAC "\"; },\n"
		 "  { address = \"" B10 "\"; mac = \"" B10_MAC "\"; },\n"
		 "  { address = \"" B11 "\"; mac = \"" B11_MAC "\"; },\n"
		 "  { address = \"" PEER "\"; mac = \"" PEER_MAC "\"; } );\n"
		 "services = ( { name = \"s\"; vip = \"" VIP "\"; port = 80; protocol = \"tcp\";\n"
		 "  mode = \"fnat\"; backends = ( { address = \"" B10 "\"; port = 8080; } ); },\n"
		 "  { name = \"s81\"; vip = \"" VIP "\"; port = 81; protocol = \"tcp\";\n"
		 "  mode = \"fnat\"; backends = ( { address = \"" B11 "\"; port = 8080; } ); } );\n"
		 "sync = { enabled = true; id = 1; peers = [\"" PEER "\"]; key_file = \"%s\";\n"
		 "  batch = 1; bulk_timeout_ms = 600000; capacity = 64; };\n",
		 key_path);
}

/* ---- frames ------------------------------------------------------------------- */

static void
mac_put(uint8_t *b, const char *s)
{
	unsigned m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		abort();
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)m[i];
}

static void
a4(uint8_t *b, const char *s)
{
	if (inet_pton(AF_INET, s, b) != 1)
		abort();
}

struct seg {
	const char *dmac, *smac, *src, *dst;
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t ttl, flags;
	uint32_t seq;
	const uint8_t *payload; /* NULL: a pattern */
	uint16_t len;
};

/* Eth/IPv4/TCP|UDP; checksums from scratch. Returns the frame length. */
static uint32_t
frame(uint8_t *f, const struct seg *s)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	uint32_t n = (s->proto == TCP ? 20u : 8u) + s->len;

	mac_put(f, s->dmac);
	mac_put(f + 6, s->smac);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + n));
	put16(ip + 4, 0x4242);
	put16(ip + 6, 0x4000);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = s->proto;
	a4(ip + 12, s->src);
	a4(ip + 16, s->dst);
	put16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, 20)));
	uint8_t *pl = l4 + (s->proto == TCP ? 20 : 8);
	for (uint16_t i = 0; i < s->len; i++)
		pl[i] = s->payload ? s->payload[i] : (uint8_t)(i * 7 + 1);
	memset(l4, 0, s->proto == TCP ? 20 : 8);
	put16(l4, s->sport);
	put16(l4 + 2, s->dport);
	if (s->proto == TCP) {
		put16(l4 + 4, (uint16_t)(s->seq >> 16));
		put16(l4 + 6, (uint16_t)s->seq);
		if (s->flags & ACK)
			put16(l4 + 10, 0x0c0d);
		l4[12] = 5 << 4;
		l4[13] = s->flags;
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, (uint16_t)n);
	}
	uint32_t acc = ref_add(ref_add(0, ip + 12, 8), l4, n) + s->proto + n;
	uint16_t c = (uint16_t)~ref_fold(acc);
	put16(l4 + (s->proto == TCP ? 16 : 6), s->proto == UDP && c == 0 ? 0xffff : c);
	return 14 + 20 + n;
}

static void
run(uint16_t port, const uint8_t *f, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);

	assert_non_null(m);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), f, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	lb_worker_tick(dp.workers[0], rte_rdtsc()); /* the worker's clock, as its loop keeps it */
	lb_worker_process(dp.workers[0], port, &m, 1);
	lb_worker_flush(dp.workers[0]);
}

/* The one frame worker 0 sent on port (NULL when none or several: a failure). */
static struct rte_mbuf *
sent_on(uint16_t port)
{
	struct rte_mbuf *m[8];
	unsigned n = rte_ring_dequeue_burst(tx_rings[port][0], (void **)m, 8, NULL);

	for (unsigned i = 1; i < n; i++)
		rte_pktmbuf_free(m[i]);
	if (n != 1) {
		if (n)
			rte_pktmbuf_free(m[0]);
		fail_msg("port %u: %u frames sent, want 1", port, n);
	}
	return m[0];
}

static void
same(struct rte_mbuf *m, const uint8_t *want, uint32_t len)
{
	const uint8_t *got = rte_pktmbuf_mtod(m, const uint8_t *);

	if (m->data_len != len)
		fail_msg("frame of %u bytes, want %u", m->data_len, len);
	for (uint32_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail_msg("byte %u: %02x, want %02x", i, got[i], want[i]);
	rte_pktmbuf_free(m);
}

static void
no_output(void)
{
	for (unsigned p = 0; p < N_PORTS; p++)
		for (unsigned q = 0; q < N_WORKERS; q++)
			assert_int_equal(rte_ring_count(tx_rings[p][q]), 0);
}

/* ---- sync datagrams from peer A ----------------------------------------------------- */

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
record(struct lb_sync_rec *r, const char *client, uint16_t cport, const char *local,
       uint16_t lport)
{
	memset(r, 0, sizeof(*r));
	r->family = LB_AF_INET;
	r->proto = LB_PROTO_TCP;
	r->mode = LB_MODE_FNAT;
	r->state = LB_CT_TCP_ESTABLISHED;
	r->flags = LB_CONN_SEQ_KNOWN | LB_CONN_SEEN_REPLY;
	a4(r->vip, VIP);
	a4(r->client, client);
	a4(r->backend, B10);
	a4(r->local, local);
	r->vport = htons(80);
	r->cport = htons(cport);
	r->bport = htons(8080);
	r->lport = htons(lport);
	r->timeout_ms = 900000;
	r->seq_client = 5000;
}

/* A sealed datagram in a frame from A to B's int address. */
static uint32_t
dgram_frame(uint8_t *f, uint8_t type, const struct lb_sync_rec *recs, uint16_t n, uint64_t seq,
	    const uint8_t *k)
{
	uint8_t dg[LB_SYNC_MAX_LEN];
	struct lb_sync_hdr h = {.magic = LB_SYNC_MAGIC, .version = LB_SYNC_VERSION, .type = type,
				.count = n, .sender = 2, .epoch = epoch_a, .seq = seq,
				.ts_ms = wall_ms()};

	for (uint16_t i = 0; i < n; i++)
		lb_sync_rec_encode(dg + LB_SYNC_HDR_LEN + i * LB_SYNC_REC_LEN, &recs[i]);
	size_t len = lb_sync_seal(dg, &h, k);
	struct seg s = {INT_MAC, PEER_MAC, PEER, BOX_INT, UDP, SYNC_PORT, SYNC_PORT,
			.payload = dg, .len = (uint16_t)len};
	return frame(f, &s);
}

/* A's records in, through worker 0 and the control thread; returns accepted records. */
static uint64_t
from_a(const struct lb_sync_rec *recs, uint16_t n)
{
	uint8_t f[FRAME_MAX];
	uint64_t before = dp.ctrl[LB_CTRL_SYNC_RX_RECORDS];

	run(P_INT, f, dgram_frame(f, LB_SYNC_RECORDS, recs, n, ++seq_a, key));
	lb_sync_poll(dp.sync);
	return dp.ctrl[LB_CTRL_SYNC_RX_RECORDS] - before;
}

/* What the control thread sent (worker 0's TX ring, as ARP frames go): free them. */
static unsigned
drain_ctl_tx(struct lb_sync_hdr *last, struct lb_sync_rec *rec)
{
	struct rte_mbuf *m;
	unsigned n = 0;

	while (rte_ring_dequeue(lb_worker_tx_ring(dp.workers[0]), (void **)&m) == 0) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		const uint8_t *dg = f + 14 + 20 + 8;
		if (last != NULL && m->data_len > 14 + 20 + 8) {
			assert_int_equal(lb_sync_open(dg, m->data_len - 42u, key, last), LB_SYNC_OK);
			if (rec != NULL && last->count > 0)
				assert_int_equal(lb_sync_rec_decode(dg + LB_SYNC_HDR_LEN, rec), 0);
		}
		rte_pktmbuf_free(m);
		n++;
	}
	return n;
}

/* ---- tests ------------------------------------------------------------------------ */

/* Join: B asks A for its connections; the frame is a real, sealed datagram to A. */
static void
test_join_sends_a_bulk_request(void **state)
{
	(void)state;
	lb_sync_poll(dp.sync);
	struct rte_mbuf *m = NULL;
	assert_int_equal(rte_ring_dequeue(lb_worker_tx_ring(dp.workers[0]), (void **)&m), 0);
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint8_t want_dst[4], want_src[4], mac[6];
	a4(want_dst, PEER);
	a4(want_src, BOX_INT);
	mac_put(mac, PEER_MAC);
	assert_memory_equal(f, mac, 6);
	assert_int_equal(rd16(f + 12), 0x0800);
	assert_memory_equal(f + 14 + 12, want_src, 4);
	assert_memory_equal(f + 14 + 16, want_dst, 4);
	assert_int_equal(f + 14 + 9 == NULL ? 0 : f[14 + 9], UDP);
	assert_int_equal(rd16(f + 34), SYNC_PORT);
	assert_int_equal(rd16(f + 36), SYNC_PORT);
	/* UDP checksum over the pseudo header, from scratch */
	uint32_t n = rd16(f + 38);
	assert_int_equal(ref_fold(ref_add(ref_add(0, f + 26, 8), f + 34, n) + UDP + n), 0xffff);
	struct lb_sync_hdr h;
	assert_int_equal(lb_sync_open(f + 42, n - 8, key, &h), LB_SYNC_OK);
	assert_int_equal(h.type, LB_SYNC_BULK_REQ);
	assert_int_equal(h.sender, 1);
	rte_pktmbuf_free(m);
	assert_false(lb_sync_bulk_done(dp.sync));
	/* A answers with a bulk end (nothing to copy): B's join is done. */
	uint8_t fr[FRAME_MAX];
	run(P_INT, fr, dgram_frame(fr, LB_SYNC_BULK_END, NULL, 0, ++seq_a, key));
	lb_sync_poll(dp.sync);
	assert_true(lb_sync_bulk_done(dp.sync));
	drain_ctl_tx(NULL, NULL);
}

/* A backend's reply to A's SNAT address and port: translated as A would have. */
static void
test_reply_of_a_peer_connection(void **state)
{
	struct lb_sync_rec r;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];

	(void)state;
	record(&r, "198.18.200.1", 33000, PEER_SNAT, 50000); /* 50000 % 2: worker 0's */
	assert_int_equal(from_a(&r, 1), 1);
	assert_int_equal(lb_peer_count(dp.peers), 1);
	uint64_t adopted = dp.wstats[0]->ev[LB_EV_SYNC_ADOPTED];
	struct seg s_in = {INT_MAC, B10_MAC, B10, PEER_SNAT, TCP, 8080, 50000, .flags = PSHACK,
			   .seq = 777, .len = 10};
	struct seg s_out = {GW_MAC, EXT_MAC, VIP, "198.18.200.1", TCP, 80, 33000, .ttl = 63,
			    .flags = PSHACK, .seq = 777, .len = 10};
	run(P_INT, in, frame(in, &s_in));
	same(sent_on(P_EXT), want, frame(want, &s_out));
	assert_int_equal(dp.wstats[0]->ev[LB_EV_SYNC_ADOPTED], adopted + 1);
	/* and the client's next packet meets the entry the reply made */
	struct seg c_in = {EXT_MAC, GW_MAC, "198.18.200.1", VIP, TCP, 33000, 80, .flags = ACK,
			   .seq = 5000};
	struct seg c_out = {B10_MAC, INT_MAC, PEER_SNAT, B10, TCP, 50000, 8080, .ttl = 63,
			    .flags = ACK, .seq = 5000};
	run(P_EXT, in, frame(in, &c_in));
	same(sent_on(P_INT), want, frame(want, &c_out));
	assert_int_equal(dp.wstats[0]->ev[LB_EV_SYNC_ADOPTED], adopted + 1);
	no_output();
	drain_ctl_tx(NULL, NULL);
}

/* The client side first (ECMP moved the client's packets here). */
static void
test_client_packet_of_a_peer_connection(void **state)
{
	struct lb_sync_rec r;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];

	(void)state;
	record(&r, "198.18.200.2", 33002, PEER_SNAT, 50002);
	assert_int_equal(from_a(&r, 1), 1);
	uint64_t created = dp.wstats[0]->ev[LB_EV_CT_CREATED];
	struct seg c_in = {EXT_MAC, GW_MAC, "198.18.200.2", VIP, TCP, 33002, 80, .flags = PSHACK,
			   .seq = 5000, .len = 20};
	struct seg c_out = {B10_MAC, INT_MAC, PEER_SNAT, B10, TCP, 50002, 8080, .ttl = 63,
			    .flags = PSHACK, .seq = 5000, .len = 20};
	run(P_EXT, in, frame(in, &c_in));
	same(sent_on(P_INT), want, frame(want, &c_out));
	assert_int_equal(dp.wstats[0]->ev[LB_EV_CT_CREATED], created + 1);
	struct seg s_in = {INT_MAC, B10_MAC, B10, PEER_SNAT, TCP, 8080, 50002, .flags = ACK,
			   .seq = 9};
	struct seg s_out = {GW_MAC, EXT_MAC, VIP, "198.18.200.2", TCP, 80, 33002, .ttl = 63,
			    .flags = ACK, .seq = 9};
	run(P_INT, in, frame(in, &s_in));
	same(sent_on(P_EXT), want, frame(want, &s_out));
	drain_ctl_tx(NULL, NULL);
}

/* A peer connection whose SNAT port belongs to worker 1: the client packet goes there. */
static void
test_peer_connection_owned_by_another_worker(void **state)
{
	struct lb_sync_rec r;
	uint8_t in[FRAME_MAX];
	struct rte_ring *h1 = rte_ring_lookup("lb_handoff_1");

	(void)state;
	assert_non_null(h1);
	record(&r, "198.18.200.3", 33003, PEER_SNAT, 50003);
	assert_int_equal(from_a(&r, 1), 1);
	struct seg c_in = {EXT_MAC, GW_MAC, "198.18.200.3", VIP, TCP, 33003, 80, .flags = ACK};
	uint64_t out = dp.wstats[0]->ev[LB_EV_HANDOFF_OUT];
	run(P_EXT, in, frame(in, &c_in));
	assert_int_equal(dp.wstats[0]->ev[LB_EV_HANDOFF_OUT], out + 1);
	struct rte_mbuf *m = NULL;
	assert_int_equal(rte_ring_dequeue(h1, (void **)&m), 0);
	rte_pktmbuf_free(m);
	no_output();
}

/*
 * A local connection always wins: a record for the same client, or one claiming
 * this box's own SNAT address and port, changes nothing this box forwards.
 * The new local flow also goes out to the peer as a record.
 */
static void
test_local_entry_is_never_overwritten(void **state)
{
	struct lb_sync_rec r, sent;
	struct lb_sync_hdr h;
	uint8_t in[FRAME_MAX], want[FRAME_MAX];

	(void)state;
	drain_ctl_tx(NULL, NULL);
	struct seg syn = {EXT_MAC, GW_MAC, "198.18.200.9", VIP, TCP, 33009, 80, .flags = SYN,
			  .seq = 100};
	struct seg syn_out = {B10_MAC, INT_MAC, OWN_SNAT, B10, TCP, 40000, 8080, .ttl = 63,
			      .flags = SYN, .seq = 100};
	run(P_EXT, in, frame(in, &syn));
	same(sent_on(P_INT), want, frame(want, &syn_out));
	/* B told A about it (batch = 1: at once) */
	lb_sync_poll(dp.sync);
	assert_int_equal(drain_ctl_tx(&h, &sent), 1);
	assert_int_equal(h.type, LB_SYNC_RECORDS);
	assert_int_equal(h.count, 1);
	uint8_t c9[4], own[4];
	a4(c9, "198.18.200.9");
	a4(own, OWN_SNAT);
	assert_memory_equal(sent.client, c9, 4);
	assert_memory_equal(sent.local, own, 4);
	assert_int_equal(ntohs(sent.lport), 40000);
	assert_int_equal(ntohs(sent.cport), 33009);
	assert_int_equal(sent.state, LB_CT_TCP_SYN);
	assert_int_equal(sent.seq_client, 101);

	/* A claims the same client with its own SNAT port ... */
	record(&r, "198.18.200.9", 33009, PEER_SNAT, 50004);
	assert_int_equal(from_a(&r, 1), 1);
	/* ... and another client on B's own SNAT address and port. */
	record(&r, "198.18.200.8", 33008, OWN_SNAT, 40000);
	assert_int_equal(from_a(&r, 1), 1);
	uint64_t adopted = dp.wstats[0]->ev[LB_EV_SYNC_ADOPTED];
	struct seg ack = {EXT_MAC, GW_MAC, "198.18.200.9", VIP, TCP, 33009, 80, .flags = ACK,
			  .seq = 101};
	struct seg ack_out = {B10_MAC, INT_MAC, OWN_SNAT, B10, TCP, 40000, 8080, .ttl = 63,
			      .flags = ACK, .seq = 101};
	run(P_EXT, in, frame(in, &ack));
	same(sent_on(P_INT), want, frame(want, &ack_out));
	struct seg rep = {INT_MAC, B10_MAC, B10, OWN_SNAT, TCP, 8080, 40000, .flags = ACK, .seq = 1};
	struct seg rep_out = {GW_MAC, EXT_MAC, VIP, "198.18.200.9", TCP, 80, 33009, .ttl = 63,
			      .flags = ACK, .seq = 1};
	run(P_INT, in, frame(in, &rep));
	same(sent_on(P_EXT), want, frame(want, &rep_out));
	assert_int_equal(dp.wstats[0]->ev[LB_EV_SYNC_ADOPTED], adopted);
	drain_ctl_tx(NULL, NULL);
}

/*
 * Hostile datagrams from A's address: each refused under its own counter, none
 * stored, and forwarding goes on (an established flow right after).
 */
static void
test_hostile_datagrams_are_counted(void **state)
{
	struct lb_sync_rec r;
	uint8_t f[FRAME_MAX], dg_ok[FRAME_MAX], in[FRAME_MAX], want[FRAME_MAX];
	uint8_t bad_key[LB_SYNC_KEY_LEN];
	struct {
		const char *name;
		int ctr;
	} want_ctr[] = {{"truncated", LB_CTRL_SYNC_RX_TRUNCATED}, {"oversized", LB_CTRL_SYNC_RX_OVERSIZED},
			{"wrong key", LB_CTRL_SYNC_RX_BAD_MAC}, {"replayed", LB_CTRL_SYNC_RX_REPLAYED},
			{"future version", LB_CTRL_SYNC_RX_BAD_VERSION}, {"bad magic", LB_CTRL_SYNC_RX_MALFORMED},
			{"stale", LB_CTRL_SYNC_RX_STALE}, {"not a peer", LB_CTRL_SYNC_RX_NOT_PEER},
			{"bad record", LB_CTRL_SYNC_RX_BAD_RECORD}};

	(void)state;
	memcpy(bad_key, key, sizeof(bad_key));
	bad_key[0] ^= 0x80;
	record(&r, "198.18.200.20", 33020, PEER_SNAT, 50020);
	uint32_t peers = lb_peer_count(dp.peers);
	uint64_t accepted = seq_a; /* the last datagram of A that B took */
	for (size_t i = 0; i < sizeof(want_ctr) / sizeof(want_ctr[0]); i++) {
		uint64_t before[LB_CTRL_MAX];
		uint32_t len;
		memcpy(before, dp.ctrl, sizeof(before));
		switch (i) {
		case 0: /* cut inside the records: IP and UDP lengths say so too */
			len = dgram_frame(dg_ok, LB_SYNC_RECORDS, &r, 1, ++seq_a, key);
			{
				uint8_t dg[LB_SYNC_MAX_LEN];
				memcpy(dg, dg_ok + 42, 60);
				struct seg s = {INT_MAC, PEER_MAC, PEER, BOX_INT, UDP, SYNC_PORT,
						SYNC_PORT, .payload = dg, .len = 60};
				len = frame(f, &s);
			}
			break;
		case 1: {
			uint8_t dg[LB_SYNC_MAX_LEN + 8];
			len = dgram_frame(dg_ok, LB_SYNC_RECORDS, &r, 1, ++seq_a, key);
			memset(dg, 0, sizeof(dg));
			memcpy(dg, dg_ok + 42, len - 42);
			struct seg s = {INT_MAC, PEER_MAC, PEER, BOX_INT, UDP, SYNC_PORT, SYNC_PORT,
					.payload = dg, .len = sizeof(dg)};
			len = frame(f, &s);
			break;
		}
		case 2:
			len = dgram_frame(f, LB_SYNC_RECORDS, &r, 1, ++seq_a, bad_key);
			break;
		case 3: /* a datagram accepted before, sent again */
			len = dgram_frame(f, LB_SYNC_RECORDS, &r, 1, accepted, key);
			break;
		case 4: { /* version 2, sealed with the right key */
			len = dgram_frame(f, LB_SYNC_RECORDS, &r, 1, ++seq_a, key);
			f[42 + 4] = LB_SYNC_VERSION + 1;
			break;
		}
		case 5:
			len = dgram_frame(f, LB_SYNC_RECORDS, &r, 1, ++seq_a, key);
			f[42] = 'X';
			break;
		case 6: { /* sealed right, but two hours old */
			uint8_t dg[LB_SYNC_MAX_LEN];
			struct lb_sync_hdr h = {.magic = LB_SYNC_MAGIC, .version = LB_SYNC_VERSION,
						.type = LB_SYNC_RECORDS, .count = 1, .sender = 2,
						.epoch = epoch_a, .seq = ++seq_a,
						.ts_ms = wall_ms() - 7200000};
			lb_sync_rec_encode(dg + LB_SYNC_HDR_LEN, &r);
			size_t n = lb_sync_seal(dg, &h, key);
			struct seg s = {INT_MAC, PEER_MAC, PEER, BOX_INT, UDP, SYNC_PORT, SYNC_PORT,
					.payload = dg, .len = (uint16_t)n};
			len = frame(f, &s);
			break;
		}
		case 7: { /* right key, from an address that is not a peer */
			uint8_t dg[LB_SYNC_MAX_LEN];
			len = dgram_frame(dg_ok, LB_SYNC_RECORDS, &r, 1, ++seq_a, key);
			memcpy(dg, dg_ok + 42, len - 42);
			struct seg s = {INT_MAC, PEER_MAC, "198.19.0.99", BOX_INT, UDP, SYNC_PORT,
					SYNC_PORT, .payload = dg, .len = (uint16_t)(len - 42)};
			len = frame(f, &s);
			break;
		}
		default: { /* authentic, but its record names state 42 */
			struct lb_sync_rec bad = r;
			len = dgram_frame(f, LB_SYNC_RECORDS, &bad, 1, ++seq_a, key);
			uint8_t dg[LB_SYNC_MAX_LEN];
			memcpy(dg, f + 42, len - 42);
			dg[LB_SYNC_HDR_LEN + 3] = 42;
			struct lb_sync_hdr h;
			lb_sync_hdr_decode(dg, &h);
			size_t n = lb_sync_seal(dg, &h, key);
			struct seg s = {INT_MAC, PEER_MAC, PEER, BOX_INT, UDP, SYNC_PORT, SYNC_PORT,
					.payload = dg, .len = (uint16_t)n};
			len = frame(f, &s);
			break;
		}
		}
		run(P_INT, f, len);
		lb_sync_poll(dp.sync);
		for (int c = LB_CTRL_SYNC_RX_DGRAMS; c <= LB_CTRL_SYNC_PEER_FULL; c++) {
			uint64_t d = dp.ctrl[c] - before[c];
			uint64_t exp = c == want_ctr[i].ctr ? 1 : 0;
			/* an authentic datagram with a bad record is still a datagram */
			if (c == LB_CTRL_SYNC_RX_DGRAMS && want_ctr[i].ctr == LB_CTRL_SYNC_RX_BAD_RECORD)
				exp = 1;
			if (d != exp)
				fail_msg("%s: counter %s +%" PRIu64 ", want +%" PRIu64, want_ctr[i].name,
					 lb_ctrl_names[c], d, exp);
		}
		assert_int_equal(lb_peer_count(dp.peers), peers);
	}
	/* Forwarding is unaffected: the established flow of the first test goes on. */
	struct seg c_in = {EXT_MAC, GW_MAC, "198.18.200.1", VIP, TCP, 33000, 80, .flags = ACK,
			   .seq = 5000};
	struct seg c_out = {B10_MAC, INT_MAC, PEER_SNAT, B10, TCP, 50000, 8080, .ttl = 63,
			    .flags = ACK, .seq = 5000};
	run(P_EXT, in, frame(in, &c_in));
	same(sent_on(P_INT), want, frame(want, &c_out));
	drain_ctl_tx(NULL, NULL);
}

/*
 * After a restart this box learns its own connections back from its peers: a new
 * flow must not take an SNAT port such a record holds toward the same backend.
 * Worker 0 owns one port (40000): with a record on it toward B11, a new flow to B11
 * has none left.
 */
static void
test_new_flow_avoids_ports_peers_hold(void **state)
{
	struct lb_sync_rec r;
	uint8_t in[FRAME_MAX];

	(void)state;
	record(&r, "198.18.200.30", 33030, OWN_SNAT, 40000);
	a4(r.backend, B11);
	r.vport = htons(81);
	assert_int_equal(from_a(&r, 1), 1);
	uint64_t no_snat = dp.wstats[0]->drop[LB_DROP_NO_SNAT];
	struct seg syn = {EXT_MAC, GW_MAC, "198.18.200.31", VIP, TCP, 33031, 81, .flags = SYN};
	run(P_EXT, in, frame(in, &syn));
	assert_int_equal(dp.wstats[0]->drop[LB_DROP_NO_SNAT], no_snat + 1);
	no_output();
	drain_ctl_tx(NULL, NULL);
}

/*
 * A peer (re)joins: B answers its bulk request with every fnat connection of its
 * workers and every connection A itself told B about, then a bulk end.
 */
static void
test_bulk_answer(void **state)
{
	uint8_t f[FRAME_MAX];
	struct lb_sync_hdr h;
	struct lb_sync_rec r;
	bool seen9 = false, seen1 = false, seen3 = false, end = false;
	unsigned recs = 0;

	(void)state;
	drain_ctl_tx(NULL, NULL);
	run(P_INT, f, dgram_frame(f, LB_SYNC_BULK_REQ, NULL, 0, ++seq_a, key));
	for (int i = 0; i < 10 && !end; i++) {
		lb_sync_poll(dp.sync);
		struct rte_mbuf *m;
		while (rte_ring_dequeue(lb_worker_tx_ring(dp.workers[0]), (void **)&m) == 0) {
			const uint8_t *fr = rte_pktmbuf_mtod(m, const uint8_t *);
			assert_int_equal(lb_sync_open(fr + 42, m->data_len - 42u, key, &h), LB_SYNC_OK);
			assert_false(end); /* nothing after the bulk end */
			if (h.type == LB_SYNC_BULK_END) {
				end = true;
			} else {
				assert_int_equal(h.type, LB_SYNC_RECORDS);
				for (uint16_t k = 0; k < h.count; k++) {
					assert_int_equal(lb_sync_rec_decode(fr + 42 + LB_SYNC_HDR_LEN +
									    k * LB_SYNC_REC_LEN, &r), 0);
					uint8_t c[4];
					a4(c, "198.18.200.9");
					seen9 |= memcmp(r.client, c, 4) == 0 && ntohs(r.lport) == 40000;
					a4(c, "198.18.200.1");
					seen1 |= memcmp(r.client, c, 4) == 0 && ntohs(r.lport) == 50000;
					a4(c, "198.18.200.3");
					seen3 |= memcmp(r.client, c, 4) == 0 && ntohs(r.lport) == 50003;
					recs++;
				}
			}
			rte_pktmbuf_free(m);
		}
	}
	assert_true(end);
	assert_true(seen9); /* B's own connection */
	assert_true(seen1); /* and one it took over from A */
	assert_true(seen3); /* A's own, never taken over: echoed from the peer table */
	uint32_t n = lb_peer_count(dp.peers); /* every peer entry here came from A */
	for (unsigned w = 0; w < N_WORKERS; w++)
		n += lb_ct_count(lb_worker_ct(dp.workers[w]));
	assert_int_equal(recs, n);
}

/* The status object the cp reads (hello, stats.get). */
static void
test_status_object(void **state)
{
	(void)state;
	json_t *o = lb_sync_json(dp.sync);
	assert_true(json_is_true(json_object_get(o, "bulk_done")));
	assert_int_equal(json_integer_value(json_object_get(o, "id")), 1);
	json_t *p = json_array_get(json_object_get(o, "peers"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "address")), PEER);
	assert_int_equal(json_integer_value(json_object_get(p, "id")), 2);
	assert_true(json_integer_value(json_object_get(p, "last_seen_ms")) >= 0);
	assert_true(json_is_true(json_object_get(p, "bulk_done")));
	json_decref(o);
}

static void
test_no_mbuf_leaked(void **state)
{
	(void)state;
	drain_ctl_tx(NULL, NULL);
	assert_int_equal(rte_mempool_avail_count(dp.pool), dp.pool->size);
}

int
main(void)
{
	char err[512] = "";
	int fd = mkstemp(key_path);
	if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) || fchmod(fd, 0600) != 0) {
		fprintf(stderr, "test_pipeline_sync: key file\n");
		return 1;
	}
	close(fd);
	make_config();
	if (pl_eal_init("test-pipeline-sync", "128") < 0) {
		fprintf(stderr, "test_pipeline_sync: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	static const char *const names[N_PORTS] = {"ext", "int"};
	for (unsigned p = 0; p < N_PORTS; p++)
		if (pl_make_port(names[p], "s", p, rx_rings[p], tx_rings[p], N_WORKERS, TX_RING) < 0)
			return 1;
	if (lb_dp_conf_parse(config_text, &dp.conf, err, sizeof(err)) < 0 ||
	    lb_dp_build(&dp, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "test_pipeline_sync: dp: %s\n", err);
		return 1;
	}
	unlink(key_path);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join_sends_a_bulk_request),
		cmocka_unit_test(test_reply_of_a_peer_connection),
		cmocka_unit_test(test_client_packet_of_a_peer_connection),
		cmocka_unit_test(test_peer_connection_owned_by_another_worker),
		cmocka_unit_test(test_local_entry_is_never_overwritten),
		cmocka_unit_test(test_hostile_datagrams_are_counted),
		cmocka_unit_test(test_new_flow_avoids_ports_peers_hold),
		cmocka_unit_test(test_bulk_answer),
		cmocka_unit_test(test_status_object),
		cmocka_unit_test(test_no_mbuf_leaked),
	};
	int failed = cmocka_run_group_tests_name("pipeline_sync", tests, NULL, NULL);
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
