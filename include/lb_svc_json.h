/*
 * lb_svc_json.h - the service model as JSON (the `service.upsert` payload).
 *
 * Part of edgelb-contract (code: dp/lib/svc_json.c): jansson only, no DPDK, no
 * libconfig. edgelb-dp decodes with it (dp/control/ctl.c) and edgelb-cp encodes
 * with it (cp/dpsync), so both sides agree on every field name
 * (include/lb_ctl_proto.h), name and rule (include/lb_model.h).
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
