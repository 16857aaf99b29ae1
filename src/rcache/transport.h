/* A place a build cache lives, registry repository or OCI layout
 * directory, behind one set of operations (registry/regcache.h and
 * rcache/local.h implement them). */
#ifndef RC_TRANSPORT_H
#define RC_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "rcache/spec.h"
#include "registry/registry.h"
#include "store/image.h"
#include "util/buf.h"

struct rc_transport {
	const struct rc_spec *spec;
	struct reg_cache *reg;          /* type=registry (and inline) */
	struct rc_local *local;         /* type=local */
};

/* Open SPEC's cache for reading, or for writing (WRITE). */
int rc_transport_open(struct rc_transport *t, const struct rc_spec *spec, const struct reg_opts *ro, bool write,
		      cn_err *err);
void rc_transport_close(struct rc_transport *t);
int rc_transport_get_manifest(struct rc_transport *t, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err);
int rc_transport_get_blob(struct rc_transport *t, const char *digest, size_t max, cn_buf *out, cn_err *err);
/* L's blob into the store; *UNPACKED: its snapshot was made (and its
 * diff_id verified) on the way (a registry's, as pull does), else the
 * caller unpacks it. */
int rc_transport_fetch_layer(struct rc_transport *t, struct store *st, const struct store_layer *l, bool *unpacked,
			     cn_err *err);
int rc_transport_has_blob(struct rc_transport *t, const char *digest, cn_err *err);
int rc_transport_push_layers(struct rc_transport *t, struct store *st, const struct store_layer *l, size_t n,
			     cn_err *err);
int rc_transport_put_blob(struct rc_transport *t, const void *data, size_t len, const char *digest, cn_err *err);
int rc_transport_put_manifest(struct rc_transport *t, const void *data, size_t len, cn_err *err);
/* Writers of a local cache take turns (a registry has no lock: rcache.c
 * checks its write instead). */
int rc_transport_lock(struct rc_transport *t, cn_err *err);
uint64_t rc_transport_bytes_in(const struct rc_transport *t);
uint64_t rc_transport_bytes_out(const struct rc_transport *t);

#endif
