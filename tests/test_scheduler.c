/*
 * test_scheduler.c - unit tests for dp/lib/scheduler.c: IPVS's formulas one by one.
 *
 * Weights in, picks out: no DPDK, no EAL. Connection counts come from an array
 * through the same callback the worker uses. Each formula is pinned against the
 * sequence or the choice Linux IPVS makes for the same input (ip_vs_rr.c,
 * ip_vs_wrr.c, ip_vs_lc.c, ip_vs_wlc.c, ip_vs_sed.c, ip_vs_nq.c, ip_vs_sh.c,
 * ip_vs_dh.c). The distribution through the real pipeline is tests/test_pipeline.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conntrack.h"
#include "lb_error.h"
#include "lb_model.h"
#include "scheduler.h"

struct load {
	uint32_t active[512];
	uint32_t inactive[512];
};

static void
load_fn(void *arg, uint32_t bi, uint32_t *active, uint32_t *inactive)
{
	const struct load *l = arg;

	*active = l->active[bi];
	*inactive = l->inactive[bi];
}

static void
build(struct lb_sched_set *s, uint8_t kind, const uint16_t *w, uint32_t n)
{
	assert_int_equal(lb_sched_build(s, kind, w, n), 0);
}

static uint32_t
pick(const struct lb_sched_set *s, struct lb_sched_cursor *c, struct load *l, const char *src,
     const char *dst)
{
	struct lb_addr a, b;

	assert_int_equal(lb_addr_parse(src, &a), 0);
	assert_int_equal(lb_addr_parse(dst, &b), 0);
	return lb_sched_pick(s, c, 1, load_fn, l, a.family, a.bytes, b.bytes);
}

/* ---------------------------------------------------------------- names */

static void
test_sched_names_round_trip_in_any_case(void **state)
{
	static const char *const names[] = { "maglev", "rr", "wrr", "lc", "wlc",
					     "sh", "dh", "sed", "nq" };
	uint8_t v;

	(void)state;
	for (unsigned i = 0; i < 9; i++) {
		assert_int_equal(lb_sched_parse(names[i], &v), 0);
		assert_string_equal(lb_sched_name(v), names[i]);
	}
	assert_int_equal(lb_sched_parse("WLC", &v), 0);
	assert_int_equal(v, LB_SCHED_WLC);
	assert_int_equal(lb_sched_parse("lblc", &v), LB_EINVAL);
	assert_int_equal(lb_sched_parse("", &v), LB_EINVAL);
}

static void
test_sched_validator_rejects_an_unknown_scheduler(void **state)
{
	struct lb_svc_spec s;
	char err[256];

	(void)state;
	lb_svc_spec_init(&s);
	snprintf(s.name, sizeof(s.name), "x");
	assert_int_equal(lb_addr_parse("198.18.0.1", &s.vip), 0);
	s.port = 80;
	s.proto = LB_PROTO_TCP;
	assert_int_equal(s.sched, LB_SCHED_MAGLEV);
	s.sched = LB_SCHED_NQ;
	assert_int_equal(lb_svc_spec_validate(&s, err, sizeof(err)), 0);
	s.sched = LB_SCHED_MAX + 1;
	assert_int_equal(lb_svc_spec_validate(&s, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, "scheduler"));
}

/* ---------------------------------------------------------------- rr */

static void
test_sched_rr_takes_each_backend_in_turn_and_skips_weight_0(void **state)
{
	const uint16_t w[] = { 1, 0, 5, 1 };
	struct lb_sched_set s;
	struct lb_sched_cursor c;
	const uint32_t want[] = { 0, 2, 3, 0, 2, 3, 0 };

	(void)state;
	build(&s, LB_SCHED_RR, w, 4);
	lb_sched_cursor_reset(&c, 1);
	assert_int_equal(s.n, 3);
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(pick(&s, &c, NULL, "198.18.0.1", "198.18.1.1"), want[i]);
	lb_sched_free(&s);
}

static void
test_sched_rr_keeps_its_place_when_the_set_shrinks(void **state)
{
	const uint16_t w4[] = { 1, 1, 1, 1 }, w2[] = { 1, 1 };
	struct lb_sched_set a, b;
	struct lb_sched_cursor c;

	(void)state;
	build(&a, LB_SCHED_RR, w4, 4);
	build(&b, LB_SCHED_RR, w2, 2);
	lb_sched_cursor_reset(&c, 1);
	for (unsigned i = 0; i < 4; i++) /* 0 1 2 3: the cursor is at 3 */
		lb_sched_pick(&a, &c, 1, NULL, NULL, LB_AF_INET, NULL, NULL);
	/* a new object with 2 backends: wrapped, never out of range */
	for (unsigned i = 0; i < 6; i++)
		assert_true(lb_sched_pick(&b, &c, 2, NULL, NULL, LB_AF_INET, NULL, NULL) < 2);
	lb_sched_free(&a);
	lb_sched_free(&b);
}

/* ---------------------------------------------------------------- wrr */

static void
test_sched_wrr_is_ipvs_interleaved_sequence(void **state)
{
	/* IPVS with weights 4,3,2: cw 4: A; cw 3: A B; cw 2: A B C; cw 1: A B C */
	const uint16_t w[] = { 4, 3, 2 };
	const uint32_t want[] = { 0, 0, 1, 0, 1, 2, 0, 1, 2 };
	struct lb_sched_set s;
	struct lb_sched_cursor c;

	(void)state;
	build(&s, LB_SCHED_WRR, w, 3);
	assert_int_equal(s.max_w, 4);
	assert_int_equal(s.gcd_w, 1);
	lb_sched_cursor_reset(&c, 1);
	for (unsigned round = 0; round < 3; round++)
		for (unsigned i = 0; i < 9; i++)
			assert_int_equal(lb_sched_wrr(&s, &c), want[i]);
	lb_sched_free(&s);
}

static void
test_sched_wrr_steps_by_the_gcd_of_weights(void **state)
{
	/* 100, 200: gcd 100, cw 200: B; cw 100: A B */
	const uint16_t w[] = { 100, 200 };
	const uint32_t want[] = { 1, 0, 1, 1, 0, 1 };
	struct lb_sched_set s;
	struct lb_sched_cursor c;

	(void)state;
	build(&s, LB_SCHED_WRR, w, 2);
	assert_int_equal(s.gcd_w, 100);
	lb_sched_cursor_reset(&c, 1);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(lb_sched_wrr(&s, &c), want[i]);
	lb_sched_free(&s);
}

static void
test_sched_wrr_shares_are_exactly_the_weights_over_a_cycle(void **state)
{
	const uint16_t w[] = { 7, 1, 0, 12, 3 };
	struct lb_sched_set s;
	struct lb_sched_cursor c;
	unsigned got[5] = { 0 };

	(void)state;
	build(&s, LB_SCHED_WRR, w, 5);
	lb_sched_cursor_reset(&c, 1);
	for (unsigned i = 0; i < 23 * 100; i++) /* 100 cycles of 7+1+12+3 */
		got[lb_sched_pick(&s, &c, 1, NULL, NULL, LB_AF_INET, NULL, NULL)]++;
	assert_int_equal(got[0], 700);
	assert_int_equal(got[1], 100);
	assert_int_equal(got[2], 0);
	assert_int_equal(got[3], 1200);
	assert_int_equal(got[4], 300);
	lb_sched_free(&s);
}

static void
test_sched_wrr_restarts_when_the_service_changes(void **state)
{
	const uint16_t w[] = { 2, 1 };
	struct lb_sched_set s;
	struct lb_sched_cursor c;

	(void)state;
	build(&s, LB_SCHED_WRR, w, 2);
	lb_sched_cursor_reset(&c, 1);
	assert_int_equal(lb_sched_pick(&s, &c, 1, NULL, NULL, LB_AF_INET, NULL, NULL), 0);
	assert_int_equal(lb_sched_pick(&s, &c, 1, NULL, NULL, LB_AF_INET, NULL, NULL), 0);
	/* a new object version: back to the head, cw = max */
	assert_int_equal(lb_sched_pick(&s, &c, 2, NULL, NULL, LB_AF_INET, NULL, NULL), 0);
	assert_int_equal(lb_sched_pick(&s, &c, 2, NULL, NULL, LB_AF_INET, NULL, NULL), 0);
	assert_int_equal(lb_sched_pick(&s, &c, 2, NULL, NULL, LB_AF_INET, NULL, NULL), 1);
	/* a zeroed cursor (fresh worker memory) starts like a reset one */
	memset(&c, 0, sizeof(c));
	assert_int_equal(lb_sched_wrr(&s, &c), 0);
	assert_int_equal(lb_sched_wrr(&s, &c), 0);
	assert_int_equal(lb_sched_wrr(&s, &c), 1);
	lb_sched_free(&s);
}

/* ---------------------------------------------------------------- lc, wlc, sed, nq */

static void
test_sched_overheads_are_ipvs_formulas(void **state)
{
	(void)state;
	/* ip_vs_dest_conn_overhead(): (activeconns << 8) + inactconns */
	assert_int_equal(lb_sched_overhead(LB_SCHED_LC, 3, 5), 3 * 256 + 5);
	assert_int_equal(lb_sched_overhead(LB_SCHED_WLC, 0, 7), 7);
	/* ip_vs_sed_dest_overhead() / ip_vs_nq_dest_overhead(): activeconns + 1 */
	assert_int_equal(lb_sched_overhead(LB_SCHED_SED, 3, 5), 4);
	assert_int_equal(lb_sched_overhead(LB_SCHED_NQ, 0, 9), 1);
	assert_int_equal(lb_sched_overhead(LB_SCHED_LC, UINT32_MAX, 0), UINT32_MAX);
}

/* Which conntrack states count as active: IPVS's tcp_state_active(), UDP inactive. */
static void
test_sched_active_states_are_ipvs_ones(void **state)
{
	(void)state;
	assert_true(lb_sched_ct_active(LB_CT_TCP_SYN));          /* SYN_RECV */
	assert_true(lb_sched_ct_active(LB_CT_TCP_ESTABLISHED));
	assert_true(lb_sched_ct_active(LB_CT_TCP_UNCONFIRMED));  /* picked up mid-stream */
	assert_false(lb_sched_ct_active(LB_CT_TCP_CLOSING));     /* FIN_WAIT, CLOSE_WAIT */
	assert_false(lb_sched_ct_active(LB_CT_TCP_CLOSED));      /* TIME_WAIT, CLOSE */
	assert_false(lb_sched_ct_active(LB_CT_UDP));             /* ipvsadm: InActConn */
	assert_false(lb_sched_ct_active(LB_CT_UDP_STREAM));
	assert_false(lb_sched_ct_active(LB_CT_STATE_FREE));
}

static void
test_sched_lc_takes_the_least_loaded_ignoring_weight(void **state)
{
	const uint16_t w[] = { 1, 100, 1, 1 };
	struct lb_sched_set s;
	struct load l = { .active = { 5, 4, 4, 6 } };
	struct lb_sched_cursor c;

	(void)state;
	build(&s, LB_SCHED_LC, w, 4);
	lb_sched_cursor_reset(&c, 1);
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 1); /* tie: first */
	l.active[1] = 5;
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 2);
	/* one active weighs 256 inactive */
	memset(&l, 0, sizeof(l));
	l.active[0] = 1;
	l.inactive[1] = 255;
	l.inactive[2] = 256;
	l.active[3] = 1;
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 1);
	l.inactive[1] = 257;
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 0); /* 256 ties: first */
	lb_sched_free(&s);
}

static void
test_sched_wlc_divides_overhead_by_weight(void **state)
{
	const uint16_t w[] = { 1, 3, 2 };
	struct lb_sched_set s;
	struct load l = { .active = { 10, 29, 19 } };
	struct lb_sched_cursor c;

	(void)state;
	build(&s, LB_SCHED_WLC, w, 3);
	lb_sched_cursor_reset(&c, 1);
	/* 2560/1, 7424/3 = 2474.7, 4864/2 = 2432: the third */
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 2);
	l.active[2] = 21; /* 5376/2 = 2688: now the second */
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 1);
	l.active[1] = 30; /* 7680/3 = 2560 = the first's: a tie keeps the first */
	assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.18.1.1"), 0);
	lb_sched_free(&s);
}

static void
test_sched_sed_and_nq_differ_on_idle_servers(void **state)
{
	/* the IPVS docs' example: both idle, weights 1 and 2 */
	const uint16_t w[] = { 1, 2 };
	struct lb_sched_set sed, nq;
	struct load l = { .active = { 0, 0 } };
	struct lb_sched_cursor c;

	(void)state;
	build(&sed, LB_SCHED_SED, w, 2);
	build(&nq, LB_SCHED_NQ, w, 2);
	lb_sched_cursor_reset(&c, 1);
	/* sed: (0+1)/1 vs (0+1)/2: the heavier one */
	assert_int_equal(pick(&sed, &c, &l, "198.18.0.1", "198.18.1.1"), 1);
	/* nq: the first idle server, at once */
	assert_int_equal(pick(&nq, &c, &l, "198.18.0.1", "198.18.1.1"), 0);
	/* busy both: nq is sed. (2+1)/1 = 3 vs (4+1)/2 = 2.5: the second */
	l.active[0] = 2;
	l.active[1] = 4;
	assert_int_equal(pick(&sed, &c, &l, "198.18.0.1", "198.18.1.1"), 1);
	assert_int_equal(pick(&nq, &c, &l, "198.18.0.1", "198.18.1.1"), 1);
	/* (1+1)/1 = 2 vs 2.5: the first; inactive connections do not count */
	l.active[0] = 1;
	l.inactive[0] = 1000;
	assert_int_equal(pick(&sed, &c, &l, "198.18.0.1", "198.18.1.1"), 0);
	/* nq takes the idle second even when it is lighter */
	l.active[1] = 0;
	assert_int_equal(pick(&nq, &c, &l, "198.18.0.1", "198.18.1.1"), 1);
	lb_sched_free(&sed);
	lb_sched_free(&nq);
}

static void
test_sched_least_filling_a_cluster_evens_it_out(void **state)
{
	/* each pick adds a connection: lc fills evenly, wlc by weight */
	const uint16_t w[] = { 1, 2, 5 };
	struct lb_sched_set lc, wlc;
	struct load l;
	struct lb_sched_cursor c;

	(void)state;
	build(&lc, LB_SCHED_LC, w, 3);
	build(&wlc, LB_SCHED_WLC, w, 3);
	lb_sched_cursor_reset(&c, 1);
	memset(&l, 0, sizeof(l));
	for (unsigned i = 0; i < 300; i++)
		l.active[pick(&lc, &c, &l, "198.18.0.1", "198.18.1.1")]++;
	assert_int_equal(l.active[0], 100);
	assert_int_equal(l.active[1], 100);
	assert_int_equal(l.active[2], 100);
	memset(&l, 0, sizeof(l));
	for (unsigned i = 0; i < 800; i++)
		l.active[pick(&wlc, &c, &l, "198.18.0.1", "198.18.1.1")]++;
	assert_int_equal(l.active[0], 100);
	assert_int_equal(l.active[1], 200);
	assert_int_equal(l.active[2], 500);
	lb_sched_free(&lc);
	lb_sched_free(&wlc);
}

/* ---------------------------------------------------------------- sh, dh */

static void
test_sched_hash_is_the_kernels_hash_32(void **state)
{
	const uint16_t w[] = { 1, 1, 1 };
	struct lb_sched_set s;
	struct lb_addr a;

	(void)state;
	build(&s, LB_SCHED_DH, w, 3);
	assert_int_equal(s.bits, 8);
	/* dh fills bucket b with backend b % n */
	for (unsigned b = 0; b < 256; b++)
		assert_int_equal(s.bucket[b], b % 3);
	/* (0x0a000001 * 0x61c88647) >> 24 = 0x27 = 39: bucket 39 -> backend 0 */
	assert_int_equal(lb_addr_parse("10.0.0.1", &a), 0);
	assert_int_equal(lb_sched_addr_fold(a.family, a.bytes), 0x0a000001);
	assert_int_equal(lb_sched_hash(&s, a.family, a.bytes), 39 % 3);
	/* 198.18.0.7: 0x07 -> backend 1 */
	assert_int_equal(lb_addr_parse("198.18.0.7", &a), 0);
	assert_int_equal(lb_sched_hash(&s, a.family, a.bytes), 7 % 3);
	/* IPv6 folds its four words with xor */
	assert_int_equal(lb_addr_parse("2001:db8::1:0:0:1", &a), 0);
	assert_int_equal(lb_sched_addr_fold(a.family, a.bytes),
			 0x20010db8u ^ 0x00000000u ^ 0x00010000u ^ 0x00000001u);
	lb_sched_free(&s);
}

static void
test_sched_sh_fills_buckets_by_weight(void **state)
{
	const uint16_t w[] = { 1, 2, 0, 1 };
	const uint16_t w100[] = { 100, 100 };
	struct lb_sched_set s;
	unsigned got[4] = { 0 };

	(void)state;
	build(&s, LB_SCHED_SH, w, 4);
	assert_int_equal(s.n, 3);
	for (unsigned b = 0; b < 256; b++)
		got[s.idx[s.bucket[b]]]++;
	assert_int_equal(got[0], 64);
	assert_int_equal(got[1], 128);
	assert_int_equal(got[2], 0);
	assert_int_equal(got[3], 64);
	/* ip_vs_sh_reassign: A, B, B, D, A, B, B, D ... */
	assert_int_equal(s.bucket[0], 0);
	assert_int_equal(s.bucket[1], 1);
	assert_int_equal(s.bucket[2], 1);
	assert_int_equal(s.bucket[3], 2);
	assert_int_equal(s.bucket[4], 0);
	lb_sched_free(&s);
	/* weights 100,100 fill like 1,1 (divided by their gcd), not 100 buckets each */
	build(&s, LB_SCHED_SH, w100, 2);
	memset(got, 0, sizeof(got));
	for (unsigned b = 0; b < 256; b++)
		got[s.bucket[b]]++;
	assert_int_equal(got[0], 128);
	assert_int_equal(got[1], 128);
	lb_sched_free(&s);
}

static void
test_sched_sh_keeps_a_client_on_one_backend_and_dh_a_vip(void **state)
{
	const uint16_t w[] = { 1, 1, 1, 1, 1 };
	struct lb_sched_set sh, dh;
	struct lb_sched_cursor c;
	char src[32];
	unsigned seen[5] = { 0 };

	(void)state;
	build(&sh, LB_SCHED_SH, w, 5);
	build(&dh, LB_SCHED_DH, w, 5);
	lb_sched_cursor_reset(&c, 1);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(src, sizeof(src), "198.18.%u.%u", i / 250, i % 250 + 1);
		uint32_t b = pick(&sh, &c, NULL, src, "198.19.0.1");
		seen[b]++;
		/* the same client again, to any destination: the same backend */
		assert_int_equal(pick(&sh, &c, NULL, src, "198.19.0.2"), b);
		/* dh: every client of one VIP lands alike */
		assert_int_equal(pick(&dh, &c, NULL, src, "198.19.0.1"),
				 pick(&dh, &c, NULL, "203.0.113.9", "198.19.0.1"));
	}
	for (unsigned b = 0; b < 5; b++) /* every backend gets clients */
		assert_true(seen[b] > 100);
	lb_sched_free(&sh);
	lb_sched_free(&dh);
}

static void
test_sched_hash_tables_grow_past_256_backends(void **state)
{
	static uint16_t w[300];
	struct lb_sched_set s;
	static unsigned got[300];

	(void)state;
	for (unsigned i = 0; i < 300; i++)
		w[i] = 1;
	build(&s, LB_SCHED_SH, w, 300);
	assert_int_equal(s.bits, 9);
	for (unsigned b = 0; b < 512; b++)
		got[s.bucket[b]]++;
	for (unsigned i = 0; i < 300; i++)
		assert_true(got[i] >= 1);
	lb_sched_free(&s);
}

static void
test_sched_same_backends_same_answers_on_every_box(void **state)
{
	/* no seed, no insertion order: two builds give the same table */
	const uint16_t w[] = { 3, 1, 2 };
	struct lb_sched_set a, b;

	(void)state;
	build(&a, LB_SCHED_SH, w, 3);
	build(&b, LB_SCHED_SH, w, 3);
	assert_memory_equal(a.bucket, b.bucket, sizeof(*a.bucket) << a.bits);
	lb_sched_free(&a);
	lb_sched_free(&b);
}

/* ---------------------------------------------------------------- no backend, errors */

static void
test_sched_every_scheduler_answers_none_without_backends(void **state)
{
	const uint16_t w[] = { 0, 0 };
	struct lb_sched_set s;
	struct lb_sched_cursor c;
	struct load l = { .active = { 0 } };

	(void)state;
	for (uint8_t k = LB_SCHED_RR; k <= LB_SCHED_MAX; k++) {
		build(&s, k, w, 2);
		lb_sched_cursor_reset(&c, 1);
		assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.19.0.1"), LB_SCHED_NONE);
		lb_sched_free(&s);
		build(&s, k, NULL, 0);
		assert_int_equal(pick(&s, &c, &l, "198.18.0.1", "198.19.0.1"), LB_SCHED_NONE);
		lb_sched_free(&s);
	}
}

static void
test_sched_build_rejects_bad_arguments(void **state)
{
	const uint16_t w[] = { 1 };
	struct lb_sched_set s;

	(void)state;
	assert_int_equal(lb_sched_build(&s, LB_SCHED_MAX + 1, w, 1), LB_EINVAL);
	assert_null(s.idx);
	assert_int_equal(lb_sched_build(&s, LB_SCHED_RR, NULL, 1), LB_EINVAL);
	assert_int_equal(lb_sched_build(&s, LB_SCHED_RR, w, LB_MAX_BACKENDS_PER_SVC + 1),
			 LB_EINVAL);
	lb_sched_free(&s); /* freeing an empty set is fine */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sched_names_round_trip_in_any_case),
		cmocka_unit_test(test_sched_validator_rejects_an_unknown_scheduler),
		cmocka_unit_test(test_sched_rr_takes_each_backend_in_turn_and_skips_weight_0),
		cmocka_unit_test(test_sched_rr_keeps_its_place_when_the_set_shrinks),
		cmocka_unit_test(test_sched_wrr_is_ipvs_interleaved_sequence),
		cmocka_unit_test(test_sched_wrr_steps_by_the_gcd_of_weights),
		cmocka_unit_test(test_sched_wrr_shares_are_exactly_the_weights_over_a_cycle),
		cmocka_unit_test(test_sched_wrr_restarts_when_the_service_changes),
		cmocka_unit_test(test_sched_overheads_are_ipvs_formulas),
		cmocka_unit_test(test_sched_active_states_are_ipvs_ones),
		cmocka_unit_test(test_sched_lc_takes_the_least_loaded_ignoring_weight),
		cmocka_unit_test(test_sched_wlc_divides_overhead_by_weight),
		cmocka_unit_test(test_sched_sed_and_nq_differ_on_idle_servers),
		cmocka_unit_test(test_sched_least_filling_a_cluster_evens_it_out),
		cmocka_unit_test(test_sched_hash_is_the_kernels_hash_32),
		cmocka_unit_test(test_sched_sh_fills_buckets_by_weight),
		cmocka_unit_test(test_sched_sh_keeps_a_client_on_one_backend_and_dh_a_vip),
		cmocka_unit_test(test_sched_hash_tables_grow_past_256_backends),
		cmocka_unit_test(test_sched_same_backends_same_answers_on_every_box),
		cmocka_unit_test(test_sched_every_scheduler_answers_none_without_backends),
		cmocka_unit_test(test_sched_build_rejects_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
