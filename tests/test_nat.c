/*
 * test_nat.c - unit tests for dp/lib/nat.c (lb_nat_rewrite and the checksum helpers).
 *
 * Each case builds a frame (with checksums from this file's own byte-at-a-time
 * reference), parses it with lb_parse(), rewrites it, and compares the result with
 * the frame built from scratch with the new addresses, ports and TTL: every byte,
 * both checksums included. Table-driven: {description, packet, rewrite, flags,
 * expected verdict}; then a seeded random run of 10,000 packets.
 *
 * Build: gcc -std=gnu11 -Iinclude -Idp -Idp/lib dp/lib/parse.c dp/lib/nat.c tests/test_nat.c -lcmocka
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lb_addr.h"
#include "nat.h"
#include "nat_fastpath.h"
#include "parse.h"
#include "csum_ref.h"

#define FRAME_MAX 2048
#define PAYLOAD_MAX 1400

/* ---- reference checksum: byte at a time, plain loop ---------------------------- */

/* Pseudo-header sum, folded, not complemented (what offload expects in the field). */
static uint16_t
ref_phdr(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint32_t l4_len)
{
	uint32_t alen = v6 ? 16 : 4;
	uint8_t tail[8] = {0};
	uint32_t acc = ref_add(ref_add(0, src, alen), dst, alen);

	tail[3] = proto;
	tail[4] = (uint8_t)(l4_len >> 24);
	tail[5] = (uint8_t)(l4_len >> 16);
	tail[6] = (uint8_t)(l4_len >> 8);
	tail[7] = (uint8_t)l4_len;
	return ref_fold(ref_add(acc, tail, 8));
}

/* From scratch over a copy with the field zeroed; UDP's 0 goes out as 0xffff. */
static uint16_t
ref_l4_cksum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	     const uint8_t *l4, uint32_t l4_len, uint32_t csum_off)
{
	uint8_t copy[FRAME_MAX];
	uint32_t acc = proto == LB_IPPROTO_ICMP ? 0 : ref_phdr(v6, src, dst, proto, l4_len);

	memcpy(copy, l4, l4_len);
	memset(copy + csum_off, 0, 2);
	uint16_t c = (uint16_t)~ref_fold(ref_add(acc, copy, l4_len));
	if (proto == LB_IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
}

static uint16_t
ref_ipv4_cksum(const uint8_t *ip)
{
	uint8_t copy[20];

	memcpy(copy, ip, 20);
	memset(copy + 10, 0, 2);
	return (uint16_t)~ref_fold(ref_add(0, copy, 20));
}

static uint32_t
csum_off_of(uint8_t proto)
{
	switch (proto) {
	case LB_IPPROTO_TCP: return 16;
	case LB_IPPROTO_UDP: return 6;
	default: return 2; /* ICMP, ICMPv6 */
	}
}

/* ---- packet builder ------------------------------------------------------------ */

struct pkt {
	bool v6;
	uint8_t proto;
	uint8_t n_vlans;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;   /* host order */
	uint8_t ttl;
	bool udp_nocsum;         /* UDP checksum field 0: none */
	unsigned l4_flags;       /* LB_NAT_L4_OFFLOAD: field holds the pseudo-header sum */
	bool ip_offload;         /* IPv4 checksum field 0 */
	uint16_t payload_len;
	uint8_t payload[PAYLOAD_MAX];
};

static uint32_t
build(const struct pkt *k, uint8_t *f)
{
	uint32_t off = 12;
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	for (unsigned i = 0; i < k->n_vlans; i++, off += 4) {
		put16(f + off, i == 0 && k->n_vlans == 2 ? LB_ETHERTYPE_QINQ : LB_ETHERTYPE_VLAN);
		put16(f + off + 2, (uint16_t)(100 + i));
	}
	put16(f + off, k->v6 ? LB_ETHERTYPE_IPV6 : LB_ETHERTYPE_IPV4);
	off += 2;

	uint8_t *ip = f + off;
	uint32_t l3 = k->v6 ? 40 : 20;
	uint8_t *l4 = ip + l3;
	uint32_t hlen = k->proto == LB_IPPROTO_TCP ? 20 : 8;
	uint32_t l4_len = hlen + k->payload_len;

	memset(l4, 0, hlen);
	if (k->proto == LB_IPPROTO_TCP || k->proto == LB_IPPROTO_UDP) {
		put16(l4, k->sport);
		put16(l4 + 2, k->dport);
	}
	if (k->proto == LB_IPPROTO_TCP) {
		put16(l4 + 4, 0xdead);
		put16(l4 + 6, 0xbeef);
		l4[12] = 5 << 4;
		l4[13] = LB_TCP_ACK;
		put16(l4 + 14, 512);
	} else if (k->proto == LB_IPPROTO_UDP) {
		put16(l4 + 4, (uint16_t)l4_len);
	} else {
		l4[0] = k->proto == LB_IPPROTO_ICMP ? 8 : 128; /* echo request */
		put16(l4 + 4, 0x77);
		put16(l4 + 6, 1);
	}
	memcpy(l4 + hlen, k->payload, k->payload_len);

	memset(ip, 0, l3);
	if (k->v6) {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)l4_len);
		ip[6] = k->proto;
		ip[7] = k->ttl;
		memcpy(ip + 8, k->src, 16);
		memcpy(ip + 24, k->dst, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + l4_len));
		put16(ip + 4, 0x4242);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = k->ttl;
		ip[9] = k->proto;
		memcpy(ip + 12, k->src, 4);
		memcpy(ip + 16, k->dst, 4);
		put16(ip + 10, k->ip_offload ? 0 : ref_ipv4_cksum(ip));
	}

	uint32_t co = csum_off_of(k->proto);
	uint16_t c;
	bool has_ports = k->proto == LB_IPPROTO_TCP || k->proto == LB_IPPROTO_UDP;
	if (has_ports && (k->l4_flags & LB_NAT_L4_OFFLOAD))
		c = ref_phdr(k->v6, k->src, k->dst, k->proto, l4_len);
	else if (k->proto == LB_IPPROTO_UDP && k->udp_nocsum)
		c = 0;
	else
		c = ref_l4_cksum(k->v6, k->src, k->dst, k->proto, l4, l4_len, co);
	put16(l4 + co, c);
	return off + l3 + l4_len;
}

/* The checksums in a built or rewritten frame equal ones computed from scratch. */
static void
assert_cksums_from_scratch(const uint8_t *f, const struct lb_pkt *p)
{
	const uint8_t *ip = f + p->l2_len;
	const uint8_t *l4 = ip + p->l3_len;
	bool v6 = p->family == LB_AF_INET6;
	uint32_t l4_len = (uint32_t)p->ip_len - p->l3_len;
	uint32_t co = csum_off_of(p->proto);

	if (!v6)
		assert_int_equal(rd16(ip + 10), ref_ipv4_cksum(ip));
	if (p->proto == LB_IPPROTO_UDP && rd16(l4 + co) == 0)
		return; /* no checksum */
	assert_int_equal(rd16(l4 + co), ref_l4_cksum(v6, ip + (v6 ? 8 : 12),
						       ip + (v6 ? 24 : 16), p->proto, l4,
						       l4_len, co));
}

/* ---- fixtures ------------------------------------------------------------------ */

struct nat_case {
	const char *desc;
	bool v6;
	uint8_t proto;
	const char *src, *dst;          /* the packet as received */
	uint16_t sport, dport;
	const char *new_src, *new_dst;  /* the rewrite: NULL / 0 keep */
	uint16_t new_sport, new_dport;
	uint8_t ttl;
	bool udp_nocsum;
	unsigned flags;
	int rc;
};

#define C4 "198.18.0.7"   /* client */
#define V4 "198.19.0.10"  /* VIP */
#define B4 "198.18.10.2"  /* backend */
#define L4 "198.18.200.1" /* local (fnat source) */
#define C6 "2001:db8:c::7"
#define V6 "2001:db8:f::10"
#define B6 "2001:db8:b::2"
#define L6 "2001:db8:a::1"
#define TCP LB_IPPROTO_TCP
#define UDP LB_IPPROTO_UDP

static const struct nat_case nat_cases[] = {
	/* dnat: client -> VIP:80 becomes client -> backend:8080 */
	{"ipv4 tcp dnat", false, TCP, C4, V4, 40000, 80, NULL, B4, 0, 8080, 64, false, 0, 0},
	{"ipv4 udp dnat", false, UDP, C4, V4, 40000, 53, NULL, B4, 0, 5353, 64, false, 0, 0},
	{"ipv6 tcp dnat", true, TCP, C6, V6, 40000, 80, NULL, B6, 0, 8080, 64, false, 0, 0},
	{"ipv6 udp dnat", true, UDP, C6, V6, 40000, 53, NULL, B6, 0, 5353, 64, false, 0, 0},
	/* dnat reply: backend:8080 -> client becomes VIP:80 -> client */
	{"ipv4 tcp dnat reply", false, TCP, B4, C4, 8080, 40000, V4, NULL, 80, 0, 63, false, 0, 0},
	{"ipv6 udp dnat reply", true, UDP, B6, C6, 5353, 40000, V6, NULL, 53, 0, 63, false, 0, 0},
	/* fnat: all four fields */
	{"ipv4 tcp fnat", false, TCP, C4, V4, 40000, 80, L4, B4, 61001, 8080, 64, false, 0, 0},
	{"ipv4 udp fnat", false, UDP, C4, V4, 40000, 53, L4, B4, 61001, 5353, 64, false, 0, 0},
	{"ipv6 tcp fnat", true, TCP, C6, V6, 40000, 80, L6, B6, 61001, 8080, 64, false, 0, 0},
	{"ipv6 udp fnat", true, UDP, C6, V6, 40000, 53, L6, B6, 61001, 5353, 64, false, 0, 0},
	/* fnat reverse: backend:8080 -> local:61001 becomes VIP:80 -> client:40000 */
	{"ipv4 tcp fnat reverse", false, TCP, B4, L4, 8080, 61001, V4, C4, 80, 40000, 64,
	 false, 0, 0},
	{"ipv4 udp fnat reverse", false, UDP, B4, L4, 5353, 61001, V4, C4, 53, 40000, 64,
	 false, 0, 0},
	{"ipv6 tcp fnat reverse", true, TCP, B6, L6, 8080, 61001, V6, C6, 80, 40000, 64,
	 false, 0, 0},
	{"ipv6 udp fnat reverse", true, UDP, B6, L6, 5353, 61001, V6, C6, 53, 40000, 64,
	 false, 0, 0},
	/* single fields */
	{"ipv4 tcp snat only", false, TCP, C4, B4, 40000, 80, L4, NULL, 61001, 0, 64, false, 0, 0},
	{"ipv6 tcp port only", true, TCP, C6, V6, 40000, 80, NULL, NULL, 0, 8080, 64, false, 0, 0},
	{"ipv4 udp address only", false, UDP, C4, V4, 40000, 53, NULL, B4, 0, 0, 64, false, 0, 0},
	{"ipv4 tcp nothing but ttl", false, TCP, C4, V4, 40000, 80, NULL, NULL, 0, 0, 2, false, 0,
	 0},
	{"ipv6 udp nothing but hop limit", true, UDP, C6, V6, 40000, 53, NULL, NULL, 0, 0, 255,
	 false, 0, 0},
	/* no checksum */
	{"ipv4 udp zero checksum stays zero, dnat", false, UDP, C4, V4, 40000, 53, NULL, B4, 0,
	 5353, 64, true, 0, 0},
	{"ipv4 udp zero checksum stays zero, fnat", false, UDP, C4, V4, 40000, 53, L4, B4, 61001,
	 5353, 64, true, 0, 0},
	{"ipv6 udp zero checksum (rfc 6936) stays zero", true, UDP, C6, V6, 40000, 53, L6, B6,
	 61001, 5353, 64, true, 0, 0},
	/* ttl */
	{"ipv4 tcp ttl 1", false, TCP, C4, V4, 40000, 80, L4, B4, 61001, 8080, 1, false, 0, -1},
	{"ipv4 udp ttl 0", false, UDP, C4, V4, 40000, 53, L4, B4, 61001, 5353, 0, false, 0, -1},
	{"ipv6 tcp hop limit 1", true, TCP, C6, V6, 40000, 80, L6, B6, 61001, 8080, 1, false, 0,
	 -1},
	{"ipv6 udp hop limit 0", true, UDP, C6, V6, 40000, 53, NULL, B6, 0, 5353, 0, false, 0, -1},
	{"ipv4 tcp ttl 1 with offloads", false, TCP, C4, V4, 40000, 80, NULL, B4, 0, 8080, 1,
	 false, LB_NAT_L4_OFFLOAD | LB_NAT_IP_OFFLOAD, -1},
	/* offloads */
	{"ipv4 tcp fnat, l4 offload", false, TCP, C4, V4, 40000, 80, L4, B4, 61001, 8080, 64,
	 false, LB_NAT_L4_OFFLOAD, 0},
	{"ipv4 udp dnat, l4 offload", false, UDP, C4, V4, 40000, 53, NULL, B4, 0, 5353, 64,
	 false, LB_NAT_L4_OFFLOAD, 0},
	{"ipv4 udp without checksum, l4 offload writes the pseudo-header sum", false, UDP, C4, V4,
	 40000, 53, NULL, B4, 0, 5353, 64, true, LB_NAT_L4_OFFLOAD, 0},
	{"ipv6 tcp fnat, l4 offload", true, TCP, C6, V6, 40000, 80, L6, B6, 61001, 8080, 64,
	 false, LB_NAT_L4_OFFLOAD, 0},
	{"ipv6 udp fnat, l4 offload", true, UDP, C6, V6, 40000, 53, L6, B6, 61001, 5353, 64,
	 false, LB_NAT_L4_OFFLOAD, 0},
	{"ipv4 tcp fnat, ip offload", false, TCP, C4, V4, 40000, 80, L4, B4, 61001, 8080, 64,
	 false, LB_NAT_IP_OFFLOAD, 0},
	{"ipv4 udp fnat, both offloads", false, UDP, C4, V4, 40000, 53, L4, B4, 61001, 5353, 64,
	 false, LB_NAT_L4_OFFLOAD | LB_NAT_IP_OFFLOAD, 0},
	{"ipv6 tcp dnat, ip offload is a no-op", true, TCP, C6, V6, 40000, 80, NULL, B6, 0, 8080,
	 64, false, LB_NAT_IP_OFFLOAD, 0},
	/* icmp: addresses only; icmpv6's checksum covers them, icmp's does not */
	{"ipv4 icmp echo to a backend", false, LB_IPPROTO_ICMP, C4, V4, 0, 0, L4, B4, 0, 0, 64,
	 false, 0, 0},
	{"ipv6 icmpv6 echo to a backend", true, LB_IPPROTO_ICMPV6, C6, V6, 0, 0, L6, B6, 0, 0,
	 64, false, 0, 0},
	/* words that are all ones or all zeros */
	{"ipv4 udp to 255.255.255.255 port 65535", false, UDP, C4, "255.255.255.255", 40000,
	 65535, NULL, "0.0.0.1", 0, 1, 64, false, 0, 0},
	{"ipv6 tcp from ffff:: ports", true, TCP, "2001:db8:ffff:ffff::ffff", V6, 65535, 65535,
	 "2001:db8::", NULL, 1, 0, 64, false, 0, 0},
};

static void
addr16(const char *txt, uint8_t out[16])
{
	struct lb_addr a;

	assert_int_equal(lb_addr_parse(txt, &a), 0);
	memcpy(out, a.bytes, 16);
}

static void
case_packets(const struct nat_case *c, struct pkt *in, struct pkt *out)
{
	memset(in, 0, sizeof(*in));
	in->v6 = c->v6;
	in->proto = c->proto;
	addr16(c->src, in->src);
	addr16(c->dst, in->dst);
	in->sport = c->sport;
	in->dport = c->dport;
	in->ttl = c->ttl;
	in->udp_nocsum = c->udp_nocsum;
	in->payload_len = 37; /* odd on purpose */
	for (uint32_t i = 0; i < in->payload_len; i++)
		in->payload[i] = (uint8_t)(i * 13 + 1);

	*out = *in;
	if (c->new_src)
		addr16(c->new_src, out->src);
	if (c->new_dst)
		addr16(c->new_dst, out->dst);
	if (c->new_sport)
		out->sport = c->new_sport;
	if (c->new_dport)
		out->dport = c->new_dport;
	out->ttl = (uint8_t)(c->ttl - 1);
	out->l4_flags = c->flags & LB_NAT_L4_OFFLOAD;
	out->ip_offload = (c->flags & LB_NAT_IP_OFFLOAD) != 0;
}

static void
parse_ok(const uint8_t *f, uint32_t len, struct lb_pkt *p)
{
	enum lb_drop drop;
	int rc = lb_parse(f, len, p, &drop);

	if (rc != 0)
		print_error("lb_parse: %s\n", lb_drop_names[drop]);
	assert_int_equal(rc, 0);
}

static void
test_nat_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(nat_cases) / sizeof(nat_cases[0]); i++) {
		const struct nat_case *c = &nat_cases[i];
		static struct pkt in, out;
		uint8_t f[FRAME_MAX], orig[FRAME_MAX], want[FRAME_MAX];
		uint8_t nsrc[16], ndst[16];
		struct lb_pkt p;

		print_message("  %s\n", c->desc);
		case_packets(c, &in, &out);
		uint32_t len = build(&in, f);
		memcpy(orig, f, len);
		parse_ok(f, len, &p);
		assert_cksums_from_scratch(f, &p);
		if (c->new_src)
			addr16(c->new_src, nsrc);
		if (c->new_dst)
			addr16(c->new_dst, ndst);
		struct lb_nat_rw rw = {
			.src = c->new_src ? nsrc : NULL,
			.dst = c->new_dst ? ndst : NULL,
			.sport = htons(c->new_sport),
			.dport = htons(c->new_dport),
		};

		int rc = lb_nat_rewrite(f + p.l2_len, &p, &rw, c->flags);
		assert_int_equal(rc, c->rc);
		if (rc < 0) {
			assert_memory_equal(f, orig, len); /* untouched */
			continue;
		}
		assert_int_equal(build(&out, want), len);
		assert_memory_equal(f, want, len);
		if (c->flags == 0 || (c->flags == LB_NAT_IP_OFFLOAD && c->v6))
			assert_cksums_from_scratch(f, &p);
		if (c->udp_nocsum && !(c->flags & LB_NAT_L4_OFFLOAD))
			assert_int_equal(rd16(f + p.l2_len + p.l3_len + 6), 0);

		/* the rewritten frame still parses, with the new fields */
		if (!c->v6 && (c->flags & LB_NAT_IP_OFFLOAD))
			continue; /* header checksum 0 until the NIC fills it */
		struct lb_pkt q;
		parse_ok(f, len, &q);
		assert_int_equal(q.ttl, c->ttl - 1);
		assert_memory_equal(q.src, out.src, 16);
		assert_memory_equal(q.dst, out.dst, 16);
		if (c->proto == TCP || c->proto == UDP) {
			assert_int_equal(ntohs(q.sport), out.sport);
			assert_int_equal(ntohs(q.dport), out.dport);
		}
	}
}

/* Forward then back again: the original frame but for TTL - 2 and its checksum. */
static void
test_nat_round_trip_restores_the_frame(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(nat_cases) / sizeof(nat_cases[0]); i++) {
		const struct nat_case *c = &nat_cases[i];
		static struct pkt in, out;
		uint8_t f[FRAME_MAX], want[FRAME_MAX], a[16], b[16], s[16], d[16];
		struct lb_pkt p;

		if (!c->new_src || !c->new_dst || !c->new_sport || !c->new_dport || c->rc != 0 ||
		    c->flags != 0 || c->udp_nocsum)
			continue; /* only the plain fnat rows */
		case_packets(c, &in, &out);
		uint32_t len = build(&in, f);
		parse_ok(f, len, &p);
		addr16(c->new_src, a);
		addr16(c->new_dst, b);
		addr16(c->src, s);
		addr16(c->dst, d);
		struct lb_nat_rw fwd = {a, b, htons(c->new_sport), htons(c->new_dport)};
		struct lb_nat_rw back = {s, d, htons(c->sport), htons(c->dport)};
		assert_int_equal(lb_nat_rewrite(f + p.l2_len, &p, &fwd, 0), 0);
		assert_int_equal(lb_nat_rewrite(f + p.l2_len, &p, &back, 0), 0);
		in.ttl = (uint8_t)(in.ttl - 2);
		build(&in, want);
		assert_memory_equal(f, want, len);
	}
}

/* A UDP checksum that comes out as 0 must be sent as 0xffff. */
static void
test_nat_udp_result_zero_is_sent_as_ffff(void **state)
{
	static struct pkt in;
	uint8_t f[FRAME_MAX];
	uint8_t vip[16], backend[16];
	struct lb_pkt p;

	(void)state;
	for (int v6 = 0; v6 <= 1; v6++) {
		memset(&in, 0, sizeof(in));
		in.v6 = v6;
		in.proto = UDP;
		addr16(v6 ? C6 : C4, in.src);
		addr16(v6 ? V6 : V4, vip);
		addr16(v6 ? B6 : B4, backend);
		memcpy(in.dst, vip, 16);
		in.sport = 40000;
		in.dport = 53;
		in.ttl = 64;
		in.payload_len = 4;

		/* pick the new port so that the sum with it is ones' complement zero */
		struct pkt probe = in;
		memcpy(probe.dst, backend, 16);
		probe.dport = 0;
		uint32_t len = build(&probe, f);
		/* not parsed: the parser drops port 0 (issue 14); the offsets are fixed */
		uint32_t l3_len = v6 ? 40 : 20;
		uint8_t *l4 = f + 14 + l3_len;
		uint16_t c = ref_l4_cksum(v6, probe.src, probe.dst, UDP, l4, len - 14 - l3_len, 6);
		uint16_t port = c; /* sum + ~sum = 0xffff: the checksum becomes 0 */
		assert_int_not_equal(port, 0);

		len = build(&in, f);
		parse_ok(f, len, &p);
		struct lb_nat_rw rw = {.dst = backend, .dport = htons(port)};
		assert_int_equal(lb_nat_rewrite(f + p.l2_len, &p, &rw, 0), 0);
		l4 = f + p.l2_len + p.l3_len;
		assert_int_equal(rd16(l4 + 2), port);
		assert_int_equal(rd16(l4 + 6), 0xffff);
		assert_cksums_from_scratch(f, &p);
	}
}

/* RFC 1071 section 3's example: words 0001 f203 f4f5 f6f7 sum to ddf2. */
static void
test_csum_rfc1071_example(void **state)
{
	static const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	(void)state;
	assert_int_equal(lb_csum_partial(data, sizeof(data), 0), 0xddf2);
	assert_int_equal(lb_csum_fold(lb_csum_partial(data, sizeof(data), 0)), 0x220d);
	/* partial sums chain, and an odd tail byte is the high byte of a word */
	uint32_t s = lb_csum_partial(data, 4, 0);
	assert_int_equal(lb_csum_fold(lb_csum_partial(data + 4, 4, s)), 0x220d);
	assert_int_equal(lb_csum_partial(data, 3, 0), 0x0001 + 0xf200);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Bytes biased to 0x00 and 0xff, where ones' complement arithmetic has its edges. */
static uint8_t
rnd_byte(void)
{
	switch (rnd() % 4) {
	case 0: return 0x00;
	case 1: return 0xff;
	default: return (uint8_t)rnd();
	}
}

static void
rnd_addr(bool v6, uint8_t a[16], bool as_source)
{
	memset(a, 0, 16);
	for (int i = 0; i < (v6 ? 16 : 4); i++)
		a[i] = rnd_byte();
	if (as_source) /* keep the parser from calling it a martian */
		a[0] = v6 ? (uint8_t)(0x20 + rnd() % 0xd0) : (uint8_t)(1 + rnd() % 126);
}

static uint16_t
rnd_port(void)
{
	uint16_t v = (uint16_t)(rnd_byte() << 8 | rnd_byte());
	return v ? v : 1;
}

/* The exported helpers against the reference on random data. */
static void
test_csum_helpers_match_reference(void **state)
{
	uint8_t buf[FRAME_MAX], src[16], dst[16];

	(void)state;
	for (int i = 0; i < 2000; i++) {
		bool v6 = rnd() % 2;
		uint32_t len = 1 + rnd() % 600;
		uint32_t off = rnd() % len;
		uint8_t proto = (uint8_t)(rnd() % 2 ? UDP : TCP);

		for (uint32_t j = 0; j < len; j++)
			buf[j] = rnd_byte();
		rnd_addr(v6, src, false);
		rnd_addr(v6, dst, false);
		assert_int_equal(lb_csum_fold(lb_csum_partial(buf, len, 0)),
				 (uint16_t)~ref_fold(ref_add(0, buf, len)));
		if (len >= 20)
			assert_int_equal(lb_ipv4_cksum(buf, 20), ref_ipv4_cksum(buf));
		if (off + 2 <= len && off % 2 == 0)
			assert_int_equal(lb_l4_cksum(v6 ? LB_AF_INET6 : LB_AF_INET, src, dst, proto,
						     buf, len, off),
					 ref_l4_cksum(v6, src, dst, proto, buf, len, off));
	}
}

/* 10,000 random packets and rewrites (fixed seed), each checked byte for byte. */
static void
test_nat_random_rewrites_match_from_scratch(void **state)
{
	static struct pkt in, out;
	uint8_t f[FRAME_MAX], orig[FRAME_MAX], want[FRAME_MAX];
	uint8_t nsrc[16], ndst[16];
	int rewritten = 0, refused = 0;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		memset(&in, 0, sizeof(in));
		in.v6 = rnd() % 2;
		in.proto = (uint8_t)(rnd() % 2 ? UDP : TCP);
		in.n_vlans = (uint8_t)(rnd() % 3);
		rnd_addr(in.v6, in.src, true);
		rnd_addr(in.v6, in.dst, false);
		in.sport = rnd_port();
		in.dport = rnd_port();
		in.ttl = rnd() % 20 == 0 ? (uint8_t)(rnd() % 2) : (uint8_t)(2 + rnd() % 254);
		in.udp_nocsum = in.proto == UDP && rnd() % 8 == 0;
		in.payload_len = (uint16_t)(rnd() % 300);
		for (uint32_t j = 0; j < in.payload_len; j++)
			in.payload[j] = rnd_byte();

		struct lb_nat_rw rw = {0};
		out = in;
		if (rnd() % 2) {
			rnd_addr(in.v6, nsrc, false);
			rw.src = nsrc;
			memcpy(out.src, nsrc, 16);
		}
		if (rnd() % 2) {
			rnd_addr(in.v6, ndst, false);
			rw.dst = ndst;
			memcpy(out.dst, ndst, 16);
		}
		if (rnd() % 2) {
			out.sport = rnd_port();
			rw.sport = htons(out.sport);
		}
		if (rnd() % 2) {
			out.dport = rnd_port();
			rw.dport = htons(out.dport);
		}
		unsigned flags = rnd() % 4 == 0 ? rnd() % 4 : 0;
		out.ttl = (uint8_t)(in.ttl - 1);
		out.l4_flags = flags & LB_NAT_L4_OFFLOAD;
		out.ip_offload = (flags & LB_NAT_IP_OFFLOAD) != 0;

		uint32_t len = build(&in, f);
		struct lb_pkt p;
		parse_ok(f, len, &p);
		memcpy(orig, f, len);
		int rc = lb_nat_rewrite(f + p.l2_len, &p, &rw, flags);
		if (in.ttl <= 1) {
			assert_int_equal(rc, -1);
			assert_memory_equal(f, orig, len);
			refused++;
			continue;
		}
		assert_int_equal(rc, 0);
		build(&out, want);
		if (memcmp(f, want, len) != 0) {
			print_error("packet %d: v%d proto %u flags %u nocsum %d\n", i,
				    in.v6 ? 6 : 4, in.proto, flags, in.udp_nocsum);
			assert_memory_equal(f, want, len);
		}
		if (flags == 0)
			assert_cksums_from_scratch(f, &p);
		rewritten++;
	}
	assert_true(rewritten > 9000 && refused > 100);
}

/* ---- the rewrite against the plain big-endian RFC 1624 computation ------------- */

/* ~HC + sum of (~m + m') over the 16-bit words old -> new, big-endian, one at a time */
static uint32_t
ref_delta(uint32_t acc, const uint8_t *old, const uint8_t *new, size_t n)
{
	for (size_t i = 0; i < n; i += 2)
		acc += (uint16_t)~rd16(old + i) + (uint32_t)rd16(new + i);
	return acc;
}

/*
 * What lb_nat_rewrite() must do, word by word in network byte order (RFC 1624
 * eqn. 3, as dp/lib/nat.c computed it before it summed native 32-bit words): the
 * checksum fields may hold anything, a wrong value included, and the result must
 * still be the same two bytes.
 */
static int
ref_rewrite(uint8_t *l3, bool v6, uint8_t proto, const struct lb_nat_rw *rw, unsigned flags,
	    uint32_t l4_len)
{
	uint32_t alen = v6 ? 16 : 4;
	uint8_t *ttl = l3 + (v6 ? 7 : 8);
	uint8_t *sa = l3 + (v6 ? 8 : 12), *da = sa + alen;
	uint8_t *l4 = l3 + (v6 ? 40 : 20);
	bool ports = proto == TCP || proto == UDP;
	uint8_t sp[2], dp[2];
	uint32_t addr = 0, port = 0;

	if (*ttl <= 1)
		return -1;
	memcpy(sp, &rw->sport, 2);
	memcpy(dp, &rw->dport, 2);
	if (rw->src)
		addr = ref_delta(addr, sa, rw->src, alen);
	if (rw->dst)
		addr = ref_delta(addr, da, rw->dst, alen);
	if (ports && rw->sport)
		port = ref_delta(port, l4, sp, 2);
	if (ports && rw->dport)
		port = ref_delta(port, l4 + 2, dp, 2);
	if (rw->src)
		memcpy(sa, rw->src, alen);
	if (rw->dst)
		memcpy(da, rw->dst, alen);
	if (ports && rw->sport)
		memcpy(l4, sp, 2);
	if (ports && rw->dport)
		memcpy(l4 + 2, dp, 2);
	uint8_t old_ttl_word[2] = {ttl[0], ttl[1]};
	(*ttl)--;
	if (!v6) {
		uint32_t acc = ref_delta(addr + (uint16_t)~rd16(l3 + 10), old_ttl_word, ttl, 2);
		put16(l3 + 10, (flags & LB_NAT_IP_OFFLOAD) ? 0 : (uint16_t)~ref_fold(acc));
	}
	if (proto == LB_IPPROTO_ICMP)
		return 0;
	uint8_t *lc = l4 + csum_off_of(proto);
	if (ports && (flags & LB_NAT_L4_OFFLOAD)) {
		put16(lc, ref_phdr(v6, sa, da, proto, l4_len));
	} else if (proto == UDP && rd16(lc) == 0) {
		/* none */
	} else {
		uint16_t c = (uint16_t)~ref_fold((uint16_t)~rd16(lc) + addr + port);
		if (proto == UDP && c == 0)
			c = 0xffff;
		put16(lc, c);
	}
	return 0;
}

/* A checksum field value: the edges 0x0000 and 0xffff often, else anything. */
static uint16_t
rnd_csum_field(uint16_t correct)
{
	switch (rnd() % 5) {
	case 0: return 0x0000;
	case 1: return 0xffff;
	case 2: return (uint16_t)rnd();
	default: return correct;
	}
}

/*
 * 20,000 random packets (IPv4/IPv6, TCP/UDP/ICMP/ICMPv6, 0-2 VLAN tags, bytes
 * biased to 0x00/0xff) whose checksum fields are then set to 0x0000, 0xffff, a
 * random value or left right, random rewrites and offload flags: lb_nat_rewrite()
 * writes exactly the bytes of the big-endian reference, and so does the
 * forwarding paths' TCP/UDP-only copy (lb_nat_rewrite_l4_fp) for TCP and UDP.
 */
static void
test_nat_matches_big_endian_reference(void **state)
{
	static struct pkt in;
	uint8_t f[FRAME_MAX], want[FRAME_MAX], orig[FRAME_MAX];
	uint8_t nsrc[16], ndst[16];
	static const uint8_t protos[] = {TCP, UDP, TCP, UDP, LB_IPPROTO_ICMP};
	int edges = 0, l4_checked = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		memset(&in, 0, sizeof(in));
		in.v6 = rnd() % 2;
		in.proto = protos[rnd() % 5];
		if (in.proto == LB_IPPROTO_ICMP && in.v6)
			in.proto = LB_IPPROTO_ICMPV6;
		in.n_vlans = (uint8_t)(rnd() % 3);
		rnd_addr(in.v6, in.src, true);
		rnd_addr(in.v6, in.dst, false);
		in.sport = rnd_port();
		in.dport = rnd_port();
		in.ttl = rnd() % 20 == 0 ? (uint8_t)(rnd() % 2) : (uint8_t)(2 + rnd() % 254);
		in.udp_nocsum = in.proto == UDP && rnd() % 8 == 0;
		in.payload_len = (uint16_t)(rnd() % 64);
		for (uint32_t j = 0; j < in.payload_len; j++)
			in.payload[j] = rnd_byte();

		uint32_t len = build(&in, f);
		struct lb_pkt p;
		parse_ok(f, len, &p);
		uint8_t *l3 = f + p.l2_len;
		uint32_t l4_len = (uint32_t)p.ip_len - p.l3_len;
		uint8_t *lc = l3 + p.l3_len + csum_off_of(in.proto);
		/* after parsing (which checks the IPv4 header checksum): any field value */
		if (!in.v6)
			put16(l3 + 10, rnd_csum_field(rd16(l3 + 10)));
		put16(lc, rnd_csum_field(rd16(lc)));
		edges += rd16(lc) == 0 || rd16(lc) == 0xffff;

		struct lb_nat_rw rw = {0};
		if (rnd() % 4) {
			rnd_addr(in.v6, nsrc, false);
			rw.src = nsrc;
		}
		if (rnd() % 4) {
			rnd_addr(in.v6, ndst, false);
			rw.dst = ndst;
		}
		if (rnd() % 4)
			rw.sport = htons(rnd_port());
		if (rnd() % 4)
			rw.dport = htons(rnd_port());
		unsigned flags = rnd() % 3 == 0 ? rnd() % 4 : 0;

		memcpy(want, f, len);
		memcpy(orig, f, len);
		int want_rc = ref_rewrite(want + p.l2_len, in.v6, in.proto, &rw, flags, l4_len);
		int rc = lb_nat_rewrite(l3, &p, &rw, flags);
		assert_int_equal(rc, want_rc);
		if (memcmp(f, want, len) != 0) {
			print_error("packet %d: v%d proto %u flags %u\n", i, in.v6 ? 6 : 4,
				    in.proto, flags);
			assert_memory_equal(f, want, len);
		}
		if (p.kind == LB_PKT_L4) {
			/* the forwarding paths' TCP/UDP copy writes the same bytes */
			assert_int_equal(lb_nat_rewrite_l4_fp(orig + p.l2_len, &p, &rw, flags), want_rc);
			assert_memory_equal(orig, want, len);
			l4_checked++;
		}
	}
	assert_true(edges > 6000);
	assert_true(l4_checked > 10000);
}

/*
 * Rewrites whose from-scratch result is an edge value: a payload word chosen so
 * that the rewritten TCP/ICMPv6 checksum is 0x0000 (or the UDP sum zero, sent as
 * 0xffff), and an IPv4 identification chosen so that the rewritten header checksum
 * is 0x0000 -- against the from-scratch result, 4,000 cases.
 */
static void
test_nat_edge_results_match_from_scratch(void **state)
{
	static struct pkt in, out;
	uint8_t f[FRAME_MAX], want[FRAME_MAX], nsrc[16], ndst[16];
	int zero_l4 = 0, zero_ip = 0;

	(void)state;
	for (int i = 0; i < 4000; i++) {
		memset(&in, 0, sizeof(in));
		in.v6 = rnd() % 2;
		in.proto = (uint8_t)(rnd() % 3 == 0 ? UDP : TCP);
		rnd_addr(in.v6, in.src, true);
		rnd_addr(in.v6, in.dst, false);
		in.sport = rnd_port();
		in.dport = rnd_port();
		in.ttl = (uint8_t)(2 + rnd() % 254);
		in.payload_len = (uint16_t)(2 + 2 * (rnd() % 20));
		for (uint32_t j = 0; j < in.payload_len; j++)
			in.payload[j] = rnd_byte();

		out = in;
		rnd_addr(in.v6, nsrc, false);
		rnd_addr(in.v6, ndst, false);
		memcpy(out.src, nsrc, 16);
		memcpy(out.dst, ndst, 16);
		out.sport = rnd_port();
		out.dport = rnd_port();
		out.ttl = (uint8_t)(in.ttl - 1);

		/* the payload's first word w, in both packets, such that the rewritten
		 * packet's sum is 0xffff: its checksum (from scratch) is then 0 */
		in.payload[0] = in.payload[1] = 0;
		out.payload[0] = out.payload[1] = 0;
		uint32_t len = build(&out, want);
		uint32_t hl = out.v6 ? 40 : 20;
		uint16_t c = rd16(want + 14 + hl + csum_off_of(out.proto));
		if (out.proto == UDP && c == 0xffff)
			c = 0; /* the builder's 0 -> 0xffff */
		uint16_t w = c; /* the sum so far is ~c: adding c makes it 0xffff */
		put16(in.payload, w);
		put16(out.payload, w);
		len = build(&out, want);
		uint16_t got = rd16(want + 14 + hl + csum_off_of(out.proto));
		assert_int_equal(got, out.proto == UDP ? 0xffff : 0x0000);
		zero_l4++;

		uint32_t l = build(&in, f);
		assert_int_equal(l, len);
		if (!in.v6) {
			/* identification such that the rewritten header's checksum is 0 */
			uint8_t *ip = want + 14;
			put16(ip + 4, 0);
			uint16_t hc = ref_ipv4_cksum(ip);
			put16(ip + 4, hc); /* the sum so far is ~hc */
			put16(ip + 10, ref_ipv4_cksum(ip));
			assert_int_equal(rd16(ip + 10), 0);
			put16(f + 14 + 4, hc);
			put16(f + 14 + 10, ref_ipv4_cksum(f + 14));
			zero_ip++;
		}
		struct lb_pkt p;
		parse_ok(f, l, &p);
		struct lb_nat_rw rw = {nsrc, ndst, htons(out.sport), htons(out.dport)};
		assert_int_equal(lb_nat_rewrite(f + p.l2_len, &p, &rw, 0), 0);
		assert_memory_equal(f, want, len);
		assert_cksums_from_scratch(f, &p);
	}
	assert_true(zero_l4 == 4000 && zero_ip > 1500);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_rfc1071_example),
		cmocka_unit_test(test_csum_helpers_match_reference),
		cmocka_unit_test(test_nat_fixtures),
		cmocka_unit_test(test_nat_round_trip_restores_the_frame),
		cmocka_unit_test(test_nat_udp_result_zero_is_sent_as_ffff),
		cmocka_unit_test(test_nat_random_rewrites_match_from_scratch),
		cmocka_unit_test(test_nat_matches_big_endian_reference),
		cmocka_unit_test(test_nat_edge_results_match_from_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
