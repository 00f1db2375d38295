/*
 * test_affinity.c - unit tests for dp/lib/affinity.c (the shared ClientIP affinity table).
 *
 * Pure C, no EAL: the table lives in malloc'd memory and the ms clock is a
 * parameter, so expiry and wrap-around are plain numbers. A table of capacity 4 is
 * one bucket of LB_AFF_WAYS entries, which makes replacement deterministic.
 *
 * The concurrency tests run a few pthreads for about a second (bounded by a
 * deadline and an operation count) and check the reader's promise: a lookup
 * returns either LB_AFF_NONE or a real id some writer wrote for that very
 * (service, client) key. Every real id written carries its key in its top 16 bits,
 * so a read torn between two entries shows up as a mismatch. cmocka asserts are
 * not thread-safe: threads only count, the main thread asserts.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "affinity.h"
#include "lb_error.h"

#define T_LONG 3600000u /* a timeout nothing here reaches */

/* ---------------------------------------------------------------- helpers */

/* Client i as an IPv4 address in the 16-byte form (bytes 4..15 zero). */
static void
client4(uint8_t c[16], uint32_t i)
{
	memset(c, 0, 16);
	c[0] = 10;
	c[1] = (uint8_t)(i >> 16);
	c[2] = (uint8_t)(i >> 8);
	c[3] = (uint8_t)i;
}

/* Client i with every byte depending on i, so a copy torn across it is another key. */
static void
client_wide(uint8_t c[16], uint32_t i)
{
	for (int k = 0; k < 16; k++)
		c[k] = (uint8_t)(0x20 + i * 7 + (uint32_t)k * 13);
}

static struct lb_aff_table *
table(uint32_t capacity)
{
	struct lb_aff_table *t = lb_aff_create(capacity, 0x1234);

	assert_non_null(t);
	assert_int_equal(lb_aff_count(t), 0);
	return t;
}

static void
put(struct lb_aff_table *t, uint32_t svc, uint32_t ci, uint32_t real, uint32_t now)
{
	uint8_t c[16];

	client4(c, ci);
	assert_int_equal(lb_aff_update(t, svc, c, real, now), 0);
}

static uint32_t
get(const struct lb_aff_table *t, uint32_t svc, uint32_t ci, uint32_t now, uint32_t timeout)
{
	uint8_t c[16];

	client4(c, ci);
	return lb_aff_lookup(t, svc, c, now, timeout);
}

static void
touch(struct lb_aff_table *t, uint32_t svc, uint32_t ci, uint32_t now)
{
	uint8_t c[16];

	client4(c, ci);
	lb_aff_touch(t, svc, c, now);
}

/* ---------------------------------------------------------------- basics */

static void
test_aff_lookup_after_update_returns_the_real(void **state)
{
	struct lb_aff_table *t = table(1024);

	(void)state;
	assert_int_equal(get(t, 1, 1, 100, T_LONG), LB_AFF_NONE);
	put(t, 1, 1, 42, 100);
	assert_int_equal(get(t, 1, 1, 100, T_LONG), 42);
	assert_int_equal(get(t, 1, 1, 5000, T_LONG), 42);
	assert_int_equal(lb_aff_count(t), 1);
	lb_aff_destroy(t);
}

static void
test_aff_update_of_a_known_key_replaces_its_real_in_place(void **state)
{
	struct lb_aff_table *t = table(4);

	(void)state;
	put(t, 1, 1, 42, 100);
	put(t, 1, 1, 43, 200);
	put(t, 1, 1, 0, 300); /* real id 0 is a real id */
	assert_int_equal(get(t, 1, 1, 300, T_LONG), 0);
	assert_int_equal(lb_aff_count(t), 1);
	lb_aff_destroy(t);
}

static void
test_aff_services_and_clients_are_independent(void **state)
{
	struct lb_aff_table *t = table(65536);
	uint8_t a[16], b[16];

	(void)state;
	/* 8 services x 8 clients, real = svc * 100 + client */
	for (uint32_t s = 0; s < 8; s++)
		for (uint32_t c = 0; c < 8; c++)
			put(t, s, c, s * 100 + c, 10);
	for (uint32_t s = 0; s < 8; s++)
		for (uint32_t c = 0; c < 8; c++)
			assert_int_equal(get(t, s, c, 20, T_LONG), s * 100 + c);
	assert_int_equal(get(t, 8, 0, 20, T_LONG), LB_AFF_NONE);
	assert_int_equal(get(t, 0, 8, 20, T_LONG), LB_AFF_NONE);
	assert_int_equal(lb_aff_count(t), 64);

	/* Clients differing in one byte, IPv6 and IPv4-mapped: all distinct keys. */
	memset(a, 0, 16);
	a[0] = 0x20, a[1] = 0x01, a[15] = 1;
	memcpy(b, a, 16);
	b[15] = 2;
	assert_int_equal(lb_aff_update(t, 9, a, 1, 10), 0);
	assert_int_equal(lb_aff_lookup(t, 9, b, 10, T_LONG), LB_AFF_NONE);
	assert_int_equal(lb_aff_update(t, 9, b, 2, 10), 0);
	assert_int_equal(lb_aff_lookup(t, 9, a, 10, T_LONG), 1);
	assert_int_equal(lb_aff_lookup(t, 9, b, 10, T_LONG), 2);
	memset(b, 0, 16);
	b[10] = 0xff, b[11] = 0xff, b[12] = 10, b[15] = 1; /* ::ffff:10.0.0.1 */
	assert_int_equal(lb_aff_lookup(t, 9, b, 10, T_LONG), LB_AFF_NONE);
	client4(a, 1);
	assert_int_equal(lb_aff_update(t, 9, a, 3, 10), 0); /* 10.0.0.1 */
	assert_int_equal(lb_aff_lookup(t, 9, b, 10, T_LONG), LB_AFF_NONE);
	lb_aff_destroy(t);
}

/* ---------------------------------------------------------------- expiry */

static void
test_aff_entry_idle_for_the_timeout_expires(void **state)
{
	struct lb_aff_table *t = table(64);

	(void)state;
	put(t, 1, 1, 7, 1000);
	assert_int_equal(get(t, 1, 1, 1499, 500), 7);
	assert_int_equal(get(t, 1, 1, 1500, 500), LB_AFF_NONE); /* idle == timeout */
	assert_int_equal(get(t, 1, 1, 9000, 500), LB_AFF_NONE);
	/* The timeout is the caller's: a longer one still sees it. */
	assert_int_equal(get(t, 1, 1, 9000, 8001), 7);
	/* An expired entry still occupies its slot, and an update revives it in place. */
	assert_int_equal(lb_aff_count(t), 1);
	put(t, 1, 1, 8, 9000);
	assert_int_equal(get(t, 1, 1, 9100, 500), 8);
	assert_int_equal(lb_aff_count(t), 1);
	lb_aff_destroy(t);
}

static void
test_aff_touch_refreshes_last_use(void **state)
{
	struct lb_aff_table *t = table(64);

	(void)state;
	put(t, 1, 1, 7, 1000);
	touch(t, 1, 1, 1400);
	assert_int_equal(get(t, 1, 1, 1800, 500), 7);
	assert_int_equal(get(t, 1, 1, 1900, 500), LB_AFF_NONE);
	/* A lookup hit does not refresh by itself. */
	assert_int_equal(get(t, 1, 1, 1899, 500), 7);
	assert_int_equal(get(t, 1, 1, 1900, 500), LB_AFF_NONE);
	/* Touching an absent key records nothing. */
	touch(t, 1, 2, 1900);
	touch(t, 2, 1, 1900);
	assert_int_equal(get(t, 1, 2, 1900, T_LONG), LB_AFF_NONE);
	assert_int_equal(lb_aff_count(t), 1);
	lb_aff_destroy(t);
}

static void
test_aff_expiry_survives_clock_wrap_around(void **state)
{
	struct lb_aff_table *t = table(64);

	(void)state;
	put(t, 1, 1, 7, 0xffffff00u);
	assert_int_equal(get(t, 1, 1, 0x100, 1000), 7);         /* 512 ms across the wrap */
	assert_int_equal(get(t, 1, 1, 0x2e7, 1000), 7);         /* 999 ms */
	assert_int_equal(get(t, 1, 1, 0x2e8, 1000), LB_AFF_NONE); /* 1000 ms */
	touch(t, 1, 1, 0x200);
	assert_int_equal(get(t, 1, 1, 0x5e7, 1000), 7);
	assert_int_equal(get(t, 1, 1, 0x5e8, 1000), LB_AFF_NONE);
	/* Touch before the wrap, look up after. */
	put(t, 1, 2, 9, 0xfffffc18u); /* -1000 */
	touch(t, 1, 2, 0xffffffffu);
	assert_int_equal(get(t, 1, 2, 998, 1000), 9);
	assert_int_equal(get(t, 1, 2, 999, 1000), LB_AFF_NONE);
	lb_aff_destroy(t);
}

/* Workers' clocks differ by a little: a last use just ahead of now is fresh. */
static void
test_aff_last_use_slightly_in_the_future_is_fresh(void **state)
{
	struct lb_aff_table *t = table(64);

	(void)state;
	put(t, 1, 1, 7, 1000);
	assert_int_equal(get(t, 1, 1, 990, 5), 7);
	put(t, 1, 2, 8, 5);
	assert_int_equal(get(t, 1, 2, 0xfffffffbu, 5), 8); /* last use 10 ms ahead, across the wrap */
	lb_aff_destroy(t);
}

/* ---------------------------------------------------------------- replacement */

static void
test_aff_full_bucket_evicts_the_least_recently_used(void **state)
{
	struct lb_aff_table *t = table(4); /* one bucket */

	(void)state;
	for (uint32_t c = 0; c < 4; c++)
		put(t, 1, c, 100 + c, 10 + 10 * c); /* last use 10, 20, 30, 40 */
	assert_int_equal(lb_aff_count(t), 4);
	touch(t, 1, 0, 50); /* client 0 is now the newest; client 1 the oldest */
	put(t, 1, 4, 104, 60);
	assert_int_equal(lb_aff_count(t), 4);
	assert_int_equal(get(t, 1, 1, 60, T_LONG), LB_AFF_NONE);
	assert_int_equal(get(t, 1, 0, 60, T_LONG), 100);
	assert_int_equal(get(t, 1, 2, 60, T_LONG), 102);
	assert_int_equal(get(t, 1, 3, 60, T_LONG), 103);
	assert_int_equal(get(t, 1, 4, 60, T_LONG), 104);
	/* Next: client 2 (30), then 3 (40). */
	put(t, 2, 0, 200, 70);
	assert_int_equal(get(t, 1, 2, 70, T_LONG), LB_AFF_NONE);
	put(t, 2, 1, 201, 80);
	assert_int_equal(get(t, 1, 3, 80, T_LONG), LB_AFF_NONE);
	assert_int_equal(get(t, 1, 0, 80, T_LONG), 100);
	assert_int_equal(get(t, 1, 4, 80, T_LONG), 104);
	lb_aff_destroy(t);
}

static void
test_aff_full_bucket_evicts_the_oldest_across_the_clock_wrap(void **state)
{
	struct lb_aff_table *t = table(4);

	(void)state;
	put(t, 1, 0, 100, 0xfffffff0u); /* oldest: 16 ms before the wrap */
	put(t, 1, 1, 101, 0xfffffff8u);
	put(t, 1, 2, 102, 2);
	put(t, 1, 3, 103, 4);
	put(t, 1, 4, 104, 6);
	assert_int_equal(get(t, 1, 0, 6, T_LONG), LB_AFF_NONE);
	assert_int_equal(get(t, 1, 1, 6, T_LONG), 101);
	assert_int_equal(get(t, 1, 2, 6, T_LONG), 102);
	lb_aff_destroy(t);
}

/*
 * An entry another worker touched with a clock a few ms ahead of this writer's is
 * the newest in the bucket, not the oldest.
 */
static void
test_aff_replacement_keeps_an_entry_touched_by_a_clock_running_ahead(void **state)
{
	struct lb_aff_table *t = table(4);

	(void)state;
	put(t, 1, 0, 100, 10);
	put(t, 1, 1, 101, 20);
	put(t, 1, 2, 102, 30);
	put(t, 1, 3, 103, 40);
	touch(t, 1, 0, 1001); /* worker A's clock */
	put(t, 1, 4, 104, 1000); /* worker B, 1 ms behind: client 1 (20) is the oldest */
	assert_int_equal(get(t, 1, 0, 1001, T_LONG), 100);
	assert_int_equal(get(t, 1, 1, 1001, T_LONG), LB_AFF_NONE);
	assert_int_equal(get(t, 1, 4, 1001, T_LONG), 104);
	lb_aff_destroy(t);
}

/* ---------------------------------------------------------------- flush */

static void
test_aff_flush_service_removes_only_that_service(void **state)
{
	struct lb_aff_table *t = table(65536);

	(void)state;
	for (uint32_t c = 0; c < 20; c++) {
		put(t, 1, c, 100 + c, 10);
		put(t, 2, c, 200 + c, 10);
	}
	assert_int_equal(lb_aff_count(t), 40);
	lb_aff_flush_service(t, 1);
	assert_int_equal(lb_aff_count(t), 20);
	for (uint32_t c = 0; c < 20; c++) {
		assert_int_equal(get(t, 1, c, 10, T_LONG), LB_AFF_NONE);
		assert_int_equal(get(t, 2, c, 10, T_LONG), 200 + c);
	}
	lb_aff_flush_service(t, 3); /* absent: nothing changes */
	lb_aff_flush_service(t, 1); /* twice: nothing changes */
	assert_int_equal(lb_aff_count(t), 20);
	/* The id is reused: the new service starts with no memory of the old one. */
	put(t, 1, 0, 999, 20);
	assert_int_equal(get(t, 1, 0, 20, T_LONG), 999);
	assert_int_equal(get(t, 1, 1, 20, T_LONG), LB_AFF_NONE);
	assert_int_equal(lb_aff_count(t), 21);
	lb_aff_destroy(t);
}

static void
test_aff_flushed_slots_are_reused_before_eviction(void **state)
{
	struct lb_aff_table *t = table(4);

	(void)state;
	put(t, 1, 0, 100, 10);
	put(t, 2, 1, 201, 20);
	put(t, 1, 2, 102, 30);
	put(t, 2, 3, 203, 40);
	lb_aff_flush_service(t, 1);
	assert_int_equal(lb_aff_count(t), 2);
	put(t, 3, 4, 304, 50);
	put(t, 3, 5, 305, 60);
	/* Two empty ways took them; service 2's older entries survive. */
	assert_int_equal(get(t, 2, 1, 60, T_LONG), 201);
	assert_int_equal(get(t, 2, 3, 60, T_LONG), 203);
	assert_int_equal(get(t, 3, 4, 60, T_LONG), 304);
	assert_int_equal(get(t, 3, 5, 60, T_LONG), 305);
	assert_int_equal(lb_aff_count(t), 4);
	lb_aff_destroy(t);
}

/* ---------------------------------------------------------------- sizing and init */

/* Fill with many more keys than fit: the table holds exactly its rounded capacity. */
static uint32_t
entries_held(uint32_t capacity)
{
	struct lb_aff_table *t = table(capacity);
	uint32_t n;

	for (uint32_t c = 0; c < capacity * 64 + 256; c++)
		put(t, 1, c, c, c);
	n = lb_aff_count(t);
	lb_aff_destroy(t);
	return n;
}

static void
test_aff_capacity_rounds_up_to_power_of_two_buckets(void **state)
{
	(void)state;
	assert_int_equal(lb_aff_mem_size(0), 0);
	assert_int_equal(lb_aff_mem_size(1), lb_aff_mem_size(LB_AFF_WAYS));
	assert_int_equal(lb_aff_mem_size(5), lb_aff_mem_size(8));
	assert_int_equal(lb_aff_mem_size(9), lb_aff_mem_size(16));
	assert_int_equal(lb_aff_mem_size(1000), lb_aff_mem_size(1024));
	/* Each doubling of buckets adds the same amount per entry. */
	size_t e = lb_aff_mem_size(8) - lb_aff_mem_size(4);
	assert_true(e >= 4 * 16);
	assert_int_equal(lb_aff_mem_size(16) - lb_aff_mem_size(8), 2 * e);
	assert_int_equal(lb_aff_mem_size(1024) - lb_aff_mem_size(512), 128 * e);
	assert_true(lb_aff_mem_size(1025) > lb_aff_mem_size(1024));

	assert_int_equal(entries_held(1), 4);
	assert_int_equal(entries_held(4), 4);
	assert_int_equal(entries_held(5), 8);
	assert_int_equal(entries_held(17), 32);
	assert_int_equal(entries_held(64), 64);
}

/* The size arithmetic must not wrap for the largest capacities. */
static void
test_aff_mem_size_grows_for_the_largest_capacities(void **state)
{
	(void)state;
	size_t big = lb_aff_mem_size(1u << 24);

	assert_true(big > (size_t)(1u << 24) * 16);
	assert_true(lb_aff_mem_size(UINT32_MAX - 2) >= big);
	assert_true(lb_aff_mem_size(UINT32_MAX - 1) >= big);
	assert_true(lb_aff_mem_size(UINT32_MAX) >= big);
}

static void
test_aff_init_rejects_bad_arguments(void **state)
{
	size_t need = lb_aff_mem_size(64);
	uint8_t *mem = aligned_alloc(64, need + 128);
	struct lb_aff_table *t;

	(void)state;
	assert_non_null(mem);
	assert_null(lb_aff_init(NULL, need, 64, 1));
	assert_null(lb_aff_init(mem, need, 0, 1));          /* capacity 0 */
	assert_null(lb_aff_init(mem + 8, need, 64, 1));     /* misaligned */
	assert_null(lb_aff_init(mem + 32, need, 64, 1));
	assert_null(lb_aff_init(mem, need - 1, 64, 1));     /* short */
	assert_null(lb_aff_init(mem, 0, 64, 1));
	assert_null(lb_aff_create(0, 1));

	memset(mem, 0xa5, need + 128); /* init must not trust the memory's contents */
	t = lb_aff_init(mem, need, 64, 1);
	assert_ptr_equal(t, mem);
	assert_int_equal(lb_aff_count(t), 0);
	put(t, 1, 1, 5, 10);
	assert_int_equal(get(t, 1, 1, 10, T_LONG), 5);
	lb_aff_destroy(t); /* not create'd: must not free */
	assert_ptr_equal(lb_aff_init(mem + 64, need + 64, 64, 1), mem + 64);
	free(mem);
}

/* Two tables with different seeds hold the same keys alike (seed changes placement only). */
static void
test_aff_seed_changes_nothing_observable(void **state)
{
	struct lb_aff_table *a = lb_aff_create(4096, 1), *b = lb_aff_create(4096, 2);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (uint32_t c = 0; c < 100; c++) {
		put(a, 7, c, c + 1, 5);
		put(b, 7, c, c + 1, 5);
	}
	for (uint32_t c = 0; c < 100; c++)
		assert_int_equal(get(a, 7, c, 5, T_LONG), get(b, 7, c, 5, T_LONG));
	lb_aff_destroy(a);
	lb_aff_destroy(b);
}

/* ---------------------------------------------------------------- concurrency */

#define CC_SVCS 3           /* service ids 1..3; the flusher flushes CC_FLUSHED */
#define CC_FLUSHED 3
#define CC_CLIENTS 16
#define CC_MAX_OPS 20000000u /* per thread, in case the clock misbehaves */
#define CC_RUN_NS 1000000000ull

struct cc_run {
	struct lb_aff_table *t;
	uint64_t t0_ns, run_ns;
	uint32_t clock0;          /* now = clock0 + elapsed ms: starts close to the wrap */
	uint32_t n_svcs, n_clients;
	int stop;                 /* set by the main thread, read relaxed */
};

struct cc_thread {
	struct cc_run *run;
	pthread_t tid;
	uint32_t id;
	uint64_t ops, hits, misses, busy, bad;
	uint32_t bad_svc, bad_client, bad_real;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The top 16 bits of a real id name its key; the rest say who wrote it. */
static uint32_t
key_tag(uint32_t svc, uint32_t ci)
{
	return (svc << 24) | (ci << 16);
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *
cc_worker(void *arg)
{
	struct cc_thread *th = arg;
	struct cc_run *r = th->run;
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (th->id + 1);
	uint8_t cl[CC_CLIENTS][16];
	uint32_t now = r->clock0;

	for (uint32_t c = 0; c < r->n_clients; c++)
		client_wide(cl[c], c);
	while (th->ops < CC_MAX_OPS) {
		if ((th->ops & 1023) == 0) {
			uint64_t ns = now_ns() - r->t0_ns;
			if (ns >= r->run_ns || __atomic_load_n(&r->stop, __ATOMIC_RELAXED))
				break;
			now = r->clock0 + (uint32_t)(ns / 1000000);
		}
		uint64_t x = xorshift(&rnd);
		uint32_t svc = 1 + (uint32_t)(x % r->n_svcs);
		uint32_t ci = (uint32_t)((x >> 8) % r->n_clients);
		uint32_t op = (uint32_t)(x >> 32) % 8;
		uint32_t rid;

		th->ops++;
		if (op < 3) {
			rid = key_tag(svc, ci) | (th->id << 12) | (uint32_t)(th->ops & 0xfff);
			if (lb_aff_update(r->t, svc, cl[ci], rid, now) != 0)
				th->busy++;
		} else if (op < 4) {
			lb_aff_touch(r->t, svc, cl[ci], now);
		} else {
			/* Short timeouts expire entries during the run, long ones keep them. */
			rid = lb_aff_lookup(r->t, svc, cl[ci], now, (op & 1) ? 5 : T_LONG);
			if (rid == LB_AFF_NONE) {
				th->misses++;
			} else if ((rid & 0xffff0000u) != key_tag(svc, ci) ||
				   ((rid >> 12) & 0xf) >= 8) {
				if (th->bad++ == 0) {
					th->bad_svc = svc;
					th->bad_client = ci;
					th->bad_real = rid;
				}
			} else {
				th->hits++;
			}
		}
	}
	return NULL;
}

static void *
cc_flusher(void *arg)
{
	struct cc_thread *th = arg;
	struct cc_run *r = th->run;

	while (th->ops < CC_MAX_OPS) {
		if (now_ns() - r->t0_ns >= r->run_ns || __atomic_load_n(&r->stop, __ATOMIC_RELAXED))
			break;
		lb_aff_flush_service(r->t, CC_FLUSHED);
		th->ops++;
	}
	return NULL;
}

static void
cc_check(const struct cc_thread *th, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (th[i].bad)
			fail_msg("thread %u: %llu lookups returned a real not written for the key, "
				 "first: svc %u client %u real 0x%08x", th[i].id,
				 (unsigned long long)th[i].bad, th[i].bad_svc, th[i].bad_client,
				 th[i].bad_real);
}

static void
cc_report(const char *name, const struct cc_thread *th, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		print_message("  %s thread %u: %llu ops, %llu hits, %llu misses, %llu busy\n", name,
			      th[i].id, (unsigned long long)th[i].ops, (unsigned long long)th[i].hits,
			      (unsigned long long)th[i].misses, (unsigned long long)th[i].busy);
}

/* After the threads stopped: every key reads back NONE or one of its own reals. */
static void
cc_check_quiescent(const struct cc_run *r)
{
	uint8_t c[16];

	for (uint32_t s = 1; s <= r->n_svcs; s++)
		for (uint32_t ci = 0; ci < r->n_clients; ci++) {
			client_wide(c, ci);
			uint32_t rid = lb_aff_lookup(r->t, s, c, 0, 0xffffffffu);
			if (rid != LB_AFF_NONE && (rid & 0xffff0000u) != key_tag(s, ci))
				fail_msg("svc %u client %u holds real 0x%08x", s, ci, rid);
		}
}

/*
 * 3 workers update/touch/look up 48 overlapping keys in a 16-entry table (constant
 * replacement and contention, clock wrapping mid-run) while a fourth thread
 * flushes service 3 over and over.
 */
static void
test_aff_concurrent_lookups_never_see_another_keys_real(void **state)
{
	struct cc_run r = { .n_svcs = CC_SVCS, .n_clients = CC_CLIENTS, .run_ns = CC_RUN_NS,
			    .clock0 = 0xffffffffu - 500 };
	struct cc_thread th[4];
	uint64_t hits = 0;

	(void)state;
	r.t = table(16);
	memset(th, 0, sizeof(th));
	r.t0_ns = now_ns();
	for (uint32_t i = 0; i < 4; i++) {
		th[i].run = &r;
		th[i].id = i;
		assert_int_equal(pthread_create(&th[i].tid, NULL, i < 3 ? cc_worker : cc_flusher,
						&th[i]), 0);
	}
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i].tid, NULL), 0);
	cc_report("mixed", th, 4);
	cc_check(th, 3);
	for (uint32_t i = 0; i < 3; i++)
		hits += th[i].hits;
	assert_true(hits > 0); /* the table still works under contention */
	assert_true(th[3].ops > 0);
	assert_true(lb_aff_count(r.t) <= 16);
	cc_check_quiescent(&r);
	lb_aff_destroy(r.t);
}

/*
 * Several workers record the same two clients at once in a one-bucket table: a
 * writer that finds the key's entry busy must not record it in a second way, so
 * the bucket never holds more than the two keys.
 */
static void
test_aff_concurrent_writers_of_one_key_leave_one_entry(void **state)
{
	struct cc_run r = { .n_svcs = 1, .n_clients = 2, .run_ns = CC_RUN_NS / 2,
			    .clock0 = 1000 };
	struct cc_thread th[3];

	(void)state;
	r.t = table(4);
	memset(th, 0, sizeof(th));
	r.t0_ns = now_ns();
	for (uint32_t i = 0; i < 3; i++) {
		th[i].run = &r;
		th[i].id = i;
		assert_int_equal(pthread_create(&th[i].tid, NULL, cc_worker, &th[i]), 0);
	}
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(pthread_join(th[i].tid, NULL), 0);
	cc_report("one-key", th, 3);
	cc_check(th, 3);
	cc_check_quiescent(&r);
	assert_true(lb_aff_count(r.t) <= 2);
	lb_aff_destroy(r.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aff_lookup_after_update_returns_the_real),
		cmocka_unit_test(test_aff_update_of_a_known_key_replaces_its_real_in_place),
		cmocka_unit_test(test_aff_services_and_clients_are_independent),
		cmocka_unit_test(test_aff_entry_idle_for_the_timeout_expires),
		cmocka_unit_test(test_aff_touch_refreshes_last_use),
		cmocka_unit_test(test_aff_expiry_survives_clock_wrap_around),
		cmocka_unit_test(test_aff_last_use_slightly_in_the_future_is_fresh),
		cmocka_unit_test(test_aff_full_bucket_evicts_the_least_recently_used),
		cmocka_unit_test(test_aff_full_bucket_evicts_the_oldest_across_the_clock_wrap),
		cmocka_unit_test(test_aff_replacement_keeps_an_entry_touched_by_a_clock_running_ahead),
		cmocka_unit_test(test_aff_flush_service_removes_only_that_service),
		cmocka_unit_test(test_aff_flushed_slots_are_reused_before_eviction),
		cmocka_unit_test(test_aff_capacity_rounds_up_to_power_of_two_buckets),
		cmocka_unit_test(test_aff_mem_size_grows_for_the_largest_capacities),
		cmocka_unit_test(test_aff_init_rejects_bad_arguments),
		cmocka_unit_test(test_aff_seed_changes_nothing_observable),
		cmocka_unit_test(test_aff_concurrent_lookups_never_see_another_keys_real),
		cmocka_unit_test(test_aff_concurrent_writers_of_one_key_leave_one_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
