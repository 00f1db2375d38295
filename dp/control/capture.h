/*
 * capture.h - live packet capture with DPDK's packet dump framework (rte_pdump).
 *
 * The dp, a DPDK primary process, accepts capture requests from Debian's
 * dpdk-dumpcap and dpdk-pdump (secondary processes started with the dp's
 * --file-prefix): they ask for a port and direction, and the port's RX/TX
 * callbacks copy matching packets to them. Called from dp/main.c on the main lcore.
 */
#ifndef LB_CAPTURE_H
#define LB_CAPTURE_H

/* After rte_eal_init(). Returns 0, or an LB_E* code when capture is unavailable
 * (e.g. --in-memory, which has no multi-process channel): the dp runs without it. */
int lb_capture_init(void);
/* Before rte_eal_cleanup(); harmless when init failed. */
void lb_capture_fini(void);

#endif /* LB_CAPTURE_H */
