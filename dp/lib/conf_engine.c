/*
 * conf_engine.c - the table-driven libconfig walker shared by edgelb-dp's and
 * edgelb-cp's configuration files (see include/lb_conf_engine.h).
 *
 * Called by dp/lib/config.c and cp/lib/cpconf.c on their process's main thread,
 * at start (and on the cp's SIGHUP); keeps no state between calls. Library
 * edgelb-conf: libconfig and the contract's name tables, no DPDK, no threads.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "lb_conf_engine.h"
#include "lb_error.h"

/* Room for a formatted prefix: LB_ADDR_STRLEN covers it, but not to gcc's eyes. */
#define PREFIX_STRLEN (LB_ADDR_STRLEN + 16)

/* ---------------------------------------------------------------- errors */

/* "ports.[1].addresses.[0]"; returns the length written (clamped to len - 1). */
size_t
lb_conf_path(const config_setting_t *s, char *buf, size_t len)
{
	const config_setting_t *p = s ? config_setting_parent(s) : NULL;
	size_t n;
	int w;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	if (p == NULL)
		return 0; /* the root has no name */
	n = lb_conf_path(p, buf, len);
	if (s->name != NULL)
		w = snprintf(buf + n, len - n, "%s%s", n ? "." : "", s->name);
	else
		w = snprintf(buf + n, len - n, "%s[%d]", n ? "." : "", config_setting_index(s));
	if (w < 0)
		return n;
	n += (size_t)w;
	return n < len ? n : len - 1;
}

static void
vreport(struct lb_conf_ctx *x, const char *path, const config_setting_t *at, const char *fmt,
	va_list ap)
{
	char msg[512];
	unsigned line = at ? config_setting_source_line(at) : 0;
	const char *file = at ? config_setting_source_file(at) : NULL;

	if (x->err == NULL || x->errlen == 0)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line == 0)
		snprintf(x->err, x->errlen, "%s: %s", path, msg);
	else if (file != NULL && x->file != NULL && strcmp(file, x->file) != 0)
		/* a setting from an @include'd file */
		snprintf(x->err, x->errlen, "%s: %s (%s line %u)", path, msg, file, line);
	else
		snprintf(x->err, x->errlen, "%s: %s (line %u)", path, msg, line);
}

/* Report an error under an explicit path, with the line of setting at. */
int
lb_conf_fail_path(struct lb_conf_ctx *x, const char *path, const config_setting_t *at,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(x, path, at, fmt, ap);
	va_end(ap);
	return LB_EINVAL;
}

/* Report an error at setting s (or at s's member named member) and return LB_EINVAL. */
int
lb_conf_fail(struct lb_conf_ctx *x, const config_setting_t *s, const char *member, const char *fmt,
	     ...)
{
	char path[256];
	size_t n = lb_conf_path(s, path, sizeof(path));
	va_list ap;

	if (member != NULL)
		snprintf(path + n, sizeof(path) - n, "%s%s", n ? "." : "", member);
	va_start(ap, fmt);
	vreport(x, path, s, fmt, ap);
	va_end(ap);
	return LB_EINVAL;
}

int
lb_conf_fail_nomem(struct lb_conf_ctx *x, const config_setting_t *s)
{
	lb_conf_fail(x, s, NULL, "out of memory");
	return LB_ENOMEM;
}

static const char *
type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

static bool
type_ok(const config_setting_t *s, unsigned mask)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return mask & LB_CONF_INT;
	case CONFIG_TYPE_STRING: return mask & LB_CONF_STR;
	case CONFIG_TYPE_GROUP: return mask & LB_CONF_GROUP;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST: return mask & LB_CONF_SEQ;
	case CONFIG_TYPE_BOOL: return mask & LB_CONF_BOOL;
	default: return false;
	}
}

static const char *
want_name(unsigned mask)
{
	switch (mask) {
	case LB_CONF_INT: return "an integer";
	case LB_CONF_STR: return "a string";
	case LB_CONF_INT | LB_CONF_STR: return "an integer or a string";
	case LB_CONF_GROUP: return "a group { }";
	case LB_CONF_SEQ: return "a list ( ) or array [ ]";
	case LB_CONF_BOOL: return "true or false";
	default: return "another type";
	}
}

/* An element of a sequence must have a type in mask. */
int
lb_conf_check_elem(struct lb_conf_ctx *x, const config_setting_t *e, unsigned mask)
{
	if (!type_ok(e, mask))
		return lb_conf_fail(x, e, NULL, "expected %s, got %s", want_name(mask),
				    type_name(e));
	return 0;
}

/* ---------------------------------------------------------------- table walker */

static const struct lb_conf_cmd *
find_cmd(const struct lb_conf_cmd *tab, const char *name)
{
	for (; tab->name != NULL; tab++)
		if (name != NULL && strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

void
lb_conf_store(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1: { uint8_t u = (uint8_t)v; memcpy(field, &u, 1); break; }
	case 2: { uint16_t u = (uint16_t)v; memcpy(field, &u, 2); break; }
	case 4: { uint32_t u = (uint32_t)v; memcpy(field, &u, 4); break; }
	case 8: memcpy(field, &v, 8); break;
	default: break;
	}
}

/* Write the LB_CONF_DEF defaults of a table (and of its nested groups) into base. */
void
lb_conf_defaults(const struct lb_conf_cmd *tab, void *base)
{
	for (; tab->name != NULL; tab++) {
		if (tab->flags & LB_CONF_DEF)
			lb_conf_store((char *)base + tab->off, tab->size, tab->def);
		if (tab->type == LB_CONF_GROUP && tab->arg != NULL)
			lb_conf_defaults(tab->arg, base);
	}
}

/*
 * Check group g against tab (names, types, required rows), then run each present
 * row's setter in table order.
 */
int
lb_conf_walk(struct lb_conf_ctx *x, const config_setting_t *g, const struct lb_conf_cmd *tab,
	     void *base)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);

		if (find_cmd(tab, config_setting_name(s)) == NULL) {
			char known[384];
			size_t k = 0;

			known[0] = '\0';
			for (const struct lb_conf_cmd *t = tab; t->name != NULL &&
			     k < sizeof(known); t++) {
				int w = snprintf(known + k, sizeof(known) - k, "%s%s",
						 k ? ", " : "", t->name);
				if (w < 0)
					break;
				k += (size_t)w;
			}
			return lb_conf_fail(x, s, NULL, "unknown setting (expected one of: %s)",
					    known);
		}
	}
	for (const struct lb_conf_cmd *t = tab; t->name != NULL; t++) {
		const config_setting_t *s = config_setting_get_member(g, t->name);
		int rc;

		if (s == NULL) {
			if (t->flags & LB_CONF_REQ)
				return lb_conf_fail(x, g, t->name, "required setting missing");
			continue;
		}
		if (!type_ok(s, t->type))
			return lb_conf_fail(x, s, NULL, "expected %s, got %s", want_name(t->type),
					    type_name(s));
		rc = t->set(x, s, t, base);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- generic setters */

int
lb_conf_set_group(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		  void *base)
{
	return lb_conf_walk(x, s, cmd->arg, base);
}

int
lb_conf_set_uint(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		 void *base)
{
	long long v = config_setting_get_int64(s);

	if (v < cmd->min || v > cmd->max)
		return lb_conf_fail(x, s, NULL, "%lld is out of range %lld..%lld", v, cmd->min,
				    cmd->max);
	if ((cmd->flags & LB_CONF_POW2) && (v & (v - 1)) != 0)
		return lb_conf_fail(x, s, NULL, "%lld is not a power of two", v);
	lb_conf_store((char *)base + cmd->off, cmd->size, (uint64_t)v);
	return 0;
}

int
lb_conf_set_enum(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		 void *base)
{
	const char *v = config_setting_get_string(s);
	char names[128];
	unsigned val;

	/* the case rule of every name: lb_name_parse() (dp/lib/model.c) */
	if (lb_name_parse(cmd->arg, v, &val) == 0) {
		lb_conf_store((char *)base + cmd->off, cmd->size, val);
		return 0;
	}
	return lb_conf_fail(x, s, NULL, "'%s' is not one of %s", v,
			    lb_names_join(cmd->arg, names, sizeof(names)));
}

/* A string into a char[size] field; min is the minimum length. */
int
lb_conf_set_str(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		void *base)
{
	const char *v = config_setting_get_string(s);
	size_t len = strlen(v);

	if ((long long)len < cmd->min)
		return lb_conf_fail(x, s, NULL, "must not be empty");
	if (len >= cmd->size)
		return lb_conf_fail(x, s, NULL, "'%.40s...' is too long (at most %zu characters)",
				    v, cmd->size - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return lb_conf_fail(x, s, NULL, "contains a control character");
	memcpy((char *)base + cmd->off, v, len + 1);
	return 0;
}

int
lb_conf_set_addr(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		 void *base)
{
	const char *v = config_setting_get_string(s);
	struct lb_addr a;

	if (lb_addr_parse(v, &a) < 0)
		return lb_conf_fail(x, s, NULL, "'%s' is not an IPv4 or IPv6 address", v);
	memcpy((char *)base + cmd->off, &a, sizeof(a));
	return 0;
}

/* A strict CIDR: address/length with the host bits zero. */
static int
parse_cidr(struct lb_conf_ctx *x, const config_setting_t *s, struct lb_prefix *p)
{
	const char *v = config_setting_get_string(s);
	char buf[PREFIX_STRLEN];

	if (lb_prefix_parse(v, p, NULL, false) < 0)
		return lb_conf_fail(x, s, NULL, "'%s' is not an address/prefix", v);
	if (lb_prefix_parse(v, p, NULL, true) < 0) {
		lb_prefix_parse(v, p, NULL, false);
		return lb_conf_fail(x, s, NULL, "'%s' has host bits set (did you mean %s?)", v,
				    lb_prefix_format(p, buf, sizeof(buf)));
	}
	return 0;
}

int
lb_conf_set_cidr(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		 void *base)
{
	struct lb_prefix p;
	int rc = parse_cidr(x, s, &p);

	if (rc == 0)
		memcpy((char *)base + cmd->off, &p, sizeof(p));
	return rc;
}

static int
parse_mac(const char *v, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		char *end;
		unsigned long b;

		if (!((v[0] >= '0' && v[0] <= '9') || (v[0] >= 'a' && v[0] <= 'f') ||
		      (v[0] >= 'A' && v[0] <= 'F')))
			return LB_EINVAL;
		b = strtoul(v, &end, 16);
		if (end - v != 2 || b > 0xff)
			return LB_EINVAL;
		mac[i] = (uint8_t)b;
		v = end;
		if (i < 5 && *v++ != ':')
			return LB_EINVAL;
	}
	return *v == '\0' ? 0 : LB_EINVAL;
}

/* A unicast MAC "02:00:00:00:00:01" into a uint8_t[6] field. */
int
lb_conf_set_mac(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		void *base)
{
	const char *v = config_setting_get_string(s);
	static const uint8_t zero[6];
	uint8_t mac[6];

	if (parse_mac(v, mac) < 0)
		return lb_conf_fail(x, s, NULL, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", v);
	if (mac[0] & 1)
		return lb_conf_fail(x, s, NULL, "'%s' is a multicast MAC address", v);
	if (memcmp(mac, zero, 6) == 0)
		return lb_conf_fail(x, s, NULL, "'%s' is the zero MAC address", v);
	memcpy((char *)base + cmd->off, mac, 6);
	return 0;
}

/* ---------------------------------------------------------------- lists */

int
lb_conf_set_bool(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		 void *base)
{
	bool v = config_setting_get_bool(s) != 0;

	(void)x;
	memcpy((char *)base + cmd->off, &v, sizeof(v));
	return 0;
}

/*
 * A list row: the count against the row's max, then each element through the
 * element row into its slot (defaults first), then the list's checks.
 */
int
lb_conf_set_list(struct lb_conf_ctx *x, const config_setting_t *s, const struct lb_conf_cmd *cmd,
		 void *base)
{
	const struct lb_conf_list *l = cmd->arg;
	const struct lb_conf_cmd *el = l->elem;
	int n = config_setting_length(s);
	char *arr;

	if (n == 0 && l->empty != NULL)
		return lb_conf_fail(x, s, NULL, "%s", l->empty);
	if (n > cmd->max)
		return lb_conf_fail(x, s, NULL, "%d %s, at most %lld", n, l->noun, cmd->max);
	if (n == 0)
		return l->done ? l->done(x, s, base) : 0;
	if (l->inline_array) {
		arr = (char *)base + l->array_off;
		memset(arr, 0, (size_t)n * l->elem_size);
	} else {
		arr = calloc((size_t)n, l->elem_size);
		if (arr == NULL)
			return lb_conf_fail_nomem(x, s);
		memcpy((char *)base + l->array_off, &arr, sizeof(arr));
	}
	lb_conf_store((char *)base + l->count_off, sizeof(uint32_t), (uint32_t)n);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		void *slot = arr + (size_t)i * l->elem_size;
		int rc = lb_conf_check_elem(x, e, el->type);

		if (rc < 0)
			return rc;
		if (el->flags & LB_CONF_DEF)
			lb_conf_store((char *)slot + el->off, el->size, el->def);
		if (el->type == LB_CONF_GROUP && el->arg != NULL)
			lb_conf_defaults(el->arg, slot);
		rc = el->set(x, e, el, slot);
		if (rc == 0 && l->check != NULL)
			rc = l->check(x, e, slot, i, base);
		if (rc < 0)
			return rc;
	}
	return l->done ? l->done(x, s, base) : 0;
}

/* ---------------------------------------------------------------- reading */

/* The deepest existing setting along rel ("backends.[2].address") below s. */
const config_setting_t *
lb_conf_resolve(const config_setting_t *s, const char *rel)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", rel);
	for (char *tok = strtok_r(buf, ".", &save); tok != NULL; tok = strtok_r(NULL, ".", &save)) {
		const config_setting_t *next = NULL;

		if (tok[0] == '[' && config_setting_is_aggregate(s))
			next = config_setting_get_elem(s, (unsigned)strtoul(tok + 1, NULL, 10));
		else if (tok[0] != '[' && config_setting_is_group(s))
			next = config_setting_get_member(s, tok);
		if (next == NULL)
			break;
		s = next;
	}
	return s;
}

/*
 * libconfig could not read the text. The message leaves out the main file's name:
 * the caller prints it ("edgelb-dp: FILE: syntax error (line 7)"); an @include'd
 * file is named.
 */
static int
read_error(struct lb_conf_ctx *x, config_t *cfg)
{
	const char *file = config_error_file(cfg);
	const char *text = config_error_text(cfg) ? config_error_text(cfg) : "cannot parse";

	if (x->err == NULL || x->errlen == 0)
		return LB_EINVAL;
	if (file != NULL && (x->file == NULL || strcmp(file, x->file) != 0))
		snprintf(x->err, x->errlen, "%s: %s (line %d)", file, text, config_error_line(cfg));
	else
		snprintf(x->err, x->errlen, "%s (line %d)", text, config_error_line(cfg));
	return LB_EINVAL;
}


/* Walk a libconfig tree that read successfully. */
static int
build(struct lb_conf_ctx *x, config_t *cfg, const struct lb_conf_cmd *root, void *base)
{
	int rc = lb_conf_walk(x, config_root_setting(cfg), root, base);

	if (rc == 0 && x->err != NULL && x->errlen > 0)
		x->err[0] = '\0';
	return rc;
}

int
lb_conf_read(struct lb_conf_ctx *x, const char *path, const char *text,
	     const struct lb_conf_cmd *root, void *base)
{
	config_t cfg;
	int rc;

	x->file = path;
	config_init(&cfg);
	if (path != NULL) {
		char dir[4096];
		const char *slash = strrchr(path, '/');
		/* libconfig only says "file I/O error"; open it first to report errno */
		FILE *f = fopen(path, "r");

		if (f == NULL) {
			if (x->err != NULL && x->errlen > 0)
				snprintf(x->err, x->errlen, "cannot open: %s", strerror(errno));
			config_destroy(&cfg);
			return LB_EINVAL;
		}
		fclose(f);
		/* @include "x.conf" resolves next to the main file */
		if (slash != NULL && (size_t)(slash - path) < sizeof(dir)) {
			size_t n = slash == path ? 1 : (size_t)(slash - path);

			memcpy(dir, path, n);
			dir[n] = '\0';
			config_set_include_dir(&cfg, dir);
		}
		rc = config_read_file(&cfg, path) == CONFIG_TRUE ? build(x, &cfg, root, base)
								 : read_error(x, &cfg);
	} else {
		rc = config_read_string(&cfg, text) == CONFIG_TRUE ? build(x, &cfg, root, base)
								   : read_error(x, &cfg);
	}
	config_destroy(&cfg);
	return rc;
}
