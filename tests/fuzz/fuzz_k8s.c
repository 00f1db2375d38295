/*
 * fuzz_k8s.c - libFuzzer harness for the Kubernetes translation (cp/lib/k8s_svc.c,
 * cp/lib/k8s_nodes.c).
 *
 * Input: a JSON array [Service, [EndpointSlice...], [Node...]] (the last two may be
 * missing or anything). Every entry point sees it: ours, key, status IPs, slim,
 * translate, the node parser and the NodePort backends. Oracles:
 *  - a rejection says why;
 *  - slimming loses nothing translation reads: the slim copies translate to the
 *    same load balancer (and the same error) as the watched objects;
 *  - a translated load balancer encodes (cp_lb_to_json), and every dp service it
 *    makes passes the dp's validator (lb_svc_spec_validate), with pod backends and
 *    with node backends.
 * Seeds: the fixtures of tests/test_k8s_svc.c, test_k8s_nodes.c, test_k8s_limits.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s_nodes.h"
#include "k8s_svc.h"
#include "lb.h"
#include "lb_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cp_health_check hc_defaults = {
	.type = CP_HC_TCP, .interval_ms = 2000, .timeout_ms = 1000, .rise = 2, .fall = 3,
};

static void
check_lb(struct cp_lb *lb)
{
	struct lb_svc_spec *v;
	uint32_t n;
	char err[512];
	json_t *e = cp_lb_to_json(lb, NULL);

	if (e == NULL)
		abort();
	json_decref(e);
	lb->n_ips = 0;
	if (lb->families & LB_FAMILY_V4)
		lb_addr_parse("198.18.0.100", &lb->ips[lb->n_ips++]);
	if (lb->families & LB_FAMILY_V6)
		lb_addr_parse("2001:db8::100", &lb->ips[lb->n_ips++]);
	if (cp_lb_dp_specs(lb, NULL, &v, &n) != 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		if (lb_svc_spec_validate(&v[i], err, sizeof(err)) != 0)
			abort(); /* the cp made a service the dp refuses */
		lb_svc_spec_free(&v[i]);
	}
	free(v);
	lb->n_ips = 0;
}

/* translate; returns the encoding (new reference) or a JSON string holding the error */
static json_t *
translate(const json_t *svc, const json_t *slices, const json_t *nodes)
{
	struct cp_lb lb;
	char warn[512] = "", err[512] = "";

	if (cp_k8s_svc_translate(svc, slices, &hc_defaults, &lb, warn, sizeof(warn), err,
				 sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return json_string(err);
	}
	check_lb(&lb);
	json_t *out = cp_lb_to_json(&lb, NULL);
	if (nodes != NULL && cp_k8s_nodes_wanted(svc, false, warn, sizeof(warn)) &&
	    cp_k8s_nodes_backends(svc, nodes, "InternalIP", &lb, warn, sizeof(warn)) == 0)
		check_lb(&lb);
	cp_lb_free(&lb);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	char key[CP_KEY_MAX];
	struct lb_addr ips[2];

	if (j == NULL)
		return 0;
	json_t *svc = json_is_array(j) ? json_array_get(j, 0) : j;
	json_t *slices = json_is_array(j) ? json_array_get(j, 1) : NULL;
	json_t *nodes = json_is_array(j) ? json_array_get(j, 2) : NULL;

	(void)cp_k8s_svc_ours(svc, "edgelb.io/lb", true);
	(void)cp_k8s_svc_ours(svc, "edgelb.io/lb", false);
	(void)cp_k8s_svc_key(svc, key, sizeof(key));
	if (memchr(key, '\0', sizeof(key)) == NULL)
		abort();
	if (cp_k8s_svc_status_ips(svc, ips) > 2)
		abort();

	json_t *out = translate(svc, slices, nodes);
	/* the controller keeps slim copies: they must translate the same */
	json_t *ssvc = cp_k8s_svc_slim(svc, false), *sslices = NULL;
	if (json_is_array(slices)) {
		size_t i;
		json_t *s;
		sslices = json_array();
		json_array_foreach(slices, i, s) {
			json_t *x = cp_k8s_svc_slim(s, true);
			json_array_append_new(sslices, x ? x : json_null());
		}
	}
	if (ssvc != NULL && json_is_object(svc)) {
		json_t *out2 = translate(ssvc, sslices, NULL);
		if (out != NULL && out2 != NULL && !json_equal(out, out2))
			abort(); /* slimming changed what the Service means */
		json_decref(out2);
	}
	json_decref(ssvc);
	json_decref(sslices);
	json_decref(out);

	if (json_is_array(nodes)) {
		size_t i;
		json_t *nd;
		json_array_foreach(nodes, i, nd) {
			struct cp_node n;
			int rc = cp_k8s_nodes_parse(nd, "InternalIP", &n);
			if (rc == 1 && (n.n_addrs > CP_NODE_MAX_ADDRS ||
					memchr(n.name, '\0', sizeof(n.name)) == NULL))
				abort();
		}
	}
	json_decref(j);
	return 0;
}
