/*
 * config.c - edgelb-dp's configuration file: libconfig text -> struct lb_dp_conf.
 *
 * dp/main.c calls lb_dp_conf_load() once, on the main lcore, before EAL resources
 * are used; unit tests call lb_dp_conf_parse() without EAL. lb_svc_spec_validate()
 * is also called by the control thread (dp/ctl.c) for every service.upsert. Nothing
 * here runs on a worker lcore and nothing here keeps state between calls.
 *
 * Settings are tables of {name, type, setter, offsetof, range, default} rows,
 * nginx ngx_command_t style: one walker checks every group against its table
 * (unknown names are errors, so typos do not pass silently; wrong types are
 * errors; required rows must be present), then calls each row's setter in table
 * order. Table order, not file order, is what makes cross-references work: ports
 * are parsed before the routes and neighbours that name them, dp.max_* before the
 * services counted against them. The same rows carry the defaults that
 * lb_dp_conf_defaults() writes, so a default lives in exactly one place.
 *
 * Every error names the setting by its libconfig path and gives its line:
 *   "ports.[1].addresses.[0]: '198.18.0.1/33' is not an address/prefix (line 12)"
 * A failed parse frees whatever it had allocated before returning.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libconfig.h>

#include "config.h"

/* Same seed on every box unless the operator sets one: Maglev tables then agree. */
#define DEFAULT_HASH_SEED 0x5eed5eed5eed5eedULL
#define DEFAULT_CONTROL_SOCKET "/run/edgelb/dp.sock"
#define DEFAULT_SNAT_LO 1024
#define DEFAULT_SNAT_HI 65535
/* lcore ids are checked against the running EAL by dp/main.c; this only bounds typos. */
#define LCORE_ID_MAX 1023
#define MBUFS_MAX 67108864
/* Room for a formatted prefix: LB_ADDR_STRLEN covers it, but not to gcc's eyes. */
#define PREFIX_STRLEN (LB_ADDR_STRLEN + 16)

/* Setting types a row accepts (a mask). */
enum {
	T_INT = 1 << 0,   /* int or int64 (L suffix) */
	T_STR = 1 << 1,
	T_GROUP = 1 << 2, /* { ... } */
	T_SEQ = 1 << 3,   /* array [ ... ] or list ( ... ) */
};

#define F_REQ 0x1  /* the setting must be present */
#define F_DEF 0x2  /* lb_dp_conf_defaults()/element defaults write def into the field */
#define F_POW2 0x4 /* a number must be a power of two */

struct pctx {
	char *err;
	size_t errlen;
	const char *file;      /* file being loaded; NULL when parsing a string */
	struct lb_dp_conf *c;
};

struct name_val {
	const char *name;
	unsigned val;
};

struct cmd;
typedef int (*setter_fn)(struct pctx *x, const config_setting_t *s, const struct cmd *cmd,
			 void *base);

struct cmd {
	const char *name;
	unsigned type;      /* T_* mask */
	setter_fn set;
	size_t off, size;   /* field in the row's base struct */
	long long min, max; /* numbers: range; strings: min length; sequences: max count */
	uint64_t def;       /* written when flags has F_DEF */
	unsigned flags;
	const void *arg;    /* set_enum: struct name_val[]; set_group: struct cmd[] */
};

#define END_CMDS { NULL, 0, NULL, 0, 0, 0, 0, 0, 0, NULL }
#define FIELD(type, m) offsetof(type, m), sizeof(((type *)0)->m)
#define CONF(m) FIELD(struct lb_dp_conf, m)
#define PORT(m) FIELD(struct lb_port_conf, m)
#define ROUTE(m) FIELD(struct lb_route_conf, m)
#define NEIGH(m) FIELD(struct lb_neigh_conf, m)
#define SVC(m) FIELD(struct lb_svc_spec, m)
#define BACKEND(m) FIELD(struct lb_backend_spec, m)
#define NOFIELD 0, 0

/* ---------------------------------------------------------------- errors */

/* "ports.[1].addresses.[0]"; returns the length written (clamped to len - 1). */
static size_t
path_of(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *p = s ? config_setting_parent(s) : NULL;
	size_t n;
	int w;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (p == NULL)
		return 0; /* the root has no name */
	n = path_of(p, buf, len);
	if (s->name != NULL)
		w = snprintf(buf + n, len - n, "%s%s", n ? "." : "", s->name);
	else
		w = snprintf(buf + n, len - n, "%s[%d]", n ? "." : "", config_setting_index(s));
	if (w < 0)
		return n;
	n += (size_t)w;
	return n < len ? n : len - 1;
}

static void
vreport(struct pctx *x, const char *path, const config_setting_t *at, const char *fmt,
	va_list ap)
{
	char msg[512];
	unsigned line = at ? config_setting_source_line(at) : 0;
	const char *file = at ? config_setting_source_file(at) : NULL;

	if (x->err == NULL || x->errlen == 0)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line == 0)
		snprintf(x->err, x->errlen, "%s: %s", path, msg);
	else if (file != NULL && x->file != NULL && strcmp(file, x->file) != 0)
		/* a setting from an @include'd file */
		snprintf(x->err, x->errlen, "%s: %s (%s line %u)", path, msg, file, line);
	else
		snprintf(x->err, x->errlen, "%s: %s (line %u)", path, msg, line);
}

/* Report an error under an explicit path, with the line of setting at. */
static int __attribute__((format(printf, 4, 5)))
fail_path(struct pctx *x, const char *path, const config_setting_t *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(x, path, at, fmt, ap);
	va_end(ap);
	return LB_EINVAL;
}

/* Report an error at setting s (or at s's member named member) and return LB_EINVAL. */
static int __attribute__((format(printf, 4, 5)))
fail(struct pctx *x, const config_setting_t *s, const char *member, const char *fmt, ...)
{
	char path[256];
	size_t n = path_of(s, path, sizeof(path));
	va_list ap;

	if (member != NULL)
		snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", member);
	va_start(ap, fmt);
	vreport(x, path, s, fmt, ap);
	va_end(ap);
	return LB_EINVAL;
}

static int
fail_nomem(struct pctx *x, const config_setting_t *s)
{
	fail(x, s, NULL, "out of memory");
	return LB_ENOMEM;
}

static const char *
type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

static bool
type_ok(const config_setting_t *s, unsigned mask)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return mask & T_INT;
	case CONFIG_TYPE_STRING: return mask & T_STR;
	case CONFIG_TYPE_GROUP: return mask & T_GROUP;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST: return mask & T_SEQ;
	default: return false;
	}
}

static const char *
want_name(unsigned mask)
{
	switch (mask) {
	case T_INT: return "an integer";
	case T_STR: return "a string";
	case T_INT | T_STR: return "an integer or a string";
	case T_GROUP: return "a group { }";
	case T_SEQ: return "a list ( ) or array [ ]";
	default: return "another type";
	}
}

/* An element of a sequence must have a type in mask. */
static int
check_elem(struct pctx *x, const config_setting_t *e, unsigned mask)
{
	if (!type_ok(e, mask))
		return fail(x, e, NULL, "expected %s, got %s", want_name(mask), type_name(e));
	return 0;
}

/* ---------------------------------------------------------------- table walker */

static const struct cmd *
find_cmd(const struct cmd *tab, const char *name)
{
	for (; tab->name != NULL; tab++)
		if (name != NULL && strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

static void
store_num(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1: { uint8_t u = (uint8_t)v; memcpy(field, &u, 1); break; }
	case 2: { uint16_t u = (uint16_t)v; memcpy(field, &u, 2); break; }
	case 4: { uint32_t u = (uint32_t)v; memcpy(field, &u, 4); break; }
	case 8: memcpy(field, &v, 8); break;
	default: break;
	}
}

/* Write the F_DEF defaults of a table (and of its nested groups) into base. */
static void
tab_defaults(const struct cmd *tab, void *base)
{
	for (; tab->name != NULL; tab++) {
		if (tab->flags & F_DEF)
			store_num((char *)base + tab->off, tab->size, tab->def);
		if (tab->type == T_GROUP && tab->arg != NULL)
			tab_defaults(tab->arg, base);
	}
}

/*
 * Check group g against tab (names, types, required rows), then run each present
 * row's setter in table order.
 */
static int
walk(struct pctx *x, const config_setting_t *g, const struct cmd *tab, void *base)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);

		if (find_cmd(tab, config_setting_name(s)) == NULL) {
			char known[384];
			size_t k = 0;

			known[0] = '\0';
			for (const struct cmd *t = tab; t->name != NULL && k < sizeof(known); t++) {
				int w = snprintf(known + k, sizeof(known) - k, "%s%s", k ? ", " : "", t->name);
				if (w < 0)
					break;
				k += (size_t)w;
			}
			return fail(x, s, NULL, "unknown setting (expected one of: %s)", known);
		}
	}
	for (const struct cmd *t = tab; t->name != NULL; t++) {
		const config_setting_t *s = config_setting_get_member(g, t->name);
		int rc;

		if (s == NULL) {
			if (t->flags & F_REQ)
				return fail(x, g, t->name, "required setting missing");
			continue;
		}
		if (!type_ok(s, t->type))
			return fail(x, s, NULL, "expected %s, got %s", want_name(t->type), type_name(s));
		rc = t->set(x, s, t, base);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- generic setters */

static int
set_group(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	return walk(x, s, cmd->arg, base);
}

static int
set_uint(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	long long v = config_setting_get_int64(s);

	if (v < cmd->min || v > cmd->max)
		return fail(x, s, NULL, "%lld is out of range %lld..%lld", v, cmd->min, cmd->max);
	if ((cmd->flags & F_POW2) && (v & (v - 1)) != 0)
		return fail(x, s, NULL, "%lld is not a power of two", v);
	store_num((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

static int
set_enum(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	const char *v = config_setting_get_string(s);
	char names[128];
	size_t k = 0;

	names[0] = '\0';
	for (const struct name_val *nv = cmd->arg; nv->name != NULL; nv++) {
		if (strcasecmp(v, nv->name) == 0) {
			store_num((char *)base + cmd->off, cmd->size, nv->val);
			return 0;
		}
		if (k < sizeof(names)) {
			int w = snprintf(names + k, sizeof(names) - k, "%s%s", k ? ", " : "", nv->name);
			if (w > 0)
				k += (size_t)w;
		}
	}
	return fail(x, s, NULL, "'%s' is not one of %s", v, names);
}

/* A string into a char[size] field; min is the minimum length. */
static int
set_str(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	const char *v = config_setting_get_string(s);
	size_t len = strlen(v);

	if ((long long)len < cmd->min)
		return fail(x, s, NULL, "must not be empty");
	if (len >= cmd->size)
		return fail(x, s, NULL, "'%.40s...' is too long (at most %zu characters)", v,
			    cmd->size - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return fail(x, s, NULL, "contains a control character");
	memcpy((char *)base + cmd->off, v, len + 1);
	return 0;
}

static int
set_addr(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	const char *v = config_setting_get_string(s);
	struct lb_addr a;

	if (lb_addr_parse(v, &a) < 0)
		return fail(x, s, NULL, "'%s' is not an IPv4 or IPv6 address", v);
	memcpy((char *)base + cmd->off, &a, sizeof(a));
	return 0;
}

/* A strict CIDR: address/length with the host bits zero. */
static int
parse_cidr(struct pctx *x, const config_setting_t *s, struct lb_prefix *p)
{
	const char *v = config_setting_get_string(s);
	char buf[PREFIX_STRLEN];

	if (lb_prefix_parse(v, p, NULL, false) < 0)
		return fail(x, s, NULL, "'%s' is not an address/prefix", v);
	if (lb_prefix_parse(v, p, NULL, true) < 0) {
		lb_prefix_parse(v, p, NULL, false);
		return fail(x, s, NULL, "'%s' has host bits set (did you mean %s?)", v,
			    lb_prefix_format(p, buf, sizeof(buf)));
	}
	return 0;
}

static int
set_cidr(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_prefix p;
	int rc = parse_cidr(x, s, &p);

	if (rc == 0)
		memcpy((char *)base + cmd->off, &p, sizeof(p));
	return rc;
}

static int
parse_mac(const char *v, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		char *end;
		unsigned long b;

		if (!((v[0] >= '0' && v[0] <= '9') || (v[0] >= 'a' && v[0] <= 'f') ||
		      (v[0] >= 'A' && v[0] <= 'F')))
			return LB_EINVAL;
		b = strtoul(v, &end, 16);
		if (end - v != 2 || b > 0xff)
			return LB_EINVAL;
		mac[i] = (uint8_t)b;
		v = end;
		if (i < 5 && *v++ != ':')
			return LB_EINVAL;
	}
	return *v == '\0' ? 0 : LB_EINVAL;
}

/* A unicast MAC "02:00:00:00:00:01" into a uint8_t[6] field. */
static int
set_mac(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	const char *v = config_setting_get_string(s);
	static const uint8_t zero[6];
	uint8_t mac[6];

	if (parse_mac(v, mac) < 0)
		return fail(x, s, NULL, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", v);
	if (mac[0] & 1)
		return fail(x, s, NULL, "'%s' is a multicast MAC address", v);
	if (memcmp(mac, zero, 6) == 0)
		return fail(x, s, NULL, "'%s' is the zero MAC address", v);
	memcpy((char *)base + cmd->off, mac, 6);
	return 0;
}

/* ---------------------------------------------------------------- dp group */

static int
set_workers(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_dp_conf *c = base;
	int n = config_setting_length(s);

	(void)cmd;
	if (n > LB_MAX_WORKERS)
		return fail(x, s, NULL, "%d workers, at most %d", n, LB_MAX_WORKERS);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		long long v;
		int rc = check_elem(x, e, T_INT);

		if (rc < 0)
			return rc;
		v = config_setting_get_int64(e);
		if (v < 0 || v > LCORE_ID_MAX)
			return fail(x, e, NULL, "lcore %lld is out of range 0..%d", v, LCORE_ID_MAX);
		for (int j = 0; j < i; j++)
			if (c->worker_lcores[j] == (uint32_t)v)
				return fail(x, e, NULL, "lcore %lld is listed twice", v);
		c->worker_lcores[i] = (uint32_t)v;
	}
	c->n_workers = (uint32_t)n; /* 0 ("[]") keeps the default: every lcore but main */
	return 0;
}

static int
set_seed(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	uint64_t v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);
		bool hex = str[0] == '0' && (str[1] == 'x' || str[1] == 'X');
		const char *digits = hex ? str + 2 : str;
		char *end;

		if (!((digits[0] >= '0' && digits[0] <= '9') ||
		      (hex && ((digits[0] >= 'a' && digits[0] <= 'f') ||
			       (digits[0] >= 'A' && digits[0] <= 'F')))))
			return fail(x, s, NULL, "'%s' is not a 64-bit number (\"0x...\" or decimal)", str);
		errno = 0;
		v = strtoull(digits, &end, hex ? 16 : 10);
		if (*end != '\0' || errno == ERANGE)
			return fail(x, s, NULL, "'%s' is not a 64-bit number (\"0x...\" or decimal)", str);
	} else {
		long long ll = config_setting_get_int64(s);

		if (config_setting_type(s) == CONFIG_TYPE_INT &&
		    config_setting_get_format(s) == CONFIG_FORMAT_HEX)
			/* libconfig reads 0xdeadbeef (no L) as a negative int: keep the 32 bits written */
			v = (uint32_t)ll;
		else if (ll < 0 && config_setting_get_format(s) != CONFIG_FORMAT_HEX)
			return fail(x, s, NULL, "%lld is negative; write the seed in hex (0x...L)", ll);
		else
			v = (uint64_t)ll; /* 0x...L: the 64 bits as written */
	}
	store_num((char *)base + cmd->off, cmd->size, v);
	return 0;
}

static int
set_sockmode(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);
		size_t len = strlen(str);

		v = 0;
		if (len == 0 || len > 4)
			return fail(x, s, NULL, "'%s' is not an octal mode such as \"0600\"", str);
		for (size_t i = 0; i < len; i++) {
			if (str[i] < '0' || str[i] > '7')
				return fail(x, s, NULL, "'%s' is not an octal mode such as \"0600\"", str);
			v = v * 8 + (str[i] - '0');
		}
		if (v > cmd->max)
			return fail(x, s, NULL, "'%s' is out of range \"0000\"..\"0777\"", str);
	} else {
		v = config_setting_get_int64(s);
		if (v < cmd->min || v > cmd->max)
			return fail(x, s, NULL,
				    "%lld is out of range 0..511 (libconfig integers are decimal: "
				    "write the mode as an octal string such as \"0600\")", v);
	}
	store_num((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

static int
set_snat(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_dp_conf *c = base;
	long long v[2];

	if (config_setting_length(s) != 2)
		return fail(x, s, NULL, "expected [lo, hi], got %d values", config_setting_length(s));
	for (unsigned i = 0; i < 2; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		int rc = check_elem(x, e, T_INT);

		if (rc < 0)
			return rc;
		v[i] = config_setting_get_int64(e);
		if (v[i] < cmd->min || v[i] > cmd->max)
			return fail(x, e, NULL, "%lld is out of range %lld..%lld", v[i], cmd->min,
				    cmd->max);
	}
	if (v[0] >= v[1])
		return fail(x, s, NULL, "lo %lld must be below hi %lld", v[0], v[1]);
	c->snat_port_lo = (uint16_t)v[0];
	c->snat_port_hi = (uint16_t)v[1];
	return 0;
}

static const struct name_val steering_names[] = {
	{ "auto", LB_STEER_AUTO },
	{ "rte_flow", LB_STEER_RTE_FLOW },
	{ "ring", LB_STEER_RING },
	{ NULL, 0 },
};

static const struct cmd dp_cmds[] = {
	/* name, type, setter, field, min, max, default, flags, arg */
	{ "workers", T_SEQ, set_workers, NOFIELD, 0, LB_MAX_WORKERS, 0, 0, NULL },
	{ "burst", T_INT, set_uint, CONF(burst), 1, 64, 32, F_DEF, NULL },
	{ "idle_sleep_us", T_INT, set_uint, CONF(idle_sleep_us), 0, 100000, 0, F_DEF, NULL },
	{ "mbufs", T_INT, set_uint, CONF(mbufs), 0, MBUFS_MAX, 0, F_DEF, NULL },
	{ "hash_seed", T_INT | T_STR, set_seed, CONF(hash_seed), 0, 0, DEFAULT_HASH_SEED, F_DEF,
	  NULL },
	{ "max_services", T_INT, set_uint, CONF(max_services), 1, 1048576, 16384, F_DEF, NULL },
	{ "max_backends", T_INT, set_uint, CONF(max_backends), 1, 16777216, 65536, F_DEF, NULL },
	{ "steering", T_STR, set_enum, CONF(steering), 0, 0, LB_STEER_AUTO, F_DEF,
	  steering_names },
	{ "snat_ports", T_SEQ, set_snat, NOFIELD, 1, 65535, 0, 0, NULL },
	{ "control_socket", T_STR, set_str, CONF(control_socket), 0, 0, 0, 0, NULL },
	{ "control_socket_mode", T_INT | T_STR, set_sockmode, CONF(control_socket_mode), 0, 0777,
	  0600, F_DEF, NULL },
	END_CMDS,
};

static const struct cmd timeout_cmds[] = {
	{ "tcp_syn", T_INT, set_uint, CONF(ct_timeout_s[LB_CT_TCP_SYN]), 1, 86400, 30, F_DEF,
	  NULL },
	{ "tcp_established", T_INT, set_uint, CONF(ct_timeout_s[LB_CT_TCP_ESTABLISHED]), 1, 86400,
	  900, F_DEF, NULL },
	{ "tcp_closing", T_INT, set_uint, CONF(ct_timeout_s[LB_CT_TCP_CLOSING]), 1, 86400, 30,
	  F_DEF, NULL },
	{ "tcp_closed", T_INT, set_uint, CONF(ct_timeout_s[LB_CT_TCP_CLOSED]), 1, 86400, 10, F_DEF,
	  NULL },
	{ "udp", T_INT, set_uint, CONF(ct_timeout_s[LB_CT_UDP]), 1, 86400, 300, F_DEF, NULL },
	END_CMDS,
};

static const struct cmd conntrack_cmds[] = {
	{ "capacity", T_INT, set_uint, CONF(ct_capacity), 1, 67108864, 262144, F_DEF, NULL },
	{ "timeouts", T_GROUP, set_group, NOFIELD, 0, 0, 0, 0, timeout_cmds },
	END_CMDS,
};

static const struct cmd affinity_cmds[] = {
	{ "capacity", T_INT, set_uint, CONF(affinity_capacity), 1, 16777216, 65536, F_DEF, NULL },
	END_CMDS,
};

/* ---------------------------------------------------------------- ports */

static int
set_ifaddrs(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_port_conf *p = base;
	int n = config_setting_length(s);

	if (n > cmd->max)
		return fail(x, s, NULL, "%d addresses, at most %lld", n, cmd->max);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct lb_prefix pfx;
		const char *v;
		int rc = check_elem(x, e, T_STR);

		if (rc < 0)
			return rc;
		v = config_setting_get_string(e);
		if (lb_prefix_parse(v, &pfx, &p->addrs[i].addr, false) < 0)
			return fail(x, e, NULL, "'%s' is not an address/prefix", v);
		p->addrs[i].len = pfx.len;
	}
	p->n_addrs = (uint32_t)n;
	return 0;
}

static int
set_locals(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_port_conf *p = base;
	int n = config_setting_length(s);

	if (n > cmd->max)
		return fail(x, s, NULL, "%d local addresses on one port, at most %lld", n, cmd->max);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v;
		int rc = check_elem(x, e, T_STR);

		if (rc < 0)
			return rc;
		v = config_setting_get_string(e);
		if (lb_addr_parse(v, &p->local[i]) < 0)
			return fail(x, e, NULL, "'%s' is not an IPv4 or IPv6 address", v);
	}
	p->n_local = (uint32_t)n;
	return 0;
}

static int
set_port_mac(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	int rc = set_mac(x, s, cmd, base);

	if (rc == 0)
		((struct lb_port_conf *)base)->mac_set = 1;
	return rc;
}

static const struct name_val role_names[] = {
	{ "external", LB_ROLE_EXTERNAL },
	{ "internal", LB_ROLE_INTERNAL },
	{ "both", LB_ROLE_BOTH },
	{ NULL, 0 },
};

static const struct cmd port_cmds[] = {
	{ "name", T_STR, set_str, PORT(name), 1, 0, 0, F_REQ, NULL },
	{ "device", T_STR, set_str, PORT(device), 1, 0, 0, F_REQ, NULL },
	{ "role", T_STR, set_enum, PORT(role), 0, 0, 0, F_REQ, role_names },
	{ "addresses", T_SEQ, set_ifaddrs, NOFIELD, 0, LB_MAX_PORT_ADDRS, 0, 0, NULL },
	{ "local_addresses", T_SEQ, set_locals, NOFIELD, 0, LB_MAX_PORT_ADDRS, 0, 0, NULL },
	{ "mac", T_STR, set_port_mac, PORT(mac), 0, 0, 0, 0, NULL },
	{ "mtu", T_INT, set_uint, PORT(mtu), 68, 9600, 1500, F_DEF, NULL },
	{ "rx_desc", T_INT, set_uint, PORT(rx_desc), 64, 16384, 1024, F_DEF | F_POW2, NULL },
	{ "tx_desc", T_INT, set_uint, PORT(tx_desc), 64, 16384, 1024, F_DEF | F_POW2, NULL },
	{ "exception", T_STR, set_str, PORT(exception), 1, 0, 0, 0, NULL },
	END_CMDS,
};

static const config_setting_t *
member_elem(const config_setting_t *g, const char *member, int i)
{
	const config_setting_t *s = config_setting_get_member(g, member);

	return s ? config_setting_get_elem(s, (unsigned)i) : NULL;
}

/* Rules across ports: unique names, devices and addresses; the local address budget. */
static int
check_ports(struct pctx *x, const config_setting_t *list)
{
	const struct lb_dp_conf *c = x->c;
	uint32_t total = 0;

	for (uint32_t i = 0; i < c->n_ports; i++) {
		const struct lb_port_conf *p = &c->ports[i];
		const config_setting_t *el = config_setting_get_elem(list, i);
		char buf[LB_ADDR_STRLEN];

		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(c->ports[j].name, p->name) == 0)
				return fail(x, config_setting_get_member(el, "name"), NULL,
					    "port name '%s' is already used by ports.[%u]", p->name, j);
			if (strcmp(c->ports[j].device, p->device) == 0)
				return fail(x, config_setting_get_member(el, "device"), NULL,
					    "device '%s' is already used by ports.[%u]", p->device, j);
		}
		for (uint32_t a = 0; a < p->n_addrs; a++)
			for (uint32_t j = 0; j <= i; j++)
				for (uint32_t b = 0; b < (j == i ? a : c->ports[j].n_addrs); b++)
					if (lb_addr_eq(&c->ports[j].addrs[b].addr, &p->addrs[a].addr))
						return fail(x, member_elem(el, "addresses", (int)a), NULL,
							    "%s is already an address of ports.[%u]",
							    lb_addr_format(&p->addrs[a].addr, buf, sizeof(buf)),
							    j);
		for (uint32_t a = 0; a < p->n_local; a++) {
			if (++total > LB_MAX_LOCAL_ADDRS)
				return fail(x, member_elem(el, "local_addresses", (int)a), NULL,
					    "more than %d local addresses over all ports",
					    LB_MAX_LOCAL_ADDRS);
			for (uint32_t j = 0; j <= i; j++)
				for (uint32_t b = 0; b < (j == i ? a : c->ports[j].n_local); b++)
					if (lb_addr_eq(&c->ports[j].local[b], &p->local[a]))
						return fail(x, member_elem(el, "local_addresses", (int)a),
							    NULL, "%s is already a local address of ports.[%u]",
							    lb_addr_format(&p->local[a], buf, sizeof(buf)), j);
		}
	}
	return 0;
}

static int
set_ports(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_dp_conf *c = base;
	int n = config_setting_length(s);

	(void)cmd;
	if (n == 0)
		return fail(x, s, NULL, "at least one port is required");
	if (n > LB_MAX_PORTS)
		return fail(x, s, NULL, "%d ports, at most %d", n, LB_MAX_PORTS);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int rc = check_elem(x, e, T_GROUP);

		if (rc < 0)
			return rc;
		memset(&c->ports[i], 0, sizeof(c->ports[i]));
		tab_defaults(port_cmds, &c->ports[i]);
		rc = walk(x, e, port_cmds, &c->ports[i]);
		if (rc < 0)
			return rc;
		c->n_ports = (uint32_t)i + 1;
	}
	return check_ports(x, s);
}

/* ---------------------------------------------------------------- routes, neighbours */

/* True when a lies in the connected subnet of some port. */
static bool
connected(const struct lb_dp_conf *c, const struct lb_addr *a)
{
	for (uint32_t i = 0; i < c->n_ports; i++)
		for (uint32_t j = 0; j < c->ports[i].n_addrs; j++) {
			struct lb_prefix p;

			p.addr = c->ports[i].addrs[j].addr;
			p.len = c->ports[i].addrs[j].len;
			lb_addr_mask(&p.addr, p.len);
			if (lb_prefix_contains(&p, a))
				return true;
		}
	return false;
}

/*
 * A route or neighbour names its port, or its address (via / address) lies in a
 * port's connected subnet so the dp can find the port itself.
 */
static int
check_port_ref(struct pctx *x, const config_setting_t *el, const char *port,
	       const struct lb_addr *a, const char *addr_member)
{
	char buf[LB_ADDR_STRLEN];

	if (port[0] != '\0') {
		if (lb_dp_conf_port_index(x->c, port) < 0)
			return fail(x, config_setting_get_member(el, "port"), NULL,
				    "no port named '%s'", port);
		return 0;
	}
	if (a->family == 0)
		return fail(x, el, "port", "required when %s is not set", addr_member);
	if (!connected(x->c, a))
		return fail(x, config_setting_get_member(el, addr_member), NULL,
			    "%s is in no port's connected subnet; set port",
			    lb_addr_format(a, buf, sizeof(buf)));
	return 0;
}

static const struct cmd route_cmds[] = {
	{ "prefix", T_STR, set_cidr, ROUTE(prefix), 0, 0, 0, F_REQ, NULL },
	{ "via", T_STR, set_addr, ROUTE(via), 0, 0, 0, 0, NULL },
	{ "port", T_STR, set_str, ROUTE(port), 1, 0, 0, 0, NULL },
	END_CMDS,
};

static int
set_routes(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_dp_conf *c = base;
	int n = config_setting_length(s);

	(void)cmd;
	if (n == 0)
		return 0;
	c->routes = calloc((size_t)n, sizeof(*c->routes));
	if (c->routes == NULL)
		return fail_nomem(x, s);
	c->n_routes = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct lb_route_conf *r = &c->routes[i];
		char buf[PREFIX_STRLEN];
		int rc = check_elem(x, e, T_GROUP);

		if (rc == 0)
			rc = walk(x, e, route_cmds, r);
		if (rc < 0)
			return rc;
		if (r->via.family != 0 && r->via.family != r->prefix.addr.family)
			return fail(x, config_setting_get_member(e, "via"), NULL,
				    "%s is IPv%u but the prefix is IPv%u",
				    lb_addr_format(&r->via, buf, sizeof(buf)), r->via.family,
				    r->prefix.addr.family);
		rc = check_port_ref(x, e, r->port, &r->via, "via");
		if (rc < 0)
			return rc;
		for (int j = 0; j < i; j++)
			if (lb_addr_eq(&c->routes[j].prefix.addr, &r->prefix.addr) &&
			    c->routes[j].prefix.len == r->prefix.len)
				return fail(x, config_setting_get_member(e, "prefix"), NULL,
					    "%s is already routed by routes.[%d]",
					    lb_prefix_format(&r->prefix, buf, sizeof(buf)), j);
	}
	return 0;
}

static const struct cmd neigh_cmds[] = {
	{ "address", T_STR, set_addr, NEIGH(addr), 0, 0, 0, F_REQ, NULL },
	{ "mac", T_STR, set_mac, NEIGH(mac), 0, 0, 0, F_REQ, NULL },
	{ "port", T_STR, set_str, NEIGH(port), 1, 0, 0, 0, NULL },
	END_CMDS,
};

static int
set_neighs(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_dp_conf *c = base;
	int n = config_setting_length(s);

	(void)cmd;
	if (n == 0)
		return 0;
	c->neighs = calloc((size_t)n, sizeof(*c->neighs));
	if (c->neighs == NULL)
		return fail_nomem(x, s);
	c->n_neighs = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct lb_neigh_conf *nb = &c->neighs[i];
		int rc = check_elem(x, e, T_GROUP);

		if (rc == 0)
			rc = walk(x, e, neigh_cmds, nb);
		if (rc == 0)
			rc = check_port_ref(x, e, nb->port, &nb->addr, "address");
		if (rc < 0)
			return rc;
		for (int j = 0; j < i; j++)
			if (lb_addr_eq(&c->neighs[j].addr, &nb->addr) &&
			    strcmp(c->neighs[j].port, nb->port) == 0)
				return fail(x, config_setting_get_member(e, "address"), NULL,
					    "already given by neighbours.[%d]", j);
	}
	return 0;
}

/* ---------------------------------------------------------------- services */

static int
set_maglev(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	long long v = config_setting_get_int64(s);

	if (v < cmd->min || v > cmd->max || !lb_maglev_m_valid((uint32_t)v))
		return fail(x, s, NULL, "%lld is not a prime in %lld..%lld (e.g. 251, 4099, 65537)",
			    v, cmd->min, cmd->max);
	store_num((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

static int
set_ranges(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_svc_spec *sp = base;
	int n = config_setting_length(s);

	if (n > cmd->max)
		return fail(x, s, NULL, "%d source ranges, at most %lld", n, cmd->max);
	if (n == 0)
		return 0;
	sp->source_ranges = calloc((size_t)n, sizeof(*sp->source_ranges));
	if (sp->source_ranges == NULL)
		return fail_nomem(x, s);
	sp->n_source_ranges = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int rc = check_elem(x, e, T_STR);

		if (rc == 0)
			rc = parse_cidr(x, e, &sp->source_ranges[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct name_val state_names[] = {
	{ "active", LB_BACKEND_ACTIVE },
	{ "draining", LB_BACKEND_DRAINING },
	{ "down", LB_BACKEND_DOWN },
	{ NULL, 0 },
};

static const struct cmd backend_cmds[] = {
	{ "address", T_STR, set_addr, BACKEND(addr), 0, 0, 0, F_REQ, NULL },
	{ "port", T_INT, set_uint, BACKEND(port), 1, 65535, 0, F_REQ, NULL },
	{ "weight", T_INT, set_uint, BACKEND(weight), 0, LB_WEIGHT_MAX, 1, F_DEF, NULL },
	{ "state", T_STR, set_enum, BACKEND(state), 0, 0, LB_BACKEND_ACTIVE, F_DEF, state_names },
	END_CMDS,
};

static int
set_backends(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_svc_spec *sp = base;
	int n = config_setting_length(s);

	if (n > cmd->max)
		return fail(x, s, NULL, "%d backends, at most %lld", n, cmd->max);
	if (n == 0)
		return 0; /* a service without backends is valid: it drops and counts */
	sp->backends = calloc((size_t)n, sizeof(*sp->backends));
	if (sp->backends == NULL)
		return fail_nomem(x, s);
	sp->n_backends = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int rc = check_elem(x, e, T_GROUP);

		if (rc < 0)
			return rc;
		tab_defaults(backend_cmds, &sp->backends[i]);
		rc = walk(x, e, backend_cmds, &sp->backends[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct name_val proto_names[] = {
	{ "tcp", LB_PROTO_TCP },
	{ "udp", LB_PROTO_UDP },
	{ NULL, 0 },
};

static const struct name_val mode_names[] = {
	{ "fnat", LB_MODE_FNAT },
	{ "dnat", LB_MODE_DNAT },
	{ NULL, 0 },
};

static const struct name_val affinity_names[] = {
	{ "None", LB_AFFINITY_NONE },
	{ "ClientIP", LB_AFFINITY_CLIENTIP },
	{ NULL, 0 },
};

/* The defaults here match lb_svc_spec_init(); protocol defaults to tcp as in Kubernetes. */
static const struct cmd svc_affinity_cmds[] = {
	{ "type", T_STR, set_enum, SVC(affinity), 0, 0, LB_AFFINITY_NONE, F_DEF, affinity_names },
	{ "timeout_seconds", T_INT, set_uint, SVC(affinity_timeout), 1, LB_AFFINITY_TIMEOUT_MAX,
	  LB_AFFINITY_TIMEOUT_DEFAULT, F_DEF, NULL },
	END_CMDS,
};

static const struct cmd svc_cmds[] = {
	{ "name", T_STR, set_str, SVC(name), 1, 0, 0, F_REQ, NULL },
	{ "vip", T_STR, set_addr, SVC(vip), 0, 0, 0, F_REQ, NULL },
	{ "port", T_INT, set_uint, SVC(port), 1, 65535, 0, F_REQ, NULL },
	{ "protocol", T_STR, set_enum, SVC(proto), 0, 0, LB_PROTO_TCP, F_DEF, proto_names },
	{ "mode", T_STR, set_enum, SVC(mode), 0, 0, LB_MODE_FNAT, F_DEF, mode_names },
	{ "maglev_size", T_INT, set_maglev, SVC(maglev_m), 3, LB_MAGLEV_M_MAX, LB_MAGLEV_M_DEFAULT,
	  F_DEF, NULL },
	{ "session_affinity", T_GROUP, set_group, NOFIELD, 0, 0, 0, 0, svc_affinity_cmds },
	{ "source_ranges", T_SEQ, set_ranges, NOFIELD, 0, LB_MAX_SOURCE_RANGES, 0, 0, NULL },
	{ "backends", T_SEQ, set_backends, NOFIELD, 0, LB_MAX_BACKENDS_PER_SVC, 0, 0, NULL },
	END_CMDS,
};

static int svc_check(const struct lb_svc_spec *s, char *msg, size_t len, char *where,
		     size_t wlen);

/* The deepest existing setting along rel ("backends.[2].address") below s. */
static const config_setting_t *
resolve(const config_setting_t *s, const char *rel)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (char *tok = strtok_r(buf, ".", &save); tok != NULL; tok = strtok_r(NULL, ".", &save)) {
		const config_setting_t *next = NULL;

		if (tok[0] == '[' && config_setting_is_aggregate(s))
			next = config_setting_get_elem(s, (unsigned)strtoul(tok + 1, NULL, 10));
		else if (tok[0] != '[' && config_setting_is_group(s))
			next = config_setting_get_member(s, tok);
		if (next == NULL)
			break;
		s = next;
	}
	return s;
}

static int
svc_key_cmp(const struct lb_svc_spec *a, const struct lb_svc_spec *b)
{
	int r = lb_addr_cmp(&a->vip, &b->vip);

	if (r != 0)
		return r;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->proto == b->proto ? 0 : a->proto < b->proto ? -1 : 1;
}

/* Ties are ordered by position, so of two equal entries the later one is reported. */
static int
by_name(const void *pa, const void *pb)
{
	const struct lb_svc_spec *a = *(const struct lb_svc_spec *const *)pa;
	const struct lb_svc_spec *b = *(const struct lb_svc_spec *const *)pb;
	int r = strcmp(a->name, b->name);

	return r != 0 ? r : (a > b) - (a < b);
}

static int
by_key(const void *pa, const void *pb)
{
	const struct lb_svc_spec *a = *(const struct lb_svc_spec *const *)pa;
	const struct lb_svc_spec *b = *(const struct lb_svc_spec *const *)pb;
	int r = svc_key_cmp(a, b);

	return r != 0 ? r : (a > b) - (a < b);
}

/* Service names and (vip, port, protocol) keys are unique: sort, compare neighbours. */
static int
check_services_unique(struct pctx *x, const config_setting_t *list)
{
	const struct lb_dp_conf *c = x->c;
	const struct lb_svc_spec **v;
	int rc = 0;

	if (c->n_services < 2)
		return 0;
	v = malloc(c->n_services * sizeof(*v));
	if (v == NULL)
		return fail_nomem(x, list);
	for (uint32_t i = 0; i < c->n_services; i++)
		v[i] = &c->services[i];
	qsort(v, c->n_services, sizeof(*v), by_name);
	for (uint32_t i = 1; i < c->n_services && rc == 0; i++)
		if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
			const config_setting_t *e = config_setting_get_elem(list,
				(unsigned)(v[i] - c->services));
			rc = fail(x, config_setting_get_member(e, "name"), NULL,
				  "service name '%s' is already used by services.[%td]", v[i]->name,
				  v[i - 1] - c->services);
		}
	if (rc == 0) {
		qsort(v, c->n_services, sizeof(*v), by_key);
		for (uint32_t i = 1; i < c->n_services && rc == 0; i++)
			if (svc_key_cmp(v[i - 1], v[i]) == 0) {
				char buf[LB_ADDR_STRLEN];
				const config_setting_t *e = config_setting_get_elem(list,
					(unsigned)(v[i] - c->services));
				rc = fail(x, e, NULL,
					  "%s port %u %s is already served by services.[%td] '%s'",
					  lb_addr_format(&v[i]->vip, buf, sizeof(buf)), v[i]->port,
					  lb_proto_name(v[i]->proto), v[i - 1] - c->services,
					  v[i - 1]->name);
			}
	}
	free(v);
	return rc;
}

static int
set_services(struct pctx *x, const config_setting_t *s, const struct cmd *cmd, void *base)
{
	struct lb_dp_conf *c = base;
	int n = config_setting_length(s);
	uint64_t total_backends = 0;

	(void)cmd;
	if ((uint32_t)n > c->max_services)
		return fail(x, s, NULL, "%d services, more than dp.max_services (%u)", n,
			    c->max_services);
	if (n == 0)
		return 0;
	c->services = calloc((size_t)n, sizeof(*c->services));
	if (c->services == NULL)
		return fail_nomem(x, s);
	c->n_services = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct lb_svc_spec *sp = &c->services[i];
		char msg[256], where[128];
		int rc = check_elem(x, e, T_GROUP);

		if (rc < 0)
			return rc;
		lb_svc_spec_init(sp);
		tab_defaults(svc_cmds, sp);
		rc = walk(x, e, svc_cmds, sp);
		if (rc < 0)
			return rc;
		/* Cross-field rules (backend family, duplicates) live in one place, shared
		 * with the control socket; map the field it names back to its setting. */
		rc = svc_check(sp, msg, sizeof(msg), where, sizeof(where));
		if (rc == LB_ENOMEM)
			return fail_nomem(x, e);
		if (rc < 0) {
			char path[256];
			size_t len = path_of(e, path, sizeof(path));

			snprintf(path + len, sizeof(path) - len, ".%s", where);
			return fail_path(x, path, resolve(e, where), "%s", msg);
		}
		total_backends += sp->n_backends;
		if (total_backends > c->max_backends)
			return fail(x, config_setting_get_member(e, "backends"), NULL,
				    "more than dp.max_backends (%u) backends over all services",
				    c->max_backends);
	}
	return check_services_unique(x, s);
}

static const struct cmd root_cmds[] = {
	{ "dp", T_GROUP, set_group, NOFIELD, 0, 0, 0, 0, dp_cmds },
	{ "conntrack", T_GROUP, set_group, NOFIELD, 0, 0, 0, 0, conntrack_cmds },
	{ "affinity", T_GROUP, set_group, NOFIELD, 0, 0, 0, 0, affinity_cmds },
	{ "ports", T_SEQ, set_ports, NOFIELD, 0, 0, 0, F_REQ, NULL },
	{ "routes", T_SEQ, set_routes, NOFIELD, 0, 0, 0, 0, NULL },
	{ "neighbours", T_SEQ, set_neighs, NOFIELD, 0, 0, 0, 0, NULL },
	{ "services", T_SEQ, set_services, NOFIELD, 0, 0, 0, 0, NULL },
	END_CMDS,
};

/* ---------------------------------------------------------------- public API */

void
lb_dp_conf_defaults(struct lb_dp_conf *c)
{
	memset(c, 0, sizeof(*c));
	tab_defaults(root_cmds, c);
	/* the rows without a single numeric field */
	c->n_workers = 0; /* every EAL lcore but the main one */
	c->snat_port_lo = DEFAULT_SNAT_LO;
	c->snat_port_hi = DEFAULT_SNAT_HI;
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", DEFAULT_CONTROL_SOCKET);
}

void
lb_dp_conf_free(struct lb_dp_conf *c)
{
	if (c == NULL)
		return;
	free(c->routes);
	c->routes = NULL;
	c->n_routes = 0;
	free(c->neighs);
	c->neighs = NULL;
	c->n_neighs = 0;
	for (uint32_t i = 0; i < c->n_services; i++)
		lb_svc_spec_free(&c->services[i]);
	free(c->services);
	c->services = NULL;
	c->n_services = 0;
}

int
lb_dp_conf_port_index(const struct lb_dp_conf *c, const char *name)
{
	if (c == NULL || name == NULL)
		return -1;
	for (uint32_t i = 0; i < c->n_ports; i++)
		if (strcmp(c->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Walk a libconfig tree that read successfully; on failure free what was built. */
static int
build(struct pctx *x, config_t *cfg)
{
	int rc = walk(x, config_root_setting(cfg), root_cmds, x->c);

	if (rc < 0)
		lb_dp_conf_free(x->c);
	else if (x->err != NULL && x->errlen > 0)
		x->err[0] = '\0';
	return rc;
}

/*
 * libconfig could not read the text. The message leaves out the main file's name:
 * the caller prints it ("edgelb-dp: FILE: syntax error (line 7)"); an @include'd
 * file is named.
 */
static int
read_error(struct pctx *x, config_t *cfg)
{
	const char *file = config_error_file(cfg);
	const char *text = config_error_text(cfg) ? config_error_text(cfg) : "cannot parse";

	if (x->err == NULL || x->errlen == 0)
		return LB_EINVAL;
	if (file != NULL && (x->file == NULL || strcmp(file, x->file) != 0))
		snprintf(x->err, x->errlen, "%s: %s (line %d)", file, text, config_error_line(cfg));
	else
		snprintf(x->err, x->errlen, "%s (line %d)", text, config_error_line(cfg));
	return LB_EINVAL;
}

static int
bad_args(char *err, size_t errlen, const char *what)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", what);
	return LB_EINVAL;
}

int
lb_dp_conf_parse(const char *text, struct lb_dp_conf *c, char *err, size_t errlen)
{
	struct pctx x = { err, errlen, NULL, c };
	config_t cfg;
	int rc;

	if (c == NULL || text == NULL)
		return bad_args(err, errlen, "lb_dp_conf_parse: NULL argument");
	lb_dp_conf_defaults(c);
	config_init(&cfg);
	if (config_read_string(&cfg, text) != CONFIG_TRUE)
		rc = read_error(&x, &cfg);
	else
		rc = build(&x, &cfg);
	config_destroy(&cfg);
	return rc;
}

int
lb_dp_conf_load(const char *path, struct lb_dp_conf *c, char *err, size_t errlen)
{
	struct pctx x = { err, errlen, path, c };
	char dir[4096];
	const char *slash;
	config_t cfg;
	FILE *f;
	int rc;

	if (c == NULL || path == NULL)
		return bad_args(err, errlen, "lb_dp_conf_load: NULL argument");
	lb_dp_conf_defaults(c);
	/* libconfig only says "file I/O error"; open it first to report errno */
	f = fopen(path, "r");
	if (f == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return LB_EINVAL;
	}
	fclose(f);
	config_init(&cfg);
	/* @include "x.conf" resolves next to the main file */
	slash = strrchr(path, '/');
	if (slash != NULL && (size_t)(slash - path) < sizeof(dir)) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);

		memcpy(dir, path, n);
		dir[n] = '\0';
		config_set_include_dir(&cfg, dir);
	}
	if (config_read_file(&cfg, path) != CONFIG_TRUE)
		rc = read_error(&x, &cfg);
	else
		rc = build(&x, &cfg);
	config_destroy(&cfg);
	return rc;
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

/* Check a spec; on failure where names the field ("backends.[2].address"). */
static int
svc_check(const struct lb_svc_spec *s, char *msg, size_t len, char *where, size_t wlen)
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
	if (s->mode != LB_MODE_FNAT && s->mode != LB_MODE_DNAT)
		BAD("mode", "%u is neither fnat nor dnat", s->mode);
	if (!lb_maglev_m_valid(s->maglev_m))
		BAD("maglev_size", "%u is not a prime in 3..%u", s->maglev_m, LB_MAGLEV_M_MAX);
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

	if (s == NULL)
		return bad_args(err, errlen, "service: NULL");
	rc = svc_check(s, msg, sizeof(msg), where, sizeof(where));
	if (rc < 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", where, msg);
	return rc;
}
