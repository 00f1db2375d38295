/*
 * k8s.c - the Kubernetes controller (see k8s.h).
 *
 * Threads: one per watched resource (Services, EndpointSlices, Nodes: list, then
 * watch from the list's
 * resourceVersion; BOOKMARKs move it forward; 410 Gone, as an HTTP status or an
 * ERROR event, means relist; any other failure means re-watch after a backoff),
 * and one reconcile thread. The watch threads only store objects and mark
 * Service keys dirty; all decisions happen in reconcile, so Services and
 * EndpointSlices arriving in any order converge to the same state. k->mu guards
 * the object maps and the dirty set.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpconf.h"
#include "k8s.h"
#include "k8s_nodes.h"
#include "k8s_priv.h"
#include "k8s_svc.h"
#include "kclient.h"
#include "lease.h"
#include "cptime.h"
#include "lb_error.h"
#include "store.h"

#define WATCH_TIMEOUT_S 290
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
#define LIST_LIMIT 500
#define WATCH_MIN_INTERVAL_MS 1000 /* between two watch requests of one resource */
#define WATCH_SHORT_S 1.0          /* a watch that ends sooner without an event failed */

/* ---- dirty set (k->mu held) ------------------------------------------------ */

static void
mark_locked(struct cp_k8s *k, const char *key)
{
	json_object_set_new(k->dirty, key, json_true());
	pthread_cond_signal(&k->cv);
}

/* The Service keys an object concerns: itself, or the Service a slice belongs to. */
static void
mark_for(struct watch *w, const json_t *obj)
{
	char key[CP_KEY_MAX];

	if (w == &w->k->svc) {
		mark_locked(w->k, cp_k8s_svc_key(obj, key, sizeof(key)));
		return;
	}
	if (w == &w->k->node) {
		/* A Node concerns every Service whose backends are nodes. */
		const char *sk;
		json_t *s;
		bool dflt = w->k->conf->k8s_backends == CP_BACKENDS_NODES;
		json_object_foreach(w->k->svc.objs, sk, s)
			if (cp_k8s_nodes_wanted(s, dflt, NULL, 0))
				mark_locked(w->k, sk);
		return;
	}
	const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
	const char *svc = json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "labels"), CP_SVC_NAME_LABEL));
	if (svc) {
		snprintf(key, sizeof(key), "%s/%s", ns && *ns ? ns : "default", svc);
		mark_locked(w->k, key);
	}
}

/* ---- list and watch ---------------------------------------------------------- */

/* Only what reconcile reads is kept (slices: no topology, hints, targetRef). */
static json_t *
slim(struct watch *w, const json_t *obj)
{
	if (w == &w->k->node)
		return cp_k8s_nodes_slim(obj);
	return cp_k8s_svc_slim(obj, w == &w->k->eps);
}

static int
list(struct watch *w, char *err, size_t errlen)
{
	struct cp_k8s *k = w->k;
	json_t *all = json_object();
	char path[1024], cont[1024] = "", rv[64] = "";

	w->state = W_LISTING;
	do {
		long status;
		snprintf(path, sizeof(path), "%s?limit=%d%s%s", w->path, LIST_LIMIT,
			 cont[0] ? "&continue=" : "", cont);
		json_t *r = kc_call(k->kc, "GET", path, NULL, NULL, &status, err, errlen);
		if (r == NULL || status != 200) {
			if (r)
				snprintf(err, errlen, "list %s: HTTP %ld: %s", w->what, status,
					 json_string_value(json_object_get(r, "message"))
						 ? json_string_value(json_object_get(r, "message")) : "");
			json_decref(r);
			json_decref(all);
			return -1;
		}
		const json_t *meta = json_object_get(r, "metadata"), *it;
		size_t i;
		json_array_foreach(json_object_get(r, "items"), i, it) {
			char key[CP_KEY_MAX];
			json_object_set_new(all, cp_k8s_svc_key(it, key, sizeof(key)), slim(w, it));
		}
		if (rv[0] == '\0' && json_string_value(json_object_get(meta, "resourceVersion")))
			snprintf(rv, sizeof(rv), "%s", json_string_value(json_object_get(meta, "resourceVersion")));
		const char *c = json_string_value(json_object_get(meta, "continue"));
		snprintf(cont, sizeof(cont), "%s", c ? c : "");
		json_decref(r);
	} while (cont[0] && !k->stop);

	pthread_mutex_lock(&k->mu);
	const char *key;
	json_t *v;
	/* Everything that was or is there may have changed while we did not watch. */
	json_object_foreach(w->objs, key, v)
		mark_for(w, v);
	json_object_foreach(all, key, v)
		mark_for(w, v);
	json_decref(w->objs);
	w->objs = all;
	snprintf(w->rv, sizeof(w->rv), "%s", rv);
	w->listed = true;
	w->need_relist = false;
	w->relists++;
	w->last_list_unix = cp_now_unix();
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return 0;
}

static int
status_code(const json_t *st)
{
	return (int)json_integer_value(json_object_get(st, "code"));
}

static int
on_event(void *arg, const char *line, size_t len)
{
	struct watch *w = arg;
	struct cp_k8s *k = w->k;
	json_error_t je;
	json_t *ev = json_loadb(line, len, 0, &je);

	if (ev == NULL)
		return 0; /* not a full object: ignore the line */
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	int stop = 0;

	if (type == NULL) {
		/* Not an event: the Status object of a failed request (e.g. 410 Gone). */
		if (status_code(ev) == 410)
			w->need_relist = true;
		json_decref(ev);
		return 1;
	}
	const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	pthread_mutex_lock(&k->mu);
	w->last_event_unix = cp_now_unix();
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0 || strcmp(type, "DELETED") == 0) {
		char key[CP_KEY_MAX];
		cp_k8s_svc_key(obj, key, sizeof(key));
		json_t *was = json_object_get(w->objs, key);
		json_t *now = type[0] == 'D' ? NULL : slim(w, obj);
		/* A Node's heartbeat changes nothing we keep: no reconcile of every Service. */
		bool same = was && now && w == &k->node && json_equal(was, now);
		if (was && !same)
			mark_for(w, was); /* a slice may have moved to another Service */
		if (now == NULL)
			json_object_del(w->objs, key);
		else
			json_object_set_new(w->objs, key, now);
		if (!same)
			mark_for(w, obj);
		w->events++;
	} else if (strcmp(type, "BOOKMARK") == 0) {
		w->bookmarks++;
	} else if (strcmp(type, "ERROR") == 0) {
		if (status_code(obj) == 410) {
			w->need_relist = true;
		} else {
			/* Any other Status (500, 429, 403...): a failed watch, backed off below. */
			w->failed = true;
			cp_k8s_log("%s: watch ERROR event: %lld %s", w->what, (long long)status_code(obj),
				   json_string_value(json_object_get(obj, "message")) ?
					   json_string_value(json_object_get(obj, "message")) : "");
		}
		stop = 1;
	}
	if (rv && !stop)
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
	pthread_mutex_unlock(&k->mu);
	json_decref(ev);
	return stop;
}

/* The next pause: exponential, with up to 50 % jitter so a fleet does not retry in step. */
static int
backoff_next(int *backoff)
{
	int ms = *backoff + (int)((double)rand() / RAND_MAX * (*backoff / 2));

	*backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
	return ms;
}

static void
watch_failed(struct watch *w, int *backoff)
{
	struct cp_k8s *k = w->k;

	pthread_mutex_lock(&k->mu);
	w->errors++;
	w->state = W_BACKOFF;
	pthread_mutex_unlock(&k->mu);
	cp_nap(&k->stop, backoff_next(backoff));
}

static void *
watch_run(void *arg)
{
	struct watch *w = arg;
	struct cp_k8s *k = w->k;
	int backoff = BACKOFF_MIN_MS;
	char err[1024], path[1024];
	double last_start = 0;

	while (!k->stop) {
		if (!w->listed || w->need_relist) {
			if (list(w, err, sizeof(err)) < 0) {
				cp_k8s_log("%s", err);
				watch_failed(w, &backoff);
				continue;
			}
			backoff = BACKOFF_MIN_MS; /* the server answers again */
		}
		/* Whatever happened before, watches never start faster than this. */
		double since = cp_now_unix() - last_start;
		if (since < WATCH_MIN_INTERVAL_MS / 1000.0)
			cp_nap(&k->stop, (int)((WATCH_MIN_INTERVAL_MS / 1000.0 - since) * 1000) + 1);
		if (k->stop)
			break;
		pthread_mutex_lock(&k->mu);
		snprintf(path, sizeof(path), "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d",
			 w->path, w->rv, WATCH_TIMEOUT_S);
		w->state = W_WATCHING;
		w->failed = false;
		w->watches++;
		pthread_mutex_unlock(&k->mu);
		last_start = cp_now_unix();
		long status = 0;
		uint64_t seen0 = w->events + w->bookmarks;
		int rc = kc_stream(k->kc, path, on_event, w, &k->stop, WATCH_TIMEOUT_S + 30,
				   (long)k->conf->watch_idle_s, &status, err, sizeof(err));
		bool saw = w->events + w->bookmarks != seen0;
		if (saw)
			backoff = BACKOFF_MIN_MS; /* the watch worked: start the backoff over */
		if (k->stop)
			break;
		if (status == 410)
			w->need_relist = true;
		if (w->need_relist) {
			cp_k8s_log("%s: resourceVersion %s is gone (410): relisting", w->what, w->rv);
			continue;
		}
		if (rc == -2) {
			/* Silent (half-open?): the connection is gone; watch again from where we were. */
			cp_k8s_log("%s", err);
			pthread_mutex_lock(&k->mu);
			w->errors++;
			pthread_mutex_unlock(&k->mu);
			continue;
		}
		if (w->failed || rc < 0 || (status != 200 && status != 0)) {
			if (!w->failed) {
				if (rc == 0)
					snprintf(err, sizeof(err), "watch %s: HTTP %ld", w->what, status);
				cp_k8s_log("%s; retrying", err);
			}
			watch_failed(w, &backoff);
			continue;
		}
		if (!saw && cp_now_unix() - last_start < WATCH_SHORT_S) {
			/* Ended at once with nothing in it: a broken proxy or server, not a timeout. */
			cp_k8s_log("%s: watch ended after %.1f s without an event; retrying", w->what,
				   cp_now_unix() - last_start);
			watch_failed(w, &backoff);
			continue;
		}
		backoff = BACKOFF_MIN_MS; /* a healthy watch ended (timeout, server restart): resume */
	}
	return NULL;
}

/* ---- reconcile ------------------------------------------------------------------ */

static void mark_pending(struct cp_k8s *k);

static const char *
uid_of(const json_t *svc)
{
	return json_string_value(json_object_get(json_object_get(svc, "metadata"), "uid"));
}

static bool
has_finalizer(const json_t *svc)
{
	const json_t *v;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(svc, "metadata"), "finalizers"), i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), CP_FINALIZER) == 0)
			return true;
	return false;
}

/*
 * ns/name is no longer ours (deleted, being deleted, another type or class):
 * drop its load balancer here. The leader also takes its addresses out of the
 * status (only those: another controller's stay) and then removes our
 * finalizer, as the cloud-provider service controller does. What it could not
 * write yet stays in k->to_clear (uid and addresses) and is retried; a follower
 * keeps the same record in case it becomes the leader before that is done.
 */
static int
release(struct cp_k8s *k, const char *ns, const char *name, const json_t *svc, bool api)
{
	struct cp_lb old;
	json_t *out = NULL;
	char err[256], key[2 * CP_NAME_MAX + 2], a[LB_ADDR_STRLEN];
	int rc = 0;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (cp_store_copy(k->store, ns, name, &old) == 0) {
		json_t *rec = json_pack("{s:s, s:[]}", "uid", old.uid, "ips"), *ips = json_object_get(rec, "ips");
		char list[160] = "";
		for (uint32_t i = 0; i < old.n_ips; i++) {
			lb_addr_format(&old.ips[i], a, sizeof(a));
			json_array_append_new(ips, json_string(a));
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "", a);
		}
		if (svc && old.n_ips) {
			pthread_mutex_lock(&k->mu);
			json_object_set(k->to_clear, key, rec);
			pthread_mutex_unlock(&k->mu);
		}
		json_decref(rec);
		rc = cp_store_delete(k->store, ns, name, &out, err, sizeof(err));
		json_decref(out);
		if (rc < 0) {
			cp_lb_free(&old);
			return -1; /* the state file was not written: nothing changed, try again */
		}
		if (api && old.n_ips)
			cp_k8s_event(k, svc, "Normal", "IPReleased",
				     "released %s: no longer an edgelb load balancer", list);
		cp_lb_free(&old);
		mark_pending(k);
	}
	if (svc == NULL || !api) {
		if (svc == NULL) {
			pthread_mutex_lock(&k->mu);
			json_object_del(k->to_clear, key); /* gone: no status to clear */
			pthread_mutex_unlock(&k->mu);
		}
		return 0;
	}
	/* The API part goes through the write queue: status first, then the finalizer. */
	struct lb_addr drop[2];
	uint32_t nd = 0;
	pthread_mutex_lock(&k->mu);
	json_t *pend = json_object_get(k->to_clear, key);
	const json_t *v;
	size_t i;
	json_array_foreach(json_object_get(pend, "ips"), i, v)
		if (nd < 2 && lb_addr_parse(json_string_value(v), &drop[nd]) == 0)
			nd++;
	char puid[64];
	const char *pu = json_string_value(json_object_get(pend, "uid"));
	snprintf(puid, sizeof(puid), "%s", pu ? pu : "");
	pthread_mutex_unlock(&k->mu);
	if (nd > 0 || has_finalizer(svc))
		cp_k8s_queue_put(k->queue, key, "release", puid[0] ? puid : uid_of(svc), drop, nd);
	return rc;
}

void
cp_k8s_release_done(struct cp_k8s *k, const char *key)
{
	pthread_mutex_lock(&k->mu);
	json_object_del(k->to_clear, key);
	pthread_mutex_unlock(&k->mu);
}

/* One Service key: 0 done, -1 failed (retried), 1 not yet (waits for the Node list). */
static int
reconcile(struct cp_k8s *k, const char *key)
{
	char ns[CP_NAME_MAX], name[CP_NAME_MAX], warn[512], err[512], a[LB_ADDR_STRLEN];
	const char *slash = strchr(key, '/');
	struct cp_lb lb, old;
	json_t *out = NULL;
	int rc;

	if (slash == NULL || (size_t)(slash - key) >= sizeof(ns) || strlen(slash + 1) >= sizeof(name))
		return 0;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	snprintf(name, sizeof(name), "%s", slash + 1);

	pthread_mutex_lock(&k->mu);
	json_t *svc = json_deep_copy(json_object_get(k->svc.objs, key));
	json_t *slices = json_array();
	const char *sk;
	json_t *v;
	json_object_foreach(k->eps.objs, sk, v) {
		const char *l = json_string_value(json_object_get(
			json_object_get(json_object_get(v, "metadata"), "labels"), CP_SVC_NAME_LABEL));
		if (l && strcmp(l, name) == 0 && strncmp(sk, ns, strlen(ns)) == 0 && sk[strlen(ns)] == '/')
			json_array_append_new(slices, json_deep_copy(v));
	}
	bool nodes_listed = k->node.listed, nodes_failing = k->node.errors > 0;
	json_t *nodes = NULL;
	if (svc && cp_k8s_nodes_wanted(svc, k->conf->k8s_backends == CP_BACKENDS_NODES, NULL, 0)) {
		nodes = json_array();
		json_object_foreach(k->node.objs, sk, v)
			json_array_append_new(nodes, json_deep_copy(v));
	}
	k->reconciles++;
	pthread_mutex_unlock(&k->mu);

	if (nodes && !nodes_listed) {
		/*
		 * No Nodes yet: keep what the dp has; their list marks this again. At
		 * start the dp waits for it (1), unless listing Nodes fails (RBAC without
		 * nodes?): then the other Services go ahead without this one (0).
		 */
		rc = nodes_failing ? 0 : 1;
		goto out;
	}
	bool leader = cp_k8s_is_leader(k);
	const char *uid = uid_of(svc);
	bool deleting = json_object_get(json_object_get(svc, "metadata"), "deletionTimestamp") != NULL;
	if (svc == NULL || deleting || !cp_k8s_svc_ours(svc, k->conf->lb_class, k->conf->default_class)) {
		/* Release only on delete, type change away from LoadBalancer, or class change. */
		rc = release(k, ns, name, svc, leader);
		pthread_mutex_lock(&k->mu);
		json_object_del(k->said, key);
		pthread_mutex_unlock(&k->mu);
		goto out;
	}
	bool had = cp_store_copy(k->store, ns, name, &old) == 0;
	if (had && old.uid[0] && uid && strcmp(old.uid, uid) != 0) {
		/* Deleted and created again while we did not look: the old one is gone. */
		cp_lb_free(&old);
		had = false;
		if ((rc = release(k, ns, name, NULL, false)) < 0)
			goto out;
	}
	if (cp_k8s_svc_translate(svc, slices, &k->conf->hc, &lb, warn, sizeof(warn), err, sizeof(err)) < 0) {
		/* A bad edit: a Service that has addresses keeps them, its status and its dp service. */
		if (had && old.n_ips) {
			cp_k8s_event(k, svc, "Warning", "AllocationFailed", "%s; keeping %s%s", err,
				     lb_addr_format(&old.ips[0], a, sizeof(a)), old.n_ips > 1 ? " and its other address" : "");
			pthread_mutex_lock(&k->mu);
			k->kept_on_error++;
			pthread_mutex_unlock(&k->mu);
		} else {
			cp_k8s_event(k, svc, "Warning", "AllocationFailed", "%s", err);
		}
		if (had)
			cp_lb_free(&old);
		rc = 0;
		goto out;
	}
	snprintf(lb.uid, sizeof(lb.uid), "%s", uid ? uid : "");
	if (nodes) {
		cp_k8s_nodes_wanted(svc, k->conf->k8s_backends == CP_BACKENDS_NODES, warn, sizeof(warn));
		if (cp_k8s_nodes_backends(svc, nodes, cp_node_addr_type(k->conf->node_addr_type), &lb,
					  warn, sizeof(warn)) < 0) {
			cp_lb_free(&lb);
			if (had)
				cp_lb_free(&old);
			rc = -1; /* out of memory: try again */
			goto out;
		}
	}
	if (!leader) {
		if (had)
			cp_lb_free(&old);
		rc = cp_k8s_follow(k, svc, &lb);
		goto out;
	}
	if (warn[0])
		cp_k8s_event(k, svc, "Warning", "UnsupportedPort", "%s", warn);
	bool kept = false;
	cp_k8s_release_done(k, key); /* ours again: the "ensure" below rewrites the status */
	rc = cp_k8s_allocate(k, svc, &lb, had ? &old : NULL, &out, &kept, err, sizeof(err));
	if (rc < 0 && !kept) {
		cp_k8s_event(k, svc, "Warning", "AllocationFailed", "%s", err);
		if (had)
			cp_lb_free(&old);
		rc = rc == LB_EIO ? -1 : 0;
		goto out;
	}
	struct lb_addr ips[2];
	uint32_t n = 0;
	size_t i;
	if (out == NULL && kept) {
		memcpy(ips, old.ips, sizeof(ips));
		n = old.n_ips;
	}
	json_array_foreach(json_object_get(out, "ips"), i, v)
		if (n < 2 && lb_addr_parse(json_string_value(v), &ips[n]) == 0)
			n++;
	if (kept) {
		char list[160] = "";
		for (uint32_t x = 0; x < n; x++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", x ? "," : "",
				 lb_addr_format(&ips[x], a, sizeof(a)));
		cp_k8s_event(k, svc, "Warning", "AllocationFailed", "%s; keeping %s", err, list);
		pthread_mutex_lock(&k->mu);
		k->kept_on_error++;
		pthread_mutex_unlock(&k->mu);
	}
	rc = 0;
	const char *msg = json_string_value(json_object_get(json_object_get(out, "status"), "message"));
	if (n == 0) {
		cp_k8s_event(k, svc, "Warning", "AllocationFailed", "%s", msg && *msg ? msg : "no address");
	} else if (!kept) {
		bool same = had && old.n_ips == n;
		for (uint32_t x = 0; same && x < n; x++)
			same = lb_addr_eq(&old.ips[x], &ips[x]);
		if (!same) {
			char list[160] = "";
			for (uint32_t x = 0; x < n; x++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", x ? "," : "",
					 lb_addr_format(&ips[x], a, sizeof(a)));
			cp_k8s_event(k, svc, "Normal", "IPAllocated", "assigned %s from pool %s", list,
				     json_string_value(json_object_get(out, "alloc_pool")));
		}
	}
	if (had)
		cp_lb_free(&old);
	/* The store and the dp are done; the API writes wait in their own queue. */
	json_t *want = cp_k8s_ingress(svc, ips, n);
	const json_t *cur = json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"),
					    "ingress");
	if (!has_finalizer(svc) || (n > 0 && !(cur ? json_equal(want, cur) : json_array_size(want) == 0)))
		cp_k8s_queue_put(k->queue, key, "ensure", uid, ips, n);
	json_decref(want);
out:
	json_decref(out);
	json_decref(svc);
	json_decref(slices);
	json_decref(nodes);
	return rc;
}

/* An address came free: the load balancers waiting for one may take it now. */
static void
mark_pending(struct cp_k8s *k)
{
	char **keys = NULL;
	uint32_t n = 0;

	cp_store_keys(k->store, true, &keys, &n);
	pthread_mutex_lock(&k->mu);
	for (uint32_t i = 0; i < n; i++)
		mark_locked(k, keys[i]);
	pthread_mutex_unlock(&k->mu);
	for (uint32_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

/* Every Service we know plus every load balancer in the store: both may need work. */
static void
mark_all(struct cp_k8s *k)
{
	char **keys = NULL;
	uint32_t n = 0;
	const char *key;
	json_t *v;

	cp_store_keys(k->store, false, &keys, &n);
	pthread_mutex_lock(&k->mu);
	json_object_foreach(k->svc.objs, key, v)
		mark_locked(k, key);
	for (uint32_t i = 0; i < n; i++)
		mark_locked(k, keys[i]);
	pthread_mutex_unlock(&k->mu);
	for (uint32_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

static void *
reconcile_run(void *arg)
{
	struct cp_k8s *k = arg;
	bool first = true;
	double next_resync = 0;

	while (!k->stop) {
		pthread_mutex_lock(&k->mu);
		bool ready = k->svc.listed && k->eps.listed;
		if (!ready || json_object_size(k->dirty) == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 200 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&k->cv, &k->mu, &ts);
		}
		ready = k->svc.listed && k->eps.listed;
		pthread_mutex_unlock(&k->mu);
		if (!ready)
			continue; /* both caches first, or endpoints would look missing */
		if (first || k->resync || cp_now_unix() >= next_resync) {
			k->resync = false;
			/* Also drops store entries whose Service went away while we were down. */
			mark_all(k);
			first = false;
			next_resync = cp_now_unix() + k->conf->resync_s;
		}
		pthread_mutex_lock(&k->mu);
		json_t *batch = k->dirty;
		k->dirty = json_object();
		{
			/*
			 * Services whose status shows addresses go first: after a lost state
			 * file they re-adopt them before a new Service could take one.
			 */
			json_t *ordered = json_object();
			const char *kk;
			json_t *vv;
			for (int pass = 0; pass < 2; pass++)
				json_object_foreach(batch, kk, vv) {
					struct lb_addr st[2];
					const json_t *o = json_object_get(k->svc.objs, kk);
					bool has = o && cp_k8s_svc_status_ips(o, st) > 0;
					if (has == (pass == 0))
						json_object_set(ordered, kk, vv);
				}
			json_decref(batch);
			batch = ordered;
		}
		pthread_mutex_unlock(&k->mu);
		const char *key;
		json_t *v;
		uint32_t failed = 0;
		json_object_foreach(batch, key, v) {
			if (k->stop)
				break;
			int r = reconcile(k, key);
			if (r != 0) {
				pthread_mutex_lock(&k->mu);
				mark_locked(k, key); /* try again after a pause */
				k->errors += r < 0; /* > 0: waiting for the Node list */
				pthread_mutex_unlock(&k->mu);
				failed++;
			}
		}
		json_decref(batch);
		if (!cp_store_ready(k->store) && !failed)
			cp_store_set_ready(k->store); /* every Service seen once: the dp may sync */
		uint32_t handled = 0;
		pthread_mutex_lock(&k->mu);
		json_object_foreach(k->svc.objs, key, v)
			handled += cp_k8s_svc_ours(v, k->conf->lb_class, k->conf->default_class);
		k->handled = handled;
		pthread_mutex_unlock(&k->mu);
		if (failed)
			cp_nap(&k->stop, 500);
	}
	return NULL;
}

/* ---- start / stop / metrics ------------------------------------------------------ */

/* From the lease thread: the Services must be looked at again in the new role. */
static void
on_leader(void *arg, bool leader)
{
	struct cp_k8s *k = arg;

	(void)leader;
	pthread_mutex_lock(&k->mu);
	k->resync = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

struct cp_k8s *
cp_k8s_start(const struct cp_conf *c, struct cp_store *store, char *err, size_t errlen)
{
	struct cp_k8s *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->conf = c;
	k->store = store;
	k->kc = kc_open(c->kubeconfig, err, errlen);
	if (k->kc == NULL) {
		free(k);
		return NULL;
	}
	if (gethostname(k->host, sizeof(k->host)) != 0)
		snprintf(k->host, sizeof(k->host), "edgelb");
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->dirty = json_object();
	k->said = json_object();
	k->to_clear = json_object();
	k->svc = (struct watch){.k = k, .what = "services", .path = "/api/v1/services", .objs = json_object()};
	k->eps = (struct watch){.k = k, .what = "endpointslices",
				.path = "/apis/discovery.k8s.io/v1/endpointslices", .objs = json_object()};
	k->node = (struct watch){.k = k, .what = "nodes", .path = "/api/v1/nodes", .objs = json_object()};
	k->lease = cp_lease_start(k->kc, c, on_leader, k, err, errlen);
	k->queue = k->lease ? cp_k8s_queue_start(k) : NULL;
	if (k->queue == NULL) {
		cp_lease_stop(k->lease);
		kc_close(k->kc);
		json_decref(k->svc.objs);
		json_decref(k->eps.objs);
		json_decref(k->node.objs);
		json_decref(k->dirty);
		json_decref(k->said);
		json_decref(k->to_clear);
		free(k);
		return NULL;
	}
	pthread_create(&k->svc.th, NULL, watch_run, &k->svc);
	pthread_create(&k->eps.th, NULL, watch_run, &k->eps);
	pthread_create(&k->node.th, NULL, watch_run, &k->node);
	pthread_create(&k->rec_th, NULL, reconcile_run, k);
	cp_k8s_log("watching %s (class %s%s)", kc_server(k->kc), c->lb_class,
	      c->default_class ? ", and Services without a class" : "");
	return k;
}

void
cp_k8s_stop(struct cp_k8s *k)
{
	if (k == NULL)
		return;
	k->stop = true;
	pthread_cond_broadcast(&k->cv);
	pthread_join(k->svc.th, NULL);
	pthread_join(k->eps.th, NULL);
	pthread_join(k->node.th, NULL);
	pthread_join(k->rec_th, NULL);
	cp_k8s_queue_stop(k->queue);
	cp_lease_stop(k->lease); /* after the last write: a leader gives the Lease up */
	json_decref(k->svc.objs);
	json_decref(k->eps.objs);
	json_decref(k->node.objs);
	json_decref(k->dirty);
	json_decref(k->said);
	json_decref(k->to_clear);
	kc_close(k->kc);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k);
}
