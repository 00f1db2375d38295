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
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lb_conf_engine.h"

/* Same seed on every box unless the operator sets one: Maglev tables then agree. */
#define DEFAULT_HASH_SEED LB_HASH_SEED_BUILTIN
#define DEFAULT_CONTROL_SOCKET "/run/edgelb/dp.sock"
#define DEFAULT_SNAT_LO 1024
#define DEFAULT_SNAT_HI 65535
/* lcore ids are checked against the running EAL by dp/main.c; this only bounds typos. */
#define LCORE_ID_MAX 1023
#define MBUFS_MAX 67108864
/* Room for a formatted prefix: LB_ADDR_STRLEN covers it, but not to gcc's eyes. */
#define PREFIX_STRLEN (LB_ADDR_STRLEN + 16)

#define CONF(m) LB_CONF_FIELD(struct lb_dp_conf, m)
#define PORT(m) LB_CONF_FIELD(struct lb_port_conf, m)
#define ROUTE(m) LB_CONF_FIELD(struct lb_route_conf, m)
#define NEIGH(m) LB_CONF_FIELD(struct lb_neigh_conf, m)
#define SVC(m) LB_CONF_FIELD(struct lb_svc_spec, m)
#define BACKEND(m) LB_CONF_FIELD(struct lb_backend_spec, m)

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
	{ "control_socket", LB_CONF_STR, lb_conf_set_str, CONF(control_socket), 0, 0, 0, 0, NULL },
	{ "control_socket_mode", LB_CONF_INT | LB_CONF_STR, set_sockmode, CONF(control_socket_mode),
	  0, 0777, 0600, LB_CONF_DEF, NULL },
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

/* ---------------------------------------------------------------- ports */

/* A port's own address: address/prefix, host bits kept (they name the box). */
static int
set_ifaddr(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	   void *base)
{
	struct lb_ifaddr *ia = (struct lb_ifaddr *)((char *)base + cmd->off);
	const char *v = config_setting_get_string(s);
	struct lb_prefix pfx;

	if (lb_prefix_parse(v, &pfx, &ia->addr, false) < 0)
		return lb_conf_fail(x, s, NULL, "'%s' is not an address/prefix", v);
	ia->len = pfx.len;
	return 0;
}

static int
set_port_mac(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	     void *base)
{
	int rc = lb_conf_set_mac(x, s, cmd, base);

	if (rc == 0)
		((struct lb_port_conf *)base)->mac_set = 1;
	return rc;
}

static const struct lb_name role_names[] = {
	{ "external", LB_ROLE_EXTERNAL },
	{ "internal", LB_ROLE_INTERNAL },
	{ "both", LB_ROLE_BOTH },
	{ NULL, 0 },
};

static const struct lb_conf_cmd ifaddr_elem = {
	NULL, LB_CONF_STR, set_ifaddr, 0, sizeof(struct lb_ifaddr), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list ifaddrs_list = {
	&ifaddr_elem, sizeof(struct lb_ifaddr), offsetof(struct lb_port_conf, addrs), true,
	offsetof(struct lb_port_conf, n_addrs), "addresses", NULL, NULL, NULL,
};

static const struct lb_conf_cmd local_elem = {
	NULL, LB_CONF_STR, lb_conf_set_addr, 0, sizeof(struct lb_addr), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list locals_list = {
	&local_elem, sizeof(struct lb_addr), offsetof(struct lb_port_conf, local), true,
	offsetof(struct lb_port_conf, n_local), "local addresses on one port", NULL, NULL, NULL,
};

static const struct lb_conf_cmd port_cmds[] = {
	{ "name", LB_CONF_STR, lb_conf_set_str, PORT(name), 1, 0, 0, LB_CONF_REQ, NULL },
	{ "device", LB_CONF_STR, lb_conf_set_str, PORT(device), 1, 0, 0, LB_CONF_REQ, NULL },
	{ "role", LB_CONF_STR, lb_conf_set_enum, PORT(role), 0, 0, 0, LB_CONF_REQ, role_names },
	{ "addresses", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_PORT_ADDRS, 0, 0,
	  &ifaddrs_list },
	{ "local_addresses", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_PORT_ADDRS,
	  0, 0, &locals_list },
	{ "mac", LB_CONF_STR, set_port_mac, PORT(mac), 0, 0, 0, 0, NULL },
	{ "mtu", LB_CONF_INT, lb_conf_set_uint, PORT(mtu), 68, 9600, 1500, LB_CONF_DEF, NULL },
	{ "rx_desc", LB_CONF_INT, lb_conf_set_uint, PORT(rx_desc), 64, 16384, 1024,
	  LB_CONF_DEF | LB_CONF_POW2, NULL },
	{ "tx_desc", LB_CONF_INT, lb_conf_set_uint, PORT(tx_desc), 64, 16384, 1024,
	  LB_CONF_DEF | LB_CONF_POW2, NULL },
	{ "exception", LB_CONF_STR, lb_conf_set_str, PORT(exception), 1, 0, 0, 0, NULL },
	LB_CONF_END,
};

static const config_setting_t *
member_elem(const config_setting_t *g, const char *member, int i)
{
	const config_setting_t *s = config_setting_get_member(g, member);

	return s ? config_setting_get_elem(s, (unsigned)i) : NULL;
}

/* Rules across ports: unique names, devices and addresses; the local address budget. */
static int
check_ports(struct lb_conf_ctx *x, const config_setting_t *list, void *base)
{
	const struct lb_dp_conf *c = base;
	uint32_t total = 0;

	for (uint32_t i = 0; i < c->n_ports; i++) {
		const struct lb_port_conf *p = &c->ports[i];
		const config_setting_t *el = config_setting_get_elem(list, i);
		char buf[LB_ADDR_STRLEN];

		for (uint32_t j = 0; j < i; j++) {
			if (strcmp(c->ports[j].name, p->name) == 0)
				return lb_conf_fail(x, config_setting_get_member(el, "name"), NULL,
						    "port name '%s' is already used by ports.[%u]",
						    p->name, j);
			if (strcmp(c->ports[j].device, p->device) == 0)
				return lb_conf_fail(x, config_setting_get_member(el, "device"), NULL,
						    "device '%s' is already used by ports.[%u]",
						    p->device, j);
		}
		for (uint32_t a = 0; a < p->n_addrs; a++) {
			const struct lb_addr *ad = &p->addrs[a].addr;
			const config_setting_t *at = member_elem(el, "addresses", (int)a);

			for (uint32_t j = 0; j <= i; j++)
				for (uint32_t b = 0; b < (j == i ? a : c->ports[j].n_addrs); b++)
					if (lb_addr_eq(&c->ports[j].addrs[b].addr, ad))
						return lb_conf_fail(x, at, NULL,
								    "%s is already an address of ports.[%u]",
								    lb_addr_format(ad, buf, sizeof(buf)), j);
		}
		for (uint32_t a = 0; a < p->n_local; a++) {
			const struct lb_addr *ad = &p->local[a];
			const config_setting_t *at = member_elem(el, "local_addresses", (int)a);

			if (++total > LB_MAX_LOCAL_ADDRS)
				return lb_conf_fail(x, at, NULL,
						    "more than %d local addresses over all ports",
						    LB_MAX_LOCAL_ADDRS);
			for (uint32_t j = 0; j <= i; j++)
				for (uint32_t b = 0; b < (j == i ? a : c->ports[j].n_local); b++)
					if (lb_addr_eq(&c->ports[j].local[b], ad))
						return lb_conf_fail(x, at, NULL,
								    "%s is already a local address of ports.[%u]",
								    lb_addr_format(ad, buf, sizeof(buf)), j);
		}
	}
	return 0;
}

static const struct lb_conf_cmd port_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, port_cmds,
};
static const struct lb_conf_list ports_list = {
	&port_elem, sizeof(struct lb_port_conf), offsetof(struct lb_dp_conf, ports), true,
	offsetof(struct lb_dp_conf, n_ports), "ports", "at least one port is required", NULL,
	check_ports,
};

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
check_port_ref(struct lb_conf_ctx *x, const struct lb_dp_conf *c, const config_setting_t *el,
	       const char *port, const struct lb_addr *a, const char *addr_member)
{
	char buf[LB_ADDR_STRLEN];

	if (port[0] != '\0') {
		if (lb_dp_conf_port_index(c, port) < 0)
			return lb_conf_fail(x, config_setting_get_member(el, "port"), NULL,
					    "no port named '%s'", port);
		return 0;
	}
	if (a->family == 0)
		return lb_conf_fail(x, el, "port", "required when %s is not set", addr_member);
	if (!connected(c, a))
		return lb_conf_fail(x, config_setting_get_member(el, addr_member), NULL,
				    "%s is in no port's connected subnet; set port",
				    lb_addr_format(a, buf, sizeof(buf)));
	return 0;
}

static const struct lb_conf_cmd route_cmds[] = {
	{ "prefix", LB_CONF_STR, lb_conf_set_cidr, ROUTE(prefix), 0, 0, 0, LB_CONF_REQ, NULL },
	{ "via", LB_CONF_STR, lb_conf_set_addr, ROUTE(via), 0, 0, 0, 0, NULL },
	{ "port", LB_CONF_STR, lb_conf_set_str, ROUTE(port), 1, 0, 0, 0, NULL },
	LB_CONF_END,
};

/* One route against the ports and the routes before it. */
static int
check_route(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	const struct lb_dp_conf *c = base;
	const struct lb_route_conf *r = elem;
	char buf[PREFIX_STRLEN];
	int rc;

	if (r->via.family != 0 && r->via.family != r->prefix.addr.family)
		return lb_conf_fail(x, config_setting_get_member(e, "via"), NULL,
				    "%s is IPv%u but the prefix is IPv%u",
				    lb_addr_format(&r->via, buf, sizeof(buf)), r->via.family,
				    r->prefix.addr.family);
	rc = check_port_ref(x, c, e, r->port, &r->via, "via");
	if (rc < 0)
		return rc;
	for (int j = 0; j < i; j++)
		if (lb_addr_eq(&c->routes[j].prefix.addr, &r->prefix.addr) &&
		    c->routes[j].prefix.len == r->prefix.len)
			return lb_conf_fail(x, config_setting_get_member(e, "prefix"), NULL,
					    "%s is already routed by routes.[%d]",
					    lb_prefix_format(&r->prefix, buf, sizeof(buf)), j);
	return 0;
}

static const struct lb_conf_cmd route_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, route_cmds,
};
static const struct lb_conf_list routes_list = {
	&route_elem, sizeof(struct lb_route_conf), offsetof(struct lb_dp_conf, routes), false,
	offsetof(struct lb_dp_conf, n_routes), "routes", NULL, check_route, NULL,
};

static const struct lb_conf_cmd neigh_cmds[] = {
	{ "address", LB_CONF_STR, lb_conf_set_addr, NEIGH(addr), 0, 0, 0, LB_CONF_REQ, NULL },
	{ "mac", LB_CONF_STR, lb_conf_set_mac, NEIGH(mac), 0, 0, 0, LB_CONF_REQ, NULL },
	{ "port", LB_CONF_STR, lb_conf_set_str, NEIGH(port), 1, 0, 0, 0, NULL },
	LB_CONF_END,
};

/* One static neighbour against the ports and the neighbours before it. */
static int
check_neigh(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	const struct lb_dp_conf *c = base;
	const struct lb_neigh_conf *nb = elem;
	int rc = check_port_ref(x, c, e, nb->port, &nb->addr, "address");

	if (rc < 0)
		return rc;
	for (int j = 0; j < i; j++)
		if (lb_addr_eq(&c->neighs[j].addr, &nb->addr) &&
		    strcmp(c->neighs[j].port, nb->port) == 0)
			return lb_conf_fail(x, config_setting_get_member(e, "address"), NULL,
					    "already given by neighbours.[%d]", j);
	return 0;
}

static const struct lb_conf_cmd neigh_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, neigh_cmds,
};
static const struct lb_conf_list neighs_list = {
	&neigh_elem, sizeof(struct lb_neigh_conf), offsetof(struct lb_dp_conf, neighs), false,
	offsetof(struct lb_dp_conf, n_neighs), "neighbours", NULL, check_neigh, NULL,
};

/* ---------------------------------------------------------------- services */

static int
set_maglev(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	   void *base)
{
	long long v = config_setting_get_int64(s);

	if (v < cmd->min || v > cmd->max || !lb_maglev_m_valid((uint32_t)v))
		return lb_conf_fail(x, s, NULL,
				    "%lld is not a prime in %lld..%lld (e.g. 251, 4099, 65537)", v,
				    cmd->min, cmd->max);
	lb_conf_store((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

static const struct lb_conf_cmd range_elem = {
	NULL, LB_CONF_STR, lb_conf_set_cidr, 0, sizeof(struct lb_prefix), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list ranges_list = {
	&range_elem, sizeof(struct lb_prefix), offsetof(struct lb_svc_spec, source_ranges), false,
	offsetof(struct lb_svc_spec, n_source_ranges), "source ranges", NULL, NULL, NULL,
};

static const struct lb_conf_cmd backend_cmds[] = {
	{ "address", LB_CONF_STR, lb_conf_set_addr, BACKEND(addr), 0, 0, 0, LB_CONF_REQ, NULL },
	{ "port", LB_CONF_INT, lb_conf_set_uint, BACKEND(port), 1, 65535, 0, LB_CONF_REQ, NULL },
	{ "weight", LB_CONF_INT, lb_conf_set_uint, BACKEND(weight), 0, LB_WEIGHT_MAX, 1,
	  LB_CONF_DEF, NULL },
	{ "state", LB_CONF_STR, lb_conf_set_enum, BACKEND(state), 0, 0, LB_BACKEND_ACTIVE,
	  LB_CONF_DEF, lb_backend_state_names },
	LB_CONF_END,
};

/* A service without backends is valid: it drops and counts. */
static const struct lb_conf_cmd backend_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, backend_cmds,
};
static const struct lb_conf_list backends_list = {
	&backend_elem, sizeof(struct lb_backend_spec), offsetof(struct lb_svc_spec, backends),
		false,
	offsetof(struct lb_svc_spec, n_backends), "backends", NULL, NULL, NULL,
};

/* The defaults here match lb_svc_spec_init(); protocol defaults to tcp as in Kubernetes. */
static const struct lb_conf_cmd svc_affinity_cmds[] = {
	{ "type", LB_CONF_STR, lb_conf_set_enum, SVC(affinity), 0, 0, LB_AFFINITY_NONE, LB_CONF_DEF,
	  lb_affinity_names },
	{ "timeout_seconds", LB_CONF_INT, lb_conf_set_uint, SVC(affinity_timeout), 1,
	  LB_AFFINITY_TIMEOUT_MAX, LB_AFFINITY_TIMEOUT_DEFAULT, LB_CONF_DEF, NULL },
	LB_CONF_END,
};

static const struct lb_conf_cmd svc_cmds[] = {
	{ "name", LB_CONF_STR, lb_conf_set_str, SVC(name), 1, 0, 0, LB_CONF_REQ, NULL },
	{ "vip", LB_CONF_STR, lb_conf_set_addr, SVC(vip), 0, 0, 0, LB_CONF_REQ, NULL },
	{ "port", LB_CONF_INT, lb_conf_set_uint, SVC(port), 1, 65535, 0, LB_CONF_REQ, NULL },
	{ "protocol", LB_CONF_STR, lb_conf_set_enum, SVC(proto), 0, 0, LB_PROTO_TCP, LB_CONF_DEF,
	  lb_proto_names },
	{ "mode", LB_CONF_STR, lb_conf_set_enum, SVC(mode), 0, 0, LB_MODE_FNAT, LB_CONF_DEF,
	  lb_mode_names },
	{ "maglev_size", LB_CONF_INT, set_maglev, SVC(maglev_m), 3, LB_MAGLEV_M_MAX,
	  LB_MAGLEV_M_DEFAULT, LB_CONF_DEF, NULL },
	{ "scheduler", LB_CONF_STR, lb_conf_set_enum, SVC(sched), 0, 0, LB_SCHED_MAGLEV,
	  LB_CONF_DEF, lb_sched_names },
	{ "session_affinity", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0,
	  svc_affinity_cmds },
	{ "source_ranges", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_SOURCE_RANGES,
	  0, 0, &ranges_list },
	{ "backends", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_BACKENDS_PER_SVC, 0,
	  0, &backends_list },
	LB_CONF_END,
};

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
check_services_unique(struct lb_conf_ctx *x, const config_setting_t *list,
		      const struct lb_dp_conf *c)
{
	const struct lb_svc_spec **v;
	int rc = 0;

	if (c->n_services < 2)
		return 0;
	v = malloc(c->n_services * sizeof(*v));
	if (v == NULL)
		return lb_conf_fail_nomem(x, list);
	for (uint32_t i = 0; i < c->n_services; i++)
		v[i] = &c->services[i];
	qsort(v, c->n_services, sizeof(*v), by_name);
	for (uint32_t i = 1; i < c->n_services && rc == 0; i++)
		if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
			const config_setting_t *e = config_setting_get_elem(list,
				(unsigned)(v[i] - c->services));
			rc = lb_conf_fail(x, config_setting_get_member(e, "name"), NULL,
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
				rc = lb_conf_fail(x, e, NULL,
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
set_services(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	     void *base)
{
	struct lb_dp_conf *c = base;
	int n = config_setting_length(s);
	uint64_t total_backends = 0;

	(void)cmd;
	if ((uint32_t)n > c->max_services)
		return lb_conf_fail(x, s, NULL, "%d services, more than dp.max_services (%u)", n,
				    c->max_services);
	if (n == 0)
		return 0;
	c->services = calloc((size_t)n, sizeof(*c->services));
	if (c->services == NULL)
		return lb_conf_fail_nomem(x, s);
	c->n_services = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct lb_svc_spec *sp = &c->services[i];
		char msg[256], where[128];
		int rc = lb_conf_check_elem(x, e, LB_CONF_GROUP);

		if (rc < 0)
			return rc;
		lb_svc_spec_init(sp);
		lb_conf_defaults(svc_cmds, sp);
		rc = lb_conf_walk(x, e, svc_cmds, sp);
		if (rc < 0)
			return rc;
		/* Cross-field rules (backend family, duplicates) live in one place, shared
		 * with the control socket; map the field it names back to its setting. */
		rc = lb_svc_spec_check(sp, msg, sizeof(msg), where, sizeof(where));
		if (rc == LB_ENOMEM)
			return lb_conf_fail_nomem(x, e);
		if (rc < 0) {
			char path[256];
			size_t len = lb_conf_path(e, path, sizeof(path));

			snprintf(path + len, sizeof(path) - len, ".%s", where);
			return lb_conf_fail_path(x, path, lb_conf_resolve(e, where), "%s", msg);
		}
		total_backends += sp->n_backends;
		if (total_backends > c->max_backends)
			return lb_conf_fail(x, config_setting_get_member(e, "backends"), NULL,
					    "more than dp.max_backends (%u) backends over all services",
					    c->max_backends);
	}
	return check_services_unique(x, s, c);
}

static const struct lb_conf_cmd root_cmds[] = {
	{ "dp", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0, dp_cmds },
	{ "conntrack", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0,
	  conntrack_cmds },
	{ "affinity", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0,
	  affinity_cmds },
	{ "ports", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_MAX_PORTS, 0, LB_CONF_REQ,
	  &ports_list },
	{ "routes", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, INT32_MAX, 0, 0,
	  &routes_list },
	{ "neighbours", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, INT32_MAX, 0, 0,
	  &neighs_list },
	{ "services", LB_CONF_SEQ, set_services, LB_CONF_NOFIELD, 0, 0, 0, 0, NULL },
	LB_CONF_END,
};

/* ---------------------------------------------------------------- public API */

void
lb_dp_conf_defaults(struct lb_dp_conf *c)
{
	memset(c, 0, sizeof(*c));
	lb_conf_defaults(root_cmds, c);
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
