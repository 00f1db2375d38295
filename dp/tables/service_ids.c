/*
 * service_ids.c - id allocation and the persistent id directories (service_ids.h).
 *
 * Runs on the control thread only (from service.c). Workers never read what is
 * here: they read the ids in the objects service.c publishes.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "lb_error.h"
#include "service_ids.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "state: " fmt "\n", ##__VA_ARGS__)

struct lb_real_key {
	struct lb_svc_key svc;
	uint8_t addr[16];
	uint16_t port;   /* network order */
	uint8_t family;
	uint8_t pad;
};

/* The directories as stored: one entry per id, used != 0 while the id is taken. */
struct lb_svc_dir_ent {
	struct lb_svc_key key;
	uint32_t used;
};

struct lb_real_dir_ent {
	struct lb_real_key key;
	uint32_t used;
};

size_t
lb_svcs_dir_size(uint32_t max_services, uint32_t max_backends)
{
	return (size_t)max_services * sizeof(struct lb_svc_dir_ent) +
	       (size_t)max_backends * sizeof(struct lb_real_dir_ent);
}

static struct rte_hash *
resv_hash(const char *name, uint32_t n, uint32_t key_len)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = n < 8 ? 8 : n,
		.key_len = key_len,
		.socket_id = (int)rte_socket_id(),
	};
	return rte_hash_create(&hp);
}

/* Free lists with the lowest ids on top, reserved ids left out. */
static void
fill_free(uint32_t *stack, uint32_t *n, uint32_t cap, const uint8_t *reserved)
{
	*n = 0;
	for (uint32_t i = cap; i-- > 0;)
		if (reserved == NULL || !reserved[i])
			stack[(*n)++] = i;
}

int
lb_ids_init(struct lb_services *s, void *dir, size_t len, bool adopt, uint32_t hold_ms)
{
	size_t need = lb_svcs_dir_size(s->svc_cap, s->real_cap);
	uint8_t *rsvc = NULL, *rreal = NULL;
	uint32_t n_svc = 0, n_real = 0;

	s->svc_free = malloc(sizeof(*s->svc_free) * s->svc_cap);
	if (s->svc_free == NULL)
		return LB_ENOMEM;
	if (dir == NULL || len < need) {
		s->dir_own = calloc(1, need);
		if (s->dir_own == NULL)
			return LB_ENOMEM;
		dir = s->dir_own;
		adopt = false;
	}
	s->dir_svc = dir;
	s->dir_real = (struct lb_real_dir_ent *)(void *)(s->dir_svc + s->svc_cap);
	if (adopt) {
		rsvc = calloc(s->svc_cap, 1);
		rreal = calloc(s->real_cap, 1);
		if (rsvc == NULL || rreal == NULL)
			goto nomem;
		for (uint32_t i = 0; i < s->svc_cap; i++)
			n_svc += (rsvc[i] = s->dir_svc[i].used != 0);
		for (uint32_t i = 0; i < s->real_cap; i++)
			n_real += (rreal[i] = s->dir_real[i].used != 0);
	} else {
		memset(dir, 0, need);
	}
	if (n_svc + n_real > 0) {
		s->resv_svc = resv_hash("lb_resv_svc", n_svc, sizeof(struct lb_svc_key));
		s->resv_real = resv_hash("lb_resv_real", n_real, sizeof(struct lb_real_key));
		if (s->resv_svc == NULL || s->resv_real == NULL)
			goto nomem;
		for (uint32_t i = 0; i < s->svc_cap; i++)
			if (rsvc[i] && rte_hash_add_key_data(s->resv_svc, &s->dir_svc[i].key,
							     (void *)(uintptr_t)i) < 0)
				rsvc[i] = 0, s->dir_svc[i].used = 0; /* a duplicate: drop it */
		for (uint32_t i = 0; i < s->real_cap; i++)
			if (rreal[i] && rte_hash_add_key_data(s->resv_real, &s->dir_real[i].key,
							      (void *)(uintptr_t)i) < 0)
				rreal[i] = 0, s->dir_real[i].used = 0;
		s->resv_deadline_tsc = rte_rdtsc() + rte_get_tsc_hz() / 1000 * hold_ms;
		LOG(NOTICE, "id directory adopted: %u service ids and %u backend ids held for %u s "
			    "for the services the control plane sends again",
		    n_svc, n_real, hold_ms / 1000);
	}
	fill_free(s->svc_free, &s->n_svc_free, s->svc_cap, rsvc);
	fill_free(s->real_free, &s->n_real_free, s->real_cap, rreal);
	free(rsvc);
	free(rreal);
	return 0;
nomem:
	free(rsvc);
	free(rreal);
	return LB_ENOMEM;
}

/* Every reservation ends: its id goes back to the free list, its directory entry. */
static void
release_all(struct lb_services *s, const char *why)
{
	const void *key;
	void *data;
	uint32_t it = 0, n = 0;

	if (s->resv_svc == NULL)
		return;
	while (rte_hash_iterate(s->resv_svc, &key, &data, &it) >= 0) {
		uint32_t id = (uint32_t)(uintptr_t)data;
		s->dir_svc[id].used = 0;
		s->svc_free[s->n_svc_free++] = id;
		n++;
	}
	it = 0;
	while (rte_hash_iterate(s->resv_real, &key, &data, &it) >= 0) {
		uint32_t id = (uint32_t)(uintptr_t)data;
		s->dir_real[id].used = 0;
		s->real_free[s->n_real_free++] = id;
		n++;
	}
	rte_hash_free(s->resv_svc);
	rte_hash_free(s->resv_real);
	s->resv_svc = s->resv_real = NULL;
	LOG(NOTICE, "id reservations of the previous process ended (%s): %u ids not claimed "
		    "are free again", why, n);
}

void
lb_ids_tick(struct lb_services *s)
{
	if (s->resv_svc != NULL && (int64_t)(rte_rdtsc() - s->resv_deadline_tsc) >= 0)
		release_all(s, "hold time over");
}

void
lb_ids_destroy(struct lb_services *s)
{
	rte_hash_free(s->resv_svc);
	rte_hash_free(s->resv_real);
	s->resv_svc = s->resv_real = NULL;
	free(s->svc_free);
	free(s->dir_own);
}

/* Take the reservation of key from h: its id, or -1. */
static int32_t
claim(struct rte_hash *h, const void *key)
{
	void *data;

	if (h == NULL || rte_hash_lookup_data(h, key, &data) < 0)
		return -1;
	rte_hash_del_key(h, key);
	return (int32_t)(uintptr_t)data;
}

int
lb_ids_svc_alloc(struct lb_services *s, const struct lb_svc_key *k)
{
	int32_t id = claim(s->resv_svc, k);

	if (id < 0) {
		if (s->n_svc_free == 0)
			release_all(s, "service ids ran out");
		if (s->n_svc_free == 0)
			return LB_EFULL;
		id = (int32_t)s->svc_free[--s->n_svc_free];
	}
	s->dir_svc[id].key = *k;
	__atomic_store_n(&s->dir_svc[id].used, 1, __ATOMIC_RELEASE);
	return id;
}

void
lb_ids_svc_free(struct lb_services *s, uint32_t id)
{
	s->dir_svc[id].used = 0;
	s->svc_free[s->n_svc_free++] = id;
}

int
lb_ids_real_alloc(struct lb_services *s, const struct lb_svc_key *k, const struct lb_addr *a,
		  uint16_t port, bool *kept)
{
	struct lb_real_key rk;

	memset(&rk, 0, sizeof(rk));
	rk.svc = *k;
	memcpy(rk.addr, a->bytes, 16);
	rk.port = port;
	rk.family = a->family;
	int32_t id = claim(s->resv_real, &rk);
	*kept = id >= 0;
	if (id < 0) {
		if (s->n_real_free == 0)
			release_all(s, "backend ids ran out");
		if (s->n_real_free == 0)
			return LB_EFULL;
		id = (int32_t)s->real_free[--s->n_real_free];
	}
	s->dir_real[id].key = rk;
	s->dir_real[id].used = 1;
	return id;
}

void
lb_ids_real_free(struct lb_services *s, uint32_t id)
{
	s->dir_real[id].used = 0;
	s->real_free[s->n_real_free++] = id;
}
