/*
 * json_fixture.h - fixtures for the cmocka tests of the JSON codecs.
 *
 * Fixtures are written in C strings with ' for " (readable), and addresses as text.
 * Include after <cmocka.h> and <jansson.h>.
 */
#ifndef LB_TEST_JSON_FIXTURE_H
#define LB_TEST_JSON_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "lb_addr.h"

/* Parse fixture text written with ' for "; any JSON value, not only objects. */
static inline json_t *
jload(const char *text)
{
	char *buf = strdup(text);
	json_error_t je;
	json_t *j;

	assert_non_null(buf);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = json_loads(buf, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		fail_msg("fixture is not JSON (%s, column %d): %s", je.text, je.column, buf);
	free(buf);
	return j;
}

static inline struct lb_addr
addr(const char *s)
{
	struct lb_addr a;

	assert_int_equal(lb_addr_parse(s, &a), 0);
	return a;
}

static inline struct lb_prefix
prefix(const char *s)
{
	struct lb_prefix p;

	assert_int_equal(lb_prefix_parse(s, &p, NULL, true), 0);
	return p;
}

#endif /* LB_TEST_JSON_FIXTURE_H */
