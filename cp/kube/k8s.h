/*
 * k8s.h - the Kubernetes controller of edgelb-cp (kubernetes mode).
 *
 * Two watch threads (Services, EndpointSlices) keep local copies of the objects
 * by list-then-watch; a reconcile thread turns each changed Service into a load
 * balancer in the store (cp/lib/k8s_svc.c), then writes the Service's
 * status.loadBalancer.ingress and Events. The dp sync thread takes it from the
 * store. docs/kubernetes.md describes the behaviour.
 */
#ifndef LB_CP_K8S_H
#define LB_CP_K8S_H

#include <stddef.h>

#include <jansson.h>

struct cp_conf;
struct cp_store;
struct cp_k8s;

struct cp_k8s *cp_k8s_start(const struct cp_conf *c, struct cp_store *store, char *err,
			    size_t errlen);
void cp_k8s_stop(struct cp_k8s *k);

/* /metrics lines: watch state, last sync, Services handled (cp_metrics_fn). */
void cp_k8s_metrics(void *arg, char **buf, size_t *len, size_t *cap);
/* /healthz detail: {"kubernetes": {"leader": bool, "identity", "lease", "holder"}} (cp_health_fn). */
void cp_k8s_health(void *arg, json_t *obj);

#endif /* LB_CP_K8S_H */
