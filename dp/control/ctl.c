/*
 * ctl.c - the dp control socket server (see ctl.h, include/lb_ctl_proto.h).
 *
 * Control thread only. One epoll set holds the listening socket and up to
 * LB_CTL_MAX_CLIENTS clients, all non-blocking. Each client has an input buffer
 * that collects one line at a time and an output buffer drained as the socket
 * accepts it, so a slow or vanished reader never blocks the loop. Every request
 * gets exactly one reply line; an over-long line gets an error reply and the
 * connection is closed (we cannot tell where the next message would begin).
 *
 * Replies leave in request order. An upsert's reply waits for its build
 * (ctl_update.c) and holds back the replies after it; a client's other requests
 * wait (its input paused: "stalled") until its upserts are answered. The
 * handlers are in ctl_ops.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_log.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "ctl_priv.h"
#include "dp.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "service.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "ctl: " fmt "\n", ##__VA_ARGS__)

#define READ_CHUNK 65536
#define MAX_OUT (64u << 20)       /* a client that stops reading is dropped past this */
#define EVENTS_PER_POLL 32

int
rerr(struct reply_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- client buffers ---------------------------------------------------- */

void
ctl_client_close(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	if (k == NULL)
		return;
	/* Replies still to come belong to their waiters (ctl_update.c) now. */
	while (k->rq_head) {
		struct reply_slot *rs = k->rq_head;
		k->rq_head = rs->next;
		if (rs->ready) {
			free(rs->line);
			free(rs);
		} else {
			rs->k = NULL;
		}
	}
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	free(k->in);
	free(k->out);
	free(k);
	c->cl[slot] = NULL;
}

static void
set_out_interest(struct lb_ctl *c, int slot, bool want)
{
	struct client *k = c->cl[slot];
	/* A closing client is not read any more, only written to; a stalled one waits. */
	uint32_t events = (k->closing || k->stalled ? 0 : EPOLLIN) | (want ? EPOLLOUT : 0);
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)slot + 1};

	k->want_out = want;
	if (k->events == events)
		return;
	k->events = events;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Write what the socket takes. Returns -1 when the client is gone. */
int
ctl_client_flush(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	while (k->out_off < k->out_len) {
		ssize_t n = send(k->fd, k->out + k->out_off, k->out_len - k->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -1;
		}
		k->out_off += (size_t)n;
	}
	if (k->out_off == k->out_len) {
		k->out_off = k->out_len = 0;
		set_out_interest(c, slot, false);
		return k->closing && k->rq_head == NULL ? -1 : 0;
	}
	set_out_interest(c, slot, true);
	return 0;
}

static int
client_queue(struct client *k, const char *s, size_t n)
{
	if (k->out_len + n + 1 > MAX_OUT)
		return LB_ETOOBIG;
	if (k->out_len + n + 1 > k->out_cap) {
		size_t cap = k->out_cap ? k->out_cap : 4096;
		while (cap < k->out_len + n + 1)
			cap *= 2;
		char *o = realloc(k->out, cap);
		if (o == NULL)
			return LB_ENOMEM;
		k->out = o;
		k->out_cap = cap;
	}
	memcpy(k->out + k->out_len, s, n);
	k->out_len += n;
	k->out[k->out_len++] = '\n';
	return 0;
}

char *
ctl_reply_line(json_t *id, json_t *result, const struct reply_err *e)
{
	json_t *r = json_object();

	json_object_set(r, LB_F_ID, id ? id : json_null());
	json_object_set_new(r, LB_F_OK, json_boolean(e == NULL));
	if (e == NULL) {
		json_object_set_new(r, LB_F_RESULT, result ? result : json_object());
	} else {
		json_object_set_new(r, LB_F_ERROR, json_string(e->msg));
		json_object_set_new(r, LB_F_CODE, json_string(e->code));
		json_decref(result);
	}
	char *s = json_dumps(r, JSON_COMPACT);
	json_decref(r);
	return s;
}

void
ctl_client_queue_line(struct lb_ctl *c, struct client *k, char *line)
{
	(void)c;
	if (line != NULL && k->rq_head == NULL) {
		if (client_queue(k, line, strlen(line)) < 0)
			k->closing = true;
		free(line);
		return;
	}
	if (line != NULL) { /* behind a reply still to come */
		struct reply_slot *rs = calloc(1, sizeof(*rs));
		if (rs == NULL) {
			free(line);
			k->closing = true;
			return;
		}
		rs->k = k;
		rs->line = line;
		rs->len = strlen(line);
		rs->ready = true;
		k->rq_tail->next = rs;
		k->rq_tail = rs;
	}
	while (k->rq_head && k->rq_head->ready) {
		struct reply_slot *rs = k->rq_head;
		k->rq_head = rs->next;
		if (k->rq_head == NULL)
			k->rq_tail = NULL;
		if (rs->line == NULL || client_queue(k, rs->line, rs->len) < 0)
			k->closing = true;
		free(rs->line);
		free(rs);
	}
}

static void
send_reply(struct lb_ctl *c, int slot, json_t *id, json_t *result, const struct reply_err *e)
{
	char *s = ctl_reply_line(id, result, e);

	if (s == NULL)
		c->cl[slot]->closing = true; /* cannot answer: drop the client, not the dp */
	else
		ctl_client_queue_line(c, c->cl[slot], s);
}

/* Returns false when the request must wait (the line stays unread): see stall_for(). */
static bool
handle_line(struct lb_ctl *c, int slot, const char *line, size_t len)
{
	struct reply_err e = {0};
	json_error_t je;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *res = NULL, *id = NULL;
	int rc = -1;

	if (req == NULL || !json_is_object(req)) {
		rerr(&e, LB_CODE_BAD_JSON, req ? "request must be a JSON object"
					       : "malformed JSON at column %d: %s", je.column, je.text);
		goto reply;
	}
	id = json_object_get(req, LB_F_ID);
	json_t *op = json_object_get(req, LB_F_OP);
	if (!json_is_string(op)) {
		rerr(&e, LB_CODE_INVALID, "op: missing or not a string");
		goto reply;
	}
	/*
	 * Upserts go to the builder and are answered when published. Any other
	 * request waits until this client's upserts are answered (it sees their
	 * effect, as when they were built inline), and a delete until no build of
	 * its service is in flight.
	 */
	if (strcmp(json_string_value(op), LB_OP_SERVICE_UPSERT) != 0 &&
	    (c->cl[slot]->n_upd > 0 || ctl_upd_blocks(c, json_string_value(op), req))) {
		json_decref(req);
		return false;
	}
	c->cur = c->cl[slot];
	ctl_op_fn fn = ctl_op_find(json_string_value(op));
	if (fn != NULL)
		rc = fn(c, req, &res, &e);
	else
		rerr(&e, LB_CODE_UNKNOWN_OP, "unknown op '%s'", json_string_value(op));
reply:
	if (rc != CTL_DEFERRED)
		send_reply(c, slot, id, rc == 0 ? res : NULL, rc == 0 ? NULL : &e);
	json_decref(req);
	return true;
}

/* ---- I/O --------------------------------------------------------------- */

/*
 * Handle the complete lines in k->in from offset `from` (the bytes before it had
 * no newline). Stops at a request that must wait: the client stalls, its input
 * paused until ctl_client_resume(). Returns -1 when the client was closed.
 */
static int
process_lines(struct lb_ctl *c, int slot, size_t from)
{
	struct client *k = c->cl[slot];
	size_t start = 0;

	for (size_t i = from; i < k->in_len && !k->closing && !k->stalled; i++) {
		if (k->in[i] != '\n')
			continue;
		if (i - start > LB_CTL_MAX_LINE) {
			/* Its newline came in the same read as its excess: still too long. */
			struct reply_err e;
			rerr(&e, LB_CODE_TOO_LONG, "line longer than %u bytes; closing",
			     LB_CTL_MAX_LINE);
			send_reply(c, slot, NULL, NULL, &e);
			k->closing = true;
		} else if (i > start && !handle_line(c, slot, k->in + start, i - start)) {
			k->stalled = true;
			set_out_interest(c, slot, k->want_out);
			break;
		}
		start = i + 1;
		ctl_upd_publish_done(c);
	}
	if (k->closing) {
		k->in_len = 0;
		return 0;
	}
	memmove(k->in, k->in + start, k->in_len - start);
	k->in_len -= start;
	/* Answer what was asked so far; a client that keeps sending waits for nothing. */
	if (start > 0 && ctl_client_flush(c, slot) < 0) {
		ctl_client_close(c, slot);
		return -1;
	}
	if (!k->stalled && k->in_len > LB_CTL_MAX_LINE) {
		struct reply_err e;
		rerr(&e, LB_CODE_TOO_LONG, "line longer than %u bytes; closing", LB_CTL_MAX_LINE);
		send_reply(c, slot, NULL, NULL, &e);
		k->closing = true;
		k->in_len = 0;
	}
	return 0;
}

void
ctl_client_resume(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	k->stalled = false;
	c->rx_tsc = rte_rdtsc();
	if (process_lines(c, slot, 0) < 0)
		return;
	if (!k->stalled)
		set_out_interest(c, slot, k->want_out); /* reading again */
}

static void
client_read(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	while (!k->stalled) {
		if (k->in_cap - k->in_len < READ_CHUNK) {
			size_t cap = k->in_cap ? k->in_cap * 2 : 2 * READ_CHUNK;
			char *in = realloc(k->in, cap);
			if (in == NULL) {
				ctl_client_close(c, slot);
				return;
			}
			k->in = in;
			k->in_cap = cap;
		}
		ssize_t n = recv(k->fd, k->in + k->in_len, k->in_cap - k->in_len, 0);
		if (n == 0) {
			/*
			 * Peer finished sending (it may still read our replies): an
			 * unterminated last line is discarded, pending replies still go.
			 */
			k->closing = true;
			k->in_len = 0;
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				ctl_client_close(c, slot);
				return;
			}
			break;
		}
		c->rx_tsc = rte_rdtsc();
		size_t scanned = k->in_len;
		k->in_len += (size_t)n;
		if (process_lines(c, slot, scanned) < 0)
			return;
		if (k->closing)
			break;
		/* Shrink a buffer an earlier big message grew. */
		if (k->in_cap > 4 * READ_CHUNK && k->in_len < READ_CHUNK) {
			char *in = realloc(k->in, 2 * READ_CHUNK);
			if (in) {
				k->in = in;
				k->in_cap = 2 * READ_CHUNK;
			}
		}
	}
	if (ctl_client_flush(c, slot) < 0)
		ctl_client_close(c, slot);
}

static void
accept_clients(struct lb_ctl *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int slot = -1;
		for (int i = 0; i < LB_CTL_MAX_CLIENTS; i++)
			if (c->cl[i] == NULL) {
				slot = i;
				break;
			}
		struct client *k = slot >= 0 ? calloc(1, sizeof(*k)) : NULL;
		if (k == NULL) {
			static const char busy[] = "{\"id\":null,\"ok\":false,\"error\":\"too many control "
						   "clients\",\"code\":\"full\"}\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				LOG(DEBUG, "refused client did not take the reply");
			close(fd);
			continue;
		}
		k->fd = fd;
		k->slot = slot;
		k->events = EPOLLIN;
		c->cl[slot] = k;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)slot + 1};
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			ctl_client_close(c, slot);
	}
}

#define EV_BUILDER UINT32_MAX /* epoll data of the builder's eventfd */

/* After builds were published or grace periods ended: send, and go on reading. */
static void
serve_updates(struct lb_ctl *c)
{
	ctl_upd_poll(c);
	for (int slot = 0; slot < LB_CTL_MAX_CLIENTS; slot++) {
		struct client *k = c->cl[slot];
		if (k == NULL)
			continue;
		ctl_client_queue_line(c, k, NULL);
		if (ctl_client_flush(c, slot) < 0) {
			ctl_client_close(c, slot);
			continue;
		}
		if (k->stalled && !k->closing)
			ctl_client_resume(c, slot);
		if (c->cl[slot] && ctl_client_flush(c, slot) < 0)
			ctl_client_close(c, slot);
	}
}

void
lb_ctl_poll(struct lb_ctl *c, int timeout_ms)
{
	struct epoll_event ev[EVENTS_PER_POLL];
	long poll_ns = ctl_upd_poll_ns(c);
	bool updates = poll_ns >= 0;
	/* Parked upserts are answered within poll_ns of their grace period's end. */
	struct timespec ts = {.tv_sec = updates ? 0 : timeout_ms / 1000,
			      .tv_nsec = updates ? poll_ns : (long)(timeout_ms % 1000) * 1000000};
	int n = epoll_pwait2(c->epfd, ev, EVENTS_PER_POLL, &ts, NULL);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == 0) {
			accept_clients(c);
			continue;
		}
		if (ev[i].data.u32 == EV_BUILDER) {
			updates = true;
			continue;
		}
		int slot = (int)ev[i].data.u32 - 1;
		if (c->cl[slot] == NULL)
			continue;
		if (ev[i].events & EPOLLERR) {
			ctl_client_close(c, slot);
			continue;
		}
		if ((ev[i].events & EPOLLOUT) && ctl_client_flush(c, slot) < 0) {
			ctl_client_close(c, slot);
			continue;
		}
		if (ev[i].events & (EPOLLIN | EPOLLHUP)) {
			/* hung up while we waited to write, or while its input waits */
			if (c->cl[slot]->closing || c->cl[slot]->stalled)
				ctl_client_close(c, slot);
			else
				client_read(c, slot);
		}
	}
	/*
	 * Again while a pass published between lines (a resumed client's burst):
	 * that publish read the builder's eventfd, and the clients served earlier
	 * in the pass have replies queued or are stalled on it. Each pass needs a
	 * newer publish, so this ends.
	 */
	for (bool again = updates || c->upd_flush || ctl_upd_poll_ns(c) >= 0; again;
	     again = c->upd_flush) {
		c->upd_flush = false;
		serve_updates(c);
	}
}

static int
mkdir_parents(const char *path)
{
	char dir[LB_PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

struct lb_ctl *
lb_ctl_create(struct lb_dp *dp, char *err, size_t errlen)
{
	struct lb_ctl *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = dp->conf.control_socket;

	if (c == NULL)
		goto nomem;
	c->dp = dp;
	c->lfd = c->epfd = -1;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->svc_gen = calloc(lb_svcs_capacity(dp->svcs), sizeof(*c->svc_gen));
	if (c->svc_gen == NULL)
		goto nomem;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control_socket: path too long");
		goto fail;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (mkdir_parents(path) < 0) {
		snprintf(err, errlen, "control_socket %s: cannot create its directory: %s", path,
			 strerror(errno));
		goto fail;
	}
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		goto sys;
	/* A socket file left by a dp that died is stale: nobody listens on it. */
	unlink(path);
	/*
	 * bind() creates the file with the umask's mode; without this the socket is
	 * world-accessible until the chmod() below (issue 14, finding 10). The
	 * control thread does this at start, before any other thread creates files.
	 */
	mode_t old_umask = umask((mode_t)(~dp->conf.control_socket_mode & 0777));
	int brc = bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (brc < 0)
		goto sys;
	if (chmod(path, dp->conf.control_socket_mode) < 0 || listen(c->lfd, 16) < 0)
		goto sys;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
	if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->lfd, &ev) < 0)
		goto sys;
	if (ctl_upd_create(c, err, errlen) < 0)
		goto fail;
	ev.data.u32 = EV_BUILDER;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, ctl_upd_fd(c), &ev) < 0)
		goto sys;
	LOG(INFO, "listening on %s (mode %04o)", path, dp->conf.control_socket_mode);
	return c;
sys:
	snprintf(err, errlen, "control_socket %s: %s", path, strerror(errno));
	goto fail;
nomem:
	snprintf(err, errlen, "control socket: out of memory");
fail:
	lb_ctl_destroy(c);
	return NULL;
}

void
lb_ctl_destroy(struct lb_ctl *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < LB_CTL_MAX_CLIENTS; i++)
		ctl_client_close(c, i);
	ctl_upd_destroy(c);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->lfd >= 0) {
		close(c->lfd);
		unlink(c->path);
	}
	free(c->svc_gen);
	free(c);
}
