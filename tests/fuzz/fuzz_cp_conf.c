/*
 * fuzz_cp_conf.c - libFuzzer harness for edgelb-cp's config parser (cp/lib/cpconf.c).
 *
 * Any bytes (cut at the first NUL) are an edgelb-cp.conf's text. The parser must
 * accept or reject it without a memory error or a leak of ours (ASan; libconfig's
 * own leaks are in lsan.supp), and a rejection names why. An accepted config's
 * pools and health-check defaults are in range. Seeds: conf/edgelb-cp*.conf and
 * the texts of tests/test_cpconf.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_conf *c = malloc(sizeof(*c)); /* large: 64 pools and paths */
	char err[512] = "";
	char *text = malloc(size + 1);

	if (text == NULL || c == NULL) {
		free(text);
		free(c);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	/* @include would read files: not a parser input */
	if (strstr(text, "@include") == NULL) {
		if (cp_conf_parse(text, c, err, sizeof(err)) == 0) {
			if (c->n_pools > CP_MAX_POOLS || c->hc.rise > CP_HC_COUNT_MAX ||
			    c->hc.fall > CP_HC_COUNT_MAX ||
			    (c->hc.type != CP_HC_NONE && (c->hc.interval_ms < CP_HC_INTERVAL_MIN ||
							  c->hc.interval_ms > CP_HC_INTERVAL_MAX ||
							  c->hc.timeout_ms < CP_HC_TIMEOUT_MIN ||
							  c->hc.timeout_ms > CP_HC_TIMEOUT_MAX)))
				abort(); /* accepted out of range */
			if (memchr(c->dp_socket, '\0', sizeof(c->dp_socket)) == NULL ||
			    memchr(c->api_token, '\0', sizeof(c->api_token)) == NULL)
				abort(); /* unterminated string */
		} else if (err[0] == '\0') {
			abort(); /* rejected without saying why */
		}
	}
	free(text);
	free(c);
	return 0;
}
