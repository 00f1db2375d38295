/*
 * fuzz_ctl.c - libFuzzer harness for the control socket's request handler
 * (dp/control/ctl_ops.c), on a whole dp in process (fuzz_dp.h).
 *
 * Input: any bytes, as one request line (the socket layer cuts lines at '\n' and
 * caps their length; the handler must take anything). The dp keeps its state
 * between inputs, as it does between a client's requests: services upserted by
 * one input are there for the next. Oracles:
 *  - every input gets exactly one reply: one line of JSON, an object with "ok";
 *  - a failure carries "code" and "error" strings;
 *  - the reply's "id" is the request's "id" when the request was an object;
 *  - after a service.upsert or service.delete that succeeded, the service table
 *    is consistent: service.list lists what the dp counts, and every listed
 *    service passes the contract's validator.
 * Seeds: the requests of docs/control-protocol.md and tests/dp/case_ctl*.py.
 */
#define _GNU_SOURCE /* sched_getaffinity (pipeline_eal.h) */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_ops.h"
#include "fuzz_dp.h"
#include "lb_model.h"
#include "lb_svc_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct lb_ctl_ops *ops;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_dp_init("ctl");
	ops = lb_ctl_ops_create(&fz_dp);
	if (ops == NULL)
		exit(1);
	return 0;
}

static json_t *
ask(const char *line, size_t len)
{
	char *r = lb_ctl_ops_handle(ops, line, len, rte_rdtsc());
	json_error_t je;

	if (r == NULL)
		abort();
	if (strchr(r, '\n') != NULL)
		abort(); /* one reply, one line */
	json_t *j = json_loads(r, 0, &je);
	free(r);
	if (!json_is_object(j) || !json_is_boolean(json_object_get(j, "ok")))
		abort();
	if (json_is_false(json_object_get(j, "ok")) &&
	    (!json_is_string(json_object_get(j, "code")) ||
	     !json_is_string(json_object_get(j, "error"))))
		abort();
	return j;
}

static void
check_table(void)
{
	static const char list[] = "{\"op\":\"service.list\"}";
	json_t *r = ask(list, sizeof(list) - 1);
	json_t *svcs = json_object_get(json_object_get(r, "result"), "services");
	size_t i;
	json_t *s;

	if (!json_is_array(svcs) || json_array_size(svcs) != lb_svcs_count(fz_dp.svcs))
		abort();
	json_array_foreach(svcs, i, s) {
		struct lb_svc_spec spec;
		char err[512];
		json_t *c = json_deep_copy(s);
		/* what service.list adds to a spec */
		json_object_del(c, "id");
		json_object_del(c, "version");
		json_object_del(c, "table_digest");
		json_object_del(c, "generation");
		json_t *bs = json_object_get(c, "backends");
		size_t k;
		json_t *b;
		json_array_foreach(bs, k, b) {
			json_object_del(b, "neighbour");
			json_object_del(b, "unresolved");
		}
		if (lb_svc_spec_from_json(c, &spec, err, sizeof(err)) != 0)
			abort(); /* the dp lists a service it would refuse */
		lb_svc_spec_free(&spec);
		json_decref(c);
	}
	json_decref(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *req = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	json_t *r = ask((const char *)data, size);

	if (json_is_object(req)) {
		json_t *id = json_object_get(req, "id");
		json_t *rid = json_object_get(r, "id");
		if (id != NULL && (rid == NULL || !json_equal(id, rid)))
			abort(); /* the reply does not say which request it answers */
	}
	/* The table check costs a listing: only after a change (keeps each exec fast). */
	bool changed = json_is_true(json_object_get(r, "ok")) &&
		       json_is_string(json_object_get(req, "op")) &&
		       strcmp(json_string_value(json_object_get(req, "op")), "service.list") != 0 &&
		       strncmp(json_string_value(json_object_get(req, "op")), "service.", 8) == 0;
	json_decref(req);
	json_decref(r);
	lb_svcs_reclaim(fz_dp.svcs);
	if (changed)
		check_table();
	return 0;
}
