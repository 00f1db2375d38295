/*
 * conntrack.c - the per-worker connection table.
 *
 * Owns the table layout, both hash indexes, the free list, the expiry cursor and
 * the TCP state machine. Called by one worker lcore (dp/worker.c) on its own table:
 * lookups and inserts per burst, lb_ct_expire() once per loop. The control thread
 * only walks a table with lb_ct_foreach() for conns.list and accepts a racy
 * snapshot. Nothing here locks, allocates on the fast path or makes a syscall.
 *
 * Memory, one block (conntrack_priv.h), offsets only, so it can move:
 *   struct lb_ct | conns[capacity] | fwd buckets | rev buckets | snat area
 * Each index is an array of 64-byte buckets of 8 (tag, entry index) slots, nb a
 * power of two >= capacity / 4, so a full table averages 2-4 entries per bucket and
 * a lookup reads one bucket line and, normally, one entry line. An entry records
 * the slot of each index it sits in (fwd_pos, rev_pos), so removing it recomputes
 * no hash. Free entries are chained through fwd_pos, so the free list costs no
 * memory of its own.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "conntrack_priv.h"
#include "lb_model.h"
#include "parse.h"
#include "sigbucket.h"

#define CACHE_LINE 64

/* Largest table: a slot position (bucket * 8 + slot) must fit 32 bits. */
#define CT_CAPACITY_MAX (1u << 27)

static inline struct lb_conn *
ct_conns(const struct lb_ct *ct)
{
	return (struct lb_conn *)(void *)((uint8_t *)(uintptr_t)ct + ct->off_conns);
}

static inline struct ct_bucket *
ct_bk(const struct lb_ct *ct, int rev)
{
	return (struct ct_bucket *)(void *)((uint8_t *)(uintptr_t)ct +
					    (rev ? ct->off_rev : ct->off_fwd));
}

struct layout {
	uint32_t nb;     /* primary buckets per index */
	uint32_t nov;    /* overflow buckets per index */
	size_t conns;    /* offsets from the start of the block */
	size_t fwd;
	size_t rev;
	size_t snat;
	size_t total;
};

static size_t
align_up(size_t n)
{
	return (n + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
}

static uint32_t
pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Returns 0 and fills *l, or LB_EINVAL for a conf we cannot build. */
static int
plan(const struct lb_ct_conf *conf, struct layout *l)
{
	uint64_t conns, bks, total, snat;

	if (conf == NULL || conf->capacity == 0 || conf->capacity > CT_CAPACITY_MAX)
		return LB_EINVAL;
	/* lb_clock_before() compares through int32_t: a longer timeout would look
	 * like the past the moment it is set. */
	for (int s = 0; s < LB_CT_NSTATES; s++)
		if (conf->timeout_ms[s] > INT32_MAX)
			return LB_EINVAL;
	if (lb_ct_snat_plan(conf, &snat) < 0)
		return LB_EINVAL;

	/* 2 to 4 entries per 8-slot bucket when the table is full (Poisson: ~2 % of
	 * buckets overflow at 4); overflow buckets for those, a quarter as many. */
	l->nb = pow2_at_least((conf->capacity + 3) / 4);
	l->nov = l->nb / 4 + 16;
	conns = (uint64_t)conf->capacity * sizeof(struct lb_conn);
	bks = (uint64_t)(l->nb + l->nov) * sizeof(struct ct_bucket);
	total = align_up(sizeof(struct lb_ct)) + conns + 2 * bks + snat;
	/* Only reachable where size_t is 32 bits. */
	if (total > SIZE_MAX)
		return LB_EINVAL;
	l->conns = align_up(sizeof(struct lb_ct));
	l->fwd = l->conns + (size_t)conns;
	l->rev = l->fwd + (size_t)bks;
	l->snat = l->rev + (size_t)bks;
	l->total = (size_t)total;
	return 0;
}

size_t
lb_ct_mem_size(const struct lb_ct_conf *conf)
{
	struct layout l;

	if (plan(conf, &l) != 0)
		return 0;
	return l.total;
}

static void
buckets_init(struct ct_bucket *b, uint32_t nb, uint32_t nov)
{
	memset(b, 0, (size_t)(nb + nov) * sizeof(*b));
	for (uint32_t i = 0; i < nb + nov; i++) {
		b[i].next = LB_CT_NIL;
		b[i].prev = LB_CT_NIL;
		for (int s = 0; s < CT_SLOTS; s++)
			b[i].idx[s] = LB_CT_NIL;
	}
	/* Overflow buckets: a free list through next. */
	for (uint32_t i = nb; i < nb + nov; i++)
		b[i].next = i + 1 < nb + nov ? i + 1 : LB_CT_NIL;
}

struct lb_ct *
lb_ct_init(void *mem, size_t len, const struct lb_ct_conf *conf)
{
	struct layout l;
	struct lb_ct *ct = mem;

	if (mem == NULL || ((uintptr_t)mem & (CACHE_LINE - 1)) != 0)
		return NULL;
	if (plan(conf, &l) != 0 || len < l.total)
		return NULL;

	memset(ct, 0, sizeof(*ct));
	ct->magic = LB_CT_MAGIC;
	ct->mem_size = l.total;
	ct->seed = conf->seed;
	ct->capacity = conf->capacity;
	ct->mask = l.nb - 1;
	ct->nb = l.nb;
	memcpy(ct->timeout_ms, conf->timeout_ms, sizeof(ct->timeout_ms));
	ct->rst_window = conf->rst_window;
	ct->off_conns = l.conns;
	ct->off_fwd = l.fwd;
	ct->off_rev = l.rev;
	ct->off_snat = l.snat;
	ct->ov_free[0] = l.nov ? l.nb : LB_CT_NIL;
	ct->ov_free[1] = l.nov ? l.nb : LB_CT_NIL;
	buckets_init(ct_bk(ct, 0), l.nb, l.nov);
	buckets_init(ct_bk(ct, 1), l.nb, l.nov);

	/* Free list in index order, so a fresh table fills memory front to back. */
	struct lb_conn *conns = ct_conns(ct);
	for (uint32_t i = 0; i < ct->capacity; i++) {
		struct lb_conn *c = &conns[i];

		memset(c, 0, sizeof(*c));
		c->state = LB_CT_STATE_FREE;
		c->fwd_pos = i + 1 < ct->capacity ? i + 1 : LB_CT_NIL;
		c->rev_pos = LB_CT_NIL;
	}
	ct->free_head = 0;
	lb_ct_snat_init(ct, conf);
	return ct;
}

struct lb_ct *
lb_ct_attach(void *mem, size_t len, const struct lb_ct_conf *conf)
{
	struct layout l;
	struct lb_ct *ct = mem;

	if (mem == NULL || ((uintptr_t)mem & (CACHE_LINE - 1)) != 0)
		return NULL;
	if (plan(conf, &l) != 0 || len < l.total)
		return NULL;
	/* What the previous process wrote must describe this very layout. The block
	 * holds offsets only, so nothing in it depends on where it is mapped. */
	if (ct->magic != LB_CT_MAGIC || ct->mem_size != l.total || ct->capacity != conf->capacity ||
	    ct->mask != l.nb - 1 || ct->nb != l.nb || ct->off_conns != l.conns ||
	    ct->off_fwd != l.fwd || ct->off_rev != l.rev || ct->off_snat != l.snat ||
	    ct->count > ct->capacity ||
	    (ct->free_head != LB_CT_NIL && ct->free_head >= ct->capacity) ||
	    ct->cursor > ct->capacity || !lb_ct_snat_matches(ct, conf))
		return NULL;
	for (int i = 0; i < 2; i++)
		if (ct->ov_free[i] != LB_CT_NIL &&
		    (ct->ov_free[i] < l.nb || ct->ov_free[i] >= l.nb + l.nov))
			return NULL;
	memcpy(ct->timeout_ms, conf->timeout_ms, sizeof(ct->timeout_ms));
	ct->rst_window = conf->rst_window;
	ct->owned = 0;
	ct->snat_delay_ms = conf->snat_delay_ms;
	ct->snat_pend_pair = LB_CT_NIL;
	return ct;
}

struct lb_ct *
lb_ct_create(const struct lb_ct_conf *conf)
{
	size_t size = lb_ct_mem_size(conf);
	struct lb_ct *ct;
	void *mem;

	if (size == 0)
		return NULL;
	/* size is a multiple of 64, as aligned_alloc() requires. */
	mem = aligned_alloc(CACHE_LINE, size);
	if (mem == NULL)
		return NULL;
	ct = lb_ct_init(mem, size, conf);
	if (ct == NULL) {
		free(mem);
		return NULL;
	}
	ct->owned = 1;
	return ct;
}

void
lb_ct_destroy(struct lb_ct *ct)
{
	/* A table in caller memory (lb_ct_init) belongs to the caller. */
	if (ct != NULL && ct->owned)
		free(ct);
}

uint64_t
lb_ct_seed(const struct lb_ct *ct)
{
	return ct->seed;
}

uint32_t
lb_ct_count(const struct lb_ct *ct)
{
	return ct->count;
}

uint32_t
lb_ct_capacity(const struct lb_ct *ct)
{
	return ct->capacity;
}

void
lb_ct_prefetch_fwd(const struct lb_ct *ct, uint32_t hash)
{
	__builtin_prefetch(&ct_bk(ct, 0)[hash & ct->mask]);
}

void
lb_ct_fwd_geometry(const struct lb_ct *ct, const void **buckets, uint32_t *mask)
{
	_Static_assert(sizeof(struct ct_bucket) == LB_CT_BUCKET_SIZE, "conntrack.h says so");
	*buckets = ct_bk(ct, 0);
	*mask = ct->mask;
}

void
lb_ct_prefetch_rev(const struct lb_ct *ct, uint32_t hash)
{
	__builtin_prefetch(&ct_bk(ct, 1)[hash & ct->mask]);
}

struct lb_conn *
lb_ct_entries(const struct lb_ct *ct)
{
	_Static_assert(offsetof(struct ct_bucket, sig) == 0, "conntrack.h says so");
	_Static_assert(offsetof(struct ct_bucket, idx) == LB_CT_BK_IDX_OFF, "conntrack.h says so");
	_Static_assert(offsetof(struct ct_bucket, next) == LB_CT_BK_NEXT_OFF, "conntrack.h says so");
	return ct_conns(ct);
}

/* Mirrors lb_ct_hash_rev(): fnat keys on the SNAT side, anything else on the
 * client, so the fields the hash ignores are ignored here too. */
static int
rev_match(const struct lb_conn *c, const struct lb_ct_rev_key *k)
{
	if (c->backend_port != k->backend_port || c->proto != k->proto || c->mode != k->mode ||
	    !lb_ct_addr_eq(c->backend, k->backend))
		return 0;
	if (k->mode == LB_MODE_FNAT)
		return c->local_idx == k->local_idx && c->local_port == k->local_port;
	return c->client_port == k->client_port && lb_ct_addr_eq(c->client, k->client);
}

struct lb_conn *
lb_ct_lookup_fwd(struct lb_ct *ct, const struct lb_ct_fwd_key *k, uint32_t hash)
{
	const struct ct_bucket *bk = ct_bk(ct, 0), *b = &bk[hash & ct->mask];
	struct lb_conn *conns = ct_conns(ct);
	uint16_t sig = lb_sig_of(hash);

	for (;;) {
		for (unsigned m = lb_sig_match8(b->sig, sig); m != 0; m &= m - 1) {
			struct lb_conn *c = &conns[b->idx[__builtin_ctz(m)]];
			if (lb_ct_fwd_match(c, k))
				return c;
		}
		if (b->next == LB_CT_NIL)
			return NULL;
		b = &bk[b->next];
	}
}

struct lb_conn *
lb_ct_lookup_fwd_nocand(struct lb_ct *ct, const struct lb_ct_fwd_key *k, uint32_t hash)
{
	const struct ct_bucket *b = &ct_bk(ct, 0)[hash & ct->mask];

	if (lb_sig_match8(b->sig, lb_sig_of(hash)) == 0 && b->next == LB_CT_NIL)
		return NULL;
	return lb_ct_lookup_fwd(ct, k, hash);
}

struct lb_conn *
lb_ct_lookup_rev(struct lb_ct *ct, const struct lb_ct_rev_key *k, uint32_t hash)
{
	const struct ct_bucket *bk = ct_bk(ct, 1), *b = &bk[hash & ct->mask];
	struct lb_conn *conns = ct_conns(ct);
	uint16_t sig = lb_sig_of(hash);

	for (;;) {
		for (unsigned m = lb_sig_match8(b->sig, sig); m != 0; m &= m - 1) {
			struct lb_conn *c = &conns[b->idx[__builtin_ctz(m)]];
			if (rev_match(c, k))
				return c;
		}
		if (b->next == LB_CT_NIL)
			return NULL;
		b = &bk[b->next];
	}
}

/* A free slot for hash in index rev: its position (bucket * 8 + slot), or LB_CT_NIL
 * when the bucket's chain is full and no overflow bucket is left. */
static inline __attribute__((always_inline)) uint32_t
slot_find(struct lb_ct *ct, int rev, uint32_t hash)
{
	struct ct_bucket *bk = ct_bk(ct, rev);
	uint32_t bi = hash & ct->mask;

	for (;;) {
		unsigned m = lb_sig_match8(bk[bi].sig, 0);
		if (m != 0)
			return bi * CT_SLOTS + (uint32_t)__builtin_ctz(m);
		if (bk[bi].next == LB_CT_NIL)
			break;
		bi = bk[bi].next;
	}
	uint32_t ov = ct->ov_free[rev];
	if (ov == LB_CT_NIL)
		return LB_CT_NIL;
	ct->ov_free[rev] = bk[ov].next;
	bk[ov].next = LB_CT_NIL;
	bk[ov].prev = bi;
	bk[bi].next = ov;
	return ov * CT_SLOTS;
}

static void
slot_set(struct lb_ct *ct, int rev, uint32_t pos, uint32_t hash, uint32_t i)
{
	struct ct_bucket *b = &ct_bk(ct, rev)[pos / CT_SLOTS];

	b->sig[pos % CT_SLOTS] = lb_sig_of(hash);
	b->idx[pos % CT_SLOTS] = i;
}

/* Empty a slot; an overflow bucket left empty goes back to the pool. */
static void
slot_clear(struct lb_ct *ct, int rev, uint32_t pos)
{
	struct ct_bucket *bk = ct_bk(ct, rev);
	uint32_t bi = pos / CT_SLOTS;
	struct ct_bucket *b = &bk[bi];

	b->sig[pos % CT_SLOTS] = 0;
	b->idx[pos % CT_SLOTS] = LB_CT_NIL;
	if (bi < ct->nb || lb_sig_match8(b->sig, 0) != (1u << CT_SLOTS) - 1)
		return;
	bk[b->prev].next = b->next;
	if (b->next != LB_CT_NIL)
		bk[b->next].prev = b->prev;
	b->prev = LB_CT_NIL;
	b->next = ct->ov_free[rev];
	ct->ov_free[rev] = bi;
}

/*
 * The caller has looked the flow up and missed; a duplicate key is not checked
 * here because the fast path would pay for a second walk of both buckets.
 */
struct lb_conn *
lb_ct_insert_hashed(struct lb_ct *ct, const struct lb_conn *c, uint32_t now, uint32_t fwd_hash,
		    uint32_t rev_hash)
{
	struct lb_conn *conns = ct_conns(ct), *e;
	uint32_t i, fp, rp;

	assert(c->state < LB_CT_NSTATES);
	ct->now = now;
	i = ct->free_head;
	if (i == LB_CT_NIL)
		return NULL; /* full: the table is left exactly as it was */
	fp = slot_find(ct, 0, fwd_hash);
	if (fp == LB_CT_NIL)
		return NULL;
	rp = slot_find(ct, 1, rev_hash);
	if (rp == LB_CT_NIL) {
		/* The forward slot was only found, not taken: give back a bucket
		 * slot_find may have chained for it. */
		slot_set(ct, 0, fp, fwd_hash, i);
		slot_clear(ct, 0, fp);
		return NULL;
	}

	e = &conns[i];
	ct->free_head = e->fwd_pos;
	/* The next insert writes the next free entry: have its line on the way (a
	 * freed entry sits anywhere in the table, so it is likely a miss). */
	if (ct->free_head != LB_CT_NIL)
		__builtin_prefetch(&conns[ct->free_head], 1);
	*e = *c;
	e->expire = now + ct->timeout_ms[e->state];
	e->fwd_pos = fp;
	e->rev_pos = rp;
	slot_set(ct, 0, fp, fwd_hash, i);
	slot_set(ct, 1, rp, rev_hash, i);
	ct->count++;
	if (e->mode == LB_MODE_FNAT)
		lb_ct_snat_hold(ct, e);
	return e;
}

struct lb_conn *
lb_ct_insert(struct lb_ct *ct, const struct lb_conn *c, uint32_t now)
{
	struct lb_ct_fwd_key fk;
	struct lb_ct_rev_key rk;

	lb_ct_fwd_key_of(c, &fk);
	lb_ct_rev_key_of(c, &rk);
	return lb_ct_insert_hashed(ct, c, now, lb_ct_hash_fwd(&fk, ct->seed),
				   lb_ct_hash_rev(&rk, ct->seed));
}

/* Unlink and free; the entry's slots are known, so no hash is recomputed. */
static void
remove_entry(struct lb_ct *ct, struct lb_conn *c, int port_cools)
{
	uint32_t i = (uint32_t)(c - ct_conns(ct));

	assert(i < ct->capacity && c->state != LB_CT_STATE_FREE);
	if (c->mode == LB_MODE_FNAT)
		lb_ct_snat_release(ct, c, port_cools);
	slot_clear(ct, 0, c->fwd_pos);
	slot_clear(ct, 1, c->rev_pos);
	c->state = LB_CT_STATE_FREE;
	c->flags = 0;
	c->rev_pos = LB_CT_NIL;
	c->fwd_pos = ct->free_head;
	ct->free_head = i;
	ct->count--;
}

void
lb_ct_remove(struct lb_ct *ct, struct lb_conn *c)
{
	remove_entry(ct, c, 1);
}

void
lb_ct_remove_nocool(struct lb_ct *ct, struct lb_conn *c)
{
	remove_entry(ct, c, 0);
}

/*
 * The table only needs to know when to let an entry go, not to validate TCP:
 * only a client RST's sequence number is checked (lb_ct_tcp_seg), and anything the
 * state machine does not understand merely refreshes the entry.
 */
static uint8_t
tcp_track(const struct lb_ct *ct, struct lb_conn *c, const struct lb_tcp_seg *s, int dir,
	  uint32_t now, int check_seq)
{
	uint8_t tcp_flags = s->flags;
	uint8_t syn = tcp_flags & LB_TCP_SYN;
	uint8_t st = (uint8_t)c->state;

	assert(st <= LB_CT_TCP_CLOSED || st == LB_CT_TCP_UNCONFIRMED);

	/* A bare SYN after the connection ended, or on a picked-up flow nobody
	 * confirmed, is the client (re)using its port: the old entry still points at
	 * the old backend, so the caller starts over. */
	if ((st == LB_CT_TCP_CLOSED || st == LB_CT_TCP_UNCONFIRMED) && dir == LB_DIR_CLIENT &&
	    (tcp_flags & (LB_TCP_SYN | LB_TCP_ACK | LB_TCP_RST)) == LB_TCP_SYN)
		return LB_CT_STATE_FREE;

	if (dir == LB_DIR_CLIENT && check_seq) {
		/* Wrap-safe distance from where the client's stream is. */
		int32_t d = (int32_t)(s->seq - c->seq_client);
		if ((tcp_flags & LB_TCP_RST) && (c->flags & LB_CONN_SEQ_KNOWN) && st != LB_CT_TCP_SYN &&
		    (d > (int32_t)ct->rst_window || d < -(int32_t)ct->rst_window))
			return LB_CT_RST_REJECTED;
		if (!(c->flags & LB_CONN_SEQ_KNOWN) || (int32_t)(lb_tcp_seg_end(s) - c->seq_client) > 0)
			c->seq_client = lb_tcp_seg_end(s);
		c->flags |= LB_CONN_SEQ_KNOWN;
	}

	if (tcp_flags & LB_TCP_RST) {
		st = LB_CT_TCP_CLOSED;
	} else {
		if (dir == LB_DIR_BACKEND) {
			c->flags |= LB_CONN_SEEN_REPLY;
			/* The backend knows the connection: a pickup is confirmed. */
			if (st == LB_CT_TCP_UNCONFIRMED)
				st = LB_CT_TCP_ESTABLISHED;
		}
		if (tcp_flags & LB_TCP_FIN)
			c->flags |= dir == LB_DIR_CLIENT ? LB_CONN_FIN_CLIENT : LB_CONN_FIN_BACKEND;

		if (st == LB_CT_TCP_UNCONFIRMED) {
			/* Client packets of an unconfirmed pickup keep the short timeout. */
		} else if ((c->flags & (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND)) ==
			   (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND)) {
			st = LB_CT_TCP_CLOSED;
		} else if (c->flags & (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND)) {
			/* Once closed (by RST), a late FIN does not reopen the entry. */
			if (st != LB_CT_TCP_CLOSED)
				st = LB_CT_TCP_CLOSING;
		} else if (st == LB_CT_TCP_SYN && dir == LB_DIR_CLIENT && !syn &&
			   (c->flags & LB_CONN_SEEN_REPLY)) {
			/* The client's ACK of the SYN+ACK, or its first data: the
			 * handshake went through the backend. A retransmitted SYN
			 * stays here and only refreshes. */
			st = LB_CT_TCP_ESTABLISHED;
		}
	}

	c->state = st;
	c->expire = now + ct->timeout_ms[st];
	return st;
}

uint8_t
lb_ct_tcp_seg(const struct lb_ct *ct, struct lb_conn *c, const struct lb_tcp_seg *s, int dir,
	      uint32_t now)
{
	/* Most segments: tcp_track() without its tests (conntrack.h). */
	if (lb_ct_tcp_seg_est(c, s, dir, now, ct->timeout_ms[LB_CT_TCP_ESTABLISHED]))
		return LB_CT_TCP_ESTABLISHED;
	return tcp_track(ct, c, s, dir, now, 1);
}

uint32_t
lb_ct_timeout(const struct lb_ct *ct, uint8_t state)
{
	return state < LB_CT_NSTATES ? ct->timeout_ms[state] : 0;
}

uint8_t
lb_ct_tcp_update(const struct lb_ct *ct, struct lb_conn *c, uint8_t tcp_flags, int dir,
		 uint32_t now)
{
	struct lb_tcp_seg s = {.flags = tcp_flags};

	return tcp_track(ct, c, &s, dir, now, 0);
}

void
lb_ct_touch(const struct lb_ct *ct, struct lb_conn *c, uint32_t now)
{
	assert(c->state < LB_CT_NSTATES);
	c->expire = now + ct->timeout_ms[c->state];
}

void
lb_ct_udp_update(const struct lb_ct *ct, struct lb_conn *c, int dir, uint32_t now)
{
	if (dir == LB_DIR_BACKEND)
		c->flags |= LB_CONN_SEEN_REPLY;
	else if (c->flags & LB_CONN_SEEN_REPLY)
		c->state = LB_CT_UDP_STREAM;
	lb_ct_touch(ct, c, now);
}

/*
 * Victim rank: 2 expired, 1 half-open, 0 not a victim. Among half-open entries the
 * oldest goes first, whether or not the backend answered: under a flood the newest
 * look unanswered only because their SYN-ACK is still on its way (the backend
 * holds state for them), while the caller resets the backend's state of an
 * answered one before its tuple is reused (dp/fastpath/forward.h).
 */
static int
victim_rank(const struct lb_conn *c, uint32_t now)
{
	if (lb_clock_before(c->expire, now))
		return 2;
	return lb_ct_unanswered(c) ? 1 : 0;
}

/* Is a a better victim than b (NULL: none yet)? Higher rank, then earlier expiry. */
int
lb_ct_victim_better(const struct lb_conn *a, const struct lb_conn *b, uint32_t now)
{
	int ra = victim_rank(a, now);

	if (ra == 0)
		return 0;
	if (b == NULL)
		return 1;
	int rb = victim_rank(b, now);
	if (ra != rb)
		return ra > rb;
	return lb_clock_before(a->expire, b->expire);
}

int
lb_ct_reclaim(struct lb_ct *ct, uint32_t now, void (*cb)(const struct lb_conn *c, void *arg),
	      void *arg)
{
	struct lb_conn *victim = NULL;
	unsigned budget = ct->capacity < LB_CT_RECLAIM_SCAN ? ct->capacity : LB_CT_RECLAIM_SCAN;
	uint32_t cur = ct->cursor;
	int freed = 0;

	ct->now = now;
	for (unsigned n = 0; n < budget; n++) {
		struct lb_conn *c = &ct_conns(ct)[cur];

		if (c->state != LB_CT_STATE_FREE) {
			if (lb_clock_before(c->expire, now)) {
				if (cb != NULL)
					cb(c, arg);
				lb_ct_remove(ct, c);
				freed = 1;
			} else if (lb_ct_victim_better(c, victim, now)) {
				victim = c;
			}
		}
		if (++cur == ct->capacity)
			cur = 0;
	}
	/* The next sample starts after this one, as the expiry scan would. */
	ct->cursor = cur;
	if (freed)
		return 1;
	if (victim == NULL)
		return 0;
	if (cb != NULL)
		cb(victim, arg);
	/* A half-open entry's backend holds no TIME_WAIT for it (and is reset by the
	 * caller's cb when it answered): its SNAT port may go again at once. */
	remove_entry(ct, victim, 0);
	return 2;
}

unsigned
lb_ct_expire(struct lb_ct *ct, uint32_t now, unsigned budget,
	     void (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	unsigned freed = 0;
	uint32_t cur = ct->cursor;

	ct->now = now;
	/* One pass over the table at most: a larger budget would only revisit
	 * entries already seen. */
	if (budget > ct->capacity)
		budget = ct->capacity;

	for (unsigned n = 0; n < budget; n++) {
		struct lb_conn *c = &ct_conns(ct)[cur];

		if (c->state != LB_CT_STATE_FREE && lb_clock_before(c->expire, now)) {
			if (cb != NULL)
				cb(c, arg);
			lb_ct_remove(ct, c);
			freed++;
		}
		if (++cur == ct->capacity)
			cur = 0;
	}
	ct->cursor = cur;
	return freed;
}

uint32_t
lb_ct_foreach_from(struct lb_ct *ct, uint32_t start,
		   int (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	for (uint32_t i = start; i < ct->capacity; i++) {
		const struct lb_conn *c = &ct_conns(ct)[i];

		if (c->state != LB_CT_STATE_FREE && cb(c, arg) != 0)
			return i;
	}
	return ct->capacity;
}

void
lb_ct_foreach(struct lb_ct *ct, int (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	lb_ct_foreach_from(ct, 0, cb, arg);
}
