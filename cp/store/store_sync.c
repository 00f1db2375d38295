/*
 * store_sync.c - the store's readers for the other threads (see store.h): the
 * version and wait of the dp sync thread and its service specs, the health
 * checker's targets and results, the kubernetes-mode ready flag (set by the
 * reconcile thread, waited on by dp sync), and the counts /metrics shows (API
 * threads). Each call takes s->mu; store_impl.h has the layout.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_error.h"
#include "store.h"
#include "store_impl.h"

/* ---- dp sync, health, metrics ---------------------------------------------- */

uint64_t
cp_store_version(struct cp_store *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t v = s->version;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void
cp_store_wait(struct cp_store *s, uint64_t seen, int timeout_ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (s->version == seen)
		if (pthread_cond_timedwait(&s->changed, &s->mu, &ts) != 0)
			break;
	pthread_mutex_unlock(&s->mu);
}

int
cp_store_dp_specs(struct cp_store *s, struct lb_svc_spec **out, uint32_t *n, uint64_t *version)
{
	struct lb_svc_spec *all = NULL;
	uint32_t total = 0;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < s->n && rc == 0; i++) {
		struct lb_svc_spec *sp = NULL;
		uint32_t k = 0;
		rc = cp_lb_dp_specs(&s->e[i].lb, s->e[i].health, &sp, &k);
		if (rc < 0 || k == 0) {
			free(sp);
			continue;
		}
		struct lb_svc_spec *grown = realloc(all, sizeof(*all) * (total + k));
		if (grown == NULL) {
			for (uint32_t j = 0; j < k; j++)
				lb_svc_spec_free(&sp[j]);
			free(sp);
			rc = LB_ENOMEM;
			break;
		}
		all = grown;
		memcpy(all + total, sp, sizeof(*sp) * k);
		total += k;
		free(sp);
	}
	*version = s->version;
	pthread_mutex_unlock(&s->mu);
	if (rc < 0) {
		for (uint32_t j = 0; j < total; j++)
			lb_svc_spec_free(&all[j]);
		free(all);
		return rc;
	}
	*out = all;
	*n = total;
	return 0;
}

int
cp_store_hc_targets(struct cp_store *s, struct cp_hc_target **out, uint32_t *n, uint64_t *version)
{
	uint32_t cap = 0, k = 0;
	struct cp_hc_target *t = NULL;

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < s->n; i++)
		if (s->e[i].lb.hc.type != CP_HC_NONE)
			cap += s->e[i].lb.n_backends;
	t = calloc(cap ? cap : 1, sizeof(*t));
	for (uint32_t i = 0; t && i < s->n; i++) {
		const struct cp_lb *lb = &s->e[i].lb;
		if (lb->hc.type == CP_HC_NONE)
			continue;
		uint32_t first = k;
		for (uint32_t b = 0; b < lb->n_backends; b++) {
			uint16_t port = lb->hc.port ? lb->hc.port : lb->backends[b].port;
			if (port == 0 && lb->n_ports > 0)
				port = lb->ports[0].target_port;
			if (port == 0)
				continue;
			bool dup = false; /* node backends: one health port for all of a node's ports */
			for (uint32_t x = first; x < k && !dup; x++)
				dup = t[x].port == port && lb_addr_eq(&t[x].addr, &lb->backends[b].addr);
			if (dup)
				continue;
			cp_lb_key(lb, t[k].key, sizeof(t[k].key));
			t[k].addr = lb->backends[b].addr;
			t[k].port = port;
			t[k].hc = lb->hc;
			k++;
		}
	}
	*version = s->version;
	pthread_mutex_unlock(&s->mu);
	*out = t;
	*n = k;
	return t ? 0 : LB_ENOMEM;
}

void
cp_store_set_health(struct cp_store *s, const char *key, const struct lb_addr *addr, uint16_t port,
		    uint8_t health)
{
	bool changed = false;

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < s->n; i++) {
		struct entry *e = &s->e[i];
		char k[LB_OWNER_MAX];
		if (strcmp(cp_lb_key(&e->lb, k, sizeof(k)), key) != 0)
			continue;
		for (uint32_t b = 0; b < e->lb.n_backends; b++) {
			uint16_t p = e->lb.hc.port ? e->lb.hc.port : e->lb.backends[b].port;
			if (p == 0 && e->lb.n_ports > 0)
				p = e->lb.ports[0].target_port;
			if (lb_addr_eq(&e->lb.backends[b].addr, addr) && p == port &&
			    e->health[b] != health) {
				e->health[b] = health;
				changed = true;
			}
		}
	}
	if (changed)
		bump(s);
	pthread_mutex_unlock(&s->mu);
}

void
cp_store_set_ready(struct cp_store *s)
{
	pthread_mutex_lock(&s->mu);
	s->ready = true;
	pthread_mutex_unlock(&s->mu);
}

bool
cp_store_ready(struct cp_store *s)
{
	pthread_mutex_lock(&s->mu);
	bool r = s->ready;
	pthread_mutex_unlock(&s->mu);
	return r;
}

void
cp_store_file_stats(struct cp_store *s, uint64_t *writes, uint64_t *bytes)
{
	pthread_mutex_lock(&s->mu);
	*writes = s->file_writes;
	*bytes = s->file_bytes;
	pthread_mutex_unlock(&s->mu);
}

void
cp_store_counts(struct cp_store *s, uint32_t *lbs, uint32_t *pending, uint32_t *down)
{
	pthread_mutex_lock(&s->mu);
	*lbs = s->n;
	*pending = *down = 0;
	for (uint32_t i = 0; i < s->n; i++) {
		*pending += s->e[i].lb.n_ips == 0;
		for (uint32_t b = 0; b < s->e[i].lb.n_backends; b++)
			*down += s->e[i].health[b] == 2;
	}
	pthread_mutex_unlock(&s->mu);
}
