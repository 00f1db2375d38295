/*
 * test_cpconf.c - edgelb-cp's configuration parser (cp/cpconf.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpconf.h"
#include "lb_error.h"

static void
test_cpconf_example_files_parse(void **state)
{
	static const char *const files[] = {"conf/edgelb-cp.conf", "conf/edgelb-cp-kubernetes.conf"};
	const char *src = getenv("EDGELB_SRC") ? getenv("EDGELB_SRC") : ".";
	struct cp_conf c;
	char path[4096], err[512];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", src, files[i]);
		if (cp_conf_load(path, &c, err, sizeof(err)) != 0)
			fail_msg("%s: %s", path, err);
		assert_true(c.n_pools >= 1);
	}
	assert_int_equal(c.mode, CP_MODE_KUBERNETES);
	assert_string_equal(c.lb_class, "edgelb.io/lb");
}

static void
test_cpconf_minimal_config_takes_every_default(void **state)
{
	struct cp_conf c, d;
	char err[512];

	(void)state;
	assert_int_equal(cp_conf_parse("", &c, err, sizeof(err)), 0);
	cp_conf_defaults(&d);
	assert_int_equal(c.mode, CP_MODE_STANDALONE);
	assert_string_equal(c.api_listen, "127.0.0.1:8470");
	assert_string_equal(c.dp_socket, d.dp_socket);
	assert_string_equal(c.state_file, d.state_file);
	assert_int_equal(c.hc.type, CP_HC_NONE);
	assert_int_equal(c.hc.interval_ms, 2000);
	assert_int_equal(c.n_pools, 0);
	/* leader election: on, with client-go's periods */
	assert_true(c.le_enabled);
	assert_string_equal(c.le_namespace, "edgelb-system");
	assert_string_equal(c.le_name, "edgelb-controller");
	assert_string_equal(c.le_identity, "");
	assert_int_equal(c.le_lease_s, 15);
	assert_int_equal(c.le_renew_deadline_ms, 10000);
	assert_int_equal(c.le_retry_ms, 2000);
	assert_int_equal(c.watch_idle_s, 90);
}

static void
test_cpconf_pools_are_read_in_order(void **state)
{
	struct cp_conf c;
	char err[512];

	(void)state;
	assert_int_equal(cp_conf_parse("pools = ("
				       " { name = \"a\"; addresses = [\"198.18.0.0/30\", \"2001:db8::/126\"]; },"
				       " { name = \"b\"; addresses = [\"198.18.1.1-198.18.1.9\"];"
				       "   auto_assign = false; avoid_buggy_ips = true; } );",
				       &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.n_pools, 2);
	assert_string_equal(c.pools[0].name, "a");
	assert_int_equal(c.pools[0].n_ranges, 2);
	assert_true(c.pools[0].auto_assign);
	assert_false(c.pools[1].auto_assign);
	assert_true(c.pools[1].avoid_buggy_ips);
}

/* Every refusal names the setting (and the line when there is one). */
static void
test_cpconf_errors_name_the_setting(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"modes = \"standalone\";",
		 "modes: unknown setting (expected one of: mode, dp_socket, state_file, api, health_check,"
		 " kubernetes, bgp, cluster, pools) (line 1)"},
		{"mode = \"cloud\";", "mode: 'cloud' is not one of standalone, kubernetes (line 1)"},
		{"api: { listen = \"127.0.0.1\"; };", "api.listen: '127.0.0.1' is not address:port"},
		{"api: { port = 80; };", "api.port: unknown setting"},
		{"pools = ( { name = \"p\"; addresses = [\"198.18.0.1/33\"]; } );",
		 "pools.[0].addresses.[0]: '198.18.0.1/33' is not a CIDR"},
		{"pools = ( { name = \"Bad_Name\"; addresses = [\"198.18.0.1\"]; } );",
		 "pools.[0].name: must be a DNS label"},
		{"pools = ( { name = \"p\"; addresses = [\"198.18.0.1\"]; },"
		 " { name = \"p\"; addresses = [\"198.18.0.2\"]; } );",
		 "pools.[1].name: 'p' is used twice"},
		{"pools = ( { name = \"p\"; } );", "pools.[0].addresses: must be a non-empty array"},
		{"health_check: { type = \"icmp\"; };",
		 "health_check.type: 'icmp' is not one of none, tcp, http (line 1)"},
		{"health_check: { interval_ms = 500; timeout_ms = 500; };",
		 "health_check.timeout_ms: must be below interval_ms"},
		{"health_check: { rise = 0; };", "health_check.rise: 0 is out of range 1..100 (line 1)"},
		{"kubernetes: { load_balancer_class = \"\"; };",
		 "kubernetes.load_balancer_class: must not be empty"},
		{"dp_socket = 5;", "dp_socket: expected a string, got an integer (line 1)"},
		{"pools = \"198.18.0.0/24\";", "pools: expected a list ( ) or array [ ], got a string (line 1)"},
		{"pools = ( \"p\" );", "pools.[0]: expected a group { }, got a string (line 1)"},
		{"pools = ( { name = \"p\"; addresses = []; } );",
		 "pools.[0].addresses: must be a non-empty array of strings (line 1)"},
		{"pools = ( { name = \"p\";\n addresses = [\"198.18.0.1\"]; auto_assign = \"no\"; } );",
		 "pools.[0].auto_assign: expected true or false, got a string (line 2)"},
		{"state_file = \"\";", "state_file: must not be empty (line 1)"},
		{"kubernetes: { leader_election: { lease_duration_s = 5; renew_deadline_ms = 5000; }; };",
		 "retry_period_ms < renew_deadline_ms < lease_duration_s"},
		{"kubernetes: { leader_election: { retry_period_ms = 10000; }; };",
		 "retry_period_ms < renew_deadline_ms < lease_duration_s"},
		{"kubernetes: { leader_election: { namespace = \"Kube_System\"; }; };",
		 "kubernetes.leader_election.namespace: must be a DNS label"},
		{"kubernetes: { leader_election: { lease = 5; }; };",
		 "kubernetes.leader_election.lease: unknown setting"},
		{"kubernetes: { leader_election: { name = \"\"; }; };",
		 "kubernetes.leader_election.name: must not be empty (line 1)"},
		{"kubernetes: { watch_idle_s = 4000; };",
		 "kubernetes.watch_idle_s: 4000 is out of range 0..3600 (line 1)"},
		{"mode = ;", "(line 1)"},
	};
	struct cp_conf c;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (cp_conf_parse(cases[i].text, &c, err, sizeof(err)) != LB_EINVAL)
			fail_msg("accepted: %s", cases[i].text);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("%s: got \"%s\", want it to contain \"%s\"", cases[i].text, err,
				 cases[i].want);
	}
}

/* The case rule of every name (include/lb_model.h) holds in this file too. */
static void
test_cpconf_names_match_in_any_case(void **state)
{
	struct cp_conf c;
	char err[512];

	(void)state;
	assert_int_equal(cp_conf_parse("mode = \"Kubernetes\"; health_check: { type = \"TCP\"; };",
				       &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.mode, CP_MODE_KUBERNETES);
	assert_int_equal(c.hc.type, CP_HC_TCP);
}

/* pools is a list row: at most CP_MAX_POOLS, each one read with its defaults. */
static void
test_cpconf_pools_list_is_bounded(void **state)
{
	char text[16384], err[512];
	struct cp_conf c;
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "pools = (");
	for (int i = 0; i <= CP_MAX_POOLS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n,
				      "%s{ name = \"p%d\"; addresses = [\"198.18.%d.0/24\"]; }",
				      i ? ", " : "", i, i);
	snprintf(text + n, sizeof(text) - n, ");");
	assert_int_equal(cp_conf_parse(text, &c, err, sizeof(err)), LB_EINVAL);
	assert_string_equal(err, "pools: 65 pools, at most 64 (line 1)");
	*strrchr(text, '{') = '\0';
	snprintf(strrchr(text, ',') , 4, ");");
	assert_int_equal(cp_conf_parse(text, &c, err, sizeof(err)), 0);
	assert_int_equal(c.n_pools, CP_MAX_POOLS);
	assert_true(c.pools[CP_MAX_POOLS - 1].auto_assign); /* the row default, every element */
	assert_string_equal(c.pools[CP_MAX_POOLS - 1].name, "p63");
}

static void
test_cpconf_missing_file_says_why(void **state)
{
	struct cp_conf c;
	char err[512];

	(void)state;
	assert_int_equal(cp_conf_load("/nonexistent/edgelb-cp.conf", &c, err, sizeof(err)), LB_EINVAL);
	assert_string_equal(err, "cannot open: No such file or directory"); /* as edgelb-dp says */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpconf_example_files_parse),
		cmocka_unit_test(test_cpconf_minimal_config_takes_every_default),
		cmocka_unit_test(test_cpconf_pools_are_read_in_order),
		cmocka_unit_test(test_cpconf_errors_name_the_setting),
		cmocka_unit_test(test_cpconf_names_match_in_any_case),
		cmocka_unit_test(test_cpconf_pools_list_is_bounded),
		cmocka_unit_test(test_cpconf_missing_file_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
