/*
 * ctl.h - what edgelbctl's command files share: the client, its options, the
 * API call and the printing helpers (cp/ctl/edgelbctl.c), and the commands of
 * cp/ctl/drain.c. One process, one thread.
 */
#ifndef LB_CTL_H
#define LB_CTL_H

#include <stdbool.h>

#include <curl/curl.h>
#include <jansson.h>

#define EXIT_API 1          /* the API answered with an error */
#define EXIT_UNREACHABLE 2  /* no answer at all */
#define EXIT_USAGE 64       /* sysexits.h EX_USAGE */

struct ctl {
	char server[1024];     /* no trailing '/' */
	const char *token;     /* NULL or "" = none */
	bool json;             /* -o json */
	CURL *curl;
};

/* Options of a command line, whichever command they belong to. */
struct opts {
	const char *file;      /* -f */
	const char *lb;        /* conns --lb */
	const char *limit;     /* conns --limit */
	const char *timeout;   /* drain --timeout */
	bool wait;             /* drain --wait */
};

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *jstr(const json_t *o, const char *key);
long long jint(const json_t *o, const char *key);
/* A request whose answer must be 2xx JSON: 0 with *out (new reference), else the exit code. */
int api(struct ctl *c, const char *method, const char *path, const char *body, json_t **out);
void print_json(const json_t *j);

/* drain.c */
int cmd_drain(struct ctl *c, bool on, const char *timeout, bool wait);
int cmd_bgp(struct ctl *c);

#endif /* LB_CTL_H */
