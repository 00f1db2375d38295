/*
 * lb.c - the control plane's load balancer object (see lb.h): its life cycle, its
 * JSON answer and state-file form, the IPAM port set, and the dp services it
 * becomes. Decoding (REST bodies and the state file) is in lb_decode.c.
 *
 * Called by the API (cp/api), the store (cp/store) and the Kubernetes controller
 * (cp/kube), under their own locks; nothing here keeps state between calls and
 * nothing does I/O. Pure C over jansson. Names are written in the contract's one
 * spelling (include/lb_model.h), except a port's protocol, which the REST API
 * answers in Kubernetes' upper case ("TCP", "UDP").
 *
 * The same JSON serves three readers:
 * - an API body: "ips" is the address request; "status", "alloc_pool",
 *   "requested_ips" and backends' "health" are output fields and ignored, so a
 *   client may PUT back what it GETs. One exception keeps a pending request alive
 *   across such a PUT: when "ips" is absent or empty, "requested_ips" (what the
 *   GET reported as asked for) is taken as the request.
 * - an API answer: "ips" is what is allocated, "requested_ips" what was asked
 *   for, "status" active or pending with its reason.
 * - the state file: as the answer, read back with "ips" as the allocation,
 *   "requested_ips" as the request, "alloc_pool" and "status.message".
 *
 * Kubernetes extensions (the controller fills them; the API accepts them too):
 * a port's "target_port" may be a port name (cp_port.target_name), resolved
 * through backends that carry their own port; a backend's "port_name" ties it to
 * the lb port of that name (an EndpointSlice port is named after its Service port).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "lb_error.h"

/* Health-check types: the one table of the REST API, the state file and edgelb-cp.conf. */
const struct lb_name cp_hc_type_names[] = {
	{ "none", CP_HC_NONE },
	{ "tcp", CP_HC_TCP },
	{ "http", CP_HC_HTTP },
	{ NULL, 0 },
};

/* Used when the caller gives no health check defaults (and by the state file). */
static const struct cp_health_check builtin_hc = {
	.type = CP_HC_NONE,
	.path = "/",
	.port = 0,
	.interval_ms = 5000,
	.timeout_ms = 2000,
	.rise = 2,
	.fall = 3,
};

/* ------------------------------------------------------------------ basics */

void
cp_lb_init(struct cp_lb *lb, const struct cp_health_check *hc_defaults)
{
	memset(lb, 0, sizeof(*lb));
	snprintf(lb->ns, sizeof(lb->ns), "default");
	lb->families = LB_FAMILY_V4;
	lb->affinity = LB_AFFINITY_NONE;
	lb->affinity_timeout = LB_AFFINITY_TIMEOUT_DEFAULT;
	lb->mode = LB_MODE_FNAT;
	lb->sched = LB_SCHED_MAGLEV;
	lb->hc = hc_defaults ? *hc_defaults : builtin_hc;
	lb->hc.path[sizeof(lb->hc.path) - 1] = '\0';
	if (lb->hc.path[0] != '/')
		snprintf(lb->hc.path, sizeof(lb->hc.path), "/");
}

void
cp_lb_free(struct cp_lb *lb)
{
	if (lb == NULL)
		return;
	free(lb->ports);
	free(lb->backends);
	free(lb->ranges);
	lb->ports = NULL;
	lb->backends = NULL;
	lb->ranges = NULL;
	lb->n_ports = lb->n_backends = lb->n_ranges = 0;
}

static void *
dup_array(const void *src, size_t n, size_t size, int *rc)
{
	void *p;

	if (n == 0 || src == NULL)
		return NULL;
	p = malloc(n * size);
	if (p == NULL)
		*rc = LB_ENOMEM;
	else
		memcpy(p, src, n * size);
	return p;
}

int
cp_lb_copy(struct cp_lb *dst, const struct cp_lb *src)
{
	int rc = 0;

	*dst = *src;
	dst->ports = dup_array(src->ports, src->n_ports, sizeof(*src->ports), &rc);
	dst->backends = dup_array(src->backends, src->n_backends, sizeof(*src->backends), &rc);
	dst->ranges = dup_array(src->ranges, src->n_ranges, sizeof(*src->ranges), &rc);
	if (rc < 0) {
		cp_lb_free(dst);
		return rc;
	}
	return 0;
}

const char *
cp_lb_key(const struct cp_lb *lb, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", lb->ns, lb->name);
	return buf;
}

bool
cp_lb_name_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (c != '-' || i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* --------------------------------------------------------------- encoding */

static json_t *
ips_json(const struct lb_addr *ips, uint32_t n)
{
	char buf[LB_ADDR_STRLEN];
	json_t *a = json_array();
	int rc = a == NULL;

	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc |= json_array_append_new(a, json_string(lb_addr_format(&ips[i], buf, sizeof(buf))));
	if (rc != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/*
 * A string the control plane may have cut short (status messages are snprintf'd
 * into 256 bytes, possibly inside a UTF-8 sequence): jansson refuses invalid
 * UTF-8, so fall back to a copy with every non-ASCII byte as '?' rather than
 * fail the whole answer.
 */
static json_t *
jstr(const char *s)
{
	json_t *v = json_string(s);
	char *c;

	if (v != NULL || (c = strdup(s)) == NULL)
		return v;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(c);
	free(c);
	return v;
}

static const char *
hc_type_name(uint8_t t)
{
	return lb_name_of(cp_hc_type_names, t, "none");
}

static const char *
health_name(uint8_t h)
{
	return h == 1 ? "up" : h == 2 ? "down" : "unknown";
}

static json_t *
port_json(const struct cp_port *p)
{
	json_t *o = json_pack("{s:i, s:s}", "port", p->port, "protocol",
			      p->proto == LB_PROTO_UDP ? "UDP" : "TCP");
	int rc = o == NULL;

	if (rc == 0 && p->name[0] != '\0')
		rc |= json_object_set_new(o, "name", json_string(p->name));
	if (rc == 0)
		rc |= json_object_set_new(o, "target_port",
					  p->target_name[0] != '\0' && p->target_port == 0 ?
					  json_string(p->target_name) : json_integer(p->target_port));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
backend_json(const struct cp_backend *b, const uint8_t *health)
{
	char buf[LB_ADDR_STRLEN];
	json_t *o = json_pack("{s:s, s:i, s:i, s:s}", "address",
			      lb_addr_format(&b->addr, buf, sizeof(buf)), "port", b->port, "weight",
			      b->weight, "state", lb_backend_state_name(b->state));
	int rc = o == NULL;

	if (rc == 0 && b->port_name[0] != '\0')
		rc |= json_object_set_new(o, "port_name", json_string(b->port_name));
	if (rc == 0 && health != NULL)
		rc |= json_object_set_new(o, "health", json_string(health_name(*health)));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
hc_json(const struct cp_health_check *hc)
{
	json_t *o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I}", "type", hc_type_name(hc->type),
			      "port", hc->port, "interval_ms", (json_int_t)hc->interval_ms,
			      "timeout_ms", (json_int_t)hc->timeout_ms, "rise", (json_int_t)hc->rise,
			      "fall", (json_int_t)hc->fall);

	/* "path" only with http: a body that names it for another type is refused */
	if (o != NULL && hc->type == CP_HC_HTTP &&
	    json_object_set_new(o, "path", json_string(hc->path)) != 0) {
		json_decref(o);
		return NULL;
	}
	/* Kubernetes node backends only (never in a request): the body check of kube-proxy's answer */
	if (o != NULL && hc->type == CP_HC_HTTP && hc->expect == CP_HC_EXPECT_LOCAL_ENDPOINTS &&
	    json_object_set_new(o, "expect", json_string("localEndpoints")) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
cp_lb_to_json(const struct cp_lb *lb, const uint8_t *health)
{
	char buf[LB_ADDR_STRLEN + 8];
	json_t *o = json_object(), *fam = json_array(), *ports = json_array();
	json_t *bs = json_array(), *rs = json_array();
	int rc = 0;

	if (o == NULL || fam == NULL || ports == NULL || bs == NULL || rs == NULL) {
		json_decref(o);
		json_decref(fam);
		json_decref(ports);
		json_decref(bs);
		json_decref(rs);
		return NULL;
	}
	/*
	 * Every set/append is checked (svc_json.c): a lost field would read back as its
	 * default. The *_new calls take the value's reference even when they fail.
	 */
	rc |= json_object_set_new(o, "name", json_string(lb->name));
	rc |= json_object_set_new(o, "namespace", json_string(lb->ns));
	rc |= json_object_set_new(o, "pool", jstr(lb->pool));
	if (lb->families & LB_FAMILY_V4)
		rc |= json_array_append_new(fam, json_string("IPv4"));
	if (lb->families & LB_FAMILY_V6)
		rc |= json_array_append_new(fam, json_string("IPv6"));
	rc |= json_object_set_new(o, "ip_families", fam);
	rc |= json_object_set_new(o, "ips", ips_json(lb->ips, lb->n_ips));
	rc |= json_object_set_new(o, "requested_ips", ips_json(lb->req_ips, lb->n_req_ips));
	rc |= json_object_set_new(o, "sharing_key", jstr(lb->sharing_key));
	for (uint32_t i = 0; i < lb->n_ports; i++)
		rc |= json_array_append_new(ports, port_json(&lb->ports[i]));
	rc |= json_object_set_new(o, "ports", ports);
	for (uint32_t i = 0; i < lb->n_backends; i++)
		rc |= json_array_append_new(bs, backend_json(&lb->backends[i],
							     health ? &health[i] : NULL));
	rc |= json_object_set_new(o, "backends", bs);
	rc |= json_object_set_new(o, "session_affinity",
				  json_pack("{s:s, s:I}", "type", lb_affinity_name(lb->affinity),
					    "timeout_seconds", (json_int_t)lb->affinity_timeout));
	for (uint32_t i = 0; i < lb->n_ranges; i++)
		rc |= json_array_append_new(rs, json_string(lb_prefix_format(&lb->ranges[i], buf,
									      sizeof(buf))));
	rc |= json_object_set_new(o, "source_ranges", rs);
	rc |= json_object_set_new(o, "mode", json_string(lb_mode_name(lb->mode)));
	rc |= json_object_set_new(o, "scheduler", json_string(lb_sched_name(lb->sched)));
	rc |= json_object_set_new(o, "health_check", hc_json(&lb->hc));
	rc |= json_object_set_new(o, "alloc_pool", jstr(lb->alloc_pool));
	if (lb->uid[0])
		rc |= json_object_set_new(o, "uid", json_string(lb->uid));
	rc |= json_object_set_new(o, "status",
				  json_pack("{s:s, s:o}", "state",
					    lb->status[0] == '\0' ? "active" : "pending", "message",
					    jstr(lb->status)));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------- consumers */

int
cp_lb_ipam_ports(const struct cp_lb *lb, struct lb_ipam_port **out, uint32_t *n)
{
	*out = NULL;
	*n = 0;
	if (lb->n_ports == 0)
		return 0;
	*out = calloc(lb->n_ports, sizeof(**out));
	if (*out == NULL)
		return LB_ENOMEM;
	/* decoding refused duplicate (protocol, port), but a built lb may carry them */
	for (uint32_t i = 0; i < lb->n_ports; i++) {
		bool dup = false;
		for (uint32_t k = 0; k < *n && !dup; k++)
			dup = (*out)[k].proto == lb->ports[i].proto &&
			      (*out)[k].port == lb->ports[i].port;
		if (!dup) {
			(*out)[*n].proto = lb->ports[i].proto;
			(*out)[*n].port = lb->ports[i].port;
			*n += 1;
		}
	}
	return 0;
}

/*
 * "ns/name:port". The longest is 63+1+63+1+63 characters, more than a dp name
 * holds: such a name keeps its first characters and ends in "~" and a hash of the
 * whole, so it stays stable and distinct (the dp keys services by VIP, port and
 * protocol; the name is for people and logs).
 */
static void
spec_name(const struct cp_lb *lb, const struct cp_port *p, char *out)
{
	char full[3 * CP_NAME_MAX + 8];
	uint32_t h = 2166136261u;
	int n;

	if (p->name[0] != '\0')
		n = snprintf(full, sizeof(full), "%s/%s:%s", lb->ns, lb->name, p->name);
	else
		n = snprintf(full, sizeof(full), "%s/%s:%u", lb->ns, lb->name, p->port);
	if (n >= 0 && n < LB_NAME_MAX) {
		memcpy(out, full, (size_t)n + 1);
		return;
	}
	for (const char *c = full; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(out, LB_NAME_MAX, "%.*s~%08x", LB_NAME_MAX - 1 - 9, full, h);
}

struct cand {
	struct lb_backend_spec b;
	uint32_t idx; /* in lb->backends: of two that resolve alike, the first wins */
};

static int
by_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = lb_addr_cmp(&x->b.addr, &y->b.addr);

	if (c == 0)
		c = (int)x->b.port - (int)y->b.port;
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/*
 * Fill s->backends for (VIP family, port p), sorted by (address, port) as the dp
 * keeps them. Backends of the other family, or whose port stays 0 (a named
 * target port no backend resolved), are left out; two that resolve to one
 * (address, port), e.g. port 0 and an explicit port equal to target_port, become
 * one, the first listed.
 */
static int
spec_backends(const struct cp_lb *lb, const uint8_t *health, const struct cp_port *p,
	      struct lb_svc_spec *s)
{
	struct cand *c;
	uint32_t n = 0;

	if (lb->n_backends == 0)
		return 0;
	c = malloc(lb->n_backends * sizeof(*c));
	s->backends = calloc(lb->n_backends, sizeof(*s->backends));
	if (c == NULL || s->backends == NULL) {
		free(c);
		return LB_ENOMEM;
	}
	for (uint32_t i = 0; i < lb->n_backends; i++) {
		const struct cp_backend *b = &lb->backends[i];
		uint16_t port = b->port ? b->port : p->target_port;

		if (b->addr.family != s->vip.family || port == 0)
			continue;
		if (b->port_name[0] != '\0' && strcmp(b->port_name, p->name) != 0)
			continue;
		c[n].idx = i;
		c[n].b.addr = b->addr;
		c[n].b.port = port;
		c[n].b.weight = b->weight;
		c[n].b.state = health != NULL && health[i] == 2 ? LB_BACKEND_DOWN : b->state;
		if (c[n].b.state > LB_BACKEND_DOWN)
			c[n].b.state = LB_BACKEND_DOWN;
		n++;
	}
	qsort(c, n, sizeof(*c), by_cand);
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0 && c[i].b.port == c[i - 1].b.port && lb_addr_eq(&c[i].b.addr, &c[i - 1].b.addr))
			continue;
		s->backends[s->n_backends++] = c[i].b;
	}
	free(c);
	return 0;
}

int
cp_lb_dp_specs(const struct cp_lb *lb, const uint8_t *health, struct lb_svc_spec **out,
	       uint32_t *n)
{
	struct lb_svc_spec *v;
	uint32_t cnt = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (lb->n_ips == 0 || lb->n_ports == 0)
		return 0;
	v = calloc((size_t)lb->n_ips * lb->n_ports, sizeof(*v));
	if (v == NULL)
		return LB_ENOMEM;
	for (uint32_t a = 0; a < lb->n_ips && rc == 0; a++) {
		for (uint32_t i = 0; i < lb->n_ports && rc == 0; i++) {
			const struct cp_port *p = &lb->ports[i];
			struct lb_svc_spec *s = &v[cnt++];

			lb_svc_spec_init(s);
			spec_name(lb, p, s->name);
			s->vip = lb->ips[a];
			s->port = p->port;
			s->proto = p->proto;
			s->mode = lb->mode;
			s->sched = lb->sched;
			s->maglev_m = LB_MAGLEV_M_DEFAULT;
			s->affinity = lb->affinity;
			s->affinity_timeout = lb->affinity_timeout;
			/* a built lb (Kubernetes, affinity None) may leave it 0 */
			if (s->affinity_timeout < 1 || s->affinity_timeout > LB_AFFINITY_TIMEOUT_MAX)
				s->affinity_timeout = LB_AFFINITY_TIMEOUT_DEFAULT;
			if (lb->n_ranges > 0) {
				s->source_ranges = malloc(lb->n_ranges * sizeof(*s->source_ranges));
				if (s->source_ranges == NULL) {
					rc = LB_ENOMEM;
					break;
				}
				memcpy(s->source_ranges, lb->ranges, lb->n_ranges * sizeof(*lb->ranges));
				s->n_source_ranges = lb->n_ranges;
			}
			rc = spec_backends(lb, health, p, s);
		}
	}
	if (rc < 0) {
		for (uint32_t i = 0; i < cnt; i++)
			lb_svc_spec_free(&v[i]);
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}
