/*
 * test_ipam.c - unit tests for cp/lib/ipam*.c (pools, allocation, sharing, reload).
 *
 * Pure data in and out: pools are built from the same range strings a config file
 * holds, requests name owners like Kubernetes Services ("namespace/name"), and each
 * test checks one rule of cp/lib/ipam.h for IPv4 and, where it differs, IPv6.
 *
 *   gcc -std=gnu11 -O2 -Iinclude -Icp/lib cp/lib/ipam*.c tests/test_ipam.c -lcmocka
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "lb_error.h"
#include "lb_model.h"
#include "ipam.h"

#define ERRLEN 256

static const struct lb_ipam_port TCP80[] = {{LB_PROTO_TCP, 80}};
static const struct lb_ipam_port TCP443[] = {{LB_PROTO_TCP, 443}};
static const struct lb_ipam_port UDP80[] = {{LB_PROTO_UDP, 80}};
static const struct lb_ipam_port TCP80_443[] = {{LB_PROTO_TCP, 80}, {LB_PROTO_TCP, 443}};

/* A pool from range strings, NULL-terminated. */
static struct lb_pool_conf
pool(const char *name, bool auto_assign, int avoid_buggy, ...)
{
	struct lb_pool_conf c;
	va_list ap;
	const char *s;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	c.auto_assign = auto_assign;
	c.avoid_buggy_ips = avoid_buggy != 0;
	va_start(ap, avoid_buggy);
	while ((s = va_arg(ap, const char *)) != NULL) {
		assert_true(c.n_ranges < LB_POOL_RANGES_MAX);
		assert_int_equal(lb_ipam_range_parse(s, &c.ranges[c.n_ranges]), 0);
		c.n_ranges++;
	}
	va_end(ap);
	return c;
}

static struct lb_addr
A(const char *s)
{
	struct lb_addr a;

	assert_int_equal(lb_addr_parse(s, &a), 0);
	return a;
}

static const char *
fmt(const struct lb_addr *a)
{
	static char buf[4][LB_ADDR_STRLEN];
	static int k;

	k = (k + 1) % 4;
	return lb_addr_format(a, buf[k], sizeof(buf[k]));
}

static struct lb_ipam_req
req(const char *owner, uint8_t families)
{
	struct lb_ipam_req r;

	memset(&r, 0, sizeof(r));
	r.owner = owner;
	r.families = families;
	return r;
}

static struct lb_ipam_req
req_shared(const char *owner, const char *key, const struct lb_ipam_port *ports, uint32_t n)
{
	struct lb_ipam_req r = req(owner, LB_FAMILY_V4);

	r.sharing_key = key;
	r.ports = ports;
	r.n_ports = n;
	return r;
}

static struct lb_ipam_req
req_ip(const char *owner, const char *ip)
{
	struct lb_ipam_req r = req(owner, 0);

	r.ips[0] = A(ip);
	r.n_ips = 1;
	r.families = r.ips[0].family == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6;
	return r;
}

/* Assign expecting success; returns the first address as text (static buffer). */
static const char *
take(struct lb_ipam *ip, const struct lb_ipam_req *r)
{
	struct lb_addr out[2];
	uint32_t n = 0;
	char err[ERRLEN];
	int rc = lb_ipam_assign(ip, r, out, &n, NULL, err, sizeof(err));

	if (rc != 0)
		fail_msg("assign %s: %d %s", r->owner, rc, err);
	assert_true(n >= 1);
	return fmt(&out[0]);
}

/* Assign expecting rc; err is left in errbuf. */
static void
expect_fail(struct lb_ipam *ip, const struct lb_ipam_req *r, int rc, char *errbuf)
{
	struct lb_addr out[2];
	uint32_t n = 7;

	assert_int_equal(lb_ipam_assign(ip, r, out, &n, NULL, errbuf, ERRLEN), rc);
	assert_int_equal(n, 0);
	assert_true(errbuf[0] != '\0');
}

static struct lb_pool_usage
usage(struct lb_ipam *ip, const char *name)
{
	struct lb_pool_usage u;
	int i = lb_ipam_pool_find(ip, name);

	assert_true(i >= 0);
	assert_int_equal(lb_ipam_pool_usage(ip, (uint32_t)i, &u), 0);
	assert_string_equal(u.name, name);
	return u;
}

/* ---- range parsing ---------------------------------------------------------------- */

static void
expect_range(const char *s, const char *lo, const char *hi)
{
	struct lb_ip_range r;

	assert_int_equal(lb_ipam_range_parse(s, &r), 0);
	assert_string_equal(fmt(&r.lo), lo);
	assert_string_equal(fmt(&r.hi), hi);
}

static void
test_range_parse_accepts_cidr_range_and_address(void **state)
{
	(void)state;
	expect_range("198.18.0.0/24", "198.18.0.0", "198.18.0.255");
	expect_range("198.18.0.0/15", "198.18.0.0", "198.19.255.255");
	expect_range("198.18.0.7/32", "198.18.0.7", "198.18.0.7");
	expect_range("0.0.0.0/0", "0.0.0.0", "255.255.255.255");
	expect_range("2001:db8::/120", "2001:db8::", "2001:db8::ff");
	expect_range("2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff");
	expect_range("198.18.0.10-198.18.0.20", "198.18.0.10", "198.18.0.20");
	expect_range("198.18.0.10 - 198.18.0.20", "198.18.0.10", "198.18.0.20");
	expect_range("  198.18.0.10\t-  198.18.0.10 ", "198.18.0.10", "198.18.0.10");
	expect_range("2001:db8::10-2001:db8::1:0", "2001:db8::10", "2001:db8::1:0");
	expect_range("198.18.0.1", "198.18.0.1", "198.18.0.1");
	expect_range("2001:db8::1", "2001:db8::1", "2001:db8::1");
}

static void
test_range_parse_rejects_bad_input(void **state)
{
	static const char *bad[] = {
		"198.18.0.0/33",            /* prefix too long for IPv4 */
		"2001:db8::/129",
		"198.18.0.1/24",            /* host bits set: strict CIDR */
		"2001:db8::1/64",
		"198.18.0.1-2001:db8::1",   /* mixed families */
		"2001:db8::1-198.18.0.1",
		"198.18.0.20-198.18.0.10",  /* end before start */
		"2001:db8::2-2001:db8::1",
		"garbage",
		"",
		"   ",
		"198.18.0.1-",
		"-198.18.0.1",
		"198.18.0.0/",
		"198.18.0.0/24x",
		"198.18.0.0/-1",
		"198.18.0.0/24-198.18.1.0",
		"198.18.0.1-198.18.0.2-198.18.0.3",
		"198.18.0",
		"198.18.0.256",
	};
	struct lb_ip_range r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (lb_ipam_range_parse(bad[i], &r) != LB_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(lb_ipam_range_parse(NULL, &r), LB_EINVAL);
	assert_int_equal(lb_ipam_range_parse("198.18.0.1", NULL), LB_EINVAL);
}

/* ---- pools ------------------------------------------------------------------------ */

static void
test_create_rejects_duplicate_names_and_bad_ranges(void **state)
{
	struct lb_pool_conf p[2] = {pool("a", true, false, "198.18.0.0/24", NULL),
				    pool("a", true, false, "198.18.1.0/24", NULL)};

	(void)state;
	assert_null(lb_ipam_create(p, 2));
	p[1] = pool("", true, false, NULL);
	assert_null(lb_ipam_create(p, 2));
	p[1] = pool("b", true, false, NULL);
	p[1].n_ranges = 1;
	p[1].ranges[0].lo = A("198.18.1.9");
	p[1].ranges[0].hi = A("198.18.1.1");
	assert_null(lb_ipam_create(p, 2));
	p[1].ranges[0].hi = A("2001:db8::1");
	assert_null(lb_ipam_create(p, 2));

	struct lb_ipam *ip = lb_ipam_create(NULL, 0);
	assert_non_null(ip);
	assert_int_equal(lb_ipam_pool_count(ip), 0);
	struct lb_ipam_req r = req("default/web", LB_FAMILY_V4);
	char err[ERRLEN];
	expect_fail(ip, &r, LB_EFULL, err);
	lb_ipam_destroy(ip);
	lb_ipam_destroy(NULL);
}

/* ---- automatic, requested pool, requested IP ------------------------------------- */

static void
test_auto_assign_takes_first_auto_pool_and_skips_manual_pools(void **state)
{
	struct lb_pool_conf p[] = {
		pool("manual", false, false, "198.18.9.0/24", "2001:db8:9::/120", NULL),
		pool("v6only", true, false, "2001:db8:1::/120", NULL),
		pool("first", true, false, "198.18.0.10-198.18.0.11", NULL),
		pool("second", true, false, "198.18.1.0/24", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 4);
	struct lb_ipam_req r;
	struct lb_addr out[2];
	uint32_t n;
	char pname[LB_POOL_NAME_MAX], err[ERRLEN];

	(void)state;
	r = req("default/a", LB_FAMILY_V4);
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(fmt(&out[0]), "198.18.0.10");
	assert_string_equal(pname, "first");
	r = req("default/b", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.11");
	/* "first" is full: the next auto_assign pool, never "manual". */
	r = req("default/c", LB_FAMILY_V4);
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out[0]), "198.18.1.0");
	assert_string_equal(pname, "second");
	/* IPv6 comes from the first auto_assign pool with IPv6 ranges. */
	r = req("default/d", LB_FAMILY_V6);
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out[0]), "2001:db8:1::");
	assert_string_equal(pname, "v6only");
	assert_int_equal(usage(ip, "manual").used[0], 0);
	assert_int_equal(usage(ip, "manual").used[1], 0);
	lb_ipam_destroy(ip);
}

static void
test_requested_pool_is_used_even_without_auto_assign(void **state)
{
	struct lb_pool_conf p[] = {
		pool("default", true, false, "198.18.0.0/24", NULL),
		pool("manual", false, false, "198.18.9.0/24", "2001:db8:9::/120", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 2);
	struct lb_ipam_req r = req("default/a", LB_FAMILY_V4 | LB_FAMILY_V6);
	struct lb_addr out[2];
	uint32_t n;
	char pname[LB_POOL_NAME_MAX], err[ERRLEN];

	(void)state;
	r.pool = "manual";
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(fmt(&out[0]), "198.18.9.0");
	assert_string_equal(fmt(&out[1]), "2001:db8:9::");
	assert_string_equal(pname, "manual");

	/* A requested pool without the family: LB_EFULL, nothing taken. */
	r = req("default/b", LB_FAMILY_V4 | LB_FAMILY_V6);
	r.pool = "default";
	expect_fail(ip, &r, LB_EFULL, err);
	assert_non_null(strstr(err, "\"default\""));
	assert_int_equal(usage(ip, "default").used[0], 0);

	r.pool = "nope";
	expect_fail(ip, &r, LB_ENOENT, err);
	assert_non_null(strstr(err, "nope"));
	lb_ipam_destroy(ip);
}

static void
test_requested_ip_must_lie_in_a_pool(void **state)
{
	struct lb_pool_conf p[] = {
		pool("a", true, false, "198.18.0.0/24", "2001:db8::/120", NULL),
		pool("b", false, false, "198.18.1.0/24", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 2);
	struct lb_ipam_req r;
	struct lb_addr out[2];
	uint32_t n;
	char pname[LB_POOL_NAME_MAX], err[ERRLEN];

	(void)state;
	/* In a pool; a manual pool is fine for a requested IP. */
	r = req_ip("default/a", "198.18.1.77");
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out[0]), "198.18.1.77");
	assert_string_equal(pname, "b");
	r = req_ip("default/a6", "2001:db8::42");
	assert_string_equal(take(ip, &r), "2001:db8::42");

	/* In no pool. */
	r = req_ip("default/b", "198.18.9.9");
	expect_fail(ip, &r, LB_ENOENT, err);
	assert_string_equal(err, "198.18.9.9 is not in any pool");
	r = req_ip("default/b", "2001:db8:1::1");
	expect_fail(ip, &r, LB_ENOENT, err);
	assert_string_equal(err, "2001:db8:1::1 is not in any pool");

	/* In a pool, but not the one requested. */
	r = req_ip("default/c", "198.18.1.5");
	r.pool = "a";
	expect_fail(ip, &r, LB_ENOENT, err);
	assert_non_null(strstr(err, "198.18.1.5"));
	assert_non_null(strstr(err, "\"a\""));
	r.pool = "b";
	assert_string_equal(take(ip, &r), "198.18.1.5");

	/* Taken, no sharing. */
	r = req_ip("default/d", "198.18.1.77");
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_non_null(strstr(err, "default/a"));
	lb_ipam_destroy(ip);
}

static void
test_invalid_requests_are_rejected(void **state)
{
	struct lb_pool_conf p[] = {pool("a", true, false, "198.18.0.0/24", "2001:db8::/120", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	struct lb_ipam_req r;
	struct lb_addr out[2];
	uint32_t n;
	char err[ERRLEN], longname[LB_OWNER_MAX + 10];

	(void)state;
	r = req(NULL, LB_FAMILY_V4);
	expect_fail(ip, &r, LB_EINVAL, err);
	r = req("", LB_FAMILY_V4);
	expect_fail(ip, &r, LB_EINVAL, err);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	r = req(longname, LB_FAMILY_V4);
	expect_fail(ip, &r, LB_EINVAL, err);
	r = req("default/a", 0);
	expect_fail(ip, &r, LB_EINVAL, err);
	r = req("default/a", 0x4);
	expect_fail(ip, &r, LB_EINVAL, err);
	/* An IPv6 address for an IPv4-only request. */
	r = req_ip("default/a", "2001:db8::1");
	r.families = LB_FAMILY_V4;
	expect_fail(ip, &r, LB_EINVAL, err);
	/* Two addresses of one family. */
	r = req_ip("default/a", "198.18.0.1");
	r.ips[1] = A("198.18.0.2");
	r.n_ips = 2;
	expect_fail(ip, &r, LB_EINVAL, err);
	r.n_ips = 3;
	expect_fail(ip, &r, LB_EINVAL, err);
	r = req("default/a", LB_FAMILY_V4);
	r.n_ports = 2;
	expect_fail(ip, &r, LB_EINVAL, err);
	assert_int_equal(lb_ipam_assign(NULL, &r, out, &n, NULL, err, sizeof(err)), LB_EINVAL);
	assert_int_equal(lb_ipam_assign(ip, NULL, out, &n, NULL, err, sizeof(err)), LB_EINVAL);
	assert_int_equal(usage(ip, "a").used[0], 0);
	lb_ipam_destroy(ip);
}

static void
test_owner_holding_addresses_cannot_assign_again(void **state)
{
	struct lb_pool_conf p[] = {pool("a", true, false, "198.18.0.0/24", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	struct lb_ipam_req r = req("default/web", LB_FAMILY_V4);
	char err[ERRLEN];

	(void)state;
	assert_string_equal(take(ip, &r), "198.18.0.0");
	expect_fail(ip, &r, LB_EEXIST, err);
	assert_non_null(strstr(err, "default/web"));
	assert_int_equal(lb_ipam_release(ip, "default/web"), 1);
	assert_string_equal(take(ip, &r), "198.18.0.0");
	lb_ipam_destroy(ip);
}

static void
test_lookup_and_release_report_what_the_owner_holds(void **state)
{
	struct lb_pool_conf p[] = {pool("a", true, false, "198.18.0.0/24", "2001:db8::/120", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	struct lb_ipam_req r = req("default/web", LB_FAMILY_V4 | LB_FAMILY_V6);
	struct lb_addr out[2];

	(void)state;
	take(ip, &r);
	assert_int_equal(lb_ipam_lookup(ip, "default/web", out), 2);
	assert_string_equal(fmt(&out[0]), "198.18.0.0");
	assert_string_equal(fmt(&out[1]), "2001:db8::");
	assert_int_equal(lb_ipam_lookup(ip, "default/other", out), 0);
	assert_int_equal(lb_ipam_release(ip, "default/other"), 0);
	assert_int_equal(lb_ipam_release(ip, "default/web"), 2);
	assert_int_equal(lb_ipam_lookup(ip, "default/web", out), 0);
	assert_int_equal(lb_ipam_release(ip, "default/web"), 0);
	assert_int_equal(lb_ipam_release(ip, NULL), LB_EINVAL);
	lb_ipam_destroy(ip);
}

/* ---- dual stack -------------------------------------------------------------------- */

static void
test_dual_stack_gets_one_address_per_family_ipv4_first(void **state)
{
	struct lb_pool_conf p[] = {
		pool("v6", true, false, "2001:db8::/120", NULL),
		pool("v4", true, false, "198.18.0.0/24", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 2);
	struct lb_ipam_req r = req("default/ds", LB_FAMILY_V4 | LB_FAMILY_V6);
	struct lb_addr out[2];
	uint32_t n;
	char pname[LB_POOL_NAME_MAX], err[ERRLEN];

	(void)state;
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].family, LB_AF_INET);
	assert_string_equal(fmt(&out[0]), "198.18.0.0");
	assert_string_equal(fmt(&out[1]), "2001:db8::");
	assert_string_equal(pname, "v4");  /* the pool of the first (IPv4) address */

	/* A requested IPv6 address and an automatic IPv4 one. */
	r = req_ip("default/ds2", "2001:db8::99");
	r.families = LB_FAMILY_V4 | LB_FAMILY_V6;
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(fmt(&out[0]), "198.18.0.1");
	assert_string_equal(fmt(&out[1]), "2001:db8::99");

	/* Both requested, given in IPv6-then-IPv4 order. */
	r = req_ip("default/ds3", "2001:db8::77");
	r.ips[1] = A("198.18.0.77");
	r.n_ips = 2;
	r.families = LB_FAMILY_V4 | LB_FAMILY_V6;
	assert_int_equal(lb_ipam_assign(ip, &r, out, &n, pname, err, sizeof(err)), 0);
	assert_string_equal(fmt(&out[0]), "198.18.0.77");
	assert_string_equal(fmt(&out[1]), "2001:db8::77");
	lb_ipam_destroy(ip);
}

static void
test_dual_stack_is_all_or_nothing_when_ipv6_is_exhausted(void **state)
{
	struct lb_pool_conf p[] = {pool("ds", true, false, "198.18.0.0/24", "2001:db8::1", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	struct lb_ipam_req r = req("default/one", LB_FAMILY_V4 | LB_FAMILY_V6);
	struct lb_addr out[2];
	char err[ERRLEN];

	(void)state;
	take(ip, &r);
	r = req("default/two", LB_FAMILY_V4 | LB_FAMILY_V6);
	expect_fail(ip, &r, LB_EFULL, err);
	assert_non_null(strstr(err, "IPv6"));
	assert_non_null(strstr(err, "\"ds\""));
	/* No IPv4 address was kept for the failed owner. */
	assert_int_equal(lb_ipam_lookup(ip, "default/two", out), 0);
	assert_int_equal(usage(ip, "ds").used[0], 1);
	assert_int_equal(usage(ip, "ds").used[1], 1);
	r = req("default/three", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.1");

	/* A requested IPv4 address that conflicts fails the IPv6 half too. */
	lb_ipam_release(ip, "default/one");
	r = req_ip("default/four", "198.18.0.1");
	r.families = LB_FAMILY_V4 | LB_FAMILY_V6;
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_int_equal(usage(ip, "ds").used[1], 0);
	lb_ipam_destroy(ip);
}

/* ---- avoid_buggy_ips ---------------------------------------------------------------- */

static void
test_avoid_buggy_ips_hands_out_254_of_a_24(void **state)
{
	struct lb_pool_conf p[] = {pool("a", true, true, "198.18.0.0/24", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	char owner[32], err[ERRLEN];
	struct lb_ipam_req r;
	struct lb_addr out[2];

	(void)state;
	assert_int_equal(usage(ip, "a").size[0], 254);
	for (int i = 0; i < 254; i++) {
		snprintf(owner, sizeof(owner), "ns/s%d", i);
		r = req(owner, LB_FAMILY_V4);
		take(ip, &r);
		assert_int_equal(lb_ipam_lookup(ip, owner, out), 1);
		assert_int_equal(out[0].bytes[3], i + 1);  /* .1 .. .254 in order */
	}
	r = req("ns/full", LB_FAMILY_V4);
	expect_fail(ip, &r, LB_EFULL, err);
	assert_int_equal(usage(ip, "a").used[0], 254);

	/* Nor can .0 or .255 be requested from a pool that avoids them. */
	r = req_ip("ns/zero", "198.18.0.0");
	expect_fail(ip, &r, LB_ENOENT, err);
	r = req_ip("ns/bcast", "198.18.0.255");
	expect_fail(ip, &r, LB_ENOENT, err);
	lb_ipam_destroy(ip);

	/* Without the flag the whole /24 is handed out. */
	p[0].avoid_buggy_ips = false;
	ip = lb_ipam_create(p, 1);
	assert_int_equal(usage(ip, "a").size[0], 256);
	r = req("ns/first", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.0");
	lb_ipam_destroy(ip);
}

static void
test_avoid_buggy_ips_across_a_range_spanning_several_24s(void **state)
{
	/* .250-.254, 1.1-1.254, 2.1-2.5: 268 addresses minus 0.255, 1.0, 1.255, 2.0. */
	struct lb_pool_conf p[] = {
		pool("a", true, true, "198.18.0.250-198.18.2.5", "2001:db8::/126", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	char owner[32], err[ERRLEN];
	struct lb_ipam_req r;
	struct lb_addr out[2];
	int n = 0;

	(void)state;
	assert_int_equal(usage(ip, "a").size[0], 264);
	assert_int_equal(usage(ip, "a").size[1], 4);  /* IPv6 is never skipped */
	for (;; n++) {
		snprintf(owner, sizeof(owner), "ns/s%d", n);
		r = req(owner, LB_FAMILY_V4);
		if (lb_ipam_assign(ip, &r, out, &(uint32_t){0}, NULL, err, sizeof(err)) != 0)
			break;
		assert_true(out[0].bytes[3] != 0 && out[0].bytes[3] != 255);
	}
	assert_int_equal(n, 264);
	r = req("ns/v6", LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "2001:db8::");
	lb_ipam_destroy(ip);
}

/* ---- exhaustion ----------------------------------------------------------------------- */

static void
test_exhaustion_is_efull_and_release_makes_room(void **state)
{
	struct lb_pool_conf p[] = {
		pool("small", true, false, "198.18.0.0/30", NULL),
		pool("tiny6", true, false, "2001:db8::/127", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 2);
	struct lb_ipam_req r;
	char owner[32], err[ERRLEN];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(owner, sizeof(owner), "ns/s%d", i);
		r = req(owner, LB_FAMILY_V4);
		take(ip, &r);
	}
	r = req("ns/late", LB_FAMILY_V4);
	expect_fail(ip, &r, LB_EFULL, err);
	assert_string_equal(err, "no free IPv4 address in pool \"small\"");
	assert_int_equal(lb_ipam_release(ip, "ns/s2"), 1);
	assert_string_equal(take(ip, &r), "198.18.0.2");
	expect_fail(ip, &(struct lb_ipam_req){.owner = "ns/later", .families = LB_FAMILY_V4},
		    LB_EFULL, err);

	/* IPv6 the same way. */
	r = req("ns/a6", LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "2001:db8::");
	r = req("ns/b6", LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "2001:db8::1");
	r = req("ns/c6", LB_FAMILY_V6);
	expect_fail(ip, &r, LB_EFULL, err);
	lb_ipam_release(ip, "ns/a6");
	assert_string_equal(take(ip, &r), "2001:db8::");
	lb_ipam_destroy(ip);
}

static void
test_efull_names_every_pool_tried(void **state)
{
	struct lb_pool_conf p[] = {
		pool("one", true, false, "198.18.0.1", NULL),
		pool("hidden", false, false, "198.18.5.0/24", NULL),
		pool("two", true, false, "198.18.0.2", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 3);
	struct lb_ipam_req r;
	char err[ERRLEN];

	(void)state;
	r = req("ns/a", LB_FAMILY_V4);
	take(ip, &r);
	r = req("ns/b", LB_FAMILY_V4);
	take(ip, &r);
	r = req("ns/c", LB_FAMILY_V4);
	expect_fail(ip, &r, LB_EFULL, err);
	assert_string_equal(err, "no free IPv4 address in pools \"one\", \"two\"");
	r = req("ns/c", LB_FAMILY_V6);
	expect_fail(ip, &r, LB_EFULL, err);
	assert_non_null(strstr(err, "IPv6"));
	lb_ipam_destroy(ip);
}

static void
test_last_ipv6_address_range_exhausts_without_wrapping(void **state)
{
	struct lb_pool_conf p[] = {pool("top", true, false,
					"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	struct lb_ipam_req r;
	char err[ERRLEN];

	(void)state;
	r = req("ns/a", LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	r = req("ns/b", LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	r = req("ns/c", LB_FAMILY_V6);
	expect_fail(ip, &r, LB_EFULL, err);
	expect_fail(ip, &r, LB_EFULL, err);
	lb_ipam_destroy(ip);
}

/* ---- sharing ---------------------------------------------------------------------------- */

static struct lb_ipam *
sharing_ipam(void)
{
	struct lb_pool_conf p[] = {pool("a", true, false, "198.18.0.100-198.18.0.110",
					"2001:db8::100-2001:db8::110", NULL)};
	return lb_ipam_create(p, 1);
}

static void
test_same_key_and_disjoint_ports_share_an_address(void **state)
{
	struct lb_ipam *ip = sharing_ipam();
	struct lb_ipam_req r;
	struct lb_addr out[2];

	(void)state;
	r = req_shared("default/web", "k", TCP80, 1);
	r.ips[0] = A("198.18.0.100");
	r.n_ips = 1;
	take(ip, &r);
	r.owner = "default/tls";
	r.ports = TCP443;
	assert_string_equal(take(ip, &r), "198.18.0.100");
	/* The protocol is part of the key: udp/80 does not overlap tcp/80. */
	r.owner = "default/dns";
	r.ports = UDP80;
	assert_string_equal(take(ip, &r), "198.18.0.100");
	assert_int_equal(lb_ipam_lookup(ip, "default/tls", out), 1);
	assert_string_equal(fmt(&out[0]), "198.18.0.100");
	assert_int_equal(usage(ip, "a").used[0], 1);  /* one address, however many holders */

	/* IPv6 too. */
	r = req_ip("v6/a", "2001:db8::105");
	r.sharing_key = "k6";
	r.ports = TCP80;
	r.n_ports = 1;
	take(ip, &r);
	r.owner = "v6/b";
	r.ports = TCP443;
	assert_string_equal(take(ip, &r), "2001:db8::105");
	lb_ipam_destroy(ip);
}

static void
test_same_key_and_overlapping_port_conflicts_naming_the_holder(void **state)
{
	struct lb_ipam *ip = sharing_ipam();
	struct lb_ipam_req r;
	char err[ERRLEN];

	(void)state;
	r = req_shared("default/web", "k", TCP80_443, 2);
	r.ips[0] = A("198.18.0.100");
	r.n_ips = 1;
	take(ip, &r);
	r.owner = "default/other";
	r.ports = TCP443;
	r.n_ports = 1;
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_string_equal(err, "198.18.0.100 is held by default/web; both use tcp/443");

	r = req_ip("v6/a", "2001:db8::101");
	r.sharing_key = "k";
	r.ports = TCP80;
	r.n_ports = 1;
	take(ip, &r);
	r.owner = "v6/b";
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_non_null(strstr(err, "held by v6/a"));
	lb_ipam_destroy(ip);
}

static void
test_different_or_missing_sharing_key_conflicts(void **state)
{
	struct lb_ipam *ip = sharing_ipam();
	struct lb_ipam_req r;
	char err[ERRLEN];

	(void)state;
	r = req_shared("default/web", "k", TCP80, 1);
	r.ips[0] = A("198.18.0.100");
	r.n_ips = 1;
	take(ip, &r);

	r.owner = "default/other";
	r.ports = TCP443;
	r.sharing_key = "other";
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_string_equal(err, "198.18.0.100 is held by default/web; sharing key differs");

	r.sharing_key = NULL;
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_non_null(strstr(err, "198.18.0.100 is held by default/web;"));
	r.sharing_key = "";
	expect_fail(ip, &r, LB_ECONFLICT, err);

	/* A holder without a key shares with nobody, even a requester with a key. */
	r = req_ip("default/nokey", "198.18.0.101");
	take(ip, &r);
	r = req_shared("default/keyed", "k", TCP443, 1);
	r.ips[0] = A("198.18.0.101");
	r.n_ips = 1;
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_non_null(strstr(err, "198.18.0.101 is held by default/nokey;"));
	lb_ipam_destroy(ip);
}

static void
test_auto_assign_with_sharing_key_reuses_the_shared_address(void **state)
{
	struct lb_ipam *ip = sharing_ipam();
	struct lb_ipam_req r;

	(void)state;
	r = req("default/plain", LB_FAMILY_V4);  /* takes .100, not shareable */
	assert_string_equal(take(ip, &r), "198.18.0.100");
	r = req_shared("default/web", "k", TCP80, 1);
	assert_string_equal(take(ip, &r), "198.18.0.101");
	r = req_shared("default/tls", "k", TCP443, 1);
	assert_string_equal(take(ip, &r), "198.18.0.101");
	/* Ports overlap with both holders: a fresh address, which the key then marks. */
	r = req_shared("default/web2", "k", TCP80, 1);
	assert_string_equal(take(ip, &r), "198.18.0.102");
	r = req_shared("default/tls2", "k", TCP443, 1);
	assert_string_equal(take(ip, &r), "198.18.0.102");
	/* Another key never lands on them. */
	r = req_shared("default/x", "other", UDP80, 1);
	assert_string_equal(take(ip, &r), "198.18.0.103");
	/* Nor does a request without a key. */
	r = req("default/y", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.104");
	/* IPv6 works the same way. */
	r = req_shared("v6/a", "k", TCP80, 1);
	r.families = LB_FAMILY_V6;
	assert_string_equal(take(ip, &r), "2001:db8::100");
	r = req_shared("v6/b", "k", TCP443, 1);
	r.families = LB_FAMILY_V6;
	assert_string_equal(take(ip, &r), "2001:db8::100");
	assert_int_equal(usage(ip, "a").used[0], 5);
	assert_int_equal(usage(ip, "a").used[1], 1);
	lb_ipam_destroy(ip);
}

static void
test_sharing_reuse_stays_in_the_candidate_pool(void **state)
{
	struct lb_pool_conf p[] = {
		pool("a", true, false, "198.18.0.1", NULL),
		pool("m", false, false, "198.18.9.1", NULL),
		pool("b", true, false, "198.18.1.0/24", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 3);
	struct lb_ipam_req r;

	(void)state;
	r = req_shared("ns/manual", "k", TCP80, 1);
	r.pool = "m";
	assert_string_equal(take(ip, &r), "198.18.9.1");
	/* Auto allocation does not reach into the manual pool to share. */
	r = req_shared("ns/auto", "k", TCP443, 1);
	assert_string_equal(take(ip, &r), "198.18.0.1");
	/* The requested pool is the candidate pool. */
	r = req_shared("ns/manual2", "k", UDP80, 1);
	r.pool = "m";
	assert_string_equal(take(ip, &r), "198.18.9.1");
	/* "a" is full, its shared address overlaps: on to "b". */
	r = req_shared("ns/auto2", "k", TCP443, 1);
	assert_string_equal(take(ip, &r), "198.18.1.0");
	lb_ipam_destroy(ip);
}

static void
test_release_of_one_sharer_keeps_the_address_for_the_other(void **state)
{
	struct lb_ipam *ip = sharing_ipam();
	struct lb_ipam_req r;
	struct lb_addr out[2];
	char err[ERRLEN];

	(void)state;
	r = req_shared("default/web", "k", TCP80, 1);
	assert_string_equal(take(ip, &r), "198.18.0.100");
	r = req_shared("default/tls", "k", TCP443, 1);
	assert_string_equal(take(ip, &r), "198.18.0.100");
	assert_int_equal(lb_ipam_release(ip, "default/web"), 1);
	assert_int_equal(lb_ipam_lookup(ip, "default/tls", out), 1);
	assert_string_equal(fmt(&out[0]), "198.18.0.100");
	assert_int_equal(usage(ip, "a").used[0], 1);
	/* Still held: a request without the key cannot take it. */
	r = req_ip("default/plain", "198.18.0.100");
	expect_fail(ip, &r, LB_ECONFLICT, err);
	assert_non_null(strstr(err, "default/tls"));
	/* tcp/80 is free again under the key. */
	r = req_shared("default/web", "k", TCP80, 1);
	assert_string_equal(take(ip, &r), "198.18.0.100");
	lb_ipam_release(ip, "default/web");
	lb_ipam_release(ip, "default/tls");
	assert_int_equal(usage(ip, "a").used[0], 0);
	r = req("default/plain", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.100");
	lb_ipam_destroy(ip);
}

/* ---- reload -------------------------------------------------------------------------------- */

#define MAX_CB 16

struct released {
	int n;
	char owner[MAX_CB][LB_OWNER_MAX];
	char addr[MAX_CB][LB_ADDR_STRLEN];
};

static void
on_release(const char *owner, const struct lb_addr *a, void *arg)
{
	struct released *r = arg;

	assert_true(r->n < MAX_CB);
	snprintf(r->owner[r->n], LB_OWNER_MAX, "%s", owner);
	lb_addr_format(a, r->addr[r->n], LB_ADDR_STRLEN);
	r->n++;
}

static void
test_reload_keeps_moves_or_releases_allocations(void **state)
{
	struct lb_pool_conf p[] = {
		pool("a", true, false, "198.18.0.0/24", "2001:db8::/120", NULL),
		pool("b", true, false, "198.18.1.0/24", NULL),
		pool("c", true, false, "198.18.2.0/24", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 3);
	struct lb_ipam_req r;
	struct released rel = {0};
	struct lb_addr out[2];

	(void)state;
	r = req("ns/stays", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.0");
	r = req("ns/moves", LB_FAMILY_V4);
	r.pool = "b";
	assert_string_equal(take(ip, &r), "198.18.1.0");
	r = req("ns/goes", LB_FAMILY_V4);
	r.pool = "c";
	assert_string_equal(take(ip, &r), "198.18.2.0");
	r = req("ns/ds", LB_FAMILY_V4 | LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "198.18.0.1");
	r = req_shared("ns/sh1", "k", TCP80, 1);
	r.pool = "c";
	assert_string_equal(take(ip, &r), "198.18.2.1");
	r = req_shared("ns/sh2", "k", TCP443, 1);
	r.pool = "c";
	assert_string_equal(take(ip, &r), "198.18.2.1");

	/*
	 * New list: "first" (earlier, overlapping "a") must not steal a's allocations;
	 * "b" is gone but "b2" holds its address; "c" shrank to nothing it held; "a"
	 * lost IPv6.
	 */
	struct lb_pool_conf q[] = {
		pool("first", true, false, "198.18.0.0/24", NULL),
		pool("a", true, false, "198.18.0.0/24", NULL),
		pool("b2", false, false, "198.18.1.0/30", NULL),
		pool("c", true, false, "198.18.2.128/25", NULL),
	};
	assert_int_equal(lb_ipam_reload(ip, q, 4, on_release, &rel), 0);
	assert_int_equal(lb_ipam_pool_count(ip), 4);
	assert_int_equal(lb_ipam_pool_find(ip, "b"), -1);

	assert_int_equal(usage(ip, "a").used[0], 2);       /* stays, ds (IPv4 half) */
	assert_int_equal(usage(ip, "first").used[0], 0);
	assert_int_equal(usage(ip, "b2").used[0], 1);      /* moves */
	assert_int_equal(usage(ip, "c").used[0], 0);
	assert_int_equal(lb_ipam_lookup(ip, "ns/stays", out), 1);
	assert_string_equal(fmt(&out[0]), "198.18.0.0");
	assert_int_equal(lb_ipam_lookup(ip, "ns/moves", out), 1);
	assert_string_equal(fmt(&out[0]), "198.18.1.0");
	assert_int_equal(lb_ipam_lookup(ip, "ns/goes", out), 0);
	assert_int_equal(lb_ipam_lookup(ip, "ns/sh1", out), 0);
	assert_int_equal(lb_ipam_lookup(ip, "ns/ds", out), 1);
	assert_string_equal(fmt(&out[0]), "198.18.0.1");

	/* Reported: goes, ds's IPv6 address, both sharers; in any order. */
	assert_int_equal(rel.n, 4);
	const char *want[4][2] = {{"ns/goes", "198.18.2.0"}, {"ns/ds", "2001:db8::"},
				  {"ns/sh1", "198.18.2.1"}, {"ns/sh2", "198.18.2.1"}};
	for (int w = 0; w < 4; w++) {
		bool found = false;
		for (int i = 0; i < rel.n; i++)
			found |= strcmp(rel.owner[i], want[w][0]) == 0 &&
				 strcmp(rel.addr[i], want[w][1]) == 0;
		if (!found)
			fail_msg("%s %s not reported", want[w][0], want[w][1]);
	}

	/* The released addresses are free; a moved one is still taken. */
	r = req_ip("ns/new", "198.18.1.0");
	char err[ERRLEN];
	expect_fail(ip, &r, LB_ECONFLICT, err);
	r = req("ns/new", LB_FAMILY_V4);
	r.pool = "c";
	assert_string_equal(take(ip, &r), "198.18.2.128");
	/* The first pool now hands out the first address no allocation holds. */
	r = req("ns/new2", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.2");
	lb_ipam_destroy(ip);
}

static void
test_reload_with_invalid_pools_changes_nothing(void **state)
{
	struct lb_pool_conf p[] = {pool("a", true, false, "198.18.0.0/24", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	struct lb_ipam_req r = req("ns/a", LB_FAMILY_V4);
	struct released rel = {0};
	struct lb_addr out[2];

	(void)state;
	take(ip, &r);
	struct lb_pool_conf q[] = {pool("x", true, false, "198.18.5.0/24", NULL),
				   pool("x", true, false, "198.18.6.0/24", NULL)};
	assert_int_equal(lb_ipam_reload(ip, q, 2, on_release, &rel), LB_EINVAL);
	assert_int_equal(rel.n, 0);
	assert_int_equal(lb_ipam_pool_count(ip), 1);
	assert_int_equal(lb_ipam_lookup(ip, "ns/a", out), 1);
	/* No pools at all: everything is released, without a callback too. */
	assert_int_equal(lb_ipam_reload(ip, NULL, 0, NULL, NULL), 0);
	assert_int_equal(lb_ipam_lookup(ip, "ns/a", out), 0);
	assert_int_equal(lb_ipam_pool_count(ip), 0);
	lb_ipam_destroy(ip);
}

/* ---- restore ------------------------------------------------------------------------------------ */

static void
test_restore_puts_back_allocations_with_their_pool(void **state)
{
	struct lb_pool_conf p[] = {
		pool("wide", true, false, "198.18.0.0/16", "2001:db8::/64", NULL),
		pool("narrow", false, false, "198.18.0.0/24", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 2);
	struct lb_ipam_req r;
	struct lb_addr addrs[2], out[2];
	char err[ERRLEN];

	(void)state;
	/* Recorded pool kept while it holds the address, even if not the first. */
	r = req("ns/a", LB_FAMILY_V4);
	r.pool = "narrow";
	addrs[0] = A("198.18.0.5");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), 0);
	assert_int_equal(usage(ip, "narrow").used[0], 1);
	assert_int_equal(usage(ip, "wide").used[0], 0);

	/* A recorded pool that no longer holds it (or is gone): the first that does. */
	r = req("ns/b", LB_FAMILY_V4 | LB_FAMILY_V6);
	r.pool = "narrow";
	addrs[0] = A("2001:db8::9");
	addrs[1] = A("198.18.7.7");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 2, err, sizeof(err)), 0);
	assert_int_equal(lb_ipam_lookup(ip, "ns/b", out), 2);
	assert_string_equal(fmt(&out[0]), "198.18.7.7");
	assert_string_equal(fmt(&out[1]), "2001:db8::9");
	assert_int_equal(usage(ip, "wide").used[0], 1);
	assert_int_equal(usage(ip, "wide").used[1], 1);
	r = req("ns/c", LB_FAMILY_V4);
	r.pool = "gone";
	addrs[0] = A("198.18.0.6");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), 0);
	assert_int_equal(usage(ip, "narrow").used[0], 1);
	assert_int_equal(usage(ip, "wide").used[0], 2);

	/* Same checks as a requested IP. */
	r = req("ns/d", LB_FAMILY_V4);
	addrs[0] = A("203.0.113.1");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), LB_ENOENT);
	assert_string_equal(err, "203.0.113.1 is not in any pool");
	addrs[0] = A("198.18.0.5");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), LB_ECONFLICT);
	assert_non_null(strstr(err, "ns/a"));
	r = req("ns/a", LB_FAMILY_V4);
	addrs[0] = A("198.18.0.9");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), LB_EEXIST);
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 0, err, sizeof(err)), LB_EINVAL);
	/* All or nothing: a bad IPv6 address keeps the IPv4 one free. */
	r = req("ns/e", LB_FAMILY_V4 | LB_FAMILY_V6);
	addrs[0] = A("198.18.0.20");
	addrs[1] = A("2001:db9::1");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 2, err, sizeof(err)), LB_ENOENT);
	assert_int_equal(lb_ipam_lookup(ip, "ns/e", out), 0);

	/* Restored sharers keep sharing, and auto allocation steps around them. */
	r = req_shared("ns/s1", "k", TCP80, 1);
	addrs[0] = A("198.18.0.0");
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), 0);
	r = req_shared("ns/s2", "k", TCP443, 1);
	assert_int_equal(lb_ipam_restore(ip, &r, addrs, 1, err, sizeof(err)), 0);
	r = req("ns/auto", LB_FAMILY_V4);
	assert_string_equal(take(ip, &r), "198.18.0.1");
	lb_ipam_destroy(ip);
}

/* ---- usage and large pools ----------------------------------------------------------------------- */

static void
test_usage_counts_size_and_use_per_family(void **state)
{
	struct lb_pool_conf p[] = {
		pool("mixed", true, false, "198.18.0.0/24", "198.18.1.10-198.18.1.19",
		     "198.18.0.128/25", /* overlaps the /24: counted once */
		     "2001:db8::/120", NULL),
		pool("empty", true, false, NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 2);
	struct lb_pool_usage u;
	struct lb_ipam_req r;

	(void)state;
	u = usage(ip, "mixed");
	assert_int_equal(u.size[0], 266);
	assert_int_equal(u.size[1], 256);
	assert_int_equal(u.used[0], 0);
	r = req("ns/a", LB_FAMILY_V4 | LB_FAMILY_V6);
	take(ip, &r);
	r = req("ns/b", LB_FAMILY_V6);
	take(ip, &r);
	u = usage(ip, "mixed");
	assert_int_equal(u.used[0], 1);
	assert_int_equal(u.used[1], 2);
	u = usage(ip, "empty");
	assert_int_equal(u.size[0], 0);
	assert_int_equal(u.size[1], 0);
	assert_int_equal(lb_ipam_pool_usage(ip, 2, &u), LB_ENOENT);
	assert_int_equal(lb_ipam_pool_find(ip, "nope"), -1);
	assert_int_equal(lb_ipam_pool_find(ip, "empty"), 1);
	lb_ipam_destroy(ip);
}

static void
test_large_ipv6_pool_works_and_size_saturates(void **state)
{
	struct lb_pool_conf p[] = {
		pool("big", true, false, "2001:db8::/64", NULL),
		pool("half", false, false, "2001:db8:1::/65", NULL),
		pool("all", false, false, "::/0", NULL),
		pool("two64s", false, false, "2001:db8:2::/64", "2001:db8:3::/64", NULL),
	};
	struct lb_ipam *ip = lb_ipam_create(p, 4);
	struct lb_ipam_req r;
	char owner[32];

	(void)state;
	assert_true(usage(ip, "big").size[1] == UINT64_MAX);   /* 2^64 does not fit */
	assert_true(usage(ip, "half").size[1] == (1ULL << 63));
	assert_true(usage(ip, "all").size[1] == UINT64_MAX);
	assert_true(usage(ip, "two64s").size[1] == UINT64_MAX);
	for (int i = 0; i < 1000; i++) {
		snprintf(owner, sizeof(owner), "ns/s%d", i);
		r = req(owner, LB_FAMILY_V6);
		take(ip, &r);
	}
	r = req("ns/last", LB_FAMILY_V6);
	assert_string_equal(take(ip, &r), "2001:db8::3e8");
	r = req_ip("ns/high", "2001:db8::ffff:ffff:ffff:ffff");
	assert_string_equal(take(ip, &r), "2001:db8::ffff:ffff:ffff:ffff");
	r = req_ip("ns/any", "fe80::1");
	r.pool = "all";
	assert_string_equal(take(ip, &r), "fe80::1");
	assert_int_equal(usage(ip, "big").used[1], 1002);
	lb_ipam_destroy(ip);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_ten_thousand_allocations_from_a_16_are_unique(void **state)
{
	enum { N = 10000 };
	struct lb_pool_conf p[] = {pool("big", true, true, "10.20.0.0/16", NULL)};
	struct lb_ipam *ip = lb_ipam_create(p, 1);
	static uint8_t seen[65536];
	struct lb_ipam_req r;
	struct lb_addr out[2];
	char owner[32];
	double t0 = now();

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < N; i++) {
		snprintf(owner, sizeof(owner), "ns/s%d", i);
		r = req(owner, LB_FAMILY_V4);
		take(ip, &r);
		assert_int_equal(lb_ipam_lookup(ip, owner, out), 1);
		unsigned host = (unsigned)out[0].bytes[2] << 8 | out[0].bytes[3];
		assert_int_equal(seen[host], 0);
		assert_true(out[0].bytes[3] != 0 && out[0].bytes[3] != 255);
		seen[host] = 1;
	}
	/* Churn: release every third, allocate as many again; still never a duplicate. */
	for (int i = 0; i < N; i += 3) {
		snprintf(owner, sizeof(owner), "ns/s%d", i);
		assert_int_equal(lb_ipam_lookup(ip, owner, out), 1);
		seen[(unsigned)out[0].bytes[2] << 8 | out[0].bytes[3]] = 0;
		assert_int_equal(lb_ipam_release(ip, owner), 1);
	}
	for (int i = 0; i < N; i += 3) {
		snprintf(owner, sizeof(owner), "ns/again%d", i);
		r = req(owner, LB_FAMILY_V4);
		take(ip, &r);
		assert_int_equal(lb_ipam_lookup(ip, owner, out), 1);
		unsigned host = (unsigned)out[0].bytes[2] << 8 | out[0].bytes[3];
		assert_int_equal(seen[host], 0);
		seen[host] = 1;
	}
	double dt = now() - t0;
	assert_int_equal(usage(ip, "big").used[0], N);
	print_message("%d allocations, %d releases, %d reallocations: %.1f ms\n", N,
		      (N + 2) / 3, (N + 2) / 3, dt * 1e3);
	/* Not a benchmark: a guard against a quadratic scan creeping back in. */
	assert_true(dt < 5.0);
	lb_ipam_destroy(ip);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_parse_accepts_cidr_range_and_address),
		cmocka_unit_test(test_range_parse_rejects_bad_input),
		cmocka_unit_test(test_create_rejects_duplicate_names_and_bad_ranges),
		cmocka_unit_test(test_auto_assign_takes_first_auto_pool_and_skips_manual_pools),
		cmocka_unit_test(test_requested_pool_is_used_even_without_auto_assign),
		cmocka_unit_test(test_requested_ip_must_lie_in_a_pool),
		cmocka_unit_test(test_invalid_requests_are_rejected),
		cmocka_unit_test(test_owner_holding_addresses_cannot_assign_again),
		cmocka_unit_test(test_lookup_and_release_report_what_the_owner_holds),
		cmocka_unit_test(test_dual_stack_gets_one_address_per_family_ipv4_first),
		cmocka_unit_test(test_dual_stack_is_all_or_nothing_when_ipv6_is_exhausted),
		cmocka_unit_test(test_avoid_buggy_ips_hands_out_254_of_a_24),
		cmocka_unit_test(test_avoid_buggy_ips_across_a_range_spanning_several_24s),
		cmocka_unit_test(test_exhaustion_is_efull_and_release_makes_room),
		cmocka_unit_test(test_efull_names_every_pool_tried),
		cmocka_unit_test(test_last_ipv6_address_range_exhausts_without_wrapping),
		cmocka_unit_test(test_same_key_and_disjoint_ports_share_an_address),
		cmocka_unit_test(test_same_key_and_overlapping_port_conflicts_naming_the_holder),
		cmocka_unit_test(test_different_or_missing_sharing_key_conflicts),
		cmocka_unit_test(test_auto_assign_with_sharing_key_reuses_the_shared_address),
		cmocka_unit_test(test_sharing_reuse_stays_in_the_candidate_pool),
		cmocka_unit_test(test_release_of_one_sharer_keeps_the_address_for_the_other),
		cmocka_unit_test(test_reload_keeps_moves_or_releases_allocations),
		cmocka_unit_test(test_reload_with_invalid_pools_changes_nothing),
		cmocka_unit_test(test_restore_puts_back_allocations_with_their_pool),
		cmocka_unit_test(test_usage_counts_size_and_use_per_family),
		cmocka_unit_test(test_large_ipv6_pool_works_and_size_saturates),
		cmocka_unit_test(test_ten_thousand_allocations_from_a_16_are_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
