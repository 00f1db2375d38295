/*
 * lb_addr.h - IPv4/IPv6 addresses and prefixes as edgelb stores them.
 *
 * One 16-byte representation for both families so tables and messages need no
 * per-family variants: an IPv4 address lives in bytes[0..3], bytes[4..15] are zero.
 * Addresses are in network byte order. Shared by dp and cp; builds without DPDK.
 */
#ifndef LB_ADDR_H
#define LB_ADDR_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_error.h"

#define LB_AF_INET 4
#define LB_AF_INET6 6

/* Room for any address or prefix in text form ("/128" and the NUL included). */
#define LB_ADDR_STRLEN 64

struct lb_addr {
	uint8_t family; /* LB_AF_INET or LB_AF_INET6; 0 = unset */
	uint8_t bytes[16];
};

struct lb_prefix {
	struct lb_addr addr; /* host bits are zero */
	uint8_t len;         /* prefix length in bits */
};

static inline int
lb_addr_len(uint8_t family)
{
	return family == LB_AF_INET ? 4 : 16;
}

static inline bool
lb_addr_eq(const struct lb_addr *a, const struct lb_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

static inline int
lb_addr_cmp(const struct lb_addr *a, const struct lb_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, 16);
}

static inline void
lb_addr_set(struct lb_addr *a, uint8_t family, const void *bytes)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->bytes, bytes, (size_t)lb_addr_len(family));
}

/* Parse "198.18.0.1" or "2001:db8::1". Returns 0 or LB_EINVAL. */
static inline int
lb_addr_parse(const char *s, struct lb_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (s == NULL)
		return LB_EINVAL;
	if (inet_pton(AF_INET, s, a->bytes) == 1) {
		a->family = LB_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->bytes) == 1) {
		a->family = LB_AF_INET6;
		return 0;
	}
	return LB_EINVAL;
}

static inline const char *
lb_addr_format(const struct lb_addr *a, char *buf, size_t len)
{
	if (a->family == LB_AF_INET)
		return inet_ntop(AF_INET, a->bytes, buf, (socklen_t)len);
	if (a->family == LB_AF_INET6)
		return inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)len);
	snprintf(buf, len, "-");
	return buf;
}

/* Zero the host bits of an address beyond len. */
static inline void
lb_addr_mask(struct lb_addr *a, unsigned len)
{
	unsigned total = (unsigned)lb_addr_len(a->family) * 8;

	for (unsigned bit = len; bit < total; bit++)
		a->bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

static inline bool
lb_prefix_contains(const struct lb_prefix *p, const struct lb_addr *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (p->addr.family != a->family)
		return false;
	if (memcmp(p->addr.bytes, a->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff00u >> rest);
	return (p->addr.bytes[full] & m) == (a->bytes[full] & m);
}

/*
 * Parse "198.18.0.0/15" or "2001:db8::/32". A bare address is a host prefix.
 * With strict, host bits must be zero (a CIDR); otherwise they are kept in
 * *host (when given) and cleared in p. Returns 0 or LB_EINVAL.
 */
static inline int
lb_prefix_parse(const char *s, struct lb_prefix *p, struct lb_addr *host, bool strict)
{
	char buf[LB_ADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct lb_addr a;

	memset(p, 0, sizeof(*p));
	if (alen == 0 || alen >= sizeof(buf))
		return LB_EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (lb_addr_parse(buf, &a) < 0)
		return LB_EINVAL;
	unsigned max = (unsigned)lb_addr_len(a.family) * 8, len = max;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return LB_EINVAL;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || v > max)
			return LB_EINVAL;
		len = (unsigned)v;
	}
	if (host)
		*host = a;
	p->addr = a;
	p->len = (uint8_t)len;
	lb_addr_mask(&p->addr, len);
	if (strict && !lb_addr_eq(&p->addr, &a))
		return LB_EINVAL;
	return 0;
}

static inline const char *
lb_prefix_format(const struct lb_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	lb_addr_format(&p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
	return buf;
}

#endif /* LB_ADDR_H */
