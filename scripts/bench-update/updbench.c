/*
 * updbench.c - traffic and Maglev helpers for scripts/bench-update.sh.
 *
 *   updbench send IFACE SRC_MAC DST_MAC CLIENT_NET VIP VPORT FLOWS PPS OUTFILE
 *       Replays FLOWS established TCP flows (ACKs, 64-byte frames with a payload
 *       tag) to VIP:VPORT at PPS packets/s, round robin: global sequence g goes to
 *       flow g % FLOWS. Clients are CLIENT_NET.x.y (a /16 prefix like "198.18",
 *       x from 10) and ports 10000+. SIGUSR1 / SIGUSR2 record the g at which
 *       churn started / ended (each signal adds a mark: "marks=" lists them all); SIGTERM stops it. Writes key=value lines to OUTFILE.
 *
 *   updbench recv IFACE FLOWS MAX_PKTS REMOVABLE_IPS OUTFILE BITMAPFILE [MOVESFILE]
 *       Records, from the frames the dp sends toward the backends, which backend
 *       (destination address) each flow's packets go to and which g arrived.
 *       REMOVABLE_IPS: comma-separated backend addresses the churn may remove; a
 *       flow that leaves any other backend is misrouted. MOVESFILE: every backend
 *       change as "monotonic_ns flow from to", for checks that depend on when a
 *       backend was removed (the rolling update). SIGTERM: drain, write.
 *
 *   updbench maglev M N RUNS
 *       lb_maglev_build() of N equal-weight backends (the bench's key shape) into M
 *       slots RUNS times; prints the median and p99 wall time and the median
 *       thread CPU time, in microseconds.
 *
 * Linux only (AF_PACKET). Built by scripts/bench-update.sh together with dp/lib/maglev.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lb_error.h"
#include "maglev.h"

#define MAGIC 0x55504442u /* "UPDB" */
#define BATCH 64
#define FRAME_LEN 74      /* 14 eth + 20 ip + 20 tcp + 20 payload */

struct tag {
	uint32_t magic;
	uint32_t flow;
	uint64_t g;
	uint32_t pad;
} __attribute__((packed));

#define MAX_MARKS 16 /* SIGUSR1/2 marks the sender records */
#define MAX_MOVES (1u << 20) /* backend changes the receiver logs */

static volatile sig_atomic_t stop_flag, marks_asked;

static void on_term(int s) { (void)s; stop_flag = 1; }
static void on_mark(int s) { (void)s; marks_asked++; }

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
parse_mac(const char *s, uint8_t *m)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ? 0 : -1;
}

static int
packet_socket(const char *iface, int proto, int *ifindex)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));

	if (fd < 0) {
		perror("socket(AF_PACKET)");
		exit(2);
	}
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(proto),
				  .sll_ifindex = (int)if_nametoindex(iface)};
	if (sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "bind %s: %s\n", iface, strerror(errno));
		exit(2);
	}
	*ifindex = sll.sll_ifindex;
	return fd;
}

static uint32_t
csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- send ---------------------------------------------------------------- */

static void
build_frame(uint8_t *f, const uint8_t *smac, const uint8_t *dmac, uint32_t src, uint16_t sport,
	    uint32_t dst, uint16_t dport, uint32_t flow, uint64_t g)
{
	memset(f, 0, FRAME_LEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *tcp = ip + 20;
	ip[0] = 0x45;
	uint16_t tot = htons(FRAME_LEN - 14);
	memcpy(ip + 2, &tot, 2);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t c = htons(csum_fold(csum_add(0, ip, 20)));
	memcpy(ip + 10, &c, 2);
	memcpy(tcp, &sport, 2);
	memcpy(tcp + 2, &dport, 2);
	uint32_t seq = htonl(1000 + flow), ack = htonl(5000);
	memcpy(tcp + 4, &seq, 4);
	memcpy(tcp + 8, &ack, 4);
	tcp[12] = 5 << 4;
	tcp[13] = 0x10; /* ACK */
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	struct tag t = {.magic = MAGIC, .flow = flow, .g = g};
	memcpy(tcp + 20, &t, sizeof(t));
	/* pseudo header + segment */
	uint32_t sum = csum_add(0, ip + 12, 8);
	sum += 6 + 40;
	sum = csum_add(sum, tcp, 40);
	c = htons(csum_fold(sum));
	memcpy(tcp + 16, &c, 2);
}

static int
cmd_send(int argc, char **argv)
{
	if (argc != 11) {
		fprintf(stderr, "usage: updbench send IFACE SRC_MAC DST_MAC CLIENT_NET VIP VPORT FLOWS PPS OUTFILE\n");
		return 2;
	}
	uint8_t smac[6], dmac[6];
	struct in_addr vip;
	char net[64];
	uint32_t flows = (uint32_t)strtoul(argv[8], NULL, 10);
	double pps = strtod(argv[9], NULL);
	uint16_t vport = htons((uint16_t)atoi(argv[7]));

	if (parse_mac(argv[3], smac) < 0 || parse_mac(argv[4], dmac) < 0 ||
	    inet_pton(AF_INET, argv[6], &vip) != 1 || flows == 0 || pps <= 0) {
		fprintf(stderr, "send: bad arguments\n");
		return 2;
	}
	snprintf(net, sizeof(net), "%s", argv[5]);
	int ifindex, fd = packet_socket(argv[2], ETH_P_ALL, &ifindex);
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	int sndbuf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));

	/* flow i: client NET.(10 + i / 250 % 240).(1 + i % 250), port 10000 + i % 50000:
	 * distinct 4-tuples up to 60000 * 50000 flows. */
	uint32_t *src = malloc(sizeof(*src) * flows);
	uint16_t *sport = malloc(sizeof(*sport) * flows);
	for (uint32_t i = 0; i < flows; i++) {
		char a[80];
		snprintf(a, sizeof(a), "%s.%u.%u", net, 10 + (i / 250) % 240, 1 + i % 250);
		struct in_addr ia;
		if (inet_pton(AF_INET, a, &ia) != 1) {
			fprintf(stderr, "send: bad client address %s\n", a);
			return 2;
		}
		src[i] = ia.s_addr;
		sport[i] = htons((uint16_t)(10000 + i % 50000));
	}

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGUSR1, on_mark);
	signal(SIGUSR2, on_mark);

	static uint8_t frames[BATCH][FRAME_LEN];
	struct iovec iov[BATCH];
	struct mmsghdr msg[BATCH];
	struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
	memcpy(to.sll_addr, dmac, 6);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		iov[i].iov_len = FRAME_LEN;
		memset(&msg[i], 0, sizeof(msg[i]));
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
		msg[i].msg_hdr.msg_name = &to;
		msg[i].msg_hdr.msg_namelen = sizeof(to);
	}

	uint64_t g = 0, g_start = UINT64_MAX, g_end = UINT64_MAX, send_err = 0, t0 = now_ns();
	uint64_t t_start = 0, t_end = 0, marks[MAX_MARKS];
	int n_marks = 0;
	while (!stop_flag) {
		while (n_marks < marks_asked && n_marks < MAX_MARKS) {
			marks[n_marks] = g;
			if (n_marks == 0) {
				g_start = g;
				t_start = now_ns();
			} else if (n_marks == 1) {
				g_end = g;
				t_end = now_ns();
			}
			n_marks++;
		}
		uint64_t target = (uint64_t)((double)(now_ns() - t0) * pps / 1e9);
		if (target <= g) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
			continue;
		}
		uint64_t n = target - g;
		if (n > BATCH)
			n = BATCH;
		for (uint64_t i = 0; i < n; i++) {
			uint32_t f = (uint32_t)((g + i) % flows);
			build_frame(frames[i], smac, dmac, src[f], sport[f], vip.s_addr, vport, f, g + i);
		}
		int sent = sendmmsg(fd, msg, (unsigned)n, 0);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			/* ENOBUFS: the frame never left; it still got its g, so count it lost. */
			send_err += n;
			g += n;
			continue;
		}
		g += (uint64_t)sent;
	}
	if (g_start != UINT64_MAX && g_end == UINT64_MAX) {
		g_end = g;
		t_end = now_ns();
	}
	FILE *o = fopen(argv[10], "w");
	if (o == NULL) {
		perror(argv[10]);
		return 1;
	}
	fprintf(o, "sent=%llu\nsend_errors=%llu\nflows=%u\npps=%.0f\n", (unsigned long long)g,
		(unsigned long long)send_err, flows, pps);
	fprintf(o, "g_churn_start=%lld\ng_churn_end=%lld\n",
		g_start == UINT64_MAX ? -1LL : (long long)g_start,
		g_end == UINT64_MAX ? -1LL : (long long)g_end);
	fprintf(o, "churn_seconds=%.3f\nrun_seconds=%.3f\n", t_start ? (double)(t_end - t_start) / 1e9 : 0.0,
		(double)(now_ns() - t0) / 1e9);
	fprintf(o, "cpu_seconds=%.2f\n", cpu_seconds());
	fprintf(o, "marks=");
	for (int i = 0; i < n_marks; i++)
		fprintf(o, "%s%llu", i ? "," : "", (unsigned long long)marks[i]);
	fprintf(o, "\n");
	fclose(o);
	return 0;
}

/* ---- recv ---------------------------------------------------------------- */

struct flow_rec {
	uint32_t first;    /* backend address (network order); 0 = no packet yet */
	uint32_t cur;
	uint32_t moves;    /* backend changes */
	uint32_t bad;      /* changes away from a backend the churn never removes */
	uint64_t pkts;
};

static int
cmd_recv(int argc, char **argv)
{
	if (argc != 8 && argc != 9) {
		fprintf(stderr, "usage: updbench recv IFACE FLOWS MAX_PKTS REMOVABLE_IPS OUTFILE BITMAPFILE "
				"[MOVESFILE]\n");
		return 2;
	}
	uint32_t flows = (uint32_t)strtoul(argv[3], NULL, 10);
	uint64_t max_pkts = strtoull(argv[4], NULL, 10);
	uint32_t removable[64];
	int n_rem = 0;
	char *list = strdup(argv[5]), *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t && n_rem < 64; t = strtok_r(NULL, ",", &save)) {
		struct in_addr ia;
		if (inet_pton(AF_INET, t, &ia) == 1)
			removable[n_rem++] = ia.s_addr;
	}
	struct move { uint64_t t_ns; uint32_t flow, from, to; } *moves = calloc(MAX_MOVES, sizeof(*moves));
	uint32_t n_moves = 0;
	struct flow_rec *fr = calloc(flows, sizeof(*fr));
	uint8_t *bitmap = calloc(max_pkts / 8 + 1, 1);
	if (fr == NULL || bitmap == NULL || moves == NULL) {
		fprintf(stderr, "recv: out of memory\n");
		return 1;
	}
	int ifindex, fd = packet_socket(argv[2], ETH_P_ALL, &ifindex);
	int rcvbuf = 64 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);

	static uint8_t bufs[BATCH][256];
	struct iovec iov[BATCH];
	struct mmsghdr msg[BATCH];
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&msg[i], 0, sizeof(msg[i]));
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	uint64_t got = 0, other = 0, dup = 0, beyond = 0;
	int draining = 0;
	for (;;) {
		if (stop_flag && !draining)
			draining = 1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, draining ? 0 : 100);
		if (pr <= 0) {
			if (draining)
				break;
			continue;
		}
		int n = recvmmsg(fd, msg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (draining)
				break;
			continue;
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *f = bufs[i];
			unsigned len = msg[i].msg_len;
			if (len < 14 + 20 + 20 + sizeof(struct tag) || f[12] != 0x08 || f[13] != 0 ||
			    (f[14] >> 4) != 4 || f[23] != 6) {
				other++;
				continue;
			}
			unsigned ihl = (f[14] & 15) * 4u;
			const uint8_t *tcp = f + 14 + ihl;
			unsigned doff = (tcp[12] >> 4) * 4u;
			struct tag t;
			if (14 + ihl + doff + sizeof(t) > len) {
				other++;
				continue;
			}
			memcpy(&t, tcp + doff, sizeof(t));
			if (t.magic != MAGIC || t.flow >= flows) {
				other++;
				continue;
			}
			got++;
			if (t.g < max_pkts) {
				if (bitmap[t.g / 8] & (1u << (t.g % 8)))
					dup++;
				bitmap[t.g / 8] |= (uint8_t)(1u << (t.g % 8));
			} else {
				beyond++;
			}
			uint32_t dst;
			memcpy(&dst, f + 14 + 16, 4);
			struct flow_rec *r = &fr[t.flow];
			r->pkts++;
			if (r->first == 0) {
				r->first = r->cur = dst;
				continue;
			}
			if (dst == r->cur)
				continue;
			int was_removable = 0;
			for (int k = 0; k < n_rem; k++)
				if (removable[k] == r->cur)
					was_removable = 1;
			r->moves++;
			if (!was_removable)
				r->bad++;
			if (n_moves < MAX_MOVES)
				moves[n_moves++] = (struct move){now_ns(), t.flow, r->cur, dst};
			r->cur = dst;
		}
	}
	struct tpacket_stats st = {0};
	socklen_t sl = sizeof(st);
	getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);

	uint64_t flows_seen = 0, flows_moved = 0, flows_bad = 0, min_p = UINT64_MAX, max_p = 0;
	for (uint32_t i = 0; i < flows; i++) {
		if (fr[i].first == 0)
			continue;
		flows_seen++;
		if (fr[i].moves)
			flows_moved++;
		if (fr[i].bad)
			flows_bad++;
		if (fr[i].pkts < min_p)
			min_p = fr[i].pkts;
		if (fr[i].pkts > max_p)
			max_p = fr[i].pkts;
	}
	/* distinct backends over the flows' first picks */
	uint32_t *seen = calloc(flows, sizeof(*seen));
	uint32_t n_seen = 0;
	for (uint32_t i = 0; i < flows; i++) {
		if (fr[i].first == 0)
			continue;
		uint32_t k;
		for (k = 0; k < n_seen && seen[k] != fr[i].first; k++)
			;
		if (k == n_seen)
			seen[n_seen++] = fr[i].first;
	}
	FILE *o = fopen(argv[6], "w");
	if (o == NULL) {
		perror(argv[6]);
		return 1;
	}
	fprintf(o, "received=%llu\nother_frames=%llu\nduplicates=%llu\nbeyond_bitmap=%llu\n",
		(unsigned long long)got, (unsigned long long)other, (unsigned long long)dup,
		(unsigned long long)beyond);
	fprintf(o, "socket_drops=%u\nflows_seen=%llu\nflows_moved=%llu\nflows_misrouted=%llu\n",
		st.tp_drops, (unsigned long long)flows_seen, (unsigned long long)flows_moved,
		(unsigned long long)flows_bad);
	fprintf(o, "cpu_seconds=%.2f\n", cpu_seconds());
	fprintf(o, "flow_pkts_min=%llu\nflow_pkts_max=%llu\nbackends_used=%u\n",
		(unsigned long long)(flows_seen ? min_p : 0), (unsigned long long)max_p, n_seen);
	fclose(o);
	if (argc == 9) {
		FILE *mf = fopen(argv[8], "w");
		if (mf == NULL) {
			perror(argv[8]);
			return 1;
		}
		/* monotonic ns, flow, from, to (dotted quads) */
		for (uint32_t i = 0; i < n_moves; i++) {
			char a[INET_ADDRSTRLEN], b2[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &moves[i].from, a, sizeof(a));
			inet_ntop(AF_INET, &moves[i].to, b2, sizeof(b2));
			fprintf(mf, "%llu %u %s %s\n", (unsigned long long)moves[i].t_ns, moves[i].flow, a, b2);
		}
		fclose(mf);
	}
	FILE *b = fopen(argv[7], "wb");
	if (b == NULL || fwrite(bitmap, 1, max_pkts / 8 + 1, b) != max_pkts / 8 + 1) {
		perror(argv[7]);
		return 1;
	}
	fclose(b);
	return 0;
}

/* ---- maglev -------------------------------------------------------------- */

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

static int
cmd_maglev(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: updbench maglev M N RUNS\n");
		return 2;
	}
	uint32_t m = (uint32_t)strtoul(argv[2], NULL, 10), n = (uint32_t)strtoul(argv[3], NULL, 10);
	int runs = atoi(argv[4]);
	uint8_t (*keys)[19] = calloc(n, 19);
	struct lb_maglev_backend *b = calloc(n, sizeof(*b));
	uint16_t *table = malloc(sizeof(*table) * m);
	double *us = calloc((size_t)runs, sizeof(*us)), *cpu = calloc((size_t)runs, sizeof(*cpu));

	if (!keys || !b || !table || !us || !cpu || runs < 1)
		return 2;
	for (uint32_t i = 0; i < n; i++) { /* IPv4-mapped 198.19.x.y:8080 as service.c keys it */
		keys[i][0] = 4;
		keys[i][11] = 0xff;
		keys[i][12] = 0xff;
		keys[i][13] = 198;
		keys[i][14] = 19;
		keys[i][15] = (uint8_t)(1 + (i >> 8));
		keys[i][16] = (uint8_t)(1 + i);
		keys[i][17] = 8080 >> 8;
		keys[i][18] = 8080 & 0xff;
		b[i].key = keys[i];
		b[i].key_len = 19;
		b[i].weight = 1;
	}
	for (int r = -5; r < runs; r++) {
		uint64_t t0 = now_ns(), c0 = cpu_ns();
		if (lb_maglev_build(table, m, b, n, 0x5eed5eed5eed5eedULL) != 0) {
			fprintf(stderr, "maglev build failed\n");
			return 1;
		}
		uint64_t t1 = now_ns(), c1 = cpu_ns();
		if (r >= 0) {
			us[r] = (double)(t1 - t0) / 1e3;
			cpu[r] = (double)(c1 - c0) / 1e3;
		}
	}
	qsort(us, (size_t)runs, sizeof(*us), cmp_double);
	qsort(cpu, (size_t)runs, sizeof(*cpu), cmp_double);
	/* wall clock (what a request waits) and thread CPU time (the build's own cost,
	 * without the time other work on a shared machine took the CPU) */
	printf("maglev_m%u_n%u_us=%.1f\n", m, n, us[runs / 2]);
	printf("maglev_m%u_n%u_p99_us=%.1f\n", m, n, us[(runs * 99 + 99) / 100 - 1]);
	printf("maglev_m%u_n%u_cpu_us=%.1f\n", m, n, cpu[runs / 2]);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "send") == 0)
		return cmd_send(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "recv") == 0)
		return cmd_recv(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "maglev") == 0)
		return cmd_maglev(argc, argv);
	fprintf(stderr, "usage: updbench send|recv|maglev ...\n");
	return 2;
}
