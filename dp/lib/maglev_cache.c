/*
 * maglev_cache.c - recently built Maglev tables, by their exact inputs (see
 * maglev_cache.h). Runs on whichever single thread owns the cache.
 *
 * An entry keeps its inputs serialised (per backend: key length, key bytes,
 * weight) next to its table; a lookup compares m, seed, n and a 64-bit hash of
 * that blob first, then the blob itself. Entries sit on a list, most recently
 * used first; a handful of 128 KB tables at most, so a list is enough.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "maglev_cache.h"

struct entry {
	struct entry *next;
	uint32_t m, n;
	uint64_t seed, fp, table_hash;
	size_t blob_len, bytes;
	uint8_t *blob;
	uint16_t *table;
};

struct lb_maglev_cache {
	size_t budget, bytes;
	uint32_t entries;
	uint64_t hits, misses;
	struct entry *head; /* most recently used first */
};

struct lb_maglev_cache *
lb_maglev_cache_create(size_t budget_bytes)
{
	struct lb_maglev_cache *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->budget = budget_bytes;
	return c;
}

static void
entry_free(struct entry *e)
{
	free(e->blob);
	free(e->table);
	free(e);
}

void
lb_maglev_cache_destroy(struct lb_maglev_cache *c)
{
	if (c == NULL)
		return;
	while (c->head != NULL) {
		struct entry *e = c->head;

		c->head = e->next;
		entry_free(e);
	}
	free(c);
}

static size_t
blob_len(const struct lb_maglev_backend *b, uint32_t n)
{
	size_t len = 0;

	for (uint32_t i = 0; i < n; i++)
		len += 2 * sizeof(uint32_t) + b[i].key_len;
	return len;
}

static void
blob_fill(uint8_t *p, const struct lb_maglev_backend *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t kl = (uint32_t)b[i].key_len;

		memcpy(p, &kl, sizeof(kl));
		p += sizeof(kl);
		if (kl > 0)
			memcpy(p, b[i].key, kl);
		p += kl;
		memcpy(p, &b[i].weight, sizeof(b[i].weight));
		p += sizeof(b[i].weight);
	}
}

/* Drop least recently used entries until `room` more bytes fit the budget. */
static void
make_room(struct lb_maglev_cache *c, size_t room)
{
	while (c->head != NULL && c->bytes + room > c->budget) {
		struct entry **pp = &c->head;

		while ((*pp)->next != NULL)
			pp = &(*pp)->next;
		c->bytes -= (*pp)->bytes;
		c->entries--;
		entry_free(*pp);
		*pp = NULL;
	}
}

/* Build without the cache. */
static int
build(uint16_t *table, uint32_t m, const struct lb_maglev_backend *b, uint32_t n,
      uint64_t seed, const int *cancel, uint64_t *table_hash)
{
	int rc = lb_maglev_build_cancel(table, m, b, n, seed, cancel);

	if (rc == 0)
		*table_hash = lb_hash_bytes(table, sizeof(*table) * m, 0);
	return rc;
}

int
lb_maglev_cache_build(struct lb_maglev_cache *c, uint16_t *table, uint32_t m,
		      const struct lb_maglev_backend *b, uint32_t n, uint64_t seed,
		      const int *cancel, bool *hit, uint64_t *table_hash)
{
	size_t len, bytes;
	uint8_t *blob;
	uint64_t fp;
	int rc;

	*hit = false;
	if (c == NULL || c->budget == 0 || m < LB_MAGLEV_CACHE_MIN_M)
		return build(table, m, b, n, seed, cancel, table_hash);
	/* lb_maglev_build() checks the rest; the blob needs the keys readable. */
	for (uint32_t i = 0; i < n; i++)
		if (b == NULL || (b[i].key == NULL && b[i].key_len > 0))
			return LB_EINVAL;
	len = blob_len(b, n);
	blob = malloc(len ? len : 1);
	if (blob == NULL)
		return build(table, m, b, n, seed, cancel, table_hash);
	blob_fill(blob, b, n);
	fp = lb_hash_bytes(blob, len, seed ^ m);

	for (struct entry **pp = &c->head; *pp != NULL; pp = &(*pp)->next) {
		struct entry *e = *pp;

		if (e->m != m || e->n != n || e->seed != seed || e->fp != fp ||
		    e->blob_len != len || memcmp(e->blob, blob, len) != 0)
			continue;
		memcpy(table, e->table, sizeof(*table) * m);
		*table_hash = e->table_hash;
		*pp = e->next; /* to the front */
		e->next = c->head;
		c->head = e;
		c->hits++;
		*hit = true;
		free(blob);
		return 0;
	}
	c->misses++;
	rc = build(table, m, b, n, seed, cancel, table_hash);
	bytes = sizeof(struct entry) + len + sizeof(*table) * m;
	if (rc != 0 || bytes > c->budget) {
		free(blob);
		return rc;
	}
	struct entry *e = calloc(1, sizeof(*e));
	uint16_t *copy = malloc(sizeof(*table) * m);

	if (e == NULL || copy == NULL) {
		free(e);
		free(copy);
		free(blob);
		return 0; /* the build stands; it is only not kept */
	}
	memcpy(copy, table, sizeof(*table) * m);
	*e = (struct entry){.m = m, .n = n, .seed = seed, .fp = fp, .table_hash = *table_hash,
			    .blob_len = len, .bytes = bytes, .blob = blob, .table = copy};
	make_room(c, bytes);
	e->next = c->head;
	c->head = e;
	c->bytes += bytes;
	c->entries++;
	return 0;
}

void
lb_maglev_cache_stats(const struct lb_maglev_cache *c, struct lb_maglev_cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	st->hits = c->hits;
	st->misses = c->misses;
	st->entries = c->entries;
	st->bytes = c->bytes;
}
