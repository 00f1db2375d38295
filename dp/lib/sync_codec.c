/*
 * sync_codec.c - the flow sync wire format (sync_codec.h, docs/flow-sync.md).
 *
 * Pure: called by the control thread (dp/control/sync.c) and by unit tests.
 * Keeps no state; the replay window is the caller's struct. The MAC is
 * libsodium's crypto_auth_hmacsha512256 (and its constant-time verify).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "conntrack.h"
#include "lb_addr.h"
#include "lb_model.h"
#include "sync_codec.h"

_Static_assert(crypto_auth_hmacsha512256_BYTES == LB_SYNC_MAC_LEN, "MAC length");
_Static_assert(crypto_auth_hmacsha512256_KEYBYTES == LB_SYNC_KEY_LEN, "key length");

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/*
 * Record layout (88 bytes):
 *   0 family  1 proto  2 mode  3 state  4 flags  5..7 zero
 *   8 vip[16]  24 client[16]  40 backend[16]  56 local[16]
 *   72 vport  74 cport  76 bport  78 lport (network order, copied)
 *   80 timeout_ms (BE32)  84 seq_client (BE32)
 */
void
lb_sync_rec_encode(uint8_t *b, const struct lb_sync_rec *r)
{
	memset(b, 0, LB_SYNC_REC_LEN);
	b[0] = r->family;
	b[1] = r->proto;
	b[2] = r->mode;
	b[3] = r->state;
	b[4] = r->flags;
	memcpy(b + 8, r->vip, 16);
	memcpy(b + 24, r->client, 16);
	memcpy(b + 40, r->backend, 16);
	memcpy(b + 56, r->local, 16);
	memcpy(b + 72, &r->vport, 2);
	memcpy(b + 74, &r->cport, 2);
	memcpy(b + 76, &r->bport, 2);
	memcpy(b + 78, &r->lport, 2);
	put32(b + 80, r->timeout_ms);
	put32(b + 84, r->seq_client);
}

/* IPv4 addresses keep bytes 4..15 zero, so equal flows compare equal everywhere. */
static bool
addr_ok(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == LB_AF_INET && memcmp(a + 4, zero, 12) != 0)
		return false;
	return memcmp(a, zero, (size_t)lb_addr_len(family)) != 0;
}

int
lb_sync_rec_decode(const uint8_t *b, struct lb_sync_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->family = b[0];
	r->proto = b[1];
	r->mode = b[2];
	r->state = b[3];
	r->flags = b[4];
	memcpy(r->vip, b + 8, 16);
	memcpy(r->client, b + 24, 16);
	memcpy(r->backend, b + 40, 16);
	memcpy(r->local, b + 56, 16);
	memcpy(&r->vport, b + 72, 2);
	memcpy(&r->cport, b + 74, 2);
	memcpy(&r->bport, b + 76, 2);
	memcpy(&r->lport, b + 78, 2);
	r->timeout_ms = get32(b + 80);
	r->seq_client = get32(b + 84);
	if (r->family != LB_AF_INET && r->family != LB_AF_INET6)
		return -1;
	if (r->proto != LB_PROTO_TCP && r->proto != LB_PROTO_UDP)
		return -1;
	if (r->mode != LB_MODE_FNAT || b[5] || b[6] || b[7])
		return -1;
	if (r->state >= LB_CT_NSTATES || (r->flags & ~0x0fu) != 0)
		return -1;
	bool tcp_state = r->state != LB_CT_UDP && r->state != LB_CT_UDP_STREAM;
	if (tcp_state != (r->proto == LB_PROTO_TCP))
		return -1;
	if (!addr_ok(r->family, r->vip) || !addr_ok(r->family, r->client) ||
	    !addr_ok(r->family, r->backend) || !addr_ok(r->family, r->local))
		return -1;
	if (r->vport == 0 || r->cport == 0 || r->bport == 0 || r->lport == 0)
		return -1;
	if (r->timeout_ms == 0 || r->timeout_ms > LB_SYNC_MAX_TIMEOUT_MS)
		return -1;
	return 0;
}

/*
 * Header layout (32 bytes):
 *   0 magic  4 version  5 type  6 count  8 sender  12 epoch  16 seq  24 ts_ms
 */
void
lb_sync_hdr_encode(uint8_t *b, const struct lb_sync_hdr *h)
{
	put32(b, h->magic);
	b[4] = h->version;
	b[5] = h->type;
	put16(b + 6, h->count);
	put32(b + 8, h->sender);
	put32(b + 12, h->epoch);
	put64(b + 16, h->seq);
	put64(b + 24, h->ts_ms);
}

void
lb_sync_hdr_decode(const uint8_t *b, struct lb_sync_hdr *h)
{
	h->magic = get32(b);
	h->version = b[4];
	h->type = b[5];
	h->count = get16(b + 6);
	h->sender = get32(b + 8);
	h->epoch = get32(b + 12);
	h->seq = get64(b + 16);
	h->ts_ms = get64(b + 24);
}

size_t
lb_sync_seal(uint8_t *buf, const struct lb_sync_hdr *h, const uint8_t key[LB_SYNC_KEY_LEN])
{
	size_t body = LB_SYNC_HDR_LEN + (size_t)h->count * LB_SYNC_REC_LEN;

	lb_sync_hdr_encode(buf, h);
	crypto_auth_hmacsha512256(buf + body, buf, body, key);
	return body + LB_SYNC_MAC_LEN;
}

enum lb_sync_verdict
lb_sync_open(const uint8_t *buf, size_t len, const uint8_t key[LB_SYNC_KEY_LEN],
	     struct lb_sync_hdr *h)
{
	if (len > LB_SYNC_MAX_LEN)
		return LB_SYNC_OVERSIZED;
	if (len < LB_SYNC_HDR_LEN + LB_SYNC_MAC_LEN)
		return LB_SYNC_TRUNCATED;
	lb_sync_hdr_decode(buf, h);
	if (h->magic != LB_SYNC_MAGIC)
		return LB_SYNC_MALFORMED;
	/* Before the MAC: another version may authenticate differently. */
	if (h->version != LB_SYNC_VERSION)
		return LB_SYNC_BAD_VERSION;
	if (h->type < LB_SYNC_RECORDS || h->type > LB_SYNC_BULK_END ||
	    (h->type != LB_SYNC_RECORDS && h->count != 0))
		return LB_SYNC_MALFORMED;
	if (h->count > LB_SYNC_MAX_RECS)
		return LB_SYNC_OVERSIZED;
	size_t want = LB_SYNC_HDR_LEN + (size_t)h->count * LB_SYNC_REC_LEN + LB_SYNC_MAC_LEN;
	if (len < want)
		return LB_SYNC_TRUNCATED;
	if (len > want)
		return LB_SYNC_MALFORMED;
	size_t body = want - LB_SYNC_MAC_LEN;
	if (crypto_auth_hmacsha512256_verify(buf + body, buf, body, key) != 0)
		return LB_SYNC_BAD_MAC;
	return LB_SYNC_OK;
}

enum lb_sync_verdict
lb_sync_replay_check(struct lb_sync_replay *w, uint32_t epoch, uint64_t seq)
{
	if (!w->init || (int32_t)(epoch - w->epoch) > 0) {
		w->init = true;
		w->epoch = epoch;
		w->top = seq;
		w->bits = 1;
		return LB_SYNC_OK;
	}
	if (epoch != w->epoch)
		return LB_SYNC_REPLAYED; /* an older life of the sender */
	if (seq > w->top) {
		uint64_t d = seq - w->top;
		w->bits = d >= LB_SYNC_WINDOW ? 1 : (w->bits << d) | 1;
		w->top = seq;
		return LB_SYNC_OK;
	}
	uint64_t d = w->top - seq;
	if (d >= LB_SYNC_WINDOW || (w->bits >> d) & 1)
		return LB_SYNC_REPLAYED;
	w->bits |= 1ull << d;
	return LB_SYNC_OK;
}

int
lb_sync_key_load(const char *path, uint8_t key[LB_SYNC_KEY_LEN], char *err, size_t errlen)
{
	char buf[256];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "sync.key_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "sync.key_file %s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & 0077) {
		close(fd);
		snprintf(err, errlen, "sync.key_file %s: readable by group or others (chmod 600)",
			 path);
		return -1;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "sync.key_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium did not initialise");
		return -1;
	}
	if (n == LB_SYNC_KEY_LEN) {
		memcpy(key, buf, LB_SYNC_KEY_LEN);
		sodium_memzero(buf, sizeof(buf));
		return 0;
	}
	buf[n] = '\0';
	size_t got = 0;
	const char *end = NULL;
	const char *s = buf;
	while (isspace((unsigned char)*s))
		s++;
	int rc = sodium_hex2bin(key, LB_SYNC_KEY_LEN, s, strlen(s), NULL, &got, &end);
	while (rc == 0 && end != NULL && isspace((unsigned char)*end))
		end++;
	bool junk = end != NULL && *end != '\0'; /* end points into buf */
	sodium_memzero(buf, sizeof(buf));
	if (rc != 0 || got != LB_SYNC_KEY_LEN || junk) {
		snprintf(err, errlen,
			 "sync.key_file %s: want 64 hex digits or 32 raw bytes "
			 "(e.g. head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')", path);
		return -1;
	}
	return 0;
}

const char *
lb_sync_verdict_name(enum lb_sync_verdict v)
{
	static const char *const names[] = {"ok", "truncated", "oversized", "malformed",
					    "bad_version", "bad_mac", "replayed", "stale"};

	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}
