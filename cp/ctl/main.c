/*
 * main.c - edgelbctl, the operator's command line: talks to edgelb-cp's REST API
 * (docs/api.md) over HTTP with libcurl and prints human tables or, with -o json,
 * the API's JSON as is.
 *
 *   edgelbctl [--server URL] [--token T] [-o json|table] COMMAND [ARGS]
 *
 * Parses the options and the command words, then runs one command (cmd.c).
 * One process, one thread, one request at a time. Exit status: 0 done; 1 the
 * API refused or failed (its {"error"} message is printed); 2 edgelb-cp could
 * not be reached; 64 a usage error. Exits only from main().
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cmd.h"
#include "ctl.h"
#include "lb_ctl_proto.h"

#define DEFAULT_SERVER "http://127.0.0.1:8470"

/* Options of a command line, whichever command they belong to. */
struct opts {
	const char *file;      /* -f */
	const char *lb;        /* conns --lb */
	const char *limit;     /* conns --limit */
	const char *timeout;   /* drain --timeout */
	bool wait;             /* drain --wait */
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: edgelbctl [--server URL] [--token TOKEN] [-o json|table] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  get lb [NAME]                  list load balancers, or show one in detail\n"
		"  get pools                      address pools and how many addresses are used\n"
		"  create -f FILE                 create load balancers from a JSON file (\"-\": stdin)\n"
		"  apply -f FILE                  create them, or replace those that exist\n"
		"  delete lb NAME...              delete load balancers, releasing their addresses\n"
		"  set-backends NAME -f FILE      replace a load balancer's backends\n"
		"  stats                          data plane counters: global, drops, services, backends\n"
		"  conns [--lb NAME] [--limit N]  connections the data plane tracks (N 1..%d, default %d)\n"
		"  version                        versions, and whether edgelb-cp answers\n"
		"  drain [--timeout S] [--wait]   withdraw every VIP of this box from BGP; established\n"
		"                                 flows go on; --wait reports until drained\n"
		"  undrain                        announce the box's VIPs again\n"
		"  bgp                            what the box announces through BIRD, and why not\n"
		"  help                           this text\n"
		"\n"
		"NAME is \"name\" (namespace \"default\") or \"namespace/name\". FILE holds one load\n"
		"balancer object, an array of them, or {\"items\": [...]} as `get lb -o json` prints.\n"
		"\n"
		"Options:\n"
		"  --server URL          edgelb-cp's API (default $EDGELB_SERVER, else %s)\n"
		"  --token TOKEN         bearer token (default $EDGELB_TOKEN)\n"
		"  -o, --output FORMAT   table (default) or json (the API's answer as is)\n"
		"\n"
		"Exit status: 0 done, 1 the API refused the request, 2 edgelb-cp unreachable,\n"
		"64 usage error. Reference: docs/api.md.\n",
		LB_CTL_CONNS_LIMIT_MAX, LB_CTL_CONNS_LIMIT_DEFAULT, DEFAULT_SERVER);
}

int
ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgelbctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(edgelbctl help: the commands and options)\n");
	return EXIT_USAGE;
}

/* ---- main ------------------------------------------------------------------ */

static bool
is_lb_word(const char *s)
{
	return strcmp(s, "lb") == 0 || strcmp(s, "lbs") == 0 || strcmp(s, "loadbalancer") == 0 ||
	       strcmp(s, "loadbalancers") == 0;
}

static bool
is_pool_word(const char *s)
{
	return strcmp(s, "pool") == 0 || strcmp(s, "pools") == 0;
}

/* Which command-specific options a command takes. */
static int
check_opts(const char *cmd, const struct opts *o, bool file, bool conns)
{
	if (o->file && !file)
		return ctl_usage_error("%s: takes no -f", cmd);
	if (file && !o->file)
		return ctl_usage_error("%s: needs -f FILE (\"-f -\" reads stdin)", cmd);
	if ((o->lb || o->limit) && !conns)
		return ctl_usage_error("%s: --lb and --limit are options of conns", cmd);
	if ((o->timeout || o->wait) && strcmp(cmd, "drain") != 0)
		return ctl_usage_error("%s: --timeout and --wait are options of drain", cmd);
	return 0;
}

static int
run(struct ctl *c, const struct opts *o, int argc, char **argv)
{
	const char *cmd = argv[0];
	int rc;

	if (strcmp(cmd, "get") == 0) {
		if ((rc = check_opts(cmd, o, false, false)) != 0)
			return rc;
		if (argc >= 2 && is_lb_word(argv[1]) && argc <= 3)
			return argc == 2 ? cmd_get_lbs(c) : cmd_get_lb(c, argv[2]);
		if (argc == 2 && is_pool_word(argv[1]))
			return cmd_get_pools(c);
		return ctl_usage_error("usage: get lb [NAME] | get pools");
	}
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "apply") == 0) {
		if ((rc = check_opts(cmd, o, true, false)) != 0)
			return rc;
		if (argc != 1)
			return ctl_usage_error("usage: %s -f FILE", cmd);
		return cmd_create_apply(c, o->file, strcmp(cmd, "apply") == 0);
	}
	if (strcmp(cmd, "delete") == 0) {
		if ((rc = check_opts(cmd, o, false, false)) != 0)
			return rc;
		if (argc < 3 || !is_lb_word(argv[1]))
			return ctl_usage_error("usage: delete lb NAME...");
		return cmd_delete(c, argv + 2, argc - 2);
	}
	if (strcmp(cmd, "set-backends") == 0) {
		if ((rc = check_opts(cmd, o, true, false)) != 0)
			return rc;
		if (argc != 2)
			return ctl_usage_error("usage: set-backends NAME -f FILE");
		return cmd_set_backends(c, argv[1], o->file);
	}
	if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "conns") == 0 || strcmp(cmd, "version") == 0) {
		bool conns = strcmp(cmd, "conns") == 0;
		if ((rc = check_opts(cmd, o, false, conns)) != 0)
			return rc;
		if (argc != 1)
			return ctl_usage_error("%s: takes no arguments", cmd);
		if (conns)
			return cmd_conns(c, o->lb, o->limit);
		return strcmp(cmd, "stats") == 0 ? cmd_stats(c) : cmd_version(c);
	}
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0 || strcmp(cmd, "bgp") == 0) {
		if ((rc = check_opts(cmd, o, false, false)) != 0)
			return rc;
		if (argc != 1)
			return ctl_usage_error("%s: takes no arguments", cmd);
		if (strcmp(cmd, "bgp") == 0)
			return cmd_bgp(c);
		return cmd_drain(c, strcmp(cmd, "drain") == 0, o->timeout, o->wait);
	}
	return ctl_usage_error("unknown command '%s'", cmd);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", required_argument, NULL, 's'},
		{"token", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"filename", required_argument, NULL, 'f'},
		{"lb", required_argument, NULL, 'l'},
		{"limit", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 'T'},
		{"wait", no_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctl c = {0};
	struct opts o = {0};
	const char *server = getenv("EDGELB_SERVER");
	int ch, rc;

	c.token = getenv("EDGELB_TOKEN");
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":o:f:h", lo, NULL)) != -1) {
		switch (ch) {
		case 's': server = optarg; break;
		case 't': c.token = optarg; break;
		case 'f': o.file = optarg; break;
		case 'l': o.lb = optarg; break;
		case 'n': o.limit = optarg; break;
		case 'T': o.timeout = optarg; break;
		case 'w': o.wait = true; break;
		case 'o':
			if (strcmp(optarg, "json") == 0)
				c.json = true;
			else if (strcmp(optarg, "table") == 0)
				c.json = false;
			else
				return ctl_usage_error("-o: must be json or table, not '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return ctl_usage_error("%s: needs a value", argv[optind - 1]);
		default:
			return ctl_usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (server == NULL || server[0] == '\0')
		server = DEFAULT_SERVER;
	/* "host:port" alone means http */
	snprintf(c.server, sizeof(c.server), "%s%s", strstr(server, "://") ? "" : "http://", server);
	for (size_t n = strlen(c.server); n > 0 && c.server[n - 1] == '/'; n--)
		c.server[n - 1] = '\0';

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (c.curl = curl_easy_init()) == NULL) {
		fprintf(stderr, "edgelbctl: cannot initialise libcurl\n");
		return EXIT_API;
	}
	rc = run(&c, &o, argc - optind, argv + optind);
	curl_easy_cleanup(c.curl);
	curl_global_cleanup();
	fflush(stdout);
	return rc;
}
