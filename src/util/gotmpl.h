/* util/gotmpl: the part of Go's text/template that docker users write in
 * --format and inspect -f, evaluated against a jansson value (every
 * command builds one JSON object per row and hands it here, so `{{json .}}`
 * and `{{.Field}}` always agree).
 *
 * Supported: text; {{.}}, {{.A.B}}, {{$}}, {{$v.A}}; string, raw-string,
 * number and true/false/nil literals; pipelines with |; parentheses,
 * with fields after them ({{(index .Log 0).Output}});
 * {{if}}/{{else if}}/{{else}}/{{end}}, {{range}} (with $v or $k, $v :=),
 * {{with}}, {{$x := ...}}; trim markers {{- and -}}; comments. Functions:
 * json, index, join, split, upper, lower, title, truncate, pad, len,
 * print, printf (%s %v %d %q %%), println, eq, ne, lt, le, gt, ge, not,
 * and, or. A field called with one argument is a method, as docker's
 * {{.Label "k"}}: of the row, an object in a side table of methods
 * ({"Label": {...}}, cn_tmpl_exec_methods, cn_fmt_row_methods) that the
 * argument indexes ("" for a missing key), kept out of the row's fields
 * ({{json .}}, {{range}}); elsewhere an object under "Label()" in the
 * data ("json" rows leave such keys out). Values print as Go prints them from a decoded JSON map: arrays
 * as [a b], objects as map[k:v] (sorted keys), a missing key as
 * "<no value>", null as "<nil>". Anything else (define, template, block,
 * break...) is an error naming the action and its line:column.
 *
 * On top of it, docker's --format conventions (cn_fmt_*): "table" (the
 * command's own table), "table TEMPLATE" (a header row, columns aligned at
 * the tabs), "json" (one JSON object per row), or a TEMPLATE printed once
 * per row; `\t` and `\n` written as two characters mean tab and newline. */
#ifndef CN_GOTMPL_H
#define CN_GOTMPL_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"
#include "util/err.h"

struct cn_tmpl;

/* TEXT parsed; NAME (e.g. "--format") starts every error message:
 * "--format:1:12: function \"foo\" not defined". NULL with ERR set
 * (CN_ERR_INVALID, or CN_ERR_UNSUPPORTED for an action cairn lacks). */
struct cn_tmpl *cn_tmpl_parse(const char *name, const char *text, cn_err *err);
/* Append T evaluated against DATA to OUT. -1 with ERR (CN_ERR_INVALID:
 * e.g. a field of a string, index out of range; CN_ERR_TOO_BIG past 64 MiB). */
int cn_tmpl_exec(const struct cn_tmpl *t, json_t *data, cn_buf *out, cn_err *err);
/* The same with DATA's methods in METHODS ({"Label": {"k": "v"}}; NULL: none). */
int cn_tmpl_exec_methods(const struct cn_tmpl *t, json_t *data, json_t *methods, cn_buf *out, cn_err *err);
void cn_tmpl_free(struct cn_tmpl *t);

enum cn_fmt_kind {
	CN_FMT_DEFAULT,         /* no --format, or "table": the command's own output */
	CN_FMT_JSON,            /* "json": each row as one line of JSON */
	CN_FMT_TEMPLATE,        /* a template, printed once per row, each ending in \n */
	CN_FMT_TABLE,           /* "table TEMPLATE": a header row, aligned columns */
};

struct cn_fmt {
	enum cn_fmt_kind kind;
	struct cn_tmpl *t;
	cn_buf out;             /* rows so far (TABLE: unaligned, tab-separated) */
};

/* SPEC as docker reads --format. HEADERS maps a row's field names to their
 * column titles for "table" ({"ID": "IMAGE ID"}); a field without one is
 * titled by its name in upper case. NAME is the flag, for error messages. */
int cn_fmt_init(struct cn_fmt *f, const char *name, const char *spec, json_t *headers, cn_err *err);
/* One row (not with CN_FMT_DEFAULT). */
int cn_fmt_row(struct cn_fmt *f, json_t *row, cn_err *err);
/* One row with its methods (cn_tmpl_exec_methods), which json rows leave out. */
int cn_fmt_row_methods(struct cn_fmt *f, json_t *row, json_t *methods, cn_err *err);
/* The whole output, table columns aligned as docker's tabwriter does
 * (each column as wide as its widest cell plus three spaces). Caller frees. */
char *cn_fmt_finish(struct cn_fmt *f);
void cn_fmt_free(struct cn_fmt *f);

#endif
