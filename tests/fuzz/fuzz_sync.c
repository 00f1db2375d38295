/*
 * fuzz_sync.c - libFuzzer harness for the flow sync codec (dp/lib/sync_codec.c).
 *
 * Any bytes are a received datagram: lb_sync_open() must never read outside them
 * (ASan on an exact-size copy), and accepts only a whole datagram (the seeds are
 * authentic; a forged MAC is out of reach). Then the same bytes, sealed with the key as if a peer sent
 * them, go past the MAC: every record either decodes and re-encodes to exactly its
 * bytes, or is refused; the replay window accepts a sequence at most once. Built
 * and run by scripts/fuzz.sh; seed corpus in tests/fuzz/corpus/sync/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[LB_SYNC_KEY_LEN] = "fuzz-sync-key-0123456789abcdefgh";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_sync_hdr h;
	uint8_t *f = malloc(size ? size : 1);

	if (f == NULL)
		return 0;
	memcpy(f, data, size);
	enum lb_sync_verdict v = lb_sync_open(f, size, key, &h);
	/* Accepted only whole (the seeds are authentic; a forged MAC is out of reach). */
	if (v == LB_SYNC_OK &&
	    size != LB_SYNC_HDR_LEN + (size_t)h.count * LB_SYNC_REC_LEN + LB_SYNC_MAC_LEN)
		abort();
	free(f);

	/* Sealed: the records of the input behind a valid MAC. */
	if (size < LB_SYNC_HDR_LEN)
		return 0;
	uint8_t buf[LB_SYNC_MAX_LEN];
	size_t n = (size - LB_SYNC_HDR_LEN) / LB_SYNC_REC_LEN;
	if (n > LB_SYNC_MAX_RECS)
		n = LB_SYNC_MAX_RECS;
	memcpy(buf, data, LB_SYNC_HDR_LEN + n * LB_SYNC_REC_LEN);
	lb_sync_hdr_decode(buf, &h);
	h.magic = LB_SYNC_MAGIC;
	h.version = LB_SYNC_VERSION;
	h.type = LB_SYNC_RECORDS;
	h.count = (uint16_t)n;
	size_t len = lb_sync_seal(buf, &h, key);
	struct lb_sync_hdr g;
	if (lb_sync_open(buf, len, key, &g) != LB_SYNC_OK || g.count != n || g.seq != h.seq)
		abort();
	for (size_t i = 0; i < n; i++) {
		const uint8_t *in = buf + LB_SYNC_HDR_LEN + i * LB_SYNC_REC_LEN;
		struct lb_sync_rec r;
		uint8_t out[LB_SYNC_REC_LEN];
		if (lb_sync_rec_decode(in, &r) < 0)
			continue;
		lb_sync_rec_encode(out, &r);
		if (memcmp(in, out, LB_SYNC_REC_LEN) != 0)
			abort(); /* accepted, but not what was sent */
	}
	struct lb_sync_replay w = {0};
	if (lb_sync_replay_check(&w, g.epoch, g.seq) != LB_SYNC_OK ||
	    lb_sync_replay_check(&w, g.epoch, g.seq) != LB_SYNC_REPLAYED)
		abort();
	return 0;
}
