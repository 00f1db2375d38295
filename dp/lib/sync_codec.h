/*
 * sync_codec.h - the flow sync wire format between edgelb-dp boxes (docs/flow-sync.md).
 *
 * Pure code: no EAL, no threads, no state of its own. The control thread
 * (dp/control/sync.c) builds and opens datagrams with it; unit tests drive it
 * alone (tests/test_sync_codec.c). The keyed MAC is libsodium's crypto_auth
 * (HMAC-SHA-512-256); nothing here is a crypto primitive of its own.
 *
 * A datagram is a UDP payload:
 *   header (32 bytes) | count records (88 bytes each) | MAC (32 bytes)
 * All multi-byte fields are big-endian except the four ports of a record, which
 * are copied as they are in the packet (network order), as struct lb_conn keeps them.
 */
#ifndef LB_SYNC_CODEC_H
#define LB_SYNC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_SYNC_MAGIC 0x454c4253u /* "ELBS" */
#define LB_SYNC_VERSION 1
#define LB_SYNC_HDR_LEN 32
#define LB_SYNC_REC_LEN 88
#define LB_SYNC_MAC_LEN 32        /* crypto_auth_hmacsha512256_BYTES */
#define LB_SYNC_KEY_LEN 32        /* crypto_auth_hmacsha512256_KEYBYTES */
/* 15 records: 32 + 15 * 88 + 32 = 1384 bytes, inside a 1500-byte MTU over IPv6 + UDP. */
#define LB_SYNC_MAX_RECS 15
#define LB_SYNC_MAX_LEN (LB_SYNC_HDR_LEN + LB_SYNC_MAX_RECS * LB_SYNC_REC_LEN + LB_SYNC_MAC_LEN)
#define LB_SYNC_MAX_TIMEOUT_MS 86400000u /* the longest conntrack timeout (1 day) */
#define LB_SYNC_WINDOW 64                /* replay window, in sequence numbers */

enum lb_sync_type {
	LB_SYNC_RECORDS = 1,  /* count records: connections created, changed or refreshed */
	LB_SYNC_BULK_REQ = 2, /* no records: "send me all your connections" (join) */
	LB_SYNC_BULK_END = 3, /* no records: the bulk answer to a BULK_REQ is complete */
};

/* Why a datagram was refused (dp counters sync_rx_<name>). */
enum lb_sync_verdict {
	LB_SYNC_OK = 0,
	LB_SYNC_TRUNCATED,  /* shorter than header + MAC, or than its record count says */
	LB_SYNC_OVERSIZED,  /* longer than LB_SYNC_MAX_LEN, or more than LB_SYNC_MAX_RECS records */
	LB_SYNC_MALFORMED,  /* bad magic, unknown type, trailing bytes, records on a control type */
	LB_SYNC_BAD_VERSION,/* a version this dp does not speak (older or newer) */
	LB_SYNC_BAD_MAC,    /* the MAC does not verify under the shared key */
	LB_SYNC_REPLAYED,   /* sequence at or below the window, or seen already, or an older epoch */
	LB_SYNC_STALE,      /* timestamp further than the allowed age from this box's clock */
};

struct lb_sync_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;      /* enum lb_sync_type */
	uint16_t count;    /* records that follow */
	uint32_t sender;   /* sync.id of the sending box */
	uint32_t epoch;    /* the sender's start (Unix seconds): a restarted sender is newer */
	uint64_t seq;      /* per sender and epoch, +1 per datagram */
	uint64_t ts_ms;    /* sender's wall clock, Unix milliseconds */
};

/*
 * One connection, in the terms a peer can use: addresses and ports only, never
 * the sender's service or backend ids (they differ per box).
 */
struct lb_sync_rec {
	uint8_t family;      /* LB_AF_INET / LB_AF_INET6 */
	uint8_t proto;       /* 6 / 17 */
	uint8_t mode;        /* LB_MODE_FNAT (only mode synced today) */
	uint8_t state;       /* enum lb_ct_state */
	uint8_t flags;       /* LB_CONN_* of the sender's entry */
	uint8_t vip[16];     /* IPv4 in bytes 0..3, the rest zero */
	uint8_t client[16];
	uint8_t backend[16];
	uint8_t local[16];   /* the SNAT address the sender chose */
	uint16_t vport;      /* network order, the four ports */
	uint16_t cport;
	uint16_t bport;
	uint16_t lport;      /* the SNAT port the sender chose */
	uint32_t timeout_ms; /* remaining idle time at the sender when sent */
	uint32_t seq_client; /* TCP: the client's next sequence number (flags has SEQ_KNOWN) */
};

/* Record <-> 88 bytes. decode checks every field and returns 0, or -1 (malformed). */
void lb_sync_rec_encode(uint8_t *buf, const struct lb_sync_rec *r);
int lb_sync_rec_decode(const uint8_t *buf, struct lb_sync_rec *r);

/* Header <-> 32 bytes (no checks: lb_sync_open() does them). */
void lb_sync_hdr_encode(uint8_t *buf, const struct lb_sync_hdr *h);
void lb_sync_hdr_decode(const uint8_t *buf, struct lb_sync_hdr *h);

/*
 * Seal a datagram whose header and h->count records are already in buf: writes
 * the header (h) and the MAC after the records. Returns the datagram length.
 */
size_t lb_sync_seal(uint8_t *buf, const struct lb_sync_hdr *h, const uint8_t key[LB_SYNC_KEY_LEN]);

/*
 * Check a received datagram, cheapest test first: length, magic and type,
 * version, MAC. On LB_SYNC_OK fills *h; records are at buf + LB_SYNC_HDR_LEN.
 * Replay and age are the caller's (lb_sync_replay_check, its own clock).
 */
enum lb_sync_verdict lb_sync_open(const uint8_t *buf, size_t len,
				  const uint8_t key[LB_SYNC_KEY_LEN], struct lb_sync_hdr *h);

/*
 * Anti-replay state of one sender (IPsec's sliding window, RFC 4303 3.4.3): the
 * highest sequence seen in the current epoch and a bitmap of the LB_SYNC_WINDOW
 * below it. A newer epoch (the sender restarted) starts over.
 */
struct lb_sync_replay {
	bool init;
	uint32_t epoch;
	uint64_t top;
	uint64_t bits;   /* bit i: top - i was seen */
};

/* Accept (and remember) epoch/seq: LB_SYNC_OK, or LB_SYNC_REPLAYED. Call after the MAC. */
enum lb_sync_verdict lb_sync_replay_check(struct lb_sync_replay *w, uint32_t epoch, uint64_t seq);

/*
 * Read the shared key from a file: 64 hex digits (surrounding white space
 * allowed) or exactly 32 raw bytes. Refuses a file that group or others can read.
 * Returns 0, or -1 with a message in err.
 */
int lb_sync_key_load(const char *path, uint8_t key[LB_SYNC_KEY_LEN], char *err, size_t errlen);

/* "truncated", "oversized", ...: the counter suffix of a verdict. */
const char *lb_sync_verdict_name(enum lb_sync_verdict v);

#endif /* LB_SYNC_CODEC_H */
