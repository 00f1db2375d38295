/*
 * out.h - edgelbctl's text output: growing strings, tables whose columns are
 * as wide as their widest cell, JSON field access and JSON printing.
 *
 * Called by the commands (cmd.c), show.c and http.c; edgelbctl's one thread.
 */
#ifndef LB_CTL_OUT_H
#define LB_CTL_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* A growing string. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool overflow;
};

void out_put(struct sbuf *b, const char *s, size_t n);
void out_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty). */
const char *out_str(const struct sbuf *b);

/* Rows of cells, the first row the header; columns as wide as their widest cell. */
struct table {
	size_t ncols, nrows, cap;
	char **cells;
	size_t w[16];      /* column widths: at least the widest cell */
};

void out_tbl_init(struct table *t, size_t ncols);
/* Append a row of t->ncols strings (NULL prints as empty). */
void out_tbl_row(struct table *t, ...);
/* Widen t's columns to their widest cell; with into, widen into's columns too. */
void out_tbl_widths(struct table *t, struct table *into);
void out_tbl_print(struct table *t, FILE *f, const char *indent);
/* A table with a header row: its rows on stdout, or none on none_f when it has none. */
void out_tbl_rows(struct table *t, const char *indent, FILE *none_f, const char *none);
void out_tbl_free(struct table *t);

/* A string member ("" when missing), an integer member (0 when missing). */
const char *out_jstr(const json_t *o, const char *key);
long long out_jint(const json_t *o, const char *key);
/* "addr:port", IPv6 in brackets. */
const char *out_hostport(const char *addr, long long port, char *buf, size_t len);
/* j indented, on stdout. */
void out_json(const json_t *j);

#endif /* LB_CTL_OUT_H */
