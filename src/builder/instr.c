/* AST -> typed instructions, with the checks BuildKit's instruction parser
 * makes (argument counts, flags, names), and clear errors for what cairn
 * does not support yet. Values are kept raw: expansion happens at build
 * time, against the environment of that moment. */
#include "builder/instr.h"
#include "util/cleanup.h"
#include "util/duration.h"
#include "util/mem.h"

#include <errno.h>
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
	const char *usage;             /* what the instruction expects, for messages */
	cn_err *err;
};

static int ierr_at(const struct ictx *c, const char *token, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ierr(const struct ictx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int ierr_v(const struct ictx *c, const char *token, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* "NAME:LINE:COLUMN: KEYWORD: message". The column is TOKEN's when it can
 * be found on the instruction's only line, else the keyword's. */
static int ierr_v(const struct ictx *c, const char *token, const char *fmt, va_list ap)
{
	char msg[CN_ERR_MSG_MAX];
	int col = bf_node_column(c->nd, token);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	return cn_err_fail(c->err, CN_ERR_INVALID, "%s:%d:%d: %s: %s", c->name, c->nd->start_line, col, c->kw, msg);
}

static int ierr(const struct ictx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ierr_v(c, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

static int ierr_at(const struct ictx *c, const char *token, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ierr_v(c, token, fmt, ap);
	va_end(ap);
	return -1;
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
	{ "platform", F_STRING, true },
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
	{ "chown", F_STRING, true }, { "chmod", F_STRING, true }, { "checksum", F_STRING, true },
	{ "keep-git-dir", F_BOOL, false }, { "link", F_BOOL, true }, { "exclude", F_STRINGS, true },
};
static const struct flagspec copy_flags[] = {
	{ "chown", F_STRING, true }, { "chmod", F_STRING, true }, { "from", F_STRING, true },
	{ "link", F_BOOL, true }, { "exclude", F_STRINGS, true }, { "parents", F_BOOL, true },
};

/* "--a, --b or --c": the flags SPEC allows, for messages. */
static void flag_names(const struct flagspec *spec, size_t nspec, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	size_t n = 0, last = 0;
	for (size_t k = 0; k < nspec; k++)
		if (spec[k].supported)
			last = k;
	for (size_t k = 0; k < nspec && len < cap; k++)
		if (spec[k].supported)
			len += (size_t)snprintf(out + len, cap - len, "%s--%s", !n++ ? "" : k == last ? " or " : ", ",
						spec[k].name);
}

/* Checks the node's flags against SPEC; VALUES[i] receives the value of
 * spec[i] (borrowed from the node) when given. */
static int parse_flags(const struct ictx *c, const struct flagspec *spec, size_t nspec,
		       const char **values)
{
	for (size_t i = 0; i < c->nd->flags.n; i++) {
		const char *f = c->nd->flags.v[i], *eq = strchr(f, '=');
		size_t nlen = eq ? (size_t)(eq - f) : strlen(f);
		_cleanup_free_ char *tok = cn_xstrndup(f, nlen);
		const struct flagspec *s = NULL;
		size_t k;

		for (k = 0; k < nspec && !s; k++)
			if (strlen(spec[k].name) == nlen - 2 && !strncmp(f + 2, spec[k].name, nlen - 2))
				s = &spec[k];
		if (!s) {
			const char *names[8];
			_cleanup_free_ char *bare = cn_xstrndup(f + 2, nlen - 2);
			const char *hint;
			char allowed[256];
			for (k = 0; k < nspec; k++)
				names[k] = spec[k].name;
			hint = suggest(bare, names, nspec);
			if (hint)
				return ierr_at(c, tok, "unknown flag: %s (did you mean --%s?)", tok, hint);
			if (!nspec)
				return ierr_at(c, tok, "unknown flag: %s (expected no flags: %s)", tok, c->usage);
			flag_names(spec, nspec, allowed, sizeof(allowed));
			return ierr_at(c, tok, "unknown flag: %s (expected %s)", tok, allowed);
		}
		k = (size_t)(s - spec);
		if (!s->supported)
			return ierr_at(c, tok, "flag --%s is not supported yet", s->name);
		if (values[k] && s->type != F_STRINGS)
			return ierr_at(c, f, "duplicate flag specified: --%s (expected it once)", s->name);
		if (s->type == F_BOOL) {
			if (eq && !eq[1])
				return ierr_at(c, tok, "missing a value on flag: --%s (expected --%s or --%s=true|false)",
					       s->name, s->name, s->name);
			if (!eq || !strcasecmp(eq + 1, "true"))
				values[k] = "true";
			else if (!strcasecmp(eq + 1, "false"))
				values[k] = "false";
			else
				return ierr_at(c, tok, "expecting boolean value for flag --%s, not: %s", s->name, eq + 1);
		} else {
			if (!eq)
				return ierr_at(c, tok, "missing a value on flag: --%s (expected --%s=VALUE)", s->name,
					       s->name);
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
			return ierr(c, "argument %zu contains a NUL character (expected text without \\u0000)", i + 1);
	return 0;
}

static int need_args(const struct ictx *c, size_t min)
{
	if (c->nd->args.n >= min)
		return 0;
	if (min == 1)
		return ierr(c, "requires at least one argument (expected: %s)", c->usage);
	return ierr(c, "requires at least two arguments (expected: %s)", c->usage);
}

static int exactly_one(const struct ictx *c)
{
	if (c->nd->args.n != 1)
		return ierr_at(c, c->nd->args.n > 1 ? c->nd->args.v[1] : NULL,
			       "requires exactly one argument (expected: %s)", c->usage);
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
			return ierr(c, "requires at least one argument (expected: %s)", c->usage);
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
			return ierr_at(c, a->v[2], "invalid name for build stage: '%s', name can't start with a "
				       "number or contain symbols (expected [a-z][a-z0-9-_.]*)", a->v[2]);
	} else if (a->n != 1) {
		return ierr_at(c, a->n > 1 ? a->v[1] : NULL, "requires either one or three arguments "
			       "(expected: %s)", c->usage);
	}
	if (platform && !*platform)
		return ierr_at(c, "--platform", "--platform needs a value (expected --platform=linux/ARCH or $BUILDPLATFORM)");
	in->platform = platform ? cn_xstrdup(platform) : NULL;
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
		return ierr_at(c, "--network", "invalid network mode '%s' (expected default, none or host)", v[0]);
	if (command_line(c, in, false) < 0)
		return -1;
	for (size_t i = 0; i < c->nd->flags.n; i++) {
		const char *flag = c->nd->flags.v[i];
		cn_err e;
		if (strncmp(flag, "--mount=", 8) != 0)
			continue;
		in->mounts = cn_xrealloc(in->mounts, (in->nmounts + 1) * sizeof(*in->mounts));
		if (bf_mount_parse(flag + 8, &in->mounts[in->nmounts], &e) < 0)
			return ierr_at(c, flag, "%s", e.msg);
		in->nmounts++;
	}
	return 0;
}

/* The option names BuildKit takes, and the slot each fills. */
static const struct {
	const char *name;
	enum bf_mount_opt opt;
} mount_names[] = {
	{ "type", BF_MOUNT_TYPE }, { "target", BF_MOUNT_TARGET }, { "dst", BF_MOUNT_TARGET },
	{ "destination", BF_MOUNT_TARGET }, { "source", BF_MOUNT_SOURCE }, { "src", BF_MOUNT_SOURCE },
	{ "from", BF_MOUNT_FROM }, { "id", BF_MOUNT_ID }, { "sharing", BF_MOUNT_SHARING },
	{ "size", BF_MOUNT_SIZE }, { "mode", BF_MOUNT_MODE }, { "uid", BF_MOUNT_UID },
	{ "gid", BF_MOUNT_GID }, { "required", BF_MOUNT_REQUIRED }, { "rw", BF_MOUNT_RW },
	{ "readwrite", BF_MOUNT_RW }, { "ro", BF_MOUNT_RW }, { "readonly", BF_MOUNT_RW },
};

/* Whether V is a number for OPT: octal for mode=, decimal for uid=/gid=
 * (no sign: strtoul would take "-1"). */
static bool mount_number(enum bf_mount_opt opt, const char *v)
{
	const char *digits = opt == BF_MOUNT_MODE ? "01234567" : "0123456789";
	return *v && strspn(v, digits) == strlen(v);
}

/* Checks the value of OPT (named KV) when it has no variable: a wrong one
 * is a parse error, before any step runs. Values with '$' wait for the
 * step's ARG and ENV (the executor checks them again). */
static int mount_value(enum bf_mount_opt opt, const char *kv, const char *v, cn_err *err)
{
	static const char *const types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
	static const char *const sharing[] = { "shared", "private", "locked" };
	bool ok = false;
	if (strchr(v, '$'))
		return 0;
	switch (opt) {
	case BF_MOUNT_TYPE:
		for (size_t i = 0; i < CN_ARRAY_SIZE(types); i++)
			ok |= !strcmp(v, types[i]);
		if (!ok)
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount: type=%s is not supported "
					   "(expected bind, cache, tmpfs, secret or ssh)", v);
		break;
	case BF_MOUNT_SHARING:
		for (size_t i = 0; i < CN_ARRAY_SIZE(sharing); i++)
			ok |= !strcmp(v, sharing[i]);
		if (!ok)
			return cn_err_fail(err, CN_ERR_INVALID, "--mount: sharing=%s: expected shared, private or locked", v);
		break;
	case BF_MOUNT_MODE:
	case BF_MOUNT_UID:
	case BF_MOUNT_GID:
		if (!mount_number(opt, v))
			return cn_err_fail(err, CN_ERR_INVALID, "--mount: %s=%s is not a number", kv, v);
		break;
	case BF_MOUNT_REQUIRED:
	case BF_MOUNT_RW:
		if (strcmp(v, "true") && strcmp(v, "false"))
			return cn_err_fail(err, CN_ERR_INVALID, "--mount: %s=%s: expected true or false", kv, v);
		break;
	default:
		break;
	}
	return 0;
}

int bf_mount_parse(const char *spec, struct bf_mount *out, cn_err *err)
{
	_cleanup_free_ char *copy = cn_xstrdup(spec);
	char *save = NULL;
	memset(out, 0, sizeof(*out));
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *v = eq ? eq + 1 : "true";
		size_t k;
		if (eq)
			*eq = '\0';
		for (k = 0; k < CN_ARRAY_SIZE(mount_names); k++)
			if (!strcmp(kv, mount_names[k].name))
				break;
		if (k == CN_ARRAY_SIZE(mount_names)) {
			bf_mount_free(out);
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--mount: option '%s' is not supported yet", kv);
		}
		/* Only the booleans may stand bare (BuildKit's "ro", "required"). */
		if (!eq && mount_names[k].opt != BF_MOUNT_REQUIRED && mount_names[k].opt != BF_MOUNT_RW) {
			cn_err_fail(err, CN_ERR_INVALID, "--mount: %s needs a value (%s=VALUE)", kv, kv);
			bf_mount_free(out);
			return -1;
		}
		if (mount_value(mount_names[k].opt, kv, v, err) < 0) {
			bf_mount_free(out);
			return -1;
		}
		if (eq && mount_names[k].opt == BF_MOUNT_FROM && strchr(v, '$')) {
			cn_err_fail(err, CN_ERR_INVALID, "--mount: from=%s: from= does not expand variables "
				     "(name a stage 'FROM %s AS NAME' and use from=NAME)", v, v);
			bf_mount_free(out);
			return -1;
		}
		free(out->opt[mount_names[k].opt]);
		out->opt[mount_names[k].opt] = cn_xstrdup(v);
		if (mount_names[k].opt == BF_MOUNT_RW)
			out->rw_inverted = kv[0] == 'r' && (kv[1] == 'o' || !strcmp(kv, "readonly"));
	}
	return 0;
}

void bf_mount_free(struct bf_mount *m)
{
	for (size_t i = 0; i < BF_MOUNT_NOPTS; i++)
		free(m->opt[i]);
	memset(m, 0, sizeof(*m));
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
		return ierr(c, "requires the arguments to be in JSON form (expected: SHELL [\"/bin/sh\", \"-c\"])");
	return command_line(c, in, false);
}

/* --exclude=PATTERN (repeatable): the patterns, raw (expanded at build time). */
static int copy_excludes(const struct ictx *c, struct bf_instr *in)
{
	for (size_t i = 0; i < c->nd->flags.n; i++) {
		const char *f = c->nd->flags.v[i];
		if (strncmp(f, "--exclude=", 10) != 0)
			continue;
		if (!f[10])
			return ierr_at(c, f, "--exclude needs a pattern (expected --exclude=PATTERN)");
		cn_strv_pushdup(&in->excludes, f + 10);
	}
	return 0;
}

/* Sources ADD cannot take: git repositories. */
static bool git_source(const char *s)
{
	size_t n = strlen(s);
	return !strncmp(s, "git@", 4) || !strncmp(s, "git://", 6) || !strncmp(s, "ssh://", 6) ||
	       (strstr(s, "://") && n > 4 && (!strcmp(s + n - 4, ".git") || strstr(s, ".git#")));
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
			return ierr(c, "heredocs mixed with other sources are not supported yet "
				    "(expected only <<NAME sources)");
		if (v[2])
			return ierr_at(c, "--from", "heredocs cannot be copied --from another stage");
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
		return ierr_at(c, "--from", "--from needs a stage name, a stage index or an image");
	in->from = v[2] ? cn_xstrdup(v[2]) : NULL;
	in->link = v[3] && !strcmp(v[3], "true");
	in->parents = v[5] && !strcmp(v[5], "true");
	return copy_excludes(c, in);
}

/* ADD: COPY's sources and flags, plus archives; URLs are not fetched yet. */
static int do_add(const struct ictx *c, struct bf_instr *in)
{
	const char *v[CN_ARRAY_SIZE(add_flags)] = { 0 };
	const cn_strv *a = &c->nd->args;
	size_t nurls = 0;
	if (parse_flags(c, add_flags, CN_ARRAY_SIZE(add_flags), v) < 0)
		return -1;
	if (c->nd->nheredocs)
		return ierr(c, "heredocs are not supported yet with ADD (expected files or URLs; use COPY <<EOF)");
	if (need_args(c, 2) < 0 || check_nul(c) < 0)
		return -1;
	for (size_t i = 0; i + 1 < a->n; i++) {
		if (git_source(a->v[i]))
			return ierr_at(c, a->v[i], "'%s': git sources are not supported (expected a file, "
				       "an http(s) URL or an archive)", a->v[i]);
		if (strstr(a->v[i], "://") && strncmp(a->v[i], "http://", 7) && strncmp(a->v[i], "https://", 8))
			return ierr_at(c, a->v[i], "'%s': only http:// and https:// URLs can be fetched", a->v[i]);
		nurls += strstr(a->v[i], "://") != NULL;
		cn_strv_pushdup(&in->srcs, a->v[i]);
	}
	if (v[2]) {
		size_t hex = strlen(v[2]) - 7;
		if (strncmp(v[2], "sha256:", 7) || hex != 64 || strspn(v[2] + 7, "0123456789abcdef") != 64)
			return ierr_at(c, "--checksum", "--checksum=%s: expected sha256: and 64 lower-case hex digits",
				       v[2]);
		if (a->n != 2 || nurls != 1)
			return ierr_at(c, "--checksum", "--checksum needs exactly one source, a URL "
				       "(expected: ADD --checksum=sha256:HEX URL DEST)");
		in->checksum = cn_xstrdup(v[2]);
	}
	in->json = c->nd->json;
	in->dest = cn_xstrdup(a->v[a->n - 1]);
	in->chown = v[0] ? cn_xstrdup(v[0]) : NULL;
	in->chmod = v[1] ? cn_xstrdup(v[1]) : NULL;
	in->link = v[4] && !strcmp(v[4], "true");
	return copy_excludes(c, in);
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
			return ierr(c, "names can not be blank (expected: %s)", c->usage);
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
			return ierr(c, "names can not be blank (expected: %s)", c->usage);
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
			return ierr(c, "VOLUME specified can not be an empty string (expected: %s)", c->usage);
		cn_strv_push(&in->words, cn_xstrndup(s, n));
	}
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
		return ierr(c, "requires CMD or NONE (expected: %s)", c->usage);
	if (!strcasecmp(a->v[0], "NONE")) {
		if (a->n > 1)
			return ierr_at(c, a->v[1], "NONE takes no arguments (expected: HEALTHCHECK NONE)");
		if (c->nd->flags.n)
			return ierr_at(c, c->nd->flags.v[0], "options cannot be given with NONE "
				       "(expected: HEALTHCHECK NONE)");
		in->value = cn_xstrdup("NONE");
		return 0;
	}
	if (strcasecmp(a->v[0], "CMD") != 0)
		return ierr_at(c, a->v[0], "unknown type '%s' (expected CMD or NONE)", a->v[0]);
	if (a->n < 2)
		return ierr_at(c, a->v[0], "CMD needs a command (expected: %s)", c->usage);
	for (size_t i = 0; i < CN_ARRAY_SIZE(durations); i++) {
		if (!v[i])
			continue;
		if (cn_duration_parse(v[i], durations[i]) < 0 || (*durations[i] != 0 && *durations[i] < 1000000))
			return ierr_at(c, v[i], "--%s: '%s' is not a duration of at least 1ms (expected "
				       "a duration like 30s, 1m30s)", healthcheck_flags[i].name, v[i]);
	}
	if (v[4]) {
		char *end;
		in->hc_retries = strtoll(v[4], &end, 10);
		if (*end || end == v[4] || in->hc_retries < 0)
			return ierr_at(c, v[4], "--retries: '%s' is not a count (expected a number >= 0)", v[4]);
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
		return ierr(c, "requires an instruction to run later (expected: %s)", c->usage);
	if (!strcmp(t->keyword, "onbuild") || !strcmp(t->keyword, "from") || !strcmp(t->keyword, "maintainer"))
		return ierr_at(c, NULL, "%s cannot be an ONBUILD trigger (expected any instruction but "
			       "FROM, MAINTAINER and ONBUILD)", t->keyword);
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
	const char *usage;         /* the syntax, for messages */
} table[] = {
	{ "from", "FROM", BF_FROM, do_from, "FROM [--platform=PLATFORM] IMAGE [AS NAME]" },
	{ "run", "RUN", BF_RUN, do_run, "RUN [--mount=...] [--network=...] COMMAND" },
	{ "copy", "COPY", BF_COPY, do_copy, "COPY [--from=...] [--chown=...] [--chmod=...] [--link] "
	  "[--parents] [--exclude=PATTERN] SRC... DEST" },
	{ "env", "ENV", BF_ENV, do_kvs, "ENV KEY=VALUE..." },
	{ "arg", "ARG", BF_ARG, do_arg, "ARG NAME[=DEFAULT]..." },
	{ "workdir", "WORKDIR", BF_WORKDIR, do_value, "WORKDIR PATH" },
	{ "user", "USER", BF_USER, do_value, "USER USER[:GROUP]" },
	{ "label", "LABEL", BF_LABEL, do_kvs, "LABEL KEY=VALUE..." },
	{ "expose", "EXPOSE", BF_EXPOSE, do_expose, "EXPOSE PORT[/PROTOCOL]..." },
	{ "cmd", "CMD", BF_CMD, do_cmd, "CMD [\"EXECUTABLE\", \"ARG\"...] or CMD COMMAND" },
	{ "entrypoint", "ENTRYPOINT", BF_ENTRYPOINT, do_cmd,
	  "ENTRYPOINT [\"EXECUTABLE\", \"ARG\"...] or ENTRYPOINT COMMAND" },
	{ "shell", "SHELL", BF_SHELL, do_shell, "SHELL [\"EXECUTABLE\", \"ARG\"...]" },
	{ "volume", "VOLUME", BF_VOLUME, do_volume, "VOLUME PATH..." },
	{ "stopsignal", "STOPSIGNAL", BF_STOPSIGNAL, do_value, "STOPSIGNAL SIGNAL" },
	{ "maintainer", "MAINTAINER", BF_MAINTAINER, do_value, "MAINTAINER NAME" },
	{ "healthcheck", "HEALTHCHECK", BF_HEALTHCHECK, do_healthcheck,
	  "HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] "
	  "[--retries=N] CMD COMMAND, or HEALTHCHECK NONE" },
	{ "onbuild", "ONBUILD", BF_ONBUILD, do_onbuild, "ONBUILD INSTRUCTION" },
	{ "add", "ADD", BF_ADD, do_add, "ADD [--chown=...] [--chmod=...] [--checksum=sha256:HEX] [--link] "
	  "[--exclude=PATTERN] SRC... DEST" },
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
		return cn_err_fail(err, CN_ERR_INVALID, "%s:%d:%d: unknown instruction '%.64s' (did you mean '%s'?)",
				  name, nd->start_line, nd->column, word, hint);
	return cn_err_fail(err, CN_ERR_INVALID, "%s:%d:%d: unknown instruction '%.64s' (expected one of FROM, RUN, "
			  "COPY, ADD, ENV, ARG, WORKDIR, USER, LABEL, EXPOSE, CMD, ENTRYPOINT, SHELL, "
			  "VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER)", name, nd->start_line,
			  nd->column, word);
}

static void instr_free(struct bf_instr *in)
{
	free(in->image);
	free(in->stage);
	free(in->from);
	free(in->platform);
	free(in->checksum);
	cn_strv_free(&in->excludes);
	for (size_t i = 0; i < in->nmounts; i++)
		bf_mount_free(&in->mounts[i]);
	free(in->mounts);
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
	c.usage = table[i].usage;
	if (!table[i].fn)
		return ierr(&c, "not supported yet");
	if (!seen_from && table[i].kind != BF_FROM && table[i].kind != BF_ARG)
		return ierr(&c, "only ARG can come before the first FROM (expected FROM here)");
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
		return cn_err_fail(err, CN_ERR_INVALID, "%s:%d:%d: no FROM instruction (expected at least one FROM "
				  "after the global ARGs)", name, last->end_line, last->column);
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
