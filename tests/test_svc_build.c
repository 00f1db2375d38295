/*
 * test_svc_build.c - unit tests for dp/tables/svc_build.c: the builder thread's
 * job list, its coalescing and its calling off of builds a newer spec made moot.
 *
 * A real builder thread and real builds (lb_svc_build: malloc and the Maglev
 * table), no EAL: the builder touches no shared table. The services are big
 * (M = LB_MAGLEV_M_MAX, 1000 backends: some 20 ms a build here, longer under
 * ASan), so a spec submitted right after the builder picked a job up reaches it
 * long before its last check. A test thread held off its CPU for longer
 * than that would see the build finish instead: the scenarios that need the
 * call-off to land say so and are run again (TRIES times) before failing. Every
 * wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "lb_error.h"
#include "lb_model.h"
#include "lb_svc_json.h"
#include "service.h"
#include "svc_build.h"

#define SEED 0x5eed5eedULL
#define N_BACKENDS 1000
#define WAIT_MS 20000
#define TRIES 5

/* The test service with backend 0 at weight w0 (the rest at 1). */
static void
make_spec(uint32_t w0, struct lb_svc_spec *spec)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:i}", "name", "hot", "vip", "198.18.0.100",
			      "port", 80, "protocol", "tcp", "maglev_size", LB_MAGLEV_M_MAX);
	json_t *bs = json_array();
	char addr[32], err[256];

	for (uint32_t i = 0; i < N_BACKENDS; i++) {
		snprintf(addr, sizeof(addr), "198.19.%u.%u", 1 + i / 250, 1 + i % 250);
		json_array_append_new(bs, json_pack("{s:s, s:i, s:i}", "address", addr, "port",
						    8080, "weight", i == 0 ? (int)w0 : 1));
	}
	json_object_set_new(j, "backends", bs);
	if (lb_svc_spec_from_json(j, spec, err, sizeof(err)) != 0)
		fail_msg("spec: %s", err);
	json_decref(j);
}

/* The digest a build of that spec gets on its own (table and backends). */
static uint64_t
digest_of(uint32_t w0)
{
	struct lb_svc_spec spec;
	bool cached;
	int rc = 0;
	char err[256];

	make_spec(w0, &spec);
	struct lb_svc *svc = lb_svc_build(&spec, SEED, NULL, NULL, &cached, &rc, err, sizeof(err));
	assert_non_null(svc);
	uint64_t d = svc->digest;
	lb_svc_discard(svc);
	lb_svc_spec_free(&spec);
	return d;
}

static void
sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

/* Specs are made before the wait for the builder, so a submission follows the
 * start of a build within microseconds. */
static void
submit(struct lb_svcb *b, struct lb_svc_spec *spec, void *tag)
{
	bool replaced;

	assert_int_equal(lb_svcb_submit(b, spec, tag, &replaced), 0);
	assert_false(replaced);
}

static void
wait_building(struct lb_svcb *b)
{
	for (int i = 0; i < WAIT_MS * 10 && !lb_svcb_building(b); i++)
		sleep_us(100);
	assert_true(lb_svcb_building(b));
}

/* Until the builder holds no job (every one submitted is done). */
static void
wait_idle(struct lb_svcb *b)
{
	for (int i = 0; i < WAIT_MS * 10 && lb_svcb_building(b); i++)
		sleep_us(100);
	assert_false(lb_svcb_building(b));
}

/* A new builder building the spec with backend 0 at 7 (tag t1); the spec at 8
 * (tag t2) submitted as soon as that build started. */
static struct lb_svcb *
newer_spec_during_build(int *t1, int *t2)
{
	char err[256];
	struct lb_svcb *b = lb_svcb_create(SEED, 0, 10, err, sizeof(err));
	struct lb_svc_spec s1, s2;

	assert_non_null(b);
	make_spec(7, &s1);
	make_spec(8, &s2);
	submit(b, &s1, t1);
	wait_building(b);
	submit(b, &s2, t2);
	return b;
}

static struct lb_svcb_job *
wait_done(struct lb_svcb *b)
{
	struct lb_svcb_job *j = NULL;

	for (int i = 0; i < WAIT_MS * 10 && (j = lb_svcb_done(b)) == NULL; i++)
		sleep_us(100);
	assert_non_null(j);
	return j;
}

/* Job j: built from the spec with backend 0 at w0, having called off
 * n_cancelled builds, answering tags[0..n_tags) in that order. Frees it. */
static void
check_job(struct lb_svcb_job *j, uint32_t w0, uint32_t n_cancelled, void *const *tags,
	  uint32_t n_tags)
{
	assert_non_null(j->svc);
	assert_int_equal(j->n_cancelled, n_cancelled);
	assert_int_equal(j->n_tags, n_tags);
	for (uint32_t i = 0; i < n_tags; i++)
		assert_ptr_equal(j->tags[i], tags[i]);
	assert_true(j->svc->digest == digest_of(w0)); /* the digest leaves out VIP and port */
	lb_svcb_job_free(j);
}

static void
expect_done(struct lb_svcb *b, uint32_t w0, uint32_t n_cancelled, void *const *tags,
	    uint32_t n_tags)
{
	check_job(wait_done(b), w0, n_cancelled, tags, n_tags);
}

/* The call-off came too late (the build was past its last check): take back and free
 * whatever is still in the builder. Returns false for the caller to retry. */
static bool
too_late(struct lb_svcb *b, struct lb_svcb_job *j)
{
	lb_svcb_job_free(j);
	while (lb_svcb_pending(b) > 0)
		lb_svcb_job_free(wait_done(b));
	assert_null(lb_svcb_destroy(b));
	return false;
}

static void
retry(bool (*scenario)(void))
{
	for (int i = 0; i < TRIES; i++)
		if (scenario())
			return;
	fail_msg("no call-off showed in %d tries (each time the build came back whole)", TRIES);
}

/*
 * A spec that arrives while an older one of the same service is being built calls
 * that build off: one job comes back, built from the newer spec, answering both
 * submissions oldest first.
 */
static bool
newer_spec_calls_off_the_build(void)
{
	int t1, t2;
	struct lb_svcb *b = newer_spec_during_build(&t1, &t2);
	struct lb_svcb_job *j = wait_done(b);
	if (j->n_cancelled == 0 && j->n_tags == 1)
		return too_late(b, j);
	check_job(j, 8, 1, (void *[]){&t1, &t2}, 2);
	assert_null(lb_svcb_done(b));
	assert_int_equal(lb_svcb_pending(b), 0);
	assert_null(lb_svcb_destroy(b));
	return true;
}

static void
test_svc_build_newer_spec_calls_off_the_build(void **state)
{
	(void)state;
	retry(newer_spec_calls_off_the_build);
}

/*
 * The job that called a build off runs to its end even when a third spec comes
 * during its build: a stream of updates faster than builds still publishes.
 */
static bool
called_off_once_only(void)
{
	struct lb_svc_spec s3;
	struct lb_svcb_job *j = NULL;
	int t1, t2, t3;

	make_spec(9, &s3);
	struct lb_svcb *b = newer_spec_during_build(&t1, &t2);
	/* The first build ends called off and hands its tags to the second, which the
	 * builder takes up in the same step: one job left, and building. */
	for (int i = 0; i < WAIT_MS * 10 && lb_svcb_pending(b) != 1; i++) {
		if ((j = lb_svcb_done(b)) != NULL)
			return too_late(b, j); /* the first build came back whole */
		sleep_us(100);
	}
	assert_int_equal(lb_svcb_pending(b), 1);
	submit(b, &s3, &t3);
	expect_done(b, 8, 1, (void *[]){&t1, &t2}, 2);
	expect_done(b, 9, 0, (void *[]){&t3}, 1);
	assert_null(lb_svcb_destroy(b));
	return true;
}

static void
test_svc_build_the_job_that_called_off_is_not_called_off(void **state)
{
	(void)state;
	retry(called_off_once_only);
}

/*
 * A finished build whose successor was called off is still published: A done
 * (not yet taken), B started, C calls B off. A comes back built, then C, which
 * answers for B too.
 */
static bool
finished_build_survives_a_called_off_successor(void)
{
	char err[256];
	struct lb_svcb *b = lb_svcb_create(SEED, 0, 10, err, sizeof(err));
	struct lb_svc_spec s1, s2, s3;
	int t1, t2, t3;

	assert_non_null(b);
	make_spec(7, &s1);
	make_spec(8, &s2);
	make_spec(9, &s3);
	submit(b, &s1, &t1);
	wait_building(b);
	wait_idle(b); /* A done; not taken back yet */
	submit(b, &s2, &t2);
	wait_building(b);
	submit(b, &s3, &t3); /* calls B off */
	wait_idle(b); /* B ended, C built: all three done, none taken back */
	struct lb_svcb_job *j = wait_done(b);
	if (j->n_tags == 3 && j->n_cancelled == 0) /* B ended whole: A, B overtaken by C */
		return too_late(b, j);
	check_job(j, 7, 0, (void *[]){&t1}, 1);
	check_job(wait_done(b), 9, 1, (void *[]){&t2, &t3}, 2);
	assert_null(lb_svcb_destroy(b));
	return true;
}

static void
test_svc_build_finished_build_survives_a_called_off_successor(void **state)
{
	(void)state;
	retry(finished_build_survives_a_called_off_successor);
}

/* A build called off and the one that called it off, both finished before the
 * control thread looks: one job, counting the call-off. */
static bool
call_off_counted_when_both_are_done(void)
{
	int t1, t2;
	struct lb_svcb *b = newer_spec_during_build(&t1, &t2);

	wait_idle(b); /* both done */
	struct lb_svcb_job *j = wait_done(b);
	if (j->n_cancelled == 0 && j->n_tags == 1)
		return too_late(b, j);
	check_job(j, 8, 1, (void *[]){&t1, &t2}, 2);
	assert_null(lb_svcb_destroy(b));
	return true;
}

static void
test_svc_build_call_off_counted_when_both_are_done(void **state)
{
	(void)state;
	retry(call_off_counted_when_both_are_done);
}

/* Another service's spec calls nothing off; each job comes back on its own. */
static void
test_svc_build_other_service_calls_nothing_off(void **state)
{
	char err[256];
	struct lb_svcb *b = lb_svcb_create(SEED, 0, 10, err, sizeof(err));
	struct lb_svc_spec s1, other;
	int t1, t2;
	(void)state;

	assert_non_null(b);
	make_spec(7, &s1);
	make_spec(8, &other);
	other.port = 81;
	submit(b, &s1, &t1);
	wait_building(b);
	submit(b, &other, &t2);
	expect_done(b, 7, 0, (void *[]){&t1}, 1);
	expect_done(b, 8, 0, (void *[]){&t2}, 1);
	assert_null(lb_svcb_destroy(b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svc_build_newer_spec_calls_off_the_build),
		cmocka_unit_test(test_svc_build_the_job_that_called_off_is_not_called_off),
		cmocka_unit_test(test_svc_build_finished_build_survives_a_called_off_successor),
		cmocka_unit_test(test_svc_build_call_off_counted_when_both_are_done),
		cmocka_unit_test(test_svc_build_other_service_calls_nothing_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
