/* AST -> typed instructions, with the checks BuildKit's instruction parser
 * makes (argument counts, flags, names), and clear errors for what cairn
 * does not support yet. Values are kept raw: expansion happens at build
 * time, against the environment of that moment. */
#include "builder/instr.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ictx {
	const char *name;              /* file name for messages */
	const struct bf_node *nd;
	const char *kw;                /* upper-case keyword */
	cn_err *err;
};

static int ierr(const struct ictx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME:LINE: KEYWORD: message" */
static int ierr(const struct ictx *c, const char *fmt, ...)
{
	char msg[CN_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cn_err_set(c->err, 0, "%s:%d: %s: %s", c->name, c->nd->start_line, c->kw, msg);
}

/* ---- "did you mean" ---- */

/* Optimal string alignment distance, case-insensitive; for short words. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = a[i - 1] | 0x20, cb = b[j - 1] | 0x20;
			size_t best = d[i - 1][j - 1] + (ca != cb);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && ca == (b[j - 2] | 0x20) && (a[i - 2] | 0x20) == cb &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The candidate closest to WORD, if close enough to be a likely typo. */
static const char *suggest(const char *word, const char *const *cands, size_t n)
{
	size_t len = strlen(word), limit = len <= 3 ? 1 : 2, best = SIZE_MAX;
	const char *pick = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t dist = edit_distance(word, cands[i]);
		if (dist < best) {
			best = dist;
			pick = cands[i];
		}
	}
	return best <= limit && best < len ? pick : NULL;
}

/* ---- flags ---- */

enum ftype { F_STRING, F_BOOL, F_STRINGS };

struct flagspec {
	const char *name;
	enum ftype type;
	bool supported;
};

static const struct flagspec from_flags[] = {
	{ "platform", F_STRING, false },
};
static const struct flagspec run_flags[] = {
	{ "network", F_STRING, true }, { "mount", F_STRINGS, true },
	{ "security", F_STRING, false }, { "device", F_STRINGS, false },
};
static const struct flagspec healthcheck_flags[] = {
	{ "interval", F_STRING, true }, { "timeout", F_STRING, true },
	{ "start-period", F_STRING, true }, { "start-interval", F_STRING, true },
	{ "retries", F_STRING, true },
};
static const struct flagspec add_flags[] = {
	{ "chown", F_STRING, true }, { "chmod", F_STRING, true }, { "checksum", F_STRING, false },
	{ "keep-git-dir", F_BOOL, false }, { "link", F_BOOL, false }, { "exclude", F_STRINGS, false },
};
static const struct flagspec copy_flags[] = {
	{ "chown", F_STRING, true }, { "chmod", F_STRING, true }, { "from", F_STRING, true },
	{ "link", F_BOOL, false }, { "exclude", F_STRINGS, false }, { "parents", F_BOOL, false },
};

/* Checks the node's flags against SPEC; VALUES[i] receives the value of
 * spec[i] (borrowed from the node) when given. */
static int parse_flags(const struct ictx *c, const struct flagspec *spec, size_t nspec,
		       const char **values)
{
	for (size_t i = 0; i < c->nd->flags.n; i++) {
		const char *f = c->nd->flags.v[i], *eq = strchr(f, '=');
		size_t nlen = eq ? (size_t)(eq - f) : strlen(f);
		const struct flagspec *s = NULL;
		size_t k;

		for (k = 0; k < nspec && !s; k++)
			if (strlen(spec[k].name) == nlen - 2 && !strncmp(f + 2, spec[k].name, nlen - 2))
				s = &spec[k];
		if (!s) {
			const char *names[8];
			_cleanup_free_ char *bare = cn_xstrndup(f + 2, nlen - 2);
			const char *hint;
			for (k = 0; k < nspec; k++)
				names[k] = spec[k].name;
			hint = suggest(bare, names, nspec);
			if (hint)
				return ierr(c, "unknown flag: %.*s (did you mean --%s?)", (int)nlen, f, hint);
			return ierr(c, "unknown flag: %.*s", (int)nlen, f);
		}
		k = (size_t)(s - spec);
		if (!s->supported)
			return ierr(c, "flag --%s is not supported yet", s->name);
		if (values[k] && s->type != F_STRINGS)
			return ierr(c, "duplicate flag specified: --%s", s->name);
		if (s->type == F_BOOL) {
			if (eq && !eq[1])
				return ierr(c, "missing a value on flag: --%s", s->name);
			if (!eq || !strcasecmp(eq + 1, "true"))
				values[k] = "true";
			else if (!strcasecmp(eq + 1, "false"))
				values[k] = "false";
			else
				return ierr(c, "expecting boolean value for flag --%s, not: %s", s->name, eq + 1);
		} else {
			if (!eq)
				return ierr(c, "missing a value on flag: --%s", s->name);
			values[k] = eq + 1;
		}
	}
	return 0;
}

static int no_flags(const struct ictx *c)
{
	return parse_flags(c, NULL, 0, NULL);
}

/* ---- argument helpers ---- */

/* JSON "\u0000" can put a NUL inside an argument, which no exec or path
 * can carry. */
static int check_nul(const struct ictx *c)
{
	for (size_t i = 0; i < c->nd->args.n; i++)
		if (strlen(c->nd->args.v[i]) != c->nd->arglens[i])
			return ierr(c, "argument %zu contains a NUL character", i + 1);
	return 0;
}

static int need_args(const struct ictx *c, size_t min)
{
	if (c->nd->args.n >= min)
		return 0;
	if (min == 1)
		return ierr(c, "requires at least one argument");
	return ierr(c, "requires at least two arguments");
}

static int exactly_one(const struct ictx *c)
{
	if (c->nd->args.n != 1)
		return ierr(c, "requires exactly one argument");
	return 0;
}

/* The exec form as is, or the shell form's text as the one element. */
static int command_line(const struct ictx *c, struct bf_instr *in, bool empty_json_ok)
{
	const struct bf_node *nd = c->nd;

	in->json = nd->json;
	if (nd->json) {
		if (check_nul(c) < 0)
			return -1;
		if (!nd->args.n && !empty_json_ok)
			return ierr(c, "requires at least one argument");
		cn_strv_copy(&in->argv, &nd->args);
		return 0;
	}
	if (need_args(c, 1) < 0)
		return -1;
	cn_strv_pushdup(&in->argv, nd->args.v[0]);
	return 0;
}

/* ---- instructions ---- */

static bool valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("-_.", *s)))
			return false;
	return true;
}

static int do_from(const struct ictx *c, struct bf_instr *in)
{
	const cn_strv *a = &c->nd->args;
	const char *platform = NULL;

	if (parse_flags(c, from_flags, CN_ARRAY_SIZE(from_flags), &platform) < 0)
		return -1;
	if (a->n == 3 && !strcasecmp(a->v[1], "as")) {
		in->stage = cn_xstrdup(a->v[2]);
		for (char *p = in->stage; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		if (!valid_stage_name(in->stage))
			return ierr(c, "invalid name for build stage: '%s', name can't start with a "
				    "number or contain symbols", a->v[2]);
	} else if (a->n != 1) {
		return ierr(c, "requires either one or three arguments (FROM image [AS name])");
	}
	in->image = cn_xstrdup(a->v[0]);
	return 0;
}

static int do_run(const struct ictx *c, struct bf_instr *in)
{
	const char *v[CN_ARRAY_SIZE(run_flags)] = { 0 };

	if (parse_flags(c, run_flags, CN_ARRAY_SIZE(run_flags), v) < 0)
		return -1;
	if (!v[0] || !strcmp(v[0], "default"))
		in->network = BF_NET_DEFAULT;
	else if (!strcmp(v[0], "none"))
		in->network = BF_NET_NONE;
	else if (!strcmp(v[0], "host"))
		in->network = BF_NET_HOST;
	else
		return ierr(c, "invalid network mode '%s' (default, none or host)", v[0]);
	for (size_t i = 0; i < c->nd->flags.n; i++)
		if (!strncmp(c->nd->flags.v[i], "--mount=", 8))
			cn_strv_pushdup(&in->mounts, c->nd->flags.v[i] + 8);
	return command_line(c, in, false);
}

static int do_cmd(const struct ictx *c, struct bf_instr *in)
{
	if (no_flags(c) < 0)
		return -1;
	return command_line(c, in, true);   /* CMD [] / ENTRYPOINT [] clear it */
}

static int do_shell(const struct ictx *c, struct bf_instr *in)
{
	if (no_flags(c) < 0)
		return -1;
	if (!c->nd->json && c->nd->args.n)
		return ierr(c, "requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
	return command_line(c, in, false);
}

static int do_copy(const struct ictx *c, struct bf_instr *in)
{
	const char *v[CN_ARRAY_SIZE(copy_flags)] = { 0 };
	const cn_strv *a = &c->nd->args;

	if (parse_flags(c, copy_flags, CN_ARRAY_SIZE(copy_flags), v) < 0)
		return -1;
	/* Heredoc sources are the files; mixing them with context paths is not
	 * supported yet. */
	if (c->nd->nheredocs) {
		size_t marks = 0;
		for (size_t i = 0; i + 1 < a->n; i++)
			marks += strncmp(a->v[i], "<<", 2) == 0;
		if (marks != a->n - 1 || marks != c->nd->nheredocs)
			return ierr(c, "heredocs mixed with other sources are not supported yet");
		if (v[2])
			return ierr(c, "heredocs cannot be copied --from another stage");
	}
	if (need_args(c, 2) < 0 || check_nul(c) < 0)
		return -1;
	in->json = c->nd->json;
	for (size_t i = 0; i + 1 < a->n; i++)
		cn_strv_pushdup(&in->srcs, a->v[i]);
	in->dest = cn_xstrdup(a->v[a->n - 1]);
	in->chown = v[0] ? cn_xstrdup(v[0]) : NULL;
	in->chmod = v[1] ? cn_xstrdup(v[1]) : NULL;
	if (v[2] && !*v[2])
		return ierr(c, "--from needs a stage name, a stage index or an image");
	in->from = v[2] ? cn_xstrdup(v[2]) : NULL;
	return 0;
}

/* ADD: COPY's sources and flags, plus archives; URLs are not fetched yet. */
static int do_add(const struct ictx *c, struct bf_instr *in)
{
	const char *v[CN_ARRAY_SIZE(add_flags)] = { 0 };
	const cn_strv *a = &c->nd->args;
	if (parse_flags(c, add_flags, CN_ARRAY_SIZE(add_flags), v) < 0)
		return -1;
	if (c->nd->nheredocs)
		return ierr(c, "heredocs are not supported yet with ADD (use COPY)");
	if (need_args(c, 2) < 0 || check_nul(c) < 0)
		return -1;
	for (size_t i = 0; i + 1 < a->n; i++) {
		if (strstr(a->v[i], "://") || !strncmp(a->v[i], "git@", 4))
			return ierr(c, "'%s': sources from URLs and git are not supported yet", a->v[i]);
		cn_strv_pushdup(&in->srcs, a->v[i]);
	}
	in->json = c->nd->json;
	in->dest = cn_xstrdup(a->v[a->n - 1]);
	in->chown = v[0] ? cn_xstrdup(v[0]) : NULL;
	in->chmod = v[1] ? cn_xstrdup(v[1]) : NULL;
	return 0;
}

static void add_kv(struct bf_instr *in, const char *key, size_t klen, const char *value)
{
	in->kvs = cn_xrealloc(in->kvs, (in->nkvs + 1) * sizeof(*in->kvs));
	in->kvs[in->nkvs].key = cn_xstrndup(key, klen);
	in->kvs[in->nkvs].value = value ? cn_xstrdup(value) : NULL;
	in->nkvs++;
}

/* ENV, LABEL: the parser gives key, value, separator triples. */
static int do_kvs(const struct ictx *c, struct bf_instr *in)
{
	const cn_strv *a = &c->nd->args;

	if (no_flags(c) < 0 || need_args(c, 1) < 0)
		return -1;
	for (size_t i = 0; i + 2 < a->n; i += 3) {
		if (!*a->v[i])
			return ierr(c, "names can not be blank");
		add_kv(in, a->v[i], strlen(a->v[i]), a->v[i + 1]);
	}
	return 0;
}

static int do_arg(const struct ictx *c, struct bf_instr *in)
{
	const cn_strv *a = &c->nd->args;

	if (no_flags(c) < 0 || need_args(c, 1) < 0)
		return -1;
	for (size_t i = 0; i < a->n; i++) {
		const char *eq = strchr(a->v[i], '=');
		size_t klen = eq ? (size_t)(eq - a->v[i]) : strlen(a->v[i]);
		if (!klen)
			return ierr(c, "names can not be blank");
		add_kv(in, a->v[i], klen, eq ? eq + 1 : NULL);
	}
	return 0;
}

/* WORKDIR, USER, STOPSIGNAL, MAINTAINER */
static int do_value(const struct ictx *c, struct bf_instr *in)
{
	if (no_flags(c) < 0 || exactly_one(c) < 0)
		return -1;
	in->value = cn_xstrdup(c->nd->args.v[0]);
	return 0;
}

static int do_expose(const struct ictx *c, struct bf_instr *in)
{
	if (no_flags(c) < 0 || need_args(c, 1) < 0)
		return -1;
	cn_strv_copy(&in->words, &c->nd->args);
	return 0;
}

static int do_volume(const struct ictx *c, struct bf_instr *in)
{
	const cn_strv *a = &c->nd->args;

	if (no_flags(c) < 0 || need_args(c, 1) < 0 || check_nul(c) < 0)
		return -1;
	in->json = c->nd->json;
	for (size_t i = 0; i < a->n; i++) {
		const char *s = a->v[i];
		size_t n = strlen(s);
		while (n && strchr(" \t\n\v\f\r", s[n - 1]))
			n--;
		while (n && strchr(" \t\n\v\f\r", *s))
			s++, n--;
		if (!n)
			return ierr(c, "VOLUME specified can not be an empty string");
		cn_strv_push(&in->words, cn_xstrndup(s, n));
	}
	return 0;
}

/* A Go duration ("30s", "1m30s", "1.5s", "500ms") in nanoseconds. */
static int parse_duration(const char *s, long long *out)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	double total = 0;
	if (!*s)
		return -1;
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		size_t best = 0, best_len = 0;
		if (end == s || v < 0 || *s == '-' || *s == '+')
			return -1;
		for (size_t i = 0; i < CN_ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].unit);
			if (!strncmp(end, units[i].unit, l) && l > best_len) {
				best = i;
				best_len = l;
			}
		}
		if (!best_len)
			return -1;
		total += v * units[best].ns;
		s = end + best_len;
	}
	if (total > 9.2e18)
		return -1;
	*out = (long long)total;
	return 0;
}

static int do_healthcheck(const struct ictx *c, struct bf_instr *in)
{
	const char *v[CN_ARRAY_SIZE(healthcheck_flags)] = { 0 };
	long long *durations[] = { &in->hc_interval, &in->hc_timeout, &in->hc_start_period,
				   &in->hc_start_interval };
	const cn_strv *a = &c->nd->args;
	in->hc_interval = in->hc_timeout = in->hc_start_period = in->hc_start_interval = -1;
	in->hc_retries = -1;
	if (parse_flags(c, healthcheck_flags, CN_ARRAY_SIZE(healthcheck_flags), v) < 0)
		return -1;
	if (a->n == 0)
		return ierr(c, "requires CMD or NONE");
	if (!strcasecmp(a->v[0], "NONE")) {
		if (a->n > 1)
			return ierr(c, "NONE takes no arguments");
		if (c->nd->flags.n)
			return ierr(c, "options cannot be given with NONE");
		in->value = cn_xstrdup("NONE");
		return 0;
	}
	if (strcasecmp(a->v[0], "CMD") != 0)
		return ierr(c, "unknown type '%s' (CMD or NONE)", a->v[0]);
	if (a->n < 2)
		return ierr(c, "CMD needs a command");
	for (size_t i = 0; i < CN_ARRAY_SIZE(durations); i++) {
		if (!v[i])
			continue;
		if (parse_duration(v[i], durations[i]) < 0 || (*durations[i] != 0 && *durations[i] < 1000000))
			return ierr(c, "--%s: '%s' is not a duration of at least 1ms (like 30s, 1m30s)",
				    healthcheck_flags[i].name, v[i]);
	}
	if (v[4]) {
		char *end;
		in->hc_retries = strtoll(v[4], &end, 10);
		if (*end || end == v[4] || in->hc_retries < 0)
			return ierr(c, "--retries: '%s' is not a count", v[4]);
	}
	in->value = cn_xstrdup("CMD");
	in->json = c->nd->json;
	for (size_t i = 1; i < a->n; i++)
		cn_strv_pushdup(&in->argv, a->v[i]);
	return 0;
}

static int do_onbuild(const struct ictx *c, struct bf_instr *in)
{
	const struct bf_node *t = c->nd->onbuild;
	if (no_flags(c) < 0)
		return -1;
	if (!t)
		return ierr(c, "requires an instruction to run later");
	if (!strcmp(t->keyword, "onbuild") || !strcmp(t->keyword, "from") || !strcmp(t->keyword, "maintainer"))
		return ierr(c, "%s cannot be an ONBUILD trigger", t->keyword);
	if (t->nheredocs || c->nd->nheredocs)
		return ierr(c, "heredocs in ONBUILD triggers are not supported yet");
	in->value = cn_xstrdup(t->original);
	return 0;
}

typedef int (*instr_fn)(const struct ictx *c, struct bf_instr *in);

static const struct {
	const char *kw;            /* as the parser gives it: lower-case */
	const char *name;
	enum bf_kind kind;
	instr_fn fn;               /* NULL: known, not supported yet */
} table[] = {
	{ "from", "FROM", BF_FROM, do_from },
	{ "run", "RUN", BF_RUN, do_run },
	{ "copy", "COPY", BF_COPY, do_copy },
	{ "env", "ENV", BF_ENV, do_kvs },
	{ "arg", "ARG", BF_ARG, do_arg },
	{ "workdir", "WORKDIR", BF_WORKDIR, do_value },
	{ "user", "USER", BF_USER, do_value },
	{ "label", "LABEL", BF_LABEL, do_kvs },
	{ "expose", "EXPOSE", BF_EXPOSE, do_expose },
	{ "cmd", "CMD", BF_CMD, do_cmd },
	{ "entrypoint", "ENTRYPOINT", BF_ENTRYPOINT, do_cmd },
	{ "shell", "SHELL", BF_SHELL, do_shell },
	{ "volume", "VOLUME", BF_VOLUME, do_volume },
	{ "stopsignal", "STOPSIGNAL", BF_STOPSIGNAL, do_value },
	{ "maintainer", "MAINTAINER", BF_MAINTAINER, do_value },
	{ "healthcheck", "HEALTHCHECK", BF_HEALTHCHECK, do_healthcheck },
	{ "onbuild", "ONBUILD", BF_ONBUILD, do_onbuild },
	{ "add", "ADD", BF_ADD, do_add },
};

static int unknown_instruction(const char *name, const struct bf_node *nd, cn_err *err)
{
	const char *names[CN_ARRAY_SIZE(table)];
	size_t len = strcspn(nd->original, " \t\v\f\r");
	_cleanup_free_ char *word = cn_xstrndup(nd->original, len);
	const char *hint;

	for (size_t i = 0; i < CN_ARRAY_SIZE(table); i++)
		names[i] = table[i].name;
	hint = suggest(word, names, CN_ARRAY_SIZE(table));
	if (hint)
		return cn_err_set(err, 0, "%s:%d: unknown instruction '%.64s' (did you mean '%s'?)",
				  name, nd->start_line, word, hint);
	return cn_err_set(err, 0, "%s:%d: unknown instruction '%.64s'", name, nd->start_line, word);
}

static void instr_free(struct bf_instr *in)
{
	free(in->image);
	free(in->stage);
	free(in->from);
	cn_strv_free(&in->mounts);
	cn_strv_free(&in->argv);
	cn_strv_free(&in->srcs);
	free(in->dest);
	free(in->chown);
	free(in->chmod);
	for (size_t i = 0; i < in->nkvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	free(in->value);
	cn_strv_free(&in->words);
}

/* One node -> *IN. SEEN_FROM: whether a FROM came before. */
static int convert(const char *name, const struct bf_node *nd, bool seen_from, struct bf_instr *in,
		   cn_err *err)
{
	struct ictx c = { .name = name, .nd = nd, .err = err };
	size_t i;

	for (i = 0; i < CN_ARRAY_SIZE(table); i++)
		if (!strcmp(nd->keyword, table[i].kw))
			break;
	if (i == CN_ARRAY_SIZE(table))
		return unknown_instruction(name, nd, err);
	c.kw = table[i].name;
	if (!table[i].fn)
		return ierr(&c, "not supported yet");
	if (!seen_from && table[i].kind != BF_FROM && table[i].kind != BF_ARG)
		return ierr(&c, "only ARG can come before the first FROM");
	in->kind = table[i].kind;
	in->node = nd;
	in->name = table[i].name;
	return table[i].fn(&c, in);
}

static int convert_all(const char *name, struct bf_program *p, cn_err *err)
{
	bool seen_from = false;

	p->instrs = cn_xcalloc(p->file.nnodes, sizeof(*p->instrs));
	for (size_t i = 0; i < p->file.nnodes; i++) {
		/* Counted before converting, so that a failed one is freed too. */
		p->ninstrs = i + 1;
		if (convert(name, &p->file.nodes[i], seen_from, &p->instrs[i], err) < 0)
			return -1;
		seen_from |= p->instrs[i].kind == BF_FROM;
	}
	if (!seen_from) {
		const struct bf_node *last = &p->file.nodes[p->file.nnodes - 1];
		return cn_err_set(err, 0, "%s:%d: no FROM instruction: a build file needs at least "
				  "one FROM", name, last->end_line);
	}
	return 0;
}

int bf_program_parse(const char *name, const char *data, size_t len,
		     struct bf_program *out, cn_err *err)
{
	memset(out, 0, sizeof(*out));
	if (bf_parse(name, data, len, &out->file, err) < 0)
		return -1;
	if (convert_all(name, out, err) < 0) {
		bf_program_free(out);
		return -1;
	}
	return 0;
}

void bf_program_free(struct bf_program *p)
{
	for (size_t i = 0; i < p->ninstrs; i++)
		instr_free(&p->instrs[i]);
	free(p->instrs);
	bf_file_free(&p->file);
	memset(p, 0, sizeof(*p));
}
