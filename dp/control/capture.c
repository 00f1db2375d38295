/*
 * capture.c - live packet capture: rte_pdump in the dp (capture.h).
 *
 * Main lcore, at start and exit (dp/main.c); no per-packet cost until a capture
 * tool asks, then only on the ports and directions it asked for (rte_pdump adds
 * ethdev RX/TX callbacks that copy each packet into the tool's mempool; a copy
 * that finds its ring full is counted by the tool, never blocks a worker).
 *
 * The tools attach as DPDK secondary processes: they need the dp's
 * --file-prefix and its hugepage memory, so a dp started with --no-huge or
 * --in-memory cannot be captured (docs/operations.md, Live packet capture).
 */
#include <stdbool.h>
#include <stdio.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include "capture.h"
#include "lb_error.h"

static bool enabled;

int
lb_capture_init(void)
{
	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return LB_EINVAL;
	if (rte_pdump_init() < 0) {
		printf("edgelb-dp: live capture unavailable: %s\n", rte_strerror(rte_errno));
		return LB_EIO;
	}
	enabled = true;
	printf("edgelb-dp: live capture ready (dpdk-dumpcap / dpdk-pdump, runtime dir %s)\n",
	       rte_eal_get_runtime_dir());
	return 0;
}

void
lb_capture_fini(void)
{
	if (enabled)
		rte_pdump_uninit();
	enabled = false;
}
