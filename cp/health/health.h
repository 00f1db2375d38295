/*
 * health.h - active health checks (TCP connect, HTTP GET) of load balancers'
 * backends, in a thread of their own; results go to the store (see health.c).
 * Started and stopped by main.c in standalone mode.
 */
#ifndef LB_CP_HEALTH_H
#define LB_CP_HEALTH_H

#include <stddef.h>

struct cp_store;
struct cp_health;

struct cp_health *cp_health_start(struct cp_store *store, char *err, size_t errlen);
void cp_health_stop(struct cp_health *h);

#endif /* LB_CP_HEALTH_H */
