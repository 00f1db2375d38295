/*
 * config_sync.c - the dp config file's `sync` group: flow sync between boxes
 * (docs/configuration.md, docs/flow-sync.md). Rows only; parsed by config.c's
 * root table on the main lcore before EAL resources are used. The key itself is
 * never in this file: sync.key_file names a file dp/control/sync.c reads at start.
 */
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "lb_conf_engine.h"

#define SYNC(m) LB_CONF_FIELD(struct lb_dp_conf, sync.m)

static int
peer_unique(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	const struct lb_dp_conf *c = base;
	const struct lb_addr *a = elem;

	for (int j = 0; j < i; j++)
		if (lb_addr_eq(&c->sync.peers[j], a))
			return lb_conf_fail(x, e, NULL, "peer listed twice");
	return 0;
}

static const struct lb_conf_cmd peer_elem = {
	NULL, LB_CONF_STR, lb_conf_set_addr, 0, sizeof(struct lb_addr), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list peers_list = {
	&peer_elem, sizeof(struct lb_addr), offsetof(struct lb_dp_conf, sync.peers), true,
	offsetof(struct lb_dp_conf, sync.n_peers), "sync peers", NULL, peer_unique, NULL,
};

static const struct lb_conf_cmd sync_cmds[] = {
	/* name, type, setter, field, min, max, default, flags, arg */
	{ "enabled", LB_CONF_BOOL, lb_conf_set_bool, SYNC(enabled), 0, 0, 0, 0, NULL },
	{ "port", LB_CONF_INT, lb_conf_set_uint, SYNC(port), 1, 65535, 7471, LB_CONF_DEF, NULL },
	{ "id", LB_CONF_INT, lb_conf_set_uint, SYNC(id), 1, UINT32_MAX, 0, 0, NULL },
	{ "peers", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, LB_SYNC_MAX_PEERS, 0, 0,
	  &peers_list },
	{ "key_file", LB_CONF_STR, lb_conf_set_str, SYNC(key_file), 1, 0, 0, 0, NULL },
	{ "refresh_s", LB_CONF_INT, lb_conf_set_uint, SYNC(refresh_s), 1, 3600, 30, LB_CONF_DEF,
	  NULL },
	{ "batch", LB_CONF_INT, lb_conf_set_uint, SYNC(batch), 1, 15, 15, LB_CONF_DEF, NULL },
	{ "flush_ms", LB_CONF_INT, lb_conf_set_uint, SYNC(flush_ms), 1, 1000, 5, LB_CONF_DEF,
	  NULL },
	{ "bulk_timeout_ms", LB_CONF_INT, lb_conf_set_uint, SYNC(bulk_timeout_ms), 0, 600000,
	  5000, LB_CONF_DEF, NULL },
	{ "capacity", LB_CONF_INT, lb_conf_set_uint, SYNC(capacity), 64, 67108864, 262144,
	  LB_CONF_DEF | LB_CONF_POW2, NULL },
	{ "max_age_s", LB_CONF_INT, lb_conf_set_uint, SYNC(max_age_s), 1, 86400, 60, LB_CONF_DEF,
	  NULL },
	{ "onlink_takeover", LB_CONF_BOOL, lb_conf_set_bool, SYNC(onlink_takeover), 0, 0, 0, 0,
	  NULL },
	{ "takeover_ms", LB_CONF_INT, lb_conf_set_uint, SYNC(takeover_ms), 100, 60000, 1000,
	  LB_CONF_DEF, NULL },
	{ "heartbeat_ms", LB_CONF_INT, lb_conf_set_uint, SYNC(heartbeat_ms), 10, 10000, 200,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

/* The group, then what an enabled sync needs: an id and a key file. */
int
lb_dp_conf_set_sync(struct lb_conf_ctx *x, const config_setting_t *s,
		    const struct lb_conf_cmd *cmd, void *base)
{
	const struct lb_conf_cmd grp = { cmd->name, LB_CONF_GROUP, lb_conf_set_group,
					 LB_CONF_NOFIELD, 0, 0, 0, 0, sync_cmds };
	struct lb_dp_conf *c = base;
	int rc = lb_conf_set_group(x, s, &grp, base);

	if (rc < 0 || !c->sync.enabled)
		return rc;
	if (c->sync.id == 0)
		return lb_conf_fail(x, s, "id", "is required when sync is enabled (1..4294967295)");
	if (c->sync.key_file[0] == '\0')
		return lb_conf_fail(x, s, "key_file", "is required when sync is enabled");
	return 0;
}

/* For lb_dp_conf_defaults(): the rows' defaults. */
void
lb_dp_conf_sync_defaults(struct lb_dp_conf *c)
{
	lb_conf_defaults(sync_cmds, c);
}
