/*
 * parse.c - lb_parse() (parse.h) out of line: the parse stage's code is
 * parse_fastpath.h, which the worker's loop inlines. Called by the control
 * thread (arp.c, sync.c) and tests/test_parse.c; pure C, safe on any thread.
 */
#include "parse.h"
#include "parse_fastpath.h"

int
lb_parse(const uint8_t *frame, uint32_t len, struct lb_pkt *p, enum lb_drop *drop)
{
	return lb_parse_fp(frame, len, p, drop);
}
