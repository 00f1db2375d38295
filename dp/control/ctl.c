/*
 * ctl.c - the dp control socket server (see ctl.h, include/lb_ctl_proto.h).
 *
 * Control thread only. One epoll set holds the listening socket and up to
 * LB_CTL_MAX_CLIENTS clients, all non-blocking. Each client has an input buffer
 * that collects one line at a time and an output buffer drained as the socket
 * accepts it, so a slow or vanished reader never blocks the loop. Every request
 * gets exactly one reply line; an over-long line gets an error reply and the
 * connection is closed (we cannot tell where the next message would begin).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "conntrack.h"
#include "ctl.h"
#include "dp.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "neigh.h"
#include "service.h"
#include "stats.h"
#include "sync.h"
#include "lb_svc_json.h"
#include "worker.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "ctl: " fmt "\n", ##__VA_ARGS__)

#define READ_CHUNK 65536
#define MAX_OUT (64u << 20)       /* a client that stops reading is dropped past this */
#define EVENTS_PER_POLL 32
#define WAIT_VISIBLE_MAX_MS 1000  /* service.upsert "wait": give up after this */

struct client {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing;      /* close once out is drained */
	bool want_out;     /* EPOLLOUT registered */
};

struct lb_ctl {
	struct lb_dp *dp;
	int lfd, epfd;
	struct client *cl[LB_CTL_MAX_CLIENTS];
	uint64_t generation;   /* of the latest sync.begin */
	uint64_t *svc_gen;     /* per service id: generation of its last upsert */
	uint64_t rx_tsc;       /* when the line being handled was read */
	char path[LB_PATH_MAX];
};

/* A handler fills *result, or returns an error with code and message set. */
struct reply_err {
	const char *code;
	char msg[512];
};

static int
rerr(struct reply_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- client buffers ---------------------------------------------------- */

static void
client_close(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	if (k == NULL)
		return;
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	free(k->in);
	free(k->out);
	free(k);
	c->cl[slot] = NULL;
}

static void
set_out_interest(struct lb_ctl *c, int slot, bool want)
{
	struct client *k = c->cl[slot];
	/* A closing client is not read any more, only written to. */
	struct epoll_event ev = {.events = (k->closing ? 0 : EPOLLIN) | (want ? EPOLLOUT : 0),
				 .data.u32 = (uint32_t)slot + 1};

	if (k->want_out == want && !k->closing)
		return;
	k->want_out = want;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Write what the socket takes. Returns -1 when the client is gone. */
static int
client_flush(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		k->out_off += (size_t)n;
	}
	if (k->out_off == k->out_len) {
		k->out_off = k->out_len = 0;
		set_out_interest(c, slot, false);
		return k->closing ? -1 : 0;
	}
	set_out_interest(c, slot, true);
	return 0;
}

static int
client_queue(struct client *k, const char *s, size_t n)
{
	if (k->out_len + n + 1 > MAX_OUT)
		return LB_ETOOBIG;
	if (k->out_len + n + 1 > k->out_cap) {
		size_t cap = k->out_cap ? k->out_cap : 4096;
		while (cap < k->out_len + n + 1)
			cap *= 2;
		char *o = realloc(k->out, cap);
		if (o == NULL)
			return LB_ENOMEM;
		k->out = o;
		k->out_cap = cap;
	}
	memcpy(k->out + k->out_len, s, n);
	k->out_len += n;
	k->out[k->out_len++] = '\n';
	return 0;
}

static void
send_reply(struct lb_ctl *c, int slot, json_t *id, json_t *result, const struct reply_err *e)
{
	json_t *r = json_object();

	json_object_set(r, LB_F_ID, id ? id : json_null());
	json_object_set_new(r, LB_F_OK, json_boolean(e == NULL));
	if (e == NULL) {
		json_object_set_new(r, LB_F_RESULT, result ? result : json_object());
	} else {
		json_object_set_new(r, LB_F_ERROR, json_string(e->msg));
		json_object_set_new(r, LB_F_CODE, json_string(e->code));
		json_decref(result);
	}
	char *s = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	if (s == NULL || client_queue(c->cl[slot], s, strlen(s)) < 0)
		c->cl[slot]->closing = true; /* cannot answer: drop the client, not the dp */
	free(s);
}

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
op_service_upsert(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	struct lb_svc_spec spec;
	char why[512];
	json_t *wait = json_object_get(req, LB_F_WAIT);

	if (wait && !json_is_boolean(wait))
		return rerr(e, LB_CODE_INVALID, "wait: must be true or false");
	if (!json_is_object(json_object_get(req, LB_F_SERVICE)))
		return rerr(e, LB_CODE_INVALID, "service: missing or not an object");
	if (lb_svc_spec_from_json(json_object_get(req, LB_F_SERVICE), &spec, why, sizeof(why)) < 0)
		return rerr(e, LB_CODE_INVALID, "service.%s", why);
	int id = lb_svcs_upsert(c->dp->svcs, &spec, why, sizeof(why));
	lb_svc_spec_free(&spec);
	if (id < 0)
		return rerr(e, id == LB_EFULL ? LB_CODE_FULL : LB_CODE_INVALID, "%s", why);
	c->svc_gen[id] = c->generation;
	const struct lb_svc *svc = lb_svcs_at(c->dp->svcs, (uint32_t)id);
	*res = json_pack("{s:i, s:i}", "id", id, LB_F_VERSION, svc ? (int)svc->version : 0);
	if (json_is_true(wait)) {
		/* Every worker passes a quiescent state after the store: all see the new object. */
		uint64_t token = rte_rcu_qsbr_start(c->dp->qsbr);
		uint64_t limit = c->rx_tsc + c->dp->tsc_hz / 1000 * WAIT_VISIBLE_MAX_MS;
		int done;
		while ((done = rte_rcu_qsbr_check(c->dp->qsbr, token, false)) != 1 &&
		       rte_rdtsc() < limit)
			rte_pause();
		uint64_t us = (rte_rdtsc() - c->rx_tsc) * 1000000 / c->dp->tsc_hz;
		json_object_set_new(*res, LB_F_VISIBLE_US, done == 1 ? json_integer((json_int_t)us)
								     : json_null());
	}
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
	if (c->dp->sync == NULL)
		return rerr(e, LB_CODE_INVALID, "flow sync is not enabled (sync.enabled)");
	char why[256];
	if (lb_sync_set_peers(c->dp->sync, json_object_get(req, LB_F_PEERS), why, sizeof(why)) < 0)
		return rerr(e, LB_CODE_INVALID, "%s", why);
	*res = json_pack("{s:o}", LB_F_FLOW_SYNC, lb_sync_json(c->dp->sync));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e);
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

static void
handle_line(struct lb_ctl *c, int slot, const char *line, size_t len)
{
	struct reply_err e = {0};
	json_error_t je;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *res = NULL, *id = NULL;
	int rc = -1;

	if (req == NULL || !json_is_object(req)) {
		rerr(&e, LB_CODE_BAD_JSON, req ? "request must be a JSON object"
					       : "malformed JSON at column %d: %s", je.column, je.text);
		goto reply;
	}
	id = json_object_get(req, LB_F_ID);
	json_t *op = json_object_get(req, LB_F_OP);
	if (!json_is_string(op)) {
		rerr(&e, LB_CODE_INVALID, "op: missing or not a string");
		goto reply;
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, json_string_value(op)) == 0) {
			rc = ops[i].fn(c, req, &res, &e);
			goto reply;
		}
	rerr(&e, LB_CODE_UNKNOWN_OP, "unknown op '%s'", json_string_value(op));
reply:
	send_reply(c, slot, id, rc == 0 ? res : NULL, rc == 0 ? NULL : &e);
	json_decref(req);
}

/* ---- I/O --------------------------------------------------------------- */

static void
client_read(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	for (;;) {
		if (k->in_cap - k->in_len < READ_CHUNK) {
			size_t cap = k->in_cap ? k->in_cap * 2 : 2 * READ_CHUNK;
			char *in = realloc(k->in, cap);
			if (in == NULL) {
				client_close(c, slot);
				return;
			}
			k->in = in;
			k->in_cap = cap;
		}
		ssize_t n = recv(k->fd, k->in + k->in_len, k->in_cap - k->in_len, 0);
		if (n == 0) {
			/*
			 * Peer finished sending (it may still read our replies): an
			 * unterminated last line is discarded, pending replies still go.
			 */
			k->closing = true;
			k->in_len = 0;
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				client_close(c, slot);
				return;
			}
			break;
		}
		c->rx_tsc = rte_rdtsc();
		size_t scanned = k->in_len;
		k->in_len += (size_t)n;
		/* Handle every complete line in the buffer. */
		size_t start = 0;
		for (size_t i = scanned; i < k->in_len && !k->closing; i++) {
			if (k->in[i] != '\n')
				continue;
			if (i - start > LB_CTL_MAX_LINE) {
				/* Its newline came in the same read as its excess: still too long. */
				struct reply_err e;
				rerr(&e, LB_CODE_TOO_LONG, "line longer than %u bytes; closing",
				     LB_CTL_MAX_LINE);
				send_reply(c, slot, NULL, NULL, &e);
				k->closing = true;
			} else if (i > start) {
				handle_line(c, slot, k->in + start, i - start);
			}
			start = i + 1;
		}
		if (k->closing) {
			k->in_len = 0;
			break;
		}
		memmove(k->in, k->in + start, k->in_len - start);
		k->in_len -= start;
		/* Answer what was asked so far; a client that keeps sending waits for nothing. */
		if (start > 0 && client_flush(c, slot) < 0) {
			client_close(c, slot);
			return;
		}
		if (k->in_len > LB_CTL_MAX_LINE) {
			struct reply_err e;
			rerr(&e, LB_CODE_TOO_LONG, "line longer than %u bytes; closing", LB_CTL_MAX_LINE);
			send_reply(c, slot, NULL, NULL, &e);
			k->closing = true;
			k->in_len = 0;
			break;
		}
		if (k->closing)
			break;
		/* Shrink a buffer an earlier big message grew. */
		if (k->in_cap > 4 * READ_CHUNK && k->in_len < READ_CHUNK) {
			char *in = realloc(k->in, 2 * READ_CHUNK);
			if (in) {
				k->in = in;
				k->in_cap = 2 * READ_CHUNK;
			}
		}
	}
	if (client_flush(c, slot) < 0)
		client_close(c, slot);
}

static void
accept_clients(struct lb_ctl *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int slot = -1;
		for (int i = 0; i < LB_CTL_MAX_CLIENTS; i++)
			if (c->cl[i] == NULL) {
				slot = i;
				break;
			}
		struct client *k = slot >= 0 ? calloc(1, sizeof(*k)) : NULL;
		if (k == NULL) {
			static const char busy[] = "{\"id\":null,\"ok\":false,\"error\":\"too many control "
						   "clients\",\"code\":\"full\"}\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				LOG(DEBUG, "refused client did not take the reply");
			close(fd);
			continue;
		}
		k->fd = fd;
		c->cl[slot] = k;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)slot + 1};
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			client_close(c, slot);
	}
}

void
lb_ctl_poll(struct lb_ctl *c, int timeout_ms)
{
	struct epoll_event ev[EVENTS_PER_POLL];
	int n = epoll_wait(c->epfd, ev, EVENTS_PER_POLL, timeout_ms);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == 0) {
			accept_clients(c);
			continue;
		}
		int slot = (int)ev[i].data.u32 - 1;
		if (c->cl[slot] == NULL)
			continue;
		if (ev[i].events & EPOLLERR) {
			client_close(c, slot);
			continue;
		}
		if ((ev[i].events & EPOLLOUT) && client_flush(c, slot) < 0) {
			client_close(c, slot);
			continue;
		}
		if (ev[i].events & (EPOLLIN | EPOLLHUP)) {
			if (c->cl[slot]->closing)
				client_close(c, slot); /* hung up while we waited to write */
			else
				client_read(c, slot);
		}
	}
}

static int
mkdir_parents(const char *path)
{
	char dir[LB_PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

struct lb_ctl *
lb_ctl_create(struct lb_dp *dp, char *err, size_t errlen)
{
	struct lb_ctl *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = dp->conf.control_socket;

	if (c == NULL)
		goto nomem;
	c->dp = dp;
	c->lfd = c->epfd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->svc_gen = calloc(lb_svcs_capacity(dp->svcs), sizeof(*c->svc_gen));
	if (c->svc_gen == NULL)
		goto nomem;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control_socket: path too long");
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (mkdir_parents(path) < 0) {
		snprintf(err, errlen, "control_socket %s: cannot create its directory: %s", path,
			 strerror(errno));
		goto fail;
	}
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		goto sys;
	/* A socket file left by a dp that died is stale: nobody listens on it. */
	unlink(path);
	/*
	 * bind() creates the file with the umask's mode; without this the socket is
	 * world-accessible until the chmod() below (issue 14, finding 10). The
	 * control thread does this at start, before any other thread creates files.
	 */
	mode_t old_umask = umask((mode_t)(~dp->conf.control_socket_mode & 0777));
	int brc = bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (brc < 0)
		goto sys;
	if (chmod(path, dp->conf.control_socket_mode) < 0 || listen(c->lfd, 16) < 0)
		goto sys;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
	if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->lfd, &ev) < 0)
		goto sys;
	LOG(INFO, "listening on %s (mode %04o)", path, dp->conf.control_socket_mode);
	return c;
sys:
	snprintf(err, errlen, "control_socket %s: %s", path, strerror(errno));
	goto fail;
nomem:
	snprintf(err, errlen, "control socket: out of memory");
fail:
	lb_ctl_destroy(c);
	return NULL;
}

void
lb_ctl_destroy(struct lb_ctl *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < LB_CTL_MAX_CLIENTS; i++)
		client_close(c, i);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->lfd >= 0) {
		close(c->lfd);
		unlink(c->path);
	}
	free(c->svc_gen);
	free(c);
}
