/*
 * ctl.c - the dp control socket server (see ctl.h, include/lb_ctl_proto.h).
 *
 * Control thread only. One epoll set holds the listening socket and up to
 * LB_CTL_MAX_CLIENTS clients, all non-blocking. Each client has an input buffer
 * that collects one line at a time and an output buffer drained as the socket
 * accepts it, so a slow or vanished reader never blocks the loop. Every request
 * gets exactly one reply line; an over-long line gets an error reply and the
 * connection is closed (we cannot tell where the next message would begin).
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

#include "conntrack.h"
#include "ctl.h"
#include "ctl_ops.h"
#include "dp.h"
#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "neigh.h"
#include "service.h"
#include "stats.h"
#include "lb_svc_json.h"
#include "worker.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "ctl: " fmt "\n", ##__VA_ARGS__)

#define READ_CHUNK 65536
#define MAX_OUT (64u << 20)       /* a client that stops reading is dropped past this */
#define EVENTS_PER_POLL 32

struct client {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing;      /* close once out is drained */
	bool want_out;     /* EPOLLOUT registered */
};

struct lb_ctl {
	struct lb_dp *dp;
	int lfd, epfd;
	struct client *cl[LB_CTL_MAX_CLIENTS];
	struct lb_ctl_ops *ops; /* the requests' state (ctl_ops.c) */
	uint64_t rx_tsc;        /* when the line being handled was read */
	char path[LB_PATH_MAX];
};


/* ---- client buffers ---------------------------------------------------- */

static void
client_close(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	if (k == NULL)
		return;
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
	/* A closing client is not read any more, only written to. */
	struct epoll_event ev = {.events = (k->closing ? 0 : EPOLLIN) | (want ? EPOLLOUT : 0),
				 .data.u32 = (uint32_t)slot + 1};

	if (k->want_out == want && !k->closing)
		return;
	k->want_out = want;
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Write what the socket takes. Returns -1 when the client is gone. */
static int
client_flush(struct lb_ctl *c, int slot)
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
		return k->closing ? -1 : 0;
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

/* Queue one reply line; a client we cannot answer is dropped, not the dp. */
static void
queue_reply(struct lb_ctl *c, int slot, char *s)
{
	if (s == NULL || client_queue(c->cl[slot], s, strlen(s)) < 0)
		c->cl[slot]->closing = true;
	free(s);
}

static void
too_long(struct lb_ctl *c, int slot)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "line longer than %u bytes; closing", LB_CTL_MAX_LINE);
	queue_reply(c, slot, lb_ctl_ops_error(LB_CODE_TOO_LONG, msg));
}

/* ---- I/O --------------------------------------------------------------- */

static void
client_read(struct lb_ctl *c, int slot)
{
	struct client *k = c->cl[slot];

	for (;;) {
		if (k->in_cap - k->in_len < READ_CHUNK) {
			size_t cap = k->in_cap ? k->in_cap * 2 : 2 * READ_CHUNK;
			char *in = realloc(k->in, cap);
			if (in == NULL) {
				client_close(c, slot);
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
				client_close(c, slot);
				return;
			}
			break;
		}
		c->rx_tsc = rte_rdtsc();
		size_t scanned = k->in_len;
		k->in_len += (size_t)n;
		/* Handle every complete line in the buffer. */
		size_t start = 0;
		for (size_t i = scanned; i < k->in_len && !k->closing; i++) {
			if (k->in[i] != '\n')
				continue;
			if (i - start > LB_CTL_MAX_LINE) {
				/* Its newline came in the same read as its excess: still too long. */
				too_long(c, slot);
				k->closing = true;
			} else if (i > start) {
				queue_reply(c, slot, lb_ctl_ops_handle(c->ops, k->in + start,
								       i - start, c->rx_tsc));
			}
			start = i + 1;
		}
		if (k->closing) {
			k->in_len = 0;
			break;
		}
		memmove(k->in, k->in + start, k->in_len - start);
		k->in_len -= start;
		/* Answer what was asked so far; a client that keeps sending waits for nothing. */
		if (start > 0 && client_flush(c, slot) < 0) {
			client_close(c, slot);
			return;
		}
		if (k->in_len > LB_CTL_MAX_LINE) {
			too_long(c, slot);
			k->closing = true;
			k->in_len = 0;
			break;
		}
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
	if (client_flush(c, slot) < 0)
		client_close(c, slot);
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
		c->cl[slot] = k;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)slot + 1};
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			client_close(c, slot);
	}
}

void
lb_ctl_poll(struct lb_ctl *c, int timeout_ms)
{
	struct epoll_event ev[EVENTS_PER_POLL];
	int n = epoll_wait(c->epfd, ev, EVENTS_PER_POLL, timeout_ms);

	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == 0) {
			accept_clients(c);
			continue;
		}
		int slot = (int)ev[i].data.u32 - 1;
		if (c->cl[slot] == NULL)
			continue;
		if (ev[i].events & EPOLLERR) {
			client_close(c, slot);
			continue;
		}
		if ((ev[i].events & EPOLLOUT) && client_flush(c, slot) < 0) {
			client_close(c, slot);
			continue;
		}
		if (ev[i].events & (EPOLLIN | EPOLLHUP)) {
			if (c->cl[slot]->closing)
				client_close(c, slot); /* hung up while we waited to write */
			else
				client_read(c, slot);
		}
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
	c->ops = lb_ctl_ops_create(dp);
	if (c->ops == NULL)
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
		client_close(c, i);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->lfd >= 0) {
		close(c->lfd);
		unlink(c->path);
	}
	lb_ctl_ops_destroy(c->ops);
	free(c);
}
