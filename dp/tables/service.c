/*
 * service.c - builds and publishes service objects (see service.h).
 *
 * Runs on the control thread only (main lcore): at start from the config file,
 * afterwards for control-socket requests. Workers never call into this file;
 * they read what it publishes through service_fastpath.h.
 *
 * Publication order for an update of service id:
 *   1. build the new object completely (sorted backends, Maglev table, real ids);
 *   2. store its pointer into slot[id] with release semantics;
 *   3. mark reals that left the service LB_REAL_REMOVED;
 *   4. retire the old object and the removed real ids through QSBR.
 * A worker that loaded the old pointer keeps using it until its next quiescent
 * state, and connections it creates against a removed real are re-picked on their
 * next packet because step 3 made the removal visible.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "affinity.h"
#include "config.h"
#include "dp.h"
#include "lb_error.h"
#include "maglev_cache.h"
#include "hash.h"
#include "maglev.h"
#include "neigh.h"
#include "rcu.h"
#include "service_fastpath.h"
#include "service_ids.h"
#include "lb_svc_json.h"

#define MAGLEV_KEY_LEN 19 /* family | address | port */

/* A read-mostly hash in hugepage memory (near the rest of what workers read). */
static struct lb_rmh *
rmh_create(const char *name, uint32_t cap, uint32_t seed)
{
	size_t len = lb_rmh_mem_size(cap);
	void *mem = len ? rte_zmalloc(name, len, RTE_CACHE_LINE_SIZE) : NULL;
	struct lb_rmh *h = mem ? lb_rmh_init(mem, len, cap, seed) : NULL;

	if (h == NULL)
		rte_free(mem);
	return h;
}

struct lb_services *
lb_svcs_create(struct lb_dp *dp, uint32_t max_services, uint32_t max_backends, char *err,
	       size_t errlen)
{
	struct lb_services *s = calloc(1, sizeof(*s));

	if (s == NULL)
		goto nomem;
	s->dp = dp;
	s->seed = dp->conf.hash_seed;
	s->svc_cap = max_services;
	s->real_cap = max_backends;
	s->addr_cap = max_services + 2 * LB_MAX_LOCAL_ADDRS + 2 * LB_MAX_PORTS * LB_MAX_PORT_ADDRS;

	/*
	 * The two key tables workers read (rmhash.h). The service id is the
	 * directory's value, allocated by service_ids.c so that it survives a
	 * restart; an address's value is its addr_info position. Neither value
	 * nor an emptied overflow bucket is reused before a grace period.
	 */
	s->rcu = lb_rcu_create(dp->qsbr);
	s->svc_tab = rmh_create("lb_svc_tab", max_services, (uint32_t)s->seed);
	s->addr_tab = rmh_create("lb_addr_tab", s->addr_cap, (uint32_t)(s->seed >> 32));
	s->addr_free = malloc(sizeof(*s->addr_free) * s->addr_cap);
	if (s->rcu == NULL || s->svc_tab == NULL || s->addr_tab == NULL || s->addr_free == NULL) {
		snprintf(err, errlen, "service tables: out of memory for %u services",
			 max_services);
		lb_svcs_destroy(s);
		return NULL;
	}
	for (uint32_t i = s->addr_cap; i-- > 0;)
		s->addr_free[s->n_addr_free++] = i;
	s->slot = rte_zmalloc("lb_svc_slot", sizeof(*s->slot) * s->svc_cap, RTE_CACHE_LINE_SIZE);
	s->reals = rte_zmalloc("lb_reals", sizeof(*s->reals) * s->real_cap, RTE_CACHE_LINE_SIZE);
	s->addr_info = rte_zmalloc("lb_addr_info", sizeof(*s->addr_info) * s->addr_cap,
				   RTE_CACHE_LINE_SIZE);
	s->real_free = malloc(sizeof(*s->real_free) * s->real_cap);
	s->svc_version = calloc(s->svc_cap, sizeof(*s->svc_version));
	if (!s->slot || !s->reals || !s->addr_info || !s->real_free || !s->svc_version) {
		lb_svcs_destroy(s);
		goto nomem;
	}
	for (uint32_t i = 0; i < s->real_cap; i++) {
		s->reals[i].state = LB_REAL_FREE;
		s->reals[i].neigh = LB_NEIGH_NONE;
		s->reals[i].tx_port = LB_PORT_NONE;
	}
	/* Low ids go first (they index the per-worker counter arrays), kept ones aside. */
	if (lb_ids_init(s, dp->svc_dir, dp->svc_dir_len, dp->svc_dir_adopt, dp->adopt_hold_ms) < 0) {
		lb_svcs_destroy(s);
		goto nomem;
	}
	return s;
nomem:
	snprintf(err, errlen, "out of memory for %u services / %u backends", max_services,
		 max_backends);
	return NULL;
}

static void
free_svc(struct lb_svc *svc)
{
	if (svc == NULL)
		return;
	free((void *)svc->table);
	lb_sched_free(&svc->pick);
	free((void *)svc->real_ids);
	free((void *)svc->ranges);
	lb_svc_spec_free(&svc->spec);
	free(svc);
}

void
lb_svcs_destroy(struct lb_services *s)
{
	if (s == NULL)
		return;
	lb_rcu_destroy(s->rcu);
	if (s->slot)
		for (uint32_t i = 0; i < s->svc_cap; i++)
			free_svc(s->slot[i]);
	rte_free(s->svc_tab);
	rte_free(s->addr_tab);
	free(s->addr_free);
	rte_free(s->slot);
	rte_free(s->reals);
	rte_free(s->addr_info);
	lb_ids_destroy(s);
	free(s->real_free);
	free(s->svc_version);
	free(s);
}

void
lb_svcs_set_events(struct lb_services *s, const struct lb_svcs_events *ev)
{
	s->ev = *ev;
}

/* ---- address table ----------------------------------------------------- */

/* The position of address key k, added when create and absent; LB_ENOENT / LB_EFULL. */
static int
addr_pos(struct lb_services *s, const struct lb_svc_key *k, bool create)
{
	int64_t pos = lb_rmh_lookup(s->addr_tab, k);

	if (pos >= 0)
		return (int)pos;
	if (!create)
		return LB_ENOENT;
	if (s->n_addr_free == 0)
		return LB_EFULL;
	uint32_t p = s->addr_free[s->n_addr_free - 1];
	int rc = lb_rmh_add(s->addr_tab, k, p);
	if (rc < 0)
		return rc == LB_EEXIST ? LB_EINVAL : rc;
	s->n_addr_free--;
	return (int)p;
}

int
lb_svcs_add_addr(struct lb_services *s, const struct lb_addr *a, uint8_t flags,
		 uint8_t local_idx)
{
	struct lb_svc_key k;

	lb_svc_key_make(&k, a->family, a->bytes, 0, 0);
	int pos = addr_pos(s, &k, true);
	if (pos < 0)
		return pos;
	struct lb_addr_info *ai = &s->addr_info[pos];
	if (flags & LB_ADDR_LOCAL)
		ai->local_idx = local_idx;
	__atomic_or_fetch(&ai->flags, flags, __ATOMIC_RELEASE);
	return 0;
}

/* arg: the emptied overflow bucket (or LB_RMH_NIL) << 32 | the position. */
static void
free_addr_pos(void *ctx, void *p, uintptr_t arg)
{
	struct lb_services *s = ctx;
	uint32_t pos = (uint32_t)arg;

	(void)p;
	memset(&s->addr_info[pos], 0, sizeof(s->addr_info[pos]));
	lb_rmh_ov_release(s->addr_tab, (uint32_t)((uint64_t)arg >> 32));
	s->addr_free[s->n_addr_free++] = pos;
}

static int
vip_ref(struct lb_services *s, const struct lb_addr *vip, int delta)
{
	struct lb_svc_key k;

	lb_svc_key_make(&k, vip->family, vip->bytes, 0, 0);
	int pos = addr_pos(s, &k, delta > 0);
	if (pos < 0)
		return LB_EFULL;
	struct lb_addr_info *ai = &s->addr_info[pos];
	ai->vip_refs = (uint32_t)((int32_t)ai->vip_refs + delta);
	if (ai->vip_refs > 0) {
		__atomic_or_fetch(&ai->flags, LB_ADDR_VIP, __ATOMIC_RELEASE);
		if (ai->vip_refs == 1 && delta > 0)
			if (s->ev.vip_added) /* new VIP: the owner tells the segment */
				s->ev.vip_added(s->ev.arg, vip);
		return 0;
	}
	__atomic_and_fetch(&ai->flags, (uint8_t)~LB_ADDR_VIP, __ATOMIC_RELEASE);
	if (ai->flags == 0) {
		uint32_t ov;
		lb_rmh_del(s->addr_tab, &k, &ov);
		lb_rcu_retire(s->rcu, free_addr_pos, s, NULL,
			      (uintptr_t)((uint64_t)ov << 32 | (uint32_t)pos));
	}
	return 0;
}

/* ---- building a service ------------------------------------------------ */

static int
cmp_backend(const void *a, const void *b)
{
	const struct lb_backend_spec *x = a, *y = b;
	int c = lb_addr_cmp(&x->addr, &y->addr);

	if (c != 0)
		return c;
	return (x->port > y->port) - (x->port < y->port);
}

/* Index of backend (addr, port) in a sorted spec, or -1. */
static int
find_backend(const struct lb_svc_spec *sp, const struct lb_backend_spec *b)
{
	size_t lo = 0, hi = sp->n_backends;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = cmp_backend(&sp->backends[mid], b);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void
maglev_key(uint8_t *k, const struct lb_backend_spec *b)
{
	uint16_t port = htons(b->port);

	k[0] = b->addr.family;
	memcpy(k + 1, b->addr.bytes, 16);
	memcpy(k + 17, &port, 2);
}

/*
 * Maglev over the backends that take new flows: active ones with weight; when
 * none is left, draining ones (Kubernetes serving+terminating fallback); down
 * backends never. Built whatever the scheduler: the others take Maglev's answer
 * while a worker's conntrack is full (dp/fastpath/pick.h). Their pick set holds
 * the same backends.
 */
static int
build_table(struct lb_svc *svc, const struct lb_svc_spec *sp, uint64_t seed,
	    struct lb_maglev_cache *cache, const int *cancel, bool *cached)
{
	uint32_t n = sp->n_backends;
	struct lb_maglev_backend *mb = calloc(n ? n : 1, sizeof(*mb));
	uint8_t *keys = calloc(n ? n : 1, MAGLEV_KEY_LEN);
	uint16_t *table = malloc(sizeof(*table) * sp->maglev_m);
	bool any_active = false;
	int rc = LB_ENOMEM;

	if (mb == NULL || keys == NULL || table == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (sp->backends[i].state == LB_BACKEND_ACTIVE && sp->backends[i].weight > 0)
			any_active = true;
	uint8_t want = any_active ? LB_BACKEND_ACTIVE : LB_BACKEND_DRAINING;
	for (uint32_t i = 0; i < n; i++) {
		maglev_key(keys + (size_t)i * MAGLEV_KEY_LEN, &sp->backends[i]);
		mb[i].key = keys + (size_t)i * MAGLEV_KEY_LEN;
		mb[i].key_len = MAGLEV_KEY_LEN;
		mb[i].weight = sp->backends[i].state == want ? sp->backends[i].weight : 0;
	}
	uint64_t table_hash = 0;

	rc = lb_maglev_cache_build(cache, table, sp->maglev_m, mb, n, seed, cancel, cached,
				   &table_hash);
	svc->pick_state = want;
	/*
	 * The digest operators compare between boxes: the table (indices into the
	 * backends sorted by address and port) and the backends it indexes, with the
	 * weights it was built from, and the scheduler that picks (a service not on
	 * Maglev picks from the same sorted backends). Nothing here depends on the
	 * directory slot.
	 */
	if (rc == 0) {
		uint64_t d = table_hash; /* lb_hash_bytes(table, 2 * m, 0) */
		for (uint32_t i = 0; i < n; i++)
			d = lb_hash_bytes(mb[i].key, MAGLEV_KEY_LEN, d ^ mb[i].weight);
		d = lb_hash_bytes(&sp->sched, sizeof(sp->sched), d);
		svc->digest = d;
	}
	if (rc == 0 && sp->sched != LB_SCHED_MAGLEV) {
		/* the same backends as the Maglev table, in sorted order */
		uint16_t *w = malloc(sizeof(*w) * (n ? n : 1));
		for (uint32_t i = 0; w != NULL && i < n; i++)
			w[i] = (uint16_t)mb[i].weight;
		rc = w != NULL ? lb_sched_build(&svc->pick, sp->sched, w, n) : LB_ENOMEM;
		free(w);
	}
out:
	free(mb);
	free(keys);
	if (rc == 0)
		svc->table = table;
	else
		free(table);
	return rc;
}

static int
copy_spec(struct lb_svc_spec *dst, const struct lb_svc_spec *src)
{
	*dst = *src;
	dst->backends = NULL;
	dst->source_ranges = NULL;
	if (src->n_backends) {
		dst->backends = malloc(sizeof(*dst->backends) * src->n_backends);
		if (dst->backends == NULL)
			return LB_ENOMEM;
		memcpy(dst->backends, src->backends, sizeof(*dst->backends) * src->n_backends);
		qsort(dst->backends, src->n_backends, sizeof(*dst->backends), cmp_backend);
	}
	if (src->n_source_ranges) {
		dst->source_ranges = malloc(sizeof(*dst->source_ranges) * src->n_source_ranges);
		if (dst->source_ranges == NULL) {
			free(dst->backends);
			dst->backends = NULL;
			return LB_ENOMEM;
		}
		memcpy(dst->source_ranges, src->source_ranges,
		       sizeof(*dst->source_ranges) * src->n_source_ranges);
	}
	return 0;
}

static void
free_real_id(void *ctx, void *p, uintptr_t id)
{
	struct lb_services *s = ctx;

	(void)p;
	__atomic_store_n(&s->reals[id].state, LB_REAL_FREE, __ATOMIC_RELAXED);
	lb_neigh_unref(s->dp->neigh, s->reals[id].neigh);
	s->reals[id].neigh = LB_NEIGH_NONE;
	lb_ids_real_free(s, (uint32_t)id);
}

static void
retire_svc(void *ctx, void *p, uintptr_t arg)
{
	(void)ctx;
	(void)arg;
	free_svc(p);
}

/* arg: the emptied overflow bucket (or LB_RMH_NIL) << 32 | the service id. */
static void
free_svc_pos(void *ctx, void *p, uintptr_t arg)
{
	struct lb_services *s = ctx;
	uint32_t id = (uint32_t)arg;

	/* Affinity entries name services by id: the next owner starts clean. */
	if (s->dp->affinity)
		lb_aff_flush_service(s->dp->affinity, id);
	free_svc(p);
	lb_rmh_ov_release(s->svc_tab, (uint32_t)((uint64_t)arg >> 32));
	lb_ids_svc_free(s, id);
}

/* Take key k out of the directory; its id (and a bucket it emptied) return after a grace period. */
static void
retire_key(struct lb_services *s, const struct lb_svc_key *k, uint32_t id, struct lb_svc *old)
{
	uint32_t ov;
	int64_t v = lb_rmh_del(s->svc_tab, k, &ov);

	if (v != (int64_t)id) { /* cannot happen: the key was added; keep the id lost rather than reuse it */
		lb_rcu_retire(s->rcu, retire_svc, s, old, 0);
		return;
	}
	lb_rcu_retire(s->rcu, free_svc_pos, s, old, (uintptr_t)((uint64_t)ov << 32 | id));
}

/*
 * Steps 1 of an upsert: everything that does not touch the shared tables. Pure
 * (malloc and the Maglev build only), so the builder thread (svc_build.c) runs it
 * as well as the control thread.
 */
struct lb_svc *
lb_svc_build(const struct lb_svc_spec *spec, uint64_t seed, struct lb_maglev_cache *cache,
	     const int *cancel, bool *cached, int *rc_out, char *err, size_t errlen)
{
	struct lb_svc *svc;
	int rc;

	*cached = false;
	rc = lb_svc_spec_validate(spec, err, errlen);
	if (rc < 0)
		goto fail_rc;
	svc = calloc(1, sizeof(*svc));
	if (svc == NULL || copy_spec(&svc->spec, spec) < 0) {
		free(svc);
		snprintf(err, errlen, "out of memory");
		rc = LB_ENOMEM;
		goto fail_rc;
	}
	const struct lb_svc_spec *sp = &svc->spec;
	memcpy(svc->vip, spec->vip.bytes, 16);
	svc->port = htons(spec->port);
	svc->family = spec->vip.family;
	svc->proto = spec->proto;
	svc->mode = spec->mode;
	svc->affinity = spec->affinity;
	svc->sched = spec->sched;
	svc->affinity_timeout_ms = spec->affinity_timeout * 1000u;
	svc->m = spec->maglev_m;
	svc->n_backends = sp->n_backends;
	svc->n_ranges = (uint16_t)sp->n_source_ranges;
	svc->ranges = sp->n_source_ranges ? malloc(sizeof(*svc->ranges) * sp->n_source_ranges) : NULL;
	svc->real_ids = malloc(sizeof(*svc->real_ids) * (sp->n_backends ? sp->n_backends : 1));
	if ((sp->n_source_ranges && svc->ranges == NULL) || !svc->real_ids) {
		snprintf(err, errlen, "out of memory");
		rc = LB_ENOMEM;
		goto fail;
	}
	if (sp->n_source_ranges)
		memcpy((void *)svc->ranges, sp->source_ranges, sizeof(*svc->ranges) * sp->n_source_ranges);
	for (uint32_t i = 1; i < sp->n_backends; i++)
		if (cmp_backend(&sp->backends[i - 1], &sp->backends[i]) == 0) {
			snprintf(err, errlen, "backends: duplicate address and port");
			rc = LB_EINVAL;
			goto fail;
		}
	rc = build_table(svc, sp, seed, cache, cancel, cached);
	if (rc < 0) {
		snprintf(err, errlen, "backend tables: %s", lb_strerror(rc));
		goto fail;
	}
	return svc;
fail:
	free_svc(svc);
fail_rc:
	if (rc_out)
		*rc_out = rc;
	return NULL;
}

void
lb_svc_discard(struct lb_svc *svc)
{
	free_svc(svc);
}

/*
 * Steps 2-4 of an upsert, control thread: a directory slot, real ids, the
 * release store, the retirements. Takes svc over (published or freed).
 */
int
lb_svcs_publish(struct lb_services *s, struct lb_svc *svc, char *err, size_t errlen)
{
	struct lb_svc_key k;
	const struct lb_svc_spec *spec = &svc->spec, *sp = &svc->spec;
	uint32_t *new_ids = NULL, n_new = 0;
	uint32_t *real_ids = (uint32_t *)svc->real_ids;
	int rc;

	lb_svc_key_make(&k, spec->vip.family, spec->vip.bytes, htons(spec->port), spec->proto);
	int32_t id = lb_svcs_lookup(s, &k);
	bool created = id < 0;
	const struct lb_svc *old = created ? NULL : s->slot[id];

	new_ids = malloc(sizeof(*new_ids) * (sp->n_backends ? sp->n_backends : 1));
	if (new_ids == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = LB_ENOMEM;
		goto fail;
	}

	/* A new key gets its directory slot (= hash position) now. */
	if (created) {
		id = lb_ids_svc_alloc(s, &k);
		if (id >= 0 && lb_rmh_add(s->svc_tab, &k, (uint32_t)id) < 0) {
			lb_ids_svc_free(s, (uint32_t)id);
			id = -1;
		}
		if (id < 0) {
			snprintf(err, errlen, "service table full (max_services %u)", s->svc_cap);
			rc = LB_EFULL;
			goto fail;
		}
		if (vip_ref(s, &spec->vip, +1) < 0) {
			retire_key(s, &k, (uint32_t)id, NULL);
			snprintf(err, errlen, "address table full");
			rc = LB_EFULL;
			goto fail;
		}
		if (s->ev.svc_id_reused)
			s->ev.svc_id_reused(s->ev.arg, (uint32_t)id);
	}
	svc->id = (uint32_t)id;
	if (created)
		s->svc_version[id] = 0; /* a new service starts at version 1, whatever had the id */
	svc->version = ++s->svc_version[id];

	/* Real ids: a backend that stays keeps its id, so its connections stay. */
	for (uint32_t i = 0; i < sp->n_backends; i++) {
		const struct lb_backend_spec *b = &sp->backends[i];
		int j = old ? find_backend(&old->spec, b) : -1;
		if (j >= 0) {
			real_ids[i] = old->real_ids[j];
			continue;
		}
		bool kept;
		int ri = lb_ids_real_alloc(s, &k, &b->addr, htons(b->port), &kept);
		if (ri < 0) {
			snprintf(err, errlen, "backend registry full (max_backends %u)", s->real_cap);
			rc = LB_EFULL;
			goto fail_ids;
		}
		uint32_t r = (uint32_t)ri;
		new_ids[n_new++] = r;
		real_ids[i] = r;
		struct lb_real *re = &s->reals[r];
		memcpy(re->addr, b->addr.bytes, 16);
		re->port = htons(b->port);
		re->family = b->addr.family;
		re->svc_id = (uint32_t)id;
		re->weight = b->weight;
		int nrc = lb_neigh_resolve(s->dp->neigh, &b->addr, &re->tx_port, &re->neigh);
		if (nrc == 0) {
			lb_neigh_ref(s->dp->neigh, re->neigh); /* kept while the backend is */
		} else {
			/* No route: unusable. A full table: routed, retried by
			 * lb_svcs_retry_neigh() and shown unresolved meanwhile. */
			if (nrc != LB_EFULL)
				re->tx_port = LB_PORT_NONE;
			re->neigh = LB_NEIGH_NONE;
		}
		/* A kept id carries on: its connections from before the restart still count. */
		if (s->ev.real_id_reused && !kept)
			s->ev.real_id_reused(s->ev.arg, r);
	}
	/* Fields of new reals are written; the release store below publishes them. */
	for (uint32_t i = 0; i < sp->n_backends; i++) {
		struct lb_real *re = &s->reals[svc->real_ids[i]];
		re->weight = sp->backends[i].weight;
		__atomic_store_n(&re->state, sp->backends[i].state, __ATOMIC_RELAXED);
	}

	svc->publish_tsc = rte_rdtsc();
	__atomic_store_n(&s->slot[id], svc, __ATOMIC_RELEASE);
	if (created)
		s->n_svcs++;

	if (old) {
		for (uint32_t j = 0; j < old->spec.n_backends; j++) {
			if (find_backend(sp, &old->spec.backends[j]) >= 0)
				continue;
			uint32_t r = old->real_ids[j];
			__atomic_store_n(&s->reals[r].state, LB_REAL_REMOVED, __ATOMIC_RELEASE);
			lb_rcu_retire(s->rcu, free_real_id, s, NULL, r);
		}
		lb_rcu_retire(s->rcu, retire_svc, s, (void *)old, 0);
	}
	free(new_ids);
	return (int)id;

fail_ids:
	while (n_new > 0) {
		uint32_t r = new_ids[--n_new];
		s->reals[r].state = LB_REAL_FREE;
		lb_neigh_unref(s->dp->neigh, s->reals[r].neigh);
		s->reals[r].neigh = LB_NEIGH_NONE;
		lb_ids_real_free(s, r);
	}
	if (created) {
		vip_ref(s, &spec->vip, -1);
		retire_key(s, &k, (uint32_t)id, NULL);
	}
fail:
	free(new_ids);
	free_svc(svc);
	return rc;
}


int
lb_svcs_upsert(struct lb_services *s, const struct lb_svc_spec *spec, char *err, size_t errlen)
{
	int rc = LB_EINVAL;
	bool cached;
	struct lb_svc *svc = lb_svc_build(spec, s->seed, NULL, NULL, &cached, &rc, err, errlen);

	if (svc == NULL)
		return rc;
	return lb_svcs_publish(s, svc, err, errlen);
}

int
lb_svcs_delete(struct lb_services *s, const struct lb_addr *vip, uint16_t port, uint8_t proto)
{
	struct lb_svc_key k;

	lb_svc_key_make(&k, vip->family, vip->bytes, htons(port), proto);
	int32_t id = lb_svcs_lookup(s, &k);
	if (id < 0 || s->slot[id] == NULL)
		return LB_ENOENT;
	struct lb_svc *old = s->slot[id];
	__atomic_store_n(&s->slot[id], NULL, __ATOMIC_RELEASE);
	s->n_svcs--;
	for (uint32_t j = 0; j < old->n_backends; j++) {
		uint32_t r = old->real_ids[j];
		__atomic_store_n(&s->reals[r].state, LB_REAL_REMOVED, __ATOMIC_RELEASE);
		lb_rcu_retire(s->rcu, free_real_id, s, NULL, r);
	}
	vip_ref(s, vip, -1);
	/* The id and hash position are reused only after every worker let go of them. */
	retire_key(s, &k, (uint32_t)id, old);
	return 0;
}

const struct lb_svc *
lb_svcs_find(const struct lb_services *s, const struct lb_addr *vip, uint16_t port, uint8_t proto)
{
	struct lb_svc_key k;

	lb_svc_key_make(&k, vip->family, vip->bytes, htons(port), proto);
	int32_t id = lb_svcs_lookup(s, &k);
	return id < 0 ? NULL : s->slot[id];
}

unsigned
lb_svcs_reclaim(struct lb_services *s)
{
	lb_ids_tick(s);
	return lb_rcu_reclaim(s->rcu);
}

const struct lb_svc *
lb_svcs_next(const struct lb_services *s, uint32_t *iter)
{
	while (*iter < s->svc_cap) {
		const struct lb_svc *svc = s->slot[(*iter)++];
		if (svc)
			return svc;
	}
	return NULL;
}

uint64_t
lb_svcs_seed(const struct lb_services *s)
{
	return s->seed;
}

uint32_t
lb_svcs_count(const struct lb_services *s)
{
	return s->n_svcs;
}

uint32_t
lb_svcs_capacity(const struct lb_services *s)
{
	return s->svc_cap;
}

uint32_t
lb_reals_capacity(const struct lb_services *s)
{
	return s->real_cap;
}

const struct lb_svc *
lb_svcs_at(const struct lb_services *s, uint32_t id)
{
	return id < s->svc_cap ? s->slot[id] : NULL;
}

uint32_t
lb_svcs_retry_neigh(struct lb_services *s)
{
	uint32_t left = 0;

	for (uint32_t r = 0; r < s->real_cap; r++) {
		struct lb_real *re = &s->reals[r];
		uint16_t port;
		uint32_t idx;
		if (re->state == LB_REAL_FREE || re->state == LB_REAL_REMOVED ||
		    re->neigh != LB_NEIGH_NONE || re->tx_port == LB_PORT_NONE)
			continue;
		struct lb_addr a;
		lb_addr_set(&a, re->family, re->addr);
		if (lb_neigh_resolve(s->dp->neigh, &a, &port, &idx) < 0) {
			left++;
			continue;
		}
		lb_neigh_ref(s->dp->neigh, idx);
		/* tx_port is already the route's: the neighbour index publishes it. */
		__atomic_store_n(&re->neigh, idx, __ATOMIC_RELEASE);
	}
	return left;
}

int
lb_real_neigh_state(const struct lb_services *s, uint32_t real_id)
{
	const struct lb_real *re = &s->reals[real_id];

	if (re->tx_port == LB_PORT_NONE)
		return LB_REAL_NO_ROUTE;
	if (re->neigh == LB_NEIGH_NONE)
		return LB_REAL_NO_ENTRY;
	return lb_neigh_entry(s->dp->neigh, re->neigh)->state;
}

bool
lb_real_resolved(const struct lb_services *s, uint32_t real_id)
{
	const struct lb_real *re = &s->reals[real_id];
	uint8_t mac[6];

	return re->tx_port != LB_PORT_NONE && re->neigh != LB_NEIGH_NONE &&
	       lb_neigh_mac(lb_neigh_entry(s->dp->neigh, re->neigh), mac);
}

const char *
lb_real_neigh_name(int state)
{
	if (state == LB_REAL_NO_ROUTE)
		return "no_route";
	if (state == LB_REAL_NO_ENTRY)
		return "no_entry";
	return state >= 0 && state < LB_NEIGH_NSTATES ? lb_neigh_state_names[state] : "?";
}
