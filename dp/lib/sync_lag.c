/*
 * sync_lag.c - the flow sync lag histogram (sync_lag.h). Pure code, owned by
 * whoever holds the struct (the control thread).
 */
#include "sync_lag.h"

static unsigned
bucket(uint64_t v)
{
	if (v < 4)
		return (unsigned)v;
	if (v > UINT32_MAX)
		v = UINT32_MAX;
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 2 .. 31 */
	return 4 + (e - 2) * 4 + (unsigned)((v >> (e - 2)) & 3);
}

/* The middle of bucket i. */
static uint64_t
middle(unsigned i)
{
	if (i < 4)
		return i;
	unsigned e = (i - 4) / 4 + 2, sub = (i - 4) % 4;
	uint64_t lo = (uint64_t)(4 + sub) << (e - 2), width = 1ull << (e - 2);
	return lo + width / 2;
}

void
lb_lag_add(struct lb_lag_hist *h, int64_t lag_us)
{
	uint64_t v = 0;

	if (lag_us < 0)
		h->ahead++;
	else
		v = (uint64_t)lag_us;
	if (v > h->max_us)
		h->max_us = v;
	h->b[bucket(v)]++;
	h->n++;
}

uint64_t
lb_lag_quantile(const struct lb_lag_hist *h, double q)
{
	if (h->n == 0)
		return 0;
	/* The rank of the sample at quantile q, 1-based: ceil(q * n). */
	uint64_t rank = (uint64_t)(q * (double)h->n);
	if ((double)rank < q * (double)h->n)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LB_LAG_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t m = middle(i);
			return m > h->max_us ? h->max_us : m;
		}
	}
	return h->max_us;
}
