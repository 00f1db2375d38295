/*
 * fuzz_dp.h - a whole dp in the fuzzing process, for fuzz_pipeline.c and fuzz_ctl.c.
 *
 * Built once in LLVMFuzzerInitialize: EAL with --no-huge --no-pci --no-shconf and a
 * file prefix of its own (edgelb-fuzz-<target>-<pid>), two net_ring ports whose
 * rings the harness owns (tests/pipeline_eal.h), and the dp of fz_config below
 * built as test_pipeline.c builds it, plus the ARP/NDP/ICMP module (the control
 * thread's packet work). Worker lcores are named, never launched: the harness
 * thread plays worker 0 and the control thread. Topology:
 *
 *   port 0 "ext" 198.18.0.2/24 2001:db8:1::2/64, gateway .1 / ::1 (static)
 *   port 1 "int" 198.19.0.1/24 2001:db8:2::1/64, mtu 1400, fnat sources .2 / ::2
 *   services: 198.18.0.100 tcp 80 / udp 53 fnat -> 198.19.0.10,
 *             198.18.0.101 tcp 80 dnat -> 198.19.0.11, 198.18.0.104 tcp 80 dnat ->
 *             198.19.0.20 (unresolved), 2001:db8:1::100 tcp 80 fnat -> 2001:db8:2::10,
 *             2001:db8:1::101 udp 53 dnat -> 2001:db8:2::11
 */
#ifndef LB_FUZZ_DP_H
#define LB_FUZZ_DP_H


#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_mempool.h>
#include <sanitizer/lsan_interface.h>
#include <rte_ring.h>

#include "../pipeline_eal.h"
#include "arp.h"
#include "config.h"
#include "dp.h"
#include "service.h"
#include "worker.h"

#define FZ_PORTS 2
#define FZ_WORKERS 2
#define FZ_TX_RING 1024

static const char fz_config[] =
	"dp: { workers = [1, 2]; mbufs = 4096; hash_seed = \"0x5eed5eed5eed5eed\";\n"
	"  max_services = 32; max_backends = 64; steering = \"ring\"; snat_ports = [40000, 40063];\n"
	"  control_socket = \"\"; };\n"
	"conntrack: { capacity = 1024; };\n"
	"affinity: { capacity = 64; };\n"
	"ports = (\n"
	"  { name = \"ext\"; device = \"net_ring_ext\"; role = \"external\";\n"
	"    addresses = [\"198.18.0.2/24\", \"2001:db8:1::2/64\"]; mac = \"02:00:00:00:00:02\";\n"
	"    rx_desc = 64; tx_desc = 64; },\n"
	"  { name = \"int\"; device = \"net_ring_int\"; role = \"internal\";\n"
	"    addresses = [\"198.19.0.1/24\", \"2001:db8:2::1/64\"];\n"
	"    local_addresses = [\"198.19.0.2\", \"2001:db8:2::2\"]; mac = \"02:00:00:00:01:01\";\n"
	"    mtu = 1400; rx_desc = 64; tx_desc = 64; }\n"
	");\n"
	"routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; },\n"
	"  { prefix = \"::/0\"; via = \"2001:db8:1::1\"; port = \"ext\"; } );\n"
	"neighbours = (\n"
	"  { address = \"198.18.0.1\"; mac = \"02:00:00:00:00:01\"; },\n"
	"  { address = \"2001:db8:1::1\"; mac = \"02:00:00:00:00:01\"; port = \"ext\"; },\n"
	"  { address = \"198.19.0.10\"; mac = \"02:00:00:00:01:10\"; },\n"
	"  { address = \"198.19.0.11\"; mac = \"02:00:00:00:01:11\"; },\n"
	"  { address = \"2001:db8:2::10\"; mac = \"02:00:00:00:02:10\"; },\n"
	"  { address = \"2001:db8:2::11\"; mac = \"02:00:00:00:02:11\"; }\n"
	");\n"
	"services = (\n"
	"  { name = \"f/fnat4\"; vip = \"198.18.0.100\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"198.19.0.10\"; port = 8080; } ); },\n"
	"  { name = \"f/fnat4-udp\"; vip = \"198.18.0.100\"; port = 53; protocol = \"udp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"198.19.0.10\"; port = 5353; } ); },\n"
	"  { name = \"f/dnat4\"; vip = \"198.18.0.101\"; port = 80; protocol = \"tcp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"198.19.0.11\"; port = 8080; } ); },\n"
	"  { name = \"f/unres\"; vip = \"198.18.0.104\"; port = 80; protocol = \"tcp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"198.19.0.20\"; port = 8080; } ); },\n"
	"  { name = \"f/fnat6\"; vip = \"2001:db8:1::100\"; port = 80; protocol = \"tcp\"; mode = \"fnat\";\n"
	"    backends = ( { address = \"2001:db8:2::10\"; port = 8080; } ); },\n"
	"  { name = \"f/dnat6-udp\"; vip = \"2001:db8:1::101\"; port = 53; protocol = \"udp\"; mode = \"dnat\";\n"
	"    backends = ( { address = \"2001:db8:2::11\"; port = 5353; } ); }\n"
	");\n";

static struct lb_dp fz_dp;
static struct rte_ring *fz_rx[FZ_PORTS][FZ_WORKERS], *fz_tx[FZ_PORTS][FZ_WORKERS];
static struct rte_ring *fz_handoff1;
static char fz_rundir[PATH_MAX];

static inline void
fz_cleanup(void)
{
	/* EAL leaves its (then empty) runtime directory: one per run. */
	if (fz_rundir[0])
		rmdir(fz_rundir);
}

/*
 * LeakSanitizer does not look inside DPDK's memory (an anonymous mapping with
 * --no-huge): services and tables whose only pointer lives in an rte_malloc'd
 * directory would all look leaked. Make that memory a root region.
 */
static inline int
fz_lsan_root(const struct rte_memseg_list *msl, void *arg)
{
	(void)arg;
	if (msl->base_va != NULL && msl->len > 0)
		__lsan_register_root_region(msl->base_va, msl->len);
	return 0;
}

/* EAL, ports and dp, once per process. Exits on failure (nothing to fuzz). */
static inline void
fz_dp_init(const char *target)
{
	char lcores[64], prefix[64], err[512] = "";
	int cpu = pl_first_cpu();
	static const char *const names[FZ_PORTS] = {"ext", "int"};

	snprintf(lcores, sizeof(lcores), "0@%d,1@%d,2@%d", cpu, cpu, cpu);
	snprintf(prefix, sizeof(prefix), "edgelb-fuzz-%s-%d", target, (int)getpid());
	char *eal[] = {"fuzz", "--no-huge", "--no-pci", "--no-shconf", "-m", "128",
		       "--no-telemetry", "--file-prefix", prefix, "--lcores", lcores,
		       "--log-level", "*:error", NULL};
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "fuzz: EAL init failed: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	snprintf(fz_rundir, sizeof(fz_rundir), "%s", rte_eal_get_runtime_dir());
	rte_memseg_list_walk(fz_lsan_root, NULL);
	atexit(fz_cleanup);
	for (unsigned p = 0; p < FZ_PORTS; p++)
		if (pl_make_port(names[p], "fz", p, fz_rx[p], fz_tx[p], FZ_WORKERS, FZ_TX_RING) < 0) {
			fprintf(stderr, "fuzz: net_ring ports: %s\n", rte_strerror(rte_errno));
			exit(1);
		}
	if (lb_dp_conf_parse(fz_config, &fz_dp.conf, err, sizeof(err)) < 0 ||
	    lb_dp_build(&fz_dp, false, err, sizeof(err)) < 0 ||
	    (fz_dp.arp = lb_arp_create(&fz_dp, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz: dp: %s\n", err);
		exit(1);
	}
	fz_handoff1 = rte_ring_lookup("lb_handoff_1");
	if (fz_handoff1 == NULL) {
		fprintf(stderr, "fuzz: no ring lb_handoff_1\n");
		exit(1);
	}
}

/* Free everything a ring holds. */
static inline void
fz_drain(struct rte_ring *r)
{
	void *m;

	while (rte_ring_sc_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

#endif /* LB_FUZZ_DP_H */
