/*
 * config_priv.h - what the files of the dp's config parser share (config.c,
 * config_net.c, config_svc.c). Not for use outside dp/lib/config*.c.
 */
#ifndef LB_DP_CONFIG_PRIV_H
#define LB_DP_CONFIG_PRIV_H

#include "config.h"
#include "lb_conf_engine.h"

/* Room for a formatted prefix: LB_ADDR_STRLEN covers it, but not to gcc's eyes. */
#define PREFIX_STRLEN (LB_ADDR_STRLEN + 16)

#define CONF(m) LB_CONF_FIELD(struct lb_dp_conf, m)
#define PORT(m) LB_CONF_FIELD(struct lb_port_conf, m)
#define ROUTE(m) LB_CONF_FIELD(struct lb_route_conf, m)
#define NEIGH(m) LB_CONF_FIELD(struct lb_neigh_conf, m)
#define SVC(m) LB_CONF_FIELD(struct lb_svc_spec, m)
#define BACKEND(m) LB_CONF_FIELD(struct lb_backend_spec, m)

/* config_net.c */
extern const struct lb_conf_list lb_dp_conf_ports_list;
extern const struct lb_conf_list lb_dp_conf_routes_list;
extern const struct lb_conf_list lb_dp_conf_neighs_list;

/* config_svc.c: the services list (its own setter: totals and uniqueness over all). */
int lb_dp_conf_set_services(struct lb_conf_ctx *x, const config_setting_t *s,
			    const struct lb_conf_cmd *cmd, void *base);

/* config_sync.c: the sync group (its own setter: id and key file when enabled). */
int lb_dp_conf_set_sync(struct lb_conf_ctx *x, const config_setting_t *s,
			const struct lb_conf_cmd *cmd, void *base);
void lb_dp_conf_sync_defaults(struct lb_dp_conf *c);

#endif
