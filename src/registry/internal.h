/* The registry client's HTTP layer, shared by push.c and pull.c. */
#ifndef REG_INTERNAL_H
#define REG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "registry/ref.h"
#include "registry/registry.h"
#include "store/image.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/strv.h"

#define REG_MAX_MANIFEST (4u << 20)     /* manifests, indexes, configs, tokens */

/* One registry repository and the credentials for it; shared by the
 * transfer threads (each has its own reg_conn). */
struct reg_client {
	char *base;                 /* "https://host:port" */
	char *host;                 /* "host:port" as in URLs */
	bool tls_verify;
	char *cert_dir;
	cn_strv cas;                /* extra CA files for host (certs.d, --cert-dir), read once */
	struct reg_creds creds;     /* user NULL: anonymous */
	cn_strv scopes;             /* token scopes: "repository:NAME:pull,push" */
	pthread_mutex_t mu;         /* guards the fields below */
	char *auth_header;          /* "Authorization: ..." or NULL */
	unsigned auth_gen;          /* bumped on every change of auth_header */
	const struct reg_opts *opts;
	pthread_mutex_t progress_mu;
};

struct reg_conn {
	struct reg_client *c;
	void *curl;                 /* CURL * */
};

/* Receives a response body (2xx only); returns 0 or -1 with its own error. */
typedef int (*reg_sink_fn)(void *ctx, const void *data, size_t len);

struct reg_req {
	const char *method;         /* GET HEAD PUT PATCH POST DELETE */
	const char *url;            /* "/v2/..." (under base) or absolute */
	const char *const *headers; /* NULL-terminated, may be NULL */
	const void *body;           /* request body in memory ... */
	size_t body_len;
	int body_fd;                /* ... or from an fd at body_off (when > 0 with body_fd_len) */
	uint64_t body_off, body_fd_len;
	bool has_fd_body;
	cn_buf *out;                /* 2xx body into here (bounded), or */
	reg_sink_fn sink;           /* streamed to SINK, */
	int (*sink_reset)(void *ctx);   /* which starts over on a retry */
	void *sink_ctx;
	bool follow;                /* follow redirects (blob storage) */
	bool retry;                 /* safe to send again (GET, HEAD, manifest PUT) */
};

struct reg_resp {
	long status;
	char *location;             /* absolute URL */
	char *content_type;
	char *www_authenticate;
	char *range;
	long retry_after;
	cn_buf err_body;            /* body of a non-2xx response (bounded) */
	cn_err sink_err;
	bool sink_failed;
};

void reg_resp_free(struct reg_resp *r);

/* Connect to REF's registry (ping /v2/, https unless allowed otherwise,
 * authenticate for SCOPES). */
int reg_client_open(struct reg_client *c, const struct cn_ref *ref, const struct reg_opts *o,
		    const char *const *scopes, cn_err *err);
void reg_client_close(struct reg_client *c);
int reg_conn_open(struct reg_conn *k, struct reg_client *c, cn_err *err);
void reg_conn_close(struct reg_conn *k);

/* One request, with authentication, redirects (never https -> http; no
 * credentials to another host) and retries (5xx, 429, resets) handled.
 * 0 with resp->status set (the caller judges it), -1 on transport errors. */
int reg_do(struct reg_conn *k, const struct reg_req *rq, struct reg_resp *resp, cn_err *err);

/* "METHOD URL: 404 NAME_UNKNOWN: repository name not known" */
int reg_status_error(const struct reg_req *rq, const struct reg_resp *resp, cn_err *err);

/* Run FN(conn, I, CTX) for every I below N on up to JOBS threads (0: 3),
 * each with a connection of its own; the first error stops the others
 * from starting new tasks and is returned. */
typedef int (*reg_task_fn)(struct reg_conn *k, size_t i, void *ctx, cn_err *err);
int reg_pool_run(struct reg_client *c, size_t n, unsigned jobs, reg_task_fn fn, void *ctx, cn_err *err);

void reg_report(struct reg_client *c, enum reg_phase phase, const char *digest, uint64_t done,
		uint64_t total);

/* The parsers of what a registry sends, exposed for tests/fuzz. */

/* A WWW-Authenticate challenge: `Bearer realm="...",service="...",scope="..."`
 * (client.c). reg_challenge_parse returns -1 on a header with no scheme. */
struct reg_challenge {
	char scheme[16];
	char *realm, *service, *scope;
};
int reg_challenge_parse(const char *s, struct reg_challenge *ch);
void reg_challenge_free(struct reg_challenge *ch);

/* pull.c: the index entry for PLATFORM ("os/arch[/variant]", NULL: this
 * host), and the layers a manifest and its config name (*JOBS: free()). */
struct blob_job {
	char digest[CN_DIGEST_STR_SIZE];
	char diff_id[CN_DIGEST_STR_SIZE];
	char media_type[sizeof(((struct store_layer *)0)->media_type)];   /* checked to fit */
	uint64_t size;
};
int reg_pick_platform(const char *platform, json_t *index, const char *name, char out[CN_DIGEST_STR_SIZE],
		      cn_err *err);
int reg_plan_layers(json_t *manifest, json_t *config, const char *what, struct blob_job **jobs,
		    size_t *njobs, cn_err *err);

/* ---- transfers shared by push.c, pull.c and cache.c ---- */

/* pull.c: GET /v2/NAME/manifests/REFERENCE into BODY; its digest must be
 * WANT when WANT is given. DIGEST gets the computed digest, *MEDIA_TYPE
 * (heap) the manifest's type. A 404 fails with CN_ERR_NOT_FOUND. */
int reg_get_manifest(struct reg_conn *k, const char *name, const char *reference, const char *want,
		     cn_buf *body, char **media_type, char digest[CN_DIGEST_STR_SIZE], cn_err *err);
/* pull.c: JOB's blob streamed into the store, digest and size verified.
 * UNPACKED not NULL: also unpacked while it downloads (transfer/import.h's
 * xfer_stream: the snapshot is published, after the blob verified, before
 * the blob is); *UNPACKED false when that could not be (a blob whose
 * content is not its media type's): the caller's xfer_snapshot_layer says why. */
int reg_fetch_blob(struct reg_conn *k, struct store *st, const char *name, const struct blob_job *job,
		   bool *unpacked, cn_err *err);
/* pull.c: a small blob into OUT (bounded by OUT's max), verified. */
int reg_fetch_small_blob(struct reg_conn *k, const char *name, const char *digest, cn_buf *out,
			 cn_err *err);

/* push.c: one blob to push, and the state of a parallel blob push. */
struct push_blob {
	char digest[CN_DIGEST_STR_SIZE];
	uint64_t size;
	char mount_from[256];       /* a repository on the same registry that has it, or "" */
};

struct push_ctx {
	struct store *st;
	const char *name;
	struct push_blob *blobs;
	unsigned sent, skipped, mounted;        /* atomic */
	uint64_t bytes;                         /* atomic */
};

/* URL with "KEY=VALUE" (escaped) appended to its query (heap). */
char *reg_with_query(const char *url, const char *key, const char *value);
/* 1 when the registry has the blob in NAME, 0 when not, -1 on error. */
int reg_blob_exists(struct reg_conn *k, const char *name, const char *digest, cn_err *err);
/* POST an upload (trying a mount first when B->mount_from is set): 1 when
 * mounted, 0 with *LOCATION (heap) for the upload, -1 on error. */
int reg_start_upload(struct reg_conn *k, const char *name, const struct push_blob *b, char **location,
		     cn_err *err);
/* A reg_task_fn over a struct push_ctx: blob I skipped (HEAD), mounted, or
 * sent from the store. */
int reg_push_blob(struct reg_conn *k, size_t i, void *arg, cn_err *err);
/* Repositories on the same registry as TARGET that the store has tags for
 * and whose image holds a blob of BLOBS: its mount_from is set, and the
 * repository added to REPOS (for the token's scopes). */
void reg_mount_sources(struct store *st, const struct cn_ref *target, struct push_blob *blobs, size_t n,
		       cn_strv *repos);

#endif
