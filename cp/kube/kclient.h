/*
 * kclient.h - a small Kubernetes API client over libcurl: credentials, requests,
 * and streaming watches.
 *
 * Credentials come from a kubeconfig file (the subset real ones use: the
 * current-context's cluster server, certificate-authority(-data),
 * insecure-skip-tls-verify, and its user's token / tokenFile /
 * client-certificate(-data) / client-key(-data)), parsed with libyaml, or from
 * the in-cluster service account (/var/run/secrets/kubernetes.io/serviceaccount,
 * KUBERNETES_SERVICE_HOST/PORT). Thread-safe: each thread reuses its own handle
 * (and so its connection); TCP keepalive on every connection.
 */
#ifndef LB_CP_KCLIENT_H
#define LB_CP_KCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct kc;

/* kubeconfig path, or "" for in-cluster credentials. */
struct kc *kc_open(const char *kubeconfig, char *err, size_t errlen);
void kc_close(struct kc *k);
const char *kc_server(const struct kc *k);

/*
 * One request. body may be NULL; content_type defaults to application/json.
 * Returns the decoded answer (new reference; for error statuses the Status
 * object) and *status the HTTP status, or NULL with err set when no HTTP answer
 * came (connection, TLS, timeout) or it was not JSON.
 */
json_t *kc_call(struct kc *k, const char *method, const char *path, const json_t *body,
		const char *content_type, long *status, char *err, size_t errlen);

/* Seconds of the Retry-After header of this thread's last kc_call (0: none). */
long kc_retry_after(void);

/*
 * A watch (or any streaming GET): calls on_line for every '\n'-terminated line
 * until the server ends the stream, on_line returns non-zero, *stop becomes true,
 * or timeout_s passes. Returns 0 when the stream ended normally (check *status),
 * -2 when nothing at all came for idle_s (> 0; a half-open connection: err says
 * so), or -1 with err set.
 */
int kc_stream(struct kc *k, const char *path, int (*on_line)(void *arg, const char *line, size_t len),
	      void *arg, volatile bool *stop, long timeout_s, long idle_s, long *status, char *err,
	      size_t errlen);

#endif /* LB_CP_KCLIENT_H */
