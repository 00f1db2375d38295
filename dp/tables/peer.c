/*
 * peer.c - the peer table (peer.h): written by the control thread only, read by
 * workers lock-free.
 *
 * Writer protocol (one writer, so no compare-and-swap): an entry's seq goes odd,
 * the fields change, seq goes even (release). A slot of a bucket is a 64-bit word
 * (hash tag << 32 | entry index), stored atomically; it is published after the
 * entry is written and cleared before the entry is freed. A reader loads the slot
 * (acquire), skips other tags, copies the entry under its seq and compares the
 * key in the copy: a reused entry is a miss, a torn copy is retried.
 */
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "hash.h"
#include "peer.h"

#define NIL 0xffffffffu
#define SLOT_EMPTY 0ull          /* tag 0 + index 0 is never stored: tags are forced odd */
#define READ_TRIES 4

struct peer_ent {
	uint32_t seq;     /* even: stable, odd: being written */
	uint32_t expire;  /* ms clock */
	uint32_t next;    /* free list */
	uint32_t sender;
	struct lb_sync_rec rec; /* family 0: free */
	bool own;         /* its SNAT address is one of this box's own */
};

struct lb_peer_table {
	uint32_t cap;
	uint32_t bmask;   /* buckets - 1 */
	uint32_t n;
	uint32_t n_own;   /* entries with own set */
	uint32_t free_head;
	uint32_t cursor;
	uint64_t seed;
	struct peer_ent *e;
	uint64_t *fwd;    /* [buckets][LB_PEER_WAYS] */
	uint64_t *rev;
};

struct key {
	uint8_t family, proto;
	uint16_t p1, p2;
	uint8_t a1[16], a2[16];
};

static uint32_t
hash_key(const struct lb_peer_table *t, uint8_t family, uint8_t proto, const uint8_t *a1,
	 uint16_t p1, const uint8_t *a2, uint16_t p2, uint64_t salt)
{
	struct key k;

	memset(&k, 0, sizeof(k));
	k.family = family;
	k.proto = proto;
	k.p1 = p1;
	k.p2 = p2;
	memcpy(k.a1, a1, 16);
	memcpy(k.a2, a2, 16);
	return (uint32_t)lb_hash_bytes(&k, sizeof(k), t->seed ^ salt) | 1u;
}

#define FWD_SALT 0x243f6a8885a308d3ull
#define REV_SALT 0x13198a2e03707344ull

static uint32_t
hash_fwd(const struct lb_peer_table *t, const struct lb_sync_rec *r)
{
	return hash_key(t, r->family, r->proto, r->vip, r->vport, r->client, r->cport, FWD_SALT);
}

static uint32_t
hash_rev(const struct lb_peer_table *t, const struct lb_sync_rec *r)
{
	return hash_key(t, r->family, r->proto, r->backend, r->bport, r->local, r->lport, REV_SALT);
}

/* The bucket of hash h: its bit 0 is forced to 1 for the tag, so the bits above it. */
static inline size_t
bucket(const struct lb_peer_table *t, uint32_t h)
{
	return (size_t)((h >> 1) & t->bmask);
}

static bool
same_fwd(const struct lb_sync_rec *a, const struct lb_sync_rec *b)
{
	return a->family == b->family && a->proto == b->proto && a->vport == b->vport &&
	       a->cport == b->cport && memcmp(a->vip, b->vip, 16) == 0 &&
	       memcmp(a->client, b->client, 16) == 0;
}

static bool
same_rev(const struct lb_sync_rec *a, const struct lb_sync_rec *b)
{
	return a->family == b->family && a->proto == b->proto && a->bport == b->bport &&
	       a->lport == b->lport && memcmp(a->backend, b->backend, 16) == 0 &&
	       memcmp(a->local, b->local, 16) == 0;
}

struct lb_peer_table *
lb_peer_create(uint32_t capacity, uint64_t seed)
{
	if (capacity < 64 || (capacity & (capacity - 1)) != 0)
		return NULL;
	struct lb_peer_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	uint32_t nb = capacity / 4; /* 8 ways: room for twice the entries */
	t->cap = capacity;
	t->bmask = nb - 1;
	t->seed = seed;
	t->e = calloc(capacity, sizeof(*t->e));
	t->fwd = calloc((size_t)nb * LB_PEER_WAYS, sizeof(uint64_t));
	t->rev = calloc((size_t)nb * LB_PEER_WAYS, sizeof(uint64_t));
	if (t->e == NULL || t->fwd == NULL || t->rev == NULL) {
		lb_peer_destroy(t);
		return NULL;
	}
	for (uint32_t i = 0; i < capacity; i++)
		t->e[i].next = i + 1 < capacity ? i + 1 : NIL;
	t->free_head = 0;
	return t;
}

void
lb_peer_destroy(struct lb_peer_table *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t->fwd);
	free(t->rev);
	free(t);
}

uint32_t
lb_peer_count(const struct lb_peer_table *t)
{
	return __atomic_load_n(&t->n, __ATOMIC_RELAXED);
}

uint32_t
lb_peer_own_count(const struct lb_peer_table *t)
{
	return __atomic_load_n(&t->n_own, __ATOMIC_RELAXED);
}

uint32_t
lb_peer_capacity(const struct lb_peer_table *t)
{
	return t->cap;
}

static inline uint64_t
slot_of(uint32_t tag, uint32_t idx)
{
	return (uint64_t)tag << 32 | idx;
}

/* ---- writer (control thread) -------------------------------------------- */

static void
write_begin(struct peer_ent *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void
write_end(struct peer_ent *e)
{
	__atomic_store_n(&e->seq, e->seq + 1, __ATOMIC_RELEASE);
}

static void
unlink_slot(uint64_t *b, uint32_t idx)
{
	for (unsigned i = 0; i < LB_PEER_WAYS; i++)
		if ((uint32_t)b[i] == idx && b[i] != SLOT_EMPTY)
			__atomic_store_n(&b[i], SLOT_EMPTY, __ATOMIC_RELEASE);
}

static void
remove_ent(struct lb_peer_table *t, uint32_t idx)
{
	struct peer_ent *e = &t->e[idx];

	unlink_slot(&t->fwd[bucket(t, hash_fwd(t, &e->rec)) * LB_PEER_WAYS], idx);
	unlink_slot(&t->rev[bucket(t, hash_rev(t, &e->rec)) * LB_PEER_WAYS], idx);
	write_begin(e);
	e->rec.family = 0;
	write_end(e);
	if (e->own)
		__atomic_store_n(&t->n_own, t->n_own - 1, __ATOMIC_RELAXED);
	e->own = false;
	e->next = t->free_head;
	t->free_head = idx;
	__atomic_store_n(&t->n, t->n - 1, __ATOMIC_RELAXED);
}

/* A free slot of bucket b, freeing expired entries met there; -1 when full. */
static int
free_slot(struct lb_peer_table *t, uint64_t *b, uint32_t now)
{
	for (unsigned i = 0; i < LB_PEER_WAYS; i++)
		if (b[i] == SLOT_EMPTY)
			return (int)i;
	for (unsigned i = 0; i < LB_PEER_WAYS; i++) {
		uint32_t idx = (uint32_t)b[i];
		if (!lb_clock_before(now, t->e[idx].expire)) {
			remove_ent(t, idx);
			return (int)i;
		}
	}
	return -1;
}

int
lb_peer_upsert(struct lb_peer_table *t, const struct lb_sync_rec *r, uint32_t sender,
	       uint32_t now, bool own)
{
	uint32_t hf = hash_fwd(t, r), hr = hash_rev(t, r);
	uint64_t *bf = &t->fwd[bucket(t, hf) * LB_PEER_WAYS];
	uint64_t *br = &t->rev[bucket(t, hr) * LB_PEER_WAYS];

	for (unsigned i = 0; i < LB_PEER_WAYS; i++) {
		if (bf[i] == SLOT_EMPTY || (uint32_t)(bf[i] >> 32) != hf)
			continue;
		uint32_t idx = (uint32_t)bf[i];
		struct peer_ent *e = &t->e[idx];
		if (!same_fwd(&e->rec, r))
			continue;
		if (same_rev(&e->rec, r)) {
			/* A state change or a refresh: in place. */
			write_begin(e);
			e->rec = *r;
			e->sender = sender;
			e->expire = now + r->timeout_ms;
			write_end(e);
			if (e->own != own)
				__atomic_store_n(&t->n_own, own ? t->n_own + 1 : t->n_own - 1,
						 __ATOMIC_RELAXED);
			e->own = own;
			return 0;
		}
		remove_ent(t, idx); /* another backend or SNAT port: re-index */
		break;
	}
	/* The sender reused an SNAT port for another client: the old flow is over. */
	for (unsigned i = 0; i < LB_PEER_WAYS; i++) {
		if (br[i] == SLOT_EMPTY || (uint32_t)(br[i] >> 32) != hr)
			continue;
		uint32_t idx = (uint32_t)br[i];
		if (same_rev(&t->e[idx].rec, r)) {
			remove_ent(t, idx);
			break;
		}
	}
	int sf = free_slot(t, bf, now), sr = free_slot(t, br, now);
	if (sf < 0 || sr < 0 || t->free_head == NIL)
		return -1;
	uint32_t idx = t->free_head;
	struct peer_ent *e = &t->e[idx];
	t->free_head = e->next;
	write_begin(e);
	e->rec = *r;
	e->sender = sender;
	e->expire = now + r->timeout_ms;
	write_end(e);
	e->own = own;
	if (own)
		__atomic_store_n(&t->n_own, t->n_own + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&bf[sf], slot_of(hf, idx), __ATOMIC_RELEASE);
	__atomic_store_n(&br[sr], slot_of(hr, idx), __ATOMIC_RELEASE);
	__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELAXED);
	return 0;
}

unsigned
lb_peer_expire(struct lb_peer_table *t, uint32_t now, unsigned budget)
{
	unsigned freed = 0;

	if (t->n == 0)
		return 0;
	for (unsigned k = 0; k < budget; k++) {
		uint32_t idx = t->cursor;
		t->cursor = (t->cursor + 1) & (t->cap - 1);
		struct peer_ent *e = &t->e[idx];
		if (e->rec.family != 0 && !lb_clock_before(now, e->expire)) {
			remove_ent(t, idx);
			freed++;
		}
	}
	return freed;
}

uint32_t
lb_peer_walk(const struct lb_peer_table *t, uint32_t start, unsigned budget, uint32_t sender,
	     uint32_t now, void (*cb)(const struct lb_sync_rec *r, void *arg), void *arg)
{
	uint32_t i = start;

	for (; i < t->cap && budget > 0; i++, budget--) {
		const struct peer_ent *e = &t->e[i];
		if (e->rec.family == 0 || e->sender != sender || !lb_clock_before(now, e->expire))
			continue;
		struct lb_sync_rec r = e->rec;
		r.timeout_ms = e->expire - now;
		cb(&r, arg);
	}
	return i;
}

/* ---- readers (workers) ---------------------------------------------------- */

static bool
read_ent(const struct peer_ent *e, struct peer_ent *out)
{
	for (int i = 0; i < READ_TRIES; i++) {
		uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, (const void *)e, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1)
			return true;
	}
	return false;
}

static bool
lookup(const struct lb_peer_table *t, const uint64_t *index, uint32_t h, bool fwd,
       const struct lb_sync_rec *want, uint32_t now, struct lb_sync_rec *out)
{
	const uint64_t *b = &index[bucket(t, h) * LB_PEER_WAYS];

	for (unsigned i = 0; i < LB_PEER_WAYS; i++) {
		uint64_t s = __atomic_load_n(&b[i], __ATOMIC_ACQUIRE);
		if (s == SLOT_EMPTY || (uint32_t)(s >> 32) != h)
			continue;
		uint32_t idx = (uint32_t)s;
		if (idx >= t->cap)
			continue;
		struct peer_ent c;
		if (!read_ent(&t->e[idx], &c) || c.rec.family == 0)
			continue;
		if (!(fwd ? same_fwd(&c.rec, want) : same_rev(&c.rec, want)))
			continue;
		if (!lb_clock_before(now, c.expire))
			return false;
		*out = c.rec;
		return true;
	}
	return false;
}

bool
lb_peer_lookup_fwd(const struct lb_peer_table *t, uint8_t family, uint8_t proto,
		   const uint8_t *vip, uint16_t vport, const uint8_t *client, uint16_t cport,
		   uint32_t now, struct lb_sync_rec *out)
{
	struct lb_sync_rec k;

	k.family = family;
	k.proto = proto;
	memcpy(k.vip, vip, 16);
	memcpy(k.client, client, 16);
	k.vport = vport;
	k.cport = cport;
	return lookup(t, t->fwd, hash_fwd(t, &k), true, &k, now, out);
}

bool
lb_peer_lookup_rev(const struct lb_peer_table *t, uint8_t family, uint8_t proto,
		   const uint8_t *backend, uint16_t bport, const uint8_t *local, uint16_t lport,
		   uint32_t now, struct lb_sync_rec *out)
{
	struct lb_sync_rec k;

	k.family = family;
	k.proto = proto;
	memcpy(k.backend, backend, 16);
	memcpy(k.local, local, 16);
	k.bport = bport;
	k.lport = lport;
	return lookup(t, t->rev, hash_rev(t, &k), false, &k, now, out);
}
