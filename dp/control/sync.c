/*
 * sync.c - flow sync on the control thread: datagrams out and in, the join, and
 * the status object (sync.h, docs/flow-sync.md).
 *
 * Main lcore only (dp/main.c's loop calls lb_sync_poll; the in-process tests call
 * it themselves). Owns: the sync key, the per-peer replay windows and join state,
 * the record batches, and every write to the peer table (dp->peers). Frames leave
 * through worker 0's TX ring, as the ARP module's do (both run on this thread, the
 * ring's one producer). Frame sent:
 *   Eth(port -> next hop)/IP(port address -> peer)/UDP(sync.port -> sync.port)/
 *   header | records | MAC
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_udp.h>

#include <sodium.h>

#include "dp.h"
#include "lb_error.h"
#include "neigh.h"
#include "parse.h"
#include "peer.h"
#include "service.h"
#include "service_fastpath.h"
#include "sync.h"
#include "sync_priv.h"
#include "worker.h"

#define REC_BURST 64
#define REC_BUDGET 4096 /* records taken from one worker's ring per loop (its ring: 8192) */

static inline uint64_t *
ctr(struct lb_sync *s)
{
	return s->dp->ctrl;
}

static uint64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t
wall_ms(void)
{
	return wall_us() / 1000;
}

/* ---- output ----------------------------------------------------------------- */

/* The port's first address of the family, else any port's. */
static const struct lb_addr *
src_addr(const struct lb_dp *dp, uint16_t port, uint8_t family)
{
	for (unsigned k = 0; k <= dp->n_ports; k++) {
		unsigned p = k == 0 ? port : k - 1;
		const struct lb_port_conf *pc = &dp->conf.ports[p];
		for (unsigned i = 0; i < pc->n_addrs; i++)
			if (pc->addrs[i].addr.family == family)
				return &pc->addrs[i].addr;
	}
	return NULL;
}

static void
tx(struct lb_sync *s, struct rte_mbuf *m, uint16_t port)
{
	struct lb_mbuf_meta *mm = lb_meta(s->dp->meta_off, m);

	m->ol_flags = 0;
	mm->kind = LB_PUNT_TX;
	mm->port = port;
	if (rte_ring_sp_enqueue(lb_worker_tx_ring(s->dp->workers[0]), m) != 0) {
		ctr(s)[LB_CTRL_TX_RING_FULL]++;
		ctr(s)[LB_CTRL_SYNC_TX_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	ctr(s)[LB_CTRL_SYNC_TX_DGRAMS]++;
}

/* Next hop of a peer: false while unresolved (the ARP module probes it). */
static bool
next_hop(struct lb_sync *s, const struct sync_peer *peer, uint16_t *port, uint8_t mac[6])
{
	uint32_t n;

	if (lb_neigh_resolve(s->dp->neigh, &peer->addr, port, &n) < 0)
		return false;
	return lb_neigh_mac(lb_neigh_entry(s->dp->neigh, n), mac);
}

/* Frame a sealed datagram for peer and send it, or hold it until the next hop resolves. */
static void
send_to(struct lb_sync *s, struct sync_peer *peer, const uint8_t *dg, size_t len)
{
	const struct lb_dp *dp = s->dp;
	bool v4 = peer->addr.family == LB_AF_INET;
	uint16_t l3 = v4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	uint16_t port = 0;
	uint32_t n;

	if (lb_neigh_resolve(dp->neigh, &peer->addr, &port, &n) < 0) {
		ctr(s)[LB_CTRL_SYNC_TX_DROPPED]++;
		return;
	}
	const struct lb_addr *src = src_addr(dp, port, peer->addr.family);
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(RTE_ETHER_HDR_LEN + l3 +
								     sizeof(struct rte_udp_hdr) + len))
		       : NULL;
	if (src == NULL || f == NULL) {
		rte_pktmbuf_free(m);
		ctr(s)[LB_CTRL_SYNC_TX_DROPPED]++;
		return;
	}
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)f;
	memset(eh->dst_addr.addr_bytes, 0, 6);
	eh->src_addr = dp->ports[port].mac;
	eh->ether_type = rte_cpu_to_be_16(v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(f + RTE_ETHER_HDR_LEN + l3);
	uh->src_port = rte_cpu_to_be_16(dp->conf.sync.port);
	uh->dst_port = uh->src_port;
	uh->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + len));
	uh->dgram_cksum = 0;
	memcpy(uh + 1, dg, len);
	if (v4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + RTE_ETHER_HDR_LEN);
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3 + sizeof(*uh) + len));
		ip->time_to_live = 64;
		ip->next_proto_id = LB_IPPROTO_UDP;
		memcpy(&ip->src_addr, src->bytes, 4);
		memcpy(&ip->dst_addr, peer->addr.bytes, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		uh->dgram_cksum = rte_ipv4_udptcp_cksum(ip, uh);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(f + RTE_ETHER_HDR_LEN);
		memset(ip, 0, sizeof(*ip));
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(sizeof(*uh) + len));
		ip->proto = LB_IPPROTO_UDP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, src->bytes, 16);
		memcpy(ip->dst_addr, peer->addr.bytes, 16);
		uh->dgram_cksum = rte_ipv6_udptcp_cksum(ip, uh);
	}
	uint8_t mac[6];
	if (peer->n_pend == 0 && lb_neigh_mac(lb_neigh_entry(dp->neigh, n), mac)) {
		memcpy(eh->dst_addr.addr_bytes, mac, 6);
		tx(s, m, port);
		return;
	}
	if (peer->n_pend == SYNC_PEND_MAX) {
		rte_pktmbuf_free(m);
		ctr(s)[LB_CTRL_SYNC_TX_DROPPED]++;
		return;
	}
	peer->pend_tsc[peer->n_pend] = rte_rdtsc();
	peer->pend[peer->n_pend++] = m;
}

/* Held datagrams: out when the next hop resolved, dropped after SYNC_PEND_MS. */
static void
send_pending(struct lb_sync *s, struct sync_peer *peer, uint64_t now)
{
	uint16_t port;
	uint8_t mac[6];
	unsigned k = 0;

	if (peer->n_pend == 0)
		return;
	bool ok = next_hop(s, peer, &port, mac);
	for (unsigned i = 0; i < peer->n_pend; i++) {
		struct rte_mbuf *m = peer->pend[i];
		if (ok) {
			memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac, 6);
			tx(s, m, port);
		} else if (now - peer->pend_tsc[i] > SYNC_PEND_MS * s->ms) {
			rte_pktmbuf_free(m);
			ctr(s)[LB_CTRL_SYNC_TX_DROPPED]++;
		} else {
			peer->pend[k] = m;
			peer->pend_tsc[k++] = peer->pend_tsc[i];
		}
	}
	peer->n_pend = k;
}

static void
header(struct lb_sync *s, struct lb_sync_hdr *h, uint8_t type, uint16_t count)
{
	memset(h, 0, sizeof(*h));
	h->magic = LB_SYNC_MAGIC;
	h->version = LB_SYNC_VERSION;
	h->type = type;
	h->count = count;
	h->sender = s->dp->conf.sync.id;
	h->epoch = s->epoch;
	h->seq = ++s->seq;
	h->ts_ms = wall_ms();
}

void
lb_sync_flush(struct lb_sync *s, struct sync_batch *b, struct sync_peer *peer)
{
	struct lb_sync_hdr h;

	if (b->n == 0)
		return;
	header(s, &h, LB_SYNC_RECORDS, b->n);
	/*
	 * A records datagram is stamped with the time its first record was batched,
	 * so the receiver's lag (docs/flow-sync.md "Lag") includes the batch wait.
	 */
	uint64_t waited = (rte_rdtsc() - b->first_tsc) / s->ms;
	if (waited < h.ts_ms)
		h.ts_ms -= waited;
	size_t len = lb_sync_seal(b->buf, &h, s->key);
	for (unsigned i = 0; i < s->n_peers; i++) {
		if (peer != NULL && peer != &s->peers[i])
			continue;
		send_to(s, &s->peers[i], b->buf, len);
		ctr(s)[LB_CTRL_SYNC_TX_RECORDS] += b->n;
		s->records_sent += b->n;
	}
	b->n = 0;
}

void
lb_sync_add(struct lb_sync *s, struct sync_batch *b, struct sync_peer *peer,
	    const struct lb_sync_rec *r)
{
	if (b->n == 0)
		b->first_tsc = rte_rdtsc();
	lb_sync_rec_encode(b->buf + LB_SYNC_HDR_LEN + (size_t)b->n * LB_SYNC_REC_LEN, r);
	if (++b->n >= s->dp->conf.sync.batch)
		lb_sync_flush(s, b, peer);
}

void
lb_sync_send_ctl(struct lb_sync *s, struct sync_peer *peer, uint8_t type)
{
	uint8_t buf[LB_SYNC_HDR_LEN + LB_SYNC_MAC_LEN];
	struct lb_sync_hdr h;

	header(s, &h, type, 0);
	send_to(s, peer, buf, lb_sync_seal(buf, &h, s->key));
}

/* ---- input -------------------------------------------------------------------- */

/*
 * A peer's SNAT address must be in the address table as a source address, so its
 * replies are classified as replies (forward.h) and take-overs find its index.
 * Registered once, at local[n_local + k]; answered for in ARP/NDP only while the
 * on-link take-over holds it (sync_onlink.c).
 * *own: the address is one of this box's own SNAT addresses.
 */
static bool
learn_local(struct lb_sync *s, const struct lb_sync_rec *r, uint32_t sender, bool *own)
{
	struct lb_dp *dp = s->dp;
	const struct lb_addr_info *ai = lb_addr_get(dp->svcs, r->family, r->local);
	uint8_t fl = ai ? __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) : 0;

	*own = false;
	if (fl & LB_ADDR_LOCAL) {
		*own = ai->local_idx < dp->n_local;
		return true;
	}
	if (fl != 0)
		return false; /* a VIP or a port address of this box: never a peer's source */
	unsigned idx = dp->n_local + dp->n_local_peer;
	if (idx >= LB_MAX_LOCAL_ADDRS) {
		ctr(s)[LB_CTRL_SYNC_PEER_FULL]++;
		return false;
	}
	struct lb_local *l = &dp->local[idx];
	lb_addr_set(&l->addr, r->family, r->local);
	uint16_t port = 0;
	uint32_t n;
	if (lb_neigh_resolve(dp->neigh, &l->addr, &port, &n) == 0)
		l->port = port;
	/* local[idx] is written before the flags that make workers read it (release). */
	if (lb_svcs_add_addr(dp->svcs, &l->addr, LB_ADDR_LOCAL, (uint8_t)idx) < 0) {
		ctr(s)[LB_CTRL_SYNC_PEER_FULL]++;
		return false;
	}
	s->owner[idx] = sender; /* the on-link take-over's guess of its owner (sync_onlink.c) */
	dp->n_local_peer++;
	return true;
}

static void
records_in(struct lb_sync *s, struct sync_peer *peer, const uint8_t *p, uint16_t count)
{
	uint32_t now = lb_dp_ms(s->dp, rte_rdtsc());

	for (uint16_t i = 0; i < count; i++) {
		struct lb_sync_rec r;
		bool own;
		if (lb_sync_rec_decode(p + (size_t)i * LB_SYNC_REC_LEN, &r) < 0 ||
		    !learn_local(s, &r, peer->id, &own)) {
			ctr(s)[LB_CTRL_SYNC_RX_BAD_RECORD]++;
			continue;
		}
		if (lb_peer_upsert(s->dp->peers, &r, peer->id, now, own) < 0) {
			ctr(s)[LB_CTRL_SYNC_PEER_FULL]++;
			continue;
		}
		ctr(s)[LB_CTRL_SYNC_RX_RECORDS]++;
		s->records_received++;
		peer->records++;
	}
}

static const int verdict_ctr[] = {
	[LB_SYNC_TRUNCATED] = LB_CTRL_SYNC_RX_TRUNCATED,
	[LB_SYNC_OVERSIZED] = LB_CTRL_SYNC_RX_OVERSIZED,
	[LB_SYNC_MALFORMED] = LB_CTRL_SYNC_RX_MALFORMED,
	[LB_SYNC_BAD_VERSION] = LB_CTRL_SYNC_RX_BAD_VERSION,
	[LB_SYNC_BAD_MAC] = LB_CTRL_SYNC_RX_BAD_MAC,
	[LB_SYNC_REPLAYED] = LB_CTRL_SYNC_RX_REPLAYED,
	[LB_SYNC_STALE] = LB_CTRL_SYNC_RX_STALE,
};

/*
 * An authentic, fresh datagram from an on-link peer names its MAC: record it for
 * the peer's address (as an ARP answer would). The neighbour cache learns only
 * from answers to its own probes, so that nobody on the segment can redirect a
 * next hop; a datagram that passed the keyed MAC and the replay window cannot be
 * forged either. Without this a peer that was down when this box gave up probing
 * it (an unused entry is deleted after its probes fail) is learned again only by
 * the next probe, and the bulk copy a joining peer asks for waits, or is dropped,
 * meanwhile. A peer behind a gateway (not on the receiving port's subnet) is left
 * to the gateway's entry.
 */
static void
learn_peer_mac(struct lb_sync *s, const struct sync_peer *peer, struct rte_mbuf *m,
	       const uint8_t *frame)
{
	struct lb_dp *dp = s->dp;
	uint16_t port, rx = lb_meta(dp->meta_off, m)->port;
	uint32_t n;

	if (lb_neigh_resolve(dp->neigh, &peer->addr, &port, &n) < 0 || port != rx)
		return;
	const struct lb_neigh *e = lb_neigh_entry(dp->neigh, n);
	if (e->family != peer->addr.family ||
	    memcmp(e->addr, peer->addr.bytes, (size_t)lb_addr_len(peer->addr.family)) != 0)
		return; /* resolved through a gateway: its entry is the gateway's */
	uint8_t mac[6];
	if (lb_neigh_mac(e, mac) && memcmp(mac, frame + 6, 6) == 0)
		return; /* already known */
	int idx = lb_neigh_learn(dp->neigh, &peer->addr, frame + 6, port, LB_NEIGH_REACHABLE);
	if (idx >= 0)
		lb_neigh_entry(dp->neigh, (uint32_t)idx)->confirmed_tsc = rte_rdtsc();
}

/* One datagram a worker handed over (consumed). Every refusal counted once. */
static void
input(struct lb_sync *s, struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	struct lb_pkt p;
	enum lb_drop why;
	struct sync_peer *peer = NULL;
	enum lb_sync_verdict v;
	struct lb_sync_hdr h;

	ctr(s)[LB_CTRL_PUNTED]++;
	if (lb_parse(f, m->data_len, &p, &why) < 0 || p.proto != LB_IPPROTO_UDP) {
		v = LB_SYNC_MALFORMED;
		goto refused;
	}
	for (unsigned i = 0; i < s->n_peers && peer == NULL; i++)
		if (s->peers[i].addr.family == p.family &&
		    memcmp(s->peers[i].addr.bytes, p.src, (size_t)lb_addr_len(p.family)) == 0)
			peer = &s->peers[i];
	if (peer == NULL) {
		ctr(s)[LB_CTRL_SYNC_RX_NOT_PEER]++;
		goto out;
	}
	const uint8_t *dg = f + p.l2_len + p.l3_len + 8;
	size_t len = (size_t)(p.ip_len - p.l3_len - 8);
	v = lb_sync_open(dg, len, s->key, &h);
	if (v != LB_SYNC_OK)
		goto refused;
	if (h.sender == s->dp->conf.sync.id) {
		ctr(s)[LB_CTRL_SYNC_RX_NOT_PEER]++;
		goto out;
	}
	/* Age first: a replayed old datagram outside the window is stale as well. */
	uint64_t now = wall_ms(), age_max = (uint64_t)s->dp->conf.sync.max_age_s * 1000;
	if (h.ts_ms + age_max < now || h.ts_ms > now + age_max) {
		v = LB_SYNC_STALE;
		goto refused;
	}
	v = lb_sync_replay_check(&peer->replay, h.epoch, h.seq);
	if (v != LB_SYNC_OK)
		goto refused;
	peer->id = h.sender;
	peer->last_seen_tsc = rte_rdtsc();
	peer->datagrams++;
	learn_peer_mac(s, peer, m, f);
	ctr(s)[LB_CTRL_SYNC_RX_DGRAMS]++;
	switch (h.type) {
	case LB_SYNC_RECORDS:
		if (h.count > 0) /* an empty one is a heartbeat (sync_onlink.c) */
			lb_lag_add(&s->lag, (int64_t)(wall_us() - h.ts_ms * 1000));
		records_in(s, peer, dg + LB_SYNC_HDR_LEN, h.count);
		break;
	case LB_SYNC_BULK_REQ:
		/* (Re)start our answer from the first slot: a repeated request restarts it. */
		peer->answer = (struct sync_walk){.active = true};
		break;
	case LB_SYNC_BULK_END:
		if (!peer->bulk_done)
			fprintf(stderr, "edgelb-dp: flow sync: bulk copy from peer %u received\n",
				h.sender);
		peer->bulk_done = true;
		break;
	default:
		break;
	}
	goto out;
refused:
	ctr(s)[verdict_ctr[v]]++;
out:
	rte_pktmbuf_free(m);
}

/* ---- the loop ------------------------------------------------------------------- */

static void
join(struct lb_sync *s, uint64_t now)
{
	if (s->bulk_done)
		return;
	bool all = true;
	for (unsigned i = 0; i < s->n_peers; i++) {
		struct sync_peer *peer = &s->peers[i];
		if (peer->bulk_done)
			continue;
		all = false;
		if (peer->bulk_req_tsc == 0 || now - peer->bulk_req_tsc > SYNC_BULK_RETRY_MS * s->ms) {
			peer->bulk_req_tsc = now;
			lb_sync_send_ctl(s, peer, LB_SYNC_BULK_REQ);
		}
	}
	if (all) {
		s->bulk_done = true;
		fprintf(stderr, "edgelb-dp: flow sync: bulk copy done (%u peer(s) answered)\n",
			s->n_peers);
		return;
	}
	if (now - s->start_tsc > (uint64_t)s->dp->conf.sync.bulk_timeout_ms * s->ms) {
		s->bulk_done = true;
		char who[LB_SYNC_MAX_PEERS * (LB_ADDR_STRLEN + 1)] = "";
		for (unsigned i = 0; i < s->n_peers; i++) {
			char a[LB_ADDR_STRLEN];
			if (s->peers[i].bulk_done)
				continue;
			lb_addr_format(&s->peers[i].addr, a, sizeof(a));
			strcat(who, " ");
			strcat(who, a);
		}
		fprintf(stderr, "edgelb-dp: flow sync: bulk copy timed out after %u ms; no answer "
				"from:%s\n", s->dp->conf.sync.bulk_timeout_ms, who);
	}
}

void
lb_sync_poll(struct lb_sync *s)
{
	struct lb_dp *dp = s->dp;
	struct rte_mbuf *pkts[32];
	struct lb_sync_rec recs[REC_BURST];
	uint64_t now = rte_rdtsc();

	for (unsigned w = 0; w < dp->n_workers; w++) {
		struct rte_ring *r = lb_worker_sync_rx_ring(dp->workers[w]);
		unsigned n = rte_ring_sc_dequeue_burst(r, (void **)pkts, 32, NULL);
		for (unsigned i = 0; i < n; i++)
			input(s, pkts[i]);
	}
	for (unsigned w = 0; w < dp->n_workers; w++) {
		struct rte_ring *r = lb_worker_sync_rec_ring(dp->workers[w]);
		unsigned n, taken = 0;
		do {
			n = rte_ring_sc_dequeue_burst_elem(r, recs, sizeof(recs[0]), REC_BURST, NULL);
			for (unsigned i = 0; i < n; i++)
				lb_sync_add(s, &s->all, NULL, &recs[i]);
			taken += n;
		} while (n == REC_BURST && taken < REC_BUDGET);
	}
	/*
	 * A fresh clock: records batched in this loop have first_tsc after `now`, and
	 * now - first_tsc would wrap and flush every batch at once (no batching).
	 */
	uint64_t t = rte_rdtsc();
	if (s->all.n && t - s->all.first_tsc > (uint64_t)dp->conf.sync.flush_ms * s->ms)
		lb_sync_flush(s, &s->all, NULL);
	for (unsigned i = 0; i < s->n_peers; i++) {
		struct sync_peer *peer = &s->peers[i];
		if (peer->answer.active && lb_sync_walk_step(s, &peer->answer, peer)) {
			lb_sync_flush(s, &peer->out, peer);
			lb_sync_send_ctl(s, peer, LB_SYNC_BULK_END);
		}
		send_pending(s, peer, now);
	}
	/* Refresh: one pass over every table per refresh_s, a slice per loop. */
	if (!s->refresh.active &&
	    now - s->refresh_start_tsc > (uint64_t)dp->conf.sync.refresh_s * 1000 * s->ms) {
		s->refresh = (struct sync_walk){.active = true};
		s->refresh_start_tsc = now;
	}
	if (s->refresh.active && lb_sync_walk_step(s, &s->refresh, NULL))
		lb_sync_flush(s, &s->all, NULL);
	lb_peer_expire(dp->peers, lb_dp_ms(dp, now), SYNC_EXPIRE_BUDGET);
	join(s, now);
	lb_sync_onlink_poll(s, now);
}

/* ---- peers from the control socket ------------------------------------------------ */

int
lb_sync_set_peers(struct lb_sync *s, const json_t *list, char *err, size_t errlen)
{
	struct lb_addr a[LB_SYNC_MAX_PEERS];
	struct sync_peer next[LB_SYNC_MAX_PEERS];
	size_t n = json_array_size(list), i;
	json_t *v;

	if (!json_is_array(list) || n > LB_SYNC_MAX_PEERS) {
		snprintf(err, errlen, "peers: want an array of at most %d addresses", LB_SYNC_MAX_PEERS);
		return LB_EINVAL;
	}
	json_array_foreach(list, i, v) {
		if (!json_is_string(v) || lb_addr_parse(json_string_value(v), &a[i]) < 0) {
			snprintf(err, errlen, "peers[%zu]: not an IPv4 or IPv6 address", i);
			return LB_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (lb_addr_eq(&a[j], &a[i])) {
				snprintf(err, errlen, "peers[%zu]: listed twice", i);
				return LB_EINVAL;
			}
	}
	/* A peer that stays keeps its state (replay window, join); a new one starts clean. */
	bool kept[LB_SYNC_MAX_PEERS] = {false};
	for (i = 0; i < n; i++) {
		memset(&next[i], 0, sizeof(next[i]));
		next[i].addr = a[i];
		next[i].bulk_done = s->bulk_done; /* joined already: a new peer asks us when it starts */
		for (unsigned k = 0; k < s->n_peers; k++)
			if (lb_addr_eq(&s->peers[k].addr, &a[i])) {
				next[i] = s->peers[k];
				kept[k] = true;
			}
	}
	for (unsigned k = 0; k < s->n_peers; k++)
		for (unsigned m = 0; !kept[k] && m < s->peers[k].n_pend; m++)
			rte_pktmbuf_free(s->peers[k].pend[m]);
	memcpy(s->peers, next, n * sizeof(next[0]));
	s->n_peers = (unsigned)n;
	return 0;
}

/* ---- life and status ---------------------------------------------------------- */

struct lb_sync *
lb_sync_create(struct lb_dp *dp, char *err, size_t errlen)
{
	struct lb_sync *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "flow sync: out of memory");
		return NULL;
	}
	s->dp = dp;
	if (lb_sync_key_load(dp->conf.sync.key_file, s->key, err, errlen) < 0) {
		free(s);
		return NULL;
	}
	/*
	 * The epoch is the start second; the sequence starts at the start microsecond,
	 * so a dp restarted within the same second still begins above anything its
	 * previous life sent (it cannot have sent a datagram per microsecond).
	 */
	s->epoch = (uint32_t)time(NULL);
	s->seq = wall_ms() * 1000;
	s->ms = dp->tsc_hz / 1000;
	s->start_tsc = rte_rdtsc();
	s->refresh_start_tsc = s->start_tsc;
	s->n_peers = dp->conf.sync.n_peers;
	for (unsigned i = 0; i < s->n_peers; i++)
		s->peers[i].addr = dp->conf.sync.peers[i];
	s->bulk_done = s->n_peers == 0 || dp->conf.sync.bulk_timeout_ms == 0;
	return s;
}

void
lb_sync_destroy(struct lb_sync *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n_peers; i++)
		for (unsigned k = 0; k < s->peers[i].n_pend; k++)
			rte_pktmbuf_free(s->peers[i].pend[k]);
	sodium_memzero(s->key, sizeof(s->key));
	free(s);
}

bool
lb_sync_bulk_done(const struct lb_sync *s)
{
	return s->bulk_done;
}

json_t *
lb_sync_json(const struct lb_sync *s)
{
	const struct lb_dp *dp = s->dp;
	json_t *o = json_object(), *peers = json_array();
	uint64_t now = rte_rdtsc();

	json_object_set_new(o, "id", json_integer(dp->conf.sync.id));
	json_object_set_new(o, "port", json_integer(dp->conf.sync.port));
	json_object_set_new(o, "bulk_done", json_boolean(s->bulk_done));
	json_object_set_new(o, "peer_entries", json_integer(lb_peer_count(dp->peers)));
	json_object_set_new(o, "peer_capacity", json_integer(lb_peer_capacity(dp->peers)));
	json_object_set_new(o, "records_sent", json_integer((json_int_t)s->records_sent));
	json_object_set_new(o, "records_received", json_integer((json_int_t)s->records_received));
	json_object_set_new(o, "lag_samples", json_integer((json_int_t)s->lag.n));
	json_object_set_new(o, "lag_us_p50", json_integer((json_int_t)lb_lag_quantile(&s->lag, 0.5)));
	json_object_set_new(o, "lag_us_p99", json_integer((json_int_t)lb_lag_quantile(&s->lag, 0.99)));
	json_object_set_new(o, "lag_us_max", json_integer((json_int_t)s->lag.max_us));
	json_object_set_new(o, "lag_clock_ahead", json_integer((json_int_t)s->lag.ahead));
	if (dp->conf.sync.onlink_takeover) {
		json_t *held = json_array();
		for (unsigned k = dp->n_local; k < dp->n_local + dp->n_local_peer; k++) {
			char a[LB_ADDR_STRLEN];
			if (!s->held[k])
				continue;
			lb_addr_format(&dp->local[k].addr, a, sizeof(a));
			json_array_append_new(held, json_string(a));
		}
		json_object_set_new(o, "onlink_held", held);
		json_object_set_new(o, "onlink_takeovers", json_integer((json_int_t)s->takeovers));
		json_object_set_new(o, "onlink_releases", json_integer((json_int_t)s->releases));
	}
	for (unsigned i = 0; i < s->n_peers; i++) {
		const struct sync_peer *p = &s->peers[i];
		char a[LB_ADDR_STRLEN];
		lb_addr_format(&p->addr, a, sizeof(a));
		json_int_t seen = p->last_seen_tsc ? (json_int_t)((now - p->last_seen_tsc) / s->ms) : -1;
		json_array_append_new(peers, json_pack("{s:s, s:I, s:I, s:b, s:I, s:I}", "address", a,
						       "id", (json_int_t)p->id, "last_seen_ms", seen,
						       "bulk_done", p->bulk_done, "datagrams",
						       (json_int_t)p->datagrams, "records",
						       (json_int_t)p->records));
	}
	json_object_set_new(o, "peers", peers);
	return o;
}
