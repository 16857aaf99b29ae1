/* util/gotmpl: evaluation. Walks the tree gotmpl.c built with "dot" and a
 * stack of variables; every value is an owned json_t reference, NULL
 * standing for Go's "no value" (a missing map key). */
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

/* ---- evaluation ---- */

struct var {
	char *name;
	json_t *v;
};

struct exec {
	const struct cn_tmpl *t;
	cn_buf *out;
	cn_err *err;
	struct var *vars;
	size_t nvars, cap;
	json_t *headers;        /* header mode (cn_fmt's table titles), else NULL */
	json_t *root;           /* the row, whose methods are in METHODS (NULL: none) */
	json_t *methods;
	size_t made;            /* bytes of strings functions made: capped like the output,
				 * so variables cannot grow values without printing them */
};

static int errk(struct exec *e, size_t pos, enum cn_err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int errk(struct exec *e, size_t pos, enum cn_err_kind kind, const char *fmt, ...)
{
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = cn_tmpl_verr(e->t->name, e->t->src, pos, e->err, kind, fmt, ap);
	va_end(ap);
	return r;
}
#define eerr(e, pos, ...) errk(e, pos, CN_ERR_INVALID, __VA_ARGS__)

static void var_push(struct exec *e, const char *name, json_t *v)
{
	cn_xgrow((void **)&e->vars, &e->cap, e->nvars + 1, sizeof(*e->vars));
	e->vars[e->nvars].name = cn_xstrdup(name);
	e->vars[e->nvars++].v = v;
}

static void vars_pop(struct exec *e, size_t to)
{
	while (e->nvars > to) {
		e->nvars--;
		free(e->vars[e->nvars].name);
		json_decref(e->vars[e->nvars].v);
	}
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "map";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "int";
	case JSON_REAL: return "float64";
	case JSON_TRUE: case JSON_FALSE: return "bool";
	default: return "nil";
	}
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go's fmt %v of a decoded JSON value. */
static void print_value(cn_buf *b, json_t *v)
{
	if (!v) {
		cn_buf_adds(b, "<no value>");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		cn_buf_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		cn_buf_addf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		cn_buf_addf(b, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		cn_buf_adds(b, "true");
		break;
	case JSON_FALSE:
		cn_buf_adds(b, "false");
		break;
	case JSON_NULL:
		cn_buf_adds(b, "<nil>");
		break;
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		cn_buf_addc(b, '[');
		json_array_foreach(v, i, x) {
			if (i)
				cn_buf_addc(b, ' ');
			print_value(b, x);
		}
		cn_buf_addc(b, ']');
		break;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(v), k = 0;
		_cleanup_free_ const char **keys = cn_xcalloc(n ? n : 1, sizeof(*keys));
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
			keys[k++] = key;
		qsort(keys, n, sizeof(*keys), key_cmp);
		cn_buf_adds(b, "map[");
		for (k = 0; k < n; k++) {
			if (k)
				cn_buf_addc(b, ' ');
			cn_buf_addf(b, "%s:", keys[k]);
			print_value(b, json_object_get(v, keys[k]));
		}
		cn_buf_addc(b, ']');
		break;
	}
	}
}

/* Go's truth: false, 0, "", nil, an empty array or map are false. */
static bool truth(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0;
	case JSON_TRUE: return true;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_OBJECT: return json_object_size(v) > 0;
	default: return false;
	}
}

static char *text_of(json_t *v)
{
	cn_buf b;
	cn_buf_init(&b, MAX_OUTPUT);
	print_value(&b, v);
	return cn_buf_detach(&b);
}

static json_t *str_own(char *s)
{
	json_t *v = json_string(s);
	if (!v)                         /* not UTF-8: cut nothing, say so */
		v = json_string("<invalid UTF-8>");
	free(s);
	return v;
}

/* *V (owned) replaced by its field chain FIELDS; 0, or -1 for a field of
 * something that is not a map (Go's "can't evaluate field"). */
static int walk(struct exec *e, size_t pos, json_t **v, const cn_strv *fields)
{
	for (size_t i = 0; i < fields->n; i++) {
		json_t *next;
		if (!*v || json_is_null(*v))
			return 0;       /* a field of nothing is nothing */
		if (!json_is_object(*v)) {
			int r = eerr(e, pos, "can't evaluate field %s in type %s", fields->v[i], type_name(*v));
			json_decref(*v);
			*v = NULL;
			return r;
		}
		next = json_incref(json_object_get(*v, fields->v[i]));
		json_decref(*v);
		*v = next;
	}
	return 0;
}

static json_t *var_get(struct exec *e, const char *name)
{
	for (size_t i = e->nvars; i-- > 0;)
		if (!strcmp(e->vars[i].name, name))
			return e->vars[i].v;
	return NULL;
}

static int eval_pipe(struct exec *e, const struct pipe *pp, json_t *dot, json_t **out);

/* Header mode: a column's title, from the first field the argument names. */
static json_t *header_of(struct exec *e, const struct arg *a)
{
	if ((a->kind == A_FIELD || a->kind == A_VAR) && a->fields.n) {
		json_t *h = json_object_get(e->headers, a->fields.v[0]);
		char *up;
		if (json_is_string(h))
			return json_incref(h);
		up = cn_xstrdup(a->fields.v[a->fields.n - 1]);
		for (char *c = up; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		return str_own(up);
	}
	if (a->kind == A_PIPE && a->sub->n && a->sub->cmds[0].n) {
		for (size_t i = 0; i < a->sub->cmds[0].n; i++)
			if (a->sub->cmds[0].args[i].kind != A_FUNC && a->sub->cmds[0].args[i].kind != A_LIT)
				return header_of(e, &a->sub->cmds[0].args[i]);
	}
	return json_string("");
}

static int eval_arg(struct exec *e, const struct arg *a, json_t *dot, json_t **out)
{
	*out = NULL;
	if (e->headers && (a->kind == A_FIELD || a->kind == A_VAR) && a->fields.n) {
		*out = header_of(e, a);
		return 0;
	}
	switch (a->kind) {
	case A_FIELD:
		*out = json_incref(dot);
		return walk(e, a->pos, out, &a->fields);
	case A_VAR: {
		json_t *v = var_get(e, a->name);
		if (!v && !(a->name[1] == '\0'))
			return eerr(e, a->pos, "undefined variable \"%s\"", a->name);
		*out = json_incref(v);
		return walk(e, a->pos, out, &a->fields);
	}
	case A_LIT:
		*out = json_incref(a->lit);
		return 0;
	case A_PIPE:
		if (eval_pipe(e, a->sub, dot, out) < 0)
			return -1;
		return walk(e, a->pos, out, &a->fields);
	case A_FUNC:
	default:
		return eerr(e, a->pos, "%s is a function, not a value (write (%s ...))", a->name, a->name);
	}
}

static int need_args(struct exec *e, const struct arg *f, size_t n, size_t min, size_t max)
{
	if (n < min || n > max) {
		if (min == max)
			return eerr(e, f->pos, "wrong number of args for %s: want %zu got %zu", f->name, min, n);
		return eerr(e, f->pos, "wrong number of args for %s: want %zu to %zu got %zu", f->name, min,
			    max, n);
	}
	return 0;
}

static int compare(const json_t *a, const json_t *b, int *cmp)
{
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		*cmp = x < y ? -1 : x > y;
		return 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		*cmp = strcmp(json_string_value(a), json_string_value(b));
		return 0;
	}
	if (json_is_boolean(a) && json_is_boolean(b)) {
		*cmp = json_is_true(a) - json_is_true(b);
		return 0;
	}
	return -1;
}

/* printf with %s %v %d %q %%: what docker formats use. */
static json_t *do_printf(struct exec *e, const struct arg *f, json_t **v, size_t n)
{
	const char *fmt = json_string_value(v[0]);
	size_t next = 1;
	cn_buf b;
	if (!fmt) {
		eerr(e, f->pos, "printf: the format is not a string");
		return NULL;
	}
	cn_buf_init(&b, MAX_OUTPUT);
	for (const char *c = fmt; *c; c++) {
		json_t *x;
		if (*c != '%') {
			cn_buf_addc(&b, *c);
			continue;
		}
		if (!*++c) {
			cn_buf_adds(&b, "%!(NOVERB)");
			break;
		}
		if (*c == '%') {
			cn_buf_addc(&b, '%');
			continue;
		}
		if (next >= n) {
			cn_buf_addf(&b, "%%!%c(MISSING)", *c);
			continue;
		}
		x = v[next++];
		if (*c == 's' || *c == 'v') {
			print_value(&b, x);
		} else if (*c == 'd' && json_is_integer(x)) {
			cn_buf_addf(&b, "%lld", (long long)json_integer_value(x));
		} else if (*c == 'q' && json_is_string(x)) {
			_cleanup_free_ char *q = json_dumps(x, JSON_ENCODE_ANY);
			cn_buf_adds(&b, q ? q : "");
		} else {
			_cleanup_free_ char *t = text_of(x);
			cn_buf_addf(&b, "%%!%c(%s=%s)", *c, x ? type_name(x) : "nil", t);
		}
	}
	return str_own(cn_buf_detach(&b));
}

/* Function F applied to the N values V (borrowed); the result owned. */
static int call(struct exec *e, const struct arg *f, json_t **v, size_t n, json_t **out)
{
	const char *name = f->name;
	*out = NULL;
	if (!strcmp(name, "json")) {
		char *s;
		if (need_args(e, f, n, 1, 1) < 0)
			return -1;
		s = v[0] ? json_dumps(v[0], JSON_COMPACT | JSON_ENCODE_ANY) : cn_xstrdup("null");
		*out = str_own(s ? s : cn_xstrdup("null"));
		return 0;
	}
	if (!strcmp(name, "index")) {
		if (need_args(e, f, n, 1, 64) < 0)
			return -1;
		*out = json_incref(v[0]);
		for (size_t i = 1; i < n; i++) {
			json_t *next;
			if (json_is_object(*out) && json_is_string(v[i])) {
				next = json_object_get(*out, json_string_value(v[i]));
			} else if (json_is_array(*out) && json_is_integer(v[i])) {
				json_int_t k = json_integer_value(v[i]);
				if (k < 0 || (size_t)k >= json_array_size(*out)) {
					json_decref(*out);
					*out = NULL;
					return eerr(e, f->pos, "index out of range: %lld", (long long)k);
				}
				next = json_array_get(*out, (size_t)k);
			} else if (!*out || json_is_null(*out)) {
				next = NULL;
			} else {
				int r = eerr(e, f->pos, "can't index item of type %s with %s", type_name(*out),
					     v[i] ? type_name(v[i]) : "nil");
				json_decref(*out);
				*out = NULL;
				return r;
			}
			next = json_incref(next);
			json_decref(*out);
			*out = next;
		}
		return 0;
	}
	if (!strcmp(name, "join")) {
		cn_buf b;
		size_t i;
		json_t *x;
		if (need_args(e, f, n, 2, 2) < 0)
			return -1;
		if (!json_is_array(v[0]) && !(v[0] && json_is_null(v[0])))
			return eerr(e, f->pos, "join: %s is not a list", v[0] ? type_name(v[0]) : "nothing");
		cn_buf_init(&b, MAX_OUTPUT);
		json_array_foreach(v[0], i, x) {
			if (i) {
				_cleanup_free_ char *sep = text_of(v[1]);
				cn_buf_adds(&b, sep);
			}
			print_value(&b, x);
		}
		*out = str_own(cn_buf_detach(&b));
		return 0;
	}
	if (!strcmp(name, "split")) {
		_cleanup_free_ char *s = NULL, *sep = NULL;
		const char *c;
		size_t seplen;
		if (need_args(e, f, n, 2, 2) < 0)
			return -1;
		s = text_of(v[0]);
		sep = text_of(v[1]);
		seplen = strlen(sep);
		*out = json_array();
		c = s;
		if (!seplen) {
			for (; *c; c++)
				json_array_append_new(*out, json_stringn(c, 1) ? json_stringn(c, 1) : json_string(""));
			return 0;
		}
		for (const char *m; (m = strstr(c, sep)); c = m + seplen)
			json_array_append_new(*out, str_own(cn_xstrndup(c, (size_t)(m - c))));
		json_array_append_new(*out, str_own(cn_xstrdup(c)));
		return 0;
	}
	if (!strcmp(name, "upper") || !strcmp(name, "lower") || !strcmp(name, "title")) {
		char *s;
		bool start = true;
		if (need_args(e, f, n, 1, 1) < 0)
			return -1;
		s = text_of(v[0]);
		for (char *c = s; *c; c++) {
			if (name[0] == 'u')
				*c = (char)toupper((unsigned char)*c);
			else if (name[0] == 'l')
				*c = (char)tolower((unsigned char)*c);
			else if (start)
				*c = (char)toupper((unsigned char)*c);
			start = !isalnum((unsigned char)*c);
		}
		*out = str_own(s);
		return 0;
	}
	if (!strcmp(name, "truncate")) {
		char *s;
		size_t k = 0, chars = 0;
		if (need_args(e, f, n, 2, 2) < 0)
			return -1;
		if (!json_is_integer(v[1]) || json_integer_value(v[1]) < 0)
			return eerr(e, f->pos, "truncate: the length is not a count");
		s = text_of(v[0]);
		/* Characters, not bytes: never cut inside a UTF-8 sequence. */
		for (; s[k]; k++) {
			if (((unsigned char)s[k] & 0xc0) != 0x80 && chars++ == (size_t)json_integer_value(v[1]))
				break;
		}
		s[k] = '\0';
		*out = str_own(s);
		return 0;
	}
	if (!strcmp(name, "pad")) {
		_cleanup_free_ char *s = NULL;
		json_int_t l, r;
		if (need_args(e, f, n, 3, 3) < 0)
			return -1;
		l = json_integer_value(v[1]);
		r = json_integer_value(v[2]);
		if (!json_is_integer(v[1]) || !json_is_integer(v[2]) || l < 0 || r < 0 || l > MAX_PAD ||
		    r > MAX_PAD)
			return eerr(e, f->pos, "pad: the widths are not counts up to %d", MAX_PAD);
		s = text_of(v[0]);
		*out = str_own(cn_xasprintf("%*s%s%*s", (int)l, "", s, (int)r, ""));
		return 0;
	}
	if (!strcmp(name, "len")) {
		if (need_args(e, f, n, 1, 1) < 0)
			return -1;
		if (json_is_string(v[0]))
			*out = json_integer((json_int_t)json_string_length(v[0]));
		else if (json_is_array(v[0]))
			*out = json_integer((json_int_t)json_array_size(v[0]));
		else if (json_is_object(v[0]))
			*out = json_integer((json_int_t)json_object_size(v[0]));
		else
			return eerr(e, f->pos, "len of %s", v[0] ? type_name(v[0]) : "nothing");
		return 0;
	}
	if (!strcmp(name, "print") || !strcmp(name, "println")) {
		cn_buf b;
		cn_buf_init(&b, MAX_OUTPUT);
		for (size_t i = 0; i < n; i++) {
			/* Go's print spaces operands when neither is a string; println always. */
			if (i && (name[5] || (!json_is_string(v[i - 1]) && !json_is_string(v[i]))))
				cn_buf_addc(&b, ' ');
			print_value(&b, v[i]);
		}
		if (name[5])
			cn_buf_addc(&b, '\n');
		*out = str_own(cn_buf_detach(&b));
		return 0;
	}
	if (!strcmp(name, "printf")) {
		if (need_args(e, f, n, 1, 64) < 0)
			return -1;
		*out = do_printf(e, f, v, n);
		return *out ? 0 : -1;
	}
	if (!strcmp(name, "not")) {
		if (need_args(e, f, n, 1, 1) < 0)
			return -1;
		*out = json_boolean(!truth(v[0]));
		return 0;
	}
	if (!strcmp(name, "and") || !strcmp(name, "or")) {
		size_t i = 0;
		if (need_args(e, f, n, 1, 64) < 0)
			return -1;
		/* The first false (and) or true (or) operand, else the last. */
		while (i + 1 < n && truth(v[i]) == (name[0] == 'a'))
			i++;
		*out = v[i] ? json_incref(v[i]) : json_null();
		return 0;
	}
	if (!strcmp(name, "eq") || !strcmp(name, "ne")) {
		bool eq = false;
		if (need_args(e, f, n, 2, name[0] == 'e' ? 64 : 2) < 0)
			return -1;
		for (size_t i = 1; i < n && !eq; i++) {
			int c;
			if (compare(v[0], v[i], &c) == 0)
				eq = c == 0;
			else if ((!v[0] || json_is_null(v[0])) && (!v[i] || json_is_null(v[i])))
				eq = true;
			else if (v[0] && v[i] && json_typeof(v[0]) == json_typeof(v[i]))
				eq = json_equal(v[0], v[i]);
			else if (v[0] && v[i] && !json_is_null(v[0]) && !json_is_null(v[i]))
				return eerr(e, f->pos, "incompatible types for comparison: %s and %s",
					    type_name(v[0]), type_name(v[i]));
		}
		*out = json_boolean(name[0] == 'e' ? eq : !eq);
		return 0;
	}
	if (!strcmp(name, "lt") || !strcmp(name, "le") || !strcmp(name, "gt") || !strcmp(name, "ge")) {
		int c;
		if (need_args(e, f, n, 2, 2) < 0)
			return -1;
		if (compare(v[0], v[1], &c) < 0)
			return eerr(e, f->pos, "incompatible types for comparison");
		*out = json_boolean(name[0] == 'l' ? (name[1] == 't' ? c < 0 : c <= 0)
					       : (name[1] == 't' ? c > 0 : c >= 0));
		return 0;
	}
	return eerr(e, f->pos, "function \"%s\" not defined", name);
}

/* {{.A.Method "k"}}: docker's methods with one argument ({{.Label "k"}}):
 * of the row, an object in the side table (cn_tmpl_exec_methods), else one
 * under "Method()" in the data, that the argument indexes ("" when it has
 * no such key, as docker's Label). */
static int eval_method(struct exec *e, const struct cmd *c, json_t *dot, json_t **out)
{
	const struct arg *f = &c->args[0];
	_cleanup_free_ char *key = cn_xasprintf("%s()", f->fields.v[f->fields.n - 1]);
	cn_strv recv = { .v = f->fields.v, .n = f->fields.n - 1 };
	json_t *v, *m, *arg = NULL;
	int r;
	*out = NULL;
	if (e->headers) {
		*out = header_of(e, f);
		return 0;
	}
	v = json_incref(dot);
	if (walk(e, f->pos, &v, &recv) < 0)
		return -1;
	if (v == e->root && e->methods)
		m = json_object_get(e->methods, f->fields.v[f->fields.n - 1]);
	else
		m = json_object_get(v, key);
	if (!json_is_object(m)) {
		json_decref(v);
		return eerr(e, c->args[1].pos, "can't give argument to non-function");
	}
	r = eval_arg(e, &c->args[1], dot, &arg);
	if (r == 0 && !json_is_string(arg))
		r = eerr(e, c->args[1].pos, "wrong type for value; expected string");
	if (r == 0) {
		json_t *hit = json_object_get(m, json_string_value(arg));
		*out = hit ? json_incref(hit) : json_string("");
	}
	json_decref(arg);
	json_decref(v);
	return r;
}

/* One command of a pipeline; PREV (borrowed, may be NULL with HAVE_PREV)
 * is the previous command's value, passed as the last argument. */
static int eval_cmd(struct exec *e, const struct cmd *c, json_t *dot, bool have_prev, json_t *prev,
		    json_t **out)
{
	json_t **v;
	size_t n = 0;
	int r = 0;
	*out = NULL;
	if (c->args[0].kind == A_FIELD && c->args[0].fields.n && c->n == 2 && !have_prev)
		return eval_method(e, c, dot, out);
	if (c->args[0].kind != A_FUNC) {
		if (c->n > 1 || have_prev)
			return eerr(e, c->args[c->n > 1 ? 1 : 0].pos, "can't give argument to non-function");
		return eval_arg(e, &c->args[0], dot, out);
	}
	if (e->headers) {
		/* A column title: the first field the call reads, whatever it does. */
		for (size_t i = 1; i < c->n; i++)
			if (c->args[i].kind == A_FIELD || c->args[i].kind == A_VAR || c->args[i].kind == A_PIPE) {
				*out = header_of(e, &c->args[i]);
				return 0;
			}
		if (have_prev) {
			*out = json_incref(prev);
			return 0;
		}
	}
	v = cn_xcalloc(c->n + 1, sizeof(*v));
	for (size_t i = 1; i < c->n; i++) {
		if (c->args[i].kind == A_FUNC) {
			/* A function name as an argument: Go calls it with no arguments. */
			r = call(e, &c->args[i], NULL, 0, &v[n++]);
		} else {
			r = eval_arg(e, &c->args[i], dot, &v[n++]);
		}
		if (r < 0)
			goto out;
	}
	if (have_prev)
		v[n++] = json_incref(prev);
	r = call(e, &c->args[0], v, n, out);
	if (r == 0 && json_is_string(*out)) {
		e->made += json_string_length(*out);
		if (e->made > MAX_OUTPUT) {
			json_decref(*out);
			*out = NULL;
			r = errk(e, c->args[0].pos, CN_ERR_TOO_BIG, "values made over %u MiB", MAX_OUTPUT >> 20);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	return r;
}

static int eval_pipe(struct exec *e, const struct pipe *pp, json_t *dot, json_t **out)
{
	json_t *v = NULL;
	*out = NULL;
	for (size_t i = 0; i < pp->n; i++) {
		json_t *next;
		if (eval_cmd(e, &pp->cmds[i], dot, i > 0, v, &next) < 0) {
			json_decref(v);
			return -1;
		}
		json_decref(v);
		v = next;
	}
	if (pp->ndecl == 1)
		var_push(e, pp->decl[0], json_incref(v));
	*out = v;
	return 0;
}

static int exec_list(struct exec *e, const struct list *l, json_t *dot);

static int emit(struct exec *e, size_t pos, const char *s, size_t len)
{
	if (cn_buf_add(e->out, s, len) < 0)
		return errk(e, pos, CN_ERR_TOO_BIG, "output over %u MiB", MAX_OUTPUT >> 20);
	return 0;
}

static int exec_range(struct exec *e, const struct node *nd, json_t *v)
{
	size_t n = json_is_array(v) ? json_array_size(v) : json_is_object(v) ? json_object_size(v) : 0;
	size_t base = e->nvars;
	_cleanup_free_ const char **keys = NULL;
	int r = 0;
	if (v && !json_is_null(v) && !json_is_array(v) && !json_is_object(v))
		return eerr(e, nd->pos, "range can't iterate over %s", type_name(v));
	if (n == 0)
		return exec_list(e, &nd->alt, v);
	if (json_is_object(v)) {
		const char *key;
		json_t *x;
		size_t k = 0;
		keys = cn_xcalloc(n, sizeof(*keys));
		json_object_foreach(v, key, x)
			keys[k++] = key;
		qsort(keys, n, sizeof(*keys), key_cmp);     /* Go ranges a map in key order */
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *elem = keys ? json_object_get(v, keys[i]) : json_array_get(v, i);
		if (nd->pipe->ndecl == 1) {
			var_push(e, nd->pipe->decl[0], json_incref(elem));
		} else if (nd->pipe->ndecl == 2) {
			var_push(e, nd->pipe->decl[0], keys ? json_string(keys[i]) : json_integer((json_int_t)i));
			var_push(e, nd->pipe->decl[1], json_incref(elem));
		}
		r = exec_list(e, &nd->body, elem);
		vars_pop(e, base);
	}
	return r;
}

static int exec_list(struct exec *e, const struct list *l, json_t *dot)
{
	size_t base = e->nvars;
	int r = 0;
	for (size_t i = 0; i < l->n && r == 0; i++) {
		const struct node *nd = l->v[i];
		json_t *v = NULL;
		size_t inner = e->nvars;
		if (nd->kind == N_TEXT) {
			r = emit(e, nd->pos, nd->text, strlen(nd->text));
			continue;
		}
		if (nd->kind == N_RANGE && nd->pipe->ndecl) {
			/* range's variables are the elements', not the pipeline's value */
			struct pipe plain = *nd->pipe;
			plain.ndecl = 0;
			r = eval_pipe(e, &plain, dot, &v);
		} else {
			r = eval_pipe(e, nd->pipe, dot, &v);
		}
		if (r < 0)
			break;
		switch (nd->kind) {
		case N_ACTION:
			if (!nd->pipe->ndecl) {
				cn_buf b;
				cn_buf_init(&b, MAX_OUTPUT);
				print_value(&b, v);
				r = emit(e, nd->pos, b.data, b.len);
				cn_buf_free(&b);
			}
			break;
		case N_IF:
			r = exec_list(e, truth(v) ? &nd->body : &nd->alt, dot);
			vars_pop(e, inner);
			break;
		case N_WITH:
			r = exec_list(e, truth(v) ? &nd->body : &nd->alt, truth(v) ? v : dot);
			vars_pop(e, inner);
			break;
		case N_RANGE:
			r = exec_range(e, nd, v);
			break;
		default:
			break;
		}
		json_decref(v);
	}
	vars_pop(e, base);
	return r;
}

static int exec_all(const struct cn_tmpl *t, json_t *data, json_t *methods, json_t *headers, cn_buf *out,
		    cn_err *err)
{
	struct exec e = { .t = t, .out = out, .err = err, .headers = headers, .root = data, .methods = methods };
	size_t max = out->max;
	int r;
	out->max = out->len + MAX_OUTPUT;
	var_push(&e, "$", json_incref(data));
	r = exec_list(&e, &t->root, data);
	vars_pop(&e, 0);
	free(e.vars);
	out->max = max;
	return r;
}

int cn_tmpl_exec_headers(const struct cn_tmpl *t, json_t *data, json_t *headers, cn_buf *out, cn_err *err)
{
	return exec_all(t, data, NULL, headers, out, err);
}

int cn_tmpl_exec(const struct cn_tmpl *t, json_t *data, cn_buf *out, cn_err *err)
{
	return exec_all(t, data, NULL, NULL, out, err);
}

int cn_tmpl_exec_methods(const struct cn_tmpl *t, json_t *data, json_t *methods, cn_buf *out, cn_err *err)
{
	return exec_all(t, data, methods, NULL, out, err);
}
