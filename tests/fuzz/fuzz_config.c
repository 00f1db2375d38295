/*
 * fuzz_config.c - libFuzzer harness for the dp config parser (dp/lib/config.c).
 *
 * Any bytes (cut at the first NUL) are a config file's text. The parser must
 * accept or reject it without a memory error or a leak (ASan), and reject with a
 * message. Seeds: conf/edgelb-dp.conf and the unit tests' texts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_dp_conf c;
	char err[512] = "";
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* @include would read files: not a parser input */
	if (strstr(text, "@include") == NULL) {
		if (lb_dp_conf_parse(text, &c, err, sizeof(err)) == 0)
			lb_dp_conf_free(&c);
		else if (err[0] == '\0')
			abort(); /* rejected without saying why */
	}
	free(text);
	return 0;
}
