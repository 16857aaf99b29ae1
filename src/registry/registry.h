/* The OCI distribution client (libcurl, OpenSSL): push images from the
 * store to a registry and pull them into it.
 *
 * Everything received is verified against the digest it was asked for (the
 * Docker-Content-Digest header is never trusted); a pulled image is tagged
 * only after every blob verified and every layer unpacked (transfer/). */
#ifndef REG_REGISTRY_H
#define REG_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "registry/auth.h"
#include "store/store.h"
#include "transfer/convert.h"
#include "util/digest.h"
#include "util/err.h"

enum reg_phase {
	REG_BLOB_START,     /* a transfer begins (total known) */
	REG_BLOB_BYTES,     /* bytes moved so far */
	REG_BLOB_DONE,      /* transferred and verified */
	REG_BLOB_EXISTS,    /* skipped: the other side has it */
	REG_BLOB_MOUNTED,   /* push: mounted from another repository */
	REG_MANIFEST,       /* the manifest was written or read */
};

struct reg_progress {
	enum reg_phase phase;
	const char *digest;
	uint64_t done, total;
};

struct reg_opts {
	const struct reg_creds *creds;  /* --creds; NULL: the auth files */
	bool tls_verify;                /* false only with --tls-verify=false */
	const char *cert_dir;           /* --cert-dir: every *.crt in it is a CA */
	const char *platform;           /* "os/arch[/variant]" to pick from an index; NULL: the host's */
	unsigned jobs;                  /* blobs transferred at once; 0: 3 */
	/* push: every layer converted to COMPRESSION first (transfer/convert.h:
	 * remembered, so a second push converts nothing); false: as stored. */
	bool convert;
	enum layer_compression compression;
	int compression_level;          /* of the conversion; 0: the default */
	/* Called from transfer threads, one call at a time (serialised). */
	void (*progress)(void *ctx, const struct reg_progress *p);
	void *progress_ctx;
};

struct reg_result {
	char manifest_digest[CN_DIGEST_STR_SIZE];
	char *local;                    /* pull: the tag set in the store (heap; NULL for a digest) */
	unsigned blobs_sent, blobs_skipped, blobs_mounted;
	uint64_t bytes;
	struct xfer_convert_stats converted;    /* push with convert */
};
void reg_result_free(struct reg_result *r);

/* Push the image LOCAL (a tag or digest in the store) to REMOTE (a full
 * reference; NULL: LOCAL names the registry itself). */
int reg_push(struct store *st, const char *local, const char *remote, const struct reg_opts *o,
	     struct reg_result *res, cn_err *err);

/* Push the multi-platform image DIGEST (an image index in the store) to
 * REMOTE (a full reference with a tag): every platform's image, then the
 * index under the tag. */
int reg_push_index(struct store *st, const char *digest, const char *remote, const struct reg_opts *o,
		   struct reg_result *res, cn_err *err);

/* Pull REMOTE into the store and tag it under its name as given. */
int reg_pull(struct store *st, const char *remote, const struct reg_opts *o, struct reg_result *res,
	     cn_err *err);
/* Only REMOTE's manifest (o->platform's) and config into the store,
 * verified, untagged: DIGEST names the manifest. */
int reg_pull_manifest(struct store *st, const char *remote, const struct reg_opts *o,
		      char digest[CN_DIGEST_STR_SIZE], cn_err *err);

/* Check credentials against REGISTRY ("host[:port]") as login does. */
int reg_login_check(const char *registry, const struct reg_opts *o, cn_err *err);

/* Process-wide set-up of libcurl; call once from the main thread. */
int reg_global_init(cn_err *err);

#endif
