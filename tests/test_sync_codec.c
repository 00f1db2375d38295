/*
 * test_sync_codec.c - unit tests for dp/lib/sync_codec.c: the flow sync record
 * and datagram codec, the keyed MAC (libsodium HMAC-SHA-512-256), the replay
 * window, the key file reader and the lag histogram (sync_lag.c). Pure C, no EAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "conntrack.h"
#include "lb_addr.h"
#include "lb_model.h"
#include "sync_codec.h"
#include "sync_lag.h"

static const uint8_t key[LB_SYNC_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void
rec4(struct lb_sync_rec *r, uint8_t i)
{
	memset(r, 0, sizeof(*r));
	r->family = LB_AF_INET;
	r->proto = LB_PROTO_TCP;
	r->mode = LB_MODE_FNAT;
	r->state = LB_CT_TCP_ESTABLISHED;
	r->flags = LB_CONN_SEQ_KNOWN | LB_CONN_SEEN_REPLY;
	uint8_t vip[4] = {198, 18, 10, 1}, cl[4] = {198, 18, 1, i}, be[4] = {198, 19, 2, 10},
		lo[4] = {198, 19, 2, 200};
	memcpy(r->vip, vip, 4);
	memcpy(r->client, cl, 4);
	memcpy(r->backend, be, 4);
	memcpy(r->local, lo, 4);
	r->vport = htons(80);
	r->cport = htons((uint16_t)(40000 + i));
	r->bport = htons(8080);
	r->lport = htons(5003);
	r->timeout_ms = 900000;
	r->seq_client = 0xdeadbeef;
}

static void
test_rec_roundtrip(void **state)
{
	(void)state;
	struct lb_sync_rec a, b;
	uint8_t buf[LB_SYNC_REC_LEN];

	rec4(&a, 7);
	lb_sync_rec_encode(buf, &a);
	/* fixed offsets: the wire format is what peers of other builds read */
	assert_int_equal(buf[0], 4);
	assert_int_equal(buf[1], 6);
	assert_int_equal(buf[8], 198);
	assert_int_equal(buf[72], 0);
	assert_int_equal(buf[73], 80);
	assert_int_equal(buf[80], 0x00);
	assert_int_equal(buf[83], 0xa0); /* 900000 = 0x000dbba0 */
	assert_int_equal(buf[84], 0xde);
	assert_int_equal(lb_sync_rec_decode(buf, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	/* IPv6 and UDP */
	memset(&a, 0, sizeof(a));
	a.family = LB_AF_INET6;
	a.proto = LB_PROTO_UDP;
	a.mode = LB_MODE_FNAT;
	a.state = LB_CT_UDP_STREAM;
	for (int i = 0; i < 16; i++) {
		a.vip[i] = (uint8_t)(0x20 + i);
		a.client[i] = (uint8_t)(0x30 + i);
		a.backend[i] = (uint8_t)(0x40 + i);
		a.local[i] = (uint8_t)(0x50 + i);
	}
	a.vport = a.cport = a.bport = a.lport = htons(53);
	a.timeout_ms = 1;
	lb_sync_rec_encode(buf, &a);
	assert_int_equal(lb_sync_rec_decode(buf, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_rec_rejects(void **state)
{
	(void)state;
	struct lb_sync_rec a, b;
	uint8_t buf[LB_SYNC_REC_LEN], bad[LB_SYNC_REC_LEN];

	rec4(&a, 1);
	lb_sync_rec_encode(buf, &a);
	struct { int off; uint8_t v; } cases[] = {
		{0, 5},            /* family */
		{1, 1},            /* proto ICMP */
		{2, LB_MODE_DNAT}, /* only fnat is synced */
		{3, LB_CT_NSTATES},
		{3, LB_CT_UDP},    /* UDP state on TCP */
		{4, 0x40},         /* unknown flag */
		{5, 1},            /* reserved */
		{12, 1},           /* IPv4 VIP with bytes past 4 */
		{73, 0},           /* vport 0 (with byte 72 = 0) */
		{78, 0},           /* lport high byte 0 ... */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, sizeof(bad));
		bad[cases[i].off] = cases[i].v;
		if (cases[i].off == 78)
			bad[79] = 0; /* ... and low byte: SNAT port 0 */
		assert_int_equal(lb_sync_rec_decode(bad, &b), -1);
	}
	/* timeout 0 and past a day */
	memcpy(bad, buf, sizeof(bad));
	memset(bad + 80, 0, 4);
	assert_int_equal(lb_sync_rec_decode(bad, &b), -1);
	memset(bad + 80, 0xff, 4);
	assert_int_equal(lb_sync_rec_decode(bad, &b), -1);
	/* zero addresses */
	memcpy(bad, buf, sizeof(bad));
	memset(bad + 56, 0, 16);
	assert_int_equal(lb_sync_rec_decode(bad, &b), -1);
}

static size_t
dgram(uint8_t *buf, uint16_t n, uint64_t seq, const uint8_t *k)
{
	struct lb_sync_hdr h = {.magic = LB_SYNC_MAGIC, .version = LB_SYNC_VERSION,
				.type = LB_SYNC_RECORDS, .count = n, .sender = 7, .epoch = 1000,
				.seq = seq, .ts_ms = 1700000000000ull};
	for (uint16_t i = 0; i < n; i++) {
		struct lb_sync_rec r;
		rec4(&r, (uint8_t)i);
		lb_sync_rec_encode(buf + LB_SYNC_HDR_LEN + i * LB_SYNC_REC_LEN, &r);
	}
	return lb_sync_seal(buf, &h, k);
}

static void
test_dgram_open(void **state)
{
	(void)state;
	uint8_t buf[LB_SYNC_MAX_LEN + 64];
	struct lb_sync_hdr h;
	size_t len = dgram(buf, 3, 42, key);

	assert_int_equal(len, LB_SYNC_HDR_LEN + 3 * LB_SYNC_REC_LEN + LB_SYNC_MAC_LEN);
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_OK);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.sender, 7);
	assert_int_equal(h.epoch, 1000);
	assert_true(h.seq == 42);
	assert_true(h.ts_ms == 1700000000000ull);
	assert_int_equal(buf[0], 'E');
	assert_int_equal(buf[3], 'S');

	/* the full batch fits */
	len = dgram(buf, LB_SYNC_MAX_RECS, 43, key);
	assert_int_equal(len, LB_SYNC_MAX_LEN);
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_OK);

	/* every cut of a valid datagram is truncated (or too short for a header) */
	len = dgram(buf, 2, 44, key);
	for (size_t cut = 0; cut < len; cut += 7)
		assert_int_equal(lb_sync_open(buf, cut, key, &h), LB_SYNC_TRUNCATED);
	/* one byte more than the count says */
	assert_int_equal(lb_sync_open(buf, len + 1, key, &h), LB_SYNC_MALFORMED);
	/* over the largest datagram */
	assert_int_equal(lb_sync_open(buf, LB_SYNC_MAX_LEN + 1, key, &h), LB_SYNC_OVERSIZED);
	/* count over the batch limit */
	len = dgram(buf, 2, 45, key);
	buf[6] = 0;
	buf[7] = LB_SYNC_MAX_RECS + 1;
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_OVERSIZED);

	/* wrong key, flipped bits anywhere: bad MAC */
	uint8_t other[LB_SYNC_KEY_LEN];
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	len = dgram(buf, 2, 46, other);
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_BAD_MAC);
	for (size_t at = 8; at < len; at += 13) {
		len = dgram(buf, 2, 47, key);
		buf[at] ^= 0x10;
		enum lb_sync_verdict v = lb_sync_open(buf, len, key, &h);
		/* a flipped count byte changes the length check first */
		assert_true(v == LB_SYNC_BAD_MAC || (at == 6 || at == 7));
	}

	/* magic, version, type */
	len = dgram(buf, 1, 48, key);
	buf[0] = 'X';
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_MALFORMED);
	len = dgram(buf, 1, 49, key);
	buf[4] = LB_SYNC_VERSION + 1;
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_BAD_VERSION);
	buf[4] = 0;
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_BAD_VERSION);
	len = dgram(buf, 1, 50, key);
	buf[5] = 9;
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_MALFORMED);

	/* control types carry no records */
	struct lb_sync_hdr q = {.magic = LB_SYNC_MAGIC, .version = LB_SYNC_VERSION,
				.type = LB_SYNC_BULK_REQ, .sender = 2, .epoch = 1, .seq = 1};
	len = lb_sync_seal(buf, &q, key);
	assert_int_equal(len, LB_SYNC_HDR_LEN + LB_SYNC_MAC_LEN);
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_OK);
	assert_int_equal(h.type, LB_SYNC_BULK_REQ);
	q.count = 1;
	len = lb_sync_seal(buf, &q, key);
	assert_int_equal(lb_sync_open(buf, len, key, &h), LB_SYNC_MALFORMED);
}

static void
test_replay_window(void **state)
{
	(void)state;
	struct lb_sync_replay w = {0};

	assert_int_equal(lb_sync_replay_check(&w, 10, 100), LB_SYNC_OK);
	assert_int_equal(lb_sync_replay_check(&w, 10, 100), LB_SYNC_REPLAYED);
	assert_int_equal(lb_sync_replay_check(&w, 10, 101), LB_SYNC_OK);
	/* out of order inside the window: once each */
	assert_int_equal(lb_sync_replay_check(&w, 10, 110), LB_SYNC_OK);
	assert_int_equal(lb_sync_replay_check(&w, 10, 105), LB_SYNC_OK);
	assert_int_equal(lb_sync_replay_check(&w, 10, 105), LB_SYNC_REPLAYED);
	assert_int_equal(lb_sync_replay_check(&w, 10, 101), LB_SYNC_REPLAYED);
	assert_int_equal(lb_sync_replay_check(&w, 10, 102), LB_SYNC_OK);
	/* below the window */
	assert_int_equal(lb_sync_replay_check(&w, 10, 110 + LB_SYNC_WINDOW), LB_SYNC_OK);
	assert_int_equal(lb_sync_replay_check(&w, 10, 110), LB_SYNC_REPLAYED);
	assert_int_equal(lb_sync_replay_check(&w, 10, 111), LB_SYNC_OK);
	/* a far jump forgets the old bits */
	assert_int_equal(lb_sync_replay_check(&w, 10, 1000000), LB_SYNC_OK);
	assert_int_equal(lb_sync_replay_check(&w, 10, 999999), LB_SYNC_OK);
	/* an older epoch is a replay of a past life; a newer one starts over */
	assert_int_equal(lb_sync_replay_check(&w, 9, 5000000), LB_SYNC_REPLAYED);
	assert_int_equal(lb_sync_replay_check(&w, 11, 1), LB_SYNC_OK);
	assert_int_equal(lb_sync_replay_check(&w, 11, 1), LB_SYNC_REPLAYED);
	assert_int_equal(lb_sync_replay_check(&w, 10, 2000000), LB_SYNC_REPLAYED);
	assert_string_equal(lb_sync_verdict_name(LB_SYNC_REPLAYED), "replayed");
}

static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void
test_key_file(void **state)
{
	(void)state;
	char path[] = "/tmp/edgelb-test-sync-key-XXXXXX";
	int fd = mkstemp(path);
	uint8_t k[LB_SYNC_KEY_LEN];
	char err[256];
	const char *hex = "  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";

	assert_true(fd >= 0);
	close(fd);
	write_file(path, hex, strlen(hex), 0600);
	assert_int_equal(lb_sync_key_load(path, k, err, sizeof(err)), 0);
	for (int i = 0; i < LB_SYNC_KEY_LEN; i++)
		assert_int_equal(k[i], i);
	write_file(path, key, sizeof(key), 0400);
	assert_int_equal(lb_sync_key_load(path, k, err, sizeof(err)), 0);
	assert_memory_equal(k, key, sizeof(key));
	/* readable by others */
	write_file(path, hex, strlen(hex), 0644);
	assert_int_equal(lb_sync_key_load(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	/* short, junk */
	write_file(path, "abcd\n", 5, 0600);
	assert_int_equal(lb_sync_key_load(path, k, err, sizeof(err)), -1);
	write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fzz", 66,
		   0600);
	assert_int_equal(lb_sync_key_load(path, k, err, sizeof(err)), -1);
	unlink(path);
	assert_int_equal(lb_sync_key_load(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
}

/* The lag histogram: percentiles within 12.5 % of the true value, clock skew counted. */
static void
test_lag_hist(void **state)
{
	(void)state;
	static struct lb_lag_hist h;

	assert_int_equal(lb_lag_quantile(&h, 0.5), 0);
	for (int i = 1; i <= 1000; i++)
		lb_lag_add(&h, i * 100); /* 100 us .. 100 ms */
	assert_int_equal(h.n, 1000);
	assert_int_equal(h.max_us, 100000);
	uint64_t p50 = lb_lag_quantile(&h, 0.5), p99 = lb_lag_quantile(&h, 0.99);
	assert_true(p50 >= 50000 * 7 / 8 && p50 <= 50000 * 9 / 8);
	assert_true(p99 >= 99000 * 7 / 8 && p99 <= 100000);
	assert_int_equal(lb_lag_quantile(&h, 1.0), 100000); /* the middle is capped at the max */
	assert_true(lb_lag_quantile(&h, 1.0) <= h.max_us);
	/* small values are exact, negative ones (a clock ahead) count as 0 */
	static struct lb_lag_hist g;
	lb_lag_add(&g, -5);
	lb_lag_add(&g, 3);
	assert_int_equal(g.ahead, 1);
	assert_int_equal(lb_lag_quantile(&g, 0.5), 0);
	assert_int_equal(lb_lag_quantile(&g, 1.0), 3);
	/* huge values stay in the last bucket */
	lb_lag_add(&g, INT64_MAX);
	assert_int_equal(g.n, 3);
	assert_true(lb_lag_quantile(&g, 1.0) >= 0xC0000000ull);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rec_roundtrip),
		cmocka_unit_test(test_rec_rejects),
		cmocka_unit_test(test_dgram_open),
		cmocka_unit_test(test_replay_window),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_lag_hist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
