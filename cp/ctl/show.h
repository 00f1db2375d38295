/*
 * show.h - load balancers as edgelbctl prints them: the list table, the
 * detail view (one block per address x port, backends as the dp gets them)
 * and the one line after a change.
 *
 * Called by the commands (cmd.c) on edgelbctl's one thread; prints to stdout.
 */
#ifndef LB_CTL_SHOW_H
#define LB_CTL_SHOW_H

#include <jansson.h>

void show_lb_table(const json_t *items);
void show_lb_detail(const json_t *lb);
/* "loadbalancer default/web created (198.18.0.100)" */
void show_lb_done(const json_t *lb, const char *what);

#endif /* LB_CTL_SHOW_H */
