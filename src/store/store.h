/* The content-addressed store. Its root IS an OCI image layout
 * (oci-layout, index.json, blobs/sha256/) so skopeo and umoci read it with
 * no export step; next to it cairn keeps snapshots/<diffid-hex>/ (unpacked
 * layers in overlay form, used directly as lower dirs) and tmp/.
 *
 * Crash safety: every file is written in tmp/, fsynced, renamed into place,
 * and its directory fsynced; a blob appears under its digest only once its
 * bytes hash to it; index.json changes only under an exclusive flock. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/digest.h"
#include "util/err.h"
#include "util/strv.h"

#define STORE_MAX_JSON (8u << 20)       /* manifests, configs, index.json */

/* Nothing cairn writes may be larger than what it reads back: a document
 * over its reader's cap would be stored, tagged and then unusable (inspect,
 * run, FROM and prune would all fail on it). Every writer of a capped file
 * calls this first: 0 when LEN fits in MAX, else -1 with a TOO_BIG error
 * naming WHAT and both sizes. */
int store_json_fits(const char *what, size_t len, size_t max, cn_err *err);

struct store {
	char *root;         /* absolute path */
	int root_fd;
	int blobs_fd;       /* blobs/sha256 */
	int snap_fd;        /* snapshots */
	int tmp_fd;         /* tmp */
	int cache_fd;       /* cache: build cache entries and the stat cache */
	int tags_fd;        /* tags: one log per tag */
	int lock_fd;        /* the "lock" file, flock()ed */
	int gc_fd;          /* "gc.lock": builds hold it shared, prune exclusive */
	int names_unsynced; /* a blob or snapshot was published since
			     * store_names_sync (atomic: ingest threads set it) */
};

/* Open (creating if needed) the store at ROOT. Stale temp dirs left by a
 * killed process are swept on open. */
int store_open(const char *root, struct store *st, cn_err *err);
void store_close(struct store *st);

/* Exclusive lock of the store (index.json writers); blocks. */
int store_lock(struct store *st, cn_err *err);
void store_unlock(struct store *st);

/* Builds hold the gc lock shared for their whole run, so that prune, which
 * takes it exclusively, never removes what a running build uses. */
int store_gc_lock(struct store *st, bool exclusive, cn_err *err);
void store_gc_unlock(struct store *st);
/* Turn this process's gc lock exclusive if no other command holds it,
 * without waiting: true when it did. Only for removing blobs outside
 * prune, at the end of a command: if it fails, the shared lock may be
 * lost too (flock converts by unlocking first). */
bool store_gc_try_exclusive(struct store *st);

/* Remove the ".NAME.tmp..." files a killed writer left in DIR_FD; only
 * when no writer of that directory can be running. */
void store_remove_dot_temps(int dir_fd);

/* ---- temp dirs: tmp/<prefix>-XXXXXX, locked while in use ---- */
struct store_tmpdir {
	char *name;         /* relative to tmp/ */
	char *path;         /* absolute */
	int fd;             /* directory fd holding the flock */
};
int store_tmpdir_create(struct store *st, const char *prefix, struct store_tmpdir *td,
			cn_err *err);
/* The same, for a caller that holds the store lock already. */
int store_tmpdir_create_locked(struct store *st, const char *prefix, struct store_tmpdir *td,
			       cn_err *err);
/* Remove the directory and release the lock (safe to call twice). */
void store_tmpdir_remove(struct store *st, struct store_tmpdir *td);

/* ---- blobs ---- */
struct store_ingest {
	struct store *st;
	char *name;         /* tmp/ file name */
	int fd;
};
/* A fresh private file under tmp/ to stream a blob into. */
int store_ingest_begin(struct store *st, struct store_ingest *in, cn_err *err);
/* fsync, then publish under DIGEST (which the writer computed while
 * writing). An existing blob with that digest is success. The name itself
 * becomes durable at the next store_names_sync (before a tag or a cache
 * entry is written, and when the store is closed): a crash before that may
 * lose the name, never leave a name without its bytes. */
int store_ingest_commit(struct store_ingest *in, const char *digest, cn_err *err);
/* fsync snapshots/ and blobs/sha256, so every snapshot and blob name
 * published so far (by any process) survives a crash. Called before
 * anything durable points at them (index.json, a cache entry). */
int store_names_sync(struct store *st, cn_err *err);
/* The same, when this process published any since the last sync (a tag
 * log line after index.json, store_close, a stage worker's exit). */
int store_names_sync_own(struct store *st, cn_err *err);
void store_ingest_abort(struct store_ingest *in);

/* Write a small blob (JSON documents, at most STORE_MAX_JSON bytes: what
 * store_blob_get's readers take back) and return its digest. */
int store_blob_put(struct store *st, const void *data, size_t len,
		   char digest[CN_DIGEST_STR_SIZE], cn_err *err);
/* Read a blob of at most MAX bytes, verifying its digest on the way. */
int store_blob_get(struct store *st, const char *digest, size_t max, cn_buf *out, cn_err *err);
bool store_blob_exists(struct store *st, const char *digest);
/* A read-only fd on the blob (its content is NOT verified by opening). */
int store_blob_open(struct store *st, const char *digest, cn_err *err);
/* Size of a blob in bytes, 0 when missing. */
uint64_t store_blob_size(struct store *st, const char *digest);

/* ---- snapshots ---- */
bool store_snapshot_exists(struct store *st, const char *diff_id);
/* Absolute path of snapshots/<hex> (heap string). */
char *store_snapshot_path(struct store *st, const char *diff_id);
/* Remove snapshots/<hex> atomically (caller holds the store lock); *bytes
 * gets the disk space it used. */
int store_snapshot_remove(struct store *st, const char *diff_id, uint64_t *bytes, cn_err *err);
/* Move directory DIRFD_PARENT/NAME to snapshots/<hex>. When the snapshot
 * already exists (same content), the source is left for the caller to drop. */
int store_snapshot_commit(struct store *st, int dirfd_parent, const char *name,
			  const char *diff_id, cn_err *err);

/* ---- build cache: cache/<key-hex> holds the manifest digest of the
 * image state a step produced. Entries are only hints: each is checked on
 * use, and a missing or broken one is a miss. ---- */
/* 1 and MANIFEST filled on a usable entry, 0 otherwise. */
int store_cache_get(struct store *st, const char *key, char manifest[CN_DIGEST_STR_SIZE]);
int store_cache_put(struct store *st, const char *key, const char *manifest, cn_err *err);

/* ---- build step locks: tmp/steplock-<key-hex> (steplock.c) ---- */
/* Lock the step of cache KEY, so that concurrent builds run it once (the
 * others wait, then find its result in the cache). With WAIT, blocks
 * (Ctrl-C ends the wait with an INTERRUPTED error); without, 0 when
 * another process holds it. 1 and *FD (for store_step_unlock) when held. */
int store_step_lock(struct store *st, const char *key, bool wait, int *fd, cn_err *err);
/* Release it, after the step's result is in the cache (or it failed). */
void store_step_unlock(struct store *st, const char *key, int fd);

/* ---- tags (index.json) and their logs (tags/<ref>.log) ---- */
struct store_tag_event {
	long long time;                     /* unix seconds */
	char digest[CN_DIGEST_STR_SIZE];    /* "" when the tag was removed */
	char cause[16];                     /* build, tag, pull, load, rollback, rmi, fsck */
};
/* Every value REF took, oldest first; malformed lines are skipped and
 * counted in *skipped (may be NULL). */
int store_taglog_read(struct store *st, const char *ref, struct store_tag_event **out, size_t *n,
		      size_t *skipped, cn_err *err);
/* Replace REF's log with EVENTS (prune's trimming). Under the store lock. */
int store_taglog_rewrite(struct store *st, const char *ref, const struct store_tag_event *events,
			 size_t n, cn_err *err);
/* The refs that have a log (heap strings appended to OUT). */
int store_taglog_refs(struct store *st, cn_strv *out, cn_err *err);

/* "name" -> "name:latest"; validated; heap string, NULL + err when invalid. */
char *store_ref_normalize(const char *ref, cn_err *err);
/* Point tag REF at the manifest. CAUSE is why (build, tag, pull...). */
int store_tag_set(struct store *st, const char *ref, const char *manifest_digest,
		  uint64_t manifest_size, const char *cause, cn_err *err);
/* Manifest digest of REF; returns 1 when found, 0 when not, -1 on error. */
int store_tag_get(struct store *st, const char *ref, char digest[CN_DIGEST_STR_SIZE],
		  cn_err *err);
/* Returns 1 when removed, 0 when it did not exist. CAUSE as above. */
int store_tag_remove(struct store *st, const char *ref, const char *cause, cn_err *err);
/* index.json as loaded (caller json_decref). */
int store_index_load(struct store *st, json_t **out, cn_err *err);

#endif
