/*
 * ctl.h - the dp control socket: newline-delimited JSON over a UNIX stream socket.
 *
 * Control thread only (main lcore, dp/main.c's loop). Serves edgelb-cp and
 * operators' tools; the protocol is in include/lb_ctl_proto.h and
 * docs/control-protocol.md. Nothing a client sends can reach the workers except
 * through a fully built, validated service object, so bad input never disturbs
 * forwarding.
 */
#ifndef LB_CTL_H
#define LB_CTL_H

#include <stddef.h>

struct lb_dp;
struct lb_ctl;

/* Create the socket at dp->conf.control_socket with its mode. NULL + err on failure. */
struct lb_ctl *lb_ctl_create(struct lb_dp *dp, char *err, size_t errlen);
void lb_ctl_destroy(struct lb_ctl *c);

/* Wait up to timeout_ms for socket activity and serve it. */
void lb_ctl_poll(struct lb_ctl *c, int timeout_ms);

#endif /* LB_CTL_H */
