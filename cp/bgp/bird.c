/*
 * bird.c - BIRD 2's control socket and the include file edgelb-cp writes for it
 * (see bird.h). Called by the bgp thread (cp/bgp/bgp.c) and by the one-shot
 * `edgelb-cp --withdraw`; keeps no state.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "announce.h"
#include "bird.h"
#include "cpconf.h"
#include "cptime.h"
#include "lb_error.h"

#define BIRD_TIMEOUT_MS 3000

/* ---- BIRD's control socket ------------------------------------------------
 * The birdc protocol: the server greets with "0001 BIRD x ready."; each reply
 * is lines "DDDD-text" (more follow), " text" (continuation) and a last
 * "DDDD text". Codes 0000-0999: done; 8000-9999: runtime/syntax errors.
 */

static int
bird_read_reply(int fd, char *buf, size_t cap, int timeout_ms, int *code, char *msg,
		size_t msglen)
{
	size_t len = 0;
	double end = cp_mono_ms() + timeout_ms;

	for (;;) {
		char *line = buf;
		char *nl;
		while ((nl = memchr(line, '\n', len - (size_t)(line - buf))) != NULL) {
			*nl = '\0';
			if (strlen(line) >= 5 && line[0] >= '0' && line[0] <= '9' && line[4] != '-' &&
			    line[4] == ' ') {
				*code = atoi(line);
				snprintf(msg, msglen, "%s", line + 5);
				return 0;
			}
			if (strlen(line) >= 5 && line[4] == '-' && (line[0] == '8' || line[0] == '9'))
				snprintf(msg, msglen, "%s", line + 5);
			line = nl + 1;
		}
		len -= (size_t)(line - buf);
		memmove(buf, line, len);
		if (len + 1 >= cap)
			len = 0; /* a line longer than the buffer: drop it */
		int left = (int)(end - cp_mono_ms());
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, left) <= 0) {
			snprintf(msg, msglen, "no answer from BIRD in %d ms", timeout_ms);
			return LB_EIO;
		}
		ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
		if (r <= 0) {
			snprintf(msg, msglen, "BIRD closed its control socket");
			return LB_EIO;
		}
		len += (size_t)r;
	}
}

/* "configure" on BIRD's control socket. Returns 0 or LB_EIO with msg. */
int
cp_bird_configure(const char *path, char *msg, size_t msglen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[8192];
	int fd, code = 0, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(msg, msglen, "bird_socket path too long");
		return LB_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(msg, msglen, "BIRD socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return LB_EIO;
	}
	rc = bird_read_reply(fd, buf, sizeof(buf), BIRD_TIMEOUT_MS, &code, msg, msglen);
	if (rc == 0 && code != 1) {
		snprintf(msg, msglen, "BIRD greeting %04d, expected 0001", code);
		rc = LB_EIO;
	}
	if (rc == 0 && send(fd, "configure\n", 10, MSG_NOSIGNAL) != 10) {
		snprintf(msg, msglen, "BIRD socket: send: %s", strerror(errno));
		rc = LB_EIO;
	}
	if (rc == 0)
		rc = bird_read_reply(fd, buf, sizeof(buf), BIRD_TIMEOUT_MS, &code, msg, msglen);
	close(fd);
	if (rc == 0 && code >= 1000) {
		/* A code 8000-9999: BIRD kept its old configuration; msg says why. */
		rc = LB_EIO;
	}
	return rc;
}

/* Write text to path through a temporary file and rename: BIRD never reads half. */
int
cp_bird_write_atomic(const char *path, const char *text, char *msg, size_t msglen)
{
	char tmp[CP_PATH_MAX + 16];
	size_t n = strlen(text);

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(msg, msglen, "%s: %s", tmp, strerror(errno));
		return LB_EIO;
	}
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) < 0) {
		snprintf(msg, msglen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return LB_EIO;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		snprintf(msg, msglen, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		return LB_EIO;
	}
	return 0;
}

int
cp_bird_withdraw_all(const struct cp_bgp_conf *bc, char *msg, size_t msglen)
{
	char *text = NULL;

	if (cp_announce_render(NULL, 0, NULL, 0, bc->protocol, &text) < 0) {
		snprintf(msg, msglen, "out of memory");
		return LB_ENOMEM;
	}
	int rc = cp_bird_write_atomic(bc->include_file, text, msg, msglen);
	free(text);
	if (rc == 0)
		rc = cp_bird_configure(bc->bird_socket, msg, msglen);
	return rc;
}
