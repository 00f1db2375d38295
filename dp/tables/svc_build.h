/*
 * svc_build.h - service objects built off the control thread, newest spec first.
 *
 * The control thread submits an upsert's spec; one builder thread (a plain
 * pthread, no lcore, on the control thread's CPUs) runs lb_svc_build() on it: the
 * backend sort and the Maglev table, the part of an update that costs up to a
 * millisecond. The control thread takes finished builds back in submission order
 * (lb_svcb_done) and publishes them (lb_svcs_publish, RCU). So ARP/NDP and the
 * control socket wait for no table build.
 *
 * Coalescing: a spec submitted while an earlier one of the same service
 * (VIP, port, protocol) still waits for the builder replaces it, and a finished
 * build is dropped when a later build of the same service finished too. Either
 * way the caller's tags (its waiters) move to the newer job, so every submission
 * is answered, by the publish of its own spec or of a newer one. A finished build
 * whose successor is still queued or building is published: under a steady
 * stream the workers see one build in two at worst, never none.
 *
 * Calling off: a spec submitted while one of the same service is being built
 * asks that build to stop (lb_maglev_build_cancel(), at any point of its walk),
 * so the newest spec does not wait for a table nobody will use for long: the
 * newer spec is visible one build after it came instead of after the rest of the
 * older build and its own, and the builder spends less, never more (the rest of
 * the older build is not run). The build called off hands its tags to the newer
 * job, whose publish answers them; that job cannot itself be called off: under a
 * stream of updates faster than builds, every other build at least runs to its
 * end.
 *
 * Threads: every function but the builder's own loop runs on the control thread.
 */
#ifndef LB_SVC_BUILD_H
#define LB_SVC_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb_model.h"

struct lb_svc;
struct lb_svcb;

/* A finished build, handed back by lb_svcb_done(). */
struct lb_svcb_job {
	struct lb_svc *svc;  /* built object, or NULL: rc and err say why */
	int rc;
	char err[256];
	void **tags;         /* the submitters' tags, oldest first */
	uint32_t n_tags;
	uint32_t n_specs;    /* submissions this job stood for (1 + replaced ones) */
	uint64_t build_ns;   /* CPU time of the build (builder thread clock) */
	bool table_cached;   /* the Maglev table was copied from the builder's cache */
	uint64_t start_tsc;  /* TSC when the builder started it (after every tag's receipt) */
	uint64_t done_tsc;   /* TSC when it finished */
	uint32_t n_cancelled; /* builds of this service called off in its favour */
	/* private */
	struct lb_svcb_job *next;
	struct lb_svc_spec spec;
	int state;
	uint32_t tag_cap;
	int cancel;          /* set (atomic) by lb_svcb_submit(), read by the build */
	bool no_cancel;      /* it carries a called-off build's tags: runs to its end */
};

/*
 * cache_bytes: the budget of its cache of recent Maglev tables (0: none). nice:
 * the builder thread's nice value above the caller's (0..19): the control
 * thread it shares CPUs with parses, publishes and answers ARP/NDP in bursts of
 * tens of microseconds, and at equal priority the scheduler lets a build of a
 * millisecond or more run first (dp.builder_nice, docs/configuration.md).
 */
struct lb_svcb *lb_svcb_create(uint64_t seed, size_t cache_bytes, int nice, char *err,
			       size_t errlen);
/*
 * Stops the builder (after the jobs it holds: bounded by what was submitted) and
 * hands back the jobs not taken with lb_svcb_done(), linked by next, for the
 * caller to free with their tags.
 */
struct lb_svcb_job *lb_svcb_destroy(struct lb_svcb *b);
/* Readable (an eventfd) when a build finished; read it with lb_svcb_done(). */
int lb_svcb_fd(const struct lb_svcb *b);

/*
 * Queue *spec (moved in: the caller's spec is emptied) with the caller's tag.
 * *replaced: it took the place of a queued spec of the same service. Returns 0
 * or LB_ENOMEM (then *spec is left to the caller).
 */
int lb_svcb_submit(struct lb_svcb *b, struct lb_svc_spec *spec, void *tag, bool *replaced);

/* The next finished job in submission order, or NULL. Free it with lb_svcb_job_free. */
struct lb_svcb_job *lb_svcb_done(struct lb_svcb *b);
void lb_svcb_job_free(struct lb_svcb_job *j); /* frees an unpublished svc too */

/* A build is running now (the builder thread holds a job). */
bool lb_svcb_building(const struct lb_svcb *b);
/* Jobs submitted and not yet handed back; any for this service? */
uint32_t lb_svcb_pending(const struct lb_svcb *b);
bool lb_svcb_pending_for(const struct lb_svcb *b, const struct lb_addr *vip, uint16_t port,
			 uint8_t proto);

#endif /* LB_SVC_BUILD_H */
