/*
 * test_lb.c - unit tests for cp/lb.c: the control plane's load balancer as an API
 * body, an API answer and a state file entry, its IPAM port set and its dp services.
 *
 * Pure C over jansson. Bodies go through decoder and encoder and must come back
 * equal; missing fields take their defaults. Error fixtures are a table
 * {description, JSON text, message prefix}: every rejected body returns LB_EINVAL,
 * names the offending field first and leaves nothing allocated (run under ASan to
 * catch leaks on the error paths). dp services are checked against the dp's own
 * rules (lb_svc_spec_validate, dp/config.c). Fixture JSON is written with single
 * quotes for readability; jload() turns them into double quotes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lb_model.h"
#include "lb.h"
#include "lb_addr.h"
#include "lb_error.h"
#include "lb_model.h"
#include "json_fixture.h"

/* ---------------------------------------------------------------- helpers */

static const struct cp_health_check hc_defs = {
	.type = CP_HC_NONE,
	.path = "/ready",
	.port = 0,
	.interval_ms = 3000,
	.timeout_ms = 1000,
	.rise = 2,
	.fall = 4,
};

/* Decode an API body that must be accepted. */
static void
body_ok(const char *text, struct cp_lb *lb)
{
	char err[256] = "";
	json_t *j = jload(text);
	int rc = cp_lb_from_json(j, lb, &hc_defs, err, sizeof(err));

	if (rc != 0)
		fail_msg("rejected: %s\n  body: %s", err, text);
	json_decref(j);
}

static const char *
jstr(const json_t *o, const char *path_key)
{
	const json_t *v = json_object_get(o, path_key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void
assert_lb_equal(const struct cp_lb *a, const struct cp_lb *b)
{
	assert_string_equal(a->ns, b->ns);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->pool, b->pool);
	assert_int_equal(a->n_req_ips, b->n_req_ips);
	for (uint32_t i = 0; i < a->n_req_ips; i++)
		assert_true(lb_addr_eq(&a->req_ips[i], &b->req_ips[i]));
	assert_int_equal(a->families, b->families);
	assert_string_equal(a->sharing_key, b->sharing_key);
	assert_int_equal(a->n_ports, b->n_ports);
	for (uint32_t i = 0; i < a->n_ports; i++) {
		assert_string_equal(a->ports[i].name, b->ports[i].name);
		assert_int_equal(a->ports[i].port, b->ports[i].port);
		assert_int_equal(a->ports[i].proto, b->ports[i].proto);
		assert_int_equal(a->ports[i].target_port, b->ports[i].target_port);
		assert_string_equal(a->ports[i].target_name, b->ports[i].target_name);
	}
	assert_int_equal(a->n_backends, b->n_backends);
	for (uint32_t i = 0; i < a->n_backends; i++) {
		assert_true(lb_addr_eq(&a->backends[i].addr, &b->backends[i].addr));
		assert_int_equal(a->backends[i].port, b->backends[i].port);
		assert_int_equal(a->backends[i].weight, b->backends[i].weight);
		assert_int_equal(a->backends[i].state, b->backends[i].state);
		assert_string_equal(a->backends[i].port_name, b->backends[i].port_name);
	}
	assert_int_equal(a->affinity, b->affinity);
	assert_int_equal(a->affinity_timeout, b->affinity_timeout);
	assert_int_equal(a->n_ranges, b->n_ranges);
	for (uint32_t i = 0; i < a->n_ranges; i++) {
		assert_true(lb_addr_eq(&a->ranges[i].addr, &b->ranges[i].addr));
		assert_int_equal(a->ranges[i].len, b->ranges[i].len);
	}
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->sched, b->sched);
	assert_int_equal(a->hc.type, b->hc.type);
	if (a->hc.type == CP_HC_HTTP) /* the path means nothing otherwise and is not encoded */
		assert_string_equal(a->hc.path, b->hc.path);
	assert_int_equal(a->hc.port, b->hc.port);
	assert_int_equal(a->hc.interval_ms, b->hc.interval_ms);
	assert_int_equal(a->hc.timeout_ms, b->hc.timeout_ms);
	assert_int_equal(a->hc.rise, b->hc.rise);
	assert_int_equal(a->hc.fall, b->hc.fall);
	assert_int_equal(a->n_ips, b->n_ips);
	for (uint32_t i = 0; i < a->n_ips; i++)
		assert_true(lb_addr_eq(&a->ips[i], &b->ips[i]));
	assert_string_equal(a->alloc_pool, b->alloc_pool);
	assert_string_equal(a->status, b->status);
}

static void
free_specs(struct lb_svc_spec *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		lb_svc_spec_free(&v[i]);
	free(v);
}

static void
assert_specs_valid(const struct lb_svc_spec *v, uint32_t n)
{
	char err[256];

	for (uint32_t i = 0; i < n; i++)
		if (lb_svc_spec_validate(&v[i], err, sizeof(err)) != 0)
			fail_msg("spec %u (%s) invalid: %s", i, v[i].name, err);
}

static const struct lb_backend_spec *
find_backend(const struct lb_svc_spec *s, const char *a, uint16_t port)
{
	struct lb_addr x = addr(a);

	for (uint32_t i = 0; i < s->n_backends; i++)
		if (lb_addr_eq(&s->backends[i].addr, &x) && s->backends[i].port == port)
			return &s->backends[i];
	return NULL;
}

static const char full_body[] =
	"{'name': 'web', 'namespace': 'shop', 'pool': 'public',"
	" 'ips': ['2001:db8::100', '198.18.0.100'], 'ip_families': ['IPv4', 'IPv6'],"
	" 'sharing_key': 'front',"
	" 'ports': [{'name': 'http', 'port': 80, 'protocol': 'TCP', 'target_port': 8080},"
	"           {'name': 'dns', 'port': 53, 'protocol': 'udp'},"
	"           {'port': 443, 'target_port': 'https'}],"
	" 'backends': [{'address': '198.19.0.11', 'port': 8080, 'weight': 3, 'state': 'active'},"
	"              {'address': '198.19.0.12', 'state': 'draining'},"
	"              {'address': '2001:db8:1::11', 'weight': 0},"
	"              {'address': '198.19.0.13', 'port': 8443, 'port_name': 'https'}],"
	" 'session_affinity': {'type': 'ClientIP', 'timeout_seconds': 600},"
	" 'source_ranges': ['198.18.0.0/15', '2001:db8::/32', '203.0.113.7'],"
	" 'mode': 'dnat', 'scheduler': 'wlc',"
	" 'health_check': {'type': 'http', 'path': '/healthz', 'port': 9000,"
	"                  'interval_ms': 2000, 'timeout_ms': 500, 'rise': 3, 'fall': 5}}";

/* ------------------------------------------------------------ round trips */

static void
test_lb_full_body_round_trips(void **state)
{
	struct cp_lb a, b;
	char err[256] = "";
	json_t *j1, *j2;

	(void)state;
	body_ok(full_body, &a);
	/* decoded as written */
	assert_string_equal(a.ns, "shop");
	assert_string_equal(a.pool, "public");
	assert_int_equal(a.n_req_ips, 2);
	assert_int_equal(a.req_ips[0].family, LB_AF_INET); /* IPv4 first */
	assert_int_equal(a.families, LB_FAMILY_V4 | LB_FAMILY_V6);
	assert_int_equal(a.n_ports, 3);
	assert_int_equal(a.ports[1].proto, LB_PROTO_UDP);
	assert_int_equal(a.ports[1].target_port, 53);
	assert_int_equal(a.ports[2].target_port, 0);
	assert_string_equal(a.ports[2].target_name, "https");
	assert_int_equal(a.n_backends, 4);
	assert_int_equal(a.backends[1].port, 0);
	assert_int_equal(a.backends[1].state, LB_BACKEND_DRAINING);
	assert_int_equal(a.backends[2].weight, 0);
	assert_string_equal(a.backends[3].port_name, "https");
	assert_int_equal(a.affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(a.affinity_timeout, 600);
	assert_int_equal(a.n_ranges, 3);
	assert_int_equal(a.ranges[2].len, 32);
	assert_int_equal(a.mode, LB_MODE_DNAT);
	assert_int_equal(a.sched, LB_SCHED_WLC);
	assert_int_equal(a.hc.type, CP_HC_HTTP);
	assert_string_equal(a.hc.path, "/healthz");
	assert_int_equal(a.hc.port, 9000);
	assert_int_equal(a.n_ips, 0);
	assert_string_equal(a.status, "");

	/* body -> lb -> JSON -> lb: equal, and the JSON is a fixed point */
	j1 = cp_lb_to_json(&a, NULL);
	assert_non_null(j1);
	assert_int_equal(cp_lb_from_json(j1, &b, &hc_defs, err, sizeof(err)), 0);
	assert_lb_equal(&a, &b);
	j2 = cp_lb_to_json(&b, NULL);
	assert_non_null(j2);
	assert_true(json_equal(j1, j2));

	/* encoding details */
	assert_string_equal(jstr(json_object_get(j1, "status"), "state"), "active");
	assert_string_equal(jstr(json_array_get(json_object_get(j1, "ports"), 0), "protocol"), "TCP");
	assert_string_equal(jstr(json_array_get(json_object_get(j1, "ports"), 1), "protocol"), "UDP");
	assert_string_equal(jstr(json_array_get(json_object_get(j1, "ports"), 2), "target_port"),
			    "https");
	assert_int_equal(json_array_size(json_object_get(j1, "ips")), 0);
	assert_int_equal(json_array_size(json_object_get(j1, "requested_ips")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j1, "source_ranges"), 2)),
			    "203.0.113.7/32");
	json_decref(j1);
	json_decref(j2);
	cp_lb_free(&a);
	cp_lb_free(&b);
}

static void
test_lb_defaults_fill_missing_fields(void **state)
{
	struct cp_lb lb;
	json_t *j, *p, *b, *h;

	(void)state;
	body_ok("{'name': 'web', 'ports': [{'port': 80}], 'backends': [{'address': '198.19.0.11'}]}",
		&lb);
	assert_string_equal(lb.ns, "default");
	assert_string_equal(lb.pool, "");
	assert_int_equal(lb.n_req_ips, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4);
	assert_string_equal(lb.sharing_key, "");
	assert_int_equal(lb.ports[0].proto, LB_PROTO_TCP);
	assert_int_equal(lb.ports[0].target_port, 80);
	assert_string_equal(lb.ports[0].name, "");
	assert_int_equal(lb.backends[0].port, 0);
	assert_int_equal(lb.backends[0].weight, 1);
	assert_int_equal(lb.backends[0].state, LB_BACKEND_ACTIVE);
	assert_int_equal(lb.affinity, LB_AFFINITY_NONE);
	assert_int_equal(lb.affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	assert_int_equal(lb.n_ranges, 0);
	assert_int_equal(lb.mode, LB_MODE_FNAT);
	assert_int_equal(lb.sched, LB_SCHED_MAGLEV);
	assert_int_equal(lb.hc.type, hc_defs.type);
	assert_string_equal(lb.hc.path, hc_defs.path);
	assert_int_equal(lb.hc.interval_ms, hc_defs.interval_ms);
	assert_int_equal(lb.hc.timeout_ms, hc_defs.timeout_ms);
	assert_int_equal(lb.hc.rise, hc_defs.rise);
	assert_int_equal(lb.hc.fall, hc_defs.fall);

	/* the answer spells every default out */
	j = cp_lb_to_json(&lb, NULL);
	assert_non_null(j);
	assert_string_equal(jstr(j, "namespace"), "default");
	assert_string_equal(jstr(j, "mode"), "fnat");
	assert_string_equal(jstr(j, "scheduler"), "maglev");
	assert_string_equal(jstr(j, "alloc_pool"), "");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "ip_families"), 0)),
			    "IPv4");
	assert_int_equal(json_array_size(json_object_get(j, "ip_families")), 1);
	p = json_array_get(json_object_get(j, "ports"), 0);
	assert_string_equal(jstr(p, "protocol"), "TCP");
	assert_int_equal(json_integer_value(json_object_get(p, "target_port")), 80);
	assert_null(json_object_get(p, "name"));
	b = json_array_get(json_object_get(j, "backends"), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "weight")), 1);
	assert_int_equal(json_integer_value(json_object_get(b, "port")), 0);
	assert_string_equal(jstr(b, "state"), "active");
	assert_null(json_object_get(b, "health"));
	assert_string_equal(jstr(json_object_get(j, "session_affinity"), "type"), "None");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "session_affinity"),
							    "timeout_seconds")), 10800);
	assert_int_equal(json_array_size(json_object_get(j, "source_ranges")), 0);
	h = json_object_get(j, "health_check");
	assert_string_equal(jstr(h, "type"), "none");
	assert_null(json_object_get(h, "path")); /* http only */
	assert_int_equal(json_integer_value(json_object_get(h, "interval_ms")), 3000);
	assert_string_equal(jstr(json_object_get(j, "status"), "state"), "active");
	assert_string_equal(jstr(json_object_get(j, "status"), "message"), "");
	json_decref(j);
	cp_lb_free(&lb);
}

static void
test_lb_families_default_from_ips(void **state)
{
	struct cp_lb lb;

	(void)state;
	body_ok("{'name': 'a', 'ips': ['2001:db8::100'], 'ports': [{'port': 80}]}", &lb);
	assert_int_equal(lb.families, LB_FAMILY_V6);
	cp_lb_free(&lb);
	body_ok("{'name': 'a', 'ips': ['2001:db8::100', '198.18.0.100'], 'ports': [{'port': 80}]}",
		&lb);
	assert_int_equal(lb.families, LB_FAMILY_V4 | LB_FAMILY_V6);
	assert_int_equal(lb.req_ips[0].family, LB_AF_INET);
	assert_int_equal(lb.req_ips[1].family, LB_AF_INET6);
	cp_lb_free(&lb);
	/* families may ask for more than the ips pin: v4 requested, v6 automatic */
	body_ok("{'name': 'a', 'ips': ['198.18.0.100'], 'ip_families': ['IPv6', 'IPv4'],"
		" 'ports': [{'port': 80}]}", &lb);
	assert_int_equal(lb.families, LB_FAMILY_V4 | LB_FAMILY_V6);
	assert_int_equal(lb.n_req_ips, 1);
	cp_lb_free(&lb);
	body_ok("{'name': 'a', 'ip_families': ['IPv6'], 'ports': [{'port': 80}]}", &lb);
	assert_int_equal(lb.families, LB_FAMILY_V6);
	cp_lb_free(&lb);
	/* an empty ips is no request */
	body_ok("{'name': 'a', 'ips': [], 'ports': [{'port': 80}]}", &lb);
	assert_int_equal(lb.n_req_ips, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4);
	cp_lb_free(&lb);
}

static void
test_lb_nulls_are_absent_and_protocol_any_case(void **state)
{
	struct cp_lb lb;

	(void)state;
	body_ok("{'name': 'a', 'namespace': null, 'pool': null, 'ips': null, 'mode': null,"
		" 'session_affinity': null, 'health_check': null, 'source_ranges': null,"
		" 'backends': null,"
		" 'ports': [{'port': 80, 'protocol': 'udp', 'name': null, 'target_port': null},"
		"           {'port': 81, 'protocol': 'Tcp', 'name': ''}]}", &lb);
	assert_string_equal(lb.ns, "default");
	assert_int_equal(lb.ports[0].proto, LB_PROTO_UDP);
	assert_int_equal(lb.ports[0].target_port, 80);
	assert_int_equal(lb.ports[1].proto, LB_PROTO_TCP);
	assert_int_equal(lb.n_backends, 0);
	cp_lb_free(&lb);
}

/*
 * The case rule of the contract (include/lb_model.h): names are read in any case,
 * on the REST API as in the dp config file and on the control socket, and answered
 * in their one spelling.
 */
static void
test_lb_names_any_case_answered_in_one_spelling(void **state)
{
	struct cp_lb lb;
	json_t *j, *b;

	(void)state;
	body_ok("{'name': 'a', 'ports': [{'port': 80, 'protocol': 'tcp'}], 'mode': 'DNAT',"
		" 'scheduler': 'SED',"
		" 'session_affinity': {'type': 'clientip'}, 'health_check': {'type': 'HTTP'},"
		" 'backends': [{'address': '198.19.0.1', 'state': 'Draining'}]}", &lb);
	assert_int_equal(lb.mode, LB_MODE_DNAT);
	assert_int_equal(lb.affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(lb.hc.type, CP_HC_HTTP);
	assert_int_equal(lb.backends[0].state, LB_BACKEND_DRAINING);
	j = cp_lb_to_json(&lb, NULL);
	assert_non_null(j);
	assert_string_equal(jstr(j, "mode"), "dnat");
	assert_int_equal(lb.sched, LB_SCHED_SED);
	assert_string_equal(jstr(j, "scheduler"), "sed");
	assert_string_equal(jstr(json_object_get(j, "session_affinity"), "type"), "ClientIP");
	assert_string_equal(jstr(json_object_get(j, "health_check"), "type"), "http");
	b = json_array_get(json_object_get(j, "backends"), 0);
	assert_string_equal(jstr(b, "state"), "draining");
	json_decref(j);
	cp_lb_free(&lb);
}

static void
test_lb_health_check_partial_takes_defaults(void **state)
{
	struct cp_lb lb;
	char err[256];
	json_t *j;

	(void)state;
	body_ok("{'name': 'a', 'ports': [{'port': 80}], 'health_check': {'type': 'tcp', 'rise': 7}}",
		&lb);
	assert_int_equal(lb.hc.type, CP_HC_TCP);
	assert_int_equal(lb.hc.rise, 7);
	assert_int_equal(lb.hc.fall, hc_defs.fall);
	assert_int_equal(lb.hc.interval_ms, hc_defs.interval_ms);
	cp_lb_free(&lb);
	/* http without a path takes the default path */
	body_ok("{'name': 'a', 'ports': [{'port': 80}], 'health_check': {'type': 'http'}}", &lb);
	assert_string_equal(lb.hc.path, "/ready");
	j = cp_lb_to_json(&lb, NULL);
	assert_string_equal(jstr(json_object_get(j, "health_check"), "path"), "/ready");
	json_decref(j);
	cp_lb_free(&lb);
	/* timeout checked against a default interval */
	j = jload("{'name': 'a', 'ports': [{'port': 80}], 'health_check': {'timeout_ms': 3000}}");
	assert_int_equal(cp_lb_from_json(j, &lb, &hc_defs, err, sizeof(err)), LB_EINVAL);
	assert_string_equal(err, "health_check.timeout_ms: must be less than interval_ms (3000)");
	json_decref(j);
	/* no defaults given: the built-in ones, path "/" */
	j = jload("{'name': 'a', 'ports': [{'port': 80}], 'health_check': {'type': 'http'}}");
	assert_int_equal(cp_lb_from_json(j, &lb, NULL, err, sizeof(err)), 0);
	assert_string_equal(lb.hc.path, "/");
	assert_true(lb.hc.timeout_ms < lb.hc.interval_ms);
	assert_true(lb.hc.rise >= 1 && lb.hc.fall >= 1);
	json_decref(j);
	cp_lb_free(&lb);
}

/* ------------------------------------------------------------ bad bodies */

struct bad_case {
	const char *what;
	const char *json;
	const char *msg; /* the error must start with this */
};

#define P80 "'ports': [{'port': 80}]"

static const struct bad_case bad_cases[] = {
	{"not an object", "[]", "body: must be a JSON object"},
	{"unknown top field", "{'name': 'a', " P80 ", 'foo': 1}", "foo: unknown field"},
	{"spec-style field", "{'name': 'a', " P80 ", 'vip': '198.18.0.1'}", "vip: unknown field"},
	{"name missing", "{" P80 "}", "name: missing"},
	{"name not a string", "{'name': 5, " P80 "}",
	 "name: must be a DNS label (a-z, 0-9, '-', at most 63)"},
	{"name upper case", "{'name': 'Web', " P80 "}",
	 "name: must be a DNS label (a-z, 0-9, '-', at most 63)"},
	{"name leading dash", "{'name': '-web', " P80 "}", "name: must be a DNS label"},
	{"name empty", "{'name': '', " P80 "}", "name: must be a DNS label"},
	{"name 64 chars",
	 "{'name': 'a123456789012345678901234567890123456789012345678901234567890123', " P80 "}",
	 "name: must be a DNS label"},
	{"namespace underscore", "{'name': 'a', 'namespace': 'a_b', " P80 "}",
	 "namespace: must be a DNS label (a-z, 0-9, '-', at most 63)"},
	{"namespace not a string", "{'name': 'a', 'namespace': 5, " P80 "}",
	 "namespace: must be a string"},
	{"pool not a string", "{'name': 'a', 'pool': 5, " P80 "}", "pool: must be a string"},
	{"pool too long",
	 "{'name': 'a', 'pool': 'p123456789012345678901234567890123456789012345678901234567890123', "
	 P80 "}", "pool: at most 63 characters"},
	{"sharing_key not a string", "{'name': 'a', 'sharing_key': [], " P80 "}",
	 "sharing_key: must be a string"},
	{"ips not an array", "{'name': 'a', 'ips': '198.18.0.1', " P80 "}",
	 "ips: must be an array of at most 2 addresses"},
	{"ips three", "{'name': 'a', 'ips': ['198.18.0.1', '2001:db8::1', '198.18.0.2'], " P80 "}",
	 "ips: must be an array of at most 2 addresses"},
	{"ips bad address", "{'name': 'a', 'ips': ['198.18.0.300'], " P80 "}",
	 "ips[0]: must be an IPv4 or IPv6 address"},
	{"ips not a string", "{'name': 'a', 'ips': ['2001:db8::1', 7], " P80 "}",
	 "ips[1]: must be an IPv4 or IPv6 address"},
	{"two IPv4", "{'name': 'a', 'ips': ['198.18.0.1', '198.18.0.2'], " P80 "}",
	 "ips[1]: a second IPv4 address (at most one per family)"},
	{"two IPv6", "{'name': 'a', 'ips': ['2001:db8::1', '2001:db8::2'], " P80 "}",
	 "ips[1]: a second IPv6 address (at most one per family)"},
	{"ip_families empty", "{'name': 'a', 'ip_families': [], " P80 "}",
	 "ip_families: must be [\"IPv4\"], [\"IPv6\"] or [\"IPv4\", \"IPv6\"]"},
	{"ip_families not an array", "{'name': 'a', 'ip_families': 'IPv4', " P80 "}",
	 "ip_families: must be"},
	{"ip_families bad name", "{'name': 'a', 'ip_families': ['ipv4'], " P80 "}",
	 "ip_families[0]: must be \"IPv4\" or \"IPv6\""},
	{"ip_families twice", "{'name': 'a', 'ip_families': ['IPv6', 'IPv6'], " P80 "}",
	 "ip_families[1]: IPv6 is listed twice"},
	{"families disagree with ips",
	 "{'name': 'a', 'ips': ['2001:db8::1'], 'ip_families': ['IPv4'], " P80 "}",
	 "ip_families: has no IPv6 but ips has 2001:db8::1"},
	{"ports missing", "{'name': 'a'}", "ports: missing"},
	{"ports empty", "{'name': 'a', 'ports': []}", "ports: must be an array of 1..64 objects"},
	{"ports an object", "{'name': 'a', 'ports': {'port': 80}}",
	 "ports: must be an array of 1..64 objects"},
	{"port not an object", "{'name': 'a', 'ports': [{'port': 80}, 81]}",
	 "ports[1]: must be an object"},
	{"port unknown field", "{'name': 'a', 'ports': [{'port': 80, 'nodePort': 30080}]}",
	 "ports[0].nodePort: unknown field"},
	{"port missing", "{'name': 'a', 'ports': [{'protocol': 'TCP'}]}", "ports[0].port: missing"},
	{"port 0", "{'name': 'a', 'ports': [{'port': 0}]}",
	 "ports[0].port: must be an integer 1..65535"},
	{"port 65536", "{'name': 'a', 'ports': [{'port': 65536}]}",
	 "ports[0].port: must be an integer 1..65535"},
	{"port a string", "{'name': 'a', 'ports': [{'port': '80'}]}",
	 "ports[0].port: must be an integer 1..65535"},
	{"port a real", "{'name': 'a', 'ports': [{'port': 80.0}]}",
	 "ports[0].port: must be an integer 1..65535"},
	{"protocol SCTP", "{'name': 'a', 'ports': [{'port': 80}, {'port': 81, 'protocol': 'SCTP'}]}",
	 "ports[1].protocol: must be \"TCP\" or \"UDP\""},
	{"protocol a number", "{'name': 'a', 'ports': [{'port': 80, 'protocol': 6}]}",
	 "ports[0].protocol: must be \"TCP\" or \"UDP\""},
	{"target_port 0", "{'name': 'a', 'ports': [{'port': 80, 'target_port': 0}]}",
	 "ports[0].target_port: must be an integer 1..65535 or a port name"},
	{"target_port 70000", "{'name': 'a', 'ports': [{'port': 80, 'target_port': 70000}]}",
	 "ports[0].target_port: must be an integer 1..65535 or a port name"},
	{"target_port digits as string", "{'name': 'a', 'ports': [{'port': 80, 'target_port': '8080'}]}",
	 "ports[0].target_port: must be an integer 1..65535 or a port name"},
	{"target_port bad name", "{'name': 'a', 'ports': [{'port': 80, 'target_port': 'Http'}]}",
	 "ports[0].target_port: must be an integer 1..65535 or a port name"},
	{"port name upper case", "{'name': 'a', 'ports': [{'port': 80, 'name': 'HTTP'}]}",
	 "ports[0].name: must be a DNS label"},
	{"port name not a string", "{'name': 'a', 'ports': [{'port': 80, 'name': 5}]}",
	 "ports[0].name: must be a string"},
	{"duplicate ports",
	 "{'name': 'a', 'ports': [{'port': 80}, {'port': 53, 'protocol': 'UDP'}, {'port': 80, 'protocol': 'tcp'}]}",
	 "ports[2]: TCP/80 duplicates ports[0]"},
	{"duplicate port names",
	 "{'name': 'a', 'ports': [{'port': 80, 'name': 'http'}, {'port': 81, 'name': 'http'}]}",
	 "ports[1].name: \"http\" duplicates ports[0].name"},
	{"backends an object", "{'name': 'a', " P80 ", 'backends': {'address': '198.19.0.1'}}",
	 "backends: must be an array of at most 4096 objects"},
	{"backend not an object", "{'name': 'a', " P80 ", 'backends': ['198.19.0.1']}",
	 "backends[0]: must be an object"},
	{"backend unknown field",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'ip': '198.19.0.1'}]}",
	 "backends[0].ip: unknown field"},
	{"backend address missing", "{'name': 'a', " P80 ", 'backends': [{'port': 80}]}",
	 "backends[0].address: missing"},
	{"backend address bad",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1'}, {'address': 'web-1'}]}",
	 "backends[1].address: must be an IPv4 or IPv6 address"},
	{"backend port negative", "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'port': -1}]}",
	 "backends[0].port: must be an integer 0..65535"},
	{"backend weight too big",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'weight': 65536}]}",
	 "backends[0].weight: must be an integer 0..65535"},
	{"backend weight a string",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'weight': '1'}]}",
	 "backends[0].weight: must be an integer 0..65535"},
	{"backend state bad", "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'state': 'up'}]}",
	 "backends[0].state: must be \"active\", \"draining\" or \"down\""},
	{"backend port_name bad",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'port_name': 'X'}]}",
	 "backends[0].port_name: must be a DNS label"},
	{"duplicate backends",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '198.19.0.1', 'port': 8080},"
	 " {'address': '198.19.0.2'}, {'address': '198.19.0.1', 'port': 8080, 'weight': 2}]}",
	 "backends[2]: same address and port as backends[0]"},
	{"backend family not served",
	 "{'name': 'a', " P80 ", 'backends': [{'address': '2001:db8::11'}]}",
	 "backends[0].address: 2001:db8::11 is IPv6 but ip_families has no IPv6"},
	{"affinity not an object", "{'name': 'a', " P80 ", 'session_affinity': 'ClientIP'}",
	 "session_affinity: must be an object"},
	{"affinity type missing", "{'name': 'a', " P80 ", 'session_affinity': {'timeout_seconds': 5}}",
	 "session_affinity.type: missing"},
	{"affinity type bad", "{'name': 'a', " P80 ", 'session_affinity': {'type': 'Cookie'}}",
	 "session_affinity.type: must be \"ClientIP\" or \"None\""},
	{"affinity timeout 0",
	 "{'name': 'a', " P80 ", 'session_affinity': {'type': 'ClientIP', 'timeout_seconds': 0}}",
	 "session_affinity.timeout_seconds: must be an integer 1..86400"},
	{"affinity timeout too long",
	 "{'name': 'a', " P80 ", 'session_affinity': {'type': 'ClientIP', 'timeout_seconds': 86401}}",
	 "session_affinity.timeout_seconds: must be an integer 1..86400"},
	{"affinity unknown field",
	 "{'name': 'a', " P80 ", 'session_affinity': {'type': 'None', 'timeout': 5}}",
	 "session_affinity.timeout: unknown field"},
	{"source_ranges a string", "{'name': 'a', " P80 ", 'source_ranges': '198.18.0.0/15'}",
	 "source_ranges: must be an array of at most 64 CIDRs"},
	{"source range host bits",
	 "{'name': 'a', " P80 ", 'source_ranges': ['198.18.0.0/15', '198.18.0.1/15']}",
	 "source_ranges[1]: must be a CIDR with host bits zero"},
	{"source range length", "{'name': 'a', " P80 ", 'source_ranges': ['198.18.0.0/33']}",
	 "source_ranges[0]: must be a CIDR with host bits zero"},
	{"source range not a string", "{'name': 'a', " P80 ", 'source_ranges': [15]}",
	 "source_ranges[0]: must be a CIDR"},
	{"mode bad", "{'name': 'a', " P80 ", 'mode': 'snat'}", "mode: must be \"fnat\", \"dnat\", \"ipip\" or \"gue\""},
	{"mode a number", "{'name': 'a', " P80 ", 'mode': 1}", "mode: must be \"fnat\", \"dnat\", \"ipip\" or \"gue\""},
	{"scheduler bad", "{'name': 'a', " P80 ", 'scheduler': 'lblc'}",
	 "scheduler: must be one of maglev, rr, wrr, lc, wlc, sh, dh, sed, nq"},
	{"scheduler a number", "{'name': 'a', " P80 ", 'scheduler': 2}", "scheduler: must be one of"},
	{"health_check not an object", "{'name': 'a', " P80 ", 'health_check': 'tcp'}",
	 "health_check: must be an object"},
	{"health_check unknown field", "{'name': 'a', " P80 ", 'health_check': {'kind': 'tcp'}}",
	 "health_check.kind: unknown field"},
	{"health_check type bad", "{'name': 'a', " P80 ", 'health_check': {'type': 'udp'}}",
	 "health_check.type: must be \"none\", \"tcp\" or \"http\""},
	{"health_check path relative",
	 "{'name': 'a', " P80 ", 'health_check': {'type': 'http', 'path': 'healthz'}}",
	 "health_check.path: must start with '/'"},
	{"health_check path with space",
	 "{'name': 'a', " P80 ", 'health_check': {'type': 'http', 'path': '/a b'}}",
	 "health_check.path: must start with '/'"},
	{"health_check path not a string",
	 "{'name': 'a', " P80 ", 'health_check': {'type': 'http', 'path': 1}}",
	 "health_check.path: must be a string"},
	{"health_check path for tcp",
	 "{'name': 'a', " P80 ", 'health_check': {'type': 'tcp', 'path': '/healthz'}}",
	 "health_check.path: only for type \"http\""},
	{"health_check port", "{'name': 'a', " P80 ", 'health_check': {'port': 70000}}",
	 "health_check.port: must be an integer 0..65535"},
	{"health_check interval", "{'name': 'a', " P80 ", 'health_check': {'interval_ms': 99}}",
	 "health_check.interval_ms: must be an integer 100..3600000"},
	{"health_check timeout", "{'name': 'a', " P80 ", 'health_check': {'timeout_ms': 49}}",
	 "health_check.timeout_ms: must be an integer 50..60000"},
	{"health_check timeout >= interval",
	 "{'name': 'a', " P80 ", 'health_check': {'interval_ms': 1000, 'timeout_ms': 1000}}",
	 "health_check.timeout_ms: must be less than interval_ms (1000)"},
	{"health_check rise", "{'name': 'a', " P80 ", 'health_check': {'rise': 0}}",
	 "health_check.rise: must be an integer 1..100"},
	{"health_check fall", "{'name': 'a', " P80 ", 'health_check': {'fall': 101}}",
	 "health_check.fall: must be an integer 1..100"},
	{"status of any shape is ignored; the next error is reported",
	 "{'name': 'a', " P80 ", 'status': 5, 'backends': 5}",
	 "backends: must be an array"},
};

static void
check_bad(const char *what, json_t *j, const char *msg)
{
	struct cp_lb lb;
	char err[512] = "";
	int rc;

	memset(&lb, 0xa5, sizeof(lb));
	rc = cp_lb_from_json(j, &lb, &hc_defs, err, sizeof(err));
	if (rc != LB_EINVAL)
		fail_msg("%s: accepted (rc %d)", what, rc);
	if (strncmp(err, msg, strlen(msg)) != 0)
		fail_msg("%s: error \"%s\", want prefix \"%s\"", what, err, msg);
	/* freed on error: nothing left to free, a second free is harmless */
	assert_null(lb.ports);
	assert_null(lb.backends);
	assert_null(lb.ranges);
	cp_lb_free(&lb);
}

static void
test_lb_bad_bodies_name_the_field(void **state)
{
	(void)state;
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 40);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		json_t *j = jload(bad_cases[i].json);
		check_bad(bad_cases[i].what, j, bad_cases[i].msg);
		json_decref(j);
	}
	check_bad("NULL body", NULL, "body: must be a JSON object");
}

/* Bodies over the count limits, built in code. */
static void
test_lb_bad_bodies_over_limits(void **state)
{
	char buf[64];
	json_t *j, *a;

	(void)state;
	/* 65 ports */
	j = jload("{'name': 'a'}");
	a = json_array();
	for (int i = 0; i < CP_MAX_PORTS + 1; i++)
		json_array_append_new(a, json_pack("{s:i}", "port", 1000 + i));
	json_object_set_new(j, "ports", a);
	check_bad("65 ports", j, "ports: must be an array of 1..64 objects");
	/* 64 are fine */
	json_array_remove(a, 0);
	{
		struct cp_lb lb;
		char err[256];
		assert_int_equal(cp_lb_from_json(j, &lb, &hc_defs, err, sizeof(err)), 0);
		assert_int_equal(lb.n_ports, CP_MAX_PORTS);
		cp_lb_free(&lb);
	}
	json_decref(j);

	/* 4097 backends */
	j = jload("{'name': 'a', " P80 "}");
	a = json_array();
	for (int i = 0; i < CP_MAX_BACKENDS + 1; i++) {
		snprintf(buf, sizeof(buf), "198.19.%d.%d", i / 256, i % 256);
		json_array_append_new(a, json_pack("{s:s}", "address", buf));
	}
	json_object_set_new(j, "backends", a);
	check_bad("4097 backends", j, "backends: must be an array of at most 4096 objects");
	/* 4096 are fine, and a duplicate among many is found by index */
	json_array_remove(a, CP_MAX_BACKENDS);
	{
		struct cp_lb lb;
		char err[256];
		assert_int_equal(cp_lb_from_json(j, &lb, &hc_defs, err, sizeof(err)), 0);
		assert_int_equal(lb.n_backends, CP_MAX_BACKENDS);
		cp_lb_free(&lb);
	}
	json_array_set_new(a, 4000, json_pack("{s:s}", "address", "198.19.0.7"));
	check_bad("duplicate among 4096", j, "backends[4000]: same address and port as backends[7]");
	json_decref(j);

	/* 65 source ranges */
	j = jload("{'name': 'a', " P80 "}");
	a = json_array();
	for (int i = 0; i < LB_MAX_SOURCE_RANGES + 1; i++) {
		snprintf(buf, sizeof(buf), "198.18.%d.0/24", i);
		json_array_append_new(a, json_string(buf));
	}
	json_object_set_new(j, "source_ranges", a);
	check_bad("65 ranges", j, "source_ranges: must be an array of at most 64 CIDRs");
	json_decref(j);
}

static void
test_lb_name_valid(void **state)
{
	static const char *good[] = {"a", "web", "web-1", "1web", "0",
		"a12345678901234567890123456789012345678901234567890123456789012"};
	static const char *bad[] = {"", "-a", "a-", "A", "a_b", "a.b", "a b", "é",
		"a123456789012345678901234567890123456789012345678901234567890123"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(cp_lb_name_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cp_lb_name_valid(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
	assert_false(cp_lb_name_valid(NULL));
}

/* ---------------------------------------------------- status in API bodies */

static void
test_lb_status_in_body_is_ignored(void **state)
{
	struct cp_lb lb;

	(void)state;
	body_ok("{'name': 'a', " P80 ", 'status': {'state': 'pending', 'message': 'no pool'},"
		" 'alloc_pool': 'public', 'requested_ips': ['198.18.0.9'], 'ips': ['198.18.0.5'],"
		" 'backends': [{'address': '198.19.0.1', 'health': 'down'}]}", &lb);
	assert_string_equal(lb.status, "");
	assert_string_equal(lb.alloc_pool, "");
	assert_int_equal(lb.n_ips, 0);
	/* a non-empty "ips" is the request; "requested_ips" is then an echo */
	assert_int_equal(lb.n_req_ips, 1);
	{
		struct lb_addr want = addr("198.18.0.5");
		assert_true(lb_addr_eq(&lb.req_ips[0], &want));
	}
	assert_int_equal(lb.backends[0].state, LB_BACKEND_ACTIVE);
	cp_lb_free(&lb);
}

/* GET then PUT of the same JSON: the request survives, status does not come in. */
static void
test_lb_put_back_what_get_returned(void **state)
{
	struct cp_lb a, b;
	uint8_t health[4] = {1, 2, 0, 1};
	char err[256];
	json_t *j;

	(void)state;
	/* pending with a request: "ips" is empty, the request comes from requested_ips */
	body_ok(full_body, &a);
	snprintf(a.status, sizeof(a.status), "198.18.0.100 is in use by shop/other");
	j = cp_lb_to_json(&a, health);
	assert_non_null(j);
	assert_string_equal(jstr(json_object_get(j, "status"), "state"), "pending");
	assert_string_equal(jstr(json_array_get(json_object_get(j, "backends"), 1), "health"), "down");
	assert_int_equal(cp_lb_from_json(j, &b, &hc_defs, err, sizeof(err)), 0);
	assert_string_equal(b.status, "");
	assert_int_equal(b.n_req_ips, 2);
	assert_true(lb_addr_eq(&b.req_ips[0], &a.req_ips[0]));
	assert_true(lb_addr_eq(&b.req_ips[1], &a.req_ips[1]));
	json_decref(j);
	cp_lb_free(&b);

	/* active: "ips" shows the allocation; put back, it pins those addresses */
	a.status[0] = '\0';
	a.n_ips = 2;
	a.ips[0] = addr("198.18.0.100");
	a.ips[1] = addr("2001:db8::100");
	snprintf(a.alloc_pool, sizeof(a.alloc_pool), "public");
	j = cp_lb_to_json(&a, NULL);
	assert_non_null(j);
	assert_string_equal(jstr(json_object_get(j, "status"), "state"), "active");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "ips"), 1)),
			    "2001:db8::100");
	assert_int_equal(cp_lb_from_json(j, &b, &hc_defs, err, sizeof(err)), 0);
	assert_int_equal(b.n_ips, 0);
	assert_string_equal(b.alloc_pool, "");
	assert_int_equal(b.n_req_ips, 2);
	assert_true(lb_addr_eq(&b.req_ips[0], &a.ips[0]));
	json_decref(j);
	cp_lb_free(&b);
	cp_lb_free(&a);
}

/* ------------------------------------------------------------- state file */

static void
test_lb_state_round_trip_keeps_status(void **state)
{
	struct cp_lb a, b;
	char err[256] = "";
	json_t *j, *j2;

	(void)state;
	body_ok("{'name': 'web', 'ips': ['198.18.0.100'], 'ip_families': ['IPv4', 'IPv6'],"
		" 'ports': [{'port': 80, 'target_port': 'http'}],"
		" 'backends': [{'address': '198.19.0.11', 'port': 8080, 'port_name': 'http'}]}", &a);
	a.n_ips = 2;
	a.ips[0] = addr("198.18.0.100");
	a.ips[1] = addr("2001:db8::7");
	snprintf(a.alloc_pool, sizeof(a.alloc_pool), "public");
	snprintf(a.status, sizeof(a.status), "dp unreachable");

	j = cp_lb_to_json(&a, NULL);
	assert_non_null(j);
	assert_int_equal(cp_lb_from_state_json(j, &b, err, sizeof(err)), 0);
	assert_lb_equal(&a, &b);
	assert_int_equal(b.n_req_ips, 1); /* the request, not the allocation */
	j2 = cp_lb_to_json(&b, NULL);
	assert_true(json_equal(j, j2));
	json_decref(j2);
	cp_lb_free(&b);

	/* active: no message */
	a.status[0] = '\0';
	json_decref(j);
	j = cp_lb_to_json(&a, NULL);
	assert_int_equal(cp_lb_from_state_json(j, &b, err, sizeof(err)), 0);
	assert_lb_equal(&a, &b);
	cp_lb_free(&b);

	/* the same JSON as an API body: status fields stay out */
	assert_int_equal(cp_lb_from_json(j, &b, &hc_defs, err, sizeof(err)), 0);
	assert_int_equal(b.n_ips, 0);
	assert_string_equal(b.alloc_pool, "");
	cp_lb_free(&b);
	json_decref(j);
	cp_lb_free(&a);
}

static void
test_lb_state_rejects_bad_status(void **state)
{
	static const struct bad_case cases[] = {
		{"ips family not in families",
		 "{'name': 'a', " P80 ", 'ip_families': ['IPv4'], 'ips': ['2001:db8::1']}",
		 "ip_families: has no IPv6 but ips has 2001:db8::1"},
		{"two allocated of a family",
		 "{'name': 'a', " P80 ", 'ips': ['198.18.0.1', '198.18.0.2']}",
		 "ips[1]: a second IPv4 address"},
		{"status not an object", "{'name': 'a', " P80 ", 'status': 'active'}",
		 "status: must be an object"},
		{"status unknown field", "{'name': 'a', " P80 ", 'status': {'phase': 'x'}}",
		 "status.phase: unknown field"},
		{"status state bad", "{'name': 'a', " P80 ", 'status': {'state': 'ok'}}",
		 "status.state: must be \"active\" or \"pending\""},
		{"active with message",
		 "{'name': 'a', " P80 ", 'status': {'state': 'active', 'message': 'x'}}",
		 "status.message: must be empty when state is \"active\""},
		{"alloc_pool not a string", "{'name': 'a', " P80 ", 'alloc_pool': 1}",
		 "alloc_pool: must be a string"},
		{"requested_ips bad", "{'name': 'a', " P80 ", 'requested_ips': ['x']}",
		 "requested_ips[0]: must be an IPv4 or IPv6 address"},
	};
	struct cp_lb lb;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = jload(cases[i].json);
		err[0] = '\0';
		if (cp_lb_from_state_json(j, &lb, err, sizeof(err)) != LB_EINVAL)
			fail_msg("%s: accepted", cases[i].what);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s: error \"%s\", want prefix \"%s\"", cases[i].what, err, cases[i].msg);
		assert_null(lb.ports);
		json_decref(j);
	}
	/* pending with no message still reads back as pending */
	{
		json_t *j = jload("{'name': 'a', " P80 ", 'status': {'state': 'pending'}}");
		assert_int_equal(cp_lb_from_state_json(j, &lb, err, sizeof(err)), 0);
		assert_string_not_equal(lb.status, "");
		cp_lb_free(&lb);
		json_decref(j);
	}
}

/* ------------------------------------------------------------ backends PUT */

static void
test_lb_backends_put_both_shapes(void **state)
{
	struct cp_lb lb;
	char err[256];
	json_t *j;

	(void)state;
	body_ok("{'name': 'a', 'ip_families': ['IPv4', 'IPv6'], " P80 ","
		" 'backends': [{'address': '198.19.0.1'}]}", &lb);

	j = jload("[{'address': '198.19.0.11', 'port': 8080}, {'address': '2001:db8::11', 'weight': 5}]");
	assert_int_equal(cp_lb_backends_from_json(j, &lb, err, sizeof(err)), 0);
	assert_int_equal(lb.n_backends, 2);
	assert_int_equal(lb.backends[0].port, 8080);
	assert_int_equal(lb.backends[1].weight, 5);
	json_decref(j);

	j = jload("{'backends': [{'address': '198.19.0.12', 'state': 'down'}]}");
	assert_int_equal(cp_lb_backends_from_json(j, &lb, err, sizeof(err)), 0);
	assert_int_equal(lb.n_backends, 1);
	assert_int_equal(lb.backends[0].state, LB_BACKEND_DOWN);
	json_decref(j);

	/* empty lists clear */
	j = jload("{'backends': []}");
	assert_int_equal(cp_lb_backends_from_json(j, &lb, err, sizeof(err)), 0);
	assert_int_equal(lb.n_backends, 0);
	assert_null(lb.backends);
	json_decref(j);
	j = jload("[{'address': '198.19.0.13'}]");
	assert_int_equal(cp_lb_backends_from_json(j, &lb, err, sizeof(err)), 0);
	json_decref(j);

	/* errors name the field and leave the backends as they were */
	static const struct bad_case cases[] = {
		{"a string", "'198.19.0.1'", "body: must be an array of backends or {\"backends\": [...]}"},
		{"other key", "{'backends': [], 'name': 'a'}", "name: unknown field"},
		{"no backends key", "{}", "backends: missing"},
		{"backends not an array", "{'backends': 5}", "backends: must be an array"},
		{"bad address", "[{'address': '198.19.0.1'}, {'address': '1.2.3'}]",
		 "backends[1].address: must be an IPv4 or IPv6 address"},
		{"duplicate", "{'backends': [{'address': '2001:db8::1'}, {'address': '2001:db8::1'}]}",
		 "backends[1]: same address and port as backends[0]"},
		{"unknown field", "[{'address': '198.19.0.1', 'prio': 1}]", "backends[0].prio: unknown field"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		j = jload(cases[i].json);
		if (cp_lb_backends_from_json(j, &lb, err, sizeof(err)) != LB_EINVAL)
			fail_msg("%s: accepted", cases[i].what);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s: error \"%s\", want prefix \"%s\"", cases[i].what, err, cases[i].msg);
		json_decref(j);
		assert_int_equal(lb.n_backends, 1);
		struct lb_addr want = addr("198.19.0.13");
		assert_true(lb_addr_eq(&lb.backends[0].addr, &want));
	}
	cp_lb_free(&lb);

	/* a single-stack lb refuses backends of the other family */
	body_ok("{'name': 'a', " P80 "}", &lb);
	j = jload("[{'address': '2001:db8::11'}]");
	assert_int_equal(cp_lb_backends_from_json(j, &lb, err, sizeof(err)), LB_EINVAL);
	assert_string_equal(err, "backends[0].address: 2001:db8::11 is IPv6 but ip_families has no IPv6");
	assert_int_equal(lb.n_backends, 0);
	json_decref(j);
	cp_lb_free(&lb);
}

/* ---------------------------------------------------------------- dp specs */

static void
test_lb_dp_specs_single_stack(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;
	uint8_t health[3] = {1, 2, 0};

	(void)state;
	body_ok("{'name': 'web', 'namespace': 'shop',"
		" 'ports': [{'name': 'http', 'port': 80, 'target_port': 8080}, {'port': 53, 'protocol': 'UDP'}],"
		" 'backends': [{'address': '198.19.0.11'}, {'address': '198.19.0.12', 'port': 9090, 'weight': 4},"
		"              {'address': '198.19.0.13', 'state': 'draining'}],"
		" 'session_affinity': {'type': 'ClientIP', 'timeout_seconds': 60},"
		" 'source_ranges': ['198.18.0.0/15'], 'mode': 'dnat', 'scheduler': 'rr'}", &lb);

	/* nothing allocated: no services */
	assert_int_equal(cp_lb_dp_specs(&lb, NULL, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);

	lb.n_ips = 1;
	lb.ips[0] = addr("198.18.0.100");
	assert_int_equal(cp_lb_dp_specs(&lb, health, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_specs_valid(v, n);

	assert_string_equal(v[0].name, "shop/web:http");
	assert_true(lb_addr_eq(&v[0].vip, &lb.ips[0]));
	assert_int_equal(v[0].port, 80);
	assert_int_equal(v[0].proto, LB_PROTO_TCP);
	assert_int_equal(v[0].mode, LB_MODE_DNAT);
	assert_int_equal(v[0].sched, LB_SCHED_RR);
	assert_int_equal(v[0].maglev_m, LB_MAGLEV_M_DEFAULT);
	assert_int_equal(v[0].affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(v[0].affinity_timeout, 60);
	assert_int_equal(v[0].n_source_ranges, 1);
	assert_int_equal(v[0].source_ranges[0].len, 15);
	assert_ptr_not_equal(v[0].source_ranges, lb.ranges);
	assert_int_equal(v[0].n_backends, 3);
	/* port 0 -> target_port; an explicit backend port wins */
	assert_non_null(find_backend(&v[0], "198.19.0.11", 8080));
	assert_int_equal(find_backend(&v[0], "198.19.0.11", 8080)->state, LB_BACKEND_ACTIVE);
	assert_non_null(find_backend(&v[0], "198.19.0.12", 9090));
	assert_int_equal(find_backend(&v[0], "198.19.0.12", 9090)->weight, 4);
	/* health 2 -> down; health 0 keeps the requested state */
	assert_int_equal(find_backend(&v[0], "198.19.0.12", 9090)->state, LB_BACKEND_DOWN);
	assert_int_equal(find_backend(&v[0], "198.19.0.13", 8080)->state, LB_BACKEND_DRAINING);

	assert_string_equal(v[1].name, "shop/web:53");
	assert_int_equal(v[1].proto, LB_PROTO_UDP);
	assert_int_equal(v[1].port, 53);
	assert_non_null(find_backend(&v[1], "198.19.0.11", 53));
	assert_non_null(find_backend(&v[1], "198.19.0.12", 9090));
	free_specs(v, n);

	/* without health the requested state stands */
	assert_int_equal(cp_lb_dp_specs(&lb, NULL, &v, &n), 0);
	assert_int_equal(find_backend(&v[0], "198.19.0.12", 9090)->state, LB_BACKEND_ACTIVE);
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_lb_dp_specs_dual_stack(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	body_ok("{'name': 'web', 'ip_families': ['IPv4', 'IPv6'],"
		" 'ports': [{'port': 80}, {'port': 443}],"
		" 'backends': [{'address': '198.19.0.11'}, {'address': '2001:db8:1::11'},"
		"              {'address': '2001:db8:1::12', 'port': 8443}]}", &lb);
	lb.n_ips = 2;
	lb.ips[0] = addr("198.18.0.100");
	lb.ips[1] = addr("2001:db8::100");
	assert_int_equal(cp_lb_dp_specs(&lb, NULL, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_specs_valid(v, n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t fam = i < 2 ? LB_AF_INET : LB_AF_INET6;
		assert_int_equal(v[i].vip.family, fam);
		for (uint32_t k = 0; k < v[i].n_backends; k++)
			assert_int_equal(v[i].backends[k].addr.family, fam);
	}
	assert_string_equal(v[0].name, "default/web:80");
	assert_string_equal(v[1].name, "default/web:443");
	assert_string_equal(v[2].name, "default/web:80");
	assert_int_equal(v[0].n_backends, 1);
	assert_int_equal(v[2].n_backends, 2);
	assert_non_null(find_backend(&v[2], "2001:db8:1::11", 80));
	assert_non_null(find_backend(&v[3], "2001:db8:1::11", 443));
	assert_non_null(find_backend(&v[3], "2001:db8:1::12", 8443));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_lb_dp_specs_named_ports_and_duplicates(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	/* Kubernetes shape: named target port resolved through the backends' ports */
	body_ok("{'name': 'web',"
		" 'ports': [{'name': 'http', 'port': 80, 'target_port': 'web'},"
		"           {'name': 'metrics', 'port': 9100}],"
		" 'backends': [{'address': '198.19.0.11', 'port': 8080, 'port_name': 'http'},"
		"              {'address': '198.19.0.11', 'port': 9100, 'port_name': 'metrics'},"
		"              {'address': '198.19.0.12'},"
		"              {'address': '198.19.0.13', 'port': 9100, 'weight': 7},"
		"              {'address': '198.19.0.13', 'weight': 9}]}", &lb);
	lb.n_ips = 1;
	lb.ips[0] = addr("198.18.0.100");
	assert_int_equal(cp_lb_dp_specs(&lb, NULL, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_specs_valid(v, n);
	/* http: only the backend tied to it and explicit ports; .12 is unresolved (0) */
	assert_string_equal(v[0].name, "default/web:http");
	assert_non_null(find_backend(&v[0], "198.19.0.11", 8080));
	assert_null(find_backend(&v[0], "198.19.0.11", 9100));
	assert_non_null(find_backend(&v[0], "198.19.0.13", 9100));
	assert_int_equal(v[0].n_backends, 2);
	/* metrics: .13 port 0 resolves to 9100 like .13:9100 listed first: one, weight 7 */
	assert_string_equal(v[1].name, "default/web:metrics");
	assert_non_null(find_backend(&v[1], "198.19.0.11", 9100));
	assert_non_null(find_backend(&v[1], "198.19.0.12", 9100));
	assert_int_equal(find_backend(&v[1], "198.19.0.13", 9100)->weight, 7);
	assert_int_equal(v[1].n_backends, 3);
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_lb_dp_specs_long_names_stay_distinct(void **state)
{
	char ns[64], name[64];
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(name, 'w', 63);
	name[63] = '\0';
	cp_lb_init(&lb, NULL);
	snprintf(lb.ns, sizeof(lb.ns), "%s", ns);
	snprintf(lb.name, sizeof(lb.name), "%s", name);
	lb.n_ports = 2;
	lb.ports = calloc(2, sizeof(*lb.ports));
	assert_non_null(lb.ports);
	lb.ports[0] = (struct cp_port){.port = 80, .proto = LB_PROTO_TCP, .target_port = 80};
	lb.ports[1] = (struct cp_port){.port = 81, .proto = LB_PROTO_TCP, .target_port = 81};
	lb.affinity_timeout = 0; /* a built lb may leave it unset */
	lb.n_ips = 1;
	lb.ips[0] = addr("198.18.0.100");
	assert_int_equal(cp_lb_dp_specs(&lb, NULL, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_specs_valid(v, n);
	assert_true(strlen(v[0].name) == LB_NAME_MAX - 1);
	assert_true(strncmp(v[0].name, ns, 63) == 0);
	assert_non_null(strchr(v[0].name, '~'));
	assert_string_not_equal(v[0].name, v[1].name);
	assert_int_equal(v[0].affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	free_specs(v, n);
	cp_lb_free(&lb);
}

/* ------------------------------------------------------------ small parts */

static void
test_lb_copy_is_deep(void **state)
{
	struct cp_lb a, b;

	(void)state;
	body_ok(full_body, &a);
	a.n_ips = 1;
	a.ips[0] = addr("198.18.0.100");
	snprintf(a.status, sizeof(a.status), "x");
	assert_int_equal(cp_lb_copy(&b, &a), 0);
	assert_lb_equal(&a, &b);
	assert_ptr_not_equal(a.ports, b.ports);
	assert_ptr_not_equal(a.backends, b.backends);
	assert_ptr_not_equal(a.ranges, b.ranges);
	b.ports[0].port = 1;
	b.backends[0].weight = 99;
	b.ranges[0].len = 1;
	assert_int_equal(a.ports[0].port, 80);
	assert_int_equal(a.backends[0].weight, 3);
	assert_int_equal(a.ranges[0].len, 15);
	cp_lb_free(&a);
	/* the copy lives on alone */
	assert_int_equal(b.n_ports, 3);
	cp_lb_free(&b);
	cp_lb_free(&b); /* idempotent */

	/* empty arrays copy as NULL */
	body_ok("{'name': 'a', " P80 "}", &a);
	assert_int_equal(cp_lb_copy(&b, &a), 0);
	assert_null(b.backends);
	assert_null(b.ranges);
	assert_non_null(b.ports);
	cp_lb_free(&a);
	cp_lb_free(&b);
}

static void
test_lb_key_and_ipam_ports(void **state)
{
	char key[LB_OWNER_MAX];
	struct lb_ipam_port *p;
	struct cp_lb lb;
	uint32_t n;

	(void)state;
	body_ok(full_body, &lb);
	assert_string_equal(cp_lb_key(&lb, key, sizeof(key)), "shop/web");
	assert_int_equal(cp_lb_ipam_ports(&lb, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(p[0].proto, LB_PROTO_TCP);
	assert_int_equal(p[0].port, 80);
	assert_int_equal(p[1].proto, LB_PROTO_UDP);
	assert_int_equal(p[1].port, 53);
	assert_int_equal(p[2].port, 443);
	free(p);
	cp_lb_free(&lb);
}

static void
test_lb_to_json_health_and_odd_status(void **state)
{
	uint8_t health[4] = {0, 1, 2, 7};
	static const char *want[4] = {"unknown", "up", "down", "unknown"};
	struct cp_lb lb;
	json_t *j, *bs;

	(void)state;
	body_ok(full_body, &lb);
	/* a status cut inside a UTF-8 sequence must not cost the whole answer */
	snprintf(lb.status, sizeof(lb.status), "caf\xc3");
	j = cp_lb_to_json(&lb, health);
	assert_non_null(j);
	bs = json_object_get(j, "backends");
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(jstr(json_array_get(bs, i), "health"), want[i]);
	assert_string_equal(jstr(json_array_get(bs, 3), "port_name"), "https");
	assert_string_equal(jstr(json_object_get(j, "status"), "message"), "caf?");
	json_decref(j);
	cp_lb_free(&lb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lb_full_body_round_trips),
		cmocka_unit_test(test_lb_defaults_fill_missing_fields),
		cmocka_unit_test(test_lb_families_default_from_ips),
		cmocka_unit_test(test_lb_nulls_are_absent_and_protocol_any_case),
		cmocka_unit_test(test_lb_names_any_case_answered_in_one_spelling),
		cmocka_unit_test(test_lb_health_check_partial_takes_defaults),
		cmocka_unit_test(test_lb_bad_bodies_name_the_field),
		cmocka_unit_test(test_lb_bad_bodies_over_limits),
		cmocka_unit_test(test_lb_name_valid),
		cmocka_unit_test(test_lb_status_in_body_is_ignored),
		cmocka_unit_test(test_lb_put_back_what_get_returned),
		cmocka_unit_test(test_lb_state_round_trip_keeps_status),
		cmocka_unit_test(test_lb_state_rejects_bad_status),
		cmocka_unit_test(test_lb_backends_put_both_shapes),
		cmocka_unit_test(test_lb_dp_specs_single_stack),
		cmocka_unit_test(test_lb_dp_specs_dual_stack),
		cmocka_unit_test(test_lb_dp_specs_named_ports_and_duplicates),
		cmocka_unit_test(test_lb_dp_specs_long_names_stay_distinct),
		cmocka_unit_test(test_lb_copy_is_deep),
		cmocka_unit_test(test_lb_key_and_ipam_ports),
		cmocka_unit_test(test_lb_to_json_health_and_odd_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
