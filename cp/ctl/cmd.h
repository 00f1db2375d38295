/*
 * cmd.h - edgelbctl's commands, one function each (docs/api.md): each makes
 * its REST requests and prints a table, or with -o json the API's answer.
 *
 * Called by main.c on edgelbctl's one thread. Return the exit status.
 */
#ifndef LB_CTL_CMD_H
#define LB_CTL_CMD_H

#include <stdbool.h>

#include "ctl.h"

int cmd_get_lbs(struct ctl *c);
int cmd_get_lb(struct ctl *c, const char *arg);
int cmd_get_pools(struct ctl *c);
/* create (apply false) or apply: every load balancer of FILE in turn. */
int cmd_create_apply(struct ctl *c, const char *file, bool apply);
int cmd_delete(struct ctl *c, char **names, int n);
int cmd_set_backends(struct ctl *c, const char *arg, const char *file);
int cmd_stats(struct ctl *c);
int cmd_conns(struct ctl *c, const char *lb, const char *limit);
int cmd_version(struct ctl *c);

/* drain.c: the box's BGP announcements (/v1/drain, /v1/bgp). */
int cmd_drain(struct ctl *c, bool on, const char *timeout, bool wait);
int cmd_bgp(struct ctl *c);

#endif /* LB_CTL_CMD_H */
