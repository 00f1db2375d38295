/*
 * state.c - the state file's codec and its atomic write (see state.h).
 *
 * Called by the store (store.c) with its mutex held, so from whichever cp
 * thread changed the store (API, Kubernetes reconcile, reload) or from main()
 * at start. The file is the JSON {"version": 1, "loadbalancers": [...]}, each
 * load balancer as the API shows it plus its allocation (cp_lb_to_json; in
 * kubernetes mode the allocation only, cp_lb_alloc_json in lib/lb_state.c),
 * rewritten whole on each change: load balancers number in the thousands at
 * most, and a whole-file rename is the simplest way to never leave a
 * half-written state behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpconf.h"
#include "lb_error.h"
#include "state.h"

#define STATE_VERSION 1

static int
fsync_dir(const char *path)
{
	char d[CP_PATH_MAX];

	snprintf(d, sizeof(d), "%s", path);
	int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int
cp_state_save(const char *path, json_t *lbs, size_t *written, char *err, size_t errlen)
{
	char tmp[CP_PATH_MAX + 16];
	json_t *root = json_object(), *arr = lbs;

	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "loadbalancers", arr);
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		goto fail;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail_text;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			goto fail_text;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0 || fsync_dir(path) < 0)
		goto fail_text;
	if (written)
		*written = len;
	free(text);
	return 0;
fail_text:
	free(text);
fail:
	snprintf(err, errlen, "cannot write state file %s: %s", path, strerror(errno));
	return LB_EIO;
}

int
cp_state_mkdir(const char *path)
{
	char d[CP_PATH_MAX];

	snprintf(d, sizeof(d), "%s", path);
	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}


int
cp_state_load(const char *path, int (*add)(void *arg, struct cp_lb *lb), void *arg, char *err,
	      size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je), *lbs, *j;
	size_t i;

	if (root == NULL) {
		if (access(path, F_OK) != 0)
			return 0; /* first start */
		snprintf(err, errlen, "state file %s: %s (line %d)", path, je.text, je.line);
		return LB_EINVAL;
	}
	json_int_t ver = json_integer_value(json_object_get(root, "version"));
	if (ver != STATE_VERSION) {
		json_decref(root);
		snprintf(err, errlen, "state file %s: version %lld, this edgelb-cp reads version %d",
			 path, (long long)ver, STATE_VERSION);
		return LB_EINVAL;
	}
	lbs = json_object_get(root, "loadbalancers");
	if (!json_is_array(lbs)) {
		json_decref(root);
		snprintf(err, errlen, "state file %s: no \"loadbalancers\" array", path);
		return LB_EINVAL;
	}
	json_array_foreach(lbs, i, j) {
		struct cp_lb lb;
		char e2[256];
		int rc;
		if (cp_lb_from_state_json(j, &lb, e2, sizeof(e2)) < 0) {
			snprintf(err, errlen, "state file %s: loadbalancers[%zu]: %s", path, i, e2);
			json_decref(root);
			return LB_EINVAL;
		}
		if ((rc = add(arg, &lb)) < 0) {
			json_decref(root);
			return rc;
		}
	}
	json_decref(root);
	return 0;
}
