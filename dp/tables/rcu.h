/*
 * rcu.h - deferred reclamation for objects the workers may still be reading.
 *
 * The control thread unpublishes an object (an atomic pointer store, a hash key
 * delete), then retires it here with a function that frees it. lb_rcu_reclaim(),
 * called from the control loop, runs those functions once every worker has
 * reported a quiescent state (rte_rcu_qsbr) after the retirement. Control thread
 * only; workers just call rte_rcu_qsbr_quiescent() once per loop.
 */
#ifndef LB_RCU_H
#define LB_RCU_H

#include <stdint.h>

struct rte_rcu_qsbr;
struct lb_rcu;

typedef void (*lb_rcu_free_fn)(void *ctx, void *p, uintptr_t arg);

struct lb_rcu *lb_rcu_create(struct rte_rcu_qsbr *v);
void lb_rcu_destroy(struct lb_rcu *r); /* runs every pending free: workers must be stopped */

/* Retire p: fn(ctx, p, arg) runs after a grace period. Returns 0 or LB_ENOMEM. */
int lb_rcu_retire(struct lb_rcu *r, lb_rcu_free_fn fn, void *ctx, void *p, uintptr_t arg);

/* Run the frees whose grace period has ended. Returns how many ran. */
unsigned lb_rcu_reclaim(struct lb_rcu *r);

#endif /* LB_RCU_H */
