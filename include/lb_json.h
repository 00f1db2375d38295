/*
 * lb_json.h - strict JSON field readers for request bodies and control messages.
 *
 * Shared by the dp's service codec (dp/svc_json.c) and the control plane's load
 * balancer codec (cp/lb.c), so both refuse unknown fields, treat JSON null as
 * absent, and name the offending field the same way ("backends[2].port: ...").
 * Builds without DPDK (jansson only).
 */
#ifndef LB_JSON_H
#define LB_JSON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lb_error.h"

/* Format the message into err and return LB_EINVAL. */
static inline int __attribute__((format(printf, 3, 4)))
lb_json_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return LB_EINVAL;
}

/* An optional member: JSON null is the same as absent. */
static inline json_t *
lb_json_member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

/* Every key of o must be one of names (NULL-terminated). where prefixes messages. */
static inline int
lb_json_known_keys(const json_t *o, const char *const *names, const char *where, char *err,
		   size_t errlen)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		bool ok = false;
		for (const char *const *n = names; *n && !ok; n++)
			ok = strcmp(k, *n) == 0;
		if (!ok)
			return lb_json_fail(err, errlen, "%s%s: unknown field", where, k);
	}
	return 0;
}

/* An integer in [lo, hi]. Returns 0 (set), 1 (absent and not required) or LB_EINVAL. */
static inline int
lb_json_int(const json_t *o, const char *key, const char *where, long long lo, long long hi,
	    bool required, long long *out, char *err, size_t errlen)
{
	json_t *v = lb_json_member(o, key);

	if (v == NULL)
		return required ? lb_json_fail(err, errlen, "%s%s: missing", where, key) : 1;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return lb_json_fail(err, errlen, "%s%s: must be an integer %lld..%lld", where, key, lo,
				    hi);
	*out = json_integer_value(v);
	return 0;
}

/* A string. Returns 0 (set), 1 (absent and not required) or LB_EINVAL. */
static inline int
lb_json_str(const json_t *o, const char *key, const char *where, bool required, const char **out,
	    char *err, size_t errlen)
{
	json_t *v = lb_json_member(o, key);

	if (v == NULL)
		return required ? lb_json_fail(err, errlen, "%s%s: missing", where, key) : 1;
	if (!json_is_string(v))
		return lb_json_fail(err, errlen, "%s%s: must be a string", where, key);
	*out = json_string_value(v);
	return 0;
}

#endif /* LB_JSON_H */
