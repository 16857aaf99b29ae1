/* Heredocs ("RUN <<EOF" ... "EOF") of ADD, COPY and RUN: which words of
 * the instruction line start one, and their bodies from the following
 * physical lines, as BuildKit reads them. */
#include "builder/parse.h"
#include "builder/parse_internal.h"
#include "builder/expand.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

static size_t count_quotes(const char *s)
{
	size_t c = 0;
	for (; *s; s++)
		c += *s == '\'' || *s == '"';
	return c;
}

/* One word of the instruction line: is it "[fd]<<[-]name"? Returns 1 and
 * fills HD, 0 if not, -1 on error. The name is the word with quotes
 * removed; quoting any part of it turns expansion off. */
static int heredoc_word(struct parser *p, const char *w, struct bf_heredoc *hd)
{
	_cleanup_strv_ cn_strv plain = { 0 };
	_cleanup_strv_ cn_strv raw = { 0 };
	struct bf_lex_opts o1 = { BF_LEX_SKIP_UNSET, NULL, NULL };
	struct bf_lex_opts o2 = { BF_LEX_SKIP_UNSET | BF_LEX_RAW_QUOTES, NULL, NULL };
	size_t i = 0;
	unsigned long fd = 0;
	bool chomp;
	const char *rest;

	while (w[i] >= '0' && w[i] <= '9') {
		fd = fd > 100000000ul ? ULONG_MAX : fd * 10 + (unsigned long)(w[i] - '0');
		i++;
	}
	if (w[i] != '<' || w[i + 1] != '<')
		return 0;
	i += 2;
	chomp = w[i] == '-';
	i += chomp;
	while (bfp_re_space(w[i]))
		i++;
	rest = w + i;
	if (!*rest || strchr(rest, '<'))
		return 0;
	if (bf_expand(rest, '\\', NULL, &o1, NULL, &plain, p->err) < 0)
		return -1;
	if (plain.n != 1)
		return 0;
	if (bf_expand(rest, '\\', NULL, &o2, NULL, &raw, p->err) < 0)
		return -1;
	if (raw.n != 1)
		return cn_err_fail(p->err, CN_ERR_INVALID, "internal lexing of heredoc produced inconsistent "
				  "results: %s", rest);
	hd->name = CN_TAKE_PTR(plain.v[0]);
	hd->expand = count_quotes(hd->name) == count_quotes(raw.v[0]);
	hd->chomp = chomp;
	hd->fd = fd > INT32_MAX ? 0 : (int)fd;
	return 1;
}

/* Only ADD, COPY and RUN (possibly under ONBUILD), in shell form. */
static bool can_have_heredoc(const struct bf_node *nd)
{
	if (nd->onbuild && strcmp(nd->keyword, "onbuild") == 0)
		nd = nd->onbuild;
	if (strcmp(nd->keyword, "add") && strcmp(nd->keyword, "copy") && strcmp(nd->keyword, "run"))
		return false;
	return !nd->json;
}

/* The lines after the instruction up to the terminator (tabs before it
 * ignored for <<-) are the body. */
static int read_heredoc_body(struct parser *p, struct bf_heredoc *hd, int start, int col,
			     const char *kw)
{
	cn_buf body;
	struct pline l;
	size_t nlen = strlen(hd->name);
	int r;

	cn_buf_init(&body, 0);
	while ((r = bfp_next_line(p, &l)) > 0) {
		const char *s = l.s;
		size_t n = l.n;
		while (hd->chomp && n && *s == '\t')
			s++, n--;
		if (n == nlen && memcmp(s, hd->name, n) == 0) {
			hd->content = cn_buf_detach(&body);
			return 0;
		}
		cn_buf_add(&body, l.s, l.full);
	}
	cn_buf_free(&body);
	if (r < 0)
		return -1;
	return bfp_perr(p, start, col, "%s: unterminated heredoc (expected a line '%s' ending it)", kw, hd->name);
}

/* The keyword as users write it in messages: "RUN". */
static void keyword_upper(const struct bf_node *nd, char *out, size_t cap)
{
	size_t i = 0;
	for (; nd->keyword && nd->keyword[i] && i + 1 < cap; i++)
		out[i] = (char)toupper((unsigned char)nd->keyword[i]);
	out[i] = '\0';
}

int bfp_read_heredocs(struct parser *p, const char *line, struct bf_node *nd)
{
	_cleanup_strv_ cn_strv words = { 0 };
	struct bf_lex_opts o = { BF_LEX_RAW_QUOTES | BF_LEX_RAW_ESCAPES | BF_LEX_SKIP_UNSET,
				 NULL, NULL };
	cn_err ignored;

	if (!strstr(line, "<<") || !can_have_heredoc(nd))
		return 0;
	/* A line the lexer rejects (say, an open quote) has no heredocs. */
	if (bf_expand(line, '\\', NULL, &o, NULL, &words, &ignored) < 0)
		return 0;
	for (size_t i = 0; i < words.n; i++) {
		struct bf_heredoc hd = { 0 };
		int r = heredoc_word(p, words.v[i], &hd);
		char kw[16];
		keyword_upper(nd, kw, sizeof(kw));
		if (r < 0)
			return cn_err_wrap(p->err, "%s:%d:%d: %s", p->name, nd->start_line,
					   bf_node_column(nd, "<<"), kw);
		if (r == 0)
			continue;
		nd->heredocs = cn_xrealloc(nd->heredocs, (nd->nheredocs + 1) * sizeof(*nd->heredocs));
		nd->heredocs[nd->nheredocs++] = hd;
		if (read_heredoc_body(p, &nd->heredocs[nd->nheredocs - 1], nd->start_line,
				      bf_node_column(nd, "<<"), kw) < 0)
			return -1;
	}
	return 0;
}
