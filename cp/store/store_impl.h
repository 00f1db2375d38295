/*
 * store_impl.h - the store's insides, shared by store.c (open, mutations,
 * reads) and store_sync.c (dp sync, health, metrics). Not for callers outside
 * cp/store: they see struct cp_store only through store.h. Everything here is
 * touched with s->mu held.
 */
#ifndef LB_CP_STORE_IMPL_H
#define LB_CP_STORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpconf.h"
#include "ipam.h"
#include "lb.h"

struct entry {
	struct cp_lb lb;
	uint8_t *health; /* per backend: 0 unknown, 1 up, 2 down */
};

/*
 * One change applied in memory but not yet on disk (commit.c). It lives on the
 * stack of the caller that made the change, which waits in cp_store_commit()
 * until a group write has put it on disk (rc 0) or failed and undone it (rc < 0).
 */
enum undo_kind { UNDO_CREATE, UNDO_REPLACE, UNDO_DELETE };

struct undo {
	enum undo_kind kind;
	char ns[CP_NAME_MAX], name[CP_NAME_MAX]; /* the entry, found again by name */
	struct entry old;  /* replace: the entry before; delete: the entry removed */
	uint32_t index;    /* delete: where it was */
	uint64_t seq;      /* order of application: undo runs newest first */
	bool done;
	int rc;
	char err[256];
	struct undo *prev; /* next older uncommitted change */
};

struct cp_store {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct lb_ipam *ipam;
	struct entry *e;
	uint32_t n, cap;
	uint64_t version;
	char path[CP_PATH_MAX];
	struct cp_health_check hc_defaults;
	bool alloc_only;       /* kubernetes mode: the file keeps allocations only */
	bool ready;            /* the dp may be synced (kubernetes: after the first reconcile) */
	uint64_t file_writes, file_bytes;
	/* Group commit (commit.c): changes applied, not yet durable, newest first. */
	struct undo *log;
	uint64_t applied, durable; /* seq of the last change applied / on disk */
	bool writing;              /* a caller is writing the file, s->mu released */
	pthread_cond_t committed;  /* a group write ended */
	uint64_t commit_changes;   /* changes made durable (file_writes counts groups) */
};

/* commit.c: with s->mu held, after applying the change u describes. */
int cp_store_commit(struct cp_store *s, struct undo *u, char *err, size_t errlen);
/* Wait, with s->mu held, until no change is pending and no write is running. */
void cp_store_quiesce(struct cp_store *s);
/* store.c: the file's content now; undo one change (with s->mu held). */
json_t *cp_store_render(const struct cp_store *s);
void cp_store_undo(struct cp_store *s, struct undo *u);

/* Something changed: wake the dp sync and health threads. With s->mu held. */
static inline void
bump(struct cp_store *s)
{
	s->version++;
	pthread_cond_broadcast(&s->changed);
}

#endif /* LB_CP_STORE_IMPL_H */
