/*
 * k8s_metrics.c - the Kubernetes controller's /metrics lines and /healthz detail
 * (k8s.h): cp_k8s_metrics (a cp_metrics_fn) and cp_k8s_health (a cp_health_fn).
 *
 * Runs on the API's libmicrohttpd threads: main.c hands both to the API as hooks
 * (cp_api_set_metrics_hook, cp_api_set_health_hook), and cp/api/metrics.c calls
 * the first while rendering /metrics. It stays in cp/kube, not cp/api, because
 * what it reads is the controller's own state (struct cp_k8s in k8s_priv.h, the
 * write queue's and the lease's counters), under k->mu and their locks; the API
 * knows it only as a function pointer, so no arrow goes from cp/api to cp/kube.
 * It writes with cp_buf_printf (cp/lib/buf.c), as the API's own renderer does.
 */
#include <pthread.h>

#include "buf.h"
#include "k8s.h"
#include "k8s_priv.h"
#include "lease.h"

static const char *const wstate_name[] = {"starting", "listing", "watching", "backoff"};

void
cp_k8s_health(void *arg, json_t *obj)
{
	struct cp_k8s *k = arg;
	struct cp_lease_info li;

	cp_lease_info(k->lease, &li);
	json_object_set_new(obj, "kubernetes",
			    json_pack("{s:b, s:b, s:s, s:s, s:s}", "leader", li.leader, "leader_election",
				      li.enabled, "identity", li.identity, "lease", li.lease, "holder",
				      li.holder));
}

void
cp_k8s_metrics(void *arg, char **b, size_t *len, size_t *cap)
{
	struct cp_k8s *k = arg;
	struct cp_lease_info li;
	struct cp_k8s_queue_stats qs;

	cp_lease_info(k->lease, &li);
	cp_k8s_queue_stats(k->queue, &qs);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_write_queue_depth Services with status, finalizer or Event writes waiting.\n"
		      "# TYPE edgelb_k8s_write_queue_depth gauge\nedgelb_k8s_write_queue_depth %llu\n"
		      "# HELP edgelb_k8s_write_queue_done_total Services whose writes completed.\n"
		      "# TYPE edgelb_k8s_write_queue_done_total counter\nedgelb_k8s_write_queue_done_total %llu\n"
		      "# HELP edgelb_k8s_write_retries_total Writes that failed and wait (per-Service backoff, Retry-After).\n"
		      "# TYPE edgelb_k8s_write_retries_total counter\nedgelb_k8s_write_retries_total %llu\n"
		      "# HELP edgelb_k8s_write_throttled_total Times the write rate limit made the queue wait.\n"
		      "# TYPE edgelb_k8s_write_throttled_total counter\nedgelb_k8s_write_throttled_total %llu\n",
		      (unsigned long long)qs.depth, (unsigned long long)qs.done,
		      (unsigned long long)qs.retries, (unsigned long long)qs.throttled);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_leader 1 while this cp holds the Lease (allocates and writes).\n"
		      "# TYPE edgelb_k8s_leader gauge\nedgelb_k8s_leader %d\n"
		      "# HELP edgelb_k8s_leader_changes_total Times this cp became or stopped being the leader.\n"
		      "# TYPE edgelb_k8s_leader_changes_total counter\nedgelb_k8s_leader_changes_total %llu\n"
		      "# HELP edgelb_k8s_lease_renew_failures_total Failed renewals of the Lease we held.\n"
		      "# TYPE edgelb_k8s_lease_renew_failures_total counter\nedgelb_k8s_lease_renew_failures_total %llu\n",
		      li.leader, (unsigned long long)(li.acquired + li.lost),
		      (unsigned long long)li.renew_failures);

	pthread_mutex_lock(&k->mu);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_watch_state State of a watch (1 for the current state).\n"
		      "# TYPE edgelb_k8s_watch_state gauge\n");
	const struct watch *ws[] = {&k->svc, &k->eps, &k->node};
	for (int i = 0; i < 3; i++)
		for (int s = 0; s < 4; s++)
			cp_buf_printf(b, len, cap, "edgelb_k8s_watch_state{resource=\"%s\",state=\"%s\"} %d\n",
				      ws[i]->what, wstate_name[s], ws[i]->state == s);
	cp_buf_printf(b, len, cap,
		      "# HELP edgelb_k8s_relists_total Full lists (start, 410 Gone).\n"
		      "# TYPE edgelb_k8s_relists_total counter\n");
	for (int i = 0; i < 3; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_relists_total{resource=\"%s\"} %llu\n", ws[i]->what,
			      (unsigned long long)ws[i]->relists);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_watch_events_total Watch events received.\n"
				   "# TYPE edgelb_k8s_watch_events_total counter\n");
	for (int i = 0; i < 3; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_watch_events_total{resource=\"%s\"} %llu\n",
			      ws[i]->what, (unsigned long long)ws[i]->events);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_watch_errors_total Failed lists or watches.\n"
				   "# TYPE edgelb_k8s_watch_errors_total counter\n");
	for (int i = 0; i < 3; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_watch_errors_total{resource=\"%s\"} %llu\n",
			      ws[i]->what, (unsigned long long)ws[i]->errors);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_last_sync_timestamp_seconds Last completed list.\n"
				   "# TYPE edgelb_k8s_last_sync_timestamp_seconds gauge\n");
	for (int i = 0; i < 3; i++)
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
		      "# HELP edgelb_k8s_kept_on_error_total Changes refused while the Service kept its addresses.\n"
		      "# TYPE edgelb_k8s_kept_on_error_total counter\nedgelb_k8s_kept_on_error_total %llu\n"
		      "# HELP edgelb_k8s_finalizer_updates_total Writes adding or removing our finalizer.\n"
		      "# TYPE edgelb_k8s_finalizer_updates_total counter\nedgelb_k8s_finalizer_updates_total %llu\n"
		      "# HELP edgelb_k8s_errors_total Failed reconciliations or API writes.\n"
		      "# TYPE edgelb_k8s_errors_total counter\nedgelb_k8s_errors_total %llu\n",
		      k->handled, (unsigned long long)k->reconciles, (unsigned long long)k->status_writes,
		      (unsigned long long)k->status_conflicts, (unsigned long long)k->events_sent,
		      (unsigned long long)k->kept_on_error, (unsigned long long)k->finalizer_writes,
		      (unsigned long long)k->errors);
	cp_buf_printf(b, len, cap, "# HELP edgelb_k8s_watch_requests_total Watch requests started.\n"
				   "# TYPE edgelb_k8s_watch_requests_total counter\n");
	for (int i = 0; i < 3; i++)
		cp_buf_printf(b, len, cap, "edgelb_k8s_watch_requests_total{resource=\"%s\"} %llu\n",
			      ws[i]->what, (unsigned long long)ws[i]->watches);
	pthread_mutex_unlock(&k->mu);
}
