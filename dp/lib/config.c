/*
 * config.c - edgelb-dp's configuration file: libconfig text -> struct lb_dp_conf.
 *
 * dp/main.c calls lb_dp_conf_load() once, on the main lcore, before EAL resources
 * are used; unit tests call lb_dp_conf_parse() without EAL. Nothing here runs on a
 * worker lcore and nothing here keeps state between calls.
 *
 * This file is the dp's tables of rows; the engine that walks them is shared with
 * edgelb-cp (include/lb_conf_engine.h, dp/lib/conf_engine.c), and the service
 * model's names and rules come from the dp<->cp contract (include/lb_model.h,
 * dp/lib/model.c), so a service reads the same here as on the control socket.
 * Table order, not file order, is what makes cross-references work: ports are
 * parsed before the routes and neighbours that name them, dp.max_* before the
 * services counted against them. The same rows carry the defaults that
 * lb_dp_conf_defaults() writes, so a default lives in exactly one place. The
 * lists of groups (ports, routes, neighbours, backends) and of scalars (workers,
 * addresses, source ranges) are list rows (struct lb_conf_list).
 *
 * Every error names the setting by its libconfig path and gives its line:
 *   "ports.[1].addresses.[0]: '198.18.0.1/33' is not an address/prefix (line 12)"
 * A failed parse frees whatever it had allocated before returning.
 *
 * The rows are split by group: this file has the dp, conntrack, affinity and
 * neighbour_cache groups
 * and the root table; config_net.c the ports, routes and neighbours; config_svc.c
 * the services; config_sync.c the flow sync group. config_priv.h is what they share.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "lb_conf_engine.h"

/* Same seed on every box unless the operator sets one: Maglev tables then agree. */
#define DEFAULT_HASH_SEED LB_HASH_SEED_BUILTIN
#define DEFAULT_CONTROL_SOCKET "/run/edgelb/dp.sock"
#define DEFAULT_SNAT_LO 1024
#define DEFAULT_SNAT_HI 65535
/* lcore ids are checked against the running EAL by dp/main.c; this only bounds typos. */
#define LCORE_ID_MAX 1023
#define MBUFS_MAX 67108864


/* ---------------------------------------------------------------- dp group */

/* One worker lcore id; the list row (dp.workers) bounds the count. */
static int
set_lcore(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	  void *base)
{
	long long v = config_setting_get_int64(s);

	if (v < cmd->min || v > cmd->max)
		return lb_conf_fail(x, s, NULL, "lcore %lld is out of range %lld..%lld", v,
				    cmd->min, cmd->max);
	lb_conf_store((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

static int
lcore_unique(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	const struct lb_dp_conf *c = base;
	uint32_t v = *(const uint32_t *)elem;

	for (int j = 0; j < i; j++)
		if (c->worker_lcores[j] == v)
			return lb_conf_fail(x, e, NULL, "lcore %u is listed twice", v);
	return 0;
}

static const struct lb_conf_cmd lcore_elem = {
	NULL, LB_CONF_INT, set_lcore, 0, sizeof(uint32_t), 0, LCORE_ID_MAX, 0, 0, NULL,
};

/* 0 workers ("[]") keeps the default: every lcore but main. */
static const struct lb_conf_list workers_list = {
	&lcore_elem, sizeof(uint32_t), offsetof(struct lb_dp_conf, worker_lcores), true,
	offsetof(struct lb_dp_conf, n_workers), "workers", NULL, lcore_unique, NULL,
};

static int
set_seed(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	 void *base)
{
	uint64_t v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);
		bool hex = str[0] == '0' && (str[1] == 'x' || str[1] == 'X');
		const char *digits = hex ? str + 2 : str;
		/* strtoull() also takes leading blanks and a sign: a digit must come first */
		unsigned char d0 = (unsigned char)digits[0];
		bool digit = hex ? isxdigit(d0) : isdigit(d0);
		char *end;

		errno = 0;
		v = strtoull(digits, &end, hex ? 16 : 10);
		if (!digit || *end != '\0' || errno == ERANGE)
			return lb_conf_fail(x, s, NULL,
					    "'%s' is not a 64-bit number (\"0x...\" or decimal)",
					    str);
	} else {
		long long ll = config_setting_get_int64(s);

		if (config_setting_type(s) == CONFIG_TYPE_INT &&
		    config_setting_get_format(s) == CONFIG_FORMAT_HEX)
			/* libconfig reads 0xdeadbeef (no L) as a negative int: keep the 32 bits written */
			v = (uint32_t)ll;
		else if (ll < 0 && config_setting_get_format(s) != CONFIG_FORMAT_HEX)
			return lb_conf_fail(x, s, NULL,
					    "%lld is negative; write the seed in hex (0x...L)", ll);
		else
			v = (uint64_t)ll; /* 0x...L: the 64 bits as written */
	}
	lb_conf_store((char *)base + cmd->off, cmd->size, v);
	return 0;
}

static int
set_sockmode(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	     void *base)
{
	long long v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);
		size_t len = strlen(str);

		v = 0;
		if (len == 0 || len > 4)
			return lb_conf_fail(x, s, NULL,
					    "'%s' is not an octal mode such as \"0600\"", str);
		for (size_t i = 0; i < len; i++) {
			if (str[i] < '0' || str[i] > '7')
				return lb_conf_fail(x, s, NULL,
						    "'%s' is not an octal mode such as \"0600\"",
						    str);
			v = v * 8 + (str[i] - '0');
		}
		if (v > cmd->max)
			return lb_conf_fail(x, s, NULL, "'%s' is out of range \"0000\"..\"0777\"",
					    str);
	} else {
		v = config_setting_get_int64(s);
		if (v < cmd->min || v > cmd->max)
			return lb_conf_fail(x, s, NULL,
					    "%lld is out of range 0..511 (libconfig integers are decimal: "
					    "write the mode as an octal string such as \"0600\")", v);
	}
	lb_conf_store((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

static int
set_snat(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	 void *base)
{
	struct lb_dp_conf *c = base;
	long long v[2];

	if (config_setting_length(s) != 2)
		return lb_conf_fail(x, s, NULL, "expected [lo, hi], got %d values",
				    config_setting_length(s));
	for (unsigned i = 0; i < 2; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);
		int rc = lb_conf_check_elem(x, e, LB_CONF_INT);

		if (rc < 0)
			return rc;
		v[i] = config_setting_get_int64(e);
		if (v[i] < cmd->min || v[i] > cmd->max)
			return lb_conf_fail(x, e, NULL, "%lld is out of range %lld..%lld", v[i],
					    cmd->min, cmd->max);
	}
	if (v[0] >= v[1])
		return lb_conf_fail(x, s, NULL, "lo %lld must be below hi %lld", v[0], v[1]);
	c->snat_port_lo = (uint16_t)v[0];
	c->snat_port_hi = (uint16_t)v[1];
	return 0;
}

static const struct lb_name steering_names[] = {
	{ "auto", LB_STEER_AUTO },
	{ "rte_flow", LB_STEER_RTE_FLOW },
	{ "ring", LB_STEER_RING },
	{ NULL, 0 },
};

static const struct lb_conf_cmd exc_source_elem = {
	NULL, LB_CONF_STR, lb_conf_set_cidr, 0, sizeof(struct lb_prefix), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list exc_sources_list = {
	&exc_source_elem, sizeof(struct lb_prefix), offsetof(struct lb_dp_conf, exc_sources), true,
	offsetof(struct lb_dp_conf, n_exc_sources), "exception priority sources", NULL, NULL, NULL,
};

static const struct lb_conf_cmd dp_cmds[] = {
	/* name, type, setter, field, min, max, default, flags, arg */
	{ "workers", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_WORKERS, 0, 0,
	  &workers_list },
	{ "burst", LB_CONF_INT, lb_conf_set_uint, CONF(burst), 1, 64, 32, LB_CONF_DEF, NULL },
	{ "idle_sleep_us", LB_CONF_INT, lb_conf_set_uint, CONF(idle_sleep_us), 0, 100000, 0,
	  LB_CONF_DEF, NULL },
	{ "mbufs", LB_CONF_INT, lb_conf_set_uint, CONF(mbufs), 0, MBUFS_MAX, 0, LB_CONF_DEF, NULL },
	{ "hash_seed", LB_CONF_INT | LB_CONF_STR, set_seed, CONF(hash_seed), 0, 0,
	  DEFAULT_HASH_SEED, LB_CONF_DEF, NULL },
	{ "max_services", LB_CONF_INT, lb_conf_set_uint, CONF(max_services), 1, 1048576, 16384,
	  LB_CONF_DEF, NULL },
	{ "max_backends", LB_CONF_INT, lb_conf_set_uint, CONF(max_backends), 1, 16777216, 65536,
	  LB_CONF_DEF, NULL },
	{ "steering", LB_CONF_STR, lb_conf_set_enum, CONF(steering), 0, 0, LB_STEER_AUTO,
	  LB_CONF_DEF, steering_names },
	{ "snat_ports", LB_CONF_SEQ, set_snat, LB_CONF_NOFIELD, 1, 65535, 0, 0, NULL },
	{ "snat_reuse_delay_s", LB_CONF_INT, lb_conf_set_uint, CONF(snat_reuse_delay_s), 0, 3600,
	  60, LB_CONF_DEF, NULL },
	{ "snat_pairs", LB_CONF_INT, lb_conf_set_uint, CONF(snat_pairs), 1, 1048576, 2048,
	  LB_CONF_DEF, NULL },
	{ "control_socket", LB_CONF_STR, lb_conf_set_str, CONF(control_socket), 0, 0, 0, 0, NULL },
	{ "control_socket_mode", LB_CONF_INT | LB_CONF_STR, set_sockmode, CONF(control_socket_mode),
	  0, 0777, 0600, LB_CONF_DEF, NULL },
	{ "state", LB_CONF_STR, lb_conf_set_str, CONF(state), 0, 0, 0, 0, NULL },
	{ "gue_port", LB_CONF_INT, lb_conf_set_uint, CONF(gue_port), 1, 65535, 6080, LB_CONF_DEF,
	  NULL },
	{ "maglev_cache_kb", LB_CONF_INT, lb_conf_set_uint, CONF(maglev_cache_kb), 0, 1048576, 2048,
	  LB_CONF_DEF, NULL },
	{ "builder_nice", LB_CONF_INT, lb_conf_set_uint, CONF(builder_nice), 0, 19, 10, LB_CONF_DEF,
	  NULL },
	/* the exception path's rate limit (docs/configuration.md, dp/lib/exc_limit.h) */
	{ "exception_rate_pps", LB_CONF_INT, lb_conf_set_uint, CONF(exc_rate_pps), 0, 100000000,
	  10000, LB_CONF_DEF, NULL },
	{ "exception_burst", LB_CONF_INT, lb_conf_set_uint, CONF(exc_burst), 1, 1000000, 1000,
	  LB_CONF_DEF, NULL },
	{ "exception_priority_rate_pps", LB_CONF_INT, lb_conf_set_uint, CONF(exc_prio_rate_pps), 0,
	  100000000, 50000, LB_CONF_DEF, NULL },
	{ "exception_priority_burst", LB_CONF_INT, lb_conf_set_uint, CONF(exc_prio_burst), 1,
	  1000000, 5000, LB_CONF_DEF, NULL },
	{ "exception_priority_sources", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0,
	  LB_EXC_MAX_SOURCES, 0, 0, &exc_sources_list },
	LB_CONF_END,
};

static const struct lb_conf_cmd timeout_cmds[] = {
	{ "tcp_syn", LB_CONF_INT, lb_conf_set_uint, CONF(ct_timeout_s[LB_CT_TCP_SYN]), 1, 86400, 30,
	  LB_CONF_DEF, NULL },
	{ "tcp_established", LB_CONF_INT, lb_conf_set_uint,
	  CONF(ct_timeout_s[LB_CT_TCP_ESTABLISHED]), 1, 86400, 900, LB_CONF_DEF, NULL },
	{ "tcp_closing", LB_CONF_INT, lb_conf_set_uint, CONF(ct_timeout_s[LB_CT_TCP_CLOSING]), 1,
	  86400, 30, LB_CONF_DEF, NULL },
	{ "tcp_closed", LB_CONF_INT, lb_conf_set_uint, CONF(ct_timeout_s[LB_CT_TCP_CLOSED]), 1,
	  86400, 10, LB_CONF_DEF, NULL },
	{ "udp", LB_CONF_INT, lb_conf_set_uint, CONF(ct_timeout_s[LB_CT_UDP]), 1, 86400, 30,
	  LB_CONF_DEF, NULL },
	{ "udp_stream", LB_CONF_INT, lb_conf_set_uint, CONF(ct_timeout_s[LB_CT_UDP_STREAM]), 1,
	  86400, 120, LB_CONF_DEF, NULL },
	{ "tcp_unconfirmed", LB_CONF_INT, lb_conf_set_uint,
	  CONF(ct_timeout_s[LB_CT_TCP_UNCONFIRMED]), 1, 86400, 10, LB_CONF_DEF, NULL },
	LB_CONF_END,
};

static const struct lb_conf_cmd conntrack_cmds[] = {
	{ "capacity", LB_CONF_INT, lb_conf_set_uint, CONF(ct_capacity), 1, 67108864, 262144,
	  LB_CONF_DEF, NULL },
	{ "timeouts", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0, timeout_cmds },
	{ "rst_window", LB_CONF_INT, lb_conf_set_uint, CONF(ct_rst_window), 0, 1073741824, 65536,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

static const struct lb_conf_cmd affinity_cmds[] = {
	{ "capacity", LB_CONF_INT, lb_conf_set_uint, CONF(affinity_capacity), 1, 16777216, 65536,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

/* neighbour_cache: resolution and aging of ARP/NDP entries (dp/control/resolve.c) */
static const struct lb_conf_cmd neigh_cache_cmds[] = {
	{ "reachable_ms", LB_CONF_INT, lb_conf_set_uint, CONF(neigh.reachable_ms), 1000, 3600000,
	  30000, LB_CONF_DEF, NULL },
	{ "stale_ms", LB_CONF_INT, lb_conf_set_uint, CONF(neigh.stale_ms), 1000, 86400000, 60000,
	  LB_CONF_DEF, NULL },
	{ "retrans_ms", LB_CONF_INT, lb_conf_set_uint, CONF(neigh.retrans_ms), 100, 60000, 1000,
	  LB_CONF_DEF, NULL },
	{ "probes", LB_CONF_INT, lb_conf_set_uint, CONF(neigh.probes), 1, 10, 3, LB_CONF_DEF, NULL },
	{ "retry_max_ms", LB_CONF_INT, lb_conf_set_uint, CONF(neigh.retry_max_ms), 1000, 3600000,
	  60000, LB_CONF_DEF, NULL },
	{ "probe_rate", LB_CONF_INT, lb_conf_set_uint, CONF(neigh.probe_rate), 10, 100000, 200,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

static const struct lb_conf_cmd root_cmds[] = {
	{ "dp", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0, dp_cmds },
	{ "conntrack", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0,
	  conntrack_cmds },
	{ "affinity", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0,
	  affinity_cmds },
	{ "neighbour_cache", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0,
	  neigh_cache_cmds },
	{ "ports", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_PORTS, 0, LB_CONF_REQ,
	  &lb_dp_conf_ports_list },
	{ "routes", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, INT32_MAX, 0, 0,
	  &lb_dp_conf_routes_list },
	{ "neighbours", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, INT32_MAX, 0, 0,
	  &lb_dp_conf_neighs_list },
	{ "services", LB_CONF_SEQ, lb_dp_conf_set_services, LB_CONF_NOFIELD, 0, 0, 0, 0, NULL },
	{ "sync", LB_CONF_GROUP, lb_dp_conf_set_sync, LB_CONF_NOFIELD, 0, 0, 0, 0, NULL },
	LB_CONF_END,
};

/* ---------------------------------------------------------------- public API */

void
lb_dp_conf_defaults(struct lb_dp_conf *c)
{
	memset(c, 0, sizeof(*c));
	lb_conf_defaults(root_cmds, c);
	lb_dp_conf_sync_defaults(c); /* its row has its own setter, not a table */
	/* the rows without a single numeric field */
	c->n_workers = 0; /* every EAL lcore but the main one */
	c->snat_port_lo = DEFAULT_SNAT_LO;
	c->snat_port_hi = DEFAULT_SNAT_HI;
	snprintf(c->control_socket, sizeof(c->control_socket), "%s", DEFAULT_CONTROL_SOCKET);
	snprintf(c->state, sizeof(c->state), "auto");
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

/* Read a file (path) or a string (text); on failure free whatever was built. */
static int
load(const char *fn, const char *path, const char *text, struct lb_dp_conf *c, char *err,
     size_t errlen)
{
	struct lb_conf_ctx x = { err, errlen, path, c };
	int rc;

	if (c == NULL || (path == NULL && text == NULL)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: NULL argument", fn);
		return LB_EINVAL;
	}
	lb_dp_conf_defaults(c);
	rc = lb_conf_read(&x, path, text, root_cmds, c);
	if (rc < 0)
		lb_dp_conf_free(c);
	return rc;
}

int
lb_dp_conf_parse(const char *text, struct lb_dp_conf *c, char *err, size_t errlen)
{
	return load("lb_dp_conf_parse", NULL, text, c, err, errlen);
}

int
lb_dp_conf_load(const char *path, struct lb_dp_conf *c, char *err, size_t errlen)
{
	return load("lb_dp_conf_load", path, NULL, c, err, errlen);
}
