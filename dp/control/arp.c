/*
 * arp.c - ARP, NDP and ICMP packets on the control thread (arp.h): what comes in
 * from the workers, what the box answers and originates. Neighbour resolution and
 * aging (probes, held frames, timers) are resolve.c's; arp_priv.h is what they share.
 *
 * Frame shapes it sends:
 *   ARP reply      Eth(port -> asker)/ARP(op 2, sha port mac, spa asked addr)
 *   ARP request    Eth(port -> ff..ff)/ARP(op 1, spa port addr, tpa target)
 *   gratuitous ARP Eth(port -> ff..ff)/ARP(op 1, spa = tpa = address)
 *   NA             Eth(port -> asker)/IPv6(addr -> asker, hop 255)/ICMPv6 136 S|O + TLLA
 *   unsolicited NA Eth(port -> 33:33:00:00:00:01)/IPv6(addr -> ff02::1)/ICMPv6 136 O + TLLA
 *   NS             Eth(port -> 33:33:ff:xx:xx:xx)/IPv6(port addr -> ff02::1:ffxx:xxxx)/
 *                  ICMPv6 135 + SLLA
 *   echo reply, ICMP errors: IP from the box back to the sender's MAC.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "arp.h"
#include "arp_priv.h"
#include "dp.h"
#include "icmp.h"
#include "lb_error.h"
#include "nat.h"
#include "neigh.h"
#include "parse.h"
#include "service.h"
#include "service_fastpath.h"
#include "sync.h"
#include "worker.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "arp: " fmt "\n", ##__VA_ARGS__)

#define POLL_BURST 32
#define ICMP_RATE 1000        /* originated ICMP errors per second */
#define ICMP_BURST 100

/* ---- output ------------------------------------------------------------ */

/*
 * Queue a frame for a worker to send. Held frames keep the ol_flags, l2_len and
 * l3_len the worker set (its TX checksum offload request): clearing them made a
 * frame that waited for ARP/NDP leave with both checksums unfinished on ports that
 * offload them (issue 14, finding 8). Frames this thread builds or turns around
 * (answers) go out via out(), without offloads.
 */
void
lb_arp_out_held(struct lb_arp *a, struct rte_mbuf *m, uint16_t port)
{
	struct lb_mbuf_meta *mm = lb_meta(a->dp->meta_off, m);

	mm->kind = LB_PUNT_TX;
	mm->port = port;
	/* Worker 0 sends for the control thread: it is the only producer of that ring. */
	if (rte_ring_sp_enqueue(lb_worker_tx_ring(a->dp->workers[0]), m) != 0) {
		lb_arp_ctr(a)[LB_CTRL_TX_RING_FULL]++;
		rte_pktmbuf_free(m);
	}
}

static void
out(struct lb_arp *a, struct rte_mbuf *m, uint16_t port)
{
	m->ol_flags = 0;
	lb_arp_out_held(a, m, port);
}

static uint8_t *
new_frame(struct lb_arp *a, struct rte_mbuf **mp, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(a->dp->pool);

	*mp = m;
	if (m == NULL)
		return NULL;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		*mp = NULL;
		return NULL;
	}
	memset(p, 0, len);
	return p;
}

static void
eth_header(uint8_t *f, const uint8_t *dst, const struct rte_ether_addr *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src->addr_bytes, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

/* Replace whatever L2 header m has (VLAN tags too) with a plain Ethernet one. */
static uint8_t *
reframe(struct rte_mbuf *m, uint16_t l2_len, const uint8_t *dst, const struct rte_ether_addr *src,
	uint16_t type)
{
	if (l2_len > RTE_ETHER_HDR_LEN)
		rte_pktmbuf_adj(m, (uint16_t)(l2_len - RTE_ETHER_HDR_LEN));
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	eth_header(f, dst, src, type);
	return f;
}

/* The port's first own address of a family, or NULL. */
static const struct lb_addr *
port_addr(const struct lb_dp *dp, uint16_t port, uint8_t family)
{
	const struct lb_port_conf *pc = &dp->conf.ports[port];

	for (unsigned i = 0; i < pc->n_addrs; i++)
		if (pc->addrs[i].addr.family == family)
			return &pc->addrs[i].addr;
	return NULL;
}

/* Any own address of the family, preferring the given port. */
static const struct lb_addr *
box_addr(const struct lb_dp *dp, uint16_t port, uint8_t family)
{
	const struct lb_addr *x = port_addr(dp, port, family);

	for (uint16_t p = 0; x == NULL && p < dp->n_ports; p++)
		x = port_addr(dp, p, family);
	return x;
}

/* ---- ARP ----------------------------------------------------------------- */

static void
arp_send(struct lb_arp *a, uint16_t port, uint16_t op, const uint8_t *spa, const uint8_t *tha,
	 const uint8_t *tpa, const uint8_t *eth_dst)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const struct rte_ether_addr *mac = &a->dp->ports[port].mac;
	struct rte_mbuf *m;
	uint8_t *f = new_frame(a, &m, 60);

	if (f == NULL)
		return;
	eth_header(f, eth_dst ? eth_dst : bcast, mac, RTE_ETHER_TYPE_ARP);
	uint8_t *p = f + 14;
	p[1] = 1;    /* Ethernet */
	p[2] = 0x08; /* IPv4 */
	p[4] = 6;
	p[5] = 4;
	p[7] = (uint8_t)op;
	memcpy(p + 8, mac->addr_bytes, 6);
	memcpy(p + 14, spa, 4);
	if (tha)
		memcpy(p + 18, tha, 6);
	memcpy(p + 24, tpa, 4);
	out(a, m, port);
}

/*
 * Does addr live on this port, and whose is it? OWN: one of the port's own
 * addresses or this box's own SNAT addresses. SHARED: a VIP (on client-facing
 * ports) or a silent peer's SNAT address while this box holds it (sync_onlink.c),
 * which other boxes may answer for too. The box answers for both, and defends
 * only its own (defend()).
 */
enum here { HERE_NOT, HERE_SHARED, HERE_OWN };

static enum here
here(const struct lb_arp *a, uint16_t port, uint8_t family, const uint8_t *addr)
{
	const struct lb_dp *dp = a->dp;
	const struct lb_addr_info *ai = lb_addr_get(dp->svcs, family, addr);
	uint8_t flags = ai ? __atomic_load_n(&ai->flags, __ATOMIC_ACQUIRE) : 0;
	bool shared = (flags & LB_ADDR_VIP) && (dp->ports[port].role & LB_ROLE_EXTERNAL);
	struct lb_addr x;

	if (flags == 0)
		return HERE_NOT;
	lb_addr_set(&x, family, addr);
	if (flags & LB_ADDR_LOCAL)
		for (unsigned l = 0; l < dp->n_local + dp->n_local_peer; l++)
			if (dp->local[l].port == port && lb_addr_eq(&dp->local[l].addr, &x)) {
				if (l < dp->n_local)
					return HERE_OWN;
				shared = shared || lb_sync_answers_for(dp->sync, l);
			}
	if (flags & LB_ADDR_OWN) {
		const struct lb_port_conf *pc = &dp->conf.ports[port];
		for (unsigned i = 0; i < pc->n_addrs; i++)
			if (lb_addr_eq(&pc->addrs[i].addr, &x))
				return HERE_OWN;
	}
	return shared ? HERE_SHARED : HERE_NOT;
}

/* May this port answer for addr? */
static bool
answers_for(const struct lb_arp *a, uint16_t port, uint8_t family, const uint8_t *addr)
{
	return here(a, port, family, addr) != HERE_NOT;
}

/*
 * Another MAC announced (gratuitous ARP, unsolicited NA) one of this port's own
 * addresses or own SNAT addresses: announce it again, so the segment's caches end
 * on ours. This is how a box that comes back takes its SNAT addresses back from a
 * peer that held them (sync_onlink.c): the peer's announcements may still be on
 * their way after ours at start, until it hears us and lets go without a word.
 * Never for a VIP or a peer's address held (other boxes may rightly announce
 * those: two would fight). At most DEFEND_RATE a second, DEFEND_BURST at once,
 * over all addresses: a spoofer's flood of claims costs the segment that, and is
 * counted.
 */
#define DEFEND_RATE 4
#define DEFEND_BURST 8

static void
defend(struct lb_arp *a, uint8_t family, const uint8_t *addr, const uint8_t *mac, uint16_t port)
{
	struct lb_addr x;

	if (memcmp(mac, a->dp->ports[port].mac.addr_bytes, 6) == 0)
		return; /* our own announcement, looped back */
	if (!lb_exc_tb_take(&a->defend_tb, rte_rdtsc())) {
		lb_arp_ctr(a)[LB_CTRL_ADDR_DEFEND_LIMITED]++;
		return;
	}
	lb_arp_ctr(a)[LB_CTRL_ADDR_DEFENDED]++;
	lb_addr_set(&x, family, addr);
	lb_arp_announce(a, &x);
}

static void
arp_input(struct lb_arp *a, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t port)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *arp = f + p->l2_len;
	uint16_t op = (uint16_t)(arp[6] << 8 | arp[7]);
	const uint8_t *sha = arp + 8;
	enum here h = here(a, port, LB_AF_INET, p->dst);

	lb_arp_learn(a, LB_AF_INET, p->src, sha, port, op == 2);
	if (op == 2) {
		lb_arp_ctr(a)[LB_CTRL_ARP_REPLY_RX]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* A gratuitous ARP: sender and target address the same (h is the sender's). */
	bool gratuitous = memcmp(p->src, p->dst, 4) == 0;
	if (op == 1 && gratuitous && h == HERE_OWN)
		defend(a, LB_AF_INET, p->src, sha, port);
	if (op != 1 || h == HERE_NOT || gratuitous) {
		lb_arp_ctr(a)[LB_CTRL_IGNORED]++;
		rte_pktmbuf_free(m);
		return;
	}
	lb_arp_ctr(a)[LB_CTRL_ARP_REQ_RX]++;
	arp_send(a, port, 2, p->dst, sha, p->src, sha);
	rte_pktmbuf_free(m);
}

/* ---- NDP ----------------------------------------------------------------- */

static void
ndp_send(struct lb_arp *a, uint16_t port, uint8_t type, const uint8_t *src, const uint8_t *dst,
	 const uint8_t *eth_dst, const uint8_t *target, uint32_t flags)
{
	const struct rte_ether_addr *mac = &a->dp->ports[port].mac;
	struct rte_mbuf *m;
	uint8_t *f = new_frame(a, &m, 14 + 40 + 32);

	if (f == NULL)
		return;
	eth_header(f, eth_dst, mac, RTE_ETHER_TYPE_IPV6);
	uint8_t *ip = f + 14, *icmp = ip + 40;
	ip[0] = 0x60;
	ip[5] = 32; /* payload length */
	ip[6] = LB_IPPROTO_ICMPV6;
	ip[7] = 255; /* RFC 4861: receivers drop NDP with any other hop limit */
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = type;
	icmp[4] = (uint8_t)(flags >> 24);
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == LB_ICMP6_NEIGH_SOLICIT ? 1 : 2; /* source / target link-layer option */
	icmp[25] = 1;
	memcpy(icmp + 26, mac->addr_bytes, 6);
	uint16_t c = lb_l4_cksum(LB_AF_INET6, ip + 8, ip + 24, LB_IPPROTO_ICMPV6, icmp, 32, 2);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	out(a, m, port);
}

void
lb_arp_solicit(struct lb_arp *a, uint16_t port, const struct lb_addr *target)
{
	const struct lb_addr *src = port_addr(a->dp, port, target->family);

	if (target->family == LB_AF_INET) {
		static const uint8_t any[4];
		arp_send(a, port, 1, src ? src->bytes : any, NULL, target->bytes, NULL);
		lb_arp_ctr(a)[LB_CTRL_ARP_REQ_TX]++;
		return;
	}
	if (src == NULL)
		return; /* NS needs a source; the port has no IPv6 address */
	uint8_t snm[16] = {0xff, 0x02, [11] = 1, [12] = 0xff};
	uint8_t mac[6] = {0x33, 0x33, 0xff};
	memcpy(snm + 13, target->bytes + 13, 3);
	memcpy(mac + 3, target->bytes + 13, 3);
	ndp_send(a, port, LB_ICMP6_NEIGH_SOLICIT, src->bytes, snm, mac, target->bytes, 0);
	lb_arp_ctr(a)[LB_CTRL_NS_TX]++;
}

/* The value of an NDP option of type t, or NULL. */
static const uint8_t *
nd_option(const uint8_t *opt, uint32_t len, uint8_t t)
{
	while (len >= 8 && opt[1] != 0 && (uint32_t)opt[1] * 8 <= len) {
		if (opt[0] == t && opt[1] == 1)
			return opt + 2;
		len -= (uint32_t)opt[1] * 8;
		opt += (uint32_t)opt[1] * 8;
	}
	return NULL;
}

static void
ndp_input(struct lb_arp *a, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t port)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip = f + p->l2_len, *icmp = ip + 40;
	uint32_t len = (uint32_t)p->ip_len - 40;
	static const uint8_t unspec[16];

	/* RFC 4861 7.1.1: hop limit 255, a target, a valid checksum. */
	if (p->ttl != 255 || len < 24 ||
	    lb_l4_cksum(LB_AF_INET6, ip + 8, ip + 24, LB_IPPROTO_ICMPV6, icmp, len, 2) !=
		    (uint16_t)(icmp[2] << 8 | icmp[3])) {
		lb_arp_ctr(a)[LB_CTRL_IGNORED]++;
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *target = icmp + 8;
	if (p->icmp_type == LB_ICMP6_NEIGH_ADVERT) {
		const uint8_t *tll = nd_option(icmp + 24, len - 24, 2);
		lb_arp_ctr(a)[LB_CTRL_NA_RX]++;
		if (tll) /* solicited flag (S): an answer to our NS */
			lb_arp_learn(a, LB_AF_INET6, target, tll, port, (icmp[4] & 0x40) != 0);
		if (tll && !(icmp[4] & 0x40) && here(a, port, LB_AF_INET6, target) == HERE_OWN)
			defend(a, LB_AF_INET6, target, tll, port);
		rte_pktmbuf_free(m);
		return;
	}
	bool for_us = answers_for(a, port, LB_AF_INET6, target);
	const uint8_t *sll = nd_option(icmp + 24, len - 24, 1);
	bool dad = memcmp(p->src, unspec, 16) == 0;
	if (sll && !dad)
		lb_arp_learn(a, LB_AF_INET6, p->src, sll, port, false);
	if (!for_us) {
		lb_arp_ctr(a)[LB_CTRL_IGNORED]++;
		rte_pktmbuf_free(m);
		return;
	}
	lb_arp_ctr(a)[LB_CTRL_NS_RX]++;
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	uint8_t eth_src[6];
	memcpy(eth_src, f + 6, 6);
	/* Solicited (S) and override (O); a DAD probe gets an unsolicited answer to all. */
	ndp_send(a, port, LB_ICMP6_NEIGH_ADVERT, target, dad ? all_nodes : p->src,
		 dad ? all_nodes_mac : eth_src, target, dad ? 0x20000000u : 0x60000000u);
	rte_pktmbuf_free(m);
}

void
lb_arp_announce(struct lb_arp *a, const struct lb_addr *addr)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};

	if (a == NULL)
		return;
	for (uint16_t port = 0; port < a->dp->n_ports; port++) {
		if (!answers_for(a, port, addr->family, addr->bytes))
			continue;
		if (addr->family == LB_AF_INET)
			arp_send(a, port, 1, addr->bytes, NULL, addr->bytes, NULL);
		else
			ndp_send(a, port, LB_ICMP6_NEIGH_ADVERT, addr->bytes, all_nodes, all_nodes_mac,
				 addr->bytes, 0x20000000u);
		lb_arp_ctr(a)[LB_CTRL_GARP_TX]++;
	}
}

/* ---- ICMP ---------------------------------------------------------------- */

static void
echo_reply(struct lb_arp *a, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t port)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *), dst[6];

	memcpy(dst, f + 6, 6);
	if (lb_icmp_echo_to_reply(f + p->l2_len, p) < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	uint32_t frame = (uint32_t)RTE_ETHER_HDR_LEN + p->ip_len;
	reframe(m, p->l2_len, dst, &a->dp->ports[port].mac,
		p->family == LB_AF_INET ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	if (m->pkt_len > frame)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - frame));
	lb_arp_ctr(a)[LB_CTRL_ECHO_REPLIES]++;
	out(a, m, port);
}

static bool
icmp_token(struct lb_arp *a)
{
	uint64_t now = rte_rdtsc();

	a->icmp_tokens += (double)(now - a->icmp_tsc) / (double)a->dp->tsc_hz * ICMP_RATE;
	a->icmp_tsc = now;
	if (a->icmp_tokens > ICMP_BURST)
		a->icmp_tokens = ICMP_BURST;
	if (a->icmp_tokens < 1) {
		lb_arp_ctr(a)[LB_CTRL_ICMP_RATE_LIMITED]++;
		return false;
	}
	a->icmp_tokens -= 1;
	return true;
}

/* "Fragmentation needed" / "packet too big" (info = MTU) or "time exceeded". */
static void
originate_error(struct lb_arp *a, struct rte_mbuf *m, const struct lb_pkt *p, uint16_t port,
		uint8_t kind, uint32_t mtu)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct lb_addr *src = box_addr(a->dp, port, p->family);
	uint8_t buf[1280];
	uint8_t type, code = 0;

	if (src == NULL || !icmp_token(a)) {
		rte_pktmbuf_free(m);
		return;
	}
	if (kind == LB_PUNT_TOO_BIG) {
		type = p->family == LB_AF_INET ? LB_ICMP_DEST_UNREACH : LB_ICMP6_PACKET_TOO_BIG;
		code = p->family == LB_AF_INET ? LB_ICMP_FRAG_NEEDED : 0;
	} else {
		type = p->family == LB_AF_INET ? LB_ICMP_TIME_EXCEEDED : LB_ICMP6_TIME_EXCEEDED;
	}
	size_t n = lb_icmp_error_build(buf, sizeof(buf), p->family, src->bytes, f + p->l2_len,
				       (uint32_t)(m->data_len - p->l2_len), type, code, mtu);
	if (n == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	struct rte_mbuf *r;
	uint8_t *o = new_frame(a, &r, (uint16_t)(RTE_ETHER_HDR_LEN + n));
	if (o != NULL) {
		eth_header(o, f + 6, &a->dp->ports[port].mac,
			   p->family == LB_AF_INET ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
		memcpy(o + RTE_ETHER_HDR_LEN, buf, n);
		lb_arp_ctr(a)[LB_CTRL_ICMP_ERRORS_TX]++;
		out(a, r, port);
	}
	rte_pktmbuf_free(m);
}

/* ---- resolution -------------------------------------------------------- */

/* ---- the loop ------------------------------------------------------------ */

/* ---- the exception path: frames for and from the box's kernel ------------ */

/*
 * Give m (consumed) to the kernel through port's exception tap. The workers have
 * already rate-limited what they punt for the kernel (fastpath/exc_fp.h).
 */
static bool
to_kernel(struct lb_arp *a, struct rte_mbuf *m, uint16_t port)
{
	uint16_t id = a->dp->ports[port].exc_id;

	m->ol_flags = 0;
	if (id != LB_PORT_NONE && rte_eth_tx_burst(id, 0, &m, 1) == 1) {
		lb_arp_ctr(a)[LB_CTRL_EXC_TO_KERNEL]++;
		return true;
	}
	lb_arp_ctr(a)[LB_CTRL_EXC_DROPPED]++;
	rte_pktmbuf_free(m);
	return false;
}

/*
 * ARP and NDP: the dp answers for itself; the kernel also needs the answers it
 * asked for. The copies have their own bucket (the priority class's settings), so
 * an ARP flood costs the kernel at most that, and the general class never starves them.
 */
static void
copy_to_kernel(struct lb_arp *a, const struct rte_mbuf *m, uint16_t port)
{
	if (a->dp->ports[port].exc_id == LB_PORT_NONE)
		return;
	if (!lb_exc_tb_take(&a->neigh_copy_tb, rte_rdtsc())) {
		lb_arp_ctr(a)[LB_CTRL_EXC_NEIGH_LIMITED]++;
		return;
	}
	struct rte_mbuf *c = rte_pktmbuf_copy(m, a->dp->pool, 0, UINT32_MAX);
	if (c == NULL) {
		lb_arp_ctr(a)[LB_CTRL_EXC_DROPPED]++;
		return;
	}
	if (to_kernel(a, c, port))
		lb_arp_ctr(a)[LB_CTRL_EXC_NEIGH_COPIES]++;
}

/* What the kernel sends through a tap leaves through its port, as is. */
static void
from_kernel(struct lb_arp *a)
{
	struct rte_mbuf *pkts[POLL_BURST];

	for (uint16_t pi = 0; pi < a->dp->n_ports; pi++) {
		uint16_t id = a->dp->ports[pi].exc_id;
		if (id == LB_PORT_NONE)
			continue;
		uint16_t n = rte_eth_rx_burst(id, 0, pkts, POLL_BURST);
		for (uint16_t i = 0; i < n; i++) {
			lb_arp_ctr(a)[LB_CTRL_EXC_FROM_KERNEL]++;
			out(a, pkts[i], pi);
		}
	}
}

static void
dispatch(struct lb_arp *a, struct rte_mbuf *m)
{
	struct lb_mbuf_meta *mm = lb_meta(a->dp->meta_off, m);
	struct lb_pkt p;
	enum lb_drop why;

	lb_arp_ctr(a)[LB_CTRL_PUNTED]++;
	if (mm->kind == LB_PUNT_RESOLVE) {
		lb_arp_hold(a, m, mm->port);
		return;
	}
	if (lb_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &p, &why) < 0) {
		lb_arp_ctr(a)[LB_CTRL_IGNORED]++;
		rte_pktmbuf_free(m);
		return;
	}
	switch (mm->kind) {
	case LB_PUNT_EXCEPTION:
		to_kernel(a, m, mm->port);
		return;
	case LB_PUNT_TOO_BIG:
	case LB_PUNT_TTL:
		originate_error(a, m, &p, mm->port, mm->kind, mm->info);
		return;
	case LB_PUNT_RX:
		if (p.kind == LB_PKT_ARP) {
			copy_to_kernel(a, m, mm->port);
			arp_input(a, m, &p, mm->port);
			return;
		}
		if (p.kind == LB_PKT_ICMP && p.family == LB_AF_INET6 &&
		    (p.icmp_type == LB_ICMP6_NEIGH_SOLICIT || p.icmp_type == LB_ICMP6_NEIGH_ADVERT)) {
			copy_to_kernel(a, m, mm->port);
			ndp_input(a, m, &p, mm->port);
			return;
		}
		if (p.kind == LB_PKT_ICMP && lb_icmp_is_echo_request(p.family, p.icmp_type)) {
			echo_reply(a, m, &p, mm->port);
			return;
		}
		break;
	default:
		break;
	}
	lb_arp_ctr(a)[LB_CTRL_IGNORED]++;
	rte_pktmbuf_free(m);
}

void
lb_arp_poll(struct lb_arp *a)
{
	struct rte_mbuf *pkts[POLL_BURST];

	for (unsigned w = 0; w < a->dp->n_workers; w++) {
		struct rte_ring *r = lb_worker_ctrl_ring(a->dp->workers[w]);
		unsigned n = rte_ring_sc_dequeue_burst(r, (void **)pkts, POLL_BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			dispatch(a, pkts[i]);
	}
	from_kernel(a);
	uint64_t now = rte_rdtsc();
	if (now >= a->next_timer) {
		lb_arp_timers(a, now);
		a->next_timer = now + LB_ARP_TIMER_MS * a->ms;
	}
}

struct lb_arp *
lb_arp_create(struct lb_dp *dp, char *err, size_t errlen)
{
	struct lb_arp *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		snprintf(err, errlen, "arp: out of memory");
		return NULL;
	}
	a->dp = dp;
	a->ms = dp->tsc_hz / 1000;
	a->icmp_tokens = ICMP_BURST;
	a->icmp_tsc = rte_rdtsc();
	a->probe_tsc = a->icmp_tsc;
	a->probe_tokens = dp->conf.neigh.probe_rate / 10.0 + 1;
	lb_exc_tb_init(&a->neigh_copy_tb, dp->conf.exc_prio_rate_pps, dp->conf.exc_prio_burst,
		   dp->tsc_hz, a->icmp_tsc);
	lb_exc_tb_init(&a->defend_tb, DEFEND_RATE, DEFEND_BURST, dp->tsc_hz, a->icmp_tsc);
	/* Tell the segments who we are: own and source addresses, then VIPs. */
	for (uint16_t p = 0; p < dp->n_ports; p++)
		for (unsigned i = 0; i < dp->conf.ports[p].n_addrs; i++)
			lb_arp_announce(a, &dp->conf.ports[p].addrs[i].addr);
	for (unsigned l = 0; l < dp->n_local; l++)
		lb_arp_announce(a, &dp->local[l].addr);
	/* Each VIP once, however many services share it. */
	uint32_t it = 0;
	const struct lb_svc *svc;
	while ((svc = lb_svcs_next(dp->svcs, &it)) != NULL) {
		uint32_t first = 0;
		const struct lb_svc *o;
		while ((o = lb_svcs_next(dp->svcs, &first)) != svc)
			if (lb_addr_eq(&o->spec.vip, &svc->spec.vip))
				break;
		if (o == svc)
			lb_arp_announce(a, &svc->spec.vip);
	}
	return a;
}

void
lb_arp_destroy(struct lb_arp *a)
{
	if (a == NULL)
		return;
	for (unsigned i = 0; i < a->n_hold; i++)
		rte_pktmbuf_free(a->hold[i].m);
	free(a);
}
