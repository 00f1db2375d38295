/*
 * k8s_svc.h - from a Kubernetes Service and its EndpointSlices to a load balancer.
 *
 * Pure C over jansson: the controller (cp/kube/k8s.c) calls it with objects it holds
 * from its watches; tests/test_k8s_svc.c calls it with JSON fixtures.
 *
 * Mapping (docs/kubernetes.md):
 *   spec.ports[]                      -> ports (TCP, UDP; others reported in warn)
 *   targetPort (number or name)       -> each backend's port comes from the
 *                                        EndpointSlice port of the same name
 *   EndpointSlice endpoints           -> backends: ready -> active,
 *                                        serving + terminating -> draining, others left out
 *                                        (missing ready/serving mean true)
 *   sessionAffinity ClientIP + timeout -> ClientIP affinity
 *   loadBalancerSourceRanges / annotation service.beta.kubernetes.io/load-balancer-source-ranges
 *                                     -> source ranges
 *   externalTrafficPolicy: Local      -> dnat (client address kept)
 *   spec.ipFamilies                   -> address families
 *   edgelb.io/loadBalancerIPs, spec.loadBalancerIP (deprecated; both -> error)
 *   edgelb.io/address-pool, edgelb.io/allow-shared-ip
 *   edgelb.io/scheduler               -> scheduler (unknown name: maglev + warn)
 */
#ifndef LB_CP_K8S_SVC_H
#define LB_CP_K8S_SVC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lb.h"

#define CP_ANN_IPS "edgelb.io/loadBalancerIPs"
#define CP_ANN_POOL "edgelb.io/address-pool"
#define CP_ANN_SHARE "edgelb.io/allow-shared-ip"
#define CP_ANN_SCHED "edgelb.io/scheduler"
#define CP_ANN_DSR "edgelb.io/dsr" /* "ipip" | "gue": direct server return */
#define CP_ANN_RANGES "service.beta.kubernetes.io/load-balancer-source-ranges"
#define CP_SVC_NAME_LABEL "kubernetes.io/service-name"

/* Is this Service ours: type LoadBalancer and our class (or none, when we are default)? */
bool cp_k8s_svc_ours(const json_t *svc, const char *lb_class, bool default_class);

/*
 * Fill lb (initialised here) from svc and the EndpointSlices labelled with its
 * name (slices: a JSON array, others are ignored). Problems that leave the
 * Service usable (an SCTP port skipped) go to warn; problems that mean "no IP"
 * (both IP fields set, a malformed annotation) return LB_EINVAL with err.
 */
int cp_k8s_svc_translate(const json_t *svc, const json_t *slices, const struct cp_health_check *hc,
		     struct cp_lb *lb, char *warn, size_t warnlen, char *err, size_t errlen);

/* status.loadBalancer.ingress[].ip of svc, at most 2; returns the count. */
uint32_t cp_k8s_svc_status_ips(const json_t *svc, struct lb_addr out[2]);

/* Longest "ns/name" of any object: a namespace (63), '/', a DNS subdomain name (253). */
#define CP_KEY_MAX (63 + 1 + 253 + 1)

/* "ns/name" of an object (metadata.namespace default "default"). */
const char *cp_k8s_svc_key(const json_t *obj, char *buf, size_t len);

/*
 * A copy of a watched object with only what the controller reads (new reference):
 * a Service without managedFields and kubectl's last-applied annotation; an
 * EndpointSlice with its name, namespace, uid, resourceVersion, service-name
 * label, addressType, ports and each endpoint's addresses and conditions.
 */
json_t *cp_k8s_svc_slim(const json_t *obj, bool slice);

#endif /* LB_CP_K8S_SVC_H */
