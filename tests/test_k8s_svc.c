/*
 * test_k8s_svc.c - unit tests for cp/k8s_svc.c: which Services are edgelb's, and how
 * a Service and its EndpointSlices become a load balancer.
 *
 * Fixtures are objects as the API server hands them to a watch: a Service with the
 * fields the API server fills in (clusterIPs, ipFamilies, nodePorts...) and
 * EndpointSlices as the EndpointSlice controller writes them. They are C string
 * literals written with ' for " (jload swaps them before json_loads). A test that
 * varies the Service applies a JSON merge patch (RFC 7386) to base_svc, so it shows
 * only what it changes.
 *
 * Every load balancer cp_k8s_svc_translate produces here is also checked the way the
 * controller uses it: given one address per family, cp_lb_dp_specs must build one
 * dp service per address x port and each must pass the dp's own check
 * (lb_svc_spec_validate, dp/config.c); and it must survive the state file
 * (cp_lb_to_json, cp_lb_from_state_json). Every rejected Service returns LB_EINVAL
 * with a message and leaves nothing allocated; run under ASan for leaks.
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
#include "k8s_svc.h"
#include "lb.h"
#include "lb_addr.h"
#include "lb_error.h"
#include "lb_model.h"
#include "json_fixture.h"

/* ---------------------------------------------------------------- fixtures */

#define CLASS "edgelb.io/lb"

/* The Service every test starts from: one named TCP port, IPv4 single stack. */
static const char base_svc[] =
	"{'apiVersion': 'v1', 'kind': 'Service',"
	" 'metadata': {'name': 'web', 'namespace': 'shop',"
	"  'uid': '6f1c2b9e-3d4a-4c61-9a8e-0b7d5e2f4a13', 'resourceVersion': '48213',"
	"  'creationTimestamp': '2024-05-02T09:14:07Z', 'labels': {'app': 'web'}},"
	" 'spec': {'type': 'LoadBalancer', 'loadBalancerClass': 'edgelb.io/lb',"
	"  'selector': {'app': 'web'},"
	"  'clusterIP': '10.96.14.201', 'clusterIPs': ['10.96.14.201'],"
	"  'ipFamilies': ['IPv4'], 'ipFamilyPolicy': 'SingleStack',"
	"  'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80, 'targetPort': 8080,"
	"             'nodePort': 31380}],"
	"  'sessionAffinity': 'None', 'externalTrafficPolicy': 'Cluster',"
	"  'internalTrafficPolicy': 'Cluster', 'allocateLoadBalancerNodePorts': true},"
	" 'status': {'loadBalancer': {}}}";

/* An EndpointSlice as the EndpointSlice controller writes it. */
#define SLICE(name, ns, svc, type, ports, endpoints)                                           \
	"{'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice',"                         \
	" 'metadata': {'name': '" name "', 'namespace': '" ns "', 'generateName': '" svc "-',"   \
	"  'resourceVersion': '48230',"                                                          \
	"  'labels': {'kubernetes.io/service-name': '" svc "',"                                  \
	"   'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io'},"         \
	"  'ownerReferences': [{'apiVersion': 'v1', 'kind': 'Service', 'name': '" svc "',"         \
	"   'uid': '6f1c2b9e-3d4a-4c61-9a8e-0b7d5e2f4a13', 'controller': true,"                    \
	"   'blockOwnerDeletion': true}]},"                                                      \
	" 'addressType': '" type "', 'endpoints': [" endpoints "], 'ports': [" ports "]}"

#define PORT(name, proto, num) "{'name': '" name "', 'protocol': '" proto "', 'port': " #num "}"

/* One pod's endpoint with the given conditions object. */
#define EP(ip, conds, pod)                                                                     \
	"{'addresses': ['" ip "'], 'conditions': " conds ", 'nodeName': 'node-a',"              \
	" 'zone': 'rack-1', 'targetRef': {'kind': 'Pod', 'namespace': 'shop', 'name': '" pod "',"  \
	" 'uid': '0c4e9d2a-77b1-4f0e-9d5b-" pod "'}}"

#define READY "{'ready': true, 'serving': true, 'terminating': false}"
#define DRAINING "{'ready': false, 'serving': true, 'terminating': true}"
#define NOT_READY "{'ready': false, 'serving': false, 'terminating': false}"

/* The slice that goes with base_svc: two ready pods on 8080. */
#define WEB_SLICE                                                                              \
	SLICE("web-x7k2p", "shop", "web", "IPv4", PORT("http", "TCP", 8080),                      \
	      EP("10.244.1.11", READY, "web-1") "," EP("10.244.2.12", READY, "web-2"))

/* ---------------------------------------------------------------- helpers */

/* Configured defaults: HTTP checks, which a Kubernetes load balancer must not take. */
static const struct cp_health_check hc_http = {
	.type = CP_HC_HTTP,
	.path = "/healthz",
	.port = 0,
	.interval_ms = 2000,
	.timeout_ms = 1000,
	.rise = 2,
	.fall = 3,
};

/* RFC 7386 merge patch: objects merge key by key, null deletes, other values replace. */
static void
merge(json_t *target, json_t *patch)
{
	const char *k;
	json_t *v;

	json_object_foreach(patch, k, v) {
		json_t *t = json_object_get(target, k);
		if (json_is_null(v))
			json_object_del(target, k);
		else if (json_is_object(v) && json_is_object(t))
			merge(t, v);
		else
			json_object_set_new(target, k, json_deep_copy(v));
	}
}

/* base_svc with patch (NULL: as is). */
static json_t *
svc_with(const char *patch)
{
	json_t *s = jload(base_svc);

	if (patch != NULL) {
		json_t *p = jload(patch);
		assert_true(json_is_object(p));
		merge(s, p);
		json_decref(p);
	}
	return s;
}

/* An IPAM's answer: one address per family, IPv4 first. */
static void
give_ips(struct cp_lb *lb)
{
	lb->n_ips = 0;
	if (lb->families & LB_FAMILY_V4)
		lb->ips[lb->n_ips++] = addr("198.18.0.100");
	if (lb->families & LB_FAMILY_V6)
		lb->ips[lb->n_ips++] = addr("2001:db8:1::100");
}

static void
free_specs(struct lb_svc_spec *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		lb_svc_spec_free(&v[i]);
	free(v);
}

/*
 * The dp services of lb once it has its addresses (lb itself is left as it is):
 * one per address x port, each valid for the dp. Free with free_specs.
 */
static uint32_t
specs_of(const struct cp_lb *lb, struct lb_svc_spec **v)
{
	struct cp_lb c;
	char err[256];
	uint32_t n = 0;

	assert_int_equal(cp_lb_copy(&c, lb), 0);
	give_ips(&c);
	assert_int_equal(cp_lb_dp_specs(&c, NULL, v, &n), 0);
	assert_int_equal(n, c.n_ips * c.n_ports);
	for (uint32_t i = 0; i < n; i++)
		if (lb_svc_spec_validate(&(*v)[i], err, sizeof(err)) != 0)
			fail_msg("dp service %u (%s) invalid: %s", i, (*v)[i].name, err);
	cp_lb_free(&c);
	return n;
}

static bool
has_req_ip(const struct cp_lb *lb, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < lb->n_req_ips; i++)
		if (lb_addr_eq(&lb->req_ips[i], a))
			return true;
	return false;
}

/* What the controller stores comes back from the state file unchanged. */
static void
check_state_round_trip(const struct cp_lb *lb)
{
	struct cp_lb c, b;
	char err[256] = "";
	json_t *j;

	assert_int_equal(cp_lb_copy(&c, lb), 0);
	give_ips(&c);
	j = cp_lb_to_json(&c, NULL);
	assert_non_null(j);
	if (cp_lb_from_state_json(j, &b, err, sizeof(err)) != 0)
		fail_msg("state file would not load %s/%s: %s", lb->ns, lb->name, err);
	assert_string_equal(b.ns, c.ns);
	assert_string_equal(b.name, c.name);
	assert_string_equal(b.pool, c.pool);
	assert_string_equal(b.sharing_key, c.sharing_key);
	assert_int_equal(b.families, c.families);
	assert_int_equal(b.n_req_ips, c.n_req_ips);
	for (uint32_t i = 0; i < c.n_req_ips; i++)
		assert_true(has_req_ip(&b, &c.req_ips[i]));
	assert_int_equal(b.n_ports, c.n_ports);
	for (uint32_t i = 0; i < c.n_ports; i++) {
		assert_string_equal(b.ports[i].name, c.ports[i].name);
		assert_int_equal(b.ports[i].port, c.ports[i].port);
		assert_int_equal(b.ports[i].proto, c.ports[i].proto);
		assert_int_equal(b.ports[i].target_port, c.ports[i].target_port);
		assert_string_equal(b.ports[i].target_name, c.ports[i].target_name);
	}
	assert_int_equal(b.n_backends, c.n_backends);
	for (uint32_t i = 0; i < c.n_backends; i++) {
		assert_true(lb_addr_eq(&b.backends[i].addr, &c.backends[i].addr));
		assert_int_equal(b.backends[i].port, c.backends[i].port);
		assert_int_equal(b.backends[i].state, c.backends[i].state);
		assert_string_equal(b.backends[i].port_name, c.backends[i].port_name);
	}
	assert_int_equal(b.affinity, c.affinity);
	assert_int_equal(b.affinity_timeout, c.affinity_timeout);
	assert_int_equal(b.n_ranges, c.n_ranges);
	assert_int_equal(b.mode, c.mode);
	assert_int_equal(b.hc.type, c.hc.type);
	assert_int_equal(b.n_ips, c.n_ips);
	json_decref(j);
	cp_lb_free(&b);
	cp_lb_free(&c);
}

/* Every translated lb: dp services valid, state file round trip. */
static void
check_lb(const struct cp_lb *lb)
{
	struct lb_svc_spec *v;
	uint32_t n = specs_of(lb, &v);

	free_specs(v, n);
	check_state_round_trip(lb);
}

/*
 * Translate svc with slices (both are consumed: decref'd here) and expect success.
 * With warn NULL there must be no warning; else the warning is copied there.
 */
static void
translate_ok(json_t *svc, json_t *slices, struct cp_lb *lb, char *warn, size_t warnlen)
{
	char w[512] = "stale", err[256] = "";
	int rc = cp_k8s_svc_translate(svc, slices, &hc_http, lb, w, sizeof(w), err, sizeof(err));

	json_decref(svc);
	json_decref(slices);
	if (rc != 0)
		fail_msg("rejected (%d): %s", rc, err);
	if (warn != NULL)
		snprintf(warn, warnlen, "%s", w);
	else if (w[0] != '\0')
		fail_msg("unexpected warning: %s", w);
	check_lb(lb);
}

/* Translate and expect LB_EINVAL with an err containing want and (if not NULL) want2. */
static void
translate_err(json_t *svc, json_t *slices, const char *want, const char *want2)
{
	struct cp_lb lb;
	char w[512] = "", err[256] = "";
	int rc = cp_k8s_svc_translate(svc, slices, &hc_http, &lb, w, sizeof(w), err, sizeof(err));

	json_decref(svc);
	json_decref(slices);
	if (rc != LB_EINVAL)
		fail_msg("accepted (%d), wanted an error with \"%s\"", rc, want);
	if (strstr(err, want) == NULL || (want2 != NULL && strstr(err, want2) == NULL))
		fail_msg("error \"%s\" does not name \"%s\"%s%s", err, want, want2 ? " and " : "",
			 want2 ? want2 : "");
	/* nothing left allocated */
	assert_null(lb.ports);
	assert_null(lb.backends);
	assert_null(lb.ranges);
	assert_int_equal(lb.n_ports, 0);
	assert_int_equal(lb.n_backends, 0);
}

static const struct cp_backend *
find_cp_backend(const struct cp_lb *lb, const char *a, uint16_t port, const char *port_name)
{
	struct lb_addr x = addr(a);

	for (uint32_t i = 0; i < lb->n_backends; i++)
		if (lb_addr_eq(&lb->backends[i].addr, &x) && lb->backends[i].port == port &&
		    strcmp(lb->backends[i].port_name, port_name) == 0)
			return &lb->backends[i];
	return NULL;
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

/* The dp service for (VIP, port, proto), or a failed test. */
static const struct lb_svc_spec *
spec_for(const struct lb_svc_spec *v, uint32_t n, const char *vip, uint16_t port, uint8_t proto)
{
	struct lb_addr a = addr(vip);

	for (uint32_t i = 0; i < n; i++)
		if (lb_addr_eq(&v[i].vip, &a) && v[i].port == port && v[i].proto == proto)
			return &v[i];
	fail_msg("no dp service %s:%u/%s", vip, port, lb_proto_name(proto));
	return NULL;
}

/* ---------------------------------------------------------------- cp_k8s_svc_ours */

static void
test_ours_load_balancer_of_our_class(void **state)
{
	json_t *s = svc_with(NULL);

	(void)state;
	assert_true(cp_k8s_svc_ours(s, CLASS, false));
	assert_true(cp_k8s_svc_ours(s, CLASS, true));
	json_decref(s);
}

static void
test_ours_not_when_class_is_another_implementation(void **state)
{
	json_t *s = svc_with("{'spec': {'loadBalancerClass': 'metallb.io/metallb'}}");

	(void)state;
	assert_false(cp_k8s_svc_ours(s, CLASS, false));
	assert_false(cp_k8s_svc_ours(s, CLASS, true)); /* default_class covers only "no class" */
	json_decref(s);
}

static void
test_ours_without_class_only_as_default_implementation(void **state)
{
	json_t *s = svc_with("{'spec': {'loadBalancerClass': null}}");

	(void)state;
	assert_false(cp_k8s_svc_ours(s, CLASS, false));
	assert_true(cp_k8s_svc_ours(s, CLASS, true));
	/* an explicit null is no class either */
	json_object_set_new(json_object_get(s, "spec"), "loadBalancerClass", json_null());
	assert_false(cp_k8s_svc_ours(s, CLASS, false));
	assert_true(cp_k8s_svc_ours(s, CLASS, true));
	json_decref(s);
}

static void
test_ours_never_cluster_ip_or_node_port(void **state)
{
	/* The API server allows loadBalancerClass only on type LoadBalancer. */
	json_t *cip = jload(
		"{'apiVersion': 'v1', 'kind': 'Service',"
		" 'metadata': {'name': 'db', 'namespace': 'shop', 'resourceVersion': '7710'},"
		" 'spec': {'type': 'ClusterIP', 'selector': {'app': 'db'},"
		"  'clusterIP': '10.96.3.4', 'clusterIPs': ['10.96.3.4'],"
		"  'ipFamilies': ['IPv4'], 'ipFamilyPolicy': 'SingleStack',"
		"  'ports': [{'name': 'pg', 'protocol': 'TCP', 'port': 5432, 'targetPort': 5432}],"
		"  'sessionAffinity': 'None', 'internalTrafficPolicy': 'Cluster'},"
		" 'status': {'loadBalancer': {}}}");
	json_t *np = svc_with("{'spec': {'type': 'NodePort', 'loadBalancerClass': null,"
			      " 'allocateLoadBalancerNodePorts': null}}");
	json_t *untyped = svc_with("{'spec': {'type': null, 'loadBalancerClass': null}}");

	(void)state;
	assert_false(cp_k8s_svc_ours(cip, CLASS, true));
	assert_false(cp_k8s_svc_ours(cip, CLASS, false));
	assert_false(cp_k8s_svc_ours(np, CLASS, true));
	assert_false(cp_k8s_svc_ours(untyped, CLASS, true)); /* missing type means ClusterIP */
	json_decref(cip);
	json_decref(np);
	json_decref(untyped);
}

/* ---------------------------------------------------------------- ports */

static void
test_translate_base_service(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	translate_ok(svc_with(NULL), jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_string_equal(lb.ns, "shop");
	assert_string_equal(lb.name, "web");
	assert_int_equal(lb.families, LB_FAMILY_V4);
	assert_int_equal(lb.n_req_ips, 0);
	assert_int_equal(lb.n_ips, 0); /* status is the store's business */
	assert_string_equal(lb.pool, "");
	assert_string_equal(lb.sharing_key, "");
	assert_int_equal(lb.n_ports, 1);
	assert_string_equal(lb.ports[0].name, "http");
	assert_int_equal(lb.ports[0].port, 80);
	assert_int_equal(lb.ports[0].proto, LB_PROTO_TCP);
	assert_int_equal(lb.ports[0].target_port, 8080);
	assert_string_equal(lb.ports[0].target_name, "");
	assert_int_equal(lb.n_backends, 2);
	assert_non_null(find_cp_backend(&lb, "10.244.1.11", 8080, "http"));
	assert_non_null(find_cp_backend(&lb, "10.244.2.12", 8080, "http"));
	assert_int_equal(lb.backends[0].weight, 1);
	assert_int_equal(lb.backends[0].state, LB_BACKEND_ACTIVE);
	assert_int_equal(lb.affinity, LB_AFFINITY_NONE);
	assert_int_equal(lb.n_ranges, 0);
	assert_int_equal(lb.mode, LB_MODE_FNAT); /* externalTrafficPolicy: Cluster */
	/* readiness comes from the EndpointSlices, not from our own checks */
	assert_int_equal(lb.hc.type, CP_HC_NONE);

	n = specs_of(&lb, &v);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "shop/web:http");
	assert_int_equal(v[0].port, 80);
	assert_int_equal(v[0].mode, LB_MODE_FNAT);
	assert_int_equal(v[0].n_backends, 2);
	assert_non_null(find_backend(&v[0], "10.244.1.11", 8080));
	assert_non_null(find_backend(&v[0], "10.244.2.12", 8080));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_tcp_and_udp_ports(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	const struct lb_svc_spec *udp, *tcp;
	uint32_t n;

	(void)state;
	translate_ok(
		svc_with("{'metadata': {'name': 'dns'}, 'spec': {'selector': {'app': 'dns'}, 'ports': ["
			 " {'name': 'dns', 'protocol': 'UDP', 'port': 53, 'targetPort': 5353,"
			 "  'nodePort': 30053},"
			 " {'name': 'dns-tcp', 'protocol': 'TCP', 'port': 53, 'targetPort': 5353,"
			 "  'nodePort': 30054}]}}"),
		jload("[" SLICE("dns-q8v4r", "shop", "dns", "IPv4",
				PORT("dns", "UDP", 5353) "," PORT("dns-tcp", "TCP", 5353),
				EP("10.244.1.21", READY, "dns-0") "," EP("10.244.2.22", READY, "dns-1"))
		      "]"),
		&lb, NULL, 0);
	assert_int_equal(lb.n_ports, 2);
	assert_int_equal(lb.ports[0].proto, LB_PROTO_UDP);
	assert_int_equal(lb.ports[0].port, 53);
	assert_int_equal(lb.ports[0].target_port, 5353);
	assert_int_equal(lb.ports[1].proto, LB_PROTO_TCP);
	assert_string_equal(lb.ports[1].name, "dns-tcp");
	assert_int_equal(lb.n_backends, 4); /* each pod once per port name */

	n = specs_of(&lb, &v);
	assert_int_equal(n, 2);
	udp = spec_for(v, n, "198.18.0.100", 53, LB_PROTO_UDP);
	tcp = spec_for(v, n, "198.18.0.100", 53, LB_PROTO_TCP);
	assert_string_equal(udp->name, "shop/dns:dns");
	assert_string_equal(tcp->name, "shop/dns:dns-tcp");
	assert_int_equal(udp->n_backends, 2);
	assert_int_equal(tcp->n_backends, 2);
	assert_non_null(find_backend(udp, "10.244.2.22", 5353));
	assert_non_null(find_backend(tcp, "10.244.1.21", 5353));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_skips_sctp_port_with_warning_naming_it(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	char warn[512];
	uint32_t n;

	(void)state;
	translate_ok(
		svc_with("{'spec': {'ports': ["
			 " {'name': 'http', 'protocol': 'TCP', 'port': 80, 'targetPort': 8080,"
			 "  'nodePort': 31380},"
			 " {'name': 'sigtran', 'protocol': 'SCTP', 'port': 2905, 'targetPort': 2905,"
			 "  'nodePort': 31905}]}}"),
		jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4",
				PORT("http", "TCP", 8080) "," PORT("sigtran", "SCTP", 2905),
				EP("10.244.1.11", READY, "web-1")) "]"),
		&lb, warn, sizeof(warn));
	if (strstr(warn, "SCTP") == NULL || strstr(warn, "sigtran") == NULL ||
	    strstr(warn, "2905") == NULL)
		fail_msg("warning does not name the SCTP port: \"%s\"", warn);
	assert_int_equal(lb.n_ports, 1);
	assert_string_equal(lb.ports[0].name, "http");

	/* the SCTP slice port gives no backend to the TCP port */
	n = specs_of(&lb, &v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].n_backends, 1);
	assert_non_null(find_backend(&v[0], "10.244.1.11", 8080));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_rejects_service_with_only_sctp_ports(void **state)
{
	(void)state;
	translate_err(svc_with("{'spec': {'ports': ["
			       " {'name': 'sigtran', 'protocol': 'SCTP', 'port': 2905,"
			       "  'targetPort': 2905, 'nodePort': 31905}]}}"),
		      NULL, "spec.ports", NULL);
}

static void
test_translate_rejects_more_ports_than_a_load_balancer_holds(void **state)
{
	/*
	 * Kubernetes sets no limit on spec.ports (a SIP/RTP Service may list hundreds);
	 * a load balancer holds CP_MAX_PORTS, and the state file refuses more, so such a
	 * Service must get an error rather than be stored and break the next start.
	 */
	json_t *svc = svc_with(NULL), *ports = json_array();
	struct cp_lb lb;
	char name[32];

	(void)state;
	for (int i = 0; i <= CP_MAX_PORTS; i++) {
		snprintf(name, sizeof(name), "rtp-%d", i);
		json_array_append_new(ports, json_pack("{s:s, s:s, s:i, s:i, s:i}", "name", name,
						       "protocol", "UDP", "port", 10000 + i,
						       "targetPort", 10000 + i, "nodePort", 30100 + i));
	}
	json_object_set_new(json_object_get(svc, "spec"), "ports", ports);
	translate_err(json_deep_copy(svc), NULL, "spec.ports", "64");
	/* exactly CP_MAX_PORTS is fine */
	json_array_remove(ports, 0);
	translate_ok(svc, NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_ports, CP_MAX_PORTS);
	cp_lb_free(&lb);
}

static void
test_translate_target_port_defaults_to_port(void **state)
{
	struct cp_lb lb;

	(void)state;
	/* the API server fills targetPort in; a Service seen without it still works */
	translate_ok(svc_with("{'spec': {'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 8080,"
			      " 'nodePort': 31380}]}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.ports[0].target_port, 8080);
	assert_string_equal(lb.ports[0].target_name, "");
	cp_lb_free(&lb);
}

static void
test_translate_unnamed_single_port(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	/* a single unnamed Service port: the controller writes the slice port name as "" */
	translate_ok(svc_with("{'spec': {'ports': [{'protocol': 'TCP', 'port': 80, 'targetPort': 8080,"
			      " 'nodePort': 31380}]}}"),
		     jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4", PORT("", "TCP", 8080),
				     EP("10.244.1.11", READY, "web-1")) "]"),
		     &lb, NULL, 0);
	assert_string_equal(lb.ports[0].name, "");
	assert_non_null(find_cp_backend(&lb, "10.244.1.11", 8080, ""));
	n = specs_of(&lb, &v);
	assert_string_equal(v[0].name, "shop/web:80");
	assert_non_null(find_backend(&v[0], "10.244.1.11", 8080));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_named_target_port_resolves_per_pod(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	/*
	 * targetPort: web names a container port; v1 pods declare it as 8080, v2 pods as
	 * 9090. The EndpointSlice controller puts pods with different port numbers in
	 * different slices, both under the Service port's name "http".
	 */
	translate_ok(
		svc_with("{'spec': {'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80,"
			 " 'targetPort': 'web', 'nodePort': 31380}]}}"),
		jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4", PORT("http", "TCP", 8080),
				EP("10.244.1.11", READY, "web-v1-1") ","
				EP("10.244.2.12", READY, "web-v1-2")) ","
		      SLICE("web-9fz4c", "shop", "web", "IPv4", PORT("http", "TCP", 9090),
			    EP("10.244.3.13", READY, "web-v2-1")) "]"),
		&lb, NULL, 0);
	assert_int_equal(lb.ports[0].target_port, 0);
	assert_string_equal(lb.ports[0].target_name, "web");
	assert_int_equal(lb.n_backends, 3);
	assert_non_null(find_cp_backend(&lb, "10.244.1.11", 8080, "http"));
	assert_non_null(find_cp_backend(&lb, "10.244.2.12", 8080, "http"));
	assert_non_null(find_cp_backend(&lb, "10.244.3.13", 9090, "http"));

	n = specs_of(&lb, &v);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].n_backends, 3);
	assert_non_null(find_backend(&v[0], "10.244.1.11", 8080));
	assert_non_null(find_backend(&v[0], "10.244.2.12", 8080));
	assert_non_null(find_backend(&v[0], "10.244.3.13", 9090));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_multi_port_gives_each_port_only_its_backends(void **state)
{
	static const char *const pods[] = {"10.244.1.11", "10.244.2.12", "10.244.3.13"};
	struct cp_lb lb;
	struct lb_svc_spec *v;
	const struct lb_svc_spec *http, *metrics, *syslog;
	uint32_t n;

	(void)state;
	translate_ok(
		svc_with("{'spec': {'ports': ["
			 " {'name': 'http', 'protocol': 'TCP', 'port': 80, 'targetPort': 'web',"
			 "  'nodePort': 31380},"
			 " {'name': 'metrics', 'protocol': 'TCP', 'port': 9100, 'targetPort': 9100,"
			 "  'nodePort': 31910},"
			 " {'name': 'syslog', 'protocol': 'UDP', 'port': 514, 'targetPort': 5514,"
			 "  'nodePort': 31514}]}}"),
		jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4",
				PORT("http", "TCP", 8080) "," PORT("metrics", "TCP", 9100) ","
				PORT("syslog", "UDP", 5514),
				EP("10.244.1.11", READY, "web-v1-1") ","
				EP("10.244.2.12", READY, "web-v1-2")) ","
		      SLICE("web-9fz4c", "shop", "web", "IPv4",
			    PORT("http", "TCP", 9090) "," PORT("metrics", "TCP", 9100) ","
			    PORT("syslog", "UDP", 5514),
			    EP("10.244.3.13", READY, "web-v2-1")) "]"),
		&lb, NULL, 0);
	assert_int_equal(lb.n_ports, 3);
	assert_int_equal(lb.n_backends, 9); /* 3 pods x 3 port names */

	n = specs_of(&lb, &v);
	assert_int_equal(n, 3);
	http = spec_for(v, n, "198.18.0.100", 80, LB_PROTO_TCP);
	metrics = spec_for(v, n, "198.18.0.100", 9100, LB_PROTO_TCP);
	syslog = spec_for(v, n, "198.18.0.100", 514, LB_PROTO_UDP);
	assert_string_equal(http->name, "shop/web:http");
	assert_string_equal(metrics->name, "shop/web:metrics");
	assert_string_equal(syslog->name, "shop/web:syslog");
	assert_int_equal(http->n_backends, 3);
	assert_int_equal(metrics->n_backends, 3);
	assert_int_equal(syslog->n_backends, 3);
	assert_non_null(find_backend(http, "10.244.1.11", 8080));
	assert_non_null(find_backend(http, "10.244.2.12", 8080));
	assert_non_null(find_backend(http, "10.244.3.13", 9090));
	for (size_t i = 0; i < 3; i++) {
		assert_non_null(find_backend(metrics, pods[i], 9100));
		assert_non_null(find_backend(syslog, pods[i], 5514));
		/* no port leaks into another's service */
		assert_null(find_backend(http, pods[i], 9100));
		assert_null(find_backend(http, pods[i], 5514));
		assert_null(find_backend(metrics, pods[i], 8080));
		assert_null(find_backend(syslog, pods[i], 9100));
	}
	free_specs(v, n);
	cp_lb_free(&lb);
}

/* ---------------------------------------------------------------- endpoints */

#define COND_NONE -1 /* the endpoint is left out */

static const struct {
	const char *description;
	const char *conditions; /* the endpoint's conditions object, NULL: none at all */
	int state;              /* enum lb_backend_state or COND_NONE */
} cond_cases[] = {
	{"ready, serving, not terminating: active", READY, LB_BACKEND_ACTIVE},
	{"terminating but still serving (graceful shutdown): draining", DRAINING,
	 LB_BACKEND_DRAINING},
	{"failing its readiness probe: left out", NOT_READY, COND_NONE},
	{"terminating and no longer serving: left out",
	 "{'ready': false, 'serving': false, 'terminating': true}", COND_NONE},
	{"no conditions object: active (all missing: ready)", NULL, LB_BACKEND_ACTIVE},
	{"empty conditions: active", "{}", LB_BACKEND_ACTIVE},
	{"only ready=true: active", "{'ready': true}", LB_BACKEND_ACTIVE},
	{"only ready=false: left out", "{'ready': false}", COND_NONE},
	{"ready null counts as missing: active", "{'ready': null, 'terminating': false}",
	 LB_BACKEND_ACTIVE},
	{"ready missing, serving and terminating: draining", "{'serving': true, 'terminating': true}",
	 LB_BACKEND_DRAINING},
	{"ready missing and terminating: serving follows ready, draining",
	 "{'terminating': true}", LB_BACKEND_DRAINING},
	/* see test_translate_terminating_endpoint_without_serving_is_draining */
	{"not ready, serving missing, terminating: draining", "{'ready': false, 'terminating': true}",
	 LB_BACKEND_DRAINING},
	/* publishNotReadyAddresses: the controller keeps ready=true on a terminating pod */
	{"ready, serving and terminating: draining",
	 "{'ready': true, 'serving': true, 'terminating': true}", LB_BACKEND_DRAINING},
	{"ready but not serving, terminating: left out",
	 "{'ready': true, 'serving': false, 'terminating': true}", COND_NONE},
	{"serving but neither ready nor terminating: left out",
	 "{'ready': false, 'serving': true, 'terminating': false}", COND_NONE},
};

static void
test_translate_endpoint_conditions_map_to_backend_states(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cond_cases) / sizeof(cond_cases[0]); i++) {
		char text[2048];
		struct cp_lb lb;
		json_t *ep;

		if (cond_cases[i].conditions != NULL)
			snprintf(text, sizeof(text),
				 "{'addresses': ['10.244.1.11'], 'conditions': %s, 'nodeName': 'node-a',"
				 " 'targetRef': {'kind': 'Pod', 'namespace': 'shop', 'name': 'web-1'}}",
				 cond_cases[i].conditions);
		else
			snprintf(text, sizeof(text),
				 "{'addresses': ['10.244.1.11'], 'nodeName': 'node-a',"
				 " 'targetRef': {'kind': 'Pod', 'namespace': 'shop', 'name': 'web-1'}}");
		json_t *slices = jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4",
						 PORT("http", "TCP", 8080), ) "]");
		ep = jload(text);
		json_array_append_new(json_object_get(json_array_get(slices, 0), "endpoints"), ep);
		translate_ok(svc_with(NULL), slices, &lb, NULL, 0);
		if (cond_cases[i].state == COND_NONE) {
			if (lb.n_backends != 0)
				fail_msg("%s: got a backend in state %u", cond_cases[i].description,
					 lb.backends[0].state);
		} else {
			if (lb.n_backends != 1)
				fail_msg("%s: %u backends", cond_cases[i].description, lb.n_backends);
			if (lb.backends[0].state != cond_cases[i].state)
				fail_msg("%s: state %u", cond_cases[i].description, lb.backends[0].state);
		}
		cp_lb_free(&lb);
	}
}

/*
 * ready=false, terminating=true and no serving condition. The code takes a missing
 * serving as equal to ready (k8s_svc.c cond(c, "serving", ready); docs/kubernetes.md
 * "missing counts as ready"), as the older discovery/v1 API text said ("If nil,
 * consumers should defer to the ready condition"), so the endpoint is left out.
 * The current discovery/v1 reference says instead "a nil value should be
 * interpreted as true", and kube-proxy (pkg/proxy/endpointslicecache.go) reads it
 * so: there this endpoint is a serving, terminating fallback, i.e. draining here.
 * k8s_svc.h's summary ("missing ready/serving mean true") also disagrees with the
 * code. Only slice writers that set terminating but not serving meet the case: the
 * built-in EndpointSlice controller always writes all three conditions.
 */
static void
test_translate_terminating_endpoint_without_serving_is_draining(void **state)
{
	struct cp_lb lb;

	(void)state;
	translate_ok(svc_with(NULL),
		     jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4", PORT("http", "TCP", 8080),
				     EP("10.244.1.11", "{'ready': false, 'terminating': true}", "web-1")
				     "," EP("10.244.2.12", READY, "web-2")) "]"),
		     &lb, NULL, 0);
	/* A missing serving condition means true (discovery/v1, as kube-proxy reads it). */
	assert_int_equal(lb.n_backends, 2);
	assert_non_null(find_cp_backend(&lb, "10.244.2.12", 8080, "http"));
	const struct cp_backend *t = find_cp_backend(&lb, "10.244.1.11", 8080, "http");
	assert_non_null(t);
	assert_int_equal(t->state, LB_BACKEND_DRAINING);
	cp_lb_free(&lb);
}

static void
test_translate_duplicate_endpoint_keeps_best_state(void **state)
{
	/* During a rollout a pod can sit in two slices for a moment, once stale. */
	static const char stale[] =
		SLICE("web-x7k2p", "shop", "web", "IPv4", PORT("http", "TCP", 8080),
		      EP("10.244.1.11", DRAINING, "web-1") "," EP("10.244.2.12", DRAINING, "web-2"));
	static const char fresh[] =
		SLICE("web-9fz4c", "shop", "web", "IPv4", PORT("http", "TCP", 8080),
		      EP("10.244.1.11", READY, "web-1") "," EP("10.244.2.12", NOT_READY, "web-2"));
	char text[8192];
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	for (int order = 0; order < 2; order++) {
		snprintf(text, sizeof(text), "[%s, %s]", order ? fresh : stale, order ? stale : fresh);
		translate_ok(svc_with(NULL), jload(text), &lb, NULL, 0);
		assert_int_equal(lb.n_backends, 2);
		assert_int_equal(find_cp_backend(&lb, "10.244.1.11", 8080, "http")->state,
				 LB_BACKEND_ACTIVE);
		/* left out in one slice, draining in the other: draining */
		assert_int_equal(find_cp_backend(&lb, "10.244.2.12", 8080, "http")->state,
				 LB_BACKEND_DRAINING);
		n = specs_of(&lb, &v);
		assert_int_equal(v[0].n_backends, 2);
		assert_int_equal(find_backend(&v[0], "10.244.1.11", 8080)->state, LB_BACKEND_ACTIVE);
		free_specs(v, n);
		cp_lb_free(&lb);
	}
}

static void
test_translate_ignores_fqdn_slices(void **state)
{
	struct cp_lb lb;

	(void)state;
	translate_ok(svc_with(NULL),
		     jload("[" SLICE("web-fqdn1", "shop", "web", "FQDN", PORT("http", "TCP", 8080),
				     "{'addresses': ['web-1.backends.example.com'],"
				     " 'conditions': {'ready': true}}") ","
			   WEB_SLICE "]"),
		     &lb, NULL, 0);
	assert_int_equal(lb.n_backends, 2);
	assert_non_null(find_cp_backend(&lb, "10.244.1.11", 8080, "http"));
	assert_non_null(find_cp_backend(&lb, "10.244.2.12", 8080, "http"));
	cp_lb_free(&lb);
}

static void
test_translate_ignores_slices_of_other_services_and_namespaces(void **state)
{
	struct cp_lb lb;
	json_t *slices;

	(void)state;
	slices = jload(
		"[" SLICE("web-canary-p2x9d", "shop", "web-canary", "IPv4", PORT("http", "TCP", 8080),
			  EP("10.244.5.21", READY, "web-canary-1")) ","
		SLICE("web-h7d2q", "staging", "web", "IPv4", PORT("http", "TCP", 8080),
		      EP("10.244.5.22", READY, "web-staging-1")) ","
		SLICE("web-manual", "shop", "web", "IPv4", PORT("http", "TCP", 8080),
		      EP("10.244.5.23", READY, "web-manual-1")) ","
		WEB_SLICE "]");
	/* a hand-made slice without the service-name label belongs to no Service */
	json_object_del(json_object_get(json_object_get(json_array_get(slices, 2), "metadata"),
					"labels"),
			CP_SVC_NAME_LABEL);
	translate_ok(svc_with(NULL), slices, &lb, NULL, 0);
	assert_int_equal(lb.n_backends, 2);
	assert_non_null(find_cp_backend(&lb, "10.244.1.11", 8080, "http"));
	assert_non_null(find_cp_backend(&lb, "10.244.2.12", 8080, "http"));
	cp_lb_free(&lb);
}

static void
test_translate_without_slices_has_no_backends(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	translate_ok(svc_with(NULL), NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_backends, 0);
	cp_lb_free(&lb);
	translate_ok(svc_with(NULL), jload("[]"), &lb, NULL, 0);
	assert_int_equal(lb.n_backends, 0);
	n = specs_of(&lb, &v); /* the VIP exists, with nothing behind it */
	assert_int_equal(n, 1);
	assert_int_equal(v[0].n_backends, 0);
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_caps_backends_with_warning(void **state)
{
	/* 5 slices of 1000 endpoints (the controller's maximum per slice): 5000 pods */
	json_t *slices = json_array();
	struct cp_lb lb;
	char warn[512], ip[32], num[32];

	(void)state;
	for (int s = 0; s < 5; s++) {
		json_t *sl = jload(SLICE("web-big", "shop", "web", "IPv4", PORT("http", "TCP", 8080), ));
		json_t *eps = json_object_get(sl, "endpoints");
		snprintf(num, sizeof(num), "web-big%d", s);
		json_object_set_new(json_object_get(sl, "metadata"), "name", json_string(num));
		for (int e = 0; e < 1000; e++) {
			int k = s * 1000 + e;
			snprintf(ip, sizeof(ip), "10.244.%d.%d", k / 250, k % 250 + 1);
			json_array_append_new(
				eps, json_pack("{s:[s], s:{s:b, s:b, s:b}}", "addresses", ip,
					       "conditions", "ready", 1, "serving", 1, "terminating", 0));
		}
		json_array_append_new(slices, sl);
	}
	translate_ok(svc_with(NULL), slices, &lb, warn, sizeof(warn));
	assert_int_equal(lb.n_backends, CP_MAX_BACKENDS);
	snprintf(num, sizeof(num), "%d", CP_MAX_BACKENDS);
	if (strstr(warn, num) == NULL)
		fail_msg("warning does not give the limit: \"%s\"", warn);
	cp_lb_free(&lb);
}

/* ---------------------------------------------------------------- address families */

static const char v6_slice[] =
	SLICE("web-6b4tm", "shop", "web", "IPv6", PORT("http", "TCP", 8080),
	      EP("fd00:10:244:1::11", READY, "web-1") "," EP("fd00:10:244:2::12", READY, "web-2"));

static void
test_translate_dual_stack_serves_each_family_its_backends(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	const struct lb_svc_spec *s4, *s6;
	char text[8192];
	uint32_t n;

	(void)state;
	snprintf(text, sizeof(text), "[%s, %s]", v6_slice, WEB_SLICE);
	translate_ok(svc_with("{'spec': {'ipFamilyPolicy': 'RequireDualStack',"
			      " 'ipFamilies': ['IPv6', 'IPv4'],"
			      " 'clusterIP': 'fd00:10:96::e1', 'clusterIPs': ['fd00:10:96::e1', '10.96.14.201']}}"),
		     jload(text), &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4 | LB_FAMILY_V6);
	assert_int_equal(lb.n_backends, 4);

	n = specs_of(&lb, &v);
	assert_int_equal(n, 2);
	s4 = spec_for(v, n, "198.18.0.100", 80, LB_PROTO_TCP);
	s6 = spec_for(v, n, "2001:db8:1::100", 80, LB_PROTO_TCP);
	assert_int_equal(s4->n_backends, 2);
	assert_int_equal(s6->n_backends, 2);
	assert_non_null(find_backend(s4, "10.244.1.11", 8080));
	assert_non_null(find_backend(s6, "fd00:10:244:1::11", 8080));
	assert_non_null(find_backend(s6, "fd00:10:244:2::12", 8080));
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_ipv4_only_service_ignores_ipv6_slice(void **state)
{
	struct cp_lb lb;
	char text[8192];

	(void)state;
	snprintf(text, sizeof(text), "[%s, %s]", v6_slice, WEB_SLICE);
	translate_ok(svc_with(NULL), jload(text), &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4);
	assert_int_equal(lb.n_backends, 2);
	for (uint32_t i = 0; i < lb.n_backends; i++)
		assert_int_equal(lb.backends[i].addr.family, LB_AF_INET);
	cp_lb_free(&lb);
}

static void
test_translate_ipv6_only_service_ignores_ipv4_slice(void **state)
{
	struct cp_lb lb;
	char text[8192];

	(void)state;
	snprintf(text, sizeof(text), "[%s, %s]", WEB_SLICE, v6_slice);
	translate_ok(svc_with("{'spec': {'ipFamilies': ['IPv6'], 'clusterIP': 'fd00:10:96::e1',"
			      " 'clusterIPs': ['fd00:10:96::e1']}}"),
		     jload(text), &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V6);
	assert_int_equal(lb.n_backends, 2);
	assert_non_null(find_cp_backend(&lb, "fd00:10:244:2::12", 8080, "http"));
	cp_lb_free(&lb);
}

static void
test_translate_single_stack_with_two_families_takes_first(void **state)
{
	struct cp_lb lb;

	(void)state;
	/* the API server rejects this; should one arrive, the first family wins */
	translate_ok(svc_with("{'spec': {'ipFamilyPolicy': 'SingleStack',"
			      " 'ipFamilies': ['IPv6', 'IPv4']}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V6);
	cp_lb_free(&lb);
	translate_ok(svc_with("{'spec': {'ipFamilyPolicy': 'SingleStack',"
			      " 'ipFamilies': ['IPv4', 'IPv6']}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4);
	cp_lb_free(&lb);
}

static void
test_translate_prefer_dual_stack_on_single_stack_cluster_has_one_family(void **state)
{
	struct cp_lb lb;

	(void)state;
	translate_ok(svc_with("{'spec': {'ipFamilyPolicy': 'PreferDualStack', 'ipFamilies': ['IPv4']}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4);
	cp_lb_free(&lb);
}

static void
test_translate_without_ip_families_is_ipv4(void **state)
{
	struct cp_lb lb;

	(void)state;
	translate_ok(svc_with("{'spec': {'ipFamilies': null, 'ipFamilyPolicy': null}}"),
		     jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4);
	assert_int_equal(lb.n_backends, 2);
	cp_lb_free(&lb);
}

/* ---------------------------------------------------------------- affinity, ranges, policy */

static void
test_translate_client_ip_affinity_with_timeout(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	translate_ok(svc_with("{'spec': {'sessionAffinity': 'ClientIP',"
			      " 'sessionAffinityConfig': {'clientIP': {'timeoutSeconds': 600}}}}"),
		     jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_int_equal(lb.affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(lb.affinity_timeout, 600);
	n = specs_of(&lb, &v);
	assert_int_equal(v[0].affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(v[0].affinity_timeout, 600);
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_client_ip_affinity_without_timeout_takes_default(void **state)
{
	struct cp_lb lb;

	(void)state;
	translate_ok(svc_with("{'spec': {'sessionAffinity': 'ClientIP'}}"), NULL, &lb, NULL, 0);
	assert_int_equal(lb.affinity, LB_AFFINITY_CLIENTIP);
	assert_int_equal(lb.affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT); /* 10800, as Kubernetes */
	cp_lb_free(&lb);
	/* a config without the field, as the API server would never default it */
	translate_ok(svc_with("{'spec': {'sessionAffinity': 'ClientIP',"
			      " 'sessionAffinityConfig': {'clientIP': {}}}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.affinity_timeout, LB_AFFINITY_TIMEOUT_DEFAULT);
	cp_lb_free(&lb);
}

static void
test_translate_source_ranges_from_spec(void **state)
{
	struct cp_lb lb;
	struct lb_addr a = addr("203.0.113.0");
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	translate_ok(svc_with("{'spec': {'loadBalancerSourceRanges':"
			      " ['203.0.113.0/24', '198.51.100.7/32', '2001:db8:ffff::/48']}}"),
		     jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_int_equal(lb.n_ranges, 3);
	assert_true(lb_addr_eq(&lb.ranges[0].addr, &a));
	assert_int_equal(lb.ranges[0].len, 24);
	assert_int_equal(lb.ranges[1].len, 32);
	assert_int_equal(lb.ranges[2].addr.family, LB_AF_INET6);
	assert_int_equal(lb.ranges[2].len, 48);
	n = specs_of(&lb, &v);
	assert_int_equal(v[0].n_source_ranges, 3);
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_source_ranges_from_annotation(void **state)
{
	struct cp_lb lb;
	struct lb_addr a = addr("198.51.100.0");

	(void)state;
	translate_ok(svc_with("{'metadata': {'annotations': {"
			      " 'service.beta.kubernetes.io/load-balancer-source-ranges':"
			      "  ' 203.0.113.0/24 ,198.51.100.0/25,  2001:db8::/32 '}}}"),
		     jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_int_equal(lb.n_ranges, 3);
	assert_true(lb_addr_eq(&lb.ranges[1].addr, &a));
	assert_int_equal(lb.ranges[1].len, 25);
	assert_int_equal(lb.ranges[2].len, 32);
	cp_lb_free(&lb);
}

static void
test_translate_source_ranges_spec_wins_over_annotation(void **state)
{
	struct cp_lb lb;
	struct lb_addr a = addr("203.0.113.0");

	(void)state;
	translate_ok(svc_with("{'metadata': {'annotations': {"
			      " 'service.beta.kubernetes.io/load-balancer-source-ranges':"
			      "  '10.0.0.0/8,192.168.0.0/16'}},"
			      " 'spec': {'loadBalancerSourceRanges': ['203.0.113.0/24']}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_ranges, 1);
	assert_true(lb_addr_eq(&lb.ranges[0].addr, &a));
	cp_lb_free(&lb);
	/* an empty spec list is no list: the annotation applies */
	translate_ok(svc_with("{'metadata': {'annotations': {"
			      " 'service.beta.kubernetes.io/load-balancer-source-ranges':"
			      "  '10.0.0.0/8,192.168.0.0/16'}},"
			      " 'spec': {'loadBalancerSourceRanges': []}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_ranges, 2);
	cp_lb_free(&lb);
}

static void
test_translate_source_range_host_bits_are_cleared(void **state)
{
	struct cp_lb lb;
	struct lb_addr a = addr("203.0.113.0");

	(void)state;
	/* Kubernetes accepts 203.0.113.77/24; the dp wants a clean prefix (check_lb) */
	translate_ok(svc_with("{'spec': {'loadBalancerSourceRanges': ['203.0.113.77/24']}}"), NULL,
		     &lb, NULL, 0);
	assert_true(lb_addr_eq(&lb.ranges[0].addr, &a));
	assert_int_equal(lb.ranges[0].len, 24);
	cp_lb_free(&lb);
}

static void
test_translate_rejects_bad_source_ranges(void **state)
{
	json_t *many = svc_with(NULL), *a = json_array();
	char cidr[32];

	(void)state;
	translate_err(svc_with("{'spec': {'loadBalancerSourceRanges': ['203.0.113.0/24', '203.0.113.0/33']}}"),
		      NULL, "loadBalancerSourceRanges[1]", NULL);
	translate_err(svc_with("{'spec': {'loadBalancerSourceRanges': ['office']}}"), NULL,
		      "loadBalancerSourceRanges[0]", NULL);
	translate_err(svc_with("{'metadata': {'annotations': {"
			       " 'service.beta.kubernetes.io/load-balancer-source-ranges':"
			       "  '203.0.113.0/24, 10.0.0.0/abc'}}}"),
		      NULL, "loadBalancerSourceRanges", NULL);
	for (int i = 0; i <= LB_MAX_SOURCE_RANGES; i++) {
		snprintf(cidr, sizeof(cidr), "10.%d.0.0/16", i);
		json_array_append_new(a, json_string(cidr));
	}
	json_object_set_new(json_object_get(many, "spec"), "loadBalancerSourceRanges", a);
	translate_err(many, NULL, "at most", NULL);
}

static void
test_translate_external_traffic_policy_local_is_dnat(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	uint32_t n;

	(void)state;
	/* the API server adds healthCheckNodePort for Local */
	translate_ok(svc_with("{'spec': {'externalTrafficPolicy': 'Local', 'healthCheckNodePort': 32451}}"),
		     jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_int_equal(lb.mode, LB_MODE_DNAT);
	n = specs_of(&lb, &v);
	assert_int_equal(v[0].mode, LB_MODE_DNAT);
	free_specs(v, n);
	cp_lb_free(&lb);
}

static void
test_translate_scheduler_annotation(void **state)
{
	struct cp_lb lb;
	struct lb_svc_spec *v;
	char warn[512];
	uint32_t n;

	(void)state;
	/* none: Maglev */
	translate_ok(svc_with("{}"), jload("[" WEB_SLICE "]"), &lb, warn, sizeof(warn));
	assert_int_equal(lb.sched, LB_SCHED_MAGLEV);
	cp_lb_free(&lb);
	/* any case, down to every dp service */
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/scheduler': 'WLC'}}}"),
		     jload("[" WEB_SLICE "]"), &lb, warn, sizeof(warn));
	assert_int_equal(lb.sched, LB_SCHED_WLC);
	assert_string_equal(warn, "");
	n = specs_of(&lb, &v);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(v[i].sched, LB_SCHED_WLC);
	free_specs(v, n);
	cp_lb_free(&lb);
	/* unknown: the Service still gets its address, with Maglev and a warning */
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/scheduler': 'lblc'}}}"),
		     jload("[" WEB_SLICE "]"), &lb, warn, sizeof(warn));
	assert_int_equal(lb.sched, LB_SCHED_MAGLEV);
	if (strstr(warn, "edgelb.io/scheduler") == NULL || strstr(warn, "lblc") == NULL)
		fail_msg("warning does not name the annotation: \"%s\"", warn);
	cp_lb_free(&lb);
}

/* edgelb.io/dsr: ipip or gue when every targetPort is the port; otherwise fnat and a warning. */
static void
test_translate_dsr_annotation(void **state)
{
	struct cp_lb lb;
	char warn[512];

	(void)state;
	/* base_svc maps 80 -> 8080: a DSR backend would get packets for port 80 */
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/dsr': 'gue'}}}"),
		     jload("[" WEB_SLICE "]"), &lb, warn, sizeof(warn));
	assert_int_equal(lb.mode, LB_MODE_FNAT);
	if (strstr(warn, "edgelb.io/dsr") == NULL || strstr(warn, "targetPort") == NULL)
		fail_msg("warning does not say why: \"%s\"", warn);
	cp_lb_free(&lb);
	const char *same = "{'metadata': {'annotations': {'edgelb.io/dsr': '%s'}},"
			   " 'spec': {'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80,"
			   " 'targetPort': 80}]}}";
	char buf[512];
	snprintf(buf, sizeof(buf), same, "IPIP");
	translate_ok(svc_with(buf),
		     jload("[" SLICE("web-x7k2p", "shop", "web", "IPv4", PORT("http", "TCP", 80),
				     EP("10.244.1.11", READY, "web-1")) "]"),
		     &lb, warn, sizeof(warn));
	assert_int_equal(lb.mode, LB_MODE_IPIP);
	assert_string_equal(warn, "");
	cp_lb_free(&lb);
	snprintf(buf, sizeof(buf), same, "dnat");
	translate_ok(svc_with(buf), jload("[" WEB_SLICE "]"), &lb, warn, sizeof(warn));
	assert_int_equal(lb.mode, LB_MODE_FNAT);
	if (strstr(warn, "neither ipip nor gue") == NULL)
		fail_msg("warning: \"%s\"", warn);
	cp_lb_free(&lb);
}

/* ---------------------------------------------------------------- annotations and addresses */

static const char dual_stack[] =
	"'spec': {'ipFamilyPolicy': 'PreferDualStack', 'ipFamilies': ['IPv4', 'IPv6'],"
	" 'clusterIPs': ['10.96.14.201', 'fd00:10:96::e1']}";

static void
test_translate_lb_ips_annotation_one_address(void **state)
{
	struct cp_lb lb;
	struct lb_addr a = addr("198.18.0.42");

	(void)state;
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.42'}}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_req_ips, 1);
	assert_true(lb_addr_eq(&lb.req_ips[0], &a));
	cp_lb_free(&lb);
}

static void
test_translate_lb_ips_annotation_one_per_family(void **state)
{
	struct cp_lb lb;
	struct lb_addr a4 = addr("198.18.0.42"), a6 = addr("2001:db8:1::42");
	char text[512];

	(void)state;
	snprintf(text, sizeof(text),
		 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs':"
		 " '2001:db8:1::42,198.18.0.42'}}, %s}", dual_stack);
	translate_ok(svc_with(text), NULL, &lb, NULL, 0);
	assert_int_equal(lb.families, LB_FAMILY_V4 | LB_FAMILY_V6);
	assert_int_equal(lb.n_req_ips, 2);
	assert_true(has_req_ip(&lb, &a4));
	assert_true(has_req_ip(&lb, &a6));
	cp_lb_free(&lb);
}

static void
test_translate_lb_ips_annotation_tolerates_whitespace(void **state)
{
	struct cp_lb lb;
	struct lb_addr a4 = addr("198.18.0.42"), a6 = addr("2001:db8:1::42");
	char text[512];

	(void)state;
	snprintf(text, sizeof(text),
		 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs':"
		 " '  198.18.0.42 ,\\t2001:db8:1::42  '}}, %s}", dual_stack);
	translate_ok(svc_with(text), NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_req_ips, 2);
	assert_true(has_req_ip(&lb, &a4));
	assert_true(has_req_ip(&lb, &a6));
	cp_lb_free(&lb);
}

static const struct {
	const char *description;
	const char *patch;
	const char *want, *want2; /* in the error message */
} ip_errors[] = {
	{"not an address",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': 'web.shop.example.com'}}}",
	 CP_ANN_IPS, "web.shop.example.com"},
	{"one bad among good",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.42,198.18.0.300'}}}",
	 CP_ANN_IPS, "198.18.0.300"},
	{"a CIDR is not an address",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.0/24'}}}", CP_ANN_IPS,
	 "198.18.0.0/24"},
	{"two IPv4 addresses",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.42,198.18.0.43'}},"
	 " 'spec': {'ipFamilyPolicy': 'PreferDualStack', 'ipFamilies': ['IPv4', 'IPv6']}}",
	 CP_ANN_IPS, "one family"},
	{"IPv6 address on an IPv4-only Service",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '2001:db8:1::42'}}}", CP_ANN_IPS,
	 "spec.ipFamilies"},
	{"IPv4 address on an IPv6-only Service",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.42'}},"
	 " 'spec': {'ipFamilies': ['IPv6']}}",
	 CP_ANN_IPS, "198.18.0.42"},
	{"three addresses",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs':"
	 " '198.18.0.42,2001:db8:1::42,198.18.0.43'}},"
	 " 'spec': {'ipFamilyPolicy': 'PreferDualStack', 'ipFamilies': ['IPv4', 'IPv6']}}",
	 CP_ANN_IPS, NULL},
	{"both the annotation and the deprecated field",
	 "{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.42'}},"
	 " 'spec': {'loadBalancerIP': '198.18.0.42'}}",
	 CP_ANN_IPS, "spec.loadBalancerIP"},
	{"deprecated field not an address", "{'spec': {'loadBalancerIP': 'auto'}}",
	 "spec.loadBalancerIP", "auto"},
};

static void
test_translate_rejects_bad_address_requests(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ip_errors) / sizeof(ip_errors[0]); i++) {
		print_message("  %s\n", ip_errors[i].description);
		translate_err(svc_with(ip_errors[i].patch), NULL, ip_errors[i].want, ip_errors[i].want2);
	}
}

static void
test_translate_deprecated_load_balancer_ip_alone(void **state)
{
	struct cp_lb lb;
	struct lb_addr a = addr("198.18.0.42");

	(void)state;
	translate_ok(svc_with("{'spec': {'loadBalancerIP': '198.18.0.42'}}"), NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_req_ips, 1);
	assert_true(lb_addr_eq(&lb.req_ips[0], &a));
	cp_lb_free(&lb);
	/* empty strings are unset, on either side */
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': ''}},"
			      " 'spec': {'loadBalancerIP': '198.18.0.42'}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_req_ips, 1);
	cp_lb_free(&lb);
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/loadBalancerIPs': '198.18.0.42'}},"
			      " 'spec': {'loadBalancerIP': ''}}"),
		     NULL, &lb, NULL, 0);
	assert_int_equal(lb.n_req_ips, 1);
	cp_lb_free(&lb);
}

static void
test_translate_address_pool_and_shared_ip_annotations(void **state)
{
	struct cp_lb lb;

	(void)state;
	translate_ok(svc_with("{'metadata': {'annotations': {'edgelb.io/address-pool': 'public',"
			      " 'edgelb.io/allow-shared-ip': 'front-door'}}}"),
		     jload("[" WEB_SLICE "]"), &lb, NULL, 0);
	assert_string_equal(lb.pool, "public");
	assert_string_equal(lb.sharing_key, "front-door");
	assert_int_equal(lb.n_req_ips, 0);
	cp_lb_free(&lb);
}

static void
test_translate_rejects_bad_metadata_name(void **state)
{
	static const char *const patches[] = {
		"{'metadata': {'name': null}}",
		"{'metadata': {'name': ''}}",
		"{'metadata': {'name': 'Web'}}",
		"{'metadata': {'name': 'web_front'}}",
		"{'metadata': {'name': '-web'}}",
		"{'metadata': {'name': 'a123456789012345678901234567890123456789012345678901234567890123'}}",
		"{'metadata': {'name': 42}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++)
		translate_err(svc_with(patches[i]), jload("[" WEB_SLICE "]"), "metadata.name", NULL);
}

static void
test_translate_service_without_namespace_is_in_default(void **state)
{
	struct cp_lb lb;
	json_t *slices = jload("[" WEB_SLICE "]");

	(void)state;
	json_object_set_new(json_object_get(json_array_get(slices, 0), "metadata"), "namespace",
			    json_string("default"));
	translate_ok(svc_with("{'metadata': {'namespace': null}}"), slices, &lb, NULL, 0);
	assert_string_equal(lb.ns, "default");
	assert_int_equal(lb.n_backends, 2);
	cp_lb_free(&lb);
}

/* ---------------------------------------------------------------- status, key */

static void
test_status_ips_reads_ingress_addresses(void **state)
{
	json_t *s = svc_with("{'status': {'loadBalancer': {'ingress': ["
			     " {'ip': '198.18.0.100', 'ipMode': 'VIP'},"
			     " {'ip': '2001:db8:1::100', 'ipMode': 'VIP'}]}}}");
	struct lb_addr out[2], a4 = addr("198.18.0.100"), a6 = addr("2001:db8:1::100");

	(void)state;
	assert_int_equal(cp_k8s_svc_status_ips(s, out), 2);
	assert_true(lb_addr_eq(&out[0], &a4));
	assert_true(lb_addr_eq(&out[1], &a6));
	json_decref(s);
}

static void
test_status_ips_skips_hostnames_and_bad_entries_and_keeps_two(void **state)
{
	json_t *s = svc_with("{'status': {'loadBalancer': {'ingress': ["
			     " {'hostname': 'lb.example.com'},"
			     " {'ip': 'pending'},"
			     " {'ip': '2001:db8:1::100'},"
			     " {'ip': '198.18.0.100'},"
			     " {'ip': '198.18.0.101'}]}}}");
	struct lb_addr out[2], a4 = addr("198.18.0.100"), a6 = addr("2001:db8:1::100");

	(void)state;
	assert_int_equal(cp_k8s_svc_status_ips(s, out), 2);
	assert_true(lb_addr_eq(&out[0], &a6)); /* as listed */
	assert_true(lb_addr_eq(&out[1], &a4));
	json_decref(s);
}

static void
test_status_ips_none_before_assignment(void **state)
{
	json_t *s = svc_with(NULL); /* status.loadBalancer: {} */
	struct lb_addr out[2];

	(void)state;
	assert_int_equal(cp_k8s_svc_status_ips(s, out), 0);
	json_object_del(s, "status");
	assert_int_equal(cp_k8s_svc_status_ips(s, out), 0);
	json_decref(s);
}

static void
test_key_is_namespace_and_name(void **state)
{
	json_t *s = svc_with(NULL), *sl = jload(WEB_SLICE);
	char buf[LB_OWNER_MAX], small[8];

	(void)state;
	assert_string_equal(cp_k8s_svc_key(s, buf, sizeof(buf)), "shop/web");
	assert_string_equal(cp_k8s_svc_key(sl, buf, sizeof(buf)), "shop/web-x7k2p");
	assert_string_equal(cp_k8s_svc_key(s, small, sizeof(small)), "shop/we"); /* truncated, ended */
	json_object_del(json_object_get(s, "metadata"), "namespace");
	assert_string_equal(cp_k8s_svc_key(s, buf, sizeof(buf)), "default/web");
	json_object_set_new(json_object_get(s, "metadata"), "namespace", json_string(""));
	assert_string_equal(cp_k8s_svc_key(s, buf, sizeof(buf)), "default/web");
	json_decref(s);
	json_decref(sl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ours_load_balancer_of_our_class),
		cmocka_unit_test(test_ours_not_when_class_is_another_implementation),
		cmocka_unit_test(test_ours_without_class_only_as_default_implementation),
		cmocka_unit_test(test_ours_never_cluster_ip_or_node_port),
		cmocka_unit_test(test_translate_base_service),
		cmocka_unit_test(test_translate_tcp_and_udp_ports),
		cmocka_unit_test(test_translate_skips_sctp_port_with_warning_naming_it),
		cmocka_unit_test(test_translate_rejects_service_with_only_sctp_ports),
		cmocka_unit_test(test_translate_rejects_more_ports_than_a_load_balancer_holds),
		cmocka_unit_test(test_translate_target_port_defaults_to_port),
		cmocka_unit_test(test_translate_unnamed_single_port),
		cmocka_unit_test(test_translate_named_target_port_resolves_per_pod),
		cmocka_unit_test(test_translate_multi_port_gives_each_port_only_its_backends),
		cmocka_unit_test(test_translate_endpoint_conditions_map_to_backend_states),
		cmocka_unit_test(test_translate_terminating_endpoint_without_serving_is_draining),
		cmocka_unit_test(test_translate_duplicate_endpoint_keeps_best_state),
		cmocka_unit_test(test_translate_ignores_fqdn_slices),
		cmocka_unit_test(test_translate_ignores_slices_of_other_services_and_namespaces),
		cmocka_unit_test(test_translate_without_slices_has_no_backends),
		cmocka_unit_test(test_translate_caps_backends_with_warning),
		cmocka_unit_test(test_translate_dual_stack_serves_each_family_its_backends),
		cmocka_unit_test(test_translate_ipv4_only_service_ignores_ipv6_slice),
		cmocka_unit_test(test_translate_ipv6_only_service_ignores_ipv4_slice),
		cmocka_unit_test(test_translate_single_stack_with_two_families_takes_first),
		cmocka_unit_test(test_translate_prefer_dual_stack_on_single_stack_cluster_has_one_family),
		cmocka_unit_test(test_translate_without_ip_families_is_ipv4),
		cmocka_unit_test(test_translate_client_ip_affinity_with_timeout),
		cmocka_unit_test(test_translate_client_ip_affinity_without_timeout_takes_default),
		cmocka_unit_test(test_translate_source_ranges_from_spec),
		cmocka_unit_test(test_translate_source_ranges_from_annotation),
		cmocka_unit_test(test_translate_source_ranges_spec_wins_over_annotation),
		cmocka_unit_test(test_translate_source_range_host_bits_are_cleared),
		cmocka_unit_test(test_translate_rejects_bad_source_ranges),
		cmocka_unit_test(test_translate_external_traffic_policy_local_is_dnat),
		cmocka_unit_test(test_translate_scheduler_annotation),
		cmocka_unit_test(test_translate_dsr_annotation),
		cmocka_unit_test(test_translate_lb_ips_annotation_one_address),
		cmocka_unit_test(test_translate_lb_ips_annotation_one_per_family),
		cmocka_unit_test(test_translate_lb_ips_annotation_tolerates_whitespace),
		cmocka_unit_test(test_translate_rejects_bad_address_requests),
		cmocka_unit_test(test_translate_deprecated_load_balancer_ip_alone),
		cmocka_unit_test(test_translate_address_pool_and_shared_ip_annotations),
		cmocka_unit_test(test_translate_rejects_bad_metadata_name),
		cmocka_unit_test(test_translate_service_without_namespace_is_in_default),
		cmocka_unit_test(test_status_ips_reads_ingress_addresses),
		cmocka_unit_test(test_status_ips_skips_hostnames_and_bad_entries_and_keeps_two),
		cmocka_unit_test(test_status_ips_none_before_assignment),
		cmocka_unit_test(test_key_is_namespace_and_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
