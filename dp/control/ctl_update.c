/*
 * ctl_update.c - service.upsert without building on the control thread.
 *
 * Control thread only (it drives the builder thread of dp/tables/svc_build.c).
 * Owns the upsert waiters: one per request, from its receipt until its reply.
 *
 *   receipt      parse + validate here (errors answer at once); the spec goes to
 *                the builder, coalesced with a queued spec of the same service;
 *                the request's reply slot is held in its client's queue
 *   build done   the builder's eventfd wakes the loop (or the control thread
 *                looks between two lines of a burst it is parsing):
 *                lb_svcs_publish() (the release store, RCU retirements), then
 *                every waiter of the job is answered, or, with "wait": true,
 *                parked with a QSBR token
 *   grace over   rte_rcu_qsbr_check() without blocking, each loop turn: the
 *                parked waiters are answered with visible_us
 *
 * The control thread never spins on a grace period nor runs a table build, so
 * ARP/NDP and other clients' requests are served meanwhile.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "ctl_priv.h"
#include "dp.h"
#include "lb_error.h"
#include "lb_svc_json.h"
#include "service.h"
#include "svc_build.h"

#define WAIT_VISIBLE_MAX_MS 1000 /* service.upsert "wait": give up after this */
#define GRACE_SPIN_US 100        /* after a publish, wait this long for the grace period */

struct upd_wait {
	struct upd_wait *next;    /* in the grace list */
	struct reply_slot *rs;
	json_t *id;
	uint64_t rx_tsc;          /* when the request was read */
	uint64_t sub_tsc;         /* when it was parsed and handed to the builder */
	uint64_t gen;             /* the sync generation when it came */
	uint64_t token;           /* QSBR token taken after the publish */
	uint64_t pub_tsc;         /* when it was published */
	uint64_t start_tsc;       /* when the builder started its build */
	uint64_t done_tsc;        /* when the builder finished it */
	uint64_t build_ns;
	bool table_cached;        /* the build copied its Maglev table from the cache */
	int svc_id;
	uint32_t version;
	bool wait;
	bool coalesced;           /* a newer spec of the service was built in its place */
};

int
ctl_upd_create(struct lb_ctl *c, char *err, size_t errlen)
{
	c->svcb = lb_svcb_create(lb_svcs_seed(c->dp->svcs),
				 (size_t)c->dp->conf.maglev_cache_kb * 1024,
				 (int)c->dp->conf.builder_nice, err, errlen);
	return c->svcb ? 0 : LB_ENOMEM;
}

static void
answer(struct lb_ctl *c, struct upd_wait *w, json_t *res, const struct reply_err *e)
{
	struct reply_slot *rs = w->rs;
	char *line = ctl_reply_line(w->id, res, e);

	json_decref(w->id);
	free(w);
	if (rs->k == NULL) { /* the client left */
		free(line);
		free(rs);
		return;
	}
	rs->k->n_upd--;
	if (line == NULL)
		rs->k->closing = true; /* cannot answer: drop the client, not the dp */
	rs->line = line;
	rs->len = line ? strlen(line) : 0;
	rs->ready = true;
	ctl_client_queue_line(c, rs->k, NULL);
}

/* Microseconds from the request's receipt to tsc. */
static json_int_t
since_rx_us(const struct lb_ctl *c, const struct upd_wait *w, uint64_t tsc)
{
	return (json_int_t)((tsc - w->rx_tsc) * 1000000 / c->dp->tsc_hz);
}

static void
answer_ok(struct lb_ctl *c, struct upd_wait *w, bool visible)
{
	json_t *r = json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "id", w->svc_id, LB_F_VERSION,
			      (int)w->version, LB_F_BUILD_US, (json_int_t)(w->build_ns / 1000),
			      LB_F_SUBMITTED_US, since_rx_us(c, w, w->sub_tsc),
			      LB_F_QUEUED_US, since_rx_us(c, w, w->start_tsc),
			      LB_F_BUILT_US, since_rx_us(c, w, w->done_tsc),
			      LB_F_PUBLISHED_US, since_rx_us(c, w, w->pub_tsc));

	if (w->coalesced)
		json_object_set_new(r, LB_F_COALESCED, json_true());
	if (w->table_cached)
		json_object_set_new(r, LB_F_TABLE_CACHED, json_true());
	if (w->wait)
		json_object_set_new(r, LB_F_VISIBLE_US,
				    visible ? json_integer(since_rx_us(c, w, rte_rdtsc())) : json_null());
	answer(c, w, r, NULL);
}

void
ctl_upd_destroy(struct lb_ctl *c)
{
	/* Clients are gone by now: every reply slot is orphaned. */
	while (c->grace_head) {
		struct upd_wait *w = c->grace_head;
		c->grace_head = w->next;
		answer(c, w, NULL, NULL);
	}
	c->grace_tail = NULL;
	if (c->svcb == NULL)
		return;
	/* Jobs still in the builder keep their waiters as tags: free those too. */
	struct lb_svcb_job *j = lb_svcb_destroy(c->svcb);
	while (j != NULL) {
		struct lb_svcb_job *n = j->next;
		for (uint32_t i = 0; i < j->n_tags; i++)
			answer(c, j->tags[i], NULL, NULL);
		lb_svcb_job_free(j);
		j = n;
	}
	c->svcb = NULL;
}

int
ctl_upd_fd(const struct lb_ctl *c)
{
	return lb_svcb_fd(c->svcb);
}

long
ctl_upd_poll_ns(const struct lb_ctl *c)
{
	const struct upd_wait *w = c->grace_head;

	if (w == NULL)
		return -1;
	/*
	 * A polling worker ends a grace period within microseconds; one that has
	 * not after a millisecond waits for a CPU, and looking 20,000 times a second
	 * would only take CPU from it and the builder.
	 */
	return rte_rdtsc() - w->pub_tsc < c->dp->tsc_hz / 1000 ? 50000 : 250000;
}

int
op_service_upsert(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e)
{
	struct client *k = c->cur;
	struct lb_svc_spec spec;
	char why[512];
	json_t *wait = json_object_get(req, LB_F_WAIT);
	bool replaced;

	(void)res;
	if (wait && !json_is_boolean(wait))
		return rerr(e, LB_CODE_INVALID, "wait: must be true or false");
	if (!json_is_object(json_object_get(req, LB_F_SERVICE)))
		return rerr(e, LB_CODE_INVALID, "service: missing or not an object");
	if (lb_svc_spec_from_json(json_object_get(req, LB_F_SERVICE), &spec, why, sizeof(why)) < 0)
		return rerr(e, LB_CODE_INVALID, "service.%s", why);
	/* Here, not in the builder: a spec that fails never stands in for another. */
	if (lb_svc_spec_validate(&spec, why, sizeof(why)) < 0) {
		lb_svc_spec_free(&spec);
		return rerr(e, LB_CODE_INVALID, "%s", why);
	}
	struct upd_wait *w = calloc(1, sizeof(*w));
	struct reply_slot *rs = calloc(1, sizeof(*rs));
	if (w == NULL || rs == NULL)
		goto nomem;
	w->rs = rs;
	w->id = json_incref(json_object_get(req, LB_F_ID));
	w->rx_tsc = c->rx_tsc;
	w->gen = c->generation;
	w->wait = json_is_true(wait);
	w->sub_tsc = rte_rdtsc();
	if (lb_svcb_submit(c->svcb, &spec, w, &replaced) < 0) {
		json_decref(w->id);
		goto nomem;
	}
	/* Held in order among the client's replies until the build is published. */
	rs->k = k;
	if (k->rq_tail)
		k->rq_tail->next = rs;
	else
		k->rq_head = rs;
	k->rq_tail = rs;
	k->n_upd++;
	return CTL_DEFERRED;
nomem:
	free(w);
	free(rs);
	lb_svc_spec_free(&spec);
	return rerr(e, LB_CODE_INTERNAL, "out of memory");
}

bool
ctl_upd_blocks(const struct lb_ctl *c, const char *op, const json_t *req)
{
	struct lb_addr vip;
	json_t *v = json_object_get(req, LB_F_VIP), *p = json_object_get(req, LB_F_PORT);
	json_t *pr = json_object_get(req, LB_F_PROTOCOL);
	uint8_t proto = LB_PROTO_TCP;

	if (strcmp(op, LB_OP_SERVICE_DELETE) != 0 || lb_svcb_pending(c->svcb) == 0)
		return false;
	/* A malformed key gets its error from the handler, at once. */
	if (!json_is_string(v) || lb_addr_parse(json_string_value(v), &vip) < 0 ||
	    !json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 65535)
		return false;
	if (pr && (!json_is_string(pr) || lb_proto_parse(json_string_value(pr), &proto) < 0))
		return false;
	return lb_svcb_pending_for(c->svcb, &vip, (uint16_t)json_integer_value(p), proto);
}

static void
publish(struct lb_ctl *c, struct lb_svcb_job *j)
{
	char why[512];
	int id;
	struct reply_err e = {0};

	c->dp->ctrl[LB_CTRL_BUILDS_CANCELLED] += j->n_cancelled;
	if (j->svc != NULL) {
		c->dp->ctrl[LB_CTRL_TABLE_BUILDS]++;
		c->dp->ctrl[LB_CTRL_TABLE_COPIES] += j->table_cached;
		id = lb_svcs_publish(c->dp->svcs, j->svc, why, sizeof(why));
		j->svc = NULL; /* published or freed */
	} else {
		id = j->rc;
		snprintf(why, sizeof(why), "%s", j->err);
	}
	if (id < 0) {
		const char *code = id == LB_EFULL ? LB_CODE_FULL : LB_CODE_INVALID;

		if (id == LB_ENOMEM || id == LB_ECANCELED) /* the dp's trouble, not the spec's */
			code = LB_CODE_INTERNAL;
		rerr(&e, code, "%s", why);
		for (uint32_t i = 0; i < j->n_tags; i++)
			answer(c, j->tags[i], NULL, &e);
		return;
	}
	const struct lb_svc *svc = lb_svcs_at(c->dp->svcs, (uint32_t)id);
	/* Taken after the release store: its grace period covers the new object. */
	uint64_t token = rte_rcu_qsbr_start(c->dp->qsbr);
	struct upd_wait *last = j->tags[j->n_tags - 1];
	uint64_t pub = rte_rdtsc();
	c->svc_gen[id] = last->gen;
	for (uint32_t i = 0; i < j->n_tags; i++) {
		struct upd_wait *w = j->tags[i];

		w->svc_id = id;
		w->version = svc ? svc->version : 0;
		w->build_ns = j->build_ns;
		w->table_cached = j->table_cached;
		w->start_tsc = j->start_tsc;
		w->done_tsc = j->done_tsc;
		w->pub_tsc = pub;
		w->coalesced = i + 1 < j->n_tags;
		if (!w->wait) {
			answer_ok(c, w, false);
			continue;
		}
		w->token = token;
		w->next = NULL;
		if (c->grace_tail)
			c->grace_tail->next = w;
		else
			c->grace_head = w;
		c->grace_tail = w;
	}
}

/* Publish every build finished so far; true if there was one. */
static bool
publish_finished(struct lb_ctl *c)
{
	struct lb_svcb_job *j;
	bool published = false;

	while ((j = lb_svcb_done(c->svcb)) != NULL) {
		publish(c, j);
		lb_svcb_job_free(j);
		published = true;
	}
	return published;
}

/*
 * Called between two lines of a client's input. A burst of upserts (a client
 * catching up sends tens at once) is parsed one after the other, ~0.15 ms each
 * for a hundred backends; without this a build finished early in the burst waited
 * for the whole burst before its publish. Waiters answered here are flushed
 * by serve_updates() before the loop sleeps (upd_flush); grace periods are
 * checked there too.
 */
void
ctl_upd_publish_done(struct lb_ctl *c)
{
	if (lb_svcb_pending(c->svcb) > 0 && publish_finished(c))
		c->upd_flush = true;
}

void
ctl_upd_poll(struct lb_ctl *c)
{
	bool published = publish_finished(c);

	/*
	 * Tokens grow with time: the first still in its grace period stops the scan.
	 * Right after a publish, look again for up to GRACE_SPIN_US: a polling worker
	 * passes its quiescent state within microseconds, and sleeping until the next
	 * loop turn costs a wake-up on a busy machine. Then the loop polls.
	 */
	uint64_t t0 = rte_rdtsc(), spin = c->dp->tsc_hz / 1000000 * GRACE_SPIN_US;
	for (;;) {
		uint64_t now = rte_rdtsc();
		while (c->grace_head) {
			struct upd_wait *w = c->grace_head;
			bool done = rte_rcu_qsbr_check(c->dp->qsbr, w->token, false) == 1;

			if (!done && now - w->rx_tsc < c->dp->tsc_hz / 1000 * WAIT_VISIBLE_MAX_MS)
				break;
			c->grace_head = w->next;
			if (c->grace_head == NULL)
				c->grace_tail = NULL;
			answer_ok(c, w, done);
		}
		if (!published || c->grace_head == NULL || now - t0 > spin)
			break;
		rte_pause();
	}
}
