/*
 * api.c - the HTTP API of edgelb-cp (see api.h, docs/api.md).
 *
 * libmicrohttpd calls handle() from its thread pool, once per chunk of a
 * request body and once more at the end; the body is collected (up to
 * MAX_BODY) and the request routed when complete. Every answer is JSON
 * ({"error": "..."} on failure) except /metrics (Prometheus text format).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api.h"
#include "cpconf.h"
#include "dpsync.h"
#include "lb_counters.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "store.h"

#define MAX_BODY (4u << 20)
#define THREADS 4
#define DP_TIMEOUT_MS 5000

struct cp_api {
	struct MHD_Daemon *d;
	const struct cp_conf *conf;
	struct cp_store *store;
	struct cp_dpsync *dps;
	struct { cp_metrics_fn fn; void *arg; } metrics_hooks[4];
	struct { cp_route_fn fn; void *arg; } routes[4];
	char read_only[256];   /* non-empty: why load balancer changes are refused */
};

struct req {
	char *body;
	size_t len;
	bool too_big;
};

void
cp_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		size_t room = *cap - *len;
		va_start(ap, fmt);
		int n = *buf ? vsnprintf(*buf + *len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			*len += (size_t)n;
			return;
		}
		size_t ncap = *cap ? *cap * 2 : 8192;
		while (n >= 0 && ncap < *len + (size_t)n + 1)
			ncap *= 2;
		char *b = realloc(*buf, ncap);
		if (b == NULL)
			return;
		*buf = b;
		*cap = ncap;
	}
}

/* ---- responses ------------------------------------------------------------- */

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *type, char *text, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	if (s == NULL)
		return MHD_NO;
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (t) {
		s = t;
		s[n++] = '\n';
		s[n] = '\0';
	}
	return send_text(c, status, "application/json", s, n);
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_json(c, status, json_pack("{s:s}", "error", msg));
}

static unsigned
status_of(int rc)
{
	switch (rc) {
	case LB_EINVAL: return MHD_HTTP_BAD_REQUEST;
	case LB_ENOENT: return MHD_HTTP_NOT_FOUND;
	case LB_EEXIST:
	case LB_ECONFLICT:
	case LB_EFULL: return MHD_HTTP_CONFLICT;
	default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* ---- /metrics ---------------------------------------------------------------- */

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

static void
metrics_dp(struct cp_api *a, char **bp, size_t *lenp, size_t *capp)
{
	char *b = *bp;
	size_t len = *lenp, cap = *capp;
	json_t *s = a->dps ? cp_dpsync_stats(a->dps) : NULL, *v, *bk;
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
		P("edgelb_service_packets_total{%s} %lld\n", lbl,
		  (long long)json_integer_value(json_object_get(v, "packets")));
		P("edgelb_service_bytes_total{%s} %lld\n", lbl,
		  (long long)json_integer_value(json_object_get(v, "bytes")));
		P("edgelb_service_active_connections{%s} %lld\n", lbl,
		  (long long)json_integer_value(json_object_get(v, "active_connections")));
		if (json_string_value(json_object_get(v, "table_digest")))
			P("edgelb_service_table_info{%s,digest=\"%s\"} 1\n", lbl,
			  json_string_value(json_object_get(v, "table_digest")));
		json_array_foreach(json_object_get(v, "backends"), j, bk) {
			char bl[1024];
			snprintf(bl, sizeof(bl), "%s,backend=\"%s:%lld\",state=\"%s\"", lbl,
				 esc(json_string_value(json_object_get(bk, "address")), e1, sizeof(e1)),
				 (long long)json_integer_value(json_object_get(bk, "port")),
				 esc(json_string_value(json_object_get(bk, "state")), e2, sizeof(e2)));
			P("edgelb_backend_packets_total{%s} %lld\n", bl,
			  (long long)json_integer_value(json_object_get(bk, "packets")));
			P("edgelb_backend_bytes_total{%s} %lld\n", bl,
			  (long long)json_integer_value(json_object_get(bk, "bytes")));
			P("edgelb_backend_active_connections{%s} %lld\n", bl,
			  (long long)json_integer_value(json_object_get(bk, "active_connections")));
		}
	}
	json_decref(s);
out:
	*bp = b;
	*lenp = len;
	*capp = cap;
}

static enum MHD_Result
metrics(struct cp_api *a, struct MHD_Connection *c)
{
	char *b = NULL, e1[256], e2[128];
	size_t len = 0, cap = 0, i, j;
	struct cp_dpsync_status st = {0};
	uint32_t lbs, pending, down;
	json_t *v, *bk;

	if (a->dps)
		cp_dpsync_status(a->dps, &st);
	cp_store_counts(a->store, &lbs, &pending, &down);
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

	json_t *pools = cp_store_pools(a->store);
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

	json_t *list = cp_store_list(a->store);
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
	metrics_dp(a, &b, &len, &cap);
	for (i = 0; i < 4 && a->metrics_hooks[i].fn; i++)
		a->metrics_hooks[i].fn(a->metrics_hooks[i].arg, &b, &len, &cap);
	if (b == NULL)
		return MHD_NO;
	return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b, len);
}

#undef P

/* ---- /v1 ------------------------------------------------------------------- */

static json_t *
parse_body(struct req *r, char *err, size_t errlen)
{
	json_error_t je;

	if (r->len == 0) {
		snprintf(err, errlen, "request body: expected a JSON object");
		return NULL;
	}
	json_t *j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		snprintf(err, errlen, "request body: malformed JSON at line %d column %d: %s", je.line,
			 je.column, je.text);
	return j;
}

/*
 * POST /v1/loadbalancers (ns == NULL: create) or PUT /v1/loadbalancers/{ns}/{name}
 * (replace). For a PUT the path names the object; the body may repeat the name
 * but not contradict it.
 */
static enum MHD_Result
lb_write(struct cp_api *a, struct MHD_Connection *c, struct req *r, const char *ns,
	 const char *name)
{
	char err[512];
	struct cp_lb lb;
	json_t *out = NULL, *j = parse_body(r, err, sizeof(err));
	int rc;

	if (j == NULL)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	if (ns != NULL) {
		if (!json_is_object(j)) {
			json_decref(j);
			return send_error(c, MHD_HTTP_BAD_REQUEST, "request body: must be a JSON object");
		}
		json_t *bn = json_object_get(j, "name"), *bns = json_object_get(j, "namespace");
		if ((bn && (!json_is_string(bn) || strcmp(json_string_value(bn), name) != 0)) ||
		    (bns && (!json_is_string(bns) || strcmp(json_string_value(bns), ns) != 0))) {
			json_decref(j);
			return send_error(c, MHD_HTTP_BAD_REQUEST,
					  "name/namespace: the body names another load balancer than the path");
		}
		json_object_set_new(j, "name", json_string(name));
		json_object_set_new(j, "namespace", json_string(ns));
	}
	rc = cp_lb_from_json(j, &lb, &a->conf->hc, err, sizeof(err));
	json_decref(j);
	if (rc < 0)
		return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	rc = ns ? cp_store_replace(a->store, &lb, false, &out, err, sizeof(err))
		: cp_store_create(a->store, &lb, false, &out, err, sizeof(err));
	if (rc < 0)
		return send_error(c, status_of(rc), "%s", err);
	return send_json(c, ns ? MHD_HTTP_OK : MHD_HTTP_CREATED, out);
}

static enum MHD_Result
dp_passthrough(struct cp_api *a, struct MHD_Connection *c, json_t *req, const char *lb_filter)
{
	char err[512];
	json_t *res = cp_dp_request(a->conf->dp_socket, req, DP_TIMEOUT_MS, err, sizeof(err));

	if (res == NULL)
		return send_error(c, MHD_HTTP_BAD_GATEWAY, "edgelb-dp: %s", err);
	if (lb_filter) {
		/* dp service names are "ns/name:port": keep the load balancer's. */
		json_t *all = json_object_get(res, LB_F_CONNECTIONS), *keep = json_array(), *v;
		size_t i, n = strlen(lb_filter);
		json_array_foreach(all, i, v) {
			const char *s = json_string_value(json_object_get(v, "service"));
			if (s && strncmp(s, lb_filter, n) == 0 && s[n] == ':')
				json_array_append(keep, v);
		}
		json_object_set_new(res, LB_F_CONNECTIONS, keep);
	}
	return send_json(c, MHD_HTTP_OK, res);
}

static bool
authorized(struct cp_api *a, struct MHD_Connection *c)
{
	if (a->conf->api_token[0] == '\0')
		return true;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	return h && strncmp(h, "Bearer ", 7) == 0 && strcmp(h + 7, a->conf->api_token) == 0;
}

/* Split "/v1/loadbalancers/ns/name[/backends]" into parts. */
static int
split(const char *url, char parts[5][CP_NAME_MAX + 8])
{
	int n = 0;
	const char *p = url;

	while (*p == '/')
		p++;
	while (*p && n < 5) {
		size_t l = strcspn(p, "/");
		if (l >= CP_NAME_MAX + 8)
			return -1;
		memcpy(parts[n], p, l);
		parts[n][l] = '\0';
		n++;
		p += l;
		while (*p == '/')
			p++;
	}
	return *p ? -1 : n;
}

static enum MHD_Result
route(struct cp_api *a, struct MHD_Connection *c, const char *url, const char *m, struct req *r)
{
	char parts[5][CP_NAME_MAX + 8], err[512];
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
	bool put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
	int n = split(url, parts);
	json_t *out = NULL;
	int rc;

	if (strcmp(url, "/healthz") == 0 && get) {
		struct cp_dpsync_status st = {0};
		if (a->dps)
			cp_dpsync_status(a->dps, &st);
		return send_json(c, MHD_HTTP_OK, json_pack("{s:s, s:s}", "status", "ok", "dp",
							   st.connected ? "connected" : "disconnected"));
	}
	if (!authorized(a, c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
	if (strcmp(url, "/metrics") == 0 && get)
		return metrics(a, c);
	if (r->too_big)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %u bytes",
				  MAX_BODY);
	if (n < 2 || strcmp(parts[0], "v1") != 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource: %s", url);

	if (strcmp(parts[1], "pools") == 0 && n == 2) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "items", cp_store_pools(a->store)));
	}
	if (strcmp(parts[1], "stats") == 0 && n == 2) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		return dp_passthrough(a, c, json_pack("{s:s}", LB_F_OP, LB_OP_STATS_GET), NULL);
	}
	if (strcmp(parts[1], "conns") == 0 && n == 2) {
		if (!get)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
		const char *lb = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lb");
		long limit = lim ? strtol(lim, NULL, 10) : LB_CTL_CONNS_LIMIT_DEFAULT;
		if (limit < 1 || limit > LB_CTL_CONNS_LIMIT_MAX)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "limit: must be 1..%d",
					  LB_CTL_CONNS_LIMIT_MAX);
		return dp_passthrough(a, c,
				      json_pack("{s:s, s:I}", LB_F_OP, LB_OP_CONNS_LIST, LB_F_LIMIT,
						(json_int_t)limit),
				      lb);
	}
	for (int k = 0; k < 4 && a->routes[k].fn; k++) {
		unsigned st = (unsigned)a->routes[k].fn(a->routes[k].arg, m, url, r->body, r->len, &out,
							err, sizeof(err));
		if (st == 0)
			continue;
		if (st >= 300 || out == NULL)
			return send_error(c, st, "%s", err);
		return send_json(c, st, out);
	}
	if (strcmp(parts[1], "loadbalancers") != 0 || n == 3 || n > 5)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource: %s", url);
	bool changes = post || put || del;
	if (changes && a->read_only[0])
		return send_error(c, MHD_HTTP_FORBIDDEN, "%s", a->read_only);
	if (n == 2) {
		if (get)
			return send_json(c, MHD_HTTP_OK,
					 json_pack("{s:o}", "items", cp_store_list(a->store)));
		if (post)
			return lb_write(a, c, r, NULL, NULL);
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or POST");
	}
	const char *ns = parts[2], *name = parts[3];
	if (n == 5) {
		if (strcmp(parts[4], "backends") != 0)
			return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource: %s", url);
		if (!put)
			return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use PUT");
		json_t *body = parse_body(r, err, sizeof(err));
		if (body == NULL)
			return send_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
		rc = cp_store_set_backends(a->store, ns, name, body, &out, err, sizeof(err));
		json_decref(body);
		if (rc < 0)
			return send_error(c, status_of(rc), "%s", err);
		return send_json(c, MHD_HTTP_OK, out);
	}
	if (get) {
		out = cp_store_get(a->store, ns, name);
		if (out == NULL)
			return send_error(c, MHD_HTTP_NOT_FOUND, "no load balancer %s/%s", ns, name);
		return send_json(c, MHD_HTTP_OK, out);
	}
	if (put)
		return lb_write(a, c, r, ns, name);
	if (del) {
		rc = cp_store_delete(a->store, ns, name, &out, err, sizeof(err));
		if (rc < 0)
			return send_error(c, status_of(rc), "%s", err);
		return send_json(c, MHD_HTTP_OK, out);
	}
	return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET, PUT or DELETE");
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *data, size_t *data_size, void **ctx)
{
	struct cp_api *a = cls;
	struct req *r = *ctx;

	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		*ctx = r;
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (!r->too_big) {
			if (r->len + *data_size > MAX_BODY) {
				r->too_big = true;
			} else {
				char *b = realloc(r->body, r->len + *data_size + 1);
				if (b == NULL)
					return MHD_NO;
				r->body = b;
				memcpy(r->body + r->len, data, *data_size);
				r->len += *data_size;
			}
		}
		*data_size = 0;
		return MHD_YES;
	}
	return route(a, c, url, method, r);
}

static void
done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode tc)
{
	struct req *r = *ctx;

	(void)cls;
	(void)c;
	(void)tc;
	if (r) {
		free(r->body);
		free(r);
		*ctx = NULL;
	}
}

struct cp_api *
cp_api_start(const struct cp_conf *conf, struct cp_store *store, struct cp_dpsync *dps, char *err,
	     size_t errlen)
{
	struct cp_api *a = calloc(1, sizeof(*a));
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6;

	if (a == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->conf = conf;
	a->store = store;
	a->dps = dps;
	int port = cp_listen_parse(conf->api_listen, &ss, &sl, &v6);
	if (port < 0) {
		snprintf(err, errlen, "api.listen: '%s' is not address:port", conf->api_listen);
		free(a);
		return NULL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	a->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, a,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
				MHD_OPTION_NOTIFY_COMPLETED, done, a,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_END);
	if (a->d == NULL) {
		snprintf(err, errlen, "api: cannot listen on %s", conf->api_listen);
		free(a);
		return NULL;
	}
	return a;
}

void
cp_api_set_metrics_hook(struct cp_api *a, cp_metrics_fn fn, void *arg)
{
	for (int i = 0; i < 4; i++)
		if (a->metrics_hooks[i].fn == NULL) {
			a->metrics_hooks[i].arg = arg;
			a->metrics_hooks[i].fn = fn;
			return;
		}
}

void
cp_api_add_route(struct cp_api *a, cp_route_fn fn, void *arg)
{
	for (int i = 0; i < 4; i++)
		if (a->routes[i].fn == NULL) {
			a->routes[i].arg = arg;
			a->routes[i].fn = fn;
			return;
		}
}

void
cp_api_set_read_only(struct cp_api *a, const char *why)
{
	snprintf(a->read_only, sizeof(a->read_only), "%s", why);
}

void
cp_api_stop(struct cp_api *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	free(a);
}
