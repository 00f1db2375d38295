/*
 * test_k8s_limits.c - unit tests for cp/lib/k8s_svc.c at the size limits of what it
 * keeps (issue 10 finding 11): annotation values that do not fit are refused
 * with an error naming the annotation, never cut. A cut sharing key is another
 * key (two keys equal in their first 127 bytes would share an address), and a
 * cut inside a UTF-8 character came back from the state file as '?'.
 * Also the controller's cache at its limits (finding 9): a slim copy of a slice
 * translates like the full one; a 253-character slice name makes a whole key.
 * (tests/test_k8s_svc.c holds the rest of the module's tests.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "k8s_svc.h"
#include "lb.h"
#include "lb_error.h"
#include "json_fixture.h"

static const char base_svc[] =
	"{'apiVersion': 'v1', 'kind': 'Service',"
	" 'metadata': {'name': 'web', 'namespace': 'shop', 'uid': 'u1', 'annotations': {}},"
	" 'spec': {'type': 'LoadBalancer', 'loadBalancerClass': 'edgelb.io/lb',"
	"  'ipFamilies': ['IPv4'], 'ipFamilyPolicy': 'SingleStack',"
	"  'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 80, 'targetPort': 8080}]}}";

static const struct cp_health_check hc = {
	.type = CP_HC_NONE, .path = "/", .interval_ms = 2000, .timeout_ms = 1000, .rise = 2, .fall = 3,
};

/* base_svc with annotation key = value. */
static json_t *
svc_ann(const char *key, const char *value)
{
	json_t *s = jload(base_svc);

	json_object_set_new(json_object_get(json_object_get(s, "metadata"), "annotations"), key,
			    json_string(value));
	return s;
}

/* A string of n bytes: 'k' repeated, or a 2-byte UTF-8 character ("é") straddling the end. */
static char *
str_of(size_t n, bool utf8_at_cut, size_t cut)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, 'k', n);
	s[n] = '\0';
	if (utf8_at_cut) {
		s[cut - 1] = (char)0xc3; /* the character starts at the last byte that would fit */
		s[cut] = (char)0xa9;
	}
	return s;
}

static int
translate(json_t *svc, struct cp_lb *lb, char *err, size_t errlen)
{
	char warn[256];
	json_t *none = json_array();
	int rc = cp_k8s_svc_translate(svc, none, &hc, lb, warn, sizeof(warn), err, errlen);

	json_decref(none);
	json_decref(svc);
	return rc;
}

static void
test_sharing_key_of_the_longest_length_is_kept_whole(void **state)
{
	struct cp_lb lb;
	char err[256] = "";
	char *key = str_of(LB_SHARING_KEY_MAX - 1, false, 0);

	(void)state;
	assert_int_equal(translate(svc_ann(CP_ANN_SHARE, key), &lb, err, sizeof(err)), 0);
	assert_string_equal(lb.sharing_key, key);
	cp_lb_free(&lb);
	free(key);
}

static void
test_sharing_key_one_byte_too_long_is_refused_not_cut(void **state)
{
	struct cp_lb lb;
	char err[256] = "";
	char *key = str_of(LB_SHARING_KEY_MAX, false, 0);

	(void)state;
	assert_int_equal(translate(svc_ann(CP_ANN_SHARE, key), &lb, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, CP_ANN_SHARE));
	assert_non_null(strstr(err, "at most 127"));
	free(key);
}

static void
test_sharing_keys_equal_in_their_first_127_bytes_are_not_one_key(void **state)
{
	struct cp_lb lb;
	char err[256] = "";
	char *a = str_of(200, false, 0), *b = str_of(200, false, 0);

	(void)state;
	b[150] = 'x';
	/* Both refused: neither can stand for the other. */
	assert_int_equal(translate(svc_ann(CP_ANN_SHARE, a), &lb, err, sizeof(err)), LB_EINVAL);
	assert_int_equal(translate(svc_ann(CP_ANN_SHARE, b), &lb, err, sizeof(err)), LB_EINVAL);
	free(a);
	free(b);
}

static void
test_sharing_key_with_utf8_across_the_limit_is_refused(void **state)
{
	struct cp_lb lb;
	char err[256] = "";
	/* 128 bytes, "é" in bytes 126-127: a cut at 127 would leave half a character. */
	char *key = str_of(LB_SHARING_KEY_MAX, true, LB_SHARING_KEY_MAX - 1);

	(void)state;
	assert_int_equal(translate(svc_ann(CP_ANN_SHARE, key), &lb, err, sizeof(err)), LB_EINVAL);
	free(key);
}

static void
test_sharing_key_with_utf8_survives_the_state_file(void **state)
{
	struct cp_lb lb, back;
	char err[256] = "";
	/* 127 bytes ending in "é": fits, and must come back byte for byte. */
	char *key = str_of(LB_SHARING_KEY_MAX - 1, true, LB_SHARING_KEY_MAX - 2);

	(void)state;
	assert_int_equal(translate(svc_ann(CP_ANN_SHARE, key), &lb, err, sizeof(err)), 0);
	json_t *j = cp_lb_to_json(&lb, NULL);
	assert_non_null(j);
	if (cp_lb_from_state_json(j, &back, err, sizeof(err)) != 0)
		fail_msg("state file would not load: %s", err);
	assert_memory_equal(back.sharing_key, key, LB_SHARING_KEY_MAX - 1);
	json_decref(j);
	cp_lb_free(&lb);
	cp_lb_free(&back);
	free(key);
}

static void
test_address_pool_too_long_is_refused_not_cut(void **state)
{
	struct cp_lb lb;
	char err[256] = "";
	char *ok = str_of(LB_POOL_NAME_MAX - 1, false, 0), *bad = str_of(LB_POOL_NAME_MAX, false, 0);

	(void)state;
	assert_int_equal(translate(svc_ann(CP_ANN_POOL, ok), &lb, err, sizeof(err)), 0);
	assert_string_equal(lb.pool, ok);
	cp_lb_free(&lb);
	assert_int_equal(translate(svc_ann(CP_ANN_POOL, bad), &lb, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, CP_ANN_POOL));
	free(ok);
	free(bad);
}

static void
test_overlong_address_list_annotations_are_refused(void **state)
{
	struct cp_lb lb;
	char err[256] = "";
	char *ips = str_of(2000, false, 0), *ranges = str_of(2000, false, 0);

	(void)state;
	/* Cut at 1023 bytes, "198.18.0.1,   ...  ,198.18.0.2" would lose its tail. */
	memcpy(ips, "198.18.0.1,", 11);
	memset(ips + 11, ' ', 2000 - 22);
	memcpy(ips + 2000 - 11, ",198.18.0.2", 11);
	assert_int_equal(translate(svc_ann(CP_ANN_IPS, ips), &lb, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, CP_ANN_IPS));
	assert_int_equal(translate(svc_ann(CP_ANN_RANGES, ranges), &lb, err, sizeof(err)), LB_EINVAL);
	assert_non_null(strstr(err, CP_ANN_RANGES));
	free(ips);
	free(ranges);
}

static const char full_slice[] =
	"{'apiVersion': 'discovery.k8s.io/v1', 'kind': 'EndpointSlice',"
	" 'metadata': {'name': 'web-x1', 'namespace': 'shop', 'uid': 'u2', 'resourceVersion': '7',"
	"  'labels': {'kubernetes.io/service-name': 'web', 'app': 'web',"
	"   'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io'},"
	"  'managedFields': [{'manager': 'kube-controller-manager', 'operation': 'Update'}],"
	"  'ownerReferences': [{'apiVersion': 'v1', 'kind': 'Service', 'name': 'web', 'uid': 'u1'}]},"
	" 'addressType': 'IPv4', 'ports': [{'name': 'http', 'protocol': 'TCP', 'port': 8080}],"
	" 'endpoints': ["
	"  {'addresses': ['198.19.0.11'], 'conditions': {'ready': true, 'serving': true, 'terminating': false},"
	"   'nodeName': 'node-a', 'zone': 'rack-1', 'hints': {'forZones': [{'name': 'rack-1'}]},"
	"   'targetRef': {'kind': 'Pod', 'namespace': 'shop', 'name': 'web-1', 'uid': 'p1'}},"
	"  {'addresses': ['198.19.0.12'], 'conditions': {'ready': false, 'serving': true, 'terminating': true},"
	"   'nodeName': 'node-b', 'targetRef': {'kind': 'Pod', 'namespace': 'shop', 'name': 'web-2', 'uid': 'p2'}}]}";

/* The cache keeps a slim copy of each slice: the same backends, none of the rest. */
static void
test_slim_slice_keeps_what_translate_reads_and_nothing_else(void **state)
{
	struct cp_lb a, b;
	char err[256] = "", warn[256];
	json_t *full = jload(full_slice), *slim = cp_k8s_svc_slim(full, true);
	json_t *svc = jload(base_svc);

	(void)state;
	char *text = json_dumps(slim, JSON_COMPACT);
	assert_null(strstr(text, "nodeName"));
	assert_null(strstr(text, "targetRef"));
	assert_null(strstr(text, "managedFields"));
	assert_null(strstr(text, "hints"));
	assert_null(strstr(text, "managed-by"));
	assert_true(strlen(text) < strlen(full_slice) / 2);
	free(text);
	json_t *l1 = json_pack("[O]", full), *l2 = json_pack("[O]", slim);
	assert_int_equal(cp_k8s_svc_translate(svc, l1, &hc, &a, warn, sizeof(warn), err, sizeof(err)), 0);
	assert_int_equal(cp_k8s_svc_translate(svc, l2, &hc, &b, warn, sizeof(warn), err, sizeof(err)), 0);
	json_t *ja = cp_lb_to_json(&a, NULL), *jb = cp_lb_to_json(&b, NULL);
	assert_true(json_equal(ja, jb));
	assert_int_equal(a.n_backends, 2);
	json_decref(ja);
	json_decref(jb);
	cp_lb_free(&a);
	cp_lb_free(&b);
	json_decref(l1);
	json_decref(l2);
	json_decref(full);
	json_decref(slim);
	json_decref(svc);
}

/* A slice's name may have 253 characters: its cache key must not be cut. */
static void
test_key_of_longest_slice_name_is_whole(void **state)
{
	char name[254], want[CP_KEY_MAX], key[CP_KEY_MAX];
	char ns[64];

	(void)state;
	memset(name, 'n', 253);
	name[253] = '\0';
	memset(ns, 's', 63);
	ns[63] = '\0';
	json_t *o = json_pack("{s:{s:s, s:s}}", "metadata", "name", name, "namespace", ns);
	snprintf(want, sizeof(want), "%s/%s", ns, name);
	assert_string_equal(cp_k8s_svc_key(o, key, sizeof(key)), want);
	assert_int_equal(strlen(key), 63 + 1 + 253);
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sharing_key_of_the_longest_length_is_kept_whole),
		cmocka_unit_test(test_sharing_key_one_byte_too_long_is_refused_not_cut),
		cmocka_unit_test(test_sharing_keys_equal_in_their_first_127_bytes_are_not_one_key),
		cmocka_unit_test(test_sharing_key_with_utf8_across_the_limit_is_refused),
		cmocka_unit_test(test_sharing_key_with_utf8_survives_the_state_file),
		cmocka_unit_test(test_address_pool_too_long_is_refused_not_cut),
		cmocka_unit_test(test_overlong_address_list_annotations_are_refused),
		cmocka_unit_test(test_slim_slice_keeps_what_translate_reads_and_nothing_else),
		cmocka_unit_test(test_key_of_longest_slice_name_is_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
