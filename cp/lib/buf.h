/*
 * buf.h - a growing text buffer for edgelb-cp's text answers (/metrics).
 *
 * Pure, no thread of its own: whoever owns the buffer calls it (the API's
 * libmicrohttpd threads while rendering /metrics, and the /metrics hooks they
 * call, such as the Kubernetes controller's).
 */
#ifndef LB_CP_BUF_H
#define LB_CP_BUF_H

#include <stddef.h>

/*
 * Append printf-style text to *buf (len used, cap allocated; all zero/NULL to
 * start). On allocation failure the text is dropped and the buffer kept.
 */
void cp_buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* LB_CP_BUF_H */
