/*
 * state_hdr.h - the header of a persistent state region (hitless restart).
 *
 * Pure code, no EAL. The control thread (dp/control/state.c) maps one region per
 * worker (its conntrack table) and one shared region (service and backend id
 * directories) from files that outlive the process, and puts this header in the
 * first bytes of each. The next process builds the header it wants from its own
 * configuration and build, and re-attaches the region only when
 * lb_state_hdr_check() finds the two compatible; otherwise it starts empty and
 * logs the reason that function gives.
 */
#ifndef LB_STATE_HDR_H
#define LB_STATE_HDR_H

#include <stddef.h>
#include <stdint.h>

#include "lb_addr.h"
#include "config.h"

#define LB_STATE_MAGIC 0x54534c4245474445ULL /* "EDGELBST" little-endian */
#define LB_STATE_VERSION 1                   /* of this header and the file layout */
#define LB_STATE_HDR_BYTES 4096              /* the header's room; data starts after it */

enum lb_state_kind {
	LB_STATE_SHARED = 1, /* service and backend id directories */
	LB_STATE_CT = 2,     /* one worker's conntrack table */
};

struct lb_state_hdr {
	uint64_t magic;
	uint32_t version;        /* LB_STATE_VERSION */
	uint32_t kind;           /* enum lb_state_kind */
	uint32_t hdr_size;       /* sizeof(struct lb_state_hdr) */
	uint32_t conn_size;      /* sizeof(struct lb_conn) */
	uint32_t ct_layout;      /* LB_CT_LAYOUT_VERSION */
	uint32_t dir_layout;     /* LB_SVCS_DIR_VERSION (service id directories) */
	uint32_t worker;         /* the worker this region belongs to (CT) */
	uint32_t n_workers;
	uint32_t capacity;       /* conntrack entries per worker */
	uint32_t max_services;
	uint32_t max_backends;
	uint16_t snat_lo, snat_hi;
	uint32_t n_local;
	struct lb_addr local[LB_MAX_LOCAL_ADDRS]; /* fnat source addresses, local_idx order */
	uint64_t hash_seed;      /* decides which worker owns a dnat flow */
	uint64_t data_size;      /* bytes of the region after LB_STATE_HDR_BYTES */
	char boot_id[40];        /* /proc/sys/kernel/random/boot_id: the clock's epoch */
	uint64_t clock_ms;       /* CLOCK_MONOTONIC ms when the writer last stopped */
	uint32_t clean;          /* 1: the writer stopped cleanly (SIGTERM/SIGINT) */
	uint32_t pad;
};

_Static_assert(sizeof(struct lb_state_hdr) <= LB_STATE_HDR_BYTES, "header fits its room");

/*
 * 0 when a region written under have can serve a process that wants want; else
 * LB_EINVAL with the first difference in why ("conntrack capacity 65536, now
 * 131072"). Fields that may change between runs (clean, clock_ms) are ignored.
 */
int lb_state_hdr_check(const struct lb_state_hdr *have, const struct lb_state_hdr *want,
		       char *why, size_t whylen);

#endif /* LB_STATE_HDR_H */
