/* A directory in OCI image layout as a build-cache store (type=local):
 * blobs/sha256/<hex>, index.json naming the cache manifest by tag
 * (org.opencontainers.image.ref.name), oci-layout. The same operations as
 * registry/regcache.h. Writers take an flock on DIR/.cairn-cache.lock,
 * write blobs under temp names and rename them; index.json is replaced
 * atomically, so a reader never sees a half-written cache. */
#ifndef RC_LOCAL_H
#define RC_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/image.h"
#include "util/buf.h"

struct rc_local;

/* DIR (created when WRITE), the cache manifest under TAG; DIGEST (or
 * NULL) pins the manifest for reading. */
int rc_local_open(const char *dir, const char *tag, const char *digest, bool write, struct rc_local **out,
		  cn_err *err);
void rc_local_close(struct rc_local *l);
int rc_local_get_manifest(struct rc_local *l, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err);
int rc_local_get_blob(struct rc_local *l, const char *digest, size_t max, cn_buf *out, cn_err *err);
int rc_local_fetch_layer(struct rc_local *l, struct store *st, const struct store_layer *layer, cn_err *err);
int rc_local_has_blob(struct rc_local *l, const char *digest, cn_err *err);
int rc_local_push_layers(struct rc_local *l, struct store *st, const struct store_layer *layers, size_t n,
			 cn_err *err);
int rc_local_put_blob(struct rc_local *l, const void *data, size_t len, const char *digest, cn_err *err);
/* Also the index.json entry for the tag (the lock held across the read
 * of the old manifest and this write: rc_local_lock). */
int rc_local_put_manifest(struct rc_local *l, const void *data, size_t len, cn_err *err);
/* Hold DIR's writer lock (exclusive flock, waits) until rc_local_unlock or close. */
int rc_local_lock(struct rc_local *l, cn_err *err);
void rc_local_unlock(struct rc_local *l);
uint64_t rc_local_bytes_in(const struct rc_local *l);
uint64_t rc_local_bytes_out(const struct rc_local *l);

#endif
