/*
 * svc_json.c - service spec <-> JSON (see include/lb_svc_json.h).
 *
 * Part of edgelb-contract. Called by the dp control thread for `service.upsert`
 * and by edgelb-cp's dp sync thread when it sends one. Pure C: jansson only.
 * Names (protocol, mode, scheduler, state, affinity type) go through the contract's one
 * name table (include/lb_model.h), so their case rule is the config file's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lb_ctl_proto.h"
#include "lb_error.h"
#include "lb_json.h"
#include "lb_model.h"
#include "lb_svc_json.h"

static const char *const svc_keys[] = {
	LB_F_NAME, LB_F_VIP, LB_F_PORT, LB_F_PROTOCOL, LB_F_MODE, LB_F_MAGLEV_SIZE, LB_F_SCHEDULER,
	LB_F_AFFINITY, LB_F_SOURCE_RANGES, LB_F_BACKENDS, NULL,
};
static const char *const backend_keys[] = {
	LB_F_ADDRESS, LB_F_PORT, LB_F_WEIGHT, LB_F_STATE, NULL,
};
static const char *const affinity_keys[] = {
	LB_F_AFFINITY_TYPE, LB_F_AFFINITY_TIMEOUT, NULL,
};

static int
decode_backend(const json_t *b, size_t i, struct lb_backend_spec *out, char *err, size_t errlen)
{
	char where[48];
	const char *s = NULL;
	long long v = 0;
	int rc;

	snprintf(where, sizeof(where), "backends[%zu].", i);
	if (!json_is_object(b))
		return lb_json_fail(err, errlen, "backends[%zu]: must be an object", i);
	if ((rc = lb_json_known_keys(b, backend_keys, where, err, errlen)) < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->weight = 1;
	out->state = LB_BACKEND_ACTIVE;
	if (lb_json_str(b, LB_F_ADDRESS, where, true, &s, err, errlen) < 0)
		return LB_EINVAL;
	if (lb_addr_parse(s, &out->addr) < 0)
		return lb_json_fail(err, errlen, "%saddress: '%s' is not an IPv4 or IPv6 address",
				    where, s);
	if (lb_json_int(b, LB_F_PORT, where, 1, 65535, true, &v, err, errlen) < 0)
		return LB_EINVAL;
	out->port = (uint16_t)v;
	rc = lb_json_int(b, LB_F_WEIGHT, where, 0, LB_WEIGHT_MAX, false, &v, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		out->weight = (uint16_t)v;
	rc = lb_json_str(b, LB_F_STATE, where, false, &s, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0 && lb_backend_state_parse(s, &out->state) < 0)
		return lb_json_fail(err, errlen, "%sstate: '%s' is not active, draining or down",
				    where, s);
	return 0;
}

static int
decode(const json_t *j, struct lb_svc_spec *s, char *err, size_t errlen)
{
	const char *str = NULL;
	long long v = 0;
	json_t *a;
	int rc;

	if (!json_is_object(j))
		return lb_json_fail(err, errlen, "service: must be an object");
	if ((rc = lb_json_known_keys(j, svc_keys, "", err, errlen)) < 0)
		return rc;
	if (lb_json_str(j, LB_F_NAME, "", true, &str, err, errlen) < 0)
		return LB_EINVAL;
	if (strlen(str) == 0 || strlen(str) >= sizeof(s->name))
		return lb_json_fail(err, errlen, "name: must be 1..%zu characters",
				    sizeof(s->name) - 1);
	snprintf(s->name, sizeof(s->name), "%s", str);
	if (lb_json_str(j, LB_F_VIP, "", true, &str, err, errlen) < 0)
		return LB_EINVAL;
	if (lb_addr_parse(str, &s->vip) < 0)
		return lb_json_fail(err, errlen, "vip: '%s' is not an IPv4 or IPv6 address", str);
	if (lb_json_int(j, LB_F_PORT, "", 1, 65535, true, &v, err, errlen) < 0)
		return LB_EINVAL;
	s->port = (uint16_t)v;
	rc = lb_json_str(j, LB_F_PROTOCOL, "", false, &str, err, errlen);
	if (rc < 0)
		return rc;
	s->proto = LB_PROTO_TCP;
	if (rc == 0 && lb_proto_parse(str, &s->proto) < 0)
		return lb_json_fail(err, errlen, "protocol: '%s' is not tcp or udp", str);
	rc = lb_json_str(j, LB_F_MODE, "", false, &str, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0 && lb_mode_parse(str, &s->mode) < 0)
		return lb_json_fail(err, errlen, "mode: '%s' is not fnat or dnat", str);
	rc = lb_json_int(j, LB_F_MAGLEV_SIZE, "", 3, LB_MAGLEV_M_MAX, false, &v, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (!lb_maglev_m_valid((uint32_t)v))
			return lb_json_fail(err, errlen, "maglev_size: %lld is not a prime", v);
		s->maglev_m = (uint32_t)v;
	}

	rc = lb_json_str(j, LB_F_SCHEDULER, "", false, &str, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0 && lb_sched_parse(str, &s->sched) < 0) {
		char names[96];
		return lb_json_fail(err, errlen, "scheduler: '%s' is not one of %s", str,
				    lb_names_join(lb_sched_names, names, sizeof(names)));
	}

	a = json_object_get(j, LB_F_AFFINITY);
	if (a != NULL && !json_is_null(a)) {
		if (!json_is_object(a))
			return lb_json_fail(err, errlen, "session_affinity: must be an object");
		if ((rc = lb_json_known_keys(a, affinity_keys, "session_affinity.", err,
					     errlen)) < 0)
			return rc;
		if (lb_json_str(a, LB_F_AFFINITY_TYPE, "session_affinity.", true, &str, err,
				errlen) < 0)
			return LB_EINVAL;
		if (lb_affinity_parse(str, &s->affinity) < 0)
			return lb_json_fail(err, errlen,
					    "session_affinity.type: '%s' is not None or ClientIP",
					    str);
		rc = lb_json_int(a, LB_F_AFFINITY_TIMEOUT, "session_affinity.", 1,
				 LB_AFFINITY_TIMEOUT_MAX, false, &v, err, errlen);
		if (rc < 0)
			return rc;
		if (rc == 0)
			s->affinity_timeout = (uint32_t)v;
	}

	a = json_object_get(j, LB_F_SOURCE_RANGES);
	if (a != NULL) {
		size_t i;
		json_t *r;
		if (!json_is_array(a) || json_array_size(a) > LB_MAX_SOURCE_RANGES)
			return lb_json_fail(err, errlen,
					    "source_ranges: must be an array of at most %d CIDRs",
					    LB_MAX_SOURCE_RANGES);
		if (json_array_size(a)) {
			s->source_ranges = calloc(json_array_size(a), sizeof(*s->source_ranges));
			if (s->source_ranges == NULL)
				return lb_json_fail(err, errlen, "out of memory");
		}
		json_array_foreach(a, i, r) {
			if (!json_is_string(r) ||
			    lb_prefix_parse(json_string_value(r), &s->source_ranges[i], NULL,
					    true) < 0)
				return lb_json_fail(err, errlen,
						    "source_ranges[%zu]: not a CIDR (host bits zero)", i);
			s->n_source_ranges++;
		}
	}

	a = json_object_get(j, LB_F_BACKENDS);
	if (a != NULL) {
		size_t i;
		json_t *b;
		if (!json_is_array(a) || json_array_size(a) > LB_MAX_BACKENDS_PER_SVC)
			return lb_json_fail(err, errlen,
					    "backends: must be an array of at most %d objects",
					    LB_MAX_BACKENDS_PER_SVC);
		if (json_array_size(a)) {
			s->backends = calloc(json_array_size(a), sizeof(*s->backends));
			if (s->backends == NULL)
				return lb_json_fail(err, errlen, "out of memory");
		}
		json_array_foreach(a, i, b) {
			if ((rc = decode_backend(b, i, &s->backends[i], err, errlen)) < 0)
				return rc;
			s->n_backends++;
		}
	}
	return lb_svc_spec_validate(s, err, errlen);
}

int
lb_svc_spec_from_json(const json_t *j, struct lb_svc_spec *s, char *err, size_t errlen)
{
	lb_svc_spec_init(s);
	int rc = decode(j, s, err, errlen);
	if (rc < 0)
		lb_svc_spec_free(s);
	return rc;
}

json_t *
lb_svc_spec_to_json(const struct lb_svc_spec *s)
{
	char a[LB_ADDR_STRLEN];
	json_t *o = json_object(), *bs = json_array(), *rs = json_array();
	int rc = 0;

	if (o == NULL || bs == NULL || rs == NULL) {
		json_decref(o);
		json_decref(bs);
		json_decref(rs);
		return NULL;
	}
	/*
	 * Every set/append is checked: one that fails (out of memory, a name that is
	 * not UTF-8) must not yield a service without that field or backend, which the
	 * receiver would accept. The *_new calls take the value's reference either way.
	 */
	rc |= json_object_set_new(o, LB_F_NAME, json_string(s->name));
	rc |= json_object_set_new(o, LB_F_VIP, json_string(lb_addr_format(&s->vip, a, sizeof(a))));
	rc |= json_object_set_new(o, LB_F_PORT, json_integer(s->port));
	rc |= json_object_set_new(o, LB_F_PROTOCOL, json_string(lb_proto_name(s->proto)));
	rc |= json_object_set_new(o, LB_F_MODE, json_string(lb_mode_name(s->mode)));
	rc |= json_object_set_new(o, LB_F_MAGLEV_SIZE, json_integer(s->maglev_m));
	/* Maglev is the default: left out, so a dp that predates schedulers still takes it. */
	if (s->sched != LB_SCHED_MAGLEV)
		rc |= json_object_set_new(o, LB_F_SCHEDULER, json_string(lb_sched_name(s->sched)));
	rc |= json_object_set_new(o, LB_F_AFFINITY,
				  json_pack("{s:s, s:I}", LB_F_AFFINITY_TYPE,
					    lb_affinity_name(s->affinity), LB_F_AFFINITY_TIMEOUT,
					    (json_int_t)s->affinity_timeout));
	for (uint32_t i = 0; i < s->n_source_ranges; i++)
		rc |= json_array_append_new(rs,
					    json_string(lb_prefix_format(&s->source_ranges[i], a,
									 sizeof(a))));
	rc |= json_object_set_new(o, LB_F_SOURCE_RANGES, rs);
	for (uint32_t i = 0; i < s->n_backends; i++) {
		const struct lb_backend_spec *b = &s->backends[i];
		rc |= json_array_append_new(bs,
					    json_pack("{s:s, s:i, s:i, s:s}", LB_F_ADDRESS,
						      lb_addr_format(&b->addr, a, sizeof(a)),
						      LB_F_PORT, b->port, LB_F_WEIGHT, b->weight,
						      LB_F_STATE, lb_backend_state_name(b->state)));
	}
	rc |= json_object_set_new(o, LB_F_BACKENDS, bs);
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
