/*
 * test_exc_limit.c - unit tests for dp/lib/exc_limit.h: the exception path's token
 * bucket (burst, refill, long idle, a wrapping or backward clock, big rates) and its
 * classifier (which packets are BGP/BFD, which sources are on a subnet). Pure C: the
 * clock is whatever the test passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "exc_limit.h"

#define HZ 2000000000ULL /* a 2 GHz TSC */

/* Tokens taken at time now until one is refused. */
static uint64_t
drain(struct lb_exc_tb *b, uint64_t now)
{
	uint64_t n = 0;

	while (lb_exc_tb_take(b, now) && n < 10000000)
		n++;
	return n;
}

static void
test_tb_starts_full_with_exactly_burst(void **state)
{
	struct lb_exc_tb b;

	(void)state;
	lb_exc_tb_init(&b, 10000, 1000, HZ, 5);
	assert_int_equal(lb_exc_tb_tokens(&b, 5), 1000);
	assert_int_equal(drain(&b, 5), 1000);
	assert_false(lb_exc_tb_take(&b, 5));
	assert_int_equal(lb_exc_tb_tokens(&b, 5), 0);
}

static void
test_tb_refills_at_the_rate(void **state)
{
	struct lb_exc_tb b;
	uint64_t t = 1000;

	(void)state;
	lb_exc_tb_init(&b, 10000, 1000, HZ, t);
	assert_int_equal(drain(&b, t), 1000);
	/* one token per 1/10000 s = 200,000 ticks: not a tick before */
	assert_false(lb_exc_tb_take(&b, t + HZ / 10000 - 1));
	assert_true(lb_exc_tb_take(&b, t + HZ / 10000));
	assert_false(lb_exc_tb_take(&b, t + HZ / 10000));
	/* 50 ms later: 500 more */
	t += HZ / 10000 + HZ / 20;
	assert_int_equal(drain(&b, t), 500);
	/* a second of 1 us steps, a take at each: exactly the rate passes */
	uint64_t ok = 0;
	for (uint64_t i = 1; i <= 1000000; i++)
		ok += lb_exc_tb_take(&b, t + i * (HZ / 1000000));
	assert_int_equal(ok, 10000);
}

static void
test_tb_never_holds_more_than_burst(void **state)
{
	struct lb_exc_tb b;

	(void)state;
	lb_exc_tb_init(&b, 10000, 1000, HZ, 0);
	assert_int_equal(drain(&b, 0), 1000);
	/* an hour idle, a day idle, 2^62 ticks idle (73 years at 2 GHz): still burst */
	assert_int_equal(lb_exc_tb_tokens(&b, 3600 * HZ), 1000);
	assert_int_equal(drain(&b, 3600 * HZ), 1000);
	assert_int_equal(drain(&b, 3600 * HZ + 86400 * HZ), 1000);
	assert_int_equal(drain(&b, (1ULL << 62)), 1000);
	/* the largest settings: 100 Mpps, burst 1,000,000, a 5 GHz clock */
	lb_exc_tb_init(&b, 100000000, 1000000, 5000000000ULL, 0);
	assert_int_equal(drain(&b, 0), 1000000);
	assert_int_equal(lb_exc_tb_tokens(&b, (1ULL << 63) - 1), 1000000);
	assert_int_equal(lb_exc_tb_tokens(&b, (1ULL << 63) - 1 + 5000000000ULL / 100000000), 1000000);
}

static void
test_tb_across_a_wrap_of_the_clock(void **state)
{
	struct lb_exc_tb b;
	uint64_t t = UINT64_MAX - HZ / 1000; /* 1 ms before the counter wraps */

	(void)state;
	lb_exc_tb_init(&b, 10000, 1000, HZ, t);
	assert_int_equal(drain(&b, t), 1000);
	/* 2 ms later the clock reads a small number: 20 tokens, not a full bucket, not 0 */
	uint64_t after = t + 2 * (HZ / 1000); /* wraps */
	assert_true(after < t);
	assert_int_equal(drain(&b, after), 20);
	assert_int_equal(drain(&b, after + HZ / 100), 100);
}

static void
test_tb_clock_going_back_refills_nothing(void **state)
{
	struct lb_exc_tb b;
	uint64_t t = 10 * HZ;

	(void)state;
	lb_exc_tb_init(&b, 10000, 1000, HZ, t);
	assert_int_equal(drain(&b, t), 1000);
	/* another core's TSC a little behind: nothing, and the bucket keeps its time */
	assert_int_equal(drain(&b, t - 1000), 0);
	assert_int_equal(drain(&b, t - HZ), 0);
	assert_int_equal(drain(&b, t + HZ / 1000), 10);
}

static void
test_tb_rate_zero_is_no_limit(void **state)
{
	struct lb_exc_tb b;

	(void)state;
	lb_exc_tb_init(&b, 0, 1, HZ, 0);
	assert_int_equal(drain(&b, 0), 10000000);
	assert_int_equal(lb_exc_tb_tokens(&b, 0), UINT64_MAX);
}

static void
test_tb_rate_one_burst_one(void **state)
{
	struct lb_exc_tb b;

	(void)state;
	lb_exc_tb_init(&b, 1, 1, HZ, 0);
	assert_true(lb_exc_tb_take(&b, 0));
	assert_false(lb_exc_tb_take(&b, HZ - 1));
	assert_true(lb_exc_tb_take(&b, HZ));
	assert_false(lb_exc_tb_take(&b, HZ + 1));
	assert_int_equal(drain(&b, 100 * HZ), 1);
}

static void
test_routing_proto(void **state)
{
	(void)state;
	/* BGP: the peer connecting to the box, and the box's own connection's replies */
	assert_true(lb_exc_routing_proto(LB_IPPROTO_TCP, htons(40000), htons(179)));
	assert_true(lb_exc_routing_proto(LB_IPPROTO_TCP, htons(179), htons(40000)));
	/* BFD single hop and multihop control */
	assert_true(lb_exc_routing_proto(LB_IPPROTO_UDP, htons(49152), htons(3784)));
	assert_true(lb_exc_routing_proto(LB_IPPROTO_UDP, htons(49152), htons(4784)));
	/* not: ssh, UDP to 179, TCP to 3784, BFD echo, a UDP reply from 3784 */
	assert_false(lb_exc_routing_proto(LB_IPPROTO_TCP, htons(40000), htons(22)));
	assert_false(lb_exc_routing_proto(LB_IPPROTO_UDP, htons(40000), htons(179)));
	assert_false(lb_exc_routing_proto(LB_IPPROTO_TCP, htons(40000), htons(3784)));
	assert_false(lb_exc_routing_proto(LB_IPPROTO_UDP, htons(49152), htons(3785)));
	assert_false(lb_exc_routing_proto(LB_IPPROTO_UDP, htons(3784), htons(49152)));
	assert_false(lb_exc_routing_proto(1, 0, 0));
}

static void
test_in_subnet(void **state)
{
	struct lb_addr net, a6;
	uint8_t a[16] = {0};

	(void)state;
	assert_int_equal(lb_addr_parse("198.18.0.1", &net), 0);
	memcpy(a, (uint8_t[]){198, 18, 0, 254}, 4);
	assert_true(lb_exc_in_subnet(LB_AF_INET, a, &net, 24));
	assert_false(lb_exc_in_subnet(LB_AF_INET, a, &net, 32));
	assert_false(lb_exc_in_subnet(LB_AF_INET, a, &net, 25));
	assert_true(lb_exc_in_subnet(LB_AF_INET, a, &net, 0));
	a[2] = 1;
	assert_false(lb_exc_in_subnet(LB_AF_INET, a, &net, 24));
	assert_true(lb_exc_in_subnet(LB_AF_INET, a, &net, 23));
	/* the family must match */
	assert_false(lb_exc_in_subnet(LB_AF_INET6, a, &net, 0));
	assert_int_equal(lb_addr_parse("2001:db8:1::fe", &a6), 0);
	assert_int_equal(lb_addr_parse("2001:db8:1::2", &net), 0);
	assert_true(lb_exc_in_subnet(LB_AF_INET6, a6.bytes, &net, 64));
	assert_false(lb_exc_in_subnet(LB_AF_INET6, a6.bytes, &net, 127));
	assert_true(lb_exc_in_subnet(LB_AF_INET6, a6.bytes, &net, 120));
	assert_false(lb_exc_in_subnet(LB_AF_INET, a6.bytes, &net, 64));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tb_starts_full_with_exactly_burst),
		cmocka_unit_test(test_tb_refills_at_the_rate),
		cmocka_unit_test(test_tb_never_holds_more_than_burst),
		cmocka_unit_test(test_tb_across_a_wrap_of_the_clock),
		cmocka_unit_test(test_tb_clock_going_back_refills_nothing),
		cmocka_unit_test(test_tb_rate_zero_is_no_limit),
		cmocka_unit_test(test_tb_rate_one_burst_one),
		cmocka_unit_test(test_routing_proto),
		cmocka_unit_test(test_in_subnet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
