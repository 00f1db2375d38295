/*
 * state.c - persistent state regions (see state.h).
 *
 * Main lcore only, at build and teardown. Workers and the service table only see
 * the memory handed to them through struct lb_dp.
 *
 * Why files we create ourselves: DPDK 22.11 keeps no memzone across a primary
 * process's restart and EAL deletes its own rtemap files at start, so the regions
 * are our own files on a hugetlbfs mount (2 MB pages, as the tables had from
 * rte_malloc), mapped MAP_SHARED: their pages belong to the file, not to the
 * process, and stay until the file is removed or the machine reboots. Without
 * hugepages (EAL --no-huge, no hugetlbfs mount, or no free pages) they go to
 * /dev/shm (tmpfs), with a warning. An advisory lock on the shared file keeps two
 * processes off the same state.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "conntrack.h"
#include "dp.h"
#include "lb_error.h"
#include "service.h"
#include "state.h"
#include "state_hdr.h"

#define LOG(level, fmt, ...) RTE_LOG(level, USER1, "state: " fmt "\n", ##__VA_ARGS__)

#define HUGE_DIR "/dev/hugepages"
#define SHM_DIR "/dev/shm"
/* Kept past the longest conntrack timeout: expiry walks the table in steps. */
#define HOLD_MARGIN_MS 60000u

struct lb_state_map {
	void *base;
	size_t len;
	int fd;
	char path[LB_PATH_MAX + 64];
};

struct lb_state {
	char dir[LB_PATH_MAX];
	char prefix[64];
	unsigned n_ct;
	struct lb_state_map shared;
	struct lb_state_map ct[LB_MAX_WORKERS];
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The header this process wants; kind and worker filled in by the caller. */
static void
want_hdr(const struct lb_dp *dp, struct lb_state_hdr *h)
{
	const struct lb_dp_conf *c = &dp->conf;

	memset(h, 0, sizeof(*h));
	h->magic = LB_STATE_MAGIC;
	h->version = LB_STATE_VERSION;
	h->hdr_size = sizeof(*h);
	h->conn_size = sizeof(struct lb_conn);
	h->ct_layout = LB_CT_LAYOUT_VERSION;
	h->dir_layout = LB_SVCS_DIR_VERSION;
	h->n_workers = dp->n_workers;
	h->capacity = c->ct_capacity;
	h->max_services = c->max_services;
	h->max_backends = c->max_backends;
	h->snat_lo = c->snat_port_lo;
	h->snat_hi = c->snat_port_hi;
	h->hash_seed = c->hash_seed;
	/* local_idx order: the ports' local addresses in config order (collect_addrs) */
	for (unsigned pi = 0; pi < c->n_ports; pi++)
		for (unsigned i = 0; i < c->ports[pi].n_local && h->n_local < LB_MAX_LOCAL_ADDRS; i++)
			h->local[h->n_local++] = c->ports[pi].local[i];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f != NULL) {
		if (fgets(h->boot_id, sizeof(h->boot_id), f) == NULL)
			h->boot_id[0] = '\0';
		fclose(f);
	}
}

static bool
is_hugetlbfs(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC;
}

/* A shared state file of this prefix exists in dir. */
static bool
has_state(const char *dir, const char *prefix)
{
	char p[LB_PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/edgelb-%s-shared", dir, prefix);
	return access(p, F_OK) == 0;
}

static void
unmap(struct lb_state_map *m)
{
	if (m->base != NULL)
		munmap(m->base, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->base = NULL;
	m->fd = -1;
}

/*
 * Map <dir>/edgelb-<prefix>-<name> with room for data bytes after the header.
 * Returns 1 when the previous contents are compatible (re-attached), 0 when the
 * region starts empty (why says why), < 0 when the file cannot be mapped here.
 */
static int
map_region(struct lb_state *st, const char *name, const struct lb_state_hdr *want, bool lock,
	   struct lb_state_map *m, char *why, size_t whylen)
{
	struct statfs sf;
	struct stat sb;
	size_t page, len;
	int rc = 0;

	m->fd = -1;
	m->base = NULL;
	if ((size_t)snprintf(m->path, sizeof(m->path), "%s/edgelb-%s-%s", st->dir, st->prefix,
			     name) >= sizeof(m->path)) {
		snprintf(why, whylen, "path too long");
		return LB_EINVAL;
	}
	m->fd = open(m->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->fd < 0)
		goto sys;
	if (lock && flock(m->fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(why, whylen, "%s is in use by another edgelb-dp", m->path);
		unmap(m);
		return LB_ECONFLICT;
	}
	if (fstatfs(m->fd, &sf) < 0 || fstat(m->fd, &sb) < 0)
		goto sys;
	page = sf.f_type == HUGETLBFS_MAGIC ? (size_t)sf.f_bsize : 4096;
	len = (LB_STATE_HDR_BYTES + (size_t)want->data_size + page - 1) / page * page;
	m->len = len;
	if ((size_t)sb.st_size == len) {
		m->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m->fd, 0);
		if (m->base == MAP_FAILED) {
			m->base = NULL;
			goto sys;
		}
		if (lb_state_hdr_check(m->base, want, why, whylen) == 0)
			return 1;
		munmap(m->base, len);
		m->base = NULL;
	} else if (sb.st_size == 0) {
		snprintf(why, whylen, "new file");
	} else {
		/* The header usually says what changed; the size only if it does not. */
		struct lb_state_hdr old;
		if ((size_t)sb.st_size < sizeof(old) || pread(m->fd, &old, sizeof(old), 0) !=
		    (ssize_t)sizeof(old) || lb_state_hdr_check(&old, want, why, whylen) == 0)
			snprintf(why, whylen, "file size %lld, now %zu", (long long)sb.st_size, len);
	}
	/* Start empty: drop the old pages, then size the file afresh (zeroes). */
	if (ftruncate(m->fd, 0) < 0 || ftruncate(m->fd, (off_t)len) < 0)
		goto sys;
	m->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m->fd, 0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		goto sys;
	}
	return rc;
sys:
	snprintf(why, whylen, "%s: %s", m->path, strerror(errno));
	unmap(m);
	return LB_EIO;
}

/* Map every region in st->dir. Returns 0, or < 0 with err set (all unmapped). */
static int
map_all(struct lb_dp *dp, struct lb_state *st, char *err, size_t errlen)
{
	struct lb_ct_conf cc = {.capacity = dp->conf.ct_capacity};
	struct lb_state_hdr want;
	char why[256], name[32];
	int shared, rc;

	want_hdr(dp, &want);
	want.kind = LB_STATE_SHARED;
	want.data_size = lb_svcs_dir_size(dp->conf.max_services, dp->conf.max_backends);
	shared = map_region(st, "shared", &want, true, &st->shared, why, sizeof(why));
	if (shared < 0) {
		snprintf(err, errlen, "%s", why);
		return shared;
	}
	if (shared == 0)
		LOG(NOTICE, "%s starts empty: %s", st->shared.path, why);
	for (int s = 0; s < LB_CT_NSTATES; s++)
		cc.timeout_ms[s] = dp->conf.ct_timeout_s[s] * 1000u;
	size_t ct_size = lb_ct_mem_size(&cc);
	for (unsigned w = 0; w < dp->n_workers; w++) {
		want.kind = LB_STATE_CT;
		want.worker = w;
		want.data_size = ct_size;
		snprintf(name, sizeof(name), "ct-w%u", w);
		rc = map_region(st, name, &want, false, &st->ct[w], why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s", why);
			while (w-- > 0)
				unmap(&st->ct[w]);
			unmap(&st->shared);
			return rc;
		}
		st->n_ct = w + 1;
		if (rc == 1 && !shared) {
			/* Its ids would name other services: not without the directory. */
			snprintf(why, sizeof(why), "the id directory was not kept");
			rc = 0;
		}
		if (rc == 0)
			LOG(NOTICE, "%s starts empty: %s", st->ct[w].path, why);
		else
			LOG(NOTICE, "%s re-attached (previous process stopped %s)", st->ct[w].path,
			    ((struct lb_state_hdr *)st->ct[w].base)->clean ? "cleanly"
									   : "without cleaning up");
		struct lb_state_hdr *h = st->ct[w].base;
		if (rc == 0)
			*h = want;
		h->clean = 0;
		dp->ct_mem[w] = (uint8_t *)st->ct[w].base + LB_STATE_HDR_BYTES;
		dp->ct_mem_len[w] = ct_size;
		dp->ct_adopt[w] = rc == 1;
		dp->adopting |= rc == 1;
	}
	struct lb_state_hdr *h = st->shared.base;
	want.kind = LB_STATE_SHARED;
	want.worker = 0;
	want.data_size = lb_svcs_dir_size(dp->conf.max_services, dp->conf.max_backends);
	if (!shared)
		*h = want;
	h->clean = 0;
	dp->svc_dir = (uint8_t *)st->shared.base + LB_STATE_HDR_BYTES;
	dp->svc_dir_len = (size_t)want.data_size;
	/* Without any table kept there is nothing for old ids to line up with. */
	dp->svc_dir_adopt = shared == 1 && dp->adopting;
	return 0;
}

int
lb_state_open(struct lb_dp *dp, char *err, size_t errlen)
{
	const char *conf = dp->conf.state;
	const char *dirs[3];
	unsigned n = 0;
	struct lb_state *st;

	/* In-process users (tests, the benchmark) keep their tables to themselves. */
	if (!dp->daemon || conf[0] == '\0' || strcmp(conf, "off") == 0) {
		if (dp->daemon)
			LOG(INFO, "persistent state off: a restart starts with empty tables");
		return 0;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return LB_ENOMEM;
	const char *rt = rte_eal_get_runtime_dir();
	const char *slash = rt ? strrchr(rt, '/') : NULL;
	snprintf(st->prefix, sizeof(st->prefix), "%s", slash ? slash + 1 : "rte");
	if (strcmp(conf, "auto") == 0) {
		bool hugetlbfs = is_hugetlbfs(HUGE_DIR);
		bool huge = rte_eal_has_hugepages() && hugetlbfs;
		/* Where the previous process left its state wins (it may have fallen back). */
		if (has_state(SHM_DIR, st->prefix))
			dirs[n++] = SHM_DIR;
		else if (hugetlbfs && has_state(HUGE_DIR, st->prefix))
			dirs[n++] = HUGE_DIR;
		if (huge && (n == 0 || strcmp(dirs[0], HUGE_DIR) != 0))
			dirs[n++] = HUGE_DIR;
		if (n == 0 || strcmp(dirs[0], SHM_DIR) != 0)
			dirs[n++] = SHM_DIR;
		if (!huge && strcmp(dirs[0], SHM_DIR) == 0)
			LOG(WARNING, "no hugepages for persistent state (%s): using " SHM_DIR,
			    rte_eal_has_hugepages() ? "no hugetlbfs at " HUGE_DIR : "EAL --no-huge");
	} else {
		dirs[n++] = conf;
		if (strcmp(conf, SHM_DIR) != 0)
			dirs[n++] = SHM_DIR;
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(st->dir, sizeof(st->dir), "%s", dirs[i]);
		err[0] = '\0';
		int rc = map_all(dp, st, err, errlen);
		if (rc == 0) {
			dp->state = st;
			uint32_t longest = 0;
			for (int s = 0; s < LB_CT_NSTATES; s++)
				if (dp->conf.ct_timeout_s[s] > longest)
					longest = dp->conf.ct_timeout_s[s];
			dp->adopt_hold_ms = longest * 1000u + HOLD_MARGIN_MS;
			dp->adopt_until = lb_dp_ms(dp, dp->start_tsc) + dp->adopt_hold_ms;
			LOG(NOTICE, "persistent state in %s%s", st->dir,
			    dp->adopting ? ": connections of the previous process kept" : "");
			return 0;
		}
		if (rc == LB_ECONFLICT) {
			free(st);
			return rc;
		}
		LOG(WARNING, "persistent state cannot live in %s (%s)%s", dirs[i], err,
		    i + 1 < n ? ": trying the next place" : "");
	}
	LOG(WARNING, "persistent state off: a restart starts with empty tables");
	err[0] = '\0';
	free(st);
	return 0;
}

void
lb_state_close(struct lb_dp *dp)
{
	struct lb_state *st = dp->state;

	if (st == NULL)
		return;
	for (unsigned w = 0; w < st->n_ct; w++) {
		struct lb_state_hdr *h = st->ct[w].base;
		h->clock_ms = mono_ms();
		h->clean = 1;
		unmap(&st->ct[w]);
		dp->ct_mem[w] = NULL;
	}
	struct lb_state_hdr *h = st->shared.base;
	h->clock_ms = mono_ms();
	h->clean = 1;
	unmap(&st->shared); /* also drops the lock */
	dp->svc_dir = NULL;
	dp->state = NULL;
	free(st);
}
