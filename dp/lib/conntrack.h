/*
 * conntrack.h - per-worker connection tracking.
 *
 * Each worker lcore owns one table; nothing here is shared or locked. The worker
 * (dp/worker.c) looks flows up, inserts new ones, feeds TCP flags to the state
 * machine and calls lb_ct_expire() once per loop with a small budget, so expiry is
 * spread over time and never stalls a burst. The control thread only reads a
 * table (conns.list), accepting a racy snapshot. Pure C, no DPDK; the clock is a
 * parameter (milliseconds, wrapping), so tests drive it.
 *
 * One entry per connection, 64 bytes, indexed twice:
 *   forward: (client address, client port, service id)        client -> VIP packets
 *   reverse: fnat (backend, backend port, local index, local port)
 *            dnat (backend, backend port, client, client port)  backend -> client packets
 * Both indexes are arrays of 64-byte signature buckets (8 x 16-bit tag + 32-bit
 * entry index): a lookup reads one bucket line and the entry its tag points at.
 * Ports in keys and entries are in network byte order, as in the packet.
 */
#ifndef LB_CONNTRACK_H
#define LB_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lb_error.h"
#include "hash.h"
#include "parse.h" /* LB_TCP_*: lb_ct_tcp_seg_est() */
#include "sigbucket.h"

#define LB_CT_NIL 0xffffffffu

enum lb_ct_state {
	LB_CT_TCP_SYN = 0,     /* client SYN seen, handshake not complete */
	LB_CT_TCP_ESTABLISHED, /* handshake done, or a picked-up flow the backend answered */
	LB_CT_TCP_CLOSING,     /* a FIN seen in one direction */
	LB_CT_TCP_CLOSED,      /* RST seen, or FIN seen in both directions */
	LB_CT_UDP,             /* UDP, no packet from the client since the backend answered */
	LB_CT_UDP_STREAM,      /* UDP, the client sent again after an answer */
	LB_CT_TCP_UNCONFIRMED, /* first packet was not a SYN (mid-stream pickup), no answer yet */
	LB_CT_NSTATES
};

#define LB_CT_STATE_FREE 0xff /* entry not in use */

/* Extra return values of lb_ct_tcp_seg() besides enum lb_ct_state. */
#define LB_CT_RST_REJECTED 0xfe /* RST outside the window: entry unchanged, drop it */

/* lb_conn.flags */
#define LB_CONN_FIN_CLIENT 0x01  /* FIN seen from the client */
#define LB_CONN_FIN_BACKEND 0x02 /* FIN seen from the backend */
#define LB_CONN_SEEN_REPLY 0x04  /* the backend has answered */
#define LB_CONN_SEQ_KNOWN 0x08   /* seq_client holds a client sequence number */

/* Direction of a packet relative to the connection. */
#define LB_DIR_CLIENT 0  /* client -> VIP */
#define LB_DIR_BACKEND 1 /* backend -> client */

struct lb_conn {
	uint8_t client[16];    /* client address (IPv4 in bytes 0..3) */
	uint8_t backend[16];   /* backend address */
	/*
	 * Ids fit 24 bits (dp.max_services <= 2^20, dp.max_backends <= 2^24); the
	 * bits this frees hold seq_client without growing the entry past a line.
	 */
	uint32_t svc_id : 24;  /* service directory index (dp/service.h) */
	uint32_t local_idx : 8; /* fnat: index of the SNAT address (< LB_MAX_LOCAL_ADDRS) */
	uint32_t real_id : 24; /* backend registry index (dp/service.h) */
	uint32_t state : 8;    /* enum lb_ct_state, LB_CT_STATE_FREE when unused */
	uint32_t expire;       /* clock value (ms) at which the entry may go */
	uint32_t fwd_pos;      /* slot in the forward index (bucket * 8 + slot); free list link */
	uint32_t rev_pos;      /* slot in the reverse index */
	uint32_t seq_client;   /* TCP: the client's next sequence number (host order) */
	uint16_t client_port;  /* network order */
	uint16_t backend_port; /* network order */
	uint16_t local_port;   /* fnat SNAT port, network order; 0 in dnat */
	uint8_t family : 3;    /* LB_AF_INET (4) / LB_AF_INET6 (6) */
	uint8_t proto : 5;     /* LB_PROTO_TCP (6) / LB_PROTO_UDP (17) */
	uint8_t mode : 2;      /* LB_MODE_FNAT / LB_MODE_DNAT: reverse key shape */
	uint8_t flags : 6;     /* LB_CONN_* */
};

_Static_assert(sizeof(struct lb_conn) == 64, "a connection entry is one cache line");

struct lb_ct_fwd_key {
	uint8_t client[16];
	uint16_t client_port; /* network order */
	uint32_t svc_id;
};

struct lb_ct_rev_key {
	uint8_t backend[16];
	uint16_t backend_port; /* network order */
	uint8_t mode;          /* LB_MODE_FNAT: local_* count; LB_MODE_DNAT: client* count */
	uint8_t proto;
	uint8_t local_idx;
	uint16_t local_port;   /* network order */
	uint8_t client[16];
	uint16_t client_port;  /* network order */
};

/* Two 16-byte addresses equal: two 8-byte compares, no call to memcmp(). */
static inline int
lb_ct_addr_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* A reverse key for replies from backend:port; the caller adds the local or client part. */
static inline void
lb_ct_rev_key_init(struct lb_ct_rev_key *k, uint8_t mode, uint8_t proto, const uint8_t *backend,
		   uint16_t backend_port)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->backend, backend, 16);
	k->backend_port = backend_port;
	k->mode = mode;
	k->proto = proto;
}

struct lb_ct_conf {
	uint32_t capacity;                  /* connections, >= 1 */
	uint32_t timeout_ms[LB_CT_NSTATES]; /* idle timeout per state */
	uint64_t seed;                      /* hash seed */
	uint32_t rst_window;                /* client RST accepted within seq_client +- this */
	/*
	 * fnat source ports (lb_ct_snat_alloc). This table owns the ports p of
	 * [snat_lo, snat_hi] with p % snat_stride == snat_offset (one slice per worker),
	 * per pair of (backend address, port, protocol) and local address; snat_pairs
	 * pairs at most (0: no allocator). A released port is not handed out again for
	 * snat_delay_ms (between 1x and 2x that).
	 */
	uint16_t snat_lo, snat_hi, snat_stride, snat_offset;
	uint32_t snat_pairs;
	uint32_t snat_delay_ms;
};

/* A TCP segment as the state machine sees it. */
struct lb_tcp_seg {
	uint8_t flags;   /* TCP header byte 13 */
	uint32_t seq;    /* sequence number, host order */
	uint32_t len;    /* sequence space used: payload bytes, +1 for SYN, +1 for FIN */
};

/* The client's next sequence number after segment s (for lb_conn.seq_client). */
static inline uint32_t
lb_tcp_seg_end(const struct lb_tcp_seg *s)
{
	return s->seq + s->len;
}

struct lb_ct;

/* Memory for a table placed by the caller (hugepage memory in the dp). */
size_t lb_ct_mem_size(const struct lb_ct_conf *conf);
/* mem: lb_ct_mem_size() bytes, 64-byte aligned. Returns the table or NULL (bad conf). */
struct lb_ct *lb_ct_init(void *mem, size_t len, const struct lb_ct_conf *conf);
/*
 * Re-attach a table a previous process left in mem (persistent state, dp/control/
 * state.c): the same conf capacity and layout, or NULL and nothing touched. Keeps
 * the entries, indexes, free list, expiry cursor and seed; takes the timeouts and
 * rst_window and snat_delay_ms from conf (they may change between runs); the SNAT
 * slice and pair count must be the same (same workers and snat_ports). The block
 * holds offsets only: it may be mapped elsewhere. Callers check LB_CT_LAYOUT_VERSION and
 * sizeof(struct lb_conn) in their own header first: this only sees the block.
 */
struct lb_ct *lb_ct_attach(void *mem, size_t len, const struct lb_ct_conf *conf);
/* Bump whenever the block's layout (struct lb_ct, lb_conn, indexes) changes. */
#define LB_CT_LAYOUT_VERSION 3 /* 2: signature buckets, slot positions, snat area; 3: snat_pend_idx */
/* malloc'd variant for tests and tools; free with lb_ct_destroy(). */
struct lb_ct *lb_ct_create(const struct lb_ct_conf *conf);
void lb_ct_destroy(struct lb_ct *ct);

uint64_t lb_ct_seed(const struct lb_ct *ct);
uint32_t lb_ct_count(const struct lb_ct *ct);
uint32_t lb_ct_capacity(const struct lb_ct *ct);

/*
 * The conntrack hashes only index this worker's own table: they need a seed and a
 * good spread in the low bits, not agreement between boxes (Maglev's flow hash
 * does). Three independent multiplies and one mix cost about a quarter of
 * lb_hash_bytes() over 24 or 40 bytes, which chains four to six finalisers.
 */
static inline uint32_t
lb_ct_mulhash(uint64_t a, uint64_t b, uint64_t c, uint64_t seed)
{
	uint64_t h = (a ^ seed) * 0x9e3779b97f4a7c15ULL;

	h ^= (b + seed) * 0xc2b2ae3d27d4eb4fULL;
	h ^= (c ^ (seed >> 17)) * 0x165667b19e3779f9ULL;
	h ^= h >> 32;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 29;
	return (uint32_t)h;
}

static inline uint32_t
lb_ct_hash_fwd(const struct lb_ct_fwd_key *k, uint64_t seed)
{
	uint64_t a, b;

	memcpy(&a, k->client, 8);
	memcpy(&b, k->client + 8, 8);
	return lb_ct_mulhash(a, b, (uint64_t)k->client_port << 32 | k->svc_id, seed);
}

static inline uint32_t
lb_ct_hash_rev(const struct lb_ct_rev_key *k, uint64_t seed)
{
	uint64_t a, b, c;

	memcpy(&a, k->backend, 8);
	memcpy(&b, k->backend + 8, 8);
	c = (uint64_t)k->backend_port | (uint64_t)k->mode << 16 | (uint64_t)k->proto << 24;
	if (k->mode == 0 /* LB_MODE_FNAT */) {
		c |= (uint64_t)k->local_idx << 32 | (uint64_t)k->local_port << 40;
	} else {
		uint64_t d, e;
		memcpy(&d, k->client, 8);
		memcpy(&e, k->client + 8, 8);
		a ^= d * 0x2127599bf4325c37ULL;
		b ^= e * 0x880355f21e6d1965ULL;
		c |= (uint64_t)k->client_port << 32;
	}
	return lb_ct_mulhash(a, b, c, seed ^ 0x5bd1e9955bd1e995ULL);
}

/* Hint the CPU to fetch the bucket head for a hash; call a burst ahead of lookup. */
void lb_ct_prefetch_fwd(const struct lb_ct *ct, uint32_t hash);
/*
 * The same inline, for the worker's per-packet loop: where the forward buckets
 * are (fixed while the table is mapped) and the bucket index mask, from
 * lb_ct_fwd_geometry(); a bucket is LB_CT_BUCKET_SIZE bytes.
 */
#define LB_CT_BUCKET_SIZE 64
void lb_ct_fwd_geometry(const struct lb_ct *ct, const void **buckets, uint32_t *mask);
static inline void
lb_ct_prefetch_fwd_at(const void *buckets, uint32_t mask, uint32_t hash)
{
	__builtin_prefetch((const uint8_t *)buckets + (size_t)(hash & mask) * LB_CT_BUCKET_SIZE);
}
void lb_ct_prefetch_rev(const struct lb_ct *ct, uint32_t hash);
/*
 * For the classify stage, over lb_ct_fwd_geometry()'s buckets and lb_ct_entries()'
 * array: read the forward bucket (prefetched before) and prefetch the entry whose
 * tag matches: *cand = that entry (the first whose tag matches), else NULL. Returns
 * 0 when no tag matches and no overflow bucket is chained: the key is certainly not
 * in the table (a new flow). A bucket (conntrack_priv.h, struct ct_bucket; conntrack.c
 * checks the offsets): 8 tags at 0, 8 entry indexes at LB_CT_BK_IDX_OFF, the overflow
 * link at LB_CT_BK_NEXT_OFF.
 */
#define LB_CT_BK_IDX_OFF 16
#define LB_CT_BK_NEXT_OFF 48
struct lb_conn *lb_ct_entries(const struct lb_ct *ct);
static inline int
lb_ct_prefetch_fwd_cand_at(const void *buckets, uint32_t mask, struct lb_conn *conns,
			   uint32_t hash, struct lb_conn **cand)
{
	const uint8_t *b = (const uint8_t *)buckets + (size_t)(hash & mask) * LB_CT_BUCKET_SIZE;
	unsigned m = lb_sig_match8((const uint16_t *)(const void *)b, lb_sig_of(hash));
	uint32_t v;

	if (m == 0) {
		*cand = NULL;
		memcpy(&v, b + LB_CT_BK_NEXT_OFF, 4);
		return v != LB_CT_NIL;
	}
	memcpy(&v, b + LB_CT_BK_IDX_OFF + 4 * __builtin_ctz(m), 4);
	*cand = &conns[v];
	__builtin_prefetch(*cand);
	return 1;
}
/*
 * What lb_ct_snat_prefetch() found for a likely new flow, so that the allocation a
 * few packets later does not look the (backend, local address) pair up and hash
 * the reverse key again: lb_ct_snat_alloc_hint() takes the pair after checking it
 * is the key's, and the hash when the port it picks is still this one.
 */
struct lb_ct_snat_hint {
	uint32_t pair;     /* the pair's index; LB_CT_NIL: nothing found */
	uint32_t idx;      /* slice index of the port it would give */
	uint32_t rev_hash; /* lb_ct_hash_rev() of the key with that port */
	uint16_t port;     /* that port, network order */
};

/* Prefetch the reverse bucket of the port lb_ct_snat_alloc() would give now; with
 * hint (may be NULL), say what was found (hint->pair LB_CT_NIL when nothing). */
void lb_ct_snat_prefetch(struct lb_ct *ct, struct lb_ct_rev_key *k, struct lb_ct_snat_hint *hint);
/* The same for n keys (at most LB_CT_SNAT_BULK_MAX; more: nothing found), hint[t]
 * for k[t] (none NULL): a burst's new flows, their loads overlapped. */
#define LB_CT_SNAT_BULK_MAX 64
void lb_ct_snat_prefetch_bulk(struct lb_ct *ct, struct lb_ct_rev_key *k,
			      struct lb_ct_snat_hint *const *hint, unsigned n);

/* Find an entry; NULL when none. hash from lb_ct_hash_fwd/rev with lb_ct_seed(ct). */
struct lb_conn *lb_ct_lookup_fwd(struct lb_ct *ct, const struct lb_ct_fwd_key *k, uint32_t hash);

/* Does entry c hold forward key k? */
static inline int
lb_ct_fwd_match(const struct lb_conn *c, const struct lb_ct_fwd_key *k)
{
	return c->client_port == k->client_port && c->svc_id == k->svc_id &&
	       lb_ct_addr_eq(c->client, k->client);
}
struct lb_conn *lb_ct_lookup_rev(struct lb_ct *ct, const struct lb_ct_rev_key *k, uint32_t hash);

/*
 * lb_ct_lookup_fwd() with the candidate lb_ct_prefetch_fwd_cand_at() found earlier in
 * the burst (may be NULL): when it is still in use and holds k, it is k's entry
 * (a key is in the table at most once) and the bucket is not read again;
 * otherwise (a tag collision, an entry removed or reused since) the full lookup.
 */
static inline struct lb_conn *
lb_ct_lookup_fwd_cand(struct lb_ct *ct, const struct lb_ct_fwd_key *k, uint32_t hash,
		      struct lb_conn *cand)
{
	if (cand != NULL && cand->state != LB_CT_STATE_FREE && lb_ct_fwd_match(cand, k))
		return cand;
	return lb_ct_lookup_fwd(ct, k, hash);
}

/*
 * lb_ct_lookup_fwd() for a key the classify stage found no candidate for
 * (lb_ct_prefetch_fwd_cand_at() gave NULL): the primary bucket is read again
 * (packets before this one in the burst may have inserted since); when still no tag
 * matches and no overflow bucket is chained, the key is not in the table, as the
 * full lookup would find; else the full lookup. Out of line (conntrack.c): inline,
 * GCC 12 allocated the established path's registers worse (callgrind +6 a packet).
 */
struct lb_conn *lb_ct_lookup_fwd_nocand(struct lb_ct *ct, const struct lb_ct_fwd_key *k,
					uint32_t hash);

/*
 * Insert a connection copied from *c (next_* ignored; state set by the caller,
 * expire = now + timeout of that state). Returns the stored entry, or NULL when the
 * table is full; the caller then reclaims an entry (lb_ct_reclaim) or drops the flow.
 */
struct lb_conn *lb_ct_insert(struct lb_ct *ct, const struct lb_conn *c, uint32_t now);
/* The same with the hashes of its keys, already computed by the caller (the fast path). */
struct lb_conn *lb_ct_insert_hashed(struct lb_ct *ct, const struct lb_conn *c, uint32_t now,
				    uint32_t fwd_hash, uint32_t rev_hash);

/* Unlink and free an entry; an fnat entry's source port cools (conf.snat_delay_ms). */
void lb_ct_remove(struct lb_ct *ct, struct lb_conn *c);
/* The same, but the source port may go again at once (a half-open entry given up). */
void lb_ct_remove_nocool(struct lb_ct *ct, struct lb_conn *c);

/* The keys of an entry. */
static inline void
lb_ct_fwd_key_of(const struct lb_conn *c, struct lb_ct_fwd_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->client, c->client, 16);
	k->client_port = c->client_port;
	k->svc_id = c->svc_id;
}

static inline void
lb_ct_rev_key_of(const struct lb_conn *c, struct lb_ct_rev_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->backend, c->backend, 16);
	k->backend_port = c->backend_port;
	k->mode = c->mode;
	k->proto = c->proto;
	k->local_idx = c->local_idx;
	k->local_port = c->local_port;
	memcpy(k->client, c->client, 16);
	k->client_port = c->client_port;
}

/*
 * TCP state machine: feed the flags (TCP header byte 13) of a packet travelling in
 * direction dir (LB_DIR_*). Updates state, flags and expire. Returns the new state.
 * A SYN (without ACK) from the client on a CLOSED entry means the client reuses the
 * port: the caller should remove the entry and treat the packet as a new flow; the
 * function reports that by returning LB_CT_STATE_FREE without changing the entry.
 */
uint8_t lb_ct_tcp_update(const struct lb_ct *ct, struct lb_conn *c, uint8_t tcp_flags,
			 int dir, uint32_t now);

/*
 * The same with the segment's sequence number, which production uses:
 *  - client segments advance c->seq_client (the client's next sequence number);
 *  - a RST from the client on a synchronised connection (not in SYN state) is
 *    accepted only when its sequence number is within conf.rst_window of
 *    seq_client (Linux conntrack accepts RSTs within the window seen so far; an
 *    off-path attacker does not know where that is). During the handshake a
 *    client's RST answers an unacceptable ACK and carries that ACK as its sequence
 *    number (RFC 793), so it is not checked: it can only end a half-open entry. Otherwise
 *    returns LB_CT_RST_REJECTED and leaves the entry as it was: the caller drops the
 *    segment. RSTs from the backend side are not checked: that segment is trusted
 *    (and the entry has room for one sequence number only);
 *  - LB_CT_TCP_UNCONFIRMED becomes ESTABLISHED on the first non-RST backend segment;
 *    a client SYN on it returns LB_CT_STATE_FREE (start over: the entry was a guess).
 * lb_ct_tcp_update() is this without the sequence check (tests and tools).
 */
/* The idle timeout of state (ms), fixed for the table's life (lb_ct_conf). */
uint32_t lb_ct_timeout(const struct lb_ct *ct, uint8_t state);

/*
 * The common case of lb_ct_tcp_seg(), inline: an established connection, a
 * segment without SYN, FIN or RST, no FIN seen before. The state machine would
 * only advance the client's sequence number (or note the reply) and refresh the
 * timeout, which this does; the state stays LB_CT_TCP_ESTABLISHED. Returns 0,
 * entry untouched, in every other case: call lb_ct_tcp_seg().
 * est_ms: lb_ct_timeout(ct, LB_CT_TCP_ESTABLISHED).
 */
static inline int
lb_ct_tcp_seg_est(struct lb_conn *c, const struct lb_tcp_seg *s, int dir, uint32_t now,
		  uint32_t est_ms)
{
	if (c->state != LB_CT_TCP_ESTABLISHED || (s->flags & (LB_TCP_SYN | LB_TCP_FIN | LB_TCP_RST)) ||
	    (c->flags & (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND)))
		return 0;
	if (dir == LB_DIR_CLIENT) {
		if (!(c->flags & LB_CONN_SEQ_KNOWN)) {
			c->seq_client = lb_tcp_seg_end(s);
			c->flags |= LB_CONN_SEQ_KNOWN;
		} else if ((int32_t)(lb_tcp_seg_end(s) - c->seq_client) > 0) {
			c->seq_client = lb_tcp_seg_end(s);
		}
	} else if (!(c->flags & LB_CONN_SEEN_REPLY)) {
		c->flags |= LB_CONN_SEEN_REPLY;
	}
	c->expire = now + est_ms;
	return 1;
}

uint8_t lb_ct_tcp_seg(const struct lb_ct *ct, struct lb_conn *c, const struct lb_tcp_seg *s,
		      int dir, uint32_t now);

/* Refresh expire for a packet of a UDP flow (or any state): expire = now + timeout. */
void lb_ct_touch(const struct lb_ct *ct, struct lb_conn *c, uint32_t now);

/*
 * UDP: a packet in direction dir. A backend packet marks the flow answered; a
 * client packet after that makes it a stream (LB_CT_UDP_STREAM, the long
 * timeout). A query and its answer stay on the short LB_CT_UDP timeout.
 */
void lb_ct_udp_update(const struct lb_ct *ct, struct lb_conn *c, int dir, uint32_t now);

/*
 * A half-open entry: a TCP handshake the client never completed (SYN state, even
 * if the backend sent its SYN-ACK: a spoofed source never ACKs it), a pickup no
 * backend confirmed, a UDP flow never answered. What a flood leaves behind; the
 * only entries given up alive for a new flow.
 */
static inline int
lb_ct_unanswered(const struct lb_conn *c)
{
	return c->state == LB_CT_TCP_SYN || c->state == LB_CT_TCP_UNCONFIRMED ||
	       (c->state == LB_CT_UDP && !(c->flags & LB_CONN_SEEN_REPLY));
}

/*
 * Make room for one new entry in a full table: look at up to LB_CT_RECLAIM_SCAN
 * entries from the expiry cursor, free every expired one met (cb first); when none
 * was expired, evict the half-open entry (lb_ct_unanswered) among them that would
 * expire first, i.e. the oldest (cb first). Returns 1 for freed expired entries, 2 for an eviction,
 * 0 when nothing could go (the caller drops the new flow). Sampling, as Redis does
 * for LRU: a flood's entries are most of the table, so a small sample finds one.
 */
#define LB_CT_RECLAIM_SCAN 64
int lb_ct_reclaim(struct lb_ct *ct, uint32_t now,
		  void (*cb)(const struct lb_conn *c, void *arg), void *arg);

/*
 * Scan at most budget entries from where the last call stopped; free those whose
 * expire is in the past (wrap-safe), calling cb first (may be NULL). Returns how
 * many were freed.
 */
unsigned lb_ct_expire(struct lb_ct *ct, uint32_t now, unsigned budget,
		      void (*cb)(const struct lb_conn *c, void *arg), void *arg);

/*
 * fnat source port for a new flow to the backend of k from local address
 * k->local_idx (k: the backend part, lb_ct_rev_key_init). O(1): the lowest port of
 * the pair's free bitmap (three levels of 64-bit words), never one in use or
 * released less than conf.snat_delay_ms ago; checked against the reverse index
 * (an entry inserted without the allocator may hold it). On success sets k->local_port (network order) and *rev_hash (of k) and
 * returns 0; the port is reserved until the entry inserted with it goes. LB_EFULL
 * when the pair has no port left (counted per pair) or no pair is left,
 * LB_EINVAL without an allocator (conf.snat_pairs 0).
 */
int lb_ct_snat_alloc(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t now, uint32_t *rev_hash);
/* The same, starting from what lb_ct_snat_prefetch() found (hint may be NULL; a
 * hint for another pair or port is checked and ignored). Same result either way. */
int lb_ct_snat_alloc_hint(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t now,
			  uint32_t *rev_hash, const struct lb_ct_snat_hint *hint);

/*
 * When lb_ct_snat_alloc() found the pair full: look at up to LB_CT_RECLAIM_SCAN of
 * its ports in use, free the expired entries met and evict the half-open one
 * (lb_ct_unanswered) that would expire first (cb first for each), then allocate
 * again. Returns as lb_ct_snat_alloc(), or 1 / 2 when the port came from a freed /
 * evicted entry (only a half-open entry's port is reused at once; an expired
 * entry's port cools like any other, so rc 1 needs another free port).
 */
int lb_ct_snat_reclaim(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t now, uint32_t *rev_hash,
		       void (*cb)(const struct lb_conn *c, void *arg), void *arg);

/* Allocations refused (pair full or no pair), over the table's life. */
uint64_t lb_ct_snat_exhausted(const struct lb_ct *ct);

/* One pair's figures, for stats and tests. Returns LB_ENOENT when the pair has none yet. */
struct lb_ct_snat_info {
	uint32_t in_use;     /* ports held by entries */
	uint32_t cooling;    /* released, waiting out the delay */
	uint32_t free;       /* can be handed out now */
	uint64_t exhausted;  /* allocations refused */
};
int lb_ct_snat_info(struct lb_ct *ct, const struct lb_ct_rev_key *k, struct lb_ct_snat_info *out);

/*
 * Visit the entries in use from slot start on; stop early when cb returns non-zero.
 * Returns the slot of the entry cb stopped at (not consumed: resume from it), or
 * the capacity when the walk reached the end (conns.list pages with it).
 */
uint32_t lb_ct_foreach_from(struct lb_ct *ct, uint32_t start,
			    int (*cb)(const struct lb_conn *c, void *arg), void *arg);

/* Visit every entry in use; stop early when cb returns non-zero. */
void lb_ct_foreach(struct lb_ct *ct, int (*cb)(const struct lb_conn *c, void *arg), void *arg);

/* Wrap-safe "a is before b" for the millisecond clock. */
static inline int
lb_clock_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

#endif /* LB_CONNTRACK_H */
