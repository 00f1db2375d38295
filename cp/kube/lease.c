/*
 * lease.c - leader election over a coordination.k8s.io/v1 Lease (see lease.h).
 *
 * Runs on its own thread; the other threads only read l->leader (under l->mu).
 * The algorithm is client-go's tryAcquireOrRenew:
 *   GET the Lease; 404 -> create it with us as holder.
 *   Held by someone else and its record changed less than lease_duration_s ago
 *   (our monotonic clock, from when we first saw that record) -> not ours.
 *   Otherwise PUT it with us as holder, renewTime now, the resourceVersion we
 *   read (a concurrent taker makes it 409: we lost that round).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cpconf.h"
#include "cptime.h"
#include "kclient.h"
#include "lease.h"

struct cp_lease {
	struct kc *kc;
	char ns[CP_NAME_LEN], name[CP_NAME_LEN], id[128], path[600];
	uint32_t lease_s, renew_deadline_ms, retry_ms;
	bool enabled;
	void (*on_change)(void *arg, bool leader);
	void *arg;
	pthread_t th;
	pthread_mutex_t mu;
	volatile bool stop;
	/* under mu */
	bool leader;
	char holder[256];
	uint64_t acquired, lost, renew_failures;
	/* lease thread only */
	json_t *observed;      /* spec as last seen */
	double observed_mono;  /* when it was first seen so */
	double renewed_mono;   /* our last successful renew */
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* metav1.MicroTime: RFC 3339 with microseconds. */
static void
micro_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char s[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", s, (long)tv.tv_usec);
}

static void
set_holder(struct cp_lease *l, const char *h)
{
	pthread_mutex_lock(&l->mu);
	snprintf(l->holder, sizeof(l->holder), "%s", h ? h : "");
	pthread_mutex_unlock(&l->mu);
}

static json_t *
spec_for(struct cp_lease *l, const json_t *old, bool release)
{
	char now[40];
	const char *holder = json_string_value(json_object_get(old, "holderIdentity"));
	json_int_t tr = json_integer_value(json_object_get(old, "leaseTransitions"));
	bool same = holder && strcmp(holder, l->id) == 0;
	const char *acq = json_string_value(json_object_get(old, "acquireTime"));

	micro_time(now, sizeof(now));
	if (release)
		return json_pack("{s:s, s:i, s:s, s:s, s:I}", "holderIdentity", "", "leaseDurationSeconds", 1,
				 "acquireTime", now, "renewTime", now, "leaseTransitions", tr);
	return json_pack("{s:s, s:i, s:s, s:s, s:I}", "holderIdentity", l->id, "leaseDurationSeconds",
			 (int)l->lease_s, "acquireTime", same && acq ? acq : now, "renewTime", now,
			 "leaseTransitions", (json_int_t)(old == NULL ? 0 : same ? tr : tr + 1));
}

/* One round: true when we hold the Lease after it. */
static bool
try_acquire_or_renew(struct cp_lease *l)
{
	char err[512], coll[600];
	long status = 0;
	json_t *cur = kc_call(l->kc, "GET", l->path, NULL, NULL, &status, err, sizeof(err));

	if (cur && status == 404) {
		json_decref(cur);
		json_t *body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion", "coordination.k8s.io/v1",
					 "kind", "Lease", "metadata", "name", l->name, "namespace", l->ns,
					 "spec", spec_for(l, NULL, false));
		snprintf(coll, sizeof(coll), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->ns);
		json_t *r = kc_call(l->kc, "POST", coll, body, NULL, &status, err, sizeof(err));
		bool ok = r && status == 201;
		if (ok) {
			json_decref(l->observed);
			l->observed = json_deep_copy(json_object_get(body, "spec"));
			l->observed_mono = mono();
			set_holder(l, l->id);
		} else if (status != 409) {
			fprintf(stderr, "edgelb-cp: lease: create %s/%s: %s\n", l->ns, l->name,
				r ? json_string_value(json_object_get(r, "message")) : err);
		}
		json_decref(r);
		json_decref(body);
		return ok;
	}
	if (cur == NULL || status != 200) {
		fprintf(stderr, "edgelb-cp: lease: get %s/%s: %s\n", l->ns, l->name,
			cur ? json_string_value(json_object_get(cur, "message")) : err);
		json_decref(cur);
		return false;
	}
	json_t *spec = json_object_get(cur, "spec");
	if (l->observed == NULL || !json_equal(l->observed, spec)) {
		json_decref(l->observed);
		l->observed = json_deep_copy(spec);
		l->observed_mono = mono();
	}
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
	set_holder(l, holder);
	bool mine = holder && strcmp(holder, l->id) == 0;
	json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	if (dur <= 0)
		dur = l->lease_s;
	if (holder && *holder && !mine && l->observed_mono + (double)dur > mono()) {
		json_decref(cur);
		return false; /* someone else holds a valid Lease */
	}
	json_object_set_new(cur, "spec", spec_for(l, spec, false));
	json_t *r = kc_call(l->kc, "PUT", l->path, cur, NULL, &status, err, sizeof(err));
	bool ok = r && status == 200;
	if (ok) {
		json_decref(l->observed);
		l->observed = json_deep_copy(json_object_get(r, "spec"));
		l->observed_mono = mono();
		set_holder(l, l->id);
	} else if (status != 409) {
		fprintf(stderr, "edgelb-cp: lease: update %s/%s: %s\n", l->ns, l->name,
			r ? json_string_value(json_object_get(r, "message")) : err);
	}
	json_decref(r);
	json_decref(cur);
	return ok;
}

static void
set_leader(struct cp_lease *l, bool leader)
{
	pthread_mutex_lock(&l->mu);
	bool was = l->leader;
	l->leader = leader;
	if (leader && !was)
		l->acquired++;
	if (!leader && was)
		l->lost++;
	pthread_mutex_unlock(&l->mu);
	if (was != leader) {
		fprintf(stderr, "edgelb-cp: lease: %s %s/%s (identity %s)\n",
			leader ? "became the leader: holding" : l->stop ? "stopping: giving up"
								   : "no longer the leader: lost",
			l->ns, l->name, l->id);
		if (l->on_change)
			l->on_change(l->arg, leader);
	}
}

/* Give the Lease up so a peer takes over at once (client-go ReleaseOnCancel). */
static void
release(struct cp_lease *l)
{
	char err[256];
	long status = 0;
	json_t *cur = kc_call(l->kc, "GET", l->path, NULL, NULL, &status, err, sizeof(err));
	const char *holder = json_string_value(json_object_get(json_object_get(cur, "spec"), "holderIdentity"));

	if (cur && status == 200 && holder && strcmp(holder, l->id) == 0) {
		json_object_set_new(cur, "spec", spec_for(l, json_object_get(cur, "spec"), true));
		json_decref(kc_call(l->kc, "PUT", l->path, cur, NULL, &status, err, sizeof(err)));
		fprintf(stderr, "edgelb-cp: lease: released %s/%s (HTTP %ld)\n", l->ns, l->name, status);
	}
	json_decref(cur);
}

static void *
run(void *arg)
{
	struct cp_lease *l = arg;

	while (!l->stop) {
		bool leader = cp_lease_is_leader(l);
		bool ok = try_acquire_or_renew(l);
		if (ok) {
			l->renewed_mono = mono();
			if (!leader)
				set_leader(l, true);
		} else if (leader) {
			pthread_mutex_lock(&l->mu);
			l->renew_failures++;
			pthread_mutex_unlock(&l->mu);
			if (mono() - l->renewed_mono >= l->renew_deadline_ms / 1000.0)
				set_leader(l, false);
		}
		/* client-go waits retryPeriod (with jitter 1.2 while not leading). */
		int ms = (int)l->retry_ms;
		if (!cp_lease_is_leader(l))
			ms += (int)(l->retry_ms * 0.2 * (rand() / (double)RAND_MAX));
		else if (!ok)
			ms = (int)(l->retry_ms / 4 ? l->retry_ms / 4 : 1); /* retry renews sooner */
		cp_nap(&l->stop, ms);
	}
	if (cp_lease_is_leader(l)) {
		set_leader(l, false);
		release(l);
	}
	return NULL;
}

struct cp_lease *
cp_lease_start(struct kc *kc, const struct cp_conf *c, void (*on_change)(void *, bool), void *arg,
	       char *err, size_t errlen)
{
	struct cp_lease *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->kc = kc;
	l->enabled = c->le_enabled;
	l->on_change = on_change;
	l->arg = arg;
	pthread_mutex_init(&l->mu, NULL);
	snprintf(l->ns, sizeof(l->ns), "%s", c->le_namespace);
	snprintf(l->name, sizeof(l->name), "%s", c->le_name);
	if (c->le_identity[0])
		snprintf(l->id, sizeof(l->id), "%s", c->le_identity);
	else if (gethostname(l->id, sizeof(l->id)) != 0 || l->id[0] == '\0')
		snprintf(l->id, sizeof(l->id), "edgelb");
	l->id[sizeof(l->id) - 1] = '\0';
	l->lease_s = c->le_lease_s;
	l->renew_deadline_ms = c->le_renew_deadline_ms;
	l->retry_ms = c->le_retry_ms;
	snprintf(l->path, sizeof(l->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", l->ns,
		 l->name);
	srand((unsigned)(getpid() ^ (unsigned)time(NULL)));
	if (!l->enabled) {
		l->leader = true;
		return l;
	}
	if (pthread_create(&l->th, NULL, run, l) != 0) {
		snprintf(err, errlen, "lease: cannot start a thread");
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	fprintf(stderr, "edgelb-cp: lease: electing on %s/%s as %s (lease %us, renew deadline %ums, retry %ums)\n",
		l->ns, l->name, l->id, l->lease_s, l->renew_deadline_ms, l->retry_ms);
	return l;
}

void
cp_lease_stop(struct cp_lease *l)
{
	if (l == NULL)
		return;
	l->stop = true;
	if (l->enabled)
		pthread_join(l->th, NULL);
	json_decref(l->observed);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

bool
cp_lease_is_leader(struct cp_lease *l)
{
	pthread_mutex_lock(&l->mu);
	bool v = l->leader;
	pthread_mutex_unlock(&l->mu);
	return v;
}

void
cp_lease_info(struct cp_lease *l, struct cp_lease_info *o)
{
	memset(o, 0, sizeof(*o));
	pthread_mutex_lock(&l->mu);
	o->enabled = l->enabled;
	o->leader = l->leader;
	snprintf(o->identity, sizeof(o->identity), "%s", l->id);
	snprintf(o->holder, sizeof(o->holder), "%s", l->enabled ? l->holder : l->id);
	snprintf(o->lease, sizeof(o->lease), "%s/%s", l->ns, l->name);
	o->acquired = l->acquired;
	o->lost = l->lost;
	o->renew_failures = l->renew_failures;
	pthread_mutex_unlock(&l->mu);
}
