/*
 * lb_decode.c - the control plane's load balancer object from JSON (see lb.h):
 * REST API bodies, backend lists and state-file entries.
 *
 * Called by the API (cp/api), the store (cp/store) and the Kubernetes controller
 * (cp/kube), under their own locks; keeps no state and does no I/O. Pure C over
 * jansson. Names (protocol, mode, scheduler, state, affinity, health-check types) go
 * through the contract's name tables (include/lb_model.h): any case is read.
 *
 * Decoding is strict, house style of dp/lib/svc_json.c: unknown fields are errors,
 * wrong types are errors, and every message names the field by its JSON path
 * ("ports[1].protocol: must be \"TCP\" or \"UDP\""). JSON null counts as absent
 * for optional fields, so clients may send what they read. What each reader of
 * the JSON takes from it: lb.c's opening comment.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "lb_error.h"
#include "lb_json.h"

static const char dns_label_msg[] = "must be a DNS label (a-z, 0-9, '-', at most 63)";

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
		if (!cp_lb_name_valid(s))
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
		if (json_is_string(t) && cp_lb_name_valid(json_string_value(t)))
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
		if (!cp_lb_name_valid(s))
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
		unsigned v;

		if (lb_name_parse(cp_hc_type_names, json_is_string(t) ? json_string_value(t) : "",
				  &v) < 0)
			return lb_json_fail(err, errlen, "health_check.type: must be \"none\", \"tcp\" or \"http\"");
		hc->type = (uint8_t)v;
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
	if ((rc = lb_json_int(h, "interval_ms", w, CP_HC_INTERVAL_MIN, CP_HC_INTERVAL_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->interval_ms = (uint32_t)v;
	if ((rc = lb_json_int(h, "timeout_ms", w, CP_HC_TIMEOUT_MIN, CP_HC_TIMEOUT_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->timeout_ms = (uint32_t)v;
	if ((rc = lb_json_int(h, "rise", w, 1, CP_HC_COUNT_MAX, false, &v, err, errlen)) < 0)
		return rc;
	if (rc == 0)
		hc->rise = (uint32_t)v;
	if ((rc = lb_json_int(h, "fall", w, 1, CP_HC_COUNT_MAX, false, &v, err, errlen)) < 0)
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
	"session_affinity", "source_ranges", "mode", "scheduler", "health_check",
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
	if (!json_is_string(a) || !cp_lb_name_valid(json_string_value(a)))
		return lb_json_fail(err, errlen, "name: %s", dns_label_msg);
	snprintf(lb->name, sizeof(lb->name), "%s", json_string_value(a));
	if ((rc = lb_json_str(j, "namespace", "", false, &s, err, errlen)) < 0)
		return rc;
	if (rc == 0 && !cp_lb_name_valid(s))
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
		return lb_json_fail(err, errlen, "mode: must be \"fnat\", \"dnat\", \"ipip\" or \"gue\"");
	a = lb_json_member(j, "scheduler");
	if (a != NULL && (!json_is_string(a) || lb_sched_parse(json_string_value(a), &lb->sched) < 0)) {
		char names[96];
		return lb_json_fail(err, errlen, "scheduler: must be one of %s",
				    lb_names_join(lb_sched_names, names, sizeof(names)));
	}
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

