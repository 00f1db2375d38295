/*
 * exc_limit.h - the exception path's rate limit: a token bucket on the TSC, and
 * which packets for the box's kernel are routing-protocol traffic.
 *
 * Pure code (no EAL, no threads): each bucket belongs to the one thread that takes
 * from it (a worker for the packets it hands to the kernel, the control thread for
 * its ARP/NDP copies), so nothing here is atomic. The caller passes the time
 * (rte_rdtsc() in the dp, anything in unit tests).
 *
 * The bucket counts in integer "credit": every TSC tick adds `rate` credit, a
 * packet costs `hz` credit, and the bucket holds at most `burst * hz`. No division
 * per packet, no rounding of the rate, and no overflow however long the bucket sat
 * idle (the refill is clamped before it is multiplied). Elapsed time is the
 * unsigned difference of two TSC readings, right across a wrap of the counter; a
 * reading earlier than the last one (another core's TSC) refills nothing.
 */
#ifndef LB_EXC_LIMIT_H
#define LB_EXC_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lb_addr.h"
#include "parse.h" /* LB_IPPROTO_* */

struct lb_exc_tb {
	uint64_t credit;  /* tokens * hz */
	uint64_t cap;     /* burst * hz */
	uint64_t rate;    /* tokens per second; 0 = no limit */
	uint64_t hz;      /* clock ticks per second */
	uint64_t last;    /* clock at the last refill */
};

/* A full bucket of burst tokens refilled at rate per second (0: every take succeeds). */
static inline void
lb_exc_tb_init(struct lb_exc_tb *b, uint64_t rate, uint64_t burst, uint64_t hz, uint64_t now)
{
	b->rate = rate;
	b->hz = hz ? hz : 1;
	b->cap = (burst ? burst : 1) * b->hz;
	b->credit = b->cap;
	b->last = now;
}

static inline void
lb_exc_tb_refill(struct lb_exc_tb *b, uint64_t now)
{
	uint64_t dt = now - b->last; /* modulo 2^64: a wrap of the TSC is a small step */

	if (dt > INT64_MAX)
		return; /* now is before last: keep last, refill nothing */
	b->last = now;
	uint64_t room = b->cap - b->credit;
	if (dt >= room / b->rate + 1)
		b->credit = b->cap; /* dt * rate > room: full (and no overflow) */
	else
		b->credit += dt * b->rate;
}

/* Take one token at time now: true if there was one. */
static inline bool
lb_exc_tb_take(struct lb_exc_tb *b, uint64_t now)
{
	if (b->rate == 0)
		return true;
	lb_exc_tb_refill(b, now);
	if (b->credit < b->hz)
		return false;
	b->credit -= b->hz;
	return true;
}

/* Whole tokens in the bucket at time now (tests, stats). */
static inline uint64_t
lb_exc_tb_tokens(struct lb_exc_tb *b, uint64_t now)
{
	if (b->rate == 0)
		return UINT64_MAX;
	lb_exc_tb_refill(b, now);
	return b->credit / b->hz;
}

/* The classes of the exception path (docs/configuration.md, dp.exception_*). */
enum lb_exc_class {
	LB_EXC_GENERAL = 0, /* ssh, anything else for the box's own addresses */
	LB_EXC_PRIORITY,    /* BGP and BFD from a trusted source (below) */
	LB_EXC_NCLASS,
};

#define LB_EXC_BGP_PORT 179
#define LB_EXC_BFD_PORT 3784      /* single hop (RFC 5881) */
#define LB_EXC_BFD_MH_PORT 4784   /* multihop (RFC 5883) */

/*
 * BGP (TCP port 179 at either end: the peer's connection to the box, or the box's
 * to the peer) or a BFD control packet (UDP to 3784 or 4784). Ports in network
 * order, proto LB_IPPROTO_*.
 */
static inline bool
lb_exc_routing_proto(uint8_t proto, uint16_t sport_be, uint16_t dport_be)
{
	uint16_t sp = (uint16_t)((sport_be >> 8) | (sport_be << 8));
	uint16_t dp = (uint16_t)((dport_be >> 8) | (dport_be << 8));

	if (proto == LB_IPPROTO_TCP)
		return sp == LB_EXC_BGP_PORT || dp == LB_EXC_BGP_PORT;
	if (proto == LB_IPPROTO_UDP)
		return dp == LB_EXC_BFD_PORT || dp == LB_EXC_BFD_MH_PORT;
	return false;
}

/* Whether address a (16 bytes, IPv4 in the first 4) of family lies in net/len. */
static inline bool
lb_exc_in_subnet(uint8_t family, const uint8_t *a, const struct lb_addr *net, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (net->family != family)
		return false;
	if (memcmp(net->bytes, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff00u >> rest);
	return (net->bytes[full] & m) == (a[full] & m);
}

#endif /* LB_EXC_LIMIT_H */
