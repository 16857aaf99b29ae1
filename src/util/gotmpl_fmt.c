/* util/gotmpl: docker's --format conventions over the template engine
 * ("table", "json", `\t`), and the tab alignment of table output. */
#include "util/gotmpl_internal.h"

#include "util/cleanup.h"
#include "util/mem.h"
#include "util/strv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- docker's --format ---- */

int cn_fmt_init(struct cn_fmt *f, const char *name, const char *spec, json_t *headers, cn_err *err)
{
	_cleanup_free_ char *text = NULL;
	cn_buf b;
	size_t len;
	bool table = false;
	memset(f, 0, sizeof(*f));
	cn_buf_init(&f->out, 0);
	if (!spec) {
		f->kind = CN_FMT_DEFAULT;
		return 0;
	}
	/* docker: trim spaces, then `\t` and `\n` typed as two characters. */
	while (*spec == ' ')
		spec++;
	if (!strncmp(spec, "table", 5) && (!spec[5] || spec[5] == ' ')) {
		table = true;
		spec += 5;
		while (*spec == ' ')
			spec++;
	}
	len = strlen(spec);
	while (len && spec[len - 1] == ' ')
		len--;
	if (!len) {
		f->kind = CN_FMT_DEFAULT;       /* "", "table": the command's own table */
		return 0;
	}
	if (!table && len == 4 && !memcmp(spec, "json", 4)) {
		f->kind = CN_FMT_JSON;
		return 0;
	}
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < len; i++) {
		if (spec[i] == '\\' && (spec[i + 1] == 't' || spec[i + 1] == 'n') && i + 1 < len) {
			cn_buf_addc(&b, spec[i + 1] == 't' ? '\t' : '\n');
			i++;
		} else {
			cn_buf_addc(&b, spec[i]);
		}
	}
	text = cn_buf_detach(&b);
	f->t = cn_tmpl_parse(name, text, err);
	if (!f->t)
		return -1;
	f->kind = table ? CN_FMT_TABLE : CN_FMT_TEMPLATE;
	if (table) {
		/* The header row: the same template, each field giving its title. */
		json_t *h = headers ? json_incref(headers) : json_object();
		int r = cn_tmpl_exec_headers(f->t, h, h, &f->out, err);
		json_decref(h);
		if (r < 0)
			return -1;
		cn_buf_addc(&f->out, '\n');
	}
	return 0;
}

int cn_fmt_row(struct cn_fmt *f, json_t *row, cn_err *err)
{
	return cn_fmt_row_methods(f, row, NULL, err);
}

int cn_fmt_row_methods(struct cn_fmt *f, json_t *row, json_t *methods, cn_err *err)
{
	if (f->kind == CN_FMT_JSON) {
		/* Methods ("Label()", see eval_method) are not data: left out. */
		json_t *shown = json_is_object(row) ? json_object() : json_incref(row), *v;
		const char *k;
		if (json_is_object(row))
			json_object_foreach(row, k, v)
				if (strlen(k) < 2 || strcmp(k + strlen(k) - 2, "()"))
					json_object_set(shown, k, v);
		_cleanup_free_ char *s = json_dumps(shown, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(shown);
		if (!s)
			return cn_err_fail(err, CN_ERR_SYSTEM, "cannot write a row as JSON");
		cn_buf_adds(&f->out, s);
	} else if (f->t && cn_tmpl_exec_methods(f->t, row, methods, &f->out, err) < 0) {
		return -1;
	}
	cn_buf_addc(&f->out, '\n');
	return 0;
}

/* Characters, not bytes. */
static size_t width(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* docker's tabwriter (padding 3): a cell ends at a tab; the text after a
 * line's last tab is not a cell and is printed as it is. */
static char *align(const char *s)
{
	size_t *w = NULL, nw = 0, cap = 0;
	cn_buf b;
	for (int pass = 0; pass < 2; pass++) {
		const char *line = s;
		if (pass)
			cn_buf_init(&b, 0);
		while (*line) {
			const char *eol = strchr(line, '\n'), *c = line;
			size_t col = 0;
			if (!eol)
				eol = line + strlen(line);
			for (const char *tab; (tab = memchr(c, '\t', (size_t)(eol - c))); c = tab + 1, col++) {
				size_t cw = width(c, (size_t)(tab - c));
				if (!pass) {
					if (col >= nw) {
						cn_xgrow((void **)&w, &cap, col + 1, sizeof(*w));
						memset(w + nw, 0, (col + 1 - nw) * sizeof(*w));
						nw = col + 1;
					}
					if (cw > w[col])
						w[col] = cw;
				} else {
					cn_buf_add(&b, c, (size_t)(tab - c));
					cn_buf_addf(&b, "%*s", (int)(w[col] - cw + 3), "");
				}
			}
			if (pass) {
				cn_buf_add(&b, c, (size_t)(eol - c));
				if (*eol)
					cn_buf_addc(&b, '\n');
			}
			line = *eol ? eol + 1 : eol;
		}
	}
	free(w);
	return cn_buf_detach(&b);
}

char *cn_fmt_finish(struct cn_fmt *f)
{
	if (f->kind == CN_FMT_TABLE)
		return align(f->out.data);
	return cn_buf_detach(&f->out);
}

void cn_fmt_free(struct cn_fmt *f)
{
	cn_tmpl_free(f->t);
	cn_buf_free(&f->out);
	memset(f, 0, sizeof(*f));
}
