/*
 * icmp.c - ICMP / ICMPv6 message handling on byte buffers (see icmp.h).
 *
 * Runs on workers (error translation) and on the control thread (echo replies,
 * errors the box originates). Pure C, no state.
 */
#include <stdbool.h>
#include <string.h>

#include "icmp.h"
#include "lb_addr.h"
#include "nat.h"

static inline uint16_t
rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline void
wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

int
lb_icmp_is_error(uint8_t family, uint8_t type)
{
	if (family == LB_AF_INET)
		return type == LB_ICMP_DEST_UNREACH || type == LB_ICMP_TIME_EXCEEDED ||
		       type == LB_ICMP_PARAM_PROBLEM;
	return type == LB_ICMP6_DEST_UNREACH || type == LB_ICMP6_PACKET_TOO_BIG ||
	       type == LB_ICMP6_TIME_EXCEEDED || type == LB_ICMP6_PARAM_PROBLEM;
}

int
lb_icmp_is_echo_request(uint8_t family, uint8_t type)
{
	return type == (family == LB_AF_INET ? LB_ICMP_ECHO_REQUEST : LB_ICMP6_ECHO_REQUEST);
}

int
lb_icmp_inner(const uint8_t *l3, uint32_t len, const struct lb_pkt *outer,
	      struct lb_icmp_inner *in)
{
	uint32_t off = (uint32_t)outer->l3_len + 8, hl;

	memset(in, 0, sizeof(*in));
	if (len < off + 20)
		return -1;
	const uint8_t *ip = l3 + off;
	uint32_t quoted = len - off;
	if (outer->family == LB_AF_INET) {
		if ((ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
			return -1;
		hl = (uint32_t)(ip[0] & 0xf) * 4;
		in->proto = ip[9];
		memcpy(in->src, ip + 12, 4);
		memcpy(in->dst, ip + 16, 4);
	} else {
		if (quoted < 40 || (ip[0] >> 4) != 6)
			return -1;
		hl = 40;
		in->proto = ip[6];
		memcpy(in->src, ip + 8, 16);
		memcpy(in->dst, ip + 24, 16);
	}
	if ((in->proto != LB_IPPROTO_TCP && in->proto != LB_IPPROTO_UDP) || quoted < hl + 8)
		return -1;
	in->off = (uint16_t)off;
	in->len = (uint16_t)quoted;
	in->l4_off = (uint16_t)(off + hl);
	memcpy(&in->sport, l3 + in->l4_off, 2);
	memcpy(&in->dport, l3 + in->l4_off + 2, 2);
	return 0;
}

/* RFC 1624 eqn. 3 over n bytes that change from old to new (n even). */
static uint32_t
delta(uint32_t sum, const uint8_t *old, const uint8_t *new, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 2)
		sum += (uint16_t)~rd16(old + i) + (uint32_t)rd16(new + i);
	return sum;
}

static uint16_t
apply(uint16_t csum, uint32_t d)
{
	uint32_t s = (uint16_t)~csum + d;

	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void
icmp_checksum(uint8_t *l3, const struct lb_pkt *p)
{
	uint8_t *icmp = l3 + p->l3_len;
	uint32_t n = (uint32_t)p->ip_len - p->l3_len;

	icmp[2] = icmp[3] = 0;
	uint16_t c;
	if (p->family == LB_AF_INET)
		c = lb_csum_fold(lb_csum_partial(icmp, n, 0));
	else
		c = lb_l4_cksum(LB_AF_INET6, l3 + 8, l3 + 24, LB_IPPROTO_ICMPV6, icmp, n, 2);
	wr16(icmp + 2, c);
}

static void
ipv4_header_checksum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	wr16(ip + 10, lb_ipv4_cksum(ip, (uint32_t)(ip[0] & 0xf) * 4));
}

int
lb_icmp_rewrite_error(uint8_t *l3, const struct lb_pkt *outer, const struct lb_icmp_inner *in,
		      const struct lb_icmp_rw *rw)
{
	bool v4 = outer->family == LB_AF_INET;
	uint32_t alen = v4 ? 4 : 16;
	uint8_t *ip = l3 + in->off, *l4 = l3 + in->l4_off;
	uint8_t *isrc = ip + (v4 ? 12 : 8), *idst = ip + (v4 ? 16 : 24);
	uint32_t csum_off = in->proto == LB_IPPROTO_TCP ? 16 : 6;
	bool has_csum = (uint32_t)(in->l4_off - in->off) + csum_off + 2 <= in->len;
	uint32_t d = 0;

	if (outer->ttl <= 1)
		return -1;
	/* Quoted datagram: addresses and ports, and what covers them. */
	if (rw->inner_src) {
		d = delta(d, isrc, rw->inner_src, alen);
		memcpy(isrc, rw->inner_src, alen);
	}
	if (rw->inner_dst) {
		d = delta(d, idst, rw->inner_dst, alen);
		memcpy(idst, rw->inner_dst, alen);
	}
	if (rw->inner_sport) {
		d = delta(d, l4, (const uint8_t *)&rw->inner_sport, 2);
		memcpy(l4, &rw->inner_sport, 2);
	}
	if (rw->inner_dport) {
		d = delta(d, l4 + 2, (const uint8_t *)&rw->inner_dport, 2);
		memcpy(l4 + 2, &rw->inner_dport, 2);
	}
	if (has_csum) {
		uint16_t c = rd16(l4 + csum_off);
		/* An IPv4 UDP datagram without checksum keeps none. */
		if (!(in->proto == LB_IPPROTO_UDP && c == 0)) {
			c = apply(c, d);
			if (in->proto == LB_IPPROTO_UDP && c == 0)
				c = 0xffff;
			wr16(l4 + csum_off, c);
		}
	}
	if (v4)
		ipv4_header_checksum(ip);

	/* Outer header. */
	if (v4) {
		if (rw->outer_src)
			memcpy(l3 + 12, rw->outer_src, 4);
		if (rw->outer_dst)
			memcpy(l3 + 16, rw->outer_dst, 4);
		l3[8]--;
		ipv4_header_checksum(l3);
	} else {
		if (rw->outer_src)
			memcpy(l3 + 8, rw->outer_src, 16);
		if (rw->outer_dst)
			memcpy(l3 + 24, rw->outer_dst, 16);
		l3[7]--;
	}
	icmp_checksum(l3, outer);
	return 0;
}

int
lb_icmp_echo_to_reply(uint8_t *l3, const struct lb_pkt *p)
{
	uint8_t tmp[16];

	if (p->kind != LB_PKT_ICMP || !lb_icmp_is_echo_request(p->family, p->icmp_type))
		return -1;
	if (p->family == LB_AF_INET) {
		memcpy(tmp, l3 + 12, 4);
		memcpy(l3 + 12, l3 + 16, 4);
		memcpy(l3 + 16, tmp, 4);
		l3[8] = 64;
		ipv4_header_checksum(l3);
		l3[p->l3_len] = LB_ICMP_ECHO_REPLY;
	} else {
		memcpy(tmp, l3 + 8, 16);
		memcpy(l3 + 8, l3 + 24, 16);
		memcpy(l3 + 24, tmp, 16);
		l3[7] = 64;
		l3[p->l3_len] = LB_ICMP6_ECHO_REPLY;
	}
	icmp_checksum(l3, p);
	return 0;
}

/* Would an error about this datagram be allowed (RFC 1122 3.2.2, RFC 4443 2.4)? */
static bool
quotable(uint8_t family, const uint8_t *orig, uint32_t len)
{
	if (family == LB_AF_INET) {
		if (len < 20 || (orig[0] >> 4) != 4)
			return false;
		uint32_t hl = (uint32_t)(orig[0] & 0xf) * 4;
		if (orig[12] >= 224 || orig[12] == 0 || orig[12] == 127)
			return false; /* multicast/broadcast/unspecified/loopback sender */
		if (orig[9] == LB_IPPROTO_ICMP && len >= hl + 1 &&
		    lb_icmp_is_error(LB_AF_INET, orig[hl]))
			return false;
		return (rd16(orig + 6) & 0x1fff) == 0; /* only about first fragments */
	}
	if (len < 40 || (orig[0] >> 4) != 6 || orig[8] == 0xff)
		return false;
	static const uint8_t unspec[16];
	if (memcmp(orig + 8, unspec, 16) == 0)
		return false;
	if (orig[6] == LB_IPPROTO_ICMPV6 && len >= 41 && orig[40] < 128)
		return false;
	return true;
}

size_t
lb_icmp_error_build(uint8_t *out, size_t cap, uint8_t family, const uint8_t *src,
		    const uint8_t *orig, uint32_t orig_len, uint8_t type, uint8_t code,
		    uint32_t info)
{
	if (cap < 1280 || !quotable(family, orig, orig_len))
		return 0;
	if (family == LB_AF_INET) {
		uint32_t q = orig_len > 576 - 28 ? 576 - 28 : orig_len;
		uint32_t total = 28 + q;
		memset(out, 0, 28);
		out[0] = 0x45;
		wr16(out + 2, (uint16_t)total);
		out[8] = 64;
		out[9] = LB_IPPROTO_ICMP;
		memcpy(out + 12, src, 4);
		memcpy(out + 16, orig + 12, 4);
		ipv4_header_checksum(out);
		out[20] = type;
		out[21] = code;
		if (type == LB_ICMP_DEST_UNREACH && code == LB_ICMP_FRAG_NEEDED)
			wr16(out + 26, (uint16_t)info);
		memcpy(out + 28, orig, q);
		wr16(out + 22, lb_csum_fold(lb_csum_partial(out + 20, 8 + q, 0)));
		return total;
	}
	uint32_t q = orig_len > 1280 - 48 ? 1280 - 48 : orig_len;
	memset(out, 0, 48);
	out[0] = 0x60;
	wr16(out + 4, (uint16_t)(8 + q));
	out[6] = LB_IPPROTO_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, src, 16);
	memcpy(out + 24, orig + 8, 16);
	out[40] = type;
	out[41] = code;
	out[44] = (uint8_t)(info >> 24);
	out[45] = (uint8_t)(info >> 16);
	out[46] = (uint8_t)(info >> 8);
	out[47] = (uint8_t)info;
	memcpy(out + 48, orig, q);
	wr16(out + 42, lb_l4_cksum(LB_AF_INET6, out + 8, out + 24, LB_IPPROTO_ICMPV6, out + 40,
				   8 + q, 2));
	return 48 + q;
}
