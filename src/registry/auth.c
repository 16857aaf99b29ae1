#include "registry/auth.h"

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTH_FILE_MAX (1u << 20)

int reg_creds_parse(const char *s, struct reg_creds *out, cn_err *err)
{
	const char *colon = strchr(s, ':');
	memset(out, 0, sizeof(*out));
	if (!colon || colon == s)
		return cn_err_fail(err, CN_ERR_INVALID, "credentials must be USER:PASSWORD");
	out->user = cn_xstrndup(s, (size_t)(colon - s));
	out->pass = cn_xstrdup(colon + 1);
	return 0;
}

void reg_creds_free(struct reg_creds *c)
{
	free(c->user);
	if (c->pass)
		explicit_bzero(c->pass, strlen(c->pass));
	free(c->pass);
	memset(c, 0, sizeof(*c));
}

/* Rootless cairn is uid 0 in its user namespace: the user is who it was. */
static unsigned real_uid(bool *root)
{
	const struct cn_rootless *r = cn_rootless();
	*root = !r && getuid() == 0;
	return r ? (unsigned)r->uid : (unsigned)getuid();
}

/* $XDG_CONFIG_HOME/containers/auth.json, else ~/.config/...; NULL without a home. */
static char *config_auth_file(void)
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (x && *x == '/')
		return cn_xasprintf("%s/containers/auth.json", x);
	return home && *home ? cn_xasprintf("%s/.config/containers/auth.json", home) : NULL;
}

char *reg_auth_file_path(void)
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	char run[64];
	bool root;
	unsigned uid = real_uid(&root);
	char *cfg;
	if (env && *env)
		return cn_xstrdup(env);
	if (xdg && *xdg)
		return cn_xasprintf("%s/containers/auth.json", xdg);
	if (root)
		return cn_xstrdup("/run/containers/0/auth.json");
	/* podman's runtime dir for a user without XDG_RUNTIME_DIR... */
	snprintf(run, sizeof(run), "/run/user/%u", uid);
	if (stat(run, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() && !(st.st_mode & 022))
		return cn_xasprintf("%s/containers/auth.json", run);
	/* ...else the persistent file in the user's config. */
	cfg = config_auth_file();
	return cfg ? cfg : cn_xasprintf("/run/user/%u/containers/auth.json", uid);
}

/* docker's config keys are URLs ("https://index.docker.io/v1/"); podman's
 * are bare registries. Both compare as a bare domain. */
static char *key_domain(const char *key)
{
	const char *p = key;
	size_t n;
	if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncmp(p, "http://", 7) == 0)
		p += 7;
	n = strcspn(p, "/");
	if ((n == 15 && strncmp(p, "index.docker.io", n) == 0) ||
	    (n == 20 && strncmp(p, "registry-1.docker.io", n) == 0))
		return cn_xstrdup("docker.io");
	return cn_xstrndup(p, n);
}

/* 0 and *out (caller decref) when read, 0 and NULL when missing. */
static int load_json_file(const char *path, json_t **out, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	json_error_t je;
	*out = NULL;
	cn_buf_init(&b, AUTH_FILE_MAX);
	if (cn_read_file_at(AT_FDCWD, path, AUTH_FILE_MAX, &b, err) < 0) {
		if (err->errnum == ENOENT || err->errnum == ENOTDIR)
			return 0;
		return -1;
	}
	*out = json_loadb(b.data, b.len, 0, &je);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cn_err_fail(err, CN_ERR_INVALID, "%s:%d: not a JSON object (%s)", path, je.line, je.text);
	}
	return 0;
}

static int decode_auth(const char *path, const char *key, const char *b64, struct reg_creds *out,
		       cn_err *err)
{
	size_t len = strlen(b64), pad = 0;
	_cleanup_free_ unsigned char *raw = NULL;
	int n;
	if (len == 0 || len % 4 != 0 || len > 8192)
		return cn_err_fail(err, CN_ERR_INVALID, "%s: auths \"%s\": malformed \"auth\"", path, key);
	raw = cn_xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "%s: auths \"%s\": \"auth\" is not base64", path, key);
	pad = (b64[len - 1] == '=') + (b64[len - 2] == '=');
	raw[(size_t)n - pad] = '\0';
	if (strlen((char *)raw) != (size_t)n - pad || reg_creds_parse((char *)raw, out, err) < 0) {
		explicit_bzero(raw, (size_t)n);
		return cn_err_fail(err, CN_ERR_INVALID, "%s: auths \"%s\": \"auth\" is not base64(user:password)",
				  path, key);
	}
	explicit_bzero(raw, (size_t)n);
	return 0;
}

static int lookup_in(const char *path, const char *domain, struct reg_creds *out, cn_err *err)
{
	json_t *doc, *auths, *v;
	const char *key;
	int r = 0;
	if (load_json_file(path, &doc, err) < 0)
		return -1;
	auths = json_object_get(doc, "auths");
	json_object_foreach(auths, key, v) {
		_cleanup_free_ char *d = key_domain(key);
		const char *b64 = json_string_value(json_object_get(v, "auth"));
		if (strcmp(d, domain) != 0 || !b64 || !*b64)
			continue;
		r = decode_auth(path, key, b64, out, err) < 0 ? -1 : 1;
		break;
	}
	json_decref(doc);
	return r;
}

/* Read in order (podman's): the file login writes, then
 * $XDG_CONFIG_HOME/containers/auth.json, then docker's config. A file that
 * does not exist is skipped. */
int reg_auth_lookup(const char *domain, struct reg_creds *out, cn_err *err)
{
	_cleanup_free_ char *path = reg_auth_file_path(), *cfg = config_auth_file(), *docker = NULL;
	const char *home = getenv("HOME"), *dcfg = getenv("DOCKER_CONFIG");
	int r;
	memset(out, 0, sizeof(*out));
	r = lookup_in(path, domain, out, err);
	if (r == 0 && cfg && strcmp(cfg, path) != 0)
		r = lookup_in(cfg, domain, out, err);
	if (r != 0)
		return r;
	if (dcfg && *dcfg)
		docker = cn_xasprintf("%s/config.json", dcfg);
	else if (home && *home)
		docker = cn_xasprintf("%s/.docker/config.json", home);
	return docker ? lookup_in(docker, domain, out, err) : 0;
}

static int write_auth_file(const char *path, json_t *doc, cn_err *err)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	_cleanup_free_ char *dir = cn_xstrdup(path), *base = cn_xstrdup(path);
	_cleanup_close_ int dfd = -1;
	if (!text)
		return cn_err_errno(err, ENOMEM, "encode %s", path);
	if (cn_mkdir_p(dirname(dir), 0700, err) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cn_err_sys(err, "open '%s'", dir);
	return cn_write_file_atomic(dfd, basename(base), text, strlen(text), 0600, err);
}

int reg_auth_save(const char *domain, const struct reg_creds *c, cn_err *err)
{
	_cleanup_free_ char *path = reg_auth_file_path(), *plain = NULL;
	_cleanup_free_ char *b64 = NULL;
	json_t *doc, *auths;
	size_t n;
	int r;
	if (load_json_file(path, &doc, err) < 0)
		return -1;
	if (!doc)
		doc = json_object();
	auths = json_object_get(doc, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(doc, "auths", auths);
	}
	plain = cn_xasprintf("%s:%s", c->user, c->pass);
	n = strlen(plain);
	b64 = cn_xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)n);
	explicit_bzero(plain, n);
	json_object_set_new(auths, domain, json_pack("{s:s}", "auth", b64));
	r = write_auth_file(path, doc, err);
	json_decref(doc);
	return r;
}

int reg_auth_remove(const char *domain, bool all, cn_err *err)
{
	_cleanup_free_ char *path = reg_auth_file_path();
	json_t *doc, *auths, *v;
	const char *key;
	void *tmp;
	int removed = 0;
	if (load_json_file(path, &doc, err) < 0)
		return -1;
	if (!doc)
		return 0;
	auths = json_object_get(doc, "auths");
	json_object_foreach_safe(auths, tmp, key, v) {
		_cleanup_free_ char *d = key_domain(key);
		if (all || strcmp(d, domain) == 0) {
			json_object_del(auths, key);
			removed = 1;
		}
	}
	if (removed && write_auth_file(path, doc, err) < 0)
		removed = -1;
	json_decref(doc);
	return removed;
}
