/*
 * maglev.c - Maglev lookup-table population (Eisenbud et al., NSDI 2016,
 * Pseudocode 1), with weights.
 *
 * Owns lb_maglev_build() and lb_maglev_build_cancel() only; lb_maglev_pick() is
 * inline in maglev.h. Called by the dp's builder thread when it builds a service
 * object (dp/tables/service.c), never by a worker lcore: a build costs about a
 * millisecond and mallocs. Pure C, no DPDK.
 *
 * Each backend's preference list is the permutation offset, offset+skip, ... (mod m),
 * with offset = h1(key) % m and skip = h2(key) % (m-1) + 1; m is prime, so every
 * skip visits every slot. We keep only each backend's next position, never the
 * m x n permutation matrix the paper tabulates.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lb_error.h"
#include "lb_model.h"
#include "hash.h"
#include "maglev.h"
#include "maglev_priv.h"

/*
 * h1 and h2 must be independent, so h2 uses the seed xor a fixed odd constant.
 * Changing either constant changes every table: two boxes sharing a seed must
 * also share these.
 */
#define MAGLEV_SKIP_SEED_XOR 0x2545f4914f6cdd1dULL

#define MAGLEV_N_MAX 65535u /* 0xffff is LB_MAGLEV_EMPTY, so indexes stop at 65534 */

/* One backend in key order, for sorting and the duplicate check. */
struct ord {
	const uint8_t *key;
	size_t key_len;
	uint32_t idx; /* position in the caller's b[] */
};

/* Key bytes first, then length: "ab" < "abc" < "b". */
static int
ord_cmp(const void *pa, const void *pb)
{
	const struct ord *a = pa, *b = pb;
	size_t len = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = len > 0 ? memcmp(a->key, b->key, len) : 0;

	if (c != 0)
		return c;
	return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static void
fill_empty(uint16_t *table, uint32_t m)
{
	for (uint32_t i = 0; i < m; i++)
		table[i] = LB_MAGLEV_EMPTY;
}

/*
 * The turn structure of the weighted algorithm: each turn a backend earns `weight`
 * credits and claims a slot when it holds max_weight. weight <= max_weight, so a
 * backend claims at most one slot per round of turns and the heaviest claims one
 * every round: with equal weights every backend claims every round, which is the
 * paper's loop exactly.
 */
static inline int
earn(uint64_t *credit, uint32_t weight, uint32_t max_weight)
{
	*credit += weight;
	if (*credit < max_weight)
		return 0;
	*credit -= max_weight;
	return 1;
}

/*
 * Who claims next. Backends take turns in key order, round after round, until
 * every slot is taken; each turn a backend earns its weight (earn()) and claims a
 * slot when it holds max_weight. It ends: the heaviest backend claims a slot every
 * round, and every permutation (m prime, 0 < skip < m) reaches every free slot.
 * Four ways to find the next claimer give the same claims in the same order, so
 * the same table (tests/test_maglev.c compares each with the reference loop):
 *
 *  - every turn: all weights equal, so every turn claims (Pseudocode 1 as
 *    printed).
 *  - turns: every turn of every round, as above. Fine when most turns claim.
 *  - classes: for 2..CLASSES_MAX distinct weights (a hundred at 1 beside one at
 *    20: by turns would spend 20 turns a claim of the heavy one). Every backend
 *    starts at credit 0 and earns its weight a turn, so one of weight w claims
 *    in round r exactly when floor(r * w / max_weight) grows: the
 *    same rounds for every backend of that weight. A round costs one earn() per
 *    weight class, and the members of the classes that claim are merged back into
 *    key order, once per set of claiming classes (kept for the rounds where the
 *    same set claims again). At least the heaviest class claims every round.
 *  - heap: many distinct weights, most turns claiming nothing (one at 1000 beside
 *    a hundred at 1 and a few others: over a hundred turns a claim). A backend's
 *    credit changes by its weight a turn and by nothing else, so its next claim is
 *    known when it claims: t = ceil((max_weight - credit) / weight) rounds later.
 *    Claims come in (round, position) order, the turn order; a binary heap on that
 *    key hands them out, O(log n) a claim instead of the wasted turns.
 */
#define CLASSES_MAX 8u

struct wclass {
	uint64_t credit;
	uint32_t weight;
	uint32_t first, end; /* its backends' positions: members[first..end), ascending */
	uint32_t cur;        /* classes_round(): its next member */
};

struct claimers {
	struct perm *p;
	uint32_t np, max_weight;
	uint32_t j;                /* turns: the next turn's backend */
	uint32_t *scratch;         /* classes: members[] then merged[]; heap: the heap */
	struct wclass c[CLASSES_MAX];
	uint32_t nc;
	uint32_t *merged;          /* classes: a round's claimers when several classes claim */
	const uint32_t *round;     /* classes: this round's claimers, in key order */
	/* classes: the merged claimers of each set of claiming classes seen (bit k =
	 * class k), kept up to MERGED_KEPT_MAX entries in all */
	uint32_t *by_set[1u << CLASSES_MAX];
	uint32_t by_set_len[1u << CLASSES_MAX];
	size_t kept;
	uint32_t round_len, at;
	struct perm *last;         /* heap: the previous claimer, to reschedule */
};

/* Equal weights: every turn claims (the paper's loop), no credit to keep. */
static inline struct perm *
next_every_turn(struct claimers *cl)
{
	struct perm *e = &cl->p[cl->j];

	if (++cl->j == cl->np)
		cl->j = 0;
	return e;
}

static inline struct perm *
next_by_turns(struct claimers *cl)
{
	for (;;) {
		struct perm *e = &cl->p[cl->j];

		if (++cl->j == cl->np)
			cl->j = 0;
		if (earn(&e->credit, e->weight, cl->max_weight))
			return e;
	}
}

/* Weight classes of cl->p into cl->c, positions into cl->scratch. Returns false if
 * there are more than CLASSES_MAX. */
static bool
classes_init(struct claimers *cl)
{
	struct wclass *c = cl->c;
	uint32_t nc = 0;

	for (uint32_t i = 0; i < cl->np; i++) {
		uint32_t k = 0;

		while (k < nc && c[k].weight != cl->p[i].weight)
			k++;
		if (k == nc) {
			if (nc == CLASSES_MAX)
				return false;
			c[nc++] = (struct wclass){.weight = cl->p[i].weight};
		}
		c[k].end++; /* a count for now */
	}
	for (uint32_t k = 0, at = 0; k < nc; k++) {
		c[k].first = at;
		at += c[k].end;
		c[k].end = c[k].first;
	}
	for (uint32_t i = 0; i < cl->np; i++) {
		uint32_t k = 0;

		while (c[k].weight != cl->p[i].weight)
			k++;
		cl->scratch[c[k].end++] = i;
	}
	cl->nc = nc;
	cl->merged = cl->scratch + cl->np;
	cl->round_len = cl->at = 0;
	return true;
}

/* Merged claimer lists kept across rounds, in entries: 4 MiB at most. */
#define MERGED_KEPT_MAX (1u << 20)

/* The start of a round by classes: which classes claim, and their members merged
 * into key order in cl->round (the members' own slice when only one class does;
 * a list merged before for the same set of classes when there is one). */
static void
classes_round(struct claimers *cl)
{
	const uint32_t *members = cl->scratch;
	struct wclass *on[CLASSES_MAX];
	uint32_t n_on = 0, set = 0, len = 0;

	while (n_on == 0)
		for (uint32_t k = 0; k < cl->nc; k++)
			if (earn(&cl->c[k].credit, cl->c[k].weight, cl->max_weight))
				on[n_on++] = &cl->c[k];
	cl->at = 0;
	if (n_on == 1) {
		cl->round = members + on[0]->first;
		cl->round_len = on[0]->end - on[0]->first;
		return;
	}
	for (uint32_t k = 0; k < n_on; k++)
		set |= 1u << (on[k] - cl->c);
	if (cl->by_set[set] != NULL) {
		cl->round = cl->by_set[set];
		cl->round_len = cl->by_set_len[set];
		return;
	}
	for (uint32_t k = 0; k < n_on; k++)
		len += on[k]->end - on[k]->first;
	/* Kept for the next round of this set if the budget allows (a failed malloc
	 * only means merging again next time). */
	uint32_t *dst = cl->kept + len <= MERGED_KEPT_MAX ? malloc(sizeof(*dst) * len) : NULL;
	if (dst != NULL) {
		cl->by_set[set] = dst;
		cl->by_set_len[set] = len;
		cl->kept += len;
	} else {
		dst = cl->merged;
	}
	cl->round = dst;
	cl->round_len = 0;
	for (uint32_t k = 0; k < n_on; k++)
		on[k]->cur = on[k]->first;
	while (n_on > 0) {
		uint32_t best = 0;

		for (uint32_t k = 1; k < n_on; k++)
			if (members[on[k]->cur] < members[on[best]->cur])
				best = k;
		dst[cl->round_len++] = members[on[best]->cur];
		if (++on[best]->cur == on[best]->end)
			on[best] = on[--n_on];
	}
}

static inline struct perm *
next_by_classes(struct claimers *cl)
{
	if (cl->at == cl->round_len)
		classes_round(cl);
	return &cl->p[cl->round[cl->at++]];
}

static void
schedule(struct perm *e, uint64_t round, uint32_t max_weight)
{
	uint64_t t = (max_weight - e->credit + e->weight - 1) / e->weight;

	e->due = round + t;
	e->credit = e->credit + t * e->weight - max_weight;
}

static inline uint64_t
due_key(const struct perm *p, uint32_t pos)
{
	return p[pos].due << 16 | pos;
}

static void
sift_down(uint32_t *heap, uint32_t n, uint32_t at, const struct perm *p)
{
	uint32_t x = heap[at];
	uint64_t kx = due_key(p, x);

	for (;;) {
		uint32_t c = 2 * at + 1;

		if (c >= n)
			break;
		if (c + 1 < n && due_key(p, heap[c + 1]) < due_key(p, heap[c]))
			c++;
		if (kx <= due_key(p, heap[c]))
			break;
		heap[at] = heap[c];
		at = c;
	}
	heap[at] = x;
}

static void
heap_init(struct claimers *cl)
{
	/* Round 1 is the first pass over the backends (credit 0 before it). */
	for (uint32_t i = 0; i < cl->np; i++) {
		cl->p[i].credit = 0;
		schedule(&cl->p[i], 0, cl->max_weight);
		cl->scratch[i] = i;
	}
	for (uint32_t i = cl->np / 2; i-- > 0;)
		sift_down(cl->scratch, cl->np, i, cl->p);
	cl->last = NULL;
}

static inline struct perm *
next_by_heap(struct claimers *cl)
{
	if (cl->last != NULL) {
		schedule(cl->last, cl->last->due, cl->max_weight);
		sift_down(cl->scratch, cl->np, 0, cl->p);
	}
	cl->last = &cl->p[cl->scratch[0]];
	return cl->last;
}

/*
 * Where the claims go: from `filled` (the claims made in batches, if any) walk()
 * until only FREE_MAX slots are left, then maglev_nearest_free() over the list
 * of those slots. Inlined once per way of finding the claimer, so each loop keeps
 * the table and its counters in registers; the cancel check runs once per
 * LB_MAGLEV_CANCEL_EVERY claims, outside that loop.
 *
 * With equal weights (every turn claims) a claim's first probe is taken as often
 * as the table is full, and a walk ends on a mispredicted branch about as often:
 * from 30 % to 55 % full a claim walks with walk_k() and 4 probes (all 4 taken:
 * 9 % of claims at most), to 75 % with 6; below 30 % walk()'s first probe is
 * usually free and well predicted, above 75 % the probes a claim needs cost more
 * than the mispredict. Measured at m = 65537, n = 1000 (docs/performance.md,
 * "Maglev table build"): 8 probes from 55 %, or 16 up to 86 %, were slower. With
 * uneven weights one heavy backend claims most slots and usually finds its next
 * position free: walk() throughout (walk_k() measured 5-17 % slower there).
 * Either way the probes, and so the slots, are walk()'s. (Where batches run,
 * equal weights reach here 90 % full, so only walk() is left.)
 */
#define WALK_K4_FROM_PCT 30u
#define WALK_K6_FROM_PCT 55u
#define WALK_K_UNTIL_PCT 75u

static inline __attribute__((always_inline)) int
populate(uint16_t *table, uint32_t m, struct claimers *restrict cl,
	 struct perm *(*next)(struct claimers *), const bool equal_weights, uint32_t filled,
	 const int *cancel)
{
	uint32_t free_slots[FREE_MAX];
	uint32_t walk_until = walked_claims(m);
	uint32_t n_free;
	uint64_t m_recip = UINT64_MAX / m;
	uint32_t k4_from = (uint32_t)((uint64_t)m * WALK_K4_FROM_PCT / 100);
	uint32_t k6_from = (uint32_t)((uint64_t)m * WALK_K6_FROM_PCT / 100);
	uint32_t k_until = (uint32_t)((uint64_t)m * WALK_K_UNTIL_PCT / 100);

	while (filled < walk_until) {
		uint32_t chunk_end = walk_until - filled > LB_MAGLEV_CANCEL_EVERY
					     ? filled + LB_MAGLEV_CANCEL_EVERY : walk_until;

		if (cancel_requested(cancel))
			return LB_ECANCELED;
		for (; filled < chunk_end; filled++) {
			struct perm *e = next(cl);
			uint32_t c;

			if (!equal_weights || filled < k4_from || filled >= k_until)
				c = walk(table, m, e);
			else if (filled < k6_from)
				c = walk_k(table, m, e, 4);
			else
				c = walk_k(table, m, e, 6);
			table[c] = e->idx;
		}
	}
	n_free = maglev_collect_free(table, m, free_slots);
	while (n_free > 0) {
		struct perm *e = next(cl);
		uint32_t k = maglev_nearest_free(free_slots, n_free, m, m_recip, e);

		table[free_slots[k]] = e->idx;
		free_slots[k] = free_slots[--n_free];
	}
	return 0;
}

static int
populate_every_turn(uint16_t *table, uint32_t m, struct claimers *cl, const int *cancel)
{
	uint32_t filled = 0;
	int rc = maglev_claim_in_batches(table, m, cl->p, cl->np, &cl->j, &filled, cancel);

	if (rc != 0)
		return rc;
	return populate(table, m, cl, next_every_turn, true, filled, cancel);
}

static int
populate_by_turns(uint16_t *table, uint32_t m, struct claimers *cl, const int *cancel)
{
	return populate(table, m, cl, next_by_turns, false, 0, cancel);
}

static int
populate_by_classes(uint16_t *table, uint32_t m, struct claimers *cl, const int *cancel)
{
	return populate(table, m, cl, next_by_classes, false, 0, cancel);
}

static int
populate_by_heap(uint16_t *table, uint32_t m, struct claimers *cl, const int *cancel)
{
	heap_init(cl);
	return populate(table, m, cl, next_by_heap, false, 0, cancel);
}

/* Turns per claim above which the heap beats taking every turn. */
#define SPARSE_TURNS_PER_CLAIM 16u

int
lb_maglev_build(uint16_t *table, uint32_t m, const struct lb_maglev_backend *b,
		uint32_t n, uint64_t seed)
{
	return lb_maglev_build_cancel(table, m, b, n, seed, NULL);
}

int
lb_maglev_build_cancel(uint16_t *table, uint32_t m, const struct lb_maglev_backend *b,
		       uint32_t n, uint64_t seed, const int *cancel)
{
	struct ord *ord = NULL;
	struct perm *perm = NULL;
	uint32_t np = 0, max_weight = 0;
	uint64_t sum_weight = 0;
	int rc = 0;

	if (table == NULL || !lb_maglev_m_valid(m) || n > MAGLEV_N_MAX ||
	    (n > 0 && b == NULL))
		return LB_EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (b[i].key == NULL && b[i].key_len > 0)
			return LB_EINVAL;

	if (n == 0) {
		fill_empty(table, m);
		return 0;
	}

	/* calloc(n, ...) checks n * size for overflow; n >= 1 here, so NULL means failure. */
	ord = calloc(n, sizeof(*ord));
	perm = calloc(n, sizeof(*perm));
	if (ord == NULL || perm == NULL) {
		rc = LB_ENOMEM;
		goto out;
	}

	/* Key order, not caller order, so the table depends only on the set. */
	for (uint32_t i = 0; i < n; i++) {
		ord[i].key = b[i].key;
		ord[i].key_len = b[i].key_len;
		ord[i].idx = i;
	}
	qsort(ord, n, sizeof(*ord), ord_cmp);

	/* Sorted, a duplicate key sits next to its twin. Weight 0 ones count too:
	 * the caller's set is ambiguous either way. */
	for (uint32_t i = 1; i < n; i++) {
		if (ord_cmp(&ord[i - 1], &ord[i]) == 0) {
			rc = LB_EINVAL;
			goto out;
		}
	}

	/* Weight 0 backends are left out entirely, so zeroing a weight moves exactly
	 * the slots that removing the backend would. */
	uint64_t m_recip = UINT64_MAX / m, m1_recip = UINT64_MAX / (m - 1);
	for (uint32_t i = 0; i < n; i++) {
		const struct ord *o = &ord[i];
		uint32_t w = b[o->idx].weight;
		struct perm *e;

		if (w == 0)
			continue;
		e = &perm[np++];
		e->next = mod_u64(lb_hash_bytes(o->key, o->key_len, seed), m, m_recip);
		e->skip = mod_u64(lb_hash_bytes(o->key, o->key_len, seed ^ MAGLEV_SKIP_SEED_XOR),
				  m - 1, m1_recip) + 1;
		e->credit = 0;
		e->weight = w;
		e->idx = (uint16_t)o->idx;
		sum_weight += w;
		if (w > max_weight)
			max_weight = w;
	}
	/* One weight: every turn claims. Two to CLASSES_MAX distinct weights: by
	 * classes. Else, when a round of np turns claims
	 * fewer than one slot in SPARSE_TURNS_PER_CLAIM (sum_weight / max_weight a
	 * round): by heap. Else by turns. */
	struct claimers cl = {.p = perm, .np = np, .max_weight = max_weight};
	bool sparse = (uint64_t)np * max_weight >= SPARSE_TURNS_PER_CLAIM * sum_weight;

	if (np > 0 && (cl.scratch = calloc(2 * (size_t)np, sizeof(*cl.scratch))) == NULL) {
		rc = LB_ENOMEM;
		goto out;
	}
	/* Only now touch the table: a build that fails on its inputs or on memory
	 * leaves the caller's table as it was (one called off leaves it part-filled). */
	fill_empty(table, m);
	if (np > 0 && classes_init(&cl) && cl.nc == 1)
		rc = populate_every_turn(table, m, &cl, cancel);
	else if (np > 0 && cl.nc > 1)
		rc = populate_by_classes(table, m, &cl, cancel);
	else if (np > 0 && sparse)
		rc = populate_by_heap(table, m, &cl, cancel);
	else if (np > 0)
		rc = populate_by_turns(table, m, &cl, cancel);
	for (uint32_t s = 0; s < (1u << CLASSES_MAX); s++)
		free(cl.by_set[s]);
	free(cl.scratch);
out:
	free(ord);
	free(perm);
	return rc;
}
