/* Shared between the parser's files (parse.c: lines, directives, flags
 * and line parsers; parse_json.c: the JSON form; parse_heredoc.c:
 * heredocs; parse_dump.c: Go quoting and the conformance dump). Not for
 * use outside src/builder/parse*.c. */
#ifndef BF_PARSE_INTERNAL_H
#define BF_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/parse.h"
#include "util/buf.h"
#include "util/err.h"

struct parser {
	const char *name;
	const char *data;
	size_t len, pos;
	int lineno;                /* physical line last read, 1-based */
	char escape;
	bool directives_done;
	unsigned seen;             /* directives already given, DIR_* bits */
	struct bf_file *f;
	size_t nodes_cap;
	cn_err *err;
};

/* A physical line: text without its line ending, and the whole of it. */
struct pline {
	const char *s;
	size_t n;                  /* trailing '\r' and '\n' removed */
	size_t full;               /* including the newline */
};

/* parse.c */

/* "NAME:LINE:COLUMN: message"; returns -1. */
int bfp_perr(struct parser *p, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Returns 1 with the next line, 0 at the end, -1 for a line over the cap. */
int bfp_next_line(struct parser *p, struct pline *l);
/* RE2's \s. */
bool bfp_re_space(char c);
/* Appends S (N bytes, which may hold a NUL) to ND's args. */
void bfp_node_arg(struct bf_node *nd, const char *s, size_t n);

/* parse_json.c */

/* TEXT as a JSON array of strings: 1 and the elements as args, 0 when it
 * is not a JSON array at all (then it is shell text), -1 for a JSON array
 * with an element that is not a string. */
int bfp_json_array(const char *s, size_t n, struct bf_node *nd);

/* parse_heredoc.c */

/* The heredocs of the instruction ND whose logical line is LINE: their
 * bodies are read from the lines that follow. 0, or -1 with p->err set. */
int bfp_read_heredocs(struct parser *p, const char *line, struct bf_node *nd);

/* parse_dump.c */

/* Go's strconv.Quote of S (N bytes) appended to B. */
void bfp_go_quote(cn_buf *b, const char *s, size_t n);

#endif
