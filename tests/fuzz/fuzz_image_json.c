/* Manifest, config and index validation as the store (store/image.c) and
 * a pull (registry/pull.c) do it. Input: the manifest JSON, a NUL, the
 * config JSON, a NUL, an image index JSON (a missing part is empty). */
#include "fuzz.h"

#include "registry/internal.h"
#include "store/image_internal.h"

static json_t *load(const char *text)
{
	return json_loads(text, JSON_REJECT_DUPLICATES, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *mtext = fuzz_part(&data, &size), *ctext = fuzz_part(&data, &size);
	char *itext = fuzz_part(&data, &size);
	char child[CN_DIGEST_STR_SIZE];
	struct store_image img = { 0 };
	struct blob_job *jobs = NULL;
	size_t njobs = 0;
	json_t *index = load(itext);
	cn_err err;
	int r;

	img.manifest = load(mtext);
	img.config = load(ctext);
	snprintf(img.manifest_digest, sizeof(img.manifest_digest), "sha256:%064d", 0);
	if (json_is_object(img.manifest) && json_is_object(img.config)) {
		fuzz_debug("reg_plan_layers", reg_plan_layers(img.manifest, img.config, "fuzz", &jobs, &njobs, &err),
			   &err);
		r = store_image_parse_manifest(&img, strlen(ctext), &err);
		fuzz_debug("store_image_parse_manifest", r, &err);
		if (r == 0) {
			(void)store_image_parent(&img);
			(void)store_image_rows(&img);
		}
		free(jobs);
	}
	store_image_free(&img);   /* frees manifest and config */
	fuzz_debug("reg_pick_platform", reg_pick_platform(NULL, index, "fuzz", child, &err), &err);
	(void)reg_pick_platform("linux/arm/v7", index, "fuzz", child, &err);
	(void)reg_pick_platform(ctext, index, "fuzz", child, &err);
	json_decref(index);
	free(mtext);
	free(ctext);
	free(itext);
	return 0;
}
