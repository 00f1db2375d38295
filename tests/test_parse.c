/*
 * test_parse.c - unit tests for dp/lib/parse.c (lb_parse).
 *
 * Frames are built from a small spec by helpers in this file, with checksums from
 * this file's own reference implementation, then parsed from a heap copy of exactly
 * their length so that ASan catches any read past the end. Table-driven:
 * {description, frame spec, expected verdict, expected fields}.
 *
 * Build: gcc -std=gnu11 -Iinclude -Idp -Idp/lib dp/lib/parse.c tests/test_parse.c -lcmocka
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
#include "lb_counters.h"
#include "parse.h"
#include "csum_ref.h"

#define FRAME_MAX 2048

/* ---- reference checksum: byte at a time, plain loop ---------------------------- */

static uint16_t
ref_finish(uint32_t acc)
{
	return (uint16_t)~ref_fold(acc);
}

/* ---- frame builder ------------------------------------------------------------- */

struct spec {
	bool v6;              /* IPv6 instead of IPv4 */
	bool arp;             /* an ARP request instead of IP */
	const char *src;      /* NULL: 198.18.0.1 / 2001:db8::1 (ARP: sender) */
	const char *dst;      /* NULL: 198.19.0.10 / 2001:db8::10 (ARP: target) */
	uint8_t proto;        /* IPv4 protocol / IPv6 next header */
	uint16_t ethertype;   /* 0: from the family */
	uint8_t n_vlans;      /* tags written, up to 3 */
	uint16_t tpid[3];     /* 0: 0x8100 */
	uint16_t tci[3];
	uint8_t version;      /* 0: from the family */
	uint8_t ihl;          /* 0: 5; above 5 appends NOP options */
	int tot_adj;          /* added to IPv4 total length / IPv6 payload length */
	uint16_t frag;        /* IPv4 flags and fragment offset */
	bool bad_cksum;       /* IPv4 header checksum off by one */
	uint8_t ttl;          /* 0: 64 */
	uint16_t sport, dport;
	uint8_t doff;         /* TCP data offset, 0: 5 */
	uint8_t tcp_flags;
	uint8_t icmp_type, icmp_code;
	uint16_t payload;     /* bytes after the transport header */
	bool l4_cut;          /* the datagram carries only l4_bytes of transport */
	uint16_t l4_bytes;
	uint16_t pad;         /* Ethernet padding after the datagram */
	uint16_t arp_htype, arp_ptype; /* 0: 1 and 0x0800 */
	uint8_t arp_hlen, arp_plen;    /* 0: 6 and 4 */
	uint16_t arp_body;    /* 0: 28 */
};

static const char *
spec_src(const struct spec *s)
{
	return s->src ? s->src : (s->v6 ? "2001:db8::1" : "198.18.0.1");
}

static const char *
spec_dst(const struct spec *s)
{
	return s->dst ? s->dst : (s->v6 ? "2001:db8::10" : "198.19.0.10");
}

static void
addr16(const char *txt, uint8_t out[16])
{
	struct lb_addr a;

	assert_int_equal(lb_addr_parse(txt, &a), 0);
	memcpy(out, a.bytes, 16);
}

/* The transport section at its natural length; returns its length. */
static uint32_t
build_l4(const struct spec *s, uint8_t *l4)
{
	uint32_t hlen;

	if (s->proto == LB_IPPROTO_TCP) {
		uint32_t doff = s->doff ? s->doff : 5;
		hlen = doff * 4 > 20 ? doff * 4 : 20;
		memset(l4, 0, hlen);
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, 0x1111);
		put16(l4 + 8, 0x2222);
		l4[12] = (uint8_t)(doff << 4);
		l4[13] = s->tcp_flags;
		put16(l4 + 14, 65535);
		memset(l4 + 20, 1, hlen - 20); /* NOP options */
	} else if (s->proto == LB_IPPROTO_UDP) {
		hlen = 8;
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, (uint16_t)(8 + s->payload));
		put16(l4 + 6, 0);
	} else {
		hlen = 8; /* ICMP, ICMPv6 or anything else: 8 bytes */
		memset(l4, 0, 8);
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		put16(l4 + 4, 0x0042);
		put16(l4 + 6, 1);
	}
	for (uint32_t i = 0; i < s->payload; i++)
		l4[hlen + i] = (uint8_t)(i * 7 + 3);
	return hlen + s->payload;
}

/* The L4 checksum the way a sender computes it, pseudo header included. */
static void
fill_l4_cksum(const struct spec *s, uint8_t *l4, uint32_t l4_len, const uint8_t *src,
	      const uint8_t *dst)
{
	uint32_t off, alen = s->v6 ? 16 : 4, acc = 0;
	uint8_t tail[4];

	if (s->proto == LB_IPPROTO_TCP)
		off = 16;
	else if (s->proto == LB_IPPROTO_UDP)
		off = 6;
	else if (s->proto == LB_IPPROTO_ICMPV6 || s->proto == LB_IPPROTO_ICMP)
		off = 2;
	else
		return;
	if (off + 2 > l4_len)
		return;
	put16(l4 + off, 0);
	if (s->proto != LB_IPPROTO_ICMP) {
		acc = ref_add(acc, src, alen);
		acc = ref_add(acc, dst, alen);
		put16(tail, 0);
		tail[2] = 0;
		tail[3] = s->proto;
		acc = ref_add(acc, tail, 4);
		put16(tail, 0);
		put16(tail + 2, (uint16_t)l4_len);
		acc = ref_add(acc, tail, 4);
	}
	acc = ref_add(acc, l4, l4_len);
	uint16_t c = ref_finish(acc);
	if (s->proto == LB_IPPROTO_UDP && c == 0)
		c = 0xffff;
	put16(l4 + off, c);
}

static uint32_t
build_arp(const struct spec *s, uint8_t *b)
{
	uint8_t a[16];

	memset(b, 0, 28);
	put16(b, s->arp_htype ? s->arp_htype : 1);
	put16(b + 2, s->arp_ptype ? s->arp_ptype : 0x0800);
	b[4] = s->arp_hlen ? s->arp_hlen : 6;
	b[5] = s->arp_plen ? s->arp_plen : 4;
	put16(b + 6, 1); /* request */
	memcpy(b + 8, "\x02\x00\x00\x00\x00\x02", 6);
	addr16(spec_src(s), a);
	memcpy(b + 14, a, 4);
	addr16(spec_dst(s), a);
	memcpy(b + 24, a, 4);
	return s->arp_body ? s->arp_body : 28;
}

static uint32_t
build_ip(const struct spec *s, uint8_t *b)
{
	uint8_t src[16], dst[16], l4[FRAME_MAX];
	uint32_t l4_len = build_l4(s, l4);

	addr16(spec_src(s), src);
	addr16(spec_dst(s), dst);
	if (s->l4_cut)
		l4_len = s->l4_bytes;
	fill_l4_cksum(s, l4, l4_len, src, dst);

	if (s->v6) {
		memset(b, 0, 40);
		b[0] = (uint8_t)((s->version ? s->version : 6) << 4);
		put16(b + 4, (uint16_t)((int)l4_len + s->tot_adj));
		b[6] = s->proto;
		b[7] = s->ttl ? s->ttl : 64;
		memcpy(b + 8, src, 16);
		memcpy(b + 24, dst, 16);
		memcpy(b + 40, l4, l4_len);
		return 40 + l4_len;
	}
	uint32_t ihl = s->ihl ? s->ihl : 5;
	uint32_t hlen = ihl * 4 > 20 ? ihl * 4 : 20;
	memset(b, 0, hlen);
	b[0] = (uint8_t)((s->version ? s->version : 4) << 4 | ihl);
	put16(b + 2, (uint16_t)((int)(ihl * 4 + l4_len) + s->tot_adj));
	put16(b + 4, 0x1234);
	put16(b + 6, s->frag);
	b[8] = s->ttl ? s->ttl : 64;
	b[9] = s->proto;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	memset(b + 20, 1, hlen - 20);
	put16(b + 10, (uint16_t)(ref_finish(ref_add(0, b, hlen)) + (s->bad_cksum ? 1 : 0)));
	memcpy(b + hlen, l4, l4_len);
	return hlen + l4_len;
}

static uint32_t
build_frame(const struct spec *s, uint8_t *f)
{
	uint32_t off = 12;

	memcpy(f, s->arp ? "\xff\xff\xff\xff\xff\xff" : "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);
	for (unsigned i = 0; i < s->n_vlans; i++, off += 4) {
		put16(f + off, s->tpid[i] ? s->tpid[i] : LB_ETHERTYPE_VLAN);
		put16(f + off + 2, s->tci[i]);
	}
	uint16_t et = s->ethertype ? s->ethertype
			: s->arp ? LB_ETHERTYPE_ARP
			: s->v6 ? LB_ETHERTYPE_IPV6 : LB_ETHERTYPE_IPV4;
	put16(f + off, et);
	off += 2;
	off += s->arp ? build_arp(s, f + off) : build_ip(s, f + off);
	memset(f + off, 0, s->pad);
	return off + s->pad;
}

/* Parse from a heap copy of exactly len bytes: any over-read is an ASan error. */
static int
parse_exact(const uint8_t *frame, uint32_t len, struct lb_pkt *p, enum lb_drop *drop)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, frame, len);
	rc = lb_parse(copy, len, p, drop);
	free(copy);
	return rc;
}

/* ---- fixtures ------------------------------------------------------------------- */

struct want {
	uint16_t l2_len, l3_len, l4_len, ip_len, ethertype, vlan_tci;
	uint8_t n_vlans, kind, family, proto, ttl, tcp_flags, icmp_type, icmp_code;
	uint16_t sport, dport; /* host order here; the parser keeps network order */
};

struct parse_case {
	const char *desc;
	struct spec in;
	uint32_t cut;          /* frame cut to this length when nonzero */
	int rc;
	enum lb_drop drop;     /* when rc == -1 */
	struct want want;      /* when rc == 0 */
};

#define TCP_V4 .proto = LB_IPPROTO_TCP, .sport = 40000, .dport = 80
#define TCP_SYN_V4 TCP_V4, .tcp_flags = LB_TCP_SYN
#define TCP_SYN_V6 .v6 = true, TCP_SYN_V4
#define UDP_V4 .proto = LB_IPPROTO_UDP, .sport = 5353, .dport = 53
#define UDP_V6 .v6 = true, UDP_V4
#define FAM4 .ethertype = LB_ETHERTYPE_IPV4, .family = LB_AF_INET
#define FAM6 .ethertype = LB_ETHERTYPE_IPV6, .family = LB_AF_INET6
#define DROP(reason) .rc = -1, .drop = LB_DROP_##reason

static const struct parse_case cases[] = {
	/* accepted */
	{"ipv4 tcp syn", {TCP_SYN_V4}, 0, 0, 0,
	 {14, 20, 20, 40, FAM4, .kind = LB_PKT_L4, .proto = 6, .ttl = 64,
	  .tcp_flags = LB_TCP_SYN, .sport = 40000, .dport = 80}},
	{"ipv4 tcp with options and payload", {TCP_V4, .doff = 10, .payload = 100,
	 .tcp_flags = LB_TCP_ACK | LB_TCP_PSH, .ttl = 3, .frag = 0x4000 /* DF */}, 0, 0, 0,
	 {14, 20, 40, 160, FAM4, .kind = LB_PKT_L4, .proto = 6, .ttl = 3,
	  .tcp_flags = LB_TCP_ACK | LB_TCP_PSH, .sport = 40000, .dport = 80}},
	{"ipv4 udp", {UDP_V4, .payload = 12}, 0, 0, 0,
	 {14, 20, 8, 40, FAM4, .kind = LB_PKT_L4, .proto = 17, .ttl = 64,
	  .sport = 5353, .dport = 53}},
	{"ipv4 icmp echo request", {.proto = LB_IPPROTO_ICMP, .icmp_type = 8, .payload = 56},
	 0, 0, 0, {14, 20, 8, 84, FAM4, .kind = LB_PKT_ICMP, .proto = 1, .ttl = 64,
	  .icmp_type = 8}},
	{"ipv4 icmp port unreachable", {.proto = LB_IPPROTO_ICMP, .icmp_type = 3,
	 .icmp_code = 3, .payload = 28}, 0, 0, 0,
	 {14, 20, 8, 56, FAM4, .kind = LB_PKT_ICMP, .proto = 1, .ttl = 64, .icmp_type = 3,
	  .icmp_code = 3}},
	{"ipv6 tcp syn", {TCP_SYN_V6, .ttl = 255}, 0, 0, 0,
	 {14, 40, 20, 60, FAM6, .kind = LB_PKT_L4, .proto = 6, .ttl = 255,
	  .tcp_flags = LB_TCP_SYN, .sport = 40000, .dport = 80}},
	{"ipv6 udp", {UDP_V6, .payload = 12}, 0, 0, 0,
	 {14, 40, 8, 60, FAM6, .kind = LB_PKT_L4, .proto = 17, .ttl = 64,
	  .sport = 5353, .dport = 53}},
	{"ipv6 icmpv6 neighbour solicitation", {.v6 = true, .proto = LB_IPPROTO_ICMPV6,
	 .icmp_type = 135, .payload = 24, .ttl = 255, .dst = "ff02::1:ff00:10"}, 0, 0, 0,
	 {14, 40, 8, 72, FAM6, .kind = LB_PKT_ICMP, .proto = 58, .ttl = 255,
	  .icmp_type = 135}},
	{"ipv4 tcp in one 802.1Q tag", {TCP_SYN_V4, .n_vlans = 1, .tci = {0x2064}}, 0, 0, 0,
	 {18, 20, 20, 40, FAM4, .vlan_tci = 0x2064, .n_vlans = 1, .kind = LB_PKT_L4,
	  .proto = 6, .ttl = 64, .tcp_flags = LB_TCP_SYN, .sport = 40000, .dport = 80}},
	{"ipv6 udp in QinQ, outer tag reported", {UDP_V6, .payload = 12, .n_vlans = 2,
	 .tpid = {LB_ETHERTYPE_QINQ, LB_ETHERTYPE_VLAN}, .tci = {0x0123, 0x0fff}}, 0, 0, 0,
	 {22, 40, 8, 60, FAM6, .vlan_tci = 0x0123, .n_vlans = 2, .kind = LB_PKT_L4,
	  .proto = 17, .ttl = 64, .sport = 5353, .dport = 53}},
	{"ipv4 tcp in two 802.1Q tags", {TCP_SYN_V4, .n_vlans = 2, .tci = {7, 8}}, 0, 0, 0,
	 {22, 20, 20, 40, FAM4, .vlan_tci = 7, .n_vlans = 2, .kind = LB_PKT_L4,
	  .proto = 6, .ttl = 64, .tcp_flags = LB_TCP_SYN, .sport = 40000, .dport = 80}},
	{"arp request", {.arp = true, .dst = "198.19.0.10"}, 0, 0, 0,
	 {14, 0, 0, 28, .ethertype = LB_ETHERTYPE_ARP, .family = LB_AF_INET,
	  .kind = LB_PKT_ARP}},
	{"arp probe from 0.0.0.0", {.arp = true, .src = "0.0.0.0", .pad = 18}, 0, 0, 0,
	 {14, 0, 0, 28, .ethertype = LB_ETHERTYPE_ARP, .family = LB_AF_INET,
	  .kind = LB_PKT_ARP}},
	{"arp in a vlan", {.arp = true, .n_vlans = 1, .tci = {5}}, 0, 0, 0,
	 {18, 0, 0, 28, .ethertype = LB_ETHERTYPE_ARP, .vlan_tci = 5, .n_vlans = 1,
	  .family = LB_AF_INET, .kind = LB_PKT_ARP}},
	{"ipv4 udp with ethernet padding", {UDP_V4, .payload = 2, .pad = 16}, 0, 0, 0,
	 {14, 20, 8, 30, FAM4, .kind = LB_PKT_L4, .proto = 17, .ttl = 64,
	  .sport = 5353, .dport = 53}},
	{"ipv6 tcp with trailing bytes", {TCP_SYN_V6, .pad = 7}, 0, 0, 0,
	 {14, 40, 20, 60, FAM6, .kind = LB_PKT_L4, .proto = 6, .ttl = 64,
	  .tcp_flags = LB_TCP_SYN, .sport = 40000, .dport = 80}},
	{"multicast destination is fine", {UDP_V4, .payload = 12, .dst = "239.1.2.3"}, 0, 0, 0,
	 {14, 20, 8, 40, FAM4, .kind = LB_PKT_L4, .proto = 17, .ttl = 64,
	  .sport = 5353, .dport = 53}},
	{"class E source is not a martian", {UDP_V4, .payload = 12, .src = "240.0.0.1"}, 0, 0, 0,
	 {14, 20, 8, 40, FAM4, .kind = LB_PKT_L4, .proto = 17, .ttl = 64,
	  .sport = 5353, .dport = 53}},

	/* L2 */
	{"zero length", {TCP_SYN_V4}, .cut = 0, .rc = -1, .drop = LB_DROP_ZERO_LEN},
	{"13 bytes", {TCP_SYN_V4}, 13, DROP(L2_TRUNCATED)},
	{"frame ends inside the vlan tag", {TCP_SYN_V4, .n_vlans = 1}, 17, DROP(L2_TRUNCATED)},
	{"frame ends inside the inner tag", {TCP_SYN_V4, .n_vlans = 2}, 20, DROP(L2_TRUNCATED)},
	{"three tags", {TCP_SYN_V4, .n_vlans = 3}, 0, DROP(VLAN_DEPTH)},
	{"three tags, qinq outer", {TCP_SYN_V4, .n_vlans = 3,
	 .tpid = {LB_ETHERTYPE_QINQ, LB_ETHERTYPE_QINQ, LB_ETHERTYPE_VLAN}}, 0, DROP(VLAN_DEPTH)},
	{"lldp", {TCP_SYN_V4, .ethertype = 0x88cc}, 0, DROP(NON_IP)},
	{"mpls in a vlan", {TCP_SYN_V4, .n_vlans = 1, .ethertype = 0x8847}, 0, DROP(NON_IP)},
	{"ethernet header only", {TCP_SYN_V4}, 14, DROP(L3_TRUNCATED)},

	/* L3 */
	{"ipv4 header cut at 19 bytes", {TCP_SYN_V4}, 14 + 19, DROP(L3_TRUNCATED)},
	{"ipv6 header cut at 39 bytes", {TCP_SYN_V6}, 14 + 39, DROP(L3_TRUNCATED)},
	{"ipv4 ihl 15 beyond the frame", {TCP_SYN_V4, .ihl = 15}, 14 + 40, DROP(L3_TRUNCATED)},
	{"arp body cut at 27 bytes", {.arp = true, .arp_body = 27}, 0, DROP(L3_TRUNCATED)},
	{"arp for another hardware type", {.arp = true, .arp_htype = 6}, 0,
	 DROP(L3_TRUNCATED)},
	{"arp for ipv6-sized addresses", {.arp = true, .arp_plen = 16}, 0, DROP(L3_TRUNCATED)},
	{"arp for another protocol", {.arp = true, .arp_ptype = 0x86dd}, 0, DROP(L3_TRUNCATED)},
	{"arp with 8-byte hardware addresses", {.arp = true, .arp_hlen = 8}, 0,
	 DROP(L3_TRUNCATED)},
	{"ipv4 ethertype, version 6", {TCP_SYN_V4, .version = 6}, 0, DROP(IP_VERSION)},
	{"ipv6 ethertype, version 4", {TCP_SYN_V6, .version = 4}, 0, DROP(IP_VERSION)},
	{"ipv6 packet under the ipv4 ethertype", {TCP_SYN_V6, .ethertype = 0x0800}, 0,
	 DROP(IP_VERSION)},
	{"ihl 4", {TCP_SYN_V4, .ihl = 4}, 0, DROP(BAD_IHL)},
	{"ihl 6: options", {TCP_SYN_V4, .ihl = 6}, 0, DROP(IP_OPTIONS)},
	{"ihl 15: options", {TCP_SYN_V4, .ihl = 15}, 0, DROP(IP_OPTIONS)},
	{"total length 19", {TCP_SYN_V4, .tot_adj = -21}, 0, DROP(BAD_TOTAL_LEN)},
	{"total length beyond the frame", {TCP_SYN_V4, .tot_adj = 1}, 0, DROP(BAD_TOTAL_LEN)},
	{"ipv6 payload length beyond the frame", {TCP_SYN_V6, .tot_adj = 1}, 0,
	 DROP(BAD_TOTAL_LEN)},
	{"ipv6 payload length 0xffff", {TCP_SYN_V6, .tot_adj = 65535 - 20}, 0,
	 DROP(BAD_TOTAL_LEN)},
	{"ipv4 header checksum off by one", {TCP_SYN_V4, .bad_cksum = true}, 0, DROP(IP_CKSUM)},
	{"ipv4 more fragments", {UDP_V4, .frag = 0x2000}, 0, DROP(FRAGMENT)},
	{"ipv4 last fragment", {UDP_V4, .frag = 0x00b9}, 0, DROP(FRAGMENT)},
	{"ipv4 df and offset", {UDP_V4, .frag = 0x4001}, 0, DROP(FRAGMENT)},
	{"ipv6 fragment header", {.v6 = true, .proto = 44}, 0, DROP(FRAGMENT)},
	{"ipv6 hop-by-hop", {.v6 = true, .proto = 0}, 0, DROP(IPV6_EXT)},
	{"ipv6 routing", {.v6 = true, .proto = 43}, 0, DROP(IPV6_EXT)},
	{"ipv6 esp", {.v6 = true, .proto = 50}, 0, DROP(IPV6_EXT)},
	{"ipv6 ah", {.v6 = true, .proto = 51}, 0, DROP(IPV6_EXT)},
	{"ipv6 destination options", {.v6 = true, .proto = 60}, 0, DROP(IPV6_EXT)},
	{"ipv6 mobility", {.v6 = true, .proto = 135}, 0, DROP(IPV6_EXT)},
	{"ipv6 hip", {.v6 = true, .proto = 139}, 0, DROP(IPV6_EXT)},
	{"ipv6 shim6", {.v6 = true, .proto = 140}, 0, DROP(IPV6_EXT)},
	{"ipv6 experimental 253", {.v6 = true, .proto = 253}, 0, DROP(IPV6_EXT)},
	{"ipv6 experimental 254", {.v6 = true, .proto = 254}, 0, DROP(IPV6_EXT)},

	/* L4 */
	{"ipv4 gre", {.proto = 47, .payload = 20}, 0, DROP(L4_PROTO)},
	{"ipv4 sctp", {.proto = 132, .payload = 20}, 0, DROP(L4_PROTO)},
	{"icmpv6 over ipv4", {.proto = LB_IPPROTO_ICMPV6}, 0, DROP(L4_PROTO)},
	{"icmp over ipv6", {.v6 = true, .proto = LB_IPPROTO_ICMP}, 0, DROP(L4_PROTO)},
	{"ipv6 no next header", {.v6 = true, .proto = 59}, 0, DROP(L4_PROTO)},
	{"tcp header 19 bytes", {TCP_SYN_V4, .l4_cut = true, .l4_bytes = 19}, 0,
	 DROP(L4_TRUNCATED)},
	{"tcp header 19 bytes, padded frame", {TCP_SYN_V4, .l4_cut = true, .l4_bytes = 19,
	 .pad = 30}, 0, DROP(L4_TRUNCATED)},
	{"ipv6 tcp, no transport bytes", {TCP_SYN_V6, .l4_cut = true, .l4_bytes = 0}, 0,
	 DROP(L4_TRUNCATED)},
	{"udp header 7 bytes", {UDP_V4, .l4_cut = true, .l4_bytes = 7}, 0, DROP(L4_TRUNCATED)},
	{"ipv6 udp header 7 bytes", {UDP_V6, .l4_cut = true, .l4_bytes = 7, .pad = 10}, 0,
	 DROP(L4_TRUNCATED)},
	{"icmp header 7 bytes", {.proto = LB_IPPROTO_ICMP, .l4_cut = true, .l4_bytes = 7}, 0,
	 DROP(L4_TRUNCATED)},
	{"icmpv6 header 4 bytes", {.v6 = true, .proto = LB_IPPROTO_ICMPV6, .l4_cut = true,
	 .l4_bytes = 4}, 0, DROP(L4_TRUNCATED)},
	{"tcp data offset 4", {TCP_SYN_V4, .doff = 4}, 0, DROP(BAD_TCP_DOFF)},
	{"tcp data offset 15 beyond the datagram", {TCP_SYN_V4, .doff = 15, .l4_cut = true,
	 .l4_bytes = 56}, 0, DROP(BAD_TCP_DOFF)},
	{"tcp data offset 6 beyond the datagram, padded frame", {TCP_SYN_V6, .doff = 6,
	 .l4_cut = true, .l4_bytes = 20, .pad = 40}, 0, DROP(BAD_TCP_DOFF)},

	/* source address */
	{"source 224.0.0.1", {UDP_V4, .src = "224.0.0.1"}, 0, DROP(MARTIAN)},
	{"source 239.255.255.255", {TCP_SYN_V4, .src = "239.255.255.255"}, 0, DROP(MARTIAN)},
	{"source 127.0.0.1", {TCP_SYN_V4, .src = "127.0.0.1"}, 0, DROP(MARTIAN)},
	{"source 127.255.0.9", {.proto = LB_IPPROTO_ICMP, .src = "127.255.0.9"}, 0,
	 DROP(MARTIAN)},
	{"source 0.0.0.0", {UDP_V4, .src = "0.0.0.0"}, 0, DROP(MARTIAN)},
	{"source 255.255.255.255", {UDP_V4, .src = "255.255.255.255"}, 0, DROP(MARTIAN)},
	{"source ff02::1", {UDP_V6, .src = "ff02::1"}, 0, DROP(MARTIAN)},
	{"source ::1", {TCP_SYN_V6, .src = "::1"}, 0, DROP(MARTIAN)},
	{"source ::", {.v6 = true, .proto = LB_IPPROTO_ICMPV6, .src = "::"}, 0,
	 DROP(MARTIAN)},
	{"arp sender 127.0.0.1", {.arp = true, .src = "127.0.0.1"}, 0, DROP(MARTIAN)},
	{"arp sender 224.0.0.5", {.arp = true, .src = "224.0.0.5"}, 0, DROP(MARTIAN)},
};

static uint32_t
fixture_frame(const struct parse_case *c, uint8_t *f)
{
	uint32_t len = build_frame(&c->in, f);

	if (c->drop == LB_DROP_ZERO_LEN && c->rc == -1)
		return 0;
	if (c->cut)
		len = c->cut;
	return len;
}

#define CHECK_FIELD(got, want)                                                       \
	do {                                                                         \
		if ((unsigned)(got) != (unsigned)(want)) {                           \
			print_error("case \"%s\": %s = %u, want %u\n", c->desc, #got,  \
				    (unsigned)(got), (unsigned)(want));              \
			fail();                                                      \
		}                                                                    \
	} while (0)

static void
check_fields(const struct parse_case *c, const struct lb_pkt *p)
{
	const struct want *w = &c->want;
	uint8_t src[16], dst[16];

	CHECK_FIELD(p->l2_len, w->l2_len);
	CHECK_FIELD(p->l3_len, w->l3_len);
	CHECK_FIELD(p->l4_len, w->l4_len);
	CHECK_FIELD(p->ip_len, w->ip_len);
	CHECK_FIELD(p->ethertype, w->ethertype);
	CHECK_FIELD(p->vlan_tci, w->vlan_tci);
	CHECK_FIELD(p->n_vlans, w->n_vlans);
	CHECK_FIELD(p->kind, w->kind);
	CHECK_FIELD(p->family, w->family);
	CHECK_FIELD(p->proto, w->proto);
	CHECK_FIELD(p->ttl, w->ttl);
	CHECK_FIELD(p->tcp_flags, w->tcp_flags);
	CHECK_FIELD(p->icmp_type, w->icmp_type);
	CHECK_FIELD(p->icmp_code, w->icmp_code);
	CHECK_FIELD(ntohs(p->sport), w->sport);
	CHECK_FIELD(ntohs(p->dport), w->dport);
	addr16(spec_src(&c->in), src);
	addr16(spec_dst(&c->in), dst);
	assert_memory_equal(p->src, src, 16); /* zero-padded to 16 bytes for IPv4 */
	assert_memory_equal(p->dst, dst, 16);
}

/* IHL 0 and data offset 0: a spec's 0 means "default", so these are patched in. */
static void
test_parse_ihl_0_and_doff_0(void **state)
{
	uint8_t f[FRAME_MAX];
	struct spec s = {TCP_SYN_V4};
	struct lb_pkt p;
	enum lb_drop drop;
	uint32_t len = build_frame(&s, f);

	(void)state;
	f[14] = 0x40; /* version 4, IHL 0 */
	assert_int_equal(parse_exact(f, len, &p, &drop), -1);
	assert_int_equal(drop, LB_DROP_BAD_IHL);

	s = (struct spec){TCP_SYN_V6};
	len = build_frame(&s, f);
	f[14 + 40 + 12] = 0x00; /* data offset 0 */
	assert_int_equal(parse_exact(f, len, &p, &drop), -1);
	assert_int_equal(drop, LB_DROP_BAD_TCP_DOFF);
}

static void
test_parse_fixtures(void **state)
{
	uint8_t f[FRAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		struct lb_pkt p;
		enum lb_drop drop = LB_DROP_MAX;

		uint32_t len = fixture_frame(c, f);
		int rc = parse_exact(f, len, &p, &drop);
		if (rc != c->rc || (rc < 0 && drop != c->drop)) {
			print_error("case \"%s\": rc %d drop %s, want rc %d drop %s\n", c->desc, rc,
				    rc < 0 ? lb_drop_names[drop] : "-",
				    c->rc, c->rc < 0 ? lb_drop_names[c->drop] : "-");
			fail();
		}
		if (rc == 0)
			check_fields(c, &p);
	}
}

/* What a frame cut to len bytes must be dropped for, given the full frame's parse. */
static enum lb_drop
truncation_reason(const struct lb_pkt *full, uint32_t len)
{
	uint32_t l3_hdr = full->kind == LB_PKT_ARP ? 28 : full->l3_len;

	if (len == 0)
		return LB_DROP_ZERO_LEN;
	if (len < full->l2_len)
		return LB_DROP_L2_TRUNCATED;
	if (len < (uint32_t)full->l2_len + l3_hdr)
		return LB_DROP_L3_TRUNCATED;
	return LB_DROP_BAD_TOTAL_LEN;
}

static void
test_parse_every_prefix_is_a_truncation(void **state)
{
	uint8_t f[FRAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		struct lb_pkt full, p;
		enum lb_drop drop;

		if (c->rc != 0)
			continue;
		uint32_t len = fixture_frame(c, f);
		assert_int_equal(parse_exact(f, len, &full, &drop), 0);
		uint32_t used = (uint32_t)full.l2_len + full.ip_len;
		for (uint32_t cut = 0; cut < len; cut++) {
			int rc = parse_exact(f, cut, &p, &drop);
			if (cut >= used) { /* only padding was cut */
				assert_int_equal(rc, 0);
				continue;
			}
			enum lb_drop want = truncation_reason(&full, cut);
			if (rc != -1 || drop != want) {
				print_error("case \"%s\" cut to %u: rc %d drop %s, want %s\n", c->desc,
					    cut, rc, rc < 0 ? lb_drop_names[drop] : "-",
					    lb_drop_names[want]);
				fail();
			}
		}
	}
}

/* The parser reads through byte loads, so any alignment of the frame works. */
static void
test_parse_any_alignment(void **state)
{
	uint8_t f[FRAME_MAX], buf[FRAME_MAX + 8];
	struct spec specs[] = {{TCP_SYN_V4, .n_vlans = 1}, {UDP_V6}, {.arp = true}};

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		uint32_t len = build_frame(&specs[i], f);
		for (unsigned shift = 0; shift < 8; shift++) {
			struct lb_pkt p;
			enum lb_drop drop;
			memcpy(buf + shift, f, len);
			assert_int_equal(lb_parse(buf + shift, len, &p, &drop), 0);
		}
	}
}

static uint32_t rng_state = 0x2545f491;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void
check_invariants(const struct lb_pkt *p, uint32_t len, int rc, enum lb_drop drop)
{
	if (rc < 0) {
		assert_int_equal(rc, -1);
		assert_in_range(drop, 0, LB_DROP_MAX - 1);
		return;
	}
	assert_int_equal(rc, 0);
	assert_true((uint32_t)p->l2_len + p->ip_len <= len);
	if (p->kind != LB_PKT_ARP)
		assert_true((uint32_t)p->l3_len + p->l4_len <= p->ip_len);
}

/* Random bytes and random damage to good frames: never a crash or an over-read. */
static void
test_parse_random_frames_stay_in_bounds(void **state)
{
	static const uint16_t ets[] = {0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x1234};
	uint8_t f[FRAME_MAX];
	size_t n_cases = sizeof(cases) / sizeof(cases[0]);

	(void)state;
	for (int i = 0; i < 20000; i++) {
		struct lb_pkt p;
		enum lb_drop drop = LB_DROP_MAX;
		uint32_t len;

		if (i % 2 == 0) {
			len = rnd() % 160;
			for (uint32_t j = 0; j < len; j++)
				f[j] = (uint8_t)rnd();
			/* steer past L2 often enough to reach the deeper layers */
			for (uint32_t off = 12; off + 2 <= len && rnd() % 4 != 0; off += 4)
				put16(f + off, ets[rnd() % 6]);
		} else {
			const struct parse_case *c = &cases[rnd() % n_cases];
			len = fixture_frame(c, f);
			for (int k = rnd() % 4; k >= 0 && len > 0; k--)
				f[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			if (len > 0 && rnd() % 2)
				len = rnd() % (len + 1);
		}
		int rc = parse_exact(f, len, &p, &drop);
		check_invariants(&p, len, rc, drop);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fixtures),
		cmocka_unit_test(test_parse_ihl_0_and_doff_0),
		cmocka_unit_test(test_parse_every_prefix_is_a_truncation),
		cmocka_unit_test(test_parse_any_alignment),
		cmocka_unit_test(test_parse_random_frames_stay_in_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
