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
 *
 * With a cluster (cpconf.h, cluster.peers), it also decides the SNAT (local)
 * addresses: the box's own while its dp is alive and has joined, its peers' as
 * backups while its dp is alive, has joined and the box is not drained. They go
 * to separate static protocols so that bird.conf gives the backups a worse
 * preference (docs/operations.md, "Running several boxes"). And the join gate: a
 * box with peers announces nothing until its dp reports the bulk copy from its
 * peers done, or cluster.join_timeout_s after the dp started.
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
	CP_GATE_JOINING,     /* the dp has not got its peers' connections yet */
};

/* Where the join of a box with peers stands (cp_join_decide). */
enum cp_join {
	CP_JOIN_NONE = 0,    /* no peers configured: nothing to wait for */
	CP_JOIN_WAITING,     /* the dp's bulk copy is not done, the timeout not reached */
	CP_JOIN_DONE,        /* the dp reports its bulk copy done */
	CP_JOIN_TIMED_OUT,   /* join_timeout_s since the dp started: go anyway */
	CP_JOIN_NO_SYNC,     /* peers configured, but the dp does not sync: go */
};

/* An SNAT address of this box or of a peer, with the decision. */
struct cp_snat {
	struct lb_addr addr;
	const char *owner;   /* NULL: this box; else the peer's name (in the conf) */
	bool announce;
	const char *why;     /* static text: why not announced ("" when announced) */
};

struct cp_vip {
	struct lb_addr vip;
	bool ready;          /* a service on it has a backend taking new flows */
	bool always;         /* announced whatever its backends */
	bool announce;       /* the decision */
	const char *why;     /* static text: why not announced ("" when announced) */
};

const char *cp_gate_name(enum cp_gate g);
const char *cp_join_name(enum cp_join j);

/*
 * The join state: bulk_done is the dp's flow_sync.bulk_done (1, 0; -1 when the
 * dp reports no flow_sync object: it does not sync, there is nothing to wait
 * for), dp_uptime_ms how long the dp has run (its hello's uptime_ms), so a
 * restarted cp does not wait again for a dp that long joined.
 */
enum cp_join cp_join_decide(const struct cp_conf *c, int bulk_done, uint64_t dp_uptime_ms);
/* Whether that state lets the box announce (all but WAITING). */
bool cp_join_open(enum cp_join j);

/*
 * The SNAT addresses of this box (first, in config order) and of its peers
 * (cluster.backup), with the decision: own while dp_alive and joined; a peer's
 * while dp_alive, joined, not drained. *out is malloc'd (NULL when there are none).
 * Returns 0 or LB_ENOMEM.
 */
int cp_announce_snat(const struct cp_conf *c, bool dp_alive, bool joined, bool drained,
		     struct cp_snat **out, uint32_t *n_out);

/*
 * The VIPs of specs (sorted: IPv4 first, then by address; each once) with the
 * decision. *out is malloc'd (NULL when n is 0). Returns 0 or LB_ENOMEM.
 */
int cp_announce_decide(const struct lb_svc_spec *specs, uint32_t n, const struct cp_conf *c,
		       enum cp_gate gate, struct cp_vip **out, uint32_t *n_out);

/*
 * BIRD 2 configuration text announcing the VIPs with announce set: two static
 * protocols, <protocol>4 (ipv4, /32 routes) and <protocol>6 (ipv6, /128),
 * present even when empty so that bird.conf may name them in filters; and four
 * more, also always present, with the SNAT addresses of s (NULL, 0 for none):
 * <protocol>snat4/6 (this box's, announced with normal preference) and
 * <protocol>backup4/6 (its peers', which bird.conf exports with a worse one).
 * *text is malloc'd. Returns 0 or LB_ENOMEM.
 */
int cp_announce_render(const struct cp_vip *v, uint32_t n, const struct cp_snat *s, uint32_t ns,
		       const char *protocol, char **text);

#endif /* LB_CP_ANNOUNCE_H */
