/*
 * rcu.c - deferred reclamation (see rcu.h). Control thread only.
 *
 * A FIFO of {token, free function}. Tokens from rte_rcu_qsbr_start() grow
 * monotonically, so once the head's grace period is over we may test the next;
 * the first one still in its grace period stops the scan.
 */
#include <stdlib.h>

#include <rte_rcu_qsbr.h>

#include "lb_error.h"
#include "rcu.h"

struct lb_rcu_entry {
	uint64_t token;
	lb_rcu_free_fn fn;
	void *ctx;
	void *p;
	uintptr_t arg;
};

struct lb_rcu {
	struct rte_rcu_qsbr *v;
	struct lb_rcu_entry *q; /* ring buffer */
	unsigned cap, head, n;
};

struct lb_rcu *
lb_rcu_create(struct rte_rcu_qsbr *v)
{
	struct lb_rcu *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->v = v;
	r->cap = 1024;
	r->q = calloc(r->cap, sizeof(*r->q));
	if (r->q == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

static int
grow(struct lb_rcu *r)
{
	unsigned cap = r->cap * 2;
	struct lb_rcu_entry *q = calloc(cap, sizeof(*q));

	if (q == NULL)
		return LB_ENOMEM;
	for (unsigned i = 0; i < r->n; i++)
		q[i] = r->q[(r->head + i) % r->cap];
	free(r->q);
	r->q = q;
	r->cap = cap;
	r->head = 0;
	return 0;
}

int
lb_rcu_retire(struct lb_rcu *r, lb_rcu_free_fn fn, void *ctx, void *p, uintptr_t arg)
{
	if (r->n == r->cap && grow(r) < 0)
		return LB_ENOMEM;
	struct lb_rcu_entry *e = &r->q[(r->head + r->n) % r->cap];
	/* The unpublishing store happened before this call; start() orders after it. */
	e->token = rte_rcu_qsbr_start(r->v);
	e->fn = fn;
	e->ctx = ctx;
	e->p = p;
	e->arg = arg;
	r->n++;
	return 0;
}

unsigned
lb_rcu_reclaim(struct lb_rcu *r)
{
	unsigned done = 0;

	while (r->n > 0) {
		/* Copy: the free function may retire more and grow the queue. */
		struct lb_rcu_entry e = r->q[r->head];
		if (rte_rcu_qsbr_check(r->v, e.token, false) != 1)
			break;
		r->head = (r->head + 1) % r->cap;
		r->n--;
		e.fn(e.ctx, e.p, e.arg);
		done++;
	}
	return done;
}

void
lb_rcu_destroy(struct lb_rcu *r)
{
	if (r == NULL)
		return;
	while (r->n > 0) {
		struct lb_rcu_entry e = r->q[r->head];
		r->head = (r->head + 1) % r->cap;
		r->n--;
		e.fn(e.ctx, e.p, e.arg);
	}
	free(r->q);
	free(r);
}
