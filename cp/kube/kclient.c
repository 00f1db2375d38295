/*
 * kclient.c - Kubernetes API client (see kclient.h).
 *
 * The kubeconfig YAML is turned into a jansson tree (mappings -> objects,
 * sequences -> arrays, scalars -> strings) with libyaml, then read like JSON.
 */
#include <libgen.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <yaml.h>

#include "kclient.h"
#include "lb_error.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define CALL_TIMEOUT_S 30
#define KEEPALIVE_IDLE_S 10   /* TCP keepalive: first probe after this much silence */
#define KEEPALIVE_INTVL_S 5   /* then one every 5 s; 3 unanswered: the peer is gone */
#define KEEPALIVE_CNT 3
#define USER_TIMEOUT_MS 30000 /* sent data unacknowledged this long: the peer is gone */

struct kc {
	char server[512];
	char ca_file[4096];
	char *ca_pem;            /* certificate-authority-data, decoded */
	size_t ca_len;
	char cert_file[4096], key_file[4096];
	char *cert_pem, *key_pem;
	size_t cert_len, key_len;
	char token[8192];
	char token_file[4096];   /* re-read on every request: bound tokens rotate */
	bool insecure;
};

/* ---- YAML -> JSON ---------------------------------------------------------- */

static json_t *yaml_node(yaml_document_t *d, yaml_node_t *n, int depth);

static json_t *
yaml_node(yaml_document_t *d, yaml_node_t *n, int depth)
{
	if (n == NULL || depth > 32)
		return json_null();
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
	case YAML_SEQUENCE_NODE: {
		json_t *a = json_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
			json_array_append_new(a, yaml_node(d, yaml_document_get_node(d, *i), depth + 1));
		return a;
	}
	case YAML_MAPPING_NODE: {
		json_t *o = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(d, p->key);
			if (k && k->type == YAML_SCALAR_NODE)
				json_object_set_new(o, (const char *)k->data.scalar.value,
						    yaml_node(d, yaml_document_get_node(d, p->value), depth + 1));
		}
		return o;
	}
	default:
		return json_null();
	}
}

static json_t *
yaml_load_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	yaml_parser_t p;
	yaml_document_t d;
	json_t *j = NULL;

	if (f == NULL) {
		snprintf(err, errlen, "kubeconfig %s: cannot open", path);
		return NULL;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	if (!yaml_parser_load(&p, &d)) {
		snprintf(err, errlen, "kubeconfig %s: YAML error at line %zu: %s", path,
			 p.problem_mark.line + 1, p.problem ? p.problem : "?");
	} else {
		j = yaml_node(&d, yaml_document_get_root_node(&d), 0);
		yaml_document_delete(&d);
	}
	yaml_parser_delete(&p);
	fclose(f);
	return j;
}

/* ---- credentials ----------------------------------------------------------- */

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode base64 (whitespace ignored); NULL when malformed. */
static char *
b64decode(const char *s, size_t *out_len)
{
	size_t n = strlen(s);
	char *o = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0;
	size_t k = 0;

	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' || s[i] == '\n' || s[i] == '\r' || s[i] == ' ')
			continue;
		int v = b64val((unsigned char)s[i]);
		if (v < 0) {
			free(o);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)(acc >> bits);
		}
	}
	o[k] = '\0';
	*out_len = k;
	return o;
}

static const json_t *
named(const json_t *list, const char *name, const char *inner)
{
	const json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		if (json_is_string(json_object_get(v, "name")) &&
		    strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
			return json_object_get(v, inner);
	return NULL;
}

/* A file path in a kubeconfig is relative to the kubeconfig's directory. */
static void
path_in(char *out, size_t len, const char *kubeconfig, const char *p)
{
	char d[4096];

	if (p[0] == '/') {
		snprintf(out, len, "%s", p);
		return;
	}
	snprintf(d, sizeof(d), "%s", kubeconfig);
	snprintf(out, len, "%s/%s", dirname(d), p);
}

static int
from_kubeconfig(struct kc *k, const char *path, char *err, size_t errlen)
{
	json_t *cfg = yaml_load_file(path, err, errlen);
	const char *s;
	int rc = LB_EINVAL;

	if (cfg == NULL)
		return LB_EINVAL;
	const char *ctx = json_string_value(json_object_get(cfg, "current-context"));
	const json_t *c = ctx ? named(json_object_get(cfg, "contexts"), ctx, "context") : NULL;
	if (c == NULL) {
		snprintf(err, errlen, "kubeconfig %s: no current-context", path);
		goto out;
	}
	const char *cl = json_string_value(json_object_get(c, "cluster"));
	const char *us = json_string_value(json_object_get(c, "user"));
	const json_t *cluster = cl ? named(json_object_get(cfg, "clusters"), cl, "cluster") : NULL;
	const json_t *user = us ? named(json_object_get(cfg, "users"), us, "user") : NULL;
	if (cluster == NULL || (s = json_string_value(json_object_get(cluster, "server"))) == NULL) {
		snprintf(err, errlen, "kubeconfig %s: context %s names no cluster with a server", path, ctx);
		goto out;
	}
	snprintf(k->server, sizeof(k->server), "%s", s);
	size_t n = strlen(k->server);
	while (n && k->server[n - 1] == '/')
		k->server[--n] = '\0';
	if ((s = json_string_value(json_object_get(cluster, "certificate-authority"))))
		path_in(k->ca_file, sizeof(k->ca_file), path, s);
	if ((s = json_string_value(json_object_get(cluster, "certificate-authority-data"))) &&
	    (k->ca_pem = b64decode(s, &k->ca_len)) == NULL) {
		snprintf(err, errlen, "kubeconfig: certificate-authority-data is not base64");
		goto out;
	}
	s = json_string_value(json_object_get(cluster, "insecure-skip-tls-verify"));
	k->insecure = s && strcmp(s, "true") == 0;
	if (user) {
		if ((s = json_string_value(json_object_get(user, "token"))))
			snprintf(k->token, sizeof(k->token), "%s", s);
		if ((s = json_string_value(json_object_get(user, "tokenFile"))))
			path_in(k->token_file, sizeof(k->token_file), path, s);
		if ((s = json_string_value(json_object_get(user, "client-certificate"))))
			path_in(k->cert_file, sizeof(k->cert_file), path, s);
		if ((s = json_string_value(json_object_get(user, "client-key"))))
			path_in(k->key_file, sizeof(k->key_file), path, s);
		if ((s = json_string_value(json_object_get(user, "client-certificate-data"))) &&
		    (k->cert_pem = b64decode(s, &k->cert_len)) == NULL) {
			snprintf(err, errlen, "kubeconfig: client-certificate-data is not base64");
			goto out;
		}
		if ((s = json_string_value(json_object_get(user, "client-key-data"))) &&
		    (k->key_pem = b64decode(s, &k->key_len)) == NULL) {
			snprintf(err, errlen, "kubeconfig: client-key-data is not base64");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(cfg);
	return rc;
}

static int
in_cluster(struct kc *k, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");

	if (host == NULL || port == NULL) {
		snprintf(err, errlen, "no kubeconfig given and not in a cluster "
				      "(KUBERNETES_SERVICE_HOST/PORT unset)");
		return LB_EINVAL;
	}
	snprintf(k->server, sizeof(k->server), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		 host, port);
	snprintf(k->ca_file, sizeof(k->ca_file), "%s/ca.crt", SA_DIR);
	snprintf(k->token_file, sizeof(k->token_file), "%s/token", SA_DIR);
	return 0;
}

struct kc *
kc_open(const char *kubeconfig, char *err, size_t errlen)
{
	struct kc *k = calloc(1, sizeof(*k));

	if (k == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int rc = kubeconfig && *kubeconfig ? from_kubeconfig(k, kubeconfig, err, errlen)
					   : in_cluster(k, err, errlen);
	if (rc < 0) {
		kc_close(k);
		return NULL;
	}
	return k;
}

void
kc_close(struct kc *k)
{
	if (k == NULL)
		return;
	free(k->ca_pem);
	free(k->cert_pem);
	free(k->key_pem);
	free(k);
}

const char *
kc_server(const struct kc *k)
{
	return k->server;
}

/* ---- requests ---------------------------------------------------------------- */

struct sink {
	char *buf;
	size_t len, cap;
	int (*on_line)(void *arg, const char *line, size_t len);
	void *arg;
	bool aborted;
	volatile bool *stop;
};

static size_t
on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = sz * n;

	if (s->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16384;
		while (cap < s->len + add + 1)
			cap *= 2;
		if (cap > (64u << 20))
			return 0; /* a single object this large is not a Service */
		char *b = realloc(s->buf, cap);
		if (b == NULL)
			return 0;
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, add);
	s->len += add;
	if (s->on_line) {
		size_t start = 0;
		for (size_t i = 0; i < s->len; i++) {
			if (s->buf[i] != '\n')
				continue;
			if (i > start && s->on_line(s->arg, s->buf + start, i - start) != 0) {
				s->aborted = true;
				return 0;
			}
			start = i + 1;
		}
		memmove(s->buf, s->buf + start, s->len - start);
		s->len -= start;
	}
	return add;
}

static int
on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct sink *s = arg;

	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return s->stop && *s->stop ? 1 : 0;
}

/*
 * One handle per thread, reset and reused for every request of that thread: its
 * connection cache keeps the connection to the API server open (keep-alive, or
 * one HTTP/2 connection), instead of a TCP (and TLS) handshake per request.
 * libcurl's share interface cannot share connections between threads safely.
 */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void
tls_free(void *h)
{
	curl_easy_cleanup(h);
}

static void
tls_make(void)
{
	pthread_key_create(&tls_key, tls_free);
}

static CURL *
thread_handle(void)
{
	pthread_once(&tls_once, tls_make);
	CURL *e = pthread_getspecific(tls_key);
	if (e != NULL) {
		curl_easy_reset(e); /* options go, the connection cache stays */
		return e;
	}
	e = curl_easy_init();
	if (e != NULL)
		pthread_setspecific(tls_key, e);
	return e;
}

/* Fewer keepalive probes than the kernel's 9, and a bound on unacknowledged data. */
static int
on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int cnt = KEEPALIVE_CNT, uto = USER_TIMEOUT_MS;

	(void)arg;
	if (purpose == CURLSOCKTYPE_IPCXN) {
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
	}
	return CURL_SOCKOPT_OK;
}

static CURL *
easy(struct kc *k, const char *method, const char *path, struct curl_slist **hdrs, long timeout_s)
{
	CURL *e = thread_handle();
	char url[4096], auth[8300];

	if (e == NULL)
		return NULL;
	/* HTTP/2 over TLS when the server offers it (one connection, many streams). */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, (long)KEEPALIVE_IDLE_S);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, (long)KEEPALIVE_INTVL_S);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_socket);
	snprintf(url, sizeof(url), "%s%s", k->server, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "edgelb-controller/0.1");
	if (k->ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, k->ca_file);
	if (k->ca_pem) {
		struct curl_blob b = {k->ca_pem, k->ca_len, CURL_BLOB_COPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	}
	if (k->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (k->cert_file[0])
		curl_easy_setopt(e, CURLOPT_SSLCERT, k->cert_file);
	if (k->key_file[0])
		curl_easy_setopt(e, CURLOPT_SSLKEY, k->key_file);
	if (k->cert_pem) {
		struct curl_blob b = {k->cert_pem, k->cert_len, CURL_BLOB_COPY};
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (k->key_pem) {
		struct curl_blob b = {k->key_pem, k->key_len, CURL_BLOB_COPY};
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	const char *token = k->token;
	char fresh[8192];
	if (k->token_file[0]) {
		FILE *f = fopen(k->token_file, "r");
		if (f && fgets(fresh, sizeof(fresh), f)) {
			fresh[strcspn(fresh, "\r\n")] = '\0';
			token = fresh;
		}
		if (f)
			fclose(f);
	}
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	if (token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		*hdrs = curl_slist_append(*hdrs, auth);
	}
	return e;
}

/* Retry-After of this thread's last kc_call (the write queue honours it on 429). */
static __thread long last_retry_after;

long
kc_retry_after(void)
{
	return last_retry_after;
}

json_t *
kc_call(struct kc *k, const char *method, const char *path, const json_t *body,
	const char *content_type, long *status, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct sink s = {0};
	char *text = NULL, ct[128];
	json_t *j = NULL;

	CURL *e = easy(k, method, path, &hdrs, CALL_TIMEOUT_S);
	if (e == NULL) {
		snprintf(err, errlen, "libcurl: cannot create a handle");
		return NULL;
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "application/json");
		hdrs = curl_slist_append(hdrs, ct);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, text ? text : "{}");
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
	CURLcode rc = curl_easy_perform(e);
	*status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	curl_off_t ra = 0;
	if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) != CURLE_OK)
		ra = 0;
	last_retry_after = (long)ra;
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s %s%s: %s", method, k->server, path, curl_easy_strerror(rc));
	} else {
		json_error_t je;
		j = json_loadb(s.buf ? s.buf : "", s.len, 0, &je);
		if (j == NULL)
			snprintf(err, errlen, "%s %s: HTTP %ld, answer is not JSON", method, path, *status);
	}
	free(s.buf);
	free(text);
	curl_slist_free_all(hdrs);
	return j; /* e stays: this thread's handle */
}

int
kc_stream(struct kc *k, const char *path, int (*on_line)(void *arg, const char *line, size_t len),
	  void *arg, volatile bool *stop, long timeout_s, long idle_s, long *status, char *err,
	  size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct sink s = {.on_line = on_line, .arg = arg, .stop = stop};

	CURL *e = easy(k, "GET", path, &hdrs, timeout_s);
	if (e == NULL) {
		snprintf(err, errlen, "libcurl: cannot create a handle");
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
	/* The progress callback is how a watch that carries no data notices stop. */
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, &s);
	/*
	 * A watch that carries nothing for idle_s (not even a BOOKMARK) is dead even if
	 * TCP says otherwise (a half-open connection, a stuck proxy): give it up.
	 */
	if (idle_s > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, idle_s);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CURLcode rc = curl_easy_perform(e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*status = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	int ret = 0;
	if (rc == CURLE_OPERATION_TIMEDOUT && t1.tv_sec - t0.tv_sec < timeout_s) {
		snprintf(err, errlen, "watch %s: nothing received for %ld s: reconnecting", path, idle_s);
		ret = -2; /* idle: the caller re-watches at once */
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		ret = 0; /* our own deadline: as good as the server closing the watch */
	} else if (rc != CURLE_OK && !s.aborted && !(stop && *stop)) {
		snprintf(err, errlen, "watch %s: %s", path, curl_easy_strerror(rc));
		ret = -1;
	}
	/* A non-2xx answer is one JSON object (a Status), maybe without a newline. */
	if (ret == 0 && s.len > 0 && on_line && !s.aborted)
		on_line(arg, s.buf, s.len);
	free(s.buf);
	curl_slist_free_all(hdrs);
	return ret; /* libcurl closed the connection of an aborted transfer */
}
