/*
 * lb_state.c - a load balancer as the state file keeps it in kubernetes mode
 * (lb.h): only the allocation. Pure (no thread, no lock of its own): part of
 * the LB model next to lb_decode.c, which reads these entries back; called by
 * the store (cp/store/store.c, cp/store/state.c's caller) under the store's
 * mutex, from whichever cp thread changed the store.
 *
 * In kubernetes mode the Services and EndpointSlices are the source of ports,
 * backends, affinity and ranges; the state file only has to bring the addresses
 * back (with what IPAM needs to restore them: families, request, pool, sharing
 * key, ports). So an endpoint flip writes nothing, where the whole file (911 KB
 * for 200 Services x 30 endpoints) used to be rewritten.
 */
#include <stdio.h>
#include <string.h>

#include "lb.h"

static const char *const dropped[] = {"backends", "health_check", "session_affinity",
				      "source_ranges", "mode", NULL};

json_t *
cp_lb_alloc_json(const struct cp_lb *lb)
{
	json_t *j = cp_lb_to_json(lb, NULL);

	for (const char *const *k = dropped; j && *k; k++)
		json_object_del(j, *k);
	return j;
}

bool
cp_lb_same_alloc(const struct cp_lb *a, const struct cp_lb *b)
{
	json_t *ja = cp_lb_alloc_json(a), *jb = cp_lb_alloc_json(b);
	bool same = ja && jb && json_equal(ja, jb);

	json_decref(ja);
	json_decref(jb);
	return same;
}

void
cp_lb_log_moved(const struct cp_lb *lb, const struct lb_addr *held, uint32_t n_held)
{
	char a[LB_ADDR_STRLEN], b[LB_ADDR_STRLEN];

	for (uint32_t i = 0; i < n_held; i++) {
		bool kept = false;
		const struct lb_addr *now = NULL;
		for (uint32_t j = 0; j < lb->n_ips; j++) {
			kept |= lb_addr_eq(&lb->ips[j], &held[i]);
			if (lb->ips[j].family == held[i].family)
				now = &lb->ips[j];
		}
		if (kept)
			continue;
		lb_addr_format(&held[i], a, sizeof(a));
		if (now)
			fprintf(stderr, "edgelb-cp: state: %s/%s: %s is in no pool any more: now %s\n",
				lb->ns, lb->name, a, lb_addr_format(now, b, sizeof(b)));
		else
			fprintf(stderr, "edgelb-cp: state: %s/%s: %s is in no pool any more: %s\n", lb->ns,
				lb->name, a, lb->status[0] ? lb->status : "no address");
	}
}
