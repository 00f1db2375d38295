/*
 * svc_build.c - the service builder thread and its job list (see svc_build.h).
 *
 * Runs: lb_svcb_* on the control thread; builder_main() on the one builder
 * pthread it starts (no lcore, no EAL call, no shared table touched: it only
 * mallocs and runs lb_svc_build()). Owns the job list, one mutex guarding it.
 *
 * The list holds every job submitted and not yet handed back, in submission
 * order: QUEUED (the builder has not started it; a newer spec may replace its
 * spec), BUILDING (a newer job of the same service may call it off), DONE. The
 * builder takes the oldest QUEUED job; the control thread takes DONE jobs from
 * the head only, so builds come back in order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "lb_error.h"
#include "maglev_cache.h"
#include "service.h"
#include "svc_build.h"

enum { JOB_QUEUED, JOB_BUILDING, JOB_DONE };

struct lb_svcb {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool started, stop;
	int efd;
	int nice; /* above the creator's */
	uint64_t seed;
	struct lb_maglev_cache *cache; /* the builder thread's alone */
	struct lb_svcb_job *head, *tail;
	uint32_t n;
};

static bool
same_key(const struct lb_svc_spec *a, const struct lb_svc_spec *b)
{
	return a->port == b->port && a->proto == b->proto && lb_addr_cmp(&a->vip, &b->vip) == 0;
}

/* A build given up because a newer spec of its service came (LB_ECANCELED). */
static bool
called_off(const struct lb_svcb_job *j)
{
	return j->state == JOB_DONE && j->svc == NULL && j->rc == LB_ECANCELED;
}

static uint64_t
thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
builder_main(void *arg)
{
	struct lb_svcb *b = arg;

	/* Linux: a thread's own nice value, by its tid. Lowering needs no privilege. */
	if (b->nice > 0) {
		id_t tid = (id_t)gettid();
		int cur;

		errno = 0;
		cur = getpriority(PRIO_PROCESS, tid);
		if (errno == 0)
			(void)setpriority(PRIO_PROCESS, tid, cur + b->nice > 19 ? 19 : cur + b->nice);
	}
	pthread_mutex_lock(&b->mu);
	for (;;) {
		struct lb_svcb_job *j = b->head;

		while (j != NULL && j->state != JOB_QUEUED)
			j = j->next;
		if (j == NULL) {
			if (b->stop)
				break;
			pthread_cond_wait(&b->cv, &b->mu);
			continue;
		}
		j->state = JOB_BUILDING;
		pthread_mutex_unlock(&b->mu);

		/* j->spec is ours while BUILDING: submit() never replaces it now. */
		j->start_tsc = rte_rdtsc(); /* an instruction, not an EAL call */
		uint64_t t0 = thread_ns();
		int rc = LB_EINVAL;
		bool cached;
		struct lb_svc *svc = lb_svc_build(&j->spec, b->seed, b->cache, &j->cancel, &cached,
						  &rc, j->err, sizeof(j->err));
		uint64_t dt = thread_ns() - t0;

		j->done_tsc = rte_rdtsc();
		pthread_mutex_lock(&b->mu);
		j->svc = svc;
		j->table_cached = cached;
		j->rc = svc ? 0 : rc;
		j->build_ns = dt;
		j->state = JOB_DONE;
		if (called_off(j)) {
			/* The job that called it off takes its tags (lb_svcb_done) and
			 * runs to its end. */
			for (struct lb_svcb_job *k = j->next; k != NULL; k = k->next)
				if (same_key(&k->spec, &j->spec)) {
					k->no_cancel = true;
					break;
				}
		}
		uint64_t one = 1;
		if (write(b->efd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
			/* cannot happen for an eventfd below its maximum count */
		}
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

struct lb_svcb *
lb_svcb_create(uint64_t seed, size_t cache_bytes, int nice, char *err, size_t errlen)
{
	struct lb_svcb *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		snprintf(err, errlen, "service builder: out of memory");
		return NULL;
	}
	b->seed = seed;
	b->nice = nice;
	b->cache = lb_maglev_cache_create(cache_bytes);
	if (b->cache == NULL) {
		snprintf(err, errlen, "service builder: out of memory");
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		snprintf(err, errlen, "service builder: eventfd: %s", strerror(errno));
		free(lb_svcb_destroy(b));
		return NULL;
	}
	/* Inherits the control thread's CPU set: it never takes a worker's core. */
	int rc = pthread_create(&b->th, NULL, builder_main, b);
	if (rc != 0) {
		snprintf(err, errlen, "service builder: thread: %s", strerror(rc));
		free(lb_svcb_destroy(b));
		return NULL;
	}
	b->started = true;
	pthread_setname_np(b->th, "lb-svc-build");
	return b;
}

void
lb_svcb_job_free(struct lb_svcb_job *j)
{
	if (j == NULL)
		return;
	if (j->svc)
		lb_svc_discard(j->svc);
	lb_svc_spec_free(&j->spec);
	free(j->tags);
	free(j);
}

struct lb_svcb_job *
lb_svcb_destroy(struct lb_svcb *b)
{
	struct lb_svcb_job *left;

	if (b == NULL)
		return NULL;
	if (b->started) {
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_signal(&b->cv);
		pthread_mutex_unlock(&b->mu);
		/* It finishes the jobs still queued first: bounded by what was submitted. */
		pthread_join(b->th, NULL);
	}
	left = b->head;
	if (b->efd >= 0)
		close(b->efd);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	lb_maglev_cache_destroy(b->cache);
	free(b);
	return left;
}

int
lb_svcb_fd(const struct lb_svcb *b)
{
	return b->efd;
}

static int
add_tag(struct lb_svcb_job *j, void *tag)
{
	if (j->n_tags == j->tag_cap) {
		uint32_t cap = j->tag_cap ? 2 * j->tag_cap : 4;
		void **t = realloc(j->tags, sizeof(*t) * cap);
		if (t == NULL)
			return LB_ENOMEM;
		j->tags = t;
		j->tag_cap = cap;
	}
	j->tags[j->n_tags++] = tag;
	return 0;
}

int
lb_svcb_submit(struct lb_svcb *b, struct lb_svc_spec *spec, void *tag, bool *replaced)
{
	struct lb_svcb_job *last = NULL;
	int rc = 0;

	*replaced = false;
	pthread_mutex_lock(&b->mu);
	for (struct lb_svcb_job *j = b->head; j != NULL; j = j->next)
		if (same_key(&j->spec, spec))
			last = j;
	if (last != NULL && last->state == JOB_QUEUED) {
		/* Not started: build the newest spec instead, once, for both. */
		if (add_tag(last, tag) < 0) {
			rc = LB_ENOMEM;
			goto out;
		}
		lb_svc_spec_free(&last->spec);
		last->spec = *spec;
		memset(spec, 0, sizeof(*spec));
		last->n_specs++;
		*replaced = true;
		goto out;
	}
	struct lb_svcb_job *j = calloc(1, sizeof(*j));
	if (j == NULL || add_tag(j, tag) < 0) {
		free(j);
		rc = LB_ENOMEM;
		goto out;
	}
	/* A build of an older spec in progress: call it off (it may be past its last
	 * check and finish anyway). */
	if (last != NULL && last->state == JOB_BUILDING && !last->no_cancel)
		__atomic_store_n(&last->cancel, 1, __ATOMIC_RELAXED);
	j->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	j->n_specs = 1;
	j->state = JOB_QUEUED;
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	b->n++;
	pthread_cond_signal(&b->cv);
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* Put j's tags before later's (they are older). Under the mutex. */
static int
hand_over(struct lb_svcb_job *j, struct lb_svcb_job *later)
{
	uint32_t n = j->n_tags + later->n_tags;
	void **t = malloc(sizeof(*t) * (n ? n : 1));

	if (t == NULL)
		return LB_ENOMEM;
	memcpy(t, j->tags, sizeof(*t) * j->n_tags);
	memcpy(t + j->n_tags, later->tags, sizeof(*t) * later->n_tags);
	free(later->tags);
	later->tags = t;
	later->n_tags = later->tag_cap = n;
	later->n_specs += j->n_specs;
	later->n_cancelled += j->n_cancelled;
	return 0;
}

struct lb_svcb_job *
lb_svcb_done(struct lb_svcb *b)
{
	uint64_t cnt;
	struct lb_svcb_job *out = NULL;

	if (read(b->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing new signalled; the list is still checked below */
	}
	pthread_mutex_lock(&b->mu);
	while (b->head != NULL && b->head->state == JOB_DONE) {
		struct lb_svcb_job *j = b->head, *later = NULL;

		b->head = j->next;
		if (b->head == NULL)
			b->tail = NULL;
		b->n--;
		j->next = NULL;
		/*
		 * Called off: the newer job that did it answers for it, whatever its
		 * state. Overtaken by a later submission of the same service whose
		 * build is already done (and was not itself called off): that one
		 * answers, and this one is never published. A later one still queued
		 * or building does not stop a finished build: it is newer than what
		 * the workers have, and dropping every build that a newer submission
		 * overtakes published almost nothing under a steady stream of updates
		 * to one service (each build done, then dropped, because the next spec
		 * had arrived meanwhile).
		 */
		for (struct lb_svcb_job *k = b->head; k != NULL; k = k->next)
			if (same_key(&k->spec, &j->spec)) {
				later = k;
				break;
			}
		bool off = called_off(j);
		bool overtaken = later != NULL && later->state == JOB_DONE && !called_off(later);
		if (later != NULL && (off || overtaken) && hand_over(j, later) == 0) {
			later->n_cancelled += off;
			lb_svcb_job_free(j);
			continue;
		}
		out = j;
		break;
	}
	pthread_mutex_unlock(&b->mu);
	return out;
}

bool
lb_svcb_building(const struct lb_svcb *b)
{
	struct lb_svcb *m = (struct lb_svcb *)b;
	bool found = false;

	pthread_mutex_lock(&m->mu);
	for (struct lb_svcb_job *j = m->head; j != NULL && !found; j = j->next)
		found = j->state == JOB_BUILDING;
	pthread_mutex_unlock(&m->mu);
	return found;
}

uint32_t
lb_svcb_pending(const struct lb_svcb *b)
{
	return __atomic_load_n(&b->n, __ATOMIC_RELAXED);
}

bool
lb_svcb_pending_for(const struct lb_svcb *b, const struct lb_addr *vip, uint16_t port,
		    uint8_t proto)
{
	struct lb_svcb *m = (struct lb_svcb *)b;
	bool found = false;

	pthread_mutex_lock(&m->mu);
	for (struct lb_svcb_job *j = m->head; j != NULL && !found; j = j->next)
		found = j->spec.port == port && j->spec.proto == proto &&
			lb_addr_cmp(&j->spec.vip, vip) == 0;
	pthread_mutex_unlock(&m->mu);
	return found;
}
