/*
 * http.c - edgelbctl's REST client (see http.h).
 *
 * Called by the commands (cmd.c) on edgelbctl's one thread; uses the one curl
 * handle of struct ctl, reset before each request. Nothing is cached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "http.h"

#define MAX_REPLY (512u << 20)
#define CONNECT_TIMEOUT_MS 5000L
#define TIMEOUT_MS 60000L

/* ---- HTTP ----------------------------------------------------------------- */

static size_t
on_data(char *ptr, size_t size, size_t n, void *arg)
{
	struct sbuf *b = arg;

	if (b->len + size * n > MAX_REPLY)
		return 0; /* aborts the transfer */
	out_put(b, ptr, size * n);
	return b->overflow ? 0 : size * n;
}

void
http_answer_free(struct http_answer *a)
{
	json_decref(a->json);
	free(a->raw.p);
	memset(a, 0, sizeof(*a));
}

/*
 * One request. Returns 0 with a filled in (whatever the status), or
 * EXIT_UNREACHABLE after saying why on stderr.
 */
int
http_request(struct ctl *c, const char *method, const char *path, const char *body,
	     struct http_answer *a)
{
	char url[2048], errbuf[CURL_ERROR_SIZE] = "", auth[1100];
	struct curl_slist *h = NULL;
	CURLcode rc;

	memset(a, 0, sizeof(*a));
	snprintf(url, sizeof(url), "%s%s", c->server, path);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &a->raw);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "edgelbctl/" EDGELB_VERSION);
	h = curl_slist_append(h, "Accept: application/json");
	/* no "Expect: 100-continue" round trip for large bodies */
	h = curl_slist_append(h, "Expect:");
	if (c->token && c->token[0]) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, auth);
	}
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "edgelbctl: cannot reach edgelb-cp at %s: %s\n", c->server,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
		free(a->raw.p);
		memset(a, 0, sizeof(*a));
		return EXIT_UNREACHABLE;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &a->status);
	if (a->raw.len > 0)
		a->json = json_loadb(a->raw.p, a->raw.len, 0, NULL);
	return 0;
}

/* Say why a non-2xx (or unreadable) answer failed; returns EXIT_API. */
int
http_report(struct ctl *c, const struct http_answer *a)
{
	const char *msg = json_string_value(json_object_get(a->json, "error"));

	if (msg) {
		fprintf(stderr, "edgelbctl: %s", msg);
		if (a->status == 401 && !(c->token && c->token[0]))
			fprintf(stderr, " (give --token or set EDGELB_TOKEN)");
		fputc('\n', stderr);
	} else if (a->status >= 200 && a->status < 300) {
		fprintf(stderr, "edgelbctl: %s answered HTTP %ld with a body that is not JSON\n",
			c->server, a->status);
	} else {
		/* not our API's JSON: a proxy, another server on the port */
		const char *s = out_str(&a->raw);
		int n = (int)strcspn(s, "\r\n");
		fprintf(stderr, "edgelbctl: %s answered HTTP %ld%s%.*s\n", c->server, a->status,
			n ? ": " : "", n > 200 ? 200 : n, s);
	}
	return EXIT_API;
}

/* A request whose answer must be 2xx JSON: 0 with *out (new reference), else the exit code. */
int
http_call(struct ctl *c, const char *method, const char *path, const char *body, json_t **out)
{
	struct http_answer a;
	int rc = http_request(c, method, path, body, &a);

	*out = NULL;
	if (rc != 0)
		return rc;
	if (a.status < 200 || a.status >= 300 || a.json == NULL) {
		rc = http_report(c, &a);
		http_answer_free(&a);
		return rc;
	}
	*out = a.json;
	a.json = NULL;
	http_answer_free(&a);
	return 0;
}
