/*
 * test_k8s_nodes.c - unit tests for cp/lib/k8s_nodes.c: Nodes and nodePorts as
 * load-balancer backends (issue 16, "NodePort backends").
 *
 * JSON fixtures in, struct cp_node / struct cp_lb out; no I/O. Node objects are
 * written as the kubelet and the node controller fill them. Fixture text uses '
 * for " (jload).
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

#include "k8s_nodes.h"
#include "k8s_svc.h"
#include "lb.h"
#include "lb_addr.h"
#include "lb_error.h"
#include "lb_model.h"
#include "json_fixture.h"

/* A Node: name, extra metadata, spec, Ready status, addresses (JSON text, ' quotes). */
#define NODE(name, meta, spec, ready, addrs)                                                   \
	"{'apiVersion': 'v1', 'kind': 'Node', 'metadata': {'name': '" name "'" meta "},"          \
	" 'spec': {" spec "}, 'status': {'conditions': ["                                         \
	"  {'type': 'MemoryPressure', 'status': 'False'},"                                       \
	"  {'type': 'Ready', 'status': '" ready "'}], 'addresses': [" addrs "]}}"
#define ADDR(type, a) "{'type': '" type "', 'address': '" a "'}"
#define HOST(n) ADDR("Hostname", n)

static const char svc_text[] =
	"{'apiVersion': 'v1', 'kind': 'Service',"
	" 'metadata': {'name': 'web', 'namespace': 'shop', 'annotations': {}},"
	" 'spec': {'type': 'LoadBalancer', 'ipFamilies': ['IPv4'], 'ipFamilyPolicy': 'SingleStack',"
	"  'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80, 'targetPort': 8080,"
	"             'nodePort': 31380},"
	"            {'name': 'https', 'protocol': 'TCP', 'port': 443, 'targetPort': 8443,"
	"             'nodePort': 31443}],"
	"  'externalTrafficPolicy': 'Cluster'}}";

static int
parse(const char *text, struct cp_node *n)
{
	json_t *j = jload(text);
	int rc = cp_k8s_nodes_parse(j, "InternalIP", n);

	json_decref(j);
	return rc;
}

static void
test_node_ready_with_internal_ip_is_active(void **state)
{
	struct cp_node n;
	struct lb_addr a = addr("10.0.0.11");

	(void)state;
	assert_int_equal(parse(NODE("n1", "", "", "True",
				    HOST("n1") "," ADDR("ExternalIP", "203.0.113.11") ","
				    ADDR("InternalIP", "10.0.0.11")), &n), 1);
	assert_string_equal(n.name, "n1");
	assert_int_equal(n.n_addrs, 1);
	assert_true(lb_addr_eq(&n.addrs[0], &a));
	assert_int_equal(n.state, LB_BACKEND_ACTIVE);
}

static void
test_node_address_type_is_configurable_and_dual_stack_puts_ipv4_first(void **state)
{
	const char *text = NODE("n1", "", "", "True",
				ADDR("InternalIP", "fd00::11") "," ADDR("InternalIP", "10.0.0.11") ","
				ADDR("InternalIP", "10.0.0.99") "," ADDR("ExternalIP", "203.0.113.11"));
	json_t *j = jload(text);
	struct cp_node n;
	struct lb_addr v4 = addr("10.0.0.11"), v6 = addr("fd00::11"), ext = addr("203.0.113.11");

	(void)state;
	assert_int_equal(cp_k8s_nodes_parse(j, "InternalIP", &n), 1);
	assert_int_equal(n.n_addrs, 2); /* the first of each family */
	assert_true(lb_addr_eq(&n.addrs[0], &v4));
	assert_true(lb_addr_eq(&n.addrs[1], &v6));
	assert_int_equal(cp_k8s_nodes_parse(j, "ExternalIP", &n), 1);
	assert_int_equal(n.n_addrs, 1);
	assert_true(lb_addr_eq(&n.addrs[0], &ext));
	json_decref(j);
}

static void
test_node_states_follow_ready_cordon_and_deletion(void **state)
{
	struct cp_node n;

	(void)state;
	assert_int_equal(parse(NODE("n", "", "", "False", ADDR("InternalIP", "10.0.0.1")), &n), 1);
	assert_int_equal(n.state, LB_BACKEND_DOWN);
	assert_int_equal(parse(NODE("n", "", "", "Unknown", ADDR("InternalIP", "10.0.0.1")), &n), 1);
	assert_int_equal(n.state, LB_BACKEND_DOWN);
	/* cordoned: existing connections continue, new ones only if nothing else */
	assert_int_equal(parse(NODE("n", "", "'unschedulable': true", "True",
				    ADDR("InternalIP", "10.0.0.1")), &n), 1);
	assert_int_equal(n.state, LB_BACKEND_DRAINING);
	assert_int_equal(parse(NODE("n", ", 'deletionTimestamp': '2026-12-03T09:00:00Z'", "",
				    "True", ADDR("InternalIP", "10.0.0.1")), &n), 1);
	assert_int_equal(n.state, LB_BACKEND_DRAINING);
	assert_int_equal(parse(NODE("n", "",
				    "'taints': [{'key': 'ToBeDeletedByClusterAutoscaler',"
				    " 'effect': 'NoSchedule'}]",
				    "True", ADDR("InternalIP", "10.0.0.1")), &n), 1);
	assert_int_equal(n.state, LB_BACKEND_DRAINING);
	/* another taint changes nothing */
	assert_int_equal(parse(NODE("n", "",
				    "'taints': [{'key': 'node-role.kubernetes.io/control-plane',"
				    " 'effect': 'NoSchedule'}]",
				    "True", ADDR("InternalIP", "10.0.0.1")), &n), 1);
	assert_int_equal(n.state, LB_BACKEND_ACTIVE);
}

static void
test_node_excluded_by_label_or_without_address_is_left_out(void **state)
{
	struct cp_node n;

	(void)state;
	assert_int_equal(parse(NODE("n", ", 'labels': {'node.kubernetes.io/exclude-from-external-"
				    "load-balancers': ''}", "", "True",
				    ADDR("InternalIP", "10.0.0.1")), &n), 0);
	assert_int_equal(parse(NODE("n", "", "", "True", HOST("n")), &n), 0);
	assert_int_equal(parse("{'kind': 'Node', 'metadata': {}}", &n), LB_EINVAL);
	assert_int_equal(parse("[]", &n), LB_EINVAL);
}

static void
test_wants_nodes_annotation_overrides_the_default(void **state)
{
	json_t *s = jload(svc_text);
	json_t *ann = json_object_get(json_object_get(s, "metadata"), "annotations");
	char warn[256] = "";

	(void)state;
	assert_false(cp_k8s_nodes_wanted(s, false, warn, sizeof(warn)));
	assert_true(cp_k8s_nodes_wanted(s, true, warn, sizeof(warn)));
	json_object_set_new(ann, CP_ANN_BACKENDS, json_string("Nodes"));
	assert_true(cp_k8s_nodes_wanted(s, false, warn, sizeof(warn)));
	json_object_set_new(ann, CP_ANN_BACKENDS, json_string("pods"));
	assert_false(cp_k8s_nodes_wanted(s, true, warn, sizeof(warn)));
	assert_string_equal(warn, "");
	json_object_set_new(ann, CP_ANN_BACKENDS, json_string("hosts"));
	assert_true(cp_k8s_nodes_wanted(s, true, warn, sizeof(warn)));
	assert_non_null(strstr(warn, "hosts"));
	json_decref(s);
}

/* Translate the Service (spec keys replaced by spec_patch; no slices), then node backends. */
static void
lb_of(const char *spec_patch, const char *nodes_text, struct cp_lb *lb, char *warn,
      size_t warnlen)
{
	static const struct cp_health_check hc = {.type = CP_HC_NONE, .path = "/", .interval_ms = 1000,
						  .timeout_ms = 500, .rise = 2, .fall = 3};
	json_t *s = jload(svc_text), *nodes = jload(nodes_text), *none = json_array();
	char err[256] = "";

	if (spec_patch) {
		json_t *p = jload(spec_patch);
		json_object_update(json_object_get(s, "spec"), p);
		json_decref(p);
	}
	assert_int_equal(cp_k8s_svc_translate(s, none, &hc, lb, warn, warnlen, err, sizeof(err)), 0);
	assert_int_equal(cp_k8s_nodes_backends(s, nodes, "InternalIP", lb, warn, warnlen), 0);
	json_decref(s);
	json_decref(nodes);
	json_decref(none);
}

static const struct cp_backend *
backend(const struct cp_lb *lb, const char *a, uint16_t port)
{
	struct lb_addr x = addr(a);

	for (uint32_t i = 0; i < lb->n_backends; i++)
		if (lb_addr_eq(&lb->backends[i].addr, &x) && lb->backends[i].port == port)
			return &lb->backends[i];
	return NULL;
}

static const char three_nodes[] =
	"[" NODE("n1", "", "", "True", ADDR("InternalIP", "10.0.0.11")) ","
	NODE("n2", "", "'unschedulable': true", "True", ADDR("InternalIP", "10.0.0.12")) ","
	NODE("n3", ", 'labels': {'node.kubernetes.io/exclude-from-external-load-balancers': 'true'}",
	     "", "True", ADDR("InternalIP", "10.0.0.13")) ","
	NODE("n4", "", "", "True", ADDR("InternalIP", "fd00::14")) "]";

static void
test_node_backends_are_every_node_at_each_node_port(void **state)
{
	struct cp_lb lb;
	char warn[256] = "";
	struct lb_svc_spec *v = NULL;
	uint32_t n = 0;

	(void)state;
	lb_of(NULL, three_nodes, &lb, warn, sizeof(warn));
	assert_string_equal(warn, "");
	/* n1 active, n2 draining (cordoned), n3 excluded, n4 IPv6 on an IPv4 Service */
	assert_int_equal(lb.n_backends, 4);
	assert_int_equal(backend(&lb, "10.0.0.11", 31380)->state, LB_BACKEND_ACTIVE);
	assert_string_equal(backend(&lb, "10.0.0.11", 31380)->port_name, "http");
	assert_string_equal(backend(&lb, "10.0.0.11", 31443)->port_name, "https");
	assert_int_equal(backend(&lb, "10.0.0.12", 31443)->state, LB_BACKEND_DRAINING);
	assert_null(backend(&lb, "10.0.0.13", 31380));
	assert_int_equal(lb.mode, LB_MODE_FNAT);
	assert_int_equal(lb.hc.type, CP_HC_NONE);
	/* down to the dp: port 80 goes to the nodes' 31380 only, 443 to 31443 */
	lb.n_ips = 1;
	lb.ips[0] = addr("198.18.0.100");
	assert_int_equal(cp_lb_dp_specs(&lb, NULL, &v, &n), 0);
	assert_int_equal(n, 2);
	for (uint32_t i = 0; i < n; i++) {
		char err[256];
		assert_int_equal(lb_svc_spec_validate(&v[i], err, sizeof(err)), 0);
		assert_int_equal(v[i].n_backends, 2);
		for (uint32_t b = 0; b < v[i].n_backends; b++)
			assert_int_equal(v[i].backends[b].port, v[i].port == 80 ? 31380 : 31443);
		lb_svc_spec_free(&v[i]);
	}
	free(v);
	cp_lb_free(&lb);
}

static void
test_node_backends_local_policy_checks_health_check_node_port(void **state)
{
	struct cp_lb lb;
	char warn[256] = "";

	(void)state;
	lb_of("{'externalTrafficPolicy': 'Local', 'healthCheckNodePort': 32451}", three_nodes, &lb,
	      warn, sizeof(warn));
	assert_int_equal(lb.mode, LB_MODE_DNAT); /* client address kept to the node */
	assert_int_equal(lb.hc.type, CP_HC_HTTP);
	assert_string_equal(lb.hc.path, "/healthz");
	assert_int_equal(lb.hc.port, 32451);
	assert_int_equal(lb.hc.expect, CP_HC_EXPECT_LOCAL_ENDPOINTS);
	assert_int_equal(lb.n_backends, 4);
	cp_lb_free(&lb);
}

static void
test_node_backends_port_without_node_port_is_warned(void **state)
{
	struct cp_lb lb;
	char warn[256] = "";

	(void)state;
	lb_of("{'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80}]}",
	      "[" NODE("n1", "", "", "True", ADDR("InternalIP", "10.0.0.11")) "]", &lb, warn,
	      sizeof(warn));
	assert_int_equal(lb.n_backends, 0);
	assert_non_null(strstr(warn, "nodePort"));
	assert_non_null(strstr(warn, "http"));
	cp_lb_free(&lb);
}

/* The controller's cache: same answers as the full Node, heartbeats compare equal. */
static void
test_node_slim_keeps_what_parse_reads_and_drops_heartbeats(void **state)
{
	const char *const nodes[] = {
		NODE("n", ", 'resourceVersion': '7', 'labels': {'a': 'b'}", "'unschedulable': true",
		     "True", ADDR("InternalIP", "10.0.0.1") "," HOST("n")),
		NODE("n", ", 'labels': {'" CP_LABEL_EXCLUDE_LB "': ''}", "", "True",
		     ADDR("InternalIP", "10.0.0.1")),
		NODE("n", "", "'taints': [{'key': 'ToBeDeletedByClusterAutoscaler', 'effect': 'x'}]",
		     "True", ADDR("InternalIP", "10.0.0.1")),
		NODE("n", ", 'deletionTimestamp': '2026-12-03T09:00:00Z'", "", "False",
		     ADDR("ExternalIP", "10.0.0.1")),
	};
	struct cp_node a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		json_t *full = jload(nodes[i]), *slim = cp_k8s_nodes_slim(full);
		for (int t = 0; t < 2; t++) {
			const char *type = t ? "ExternalIP" : "InternalIP";
			assert_int_equal(cp_k8s_nodes_parse(full, type, &a),
					 cp_k8s_nodes_parse(slim, type, &b));
			assert_memory_equal(&a, &b, sizeof(a));
		}
		json_decref(full);
		json_decref(slim);
	}
	json_t *x = jload(NODE("n", ", 'resourceVersion': '7'", "", "True",
			       ADDR("InternalIP", "10.0.0.1")));
	json_t *y = jload(NODE("n", ", 'resourceVersion': '8'", "", "True",
			       ADDR("InternalIP", "10.0.0.1")));
	json_t *sx = cp_k8s_nodes_slim(x), *sy = cp_k8s_nodes_slim(y);
	assert_true(json_equal(sx, sy));
	json_decref(sy);
	json_object_set_new(json_object_get(y, "spec"), "unschedulable", json_true());
	sy = cp_k8s_nodes_slim(y);
	assert_false(json_equal(sx, sy));
	json_decref(x);
	json_decref(y);
	json_decref(sx);
	json_decref(sy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_ready_with_internal_ip_is_active),
		cmocka_unit_test(test_node_address_type_is_configurable_and_dual_stack_puts_ipv4_first),
		cmocka_unit_test(test_node_states_follow_ready_cordon_and_deletion),
		cmocka_unit_test(test_node_excluded_by_label_or_without_address_is_left_out),
		cmocka_unit_test(test_wants_nodes_annotation_overrides_the_default),
		cmocka_unit_test(test_node_backends_are_every_node_at_each_node_port),
		cmocka_unit_test(test_node_backends_local_policy_checks_health_check_node_port),
		cmocka_unit_test(test_node_backends_port_without_node_port_is_warned),
		cmocka_unit_test(test_node_slim_keeps_what_parse_reads_and_drops_heartbeats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
