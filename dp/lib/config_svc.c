/*
 * config_svc.c - the services rows of edgelb-dp's configuration.
 *
 * Part of the dp's config parser (dp/lib/config.c has the overview and the root
 * table). A service reads the same here as on the control socket: names and
 * cross-field rules come from the dp<->cp contract (include/lb_model.h).
 */
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_priv.h"
#include "lb_conf_engine.h"

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

int
lb_dp_conf_set_services(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
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
