/*
 * scheduler.h - IPVS's schedulers for new flows: rr, wrr, lc, wlc, sh, dh, sed, nq.
 *
 * The dp control thread builds a service's pick set with lb_sched_build() when it
 * builds the service object (dp/tables/service.c); worker lcores call
 * lb_sched_pick() for a new flow, after conntrack and ClientIP affinity missed
 * (dp/fastpath/pick.h). Maglev (the default) stays in maglev.h. Pure C, no DPDK,
 * no EAL, no locks: the set is immutable once built, the cursor belongs to one
 * worker, connection counts come through a callback from the worker's own counters.
 *
 * The formulas are Linux IPVS's (net/netfilter/ipvs/ip_vs_*.c), over the backends
 * that take new flows (weight > 0, in the service's sorted backend order):
 *   rr   next backend in turn.
 *   wrr  interleaved weighted round robin: a current weight cw steps down by
 *        gcd(weights) each pass from max(weights); the next backend with
 *        weight >= cw is taken. Over a cycle each gets weight/gcd flows.
 *   lc   least overhead = active * 256 + inactive; ties go to the first.
 *        Active, as IPVS's tcp_state_active(): a TCP connection in its handshake
 *        or established (conntrack SYN, ESTABLISHED, UNCONFIRMED); inactive: TCP
 *        closing or closed (FIN/RST seen, kept for its timeout) and every UDP flow
 *        (ipvsadm shows UDP under InActConn). See lb_sched_ct_active().
 *   wlc  least overhead / weight (overhead as lc), compared as loh * w > doh * lw.
 *   sed  least (active + 1) / weight (shortest expected delay).
 *   nq   the first backend with no active connection, else as sed (never queue).
 *   sh   a 2^bits bucket table (bits = 8, more for > 256 backends) filled by
 *        weight (backend k takes weight_k / gcd consecutive buckets, cycling);
 *        bucket = hash_32(client address folded to 32 bits).
 *   dh   the same table, unweighted (one bucket per backend, cycling);
 *        bucket = hash_32(destination address) - the VIP, so one service sends
 *        every new flow to one backend, as IPVS's dh does for a virtual service.
 * hash_32(v) = (v * 0x61c88647) >> (32 - bits): the kernel's, no seed, so every
 * box with the same backends answers the same.
 */
#ifndef LB_SCHEDULER_H
#define LB_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "conntrack.h"
#include "lb_model.h"

#define LB_SCHED_NONE 0xffffu     /* no backend takes new flows */
#define LB_SCHED_HASH_BITS 8      /* IPVS's IP_VS_SH_TAB_BITS / IP_VS_DH_TAB_BITS */
#define LB_SCHED_GOLDEN 0x61c88647u

/* What a service's scheduler picks from; built on the control thread, then immutable. */
struct lb_sched_set {
	uint8_t kind;            /* enum lb_sched */
	uint8_t bits;            /* sh/dh: the bucket table has 1 << bits entries */
	uint16_t max_w, gcd_w;   /* over weight[] */
	uint32_t n;              /* backends that take new flows */
	uint16_t *idx;           /* [n]: index into the service's sorted backends */
	uint16_t *weight;        /* [n]: every one > 0 */
	uint16_t *bucket;        /* sh/dh: [1 << bits] positions in idx[]; else NULL */
};

/* One worker's place in one service's rr/wrr order (IPVS's sched_data). */
struct lb_sched_cursor {
	uint32_t version;  /* of the service object the cursor was last used with */
	int32_t i;         /* position in idx[] of the last pick */
	int32_t cw;        /* wrr: current weight */
};

/*
 * A backend's connections as the caller counts them: bi is the backend's index in
 * the service's sorted backends (an idx[] value). The dp passes its worker's counts.
 */
typedef void (*lb_sched_load_fn)(void *arg, uint32_t bi, uint32_t *active,
				 uint32_t *inactive);

/*
 * Build set for scheduler kind over n backends whose weights are w[] (0: takes no
 * new flows). n at most LB_MAX_BACKENDS_PER_SVC. Returns 0, LB_EINVAL or LB_ENOMEM;
 * on error set is left empty. lb_sched_free() releases what it allocated.
 */
int lb_sched_build(struct lb_sched_set *set, uint8_t kind, const uint16_t *w, uint32_t n);
void lb_sched_free(struct lb_sched_set *set);

/* Put a cursor where a fresh one starts (IPVS's init_service). */
void lb_sched_cursor_reset(struct lb_sched_cursor *c, uint32_t version);

/*
 * The backend for a new flow: an index into the service's sorted backends, or
 * LB_SCHED_NONE. version is the service object's: a cursor used with another
 * version is reset for wrr (IPVS resets on a destination change) and wrapped for
 * rr. load is needed for lc/wlc/sed/nq, src/dst (16 bytes, family) for sh/dh.
 */
uint32_t lb_sched_pick(const struct lb_sched_set *set, struct lb_sched_cursor *c,
		       uint32_t version, lb_sched_load_fn load, void *arg, uint8_t family,
		       const uint8_t *src, const uint8_t *dst);

/* The formulas one by one, for the tests and the docs. */
uint32_t lb_sched_rr(const struct lb_sched_set *set, struct lb_sched_cursor *c);
uint32_t lb_sched_wrr(const struct lb_sched_set *set, struct lb_sched_cursor *c);
uint32_t lb_sched_least(const struct lb_sched_set *set, lb_sched_load_fn load, void *arg);
uint32_t lb_sched_hash(const struct lb_sched_set *set, uint8_t family, const uint8_t *addr);
/* lc/wlc: active * 256 + inactive; sed/nq: active + 1 (saturating). */
uint32_t lb_sched_overhead(uint8_t kind, uint32_t active, uint32_t inactive);
/* Whether a connection in conntrack state ct_state (enum lb_ct_state) counts as active.
 * Inline: the worker asks on every insert, expiry and TCP state change. */
static inline bool
lb_sched_ct_active(uint8_t ct_state)
{
	return ct_state == LB_CT_TCP_SYN || ct_state == LB_CT_TCP_ESTABLISHED ||
	       ct_state == LB_CT_TCP_UNCONFIRMED;
}
/* An address folded to 32 bits as IPVS does (IPv6: xor of its four words), host order. */
uint32_t lb_sched_addr_fold(uint8_t family, const uint8_t *addr);

#endif /* LB_SCHEDULER_H */
