/*
 * test_service_ids.c - service and backend ids survive a restart of the dp
 * (dp/tables/service_ids.c through lb_svcs_create / lb_svcs_upsert).
 *
 * In process under EAL --no-huge (rte_hash needs it), no ports, no workers. A
 * "restart" is lb_svcs_destroy() then lb_svcs_create() over the same id
 * directory memory, which is what dp/control/state.c hands the next process
 * (dp->svc_dir) when its state is compatible (dp->svc_dir_adopt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dp.h"
#include "lb_error.h"
#include "neigh.h"
#include "service.h"

#define MAX_SVCS 16
#define MAX_REALS 64

static struct lb_dp dp;
static void *dir;
static size_t dir_len;

/* Backend n: 198.19.0.n:8080. */
static struct lb_backend_spec
be(unsigned n)
{
	struct lb_backend_spec b = {.port = 8080, .weight = 1, .state = LB_BACKEND_ACTIVE};

	b.addr.family = LB_AF_INET;
	b.addr.bytes[0] = 198;
	b.addr.bytes[1] = 19;
	b.addr.bytes[3] = (uint8_t)n;
	return b;
}

/* Upsert service 198.18.0.v:80/tcp with backends n[0..k); returns its id. */
static int
upsert(struct lb_services *s, unsigned v, const unsigned *n, unsigned k)
{
	struct lb_svc_spec sp;
	struct lb_backend_spec b[8];
	char err[256] = "";

	lb_svc_spec_init(&sp);
	snprintf(sp.name, sizeof(sp.name), "svc%u", v);
	sp.vip.family = LB_AF_INET;
	sp.vip.bytes[0] = 198;
	sp.vip.bytes[1] = 18;
	sp.vip.bytes[3] = (uint8_t)v;
	sp.port = 80;
	sp.proto = LB_PROTO_TCP;
	for (unsigned i = 0; i < k; i++)
		b[i] = be(n[i]);
	sp.n_backends = k;
	sp.backends = b;
	int id = lb_svcs_upsert(s, &sp, err, sizeof(err));
	if (id < 0)
		fail_msg("upsert svc%u: %s", v, err);
	return id;
}

/* The real id of backend n in service id (its backends are sorted by address). */
static uint32_t
real_of(struct lb_services *s, int id, unsigned n)
{
	const struct lb_svc *svc = lb_svcs_at(s, (uint32_t)id);

	assert_non_null(svc);
	for (uint32_t i = 0; i < svc->n_backends; i++)
		if (svc->spec.backends[i].addr.bytes[3] == n)
			return svc->real_ids[i];
	fail_msg("backend %u not in service %d", n, id);
	return 0;
}

static struct lb_services *
boot(bool adopt, uint32_t hold_ms)
{
	char err[256] = "";

	dp.svc_dir = dir;
	dp.svc_dir_len = dir_len;
	dp.svc_dir_adopt = adopt;
	dp.adopt_hold_ms = hold_ms;
	struct lb_services *s = lb_svcs_create(&dp, MAX_SVCS, MAX_REALS, err, sizeof(err));
	if (s == NULL)
		fail_msg("lb_svcs_create: %s", err);
	return s;
}

static const unsigned b12[] = {1, 2}, b13[] = {1, 3}, b2[] = {2}, b24[] = {2, 4}, b5[] = {5};

static void
test_ids_come_back_to_the_same_keys_after_a_restart(void **st)
{
	(void)st;
	struct lb_services *s = boot(false, 0);
	int a = upsert(s, 1, b12, 2), b = upsert(s, 2, b13, 2), c = upsert(s, 3, b2, 1);
	uint32_t a1 = real_of(s, a, 1), a2 = real_of(s, a, 2), c2 = real_of(s, c, 2);
	uint32_t b1 = real_of(s, b, 1), b3 = real_of(s, b, 3);
	lb_svcs_destroy(s);

	/* The next process: a new key first, then the old ones in another order. */
	s = boot(true, 3600000);
	int d = upsert(s, 4, b5, 1);
	assert_true(d != a && d != b && d != c);
	uint32_t d5 = real_of(s, d, 5);
	assert_true(d5 != a1 && d5 != a2 && d5 != c2 && d5 != b1 && d5 != b3);
	assert_int_equal(upsert(s, 3, b2, 1), c);
	assert_int_equal(real_of(s, c, 2), c2);
	/* A's backend 1 did not come back, 4 is new: 2 keeps its id, 4 gets a fresh one. */
	assert_int_equal(upsert(s, 1, b24, 2), a);
	assert_int_equal(real_of(s, a, 2), a2);
	uint32_t a4 = real_of(s, a, 4);
	assert_true(a4 != a1 && a4 != b1 && a4 != b3 && a4 != c2 && a4 != d5);
	lb_svcs_destroy(s);

	/* Once more: B, never sent in between, is still held for its key. */
	s = boot(true, 3600000);
	assert_int_equal(upsert(s, 2, b13, 2), b);
	assert_int_equal(real_of(s, b, 1), b1);
	assert_int_equal(real_of(s, b, 3), b3);
	assert_int_equal(upsert(s, 4, b5, 1), d);
	assert_int_equal(real_of(s, d, 5), d5);
	lb_svcs_destroy(s);
}

static void
test_reservations_end_after_the_hold_time(void **st)
{
	(void)st;
	struct lb_services *s = boot(false, 0);
	int a = upsert(s, 1, b12, 2);
	assert_int_equal(a, 0); /* low ids first */
	lb_svcs_destroy(s);

	s = boot(true, 0); /* held for 0 ms: the first reclaim ends it */
	lb_svcs_reclaim(s);
	assert_int_equal(upsert(s, 7, b5, 1), a); /* another key may take the id now */
	lb_svcs_destroy(s);
}

static void
test_a_start_without_adopted_state_forgets_the_ids(void **st)
{
	(void)st;
	struct lb_services *s = boot(false, 0);
	upsert(s, 1, b12, 2);
	int b = upsert(s, 2, b13, 2);
	assert_int_equal(b, 1);
	lb_svcs_destroy(s);

	s = boot(false, 0); /* incompatible state: the directory starts empty */
	assert_int_equal(upsert(s, 2, b13, 2), 0);
	lb_svcs_destroy(s);
}

static void
test_ids_run_out_before_the_hold_time_ends(void **st)
{
	(void)st;
	struct lb_services *s = boot(false, 0);
	for (unsigned v = 1; v <= MAX_SVCS; v++)
		upsert(s, v, b5, 1);
	lb_svcs_destroy(s);

	/* Every id is held; a new key ends the reservations rather than fail. */
	s = boot(true, 3600000);
	int id = upsert(s, 100, b5, 1);
	assert_true(id >= 0 && id < MAX_SVCS);
	lb_svcs_destroy(s);
}

int
main(void)
{
	char prefix[64], err[256] = "";

	snprintf(prefix, sizeof(prefix), "edgelb-test-ids-%d", (int)getpid());
	char *eal[] = {"test_service_ids", "--no-huge", "--no-pci", "--no-shconf", "-m", "64",
		       "--no-telemetry", "--file-prefix", prefix, "-l", "0",
		       "--log-level", "*:warning", NULL};
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "test_service_ids: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	lb_dp_conf_defaults(&dp.conf);
	dp.n_workers = 1;
	dp.qsbr = rte_zmalloc("qsbr", rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE);
	if (dp.qsbr == NULL || rte_rcu_qsbr_init(dp.qsbr, 1) != 0)
		return 1;
	dp.neigh = lb_neigh_create(&dp, 1024, err, sizeof(err));
	dir_len = lb_svcs_dir_size(MAX_SVCS, MAX_REALS);
	dir = calloc(1, dir_len);
	if (dp.neigh == NULL || dir == NULL) {
		fprintf(stderr, "test_service_ids: setup: %s\n", err);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_come_back_to_the_same_keys_after_a_restart),
		cmocka_unit_test(test_reservations_end_after_the_hold_time),
		cmocka_unit_test(test_a_start_without_adopted_state_forgets_the_ids),
		cmocka_unit_test(test_ids_run_out_before_the_hold_time_ends),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(dir);
	return rc;
}
