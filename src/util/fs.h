/* File-system helpers: crash-safe writes, bounded reads, fd-based removal. */
#ifndef CN_FS_H
#define CN_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/err.h"

/* openat2(2) with O_CLOEXEC, RESOLVE_NO_MAGICLINKS and RESOLVE (e.g.
 * RESOLVE_IN_ROOT to stay inside an image root, RESOLVE_BENEATH to refuse
 * escaping a build context); retried on EAGAIN (a rename raced the lookup). */
int cn_openat2(int dirfd, const char *path, int flags, unsigned long long resolve);
/* write(2) until done, retrying EINTR. */
int cn_write_all(int fd, const void *data, size_t len);
/* fsync a directory given by dirfd + relative path ("." for dirfd itself). */
int cn_fsync_dir_at(int dirfd, const char *path, cn_err *err);
/* Copy SFD to DFD from their current offsets until SFD's end:
 * copy_file_range where the kernel can (reflinks, no user-space copy),
 * read/write through CHUNK (CHUNK_LEN bytes) otherwise; both advance the
 * offsets, so a fallback midway resumes. Stops with EFBIG once more than
 * MAX bytes were copied. *COPIED (may be NULL) gets the count. -1 with
 * errno on failure. */
int cn_copy_fd(int sfd, int dfd, void *chunk, size_t chunk_len, uint64_t max, uint64_t *copied);
/* Write NAME in DIRFD atomically: temp file, fsync, rename, fsync dir. */
int cn_write_file_atomic(int dirfd, const char *name, const void *data, size_t len,
			 mode_t mode, cn_err *err);
/* Read a whole regular file (no symlink following at the last component)
 * into out, failing with EFBIG past max bytes. */
int cn_read_file_at(int dirfd, const char *name, size_t max, cn_buf *out, cn_err *err);
/* The same for a file the caller opened (NAME for messages). */
int cn_read_fd(int fd, const char *name, size_t max, cn_buf *out, cn_err *err);
/* NAME (relative to DIRFD) opened, created if need be (0600, no symlink
 * followed), and flock()ed exclusively, the wait resumed after a signal:
 * an fd to close. */
int cn_lock_at(int dirfd, const char *name, cn_err *err);

/* Remove NAME under DIRFD recursively, by fds, never crossing into another
 * mount (a mount point found inside is an error, not a descent). Missing is ok. */
int cn_rm_rf_at(int dirfd, const char *name, cn_err *err);
/* Disk space (allocated blocks) used by NAME under DIRFD, recursively,
 * within one mount; same bounded-fd walk as cn_rm_rf_at. */
int cn_du_at(int dirfd, const char *name, uint64_t *bytes, cn_err *err);
/* chmod of NAME in DIRFD that never follows a symlink (so never changes
 * what a planted link points at): fchmodat2 (Linux 6.6) does it in the
 * kernel; before it, glibc's AT_SYMLINK_NOFOLLOW goes through an O_PATH fd
 * and /proc. Fails on a symlink itself. Sets errno. */
int cn_chmod_nofollow(int dirfd, const char *name, mode_t mode);
/* mkdir -p for an absolute or relative path. */
int cn_mkdir_p(const char *path, mode_t mode, cn_err *err);

#endif
