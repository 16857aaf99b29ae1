/* Building for a platform other than the host's: which base image, what
 * the config says, and whether RUN can execute (see buildplat.h). */
#include "builder/build_internal.h"
#include "builder/buildplat.h"
#include "store/imgindex.h"
#include "transfer/import.h"
#include "util/ref.h"

#include <string.h>

void bd_plat_target(const struct build *b, struct cn_platform *p)
{
	cn_err ignored;
	/* bf_build checked o->platform before anything ran. */
	if (!b->o->platform || cn_platform_parse(b->o->platform, p, &ignored) < 0)
		cn_platform_host_get(p);
}

void bd_plat_of_config(const json_t *cfg, struct cn_platform *p)
{
	const char *os = json_string_value(json_object_get(cfg, "os"));
	const char *arch = json_string_value(json_object_get(cfg, "architecture"));
	const char *variant = json_string_value(json_object_get(cfg, "variant"));
	struct cn_platform host;
	cn_platform_host_get(&host);
	if (!cn_platform_set(p, os && *os ? os : host.os, arch && *arch ? arch : host.arch,
			     arch && *arch ? variant : host.variant))
		*p = host;
}

void bd_plat_set_config(json_t *cfg, const struct cn_platform *p)
{
	json_object_set_new(cfg, "os", json_string(p->os));
	json_object_set_new(cfg, "architecture", json_string(p->arch));
	if (*p->variant)
		json_object_set_new(cfg, "variant", json_string(p->variant));
	else
		json_object_del(cfg, "variant");
}

int bd_plat_of_from(struct build *b, const struct bf_instr *in, struct cn_platform *p, cn_err *err)
{
	_cleanup_free_ char *value = NULL;
	if (!in->platform) {
		bd_plat_target(b, p);
		return 0;
	}
	if (bd_expand(b, &b->meta_args, in->platform, &value, err) < 0)
		return -1;
	if (cn_platform_parse(value, p, err) < 0) {
		b->positioned = true;
		return cn_err_wrap(err, "%s:%d:%d: FROM: --platform=%s", b->o->buildfile, in->node->start_line,
				   bf_node_column(in->node, "--platform"), in->platform);
	}
	return 0;
}

static bool has_run(const struct build *b, size_t first, size_t end)
{
	for (size_t i = first; i < end; i++)
		if (b->prog.instrs[i].kind == BF_RUN)
			return true;
	return false;
}

/* Said before the first step, not as "exec format error" in the middle. */
int bd_plat_check_build(struct build *b, cn_err *err)
{
	struct cn_platform p;
	if (!b->o->platform)
		return 0;
	if (cn_platform_parse(b->o->platform, &p, err) < 0)
		return -1;
	if (!has_run(b, 0, b->prog.ninstrs))
		return 0;
	return cn_platform_can_run(&p, err);
}

int bd_plat_check_stage(struct build *b, const struct cn_platform *p, cn_err *err)
{
	if (!has_run(b, b->cur->first, b->cur->end))
		return 0;
	return cn_platform_can_run(p, err);
}

static bool image_is(const struct store_image *img, const struct cn_platform *p, struct cn_platform *got)
{
	bd_plat_of_config(img->config, got);
	return cn_platform_equal(got, p);
}

/* Any platform's image NAME (NAME@DIGEST: that digest), pulled with the
 * plain puller by --pull's policy (when missing, always or never). */
static int load_or_pull(struct build *b, const char *name, struct store_image *img, cn_err *err)
{
	const char *at = strchr(name, '@');
	const char *key = at ? at + 1 : name;
	struct cn_ref ref;
	int r = store_image_load(b->st, key, img, err);
	bool always = b->o->pull_policy == BF_PULL_ALWAYS && !at && r == 1;
	if (r == 0 && b->o->pull_policy == BF_PULL_NEVER)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' is not in the store (--pull=never)", name);
	if (always && cn_env_find(&b->pulled, name, strlen(name)) >= 0)
		return 1;       /* pulled once by this build already */
	if ((r != 0 && !always) || !b->o->pull)
		return r;
	if (always) {
		store_image_free(img);
		cn_env_set(&b->pulled, name, "");
	}
	/* A name that is no reference at all says so alone. */
	if (cn_ref_parse(name, &ref, err) < 0)
		return -1;
	cn_ref_free(&ref);
	if (b->o->pull(b->o->pull_ctx, b->st, name, err) < 0)
		return always ? cn_err_wrap(err, "pulling image '%s' failed (--pull=always)", name)
			      : cn_err_wrap(err, "image '%s' is not in the store, and pulling it failed", name);
	return store_image_load(b->st, key, img, err);
}

/* A multi-platform image in the store (a tag naming an image index): its
 * entry for P. 1 loaded, 0 not such an image, -1 error (no entry for P
 * is one: pulling could not give another under the same name). */
static int load_from_index(struct build *b, const char *key, const struct cn_platform *p,
			   struct store_image *img, cn_err *err)
{
	char digest[CN_DIGEST_STR_SIZE], child[CN_DIGEST_STR_SIZE];
	cn_err ignored;
	_cleanup_free_ char *tag = cn_digest_valid(key) ? NULL : store_ref_normalize(key, &ignored);
	if (cn_digest_valid(key))
		memcpy(digest, key, sizeof(digest));
	else if (!tag || store_tag_get(b->st, tag, digest, &ignored) != 1)
		return 0;
	if (!store_index_blob_is(b->st, digest))
		return 0;
	if (store_index_pick(b->st, digest, p, child, err) < 0)
		return cn_err_wrap(err, "image '%s'", key);
	return store_image_load_manifest(b->st, child, img, err);
}

int bd_plat_lazy_base(struct build *b, const char *name, const struct cn_platform *p, struct store_image *img)
{
	const struct bf_cache_import *im = b->o->cache_from;
	const char *at = strchr(name, '@');
	char want[CN_PLATFORM_STR], manifest[CN_DIGEST_STR_SIZE];
	struct cn_platform got;
	cn_err ignored;
	int r;
	memset(img, 0, sizeof(*img));
	if (!im || !b->o->resolve || b->o->pull_policy != BF_PULL_MISSING)
		return 0;
	r = load_from_index(b, at ? at + 1 : name, p, img, &ignored);
	if (r == 0)
		r = store_image_load(b->st, at ? at + 1 : name, img, &ignored);
	if (r != 0) {
		if (r == 1)
			store_image_free(img);
		return 0;               /* in the store (or unreadable): as always */
	}
	cn_platform_format(p, want);
	if (b->o->resolve(b->o->pull_ctx, b->st, name, want, manifest, &ignored) < 0 ||
	    store_image_load_manifest(b->st, manifest, img, &ignored) != 1)
		return 0;               /* the usual pull says what is wrong */
	r = image_is(img, p, &got);
	for (size_t i = 0; r && i < img->nlayers; i++) {
		const struct store_layer *l = &img->layers[i];
		/* One the store has under both names: checked to be that pair,
		 * as a pull checks it (its manifest came from outside). */
		if (store_blob_exists(b->st, l->digest) && store_snapshot_exists(b->st, l->diff_id)) {
			r = xfer_snapshot_layer(b->st, l, &ignored) == 0;
			if (r)
				bd_trust_layers(b, l, 1);
			continue;
		}
		r = im->has_layer(im->ctx, l->digest) && strcmp(l->media_type, layer_media_type(b->o->compression)) == 0;
	}
	if (!r)
		store_image_free(img);
	return r;
}

int bd_plat_load_image(struct build *b, const char *name, const struct cn_platform *p,
		       struct store_image *img, cn_err *err)
{
	const char *at = strchr(name, '@');
	const char *key = at ? at + 1 : name;
	char want[CN_PLATFORM_STR], have[CN_PLATFORM_STR];
	struct cn_platform got;
	struct cn_ref ref;
	bool host;
	int r;
	cn_platform_format(p, want);
	/* --pull=always|never: that policy, with the build's own platform. */
	if (b->o->pull_policy != BF_PULL_MISSING) {
		r = load_or_pull(b, name, img, err);
		if (r == 1 && !image_is(img, p, &got)) {
			cn_platform_format(&got, have);
			store_image_free(img);
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' is %s, not %s (the platform this "
					   "stage builds for)", name, have, want);
		}
		return r;
	}
	r = load_from_index(b, key, p, img, err);
	if (r == 0)
		r = store_image_load(b->st, key, img, err);
	if (r < 0)
		return -1;
	if (r == 1 && image_is(img, p, &got))
		return 1;
	if (r == 0 && !b->o->pull_platform)
		return load_or_pull(b, name, img, err);
	if (r == 1) {
		cn_platform_format(&got, have);
		store_image_free(img);
		/* An image by digest is that one image: another platform's is another digest. */
		if (!b->o->pull_platform || at || cn_digest_valid(name))
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' is %s, not %s (the platform this "
					   "stage builds for)", name, have, want);
	}
	/* A name that is no reference at all says so alone. */
	if (cn_ref_parse(name, &ref, err) < 0)
		return -1;
	cn_ref_free(&ref);
	cn_platform_host_get(&got);
	host = cn_platform_equal(&got, p);
	if (b->o->pull_platform(b->o->pull_ctx, b->st, name, want, err) < 0) {
		if (r == 1)
			return cn_err_wrap(err, "image '%s' in the store is %s, not %s, and pulling it for %s failed",
					   name, have, want, want);
		return cn_err_wrap(err, "image '%s' is not in the store, and pulling it failed%s%s%s", name,
				   host ? "" : " (for ", host ? "" : want, host ? "" : ")");
	}
	r = store_image_load(b->st, key, img, err);
	if (r == 1 && !image_is(img, p, &got)) {
		cn_platform_format(&got, have);
		store_image_free(img);
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "image '%s' was pulled for %s but is %s", name, want, have);
	}
	return r;
}
