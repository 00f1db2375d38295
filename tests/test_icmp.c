/*
 * test_icmp.c - unit tests for dp/lib/icmp.c: classification, echo replies, the quoted
 * datagram of an error, the translation of errors about NATed flows (the three the
 * worker does, dp/fastpath/worker.c "ICMP errors about tracked connections"), and the errors
 * the box originates.
 *
 * Every packet is built here, byte by byte, with checksums from this file's own
 * byte-at-a-time reference (never lb_csum_*() / lb_l4_cksum()); expected outputs are
 * built the same way from scratch and compared byte for byte, and every output is
 * fed back to lb_parse() behind an Ethernet header. Table-driven where it fits, plus
 * a seeded random run of error translations.
 *
 * Build: gcc -std=gnu11 -Iinclude -Idp -Idp/lib dp/lib/icmp.c dp/lib/parse.c dp/lib/nat.c tests/test_icmp.c
 *        -lcmocka
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "icmp.h"
#include "lb_addr.h"
#include "parse.h"
#include "csum_ref.h"

#define FRAME_MAX 4096
#define ETH_LEN 14
#define CANARY 0xa5
#define FULL 0xffff /* quote the whole datagram */

#define EXPECT(what, cond)                                                                \
	do {                                                                              \
		if (!(cond))                                                              \
			fail_msg("%s: %s (line %d)", (what), #cond, __LINE__);           \
	} while (0)

#define EXPECT_MEM(what, a, b, n) expect_mem((what), (a), (b), (n), #a, __LINE__)

static void
expect_mem(const char *what, const void *a, const void *b, size_t n, const char *name, int line)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			fail_msg("%s: %s differs at byte %zu of %zu: 0x%02x, expected 0x%02x "
				 "(line %d)", what, name, i, n, x[i], y[i], line);
}

/* ---- reference checksum: byte at a time, plain loop ---------------------------- */

static uint32_t
rd32(const uint8_t *b)
{
	return (uint32_t)rd16(b) << 16 | rd16(b + 2);
}

static void
put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

/*
 * Checksum of l4[0..len) from scratch, the field at csum_off counted as zero; with
 * the pseudo header unless IPv4 ICMP. UDP's computed 0 goes out as 0xffff.
 */
static uint16_t
ref_l4_cksum(bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	     const uint8_t *l4, uint32_t len, uint32_t csum_off)
{
	static uint8_t copy[FRAME_MAX];
	uint32_t acc = 0;

	if (proto != LB_IPPROTO_ICMP) {
		uint8_t ph[40];
		uint32_t n;
		memset(ph, 0, sizeof(ph));
		if (v6) { /* src, dst, 32-bit length, 3 zero bytes, next header */
			memcpy(ph, src, 16);
			memcpy(ph + 16, dst, 16);
			put32(ph + 32, len);
			ph[39] = proto;
			n = 40;
		} else { /* src, dst, zero, protocol, 16-bit length */
			memcpy(ph, src, 4);
			memcpy(ph + 4, dst, 4);
			ph[9] = proto;
			put16(ph + 10, (uint16_t)len);
			n = 12;
		}
		acc = ref_add(0, ph, n);
	}
	memcpy(copy, l4, len);
	memset(copy + csum_off, 0, 2);
	uint16_t c = (uint16_t)~ref_fold(ref_add(acc, copy, len));
	if (proto == LB_IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
}

/* IPv4 header checksum from scratch over IHL * 4 bytes, the field counted as zero. */
static uint16_t
ref_ipv4_cksum(const uint8_t *ip)
{
	uint8_t copy[60];
	uint32_t hl = (uint32_t)(ip[0] & 0xf) * 4;

	memcpy(copy, ip, hl);
	memset(copy + 10, 0, 2);
	return (uint16_t)~ref_fold(ref_add(0, copy, hl));
}

static uint32_t
csum_off_of(uint8_t proto)
{
	return proto == LB_IPPROTO_TCP ? 16 : proto == LB_IPPROTO_UDP ? 6 : 2;
}

/* ---- packet builders ------------------------------------------------------------ */

static uint32_t
ip_hlen(const uint8_t *ip)
{
	return (ip[0] >> 4) == 6 ? 40 : (uint32_t)(ip[0] & 0xf) * 4;
}

static const uint8_t *
ip_src(const uint8_t *ip)
{
	return ip + ((ip[0] >> 4) == 6 ? 8 : 12);
}

static const uint8_t *
ip_dst(const uint8_t *ip)
{
	return ip + ((ip[0] >> 4) == 6 ? 24 : 16);
}

/*
 * IP header in front of l4_len bytes already at ip + header length. ihl: IPv4
 * header words (5, or more for NOP options); ignored for IPv6.
 */
static uint32_t
put_ip(uint8_t *ip, bool v6, unsigned ihl, const uint8_t *src, const uint8_t *dst,
       uint8_t proto, uint8_t ttl, uint32_t l4_len)
{
	if (v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[1] = 0x0a; /* some traffic class / flow label, kept through every rewrite */
		ip[3] = 0x5e;
		put16(ip + 4, (uint16_t)l4_len);
		ip[6] = proto;
		ip[7] = ttl;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		return 40;
	}
	uint32_t hl = ihl * 4;
	memset(ip, 0, 20);
	memset(ip + 20, 1, hl - 20); /* NOP options */
	ip[0] = (uint8_t)(0x40 | ihl);
	put16(ip + 2, (uint16_t)(hl + l4_len));
	put16(ip + 4, 0x4d2);
	ip[8] = ttl;
	ip[9] = proto;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, ref_ipv4_cksum(ip));
	return hl;
}

struct tuple {
	uint8_t src[16], dst[16];
	uint16_t sport, dport; /* host order */
};

/*
 * A TCP (20-byte header) or UDP datagram with payload p[0..plen), checksums from
 * scratch; udp_nocsum leaves the UDP checksum 0 (none). Returns its length.
 */
static uint32_t
build_dgram(uint8_t *ip, bool v6, unsigned ihl, const struct tuple *t, uint8_t proto,
	    uint8_t ttl, const uint8_t *p, uint32_t plen, bool udp_nocsum)
{
	uint32_t hl = v6 ? 40 : ihl * 4;
	uint8_t *l4 = ip + hl;
	uint32_t h = proto == LB_IPPROTO_TCP ? 20 : 8;

	memset(l4, 0, h);
	put16(l4, t->sport);
	put16(l4 + 2, t->dport);
	if (proto == LB_IPPROTO_TCP) {
		put32(l4 + 4, 0x01020304);
		put32(l4 + 8, 0x0a0b0c0d);
		l4[12] = 5 << 4;
		l4[13] = LB_TCP_PSH | LB_TCP_ACK;
		put16(l4 + 14, 0xfaf0);
	} else {
		put16(l4 + 4, (uint16_t)(h + plen));
	}
	memcpy(l4 + h, p, plen);
	put_ip(ip, v6, ihl, t->src, t->dst, proto, ttl, h + plen);
	uint16_t c = 0;
	if (!(proto == LB_IPPROTO_UDP && udp_nocsum))
		c = ref_l4_cksum(v6, t->src, t->dst, proto, l4, h + plen, csum_off_of(proto));
	put16(l4 + csum_off_of(proto), c);
	return hl + h + plen;
}

/* ICMP / ICMPv6 message: type, code, checksum, 4 bytes "rest", body. */
static uint32_t
build_icmp(uint8_t *ip, bool v6, const uint8_t *src, const uint8_t *dst, uint8_t ttl,
	   uint8_t type, uint8_t code, uint32_t rest, const uint8_t *body, uint32_t blen)
{
	uint32_t hl = v6 ? 40 : 20;
	uint8_t *l4 = ip + hl;
	uint8_t proto = v6 ? LB_IPPROTO_ICMPV6 : LB_IPPROTO_ICMP;

	l4[0] = type;
	l4[1] = code;
	put16(l4 + 2, 0);
	put32(l4 + 4, rest);
	memmove(l4 + 8, body, blen);
	put_ip(ip, v6, 5, src, dst, proto, ttl, 8 + blen);
	put16(l4 + 2, ref_l4_cksum(v6, src, dst, proto, l4, 8 + blen, 2));
	return hl + 8 + blen;
}

/* Ethernet header in front of l3 = frame + ETH_LEN. */
static void
put_eth(uint8_t *frame, bool v6)
{
	memcpy(frame, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	put16(frame + 12, v6 ? LB_ETHERTYPE_IPV6 : LB_ETHERTYPE_IPV4);
}

/* lb_parse() must take frame[0..ETH_LEN + l3_len) as a well-formed ICMP frame. */
static void
parse_ok(const char *what, const uint8_t *frame, uint32_t l3_len, struct lb_pkt *p)
{
	enum lb_drop drop = LB_DROP_MAX;

	if (lb_parse(frame, ETH_LEN + l3_len, p, &drop) != 0)
		fail_msg("%s: lb_parse drops the frame (reason %d)", what, (int)drop);
	bool v6 = (frame[ETH_LEN] >> 4) == 6;
	EXPECT(what, p->kind == LB_PKT_ICMP);
	EXPECT(what, p->family == (v6 ? LB_AF_INET6 : LB_AF_INET));
	EXPECT(what, p->l2_len == ETH_LEN);
	EXPECT(what, p->ip_len == l3_len);
	EXPECT(what, p->icmp_type == frame[ETH_LEN + p->l3_len]);
}

/* The checksums of an IP/ICMP message at ip are what a from-scratch computation gives. */
static void
icmp_checksums_ok(const char *what, const uint8_t *ip)
{
	bool v6 = (ip[0] >> 4) == 6;
	uint32_t hl = ip_hlen(ip);
	uint32_t n = v6 ? rd16(ip + 4) : rd16(ip + 2) - hl;

	if (!v6)
		EXPECT(what, rd16(ip + 10) == ref_ipv4_cksum(ip));
	EXPECT(what, rd16(ip + hl + 2) == ref_l4_cksum(v6, ip_src(ip), ip_dst(ip),
						       v6 ? LB_IPPROTO_ICMPV6 : LB_IPPROTO_ICMP,
						       ip + hl, n, 2));
}

/* ---- addresses ----------------------------------------------------------------- */

enum role { R_NONE, R_CLIENT, R_VIP, R_LOCAL, R_BACKEND, R_ROUTER };

static const uint8_t ADDR4[][16] = {
	[R_CLIENT] = {198, 51, 100, 7},
	[R_VIP] = {203, 0, 113, 10},
	[R_LOCAL] = {10, 1, 0, 2},
	[R_BACKEND] = {10, 2, 0, 20},
	[R_ROUTER] = {192, 0, 2, 254},
};
static const uint8_t ADDR6[][16] = {
	[R_CLIENT] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0c, [15] = 0x07},
	[R_VIP] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0f, [15] = 0x10},
	[R_LOCAL] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x01, [15] = 0x02},
	[R_BACKEND] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x02, [15] = 0x20},
	[R_ROUTER] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xff, [15] = 0xfe},
};
/* Ports of the same roles, host order. */
static const uint16_t PORT[] = {
	[R_CLIENT] = 51000, [R_VIP] = 443, [R_LOCAL] = 40001, [R_BACKEND] = 8443,
};

static const uint8_t *
addr(bool v6, enum role r)
{
	return r == R_NONE ? NULL : v6 ? ADDR6[r] : ADDR4[r];
}

static uint16_t
nport(enum role r)
{
	return r == R_NONE ? 0 : htons(PORT[r]);
}

static void
fill(uint8_t *b, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 3));
}

/* ---- classification ------------------------------------------------------------- */

static void
test_icmp_classifies_errors_and_echo_requests_per_family(void **state)
{
	(void)state;
	static const struct {
		uint8_t family, type;
		bool error, echo;
	} rows[] = {
		{LB_AF_INET, LB_ICMP_ECHO_REPLY, false, false},
		{LB_AF_INET, LB_ICMP_DEST_UNREACH, true, false},
		{LB_AF_INET, 4 /* source quench */, false, false},
		{LB_AF_INET, 5 /* redirect */, false, false},
		{LB_AF_INET, LB_ICMP_ECHO_REQUEST, false, true},
		{LB_AF_INET, LB_ICMP_TIME_EXCEEDED, true, false},
		{LB_AF_INET, LB_ICMP_PARAM_PROBLEM, true, false},
		{LB_AF_INET, 13 /* timestamp */, false, false},
		{LB_AF_INET, LB_ICMP6_ECHO_REQUEST, false, false},
		{LB_AF_INET, LB_ICMP6_PACKET_TOO_BIG, false, false},
		{LB_AF_INET6, 0, false, false},
		{LB_AF_INET6, LB_ICMP6_DEST_UNREACH, true, false},
		{LB_AF_INET6, LB_ICMP6_PACKET_TOO_BIG, true, false},
		{LB_AF_INET6, LB_ICMP6_TIME_EXCEEDED, true, false},
		{LB_AF_INET6, LB_ICMP6_PARAM_PROBLEM, true, false},
		{LB_AF_INET6, LB_ICMP6_ECHO_REQUEST, false, true},
		{LB_AF_INET6, LB_ICMP6_ECHO_REPLY, false, false},
		{LB_AF_INET6, LB_ICMP6_ROUTER_SOLICIT, false, false},
		{LB_AF_INET6, LB_ICMP6_NEIGH_SOLICIT, false, false},
		{LB_AF_INET6, LB_ICMP6_NEIGH_ADVERT, false, false},
		{LB_AF_INET6, LB_ICMP_ECHO_REQUEST, false, false},
		{LB_AF_INET6, LB_ICMP_TIME_EXCEEDED, false, false},
		{LB_AF_INET6, LB_ICMP_PARAM_PROBLEM, false, false},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "family %u type %u", rows[i].family, rows[i].type);
		EXPECT(what, !!lb_icmp_is_error(rows[i].family, rows[i].type) == rows[i].error);
		EXPECT(what, !!lb_icmp_is_echo_request(rows[i].family, rows[i].type) ==
				     rows[i].echo);
	}
}

/* ---- echo replies --------------------------------------------------------------- */

static void
test_icmp_echo_to_reply_swaps_addresses_and_recomputes_checksums(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		bool v6;
		uint8_t ttl;
		uint32_t payload;
	} rows[] = {
		{"IPv4 ping, 56 bytes", false, 57, 56},
		{"IPv4 ping, odd payload", false, 1, 17},
		{"IPv4 ping, no payload", false, 255, 0},
		{"IPv6 ping, 56 bytes", true, 64, 56},
		{"IPv6 ping, odd payload", true, 3, 33},
		{"IPv6 ping, 1000 bytes", true, 200, 1000},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].v6;
		uint8_t frame[FRAME_MAX], want[FRAME_MAX], body[FRAME_MAX];
		uint8_t *l3 = frame + ETH_LEN;
		const uint8_t *c = addr(v6, R_CLIENT), *v = addr(v6, R_VIP);
		uint8_t req = v6 ? LB_ICMP6_ECHO_REQUEST : LB_ICMP_ECHO_REQUEST;
		uint8_t rep = v6 ? LB_ICMP6_ECHO_REPLY : LB_ICMP_ECHO_REPLY;
		struct lb_pkt p;

		fill(body, rows[i].payload, (uint32_t)i);
		put_eth(frame, v6);
		uint32_t n = build_icmp(l3, v6, c, v, rows[i].ttl, req, 0, 0x1234002a, body,
					rows[i].payload);
		parse_ok(what, frame, n, &p);
		EXPECT(what, lb_icmp_echo_to_reply(l3, &p) == 0);

		uint32_t hl = v6 ? 40 : 20;
		EXPECT_MEM(what, ip_src(l3), v, v6 ? 16 : 4);
		EXPECT_MEM(what, ip_dst(l3), c, v6 ? 16 : 4);
		EXPECT(what, l3[hl] == rep);
		EXPECT(what, l3[hl + 1] == 0);
		EXPECT(what, l3[v6 ? 7 : 8] == 64);
		EXPECT(what, rd32(l3 + hl + 4) == 0x1234002a); /* identifier and sequence */
		EXPECT_MEM(what, l3 + hl + 8, body, rows[i].payload);
		icmp_checksums_ok(what, l3);

		/* byte for byte the reply built from scratch */
		uint32_t wn = build_icmp(want, v6, v, c, 64, rep, 0, 0x1234002a, body,
					 rows[i].payload);
		EXPECT(what, wn == n);
		EXPECT_MEM(what, l3, want, n);
		parse_ok(what, frame, n, &p);
		EXPECT(what, p.icmp_type == rep);
	}
}

static void
test_icmp_echo_to_reply_refuses_anything_but_an_echo_request(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		bool v6;
		uint8_t proto, type; /* proto: ICMP(v6), else a UDP datagram */
	} rows[] = {
		{"IPv4 echo reply", false, LB_IPPROTO_ICMP, LB_ICMP_ECHO_REPLY},
		{"IPv4 dest unreachable", false, LB_IPPROTO_ICMP, LB_ICMP_DEST_UNREACH},
		{"IPv4 ICMPv6 echo request type", false, LB_IPPROTO_ICMP, LB_ICMP6_ECHO_REQUEST},
		{"IPv6 echo reply", true, LB_IPPROTO_ICMPV6, LB_ICMP6_ECHO_REPLY},
		{"IPv6 neighbour solicitation", true, LB_IPPROTO_ICMPV6, LB_ICMP6_NEIGH_SOLICIT},
		{"IPv6 ICMPv4 echo request type", true, LB_IPPROTO_ICMPV6, LB_ICMP_ECHO_REQUEST},
		{"IPv4 UDP datagram", false, LB_IPPROTO_UDP, 0},
		{"IPv6 UDP datagram", true, LB_IPPROTO_UDP, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].v6;
		uint8_t frame[FRAME_MAX], before[FRAME_MAX], body[32];
		uint8_t *l3 = frame + ETH_LEN;
		struct lb_pkt p;
		enum lb_drop drop;
		uint32_t n;

		fill(body, sizeof(body), 9);
		put_eth(frame, v6);
		if (rows[i].proto == LB_IPPROTO_UDP) {
			struct tuple t = {.sport = 53, .dport = 53};
			memcpy(t.src, addr(v6, R_CLIENT), 16);
			memcpy(t.dst, addr(v6, R_VIP), 16);
			n = build_dgram(l3, v6, 5, &t, LB_IPPROTO_UDP, 64, body, sizeof(body), false);
		} else {
			n = build_icmp(l3, v6, addr(v6, R_CLIENT), addr(v6, R_VIP), 64, rows[i].type,
				       0, 0x10001, body, sizeof(body));
		}
		EXPECT(what, lb_parse(frame, ETH_LEN + n, &p, &drop) == 0);
		memcpy(before, frame, ETH_LEN + n);
		EXPECT(what, lb_icmp_echo_to_reply(l3, &p) == -1);
		EXPECT_MEM(what, frame, before, ETH_LEN + n);
	}
}

/* ---- the quoted datagram -------------------------------------------------------- */

/*
 * An error from the router to the local address quoting q[0..qlen) in frame, parsed
 * into *p. Returns the error's IP length.
 */
static uint32_t
error_quoting(uint8_t *frame, bool v6, uint8_t ttl, const uint8_t *q, uint32_t qlen,
	      struct lb_pkt *p)
{
	uint8_t type = v6 ? LB_ICMP6_PACKET_TOO_BIG : LB_ICMP_DEST_UNREACH;
	uint8_t code = v6 ? 0 : LB_ICMP_FRAG_NEEDED;
	uint32_t info = v6 ? 1280 : 1400;

	put_eth(frame, v6);
	uint32_t n = build_icmp(frame + ETH_LEN, v6, addr(v6, R_ROUTER), addr(v6, R_LOCAL), ttl,
				type, code, info, q, qlen);
	parse_ok("error_quoting", frame, n, p);
	return n;
}

static void
test_icmp_inner_describes_quoted_tcp_and_udp(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		bool v6;
		uint8_t proto;
		unsigned ihl;
		uint32_t l4_quoted; /* FULL: the whole datagram */
	} rows[] = {
		{"IPv4 TCP, 8 bytes of header", false, LB_IPPROTO_TCP, 5, 8},
		{"IPv4 TCP, whole datagram", false, LB_IPPROTO_TCP, 5, FULL},
		{"IPv4 UDP, 8 bytes of header", false, LB_IPPROTO_UDP, 5, 8},
		{"IPv4 UDP, whole datagram", false, LB_IPPROTO_UDP, 5, FULL},
		{"IPv4 with options, UDP, 8 bytes", false, LB_IPPROTO_UDP, 6, 8},
		{"IPv6 TCP, 8 bytes of header", true, LB_IPPROTO_TCP, 5, 8},
		{"IPv6 TCP, whole datagram", true, LB_IPPROTO_TCP, 5, FULL},
		{"IPv6 UDP, 8 bytes of header", true, LB_IPPROTO_UDP, 5, 8},
		{"IPv6 UDP, whole datagram", true, LB_IPPROTO_UDP, 5, FULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].v6;
		uint8_t frame[FRAME_MAX], orig[FRAME_MAX], body[100];
		struct tuple t = {.sport = PORT[R_LOCAL], .dport = PORT[R_BACKEND]};
		struct lb_icmp_inner in;
		struct lb_pkt p;

		memcpy(t.src, addr(v6, R_LOCAL), 16);
		memcpy(t.dst, addr(v6, R_BACKEND), 16);
		fill(body, sizeof(body), 3);
		uint32_t olen = build_dgram(orig, v6, rows[i].ihl, &t, rows[i].proto, 63, body,
					    sizeof(body), false);
		uint32_t hl = ip_hlen(orig);
		uint32_t q = rows[i].l4_quoted == FULL ? olen : hl + rows[i].l4_quoted;
		uint32_t n = error_quoting(frame, v6, 60, orig, q, &p);
		uint32_t off = (v6 ? 40 : 20) + 8;

		EXPECT(what, lb_icmp_inner(frame + ETH_LEN, n, &p, &in) == 0);
		EXPECT(what, in.off == off);
		EXPECT(what, in.len == q);
		EXPECT(what, in.l4_off == off + hl);
		EXPECT(what, in.proto == rows[i].proto);
		uint8_t want[16] = {0};
		memcpy(want, t.src, v6 ? 16 : 4);
		EXPECT_MEM(what, in.src, want, 16);
		memset(want, 0, 16);
		memcpy(want, t.dst, v6 ? 16 : 4);
		EXPECT_MEM(what, in.dst, want, 16);
		EXPECT(what, in.sport == htons(PORT[R_LOCAL]));
		EXPECT(what, in.dport == htons(PORT[R_BACKEND]));
	}
}

static void
test_icmp_inner_rejects_what_it_cannot_translate(void **state)
{
	(void)state;
	enum bad { NONE, VERSION5, IHL4 };
	static const struct {
		const char *what;
		bool outer_v6, inner_v6;
		uint8_t proto; /* ICMP: an echo request of the inner family */
		unsigned ihl;
		int l4_quoted; /* bytes after the quoted IP header; negative cuts into it */
		enum bad bad;
	} rows[] = {
		{"IPv4 quoting ICMP", false, false, LB_IPPROTO_ICMP, 5, 8, NONE},
		{"IPv6 quoting ICMPv6", true, true, LB_IPPROTO_ICMPV6, 5, 8, NONE},
		{"IPv4 quoting 7 bytes of UDP", false, false, LB_IPPROTO_UDP, 5, 7, NONE},
		{"IPv4 quoting 7 bytes of TCP", false, false, LB_IPPROTO_TCP, 5, 7, NONE},
		{"IPv6 quoting 7 bytes of UDP", true, true, LB_IPPROTO_UDP, 5, 7, NONE},
		{"IPv6 quoting 7 bytes of TCP", true, true, LB_IPPROTO_TCP, 5, 7, NONE},
		{"IPv4 quoting only an IP header", false, false, LB_IPPROTO_UDP, 5, 0, NONE},
		{"IPv6 quoting only an IP header", true, true, LB_IPPROTO_TCP, 5, 0, NONE},
		{"IPv4 quoting part of an IP header", false, false, LB_IPPROTO_UDP, 5, -1, NONE},
		{"IPv6 quoting part of an IP header", true, true, LB_IPPROTO_UDP, 5, -1, NONE},
		{"IPv4 with options, 7 bytes of UDP", false, false, LB_IPPROTO_UDP, 6, 7, NONE},
		{"IPv4 quoting version 5", false, false, LB_IPPROTO_UDP, 5, 8, VERSION5},
		{"IPv6 quoting version 5", true, true, LB_IPPROTO_UDP, 5, 8, VERSION5},
		{"IPv4 quoting IHL 4", false, false, LB_IPPROTO_UDP, 5, 8, IHL4},
		{"IPv4 quoting IPv6 UDP", false, true, LB_IPPROTO_UDP, 5, 8, NONE},
		{"IPv6 quoting IPv4 UDP", true, false, LB_IPPROTO_UDP, 5, 8, NONE},
		{"IPv4 quoting IPv6 TCP, whole", false, true, LB_IPPROTO_TCP, 5, 20, NONE},
		{"IPv6 quoting IPv4 TCP, whole", true, false, LB_IPPROTO_TCP, 5, 20, NONE},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].inner_v6;
		uint8_t frame[FRAME_MAX], orig[FRAME_MAX], body[40];
		struct tuple t = {.sport = 1000, .dport = 2000};
		struct lb_icmp_inner in;
		struct lb_pkt p;
		uint32_t olen;

		memcpy(t.src, addr(v6, R_CLIENT), 16);
		memcpy(t.dst, addr(v6, R_BACKEND), 16);
		fill(body, sizeof(body), 5);
		if (rows[i].proto == LB_IPPROTO_ICMP || rows[i].proto == LB_IPPROTO_ICMPV6)
			olen = build_icmp(orig, v6, t.src, t.dst, 64,
					  v6 ? LB_ICMP6_ECHO_REQUEST : LB_ICMP_ECHO_REQUEST, 0, 7,
					  body, sizeof(body));
		else
			olen = build_dgram(orig, v6, rows[i].ihl, &t, rows[i].proto, 64, body,
					   sizeof(body), false);
		if (rows[i].bad == VERSION5)
			orig[0] = (uint8_t)(0x50 | (orig[0] & 0xf));
		else if (rows[i].bad == IHL4)
			orig[0] = 0x44;
		uint32_t q = (uint32_t)((int)ip_hlen(orig) + rows[i].l4_quoted);
		if (rows[i].bad != NONE) /* ip_hlen() reads the damaged byte */
			q = (v6 ? 40 : 20) + (uint32_t)rows[i].l4_quoted;
		assert_true(q <= olen);
		uint32_t n = error_quoting(frame, rows[i].outer_v6, 60, orig, q, &p);
		EXPECT(what, lb_icmp_inner(frame + ETH_LEN, n, &p, &in) == -1);
	}
}

/* ---- translation of errors about NATed flows ------------------------------------ */

/*
 * The worker's translations: the datagram the error quotes, where the error goes,
 * the struct lb_icmp_rw the worker fills, and the error as it must leave.
 */
struct xlat {
	const char *what;
	enum role q_src, q_dst;         /* quoted datagram, ports of the same roles */
	enum role o_src, o_dst;         /* error as received */
	enum role rw_osrc, rw_odst, rw_isrc, rw_idst, rw_isport, rw_idport;
	enum role x_src, x_dst;         /* error as sent */
	enum role xq_src, xq_sport, xq_dst, xq_dport; /* quoted datagram as sent */
};

static const struct xlat XLATS[] = {
	{"fnat, backend side: quotes local:lp -> b:bp, becomes VIP -> client quoting "
	 "client:cp -> VIP:vp",
	 R_LOCAL, R_BACKEND, R_ROUTER, R_LOCAL,
	 R_VIP, R_CLIENT, R_CLIENT, R_VIP, R_CLIENT, R_VIP,
	 R_VIP, R_CLIENT, R_CLIENT, R_CLIENT, R_VIP, R_VIP},
	{"dnat, backend side: quotes client:cp -> b:bp, becomes quoting client:cp -> VIP:vp",
	 R_CLIENT, R_BACKEND, R_ROUTER, R_CLIENT,
	 R_NONE, R_NONE, R_NONE, R_VIP, R_NONE, R_VIP,
	 R_ROUTER, R_CLIENT, R_CLIENT, R_CLIENT, R_VIP, R_VIP},
	{"fnat, client side: quotes VIP:vp -> client:cp, becomes local -> backend quoting "
	 "b:bp -> local:lp",
	 R_VIP, R_CLIENT, R_ROUTER, R_VIP,
	 R_LOCAL, R_BACKEND, R_BACKEND, R_LOCAL, R_BACKEND, R_LOCAL,
	 R_LOCAL, R_BACKEND, R_BACKEND, R_BACKEND, R_LOCAL, R_LOCAL},
	{"dnat, client side: quotes VIP:vp -> client:cp, becomes -> backend quoting "
	 "b:bp -> client:cp",
	 R_VIP, R_CLIENT, R_ROUTER, R_VIP,
	 R_NONE, R_BACKEND, R_BACKEND, R_NONE, R_BACKEND, R_NONE,
	 R_ROUTER, R_BACKEND, R_BACKEND, R_BACKEND, R_CLIENT, R_CLIENT},
};

struct shape {
	const char *what;
	uint8_t proto;
	uint32_t l4_quoted; /* FULL: the whole datagram */
	bool udp_nocsum;
	unsigned ihl;       /* IPv4 only; rows with ihl > 5 skip IPv6 */
};

static const struct shape SHAPES[] = {
	{"TCP, 8 bytes quoted (no checksum)", LB_IPPROTO_TCP, 8, false, 5},
	{"TCP, 17 bytes quoted (half a checksum)", LB_IPPROTO_TCP, 17, false, 5},
	{"TCP, 18 bytes quoted (checksum)", LB_IPPROTO_TCP, 18, false, 5},
	{"TCP, whole datagram", LB_IPPROTO_TCP, FULL, false, 5},
	{"UDP, 8 bytes quoted", LB_IPPROTO_UDP, 8, false, 5},
	{"UDP, whole datagram", LB_IPPROTO_UDP, FULL, false, 5},
	{"UDP without checksum, 8 bytes", LB_IPPROTO_UDP, 8, true, 5},
	{"UDP without checksum, whole", LB_IPPROTO_UDP, FULL, true, 5},
	{"IPv4 options, TCP, whole", LB_IPPROTO_TCP, FULL, false, 6},
	{"IPv4 options, UDP, 8 bytes", LB_IPPROTO_UDP, 8, false, 7},
};

/* Rewrite the datagram at ip to tuple t ourselves, checksums from scratch. */
static void
ref_translate(uint8_t *ip, uint32_t len, const struct tuple *t)
{
	bool v6 = (ip[0] >> 4) == 6;
	uint32_t hl = ip_hlen(ip), alen = v6 ? 16 : 4;
	uint8_t proto = v6 ? ip[6] : ip[9];
	uint8_t *l4 = ip + hl;
	uint32_t co = csum_off_of(proto);

	memcpy(ip + (v6 ? 8 : 12), t->src, alen);
	memcpy(ip + (v6 ? 24 : 16), t->dst, alen);
	put16(l4, t->sport);
	put16(l4 + 2, t->dport);
	if (!v6)
		put16(ip + 10, ref_ipv4_cksum(ip));
	if (!(proto == LB_IPPROTO_UDP && rd16(l4 + co) == 0)) /* none stays none */
		put16(l4 + co, ref_l4_cksum(v6, t->src, t->dst, proto, l4, len - hl, co));
}

/*
 * The quote of the translated datagram xorig[0..q), as the error must carry it. A
 * checksum cut in half by the quote is nothing a receiver can check, and the
 * rewrite leaves its one byte as it was: so does the expectation.
 */
static void
expected_quote(uint8_t *xorig, const uint8_t *orig, uint32_t q)
{
	uint32_t hl = ip_hlen(orig);
	uint32_t co = csum_off_of((orig[0] >> 4) == 6 ? orig[6] : orig[9]);

	if (q - hl == co + 1)
		xorig[hl + co] = orig[hl + co];
}

/* body: the payload, or NULL for a made-up one */
static void
rewrite_case(const char *what, bool v6, const struct xlat *x, const struct shape *s,
	     const uint8_t *body_in, uint32_t payload)
{
	uint8_t frame[FRAME_MAX], orig[FRAME_MAX], xorig[FRAME_MAX], want[FRAME_MAX];
	uint8_t body[FRAME_MAX];
	uint8_t *l3 = frame + ETH_LEN;
	uint32_t alen = v6 ? 16 : 4;
	struct tuple t = {.sport = PORT[x->q_src], .dport = PORT[x->q_dst]};
	struct tuple xt = {.sport = PORT[x->xq_sport], .dport = PORT[x->xq_dport]};
	struct lb_icmp_inner in, in2;
	struct lb_pkt p;

	memcpy(t.src, addr(v6, x->q_src), 16);
	memcpy(t.dst, addr(v6, x->q_dst), 16);
	memcpy(xt.src, addr(v6, x->xq_src), 16);
	memcpy(xt.dst, addr(v6, x->xq_dst), 16);
	if (body_in)
		memcpy(body, body_in, payload);
	else
		fill(body, payload, payload);

	/* the datagram as the box sent it, and the same datagram translated by us */
	uint32_t olen = build_dgram(orig, v6, s->ihl, &t, s->proto, 61, body, payload,
				    s->udp_nocsum);
	uint32_t hl = ip_hlen(orig);
	uint32_t q = s->l4_quoted == FULL ? olen : hl + s->l4_quoted;
	memcpy(xorig, orig, olen);
	ref_translate(xorig, olen, &xt);
	uint16_t xcsum = rd16(xorig + hl + csum_off_of(s->proto));
	expected_quote(xorig, orig, q);

	uint8_t type = v6 ? LB_ICMP6_PACKET_TOO_BIG : LB_ICMP_DEST_UNREACH;
	uint8_t code = v6 ? 0 : LB_ICMP_FRAG_NEEDED;
	uint32_t info = v6 ? 1280 : 1400;
	put_eth(frame, v6);
	uint32_t n = build_icmp(l3, v6, addr(v6, x->o_src), addr(v6, x->o_dst), 64, type, code,
				info, orig, q);
	memset(l3 + n, CANARY, 64); /* Ethernet padding / the rest of the buffer */
	parse_ok(what, frame, n, &p);
	EXPECT(what, lb_icmp_inner(l3, p.ip_len, &p, &in) == 0);

	struct lb_icmp_rw rw = {
		.outer_src = addr(v6, x->rw_osrc),
		.outer_dst = addr(v6, x->rw_odst),
		.inner_src = addr(v6, x->rw_isrc),
		.inner_dst = addr(v6, x->rw_idst),
		.inner_sport = nport(x->rw_isport),
		.inner_dport = nport(x->rw_idport),
	};
	EXPECT(what, lb_icmp_rewrite_error(l3, &p, &in, &rw) == 0);

	/* outer header */
	EXPECT(what, l3[v6 ? 7 : 8] == 63);
	EXPECT_MEM(what, ip_src(l3), addr(v6, x->x_src), alen);
	EXPECT_MEM(what, ip_dst(l3), addr(v6, x->x_dst), alen);
	/* quoted datagram */
	uint8_t *qip = l3 + in.off, *ql4 = l3 + in.l4_off;
	EXPECT_MEM(what, ip_src(qip), xt.src, alen);
	EXPECT_MEM(what, ip_dst(qip), xt.dst, alen);
	EXPECT(what, rd16(ql4) == xt.sport);
	EXPECT(what, rd16(ql4 + 2) == xt.dport);
	if (!v6)
		EXPECT(what, rd16(qip + 10) == ref_ipv4_cksum(qip));
	uint32_t co = csum_off_of(s->proto);
	if (q - hl >= co + 2) {
		/* the checksum of the translated original, computed from scratch */
		EXPECT(what, rd16(ql4 + co) == xcsum);
		if (s->udp_nocsum)
			EXPECT(what, rd16(ql4 + co) == 0);
	}
	icmp_checksums_ok(what, l3);

	/* byte for byte the error built from scratch around the translated datagram */
	uint32_t wn = build_icmp(want, v6, addr(v6, x->x_src), addr(v6, x->x_dst), 63, type,
				 code, info, xorig, q);
	EXPECT(what, wn == n);
	EXPECT_MEM(what, l3, want, n);
	for (uint32_t i = 0; i < 64; i++)
		EXPECT(what, l3[n + i] == CANARY);

	/* well formed, and its quote reads as the translated flow */
	parse_ok(what, frame, n, &p);
	EXPECT(what, lb_icmp_inner(l3, p.ip_len, &p, &in2) == 0);
	EXPECT_MEM(what, in2.src, xt.src, alen);
	EXPECT_MEM(what, in2.dst, xt.dst, alen);
	EXPECT(what, in2.sport == htons(xt.sport));
	EXPECT(what, in2.dport == htons(xt.dport));
}

static void
test_icmp_rewrite_error_translates_the_workers_three_cases(void **state)
{
	(void)state;
	for (int v = 0; v < 2; v++)
		for (size_t xi = 0; xi < sizeof(XLATS) / sizeof(XLATS[0]); xi++)
			for (size_t si = 0; si < sizeof(SHAPES) / sizeof(SHAPES[0]); si++) {
				if (v && SHAPES[si].ihl != 5)
					continue;
				for (uint32_t payload = 0; payload < 4; payload++) {
					char what[256];
					uint32_t pl = payload * 37 + (payload == 3 ? 900 : 0);
					snprintf(what, sizeof(what), "%s; %s; %s; payload %u",
						 v ? "IPv6" : "IPv4", XLATS[xi].what,
						 SHAPES[si].what, pl);
					rewrite_case(what, v, &XLATS[xi], &SHAPES[si], NULL, pl);
				}
			}
}

/*
 * A payload that makes the UDP checksum of datagram t come out 0 from scratch (sent
 * as 0xffff): its last word is what the sum lacks to reach 0xffff.
 */
static void
payload_for_zero_udp_sum(bool v6, const struct tuple *t, uint8_t *body, uint32_t plen)
{
	uint8_t ip[FRAME_MAX];
	uint32_t hl = v6 ? 40 : 20;

	fill(body, plen, 77);
	put16(body + plen - 2, 0);
	build_dgram(ip, v6, 5, t, LB_IPPROTO_UDP, 9, body, plen, false);
	put16(body + plen - 2, rd16(ip + hl + 6));
	build_dgram(ip, v6, 5, t, LB_IPPROTO_UDP, 9, body, plen, false);
	assert_int_equal(rd16(ip + hl + 6), 0xffff);
}

static void
test_icmp_rewrite_error_udp_checksum_coming_out_zero_is_sent_as_ffff(void **state)
{
	(void)state;
	static const struct shape udp[] = {
		{"UDP, 8 bytes quoted", LB_IPPROTO_UDP, 8, false, 5},
		{"UDP, whole datagram", LB_IPPROTO_UDP, FULL, false, 5},
	};
	for (int v = 0; v < 2; v++)
		for (size_t xi = 0; xi < sizeof(XLATS) / sizeof(XLATS[0]); xi++)
			for (size_t si = 0; si < 2; si++)
				for (int after = 0; after < 2; after++) {
					const struct xlat *x = &XLATS[xi];
					/* the translated datagram, or the one the box sent */
					enum role s = after ? x->xq_src : x->q_src;
					enum role sp = after ? x->xq_sport : x->q_src;
					enum role d = after ? x->xq_dst : x->q_dst;
					enum role dp = after ? x->xq_dport : x->q_dst;
					struct tuple t = {.sport = PORT[sp], .dport = PORT[dp]};
					uint8_t body[64];
					char what[256];

					memcpy(t.src, addr(v, s), 16);
					memcpy(t.dst, addr(v, d), 16);
					payload_for_zero_udp_sum(v, &t, body, sizeof(body));
					snprintf(what, sizeof(what), "%s; %s; %s; 0xffff %s",
						 v ? "IPv6" : "IPv4", x->what, udp[si].what,
						 after ? "after translation" : "before translation");
					rewrite_case(what, v, x, &udp[si], body, sizeof(body));
				}
}

static void
test_icmp_rewrite_error_with_expired_ttl_leaves_message_untouched(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		bool v6;
		uint8_t ttl;
	} rows[] = {
		{"IPv4, TTL 1", false, 1},
		{"IPv4, TTL 0", false, 0},
		{"IPv6, hop limit 1", true, 1},
		{"IPv6, hop limit 0", true, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].v6;
		uint8_t frame[FRAME_MAX], before[FRAME_MAX], orig[FRAME_MAX], body[64];
		struct tuple t = {.sport = PORT[R_LOCAL], .dport = PORT[R_BACKEND]};
		struct lb_icmp_inner in;
		struct lb_pkt p;

		memcpy(t.src, addr(v6, R_LOCAL), 16);
		memcpy(t.dst, addr(v6, R_BACKEND), 16);
		fill(body, sizeof(body), 1);
		uint32_t olen = build_dgram(orig, v6, 5, &t, LB_IPPROTO_UDP, 1, body, sizeof(body),
					    false);
		put_eth(frame, v6);
		uint32_t n = build_icmp(frame + ETH_LEN, v6, addr(v6, R_ROUTER), addr(v6, R_LOCAL),
					rows[i].ttl, v6 ? LB_ICMP6_TIME_EXCEEDED : LB_ICMP_TIME_EXCEEDED,
					0, 0, orig, olen);
		parse_ok(what, frame, n, &p);
		EXPECT(what, lb_icmp_inner(frame + ETH_LEN, n, &p, &in) == 0);
		memcpy(before, frame, ETH_LEN + n);
		struct lb_icmp_rw rw = {
			.outer_src = addr(v6, R_VIP), .outer_dst = addr(v6, R_CLIENT),
			.inner_src = addr(v6, R_CLIENT), .inner_dst = addr(v6, R_VIP),
			.inner_sport = nport(R_CLIENT), .inner_dport = nport(R_VIP),
		};
		EXPECT(what, lb_icmp_rewrite_error(frame + ETH_LEN, &p, &in, &rw) == -1);
		EXPECT_MEM(what, frame, before, ETH_LEN + n);
	}
}

/* xorshift32, fixed seed: the same run every time */
static uint32_t rng_state = 0x1cebe11u;

static uint32_t
rng(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

/* A unicast address lb_parse() accepts as a source. */
static void
rand_addr(bool v6, uint8_t *a)
{
	memset(a, 0, 16);
	for (unsigned i = 0; i < (v6 ? 16u : 4u); i++)
		a[i] = (uint8_t)rng();
	if (v6) {
		a[0] = 0x20;
		a[1] = 0x01;
	} else {
		a[0] = (uint8_t)(1 + rng() % 223);
		if (a[0] == 127)
			a[0] = 128;
	}
}

static uint16_t
rand_port(void)
{
	return (uint16_t)(1 + rng() % 65535);
}

static void
test_icmp_rewrite_error_random_translations_match_scratch_build(void **state)
{
	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		bool v6 = rng() & 1;
		uint8_t proto = rng() & 1 ? LB_IPPROTO_TCP : LB_IPPROTO_UDP;
		unsigned ihl = v6 ? 5 : 5 + (rng() % 4 == 0 ? 1 + rng() % 3 : 0);
		bool nocsum = proto == LB_IPPROTO_UDP && rng() % 8 == 0;
		uint32_t payload = rng() % 300;
		uint8_t ttl = (uint8_t)(2 + rng() % 254);
		uint8_t frame[FRAME_MAX], orig[FRAME_MAX], xorig[FRAME_MAX], want[FRAME_MAX];
		uint8_t body[300], osrc[16], odst[16], nosrc[16], nodst[16];
		struct tuple t, xt;
		struct lb_icmp_rw rw;
		struct lb_icmp_inner in;
		struct lb_pkt p;
		char what[64];

		snprintf(what, sizeof(what), "random case %d", iter);
		for (uint32_t i = 0; i < payload; i++)
			body[i] = (uint8_t)rng();
		rand_addr(v6, t.src);
		rand_addr(v6, t.dst);
		t.sport = rand_port();
		t.dport = rand_port();
		rand_addr(v6, osrc);
		rand_addr(v6, odst);
		rand_addr(v6, nosrc);
		rand_addr(v6, nodst);
		xt = t;
		memset(&rw, 0, sizeof(rw));
		if (rng() & 1)
			rw.outer_src = nosrc;
		if (rng() & 1)
			rw.outer_dst = nodst;
		if (rng() & 1) {
			rand_addr(v6, xt.src);
			rw.inner_src = xt.src;
		}
		if (rng() & 1) {
			rand_addr(v6, xt.dst);
			rw.inner_dst = xt.dst;
		}
		if (rng() & 1) {
			xt.sport = rand_port();
			rw.inner_sport = htons(xt.sport);
		}
		if (rng() & 1) {
			xt.dport = rand_port();
			rw.inner_dport = htons(xt.dport);
		}

		uint32_t olen = build_dgram(orig, v6, ihl, &t, proto, (uint8_t)rng(), body,
					    payload, nocsum);
		uint32_t hl = ip_hlen(orig);
		uint32_t q = hl + 8 + rng() % (olen - hl - 7);
		memcpy(xorig, orig, olen);
		ref_translate(xorig, olen, &xt);
		expected_quote(xorig, orig, q);
		static const uint8_t types4[] = {LB_ICMP_DEST_UNREACH, LB_ICMP_TIME_EXCEEDED,
						 LB_ICMP_PARAM_PROBLEM};
		uint8_t type = v6 ? (uint8_t)(1 + rng() % 4) : types4[rng() % 3];
		uint8_t code = (uint8_t)(rng() % 5);
		uint32_t info = rng();

		put_eth(frame, v6);
		uint32_t n = build_icmp(frame + ETH_LEN, v6, osrc, odst, ttl, type, code, info,
					orig, q);
		parse_ok(what, frame, n, &p);
		EXPECT(what, lb_icmp_inner(frame + ETH_LEN, n, &p, &in) == 0);
		EXPECT(what, lb_icmp_rewrite_error(frame + ETH_LEN, &p, &in, &rw) == 0);
		uint32_t wn = build_icmp(want, v6, rw.outer_src ? nosrc : osrc,
					 rw.outer_dst ? nodst : odst, (uint8_t)(ttl - 1), type, code,
					 info, xorig, q);
		EXPECT(what, wn == n);
		EXPECT_MEM(what, frame + ETH_LEN, want, n);
		parse_ok(what, frame, n, &p);
	}
}

/* ---- errors the box originates -------------------------------------------------- */

enum okind { O_UDP, O_TCP, O_ICMP };

/*
 * The offending datagram: total bytes long, from sender (NULL: the client) to the
 * VIP; O_ICMP carries an ICMP message of icmp_type; frag: IPv4 flags/offset word.
 */
static uint32_t
build_orig(uint8_t *ip, bool v6, enum okind k, uint8_t icmp_type, uint32_t total,
	   const uint8_t *sender, uint16_t frag)
{
	static uint8_t body[FRAME_MAX];
	struct tuple t = {.sport = PORT[R_CLIENT], .dport = PORT[R_VIP]};
	uint32_t hl = v6 ? 40 : 20, n;

	memcpy(t.src, sender ? sender : addr(v6, R_CLIENT), 16);
	memcpy(t.dst, addr(v6, R_VIP), 16);
	fill(body, total, total);
	if (k == O_ICMP)
		n = build_icmp(ip, v6, t.src, t.dst, 60, icmp_type, 0, 0, body, total - hl - 8);
	else
		n = build_dgram(ip, v6, 5, &t, k == O_TCP ? LB_IPPROTO_TCP : LB_IPPROTO_UDP, 60,
				body, total - hl - (k == O_TCP ? 20 : 8), false);
	if (frag) {
		put16(ip + 6, frag);
		put16(ip + 10, ref_ipv4_cksum(ip));
	}
	assert_int_equal(n, total);
	return n;
}

static void
test_icmp_error_build_quotes_offender_within_minimum_mtu(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		bool v6;
		enum okind k;
		uint8_t icmp_type; /* O_ICMP */
		uint16_t frag;
		uint32_t orig_len;
		uint8_t type, code;
		uint32_t info;
		uint32_t want_len;
	} rows[] = {
		{"IPv4 frag needed, 1500-byte UDP: cut to 576", false, O_UDP, 0, 0, 1500,
		 LB_ICMP_DEST_UNREACH, LB_ICMP_FRAG_NEEDED, 1400, 576},
		{"IPv4 frag needed, 548-byte TCP fits exactly", false, O_TCP, 0, 0, 548,
		 LB_ICMP_DEST_UNREACH, LB_ICMP_FRAG_NEEDED, 1280, 576},
		{"IPv4 frag needed, 549-byte TCP: one byte cut", false, O_TCP, 0, 0, 549,
		 LB_ICMP_DEST_UNREACH, LB_ICMP_FRAG_NEEDED, 0xfffe, 576},
		{"IPv4 frag needed, first fragment (MF) quoted", false, O_UDP, 0, 0x2000, 1500,
		 LB_ICMP_DEST_UNREACH, LB_ICMP_FRAG_NEEDED, 1400, 576},
		{"IPv4 time exceeded, small TCP quoted whole", false, O_TCP, 0, 0, 51,
		 LB_ICMP_TIME_EXCEEDED, 0, 0, 79},
		{"IPv4 time exceeded about an echo request", false, O_ICMP, LB_ICMP_ECHO_REQUEST, 0,
		 84, LB_ICMP_TIME_EXCEEDED, 0, 0, 112},
		{"IPv6 packet too big, 1500-byte UDP: cut to 1280", true, O_UDP, 0, 0, 1500,
		 LB_ICMP6_PACKET_TOO_BIG, 0, 1280, 1280},
		{"IPv6 packet too big, 32-bit MTU", true, O_TCP, 0, 0, 1400,
		 LB_ICMP6_PACKET_TOO_BIG, 0, 0x01021170, 1280},
		{"IPv6 packet too big, 1232-byte TCP fits exactly", true, O_TCP, 0, 0, 1232,
		 LB_ICMP6_PACKET_TOO_BIG, 0, 1280, 1280},
		{"IPv6 packet too big, 1233-byte UDP: one byte cut", true, O_UDP, 0, 0, 1233,
		 LB_ICMP6_PACKET_TOO_BIG, 0, 1280, 1280},
		{"IPv6 time exceeded, small UDP quoted whole", true, O_UDP, 0, 0, 61,
		 LB_ICMP6_TIME_EXCEEDED, 0, 0, 109},
		{"IPv6 time exceeded about an echo request", true, O_ICMP, LB_ICMP6_ECHO_REQUEST, 0,
		 104, LB_ICMP6_TIME_EXCEEDED, 0, 0, 152},
		{"IPv6 time exceeded about a neighbour solicitation", true, O_ICMP,
		 LB_ICMP6_NEIGH_SOLICIT, 0, 72, LB_ICMP6_TIME_EXCEEDED, 0, 0, 120},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].v6;
		uint8_t orig[FRAME_MAX], frame[FRAME_MAX];
		uint8_t *out = frame + ETH_LEN;
		uint32_t alen = v6 ? 16 : 4, hl = v6 ? 40 : 20;
		const uint8_t *self = addr(v6, R_LOCAL);
		struct lb_pkt p;

		uint32_t olen = build_orig(orig, v6, rows[i].k, rows[i].icmp_type, rows[i].orig_len,
					   NULL, rows[i].frag);
		memset(frame, CANARY, sizeof(frame));
		put_eth(frame, v6);
		size_t n = lb_icmp_error_build(out, sizeof(frame) - ETH_LEN, v6 ? LB_AF_INET6 :
					       LB_AF_INET, self, orig, olen, rows[i].type,
					       rows[i].code, rows[i].info);
		EXPECT(what, n == rows[i].want_len);
		EXPECT(what, n <= (v6 ? 1280u : 576u));
		for (size_t j = n; j < sizeof(frame) - ETH_LEN; j++)
			EXPECT(what, out[j] == CANARY);

		/* IP header */
		EXPECT(what, (out[0] >> 4) == (v6 ? 6 : 4));
		if (v6) {
			EXPECT(what, rd16(out + 4) == n - 40);
			EXPECT(what, out[6] == LB_IPPROTO_ICMPV6);
			EXPECT(what, out[7] > 1);
		} else {
			EXPECT(what, out[0] == 0x45);
			EXPECT(what, rd16(out + 2) == n);
			EXPECT(what, (rd16(out + 6) & 0x3fff) == 0); /* not a fragment */
			EXPECT(what, out[8] > 1);
			EXPECT(what, out[9] == LB_IPPROTO_ICMP);
		}
		EXPECT_MEM(what, ip_src(out), self, alen);
		EXPECT_MEM(what, ip_dst(out), ip_src(orig), alen); /* back to the sender */
		/* ICMP header */
		EXPECT(what, out[hl] == rows[i].type);
		EXPECT(what, out[hl + 1] == rows[i].code);
		if (v6)
			EXPECT(what, rd32(out + hl + 4) == rows[i].info);
		else if (rows[i].type == LB_ICMP_DEST_UNREACH &&
			 rows[i].code == LB_ICMP_FRAG_NEEDED)
			EXPECT(what, rd16(out + hl + 4) == 0 && rd16(out + hl + 6) == rows[i].info);
		else
			EXPECT(what, rd32(out + hl + 4) == 0);
		/* as much of the offender as fits */
		EXPECT_MEM(what, out + hl + 8, orig, n - hl - 8);
		icmp_checksums_ok(what, out);

		parse_ok(what, frame, (uint32_t)n, &p);
		EXPECT(what, p.icmp_type == rows[i].type);
		EXPECT(what, p.icmp_code == rows[i].code);
		EXPECT_MEM(what, p.dst, ip_src(orig), alen);
	}
}

static void
test_icmp_error_build_refuses_errors_it_must_not_send(void **state)
{
	(void)state;
	static const uint8_t mcast4[16] = {224, 0, 0, 5}, ssdp4[16] = {239, 255, 255, 250},
			     bcast4[16] = {255, 255, 255, 255}, zero4[16] = {0},
			     mcast6[16] = {0xff, 0x02, [15] = 1}, zero6[16] = {0};
	static const struct {
		const char *what;
		bool v6;
		enum okind k;
		uint8_t icmp_type;
		uint16_t frag;
		const uint8_t *sender;
		size_t cap;
	} rows[] = {
		{"IPv4 about a destination unreachable", false, O_ICMP, LB_ICMP_DEST_UNREACH, 0,
		 NULL, 1500},
		{"IPv4 about a time exceeded", false, O_ICMP, LB_ICMP_TIME_EXCEEDED, 0, NULL, 1500},
		{"IPv4 about a parameter problem", false, O_ICMP, LB_ICMP_PARAM_PROBLEM, 0, NULL,
		 1500},
		{"IPv6 about a destination unreachable", true, O_ICMP, LB_ICMP6_DEST_UNREACH, 0, NULL,
		 1500},
		{"IPv6 about a packet too big", true, O_ICMP, LB_ICMP6_PACKET_TOO_BIG, 0, NULL, 1500},
		{"IPv6 about a time exceeded", true, O_ICMP, LB_ICMP6_TIME_EXCEEDED, 0, NULL, 1500},
		{"IPv6 about a parameter problem", true, O_ICMP, LB_ICMP6_PARAM_PROBLEM, 0, NULL,
		 1500},
		{"IPv4 non-first fragment", false, O_UDP, 0, 185, NULL, 1500},
		{"IPv4 non-first fragment, more follow", false, O_UDP, 0, 0x2000 | 185, NULL, 1500},
		{"IPv4 non-first fragment, DF and offset 1", false, O_TCP, 0, 0x4001, NULL, 1500},
		{"IPv4 multicast sender", false, O_UDP, 0, 0, mcast4, 1500},
		{"IPv4 multicast sender 239/8", false, O_UDP, 0, 0, ssdp4, 1500},
		{"IPv4 broadcast sender", false, O_UDP, 0, 0, bcast4, 1500},
		{"IPv4 unspecified sender", false, O_UDP, 0, 0, zero4, 1500},
		{"IPv6 multicast sender", true, O_UDP, 0, 0, mcast6, 1500},
		{"IPv6 unspecified sender", true, O_UDP, 0, 0, zero6, 1500},
		{"IPv4, buffer of 1279 bytes", false, O_UDP, 0, 0, NULL, 1279},
		{"IPv6, buffer of 1279 bytes", true, O_UDP, 0, 0, NULL, 1279},
		{"IPv4, no buffer", false, O_UDP, 0, 0, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = rows[i].what;
		bool v6 = rows[i].v6;
		uint8_t orig[FRAME_MAX], out[FRAME_MAX];

		uint32_t olen = build_orig(orig, v6, rows[i].k, rows[i].icmp_type, 300,
					   rows[i].sender, rows[i].frag);
		uint8_t type = v6 ? LB_ICMP6_PACKET_TOO_BIG : LB_ICMP_DEST_UNREACH;
		uint8_t code = v6 ? 0 : LB_ICMP_FRAG_NEEDED;
		EXPECT(what, lb_icmp_error_build(out, rows[i].cap, v6 ? LB_AF_INET6 : LB_AF_INET,
						 addr(v6, R_LOCAL), orig, olen, type, code,
						 1280) == 0);
		type = v6 ? LB_ICMP6_TIME_EXCEEDED : LB_ICMP_TIME_EXCEEDED;
		EXPECT(what, lb_icmp_error_build(out, rows[i].cap, v6 ? LB_AF_INET6 : LB_AF_INET,
						 addr(v6, R_LOCAL), orig, olen, type, 0, 0) == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icmp_classifies_errors_and_echo_requests_per_family),
		cmocka_unit_test(test_icmp_echo_to_reply_swaps_addresses_and_recomputes_checksums),
		cmocka_unit_test(test_icmp_echo_to_reply_refuses_anything_but_an_echo_request),
		cmocka_unit_test(test_icmp_inner_describes_quoted_tcp_and_udp),
		cmocka_unit_test(test_icmp_inner_rejects_what_it_cannot_translate),
		cmocka_unit_test(test_icmp_rewrite_error_translates_the_workers_three_cases),
		cmocka_unit_test(test_icmp_rewrite_error_udp_checksum_coming_out_zero_is_sent_as_ffff),
		cmocka_unit_test(test_icmp_rewrite_error_with_expired_ttl_leaves_message_untouched),
		cmocka_unit_test(test_icmp_rewrite_error_random_translations_match_scratch_build),
		cmocka_unit_test(test_icmp_error_build_quotes_offender_within_minimum_mtu),
		cmocka_unit_test(test_icmp_error_build_refuses_errors_it_must_not_send),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
