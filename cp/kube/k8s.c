/*
 * k8s.c - the Kubernetes controller (see k8s.h).
 *
 * Threads: one per watched resource (list, then watch from the list's
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

#include "buf.h"
#include "cpconf.h"
#include "k8s.h"
#include "k8s_svc.h"
#include "kclient.h"
#include "cptime.h"
#include "lb_error.h"
#include "store.h"

#define WATCH_TIMEOUT_S 290
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
#define STATUS_RETRIES 5
#define LIST_LIMIT 500

enum wstate { W_STARTING, W_LISTING, W_WATCHING, W_BACKOFF };
static const char *const wstate_name[] = {"starting", "listing", "watching", "backoff"};

struct cp_k8s;

struct watch {
	struct cp_k8s *k;
	const char *what;     /* "services" / "endpointslices" */
	const char *path;
	json_t *objs;         /* "ns/name" -> object */
	char rv[64];
	pthread_t th;
	int state;
	bool listed;          /* a list completed at least once */
	bool need_relist;
	uint64_t relists, events, bookmarks, errors;
	double last_list_unix, last_event_unix;
};

struct cp_k8s {
	const struct cp_conf *conf;
	struct cp_store *store;
	struct kc *kc;
	struct watch svc, eps;
	pthread_t rec_th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *dirty;        /* set of Service keys to reconcile */
	json_t *said;         /* key -> last event text, to not repeat ourselves */
	json_t *to_clear;     /* keys whose status clearing failed: retried */
	volatile bool stop;
	char host[128];
	/* metrics, under mu */
	uint64_t reconciles, status_writes, status_conflicts, events_sent, errors;
	uint32_t handled;
};

static void
logf_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgelb-cp: k8s: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

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
	char key[2 * CP_NAME_MAX + 2];

	if (w == &w->k->svc) {
		mark_locked(w->k, cp_k8s_key(obj, key, sizeof(key)));
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
			char key[2 * CP_NAME_MAX + 2];
			json_object_set(all, cp_k8s_key(it, key, sizeof(key)), (json_t *)it);
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
		char key[2 * CP_NAME_MAX + 2];
		cp_k8s_key(obj, key, sizeof(key));
		json_t *was = json_object_get(w->objs, key);
		if (was)
			mark_for(w, was); /* a slice may have moved to another Service */
		if (type[0] == 'D')
			json_object_del(w->objs, key);
		else
			json_object_set(w->objs, key, obj);
		mark_for(w, obj);
		w->events++;
	} else if (strcmp(type, "BOOKMARK") == 0) {
		w->bookmarks++;
	} else if (strcmp(type, "ERROR") == 0) {
		if (status_code(obj) == 410)
			w->need_relist = true;
		else
			w->errors++;
		stop = 1;
	}
	if (rv && !stop)
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
	pthread_mutex_unlock(&k->mu);
	json_decref(ev);
	return stop;
}

static void *
watch_run(void *arg)
{
	struct watch *w = arg;
	struct cp_k8s *k = w->k;
	int backoff = BACKOFF_MIN_MS;
	char err[1024], path[1024];

	while (!k->stop) {
		if (!w->listed || w->need_relist) {
			if (list(w, err, sizeof(err)) < 0) {
				logf_("%s", err);
				goto failed;
			}
			backoff = BACKOFF_MIN_MS; /* the server answers again */
		}
		pthread_mutex_lock(&k->mu);
		snprintf(path, sizeof(path), "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d",
			 w->path, w->rv, WATCH_TIMEOUT_S);
		w->state = W_WATCHING;
		pthread_mutex_unlock(&k->mu);
		long status = 0;
		uint64_t seen0 = w->events + w->bookmarks;
		int rc = kc_stream(k->kc, path, on_event, w, &k->stop, WATCH_TIMEOUT_S + 30, &status, err,
				   sizeof(err));
		if (w->events + w->bookmarks != seen0)
			backoff = BACKOFF_MIN_MS; /* the watch worked: start the backoff over */
		if (k->stop)
			break;
		if (status == 410)
			w->need_relist = true;
		if (w->need_relist) {
			logf_("%s: resourceVersion %s is gone (410): relisting", w->what, w->rv);
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		if (rc < 0 || (status != 200 && status != 0)) {
			if (rc == 0)
				snprintf(err, sizeof(err), "watch %s: HTTP %ld", w->what, status);
			logf_("%s; retrying", err);
			goto failed;
		}
		backoff = BACKOFF_MIN_MS; /* the server closed a healthy watch: resume */
		continue;
failed:		/* a list or watch failed: count it, wait, wait longer next time */
		pthread_mutex_lock(&k->mu);
		w->errors++;
		w->state = W_BACKOFF;
		pthread_mutex_unlock(&k->mu);
		cp_nap(&k->stop, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

/* ---- writing to the API server ------------------------------------------------ */

static void
rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An Event on a Service; the same reason and message are not repeated. */
static void
event(struct cp_k8s *k, const json_t *svc, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[512], key[2 * CP_NAME_MAX + 2], said[700], ts[32], path[512], errb[512];
	va_list ap;
	long status;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp_k8s_key(svc, key, sizeof(key));
	snprintf(said, sizeof(said), "%s: %s", reason, msg);
	pthread_mutex_lock(&k->mu);
	const char *last = json_string_value(json_object_get(k->said, key));
	bool repeat = last && strcmp(last, said) == 0;
	if (!repeat)
		json_object_set_new(k->said, key, json_string(said));
	pthread_mutex_unlock(&k->mu);
	if (repeat)
		return;
	const json_t *meta = json_object_get(svc, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *uid = json_string_value(json_object_get(meta, "uid"));
	char gen[CP_NAME_MAX + 2];
	snprintf(gen, sizeof(gen), "%s.", name);
	rfc3339(ts, sizeof(ts));
	json_t *e = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, "
			      "s:{s:s}, s:s, s:s, s:s, s:s, s:i}",
			      "apiVersion", "v1", "kind", "Event",
			      "metadata", "generateName", gen, "namespace", ns ? ns : "default",
			      "involvedObject", "apiVersion", "v1", "kind", "Service", "name", name,
			      "namespace", ns ? ns : "default", "uid", uid ? uid : "",
			      "reason", reason, "message", msg, "type", type,
			      "source", "component", "edgelb-controller",
			      "reportingComponent", "edgelb.io/controller", "reportingInstance", k->host,
			      "firstTimestamp", ts, "lastTimestamp", ts, "count", 1);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns ? ns : "default");
	json_t *r = kc_call(k->kc, "POST", path, e, NULL, &status, errb, sizeof(errb));
	json_decref(e);
	json_decref(r);
	pthread_mutex_lock(&k->mu);
	if (r && status / 100 == 2)
		k->events_sent++;
	else
		k->errors++;
	pthread_mutex_unlock(&k->mu);
	logf_("%s %s: %s", key, reason, msg);
}

static bool
ingress_equal(const json_t *svc, const struct lb_addr *ips, uint32_t n)
{
	struct lb_addr cur[2];
	uint32_t m = cp_k8s_status_ips(svc, cur);
	const json_t *ing = json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"),
					    "ingress");

	if (m != n || json_array_size(ing) != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!lb_addr_eq(&cur[i], &ips[i]))
			return false;
	return true;
}

/* PUT the status subresource; a 409 (someone updated the Service) re-reads and retries. */
static int
write_status(struct cp_k8s *k, const char *ns, const char *name, const struct lb_addr *ips,
	     uint32_t n)
{
	char path[512], err[512], a[LB_ADDR_STRLEN];

	for (int attempt = 0; attempt < STATUS_RETRIES && !k->stop; attempt++) {
		long status;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
		json_t *svc = kc_call(k->kc, "GET", path, NULL, NULL, &status, err, sizeof(err));
		if (svc == NULL || status != 200) {
			json_decref(svc);
			return status == 404 ? 0 : -1; /* gone: nothing to write */
		}
		if (ingress_equal(svc, ips, n)) {
			json_decref(svc);
			return 0;
		}
		json_t *ing = json_array();
		for (uint32_t i = 0; i < n; i++)
			json_array_append_new(ing, json_pack("{s:s, s:s}", "ip",
							     lb_addr_format(&ips[i], a, sizeof(a)),
							     "ipMode", "VIP"));
		json_t *st = json_object_get(svc, "status");
		if (!json_is_object(st)) {
			st = json_object();
			json_object_set_new(svc, "status", st);
		}
		json_object_set_new(st, "loadBalancer",
				    n ? json_pack("{s:o}", "ingress", ing) : (json_decref(ing), json_object()));
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s/status", ns, name);
		json_t *r = kc_call(k->kc, "PUT", path, svc, NULL, &status, err, sizeof(err));
		json_decref(svc);
		json_decref(r);
		pthread_mutex_lock(&k->mu);
		if (status == 200)
			k->status_writes++;
		else if (status == 409)
			k->status_conflicts++;
		pthread_mutex_unlock(&k->mu);
		if (status == 200)
			return 0;
		if (status != 409)
			return -1;
	}
	return -1;
}

/* ---- reconcile ------------------------------------------------------------------ */

static void mark_pending(struct cp_k8s *k);

static int
release(struct cp_k8s *k, const char *ns, const char *name, const json_t *svc)
{
	struct cp_lb old;
	json_t *out = NULL;
	char err[256], key[2 * CP_NAME_MAX + 2];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (cp_store_copy(k->store, ns, name, &old) < 0) {
		pthread_mutex_lock(&k->mu);
		bool pend = json_object_get(k->to_clear, key) != NULL;
		pthread_mutex_unlock(&k->mu);
		if (pend && svc) {
			if (write_status(k, ns, name, NULL, 0) < 0)
				return -1;
		}
		pthread_mutex_lock(&k->mu);
		json_object_del(k->to_clear, key);
		pthread_mutex_unlock(&k->mu);
		return 0;
	}
	bool had_ips = old.n_ips > 0;
	cp_lb_free(&old);
	if (cp_store_delete(k->store, ns, name, &out, err, sizeof(err)) == 0 && svc) {
		const json_t *rel = json_object_get(out, "released");
		char list[256] = "";
		const json_t *v;
		size_t i;
		json_array_foreach(rel, i, v)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
				 json_string_value(v));
		if (had_ips)
			event(k, svc, "Normal", "IPReleased", "released %s: no longer an edgelb load balancer",
			      list);
		mark_pending(k);
		if (write_status(k, ns, name, NULL, 0) < 0) {
			pthread_mutex_lock(&k->mu);
			json_object_set_new(k->to_clear, key, json_true());
			pthread_mutex_unlock(&k->mu);
			json_decref(out);
			return -1;
		}
	} else if (out) {
		mark_pending(k);
	}
	json_decref(out);
	return 0;
}

static int
reconcile(struct cp_k8s *k, const char *key)
{
	char ns[CP_NAME_MAX], name[CP_NAME_MAX], warn[512], err[512];
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
	k->reconciles++;
	pthread_mutex_unlock(&k->mu);

	if (svc == NULL || !cp_k8s_ours(svc, k->conf->lb_class, k->conf->default_class)) {
		rc = release(k, ns, name, svc);
		pthread_mutex_lock(&k->mu);
		json_object_del(k->said, key);
		pthread_mutex_unlock(&k->mu);
		goto out;
	}
	if (cp_k8s_translate(svc, slices, &k->conf->hc, &lb, warn, sizeof(warn), err, sizeof(err)) < 0) {
		event(k, svc, "Warning", "AllocationFailed", "%s", err);
		release(k, ns, name, NULL);
		write_status(k, ns, name, NULL, 0);
		rc = 0;
		goto out;
	}
	if (warn[0])
		event(k, svc, "Warning", "UnsupportedPort", "%s", warn);

	bool had = cp_store_copy(k->store, ns, name, &old) == 0;
	if (!had) {
		/* A restarted controller with a lost state file takes back what the status shows. */
		struct lb_addr st[2];
		uint32_t n = cp_k8s_status_ips(svc, st);
		rc = -1;
		if (lb.n_req_ips == 0 && n > 0) {
			struct cp_lb adopt;
			if (cp_lb_copy(&adopt, &lb) == 0) {
				memcpy(adopt.req_ips, st, sizeof(st));
				adopt.n_req_ips = n;
				rc = cp_store_create(k->store, &adopt, false, &out, err, sizeof(err));
			}
		}
		if (rc < 0) {
			json_decref(out);
			out = NULL;
			rc = cp_store_create(k->store, &lb, true, &out, err, sizeof(err));
		} else {
			cp_lb_free(&lb);
		}
	} else {
		rc = cp_store_replace(k->store, &lb, true, &out, err, sizeof(err));
	}
	if (rc < 0) {
		event(k, svc, "Warning", "AllocationFailed", "%s", err);
		if (had)
			cp_lb_free(&old);
		goto out;
	}
	struct lb_addr ips[2];
	uint32_t n = 0;
	json_array_foreach(json_object_get(out, "ips"), rc, v)
		if (n < 2 && lb_addr_parse(json_string_value(v), &ips[n]) == 0)
			n++;
	rc = 0;
	const char *msg = json_string_value(json_object_get(json_object_get(out, "status"), "message"));
	if (n == 0) {
		event(k, svc, "Warning", "AllocationFailed", "%s", msg && *msg ? msg : "no address");
	} else {
		bool same = had && old.n_ips == n;
		for (uint32_t i = 0; same && i < n; i++)
			same = lb_addr_eq(&old.ips[i], &ips[i]);
		if (!same) {
			char list[160] = "", a[LB_ADDR_STRLEN];
			for (uint32_t i = 0; i < n; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
					 lb_addr_format(&ips[i], a, sizeof(a)));
			event(k, svc, "Normal", "IPAllocated", "assigned %s from pool %s", list,
			      json_string_value(json_object_get(out, "alloc_pool")));
		}
	}
	if (had)
		cp_lb_free(&old);
	if (!ingress_equal(svc, ips, n))
		rc = write_status(k, ns, name, ips, n);
out:
	json_decref(out);
	json_decref(svc);
	json_decref(slices);
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
		if (first || cp_now_unix() >= next_resync) {
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
					bool has = o && cp_k8s_status_ips(o, st) > 0;
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
			if (reconcile(k, key) < 0) {
				pthread_mutex_lock(&k->mu);
				mark_locked(k, key); /* try again after a pause */
				k->errors++;
				pthread_mutex_unlock(&k->mu);
				failed++;
			}
		}
		json_decref(batch);
		uint32_t handled = 0;
		pthread_mutex_lock(&k->mu);
		json_object_foreach(k->svc.objs, key, v)
			handled += cp_k8s_ours(v, k->conf->lb_class, k->conf->default_class);
		k->handled = handled;
		pthread_mutex_unlock(&k->mu);
		if (failed)
			cp_nap(&k->stop, 500);
	}
	return NULL;
}

/* ---- start / stop / metrics ------------------------------------------------------ */

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
	pthread_create(&k->svc.th, NULL, watch_run, &k->svc);
	pthread_create(&k->eps.th, NULL, watch_run, &k->eps);
	pthread_create(&k->rec_th, NULL, reconcile_run, k);
	logf_("watching %s (class %s%s)", kc_server(k->kc), c->lb_class,
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
	pthread_join(k->rec_th, NULL);
	json_decref(k->svc.objs);
	json_decref(k->eps.objs);
	json_decref(k->dirty);
	json_decref(k->said);
	json_decref(k->to_clear);
	kc_close(k->kc);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k);
}

void
cp_k8s_metrics(void *arg, char **b, size_t *len, size_t *cap)
{
	struct cp_k8s *k = arg;

	pthread_mutex_lock(&k->mu);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_watch_state State of a watch (1 for the current state).\n"
		      "# TYPE edgelb_k8s_watch_state gauge\n");
	const struct watch *ws[] = {&k->svc, &k->eps};
	for (int i = 0; i < 2; i++)
		for (int s = 0; s < 4; s++)
			cp_buf_printf(b, len, cap, "edgelb_k8s_watch_state{resource=\"%s\",state=\"%s\"} %d\n",
				      ws[i]->what, wstate_name[s], ws[i]->state == s);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_relists_total Full lists (start, 410 Gone).\n"
		      "# TYPE edgelb_k8s_relists_total counter\n");
	for (int i = 0; i < 2; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_relists_total{resource=\"%s\"} %llu\n", ws[i]->what,
			      (unsigned long long)ws[i]->relists);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_watch_events_total Watch events received.\n"
				   "# TYPE edgelb_k8s_watch_events_total counter\n");
	for (int i = 0; i < 2; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_watch_events_total{resource=\"%s\"} %llu\n",
			      ws[i]->what, (unsigned long long)ws[i]->events);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_watch_errors_total Failed lists or watches.\n"
				   "# TYPE edgelb_k8s_watch_errors_total counter\n");
	for (int i = 0; i < 2; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_watch_errors_total{resource=\"%s\"} %llu\n",
			      ws[i]->what, (unsigned long long)ws[i]->errors);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_last_sync_timestamp_seconds Last completed list.\n"
				   "# TYPE edgelb_k8s_last_sync_timestamp_seconds gauge\n");
	for (int i = 0; i < 2; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_last_sync_timestamp_seconds{resource=\"%s\"} %.3f\n",
			      ws[i]->what, ws[i]->last_list_unix);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_services_handled Services of our class and type LoadBalancer.\n"
		      "# TYPE edgelb_k8s_services_handled gauge\nedgelb_k8s_services_handled %u\n"
		      "# HELP edgelb_k8s_reconciles_total Reconciliations of a Service.\n"
		      "# TYPE edgelb_k8s_reconciles_total counter\nedgelb_k8s_reconciles_total %llu\n"
		      "# HELP edgelb_k8s_status_updates_total Service status writes.\n"
		      "# TYPE edgelb_k8s_status_updates_total counter\nedgelb_k8s_status_updates_total %llu\n"
		      "# HELP edgelb_k8s_status_conflicts_total Status writes answered 409 (retried).\n"
		      "# TYPE edgelb_k8s_status_conflicts_total counter\nedgelb_k8s_status_conflicts_total %llu\n"
		      "# HELP edgelb_k8s_events_total Events written.\n"
		      "# TYPE edgelb_k8s_events_total counter\nedgelb_k8s_events_total %llu\n"
		      "# HELP edgelb_k8s_errors_total Failed reconciliations or API writes.\n"
		      "# TYPE edgelb_k8s_errors_total counter\nedgelb_k8s_errors_total %llu\n",
		      k->handled, (unsigned long long)k->reconciles, (unsigned long long)k->status_writes,
		      (unsigned long long)k->status_conflicts, (unsigned long long)k->events_sent,
		      (unsigned long long)k->errors);
	pthread_mutex_unlock(&k->mu);
}
