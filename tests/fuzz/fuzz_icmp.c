/*
 * fuzz_icmp.c - libFuzzer harness for ICMP error translation (dp/lib/icmp.c).
 *
 * Input: a frame, then 70 bytes of rewrite (outer and quoted addresses, quoted
 * ports, which to change) from the end of the input. An ICMP / ICMPv6 error the
 * parser accepts, with a correct ICMP checksum and a quoted TCP/UDP datagram, is
 * rewritten: afterwards the outer IPv4 header checksum and the ICMP checksum,
 * recomputed from scratch, must be right, and the changed fields must hold their
 * new values. Also builds an error about any accepted datagram
 * (lb_icmp_error_build) and checks its checksums the same way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../csum_ref.h"
#include "icmp.h"
#include "lb_addr.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RW_LEN 70

/* ICMP (IPv4) or ICMPv6 (with its pseudo-header) sum over l3's payload; 0 = right. */
static uint16_t
icmp_sum(const uint8_t *l3, uint8_t family, uint32_t l3_len, uint32_t ip_len)
{
	uint32_t n = ip_len - l3_len, acc = 0;

	if (family == LB_AF_INET6) {
		uint8_t ph[8] = {0, 0, (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, 58};
		acc = ref_add(acc, l3 + 8, 32);
		acc = ref_add(acc, ph, 8);
	}
	acc = ref_add(acc, l3 + l3_len, n);
	return (uint16_t)~ref_fold(acc);
}

static uint16_t
ip_sum(const uint8_t *l3)
{
	return (uint16_t)~ref_fold(ref_add(0, l3, 20));
}

static void
check_built(const uint8_t *l3, uint32_t len, uint8_t family)
{
	uint8_t out[1600];
	static const uint8_t src[16] = {198, 18, 0, 2};
	static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 2};
	size_t n = lb_icmp_error_build(out, sizeof(out), family, family == LB_AF_INET ? src : src6,
				       l3, len, family == LB_AF_INET ? 11 : 3, 0, 0);
	if (n == 0)
		return;
	uint32_t l3_len = family == LB_AF_INET ? 20 : 40;
	if (n > sizeof(out) || n < l3_len + 8)
		abort();
	if (family == LB_AF_INET && ip_sum(out) != 0)
		abort();
	if (icmp_sum(out, family, l3_len, (uint32_t)n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_pkt p;
	enum lb_drop why;

	if (size < RW_LEN + 14)
		return 0;
	size_t flen = size - RW_LEN;
	const uint8_t *rwb = data + flen;
	uint8_t *f = malloc(flen);
	if (f == NULL)
		return 0;
	memcpy(f, data, flen);
	if (lb_parse(f, (uint32_t)flen, &p, &why) < 0 || p.kind == LB_PKT_ARP)
		goto out;
	uint8_t *l3 = f + p.l2_len;
	check_built(l3, p.ip_len, p.family);
	if (p.kind != LB_PKT_ICMP || !lb_icmp_is_error(p.family, p.icmp_type) || p.ttl <= 1 ||
	    icmp_sum(l3, p.family, p.l3_len, p.ip_len) != 0)
		goto out;
	struct lb_icmp_inner in;
	if (lb_icmp_inner(l3, p.ip_len, &p, &in) < 0)
		goto out;
	if ((uint32_t)in.off + in.len > p.ip_len || in.l4_off < in.off)
		abort();
	size_t alen = p.family == LB_AF_INET ? 4 : 16;
	uint8_t a[4][16] = {{0}};
	for (int i = 0; i < 4; i++)
		memcpy(a[i], rwb + 16 * i, alen);
	uint8_t which = rwb[64];
	struct lb_icmp_rw rw = {0};
	if (which & 1)
		rw.outer_src = a[0];
	if (which & 2)
		rw.outer_dst = a[1];
	if (which & 4)
		rw.inner_src = a[2];
	if (which & 8)
		rw.inner_dst = a[3];
	if (which & 16)
		memcpy(&rw.inner_sport, rwb + 65, 2);
	if (which & 32)
		memcpy(&rw.inner_dport, rwb + 67, 2);
	if (lb_icmp_rewrite_error(l3, &p, &in, &rw) < 0)
		abort(); /* ttl > 1 was checked */
	if (p.family == LB_AF_INET && ip_sum(l3) != 0)
		abort();
	if (icmp_sum(l3, p.family, p.l3_len, p.ip_len) != 0)
		abort();
	size_t so = p.family == LB_AF_INET ? 12 : 8, dof = p.family == LB_AF_INET ? 16 : 24;
	if (rw.outer_src && memcmp(l3 + so, a[0], alen) != 0)
		abort();
	if (rw.outer_dst && memcmp(l3 + dof, a[1], alen) != 0)
		abort();
	if (rw.inner_src && memcmp(l3 + in.off + so, a[2], alen) != 0)
		abort();
	if (rw.inner_dst && memcmp(l3 + in.off + dof, a[3], alen) != 0)
		abort();
	if (rw.inner_sport && memcmp(l3 + in.l4_off, &rw.inner_sport, 2) != 0)
		abort();
	if (rw.inner_dport && memcmp(l3 + in.l4_off + 2, &rw.inner_dport, 2) != 0)
		abort();
out:
	free(f);
	return 0;
}
