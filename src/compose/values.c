/* Typed values out of YAML nodes, with the messages compose users see:
 * warnings "file:line: ...", errors "file:line:col: PATH must be ...".
 * Also the value syntaxes that have no node: durations (11-extension.md),
 * byte sizes (docker's RAMInBytes), command strings (shell words) and
 * project names (compose-go's NormalizeProjectName). */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/path.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cmp_warn(struct cmp_ctx *c, const struct cmp_node *at, const char *fmt, ...)
{
	char msg[CN_ERR_MSG_MAX];
	va_list ap;
	if (!c->warnings)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at && at->pos.file)
		cn_strv_push(c->warnings, cn_xasprintf("%s:%u: %s", at->pos.file, at->pos.line, msg));
	else
		cn_strv_pushdup(c->warnings, msg);
}

int cmp_fail(struct cmp_ctx *c, const struct cmp_node *at, const char *fmt, ...)
{
	char msg[CN_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at && at->pos.file)
		return cn_err_fail(c->err, CN_ERR_INVALID, "%s:%u:%u: %s", at->pos.file, at->pos.line, at->pos.col,
				   msg);
	return cn_err_fail(c->err, CN_ERR_INVALID, "%s", msg);
}

int cmp_type_error(struct cmp_ctx *c, const char *path, const struct cmp_node *at, const char *want)
{
	if (at && at->kind == CMP_SCALAR && !cmp_is_null(at))
		return cmp_fail(c, at, "%s must be %s, not \"%.64s\"", path, want, at->str);
	return cmp_fail(c, at, "%s must be %s, not %s", path, want, cmp_node_what(at));
}

void cmp_warn_unknown(struct cmp_ctx *c, const char *path, const struct cmp_node *map,
		      const char *const *known)
{
	if (!map || map->kind != CMP_MAP)
		return;
	for (size_t i = 0; i < map->n; i++) {
		const struct cmp_node *k = cmp_map_key(map, i);
		bool ok = strncmp(k->str, "x-", 2) == 0;
		for (const char *const *kn = known; *kn && !ok; kn++)
			ok = strcmp(*kn, k->str) == 0;
		if (!ok)
			cmp_warn(c, k, "%s.%s: unknown key, ignored", path, k->str);
	}
}

int cmp_expect(struct cmp_ctx *c, const char *path, const struct cmp_node *n, enum cmp_kind kind)
{
	if (n && n->kind == kind && !(kind == CMP_SCALAR && cmp_is_null(n)))
		return 0;
	return cmp_type_error(c, path, n, kind == CMP_MAP ? "a mapping" : kind == CMP_SEQ ? "a list" : "a string");
}

int cmp_get_str(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char **out)
{
	free(*out);
	*out = NULL;
	if (cmp_is_null(n))
		return 0;
	if (n->kind != CMP_SCALAR)
		return cmp_type_error(c, path, n, "a string");
	*out = cn_xstrdup(n->str);
	return 0;
}

int cmp_get_bool(struct cmp_ctx *c, const char *path, const struct cmp_node *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	if (n && n->kind == CMP_SCALAR && !cmp_is_null(n)) {
		for (size_t i = 0; i < CN_ARRAY_SIZE(yes); i++) {
			if (strcmp(n->str, yes[i]) == 0)
				return *out = true, 0;
			if (strcmp(n->str, no[i]) == 0)
				return *out = false, 0;
		}
	}
	return cmp_type_error(c, path, n, "a boolean (true or false)");
}

int cmp_get_int(struct cmp_ctx *c, const char *path, const struct cmp_node *n, long long *out)
{
	char *end;
	long long v;
	if (!n || n->kind != CMP_SCALAR || cmp_is_null(n))
		return cmp_type_error(c, path, n, "an integer");
	errno = 0;
	v = strtoll(n->str, &end, 10);
	if (errno || end == n->str || *end)
		return cmp_type_error(c, path, n, "an integer");
	*out = v;
	return 0;
}

/* Go's time.ParseDuration: [-]{number}{unit}... with ns us µs ms s m h;
 * "0" alone needs no unit. -1 when malformed or out of range. */
int cmp_parse_duration(const char *s, long long *ns)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 }, { "ms", 1e6 },
		      { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 } };
	double total = 0;
	bool neg = false;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0)
		return *ns = 0, 0;
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, ul = 0;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		errno = 0;
		v = strtod(s, &end);
		if (end == s || errno)
			return -1;
		for (const char *p = s; p < end; p++)
			if (*p == 'e' || *p == 'E' || *p == 'x' || *p == 'X' || *p == 'n' || *p == 'N' || *p == 'i' ||
			    *p == 'I')
				return -1;
		s = end;
		for (size_t i = 0; i < CN_ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].u);
			if (strncmp(s, units[i].u, l) == 0 && l > ul) {
				best = i;
				ul = l;
			}
		}
		if (!ul)
			return -1;
		total += v * units[best].mul;
		s += ul;
	}
	if (total > 9.2e18)
		return -1;
	*ns = (long long)(total + 0.5);
	if (neg)
		*ns = -*ns;
	return 0;
}

int cmp_get_duration(struct cmp_ctx *c, const char *path, const struct cmp_node *n, long long *ns)
{
	if (!n || n->kind != CMP_SCALAR || cmp_is_null(n) || cmp_parse_duration(n->str, ns) < 0 || *ns < 0)
		return cmp_type_error(c, path, n, "a duration (e.g. 1m30s, 500ms)");
	return 0;
}

/* docker's units.RAMInBytes: a number, optionally with b k m g t p
 * (binary multiples), optionally followed by "b" or "ib". */
size_t cmp_parse_decimal(const char *s, double *out)
{
	char num[64];
	size_t n = 0;
	while (isdigit((unsigned char)s[n]))
		n++;
	if (!n)
		return 0;
	if (s[n] == '.' && isdigit((unsigned char)s[n + 1])) {
		n++;
		while (isdigit((unsigned char)s[n]))
			n++;
	}
	if (n >= sizeof(num))
		return 0;
	memcpy(num, s, n);
	num[n] = '\0';
	*out = strtod(num, NULL);
	return n;
}

int cmp_parse_bytes(const char *s, long long *out)
{
	const char *end;
	double v;
	double mul = 1;
	size_t n = cmp_parse_decimal(s, &v);
	if (!n)
		return -1;
	end = s + n;
	if (*end == ' ')
		end++;
	switch (tolower((unsigned char)*end)) {
	case 'k': mul = 1024.0; end++; break;
	case 'm': mul = 1024.0 * 1024; end++; break;
	case 'g': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	case 'p': mul = 1024.0 * 1024 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (tolower((unsigned char)*end) == 'i' && mul > 1)
		end++;
	if (tolower((unsigned char)*end) == 'b')
		end++;
	if (*end || v * mul > 9.2e18)
		return -1;
	*out = (long long)(v * mul);
	return 0;
}

int cmp_get_bytes(struct cmp_ctx *c, const char *path, const struct cmp_node *n, long long *out)
{
	if (!n || n->kind != CMP_SCALAR || cmp_is_null(n) || cmp_parse_bytes(n->str, out) < 0)
		return cmp_type_error(c, path, n, "a size (e.g. 512m, 1g, or bytes)");
	return 0;
}

int cmp_get_strv(struct cmp_ctx *c, const char *path, const struct cmp_node *n, bool one_ok, cn_strv *out)
{
	cn_strv_free(out);
	if (cmp_is_null(n))
		return 0;
	if (n->kind == CMP_SCALAR && one_ok) {
		cn_strv_pushdup(out, n->str);
		return 0;
	}
	if (n->kind != CMP_SEQ)
		return cmp_type_error(c, path, n, one_ok ? "a string or a list of strings" : "a list of strings");
	for (size_t i = 0; i < n->n; i++) {
		if (n->kids[i]->kind != CMP_SCALAR || cmp_is_null(n->kids[i]))
			return cmp_type_error(c, path, n->kids[i], "a list of strings");
		cn_strv_pushdup(out, n->kids[i]->str);
	}
	return 0;
}

int cmp_get_kv(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char sep, bool bare_ok,
	       cn_strv *out)
{
	cn_strv_free(out);
	if (cmp_is_null(n))
		return 0;
	if (n->kind == CMP_SEQ)
		return cmp_get_strv(c, path, n, false, out);
	if (n->kind != CMP_MAP)
		return cmp_type_error(c, path, n, "a mapping or a list");
	for (size_t i = 0; i < n->n; i++) {
		const struct cmp_node *k = cmp_map_key(n, i), *v = cmp_map_val(n, i);
		if (cmp_is_null(v))
			cn_strv_push(out, bare_ok ? cn_xstrdup(k->str) : cn_xasprintf("%s%c", k->str, sep));
		else if (v->kind != CMP_SCALAR)
			return cmp_type_error(c, path, v, "a mapping of strings");
		else
			cn_strv_push(out, cn_xasprintf("%s%c%s", k->str, sep, v->str));
	}
	return 0;
}

/* mattn/go-shellwords as compose uses it: blanks split, single quotes
 * literal, double quotes with \" \\ \$ escapes, a backslash outside quotes
 * escapes the next character. -1 on an unclosed quote. */
int cmp_split_words(const char *s, cn_strv *out)
{
	cn_buf w;
	bool in_word = false;
	char q = 0;
	cn_buf_init(&w, 0);
	for (; *s; s++) {
		char ch = *s;
		if (q == '\'') {
			if (ch == '\'')
				q = 0;
			else
				cn_buf_addc(&w, ch);
			continue;
		}
		if (q == '"') {
			if (ch == '"')
				q = 0;
			else if (ch == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '$'))
				cn_buf_addc(&w, *++s);
			else
				cn_buf_addc(&w, ch);
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (in_word)
				cn_strv_push(out, cn_buf_detach(&w));
			in_word = false;
			continue;
		}
		in_word = true;
		if (ch == '\'' || ch == '"')
			q = ch;
		else if (ch == '\\' && s[1])
			cn_buf_addc(&w, *++s);
		else
			cn_buf_addc(&w, ch);
	}
	if (q) {
		cn_buf_free(&w);
		return -1;
	}
	if (in_word)
		cn_strv_push(out, cn_buf_detach(&w));
	cn_buf_free(&w);
	return 0;
}

bool cmp_project_name_valid(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

char *cmp_project_name_normalize(const char *s)
{
	cn_buf b;
	const char *p;
	cn_buf_init(&b, 0);
	for (; *s; s++) {
		char ch = (char)tolower((unsigned char)*s);
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')
			cn_buf_addc(&b, ch);
	}
	p = b.data;
	while (*p == '_' || *p == '-')
		p++;
	{
		char *r = cn_xstrdup(p);
		cn_buf_free(&b);
		return r;
	}
}

char *cmp_abspath(const char *dir, const char *s, const cn_strv *env)
{
	_cleanup_free_ char *joined = NULL;
	if (s[0] == '~' && (s[1] == '/' || !s[1])) {
		const char *home = env ? cn_env_get(env, "HOME") : NULL;
		if (!home)
			home = getenv("HOME");
		joined = cn_xasprintf("%s/%s", home ? home : "/", s + 1);
	} else if (s[0] == '/') {
		joined = cn_xstrdup(s);
	} else {
		joined = cn_xasprintf("%s/%s", dir, s);
	}
	return cn_path_clean(joined);
}

static size_t key_len(const char *e)
{
	const char *eq = strchr(e, '=');
	return eq ? (size_t)(eq - e) : strlen(e);
}

static int env_cmp(const void *a, const void *b, void *ctx)
{
	char *const *v = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	size_t li = key_len(v[i]), lj = key_len(v[j]);
	int c = memcmp(v[i], v[j], li < lj ? li : lj);
	if (!c)
		c = li < lj ? -1 : li > lj;
	return c ? c : (i < j ? -1 : i > j);
}

void cmp_env_settle(cn_strv *env)
{
	size_t n = env->n, w = 0;
	_cleanup_free_ size_t *idx = NULL;
	_cleanup_free_ char **out = NULL;
	if (n == 0)
		return;
	idx = cn_xmalloc(n * sizeof(*idx));
	out = cn_xcalloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), env_cmp, env->v);
	for (size_t g = 0; g < n;) {
		size_t e = g + 1, first = idx[g], last;
		size_t kl = key_len(env->v[first]);
		while (e < n && key_len(env->v[idx[e]]) == kl && memcmp(env->v[idx[e]], env->v[first], kl) == 0)
			e++;
		last = idx[e - 1];
		if (strchr(env->v[last], '=')) {
			out[first] = env->v[last];
			env->v[last] = NULL;
		}
		for (size_t k = g; k < e; k++) {
			free(env->v[idx[k]]);
			env->v[idx[k]] = NULL;
		}
		g = e;
	}
	for (size_t i = 0; i < n; i++)
		if (out[i])
			env->v[w++] = out[i];
	env->n = w;
	env->v[w] = NULL;
}
