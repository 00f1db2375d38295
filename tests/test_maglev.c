/*
 * test_maglev.c - unit tests for dp/lib/maglev.c (lb_maglev_build, lb_maglev_pick).
 *
 * Plain byte keys in, tables out: no DPDK, no EAL. A slow, literal rendering of
 * Pseudocode 1 (ref_build) pins the exact table, so the fast build in dp/lib/maglev.c
 * can change its search but never its answer; the other tests check the
 * properties callers rely on (balance, weights, churn, determinism, errors).
 *
 *   gcc -std=gnu11 -O2 -Iinclude -Idp -Idp/lib dp/lib/maglev.c dp/lib/maglev_claim.c \
 *       dp/lib/maglev_cache.c tests/test_maglev.c -lcmocka -lpthread
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lb_error.h"
#include "lb_model.h"
#include "hash.h"
#include "maglev.h"
#include "maglev_cache.h"

#define M_BIG LB_MAGLEV_M_DEFAULT /* 65537 */
#define M_SMALL 251
#define KEY_LEN 19 /* family | 16-byte address | port */
#define N_KEYS 1000
#define SEED 0x5eedULL

/*
 * Must equal MAGLEV_SKIP_SEED_XOR in dp/lib/maglev.c. Duplicated on purpose: boxes
 * sharing a seed must build the same tables, so changing the constant changes the
 * table format and should fail test_maglev_matches_paper_pseudocode loudly.
 */
#define REF_SKIP_SEED_XOR 0x2545f4914f6cdd1dULL

static uint8_t keys[N_KEYS][KEY_LEN];

/* Key i: IPv4-mapped 10.0.x.y, port 8080. */
static void
make_keys(void)
{
	for (uint32_t i = 0; i < N_KEYS; i++) {
		memset(keys[i], 0, KEY_LEN);
		keys[i][0] = 4;
		keys[i][11] = 0xff;
		keys[i][12] = 0xff;
		keys[i][13] = 10;
		keys[i][15] = (uint8_t)(i >> 8);
		keys[i][16] = (uint8_t)i;
		keys[i][17] = 8080 >> 8;
		keys[i][18] = 8080 & 0xff;
	}
}

static int
setup(void **state)
{
	(void)state;
	make_keys();
	return 0;
}

/* b[i] = key ids[i] (or key i when ids is NULL) with weight w[i] (or 1). */
static struct lb_maglev_backend *
make_backends(uint32_t n, const uint32_t *ids, const uint32_t *w)
{
	struct lb_maglev_backend *b = calloc(n ? n : 1, sizeof(*b));

	assert_non_null(b);
	for (uint32_t i = 0; i < n; i++) {
		b[i].key = keys[ids ? ids[i] : i];
		b[i].key_len = KEY_LEN;
		b[i].weight = w ? w[i] : 1;
	}
	return b;
}

static uint16_t *
new_table(uint32_t m)
{
	uint16_t *t = malloc(m * sizeof(*t));

	assert_non_null(t);
	return t;
}

/* The key id behind a table entry, so tables from differently ordered arrays compare. */
static uint32_t
key_id(const struct lb_maglev_backend *b, uint16_t entry)
{
	if (entry == LB_MAGLEV_EMPTY)
		return UINT32_MAX;
	return (uint32_t)(((const uint8_t(*)[KEY_LEN])b[entry].key) - keys);
}

static void
count_slots(const uint16_t *t, uint32_t m, uint32_t n, uint32_t *count)
{
	memset(count, 0, n * sizeof(*count));
	for (uint32_t i = 0; i < m; i++) {
		assert_true(t[i] < n);
		count[t[i]]++;
	}
}

/* Deterministic shuffle (xorshift), so a failure reproduces. */
static void
shuffle(uint32_t *a, uint32_t n, uint64_t rng)
{
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j, tmp;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		j = (uint32_t)(rng % (i + 1));
		tmp = a[i];
		a[i] = a[j];
		a[j] = tmp;
	}
}

static int
ref_key_cmp(const struct lb_maglev_backend *a, const struct lb_maglev_backend *b)
{
	size_t len = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = len ? memcmp(a->key, b->key, len) : 0;

	if (c != 0)
		return c;
	return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/*
 * Pseudocode 1 as printed, plus the weight rule of maglev.h: backends in key order,
 * permutation[i][j] = (offset + j * skip) % m, next[i] counts positions tried, each
 * round a backend earns `weight` and claims one slot per max_weight. Slow on purpose.
 */
static void
ref_build(uint16_t *t, uint32_t m, const struct lb_maglev_backend *b, uint32_t n,
	  uint64_t seed)
{
	uint32_t *order = calloc(n + 1, sizeof(*order));
	uint64_t *offset = calloc(n + 1, sizeof(*offset));
	uint64_t *skip = calloc(n + 1, sizeof(*skip));
	uint64_t *next = calloc(n + 1, sizeof(*next));
	uint64_t *credit = calloc(n + 1, sizeof(*credit));
	uint32_t max_w = 0, filled = 0;

	assert_true(order && offset && skip && next && credit);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;

		while (j > 0 && ref_key_cmp(&b[order[j - 1]], &b[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
		if (b[i].weight > max_w)
			max_w = b[i].weight;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct lb_maglev_backend *e = &b[order[i]];

		offset[i] = lb_hash_bytes(e->key, e->key_len, seed) % m;
		skip[i] = lb_hash_bytes(e->key, e->key_len, seed ^ REF_SKIP_SEED_XOR) % (m - 1) + 1;
	}
	for (uint32_t x = 0; x < m; x++)
		t[x] = LB_MAGLEV_EMPTY;
	while (max_w > 0 && filled < m) {
		for (uint32_t i = 0; i < n && filled < m; i++) {
			uint64_t c;

			if (b[order[i]].weight == 0)
				continue;
			credit[i] += b[order[i]].weight;
			if (credit[i] < max_w)
				continue;
			credit[i] -= max_w;
			c = (offset[i] + next[i] * skip[i]) % m;
			while (t[c] != LB_MAGLEV_EMPTY) {
				next[i]++;
				c = (offset[i] + next[i] * skip[i]) % m;
			}
			t[c] = (uint16_t)order[i];
			next[i]++;
			filled++;
		}
	}
	free(order);
	free(offset);
	free(skip);
	free(next);
	free(credit);
}

static void
test_maglev_matches_paper_pseudocode(void **state)
{
	/*
	 * weighted, by the way dp/lib/maglev.c finds the next claimer: 0 equal (by
	 * turns); by classes (2..8 distinct weights): 1 weights 1..5, 2 one backend
	 * at 1000 and the rest at 1 (bench-update's hot churn), 4 two heavy backends,
	 * light ones and weight-0 ones, 5 one at 20 and the rest at 1, 6 exactly 8
	 * weights; by heap: 3 random weights 1..65535, 7 one at 1000 beside nine
	 * other weights; by turns: 8 twenty weights 1..20, 9 nine weights 1..9.
	 */
	static const struct {
		uint32_t m, n;
		int weighted;
	} cases[] = {
		{3, 1, 0}, {7, 3, 0}, {7, 20, 0}, {127, 5, 1}, {M_SMALL, 10, 0},
		{M_SMALL, 10, 1}, {4099, 100, 0}, {4099, 37, 1}, {M_BIG, 1000, 0},
		{M_BIG, 300, 1}, {7, 20, 2}, {127, 40, 2}, {4099, 101, 2}, {M_BIG, 101, 2},
		{127, 30, 3}, {4099, 200, 3}, {M_BIG, 64, 3}, {4099, 90, 4}, {M_BIG, 500, 4},
		{127, 41, 5}, {M_BIG, 101, 5}, {4099, 64, 6}, {M_BIG, 300, 6}, {4099, 120, 7},
		{M_BIG, 120, 7}, {4099, 100, 8}, {M_BIG, 200, 8}, {127, 9, 9}, {M_BIG, 90, 9},
	};
	(void)state;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint32_t m = cases[k].m, n = cases[k].n;
		uint32_t *w = calloc(n, sizeof(*w));
		struct lb_maglev_backend *b;
		uint16_t *got = new_table(m), *want = new_table(m);
		uint64_t rng = 0x9e3779b97f4a7c15ULL + k;

		assert_non_null(w);
		for (uint32_t i = 0; i < n; i++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			switch (cases[k].weighted) {
			case 0: w[i] = 3; break;
			case 1: w[i] = 1 + (i * 7) % 5; break;
			case 2: w[i] = i == n / 2 ? 1000 : 1; break;
			case 3: w[i] = 1 + (uint32_t)(rng % 65535); break;
			case 4: w[i] = i % 45 == 7 ? 20000 : i % 9 == 0 ? 0 : 1 + (uint32_t)(rng % 3); break;
			case 5: w[i] = i == n / 2 ? 20 : 1; break;
			case 6: w[i] = 1 + (uint32_t)(rng % 8); break;
			case 7: w[i] = i == n / 2 ? 1000 : i % 10 == 3 ? 2 + (i / 10) % 9 : 1; break;
			case 8: w[i] = 1 + i % 20; break;
			default: w[i] = 1 + i % 9;
			}
		}
		b = make_backends(n, NULL, w);
		assert_int_equal(lb_maglev_build(got, m, b, n, SEED), 0);
		ref_build(want, m, b, n, SEED);
		assert_memory_equal(got, want, m * sizeof(*got));
		free(got);
		free(want);
		free(b);
		free(w);
	}
}

static void
test_maglev_equal_weights_get_floor_or_ceil(void **state)
{
	static const uint32_t ms[] = {M_BIG, M_SMALL, 13};
	static const uint32_t ns[] = {1, 2, 3, 10, 100, 251, 1000};
	uint32_t count[N_KEYS];
	(void)state;

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint32_t m = ms[i];
		uint16_t *t = new_table(m);

		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
			uint32_t n = ns[j];
			struct lb_maglev_backend *b = make_backends(n, NULL, NULL);
			uint32_t lo = m / n, hi = (m + n - 1) / n;

			assert_int_equal(lb_maglev_build(t, m, b, n, SEED), 0);
			count_slots(t, m, n, count);
			for (uint32_t k = 0; k < n; k++) {
				assert_in_range(count[k], lo, hi);
			}
			free(b);
		}
		free(t);
	}
}

static void
test_maglev_weights_1_2_3_share_within_1_percent(void **state)
{
	static const uint32_t w[3] = {1, 2, 3};
	static const uint32_t ms[] = {M_BIG, 4099};
	(void)state;

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint32_t m = ms[i], count[3];
		struct lb_maglev_backend *b = make_backends(3, NULL, w);
		uint16_t *t = new_table(m);

		assert_int_equal(lb_maglev_build(t, m, b, 3, SEED), 0);
		count_slots(t, m, 3, count);
		for (uint32_t k = 0; k < 3; k++) {
			double share = (double)count[k] / m, want = w[k] / 6.0;

			assert_true(share > want * 0.99 && share < want * 1.01);
		}
		free(t);
		free(b);
	}
}

static void
test_maglev_removal_moves_few_surviving_slots(void **state)
{
	uint32_t ids[N_KEYS], n_after = 0, moved = 0;
	struct lb_maglev_backend *before, *after;
	uint16_t *t0 = new_table(M_BIG), *t1 = new_table(M_BIG);
	int removed[N_KEYS] = {0};
	(void)state;

	/* remove keys 7, 107, ..., 907 */
	for (uint32_t i = 0; i < N_KEYS; i++) {
		removed[i] = i % 100 == 7;
		if (!removed[i])
			ids[n_after++] = i;
	}
	assert_int_equal(n_after, N_KEYS - 10);
	before = make_backends(N_KEYS, NULL, NULL);
	after = make_backends(n_after, ids, NULL);
	assert_int_equal(lb_maglev_build(t0, M_BIG, before, N_KEYS, SEED), 0);
	assert_int_equal(lb_maglev_build(t1, M_BIG, after, n_after, SEED), 0);

	for (uint32_t x = 0; x < M_BIG; x++) {
		uint32_t k0 = key_id(before, t0[x]), k1 = key_id(after, t1[x]);

		assert_true(k1 < N_KEYS && !removed[k1]);
		if (removed[k0])
			assert_int_not_equal(k0, k1);
		else if (k0 != k1)
			moved++;
	}
	printf("maglev removal churn: %u of %u slots (%.3f%%) moved between surviving "
	       "backends, N=%u -> %u\n", moved, M_BIG, 100.0 * moved / M_BIG, N_KEYS,
	       n_after);
	assert_true((double)moved / M_BIG <= 0.025);
	free(t0);
	free(t1);
	free(before);
	free(after);
}

static void
test_maglev_table_independent_of_input_order(void **state)
{
	static const uint32_t ms[] = {M_BIG, M_SMALL};
	uint32_t ids[N_KEYS], w[N_KEYS];
	(void)state;

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint32_t m = ms[i];
		uint16_t *t0 = new_table(m), *t1 = new_table(m);
		struct lb_maglev_backend *b0;

		for (uint32_t k = 0; k < N_KEYS; k++) {
			ids[k] = k;
			w[k] = 1 + k % 4;
		}
		b0 = make_backends(N_KEYS, ids, w);
		assert_int_equal(lb_maglev_build(t0, m, b0, N_KEYS, SEED), 0);

		for (uint64_t round = 1; round <= 5; round++) {
			struct lb_maglev_backend *b1;

			shuffle(ids, N_KEYS, 0x9e3779b97f4a7c15ULL * round);
			for (uint32_t k = 0; k < N_KEYS; k++)
				w[k] = 1 + ids[k] % 4; /* the weight travels with its key */
			b1 = make_backends(N_KEYS, ids, w);
			assert_int_equal(lb_maglev_build(t1, m, b1, N_KEYS, SEED), 0);
			for (uint32_t x = 0; x < m; x++)
				assert_int_equal(key_id(b0, t0[x]), key_id(b1, t1[x]));
			free(b1);
		}
		free(b0);
		free(t0);
		free(t1);
	}
}

static void
test_maglev_seed_changes_table(void **state)
{
	struct lb_maglev_backend *b = make_backends(100, NULL, NULL);
	uint16_t *t0 = new_table(M_BIG), *t1 = new_table(M_BIG), *t2 = new_table(M_BIG);
	uint32_t differ = 0;
	(void)state;

	assert_int_equal(lb_maglev_build(t0, M_BIG, b, 100, SEED), 0);
	assert_int_equal(lb_maglev_build(t1, M_BIG, b, 100, SEED + 1), 0);
	assert_int_equal(lb_maglev_build(t2, M_BIG, b, 100, SEED), 0);
	assert_memory_equal(t0, t2, M_BIG * sizeof(*t0));
	for (uint32_t x = 0; x < M_BIG; x++)
		differ += t0[x] != t1[x];
	/* unrelated tables agree on about 1/n of the slots */
	assert_true(differ > M_BIG * 9 / 10);
	free(t0);
	free(t1);
	free(t2);
	free(b);
}

static void
assert_all_empty(const uint16_t *t, uint32_t m)
{
	for (uint32_t x = 0; x < m; x++)
		assert_int_equal(t[x], LB_MAGLEV_EMPTY);
}

static void
test_maglev_no_backends_gives_empty_table(void **state)
{
	uint16_t *t = new_table(M_SMALL);
	(void)state;

	memset(t, 0, M_SMALL * sizeof(*t));
	assert_int_equal(lb_maglev_build(t, M_SMALL, NULL, 0, SEED), 0);
	assert_all_empty(t, M_SMALL);
	free(t);
}

static void
test_maglev_all_weight_zero_gives_empty_table(void **state)
{
	uint32_t w[5] = {0};
	struct lb_maglev_backend *b = make_backends(5, NULL, w);
	uint16_t *t = new_table(M_BIG);
	(void)state;

	memset(t, 0, M_BIG * sizeof(*t));
	assert_int_equal(lb_maglev_build(t, M_BIG, b, 5, SEED), 0);
	assert_all_empty(t, M_BIG);
	free(t);
	free(b);
}

/* ...and the others get exactly the table they would get without it. */
static void
test_maglev_weight_zero_backend_gets_no_slot(void **state)
{
	uint32_t w[10] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 1};
	uint32_t ids[9] = {0, 1, 2, 4, 5, 6, 7, 8, 9};
	struct lb_maglev_backend *with = make_backends(10, NULL, w);
	struct lb_maglev_backend *without = make_backends(9, ids, NULL);
	uint16_t *t0 = new_table(M_BIG), *t1 = new_table(M_BIG);
	(void)state;

	assert_int_equal(lb_maglev_build(t0, M_BIG, with, 10, SEED), 0);
	assert_int_equal(lb_maglev_build(t1, M_BIG, without, 9, SEED), 0);
	for (uint32_t x = 0; x < M_BIG; x++) {
		assert_int_not_equal(t0[x], 3);
		assert_int_equal(key_id(with, t0[x]), key_id(without, t1[x]));
	}
	free(t0);
	free(t1);
	free(with);
	free(without);
}

static void
test_maglev_rejects_bad_table_size(void **state)
{
	static const uint32_t bad[] = {
		0, 1, 2, 4, 9, 65536, 65535 /* 3 * 5 * 17 * 257 */, LB_MAGLEV_M_MAX + 2,
		2147483647 /* prime, too large */,
	};
	struct lb_maglev_backend *b = make_backends(3, NULL, NULL);
	uint16_t t[16];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lb_maglev_build(t, bad[i], b, 3, SEED), LB_EINVAL);
	assert_int_equal(lb_maglev_build(NULL, 13, b, 3, SEED), LB_EINVAL);
	free(b);
}

static void
test_maglev_rejects_more_than_65535_backends(void **state)
{
	static uint8_t many[65536][4];
	struct lb_maglev_backend *b = calloc(65536, sizeof(*b));
	uint16_t *t = new_table(M_BIG);
	uint32_t *count = calloc(65535, sizeof(*count));
	(void)state;

	assert_non_null(b);
	assert_non_null(count);
	for (uint32_t i = 0; i < 65536; i++) {
		memcpy(many[i], &i, sizeof(i));
		b[i].key = many[i];
		b[i].key_len = sizeof(many[i]);
		b[i].weight = 1;
	}
	assert_int_equal(lb_maglev_build(t, M_BIG, b, 65536, SEED), LB_EINVAL);

	/* 65535 is the limit: index 65534 is the largest, 0xffff stays "empty" */
	assert_int_equal(lb_maglev_build(t, M_BIG, b, 65535, SEED), 0);
	count_slots(t, M_BIG, 65535, count);
	for (uint32_t i = 0; i < 65535; i++)
		assert_in_range(count[i], 1, 2);
	free(count);
	free(t);
	free(b);
}

static void
test_maglev_rejects_duplicate_keys(void **state)
{
	uint32_t ids[4] = {0, 1, 2, 1};
	uint32_t w[4] = {1, 1, 1, 0};
	struct lb_maglev_backend *b = make_backends(4, ids, NULL);
	uint16_t t[M_SMALL];
	(void)state;

	for (uint32_t x = 0; x < M_SMALL; x++)
		t[x] = 42;
	assert_int_equal(lb_maglev_build(t, M_SMALL, b, 4, SEED), LB_EINVAL);
	/* a failed build leaves the caller's table alone */
	for (uint32_t x = 0; x < M_SMALL; x++)
		assert_int_equal(t[x], 42);

	/* a weight-0 twin is still a duplicate */
	free(b);
	b = make_backends(4, ids, w);
	assert_int_equal(lb_maglev_build(t, M_SMALL, b, 4, SEED), LB_EINVAL);
	free(b);
}

/* "ab" and "abc" share a prefix but are different backends. */
static void
test_maglev_prefix_keys_are_distinct(void **state)
{
	struct lb_maglev_backend b[3] = {
		{"abc", 3, 1}, {"ab", 2, 1}, {"", 0, 1},
	};
	uint32_t count[3];
	uint16_t t[M_SMALL];
	(void)state;

	assert_int_equal(lb_maglev_build(t, M_SMALL, b, 3, SEED), 0);
	count_slots(t, M_SMALL, 3, count);
	for (uint32_t k = 0; k < 3; k++)
		assert_in_range(count[k], M_SMALL / 3, M_SMALL / 3 + 1);
}

/*
 * Every table depends on lb_hash_bytes() (offset and skip), and ref_build uses
 * it too, so a change to the hash would not show there: pin a few values, one
 * per tail length (0, 1, 3, 7 bytes past a multiple of 8) and both seeds'
 * shapes. Computed with the hash as of 03c94f2.
 */
static void
test_maglev_hash_values_are_pinned(void **state)
{
	static const struct {
		size_t len;
		uint64_t seed, want;
	} v[] = {
		{0, 0x0000000000000000ULL, 0x0000000000000000ULL},
		{1, 0x0000000000000000ULL, 0x125b070c81017f32ULL},
		{3, 0x0000000000000000ULL, 0xf067ac4854011072ULL},
		{7, 0x0000000000000000ULL, 0x9c6742015a3fa762ULL},
		{8, 0x0000000000000000ULL, 0x153bead6ba625191ULL},
		{9, 0x0000000000000000ULL, 0x0f3c93fbdc88abadULL},
		{16, 0x0000000000000000ULL, 0x65ef311bbf3cb1f6ULL},
		{19, 0x0000000000000000ULL, 0xea5d4d8d532ecd39ULL},
		{40, 0x0000000000000000ULL, 0xca5fcd022eb64192ULL},
		{0, 0x2545f4914f6c83f0ULL, 0xdcc6af887890b3fbULL},
		{1, 0x2545f4914f6c83f0ULL, 0x2a280cec5ccdd2f3ULL},
		{3, 0x2545f4914f6c83f0ULL, 0xf42117ac12491b0eULL},
		{7, 0x2545f4914f6c83f0ULL, 0xb39fb77cc7edcc2cULL},
		{8, 0x2545f4914f6c83f0ULL, 0x41bbb4b9bf7b39caULL},
		{9, 0x2545f4914f6c83f0ULL, 0x9f7e8d7106806203ULL},
		{16, 0x2545f4914f6c83f0ULL, 0xf76f9d434664d0fcULL},
		{19, 0x2545f4914f6c83f0ULL, 0x5f1a463b3a3154ccULL},
		{40, 0x2545f4914f6c83f0ULL, 0x71e1de6c8ffa2b9bULL},
	};
	uint8_t bytes[40];
	(void)state;

	for (unsigned i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 37 + 11);
	for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
		assert_int_equal(lb_hash_bytes(bytes, v[k].len, v[k].seed), v[k].want);
}

/*
 * Keys of 0 to 40 bytes sharing prefixes, with zero bytes inside and at the end
 * (so a zero-padded copy of a shorter key equals a longer key's first bytes):
 * the build's key order (bytes, then length) must be the reference's, or the
 * tables differ.
 */
static void
test_maglev_key_order_of_mixed_lengths(void **state)
{
	enum { NK = 120, KMAX = 40 };
	static uint8_t kb[NK][KMAX];
	struct lb_maglev_backend b[NK];
	uint16_t got[M_SMALL], want[M_SMALL];
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	(void)state;

	for (uint32_t i = 0; i < NK; i++) {
		uint32_t len = i < 41 ? i : (uint32_t)(rng % (KMAX + 1));

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		memset(kb[i], 0, KMAX);
		/* the first 41 keys: "", "\0", "\0\0", ... (every length of zeros);
		 * the rest: 0xab bytes with a marker byte somewhere */
		if (i >= 41) {
			memset(kb[i], 0xab, len);
			if (len > 0)
				kb[i][(i * 7) % len] = (uint8_t)i;
		}
		b[i] = (struct lb_maglev_backend){kb[i], len, 1};
	}
	/* drop duplicates among the random ones (the build rejects them) */
	uint32_t n = 0;
	for (uint32_t i = 0; i < NK; i++) {
		bool dup = false;

		for (uint32_t k = 0; k < n && !dup; k++)
			dup = ref_key_cmp(&b[k], &b[i]) == 0;
		if (!dup)
			b[n++] = b[i];
	}
	assert_true(n > 80);
	assert_int_equal(lb_maglev_build(got, M_SMALL, b, n, SEED), 0);
	ref_build(want, M_SMALL, b, n, SEED);
	assert_memory_equal(got, want, sizeof(got));
}

/*
 * With AVX-512 (this machine's CPU, most likely) equal-weight builds of 32
 * backends or more claim in batches; lb_maglev_use_batches(false) builds by the
 * walks alone. Both must give the same table for every size, count and seed,
 * including counts just above the batch minimum and not a multiple of 16, and
 * tables smaller than the backend count or the last FREE_MAX (128) slots; and
 * both must be the paper's (ref_build). On a CPU without AVX-512 both builds
 * walk, and what this still proves is the walks against the reference.
 */
static void
test_maglev_batches_match_walks(void **state)
{
	static const uint32_t ms[] = {37, 127, 131, M_SMALL, 257, 4099, M_BIG, 131071};
	static const uint32_t ns[] = {31, 32, 33, 47, 100, 999, 1000};
	(void)state;

	if (!lb_maglev_use_batches(true))
		print_message("no AVX-512 here: the batches cannot run, walks only\n");

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint32_t m = ms[i];
		uint16_t *batched = new_table(m), *walked = new_table(m), *want = new_table(m);

		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
			struct lb_maglev_backend *b = make_backends(ns[j], NULL, NULL);

			for (uint64_t seed = SEED; seed < SEED + 3; seed++) {
				lb_maglev_use_batches(true);
				assert_int_equal(lb_maglev_build(batched, m, b, ns[j], seed), 0);
				lb_maglev_use_batches(false);
				assert_int_equal(lb_maglev_build(walked, m, b, ns[j], seed), 0);
				assert_memory_equal(batched, walked, m * sizeof(*batched));
				ref_build(want, m, b, ns[j], seed);
				assert_memory_equal(walked, want, m * sizeof(*want));
			}
			free(b);
		}
		free(batched);
		free(walked);
		free(want);
	}
	lb_maglev_use_batches(true);
}

static void
test_maglev_single_backend_fills_every_slot(void **state)
{
	static const uint32_t ms[] = {3, M_SMALL, M_BIG};
	uint32_t w[1] = {7};
	(void)state;

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint32_t ids[1] = {(uint32_t)i * 11};
		struct lb_maglev_backend *b = make_backends(1, ids, w);
		uint16_t *t = new_table(ms[i]);

		assert_int_equal(lb_maglev_build(t, ms[i], b, 1, SEED), 0);
		for (uint32_t x = 0; x < ms[i]; x++)
			assert_int_equal(t[x], 0);
		free(t);
		free(b);
	}
}

static void
test_maglev_pick_stays_in_range(void **state)
{
	static const uint32_t ms[] = {3, M_SMALL, M_BIG, LB_MAGLEV_M_MAX};
	static const uint32_t edge[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu,
					0xffffffffu};
	(void)state;

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		uint32_t m = ms[i], n = m < 50 ? m : 50;
		struct lb_maglev_backend *b = make_backends(n, NULL, NULL);
		uint16_t *t = new_table(m);
		uint32_t h = 12345;

		assert_int_equal(lb_maglev_build(t, m, b, n, SEED), 0);
		for (size_t k = 0; k < sizeof(edge) / sizeof(edge[0]); k++) {
			assert_true(lb_hash_reduce(edge[k], m) < m);
			assert_true(lb_maglev_pick(t, m, edge[k]) < n);
		}
		assert_int_equal(lb_hash_reduce(0xffffffffu, m), m - 1);
		for (uint32_t k = 0; k < 100000; k++) {
			h = h * 1664525u + 1013904223u;
			assert_true(lb_maglev_pick(t, m, h) < n);
		}
		free(t);
		free(b);
	}
}

/* Build with c and compare with a fresh lb_maglev_build(); returns the hit flag. */
static bool
cache_build_checked(struct lb_maglev_cache *c, uint32_t m, const struct lb_maglev_backend *b,
		    uint32_t n, uint64_t seed)
{
	uint16_t *got = new_table(m), *want = new_table(m);
	bool hit = true;
	uint64_t th = 0;

	assert_int_equal(lb_maglev_cache_build(c, got, m, b, n, seed, NULL, &hit, &th), 0);
	assert_int_equal(lb_maglev_build(want, m, b, n, seed), 0);
	assert_memory_equal(got, want, m * sizeof(*got));
	assert_true(th == lb_hash_bytes(want, m * sizeof(*want), 0));
	free(got);
	free(want);
	return hit;
}

static void
test_maglev_cache_copies_only_identical_inputs(void **state)
{
	struct lb_maglev_cache *c = lb_maglev_cache_create(4u << 20);
	struct lb_maglev_cache_stats st;
	uint32_t w[101];
	struct lb_maglev_backend *b;
	(void)state;

	assert_non_null(c);
	for (uint32_t i = 0; i < 101; i++)
		w[i] = 1;
	b = make_backends(101, NULL, w);
	assert_false(cache_build_checked(c, M_BIG, b, 101, SEED));
	assert_true(cache_build_checked(c, M_BIG, b, 101, SEED));
	/* a backend gone, a weight changed, another seed, another size: built */
	assert_false(cache_build_checked(c, M_BIG, b, 100, SEED));
	b[100].weight = 7;
	assert_false(cache_build_checked(c, M_BIG, b, 101, SEED));
	assert_false(cache_build_checked(c, M_BIG, b, 101, SEED + 1));
	assert_false(cache_build_checked(c, 65521, b, 101, SEED));
	/* the flap back: each earlier set is still there */
	b[100].weight = 1;
	assert_true(cache_build_checked(c, M_BIG, b, 101, SEED));
	assert_true(cache_build_checked(c, M_BIG, b, 100, SEED));
	b[100].weight = 7;
	assert_true(cache_build_checked(c, M_BIG, b, 101, SEED));
	/* same key bytes, different key: a change of one address byte is a miss */
	uint8_t other[KEY_LEN];
	memcpy(other, keys[3], KEY_LEN);
	other[16] ^= 0x80;
	b[3].key = other;
	assert_false(cache_build_checked(c, M_BIG, b, 101, SEED));
	lb_maglev_cache_stats(c, &st);
	assert_int_equal(st.hits, 4);
	assert_int_equal(st.misses, 6);
	assert_int_equal(st.entries, 6);
	assert_true(st.bytes <= 4u << 20);
	lb_maglev_cache_destroy(c);
	free(b);
}

static void
test_maglev_cache_keeps_its_budget(void **state)
{
	/* room for two 65537-slot tables: the third evicts the least recently used */
	struct lb_maglev_cache *c = lb_maglev_cache_create(2 * (M_BIG * 2 + 4096) + 1000);
	struct lb_maglev_cache *none = lb_maglev_cache_create(0);
	struct lb_maglev_cache_stats st;
	struct lb_maglev_backend *b = make_backends(30, NULL, NULL);
	(void)state;

	assert_non_null(c);
	assert_false(cache_build_checked(c, M_BIG, b, 10, SEED));
	assert_false(cache_build_checked(c, M_BIG, b, 20, SEED));
	assert_true(cache_build_checked(c, M_BIG, b, 10, SEED)); /* 10 is now the newest */
	assert_false(cache_build_checked(c, M_BIG, b, 30, SEED)); /* evicts 20 */
	lb_maglev_cache_stats(c, &st);
	assert_int_equal(st.entries, 2);
	assert_true(cache_build_checked(c, M_BIG, b, 10, SEED));
	assert_false(cache_build_checked(c, M_BIG, b, 20, SEED));
	/* small tables are not kept; a budget of 0 keeps nothing; NULL only builds */
	assert_false(cache_build_checked(c, M_SMALL, b, 10, SEED));
	assert_false(cache_build_checked(c, M_SMALL, b, 10, SEED));
	assert_false(cache_build_checked(none, M_BIG, b, 10, SEED));
	assert_false(cache_build_checked(none, M_BIG, b, 10, SEED));
	assert_false(cache_build_checked(NULL, M_BIG, b, 10, SEED));
	/* a failed build is an error and is not kept */
	uint16_t *t = new_table(M_BIG);
	bool hit;
	uint64_t th;
	b[1].key = b[0].key;
	assert_int_equal(lb_maglev_cache_build(c, t, M_BIG, b, 10, SEED, NULL, &hit, &th), LB_EINVAL);
	assert_int_equal(lb_maglev_cache_build(c, t, M_BIG, b, 10, SEED, NULL, &hit, &th), LB_EINVAL);
	assert_false(hit);
	assert_int_equal(lb_maglev_cache_build(c, t, 4, b, 10, SEED, NULL, &hit, &th), LB_EINVAL);
	free(t);
	lb_maglev_cache_destroy(c);
	lb_maglev_cache_destroy(none);
	free(b);
}

/*
 * lb_maglev_build_cancel(): not called off, the table of lb_maglev_build() for
 * each way of finding the next claimer; called off before it starts, LB_ECANCELED;
 * a cancelled build is not kept by the cache, and the next one builds.
 */
static void
test_maglev_cancel_gives_up_or_builds_the_same_table(void **state)
{
	static const uint32_t shapes[][3] = {
		/* n, weight of backend 0, weight of the rest */
		{1000, 1, 1},   /* every turn */
		{101, 20, 1},   /* classes */
		{101, 1000, 1}, /* heap */
	};
	int no = 0, yes = 1;
	(void)state;

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		uint32_t n = shapes[s][0], w[N_KEYS];
		struct lb_maglev_backend *b;
		uint16_t *got = new_table(M_BIG), *want = new_table(M_BIG);

		for (uint32_t i = 0; i < n; i++)
			w[i] = i == 0 ? shapes[s][1] : shapes[s][2];
		b = make_backends(n, NULL, w);
		assert_int_equal(lb_maglev_build(want, M_BIG, b, n, SEED), 0);
		assert_int_equal(lb_maglev_build_cancel(got, M_BIG, b, n, SEED, &no), 0);
		assert_memory_equal(got, want, M_BIG * sizeof(*got));
		assert_int_equal(lb_maglev_build_cancel(got, M_BIG, b, n, SEED, NULL), 0);
		assert_memory_equal(got, want, M_BIG * sizeof(*got));
		assert_int_equal(lb_maglev_build_cancel(got, M_BIG, b, n, SEED, &yes), LB_ECANCELED);
		assert_int_equal(lb_maglev_build_cancel(got, M_SMALL, b, n, SEED, &yes), LB_ECANCELED);
		/* at most 128 slots: never called off (maglev.h), batches or not */
		assert_int_equal(lb_maglev_build(want, 127, b, n, SEED), 0);
		assert_int_equal(lb_maglev_build_cancel(got, 127, b, n, SEED, &yes), 0);
		assert_memory_equal(got, want, 127 * sizeof(*got));
		free(got);
		free(want);
		free(b);
	}

	struct lb_maglev_cache *c = lb_maglev_cache_create(4u << 20);
	struct lb_maglev_cache_stats st;
	struct lb_maglev_backend *b = make_backends(100, NULL, NULL);
	uint16_t *t = new_table(M_BIG);
	bool hit = true;
	uint64_t th;

	assert_int_equal(lb_maglev_cache_build(c, t, M_BIG, b, 100, SEED, &yes, &hit, &th),
			 LB_ECANCELED);
	assert_false(hit);
	lb_maglev_cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_false(cache_build_checked(c, M_BIG, b, 100, SEED));
	assert_true(cache_build_checked(c, M_BIG, b, 100, SEED));
	free(t);
	free(b);
	lb_maglev_cache_destroy(c);
}

struct late_cancel {
	const uint16_t *table;
	uint32_t m;
	int flag;
	int done;
	bool during; /* the flag was set while the build ran (some slots still free) */
};

/* Sets the flag once more than 60 % of the table is taken (or the build ended).
 * The table is read while the build writes it: relaxed loads, a count only. */
static void *
cancel_late(void *arg)
{
	struct late_cancel *lc = arg;

	while (!__atomic_load_n(&lc->done, __ATOMIC_ACQUIRE)) {
		uint32_t taken = 0;

		for (uint32_t i = 0; i < lc->m; i++)
			taken += __atomic_load_n(&lc->table[i], __ATOMIC_RELAXED) != LB_MAGLEV_EMPTY;
		if (taken > lc->m / 10 * 6) {
			lc->during = taken < lc->m;
			break;
		}
	}
	__atomic_store_n(&lc->flag, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Called off late (past 60 % of the slots taken), a build still stops with
 * LB_ECANCELED, leaving the rest undone. A flag that came after the walk's last
 * check lets it finish, with the reference table; such a try, like one where the
 * helper thread saw the build only at its end, is run again (5 tries). */
static void
test_maglev_cancel_late_still_stops(void **state)
{
	const uint32_t m = LB_MAGLEV_M_MAX;
	struct lb_maglev_backend *b = make_backends(N_KEYS, NULL, NULL);
	uint16_t *got = new_table(m), *want = new_table(m);
	bool stopped = false;
	(void)state;

	assert_int_equal(lb_maglev_build(want, m, b, N_KEYS, SEED), 0);
	for (int try = 0; try < 5 && !stopped; try++) {
		struct late_cancel lc = {.table = got, .m = m};
		pthread_t th;

		for (uint32_t i = 0; i < m; i++)
			got[i] = LB_MAGLEV_EMPTY;
		assert_int_equal(pthread_create(&th, NULL, cancel_late, &lc), 0);
		int rc = lb_maglev_build_cancel(got, m, b, N_KEYS, SEED, &lc.flag);
		__atomic_store_n(&lc.done, 1, __ATOMIC_RELEASE);
		pthread_join(th, NULL);
		if (rc == 0) {
			assert_memory_equal(got, want, m * sizeof(*got));
			continue;
		}
		assert_int_equal(rc, LB_ECANCELED);
		assert_true(lc.during); /* the flag comes only past 60 % or at the end */
		assert_true(memcmp(got, want, m * sizeof(*got)) != 0); /* slots left free */
		stopped = true;
	}
	free(got);
	free(want);
	free(b);
	assert_true(stopped); /* else no try saw the late flag stop the build */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maglev_matches_paper_pseudocode),
		cmocka_unit_test(test_maglev_equal_weights_get_floor_or_ceil),
		cmocka_unit_test(test_maglev_weights_1_2_3_share_within_1_percent),
		cmocka_unit_test(test_maglev_removal_moves_few_surviving_slots),
		cmocka_unit_test(test_maglev_table_independent_of_input_order),
		cmocka_unit_test(test_maglev_seed_changes_table),
		cmocka_unit_test(test_maglev_no_backends_gives_empty_table),
		cmocka_unit_test(test_maglev_all_weight_zero_gives_empty_table),
		cmocka_unit_test(test_maglev_weight_zero_backend_gets_no_slot),
		cmocka_unit_test(test_maglev_rejects_bad_table_size),
		cmocka_unit_test(test_maglev_rejects_more_than_65535_backends),
		cmocka_unit_test(test_maglev_rejects_duplicate_keys),
		cmocka_unit_test(test_maglev_prefix_keys_are_distinct),
		cmocka_unit_test(test_maglev_hash_values_are_pinned),
		cmocka_unit_test(test_maglev_key_order_of_mixed_lengths),
		cmocka_unit_test(test_maglev_batches_match_walks),
		cmocka_unit_test(test_maglev_single_backend_fills_every_slot),
		cmocka_unit_test(test_maglev_pick_stays_in_range),
		cmocka_unit_test(test_maglev_cache_copies_only_identical_inputs),
		cmocka_unit_test(test_maglev_cache_keeps_its_budget),
		cmocka_unit_test(test_maglev_cancel_gives_up_or_builds_the_same_table),
		cmocka_unit_test(test_maglev_cancel_late_still_stops),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
