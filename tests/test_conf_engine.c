/*
 * test_conf_engine.c - the shared configuration engine (dp/lib/conf_engine.c):
 * the list row (lists of groups and of scalars, inline and allocated), the
 * enum rows' case rule, booleans, and how errors name the setting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lb_conf_engine.h"
#include "lb_error.h"

struct item {
	char name[16];
	uint32_t weight;
	uint8_t mode;
	bool on;
};

struct top {
	uint32_t n_items;
	struct item *items;  /* allocated */
	uint32_t n_addrs;
	struct lb_addr addrs[4]; /* inline */
	int checked;             /* check hook calls */
	int done;                /* done hook calls */
};

static const struct lb_conf_cmd item_cmds[] = {
	{ "name", LB_CONF_STR, lb_conf_set_str, LB_CONF_FIELD(struct item, name), 1, 0, 0,
	  LB_CONF_REQ, NULL },
	{ "weight", LB_CONF_INT, lb_conf_set_uint, LB_CONF_FIELD(struct item, weight), 0, 100, 7,
	  LB_CONF_DEF, NULL },
	{ "mode", LB_CONF_STR, lb_conf_set_enum, LB_CONF_FIELD(struct item, mode), 0, 0,
	  LB_MODE_FNAT, LB_CONF_DEF, lb_mode_names },
	{ "on", LB_CONF_BOOL, lb_conf_set_bool, LB_CONF_FIELD(struct item, on), 0, 0, 1,
	  LB_CONF_DEF, NULL },
	LB_CONF_END,
};

/* Names are unique: the check hook sees the elements before it. */
static int
check_item(struct lb_conf_ctx *x, const config_setting_t *e, void *elem, int i, void *base)
{
	struct top *t = base;
	const struct item *it = elem;

	t->checked++;
	assert_ptr_equal(elem, &t->items[i]);
	for (int j = 0; j < i; j++)
		if (strcmp(t->items[j].name, it->name) == 0)
			return lb_conf_fail(x, e, "name", "'%s' is already items.[%d]", it->name, j);
	return 0;
}

static int
done_items(struct lb_conf_ctx *x, const config_setting_t *list, void *base)
{
	(void)x;
	(void)list;
	((struct top *)base)->done++;
	return 0;
}

static const struct lb_conf_cmd item_elem = {
	NULL, LB_CONF_GROUP, lb_conf_set_group, 0, 0, 0, 0, 0, 0, item_cmds,
};
static const struct lb_conf_list items_list = {
	&item_elem, sizeof(struct item), offsetof(struct top, items), false,
	offsetof(struct top, n_items), "items", NULL, check_item, done_items,
};

static const struct lb_conf_cmd addr_elem = {
	NULL, LB_CONF_STR, lb_conf_set_addr, 0, sizeof(struct lb_addr), 0, 0, 0, 0, NULL,
};
static const struct lb_conf_list addrs_list = {
	&addr_elem, sizeof(struct lb_addr), offsetof(struct top, addrs), true,
	offsetof(struct top, n_addrs), "addresses", "at least one address is required", NULL, NULL,
};

static const struct lb_conf_cmd root_cmds[] = {
	{ "items", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, 3, 0, 0, &items_list },
	{ "addrs", LB_CONF_SEQ, lb_conf_set_list, LB_CONF_NOFIELD, 0, 4, 0, 0, &addrs_list },
	LB_CONF_END,
};

static int
parse(const char *text, struct top *t, char *err, size_t errlen)
{
	struct lb_conf_ctx x = { err, errlen, NULL, t };

	memset(t, 0, sizeof(*t));
	return lb_conf_read(&x, NULL, text, root_cmds, t);
}

static void
parse_bad(const char *text, const char *want)
{
	struct top t;
	char err[512] = "";
	int rc = parse(text, &t, err, sizeof(err));

	if (rc != LB_EINVAL || strcmp(err, want) != 0)
		fail_msg("%s: rc %d, \"%s\", want \"%s\"", text, rc, err, want);
	free(t.items);
}

static void
test_conf_list_of_groups_fills_every_element_with_its_defaults(void **state)
{
	struct top t;
	char err[256] = "x";

	(void)state;
	assert_int_equal(parse("items = ( { name = \"a\"; weight = 3; mode = \"dnat\";\n"
			       "  on = false; }, { name = \"b\"; } );\n"
			       "addrs = [\"198.18.0.1\", \"2001:db8::1\"];",
			       &t, err, sizeof(err)),
			 0);
	assert_string_equal(err, "");
	assert_int_equal(t.n_items, 2);
	assert_non_null(t.items);
	assert_string_equal(t.items[0].name, "a");
	assert_int_equal(t.items[0].weight, 3);
	assert_int_equal(t.items[0].mode, LB_MODE_DNAT);
	assert_false(t.items[0].on);
	assert_string_equal(t.items[1].name, "b");
	assert_int_equal(t.items[1].weight, 7);          /* row default */
	assert_int_equal(t.items[1].mode, LB_MODE_FNAT);
	assert_true(t.items[1].on);
	assert_int_equal(t.checked, 2);                   /* check after each element */
	assert_int_equal(t.done, 1);                      /* done once, after the list */
	assert_int_equal(t.n_addrs, 2);                   /* a list of scalars, inline */
	assert_int_equal(t.addrs[0].family, LB_AF_INET);
	assert_int_equal(t.addrs[1].family, LB_AF_INET6);
	free(t.items);
}

static void
test_conf_empty_list_allocates_nothing_unless_refused(void **state)
{
	struct top t;
	char err[256];

	(void)state;
	assert_int_equal(parse("items = ();", &t, err, sizeof(err)), 0);
	assert_int_equal(t.n_items, 0);
	assert_null(t.items);
	assert_int_equal(t.done, 1);
	parse_bad("addrs = [];", "addrs: at least one address is required (line 1)");
}

static void
test_conf_list_errors_name_the_element(void **state)
{
	(void)state;
	parse_bad("items = ( {name=\"a\";}, {name=\"b\";}, {name=\"c\";}, {name=\"d\";} );",
		  "items: 4 items, at most 3 (line 1)");
	parse_bad("items = ( { name = \"a\"; },\n \"b\" );",
		  "items.[1]: expected a group { }, got a string (line 2)");
	parse_bad("items = ( { name = \"a\"; },\n { name = \"b\"; weigth = 1; } );",
		  "items.[1].weigth: unknown setting (expected one of: name, weight, mode, on) (line 2)");
	parse_bad("items = ( { name = \"a\"; },\n { weight = 1; } );",
		  "items.[1].name: required setting missing (line 2)");
	parse_bad("items = ( { name = \"a\"; },\n { name = \"a\"; } );",
		  "items.[1].name: 'a' is already items.[0] (line 2)");
	parse_bad("addrs = [\"198.18.0.1\", \"198.18.0.300\"];",
		  "addrs.[1]: '198.18.0.300' is not an IPv4 or IPv6 address (line 1)");
	parse_bad("addrs = (\"198.18.0.1\", 5);",
		  "addrs.[1]: expected a string, got an integer (line 1)");
	parse_bad("items = ( { name = \"a\"; on = \"yes\"; } );",
		  "items.[0].on: expected true or false, got a string (line 1)");
}

/* The case rule: any case in, the table's spelling out. */
static void
test_conf_enum_rows_ignore_case(void **state)
{
	static const char *const dnat[] = {"dnat", "DNAT", "Dnat"};
	struct top t;
	char text[128], err[256];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "items = ( { name = \"a\"; mode = \"%s\"; } );", dnat[i]);
		assert_int_equal(parse(text, &t, err, sizeof(err)), 0);
		assert_int_equal(t.items[0].mode, LB_MODE_DNAT);
		assert_string_equal(lb_mode_name(t.items[0].mode), "dnat");
		free(t.items);
	}
	parse_bad("items = ( { name = \"a\"; mode = \"dsr\"; } );",
		  "items.[0].mode: 'dsr' is not one of fnat, dnat, ipip, gue (line 1)");
}

/* The one name table: every enum parses its own names in any case and nothing else. */
static void
test_model_name_tables_round_trip_in_any_case(void **state)
{
	static const struct lb_name *const tabs[] = {
		lb_proto_names, lb_mode_names, lb_backend_state_names, lb_affinity_names,
	};
	char up[32], low[32];
	unsigned v;

	(void)state;
	for (size_t t = 0; t < 4; t++)
		for (const struct lb_name *n = tabs[t]; n->name != NULL; n++) {
			size_t k;

			for (k = 0; n->name[k] != '\0' && k + 1 < sizeof(up); k++) {
				up[k] = (char)(n->name[k] >= 'a' && n->name[k] <= 'z' ? n->name[k] - 32
										     : n->name[k]);
				low[k] = (char)(n->name[k] >= 'A' && n->name[k] <= 'Z' ? n->name[k] + 32
										     : n->name[k]);
			}
			up[k] = low[k] = '\0';
			assert_int_equal(lb_name_parse(tabs[t], up, &v), 0);
			assert_int_equal(v, n->val);
			assert_int_equal(lb_name_parse(tabs[t], low, &v), 0);
			assert_int_equal(v, n->val);
			assert_string_equal(lb_name_of(tabs[t], v, "?"), n->name);
		}
	assert_int_equal(lb_name_parse(lb_mode_names, "dnat ", &v), LB_EINVAL);
	assert_int_equal(lb_name_parse(lb_mode_names, "", &v), LB_EINVAL);
	assert_int_equal(lb_name_parse(lb_mode_names, NULL, &v), LB_EINVAL);
	assert_string_equal(lb_proto_name(99), "?");
	assert_string_equal(lb_affinity_name(7), "None");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_list_of_groups_fills_every_element_with_its_defaults),
		cmocka_unit_test(test_conf_empty_list_allocates_nothing_unless_refused),
		cmocka_unit_test(test_conf_list_errors_name_the_element),
		cmocka_unit_test(test_conf_enum_rows_ignore_case),
		cmocka_unit_test(test_model_name_tables_round_trip_in_any_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
