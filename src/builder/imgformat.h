/* build --format: the image's manifest in OCI (cairn's own) or docker v2
 * schema2 media types. Steps and the cache always record OCI states; a
 * docker-format image is its final state's manifest with docker's media
 * types, over the same config and layer blobs. */
#ifndef BF_IMGFORMAT_H
#define BF_IMGFORMAT_H

#include "builder/build.h"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* "oci" or "docker" (WHAT names the setting in the message: "--format",
 * "BUILDAH_FORMAT"): 0, or -1 with a CN_ERR_INVALID naming the value. */
int bf_format_parse(const char *s, const char *what, enum bf_format *out, cn_err *err);

struct build;
/* RES (the built image) rewritten as a docker v2 schema2 manifest: same
 * config, layers and parent annotation. A zstd layer (docker has no such
 * type before 23) gets containerd's docker zstd type and a warning. */
int bf_format_docker(struct build *b, struct bf_build_result *res, cn_err *err);

#endif
