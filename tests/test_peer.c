/*
 * test_peer.c - unit tests for dp/tables/peer.c, the flow sync peer table: both
 * indexes, refresh in place, re-indexing, SNAT port reuse, expiry, full buckets,
 * and a reader thread racing the writer (a lookup returns a whole record of the
 * key asked for, or nothing). Pure C, no EAL; the ms clock is a parameter.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "conntrack.h"
#include "lb_addr.h"
#include "lb_model.h"
#include "peer.h"

static void
rec(struct lb_sync_rec *r, uint32_t client, uint16_t lport)
{
	memset(r, 0, sizeof(*r));
	r->family = LB_AF_INET;
	r->proto = LB_PROTO_TCP;
	r->mode = LB_MODE_FNAT;
	r->state = LB_CT_TCP_ESTABLISHED;
	r->vip[0] = 198, r->vip[1] = 18, r->vip[3] = 100;
	r->client[0] = 10, r->client[1] = (uint8_t)(client >> 16), r->client[2] = (uint8_t)(client >> 8),
	r->client[3] = (uint8_t)client;
	r->backend[0] = 198, r->backend[1] = 19, r->backend[3] = 10;
	r->local[0] = 198, r->local[1] = 19, r->local[3] = 50;
	r->vport = 80;
	r->cport = (uint16_t)(1000 + client);
	r->bport = 8080;
	r->lport = lport;
	r->timeout_ms = 1000;
	r->seq_client = client * 3;
}

static bool
fwd(const struct lb_peer_table *t, const struct lb_sync_rec *k, uint32_t now, struct lb_sync_rec *out)
{
	return lb_peer_lookup_fwd(t, k->family, k->proto, k->vip, k->vport, k->client, k->cport, now, out);
}

static bool
rev(const struct lb_peer_table *t, const struct lb_sync_rec *k, uint32_t now, struct lb_sync_rec *out)
{
	return lb_peer_lookup_rev(t, k->family, k->proto, k->backend, k->bport, k->local, k->lport, now,
				  out);
}

static void
test_both_indexes_refresh_and_expiry(void **state)
{
	(void)state;
	struct lb_peer_table *t = lb_peer_create(64, 7);
	struct lb_sync_rec a, b, out;

	assert_non_null(t);
	assert_null(lb_peer_create(100, 7)); /* not a power of two */
	rec(&a, 1, 5000);
	assert_false(fwd(t, &a, 0, &out));
	assert_int_equal(lb_peer_upsert(t, &a, 2, 0, false), 0);
	assert_int_equal(lb_peer_count(t), 1);
	assert_true(fwd(t, &a, 10, &out));
	assert_memory_equal(&out, &a, sizeof(a));
	assert_true(rev(t, &a, 10, &out));
	assert_memory_equal(&out, &a, sizeof(a));
	/* another client, another port: a miss */
	rec(&b, 2, 5001);
	assert_false(fwd(t, &b, 10, &out));
	assert_false(rev(t, &b, 10, &out));
	/* a state change refreshes in place */
	a.state = LB_CT_TCP_CLOSING;
	a.timeout_ms = 5000;
	assert_int_equal(lb_peer_upsert(t, &a, 2, 900, false), 0);
	assert_int_equal(lb_peer_count(t), 1);
	assert_true(fwd(t, &a, 2000, &out));
	assert_int_equal(out.state, LB_CT_TCP_CLOSING);
	/* expired: lookups miss at once, the expiry walk frees it */
	assert_false(fwd(t, &a, 5900, &out));
	assert_false(rev(t, &a, 5900, &out));
	assert_int_equal(lb_peer_expire(t, 5900, 64), 1);
	assert_int_equal(lb_peer_count(t), 0);
	/* entries on this box's own SNAT addresses are counted (workers skip a check at 0) */
	assert_int_equal(lb_peer_own_count(t), 0);
	assert_int_equal(lb_peer_upsert(t, &b, 2, 6000, true), 0);
	assert_int_equal(lb_peer_own_count(t), 1);
	assert_int_equal(lb_peer_upsert(t, &b, 2, 6000, false), 0); /* refreshed as not own */
	assert_int_equal(lb_peer_own_count(t), 0);
	assert_int_equal(lb_peer_upsert(t, &b, 2, 6000, true), 0);
	assert_int_equal(lb_peer_expire(t, 8000, 64), 1);
	assert_int_equal(lb_peer_own_count(t), 0);
	lb_peer_destroy(t);
}

static void
test_reindex_and_port_reuse(void **state)
{
	(void)state;
	struct lb_peer_table *t = lb_peer_create(64, 9);
	struct lb_sync_rec a, old, c, out;

	rec(&a, 1, 5000);
	assert_int_equal(lb_peer_upsert(t, &a, 2, 0, false), 0);
	/* the same client now through another SNAT port: the old reverse key goes */
	old = a;
	a.lport = 6000;
	assert_int_equal(lb_peer_upsert(t, &a, 2, 0, false), 0);
	assert_int_equal(lb_peer_count(t), 1);
	assert_false(rev(t, &old, 1, &out));
	assert_true(rev(t, &a, 1, &out));
	assert_int_equal(out.lport, 6000);
	/* the sender reused port 6000 for another client: the old flow is over */
	rec(&c, 3, 6000);
	assert_int_equal(lb_peer_upsert(t, &c, 2, 0, false), 0);
	assert_int_equal(lb_peer_count(t), 1);
	assert_false(fwd(t, &a, 1, &out));
	assert_true(rev(t, &c, 1, &out));
	assert_memory_equal(out.client, c.client, 16);
	lb_peer_destroy(t);
}

static void
test_full_table(void **state)
{
	(void)state;
	struct lb_peer_table *t = lb_peer_create(64, 11);
	struct lb_sync_rec r, out;
	unsigned ok = 0, refused = 0;

	for (uint32_t i = 0; i < 200; i++) {
		rec(&r, i, (uint16_t)(2000 + i));
		if (lb_peer_upsert(t, &r, 2, 0, false) == 0)
			ok++;
		else
			refused++;
	}
	assert_int_equal(ok, lb_peer_count(t));
	assert_true(ok <= 64);
	assert_true(refused >= 136);
	/* every stored one is found both ways */
	unsigned found = 0;
	for (uint32_t i = 0; i < 200; i++) {
		rec(&r, i, (uint16_t)(2000 + i));
		bool f = fwd(t, &r, 1, &out);
		assert_int_equal(f, rev(t, &r, 1, &out));
		found += f;
	}
	assert_int_equal(found, ok);
	/* once they expire, new ones fit again */
	rec(&r, 999, 9999);
	assert_int_equal(lb_peer_upsert(t, &r, 2, 5000, false), 0);
	lb_peer_destroy(t);
}

/* ---- a reader racing the writer ----------------------------------------------------- */

#define N_KEYS 16

struct race {
	struct lb_peer_table *t;
	volatile bool stop;
	uint64_t lookups, hits, bad;
};

static void *
reader(void *arg)
{
	struct race *rc = arg;
	struct lb_sync_rec k, out;

	for (uint32_t i = 0; !rc->stop && i < 50000000; i++) {
		rec(&k, i % N_KEYS, 0);
		if (fwd(rc->t, &k, 1, &out)) {
			rc->hits++;
			/* every record written for client c has lport = c * 100 + n, seq = c * 3 */
			if (memcmp(out.client, k.client, 16) != 0 || out.lport / 100 != i % N_KEYS ||
			    out.seq_client != (i % N_KEYS) * 3)
				rc->bad++;
		}
		rc->lookups++;
	}
	return NULL;
}

static void
test_reader_races_writer(void **state)
{
	(void)state;
	struct race rc = {.t = lb_peer_create(64, 13)};
	pthread_t th;
	struct timespec t0, t1;

	assert_int_equal(pthread_create(&th, NULL, reader, &rc), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t n = 0; n < 2000000; n++) {
		struct lb_sync_rec r;
		uint32_t c = n % N_KEYS;
		rec(&r, c, (uint16_t)(c * 100 + (n / N_KEYS) % 50));
		lb_peer_upsert(rc.t, &r, 2, 0, false);
		if (n % 7 == 0)
			lb_peer_expire(rc.t, 2000, 8); /* everything is expired at 2000 */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= 2)
			break;
	}
	rc.stop = true;
	pthread_join(th, NULL);
	printf("# %llu lookups, %llu hits, %llu inconsistent\n", (unsigned long long)rc.lookups,
	       (unsigned long long)rc.hits, (unsigned long long)rc.bad);
	assert_int_equal(rc.bad, 0);
	lb_peer_destroy(rc.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_indexes_refresh_and_expiry),
		cmocka_unit_test(test_reindex_and_port_reuse),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_reader_races_writer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
