/* .env and env_file: lines as compose-go's dotenv reads them (05-services.md
 * env_file): `[export ]VAR[=[VAL]]`; # starts a comment line, and an
 * inline comment after an unquoted value needs a space before #; single
 * quotes are literal, double quotes take \n \t \r \\ \" \$ and interpolate,
 * as unquoted values do; quoted values may span lines; a bare VAR takes
 * the environment's value or is skipped (compose-go's dotenv). format: raw takes KEY=VALUE
 * lines as written. */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define ENVFILE_MAX (16u << 20)

struct chain {
	struct cmp_envmap local;        /* what the file set so far */
	const struct cmp_lookup *next;
};

/* The file's latest entry for NAME (an unset one hides the environment's),
 * else LK's value. */
static const char *chain_get(void *ctx, const char *name, size_t len)
{
	const struct chain *c = ctx;
	long i = cmp_envmap_find(&c->local, name, len);
	if (i >= 0) {
		const char *e = c->local.env->v[i];
		return e[len] ? e + len + 1 : NULL;
	}
	return c->next ? c->next->get(c->next->ctx, name, len) : NULL;
}

static void chain_push(struct chain *c, cn_strv *local, cn_strv *env, char *entry)
{
	cn_strv_pushdup(local, entry);
	cmp_envmap_add(&c->local, local->n - 1);
	cn_strv_push(env, entry);
}

static bool key_ok(const char *k, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] == ' ' || k[i] == '\t' || k[i] == '=' || k[i] == '"' || k[i] == '\'' || k[i] == '#')
			return false;
	return true;
}

static size_t count_lines(const char *text, const char *upto)
{
	size_t n = 1;
	for (const char *p = text; p < upto; p++)
		n += *p == '\n';
	return n;
}

/* A quoted value at *P (its quote); *P moves past the closing quote. */
static int quoted(const char *name, const char *text, const char **p, const char *end, cn_buf *out, cn_err *err)
{
	char q = **p;
	const char *s = *p + 1;
	for (; s < end && *s != q; s++) {
		char ch = *s;
		if (q == '"' && ch == '\\' && s + 1 < end) {
			switch (*++s) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case '\\': ch = '\\'; break;
			case '"': ch = '"'; break;
			case '$': cn_buf_adds(out, "$$"); continue;   /* kept from interpolation */
			default: cn_buf_addc(out, '\\'); ch = *s; break;
			}
		}
		cn_buf_addc(out, ch);
	}
	if (s >= end)
		return cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: the value has no closing %c", name,
				   count_lines(text, *p), q);
	*p = s + 1;
	return 0;
}

static int parse_raw(const char *name, const char *text, size_t len, cn_strv *env, cn_err *err)
{
	const char *p = text, *end = text + len;
	size_t line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *eq;
		line++;
		if (le > p && le[-1] == '\r')
			le--;
		if (le > p && *p != '#') {
			eq = memchr(p, '=', (size_t)(le - p));
			if (!eq || !key_ok(p, (size_t)(eq - p)))
				return cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: not a KEY=VALUE line", name, line);
			cn_strv_push(env, cn_xstrndup(p, (size_t)(le - p)));
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int cmp_envfile_parse(const char *name, const char *text, size_t len, bool raw,
		      const struct cmp_lookup *lk, cn_strv *env, cn_err *err)
{
	const char *p = text, *end = text + len;
	_cleanup_strv_ cn_strv local = { 0 };
	struct chain ch = { { 0 }, lk };
	struct cmp_lookup clk = { chain_get, &ch };
	int rc = -1;

	if (memchr(text, '\0', len))
		return cn_err_fail(err, CN_ERR_INVALID, "%s: a NUL byte: not a text file", name);
	if (raw)
		return parse_raw(name, text, len, env, err);
	cmp_envmap_init(&ch.local, &local);
	while (p < end) {
		const char *ks, *ke;
		_cleanup_free_ char *key = NULL, *val = NULL;
		_cleanup_buf_ cn_buf b = { 0 };
		bool interp = true;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p >= end)
			break;
		if (*p == '#') {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
			continue;
		}
		if ((size_t)(end - p) > 7 && memcmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
			p += 7;
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
		}
		ks = p;
		while (p < end && *p != '=' && *p != '\n' && *p != '\r' && *p != '#')
			p++;
		ke = p;
		while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		if (!key_ok(ks, (size_t)(ke - ks))) {
			cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: invalid variable name \"%.*s\"", name,
				    count_lines(text, ks), (int)(ke - ks > 64 ? 64 : ke - ks), ks);
			goto out;
		}
		key = cn_xstrndup(ks, (size_t)(ke - ks));
		if (p >= end || *p != '=') {
			/* A bare VAR: the environment's value, or none at all. */
			const char *v = lk ? lk->get(lk->ctx, key, strlen(key)) : NULL;
			if (p < end && *p == '#')
				while (p < end && *p != '\n')
					p++;
			if (v)
				chain_push(&ch, &local, env, cn_xasprintf("%s=%s", key, v));
			continue;
		}
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		cn_buf_init(&b, 0);
		if (p < end && (*p == '"' || *p == '\'')) {
			interp = *p == '"';
			if (quoted(name, text, &p, end, &b, err) < 0)
				goto out;
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
				p++;
			if (p < end && *p == '#')
				while (p < end && *p != '\n')
					p++;
			if (p < end && *p != '\n') {
				cn_err_fail(err, CN_ERR_INVALID, "%s:%zu: text after the closing quote of %s", name,
					    count_lines(text, p), key);
				goto out;
			}
		} else {
			const char *vs = p, *ve;
			while (p < end && *p != '\n' && !(*p == '#' && p > vs && (p[-1] == ' ' || p[-1] == '\t')))
				p++;
			ve = p;
			while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			cn_buf_add(&b, vs, (size_t)(ve - vs));
			while (p < end && *p != '\n')
				p++;
		}
		if (interp) {
			if (cmp_interp_str(b.data, &clk, &val, NULL, err) < 0) {
				cn_err_wrap(err, "%s:%zu: %s", name, count_lines(text, ks), key);
				goto out;
			}
		} else {
			val = cn_xstrdup(b.data);
		}
		chain_push(&ch, &local, env, cn_xasprintf("%s=%s", key, val));
	}
	rc = 0;
out:
	cmp_envmap_free(&ch.local);
	return rc;
}

int cmp_read_file(const char *path, size_t max, cn_buf *out, cn_err *err)
{
	/* O_NONBLOCK: a FIFO must not wait (cn_read_fd takes regular files only). */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", path);
	return cn_read_fd(fd, path, max, out, err);
}

int cmp_envfile_read(const char *path, bool raw, const struct cmp_lookup *lk, cn_strv *env, cn_err *err)
{
	_cleanup_buf_ cn_buf text = { 0 };
	cn_buf_init(&text, 0);
	if (cmp_read_file(path, ENVFILE_MAX, &text, err) < 0)
		return -1;
	return cmp_envfile_parse(path, text.data, text.len, raw, lk, env, err);
}
