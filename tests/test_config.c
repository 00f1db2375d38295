/*
 * test_config.c - unit tests for dp/config.c (edgelb-dp's configuration file).
 *
 * Pure C, no EAL: configs are strings parsed with lb_dp_conf_parse(), plus the
 * shipped example conf/edgelb-dp.conf, found under $EDGELB_SRC (or argv[1], or ".").
 * Error fixtures are a table {description, config text, expected message part}: every
 * rejected config must return LB_EINVAL, name the setting path and its line, and
 * leave nothing allocated. Run under ASan to catch leaks on the error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "lb_addr.h"
#include "lb_error.h"
#include "lb_model.h"

static const char *src_dir = ".";

/* One port, used by the configs that test something else. Two lines. */
#define PORT0 \
	"ports = ( { name = \"ext\"; device = \"net_null0\"; role = \"both\";\n" \
	"  addresses = [\"198.18.0.2/24\", \"2001:db8:1::2/64\"]; local_addresses = [\"198.18.0.3\"]; } );\n"

static struct lb_addr
addr(const char *s)
{
	struct lb_addr a;

	assert_int_equal(lb_addr_parse(s, &a), 0);
	return a;
}

static void
parse_ok(const char *text, struct lb_dp_conf *c)
{
	char err[512] = "";
	int rc = lb_dp_conf_parse(text, c, err, sizeof(err));

	if (rc != 0)
		fail_msg("unexpected error %d: %s", rc, err);
	assert_string_equal(err, "");
}

static void
assert_nothing_allocated(const struct lb_dp_conf *c)
{
	assert_null(c->routes);
	assert_null(c->neighs);
	assert_null(c->services);
	assert_int_equal(c->n_routes, 0);
	assert_int_equal(c->n_neighs, 0);
	assert_int_equal(c->n_services, 0);
}

/* Parse text expecting LB_EINVAL and a message containing want; returns nothing. */
static void
parse_bad(const char *what, const char *text, const char *want)
{
	struct lb_dp_conf c;
	char err[512] = "";
	int rc = lb_dp_conf_parse(text, &c, err, sizeof(err));

	if (rc != LB_EINVAL || strstr(err, want) == NULL)
		fail_msg("%s: rc %d, message \"%s\", expected one containing \"%s\"", what, rc, err,
			 want);
	assert_nothing_allocated(&c);
}

/* ------------------------------------------------------------ the example file */

static void
test_config_example_file_parses(void **state)
{
	struct lb_dp_conf c;
	char path[4096], err[512] = "";
	struct lb_addr a;

	(void)state;
	snprintf(path, sizeof(path), "%s/conf/edgelb-dp.conf", src_dir);
	if (lb_dp_conf_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);

	assert_int_equal(c.n_workers, 2);
	assert_int_equal(c.worker_lcores[0], 1);
	assert_int_equal(c.worker_lcores[1], 2);
	assert_true(c.hash_seed == 0x5eed5eed5eed5eedULL);
	assert_int_equal(c.control_socket_mode, 0660);

	assert_int_equal(c.n_ports, 2);
	assert_string_equal(c.ports[0].name, "ext");
	assert_int_equal(c.ports[0].role, LB_ROLE_EXTERNAL);
	assert_int_equal(c.ports[1].role, LB_ROLE_INTERNAL);
	assert_non_null(strstr(c.ports[0].device, "net_pcap"));
	assert_non_null(strstr(c.ports[1].device, "net_pcap"));
	assert_true(c.ports[0].mac_set);
	assert_int_equal(c.ports[1].n_local, 3);
	assert_int_equal(lb_dp_conf_port_index(&c, "int"), 1);

	assert_int_equal(c.n_routes, 2);
	assert_int_equal(c.routes[0].prefix.len, 0);
	a = addr("198.18.0.1");
	assert_true(lb_addr_eq(&c.routes[0].via, &a));
	assert_true(c.n_neighs >= 4);

	assert_int_equal(c.n_services, 3);
	/* IPv4 TCP fnat on 80 with three backends */
	assert_int_equal(c.services[0].vip.family, LB_AF_INET);
	assert_int_equal(c.services[0].port, 80);
	assert_int_equal(c.services[0].proto, LB_PROTO_TCP);
	assert_int_equal(c.services[0].mode, LB_MODE_FNAT);
	assert_int_equal(c.services[0].sched, LB_SCHED_MAGLEV);
	assert_int_equal(c.services[0].n_backends, 3);
	assert_int_equal(c.services[0].backends[2].weight, 2);
	assert_int_equal(c.services[0].backends[2].state, LB_BACKEND_DRAINING);
	/* IPv6 */
	assert_int_equal(c.services[1].vip.family, LB_AF_INET6);
	assert_int_equal(c.services[1].affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(c.services[1].n_source_ranges, 2);
	/* UDP on 53 */
	assert_int_equal(c.services[2].proto, LB_PROTO_UDP);
	assert_int_equal(c.services[2].port, 53);
	for (uint32_t i = 0; i < c.n_services; i++)
		assert_int_equal(lb_svc_spec_validate(&c.services[i], err, sizeof(err)), 0);
	lb_dp_conf_free(&c);
	assert_nothing_allocated(&c);
}

/* ------------------------------------------------------------ defaults and values */

static void
test_config_minimal_gets_every_default(void **state)
{
	struct lb_dp_conf c;
	const char *text = "ports = ( { name = \"p0\"; device = \"0000:3b:00.0\"; role = \"external\"; } );";

	(void)state;
	parse_ok(text, &c);
	assert_int_equal(c.n_workers, 0);
	assert_int_equal(c.burst, 32);
	assert_int_equal(c.idle_sleep_us, 0);
	assert_int_equal(c.mbufs, 0);
	assert_true(c.hash_seed == 0x5eed5eed5eed5eedULL);
	assert_int_equal(c.max_services, 16384);
	assert_int_equal(c.max_backends, 65536);
	assert_int_equal(c.steering, LB_STEER_AUTO);
	assert_int_equal(c.snat_port_lo, 1024);
	assert_int_equal(c.snat_port_hi, 65535);
	assert_string_equal(c.control_socket, "/run/edgelb/dp.sock");
	assert_int_equal(c.control_socket_mode, 0600);
	assert_int_equal(c.ct_capacity, 262144);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_SYN], 30);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_ESTABLISHED], 900);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_CLOSING], 30);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_CLOSED], 10);
	assert_int_equal(c.ct_timeout_s[LB_CT_UDP], 30);
	assert_int_equal(c.ct_timeout_s[LB_CT_UDP_STREAM], 120);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_UNCONFIRMED], 10);
	assert_int_equal(c.ct_rst_window, 65536);
	assert_int_equal(c.affinity_capacity, 65536);
	assert_int_equal(c.neigh.reachable_ms, 30000);
	assert_int_equal(c.neigh.stale_ms, 60000);
	assert_int_equal(c.neigh.retrans_ms, 1000);
	assert_int_equal(c.neigh.probes, 3);
	assert_int_equal(c.neigh.retry_max_ms, 60000);
	assert_int_equal(c.neigh.probe_rate, 200);
	assert_int_equal(c.n_ports, 1);
	assert_int_equal(c.ports[0].mtu, 1500);
	assert_string_equal(c.ports[0].exception, "");
	assert_int_equal(c.ports[0].rx_desc, 1024);
	assert_int_equal(c.ports[0].tx_desc, 1024);
	assert_false(c.ports[0].mac_set);
	assert_int_equal(c.ports[0].n_addrs, 0);
	assert_int_equal(c.ports[0].n_local, 0);
	assert_nothing_allocated(&c);
	lb_dp_conf_free(&c);
}

static void
test_config_defaults_function_matches_parsed_defaults(void **state)
{
	struct lb_dp_conf a, b;

	(void)state;
	lb_dp_conf_defaults(&a);
	parse_ok("ports = ( { name = \"p\"; device = \"d\"; role = \"both\"; } );", &b);
	memset(&b.ports, 0, sizeof(b.ports));
	b.n_ports = 0;
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_config_sync_group(void **state)
{
	struct lb_dp_conf c;
	struct lb_addr a;
	const char *text = PORT0
		"sync = { enabled = true; port = 9000; id = 4000000000L; key_file = \"/etc/k\";\n"
		"  peers = [\"198.18.0.12\", \"2001:db8::12\"]; refresh_s = 5; batch = 8;\n"
		"  flush_ms = 2; bulk_timeout_ms = 0; capacity = 1024; max_age_s = 10;\n"
		"  onlink_takeover = true; takeover_ms = 500; heartbeat_ms = 50; };\n";

	(void)state;
	parse_ok(PORT0, &c);
	assert_false(c.sync.enabled);
	assert_int_equal(c.sync.port, 7471);
	assert_int_equal(c.sync.refresh_s, 30);
	assert_int_equal(c.sync.batch, 15);
	assert_int_equal(c.sync.flush_ms, 5);
	assert_int_equal(c.sync.bulk_timeout_ms, 5000);
	assert_int_equal(c.sync.capacity, 262144);
	assert_int_equal(c.sync.max_age_s, 60);
	assert_false(c.sync.onlink_takeover);
	assert_int_equal(c.sync.takeover_ms, 1000);
	assert_int_equal(c.sync.heartbeat_ms, 200);
	assert_int_equal(c.sync.n_peers, 0);
	lb_dp_conf_free(&c);
	parse_ok(text, &c);
	assert_true(c.sync.enabled);
	assert_int_equal(c.sync.port, 9000);
	assert_true(c.sync.id == 4000000000u);
	assert_string_equal(c.sync.key_file, "/etc/k");
	assert_int_equal(c.sync.n_peers, 2);
	assert_int_equal(lb_addr_parse("2001:db8::12", &a), 0);
	assert_true(lb_addr_eq(&c.sync.peers[1], &a));
	assert_int_equal(c.sync.refresh_s, 5);
	assert_int_equal(c.sync.batch, 8);
	assert_int_equal(c.sync.flush_ms, 2);
	assert_int_equal(c.sync.bulk_timeout_ms, 0);
	assert_int_equal(c.sync.capacity, 1024);
	assert_int_equal(c.sync.max_age_s, 10);
	assert_true(c.sync.onlink_takeover);
	assert_int_equal(c.sync.takeover_ms, 500);
	assert_int_equal(c.sync.heartbeat_ms, 50);
	lb_dp_conf_free(&c);
}

static void
test_config_every_option_is_read(void **state)
{
	struct lb_dp_conf c;
	const char *text =
		"dp: { workers = [3, 1]; burst = 64; idle_sleep_us = 100000; mbufs = 131071;\n"
		"  hash_seed = 0xdeadbeefdeadbeefL; max_services = 1; max_backends = 4;\n"
		"  steering = \"ring\"; snat_ports = [2000, 3000]; control_socket = \"\";\n"
		"  control_socket_mode = \"0660\"; };\n"
		"conntrack: { capacity = 1; timeouts: { tcp_syn = 1; tcp_established = 86400;\n"
		"  tcp_closing = 2; tcp_closed = 3; udp = 4; udp_stream = 5; tcp_unconfirmed = 6; };\n"
		"  rst_window = 0; };\n"
		"affinity: { capacity = 16777216; };\n"
		"ports = ( { name = \"a\"; device = \"net_ring0\"; role = \"internal\"; mtu = 9600;\n"
		"  rx_desc = 64; tx_desc = 16384; mac = \"0A:0b:0c:0d:0e:0f\";\n"
		"  addresses = [\"198.18.0.2/24\", \"2001:db8::2/64\", \"198.19.0.1\"];\n"
		"  local_addresses = [\"198.18.0.9\", \"2001:db8::9\"]; exception = \"dpx\"; } );\n"
		"routes = ( { prefix = \"198.18.128.0/17\"; port = \"a\"; },\n"
		"  { prefix = \"2001:db8:ffff::/48\"; via = \"2001:db8::1\"; } );\n"
		"neighbours = ( { address = \"2001:db8::1\"; mac = \"02:00:00:00:00:01\"; port = \"a\"; } );\n"
		"services = ( { name = \"s\"; vip = \"2001:db8:f::1\"; port = 65535; protocol = \"UDP\";\n"
		"  mode = \"dnat\"; maglev_size = 1048573;\n"
		"  session_affinity = { type = \"ClientIP\"; timeout_seconds = 86400; };\n"
		"  source_ranges = [\"0.0.0.0/0\", \"2001:db8::/32\"];\n"
		"  backends = ( { address = \"2001:db8::10\"; port = 1; weight = 0; state = \"down\"; },\n"
		"    { address = \"2001:db8::11\"; port = 1; weight = 65535; } ); } );\n";
	struct lb_addr a;

	(void)state;
	parse_ok(text, &c);
	assert_int_equal(c.n_workers, 2);
	assert_int_equal(c.worker_lcores[0], 3);
	assert_int_equal(c.worker_lcores[1], 1);
	assert_int_equal(c.burst, 64);
	assert_int_equal(c.idle_sleep_us, 100000);
	assert_int_equal(c.mbufs, 131071);
	assert_true(c.hash_seed == 0xdeadbeefdeadbeefULL);
	assert_int_equal(c.max_services, 1);
	assert_int_equal(c.max_backends, 4);
	assert_int_equal(c.steering, LB_STEER_RING);
	assert_int_equal(c.snat_port_lo, 2000);
	assert_int_equal(c.snat_port_hi, 3000);
	assert_string_equal(c.control_socket, "");
	assert_int_equal(c.control_socket_mode, 0660);
	assert_int_equal(c.ct_capacity, 1);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_SYN], 1);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_ESTABLISHED], 86400);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_CLOSING], 2);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_CLOSED], 3);
	assert_int_equal(c.ct_timeout_s[LB_CT_UDP], 4);
	assert_int_equal(c.ct_timeout_s[LB_CT_UDP_STREAM], 5);
	assert_int_equal(c.ct_timeout_s[LB_CT_TCP_UNCONFIRMED], 6);
	assert_int_equal(c.ct_rst_window, 0);
	assert_int_equal(c.affinity_capacity, 16777216);

	assert_int_equal(c.ports[0].role, LB_ROLE_INTERNAL);
	assert_int_equal(c.ports[0].mtu, 9600);
	assert_string_equal(c.ports[0].exception, "dpx");
	assert_int_equal(c.ports[0].rx_desc, 64);
	assert_int_equal(c.ports[0].tx_desc, 16384);
	assert_true(c.ports[0].mac_set);
	assert_int_equal(c.ports[0].mac[0], 0x0a);
	assert_int_equal(c.ports[0].mac[5], 0x0f);
	assert_int_equal(c.ports[0].n_addrs, 3);
	a = addr("198.18.0.2");
	assert_true(lb_addr_eq(&c.ports[0].addrs[0].addr, &a)); /* host bits kept */
	assert_int_equal(c.ports[0].addrs[0].len, 24);
	assert_int_equal(c.ports[0].addrs[1].len, 64);
	assert_int_equal(c.ports[0].addrs[2].len, 32); /* bare address: host prefix */
	assert_int_equal(c.ports[0].n_local, 2);

	assert_int_equal(c.n_routes, 2);
	assert_int_equal(c.routes[0].via.family, 0); /* directly connected */
	assert_string_equal(c.routes[0].port, "a");
	assert_int_equal(c.routes[1].prefix.len, 48);
	assert_string_equal(c.routes[1].port, ""); /* found from via's subnet by the dp */

	assert_int_equal(c.n_neighs, 1);
	assert_int_equal(c.neighs[0].mac[5], 1);

	assert_int_equal(c.n_services, 1);
	assert_string_equal(c.services[0].name, "s");
	assert_int_equal(c.services[0].port, 65535);
	assert_int_equal(c.services[0].proto, LB_PROTO_UDP);
	assert_int_equal(c.services[0].mode, LB_MODE_DNAT);
	assert_int_equal(c.services[0].maglev_m, 1048573);
	assert_int_equal(c.services[0].affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(c.services[0].affinity_timeout, 86400);
	assert_int_equal(c.services[0].n_source_ranges, 2);
	assert_int_equal(c.services[0].source_ranges[0].len, 0);
	assert_int_equal(c.services[0].n_backends, 2);
	assert_int_equal(c.services[0].backends[0].weight, 0);
	assert_int_equal(c.services[0].backends[0].state, LB_BACKEND_DOWN);
	assert_int_equal(c.services[0].backends[1].weight, 65535);
	assert_int_equal(c.services[0].backends[1].state, LB_BACKEND_ACTIVE);
	lb_dp_conf_free(&c);
	assert_nothing_allocated(&c);
	lb_dp_conf_free(&c); /* twice is harmless */
}

/*
 * The contract's case rule (include/lb_model.h): the names the control socket
 * reads in any case are read in any case here too, through the same table.
 */
static void
test_config_names_are_read_in_any_case(void **state)
{
	struct lb_dp_conf c;

	(void)state;
	parse_ok(PORT0 "dp: { steering = \"RING\"; };\n"
		 "services = ( { name = \"s\"; vip = \"198.18.0.100\"; port = 80; protocol = \"Udp\";\n"
		 "  mode = \"DNAT\"; scheduler = \"Wrr\"; session_affinity = { type = \"clientip\"; };\n"
		 "  backends = ( { address = \"198.18.0.10\"; port = 80; state = \"Active\"; },\n"
		 "    { address = \"198.18.0.11\"; port = 80; state = \"DOWN\"; } ); } );\n", &c);
	assert_int_equal(c.steering, LB_STEER_RING);
	assert_int_equal(c.services[0].proto, LB_PROTO_UDP);
	assert_int_equal(c.services[0].mode, LB_MODE_DNAT);
	assert_int_equal(c.services[0].sched, LB_SCHED_WRR);
	assert_int_equal(c.services[0].affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(c.services[0].backends[0].state, LB_BACKEND_ACTIVE);
	assert_int_equal(c.services[0].backends[1].state, LB_BACKEND_DOWN);
	lb_dp_conf_free(&c);
}

static void
test_config_service_defaults(void **state)
{
	struct lb_dp_conf c;

	(void)state;
	parse_ok(PORT0 "services = ( { name = \"empty\"; vip = \"198.18.0.100\"; port = 80; } );", &c);
	assert_int_equal(c.n_services, 1);
	assert_int_equal(c.services[0].proto, LB_PROTO_TCP);
	assert_int_equal(c.services[0].mode, LB_MODE_FNAT);
	assert_int_equal(c.services[0].maglev_m, LB_MAGLEV_M_DEFAULT);
	assert_int_equal(c.services[0].sched, LB_SCHED_MAGLEV);
	assert_int_equal(c.services[0].affinity, LB_AFFINITY_NONE);
	assert_int_equal(c.services[0].affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	assert_int_equal(c.services[0].n_backends, 0); /* no backends is valid */
	assert_null(c.services[0].backends);
	assert_int_equal(c.services[0].n_source_ranges, 0);
	lb_dp_conf_free(&c);

	parse_ok(PORT0 "services = ( { name = \"b\"; vip = \"198.18.0.100\"; port = 80;\n"
		 "  backends = ( { address = \"198.18.0.10\"; port = 8080; } ); } );", &c);
	assert_int_equal(c.services[0].backends[0].weight, 1);
	assert_int_equal(c.services[0].backends[0].state, LB_BACKEND_ACTIVE);
	lb_dp_conf_free(&c);
}

static void
test_config_same_vip_port_with_other_protocol_is_a_different_service(void **state)
{
	struct lb_dp_conf c;

	(void)state;
	parse_ok(PORT0 "services = ( { name = \"t\"; vip = \"198.18.0.100\"; port = 53; },\n"
		 "{ name = \"u\"; vip = \"198.18.0.100\"; port = 53; protocol = \"udp\"; } );", &c);
	assert_int_equal(c.n_services, 2);
	lb_dp_conf_free(&c);
}

static void
test_config_sections_may_come_in_any_order(void **state)
{
	struct lb_dp_conf c;

	(void)state;
	parse_ok("routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; port = \"ext\"; } );\n"
		 "services = ( { name = \"s\"; vip = \"198.18.0.100\"; port = 80; } );\n"
		 "dp: { max_services = 1; };\n" PORT0, &c);
	assert_int_equal(c.n_routes, 1);
	assert_int_equal(c.n_services, 1);
	lb_dp_conf_free(&c);
}

static void
test_config_hash_seed_forms(void **state)
{
	static const struct {
		const char *text;
		uint64_t want;
	} cases[] = {
		{ "0x0123456789abcdefL", 0x0123456789abcdefULL },
		{ "0xfedcba9876543210L", 0xfedcba9876543210ULL },
		{ "\"0xFEDCBA9876543210\"", 0xfedcba9876543210ULL },
		{ "\"18446744073709551615\"", UINT64_MAX },
		{ "0xdeadbeef", 0xdeadbeefULL }, /* int without L: the 32 bits written */
		{ "42", 42 },
		{ "42L", 42 },
	};
	char text[512];
	struct lb_dp_conf c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "dp: { hash_seed = %s; };\n" PORT0, cases[i].text);
		parse_ok(text, &c);
		if (c.hash_seed != cases[i].want)
			fail_msg("%s: got %#llx", cases[i].text, (unsigned long long)c.hash_seed);
		lb_dp_conf_free(&c);
	}
}

static void
test_config_socket_mode_forms(void **state)
{
	struct lb_dp_conf c;

	(void)state;
	parse_ok("dp: { control_socket_mode = \"660\"; };\n" PORT0, &c);
	assert_int_equal(c.control_socket_mode, 0660);
	parse_ok("dp: { control_socket_mode = 384; };\n" PORT0, &c);
	assert_int_equal(c.control_socket_mode, 0600);
	parse_ok("dp: { control_socket_mode = 0x1b0; };\n" PORT0, &c);
	assert_int_equal(c.control_socket_mode, 0660);
}

/* neighbour_cache: the timers of ARP/NDP entries (issue 14, finding 6) */
static void
test_config_neighbour_cache(void **state)
{
	struct lb_dp_conf c;
	char err[512];

	(void)state;
	parse_ok("neighbour_cache: { reachable_ms = 1000; stale_ms = 2000; retrans_ms = 200;\n"
		 "  probes = 2; retry_max_ms = 4000; probe_rate = 50; };\n" PORT0, &c);
	assert_int_equal(c.neigh.reachable_ms, 1000);
	assert_int_equal(c.neigh.stale_ms, 2000);
	assert_int_equal(c.neigh.retrans_ms, 200);
	assert_int_equal(c.neigh.probes, 2);
	assert_int_equal(c.neigh.retry_max_ms, 4000);
	assert_int_equal(c.neigh.probe_rate, 50);
	lb_dp_conf_free(&c);
	assert_int_equal(lb_dp_conf_parse("neighbour_cache: { probes = 0; };\n" PORT0, &c, err,
					  sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "neighbour_cache.probes"));
	assert_int_equal(lb_dp_conf_parse("neighbour_cache: { reachable_ms = 10; };\n" PORT0, &c,
					  err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "neighbour_cache.reachable_ms"));
}

/* The exception path's rate limit: defaults, every setting, the sources list, ranges. */
static void
test_config_exception_limits(void **state)
{
	struct lb_dp_conf c;
	struct lb_addr a;
	char err[512];

	(void)state;
	parse_ok(PORT0, &c);
	assert_int_equal(c.exc_rate_pps, 10000);
	assert_int_equal(c.exc_burst, 1000);
	assert_int_equal(c.exc_prio_rate_pps, 50000);
	assert_int_equal(c.exc_prio_burst, 5000);
	assert_int_equal(c.n_exc_sources, 0);
	assert_int_equal(c.maglev_cache_kb, 2048);
	assert_int_equal(c.builder_nice, 10);
	lb_dp_conf_free(&c);
	parse_ok("dp: { builder_nice = 0; };\n" PORT0, &c);
	assert_int_equal(c.builder_nice, 0);
	lb_dp_conf_free(&c);
	assert_int_equal(lb_dp_conf_parse("dp: { builder_nice = 20; };\n" PORT0, &c, err,
					  sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "dp.builder_nice"));
	parse_ok("dp: { maglev_cache_kb = 0; };\n" PORT0, &c);
	assert_int_equal(c.maglev_cache_kb, 0);
	lb_dp_conf_free(&c);
	assert_int_equal(lb_dp_conf_parse("dp: { maglev_cache_kb = 1048577; };\n" PORT0, &c, err,
					  sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "dp.maglev_cache_kb"));
	parse_ok("dp: { exception_rate_pps = 0; exception_burst = 1; exception_priority_rate_pps = 7;\n"
		 "  exception_priority_burst = 1000000;\n"
		 "  exception_priority_sources = [\"198.18.0.254/32\", \"2001:db8:1::/64\"]; };\n" PORT0,
		 &c);
	assert_int_equal(c.exc_rate_pps, 0);
	assert_int_equal(c.exc_burst, 1);
	assert_int_equal(c.exc_prio_rate_pps, 7);
	assert_int_equal(c.exc_prio_burst, 1000000);
	assert_int_equal(c.n_exc_sources, 2);
	a = addr("198.18.0.254");
	assert_true(lb_addr_eq(&c.exc_sources[0].addr, &a));
	assert_int_equal(c.exc_sources[0].len, 32);
	a = addr("2001:db8:1::");
	assert_true(lb_addr_eq(&c.exc_sources[1].addr, &a));
	assert_int_equal(c.exc_sources[1].len, 64);
	lb_dp_conf_free(&c);
	assert_int_equal(lb_dp_conf_parse("dp: { exception_burst = 0; };\n" PORT0, &c, err,
					  sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "dp.exception_burst"));
	assert_int_equal(lb_dp_conf_parse("dp: { exception_rate_pps = 100000001; };\n" PORT0, &c,
					  err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "dp.exception_rate_pps"));
	assert_int_equal(lb_dp_conf_parse("dp: { exception_priority_sources = [\"198.18.0.1/24\"]; };\n"
					  PORT0, &c, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "dp.exception_priority_sources.[0]"));
}

/* ------------------------------------------------------------ errors */

struct bad_case {
	const char *what;
	const char *text;
	const char *want; /* part of the message: the path, the complaint and the line */
};

static const struct bad_case bad_cases[] = {
	{ "exception interface name too long",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\"; exception = \"a-very-long-name\"; } );",
	  "ports.[0].exception: 'a-very-long-name...' is too long (at most 15 characters) (line 1)" },
	{ "bad address",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.300\"; port = 80; } );\n",
	  "services.[0].vip: '198.18.0.300' is not an IPv4 or IPv6 address (line 3)" },
	{ "bad prefix /33",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\";\n"
	  "  addresses = [\"198.18.0.2/24\",\n"
	  "    \"198.18.0.1/33\"]; } );\n",
	  "ports.[0].addresses.[1]: '198.18.0.1/33' is not an address/prefix (line 3)" },
	{ "bad IPv6 prefix /129",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\"; addresses = [\"2001:db8::1/129\"]; } );",
	  "ports.[0].addresses.[0]: '2001:db8::1/129' is not an address/prefix (line 1)" },
	{ "non-prime maglev size",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  maglev_size = 65536; } );\n",
	  "services.[0].maglev_size: 65536 is not a prime in 3..1048573" },
	{ "unknown scheduler",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; scheduler = \"lblc\"; } );\n",
	  "services.[0].scheduler: 'lblc' is not one of maglev, rr, wrr, lc, wlc, sh, dh, sed, nq (line 3)" },
	{ "maglev size above the maximum",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; maglev_size = 1048583; } );\n",
	  "services.[0].maglev_size: 1048583 is not a prime" },
	{ "duplicate service key",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; },\n"
	  "  { name = \"b\"; vip = \"198.18.0.100\"; port = 80; protocol = \"tcp\"; } );\n",
	  "services.[1]: 198.18.0.100 port 80 tcp is already served by services.[0] 'a' (line 4)" },
	{ "duplicate service name",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; },\n"
	  "  { name = \"a\"; vip = \"198.18.0.100\"; port = 81; } );\n",
	  "services.[1].name: service name 'a' is already used by services.[0] (line 4)" },
	{ "duplicate port name",
	  "ports = ( { name = \"ext\"; device = \"d0\"; role = \"external\"; },\n"
	  "  { name = \"ext\"; device = \"d1\"; role = \"internal\"; } );\n",
	  "ports.[1].name: port name 'ext' is already used by ports.[0] (line 2)" },
	{ "duplicate port device",
	  "ports = ( { name = \"a\"; device = \"d0\"; role = \"external\"; },\n"
	  "  { name = \"b\"; device = \"d0\"; role = \"internal\"; } );\n",
	  "ports.[1].device: device 'd0' is already used by ports.[0] (line 2)" },
	{ "sync enabled without an id",
	  PORT0 "sync = { enabled = true; key_file = \"/k\"; };\n",
	  "sync.id: is required when sync is enabled" },
	{ "sync enabled without a key file",
	  PORT0 "sync = { enabled = true; id = 3; };\n",
	  "sync.key_file: is required when sync is enabled" },
	{ "sync peer listed twice",
	  PORT0 "sync = { peers = [\"198.18.0.2\", \"198.18.0.2\"]; };\n",
	  "sync.peers.[1]: peer listed twice" },
	{ "sync batch over a datagram",
	  PORT0 "sync = { batch = 16; };\n",
	  "sync.batch: 16 is out of range" },
	{ "unknown top-level setting",
	  PORT0 "servics = ();\n",
	  "servics: unknown setting (expected one of: dp, conntrack, affinity, neighbour_cache, ports, "
	  "routes, neighbours, services, sync) (line 3)" },
	{ "unknown setting in a group",
	  "dp: {\n  bursts = 32;\n};\n" PORT0,
	  "dp.bursts: unknown setting" },
	{ "unknown setting in a nested group",
	  "conntrack: { timeouts: {\n tcp_establised = 900; }; };\n" PORT0,
	  "conntrack.timeouts.tcp_establised: unknown setting" },
	{ "unknown setting in a backend",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  backends = ( { address = \"198.18.0.10\"; port = 80; weigth = 2; } ); } );\n",
	  "services.[0].backends.[0].weigth: unknown setting (expected one of: address, port, "
	  "weight, state) (line 4)" },
	{ "wrong type: string for an integer",
	  "dp: { burst = \"32\"; };\n" PORT0,
	  "dp.burst: expected an integer, got a string (line 1)" },
	{ "wrong type: float for an integer",
	  "dp: { burst = 32.0; };\n" PORT0,
	  "dp.burst: expected an integer, got a float (line 1)" },
	{ "wrong type: group for the port list",
	  "ports = { name = \"ext\"; };\n",
	  "ports: expected a list ( ) or array [ ], got a group { } (line 1)" },
	{ "wrong type: scalar in the port list",
	  "ports = ( \"ext\" );\n",
	  "ports.[0]: expected a group { }, got a string (line 1)" },
	{ "wrong type: integer in an address list",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\"; local_addresses = [1]; } );\n",
	  "ports.[0].local_addresses.[0]: expected a string, got an integer (line 1)" },
	{ "wrong type: backend port as a string",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  backends = ( { address = \"198.18.0.10\"; port = \"80\"; } ); } );\n",
	  "services.[0].backends.[0].port: expected an integer, got a string (line 4)" },
	{ "affinity timeout 0",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  session_affinity = { type = \"ClientIP\"; timeout_seconds = 0; }; } );\n",
	  "services.[0].session_affinity.timeout_seconds: 0 is out of range 1..86400 (line 4)" },
	{ "affinity timeout 86401",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  session_affinity = { type = \"ClientIP\";\n timeout_seconds = 86401; }; } );\n",
	  "services.[0].session_affinity.timeout_seconds: 86401 is out of range 1..86400 (line 5)" },
	{ "affinity type unknown",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  session_affinity = { type = \"Cookie\"; }; } );\n",
	  "services.[0].session_affinity.type: 'Cookie' is not one of None, ClientIP (line 4)" },
	{ "backend family mismatch",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; backends = (\n"
	  "  { address = \"198.18.0.10\"; port = 80; },\n"
	  "  { address = \"2001:db8::10\"; port = 80; } ); } );\n",
	  "services.[0].backends.[1].address: 2001:db8::10 is IPv6 but the VIP is IPv4 (line 5)" },
	{ "duplicate backend",
	  PORT0 "services = ( { name = \"a\"; vip = \"2001:db8::100\"; port = 80; backends = (\n"
	  "  { address = \"2001:db8::10\"; port = 80; },\n"
	  "  { address = \"2001:db8::11\"; port = 80; },\n"
	  "  { address = \"2001:db8:0::10\"; port = 80; } ); } );\n",
	  "services.[0].backends.[2]: [2001:db8::10]:80 is already backends.[0] (line 6)" },
	{ "backend state unknown",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; backends = (\n"
	  "  { address = \"198.18.0.10\"; port = 80; state = \"up\"; } ); } );\n",
	  "services.[0].backends.[0].state: 'up' is not one of active, draining, down (line 4)" },
	{ "backend port 0",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; backends = (\n"
	  "  { address = \"198.18.0.10\"; port = 0; } ); } );\n",
	  "services.[0].backends.[0].port: 0 is out of range 1..65535 (line 4)" },
	{ "backend weight above 65535",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; backends = (\n"
	  "  { address = \"198.18.0.10\"; port = 1; weight = 65536; } ); } );\n",
	  "services.[0].backends.[0].weight: 65536 is out of range 0..65535 (line 4)" },
	{ "backend without port",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; backends = (\n"
	  "  { address = \"198.18.0.10\"; } ); } );\n",
	  "services.[0].backends.[0].port: required setting missing (line 4)" },
	{ "service without vip",
	  PORT0 "services = ( { name = \"a\"; port = 80; } );\n",
	  "services.[0].vip: required setting missing (line 3)" },
	{ "service with an empty name",
	  PORT0 "services = ( { name = \"\"; vip = \"198.18.0.100\"; port = 80; } );\n",
	  "services.[0].name: must not be empty (line 3)" },
	{ "service protocol unknown",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; protocol = \"sctp\"; } );\n",
	  "services.[0].protocol: 'sctp' is not one of tcp, udp (line 3)" },
	{ "service mode unknown",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; mode = \"dsr\"; } );\n",
	  "services.[0].mode: 'dsr' is not one of fnat, dnat, ipip, gue (line 3)" },
	{ "source range with host bits",
	  PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80;\n"
	  "  source_ranges = [\"198.18.0.0/15\", \"198.19.0.1/15\"]; } );\n",
	  "services.[0].source_ranges.[1]: '198.19.0.1/15' has host bits set (did you mean "
	  "198.18.0.0/15?) (line 4)" },
	{ "more services than max_services",
	  "dp: { max_services = 1; };\n" PORT0
	  "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; },\n"
	  "  { name = \"b\"; vip = \"198.18.0.100\"; port = 81; } );\n",
	  "services: 2 services, more than dp.max_services (1) (line 4)" },
	{ "more backends than max_backends",
	  "dp: { max_backends = 1; };\n" PORT0
	  "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; backends = (\n"
	  "  { address = \"198.18.0.10\"; port = 80; }, { address = \"198.18.0.11\"; port = 80; } ); } );\n",
	  "services.[0].backends: more than dp.max_backends (1) backends over all services (line 4)" },
	{ "route via unknown port",
	  PORT0 "routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\";\n  port = \"int\"; } );\n",
	  "routes.[0].port: no port named 'int' (line 4)" },
	{ "route prefix with host bits",
	  PORT0 "routes = ( { prefix = \"198.19.0.1/24\"; via = \"198.18.0.1\"; } );\n",
	  "routes.[0].prefix: '198.19.0.1/24' has host bits set (did you mean 198.19.0.0/24?) (line 3)" },
	{ "route prefix not a prefix",
	  PORT0 "routes = ( { prefix = \"default\"; via = \"198.18.0.1\"; } );\n",
	  "routes.[0].prefix: 'default' is not an address/prefix (line 3)" },
	{ "direct route without port",
	  PORT0 "routes = ( { prefix = \"198.19.0.0/24\"; } );\n",
	  "routes.[0].port: required when via is not set (line 3)" },
	{ "route via of the other family",
	  PORT0 "routes = ( { prefix = \"::/0\"; via = \"198.18.0.1\"; } );\n",
	  "routes.[0].via: 198.18.0.1 is IPv4 but the prefix is IPv6 (line 3)" },
	{ "route via outside every connected subnet",
	  PORT0 "routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.19.0.1\"; } );\n",
	  "routes.[0].via: 198.19.0.1 is in no port's connected subnet; set port (line 3)" },
	{ "duplicate route",
	  PORT0 "routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; },\n"
	  "  { prefix = \"0.0.0.0/0\"; via = \"198.18.0.254\"; } );\n",
	  "routes.[1].prefix: 0.0.0.0/0 is already routed by routes.[0] (line 4)" },
	{ "neighbour with a bad MAC",
	  PORT0 "neighbours = ( { address = \"198.18.0.1\"; mac = \"02:00:00:00:00\"; } );\n",
	  "neighbours.[0].mac: '02:00:00:00:00' is not a MAC address (xx:xx:xx:xx:xx:xx) (line 3)" },
	{ "neighbour with a multicast MAC",
	  PORT0 "neighbours = ( { address = \"198.18.0.1\"; mac = \"01:00:5e:00:00:01\"; } );\n",
	  "neighbours.[0].mac: '01:00:5e:00:00:01' is a multicast MAC address (line 3)" },
	{ "neighbour on an unknown port",
	  PORT0 "neighbours = ( { address = \"198.18.0.1\"; mac = \"02:00:00:00:00:01\"; port = \"x\"; } );\n",
	  "neighbours.[0].port: no port named 'x' (line 3)" },
	{ "neighbour outside every connected subnet",
	  PORT0 "neighbours = ( { address = \"198.19.0.1\"; mac = \"02:00:00:00:00:01\"; } );\n",
	  "neighbours.[0].address: 198.19.0.1 is in no port's connected subnet; set port (line 3)" },
	{ "too many local addresses on one port",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\"; local_addresses = [\n"
	  "\"198.18.1.1\", \"198.18.1.2\", \"198.18.1.3\", \"198.18.1.4\", \"198.18.1.5\", \"198.18.1.6\",\n"
	  "\"198.18.1.7\", \"198.18.1.8\", \"198.18.1.9\", \"198.18.1.10\", \"198.18.1.11\", \"198.18.1.12\",\n"
	  "\"198.18.1.13\", \"198.18.1.14\", \"198.18.1.15\", \"198.18.1.16\", \"198.18.1.17\" ]; } );\n",
	  "ports.[0].local_addresses: 17 local addresses on one port, at most 16 (line 1)" },
	{ "duplicate local address",
	  "ports = ( { name = \"a\"; device = \"d0\"; role = \"both\"; local_addresses = [\"198.18.1.1\"]; },\n"
	  "  { name = \"b\"; device = \"d1\"; role = \"both\"; local_addresses = [\"198.18.1.1\"]; } );\n",
	  "ports.[1].local_addresses.[0]: 198.18.1.1 is already a local address of ports.[0] (line 2)" },
	{ "too many ports",
	  "ports = ( {name=\"a\";device=\"0\";role=\"both\";}, {name=\"b\";device=\"1\";role=\"both\";},\n"
	  "{name=\"c\";device=\"2\";role=\"both\";}, {name=\"d\";device=\"3\";role=\"both\";},\n"
	  "{name=\"e\";device=\"4\";role=\"both\";}, {name=\"f\";device=\"5\";role=\"both\";},\n"
	  "{name=\"g\";device=\"6\";role=\"both\";}, {name=\"h\";device=\"7\";role=\"both\";},\n"
	  "{name=\"i\";device=\"8\";role=\"both\";} );\n",
	  "ports: 9 ports, at most 8 (line 1)" },
	{ "no ports at all", "dp: { burst = 32; };\n", "ports: required setting missing" },
	{ "empty port list", "ports = ();\n", "ports: at least one port is required (line 1)" },
	{ "port without device",
	  "ports = ( { name = \"ext\"; role = \"both\"; } );\n",
	  "ports.[0].device: required setting missing (line 1)" },
	{ "port role unknown",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"outside\"; } );\n",
	  "ports.[0].role: 'outside' is not one of external, internal, both (line 1)" },
	{ "port name too long",
	  "ports = ( { name = \"0123456789012345678901234567890123\"; device = \"d\"; role = \"both\"; } );\n",
	  "ports.[0].name: '0123456789012345678901234567890123...' is too long (at most 31 characters) "
	  "(line 1)" },
	{ "port mtu out of range",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\"; mtu = 67; } );\n",
	  "ports.[0].mtu: 67 is out of range 68..9600 (line 1)" },
	{ "descriptor count not a power of two",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\";\n rx_desc = 1000; } );\n",
	  "ports.[0].rx_desc: 1000 is not a power of two (line 2)" },
	{ "duplicate port address",
	  "ports = ( { name = \"ext\"; device = \"d\"; role = \"both\";\n"
	  " addresses = [\"198.18.0.2/24\", \"198.18.0.2/25\"]; } );\n",
	  "ports.[0].addresses.[1]: 198.18.0.2 is already an address of ports.[0] (line 2)" },
	{ "burst out of range",
	  "dp: { burst = 65; };\n" PORT0,
	  "dp.burst: 65 is out of range 1..64 (line 1)" },
	{ "idle sleep out of range",
	  "dp: { idle_sleep_us = 100001; };\n" PORT0,
	  "dp.idle_sleep_us: 100001 is out of range 0..100000 (line 1)" },
	{ "steering unknown",
	  "dp: { steering = \"rss\"; };\n" PORT0,
	  "dp.steering: 'rss' is not one of auto, rte_flow, ring (line 1)" },
	{ "snat range reversed",
	  "dp: { snat_ports = [2000, 1000]; };\n" PORT0,
	  "dp.snat_ports: lo 2000 must be below hi 1000 (line 1)" },
	{ "snat range with port 0",
	  "dp: { snat_ports = [0, 1000]; };\n" PORT0,
	  "dp.snat_ports.[0]: 0 is out of range 1..65535 (line 1)" },
	{ "snat range of three values",
	  "dp: { snat_ports = [1, 2, 3]; };\n" PORT0,
	  "dp.snat_ports: expected [lo, hi], got 3 values (line 1)" },
	{ "workers listed twice",
	  "dp: { workers = [1, 2, 1]; };\n" PORT0,
	  "dp.workers.[2]: lcore 1 is listed twice (line 1)" },
	{ "hash seed string not a number",
	  "dp: { hash_seed = \"0xnope\"; };\n" PORT0,
	  "dp.hash_seed: '0xnope' is not a 64-bit number" },
	{ "hash seed string with a sign",
	  "dp: { hash_seed = \"-5\"; };\n" PORT0,
	  "dp.hash_seed: '-5' is not a 64-bit number" },
	{ "hash seed negative",
	  "dp: { hash_seed = -5; };\n" PORT0,
	  "dp.hash_seed: -5 is negative" },
	{ "socket mode decimal 600",
	  "dp: { control_socket_mode = 600; };\n" PORT0,
	  "dp.control_socket_mode: 600 is out of range 0..511" },
	{ "socket mode not octal",
	  "dp: { control_socket_mode = \"0800\"; };\n" PORT0,
	  "dp.control_socket_mode: '0800' is not an octal mode" },
	{ "control socket path too long",
	  "dp: { control_socket = \"/run/0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789\"; };\n" PORT0,
	  "dp.control_socket: '/run/01234567890123456789012345678901234...' is too long (at most 107 "
	  "characters) (line 1)" },
	{ "conntrack capacity 0",
	  "conntrack: { capacity = 0; };\n" PORT0,
	  "conntrack.capacity: 0 is out of range 1..67108864 (line 1)" },
	{ "conntrack timeout 0",
	  "conntrack: { timeouts: { udp = 0; }; };\n" PORT0,
	  "conntrack.timeouts.udp: 0 is out of range 1..86400 (line 1)" },
	{ "affinity capacity too big",
	  "affinity: { capacity = 16777217; };\n" PORT0,
	  "affinity.capacity: 16777217 is out of range 1..16777216 (line 1)" },
	{ "broken syntax",
	  "dp: {\n  burst = 32;\n  idle_sleep_us = ;\n};\n" PORT0,
	  "syntax error (line 3)" },
	{ "duplicate setting",
	  "dp: { burst = 32;\n burst = 16; };\n" PORT0,
	  "duplicate setting name (line 2)" },
	/* the last service fails after routes, neighbours and services were allocated */
	{ "failure after allocations",
	  PORT0 "routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; } );\n"
	  "neighbours = ( { address = \"198.18.0.1\"; mac = \"02:00:00:00:00:01\"; } );\n"
	  "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; source_ranges = [\"198.18.0.0/15\"];\n"
	  "  backends = ( { address = \"198.18.0.10\"; port = 80; } ); },\n"
	  "  { name = \"b\"; vip = \"198.18.0.100\"; port = 81; source_ranges = [\"198.18.0.0/15\"];\n"
	  "  backends = ( { address = \"198.18.0.10\"; port = 80; }, { address = \"bad\"; port = 80; } ); } );\n",
	  "services.[1].backends.[1].address: 'bad' is not an IPv4 or IPv6 address (line 8)" },
};

static void
test_config_each_error_names_path_and_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		parse_bad(bad_cases[i].what, bad_cases[i].text, bad_cases[i].want);
}

static void
test_config_too_many_local_addresses_over_all_ports(void **state)
{
	char text[8192];
	size_t n = 0;

	(void)state;
	/* 5 ports x 13 = 65 local addresses: one more than LB_MAX_LOCAL_ADDRS */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "ports = (\n");
	for (int p = 0; p < 5; p++) {
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{ name = \"p%d\"; device = \"net_null%d\"; role = \"both\";\n"
				      "  local_addresses = [", p ? "," : "", p, p);
		for (int a = 0; a < 13; a++)
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"198.18.%d.%d\"",
					      a ? ", " : "", p, a + 1);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "]; }\n");
	}
	snprintf(text + n, sizeof(text) - n, ");\n");
	parse_bad("65 local addresses", text,
		  "ports.[4].local_addresses.[12]: more than 64 local addresses over all ports (line 11)");

	/* 64 is fine: drop the last address of the last port */
	char *last = strstr(text, ", \"198.18.4.13\"");
	assert_non_null(last);
	memmove(last, last + strlen(", \"198.18.4.13\""), strlen(last + strlen(", \"198.18.4.13\"")) + 1);
	struct lb_dp_conf c;
	parse_ok(text, &c);
	uint32_t total = 0;
	for (uint32_t p = 0; p < c.n_ports; p++)
		total += c.ports[p].n_local;
	assert_int_equal(total, LB_MAX_LOCAL_ADDRS);
}

static void
test_config_syntax_error_leaves_nothing_allocated(void **state)
{
	struct lb_dp_conf c;
	char err[256];

	(void)state;
	/* the whole services list parses in libconfig's tree before the error is found */
	for (int i = 0; i < 50; i++) {
		int rc = lb_dp_conf_parse(PORT0 "services = ( { name = \"a\"; vip = \"198.18.0.100\";"
					  " port = 80; } );\nroutes = ( { prefix = ",
					  &c, err, sizeof(err));
		assert_int_equal(rc, LB_EINVAL);
		assert_non_null(strstr(err, "syntax error (line 4)"));
		assert_nothing_allocated(&c);
	}
}

static void
test_config_null_arguments_and_small_error_buffers(void **state)
{
	struct lb_dp_conf c;
	char err[8];

	(void)state;
	assert_int_equal(lb_dp_conf_parse(NULL, &c, NULL, 0), LB_EINVAL);
	assert_int_equal(lb_dp_conf_parse("x = 1;", NULL, NULL, 0), LB_EINVAL);
	assert_int_equal(lb_dp_conf_parse("x = 1;", &c, NULL, 0), LB_EINVAL);
	assert_int_equal(lb_dp_conf_parse("x = 1;", &c, err, sizeof(err)), LB_EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1); /* truncated, terminated */
	assert_int_equal(lb_dp_conf_load(NULL, &c, NULL, 0), LB_EINVAL);
	assert_int_equal(lb_svc_spec_validate(NULL, NULL, 0), LB_EINVAL);
	assert_int_equal(lb_dp_conf_port_index(NULL, "x"), -1);
	lb_dp_conf_free(NULL);
}

/* ------------------------------------------------------------ files */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_config_load_reports_missing_file(void **state)
{
	struct lb_dp_conf c;
	char err[256];

	(void)state;
	assert_int_equal(lb_dp_conf_load("/nonexistent/edgelb-dp.conf", &c, err, sizeof(err)),
			 LB_EINVAL);
	assert_string_equal(err, "cannot open: No such file or directory");
	assert_nothing_allocated(&c);
}

static void
test_config_load_names_file_of_syntax_error_and_include(void **state)
{
	char dir[] = "/tmp/edgelb-test-config-XXXXXX";
	char main_path[256], inc_path[256], err[512];
	struct lb_dp_conf c;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(main_path, sizeof(main_path), "%s/dp.conf", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/services.conf", dir);

	write_file(main_path, "dp: {\n burst = ;\n};\n");
	assert_int_equal(lb_dp_conf_load(main_path, &c, err, sizeof(err)), LB_EINVAL);
	assert_string_equal(err, "syntax error (line 2)"); /* the caller names the file */

	/* @include resolves next to the main file, and errors in it name that file */
	write_file(main_path, PORT0 "@include \"services.conf\"\n");
	write_file(inc_path, "services = ( { name = \"a\"; vip = \"198.18.0.100\"; port = 80; } );\n");
	if (lb_dp_conf_load(main_path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.n_services, 1);
	lb_dp_conf_free(&c);

	write_file(inc_path, "services = ( { name = \"a\";\n port = ; } );\n");
	assert_int_equal(lb_dp_conf_load(main_path, &c, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "services.conf: syntax error (line 2)"));

	write_file(inc_path, "services = ( { name = \"a\"; vip = \"198.18.0.100\";\n port = 0; } );\n");
	assert_int_equal(lb_dp_conf_load(main_path, &c, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "services.[0].port: 0 is out of range 1..65535 ("));
	assert_non_null(strstr(err, "services.conf line 2)"));

	unlink(inc_path);
	unlink(main_path);
	rmdir(dir);
}

/* ------------------------------------------------------------ lb_svc_spec_validate */

struct svc_fixture {
	struct lb_svc_spec s;
	struct lb_backend_spec b[3];
	struct lb_prefix r[LB_MAX_SOURCE_RANGES + 1];
};

static void
good_spec(struct svc_fixture *f)
{
	memset(f, 0, sizeof(*f));
	lb_svc_spec_init(&f->s);
	snprintf(f->s.name, sizeof(f->s.name), "web");
	f->s.vip = addr("198.18.0.100");
	f->s.port = 80;
	f->s.proto = LB_PROTO_TCP;
	for (int i = 0; i < 3; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.19.0.%d", 10 + i);
		f->b[i].addr = addr(a);
		f->b[i].port = 8080;
		f->b[i].weight = 1;
	}
	f->s.backends = f->b;
	f->s.n_backends = 3;
	assert_int_equal(lb_prefix_parse("198.18.0.0/15", &f->r[0], NULL, true), 0);
	f->s.source_ranges = f->r;
	f->s.n_source_ranges = 1;
}

static void
validate_bad(const struct svc_fixture *f, const char *want)
{
	char err[256] = "";
	int rc = lb_svc_spec_validate(&f->s, err, sizeof(err));

	if (rc != LB_EINVAL || strcmp(err, want) != 0)
		fail_msg("rc %d, message \"%s\", expected \"%s\"", rc, err, want);
}

static void
test_svc_spec_validate_accepts_good_and_empty_specs(void **state)
{
	struct svc_fixture f;
	char err[128];

	(void)state;
	good_spec(&f);
	assert_int_equal(lb_svc_spec_validate(&f.s, err, sizeof(err)), 0);
	f.b[0].weight = 0;
	f.b[1].weight = LB_WEIGHT_MAX;
	f.b[2].state = LB_BACKEND_DOWN;
	assert_int_equal(lb_svc_spec_validate(&f.s, err, sizeof(err)), 0);
	f.s.n_backends = 0;
	f.s.backends = NULL;
	f.s.n_source_ranges = 0;
	f.s.source_ranges = NULL;
	assert_int_equal(lb_svc_spec_validate(&f.s, err, sizeof(err)), 0);
	/* same address, other port: not a duplicate */
	good_spec(&f);
	f.b[1].addr = f.b[0].addr;
	f.b[1].port = 8081;
	assert_int_equal(lb_svc_spec_validate(&f.s, err, sizeof(err)), 0);
}

static void
test_svc_spec_validate_names_the_bad_field(void **state)
{
	struct svc_fixture f;

	(void)state;
	good_spec(&f);
	f.s.name[0] = '\0';
	validate_bad(&f, "name: must not be empty");

	good_spec(&f);
	memset(f.s.name, 'x', sizeof(f.s.name));
	validate_bad(&f, "name: is longer than 127 characters");

	good_spec(&f);
	f.s.vip.family = 0;
	validate_bad(&f, "vip: is not set");

	good_spec(&f);
	f.s.port = 0;
	validate_bad(&f, "port: 0 is out of range 1..65535");

	good_spec(&f);
	f.s.proto = 1;
	validate_bad(&f, "protocol: 1 is neither tcp nor udp");

	good_spec(&f);
	f.s.mode = 4;
	validate_bad(&f, "mode: 4 is not one of fnat, dnat, ipip, gue");

	/* ipip/gue send the packet unchanged: the backend port must be the VIP's. */
	good_spec(&f);
	f.s.mode = LB_MODE_IPIP;
	validate_bad(&f, "backends.[0].port: 8080 differs from the service port 80: mode ipip "
			 "sends the packet unchanged, so the backend must listen on the VIP's port");
	good_spec(&f);
	f.s.mode = LB_MODE_GUE;
	for (int i = 0; i < 3; i++)
		f.b[i].port = 80;
	char err[256], where[64];
	assert_int_equal(lb_svc_spec_check(&f.s, err, sizeof(err), where, sizeof(where)), 0);

	good_spec(&f);
	f.s.maglev_m = 65535;
	validate_bad(&f, "maglev_size: 65535 is not a prime in 3..1048573");

	good_spec(&f);
	f.s.affinity = 5;
	validate_bad(&f, "session_affinity.type: 5 is neither None nor ClientIP");

	good_spec(&f);
	f.s.affinity_timeout = 0;
	validate_bad(&f, "session_affinity.timeout_seconds: 0 is out of range 1..86400");
	f.s.affinity_timeout = 86401;
	validate_bad(&f, "session_affinity.timeout_seconds: 86401 is out of range 1..86400");

	good_spec(&f);
	f.b[1].addr = addr("2001:db8::10");
	validate_bad(&f, "backends.[1].address: 2001:db8::10 is IPv6 but the VIP is IPv4");

	good_spec(&f);
	f.b[2].port = 0;
	validate_bad(&f, "backends.[2].port: 0 is out of range 1..65535");

	good_spec(&f);
	f.b[0].state = 3;
	validate_bad(&f, "backends.[0].state: 3 is not active, draining or down");

	good_spec(&f);
	f.b[2].addr = f.b[0].addr;
	validate_bad(&f, "backends.[2]: 198.19.0.10:8080 is already backends.[0]");

	good_spec(&f);
	f.s.n_backends = LB_MAX_BACKENDS_PER_SVC + 1;
	validate_bad(&f, "backends: 65535 backends, at most 65534");

	good_spec(&f);
	for (int i = 0; i <= LB_MAX_SOURCE_RANGES; i++)
		f.r[i] = f.r[0];
	f.s.n_source_ranges = LB_MAX_SOURCE_RANGES + 1;
	validate_bad(&f, "source_ranges: 65 source ranges, at most 64");

	good_spec(&f);
	f.r[0].len = 8; /* 198.18.0.0/8 has host bits */
	validate_bad(&f, "source_ranges.[0]: 198.18.0.0/8 has host bits set");
}

static void
test_svc_spec_validate_finds_duplicates_among_many(void **state)
{
	struct lb_svc_spec s;
	uint32_t n = 20000;
	char err[256];

	(void)state;
	lb_svc_spec_init(&s);
	snprintf(s.name, sizeof(s.name), "big");
	s.vip = addr("2001:db8::100");
	s.port = 443;
	s.proto = LB_PROTO_TCP;
	s.backends = calloc(n, sizeof(*s.backends));
	assert_non_null(s.backends);
	s.n_backends = n;
	for (uint32_t i = 0; i < n; i++) {
		s.backends[i].addr = addr("2001:db8:2::");
		s.backends[i].addr.bytes[14] = (uint8_t)(i >> 8);
		s.backends[i].addr.bytes[15] = (uint8_t)i;
		s.backends[i].port = 8443;
		s.backends[i].weight = 1;
	}
	assert_int_equal(lb_svc_spec_validate(&s, err, sizeof(err)), 0);
	s.backends[n - 1] = s.backends[7];
	assert_int_equal(lb_svc_spec_validate(&s, err, sizeof(err)), LB_EINVAL);
	assert_string_equal(err, "backends.[19999]: [2001:db8:2::7]:8443 is already backends.[7]");
	lb_svc_spec_free(&s);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_example_file_parses),
		cmocka_unit_test(test_config_minimal_gets_every_default),
		cmocka_unit_test(test_config_defaults_function_matches_parsed_defaults),
		cmocka_unit_test(test_config_every_option_is_read),
		cmocka_unit_test(test_config_sync_group),
		cmocka_unit_test(test_config_service_defaults),
		cmocka_unit_test(test_config_same_vip_port_with_other_protocol_is_a_different_service),
		cmocka_unit_test(test_config_sections_may_come_in_any_order),
		cmocka_unit_test(test_config_hash_seed_forms),
		cmocka_unit_test(test_config_names_are_read_in_any_case),
		cmocka_unit_test(test_config_socket_mode_forms),
		cmocka_unit_test(test_config_neighbour_cache),
		cmocka_unit_test(test_config_exception_limits),
		cmocka_unit_test(test_config_each_error_names_path_and_line),
		cmocka_unit_test(test_config_too_many_local_addresses_over_all_ports),
		cmocka_unit_test(test_config_syntax_error_leaves_nothing_allocated),
		cmocka_unit_test(test_config_null_arguments_and_small_error_buffers),
		cmocka_unit_test(test_config_load_reports_missing_file),
		cmocka_unit_test(test_config_load_names_file_of_syntax_error_and_include),
		cmocka_unit_test(test_svc_spec_validate_accepts_good_and_empty_specs),
		cmocka_unit_test(test_svc_spec_validate_names_the_bad_field),
		cmocka_unit_test(test_svc_spec_validate_finds_duplicates_among_many),
	};
	const char *env = getenv("EDGELB_SRC");

	if (argc > 1)
		src_dir = argv[1];
	else if (env != NULL && env[0] != '\0')
		src_dir = env;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
