/*
 * ctl_ops.c - the control socket's request handlers and their table (see
 * include/lb_ctl_proto.h, docs/control-protocol.md); service.upsert is in
 * ctl_update.c, the socket and the line framing in ctl.c.
 *
 * Control thread only. A handler fills *res or returns an error with code and
 * message (rerr()); it never blocks: the control loop also answers ARP/NDP.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_cycles.h>

#include "conntrack.h"
#include "ctl_priv.h"
#include "dp.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "sync.h"
#include "lb_svc_json.h"
#include "neigh.h"
#include "service.h"
#include "stats.h"
#include "worker.h"

/* ---- handlers ---------------------------------------------------------- */

static int
get_svc_key(const json_t *req, struct lb_addr *vip, uint16_t *port, uint8_t *proto,
	    struct reply_err *e)
{
	json_t *v = json_object_get(req, LB_F_VIP), *p = json_object_get(req, LB_F_PORT);
	json_t *pr = json_object_get(req, LB_F_PROTOCOL);

	if (!json_is_string(v) || lb_addr_parse(json_string_value(v), vip) < 0)
		return rerr(e, LB_CODE_INVALID, "vip: must be an IPv4 or IPv6 address string");
	if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535)
		return rerr(e, LB_CODE_INVALID, "port: must be an integer 1..65535");
	*port = (uint16_t)json_integer_value(p);
	*proto = LB_PROTO_TCP;
	if (pr && (!json_is_string(pr) || lb_proto_parse(json_string_value(pr), proto) < 0))
		return rerr(e, LB_CODE_INVALID, "protocol: must be \"tcp\" or \"udp\"");
	return 0;
}

static int
op_hello(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	json_t *v = json_object_get(req, LB_F_VERSION), *ports = json_array();

	if (v && (!json_is_integer(v) || json_integer_value(v) != LB_CTL_PROTOCOL_VERSION)) {
		json_decref(ports);
		return rerr(e, LB_CODE_VERSION, "this dp speaks protocol version %d",
			    LB_CTL_PROTOCOL_VERSION);
	}
	for (unsigned pi = 0; pi < c->dp->n_ports; pi++)
		json_array_append_new(ports, json_string(c->dp->conf.ports[pi].name));
	*res = json_pack("{s:i, s:s, s:i, s:o, s:I, s:i, s:I}", LB_F_VERSION, LB_CTL_PROTOCOL_VERSION,
			 LB_F_DP_VERSION, EDGELB_VERSION, LB_F_WORKERS, c->dp->n_workers,
			 LB_F_PORTS, ports, LB_F_GENERATION, (json_int_t)c->generation,
			 LB_F_SERVICES, lb_svcs_count(c->dp->svcs), "uptime_ms",
			 (json_int_t)((rte_rdtsc() - c->dp->start_tsc) / (c->dp->tsc_hz / 1000)));
	if (*res != NULL && c->dp->sync != NULL)
		json_object_set_new(*res, LB_F_FLOW_SYNC, lb_sync_json(c->dp->sync));
	return 0;
}

static int
get_generation(const json_t *req, uint64_t *g, struct reply_err *e)
{
	json_t *v = json_object_get(req, LB_F_GENERATION);

	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return rerr(e, LB_CODE_INVALID, "generation: must be a positive integer");
	*g = (uint64_t)json_integer_value(v);
	return 0;
}

static int
op_sync_begin(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	uint64_t g;

	if (get_generation(req, &g, e) < 0)
		return -1;
	c->generation = g;
	*res = json_pack("{s:I}", LB_F_GENERATION, (json_int_t)g);
	return 0;
}

static int
op_sync_end(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	uint64_t g;
	uint32_t it = 0, removed = 0;
	const struct lb_svc *svc;

	if (get_generation(req, &g, e) < 0)
		return -1;
	if (g != c->generation)
		return rerr(e, LB_CODE_INVALID,
			    "generation %llu is not the one being synced (%llu); start a new sync",
			    (unsigned long long)g, (unsigned long long)c->generation);
	/* Collect first: deleting while iterating the directory would skip slots. */
	uint32_t cap = lb_svcs_capacity(c->dp->svcs), n = 0;
	struct lb_svc_spec *gone = calloc(lb_svcs_count(c->dp->svcs) + 1, sizeof(*gone));
	if (gone == NULL)
		return rerr(e, LB_CODE_INTERNAL, "out of memory");
	while ((svc = lb_svcs_next(c->dp->svcs, &it)) != NULL && it <= cap)
		if (c->svc_gen[svc->id] != g)
			gone[n++] = svc->spec;
	for (uint32_t i = 0; i < n; i++)
		if (lb_svcs_delete(c->dp->svcs, &gone[i].vip, gone[i].port, gone[i].proto) == 0)
			removed++;
	free(gone);
	*res = json_pack("{s:I, s:i, s:i}", LB_F_GENERATION, (json_int_t)g, LB_F_REMOVED, removed,
			 LB_F_SERVICES, lb_svcs_count(c->dp->svcs));
	return 0;
}

static int
op_service_delete(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	struct lb_addr vip;
	uint16_t port;
	uint8_t proto;
	char a[LB_ADDR_STRLEN];

	if (get_svc_key(req, &vip, &port, &proto, e) < 0)
		return -1;
	if (lb_svcs_delete(c->dp->svcs, &vip, port, proto) < 0)
		return rerr(e, LB_CODE_NOT_FOUND, "no service %s port %u/%s",
			    lb_addr_format(&vip, a, sizeof(a)), port, lb_proto_name(proto));
	*res = json_object();
	return 0;
}

static int
op_service_list(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	json_t *a = json_array();
	uint32_t it = 0;
	const struct lb_svc *svc;

	(void)req;
	(void)e;
	while ((svc = lb_svcs_next(c->dp->svcs, &it)) != NULL) {
		json_t *o = lb_svc_spec_to_json(&svc->spec);
		json_object_set_new(o, "id", json_integer(svc->id));
		json_object_set_new(o, LB_F_VERSION, json_integer(svc->version));
		char dg[24];
		snprintf(dg, sizeof(dg), "%016llx", (unsigned long long)svc->digest);
		json_object_set_new(o, "table_digest", json_string(dg));
		json_object_set_new(o, LB_F_GENERATION, json_integer((json_int_t)c->svc_gen[svc->id]));
		json_array_append_new(a, o);
	}
	*res = json_pack("{s:o, s:I}", LB_F_SERVICES, a, LB_F_GENERATION, (json_int_t)c->generation);
	return 0;
}

static int
op_stats_get(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	(void)req;
	(void)e;
	*res = lb_stats_json(c->dp);
	return 0;
}

struct conns_walk {
	struct lb_ctl *c;
	json_t *out;
	unsigned worker;
	int64_t svc_id;     /* -1: every service */
	size_t limit;
	bool truncated;
};

static int
conn_to_json(const struct lb_conn *cp, void *arg)
{
	struct conns_walk *cw = arg;
	struct lb_conn k = *cp; /* the worker may change it while we look */
	static const char *const states[LB_CT_NSTATES] = {"syn", "established", "closing", "closed",
							   "udp", "udp_stream", "unconfirmed"};
	char a[LB_ADDR_STRLEN];
	struct lb_addr x;

	if (k.state >= LB_CT_NSTATES || (cw->svc_id >= 0 && k.svc_id != (uint32_t)cw->svc_id))
		return 0;
	if (json_array_size(cw->out) >= cw->limit) {
		cw->truncated = true;
		return 1;
	}
	const struct lb_svc *svc = lb_svcs_at(cw->c->dp->svcs, k.svc_id);
	json_t *o = json_object();
	json_object_set_new(o, "worker", json_integer(cw->worker));
	json_object_set_new(o, "protocol", json_string(lb_proto_name(k.proto)));
	lb_addr_set(&x, k.family, k.client);
	json_object_set_new(o, "client", json_string(lb_addr_format(&x, a, sizeof(a))));
	json_object_set_new(o, "client_port", json_integer(ntohs(k.client_port)));
	if (svc) {
		json_object_set_new(o, "service", json_string(svc->spec.name));
		json_object_set_new(o, "vip", json_string(lb_addr_format(&svc->spec.vip, a, sizeof(a))));
		json_object_set_new(o, "vip_port", json_integer(svc->spec.port));
	}
	lb_addr_set(&x, k.family, k.backend);
	json_object_set_new(o, "backend", json_string(lb_addr_format(&x, a, sizeof(a))));
	json_object_set_new(o, "backend_port", json_integer(ntohs(k.backend_port)));
	if (k.mode == LB_MODE_FNAT && k.local_idx < cw->c->dp->n_local) {
		json_object_set_new(o, "local", json_string(lb_addr_format(
			&cw->c->dp->local[k.local_idx].addr, a, sizeof(a))));
		json_object_set_new(o, "local_port", json_integer(ntohs(k.local_port)));
	}
	json_object_set_new(o, "mode", json_string(lb_mode_name(k.mode)));
	json_object_set_new(o, "state", json_string(states[k.state]));
	uint32_t now = lb_dp_ms(cw->c->dp, rte_rdtsc());
	json_object_set_new(o, "expires_in_ms",
			    json_integer(lb_clock_before(now, k.expire) ? (json_int_t)(k.expire - now) : 0));
	json_array_append_new(cw->out, o);
	return 0;
}

static int
op_conns_list(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	struct conns_walk cw = {.c = c, .svc_id = -1, .limit = LB_CTL_CONNS_LIMIT_DEFAULT};
	json_t *lim = json_object_get(req, LB_F_LIMIT), *svc = json_object_get(req, LB_F_SERVICE);
	json_t *cur = json_object_get(req, LB_F_CURSOR);
	uint64_t from = 0; /* worker << 32 | slot: opaque to clients */

	if (cur) {
		if (!json_is_integer(cur) || json_integer_value(cur) < 0 ||
		    (uint64_t)json_integer_value(cur) >> 32 >= c->dp->n_workers)
			return rerr(e, LB_CODE_INVALID, "cursor: must be a next_cursor of a reply");
		from = (uint64_t)json_integer_value(cur);
	}

	if (lim) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		    json_integer_value(lim) > LB_CTL_CONNS_LIMIT_MAX)
			return rerr(e, LB_CODE_INVALID, "limit: must be an integer 1..%d",
				    LB_CTL_CONNS_LIMIT_MAX);
		cw.limit = (size_t)json_integer_value(lim);
	}
	if (svc) {
		struct lb_addr vip;
		uint16_t port;
		uint8_t proto;
		if (!json_is_object(svc))
			return rerr(e, LB_CODE_INVALID, "service: must be {\"vip\", \"port\", \"protocol\"}");
		if (get_svc_key(svc, &vip, &port, &proto, e) < 0)
			return -1;
		const struct lb_svc *s = lb_svcs_find(c->dp->svcs, &vip, port, proto);
		if (s == NULL)
			return rerr(e, LB_CODE_NOT_FOUND, "service: no such service");
		cw.svc_id = s->id;
	}
	/*
	 * One page per request: a large table is listed over several requests
	 * (next_cursor), so no single one holds the control thread, whose loop also
	 * answers ARP/NDP, for long (issue 14, finding 10).
	 */
	cw.out = json_array();
	uint64_t next = 0;
	for (unsigned w = (unsigned)(from >> 32); w < c->dp->n_workers && !cw.truncated; w++) {
		struct lb_ct *ct = lb_worker_ct(c->dp->workers[w]);
		uint32_t start = w == (unsigned)(from >> 32) ? (uint32_t)from : 0;
		cw.worker = w;
		uint32_t at = lb_ct_foreach_from(ct, start, conn_to_json, &cw);
		if (cw.truncated)
			next = (uint64_t)w << 32 | at;
	}
	*res = json_pack("{s:o, s:b}", LB_F_CONNECTIONS, cw.out, LB_F_TRUNCATED, cw.truncated);
	if (cw.truncated)
		json_object_set_new(*res, LB_F_NEXT_CURSOR, json_integer((json_int_t)next));
	return 0;
}

static int
op_neigh_list(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	(void)req;
	(void)e;
	*res = json_pack("{s:o}", LB_F_NEIGHBOURS, lb_neigh_json(c->dp->neigh));
	return 0;
}

static int
op_flow_sync_peers(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	char why[256];

	if (c->dp->sync == NULL)
		return rerr(e, LB_CODE_INVALID, "flow sync is not enabled (sync.enabled)");
	if (lb_sync_set_peers(c->dp->sync, json_object_get(req, LB_F_PEERS), why, sizeof(why)) < 0)
		return rerr(e, LB_CODE_INVALID, "%s", why);
	*res = json_pack("{s:o}", LB_F_FLOW_SYNC, lb_sync_json(c->dp->sync));
	return 0;
}

static const struct {
	const char *name;
	ctl_op_fn fn;
} ops[] = {
	{LB_OP_HELLO, op_hello},
	{LB_OP_SYNC_BEGIN, op_sync_begin},
	{LB_OP_SYNC_END, op_sync_end},
	{LB_OP_SERVICE_UPSERT, op_service_upsert},
	{LB_OP_SERVICE_DELETE, op_service_delete},
	{LB_OP_SERVICE_LIST, op_service_list},
	{LB_OP_STATS_GET, op_stats_get},
	{LB_OP_CONNS_LIST, op_conns_list},
	{LB_OP_NEIGH_LIST, op_neigh_list},
	{LB_OP_FLOW_SYNC_PEERS, op_flow_sync_peers},
};

ctl_op_fn
ctl_op_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, name) == 0)
			return ops[i].fn;
	return NULL;
}
