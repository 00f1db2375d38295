/*
 * fuzz_cp_lb.c - libFuzzer harness for the cp's REST JSON decoder (cp/lib/lb_decode.c).
 *
 * Any bytes are a request body. Each decoder sees it: POST/PUT (cp_lb_from_json),
 * PUT .../backends (cp_lb_backends_from_json) and the state file (cp_lb_from_state_json).
 * Oracles:
 *  - a rejection says why;
 *  - an accepted body encodes (cp_lb_to_json), the API accepts its own answer back
 *    (a client that GETs and PUTs unchanged), and that decodes to the same encoding;
 *  - a state-file object encodes and decodes to the same JSON, status included;
 *  - given addresses, every dp service it makes passes the dp's own validator
 *    (lb_svc_spec_validate): the dp would never refuse what the cp accepted.
 * Seeds: the unit tests' bodies (tests/test_lb.c, test_cpconf.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lb.h"
#include "lb_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cp_health_check hc_defaults = {
	.type = CP_HC_TCP, .interval_ms = 2000, .timeout_ms = 1000, .rise = 2, .fall = 3,
};

/* Every dp spec of lb (with one address per family it serves) must validate. */
static void
check_dp_specs(struct cp_lb *lb)
{
	struct lb_svc_spec *v;
	uint32_t n;
	char err[512];

	lb->n_ips = 0;
	if (lb->families & LB_FAMILY_V4)
		lb_addr_parse("198.18.0.100", &lb->ips[lb->n_ips++]);
	if (lb->families & LB_FAMILY_V6)
		lb_addr_parse("2001:db8::100", &lb->ips[lb->n_ips++]);
	if (cp_lb_dp_specs(lb, NULL, &v, &n) != 0)
		return; /* out of memory only */
	for (uint32_t i = 0; i < n; i++) {
		if (lb_svc_spec_validate(&v[i], err, sizeof(err)) != 0)
			abort(); /* the cp made a service the dp refuses */
		lb_svc_spec_free(&v[i]);
	}
	free(v);
	lb->n_ips = 0;
}

static void
api_body(const json_t *j)
{
	struct cp_lb lb, lb2;
	char err[512] = "", err2[512] = "";

	if (cp_lb_from_json(j, &lb, &hc_defaults, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	json_t *e1 = cp_lb_to_json(&lb, NULL);
	if (e1 == NULL)
		abort();
	if (cp_lb_from_json(e1, &lb2, &hc_defaults, err2, sizeof(err2)) != 0)
		abort(); /* our own answer refused */
	json_t *e2 = cp_lb_to_json(&lb2, NULL);
	if (e2 == NULL || !json_equal(e1, e2))
		abort(); /* not a fixed point */
	json_decref(e2);
	cp_lb_free(&lb2);

	/* PUT .../backends on this lb with the same body */
	err[0] = '\0';
	if (cp_lb_backends_from_json(j, &lb, err, sizeof(err)) != 0 && err[0] == '\0')
		abort();
	check_dp_specs(&lb);
	json_decref(e1);
	cp_lb_free(&lb);
}

static void
state_object(const json_t *j)
{
	struct cp_lb lb, lb2;
	char err[512] = "";

	if (cp_lb_from_state_json(j, &lb, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	json_t *e1 = cp_lb_to_json(&lb, NULL);
	if (e1 == NULL)
		abort();
	if (cp_lb_from_state_json(e1, &lb2, err, sizeof(err)) != 0)
		abort(); /* the state file cannot read back what it wrote */
	json_t *e2 = cp_lb_to_json(&lb2, NULL);
	if (e2 == NULL || !json_equal(e1, e2))
		abort();
	json_decref(e2);
	json_decref(e1);
	cp_lb_free(&lb2);
	cp_lb_free(&lb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			       &je);
	struct cp_lb lb;
	char err[512] = "";

	if (j == NULL)
		return 0;
	api_body(j);
	state_object(j);
	/* PUT .../backends on a fresh dual-stack lb */
	cp_lb_init(&lb, &hc_defaults);
	lb.families = LB_FAMILY_V4 | LB_FAMILY_V6;
	if (cp_lb_backends_from_json(j, &lb, err, sizeof(err)) != 0 && err[0] == '\0')
		abort();
	cp_lb_free(&lb);
	json_decref(j);
	return 0;
}
