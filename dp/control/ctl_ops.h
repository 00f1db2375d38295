/*
 * ctl_ops.h - the control socket's request handler without the socket: one
 * request line in, its reply line out (include/lb_ctl_proto.h).
 *
 * Control thread only. ctl.c feeds it the lines its clients send;
 * tests/fuzz/fuzz_ctl.c feeds it arbitrary bytes.
 */
#ifndef LB_CTL_OPS_H
#define LB_CTL_OPS_H

#include <stddef.h>
#include <stdint.h>

struct lb_dp;
struct lb_ctl_ops;

struct lb_ctl_ops *lb_ctl_ops_create(struct lb_dp *dp);
void lb_ctl_ops_destroy(struct lb_ctl_ops *o);

/*
 * Handle one request line (len bytes, no newline; any bytes). Returns its reply as
 * one line of JSON without the newline (malloc'd), NULL only when out of memory.
 * rx_tsc is when the line was read (service.upsert "wait" counts from it).
 */
char *lb_ctl_ops_handle(struct lb_ctl_ops *o, const char *line, size_t len, uint64_t rx_tsc);

/* A reply with no request to answer (a line too long): {"id":null,"ok":false,...}. */
char *lb_ctl_ops_error(const char *code, const char *msg);

#endif /* LB_CTL_OPS_H */
