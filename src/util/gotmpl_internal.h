/* util/gotmpl's parts shared by its files: the parsed tree (gotmpl.c
 * builds it, gotmpl_exec.c walks it) and positioned errors. */
#ifndef CN_GOTMPL_INTERNAL_H
#define CN_GOTMPL_INTERNAL_H

#include "util/gotmpl.h"
#include "util/strv.h"

#include <stdarg.h>

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
	cn_strv fields;         /* .A.B after the dot, the variable or ")" */
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


/* "NAME:LINE:COL: MSG" for byte POS of SRC; returns -1. */
int cn_tmpl_verr(const char *name, const char *src, size_t pos, cn_err *err, enum cn_err_kind kind,
		 const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* cn_tmpl_exec; with HEADERS, header mode: each field prints its column
 * title (HEADERS[field], else the field's name in upper case). */
int cn_tmpl_exec_headers(const struct cn_tmpl *t, json_t *data, json_t *headers, cn_buf *out, cn_err *err);

#endif
