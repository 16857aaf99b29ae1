/* Interpolation as the Compose Specification (12-interpolation.md) and
 * compose-go's template package do it: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
 * ${VAR:?msg}, ${VAR?msg}, ${VAR:+alt}, ${VAR+alt}, nested in defaults;
 * $$ is a literal $. A name is [_a-zA-Z][_a-zA-Z0-9]*; a $ before
 * anything else stays as written, a malformed ${ is an error. An unset
 * variable is a warning and an empty string. Values only, never keys. */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INTERP_MAX_NESTING 32

struct interp {
	const struct cmp_lookup *lk;
	cn_strv *unset;
	cn_err *err;
	const char *whole;              /* for messages */
};

static bool name_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static const char *lookup(struct interp *in, const char *name, size_t len)
{
	const char *v = in->lk ? in->lk->get(in->lk->ctx, name, len) : NULL;
	if (!v && in->unset) {
		for (size_t i = 0; i < in->unset->n; i++)
			if (strlen(in->unset->v[i]) == len && memcmp(in->unset->v[i], name, len) == 0)
				return NULL;
		cn_strv_push(in->unset, cn_xstrndup(name, len));
	}
	return v;
}

static int invalid(struct interp *in)
{
	return cn_err_fail(in->err, CN_ERR_INVALID, "invalid interpolation format \"%s\": you may need to "
			   "escape any $ with another $", in->whole);
}

static int expand(struct interp *in, const char *s, size_t len, cn_buf *out, int nesting);

/* V appended to OUT, refused past CMP_INTERP_MAX (a .env doubling a
 * value line after line would otherwise take all memory). */
static int put(struct interp *in, cn_buf *out, const char *v)
{
	if (out->len > CMP_INTERP_MAX || strlen(v) > CMP_INTERP_MAX - out->len)
		return cn_err_fail(in->err, CN_ERR_TOO_BIG, "interpolation gives a value over %u MiB",
				   CMP_INTERP_MAX >> 20);
	cn_buf_adds(out, v);
	return 0;
}

/* The inside of ${...} (LEN bytes at S). */
static int braced(struct interp *in, const char *s, size_t len, cn_buf *out, int nesting)
{
	size_t nl = 0;
	const char *v, *arg;
	size_t arglen;
	bool colon = false;
	char op;

	if (len == 0 || !name_start(s[0]))
		return invalid(in);
	while (nl < len && name_char(s[nl]))
		nl++;
	if (nl == len) {
		v = lookup(in, s, nl);
		return v ? put(in, out, v) : 0;
	}
	arg = s + nl;
	if (*arg == ':') {
		colon = true;
		arg++;
	}
	op = arg < s + len ? *arg : '\0';
	if (op != '-' && op != '?' && op != '+')
		return invalid(in);
	arg++;
	arglen = (size_t)(s + len - arg);
	/* Lookup without recording an unset variable: a default covers it. */
	v = in->lk ? in->lk->get(in->lk->ctx, s, nl) : NULL;
	switch (op) {
	case '-':
		if (v && (!colon || *v))
			return put(in, out, v);
		return expand(in, arg, arglen, out, nesting + 1);
	case '+':
		if (v && (!colon || *v))
			return expand(in, arg, arglen, out, nesting + 1);
		return 0;
	default: {
		_cleanup_buf_ cn_buf msg = { 0 };
		if (v && (!colon || *v))
			return put(in, out, v);
		cn_buf_init(&msg, 0);
		if (expand(in, arg, arglen, &msg, nesting + 1) < 0)
			return -1;
		return cn_err_fail(in->err, CN_ERR_INVALID, "required variable %.*s is missing a value%s%s",
				   (int)nl, s, msg.len ? ": " : "", msg.data);
	}
	}
}

static int expand(struct interp *in, const char *s, size_t len, cn_buf *out, int nesting)
{
	if (nesting > INTERP_MAX_NESTING)
		return cn_err_fail(in->err, CN_ERR_TOO_BIG, "interpolation nested deeper than %d levels in \"%s\"",
				   INTERP_MAX_NESTING, in->whole);
	for (size_t i = 0; i < len;) {
		const char *d = memchr(s + i, '$', len - i);
		size_t at = d ? (size_t)(d - s) : len;
		cn_buf_add(out, s + i, at - i);
		i = at;
		if (i >= len)
			break;
		if (i + 1 < len && s[i + 1] == '$') {
			cn_buf_addc(out, '$');
			i += 2;
		} else if (i + 1 < len && name_start(s[i + 1])) {
			size_t e = i + 1;
			const char *v;
			while (e < len && name_char(s[e]))
				e++;
			v = lookup(in, s + i + 1, e - i - 1);
			if (v && put(in, out, v) < 0)
				return -1;
			i = e;
		} else if (i + 1 < len && s[i + 1] == '{') {
			/* As compose-go's getFirstBraceClosingIndex: every {
			 * opens, so ${X:-{"a":1}} ends at the last brace. */
			size_t e = i + 2;
			size_t depth = 1;
			for (; e < len; e++) {
				if (s[e] == '{')
					depth++;
				else if (s[e] == '}' && --depth == 0)
					break;
			}
			/* Unbalanced: compose-go's pattern then ends at the last
			 * brace (${X:-{} gives "{"). */
			if (e >= len) {
				const char *last = len > i + 2 ? memrchr(s + i + 2, '}', len - i - 2) : NULL;
				if (!last)
					return invalid(in);
				e = (size_t)(last - s);
			}
			if (braced(in, s + i + 2, e - i - 2, out, nesting) < 0)
				return -1;
			i = e + 1;
		} else {
			cn_buf_addc(out, '$');
			i++;
		}
	}
	return 0;
}

int cmp_interp_str(const char *s, const struct cmp_lookup *lk, char **out, cn_strv *unset, cn_err *err)
{
	struct interp in = { lk, unset, err, s };
	_cleanup_buf_ cn_buf b = { 0 };
	cn_buf_init(&b, 0);
	if (expand(&in, s, strlen(s), &b, 0) < 0)
		return -1;
	*out = cn_buf_detach(&b);
	return 0;
}

const char *cmp_env_lookup(void *env, const char *name, size_t len)
{
	const cn_strv *e = env;
	long i = cn_env_find(e, name, len);
	return i < 0 ? NULL : e->v[i] + len + 1;
}

/* ---- an index of an environment: a hash of the keys (FNV-1a, linear
 * probing), slots holding entry index + 1 ---- */

static size_t key_len(const char *e)
{
	const char *eq = strchr(e, '=');
	return eq ? (size_t)(eq - e) : strlen(e);
}

static size_t key_hash(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return (size_t)h;
}

static size_t *envmap_slot(const struct cmp_envmap *m, const char *k, size_t len)
{
	for (size_t i = key_hash(k, len) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		size_t *s = &m->slots[i];
		const char *e;
		if (!*s)
			return s;
		e = m->env->v[*s - 1];
		if (key_len(e) == len && memcmp(e, k, len) == 0)
			return s;
	}
}

static void envmap_grow(struct cmp_envmap *m)
{
	size_t *old = m->slots, oldcap = m->cap;
	m->cap = oldcap ? oldcap * 2 : 64;
	m->slots = cn_xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i]) {
			const char *e = m->env->v[old[i] - 1];
			*envmap_slot(m, e, key_len(e)) = old[i];
		}
	free(old);
}

void cmp_envmap_add(struct cmp_envmap *m, size_t i)
{
	const char *e = m->env->v[i];
	if (2 * (m->used + 1) > m->cap)
		envmap_grow(m);
	{
		size_t *s = envmap_slot(m, e, key_len(e));
		m->used += !*s;
		*s = i + 1;
	}
}

void cmp_envmap_init(struct cmp_envmap *m, const cn_strv *env)
{
	memset(m, 0, sizeof(*m));
	m->env = env;
	for (size_t i = 0; i < env->n; i++)
		cmp_envmap_add(m, i);
}

long cmp_envmap_find(const struct cmp_envmap *m, const char *name, size_t len)
{
	size_t *s;
	if (!m->cap)
		return -1;
	s = envmap_slot(m, name, len);
	return *s ? (long)(*s - 1) : -1;
}

const char *cmp_envmap_get(void *map, const char *name, size_t len)
{
	const struct cmp_envmap *m = map;
	long i = cmp_envmap_find(m, name, len);
	const char *e = i < 0 ? NULL : m->env->v[i];
	return e && e[len] == '=' ? e + len + 1 : NULL;
}

void cmp_envmap_free(struct cmp_envmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* Each message once; past a few hundred the rest are left out (the
 * check is linear, and nobody reads more). */
static void warn_once(cn_strv *warnings, char *msg)
{
	if (warnings->n >= 500) {
		free(msg);
		return;
	}
	for (size_t i = 0; i < warnings->n; i++)
		if (strcmp(warnings->v[i], msg) == 0) {
			free(msg);
			return;
		}
	cn_strv_push(warnings, msg);
}

static int interp_scalar(struct cmp_node *n, const struct cmp_lookup *lk, cn_strv *warnings, cn_err *err)
{
	_cleanup_strv_ cn_strv unset = { 0 };
	char *v;
	if (!memchr(n->str, '$', n->len))
		return 0;
	if (cmp_interp_str(n->str, lk, &v, &unset, err) < 0)
		return cn_err_wrap(err, "%s:%u:%u", n->pos.file, n->pos.line, n->pos.col);
	for (size_t i = 0; warnings && i < unset.n; i++)
		warn_once(warnings, cn_xasprintf("%s:%u: the \"%s\" variable is not set, defaulting to a blank "
						 "string", n->pos.file, n->pos.line, unset.v[i]));
	free(n->str);
	n->str = v;
	n->len = strlen(v);
	return 0;
}

int cmp_interp_tree(struct cmp_node *n, const struct cmp_lookup *lk, cn_strv *warnings, cn_err *err)
{
	if (!n)
		return 0;
	switch (n->kind) {
	case CMP_SCALAR:
		return interp_scalar(n, lk, warnings, err);
	case CMP_SEQ:
		for (size_t i = 0; i < n->n; i++)
			if (cmp_interp_tree(n->kids[i], lk, warnings, err) < 0)
				return -1;
		return 0;
	default:
		for (size_t i = 0; i < n->n; i++)
			if (cmp_interp_tree(cmp_map_val(n, i), lk, warnings, err) < 0)
				return -1;
		return 0;
	}
}
