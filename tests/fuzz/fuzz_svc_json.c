/*
 * fuzz_svc_json.c - libFuzzer harness for the service JSON codec (dp/lib/svc_json.c).
 *
 * Any bytes are a service.upsert "service" object. A spec the decoder accepts
 * must encode, and the encoding must decode to the same encoding again (round
 * trip); a rejected one must say why. Seeds: the control protocol's examples.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lb_model.h"
#include "lb_svc_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
	struct lb_svc_spec s, s2;
	char err[512] = "";

	if (j == NULL)
		return 0;
	memset(&s, 0, sizeof(s));
	if (lb_svc_spec_from_json(j, &s, err, sizeof(err)) == 0) {
		json_t *out = lb_svc_spec_to_json(&s);
		if (out == NULL)
			abort();
		memset(&s2, 0, sizeof(s2));
		char err2[512] = "";
		if (lb_svc_spec_from_json(out, &s2, err2, sizeof(err2)) != 0)
			abort(); /* our own encoding rejected */
		json_t *out2 = lb_svc_spec_to_json(&s2);
		if (out2 == NULL || !json_equal(out, out2))
			abort(); /* not a fixed point */
		json_decref(out2);
		json_decref(out);
		lb_svc_spec_free(&s2);
		lb_svc_spec_free(&s);
	} else if (err[0] == '\0') {
		abort();
	}
	json_decref(j);
	return 0;
}
