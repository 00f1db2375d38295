/*
 * fuzz_ctl.c - libFuzzer harness for the control socket (dp/control/ctl.c, its
 * ops in ctl_ops.c and ctl_update.c), on a whole dp in process (fuzz_dp.h).
 *
 * The harness is the control socket's one client: it connects to the socket the
 * dp's control loop (lb_ctl_poll, driven here) serves, so lines go through the
 * real reader, the op table, the builder thread and the ordered replies.
 * Input: any bytes, as one request line ('\n' bytes in it become spaces: the
 * socket layer cuts lines there; empty lines get no reply). The dp keeps its state
 * between inputs, as it does between a client's requests: services upserted by
 * one input are there for the next. Oracles:
 *  - every input gets exactly one reply: one line of JSON, an object with "ok";
 *  - a failure carries "code" and "error" strings;
 *  - the reply's "id" is the request's "id" when the request was an object;
 *  - after a service.upsert or service.delete that succeeded, the service table
 *    is consistent: service.list lists what the dp counts, and every listed
 *    service passes the contract's validator.
 * Seeds: the requests of docs/control-protocol.md and tests/dp/case_ctl*.py.
 */
#define _GNU_SOURCE /* sched_getaffinity (pipeline_eal.h) */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fuzz_dp.h"
#include "lb_model.h"
#include "lb_svc_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct lb_ctl *ctl;
static int cfd = -1;
static char sock_path[108];
static char *rbuf;
static size_t rlen, rcap;

static void
remove_socket(void)
{
	unlink(sock_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[512];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	(void)argc;
	(void)argv;
	fz_dp_init("ctl");
	snprintf(sock_path, sizeof(sock_path), "/tmp/edgelb-fuzz-ctl-%d.sock", (int)getpid());
	snprintf(fz_dp.conf.control_socket, sizeof(fz_dp.conf.control_socket), "%s", sock_path);
	ctl = lb_ctl_create(&fz_dp, err, sizeof(err));
	if (ctl == NULL) {
		fprintf(stderr, "fuzz_ctl: %s\n", err);
		exit(1);
	}
	atexit(remove_socket);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("fuzz_ctl: connect");
		exit(1);
	}
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Send one line, run the control loop until its reply line is back (10 s: a hang). */
static char *
exchange(const char *line, size_t len)
{
	char *req = malloc(len + 1);
	size_t off = 0;

	if (req == NULL)
		abort();
	for (size_t i = 0; i < len; i++)
		req[i] = line[i] == '\n' ? ' ' : line[i];
	req[len] = '\n';
	double deadline = now_s() + 10;
	for (;;) {
		if (off <= len) {
			ssize_t w = send(cfd, req + off, len + 1 - off, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				abort(); /* the dp closed a client that sent one short line */
		}
		lb_ctl_poll(ctl, 1);
		if (rcap - rlen < 65536) {
			rcap = rcap ? rcap * 2 : 1 << 20;
			rbuf = realloc(rbuf, rcap);
			if (rbuf == NULL)
				abort();
		}
		ssize_t r = recv(cfd, rbuf + rlen, rcap - rlen, MSG_DONTWAIT);
		if (r == 0)
			abort(); /* the dp hung up */
		if (r > 0)
			rlen += (size_t)r;
		char *nl = rlen ? memchr(rbuf, '\n', rlen) : NULL;
		if (nl != NULL) {
			size_t n = (size_t)(nl - rbuf);
			char *out = malloc(n + 1);
			if (out == NULL)
				abort();
			memcpy(out, rbuf, n);
			out[n] = '\0';
			memmove(rbuf, nl + 1, rlen - n - 1);
			rlen -= n + 1;
			if (rlen != 0)
				abort(); /* one request, one reply: nothing more */
			free(req);
			return out;
		}
		if (now_s() > deadline)
			abort(); /* no reply: the control loop hangs on this input */
	}
}

static json_t *
ask(const char *line, size_t len)
{
	char *r = exchange(line, len);
	json_error_t je;

	json_t *j = json_loads(r, 0, &je);
	free(r);
	if (!json_is_object(j) || !json_is_boolean(json_object_get(j, "ok")))
		abort();
	if (json_is_false(json_object_get(j, "ok")) &&
	    (!json_is_string(json_object_get(j, "code")) ||
	     !json_is_string(json_object_get(j, "error"))))
		abort();
	return j;
}

static void
check_table(void)
{
	static const char list[] = "{\"op\":\"service.list\"}";
	json_t *r = ask(list, sizeof(list) - 1);
	json_t *svcs = json_object_get(json_object_get(r, "result"), "services");
	size_t i;
	json_t *s;

	if (!json_is_array(svcs) || json_array_size(svcs) != lb_svcs_count(fz_dp.svcs))
		abort();
	json_array_foreach(svcs, i, s) {
		struct lb_svc_spec spec;
		char err[512];
		json_t *c = json_deep_copy(s);
		/* what service.list adds to a spec */
		json_object_del(c, "id");
		json_object_del(c, "version");
		json_object_del(c, "table_digest");
		json_object_del(c, "generation");
		json_t *bs = json_object_get(c, "backends");
		size_t k;
		json_t *b;
		json_array_foreach(bs, k, b) {
			json_object_del(b, "neighbour");
			json_object_del(b, "unresolved");
		}
		if (lb_svc_spec_from_json(c, &spec, err, sizeof(err)) != 0)
			abort(); /* the dp lists a service it would refuse */
		lb_svc_spec_free(&spec);
		json_decref(c);
	}
	json_decref(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;

	/* An empty line gets no reply (the reader skips it). */
	if (size == 0)
		return 0;
	json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	json_t *r = ask((const char *)data, size);

	if (json_is_object(req)) {
		json_t *id = json_object_get(req, "id");
		json_t *rid = json_object_get(r, "id");
		if (id != NULL && (rid == NULL || !json_equal(id, rid)))
			abort(); /* the reply does not say which request it answers */
	}
	/* The table check costs a listing: only after a change (keeps each exec fast). */
	bool changed = json_is_true(json_object_get(r, "ok")) &&
		       json_is_string(json_object_get(req, "op")) &&
		       strcmp(json_string_value(json_object_get(req, "op")), "service.list") != 0 &&
		       strncmp(json_string_value(json_object_get(req, "op")), "service.", 8) == 0;
	json_decref(req);
	json_decref(r);
	lb_svcs_reclaim(fz_dp.svcs);
	if (changed)
		check_table();
	return 0;
}
