/*
 * http.h - edgelbctl's REST client: one blocking libcurl request at a time to
 * edgelb-cp's API (docs/api.md), bearer token and JSON bodies.
 *
 * Called by the commands (cmd.c) on edgelbctl's one thread.
 */
#ifndef LB_CTL_HTTP_H
#define LB_CTL_HTTP_H

#include <jansson.h>

#include "ctl.h"
#include "out.h"

struct http_answer {
	long status;    /* HTTP status */
	json_t *json;   /* parsed body, NULL when it is not JSON */
	struct sbuf raw;
};

/*
 * One request. Returns 0 with a filled in (whatever the status), or
 * EXIT_UNREACHABLE after saying why on stderr.
 */
int http_request(struct ctl *c, const char *method, const char *path, const char *body,
		 struct http_answer *a);
void http_answer_free(struct http_answer *a);
/* Say why a non-2xx (or unreadable) answer failed; returns EXIT_API. */
int http_report(struct ctl *c, const struct http_answer *a);
/* A request whose answer must be 2xx JSON: 0 with *out (new reference), else the exit code. */
int http_call(struct ctl *c, const char *method, const char *path, const char *body, json_t **out);

#endif /* LB_CTL_HTTP_H */
