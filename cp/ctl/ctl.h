/*
 * ctl.h - edgelbctl, the operator's command line: what its files share.
 *
 *   main.c  options, the command words, usage, exit status
 *   cmd.c   the commands (cmd.h): one REST request or a few each, then output
 *   show.c  load balancers as text (show.h)
 *   http.c  the REST client over libcurl (http.h)
 *   out.c   text output: growing strings, aligned tables, JSON fields (out.h)
 *   drain.c drain, undrain, bgp: the box's BGP announcements (cmd.h)
 *
 * One process, one thread, one request at a time. Exits only from main().
 */
#ifndef LB_CTL_H
#define LB_CTL_H

#include <stdbool.h>

#include <curl/curl.h>

#ifndef EDGELB_VERSION
#define EDGELB_VERSION "unknown"
#endif

#define EXIT_API 1          /* the API answered with an error */
#define EXIT_UNREACHABLE 2  /* no answer at all */
#define EXIT_USAGE 64       /* sysexits.h EX_USAGE */
#define LABEL_MAX 63        /* a namespace or a name: a DNS label */

struct ctl {
	char server[1024];     /* no trailing '/' */
	const char *token;     /* NULL or "" = none */
	bool json;             /* -o json */
	CURL *curl;
};

/* Print "edgelbctl: <message>" and a hint to stderr; returns EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LB_CTL_H */
