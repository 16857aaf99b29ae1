#include "rcache/spec.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/mem.h"
#include "util/ref.h"

#include <stdlib.h>
#include <string.h>

/* One attribute of the value: "key=value" split at its first '='. */
struct attr {
	char *key, *val;        /* val is NULL for a field without '=' */
	bool used;
};

struct attrs {
	struct attr *v;
	size_t n, cap;
};

static void attrs_free(struct attrs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].key);
		free(a->v[i].val);
	}
	free(a->v);
}

/* buildx attributes that change nothing in cairn: accepted so that a
 * command line written for buildx works unchanged. */
static const char *const ignored_keys[] = {
	"oci-mediatypes", "image-manifest", "compression-level", "force-compression",
};

/* Add FIELD (unquoted already) to A; a key given twice is refused. */
static int add_field(struct attrs *a, const char *field, size_t len, cn_err *err)
{
	const char *eq = memchr(field, '=', len);
	size_t klen = eq ? (size_t)(eq - field) : len;
	struct attr *at;
	if (len == 0)
		return cn_err_fail(err, CN_ERR_INVALID, "an empty attribute (two commas, or one at an end)");
	if (a->n >= 64)
		return cn_err_fail(err, CN_ERR_INVALID, "more than 64 attributes");
	for (size_t i = 0; i < a->n; i++)
		if (strlen(a->v[i].key) == klen && memcmp(a->v[i].key, field, klen) == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "%s= is given twice", a->v[i].key);
	cn_xgrow((void **)&a->v, &a->cap, a->n + 1, sizeof(*a->v));
	at = &a->v[a->n++];
	at->key = cn_xstrndup(field, klen);
	at->val = eq ? cn_xstrndup(eq + 1, len - klen - 1) : NULL;
	at->used = false;
	return 0;
}

/* Split VALUE at commas outside double quotes, as buildx's CSV reader does;
 * a quote opens or closes a quoted part anywhere in a field ("ref=\"a,b\""
 * and "\"ref=a,b\"" both give ref=a,b), and "" inside one is a quote. */
static int split(const char *value, struct attrs *a, cn_err *err)
{
	_cleanup_buf_ cn_buf f;
	bool quoted = false;
	cn_buf_init(&f, 0);
	for (const char *p = value;; p++) {
		if (*p == '\0' || (*p == ',' && !quoted)) {
			if (quoted)
				return cn_err_fail(err, CN_ERR_INVALID, "a quote (\") is not closed");
			if (add_field(a, f.data ? f.data : "", f.len, err) < 0)
				return -1;
			cn_buf_reset(&f);
			if (*p == '\0')
				return 0;
		} else if (*p == '"') {
			if (quoted && p[1] == '"')
				cn_buf_addc(&f, *p++);
			else
				quoted = !quoted;
		} else {
			cn_buf_addc(&f, *p);
		}
	}
}

static struct attr *get(struct attrs *a, const char *key)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, key) == 0) {
			a->v[i].used = true;
			return &a->v[i];
		}
	return NULL;
}

static int parse_bool(const struct attr *at, bool *out, cn_err *err)
{
	if (strcmp(at->val, "true") == 0)
		*out = true;
	else if (strcmp(at->val, "false") == 0)
		*out = false;
	else
		return cn_err_fail(err, CN_ERR_INVALID, "%s=%s: %s is true or false", at->key, at->val, at->key);
	return 0;
}

/* The type= attribute (registry when only ref= is given). */
static int parse_type(struct attrs *a, bool to, struct rc_spec *s, cn_err *err)
{
	struct attr *t = get(a, "type");
	const char *v;
	if (!t) {
		if (!get(a, "ref"))
			return cn_err_fail(err, CN_ERR_INVALID, "type= is missing (registry, local or inline)");
		s->type = RC_REGISTRY;
		return 0;
	}
	v = t->val;
	if (strcmp(v, "registry") == 0) {
		s->type = RC_REGISTRY;
	} else if (strcmp(v, "local") == 0) {
		s->type = RC_LOCAL;
	} else if (strcmp(v, "inline") == 0) {
		if (!to)
			return cn_err_fail(err, CN_ERR_INVALID, "type=inline is read with --cache-from "
					  "type=registry,ref=IMAGE");
		s->type = RC_INLINE;
	} else if (*v == '\0') {
		return cn_err_fail(err, CN_ERR_INVALID, "type= is empty (registry, local or inline)");
	} else {
		return cn_err_fail(err, CN_ERR_INVALID, "type=%s is not supported; use type=registry or type=local", v);
	}
	return 0;
}

static int parse_registry(struct attrs *a, struct rc_spec *s, cn_err *err)
{
	struct attr *r = get(a, "ref");
	struct cn_ref ref;
	if (!r || !*r->val)
		return cn_err_fail(err, CN_ERR_INVALID, "type=registry needs ref=IMAGE");
	if (cn_ref_parse(r->val, &ref, err) < 0)
		return cn_err_wrap(err, "ref=%s", r->val);
	cn_ref_free(&ref);
	s->ref = cn_xstrdup(r->val);
	s->name = cn_xstrdup(r->val);
	return 0;
}

static int parse_local(struct attrs *a, bool to, struct rc_spec *s, cn_err *err)
{
	const char *dirkey = to ? "dest" : "src";
	struct attr *d = get(a, dirkey), *t = get(a, "tag"), *g = get(a, "digest");
	if (get(a, to ? "src" : "dest"))
		return cn_err_fail(err, CN_ERR_INVALID, "%s= is for --cache-%s (--cache-%s takes %s=DIR)",
				  to ? "src" : "dest", to ? "from" : "to", to ? "to" : "from", dirkey);
	if (!d || !*d->val)
		return cn_err_fail(err, CN_ERR_INVALID, "type=local needs %s=DIR", dirkey);
	if (t && !cn_ref_tag_valid(t->val))
		return cn_err_fail(err, CN_ERR_INVALID, "tag=%s: not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-], "
				  "at most 128)", t->val);
	if (g && to)
		return cn_err_fail(err, CN_ERR_INVALID, "digest= is for --cache-from");
	if (g && !cn_digest_valid(g->val))
		return cn_err_fail(err, CN_ERR_INVALID, "digest=%s: not a sha256 digest (sha256:<64 hex>)", g->val);
	s->dir = cn_xstrdup(d->val);
	s->tag = cn_xstrdup(t ? t->val : "latest");
	s->digest = g ? cn_xstrdup(g->val) : NULL;
	s->name = cn_xasprintf("local:%s", d->val);
	return 0;
}

/* mode=, compression=, ignore-error=: --cache-to only. */
static int parse_export_attrs(struct attrs *a, bool to, struct rc_spec *s, cn_err *err)
{
	struct attr *m = get(a, "mode"), *c = get(a, "compression"), *ie = get(a, "ignore-error");
	if (!to) {
		if (m || c)
			return cn_err_fail(err, CN_ERR_INVALID, "%s= is for --cache-to", m ? "mode" : "compression");
		if (ie)
			return cn_err_fail(err, CN_ERR_INVALID, "ignore-error= is for --cache-to (a failed "
					  "--cache-from is always only a warning)");
		return 0;
	}
	if (m) {
		if (strcmp(m->val, "min") == 0)
			s->mode = RC_MODE_MIN;
		else if (strcmp(m->val, "max") == 0)
			s->mode = RC_MODE_MAX;
		else
			return cn_err_fail(err, CN_ERR_INVALID, "mode=%s: mode is min or max", m->val);
		/* BuildKit's inline cache is min only: it is the image's own layers. */
		if (s->type == RC_INLINE && s->mode == RC_MODE_MAX)
			return cn_err_fail(err, CN_ERR_INVALID, "mode=max: type=inline supports mode=min only");
	}
	if (c) {
		if (s->type == RC_INLINE)
			return cn_err_fail(err, CN_ERR_INVALID, "compression=%s: type=inline uses the image's own "
					  "layers (compression= is for type=registry and type=local)", c->val);
		if (strcmp(c->val, "gzip") == 0)
			s->compression = LAYER_GZIP;
		else if (strcmp(c->val, "zstd") == 0)
			s->compression = LAYER_ZSTD;
		else if (strcmp(c->val, "uncompressed") == 0 || strcmp(c->val, "estargz") == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "compression=%s: not supported (compression is gzip "
					  "or zstd)", c->val);
		else
			return cn_err_fail(err, CN_ERR_INVALID, "compression=%s: compression is gzip or zstd", c->val);
		s->has_compression = true;
	}
	if (ie && parse_bool(ie, &s->ignore_error, err) < 0)
		return -1;
	return 0;
}

/* Every attribute used, or one of the buildx ones cairn ignores, or a
 * key this type does not take. */
static int check_unused(struct attrs *a, const struct rc_spec *s, cn_err *err)
{
	static const char *const type_names[] = { "registry", "local", "inline" };
	for (size_t i = 0; i < a->n; i++) {
		const char *k = a->v[i].key;
		bool ignored = false;
		if (a->v[i].used)
			continue;
		for (size_t j = 0; j < CN_ARRAY_SIZE(ignored_keys); j++)
			ignored |= strcmp(k, ignored_keys[j]) == 0;
		if (ignored)
			continue;
		if (strcmp(k, "ref") == 0 || strcmp(k, "dest") == 0 || strcmp(k, "src") == 0 ||
		    strcmp(k, "tag") == 0 || strcmp(k, "digest") == 0)
			return cn_err_fail(err, CN_ERR_INVALID, "%s= does not apply to type=%s", k,
					  type_names[s->type]);
		return cn_err_fail(err, CN_ERR_INVALID, "unknown attribute '%s'", k);
	}
	return 0;
}

static int parse_attrs(struct attrs *a, bool to, struct rc_spec *s, cn_err *err)
{
	for (size_t i = 0; i < a->n; i++)
		if (!a->v[i].val)
			return cn_err_fail(err, CN_ERR_INVALID, "'%s' has no value (attributes are key=value)",
					  a->v[i].key);
	if (parse_type(a, to, s, err) < 0)
		return -1;
	switch (s->type) {
	case RC_REGISTRY:
		if (parse_registry(a, s, err) < 0)
			return -1;
		break;
	case RC_LOCAL:
		if (parse_local(a, to, s, err) < 0)
			return -1;
		break;
	case RC_INLINE:
		s->name = cn_xstrdup("inline");
		break;
	}
	if (parse_export_attrs(a, to, s, err) < 0)
		return -1;
	return check_unused(a, s, err);
}

int rc_spec_parse(const char *value, bool to, struct rc_spec *out, cn_err *err)
{
	struct attrs a = { 0 };
	int r;
	memset(out, 0, sizeof(*out));
	if (!value || !*value)
		return cn_err_fail(err, CN_ERR_INVALID, "an empty value (type=registry,ref=IMAGE or "
				  "type=local,%s=DIR)", to ? "dest" : "src");
	/* No '=' at all: buildx takes the whole value as a registry reference. */
	if (!strchr(value, '=')) {
		r = add_field(&a, "type=registry", strlen("type=registry"), err);
		if (r == 0) {
			_cleanup_free_ char *f = cn_xasprintf("ref=%s", value);
			r = add_field(&a, f, strlen(f), err);
		}
	} else {
		r = split(value, &a, err);
	}
	if (r == 0)
		r = parse_attrs(&a, to, out, err);
	attrs_free(&a);
	if (r < 0) {
		rc_spec_free(out);
		return -1;
	}
	out->text = cn_xstrdup(value);
	return 0;
}

void rc_spec_free(struct rc_spec *s)
{
	free(s->ref);
	free(s->dir);
	free(s->tag);
	free(s->digest);
	free(s->text);
	free(s->name);
	memset(s, 0, sizeof(*s));
}
