/*
 * notify.c - edgelb-dp's systemd notifications (include/lb_notify.h).
 *
 * Runs on the main lcore, called from the control loop in dp/main.c.
 *
 * Liveness of the workers: every worker reports a quiescent state to the QSBR
 * variable once per loop (dp/worker.c), idle or not. Each watchdog period this
 * file takes a QSBR token and, one period later, checks without blocking that
 * every online worker has reported since. Only then does it send WATCHDOG=1. A
 * worker that stopped making progress (a loop that never ends, a deadlock) keeps
 * the check failing, the pings stop, and systemd kills and restarts the dp after
 * WatchdogSec. The control thread itself is covered too: when it stops calling
 * lb_notify_dp_poll() nothing is sent either.
 */
#include <stdbool.h>
#include <stdio.h>

#include <rte_rcu_qsbr.h>

#include "dp.h"
#include "lb_notify.h"
#include "notify.h"
#include "service.h"

static struct {
	uint64_t period_tsc; /* half of WatchdogSec in TSC cycles; 0 = no watchdog */
	uint64_t next_tsc;
	uint64_t token;      /* QSBR token taken at the last ping */
	bool pending;
	bool stuck;
} nt;

void
lb_notify_dp_ready(const struct lb_dp *dp)
{
	uint64_t usec = lb_notify_watchdog_usec();

	if (usec)
		nt.period_tsc = usec / 2 * (dp->tsc_hz / 1000000);
	nt.next_tsc = 0;
	nt.pending = false;
	nt.stuck = false;
	lb_notify("READY=1\nSTATUS=forwarding: %u worker(s), %u port(s), %u service(s)",
		  dp->n_workers, dp->n_ports, lb_svcs_count(dp->svcs));
	if (usec)
		printf("edgelb-dp: systemd watchdog every %llu ms, fed while all workers progress\n",
		       (unsigned long long)(usec / 2000));
}

void
lb_notify_dp_poll(const struct lb_dp *dp, uint64_t now)
{
	if (nt.period_tsc == 0 || now < nt.next_tsc)
		return;
	nt.next_tsc = now + nt.period_tsc;
	if (nt.pending && rte_rcu_qsbr_check(dp->qsbr, nt.token, false) != 1) {
		if (!nt.stuck)
			lb_notify("STATUS=a worker lcore has not made progress for %llu ms; "
				  "not feeding the watchdog",
				  (unsigned long long)(nt.period_tsc / (dp->tsc_hz / 1000)));
		nt.stuck = true;
		return; /* keep the old token: any progress since then clears it */
	}
	if (nt.stuck) {
		nt.stuck = false;
		lb_notify("STATUS=forwarding: workers progress again, %u service(s)",
			  lb_svcs_count(dp->svcs));
	}
	lb_notify("WATCHDOG=1");
	nt.token = rte_rcu_qsbr_start(dp->qsbr);
	nt.pending = true;
}

void
lb_notify_dp_stopping(void)
{
	lb_notify("STOPPING=1\nSTATUS=stopping");
}
