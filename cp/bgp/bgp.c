/*
 * bgp.c - the bgp thread (see bgp.h): started and stopped by cp/main.c; the loop
 * below runs on that thread, cp_bgp_route() and cp_bgp_metrics() on
 * libmicrohttpd's threads (through cp/api hooks), under the module's mutex.
 *
 * Loop, every tick (at most 20 ms, less when bgp.check_interval_ms is lower):
 *   1. dp probe: poll our dp connection (EOF = the dp died), send a hello every
 *      check_interval_ms, read its generation; no answer in dp_timeout_ms = dead.
 *   2. gate: dp alive and carrying the generation (and store version) the dp
 *      sync thread last sent, joined (with cluster peers: the dp reports its
 *      bulk copy done, or cluster.join_timeout_s since the dp started), and the
 *      box not drained -> open.
 *   3. decide (cp/lib/announce.c: the VIPs, and the box's and its peers' SNAT
 *      addresses), render the include file; when the text
 *      changed (or the last configure failed) write it (temporary file, rename)
 *      and tell BIRD to "configure" over its control socket. Withdrawals go out
 *      at once; additions wait until the dp has been sent the services.
 * At start nothing is written until the dp is found down, or synced (at most
 * START_HOLD_MS): restarting the cp leaves BIRD's routes as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "api.h"
#include "bgp.h"
#include "bird.h"
#include "cpconf.h"
#include "cptime.h"
#include "dpsync.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "store.h"

#define TICK_MS_MAX 20
#define START_HOLD_MS 10000
#define BIRD_RETRY_MS 1000
#define DRAIN_POLL_MS 1000

struct cp_bgp {
	pthread_t th;
	volatile bool stop;
	const struct cp_conf *conf;
	struct cp_store *store;
	struct cp_dpsync *dps;
	char drain_path[CP_PATH_MAX + 8];

	/* dp probe: thread only */
	int fd;
	char rbuf[4096];
	size_t rlen;
	bool outstanding;
	double ping_at, next_connect;

	pthread_mutex_t mu; /* guards what follows */
	bool dp_alive;
	uint64_t dp_generation;
	uint64_t dp_deaths;
	int dp_bulk_done;        /* the dp's flow_sync.bulk_done: 1, 0, -1 = it does not sync */
	int dp_peers_match;      /* its flow_sync.peers are cluster.peers' sync_address: 1, 0, -1 */
	uint64_t dp_uptime_ms;   /* at dp_uptime_at (mono ms) */
	double dp_uptime_at;
	enum cp_join join;
	enum cp_gate gate;
	struct cp_vip *vips;
	uint32_t n_vips;
	struct cp_snat *snats;
	uint32_t n_snats, snat_announced;
	uint32_t announced;
	char *text;              /* include file last written */
	bool bird_ok;            /* last configure succeeded */
	char bird_msg[256];
	uint64_t configures, bird_errors;
	double last_configure;   /* unix time */
	double last_withdraw_ms; /* dp death seen -> BIRD reconfigured */
	bool drained;
	double drain_since;
	uint32_t drain_timeout_s;
	long long drain_conns;   /* dp connections while draining; -1 unknown */
	bool wake;               /* a drain change: decide now */
};

/* ---- dp probe -------------------------------------------------------------- */

static void
dp_close(struct cp_bgp *b, const char *why)
{
	if (b->fd >= 0) {
		close(b->fd);
		fprintf(stderr, "edgelb-cp: bgp: dp %s\n", why);
	}
	b->fd = -1;
	b->rlen = 0;
	b->outstanding = false;
	pthread_mutex_lock(&b->mu);
	if (b->dp_alive)
		b->dp_deaths++;
	b->dp_alive = false;
	b->dp_generation = 0;
	b->dp_bulk_done = -1;
	b->dp_peers_match = -1;
	b->dp_uptime_ms = 0;
	pthread_mutex_unlock(&b->mu);
}

static void
dp_send_hello(struct cp_bgp *b)
{
	char line[160];
	int n = snprintf(line, sizeof(line), "{\"op\":\"%s\",\"%s\":%d,\"%s\":\"edgelb-cp bgp\"}\n",
			 LB_OP_HELLO, LB_F_VERSION, LB_CTL_PROTOCOL_VERSION, LB_F_CLIENT);

	if (send(b->fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		dp_close(b, "probe: send failed");
		return;
	}
	b->outstanding = true;
	b->ping_at = cp_mono_ms();
}

static void
dp_connect(struct cp_bgp *b)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = b->conf->dp_socket;

	b->next_connect = cp_mono_ms() + b->conf->bgp.check_interval_ms;
	if (strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	b->fd = fd;
	b->rlen = 0;
	dp_send_hello(b);
}

/*
 * Whether the dp's flow sync peers (flow_sync.peers[].address) are exactly the
 * sync_address of cluster.peers: 1, 0; -1 without a cluster or a flow_sync object.
 */
static int
peers_match(const struct cp_cluster_conf *cl, const json_t *fs)
{
	const json_t *peers = json_object_get(fs, "peers"), *p;
	size_t i;

	if (cl->n_peers == 0 || !json_is_array(peers))
		return -1;
	if (json_array_size(peers) != cl->n_peers)
		return 0;
	json_array_foreach(peers, i, p) {
		struct lb_addr a;
		bool found = false;
		if (lb_addr_parse(json_string_value(json_object_get(p, "address")), &a) < 0)
			return 0;
		for (uint32_t k = 0; k < cl->n_peers && !found; k++)
			found = lb_addr_eq(&cl->peers[k].sync_address, &a);
		if (!found)
			return 0;
	}
	return 1;
}

/* A reply line from the dp: its generation; the dp is alive. */
static void
dp_line(struct cp_bgp *b, const char *line)
{
	json_error_t je;
	json_t *r = json_loads(line, 0, &je);
	json_t *res = r ? json_object_get(r, LB_F_RESULT) : NULL;

	b->outstanding = false;
	pthread_mutex_lock(&b->mu);
	if (res && json_is_true(json_object_get(r, LB_F_OK))) {
		if (!b->dp_alive)
			fprintf(stderr, "edgelb-cp: bgp: dp alive\n");
		b->dp_alive = true;
		b->dp_generation = (uint64_t)json_integer_value(json_object_get(res, LB_F_GENERATION));
		/* Flow sync (docs/flow-sync.md, hello): the bulk copy from the peers. */
		json_t *sy = json_object_get(res, "flow_sync");
		json_t *bd = json_is_object(sy) ? json_object_get(sy, "bulk_done") : NULL;
		b->dp_bulk_done = json_is_boolean(bd) ? json_is_true(bd) : -1;
		b->dp_uptime_ms = (uint64_t)json_integer_value(json_object_get(res, "uptime_ms"));
		b->dp_uptime_at = cp_mono_ms();
		int m = peers_match(&b->conf->cluster, sy);
		if (m == 0 && b->dp_peers_match != 0)
			fprintf(stderr, "edgelb-cp: bgp: the dp's flow sync peers (dp config sync.peers) "
					"are not cluster.peers' sync_address: the backups announced here "
					"may not hold the peers' connections\n");
		b->dp_peers_match = m;
	}
	pthread_mutex_unlock(&b->mu);
	json_decref(r);
}

/* Wait up to ms for the dp's answer or its death; probe when due. */
static void
dp_poll(struct cp_bgp *b, int ms)
{
	const struct cp_bgp_conf *bc = &b->conf->bgp;

	if (b->fd < 0) {
		if (cp_mono_ms() >= b->next_connect)
			dp_connect(b);
		if (b->fd < 0) {
			struct timespec ts = {0, (long)ms * 1000000L};
			nanosleep(&ts, NULL);
			return;
		}
	}
	struct pollfd pf = {.fd = b->fd, .events = POLLIN};
	if (poll(&pf, 1, ms) > 0) {
		ssize_t r = recv(b->fd, b->rbuf + b->rlen, sizeof(b->rbuf) - b->rlen - 1, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			dp_close(b, "gone (control socket closed)");
			return;
		}
		if (r > 0) {
			b->rlen += (size_t)r;
			char *nl;
			while ((nl = memchr(b->rbuf, '\n', b->rlen)) != NULL) {
				*nl = '\0';
				dp_line(b, b->rbuf);
				b->rlen -= (size_t)(nl + 1 - b->rbuf);
				memmove(b->rbuf, nl + 1, b->rlen);
			}
			if (b->rlen >= sizeof(b->rbuf) - 1)
				b->rlen = 0;
		}
	}
	double now = cp_mono_ms();
	if (b->outstanding && now - b->ping_at > bc->dp_timeout_ms)
		dp_close(b, "hung (no answer to a probe)");
	else if (!b->outstanding && now - b->ping_at >= bc->check_interval_ms)
		dp_send_hello(b);
}

/* ---- drain state file ------------------------------------------------------ */

static void
drain_load(struct cp_bgp *b)
{
	FILE *f = fopen(b->drain_path, "r");
	double since = 0;
	unsigned t = 0;

	if (f == NULL)
		return;
	if (fscanf(f, "%lf %u", &since, &t) == 2) {
		b->drained = true;
		b->drain_since = since;
		b->drain_timeout_s = t;
		fprintf(stderr, "edgelb-cp: bgp: box drained since %.0f (%s)\n", since, b->drain_path);
	}
	fclose(f);
}

int
cp_bgp_drain(struct cp_bgp *b, bool on, uint32_t timeout_s, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	if (on) {
		char text[64];
		if (!b->drained) {
			b->drain_since = cp_now_unix();
			b->drain_conns = -1;
		}
		/* Draining again without a timeout (edgelbctl drain --wait) keeps the one set. */
		if (timeout_s || !b->drained)
			b->drain_timeout_s = timeout_s ? timeout_s : b->conf->bgp.drain_timeout_s;
		snprintf(text, sizeof(text), "%.3f %u\n", b->drain_since, b->drain_timeout_s);
		rc = cp_bird_write_atomic(b->drain_path, text, err, errlen);
		if (rc == 0)
			b->drained = true;
	} else {
		if (unlink(b->drain_path) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", b->drain_path, strerror(errno));
			rc = LB_EIO;
		} else {
			b->drained = false;
		}
	}
	b->wake = true;
	pthread_mutex_unlock(&b->mu);
	if (rc == 0)
		fprintf(stderr, "edgelb-cp: bgp: box %s\n", on ? "drained" : "undrained");
	return rc;
}

/* ---- decisions ------------------------------------------------------------- */

static enum cp_gate
gate_now(struct cp_bgp *b, uint64_t spec_version, bool *dp_behind)
{
	struct cp_dpsync_status st = {0};
	bool alive, drained;
	uint64_t gen;

	cp_dpsync_status(b->dps, &st);
	pthread_mutex_lock(&b->mu);
	alive = b->dp_alive;
	gen = b->dp_generation;
	drained = b->drained;
	pthread_mutex_unlock(&b->mu);
	*dp_behind = st.store_version < spec_version;
	if (drained)
		return CP_GATE_DRAINED;
	if (!alive)
		return CP_GATE_DP_DOWN;
	if (!st.connected || st.generation == 0 || gen != st.generation)
		return CP_GATE_DP_UNSYNCED;
	if (!cp_join_open(b->join))
		return CP_GATE_JOINING;
	return CP_GATE_OPEN;
}

/* Keep an announced VIP the dp was not sent yet out of the file until it is. */
static void
hold_unsent(struct cp_vip *v, uint32_t n, const struct cp_vip *cur, uint32_t ncur)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!v[i].announce)
			continue;
		bool was = false;
		for (uint32_t k = 0; k < ncur && !was; k++)
			was = cur[k].announce && lb_addr_eq(&cur[k].vip, &v[i].vip);
		if (!was) {
			v[i].announce = false;
			v[i].why = "waiting for the dp to be sent the service";
		}
	}
}

static void
drain_progress(struct cp_bgp *b)
{
	char err[256];
	json_t *r = cp_dpsync_request(b->conf->dp_socket, json_pack("{s:s}", LB_F_OP, LB_OP_STATS_GET),
				  1000, err, sizeof(err));
	json_t *g = r ? json_object_get(r, "global") : NULL;
	long long n = g ? (long long)json_integer_value(json_object_get(g, "connections")) : -1;

	pthread_mutex_lock(&b->mu);
	b->drain_conns = n;
	pthread_mutex_unlock(&b->mu);
	json_decref(r);
}

static void
free_specs(struct lb_svc_spec *sp, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		lb_svc_spec_free(&sp[i]);
	free(sp);
}

/* The join state now (thread only; b->join written under the mutex); logs changes. */
static enum cp_join
join_now(struct cp_bgp *b, double now)
{
	const struct cp_cluster_conf *cl = &b->conf->cluster;

	pthread_mutex_lock(&b->mu);
	bool alive = b->dp_alive;
	int bulk = b->dp_bulk_done;
	uint64_t up = b->dp_uptime_ms + (uint64_t)(now > b->dp_uptime_at ? now - b->dp_uptime_at : 0);
	enum cp_join old = b->join, j = alive ? cp_join_decide(b->conf, bulk, up) : CP_JOIN_WAITING;
	if (cl->n_peers == 0)
		j = CP_JOIN_NONE;
	b->join = j;
	pthread_mutex_unlock(&b->mu);
	if (j != old && alive) {
		if (j == CP_JOIN_DONE)
			fprintf(stderr, "edgelb-cp: bgp: join: the dp has its peers' connections "
					"(bulk copy done %.1f s after it started)\n", (double)up / 1e3);
		else if (j == CP_JOIN_TIMED_OUT)
			fprintf(stderr, "edgelb-cp: bgp: join: no bulk copy from the peers %u s after "
					"the dp started; announcing anyway\n", cl->join_timeout_s);
		else if (j == CP_JOIN_NO_SYNC)
			fprintf(stderr, "edgelb-cp: bgp: join: cluster.peers are configured but the dp "
					"does not sync (no flow_sync in its hello): its connections are "
					"not shared; announcing\n");
		else if (j == CP_JOIN_WAITING)
			fprintf(stderr, "edgelb-cp: bgp: join: waiting for the dp's bulk copy from its "
					"peers (at most %u s after the dp started)\n", cl->join_timeout_s);
	}
	return j;
}

static void *
run(void *arg)
{
	struct cp_bgp *b = arg;
	const struct cp_bgp_conf *bc = &b->conf->bgp;
	int tick = (int)(bc->check_interval_ms < TICK_MS_MAX ? bc->check_interval_ms : TICK_MS_MAX);
	double start = cp_mono_ms(), retry_at = 0, drain_poll_at = 0, death_at = 0;
	bool written = false, pending = false, was_alive = false, have = false;
	struct lb_svc_spec *sp = NULL;
	uint32_t n = 0;
	uint64_t version = 0;
	char msg[256];

	while (!b->stop) {
		struct cp_vip *v = NULL;
		struct cp_snat *s = NULL;
		uint32_t nv = 0, ns = 0;
		bool behind;

		dp_poll(b, tick);
		double now = cp_mono_ms();
		pthread_mutex_lock(&b->mu);
		bool alive = b->dp_alive, drained = b->drained;
		b->wake = false;
		pthread_mutex_unlock(&b->mu);
		if (was_alive && !alive)
			death_at = now;
		was_alive = alive;
		if (drained && now >= drain_poll_at) {
			drain_poll_at = now + DRAIN_POLL_MS;
			drain_progress(b);
		}

		/* The store's services only when they changed (copying them is not free). */
		if (!have || cp_store_version(b->store) != version) {
			free_specs(sp, n);
			sp = NULL;
			n = 0;
			have = cp_store_dp_specs(b->store, &sp, &n, &version) == 0;
			if (!have)
				continue;
		}
		enum cp_join join = join_now(b, now);
		enum cp_gate gate = gate_now(b, version, &behind);
		if (!written && gate == CP_GATE_DP_UNSYNCED && now - start < START_HOLD_MS)
			goto next; /* cp restart: leave BIRD's routes alone until synced */
		if (cp_announce_decide(sp, n, b->conf, gate, &v, &nv) < 0 ||
		    cp_announce_snat(b->conf, alive, cp_join_open(join), drained, &s, &ns) < 0)
			goto next;
		pthread_mutex_lock(&b->mu);
		if (behind)
			hold_unsent(v, nv, b->vips, b->n_vips);
		pthread_mutex_unlock(&b->mu);
		char *text = NULL;
		if (cp_announce_render(v, nv, s, ns, bc->protocol, &text) < 0)
			goto next;
		pthread_mutex_lock(&b->mu);
		bool changed = b->text == NULL || strcmp(b->text, text) != 0;
		free(b->vips);
		b->vips = v;
		b->n_vips = nv;
		b->gate = gate;
		b->announced = 0;
		for (uint32_t i = 0; i < nv; i++)
			b->announced += v[i].announce;
		v = NULL;
		free(b->snats);
		b->snats = s;
		b->n_snats = ns;
		b->snat_announced = 0;
		for (uint32_t i = 0; i < ns; i++)
			b->snat_announced += s[i].announce;
		s = NULL;
		pthread_mutex_unlock(&b->mu);
		if (changed || !written || (pending && now >= retry_at)) {
			int rc = cp_bird_write_atomic(bc->include_file, text, msg, sizeof(msg));
			if (rc == 0)
				rc = cp_bird_configure(bc->bird_socket, msg, sizeof(msg));
			double done = cp_mono_ms();
			pthread_mutex_lock(&b->mu);
			free(b->text);
			b->text = text;
			text = NULL;
			b->bird_ok = rc == 0;
			b->configures++;
			if (rc < 0) {
				b->bird_errors++;
				snprintf(b->bird_msg, sizeof(b->bird_msg), "%s", msg);
			} else {
				snprintf(b->bird_msg, sizeof(b->bird_msg), "%s", msg);
				b->last_configure = cp_now_unix();
				if (death_at > 0 && gate == CP_GATE_DP_DOWN) {
					b->last_withdraw_ms = done - death_at;
					death_at = 0;
				}
			}
			pthread_mutex_unlock(&b->mu);
			if (rc < 0)
				fprintf(stderr, "edgelb-cp: bgp: BIRD not reconfigured: %s\n", msg);
			written = true;
			pending = rc < 0;
			retry_at = done + BIRD_RETRY_MS;
		}
		free(text);
	next:
		free(v);
		free(s);
	}
	free_specs(sp, n);
	return NULL;
}

/* ---- status, API, metrics -------------------------------------------------- */

json_t *
cp_bgp_drain_json(struct cp_bgp *b)
{
	json_t *j;

	pthread_mutex_lock(&b->mu);
	if (!b->drained) {
		j = json_pack("{s:s, s:b}", "state", "serving", "drained", 0);
	} else {
		double el = cp_now_unix() - b->drain_since;
		bool timed_out = el >= b->drain_timeout_s;
		const char *state = b->drain_conns == 0 || timed_out ? "drained" : "draining";
		j = json_pack("{s:s, s:b, s:f, s:f, s:i, s:I, s:b, s:i}", "state", state, "drained", 1,
			      "since", b->drain_since, "elapsed_s", el, "timeout_s",
			      (int)b->drain_timeout_s, "connections", (json_int_t)b->drain_conns,
			      "timed_out", timed_out && b->drain_conns != 0, "announced",
			      (int)b->announced);
	}
	pthread_mutex_unlock(&b->mu);
	return j;
}

/* {"name", "join": {...}, "peers": [...], "snat": [...]} (new ref). */
static json_t *
cluster_json(struct cp_bgp *b)
{
	const struct cp_cluster_conf *cl = &b->conf->cluster;
	json_t *peers = json_array(), *snat = json_array(), *j;
	char a[LB_ADDR_STRLEN];

	for (uint32_t p = 0; p < cl->n_peers; p++)
		json_array_append_new(peers, json_pack("{s:s, s:s}", "name", cl->peers[p].name,
						       "sync_address",
						       lb_addr_format(&cl->peers[p].sync_address, a,
								      sizeof(a))));
	pthread_mutex_lock(&b->mu);
	for (uint32_t i = 0; i < b->n_snats; i++) {
		const struct cp_snat *s = &b->snats[i];
		json_t *o = json_pack("{s:s, s:s, s:b}", "address",
				      lb_addr_format(&s->addr, a, sizeof(a)), "owner",
				      s->owner ? s->owner : "self", "announced", s->announce);
		if (!s->announce)
			json_object_set_new(o, "reason", json_string(s->why));
		json_array_append_new(snat, o);
	}
	j = json_pack("{s:s, s:{s:s, s:b, s:i, s:i}, s:o, s:o, s:i}", "name", cl->name, "join",
		      "state", cp_join_name(b->join), "open", cp_join_open(b->join), "bulk_done",
		      b->dp_bulk_done, "timeout_s", (int)cl->join_timeout_s, "peers", peers, "snat",
		      snat, "dp_peers_match", b->dp_peers_match);
	pthread_mutex_unlock(&b->mu);
	return j;
}

json_t *
cp_bgp_status_json(struct cp_bgp *b)
{
	json_t *vips = json_array(), *j;
	char a[LB_ADDR_STRLEN];

	pthread_mutex_lock(&b->mu);
	for (uint32_t i = 0; i < b->n_vips; i++) {
		const struct cp_vip *v = &b->vips[i];
		json_t *o = json_pack("{s:s, s:b, s:b, s:b}", "vip",
				      lb_addr_format(&v->vip, a, sizeof(a)), "announced", v->announce,
				      "ready", v->ready, "always", v->always);
		if (!v->announce)
			json_object_set_new(o, "reason", json_string(v->why));
		json_array_append_new(vips, o);
	}
	j = json_pack("{s:b, s:I, s:I, s:s, s:o, s:i, s:{s:s, s:s, s:b, s:s, s:I, s:I, s:f, s:f}}",
		      "dp_alive", b->dp_alive, "dp_generation", (json_int_t)b->dp_generation,
		      "dp_deaths", (json_int_t)b->dp_deaths, "gate", cp_gate_name(b->gate), "vips",
		      vips, "announced", (int)b->announced, "bird", "socket", b->conf->bgp.bird_socket,
		      "include_file", b->conf->bgp.include_file, "ok", b->bird_ok, "message",
		      b->bird_msg, "configures", (json_int_t)b->configures, "errors",
		      (json_int_t)b->bird_errors, "last_configure", b->last_configure,
		      "last_withdraw_after_dp_death_ms", b->last_withdraw_ms);
	pthread_mutex_unlock(&b->mu);
	json_object_set_new(j, "drain", cp_bgp_drain_json(b));
	json_object_set_new(j, "cluster", cluster_json(b));
	return j;
}

void
cp_bgp_metrics(void *arg, char **buf, size_t *len, size_t *cap)
{
	struct cp_bgp *b = arg;

	pthread_mutex_lock(&b->mu);
	cp_buf_printf(buf, len, cap,
		      "# HELP edgelb_bgp_announced_vips VIPs this box lets BIRD announce.\n"
		      "# TYPE edgelb_bgp_announced_vips gauge\nedgelb_bgp_announced_vips %u\n"
		      "# HELP edgelb_bgp_withheld_vips VIPs not announced (see /v1/bgp for why).\n"
		      "# TYPE edgelb_bgp_withheld_vips gauge\nedgelb_bgp_withheld_vips %u\n"
		      "# HELP edgelb_bgp_dp_alive Whether the bgp thread's dp probe answers.\n"
		      "# TYPE edgelb_bgp_dp_alive gauge\nedgelb_bgp_dp_alive %d\n"
		      "# HELP edgelb_bgp_dp_deaths_total dp deaths or hangs the probe saw.\n"
		      "# TYPE edgelb_bgp_dp_deaths_total counter\nedgelb_bgp_dp_deaths_total %llu\n"
		      "# HELP edgelb_bgp_bird_configures_total BIRD reconfigurations asked.\n"
		      "# TYPE edgelb_bgp_bird_configures_total counter\n"
		      "edgelb_bgp_bird_configures_total %llu\n"
		      "# HELP edgelb_bgp_bird_errors_total BIRD reconfigurations that failed.\n"
		      "# TYPE edgelb_bgp_bird_errors_total counter\nedgelb_bgp_bird_errors_total %llu\n"
		      "# HELP edgelb_drained Whether the box is drained (edgelbctl drain).\n"
		      "# TYPE edgelb_drained gauge\nedgelb_drained %d\n"
		      "# HELP edgelb_bgp_announced_snat_addresses SNAT addresses announced (own and "
		      "backups of peers).\n"
		      "# TYPE edgelb_bgp_announced_snat_addresses gauge\n"
		      "edgelb_bgp_announced_snat_addresses %u\n"
		      "# HELP edgelb_bgp_join_waiting Whether the box waits for its dp's bulk copy "
		      "from peers before announcing.\n"
		      "# TYPE edgelb_bgp_join_waiting gauge\nedgelb_bgp_join_waiting %d\n",
		      b->announced, b->n_vips - b->announced, b->dp_alive ? 1 : 0,
		      (unsigned long long)b->dp_deaths, (unsigned long long)b->configures,
		      (unsigned long long)b->bird_errors, b->drained ? 1 : 0, b->snat_announced,
		      b->join == CP_JOIN_WAITING ? 1 : 0);
	pthread_mutex_unlock(&b->mu);
}

int
cp_bgp_route(void *arg, const char *method, const char *url, const char *body, size_t len,
	     json_t **out, char *err, size_t errlen)
{
	struct cp_bgp *b = arg;
	bool get = strcmp(method, "GET") == 0;

	if (strcmp(url, "/v1/bgp") == 0) {
		if (!get) {
			snprintf(err, errlen, "use GET");
			return 405;
		}
		*out = cp_bgp_status_json(b);
		return 200;
	}
	if (strcmp(url, "/v1/drain") != 0)
		return 0;
	if (get) {
		*out = cp_bgp_drain_json(b);
		return 200;
	}
	bool post = strcmp(method, "POST") == 0, del = strcmp(method, "DELETE") == 0;
	if (!post && !del) {
		snprintf(err, errlen, "use GET, POST (drain) or DELETE (undrain)");
		return 405;
	}
	uint32_t timeout = 0;
	if (post && len > 0) {
		json_error_t je;
		json_t *j = json_loadb(body, len, 0, &je), *t;
		const char *k;
		if (j == NULL || !json_is_object(j)) {
			json_decref(j);
			snprintf(err, errlen, "request body: expected a JSON object");
			return 400;
		}
		json_object_foreach(j, k, t) {
			if (strcmp(k, "timeout_s") != 0 || !json_is_integer(t) ||
			    json_integer_value(t) < 1 || json_integer_value(t) > 86400 * 7) {
				snprintf(err, errlen, strcmp(k, "timeout_s") != 0
							      ? "%s: unknown field (only timeout_s)"
							      : "%s: must be an integer 1..604800",
					 k);
				json_decref(j);
				return 400;
			}
			timeout = (uint32_t)json_integer_value(t);
		}
		json_decref(j);
	}
	if (cp_bgp_drain(b, post, timeout, err, errlen) < 0)
		return 500;
	*out = cp_bgp_drain_json(b);
	return 200;
}

/* ---- start, stop ----------------------------------------------------------- */

struct cp_bgp *
cp_bgp_start(const struct cp_conf *c, struct cp_store *store, struct cp_dpsync *dps, char *err,
	     size_t errlen)
{
	struct cp_bgp *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->conf = c;
	b->store = store;
	b->dps = dps;
	b->fd = -1;
	b->drain_conns = -1;
	b->dp_bulk_done = -1;
	b->dp_peers_match = -1;
	b->join = c->cluster.n_peers ? CP_JOIN_WAITING : CP_JOIN_NONE;
	b->gate = CP_GATE_DP_DOWN;
	snprintf(b->drain_path, sizeof(b->drain_path), "%s.drain", c->state_file);
	pthread_mutex_init(&b->mu, NULL);
	drain_load(b);
	if (pthread_create(&b->th, NULL, run, b) != 0) {
		snprintf(err, errlen, "bgp: cannot start its thread");
		pthread_mutex_destroy(&b->mu);
		free(b);
		return NULL;
	}
	return b;
}

void
cp_bgp_stop(struct cp_bgp *b)
{
	if (b == NULL)
		return;
	b->stop = true;
	pthread_join(b->th, NULL);
	if (b->fd >= 0)
		close(b->fd);
	free(b->vips);
	free(b->snats);
	free(b->text);
	pthread_mutex_destroy(&b->mu);
	free(b);
}
