/* --cache-to / --cache-from values, as docker buildx takes them:
 * "type=registry,ref=REF,mode=max", "type=local,dest=DIR", "REF" alone
 * (type=registry), "type=inline". Parsed once, checked here, so a typo is
 * a usage error naming the flag and the attribute. */
#ifndef RC_SPEC_H
#define RC_SPEC_H

#include <stdbool.h>

#include "layers/layer.h"
#include "util/err.h"

enum rc_type { RC_REGISTRY, RC_LOCAL, RC_INLINE };
enum rc_mode { RC_MODE_MIN, RC_MODE_MAX };

struct rc_spec {
	enum rc_type type;
	char *ref;              /* registry: ref= (or the bare value); a tag or digest reference */
	char *dir;              /* local: dest= (--cache-to) or src= (--cache-from) */
	char *tag;              /* local: tag= (default "latest") */
	char *digest;           /* local --cache-from: digest= (pins the cache manifest) */
	enum rc_mode mode;      /* --cache-to mode= (default min) */
	bool has_compression;
	enum layer_compression compression;     /* --cache-to compression= (gzip|zstd) */
	bool ignore_error;      /* --cache-to ignore-error=true */
	char *text;             /* the value as given, for messages */
	char *name;             /* how progress names it: "reg:5000/team/app:buildcache", "local:DIR" */
};

/* Parse VALUE of --cache-to (TO) or --cache-from. Unknown attributes that
 * buildx knows and cairn does not use (oci-mediatypes, image-manifest,
 * compression-level, force-compression) are accepted; others refused. */
int rc_spec_parse(const char *value, bool to, struct rc_spec *out, cn_err *err);
void rc_spec_free(struct rc_spec *s);

#endif
