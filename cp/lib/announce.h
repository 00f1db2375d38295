/*
 * announce.h - which VIPs this box announces through BGP, and the BIRD 2
 * include file that says so.
 *
 * Pure C, no I/O, no thread: the bgp thread (cp/bgp/bgp.c) calls it with the
 * store's dp services and what it knows about the dp; tests/test_announce.c
 * feeds it arrays. A VIP is announced when the gate is open (the local dp is
 * alive and carries this cp's latest sync, the box is not drained) and some
 * service on the VIP has a backend taking new flows, or its pool (or the whole
 * box) is configured to announce regardless of backends.
 */
#ifndef LB_CP_ANNOUNCE_H
#define LB_CP_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpconf.h"
#include "lb_model.h"

/* Why nothing is announced, or CP_GATE_OPEN. */
enum cp_gate {
	CP_GATE_OPEN = 0,
	CP_GATE_DP_DOWN,     /* no dp, or it stopped answering */
	CP_GATE_DP_UNSYNCED, /* a dp that does not carry our latest sync yet */
	CP_GATE_DRAINED,     /* edgelbctl drain */
};

struct cp_vip {
	struct lb_addr vip;
	bool ready;          /* a service on it has a backend taking new flows */
	bool always;         /* announced whatever its backends */
	bool announce;       /* the decision */
	const char *why;     /* static text: why not announced ("" when announced) */
};

const char *cp_gate_name(enum cp_gate g);

/*
 * The VIPs of specs (sorted: IPv4 first, then by address; each once) with the
 * decision. *out is malloc'd (NULL when n is 0). Returns 0 or LB_ENOMEM.
 */
int cp_announce_decide(const struct lb_svc_spec *specs, uint32_t n, const struct cp_conf *c,
		       enum cp_gate gate, struct cp_vip **out, uint32_t *n_out);

/*
 * BIRD 2 configuration text announcing the VIPs with announce set: two static
 * protocols, <protocol>4 (ipv4, /32 routes) and <protocol>6 (ipv6, /128),
 * present even when empty so that bird.conf may name them in filters.
 * *text is malloc'd. Returns 0 or LB_ENOMEM.
 */
int cp_announce_render(const struct cp_vip *v, uint32_t n, const char *protocol, char **text);

#endif /* LB_CP_ANNOUNCE_H */
