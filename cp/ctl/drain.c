/*
 * drain.c - edgelbctl drain / undrain / bgp: the box's BGP announcements
 * (edgelb-cp's /v1/drain and /v1/bgp, docs/api.md).
 *
 * drain asks edgelb-cp to withdraw every VIP of this box; the dp keeps every
 * connection it tracks and keeps forwarding what still reaches it. With --wait
 * it prints the progress (connections left on this box) once a second until the
 * box is drained (no connection left) or the drain timeout passes: then the dp
 * may be stopped (the upgrade procedure in docs/operations.md).
 *
 * Called by main.c on edgelbctl's one thread. Return the exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "ctl.h"
#include "http.h"
#include "out.h"

static void
print_drain(const json_t *d)
{
	const char *state = out_jstr(d, "state");

	if (strcmp(state, "serving") == 0) {
		printf("serving: the box's VIPs are announced when ready\n");
		return;
	}
	long long conns = out_jint(d, "connections");
	printf("%s: VIPs withdrawn %.0f s ago (timeout %lld s), ", state,
	       json_real_value(json_object_get(d, "elapsed_s")), out_jint(d, "timeout_s"));
	if (conns < 0)
		printf("connections on this box not counted yet\n");
	else
		printf("%lld connection(s) left on this box%s\n", conns,
		       json_is_true(json_object_get(d, "timed_out")) ? " (timed out)" : "");
}

int
cmd_drain(struct ctl *c, bool on, const char *timeout, bool wait)
{
	char body[64] = "";
	json_t *out;
	int rc;

	if (timeout) {
		char *end;
		long t = strtol(timeout, &end, 10);
		if (*end || t < 1 || t > 604800)
			return ctl_usage_error("--timeout: seconds, 1..604800");
		snprintf(body, sizeof(body), "{\"timeout_s\": %ld}", t);
	}
	rc = http_call(c, on ? "POST" : "DELETE", "/v1/drain", body[0] ? body : NULL, &out);
	if (rc != 0)
		return rc;
	if (!wait || !on) {
		if (c->json)
			out_json(out);
		else
			print_drain(out);
		json_decref(out);
		return 0;
	}
	/* --wait: until drained; the server's timeout bounds it. */
	for (;;) {
		if (c->json)
			out_json(out);
		else
			print_drain(out);
		fflush(stdout);
		bool done = strcmp(out_jstr(out, "state"), "draining") != 0;
		json_decref(out);
		if (done)
			return 0;
		sleep(1);
		if ((rc = http_call(c, "GET", "/v1/drain", NULL, &out)) != 0)
			return rc;
	}
}

int
cmd_bgp(struct ctl *c)
{
	json_t *out, *v;
	size_t i;
	int rc = http_call(c, "GET", "/v1/bgp", NULL, &out);

	if (rc != 0)
		return rc;
	if (c->json) {
		out_json(out);
		json_decref(out);
		return 0;
	}
	json_t *bird = json_object_get(out, "bird");
	printf("dp: %s (deaths seen %lld)   gate: %s   announced: %lld\n",
	       json_is_true(json_object_get(out, "dp_alive")) ? "alive" : "down",
	       out_jint(out, "dp_deaths"), out_jstr(out, "gate"), out_jint(out, "announced"));
	printf("BIRD: %s, %s (%lld configures, %lld errors)%s%s\n", out_jstr(bird, "socket"),
	       json_is_true(json_object_get(bird, "ok")) ? "ok" : "FAILING",
	       out_jint(bird, "configures"), out_jint(bird, "errors"), out_jstr(bird, "message")[0] ? ": " : "",
	       out_jstr(bird, "message"));
	print_drain(json_object_get(out, "drain"));
	printf("%-40s %-10s %s\n", "VIP", "ANNOUNCED", "WHY NOT");
	json_array_foreach(json_object_get(out, "vips"), i, v)
		printf("%-40s %-10s %s\n", out_jstr(v, "vip"),
		       json_is_true(json_object_get(v, "announced")) ? "yes" : "no", out_jstr(v, "reason"));
	/* With cluster peers: the join gate and the SNAT addresses (own and backups). */
	json_t *cl = json_object_get(out, "cluster"), *join = json_object_get(cl, "join");
	if (json_array_size(json_object_get(cl, "peers")) > 0) {
		printf("cluster: %s, %zu peer(s)   join: %s\n", out_jstr(cl, "name"),
		       json_array_size(json_object_get(cl, "peers")), out_jstr(join, "state"));
		printf("%-40s %-10s %-10s %s\n", "SNAT ADDRESS", "OWNER", "ANNOUNCED", "WHY NOT");
		json_array_foreach(json_object_get(cl, "snat"), i, v)
			printf("%-40s %-10s %-10s %s\n", out_jstr(v, "address"), out_jstr(v, "owner"),
			       json_is_true(json_object_get(v, "announced")) ? "yes" : "no",
			       out_jstr(v, "reason"));
	}
	json_decref(out);
	return 0;
}
