/*
 * test_announce.c - what a box announces through BIRD (cp/lib/announce.c) and
 * the bgp settings of the cp config (cp/lib/cpconf.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "announce.h"
#include "cpconf.h"
#include "lb_error.h"

/* A service on vip with backends in the given states (-1 ends the list). */
static void
svc(struct lb_svc_spec *s, const char *vip, uint16_t port, const int *states)
{
	lb_svc_spec_init(s);
	assert_int_equal(lb_addr_parse(vip, &s->vip), 0);
	s->port = port;
	s->proto = LB_PROTO_TCP;
	while (states[s->n_backends] >= 0)
		s->n_backends++;
	s->backends = calloc(s->n_backends ? s->n_backends : 1, sizeof(*s->backends));
	for (uint32_t i = 0; i < s->n_backends; i++) {
		char a[32];
		snprintf(a, sizeof(a), "198.19.0.%u", 10 + i);
		lb_addr_parse(a, &s->backends[i].addr);
		s->backends[i].port = 8080;
		s->backends[i].weight = 1;
		s->backends[i].state = (uint8_t)states[i];
	}
}

static const int READY[] = {LB_BACKEND_DOWN, LB_BACKEND_ACTIVE, -1};
static const int NONE_READY[] = {LB_BACKEND_DOWN, LB_BACKEND_DRAINING, -1};
static const int EMPTY[] = {-1};

static struct cp_conf *
conf(const char *text)
{
	static struct cp_conf c;
	char err[512];

	if (cp_conf_parse(text, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return &c;
}

static void
free_specs(struct lb_svc_spec *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		lb_svc_spec_free(&s[i]);
}

static void
test_announce_vip_with_a_ready_backend_on_any_port(void **state)
{
	struct lb_svc_spec s[4];
	struct cp_vip *v;
	uint32_t n;

	(void)state;
	svc(&s[0], "198.18.50.2", 80, NONE_READY);
	svc(&s[1], "198.18.50.1", 80, NONE_READY);
	svc(&s[2], "198.18.50.1", 443, READY);   /* same VIP: one entry, ready */
	svc(&s[3], "2001:db8:50::1", 80, READY);
	assert_int_equal(cp_announce_decide(s, 4, conf(""), CP_GATE_OPEN, &v, &n), 0);
	assert_int_equal(n, 3);
	char a[64];
	assert_string_equal(lb_addr_format(&v[0].vip, a, sizeof(a)), "198.18.50.1");
	assert_true(v[0].announce);
	assert_string_equal(lb_addr_format(&v[1].vip, a, sizeof(a)), "198.18.50.2");
	assert_false(v[1].announce);
	assert_string_equal(v[1].why, "no ready backend");
	assert_true(v[2].announce);
	free(v);
	free_specs(s, 4);
}

static void
test_announce_nothing_while_the_gate_is_closed(void **state)
{
	static const enum cp_gate gates[] = {CP_GATE_DP_DOWN, CP_GATE_DP_UNSYNCED, CP_GATE_DRAINED};
	struct lb_svc_spec s[1];
	struct cp_vip *v;
	uint32_t n;

	(void)state;
	svc(&s[0], "198.18.50.1", 80, READY);
	for (size_t g = 0; g < 3; g++) {
		/* Not even a VIP configured to be announced regardless. */
		assert_int_equal(cp_announce_decide(s, 1, conf("bgp = { announce = \"always\"; };"),
						    gates[g], &v, &n), 0);
		assert_int_equal(n, 1);
		assert_false(v[0].announce);
		assert_string_equal(v[0].why, cp_gate_name(gates[g]));
		free(v);
	}
	free_specs(s, 1);
}

static void
test_announce_always_per_pool_or_box(void **state)
{
	struct lb_svc_spec s[2];
	struct cp_vip *v;
	uint32_t n;

	(void)state;
	svc(&s[0], "198.18.50.1", 80, EMPTY);
	svc(&s[1], "198.18.60.1", 80, EMPTY);
	struct cp_conf *c = conf("pools = ( { name = \"a\"; addresses = [\"198.18.50.0/24\"]; },"
				 "          { name = \"b\"; addresses = [\"198.18.60.0/24\"]; } );"
				 "bgp = { announce_always_pools = [\"b\"]; };");
	assert_int_equal(cp_announce_decide(s, 2, c, CP_GATE_OPEN, &v, &n), 0);
	assert_false(v[0].announce);
	assert_true(v[1].announce);
	assert_true(v[1].always);
	free(v);
	assert_int_equal(cp_announce_decide(s, 2, conf("bgp = { announce = \"always\"; };"),
					    CP_GATE_OPEN, &v, &n), 0);
	assert_true(v[0].announce && v[1].announce);
	free(v);
	free_specs(s, 2);
}

static void
test_announce_render_static_protocols_even_when_empty(void **state)
{
	struct lb_svc_spec s[3];
	struct cp_vip *v;
	uint32_t n;
	char *t;

	(void)state;
	assert_int_equal(cp_announce_render(NULL, 0, "edgelb", &t), 0);
	assert_non_null(strstr(t, "protocol static edgelb4 {\n\tipv4;\n}\n"));
	assert_non_null(strstr(t, "protocol static edgelb6 {\n\tipv6;\n}\n"));
	free(t);
	svc(&s[0], "198.18.50.1", 80, READY);
	svc(&s[1], "198.18.50.2", 80, EMPTY);
	svc(&s[2], "2001:db8:50::1", 80, READY);
	assert_int_equal(cp_announce_decide(s, 3, conf(""), CP_GATE_OPEN, &v, &n), 0);
	assert_int_equal(cp_announce_render(v, n, "lb", &t), 0);
	assert_non_null(strstr(t, "protocol static lb4 {\n\tipv4;\n\troute 198.18.50.1/32 blackhole;\n}"));
	assert_null(strstr(t, "198.18.50.2"));
	assert_non_null(strstr(t, "protocol static lb6 {\n\tipv6;\n\troute 2001:db8:50::1/128 blackhole;\n}"));
	free(t);
	free(v);
	free_specs(s, 3);
}

static void
test_announce_bgp_config_defaults_and_errors(void **state)
{
	struct cp_conf c;
	char err[512];

	(void)state;
	assert_int_equal(cp_conf_parse("", &c, err, sizeof(err)), 0);
	assert_false(c.bgp.enabled);
	assert_string_equal(c.bgp.protocol, "edgelb");
	assert_int_equal(c.bgp.check_interval_ms, 100);
	assert_int_equal(c.bgp.dp_timeout_ms, 1000);
	assert_int_equal(cp_conf_parse("bgp = { enabled = true; bird_socket = \"/x\"; "
				       "include_file = \"/y\"; protocol = \"vips\"; "
				       "check_interval_ms = 50; };", &c, err, sizeof(err)), 0);
	assert_true(c.bgp.enabled);
	assert_string_equal(c.bgp.bird_socket, "/x");
	assert_int_equal(c.bgp.check_interval_ms, 50);
	assert_int_equal(cp_conf_parse("bgp = { protocol = \"9x\"; };", &c, err, sizeof(err)),
			 LB_EINVAL);
	assert_non_null(strstr(err, "bgp.protocol"));
	assert_int_equal(cp_conf_parse("bgp = { announce = \"sometimes\"; };", &c, err, sizeof(err)),
			 LB_EINVAL);
	assert_non_null(strstr(err, "bgp.announce"));
	assert_int_equal(cp_conf_parse("bgp = { speaker = 1; };", &c, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "bgp.speaker: unknown setting"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announce_vip_with_a_ready_backend_on_any_port),
		cmocka_unit_test(test_announce_nothing_while_the_gate_is_closed),
		cmocka_unit_test(test_announce_always_per_pool_or_box),
		cmocka_unit_test(test_announce_render_static_protocols_even_when_empty),
		cmocka_unit_test(test_announce_bgp_config_defaults_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
