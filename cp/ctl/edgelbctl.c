/*
 * edgelbctl.c - the operator's command line: talks to edgelb-cp's REST API
 * (docs/api.md) over HTTP with libcurl and prints human tables or, with -o json,
 * the API's JSON as is.
 *
 *   edgelbctl [--server URL] [--token T] [-o json|table] COMMAND [ARGS]
 *
 * One process, one thread, one request at a time (apply makes two: a GET to
 * learn whether the load balancer exists, then PUT or POST). Nothing is cached.
 * Exit status: 0 done; 1 the API refused or failed (its {"error"} message is
 * printed); 2 edgelb-cp could not be reached; 64 a usage error. Exits only from
 * main().
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl.h"
#include "lb_counters.h"
#include "lb_ctl_proto.h"

#ifndef EDGELB_VERSION
#define EDGELB_VERSION "unknown"
#endif

#define DEFAULT_SERVER "http://127.0.0.1:8470"
#define MAX_REPLY (512u << 20)
#define MAX_FILE (4u << 20)   /* the API's own body limit */
#define CONNECT_TIMEOUT_MS 5000L
#define TIMEOUT_MS 60000L
#define LABEL_MAX 63


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
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgelbctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(edgelbctl help: the commands and options)\n");
	return EXIT_USAGE;
}

/* ---- small helpers ------------------------------------------------------ */

const char *
jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

long long
jint(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "addr:port", IPv6 in brackets. */
static const char *
hostport(const char *addr, long long port, char *buf, size_t len)
{
	if (strchr(addr, ':'))
		snprintf(buf, len, "[%s]:%lld", addr, port);
	else
		snprintf(buf, len, "%s:%lld", addr, port);
	return buf;
}

/* A growing string. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->overflow = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static const char *
sb_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

/* ---- tables --------------------------------------------------------------- */

/* Rows of cells, the first row the header; columns as wide as their widest cell. */
struct table {
	size_t ncols, nrows, cap;
	char **cells;
	size_t w[16];      /* column widths: at least the widest cell */
};

static void
tbl_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* Append a row of t->ncols strings (NULL prints as empty). */
static void
tbl_row(struct table *t, ...)
{
	va_list ap;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (c == NULL)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

/* Widen t's columns to their widest cell; with into, widen into's columns too. */
static void
tbl_widths(struct table *t, struct table *into)
{
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols && i < 16; i++) {
			const char *s = t->cells[r * t->ncols + i];
			size_t n = s ? strlen(s) : 0;
			if (n > t->w[i])
				t->w[i] = n;
		}
	for (size_t i = 0; into && i < 16; i++)
		if (t->w[i] > into->w[i])
			into->w[i] = t->w[i];
}

static void
tbl_print(struct table *t, FILE *f, const char *indent)
{
	size_t *w = t->w;

	tbl_widths(t, NULL);
	for (size_t r = 0; r < t->nrows; r++) {
		/* pad every cell but the last non-empty one: no trailing blanks */
		size_t last = 0;
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (s && s[0])
				last = i;
		}
		fputs(indent, f);
		for (size_t i = 0; i <= last; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i < last)
				fprintf(f, "%-*s   ", (int)w[i], s ? s : "");
			else
				fputs(s ? s : "", f);
		}
		fputc('\n', f);
	}
}

static void
tbl_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* ---- HTTP ----------------------------------------------------------------- */

static size_t
on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct sbuf *b = arg;

	if (b->len + size * n > MAX_REPLY)
		return 0; /* aborts the transfer */
	sb_put(b, ptr, size * n);
	return b->overflow ? 0 : size * n;
}

struct answer {
	long status;    /* HTTP status */
	json_t *json;   /* parsed body, NULL when it is not JSON */
	struct sbuf raw;
};

static void
answer_free(struct answer *a)
{
	json_decref(a->json);
	free(a->raw.p);
	memset(a, 0, sizeof(*a));
}

/*
 * One request. Returns 0 with a filled in (whatever the status), or
 * EXIT_UNREACHABLE after saying why on stderr.
 */
static int
request(struct ctl *c, const char *method, const char *path, const char *body, struct answer *a)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "", auth[1100];
	struct curl_slist *h = NULL;
	CURLcode rc;

	memset(a, 0, sizeof(*a));
	snprintf(url, sizeof(url), "%s%s", c->server, path);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &a->raw);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "edgelbctl/" EDGELB_VERSION);
	h = curl_slist_append(h, "Accept: application/json");
	/* no "Expect: 100-continue" round trip for large bodies */
	h = curl_slist_append(h, "Expect:");
	if (c->token && c->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, auth);
	}
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "edgelbctl: cannot reach edgelb-cp at %s: %s\n", c->server,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(a->raw.p);
		memset(a, 0, sizeof(*a));
		return EXIT_UNREACHABLE;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a->status);
	if (a->raw.len > 0)
		a->json = json_loadb(a->raw.p, a->raw.len, 0, NULL);
	return 0;
}

/* Say why a non-2xx (or unreadable) answer failed; returns EXIT_API. */
static int
report(struct ctl *c, const struct answer *a)
{
	const char *msg = json_string_value(json_object_get(a->json, "error"));

	if (msg) {
		fprintf(stderr, "edgelbctl: %s", msg);
		if (a->status == 401 && !(c->token && c->token[0]))
			fprintf(stderr, " (give --token or set EDGELB_TOKEN)");
		fputc('\n', stderr);
	} else if (a->status >= 200 && a->status < 300) {
		fprintf(stderr, "edgelbctl: %s answered HTTP %ld with a body that is not JSON\n",
			c->server, a->status);
	} else {
		/* not our API's JSON: a proxy, another server on the port */
		const char *s = sb_str(&a->raw);
		int n = (int)strcspn(s, "\r\n");
		fprintf(stderr, "edgelbctl: %s answered HTTP %ld%s%.*s\n", c->server, a->status,
			n ? ": " : "", n > 200 ? 200 : n, s);
	}
	return EXIT_API;
}

/* A request whose answer must be 2xx JSON: 0 with *out (new reference), else the exit code. */
int
api(struct ctl *c, const char *method, const char *path, const char *body, json_t **out)
{
	struct answer a;
	int rc = request(c, method, path, body, &a);

	*out = NULL;
	if (rc != 0)
		return rc;
	if (a.status < 200 || a.status >= 300 || a.json == NULL) {
		rc = report(c, &a);
		answer_free(&a);
		return rc;
	}
	*out = a.json;
	a.json = NULL;
	answer_free(&a);
	return 0;
}

void
print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
}

/* ---- names and files ------------------------------------------------------ */

static bool
dns_label(const char *s, size_t n)
{
	if (n < 1 || n > LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && (ch != '-' || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* "name" or "ns/name" into ns and name (each LABEL_MAX + 1). */
static int
parse_name(const char *arg, char *ns, char *name)
{
	const char *slash = strchr(arg, '/');
	const char *n = slash ? slash + 1 : arg;

	if (slash == NULL) {
		strcpy(ns, "default");
	} else {
		if (!dns_label(arg, (size_t)(slash - arg)))
			return usage_error("'%s': the namespace must be a DNS label (a-z, 0-9, '-', at most 63)",
					   arg);
		memcpy(ns, arg, (size_t)(slash - arg));
		ns[slash - arg] = '\0';
	}
	if (!dns_label(n, strlen(n)))
		return usage_error("'%s': the name must be a DNS label (a-z, 0-9, '-', at most 63)",
				   arg);
	strcpy(name, n);
	return 0;
}

/* Read FILE ("-" = stdin) as JSON; prints why on failure. */
static json_t *
read_json(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	const char *shown = f == stdin ? "stdin" : path;
	struct sbuf b = {0};
	char chunk[65536];
	size_t n;
	json_error_t je;

	if (f == NULL) {
		fprintf(stderr, "edgelbctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= MAX_FILE)
		sb_put(&b, chunk, n);
	bool failed = ferror(f);
	if (f != stdin)
		fclose(f);
	if (failed || b.overflow || b.len > MAX_FILE) {
		fprintf(stderr, "edgelbctl: %s: %s\n", shown,
			failed ? "read error" : "larger than the API accepts (4 MiB)");
		free(b.p);
		return NULL;
	}
	/* the API rejects duplicate keys too: say so here, with the line */
	json_t *j = json_loadb(sb_str(&b), b.len, JSON_REJECT_DUPLICATES, &je);
	free(b.p);
	if (j == NULL)
		fprintf(stderr, "edgelbctl: %s: malformed JSON at line %d column %d: %s\n", shown,
			je.line, je.column, je.text);
	return j;
}

/*
 * The load balancers of a file: an object, an array of objects, or {"items": [...]}
 * (what `get lb -o json` prints). Returns a new array reference.
 */
static json_t *
file_items(json_t *j)
{
	json_t *items = json_object_get(j, "items");

	if (json_is_object(j) && json_is_array(items) && json_object_get(j, "name") == NULL)
		return json_incref(items);
	if (json_is_array(j))
		return json_incref(j);
	json_t *a = json_array();
	json_array_append(a, j);
	return a;
}

static char *
compact(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}

/* ---- load balancers as tables ---------------------------------------------- */

/* A backend takes new flows: requested active and not failing its check. */
static bool
backend_up(const json_t *b)
{
	return strcmp(jstr(b, "state"), "active") == 0 && strcmp(jstr(b, "health"), "down") != 0;
}

static void
lb_key(const json_t *lb, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", jstr(lb, "namespace"), jstr(lb, "name"));
}

static void
join_ips(const json_t *lb, struct sbuf *b)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(lb, "ips"), i, v)
		sb_printf(b, "%s%s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
	if (b->len == 0)
		sb_printf(b, "<pending>");
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

static void
print_lb_table(const json_t *items)
{
	struct table t;
	size_t i, k;
	json_t *lb, *v;

	tbl_init(&t, 6);
	tbl_row(&t, "NAMESPACE/NAME", "IPS", "PORTS", "MODE", "BACKENDS", "STATUS");
	json_array_foreach(items, i, lb) {
		char key[160], tgt[80], up[48];
		struct sbuf ips = {0}, ports = {0};
		size_t n = 0, nup = 0;

		lb_key(lb, key, sizeof(key));
		join_ips(lb, &ips);
		json_array_foreach(json_object_get(lb, "ports"), k, v) {
			target_str(v, tgt, sizeof(tgt));
			sb_printf(&ports, "%s%lld/%s->%s", k ? "," : "", jint(v, "port"),
				  jstr(v, "protocol"), tgt);
		}
		json_array_foreach(json_object_get(lb, "backends"), k, v) {
			n++;
			nup += backend_up(v);
		}
		snprintf(up, sizeof(up), "%zu/%zu up", nup, n);
		tbl_row(&t, key, sb_str(&ips), sb_str(&ports), jstr(lb, "mode"), up,
			jstr(json_object_get(lb, "status"), "state"));
		free(ips.p);
		free(ports.p);
	}
	tbl_print(&t, stdout, "");
	tbl_free(&t);
}

/* The backends serving (address family, lb port) as the cp sends them to the dp, into t. */
static void
port_backends(const json_t *lb, const json_t *p, bool v6, bool hc, struct table *t)
{
	size_t i;
	json_t *b;
	const char *pname = jstr(p, "name");
	json_t *tp = json_object_get(p, "target_port");

	tbl_init(t, 4);
	json_array_foreach(json_object_get(lb, "backends"), i, b) {
		const char *addr = jstr(b, "address"), *bpn = jstr(b, "port_name");
		long long port = jint(b, "port");
		char hp[96], w[32];

		if ((strchr(addr, ':') != NULL) != v6)
			continue;
		if (bpn[0] && strcmp(bpn, pname) != 0)
			continue;
		if (port == 0)
			port = json_is_integer(tp) ? json_integer_value(tp) : 0;
		if (port == 0)
			continue; /* a named target port this backend does not resolve */
		snprintf(w, sizeof(w), "weight %lld", jint(b, "weight"));
		tbl_row(t, hostport(addr, port, hp, sizeof(hp)), jstr(b, "state"),
			hc ? (jstr(b, "health")[0] ? jstr(b, "health") : "unknown") : "-", w);
	}
}

static void
print_lb_detail(const json_t *lb)
{
	const json_t *sa = json_object_get(lb, "session_affinity");
	const json_t *hc = json_object_get(lb, "health_check");
	const json_t *st = json_object_get(lb, "status");
	json_t *ips = json_object_get(lb, "ips"), *v;
	bool has_hc = strcmp(jstr(hc, "type"), "none") != 0 && jstr(hc, "type")[0];
	char key[160], aff[64], tgt[80], hp[96];
	struct sbuf s = {0};
	size_t i;

	lb_key(lb, key, sizeof(key));
	join_ips(lb, &s);
	if (strcmp(jstr(sa, "type"), "ClientIP") == 0)
		snprintf(aff, sizeof(aff), "ClientIP %llds", jint(sa, "timeout_seconds"));
	else
		snprintf(aff, sizeof(aff), "%s", jstr(sa, "type")[0] ? jstr(sa, "type") : "None");
	printf("%s  %s  (%s, affinity %s)\n", key, sb_str(&s), jstr(lb, "mode"), aff);
	free(s.p);
	if (strcmp(jstr(st, "state"), "active") != 0)
		printf("  %s: %s\n", jstr(st, "state"), jstr(st, "message"));

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
	tbl_init(&all, 4);
	for (size_t x = 0; blk && x < nblk; x++) {
		const char *a = json_string_value(json_array_get(addrs, x / nports));
		bool v6 = a && (strchr(a, ':') != NULL || strcmp(a, "<pending-ipv6>") == 0);
		port_backends(lb, json_array_get(json_object_get(lb, "ports"), x % nports), v6, has_hc,
			      &blk[x]);
		tbl_widths(&blk[x], &all);
	}
	for (size_t x = 0; blk && x < nblk; x++) {
		const char *a = json_string_value(json_array_get(addrs, x / nports));
		const json_t *p = json_array_get(json_object_get(lb, "ports"), x % nports);
		const char *pn = jstr(p, "name");
		target_str(p, tgt, sizeof(tgt));
		if (a == NULL || a[0] == '<')
			snprintf(hp, sizeof(hp), "<pending>:%lld", jint(p, "port"));
		else
			hostport(a, jint(p, "port"), hp, sizeof(hp));
		printf("  %s %s -> %s%s%s%s\n", jstr(p, "protocol"), hp, tgt, pn[0] ? "  (" : "",
		       pn, pn[0] ? ")" : "");
		memcpy(blk[x].w, all.w, sizeof(all.w));
		if (blk[x].nrows == 0)
			printf("    (no backends)\n");
		else
			tbl_print(&blk[x], stdout, "    -> ");
		tbl_free(&blk[x]);
	}
	free(blk);
	json_decref(addrs);

	const char *pool = jstr(lb, "alloc_pool")[0] ? jstr(lb, "alloc_pool") : jstr(lb, "pool");
	printf("  pool %s", pool[0] ? pool : "-");
	if (jstr(lb, "pool")[0] == '\0')
		printf(" (auto)");
	if (json_array_size(json_object_get(lb, "requested_ips"))) {
		printf(", requested");
		json_array_foreach(json_object_get(lb, "requested_ips"), i, v)
			printf(" %s", json_string_value(v) ? json_string_value(v) : "?");
	}
	if (jstr(lb, "sharing_key")[0])
		printf(", sharing key %s", jstr(lb, "sharing_key"));
	printf("\n");
	if (json_array_size(json_object_get(lb, "source_ranges"))) {
		printf("  source ranges");
		json_array_foreach(json_object_get(lb, "source_ranges"), i, v)
			printf("%s %s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "?");
		printf("\n");
	}
	if (has_hc) {
		printf("  health check %s", jstr(hc, "type"));
		if (strcmp(jstr(hc, "type"), "http") == 0)
			printf(" GET %s", jstr(hc, "path"));
		if (jint(hc, "port"))
			printf(" port %lld", jint(hc, "port"));
		printf(", every %lld ms, timeout %lld ms, rise %lld, fall %lld\n",
		       jint(hc, "interval_ms"), jint(hc, "timeout_ms"), jint(hc, "rise"), jint(hc, "fall"));
	} else {
		printf("  health check none\n");
	}
}

/* ---- commands ------------------------------------------------------------- */

static int
cmd_get_lbs(struct ctl *c)
{
	json_t *out;
	int rc = api(c, "GET", "/v1/loadbalancers", NULL, &out);

	if (rc != 0)
		return rc;
	if (c->json)
		print_json(out);
	else if (json_array_size(json_object_get(out, "items")) == 0)
		fprintf(stderr, "No load balancers.\n");
	else
		print_lb_table(json_object_get(out, "items"));
	json_decref(out);
	return 0;
}

static int
cmd_get_lb(struct ctl *c, const char *arg)
{
	char ns[LABEL_MAX + 1], name[LABEL_MAX + 1], path[256];
	json_t *out;
	int rc;

	if ((rc = parse_name(arg, ns, name)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/loadbalancers/%s/%s", ns, name);
	if ((rc = api(c, "GET", path, NULL, &out)) != 0)
		return rc;
	if (c->json)
		print_json(out);
	else
		print_lb_detail(out);
	json_decref(out);
	return 0;
}

static void
pool_cell(const json_t *u, char *buf, size_t len)
{
	long long size = jint(u, "size");

	if (size == 0)
		snprintf(buf, len, "-");
	else if (size == INT64_MAX)
		snprintf(buf, len, "%lld/2^63+", jint(u, "used"));
	else
		snprintf(buf, len, "%lld/%lld", jint(u, "used"), size);
}

static int
cmd_get_pools(struct ctl *c)
{
	struct table t;
	json_t *out, *p;
	size_t i;
	int rc = api(c, "GET", "/v1/pools", NULL, &out);

	if (rc != 0)
		return rc;
	if (c->json) {
		print_json(out);
		json_decref(out);
		return 0;
	}
	tbl_init(&t, 3);
	tbl_row(&t, "POOL", "IPV4 USED/SIZE", "IPV6 USED/SIZE");
	json_array_foreach(json_object_get(out, "items"), i, p) {
		char v4[64], v6[64];
		pool_cell(json_object_get(p, "ipv4"), v4, sizeof(v4));
		pool_cell(json_object_get(p, "ipv6"), v6, sizeof(v6));
		tbl_row(&t, jstr(p, "name"), v4, v6);
	}
	if (t.nrows == 1)
		fprintf(stderr, "No pools.\n");
	else
		tbl_print(&t, stdout, "");
	tbl_free(&t);
	json_decref(out);
	return 0;
}

/* One line about a changed load balancer: "loadbalancer default/web created (198.18.0.100)". */
static void
say_done(const json_t *lb, const char *what)
{
	char key[160];
	struct sbuf ips = {0};

	lb_key(lb, key, sizeof(key));
	join_ips(lb, &ips);
	printf("loadbalancer %s %s (%s)\n", key, what, sb_str(&ips));
	free(ips.p);
}

/*
 * create / apply: every load balancer of the file in turn, each on its own; a
 * refusal does not stop the others (exit 1 at the end), an unreachable server does.
 */
static int
cmd_create_apply(struct ctl *c, const char *file, bool apply)
{
	json_t *j = read_json(file), *items, *lb, *answers;
	size_t i;
	int status = 0;

	if (j == NULL)
		return EXIT_API;
	items = file_items(j);
	json_decref(j);
	if (json_array_size(items) == 0) {
		fprintf(stderr, "edgelbctl: %s: no load balancer in it\n", file);
		json_decref(items);
		return EXIT_API;
	}
	answers = json_array();
	json_array_foreach(items, i, lb) {
		char path[256] = "/v1/loadbalancers", *body = compact(lb);
		const char *method = "POST", *what = "created";
		const char *nm = json_string_value(json_object_get(lb, "name"));
		json_t *nsj = json_object_get(lb, "namespace");
		const char *ns = json_is_string(nsj) ? json_string_value(nsj) : "default";
		struct answer a;
		int rc = 0;

		/* apply: PUT when it exists. A name the API would refuse goes by POST, so
		 * the API's message names the field. */
		if (apply && nm && dns_label(nm, strlen(nm)) && dns_label(ns, strlen(ns)) &&
		    (nsj == NULL || json_is_null(nsj) || json_is_string(nsj))) {
			char p2[256];
			snprintf(p2, sizeof(p2), "/v1/loadbalancers/%s/%s", ns, nm);
			rc = request(c, "GET", p2, NULL, &a);
			if (rc == 0 && a.status == 200) {
				snprintf(path, sizeof(path), "%s", p2);
				method = "PUT";
				what = "configured";
			} else if (rc == 0 && a.status != 404) {
				rc = report(c, &a);
			}
			answer_free(&a);
		}
		if (rc == 0) {
			json_t *out;
			rc = body ? api(c, method, path, body, &out) : EXIT_API;
			if (rc == 0) {
				if (c->json)
					json_array_append(answers, out);
				else
					say_done(out, what);
				json_decref(out);
			}
		}
		free(body);
		if (rc != 0)
			status = rc;
		if (rc == EXIT_UNREACHABLE)
			break;
	}
	if (c->json && json_array_size(answers) == 1)
		print_json(json_array_get(answers, 0));
	else if (c->json && json_array_size(answers) > 1) {
		json_t *all = json_pack("{s:O}", "items", answers);
		print_json(all);
		json_decref(all);
	}
	json_decref(answers);
	json_decref(items);
	return status;
}

static int
cmd_delete(struct ctl *c, char **names, int n)
{
	int status = 0;

	for (int i = 0; i < n; i++) {
		char ns[LABEL_MAX + 1], name[LABEL_MAX + 1], path[256];
		json_t *out, *v;
		size_t k;
		int rc = parse_name(names[i], ns, name);

		if (rc != 0)
			return rc;
		snprintf(path, sizeof(path), "/v1/loadbalancers/%s/%s", ns, name);
		rc = api(c, "DELETE", path, NULL, &out);
		if (rc == EXIT_UNREACHABLE)
			return rc;
		if (rc != 0) {
			status = rc;
			continue;
		}
		if (c->json) {
			print_json(out);
		} else {
			printf("loadbalancer %s deleted", jstr(out, "deleted"));
			json_array_foreach(json_object_get(out, "released"), k, v)
				printf("%s%s", k ? ", " : " (released ", json_string_value(v));
			printf("%s\n", json_array_size(json_object_get(out, "released")) ? ")" : "");
		}
		json_decref(out);
	}
	return status;
}

static int
cmd_set_backends(struct ctl *c, const char *arg, const char *file)
{
	char ns[LABEL_MAX + 1], name[LABEL_MAX + 1], path[256], *body;
	json_t *j, *out;
	int rc;

	if ((rc = parse_name(arg, ns, name)) != 0)
		return rc;
	if ((j = read_json(file)) == NULL)
		return EXIT_API;
	body = compact(j);
	json_decref(j);
	snprintf(path, sizeof(path), "/v1/loadbalancers/%s/%s/backends", ns, name);
	rc = body ? api(c, "PUT", path, body, &out) : EXIT_API;
	free(body);
	if (rc != 0)
		return rc;
	if (c->json)
		print_json(out);
	else
		print_lb_detail(out);
	json_decref(out);
	return 0;
}

static const char *
drop_help(const char *name)
{
	for (int i = 0; i < LB_DROP_MAX; i++)
		if (strcmp(lb_drop_names[i], name) == 0)
			return lb_drop_help[i];
	return "";
}

static int
cmd_stats(struct ctl *c)
{
	json_t *out, *g, *v, *b;
	const char *k;
	size_t i, j;
	struct table t;
	int rc = api(c, "GET", "/v1/stats", NULL, &out);

	if (rc != 0)
		return rc;
	if (c->json) {
		print_json(out);
		json_decref(out);
		return 0;
	}
	g = json_object_get(out, "global");
	printf("GLOBAL\n");
	tbl_init(&t, 2);
	json_object_foreach(g, k, v)
		if (json_is_integer(v)) {
			char n[32];
			snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
			tbl_row(&t, k, n);
		}
	tbl_print(&t, stdout, "  ");
	tbl_free(&t);

	printf("\nDROPS (non-zero)\n");
	tbl_init(&t, 3);
	json_object_foreach(json_object_get(g, "drops"), k, v)
		if (json_integer_value(v) != 0) {
			char n[32];
			snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
			tbl_row(&t, k, n, drop_help(k));
		}
	if (t.nrows == 0)
		printf("  none\n");
	tbl_print(&t, stdout, "  ");
	tbl_free(&t);

	if (json_array_size(json_object_get(out, "ports"))) {
		printf("\nPORTS\n");
		tbl_init(&t, 7);
		tbl_row(&t, "PORT", "RX PACKETS", "RX BYTES", "TX PACKETS", "TX BYTES", "NIC MISSED",
			"STEERING");
		json_array_foreach(json_object_get(out, "ports"), i, v) {
			char n[5][32];
			snprintf(n[0], 32, "%lld", jint(v, "rx_packets"));
			snprintf(n[1], 32, "%lld", jint(v, "rx_bytes"));
			snprintf(n[2], 32, "%lld", jint(v, "tx_packets"));
			snprintf(n[3], 32, "%lld", jint(v, "tx_bytes"));
			snprintf(n[4], 32, "%lld", jint(v, "nic_missed"));
			tbl_row(&t, jstr(v, "name"), n[0], n[1], n[2], n[3], n[4], jstr(v, "steering"));
		}
		tbl_print(&t, stdout, "  ");
		tbl_free(&t);
	}

	if (json_array_size(json_object_get(out, "workers"))) {
		printf("\nWORKERS\n");
		tbl_init(&t, 4);
		tbl_row(&t, "WORKER", "LCORE", "CONNECTIONS", "CAPACITY");
		json_array_foreach(json_object_get(out, "workers"), i, v) {
			char n[4][32];
			snprintf(n[0], 32, "%lld", jint(v, "worker"));
			snprintf(n[1], 32, "%lld", jint(v, "lcore"));
			snprintf(n[2], 32, "%lld", jint(v, "connections"));
			snprintf(n[3], 32, "%lld", jint(v, "conntrack_capacity"));
			tbl_row(&t, n[0], n[1], n[2], n[3]);
		}
		tbl_print(&t, stdout, "  ");
		tbl_free(&t);
	}

	printf("\nSERVICES\n");
	tbl_init(&t, 8);
	tbl_row(&t, "SERVICE", "ADDRESS", "MODE/STATE", "WEIGHT", "CONNS", "PACKETS", "BYTES",
		"TABLE DIGEST");
	json_array_foreach(json_object_get(out, "services"), i, v) {
		char hp[128], addr[160], n[3][32];
		hostport(jstr(v, "vip"), jint(v, "port"), hp, sizeof(hp));
		snprintf(addr, sizeof(addr), "%s %s", jstr(v, "protocol"), hp);
		for (char *p = addr; *p && *p != ' '; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		snprintf(n[0], 32, "%lld", jint(v, "active_connections"));
		snprintf(n[1], 32, "%lld", jint(v, "packets"));
		snprintf(n[2], 32, "%lld", jint(v, "bytes"));
		tbl_row(&t, jstr(v, "name"), addr, jstr(v, "mode"), "", n[0], n[1], n[2],
			jstr(v, "table_digest"));
		json_array_foreach(json_object_get(v, "backends"), j, b) {
			char w[32];
			hostport(jstr(b, "address"), jint(b, "port"), hp, sizeof(hp));
			snprintf(addr, sizeof(addr), "  -> %s", hp);
			snprintf(w, sizeof(w), "%lld", jint(b, "weight"));
			snprintf(n[0], 32, "%lld", jint(b, "active_connections"));
			snprintf(n[1], 32, "%lld", jint(b, "packets"));
			snprintf(n[2], 32, "%lld", jint(b, "bytes"));
			tbl_row(&t, "", addr, jstr(b, "state"), w, n[0], n[1], n[2], "");
		}
	}
	if (t.nrows == 1)
		printf("  none\n");
	else
		tbl_print(&t, stdout, "  ");
	tbl_free(&t);
	json_decref(out);
	return 0;
}

static int
cmd_conns(struct ctl *c, const char *lb, const char *limit)
{
	char path[512] = "/v1/conns", ns[LABEL_MAX + 1], name[LABEL_MAX + 1];
	struct table t;
	json_t *out, *v;
	size_t i;
	int rc;

	if (limit) {
		char *end;
		errno = 0;
		long n = strtol(limit, &end, 10);
		if (errno || *end || end == limit || n < 1 || n > LB_CTL_CONNS_LIMIT_MAX)
			return usage_error("--limit: must be an integer 1..%d", LB_CTL_CONNS_LIMIT_MAX);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "?limit=%ld", n);
	}
	if (lb) {
		char key[2 * LABEL_MAX + 2];
		if ((rc = parse_name(lb, ns, name)) != 0)
			return rc;
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		char *e = curl_easy_escape(c->curl, key, 0);
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%slb=%s",
			 limit ? "&" : "?", e ? e : key);
		curl_free(e);
	}
	if ((rc = api(c, "GET", path, NULL, &out)) != 0)
		return rc;
	if (c->json) {
		print_json(out);
		json_decref(out);
		return 0;
	}
	tbl_init(&t, 9);
	tbl_row(&t, "PROTO", "CLIENT", "VIP", "LOCAL", "BACKEND", "STATE", "EXPIRES", "SERVICE",
		"WORKER");
	json_array_foreach(json_object_get(out, LB_F_CONNECTIONS), i, v) {
		char cl[96], vip[96], loc[96], be[96], exp[32], w[16], proto[8];
		snprintf(proto, sizeof(proto), "%s", jstr(v, "protocol"));
		for (char *p = proto; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		hostport(jstr(v, "client"), jint(v, "client_port"), cl, sizeof(cl));
		if (jstr(v, "vip")[0])
			hostport(jstr(v, "vip"), jint(v, "vip_port"), vip, sizeof(vip));
		else
			snprintf(vip, sizeof(vip), "-");
		if (jstr(v, "local")[0])
			hostport(jstr(v, "local"), jint(v, "local_port"), loc, sizeof(loc));
		else
			snprintf(loc, sizeof(loc), "-");
		hostport(jstr(v, "backend"), jint(v, "backend_port"), be, sizeof(be));
		snprintf(exp, sizeof(exp), "%llds", (jint(v, "expires_in_ms") + 999) / 1000);
		snprintf(w, sizeof(w), "%lld", jint(v, "worker"));
		tbl_row(&t, proto, cl, vip, loc, be, jstr(v, "state"), exp,
			jstr(v, "service")[0] ? jstr(v, "service") : "-", w);
	}
	if (t.nrows == 1)
		fprintf(stderr, "No connections.\n");
	else
		tbl_print(&t, stdout, "");
	if (json_is_true(json_object_get(out, LB_F_TRUNCATED)))
		fprintf(stderr, "(only the first %s connections of the dp were read: more exist; "
				"raise --limit)\n", limit ? limit : "1000");
	tbl_free(&t);
	json_decref(out);
	return 0;
}

static int
cmd_version(struct ctl *c)
{
	json_t *out;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	int rc;

	if (!c->json)
		printf("edgelbctl %s (libcurl %s, jansson %s)\n", EDGELB_VERSION, cv->version,
		       JANSSON_VERSION);
	fflush(stdout);
	rc = api(c, "GET", "/healthz", NULL, &out);
	if (c->json) {
		json_t *v = json_pack("{s:{s:s}, s:s}", "client", "version", EDGELB_VERSION, "server",
				      c->server);
		if (rc == 0)
			json_object_set(v, "healthz", out);
		print_json(v);
		json_decref(v);
	} else if (rc == 0) {
		printf("edgelb-cp at %s: %s, dp %s\n", c->server, jstr(out, "status"),
		       jstr(out, "dp"));
	}
	json_decref(out);
	return rc;
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
		return usage_error("%s: takes no -f", cmd);
	if (file && !o->file)
		return usage_error("%s: needs -f FILE (\"-f -\" reads stdin)", cmd);
	if ((o->lb || o->limit) && !conns)
		return usage_error("%s: --lb and --limit are options of conns", cmd);
	if ((o->timeout || o->wait) && strcmp(cmd, "drain") != 0)
		return usage_error("%s: --timeout and --wait are options of drain", cmd);
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
		return usage_error("usage: get lb [NAME] | get pools");
	}
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "apply") == 0) {
		if ((rc = check_opts(cmd, o, true, false)) != 0)
			return rc;
		if (argc != 1)
			return usage_error("usage: %s -f FILE", cmd);
		return cmd_create_apply(c, o->file, strcmp(cmd, "apply") == 0);
	}
	if (strcmp(cmd, "delete") == 0) {
		if ((rc = check_opts(cmd, o, false, false)) != 0)
			return rc;
		if (argc < 3 || !is_lb_word(argv[1]))
			return usage_error("usage: delete lb NAME...");
		return cmd_delete(c, argv + 2, argc - 2);
	}
	if (strcmp(cmd, "set-backends") == 0) {
		if ((rc = check_opts(cmd, o, true, false)) != 0)
			return rc;
		if (argc != 2)
			return usage_error("usage: set-backends NAME -f FILE");
		return cmd_set_backends(c, argv[1], o->file);
	}
	if (strcmp(cmd, "stats") == 0 || strcmp(cmd, "conns") == 0 || strcmp(cmd, "version") == 0) {
		bool conns = strcmp(cmd, "conns") == 0;
		if ((rc = check_opts(cmd, o, false, conns)) != 0)
			return rc;
		if (argc != 1)
			return usage_error("%s: takes no arguments", cmd);
		if (conns)
			return cmd_conns(c, o->lb, o->limit);
		return strcmp(cmd, "stats") == 0 ? cmd_stats(c) : cmd_version(c);
	}
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0 || strcmp(cmd, "bgp") == 0) {
		if ((rc = check_opts(cmd, o, false, false)) != 0)
			return rc;
		if (argc != 1)
			return usage_error("%s: takes no arguments", cmd);
		if (strcmp(cmd, "bgp") == 0)
			return cmd_bgp(c);
		return cmd_drain(c, strcmp(cmd, "drain") == 0, o->timeout, o->wait);
	}
	return usage_error("unknown command '%s'", cmd);
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
				return usage_error("-o: must be json or table, not '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return usage_error("%s: needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
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
