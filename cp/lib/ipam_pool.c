/*
 * ipam_pool.c - the IPAM module's pools (see ipam_impl.h, ipam.h): ranges
 * turned into 128-bit integers, pool sizes, which pool holds an address, and
 * the parser for ranges as written in configs and requests.
 *
 * Pure C, no I/O, no thread of its own: called by ipam.c (under the store
 * lock) and, for lb_ipam_range_parse, by the config parser and the LB model.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ipam_impl.h"
#include "lb_error.h"

/* IPv4 x.x.x.0 and x.x.x.255 addresses in [0, n]. */
static u128
buggy_upto(u128 n)
{
	return 2 * (n >> 8) + 1 + ((n & 0xff) == 0xff);
}

static int
cmp_u128_pair(const void *x, const void *y)
{
	const u128 *a = x, *b = y;

	return a[0] < b[0] ? -1 : a[0] > b[0];
}

/*
 * Usable addresses of one family: ranges merged first so that overlapping ranges
 * in one pool are not counted twice; saturates because an IPv6 /64 alone holds
 * 2^64 addresses.
 */
static uint64_t
pool_size(const struct pool *p, uint8_t family)
{
	u128 r[LB_POOL_RANGES_MAX][2];
	uint32_t n = 0;
	u128 total = 0;

	for (uint32_t i = 0; i < p->conf.n_ranges; i++) {
		if (p->conf.ranges[i].lo.family != family)
			continue;
		r[n][0] = p->lo[i];
		r[n][1] = p->hi[i];
		n++;
	}
	qsort(r, n, sizeof(r[0]), cmp_u128_pair);
	for (uint32_t i = 0; i < n;) {
		u128 lo = r[i][0], hi = r[i][1];
		for (i++; i < n && (hi == U128_MAX || r[i][0] <= hi + 1); i++)
			if (r[i][1] > hi)
				hi = r[i][1];
		if (hi - lo == U128_MAX)
			return UINT64_MAX;
		u128 count = hi - lo + 1;
		if (family == LB_AF_INET && p->conf.avoid_buggy_ips)
			count -= buggy_upto(hi) - (lo ? buggy_upto(lo - 1) : 0);
		total += count;
		if (total >= UINT64_MAX)
			return UINT64_MAX;
	}
	return (uint64_t)total;
}

static int
pool_init(struct pool *p, const struct lb_pool_conf *c)
{
	if (memchr(c->name, '\0', sizeof(c->name)) == NULL || c->name[0] == '\0' ||
	    c->n_ranges > LB_POOL_RANGES_MAX)
		return LB_EINVAL;
	memset(p, 0, sizeof(*p));
	p->conf = *c;
	for (uint32_t i = 0; i < c->n_ranges; i++) {
		const struct lb_ip_range *r = &c->ranges[i];
		if (!fam_valid(r->lo.family) || r->hi.family != r->lo.family)
			return LB_EINVAL;
		p->lo[i] = addr_val(&r->lo);
		p->hi[i] = addr_val(&r->hi);
		if (p->lo[i] > p->hi[i])
			return LB_EINVAL;
		p->cursor[i] = p->lo[i];
	}
	p->size[0] = pool_size(p, LB_AF_INET);
	p->size[1] = pool_size(p, LB_AF_INET6);
	return 0;
}

int
lb_ipam_pools_build(const struct lb_pool_conf *confs, uint32_t n, struct pool **out)
{
	struct pool *p;

	*out = NULL;
	if (n > 0 && confs == NULL)
		return LB_EINVAL;
	if ((p = calloc(n ? n : 1, sizeof(*p))) == NULL)
		return LB_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (pool_init(&p[i], &confs[i]) < 0)
			goto invalid;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(p[i].conf.name, p[j].conf.name) == 0)
				goto invalid;
	}
	*out = p;
	return 0;
invalid:
	free(p);
	return LB_EINVAL;
}

bool
lb_ipam_pool_in_range(const struct pool *p, uint8_t family, u128 v)
{
	for (uint32_t i = 0; i < p->conf.n_ranges; i++)
		if (p->conf.ranges[i].lo.family == family && p->lo[i] <= v && v <= p->hi[i])
			return true;
	return false;
}

/* A pool holds an address it could hand out: in a range and not avoided. */
bool
lb_ipam_pool_holds(const struct pool *p, uint8_t family, u128 v)
{
	if (p->conf.avoid_buggy_ips && is_buggy(family, v))
		return false;
	return lb_ipam_pool_in_range(p, family, v);
}

bool
lb_ipam_pool_has_family(const struct pool *p, uint8_t family)
{
	for (uint32_t i = 0; i < p->conf.n_ranges; i++)
		if (p->conf.ranges[i].lo.family == family)
			return true;
	return false;
}

int
lb_ipam_pools_first_holding(const struct pool *pools, uint32_t n, uint8_t family, u128 v)
{
	for (uint32_t i = 0; i < n; i++)
		if (lb_ipam_pool_holds(&pools[i], family, v))
			return (int)i;
	return -1;
}

int
lb_ipam_pools_find(const struct pool *pools, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(pools[i].conf.name, name) == 0)
			return (int)i;
	return -1;
}


int
lb_ipam_range_parse(const char *s, struct lb_ip_range *r)
{
	char buf[2 * LB_ADDR_STRLEN + 16];
	size_t len;
	char *dash, *left, *right;

	if (s == NULL || r == NULL)
		return LB_EINVAL;
	memset(r, 0, sizeof(*r));
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return LB_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';

	/* No address form contains '-', so a dash always means "start-end". */
	if ((dash = strchr(buf, '-')) != NULL) {
		left = buf;
		right = dash + 1;
		for (char *e = dash; e > left && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		*dash = '\0';
		while (isspace((unsigned char)*right))
			right++;
		if (lb_addr_parse(left, &r->lo) < 0 || lb_addr_parse(right, &r->hi) < 0 ||
		    r->lo.family != r->hi.family || addr_val(&r->lo) > addr_val(&r->hi))
			goto invalid;
		return 0;
	}
	if (strchr(buf, '/') != NULL) {
		struct lb_prefix p;
		/* Strict: "198.18.0.1/24" is more likely a typo than a wish for the /24. */
		if (lb_prefix_parse(buf, &p, NULL, true) < 0)
			goto invalid;
		r->lo = r->hi = p.addr;
		unsigned total = (unsigned)lb_addr_len(p.addr.family) * 8;
		for (unsigned bit = p.len; bit < total; bit++)
			r->hi.bytes[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		return 0;
	}
	if (lb_addr_parse(buf, &r->lo) < 0)
		goto invalid;
	r->hi = r->lo;
	return 0;
invalid:
	memset(r, 0, sizeof(*r));
	return LB_EINVAL;
}

