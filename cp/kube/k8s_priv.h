/*
 * k8s_priv.h - the Kubernetes controller's state, shared by its files in
 * cp/kube: k8s.c (watch threads, reconcile thread), k8s_alloc.c (what a
 * follower and a leader do with one Service; reconcile thread), k8s_queue.c and
 * k8s_write.c (the write queue's threads: status, finalizer and Event writes),
 * k8s_metrics.c (/metrics and /healthz, on the API's threads through hooks),
 * lease.c (leader election, its own thread, through cp_lease_*). k->mu guards
 * what more than one of those threads touches.
 * Not a public interface: k8s.h is.
 */
#ifndef LB_CP_K8S_PRIV_H
#define LB_CP_K8S_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lb.h"

#define CP_FINALIZER "service.kubernetes.io/load-balancer-cleanup"

enum wstate { W_STARTING, W_LISTING, W_WATCHING, W_BACKOFF };

struct cp_k8s;
struct cp_k8s_queue;

struct watch {
	struct cp_k8s *k;
	const char *what;     /* "services" / "endpointslices" / "nodes" */
	const char *path;
	json_t *objs;         /* "ns/name" -> object */
	char rv[64];
	pthread_t th;
	int state;
	bool listed;          /* a list completed at least once */
	bool need_relist;
	bool failed;          /* the current watch ended in an ERROR event */
	uint64_t relists, events, bookmarks, errors, watches;
	double last_list_unix, last_event_unix;
};

struct cp_k8s {
	const struct cp_conf *conf;
	struct cp_store *store;
	struct kc *kc;
	struct cp_lease *lease;
	struct cp_k8s_queue *queue;
	struct watch svc, eps, node; /* node: slim Nodes (k8s_nodes.h), for node backends */
	pthread_t rec_th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *dirty;        /* set of Service keys to reconcile */
	json_t *said;         /* key -> last event text, to not repeat ourselves */
	json_t *to_clear;     /* key -> {"uid", "ips"}: status clearing failed, retried */
	volatile bool stop;
	volatile bool resync; /* leadership changed: look at every Service again */
	char host[128];
	/* metrics, under mu */
	uint64_t reconciles, status_writes, status_conflicts, events_sent, errors;
	uint64_t finalizer_writes, kept_on_error;
	uint32_t handled;
};

void cp_k8s_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An Event on a Service (leader only; the same reason and message are not repeated). */
void cp_k8s_event(struct cp_k8s *k, const json_t *svc, const char *type, const char *reason,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Make status.loadBalancer.ingress of ns/name (when its uid is still uid) show
 * ips, each with the Service's ports, in the order of spec.ipFamilies. n == 0
 * removes only the entries whose address is in drop (what we had allocated),
 * leaving other controllers' entries alone. 0 done (or nothing to do), -1 retry.
 */
int cp_k8s_write_status(struct cp_k8s *k, const char *ns, const char *name, const char *uid,
			const struct lb_addr *ips, uint32_t n, const struct lb_addr *drop,
			uint32_t n_drop);

/* Add or remove our finalizer on ns/name (uid checked). 0 done, -1 retry. */
int cp_k8s_finalizer(struct cp_k8s *k, const char *ns, const char *name, const char *uid, bool add);

/*
 * The desired ingress array for ips on svc: ordered by spec.ipFamilies, each with
 * the Service's ports, then the entries of the current status that have no ip.
 */
json_t *cp_k8s_ingress(const json_t *svc, const struct lb_addr *ips, uint32_t n);

/* Follower: program the dp from the addresses in the Service's status. */
int cp_k8s_follow(struct cp_k8s *k, const json_t *svc, struct cp_lb *lb);

/*
 * Leader: store lb (consumed) for svc; old is what the store had (NULL: nothing).
 * Returns 0 with *out (the stored load balancer), or an LB_E* code with err; then
 * *kept says the Service kept its old addresses (the rest of the change applied
 * when possible, *out set in that case).
 */
int cp_k8s_allocate(struct cp_k8s *k, const json_t *svc, struct cp_lb *lb, const struct cp_lb *old,
		    json_t **out, bool *kept, char *err, size_t errlen);

bool cp_k8s_is_leader(struct cp_k8s *k);

/* ---- the write queue (k8s_queue.c) ---- */
struct cp_k8s_queue_stats {
	uint64_t depth, done, retries, throttled;
};
struct cp_k8s_queue *cp_k8s_queue_start(struct cp_k8s *k);
void cp_k8s_queue_stop(struct cp_k8s_queue *q);
/*
 * The latest intent for a Service key (replaces an older one):
 *   "ensure":  our finalizer on it, status showing ips (n may be 0: finalizer only);
 *   "release": ips (what we had) out of its status, then our finalizer off,
 *              then cp_k8s_release_done(key).
 * uid: the Service the intent is for (writes skip another object of the same name).
 */
void cp_k8s_queue_put(struct cp_k8s_queue *q, const char *key, const char *op, const char *uid,
		      const struct lb_addr *ips, uint32_t n);
/* An Event (ev stolen) to POST for the key. */
void cp_k8s_queue_event(struct cp_k8s_queue *q, const char *key, json_t *ev);
void cp_k8s_queue_stats(struct cp_k8s_queue *q, struct cp_k8s_queue_stats *st);
/* A release was written: forget the record kept for it (k8s.c). */
void cp_k8s_release_done(struct cp_k8s *k, const char *key);

#endif /* LB_CP_K8S_PRIV_H */
