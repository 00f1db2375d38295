/*
 * show.c - load balancers as text (see show.h).
 *
 * Called by the commands (cmd.c) on edgelbctl's one thread; reads the API's
 * JSON objects (docs/api.md) and prints to stdout.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "out.h"
#include "show.h"

/* ---- load balancers as tables ---------------------------------------------- */

/* A backend takes new flows: requested active and not failing its check. */
static bool
backend_up(const json_t *b)
{
	return strcmp(out_jstr(b, "state"), "active") == 0 && strcmp(out_jstr(b, "health"), "down") != 0;
}

static void
lb_key(const json_t *lb, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", out_jstr(lb, "namespace"), out_jstr(lb, "name"));
}

static void
join_ips(const json_t *lb, struct sbuf *b)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(lb, "ips"), i, v)
		out_printf(b, "%s%s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
	if (b->len == 0)
		out_printf(b, "<pending>");
}

/* "80" or a named target port */
static void
target_str(const json_t *p, char *buf, size_t len)
{
	json_t *t = json_object_get(p, "target_port");

	if (json_is_string(t))
		snprintf(buf, len, "%s", json_string_value(t));
	else
		snprintf(buf, len, "%lld", (long long)json_integer_value(t));
}

void
show_lb_table(const json_t *items)
{
	struct table t;
	size_t i, k;
	json_t *lb, *v;

	out_tbl_init(&t, 6);
	out_tbl_row(&t, "NAMESPACE/NAME", "IPS", "PORTS", "MODE", "BACKENDS", "STATUS");
	json_array_foreach(items, i, lb) {
		char key[160], tgt[80], up[48];
		struct sbuf ips = {0}, ports = {0};
		size_t n = 0, nup = 0;

		lb_key(lb, key, sizeof(key));
		join_ips(lb, &ips);
		json_array_foreach(json_object_get(lb, "ports"), k, v) {
			target_str(v, tgt, sizeof(tgt));
			out_printf(&ports, "%s%lld/%s->%s", k ? "," : "", out_jint(v, "port"),
				  out_jstr(v, "protocol"), tgt);
		}
		json_array_foreach(json_object_get(lb, "backends"), k, v) {
			n++;
			nup += backend_up(v);
		}
		snprintf(up, sizeof(up), "%zu/%zu up", nup, n);
		out_tbl_row(&t, key, out_str(&ips), out_str(&ports), out_jstr(lb, "mode"), up,
			out_jstr(json_object_get(lb, "status"), "state"));
		free(ips.p);
		free(ports.p);
	}
	out_tbl_print(&t, stdout, "");
	out_tbl_free(&t);
}

/* The backends serving (address family, lb port) as the cp sends them to the dp, into t. */
static void
port_backends(const json_t *lb, const json_t *p, bool v6, bool hc, struct table *t)
{
	size_t i;
	json_t *b;
	const char *pname = out_jstr(p, "name");
	json_t *tp = json_object_get(p, "target_port");

	out_tbl_init(t, 4);
	json_array_foreach(json_object_get(lb, "backends"), i, b) {
		const char *addr = out_jstr(b, "address"), *bpn = out_jstr(b, "port_name");
		long long port = out_jint(b, "port");
		char hp[96], w[48];

		if ((strchr(addr, ':') != NULL) != v6)
			continue;
		if (bpn[0] && strcmp(bpn, pname) != 0)
			continue;
		if (port == 0)
			port = json_is_integer(tp) ? json_integer_value(tp) : 0;
		if (port == 0)
			continue; /* a named target port this backend does not resolve */
		/* the dp cannot reach it now: no route, or ARP/NDP unanswered (issue 14) */
		snprintf(w, sizeof(w), "weight %lld%s", out_jint(b, "weight"),
			 json_is_true(json_object_get(b, "unresolved")) ? ", unresolved" : "");
		out_tbl_row(t, out_hostport(addr, port, hp, sizeof(hp)), out_jstr(b, "state"),
			hc ? (out_jstr(b, "health")[0] ? out_jstr(b, "health") : "unknown") : "-", w);
	}
}

void
show_lb_detail(const json_t *lb)
{
	const json_t *sa = json_object_get(lb, "session_affinity");
	const json_t *hc = json_object_get(lb, "health_check");
	const json_t *st = json_object_get(lb, "status");
	json_t *ips = json_object_get(lb, "ips"), *v;
	bool has_hc = strcmp(out_jstr(hc, "type"), "none") != 0 && out_jstr(hc, "type")[0];
	char key[160], aff[64], tgt[80], hp[96];
	struct sbuf s = {0};
	size_t i;

	lb_key(lb, key, sizeof(key));
	join_ips(lb, &s);
	if (strcmp(out_jstr(sa, "type"), "ClientIP") == 0)
		snprintf(aff, sizeof(aff), "ClientIP %llds", out_jint(sa, "timeout_seconds"));
	else
		snprintf(aff, sizeof(aff), "%s", out_jstr(sa, "type")[0] ? out_jstr(sa, "type") : "None");
	printf("%s  %s  (%s, scheduler %s, affinity %s)\n", key, out_str(&s), out_jstr(lb, "mode"),
	       out_jstr(lb, "scheduler")[0] ? out_jstr(lb, "scheduler") : "maglev", aff);
	free(s.p);
	if (strcmp(out_jstr(st, "state"), "active") != 0)
		printf("  %s: %s\n", out_jstr(st, "state"), out_jstr(st, "message"));

	/* one block per address x port, as the dp has them; families when pending */
	json_t *addrs = json_array_size(ips) ? json_incref(ips) : json_array();
	if (json_array_size(ips) == 0)
		json_array_foreach(json_object_get(lb, "ip_families"), i, v)
			json_array_append_new(addrs, json_string(strcmp(json_string_value(v) ?
				json_string_value(v) : "", "IPv6") == 0 ? "<pending-ipv6>" : "<pending>"));
	/* every block's backend columns as wide as the widest of the load balancer */
	size_t nports = json_array_size(json_object_get(lb, "ports"));
	size_t nblk = json_array_size(addrs) * nports;
	struct table *blk = calloc(nblk ? nblk : 1, sizeof(*blk)), all;
	out_tbl_init(&all, 4);
	for (size_t x = 0; blk && x < nblk; x++) {
		const char *a = json_string_value(json_array_get(addrs, x / nports));
		bool v6 = a && (strchr(a, ':') != NULL || strcmp(a, "<pending-ipv6>") == 0);
		port_backends(lb, json_array_get(json_object_get(lb, "ports"), x % nports), v6, has_hc,
			      &blk[x]);
		out_tbl_widths(&blk[x], &all);
	}
	for (size_t x = 0; blk && x < nblk; x++) {
		const char *a = json_string_value(json_array_get(addrs, x / nports));
		const json_t *p = json_array_get(json_object_get(lb, "ports"), x % nports);
		const char *pn = out_jstr(p, "name");
		target_str(p, tgt, sizeof(tgt));
		if (a == NULL || a[0] == '<')
			snprintf(hp, sizeof(hp), "<pending>:%lld", out_jint(p, "port"));
		else
			out_hostport(a, out_jint(p, "port"), hp, sizeof(hp));
		printf("  %s %s -> %s%s%s%s\n", out_jstr(p, "protocol"), hp, tgt, pn[0] ? "  (" : "",
		       pn, pn[0] ? ")" : "");
		memcpy(blk[x].w, all.w, sizeof(all.w));
		if (blk[x].nrows == 0)
			printf("    (no backends)\n");
		else
			out_tbl_print(&blk[x], stdout, "    -> ");
		out_tbl_free(&blk[x]);
	}
	free(blk);
	json_decref(addrs);

	const char *pool = out_jstr(lb, "alloc_pool")[0] ? out_jstr(lb, "alloc_pool")
						     : out_jstr(lb, "pool");
	printf("  pool %s", pool[0] ? pool : "-");
	if (out_jstr(lb, "pool")[0] == '\0')
		printf(" (auto)");
	if (json_array_size(json_object_get(lb, "requested_ips"))) {
		printf(", requested");
		json_array_foreach(json_object_get(lb, "requested_ips"), i, v)
			printf(" %s", json_string_value(v) ? json_string_value(v) : "?");
	}
	if (out_jstr(lb, "sharing_key")[0])
		printf(", sharing key %s", out_jstr(lb, "sharing_key"));
	printf("\n");
	if (json_array_size(json_object_get(lb, "source_ranges"))) {
		printf("  source ranges");
		json_array_foreach(json_object_get(lb, "source_ranges"), i, v)
			printf("%s %s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
		printf("\n");
	}
	if (has_hc) {
		printf("  health check %s", out_jstr(hc, "type"));
		if (strcmp(out_jstr(hc, "type"), "http") == 0)
			printf(" GET %s", out_jstr(hc, "path"));
		if (out_jint(hc, "port"))
			printf(" port %lld", out_jint(hc, "port"));
		printf(", every %lld ms, timeout %lld ms, rise %lld, fall %lld\n",
		       out_jint(hc, "interval_ms"), out_jint(hc, "timeout_ms"), out_jint(hc, "rise"),
		       out_jint(hc, "fall"));
	} else {
		printf("  health check none\n");
	}
}

/* One line about a changed load balancer: "loadbalancer default/web created (198.18.0.100)". */
void
show_lb_done(const json_t *lb, const char *what)
{
	char key[160];
	struct sbuf ips = {0};

	lb_key(lb, key, sizeof(key));
	join_ips(lb, &ips);
	printf("loadbalancer %s %s (%s)\n", key, what, out_str(&ips));
	free(ips.p);
}
