/* build --format docker: the built image as a docker v2 schema2 manifest.
 * The config document is the same bytes (docker's fields Healthcheck,
 * OnBuild, Shell, StopSignal are kept in both formats, as BuildKit does:
 * buildah drops them from OCI images, cairn never did); only the manifest's,
 * the config's and the layers' media types change. */
#include "builder/imgformat.h"
#include "builder/build_internal.h"

#include <errno.h>
#include <string.h>

int bf_format_parse(const char *s, const char *what, enum bf_format *out, cn_err *err)
{
	if (!strcmp(s, "oci"))
		*out = BF_FORMAT_OCI;
	else if (!strcmp(s, "docker"))
		*out = BF_FORMAT_DOCKER;
	else
		return cn_err_fail(err, CN_ERR_INVALID, "%s: \"%s\" is not oci or docker", what, s);
	return 0;
}

/* An OCI layer media type as docker's (the store reads both). */
static const char *docker_layer_type(const char *mt, bool *zstd)
{
	static const struct { const char *oci, *docker; } map[] = {
		{ "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip" },
		{ "application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar" },
		{ "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.zstd" },
	};
	for (size_t i = 0; i < CN_ARRAY_SIZE(map); i++) {
		if (!strcmp(mt, map[i].oci)) {
			*zstd |= strstr(mt, "zstd") != NULL;
			return map[i].docker;
		}
	}
	return mt;
}

int bf_format_docker(struct build *b, struct bf_build_result *res, cn_err *err)
{
	struct store_image img;
	_cleanup_free_ char *text = NULL;
	json_t *m, *layers, *l;
	bool zstd = false;
	size_t i;
	int r = store_image_load_manifest(b->st, res->manifest_digest, &img, err);
	if (r == 0)
		cn_err_fail(err, CN_ERR_NOT_FOUND, "the built image %s is not in the store", res->manifest_digest);
	if (r <= 0)
		return -1;
	m = json_deep_copy(img.manifest);
	json_object_set_new(m, "mediaType", json_string(MT_DOCKER_MANIFEST));
	json_object_set_new(json_object_get(m, "config"), "mediaType", json_string(MT_DOCKER_CONFIG));
	layers = json_object_get(m, "layers");
	json_array_foreach(layers, i, l) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		if (mt)
			json_object_set_new(l, "mediaType", json_string(docker_layer_type(mt, &zstd)));
	}
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	store_image_free(&img);
	if (!text)
		return cn_err_errno(err, ENOMEM, "encode the docker manifest");
	if (store_json_fits("the manifest", strlen(text), STORE_MAX_JSON, err) < 0 ||
	    store_blob_put(b->st, text, strlen(text), res->manifest_digest, err) < 0)
		return -1;
	res->manifest_size = strlen(text);
	if (zstd)
		bd_emit(b, BF_EV_WARNING, "--format docker: the image has zstd layers, which docker before 23 "
			"and skopeo's docker-archive cannot read (build it and its base with --compression gzip)",
			NULL, 0);
	return 0;
}
