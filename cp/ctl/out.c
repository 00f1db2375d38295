/*
 * out.c - edgelbctl's text output helpers (see out.h).
 *
 * Called from every other edgelbctl file on its one thread; stdout and
 * stderr only, no state of its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"

/* ---- small helpers ------------------------------------------------------ */

const char *
out_jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

long long
out_jint(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "addr:port", IPv6 in brackets. */
const char *
out_hostport(const char *addr, long long port, char *buf, size_t len)
{
	if (strchr(addr, ':'))
		snprintf(buf, len, "[%s]:%lld", addr, port);
	else
		snprintf(buf, len, "%s:%lld", addr, port);
	return buf;
}

void
out_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->overflow = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
out_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		out_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

const char *
out_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

/* ---- tables --------------------------------------------------------------- */

void
out_tbl_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* Append a row of t->ncols strings (NULL prints as empty). */
void
out_tbl_row(struct table *t, ...)
{
	va_list ap;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (c == NULL)
			return;
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->nrows * t->ncols + i] = strdup(s ? s : "");
	}
	va_end(ap);
	t->nrows++;
}

/* Widen t's columns to their widest cell; with into, widen into's columns too. */
void
out_tbl_widths(struct table *t, struct table *into)
{
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < t->ncols && i < 16; i++) {
			const char *s = t->cells[r * t->ncols + i];
			size_t n = s ? strlen(s) : 0;
			if (n > t->w[i])
				t->w[i] = n;
		}
	for (size_t i = 0; into && i < 16; i++)
		if (t->w[i] > into->w[i])
			into->w[i] = t->w[i];
}

void
out_tbl_print(struct table *t, FILE *f, const char *indent)
{
	size_t *w = t->w;

	out_tbl_widths(t, NULL);
	for (size_t r = 0; r < t->nrows; r++) {
		/* pad every cell but the last non-empty one: no trailing blanks */
		size_t last = 0;
		for (size_t i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (s && s[0])
				last = i;
		}
		fputs(indent, f);
		for (size_t i = 0; i <= last; i++) {
			const char *s = t->cells[r * t->ncols + i];
			if (i < last)
				fprintf(f, "%-*s   ", (int)w[i], s ? s : "");
			else
				fputs(s ? s : "", f);
		}
		fputc('\n', f);
	}
}

void
out_tbl_rows(struct table *t, const char *indent, FILE *none_f, const char *none)
{
	if (t->nrows <= 1)
		fputs(none, none_f);
	else
		out_tbl_print(t, stdout, indent);
}

void
out_tbl_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void
out_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
}
