/*
 * scheduler.c - IPVS's schedulers (see scheduler.h for the formulas).
 *
 * lb_sched_build()/lb_sched_free() run on the dp control thread when it builds a
 * service object; the pick functions run on worker lcores for new flows only and
 * touch nothing but the immutable set and the calling worker's cursor. Pure C.
 */
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "lb_error.h"
#include "scheduler.h"

static uint16_t
gcd16(uint16_t a, uint16_t b)
{
	while (b != 0) {
		uint16_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

void
lb_sched_free(struct lb_sched_set *set)
{
	free(set->idx);
	free(set->weight);
	free(set->bucket);
	memset(set, 0, sizeof(*set));
}

/* sh/dh: fill the bucket table (ip_vs_sh_reassign / ip_vs_dh_reassign). */
static void
fill_buckets(struct lb_sched_set *set)
{
	uint32_t nb = 1u << set->bits, cur = 0, count = 0;

	for (uint32_t b = 0; b < nb; b++) {
		set->bucket[b] = (uint16_t)cur;
		/* sh: weight/gcd consecutive buckets each (the gcd keeps 100,100 like 1,1) */
		uint32_t share = set->kind == LB_SCHED_SH ? set->weight[cur] / set->gcd_w : 1;
		if (++count >= share) {
			cur = (cur + 1) % set->n;
			count = 0;
		}
	}
}

int
lb_sched_build(struct lb_sched_set *set, uint8_t kind, const uint16_t *w, uint32_t n)
{
	memset(set, 0, sizeof(*set));
	if (kind > LB_SCHED_MAX || n > LB_MAX_BACKENDS_PER_SVC || (n > 0 && w == NULL))
		return LB_EINVAL;
	set->kind = kind;
	set->idx = malloc(sizeof(*set->idx) * (n ? n : 1));
	set->weight = malloc(sizeof(*set->weight) * (n ? n : 1));
	if (set->idx == NULL || set->weight == NULL)
		goto nomem;
	for (uint32_t i = 0; i < n; i++) {
		if (w[i] == 0)
			continue;
		set->idx[set->n] = (uint16_t)i;
		set->weight[set->n++] = w[i];
		set->max_w = w[i] > set->max_w ? w[i] : set->max_w;
		set->gcd_w = gcd16(w[i], set->gcd_w);
	}
	if ((kind == LB_SCHED_SH || kind == LB_SCHED_DH) && set->n > 0) {
		set->bits = LB_SCHED_HASH_BITS;
		while ((1u << set->bits) < set->n) /* more backends than buckets: grow */
			set->bits++;
		set->bucket = malloc(sizeof(*set->bucket) << set->bits);
		if (set->bucket == NULL)
			goto nomem;
		fill_buckets(set);
	}
	return 0;
nomem:
	lb_sched_free(set);
	return LB_ENOMEM;
}

void
lb_sched_cursor_reset(struct lb_sched_cursor *c, uint32_t version)
{
	c->version = version;
	c->i = -1; /* at the list head: the next step wraps to the first backend */
	c->cw = 0;
}

uint32_t
lb_sched_rr(const struct lb_sched_set *set, struct lb_sched_cursor *c)
{
	if (set->n == 0)
		return LB_SCHED_NONE;
	c->i = (int32_t)(((uint32_t)(c->i + 1)) % set->n);
	return (uint32_t)c->i;
}

/*
 * ip_vs_wrr_schedule(): walk the list; passing the head lowers cw by the gcd and
 * restarts from max weight when it reaches 0; take the first backend whose
 * weight >= cw. It ends within one walk at cw = max, where the heaviest qualifies.
 */
uint32_t
lb_sched_wrr(const struct lb_sched_set *set, struct lb_sched_cursor *c)
{
	if (set->n == 0)
		return LB_SCHED_NONE;
	if (c->cw > set->max_w)
		c->cw = set->max_w;
	if (c->cw <= 0)
		c->i = -1; /* a fresh mark sits at the head */
	for (;;) {
		if (c->i < 0 || (uint32_t)c->i + 1 >= set->n) {
			c->i = 0;
			c->cw -= set->gcd_w;
			if (c->cw <= 0)
				c->cw = set->max_w;
		} else {
			c->i++;
		}
		if (set->weight[c->i] >= c->cw)
			return (uint32_t)c->i;
	}
}

uint32_t
lb_sched_overhead(uint8_t kind, uint32_t active, uint32_t inactive)
{
	uint64_t o;

	if (kind == LB_SCHED_SED || kind == LB_SCHED_NQ)
		o = (uint64_t)active + 1;
	else
		o = ((uint64_t)active << 8) + inactive; /* ip_vs_dest_conn_overhead() */
	return o > UINT32_MAX ? UINT32_MAX : (uint32_t)o;
}

/*
 * lc: the least overhead. wlc, sed, nq: the least overhead / weight, compared
 * without division as IPVS does: dest beats least when loh * w > doh * lw. nq
 * first takes a backend with no active connection. Ties keep the earlier backend.
 */
uint32_t
lb_sched_least(const struct lb_sched_set *set, lb_sched_load_fn load, void *arg)
{
	uint32_t least = LB_SCHED_NONE;
	uint64_t loh = 0;

	for (uint32_t i = 0; i < set->n; i++) {
		uint32_t act = 0, inact = 0;

		load(arg, set->idx[i], &act, &inact);
		uint64_t doh = lb_sched_overhead(set->kind, act, inact);
		if (set->kind == LB_SCHED_NQ && act == 0)
			return i;
		if (least == LB_SCHED_NONE) {
			least = i;
			loh = doh;
			continue;
		}
		bool better = set->kind == LB_SCHED_LC
				      ? doh < loh
				      : loh * set->weight[i] > doh * set->weight[least];
		if (better) {
			least = i;
			loh = doh;
		}
	}
	return least;
}

uint32_t
lb_sched_addr_fold(uint8_t family, const uint8_t *a)
{
	uint32_t v = 0;
	unsigned words = family == LB_AF_INET6 ? 4 : 1;

	for (unsigned k = 0; k < words; k++)
		v ^= (uint32_t)a[4 * k] << 24 | (uint32_t)a[4 * k + 1] << 16 |
		     (uint32_t)a[4 * k + 2] << 8 | a[4 * k + 3];
	return v;
}

uint32_t
lb_sched_hash(const struct lb_sched_set *set, uint8_t family, const uint8_t *addr)
{
	if (set->n == 0 || set->bucket == NULL)
		return LB_SCHED_NONE;
	uint32_t h = (lb_sched_addr_fold(family, addr) * LB_SCHED_GOLDEN) >> (32 - set->bits);
	return set->bucket[h];
}

uint32_t
lb_sched_pick(const struct lb_sched_set *set, struct lb_sched_cursor *c, uint32_t version,
	      lb_sched_load_fn load, void *arg, uint8_t family, const uint8_t *src,
	      const uint8_t *dst)
{
	uint32_t pos;

	if (c->version != version) {
		/* the backend set may have changed: wrr restarts (IPVS resets its mark) */
		c->version = version;
		if (set->kind == LB_SCHED_WRR) {
			c->i = -1;
			c->cw = 0;
		}
	}
	switch (set->kind) {
	case LB_SCHED_RR:
		pos = lb_sched_rr(set, c);
		break;
	case LB_SCHED_WRR:
		pos = lb_sched_wrr(set, c);
		break;
	case LB_SCHED_LC:
	case LB_SCHED_WLC:
	case LB_SCHED_SED:
	case LB_SCHED_NQ:
		pos = lb_sched_least(set, load, arg);
		break;
	case LB_SCHED_SH:
		pos = lb_sched_hash(set, family, src);
		break;
	case LB_SCHED_DH:
		pos = lb_sched_hash(set, family, dst);
		break;
	default:
		pos = LB_SCHED_NONE;
	}
	return pos == LB_SCHED_NONE ? LB_SCHED_NONE : set->idx[pos];
}
