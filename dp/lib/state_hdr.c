/*
 * state_hdr.c - compatibility of persistent state regions (see state_hdr.h).
 *
 * Pure code: called by the control thread (dp/control/state.c) at start, before
 * any worker runs, and by the unit test.
 */
#include <stdio.h>
#include <string.h>

#include "lb_error.h"
#include "state_hdr.h"

#define NUM(field, what)                                                              \
	do {                                                                          \
		if (have->field != want->field) {                                     \
			snprintf(why, whylen, "%s %llu, now %llu", what,              \
				 (unsigned long long)have->field,                     \
				 (unsigned long long)want->field);                    \
			return LB_EINVAL;                                             \
		}                                                                     \
	} while (0)

int
lb_state_hdr_check(const struct lb_state_hdr *have, const struct lb_state_hdr *want,
		   char *why, size_t whylen)
{
	if (have->magic != LB_STATE_MAGIC) {
		snprintf(why, whylen, "no state header (new or foreign file)");
		return LB_EINVAL;
	}
	NUM(version, "state layout version");
	NUM(hdr_size, "state header size");
	NUM(kind, "region kind");
	NUM(conn_size, "connection entry size");
	NUM(ct_layout, "conntrack layout version");
	NUM(dir_layout, "id directory layout version");
	NUM(worker, "worker");
	NUM(n_workers, "worker count");
	NUM(capacity, "conntrack capacity");
	NUM(max_services, "max_services");
	NUM(max_backends, "max_backends");
	NUM(snat_lo, "snat_ports low");
	NUM(snat_hi, "snat_ports high");
	NUM(hash_seed, "hash_seed");
	NUM(data_size, "region size");
	NUM(n_local, "local address count");
	for (uint32_t i = 0; i < want->n_local && i < LB_MAX_LOCAL_ADDRS; i++)
		if (have->local[i].family != want->local[i].family ||
		    memcmp(have->local[i].bytes, want->local[i].bytes, 16) != 0) {
			snprintf(why, whylen, "local address %u changed", i);
			return LB_EINVAL;
		}
	if (strncmp(have->boot_id, want->boot_id, sizeof(have->boot_id)) != 0) {
		snprintf(why, whylen, "written before the last reboot (clock epoch differs)");
		return LB_EINVAL;
	}
	return 0;
}
