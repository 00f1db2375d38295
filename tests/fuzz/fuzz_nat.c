/*
 * fuzz_nat.c - libFuzzer harness for the NAT rewrite (dp/lib/nat.c) with a
 * from-scratch checksum oracle (tests/csum_ref.h).
 *
 * Input: a frame, then 40 bytes of rewrite (new source, new destination, ports,
 * which fields to change), taken from the end of the input. A frame the parser
 * accepts as TCP/UDP with correct checksums is rewritten in software (no offload):
 * afterwards the IPv4 header checksum and the TCP/UDP checksum recomputed from
 * scratch must be correct (an IPv4 UDP checksum of 0, "none", must stay 0), the
 * rewritten fields must hold their new values and nothing else may change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../csum_ref.h"
#include "lb_addr.h"
#include "nat.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RW_LEN 40

/* Checksum over pseudo-header + L4 segment, 0 when right (0xffff folded). */
static uint16_t
l4_sum(const uint8_t *l3, const struct lb_pkt *p)
{
	uint32_t l4len = (uint32_t)p->ip_len - p->l3_len;
	const uint8_t *l4 = l3 + p->l3_len;
	uint32_t acc = 0;
	uint8_t ph[4] = {0, p->proto, (uint8_t)(l4len >> 8), (uint8_t)l4len};

	if (p->family == LB_AF_INET) {
		acc = ref_add(acc, l3 + 12, 8);
	} else {
		acc = ref_add(acc, l3 + 8, 32);
	}
	acc = ref_add(acc, ph, 4);
	acc = ref_add(acc, l4, l4len);
	return (uint16_t)~ref_fold(acc);
}

static uint16_t
ip_sum(const uint8_t *l3)
{
	return (uint16_t)~ref_fold(ref_add(0, l3, 20));
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
	if (lb_parse(f, (uint32_t)flen, &p, &why) < 0 || p.kind != LB_PKT_L4 || p.ttl <= 1)
		goto out;
	uint8_t *l3 = f + p.l2_len;
	uint8_t *l4 = l3 + p.l3_len;
	uint16_t csum_field = p.proto == LB_IPPROTO_TCP ? 16 : 6;
	int udp_none = p.proto == LB_IPPROTO_UDP && p.family == LB_AF_INET && rd16(l4 + 6) == 0;
	/* The oracle needs a correct input: incremental updates keep errors. */
	if (!udp_none && l4_sum(l3, &p) != 0)
		goto out;
	if (p.proto == LB_IPPROTO_UDP && p.family == LB_AF_INET6 && rd16(l4 + 6) == 0)
		goto out; /* IPv6 UDP must carry a checksum; not ours to fix */

	uint8_t src[16] = {0}, dst[16] = {0};
	size_t alen = p.family == LB_AF_INET ? 4 : 16;
	memcpy(src, rwb, alen);
	memcpy(dst, rwb + 16, alen);
	uint8_t which = rwb[32];
	struct lb_nat_rw rw = {0};
	if (which & 1)
		rw.src = src;
	if (which & 2)
		rw.dst = dst;
	if (which & 4)
		memcpy(&rw.sport, rwb + 33, 2);
	if (which & 8)
		memcpy(&rw.dport, rwb + 35, 2);

	uint8_t *before = malloc(flen);
	if (before == NULL)
		goto out;
	memcpy(before, f, flen);
	if (lb_nat_rewrite(l3, &p, &rw, 0) < 0)
		abort(); /* ttl > 1 was checked */
	if (p.family == LB_AF_INET && ip_sum(l3) != 0)
		abort();
	if (udp_none) {
		if (rd16(l4 + 6) != 0)
			abort();
	} else {
		if (l4_sum(l3, &p) != 0)
			abort();
		if (p.proto == LB_IPPROTO_UDP && rd16(l4 + 6) == 0)
			abort(); /* a computed 0 goes out as 0xffff */
	}
	size_t so = p.family == LB_AF_INET ? 12 : 8, dof = p.family == LB_AF_INET ? 16 : 24;
	if (rw.src && memcmp(l3 + so, src, alen) != 0)
		abort();
	if (rw.dst && memcmp(l3 + dof, dst, alen) != 0)
		abort();
	if (rw.sport && memcmp(l4, &rw.sport, 2) != 0)
		abort();
	if (rw.dport && memcmp(l4 + 2, &rw.dport, 2) != 0)
		abort();
	/* Nothing else changed: zero the fields allowed to change, compare. */
	uint8_t *masks[2] = {before, f};
	for (int i = 0; i < 2; i++) {
		uint8_t *a = masks[i] + p.l2_len, *b4 = a + p.l3_len;
		memset(a + so, 0, alen);
		memset(a + dof, 0, alen);
		memset(b4, 0, 4);
		memset(b4 + csum_field, 0, 2);
		if (p.family == LB_AF_INET) {
			a[8] = 0;              /* TTL */
			memset(a + 10, 0, 2); /* header checksum */
		} else {
			a[7] = 0; /* hop limit */
		}
	}
	if (memcmp(before, f, flen) != 0)
		abort();
	free(before);
out:
	free(f);
	return 0;
}
