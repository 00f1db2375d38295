/*
 * main.c - edgelb-cp: the control plane daemon.
 *
 *   edgelb-cp [--config FILE] [--kubeconfig FILE] [--check] [--withdraw] [--version]
 *
 * Opens the store (state file, IPAM), starts the dp sync thread, the health
 * checker and the HTTP API (standalone mode) or the Kubernetes controller
 * (kubernetes mode), then waits for signals: SIGHUP reloads the pools,
 * SIGINT/SIGTERM stop. Exits only from here.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api.h"
#include "bgp.h"
#include "bird.h"
#include "cpconf.h"
#include "dpsync.h"
#include "health.h"
#include "k8s.h"
#include "lb_notify.h"
#include "store.h"

#ifndef EDGELB_VERSION
#define EDGELB_VERSION "unknown"
#endif
#define DEFAULT_CONFIG EDGELB_SYSCONFDIR "/edgelb-cp.conf"

static volatile sig_atomic_t g_stop, g_reload;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reload = 1;
	else
		g_stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: edgelb-cp [--config FILE] [--kubeconfig FILE] [--check] [--withdraw]\n"
			"  --config FILE      control plane configuration (default " DEFAULT_CONFIG ")\n"
			"  --kubeconfig FILE  kubernetes mode: credentials (overrides the config)\n"
			"  --check            check the configuration, say whether it is valid, exit\n"
			"  --withdraw         bgp: withdraw every route of this box from BIRD, exit\n"
			"                     (edgelb-dp.service runs it when the dp fails)\n"
			"  --version          print the version and exit\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'},
		{"kubeconfig", required_argument, NULL, 'k'},
		{"check", no_argument, NULL, 'C'},
		{"withdraw", no_argument, NULL, 'W'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct cp_conf conf;
	const char *path = DEFAULT_CONFIG, *kubeconfig = NULL;
	bool check = false, withdraw = false;
	char err[1024];
	int c, status = EXIT_FAILURE;
	struct cp_store *store = NULL;
	struct cp_dpsync *dps = NULL;
	struct cp_health *health = NULL;
	struct cp_api *api = NULL;
	struct cp_k8s *k8s = NULL;
	struct cp_bgp *bgp = NULL;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': kubeconfig = optarg; break;
		case 'C': check = true; break;
		case 'W': withdraw = true; break;
		case 'V': printf("edgelb-cp %s\n", EDGELB_VERSION); return EXIT_SUCCESS;
		default: usage(); return EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage();
		return EXIT_FAILURE;
	}
	if (cp_conf_load(path, &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "edgelb-cp: %s: %s\n", path, err);
		if (strcmp(path, DEFAULT_CONFIG) == 0)
			usage(); /* no --config given: say how to give one */
		return EXIT_FAILURE;
	}
	if (check) {
		printf("edgelb-cp: %s is valid (%s mode, %u pool(s))\n", path,
		       conf.mode == CP_MODE_KUBERNETES ? "kubernetes" : "standalone", conf.n_pools);
		return EXIT_SUCCESS;
	}
	if (withdraw) {
		if (!conf.bgp.enabled) {
			printf("edgelb-cp: bgp is not enabled in %s: nothing to withdraw\n", path);
			return EXIT_SUCCESS;
		}
		if (cp_bird_withdraw_all(&conf.bgp, err, sizeof(err)) < 0) {
			fprintf(stderr, "edgelb-cp: withdraw: %s\n", err);
			return EXIT_FAILURE;
		}
		printf("edgelb-cp: every route withdrawn (%s, BIRD reconfigured)\n",
		       conf.bgp.include_file);
		return EXIT_SUCCESS;
	}
	if (kubeconfig)
		snprintf(conf.kubeconfig, sizeof(conf.kubeconfig), "%s", kubeconfig);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	store = cp_store_open(&conf, err, sizeof(err));
	if (store == NULL)
		goto fail;
	dps = cp_dpsync_start(store, conf.dp_socket, err, sizeof(err));
	if (dps == NULL)
		goto fail;
	api = cp_api_start(&conf, store, dps, err, sizeof(err));
	if (api == NULL)
		goto fail;
	if (conf.mode == CP_MODE_KUBERNETES) {
		/* Load balancers come from Services; the API still serves reads and /metrics. */
		cp_api_set_read_only(api, "kubernetes mode: load balancers come from Services; "
					  "change the Service instead");
		k8s = cp_k8s_start(&conf, store, err, sizeof(err));
		if (k8s == NULL)
			goto fail;
		cp_api_set_metrics_hook(api, cp_k8s_metrics, k8s);
		cp_api_set_health_hook(api, cp_k8s_health, k8s);
	}
	/* Kubernetes mode: only node backends of externalTrafficPolicy Local are checked. */
	health = cp_health_start(store, err, sizeof(err));
	if (health == NULL)
		goto fail;
	if (conf.bgp.enabled) {
		bgp = cp_bgp_start(&conf, store, dps, err, sizeof(err));
		if (bgp == NULL)
			goto fail;
		cp_api_add_route(api, cp_bgp_route, bgp);
		cp_api_set_metrics_hook(api, cp_bgp_metrics, bgp);
	}
	fprintf(stderr, "edgelb-cp: %s mode, API on %s, dp socket %s, state %s\n",
		conf.mode == CP_MODE_KUBERNETES ? "kubernetes" : "standalone", conf.api_listen,
		conf.dp_socket, conf.state_file);
	lb_notify("READY=1\nSTATUS=%s mode, API on %s",
		  conf.mode == CP_MODE_KUBERNETES ? "kubernetes" : "standalone", conf.api_listen);

	while (!g_stop) {
		/* Signals only set flags; look at them a few times a second. */
		usleep(200 * 1000);
		lb_notify("WATCHDOG=1"); /* the main loop turns; rate: 5/s, a datagram each */
		if (g_reload) {
			struct cp_conf nc;
			g_reload = 0;
			if (cp_conf_load(path, &nc, err, sizeof(err)) < 0) {
				fprintf(stderr, "edgelb-cp: reload: %s: %s (keeping the old pools)\n", path,
					err);
				continue;
			}
			if (cp_store_reload(store, &nc, err, sizeof(err)) < 0)
				fprintf(stderr, "edgelb-cp: reload: %s\n", err);
			else
				fprintf(stderr, "edgelb-cp: reloaded %u pool(s)\n", nc.n_pools);
		}
	}
	lb_notify("STOPPING=1");
	status = EXIT_SUCCESS;
	goto out;
fail:
	fprintf(stderr, "edgelb-cp: %s\n", err);
out:
	cp_api_stop(api); /* first: its hooks read the controller and the bgp thread */
	cp_bgp_stop(bgp);
	cp_k8s_stop(k8s);
	cp_health_stop(health);
	cp_dpsync_stop(dps);
	cp_store_close(store);
	curl_global_cleanup();
	return status;
}
