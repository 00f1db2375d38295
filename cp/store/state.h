/*
 * state.h - the state file that keeps load balancers and their addresses
 * across restarts: read at start, rewritten whole after every change
 * (temporary file, fsync, rename, fsync of the directory).
 *
 * Called only by the store (store.c), under its mutex.
 */
#ifndef LB_CP_STATE_H
#define LB_CP_STATE_H

#include <stddef.h>

#include <jansson.h>

#include "lb.h"

/* Create the directories above the state file. 0, or -1 with errno. */
int cp_state_mkdir(const char *path);

/*
 * Read the state file: add(arg, &lb) for each load balancer in order, which
 * takes lb over; a failing add stops the load and its code is returned. A
 * missing file is a first start (0). Errors: LB_EINVAL with err naming the
 * file and the entry, or the file's version when it is not this cp's.
 */
int cp_state_load(const char *path, int (*add)(void *arg, struct cp_lb *lb), void *arg, char *err,
		  size_t errlen);

/*
 * Write lbs (a JSON array of cp_lb_to_json or cp_lb_alloc_json objects; the
 * reference is taken) as the whole state file; *written (if not NULL) gets the
 * bytes written. 0, or LB_EIO with err saying why.
 */
int cp_state_save(const char *path, json_t *lbs, size_t *written, char *err, size_t errlen);

#endif /* LB_CP_STATE_H */
