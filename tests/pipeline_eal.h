/*
 * pipeline_eal.h - what the in-process pipeline tests (test_pipeline.c,
 * test_pipeline_sched.c) share to stand up DPDK without root: net_ring ports whose
 * rings the test owns, and the CPU every (never launched) lcore is pinned to.
 */
#ifndef LB_TEST_PIPELINE_EAL_H
#define LB_TEST_PIPELINE_EAL_H

#include <sched.h>
#include <stdio.h>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ring.h>

/*
 * One net_ring port `name` with nq queue pairs: rx[q] is what the test enqueues for
 * worker q to receive, tx[q] (tx_size slots) what worker q transmits. Ring names
 * are "<tag>_rx_<port>_<q>". Returns 0 or -1 (rte_errno set).
 */
static inline int
pl_make_port(const char *name, const char *tag, unsigned port, struct rte_ring **rx,
	     struct rte_ring **tx, unsigned nq, unsigned tx_size)
{
	for (unsigned q = 0; q < nq; q++) {
		char n[RTE_RING_NAMESIZE];
		snprintf(n, sizeof(n), "%s_rx_%u_%u", tag, port, q);
		rx[q] = rte_ring_create(n, 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(n, sizeof(n), "%s_tx_%u_%u", tag, port, q);
		tx[q] = rte_ring_create(n, tx_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (rx[q] == NULL || tx[q] == NULL)
			return -1;
	}
	return rte_eth_from_rings(name, rx, nq, tx, nq, 0) < 0 ? -1 : 0;
}

/* The first CPU this process may run on: all lcores share it (none is launched). */
static inline int
pl_first_cpu(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			return c;
	return 0;
}

/*
 * EAL for an in-process pipeline test named name: no hugepages, no PCI, no shared
 * config, mem_mb of memory, three lcores (main + two workers, never launched) on
 * the first allowed CPU, a file prefix of its own. Returns rte_eal_init()'s result.
 */
static inline int
pl_eal_init(const char *name, const char *mem_mb)
{
	static char lcores[64], prefix[96], prog[64];
	int cpu = pl_first_cpu();

	snprintf(lcores, sizeof(lcores), "0@%d,1@%d,2@%d", cpu, cpu, cpu);
	snprintf(prefix, sizeof(prefix), "edgelb-%s-%d", name, (int)getpid());
	snprintf(prog, sizeof(prog), "%s", name);
	static char *eal[16];
	char *args[] = {prog, "--no-huge", "--no-pci", "--no-shconf", "-m", (char *)mem_mb,
			"--no-telemetry", "--file-prefix", prefix, "--lcores", lcores,
			"--log-level", "*:warning", NULL};
	int n = 0;
	for (; args[n] != NULL; n++)
		eal[n] = args[n];
	eal[n] = NULL;
	return rte_eal_init(n, eal);
}

#endif /* LB_TEST_PIPELINE_EAL_H */
