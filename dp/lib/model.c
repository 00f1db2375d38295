/*
 * model.c - the service model's one name table per enum and its one validator.
 *
 * Part of edgelb-contract, the dp<->cp contract library (no DPDK, no libconfig,
 * no threads): edgelb-dp's config file (dp/lib/config.c) and control socket
 * (dp/lib/svc_json.c, dp/tables/service.c) and edgelb-cp (cp/lib/lb.c,
 * cp/dpsync) all name and check services through this file. Called on the dp's
 * main lcore and on the cp's API and sync threads; keeps no state.
 *
 * The case rule lives in lb_name_parse() and nowhere else: names are matched
 * without regard to ASCII case, and written back in the table's spelling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lb_error.h"
#include "lb_model.h"

/* Room for a formatted prefix: LB_ADDR_STRLEN covers it, but not to gcc's eyes. */
#define PREFIX_STRLEN (LB_ADDR_STRLEN + 16)

/* ---------------------------------------------------------------- names */

const struct lb_name lb_proto_names[] = {
	{ "tcp", LB_PROTO_TCP },
	{ "udp", LB_PROTO_UDP },
	{ NULL, 0 },
};

const struct lb_name lb_mode_names[] = {
	{ "fnat", LB_MODE_FNAT },
	{ "dnat", LB_MODE_DNAT },
	{ "ipip", LB_MODE_IPIP },
	{ "gue", LB_MODE_GUE },
	{ NULL, 0 },
};

const struct lb_name lb_backend_state_names[] = {
	{ "active", LB_BACKEND_ACTIVE },
	{ "draining", LB_BACKEND_DRAINING },
	{ "down", LB_BACKEND_DOWN },
	{ NULL, 0 },
};

const struct lb_name lb_affinity_names[] = {
	{ "None", LB_AFFINITY_NONE },
	{ "ClientIP", LB_AFFINITY_CLIENTIP },
	{ NULL, 0 },
};

const struct lb_name lb_sched_names[] = {
	{ "maglev", LB_SCHED_MAGLEV },
	{ "rr", LB_SCHED_RR },
	{ "wrr", LB_SCHED_WRR },
	{ "lc", LB_SCHED_LC },
	{ "wlc", LB_SCHED_WLC },
	{ "sh", LB_SCHED_SH },
	{ "dh", LB_SCHED_DH },
	{ "sed", LB_SCHED_SED },
	{ "nq", LB_SCHED_NQ },
	{ NULL, 0 },
};

int
lb_name_parse(const struct lb_name *tab, const char *s, unsigned *val)
{
	if (tab == NULL || s == NULL)
		return LB_EINVAL;
	for (; tab->name != NULL; tab++)
		if (strcasecmp(s, tab->name) == 0) {
			*val = tab->val;
			return 0;
		}
	return LB_EINVAL;
}

const char *
lb_name_of(const struct lb_name *tab, unsigned val, const char *dflt)
{
	for (; tab->name != NULL; tab++)
		if (tab->val == val)
			return tab->name;
	return dflt;
}

const char *
lb_names_join(const struct lb_name *tab, char *buf, size_t len)
{
	size_t k = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (; tab->name != NULL && k < len; tab++) {
		int w = snprintf(buf + k, len - k, "%s%s", k ? ", " : "", tab->name);
		if (w < 0)
			break;
		k += (size_t)w;
	}
	return buf;
}

/* An 8-bit enum field through a table. */
static int
parse_u8(const struct lb_name *tab, const char *s, uint8_t *out)
{
	unsigned v;
	int rc = lb_name_parse(tab, s, &v);

	if (rc == 0)
		*out = (uint8_t)v;
	return rc;
}

const char *
lb_proto_name(uint8_t p)
{
	return lb_name_of(lb_proto_names, p, "?");
}

int
lb_proto_parse(const char *s, uint8_t *p)
{
	return parse_u8(lb_proto_names, s, p);
}

const char *
lb_mode_name(uint8_t m)
{
	return lb_name_of(lb_mode_names, m, "?");
}

int
lb_mode_parse(const char *s, uint8_t *m)
{
	return parse_u8(lb_mode_names, s, m);
}

const char *
lb_backend_state_name(uint8_t s)
{
	return lb_name_of(lb_backend_state_names, s, "?");
}

int
lb_backend_state_parse(const char *s, uint8_t *st)
{
	return parse_u8(lb_backend_state_names, s, st);
}

/* Anything but ClientIP reads as None, as it always did. */
const char *
lb_affinity_name(uint8_t a)
{
	return lb_name_of(lb_affinity_names, a, "None");
}

int
lb_affinity_parse(const char *s, uint8_t *a)
{
	return parse_u8(lb_affinity_names, s, a);
}

const char *
lb_sched_name(uint8_t s)
{
	return lb_name_of(lb_sched_names, s, "?");
}

int
lb_sched_parse(const char *s, uint8_t *sc)
{
	return parse_u8(lb_sched_names, s, sc);
}

/* ---------------------------------------------------------------- service validation */

static const char *
backend_format(const struct lb_backend_spec *b, char *buf, size_t len)
{
	char a[LB_ADDR_STRLEN];

	lb_addr_format(&b->addr, a, sizeof(a));
	snprintf(buf, len, b->addr.family == LB_AF_INET6 ? "[%s]:%u" : "%s:%u", a, b->port);
	return buf;
}

static int
by_backend(const void *pa, const void *pb)
{
	const struct lb_backend_spec *a = *(const struct lb_backend_spec *const *)pa;
	const struct lb_backend_spec *b = *(const struct lb_backend_spec *const *)pb;
	int r = lb_addr_cmp(&a->addr, &b->addr);

	if (r == 0 && a->port != b->port)
		r = a->port < b->port ? -1 : 1;
	return r != 0 ? r : (a > b) - (a < b);
}

static int
dup_backend(const struct lb_svc_spec *s, char *msg, size_t len, char *where, size_t wlen)
{
	const struct lb_backend_spec **v;
	int rc = 0;

	if (s->n_backends < 2)
		return 0;
	v = malloc(s->n_backends * sizeof(*v));
	if (v == NULL) {
		snprintf(where, wlen, "backends");
		snprintf(msg, len, "out of memory");
		return LB_ENOMEM;
	}
	for (uint32_t i = 0; i < s->n_backends; i++)
		v[i] = &s->backends[i];
	qsort(v, s->n_backends, sizeof(*v), by_backend);
	for (uint32_t i = 1; i < s->n_backends; i++) {
		if (lb_addr_eq(&v[i - 1]->addr, &v[i]->addr) && v[i - 1]->port == v[i]->port) {
			char buf[LB_ADDR_STRLEN + 8];

			snprintf(where, wlen, "backends.[%td]", v[i] - s->backends);
			snprintf(msg, len, "%s is already backends.[%td]",
				 backend_format(v[i], buf, sizeof(buf)), v[i - 1] - s->backends);
			rc = LB_EINVAL;
			break;
		}
	}
	free(v);
	return rc;
}

_Static_assert(LB_WEIGHT_MAX == UINT16_MAX, "every uint16_t weight is a valid weight");

#define BAD(field, ...) \
	do { \
		snprintf(where, wlen, "%s", field); \
		snprintf(msg, len, __VA_ARGS__); \
		return LB_EINVAL; \
	} while (0)

int
lb_svc_spec_check(const struct lb_svc_spec *s, char *msg, size_t len, char *where, size_t wlen)
{
	char buf[PREFIX_STRLEN], field[48];

	if (s->name[0] == '\0')
		BAD("name", "must not be empty");
	if (memchr(s->name, '\0', sizeof(s->name)) == NULL)
		BAD("name", "is longer than %d characters", LB_NAME_MAX - 1);
	if (s->vip.family != LB_AF_INET && s->vip.family != LB_AF_INET6)
		BAD("vip", "is not set");
	if (s->port == 0)
		BAD("port", "0 is out of range 1..65535");
	if (s->proto != LB_PROTO_TCP && s->proto != LB_PROTO_UDP)
		BAD("protocol", "%u is neither tcp nor udp", s->proto);
	if (s->mode > LB_MODE_GUE)
		BAD("mode", "%u is not one of %s", s->mode,
		    lb_names_join(lb_mode_names, buf, sizeof(buf)));
	if (!lb_maglev_m_valid(s->maglev_m))
		BAD("maglev_size", "%u is not a prime in 3..%u", s->maglev_m, LB_MAGLEV_M_MAX);
	if (s->sched > LB_SCHED_MAX)
		BAD("scheduler", "%u is not one of %s", s->sched,
		    lb_names_join(lb_sched_names, buf, sizeof(buf)));
	if (s->affinity != LB_AFFINITY_NONE && s->affinity != LB_AFFINITY_CLIENTIP)
		BAD("session_affinity.type", "%u is neither None nor ClientIP", s->affinity);
	if (s->affinity_timeout < 1 || s->affinity_timeout > LB_AFFINITY_TIMEOUT_MAX)
		BAD("session_affinity.timeout_seconds", "%u is out of range 1..%d",
		    s->affinity_timeout, LB_AFFINITY_TIMEOUT_MAX);
	if (s->n_backends > LB_MAX_BACKENDS_PER_SVC)
		BAD("backends", "%u backends, at most %d", s->n_backends, LB_MAX_BACKENDS_PER_SVC);
	if (s->n_backends > 0 && s->backends == NULL)
		BAD("backends", "%u backends but no array", s->n_backends);
	for (uint32_t i = 0; i < s->n_backends; i++) {
		const struct lb_backend_spec *b = &s->backends[i];

		if (b->addr.family != s->vip.family) {
			snprintf(field, sizeof(field), "backends.[%u].address", i);
			if (b->addr.family != LB_AF_INET && b->addr.family != LB_AF_INET6)
				BAD(field, "is not set");
			BAD(field, "%s is IPv%u but the VIP is IPv%u",
			    lb_addr_format(&b->addr, buf, sizeof(buf)), b->addr.family,
			    s->vip.family);
		}
		if (b->port == 0) {
			snprintf(field, sizeof(field), "backends.[%u].port", i);
			BAD(field, "0 is out of range 1..65535");
		}
		if (lb_mode_is_dsr(s->mode) && b->port != s->port) {
			snprintf(field, sizeof(field), "backends.[%u].port", i);
			BAD(field, "%u differs from the service port %u: mode %s sends the packet "
			    "unchanged, so the backend must listen on the VIP's port",
			    b->port, s->port, lb_mode_name(s->mode));
		}
		/* weight: a uint16_t, so every value is within 0..LB_WEIGHT_MAX */
		if (b->state > LB_BACKEND_DOWN) {
			snprintf(field, sizeof(field), "backends.[%u].state", i);
			BAD(field, "%u is not active, draining or down", b->state);
		}
	}
	if (s->n_source_ranges > LB_MAX_SOURCE_RANGES)
		BAD("source_ranges", "%u source ranges, at most %d", s->n_source_ranges,
		    LB_MAX_SOURCE_RANGES);
	if (s->n_source_ranges > 0 && s->source_ranges == NULL)
		BAD("source_ranges", "%u source ranges but no array", s->n_source_ranges);
	for (uint32_t i = 0; i < s->n_source_ranges; i++) {
		const struct lb_prefix *p = &s->source_ranges[i];
		struct lb_addr masked = p->addr;

		snprintf(field, sizeof(field), "source_ranges.[%u]", i);
		if (p->addr.family != LB_AF_INET && p->addr.family != LB_AF_INET6)
			BAD(field, "is not set");
		if (p->len > lb_addr_len(p->addr.family) * 8)
			BAD(field, "prefix length %u is too long", p->len);
		lb_addr_mask(&masked, p->len);
		if (!lb_addr_eq(&masked, &p->addr))
			BAD(field, "%s has host bits set",
			    lb_prefix_format(p, buf, sizeof(buf)));
	}
	return dup_backend(s, msg, len, where, wlen);
}

int
lb_svc_spec_validate(const struct lb_svc_spec *s, char *err, size_t errlen)
{
	char msg[256], where[64];
	int rc;

	if (s == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "service: NULL");
		return LB_EINVAL;
	}
	rc = lb_svc_spec_check(s, msg, sizeof(msg), where, sizeof(where));
	if (rc < 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", where, msg);
	return rc;
}
