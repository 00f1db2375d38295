/*
 * metrics.c - GET /metrics in Prometheus text format (see metrics.h).
 *
 * Runs on one of libmicrohttpd's threads, called by api.c for each scrape:
 * reads the store (cp_store_*, under its lock), the dp sync thread's status,
 * and the dp's counters (one stats.get over the control socket), then lets
 * the hook (the Kubernetes controller) append its lines. Nothing is cached.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "dpsync.h"
#include "lb_counters.h"
#include "metrics.h"
#include "store.h"

/* A Prometheus label value: backslash, double quote and newline escaped. */
static const char *
esc(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

#define P(...) cp_buf_printf(&b, &len, &cap, __VA_ARGS__)

/* The packets, bytes and connections of a dp service or backend (what), labelled. */
static void
traffic(char **b, size_t *len, size_t *cap, const char *what, const char *lbl, const json_t *o)
{
	cp_buf_printf(b, len, cap, "edgelb_%s_packets_total{%s} %lld\n", what, lbl,
		      (long long)json_integer_value(json_object_get(o, "packets")));
	cp_buf_printf(b, len, cap, "edgelb_%s_bytes_total{%s} %lld\n", what, lbl,
		      (long long)json_integer_value(json_object_get(o, "bytes")));
	cp_buf_printf(b, len, cap, "edgelb_%s_active_connections{%s} %lld\n", what, lbl,
		      (long long)json_integer_value(json_object_get(o, "active_connections")));
}

/* The dp's own counters (stats.get): events, drops, services and backends. */
static void
dp_counters(struct cp_dpsync *dps, char **bp, size_t *lenp, size_t *capp)
{
	char *b = *bp;
	size_t len = *lenp, cap = *capp;
	json_t *s = dps ? cp_dpsync_stats(dps) : NULL, *v, *bk;
	const char *k;
	size_t i, j;
	char e1[256], e2[256], e3[128];

	if (s == NULL)
		goto out;
	json_t *g = json_object_get(s, "global");
	for (int x = 0; x < LB_EV_MAX; x++) {
		v = json_object_get(g, lb_event_names[x]);
		P("# HELP edgelb_dp_%s_total %s\n# TYPE edgelb_dp_%s_total counter\n"
		  "edgelb_dp_%s_total %lld\n",
		  lb_event_names[x], lb_event_help[x], lb_event_names[x], lb_event_names[x],
		  (long long)json_integer_value(v));
	}
	P("# HELP edgelb_dp_drops_total Packets the data plane dropped, by reason.\n"
	  "# TYPE edgelb_dp_drops_total counter\n");
	json_object_foreach(json_object_get(g, "drops"), k, v)
		P("edgelb_dp_drops_total{reason=\"%s\"} %lld\n", k, (long long)json_integer_value(v));
	P("# HELP edgelb_dp_control_total Control-thread packet counters (ARP, NDP, ICMP).\n"
	  "# TYPE edgelb_dp_control_total counter\n");
	json_object_foreach(json_object_get(s, "control"), k, v)
		P("edgelb_dp_control_total{counter=\"%s\"} %lld\n", k, (long long)json_integer_value(v));
	P("# HELP edgelb_dp_backends_unresolved Backends no frame can leave for now "
	  "(no route, next hop unresolved).\n"
	  "# TYPE edgelb_dp_backends_unresolved gauge\nedgelb_dp_backends_unresolved %lld\n",
	  (long long)json_integer_value(json_object_get(g, "backends_unresolved")));
	P("# HELP edgelb_dp_connections Connections tracked by the data plane.\n"
	  "# TYPE edgelb_dp_connections gauge\nedgelb_dp_connections %lld\n",
	  (long long)json_integer_value(json_object_get(g, "connections")));

	P("# HELP edgelb_service_packets_total Packets forwarded for a dp service (both directions).\n"
	  "# TYPE edgelb_service_packets_total counter\n"
	  "# HELP edgelb_service_bytes_total Bytes forwarded for a dp service.\n"
	  "# TYPE edgelb_service_bytes_total counter\n"
	  "# HELP edgelb_service_active_connections Connections of a dp service.\n"
	  "# TYPE edgelb_service_active_connections gauge\n"
	  "# HELP edgelb_backend_packets_total Packets forwarded to and from a backend.\n"
	  "# TYPE edgelb_backend_packets_total counter\n"
	  "# HELP edgelb_backend_bytes_total Bytes forwarded to and from a backend.\n"
	  "# TYPE edgelb_backend_bytes_total counter\n"
	  "# HELP edgelb_backend_active_connections Connections to a backend.\n"
	  "# TYPE edgelb_backend_active_connections gauge\n"
	  "# HELP edgelb_backend_unresolved Whether no frame can leave for a backend now: "
	  "no route, or its next hop does not answer ARP/NDP.\n"
	  "# TYPE edgelb_backend_unresolved gauge\n"
	  "# HELP edgelb_service_table_info The digest of a dp service's Maglev table "
	  "(equal on boxes that pick alike).\n"
	  "# TYPE edgelb_service_table_info gauge\n");
	json_array_foreach(json_object_get(s, "services"), i, v) {
		char lbl[768];
		snprintf(lbl, sizeof(lbl), "service=\"%s\",vip=\"%s\",port=\"%lld\",protocol=\"%s\"",
			 esc(json_string_value(json_object_get(v, "name")), e1, sizeof(e1)),
			 esc(json_string_value(json_object_get(v, "vip")), e2, sizeof(e2)),
			 (long long)json_integer_value(json_object_get(v, "port")),
			 esc(json_string_value(json_object_get(v, "protocol")), e3, sizeof(e3)));
		traffic(&b, &len, &cap, "service", lbl, v);
		if (json_string_value(json_object_get(v, "table_digest")))
			P("edgelb_service_table_info{%s,digest=\"%s\"} 1\n", lbl,
			  esc(json_string_value(json_object_get(v, "table_digest")), e1, sizeof(e1)));
		json_array_foreach(json_object_get(v, "backends"), j, bk) {
			char bl[1024];
			snprintf(bl, sizeof(bl), "%s,backend=\"%s:%lld\",state=\"%s\"", lbl,
				 esc(json_string_value(json_object_get(bk, "address")), e1, sizeof(e1)),
				 (long long)json_integer_value(json_object_get(bk, "port")),
				 esc(json_string_value(json_object_get(bk, "state")), e2, sizeof(e2)));
			traffic(&b, &len, &cap, "backend", bl, bk);
			P("edgelb_backend_unresolved{%s} %d\n", bl,
			  json_is_true(json_object_get(bk, "unresolved")) ? 1 : 0);
		}
	}
	json_decref(s);
out:
	*bp = b;
	*lenp = len;
	*capp = cap;
}

char *
cp_metrics_render(struct cp_store *store, struct cp_dpsync *dps, cp_metrics_fn hook,
		  void *hook_arg, size_t *lenp)
{
	char *b = NULL, e1[256], e2[128];
	size_t len = 0, cap = 0, i, j;
	struct cp_dpsync_status st = {0};
	uint32_t lbs, pending, down;
	json_t *v, *bk;

	if (dps)
		cp_dpsync_status(dps, &st);
	cp_store_counts(store, &lbs, &pending, &down);
	uint64_t fw, fb;
	cp_store_file_stats(store, &fw, &fb);
	P("# HELP edgelb_state_file_writes_total State file rewrites (each: write, fsync, rename).\n"
	  "# TYPE edgelb_state_file_writes_total counter\nedgelb_state_file_writes_total %llu\n"
	  "# HELP edgelb_state_file_bytes_total Bytes written to the state file.\n"
	  "# TYPE edgelb_state_file_bytes_total counter\nedgelb_state_file_bytes_total %llu\n",
	  (unsigned long long)fw, (unsigned long long)fb);
	P("# HELP edgelb_dp_connected Whether edgelb-cp is connected to edgelb-dp and synced.\n"
	  "# TYPE edgelb_dp_connected gauge\nedgelb_dp_connected %d\n", st.connected ? 1 : 0);
	P("# HELP edgelb_dp_full_syncs_total Full syncs of the dp (start, dp restart, reconnect).\n"
	  "# TYPE edgelb_dp_full_syncs_total counter\nedgelb_dp_full_syncs_total %llu\n",
	  (unsigned long long)st.full_syncs);
	P("# HELP edgelb_dp_updates_total Service changes sent to the dp after syncs.\n"
	  "# TYPE edgelb_dp_updates_total counter\nedgelb_dp_updates_total %llu\n",
	  (unsigned long long)st.updates);
	P("# HELP edgelb_dp_sync_errors_total Failed dp connections or requests.\n"
	  "# TYPE edgelb_dp_sync_errors_total counter\nedgelb_dp_sync_errors_total %llu\n",
	  (unsigned long long)st.errors);
	P("# HELP edgelb_dp_last_sync_timestamp_seconds Time of the last full sync.\n"
	  "# TYPE edgelb_dp_last_sync_timestamp_seconds gauge\n"
	  "edgelb_dp_last_sync_timestamp_seconds %.3f\n", st.last_sync_unix);
	P("# HELP edgelb_dp_services dp services last sent.\n# TYPE edgelb_dp_services gauge\n"
	  "edgelb_dp_services %u\n", st.services);
	P("# HELP edgelb_loadbalancers Load balancers known.\n# TYPE edgelb_loadbalancers gauge\n"
	  "edgelb_loadbalancers %u\n", lbs);
	P("# HELP edgelb_loadbalancers_pending Load balancers without an address.\n"
	  "# TYPE edgelb_loadbalancers_pending gauge\nedgelb_loadbalancers_pending %u\n", pending);

	json_t *pools = cp_store_pools(store);
	P("# HELP edgelb_pool_addresses Addresses of a pool (size) and allocated (used).\n"
	  "# TYPE edgelb_pool_addresses gauge\n");
	json_array_foreach(pools, i, v) {
		const char *fam[] = {"ipv4", "ipv6"};
		esc(json_string_value(json_object_get(v, "name")), e1, sizeof(e1));
		for (int f = 0; f < 2; f++) {
			json_t *u = json_object_get(v, fam[f]);
			P("edgelb_pool_addresses{pool=\"%s\",family=\"%s\",kind=\"size\"} %lld\n", e1,
			  fam[f], (long long)json_integer_value(json_object_get(u, "size")));
			P("edgelb_pool_addresses{pool=\"%s\",family=\"%s\",kind=\"used\"} %lld\n", e1,
			  fam[f], (long long)json_integer_value(json_object_get(u, "used")));
		}
	}
	json_decref(pools);

	json_t *list = cp_store_list(store);
	P("# HELP edgelb_backend_health Health of a load balancer's backend (1 for its state).\n"
	  "# TYPE edgelb_backend_health gauge\n");
	json_array_foreach(list, i, v) {
		char key[2 * LB_OWNER_MAX];
		snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(v, "namespace")),
			 json_string_value(json_object_get(v, "name")));
		esc(key, e1, sizeof(e1));
		json_array_foreach(json_object_get(v, "backends"), j, bk) {
			const char *h = json_string_value(json_object_get(bk, "health"));
			P("edgelb_backend_health{lb=\"%s\",address=\"%s\",port=\"%lld\",state=\"%s\"} 1\n",
			  e1, esc(json_string_value(json_object_get(bk, "address")), e2, sizeof(e2)),
			  (long long)json_integer_value(json_object_get(bk, "port")), h ? h : "unknown");
		}
	}
	json_decref(list);
	dp_counters(dps, &b, &len, &cap);
	if (hook)
		hook(hook_arg, &b, &len, &cap);
	*lenp = len;
	return b;
}

#undef P
