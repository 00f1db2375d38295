/*
 * conntrack_snat.c - fnat source ports: which port a new flow to a backend gets.
 *
 * Part of the per-worker conntrack (same owner: one worker lcore, no locks; the
 * control thread only reads figures). Owns the snat area of the conntrack block:
 *   real_map[snat_reals] | pair[snat_pairs]
 * real_map gives a backend's first pair (one per local address it was reached
 * from, chained); a pair is taken from the area the first time a (backend, local
 * address) pair is used and holds three bitmaps over the table's slice of ports
 * (p = first + i * stride): free, and two generations of cooling ports. No search:
 *  - the lowest free port is found through two summary levels (ctz, ctz, ctz);
 *  - a released port goes to the current cooling generation; when the generation
 *    is snat_delay_ms old, the previous one is merged into free and the current
 *    becomes previous, so a port waits between 1x and 2x the delay (Linux backends
 *    keep TIME_WAIT for 60 s; a SYN on that tuple earlier is dropped or delayed).
 *    The merge is a pass over one bitmap's words, once per delay per pair, skipped
 *    when the generation is empty.
 * Offsets only, as the rest of the block.
 */
#include <stdint.h>
#include <string.h>

#include "conntrack.h"
#include "conntrack_priv.h"
#include "lb_model.h"

#define SNAT_MAX_WORDS 1024 /* 65536 ports / 64 */
#define SNAT_CHECK_TRIES 4  /* ports taken by another service's flow skipped at most */
#define SNAT_RECLAIM_LOOK 256

struct snat_pair {
	uint8_t backend[16];
	uint16_t backend_port; /* network order */
	uint8_t proto;
	uint8_t used;
	uint32_t epoch;      /* clock (ms) the current cooling generation started */
	uint32_t in_use;     /* ports held by entries */
	uint32_t cool_n[2];  /* ports in each cooling generation */
	uint32_t cursor;     /* where lb_ct_snat_reclaim() looks next */
	uint8_t local_idx;
	uint8_t cur;         /* the current cooling generation */
	uint8_t pad[2];
	uint32_t self;       /* this pair's index */
	uint32_t rot;        /* slice index i is port first + ((i + rot) % count) * stride */
	uint64_t exhausted;  /* allocations refused */
	uint64_t top;        /* bit j: l1[j] != 0 */
	uint64_t l1[SNAT_MAX_WORDS / 64]; /* bit b of word j: free word 64 j + b is not 0 */
	/* followed by uint64_t free[words], gen[2][words] */
};

static uint64_t
align64(uint64_t n)
{
	return (n + 63) & ~(uint64_t)63;
}

static uint16_t
to_net16(uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	uint16_t r;

	memcpy(&r, b, 2);
	return r;
}

static uint16_t
from_net16(uint16_t v)
{
	uint8_t b[2];

	memcpy(b, &v, 2);
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* The port (network order) of slice index i of pair p. */
static uint16_t
port_of(const struct lb_ct *ct, const struct snat_pair *p, uint32_t i)
{
	uint32_t pos = (i + p->rot) % ct->snat_count;

	return to_net16((uint16_t)(ct->snat_first + pos * ct->snat_stride));
}

int
lb_ct_snat_plan(const struct lb_ct_conf *conf, uint64_t *size)
{
	*size = 0;
	if (conf->snat_pairs == 0)
		return 0;
	if (conf->snat_lo == 0 || conf->snat_lo > conf->snat_hi || conf->snat_stride == 0 ||
	    conf->snat_offset >= conf->snat_stride || conf->snat_pairs > (1u << 24) ||
	    conf->snat_delay_ms > INT32_MAX / 2)
		return LB_EINVAL;
	uint32_t lo = conf->snat_lo, st = conf->snat_stride;
	uint32_t first = lo + ((uint32_t)conf->snat_offset + st - lo % st) % st;
	uint32_t count = first > conf->snat_hi ? 0 : (conf->snat_hi - first) / st + 1;
	uint64_t words = (count + 63) / 64;
	uint64_t pair = align64(sizeof(struct snat_pair)) + align64(3 * words * 8);

	uint64_t slots = 1;
	while (slots < 2ull * conf->snat_pairs)
		slots <<= 1;
	*size = align64(slots * 4) + (uint64_t)conf->snat_pairs * pair;
	return 0;
}

static uint32_t *
real_map(const struct lb_ct *ct)
{
	return (uint32_t *)(void *)((uint8_t *)(uintptr_t)ct + ct->off_snat);
}

static struct snat_pair *
pair_at(const struct lb_ct *ct, uint32_t i)
{
	return (struct snat_pair *)(void *)((uint8_t *)(uintptr_t)ct + ct->snat_off_pairs +
					    (uint64_t)i * ct->snat_pair_size);
}

static uint64_t *
bits(const struct lb_ct *ct, const struct snat_pair *p, int which) /* 0 free, 1/2 gens */
{
	return (uint64_t *)(void *)((uint8_t *)(uintptr_t)p + align64(sizeof(*p))) +
	       (size_t)which * ct->snat_words;
}

void
lb_ct_snat_init(struct lb_ct *ct, const struct lb_ct_conf *conf)
{
	uint64_t size;

	ct->snat_pairs = 0;
	if (conf->snat_pairs == 0 || lb_ct_snat_plan(conf, &size) < 0)
		return;
	uint32_t lo = conf->snat_lo, st = conf->snat_stride;
	ct->snat_first = lo + ((uint32_t)conf->snat_offset + st - lo % st) % st;
	ct->snat_count = ct->snat_first > conf->snat_hi
				 ? 0 : (conf->snat_hi - ct->snat_first) / st + 1;
	ct->snat_stride = st;
	ct->snat_words = (ct->snat_count + 63) / 64;
	ct->snat_pairs = conf->snat_pairs;
	uint32_t slots = 1;
	while (slots < 2 * conf->snat_pairs)
		slots <<= 1;
	ct->snat_mask = slots - 1;
	ct->snat_delay_ms = conf->snat_delay_ms;
	ct->snat_pair_size = align64(sizeof(struct snat_pair)) + align64(3ull * ct->snat_words * 8);
	memset(real_map(ct), 0xff, (size_t)slots * 4);
	ct->snat_pend_pair = LB_CT_NIL;
	ct->snat_off_pairs = ct->off_snat + align64((uint64_t)slots * 4);
}

/* The snat area of a block left by a previous process has this conf's layout. */
int
lb_ct_snat_matches(const struct lb_ct *ct, const struct lb_ct_conf *conf)
{
	if (conf->snat_pairs == 0)
		return ct->snat_pairs == 0;
	uint32_t lo = conf->snat_lo, st = conf->snat_stride;
	uint32_t first = lo + ((uint32_t)conf->snat_offset + st - lo % st) % st;
	uint32_t count = first > conf->snat_hi ? 0 : (conf->snat_hi - first) / st + 1;
	uint32_t slots = 1;
	while (slots < 2 * conf->snat_pairs)
		slots <<= 1;
	return ct->snat_pairs == conf->snat_pairs && ct->snat_first == first &&
	       ct->snat_count == count && ct->snat_stride == st &&
	       ct->snat_words == (count + 63) / 64 && ct->snat_mask == slots - 1 &&
	       ct->snat_used <= ct->snat_pairs;
}

static void
set_free(struct snat_pair *p, uint64_t *fr, uint32_t i)
{
	uint32_t w = i / 64;

	fr[w] |= 1ull << (i % 64);
	p->l1[w / 64] |= 1ull << (w % 64);
	p->top |= 1ull << (w / 64);
}

static void
clear_free(struct snat_pair *p, uint64_t *fr, uint32_t i)
{
	uint32_t w = i / 64;

	fr[w] &= ~(1ull << (i % 64));
	if (fr[w] == 0) {
		p->l1[w / 64] &= ~(1ull << (w % 64));
		if (p->l1[w / 64] == 0)
			p->top &= ~(1ull << (w / 64));
	}
}

static int
is_set(const uint64_t *b, uint32_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

static uint32_t
pair_hash(const struct lb_ct *ct, const uint8_t *backend, uint16_t port, uint8_t proto,
	  uint8_t local_idx)
{
	uint64_t a, b;

	memcpy(&a, backend, 8);
	memcpy(&b, backend + 8, 8);
	return lb_ct_mulhash(a, b, (uint64_t)port << 16 | (uint64_t)proto << 8 | local_idx,
			     ct->seed ^ 0x2545f4914f6cdd1dULL);
}

/* A new pair in map slot *slot, every port of the slice free (once per pair). */
static __attribute__((noinline, cold)) struct snat_pair *
pair_new(struct lb_ct *ct, uint32_t *slot, uint32_t h, const uint8_t *backend, uint16_t port,
	 uint8_t proto, uint8_t local_idx, uint32_t now)
{
	if (ct->snat_used == ct->snat_pairs)
		return NULL;
	uint32_t pi = ct->snat_used++;
	struct snat_pair *p = pair_at(ct, pi);
	memset(p, 0, (size_t)ct->snat_pair_size);
	memcpy(p->backend, backend, 16);
	p->backend_port = port;
	p->proto = proto;
	p->local_idx = local_idx;
	p->used = 1;
	p->self = pi;
	/* Where index 0 lies in the slice, from the pair's hash under the table's
	 * random seed: a dp restarted with a fresh table does not hand out first the
	 * ports the backends still hold in TIME_WAIT, and backends do not all start on
	 * the same port. */
	p->rot = ct->snat_count ? (h >> 7) % ct->snat_count : 0;
	p->epoch = now;
	*slot = pi;
	uint64_t *fr = bits(ct, p, 0);
	for (uint32_t w = 0; w < ct->snat_words; w++) {
		uint32_t n = ct->snat_count - w * 64;
		fr[w] = n >= 64 ? ~0ull : (1ull << n) - 1;
		p->l1[w / 64] |= 1ull << (w % 64);
		p->top |= 1ull << (w / 64);
	}
	return p;
}

static inline int
pair_is(const struct snat_pair *p, const uint8_t *backend, uint16_t port, uint8_t proto,
	uint8_t local_idx)
{
	return p->local_idx == local_idx && p->backend_port == port && p->proto == proto &&
	       lb_ct_addr_eq(p->backend, backend);
}

/* The map slot of the pair of (backend, port, proto, local_idx), probing from its
 * pair hash *h (left at the slot's): the pair's slot, or the empty one where it
 * would go. Linear probing in a table at most half full: a probe or two. */
static inline uint32_t *
pair_slot(const struct lb_ct *ct, uint32_t *h, const uint8_t *backend, uint16_t port,
	  uint8_t proto, uint8_t local_idx)
{
	uint32_t *map = real_map(ct);

	for (;; (*h)++) {
		uint32_t *slot = &map[*h & ct->snat_mask];
		if (*slot == LB_CT_NIL ||
		    pair_is(pair_at(ct, *slot), backend, port, proto, local_idx))
			return slot;
	}
}

/* The pair of (backend, port, proto, local_idx); created (every port free) when
 * create is set and the area has room. */
static inline struct snat_pair *
pair_get(struct lb_ct *ct, const uint8_t *backend, uint16_t port, uint8_t proto,
	 uint8_t local_idx, int create, uint32_t now)
{
	uint32_t h = pair_hash(ct, backend, port, proto, local_idx);
	uint32_t *slot = pair_slot(ct, &h, backend, port, proto, local_idx);

	if (*slot != LB_CT_NIL)
		return pair_at(ct, *slot);
	return create ? pair_new(ct, slot, h, backend, port, proto, local_idx, now) : NULL;
}

/* pair_get() without creating, from the pair hash h already computed. */
static inline const struct snat_pair *
pair_find(const struct lb_ct *ct, uint32_t h, const struct lb_ct_rev_key *k)
{
	const uint32_t *slot = pair_slot(ct, &h, k->backend, k->backend_port, k->proto,
					 k->local_idx);

	return *slot == LB_CT_NIL ? NULL : pair_at(ct, *slot);
}

static struct snat_pair *
pair_of_key(struct lb_ct *ct, const struct lb_ct_rev_key *k, int create, uint32_t now)
{
	return pair_get(ct, k->backend, k->backend_port, k->proto, k->local_idx, create, now);
}

static struct snat_pair *
pair_of_conn(struct lb_ct *ct, const struct lb_conn *c, int create, uint32_t now)
{
	/* The pair lb_ct_snat_alloc() just gave this port from: no second lookup. */
	if (ct->snat_pend_pair != LB_CT_NIL && ct->snat_pend_port == c->local_port) {
		struct snat_pair *p = pair_at(ct, ct->snat_pend_pair);
		ct->snat_pend_pair = LB_CT_NIL;
		if (pair_is(p, c->backend, c->backend_port, (uint8_t)c->proto,
			    (uint8_t)c->local_idx))
			return p;
	}
	return pair_get(ct, c->backend, c->backend_port, (uint8_t)c->proto, (uint8_t)c->local_idx,
			create, now);
}

static void
merge_gen(const struct lb_ct *ct, struct snat_pair *p, int g)
{
	uint64_t *fr = bits(ct, p, 0), *gen = bits(ct, p, 1 + g);

	if (p->cool_n[g] == 0)
		return;
	for (uint32_t w = 0; w < ct->snat_words; w++) {
		if (gen[w] == 0)
			continue;
		fr[w] |= gen[w];
		gen[w] = 0;
		p->l1[w / 64] |= 1ull << (w % 64);
		p->top |= 1ull << (w / 64);
	}
	p->cool_n[g] = 0;
}

/* Age the cooling generations to now (module header): the part run once per delay. */
static __attribute__((noinline)) void
rotate_gen(const struct lb_ct *ct, struct snat_pair *p, uint32_t now, uint32_t d)
{
	/* A clock behind the epoch (a block kept across a restart with another
	 * clock): start the generation again rather than free ports early. */
	if ((int32_t)d < 0) {
		p->epoch = now;
		return;
	}
	merge_gen(ct, p, p->cur ^ 1);
	if (d >= 2 * ct->snat_delay_ms)
		merge_gen(ct, p, p->cur);
	p->cur ^= 1;
	p->epoch = now;
}

static inline void
rotate(const struct lb_ct *ct, struct snat_pair *p, uint32_t now)
{
	uint32_t d = now - p->epoch;

	if ((int32_t)d >= 0 && d < ct->snat_delay_ms)
		return; /* the current generation is younger than the delay */
	rotate_gen(ct, p, now, d);
}

/* Is the port (network order) in the slice? With p, also its index in p's order. */
static int
port_index(const struct lb_ct *ct, const struct snat_pair *p, uint16_t port_net, uint32_t *i)
{
	uint32_t port = from_net16(port_net);

	if (port < ct->snat_first || (port - ct->snat_first) % ct->snat_stride != 0)
		return 0;
	uint32_t pos = (port - ct->snat_first) / ct->snat_stride;
	if (pos >= ct->snat_count)
		return 0;
	*i = p ? (pos + ct->snat_count - p->rot) % ct->snat_count : pos;
	return 1;
}

static int
lowest_free(const struct lb_ct *ct, const struct snat_pair *p, uint32_t *i)
{
	if (p->top == 0)
		return 0;
	uint32_t j = (uint32_t)__builtin_ctzll(p->top);
	uint32_t w = j * 64 + (uint32_t)__builtin_ctzll(p->l1[j]);
	*i = w * 64 + (uint32_t)__builtin_ctzll(bits(ct, p, 0)[w]);
	return 1;
}

static void
cool(const struct lb_ct *ct, struct snat_pair *p, uint32_t i)
{
	uint64_t *gen = bits(ct, p, 1 + p->cur);

	if (!is_set(gen, i)) {
		gen[i / 64] |= 1ull << (i % 64);
		p->cool_n[p->cur]++;
	}
}

/* Take slice index i of pair p for an entry (lb_ct_snat_hold). */
static inline void
hold_index(const struct lb_ct *ct, struct snat_pair *p, uint32_t i)
{
	uint64_t *fr = bits(ct, p, 0);

	p->in_use++;
	if (is_set(fr, i)) {
		/* The usual case, a port from lb_ct_snat_alloc(): free, so not cooling. */
		clear_free(p, fr, i);
		return;
	}
	/* An entry inserted on a cooling port (a synced flow): held, not cooling. */
	for (int g = 0; g < 2; g++) {
		uint64_t *gen = bits(ct, p, 1 + g);
		if (is_set(gen, i)) {
			gen[i / 64] &= ~(1ull << (i % 64));
			p->cool_n[g]--;
		}
	}
}

/* lb_ct_snat_hold() of a port the allocator did not just give: find its pair. */
static __attribute__((noinline)) void
hold_lookup(struct lb_ct *ct, const struct lb_conn *c)
{
	uint32_t i;

	if (ct->snat_pairs == 0 || !port_index(ct, NULL, c->local_port, &i))
		return;
	struct snat_pair *p = pair_get(ct, c->backend, c->backend_port, (uint8_t)c->proto,
				       (uint8_t)c->local_idx, 1, ct->now);
	if (p == NULL)
		return;
	port_index(ct, p, c->local_port, &i);
	hold_index(ct, p, i);
}

void
lb_ct_snat_hold(struct lb_ct *ct, const struct lb_conn *c)
{
	/* The usual case: the port lb_ct_snat_alloc() just gave, whose pair and
	 * slice index it left (no pair lookup, no division). */
	if (ct->snat_pend_pair != LB_CT_NIL && ct->snat_pend_port == c->local_port) {
		struct snat_pair *p = pair_at(ct, ct->snat_pend_pair);
		ct->snat_pend_pair = LB_CT_NIL;
		if (pair_is(p, c->backend, c->backend_port, (uint8_t)c->proto,
			    (uint8_t)c->local_idx)) {
			hold_index(ct, p, ct->snat_pend_idx);
			return;
		}
	}
	hold_lookup(ct, c);
}

void
lb_ct_snat_release(struct lb_ct *ct, const struct lb_conn *c, int cools)
{
	uint32_t i;

	if (ct->snat_pairs == 0 || !port_index(ct, NULL, c->local_port, &i))
		return;
	struct snat_pair *p = pair_of_conn(ct, c, 0, 0);
	if (p == NULL)
		return;
	port_index(ct, p, c->local_port, &i);
	if (p->in_use > 0)
		p->in_use--;
	rotate(ct, p, ct->now);
	if (cools && ct->snat_delay_ms > 0)
		cool(ct, p, i);
	else
		set_free(p, bits(ct, p, 0), i);
}

int
lb_ct_snat_alloc_hint(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t now,
		      uint32_t *rev_hash, const struct lb_ct_snat_hint *hint)
{
	if (ct->snat_pairs == 0 || k->mode != LB_MODE_FNAT)
		return LB_EINVAL;
	ct->now = now;
	struct snat_pair *p = NULL;
	/* The classify stage's pair, if it is this key's (the scheduler may have
	 * picked another backend since, or a retry asks for another address). */
	if (hint != NULL && hint->pair < ct->snat_used) {
		struct snat_pair *q = pair_at(ct, hint->pair);
		if (pair_is(q, k->backend, k->backend_port, k->proto, k->local_idx))
			p = q;
		else
			hint = NULL;
	} else {
		hint = NULL;
	}
	if (p == NULL)
		p = pair_of_key(ct, k, 1, now);
	if (p == NULL) {
		ct->snat_no_pair++;
		ct->snat_exhausted++;
		return LB_EFULL;
	}
	rotate(ct, p, now);
	for (int t = 0; t < SNAT_CHECK_TRIES; t++) {
		uint32_t i;
		if (!lowest_free(ct, p, &i))
			break;
		/* The port and its hash from the hint, if the pair's lowest free port is
		 * still the hinted one (another new flow of the burst may have taken that). */
		uint32_t h;
		if (hint != NULL && t == 0 && i == hint->idx) {
			k->local_port = hint->port;
			h = hint->rev_hash;
		} else {
			k->local_port = port_of(ct, p, i);
			h = lb_ct_hash_rev(k, ct->seed);
		}
		if (lb_ct_lookup_rev(ct, k, h) == NULL) {
			/* Left free here: lb_ct_insert() takes it (lb_ct_snat_hold), and a
			 * failed insert loses nothing. */
			*rev_hash = h;
			ct->snat_pend_pair = p->self;
			ct->snat_pend_port = k->local_port;
			ct->snat_pend_idx = i;
			return 0;
		}
		/* Held by an entry the pair does not know of (inserted before the
		 * allocator, or with its port taken by hand): skip it until it goes. */
		clear_free(p, bits(ct, p, 0), i);
		cool(ct, p, i);
	}
	p->exhausted++;
	ct->snat_exhausted++;
	return LB_EFULL;
}

int
lb_ct_snat_alloc(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t now, uint32_t *rev_hash)
{
	return lb_ct_snat_alloc_hint(ct, k, now, rev_hash, NULL);
}

void
lb_ct_snat_prefetch(struct lb_ct *ct, struct lb_ct_rev_key *k, struct lb_ct_snat_hint *hint)
{
	struct lb_ct_snat_hint none, *h = hint != NULL ? hint : &none;

	lb_ct_snat_prefetch_bulk(ct, k, &h, 1);
}

/*
 * Three passes over the burst's keys, each on what the one before fetched: the
 * pairs' map slots, the pairs, then the lowest free port, its reverse hash and the
 * prefetch of that bucket. One key at a time, each step waited for the load of
 * the step before; over a burst the loads of all keys are in flight together.
 */
void
lb_ct_snat_prefetch_bulk(struct lb_ct *ct, struct lb_ct_rev_key *k,
			 struct lb_ct_snat_hint *const *hint, unsigned n)
{
	const struct snat_pair *pr[LB_CT_SNAT_BULK_MAX];
	uint32_t h[LB_CT_SNAT_BULK_MAX];
	const uint32_t *map = real_map(ct);

	for (unsigned t = 0; t < n; t++)
		hint[t]->pair = LB_CT_NIL;
	if (ct->snat_pairs == 0 || n > LB_CT_SNAT_BULK_MAX)
		return;
	for (unsigned t = 0; t < n; t++) {
		h[t] = pair_hash(ct, k[t].backend, k[t].backend_port, k[t].proto, k[t].local_idx);
		__builtin_prefetch(&map[h[t] & ct->snat_mask]);
	}
	for (unsigned t = 0; t < n; t++) {
		pr[t] = pair_find(ct, h[t], &k[t]);
		if (pr[t] != NULL)
			__builtin_prefetch(&pr[t]->top);
	}
	for (unsigned t = 0; t < n; t++) {
		uint32_t i;

		if (pr[t] == NULL || !lowest_free(ct, pr[t], &i))
			continue;
		k[t].local_port = port_of(ct, pr[t], i);
		uint32_t rh = lb_ct_hash_rev(&k[t], ct->seed);
		lb_ct_prefetch_rev(ct, rh);
		hint[t]->pair = pr[t]->self;
		hint[t]->idx = i;
		hint[t]->rev_hash = rh;
		hint[t]->port = k[t].local_port;
	}
}

int
lb_ct_snat_reclaim(struct lb_ct *ct, struct lb_ct_rev_key *k, uint32_t now, uint32_t *rev_hash,
		   void (*cb)(const struct lb_conn *c, void *arg), void *arg)
{
	struct snat_pair *p = ct->snat_pairs ? pair_of_key(ct, k, 0, now) : NULL;
	struct lb_conn *victim = NULL;
	unsigned looked = 0;

	if (p == NULL || ct->snat_count == 0)
		return lb_ct_snat_alloc(ct, k, now, rev_hash);
	/* Cold path (the pair is full): a bounded sample of its ports in use. */
	const uint64_t *fr = bits(ct, p, 0), *g0 = bits(ct, p, 1), *g1 = bits(ct, p, 2);
	for (unsigned n = 0; n < SNAT_RECLAIM_LOOK && looked < LB_CT_RECLAIM_SCAN; n++) {
		uint32_t i = p->cursor++ % ct->snat_count;
		if (is_set(fr, i) || is_set(g0, i) || is_set(g1, i))
			continue;
		looked++;
		k->local_port = port_of(ct, p, i);
		struct lb_conn *c = lb_ct_lookup_rev(ct, k, lb_ct_hash_rev(k, ct->seed));
		if (c != NULL && lb_ct_victim_better(c, victim, now))
			victim = c;
	}
	if (victim == NULL)
		return lb_ct_snat_alloc(ct, k, now, rev_hash);
	int rc = lb_clock_before(victim->expire, now) ? 1 : 2;
	if (cb != NULL)
		cb(victim, arg);
	ct->now = now;
	if (lb_ct_unanswered(victim))
		lb_ct_remove_nocool(ct, victim);
	else
		lb_ct_remove(ct, victim);
	int a = lb_ct_snat_alloc(ct, k, now, rev_hash);
	if (a < 0) {
		/* the victim's expiry counted, but its port cools: one refusal, not two */
		return a;
	}
	return rc;
}

uint64_t
lb_ct_snat_exhausted(const struct lb_ct *ct)
{
	return ct->snat_exhausted;
}

int
lb_ct_snat_info(struct lb_ct *ct, const struct lb_ct_rev_key *k, struct lb_ct_snat_info *out)
{
	const struct snat_pair *p = ct->snat_pairs ? pair_of_key(ct, k, 0, 0) : NULL;

	if (p == NULL)
		return LB_ENOENT;
	out->in_use = p->in_use;
	out->cooling = p->cool_n[0] + p->cool_n[1];
	out->free = ct->snat_count - out->in_use - out->cooling;
	out->exhausted = p->exhausted;
	return 0;
}
