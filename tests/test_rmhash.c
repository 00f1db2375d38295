/*
 * test_rmhash.c - unit tests for dp/tables/rmhash.c, the read-mostly hash of the
 * service directory and the address table.
 *
 * No EAL: tables in aligned_alloc() memory; the grace period is a real
 * rte_rcu_qsbr (plain memory, one registered reader) driven through dp/tables/rcu.c
 * the way service.c drives it. A reader thread checks lookups during churn.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <rte_rcu_qsbr.h>

#include "lb_error.h"
#include "rcu.h"
#include "rmhash.h"

static struct lb_rmh *
mk(uint32_t cap, uint32_t seed)
{
	size_t len = lb_rmh_mem_size(cap);
	void *mem;

	assert_true(len > 0);
	mem = aligned_alloc(64, len);
	assert_non_null(mem);
	struct lb_rmh *h = lb_rmh_init(mem, len, cap, seed);
	assert_ptr_equal(h, mem);
	return h;
}

/* Key n: an IPv4-like service key 198.18.x.y:port/tcp. */
static void
key(uint8_t *k, uint32_t n)
{
	memset(k, 0, LB_RMH_KEY_LEN);
	k[0] = 198;
	k[1] = 18;
	k[2] = (uint8_t)(n >> 8);
	k[3] = (uint8_t)n;
	k[16] = (uint8_t)(n >> 16);
	k[17] = 80;
	k[18] = 6;
	k[19] = 4;
}

static void
test_rmh_insert_lookup_delete(void **state)
{
	(void)state;
	struct lb_rmh *h = mk(1000, 7);
	uint8_t k[LB_RMH_KEY_LEN];
	uint32_t ov;

	assert_int_equal(lb_rmh_mem_size(0), 0);
	assert_null(lb_rmh_init(h, 64, 1000, 0)); /* too short */
	for (uint32_t i = 0; i < 1000; i++) {
		key(k, i);
		assert_int_equal(lb_rmh_add(h, k, 999 - i), 0);
	}
	assert_int_equal(lb_rmh_count(h), 1000);
	key(k, 5);
	assert_int_equal(lb_rmh_add(h, k, 3), LB_EEXIST);
	assert_int_equal(lb_rmh_lookup(h, k), 994); /* unchanged */
	assert_int_equal(lb_rmh_add(h, k, 1000), LB_EINVAL);
	for (uint32_t i = 0; i < 1000; i++) {
		key(k, i);
		assert_int_equal(lb_rmh_lookup(h, k), 999 - i);
	}
	key(k, 1000);
	assert_int_equal(lb_rmh_lookup(h, k), -1);
	for (uint32_t i = 0; i < 1000; i += 2) {
		key(k, i);
		assert_int_equal(lb_rmh_del(h, k, &ov), 999 - i);
		assert_int_equal(lb_rmh_del(h, k, &ov), LB_ENOENT);
		assert_int_equal(ov, LB_RMH_NIL);
	}
	assert_int_equal(lb_rmh_count(h), 500);
	for (uint32_t i = 0; i < 1000; i++) {
		key(k, i);
		assert_int_equal(lb_rmh_lookup(h, k), i % 2 ? (int64_t)(999 - i) : -1);
	}
	/* A freed value goes to another key (the caller waited its grace). */
	key(k, 5000);
	assert_int_equal(lb_rmh_add(h, k, 999), 0);
	assert_int_equal(lb_rmh_lookup(h, k), 999);
	key(k, 0);
	assert_int_equal(lb_rmh_lookup(h, k), -1);
	free(h);
}

/* n keys whose hashes fall in bucket b of h (brute force from *next on). */
static uint32_t
keys_in_bucket(const struct lb_rmh *h, uint32_t b, uint32_t *out, uint32_t n, uint32_t *next)
{
	uint8_t k[LB_RMH_KEY_LEN];
	uint32_t got = 0;

	for (; got < n; (*next)++) {
		key(k, *next);
		if ((lb_rmh_hash(h, k) & h->mask) == b)
			out[got++] = *next;
	}
	return got;
}

static void
test_rmh_full_chain_and_overflow_pool(void **state)
{
	(void)state;
	enum { CAP = 64 };
	struct lb_rmh *h = mk(CAP, 1);
	uint32_t ks[CAP], next = 0, pending[64], npend = 0, ov;
	uint8_t k[LB_RMH_KEY_LEN];

	/* Every key in one chain still fits: the pool covers the capacity. */
	keys_in_bucket(h, 3, ks, CAP, &next);
	for (uint32_t i = 0; i < CAP; i++) {
		key(k, ks[i]);
		assert_int_equal(lb_rmh_add(h, k, i), 0);
	}
	for (uint32_t i = 0; i < CAP; i++) {
		key(k, ks[i]);
		assert_int_equal(lb_rmh_lookup(h, k), i);
	}
	/* Emptied overflow buckets wait for their grace: chains of other buckets
	 * draw from what is left of the pool until it runs out. */
	uint32_t b = 3, full_at = 0;
	for (int round = 0; round < 8 && full_at == 0; round++) {
		for (uint32_t i = 0; i < CAP; i++) {
			key(k, ks[i]);
			assert_int_equal(lb_rmh_del(h, k, &ov), i);
			if (ov != LB_RMH_NIL)
				pending[npend++] = ov;
		}
		assert_int_equal(lb_rmh_count(h), 0);
		b++;
		keys_in_bucket(h, b, ks, CAP, &next);
		for (uint32_t i = 0; i < CAP; i++) {
			key(k, ks[i]);
			int rc = lb_rmh_add(h, k, i);
			if (rc == LB_EFULL) {
				full_at = i;
				/* a refused key is not half in the table */
				assert_int_equal(lb_rmh_lookup(h, k), -1);
				for (uint32_t j = i; j < CAP; j++) {
					key(k, ks[j]);
					assert_int_equal(lb_rmh_add(h, k, j), LB_EFULL);
				}
				/* the grace is over: the pool has them again */
				for (uint32_t j = 0; j < npend; j++)
					lb_rmh_ov_release(h, pending[j]);
				npend = 0;
				for (uint32_t j = i; j < CAP; j++) {
					key(k, ks[j]);
					assert_int_equal(lb_rmh_add(h, k, j), 0);
				}
				break;
			}
			assert_int_equal(rc, 0);
		}
	}
	assert_true(full_at > 0);
	assert_true(npend == 0);
	for (uint32_t i = 0; i < CAP; i++) {
		key(k, ks[i]);
		assert_int_equal(lb_rmh_lookup(h, k), i);
	}
	free(h);
}

static void
test_rmh_colliding_tags(void **state)
{
	(void)state;
	struct lb_rmh *h = mk(64, 9);
	uint8_t k[LB_RMH_KEY_LEN];
	/* Keys with the same bucket and the same tag: index and tag bits equal. */
	uint32_t sel = (h->mask) | 0xffff0000u;
	uint32_t *seen = calloc(1u << 20, sizeof(*seen));
	uint32_t a = 0, b = 0;

	assert_non_null(seen);
	for (uint32_t n = 1; n < (1u << 22) && b == 0; n++) {
		key(k, n);
		uint32_t x = lb_rmh_hash(h, k) & sel;
		uint32_t slot = (x & h->mask) | (x >> 16) << 4;
		assert_true(h->mask == 15);
		if (seen[slot] != 0) {
			a = seen[slot];
			b = n;
		}
		seen[slot] = n;
	}
	free(seen);
	assert_true(b != 0);
	key(k, a);
	uint32_t ha = lb_rmh_hash(h, k);
	key(k, b);
	uint32_t hb = lb_rmh_hash(h, k);
	assert_int_equal(ha & h->mask, hb & h->mask);
	assert_int_equal(lb_rmh_tag(ha), lb_rmh_tag(hb));

	key(k, a);
	assert_int_equal(lb_rmh_add(h, k, 10), 0);
	key(k, b);
	assert_int_equal(lb_rmh_lookup(h, k), -1); /* tag matches, key does not */
	assert_int_equal(lb_rmh_add(h, k, 11), 0);
	assert_int_equal(lb_rmh_lookup(h, k), 11);
	key(k, a);
	assert_int_equal(lb_rmh_lookup(h, k), 10);
	uint32_t ov;
	assert_int_equal(lb_rmh_del(h, k, &ov), 10);
	key(k, b);
	assert_int_equal(lb_rmh_lookup(h, k), 11);
	free(h);
}

static void
test_rmh_bulk_with_misses(void **state)
{
	(void)state;
	enum { N = 100 }; /* more than one LB_RMH_BULK chunk */
	struct lb_rmh *h = mk(4096, 3);
	uint8_t ks[N][LB_RMH_KEY_LEN];
	const void *kp[N];
	int32_t vals[N];

	for (uint32_t i = 0; i < 2000; i++) {
		uint8_t k[LB_RMH_KEY_LEN];
		key(k, i * 3);
		assert_int_equal(lb_rmh_add(h, k, i), 0);
	}
	for (uint32_t i = 0; i < N; i++) {
		key(ks[i], i * 7); /* a multiple of 3 is in the table */
		kp[i] = ks[i];
	}
	lb_rmh_lookup_bulk(h, kp, N, vals);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(vals[i], (i * 7) % 3 == 0 ? (int32_t)(i * 7 / 3) : -1);
	lb_rmh_lookup_bulk(h, kp, 0, vals);
	free(h);
}

/*
 * Runs of equal keys (a burst's packets to one service) take the value the run's
 * first key got: the same answers as one lookup each, hits and misses, runs across
 * the LB_RMH_BULK chunk boundary, separate copies of a key as well as one pointer.
 */
static void
test_rmh_bulk_runs_of_equal_keys(void **state)
{
	(void)state;
	enum { N = 100 };
	struct lb_rmh *h = mk(4096, 3);
	uint8_t ks[N][LB_RMH_KEY_LEN];
	const void *kp[N];
	int32_t vals[N];

	for (uint32_t i = 0; i < 200; i++) {
		uint8_t k[LB_RMH_KEY_LEN];
		key(k, i * 2);
		assert_int_equal(lb_rmh_add(h, k, i + 1000), 0);
	}
	for (uint32_t i = 0; i < N; i++) {
		/* runs of 1 to 5 of one key (every other one absent: odd) */
		uint32_t run = i < 30 ? i / 3 : i < 60 ? i / 5 : i;
		key(ks[i], run);
		kp[i] = i % 7 == 0 && i > 0 ? kp[i - 1] : ks[i];
	}
	lb_rmh_lookup_bulk(h, kp, N, vals);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(vals[i], (int32_t)lb_rmh_lookup(h, kp[i]));
	free(h);
}

/* ---- grace periods through rcu.c and a reader thread ------------------ */

static struct rte_rcu_qsbr *
mk_qsbr(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *v = aligned_alloc(64, (sz + 63) & ~(size_t)63);

	assert_non_null(v);
	assert_int_equal(rte_rcu_qsbr_init(v, 1), 0);
	assert_int_equal(rte_rcu_qsbr_thread_register(v, 0), 0);
	rte_rcu_qsbr_thread_online(v, 0);
	return v;
}

struct freed {
	uint32_t values[64];
	uint32_t n;
};

static void
on_free(void *ctx, void *p, uintptr_t arg)
{
	struct freed *f = ctx;

	(void)p;
	f->values[f->n++] = (uint32_t)arg;
}

static void
test_rmh_value_reused_only_after_grace(void **state)
{
	(void)state;
	struct rte_rcu_qsbr *v = mk_qsbr();
	struct lb_rcu *rcu = lb_rcu_create(v);
	struct lb_rmh *h = mk(16, 5);
	struct freed f = {.n = 0};
	uint8_t k[LB_RMH_KEY_LEN];
	uint32_t ov;

	key(k, 1);
	assert_int_equal(lb_rmh_add(h, k, 4), 0);
	int64_t val = lb_rmh_del(h, k, &ov);
	assert_int_equal(val, 4);
	lb_rcu_retire(rcu, on_free, &f, NULL, (uintptr_t)val);
	/* The reader has not passed a quiescent state: value 4's key stays. */
	assert_int_equal(lb_rcu_reclaim(rcu), 0);
	assert_int_equal(f.n, 0);
	assert_memory_equal(h->keys[4].b, k, LB_RMH_KEY_LEN);
	rte_rcu_qsbr_quiescent(v, 0);
	assert_int_equal(lb_rcu_reclaim(rcu), 1);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.values[0], 4);
	key(k, 2);
	assert_int_equal(lb_rmh_add(h, k, 4), 0);
	assert_int_equal(lb_rmh_lookup(h, k), 4);
	key(k, 1);
	assert_int_equal(lb_rmh_lookup(h, k), -1);
	lb_rcu_destroy(rcu);
	free(h);
	free(v);
}

struct churn {
	struct lb_rmh *h;
	struct rte_rcu_qsbr *v;
	int stop;
	uint64_t bad, lookups;
};

/* Keys 0..31 stay with value n; keys 1000+ come and go with value 32 + (n % 32)
 * and are either absent or hold their own value. */
static void *
reader(void *arg)
{
	struct churn *c = arg;
	uint8_t k[LB_RMH_KEY_LEN];

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		for (uint32_t n = 0; n < 32; n++) {
			key(k, n);
			if (lb_rmh_lookup(c->h, k) != n)
				c->bad++;
			key(k, 1000 + n);
			int64_t x = lb_rmh_lookup(c->h, k);
			if (x != -1 && x != 32 + n)
				c->bad++;
			__atomic_fetch_add(&c->lookups, 2, __ATOMIC_RELAXED);
		}
		rte_rcu_qsbr_quiescent(c->v, 0);
	}
	rte_rcu_qsbr_thread_offline(c->v, 0);
	return NULL;
}

struct churn_w {
	struct lb_rmh *h;
	uint8_t busy[64];
};

/* arg: emptied overflow bucket << 32 | value, as service.c packs it. */
static void
free_val(void *ctx, void *p, uintptr_t arg)
{
	struct churn_w *w = ctx;

	(void)p;
	lb_rmh_ov_release(w->h, (uint32_t)((uint64_t)arg >> 32));
	w->busy[(uint32_t)arg] = 0;
}

static void
test_rmh_reader_during_churn(void **state)
{
	(void)state;
	struct churn c = {.h = mk(64, 11), .v = mk_qsbr()};
	struct lb_rcu *rcu = lb_rcu_create(c.v);
	struct churn_w w = {.h = c.h};
	uint8_t k[LB_RMH_KEY_LEN];
	pthread_t t;

	for (uint32_t n = 0; n < 32; n++) {
		key(k, n);
		assert_int_equal(lb_rmh_add(c.h, k, n), 0);
	}
	assert_int_equal(pthread_create(&t, NULL, reader, &c), 0);
	/* At least 20,000 changes and 100,000 reads during them; 20 s at most. */
	time_t end = time(NULL) + 20;
	for (uint32_t round = 0; round < 20000 ||
	     (__atomic_load_n(&c.lookups, __ATOMIC_RELAXED) < 100000 && time(NULL) < end);
	     round++) {
		uint32_t n = round % 32, val = 32 + n;
		uint32_t ov;
		key(k, 1000 + n);
		if (lb_rmh_lookup(c.h, k) >= 0) {
			assert_int_equal(lb_rmh_del(c.h, k, &ov), val);
			w.busy[val] = 1;
			lb_rcu_retire(rcu, free_val, &w, NULL, (uintptr_t)((uint64_t)ov << 32 | val));
		} else if (!w.busy[val]) {
			assert_int_equal(lb_rmh_add(c.h, k, val), 0);
		}
		lb_rcu_reclaim(rcu);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	lb_rcu_destroy(rcu);
	assert_true(c.lookups >= 100000);
	assert_int_equal(c.bad, 0);
	free(c.h);
	free(c.v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rmh_insert_lookup_delete),
		cmocka_unit_test(test_rmh_full_chain_and_overflow_pool),
		cmocka_unit_test(test_rmh_colliding_tags),
		cmocka_unit_test(test_rmh_bulk_with_misses),
		cmocka_unit_test(test_rmh_bulk_runs_of_equal_keys),
		cmocka_unit_test(test_rmh_value_reused_only_after_grace),
		cmocka_unit_test(test_rmh_reader_during_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
