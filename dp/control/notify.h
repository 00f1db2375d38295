/*
 * notify.h - edgelb-dp's systemd notifications: ready, status, watchdog.
 *
 * Control thread only (dp/main.c's loop). The watchdog is fed only while every
 * worker lcore keeps passing quiescent states, so a worker stuck in a loop stops
 * the pings and systemd restarts the dp (WatchdogSec= in edgelb-dp.service).
 */
#ifndef LB_DP_NOTIFY_H
#define LB_DP_NOTIFY_H

#include <stdint.h>

struct lb_dp;

/* The workers run and the control socket listens: READY=1 and a STATUS line. */
void lb_notify_dp_ready(const struct lb_dp *dp);
/* Once per control loop: feeds the watchdog when it is due and the workers progress. */
void lb_notify_dp_poll(const struct lb_dp *dp, uint64_t now_tsc);
/* STOPPING=1 before the workers are stopped. */
void lb_notify_dp_stopping(void);

#endif /* LB_DP_NOTIFY_H */
