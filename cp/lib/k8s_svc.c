/*
 * k8s_svc.c - Service + EndpointSlices -> load balancer (see k8s_svc.h).
 *
 * Called by the controller's reconcile thread with private copies of the
 * objects; pure, no I/O.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_svc.h"
#include "lb_error.h"
#include "lb_json.h"

static void
warn_add(char *warn, size_t len, const char *fmt, ...)
{
	size_t used = strlen(warn);
	va_list ap;

	if (used + 3 >= len)
		return;
	if (used)
		used += (size_t)snprintf(warn + used, len - used, "; ");
	va_start(ap, fmt);
	vsnprintf(warn + used, len - used, fmt, ap);
	va_end(ap);
}

static const char *
str_at(const json_t *o, const char *a, const char *b, const char *c)
{
	const json_t *v = json_object_get(o, a);

	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_string_value(v);
}

const char *
cp_k8s_svc_key(const json_t *obj, char *buf, size_t len)
{
	const char *ns = str_at(obj, "metadata", "namespace", NULL);
	const char *name = str_at(obj, "metadata", "name", NULL);

	snprintf(buf, len, "%s/%s", ns && *ns ? ns : "default", name ? name : "");
	return buf;
}

bool
cp_k8s_svc_ours(const json_t *svc, const char *lb_class, bool default_class)
{
	const char *type = str_at(svc, "spec", "type", NULL);
	const json_t *cls = json_object_get(json_object_get(svc, "spec"), "loadBalancerClass");

	if (type == NULL || strcmp(type, "LoadBalancer") != 0)
		return false;
	if (cls == NULL || json_is_null(cls))
		return default_class;
	return json_is_string(cls) && strcmp(json_string_value(cls), lb_class) == 0;
}

uint32_t
cp_k8s_svc_status_ips(const json_t *svc, struct lb_addr out[2])
{
	const json_t *ing = json_object_get(
		json_object_get(json_object_get(svc, "status"), "loadBalancer"), "ingress");
	const json_t *v;
	size_t i;
	uint32_t n = 0;

	json_array_foreach(ing, i, v) {
		const char *ip = json_string_value(json_object_get(v, "ip"));
		if (ip && n < 2 && lb_addr_parse(ip, &out[n]) == 0)
			n++;
	}
	return n;
}

#define SPLIT_MAX 1024 /* longest comma-separated annotation value taken (callers check) */

/* A comma-separated list into a JSON array of trimmed strings. */
static json_t *
split_commas(const char *s)
{
	json_t *a = json_array();
	char buf[SPLIT_MAX];

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		size_t n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = '\0';
		if (n)
			json_array_append_new(a, json_string(t));
	}
	return a;
}

static int
add_backend(struct cp_lb *lb, const struct cp_backend *b)
{
	/* The same address may appear in two slices (during a rollout): keep the best state. */
	for (uint32_t i = 0; i < lb->n_backends; i++) {
		struct cp_backend *x = &lb->backends[i];
		if (lb_addr_eq(&x->addr, &b->addr) && x->port == b->port &&
		    strcmp(x->port_name, b->port_name) == 0) {
			if (b->state < x->state)
				x->state = b->state;
			return 0;
		}
	}
	if (lb->n_backends == CP_MAX_BACKENDS)
		return LB_EFULL;
	struct cp_backend *nb = realloc(lb->backends, sizeof(*nb) * (lb->n_backends + 1));
	if (nb == NULL)
		return LB_ENOMEM;
	lb->backends = nb;
	lb->backends[lb->n_backends++] = *b;
	return 0;
}

/* A condition that is absent counts as true (EndpointSlice API semantics). */
static bool
cond(const json_t *conds, const char *name, bool missing)
{
	const json_t *v = json_object_get(conds, name);

	return v == NULL || json_is_null(v) ? missing : json_is_true(v);
}

static int
slices_to_backends(const json_t *slices, const char *svc_name, const char *ns, struct cp_lb *lb,
		   char *warn, size_t warnlen)
{
	const json_t *sl;
	size_t i;

	json_array_foreach(slices, i, sl) {
		const char *owner = str_at(sl, "metadata", "labels", CP_SVC_NAME_LABEL);
		const char *sns = str_at(sl, "metadata", "namespace", NULL);
		const char *type = json_string_value(json_object_get(sl, "addressType"));
		if (owner == NULL || strcmp(owner, svc_name) != 0 || strcmp(sns ? sns : "default", ns) != 0)
			continue;
		uint8_t fam = type && strcmp(type, "IPv4") == 0 ? LB_AF_INET
			      : type && strcmp(type, "IPv6") == 0 ? LB_AF_INET6 : 0;
		if (fam == 0)
			continue; /* FQDN slices name no address we can forward to */
		const json_t *ports = json_object_get(sl, "ports"), *p, *ep;
		size_t k, e;
		json_array_foreach(ports, k, p) {
			const json_t *pn = json_object_get(p, "port");
			const char *name = json_string_value(json_object_get(p, "name"));
			if (!json_is_integer(pn) || json_integer_value(pn) < 1 ||
			    json_integer_value(pn) > 65535)
				continue;
			json_array_foreach(json_object_get(sl, "endpoints"), e, ep) {
				const json_t *c = json_object_get(ep, "conditions"), *a;
				size_t x;
				struct cp_backend b;
				memset(&b, 0, sizeof(b));
				b.port = (uint16_t)json_integer_value(pn);
				b.weight = 1;
				snprintf(b.port_name, sizeof(b.port_name), "%s", name ? name : "");
				bool ready = cond(c, "ready", true);
				bool serving = cond(c, "serving", true);
				bool terminating = cond(c, "terminating", false);
				if (ready && !terminating)
					b.state = LB_BACKEND_ACTIVE;
				else if (serving && terminating)
					b.state = LB_BACKEND_DRAINING;
				else
					continue;
				json_array_foreach(json_object_get(ep, "addresses"), x, a) {
					if (!json_is_string(a) || lb_addr_parse(json_string_value(a), &b.addr) < 0 ||
					    b.addr.family != fam)
						continue;
					if (!(lb->families & (fam == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6)))
						continue; /* a family the Service does not serve */
					int rc = add_backend(lb, &b);
					if (rc == LB_EFULL) {
						warn_add(warn, warnlen, "more than %d endpoints: the rest ignored",
							 CP_MAX_BACKENDS);
						return 0;
					}
					if (rc < 0)
						return rc; /* LB_ENOMEM: the caller reports it */
				}
			}
		}
	}
	return 0;
}

int
cp_k8s_svc_translate(const json_t *svc, const json_t *slices, const struct cp_health_check *hc,
		 struct cp_lb *lb, char *warn, size_t warnlen, char *err, size_t errlen)
{
	const json_t *spec = json_object_get(svc, "spec"), *v, *ann;
	const char *ns = str_at(svc, "metadata", "namespace", NULL);
	const char *name = str_at(svc, "metadata", "name", NULL);
	size_t i;
	int rc;

	cp_lb_init(lb, hc);
	if (warnlen)
		warn[0] = '\0';
	lb->hc.type = CP_HC_NONE; /* readiness comes from the EndpointSlices */
	if (name == NULL || !cp_lb_name_valid(name)) {
		rc = lb_json_fail(err, errlen, "metadata.name: not a DNS label");
		goto out;
	}
	snprintf(lb->ns, sizeof(lb->ns), "%s", ns && *ns ? ns : "default");
	snprintf(lb->name, sizeof(lb->name), "%s", name);
	ann = json_object_get(json_object_get(svc, "metadata"), "annotations");

	/* Families: what the API server assigned in spec.ipFamilies. */
	lb->families = 0;
	json_array_foreach(json_object_get(spec, "ipFamilies"), i, v) {
		const char *f = json_string_value(v);
		if (f && strcmp(f, "IPv4") == 0)
			lb->families |= LB_FAMILY_V4;
		else if (f && strcmp(f, "IPv6") == 0)
			lb->families |= LB_FAMILY_V6;
	}
	const char *policy = json_string_value(json_object_get(spec, "ipFamilyPolicy"));
	if (policy && strcmp(policy, "SingleStack") == 0 && lb->families == (LB_FAMILY_V4 | LB_FAMILY_V6)) {
		const char *first = json_string_value(json_array_get(json_object_get(spec, "ipFamilies"), 0));
		lb->families = first && strcmp(first, "IPv6") == 0 ? LB_FAMILY_V6 : LB_FAMILY_V4;
	}
	if (lb->families == 0)
		lb->families = LB_FAMILY_V4;

	/* Requested addresses: the annotation, or the deprecated field, not both. */
	const char *ips = json_string_value(json_object_get(ann, CP_ANN_IPS));
	const char *old = json_string_value(json_object_get(spec, "loadBalancerIP"));
	if (ips && *ips && old && *old) {
		rc = lb_json_fail(err, errlen, "both %s and spec.loadBalancerIP are set; use the annotation only",
			  CP_ANN_IPS);
		goto out;
	}
	if ((ips && strlen(ips) >= SPLIT_MAX) || (old && strlen(old) >= SPLIT_MAX)) {
		rc = lb_json_fail(err, errlen, "%s: longer than %d bytes", ips && *ips ? CP_ANN_IPS :
				  "spec.loadBalancerIP", SPLIT_MAX - 1);
		goto out;
	}
	json_t *req = ips && *ips ? split_commas(ips) : old && *old ? split_commas(old) : json_array();
	if (json_array_size(req) > 2) {
		json_decref(req);
		rc = lb_json_fail(err, errlen, "%s: at most one address per family", CP_ANN_IPS);
		goto out;
	}
	json_array_foreach(req, i, v) {
		struct lb_addr a;
		if (lb_addr_parse(json_string_value(v), &a) < 0) {
			rc = lb_json_fail(err, errlen, "%s: '%s' is not an IP address",
				  ips && *ips ? CP_ANN_IPS : "spec.loadBalancerIP", json_string_value(v));
			json_decref(req);
			goto out;
		}
		for (uint32_t k = 0; k < lb->n_req_ips; k++)
			if (lb->req_ips[k].family == a.family) {
				rc = lb_json_fail(err, errlen, "%s: two addresses of one family", CP_ANN_IPS);
				json_decref(req);
				goto out;
			}
		uint8_t fam = a.family == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6;
		if (!(lb->families & fam)) {
			rc = lb_json_fail(err, errlen, "%s: %s is of a family the Service does not have (spec.ipFamilies)",
				  CP_ANN_IPS, json_string_value(v));
			json_decref(req);
			goto out;
		}
		lb->req_ips[lb->n_req_ips++] = a;
	}
	json_decref(req);
	/* Never cut a value: a cut key is another key (and may split a UTF-8 character). */
	const char *pool = json_string_value(json_object_get(ann, CP_ANN_POOL));
	if (pool && strlen(pool) >= sizeof(lb->pool)) {
		rc = lb_json_fail(err, errlen, "%s: %zu bytes, at most %zu", CP_ANN_POOL, strlen(pool),
				  sizeof(lb->pool) - 1);
		goto out;
	}
	if (pool)
		memcpy(lb->pool, pool, strlen(pool) + 1);
	const char *share = json_string_value(json_object_get(ann, CP_ANN_SHARE));
	if (share && strlen(share) >= sizeof(lb->sharing_key)) {
		rc = lb_json_fail(err, errlen, "%s: %zu bytes, at most %zu", CP_ANN_SHARE, strlen(share),
				  sizeof(lb->sharing_key) - 1);
		goto out;
	}
	if (share)
		memcpy(lb->sharing_key, share, strlen(share) + 1);

	/* Ports. */
	const json_t *ports = json_object_get(spec, "ports");
	lb->ports = calloc(json_array_size(ports) ? json_array_size(ports) : 1, sizeof(*lb->ports));
	if (lb->ports == NULL) {
		rc = lb_json_fail(err, errlen, "out of memory");
		goto out;
	}
	json_array_foreach(ports, i, v) {
		struct cp_port *p = &lb->ports[lb->n_ports];
		const char *proto = json_string_value(json_object_get(v, "protocol"));
		const json_t *port = json_object_get(v, "port"), *tp = json_object_get(v, "targetPort");
		const char *pname = json_string_value(json_object_get(v, "name"));
		if (proto == NULL || strcmp(proto, "TCP") == 0)
			p->proto = LB_PROTO_TCP;
		else if (strcmp(proto, "UDP") == 0)
			p->proto = LB_PROTO_UDP;
		else {
			warn_add(warn, warnlen, "port %s/%lld: protocol %s is not supported (TCP, UDP)",
				 pname ? pname : "", (long long)json_integer_value(port), proto);
			continue;
		}
		if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
			continue;
		p->port = (uint16_t)json_integer_value(port);
		snprintf(p->name, sizeof(p->name), "%s", pname ? pname : "");
		if (json_is_integer(tp))
			p->target_port = (uint16_t)json_integer_value(tp);
		else if (json_is_string(tp))
			snprintf(p->target_name, sizeof(p->target_name), "%s", json_string_value(tp));
		else
			p->target_port = p->port;
		lb->n_ports++;
	}
	if (lb->n_ports == 0) {
		rc = lb_json_fail(err, errlen, "spec.ports: no TCP or UDP port");
		goto out;
	}
	if (lb->n_ports > CP_MAX_PORTS) {
		/* Kubernetes has no such limit, but a load balancer (and the state file) has */
		rc = lb_json_fail(err, errlen, "spec.ports: %u TCP and UDP ports, at most %d", lb->n_ports,
			  CP_MAX_PORTS);
		goto out;
	}

	/* Affinity, source ranges, traffic policy. */
	const char *aff = json_string_value(json_object_get(spec, "sessionAffinity"));
	if (aff && strcmp(aff, "ClientIP") == 0) {
		const json_t *t = json_object_get(
			json_object_get(json_object_get(spec, "sessionAffinityConfig"), "clientIP"),
			"timeoutSeconds");
		lb->affinity = LB_AFFINITY_CLIENTIP;
		if (json_is_integer(t) && json_integer_value(t) >= 1 &&
		    json_integer_value(t) <= LB_AFFINITY_TIMEOUT_MAX)
			lb->affinity_timeout = (uint32_t)json_integer_value(t);
	}
	json_t *ranges = json_incref(json_object_get(spec, "loadBalancerSourceRanges"));
	const char *rann = json_string_value(json_object_get(ann, CP_ANN_RANGES));
	if (json_array_size(ranges) == 0 && rann && strlen(rann) >= SPLIT_MAX) {
		json_decref(ranges);
		rc = lb_json_fail(err, errlen, "%s: longer than %d bytes", CP_ANN_RANGES, SPLIT_MAX - 1);
		goto out;
	}
	if (json_array_size(ranges) == 0 && rann && *rann) {
		json_decref(ranges);
		ranges = split_commas(rann);
	}
	if (json_array_size(ranges) > LB_MAX_SOURCE_RANGES) {
		json_decref(ranges);
		rc = lb_json_fail(err, errlen, "loadBalancerSourceRanges: at most %d", LB_MAX_SOURCE_RANGES);
		goto out;
	}
	if (json_array_size(ranges)) {
		lb->ranges = calloc(json_array_size(ranges), sizeof(*lb->ranges));
		json_array_foreach(ranges, i, v) {
			/* Kubernetes accepts host bits in these CIDRs; we mask them like it does. */
			if (!lb->ranges || !json_is_string(v) ||
			    lb_prefix_parse(json_string_value(v), &lb->ranges[lb->n_ranges], NULL, false) < 0) {
				json_decref(ranges);
				rc = lb_json_fail(err, errlen, "loadBalancerSourceRanges[%zu]: not a CIDR", i);
				goto out;
			}
			lb->n_ranges++;
		}
	}
	json_decref(ranges);
	const char *etp = json_string_value(json_object_get(spec, "externalTrafficPolicy"));
	lb->mode = etp && strcmp(etp, "Local") == 0 ? LB_MODE_DNAT : LB_MODE_FNAT;
	/*
	 * Direct server return: the Pods (or nodes) get the packet unchanged, so each
	 * must listen on the Service's port itself and own the VIP (docs/kubernetes.md).
	 * Anything else keeps the mode above, with a warning.
	 */
	const char *dsr = json_string_value(json_object_get(ann, CP_ANN_DSR));
	uint8_t dmode;
	if (dsr && *dsr) {
		bool same = true;
		for (uint32_t k = 0; k < lb->n_ports; k++)
			same = same && lb->ports[k].target_name[0] == '\0' &&
			       lb->ports[k].target_port == lb->ports[k].port;
		if (lb_mode_parse(dsr, &dmode) < 0 || !lb_mode_is_dsr(dmode))
			warn_add(warn, warnlen, "%s: '%s' is neither ipip nor gue, using %s", CP_ANN_DSR,
				 dsr, lb_mode_name(lb->mode));
		else if (!same)
			warn_add(warn, warnlen, "%s: needs targetPort equal to port on every port "
				 "(the backend gets the packet unchanged), using %s", CP_ANN_DSR,
				 lb_mode_name(lb->mode));
		else
			lb->mode = dmode;
	}
	/* A scheduler the dp does not know is not worth an address: Maglev, and say so. */
	const char *sched = json_string_value(json_object_get(ann, CP_ANN_SCHED));
	if (sched && *sched && lb_sched_parse(sched, &lb->sched) < 0)
		warn_add(warn, warnlen, "%s: '%s' is not a scheduler, using maglev", CP_ANN_SCHED, sched);

	rc = slices_to_backends(slices, lb->name, lb->ns, lb, warn, warnlen);
	if (rc < 0)
		lb_json_fail(err, errlen, "out of memory");
out:
	if (rc < 0)
		cp_lb_free(lb);
	return rc;
}

json_t *
cp_k8s_svc_slim(const json_t *obj, bool slice)
{
	const json_t *md = json_object_get(obj, "metadata"), *v;
	size_t i;

	if (!slice) {
		json_t *o = json_deep_copy(obj);
		json_t *m = json_object_get(o, "metadata");
		json_object_del(m, "managedFields");
		json_object_del(json_object_get(m, "annotations"),
				"kubectl.kubernetes.io/last-applied-configuration");
		return o;
	}
	json_t *m = json_object(), *o = json_pack("{s:o}", "metadata", m);
	static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion", NULL};
	for (const char *const *k = keep; *k; k++)
		if ((v = json_object_get(md, *k)) != NULL)
			json_object_set(m, *k, (json_t *)v);
	if ((v = json_object_get(json_object_get(md, "labels"), CP_SVC_NAME_LABEL)) != NULL)
		json_object_set_new(m, "labels", json_pack("{s:O}", CP_SVC_NAME_LABEL, v));
	if ((v = json_object_get(obj, "addressType")) != NULL)
		json_object_set(o, "addressType", (json_t *)v);
	if ((v = json_object_get(obj, "ports")) != NULL)
		json_object_set(o, "ports", (json_t *)v);
	json_t *eps = json_array();
	json_array_foreach(json_object_get(obj, "endpoints"), i, v) {
		json_t *e = json_object();
		const json_t *x;
		if ((x = json_object_get(v, "addresses")) != NULL)
			json_object_set(e, "addresses", (json_t *)x);
		if ((x = json_object_get(v, "conditions")) != NULL)
			json_object_set(e, "conditions", (json_t *)x);
		json_array_append_new(eps, e);
	}
	json_object_set_new(o, "endpoints", eps);
	return o;
}
