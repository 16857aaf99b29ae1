#include "util/conf.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The keys cairn knows; anything else is refused (see conf.h). */
static const char *const known_keys[] = {
	"compression",          /* build's layer compression: gzip | zstd */
	"init",                 /* run's --init by default: true | false (docker's
	                         * daemon.json "init") */
};

#define CONF_MAX_LINE 4096

static bool bare_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* A quoted value starting at *P (its quote); *P moves past the closing quote. */
static int quoted(const char **p, const char *end, cn_buf *out, const char *where, cn_err *err)
{
	char q = **p;
	const char *s = *p + 1;
	for (; s < end && *s != q; s++) {
		char ch = *s;
		if ((unsigned char)ch < 0x20 && ch != '\t')
			return cn_err_fail(err, CN_ERR_INVALID, "%s: a control character in a string", where);
		if (q == '"' && ch == '\\') {
			if (++s == end)
				break;
			switch (*s) {
			case '"': ch = '"'; break;
			case '\\': ch = '\\'; break;
			case 't': ch = '\t'; break;
			case 'n': ch = '\n'; break;
			default:
				return cn_err_fail(err, CN_ERR_INVALID, "%s: unknown escape '\\%c' in a string "
						   "(\\\" \\\\ \\t \\n are known)", where,
						   bare_char(*s) ? *s : '?');
			}
		}
		cn_buf_add(out, &ch, 1);
	}
	if (s >= end)
		return cn_err_fail(err, CN_ERR_INVALID, "%s: the string has no closing %c", where, q);
	*p = s + 1;
	return 0;
}

static struct cn_conf_entry *find(const struct cn_conf *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0)
			return &c->v[i];
	return NULL;
}

/* One line (without its newline): nothing, a comment, or key = value. */
static int parse_line(struct cn_conf *c, const char *p, const char *end, const char *where,
		      cn_strv *seen, cn_err *err)
{
	_cleanup_buf_ cn_buf val;
	_cleanup_free_ char *key = NULL;
	const char *k;
	struct cn_conf_entry *e;
	bool known = false;
	cn_buf_init(&val, CONF_MAX_LINE);
	p = skip_ws(p, end);
	if (p == end || *p == '#')
		return 0;
	if (*p == '[')
		return cn_err_fail(err, CN_ERR_INVALID, "%s: tables ([...]) are not supported: write "
				   "key = value lines", where);
	for (k = p; p < end && bare_char(*p); p++)
		;
	if (p == k)
		return cn_err_fail(err, CN_ERR_INVALID, "%s: expected key = value", where);
	key = cn_xstrndup(k, (size_t)(p - k));
	p = skip_ws(p, end);
	if (p == end || *p != '=')
		return cn_err_fail(err, CN_ERR_INVALID, "%s: expected '=' after '%s'", where, key);
	p = skip_ws(p + 1, end);
	if (p < end && (*p == '"' || *p == '\'')) {
		if (quoted(&p, end, &val, where, err) < 0)
			return -1;
	} else {
		const char *v = p;
		while (p < end && (bare_char(*p) || *p == '.'))
			p++;
		if (p == v)
			return cn_err_fail(err, CN_ERR_INVALID, "%s: '%s' has no value (a word or a "
					   "\"quoted string\")", where, key);
		cn_buf_add(&val, v, (size_t)(p - v));
	}
	p = skip_ws(p, end);
	if (p < end && *p != '#')
		return cn_err_fail(err, CN_ERR_INVALID, "%s: unexpected text after the value of '%s'", where, key);
	for (size_t i = 0; i < CN_ARRAY_SIZE(known_keys); i++)
		known |= strcmp(key, known_keys[i]) == 0;
	if (!known)
		return cn_err_fail(err, CN_ERR_INVALID, "%s: unknown key '%s'", where, key);
	for (size_t i = 0; i < seen->n; i++)
		if (strcmp(seen->v[i], key) == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "%s: '%s' is set twice", where, key);
	cn_strv_pushdup(seen, key);
	e = find(c, key);
	if (!e) {
		c->v = cn_xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
		e = &c->v[c->n++];
		e->key = CN_TAKE_PTR(key);
	} else {
		free(e->value);
		free(e->where);
	}
	e->value = cn_xstrndup(val.data ? val.data : "", val.len);
	e->where = cn_xstrdup(where);
	return 0;
}

int cn_conf_parse(struct cn_conf *c, const char *name, const char *text, size_t len, cn_err *err)
{
	_cleanup_strv_ cn_strv seen = { 0 };
	const char *p = text, *end = text + len;
	if (memchr(text, '\0', len))
		return cn_err_fail(err, CN_ERR_INVALID, "%s: not a text file (a NUL byte)", name);
	for (unsigned line = 1; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		_cleanup_free_ char *where = cn_xasprintf("%s:%u", name, line);
		if (eol > p && eol[-1] == '\r')
			eol--;
		if (eol - p > CONF_MAX_LINE)
			return cn_err_fail(err, CN_ERR_INVALID, "%s: line longer than %d bytes", where,
					   CONF_MAX_LINE);
		if (parse_line(c, p, eol, where, &seen, err) < 0)
			return -1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* MISSING_OK: a file that does not exist is no error. */
static int load_file(struct cn_conf *c, const char *path, bool missing_ok, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	cn_buf_init(&b, CN_CONF_MAX_FILE);
	/* Symlinks are followed: /etc files often are links. */
	if (fd < 0 && missing_ok && errno == ENOENT)
		return 0;
	if (fd < 0)
		return cn_err_sys(err, "configuration file '%s'", path);
	if (cn_read_fd(fd, path, CN_CONF_MAX_FILE, &b, err) < 0)
		return cn_err_wrap(err, "configuration file");
	return cn_conf_parse(c, path, b.data ? b.data : "", b.len, err);
}

/* $XDG_CONFIG_HOME/cairn/cairn.conf, else HOME's (the environment's, else
 * the password database's: rootless cairn runs as the user). */
static char *user_file(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg == '/')
		return cn_xasprintf("%s/cairn/cairn.conf", xdg);
	if (!home || *home != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	return home && *home == '/' ? cn_xasprintf("%s/.config/cairn/cairn.conf", home) : NULL;
}

int cn_conf_load(struct cn_conf *c, cn_err *err)
{
	const char *env = getenv("CAIRN_CONFIG");
	_cleanup_free_ char *user = NULL;
	memset(c, 0, sizeof(*c));
	if (env)
		return *env ? load_file(c, env, false, err) : 0;
	if (load_file(c, "/etc/cairn/cairn.conf", true, err) < 0)
		return -1;
	user = user_file();
	return user ? load_file(c, user, true, err) : 0;
}

const char *cn_conf_get(const struct cn_conf *c, const char *key, const char **where)
{
	const struct cn_conf_entry *e = find(c, key);
	if (where)
		*where = e ? e->where : NULL;
	return e ? e->value : NULL;
}

void cn_conf_free(struct cn_conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].where);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}
