/*
 * lease.h - leader election for a fleet of edgelb-cp on one cluster, over a
 * coordination.k8s.io/v1 Lease (client-go leaderelection semantics).
 *
 * One thread (started here) tries to take or renew the Lease every retry period.
 * A holder other than us keeps it while the record we observed has not changed
 * for lease_duration_s by our own clock (so clocks of the boxes need not agree);
 * a leader that cannot renew within renew_deadline_ms steps down, which is
 * before anyone else may take over. Updates carry the Lease's resourceVersion:
 * of two boxes racing, the API server lets one win (409 for the other).
 * The Kubernetes controller (k8s.c, k8s_alloc.c, k8s_queue.c; their threads)
 * asks cp_lease_is_leader() before every
 * allocation and every write; on_change is called (from the lease thread) when
 * this cp becomes or stops being the leader.
 */
#ifndef LB_CP_LEASE_H
#define LB_CP_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kc;
struct cp_conf;
struct cp_lease;

struct cp_lease_info {
	bool enabled;        /* false: always leader, no Lease */
	bool leader;
	char identity[128];  /* ours */
	char holder[256];    /* holderIdentity as last seen ("" = none / unknown) */
	char lease[520];     /* "namespace/name" */
	uint64_t acquired, lost, renew_failures;
};

struct cp_lease *cp_lease_start(struct kc *kc, const struct cp_conf *c,
				void (*on_change)(void *arg, bool leader), void *arg, char *err,
				size_t errlen);
/* Stops the thread; a leader gives the Lease up (holder "") so a peer takes over at once. */
void cp_lease_stop(struct cp_lease *l);
bool cp_lease_is_leader(struct cp_lease *l);
void cp_lease_info(struct cp_lease *l, struct cp_lease_info *out);

#endif /* LB_CP_LEASE_H */
