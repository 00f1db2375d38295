/*
 * test_state_hdr.c - unit tests for dp/lib/state_hdr.c (is a persistent state
 * region left by the previous process compatible?) and lb_ct_attach() (re-attach
 * a conntrack table mapped at another address).
 *
 * Pure C, no EAL: regions are malloc'd blocks; "another mapping" is a copy of the
 * block at another address, which is what a restarted process sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conntrack.h"
#include "lb_error.h"
#include "state_hdr.h"

static void
hdr_of(struct lb_state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = LB_STATE_MAGIC;
	h->version = LB_STATE_VERSION;
	h->kind = LB_STATE_CT;
	h->hdr_size = sizeof(*h);
	h->conn_size = sizeof(struct lb_conn);
	h->ct_layout = LB_CT_LAYOUT_VERSION;
	h->dir_layout = 1;
	h->worker = 1;
	h->n_workers = 2;
	h->capacity = 65536;
	h->max_services = 16384;
	h->max_backends = 65536;
	h->snat_lo = 1024;
	h->snat_hi = 65535;
	h->n_local = 2;
	h->local[0].family = 4;
	h->local[0].bytes[0] = 198;
	h->local[1].family = 6;
	h->local[1].bytes[0] = 0x20;
	h->hash_seed = 42;
	h->data_size = 4 << 20;
	snprintf(h->boot_id, sizeof(h->boot_id), "0b1c2d3e-0000-4000-8000-000000000001\n");
}

/* The check of have against want fails and why names what changed. */
static void
expect_mismatch(const struct lb_state_hdr *have, const char *words)
{
	struct lb_state_hdr want;
	char why[256] = "";

	hdr_of(&want);
	assert_int_equal(lb_state_hdr_check(have, &want, why, sizeof(why)), LB_EINVAL);
	if (strstr(why, words) == NULL)
		fail_msg("reason '%s' does not say '%s'", why, words);
}

static void
test_state_same_build_and_config_is_compatible(void **st)
{
	struct lb_state_hdr have, want;
	char why[256] = "";

	(void)st;
	hdr_of(&have);
	hdr_of(&want);
	/* written by a process that stopped cleanly, at another time: still fine */
	have.clean = 1;
	have.clock_ms = 123456789;
	assert_int_equal(lb_state_hdr_check(&have, &want, why, sizeof(why)), 0);
}

static void
test_state_new_or_foreign_file_starts_empty(void **st)
{
	struct lb_state_hdr have;

	(void)st;
	memset(&have, 0, sizeof(have)); /* a fresh zero-filled file */
	expect_mismatch(&have, "no state header");
	hdr_of(&have);
	have.magic ^= 1;
	expect_mismatch(&have, "no state header");
}

static void
test_state_incompatible_layout_says_what_changed(void **st)
{
	struct lb_state_hdr h;

	(void)st;
	hdr_of(&h);
	h.version = LB_STATE_VERSION + 1;
	expect_mismatch(&h, "state layout version");
	hdr_of(&h);
	h.conn_size = 128;
	expect_mismatch(&h, "connection entry size 128, now 64");
	hdr_of(&h);
	h.ct_layout = LB_CT_LAYOUT_VERSION + 1;
	expect_mismatch(&h, "conntrack layout version");
	hdr_of(&h);
	h.dir_layout = 2;
	expect_mismatch(&h, "id directory layout");
	hdr_of(&h);
	h.hdr_size = 8;
	expect_mismatch(&h, "state header size");
}

static void
test_state_changed_config_starts_empty(void **st)
{
	struct lb_state_hdr h;

	(void)st;
	hdr_of(&h);
	h.capacity = 32768;
	expect_mismatch(&h, "conntrack capacity 32768, now 65536");
	hdr_of(&h);
	h.n_workers = 1;
	expect_mismatch(&h, "worker count 1, now 2");
	hdr_of(&h);
	h.worker = 0;
	expect_mismatch(&h, "worker 0, now 1");
	hdr_of(&h);
	h.snat_lo = 2048;
	expect_mismatch(&h, "snat_ports low");
	hdr_of(&h);
	h.snat_hi = 60000;
	expect_mismatch(&h, "snat_ports high");
	hdr_of(&h);
	h.hash_seed = 43;
	expect_mismatch(&h, "hash_seed");
	hdr_of(&h);
	h.max_services = 1;
	expect_mismatch(&h, "max_services");
	hdr_of(&h);
	h.max_backends = 1;
	expect_mismatch(&h, "max_backends");
	hdr_of(&h);
	h.kind = LB_STATE_SHARED;
	expect_mismatch(&h, "region kind");
	hdr_of(&h);
	h.data_size += 64;
	expect_mismatch(&h, "region size");
}

static void
test_state_local_addresses_must_be_the_same_in_the_same_order(void **st)
{
	struct lb_state_hdr h;

	(void)st;
	hdr_of(&h);
	h.n_local = 1;
	expect_mismatch(&h, "local address count 1, now 2");
	hdr_of(&h);
	h.local[1].bytes[15] = 1;
	expect_mismatch(&h, "local address 1 changed");
	hdr_of(&h);
	struct lb_addr a = h.local[0];
	h.local[0] = h.local[1];
	h.local[1] = a;
	expect_mismatch(&h, "local address 0 changed");
}

static void
test_state_written_before_a_reboot_starts_empty(void **st)
{
	struct lb_state_hdr h;

	(void)st;
	hdr_of(&h);
	h.boot_id[0] = 'f';
	expect_mismatch(&h, "reboot");
}

/* ---------------------------------------------------------------- lb_ct_attach */

static struct lb_ct_conf
ct_conf(uint32_t capacity, uint32_t est_ms)
{
	struct lb_ct_conf c;

	memset(&c, 0, sizeof(c));
	c.capacity = capacity;
	for (int s = 0; s < LB_CT_NSTATES; s++)
		c.timeout_ms[s] = 10000;
	c.timeout_ms[LB_CT_TCP_ESTABLISHED] = est_ms;
	c.rst_window = 65536;
	c.seed = 0xabcdef;
	return c;
}

static struct lb_conn
conn_of(uint32_t i)
{
	struct lb_conn c;

	memset(&c, 0, sizeof(c));
	c.client[0] = 10;
	c.client[3] = (uint8_t)i;
	c.backend[0] = 198;
	c.backend[3] = (uint8_t)(i % 3);
	c.client_port = (uint16_t)(1000 + i);
	c.backend_port = 8080;
	c.local_port = (uint16_t)(2000 + i);
	c.svc_id = i % 5;
	c.real_id = i;
	c.family = 4;
	c.proto = 6;
	c.state = LB_CT_TCP_ESTABLISHED;
	return c;
}

static struct lb_conn *
find(struct lb_ct *ct, const struct lb_conn *c)
{
	struct lb_ct_fwd_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.client, c->client, 16);
	k.client_port = c->client_port;
	k.svc_id = c->svc_id;
	return lb_ct_lookup_fwd(ct, &k, lb_ct_hash_fwd(&k, lb_ct_seed(ct)));
}

static void
test_ct_attach_keeps_entries_at_another_address(void **st)
{
	struct lb_ct_conf conf = ct_conf(64, 900000);
	size_t sz = lb_ct_mem_size(&conf);
	void *a = aligned_alloc(64, sz), *b = aligned_alloc(64, sz);
	struct lb_ct *ct;

	(void)st;
	assert_non_null(a);
	assert_non_null(b);
	ct = lb_ct_init(a, sz, &conf);
	assert_non_null(ct);
	for (uint32_t i = 0; i < 20; i++) {
		struct lb_conn c = conn_of(i);
		assert_non_null(lb_ct_insert(ct, &c, 5000));
	}
	memcpy(b, a, sz); /* the next process maps the same pages elsewhere */
	memset(a, 0x5a, sz);
	free(a);

	conf.seed = 1; /* a new random seed must not replace the table's own */
	conf.timeout_ms[LB_CT_TCP_ESTABLISHED] = 1000;
	ct = lb_ct_attach(b, sz, &conf);
	assert_non_null(ct);
	assert_int_equal(lb_ct_count(ct), 20);
	assert_int_equal(lb_ct_seed(ct), 0xabcdef);
	for (uint32_t i = 0; i < 20; i++) {
		struct lb_conn c = conn_of(i);
		struct lb_conn *e = find(ct, &c);
		assert_non_null(e);
		assert_int_equal(e->real_id, i);
		assert_int_equal(e->expire, 5000 + 900000); /* stamped by the old process */
	}
	/* Timeouts come from the new config: a refresh uses 1 s. */
	struct lb_conn c0 = conn_of(0);
	lb_ct_touch(ct, find(ct, &c0), 6000);
	assert_int_equal(find(ct, &c0)->expire, 7000);
	/* The free list still works: the table fills up to its capacity. */
	for (uint32_t i = 20; i < 64; i++) {
		struct lb_conn c = conn_of(i);
		assert_non_null(lb_ct_insert(ct, &c, 6000));
	}
	struct lb_conn extra = conn_of(200);
	assert_null(lb_ct_insert(ct, &extra, 6000));
	free(b);
}

static void
test_ct_attach_refuses_another_capacity_or_garbage(void **st)
{
	struct lb_ct_conf conf = ct_conf(64, 900000), big = ct_conf(128, 900000);
	size_t sz = lb_ct_mem_size(&big);
	void *a = aligned_alloc(64, sz);

	(void)st;
	assert_non_null(a);
	memset(a, 0, sz);
	assert_null(lb_ct_attach(a, sz, &conf)); /* zero-filled: a new file */
	assert_non_null(lb_ct_init(a, sz, &conf));
	assert_null(lb_ct_attach(a, sz, &big));  /* capacity changed */
	assert_null(lb_ct_attach(a, 64, &conf)); /* region too small */
	assert_null(lb_ct_attach((uint8_t *)a + 8, sz - 64, &conf)); /* misaligned */
	assert_non_null(lb_ct_attach(a, sz, &conf));
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_same_build_and_config_is_compatible),
		cmocka_unit_test(test_state_new_or_foreign_file_starts_empty),
		cmocka_unit_test(test_state_incompatible_layout_says_what_changed),
		cmocka_unit_test(test_state_changed_config_starts_empty),
		cmocka_unit_test(test_state_local_addresses_must_be_the_same_in_the_same_order),
		cmocka_unit_test(test_state_written_before_a_reboot_starts_empty),
		cmocka_unit_test(test_ct_attach_keeps_entries_at_another_address),
		cmocka_unit_test(test_ct_attach_refuses_another_capacity_or_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
