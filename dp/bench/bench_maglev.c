/*
 * bench_maglev.c - build-time figures for lb_maglev_build().
 *
 * Standalone (no cmocka, no DPDK): builds the default-size table (M = 65537) for
 * 1000 equal-weight backends a fixed number of times and prints key=value lines
 * for whoever tracks the figure (maglev_build_*), and again by the portable walks
 * alone, as on a CPU without AVX-512 (maglev_walks_build_*); then for an uneven set,
 * 100 backends at weight 1 and one at 1000, the shape of bench-update's hot churn
 * (maglev_uneven_build_*), and for that one's weight spread over 1..1000, as
 * bench-update's hot churn sets it (maglev_hot_build_*). It reports, it does not pass or fail on time.
 *
 *   gcc -std=gnu11 -O2 -Iinclude -Idp -Idp/lib dp/lib/maglev.c dp/lib/maglev_claim.c \
 *       dp/bench/bench_maglev.c -o bench_maglev
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lb_error.h"
#include "lb_model.h"
#include "maglev.h"

#define BENCH_M LB_MAGLEV_M_DEFAULT
#define BENCH_N 1000
#define BENCH_WARMUP 5   /* page in the table and scratch before timing */
#define BENCH_RUNS 200
#define BENCH_SEED 0x5eedULL
#define KEY_LEN 19       /* family | 16-byte address | port, the key shape maglev.h suggests */

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

/* With vary_last, build r gives the last backend weight 1 + 5r % 1000. */
static void
run(const char *name, struct lb_maglev_backend *b, uint32_t n, int vary_last)
{
	static uint16_t table[BENCH_M];
	static double us[BENCH_RUNS], cpu[BENCH_RUNS];
	size_t p99;

	for (int r = 0; r < BENCH_WARMUP + BENCH_RUNS; r++) {
		if (vary_last)
			b[n - 1].weight = (uint32_t)(1 + 5 * r % 1000);
		double c0 = cpu_us(), t0 = now_us();
		int rc = lb_maglev_build(table, BENCH_M, b, n, BENCH_SEED);
		double t1 = now_us(), c1 = cpu_us();

		if (rc != 0) {
			fprintf(stderr, "lb_maglev_build: %s\n", lb_strerror(rc));
			exit(1);
		}
		if (r >= BENCH_WARMUP) {
			us[r - BENCH_WARMUP] = t1 - t0;
			cpu[r - BENCH_WARMUP] = c1 - c0;
		}
	}
	qsort(us, BENCH_RUNS, sizeof(us[0]), cmp_double);
	qsort(cpu, BENCH_RUNS, sizeof(cpu[0]), cmp_double);

	/* nearest-rank p99 */
	p99 = (BENCH_RUNS * 99 + 99) / 100 - 1;
	printf("%s_us=%.1f\n", name, us[BENCH_RUNS / 2]);
	printf("%s_p99_us=%.1f\n", name, us[p99]);
	printf("%s_min_us=%.1f\n", name, us[0]);
	/* thread CPU time: what the build costs whoever else shares the core */
	printf("%s_cpu_us=%.1f\n", name, cpu[BENCH_RUNS / 2]);
	printf("%s_cpu_min_us=%.1f\n", name, cpu[0]);
}

int
main(void)
{
	static uint8_t keys[BENCH_N][KEY_LEN];
	static struct lb_maglev_backend b[BENCH_N];

	/* IPv4-mapped 10.0.x.y:8080 */
	for (uint32_t i = 0; i < BENCH_N; i++) {
		keys[i][0] = 4;
		keys[i][11] = 0xff;
		keys[i][12] = 0xff;
		keys[i][13] = 10;
		keys[i][14] = 0;
		keys[i][15] = (uint8_t)(i >> 8);
		keys[i][16] = (uint8_t)i;
		keys[i][17] = 8080 >> 8;
		keys[i][18] = 8080 & 0xff;
		b[i].key = keys[i];
		b[i].key_len = KEY_LEN;
		b[i].weight = 1;
	}
	run("maglev_build", b, BENCH_N, 0);
	/* The same by the portable walks alone: what a CPU without AVX-512 gets. */
	lb_maglev_use_batches(false);
	run("maglev_walks_build", b, BENCH_N, 0);
	lb_maglev_use_batches(true);
	printf("maglev_runs=%d\n", BENCH_RUNS);
	printf("maglev_m=%d\n", BENCH_M);
	printf("maglev_n=%d\n", BENCH_N);

	/* 101 backends: the first 100 at weight 1, one at 1000. */
	b[100].weight = 1000;
	run("maglev_uneven_build", b, 101, 0);

	/* bench-update's hot churn: the 101st backend's weight anywhere in 1..1000. */
	run("maglev_hot_build", b, 101, 1);
	return 0;
}
