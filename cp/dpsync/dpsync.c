/*
 * dpsync.c - the dp sync thread and the dp control-socket client (see dpsync.h).
 *
 * Owns the long-lived connection to edgelb-dp and what was last sent on it.
 * Started and stopped by main.c; its thread waits on the store's version
 * (cp_store_wait) and sends full syncs or changes. cp_dpsync_status/stats are
 * read by the API's threads (/healthz, /metrics) under the module's mutex;
 * cp_dpsync_request runs on the caller's thread with a connection of its own.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dpsync.h"
#include "lb_ctl_proto.h"
#include "cptime.h"
#include "lb_error.h"
#include "store.h"
#include "lb_svc_json.h"

#define CALL_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STATS_EVERY_MS 2000

/* ---- a connection: line-buffered JSON requests and replies ----------------- */

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	uint64_t next_id;
};

static int
conn_open(struct conn *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "dp socket path too long");
		return LB_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "dp socket %s: %s", path, strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return LB_EIO;
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one line (without '\n') into a new string; NULL on EOF, error or timeout. */
static char *
read_line(struct conn *c, int timeout_ms)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = malloc(n + 1);
			if (line == NULL)
				return NULL;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return line;
		}
		if (c->cap - c->len < 65536) {
			size_t cap = c->cap ? c->cap * 2 : 131072;
			if (cap > (size_t)LB_CTL_MAX_LINE * 8)
				return NULL;
			char *b = realloc(c->buf, cap);
			if (b == NULL)
				return NULL;
			c->buf = b;
			c->cap = cap;
		}
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pf, 1, timeout_ms);
		if (pr <= 0)
			return NULL;
		ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (r <= 0)
			return NULL;
		c->len += (size_t)r;
	}
}

/* Request -> result object (new reference), or NULL with err. Steals req. */
static json_t *
call(struct conn *c, json_t *req, int timeout_ms, char *err, size_t errlen)
{
	json_object_set_new(req, LB_F_ID, json_integer((json_int_t)++c->next_id));
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (line == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	size_t n = strlen(line);
	line[n] = '\n';
	int rc = send_all(c->fd, line, n + 1);
	free(line);
	if (rc < 0) {
		snprintf(err, errlen, "dp socket: send: %s", strerror(errno));
		return NULL;
	}
	char *reply = read_line(c, timeout_ms);
	if (reply == NULL) {
		snprintf(err, errlen, "dp socket: no reply (closed or timed out)");
		return NULL;
	}
	json_error_t je;
	json_t *r = json_loads(reply, 0, &je);
	free(reply);
	if (r == NULL || !json_is_object(r)) {
		json_decref(r);
		snprintf(err, errlen, "dp socket: malformed reply");
		return NULL;
	}
	if (!json_is_true(json_object_get(r, LB_F_OK))) {
		snprintf(err, errlen, "dp: %s", json_string_value(json_object_get(r, LB_F_ERROR))
					     ? json_string_value(json_object_get(r, LB_F_ERROR))
					     : "error");
		json_decref(r);
		return NULL;
	}
	json_t *res = json_incref(json_object_get(r, LB_F_RESULT));
	json_decref(r);
	return res ? res : json_object();
}

json_t *
cp_dpsync_request(const char *dp_socket, json_t *req, int timeout_ms, char *err, size_t errlen)
{
	struct conn c;

	if (conn_open(&c, dp_socket, err, errlen) < 0) {
		json_decref(req);
		return NULL;
	}
	json_t *r = call(&c, req, timeout_ms, err, errlen);
	conn_close(&c);
	return r;
}

/* ---- the sync thread ------------------------------------------------------- */

struct cp_dpsync {
	pthread_t th;
	struct cp_store *store;
	char path[4096];
	volatile bool stop;
	pthread_mutex_t mu;           /* guards st and stats */
	struct cp_dpsync_status st;
	json_t *stats;
	json_t *sent;                 /* key -> service JSON text last sent */
};

static void
key_of(const struct lb_svc_spec *s, char *buf, size_t len)
{
	char a[LB_ADDR_STRLEN];

	snprintf(buf, len, "%s|%u|%s", lb_addr_format(&s->vip, a, sizeof(a)), s->port,
		 lb_proto_name(s->proto));
}

static json_t *
upsert_req(const struct lb_svc_spec *s)
{
	json_t *req = json_pack("{s:s}", LB_F_OP, LB_OP_SERVICE_UPSERT);
	json_object_set_new(req, LB_F_SERVICE, lb_svc_spec_to_json(s));
	return req;
}

static void
free_specs(struct lb_svc_spec *sp, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		lb_svc_spec_free(&sp[i]);
	free(sp);
}

static void
count_error(struct cp_dpsync *d, const char *err)
{
	pthread_mutex_lock(&d->mu);
	d->st.errors++;
	d->st.connected = false;
	pthread_mutex_unlock(&d->mu);
	fprintf(stderr, "edgelb-cp: dp sync: %s\n", err);
}

/* Full sync: every service under a new generation. */
static int
full_sync(struct cp_dpsync *d, struct conn *c, uint64_t *version, char *err, size_t errlen)
{
	struct lb_svc_spec *sp = NULL;
	uint32_t n = 0;
	json_t *r;
	/* Unique across cp restarts too: the dp compares sync.end with sync.begin. */
	uint64_t gen = (uint64_t)(cp_now_unix() * 1000.0);

	if (cp_store_dp_specs(d->store, &sp, &n, version) < 0) {
		snprintf(err, errlen, "out of memory");
		return LB_ENOMEM;
	}
	r = call(c, json_pack("{s:s, s:I}", LB_F_OP, LB_OP_SYNC_BEGIN, LB_F_GENERATION, (json_int_t)gen),
		 CALL_TIMEOUT_MS, err, errlen);
	if (r == NULL)
		goto fail;
	json_decref(r);
	json_object_clear(d->sent);
	for (uint32_t i = 0; i < n; i++) {
		char k[128];
		json_t *req = upsert_req(&sp[i]);
		char *text = json_dumps(json_object_get(req, LB_F_SERVICE), JSON_COMPACT | JSON_SORT_KEYS);
		r = call(c, req, CALL_TIMEOUT_MS, err, errlen);
		if (r == NULL) {
			free(text);
			goto fail;
		}
		json_decref(r);
		key_of(&sp[i], k, sizeof(k));
		json_object_set_new(d->sent, k, json_string(text ? text : ""));
		free(text);
	}
	r = call(c, json_pack("{s:s, s:I}", LB_F_OP, LB_OP_SYNC_END, LB_F_GENERATION, (json_int_t)gen),
		 CALL_TIMEOUT_MS, err, errlen);
	if (r == NULL)
		goto fail;
	json_decref(r);
	pthread_mutex_lock(&d->mu);
	d->st.connected = true;
	d->st.generation = gen;
	d->st.full_syncs++;
	d->st.last_sync_unix = cp_now_unix();
	d->st.services = n;
	d->st.store_version = *version;
	pthread_mutex_unlock(&d->mu);
	free_specs(sp, n);
	return 0;
fail:
	free_specs(sp, n);
	return LB_EIO;
}

/* Send what changed since the last sync: upserts, then deletes. */
static int
incremental(struct cp_dpsync *d, struct conn *c, uint64_t *version, char *err, size_t errlen)
{
	struct lb_svc_spec *sp = NULL;
	uint32_t n = 0, sent = 0;
	json_t *now = json_object(), *r;
	const char *k;
	json_t *v;
	void *tmp;

	if (cp_store_dp_specs(d->store, &sp, &n, version) < 0) {
		json_decref(now);
		snprintf(err, errlen, "out of memory");
		return LB_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		char key[128];
		json_t *req = upsert_req(&sp[i]);
		char *text = json_dumps(json_object_get(req, LB_F_SERVICE), JSON_COMPACT | JSON_SORT_KEYS);
		key_of(&sp[i], key, sizeof(key));
		json_object_set_new(now, key, json_string(text ? text : ""));
		json_t *old = json_object_get(d->sent, key);
		if (old && text && strcmp(json_string_value(old), text) == 0) {
			json_decref(req);
		} else if ((r = call(c, req, CALL_TIMEOUT_MS, err, errlen)) == NULL) {
			free(text);
			goto fail;
		} else {
			json_decref(r);
			sent++;
		}
		free(text);
	}
	json_object_foreach_safe(d->sent, tmp, k, v) {
		if (json_object_get(now, k))
			continue;
		char vip[LB_ADDR_STRLEN], proto[8];
		unsigned port;
		if (sscanf(k, "%63[^|]|%u|%7s", vip, &port, proto) != 3)
			continue;
		r = call(c, json_pack("{s:s, s:s, s:i, s:s}", LB_F_OP, LB_OP_SERVICE_DELETE, LB_F_VIP, vip,
				      LB_F_PORT, (int)port, LB_F_PROTOCOL, proto),
			 CALL_TIMEOUT_MS, err, errlen);
		if (r == NULL && strstr(err, "no service") == NULL)
			goto fail;
		json_decref(r);
		sent++;
	}
	json_decref(d->sent);
	d->sent = now;
	pthread_mutex_lock(&d->mu);
	d->st.updates += sent;
	d->st.services = n;
	d->st.store_version = *version;
	pthread_mutex_unlock(&d->mu);
	free_specs(sp, n);
	return 0;
fail:
	json_decref(now);
	free_specs(sp, n);
	return LB_EIO;
}

static void *
run(void *arg)
{
	struct cp_dpsync *d = arg;
	int backoff = BACKOFF_MIN_MS;
	char err[512];

	/* Kubernetes mode: not before the controller knows every Service's backends. */
	while (!d->stop && !cp_store_ready(d->store))
		cp_nap(&d->stop, 100);
	while (!d->stop) {
		struct conn c;
		uint64_t version = 0;

		if (conn_open(&c, d->path, err, sizeof(err)) < 0) {
			count_error(d, err);
			cp_nap(&d->stop, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		json_t *r = call(&c, json_pack("{s:s, s:i, s:s}", LB_F_OP, LB_OP_HELLO, LB_F_VERSION,
					       LB_CTL_PROTOCOL_VERSION, LB_F_CLIENT, "edgelb-cp"),
				 CALL_TIMEOUT_MS, err, sizeof(err));
		if (r == NULL || full_sync(d, &c, &version, err, sizeof(err)) < 0) {
			json_decref(r);
			count_error(d, err);
			conn_close(&c);
			cp_nap(&d->stop, backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		json_decref(r);
		fprintf(stderr, "edgelb-cp: dp synced (generation %llu)\n",
			(unsigned long long)d->st.generation);
		backoff = BACKOFF_MIN_MS;
		struct timespec last;
		clock_gettime(CLOCK_MONOTONIC, &last);
		last.tv_sec -= 10; /* stats right away */
		while (!d->stop) {
			cp_store_wait(d->store, version, 200);
			if (d->stop)
				break;
			if (cp_store_version(d->store) != version &&
			    incremental(d, &c, &version, err, sizeof(err)) < 0)
				break;
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - last.tv_sec) * 1000 + (t.tv_nsec - last.tv_nsec) / 1000000 >=
			    STATS_EVERY_MS) {
				last = t;
				json_t *s = call(&c, json_pack("{s:s}", LB_F_OP, LB_OP_STATS_GET),
						 CALL_TIMEOUT_MS, err, sizeof(err));
				if (s == NULL)
					break;
				pthread_mutex_lock(&d->mu);
				json_decref(d->stats);
				d->stats = s;
				pthread_mutex_unlock(&d->mu);
			}
		}
		if (!d->stop)
			count_error(d, err);
		conn_close(&c);
	}
	return NULL;
}

struct cp_dpsync *
cp_dpsync_start(struct cp_store *store, const char *dp_socket, char *err, size_t errlen)
{
	struct cp_dpsync *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->store = store;
	snprintf(d->path, sizeof(d->path), "%s", dp_socket);
	pthread_mutex_init(&d->mu, NULL);
	d->sent = json_object();
	if (pthread_create(&d->th, NULL, run, d) != 0) {
		snprintf(err, errlen, "cannot start the dp sync thread");
		json_decref(d->sent);
		free(d);
		return NULL;
	}
	return d;
}

void
cp_dpsync_stop(struct cp_dpsync *d)
{
	if (d == NULL)
		return;
	d->stop = true;
	pthread_join(d->th, NULL);
	json_decref(d->stats);
	json_decref(d->sent);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void
cp_dpsync_status(struct cp_dpsync *d, struct cp_dpsync_status *st)
{
	pthread_mutex_lock(&d->mu);
	*st = d->st;
	pthread_mutex_unlock(&d->mu);
}

json_t *
cp_dpsync_stats(struct cp_dpsync *d)
{
	pthread_mutex_lock(&d->mu);
	json_t *s = json_incref(d->stats);
	pthread_mutex_unlock(&d->mu);
	return s;
}
