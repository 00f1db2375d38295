/*
 * health.c - active health checks of backends (both modes: in Kubernetes mode
 * only node backends of externalTrafficPolicy Local Services have a check).
 *
 * One thread drives every check concurrently through a libcurl multi handle:
 * a TCP check is a connect (CURLOPT_CONNECT_ONLY), an HTTP check a GET that must
 * answer 2xx or 3xx, on the check's port when it has one (a node's
 * healthCheckNodePort), and with expect LOCAL_ENDPOINTS a JSON body (jansson)
 * whose "localEndpoints" is > 0, as kube-proxy's health server answers. rise consecutive successes mark a backend up, fall
 * consecutive failures mark it down; the store bumps its version and the dp
 * sync thread sends the backend as "down" (no new flows; established flows keep
 * going) or back as its requested state. Nothing here blocks the API.
 * Started and stopped by main.c; it reads its targets from
 * the store (cp_store_hc_targets) whenever the store's version moves.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "health.h"
#include "lb_error.h"
#include "store.h"

#define TICK_MS 50
#define BODY_MAX 4096 /* kube-proxy's answer is ~150 bytes */

struct body {
	size_t len;
	char b[BODY_MAX];
};

struct check {
	struct cp_hc_target t;
	uint64_t due_ms;
	uint32_t ok_run, fail_run;
	uint8_t state;  /* 0 unknown, 1 up, 2 down */
	CURL *easy;     /* in flight */
	struct body *body; /* of the check in flight, when the body is checked */
	bool seen;      /* still a target after the last refresh */
};

struct cp_health {
	pthread_t th;
	struct cp_store *store;
	volatile bool stop;
	CURLM *multi;
	struct check *c;
	uint32_t n;
	uint64_t version;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
same_target(const struct cp_hc_target *a, const struct cp_hc_target *b)
{
	return strcmp(a->key, b->key) == 0 && lb_addr_eq(&a->addr, &b->addr) && a->port == b->port;
}

static void
drop_check(struct cp_health *h, struct check *c)
{
	if (c->easy) {
		curl_multi_remove_handle(h->multi, c->easy);
		curl_easy_cleanup(c->easy);
		c->easy = NULL;
	}
	free(c->body);
	c->body = NULL;
}

/* Take the store's current targets, keeping the state of those that stay. */
static void
refresh(struct cp_health *h)
{
	struct cp_hc_target *t = NULL;
	uint32_t n = 0;
	uint64_t v;

	if (cp_store_hc_targets(h->store, &t, &n, &v) < 0)
		return;
	struct check *nc = calloc(n ? n : 1, sizeof(*nc));
	if (nc == NULL) {
		free(t);
		return;
	}
	for (uint32_t i = 0; i < h->n; i++)
		h->c[i].seen = false;
	for (uint32_t i = 0; i < n; i++) {
		nc[i].t = t[i];
		for (uint32_t j = 0; j < h->n; j++)
			if (!h->c[j].seen && same_target(&h->c[j].t, &t[i])) {
				nc[i] = h->c[j];
				nc[i].t = t[i]; /* settings may have changed */
				if (nc[i].easy) /* a check in flight now reports to its new place */
					curl_easy_setopt(nc[i].easy, CURLOPT_PRIVATE, &nc[i]);
				h->c[j].seen = true;
				break;
			}
	}
	for (uint32_t j = 0; j < h->n; j++)
		if (!h->c[j].seen)
			drop_check(h, &h->c[j]);
	free(h->c);
	free(t);
	h->c = nc;
	h->n = n;
	h->version = v;
}

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* Keeps the first BODY_MAX bytes; a longer answer fails the check (not kube-proxy's). */
static size_t
keep(char *p, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;

	if (b->len + sz * n > sizeof(b->b))
		return 0;
	memcpy(b->b + b->len, p, sz * n);
	b->len += sz * n;
	return sz * n;
}

/* kube-proxy: {"service": {...}, "localEndpoints": N, "serviceProxyHealthy": true} */
static bool
local_endpoints(const struct body *b)
{
	json_t *j = b ? json_loadb(b->b, b->len, 0, NULL) : NULL;
	const json_t *n = json_object_get(j, "localEndpoints");
	bool ok = json_is_integer(n) && json_integer_value(n) > 0;

	json_decref(j);
	return ok;
}

static void
start(struct cp_health *h, struct check *c, uint64_t now)
{
	char url[512], a[LB_ADDR_STRLEN];
	CURL *e = curl_easy_init();

	c->due_ms = now + c->t.hc.interval_ms;
	if (e == NULL)
		return;
	lb_addr_format(&c->t.addr, a, sizeof(a));
	snprintf(url, sizeof(url), c->t.addr.family == LB_AF_INET6 ? "http://[%s]:%u%s" : "http://%s:%u%s",
		 a, c->t.port, c->t.hc.type == CP_HC_HTTP ? c->t.hc.path : "/");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->t.hc.timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->t.hc.timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	if (c->t.hc.type == CP_HC_HTTP && c->t.hc.expect != CP_HC_EXPECT_NONE &&
	    (c->body = calloc(1, sizeof(*c->body))) != NULL) {
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, c->body);
	}
	curl_easy_setopt(e, CURLOPT_USERAGENT, "edgelb-healthcheck/1");
	if (c->t.hc.type == CP_HC_TCP)
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	c->easy = e;
	curl_multi_add_handle(h->multi, e);
}

static void
finish(struct cp_health *h, CURL *e, CURLcode res)
{
	struct check *c = NULL;
	long code = 0;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(h->multi, e);
	curl_easy_cleanup(e);
	if (c == NULL)
		return;
	c->easy = NULL;
	bool ok = res == CURLE_OK && (c->t.hc.type == CP_HC_TCP || (code >= 200 && code < 400));
	if (ok && c->t.hc.type == CP_HC_HTTP && c->t.hc.expect == CP_HC_EXPECT_LOCAL_ENDPOINTS)
		ok = local_endpoints(c->body);
	free(c->body);
	c->body = NULL;
	uint8_t before = c->state;
	if (ok) {
		c->fail_run = 0;
		if (++c->ok_run >= c->t.hc.rise)
			c->state = 1;
	} else {
		c->ok_run = 0;
		if (++c->fail_run >= c->t.hc.fall)
			c->state = 2;
	}
	if (c->state != before && c->state != 0) {
		char a[LB_ADDR_STRLEN];
		fprintf(stderr, "edgelb-cp: health: %s backend %s port %u is %s\n", c->t.key,
			lb_addr_format(&c->t.addr, a, sizeof(a)), c->t.port,
			c->state == 1 ? "up" : "down");
		cp_store_set_health(h->store, c->t.key, &c->t.addr, c->t.port, c->state);
	}
}

static void *
run(void *arg)
{
	struct cp_health *h = arg;

	while (!h->stop) {
		if (cp_store_version(h->store) != h->version)
			refresh(h);
		uint64_t now = now_ms();
		for (uint32_t i = 0; i < h->n; i++)
			if (h->c[i].easy == NULL && h->c[i].due_ms <= now)
				start(h, &h->c[i], now);
		int running;
		curl_multi_perform(h->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(h->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE)
				finish(h, m->easy_handle, m->data.result);
		curl_multi_poll(h->multi, NULL, 0, TICK_MS, NULL);
	}
	return NULL;
}

struct cp_health *
cp_health_start(struct cp_store *store, char *err, size_t errlen)
{
	struct cp_health *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->multi = curl_multi_init()) == NULL) {
		free(h);
		snprintf(err, errlen, "health checks: cannot initialise libcurl");
		return NULL;
	}
	h->store = store;
	if (pthread_create(&h->th, NULL, run, h) != 0) {
		curl_multi_cleanup(h->multi);
		free(h);
		snprintf(err, errlen, "health checks: cannot start the thread");
		return NULL;
	}
	return h;
}

void
cp_health_stop(struct cp_health *h)
{
	if (h == NULL)
		return;
	h->stop = true;
	pthread_join(h->th, NULL);
	for (uint32_t i = 0; i < h->n; i++)
		drop_check(h, &h->c[i]);
	free(h->c);
	curl_multi_cleanup(h->multi);
	free(h);
}
