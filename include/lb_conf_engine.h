/*
 * lb_conf_engine.h - the one configuration engine of edgelb-dp and edgelb-cp:
 * libconfig text -> a plain struct, driven by tables of rows.
 *
 * A row is {name, type, setter, offsetof, size, min, max, default, flags, arg},
 * nginx ngx_command_t style. lb_conf_walk() checks a group against its table
 * (unknown names are errors, so typos do not pass silently; wrong types are
 * errors; required rows must be present), then calls each present row's setter in
 * table order: table order, not file order, is what makes cross-references work.
 * The rows' defaults are what lb_conf_defaults() writes, so a default lives in one
 * place. A "list of groups" row (lb_conf_set_list + struct lb_conf_list) reads a
 * list whose every element is one row: a group with its own table, or a scalar.
 *
 * Every error names the setting by its libconfig path and gives its line:
 *   "ports.[1].addresses.[0]: '198.18.0.1/33' is not an address/prefix (line 12)"
 *
 * Users: dp/lib/config.c (edgelb-dp) and cp/lib/cpconf.c (edgelb-cp), at start
 * and on reload, on their main threads. Code: dp/lib/conf_engine.c (library
 * edgelb-conf; libconfig, no DPDK). Keeps no state between calls.
 */
#ifndef LB_CONF_ENGINE_H
#define LB_CONF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "lb_addr.h"
#include "lb_model.h"

/* Setting types a row accepts (a mask). */
enum {
	LB_CONF_INT = 1 << 0,   /* int or int64 (L suffix) */
	LB_CONF_STR = 1 << 1,
	LB_CONF_GROUP = 1 << 2, /* { ... } */
	LB_CONF_SEQ = 1 << 3,   /* array [ ... ] or list ( ... ) */
	LB_CONF_BOOL = 1 << 4,  /* true / false */
};

#define LB_CONF_REQ 0x1  /* the setting must be present */
#define LB_CONF_DEF 0x2  /* lb_conf_defaults() writes def into the field */
#define LB_CONF_POW2 0x4 /* a number must be a power of two */

struct lb_conf_ctx {
	char *err;
	size_t errlen;
	const char *file; /* file being loaded; NULL when parsing a string */
	void *user;       /* the whole struct being filled, for cross-references */
};

struct lb_conf_cmd;
typedef int (*lb_conf_set_fn)(struct lb_conf_ctx *x, const config_setting_t *s,
			      const struct lb_conf_cmd *cmd, void *base);

struct lb_conf_cmd {
	const char *name;
	unsigned type;      /* LB_CONF_* mask */
	lb_conf_set_fn set;
	size_t off, size;   /* field in the row's base struct */
	long long min, max; /* numbers: range; strings: min length; lists: max count */
	uint64_t def;       /* written when flags has LB_CONF_DEF */
	unsigned flags;
	const void *arg;    /* set_enum: struct lb_name[]; set_group: struct lb_conf_cmd[];
			     * set_list: struct lb_conf_list */
};

/*
 * A list row (lb_conf_set_list): every element is read with the row elem (a group
 * row whose arg is the element's table, or a scalar row with off 0) into an array
 * of elem_size entries: inline in base at array_off, or calloc'd and its pointer
 * stored at array_off. The count (a uint32_t) goes to count_off. The row's max
 * bounds the count ("%d <noun>, at most <max>"); an empty list is refused with
 * empty when set. check runs after each element, done after the whole list.
 */
struct lb_conf_list {
	const struct lb_conf_cmd *elem;
	size_t elem_size;
	size_t array_off;
	bool inline_array;
	size_t count_off;
	const char *noun;  /* "ports", "local addresses on one port" */
	const char *empty; /* NULL: an empty list is fine (nothing is allocated) */
	int (*check)(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i,
		     void *base);
	int (*done)(struct lb_conf_ctx *x, const config_setting_t *list, void *base);
};

#define LB_CONF_END { NULL, 0, NULL, 0, 0, 0, 0, 0, 0, NULL }
#define LB_CONF_FIELD(type, m) offsetof(type, m), sizeof(((type *)0)->m)
#define LB_CONF_NOFIELD 0, 0

/* Errors: format under the setting's path (or its member's) with its line; LB_EINVAL. */
int lb_conf_fail(struct lb_conf_ctx *x, const config_setting_t *s, const char *member,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same under an explicit path, with the line of setting at. */
int lb_conf_fail_path(struct lb_conf_ctx *x, const char *path, const config_setting_t *at,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int lb_conf_fail_nomem(struct lb_conf_ctx *x, const config_setting_t *s); /* LB_ENOMEM */
/* "ports.[1].addresses.[0]"; returns the length written (clamped to len - 1). */
size_t lb_conf_path(const config_setting_t *s, char *buf, size_t len);
/* The deepest existing setting along rel ("backends.[2].address") below s. */
const config_setting_t *lb_conf_resolve(const config_setting_t *s, const char *rel);
/* An element of a sequence must have a type in mask. */
int lb_conf_check_elem(struct lb_conf_ctx *x, const config_setting_t *e, unsigned mask);

/* Store v into a 1-, 2-, 4- or 8-byte integer field. */
void lb_conf_store(void *field, size_t size, uint64_t v);
/* Write the LB_CONF_DEF defaults of a table (and of its nested groups) into base. */
void lb_conf_defaults(const struct lb_conf_cmd *tab, void *base);
/* Check group g against tab, then run each present row's setter in table order. */
int lb_conf_walk(struct lb_conf_ctx *x, const config_setting_t *g, const struct lb_conf_cmd *tab,
		 void *base);

/* Generic setters. */
int lb_conf_set_group(struct lb_conf_ctx *x, const config_setting_t *s,
		      const struct lb_conf_cmd *cmd, void *base); /* arg: the group's table */
int lb_conf_set_list(struct lb_conf_ctx *x, const config_setting_t *s,
		     const struct lb_conf_cmd *cmd, void *base);  /* arg: struct lb_conf_list */
int lb_conf_set_uint(struct lb_conf_ctx *x, const config_setting_t *s,
		     const struct lb_conf_cmd *cmd, void *base);  /* min..max, POW2 */
int lb_conf_set_bool(struct lb_conf_ctx *x, const config_setting_t *s,
		     const struct lb_conf_cmd *cmd, void *base);  /* into a bool */
int lb_conf_set_enum(struct lb_conf_ctx *x, const config_setting_t *s,
		     const struct lb_conf_cmd *cmd, void *base);  /* arg: struct lb_name[] */
int lb_conf_set_str(struct lb_conf_ctx *x, const config_setting_t *s,
		    const struct lb_conf_cmd *cmd, void *base);   /* char[size]; min length */
int lb_conf_set_addr(struct lb_conf_ctx *x, const config_setting_t *s,
		     const struct lb_conf_cmd *cmd, void *base);  /* struct lb_addr */
int lb_conf_set_cidr(struct lb_conf_ctx *x, const config_setting_t *s,
		     const struct lb_conf_cmd *cmd, void *base);  /* strict lb_prefix */
int lb_conf_set_mac(struct lb_conf_ctx *x, const config_setting_t *s,
		    const struct lb_conf_cmd *cmd, void *base);   /* unicast uint8_t[6] */

/*
 * Read a file (path) or a string (text, when path is NULL) and walk its root
 * against root into base. The caller sets the defaults first and frees what base
 * owns when this fails. A file that cannot be opened: "cannot open: <reason>".
 * A syntax error leaves out the main file's name (the caller prints it) and names
 * an @include'd file, which is resolved next to the main file. Returns 0 (err
 * then empty) or a negative LB_E* code.
 */
int lb_conf_read(struct lb_conf_ctx *x, const char *path, const char *text,
		 const struct lb_conf_cmd *root, void *base);

#endif /* LB_CONF_ENGINE_H */
