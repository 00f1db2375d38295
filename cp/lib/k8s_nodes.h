/*
 * k8s_nodes.h - NodePort backends: a Service's backends as the cluster's nodes at
 * the Service's nodePorts, for clusters whose Pod IPs the box cannot route (issue 16).
 *
 * Pure C over jansson, like k8s_svc.h: the caller hands Node objects it holds from a
 * watch (cp/kube/k8s.c, reconcile thread); tests/test_k8s_nodes.c hands JSON
 * fixtures. See docs/kubernetes.md, "NodePort backends".
 *
 * Mapping of one Node (status.addresses of the configured type, e.g. InternalIP):
 *   label node.kubernetes.io/exclude-from-external-load-balancers -> left out
 *   no address of the type                                       -> left out
 *   being deleted (metadata.deletionTimestamp), cordoned (spec.unschedulable), or
 *   tainted ToBeDeletedByClusterAutoscaler                        -> draining
 *   Ready condition not "True"                                    -> down
 *   otherwise                                                     -> active
 */
#ifndef LB_CP_K8S_NODES_H
#define LB_CP_K8S_NODES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lb.h"

#define CP_ANN_BACKENDS "edgelb.io/backends"  /* "pods" | "nodes" */
#define CP_LABEL_EXCLUDE_LB "node.kubernetes.io/exclude-from-external-load-balancers"
#define CP_TAINT_CA_DELETE "ToBeDeletedByClusterAutoscaler"
#define CP_NODE_MAX_ADDRS 2                   /* one per family */

struct cp_node {
	char name[254];
	uint32_t n_addrs;
	struct lb_addr addrs[CP_NODE_MAX_ADDRS]; /* of the configured type, IPv4 first */
	uint8_t state;                           /* enum lb_backend_state */
};

/*
 * One Node object into n. addr_type is a status.addresses type ("InternalIP",
 * "ExternalIP"). Returns 1 when the node serves as a backend, 0 when it is left out
 * (excluded by label, or no address of that type), LB_EINVAL when node is not an
 * object with a name.
 */
int cp_k8s_nodes_parse(const json_t *node, const char *addr_type, struct cp_node *n);

/*
 * Whether svc wants node backends: its annotation edgelb.io/backends ("pods" or
 * "nodes", any case), else dflt (the controller's global setting). An annotation
 * with another value leaves dflt and says so in warn (may be NULL).
 */
bool cp_k8s_nodes_wanted(const json_t *svc, bool dflt, char *warn, size_t warnlen);

/*
 * Replace lb's backends (lb from cp_k8s_svc_translate() of svc) with every node of
 * nodes (a JSON array of Node objects) at each Service port's nodePort: one backend
 * per (node address of a family the lb serves, port), tied to its port by name.
 * With externalTrafficPolicy Local the lb gets an HTTP health check of
 * /healthz on spec.healthCheckNodePort whose JSON body must show localEndpoints > 0
 * (kube-proxy answers 200 with it only on nodes with a ready local endpoint) and
 * keeps dnat. Ports without a nodePort are
 * reported in warn. Returns 0, LB_ENOMEM (lb unchanged but for freed backends).
 */
int cp_k8s_nodes_backends(const json_t *svc, const json_t *nodes, const char *addr_type,
			 struct cp_lb *lb, char *warn, size_t warnlen);

/*
 * What the controller keeps of a Node (new reference): name, the exclusion label,
 * deletionTimestamp, spec.unschedulable, the autoscaler's taint, status.addresses
 * and the Ready condition's status. No resourceVersion or heartbeat times, so a
 * kubelet's status refresh compares equal (json_equal) to what was kept.
 */
json_t *cp_k8s_nodes_slim(const json_t *node);

#endif /* LB_CP_K8S_NODES_H */
