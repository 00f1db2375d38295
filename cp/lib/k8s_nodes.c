/*
 * k8s_nodes.c - Nodes + a Service's nodePorts -> load-balancer backends (see
 * k8s_nodes.h). Pure, no I/O; called on the controller's reconcile thread (once
 * wired) and by tests/test_k8s_nodes.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "k8s_nodes.h"
#include "lb_error.h"

static const json_t *
at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	return b ? json_object_get(v, b) : v;
}

static void
warn_add(char *warn, size_t len, const char *msg, const char *arg)
{
	size_t used;

	if (warn == NULL || len == 0)
		return;
	used = strlen(warn);
	if (used + 3 >= len)
		return;
	snprintf(warn + used, len - used, "%s%s%s", used ? "; " : "", msg, arg ? arg : "");
}

static bool
ready(const json_t *node)
{
	const json_t *c;
	size_t i;

	json_array_foreach(at(node, "status", "conditions"), i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, "Ready") == 0) {
			const char *s = json_string_value(json_object_get(c, "status"));
			return s && strcmp(s, "True") == 0;
		}
	}
	return false; /* no Ready condition: the kubelet never reported */
}

static bool
leaving(const json_t *node)
{
	const json_t *t;
	size_t i;

	if (json_is_string(at(node, "metadata", "deletionTimestamp")) ||
	    json_is_true(at(node, "spec", "unschedulable")))
		return true;
	json_array_foreach(at(node, "spec", "taints"), i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		if (k && strcmp(k, CP_TAINT_CA_DELETE) == 0)
			return true;
	}
	return false;
}

int
cp_k8s_nodes_parse(const json_t *node, const char *addr_type, struct cp_node *n)
{
	const char *name = json_string_value(at(node, "metadata", "name"));
	const json_t *a;
	size_t i;

	memset(n, 0, sizeof(*n));
	if (!json_is_object(node) || name == NULL || *name == '\0')
		return LB_EINVAL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (json_object_get(at(node, "metadata", "labels"), CP_LABEL_EXCLUDE_LB) != NULL)
		return 0;
	json_array_foreach(at(node, "status", "addresses"), i, a) {
		const char *t = json_string_value(json_object_get(a, "type"));
		const char *s = json_string_value(json_object_get(a, "address"));
		struct lb_addr x;
		bool dup = false;

		if (!t || !s || strcmp(t, addr_type) != 0 || lb_addr_parse(s, &x) < 0)
			continue;
		for (uint32_t k = 0; k < n->n_addrs; k++)
			dup |= n->addrs[k].family == x.family; /* the first of a family wins */
		if (dup || n->n_addrs == CP_NODE_MAX_ADDRS)
			continue;
		n->addrs[n->n_addrs++] = x;
	}
	if (n->n_addrs == 0)
		return 0;
	if (n->n_addrs == 2 && n->addrs[0].family == LB_AF_INET6) {
		struct lb_addr t = n->addrs[0];
		n->addrs[0] = n->addrs[1];
		n->addrs[1] = t;
	}
	n->state = leaving(node) ? LB_BACKEND_DRAINING : ready(node) ? LB_BACKEND_ACTIVE
								      : LB_BACKEND_DOWN;
	return 1;
}

bool
cp_k8s_nodes_wanted(const json_t *svc, bool dflt, char *warn, size_t warnlen)
{
	const char *v = json_string_value(json_object_get(at(svc, "metadata", "annotations"),
							  CP_ANN_BACKENDS));

	if (v == NULL || *v == '\0')
		return dflt;
	if (strcasecmp(v, "nodes") == 0)
		return true;
	if (strcasecmp(v, "pods") == 0)
		return false;
	warn_add(warn, warnlen, CP_ANN_BACKENDS ": not \"pods\" or \"nodes\": ", v);
	return dflt;
}

static int
add(struct cp_lb *lb, const struct cp_backend *b)
{
	if (lb->n_backends == CP_MAX_BACKENDS)
		return LB_EFULL;
	struct cp_backend *nb = realloc(lb->backends, sizeof(*nb) * (lb->n_backends + 1));
	if (nb == NULL)
		return LB_ENOMEM;
	lb->backends = nb;
	lb->backends[lb->n_backends++] = *b;
	return 0;
}

int
cp_k8s_nodes_backends(const json_t *svc, const json_t *nodes, const char *addr_type,
		     struct cp_lb *lb, char *warn, size_t warnlen)
{
	const json_t *spec = json_object_get(svc, "spec"), *p, *node;
	size_t i, k;

	free(lb->backends);
	lb->backends = NULL;
	lb->n_backends = 0;
	const char *etp = json_string_value(json_object_get(spec, "externalTrafficPolicy"));
	const json_t *hcp = json_object_get(spec, "healthCheckNodePort");
	if (etp && strcmp(etp, "Local") == 0 && json_is_integer(hcp) &&
	    json_integer_value(hcp) >= 1 && json_integer_value(hcp) <= 65535) {
		/* kube-proxy's health check server: 200 with localEndpoints > 0, else 503 */
		lb->hc.type = CP_HC_HTTP;
		snprintf(lb->hc.path, sizeof(lb->hc.path), "/healthz");
		lb->hc.port = (uint16_t)json_integer_value(hcp);
		lb->hc.expect = CP_HC_EXPECT_LOCAL_ENDPOINTS;
	}
	json_array_foreach(json_object_get(spec, "ports"), k, p) {
		const json_t *np = json_object_get(p, "nodePort");
		const char *pname = json_string_value(json_object_get(p, "name"));
		const char *proto = json_string_value(json_object_get(p, "protocol"));

		if (proto && strcmp(proto, "TCP") != 0 && strcmp(proto, "UDP") != 0)
			continue; /* cp_k8s_svc_translate() already reported it */
		if (!json_is_integer(np) || json_integer_value(np) < 1 ||
		    json_integer_value(np) > 65535) {
			warn_add(warn, warnlen, "no nodePort (allocateLoadBalancerNodePorts: false?)"
				 " for port ", pname ? pname : "");
			continue;
		}
		json_array_foreach(nodes, i, node) {
			struct cp_node n;
			struct cp_backend b;

			if (cp_k8s_nodes_parse(node, addr_type, &n) != 1)
				continue;
			memset(&b, 0, sizeof(b));
			b.port = (uint16_t)json_integer_value(np);
			b.weight = 1;
			b.state = n.state;
			snprintf(b.port_name, sizeof(b.port_name), "%s", pname ? pname : "");
			for (uint32_t a = 0; a < n.n_addrs; a++) {
				uint8_t fam = n.addrs[a].family == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6;
				if (!(lb->families & fam))
					continue;
				b.addr = n.addrs[a];
				int rc = add(lb, &b);
				if (rc == LB_EFULL) {
					warn_add(warn, warnlen, "too many node backends: the rest ignored",
						 NULL);
					return 0;
				}
				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

json_t *
cp_k8s_nodes_slim(const json_t *node)
{
	const json_t *md = json_object_get(node, "metadata"), *v;
	json_t *m = json_object(), *spec = json_object(), *st = json_object();
	json_t *o = json_pack("{s:o, s:o, s:o}", "metadata", m, "spec", spec, "status", st);
	size_t i;

	if ((v = json_object_get(md, "name")) != NULL)
		json_object_set(m, "name", (json_t *)v);
	if ((v = json_object_get(md, "deletionTimestamp")) != NULL)
		json_object_set(m, "deletionTimestamp", (json_t *)v);
	if ((v = json_object_get(json_object_get(md, "labels"), CP_LABEL_EXCLUDE_LB)) != NULL)
		json_object_set_new(m, "labels", json_pack("{s:O}", CP_LABEL_EXCLUDE_LB, v));
	if (json_is_true(at(node, "spec", "unschedulable")))
		json_object_set_new(spec, "unschedulable", json_true());
	json_array_foreach(at(node, "spec", "taints"), i, v) {
		const char *k = json_string_value(json_object_get(v, "key"));
		if (k && strcmp(k, CP_TAINT_CA_DELETE) == 0)
			json_object_set_new(spec, "taints", json_pack("[{s:s}]", "key", k));
	}
	if ((v = at(node, "status", "addresses")) != NULL)
		json_object_set(st, "addresses", (json_t *)v);
	json_array_foreach(at(node, "status", "conditions"), i, v) {
		const char *t = json_string_value(json_object_get(v, "type"));
		const json_t *s = json_object_get(v, "status");
		if (t && strcmp(t, "Ready") == 0 && json_is_string(s)) {
			json_object_set_new(st, "conditions", json_pack("[{s:s, s:O}]", "type", t,
									 "status", s));
			break;
		}
	}
	return o;
}
