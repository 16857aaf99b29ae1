/* store/image.c's manifest check, exposed for tests/fuzz. */
#ifndef STORE_IMAGE_INTERNAL_H
#define STORE_IMAGE_INTERNAL_H

#include "store/image.h"

/* Check IMG->manifest against IMG->config (both set by the caller; the
 * config's text is CFG_LEN bytes) and fill IMG->layers; store_image_free()
 * releases all of it. */
int store_image_parse_manifest(struct store_image *img, size_t cfg_len, cn_err *err);

#endif
