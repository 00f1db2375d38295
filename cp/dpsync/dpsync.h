/*
 * dpsync.h - keeping edgelb-dp in step with the store, over the dp control socket.
 *
 * One thread owns a long-lived connection to the dp. On every (re)connect it does
 * a full sync (sync.begin with a new generation, service.upsert for every dp
 * service, sync.end: the dp drops what the generation did not name); afterwards
 * it sends only what changed (upserts and deletes against what it last sent).
 * When the dp is down or restarts it retries with backoff and syncs again; the
 * API keeps serving meanwhile. It also caches the dp's counters (stats.get,
 * every 2 s) for /metrics.
 *
 * cp_dpsync_request() is a one-shot request on its own connection, for the API's
 * pass-through calls (stats, conns) from other threads.
 */
#ifndef LB_CP_DPSYNC_H
#define LB_CP_DPSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cp_store;
struct cp_dpsync;

struct cp_dpsync_status {
	bool connected;
	uint64_t generation;      /* of the last completed full sync */
	uint64_t full_syncs;      /* completed full syncs since start */
	uint64_t updates;         /* service.upsert / delete sent after syncs */
	uint64_t errors;          /* failed requests and connections */
	double last_sync_unix;    /* time of the last completed full sync */
	uint32_t services;        /* dp services last sent */
	uint64_t store_version;   /* store version the dp was last brought to */
};

struct cp_dpsync *cp_dpsync_start(struct cp_store *store, const char *dp_socket, char *err,
				  size_t errlen);
void cp_dpsync_stop(struct cp_dpsync *d);
void cp_dpsync_status(struct cp_dpsync *d, struct cp_dpsync_status *st);
/* The dp's last stats.get result (new reference), NULL when none yet. */
json_t *cp_dpsync_stats(struct cp_dpsync *d);

/*
 * Send one request on a fresh connection and return the reply object (new
 * reference), or NULL with err set (connection failure, timeout, ok=false: the
 * dp's error message).
 */
json_t *cp_dpsync_request(const char *dp_socket, json_t *req, int timeout_ms, char *err,
		      size_t errlen);

#endif /* LB_CP_DPSYNC_H */
