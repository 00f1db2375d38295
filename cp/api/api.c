/*
 * api.c - the HTTP API of edgelb-cp (see api.h, docs/api.md): the route
 * tables, the handlers and the libmicrohttpd daemon.
 *
 * Runs on libmicrohttpd's thread pool (THREADS threads, epoll), started and
 * stopped by main.c. handle() is called once per chunk of a request body and
 * once more at the end; the body is collected (up to MAX_BODY) and the request
 * routed when complete, through plain[] (/healthz, /metrics) and v1[] (the REST
 * API), rows of {method, path, handler}. The token and Content-Length are
 * checked at the first call, before any body is read: an unauthenticated or
 * oversized request costs no memory. Connections are limited in total and per
 * client address, and an idle one is closed after IDLE_TIMEOUT_S, so slow
 * clients cannot starve /healthz. Handlers touch the store (cp_store_*, under
 * its lock) or make one dp request. Every answer is JSON ({"error": "..."} on
 * failure) except /metrics (Prometheus text format, rendered by metrics.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api.h"
#include "cpconf.h"
#include "dpsync.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "metrics.h"
#include "store.h"

#define MAX_BODY (4u << 20)
#define THREADS 4
#define MAX_CONNECTIONS 512   /* below the default 1024 descriptors */
#define MAX_PER_IP 64         /* one client address cannot take them all */
#define IDLE_TIMEOUT_S 10     /* a connection that sends nothing (no headers) this long */
#define DISCARD_MAX (64ull << 20) /* a refused body announcing more is not even read */
#define DP_TIMEOUT_MS 5000
#define MAX_PARTS 5           /* path segments: /v1/loadbalancers/{ns}/{name}/backends */
#define MAX_HOOKS 4           /* /metrics hooks, extra routes */
#define N_ROWS(t) (sizeof(t) / sizeof((t)[0]))

struct cp_api {
	struct MHD_Daemon *d;
	const struct cp_conf *conf;
	struct cp_store *store;
	struct cp_dpsync *dps;
	struct { cp_metrics_fn fn; void *arg; } metrics_hooks[MAX_HOOKS];
	struct { cp_route_fn fn; void *arg; } routes[MAX_HOOKS]; /* other modules' /v1 resources */
	cp_health_fn health_fn;
	void *health_arg;
	char read_only[256];   /* non-empty: why load balancer changes are refused */
};

struct req {
	char *body;
	size_t len;
	bool too_big;
	unsigned refuse; /* decided at the first call: 401 (token) or 413 (Content-Length) */
};

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
	json_t *res = cp_dpsync_request(a->conf->dp_socket, req, DP_TIMEOUT_MS, err, sizeof(err));

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
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return false;
	/* Constant time: how long the comparison takes says nothing about the token. */
	const char *want = a->conf->api_token, *got = h + 7;
	size_t n = strlen(want), m = strlen(got);
	volatile unsigned char d = (unsigned char)(n != m);
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(want[i] ^ (i < m ? got[i] : 0));
	return d == 0;
}

/* Split "/v1/loadbalancers/ns/name[/backends]" into parts. */
static int
split(const char *url, char parts[MAX_PARTS][CP_NAME_MAX + 8])
{
	int n = 0;
	const char *p = url;

	while (*p == '/')
		p++;
	while (*p && n < MAX_PARTS) {
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

/* ---- handlers ---------------------------------------------------------------- */

/* One routed request: what every handler gets. */
struct call {
	struct cp_api *a;
	struct MHD_Connection *c;
	struct req *r;
	const char *url;
	const char *ns, *name;   /* the "*" segments of /v1/loadbalancers/{ns}/{name}[/...] */
};

static enum MHD_Result
healthz(const struct call *k)
{
	struct cp_dpsync_status st = {0};

	if (k->a->dps)
		cp_dpsync_status(k->a->dps, &st);
	json_t *h = json_pack("{s:s, s:s}", "status", "ok", "dp",
			      st.connected ? "connected" : "disconnected");
	if (k->a->health_fn)
		k->a->health_fn(k->a->health_arg, h); /* kubernetes: the leader election */
	return send_json(k->c, MHD_HTTP_OK, h);
}

/* The cp_metrics_fn metrics.c calls: every hook added with cp_api_set_metrics_hook. */
static void
metrics_hooks(void *arg, char **buf, size_t *len, size_t *cap)
{
	struct cp_api *a = arg;

	for (int i = 0; i < MAX_HOOKS && a->metrics_hooks[i].fn; i++)
		a->metrics_hooks[i].fn(a->metrics_hooks[i].arg, buf, len, cap);
}

static enum MHD_Result
metrics(const struct call *k)
{
	size_t len = 0;
	char *text = cp_metrics_render(k->a->store, k->a->dps, metrics_hooks, k->a,
				       &len);

	if (text == NULL)
		return MHD_NO;
	return send_text(k->c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static enum MHD_Result
pools_get(const struct call *k)
{
	return send_json(k->c, MHD_HTTP_OK, json_pack("{s:o}", "items", cp_store_pools(k->a->store)));
}

static enum MHD_Result
stats_get(const struct call *k)
{
	return dp_passthrough(k->a, k->c, json_pack("{s:s}", LB_F_OP, LB_OP_STATS_GET), NULL);
}

/* GET /v1/conns[?limit=N][&lb=ns/name] */
static enum MHD_Result
conns_get(const struct call *k)
{
	const char *lim = MHD_lookup_connection_value(k->c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *lb = MHD_lookup_connection_value(k->c, MHD_GET_ARGUMENT_KIND, "lb");
	long limit = lim ? strtol(lim, NULL, 10) : LB_CTL_CONNS_LIMIT_DEFAULT;

	if (limit < 1 || limit > LB_CTL_CONNS_LIMIT_MAX)
		return send_error(k->c, MHD_HTTP_BAD_REQUEST, "limit: must be 1..%d",
				  LB_CTL_CONNS_LIMIT_MAX);
	return dp_passthrough(k->a, k->c,
			      json_pack("{s:s, s:I}", LB_F_OP, LB_OP_CONNS_LIST, LB_F_LIMIT,
					(json_int_t)limit),
			      lb);
}

/*
 * Each backend of lb gets "unresolved" (issue 14, finding 6): true when a dp service
 * of this load balancer ("ns/name:port") lists the address as unresolved in the dp's
 * last stats (no route, or its next hop does not answer ARP/NDP). Left out while the
 * dp's stats hold no service of it (not connected, or not polled since the change).
 * GET of one load balancer only: the list stays what the store holds.
 */
static void
mark_unresolved(json_t *stats, json_t *lb)
{
	char prefix[2 * LB_OWNER_MAX + 2];
	json_t *svc, *b, *x;
	size_t i, j, k;

	if (stats == NULL)
		return;
	bool known = false;
	snprintf(prefix, sizeof(prefix), "%s/%s:", json_string_value(json_object_get(lb, "namespace")),
		 json_string_value(json_object_get(lb, "name")));
	json_array_foreach(json_object_get(lb, "backends"), i, b) {
		const char *addr = json_string_value(json_object_get(b, "address"));
		bool un = false;
		json_array_foreach(json_object_get(stats, "services"), j, svc) {
			const char *n = json_string_value(json_object_get(svc, "name"));
			if (n == NULL || addr == NULL || strncmp(n, prefix, strlen(prefix)) != 0)
				continue;
			known = true;
			json_array_foreach(json_object_get(svc, "backends"), k, x) {
				const char *xa = json_string_value(json_object_get(x, "address"));
				if (xa && strcmp(xa, addr) == 0 &&
				    json_is_true(json_object_get(x, "unresolved")))
					un = true;
			}
		}
		if (known)
			json_object_set_new(b, "unresolved", json_boolean(un));
	}
}

static enum MHD_Result
lb_list(const struct call *k)
{
	return send_json(k->c, MHD_HTTP_OK, json_pack("{s:o}", "items", cp_store_list(k->a->store)));
}

static enum MHD_Result
lb_create(const struct call *k)
{
	return lb_write(k->a, k->c, k->r, NULL, NULL);
}

static enum MHD_Result
lb_get(const struct call *k)
{
	json_t *out = cp_store_get(k->a->store, k->ns, k->name);

	if (out == NULL)
		return send_error(k->c, MHD_HTTP_NOT_FOUND, "no load balancer %s/%s", k->ns, k->name);
	json_t *stats = k->a->dps ? cp_dpsync_stats(k->a->dps) : NULL;
	mark_unresolved(stats, out);
	json_decref(stats);
	return send_json(k->c, MHD_HTTP_OK, out);
}

static enum MHD_Result
lb_replace(const struct call *k)
{
	return lb_write(k->a, k->c, k->r, k->ns, k->name);
}

static enum MHD_Result
lb_delete(const struct call *k)
{
	char err[512];
	json_t *out = NULL;
	int rc = cp_store_delete(k->a->store, k->ns, k->name, &out, err, sizeof(err));

	if (rc < 0)
		return send_error(k->c, status_of(rc), "%s", err);
	return send_json(k->c, MHD_HTTP_OK, out);
}

static enum MHD_Result
lb_backends_put(const struct call *k)
{
	char err[512];
	json_t *out = NULL, *body = parse_body(k->r, err, sizeof(err));
	int rc;

	if (body == NULL)
		return send_error(k->c, MHD_HTTP_BAD_REQUEST, "%s", err);
	rc = cp_store_set_backends(k->a->store, k->ns, k->name, body, &out, err, sizeof(err));
	json_decref(body);
	if (rc < 0)
		return send_error(k->c, status_of(rc), "%s", err);
	return send_json(k->c, MHD_HTTP_OK, out);
}

/* ---- routes ------------------------------------------------------------------ */

#define R_OPEN    0x1   /* answered without the bearer token */
#define R_CHANGES 0x2   /* changes load balancers: refused while read-only */

struct route {
	const char *method;
	const char *path;        /* "*" stands for one path segment */
	enum MHD_Result (*fn)(const struct call *k);
	unsigned flags;
};

/*
 * Outside /v1: the exact URL with its method, looked up before the token and
 * body checks; any other method or spelling goes on to /v1 (and gets a 404).
 */
static const struct route plain[] = {
	{"GET", "/healthz", healthz, R_OPEN},
	{"GET", "/metrics", metrics, 0},
};

/*
 * The REST API (docs/api.md), after the token and body-size checks. A path
 * that matches no row is 404; while read-only (kubernetes mode), a POST, PUT or
 * DELETE on a path with an R_CHANGES row is 403; a matched path with another
 * method is 405, whose message lists the rows' methods in this order.
 */
static const struct route v1[] = {
	{"GET", "/v1/pools", pools_get, 0},
	{"GET", "/v1/stats", stats_get, 0},
	{"GET", "/v1/conns", conns_get, 0},
	{"GET", "/v1/loadbalancers", lb_list, 0},
	{"POST", "/v1/loadbalancers", lb_create, R_CHANGES},
	{"GET", "/v1/loadbalancers/*/*", lb_get, 0},
	{"PUT", "/v1/loadbalancers/*/*", lb_replace, R_CHANGES},
	{"DELETE", "/v1/loadbalancers/*/*", lb_delete, R_CHANGES},
	{"PUT", "/v1/loadbalancers/*/*/backends", lb_backends_put, R_CHANGES},
};

/* Whether the n parts of a URL spell pattern ("*" matches any one part). */
static bool
path_matches(const char *pattern, char parts[][CP_NAME_MAX + 8], int n)
{
	int i = 0;

	for (const char *p = pattern; *p; i++) {
		p++;   /* the '/' */
		size_t l = strcspn(p, "/");
		if (i >= n || !((l == 1 && *p == '*') ||
				(strlen(parts[i]) == l && memcmp(parts[i], p, l) == 0)))
			return false;
		p += l;
	}
	return i == n;
}

/* The plain[] row of url and method, or NULL. */
static const struct route *
plain_row(const char *url, const char *m)
{
	for (size_t i = 0; i < N_ROWS(plain); i++)
		if (strcmp(url, plain[i].path) == 0 && strcmp(m, plain[i].method) == 0)
			return &plain[i];
	return NULL;
}

static bool
is_change(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	       strcmp(method, "DELETE") == 0;
}

/* "use GET", "use GET or POST", "use GET, PUT or DELETE" */
static enum MHD_Result
not_allowed(struct MHD_Connection *c, const char *methods[], int n)
{
	char msg[128] = "use";

	for (int i = 0; i < n; i++)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s%s",
			 i == 0 ? " " : i == n - 1 ? " or " : ", ", methods[i]);
	return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s", msg);
}

/* Not a v1[] path: another module's resource (cp_api_add_route, e.g. /v1/drain), or 404. */
static enum MHD_Result
extra_route(struct cp_api *a, struct MHD_Connection *c, const char *url, const char *m,
	    const struct req *r)
{
	char err[256] = "";

	for (int i = 0; i < MAX_HOOKS && a->routes[i].fn; i++) {
		json_t *out = NULL;
		int st = a->routes[i].fn(a->routes[i].arg, m, url, r->body, r->len, &out, err,
					 sizeof(err));
		if (st == 0)
			continue;
		if (st >= 300 || out == NULL) {
			json_decref(out);
			return send_error(c, (unsigned)st, "%s", err);
		}
		return send_json(c, (unsigned)st, out);
	}
	return send_error(c, MHD_HTTP_NOT_FOUND, "no such resource: %s", url);
}

static enum MHD_Result
route(struct cp_api *a, struct MHD_Connection *c, const char *url, const char *m, struct req *r)
{
	char parts[MAX_PARTS][CP_NAME_MAX + 8];
	const char *allowed[N_ROWS(v1)];
	const struct route *row = NULL;
	struct call k = {.a = a, .c = c, .r = r, .url = url};
	bool changes = false;
	int n, n_allowed = 0;

	row = plain_row(url, m);
	if (row && (row->flags & R_OPEN))
		return row->fn(&k);
	if (!authorized(a, c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
	if (row)
		return row->fn(&k);
	if (r->too_big)
		return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %u bytes",
				  MAX_BODY);

	n = split(url, parts);
	for (size_t i = 0; n > 0 && i < N_ROWS(v1); i++) {
		if (!path_matches(v1[i].path, parts, n))
			continue;
		allowed[n_allowed++] = v1[i].method;
		changes |= (v1[i].flags & R_CHANGES) != 0;
		if (strcmp(m, v1[i].method) == 0)
			row = &v1[i];
	}
	if (n_allowed == 0)
		return extra_route(a, c, url, m, r);
	if (changes && is_change(m) && a->read_only[0])
		return send_error(c, MHD_HTTP_FORBIDDEN, "%s", a->read_only);
	if (row == NULL)
		return not_allowed(c, allowed, n_allowed);
	if (n >= 4) {
		k.ns = parts[2];
		k.name = parts[3];
	}
	return row->fn(&k);
}

/* The answer decided at the first call (handle), once the refused body is drained. */
static enum MHD_Result
refuse(struct MHD_Connection *c, struct req *r)
{
	if (r->refuse == MHD_HTTP_UNAUTHORIZED)
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong bearer token");
	return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %u bytes", MAX_BODY);
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
		/*
		 * Decide before the body is read: a stranger's or a giant's body is never
		 * buffered. It is read and dropped, then answered (clients that do not read
		 * an early answer see it), unless it announces more than DISCARD_MAX: then
		 * it is answered at once and the connection closed. The R_OPEN rows of
		 * plain[] (/healthz) need no token.
		 */
		const struct route *open = plain_row(url, method);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
		if (!(open && (open->flags & R_OPEN)) && !authorized(a, c))
			r->refuse = MHD_HTTP_UNAUTHORIZED;
		else if (len > MAX_BODY)
			r->refuse = MHD_HTTP_CONTENT_TOO_LARGE;
		if (r->refuse && len > DISCARD_MAX)
			return refuse(c, r);
		return MHD_YES;
	}
	if (r->refuse) {
		if (*data_size > 0) {
			*data_size = 0; /* dropped, never kept */
			return MHD_YES;
		}
		return refuse(c, r);
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
	int port = cp_conf_listen_parse(conf->api_listen, &ss, &sl, &v6);
	if (port < 0) {
		snprintf(err, errlen, "api.listen: '%s' is not address:port", conf->api_listen);
		free(a);
		return NULL;
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
	a->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, a,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
				MHD_OPTION_NOTIFY_COMPLETED, done, a,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_IP,
				MHD_OPTION_END);
	if (a->d == NULL) {
		snprintf(err, errlen, "api: cannot listen on %s", conf->api_listen);
		free(a);
		return NULL;
	}
	return a;
}

void
cp_api_set_health_hook(struct cp_api *a, cp_health_fn fn, void *arg)
{
	a->health_arg = arg;
	a->health_fn = fn;
}

void
cp_api_set_metrics_hook(struct cp_api *a, cp_metrics_fn fn, void *arg)
{
	for (int i = 0; i < MAX_HOOKS; i++)
		if (a->metrics_hooks[i].fn == NULL) {
			a->metrics_hooks[i].arg = arg;
			a->metrics_hooks[i].fn = fn;
			return;
		}
}

void
cp_api_add_route(struct cp_api *a, cp_route_fn fn, void *arg)
{
	for (int i = 0; i < MAX_HOOKS; i++)
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
