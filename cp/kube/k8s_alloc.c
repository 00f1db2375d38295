/*
 * k8s_alloc.c - one Service's load balancer in the store, as the leader and as
 * a follower sees it (k8s_priv.h). Called from the reconcile thread (k8s.c).
 *
 * The leader allocates. It takes the addresses the Service's status already
 * shows when it can (a lost state file, a new leader: a leader change moves no
 * address), and a change it cannot meet (an address another Service holds, an
 * address no pool has) never costs an allocation the Service already has: the
 * rest of the change is applied with the old address request and the caller
 * says why in a Warning Event.
 * A follower allocates nothing: it takes the addresses in
 * status.loadBalancer.ingress (written by the leader), so its dp serves the
 * same VIPs with the same backends; no status yet means no dp service yet.
 */
#include <stdio.h>
#include <string.h>

#include "k8s_priv.h"
#include "k8s_svc.h"
#include "lb_error.h"
#include "store.h"

static uint8_t
fam_bit(const struct lb_addr *a)
{
	return a->family == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6;
}

static bool
same_ips(const struct cp_lb *lb, const struct lb_addr *ips, uint32_t n)
{
	if (lb->n_ips != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		bool found = false;
		for (uint32_t j = 0; j < lb->n_ips; j++)
			found |= lb_addr_eq(&lb->ips[j], &ips[i]);
		if (!found)
			return false;
	}
	return true;
}

int
cp_k8s_follow(struct cp_k8s *k, const json_t *svc, struct cp_lb *lb)
{
	struct lb_addr st[2];
	uint32_t n = cp_k8s_svc_status_ips(svc, st);
	struct cp_lb old;
	json_t *out = NULL;
	char err[512];
	int rc;
	bool had = cp_store_copy(k->store, lb->ns, lb->name, &old) == 0;

	if (had)
		cp_lb_free(&old);
	if (n == 0) {
		/* The leader has not given it an address (yet): nothing to serve here. */
		if (had)
			cp_store_delete(k->store, lb->ns, lb->name, &out, err, sizeof(err));
		json_decref(out);
		cp_lb_free(lb);
		return 0;
	}
	memcpy(lb->req_ips, st, sizeof(st));
	lb->n_req_ips = n;
	for (uint32_t i = 0; i < n; i++)
		lb->families |= fam_bit(&st[i]);
	char key[LB_OWNER_MAX];
	cp_lb_key(lb, key, sizeof(key));
	rc = had ? cp_store_replace(k->store, lb, true, &out, err, sizeof(err))
		 : cp_store_create(k->store, lb, true, &out, err, sizeof(err));
	if (rc < 0) {
		/* Pools differ from the leader's? Every box must have the same pools. */
		cp_k8s_log("%s: cannot serve the leader's addresses: %s", key, err);
		rc = rc == LB_EIO ? -1 : 0;
	} else {
		const char *msg = json_string_value(json_object_get(json_object_get(out, "status"), "message"));
		if (msg && *msg)
			cp_k8s_log("%s: waiting to serve the leader's addresses: %s", key, msg);
	}
	json_decref(out);
	return rc;
}

int
cp_k8s_allocate(struct cp_k8s *k, const json_t *svc, struct cp_lb *lb, const struct cp_lb *old,
		json_t **out, bool *kept, char *err, size_t errlen)
{
	struct lb_addr st[2];
	uint32_t n = cp_k8s_svc_status_ips(svc, st);
	struct cp_lb keep;
	int rc;

	*kept = false;
	*out = NULL;
	/* The status shows addresses and the spec asks for none in particular: keep them. */
	if (lb->n_req_ips == 0 && n > 0 && !(old && same_ips(old, st, n))) {
		struct cp_lb adopt;
		if (cp_lb_copy(&adopt, lb) == 0) {
			memcpy(adopt.req_ips, st, sizeof(st));
			adopt.n_req_ips = n;
			rc = old ? cp_store_replace(k->store, &adopt, false, out, err, errlen)
				 : cp_store_create(k->store, &adopt, false, out, err, errlen);
			if (rc == 0) {
				cp_lb_free(lb);
				return 0;
			}
			json_decref(*out);
			*out = NULL;
		}
	}
	if (old == NULL)
		return cp_store_create(k->store, lb, true, out, err, errlen);
	if (old->n_ips == 0)
		return cp_store_replace(k->store, lb, true, out, err, errlen);
	/* It has addresses: a request that cannot be met must not cost them. */
	if (cp_lb_copy(&keep, lb) < 0) {
		cp_lb_free(lb);
		snprintf(err, errlen, "out of memory");
		return LB_ENOMEM;
	}
	rc = cp_store_replace(k->store, lb, false, out, err, errlen);
	if (rc == 0 || rc == LB_EIO) {
		cp_lb_free(&keep);
		return rc;
	}
	/* Refused, the old allocation restored: apply the rest with the old request. */
	json_decref(*out);
	*out = NULL;
	memcpy(keep.req_ips, old->req_ips, sizeof(keep.req_ips));
	keep.n_req_ips = old->n_req_ips;
	keep.families = old->families;
	memcpy(keep.pool, old->pool, sizeof(keep.pool));
	memcpy(keep.sharing_key, old->sharing_key, sizeof(keep.sharing_key));
	char e2[256];
	if (cp_store_replace(k->store, &keep, false, out, e2, sizeof(e2)) < 0) {
		json_decref(*out);
		*out = NULL;
	}
	*kept = true;
	return rc;
}
