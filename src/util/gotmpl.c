/* util/gotmpl: a small Go text/template evaluator over jansson values (see
 * gotmpl.h for the subset). This file parses: text into a tree of nodes
 * (text, actions, if/range/with blocks) that gotmpl_exec.c evaluates. */
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
int cn_tmpl_verr(const char *name, const char *src, size_t pos, cn_err *err, enum cn_err_kind kind,
		     const char *fmt, va_list ap)
{
	char msg[512];
	size_t line = 1, col = 1;
	for (size_t i = 0; i < pos && src[i]; i++) {
		if (src[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
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
	va_list ap;
	int r;
	va_start(ap, fmt);
	r = cn_tmpl_verr(p->name, p->src, pos, p->err, kind, fmt, ap);
	va_end(ap);
	return r;
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
		if (!a->sub)
			return -1;
		/* (pipeline).Field.Chain, as Go: the fields right after ")". */
		if (p->src[p->pos] == '.' && ident_char(p->src[p->pos + 1])) {
			struct tok f;
			lex(p, &f);
			split_fields(p->src + f.pos, f.len, &a->name, &a->fields);
		}
		return 0;
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
