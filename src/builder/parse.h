/* Buildfile (Dockerfile syntax) parser: text -> AST with line numbers.
 * Pure: no I/O, no side effects. The AST mirrors BuildKit's so that
 * bf_dump() matches the conformance corpus byte for byte. */
#ifndef BF_PARSE_H
#define BF_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/strv.h"

/* Hard caps against hostile build files. */
#define BF_MAX_LINE 65535               /* one physical line, as BuildKit */
#define BF_MAX_FILE (16u << 20)          /* whole file */
#define BF_MAX_INSTRUCTIONS 10000

struct bf_heredoc {
	char *name;       /* delimiter after quote removal, e.g. "EOF" */
	char *content;    /* body, newline-terminated lines (tabs stripped for <<- only at use) */
	bool expand;      /* false when any part of the delimiter was quoted */
	bool chomp;       /* <<- : strip leading tabs */
	int fd;           /* the leading digits (<<EOF = 0 for RUN, otherwise as written) */
};

struct bf_node {
	char *keyword;          /* lower-case: "from", "run", ... */
	char *original;         /* the assembled logical line, trimmed, as written */
	int start_line;         /* 1-based physical lines */
	int end_line;
	int column;             /* 1-based column of the keyword on start_line */
	cn_strv flags;          /* "--chown=1:2" (quotes removed as BuildKit does) */
	cn_strv args;           /* arguments per the line parsers (see README of the corpus) */
	size_t *arglens;        /* byte length of each args entry: a JSON "\u0000" puts a NUL
	                         * inside one, which strlen would not see */
	bool json;              /* exec (JSON) form of RUN/CMD/ENTRYPOINT/SHELL/COPY/ADD/VOLUME */
	struct bf_node *onbuild;       /* ONBUILD: the nested instruction, else NULL */
	struct bf_heredoc *heredocs;   /* ADD/COPY/RUN heredocs, in order */
	size_t nheredocs;
};

struct bf_file {
	char escape;            /* '\\' or '`' */
	char *syntax;           /* "# syntax=" directive value, or NULL */
	struct bf_node *nodes;
	size_t nnodes;
	cn_strv warnings;       /* "NAME:LINE: message" lines, e.g. empty continuation lines */
};

/* Parse DATA (LEN bytes). NAME is used in messages: "NAME:LINE: ...".
 * On error returns -1 and out is left empty. */
int bf_parse(const char *name, const char *data, size_t len, struct bf_file *out, cn_err *err);
void bf_file_free(struct bf_file *f);

/* The 1-based column of TOKEN in the instruction ND when it is on the
 * instruction's only line, else the keyword's column. */
int bf_node_column(const struct bf_node *nd, const char *token);

/* The conformance dump: one "(keyword [flags] args...)\n" line per node. */
void bf_dump(const struct bf_file *f, cn_buf *out);

#endif
