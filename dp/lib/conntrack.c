/*
 * conntrack.c - the per-worker connection table.
 *
 * Owns the table layout, both hash indexes, the free list, the expiry cursor and
 * the TCP state machine. Called by one worker lcore (dp/worker.c) on its own table:
 * lookups and inserts per burst, lb_ct_expire() once per loop. The control thread
 * only walks a table with lb_ct_foreach() for conns.list and accepts a racy
 * snapshot. Nothing here locks, allocates on the fast path or makes a syscall.
 *
 * Memory, one block, every part starting on a cache line:
 *   struct lb_ct | conns[capacity] | fwd[nb] | rev[nb]
 * nb is the power of two >= capacity, so a bucket is hash & mask and the average
 * chain stays at or below one entry when the table is full. Free entries are
 * chained through next_fwd (they are in no forward chain), so the free list costs
 * no memory of its own.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "lb_model.h"
#include "parse.h"

#define CACHE_LINE 64

static uint16_t to_net16(uint16_t v);

/* Largest table: bucket count must stay a power of two that fits in 32 bits and
 * an entry index must never equal LB_CT_NIL. */
#define CT_CAPACITY_MAX (1u << 31)

struct lb_ct {
	uint64_t seed;
	uint32_t capacity;
	uint32_t mask;      /* bucket count - 1 */
	uint32_t count;     /* entries in use */
	uint32_t free_head; /* first free entry, chained through next_fwd */
	uint32_t cursor;    /* next slot lb_ct_expire() looks at */
	uint32_t timeout_ms[LB_CT_NSTATES];
	uint32_t rst_window;
	int owned;          /* memory came from lb_ct_create(): lb_ct_destroy() frees */
	struct lb_conn *conns;
	uint32_t *fwd;      /* bucket heads of the forward index */
	uint32_t *rev;      /* bucket heads of the reverse index */
};

struct layout {
	uint32_t nb;     /* buckets per index */
	size_t conns;    /* offsets from the start of the block */
	size_t fwd;
	size_t rev;
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
	uint64_t conns, heads, total;

	if (conf == NULL || conf->capacity == 0 || conf->capacity > CT_CAPACITY_MAX)
		return LB_EINVAL;
	/* lb_clock_before() compares through int32_t: a longer timeout would look
	 * like the past the moment it is set. */
	for (int s = 0; s < LB_CT_NSTATES; s++)
		if (conf->timeout_ms[s] > INT32_MAX)
			return LB_EINVAL;

	l->nb = pow2_at_least(conf->capacity);
	conns = (uint64_t)conf->capacity * sizeof(struct lb_conn);
	heads = ((uint64_t)l->nb * sizeof(uint32_t) + CACHE_LINE - 1) & ~(uint64_t)(CACHE_LINE - 1);
	total = align_up(sizeof(struct lb_ct)) + conns + 2 * heads;
	/* Only reachable where size_t is 32 bits. */
	if (total > SIZE_MAX)
		return LB_EINVAL;
	l->conns = align_up(sizeof(struct lb_ct));
	l->fwd = l->conns + (size_t)conns;
	l->rev = l->fwd + (size_t)heads;
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

struct lb_ct *
lb_ct_init(void *mem, size_t len, const struct lb_ct_conf *conf)
{
	struct layout l;
	struct lb_ct *ct = mem;
	uint8_t *base = mem;

	if (mem == NULL || ((uintptr_t)mem & (CACHE_LINE - 1)) != 0)
		return NULL;
	if (plan(conf, &l) != 0 || len < l.total)
		return NULL;

	memset(ct, 0, sizeof(*ct));
	ct->seed = conf->seed;
	ct->capacity = conf->capacity;
	ct->mask = l.nb - 1;
	memcpy(ct->timeout_ms, conf->timeout_ms, sizeof(ct->timeout_ms));
	ct->rst_window = conf->rst_window;
	ct->conns = (struct lb_conn *)(void *)(base + l.conns);
	ct->fwd = (uint32_t *)(void *)(base + l.fwd);
	ct->rev = (uint32_t *)(void *)(base + l.rev);

	/* All-ones bytes make every head LB_CT_NIL. */
	memset(ct->fwd, 0xff, (size_t)l.nb * sizeof(uint32_t));
	memset(ct->rev, 0xff, (size_t)l.nb * sizeof(uint32_t));

	/* Free list in index order, so a fresh table fills memory front to back. */
	for (uint32_t i = 0; i < ct->capacity; i++) {
		struct lb_conn *c = &ct->conns[i];

		memset(c, 0, sizeof(*c));
		c->state = LB_CT_STATE_FREE;
		c->next_fwd = i + 1 < ct->capacity ? i + 1 : LB_CT_NIL;
		c->next_rev = LB_CT_NIL;
	}
	ct->free_head = 0;
	return ct;
}

struct lb_ct *
lb_ct_attach(void *mem, size_t len, const struct lb_ct_conf *conf)
{
	struct layout l;
	struct lb_ct *ct = mem;
	uint8_t *base = mem;

	if (mem == NULL || ((uintptr_t)mem & (CACHE_LINE - 1)) != 0)
		return NULL;
	if (plan(conf, &l) != 0 || len < l.total)
		return NULL;
	/* What the previous process wrote must describe this very layout. */
	if (ct->capacity != conf->capacity || ct->mask != l.nb - 1 || ct->count > ct->capacity ||
	    (ct->free_head != LB_CT_NIL && ct->free_head >= ct->capacity) ||
	    ct->cursor > ct->capacity)
		return NULL;
	memcpy(ct->timeout_ms, conf->timeout_ms, sizeof(ct->timeout_ms));
	ct->rst_window = conf->rst_window;
	ct->owned = 0;
	ct->conns = (struct lb_conn *)(void *)(base + l.conns);
	ct->fwd = (uint32_t *)(void *)(base + l.fwd);
	ct->rev = (uint32_t *)(void *)(base + l.rev);
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
	__builtin_prefetch(&ct->fwd[hash & ct->mask]);
}

/* Returns 0 when the chain is empty: the key is certainly not in the table. */
int
lb_ct_prefetch_fwd_entry(const struct lb_ct *ct, uint32_t hash)
{
	uint32_t i = ct->fwd[hash & ct->mask];

	if (i == LB_CT_NIL)
		return 0;
	__builtin_prefetch(&ct->conns[i]);
	return 1;
}

/* Same first candidate as lb_ct_snat_port() with the same arguments. */
void
lb_ct_snat_prefetch(const struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t start, uint16_t lo,
		    uint16_t hi, uint16_t stride, uint16_t offset)
{
	uint32_t first, count;

	if (lo == 0 || lo > hi || stride == 0 || offset >= stride)
		return;
	first = (uint32_t)lo + ((uint32_t)offset + stride - lo % stride) % stride;
	if (first > hi)
		return;
	count = (hi - first) / stride + 1;
	k->local_port = to_net16((uint16_t)(first + (start % count) * stride));
	__builtin_prefetch(&ct->rev[lb_ct_hash_rev(k, ct->seed) & ct->mask]);
}

void
lb_ct_prefetch_rev(const struct lb_ct *ct, uint32_t hash)
{
	__builtin_prefetch(&ct->rev[hash & ct->mask]);
}

/* Keys rebuilt from an entry: the entry stores no hash, so unlinking recomputes
 * them. Callers therefore must not change key fields of a linked entry. */
static void
fwd_key_of(const struct lb_conn *c, struct lb_ct_fwd_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->client, c->client, 16);
	k->client_port = c->client_port;
	k->svc_id = c->svc_id;
}

static void
rev_key_of(const struct lb_conn *c, struct lb_ct_rev_key *k)
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

static int
fwd_match(const struct lb_conn *c, const struct lb_ct_fwd_key *k)
{
	return c->client_port == k->client_port && c->svc_id == k->svc_id &&
	       memcmp(c->client, k->client, 16) == 0;
}

/* Mirrors lb_ct_hash_rev(): fnat keys on the SNAT side, anything else on the
 * client, so the fields the hash ignores are ignored here too. */
static int
rev_match(const struct lb_conn *c, const struct lb_ct_rev_key *k)
{
	if (c->backend_port != k->backend_port || c->proto != k->proto || c->mode != k->mode ||
	    memcmp(c->backend, k->backend, 16) != 0)
		return 0;
	if (k->mode == LB_MODE_FNAT)
		return c->local_idx == k->local_idx && c->local_port == k->local_port;
	return c->client_port == k->client_port && memcmp(c->client, k->client, 16) == 0;
}

struct lb_conn *
lb_ct_lookup_fwd(struct lb_ct *ct, const struct lb_ct_fwd_key *k, uint32_t hash)
{
	for (uint32_t i = ct->fwd[hash & ct->mask]; i != LB_CT_NIL; i = ct->conns[i].next_fwd)
		if (fwd_match(&ct->conns[i], k))
			return &ct->conns[i];
	return NULL;
}

struct lb_conn *
lb_ct_lookup_rev(struct lb_ct *ct, const struct lb_ct_rev_key *k, uint32_t hash)
{
	for (uint32_t i = ct->rev[hash & ct->mask]; i != LB_CT_NIL; i = ct->conns[i].next_rev)
		if (rev_match(&ct->conns[i], k))
			return &ct->conns[i];
	return NULL;
}

/*
 * The caller has looked the flow up and missed; a duplicate key is not checked
 * here because the fast path would pay for a second walk of both chains.
 */
struct lb_conn *
lb_ct_insert(struct lb_ct *ct, const struct lb_conn *c, uint32_t now)
{
	struct lb_ct_fwd_key fk;
	struct lb_ct_rev_key rk;
	struct lb_conn *e;
	uint32_t i, fb, rb;

	assert(c->state < LB_CT_NSTATES);
	i = ct->free_head;
	if (i == LB_CT_NIL)
		return NULL; /* full: the table is left exactly as it was */

	e = &ct->conns[i];
	ct->free_head = e->next_fwd;
	*e = *c;
	e->expire = now + ct->timeout_ms[e->state];

	fwd_key_of(e, &fk);
	rev_key_of(e, &rk);
	fb = lb_ct_hash_fwd(&fk, ct->seed) & ct->mask;
	rb = lb_ct_hash_rev(&rk, ct->seed) & ct->mask;
	e->next_fwd = ct->fwd[fb];
	ct->fwd[fb] = i;
	e->next_rev = ct->rev[rb];
	ct->rev[rb] = i;
	ct->count++;
	return e;
}

void
lb_ct_remove(struct lb_ct *ct, struct lb_conn *c)
{
	struct lb_ct_fwd_key fk;
	struct lb_ct_rev_key rk;
	uint32_t i = (uint32_t)(c - ct->conns);
	uint32_t *p;

	assert(i < ct->capacity && c->state != LB_CT_STATE_FREE);
	fwd_key_of(c, &fk);
	rev_key_of(c, &rk);

	/* Walk each chain by the link that points at the entry, so head and middle
	 * are the same case. */
	p = &ct->fwd[lb_ct_hash_fwd(&fk, ct->seed) & ct->mask];
	while (*p != i) {
		assert(*p != LB_CT_NIL);
		p = &ct->conns[*p].next_fwd;
	}
	*p = c->next_fwd;

	p = &ct->rev[lb_ct_hash_rev(&rk, ct->seed) & ct->mask];
	while (*p != i) {
		assert(*p != LB_CT_NIL);
		p = &ct->conns[*p].next_rev;
	}
	*p = c->next_rev;

	c->state = LB_CT_STATE_FREE;
	c->flags = 0;
	c->next_rev = LB_CT_NIL;
	c->next_fwd = ct->free_head;
	ct->free_head = i;
	ct->count--;
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
	return tcp_track(ct, c, s, dir, now, 1);
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
static int
better_victim(const struct lb_conn *a, const struct lb_conn *b, uint32_t now)
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

	for (unsigned n = 0; n < budget; n++) {
		struct lb_conn *c = &ct->conns[cur];

		if (c->state != LB_CT_STATE_FREE) {
			if (lb_clock_before(c->expire, now)) {
				if (cb != NULL)
					cb(c, arg);
				lb_ct_remove(ct, c);
				freed = 1;
			} else if (better_victim(c, victim, now)) {
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
	lb_ct_remove(ct, victim);
	return 2;
}

unsigned
lb_ct_expire(struct lb_ct *ct, uint32_t now, unsigned budget,
	     void (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	unsigned freed = 0;
	uint32_t cur = ct->cursor;

	/* One pass over the table at most: a larger budget would only revisit
	 * entries already seen. */
	if (budget > ct->capacity)
		budget = ct->capacity;

	for (unsigned n = 0; n < budget; n++) {
		struct lb_conn *c = &ct->conns[cur];

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

/* Network order without <arpa/inet.h>: the two bytes as they go on the wire. */
static uint16_t
to_net16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	uint16_t r;

	memcpy(&r, b, 2);
	return r;
}

/* The port search; with victim, also the best entry to reclaim among the taken. */
static int
snat_search(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t start, uint16_t lo, uint16_t hi,
	    uint16_t stride, uint16_t offset, unsigned tries, uint32_t now, struct lb_conn **victim)
{
	uint16_t saved = k->local_port;
	uint32_t first, count, idx;

	if (k->mode != LB_MODE_FNAT || lo == 0 || lo > hi || stride == 0 || offset >= stride)
		return LB_EINVAL;

	/* First candidate >= lo with p % stride == offset; 32-bit so it can pass hi. */
	first = (uint32_t)lo + ((uint32_t)offset + stride - lo % stride) % stride;
	if (first > hi)
		return LB_EFULL;
	count = (hi - first) / stride + 1;
	if (tries > count)
		tries = count;

	idx = start % count;
	for (unsigned t = 0; t < tries; t++) {
		k->local_port = to_net16((uint16_t)(first + idx * stride));
		struct lb_conn *c = lb_ct_lookup_rev(ct, k, lb_ct_hash_rev(k, ct->seed));
		if (c == NULL)
			return 0;
		if (victim != NULL && better_victim(c, *victim, now))
			*victim = c;
		if (++idx == count)
			idx = 0;
	}
	k->local_port = saved;
	return LB_EFULL;
}

/*
 * Ports are partitioned between workers by stride/offset so replies can be
 * steered to the owner by the destination port alone. Port 0 never goes on the
 * wire, so lo must be at least 1.
 */
int
lb_ct_snat_port(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t start, uint16_t lo,
		uint16_t hi, uint16_t stride, uint16_t offset, unsigned tries)
{
	return snat_search(ct, k, start, lo, hi, stride, offset, tries, 0, NULL);
}

int
lb_ct_snat_port_reclaim(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t start, uint16_t lo,
			uint16_t hi, uint16_t stride, uint16_t offset, unsigned tries, uint32_t now,
			void (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	struct lb_conn *victim = NULL;
	int rc = snat_search(ct, k, start, lo, hi, stride, offset, tries, now, &victim);

	if (rc != LB_EFULL || victim == NULL)
		return rc;
	rc = lb_clock_before(victim->expire, now) ? 1 : 2;
	k->local_port = victim->local_port;
	if (cb != NULL)
		cb(victim, arg);
	lb_ct_remove(ct, victim);
	return rc;
}

uint32_t
lb_ct_foreach_from(struct lb_ct *ct, uint32_t start,
		   int (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	for (uint32_t i = start; i < ct->capacity; i++) {
		const struct lb_conn *c = &ct->conns[i];

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
