/*
 * k8s_queue.c - the Kubernetes controller's write queue (k8s_priv.h): status,
 * finalizers and Events go to the API server from their own thread, so a slow
 * or failing write never delays the store and the dp (the reconcile thread only
 * enqueues).
 *
 * client-go workqueue semantics: one entry per Service key (and one for its
 * Events, which accumulate); a newer intent replaces an older one; a key is never
 * worked on by two writers (WRITERS threads); a failed key waits 200 ms doubling
 * to 60 s (per key), or the server's Retry-After on 429 when that is longer;
 * overall at most WRITE_QPS keys a second (token bucket, burst WRITE_BURST;
 * Events have a bucket of their own). Only the leader writes: a cp that stops
 * leading drops its queue (the new leader recomputes everything).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s_priv.h"
#include "kclient.h"
#include "lease.h"

#define WRITE_QPS 10.0
#define WRITE_BURST 100.0
#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 60000
#define EVENT_TRIES 5
#define WRITERS 2 /* a slow write (an 8 s Event POST) leaves the other writer free */

struct cp_k8s_queue {
	struct cp_k8s *k;
	pthread_t th[WRITERS];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	json_t *items;    /* key -> {"op", "uid", "ips", "events", "gen", "tries", "not_before"} */
	uint64_t gen;
	double tokens[2], refilled; /* token buckets: [0] status/finalizer, [1] Events */
	/* metrics, under mu */
	uint64_t done, retries, throttled;
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *
item_locked(struct cp_k8s_queue *q, const char *key)
{
	json_t *it = json_object_get(q->items, key);

	if (it == NULL) {
		it = json_pack("{s:s, s:[], s:I, s:f}", "op", "", "events", "tries", (json_int_t)0,
			       "not_before", 0.0);
		json_object_set_new(q->items, key, it);
	}
	json_object_set_new(it, "gen", json_integer((json_int_t)++q->gen));
	return it;
}

static json_t *
ips_json(const struct lb_addr *ips, uint32_t n)
{
	json_t *a = json_array();
	char s[LB_ADDR_STRLEN];

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(lb_addr_format(&ips[i], s, sizeof(s))));
	return a;
}

void
cp_k8s_queue_put(struct cp_k8s_queue *q, const char *key, const char *op, const char *uid,
		 const struct lb_addr *ips, uint32_t n)
{
	pthread_mutex_lock(&q->mu);
	json_t *it = item_locked(q, key);
	json_object_set_new(it, "op", json_string(op));
	json_object_set_new(it, "uid", json_string(uid ? uid : ""));
	json_object_set_new(it, "ips", ips_json(ips, n));
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
cp_k8s_queue_event(struct cp_k8s_queue *q, const char *key, json_t *ev)
{
	char ekey[2 * CP_NAME_MAX + 4];

	/* Events are their own item ("!ns/name"): a slow Event never holds up the status. */
	snprintf(ekey, sizeof(ekey), "!%s", key);
	pthread_mutex_lock(&q->mu);
	json_t *it = item_locked(q, ekey);
	json_array_append_new(json_object_get(it, "events"), json_pack("{s:o, s:i}", "e", ev, "tries", 0));
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void
parse_ips(const json_t *a, struct lb_addr out[2], uint32_t *n)
{
	const json_t *v;
	size_t i;

	*n = 0;
	json_array_foreach(a, i, v)
		if (*n < 2 && lb_addr_parse(json_string_value(v), &out[*n]) == 0)
			(*n)++;
}

/* POST the Events of an item; the ones that failed stay (up to EVENT_TRIES each). */
static int
post_events(struct cp_k8s *k, json_t *evs, json_t *left)
{
	char path[512], err[256];
	const json_t *v;
	size_t i;
	int rc = 0;

	json_array_foreach(evs, i, v) {
		json_t *e = json_object_get(v, "e");
		const char *ns = json_string_value(json_object_get(json_object_get(e, "metadata"), "namespace"));
		long status = 0;
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns ? ns : "default");
		json_t *r = kc_call(k->kc, "POST", path, e, NULL, &status, err, sizeof(err));
		json_decref(r);
		pthread_mutex_lock(&k->mu);
		if (r && status / 100 == 2)
			k->events_sent++;
		else
			k->errors++;
		pthread_mutex_unlock(&k->mu);
		if (r && status / 100 == 2)
			continue;
		rc = -1;
		int tries = (int)json_integer_value(json_object_get(v, "tries")) + 1;
		if (tries < EVENT_TRIES)
			json_array_append_new(left, json_pack("{s:O, s:i}", "e", e, "tries", tries));
		else
			cp_k8s_log("dropping an Event after %d tries: %s", tries,
				   json_string_value(json_object_get(e, "message")));
	}
	return rc;
}

/* Do what one item asks; 0 done, -1 try again later. */
static int
work(struct cp_k8s *k, const char *key, const json_t *it, json_t *events_left)
{
	char ns[CP_NAME_MAX], name[CP_NAME_MAX];
	const char *slash = strchr(key, '/');
	const char *op = json_string_value(json_object_get(it, "op"));
	const char *uid = json_string_value(json_object_get(it, "uid"));
	struct lb_addr ips[2];
	uint32_t n;
	int rc = 0;

	if (key[0] == '!')
		return post_events(k, json_object_get(it, "events"), events_left);
	if (slash == NULL || (size_t)(slash - key) >= sizeof(ns) || strlen(slash + 1) >= sizeof(name))
		return 0;
	memcpy(ns, key, (size_t)(slash - key));
	ns[slash - key] = '\0';
	snprintf(name, sizeof(name), "%s", slash + 1);
	parse_ips(json_object_get(it, "ips"), ips, &n);
	if (strcmp(op, "ensure") == 0) {
		/* The finalizer first: from then on a delete waits for our cleanup. */
		rc = cp_k8s_finalizer(k, ns, name, uid, true);
		if (rc == 0 && n > 0)
			rc = cp_k8s_write_status(k, ns, name, uid, ips, n, NULL, 0);
	} else if (strcmp(op, "release") == 0) {
		rc = cp_k8s_write_status(k, ns, name, uid, NULL, 0, ips, n);
		if (rc == 0)
			rc = cp_k8s_finalizer(k, ns, name, NULL, false);
		if (rc == 0)
			cp_k8s_release_done(k, key);
	}
	if (post_events(k, json_object_get(it, "events"), events_left) < 0)
		rc = -1;
	return rc;
}

static void *
run(void *arg)
{
	struct cp_k8s_queue *q = arg;
	struct cp_k8s *k = q->k;

	pthread_mutex_lock(&q->mu);
	while (!q->stop) {
		if (!cp_lease_is_leader(k->lease)) {
			json_object_clear(q->items); /* the leader writes; it recomputes everything */
		}
		/* The next key that is due, and how long until one is. */
		double now = mono(), wait = 1.0;
		const char *key, *pick = NULL;
		json_t *it;
		json_object_foreach(q->items, key, it) {
			double nb = json_real_value(json_object_get(it, "not_before"));
			if (json_is_true(json_object_get(it, "busy")))
				continue; /* the other writer has it */
			if (nb <= now) {
				pick = key;
				break;
			}
			if (nb - now < wait)
				wait = nb - now;
		}
		for (int b = 0; b < 2; b++) {
			q->tokens[b] += (now - q->refilled) * WRITE_QPS;
			if (q->tokens[b] > WRITE_BURST)
				q->tokens[b] = WRITE_BURST;
		}
		q->refilled = now;
		int bucket = pick && pick[0] == '!';
		if (pick && q->tokens[bucket] < 1.0) {
			wait = (1.0 - q->tokens[bucket]) / WRITE_QPS;
			pick = NULL;
			q->throttled++;
		}
		if (pick == NULL) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			long ns = ts.tv_nsec + (long)(wait * 1e9);
			ts.tv_sec += ns / 1000000000L;
			ts.tv_nsec = ns % 1000000000L;
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
			continue;
		}
		q->tokens[bucket] -= 1.0;
		char *kcopy = strdup(pick);
		json_t *snap = json_deep_copy(json_object_get(q->items, pick));
		/* Events are taken now; newer ones arrive in a fresh list. */
		json_object_set_new(json_object_get(q->items, pick), "events", json_array());
		json_object_set_new(json_object_get(q->items, pick), "busy", json_true());
		pthread_mutex_unlock(&q->mu);

		json_t *left = json_array();
		int rc = kcopy && snap ? work(k, kcopy, snap, left) : 0;
		long retry_after = kc_retry_after();

		pthread_mutex_lock(&q->mu);
		json_t *cur = kcopy ? json_object_get(q->items, kcopy) : NULL;
		if (cur) {
			json_object_del(cur, "busy");
			pthread_cond_broadcast(&q->cv);
			json_array_extend(json_object_get(cur, "events"), left);
			bool newer = json_integer_value(json_object_get(cur, "gen")) !=
				     json_integer_value(json_object_get(snap, "gen"));
			if (rc == 0 && !newer && json_array_size(json_object_get(cur, "events")) == 0) {
				json_object_del(q->items, kcopy);
				q->done++;
			} else if (rc == 0) {
				json_object_set_new(cur, "tries", json_integer(0));
				json_object_set_new(cur, "not_before", json_real(0));
				if (!newer)
					json_object_set_new(cur, "op", json_string("")); /* only Events left */
			} else {
				json_int_t tries = json_integer_value(json_object_get(cur, "tries")) + 1;
				double ms = RETRY_MIN_MS;
				for (json_int_t t = 1; t < tries && ms < RETRY_MAX_MS; t++)
					ms *= 2;
				if (ms > RETRY_MAX_MS)
					ms = RETRY_MAX_MS;
				if (retry_after * 1000.0 > ms)
					ms = retry_after * 1000.0; /* 429: the server says when */
				json_object_set_new(cur, "tries", json_integer(tries));
				json_object_set_new(cur, "not_before", json_real(mono() + ms / 1000.0));
				q->retries++;
				cp_k8s_log("%s: API write failed (try %lld%s); again in %.1f s", kcopy,
					   (long long)tries, retry_after > 0 ? ", Retry-After" : "", ms / 1000.0);
			}
		}
		json_decref(left);
		json_decref(snap);
		free(kcopy);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct cp_k8s_queue *
cp_k8s_queue_start(struct cp_k8s *k)
{
	struct cp_k8s_queue *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->k = k;
	q->items = json_object();
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->refilled = mono();
	q->tokens[0] = q->tokens[1] = WRITE_BURST;
	for (int i = 0; i < WRITERS; i++)
		if (pthread_create(&q->th[i], NULL, run, q) != 0) {
			pthread_mutex_lock(&q->mu);
			q->stop = true;
			pthread_cond_broadcast(&q->cv);
			pthread_mutex_unlock(&q->mu);
			for (int j = 0; j < i; j++)
				pthread_join(q->th[j], NULL);
			json_decref(q->items);
			free(q);
			return NULL;
		}
	return q;
}

void
cp_k8s_queue_stop(struct cp_k8s_queue *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(q->th[i], NULL);
	json_decref(q->items);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q);
}

void
cp_k8s_queue_stats(struct cp_k8s_queue *q, struct cp_k8s_queue_stats *st)
{
	pthread_mutex_lock(&q->mu);
	st->depth = json_object_size(q->items);
	st->done = q->done;
	st->retries = q->retries;
	st->throttled = q->throttled;
	pthread_mutex_unlock(&q->mu);
}
