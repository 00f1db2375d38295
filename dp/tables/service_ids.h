/*
 * service_ids.h - service and backend ids that survive a restart (service.c only).
 *
 * Control thread only. Connections store a service id and a real (backend) id; a
 * restarted dp that re-attached its conntrack tables must give every service and
 * backend the cp sends again the id it had before, or those connections would
 * name the wrong objects. So ids are allocated here, not taken from rte_hash
 * positions, and every id in use is written to a directory (key per id) that
 * lives in the persistent shared state region (dp/control/state.c) when there is
 * one, in plain memory otherwise.
 *
 * At start with an adopted directory, each id in use becomes a reservation for
 * its key: that key gets the id back when it is upserted again; other keys get
 * other ids. Reservations end after hold_ms (by then the connections of keys
 * that never came back have expired) or when the id space runs out; their ids
 * then return to the free lists.
 */
#ifndef LB_SERVICE_IDS_H
#define LB_SERVICE_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "service_fastpath.h"

/* Initialise the allocators (from lb_svcs_create). dir: lb_svcs_dir_size() bytes or NULL. */
int lb_ids_init(struct lb_services *s, void *dir, size_t len, bool adopt, uint32_t hold_ms);
void lb_ids_destroy(struct lb_services *s);

/* A new service key's id (its reservation if it has one); LB_EFULL when none is left. */
int lb_ids_svc_alloc(struct lb_services *s, const struct lb_svc_key *k);
void lb_ids_svc_free(struct lb_services *s, uint32_t id);

/*
 * A new backend of service k: (addr, port network order). *kept says the id is
 * the one the previous process gave it (its kept connections count on it).
 */
int lb_ids_real_alloc(struct lb_services *s, const struct lb_svc_key *k, const struct lb_addr *a,
		      uint16_t port, bool *kept);
void lb_ids_real_free(struct lb_services *s, uint32_t id);

/* End the reservations once their time is up (control loop, via lb_svcs_reclaim). */
void lb_ids_tick(struct lb_services *s);

#endif /* LB_SERVICE_IDS_H */
