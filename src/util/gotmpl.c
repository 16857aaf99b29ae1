/* util/gotmpl: a small Go text/template evaluator over jansson values (see
 * gotmpl.h for the subset). Parsing builds a tree of nodes (text, actions,
 * if/range/with blocks); evaluation walks it with "dot" and a stack of
 * variables. Every value during evaluation is an owned json_t reference;
 * NULL stands for Go's "no value" (a missing map key). */
#include "util/gotmpl.h"

#include "util/cleanup.h"
#include "util/mem.h"
#include "util/strv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64            /* nested blocks and parentheses */
#define MAX_OUTPUT (64u << 20)  /* what one evaluation may print */
#define MAX_PAD 4096            /* pad's widths: input cannot ask for gigabytes */

/* ---- the tree ---- */

enum arg_kind { A_FIELD, A_VAR, A_LIT, A_FUNC, A_PIPE };

struct pipe;

struct arg {
	enum arg_kind kind;
	size_t pos;
	char *name;             /* variable ("$x", "$") or function */
	cn_strv fields;         /* .A.B after the dot or the variable */
	json_t *lit;            /* A_LIT */
	struct pipe *sub;       /* A_PIPE */
};

struct cmd {
	struct arg *args;
	size_t n, cap;
	size_t pos;
};

struct pipe {
	struct cmd *cmds;
	size_t n, cap;
	char *decl[2];          /* "$x" or "$k", "$v" being declared */
	size_t ndecl;
	size_t pos;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH };

struct node;
struct list {
	struct node **v;
	size_t n, cap;
};

struct node {
	enum node_kind kind;
	size_t pos;
	char *text;             /* N_TEXT */
	struct pipe *pipe;
	struct list body, alt;  /* alt: {{else}}; an {{else if}} is an N_IF inside it */
};

struct cn_tmpl {
	char *name;
	char *src;
	struct list root;
};

static void pipe_free(struct pipe *p);

static void arg_clear(struct arg *a)
{
	free(a->name);
	cn_strv_free(&a->fields);
	json_decref(a->lit);
	pipe_free(a->sub);
}

static void pipe_free(struct pipe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->cmds[i].n; j++)
			arg_clear(&p->cmds[i].args[j]);
		free(p->cmds[i].args);
	}
	free(p->cmds);
	free(p->decl[0]);
	free(p->decl[1]);
	free(p);
}

static void list_free(struct list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct node *nd = l->v[i];
		free(nd->text);
		pipe_free(nd->pipe);
		list_free(&nd->body);
		list_free(&nd->alt);
		free(nd);
	}
	free(l->v);
}

void cn_tmpl_free(struct cn_tmpl *t)
{
	if (!t)
		return;
	list_free(&t->root);
	free(t->name);
	free(t->src);
	free(t);
}

static struct node *list_add(struct list *l, enum node_kind kind, size_t pos)
{
	struct node *nd = cn_xcalloc(1, sizeof(*nd));
	nd->kind = kind;
	nd->pos = pos;
	cn_xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = nd;
	return nd;
}

/* ---- errors with a position ---- */

/* "NAME:LINE:COL: MSG", COL counted in bytes from 1 as Go does. */
static int tmpl_err(const char *name, const char *src, size_t pos, cn_err *err, enum cn_err_kind kind,
		    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int tmpl_err(const char *name, const char *src, size_t pos, cn_err *err, enum cn_err_kind kind,
		    const char *fmt, ...)
{
	char msg[512];
	size_t line = 1, col = 1;
	va_list ap;
	for (size_t i = 0; i < pos && src[i]; i++) {
		if (src[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cn_err_fail(err, kind, "%s:%zu:%zu: %s", name, line, col, msg);
}

/* ---- lexing inside an action ---- */

enum tok_kind {
	T_EOF, T_CLOSE, T_FIELD, T_VAR, T_STR, T_NUM, T_IDENT, T_LPAREN, T_RPAREN, T_PIPE,
	T_DECL, T_ASSIGN, T_COMMA, T_BAD,
};

struct tok {
	enum tok_kind kind;
	size_t pos, len;        /* the token's bytes in src */
	bool trim;              /* T_CLOSE: "-}}" */
};

struct parser {
	const char *name, *src;
	size_t pos;
	size_t depth;
	cn_err *err;
};

static int perr(struct parser *p, size_t pos, enum cn_err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct parser *p, size_t pos, enum cn_err_kind kind, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tmpl_err(p->name, p->src, pos, p->err, kind, "%s", msg);
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static void lex(struct parser *p, struct tok *t)
{
	const char *s = p->src;
	size_t i = p->pos;
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	memset(t, 0, sizeof(*t));
	t->pos = i;
	if (!s[i]) {
		t->kind = T_EOF;
	} else if (s[i] == '-' && s[i + 1] == '}' && s[i + 2] == '}' && i > p->pos) {
		t->kind = T_CLOSE;
		t->trim = true;
		t->len = 3;
	} else if (s[i] == '}' && s[i + 1] == '}') {
		t->kind = T_CLOSE;
		t->len = 2;
	} else if (s[i] == '.' || s[i] == '$') {
		size_t j = i + 1;
		t->kind = s[i] == '.' ? T_FIELD : T_VAR;
		while (ident_char(s[j]) || (s[j] == '.' && ident_char(s[j + 1])))
			j++;
		t->len = j - i;
	} else if (s[i] == '"' || s[i] == '`') {
		size_t j = i + 1;
		while (s[j] && s[j] != s[i] && !(s[i] == '"' && s[j] == '\n')) {
			if (s[i] == '"' && s[j] == '\\' && s[j + 1])
				j++;
			j++;
		}
		t->kind = s[j] == s[i] ? T_STR : T_BAD;
		t->len = s[j] ? j + 1 - i : j - i;
	} else if (isdigit((unsigned char)s[i]) || ((s[i] == '-' || s[i] == '+') && isdigit((unsigned char)s[i + 1]))) {
		size_t j = i + 1;
		while (isalnum((unsigned char)s[j]) || s[j] == '.' || s[j] == '_')
			j++;
		t->kind = T_NUM;
		t->len = j - i;
	} else if (ident_char(s[i])) {
		size_t j = i;
		while (ident_char(s[j]))
			j++;
		t->kind = T_IDENT;
		t->len = j - i;
	} else if (s[i] == ':' && s[i + 1] == '=') {
		t->kind = T_DECL;
		t->len = 2;
	} else {
		static const char one[] = "()|=,";
		static const enum tok_kind kinds[] = { T_LPAREN, T_RPAREN, T_PIPE, T_ASSIGN, T_COMMA };
		const char *c = strchr(one, s[i]);
		t->kind = c ? kinds[c - one] : T_BAD;
		t->len = 1;
	}
	p->pos = i + t->len;
}

static void peek(struct parser *p, struct tok *t)
{
	size_t save = p->pos;
	lex(p, t);
	p->pos = save;
}

static bool tok_is(const struct parser *p, const struct tok *t, const char *word)
{
	return t->kind == T_IDENT && t->len == strlen(word) && !memcmp(p->src + t->pos, word, t->len);
}

/* A Go string literal's value: JSON's escapes are Go's common ones. */
static json_t *string_lit(struct parser *p, const struct tok *t)
{
	const char *s = p->src + t->pos;
	cn_buf b;
	json_t *v;
	cn_buf_init(&b, 0);
	if (*s == '`') {
		cn_buf_add(&b, s + 1, t->len - 2);
	} else {
		for (size_t i = 1; i + 1 < t->len; i++) {
			char c = s[i];
			if (c != '\\') {
				cn_buf_addc(&b, c);
				continue;
			}
			c = s[++i];
			switch (c) {
			case 'n': cn_buf_addc(&b, '\n'); break;
			case 't': cn_buf_addc(&b, '\t'); break;
			case 'r': cn_buf_addc(&b, '\r'); break;
			case '\\': case '"': case '\'': cn_buf_addc(&b, c); break;
			default:
				cn_buf_free(&b);
				perr(p, t->pos + i, CN_ERR_INVALID, "unknown escape \\%c in a string", c);
				return NULL;
			}
		}
	}
	v = json_stringn(b.data, b.len);
	cn_buf_free(&b);
	if (!v)
		perr(p, t->pos, CN_ERR_INVALID, "a string that is not UTF-8");
	return v;
}

static json_t *number_lit(struct parser *p, const struct tok *t)
{
	_cleanup_free_ char *s = cn_xstrndup(p->src + t->pos, t->len);
	char *end;
	long long n;
	double d;
	errno = 0;
	n = strtoll(s, &end, 0);
	if (!errno && !*end)
		return json_integer(n);
	errno = 0;
	d = strtod(s, &end);
	if (!errno && !*end)
		return json_real(d);
	perr(p, t->pos, CN_ERR_INVALID, "bad number '%s'", s);
	return NULL;
}

/* ".A.B" or "$x.A.B" into A's name and fields. */
static void split_fields(const char *s, size_t len, char **name, cn_strv *fields)
{
	size_t i = 0;
	if (s[0] == '$') {
		while (i < len && s[i] != '.')
			i++;
		*name = cn_xstrndup(s, i);
	}
	while (i < len) {
		size_t j = ++i;         /* past the dot */
		while (j < len && s[j] != '.')
			j++;
		if (j > i)
			cn_strv_push(fields, cn_xstrndup(s + i, j - i));
		i = j;
	}
}

static struct pipe *parse_pipe(struct parser *p, bool in_paren, bool decl_ok, struct tok *end);

/* What call() knows. */
static const char *const functions[] = {
	"json", "index", "join", "split", "upper", "lower", "title", "truncate", "pad", "len", "print",
	"printf", "println", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
};

static int parse_arg(struct parser *p, struct tok *t, struct arg *a)
{
	memset(a, 0, sizeof(*a));
	a->pos = t->pos;
	switch (t->kind) {
	case T_FIELD:
		a->kind = A_FIELD;
		split_fields(p->src + t->pos, t->len, &a->name, &a->fields);
		return 0;
	case T_VAR:
		a->kind = A_VAR;
		split_fields(p->src + t->pos, t->len, &a->name, &a->fields);
		return 0;
	case T_STR:
		a->kind = A_LIT;
		a->lit = string_lit(p, t);
		return a->lit ? 0 : -1;
	case T_NUM:
		a->kind = A_LIT;
		a->lit = number_lit(p, t);
		return a->lit ? 0 : -1;
	case T_IDENT:
		if (tok_is(p, t, "true") || tok_is(p, t, "false") || tok_is(p, t, "nil")) {
			a->kind = A_LIT;
			a->lit = tok_is(p, t, "nil") ? json_null() : json_boolean(tok_is(p, t, "true"));
			return 0;
		}
		a->kind = A_FUNC;
		a->name = cn_xstrndup(p->src + t->pos, t->len);
		/* As Go: an unknown function is an error before anything runs. */
		for (size_t i = 0; i < CN_ARRAY_SIZE(functions); i++)
			if (!strcmp(functions[i], a->name))
				return 0;
		return perr(p, t->pos, CN_ERR_INVALID, "function \"%s\" not defined", a->name);
	case T_LPAREN: {
		struct tok end;
		if (++p->depth > MAX_DEPTH)
			return perr(p, t->pos, CN_ERR_TOO_BIG, "nested too deeply");
		a->kind = A_PIPE;
		a->sub = parse_pipe(p, true, false, &end);
		p->depth--;
		return a->sub ? 0 : -1;
	}
	case T_EOF:
		return perr(p, t->pos, CN_ERR_INVALID, "unclosed action (no }})");
	default:
		return perr(p, t->pos, CN_ERR_INVALID, "unexpected '%.*s' in an action", (int)t->len,
			    p->src + t->pos);
	}
}

/* A pipeline up to "}}" (or ")" IN_PAREN), which *END receives. */
static struct pipe *parse_pipe(struct parser *p, bool in_paren, bool decl_ok, struct tok *end)
{
	struct pipe *pp = cn_xcalloc(1, sizeof(*pp));
	struct tok t, n;
	pp->pos = p->pos;
	/* $x := ... or $k, $v := ... */
	peek(p, &t);
	if (t.kind == T_VAR && !memchr(p->src + t.pos, '.', t.len)) {
		size_t save = p->pos;
		lex(p, &t);
		lex(p, &n);
		if (n.kind == T_COMMA) {
			struct tok v, d;
			lex(p, &v);
			lex(p, &d);
			if (v.kind == T_VAR && d.kind == T_DECL && decl_ok) {
				pp->decl[0] = cn_xstrndup(p->src + t.pos, t.len);
				pp->decl[1] = cn_xstrndup(p->src + v.pos, v.len);
				pp->ndecl = 2;
			} else {
				perr(p, n.pos, CN_ERR_INVALID, "two variables are declared only in range");
				goto fail;
			}
		} else if (n.kind == T_DECL || n.kind == T_ASSIGN) {
			pp->decl[0] = cn_xstrndup(p->src + t.pos, t.len);
			pp->ndecl = 1;
		} else {
			p->pos = save;
		}
	}
	for (;;) {
		struct cmd *c;
		lex(p, &t);
		if ((t.kind == T_CLOSE && !in_paren) || (t.kind == T_RPAREN && in_paren)) {
			if (pp->n == 0 || pp->cmds[pp->n - 1].n == 0) {
				perr(p, t.pos, CN_ERR_INVALID, "missing value for command");
				goto fail;
			}
			*end = t;
			return pp;
		}
		if (t.kind == T_PIPE) {
			if (pp->n == 0 || pp->cmds[pp->n - 1].n == 0) {
				perr(p, t.pos, CN_ERR_INVALID, "missing value before |");
				goto fail;
			}
			cn_xgrow((void **)&pp->cmds, &pp->cap, pp->n + 1, sizeof(*pp->cmds));
			memset(&pp->cmds[pp->n++], 0, sizeof(*pp->cmds));
			continue;
		}
		if (pp->n == 0) {
			cn_xgrow((void **)&pp->cmds, &pp->cap, 1, sizeof(*pp->cmds));
			memset(&pp->cmds[pp->n++], 0, sizeof(*pp->cmds));
		}
		c = &pp->cmds[pp->n - 1];
		if (c->n == 0)
			c->pos = t.pos;
		cn_xgrow((void **)&c->args, &c->cap, c->n + 1, sizeof(*c->args));
		if (parse_arg(p, &t, &c->args[c->n]) < 0) {
			c->n++;
			goto fail;
		}
		c->n++;
	}
fail:
	pipe_free(pp);
	return NULL;
}

/* Where the text before "{{" ends, and whether "{{-" trims it. */
static int parse_list(struct parser *p, struct list *l, const char **stop, bool *trim_next);

/* What ended a block's list: "end", "else", "else if". */
enum block_end { END_EOF, END_END, END_ELSE, END_ELSE_IF };

static int parse_block(struct parser *p, struct list *l, enum node_kind kind, size_t pos, bool *trim_next);

/* One list of nodes up to {{end}}/{{else}} (*STOP names which) or the end. */
static int parse_list(struct parser *p, struct list *l, const char **stop, bool *trim_next)
{
	const char *s = p->src;
	*stop = NULL;
	for (;;) {
		const char *open = strstr(s + p->pos, "{{");
		size_t tend = open ? (size_t)(open - s) : strlen(s);
		size_t tstart = p->pos, apos;
		bool trim_before = open && open[2] == '-' && strchr(" \t\n\r", open[3]) && open[3];
		struct tok t;
		if (*trim_next)
			while (tstart < tend && strchr(" \t\n\r", s[tstart]))
				tstart++;
		*trim_next = false;
		if (trim_before)
			while (tend > tstart && strchr(" \t\n\r", s[tend - 1]))
				tend--;
		if (tend > tstart)
			list_add(l, N_TEXT, tstart)->text = cn_xstrndup(s + tstart, tend - tstart);
		if (!open) {
			p->pos = strlen(s);
			return 0;
		}
		apos = (size_t)(open - s);
		p->pos = apos + 2 + (trim_before ? 1 : 0);
		/* A comment: "{{/" "*" ... "*" "/}}" */
		{
			size_t i = p->pos;
			while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
				i++;
			if (s[i] == '/' && s[i + 1] == '*') {
				const char *c = strstr(s + i + 2, "*/");
				if (!c)
					return perr(p, i, CN_ERR_INVALID, "unclosed comment");
				p->pos = (size_t)(c - s) + 2;
				lex(p, &t);
				if (t.kind != T_CLOSE)
					return perr(p, t.pos, CN_ERR_INVALID, "comment ends with '*/' then '}}'");
				*trim_next = t.trim;
				continue;
			}
		}
		peek(p, &t);
		if (t.kind == T_IDENT) {
			static const char *const unsupported[] = { "define", "template", "block", "break",
								   "continue" };
			for (size_t i = 0; i < CN_ARRAY_SIZE(unsupported); i++)
				if (tok_is(p, &t, unsupported[i]))
					return perr(p, t.pos, CN_ERR_UNSUPPORTED, "{{%s}} is not supported",
						    unsupported[i]);
			if (tok_is(p, &t, "end") || tok_is(p, &t, "else")) {
				struct tok c;
				bool is_else = tok_is(p, &t, "else");
				lex(p, &t);
				peek(p, &c);
				if (is_else && tok_is(p, &c, "if")) {
					lex(p, &c);
					*stop = "else if";
					return 0;
				}
				lex(p, &c);
				if (c.kind != T_CLOSE)
					return perr(p, c.pos, CN_ERR_INVALID, "unexpected '%.*s' after %s",
						    (int)c.len, s + c.pos, is_else ? "else" : "end");
				*trim_next = c.trim;
				*stop = is_else ? "else" : "end";
				return 0;
			}
			if (tok_is(p, &t, "if") || tok_is(p, &t, "range") || tok_is(p, &t, "with")) {
				enum node_kind k = tok_is(p, &t, "if") ? N_IF : tok_is(p, &t, "range") ? N_RANGE : N_WITH;
				lex(p, &t);
				if (parse_block(p, l, k, apos, trim_next) < 0)
					return -1;
				continue;
			}
		}
		{
			struct tok end;
			struct pipe *pp = parse_pipe(p, false, true, &end);
			if (!pp)
				return -1;
			list_add(l, N_ACTION, apos)->pipe = pp;
			*trim_next = end.trim;
		}
	}
}

/* After "{{if", "{{range", "{{with" (or "{{else if"): the pipeline, the
 * body, an optional else, and {{end}}. */
static int parse_block(struct parser *p, struct list *l, enum node_kind kind, size_t pos, bool *trim_next)
{
	static const char *const names[] = { [N_IF] = "if", [N_RANGE] = "range", [N_WITH] = "with" };
	struct node *nd = list_add(l, kind, pos);
	const char *stop;
	struct tok end;
	if (++p->depth > MAX_DEPTH)
		return perr(p, pos, CN_ERR_TOO_BIG, "nested too deeply");
	nd->pipe = parse_pipe(p, false, kind == N_RANGE || kind == N_WITH || kind == N_IF, &end);
	if (!nd->pipe)
		return -1;
	if (nd->pipe->ndecl == 2 && kind != N_RANGE)
		return perr(p, pos, CN_ERR_INVALID, "two variables are declared only in range");
	*trim_next = end.trim;
	if (parse_list(p, &nd->body, &stop, trim_next) < 0)
		return -1;
	if (stop && !strcmp(stop, "else if")) {
		if (kind != N_IF)
			return perr(p, p->pos, CN_ERR_UNSUPPORTED, "{{else if}} inside {{%s}} is not supported",
				    names[kind]);
		/* The rest (its own else and the shared end) belongs to the inner if. */
		if (parse_block(p, &nd->alt, N_IF, p->pos, trim_next) < 0)
			return -1;
		p->depth--;
		return 0;
	}
	if (stop && !strcmp(stop, "else") && parse_list(p, &nd->alt, &stop, trim_next) < 0)
		return -1;
	if (!stop || strcmp(stop, "end") != 0)
		return perr(p, pos, CN_ERR_INVALID, "{{%s}} without {{end}}", names[kind]);
	p->depth--;
	return 0;
}

struct cn_tmpl *cn_tmpl_parse(const char *name, const char *text, cn_err *err)
{
	struct cn_tmpl *t = cn_xcalloc(1, sizeof(*t));
	struct parser p = { 0 };
	const char *stop;
	bool trim = false;
	t->name = cn_xstrdup(name);
	t->src = cn_xstrdup(text);
	p.name = t->name;
	p.src = t->src;
	p.err = err;
	if (parse_list(&p, &t->root, &stop, &trim) < 0)
		goto fail;
	if (stop) {
		perr(&p, p.pos, CN_ERR_INVALID, "unexpected {{%s}}", stop);
		goto fail;
	}
	return t;
fail:
	cn_tmpl_free(t);
	return NULL;
}

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
};

static int eerr(struct exec *e, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int eerr(struct exec *e, size_t pos, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tmpl_err(e->t->name, e->t->src, pos, e->err, CN_ERR_INVALID, "%s", msg);
}

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
	cn_buf_init(&b, 0);
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
		return eval_pipe(e, a->sub, dot, out);
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
	cn_buf_init(&b, 0);
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
		cn_buf_init(&b, 0);
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
		cn_buf_init(&b, 0);
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

/* One command of a pipeline; PREV (borrowed, may be NULL with HAVE_PREV)
 * is the previous command's value, passed as the last argument. */
static int eval_cmd(struct exec *e, const struct cmd *c, json_t *dot, bool have_prev, json_t *prev,
		    json_t **out)
{
	json_t **v;
	size_t n = 0;
	int r = 0;
	*out = NULL;
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
		return tmpl_err(e->t->name, e->t->src, pos, e->err, CN_ERR_TOO_BIG, "output over %u MiB",
				MAX_OUTPUT >> 20);
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
				cn_buf_init(&b, 0);
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

static int exec_with(const struct cn_tmpl *t, json_t *data, json_t *headers, cn_buf *out, cn_err *err)
{
	struct exec e = { .t = t, .out = out, .err = err, .headers = headers };
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

int cn_tmpl_exec(const struct cn_tmpl *t, json_t *data, cn_buf *out, cn_err *err)
{
	return exec_with(t, data, NULL, out, err);
}

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
		int r = exec_with(f->t, h, h, &f->out, err);
		json_decref(h);
		if (r < 0)
			return -1;
		cn_buf_addc(&f->out, '\n');
	}
	return 0;
}

int cn_fmt_row(struct cn_fmt *f, json_t *row, cn_err *err)
{
	if (f->kind == CN_FMT_JSON) {
		_cleanup_free_ char *s = json_dumps(row, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			return cn_err_fail(err, CN_ERR_SYSTEM, "cannot write a row as JSON");
		cn_buf_adds(&f->out, s);
	} else if (f->t && cn_tmpl_exec(f->t, row, &f->out, err) < 0) {
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
