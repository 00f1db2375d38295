/*
 * rmhash.c - the writer side of the read-mostly hash (rmhash.h).
 *
 * Runs on the control thread only (service.c): layout, insert, delete and the
 * overflow-bucket pool. Readers (worker lcores) use the inline lookups of
 * rmhash.h and never call into this file. Every store a reader may see is an
 * atomic store: a slot's value and tag with release (key first, tag last), a
 * chain link with release once the bucket it points to is ready.
 */
#include <stdint.h>
#include <string.h>

#include "lb_error.h"
#include "rmhash.h"

#define CACHE_LINE 64

struct layout {
	uint32_t nb, nov;
	size_t bk, keys, total; /* offsets from the start of the block */
};

static size_t
align_up(size_t n)
{
	return (n + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
}

static int
plan(uint32_t capacity, struct layout *l)
{
	uint32_t nb = 1;

	if (capacity == 0 || capacity > LB_RMH_CAPACITY_MAX)
		return LB_EINVAL;
	while (nb < (capacity + 3) / 4)
		nb <<= 1;
	l->nb = nb;
	/* Enough for every key in one chain: the table takes capacity keys whatever
	 * their hashes (as long as no emptied bucket is still waiting its grace). */
	l->nov = capacity / LB_RMH_SLOTS + 16;
	l->bk = align_up(sizeof(struct lb_rmh));
	l->keys = l->bk + (size_t)(l->nb + l->nov) * sizeof(struct lb_rmh_bucket);
	l->total = align_up(l->keys + (size_t)capacity * sizeof(struct lb_rmh_key));
	return 0;
}

size_t
lb_rmh_mem_size(uint32_t capacity)
{
	struct layout l;

	return plan(capacity, &l) == 0 ? l.total : 0;
}

struct lb_rmh *
lb_rmh_init(void *mem, size_t len, uint32_t capacity, uint32_t seed)
{
	struct layout l;
	struct lb_rmh *h = mem;

	if (mem == NULL || ((uintptr_t)mem & (CACHE_LINE - 1)) != 0 || plan(capacity, &l) != 0 ||
	    len < l.total)
		return NULL;
	memset(mem, 0, l.total);
	h->bk = (struct lb_rmh_bucket *)(void *)((uint8_t *)mem + l.bk);
	h->keys = (struct lb_rmh_key *)(void *)((uint8_t *)mem + l.keys);
	h->mask = l.nb - 1;
	h->seed = seed;
	h->nb = l.nb;
	h->nov = l.nov;
	h->capacity = capacity;
	for (uint32_t i = 0; i < l.nb + l.nov; i++) {
		h->bk[i].next = i >= l.nb && i + 1 < l.nb + l.nov ? i + 1 : LB_RMH_NIL;
		h->bk[i].prev = LB_RMH_NIL;
	}
	h->ov_free = l.nov ? l.nb : LB_RMH_NIL;
	return h;
}

uint32_t
lb_rmh_count(const struct lb_rmh *h)
{
	return h->count;
}

/* Where key sits (bucket * 8 + slot), or LB_RMH_NIL. Writer side: plain loads. */
static uint32_t
find_pos(const struct lb_rmh *h, const void *key, uint32_t hash)
{
	uint32_t bi = hash & h->mask;
	uint16_t tag = lb_rmh_tag(hash);

	for (;;) {
		const struct lb_rmh_bucket *b = &h->bk[bi];
		for (unsigned m = lb_rmh_match(b, tag); m != 0; m &= m - 1) {
			unsigned s = (unsigned)__builtin_ctz(m);
			if (lb_rmh_key_eq(&h->keys[b->val[s]], key))
				return bi * LB_RMH_SLOTS + s;
		}
		if (b->next == LB_RMH_NIL)
			return LB_RMH_NIL;
		bi = b->next;
	}
}

/* A free slot in the chain of hash, chaining an overflow bucket when it is full. */
static uint32_t
free_pos(struct lb_rmh *h, uint32_t hash)
{
	uint32_t bi = hash & h->mask;

	for (;;) {
		unsigned m = lb_rmh_match(&h->bk[bi], 0);
		if (m != 0)
			return bi * LB_RMH_SLOTS + (uint32_t)__builtin_ctz(m);
		if (h->bk[bi].next == LB_RMH_NIL)
			break;
		bi = h->bk[bi].next;
	}
	uint32_t ov = h->ov_free;
	if (ov == LB_RMH_NIL)
		return LB_RMH_NIL;
	struct lb_rmh_bucket *o = &h->bk[ov];
	h->ov_free = o->next;
	/* Out of every chain for a grace period: no reader looks at it. */
	memset(o->tag, 0, sizeof(o->tag));
	o->next = LB_RMH_NIL;
	o->prev = bi;
	__atomic_store_n(&h->bk[bi].next, ov, __ATOMIC_RELEASE);
	return ov * LB_RMH_SLOTS;
}

int
lb_rmh_add(struct lb_rmh *h, const void *key, uint32_t value)
{
	if (value >= h->capacity)
		return LB_EINVAL;
	uint32_t hash = lb_rmh_hash(h, key);
	if (find_pos(h, key, hash) != LB_RMH_NIL)
		return LB_EEXIST;
	uint32_t pos = free_pos(h, hash);
	if (pos == LB_RMH_NIL)
		return LB_EFULL;
	struct lb_rmh_bucket *b = &h->bk[pos / LB_RMH_SLOTS];
	unsigned s = pos % LB_RMH_SLOTS;

	/* No reader compares keys[value] (not in the table, or freed a grace ago). */
	memset(&h->keys[value], 0, sizeof(h->keys[value]));
	memcpy(h->keys[value].b, key, LB_RMH_KEY_LEN);
	__atomic_store_n(&b->val[s], value, __ATOMIC_RELEASE);
	__atomic_store_n(&b->tag[s], lb_rmh_tag(hash), __ATOMIC_RELEASE);
	h->count++;
	return 0;
}

int64_t
lb_rmh_del(struct lb_rmh *h, const void *key, uint32_t *ov_out)
{
	uint32_t pos = find_pos(h, key, lb_rmh_hash(h, key));

	*ov_out = LB_RMH_NIL;
	if (pos == LB_RMH_NIL)
		return LB_ENOENT;
	uint32_t bi = pos / LB_RMH_SLOTS;
	struct lb_rmh_bucket *b = &h->bk[bi];
	unsigned s = pos % LB_RMH_SLOTS;
	uint32_t value = b->val[s];

	/* The value stays: a reader that saw the tag still compares a whole key. */
	__atomic_store_n(&b->tag[s], 0, __ATOMIC_RELEASE);
	h->count--;
	if (bi >= h->nb && lb_rmh_match(b, 0) == (1u << LB_RMH_SLOTS) - 1) {
		/* An empty overflow bucket leaves its chain; readers in it follow its
		 * next, which stays as it is until the bucket is reused. */
		__atomic_store_n(&h->bk[b->prev].next, b->next, __ATOMIC_RELEASE);
		if (b->next != LB_RMH_NIL)
			h->bk[b->next].prev = b->prev;
		*ov_out = bi;
	}
	return value;
}

void
lb_rmh_ov_release(struct lb_rmh *h, uint32_t ov)
{
	if (ov == LB_RMH_NIL || ov < h->nb || ov >= h->nb + h->nov)
		return;
	h->bk[ov].prev = LB_RMH_NIL;
	h->bk[ov].next = h->ov_free;
	h->ov_free = ov;
}
