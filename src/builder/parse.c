/* Buildfile parser. The behaviour (logical lines, directives, flags, the
 * per-instruction line parsers; the JSON form, heredocs and the dump are in
 * parse_json.c, parse_heredoc.c and parse_dump.c) follows
 * the conformance corpus description, dockerfile-parser/README.md, so that
 * the AST matches BuildKit's. */
#include "builder/parse.h"
#include "builder/parse_internal.h"
#include "builder/expand.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONBUILD_MAX_DEPTH 8       /* ONBUILD ONBUILD ...: bounds the recursion */

enum { DIR_SYNTAX = 1, DIR_ESCAPE = 2, DIR_CHECK = 4 };

/* ---- characters ---- */

/* The separators of BuildKit's whitespace splits: [\t\v\f\r ]. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_ascii_space(char c)
{
	return is_blank(c) || c == '\n';
}

/* Length of the Unicode white space at the start of S. */
static size_t lead_space(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(s + i, n - i, &cp);
		if (!cn_unicode_is_space(cp))
			break;
		i += k;
	}
	return i;
}

/* ---- errors ---- */

/* "NAME:LINE:COLUMN: message" */
int bfp_perr(struct parser *p, int line, int col, const char *fmt, ...)
{
	char msg[CN_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cn_err_fail(p->err, CN_ERR_INVALID, "%s:%d:%d: %s", p->name, line, col, msg);
}

int bf_node_column(const struct bf_node *nd, const char *token)
{
	const char *at;
	/* original is the line from its keyword on; joined lines shift columns. */
	size_t kw = nd->original ? strcspn(nd->original, " \t\v\f\r") : 0;
	/* Searched after the keyword: a short word could match inside it. */
	if (!token || !*token || nd->start_line != nd->end_line || !nd->original ||
	    !(at = strstr(nd->original + kw, token)))
		return nd->column;
	return nd->column + (int)(at - nd->original);
}

/* A quoted copy for error messages. */
static char *quoted(const char *s)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	bfp_go_quote(&b, s, strlen(s));
	return cn_buf_detach(&b);
}

/* ---- reading physical lines ---- */

/* Returns 1 with the next line, 0 at the end, -1 for a line over the cap. */
int bfp_next_line(struct parser *p, struct pline *l)
{
	const char *s = p->data + p->pos, *nl;
	size_t avail = p->len - p->pos, n;

	if (avail == 0)
		return 0;
	nl = memchr(s, '\n', avail);
	l->full = nl ? (size_t)(nl - s) + 1 : avail;
	p->pos += l->full;
	p->lineno++;
	n = nl ? (size_t)(nl - s) : avail;
	if (n > BF_MAX_LINE)
		return bfp_perr(p, p->lineno, BF_MAX_LINE + 1, "line is longer than the maximum of %d bytes "
			    "(expected shorter lines; continue with the escape character)", BF_MAX_LINE);
	/* A UTF-8 byte order mark is dropped from the first line. */
	if (p->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3, n -= 3, l->full -= 3;
	}
	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	l->s = s;
	l->n = n;
	return 1;
}

/* ---- parser directives ---- */

/* RE2's \s. */
bool bfp_re_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int set_directive(struct parser *p, const char *key, const char *val, size_t vlen)
{
	unsigned bit = !strcmp(key, "syntax") ? DIR_SYNTAX : !strcmp(key, "escape") ? DIR_ESCAPE :
		       DIR_CHECK;
	if (p->seen & bit)
		return bfp_perr(p, p->lineno, 1, "only one %s parser directive can be used (expected it once, "
			    "at the top)", key);
	p->seen |= bit;
	if (bit == DIR_ESCAPE) {
		if (vlen != 1 || (val[0] != '`' && val[0] != '\\'))
			return bfp_perr(p, p->lineno, 1, "invalid escape token '%.*s' does not match ` or \\ "
				    "(expected # escape=` or # escape=\\)", (int)vlen, val);
		p->escape = val[0];
	} else if (bit == DIR_SYNTAX) {
		p->f->syntax = cn_xstrndup(val, vlen);
	}
	return 0;
}

/* "# key = value" at the top of the file, for key syntax, escape or check.
 * The first line that is not one ends the directives for good. Returns 1
 * for a directive, 0 otherwise, -1 on error. S has no leading blanks. */
static int directive(struct parser *p, const char *s, size_t n)
{
	size_t i, k0, k1, v0;
	char key[8];

	if (p->directives_done)
		return 0;
	p->directives_done = true;
	if (n == 0 || s[0] != '#')
		return 0;
	i = 1 + lead_space(s + 1, n - 1);
	k0 = i;
	if (i >= n || !((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
		return 0;
	while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || (s[i] >= '0' && s[i] <= '9')))
		i++;
	k1 = i;
	while (i < n && bfp_re_space(s[i]))
		i++;
	if (i >= n || s[i] != '=')
		return 0;
	for (i++, v0 = i; i < n && bfp_re_space(s[i]);)
		i++;
	/* The value is at least one character: with only blanks after '='
	 * (the regexp (.+?) gets the last one). */
	if (i == n) {
		if (v0 == n)
			return 0;
		i = n - 1;
	}
	while (n > i + 1 && bfp_re_space(s[n - 1]))
		n--;
	if (k1 - k0 >= sizeof(key))
		return 0;
	for (size_t j = k0; j < k1; j++)
		key[j - k0] = (char)(s[j] | 0x20);
	key[k1 - k0] = '\0';
	if (strcmp(key, "syntax") && strcmp(key, "escape") && strcmp(key, "check"))
		return 0;
	p->directives_done = false;
	if (set_directive(p, key, s + i, n - i) < 0)
		return -1;
	return 1;
}

/* ---- node construction helpers ---- */

void bfp_node_arg(struct bf_node *nd, const char *s, size_t n)
{
	/* Copied by length, not as a C string: S may hold a NUL. */
	char *copy = cn_xmalloc(n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	cn_strv_push(&nd->args, copy);
	nd->arglens = cn_xrealloc(nd->arglens, nd->args.cap * sizeof(*nd->arglens));
	nd->arglens[nd->args.n - 1] = n;
}

static void node_free(struct bf_node *nd)
{
	free(nd->keyword);
	free(nd->original);
	cn_strv_free(&nd->flags);
	cn_strv_free(&nd->args);
	free(nd->arglens);
	if (nd->onbuild) {
		node_free(nd->onbuild);
		free(nd->onbuild);
	}
	for (size_t i = 0; i < nd->nheredocs; i++) {
		free(nd->heredocs[i].name);
		free(nd->heredocs[i].content);
	}
	free(nd->heredocs);
	memset(nd, 0, sizeof(*nd));
}

/* ---- line parsers: argument text -> node args ---- */

typedef int (*line_parser)(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth);

static int parse_ignore(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)p, (void)s, (void)n, (void)depth;
	bfp_node_arg(nd, "", 0);
	return 0;
}

static int parse_string(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)p, (void)depth;
	if (n)
		bfp_node_arg(nd, s, n);
	return 0;
}

/* Split on runs of [\t\v\f\r ] (the text is already trimmed). */
static int parse_ws_list(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)p, (void)depth;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && !is_blank(s[j]))
			j++;
		bfp_node_arg(nd, s + i, j - i);
		while (j < n && is_blank(s[j]))
			j++;
		i = j;
	}
	return 0;
}

static int json_or(struct parser *p, const char *s, size_t n, struct bf_node *nd, bool list)
{
	int r = bfp_json_array(s, n, nd);
	if (r < 0)
		return cn_err_fail(p->err, CN_ERR_INVALID, "when using JSON array syntax, arrays must be "
				  "comprised of strings only (expected [\"a\", \"b\"])");
	if (r > 0) {
		nd->json = true;
		return 0;
	}
	if (list)
		return parse_ws_list(p, s, n, nd, 0);
	return parse_string(p, s, n, nd, 0);
}

/* RUN, CMD, ENTRYPOINT, SHELL: a JSON array, else the text as one arg. */
static int parse_maybe_json(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return n ? json_or(p, s, n, nd, false) : 0;
}

/* ADD, COPY, VOLUME: a JSON array, else whitespace-separated words. */
static int parse_json_or_list(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return json_or(p, s, n, nd, true);
}

enum wphase { W_SPACE, W_WORD, W_QUOTE };

/* Quote-aware words, quotes and escapes kept (ARG, ENV, LABEL). */
static void parse_words(const char *s, size_t n, char escape, cn_strv *out)
{
	enum wphase ph = W_SPACE;
	bool blank_ok = false;
	unsigned quote = 0;
	cn_buf w;

	cn_buf_init(&w, 0);
	for (size_t pos = 0; pos < n;) {
		uint32_t cp;
		size_t k = cn_utf8_decode_mark(s + pos, n - pos, &cp);
		if (ph == W_SPACE) {
			if (cn_unicode_is_space(cp)) {
				pos += k;
				continue;
			}
			ph = W_WORD;
		}
		if (ph == W_WORD && cn_unicode_is_space(cp)) {
			if (blank_ok || w.len)
				cn_strv_push(out, cn_buf_detach(&w));
			ph = W_SPACE;
			blank_ok = false;
			pos += k;
			continue;
		}
		if (ph == W_WORD && (cp == '\'' || cp == '"')) {
			quote = cp;
			blank_ok = true;
			ph = W_QUOTE;
		} else if (ph == W_QUOTE && cp == quote) {
			ph = W_WORD;
		} else if (cp == (unsigned char)escape && (ph == W_WORD || quote != '\'')) {
			/* The escape and what it escapes are both kept; one at
			 * the very end is dropped. */
			if (pos + k == n) {
				ph = W_WORD;
				pos += k;
				continue;
			}
			cn_buf_add(&w, s + pos, k);
			pos += k;
			k = cn_utf8_decode_mark(s + pos, n - pos, &cp);
		}
		cn_buf_add(&w, s + pos, k);
		pos += k;
	}
	if (ph != W_SPACE && (blank_ok || w.len))
		cn_strv_push(out, cn_buf_detach(&w));
	cn_buf_free(&w);
}

static int parse_arg(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	cn_strv words = { 0 };
	(void)depth;
	parse_words(s, n, p->escape, &words);
	for (size_t i = 0; i < words.n; i++)
		bfp_node_arg(nd, words.v[i], strlen(words.v[i]));
	cn_strv_free(&words);
	return 0;
}

/* ENV and LABEL: "key value" (old form) or key=value words; args come in
 * triples key, value, separator. */
static int parse_name_val(struct parser *p, const char *s, size_t n, struct bf_node *nd,
			  const char *what)
{
	_cleanup_strv_ cn_strv words = { 0 };
	size_t k = 0, j;

	parse_words(s, n, p->escape, &words);
	if (!words.n)
		return 0;
	if (!strchr(words.v[0], '=')) {
		while (k < n && !is_blank(s[k]))
			k++;
		if (k == n)
			return cn_err_fail(p->err, CN_ERR_INVALID, "must have two arguments (expected %s KEY=VALUE or "
					  "%s KEY VALUE)", what, what);
		for (j = k; j < n && is_blank(s[j]);)
			j++;
		bfp_node_arg(nd, s, k);
		bfp_node_arg(nd, s + j, n - j);
		bfp_node_arg(nd, "", 0);
		return 0;
	}
	for (size_t i = 0; i < words.n; i++) {
		const char *eq = strchr(words.v[i], '=');
		if (!eq) {
			_cleanup_free_ char *q = quoted(words.v[i]);
			return cn_err_fail(p->err, CN_ERR_INVALID, "Syntax error - can't find = in %s. Must be of "
					  "the form: name=value (expected %s KEY=VALUE...)", q, what);
		}
		bfp_node_arg(nd, words.v[i], (size_t)(eq - words.v[i]));
		bfp_node_arg(nd, eq + 1, strlen(eq + 1));
		bfp_node_arg(nd, "=", 1);
	}
	return 0;
}

static int parse_env(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return parse_name_val(p, s, n, nd, "ENV");
}

static int parse_label(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	(void)depth;
	return parse_name_val(p, s, n, nd, "LABEL");
}

/* HEALTHCHECK: the type word, then the rest as CMD would parse it. */
static int parse_health(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	size_t sep = 0, next;
	(void)depth;
	while (sep < n && !is_ascii_space(s[sep]))
		sep++;
	if (sep == 0)
		return 0;
	for (next = sep; next < n && is_ascii_space(s[next]);)
		next++;
	bfp_node_arg(nd, s, sep);
	return parse_maybe_json(p, s + next, n - next, nd, 0);
}

static int node_from_line(struct parser *p, const char *line, size_t n, struct bf_node *nd,
			  int depth);

/* ONBUILD: the rest is an instruction of its own. */
static int parse_onbuild(struct parser *p, const char *s, size_t n, struct bf_node *nd, int depth)
{
	if (n == 0)
		return 0;
	if (depth >= ONBUILD_MAX_DEPTH)
		return cn_err_fail(p->err, CN_ERR_INVALID, "ONBUILD nested too deeply (expected ONBUILD INSTRUCTION)");
	nd->onbuild = cn_xcalloc(1, sizeof(*nd->onbuild));
	nd->onbuild->start_line = nd->start_line;
	nd->onbuild->end_line = nd->end_line;
	nd->onbuild->column = nd->column;
	return node_from_line(p, s, n, nd->onbuild, depth + 1);
}

static const struct {
	const char *keyword;
	line_parser fn;
} line_parsers[] = {
	{ "add", parse_json_or_list }, { "arg", parse_arg }, { "cmd", parse_maybe_json },
	{ "copy", parse_json_or_list }, { "entrypoint", parse_maybe_json }, { "env", parse_env },
	{ "expose", parse_ws_list }, { "from", parse_ws_list }, { "healthcheck", parse_health },
	{ "label", parse_label }, { "maintainer", parse_string }, { "onbuild", parse_onbuild },
	{ "run", parse_maybe_json }, { "shell", parse_maybe_json }, { "stopsignal", parse_string },
	{ "user", parse_string }, { "volume", parse_json_or_list }, { "workdir", parse_string },
};

/* ---- flags ---- */

/* Reads one flag word at *pos (which starts with "--"): quotes removed,
 * the escape character escaping the next one. Sets *quoted when the word
 * had quotes (an empty quoted word still counts). */
static char *flag_word(const char *s, size_t n, size_t *pos, char escape, bool *quoted)
{
	cn_buf w;
	char quote = 0;
	size_t i = *pos;

	cn_buf_init(&w, 0);
	*quoted = false;
	while (i < n && (quote || !is_ascii_space(s[i]))) {
		char c = s[i++];
		if (!quote && (c == '\'' || c == '"')) {
			quote = c;
			*quoted = true;
			continue;
		}
		if (quote && c == quote) {
			quote = 0;
			continue;
		}
		if (c == escape) {
			if (i == n) {
				quote = 0;
				continue;
			}
			c = s[i++];
		}
		cn_buf_addc(&w, c);
	}
	*pos = i;
	return cn_buf_detach(&w);
}

/* Leading "--" words of S become flags; a bare "--" ends them and is
 * dropped. Returns the offset of the remaining argument text. */
static size_t extract_flags(const char *s, size_t n, char escape, cn_strv *flags)
{
	size_t pos = 0;

	for (;;) {
		bool quoted;
		char *w;

		while (pos < n && is_ascii_space(s[pos]))
			pos++;
		if (pos == n || !(s[pos] == '-' && pos + 1 < n && s[pos + 1] == '-'))
			return pos;
		w = flag_word(s, n, &pos, escape, &quoted);
		if (strcmp(w, "--") == 0) {
			free(w);
			return pos;
		}
		if (quoted || *w)
			cn_strv_push(flags, w);
		else
			free(w);
	}
}

/* ---- instructions ---- */

static void ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

/* Keyword, flags and argument text of a logical line, then the keyword's
 * line parser. Errors carry no location (the caller adds it). */
static int node_from_line(struct parser *p, const char *line, size_t n, struct bf_node *nd,
			  int depth)
{
	size_t kw = 0, rest;
	const char *args = "";
	size_t nargs = 0;
	line_parser fn = parse_ignore;

	line = cn_utf8_trim_space(line, &n);
	nd->original = cn_xstrndup(line, n);
	while (kw < n && !is_blank(line[kw]))
		kw++;
	nd->keyword = cn_xstrndup(line, kw);
	ascii_lower(nd->keyword);
	for (rest = kw; rest < n && is_blank(line[rest]);)
		rest++;
	if (rest < n) {
		size_t off = extract_flags(line + rest, n - rest, p->escape, &nd->flags);
		args = line + rest + off;
		nargs = n - rest - off;
		args = cn_utf8_trim_space(args, &nargs);
	}
	for (size_t i = 0; i < CN_ARRAY_SIZE(line_parsers); i++)
		if (strcmp(nd->keyword, line_parsers[i].keyword) == 0)
			fn = line_parsers[i].fn;
	return fn(p, args, nargs, nd, depth);
}

/* ---- logical lines ---- */

/* A line continues when it ends with the escape character (then blanks),
 * not itself escaped. Returns the length without it, or N if it ends. */
static size_t continuation(const char *s, size_t n, char escape, bool *cont)
{
	size_t e = n;
	while (e && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	*cont = e && s[e - 1] == escape && (e == 1 || s[e - 2] != escape);
	return *cont ? e - 1 : n;
}

static bool is_comment(const char *s, size_t n)
{
	size_t lead = lead_space(s, n);
	return lead < n && s[lead] == '#';
}

/* Appends the continuation lines of an instruction to LINE. */
static int read_continuation(struct parser *p, cn_buf *line, int *empty_at)
{
	struct pline l;
	bool cont = true;
	int r;

	while (cont && (r = bfp_next_line(p, &l)) != 0) {
		if (r < 0)
			return -1;
		if (is_comment(l.s, l.n))
			continue;
		if (lead_space(l.s, l.n) == l.n) {
			if (!*empty_at)
				*empty_at = p->lineno;
			continue;
		}
		cn_buf_add(line, l.s, continuation(l.s, l.n, p->escape, &cont));
	}
	return 0;
}

static struct bf_node *new_node(struct parser *p)
{
	struct bf_file *f = p->f;
	cn_xgrow((void **)&f->nodes, &p->nodes_cap, f->nnodes + 1, sizeof(*f->nodes));
	memset(&f->nodes[f->nnodes], 0, sizeof(f->nodes[0]));
	return &f->nodes[f->nnodes++];
}

/* One instruction, starting at the physical line L (already known not to
 * be blank, a comment or a directive). */
static int instruction(struct parser *p, const struct pline *l, size_t lead)
{
	_cleanup_buf_ cn_buf line = { 0 };
	struct bf_node *nd;
	int start = p->lineno, empty_at = 0;
	bool cont;

	if (p->f->nnodes >= BF_MAX_INSTRUCTIONS)
		return bfp_perr(p, start, (int)lead + 1, "more than %d instructions (expected at most that many)",
			    BF_MAX_INSTRUCTIONS);
	cn_buf_init(&line, 0);
	cn_buf_add(&line, l->s + lead, continuation(l->s + lead, l->n - lead, p->escape, &cont));
	if (cont && read_continuation(p, &line, &empty_at) < 0)
		return -1;
	if (empty_at)
		cn_strv_push(&p->f->warnings,
			     cn_xasprintf("%s:%d: Empty continuation line found in: %s", p->name,
					  empty_at, line.data));
	nd = new_node(p);
	nd->start_line = start;
	nd->end_line = p->lineno;
	nd->column = (int)lead + 1;
	if (node_from_line(p, line.data, line.len, nd, 0) < 0) {
		char kw[16];
		size_t klen = strcspn(line.data, " \t\v\f\r");
		snprintf(kw, sizeof(kw), "%.*s", (int)(klen < 15 ? klen : 15), line.data);
		for (char *k = kw; *k; k++)
			*k = (char)toupper((unsigned char)*k);
		return cn_err_wrap(p->err, "%s:%d:%d: %s", p->name, start, nd->column, kw);
	}
	if (bfp_read_heredocs(p, line.data, nd) < 0)
		return -1;
	nd->end_line = p->lineno;
	if (nd->onbuild)
		nd->onbuild->end_line = p->lineno;
	return 0;
}

static int parse_all(struct parser *p)
{
	struct pline l;
	int r;

	if (p->len > BF_MAX_FILE)
		return cn_err_fail(p->err, CN_ERR_INVALID, "%s:1:1: larger than the maximum of %u bytes", p->name,
				  BF_MAX_FILE);
	/* Nodes hold C strings: a NUL byte in the text would cut them short. */
	const char *nul = p->len ? memchr(p->data, '\0', p->len) : NULL;
	if (nul) {
		int line = 1, col = 1;
		for (const char *c = p->data; c < nul; c++) {
			col = *c == '\n' ? 1 : col + 1;
			line += *c == '\n';
		}
		return bfp_perr(p, line, col, "NUL byte in the file (expected text)");
	}
	while ((r = bfp_next_line(p, &l)) != 0) {
		size_t lead;
		if (r < 0)
			return -1;
		lead = lead_space(l.s, l.n);
		r = directive(p, l.s + lead, l.n - lead);
		if (r < 0)
			return -1;
		if (r > 0 || lead == l.n || l.s[lead] == '#')
			continue;
		if (instruction(p, &l, lead) < 0)
			return -1;
	}
	if (p->f->nnodes == 0)
		return bfp_perr(p, p->lineno ? p->lineno : 1, 1, "file with no instructions (expected at least FROM)");
	return 0;
}

int bf_parse(const char *name, const char *data, size_t len, struct bf_file *out, cn_err *err)
{
	struct parser p = { .name = name, .data = data, .len = len, .escape = '\\', .err = err };

	memset(out, 0, sizeof(*out));
	p.f = out;
	if (parse_all(&p) < 0) {
		bf_file_free(out);
		return -1;
	}
	out->escape = p.escape;
	return 0;
}

void bf_file_free(struct bf_file *f)
{
	for (size_t i = 0; i < f->nnodes; i++)
		node_free(&f->nodes[i]);
	free(f->nodes);
	free(f->syntax);
	cn_strv_free(&f->warnings);
	memset(f, 0, sizeof(*f));
}
