/*
 * main.c - edgelb-dp: process start, the control loop, shutdown.
 *
 *   edgelb-dp [EAL args] -- --config FILE [--run-seconds N] [--stop-idle-ms N]
 *                           [--stats-json FILE] [--check]
 *   edgelb-dp --version
 *
 * Runs on the main lcore. It builds everything the workers read (ports, routes,
 * neighbours, services), launches one worker per configured lcore, then becomes
 * the control thread: it serves the control socket, reclaims retired objects once
 * workers have passed a quiescent state, and watches the stop conditions.
 * Exits only from here; every other function returns an LB_E* code.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_version.h>

#include "arp.h"
#include "capture.h"
#include "config.h"
#include "ctl.h"
#include "dp.h"
#include "lb_error.h"
#include "notify.h"
#include "service.h"
#include "stats.h"
#include "sync.h"
#include "worker.h"

#define LOOP_SLEEP_US 1000 /* control loop period when the socket is quiet */

static struct lb_dp *g_dp; /* for the signal handler only */

struct opts {
	const char *config;
	const char *stats_json;
	uint32_t run_seconds;
	uint32_t stop_idle_ms;
	bool check;
};

static void
on_signal(int sig)
{
	(void)sig;
	if (g_dp)
		__atomic_store_n(&g_dp->quit, true, __ATOMIC_RELAXED);
}

static void
usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [EAL options] -- --config FILE [options]\n"
		"  --config FILE       dp configuration (libconfig), see docs/configuration.md\n"
		"  --run-seconds N     stop after N seconds\n"
		"  --stop-idle-ms N    stop once no packet arrived for N ms (pcap tests)\n"
		"  --stats-json FILE   write the final counters as JSON to FILE\n"
		"  --check             parse the configuration, print it is valid, exit\n",
		prog);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"run-seconds", required_argument, NULL, 'r'},
		{"stop-idle-ms", required_argument, NULL, 'i'},
		{"stats-json", required_argument, NULL, 's'},
		{"check", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'r': o->run_seconds = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'i': o->stop_idle_ms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': o->stats_json = optarg; break;
		case 'k': o->check = true; break;
		default: return LB_EINVAL;
		}
	}
	if (o->config == NULL || optind != argc)
		return LB_EINVAL;
	return 0;
}

/*
 * Idle: no packet for idle_ms, and every worker has actually polled its queues
 * many times since its last packet. The second condition keeps a worker that
 * the OS did not schedule (a loaded machine) from looking idle with input left.
 */
#define IDLE_MIN_EMPTY_POLLS 1000

static bool
input_idle(const struct lb_dp *dp, uint64_t now, uint32_t idle_ms)
{
	uint64_t last = dp->start_tsc;

	for (unsigned w = 0; w < dp->n_workers; w++) {
		uint64_t t = __atomic_load_n(&dp->wstats[w]->last_rx_tsc, __ATOMIC_RELAXED);
		if (t > last)
			last = t;
		if (__atomic_load_n(&dp->wstats[w]->empty_polls, __ATOMIC_RELAXED) < IDLE_MIN_EMPTY_POLLS)
			return false;
	}
	return now - last > (uint64_t)idle_ms * dp->tsc_hz / 1000;
}

static int
write_stats_json(const struct lb_dp *dp, const char *path)
{
	json_t *s = lb_stats_json(dp);
	int rc = json_dump_file(s, path, JSON_INDENT(2) | JSON_SORT_KEYS);

	json_decref(s);
	return rc == 0 ? 0 : LB_EIO;
}

int
main(int argc, char **argv)
{
	static struct lb_dp dp;
	struct opts o;
	char err[512] = "";
	int rc, status = EXIT_FAILURE;

	/* Each log line out as it is written, also into a file or the journal: tests
	 * and operators read "live capture ready" and the like while the dp starts. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Before the EAL, which would reject the option, and needs no hugepages. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("edgelb-dp %s (%s)\n", EDGELB_VERSION, rte_version());
		return EXIT_SUCCESS;
	}
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "edgelb-dp: EAL init failed: %s\n", rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	argc -= rc;
	argv += rc;
	argv[0] = (char *)"edgelb-dp";
	if (parse_opts(argc, argv, &o) < 0) {
		usage("edgelb-dp");
		goto out_eal;
	}
	if (lb_dp_conf_load(o.config, &dp.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "edgelb-dp: %s: %s\n", o.config, err);
		goto out_eal;
	}
	if (o.check) {
		printf("edgelb-dp: %s is valid (%u ports, %u services)\n", o.config,
		       dp.conf.n_ports, dp.conf.n_services);
		lb_dp_conf_free(&dp.conf);
		status = EXIT_SUCCESS;
		goto out_eal;
	}
	if (dp.conf.hash_seed == LB_HASH_SEED_BUILTIN)
		fprintf(stderr, "edgelb-dp: warning: hash_seed is the built-in public value: anyone can "
				"aim flows at one backend or worker; give the fleet one random seed "
				"(scripts/setup.sh writes /etc/edgelb/hash_seed.conf)\n");
	g_dp = &dp;
	lb_capture_init(); /* optional: the dp runs without it */
	if (lb_dp_build(&dp, true, err, sizeof(err)) < 0)
		goto fail;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned w = 0; w < dp.n_workers; w++)
		rte_eal_remote_launch(lb_worker_main, dp.workers[w], dp.conf.worker_lcores[w]);
	printf("edgelb-dp %s: %u worker(s), %u port(s), %u service(s); running\n", EDGELB_VERSION,
	       dp.n_workers, dp.n_ports, lb_svcs_count(dp.svcs));
	lb_notify_dp_ready(&dp);
	fflush(stdout);

	/* The control loop. */
	while (!__atomic_load_n(&dp.quit, __ATOMIC_RELAXED)) {
		if (dp.ctl)
			lb_ctl_poll(dp.ctl, LOOP_SLEEP_US / 1000);
		else
			usleep(LOOP_SLEEP_US);
		lb_arp_poll(dp.arp);
		if (dp.sync)
			lb_sync_poll(dp.sync);
		lb_svcs_reclaim(dp.svcs);
		uint64_t now = rte_rdtsc();
		lb_notify_dp_poll(&dp, now);
		if (o.run_seconds && now - dp.start_tsc > (uint64_t)o.run_seconds * dp.tsc_hz)
			break;
		if (o.stop_idle_ms && input_idle(&dp, now, o.stop_idle_ms))
			break;
	}
	lb_notify_dp_stopping();
	__atomic_store_n(&dp.quit, true, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
	lb_svcs_reclaim(dp.svcs);

	lb_stats_print(&dp, stdout);
	if (o.stats_json && write_stats_json(&dp, o.stats_json) < 0)
		fprintf(stderr, "edgelb-dp: cannot write %s\n", o.stats_json);
	status = EXIT_SUCCESS;
	goto out;

fail:
	fprintf(stderr, "edgelb-dp: %s\n", err[0] ? err : "start failed");
out:
	lb_dp_teardown(&dp);
	lb_capture_fini();
out_eal:
	rte_eal_cleanup();
	return status;
}
