/*
 * ctl_priv.h - what ctl.c (socket I/O, the ops) and ctl_update.c (service.upsert
 * through the builder thread, deferred replies) share. Control thread only.
 */
#ifndef LB_CTL_PRIV_H
#define LB_CTL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ctl.h"
#include "lb_ctl_proto.h"
#include "config.h"
#include "lb_model.h"

struct lb_dp;
struct lb_svcb;

/*
 * A reply in a client's queue. Replies leave in request order: one that waits
 * for a build or a grace period holds back those after it. A slot whose client
 * is gone (k NULL) is freed by whoever fills it.
 */
struct reply_slot {
	struct reply_slot *next;
	struct client *k;
	char *line;
	size_t len;
	bool ready;
};

struct client {
	int fd;
	int slot;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing;      /* close once out is drained */
	bool want_out;     /* EPOLLOUT wanted */
	uint32_t events;   /* what epoll watches for it now */
	bool stalled;      /* a request waits for this client's upserts: input paused */
	uint32_t n_upd;    /* upserts submitted and not answered yet */
	struct reply_slot *rq_head, *rq_tail; /* replies held back behind a deferred one */
};

struct upd_wait;

struct lb_ctl {
	struct lb_dp *dp;
	int lfd, epfd;
	struct client *cl[LB_CTL_MAX_CLIENTS];
	uint64_t generation;   /* of the latest sync.begin */
	uint64_t *svc_gen;     /* per service id: generation of its last upsert */
	uint64_t rx_tsc;       /* when the line being handled was read */
	struct client *cur;    /* whose request is being handled */
	struct lb_svcb *svcb;  /* the builder thread (ctl_update.c) */
	struct upd_wait *grace_head, *grace_tail; /* published, waiting for a grace period */
	bool upd_flush;        /* published between lines: serve_updates() before sleeping */
	char path[LB_PATH_MAX];
};

/* A handler fills *result, or returns an error with code and message set. */
struct reply_err {
	const char *code;
	char msg[512];
};

typedef int (*ctl_op_fn)(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e);
/* ctl_ops.c: the handler of an op, NULL when unknown. */
ctl_op_fn ctl_op_find(const char *name);

#define CTL_DEFERRED 1 /* a handler's return: the reply comes later (ctl_update.c) */

int rerr(struct reply_err *e, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The reply line for id: result, or the error e. Takes result. NULL: out of memory. */
char *ctl_reply_line(json_t *id, json_t *result, const struct reply_err *e);
/* Queue a finished line on the client behind any held-back reply; flushes. */
void ctl_client_queue_line(struct lb_ctl *c, struct client *k, char *line);
int ctl_client_flush(struct lb_ctl *c, int slot);
void ctl_client_close(struct lb_ctl *c, int slot);
/* Input paused by a barrier may go on: handle what is buffered. */
void ctl_client_resume(struct lb_ctl *c, int slot);

/* ctl_update.c */
int ctl_upd_create(struct lb_ctl *c, char *err, size_t errlen);
void ctl_upd_destroy(struct lb_ctl *c);
int ctl_upd_fd(const struct lb_ctl *c);
int op_service_upsert(struct lb_ctl *c, const json_t *req, json_t **res, struct reply_err *e);
/* Must this request wait for builds in flight (service.delete of a service being built)? */
bool ctl_upd_blocks(const struct lb_ctl *c, const char *op, const json_t *req);
/* Publish finished builds; answer upserts whose grace period ended. */
void ctl_upd_poll(struct lb_ctl *c);
/* Between two requests of a burst: publish the builds finished meanwhile. */
void ctl_upd_publish_done(struct lb_ctl *c);
/* While upserts wait for a grace period, the control loop's period in ns; else -1. */
long ctl_upd_poll_ns(const struct lb_ctl *c);

#endif /* LB_CTL_PRIV_H */
