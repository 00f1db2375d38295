/*
 * buf.c - a growing text buffer (see buf.h).
 *
 * No thread of its own and no shared state: the caller owns the buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

void
cp_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		size_t room = *cap - *len;
		va_start(ap, fmt);
		int n = *buf ? vsnprintf(*buf + *len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			*len += (size_t)n;
			return;
		}
		size_t ncap = *cap ? *cap * 2 : 8192;
		while (n >= 0 && ncap < *len + (size_t)n + 1)
			ncap *= 2;
		char *b = realloc(*buf, ncap);
		if (b == NULL)
			return;
		*buf = b;
		*cap = ncap;
	}
}
