/*
 * cmd.c - edgelbctl's commands (see cmd.h), and the names and files they take.
 *
 * Called by main.c on edgelbctl's one thread, one command per process; apply
 * makes two requests per load balancer (a GET to learn whether it exists, then
 * PUT or POST), the others one each.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cmd.h"
#include "http.h"
#include "lb_counters.h"
#include "lb_ctl_proto.h"
#include "out.h"
#include "show.h"

#define MAX_FILE (4u << 20)   /* the API's own body limit */

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
			return ctl_usage_error("'%s': the namespace must be a DNS label (a-z, 0-9, '-', at most 63)",
					   arg);
		memcpy(ns, arg, (size_t)(slash - arg));
		ns[slash - arg] = '\0';
	}
	if (!dns_label(n, strlen(n)))
		return ctl_usage_error("'%s': the name must be a DNS label (a-z, 0-9, '-', at most 63)",
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
		out_put(&b, chunk, n);
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
	json_t *j = json_loadb(out_str(&b), b.len, JSON_REJECT_DUPLICATES, &je);
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

/* ---- commands ------------------------------------------------------------- */

/* With -o json: print the API's answer as is, drop it and say so. */
static bool
printed_json(const struct ctl *c, json_t *out)
{
	if (!c->json)
		return false;
	out_json(out);
	json_decref(out);
	return true;
}

int
cmd_get_lbs(struct ctl *c)
{
	json_t *out;
	int rc = http_call(c, "GET", "/v1/loadbalancers", NULL, &out);

	if (rc != 0)
		return rc;
	if (c->json)
		out_json(out);
	else if (json_array_size(json_object_get(out, "items")) == 0)
		fprintf(stderr, "No load balancers.\n");
	else
		show_lb_table(json_object_get(out, "items"));
	json_decref(out);
	return 0;
}

int
cmd_get_lb(struct ctl *c, const char *arg)
{
	char ns[LABEL_MAX + 1], name[LABEL_MAX + 1], path[256];
	json_t *out;
	int rc;

	if ((rc = parse_name(arg, ns, name)) != 0)
		return rc;
	snprintf(path, sizeof(path), "/v1/loadbalancers/%s/%s", ns, name);
	if ((rc = http_call(c, "GET", path, NULL, &out)) != 0)
		return rc;
	if (c->json)
		out_json(out);
	else
		show_lb_detail(out);
	json_decref(out);
	return 0;
}

static void
pool_cell(const json_t *u, char *buf, size_t len)
{
	long long size = out_jint(u, "size");

	if (size == 0)
		snprintf(buf, len, "-");
	else if (size == INT64_MAX)
		snprintf(buf, len, "%lld/2^63+", out_jint(u, "used"));
	else
		snprintf(buf, len, "%lld/%lld", out_jint(u, "used"), size);
}

int
cmd_get_pools(struct ctl *c)
{
	struct table t;
	json_t *out, *p;
	size_t i;
	int rc = http_call(c, "GET", "/v1/pools", NULL, &out);

	if (rc != 0)
		return rc;
	if (printed_json(c, out))
		return 0;
	out_tbl_init(&t, 3);
	out_tbl_row(&t, "POOL", "IPV4 USED/SIZE", "IPV6 USED/SIZE");
	json_array_foreach(json_object_get(out, "items"), i, p) {
		char v4[64], v6[64];
		pool_cell(json_object_get(p, "ipv4"), v4, sizeof(v4));
		pool_cell(json_object_get(p, "ipv6"), v6, sizeof(v6));
		out_tbl_row(&t, out_jstr(p, "name"), v4, v6);
	}
	out_tbl_rows(&t, "", stderr, "No pools.\n");
	out_tbl_free(&t);
	json_decref(out);
	return 0;
}

/*
 * create / apply: every load balancer of the file in turn, each on its own; a
 * refusal does not stop the others (exit 1 at the end), an unreachable server does.
 */
int
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
		struct http_answer a;
		int rc = 0;

		/* apply: PUT when it exists. A name the API would refuse goes by POST, so
		 * the API's message names the field. */
		if (apply && nm && dns_label(nm, strlen(nm)) && dns_label(ns, strlen(ns)) &&
		    (nsj == NULL || json_is_null(nsj) || json_is_string(nsj))) {
			char p2[256];
			snprintf(p2, sizeof(p2), "/v1/loadbalancers/%s/%s", ns, nm);
			rc = http_request(c, "GET", p2, NULL, &a);
			if (rc == 0 && a.status == 200) {
				snprintf(path, sizeof(path), "%s", p2);
				method = "PUT";
				what = "configured";
			} else if (rc == 0 && a.status != 404) {
				rc = http_report(c, &a);
			}
			http_answer_free(&a);
		}
		if (rc == 0) {
			json_t *out;
			rc = body ? http_call(c, method, path, body, &out) : EXIT_API;
			if (rc == 0) {
				if (c->json)
					json_array_append(answers, out);
				else
					show_lb_done(out, what);
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
		out_json(json_array_get(answers, 0));
	else if (c->json && json_array_size(answers) > 1) {
		json_t *all = json_pack("{s:O}", "items", answers);
		out_json(all);
		json_decref(all);
	}
	json_decref(answers);
	json_decref(items);
	return status;
}

int
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
		rc = http_call(c, "DELETE", path, NULL, &out);
		if (rc == EXIT_UNREACHABLE)
			return rc;
		if (rc != 0) {
			status = rc;
			continue;
		}
		if (c->json) {
			out_json(out);
		} else {
			printf("loadbalancer %s deleted", out_jstr(out, "deleted"));
			json_array_foreach(json_object_get(out, "released"), k, v)
				printf("%s%s", k ? ", " : " (released ", json_string_value(v));
			printf("%s\n", json_array_size(json_object_get(out, "released")) ? ")" : "");
		}
		json_decref(out);
	}
	return status;
}

int
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
	rc = body ? http_call(c, "PUT", path, body, &out) : EXIT_API;
	free(body);
	if (rc != 0)
		return rc;
	if (c->json)
		out_json(out);
	else
		show_lb_detail(out);
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

int
cmd_stats(struct ctl *c)
{
	json_t *out, *g, *v, *b;
	const char *k;
	size_t i, j;
	struct table t;
	int rc = http_call(c, "GET", "/v1/stats", NULL, &out);

	if (rc != 0)
		return rc;
	if (printed_json(c, out))
		return 0;
	g = json_object_get(out, "global");
	printf("GLOBAL\n");
	out_tbl_init(&t, 2);
	json_object_foreach(g, k, v)
		if (json_is_integer(v)) {
			char n[32];
			snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
			out_tbl_row(&t, k, n);
		}
	out_tbl_print(&t, stdout, "  ");
	out_tbl_free(&t);

	printf("\nDROPS (non-zero)\n");
	out_tbl_init(&t, 3);
	json_object_foreach(json_object_get(g, "drops"), k, v)
		if (json_integer_value(v) != 0) {
			char n[32];
			snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
			out_tbl_row(&t, k, n, drop_help(k));
		}
	if (t.nrows == 0)
		printf("  none\n");
	out_tbl_print(&t, stdout, "  ");
	out_tbl_free(&t);

	if (json_array_size(json_object_get(out, "ports"))) {
		printf("\nPORTS\n");
		out_tbl_init(&t, 7);
		out_tbl_row(&t, "PORT", "RX PACKETS", "RX BYTES", "TX PACKETS", "TX BYTES", "NIC MISSED",
			"STEERING");
		json_array_foreach(json_object_get(out, "ports"), i, v) {
			char n[5][32];
			snprintf(n[0], 32, "%lld", out_jint(v, "rx_packets"));
			snprintf(n[1], 32, "%lld", out_jint(v, "rx_bytes"));
			snprintf(n[2], 32, "%lld", out_jint(v, "tx_packets"));
			snprintf(n[3], 32, "%lld", out_jint(v, "tx_bytes"));
			snprintf(n[4], 32, "%lld", out_jint(v, "nic_missed"));
			out_tbl_row(&t, out_jstr(v, "name"), n[0], n[1], n[2], n[3], n[4], out_jstr(v, "steering"));
		}
		out_tbl_print(&t, stdout, "  ");
		out_tbl_free(&t);
	}

	if (json_array_size(json_object_get(out, "workers"))) {
		printf("\nWORKERS\n");
		out_tbl_init(&t, 4);
		out_tbl_row(&t, "WORKER", "LCORE", "CONNECTIONS", "CAPACITY");
		json_array_foreach(json_object_get(out, "workers"), i, v) {
			char n[4][32];
			snprintf(n[0], 32, "%lld", out_jint(v, "worker"));
			snprintf(n[1], 32, "%lld", out_jint(v, "lcore"));
			snprintf(n[2], 32, "%lld", out_jint(v, "connections"));
			snprintf(n[3], 32, "%lld", out_jint(v, "conntrack_capacity"));
			out_tbl_row(&t, n[0], n[1], n[2], n[3]);
		}
		out_tbl_print(&t, stdout, "  ");
		out_tbl_free(&t);
	}

	printf("\nSERVICES\n");
	out_tbl_init(&t, 8);
	out_tbl_row(&t, "SERVICE", "ADDRESS", "MODE/STATE", "WEIGHT", "CONNS", "PACKETS", "BYTES",
		    "TABLE DIGEST");
	json_array_foreach(json_object_get(out, "services"), i, v) {
		char hp[128], addr[160], n[3][32];
		out_hostport(out_jstr(v, "vip"), out_jint(v, "port"), hp, sizeof(hp));
		snprintf(addr, sizeof(addr), "%s %s", out_jstr(v, "protocol"), hp);
		for (char *p = addr; *p && *p != ' '; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		snprintf(n[0], 32, "%lld", out_jint(v, "active_connections"));
		snprintf(n[1], 32, "%lld", out_jint(v, "packets"));
		snprintf(n[2], 32, "%lld", out_jint(v, "bytes"));
		char ms[48];
		snprintf(ms, sizeof(ms), "%s/%s", out_jstr(v, "mode"),
			 out_jstr(v, "scheduler")[0] ? out_jstr(v, "scheduler") : "maglev");
		out_tbl_row(&t, out_jstr(v, "name"), addr, ms, "", n[0], n[1], n[2],
			    out_jstr(v, "table_digest"));
		json_array_foreach(json_object_get(v, "backends"), j, b) {
			char w[32];
			out_hostport(out_jstr(b, "address"), out_jint(b, "port"), hp, sizeof(hp));
			snprintf(addr, sizeof(addr), "  -> %s", hp);
			snprintf(w, sizeof(w), "%lld", out_jint(b, "weight"));
			snprintf(n[0], 32, "%lld", out_jint(b, "active_connections"));
			snprintf(n[1], 32, "%lld", out_jint(b, "packets"));
			snprintf(n[2], 32, "%lld", out_jint(b, "bytes"));
			out_tbl_row(&t, "", addr, out_jstr(b, "state"), w, n[0], n[1], n[2], "");
		}
	}
	out_tbl_rows(&t, "  ", stdout, "  none\n");
	out_tbl_free(&t);
	json_decref(out);
	return 0;
}

int
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
			return ctl_usage_error("--limit: must be an integer 1..%d", LB_CTL_CONNS_LIMIT_MAX);
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
	if ((rc = http_call(c, "GET", path, NULL, &out)) != 0)
		return rc;
	if (printed_json(c, out))
		return 0;
	out_tbl_init(&t, 9);
	out_tbl_row(&t, "PROTO", "CLIENT", "VIP", "LOCAL", "BACKEND", "STATE", "EXPIRES", "SERVICE",
		"WORKER");
	json_array_foreach(json_object_get(out, LB_F_CONNECTIONS), i, v) {
		char cl[96], vip[96], loc[96], be[96], exp[32], w[16], proto[8];
		snprintf(proto, sizeof(proto), "%s", out_jstr(v, "protocol"));
		for (char *p = proto; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		out_hostport(out_jstr(v, "client"), out_jint(v, "client_port"), cl, sizeof(cl));
		if (out_jstr(v, "vip")[0])
			out_hostport(out_jstr(v, "vip"), out_jint(v, "vip_port"), vip, sizeof(vip));
		else
			snprintf(vip, sizeof(vip), "-");
		if (out_jstr(v, "local")[0])
			out_hostport(out_jstr(v, "local"), out_jint(v, "local_port"), loc, sizeof(loc));
		else
			snprintf(loc, sizeof(loc), "-");
		out_hostport(out_jstr(v, "backend"), out_jint(v, "backend_port"), be, sizeof(be));
		snprintf(exp, sizeof(exp), "%llds", (out_jint(v, "expires_in_ms") + 999) / 1000);
		snprintf(w, sizeof(w), "%lld", out_jint(v, "worker"));
		out_tbl_row(&t, proto, cl, vip, loc, be, out_jstr(v, "state"), exp,
			out_jstr(v, "service")[0] ? out_jstr(v, "service") : "-", w);
	}
	out_tbl_rows(&t, "", stderr, "No connections.\n");
	if (json_is_true(json_object_get(out, LB_F_TRUNCATED)))
		fprintf(stderr, "(only the first %s connections of the dp were read: more exist; "
				"raise --limit)\n", limit ? limit : "1000");
	out_tbl_free(&t);
	json_decref(out);
	return 0;
}

int
cmd_version(struct ctl *c)
{
	json_t *out;
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	int rc;

	if (!c->json)
		printf("edgelbctl %s (libcurl %s, jansson %s)\n", EDGELB_VERSION, cv->version,
		       JANSSON_VERSION);
	fflush(stdout);
	rc = http_call(c, "GET", "/healthz", NULL, &out);
	if (c->json) {
		json_t *v = json_pack("{s:{s:s}, s:s}", "client", "version", EDGELB_VERSION, "server",
				      c->server);
		if (rc == 0)
			json_object_set(v, "healthz", out);
		out_json(v);
		json_decref(v);
	} else if (rc == 0) {
		printf("edgelb-cp at %s: %s, dp %s\n", c->server, out_jstr(out, "status"),
		       out_jstr(out, "dp"));
	}
	json_decref(out);
	return rc;
}
