/*
 * cpconf.c - edgelb-cp configuration (see cpconf.h): tables of rows for the
 * shared configuration engine (include/lb_conf_engine.h), the one edgelb-dp's
 * config file uses too, so both files are strict the same way: unknown settings
 * and wrong types are errors that name the setting and its line, names of a fixed
 * set (mode, health_check.type) are matched without regard to case, and a list of
 * groups (pools) is a list row. bgp (cp/bgp/) is a group of rows like health_check.
 *
 * Called by cp/main.c at start and on SIGHUP, on the main thread; keeps no state.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpconf.h"
#include "lb_conf_engine.h"
#include "lb_error.h"

#define CONF(m) LB_CONF_FIELD(struct cp_conf, m)
#define HC(m) LB_CONF_FIELD(struct cp_health_check, m)
#define POOL(m) LB_CONF_FIELD(struct lb_pool_conf, m)
#define BGP(m) LB_CONF_FIELD(struct cp_bgp_conf, m)
#define CLU(m) LB_CONF_FIELD(struct cp_cluster_conf, m)
#define PEER(m) LB_CONF_FIELD(struct cp_peer_conf, m)

static const struct lb_name mode_names[] = {
	{ "standalone", CP_MODE_STANDALONE },
	{ "kubernetes", CP_MODE_KUBERNETES },
	{ NULL, 0 },
};

static const struct lb_name backends_names[] = {
	{ "pods", CP_BACKENDS_PODS },
	{ "nodes", CP_BACKENDS_NODES },
	{ NULL, 0 },
};

static const struct lb_name node_addr_names[] = {
	{ "InternalIP", CP_NODE_INTERNAL_IP },
	{ "ExternalIP", CP_NODE_EXTERNAL_IP },
	{ NULL, 0 },
};

const char *
cp_node_addr_type(uint8_t t)
{
	return t == CP_NODE_EXTERNAL_IP ? "ExternalIP" : "InternalIP";
}

/* ---------------------------------------------------------------- api */

static int
set_listen(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	   void *base)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6;
	int rc = lb_conf_set_str(x, s, cmd, base);

	if (rc == 0 && cp_conf_listen_parse((char *)base + cmd->off, &ss, &sl, &v6) < 0)
		return lb_conf_fail(x, s, NULL,
				    "'%s' is not address:port (e.g. \"127.0.0.1:8470\")",
				    config_setting_get_string(s));
	return rc;
}

/* The token from the first line of a file; it replaces api.token. */
static int
set_token_file(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	       void *base)
{
	struct cp_conf *c = base;
	const char *path = config_setting_get_string(s);
	FILE *f;

	(void)cmd;
	if (strlen(path) >= CP_PATH_MAX)
		return lb_conf_fail(x, s, NULL, "longer than %d characters", CP_PATH_MAX - 1);
	f = fopen(path, "r");
	if (f == NULL || fgets(c->api_token, sizeof(c->api_token), f) == NULL) {
		if (f)
			fclose(f);
		return lb_conf_fail(x, s, NULL, "cannot read '%s'", path);
	}
	fclose(f);
	c->api_token[strcspn(c->api_token, "\r\n")] = '\0';
	return 0;
}

static const struct lb_conf_cmd api_cmds[] = {
	{ "listen", LB_CONF_STR, set_listen, CONF(api_listen), 0, 0, 0, 0, NULL },
	{ "token", LB_CONF_STR, lb_conf_set_str, CONF(api_token), 0, 0, 0, 0, NULL },
	{ "token_file", LB_CONF_STR, set_token_file, LB_CONF_NOFIELD, 0, 0, 0, 0, NULL },
	LB_CONF_END,
};

/* ---------------------------------------------------------------- health_check */

static const struct lb_conf_cmd hc_cmds[] = {
	{ "type", LB_CONF_STR, lb_conf_set_enum, HC(type), 0, 0, CP_HC_NONE, LB_CONF_DEF,
	  cp_hc_type_names },
	{ "path", LB_CONF_STR, lb_conf_set_str, HC(path), 0, 0, 0, 0, NULL },
	{ "port", LB_CONF_INT, lb_conf_set_uint, HC(port), 0, 65535, 0, LB_CONF_DEF, NULL },
	{ "interval_ms", LB_CONF_INT, lb_conf_set_uint, HC(interval_ms), CP_HC_INTERVAL_MIN,
	  CP_HC_INTERVAL_MAX, 2000, LB_CONF_DEF, NULL },
	{ "timeout_ms", LB_CONF_INT, lb_conf_set_uint, HC(timeout_ms), CP_HC_TIMEOUT_MIN,
	  CP_HC_TIMEOUT_MAX, 1000, LB_CONF_DEF, NULL },
	{ "rise", LB_CONF_INT, lb_conf_set_uint, HC(rise), 1, CP_HC_COUNT_MAX, 2, LB_CONF_DEF,
	  NULL },
	{ "fall", LB_CONF_INT, lb_conf_set_uint, HC(fall), 1, CP_HC_COUNT_MAX, 3, LB_CONF_DEF,
	  NULL },
	LB_CONF_END,
};

/* The rows, then the rules across them. */
static int
set_hc(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
       void *base)
{
	const struct cp_health_check *hc = (const struct cp_health_check *)((char *)base + cmd->off);
	int rc = lb_conf_walk(x, s, hc_cmds, (char *)base + cmd->off);

	if (rc < 0)
		return rc;
	if (hc->path[0] != '/')
		return lb_conf_fail(x, s, "path", "must start with '/'");
	if (hc->timeout_ms >= hc->interval_ms)
		return lb_conf_fail(x, s, "timeout_ms", "must be below interval_ms");
	return 0;
}

/* ---------------------------------------------------------------- pools */

static int
set_range(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	  void *base)
{
	const char *v = config_setting_get_string(s);

	if (lb_ipam_range_parse(v, (struct lb_ip_range *)((char *)base + cmd->off)) < 0)
		return lb_conf_fail(x, s, NULL, "'%s' is not a CIDR, range or address", v);
	return 0;
}

static const struct lb_conf_cmd range_elem = {
	NULL, LB_CONF_STR, set_range, 0, sizeof(struct lb_ip_range), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list ranges_list = {
	&range_elem, sizeof(struct lb_ip_range), offsetof(struct lb_pool_conf, ranges), true,
	offsetof(struct lb_pool_conf, n_ranges), "ranges",
	"must be a non-empty array of strings", NULL, NULL,
};

static const struct lb_conf_cmd pool_cmds[] = {
	{ "name", LB_CONF_STR, lb_conf_set_str, POOL(name), 0, 0, 0, 0, NULL },
	{ "addresses", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_POOL_RANGES_MAX, 0, 0,
	  &ranges_list },
	{ "auto_assign", LB_CONF_BOOL, lb_conf_set_bool, POOL(auto_assign), 0, 0, 1, LB_CONF_DEF,
	  NULL },
	{ "avoid_buggy_ips", LB_CONF_BOOL, lb_conf_set_bool, POOL(avoid_buggy_ips), 0, 0, 0, 0,
	  NULL },
	LB_CONF_END,
};

/* A pool has a DNS-label name no pool before it has, and addresses. */
static int
check_pool(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	const struct cp_conf *c = base;
	const struct lb_pool_conf *pc = elem;

	if (!cp_lb_name_valid(pc->name))
		return lb_conf_fail(x, e, "name",
				    "must be a DNS label (a-z, 0-9, '-', at most 63)");
	if (pc->n_ranges == 0)
		return lb_conf_fail(x, e, "addresses", "must be a non-empty array of strings");
	for (int k = 0; k < i; k++)
		if (strcmp(c->pools[k].name, pc->name) == 0)
			return lb_conf_fail(x, e, "name", "'%s' is used twice", pc->name);
	return 0;
}

static const struct lb_conf_cmd pool_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, pool_cmds,
};
static const struct lb_conf_list pools_list = {
	&pool_elem, sizeof(struct lb_pool_conf), offsetof(struct cp_conf, pools), true,
	offsetof(struct cp_conf, n_pools), "pools", NULL, check_pool, NULL,
};

/* ---------------------------------------------------------------- bgp */

/* bgp.announce: "ready" (a VIP with a ready backend) or "always". */
static const struct lb_name announce_names[] = {
	{ "ready", 0 },
	{ "always", 1 },
	{ NULL, 0 },
};

/* An element of bgp.announce_always_pools: a pool name. */
static int
set_pool_name(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	      void *base)
{
	int rc = lb_conf_set_str(x, s, cmd, base);

	if (rc == 0 && !cp_lb_name_valid((const char *)base + cmd->off))
		return lb_conf_fail(x, s, NULL, "not a pool name");
	return rc;
}

static const struct lb_conf_cmd pool_name_elem = {
	NULL, LB_CONF_STR, set_pool_name, 0, LB_POOL_NAME_MAX, 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list always_pools_list = {
	&pool_name_elem, LB_POOL_NAME_MAX, offsetof(struct cp_bgp_conf, always_pools), true,
	offsetof(struct cp_bgp_conf, n_always_pools), "pools", NULL, NULL, NULL,
};

static const struct lb_conf_cmd bgp_cmds[] = {
	{ "enabled", LB_CONF_BOOL, lb_conf_set_bool, BGP(enabled), 0, 0, 0, 0, NULL },
	{ "bird_socket", LB_CONF_STR, lb_conf_set_str, BGP(bird_socket), 0, 0, 0, 0, NULL },
	{ "include_file", LB_CONF_STR, lb_conf_set_str, BGP(include_file), 0, 0, 0, 0, NULL },
	/* one byte short: the static protocols are <protocol>4 and <protocol>6 */
	{ "protocol", LB_CONF_STR, lb_conf_set_str, offsetof(struct cp_bgp_conf, protocol),
	  sizeof(((struct cp_bgp_conf *)0)->protocol) - 1, 1, 0, 0, 0, NULL },
	{ "announce", LB_CONF_STR, lb_conf_set_enum, BGP(announce_always), 0, 0, 0, 0,
	  announce_names },
	{ "announce_always_pools", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0,
	  CP_BGP_MAX_ALWAYS, 0, 0, &always_pools_list },
	{ "check_interval_ms", LB_CONF_INT, lb_conf_set_uint, BGP(check_interval_ms), 20, 5000, 100,
	  LB_CONF_DEF, NULL },
	{ "dp_timeout_ms", LB_CONF_INT, lb_conf_set_uint, BGP(dp_timeout_ms), 100, 60000, 1000,
	  LB_CONF_DEF, NULL },
	{ "drain_timeout_s", LB_CONF_INT, lb_conf_set_uint, BGP(drain_timeout_s), 0, 86400 * 7, 300,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

/* The rows, then the rules across them. */
static int
set_bgp(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	void *base)
{
	const struct cp_bgp_conf *b = (const struct cp_bgp_conf *)((char *)base + cmd->off);
	int rc = lb_conf_walk(x, s, bgp_cmds, (char *)base + cmd->off);

	if (rc < 0)
		return rc;
	/* A BIRD symbol: a letter or '_', then letters, digits and '_'. */
	for (const char *p = b->protocol; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (p > b->protocol && *p >= '0' && *p <= '9')))
			return lb_conf_fail(x, s, "protocol",
					    "must be a BIRD name ([A-Za-z_][A-Za-z0-9_]*)");
	if (b->enabled && (b->bird_socket[0] == '\0' || b->include_file[0] == '\0'))
		return lb_conf_fail(x, s, NULL, "bird_socket and include_file must not be empty");
	return 0;
}

/* ---------------------------------------------------------------- cluster */

/* An SNAT address: a plain IPv4 or IPv6 address (announced as /32 or /128). */
static const struct lb_conf_cmd snat_elem = {
	NULL, LB_CONF_STR, lb_conf_set_addr, 0, sizeof(struct lb_addr), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list own_local_list = {
	&snat_elem, sizeof(struct lb_addr), offsetof(struct cp_cluster_conf, local), true,
	offsetof(struct cp_cluster_conf, n_local), "local addresses", NULL, NULL, NULL,
};
static const struct lb_conf_list peer_local_list = {
	&snat_elem, sizeof(struct lb_addr), offsetof(struct cp_peer_conf, local), true,
	offsetof(struct cp_peer_conf, n_local), "local addresses", NULL, NULL, NULL,
};

static const struct lb_conf_cmd peer_cmds[] = {
	{ "name", LB_CONF_STR, lb_conf_set_str, PEER(name), 1, 0, 0, LB_CONF_REQ, NULL },
	{ "sync_address", LB_CONF_STR, lb_conf_set_addr, PEER(sync_address), 0, 0, 0, LB_CONF_REQ,
	  NULL },
	{ "local_addresses", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, CP_SNAT_MAX, 0, 0,
	  &peer_local_list },
	LB_CONF_END,
};

/* An address may be named once over the box and its peers (one owner each). */
static bool
snat_named_before(const struct cp_cluster_conf *cl, const struct lb_addr *a, int peer, uint32_t k)
{
	for (uint32_t i = 0; i < cl->n_local; i++)
		if ((peer >= 0 || i < k) && lb_addr_eq(&cl->local[i], a))
			return true;
	for (int p = 0; p <= peer; p++)
		for (uint32_t i = 0; i < cl->peers[p].n_local && (p < peer || i < k); i++)
			if (lb_addr_eq(&cl->peers[p].local[i], a))
				return true;
	return false;
}

static int
check_peer(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	const struct cp_cluster_conf *cl = base;
	const struct cp_peer_conf *pc = elem;
	char a[LB_ADDR_STRLEN];

	if (strcmp(pc->name, cl->name) == 0)
		return lb_conf_fail(x, e, "name", "'%s' is this box's cluster.name", pc->name);
	for (int k = 0; k < i; k++)
		if (strcmp(cl->peers[k].name, pc->name) == 0)
			return lb_conf_fail(x, e, "name", "'%s' is used twice", pc->name);
	for (uint32_t k = 0; k < pc->n_local; k++)
		if (snat_named_before(cl, &pc->local[k], i, k))
			return lb_conf_fail(x, e, "local_addresses", "%s is named twice (one owner each)",
					    lb_addr_format(&pc->local[k], a, sizeof(a)));
	return 0;
}

static const struct lb_conf_cmd peer_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, peer_cmds,
};
static const struct lb_conf_list peers_list = {
	&peer_elem, sizeof(struct cp_peer_conf), offsetof(struct cp_cluster_conf, peers), true,
	offsetof(struct cp_cluster_conf, n_peers), "peers", NULL, check_peer, NULL,
};

static const struct lb_conf_cmd cluster_cmds[] = {
	{ "name", LB_CONF_STR, lb_conf_set_str, CLU(name), 0, 0, 0, 0, NULL },
	/* before peers: check_peer looks for the box's own addresses */
	{ "local_addresses", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, CP_SNAT_MAX, 0, 0,
	  &own_local_list },
	{ "peers", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, CP_MAX_PEERS, 0, 0,
	  &peers_list },
	{ "join_timeout_s", LB_CONF_INT, lb_conf_set_uint, CLU(join_timeout_s), 0, 3600, 30,
	  LB_CONF_DEF, NULL },
	{ "backup", LB_CONF_BOOL, lb_conf_set_bool, CLU(backup), 0, 0, 1, LB_CONF_DEF, NULL },
	LB_CONF_END,
};

static int
set_cluster(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
	    void *base)
{
	const struct cp_cluster_conf *cl = (const void *)((char *)base + cmd->off);
	int rc = lb_conf_walk(x, s, cluster_cmds, (char *)base + cmd->off);
	char a[LB_ADDR_STRLEN];

	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < cl->n_local; k++)
		if (snat_named_before(cl, &cl->local[k], -1, k))
			return lb_conf_fail(x, s, "local_addresses", "%s is named twice",
					    lb_addr_format(&cl->local[k], a, sizeof(a)));
	return 0;
}

/* ---------------------------------------------------------------- kubernetes, root */

/* Fleet leader election (cp/kube/lease.c): one cp of a fleet allocates and writes. */
static const struct lb_conf_cmd le_cmds[] = {
	{ "enabled", LB_CONF_BOOL, lb_conf_set_bool, CONF(le_enabled), 0, 0, 1, LB_CONF_DEF, NULL },
	{ "namespace", LB_CONF_STR, lb_conf_set_str, CONF(le_namespace), 1, 0, 0, 0, NULL },
	{ "name", LB_CONF_STR, lb_conf_set_str, CONF(le_name), 1, 0, 0, 0, NULL },
	{ "identity", LB_CONF_STR, lb_conf_set_str, CONF(le_identity), 0, 0, 0, 0, NULL },
	{ "lease_duration_s", LB_CONF_INT, lb_conf_set_uint, CONF(le_lease_s), 1, 3600, 15,
	  LB_CONF_DEF, NULL },
	{ "renew_deadline_ms", LB_CONF_INT, lb_conf_set_uint, CONF(le_renew_deadline_ms), 100,
	  3600000, 10000, LB_CONF_DEF, NULL },
	{ "retry_period_ms", LB_CONF_INT, lb_conf_set_uint, CONF(le_retry_ms), 50, 600000, 2000,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

/* The rows, then the rules across them. */
static int
set_le(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
       void *base)
{
	const struct cp_conf *c = base;
	int rc = lb_conf_walk(x, s, cmd->arg, base);

	if (rc < 0)
		return rc;
	if (!cp_lb_name_valid(c->le_namespace))
		return lb_conf_fail(x, s, "namespace",
				    "must be a DNS label (a-z, 0-9, '-', at most 63)");
	/* client-go's rule: the old leader stops before a new one may take over. */
	if ((uint64_t)c->le_renew_deadline_ms >= (uint64_t)c->le_lease_s * 1000 ||
	    c->le_retry_ms >= c->le_renew_deadline_ms)
		return lb_conf_fail(x, s, NULL,
				    "retry_period_ms < renew_deadline_ms < lease_duration_s must hold");
	return 0;
}

static const struct lb_conf_cmd k8s_cmds[] = {
	{ "kubeconfig", LB_CONF_STR, lb_conf_set_str, CONF(kubeconfig), 0, 0, 0, 0, NULL },
	{ "load_balancer_class", LB_CONF_STR, lb_conf_set_str, CONF(lb_class), 1, 0, 0, 0, NULL },
	{ "default_class", LB_CONF_BOOL, lb_conf_set_bool, CONF(default_class), 0, 0, 0, 0, NULL },
	{ "resync_s", LB_CONF_INT, lb_conf_set_uint, CONF(resync_s), 10, 86400, 300, LB_CONF_DEF,
	  NULL },
	/* a watch silent this long is re-opened; the API server sends a BOOKMARK about once a
	 * minute */
	{ "watch_idle_s", LB_CONF_INT, lb_conf_set_uint, CONF(watch_idle_s), 0, 3600, 90,
	  LB_CONF_DEF, NULL },
	/* Services' backends: Pod IPs, or node:nodePort (docs/kubernetes.md, NodePort backends) */
	{ "backends", LB_CONF_STR, lb_conf_set_enum, CONF(k8s_backends), 0, 0, CP_BACKENDS_PODS,
	  LB_CONF_DEF, backends_names },
	{ "node_address_type", LB_CONF_STR, lb_conf_set_enum, CONF(node_addr_type), 0, 0,
	  CP_NODE_INTERNAL_IP, LB_CONF_DEF, node_addr_names },
	{ "leader_election", LB_CONF_GROUP, set_le, LB_CONF_NOFIELD, 0, 0, 0, 0, le_cmds },
	LB_CONF_END,
};

static const struct lb_conf_cmd root_cmds[] = {
	{ "mode", LB_CONF_STR, lb_conf_set_enum, CONF(mode), 0, 0, CP_MODE_STANDALONE, LB_CONF_DEF,
	  mode_names },
	{ "dp_socket", LB_CONF_STR, lb_conf_set_str, CONF(dp_socket), 1, 0, 0, 0, NULL },
	{ "state_file", LB_CONF_STR, lb_conf_set_str, CONF(state_file), 1, 0, 0, 0, NULL },
	{ "api", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0, api_cmds },
	{ "health_check", LB_CONF_GROUP, set_hc, CONF(hc), 0, 0, 0, 0, NULL },
	{ "kubernetes", LB_CONF_GROUP, lb_conf_set_group, LB_CONF_NOFIELD, 0, 0, 0, 0, k8s_cmds },
	{ "bgp", LB_CONF_GROUP, set_bgp, CONF(bgp), 0, 0, 0, 0, NULL },
	{ "cluster", LB_CONF_GROUP, set_cluster, CONF(cluster), 0, 0, 0, 0, NULL },
	{ "pools", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, CP_MAX_POOLS, 0, 0,
	  &pools_list },
	LB_CONF_END,
};

/* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:8470" -> socket address. */
int
cp_conf_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl, bool *v6)
{
	char host[128];
	const char *colon;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (e == NULL || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		colon = e + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	char *end;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535)
		return -1;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*in4);
		*v6 = false;
		return (int)port;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*in6);
		*v6 = true;
		return (int)port;
	}
	return -1;
}

void
cp_conf_defaults(struct cp_conf *c)
{
	memset(c, 0, sizeof(*c));
	lb_conf_defaults(root_cmds, c);
	lb_conf_defaults(hc_cmds, &c->hc);
	lb_conf_defaults(bgp_cmds, &c->bgp);
	lb_conf_defaults(cluster_cmds, &c->cluster);
	/* the string defaults */
	snprintf(c->dp_socket, sizeof(c->dp_socket), "/run/edgelb/dp.sock");
	snprintf(c->api_listen, sizeof(c->api_listen), "127.0.0.1:8470");
	snprintf(c->state_file, sizeof(c->state_file), "/var/lib/edgelb/state.json");
	snprintf(c->hc.path, sizeof(c->hc.path), "/");
	snprintf(c->lb_class, sizeof(c->lb_class), "edgelb.io/lb");
	snprintf(c->le_namespace, sizeof(c->le_namespace), "edgelb-system");
	snprintf(c->le_name, sizeof(c->le_name), "edgelb-controller");
	snprintf(c->bgp.bird_socket, sizeof(c->bgp.bird_socket), "/run/bird/bird.ctl");
	snprintf(c->bgp.include_file, sizeof(c->bgp.include_file), "/etc/bird/edgelb-vips.conf");
	snprintf(c->bgp.protocol, sizeof(c->bgp.protocol), "edgelb");
}

static int
load(const char *path, const char *text, struct cp_conf *c, char *err, size_t errlen)
{
	struct lb_conf_ctx x = { err, errlen, path, c };

	cp_conf_defaults(c);
	return lb_conf_read(&x, path, text, root_cmds, c);
}

int
cp_conf_load(const char *path, struct cp_conf *c, char *err, size_t errlen)
{
	return load(path, NULL, c, err, errlen);
}

int
cp_conf_parse(const char *text, struct cp_conf *c, char *err, size_t errlen)
{
	return load(NULL, text, c, err, errlen);
}
