/*
 * bench_dp.c - cycles per packet of edgelb-dp's forwarding pipeline, in process.
 *
 *   edgelb-bench-dp [EAL args] -- [--flows N] [--backends N] [--passes N]
 *                   [--newflow N] [--scheduler NAME] [--config-out FILE] [--sync]
 *
 * Builds a whole dp with lb_dp_build() from a generated configuration (two
 * net_null ports, one worker, one fnat TCP service with static neighbours), then
 * plays the worker itself on the main lcore: it marks itself online as worker 0 in
 * dp->qsbr and feeds lb_worker_process() bursts of mbufs it allocates and fills
 * from a template. No worker lcore is ever launched and nothing is received: the
 * generator is this thread, the sink is net_null's TX, which frees the mbufs.
 * That keeps a 2-core VM out of the figure: one core, no NIC, no second thread.
 *
 * The worker lcore named in the config exists only because lb_dp_build() wants
 * one (EAL: --lcores 0,1@0 gives lcore 1 on the same CPU, never launched).
 *
 * Three figures, all from rte_rdtsc() over a fixed number of packets:
 *   floor       alloc + fill + tx burst to net_null, no load-balancing work
 *   established 64-byte TCP ACKs to the VIP over `flows` tracked connections, in a
 *               shuffled order; the flows are set up first (SYN, backend SYN-ACK,
 *               one ACK pass) and that setup is not timed
 *   newflow     every packet a TCP SYN from a client tuple never seen before
 * Each LB burst runs what one worker loop runs: tick (clock + expiry step),
 * process, flush, quiescent state. Prints key=value lines, each phase's share of
 * CPU time (other work on the CPU inflates TSC figures) and the counters that show
 * the packets were forwarded; exits 1 when they do not add up. With --sync, flow
 * sync is on (one peer): the worker pushes a record per new flow, the control
 * thread's share runs after every burst off the worker's clock (bench_sync.c), and
 * sync_* figures give its send and absorb rates. It reports, it does
 * not pass or fail on time. docs/benchmarking.md explains every figure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "conntrack.h"
#include "dp.h"
#include "lb_error.h"
#include "nat.h"
#include "parse.h"
#include "service.h"
#include "sync.h"
#include "worker.h"

#include "bench_sync.h"

#define BURST 32
#define SYNC_DRAIN_BURSTS 16    /* --sync: bursts between control-thread turns */
#define FRAME_LEN 60            /* a 64-byte frame on the wire, without the FCS */
#define L3_OFF 14
#define L4_OFF (L3_OFF + 20)
#define IP_CSUM_OFF (L3_OFF + 10)
#define IP_SRC_OFF (L3_OFF + 12)
#define TCP_SPORT_OFF (L4_OFF + 0)
#define TCP_CSUM_OFF (L4_OFF + 16)

#define VIP "198.18.0.100"
#define VIP_PORT 80
#define BACKEND_PORT 8080
#define LOCAL_ADDR "198.19.0.2"
#define EXT_MAC "02:00:00:00:00:02"
#define INT_MAC "02:00:00:00:01:01"
#define GW_MAC "02:00:00:00:00:01"
#define EST_NET 0xc6128000u     /* 198.18.128.0/17: clients of the established flows */
#define EST_ADDRS 32768u
#define NEW_NET 0xc6124000u     /* 198.18.64.0/18: clients of the new flows */
#define NEW_ADDRS 16384u
#define CLIENT_PORT_LO 1024u
#define SHUFFLE_SEED 0x9e3779b97f4a7c15ULL

enum { P_EXT = 0, P_INT = 1 }; /* port indexes, config order */

struct opts {
	uint32_t flows;
	uint32_t backends;
	uint32_t passes;     /* timed ACK passes over all flows (and floor passes) */
	uint32_t newflow;    /* timed new-flow packets */
	const char *sched;   /* the service's scheduler (include/lb_model.h names) */
	uint8_t mode;        /* fnat (default), or ipip / gue: direct server return */
	const char *config_out;
	int sync;            /* --sync: flow sync on, one peer */
	char key_path[64];
};

/* What differs between packets of one template, precomputed off the clock. */
struct tuple {
	uint32_t saddr;     /* network order */
	uint16_t sport;     /* network order */
	uint16_t ip_csum;   /* as stored in the header */
	uint16_t tcp_csum;
	uint16_t pad;
};

struct bench {
	struct lb_dp *dp;
	struct lb_worker *w;
	struct rte_mempool *pool;
	uint16_t tx_eth;     /* net_null port the floor transmits on */
	uint64_t sync_cyc;   /* --sync: the control thread's share, off the worker's clock */
};

/* ---- packets ------------------------------------------------------------ */

static void
wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
mac_parse(const char *s, uint8_t mac[6])
{
	unsigned b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		abort();
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
}

static uint32_t
ip4(const char *s)
{
	struct lb_addr a;

	if (lb_addr_parse(s, &a) < 0 || a.family != LB_AF_INET)
		abort();
	return (uint32_t)a.bytes[0] << 24 | (uint32_t)a.bytes[1] << 16 |
	       (uint32_t)a.bytes[2] << 8 | a.bytes[3];
}

/* Backend i: 198.19.(1 + i / 250).(1 + i % 250), inside int's 198.19.0.0/16. */
static uint32_t
backend_ip(uint32_t i)
{
	return 0xc6130000u | (1 + i / 250) << 8 | (1 + i % 250);
}

static void
fmt_ip(uint32_t a, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

/*
 * out: Eth/IPv4/TCP, 60 bytes, checksums computed from scratch; addresses and
 * ports in host order here.
 */
static void
make_frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr,
	   uint32_t daddr, uint16_t sport, uint16_t dport, uint8_t flags)
{
	uint8_t *ip = f + L3_OFF, *tcp = f + L4_OFF;

	memset(f, 0, FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	wr16(f + 12, LB_ETHERTYPE_IPV4);
	ip[0] = 0x45;
	wr16(ip + 2, 40);             /* total length: headers only */
	wr16(ip + 6, 0x4000);         /* DF */
	ip[8] = 64;
	ip[9] = LB_IPPROTO_TCP;
	wr16(ip + 12, (uint16_t)(saddr >> 16));
	wr16(ip + 14, (uint16_t)saddr);
	wr16(ip + 16, (uint16_t)(daddr >> 16));
	wr16(ip + 18, (uint16_t)daddr);
	wr16(ip + 10, lb_ipv4_cksum(ip, 20));
	wr16(tcp, sport);
	wr16(tcp + 2, dport);
	wr16(tcp + 4, 0x1234);        /* seq */
	wr16(tcp + 8, (flags & LB_TCP_ACK) ? 0x5678 : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	wr16(tcp + 14, 65535);
	wr16(tcp + 16, lb_l4_cksum(LB_AF_INET, ip + 12, ip + 16, LB_IPPROTO_TCP, tcp, 20, 16));
}

/* Client -> VIP packets: client i of a block is address net + i % n, port lo + i / n. */
static void
gen_tuples(struct tuple *t, const uint32_t *order, uint32_t count, uint32_t net, uint32_t n_addrs,
	   uint8_t flags, const uint8_t dmac[6], const uint8_t smac[6])
{
	uint8_t f[FRAME_LEN];

	for (uint32_t k = 0; k < count; k++) {
		uint32_t i = order ? order[k] : k;
		uint32_t a = net + i % n_addrs;
		uint16_t p = (uint16_t)(CLIENT_PORT_LO + i / n_addrs);

		make_frame(f, dmac, smac, a, ip4(VIP), p, VIP_PORT, flags);
		memcpy(&t[k].saddr, f + IP_SRC_OFF, 4);
		memcpy(&t[k].sport, f + TCP_SPORT_OFF, 2);
		memcpy(&t[k].ip_csum, f + IP_CSUM_OFF, 2);
		memcpy(&t[k].tcp_csum, f + TCP_CSUM_OFF, 2);
		t[k].pad = 0;
	}
}

/* Timed: the only per-packet work of the generator. */
static inline void
fill(struct rte_mbuf **pkts, uint16_t n, const uint8_t *tmpl, const struct tuple *t)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);

		memcpy(d, tmpl, 64);
		memcpy(d + IP_CSUM_OFF, &t[i].ip_csum, 2);
		memcpy(d + IP_SRC_OFF, &t[i].saddr, 4);
		memcpy(d + TCP_SPORT_OFF, &t[i].sport, 2);
		memcpy(d + TCP_CSUM_OFF, &t[i].tcp_csum, 2);
		m->data_len = FRAME_LEN;
		m->pkt_len = FRAME_LEN;
	}
}

/* ---- driving the worker ------------------------------------------------- */

/* One loop of lb_worker_main() on a burst we made instead of one we received. */
static inline void
worker_loop(struct bench *b, uint16_t in_port, struct rte_mbuf **pkts, uint16_t n)
{
	lb_worker_tick(b->w, rte_rdtsc());
	lb_worker_process(b->w, in_port, pkts, n);
	lb_worker_flush(b->w);
	rte_rcu_qsbr_quiescent(b->dp->qsbr, 0);
}

static void
alloc_burst(struct bench *b, struct rte_mbuf **pkts, uint16_t n)
{
	if (rte_pktmbuf_alloc_bulk(b->pool, pkts, n) != 0) {
		fprintf(stderr, "bench-dp: mbuf pool empty (mbufs leak?)\n");
		exit(EXIT_FAILURE);
	}
}

/* CPU time of this thread: with the TSC it tells how much of a phase we were not running. */
static uint64_t
thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns TSC cycles for n packets through the pipeline (floor: straight to TX). */
static uint64_t __attribute__((noinline))
run(struct bench *b, bool floor, uint16_t in_port, const uint8_t *tmpl, const struct tuple *t,
    uint32_t n, uint64_t *floor_sent)
{
	struct rte_mbuf *pkts[BURST];
	uint64_t start = rte_rdtsc(), sync_cyc = 0;

	for (uint32_t i = 0; i < n; i += BURST) {
		uint16_t k = (uint16_t)(n - i < BURST ? n - i : BURST);

		alloc_burst(b, pkts, k);
		fill(pkts, k, tmpl, t + i);
		if (floor) {
			uint16_t s = rte_eth_tx_burst(b->tx_eth, 0, pkts, k);
			*floor_sent += s;
			if (s < k)
				rte_pktmbuf_free_bulk(&pkts[s], k - s);
		} else {
			worker_loop(b, in_port, pkts, k);
		}
		/* The control thread's turn, about as often as its 1 ms loop would come. */
		if (b->dp->sync && ((i / BURST) % SYNC_DRAIN_BURSTS == SYNC_DRAIN_BURSTS - 1 ||
				    i + k >= n))
			sync_cyc += bench_sync_drain(b->dp);
	}
	b->sync_cyc += sync_cyc;
	return rte_rdtsc() - start - sync_cyc;
}

/* Untimed: the backend's SYN-ACK for every flow, so the ACKs find ESTABLISHED. */
static int
reply_pass(struct bench *b, const struct opts *o)
{
	struct lb_ct *ct = lb_worker_ct(b->w);
	struct lb_addr vip;
	uint8_t int_mac[6];
	struct rte_mbuf *pkts[BURST];
	uint16_t k = 0;

	lb_addr_parse(VIP, &vip);
	mac_parse(INT_MAC, int_mac);
	const struct lb_svc *svc = lb_svcs_find(b->dp->svcs, &vip, VIP_PORT, LB_PROTO_TCP);
	if (svc == NULL)
		return LB_ENOENT;
	for (uint32_t i = 0; i < o->flows; i++) {
		struct lb_ct_fwd_key fk;
		uint32_t a = htonl(EST_NET + i % EST_ADDRS);

		memset(&fk, 0, sizeof(fk));
		memcpy(fk.client, &a, 4);
		fk.client_port = htons((uint16_t)(CLIENT_PORT_LO + i / EST_ADDRS));
		fk.svc_id = svc->id;
		const struct lb_conn *c = lb_ct_lookup_fwd(ct, &fk, lb_ct_hash_fwd(&fk, lb_ct_seed(ct)));
		if (c == NULL)
			return LB_ENOENT;
		uint32_t baddr, laddr;
		uint8_t bmac[6] = {0x02, 0, 0, 0x01, c->backend[2], c->backend[3]};
		memcpy(&baddr, c->backend, 4);
		memcpy(&laddr, b->dp->local[c->local_idx].addr.bytes, 4);
		if (k == 0)
			alloc_burst(b, pkts, BURST);
		make_frame(rte_pktmbuf_mtod(pkts[k], uint8_t *), int_mac, bmac, ntohl(baddr),
			   ntohl(laddr), ntohs(c->backend_port), ntohs(c->local_port),
			   LB_TCP_SYN | LB_TCP_ACK);
		pkts[k]->data_len = pkts[k]->pkt_len = FRAME_LEN;
		if (++k == BURST || i + 1 == o->flows) {
			if (k < BURST)
				rte_pktmbuf_free_bulk(&pkts[k], BURST - k);
			worker_loop(b, P_INT, pkts, k);
			k = 0;
		}
	}
	return 0;
}

/* ---- configuration -------------------------------------------------------- */

static int
write_config(FILE *f, const struct opts *o, unsigned worker_lcore)
{
	uint64_t cap = (uint64_t)o->flows + o->newflow + o->flows / 5;
	char ip[16];

	if (cap < 1200000)
		cap = 1200000;
	fprintf(f,
		"# generated by edgelb-bench-dp: %u flows, %u backends\n"
		"dp: {\n"
		"  workers = [%u];          # named, never launched: the bench thread is worker 0\n"
		"  burst = %d;\n"
		"  idle_sleep_us = 0;\n"
		"  max_services = 16;\n"
		"  max_backends = %u;\n"
		"  steering = \"ring\";\n"
		"  control_socket = \"\";\n"
		"};\n"
		"conntrack: {\n"
		"  capacity = %" PRIu64 ";\n"
		"  timeouts: { tcp_syn = 3600; tcp_established = 3600; };\n"
		"};\n"
		"ports = (\n"
		"  { name = \"ext\"; device = \"net_null0\"; role = \"external\";\n"
		"    addresses = [\"198.18.0.2/24\"]; mac = \"" EXT_MAC "\"; },\n"
		"  { name = \"int\"; device = \"net_null1\"; role = \"internal\";\n"
		"    addresses = [\"198.19.0.1/16\", \"2001:db8:2::1/64\"];\n"
		"    local_addresses = [\"" LOCAL_ADDR "\", \"2001:db8:2::2\"]; mac = \"" INT_MAC "\"; }\n"
		");\n"
		"routes = ( { prefix = \"0.0.0.0/0\"; via = \"198.18.0.1\"; } );\n"
		"neighbours = (\n"
		"  { address = \"198.18.0.1\"; mac = \"" GW_MAC "\"; port = \"ext\"; }",
		o->flows, o->backends, worker_lcore, BURST, o->backends + 64, cap);
	for (uint32_t i = 0; i < o->backends; i++) {
		uint32_t a = backend_ip(i);
		fmt_ip(a, ip, sizeof(ip));
		fprintf(f, ",\n  { address = \"%s\"; mac = \"02:00:00:01:%02x:%02x\"; }", ip,
			(a >> 8) & 0xff, a & 0xff);
	}
	if (o->sync)
		bench_sync_neigh(f);
	fprintf(f, "\n);\nservices = (\n  { name = \"bench/web:http\"; vip = \"" VIP "\"; port = %d;\n"
		   "    protocol = \"tcp\"; mode = \"%s\"; scheduler = \"%s\";\n    backends = (\n",
		VIP_PORT, lb_mode_name(o->mode), o->sched);
	for (uint32_t i = 0; i < o->backends; i++) {
		fmt_ip(backend_ip(i), ip, sizeof(ip));
		/* DSR backends get the packet unchanged: they listen on the VIP's port. */
		fprintf(f, "      { address = \"%s\"; port = %d; }%s\n", ip,
			lb_mode_is_dsr(o->mode) ? VIP_PORT : BACKEND_PORT,
			i + 1 < o->backends ? "," : "");
	}
	fprintf(f, "    );\n  }\n);\n");
	if (o->sync)
		bench_sync_group(f, o->key_path);
	return ferror(f) ? LB_EIO : 0;
}

static int
load_config(struct lb_dp *dp, const struct opts *o, unsigned worker_lcore, char *err,
	    size_t errlen)
{
	char tmp[] = "/tmp/edgelb-bench-dp-XXXXXX";
	const char *path = o->config_out ? o->config_out : tmp;
	FILE *f;
	int rc;

	if (o->config_out) {
		f = fopen(path, "w");
	} else {
		int fd = mkstemp(tmp);
		f = fd < 0 ? NULL : fdopen(fd, "w");
	}
	if (f == NULL) {
		snprintf(err, errlen, "cannot write the config: %s", strerror(errno));
		return LB_EIO;
	}
	rc = write_config(f, o, worker_lcore);
	if (fclose(f) != 0 || rc < 0) {
		snprintf(err, errlen, "cannot write %s", path);
		rc = LB_EIO;
	} else {
		rc = lb_dp_conf_load(path, &dp->conf, err, errlen);
	}
	if (o->config_out == NULL)
		unlink(tmp);
	return rc;
}

/* ---- counters ------------------------------------------------------------- */

struct snap {
	uint64_t ev[LB_EV_MAX];
	uint64_t drops;
};

static void
snap(const struct bench *b, struct snap *s)
{
	const struct lb_wstats *st = b->dp->wstats[0];

	memcpy(s->ev, st->ev, sizeof(s->ev));
	s->drops = 0;
	for (int i = 0; i < LB_DROP_MAX; i++)
		s->drops += st->drop[i];
}

/* The phase between a and b forwarded n packets, created `created` flows, dropped none. */
static bool
check_phase(const char *name, const struct snap *a, const struct snap *b, uint64_t n,
	    uint64_t created, uint64_t rev)
{
	uint64_t fwd = b->ev[LB_EV_FWD_PKTS] - a->ev[LB_EV_FWD_PKTS];
	uint64_t rv = b->ev[LB_EV_REV_PKTS] - a->ev[LB_EV_REV_PKTS];
	uint64_t tx = b->ev[LB_EV_TX_PKTS] - a->ev[LB_EV_TX_PKTS];
	uint64_t cr = b->ev[LB_EV_CT_CREATED] - a->ev[LB_EV_CT_CREATED];
	uint64_t dr = b->drops - a->drops;

	if (fwd + rv == n && rv == rev && tx == n && cr == created && dr == 0)
		return true;
	fprintf(stderr,
		"bench-dp: %s: %" PRIu64 " packets in, fwd %" PRIu64 " rev %" PRIu64 " tx %" PRIu64
		" created %" PRIu64 " (want %" PRIu64 ") drops %" PRIu64 "\n",
		name, n, fwd, rv, tx, cr, created, dr);
	return false;
}

/* ---- main ------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr,
		"usage: edgelb-bench-dp [EAL args] -- [--flows N] [--backends N] [--passes N]\n"
		"                       [--newflow N] [--scheduler NAME] [--mode fnat|ipip|gue]\n"
		"                       [--config-out FILE] [--sync]\n"
		"  EAL args need one lcore besides the main one, e.g. --lcores 0,1@0 (never launched)\n");
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"flows", required_argument, NULL, 'f'},
		{"backends", required_argument, NULL, 'b'},
		{"passes", required_argument, NULL, 'p'},
		{"newflow", required_argument, NULL, 'n'},
		{"scheduler", required_argument, NULL, 's'},
		{"mode", required_argument, NULL, 'm'},
		{"config-out", required_argument, NULL, 'c'},
		{"sync", no_argument, NULL, 'y'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->flows = 1000000;
	o->backends = 100;
	o->passes = 3;
	o->newflow = 1000000;
	o->sched = "maglev";
	o->mode = LB_MODE_FNAT;
	o->config_out = NULL;
	o->sync = 0;
	snprintf(o->key_path, sizeof(o->key_path), "/tmp/edgelb-bench-sync-key-XXXXXX");
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		uint32_t v = (uint32_t)strtoul(optarg ? optarg : "0", NULL, 10);
		switch (c) {
		case 'f': o->flows = v; break;
		case 'b': o->backends = v; break;
		case 'p': o->passes = v; break;
		case 'n': o->newflow = v; break;
		case 's': o->sched = optarg; break;
		case 'm':
			if (lb_mode_parse(optarg, &o->mode) < 0 ||
			    (o->mode != LB_MODE_FNAT && !lb_mode_is_dsr(o->mode)))
				return LB_EINVAL;
			break;
		case 'c': o->config_out = optarg; break;
		case 'y': o->sync = 1; break;
		default: return LB_EINVAL;
		}
	}
	if (optind != argc || o->flows == 0 || o->backends == 0 || o->backends > 10000 ||
	    o->passes == 0 || o->newflow == 0 || o->flows / EST_ADDRS > 60000 ||
	    o->newflow / NEW_ADDRS > 60000)
		return LB_EINVAL;
	return 0;
}

static uint32_t *
shuffled(uint32_t n)
{
	uint32_t *v = malloc(sizeof(*v) * n);
	uint64_t x = SHUFFLE_SEED;

	if (v == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		v[i] = i;
	for (uint32_t i = n - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t j = (uint32_t)(x % (i + 1));
		uint32_t t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	return v;
}

/*
 * cpu_share: the thread's CPU time over the phase's wall time. Below ~0.95 something
 * else ran on this CPU during the phase and the cycle figure is inflated.
 */
static void
figure(const char *name, uint64_t cycles, uint64_t cpu_ns, uint64_t pkts, uint64_t hz, bool mpps)
{
	double cpp = (double)cycles / (double)pkts;
	double wall_ns = (double)cycles * 1e9 / (double)hz;

	printf("%s_cycles_per_pkt=%.1f\n", name, cpp);
	if (mpps)
		printf("%s_mpps=%.2f\n", name, (double)hz / cpp / 1e6);
	printf("%s_cpu_share=%.2f\n", name, wall_ns > 0 ? (double)cpu_ns / wall_ns : 0.0);
}

int
main(int argc, char **argv)
{
	static struct lb_dp dp;
	struct bench b = {.dp = &dp};
	struct opts o;
	char err[512] = "";
	int rc, status = EXIT_FAILURE;
	struct tuple *syn = NULL, *ack = NULL, *fresh = NULL;
	uint32_t *order = NULL;
	uint8_t ext_mac[6], gw_mac[6], tmpl_syn[64], tmpl_ack[64];

	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "bench-dp: EAL init failed: %s\n", rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	argc -= rc;
	argv += rc;
	if (parse_opts(argc, argv, &o) < 0) {
		usage();
		goto out_eal;
	}
	unsigned wl = rte_get_next_lcore(-1, 1, 0);
	if (wl >= RTE_MAX_LCORE) {
		fprintf(stderr, "bench-dp: lb_dp_build() wants a worker lcore to name; give EAL "
				"one it never launches: --lcores 0,1@0\n");
		goto out_eal;
	}
	if (o.sync && bench_sync_key(o.key_path) < 0) {
		fprintf(stderr, "bench-dp: cannot write the sync key file\n");
		goto out_eal;
	}
	if (load_config(&dp, &o, wl, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-dp: generated config: %s\n", err);
		goto out_eal;
	}
	if (lb_dp_build(&dp, false, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench-dp: %s\n", err);
		goto out;
	}
	b.w = dp.workers[0];
	b.pool = dp.pool;
	b.tx_eth = dp.ports[P_INT].eth_id;
	rte_rcu_qsbr_thread_online(dp.qsbr, 0);

	/* Packets, off the clock. */
	mac_parse(EXT_MAC, ext_mac);
	mac_parse(GW_MAC, gw_mac);
	make_frame(tmpl_syn, ext_mac, gw_mac, EST_NET, ip4(VIP), CLIENT_PORT_LO, VIP_PORT, LB_TCP_SYN);
	make_frame(tmpl_ack, ext_mac, gw_mac, EST_NET, ip4(VIP), CLIENT_PORT_LO, VIP_PORT, LB_TCP_ACK);
	memset(tmpl_syn + FRAME_LEN, 0, 64 - FRAME_LEN);
	memset(tmpl_ack + FRAME_LEN, 0, 64 - FRAME_LEN);
	syn = malloc(sizeof(*syn) * o.flows);
	ack = malloc(sizeof(*ack) * o.flows);
	fresh = malloc(sizeof(*fresh) * o.newflow);
	order = shuffled(o.flows);
	if (syn == NULL || ack == NULL || fresh == NULL || order == NULL) {
		fprintf(stderr, "bench-dp: out of memory for %u flows\n", o.flows);
		goto out_offline;
	}
	gen_tuples(syn, NULL, o.flows, EST_NET, EST_ADDRS, LB_TCP_SYN, ext_mac, gw_mac);
	gen_tuples(ack, order, o.flows, EST_NET, EST_ADDRS, LB_TCP_ACK, ext_mac, gw_mac);
	gen_tuples(fresh, NULL, o.newflow, NEW_NET, NEW_ADDRS, LB_TCP_SYN, ext_mac, gw_mac);

	uint64_t hz = rte_get_tsc_hz(), floor_sent = 0, cyc;
	uint64_t n_est = (uint64_t)o.flows * o.passes;
	struct snap s0, s1, s2, s3, s4;
	bool ok = true;

	/* floor: the generator and the TX path alone */
	run(&b, true, P_EXT, tmpl_ack, ack, o.flows, &floor_sent); /* warm-up */
	floor_sent = 0;
	cyc = 0;
	uint64_t ns0 = thread_ns();
	for (uint32_t p = 0; p < o.passes; p++)
		cyc += run(&b, true, P_EXT, tmpl_ack, ack, o.flows, &floor_sent);
	uint64_t floor_ns = thread_ns() - ns0;
	if (floor_sent != n_est) {
		fprintf(stderr, "bench-dp: floor: %" PRIu64 " of %" PRIu64 " sent\n", floor_sent, n_est);
		ok = false;
	}
	uint64_t floor_cyc = cyc;

	/* established: SYN, backend SYN-ACK (not in DSR: it bypasses the box), one ACK
	 * pass, all untimed; then timed ACKs */
	bool dsr = lb_mode_is_dsr(o.mode);
	snap(&b, &s0);
	run(&b, false, P_EXT, tmpl_syn, syn, o.flows, NULL);
	if (!dsr && reply_pass(&b, &o) < 0) {
		fprintf(stderr, "bench-dp: a SYN did not create its connection\n");
		ok = false;
	}
	run(&b, false, P_EXT, tmpl_ack, ack, o.flows, NULL);
	snap(&b, &s1);
	ok &= check_phase("setup", &s0, &s1, (dsr ? 2ull : 3ull) * o.flows, o.flows,
			  dsr ? 0 : o.flows);
	cyc = 0;
	ns0 = thread_ns();
	for (uint32_t p = 0; p < o.passes; p++)
		cyc += run(&b, false, P_EXT, tmpl_ack, ack, o.flows, NULL);
	uint64_t est_ns = thread_ns() - ns0;
	snap(&b, &s2);
	ok &= check_phase("established", &s1, &s2, n_est, 0, 0);
	uint64_t est_cyc = cyc;

	/* newflow: every packet a SYN from a tuple never seen */
	snap(&b, &s3);
	uint64_t drain_ns0 = bench_sync_cpu_ns();
	ns0 = thread_ns();
	uint64_t new_cyc = run(&b, false, P_EXT, tmpl_syn, fresh, o.newflow, NULL);
	uint64_t new_ns = thread_ns() - ns0;
	/* CPU time of the worker's share alone: robust to other load on the CPU */
	uint64_t new_worker_ns = new_ns - (bench_sync_cpu_ns() - drain_ns0);
	snap(&b, &s4);
	ok &= check_phase("newflow", &s3, &s4, o.newflow, o.newflow, 0);
	ok &= s4.ev[LB_EV_CT_FULL] == 0;

	printf("mode=%s\n", lb_mode_name(o.mode));
	printf("tsc_hz=%" PRIu64 "\n", hz);
	printf("hugepages=%d\n", rte_eal_has_hugepages());
	printf("tx_checksums=%s\n", dp.ports[P_INT].nat_flags ? "hardware" : "software");
	printf("burst=%d\n", BURST);
	printf("flows=%u\n", o.flows);
	printf("backends=%u\n", o.backends);
	printf("floor_pkts=%" PRIu64 "\n", n_est);
	figure("floor", floor_cyc, floor_ns, n_est, hz, false);
	printf("established_pkts=%" PRIu64 "\n", n_est);
	figure("established", est_cyc, est_ns, n_est, hz, true);
	printf("newflow_pkts=%u\n", o.newflow);
	figure("newflow", new_cyc, new_ns, o.newflow, hz, true);
	printf("newflow_worker_cpu_cycles_per_pkt=%.1f\n",
	       (double)new_worker_ns * (double)hz / 1e9 / (double)o.newflow);
	printf("fwd_packets=%" PRIu64 "\n", s4.ev[LB_EV_FWD_PKTS]);
	printf("rev_packets=%" PRIu64 "\n", s4.ev[LB_EV_REV_PKTS]);
	printf("tx_packets=%" PRIu64 "\n", s4.ev[LB_EV_TX_PKTS]);
	printf("ct_created=%" PRIu64 "\n", s4.ev[LB_EV_CT_CREATED]);
	printf("ct_full=%" PRIu64 "\n", s4.ev[LB_EV_CT_FULL]);
	printf("connections=%u\n", lb_ct_count(lb_worker_ct(b.w)));
	printf("drops=%" PRIu64 "\n", s4.drops);
	for (int i = 0; i < LB_DROP_MAX; i++)
		if (dp.wstats[0]->drop[i])
			printf("drop_%s=%" PRIu64 "\n", lb_drop_names[i], dp.wstats[0]->drop[i]);
	if (dp.sync) {
		uint64_t sent = dp.ctrl[LB_CTRL_SYNC_TX_RECORDS];
		printf("sync=on\n");
		printf("sync_records_sent=%" PRIu64 "\n", sent);
		printf("sync_datagrams_sent=%" PRIu64 "\n", dp.ctrl[LB_CTRL_SYNC_TX_DGRAMS]);
		printf("sync_ring_full=%" PRIu64 "\n", s4.ev[LB_EV_SYNC_RING_FULL]);
		printf("sync_send_cycles_per_record=%.1f\n", (double)b.sync_cyc / (double)(sent ? sent : 1));
		printf("sync_send_records_per_s=%.0f\n", (double)sent * (double)hz / (double)(b.sync_cyc ? b.sync_cyc : 1));
		printf("sync_send_records_per_cpu_s=%.0f\n", (double)sent * 1e9 / (double)(bench_sync_cpu_ns() + 1));
		printf("sync_send_datagrams_per_cpu_s=%.0f\n",
		       (double)dp.ctrl[LB_CTRL_SYNC_TX_DGRAMS] * 1e9 / (double)(bench_sync_cpu_ns() + 1));
		ok &= s4.ev[LB_EV_SYNC_RING_FULL] == 0 && dp.ctrl[LB_CTRL_SYNC_TX_DROPPED] == 0;
		ok &= bench_sync_absorb(&dp, 10000) == 0;
	} else {
		printf("sync=off\n");
	}
	printf("check=%s\n", ok ? "ok" : "FAILED");
	status = ok ? EXIT_SUCCESS : EXIT_FAILURE;

out_offline:
	rte_rcu_qsbr_thread_offline(dp.qsbr, 0);
	free(syn);
	free(ack);
	free(fresh);
	free(order);
out:
	lb_dp_teardown(&dp);
out_eal:
	if (o.sync)
		unlink(o.key_path);
	rte_eal_cleanup();
	return status;
}
