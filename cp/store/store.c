/*
 * store.c - the in-memory store: load balancers, their IPAM allocations and
 * backend health (see store.h): open, mutations, reads. The readers of the dp
 * sync thread, the health checker and /metrics are store_sync.c; the state
 * file's codec is state.c; what they share is store_impl.h.
 *
 * Any cp thread may call in (API, dp sync, health checker, Kubernetes
 * controller, main for reload); s->mu serialises them, and every change is
 * saved through state.c before it is answered.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb_error.h"
#include "state.h"
#include "store.h"
#include "store_impl.h"

static int
find(const struct cp_store *s, const char *ns, const char *name)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].lb.ns, ns) == 0 && strcmp(s->e[i].lb.name, name) == 0)
			return (int)i;
	return -1;
}

/* The state file's content now (state.c): every load balancer as cp_lb_to_json shows it. */
json_t *
cp_store_render(const struct cp_store *s)
{
	json_t *arr = json_array();

	for (uint32_t i = 0; arr && i < s->n; i++)
		json_array_append_new(arr, s->alloc_only ? cp_lb_alloc_json(&s->e[i].lb)
							 : cp_lb_to_json(&s->e[i].lb, NULL));
	return arr;
}

/* Write the file now, s->mu held throughout (a reload, with no change pending). */
static int
save(struct cp_store *s, char *err, size_t errlen)
{
	size_t len = 0;
	int rc = cp_state_save(s->path, cp_store_render(s), &len, err, errlen);

	if (rc == 0) {
		s->file_writes++;
		s->file_bytes += len;
	}
	return rc;
}

/* ---- allocation ------------------------------------------------------------ */

static void
ipam_req(const struct cp_lb *lb, const char *owner, struct lb_ipam_port *ports, uint32_t n_ports,
	 struct lb_ipam_req *r)
{
	memset(r, 0, sizeof(*r));
	r->owner = owner;
	r->families = lb->families;
	r->n_ips = lb->n_req_ips;
	memcpy(r->ips, lb->req_ips, sizeof(r->ips));
	r->pool = lb->pool;
	r->sharing_key = lb->sharing_key;
	r->ports = ports;
	r->n_ports = n_ports;
}

static void restore(struct cp_store *s, struct cp_lb *lb);

static uint8_t
family_bit(const struct lb_addr *a)
{
	return a->family == LB_AF_INET ? LB_FAMILY_V4 : LB_FAMILY_V6;
}

/*
 * Give lb its addresses. prefer (may be NULL): addresses it held before. For each
 * family lb still wants and names no address for, the held one is asked for
 * first, so a replaced spec, a reload or a restart never moves an address that
 * can stay (also when a family is added or dropped).
 */
static int
allocate(struct cp_store *s, struct cp_lb *lb, const struct lb_addr *prefer, uint32_t n_prefer,
	 char *err, size_t errlen)
{
	char owner[LB_OWNER_MAX];
	struct lb_ipam_port *ports = NULL;
	uint32_t n_ports = 0;
	struct lb_ipam_req r;
	int rc;

	if (lb->pool[0] && lb_ipam_pool_find(s->ipam, lb->pool) < 0) {
		snprintf(err, errlen, "pool: no pool named '%s'", lb->pool);
		return LB_ENOENT;
	}
	if ((rc = cp_lb_ipam_ports(lb, &ports, &n_ports)) < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	cp_lb_key(lb, owner, sizeof(owner));
	ipam_req(lb, owner, ports, n_ports, &r);
	rc = -1;
	struct lb_ipam_req rp = r;
	uint8_t named = 0;
	for (uint32_t i = 0; i < lb->n_req_ips; i++)
		named |= family_bit(&lb->req_ips[i]);
	for (uint32_t i = 0; i < n_prefer && rp.n_ips < 2; i++) {
		uint8_t f = family_bit(&prefer[i]);
		if ((lb->families & f) && !(named & f)) {
			rp.ips[rp.n_ips++] = prefer[i];
			named |= f;
		}
	}
	if (rp.n_ips > r.n_ips)
		rc = lb_ipam_assign(s->ipam, &rp, lb->ips, &lb->n_ips, lb->alloc_pool, err, errlen);
	if (rc < 0)
		rc = lb_ipam_assign(s->ipam, &r, lb->ips, &lb->n_ips, lb->alloc_pool, err, errlen);
	free(ports);
	if (rc == LB_ENOENT && lb->n_req_ips > 0)
		rc = LB_EINVAL; /* a requested IP outside every pool is a bad request */
	if (rc == 0)
		lb->status[0] = '\0';
	return rc;
}

/* Does lb hold one address of every family it wants? */
static bool
covered(const struct cp_lb *lb)
{
	uint8_t have = 0;

	for (uint32_t i = 0; i < lb->n_ips; i++)
		have |= family_bit(&lb->ips[i]);
	return lb->n_ips > 0 && have == lb->families;
}

/*
 * After a reload or a restart lb holds what a pool still holds (maybe not every
 * family): complete it, keeping what it has. On failure it keeps what it held and
 * says why in its status.
 */
static void
complete(struct cp_store *s, struct cp_lb *lb)
{
	char owner[LB_OWNER_MAX], e2[256];
	struct lb_addr held[2];
	uint32_t n = lb_ipam_lookup(s->ipam, cp_lb_key(lb, owner, sizeof(owner)), held);

	memcpy(lb->ips, held, sizeof(held));
	lb->n_ips = n;
	if (covered(lb))
		return;
	lb_ipam_release(s->ipam, owner);
	lb->n_ips = 0;
	if (allocate(s, lb, held, n, e2, sizeof(e2)) < 0) {
		snprintf(lb->status, sizeof(lb->status), "%s", e2);
		memcpy(lb->ips, held, sizeof(held));
		lb->n_ips = n;
		restore(s, lb);
	}
}

/* Put back an allocation exactly (undo of a failed change). */
static void
restore(struct cp_store *s, struct cp_lb *lb)
{
	char owner[LB_OWNER_MAX], err[256];
	struct lb_ipam_port *ports = NULL;
	uint32_t n_ports = 0;
	struct lb_ipam_req r;

	if (lb->n_ips == 0 || cp_lb_ipam_ports(lb, &ports, &n_ports) < 0)
		return;
	cp_lb_key(lb, owner, sizeof(owner));
	ipam_req(lb, owner, ports, n_ports, &r);
	lb_ipam_restore(s->ipam, &r, lb->ips, lb->n_ips, err, sizeof(err));
	free(ports);
}

/* ---- open / close -------------------------------------------------------- */

static int
grow(struct cp_store *s)
{
	if (s->n < s->cap)
		return 0;
	uint32_t cap = s->cap ? s->cap * 2 : 64;
	struct entry *e = realloc(s->e, sizeof(*e) * cap);
	if (e == NULL)
		return LB_ENOMEM;
	s->e = e;
	s->cap = cap;
	return 0;
}

/* cp_state_load calls this for each load balancer of the state file, in order. */
static int
adopt(void *arg, struct cp_lb *lb_in)
{
	struct cp_store *s = arg;
	struct cp_lb lb = *lb_in;
	char e2[256];

	if (grow(s) < 0) {
		cp_lb_free(&lb);
		return LB_ENOMEM;
	}
	/* Keep every address a pool still holds; re-assign the others. */
	struct lb_addr held[2];
	uint32_t n_held = lb.n_ips;
	memcpy(held, lb.ips, sizeof(held));
	for (uint32_t h = 0; h < n_held; h++) {
		/* One at a time: an address no pool holds must not cost the other. */
		char owner[LB_OWNER_MAX];
		struct lb_ipam_port *ports = NULL;
		uint32_t np = 0;
		struct lb_ipam_req r;
		struct lb_addr have[2];
		uint32_t nh;
		cp_lb_ipam_ports(&lb, &ports, &np);
		cp_lb_key(&lb, owner, sizeof(owner));
		ipam_req(&lb, owner, ports, np, &r);
		nh = lb_ipam_lookup(s->ipam, owner, have);
		have[nh++] = held[h];
		lb_ipam_release(s->ipam, owner);
		if (lb_ipam_restore(s->ipam, &r, have, nh, e2, sizeof(e2)) < 0 && nh > 1)
			lb_ipam_restore(s->ipam, &r, have, nh - 1, e2, sizeof(e2));
		free(ports);
	}
	complete(s, &lb);
	cp_lb_log_moved(&lb, held, n_held);
	s->e[s->n].lb = lb;
	s->e[s->n].health = calloc(lb.n_backends ? lb.n_backends : 1, 1);
	s->n++;
	return 0;
}

struct cp_store *
cp_store_open(const struct cp_conf *c, char *err, size_t errlen)
{
	struct cp_store *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->changed, NULL);
	pthread_cond_init(&s->committed, NULL);
	snprintf(s->path, sizeof(s->path), "%s", c->state_file);
	s->hc_defaults = c->hc;
	s->ipam = lb_ipam_create(c->pools, c->n_pools);
	if (s->ipam == NULL) {
		snprintf(err, errlen, "pools: invalid (duplicate names?)");
		cp_store_close(s);
		return NULL;
	}
	if (cp_state_mkdir(s->path) < 0) {
		snprintf(err, errlen, "state file %s: cannot create its directory: %s", s->path,
			 strerror(errno));
		cp_store_close(s);
		return NULL;
	}
	/*
	 * Not saved here: a start that fails later (a port in use) must leave the
	 * file as it was; the next change writes whatever loading had to move.
	 */
	if (cp_state_load(s->path, adopt, s, err, errlen) < 0) {
		cp_store_close(s);
		return NULL;
	}
	s->version = 1;
	s->alloc_only = c->mode == CP_MODE_KUBERNETES;
	s->ready = !s->alloc_only;
	return s;
}

void
cp_store_close(struct cp_store *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->n; i++) {
		cp_lb_free(&s->e[i].lb);
		free(s->e[i].health);
	}
	free(s->e);
	lb_ipam_destroy(s->ipam);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->changed);
	pthread_cond_destroy(&s->committed);
	free(s);
}

/* ---- mutations ----------------------------------------------------------- */

static void
undo_key(struct undo *u, const struct cp_lb *lb)
{
	snprintf(u->ns, sizeof(u->ns), "%s", lb->ns);
	snprintf(u->name, sizeof(u->name), "%s", lb->name);
}

/*
 * Undo one change whose write failed (commit.c calls it newest first, s->mu
 * held). Every change made after it is already undone, so the store is as the
 * change left it: the entry is found again by name, only its index may differ.
 */
void
cp_store_undo(struct cp_store *s, struct undo *u)
{
	char owner[LB_OWNER_MAX];
	int i = find(s, u->ns, u->name);

	switch (u->kind) {
	case UNDO_CREATE:
		if (i < 0)
			return;
		lb_ipam_release(s->ipam, cp_lb_key(&s->e[i].lb, owner, sizeof(owner)));
		cp_lb_free(&s->e[i].lb);
		free(s->e[i].health);
		memmove(&s->e[i], &s->e[i + 1], sizeof(s->e[0]) * (s->n - (uint32_t)i - 1));
		s->n--;
		return;
	case UNDO_REPLACE:
		if (i < 0)
			return;
		lb_ipam_release(s->ipam, cp_lb_key(&s->e[i].lb, owner, sizeof(owner)));
		cp_lb_free(&s->e[i].lb);
		free(s->e[i].health);
		s->e[i] = u->old;
		restore(s, &s->e[i].lb);
		return;
	case UNDO_DELETE: {
		/* grow() cannot fail here: the entry's slot was freed by the delete. */
		uint32_t at = u->index <= s->n ? u->index : s->n;
		memmove(&s->e[at + 1], &s->e[at], sizeof(s->e[0]) * (s->n - at));
		s->e[at] = u->old;
		s->n++;
		restore(s, &s->e[at].lb);
		return;
	}
	}
}

static json_t *
entry_json(const struct entry *e)
{
	return cp_lb_to_json(&e->lb, e->health);
}

int
cp_store_create(struct cp_store *s, struct cp_lb *lb, bool pending_ok, json_t **out, char *err,
		size_t errlen)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if (find(s, lb->ns, lb->name) >= 0) {
		snprintf(err, errlen, "load balancer %s/%s already exists", lb->ns, lb->name);
		rc = LB_EEXIST;
		goto out;
	}
	if ((rc = grow(s)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	lb->n_ips = 0;
	rc = allocate(s, lb, NULL, 0, err, errlen);
	if (rc < 0) {
		if (!pending_ok || rc == LB_EINVAL)
			goto out;
		snprintf(lb->status, sizeof(lb->status), "%s", err);
	}
	struct entry *e = &s->e[s->n++];
	struct undo u = {.kind = UNDO_CREATE};
	e->lb = *lb;
	e->health = calloc(lb->n_backends ? lb->n_backends : 1, 1);
	memset(lb, 0, sizeof(*lb)); /* moved */
	undo_key(&u, &e->lb);
	json_t *j = entry_json(e); /* as applied: e moves once s->mu is released */
	if ((rc = cp_store_commit(s, &u, err, errlen)) < 0) {
		json_decref(j); /* undone: the entry is gone again */
		goto out;
	}
	*out = j;
out:
	pthread_mutex_unlock(&s->mu);
	cp_lb_free(lb);
	return rc;
}

/* Same spec, same addresses, same status: as the state file would show them. */
static bool
same_lb(const struct cp_lb *a, const struct cp_lb *b)
{
	json_t *ja = cp_lb_to_json(a, NULL), *jb = cp_lb_to_json(b, NULL);
	bool same = ja && jb && json_equal(ja, jb);

	json_decref(ja);
	json_decref(jb);
	return same;
}

/* Health of backends that stay (same address and port) carries over. */
static uint8_t *
carry_health(const struct entry *old, const struct cp_lb *lb)
{
	uint8_t *h = calloc(lb->n_backends ? lb->n_backends : 1, 1);

	if (h == NULL)
		return NULL;
	for (uint32_t i = 0; i < lb->n_backends; i++)
		for (uint32_t j = 0; j < old->lb.n_backends; j++)
			if (lb_addr_eq(&lb->backends[i].addr, &old->lb.backends[j].addr) &&
			    lb->backends[i].port == old->lb.backends[j].port)
				h[i] = old->health[j];
	return h;
}

int
cp_store_replace(struct cp_store *s, struct cp_lb *lb, bool pending_ok, json_t **out, char *err,
		 size_t errlen)
{
	char owner[LB_OWNER_MAX];
	int rc;

	pthread_mutex_lock(&s->mu);
	int i = find(s, lb->ns, lb->name);
	if (i < 0) {
		snprintf(err, errlen, "no load balancer %s/%s", lb->ns, lb->name);
		rc = LB_ENOENT;
		goto out;
	}
	struct entry *e = &s->e[i];
	uint8_t *health = carry_health(e, lb);
	if (health == NULL) {
		rc = LB_ENOMEM;
		goto out;
	}
	/* Release, then allocate preferring the old addresses; undo on failure. */
	lb_ipam_release(s->ipam, cp_lb_key(lb, owner, sizeof(owner)));
	lb->n_ips = 0;
	rc = allocate(s, lb, e->lb.ips, e->lb.n_ips, err, errlen);
	if (rc < 0 && !(pending_ok && rc != LB_EINVAL)) {
		restore(s, &e->lb);
		free(health);
		goto out;
	}
	if (rc < 0)
		snprintf(lb->status, sizeof(lb->status), "%s", err);
	struct entry old = *e;
	e->lb = *lb;
	e->health = health;
	memset(lb, 0, sizeof(*lb));
	bool same = same_lb(&old.lb, &e->lb);
	if (same || (s->alloc_only && cp_lb_same_alloc(&old.lb, &e->lb))) {
		/* Kubernetes: endpoints changed, the allocation did not: nothing to write. */
		if (!same)
			bump(s);
		/* Nothing changed (a resync, a repeated PUT): no write, no dp update. */
		cp_lb_free(&old.lb);
		free(old.health);
		*out = entry_json(e);
		goto out;
	}
	struct undo u = {.kind = UNDO_REPLACE, .old = old};
	undo_key(&u, &e->lb);
	json_t *j = entry_json(e);
	if ((rc = cp_store_commit(s, &u, err, errlen)) < 0) {
		json_decref(j); /* undone: the old entry is back, its allocation restored */
		goto out;
	}
	cp_lb_free(&u.old.lb);
	free(u.old.health);
	*out = j;
out:
	pthread_mutex_unlock(&s->mu);
	cp_lb_free(lb);
	return rc;
}

int
cp_store_set_backends(struct cp_store *s, const char *ns, const char *name, const json_t *body,
		      json_t **out, char *err, size_t errlen)
{
	struct cp_lb lb;
	int rc;

	pthread_mutex_lock(&s->mu);
	int i = find(s, ns, name);
	if (i < 0) {
		pthread_mutex_unlock(&s->mu);
		snprintf(err, errlen, "no load balancer %s/%s", ns, name);
		return LB_ENOENT;
	}
	rc = cp_lb_copy(&lb, &s->e[i].lb);
	pthread_mutex_unlock(&s->mu);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	rc = cp_lb_backends_from_json(body, &lb, err, errlen);
	if (rc < 0) {
		cp_lb_free(&lb);
		return rc;
	}
	/* Same spec otherwise: the replace keeps the addresses. */
	return cp_store_replace(s, &lb, true, out, err, errlen);
}

int
cp_store_delete(struct cp_store *s, const char *ns, const char *name, json_t **out, char *err,
		size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	int i = find(s, ns, name);
	if (i < 0) {
		snprintf(err, errlen, "no load balancer %s/%s", ns, name);
		rc = LB_ENOENT;
		goto out;
	}
	struct undo u = {.kind = UNDO_DELETE, .old = s->e[i], .index = (uint32_t)i};
	struct entry gone = s->e[i];
	char owner[LB_OWNER_MAX];
	memmove(&s->e[i], &s->e[i + 1], sizeof(s->e[0]) * (s->n - (uint32_t)i - 1));
	s->n--;
	/* Released now, so a change in the same group may take it; undo restores it. */
	lb_ipam_release(s->ipam, cp_lb_key(&gone.lb, owner, sizeof(owner)));
	undo_key(&u, &gone.lb);
	if ((rc = cp_store_commit(s, &u, err, errlen)) < 0)
		goto out; /* undone: the entry is back where it was, with its addresses */
	*out = json_object();
	json_t *ips = json_array();
	char a[LB_ADDR_STRLEN];
	for (uint32_t k = 0; k < gone.lb.n_ips; k++)
		json_array_append_new(ips, json_string(lb_addr_format(&gone.lb.ips[k], a, sizeof(a))));
	json_object_set_new(*out, "deleted", json_string(owner));
	json_object_set_new(*out, "released", ips);
	cp_lb_free(&gone.lb);
	free(gone.health);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- reads ----------------------------------------------------------------- */

json_t *
cp_store_get(struct cp_store *s, const char *ns, const char *name)
{
	json_t *j = NULL;

	pthread_mutex_lock(&s->mu);
	int i = find(s, ns, name);
	if (i >= 0)
		j = entry_json(&s->e[i]);
	pthread_mutex_unlock(&s->mu);
	return j;
}

json_t *
cp_store_list(struct cp_store *s)
{
	json_t *a = json_array();

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < s->n; i++)
		json_array_append_new(a, entry_json(&s->e[i]));
	pthread_mutex_unlock(&s->mu);
	return a;
}

int
cp_store_copy(struct cp_store *s, const char *ns, const char *name, struct cp_lb *out)
{
	int rc = LB_ENOENT;

	pthread_mutex_lock(&s->mu);
	int i = find(s, ns, name);
	if (i >= 0)
		rc = cp_lb_copy(out, &s->e[i].lb);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
cp_store_keys(struct cp_store *s, bool pending_only, char ***keys, uint32_t *n)
{
	pthread_mutex_lock(&s->mu);
	*keys = calloc(s->n ? s->n : 1, sizeof(**keys));
	*n = 0;
	for (uint32_t i = 0; *keys && i < s->n; i++) {
		char k[LB_OWNER_MAX];
		if (pending_only && covered(&s->e[i].lb))
			continue;
		(*keys)[(*n)++] = strdup(cp_lb_key(&s->e[i].lb, k, sizeof(k)));
	}
	pthread_mutex_unlock(&s->mu);
	return *keys ? 0 : LB_ENOMEM;
}

static json_t *
usage_json(uint64_t size, uint64_t used)
{
	/* JSON integers are signed 64-bit: a huge IPv6 pool reports the largest one. */
	json_int_t sz = size > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)size;
	return json_pack("{s:I, s:I, s:I}", "size", sz, "used", (json_int_t)used, "free",
			 sz - (json_int_t)used);
}

json_t *
cp_store_pools(struct cp_store *s)
{
	json_t *a = json_array();

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i < lb_ipam_pool_count(s->ipam); i++) {
		struct lb_pool_usage u;
		if (lb_ipam_pool_usage(s->ipam, i, &u) < 0)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:o, s:o}", "name", u.name, "ipv4",
						   usage_json(u.size[0], u.used[0]), "ipv6",
						   usage_json(u.size[1], u.used[1])));
	}
	pthread_mutex_unlock(&s->mu);
	return a;
}

static void
released(const char *owner, const struct lb_addr *a, void *arg)
{
	(void)a;
	(void)arg;
	fprintf(stderr, "edgelb-cp: reload: %s lost its address (no pool holds it)\n", owner);
}

int
cp_store_reload(struct cp_store *s, const struct cp_conf *c, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	cp_store_quiesce(s); /* a reload is not undone: it waits for a quiet store */
	rc = lb_ipam_reload(s->ipam, c->pools, c->n_pools, released, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "pools: invalid");
		goto out;
	}
	s->hc_defaults = c->hc;
	/* Whoever lost an address (or was pending) gets one now if a pool has room. */
	for (uint32_t i = 0; i < s->n; i++)
		complete(s, &s->e[i].lb);
	rc = save(s, err, errlen);
	bump(s);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}
