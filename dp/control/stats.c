/*
 * stats.c - counters as JSON and as a table (see stats.h). Control thread only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>

#include "conntrack.h"
#include "dp.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "service.h"
#include "stats.h"
#include "sync.h"
#include "lb_svc_json.h"
#include "worker.h"

struct lb_stats {
	struct lb_cnt *svc_base;       /* [services capacity] */
	struct lb_real_cnt *real_base; /* [backend registry capacity] */
};

int
lb_stats_create(struct lb_dp *dp, char *err, size_t errlen)
{
	struct lb_stats *st = calloc(1, sizeof(*st));

	if (st != NULL) {
		st->svc_base = calloc(dp->conf.max_services, sizeof(*st->svc_base));
		st->real_base = calloc(dp->conf.max_backends, sizeof(*st->real_base));
	}
	dp->stats = st;
	if (st == NULL || st->svc_base == NULL || st->real_base == NULL) {
		snprintf(err, errlen, "counter baselines: out of memory");
		return LB_ENOMEM;
	}
	return 0;
}

void
lb_stats_destroy(struct lb_dp *dp)
{
	if (dp->stats == NULL)
		return;
	free(dp->stats->svc_base);
	free(dp->stats->real_base);
	free(dp->stats);
	dp->stats = NULL;
}

static void
sum_real(const struct lb_dp *dp, uint32_t id, struct lb_real_cnt *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < dp->n_workers; w++) {
		const struct lb_real_cnt *c = &dp->wstats[w]->real[id];
		out->pkts += c->pkts;
		out->bytes += c->bytes;
		out->conns += c->conns;
	}
}

static void
sum_svc(const struct lb_dp *dp, uint32_t id, struct lb_cnt *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < dp->n_workers; w++) {
		out->pkts += dp->wstats[w]->svc[id].pkts;
		out->bytes += dp->wstats[w]->svc[id].bytes;
	}
}

/* Called through struct lb_svcs_events; control/dp.c builds the workers first. */
void
lb_stats_svc_rebase(struct lb_dp *dp, uint32_t id)
{
	sum_svc(dp, id, &dp->stats->svc_base[id]);
}

void
lb_stats_real_rebase(struct lb_dp *dp, uint32_t id)
{
	sum_real(dp, id, &dp->stats->real_base[id]);
}

void
lb_stats_svc(const struct lb_dp *dp, uint32_t id, uint64_t *pkts, uint64_t *bytes)
{
	struct lb_cnt c;

	sum_svc(dp, id, &c);
	*pkts = c.pkts - dp->stats->svc_base[id].pkts;
	*bytes = c.bytes - dp->stats->svc_base[id].bytes;
}

void
lb_stats_real(const struct lb_dp *dp, uint32_t id, uint64_t *pkts, uint64_t *bytes,
	      int64_t *conns)
{
	struct lb_real_cnt c;

	sum_real(dp, id, &c);
	*pkts = c.pkts - dp->stats->real_base[id].pkts;
	*bytes = c.bytes - dp->stats->real_base[id].bytes;
	*conns = c.conns - dp->stats->real_base[id].conns;
}

json_t *
lb_stats_svc_json(const struct lb_dp *dp, const struct lb_svc *svc)
{
	json_t *o = lb_svc_spec_to_json(&svc->spec);

	if (o == NULL)
		return o;
	/* Backends in the spec and real_ids share one order (sorted at build). */
	json_t *bs = json_object_get(o, "backends"), *bj;
	size_t i;
	int64_t conns_total = 0;
	json_array_foreach(bs, i, bj) {
		uint64_t p, by;
		int64_t c;
		lb_stats_real(dp, svc->real_ids[i], &p, &by, &c);
		json_object_set_new(bj, "packets", json_integer((json_int_t)p));
		json_object_set_new(bj, "bytes", json_integer((json_int_t)by));
		json_object_set_new(bj, "active_connections", json_integer(c));
		conns_total += c;
	}
	uint64_t p, by;
	lb_stats_svc(dp, svc->id, &p, &by);
	json_object_set_new(o, "packets", json_integer((json_int_t)p));
	json_object_set_new(o, "bytes", json_integer((json_int_t)by));
	json_object_set_new(o, "active_connections", json_integer(conns_total));
	/* the codec leaves the default out; an operator reading stats wants it named */
	json_object_set_new(o, LB_F_SCHEDULER, json_string(lb_sched_name(svc->spec.sched)));
	json_object_set_new(o, "id", json_integer(svc->id));
	json_object_set_new(o, "version", json_integer(svc->version));
	char dg[24];
	snprintf(dg, sizeof(dg), "%016llx", (unsigned long long)svc->digest);
	json_object_set_new(o, "table_digest", json_string(dg));
	return o;
}

static json_t *
counters_json(const uint64_t *ev, const uint64_t *drops)
{
	json_t *o = json_object(), *d = json_object();

	for (int i = 0; i < LB_EV_MAX; i++)
		json_object_set_new(o, lb_event_names[i], json_integer((json_int_t)ev[i]));
	for (int i = 0; i < LB_DROP_MAX; i++)
		json_object_set_new(d, lb_drop_names[i], json_integer((json_int_t)drops[i]));
	json_object_set_new(o, "drops", d);
	return o;
}

json_t *
lb_stats_json(const struct lb_dp *dp)
{
	uint64_t ev[LB_EV_MAX] = {0}, drops[LB_DROP_MAX] = {0};
	uint64_t conns = 0;
	json_t *root = json_object(), *workers = json_array(), *ports = json_array();
	json_t *svcs = json_array();

	for (unsigned w = 0; w < dp->n_workers; w++) {
		const struct lb_wstats *st = dp->wstats[w];
		uint32_t n = lb_ct_count(lb_worker_ct(dp->workers[w]));
		for (int i = 0; i < LB_EV_MAX; i++)
			ev[i] += st->ev[i];
		for (int i = 0; i < LB_DROP_MAX; i++)
			drops[i] += st->drop[i];
		conns += n;
		json_t *wj = counters_json(st->ev, st->drop);
		json_object_set_new(wj, "worker", json_integer(w));
		json_object_set_new(wj, "lcore", json_integer(dp->conf.worker_lcores[w]));
		json_object_set_new(wj, "connections", json_integer(n));
		json_object_set_new(wj, "conntrack_capacity",
				    json_integer(lb_ct_capacity(lb_worker_ct(dp->workers[w]))));
		json_array_append_new(workers, wj);
	}
	for (unsigned pi = 0; pi < dp->n_ports; pi++) {
		uint64_t rxp = 0, rxb = 0, txp = 0, txb = 0;
		struct rte_eth_stats es;
		for (unsigned w = 0; w < dp->n_workers; w++) {
			rxp += dp->wstats[w]->port_rx[pi].pkts;
			rxb += dp->wstats[w]->port_rx[pi].bytes;
			txp += dp->wstats[w]->port_tx[pi].pkts;
			txb += dp->wstats[w]->port_tx[pi].bytes;
		}
		json_t *pj = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "name",
				       dp->conf.ports[pi].name, "rx_packets", (json_int_t)rxp,
				       "rx_bytes", (json_int_t)rxb, "tx_packets", (json_int_t)txp,
				       "tx_bytes", (json_int_t)txb, "steering",
				       dp->ports[pi].steering == LB_STEER_RTE_FLOW ? "rte_flow" : "ring");
		if (rte_eth_stats_get(dp->ports[pi].eth_id, &es) == 0) {
			json_object_set_new(pj, "nic_missed", json_integer((json_int_t)es.imissed));
			json_object_set_new(pj, "nic_rx_errors", json_integer((json_int_t)es.ierrors));
			json_object_set_new(pj, "nic_tx_errors", json_integer((json_int_t)es.oerrors));
		}
		json_array_append_new(ports, pj);
	}
	uint32_t it = 0;
	const struct lb_svc *svc;
	while ((svc = lb_svcs_next(dp->svcs, &it)) != NULL)
		json_array_append_new(svcs, lb_stats_svc_json(dp, svc));

	json_t *g = counters_json(ev, drops);
	json_object_set_new(g, "connections", json_integer((json_int_t)conns));
	json_object_set_new(g, "services", json_integer(lb_svcs_count(dp->svcs)));
	json_t *cj = json_object();
	for (int i = 0; i < LB_CTRL_MAX; i++)
		json_object_set_new(cj, lb_ctrl_names[i], json_integer((json_int_t)dp->ctrl[i]));
	json_object_set_new(root, "control", cj);
	json_object_set_new(root, "global", g);
	json_object_set_new(root, "ports", ports);
	json_object_set_new(root, "workers", workers);
	json_object_set_new(root, "services", svcs);
	if (dp->sync)
		json_object_set_new(root, LB_F_FLOW_SYNC, lb_sync_json(dp->sync));
	return root;
}

void
lb_stats_print(const struct lb_dp *dp, FILE *f)
{
	json_t *s = lb_stats_json(dp);
	json_t *g = json_object_get(s, "global"), *d = json_object_get(g, "drops");
	const char *k;
	json_t *v;
	size_t i;

	fprintf(f, "== edgelb-dp counters ==\n");
	json_object_foreach(g, k, v)
		if (json_is_integer(v))
			fprintf(f, "  %-22s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
	fprintf(f, "  drops (non-zero):\n");
	json_object_foreach(d, k, v)
		if (json_integer_value(v))
			fprintf(f, "    %-20s %" JSON_INTEGER_FORMAT "\n", k, json_integer_value(v));
	json_array_foreach(json_object_get(s, "ports"), i, v)
		fprintf(f, "  port %-8s rx %" JSON_INTEGER_FORMAT " pkts  tx %" JSON_INTEGER_FORMAT
			   " pkts  (%s steering)\n",
			json_string_value(json_object_get(v, "name")),
			json_integer_value(json_object_get(v, "rx_packets")),
			json_integer_value(json_object_get(v, "tx_packets")),
			json_string_value(json_object_get(v, "steering")));
	json_array_foreach(json_object_get(s, "services"), i, v) {
		json_t *b;
		size_t j;
		fprintf(f, "  service %s %s:%" JSON_INTEGER_FORMAT "/%s (%s): %" JSON_INTEGER_FORMAT
			   " pkts, %" JSON_INTEGER_FORMAT " active conns\n",
			json_string_value(json_object_get(v, "name")),
			json_string_value(json_object_get(v, "vip")),
			json_integer_value(json_object_get(v, "port")),
			json_string_value(json_object_get(v, "protocol")),
			json_string_value(json_object_get(v, "mode")),
			json_integer_value(json_object_get(v, "packets")),
			json_integer_value(json_object_get(v, "active_connections")));
		json_array_foreach(json_object_get(v, "backends"), j, b)
			fprintf(f, "    -> %s:%" JSON_INTEGER_FORMAT " %-8s w=%" JSON_INTEGER_FORMAT
				   " %" JSON_INTEGER_FORMAT " pkts %" JSON_INTEGER_FORMAT " conns\n",
				json_string_value(json_object_get(b, "address")),
				json_integer_value(json_object_get(b, "port")),
				json_string_value(json_object_get(b, "state")),
				json_integer_value(json_object_get(b, "weight")),
				json_integer_value(json_object_get(b, "packets")),
				json_integer_value(json_object_get(b, "active_connections")));
	}
	json_decref(s);
}
