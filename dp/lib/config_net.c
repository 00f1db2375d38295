/*
 * config_net.c - the ports, routes and neighbours rows of edgelb-dp's configuration.
 *
 * Part of the dp's config parser (dp/lib/config.c has the overview and the root
 * table); pure code, called on the main lcore before EAL resources are used.
 */
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "lb_conf_engine.h"

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
const struct lb_conf_list lb_dp_conf_ports_list = {
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
const struct lb_conf_list lb_dp_conf_routes_list = {
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
const struct lb_conf_list lb_dp_conf_neighs_list = {
	&neigh_elem, sizeof(struct lb_neigh_conf), offsetof(struct lb_dp_conf, neighs), false,
	offsetof(struct lb_dp_conf, n_neighs), "neighbours", NULL, check_neigh, NULL,
};
