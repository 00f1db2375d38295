/*
 * test_announce.c - what a box announces through BIRD (cp/lib/announce.c): VIPs,
 * its own and its peers' SNAT addresses, the join gate; and the bgp and cluster
 * settings of the cp config (cp/lib/cpconf.c).
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
	static const enum cp_gate gates[] = {CP_GATE_DP_DOWN, CP_GATE_DP_UNSYNCED, CP_GATE_DRAINED,
					     CP_GATE_JOINING};
	struct lb_svc_spec s[1];
	struct cp_vip *v;
	uint32_t n;

	(void)state;
	svc(&s[0], "198.18.50.1", 80, READY);
	for (size_t g = 0; g < 4; g++) {
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
	assert_int_equal(cp_announce_render(NULL, 0, NULL, 0, "edgelb", &t), 0);
	assert_non_null(strstr(t, "protocol static edgelb4 {\n\tipv4;\n}\n"));
	assert_non_null(strstr(t, "protocol static edgelb6 {\n\tipv6;\n}\n"));
	/* The SNAT protocols too, so bird.conf may name them before a cluster exists. */
	assert_non_null(strstr(t, "protocol static edgelbsnat4 {\n\tipv4;\n}\n"));
	assert_non_null(strstr(t, "protocol static edgelbbackup6 {\n\tipv6;\n}\n"));
	free(t);
	svc(&s[0], "198.18.50.1", 80, READY);
	svc(&s[1], "198.18.50.2", 80, EMPTY);
	svc(&s[2], "2001:db8:50::1", 80, READY);
	assert_int_equal(cp_announce_decide(s, 3, conf(""), CP_GATE_OPEN, &v, &n), 0);
	assert_int_equal(cp_announce_render(v, n, NULL, 0, "lb", &t), 0);
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

/* Box x1 with two SNAT addresses; peers x2 and x3 with theirs. */
#define CLUSTER                                                                           \
	"cluster = { name = \"x1\"; local_addresses = [\"198.19.8.1\", \"2001:db8:8::1\"];"  \
	" peers = ( { name = \"x2\"; sync_address = \"198.18.0.2\";"                        \
	"             local_addresses = [\"198.19.8.2\", \"2001:db8:8::2\"]; },"              \
	"           { name = \"x3\"; sync_address = \"2001:db8:1::3\";"                     \
	"             local_addresses = [\"198.19.8.3\"]; } ); join_timeout_s = 5; %s };"

static struct cp_conf *
cluster(const char *extra)
{
	char text[1024];

	snprintf(text, sizeof(text), CLUSTER, extra);
	return conf(text);
}

static uint32_t
count_announced(const struct cp_snat *s, uint32_t n, bool own)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++)
		k += s[i].announce && (s[i].owner == NULL) == own;
	return k;
}

static void
test_announce_snat_own_normal_and_peers_as_backups(void **state)
{
	struct cp_snat *s;
	uint32_t n;
	char *t, a[64];

	(void)state;
	assert_int_equal(cp_announce_snat(cluster(""), true, true, false, &s, &n), 0);
	assert_int_equal(n, 5);
	/* Ours first, in config order, then each peer's. */
	assert_string_equal(lb_addr_format(&s[0].addr, a, sizeof(a)), "198.19.8.1");
	assert_null(s[0].owner);
	assert_string_equal(lb_addr_format(&s[2].addr, a, sizeof(a)), "198.19.8.2");
	assert_string_equal(s[2].owner, "x2");
	assert_string_equal(s[4].owner, "x3");
	assert_int_equal(count_announced(s, n, true), 2);
	assert_int_equal(count_announced(s, n, false), 3);
	assert_int_equal(cp_announce_render(NULL, 0, s, n, "edgelb", &t), 0);
	assert_non_null(strstr(t, "protocol static edgelbsnat4 {\n\tipv4;\n"
				  "\troute 198.19.8.1/32 blackhole;\n}\n"));
	assert_non_null(strstr(t, "protocol static edgelbsnat6 {\n\tipv6;\n"
				  "\troute 2001:db8:8::1/128 blackhole;\n}\n"));
	assert_non_null(strstr(t, "protocol static edgelbbackup4 {\n\tipv4;\n"
				  "\troute 198.19.8.2/32 blackhole; # x2\n"
				  "\troute 198.19.8.3/32 blackhole; # x3\n}\n"));
	assert_non_null(strstr(t, "protocol static edgelbbackup6 {\n\tipv6;\n"
				  "\troute 2001:db8:8::2/128 blackhole; # x2\n}\n"));
	/* The VIP protocols stay as they were. */
	assert_non_null(strstr(t, "protocol static edgelb4 {\n\tipv4;\n}\n"));
	free(t);
	free(s);
}

static void
test_announce_snat_follows_the_dp_the_join_and_the_drain(void **state)
{
	struct cp_snat *s;
	uint32_t n;
	char *t;

	(void)state;
	/* A dead dp: nothing, so the peers' backups take the replies. */
	assert_int_equal(cp_announce_snat(cluster(""), false, true, false, &s, &n), 0);
	assert_int_equal(count_announced(s, n, true) + count_announced(s, n, false), 0);
	assert_string_equal(s[0].why, "dp down");
	assert_string_equal(s[4].why, "dp down");
	free(s);
	/* A dp without its peers' connections yet: neither ours nor theirs. */
	assert_int_equal(cp_announce_snat(cluster(""), true, false, false, &s, &n), 0);
	assert_int_equal(count_announced(s, n, true) + count_announced(s, n, false), 0);
	assert_string_equal(s[0].why, "waiting for the bulk copy from peers");
	free(s);
	/* Drained: ours stay (established flows still come back here), backups go. */
	assert_int_equal(cp_announce_snat(cluster(""), true, true, true, &s, &n), 0);
	assert_int_equal(count_announced(s, n, true), 2);
	assert_int_equal(count_announced(s, n, false), 0);
	assert_string_equal(s[2].why, "box drained");
	assert_int_equal(cp_announce_render(NULL, 0, s, n, "edgelb", &t), 0);
	assert_non_null(strstr(t, "protocol static edgelbbackup4 {\n\tipv4;\n}\n"));
	assert_non_null(strstr(t, "\troute 198.19.8.1/32 blackhole;\n"));
	free(t);
	free(s);
	/* backup = false: only ours. No cluster: nothing at all. */
	assert_int_equal(cp_announce_snat(cluster("backup = false;"), true, true, false, &s, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(count_announced(s, n, true), 2);
	free(s);
	assert_int_equal(cp_announce_snat(conf(""), true, true, false, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_null(s);
}

static void
test_announce_join_gate_waits_for_the_bulk_copy_or_the_timeout(void **state)
{
	struct cp_conf *c;

	(void)state;
	/* No peers: nothing to wait for. */
	assert_int_equal(cp_join_decide(conf(""), -1, 0), CP_JOIN_NONE);
	assert_true(cp_join_open(CP_JOIN_NONE));
	c = cluster(""); /* conf() and cluster() share one struct */
	/* Peers: closed until the dp says its bulk copy is done... */
	assert_int_equal(cp_join_decide(c, 0, 0), CP_JOIN_WAITING);
	assert_false(cp_join_open(CP_JOIN_WAITING));
	assert_int_equal(cp_join_decide(c, 0, 4999), CP_JOIN_WAITING);
	assert_int_equal(cp_join_decide(c, 1, 10), CP_JOIN_DONE);
	assert_true(cp_join_open(CP_JOIN_DONE));
	/* ...or join_timeout_s after the dp started. */
	assert_int_equal(cp_join_decide(c, 0, 5000), CP_JOIN_TIMED_OUT);
	assert_true(cp_join_open(CP_JOIN_TIMED_OUT));
	/* A dp without flow sync (no flow_sync object): nothing to wait for. */
	assert_int_equal(cp_join_decide(c, -1, 0), CP_JOIN_NO_SYNC);
	assert_true(cp_join_open(CP_JOIN_NO_SYNC));
	/* A cp restarted beside a dp that joined long ago does not wait again. */
	assert_int_equal(cp_join_decide(c, 0, 3600 * 1000), CP_JOIN_TIMED_OUT);
	assert_string_equal(cp_gate_name(CP_GATE_JOINING), "waiting for the bulk copy from peers");
}

static void
test_announce_cluster_config_defaults_and_errors(void **state)
{
	struct cp_conf c;
	char err[512], text[1024];

	(void)state;
	assert_int_equal(cp_conf_parse("", &c, err, sizeof(err)), 0);
	assert_int_equal(c.cluster.n_peers, 0);
	assert_int_equal(c.cluster.join_timeout_s, 30);
	assert_true(c.cluster.backup);
	snprintf(text, sizeof(text), CLUSTER, "");
	assert_int_equal(cp_conf_parse(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c.cluster.name, "x1");
	assert_int_equal(c.cluster.n_local, 2);
	assert_int_equal(c.cluster.n_peers, 2);
	assert_int_equal(c.cluster.peers[1].sync_address.family, LB_AF_INET6);
	assert_int_equal(c.cluster.join_timeout_s, 5);
	static const struct {
		const char *text, *err;
	} bad[] = {
		{"cluster = { peers = ( { name = \"x2\"; } ); };", "sync_address"},
		{"cluster = { peers = ( { name = \"x2\"; sync_address = \"nope\"; } ); };",
		 "not an IPv4 or IPv6 address"},
		{"cluster = { name = \"x2\"; peers = ( { name = \"x2\"; sync_address = \"198.18.0.2\"; } ); };",
		 "this box's cluster.name"},
		{"cluster = { peers = ( { name = \"x2\"; sync_address = \"198.18.0.2\"; },"
		 " { name = \"x2\"; sync_address = \"198.18.0.3\"; } ); };", "used twice"},
		{"cluster = { local_addresses = [\"198.19.8.1\"]; peers = ( { name = \"x2\";"
		 " sync_address = \"198.18.0.2\"; local_addresses = [\"198.19.8.1\"]; } ); };",
		 "198.19.8.1 is named twice"},
		{"cluster = { local_addresses = [\"198.19.8.1\", \"198.19.8.1\"]; };", "named twice"},
		{"cluster = { local_addresses = [\"198.19.8.0/24\"]; };", "not an IPv4 or IPv6"},
		{"cluster = { join_timeout_s = 4000; };", "join_timeout_s"},
		{"cluster = { peer = 1; };", "cluster.peer: unknown setting"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cp_conf_parse(bad[i].text, &c, err, sizeof(err)), LB_EINVAL);
		if (strstr(err, bad[i].err) == NULL)
			fail_msg("%s: error '%s' lacks '%s'", bad[i].text, err, bad[i].err);
	}
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
		cmocka_unit_test(test_announce_snat_own_normal_and_peers_as_backups),
		cmocka_unit_test(test_announce_snat_follows_the_dp_the_join_and_the_drain),
		cmocka_unit_test(test_announce_join_gate_waits_for_the_bulk_copy_or_the_timeout),
		cmocka_unit_test(test_announce_cluster_config_defaults_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
