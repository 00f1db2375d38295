/*
 * fuzz_parse.c - libFuzzer harness for the parse stage (dp/lib/parse.c).
 *
 * Any bytes are a frame. The parser must never read outside them (ASan), and an
 * accepted frame must describe headers that lie inside it. Built and run by
 * scripts/fuzz.sh; seed corpus in tests/fuzz/corpus/parse/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_pkt p;
	enum lb_drop why = LB_DROP_MAX;
	/* A copy of exactly size bytes, so ASan sees any read past the frame. */
	uint8_t *f = malloc(size ? size : 1);

	if (f == NULL)
		return 0;
	memcpy(f, data, size);
	int rc = lb_parse(f, (uint32_t)size, &p, &why);
	if (rc < 0) {
		if (why >= LB_DROP_MAX)
			abort(); /* a drop without a reason */
	} else {
		if ((uint32_t)p.l2_len + p.ip_len > size)
			abort();
		if (p.kind == LB_PKT_L4 || p.kind == LB_PKT_ICMP) {
			if ((uint32_t)p.l3_len + p.l4_len > p.ip_len)
				abort();
			if (p.kind == LB_PKT_L4 && (p.sport == 0 || p.dport == 0))
				abort(); /* port 0 is dropped (issue 14) */
		}
	}
	free(f);
	return 0;
}
