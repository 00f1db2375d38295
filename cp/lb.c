/*
 * lb.c - the control plane's load balancer object (see lb.h): the REST body and
 * the state file as JSON, the IPAM port set, and the dp services it becomes.
 *
 * Called by the API (cp/api.c), the store (cp/store.c) and the Kubernetes
 * controller (cp/k8s*.c), under their own locks; nothing here keeps state between
 * calls and nothing does I/O. Pure C over jansson.
 *
 * Decoding is strict, house style of dp/svc_json.c: unknown fields are errors,
 * wrong types are errors, and every message names the field by its JSON path
 * ("ports[1].protocol: must be \"TCP\" or \"UDP\""). JSON null counts as absent
 * for optional fields, so clients may send what they read.
 *
 * The same JSON serves three readers:
 * - an API body: "ips" is the address request; "status", "alloc_pool",
 *   "requested_ips" and backends' "health" are output fields and ignored, so a
 *   client may PUT back what it GETs. One exception keeps a pending request alive
 *   across such a PUT: when "ips" is absent or empty, "requested_ips" (what the
 *   GET reported as asked for) is taken as the request.
 * - an API answer: "ips" is what is allocated, "requested_ips" what was asked
 *   for, "status" active or pending with its reason.
 * - the state file: as the answer, read back with "ips" as the allocation,
 *   "requested_ips" as the request, "alloc_pool" and "status.message".
 *
 * Kubernetes extensions (the controller fills them; the API accepts them too):
 * a port's "target_port" may be a port name (cp_port.target_name), resolved
 * through backends that carry their own port; a backend's "port_name" ties it to
 * the lb port of that name (an EndpointSlice port is named after its Service port).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "lb_json.h"
#include "lb_error.h"

#define HC_INTERVAL_MIN 100
#define HC_INTERVAL_MAX 3600000
#define HC_TIMEOUT_MIN 50
#define HC_TIMEOUT_MAX 60000
#define HC_COUNT_MAX 100
#define STATUS_MAX ((int)sizeof(((struct cp_lb *)0)->status))

/* Used when the caller gives no health check defaults (and by the state file). */
static const struct cp_health_check builtin_hc = {
	.type = CP_HC_NONE,
	.path = "/",
	.port = 0,
	.interval_ms = 5000,
	.timeout_ms = 2000,
	.rise = 2,
	.fall = 3,
};

static const char dns_label_msg[] = "must be a DNS label (a-z, 0-9, '-', at most 63)";

/* ------------------------------------------------------------------ basics */

void
cp_lb_init(struct cp_lb *lb, const struct cp_health_check *hc_defaults)
{
	memset(lb, 0, sizeof(*lb));
	snprintf(lb->ns, sizeof(lb->ns), "default");
	lb->families = LB_FAMILY_V4;
	lb->affinity = LB_AFFINITY_NONE;
	lb->affinity_timeout = LB_AFFINITY_TIMEOUT_DEFAULT;
	lb->mode = LB_MODE_FNAT;
	lb->hc = hc_defaults ? *hc_defaults : builtin_hc;
	lb->hc.path[sizeof(lb->hc.path) - 1] = '\0';
	if (lb->hc.path[0] != '/')
		snprintf(lb->hc.path, sizeof(lb->hc.path), "/");
}

void
cp_lb_free(struct cp_lb *lb)
{
	if (lb == NULL)
		return;
	free(lb->ports);
	free(lb->backends);
	free(lb->ranges);
	lb->ports = NULL;
	lb->backends = NULL;
	lb->ranges = NULL;
	lb->n_ports = lb->n_backends = lb->n_ranges = 0;
}

static void *
dup_array(const void *src, size_t n, size_t size, int *rc)
{
	void *p;

	if (n == 0 || src == NULL)
		return NULL;
	p = malloc(n * size);
	if (p == NULL)
		*rc = LB_ENOMEM;
	else
		memcpy(p, src, n * size);
	return p;
}

int
cp_lb_copy(struct cp_lb *dst, const struct cp_lb *src)
{
	int rc = 0;

	*dst = *src;
	dst->ports = dup_array(src->ports, src->n_ports, sizeof(*src->ports), &rc);
	dst->backends = dup_array(src->backends, src->n_backends, sizeof(*src->backends), &rc);
	dst->ranges = dup_array(src->ranges, src->n_ranges, sizeof(*src->ranges), &rc);
	if (rc < 0) {
		cp_lb_free(dst);
		return rc;
	}
	return 0;
}

const char *
cp_lb_key(const struct cp_lb *lb, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", lb->ns, lb->name);
	return buf;
}

bool
cp_name_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (c != '-' || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* --------------------------------------------------------------- decoding */

/* An optional string of at most size-1 bytes copied into dst. */
static int
get_strbuf(const json_t *o, const char *key, const char *where, char *dst, size_t size,
	   char *err, size_t errlen)
{
	const char *s = NULL;
	int rc = lb_json_str(o, key, where, false, &s, err, errlen);

	if (rc != 0)
		return rc;
	size_t n = strlen(s);

	if (n >= size)
		return lb_json_fail(err, errlen, "%s%s: at most %zu characters", where, key, size - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

static uint8_t
family_bit(uint8_t af)
{
	return af == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6;
}

/* An array of at most one address per family, IPv4 first in out. */
static int
decode_ips(const json_t *a, const char *field, struct lb_addr out[2], uint32_t *n, char *err,
	   size_t errlen)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (!json_is_array(a) || json_array_size(a) > 2)
		return lb_json_fail(err, errlen, "%s: must be an array of at most 2 addresses (one per family)",
			    field);
	json_array_foreach(a, i, v) {
		struct lb_addr ad;
		if (!json_is_string(v) || lb_addr_parse(json_string_value(v), &ad) < 0)
			return lb_json_fail(err, errlen, "%s[%zu]: must be an IPv4 or IPv6 address", field, i);
		if (*n == 1 && out[0].family == ad.family)
			return lb_json_fail(err, errlen, "%s[%zu]: a second IPv%u address (at most one per family)",
				    field, i, ad.family);
		out[(*n)++] = ad;
	}
	if (*n == 2 && out[0].family == LB_AF_INET6) {
		struct lb_addr t = out[0];
		out[0] = out[1];
		out[1] = t;
	}
	return 0;
}

static int
decode_families(const json_t *a, uint8_t *fam, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	*fam = 0;
	if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > 2)
		return lb_json_fail(err, errlen, "ip_families: must be [\"IPv4\"], [\"IPv6\"] or [\"IPv4\", \"IPv6\"]");
	json_array_foreach(a, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		uint8_t bit = strcmp(s, "IPv4") == 0 ? LB_FAMILY_V4 :
			      strcmp(s, "IPv6") == 0 ? LB_FAMILY_V6 : 0;
		if (bit == 0)
			return lb_json_fail(err, errlen, "ip_families[%zu]: must be \"IPv4\" or \"IPv6\"", i);
		if (*fam & bit)
			return lb_json_fail(err, errlen, "ip_families[%zu]: %s is listed twice", i, s);
		*fam |= bit;
	}
	return 0;
}

static const char *const port_keys[] = { "name", "port", "protocol", "target_port", NULL };

static int
decode_port(const json_t *p, size_t i, struct cp_port *out, char *err, size_t errlen)
{
	char where[32];
	const char *s = NULL;
	long long v = 0;
	json_t *t;
	int rc;

	snprintf(where, sizeof(where), "ports[%zu].", i);
	if (!json_is_object(p))
		return lb_json_fail(err, errlen, "ports[%zu]: must be an object", i);
	if ((rc = lb_json_known_keys(p, port_keys, where, err, errlen)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->proto = LB_PROTO_TCP;
	if ((rc = lb_json_str(p, "name", where, false, &s, err, errlen)) < 0)
		return rc;
	if (rc == 0 && s[0] != '\0') {
		if (!cp_name_valid(s))
			return lb_json_fail(err, errlen, "%sname: %s", where, dns_label_msg);
		snprintf(out->name, sizeof(out->name), "%s", s);
	}
	if ((rc = lb_json_int(p, "port", where, 1, 65535, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 1)
		return lb_json_fail(err, errlen, "%sport: missing", where);
	out->port = (uint16_t)v;
	if (lb_json_member(p, "protocol") != NULL) {
		t = lb_json_member(p, "protocol");
		if (!json_is_string(t) || lb_proto_parse(json_string_value(t), &out->proto) < 0)
			return lb_json_fail(err, errlen, "%sprotocol: must be \"TCP\" or \"UDP\"", where);
	}
	out->target_port = out->port;
	t = lb_json_member(p, "target_port");
	if (t != NULL) {
		bool name_ok = false;
		if (json_is_string(t) && cp_name_valid(json_string_value(t)))
			name_ok = strspn(json_string_value(t), "0123456789-") !=
				  strlen(json_string_value(t));
		if (name_ok) {
			out->target_port = 0;
			snprintf(out->target_name, sizeof(out->target_name), "%s",
				 json_string_value(t));
		} else if (json_is_integer(t) && json_integer_value(t) >= 1 &&
			   json_integer_value(t) <= 65535) {
			out->target_port = (uint16_t)json_integer_value(t);
		} else {
			return lb_json_fail(err, errlen, "%starget_port: must be an integer 1..65535 or a port name",
				    where);
		}
	}
	return 0;
}

static int
decode_ports(const json_t *a, struct cp_lb *lb, char *err, size_t errlen)
{
	size_t i;
	json_t *p;
	int rc;

	if (a == NULL)
		return lb_json_fail(err, errlen, "ports: missing");
	if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > CP_MAX_PORTS)
		return lb_json_fail(err, errlen, "ports: must be an array of 1..%d objects", CP_MAX_PORTS);
	lb->ports = calloc(json_array_size(a), sizeof(*lb->ports));
	if (lb->ports == NULL)
		return lb_json_fail(err, errlen, "ports: out of memory");
	json_array_foreach(a, i, p) {
		struct cp_port *q = &lb->ports[i];
		if ((rc = decode_port(p, i, q, err, errlen)) < 0)
			return rc;
		for (size_t k = 0; k < i; k++) {
			const struct cp_port *o = &lb->ports[k];
			if (o->port == q->port && o->proto == q->proto)
				return lb_json_fail(err, errlen, "ports[%zu]: %s/%u duplicates ports[%zu]", i,
					    q->proto == LB_PROTO_TCP ? "TCP" : "UDP", q->port, k);
			if (q->name[0] != '\0' && strcmp(o->name, q->name) == 0)
				return lb_json_fail(err, errlen, "ports[%zu].name: \"%s\" duplicates ports[%zu].name",
					    i, q->name, k);
		}
		lb->n_ports++;
	}
	return 0;
}

static const char *const backend_keys[] = {
	"address", "port", "weight", "state", "port_name", "health", NULL,
};

static int
decode_backend(const json_t *b, size_t i, struct cp_backend *out, char *err, size_t errlen)
{
	char where[32];
	const char *s = NULL;
	long long v = 0;
	json_t *t;
	int rc;

	snprintf(where, sizeof(where), "backends[%zu].", i);
	if (!json_is_object(b))
		return lb_json_fail(err, errlen, "backends[%zu]: must be an object", i);
	if ((rc = lb_json_known_keys(b, backend_keys, where, err, errlen)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->weight = 1;
	out->state = LB_BACKEND_ACTIVE;
	t = lb_json_member(b, "address");
	if (t == NULL)
		return lb_json_fail(err, errlen, "%saddress: missing", where);
	if (!json_is_string(t) || lb_addr_parse(json_string_value(t), &out->addr) < 0)
		return lb_json_fail(err, errlen, "%saddress: must be an IPv4 or IPv6 address", where);
	if ((rc = lb_json_int(b, "port", where, 0, 65535, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		out->port = (uint16_t)v;
	if ((rc = lb_json_int(b, "weight", where, 0, LB_WEIGHT_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		out->weight = (uint16_t)v;
	t = lb_json_member(b, "state");
	if (t != NULL && (!json_is_string(t) ||
			  lb_backend_state_parse(json_string_value(t), &out->state) < 0))
		return lb_json_fail(err, errlen, "%sstate: must be \"active\", \"draining\" or \"down\"", where);
	if ((rc = lb_json_str(b, "port_name", where, false, &s, err, errlen)) < 0)
		return rc;
	if (rc == 0 && s[0] != '\0') {
		if (!cp_name_valid(s))
			return lb_json_fail(err, errlen, "%sport_name: %s", where, dns_label_msg);
		snprintf(out->port_name, sizeof(out->port_name), "%s", s);
	}
	/* "health" is an output field: ignored. */
	return 0;
}

static int
by_backend(const void *a, const void *b)
{
	const struct cp_backend *x = *(const struct cp_backend *const *)a;
	const struct cp_backend *y = *(const struct cp_backend *const *)b;
	int c = lb_addr_cmp(&x->addr, &y->addr);

	if (c == 0)
		c = (int)x->port - (int)y->port;
	if (c == 0)
		c = strcmp(x->port_name, y->port_name);
	if (c == 0)
		c = x < y ? -1 : x > y; /* earlier index first: it is the one kept */
	return c;
}

/* (address, port, port_name) must be unique: sort pointers, compare neighbours. */
static int
dup_backends(const struct cp_backend *bs, uint32_t n, char *err, size_t errlen)
{
	const struct cp_backend **v;
	int rc = 0;

	if (n < 2)
		return 0;
	v = malloc(n * sizeof(*v));
	if (v == NULL)
		return lb_json_fail(err, errlen, "backends: out of memory");
	for (uint32_t i = 0; i < n; i++)
		v[i] = &bs[i];
	qsort(v, n, sizeof(*v), by_backend);
	for (uint32_t i = 1; i < n && rc == 0; i++)
		if (lb_addr_eq(&v[i - 1]->addr, &v[i]->addr) && v[i - 1]->port == v[i]->port &&
		    strcmp(v[i - 1]->port_name, v[i]->port_name) == 0)
			rc = lb_json_fail(err, errlen, "backends[%td]: same address and port as backends[%td]",
				  v[i] - bs, v[i - 1] - bs);
	free(v);
	return rc;
}

/* Decode an array of backends into *out (malloc'd), checked against families. */
static int
decode_backends(const json_t *a, uint8_t families, struct cp_backend **out, uint32_t *n,
		char *err, size_t errlen)
{
	char buf[LB_ADDR_STRLEN];
	size_t i;
	json_t *b;
	int rc;

	*out = NULL;
	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > CP_MAX_BACKENDS)
		return lb_json_fail(err, errlen, "backends: must be an array of at most %d objects",
			    CP_MAX_BACKENDS);
	if (json_array_size(a) == 0)
		return 0;
	*out = calloc(json_array_size(a), sizeof(**out));
	if (*out == NULL)
		return lb_json_fail(err, errlen, "backends: out of memory");
	json_array_foreach(a, i, b) {
		struct cp_backend *q = &(*out)[i];
		if ((rc = decode_backend(b, i, q, err, errlen)) < 0)
			return rc;
		*n += 1;
		if (!(families & family_bit(q->addr.family)))
			return lb_json_fail(err, errlen, "backends[%zu].address: %s is IPv%u but ip_families has no IPv%u",
				    i, lb_addr_format(&q->addr, buf, sizeof(buf)), q->addr.family,
				    q->addr.family);
	}
	return dup_backends(*out, *n, err, errlen);
}

static const char *const affinity_keys[] = { "type", "timeout_seconds", NULL };

static int
decode_affinity(const json_t *a, struct cp_lb *lb, char *err, size_t errlen)
{
	long long v = 0;
	json_t *t;
	int rc;

	if (!json_is_object(a))
		return lb_json_fail(err, errlen, "session_affinity: must be an object");
	if ((rc = lb_json_known_keys(a, affinity_keys, "session_affinity.", err, errlen)) < 0)
		return rc;
	t = lb_json_member(a, "type");
	if (t == NULL)
		return lb_json_fail(err, errlen, "session_affinity.type: missing");
	if (!json_is_string(t) || lb_affinity_parse(json_string_value(t), &lb->affinity) < 0)
		return lb_json_fail(err, errlen, "session_affinity.type: must be \"ClientIP\" or \"None\"");
	rc = lb_json_int(a, "timeout_seconds", "session_affinity.", 1, LB_AFFINITY_TIMEOUT_MAX, false, &v, err,
		     errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		lb->affinity_timeout = (uint32_t)v;
	return 0;
}

static int
decode_ranges(const json_t *a, struct cp_lb *lb, char *err, size_t errlen)
{
	size_t i;
	json_t *r;

	if (!json_is_array(a) || json_array_size(a) > LB_MAX_SOURCE_RANGES)
		return lb_json_fail(err, errlen, "source_ranges: must be an array of at most %d CIDRs",
			    LB_MAX_SOURCE_RANGES);
	if (json_array_size(a) == 0)
		return 0;
	lb->ranges = calloc(json_array_size(a), sizeof(*lb->ranges));
	if (lb->ranges == NULL)
		return lb_json_fail(err, errlen, "source_ranges: out of memory");
	json_array_foreach(a, i, r) {
		if (!json_is_string(r) ||
		    lb_prefix_parse(json_string_value(r), &lb->ranges[i], NULL, true) < 0)
			return lb_json_fail(err, errlen,
				    "source_ranges[%zu]: must be a CIDR with host bits zero, e.g. \"198.18.0.0/15\"",
				    i);
		lb->n_ranges++;
	}
	return 0;
}

static const char *const hc_keys[] = {
	"type", "path", "port", "interval_ms", "timeout_ms", "rise", "fall", NULL,
};

/* HTTP request path: it goes into a request line, so no spaces or controls. */
static bool
hc_path_valid(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '/' || n >= CP_HC_PATH_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int
decode_hc(const json_t *h, struct cp_health_check *hc, char *err, size_t errlen)
{
	static const char w[] = "health_check.";
	const char *path = NULL;
	long long v = 0;
	json_t *t;
	int rc;

	if (!json_is_object(h))
		return lb_json_fail(err, errlen, "health_check: must be an object");
	if ((rc = lb_json_known_keys(h, hc_keys, w, err, errlen)) < 0)
		return rc;
	t = lb_json_member(h, "type");
	if (t != NULL) {
		const char *s = json_is_string(t) ? json_string_value(t) : "";
		if (strcmp(s, "none") == 0)
			hc->type = CP_HC_NONE;
		else if (strcmp(s, "tcp") == 0)
			hc->type = CP_HC_TCP;
		else if (strcmp(s, "http") == 0)
			hc->type = CP_HC_HTTP;
		else
			return lb_json_fail(err, errlen, "health_check.type: must be \"none\", \"tcp\" or \"http\"");
	}
	if ((rc = lb_json_str(h, "path", w, false, &path, err, errlen)) < 0)
		return rc;
	if (path != NULL) {
		if (!hc_path_valid(path))
			return lb_json_fail(err, errlen,
				    "health_check.path: must start with '/', at most %d characters, no spaces",
				    CP_HC_PATH_MAX - 1);
		if (hc->type != CP_HC_HTTP)
			return lb_json_fail(err, errlen, "health_check.path: only for type \"http\"");
		snprintf(hc->path, sizeof(hc->path), "%s", path);
	}
	if ((rc = lb_json_int(h, "port", w, 0, 65535, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->port = (uint16_t)v;
	if ((rc = lb_json_int(h, "interval_ms", w, HC_INTERVAL_MIN, HC_INTERVAL_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->interval_ms = (uint32_t)v;
	if ((rc = lb_json_int(h, "timeout_ms", w, HC_TIMEOUT_MIN, HC_TIMEOUT_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->timeout_ms = (uint32_t)v;
	if ((rc = lb_json_int(h, "rise", w, 1, HC_COUNT_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->rise = (uint32_t)v;
	if ((rc = lb_json_int(h, "fall", w, 1, HC_COUNT_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->fall = (uint32_t)v;
	if (hc->timeout_ms >= hc->interval_ms)
		return lb_json_fail(err, errlen, "health_check.timeout_ms: must be less than interval_ms (%u)",
			    hc->interval_ms);
	return 0;
}

static const char *const status_keys[] = { "state", "message", NULL };

/* State file only: "status": {"state", "message"}. */
static int
decode_status(const json_t *s, struct cp_lb *lb, char *err, size_t errlen)
{
	const char *state = NULL;
	int rc;

	if (s == NULL)
		return 0;
	if (!json_is_object(s))
		return lb_json_fail(err, errlen, "status: must be an object");
	if ((rc = lb_json_known_keys(s, status_keys, "status.", err, errlen)) < 0)
		return rc;
	if ((rc = lb_json_str(s, "state", "status.", false, &state, err, errlen)) < 0)
		return rc;
	if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "pending") != 0)
		return lb_json_fail(err, errlen, "status.state: must be \"active\" or \"pending\"");
	if ((rc = get_strbuf(s, "message", "status.", lb->status, sizeof(lb->status), err,
			     errlen)) < 0)
		return rc;
	if (state != NULL && strcmp(state, "pending") == 0 && lb->status[0] == '\0')
		snprintf(lb->status, sizeof(lb->status), "pending");
	if (state != NULL && strcmp(state, "active") == 0 && lb->status[0] != '\0')
		return lb_json_fail(err, errlen, "status.message: must be empty when state is \"active\"");
	return 0;
}

static const char *const lb_keys[] = {
	"name", "namespace", "pool", "ips", "ip_families", "sharing_key", "ports", "backends",
	"session_affinity", "source_ranges", "mode", "health_check",
	/* output fields: read by the state file, ignored in API bodies */
	"status", "alloc_pool", "requested_ips", "uid", NULL,
};

static int
check_ips_families(const struct lb_addr *ips, uint32_t n, uint8_t families, const char *field,
		   char *err, size_t errlen)
{
	char buf[LB_ADDR_STRLEN];

	for (uint32_t i = 0; i < n; i++)
		if (!(families & family_bit(ips[i].family)))
			return lb_json_fail(err, errlen, "ip_families: has no IPv%u but %s has %s",
				    ips[i].family, field, lb_addr_format(&ips[i], buf, sizeof(buf)));
	return 0;
}

/* lb is initialised; on error the caller frees it. */
static int
decode(const json_t *j, struct cp_lb *lb, bool state, char *err, size_t errlen)
{
	const char *s = NULL;
	const char *req_field = "ips";
	json_t *a;
	int rc;

	if (!json_is_object(j))
		return lb_json_fail(err, errlen, "body: must be a JSON object");
	if ((rc = lb_json_known_keys(j, lb_keys, "", err, errlen)) < 0)
		return rc;

	a = json_object_get(j, "name");
	if (a == NULL)
		return lb_json_fail(err, errlen, "name: missing");
	if (!json_is_string(a) || !cp_name_valid(json_string_value(a)))
		return lb_json_fail(err, errlen, "name: %s", dns_label_msg);
	snprintf(lb->name, sizeof(lb->name), "%s", json_string_value(a));
	if ((rc = lb_json_str(j, "namespace", "", false, &s, err, errlen)) < 0)
		return rc;
	if (rc == 0 && !cp_name_valid(s))
		return lb_json_fail(err, errlen, "namespace: %s", dns_label_msg);
	if (rc == 0)
		snprintf(lb->ns, sizeof(lb->ns), "%s", s);

	if ((rc = get_strbuf(j, "pool", "", lb->pool, sizeof(lb->pool), err, errlen)) < 0)
		return rc;
	if ((rc = get_strbuf(j, "sharing_key", "", lb->sharing_key, sizeof(lb->sharing_key), err,
			     errlen)) < 0)
		return rc;

	/* the address request */
	a = lb_json_member(j, "ips");
	if (state || a == NULL || (json_is_array(a) && json_array_size(a) == 0)) {
		/* state file, or an API body echoing a GET whose request is pending */
		a = lb_json_member(j, "requested_ips");
		req_field = "requested_ips";
	}
	if (a != NULL && (rc = decode_ips(a, req_field, lb->req_ips, &lb->n_req_ips, err, errlen)) < 0)
		return rc;
	a = lb_json_member(j, "ip_families");
	if (a != NULL) {
		if ((rc = decode_families(a, &lb->families, err, errlen)) < 0)
			return rc;
		if ((rc = check_ips_families(lb->req_ips, lb->n_req_ips, lb->families, req_field, err,
					     errlen)) < 0)
			return rc;
	} else if (lb->n_req_ips > 0) {
		lb->families = 0;
		for (uint32_t i = 0; i < lb->n_req_ips; i++)
			lb->families |= family_bit(lb->req_ips[i].family);
	}

	if ((rc = decode_ports(lb_json_member(j, "ports"), lb, err, errlen)) < 0)
		return rc;
	if ((rc = decode_backends(lb_json_member(j, "backends"), lb->families, &lb->backends, &lb->n_backends,
				  err, errlen)) < 0)
		return rc;
	a = lb_json_member(j, "session_affinity");
	if (a != NULL && (rc = decode_affinity(a, lb, err, errlen)) < 0)
		return rc;
	a = lb_json_member(j, "source_ranges");
	if (a != NULL && (rc = decode_ranges(a, lb, err, errlen)) < 0)
		return rc;
	a = lb_json_member(j, "mode");
	if (a != NULL && (!json_is_string(a) || lb_mode_parse(json_string_value(a), &lb->mode) < 0))
		return lb_json_fail(err, errlen, "mode: must be \"fnat\" or \"dnat\"");
	a = lb_json_member(j, "health_check");
	if (a != NULL && (rc = decode_hc(a, &lb->hc, err, errlen)) < 0)
		return rc;

	if (!state)
		return 0; /* status fields of an API body are not taken as status */
	a = lb_json_member(j, "ips");
	if (a != NULL) {
		if ((rc = decode_ips(a, "ips", lb->ips, &lb->n_ips, err, errlen)) < 0)
			return rc;
		if ((rc = check_ips_families(lb->ips, lb->n_ips, lb->families, "ips", err, errlen)) < 0)
			return rc;
	}
	if ((rc = get_strbuf(j, "alloc_pool", "", lb->alloc_pool, sizeof(lb->alloc_pool), err,
			     errlen)) < 0 ||
	    (rc = get_strbuf(j, "uid", "", lb->uid, sizeof(lb->uid), err, errlen)) < 0)
		return rc;
	return decode_status(lb_json_member(j, "status"), lb, err, errlen);
}

int
cp_lb_from_json(const json_t *j, struct cp_lb *lb, const struct cp_health_check *hc_defaults,
		char *err, size_t errlen)
{
	int rc;

	cp_lb_init(lb, hc_defaults);
	if (j == NULL)
		rc = lb_json_fail(err, errlen, "body: must be a JSON object");
	else
		rc = decode(j, lb, false, err, errlen);
	if (rc < 0)
		cp_lb_free(lb);
	return rc < 0 ? LB_EINVAL : 0;
}

int
cp_lb_from_state_json(const json_t *j, struct cp_lb *lb, char *err, size_t errlen)
{
	int rc;

	cp_lb_init(lb, NULL);
	if (j == NULL)
		rc = lb_json_fail(err, errlen, "body: must be a JSON object");
	else
		rc = decode(j, lb, true, err, errlen);
	if (rc < 0)
		cp_lb_free(lb);
	return rc < 0 ? LB_EINVAL : 0;
}

static const char *const backends_body_keys[] = { "backends", NULL };

int
cp_lb_backends_from_json(const json_t *j, struct cp_lb *lb, char *err, size_t errlen)
{
	struct cp_backend *bs = NULL;
	uint32_t n = 0;
	int rc;

	if (j == NULL || lb == NULL)
		return lb_json_fail(err, errlen, "body: must be an array of backends or {\"backends\": [...]}");
	if (json_is_object(j)) {
		if ((rc = lb_json_known_keys(j, backends_body_keys, "", err, errlen)) < 0)
			return rc;
		j = json_object_get(j, "backends");
		if (j == NULL)
			return lb_json_fail(err, errlen, "backends: missing");
	} else if (!json_is_array(j)) {
		return lb_json_fail(err, errlen, "body: must be an array of backends or {\"backends\": [...]}");
	}
	rc = decode_backends(j, lb->families, &bs, &n, err, errlen);
	if (rc < 0) {
		free(bs);
		return LB_EINVAL;
	}
	free(lb->backends);
	lb->backends = bs;
	lb->n_backends = n;
	return 0;
}

/* --------------------------------------------------------------- encoding */

static json_t *
ips_json(const struct lb_addr *ips, uint32_t n)
{
	char buf[LB_ADDR_STRLEN];
	json_t *a = json_array();
	int rc = a == NULL;

	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc |= json_array_append_new(a, json_string(lb_addr_format(&ips[i], buf, sizeof(buf))));
	if (rc != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/*
 * A string the control plane may have cut short (status messages are snprintf'd
 * into 256 bytes, possibly inside a UTF-8 sequence): jansson refuses invalid
 * UTF-8, so fall back to a copy with every non-ASCII byte as '?' rather than
 * fail the whole answer.
 */
static json_t *
jstr(const char *s)
{
	json_t *v = json_string(s);
	char *c;

	if (v != NULL || (c = strdup(s)) == NULL)
		return v;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(c);
	free(c);
	return v;
}

static const char *
hc_type_name(uint8_t t)
{
	return t == CP_HC_TCP ? "tcp" : t == CP_HC_HTTP ? "http" : "none";
}

static const char *
health_name(uint8_t h)
{
	return h == 1 ? "up" : h == 2 ? "down" : "unknown";
}

static json_t *
port_json(const struct cp_port *p)
{
	json_t *o = json_pack("{s:i, s:s}", "port", p->port, "protocol",
			      p->proto == LB_PROTO_UDP ? "UDP" : "TCP");
	int rc = o == NULL;

	if (rc == 0 && p->name[0] != '\0')
		rc |= json_object_set_new(o, "name", json_string(p->name));
	if (rc == 0)
		rc |= json_object_set_new(o, "target_port",
					  p->target_name[0] != '\0' && p->target_port == 0 ?
					  json_string(p->target_name) : json_integer(p->target_port));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
backend_json(const struct cp_backend *b, const uint8_t *health)
{
	char buf[LB_ADDR_STRLEN];
	json_t *o = json_pack("{s:s, s:i, s:i, s:s}", "address",
			      lb_addr_format(&b->addr, buf, sizeof(buf)), "port", b->port, "weight",
			      b->weight, "state", lb_backend_state_name(b->state));
	int rc = o == NULL;

	if (rc == 0 && b->port_name[0] != '\0')
		rc |= json_object_set_new(o, "port_name", json_string(b->port_name));
	if (rc == 0 && health != NULL)
		rc |= json_object_set_new(o, "health", json_string(health_name(*health)));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
hc_json(const struct cp_health_check *hc)
{
	json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "type", hc_type_name(hc->type),
			      "port", hc->port, "interval_ms", (json_int_t)hc->interval_ms,
			      "timeout_ms", (json_int_t)hc->timeout_ms, "rise", (json_int_t)hc->rise,
			      "fall", (json_int_t)hc->fall);

	/* "path" only with http: a body that names it for another type is refused */
	if (o != NULL && hc->type == CP_HC_HTTP &&
	    json_object_set_new(o, "path", json_string(hc->path)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
cp_lb_to_json(const struct cp_lb *lb, const uint8_t *health)
{
	char buf[LB_ADDR_STRLEN + 8];
	json_t *o = json_object(), *fam = json_array(), *ports = json_array();
	json_t *bs = json_array(), *rs = json_array();
	int rc = 0;

	if (o == NULL || fam == NULL || ports == NULL || bs == NULL || rs == NULL) {
		json_decref(o);
		json_decref(fam);
		json_decref(ports);
		json_decref(bs);
		json_decref(rs);
		return NULL;
	}
	/*
	 * Every set/append is checked (svc_json.c): a lost field would read back as its
	 * default. The *_new calls take the value's reference even when they fail.
	 */
	rc |= json_object_set_new(o, "name", json_string(lb->name));
	rc |= json_object_set_new(o, "namespace", json_string(lb->ns));
	rc |= json_object_set_new(o, "pool", jstr(lb->pool));
	if (lb->families & LB_FAMILY_V4)
		rc |= json_array_append_new(fam, json_string("IPv4"));
	if (lb->families & LB_FAMILY_V6)
		rc |= json_array_append_new(fam, json_string("IPv6"));
	rc |= json_object_set_new(o, "ip_families", fam);
	rc |= json_object_set_new(o, "ips", ips_json(lb->ips, lb->n_ips));
	rc |= json_object_set_new(o, "requested_ips", ips_json(lb->req_ips, lb->n_req_ips));
	rc |= json_object_set_new(o, "sharing_key", jstr(lb->sharing_key));
	for (uint32_t i = 0; i < lb->n_ports; i++)
		rc |= json_array_append_new(ports, port_json(&lb->ports[i]));
	rc |= json_object_set_new(o, "ports", ports);
	for (uint32_t i = 0; i < lb->n_backends; i++)
		rc |= json_array_append_new(bs, backend_json(&lb->backends[i],
							     health ? &health[i] : NULL));
	rc |= json_object_set_new(o, "backends", bs);
	rc |= json_object_set_new(o, "session_affinity",
				  json_pack("{s:s, s:I}", "type", lb_affinity_name(lb->affinity),
					    "timeout_seconds", (json_int_t)lb->affinity_timeout));
	for (uint32_t i = 0; i < lb->n_ranges; i++)
		rc |= json_array_append_new(rs, json_string(lb_prefix_format(&lb->ranges[i], buf,
									      sizeof(buf))));
	rc |= json_object_set_new(o, "source_ranges", rs);
	rc |= json_object_set_new(o, "mode", json_string(lb_mode_name(lb->mode)));
	rc |= json_object_set_new(o, "health_check", hc_json(&lb->hc));
	rc |= json_object_set_new(o, "alloc_pool", jstr(lb->alloc_pool));
	if (lb->uid[0])
		rc |= json_object_set_new(o, "uid", json_string(lb->uid));
	rc |= json_object_set_new(o, "status",
				  json_pack("{s:s, s:o}", "state",
					    lb->status[0] == '\0' ? "active" : "pending", "message",
					    jstr(lb->status)));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------- consumers */

int
cp_lb_ipam_ports(const struct cp_lb *lb, struct lb_ipam_port **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	if (lb->n_ports == 0)
		return 0;
	*out = calloc(lb->n_ports, sizeof(**out));
	if (*out == NULL)
		return LB_ENOMEM;
	/* decoding refused duplicate (protocol, port), but a built lb may carry them */
	for (uint32_t i = 0; i < lb->n_ports; i++) {
		bool dup = false;
		for (uint32_t k = 0; k < *n && !dup; k++)
			dup = (*out)[k].proto == lb->ports[i].proto &&
			      (*out)[k].port == lb->ports[i].port;
		if (!dup) {
			(*out)[*n].proto = lb->ports[i].proto;
			(*out)[*n].port = lb->ports[i].port;
			*n += 1;
		}
	}
	return 0;
}

/*
 * "ns/name:port". The longest is 63+1+63+1+63 characters, more than a dp name
 * holds: such a name keeps its first characters and ends in "~" and a hash of the
 * whole, so it stays stable and distinct (the dp keys services by VIP, port and
 * protocol; the name is for people and logs).
 */
static void
spec_name(const struct cp_lb *lb, const struct cp_port *p, char *out)
{
	char full[3 * CP_NAME_MAX + 8];
	uint32_t h = 2166136261u;
	int n;

	if (p->name[0] != '\0')
		n = snprintf(full, sizeof(full), "%s/%s:%s", lb->ns, lb->name, p->name);
	else
		n = snprintf(full, sizeof(full), "%s/%s:%u", lb->ns, lb->name, p->port);
	if (n >= 0 && n < LB_NAME_MAX) {
		memcpy(out, full, (size_t)n + 1);
		return;
	}
	for (const char *c = full; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(out, LB_NAME_MAX, "%.*s~%08x", LB_NAME_MAX - 1 - 9, full, h);
}

struct cand {
	struct lb_backend_spec b;
	uint32_t idx; /* in lb->backends: of two that resolve alike, the first wins */
};

static int
by_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = lb_addr_cmp(&x->b.addr, &y->b.addr);

	if (c == 0)
		c = (int)x->b.port - (int)y->b.port;
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/*
 * Fill s->backends for (VIP family, port p), sorted by (address, port) as the dp
 * keeps them. Backends of the other family, or whose port stays 0 (a named
 * target port no backend resolved), are left out; two that resolve to one
 * (address, port), e.g. port 0 and an explicit port equal to target_port, become
 * one, the first listed.
 */
static int
spec_backends(const struct cp_lb *lb, const uint8_t *health, const struct cp_port *p,
	      struct lb_svc_spec *s)
{
	struct cand *c;
	uint32_t n = 0;

	if (lb->n_backends == 0)
		return 0;
	c = malloc(lb->n_backends * sizeof(*c));
	s->backends = calloc(lb->n_backends, sizeof(*s->backends));
	if (c == NULL || s->backends == NULL) {
		free(c);
		return LB_ENOMEM;
	}
	for (uint32_t i = 0; i < lb->n_backends; i++) {
		const struct cp_backend *b = &lb->backends[i];
		uint16_t port = b->port ? b->port : p->target_port;

		if (b->addr.family != s->vip.family || port == 0)
			continue;
		if (b->port_name[0] != '\0' && strcmp(b->port_name, p->name) != 0)
			continue;
		c[n].idx = i;
		c[n].b.addr = b->addr;
		c[n].b.port = port;
		c[n].b.weight = b->weight;
		c[n].b.state = health != NULL && health[i] == 2 ? LB_BACKEND_DOWN : b->state;
		if (c[n].b.state > LB_BACKEND_DOWN)
			c[n].b.state = LB_BACKEND_DOWN;
		n++;
	}
	qsort(c, n, sizeof(*c), by_cand);
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0 && c[i].b.port == c[i - 1].b.port && lb_addr_eq(&c[i].b.addr, &c[i - 1].b.addr))
			continue;
		s->backends[s->n_backends++] = c[i].b;
	}
	free(c);
	return 0;
}

int
cp_lb_dp_specs(const struct cp_lb *lb, const uint8_t *health, struct lb_svc_spec **out,
	       uint32_t *n)
{
	struct lb_svc_spec *v;
	uint32_t cnt = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (lb->n_ips == 0 || lb->n_ports == 0)
		return 0;
	v = calloc((size_t)lb->n_ips * lb->n_ports, sizeof(*v));
	if (v == NULL)
		return LB_ENOMEM;
	for (uint32_t a = 0; a < lb->n_ips && rc == 0; a++) {
		for (uint32_t i = 0; i < lb->n_ports && rc == 0; i++) {
			const struct cp_port *p = &lb->ports[i];
			struct lb_svc_spec *s = &v[cnt++];

			lb_svc_spec_init(s);
			spec_name(lb, p, s->name);
			s->vip = lb->ips[a];
			s->port = p->port;
			s->proto = p->proto;
			s->mode = lb->mode;
			s->maglev_m = LB_MAGLEV_M_DEFAULT;
			s->affinity = lb->affinity;
			s->affinity_timeout = lb->affinity_timeout;
			/* a built lb (Kubernetes, affinity None) may leave it 0 */
			if (s->affinity_timeout < 1 || s->affinity_timeout > LB_AFFINITY_TIMEOUT_MAX)
				s->affinity_timeout = LB_AFFINITY_TIMEOUT_DEFAULT;
			if (lb->n_ranges > 0) {
				s->source_ranges = malloc(lb->n_ranges * sizeof(*s->source_ranges));
				if (s->source_ranges == NULL) {
					rc = LB_ENOMEM;
					break;
				}
				memcpy(s->source_ranges, lb->ranges, lb->n_ranges * sizeof(*lb->ranges));
				s->n_source_ranges = lb->n_ranges;
			}
			rc = spec_backends(lb, health, p, s);
		}
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < cnt; i++)
			lb_svc_spec_free(&v[i]);
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}
