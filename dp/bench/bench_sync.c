/*
 * bench_sync.c - flow sync figures of edgelb-bench-dp (bench_sync.h).
 *
 * The bench thread plays both sides: after each burst it runs the control thread's
 * lb_sync_poll() (batching, sealing, sending the worker's records) and frees what
 * that queued for transmission, off the worker's clock; for the absorb figure it
 * hands sealed datagrams straight to worker 0's sync ring, as a worker would, and
 * times the control thread taking them in.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bench_sync.h"
#include "dp.h"
#include "lb_counters.h"
#include "peer.h"
#include "sync.h"
#include "sync_codec.h"
#include "worker.h"

static const uint8_t key[LB_SYNC_KEY_LEN] = "edgelb-bench-sync-key-0123456789";

int
bench_sync_key(char *path)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	int ok = fchmod(fd, 0600) == 0 && write(fd, key, sizeof(key)) == (ssize_t)sizeof(key);
	close(fd);
	return ok ? 0 : -1;
}

void
bench_sync_neigh(FILE *f)
{
	fprintf(f, ",\n  { address = \"" BENCH_SYNC_PEER "\"; mac = \"02:00:00:00:01:99\"; }");
}

void
bench_sync_group(FILE *f, const char *key_path)
{
	fprintf(f, "sync = { enabled = true; id = 1; peers = [\"" BENCH_SYNC_PEER "\"];\n"
		   "  key_file = \"%s\"; refresh_s = 3600; bulk_timeout_ms = 0; capacity = 262144; };\n",
		key_path);
}

static uint64_t cpu_ns; /* this thread's CPU time in bench_sync_drain() */

static uint64_t
thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
bench_sync_cpu_ns(void)
{
	return cpu_ns;
}

uint64_t
bench_sync_drain(struct lb_dp *dp)
{
	struct rte_mbuf *m[64];
	uint64_t t0 = rte_rdtsc(), c0 = thread_ns();
	unsigned n;

	lb_sync_poll(dp->sync);
	while ((n = rte_ring_sc_dequeue_burst(lb_worker_tx_ring(dp->workers[0]), (void **)m, 64,
					      NULL)) > 0)
		rte_pktmbuf_free_bulk(m, n);
	cpu_ns += thread_ns() - c0;
	return rte_rdtsc() - t0;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Datagram i from the peer: 15 records of clients 10.(i...) to the VIP, in a frame. */
static struct rte_mbuf *
peer_frame(struct lb_dp *dp, uint32_t i, uint64_t ts)
{
	uint8_t dg[LB_SYNC_MAX_LEN];
	struct lb_sync_hdr h = {.magic = LB_SYNC_MAGIC, .version = LB_SYNC_VERSION,
				.type = LB_SYNC_RECORDS, .count = LB_SYNC_MAX_RECS, .sender = 2,
				.epoch = 1, .seq = i + 1, .ts_ms = ts};

	for (uint32_t k = 0; k < LB_SYNC_MAX_RECS; k++) {
		struct lb_sync_rec r = {.family = LB_AF_INET, .proto = LB_PROTO_TCP,
					.mode = LB_MODE_FNAT, .state = LB_CT_TCP_ESTABLISHED,
					.flags = LB_CONN_SEEN_REPLY | LB_CONN_SEQ_KNOWN,
					.timeout_ms = 900000, .seq_client = k};
		uint32_t c = i * LB_SYNC_MAX_RECS + k;
		uint8_t vip[4] = {198, 18, 0, 100}, be[4] = {198, 19, 1, 1};
		uint8_t lo[4] = {198, 19, 200, (uint8_t)(1 + c / 60000)};
		memcpy(r.vip, vip, 4);
		r.client[0] = 10, r.client[1] = (uint8_t)(c >> 16), r.client[2] = (uint8_t)(c >> 8),
		r.client[3] = (uint8_t)c;
		memcpy(r.backend, be, 4);
		memcpy(r.local, lo, 4);
		r.vport = rte_cpu_to_be_16(80);
		r.cport = rte_cpu_to_be_16((uint16_t)(1024 + (c & 0x3fff)));
		r.bport = rte_cpu_to_be_16(8080);
		r.lport = rte_cpu_to_be_16((uint16_t)(1024 + c % 60000));
		lb_sync_rec_encode(dg + LB_SYNC_HDR_LEN + k * LB_SYNC_REC_LEN, &r);
	}
	size_t len = lb_sync_seal(dg, &h, key);
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + 20 + 8 + len)) : NULL;
	if (f == NULL)
		return NULL;
	memset(f, 0, 42);
	memcpy(f, dp->ports[1].mac.addr_bytes, 6);
	f[12] = 0x08;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + len));
	ip->time_to_live = 64;
	ip->next_proto_id = 17;
	uint8_t src[4] = {198, 19, 0, 99}, dst[4] = {198, 19, 0, 1};
	memcpy(&ip->src_addr, src, 4);
	memcpy(&ip->dst_addr, dst, 4);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	uint8_t *u = f + 34;
	u[0] = u[2] = (uint8_t)(dp->conf.sync.port >> 8);
	u[1] = u[3] = (uint8_t)dp->conf.sync.port;
	u[4] = (uint8_t)((8 + len) >> 8);
	u[5] = (uint8_t)(8 + len);
	memcpy(u + 8, dg, len);
	return m;
}

int
bench_sync_absorb(struct lb_dp *dp, uint32_t n)
{
	struct rte_ring *r = lb_worker_sync_rx_ring(dp->workers[0]);
	uint64_t before = dp->ctrl[LB_CTRL_SYNC_RX_RECORDS], cyc = 0, ts = wall_ms();
	uint64_t dg0 = dp->ctrl[LB_CTRL_SYNC_RX_DGRAMS], full0 = dp->ctrl[LB_CTRL_SYNC_PEER_FULL];
	uint32_t done = 0;
	uint64_t ns0 = cpu_ns;

	while (done < n) {
		uint32_t k = 0;
		for (; k < 512 && done + k < n; k++) {
			struct rte_mbuf *m = peer_frame(dp, done + k, ts);
			if (m == NULL || rte_ring_sp_enqueue(r, m) != 0) {
				rte_pktmbuf_free(m);
				return -1;
			}
		}
		done += k;
		while (rte_ring_count(r) > 0)
			cyc += bench_sync_drain(dp);
	}
	uint64_t recs = dp->ctrl[LB_CTRL_SYNC_RX_RECORDS] - before, hz = rte_get_tsc_hz();
	double sec = (double)cyc / (double)hz;
	printf("sync_absorb_datagrams=%u\n", n);
	printf("sync_absorb_records=%" PRIu64 "\n", recs);
	printf("sync_absorb_cycles_per_record=%.1f\n", (double)cyc / (double)(recs ? recs : 1));
	printf("sync_absorb_records_per_s=%.0f\n", (double)recs / sec);
	printf("sync_absorb_datagrams_per_s=%.0f\n", (double)n / sec);
	/* CPU time, not wall time: what one core can absorb when it runs only this */
	double cpu = (double)(cpu_ns - ns0) / 1e9;
	printf("sync_absorb_records_per_cpu_s=%.0f\n", (double)recs / cpu);
	printf("sync_absorb_datagrams_per_cpu_s=%.0f\n", (double)n / cpu);
	uint64_t full = dp->ctrl[LB_CTRL_SYNC_PEER_FULL] - full0;
	printf("sync_absorb_peer_full=%" PRIu64 "\n", full);
	printf("sync_peer_entries=%u\n", lb_peer_count(dp->peers));
	/* Every datagram accepted; a record is stored or counted as a full bucket (8 ways). */
	return dp->ctrl[LB_CTRL_SYNC_RX_DGRAMS] - dg0 == n &&
	       recs + full == (uint64_t)n * LB_SYNC_MAX_RECS ? 0 : -1;
}
