/*
 * affinity.c - the shared ClientIP affinity table (see affinity.h).
 *
 * Workers call lookup/update/touch concurrently; the control thread calls
 * lb_aff_flush_service. The sequence protocol is the one of a seqlock, except
 * that writers try once instead of spinning: a busy entry means another worker is
 * recording the same client right now, and either record is as good.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "affinity.h"
#include "hash.h"
#include "lb_error.h"

struct aff_entry {
	uint32_t seq;       /* even: stable, odd: a writer owns it */
	uint32_t svc_id;    /* LB_AFF_NONE: empty */
	uint32_t real_id;
	uint32_t last_used; /* ms clock */
	uint8_t client[16];
};

_Static_assert(sizeof(struct aff_entry) == 32, "two buckets per 256 bytes");

struct lb_aff_table {
	uint32_t mask;  /* buckets - 1 */
	uint32_t own;   /* allocated by lb_aff_create */
	uint64_t seed;
	struct aff_entry e[] __attribute__((aligned(64)));
};

static uint32_t
n_buckets(uint32_t capacity)
{
	/* 64-bit: capacity + LB_AFF_WAYS - 1 wraps for capacities near UINT32_MAX. */
	uint32_t want = (uint32_t)(((uint64_t)capacity + LB_AFF_WAYS - 1) / LB_AFF_WAYS), b = 1;

	while (b < want && b < (1u << 30))
		b <<= 1;
	return b;
}

size_t
lb_aff_mem_size(uint32_t capacity)
{
	if (capacity == 0)
		return 0;
	return sizeof(struct lb_aff_table) +
	       (size_t)n_buckets(capacity) * LB_AFF_WAYS * sizeof(struct aff_entry);
}

struct lb_aff_table *
lb_aff_init(void *mem, size_t len, uint32_t capacity, uint64_t seed)
{
	struct lb_aff_table *t = mem;
	size_t need = lb_aff_mem_size(capacity);

	if (mem == NULL || need == 0 || len < need || ((uintptr_t)mem & 63) != 0)
		return NULL;
	uint32_t nb = n_buckets(capacity);
	t->mask = nb - 1;
	t->own = 0;
	t->seed = seed;
	for (size_t i = 0; i < (size_t)nb * LB_AFF_WAYS; i++) {
		memset(&t->e[i], 0, sizeof(t->e[i]));
		t->e[i].svc_id = LB_AFF_NONE;
	}
	return t;
}

struct lb_aff_table *
lb_aff_create(uint32_t capacity, uint64_t seed)
{
	size_t sz = lb_aff_mem_size(capacity);

	if (sz == 0)
		return NULL;
	void *mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	struct lb_aff_table *t = lb_aff_init(mem, sz, capacity, seed);
	if (t == NULL) {
		free(mem);
		return NULL;
	}
	t->own = 1;
	return t;
}

void
lb_aff_destroy(struct lb_aff_table *t)
{
	if (t && t->own)
		free(t);
}

static struct aff_entry *
bucket(const struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16])
{
	uint8_t k[20];

	memcpy(k, client, 16);
	memcpy(k + 16, &svc_id, 4);
	uint32_t b = (uint32_t)lb_hash_bytes(k, sizeof(k), t->seed) & t->mask;
	return (struct aff_entry *)&t->e[(size_t)b * LB_AFF_WAYS];
}

/* A consistent copy of e, or false while a writer owns it. */
static bool
read_entry(const struct aff_entry *e, struct aff_entry *out)
{
	uint32_t s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);

	if (s1 & 1)
		return false;
	memcpy(out, e, sizeof(*out));
	out->seq = s1; /* the version the copy is consistent with (lb_aff_update claims it) */
	/* The copy above must complete before seq is read again. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s1;
}

static bool
same_key(const struct aff_entry *e, uint32_t svc_id, const uint8_t client[16])
{
	return e->svc_id == svc_id && memcmp(e->client, client, 16) == 0;
}

uint32_t
lb_aff_lookup(const struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16],
	      uint32_t now, uint32_t timeout_ms)
{
	const struct aff_entry *b = bucket(t, svc_id, client);
	struct aff_entry c;

	for (int i = 0; i < LB_AFF_WAYS; i++) {
		if (!read_entry(&b[i], &c) || !same_key(&c, svc_id, client))
			continue;
		uint32_t last = __atomic_load_n(&b[i].last_used, __ATOMIC_RELAXED);
		if ((int32_t)(now - last) >= 0 && now - last >= timeout_ms)
			return LB_AFF_NONE; /* idle too long: a new pick */
		return c.real_id;
	}
	return LB_AFF_NONE;
}

int
lb_aff_update(struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16],
	      uint32_t real_id, uint32_t now)
{
	struct aff_entry *b = bucket(t, svc_id, client), c;
	int match = -1, empty = -1, oldest = -1;
	uint32_t oldest_age = 0, seen[LB_AFF_WAYS];
	bool busy = false;

	for (int i = 0; i < LB_AFF_WAYS && match < 0; i++) {
		if (!read_entry(&b[i], &c)) {
			busy = true;
			continue;
		}
		seen[i] = c.seq;
		if (same_key(&c, svc_id, client)) {
			match = i;
		} else if (c.svc_id == LB_AFF_NONE) {
			if (empty < 0)
				empty = i;
		} else {
			uint32_t age = now - __atomic_load_n(&b[i].last_used, __ATOMIC_RELAXED);
			/* Used "in the future" by a worker whose clock runs a little ahead:
			 * that is the newest entry, not (as unsigned age says) the oldest. */
			if ((int32_t)age < 0)
				age = 0;
			if (oldest < 0 || age > oldest_age) {
				oldest = i;
				oldest_age = age;
			}
		}
	}
	/*
	 * A busy way may be another worker recording this very key: writing it into a
	 * second way would leave the key twice in the bucket. Skip, as for a busy match.
	 */
	if (match < 0 && busy)
		return LB_EAGAIN;
	int victim = match >= 0 ? match : empty >= 0 ? empty : oldest;
	if (victim < 0)
		return LB_EAGAIN; /* every way busy with writers */

	/*
	 * Claim the victim only if it is still what the scan saw: an entry rewritten
	 * since (by a writer of this key, or of another key that just took the empty
	 * way) is no longer the right victim.
	 */
	struct aff_entry *e = &b[victim];
	uint32_t s = seen[victim];
	if ((s & 1) || !__atomic_compare_exchange_n(&e->seq, &s, s + 1, false, __ATOMIC_ACQUIRE,
						    __ATOMIC_RELAXED))
		return LB_EAGAIN;
	/* The odd sequence is visible before any field changes. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->svc_id = svc_id;
	e->real_id = real_id;
	memcpy(e->client, client, 16);
	__atomic_store_n(&e->last_used, now, __ATOMIC_RELAXED);
	__atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
	return 0;
}

void
lb_aff_touch(struct lb_aff_table *t, uint32_t svc_id, const uint8_t client[16], uint32_t now)
{
	struct aff_entry *b = bucket(t, svc_id, client), c;

	for (int i = 0; i < LB_AFF_WAYS; i++)
		if (read_entry(&b[i], &c) && same_key(&c, svc_id, client)) {
			__atomic_store_n(&b[i].last_used, now, __ATOMIC_RELAXED);
			return;
		}
}

void
lb_aff_flush_service(struct lb_aff_table *t, uint32_t svc_id)
{
	size_t n = (size_t)(t->mask + 1) * LB_AFF_WAYS;

	for (size_t i = 0; i < n; i++) {
		struct aff_entry *e = &t->e[i];
		if (__atomic_load_n(&e->svc_id, __ATOMIC_RELAXED) != svc_id)
			continue;
		/* Workers hold an entry for a few stores; wait for them, briefly. */
		for (int tries = 0; tries < 1000000; tries++) {
			uint32_t s = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
			if ((s & 1) == 0 && __atomic_compare_exchange_n(&e->seq, &s, s + 1, false,
									__ATOMIC_ACQUIRE,
									__ATOMIC_RELAXED)) {
				if (e->svc_id == svc_id)
					e->svc_id = LB_AFF_NONE;
				__atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
				break;
			}
		}
	}
}

uint32_t
lb_aff_count(const struct lb_aff_table *t)
{
	size_t n = (size_t)(t->mask + 1) * LB_AFF_WAYS;
	uint32_t used = 0;

	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n(&t->e[i].svc_id, __ATOMIC_RELAXED) != LB_AFF_NONE)
			used++;
	return used;
}
