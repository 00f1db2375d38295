/*
 * test_conntrack.c - unit tests for dp/lib/conntrack.c.
 *
 * Pure C, no EAL: tables live in malloc'd or aligned memory, the clock is a plain
 * variable the tests advance, and packets are reduced to their TCP flag byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conntrack.h"
#include "lb_addr.h"
#include "lb_model.h"
#include "parse.h"

/* Timeouts chosen distinct so a test can tell which state's timeout was applied. */
#define T_SYN 1000u
#define T_EST 10000u
#define T_CLOSING 2000u
#define T_CLOSED 500u
#define T_UDP 3000u
#define T_UDP_STREAM 12000u
#define T_UNCONF 700u
#define RST_WIN 1000u

static struct lb_ct_conf
conf_of(uint32_t capacity)
{
	struct lb_ct_conf conf;

	memset(&conf, 0, sizeof(conf));
	conf.capacity = capacity;
	conf.timeout_ms[LB_CT_TCP_SYN] = T_SYN;
	conf.timeout_ms[LB_CT_TCP_ESTABLISHED] = T_EST;
	conf.timeout_ms[LB_CT_TCP_CLOSING] = T_CLOSING;
	conf.timeout_ms[LB_CT_TCP_CLOSED] = T_CLOSED;
	conf.timeout_ms[LB_CT_UDP] = T_UDP;
	conf.timeout_ms[LB_CT_UDP_STREAM] = T_UDP_STREAM;
	conf.timeout_ms[LB_CT_TCP_UNCONFIRMED] = T_UNCONF;
	conf.rst_window = RST_WIN;
	conf.seed = 0x1234567887654321ULL;
	return conf;
}

static struct lb_ct *
table(uint32_t capacity)
{
	struct lb_ct_conf conf = conf_of(capacity);
	struct lb_ct *ct = lb_ct_create(&conf);

	assert_non_null(ct);
	return ct;
}

/* Ports in the test source are host order; entries and keys hold network order. */
static uint16_t
net16(uint16_t v)
{
	return htons(v);
}

/*
 * Connection number n: distinct client, backend and local port for every n.
 * IPv4 addresses sit in bytes 0..3 like lb_addr; IPv6 fills all 16 bytes.
 */
static struct lb_conn
conn(uint32_t n, uint8_t mode, uint8_t family, uint8_t proto)
{
	struct lb_conn c;

	memset(&c, 0, sizeof(c));
	if (family == LB_AF_INET) {
		uint8_t cl[4] = {10, 1, (uint8_t)(n >> 8), (uint8_t)n};
		uint8_t be[4] = {192, 168, 7, (uint8_t)(1 + n % 200)};

		memcpy(c.client, cl, 4);
		memcpy(c.backend, be, 4);
	} else {
		uint8_t cl[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0,
				  0, 0, (uint8_t)(n >> 8), (uint8_t)n};
		uint8_t be[16] = {0xfd, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0,
				  0, 0, 0, (uint8_t)(1 + n % 200)};

		memcpy(c.client, cl, 16);
		memcpy(c.backend, be, 16);
	}
	c.svc_id = 3;
	c.real_id = 1 + n % 200;
	c.client_port = net16((uint16_t)(40000 + n));
	c.backend_port = net16(8080);
	c.local_idx = mode == LB_MODE_FNAT ? 2 : 0;
	c.local_port = mode == LB_MODE_FNAT ? net16((uint16_t)(1024 + n)) : 0;
	c.family = family;
	c.proto = proto;
	c.mode = mode;
	c.state = proto == LB_PROTO_TCP ? LB_CT_TCP_SYN : LB_CT_UDP;
	return c;
}

static struct lb_ct_fwd_key
fwd_key(const struct lb_conn *c)
{
	struct lb_ct_fwd_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.client, c->client, 16);
	k.client_port = c->client_port;
	k.svc_id = c->svc_id;
	return k;
}

/* The reverse key a reply packet yields: fnat fills the local side, dnat the client. */
static struct lb_ct_rev_key
rev_key(const struct lb_conn *c)
{
	struct lb_ct_rev_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.backend, c->backend, 16);
	k.backend_port = c->backend_port;
	k.mode = c->mode;
	k.proto = c->proto;
	if (c->mode == LB_MODE_FNAT) {
		k.local_idx = c->local_idx;
		k.local_port = c->local_port;
	} else {
		memcpy(k.client, c->client, 16);
		k.client_port = c->client_port;
	}
	return k;
}

static struct lb_conn *
find_fwd(struct lb_ct *ct, const struct lb_ct_fwd_key *k)
{
	uint32_t h = lb_ct_hash_fwd(k, lb_ct_seed(ct));

	lb_ct_prefetch_fwd(ct, h);
	return lb_ct_lookup_fwd(ct, k, h);
}

static struct lb_conn *
find_rev(struct lb_ct *ct, const struct lb_ct_rev_key *k)
{
	uint32_t h = lb_ct_hash_rev(k, lb_ct_seed(ct));

	lb_ct_prefetch_rev(ct, h);
	return lb_ct_lookup_rev(ct, k, h);
}

/* Both indexes lead to the same stored entry, or both miss. */
static void
assert_found(struct lb_ct *ct, const struct lb_conn *c, const struct lb_conn *stored)
{
	struct lb_ct_fwd_key fk = fwd_key(c);
	struct lb_ct_rev_key rk = rev_key(c);

	assert_ptr_equal(find_fwd(ct, &fk), stored);
	assert_ptr_equal(find_rev(ct, &rk), stored);
}

static void
assert_gone(struct lb_ct *ct, const struct lb_conn *c)
{
	struct lb_ct_fwd_key fk = fwd_key(c);
	struct lb_ct_rev_key rk = rev_key(c);

	assert_null(find_fwd(ct, &fk));
	assert_null(find_rev(ct, &rk));
}

/* ---- construction ---- */

static void
test_ct_init_rejects_capacity_zero(void **state)
{
	struct lb_ct_conf conf = conf_of(0);
	void *mem = aligned_alloc(64, 4096);

	(void)state;
	assert_non_null(mem);
	assert_int_equal(lb_ct_mem_size(&conf), 0);
	assert_null(lb_ct_init(mem, 4096, &conf));
	assert_null(lb_ct_create(&conf));
	free(mem);
}

static void
test_ct_init_rejects_short_or_misaligned_memory(void **state)
{
	struct lb_ct_conf conf = conf_of(8);
	size_t size = lb_ct_mem_size(&conf);
	uint8_t *mem;

	(void)state;
	assert_true(size > 0);
	assert_int_equal(size % 64, 0);
	mem = aligned_alloc(64, size + 64);
	assert_non_null(mem);
	assert_null(lb_ct_init(mem, size - 1, &conf));
	assert_null(lb_ct_init(mem + 8, size + 56, &conf));
	assert_null(lb_ct_init(NULL, size, &conf));
	assert_null(lb_ct_init(mem, size, NULL));
	free(mem);
}

static void
test_ct_init_rejects_timeout_beyond_clock_half_range(void **state)
{
	struct lb_ct_conf conf = conf_of(8);

	(void)state;
	conf.timeout_ms[LB_CT_UDP] = 0x80000000u;
	assert_int_equal(lb_ct_mem_size(&conf), 0);
	assert_null(lb_ct_create(&conf));
}

static void
test_ct_init_places_table_in_caller_memory(void **state)
{
	struct lb_ct_conf conf = conf_of(100);
	size_t size = lb_ct_mem_size(&conf);
	uint8_t *mem = aligned_alloc(64, size);
	struct lb_conn c = conn(1, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	struct lb_conn *e;
	struct lb_ct *ct;

	(void)state;
	assert_non_null(mem);
	/* At least the entries and two head arrays of >= capacity slots. */
	assert_true(size >= 100 * sizeof(struct lb_conn) + 2 * 128 * sizeof(uint32_t));
	ct = lb_ct_init(mem, size, &conf);
	assert_non_null(ct);
	assert_int_equal(lb_ct_capacity(ct), 100);
	assert_int_equal(lb_ct_count(ct), 0);
	assert_true(lb_ct_seed(ct) == conf.seed);

	e = lb_ct_insert(ct, &c, 0);
	assert_non_null(e);
	assert_true((uint8_t *)e >= mem && (uint8_t *)e + sizeof(*e) <= mem + size);
	assert_int_equal((uintptr_t)e % 64, 0);
	assert_found(ct, &c, e);
	lb_ct_destroy(ct); /* caller memory: must not be freed here */
	free(mem);
}

/* ---- lookups ---- */

struct family_mode {
	uint8_t mode;
	uint8_t family;
	uint8_t proto;
};

static void
test_ct_insert_is_found_forward_and_reverse_in_every_mode_and_family(void **state)
{
	static const struct family_mode cases[] = {
		{LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP},
		{LB_MODE_FNAT, LB_AF_INET6, LB_PROTO_TCP},
		{LB_MODE_DNAT, LB_AF_INET, LB_PROTO_TCP},
		{LB_MODE_DNAT, LB_AF_INET6, LB_PROTO_UDP},
		{LB_MODE_FNAT, LB_AF_INET, LB_PROTO_UDP},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lb_ct *ct = table(64);
		struct lb_conn c[20];
		struct lb_conn *e[20];

		for (uint32_t n = 0; n < 20; n++) {
			c[n] = conn(n, cases[i].mode, cases[i].family, cases[i].proto);
			e[n] = lb_ct_insert(ct, &c[n], 100);
			assert_non_null(e[n]);
			/* Stored copy carries the caller's fields and the computed expiry. */
			assert_memory_equal(e[n]->client, c[n].client, 16);
			assert_memory_equal(e[n]->backend, c[n].backend, 16);
			assert_int_equal(e[n]->real_id, c[n].real_id);
			assert_int_equal(e[n]->family, cases[i].family);
			assert_int_equal(e[n]->expire,
					 100 + (cases[i].proto == LB_PROTO_TCP ? T_SYN : T_UDP));
		}
		assert_int_equal(lb_ct_count(ct), 20);
		for (uint32_t n = 0; n < 20; n++)
			assert_found(ct, &c[n], e[n]);
		lb_ct_destroy(ct);
	}
}

static void
test_ct_same_client_in_two_services_are_two_flows(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn a = conn(1, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	struct lb_conn b = a;
	struct lb_conn *ea, *eb;

	(void)state;
	b.svc_id = 4;
	b.local_port = net16(2000);
	ea = lb_ct_insert(ct, &a, 0);
	eb = lb_ct_insert(ct, &b, 0);
	assert_non_null(ea);
	assert_non_null(eb);
	assert_found(ct, &a, ea);
	assert_found(ct, &b, eb);
	lb_ct_destroy(ct);
}

/*
 * Run at two capacities: 16, where a changed field usually lands in another
 * bucket, and 1, where every key shares the only bucket, so the miss must come
 * from the field comparison itself.
 */
static void
check_key_field_misses(uint32_t capacity)
{
	struct lb_ct *ctf = table(capacity);
	struct lb_ct *ctd = table(capacity);
	struct lb_conn f = conn(5, LB_MODE_FNAT, LB_AF_INET6, LB_PROTO_TCP);
	struct lb_conn d = conn(6, LB_MODE_DNAT, LB_AF_INET, LB_PROTO_UDP);
	struct lb_conn *ef, *ed;
	struct lb_ct_fwd_key fk;
	struct lb_ct_rev_key rk;

	ef = lb_ct_insert(ctf, &f, 0);
	ed = lb_ct_insert(ctd, &d, 0);
	assert_non_null(ef);
	assert_non_null(ed);

	/* Forward key: every byte of the client address, its port, the service. */
	for (int i = 0; i < 16; i++) {
		fk = fwd_key(&f);
		fk.client[i] ^= 0x01;
		assert_null(find_fwd(ctf, &fk));
	}
	fk = fwd_key(&f);
	fk.client_port ^= net16(1);
	assert_null(find_fwd(ctf, &fk));
	fk = fwd_key(&f);
	fk.svc_id++;
	assert_null(find_fwd(ctf, &fk));

	/* fnat reverse key: backend, its port, proto, mode, local index and port. */
	for (int i = 0; i < 16; i++) {
		rk = rev_key(&f);
		rk.backend[i] ^= 0x80;
		assert_null(find_rev(ctf, &rk));
	}
	rk = rev_key(&f);
	rk.backend_port ^= net16(1);
	assert_null(find_rev(ctf, &rk));
	rk = rev_key(&f);
	rk.proto = LB_PROTO_UDP;
	assert_null(find_rev(ctf, &rk));
	rk = rev_key(&f);
	rk.mode = LB_MODE_DNAT;
	assert_null(find_rev(ctf, &rk));
	rk = rev_key(&f);
	rk.local_idx++;
	assert_null(find_rev(ctf, &rk));
	rk = rev_key(&f);
	rk.local_port ^= net16(1);
	assert_null(find_rev(ctf, &rk));
	/* The client is not part of an fnat reply (it was SNATed away). */
	rk = rev_key(&f);
	rk.client[0] = 0x99;
	rk.client_port = net16(7);
	assert_ptr_equal(find_rev(ctf, &rk), ef);

	/* dnat reverse key: backend, its port, proto, mode, client and client port. */
	for (int i = 0; i < 16; i++) {
		rk = rev_key(&d);
		rk.client[i] ^= 0x01;
		assert_null(find_rev(ctd, &rk));
		rk = rev_key(&d);
		rk.backend[i] ^= 0x01;
		assert_null(find_rev(ctd, &rk));
	}
	rk = rev_key(&d);
	rk.client_port ^= net16(1);
	assert_null(find_rev(ctd, &rk));
	rk = rev_key(&d);
	rk.backend_port ^= net16(1);
	assert_null(find_rev(ctd, &rk));
	rk = rev_key(&d);
	rk.proto = LB_PROTO_TCP;
	assert_null(find_rev(ctd, &rk));
	rk = rev_key(&d);
	rk.mode = LB_MODE_FNAT;
	assert_null(find_rev(ctd, &rk));
	/* dnat has no local side: stray local fields do not matter. */
	rk = rev_key(&d);
	rk.local_idx = 9;
	rk.local_port = net16(5555);
	assert_ptr_equal(find_rev(ctd, &rk), ed);

	/* The forward index of a dnat flow keys on the service too. */
	fk = fwd_key(&d);
	assert_ptr_equal(find_fwd(ctd, &fk), ed);
	fk.svc_id ^= 0x100;
	assert_null(find_fwd(ctd, &fk));

	lb_ct_destroy(ctf);
	lb_ct_destroy(ctd);
}

static void
test_ct_lookup_differing_in_any_key_field_misses(void **state)
{
	(void)state;
	check_key_field_misses(16);
	check_key_field_misses(1);
}

/* ---- removal ---- */

static void
test_ct_remove_unlinks_from_both_indexes(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn c = conn(1, LB_MODE_DNAT, LB_AF_INET6, LB_PROTO_TCP);
	struct lb_conn *e;

	(void)state;
	e = lb_ct_insert(ct, &c, 0);
	assert_non_null(e);
	lb_ct_remove(ct, e);
	assert_int_equal(lb_ct_count(ct), 0);
	assert_gone(ct, &c);
	/* The slot is reusable. */
	e = lb_ct_insert(ct, &c, 0);
	assert_non_null(e);
	assert_found(ct, &c, e);
	lb_ct_destroy(ct);
}

/*
 * Capacity 4 gives 4 buckets per index. Pick three flows whose forward hashes and
 * reverse hashes agree in their low two bits, so each index holds them in one
 * chain of three, then remove head, middle and tail positions in turn.
 */
static void
find_colliding(struct lb_ct *ct, uint8_t mode, struct lb_conn out[3])
{
	uint32_t fb = 0, rb = 0;
	int have = 0;

	for (uint32_t n = 0; n < 100000 && have < 3; n++) {
		struct lb_conn c = conn(n, mode, LB_AF_INET, LB_PROTO_TCP);
		struct lb_ct_fwd_key fk = fwd_key(&c);
		struct lb_ct_rev_key rk = rev_key(&c);
		uint32_t f = lb_ct_hash_fwd(&fk, lb_ct_seed(ct)) & 3;
		uint32_t r = lb_ct_hash_rev(&rk, lb_ct_seed(ct)) & 3;

		if (have == 0) {
			fb = f;
			rb = r;
		} else if (f != fb || r != rb) {
			continue;
		}
		out[have++] = c;
	}
	assert_int_equal(have, 3);
}

static void
test_ct_remove_from_head_middle_and_tail_of_a_collision_chain(void **state)
{
	static const uint8_t modes[] = {LB_MODE_FNAT, LB_MODE_DNAT};

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		for (int victim = 0; victim < 3; victim++) {
			struct lb_ct *ct = table(4);
			struct lb_conn c[3];
			struct lb_conn *e[3];

			find_colliding(ct, modes[m], c);
			for (int i = 0; i < 3; i++) {
				e[i] = lb_ct_insert(ct, &c[i], 0);
				assert_non_null(e[i]);
			}
			for (int i = 0; i < 3; i++)
				assert_found(ct, &c[i], e[i]);

			lb_ct_remove(ct, e[victim]);
			assert_int_equal(lb_ct_count(ct), 2);
			assert_gone(ct, &c[victim]);
			for (int i = 0; i < 3; i++)
				if (i != victim)
					assert_found(ct, &c[i], e[i]);

			/* Then the rest, leaving an empty table that still works. */
			for (int i = 0; i < 3; i++)
				if (i != victim)
					lb_ct_remove(ct, e[i]);
			assert_int_equal(lb_ct_count(ct), 0);
			for (int i = 0; i < 3; i++)
				assert_gone(ct, &c[i]);
			for (int i = 0; i < 3; i++) {
				e[i] = lb_ct_insert(ct, &c[i], 0);
				assert_non_null(e[i]);
			}
			for (int i = 0; i < 3; i++)
				assert_found(ct, &c[i], e[i]);
			lb_ct_destroy(ct);
		}
	}
}

/*
 * More keys in one forward bucket than its 8 slots: the bucket chains overflow
 * buckets; every key stays found, removal in any order gives the overflow buckets
 * back (rounds of fill and empty would run out of them otherwise).
 */
static void
test_ct_full_bucket_chains_overflow_buckets_and_gives_them_back(void **state)
{
	struct lb_ct *ct = table(64); /* 16 buckets, 20 overflow buckets per index */
	struct lb_conn c[20];
	struct lb_conn *e[20];
	int have = 0;
	uint32_t want = 0;

	(void)state;
	for (uint32_t n = 0; n < 200000 && have < 20; n++) {
		struct lb_conn x = conn(n, LB_MODE_DNAT, LB_AF_INET, LB_PROTO_TCP);
		struct lb_ct_fwd_key fk = fwd_key(&x);
		uint32_t b = lb_ct_hash_fwd(&fk, lb_ct_seed(ct)) & 15;
		if (have == 0)
			want = b;
		if (b == want)
			c[have++] = x;
	}
	assert_int_equal(have, 20);
	for (int round = 0; round < 30; round++) {
		for (int i = 0; i < 20; i++)
			assert_non_null(e[i] = lb_ct_insert(ct, &c[i], 0));
		for (int i = 0; i < 20; i++)
			assert_found(ct, &c[i], e[i]);
		/* remove from the middle of the chain first, then the rest */
		for (int i = 0; i < 20; i++) {
			int v = (i * 7 + round) % 20;
			lb_ct_remove(ct, e[v]);
			assert_gone(ct, &c[v]);
		}
		assert_int_equal(lb_ct_count(ct), 0);
	}
	lb_ct_destroy(ct);
}

/*
 * The block holds no pointer into itself: copied to another address, the copy is a
 * working table (what re-attaching a block kept across a restart relies on).
 */
static void
test_ct_block_works_after_moving_to_another_address(void **state)
{
	struct lb_ct_conf conf = conf_of(100);
	conf.snat_lo = 4000, conf.snat_hi = 4099, conf.snat_stride = 1, conf.snat_pairs = 4;
	conf.snat_delay_ms = 60000;
	size_t size = lb_ct_mem_size(&conf);
	uint8_t *a = aligned_alloc(64, size), *b = aligned_alloc(64, size);
	struct lb_conn c[10];
	struct lb_ct_snat_info info;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	struct lb_ct *ct = lb_ct_init(a, size, &conf);
	assert_non_null(ct);
	for (uint32_t n = 0; n < 10; n++) {
		c[n] = conn(n, n % 2 ? LB_MODE_DNAT : LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
		assert_non_null(lb_ct_insert(ct, &c[n], 0));
	}
	memcpy(b, a, size);
	memset(a, 0xa5, size); /* the old place is gone */
	free(a);
	struct lb_ct *moved = (struct lb_ct *)(void *)b;
	assert_int_equal(lb_ct_count(moved), 10);
	for (uint32_t n = 0; n < 10; n++) {
		struct lb_ct_fwd_key fk = fwd_key(&c[n]);
		struct lb_conn *e = find_fwd(moved, &fk);
		assert_non_null(e);
		assert_true((uint8_t *)e >= b && (uint8_t *)e < b + size);
		assert_found(moved, &c[n], e);
	}
	/* the allocator's state moved with it */
	struct lb_ct_rev_key k;
	uint32_t rh;
	lb_ct_rev_key_init(&k, LB_MODE_FNAT, LB_PROTO_TCP, c[0].backend, c[0].backend_port);
	k.local_idx = c[0].local_idx;
	assert_int_equal(lb_ct_snat_alloc(moved, &k, 0, &rh), 0);
	struct lb_conn n = conn(50, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	memcpy(n.backend, c[0].backend, 16);
	n.local_port = k.local_port;
	assert_non_null(lb_ct_insert(moved, &n, 0));
	assert_int_equal(lb_ct_snat_info(moved, &k, &info), 0);
	assert_int_equal(info.in_use, 1); /* conn(0)'s own port 1024 lies outside 4000..4099 */
	lb_ct_destroy(moved); /* caller memory: not freed here */
	free(b);
}

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
test_ct_random_inserts_and_removes_match_a_shadow_model(void **state)
{
	enum { CAP = 48, FLOWS = 96 };
	struct lb_ct *ct = table(CAP);
	struct lb_conn c[FLOWS];
	struct lb_conn *e[FLOWS] = {0};
	uint32_t live = 0, seed = 0x9e3779b9u;

	(void)state;
	for (uint32_t n = 0; n < FLOWS; n++)
		c[n] = conn(n, n % 2 ? LB_MODE_DNAT : LB_MODE_FNAT,
			    n % 3 ? LB_AF_INET : LB_AF_INET6, LB_PROTO_TCP);

	for (int step = 0; step < 5000; step++) {
		uint32_t n = rnd(&seed) % FLOWS;

		if (e[n] != NULL) {
			lb_ct_remove(ct, e[n]);
			e[n] = NULL;
			live--;
		} else {
			e[n] = lb_ct_insert(ct, &c[n], 0);
			if (live == CAP) {
				assert_null(e[n]);
			} else {
				assert_non_null(e[n]);
				live++;
			}
		}
		assert_int_equal(lb_ct_count(ct), live);
		if (step % 50 != 0)
			continue;
		for (uint32_t i = 0; i < FLOWS; i++) {
			if (e[i] != NULL)
				assert_found(ct, &c[i], e[i]);
			else
				assert_gone(ct, &c[i]);
		}
	}
	lb_ct_destroy(ct);
}

/* ---- TCP state machine ---- */

static struct lb_conn *
tcp_flow(struct lb_ct *ct, uint32_t now)
{
	struct lb_conn c = conn(1, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	struct lb_conn *e = lb_ct_insert(ct, &c, now);

	assert_non_null(e);
	assert_int_equal(e->state, LB_CT_TCP_SYN);
	return e;
}

static void
test_ct_tcp_handshake_establishes_and_fins_both_ways_close(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 1000);

	(void)state;
	assert_int_equal(e->expire, 1000 + T_SYN);
	/* SYN+ACK from the backend: still handshaking, but a reply is seen. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, 1010),
			 LB_CT_TCP_SYN);
	assert_true(e->flags & LB_CONN_SEEN_REPLY);
	assert_int_equal(e->expire, 1010 + T_SYN);
	/* The client's ACK completes it. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_CLIENT, 1020),
			 LB_CT_TCP_ESTABLISHED);
	assert_int_equal(e->state, LB_CT_TCP_ESTABLISHED);
	assert_int_equal(e->expire, 1020 + T_EST);
	/* Data both ways keeps it established. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_PSH | LB_TCP_ACK, LB_DIR_CLIENT, 1030),
			 LB_CT_TCP_ESTABLISHED);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_BACKEND, 1040),
			 LB_CT_TCP_ESTABLISHED);
	/* Client FIN: half closed. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_FIN | LB_TCP_ACK, LB_DIR_CLIENT, 1050),
			 LB_CT_TCP_CLOSING);
	assert_int_equal(e->flags & (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND),
			 LB_CONN_FIN_CLIENT);
	assert_int_equal(e->expire, 1050 + T_CLOSING);
	/* The backend's ACK alone does not change that. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_BACKEND, 1055),
			 LB_CT_TCP_CLOSING);
	/* Backend FIN: both sides done. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_FIN | LB_TCP_ACK, LB_DIR_BACKEND, 1060),
			 LB_CT_TCP_CLOSED);
	assert_true(e->flags & LB_CONN_FIN_BACKEND);
	assert_int_equal(e->expire, 1060 + T_CLOSED);
	/* The last ACK refreshes the closed entry. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_CLIENT, 1070),
			 LB_CT_TCP_CLOSED);
	assert_int_equal(e->expire, 1070 + T_CLOSED);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_backend_fin_first_also_closes_after_client_fin(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);

	(void)state;
	e->state = LB_CT_TCP_ESTABLISHED;
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_FIN | LB_TCP_ACK, LB_DIR_BACKEND, 1),
			 LB_CT_TCP_CLOSING);
	assert_int_equal(e->flags & (LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND),
			 LB_CONN_FIN_BACKEND);
	/* A retransmitted backend FIN is still one direction. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_FIN | LB_TCP_ACK, LB_DIR_BACKEND, 2),
			 LB_CT_TCP_CLOSING);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_FIN | LB_TCP_ACK, LB_DIR_CLIENT, 3),
			 LB_CT_TCP_CLOSED);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_rst_from_either_direction_closes(void **state)
{
	static const uint8_t from[] = {LB_CT_TCP_SYN, LB_CT_TCP_ESTABLISHED, LB_CT_TCP_CLOSING};

	(void)state;
	for (size_t i = 0; i < sizeof(from); i++) {
		for (int dir = LB_DIR_CLIENT; dir <= LB_DIR_BACKEND; dir++) {
			struct lb_ct *ct = table(4);
			struct lb_conn *e = tcp_flow(ct, 0);

			e->state = from[i];
			assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_RST | LB_TCP_ACK, dir, 77),
					 LB_CT_TCP_CLOSED);
			assert_int_equal(e->state, LB_CT_TCP_CLOSED);
			assert_int_equal(e->expire, 77 + T_CLOSED);
			/* A late FIN does not reopen a reset connection. */
			assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_FIN | LB_TCP_ACK, dir, 78),
					 LB_CT_TCP_CLOSED);
			lb_ct_destroy(ct);
		}
	}
}

static void
test_ct_tcp_client_syn_on_closed_entry_reports_port_reuse_and_keeps_entry(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);
	struct lb_conn before;

	(void)state;
	lb_ct_tcp_update(ct, e, LB_TCP_RST, LB_DIR_BACKEND, 10);
	before = *e;
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_SYN, LB_DIR_CLIENT, 20), LB_CT_STATE_FREE);
	assert_memory_equal(e, &before, sizeof(before));
	/* The caller's path: remove, then the new SYN makes a fresh flow. */
	lb_ct_remove(ct, e);
	e = tcp_flow(ct, 20);
	assert_int_equal(e->flags, 0);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_syn_ack_or_backend_syn_on_closed_entry_is_not_port_reuse(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);

	(void)state;
	lb_ct_tcp_update(ct, e, LB_TCP_RST, LB_DIR_CLIENT, 10);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_SYN | LB_TCP_ACK, LB_DIR_CLIENT, 11),
			 LB_CT_TCP_CLOSED);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_SYN, LB_DIR_BACKEND, 12),
			 LB_CT_TCP_CLOSED);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_retransmitted_client_syn_stays_syn_and_refreshes(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);

	(void)state;
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_SYN, LB_DIR_CLIENT, 900), LB_CT_TCP_SYN);
	assert_int_equal(e->expire, 900 + T_SYN);
	/* Even after the backend replied, a client SYN is not the handshake's ACK. */
	lb_ct_tcp_update(ct, e, LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, 950);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_SYN, LB_DIR_CLIENT, 990), LB_CT_TCP_SYN);
	assert_int_equal(e->expire, 990 + T_SYN);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_client_packet_before_any_reply_stays_syn(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);

	(void)state;
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_CLIENT, 5), LB_CT_TCP_SYN);
	assert_false(e->flags & LB_CONN_SEEN_REPLY);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_client_data_after_any_backend_reply_establishes(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);

	(void)state;
	/* Not a SYN+ACK (e.g. the handshake was missed): any reply counts. */
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_BACKEND, 5), LB_CT_TCP_SYN);
	assert_true(e->flags & LB_CONN_SEEN_REPLY);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_PSH | LB_TCP_ACK, LB_DIR_CLIENT, 6),
			 LB_CT_TCP_ESTABLISHED);
	assert_int_equal(e->expire, 6 + T_EST);
	lb_ct_destroy(ct);
}

/* ---- timeouts on a fake clock ---- */

struct expired_log {
	unsigned n;
	uint32_t svc_sum;
	uint16_t last_client_port;
};

static void
log_expired(const struct lb_conn *c, void *arg)
{
	struct expired_log *log = arg;

	/* The entry is still intact when the callback sees it. */
	assert_int_not_equal(c->state, LB_CT_STATE_FREE);
	log->n++;
	log->svc_sum += c->svc_id;
	log->last_client_port = c->client_port;
}

static void
test_ct_entry_lives_until_its_state_timeout_then_expires(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn c = conn(1, LB_MODE_DNAT, LB_AF_INET, LB_PROTO_UDP);
	struct expired_log log = {0};
	uint32_t now = 5000;

	(void)state;
	assert_non_null(lb_ct_insert(ct, &c, now));
	now += T_UDP; /* expire == now: not yet in the past */
	assert_int_equal(lb_ct_expire(ct, now, 4, log_expired, &log), 0);
	assert_int_equal(lb_ct_count(ct), 1);
	now++;
	assert_int_equal(lb_ct_expire(ct, now, 4, log_expired, &log), 1);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.last_client_port, c.client_port);
	assert_int_equal(lb_ct_count(ct), 0);
	assert_gone(ct, &c);
	lb_ct_destroy(ct);
}

static void
test_ct_use_refreshes_expiry(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn c = conn(1, LB_MODE_FNAT, LB_AF_INET6, LB_PROTO_UDP);
	struct lb_conn *e;
	uint32_t now = 0;

	(void)state;
	e = lb_ct_insert(ct, &c, now);
	assert_non_null(e);
	now = T_UDP - 1;
	lb_ct_touch(ct, e, now); /* a packet just before it would go */
	assert_int_equal(e->expire, now + T_UDP);
	now = T_UDP + 1; /* past the first deadline */
	assert_int_equal(lb_ct_expire(ct, now, 4, NULL, NULL), 0);
	assert_found(ct, &c, e);
	now = 2 * T_UDP; /* past the refreshed one */
	assert_int_equal(lb_ct_expire(ct, now, 4, NULL, NULL), 1);
	assert_gone(ct, &c);
	lb_ct_destroy(ct);
}

static void
test_ct_tcp_state_change_applies_the_new_state_timeout(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn *e = tcp_flow(ct, 0);
	struct lb_conn c = *e;

	(void)state;
	lb_ct_tcp_update(ct, e, LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, 100);
	lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_CLIENT, 200);
	/* Far past the SYN timeout, within the established one. */
	assert_int_equal(lb_ct_expire(ct, 200 + T_SYN * 5, 4, NULL, NULL), 0);
	assert_found(ct, &c, e);
	/* Touch keeps the established timeout. */
	lb_ct_touch(ct, e, 6000);
	assert_int_equal(e->expire, 6000 + T_EST);
	assert_int_equal(lb_ct_expire(ct, 6000 + T_EST, 4, NULL, NULL), 0);
	assert_int_equal(lb_ct_expire(ct, 6000 + T_EST + 1, 4, NULL, NULL), 1);
	lb_ct_destroy(ct);
}

static void
test_ct_expire_budget_bounds_work_and_resumes_where_it_stopped(void **state)
{
	struct lb_ct *ct = table(8);
	struct expired_log log = {0};
	struct lb_conn c[8];
	struct lb_conn fresh[3];

	(void)state;
	for (uint32_t n = 0; n < 8; n++) {
		c[n] = conn(n, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_UDP);
		assert_non_null(lb_ct_insert(ct, &c[n], 0));
	}
	/* Every slot holds an expired entry, so frees == slots scanned. */
	assert_int_equal(lb_ct_expire(ct, T_UDP + 1, 3, log_expired, &log), 3);
	assert_int_equal(log.n, 3);
	assert_int_equal(lb_ct_count(ct), 5);

	/* Refill the three freed slots with live entries. */
	for (uint32_t n = 0; n < 3; n++) {
		fresh[n] = conn(100 + n, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_UDP);
		assert_non_null(lb_ct_insert(ct, &fresh[n], T_UDP));
	}
	/* The next call resumes after the three slots already scanned: the next five
	 * slots are exactly the five remaining expired entries. */
	assert_int_equal(lb_ct_expire(ct, T_UDP + 1, 5, log_expired, &log), 5);
	assert_int_equal(lb_ct_count(ct), 3);
	/* A budget beyond the capacity scans the table once and finds nothing. */
	assert_int_equal(lb_ct_expire(ct, T_UDP + 1, 100, log_expired, &log), 0);
	assert_int_equal(log.n, 8);
	for (uint32_t n = 0; n < 8; n++)
		assert_gone(ct, &c[n]);
	for (uint32_t n = 0; n < 3; n++) {
		struct lb_ct_fwd_key k = fwd_key(&fresh[n]);

		assert_non_null(find_fwd(ct, &k));
	}
	lb_ct_destroy(ct);
}

static void
test_ct_expire_small_budget_eventually_frees_all_expired_and_keeps_live(void **state)
{
	enum { CAP = 37 };
	struct lb_ct *ct = table(CAP);
	struct lb_conn c[CAP];
	struct lb_conn *e[CAP];
	unsigned total = 0, calls = 0;

	(void)state;
	for (uint32_t n = 0; n < CAP; n++) {
		c[n] = conn(n, LB_MODE_DNAT, LB_AF_INET6, LB_PROTO_TCP);
		e[n] = lb_ct_insert(ct, &c[n], 0);
		assert_non_null(e[n]);
		if (n % 3 == 0) {
			lb_ct_tcp_update(ct, e[n], LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, 0);
			assert_int_equal(lb_ct_tcp_update(ct, e[n], LB_TCP_ACK, LB_DIR_CLIENT, 0),
					 LB_CT_TCP_ESTABLISHED);
		}
	}
	/* Past the SYN timeout, well within the established one. */
	while (total < CAP - 13) {
		unsigned freed = lb_ct_expire(ct, T_SYN + 1, 4, NULL, NULL);

		assert_true(freed <= 4);
		total += freed;
		calls++;
		/* Four slots per call: one lap is ceil(37 / 4) calls. */
		assert_true(calls <= (CAP + 3) / 4);
	}
	assert_int_equal(lb_ct_count(ct), 13);
	for (uint32_t n = 0; n < CAP; n++) {
		if (n % 3 == 0)
			assert_found(ct, &c[n], e[n]);
		else
			assert_gone(ct, &c[n]);
	}
	lb_ct_destroy(ct);
}

static void
test_ct_expiry_is_correct_across_clock_wraparound(void **state)
{
	struct lb_ct *ct = table(4);
	struct lb_conn c = conn(1, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_UDP);
	struct lb_conn *e;
	uint32_t now = 0xffffffffu - 1000;

	(void)state;
	e = lb_ct_insert(ct, &c, now);
	assert_non_null(e);
	assert_int_equal(e->expire, (uint32_t)(now + T_UDP)); /* wrapped to 1999 */
	assert_true(e->expire < now);
	/* Before the wrap, and after it but before the deadline: alive. */
	assert_int_equal(lb_ct_expire(ct, 0xffffffffu, 4, NULL, NULL), 0);
	assert_int_equal(lb_ct_expire(ct, 0, 4, NULL, NULL), 0);
	assert_int_equal(lb_ct_expire(ct, e->expire, 4, NULL, NULL), 0);
	/* Refresh across the wrap, then let it lapse. */
	lb_ct_touch(ct, e, 1500);
	assert_int_equal(lb_ct_expire(ct, 1500 + T_UDP, 4, NULL, NULL), 0);
	assert_int_equal(lb_ct_expire(ct, 1500 + T_UDP + 1, 4, NULL, NULL), 1);
	assert_gone(ct, &c);
	lb_ct_destroy(ct);
}

/* ---- a full table ---- */

static void
test_ct_full_table_refuses_insert_and_keeps_existing(void **state)
{
	enum { CAP = 5 };
	struct lb_ct *ct = table(CAP);
	struct lb_conn c[CAP + 1];
	struct lb_conn *e[CAP];
	struct lb_conn *x;

	(void)state;
	for (uint32_t n = 0; n <= CAP; n++)
		c[n] = conn(n, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_UDP);
	for (uint32_t n = 0; n < CAP; n++) {
		e[n] = lb_ct_insert(ct, &c[n], 0);
		assert_non_null(e[n]);
	}
	assert_null(lb_ct_insert(ct, &c[CAP], 0));
	assert_null(lb_ct_insert(ct, &c[CAP], 0));
	assert_int_equal(lb_ct_count(ct), CAP);
	for (uint32_t n = 0; n < CAP; n++)
		assert_found(ct, &c[n], e[n]);
	assert_gone(ct, &c[CAP]);

	/* Once the flows time out, there is room again. */
	assert_int_equal(lb_ct_expire(ct, T_UDP + 1, CAP, NULL, NULL), CAP);
	x = lb_ct_insert(ct, &c[CAP], T_UDP + 1);
	assert_non_null(x);
	assert_found(ct, &c[CAP], x);
	assert_int_equal(lb_ct_count(ct), 1);
	lb_ct_destroy(ct);
}

static void
test_ct_capacity_one_works(void **state)
{
	struct lb_ct *ct = table(1);
	struct lb_conn a = conn(1, LB_MODE_DNAT, LB_AF_INET6, LB_PROTO_TCP);
	struct lb_conn b = conn(2, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_UDP);
	struct lb_conn *e;

	(void)state;
	assert_int_equal(lb_ct_capacity(ct), 1);
	e = lb_ct_insert(ct, &a, 0);
	assert_non_null(e);
	assert_found(ct, &a, e);
	assert_null(lb_ct_insert(ct, &b, 0));
	assert_int_equal(lb_ct_expire(ct, 1, 1, NULL, NULL), 0);
	lb_ct_remove(ct, e);
	assert_gone(ct, &a);
	e = lb_ct_insert(ct, &b, 0);
	assert_non_null(e);
	assert_found(ct, &b, e);
	assert_int_equal(lb_ct_expire(ct, T_UDP + 1, 1, NULL, NULL), 1);
	assert_int_equal(lb_ct_count(ct), 0);
	lb_ct_destroy(ct);
}

/* ---- SNAT ports (conntrack_snat.c) ---- */

#define SNAT_REAL 1 /* conn(0, ...)'s real_id */

/* A table whose allocator owns [lo, hi] ports p % stride == offset, delay in ms. */
static struct lb_ct *
snat_table(uint32_t cap, uint16_t lo, uint16_t hi, uint16_t stride, uint16_t offset,
	   uint32_t delay_ms)
{
	struct lb_ct_conf c = conf_of(cap);

	c.snat_lo = lo;
	c.snat_hi = hi;
	c.snat_stride = stride;
	c.snat_offset = offset;
	c.snat_pairs = 4;
	c.snat_delay_ms = delay_ms;
	struct lb_ct *ct = lb_ct_create(&c);
	assert_non_null(ct);
	return ct;
}

/* A reverse key for a new fnat flow to conn(0)'s backend from local 2, port to choose. */
static struct lb_ct_rev_key
snat_key(void)
{
	struct lb_conn c = conn(0, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	struct lb_ct_rev_key k;

	lb_ct_rev_key_init(&k, LB_MODE_FNAT, LB_PROTO_TCP, c.backend, c.backend_port);
	k.local_idx = 2;
	return k;
}

/* A new flow n to that backend on the port the allocator gives; NULL when it refuses. */
static struct lb_conn *
snat_flow(struct lb_ct *ct, uint32_t n, uint32_t now)
{
	struct lb_ct_rev_key k = snat_key();
	struct lb_conn c = conn(0, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	uint32_t rh = 0;

	c.client_port = net16((uint16_t)(20000 + n)); /* distinct forward keys */
	c.client[3] = (uint8_t)(n >> 16);
	if (lb_ct_snat_alloc(ct, &k, now, &rh) != 0)
		return NULL;
	assert_int_equal(rh, lb_ct_hash_rev(&k, lb_ct_seed(ct)));
	c.local_port = k.local_port;
	struct lb_conn *e = lb_ct_insert(ct, &c, now);
	assert_non_null(e);
	return e;
}

static void
test_ct_snat_gives_every_port_of_the_slice_once_then_refuses(void **state)
{
	/* 1001..1066, stride 5, offset 2: 1002, 1007, ..., 1062: 13 ports */
	struct lb_ct *ct = snat_table(64, 1001, 1066, 5, 2, 60000);
	uint8_t seen[65536] = {0};
	struct lb_ct_snat_info info;

	(void)state;
	for (uint32_t n = 0; n < 13; n++) {
		struct lb_conn *e = snat_flow(ct, n, 0);
		assert_non_null(e);
		uint16_t p = ntohs(e->local_port);
		assert_true(p >= 1001 && p <= 1066 && p % 5 == 2);
		assert_int_equal(seen[p], 0);
		seen[p] = 1;
		assert_found(ct, e, e);
	}
	/* really full: refused, counted for the pair and in total */
	assert_null(snat_flow(ct, 13, 0));
	assert_null(snat_flow(ct, 14, 0));
	struct lb_ct_rev_key ik = snat_key();
	assert_int_equal(lb_ct_snat_info(ct, &ik, &info), 0);
	assert_int_equal(info.in_use, 13);
	assert_int_equal(info.free, 0);
	assert_int_equal(info.exhausted, 2);
	assert_int_equal(lb_ct_snat_exhausted(ct), 2);
	/* another local address is another pair, with all its ports */
	struct lb_ct_rev_key k = snat_key();
	uint32_t rh;
	k.local_idx = 3;
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
	lb_ct_destroy(ct);
}

/*
 * lb_ct_snat_prefetch()'s hint: the allocation from it gives the port and reverse
 * hash the plain allocation gives; a hint of another pair, of no pair, or for a
 * port another flow took since is checked and gives the same as no hint.
 */
static void
test_ct_snat_hint_is_checked_and_gives_the_same_port(void **state)
{
	struct lb_ct *ct = snat_table(256, 4000, 4199, 1, 0, 60000);
	struct lb_ct_snat_hint h, other;
	struct lb_ct_rev_key kp = snat_key(), k3 = snat_key();
	uint32_t rh;

	(void)state;
	lb_ct_snat_prefetch(ct, &kp, &h); /* no pair yet: nothing found */
	assert_int_equal(h.pair, LB_CT_NIL);
	assert_non_null(snat_flow(ct, 0, 0)); /* creates the pair */
	k3.local_idx = 3;                      /* another pair of the same backend */
	assert_int_equal(lb_ct_snat_alloc(ct, &k3, 0, &rh), 0);
	k3 = snat_key();
	k3.local_idx = 3;
	lb_ct_snat_prefetch(ct, &k3, &other);
	assert_int_not_equal(other.pair, LB_CT_NIL);

	for (uint32_t n = 1; n < 100; n++) {
		kp = snat_key();
		lb_ct_snat_prefetch(ct, &kp, &h);
		assert_int_not_equal(h.pair, LB_CT_NIL);
		assert_int_not_equal(h.pair, other.pair);
		assert_int_equal(h.rev_hash, lb_ct_hash_rev(&kp, lb_ct_seed(ct)));
		bool taken = n % 4 == 1;
		if (taken) /* an earlier flow of the burst gets the hinted port */
			assert_int_equal(snat_flow(ct, 1000 + n, 0)->local_port, kp.local_port);
		struct lb_ct_snat_hint bad = {.pair = 1000, .idx = h.idx, .rev_hash = h.rev_hash};
		const struct lb_ct_snat_hint *use = n % 4 == 2 ? &other : n % 4 == 3 ? &bad : &h;

		struct lb_ct_rev_key k = snat_key();
		assert_int_equal(lb_ct_snat_alloc_hint(ct, &k, 0, &rh, use), 0);
		assert_int_equal(rh, lb_ct_hash_rev(&k, lb_ct_seed(ct)));
		if (taken)
			assert_int_not_equal(k.local_port, kp.local_port);
		else
			assert_int_equal(k.local_port, kp.local_port);
		struct lb_conn c = conn(0, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
		c.client_port = net16((uint16_t)(20000 + n));
		c.local_port = k.local_port;
		assert_non_null(lb_ct_insert(ct, &c, 0));
	}
	lb_ct_destroy(ct);
}

/*
 * lb_ct_snat_prefetch_bulk() over a burst of keys (pairs that exist, one that does
 * not, a full one, repeats of one pair) answers for each key what
 * lb_ct_snat_prefetch() answers for it alone; more keys than it takes: nothing.
 */
static void
test_ct_snat_prefetch_bulk_is_the_one_by_one_answer(void **state)
{
	struct lb_ct *ct = snat_table(256, 4000, 4009, 1, 0, 60000);
	struct lb_ct_rev_key kb[LB_CT_SNAT_BULK_MAX + 1], k1;
	struct lb_ct_snat_hint hb[LB_CT_SNAT_BULK_MAX + 1], *hp[LB_CT_SNAT_BULK_MAX + 1], h1;
	uint32_t rh;

	(void)state;
	/* pairs for local addresses 0..2: 0 and 2 with ports left (1 and 4 taken),
	 * 1 full (all 10); no pair for 3 */
	for (uint8_t li = 0; li < 3; li++) {
		struct lb_ct_rev_key k = snat_key();
		k.local_idx = li;
		unsigned take = li == 1 ? 10 : li == 2 ? 4 : 1;
		for (unsigned n = 0; n < take; n++) {
			struct lb_conn c = conn(0, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
			assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
			c.client_port = net16((uint16_t)(30000 + li * 100 + n));
			c.local_idx = li;
			c.local_port = k.local_port;
			assert_non_null(lb_ct_insert(ct, &c, 0));
			k = snat_key();
			k.local_idx = li;
		}
	}
	for (unsigned t = 0; t < 40; t++) {
		kb[t] = snat_key();
		kb[t].local_idx = (uint8_t)(t % 4);
		hp[t] = &hb[t];
		hb[t].pair = 12345; /* overwritten: found or LB_CT_NIL */
	}
	lb_ct_snat_prefetch_bulk(ct, kb, hp, 40);
	for (unsigned t = 0; t < 40; t++) {
		k1 = snat_key();
		k1.local_idx = (uint8_t)(t % 4);
		lb_ct_snat_prefetch(ct, &k1, &h1);
		assert_int_equal(hb[t].pair, h1.pair);
		if (t % 4 == 1 || t % 4 == 3) {
			assert_int_equal(h1.pair, LB_CT_NIL); /* full / no pair */
			continue;
		}
		assert_int_not_equal(h1.pair, LB_CT_NIL);
		assert_int_equal(hb[t].idx, h1.idx);
		assert_int_equal(hb[t].rev_hash, h1.rev_hash);
		assert_int_equal(hb[t].port, h1.port);
		assert_int_equal(kb[t].local_port, k1.local_port);
		assert_int_equal(h1.rev_hash, lb_ct_hash_rev(&k1, lb_ct_seed(ct)));
	}
	for (unsigned t = 0; t <= LB_CT_SNAT_BULK_MAX; t++) {
		kb[t] = snat_key();
		hp[t] = &hb[t];
	}
	lb_ct_snat_prefetch_bulk(ct, kb, hp, LB_CT_SNAT_BULK_MAX + 1);
	for (unsigned t = 0; t <= LB_CT_SNAT_BULK_MAX; t++)
		assert_int_equal(hb[t].pair, LB_CT_NIL);
	lb_ct_snat_prefetch_bulk(ct, kb, hp, 0);
	lb_ct_destroy(ct);
}

static void
test_ct_snat_port_is_not_given_again_within_the_reuse_delay(void **state)
{
	const uint32_t delay = 60000;
	struct lb_ct *ct = snat_table(64, 4000, 4002, 1, 0, delay);
	struct lb_conn *e[3];
	struct lb_ct_snat_info info;

	(void)state;
	for (uint32_t n = 0; n < 3; n++)
		assert_non_null(e[n] = snat_flow(ct, n, 1000));
	uint16_t p1 = e[1]->local_port;
	/* the flow on p1 ends at t = 5 s: its port cools */
	lb_ct_expire(ct, 5000, 0, NULL, NULL); /* the table's clock */
	lb_ct_remove(ct, e[1]);
	struct lb_ct_rev_key ik = snat_key();
	assert_int_equal(lb_ct_snat_info(ct, &ik, &info), 0);
	assert_int_equal(info.cooling, 1);
	assert_int_equal(info.in_use, 2);
	/* not at 5 s, 30 s, or 64.9 s after its release */
	assert_null(snat_flow(ct, 10, 5000));
	assert_null(snat_flow(ct, 11, 35000));
	assert_null(snat_flow(ct, 12, 5000 + delay - 100));
	/* free again at most 2 x delay after the release */
	struct lb_conn *n = snat_flow(ct, 13, 5000 + 2 * delay);
	assert_non_null(n);
	assert_int_equal(n->local_port, p1);
	lb_ct_destroy(ct);
}

static void
test_ct_snat_without_delay_or_for_a_half_open_entry_reuses_at_once(void **state)
{
	struct lb_ct *ct = snat_table(64, 4000, 4000, 1, 0, 0);
	struct lb_conn *e;

	(void)state;
	assert_non_null(e = snat_flow(ct, 0, 10));
	assert_null(snat_flow(ct, 1, 10));
	lb_ct_remove(ct, e);
	assert_non_null(e = snat_flow(ct, 2, 10));
	lb_ct_destroy(ct);

	ct = snat_table(64, 4000, 4000, 1, 0, 60000);
	assert_non_null(e = snat_flow(ct, 0, 10));
	lb_ct_remove_nocool(ct, e);
	assert_non_null(snat_flow(ct, 1, 10));
	lb_ct_destroy(ct);
}

static void
test_ct_snat_skips_a_port_another_entry_holds(void **state)
{
	struct lb_ct *ct = snat_table(64, 4000, 4009, 1, 0, 60000);
	struct lb_ct_rev_key k = snat_key();
	uint32_t rh;

	(void)state;
	/* an entry of another real id (another service) to the same backend address and
	 * port, on the port the allocator would give next: the pair is the backend's,
	 * so that port is held for both services */
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
	struct lb_conn c = conn(0, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	c.real_id = 77;
	c.local_port = k.local_port;
	assert_non_null(lb_ct_insert(ct, &c, 0));
	struct lb_conn *e = snat_flow(ct, 1, 0);
	assert_non_null(e);
	assert_true(e->local_port != c.local_port);
	lb_ct_destroy(ct);
}

static void
test_ct_snat_is_o1_at_a_large_pair(void **state)
{
	/* the whole port range: every allocation is the same few word operations;
	 * 64,512 allocations then a refusal, with no failure before the end */
	struct lb_ct *ct = snat_table(70000, 1024, 65535, 1, 0, 60000);
	uint32_t got = 0;

	(void)state;
	for (uint32_t n = 0; n < 64512; n++)
		got += snat_flow(ct, n, 0) != NULL;
	assert_int_equal(got, 64512);
	assert_null(snat_flow(ct, 70000, 0));
	lb_ct_destroy(ct);
}

static void
test_ct_snat_rejects_bad_settings(void **state)
{
	struct lb_ct_conf c = conf_of(8);
	struct lb_ct_rev_key k = snat_key();
	uint32_t rh;

	(void)state;
	c.snat_pairs = 1;
	c.snat_lo = 1000, c.snat_hi = 2000, c.snat_stride = 0;
	assert_int_equal(lb_ct_mem_size(&c), 0);
	c.snat_stride = 4, c.snat_offset = 4;
	assert_int_equal(lb_ct_mem_size(&c), 0);
	c.snat_offset = 0, c.snat_lo = 2001;
	assert_int_equal(lb_ct_mem_size(&c), 0);
	c.snat_lo = 0;
	assert_int_equal(lb_ct_mem_size(&c), 0);
	/* no allocator configured */
	struct lb_ct *ct = table(8);
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), LB_EINVAL);
	lb_ct_destroy(ct);
	/* one pair only: a second backend finds none, counted */
	ct = snat_table(8, 1000, 1010, 1, 0, 0);
	k.local_idx = 2;
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
	k.local_idx = 1;
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
	k.local_idx = 0;
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
	k.local_idx = 4;
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), 0);
	k.local_idx = 5;
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 0, &rh), LB_EFULL);
	assert_int_equal(lb_ct_snat_exhausted(ct), 1);
	lb_ct_destroy(ct);
}

/* ---- foreach ---- */

struct visit {
	unsigned n;
	unsigned stop_after; /* 0 = never stop */
	uint8_t seen[64];
};

static int
visit_one(const struct lb_conn *c, void *arg)
{
	struct visit *v = arg;
	uint32_t id = ntohs(c->client_port) - 40000;

	assert_true(id < 64);
	v->seen[id]++;
	v->n++;
	return v->stop_after != 0 && v->n == v->stop_after;
}

static void
test_ct_foreach_visits_every_live_entry_once_and_stops_early(void **state)
{
	struct lb_ct *ct = table(64);
	struct lb_conn *e[40];
	struct visit v;

	(void)state;
	for (uint32_t n = 0; n < 40; n++) {
		struct lb_conn c = conn(n, LB_MODE_DNAT, LB_AF_INET, LB_PROTO_UDP);

		e[n] = lb_ct_insert(ct, &c, 0);
		assert_non_null(e[n]);
	}
	for (uint32_t n = 0; n < 40; n += 4)
		lb_ct_remove(ct, e[n]);

	memset(&v, 0, sizeof(v));
	lb_ct_foreach(ct, visit_one, &v);
	assert_int_equal(v.n, 30);
	for (uint32_t n = 0; n < 40; n++)
		assert_int_equal(v.seen[n], n % 4 == 0 ? 0 : 1);

	memset(&v, 0, sizeof(v));
	v.stop_after = 7;
	lb_ct_foreach(ct, visit_one, &v);
	assert_int_equal(v.n, 7);

	/* An empty table visits nothing. */
	{
		struct lb_ct *empty = table(8);

		memset(&v, 0, sizeof(v));
		lb_ct_foreach(empty, visit_one, &v);
		assert_int_equal(v.n, 0);
		lb_ct_destroy(empty);
	}
	lb_ct_destroy(ct);
}

/* ---- issue 14: hostile TCP, short UDP timeouts, reclaim under pressure ---- */

static void
test_ct_entry_is_one_cache_line_and_ids_keep_24_bits(void **state)
{
	struct lb_conn c;

	(void)state;
	assert_int_equal(sizeof(c), 64);
	memset(&c, 0, sizeof(c));
	c.svc_id = (1u << 20) - 1; /* dp.max_services */
	c.real_id = (1u << 24) - 1; /* dp.max_backends */
	c.local_idx = 63;
	c.state = LB_CT_STATE_FREE;
	c.family = LB_AF_INET6;
	c.proto = LB_PROTO_UDP;
	c.mode = LB_MODE_DNAT;
	c.flags = LB_CONN_SEEN_REPLY | LB_CONN_SEQ_KNOWN | LB_CONN_FIN_CLIENT | LB_CONN_FIN_BACKEND;
	assert_int_equal(c.svc_id, (1u << 20) - 1);
	assert_int_equal(c.real_id, (1u << 24) - 1);
	assert_int_equal(c.local_idx, 63);
	assert_int_equal(c.state, LB_CT_STATE_FREE);
	assert_int_equal(c.family, LB_AF_INET6);
	assert_int_equal(c.proto, LB_PROTO_UDP);
	assert_int_equal(c.mode, LB_MODE_DNAT);
	assert_int_equal(c.flags, 0x0f);
}

static struct lb_conn *
pickup(struct lb_ct *ct, uint32_t seq_end, uint32_t now)
{
	struct lb_conn c = conn(1, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	struct lb_conn *e;

	c.state = LB_CT_TCP_UNCONFIRMED;
	c.seq_client = seq_end;
	c.flags = LB_CONN_SEQ_KNOWN;
	e = lb_ct_insert(ct, &c, now);
	assert_non_null(e);
	return e;
}

static void
test_ct_pickup_keeps_short_timeout_until_the_backend_answers(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn *e = pickup(ct, 5000, 100);
	struct lb_tcp_seg ack = {.flags = LB_TCP_ACK, .seq = 5000, .len = 10};

	(void)state;
	assert_int_equal(e->expire, 100 + T_UNCONF);
	/* more client data: still unconfirmed, still the short timeout */
	assert_int_equal(lb_ct_tcp_seg(ct, e, &ack, LB_DIR_CLIENT, 200), LB_CT_TCP_UNCONFIRMED);
	assert_int_equal(e->expire, 200 + T_UNCONF);
	assert_int_equal(e->seq_client, 5010);
	/* the backend answers: a real connection */
	ack.seq = 777;
	ack.len = 0;
	assert_int_equal(lb_ct_tcp_seg(ct, e, &ack, LB_DIR_BACKEND, 300), LB_CT_TCP_ESTABLISHED);
	assert_int_equal(e->expire, 300 + T_EST);
	lb_ct_destroy(ct);
}

static void
test_ct_pickup_that_nobody_answers_expires_on_the_short_timeout(void **state)
{
	struct lb_ct *ct = table(8);

	(void)state;
	pickup(ct, 1, 0);
	assert_int_equal(lb_ct_expire(ct, T_UNCONF - 1, 8, NULL, NULL), 0);
	assert_int_equal(lb_ct_expire(ct, T_UNCONF + 1, 8, NULL, NULL), 1);
	assert_int_equal(lb_ct_count(ct), 0);
	lb_ct_destroy(ct);
}

static void
test_ct_pickup_backend_rst_closes_and_client_syn_starts_over(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn *e = pickup(ct, 1, 0);
	struct lb_tcp_seg syn = {.flags = LB_TCP_SYN, .seq = 99, .len = 1};
	struct lb_tcp_seg rst = {.flags = LB_TCP_RST, .seq = 5};

	(void)state;
	assert_int_equal(lb_ct_tcp_seg(ct, e, &syn, LB_DIR_CLIENT, 1), LB_CT_STATE_FREE);
	assert_int_equal(e->state, LB_CT_TCP_UNCONFIRMED);
	assert_int_equal(lb_ct_tcp_seg(ct, e, &rst, LB_DIR_BACKEND, 2), LB_CT_TCP_CLOSED);
	assert_int_equal(e->expire, 2 + T_CLOSED);
	lb_ct_destroy(ct);
}

/* An established connection with the client at sequence 1000000. */
static struct lb_conn *
est_flow(struct lb_ct *ct)
{
	struct lb_conn *e = tcp_flow(ct, 0);
	struct lb_tcp_seg s = {.flags = LB_TCP_SYN, .seq = 999999, .len = 1};

	assert_int_equal(lb_ct_tcp_seg(ct, e, &s, LB_DIR_CLIENT, 0), LB_CT_TCP_SYN);
	s = (struct lb_tcp_seg){.flags = LB_TCP_SYN | LB_TCP_ACK, .seq = 5, .len = 1};
	assert_int_equal(lb_ct_tcp_seg(ct, e, &s, LB_DIR_BACKEND, 1), LB_CT_TCP_SYN);
	s = (struct lb_tcp_seg){.flags = LB_TCP_ACK, .seq = 1000000, .len = 0};
	assert_int_equal(lb_ct_tcp_seg(ct, e, &s, LB_DIR_CLIENT, 2), LB_CT_TCP_ESTABLISHED);
	assert_int_equal(e->seq_client, 1000000);
	return e;
}

static void
test_ct_client_rst_outside_the_window_is_rejected_and_changes_nothing(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn *e = est_flow(ct);
	struct lb_conn before = *e;
	static const uint32_t bad[] = {0, 1000000 - RST_WIN - 1, 1000000 + RST_WIN + 1,
				       1000000u + 0x80000000u, 0xffffffffu};

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lb_tcp_seg rst = {.flags = LB_TCP_RST, .seq = bad[i]};
		assert_int_equal(lb_ct_tcp_seg(ct, e, &rst, LB_DIR_CLIENT, 10), LB_CT_RST_REJECTED);
		rst.flags |= LB_TCP_ACK;
		assert_int_equal(lb_ct_tcp_seg(ct, e, &rst, LB_DIR_CLIENT, 10), LB_CT_RST_REJECTED);
		assert_memory_equal(e, &before, sizeof(before));
	}
	lb_ct_destroy(ct);
}

static void
test_ct_client_rst_inside_the_window_closes(void **state)
{
	static const uint32_t good[] = {1000000, 1000000 - RST_WIN, 1000000 + RST_WIN, 1000123};

	(void)state;
	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct lb_ct *ct = table(8);
		struct lb_conn *e = est_flow(ct);
		struct lb_tcp_seg rst = {.flags = LB_TCP_RST | LB_TCP_ACK, .seq = good[i]};
		assert_int_equal(lb_ct_tcp_seg(ct, e, &rst, LB_DIR_CLIENT, 10), LB_CT_TCP_CLOSED);
		lb_ct_destroy(ct);
	}
}

static void
test_ct_client_seq_follows_data_across_wraparound_and_ignores_retransmits(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn *e = pickup(ct, 0xfffffff0u, 0);
	struct lb_tcp_seg d = {.flags = LB_TCP_ACK, .seq = 0xfffffff0u, .len = 0x40};

	(void)state;
	lb_ct_tcp_seg(ct, e, &d, LB_DIR_CLIENT, 1);
	assert_int_equal(e->seq_client, 0x30);
	d.seq = 0xffffff00u; /* an old retransmit does not move it back */
	lb_ct_tcp_seg(ct, e, &d, LB_DIR_CLIENT, 2);
	assert_int_equal(e->seq_client, 0x30);
	struct lb_tcp_seg rst = {.flags = LB_TCP_RST, .seq = 0x30};
	assert_int_equal(lb_ct_tcp_seg(ct, e, &rst, LB_DIR_CLIENT, 3), LB_CT_TCP_CLOSED);
	lb_ct_destroy(ct);
}

static void
test_ct_udp_query_and_answer_keep_the_short_timeout_a_stream_gets_the_long(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn c = conn(1, LB_MODE_DNAT, LB_AF_INET, LB_PROTO_UDP);
	struct lb_conn *e = lb_ct_insert(ct, &c, 0);

	(void)state;
	assert_int_equal(e->expire, T_UDP);
	lb_ct_udp_update(ct, e, LB_DIR_CLIENT, 10); /* a retry before any answer */
	assert_int_equal(e->state, LB_CT_UDP);
	lb_ct_udp_update(ct, e, LB_DIR_BACKEND, 20); /* the answer */
	assert_int_equal(e->state, LB_CT_UDP);
	assert_int_equal(e->expire, 20 + T_UDP);
	lb_ct_udp_update(ct, e, LB_DIR_CLIENT, 30); /* the client goes on: a stream */
	assert_int_equal(e->state, LB_CT_UDP_STREAM);
	assert_int_equal(e->expire, 30 + T_UDP_STREAM);
	lb_ct_destroy(ct);
}

static unsigned gone_count;

static void
count_gone(const struct lb_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	gone_count++;
}

/* Complete the handshake of e: the backend's SYN-ACK, the client's ACK. */
static void
establish(struct lb_ct *ct, struct lb_conn *e, uint32_t now)
{
	lb_ct_tcp_update(ct, e, LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, now);
	assert_int_equal(lb_ct_tcp_update(ct, e, LB_TCP_ACK, LB_DIR_CLIENT, now),
			 LB_CT_TCP_ESTABLISHED);
}

static void
test_ct_reclaim_evicts_the_oldest_half_open_and_spares_established(void **state)
{
	enum { CAP = 16 };
	struct lb_ct *ct = table(CAP);
	struct lb_conn *e[CAP];

	(void)state;
	for (uint32_t n = 0; n < CAP; n++) {
		struct lb_conn c = conn(n, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
		e[n] = lb_ct_insert(ct, &c, 100 + n); /* SYN entries, older first */
		assert_non_null(e[n]);
	}
	/* all established but 5 (the backend sent its SYN-ACK) and 9 (nothing back) */
	for (uint32_t n = 0; n < CAP; n++)
		if (n != 5 && n != 9)
			establish(ct, e[n], 100 + n);
	lb_ct_tcp_update(ct, e[5], LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, 105);
	struct lb_conn x = conn(100, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	assert_null(lb_ct_insert(ct, &x, 200));
	gone_count = 0;
	/* the older half-open one goes first, answered by the backend or not */
	assert_int_equal(lb_ct_reclaim(ct, 200, count_gone, NULL), 2);
	assert_int_equal(gone_count, 1);
	assert_int_equal(e[5]->state, LB_CT_STATE_FREE);
	assert_int_equal(e[9]->state, LB_CT_TCP_SYN);
	struct lb_conn *ex = lb_ct_insert(ct, &x, 200);
	assert_non_null(ex);
	establish(ct, ex, 200);
	/* then the other one */
	assert_int_equal(lb_ct_reclaim(ct, 201, count_gone, NULL), 2);
	assert_int_equal(e[9]->state, LB_CT_STATE_FREE);
	struct lb_conn y = conn(101, LB_MODE_FNAT, LB_AF_INET, LB_PROTO_TCP);
	struct lb_conn *ey = lb_ct_insert(ct, &y, 201);
	assert_non_null(ey);
	establish(ct, ey, 201);
	/* established entries only, none expired: nothing can go */
	gone_count = 0;
	assert_int_equal(lb_ct_reclaim(ct, 202, count_gone, NULL), 0);
	assert_int_equal(gone_count, 0);
	assert_int_equal(lb_ct_count(ct), CAP);
	/* once they expire, a reclaim frees every expired entry it looks at */
	assert_int_equal(lb_ct_reclaim(ct, 202 + T_EST + T_SYN, count_gone, NULL), 1);
	assert_int_equal(gone_count, CAP);
	assert_int_equal(lb_ct_count(ct), 0);
	lb_ct_destroy(ct);
}

static void
test_ct_snat_reclaim_takes_the_port_of_a_half_open_entry_only(void **state)
{
	struct lb_ct *ct = snat_table(64, 5000, 5009, 1, 0, 60000);
	struct lb_ct_rev_key k;
	struct lb_conn *e[10];
	uint32_t rh;

	(void)state;
	/* every port of 5000..5009 held by a SYN entry */
	for (uint32_t n = 0; n < 10; n++)
		assert_non_null(e[n] = snat_flow(ct, n, 10 + n));
	k = snat_key();
	assert_int_equal(lb_ct_snat_alloc(ct, &k, 40, &rh), LB_EFULL);
	/* established ones are never taken: all but 3 (SYN-ACK seen) and 7 (nothing) */
	for (uint32_t n = 0; n < 10; n++)
		if (n != 3 && n != 7)
			establish(ct, e[n], 30);
	lb_ct_tcp_update(ct, e[3], LB_TCP_SYN | LB_TCP_ACK, LB_DIR_BACKEND, 13); /* expires before 7 */
	uint16_t p3 = e[3]->local_port, p7 = e[7]->local_port;
	gone_count = 0;
	/* the older of the two half-open ones first, its port reused at once */
	assert_int_equal(lb_ct_snat_reclaim(ct, &k, 40, &rh, count_gone, NULL), 2);
	assert_int_equal(k.local_port, p3);
	assert_int_equal(gone_count, 1);
	assert_int_equal(e[3]->state, LB_CT_STATE_FREE);
	assert_int_equal(lb_ct_count(ct), 9);
	struct lb_conn *n3 = snat_flow(ct, 20, 40);
	assert_non_null(n3);
	establish(ct, n3, 40);
	/* then the other */
	k = snat_key();
	assert_int_equal(lb_ct_snat_reclaim(ct, &k, 41, &rh, count_gone, NULL), 2);
	assert_int_equal(k.local_port, p7);
	struct lb_conn *n7 = snat_flow(ct, 21, 41);
	assert_non_null(n7);
	establish(ct, n7, 41);
	/* nothing half-open left: full */
	k = snat_key();
	assert_int_equal(lb_ct_snat_reclaim(ct, &k, 50, &rh, count_gone, NULL), LB_EFULL);
	/* an expired established one is freed, but its port cools: still full now */
	k = snat_key();
	assert_int_equal(lb_ct_snat_reclaim(ct, &k, 50 + T_EST * 2, &rh, count_gone,
					    NULL), LB_EFULL);
	assert_int_equal(lb_ct_count(ct), 9);
	lb_ct_destroy(ct);
}

static void
test_ct_client_rst_during_the_handshake_is_not_sequence_checked(void **state)
{
	struct lb_ct *ct = table(8);
	struct lb_conn *e = tcp_flow(ct, 0);
	struct lb_tcp_seg s = {.flags = LB_TCP_SYN, .seq = 1000, .len = 1};

	(void)state;
	lb_ct_tcp_seg(ct, e, &s, LB_DIR_CLIENT, 0);
	/* RFC 793: a RST answering an unacceptable ACK carries that ACK as its seq */
	s = (struct lb_tcp_seg){.flags = LB_TCP_RST, .seq = 0x77777777u};
	assert_int_equal(lb_ct_tcp_seg(ct, e, &s, LB_DIR_CLIENT, 1), LB_CT_TCP_CLOSED);
	lb_ct_destroy(ct);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct_init_rejects_capacity_zero),
		cmocka_unit_test(test_ct_init_rejects_short_or_misaligned_memory),
		cmocka_unit_test(test_ct_init_rejects_timeout_beyond_clock_half_range),
		cmocka_unit_test(test_ct_init_places_table_in_caller_memory),
		cmocka_unit_test(test_ct_insert_is_found_forward_and_reverse_in_every_mode_and_family),
		cmocka_unit_test(test_ct_same_client_in_two_services_are_two_flows),
		cmocka_unit_test(test_ct_lookup_differing_in_any_key_field_misses),
		cmocka_unit_test(test_ct_remove_unlinks_from_both_indexes),
		cmocka_unit_test(test_ct_remove_from_head_middle_and_tail_of_a_collision_chain),
		cmocka_unit_test(test_ct_full_bucket_chains_overflow_buckets_and_gives_them_back),
		cmocka_unit_test(test_ct_block_works_after_moving_to_another_address),
		cmocka_unit_test(test_ct_random_inserts_and_removes_match_a_shadow_model),
		cmocka_unit_test(test_ct_tcp_handshake_establishes_and_fins_both_ways_close),
		cmocka_unit_test(test_ct_tcp_backend_fin_first_also_closes_after_client_fin),
		cmocka_unit_test(test_ct_tcp_rst_from_either_direction_closes),
		cmocka_unit_test(test_ct_tcp_client_syn_on_closed_entry_reports_port_reuse_and_keeps_entry),
		cmocka_unit_test(test_ct_tcp_syn_ack_or_backend_syn_on_closed_entry_is_not_port_reuse),
		cmocka_unit_test(test_ct_tcp_retransmitted_client_syn_stays_syn_and_refreshes),
		cmocka_unit_test(test_ct_tcp_client_packet_before_any_reply_stays_syn),
		cmocka_unit_test(test_ct_tcp_client_data_after_any_backend_reply_establishes),
		cmocka_unit_test(test_ct_entry_lives_until_its_state_timeout_then_expires),
		cmocka_unit_test(test_ct_use_refreshes_expiry),
		cmocka_unit_test(test_ct_tcp_state_change_applies_the_new_state_timeout),
		cmocka_unit_test(test_ct_expire_budget_bounds_work_and_resumes_where_it_stopped),
		cmocka_unit_test(test_ct_expire_small_budget_eventually_frees_all_expired_and_keeps_live),
		cmocka_unit_test(test_ct_expiry_is_correct_across_clock_wraparound),
		cmocka_unit_test(test_ct_full_table_refuses_insert_and_keeps_existing),
		cmocka_unit_test(test_ct_capacity_one_works),
		cmocka_unit_test(test_ct_snat_gives_every_port_of_the_slice_once_then_refuses),
		cmocka_unit_test(test_ct_snat_port_is_not_given_again_within_the_reuse_delay),
		cmocka_unit_test(test_ct_snat_hint_is_checked_and_gives_the_same_port),
		cmocka_unit_test(test_ct_snat_prefetch_bulk_is_the_one_by_one_answer),
		cmocka_unit_test(test_ct_snat_without_delay_or_for_a_half_open_entry_reuses_at_once),
		cmocka_unit_test(test_ct_snat_skips_a_port_another_entry_holds),
		cmocka_unit_test(test_ct_snat_is_o1_at_a_large_pair),
		cmocka_unit_test(test_ct_snat_rejects_bad_settings),
		cmocka_unit_test(test_ct_foreach_visits_every_live_entry_once_and_stops_early),
		cmocka_unit_test(test_ct_entry_is_one_cache_line_and_ids_keep_24_bits),
		cmocka_unit_test(test_ct_pickup_keeps_short_timeout_until_the_backend_answers),
		cmocka_unit_test(test_ct_pickup_that_nobody_answers_expires_on_the_short_timeout),
		cmocka_unit_test(test_ct_pickup_backend_rst_closes_and_client_syn_starts_over),
		cmocka_unit_test(test_ct_client_rst_outside_the_window_is_rejected_and_changes_nothing),
		cmocka_unit_test(test_ct_client_rst_inside_the_window_closes),
		cmocka_unit_test(test_ct_client_seq_follows_data_across_wraparound_and_ignores_retransmits),
		cmocka_unit_test(test_ct_udp_query_and_answer_keep_the_short_timeout_a_stream_gets_the_long),
		cmocka_unit_test(test_ct_reclaim_evicts_the_oldest_half_open_and_spares_established),
		cmocka_unit_test(test_ct_snat_reclaim_takes_the_port_of_a_half_open_entry_only),
		cmocka_unit_test(test_ct_client_rst_during_the_handshake_is_not_sequence_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
