/*
 * svc_json.h - the service model as JSON (the `service.upsert` payload).
 *
 * Pure C over jansson, no DPDK. edgelb-dp decodes with it (dp/ctl.c) and
 * edgelb-cp encodes with it, so both sides agree on every field name
 * (include/lb_ctl_proto.h) and rule (lb_svc_spec_validate in dp/config.c).
 */
#ifndef LB_SVC_JSON_H
#define LB_SVC_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "lb_model.h"

/*
 * Decode and validate. Unknown fields are errors; messages name the field, e.g.
 * "backends[2].port: must be an integer 1..65535". On error *s is left freed.
 * Returns 0 or LB_EINVAL.
 */
int lb_svc_spec_from_json(const json_t *j, struct lb_svc_spec *s, char *err, size_t errlen);

/* Encode (every field, defaults included). Returns a new reference or NULL. */
json_t *lb_svc_spec_to_json(const struct lb_svc_spec *s);

#endif /* LB_SVC_JSON_H */
