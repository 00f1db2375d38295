/*
 * k8s_write.c - what the Kubernetes controller writes to the API server: a
 * Service's status.loadBalancer.ingress, our finalizer, Events (k8s_priv.h).
 *
 * The writes run on the write queue's threads (k8s_queue.c), and only while
 * this cp is the leader (lease.c); cp_k8s_event (reconcile thread) builds an
 * Event and queues it. Every write re-reads the object and carries its
 * resourceVersion and uid: a 409 (someone else changed it) is re-read and
 * retried, a Service whose uid is not the one we allocated for (deleted and
 * created again) is not touched.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s_priv.h"
#include "k8s_svc.h"
#include "kclient.h"
#include "lease.h"

#define WRITE_RETRIES 5

void
cp_k8s_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "edgelb-cp: k8s: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

bool
cp_k8s_is_leader(struct cp_k8s *k)
{
	return cp_lease_is_leader(k->lease);
}

static void
rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
cp_k8s_event(struct cp_k8s *k, const json_t *svc, const char *type, const char *reason,
	     const char *fmt, ...)
{
	char msg[512], key[2 * CP_NAME_MAX + 2], said[700], ts[32];
	va_list ap;

	if (!cp_k8s_is_leader(k))
		return; /* the leader says it */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cp_k8s_svc_key(svc, key, sizeof(key));
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
	cp_k8s_queue_event(k->queue, key, e); /* posted by the write queue */
	cp_k8s_log("%s %s: %s", key, reason, msg);
}

json_t *
cp_k8s_ingress(const json_t *svc, const struct lb_addr *ips, uint32_t n)
{
	const json_t *spec = json_object_get(svc, "spec"), *f, *p;
	json_t *ing = json_array(), *ports = json_array();
	char a[LB_ADDR_STRLEN];
	size_t i, j;
	bool used[2] = {false, false};

	/* status.loadBalancer.ingress[].ports: what each address serves (TCP and UDP). */
	json_array_foreach(json_object_get(spec, "ports"), j, p) {
		const char *proto = json_string_value(json_object_get(p, "protocol"));
		if (proto == NULL)
			proto = "TCP";
		if (strcmp(proto, "TCP") != 0 && strcmp(proto, "UDP") != 0)
			continue;
		json_array_append_new(ports, json_pack("{s:O, s:s}", "port", json_object_get(p, "port"),
						       "protocol", proto));
	}
	/* The order of spec.ipFamilies (a dual-stack IPv6-first Service lists IPv6 first). */
	json_array_foreach(json_object_get(spec, "ipFamilies"), i, f) {
		const char *fam = json_string_value(f);
		uint8_t want = fam && strcmp(fam, "IPv6") == 0 ? LB_AF_INET6 : LB_AF_INET;
		for (uint32_t x = 0; x < n && x < 2; x++)
			if (!used[x] && ips[x].family == want) {
				used[x] = true;
				json_array_append_new(ing, json_pack("{s:s, s:s, s:O}", "ip",
								     lb_addr_format(&ips[x], a, sizeof(a)),
								     "ipMode", "VIP", "ports", ports));
			}
	}
	for (uint32_t x = 0; x < n && x < 2; x++)
		if (!used[x])
			json_array_append_new(ing, json_pack("{s:s, s:s, s:O}", "ip",
							     lb_addr_format(&ips[x], a, sizeof(a)), "ipMode",
							     "VIP", "ports", ports));
	/* Entries without an address (a hostname another controller or a person wrote) stay. */
	json_array_foreach(json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"),
					   "ingress"), i, p)
		if (json_object_get(p, "ip") == NULL)
			json_array_append(ing, (json_t *)p);
	json_decref(ports);
	return ing;
}

static bool
uid_is(const json_t *svc, const char *uid)
{
	const char *u = json_string_value(json_object_get(json_object_get(svc, "metadata"), "uid"));

	return uid == NULL || uid[0] == '\0' || (u && strcmp(u, uid) == 0);
}

static bool
ip_in(const char *ip, const struct lb_addr *set, uint32_t n)
{
	struct lb_addr a;

	if (ip == NULL || lb_addr_parse(ip, &a) < 0)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (lb_addr_eq(&a, &set[i]))
			return true;
	return false;
}

int
cp_k8s_write_status(struct cp_k8s *k, const char *ns, const char *name, const char *uid,
		    const struct lb_addr *ips, uint32_t n, const struct lb_addr *drop, uint32_t n_drop)
{
	char path[512], err[512];

	for (int attempt = 0; attempt < WRITE_RETRIES && !k->stop; attempt++) {
		long status;
		if (!cp_k8s_is_leader(k))
			return 0; /* not ours to write any more */
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
		json_t *svc = kc_call(k->kc, "GET", path, NULL, NULL, &status, err, sizeof(err));
		if (svc == NULL || status != 200 || !uid_is(svc, uid)) {
			bool gone = svc && (status == 404 || status == 200);
			json_decref(svc);
			return gone ? 0 : -1; /* gone or another object now: nothing to write */
		}
		json_t *lbst = json_object_get(json_object_get(svc, "status"), "loadBalancer");
		json_t *cur = json_object_get(lbst, "ingress");
		json_t *want;
		if (n > 0) {
			want = cp_k8s_ingress(svc, ips, n);
		} else {
			/* Only what we allocated goes; another controller's entries stay. */
			const json_t *v;
			size_t i;
			want = json_array();
			json_array_foreach(cur, i, v)
				if (!ip_in(json_string_value(json_object_get(v, "ip")), drop, n_drop))
					json_array_append(want, (json_t *)v);
		}
		if (cur ? json_equal(cur, want) : json_array_size(want) == 0) {
			json_decref(want);
			json_decref(svc);
			return 0;
		}
		json_t *st = json_object_get(svc, "status");
		if (!json_is_object(st)) {
			st = json_object();
			json_object_set_new(svc, "status", st);
		}
		if (!json_is_object(lbst)) {
			lbst = json_object();
			json_object_set_new(st, "loadBalancer", lbst);
		}
		if (json_array_size(want))
			json_object_set_new(lbst, "ingress", want);
		else {
			json_decref(want);
			json_object_del(lbst, "ingress");
		}
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
		if (status == 200 || status == 404)
			return 0;
		if (status != 409)
			return -1;
	}
	return -1;
}

int
cp_k8s_finalizer(struct cp_k8s *k, const char *ns, const char *name, const char *uid, bool add)
{
	char path[512], err[512];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services/%s", ns, name);
	for (int attempt = 0; attempt < WRITE_RETRIES && !k->stop; attempt++) {
		long status;
		if (!cp_k8s_is_leader(k))
			return 0;
		json_t *svc = kc_call(k->kc, "GET", path, NULL, NULL, &status, err, sizeof(err));
		if (svc == NULL || status != 200 || !uid_is(svc, uid)) {
			bool gone = svc && (status == 404 || status == 200);
			json_decref(svc);
			return gone ? 0 : -1;
		}
		json_t *meta = json_object_get(svc, "metadata");
		json_t *fin = json_object_get(meta, "finalizers"), *v;
		json_t *want = json_array();
		bool have = false;
		size_t i;
		json_array_foreach(fin, i, v) {
			if (json_is_string(v) && strcmp(json_string_value(v), CP_FINALIZER) == 0)
				have = true;
			else
				json_array_append(want, v);
		}
		/* No new finalizer on a Service being deleted (the API server refuses it too). */
		if (have == add || (add && json_object_get(meta, "deletionTimestamp"))) {
			json_decref(want);
			json_decref(svc);
			return 0;
		}
		if (add)
			json_array_append_new(want, json_string(CP_FINALIZER));
		if (json_array_size(want))
			json_object_set_new(meta, "finalizers", want);
		else {
			json_decref(want);
			json_object_del(meta, "finalizers");
		}
		json_t *r = kc_call(k->kc, "PUT", path, svc, NULL, &status, err, sizeof(err));
		json_decref(svc);
		json_decref(r);
		pthread_mutex_lock(&k->mu);
		if (status == 200)
			k->finalizer_writes++;
		else if (status == 409)
			k->status_conflicts++;
		pthread_mutex_unlock(&k->mu);
		if (status == 200 || status == 404)
			return 0;
		if (status != 409)
			return -1;
	}
	return -1;
}
