/*
 * cpconf.c - edgelb-cp configuration (see cpconf.h).
 *
 * Called by cp/main.c at start and on SIGHUP. Strict like the dp's parser:
 * unknown settings and wrong types are errors that name the setting and line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "cpconf.h"
#include "lb_error.h"

struct ctx {
	char *err;
	size_t errlen;
};

static int
fail(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s)
		snprintf(x->err, x->errlen, "%s (line %d)", msg, config_setting_source_line(s));
	else
		snprintf(x->err, x->errlen, "%s", msg);
	return LB_EINVAL;
}

/* Every child of group g must be named in names (NULL-terminated). */
static int
known(struct ctx *x, const config_setting_t *g, const char *path, const char *const *names)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
		const char *n = config_setting_name(c);
		bool ok = false;
		for (const char *const *k = names; *k; k++)
			ok |= n && strcmp(n, *k) == 0;
		if (!ok)
			return fail(x, c, "%s%s: unknown setting", path, n ? n : "?");
	}
	return 0;
}

static int
get_str(struct ctx *x, const config_setting_t *g, const char *path, const char *name, char *out,
	size_t len)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(x, s, "%s%s: must be a string", path, name);
	const char *v = config_setting_get_string(s);
	if (strlen(v) >= len)
		return fail(x, s, "%s%s: longer than %zu characters", path, name, len - 1);
	snprintf(out, len, "%s", v);
	return 0;
}

static int
get_uint(struct ctx *x, const config_setting_t *g, const char *path, const char *name,
	 uint32_t lo, uint32_t hi, uint32_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
		return fail(x, s, "%s%s: must be an integer", path, name);
	long long v = config_setting_get_int64(s);
	if (v < lo || v > hi)
		return fail(x, s, "%s%s: must be %u..%u", path, name, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

static int
get_bool(struct ctx *x, const config_setting_t *g, const char *path, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(x, s, "%s%s: must be true or false", path, name);
	*out = config_setting_get_bool(s);
	return 0;
}

static int
parse_hc(struct ctx *x, const config_setting_t *g, struct cp_health_check *hc)
{
	static const char *const names[] = {"type", "path", "port", "interval_ms", "timeout_ms",
					    "rise", "fall", NULL};
	char type[16] = "";
	uint32_t port = hc->port;
	int rc;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(x, g, "health_check: must be a group");
	if ((rc = known(x, g, "health_check.", names)) < 0 ||
	    (rc = get_str(x, g, "health_check.", "type", type, sizeof(type))) < 0 ||
	    (rc = get_str(x, g, "health_check.", "path", hc->path, sizeof(hc->path))) < 0 ||
	    (rc = get_uint(x, g, "health_check.", "port", 0, 65535, &port)) < 0 ||
	    (rc = get_uint(x, g, "health_check.", "interval_ms", 100, 3600000, &hc->interval_ms)) < 0 ||
	    (rc = get_uint(x, g, "health_check.", "timeout_ms", 50, 60000, &hc->timeout_ms)) < 0 ||
	    (rc = get_uint(x, g, "health_check.", "rise", 1, 100, &hc->rise)) < 0 ||
	    (rc = get_uint(x, g, "health_check.", "fall", 1, 100, &hc->fall)) < 0)
		return rc;
	hc->port = (uint16_t)port;
	if (type[0]) {
		if (strcmp(type, "none") == 0)
			hc->type = CP_HC_NONE;
		else if (strcmp(type, "tcp") == 0)
			hc->type = CP_HC_TCP;
		else if (strcmp(type, "http") == 0)
			hc->type = CP_HC_HTTP;
		else
			return fail(x, config_setting_get_member(g, "type"),
				    "health_check.type: must be \"none\", \"tcp\" or \"http\"");
	}
	if (hc->path[0] != '/')
		return fail(x, g, "health_check.path: must start with '/'");
	if (hc->timeout_ms >= hc->interval_ms)
		return fail(x, g, "health_check.timeout_ms: must be below interval_ms");
	return 0;
}

static int
parse_pool(struct ctx *x, const config_setting_t *p, unsigned i, struct lb_pool_conf *pc)
{
	static const char *const names[] = {"name", "addresses", "auto_assign", "avoid_buggy_ips",
					    NULL};
	char path[32];
	int rc;

	snprintf(path, sizeof(path), "pools.[%u].", i);
	memset(pc, 0, sizeof(*pc));
	pc->auto_assign = true;
	if (config_setting_type(p) != CONFIG_TYPE_GROUP)
		return fail(x, p, "pools.[%u]: must be a group", i);
	if ((rc = known(x, p, path, names)) < 0 ||
	    (rc = get_str(x, p, path, "name", pc->name, sizeof(pc->name))) < 0 ||
	    (rc = get_bool(x, p, path, "auto_assign", &pc->auto_assign)) < 0 ||
	    (rc = get_bool(x, p, path, "avoid_buggy_ips", &pc->avoid_buggy_ips)) < 0)
		return rc;
	if (!cp_name_valid(pc->name))
		return fail(x, p, "%sname: must be a DNS label (a-z, 0-9, '-', at most 63)", path);
	const config_setting_t *a = config_setting_get_member(p, "addresses");
	if (a == NULL || config_setting_type(a) != CONFIG_TYPE_ARRAY || config_setting_length(a) == 0)
		return fail(x, a ? a : p, "%saddresses: must be a non-empty array of strings", path);
	if (config_setting_length(a) > LB_POOL_RANGES_MAX)
		return fail(x, a, "%saddresses: at most %d ranges", path, LB_POOL_RANGES_MAX);
	for (int k = 0; k < config_setting_length(a); k++) {
		const config_setting_t *e = config_setting_get_elem(a, (unsigned)k);
		const char *v = config_setting_get_string(e);
		if (v == NULL || lb_ip_range_parse(v, &pc->ranges[pc->n_ranges]) < 0)
			return fail(x, e, "%saddresses.[%d]: '%s' is not a CIDR, range or address", path,
				    k, v ? v : "?");
		pc->n_ranges++;
	}
	return 0;
}

static int
parse_k8s(struct ctx *x, const config_setting_t *g, struct cp_conf *c)
{
	static const char *const names[] = {"kubeconfig", "load_balancer_class", "default_class",
					    "resync_s", NULL};
	int rc;

	if ((rc = known(x, g, "kubernetes.", names)) < 0 ||
	    (rc = get_str(x, g, "kubernetes.", "kubeconfig", c->kubeconfig, sizeof(c->kubeconfig))) < 0 ||
	    (rc = get_str(x, g, "kubernetes.", "load_balancer_class", c->lb_class,
			  sizeof(c->lb_class))) < 0 ||
	    (rc = get_bool(x, g, "kubernetes.", "default_class", &c->default_class)) < 0 ||
	    (rc = get_uint(x, g, "kubernetes.", "resync_s", 10, 86400, &c->resync_s)) < 0)
		return rc;
	if (c->lb_class[0] == '\0')
		return fail(x, g, "kubernetes.load_balancer_class: must not be empty");
	return 0;
}

static int
parse_bgp(struct ctx *x, const config_setting_t *g, struct cp_bgp_conf *b)
{
	static const char *const names[] = {"enabled", "bird_socket", "include_file", "protocol",
					    "announce", "announce_always_pools", "check_interval_ms",
					    "dp_timeout_ms", "drain_timeout_s", NULL};
	char announce[16] = "";
	int rc;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return fail(x, g, "bgp: must be a group");
	if ((rc = known(x, g, "bgp.", names)) < 0 ||
	    (rc = get_bool(x, g, "bgp.", "enabled", &b->enabled)) < 0 ||
	    (rc = get_str(x, g, "bgp.", "bird_socket", b->bird_socket, sizeof(b->bird_socket))) < 0 ||
	    (rc = get_str(x, g, "bgp.", "include_file", b->include_file,
			  sizeof(b->include_file))) < 0 ||
	    (rc = get_str(x, g, "bgp.", "protocol", b->protocol, sizeof(b->protocol) - 1)) < 0 ||
	    (rc = get_str(x, g, "bgp.", "announce", announce, sizeof(announce))) < 0 ||
	    (rc = get_uint(x, g, "bgp.", "check_interval_ms", 20, 5000, &b->check_interval_ms)) < 0 ||
	    (rc = get_uint(x, g, "bgp.", "dp_timeout_ms", 100, 60000, &b->dp_timeout_ms)) < 0 ||
	    (rc = get_uint(x, g, "bgp.", "drain_timeout_s", 0, 86400 * 7, &b->drain_timeout_s)) < 0)
		return rc;
	if (announce[0]) {
		if (strcmp(announce, "ready") == 0)
			b->announce_always = false;
		else if (strcmp(announce, "always") == 0)
			b->announce_always = true;
		else
			return fail(x, config_setting_get_member(g, "announce"),
				    "bgp.announce: must be \"ready\" or \"always\"");
	}
	/* A BIRD symbol: a letter, then letters, digits and '_'. */
	for (const char *p = b->protocol; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (p > b->protocol && *p >= '0' && *p <= '9')))
			return fail(x, config_setting_get_member(g, "protocol"),
				    "bgp.protocol: must be a BIRD name ([A-Za-z_][A-Za-z0-9_]*)");
	if (b->protocol[0] == '\0')
		return fail(x, g, "bgp.protocol: must not be empty");
	const config_setting_t *a = config_setting_get_member(g, "announce_always_pools");
	if (a) {
		if (config_setting_type(a) != CONFIG_TYPE_ARRAY)
			return fail(x, a, "bgp.announce_always_pools: must be an array of pool names");
		if (config_setting_length(a) > CP_BGP_MAX_ALWAYS)
			return fail(x, a, "bgp.announce_always_pools: at most %d", CP_BGP_MAX_ALWAYS);
		for (int k = 0; k < config_setting_length(a); k++) {
			const char *v = config_setting_get_string_elem(a, (unsigned)k);
			if (v == NULL || !cp_name_valid(v))
				return fail(x, a, "bgp.announce_always_pools.[%d]: not a pool name", k);
			snprintf(b->always_pools[b->n_always_pools++], LB_POOL_NAME_MAX, "%s", v);
		}
	}
	if (b->enabled && (b->bird_socket[0] == '\0' || b->include_file[0] == '\0'))
		return fail(x, g, "bgp: bird_socket and include_file must not be empty");
	return 0;
}

static int
parse(config_t *cfg, struct cp_conf *c, struct ctx *x)
{
	static const char *const names[] = {"mode", "dp_socket", "api", "state_file", "pools",
					    "health_check", "kubernetes", "bgp", NULL};
	static const char *const api_names[] = {"listen", "token", "token_file", NULL};
	const config_setting_t *root = config_root_setting(cfg), *g;
	char mode[32] = "", token_file[CP_PATH_MAX] = "";
	int rc;

	if ((rc = known(x, root, "", names)) < 0 ||
	    (rc = get_str(x, root, "", "mode", mode, sizeof(mode))) < 0 ||
	    (rc = get_str(x, root, "", "dp_socket", c->dp_socket, sizeof(c->dp_socket))) < 0 ||
	    (rc = get_str(x, root, "", "state_file", c->state_file, sizeof(c->state_file))) < 0)
		return rc;
	if (mode[0]) {
		if (strcmp(mode, "standalone") == 0)
			c->mode = CP_MODE_STANDALONE;
		else if (strcmp(mode, "kubernetes") == 0)
			c->mode = CP_MODE_KUBERNETES;
		else
			return fail(x, config_setting_get_member(root, "mode"),
				    "mode: must be \"standalone\" or \"kubernetes\"");
	}
	if ((g = config_setting_get_member(root, "api")) != NULL) {
		if ((rc = known(x, g, "api.", api_names)) < 0 ||
		    (rc = get_str(x, g, "api.", "listen", c->api_listen, sizeof(c->api_listen))) < 0 ||
		    (rc = get_str(x, g, "api.", "token", c->api_token, sizeof(c->api_token))) < 0 ||
		    (rc = get_str(x, g, "api.", "token_file", token_file, sizeof(token_file))) < 0)
			return rc;
		struct sockaddr_storage ss;
		socklen_t sl;
		bool v6;
		if (cp_listen_parse(c->api_listen, &ss, &sl, &v6) < 0)
			return fail(x, config_setting_get_member(g, "listen"),
				    "api.listen: '%s' is not address:port (e.g. \"127.0.0.1:8470\")",
				    c->api_listen);
		if (token_file[0]) {
			FILE *f = fopen(token_file, "r");
			if (f == NULL || fgets(c->api_token, sizeof(c->api_token), f) == NULL) {
				if (f)
					fclose(f);
				return fail(x, g, "api.token_file: cannot read '%s'", token_file);
			}
			fclose(f);
			c->api_token[strcspn(c->api_token, "\r\n")] = '\0';
		}
	}
	if ((g = config_setting_get_member(root, "health_check")) != NULL &&
	    (rc = parse_hc(x, g, &c->hc)) < 0)
		return rc;
	if ((g = config_setting_get_member(root, "kubernetes")) != NULL &&
	    (rc = parse_k8s(x, g, c)) < 0)
		return rc;
	if ((g = config_setting_get_member(root, "bgp")) != NULL && (rc = parse_bgp(x, g, &c->bgp)) < 0)
		return rc;
	if ((g = config_setting_get_member(root, "pools")) != NULL) {
		if (config_setting_type(g) != CONFIG_TYPE_LIST)
			return fail(x, g, "pools: must be a list ( {...}, ... )");
		if (config_setting_length(g) > CP_MAX_POOLS)
			return fail(x, g, "pools: at most %d", CP_MAX_POOLS);
		for (int i = 0; i < config_setting_length(g); i++) {
			rc = parse_pool(x, config_setting_get_elem(g, (unsigned)i), (unsigned)i,
					&c->pools[c->n_pools]);
			if (rc < 0)
				return rc;
			for (uint32_t k = 0; k < c->n_pools; k++)
				if (strcmp(c->pools[k].name, c->pools[c->n_pools].name) == 0)
					return fail(x, config_setting_get_elem(g, (unsigned)i),
						    "pools.[%d].name: '%s' is used twice", i,
						    c->pools[k].name);
			c->n_pools++;
		}
	}
	if (c->dp_socket[0] == '\0')
		return fail(x, NULL, "dp_socket: must not be empty");
	if (c->state_file[0] == '\0')
		return fail(x, NULL, "state_file: must not be empty");
	return 0;
}

/* "127.0.0.1:8470", "[::1]:8470", "0.0.0.0:8470" -> socket address. */
int
cp_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *sl, bool *v6)
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
	c->mode = CP_MODE_STANDALONE;
	snprintf(c->dp_socket, sizeof(c->dp_socket), "/run/edgelb/dp.sock");
	snprintf(c->api_listen, sizeof(c->api_listen), "127.0.0.1:8470");
	snprintf(c->state_file, sizeof(c->state_file), "/var/lib/edgelb/state.json");
	c->hc.type = CP_HC_NONE;
	snprintf(c->hc.path, sizeof(c->hc.path), "/");
	c->hc.interval_ms = 2000;
	c->hc.timeout_ms = 1000;
	c->hc.rise = 2;
	c->hc.fall = 3;
	snprintf(c->lb_class, sizeof(c->lb_class), "edgelb.io/lb");
	c->resync_s = 300;
	snprintf(c->bgp.bird_socket, sizeof(c->bgp.bird_socket), "/run/bird/bird.ctl");
	snprintf(c->bgp.include_file, sizeof(c->bgp.include_file), "/etc/bird/edgelb-vips.conf");
	snprintf(c->bgp.protocol, sizeof(c->bgp.protocol), "edgelb");
	c->bgp.check_interval_ms = 100;
	c->bgp.dp_timeout_ms = 1000;
	c->bgp.drain_timeout_s = 300;
}

static int
finish(config_t *cfg, int ok, const char *path, struct cp_conf *c, char *err, size_t errlen)
{
	struct ctx x = {err, errlen};
	int rc;

	if (!ok) {
		/* main.c names the file; name it here only when it is an @include. */
		const char *file = config_error_file(cfg);
		if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "cannot read the file: %s", strerror(errno));
		else if (file && (!path || strcmp(file, path) != 0))
			snprintf(err, errlen, "%s: %s (line %d)", file, config_error_text(cfg),
				 config_error_line(cfg));
		else
			snprintf(err, errlen, "%s (line %d)", config_error_text(cfg), config_error_line(cfg));
		config_destroy(cfg);
		return LB_EINVAL;
	}
	cp_conf_defaults(c);
	rc = parse(cfg, c, &x);
	config_destroy(cfg);
	return rc;
}

int
cp_conf_load(const char *path, struct cp_conf *c, char *err, size_t errlen)
{
	config_t cfg;

	config_init(&cfg);
	return finish(&cfg, config_read_file(&cfg, path) == CONFIG_TRUE, path, c, err, errlen);
}

int
cp_conf_parse(const char *text, struct cp_conf *c, char *err, size_t errlen)
{
	config_t cfg;

	config_init(&cfg);
	return finish(&cfg, config_read_string(&cfg, text) == CONFIG_TRUE, NULL, c, err, errlen);
}
