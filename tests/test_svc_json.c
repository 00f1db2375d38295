/*
 * test_svc_json.c - unit tests for dp/svc_json.c (the service spec as JSON, the
 * `service.upsert` payload).
 *
 * Pure C, jansson only. Specs go through the encoder and back and must come out
 * equal; missing optional fields must take the model's defaults. Error fixtures are
 * a table {description, JSON text, parts the message must contain}: every rejected
 * service returns LB_EINVAL, names the offending field and leaves nothing allocated
 * (run under ASan to catch leaks on the error paths). Fixture JSON is written with
 * single quotes for readability; jload() turns them into double quotes.
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

#include "lb_addr.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "lb_model.h"
#include "lb_svc_json.h"
#include "json_fixture.h"

/* ---------------------------------------------------------------- helpers */

static void
decode_ok(const json_t *j, struct lb_svc_spec *s)
{
	char err[256] = "";
	int rc = lb_svc_spec_from_json(j, s, err, sizeof(err));

	if (rc != 0)
		fail_msg("unexpected error %d: %s", rc, err);
}

static void
assert_spec_equal(const struct lb_svc_spec *a, const struct lb_svc_spec *b)
{
	assert_string_equal(a->name, b->name);
	assert_true(lb_addr_eq(&a->vip, &b->vip));
	assert_int_equal(a->port, b->port);
	assert_int_equal(a->proto, b->proto);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->maglev_m, b->maglev_m);
	assert_int_equal(a->affinity, b->affinity);
	assert_int_equal(a->sched, b->sched);
	assert_int_equal(a->affinity_timeout, b->affinity_timeout);
	assert_int_equal(a->n_source_ranges, b->n_source_ranges);
	for (uint32_t i = 0; i < a->n_source_ranges; i++) {
		assert_true(lb_addr_eq(&a->source_ranges[i].addr, &b->source_ranges[i].addr));
		assert_int_equal(a->source_ranges[i].len, b->source_ranges[i].len);
	}
	assert_int_equal(a->n_backends, b->n_backends);
	for (uint32_t i = 0; i < a->n_backends; i++) {
		const struct lb_backend_spec *x = &a->backends[i], *y = &b->backends[i];

		assert_true(lb_addr_eq(&x->addr, &y->addr));
		assert_int_equal(x->port, y->port);
		assert_int_equal(x->weight, y->weight);
		assert_int_equal(x->state, y->state);
	}
}

/* spec -> JSON -> spec must be the identity; so must JSON -> text -> JSON. */
static void
assert_round_trip(const struct lb_svc_spec *in)
{
	struct lb_svc_spec out;
	json_t *j = lb_svc_spec_to_json(in), *again;
	char *text;

	assert_non_null(j);
	decode_ok(j, &out);
	assert_spec_equal(in, &out);
	lb_svc_spec_free(&out);

	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	again = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(again);
	decode_ok(again, &out);
	assert_spec_equal(in, &out);
	lb_svc_spec_free(&out);
	free(text);
	json_decref(again);
	json_decref(j);
}

static void
add_backend(struct lb_svc_spec *s, const char *a, uint16_t port, uint16_t weight, uint8_t state)
{
	struct lb_backend_spec *b = realloc(s->backends, (s->n_backends + 1) * sizeof(*b));

	assert_non_null(b);
	s->backends = b;
	b = &s->backends[s->n_backends++];
	memset(b, 0, sizeof(*b));
	b->addr = addr(a);
	b->port = port;
	b->weight = weight;
	b->state = state;
}

static void
add_range(struct lb_svc_spec *s, const char *p)
{
	struct lb_prefix *r = realloc(s->source_ranges, (s->n_source_ranges + 1) * sizeof(*r));

	assert_non_null(r);
	s->source_ranges = r;
	s->source_ranges[s->n_source_ranges++] = prefix(p);
}

/* A service with every field away from its default. */
static void
full_spec_v4(struct lb_svc_spec *s)
{
	lb_svc_spec_init(s);
	snprintf(s->name, sizeof(s->name), "default/web:https");
	s->vip = addr("198.18.0.10");
	s->port = 443;
	s->proto = LB_PROTO_UDP;
	s->mode = LB_MODE_DNAT;
	s->maglev_m = 251;
	s->sched = LB_SCHED_WRR;
	s->affinity = LB_AFFINITY_CLIENTIP;
	s->affinity_timeout = 300;
	add_range(s, "203.0.113.0/24");
	add_range(s, "0.0.0.0/0");
	add_range(s, "2001:db8:100::/48");
	add_range(s, "192.0.2.7/32");
	add_backend(s, "10.0.0.1", 8443, 1, LB_BACKEND_ACTIVE);
	add_backend(s, "10.0.0.2", 8443, 0, LB_BACKEND_DRAINING);
	add_backend(s, "10.0.0.3", 1, LB_WEIGHT_MAX, LB_BACKEND_DOWN);
	add_backend(s, "10.0.0.1", 65535, 7, LB_BACKEND_ACTIVE); /* same address, other port */
}

static void
full_spec_v6(struct lb_svc_spec *s)
{
	lb_svc_spec_init(s);
	snprintf(s->name, sizeof(s->name), "v6");
	s->vip = addr("2001:db8::10");
	s->port = 65535;
	s->proto = LB_PROTO_TCP;
	s->mode = LB_MODE_FNAT;
	s->maglev_m = LB_MAGLEV_M_MAX;
	s->sched = LB_SCHED_NQ;
	s->affinity = LB_AFFINITY_CLIENTIP;
	s->affinity_timeout = LB_AFFINITY_TIMEOUT_MAX;
	add_range(s, "2001:db8:ffff::/64");
	add_range(s, "::/0");
	add_range(s, "10.0.0.0/8");
	add_backend(s, "2001:db8:1::1", 80, 100, LB_BACKEND_ACTIVE);
	add_backend(s, "2001:db8:1::2", 80, 0, LB_BACKEND_DRAINING);
	add_backend(s, "::ffff:10.0.0.3", 80, 65535, LB_BACKEND_DOWN); /* v4-mapped is IPv6 */
	add_backend(s, "fe80::1", 1, 1, LB_BACKEND_ACTIVE);
}

/* ---------------------------------------------------------------- round trip */

static void
test_svc_json_round_trip_keeps_every_ipv4_field(void **state)
{
	struct lb_svc_spec s;

	(void)state;
	full_spec_v4(&s);
	assert_round_trip(&s);
	lb_svc_spec_free(&s);
}

static void
test_svc_json_round_trip_keeps_every_ipv6_field(void **state)
{
	struct lb_svc_spec s;

	(void)state;
	full_spec_v6(&s);
	assert_round_trip(&s);
	lb_svc_spec_free(&s);
}

static void
test_svc_json_round_trip_of_defaults_and_no_backends(void **state)
{
	struct lb_svc_spec s;

	(void)state;
	lb_svc_spec_init(&s);
	snprintf(s.name, sizeof(s.name), "empty");
	s.vip = addr("198.18.0.1");
	s.port = 1;
	s.proto = LB_PROTO_TCP;
	assert_round_trip(&s);
	/* the default scheduler is left out: a dp older than schedulers takes the service */
	json_t *j = lb_svc_spec_to_json(&s);
	assert_non_null(j);
	assert_null(json_object_get(j, LB_F_SCHEDULER));
	json_decref(j);
	lb_svc_spec_free(&s);
}

static void
test_svc_json_encoder_writes_every_field_with_protocol_names(void **state)
{
	struct lb_svc_spec s;
	json_t *j, *a, *b;

	(void)state;
	full_spec_v4(&s);
	j = lb_svc_spec_to_json(&s);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 10);
	assert_string_equal(json_string_value(json_object_get(j, LB_F_NAME)), "default/web:https");
	assert_string_equal(json_string_value(json_object_get(j, LB_F_VIP)), "198.18.0.10");
	assert_int_equal(json_integer_value(json_object_get(j, LB_F_PORT)), 443);
	assert_string_equal(json_string_value(json_object_get(j, LB_F_PROTOCOL)), "udp");
	assert_string_equal(json_string_value(json_object_get(j, LB_F_MODE)), "dnat");
	assert_int_equal(json_integer_value(json_object_get(j, LB_F_MAGLEV_SIZE)), 251);
	assert_string_equal(json_string_value(json_object_get(j, LB_F_SCHEDULER)), "wrr");
	a = json_object_get(j, LB_F_AFFINITY);
	assert_string_equal(json_string_value(json_object_get(a, LB_F_AFFINITY_TYPE)), "ClientIP");
	assert_int_equal(json_integer_value(json_object_get(a, LB_F_AFFINITY_TIMEOUT)), 300);
	a = json_object_get(j, LB_F_SOURCE_RANGES);
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(json_string_value(json_array_get(a, 2)), "2001:db8:100::/48");
	a = json_object_get(j, LB_F_BACKENDS);
	assert_int_equal(json_array_size(a), 4);
	b = json_array_get(a, 2);
	assert_int_equal(json_object_size(b), 4);
	assert_string_equal(json_string_value(json_object_get(b, LB_F_ADDRESS)), "10.0.0.3");
	assert_int_equal(json_integer_value(json_object_get(b, LB_F_PORT)), 1);
	assert_int_equal(json_integer_value(json_object_get(b, LB_F_WEIGHT)), 65535);
	assert_string_equal(json_string_value(json_object_get(b, LB_F_STATE)), "down");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), LB_F_STATE)),
			    "draining");
	json_decref(j);
	lb_svc_spec_free(&s);
}

/* ---------------------------------------------------------------- defaults */

static void
test_svc_json_missing_optional_fields_take_defaults(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload("{'name':'web','vip':'198.18.0.10','port':80,"
			  " 'backends':[{'address':'10.0.0.1','port':8080}]}");

	(void)state;
	decode_ok(j, &s);
	assert_string_equal(s.name, "web");
	assert_true(lb_addr_eq(&s.vip, &(struct lb_addr){ .family = LB_AF_INET, .bytes = { 198, 18, 0, 10 } }));
	assert_int_equal(s.port, 80);
	assert_int_equal(s.proto, LB_PROTO_TCP);
	assert_int_equal(s.mode, LB_MODE_FNAT);
	assert_int_equal(s.maglev_m, LB_MAGLEV_M_DEFAULT);
	assert_int_equal(s.maglev_m, 65537);
	assert_int_equal(s.affinity, LB_AFFINITY_NONE);
	assert_int_equal(s.sched, LB_SCHED_MAGLEV);
	assert_int_equal(s.affinity_timeout, 10800);
	assert_int_equal(s.n_source_ranges, 0);
	assert_null(s.source_ranges);
	assert_int_equal(s.n_backends, 1);
	assert_int_equal(s.backends[0].weight, 1);
	assert_int_equal(s.backends[0].state, LB_BACKEND_ACTIVE);
	assert_int_equal(s.backends[0].port, 8080);
	lb_svc_spec_free(&s);
	json_decref(j);
}

static void
test_svc_json_missing_backends_and_ranges_decode_empty(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload("{'name':'web','vip':'2001:db8::1','port':53,'source_ranges':[],'backends':[]}");

	(void)state;
	decode_ok(j, &s);
	assert_int_equal(s.vip.family, LB_AF_INET6);
	assert_int_equal(s.n_backends, 0);
	assert_null(s.backends);
	assert_int_equal(s.n_source_ranges, 0);
	assert_null(s.source_ranges);
	lb_svc_spec_free(&s);
	json_decref(j);

	j = jload("{'name':'web','vip':'198.18.0.1','port':53}");
	decode_ok(j, &s);
	assert_int_equal(s.n_backends, 0);
	assert_null(s.backends);
	lb_svc_spec_free(&s);
	json_decref(j);
}

static void
test_svc_json_affinity_timeout_defaults_when_only_type_given(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload("{'name':'web','vip':'198.18.0.10','port':80,"
			  " 'session_affinity':{'type':'ClientIP'}}");

	(void)state;
	decode_ok(j, &s);
	assert_int_equal(s.affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(s.affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	lb_svc_spec_free(&s);
	json_decref(j);
}

/*
 * The contract's case rule (include/lb_model.h), the same as the dp config file's:
 * names are read in any case and written back in their one spelling.
 */
static void
test_svc_json_names_are_read_in_any_case(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload("{'name':'web','vip':'198.18.0.10','port':80,'protocol':'UDP',"
			  " 'mode':'DNAT','session_affinity':{'type':'clientip'},'scheduler':'WLC',"
			  " 'backends':[{'address':'198.19.0.1','port':80,'state':'Active'},"
			  "             {'address':'198.19.0.2','port':80,'state':'DRAINING'}]}");
	json_t *o, *b;

	(void)state;
	decode_ok(j, &s);
	assert_int_equal(s.proto, LB_PROTO_UDP);
	assert_int_equal(s.mode, LB_MODE_DNAT);
	assert_int_equal(s.affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(s.sched, LB_SCHED_WLC);
	assert_int_equal(s.backends[0].state, LB_BACKEND_ACTIVE);
	assert_int_equal(s.backends[1].state, LB_BACKEND_DRAINING);
	o = lb_svc_spec_to_json(&s);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, LB_F_SCHEDULER)), "wlc");
	assert_string_equal(json_string_value(json_object_get(o, LB_F_PROTOCOL)), "udp");
	assert_string_equal(json_string_value(json_object_get(o, LB_F_MODE)), "dnat");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, LB_F_AFFINITY),
							      LB_F_AFFINITY_TYPE)),
			    "ClientIP");
	b = json_array_get(json_object_get(o, LB_F_BACKENDS), 1);
	assert_string_equal(json_string_value(json_object_get(b, LB_F_STATE)), "draining");
	json_decref(o);
	lb_svc_spec_free(&s);
	json_decref(j);
}

static void
test_svc_json_null_affinity_means_none(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload("{'name':'web','vip':'198.18.0.10','port':80,'session_affinity':null}");

	(void)state;
	decode_ok(j, &s);
	assert_int_equal(s.affinity, LB_AFFINITY_NONE);
	assert_int_equal(s.affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	lb_svc_spec_free(&s);
	json_decref(j);
}

static void
test_svc_json_boundary_values_are_accepted(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload("{'name':'web','vip':'198.18.0.10','port':65535,'maglev_size':3,"
			  " 'session_affinity':{'type':'None','timeout_seconds':86400},"
			  " 'backends':[{'address':'10.0.0.1','port':1,'weight':0,'state':'down'},"
			  "             {'address':'10.0.0.2','port':65535,'weight':65535}]}");

	(void)state;
	decode_ok(j, &s);
	assert_int_equal(s.port, 65535);
	assert_int_equal(s.maglev_m, 3);
	assert_int_equal(s.affinity_timeout, 86400);
	assert_int_equal(s.backends[0].weight, 0);
	assert_int_equal(s.backends[1].weight, 65535);
	lb_svc_spec_free(&s);
	json_decref(j);

	/* The name may use every byte of its buffer but the NUL. */
	char big[LB_NAME_MAX + 64];
	memset(big, 'n', LB_NAME_MAX - 1);
	big[LB_NAME_MAX - 1] = '\0';
	j = json_pack("{s:s, s:s, s:i}", LB_F_NAME, big, LB_F_VIP, "198.18.0.10", LB_F_PORT, 80);
	decode_ok(j, &s);
	assert_int_equal(strlen(s.name), LB_NAME_MAX - 1);
	lb_svc_spec_free(&s);
	json_decref(j);
}

/* ---------------------------------------------------------------- errors */

struct bad_case {
	const char *desc;
	const char *json; /* ' for " */
	const char *want[3]; /* each must appear in the message */
};

#define SVC(extra) "{'name':'web','vip':'198.18.0.10','port':80" extra "}"
#define BE(...) ",'backends':[" __VA_ARGS__ "]"
#define B1 "{'address':'10.0.0.1','port':8080}"

static const struct bad_case bad_cases[] = {
	{ "array, not an object", "[1]", { "service", "object" } },
	{ "null, not an object", "null", { "service", "object" } },
	{ "string, not an object", "'web'", { "service", "object" } },
	{ "unknown top-level field", SVC(",'colour':'red'"), { "colour", "unknown field" } },
	{ "misspelt top-level field", SVC(",'maglevsize':251"), { "maglevsize", "unknown" } },
	{ "unknown backend field", SVC(BE(B1 ",{'address':'10.0.0.2','port':80,'colour':1}")),
	  { "backends[1].colour", "unknown field" } },
	{ "unknown affinity field", SVC(",'session_affinity':{'type':'None','sticky':true}"),
	  { "session_affinity.sticky", "unknown field" } },
	{ "missing name", "{'vip':'198.18.0.10','port':80}", { "name", "missing" } },
	{ "empty name", "{'name':'','vip':'198.18.0.10','port':80}", { "name" } },
	{ "name not a string", "{'name':7,'vip':'198.18.0.10','port':80}", { "name", "string" } },
	{ "missing vip", "{'name':'web','port':80}", { "vip", "missing" } },
	{ "missing port", "{'name':'web','vip':'198.18.0.10'}", { "port", "missing" } },
	{ "port 0", "{'name':'web','vip':'198.18.0.10','port':0}", { "port", "1..65535" } },
	{ "port 65536", "{'name':'web','vip':'198.18.0.10','port':65536}", { "port", "1..65535" } },
	{ "port -1", "{'name':'web','vip':'198.18.0.10','port':-1}", { "port" } },
	{ "port as a string", "{'name':'web','vip':'198.18.0.10','port':'80'}", { "port", "integer" } },
	{ "port as a real", "{'name':'web','vip':'198.18.0.10','port':80.0}", { "port", "integer" } },
	{ "vip with a bad octet", "{'name':'web','vip':'198.18.0.256','port':80}", { "vip", "198.18.0.256" } },
	{ "vip a host name", "{'name':'web','vip':'example.com','port':80}", { "vip", "example.com" } },
	{ "vip a prefix", "{'name':'web','vip':'198.18.0.0/24','port':80}", { "vip" } },
	{ "vip not a string", "{'name':'web','vip':3323068426,'port':80}", { "vip", "string" } },
	{ "protocol sctp", SVC(",'protocol':'sctp'"), { "protocol", "sctp" } },
	{ "protocol a number", SVC(",'protocol':6"), { "protocol", "string" } },
	{ "mode dsr", SVC(",'mode':'dsr'"), { "mode", "dsr" } },
	{ "mode ipip, backend on another port", SVC(",'mode':'ipip'" BE(B1)),
	  { "backends.[0].port", "8080", "differs from the service port 80" } },
	{ "maglev_size not prime", SVC(",'maglev_size':65536"), { "maglev_size", "65536", "prime" } },
	{ "maglev_size odd, not prime", SVC(",'maglev_size':65535"), { "maglev_size", "prime" } },
	{ "maglev_size below 3", SVC(",'maglev_size':2"), { "maglev_size" } },
	{ "maglev_size above the maximum", SVC(",'maglev_size':1048583"), { "maglev_size" } },
	{ "affinity type Cookie", SVC(",'session_affinity':{'type':'Cookie'}"),
	  { "session_affinity.type", "Cookie" } },
	{ "affinity type missing", SVC(",'session_affinity':{'timeout_seconds':60}"),
	  { "session_affinity.type", "missing" } },
	{ "affinity a string", SVC(",'session_affinity':'ClientIP'"), { "session_affinity", "object" } },
	{ "unknown scheduler", SVC(",'scheduler':'lblc'"), { "scheduler", "'lblc'", "nq" } },
	{ "scheduler a number", SVC(",'scheduler':1"), { "scheduler" } },
	{ "affinity timeout 0", SVC(",'session_affinity':{'type':'ClientIP','timeout_seconds':0}"),
	  { "session_affinity.timeout_seconds", "1..86400" } },
	{ "affinity timeout 86401",
	  SVC(",'session_affinity':{'type':'ClientIP','timeout_seconds':86401}"),
	  { "session_affinity.timeout_seconds", "1..86400" } },
	{ "affinity timeout a string",
	  SVC(",'session_affinity':{'type':'ClientIP','timeout_seconds':'60'}"),
	  { "session_affinity.timeout_seconds" } },
	{ "source range with host bits", SVC(",'source_ranges':['10.0.0.0/8','10.1.2.3/8']"),
	  { "source_ranges[1]", "host bits" } },
	{ "IPv6 source range with host bits", SVC(",'source_ranges':['2001:db8::1/32']"),
	  { "source_ranges[0]" } },
	{ "source range prefix too long", SVC(",'source_ranges':['10.0.0.0/33']"),
	  { "source_ranges[0]" } },
	{ "source range not a string", SVC(",'source_ranges':[8]"), { "source_ranges[0]" } },
	{ "source ranges not an array", SVC(",'source_ranges':'10.0.0.0/8'"),
	  { "source_ranges", "array" } },
	{ "backend missing address", SVC(BE(B1 ",{'port':80}")), { "backends[1].address", "missing" } },
	{ "backend missing port", SVC(BE(B1 ",{'address':'10.0.0.2'}")), { "backends[1].port", "missing" } },
	{ "backend port 0", SVC(BE("{'address':'10.0.0.2','port':0}")), { "backends[0].port" } },
	{ "backend port 65536", SVC(BE("{'address':'10.0.0.2','port':65536}")), { "backends[0].port" } },
	{ "backend bad address", SVC(BE("{'address':'10.0.0','port':80}")),
	  { "backends[0].address", "10.0.0" } },
	{ "backend weight -1", SVC(BE("{'address':'10.0.0.1','port':80,'weight':-1}")),
	  { "backends[0].weight", "0..65535" } },
	{ "backend weight 65536", SVC(BE("{'address':'10.0.0.1','port':80,'weight':65536}")),
	  { "backends[0].weight", "0..65535" } },
	{ "backend weight a string", SVC(BE("{'address':'10.0.0.1','port':80,'weight':'1'}")),
	  { "backends[0].weight" } },
	{ "backend state up", SVC(BE(B1 ",{'address':'10.0.0.2','port':80,'state':'up'}")),
	  { "backends[1].state", "up" } },
	{ "backend state a number", SVC(BE("{'address':'10.0.0.2','port':80,'state':0}")),
	  { "backends[0].state", "string" } },
	{ "backend not an object", SVC(BE(B1 ",'10.0.0.2:80'")), { "backends[1]", "object" } },
	/* These come from lb_svc_spec_validate, which writes libconfig paths ("backends.[1]"). */
	{ "IPv6 backend behind an IPv4 VIP", SVC(BE(B1 ",{'address':'2001:db8::2','port':80}")),
	  { "backends", "[1]", "address" } },
	{ "IPv4 backend behind an IPv6 VIP",
	  "{'name':'web','vip':'2001:db8::10','port':80,'backends':[{'address':'10.0.0.1','port':80}]}",
	  { "backends", "[0]", "address" } },
	{ "duplicate backend address:port",
	  SVC(BE(B1 ",{'address':'10.0.0.2','port':8080},{'address':'10.0.0.1','port':8080}")),
	  { "backends", "10.0.0.1", "already" } },
	{ "backends not an array", SVC(",'backends':" B1), { "backends", "array" } },
	{ "backends null", SVC(",'backends':null"), { "backends", "array" } },
};

/* rc LB_EINVAL, every wanted part in the message, nothing left allocated. */
static void
assert_rejected(const json_t *j, const char *desc, const char *const *want, size_t n_want)
{
	struct lb_svc_spec s;
	char err[512] = "";
	int rc;

	memset(&s, 0x5a, sizeof(s)); /* garbage in: the decoder must init first */
	rc = lb_svc_spec_from_json(j, &s, err, sizeof(err));
	if (rc != LB_EINVAL)
		fail_msg("%s: rc %d (want LB_EINVAL), err '%s'", desc, rc, err);
	for (size_t k = 0; k < n_want && want[k]; k++)
		if (strstr(err, want[k]) == NULL)
			fail_msg("%s: error '%s' does not contain '%s'", desc, err, want[k]);
	assert_null(s.backends);
	assert_null(s.source_ranges);
	assert_int_equal(s.n_backends, 0);
	assert_int_equal(s.n_source_ranges, 0);
}

static void
test_svc_json_every_error_names_the_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		json_t *j = jload(bad_cases[i].json);

		assert_rejected(j, bad_cases[i].desc, bad_cases[i].want, 3);
		json_decref(j);
	}
}

static void
test_svc_json_null_json_is_rejected(void **state)
{
	static const char *const want[] = { "service" };

	(void)state;
	assert_rejected(NULL, "NULL", want, 1);
}

static void
test_svc_json_too_long_name_is_rejected(void **state)
{
	static const char *const want[] = { "name", "127" };
	char big[LB_NAME_MAX + 1];
	json_t *j;

	(void)state;
	memset(big, 'n', LB_NAME_MAX);
	big[LB_NAME_MAX] = '\0';
	j = json_pack("{s:s, s:s, s:i}", LB_F_NAME, big, LB_F_VIP, "198.18.0.10", LB_F_PORT, 80);
	assert_rejected(j, "name of LB_NAME_MAX characters", want, 2);
	json_decref(j);
}

static void
test_svc_json_too_many_source_ranges_is_rejected(void **state)
{
	static const char *const want[] = { "source_ranges", "64" };
	json_t *j = jload(SVC("")), *rs = json_array();
	char p[32];

	(void)state;
	for (int i = 0; i < LB_MAX_SOURCE_RANGES + 1; i++) {
		snprintf(p, sizeof(p), "10.%d.0.0/16", i);
		json_array_append_new(rs, json_string(p));
	}
	json_object_set_new(j, LB_F_SOURCE_RANGES, rs);
	assert_rejected(j, "65 source ranges", want, 2);

	/* 64 is the limit, inclusive. */
	struct lb_svc_spec s;
	json_array_remove(rs, 0);
	decode_ok(j, &s);
	assert_int_equal(s.n_source_ranges, LB_MAX_SOURCE_RANGES);
	lb_svc_spec_free(&s);
	json_decref(j);
}

/* A later field fails after the arrays were allocated: ASan must see no leak. */
static void
test_svc_json_error_after_allocation_leaks_nothing(void **state)
{
	static const char *const want[] = { "backends[2].port" };
	json_t *j = jload(SVC(",'source_ranges':['10.0.0.0/8','192.0.2.0/24']"
			      BE(B1 ",{'address':'10.0.0.2','port':80},{'address':'10.0.0.3','port':'x'}")));

	(void)state;
	assert_rejected(j, "third backend bad", want, 1);
	json_decref(j);
}

static void
test_svc_json_error_buffer_may_be_small_or_absent(void **state)
{
	struct lb_svc_spec s;
	char err[8];
	json_t *j = jload(SVC(",'protocol':'sctp'"));

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(lb_svc_spec_from_json(j, &s, err, sizeof(err)), LB_EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1); /* truncated, terminated */
	assert_int_equal(lb_svc_spec_from_json(j, &s, NULL, 0), LB_EINVAL);
	json_decref(j);

	/* The validator's messages go through its own path. */
	j = jload(SVC(BE(B1 "," B1)));
	assert_int_equal(lb_svc_spec_from_json(j, &s, err, sizeof(err)), LB_EINVAL);
	assert_int_equal(lb_svc_spec_from_json(j, &s, NULL, 0), LB_EINVAL);
	json_decref(j);
}

/* ---------------------------------------------------------------- sizes */

/* backends[i] = 10.x.y.z:(1000 + i % 50000), distinct for every i */
static json_t *
many_backends(uint32_t n)
{
	json_t *bs = json_array();
	char a[32];

	assert_non_null(bs);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		assert_int_equal(json_array_append_new(bs, json_pack("{s:s, s:i, s:i}", LB_F_ADDRESS, a,
								     LB_F_PORT, 1000 + (int)(i % 50000),
								     LB_F_WEIGHT, (int)(i % 65536))),
				 0);
	}
	return bs;
}

static void
test_svc_json_decodes_10000_backends(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload(SVC(""));

	(void)state;
	json_object_set_new(j, LB_F_BACKENDS, many_backends(10000));
	decode_ok(j, &s);
	assert_int_equal(s.n_backends, 10000);
	assert_true(lb_addr_eq(&s.backends[9999].addr, &(struct lb_addr){
		.family = LB_AF_INET, .bytes = { 10, 0, 39, 15 } }));
	assert_int_equal(s.backends[9999].port, 1000 + 9999);
	assert_int_equal(s.backends[9999].weight, 9999);
	assert_round_trip(&s);
	lb_svc_spec_free(&s);
	json_decref(j);
}

static void
test_svc_json_accepts_the_maximum_backend_count(void **state)
{
	struct lb_svc_spec s;
	json_t *j = jload(SVC(""));

	(void)state;
	json_object_set_new(j, LB_F_BACKENDS, many_backends(LB_MAX_BACKENDS_PER_SVC));
	decode_ok(j, &s);
	assert_int_equal(s.n_backends, LB_MAX_BACKENDS_PER_SVC);
	lb_svc_spec_free(&s);
	json_decref(j);
}

static void
test_svc_json_rejects_65535_backends(void **state)
{
	static const char *const want[] = { "backends", "65534" };
	json_t *j = jload(SVC("")), *bs = json_array(), *b = jload(B1);

	(void)state;
	assert_int_equal(LB_MAX_BACKENDS_PER_SVC + 1, 65535);
	/* The count is checked before any element: one shared object is enough. */
	for (int i = 0; i < LB_MAX_BACKENDS_PER_SVC + 1; i++)
		json_array_append(bs, b);
	json_object_set_new(j, LB_F_BACKENDS, bs);
	assert_rejected(j, "65535 backends", want, 2);
	json_decref(b);
	json_decref(j);
}

/* ---------------------------------------------------------------- encoder failures */

static long alloc_budget = -1; /* allocations left before failing; -1 = no limit */

static void *
budget_malloc(size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(n);
}

/*
 * Fail the encoder's n-th allocation for every n: it must return NULL or a complete
 * service, never an object that silently lacks a backend or a field.
 */
static void
test_svc_json_encoder_out_of_memory_returns_null_not_a_partial_service(void **state)
{
	struct lb_svc_spec s;
	long n;

	(void)state;
	full_spec_v6(&s);
	json_set_alloc_funcs(budget_malloc, free);
	for (n = 0; n < 100000; n++) {
		alloc_budget = n;
		json_t *j = lb_svc_spec_to_json(&s);
		long left = alloc_budget;
		alloc_budget = -1;
		if (j != NULL) {
			struct lb_svc_spec out;
			char err[256] = "";

			if (lb_svc_spec_from_json(j, &out, err, sizeof(err)) != 0)
				fail_msg("allocation %ld failed: encoder returned a bad service: %s", n, err);
			assert_spec_equal(&s, &out);
			lb_svc_spec_free(&out);
			json_decref(j);
		}
		if (left > 0)
			break; /* the whole encode fit in the budget: every n was tried */
	}
	json_set_alloc_funcs(malloc, free);
	assert_true(n > 10 && n < 100000);
	lb_svc_spec_free(&s);
}

static void
test_svc_json_encoder_refuses_a_name_that_is_not_utf8(void **state)
{
	struct lb_svc_spec s;

	(void)state;
	full_spec_v4(&s);
	snprintf(s.name, sizeof(s.name), "bad\xff");
	assert_null(lb_svc_spec_to_json(&s));
	lb_svc_spec_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svc_json_round_trip_keeps_every_ipv4_field),
		cmocka_unit_test(test_svc_json_names_are_read_in_any_case),
		cmocka_unit_test(test_svc_json_round_trip_keeps_every_ipv6_field),
		cmocka_unit_test(test_svc_json_round_trip_of_defaults_and_no_backends),
		cmocka_unit_test(test_svc_json_encoder_writes_every_field_with_protocol_names),
		cmocka_unit_test(test_svc_json_missing_optional_fields_take_defaults),
		cmocka_unit_test(test_svc_json_missing_backends_and_ranges_decode_empty),
		cmocka_unit_test(test_svc_json_affinity_timeout_defaults_when_only_type_given),
		cmocka_unit_test(test_svc_json_null_affinity_means_none),
		cmocka_unit_test(test_svc_json_boundary_values_are_accepted),
		cmocka_unit_test(test_svc_json_every_error_names_the_field),
		cmocka_unit_test(test_svc_json_null_json_is_rejected),
		cmocka_unit_test(test_svc_json_too_long_name_is_rejected),
		cmocka_unit_test(test_svc_json_too_many_source_ranges_is_rejected),
		cmocka_unit_test(test_svc_json_error_after_allocation_leaks_nothing),
		cmocka_unit_test(test_svc_json_error_buffer_may_be_small_or_absent),
		cmocka_unit_test(test_svc_json_decodes_10000_backends),
		cmocka_unit_test(test_svc_json_accepts_the_maximum_backend_count),
		cmocka_unit_test(test_svc_json_rejects_65535_backends),
		cmocka_unit_test(test_svc_json_encoder_out_of_memory_returns_null_not_a_partial_service),
		cmocka_unit_test(test_svc_json_encoder_refuses_a_name_that_is_not_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
