/* The two kinds of cache store behind one interface. */
#include "rcache/transport.h"

#include "rcache/local.h"
#include "registry/regcache.h"

#include <string.h>

int rc_transport_open(struct rc_transport *t, const struct rc_spec *spec, const struct reg_opts *ro, bool write,
		      cn_err *err)
{
	memset(t, 0, sizeof(*t));
	t->spec = spec;
	if (spec->type == RC_LOCAL)
		return rc_local_open(spec->dir, spec->tag ? spec->tag : "latest", spec->digest, write, &t->local, err);
	return reg_cache_open(spec->ref, ro, write, &t->reg, err);
}

void rc_transport_close(struct rc_transport *t)
{
	if (t->local)
		rc_local_close(t->local);
	if (t->reg)
		reg_cache_close(t->reg);
	t->local = NULL;
	t->reg = NULL;
}

int rc_transport_get_manifest(struct rc_transport *t, cn_buf *body, char digest[CN_DIGEST_STR_SIZE], cn_err *err)
{
	return t->local ? rc_local_get_manifest(t->local, body, digest, err)
			: reg_cache_get_manifest(t->reg, body, digest, err);
}

int rc_transport_get_blob(struct rc_transport *t, const char *digest, size_t max, cn_buf *out, cn_err *err)
{
	return t->local ? rc_local_get_blob(t->local, digest, max, out, err)
			: reg_cache_get_blob(t->reg, digest, max, out, err);
}

int rc_transport_fetch_layer(struct rc_transport *t, struct store *st, const struct store_layer *l, bool *unpacked,
			     cn_err *err)
{
	*unpacked = false;
	return t->local ? rc_local_fetch_layer(t->local, st, l, err) : reg_cache_fetch_layer(t->reg, st, l, unpacked, err);
}

int rc_transport_has_blob(struct rc_transport *t, const char *digest, cn_err *err)
{
	return t->local ? rc_local_has_blob(t->local, digest, err) : reg_cache_has_blob(t->reg, digest, err);
}

int rc_transport_push_layers(struct rc_transport *t, struct store *st, const struct store_layer *l, size_t n,
			     cn_err *err)
{
	return t->local ? rc_local_push_layers(t->local, st, l, n, err) : reg_cache_push_layers(t->reg, st, l, n, err);
}

int rc_transport_put_blob(struct rc_transport *t, const void *data, size_t len, const char *digest, cn_err *err)
{
	return t->local ? rc_local_put_blob(t->local, data, len, digest, err)
			: reg_cache_put_blob(t->reg, data, len, digest, err);
}

int rc_transport_put_manifest(struct rc_transport *t, const void *data, size_t len, cn_err *err)
{
	return t->local ? rc_local_put_manifest(t->local, data, len, err)
			: reg_cache_put_manifest(t->reg, data, len, err);
}

int rc_transport_lock(struct rc_transport *t, cn_err *err)
{
	return t->local ? rc_local_lock(t->local, err) : 0;
}

uint64_t rc_transport_bytes_in(const struct rc_transport *t)
{
	return t->local ? rc_local_bytes_in(t->local) : t->reg ? reg_cache_bytes_in(t->reg) : 0;
}

uint64_t rc_transport_bytes_out(const struct rc_transport *t)
{
	return t->local ? rc_local_bytes_out(t->local) : t->reg ? reg_cache_bytes_out(t->reg) : 0;
}
