/*
 * port.h - ethdev setup: probe, queues, RSS, offloads, fnat reply steering.
 *
 * Main lcore only, before workers start (lb_ports_init) and after they stop
 * (lb_ports_close). Worker w owns RX queue w and TX queue w of every port.
 */
#ifndef LB_PORT_H
#define LB_PORT_H

#include <stddef.h>

struct lb_dp;

/* Probe every configured device, configure and start it. */
int lb_ports_init(struct lb_dp *dp, char *err, size_t errlen);

/*
 * fnat replies go to the worker that owns the connection: local port p belongs to
 * worker p % n_workers. Install rte_flow rules that steer them (when the
 * configured steering allows and the port accepts them); ports without rules use
 * the worker-to-worker ring. Logs which mode each port uses.
 */
int lb_ports_steer(struct lb_dp *dp, char *err, size_t errlen);

void lb_ports_close(struct lb_dp *dp);

#endif /* LB_PORT_H */
