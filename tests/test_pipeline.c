/*
 * test_pipeline.c - the worker pipeline in process: one table row per behaviour.
 *
 * Builds a whole dp with lb_dp_build(&dp, false, ...) from the configuration
 * below, on two net_ring ports made with rte_eth_from_rings() whose rings this
 * file owns, under EAL --no-huge --no-shconf: no root, no hugepages, no NIC.
 * The main thread plays worker 0 (worker lcores are named in the config, never
 * launched): each row's frame goes through lb_worker_process() and
 * lb_worker_flush(), then the test reads back everything the worker produced:
 *   - frames transmitted: dequeued from the ports' TX rings;
 *   - frames punted to the control thread: lb_worker_ctrl_ring(), with their
 *     struct lb_mbuf_meta (kind, port, info);
 *   - frames handed to worker 1: its hand-off ring, found by its DPDK name
 *     ("lb_handoff_1", dp/fastpath/worker.c) with rte_ring_lookup();
 *   - counters: every drop counter, and the events that say where a packet went.
 * Each row states the one outcome it expects: a frame on a port (exact bytes),
 * a punt, a hand-off, or one drop counter (+1, every other drop counter unchanged).
 * Expected frames are built here from their description, with checksums from the
 * byte-at-a-time reference (tests/csum_ref.h); every frame the dp sends is also
 * checked by summing its checksums from scratch (IPv4 header, TCP/UDP/ICMP over
 * the pseudo header, and the datagram an ICMP error quotes).
 *
 * Rows run in order and share the dp's state, as Katran's fixtures do: a reply
 * row needs the connection its forward row created. The model is Katran's
 * KatranBaseTestFixtures.h + BpfTester. Topology (config_text below):
 *
 *   clients 198.18.200.0/24, 2001:db8:100::/48 -- gateway 198.18.0.1 / 2001:db8:1::1
 *     port 0 "ext" 198.18.0.2/24 2001:db8:1::2/64, VIPs 198.18.0.100-105, 2001:db8:1::100-103
 *     port 1 "int" 198.19.0.1/24 2001:db8:2::1/64, mtu 1400, fnat sources 198.19.0.2, 2001:db8:2::2
 *   backends 198.19.0.10-13, .20 (unresolved), 2001:db8:2::10-11, 2001:db8:99::1 (no route)
 *
 * Two workers, so ownership and hand-offs are real: fnat source ports come from
 * [40000, 40001], of which worker 0 owns only 40000 (p % 2 == 0), so the port of
 * every fnat flow is known; dnat flows are owned by hash(client, port) % 2, and the
 * client ports below were chosen owned by worker 0 (checked by the first test).
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
#include "csum_ref.h"
#include "pipeline_eal.h"
#include "dp.h"
#include "hash.h"
#include "lb_addr.h"
#include "lb_counters.h"
#include "neigh.h"
#include "service.h"
#include "service_fastpath.h"
#include "worker.h"

#define FRAME_MAX 1600
#define TX_RING 256             /* per port and queue; what the worker sends lands here */
#define N_WORKERS 2
#define HASH_SEED 0x5eed5eed5eed5eedULL

enum { P_EXT = 0, P_INT = 1, N_PORTS = 2 };

/* ---- topology -------------------------------------------------------------- */

#define EXT_MAC "02:00:00:00:00:02"
#define INT_MAC "02:00:00:00:01:01"
#define GW_MAC "02:00:00:00:00:01"
#define B10_MAC "02:00:00:00:01:10"
#define B11_MAC "02:00:00:00:01:11"
#define B12_MAC "02:00:00:00:01:12"
#define B13_MAC "02:00:00:00:01:13"
#define B6_10_MAC "02:00:00:00:02:10"
#define B6_11_MAC "02:00:00:00:02:11"
#define ZERO_MAC "00:00:00:00:00:00"

#define LOCAL4 "198.19.0.2"
#define LOCAL6 "2001:db8:2::2"
#define VIP_FNAT4 "198.18.0.100"   /* tcp 80 -> .10:8080, udp 53 -> .10:5353 */
#define VIP_DNAT4 "198.18.0.101"   /* tcp 80 -> .11:8080, udp 53 -> .11:5353 */
#define VIP_RANGE4 "198.18.0.102"  /* tcp 80 fnat -> .12:8080, source_ranges 198.18.201.0/24 */
#define VIP_EMPTY4 "198.18.0.103"  /* tcp 80 fnat, no backend */
#define VIP_UNRES4 "198.18.0.104"  /* tcp 80 dnat -> .20:8080, no neighbour entry */
#define VIP_GONE4 "198.18.0.105"   /* tcp 80 fnat -> .13:8080, deleted by a row */
#define VIP_FNAT6 "2001:db8:1::100" /* tcp 80 / udp 53 -> [::10]:8080 / 5353 */
#define VIP_DNAT6 "2001:db8:1::101" /* tcp 80 / udp 53 -> [::11]:8080 / 5353 */
#define VIP_NOROUTE6 "2001:db8:1::103" /* tcp 80 fnat, 81 dnat -> [2001:db8:99::1]:8080, no route */
#define VIP_DSR4 "198.18.0.106"    /* tcp 80 ipip -> .12:80, udp 53 gue -> .12:53 */
#define VIP_DSR6 "2001:db8:1::104" /* tcp 80 ipip -> [::10]:80, udp 53 gue -> [::10]:53 */
#define INT4 "198.19.0.1"          /* the int port's own addresses: outer sources of ipip/gue */
#define INT6 "2001:db8:2::1"
#define GUE_PORT 6080              /* dp.gue_port's default */
#define B10 "198.19.0.10"
#define B11 "198.19.0.11"
#define B12 "198.19.0.12"
#define B13 "198.19.0.13"
#define B20 "198.19.0.20"
#define B6_10 "2001:db8:2::10"
#define B6_11 "2001:db8:2::11"
#define ROUTER_INT4 "198.19.0.254"
#define ROUTER_EXT4 "198.18.200.254"
#define ROUTER_INT6 "2001:db8:2::fe"
#define ROUTER_EXT6 "2001:db8:100::fe"
/* Clients; dnat ones with a port owned by worker 0 (see test_fixture_dnat_owners). */
#define C1 "198.18.200.1"    /* fnat4 tcp :33000 */
#define C2 "198.18.200.2"    /* fnat4 udp :33001 */
#define C3 "198.18.200.3"    /* dnat4 tcp :34000; :34002 is owned by worker 1 */
#define C4 "198.18.200.4"    /* dnat4 udp :34001 */
#define C5 "198.18.200.5"    /* dnat4 to the unresolved backend :34000 */
#define C6 "198.18.200.6"    /* dnat4 reply without connection :34001 */
#define C7 "198.18.201.7"    /* inside the source range :33000 */
#define C8 "198.18.200.8"    /* outside the source range; the gone service :33000 */
#define C9 "198.18.200.9"    /* second fnat4 tcp flow to .10: no SNAT port left */
#define C10 "198.18.200.10"  /* dnat4 tcp :34003 to a full table */
#define C6_1 "2001:db8:100::1" /* fnat6 tcp :33000, udp :33001 */
#define C6_3 "2001:db8:100::3" /* dnat6 tcp :34002 */
#define C6_4 "2001:db8:100::4" /* dnat6 udp :34000 */
#define C6_NR "2001:db8:999::1" /* dnat6 tcp :34001, no route back to it */
#define C11 "198.18.200.11"  /* ipip4 tcp :35000, gue4 udp :35001 */
#define C6_11 "2001:db8:100::11" /* ipip6 tcp :35000, gue6 udp :35001 */
#define C13 "198.18.200.12"  /* dnat4 tcp :34000, its SYN twice in the mixed burst */
#define C12 "198.18.0.50"    /* on ext's subnet (no gateway): dnat4 tcp :34001 */
#define C12_MAC "02:00:00:00:00:50"
#define C12_MAC2 "02:00:00:00:00:51" /* the same address's next MAC */
#define SNAT_PORT 40000        /* the one fnat source port worker 0 owns */
#define SNAT_PORT_W1 40001     /* owned by worker 1 */

static const char config_text[] =
	"dp: {\n"
	"  workers = [1, 2];\n"
	"  mbufs = 2048;\n"
	"  hash_seed = \"0x5eed5eed5eed5eed\";\n"
	"  max_services = 32;\n"
	"  max_backends = 64;\n"
	"  steering = \"ring\";\n"
	"  snat_ports = [40000, 40001];\n"
	"  snat_reuse_delay_s = 0;\n"   /* rows reuse the one port at once */
	"  control_socket = \"\";\n"
	/* the exception path: 1 token per worker, refilled once a second (the exc rows) */
	"  exception_rate_pps = 1; exception_burst = 2;\n"
	"  exception_priority_rate_pps = 1; exception_priority_burst = 2;\n"
	"};\n"
	"conntrack: { capacity = 64; };\n"  /* small, so a row can fill it */
	"affinity: { capacity = 64; };\n"
	"ports = (\n"
	"  { name = \"ext\"; device = \"net_ring_ext\"; role = \"external\";\n"
	"    addresses = [\"198.18.0.2/24\", \"2001:db8:1::2/64\"]; mac = \"" EXT_MAC "\";\n"
	"    rx_desc = 64; tx_desc = 64; },\n"
	"  { name = \"int\"; device = \"net_ring_int\"; role = \"internal\";\n"
	"    addresses = [\"198.19.0.1/24\", \"2001:db8:2::1/64\"];\n"
	"    local_addresses = [\"" LOCAL4 "\", \"" LOCAL6 "\"]; mac = \"" INT_MAC "\";\n"
	"    mtu = 1400; rx_desc = 64; tx_desc = 64; }\n"
	");\n"
	"routes = (\n"
	"  { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; },\n"
	"  { prefix = \"2001:db8:100::/48\"; via = \"2001:db8:1::1\"; port = \"ext\"; }\n"
	");\n"
	"neighbours = (\n"
	"  { address = \"198.18.0.1\"; mac = \"" GW_MAC "\"; },\n"
	"  { address = \"2001:db8:1::1\"; mac = \"" GW_MAC "\"; port = \"ext\"; },\n"
	"  { address = \"" B10 "\"; mac = \"" B10_MAC "\"; },\n"
	"  { address = \"" B11 "\"; mac = \"" B11_MAC "\"; },\n"
	"  { address = \"" B12 "\"; mac = \"" B12_MAC "\"; },\n"
	"  { address = \"" B13 "\"; mac = \"" B13_MAC "\"; },\n"
	"  { address = \"" B6_10 "\"; mac = \"" B6_10_MAC "\"; },\n"
	"  { address = \"" B6_11 "\"; mac = \"" B6_11_MAC "\"; }\n"
	");\n"
	"services = (\n"
	"  { name = \"t/fnat4-tcp\"; vip = \"" VIP_FNAT4 "\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"" B10 "\"; port = 8080; } ); },\n"
	"  { name = \"t/fnat4-udp\"; vip = \"" VIP_FNAT4 "\"; port = 53; protocol = \"udp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"" B10 "\"; port = 5353; } ); },\n"
	"  { name = \"t/dnat4-tcp\"; vip = \"" VIP_DNAT4 "\"; port = 80; protocol = \"tcp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"" B11 "\"; port = 8080; } ); },\n"
	"  { name = \"t/dnat4-udp\"; vip = \"" VIP_DNAT4 "\"; port = 53; protocol = \"udp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"" B11 "\"; port = 5353; } ); },\n"
	"  { name = \"t/range\"; vip = \"" VIP_RANGE4 "\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    source_ranges = [\"198.18.201.0/24\"];\n"
	"    backends = ( { address = \"" B12 "\"; port = 8080; } ); },\n"
	"  { name = \"t/empty\"; vip = \"" VIP_EMPTY4 "\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( ); },\n"
	"  { name = \"t/unresolved\"; vip = \"" VIP_UNRES4 "\"; port = 80; protocol = \"tcp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"" B20 "\"; port = 8080; } ); },\n"
	"  { name = \"t/gone\"; vip = \"" VIP_GONE4 "\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"" B13 "\"; port = 8080; } ); },\n"
	"  { name = \"t/fnat6-tcp\"; vip = \"" VIP_FNAT6 "\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"" B6_10 "\"; port = 8080; } ); },\n"
	"  { name = \"t/fnat6-udp\"; vip = \"" VIP_FNAT6 "\"; port = 53; protocol = \"udp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"" B6_10 "\"; port = 5353; } ); },\n"
	"  { name = \"t/dnat6-tcp\"; vip = \"" VIP_DNAT6 "\"; port = 80; protocol = \"tcp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"" B6_11 "\"; port = 8080; } ); },\n"
	"  { name = \"t/dnat6-udp\"; vip = \"" VIP_DNAT6 "\"; port = 53; protocol = \"udp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"" B6_11 "\"; port = 5353; } ); },\n"
	"  { name = \"t/noroute6\"; vip = \"" VIP_NOROUTE6 "\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"2001:db8:99::1\"; port = 8080; } ); },\n"
	"  { name = \"t/noroute6-dnat\"; vip = \"" VIP_NOROUTE6 "\"; port = 81; protocol = \"tcp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"2001:db8:99::1\"; port = 8080; } ); },\n"
	"  { name = \"t/ipip4\"; vip = \"" VIP_DSR4 "\"; port = 80; protocol = \"tcp\"; mode = \"ipip\";\n"
	"    backends = ( { address = \"" B12 "\"; port = 80; } ); },\n"
	"  { name = \"t/gue4\"; vip = \"" VIP_DSR4 "\"; port = 53; protocol = \"udp\"; mode = \"gue\";\n"
	"    backends = ( { address = \"" B12 "\"; port = 53; } ); },\n"
	"  { name = \"t/ipip6\"; vip = \"" VIP_DSR6 "\"; port = 80; protocol = \"tcp\"; mode = \"ipip\";\n"
	"    backends = ( { address = \"" B6_10 "\"; port = 80; } ); },\n"
	"  { name = \"t/gue6\"; vip = \"" VIP_DSR6 "\"; port = 53; protocol = \"udp\"; mode = \"gue\";\n"
	"    backends = ( { address = \"" B6_10 "\"; port = 53; } ); }\n"
	");\n";

/* ---- frames, described ------------------------------------------------------ */

#define TCP 6
#define UDP 17
#define ICMP4 1
#define ICMP6 58
#define GRE 47
#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define URG 0x20
#define ACK 0x10
#define SYNACK (SYN | ACK)
#define PSHACK (0x08 | ACK)
#define FINACK (0x01 | ACK)
#define RSTACK (0x04 | ACK)
#define FAM_ARP 1 /* struct dgram.fam: an ARP request body instead of an IP datagram */

/* An IP datagram (or ARP body): what the frames of a row carry. */
struct dgram {
	uint8_t fam;            /* 4, 6 or FAM_ARP */
	uint8_t proto;          /* TCP, UDP, ICMP4, ICMP6 or anything (payload only) */
	const char *src, *dst;  /* ARP: sender and target protocol address */
	uint16_t sport, dport;  /* host order */
	uint8_t ttl;            /* 0: 64 */
	uint8_t flags;          /* TCP flags */
	uint32_t seq;           /* TCP sequence number; 0: 0x01020304 */
	uint16_t len;           /* payload bytes (ICMP: body bytes when nothing is quoted) */
	bool no_df;             /* IPv4: DF clear (set otherwise) */
	bool no_csum;           /* IPv4 UDP: checksum 0 (none) */
	uint8_t type, code;     /* ICMP */
	uint32_t info;          /* ICMP bytes 4..7: MTU, unused, ... */
	const struct dgram *quote; /* ICMP error: the datagram it quotes */
	uint16_t quote_len;     /* bytes of it quoted; 0: all */
	const struct dgram *inner; /* proto 4/41, or UDP: this datagram is the payload */
	bool id0;               /* IPv4: identification 0 (0x1234 otherwise) */
	uint32_t flow;          /* IPv6: flow label */
};

/* A frame: Ethernet [802.1Q...] + datagram [+ padding], then an optional mangle. */
struct eth {
	const char *dmac, *smac;
	uint8_t n_vlan;
	uint16_t vlan[3];
	uint16_t pad;           /* pad the frame to this length */
	const struct dgram *ip;
	uint32_t (*mangle)(uint8_t *f, uint32_t len); /* returns the new length */
};

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
addr_put(uint8_t *b, const char *s, unsigned alen)
{
	struct lb_addr a;

	if (lb_addr_parse(s, &a) < 0 || lb_addr_len(a.family) != (int)alen) {
		fprintf(stderr, "test_pipeline: bad address %s\n", s);
		abort();
	}
	memcpy(b, a.bytes, alen);
}

static void
pattern(uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + 1);
}

/* Ones' complement sum of the pseudo header (not folded, not complemented). */
static uint32_t
ref_pseudo(const uint8_t *src, const uint8_t *dst, unsigned alen, uint8_t proto, uint32_t n)
{
	return ref_add(ref_add(0, src, alen), dst, alen) + proto + (n >> 16) + (n & 0xffff);
}

/* The datagram p at b; returns its length. Checksums from scratch (csum_ref.h). */
static uint32_t
build_ip(uint8_t *b, const struct dgram *p)
{
	bool v4 = p->fam == 4;
	unsigned alen = v4 ? 4 : 16, hl = v4 ? 20 : 40;
	uint8_t src[16], dst[16];
	uint8_t *l4 = b + hl;
	uint32_t n;

	if (p->fam == FAM_ARP) {
		memset(b, 0, 28);
		put16(b, 1);
		put16(b + 2, 0x0800);
		b[4] = 6;
		b[5] = 4;
		put16(b + 6, 1); /* request */
		mac_put(b + 8, GW_MAC);
		addr_put(b + 14, p->src, 4);
		addr_put(b + 24, p->dst, 4);
		return 28;
	}
	addr_put(src, p->src, alen);
	addr_put(dst, p->dst, alen);
	switch (p->proto) {
	case TCP:
		n = 20u + p->len;
		memset(l4, 0, 20);
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, (uint16_t)((p->seq ? p->seq : 0x01020304) >> 16)); /* seq */
		put16(l4 + 6, (uint16_t)(p->seq ? p->seq : 0x01020304));
		if (p->flags & ACK) {
			put16(l4 + 8, 0x0a0b);
			put16(l4 + 10, 0x0c0d);
		}
		l4[12] = 5 << 4;
		l4[13] = p->flags;
		put16(l4 + 14, 65535);
		pattern(l4 + 20, p->len);
		put16(l4 + 16, (uint16_t)~ref_fold(ref_add(ref_pseudo(src, dst, alen, TCP, n), l4, n)));
		break;
	case UDP: {
		n = 8u + (p->inner ? build_ip(l4 + 8, p->inner) : p->len);
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		put16(l4 + 4, (uint16_t)n);
		put16(l4 + 6, 0);
		if (!p->inner)
			pattern(l4 + 8, p->len);
		uint16_t c = (uint16_t)~ref_fold(ref_add(ref_pseudo(src, dst, alen, UDP, n), l4, n));
		put16(l4 + 6, p->no_csum ? 0 : c ? c : 0xffff);
		break;
	}
	case ICMP4:
	case ICMP6: {
		uint8_t q[FRAME_MAX];
		uint32_t qn = p->len;
		if (p->quote) {
			qn = build_ip(q, p->quote);
			if (p->quote_len && p->quote_len < qn)
				qn = p->quote_len;
		} else {
			pattern(q, qn);
		}
		n = 8 + qn;
		l4[0] = p->type;
		l4[1] = p->code;
		put16(l4 + 2, 0);
		put16(l4 + 4, (uint16_t)(p->info >> 16));
		put16(l4 + 6, (uint16_t)p->info);
		memcpy(l4 + 8, q, qn);
		uint32_t acc = p->proto == ICMP6 ? ref_pseudo(src, dst, alen, ICMP6, n) : 0;
		put16(l4 + 2, (uint16_t)~ref_fold(ref_add(acc, l4, n)));
		break;
	}
	case 4:
	case 41:
		n = build_ip(l4, p->inner);
		break;
	default:
		n = p->len;
		pattern(l4, n);
		break;
	}
	uint8_t ttl = p->ttl ? p->ttl : 64;
	if (v4) {
		memset(b, 0, 20);
		b[0] = 0x45;
		put16(b + 2, (uint16_t)(20 + n));
		put16(b + 4, p->id0 ? 0 : 0x1234);
		put16(b + 6, p->no_df ? 0 : 0x4000);
		b[8] = ttl;
		b[9] = p->proto;
		memcpy(b + 12, src, 4);
		memcpy(b + 16, dst, 4);
		put16(b + 10, (uint16_t)~ref_fold(ref_add(0, b, 20)));
	} else {
		memset(b, 0, 40);
		b[0] = 0x60;
		b[1] = (uint8_t)(p->flow >> 16 & 0x0f);
		put16(b + 2, (uint16_t)p->flow);
		put16(b + 4, (uint16_t)n);
		b[6] = p->proto;
		b[7] = ttl;
		memcpy(b + 8, src, 16);
		memcpy(b + 24, dst, 16);
	}
	return hl + n;
}

static uint32_t
build(uint8_t *f, const struct eth *e)
{
	uint32_t off = 12, len;

	mac_put(f, e->dmac);
	mac_put(f + 6, e->smac);
	for (unsigned i = 0; i < e->n_vlan; i++, off += 4) {
		put16(f + off, 0x8100);
		put16(f + off + 2, e->vlan[i]);
	}
	if (e->ip == NULL) {
		len = off;
	} else {
		put16(f + off, e->ip->fam == 4 ? 0x0800 : e->ip->fam == 6 ? 0x86dd : 0x0806);
		len = off + 2 + build_ip(f + off + 2, e->ip);
	}
	if (len < e->pad) {
		memset(f + len, 0, e->pad - len);
		len = e->pad;
	}
	return e->mangle ? e->mangle(f, len) : len;
}

/* ---- checksums of what the dp sent, summed from scratch ------------------- */

/* NULL when every checksum in the datagram at ip (avail bytes) is right. */
static const char *
verify_ip(const uint8_t *ip, uint32_t avail, bool quoted)
{
	bool v4 = ip[0] >> 4 == 4;
	unsigned alen = v4 ? 4 : 16, hl = v4 ? 20 : 40;
	uint32_t tot = v4 ? rd16(ip + 2) : 40u + rd16(ip + 4);
	uint8_t proto = v4 ? ip[9] : ip[6];
	const uint8_t *src = ip + (v4 ? 12 : 8), *dst = ip + (v4 ? 16 : 24);

	if (avail < hl)
		return quoted ? NULL : "IP header beyond the frame";
	if (v4 && ref_fold(ref_add(0, ip, 20)) != 0xffff)
		return quoted ? "quoted IPv4 header checksum" : "IPv4 header checksum";
	if (tot > avail)
		return quoted ? NULL : "IP length beyond the frame"; /* a partial quote */
	const uint8_t *l4 = ip + hl;
	uint32_t n = tot - hl;
	switch (proto) {
	case TCP:
	case UDP: {
		bool gue = proto == UDP && !quoted && n > 8 && rd16(l4 + 2) == GUE_PORT;
		if (!(proto == UDP && v4 && n >= 8 && rd16(l4 + 6) == 0) &&
		    ref_fold(ref_add(ref_pseudo(src, dst, alen, proto, n), l4, n)) != 0xffff)
			return quoted ? "quoted TCP/UDP checksum" : "TCP/UDP checksum";
		return gue ? verify_ip(l4 + 8, n - 8, false) : NULL; /* GUE: the inner datagram */
	}
	case 4:
	case 41:
		return quoted ? NULL : verify_ip(l4, n, false); /* ipip: the inner datagram */
	case ICMP4:
	case ICMP6: {
		uint32_t acc = proto == ICMP6 ? ref_pseudo(src, dst, alen, ICMP6, n) : 0;
		if (ref_fold(ref_add(acc, l4, n)) != 0xffff)
			return "ICMP checksum";
		bool err = proto == ICMP4 ? (l4[0] == 3 || l4[0] == 11 || l4[0] == 12) : l4[0] < 128;
		return err && !quoted && n > 8 ? verify_ip(l4 + 8, n - 8, true) : NULL;
	}
	default:
		return NULL;
	}
}

static const char *
verify_frame(const uint8_t *f, uint32_t len)
{
	uint32_t off = 12;

	while (rd16(f + off) == 0x8100)
		off += 4;
	uint16_t et = rd16(f + off);
	if (et != 0x0800 && et != 0x86dd)
		return NULL;
	return verify_ip(f + off + 2, len - off - 2, false);
}

/* ---- malformed frames: mangles after the build ----------------------------- */

static void
fix_ip4_csum(uint8_t *ip)
{
	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, 20)));
}

static uint32_t m_zero(uint8_t *f, uint32_t len) { (void)f; (void)len; return 0; }
static uint32_t m_cut10(uint8_t *f, uint32_t len) { (void)f; (void)len; return 10; }
static uint32_t m_cut24(uint8_t *f, uint32_t len) { (void)f; (void)len; return 24; }
static uint32_t m_ethertype_lldp(uint8_t *f, uint32_t len) { put16(f + 12, 0x88cc); return len; }
static uint32_t m_version6(uint8_t *f, uint32_t len) { f[14] = 0x65; fix_ip4_csum(f + 14); return len; }
static uint32_t m_ihl4(uint8_t *f, uint32_t len) { f[14] = 0x44; return len; }
static uint32_t m_ihl6(uint8_t *f, uint32_t len) { f[14] = 0x46; fix_ip4_csum(f + 14); return len; }
static uint32_t m_ip_csum(uint8_t *f, uint32_t len) { f[14 + 11] ^= 0x5a; return len; }

static uint32_t
m_total_len(uint8_t *f, uint32_t len)
{
	put16(f + 16, (uint16_t)(len - 14 + 4)); /* 4 bytes past the frame */
	fix_ip4_csum(f + 14);
	return len;
}

static uint32_t
m_more_frags(uint8_t *f, uint32_t len)
{
	put16(f + 20, 0x2000);
	fix_ip4_csum(f + 14);
	return len;
}

static uint32_t
m_udp_cut(uint8_t *f, uint32_t len)
{
	put16(f + 16, 20 + 4); /* the datagram ends 4 bytes into the UDP header */
	fix_ip4_csum(f + 14);
	return len;
}

static uint32_t m_tcp_doff4(uint8_t *f, uint32_t len) { f[14 + 20 + 12] = 4 << 4; return len; }
static uint32_t m_v6_hop_by_hop(uint8_t *f, uint32_t len) { f[14 + 6] = 0; return len; }

/* ---- the rows ------------------------------------------------------------- */

enum verdict { V_TX = 1, V_DROP, V_PUNT, V_HANDOFF };

struct row {
	const char *name;
	void (*before)(void);     /* state the row needs (fill a ring, delete a service) */
	void (*after)(void);      /* undo it, before the outputs are collected */
	uint16_t in_port;
	struct eth in;
	uint64_t in_ol_flags;     /* the input mbuf's ol_flags (RX checksum status) */
	enum verdict v;
	enum lb_drop drop;        /* V_DROP */
	uint16_t out_port;        /* V_TX: egress; V_PUNT: the meta's port */
	struct eth out;           /* V_TX, V_PUNT: the frame expected; none: the input as is */
	uint8_t punt;             /* V_PUNT: enum lb_punt */
	uint32_t info;            /* V_PUNT: the meta's info */
	bool any_info;            /* V_PUNT: info not checked (a neighbour index) */
	bool check_ev;            /* also expect event ev to count +1 */
	enum lb_event ev;
	bool check_ev2;           /* and event ev2 */
	enum lb_event ev2;
};

/*
 * Rows give a datagram's first fields by position (family, protocol, source,
 * destination, ports) and the rest by name: positional fields left out are zero.
 */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define IP(...) (&(const struct dgram){__VA_ARGS__})
/* client side: gateway -> box on ext; box -> gateway on ext */
#define FROM_CLIENT(...) {.dmac = EXT_MAC, .smac = GW_MAC, .ip = IP(__VA_ARGS__)}
#define TO_CLIENT(...) {.dmac = GW_MAC, .smac = EXT_MAC, .ip = IP(__VA_ARGS__)}
/* from the client side, then broken by fn */
#define MANGLED(fn, ...) {.dmac = EXT_MAC, .smac = GW_MAC, .ip = IP(__VA_ARGS__), .mangle = fn}
/* backend side on int */
#define FROM_BACKEND(mac, ...) {.dmac = INT_MAC, .smac = mac, .ip = IP(__VA_ARGS__)}
#define TO_BACKEND(mac, ...) {.dmac = mac, .smac = INT_MAC, .ip = IP(__VA_ARGS__)}

/* Datagrams the ICMP rows quote: what the box sent on an earlier row. */
static const struct dgram fnat4_syn_sent = {4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = SYN};
static const struct dgram fnat4_synack_sent = {4, TCP, VIP_FNAT4, C1, 80, 33000, .ttl = 63, .flags = SYNACK};
static const struct dgram fnat4_udp_sent = {4, UDP, LOCAL4, B10, SNAT_PORT, 5353, .ttl = 63, .len = 32};
static const struct dgram dnat4_udp_sent = {4, UDP, C4, B11, 34001, 5353, .ttl = 63, .len = 20, .no_csum = true};
static const struct dgram fnat6_udp_sent = {6, UDP, LOCAL6, B6_10, SNAT_PORT, 5353, .ttl = 63, .len = 40};
static const struct dgram dnat6_udp_reply_sent = {6, UDP, VIP_DNAT6, C6_4, 53, 34000, .ttl = 63, .len = 24};

/*
 * ipip/gue: what the client sends, and the outer datagrams around it. The fields
 * that come from the flow hash (GUE source port, IPv6 flow label) are filled in by
 * dsr_hashes(), the row's before hook, from lb_flow_hash() and the dp's seed.
 */
static const struct dgram dsr4_syn = {4, TCP, C11, VIP_DSR4, 35000, 80, .flags = SYN};
static const struct dgram dsr4_data = {4, TCP, C11, VIP_DSR4, 35000, 80, .flags = PSHACK, .len = 100};
static const struct dgram dsr4_big = {4, TCP, C11, VIP_DSR4, 35000, 80, .flags = ACK, .len = 1360};
static const struct dgram dsr4_udp = {4, UDP, C11, VIP_DSR4, 35001, 53, .len = 32};
static const struct dgram dsr6_syn = {6, TCP, C6_11, VIP_DSR6, 35000, 80, .flags = SYN};
static const struct dgram dsr6_udp = {6, UDP, C6_11, VIP_DSR6, 35001, 53, .len = 40};
static struct dgram gue4_out = {4, UDP, INT4, B12, 0, GUE_PORT, .id0 = true, .no_csum = true,
				.inner = &dsr4_udp};
static struct dgram ipip6_out = {6, 41, INT6, B6_10, .inner = &dsr6_syn};
static struct dgram gue6_out = {6, UDP, INT6, B6_10, 0, GUE_PORT, .inner = &dsr6_udp};
static void dsr_hashes(void);

static const struct lb_dp_conf *conf_of(void);
static void fill_ctrl(void);
static void exc_on(void);
static void exc_off(void);
static void drain_ctrl(void);
static void fill_handoff1(void);
static void drain_handoff1(void);
static void fill_tx_int(void);
static void drain_tx_int(void);
static void delete_gone_service(void);
static void fnat4_backends_10_11(void);
static void fnat4_backends_11(void);
static void fill_conntrack(void);
static void establish_conntrack(void);
static void adopt_svc_missing(void);
static void adopt_svc_back(void);
static void adopt_real_missing(void);
static void adopt_real_back(void);
static void c12_learn(void);
static void c12_learn2(void);
static void c12_forget(void);

static const struct row rows[] = {
	/* ---- forward and reply: fnat, dnat; IPv4, IPv6; TCP, UDP ---- */
	{"fnat4 TCP SYN: client->VIP:80 leaves int as local:40000->backend:8080, TTL-1",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = SYN)},
	{"fnat4 TCP reply: backend->local:40000 leaves ext as VIP:80->client",
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 8080, SNAT_PORT, .flags = SYNACK),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(4, TCP, VIP_FNAT4, C1, 80, 33000, .ttl = 63, .flags = SYNACK)},
	{"fnat4 TCP data: 100-byte payload, checksum over the payload stays right",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = PSHACK, .len = 100),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = PSHACK, .len = 100)},
	/* ---- after a restart that kept the tables (dp/control/state.c), within the
	 * adoption period: nothing is removed or misrouted before the ids are back ---- */
	{"restart: a reply of a kept flow whose service is not sent again yet is dropped, entry kept",
	 .before = adopt_svc_missing, .after = adopt_svc_back,
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 8080, SNAT_PORT, .flags = ACK),
	 .v = V_DROP, .drop = LB_DROP_SVC_GONE},
	{"restart: a reply of a kept flow whose backend id names nothing yet is dropped, not misrouted",
	 .before = adopt_real_missing, .after = adopt_real_back,
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 8080, SNAT_PORT, .flags = ACK),
	 .v = V_DROP, .drop = LB_DROP_SVC_GONE},
	{"restart: with service and backend back, the kept flow's reply is forwarded again",
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 8080, SNAT_PORT, .flags = ACK),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(4, TCP, VIP_FNAT4, C1, 80, 33000, .ttl = 63, .flags = ACK)},
	{"fnat4 TCP in an 802.1Q tag: forwarded, sent untagged",
	 .in_port = P_EXT,
	 .in = {.dmac = EXT_MAC, .smac = GW_MAC, .n_vlan = 1, .vlan = {100},
		.ip = IP(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK)},
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = ACK)},
	{"fnat4 TCP ACK in a frame padded to 60 bytes: the padding is not sent",
	 .in_port = P_EXT,
	 .in = {.dmac = EXT_MAC, .smac = GW_MAC, .pad = 60,
		.ip = IP(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK)},
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = ACK)},
	{"fnat4 UDP: client->VIP:53 leaves int as local:40000->backend:5353",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, C2, VIP_FNAT4, 33001, 53, .len = 32),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, UDP, LOCAL4, B10, SNAT_PORT, 5353, .ttl = 63, .len = 32)},
	{"fnat4 UDP reply: backend:5353->local:40000 leaves ext as VIP:53->client",
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, UDP, B10, LOCAL4, 5353, SNAT_PORT, .len = 48),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(4, UDP, VIP_FNAT4, C2, 53, 33001, .ttl = 63, .len = 48)},
	{"dnat4 TCP SYN: only the destination becomes the backend",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C3, VIP_DNAT4, 34000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B11_MAC, 4, TCP, C3, B11, 34000, 8080, .ttl = 63, .flags = SYN)},
	{"dnat4 TCP reply: backend->client leaves ext from VIP:80",
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C3, 8080, 34000, .flags = SYNACK),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(4, TCP, VIP_DNAT4, C3, 80, 34000, .ttl = 63, .flags = SYNACK)},
	{"dnat4 UDP without checksum: the checksum stays 0",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, C4, VIP_DNAT4, 34001, 53, .len = 20, .no_csum = true),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B11_MAC, 4, UDP, C4, B11, 34001, 5353, .ttl = 63, .len = 20, .no_csum = true)},
	{"dnat4 UDP reply: backend:5353->client leaves ext from VIP:53",
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, UDP, B11, C4, 5353, 34001, .len = 20),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(4, UDP, VIP_DNAT4, C4, 53, 34001, .ttl = 63, .len = 20)},
	/* ---- replies to an on-link client: the neighbour as it is at each packet ---- */
	{"dnat4 TCP SYN from a client on ext's own subnet",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C12, VIP_DNAT4, 34001, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B11_MAC, 4, TCP, C12, B11, 34001, 8080, .ttl = 63, .flags = SYN)},
	{"dnat4 reply to the on-link client, its MAC not known yet: waits for ARP at the control thread",
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C12, 8080, 34001, .flags = SYNACK),
	 .v = V_PUNT, .punt = LB_PUNT_RESOLVE, .out_port = P_EXT, .any_info = true,
	 .out = {.dmac = ZERO_MAC, .smac = EXT_MAC,
		 .ip = IP(4, TCP, VIP_DNAT4, C12, 80, 34001, .ttl = 63, .flags = SYNACK)}},
	{"dnat4 reply to the on-link client once resolved: straight to its MAC, not the gateway",
	 .before = c12_learn,
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C12, 8080, 34001, .flags = ACK),
	 .v = V_TX, .out_port = P_EXT,
	 .out = {.dmac = C12_MAC, .smac = EXT_MAC,
		 .ip = IP(4, TCP, VIP_DNAT4, C12, 80, 34001, .ttl = 63, .flags = ACK)}},
	{"dnat4 reply after the on-link client's MAC changed: the next packet goes to the new MAC",
	 .before = c12_learn2,
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C12, 8080, 34001, .flags = ACK),
	 .v = V_TX, .out_port = P_EXT,
	 .out = {.dmac = C12_MAC2, .smac = EXT_MAC,
		 .ip = IP(4, TCP, VIP_DNAT4, C12, 80, 34001, .ttl = 63, .flags = ACK)}},
	{"dnat4 reply after the on-link client stopped answering: the next packet waits for ARP",
	 .before = c12_forget,
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C12, 8080, 34001, .flags = ACK),
	 .v = V_PUNT, .punt = LB_PUNT_RESOLVE, .out_port = P_EXT, .any_info = true,
	 .out = {.dmac = ZERO_MAC, .smac = EXT_MAC,
		 .ip = IP(4, TCP, VIP_DNAT4, C12, 80, 34001, .ttl = 63, .flags = ACK)}},
	{"dnat4 reply to a client behind the gateway still goes to the gateway (default route)",
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C3, 8080, 34000, .flags = ACK),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(4, TCP, VIP_DNAT4, C3, 80, 34000, .ttl = 63, .flags = ACK)},
	{"fnat6 TCP SYN: client->[VIP]:80 leaves int as [local]:40000->[backend]:8080, hop limit-1",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_FNAT6, 33000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_10_MAC, 6, TCP, LOCAL6, B6_10, SNAT_PORT, 8080, .ttl = 63, .flags = SYN)},
	{"fnat6 TCP reply: leaves ext as [VIP]:80->client",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_10_MAC, 6, TCP, B6_10, LOCAL6, 8080, SNAT_PORT, .flags = SYNACK),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(6, TCP, VIP_FNAT6, C6_1, 80, 33000, .ttl = 63, .flags = SYNACK)},
	{"fnat6 UDP: client->[VIP]:53 leaves int as [local]:40000->[backend]:5353",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, UDP, C6_1, VIP_FNAT6, 33001, 53, .len = 40),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_10_MAC, 6, UDP, LOCAL6, B6_10, SNAT_PORT, 5353, .ttl = 63, .len = 40)},
	{"fnat6 UDP reply: leaves ext as [VIP]:53->client",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_10_MAC, 6, UDP, B6_10, LOCAL6, 5353, SNAT_PORT, .len = 8),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(6, UDP, VIP_FNAT6, C6_1, 53, 33001, .ttl = 63, .len = 8)},
	{"dnat6 TCP SYN: only the destination becomes the backend",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_3, VIP_DNAT6, 34002, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_11_MAC, 6, TCP, C6_3, B6_11, 34002, 8080, .ttl = 63, .flags = SYN)},
	{"dnat6 TCP reply: backend->client leaves ext from [VIP]:80",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_11_MAC, 6, TCP, B6_11, C6_3, 8080, 34002, .flags = SYNACK),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(6, TCP, VIP_DNAT6, C6_3, 80, 34002, .ttl = 63, .flags = SYNACK)},
	{"dnat6 UDP: only the destination becomes the backend",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, UDP, C6_4, VIP_DNAT6, 34000, 53, .len = 24),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_11_MAC, 6, UDP, C6_4, B6_11, 34000, 5353, .ttl = 63, .len = 24)},
	{"dnat6 UDP reply: backend->client leaves ext from [VIP]:53",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_11_MAC, 6, UDP, B6_11, C6_4, 5353, 34000, .len = 24),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(6, UDP, VIP_DNAT6, C6_4, 53, 34000, .ttl = 63, .len = 24)},
	{"source ranges: a client inside the service's range is forwarded",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C7, VIP_RANGE4, 33000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B12_MAC, 4, TCP, LOCAL4, B12, SNAT_PORT, 8080, .ttl = 63, .flags = SYN)},

	/* ---- ICMP errors about tracked connections ---- */
	{"ICMP fnat4 backend side: frag-needed to local quoting the whole SYN becomes VIP->client quoting client->VIP",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B10_MAC, 4, ICMP4, ROUTER_INT4, LOCAL4, .type = 3, .code = 4, .info = 1280,
			    .quote = &fnat4_syn_sent),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(4, ICMP4, VIP_FNAT4, C1, .ttl = 63, .type = 3, .code = 4, .info = 1280,
			  .quote = IP(4, TCP, C1, VIP_FNAT4, 33000, 80, .ttl = 63, .flags = SYN))},
	{"ICMP fnat4 UDP backend side: port unreachable quoting the whole datagram, quoted UDP checksum recomputed",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B10_MAC, 4, ICMP4, B10, LOCAL4, .type = 3, .code = 3, .quote = &fnat4_udp_sent),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(4, ICMP4, VIP_FNAT4, C2, .ttl = 63, .type = 3, .code = 3,
			  .quote = IP(4, UDP, C2, VIP_FNAT4, 33001, 53, .ttl = 63, .len = 32))},
	{"ICMP fnat4 client side: host unreachable to VIP quoting 8 bytes of VIP->client goes local->backend",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(4, ICMP4, ROUTER_EXT4, VIP_FNAT4, .type = 3, .code = 1,
			   .quote = &fnat4_synack_sent, .quote_len = 28),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, ICMP4, LOCAL4, B10, .ttl = 63, .type = 3, .code = 1, .quote_len = 28,
			   .quote = IP(4, TCP, B10, LOCAL4, 8080, SNAT_PORT, .ttl = 63, .flags = SYNACK))},
	{"ICMP dnat4 backend side: error to the client quoting client->backend (no UDP checksum) quotes client->VIP",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B11_MAC, 4, ICMP4, ROUTER_INT4, C4, .type = 3, .code = 1, .quote = &dnat4_udp_sent),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(4, ICMP4, ROUTER_INT4, C4, .ttl = 63, .type = 3, .code = 1,
			  .quote = IP(4, UDP, C4, VIP_DNAT4, 34001, 53, .ttl = 63, .len = 20, .no_csum = true))},
	{"ICMPv6 fnat6 backend side: packet too big to local becomes [VIP]->client quoting client->[VIP]",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B6_10_MAC, 6, ICMP6, ROUTER_INT6, LOCAL6, .type = 2, .info = 1280,
			    .quote = &fnat6_udp_sent),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(6, ICMP6, VIP_FNAT6, C6_1, .ttl = 63, .type = 2, .info = 1280,
			  .quote = IP(6, UDP, C6_1, VIP_FNAT6, 33001, 53, .ttl = 63, .len = 40))},
	{"ICMPv6 dnat6 client side: port unreachable to [VIP] goes to the backend quoting backend->client",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(6, ICMP6, ROUTER_EXT6, VIP_DNAT6, .type = 1, .code = 4, .quote = &dnat6_udp_reply_sent),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_11_MAC, 6, ICMP6, ROUTER_EXT6, B6_11, .ttl = 63, .type = 1, .code = 4,
			   .quote = IP(6, UDP, B6_11, C6_4, 5353, 34000, .ttl = 63, .len = 24))},

	/* ---- to the control thread ---- */
	{"ARP request for a VIP goes to the control thread",
	 .in_port = P_EXT,
	 .in = {.dmac = "ff:ff:ff:ff:ff:ff", .smac = GW_MAC, .ip = IP(FAM_ARP, 0, "198.18.0.1", VIP_FNAT4)},
	 .v = V_PUNT, .punt = LB_PUNT_RX, .out_port = P_EXT},
	{"NDP neighbour solicitation (to a multicast MAC) goes to the control thread",
	 .in_port = P_EXT,
	 .in = {.dmac = "33:33:ff:00:01:00", .smac = GW_MAC,
		.ip = IP(6, ICMP6, "2001:db8:1::1", "ff02::1:ff00:100", .ttl = 255, .type = 135, .len = 16)},
	 .v = V_PUNT, .punt = LB_PUNT_RX, .out_port = P_EXT},
	{"ICMP echo request to a VIP goes to the control thread",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, ICMP4, C1, VIP_FNAT4, .type = 8, .info = 0x00010001, .len = 16),
	 .v = V_PUNT, .punt = LB_PUNT_RX, .out_port = P_EXT},
	{"ICMPv6 echo request to a VIP goes to the control thread",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, ICMP6, C6_1, VIP_FNAT6, .type = 128, .info = 0x00010001, .len = 16),
	 .v = V_PUNT, .punt = LB_PUNT_RX, .out_port = P_EXT},
	{"hop limit 1 to a VIP: the control thread answers time exceeded",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, UDP, C6_1, VIP_FNAT6, 33001, 53, .ttl = 1, .len = 4),
	 .v = V_PUNT, .punt = LB_PUNT_TTL, .out_port = P_EXT},
	{"TTL 1 to a VIP: the control thread answers time exceeded",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .ttl = 1, .flags = ACK),
	 .v = V_PUNT, .punt = LB_PUNT_TTL, .out_port = P_EXT},
	/* ---- direct server return: ipip, gue (the packet unchanged inside) ---- */
	{"ipip4 TCP SYN: client->VIP:80 leaves int unchanged (TTL too) inside IPv4 proto 4, int address->backend",
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .ip = &dsr4_syn},
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B12_MAC, 4, 4, INT4, B12, .id0 = true, .inner = &dsr4_syn)},
	{"ipip4 TCP data of that connection: same backend, 100-byte payload and inner checksums untouched",
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .ip = &dsr4_data},
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B12_MAC, 4, 4, INT4, B12, .id0 = true, .inner = &dsr4_data)},
	{"gue4 UDP: client->VIP:53 inside IPv4/UDP(flow-hash port -> 6080), no outer UDP checksum",
	 .before = dsr_hashes,
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .ip = &dsr4_udp},
	 .v = V_TX, .out_port = P_INT, .out = {.dmac = B12_MAC, .smac = INT_MAC, .ip = &gue4_out}},
	{"ipip6 TCP SYN: inside IPv6 next header 41, the flow label from the flow hash",
	 .before = dsr_hashes,
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .ip = &dsr6_syn},
	 .v = V_TX, .out_port = P_INT, .out = {.dmac = B6_10_MAC, .smac = INT_MAC, .ip = &ipip6_out}},
	{"gue6 UDP: inside IPv6/UDP with a UDP checksum (IPv6 needs one), port and flow label from the flow hash",
	 .before = dsr_hashes,
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .ip = &dsr6_udp},
	 .v = V_TX, .out_port = P_INT, .out = {.dmac = B6_10_MAC, .smac = INT_MAC, .ip = &gue6_out}},
	{"ipip4 over the egress MTU once wrapped (1400 + 20 > 1400): frag needed quoting MTU 1380",
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .ip = &dsr4_big},
	 .v = V_PUNT, .punt = LB_PUNT_TOO_BIG, .out_port = P_EXT, .info = 1380},
	{"IPv4 with DF over the egress MTU (1450 > 1400): the control thread answers frag needed",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK, .len = 1410),
	 .v = V_PUNT, .punt = LB_PUNT_TOO_BIG, .out_port = P_EXT, .info = 1400},
	{"IPv6 over the egress MTU (1460 > 1400): the control thread answers packet too big",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_FNAT6, 33000, 80, .flags = ACK, .len = 1400),
	 .v = V_PUNT, .punt = LB_PUNT_TOO_BIG, .out_port = P_EXT, .info = 1400},
	{"dnat4 to a backend whose MAC is unknown: the rewritten frame waits for ARP at the control thread",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C5, VIP_UNRES4, 34000, 80, .flags = SYN),
	 .v = V_PUNT, .punt = LB_PUNT_RESOLVE, .out_port = P_INT, .any_info = true,
	 .out = TO_BACKEND(ZERO_MAC, 4, TCP, C5, B20, 34000, 8080, .ttl = 63, .flags = SYN)},

	/* ---- hand-offs to the worker that owns the flow ---- */
	{"fnat reply to local port 40001 (owned by worker 1) is handed to worker 1",
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 8080, SNAT_PORT_W1, .flags = ACK),
	 .v = V_HANDOFF},
	{"dnat client whose flow hash belongs to worker 1 is handed to worker 1",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C3, VIP_DNAT4, 34002, 80, .flags = SYN),
	 .v = V_HANDOFF},
	{"ICMP error to a VIP about a flow worker 0 does not track visits the next worker",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(4, ICMP4, ROUTER_EXT4, VIP_FNAT4, .type = 3, .code = 1, .quote_len = 28,
			   .quote = IP(4, TCP, VIP_FNAT4, "198.18.200.77", 80, 1234, .ttl = 63, .flags = SYNACK)),
	 .v = V_HANDOFF},

	/* ---- one row per drop reason, in lb_counters.h order ---- */
	{"drop zero_len: an empty mbuf",
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .mangle = m_zero},
	 .v = V_DROP, .drop = LB_DROP_ZERO_LEN},
	{"drop l2_truncated: a 10-byte frame",
	 .in_port = P_EXT, .in = {.dmac = EXT_MAC, .smac = GW_MAC, .mangle = m_cut10},
	 .v = V_DROP, .drop = LB_DROP_L2_TRUNCATED},
	{"drop vlan_depth: three 802.1Q tags",
	 .in_port = P_EXT,
	 .in = {.dmac = EXT_MAC, .smac = GW_MAC, .n_vlan = 3, .vlan = {1, 2, 3},
		.ip = IP(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK)},
	 .v = V_DROP, .drop = LB_DROP_VLAN_DEPTH},
	{"drop non_ip: an LLDP EtherType",
	 .in_port = P_EXT, .in = MANGLED(m_ethertype_lldp, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_NON_IP},
	{"drop l3_truncated: IPv4 EtherType, 10 bytes of header",
	 .in_port = P_EXT, .in = MANGLED(m_cut24, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_L3_TRUNCATED},
	{"drop ip_version: IPv4 EtherType, version 6 in the header",
	 .in_port = P_EXT, .in = MANGLED(m_version6, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_IP_VERSION},
	{"drop bad_ihl: IHL 4",
	 .in_port = P_EXT, .in = MANGLED(m_ihl4, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_BAD_IHL},
	{"drop bad_total_len: total length 4 bytes past the frame",
	 .in_port = P_EXT, .in = MANGLED(m_total_len, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_BAD_TOTAL_LEN},
	{"drop ip_options: IHL 6",
	 .in_port = P_EXT, .in = MANGLED(m_ihl6, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_IP_OPTIONS},
	{"drop ip_cksum: IPv4 header checksum wrong",
	 .in_port = P_EXT, .in = MANGLED(m_ip_csum, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_IP_CKSUM},
	{"drop fragment: IPv4 more-fragments set",
	 .in_port = P_EXT, .in = MANGLED(m_more_frags, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_FRAGMENT},
	{"drop ipv6_ext: IPv6 hop-by-hop header",
	 .in_port = P_EXT, .in = MANGLED(m_v6_hop_by_hop, 6, UDP, C6_1, VIP_FNAT6, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_IPV6_EXT},
	{"drop l4_proto: GRE to a VIP",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, GRE, C1, VIP_FNAT4, .len = 24),
	 .v = V_DROP, .drop = LB_DROP_L4_PROTO},
	{"drop l4_truncated: the datagram ends inside the UDP header",
	 .in_port = P_EXT, .in = MANGLED(m_udp_cut, 4, UDP, C1, VIP_FNAT4, 1, 53),
	 .v = V_DROP, .drop = LB_DROP_L4_TRUNCATED},
	{"drop bad_tcp_doff: TCP data offset 4",
	 .in_port = P_EXT, .in = MANGLED(m_tcp_doff4, 4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK), .v = V_DROP, .drop = LB_DROP_BAD_TCP_DOFF},
	{"drop martian: source 127.0.0.1",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, "127.0.0.1", VIP_FNAT4, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_MARTIAN},
	{"drop tcp_null: TCP without any flag",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = 0),
	 .v = V_DROP, .drop = LB_DROP_TCP_NULL},
	{"drop tcp_xmas: TCP with FIN, PSH and URG",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = FIN | PSH | URG),
	 .v = V_DROP, .drop = LB_DROP_TCP_XMAS},
	{"drop tcp_syn_fin: TCP with SYN and FIN",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = SYN | FIN),
	 .v = V_DROP, .drop = LB_DROP_TCP_SYN_FIN},
	{"drop tcp_syn_rst: TCP with SYN and RST",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = SYN | RST),
	 .v = V_DROP, .drop = LB_DROP_TCP_SYN_RST},
	{"drop port_zero: UDP from source port 0",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, C2, VIP_FNAT4, 0, 53, .len = 8),
	 .v = V_DROP, .drop = LB_DROP_PORT_ZERO},
	{"drop port_zero: TCP to destination port 0",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 0, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_PORT_ZERO},
	{"drop land: a new flow whose source is a VIP",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, VIP_DNAT4, VIP_FNAT4, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_LAND},
	{"drop land: a new flow whose source is the box's own port address",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, "2001:db8:1::2", VIP_FNAT6, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_LAND},
	{"drop rst_no_conn: a client RST that matches no connection makes no state",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C9, VIP_FNAT4, 33005, 80, .flags = RSTACK),
	 .v = V_DROP, .drop = LB_DROP_RST_NO_CONN},
	{"drop rst_window: a client RST 1 MiB past its established fnat4 connection's stream",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = RSTACK, .seq = 0x01020304 + 0x100000),
	 .v = V_DROP, .drop = LB_DROP_RST_WINDOW},
	{"rst_window: the connection the rejected RST aimed at still forwards",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = ACK)},
	{"drop l4_cksum: the NIC reported a bad TCP checksum on a tracked flow's packet",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK),
	 .in_ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD,
	 .v = V_DROP, .drop = LB_DROP_L4_CKSUM},
	/*
	 * TTL/hop limit 1 on TCP/UDP is punted (row above) before any rewrite, so
	 * lb_nat_rewrite()'s TTL guard cannot fire; an ICMP error about a tracked
	 * fnat flow skips that check and meets the guard of the ICMP rewrite.
	 */
	{"drop ttl_expired: ICMP error with TTL 1 to local about a tracked fnat flow",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B10_MAC, 4, ICMP4, ROUTER_INT4, LOCAL4, .ttl = 1, .type = 3, .code = 4,
			    .info = 1280, .quote = &fnat4_syn_sent),
	 .v = V_DROP, .drop = LB_DROP_TTL_EXPIRED},
	{"drop ttl_expired: ICMP error with TTL 1 to a VIP about a tracked fnat flow",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(4, ICMP4, ROUTER_EXT4, VIP_FNAT4, .ttl = 1, .type = 3, .code = 1,
			   .quote = &fnat4_synack_sent, .quote_len = 28),
	 .v = V_DROP, .drop = LB_DROP_TTL_EXPIRED},
	{"drop not_ours: unicast to another host's MAC",
	 .in_port = P_EXT,
	 .in = {.dmac = "02:00:00:00:00:99", .smac = GW_MAC,
		.ip = IP(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK)},
	 .v = V_DROP, .drop = LB_DROP_NOT_OURS},
	{"drop not_ours: a dnat-looking reply that matches no connection",
	 .in_port = P_INT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C6, 8080, 34001, .flags = SYNACK),
	 .v = V_DROP, .drop = LB_DROP_NOT_OURS},
	{"drop not_ours: TCP to the box's own port address",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, "198.18.0.2", 33000, 22, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NOT_OURS},
	{"drop no_service: a VIP on a port it does not serve",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 81, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NO_SERVICE},
	{"drop no_backend: a service without backends",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_EMPTY4, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NO_BACKEND},
	{"drop no_snat: a second fnat flow to the backend whose one SNAT port is taken",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C9, VIP_FNAT4, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NO_SNAT},
	{"drop source_range: a client outside the service's ranges",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C8, VIP_RANGE4, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_SOURCE_RANGE},
	{"drop reply_no_conn: to local:40000 from a backend port no connection uses",
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 9999, SNAT_PORT, .flags = SYNACK),
	 .v = V_DROP, .drop = LB_DROP_REPLY_NO_CONN},
	{"(setup for svc_gone) fnat4 SYN to the service the next row deletes",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C8, VIP_GONE4, 33000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B13_MAC, 4, TCP, LOCAL4, B13, SNAT_PORT, 8080, .ttl = 63, .flags = SYN)},
	{"drop svc_gone: ICMP error to local about a connection whose service was deleted",
	 .before = delete_gone_service,
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B13_MAC, 4, ICMP4, ROUTER_INT4, LOCAL4, .type = 3, .code = 1, .quote_len = 28,
			    .quote = IP(4, TCP, LOCAL4, B13, SNAT_PORT, 8080, .ttl = 63, .flags = SYN)),
	 .v = V_DROP, .drop = LB_DROP_SVC_GONE},
	{"drop svc_gone: the backend's reply after its service was deleted",
	 .in_port = P_INT, .in = FROM_BACKEND(B13_MAC, 4, TCP, B13, LOCAL4, 8080, SNAT_PORT, .flags = SYNACK),
	 .v = V_DROP, .drop = LB_DROP_SVC_GONE},
	{"drop no_route: an fnat6 backend with no route to it",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_NOROUTE6, 33000, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NO_ROUTE},
	{"(setup for no_route on the reply) dnat6 SYN from a client the box has no route back to",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_NR, VIP_DNAT6, 34001, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_11_MAC, 6, TCP, C6_NR, B6_11, 34001, 8080, .ttl = 63, .flags = SYN)},
	{"drop no_route: the dnat6 reply to a client with no route",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_11_MAC, 6, TCP, B6_11, C6_NR, 8080, 34001, .flags = SYNACK),
	 .v = V_DROP, .drop = LB_DROP_NO_ROUTE},
	{"drop no_route: a dnat6 backend with no route to it",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_NOROUTE6, 34000, 81, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NO_ROUTE},
	{"drop too_big: IPv4 without DF over the egress MTU (no fragmentation)",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK, .len = 1410, .no_df = true),
	 .v = V_DROP, .drop = LB_DROP_TOO_BIG},
	{"drop icmp: echo request to an address that is not the box's",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, ICMP4, C1, "198.18.0.50", .type = 8, .len = 16),
	 .v = V_DROP, .drop = LB_DROP_ICMP},
	{"drop icmp: error to local that quotes no tracked connection",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B10_MAC, 4, ICMP4, ROUTER_INT4, LOCAL4, .type = 3, .code = 1, .quote_len = 28,
			    .quote = IP(4, TCP, LOCAL4, B10, SNAT_PORT, 9999, .ttl = 63, .flags = SYN)),
	 .v = V_DROP, .drop = LB_DROP_ICMP},
	{"drop icmp: error quoting an ICMP datagram (nothing to translate)",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B10_MAC, 4, ICMP4, ROUTER_INT4, LOCAL4, .type = 3, .code = 1,
			    .quote = IP(4, ICMP4, LOCAL4, B10, .ttl = 63, .type = 8, .len = 8)),
	 .v = V_DROP, .drop = LB_DROP_ICMP},
	{"drop icmp: error to one of the box's own port addresses",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B10_MAC, 4, ICMP4, ROUTER_INT4, "198.19.0.1", .type = 3, .code = 1, .quote_len = 28,
			    .quote = IP(4, TCP, "198.19.0.1", B10, 40000, 8080, .ttl = 63, .flags = SYN)),
	 .v = V_DROP, .drop = LB_DROP_ICMP},
	{"drop icmp: error to a VIP quoting a port no service uses",
	 .in_port = P_EXT,
	 .in = FROM_CLIENT(4, ICMP4, ROUTER_EXT4, VIP_FNAT4, .type = 3, .code = 1, .quote_len = 28,
			   .quote = IP(4, TCP, VIP_FNAT4, C1, 81, 33000, .ttl = 63, .flags = SYNACK)),
	 .v = V_DROP, .drop = LB_DROP_ICMP},
	{"drop not_ours: error toward a client quoting a dnat flow nobody tracks",
	 .in_port = P_INT,
	 .in = FROM_BACKEND(B11_MAC, 4, ICMP4, ROUTER_INT4, C6, .type = 3, .code = 1, .quote_len = 28,
			    .quote = IP(4, TCP, C6, B11, 34001, 8080, .ttl = 63, .flags = SYN)),
	 .v = V_DROP, .drop = LB_DROP_NOT_OURS},
	{"drop ctrl_full: an ARP request while the ring to the control thread is full",
	 .before = fill_ctrl, .after = drain_ctrl,
	 .in_port = P_EXT,
	 .in = {.dmac = "ff:ff:ff:ff:ff:ff", .smac = GW_MAC, .ip = IP(FAM_ARP, 0, "198.18.0.1", VIP_FNAT4)},
	 .v = V_DROP, .drop = LB_DROP_CTRL_FULL},
	/* ---- the exception path (ext given a tap by exc_on): 1 token per class ---- */
	{"exception: ssh to ext's own address goes to the control thread for the kernel (general class)",
	 .before = exc_on, .after = exc_off,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, "198.18.0.2", 40000, 22, .flags = SYN),
	 .v = V_PUNT, .out_port = P_EXT, .punt = LB_PUNT_EXCEPTION,
	 .check_ev = true, .ev = LB_EV_EXC_GENERAL},
	{"drop exception_limited: a second SYN to the box's port 22 in the same second",
	 .before = exc_on, .after = exc_off,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, "198.18.0.2", 40001, 22, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_EXC_LIMITED},
	{"drop exception_limited: \"BGP\" from an off-link source is general class",
	 .before = exc_on, .after = exc_off,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, "198.18.0.2", 40002, 179, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_EXC_LIMITED},
	{"exception: eBGP (TTL 1) from the router on ext's subnet: priority class, not time exceeded",
	 .before = exc_on, .after = exc_off,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, "198.18.0.1", "198.18.0.2", 179, 40003, .ttl = 1, .flags = ACK),
	 .v = V_PUNT, .out_port = P_EXT, .punt = LB_PUNT_EXCEPTION,
	 .check_ev = true, .ev = LB_EV_EXC_PRIORITY},
	{"drop exception_priority_limited: BFD from the router over the priority bucket",
	 .before = exc_on, .after = exc_off,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, "198.18.0.1", "198.18.0.2", 49152, 3784, .len = 24),
	 .v = V_DROP, .drop = LB_DROP_EXC_PRIORITY_LIMITED},
	{"drop not_ours: the box's own address on a port without an exception tap",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, "198.18.0.2", 40004, 22, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_NOT_OURS},
	{"drop handoff_full: an fnat reply for worker 1 while its hand-off ring is full",
	 .before = fill_handoff1, .after = drain_handoff1,
	 .in_port = P_INT, .in = FROM_BACKEND(B10_MAC, 4, TCP, B10, LOCAL4, 8080, SNAT_PORT_W1, .flags = ACK),
	 .v = V_DROP, .drop = LB_DROP_HANDOFF_FULL},
	{"drop tx_full: an fnat4 packet while int's TX queue is full",
	 .before = fill_tx_int, .after = drain_tx_int,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK),
	 .v = V_DROP, .drop = LB_DROP_TX_FULL},

	/* ---- closing and reusing a client port ---- */
	{"fnat6 TCP FIN from the client: forwarded",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_FNAT6, 33000, 80, .flags = FINACK),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_10_MAC, 6, TCP, LOCAL6, B6_10, SNAT_PORT, 8080, .ttl = 63, .flags = FINACK)},
	{"fnat6 TCP FIN from the backend: forwarded, the connection is closed",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_10_MAC, 6, TCP, B6_10, LOCAL6, 8080, SNAT_PORT, .flags = FINACK),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(6, TCP, VIP_FNAT6, C6_1, 80, 33000, .ttl = 63, .flags = FINACK)},
	{"fnat6 TCP SYN reusing the closed flow's client port: a new connection on the freed SNAT port",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_FNAT6, 33000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT, .check_ev = true, .ev = LB_EV_CT_CREATED,
	 .out = TO_BACKEND(B6_10_MAC, 6, TCP, LOCAL6, B6_10, SNAT_PORT, 8080, .ttl = 63, .flags = SYN)},
	{"dnat6 TCP RST from the backend: forwarded, the connection is closed",
	 .in_port = P_INT, .in = FROM_BACKEND(B6_11_MAC, 6, TCP, B6_11, C6_3, 8080, 34002, .flags = RSTACK),
	 .v = V_TX, .out_port = P_EXT, .out = TO_CLIENT(6, TCP, VIP_DNAT6, C6_3, 80, 34002, .ttl = 63, .flags = RSTACK)},
	{"dnat6 TCP SYN reusing the reset flow's client port: a new connection",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_3, VIP_DNAT6, 34002, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT, .check_ev = true, .ev = LB_EV_CT_CREATED,
	 .out = TO_BACKEND(B6_11_MAC, 6, TCP, C6_3, B6_11, 34002, 8080, .ttl = 63, .flags = SYN)},

	/* ---- the backend set changes under established flows (last: they move C1's flow) ---- */
	{"backend added: the established fnat4 flow keeps its backend",
	 .before = fnat4_backends_10_11,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, TCP, LOCAL4, B10, SNAT_PORT, 8080, .ttl = 63, .flags = ACK)},
	{"backend removed: the established fnat4 flow is re-picked to a remaining backend",
	 .before = fnat4_backends_11,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C1, VIP_FNAT4, 33000, 80, .flags = ACK),
	 .v = V_TX, .out_port = P_INT, .check_ev = true, .ev = LB_EV_CT_REPICK,
	 .out = TO_BACKEND(B11_MAC, 4, TCP, LOCAL4, B11, SNAT_PORT, 8080, .ttl = 63, .flags = ACK)},
};

/*
 * A full connection table: after the rows above and the mixed burst (which uses
 * their connections), as these rows fill worker 0's table and give up its
 * half-open entries. docs/configuration.md (conntrack.capacity): a new flow that
 * finds the table full takes the place of an expired entry, or else of a half-open
 * one; when every entry is alive and established, it is dropped (ct_table_full),
 * never forwarded without state.
 */
static const struct row rows_full[] = {
	{"conntrack full: a new dnat flow evicts a half-open entry, and is forwarded and tracked",
	 .before = fill_conntrack,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C6, VIP_DNAT4, 34001, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT, .check_ev = true, .ev = LB_EV_CT_EVICTED,
	 .check_ev2 = true, .ev2 = LB_EV_CT_CREATED,
	 .out = TO_BACKEND(B11_MAC, 4, TCP, C6, B11, 34001, 8080, .ttl = 63, .flags = SYN)},
	{"drop ct_table_full: a new dnat flow when every entry is established (nothing to reclaim)",
	 .before = establish_conntrack,
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C10, VIP_DNAT4, 34003, 80, .flags = SYN),
	 .v = V_DROP, .drop = LB_DROP_CT_TABLE_FULL, .check_ev = true, .ev = LB_EV_CT_FULL},
};

/*
 * One burst of mixed frames through one lb_worker_process() call, after the rows
 * above (it uses their connections): parse drops, punts and hand-offs happen in the
 * parse loop, the TCP/UDP frames go through the classify stage together (bulk
 * service lookup, look-ahead). Each frame must still get its own row's verdict,
 * and the frames of one egress port leave in the order they arrived.
 */
static const struct row burst[] = {
	{"fnat4 UDP on its connection",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, C2, VIP_FNAT4, 33001, 53, .len = 10),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B10_MAC, 4, UDP, LOCAL4, B10, SNAT_PORT, 5353, .ttl = 63, .len = 10)},
	{"bad IPv4 header checksum",
	 .in_port = P_EXT, .in = MANGLED(m_ip_csum, 4, UDP, C1, VIP_FNAT4, 1, 53), .v = V_DROP,
	 .drop = LB_DROP_IP_CKSUM},
	{"dnat4 TCP backend reply",
	 .in_port = P_EXT, .in = FROM_BACKEND(B11_MAC, 4, TCP, B11, C3, 8080, 34000, .flags = ACK),
	 .v = V_TX, .out_port = P_EXT,
	 .out = TO_CLIENT(4, TCP, VIP_DNAT4, C3, 80, 34000, .ttl = 63, .flags = ACK)},
	{"ARP request",
	 .in_port = P_EXT,
	 .in = {.dmac = "ff:ff:ff:ff:ff:ff", .smac = GW_MAC, .ip = IP(FAM_ARP, 0, "198.18.0.1", VIP_DNAT4)},
	 .v = V_PUNT, .punt = LB_PUNT_RX, .out_port = P_EXT},
	{"VIP port without service",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, C1, VIP_DNAT4, 33000, 54, .len = 4),
	 .v = V_DROP, .drop = LB_DROP_NO_SERVICE},
	{"fnat6 TCP on its connection",
	 .in_port = P_EXT, .in = FROM_CLIENT(6, TCP, C6_1, VIP_FNAT6, 33000, 80, .flags = ACK, .len = 5),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B6_10_MAC, 6, TCP, LOCAL6, B6_10, SNAT_PORT, 8080, .ttl = 63, .flags = ACK, .len = 5)},
	{"fnat reply for worker 1",
	 .in_port = P_EXT, .in = FROM_BACKEND(B10_MAC, 4, UDP, B10, LOCAL4, 5353, SNAT_PORT_W1, .len = 4),
	 .v = V_HANDOFF},
	{"dnat4 UDP on its connection",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, UDP, C4, VIP_DNAT4, 34001, 53, .len = 3),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B11_MAC, 4, UDP, C4, B11, 34001, 5353, .ttl = 63, .len = 3)},
	/* a new flow's SYN twice: the second finds the entry the first made in this
	 * burst (the classify stage saw neither), so one connection is created */
	{"dnat4 TCP SYN of a new flow",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C13, VIP_DNAT4, 34000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT, .check_ev = true, .ev = LB_EV_CT_CREATED,
	 .out = TO_BACKEND(B11_MAC, 4, TCP, C13, B11, 34000, 8080, .ttl = 63, .flags = SYN)},
	{"the same SYN again (a retransmission) in the same burst: the same connection",
	 .in_port = P_EXT, .in = FROM_CLIENT(4, TCP, C13, VIP_DNAT4, 34000, 80, .flags = SYN),
	 .v = V_TX, .out_port = P_INT,
	 .out = TO_BACKEND(B11_MAC, 4, TCP, C13, B11, 34000, 8080, .ttl = 63, .flags = SYN)},
};

/* ---- the dp under test -------------------------------------------------------- */

static struct lb_dp dp;
static struct rte_ring *rx_rings[N_PORTS][N_WORKERS], *tx_rings[N_PORTS][N_WORKERS];
static struct rte_ring *handoff1; /* worker 1's hand-off ring, by its name */
static char dummy;                /* what fill_* puts into rings: never an mbuf */

static const struct lb_dp_conf *
conf_of(void)
{
	return &dp.conf;
}

static unsigned
fill_ring(struct rte_ring *r)
{
	unsigned n = 0;

	while (rte_ring_enqueue(r, &dummy) == 0)
		n++;
	return n;
}

/* Dequeue what fill_ring() put in; anything else found is a real packet: free it. */
static void
drain_dummies(struct rte_ring *r)
{
	void *p;

	while (rte_ring_dequeue(r, &p) == 0)
		if (p != &dummy)
			rte_pktmbuf_free(p);
}

/* ext gets an exception path: any ethdev id will do, the worker only checks it is one */
static void exc_on(void) { dp.ports[P_EXT].exc_id = 0; }
static void exc_off(void) { dp.ports[P_EXT].exc_id = LB_PORT_NONE; }
static void fill_ctrl(void) { fill_ring(lb_worker_ctrl_ring(dp.workers[0])); }
static void drain_ctrl(void) { drain_dummies(lb_worker_ctrl_ring(dp.workers[0])); }
static void fill_handoff1(void) { fill_ring(handoff1); }
static void drain_handoff1(void) { drain_dummies(handoff1); }
static void fill_tx_int(void) { fill_ring(tx_rings[P_INT][0]); }
static void drain_tx_int(void) { drain_dummies(tx_rings[P_INT][0]); }

/* The on-link client C12's neighbour entry as ARP would set it, changed, then failed. */
static void
c12_learn_mac(const char *mac)
{
	struct lb_addr a;
	uint8_t m[6];

	lb_addr_parse(C12, &a);
	mac_put(m, mac);
	if (lb_neigh_learn(dp.neigh, &a, m, P_EXT, LB_NEIGH_REACHABLE) < 0)
		fail_msg("cannot learn " C12);
}

static void c12_learn(void) { c12_learn_mac(C12_MAC); }
static void c12_learn2(void) { c12_learn_mac(C12_MAC2); }

static void
c12_forget(void)
{
	struct lb_addr a;

	lb_addr_parse(C12, &a);
	uint32_t idx = lb_neigh_lookup(dp.neigh, a.family, a.bytes);
	if (idx == LB_NEIGH_NONE)
		fail_msg("no neighbour entry for " C12);
	lb_neigh_forget(dp.neigh, idx);
}

static void
delete_gone_service(void)
{
	struct lb_addr vip;

	lb_addr_parse(VIP_GONE4, &vip);
	if (lb_svcs_delete(dp.svcs, &vip, 80, LB_PROTO_TCP) < 0)
		fail_msg("cannot delete the service of " VIP_GONE4 ":80");
}

/*
 * A dp that re-attached its tables is in its adoption period (dp->adopting) until
 * the cp has sent everything again; these hide the service of VIP_FNAT4:80, or the
 * real id of its backend B10, as if they had not been sent yet.
 */
static const struct lb_svc *hidden_svc;
static uint32_t hidden_real;
static uint8_t hidden_state;

static const struct lb_svc *
fnat4_svc(void)
{
	struct lb_addr vip;

	lb_addr_parse(VIP_FNAT4, &vip);
	const struct lb_svc *svc = lb_svcs_find(dp.svcs, &vip, 80, LB_PROTO_TCP);
	if (svc == NULL)
		fail_msg("no service " VIP_FNAT4 ":80");
	return svc;
}

static void
adopt_begin(void)
{
	dp.adopting = true;
	dp.adopt_until = lb_dp_ms(&dp, rte_rdtsc()) + 600000;
}

static void
adopt_svc_missing(void)
{
	adopt_begin();
	hidden_svc = fnat4_svc();
	__atomic_store_n(&dp.svcs->slot[hidden_svc->id], NULL, __ATOMIC_RELEASE);
}

static void
adopt_svc_back(void)
{
	__atomic_store_n(&dp.svcs->slot[hidden_svc->id], (struct lb_svc *)hidden_svc, __ATOMIC_RELEASE);
	dp.adopting = false;
}

static void
adopt_real_missing(void)
{
	struct lb_addr b10;
	const struct lb_svc *svc = fnat4_svc();

	adopt_begin();
	lb_addr_parse(B10, &b10);
	for (uint32_t i = 0; i < svc->n_backends; i++)
		if (lb_addr_cmp(&svc->spec.backends[i].addr, &b10) == 0)
			hidden_real = svc->real_ids[i];
	hidden_state = dp.svcs->reals[hidden_real].state;
	dp.svcs->reals[hidden_real].state = LB_REAL_FREE;
}

static void
adopt_real_back(void)
{
	dp.svcs->reals[hidden_real].state = hidden_state;
	dp.adopting = false;
}

/* Replace the backends of t/fnat4-tcp (port 8080 each), as a control-socket upsert would. */
static void
set_fnat4_backends(const char *const *addrs, unsigned n)
{
	struct lb_svc_spec spec;
	char why[256];

	lb_svc_spec_init(&spec);
	snprintf(spec.name, sizeof(spec.name), "t/fnat4-tcp");
	lb_addr_parse(VIP_FNAT4, &spec.vip);
	spec.port = 80;
	spec.proto = LB_PROTO_TCP;
	spec.mode = LB_MODE_FNAT;
	spec.backends = calloc(n, sizeof(*spec.backends));
	assert_non_null(spec.backends);
	spec.n_backends = n;
	for (unsigned i = 0; i < n; i++) {
		lb_addr_parse(addrs[i], &spec.backends[i].addr);
		spec.backends[i].port = 8080;
		spec.backends[i].weight = 1;
		spec.backends[i].state = LB_BACKEND_ACTIVE;
	}
	int rc = lb_svcs_upsert(dp.svcs, &spec, why, sizeof(why));
	lb_svc_spec_free(&spec);
	if (rc < 0)
		fail_msg("upsert t/fnat4-tcp: %s", why);
}

static void
fnat4_backends_10_11(void)
{
	static const char *const b[] = {B10, B11};
	set_fnat4_backends(b, 2);
}

static void
fnat4_backends_11(void)
{
	static const char *const b[] = {B11};
	set_fnat4_backends(b, 1);
}

/* The dp's flow hash of a client->VIP packet (dp/tables/service_fastpath.h). */
static uint32_t
flow_hash_of(const struct dgram *d)
{
	uint8_t s[16] = {0}, t[16] = {0};
	unsigned alen = d->fam == 4 ? 4 : 16;

	addr_put(s, d->src, alen);
	addr_put(t, d->dst, alen);
	return lb_flow_hash(HASH_SEED, s, htons(d->sport), t, htons(d->dport), d->proto);
}

static void
dsr_hashes(void)
{
	gue4_out.sport = (uint16_t)(0xc000 | flow_hash_of(&dsr4_udp) >> 18);
	ipip6_out.flow = flow_hash_of(&dsr6_syn) & 0xfffff;
	gue6_out.sport = (uint16_t)(0xc000 | flow_hash_of(&dsr6_udp) >> 18);
	gue6_out.flow = flow_hash_of(&dsr6_udp) & 0xfffff;
}

static unsigned dnat_owner(const char *client, uint16_t port);
static void drain_all(void);

/* One frame through worker 0, then away with whatever it produced. */
static void
inject(uint16_t port, const struct dgram *d)
{
	struct eth e = port == P_EXT ? (struct eth){.dmac = EXT_MAC, .smac = GW_MAC, .ip = d}
				     : (struct eth){.dmac = INT_MAC, .smac = B11_MAC, .ip = d};
	struct rte_mbuf *mb = rte_pktmbuf_alloc(dp.pool);

	assert_non_null(mb);
	mb->data_len = (uint16_t)build(rte_pktmbuf_mtod(mb, uint8_t *), &e);
	mb->pkt_len = mb->data_len;
	lb_worker_process(dp.workers[0], port, &mb, 1);
	lb_worker_flush(dp.workers[0]);
	drain_all();
}

/* A client port from 35000 on whose dnat flows worker 0 owns. */
static uint16_t
port_of_worker0(const char *client)
{
	uint16_t port = 35000;

	while (dnat_owner(client, port) != 0)
		port++;
	return port;
}

/* dnat SYNs from new clients (198.18.210.x, owned by worker 0) until the table is full. */
static void
fill_conntrack(void)
{
	struct lb_ct *ct = lb_worker_ct(dp.workers[0]);

	for (unsigned a = 1; a < 255 && lb_ct_count(ct) < lb_ct_capacity(ct); a++) {
		char client[32];
		snprintf(client, sizeof(client), "198.18.210.%u", a);
		struct dgram d = {4, TCP, client, VIP_DNAT4, port_of_worker0(client), 80, .flags = SYN};
		inject(P_EXT, &d);
	}
	assert_int_equal(lb_ct_count(ct), lb_ct_capacity(ct));
}

static int
count_half_open(const struct lb_conn *c, void *arg)
{
	*(unsigned *)arg += lb_ct_unanswered(c) ? 1u : 0u;
	return 0;
}

static unsigned
half_open(struct lb_ct *ct)
{
	unsigned n = 0;

	lb_ct_foreach(ct, count_half_open, &n);
	return n;
}

/*
 * Until worker 0's table is full and holds no half-open entry: a dnat handshake
 * from a new client (198.18.211.x), SYN, the backend's SYN-ACK, the client's ACK,
 * each new flow taking the place of a half-open one. No entry has expired (the
 * worker's clock does not move here), so the table has nothing left to give up.
 */
static void
establish_conntrack(void)
{
	struct lb_ct *ct = lb_worker_ct(dp.workers[0]);
	unsigned a = 1;

	for (; a < 255 && (lb_ct_count(ct) < lb_ct_capacity(ct) || half_open(ct) > 0); a++) {
		char client[32];
		snprintf(client, sizeof(client), "198.18.211.%u", a);
		uint16_t port = port_of_worker0(client);
		struct dgram syn = {4, TCP, client, VIP_DNAT4, port, 80, .flags = SYN};
		struct dgram synack = {4, TCP, B11, client, 8080, port, .flags = SYNACK};
		struct dgram ack = {4, TCP, client, VIP_DNAT4, port, 80, .flags = ACK, .seq = 0x01020305};
		inject(P_EXT, &syn);
		inject(P_INT, &synack);
		inject(P_EXT, &ack);
	}
	assert_true(a < 255);
	assert_int_equal(lb_ct_count(ct), lb_ct_capacity(ct));
	assert_int_equal(half_open(ct), 0);
}

/* What a row left behind: frames per ring. */
struct outputs {
	struct rte_mbuf *tx[N_PORTS][N_WORKERS][8];
	unsigned n_tx[N_PORTS][N_WORKERS];
	struct rte_mbuf *ctrl[8];
	unsigned n_ctrl;
	struct rte_mbuf *hand[8];
	unsigned n_hand;
};

static void
collect(struct outputs *o)
{
	memset(o, 0, sizeof(*o));
	for (unsigned p = 0; p < N_PORTS; p++)
		for (unsigned q = 0; q < N_WORKERS; q++)
			o->n_tx[p][q] = rte_ring_dequeue_burst(tx_rings[p][q], (void **)o->tx[p][q], 8, NULL);
	o->n_ctrl = rte_ring_dequeue_burst(lb_worker_ctrl_ring(dp.workers[0]), (void **)o->ctrl, 8, NULL);
	o->n_hand = rte_ring_dequeue_burst(handoff1, (void **)o->hand, 8, NULL);
}

static void
release(struct outputs *o)
{
	for (unsigned p = 0; p < N_PORTS; p++)
		for (unsigned q = 0; q < N_WORKERS; q++)
			rte_pktmbuf_free_bulk(o->tx[p][q], o->n_tx[p][q]);
	rte_pktmbuf_free_bulk(o->ctrl, o->n_ctrl);
	rte_pktmbuf_free_bulk(o->hand, o->n_hand);
}

static void
drain_all(void)
{
	struct outputs o;

	collect(&o);
	release(&o);
}

/* ---- comparing --------------------------------------------------------------- */

struct msg {
	char s[8192];
	size_t n;
};

static void __attribute__((format(printf, 2, 3)))
say(struct msg *m, const char *fmt, ...)
{
	va_list ap;

	if (m->n >= sizeof(m->s))
		return;
	va_start(ap, fmt);
	int k = vsnprintf(m->s + m->n, sizeof(m->s) - m->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		m->n += (size_t)k;
}

static void
hexdump(struct msg *m, const char *label, const uint8_t *b, uint32_t n)
{
	say(m, "  %s (%u bytes):", label, n);
	for (uint32_t i = 0; i < n && i < 160; i++)
		say(m, "%s%02x", i % 16 ? " " : "\n    ", b[i]);
	say(m, "%s\n", n > 160 ? " ..." : "");
}

static void
same_frame(struct msg *m, const char *what, struct rte_mbuf *mb, const uint8_t *want, uint32_t len)
{
	const uint8_t *got = rte_pktmbuf_mtod(mb, const uint8_t *);

	if (mb->nb_segs != 1 || mb->pkt_len != mb->data_len) {
		say(m, "%s: %u segments\n", what, mb->nb_segs);
		return;
	}
	if (mb->pkt_len == len && memcmp(got, want, len) == 0)
		return;
	uint32_t i = 0;
	while (i < len && i < mb->pkt_len && got[i] == want[i])
		i++;
	say(m, "%s differs from byte %u\n", what, i);
	hexdump(m, "got", got, mb->pkt_len);
	hexdump(m, "want", want, len);
}

/* The row's verdict against what happened; the problems go to m. */
static void
check(struct msg *m, const struct row *r, const uint8_t *in, uint32_t in_len,
      const struct lb_wstats *before, const struct lb_wstats *after, const struct outputs *o,
      const struct lb_wstats *w1_before)
{
	uint8_t want[FRAME_MAX];
	uint32_t want_len = 0;
	unsigned n_tx = 0;

	if (r->out.dmac) {
		want_len = build(want, &r->out);
		const char *bad = verify_frame(want, want_len);
		if (bad)
			say(m, "test bug: the expected frame's %s is wrong\n", bad);
	} else {
		memcpy(want, in, in_len);
		want_len = in_len;
	}
	for (unsigned p = 0; p < N_PORTS; p++)
		for (unsigned q = 0; q < N_WORKERS; q++)
			n_tx += o->n_tx[p][q];

	/* drops: exactly the expected one, or none */
	for (int i = 0; i < LB_DROP_MAX; i++) {
		uint64_t d = after->drop[i] - before->drop[i];
		uint64_t exp = r->v == V_DROP && (int)r->drop == i;
		if (d != exp)
			say(m, "drop counter %s: +%" PRIu64 ", want +%" PRIu64 "\n", lb_drop_names[i], d, exp);
	}
	uint64_t created = after->ev[LB_EV_CT_CREATED] - before->ev[LB_EV_CT_CREATED];
	if (r->v == V_DROP && created != 0)
		say(m, "a dropped packet created %" PRIu64 " connection(s)\n", created);
	if (r->check_ev && after->ev[r->ev] - before->ev[r->ev] != 1)
		say(m, "event %s: +%" PRIu64 ", want +1\n", lb_event_names[r->ev],
		    after->ev[r->ev] - before->ev[r->ev]);
	if (r->check_ev2 && after->ev[r->ev2] - before->ev[r->ev2] != 1)
		say(m, "event %s: +%" PRIu64 ", want +1\n", lb_event_names[r->ev2],
		    after->ev[r->ev2] - before->ev[r->ev2]);
	if (memcmp(w1_before, dp.wstats[1], sizeof(*w1_before)) != 0)
		say(m, "worker 1's counters changed (it never runs)\n");

	unsigned want_tx = r->v == V_TX, want_ctrl = r->v == V_PUNT, want_hand = r->v == V_HANDOFF;
	if (n_tx != want_tx)
		say(m, "%u frame(s) transmitted, want %u\n", n_tx, want_tx);
	if (o->n_ctrl != want_ctrl)
		say(m, "%u frame(s) to the control thread, want %u\n", o->n_ctrl, want_ctrl);
	if (o->n_hand != want_hand)
		say(m, "%u frame(s) handed to worker 1, want %u\n", o->n_hand, want_hand);
	uint64_t ev_tx = after->ev[LB_EV_TX_PKTS] - before->ev[LB_EV_TX_PKTS];
	uint64_t ev_punt = after->ev[LB_EV_CTRL_PUNT] - before->ev[LB_EV_CTRL_PUNT];
	uint64_t ev_hand = after->ev[LB_EV_HANDOFF_OUT] - before->ev[LB_EV_HANDOFF_OUT];
	if (ev_tx != want_tx || ev_punt != want_ctrl || ev_hand != want_hand)
		say(m, "events: tx_packets +%" PRIu64 ", ctrl_punt +%" PRIu64 ", handoff_out +%" PRIu64
		       ", want +%u +%u +%u\n", ev_tx, ev_punt, ev_hand, want_tx, want_ctrl, want_hand);

	switch (r->v) {
	case V_TX:
		if (o->n_tx[r->out_port][0] != 1) {
			say(m, "nothing sent on port %u queue 0\n", r->out_port);
			break;
		}
		same_frame(m, "transmitted frame", o->tx[r->out_port][0][0], want, want_len);
		const char *bad = verify_frame(rte_pktmbuf_mtod(o->tx[r->out_port][0][0], uint8_t *),
					       o->tx[r->out_port][0][0]->pkt_len);
		if (bad)
			say(m, "transmitted frame: %s does not sum to 0xffff\n", bad);
		break;
	case V_PUNT:
		if (o->n_ctrl != 1)
			break;
		const struct lb_mbuf_meta *mm = lb_meta(dp.meta_off, o->ctrl[0]);
		if (mm->kind != r->punt || mm->port != r->out_port || (!r->any_info && mm->info != r->info))
			say(m, "punt kind %u port %u info %u, want kind %u port %u info %u\n", mm->kind,
			    mm->port, mm->info, r->punt, r->out_port, r->info);
		same_frame(m, "punted frame", o->ctrl[0], want, want_len);
		break;
	case V_HANDOFF:
		if (o->n_hand == 1)
			same_frame(m, "handed-off frame", o->hand[0], want, want_len);
		break;
	case V_DROP:
		break;
	}
}

static void
run_row(void **state)
{
	const struct row *r = *state;
	struct lb_wstats before, after, w1;
	struct outputs o;
	struct msg m = {.n = 0};
	uint8_t in[FRAME_MAX];
	uint32_t in_len = build(in, &r->in);

	if (r->before)
		r->before();
	memcpy(&before, dp.wstats[0], sizeof(before));
	memcpy(&w1, dp.wstats[1], sizeof(w1));
	struct rte_mbuf *mb = rte_pktmbuf_alloc(dp.pool);
	assert_non_null(mb);
	memcpy(rte_pktmbuf_mtod(mb, uint8_t *), in, in_len);
	mb->data_len = (uint16_t)in_len;
	mb->pkt_len = in_len;
	mb->ol_flags = r->in_ol_flags;
	lb_worker_process(dp.workers[0], r->in_port, &mb, 1);
	lb_worker_flush(dp.workers[0]);
	memcpy(&after, dp.wstats[0], sizeof(after));
	if (r->after)
		r->after();
	collect(&o);
	check(&m, r, in, in_len, &before, &after, &o, &w1);
	release(&o);

	if (m.n)
		fail_msg("%s\n%s", r->name, m.s);
}

/*
 * The burst arrives on one port (ext): a real RX burst comes from one queue. Frames
 * meant for int's MAC carry ext's MAC here instead (the MAC check is per RX port).
 */
static void
test_mixed_burst(void **state)
{
	struct rte_mbuf *pkts[RTE_DIM(burst)];
	uint8_t in[RTE_DIM(burst)][FRAME_MAX];
	uint32_t in_len[RTE_DIM(burst)];
	struct lb_wstats before, after;
	struct outputs o;
	struct msg m = {.n = 0};
	unsigned next_tx[N_PORTS] = {0}, next_ctrl = 0, next_hand = 0;
	uint64_t want_drop[LB_DROP_MAX] = {0}, want_ev[LB_EV_MAX] = {0};

	(void)state;
	for (size_t i = 0; i < RTE_DIM(burst); i++) {
		struct eth e = burst[i].in;
		e.dmac = e.dmac[0] == 'f' ? e.dmac : EXT_MAC;
		in_len[i] = build(in[i], &e);
		pkts[i] = rte_pktmbuf_alloc(dp.pool);
		assert_non_null(pkts[i]);
		memcpy(rte_pktmbuf_mtod(pkts[i], uint8_t *), in[i], in_len[i]);
		pkts[i]->data_len = (uint16_t)in_len[i];
		pkts[i]->pkt_len = in_len[i];
	}
	memcpy(&before, dp.wstats[0], sizeof(before));
	lb_worker_process(dp.workers[0], P_EXT, pkts, RTE_DIM(burst));
	lb_worker_flush(dp.workers[0]);
	memcpy(&after, dp.wstats[0], sizeof(after));
	collect(&o);

	for (size_t i = 0; i < RTE_DIM(burst); i++) {
		const struct row *r = &burst[i];
		uint8_t want[FRAME_MAX];
		uint32_t want_len = in_len[i];
		char what[160];

		snprintf(what, sizeof(what), "frame %zu (%s)", i, r->name);
		if (r->check_ev)
			want_ev[r->ev]++;
		memcpy(want, in[i], in_len[i]);
		if (r->out.dmac)
			want_len = build(want, &r->out);
		switch (r->v) {
		case V_TX:
			if (next_tx[r->out_port] >= o.n_tx[r->out_port][0])
				say(&m, "%s: not sent on port %u\n", what, r->out_port);
			else
				same_frame(&m, what, o.tx[r->out_port][0][next_tx[r->out_port]++], want, want_len);
			break;
		case V_PUNT:
			if (next_ctrl >= o.n_ctrl)
				say(&m, "%s: not punted\n", what);
			else
				same_frame(&m, what, o.ctrl[next_ctrl++], want, want_len);
			break;
		case V_HANDOFF:
			if (next_hand >= o.n_hand)
				say(&m, "%s: not handed off\n", what);
			else
				same_frame(&m, what, o.hand[next_hand++], want, want_len);
			break;
		case V_DROP:
			want_drop[r->drop]++;
			break;
		}
	}
	for (unsigned p = 0; p < N_PORTS; p++)
		if (o.n_tx[p][0] != next_tx[p] || o.n_tx[p][1] != 0)
			say(&m, "port %u: %u frame(s) sent, want %u\n", p, o.n_tx[p][0] + o.n_tx[p][1],
			    next_tx[p]);
	if (o.n_ctrl != next_ctrl || o.n_hand != next_hand)
		say(&m, "%u punted, %u handed off; want %u, %u\n", o.n_ctrl, o.n_hand, next_ctrl, next_hand);
	for (int i = 0; i < LB_DROP_MAX; i++)
		if (after.drop[i] - before.drop[i] != want_drop[i])
			say(&m, "drop counter %s: +%" PRIu64 ", want +%" PRIu64 "\n", lb_drop_names[i],
			    after.drop[i] - before.drop[i], want_drop[i]);
	/* the events rows name: exactly as many as the rows that name them */
	for (int i = 0; i < LB_EV_MAX; i++)
		if (want_ev[i] != 0 && after.ev[i] - before.ev[i] != want_ev[i])
			say(&m, "event %s: +%" PRIu64 ", want +%" PRIu64 "\n", lb_event_names[i],
			    after.ev[i] - before.ev[i], want_ev[i]);
	release(&o);
	if (m.n)
		fail_msg("%s", m.s);
}

/* ---- fixture checks ------------------------------------------------------------ */

/* dp/fastpath/worker_priv.h client_owner(): hash(client address, port) % workers. */
static unsigned
dnat_owner(const char *client, uint16_t port)
{
	struct lb_addr a;
	uint8_t b[18];
	uint16_t pn = htons(port);

	lb_addr_parse(client, &a);
	memcpy(b, a.bytes, 16);
	memcpy(b + 16, &pn, 2);
	return (unsigned)(lb_hash_bytes(b, sizeof(b), HASH_SEED) % N_WORKERS);
}

/* The in-place flow hash is lb_hash_bytes() of the 40-byte tuple (the backend a
 * flow gets must not change with the way it is computed). */
static void
test_flow_hash_is_the_byte_hash(void **state)
{
	(void)state;
	uint64_t x = 0x243f6a8885a308d3ULL;
	for (int n = 0; n < 20000; n++) {
		uint8_t s[16], d[16];
		for (int i = 0; i < 16; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			s[i] = (uint8_t)(x >> 56);
			d[i] = (uint8_t)(x >> 48);
		}
		uint64_t seed = x ^ (x << 7);
		uint16_t sp = (uint16_t)(x >> 20), dp_ = (uint16_t)(x >> 36);
		uint8_t proto = (uint8_t)(x >> 8);
		assert_int_equal(lb_flow_hash(seed, s, sp, d, dp_, proto),
				 lb_flow_hash_bytes(seed, s, sp, d, dp_, proto));
	}
}

static void
test_fixture_dnat_owners(void **state)
{
	(void)state;
	assert_int_equal(conf_of()->hash_seed, HASH_SEED);
	assert_int_equal(dnat_owner(C3, 34000), 0);
	assert_int_equal(dnat_owner(C3, 34002), 1);
	assert_int_equal(dnat_owner(C4, 34001), 0);
	assert_int_equal(dnat_owner(C5, 34000), 0);
	assert_int_equal(dnat_owner(C6, 34001), 0);
	assert_int_equal(dnat_owner(C6_3, 34002), 0);
	assert_int_equal(dnat_owner(C6_4, 34000), 0);
	assert_int_equal(dnat_owner(C6_NR, 34001), 0);
	assert_int_equal(dnat_owner(C10, 34003), 0);
	assert_int_equal(dnat_owner(C12, 34001), 0);
	assert_int_equal(dnat_owner(C13, 34000), 0);
}

/* Every reason in lb_counters.h has a row that expects it. */
static void
test_fixture_every_drop_reason_has_a_row(void **state)
{
	(void)state;
	bool seen[LB_DROP_MAX] = {false};
	unsigned missing = 0;

	for (size_t i = 0; i < RTE_DIM(rows); i++)
		if (rows[i].v == V_DROP)
			seen[rows[i].drop] = true;
	for (size_t i = 0; i < RTE_DIM(rows_full); i++)
		if (rows_full[i].v == V_DROP)
			seen[rows_full[i].drop] = true;
	for (int i = 0; i < LB_DROP_MAX; i++)
		if (!seen[i]) {
			print_error("no row expects drop reason %s\n", lb_drop_names[i]);
			missing++;
		}
	assert_int_equal(missing, 0);
}

static void
test_no_mbuf_leaked(void **state)
{
	(void)state;
	assert_int_equal(rte_mempool_avail_count(dp.pool), dp.pool->size);
}

/* ---- EAL and dp ------------------------------------------------------------------ */

static int
make_ports(void)
{
	static const char *const names[N_PORTS] = {"ext", "int"};

	for (unsigned p = 0; p < N_PORTS; p++)
		if (pl_make_port(names[p], "t", p, rx_rings[p], tx_rings[p], N_WORKERS, TX_RING) < 0)
			return -1;
	return 0;
}

int
main(void)
{
	char err[512] = "";

	if (pl_eal_init("test-pipeline", "128") < 0) {
		fprintf(stderr, "test_pipeline: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (make_ports() < 0) {
		fprintf(stderr, "test_pipeline: net_ring ports: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (lb_dp_conf_parse(config_text, &dp.conf, err, sizeof(err)) < 0 ||
	    lb_dp_build(&dp, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "test_pipeline: dp: %s\n", err);
		return 1;
	}
	handoff1 = rte_ring_lookup("lb_handoff_1");
	if (handoff1 == NULL) {
		fprintf(stderr, "test_pipeline: no ring named lb_handoff_1 (dp/fastpath/worker.c)\n");
		return 1;
	}

	size_t n = RTE_DIM(rows) + RTE_DIM(rows_full) + 5;
	struct CMUnitTest *t = calloc(n, sizeof(*t));
	size_t k = 0;
	t[k++] = (struct CMUnitTest){"fixture: dnat client ports are owned by worker 0",
				     test_fixture_dnat_owners, NULL, NULL, NULL};
	t[k++] = (struct CMUnitTest){"the in-place flow hash equals the byte hash of the tuple",
				     test_flow_hash_is_the_byte_hash, NULL, NULL, NULL};
	t[k++] = (struct CMUnitTest){"fixture: every drop reason has a row",
				     test_fixture_every_drop_reason_has_a_row, NULL, NULL, NULL};
	for (size_t i = 0; i < RTE_DIM(rows); i++)
		t[k++] = (struct CMUnitTest){rows[i].name, run_row, NULL, NULL, (void *)&rows[i]};
	t[k++] = (struct CMUnitTest){"one burst of mixed frames: each gets its own verdict, in order",
				     test_mixed_burst, NULL, NULL, NULL};
	for (size_t i = 0; i < RTE_DIM(rows_full); i++)
		t[k++] = (struct CMUnitTest){rows_full[i].name, run_row, NULL, NULL, (void *)&rows_full[i]};
	t[k++] = (struct CMUnitTest){"no mbuf leaked", test_no_mbuf_leaked, NULL, NULL, NULL};
	int failed = _cmocka_run_group_tests("pipeline", t, k, NULL, NULL);

	free(t);
	/* EAL leaves its (by then empty) runtime directory behind: one per run, so remove it. */
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
