/*
 * commit.c - group commit of the state file: many changes, one write.
 *
 * Runs on whichever cp thread changed the store (the API's thread pool, the
 * Kubernetes reconcile, main), with s->mu held on entry and exit.
 *
 * A change is applied in memory first and described by a struct undo on its
 * caller's stack; the caller then waits here until the change is on disk. The
 * first waiter that finds no write running becomes the writer: it renders the
 * whole file under s->mu (every change applied so far), releases s->mu for the
 * write and fsync, and takes it back. Changes applied meanwhile wait for the next
 * group, whose writer is one of their callers. So N concurrent changes cost
 * about two writes instead of N, and readers (GETs, the dp sync, health checks)
 * are never blocked behind an fsync.
 *
 * "Acknowledge only what is on disk" holds: a caller returns 0 only after a write
 * that contained its change succeeded. When a write fails, every change not yet
 * on disk (its group and any applied after the render) is undone newest first
 * (LIFO: a later change may have taken an address an earlier delete released),
 * each found again by namespace and name, and each caller gets the write error.
 * Readers may see a change before it is durable; if its write fails it vanishes
 * again, and the dp sync is woken to follow.
 */
#include <stdio.h>
#include <string.h>

#include "lb_error.h"
#include "state.h"
#include "store_impl.h"

/* Mark every change with seq <= upto done with rc, unlink it. Newest first. */
static void
finish(struct cp_store *s, uint64_t upto, int rc, const char *err)
{
	struct undo **pp = &s->log;

	while (*pp) {
		struct undo *u = *pp;

		if (u->seq > upto) {
			pp = &u->prev;
			continue;
		}
		if (rc < 0)
			cp_store_undo(s, u); /* the list is newest first: LIFO */
		u->rc = rc;
		snprintf(u->err, sizeof(u->err), "%s", err ? err : "");
		u->done = true;
		*pp = u->prev;
	}
}

/* Write everything applied so far; called by the one writer, s->mu held. */
static void
write_group(struct cp_store *s)
{
	char err[256];
	uint64_t upto = s->applied;
	uint64_t n = upto - s->durable;
	json_t *arr = cp_store_render(s);
	size_t len = 0;

	s->writing = true;
	pthread_mutex_unlock(&s->mu);
	int rc = arr ? cp_state_save(s->path, arr, &len, err, sizeof(err)) : LB_ENOMEM;
	if (arr == NULL)
		snprintf(err, sizeof(err), "out of memory");
	pthread_mutex_lock(&s->mu);
	s->writing = false;
	if (rc == 0) {
		s->durable = upto;
		s->file_writes++;
		s->file_bytes += len;
		s->commit_changes += n;
		finish(s, upto, 0, NULL);
	} else {
		/* Nothing after the last good write may stay: undo all pending changes. */
		finish(s, UINT64_MAX, rc, err);
		s->durable = s->applied;
	}
	/* Either way the store changed for the dp sync: new state, or undone state. */
	s->version++;
	pthread_cond_broadcast(&s->changed);
	pthread_cond_broadcast(&s->committed);
}

int
cp_store_commit(struct cp_store *s, struct undo *u, char *err, size_t errlen)
{
	u->seq = ++s->applied;
	u->done = false;
	u->prev = s->log;
	s->log = u;
	while (!u->done) {
		if (!s->writing)
			write_group(s);
		else
			pthread_cond_wait(&s->committed, &s->mu);
	}
	if (u->rc < 0)
		snprintf(err, errlen, "%s", u->err);
	return u->rc;
}

void
cp_store_quiesce(struct cp_store *s)
{
	while (s->log != NULL || s->writing)
		pthread_cond_wait(&s->committed, &s->mu);
}
