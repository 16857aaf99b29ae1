/* libarchive loaded on first use, as lazylib.c does for libcurl and
 * libnftables: with libxml2, ICU and libstdc++ behind it, mapping and
 * relocating it was the largest part left of the start-up of commands that
 * never read or write a tar (`images`, `ps`, `inspect`, `--help`). These
 * definitions take libarchive's names, so callers are unchanged; the
 * prototypes come from its headers. The list is the functions cairn calls
 * (nm -u); a new one is a link error until added here.
 *
 * libarchive is a hard dependency: when it cannot be loaded, cairn stops as
 * the dynamic loader would have at start (message, exit status 127). */
#include "util/lazylib.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The soname of the ABI cairn is built against (libarchive 3.x). */
#define ARCHIVE_SONAME "libarchive.so.13"

#define ARCHIVE_FNS(X) \
	X(time_t, archive_entry_atime, (struct archive_entry *)) \
	X(int, archive_entry_atime_is_set, (struct archive_entry *)) \
	X(long, archive_entry_atime_nsec, (struct archive_entry *)) \
	X(void, archive_entry_copy_pathname, (struct archive_entry *, const char *)) \
	X(void, archive_entry_copy_sourcepath, (struct archive_entry *, const char *)) \
	X(void, archive_entry_copy_symlink, (struct archive_entry *, const char *)) \
	X(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *)) \
	X(void, archive_entry_free, (struct archive_entry *)) \
	X(la_int64_t, archive_entry_gid, (struct archive_entry *)) \
	X(const char *, archive_entry_hardlink, (struct archive_entry *)) \
	X(void, archive_entry_linkify, (struct archive_entry_linkresolver *, struct archive_entry **, struct archive_entry **)) \
	X(void, archive_entry_linkresolver_free, (struct archive_entry_linkresolver *)) \
	X(struct archive_entry_linkresolver *, archive_entry_linkresolver_new, (void)) \
	X(void, archive_entry_linkresolver_set_strategy, (struct archive_entry_linkresolver *, int)) \
	X(time_t, archive_entry_mtime, (struct archive_entry *)) \
	X(long, archive_entry_mtime_nsec, (struct archive_entry *)) \
	X(struct archive_entry *, archive_entry_new, (void)) \
	X(const char *, archive_entry_pathname, (struct archive_entry *)) \
	X(__LA_MODE_T, archive_entry_perm, (struct archive_entry *)) \
	X(dev_t, archive_entry_rdevmajor, (struct archive_entry *)) \
	X(dev_t, archive_entry_rdevminor, (struct archive_entry *)) \
	X(void, archive_entry_set_dev, (struct archive_entry *, dev_t)) \
	X(void, archive_entry_set_filetype, (struct archive_entry *, unsigned int)) \
	X(void, archive_entry_set_gid, (struct archive_entry *, la_int64_t)) \
	X(void, archive_entry_set_ino64, (struct archive_entry *, la_int64_t)) \
	X(void, archive_entry_set_mode, (struct archive_entry *, __LA_MODE_T)) \
	X(void, archive_entry_set_mtime, (struct archive_entry *, time_t, long)) \
	X(void, archive_entry_set_nlink, (struct archive_entry *, unsigned int)) \
	X(void, archive_entry_set_pathname, (struct archive_entry *, const char *)) \
	X(void, archive_entry_set_perm, (struct archive_entry *, __LA_MODE_T)) \
	X(void, archive_entry_set_rdev, (struct archive_entry *, dev_t)) \
	X(void, archive_entry_set_size, (struct archive_entry *, la_int64_t)) \
	X(void, archive_entry_set_uid, (struct archive_entry *, la_int64_t)) \
	X(la_int64_t, archive_entry_size, (struct archive_entry *)) \
	X(int, archive_entry_size_is_set, (struct archive_entry *)) \
	X(const char *, archive_entry_sourcepath, (struct archive_entry *)) \
	X(void, archive_entry_sparse_clear, (struct archive_entry *)) \
	X(int, archive_entry_sparse_count, (struct archive_entry *)) \
	X(const char *, archive_entry_symlink, (struct archive_entry *)) \
	X(la_int64_t, archive_entry_uid, (struct archive_entry *)) \
	X(void, archive_entry_unset_atime, (struct archive_entry *)) \
	X(void, archive_entry_unset_birthtime, (struct archive_entry *)) \
	X(void, archive_entry_unset_ctime, (struct archive_entry *)) \
	X(void, archive_entry_xattr_add_entry, (struct archive_entry *, const char *, const void *, size_t)) \
	X(void, archive_entry_xattr_clear, (struct archive_entry *)) \
	X(int, archive_entry_xattr_next, (struct archive_entry *, const char **, const void **, size_t *)) \
	X(int, archive_entry_xattr_reset, (struct archive_entry *)) \
	X(int, archive_errno, (struct archive *)) \
	X(const char *, archive_error_string, (struct archive *)) \
	X(la_int64_t, archive_filter_bytes, (struct archive *, int)) \
	X(la_ssize_t, archive_read_data, (struct archive *, void *, size_t)) \
	X(int, archive_read_data_block, (struct archive *, const void **, size_t *, la_int64_t *)) \
	X(int, archive_read_data_skip, (struct archive *)) \
	X(int, archive_read_disk_can_descend, (struct archive *)) \
	X(int, archive_read_disk_descend, (struct archive *)) \
	X(struct archive *, archive_read_disk_new, (void)) \
	X(int, archive_read_disk_open, (struct archive *, const char *)) \
	X(int, archive_read_disk_set_behavior, (struct archive *, int)) \
	X(int, archive_read_disk_set_symlink_physical, (struct archive *)) \
	X(int, archive_read_free, (struct archive *)) \
	X(struct archive *, archive_read_new, (void)) \
	X(int, archive_read_next_header, (struct archive *, struct archive_entry **)) \
	X(int, archive_read_next_header2, (struct archive *, struct archive_entry *)) \
	X(int, archive_read_open, (struct archive *, void *, archive_open_callback *, archive_read_callback *, archive_close_callback *)) \
	X(int, archive_read_open_fd, (struct archive *, int, size_t)) \
	X(int, archive_read_open_memory, (struct archive *, const void *, size_t)) \
	X(int, archive_read_support_filter_bzip2, (struct archive *)) \
	X(int, archive_read_support_filter_gzip, (struct archive *)) \
	X(int, archive_read_support_filter_xz, (struct archive *)) \
	X(int, archive_read_support_filter_zstd, (struct archive *)) \
	X(int, archive_read_support_format_raw, (struct archive *)) \
	X(int, archive_read_support_format_tar, (struct archive *)) \
	X(void, archive_set_error, (struct archive *, int, const char *, ...)) \
	X(const char *, archive_version_details, (void)) \
	X(int, archive_write_add_filter_gzip, (struct archive *)) \
	X(int, archive_write_add_filter_xz, (struct archive *)) \
	X(int, archive_write_close, (struct archive *)) \
	X(la_ssize_t, archive_write_data, (struct archive *, const void *, size_t)) \
	X(int, archive_write_free, (struct archive *)) \
	X(int, archive_write_header, (struct archive *, struct archive_entry *)) \
	X(struct archive *, archive_write_new, (void)) \
	X(int, archive_write_open, (struct archive *, void *, archive_open_callback *, archive_write_callback *, archive_close_callback *)) \
	X(int, archive_write_open_fd, (struct archive *, int)) \
	X(int, archive_write_set_bytes_in_last_block, (struct archive *, int)) \
	X(int, archive_write_set_bytes_per_block, (struct archive *, int)) \
	X(int, archive_write_set_format_cpio_newc, (struct archive *)) \
	X(int, archive_write_set_format_option, (struct archive *, const char *, const char *, const char *)) \
	X(int, archive_write_set_format_pax_restricted, (struct archive *))

#define FIELD(ret, name, params) ret (*name) params;
#define LOAD(ret, name, params) &&cn_lazylib_sym(LIB, h, #name, &lib->name, sizeof(lib->name))
static struct { ARCHIVE_FNS(FIELD) } lib_archive;
static pthread_once_t archive_once = PTHREAD_ONCE_INIT;
static bool archive_loaded;

static void archive_load(void)
{
	enum cn_lazy_lib LIB = CN_LAZY_ARCHIVE;
	__typeof__(lib_archive) *lib = &lib_archive;
	void *h = cn_lazylib_open(LIB, ARCHIVE_SONAME);
	archive_loaded = h ARCHIVE_FNS(LOAD);
}

int cn_lazyarchive_load(cn_err *err)
{
	pthread_once(&archive_once, archive_load);
	if (!archive_loaded)
		return cn_err_fail(err, CN_ERR_SYSTEM, "libarchive cannot be loaded: %s",
				   cn_lazylib_error_raw(CN_LAZY_ARCHIVE));
	return 0;
}

static __typeof__(lib_archive) *arch(void)
{
	pthread_once(&archive_once, archive_load);
	if (!archive_loaded) {
		/* What ld.so prints for a missing library, and its status. */
		dprintf(STDERR_FILENO, "cairn: error while loading shared libraries: %s\n",
			cn_lazylib_error_raw(CN_LAZY_ARCHIVE));
		_exit(127);
	}
	return &lib_archive;
}

time_t archive_entry_atime(struct archive_entry *a0)
{
	return arch()->archive_entry_atime(a0);
}

int archive_entry_atime_is_set(struct archive_entry *a0)
{
	return arch()->archive_entry_atime_is_set(a0);
}

long archive_entry_atime_nsec(struct archive_entry *a0)
{
	return arch()->archive_entry_atime_nsec(a0);
}

void archive_entry_copy_pathname(struct archive_entry *a0, const char *a1)
{
	arch()->archive_entry_copy_pathname(a0, a1);
}

void archive_entry_copy_sourcepath(struct archive_entry *a0, const char *a1)
{
	arch()->archive_entry_copy_sourcepath(a0, a1);
}

void archive_entry_copy_symlink(struct archive_entry *a0, const char *a1)
{
	arch()->archive_entry_copy_symlink(a0, a1);
}

__LA_MODE_T archive_entry_filetype(struct archive_entry *a0)
{
	return arch()->archive_entry_filetype(a0);
}

void archive_entry_free(struct archive_entry *a0)
{
	arch()->archive_entry_free(a0);
}

la_int64_t archive_entry_gid(struct archive_entry *a0)
{
	return arch()->archive_entry_gid(a0);
}

const char *archive_entry_hardlink(struct archive_entry *a0)
{
	return arch()->archive_entry_hardlink(a0);
}

void archive_entry_linkify(struct archive_entry_linkresolver *a0, struct archive_entry **a1, struct archive_entry **a2)
{
	arch()->archive_entry_linkify(a0, a1, a2);
}

void archive_entry_linkresolver_free(struct archive_entry_linkresolver *a0)
{
	arch()->archive_entry_linkresolver_free(a0);
}

struct archive_entry_linkresolver *archive_entry_linkresolver_new(void)
{
	return arch()->archive_entry_linkresolver_new();
}

void archive_entry_linkresolver_set_strategy(struct archive_entry_linkresolver *a0, int a1)
{
	arch()->archive_entry_linkresolver_set_strategy(a0, a1);
}

time_t archive_entry_mtime(struct archive_entry *a0)
{
	return arch()->archive_entry_mtime(a0);
}

long archive_entry_mtime_nsec(struct archive_entry *a0)
{
	return arch()->archive_entry_mtime_nsec(a0);
}

struct archive_entry *archive_entry_new(void)
{
	return arch()->archive_entry_new();
}

const char *archive_entry_pathname(struct archive_entry *a0)
{
	return arch()->archive_entry_pathname(a0);
}

__LA_MODE_T archive_entry_perm(struct archive_entry *a0)
{
	return arch()->archive_entry_perm(a0);
}

dev_t archive_entry_rdevmajor(struct archive_entry *a0)
{
	return arch()->archive_entry_rdevmajor(a0);
}

dev_t archive_entry_rdevminor(struct archive_entry *a0)
{
	return arch()->archive_entry_rdevminor(a0);
}

void archive_entry_set_dev(struct archive_entry *a0, dev_t a1)
{
	arch()->archive_entry_set_dev(a0, a1);
}

void archive_entry_set_filetype(struct archive_entry *a0, unsigned int a1)
{
	arch()->archive_entry_set_filetype(a0, a1);
}

void archive_entry_set_gid(struct archive_entry *a0, la_int64_t a1)
{
	arch()->archive_entry_set_gid(a0, a1);
}

void archive_entry_set_ino64(struct archive_entry *a0, la_int64_t a1)
{
	arch()->archive_entry_set_ino64(a0, a1);
}

void archive_entry_set_mode(struct archive_entry *a0, __LA_MODE_T a1)
{
	arch()->archive_entry_set_mode(a0, a1);
}

void archive_entry_set_mtime(struct archive_entry *a0, time_t a1, long a2)
{
	arch()->archive_entry_set_mtime(a0, a1, a2);
}

void archive_entry_set_nlink(struct archive_entry *a0, unsigned int a1)
{
	arch()->archive_entry_set_nlink(a0, a1);
}

void archive_entry_set_pathname(struct archive_entry *a0, const char *a1)
{
	arch()->archive_entry_set_pathname(a0, a1);
}

void archive_entry_set_perm(struct archive_entry *a0, __LA_MODE_T a1)
{
	arch()->archive_entry_set_perm(a0, a1);
}

void archive_entry_set_rdev(struct archive_entry *a0, dev_t a1)
{
	arch()->archive_entry_set_rdev(a0, a1);
}

void archive_entry_set_size(struct archive_entry *a0, la_int64_t a1)
{
	arch()->archive_entry_set_size(a0, a1);
}

void archive_entry_set_uid(struct archive_entry *a0, la_int64_t a1)
{
	arch()->archive_entry_set_uid(a0, a1);
}

la_int64_t archive_entry_size(struct archive_entry *a0)
{
	return arch()->archive_entry_size(a0);
}

int archive_entry_size_is_set(struct archive_entry *a0)
{
	return arch()->archive_entry_size_is_set(a0);
}

const char *archive_entry_sourcepath(struct archive_entry *a0)
{
	return arch()->archive_entry_sourcepath(a0);
}

void archive_entry_sparse_clear(struct archive_entry *a0)
{
	arch()->archive_entry_sparse_clear(a0);
}

int archive_entry_sparse_count(struct archive_entry *a0)
{
	return arch()->archive_entry_sparse_count(a0);
}

const char *archive_entry_symlink(struct archive_entry *a0)
{
	return arch()->archive_entry_symlink(a0);
}

la_int64_t archive_entry_uid(struct archive_entry *a0)
{
	return arch()->archive_entry_uid(a0);
}

void archive_entry_unset_atime(struct archive_entry *a0)
{
	arch()->archive_entry_unset_atime(a0);
}

void archive_entry_unset_birthtime(struct archive_entry *a0)
{
	arch()->archive_entry_unset_birthtime(a0);
}

void archive_entry_unset_ctime(struct archive_entry *a0)
{
	arch()->archive_entry_unset_ctime(a0);
}

void archive_entry_xattr_add_entry(struct archive_entry *a0, const char *a1, const void *a2, size_t a3)
{
	arch()->archive_entry_xattr_add_entry(a0, a1, a2, a3);
}

void archive_entry_xattr_clear(struct archive_entry *a0)
{
	arch()->archive_entry_xattr_clear(a0);
}

int archive_entry_xattr_next(struct archive_entry *a0, const char **a1, const void **a2, size_t *a3)
{
	return arch()->archive_entry_xattr_next(a0, a1, a2, a3);
}

int archive_entry_xattr_reset(struct archive_entry *a0)
{
	return arch()->archive_entry_xattr_reset(a0);
}

int archive_errno(struct archive *a0)
{
	return arch()->archive_errno(a0);
}

const char *archive_error_string(struct archive *a0)
{
	return arch()->archive_error_string(a0);
}

la_int64_t archive_filter_bytes(struct archive *a0, int a1)
{
	return arch()->archive_filter_bytes(a0, a1);
}

la_ssize_t archive_read_data(struct archive *a0, void *a1, size_t a2)
{
	return arch()->archive_read_data(a0, a1, a2);
}

int archive_read_data_block(struct archive *a0, const void **a1, size_t *a2, la_int64_t *a3)
{
	return arch()->archive_read_data_block(a0, a1, a2, a3);
}

int archive_read_data_skip(struct archive *a0)
{
	return arch()->archive_read_data_skip(a0);
}

int archive_read_disk_can_descend(struct archive *a0)
{
	return arch()->archive_read_disk_can_descend(a0);
}

int archive_read_disk_descend(struct archive *a0)
{
	return arch()->archive_read_disk_descend(a0);
}

struct archive *archive_read_disk_new(void)
{
	return arch()->archive_read_disk_new();
}

int archive_read_disk_open(struct archive *a0, const char *a1)
{
	return arch()->archive_read_disk_open(a0, a1);
}

int archive_read_disk_set_behavior(struct archive *a0, int a1)
{
	return arch()->archive_read_disk_set_behavior(a0, a1);
}

int archive_read_disk_set_symlink_physical(struct archive *a0)
{
	return arch()->archive_read_disk_set_symlink_physical(a0);
}

int archive_read_free(struct archive *a0)
{
	return arch()->archive_read_free(a0);
}

struct archive *archive_read_new(void)
{
	return arch()->archive_read_new();
}

int archive_read_next_header(struct archive *a0, struct archive_entry **a1)
{
	return arch()->archive_read_next_header(a0, a1);
}

int archive_read_next_header2(struct archive *a0, struct archive_entry *a1)
{
	return arch()->archive_read_next_header2(a0, a1);
}

int archive_read_open(struct archive *a0, void *a1, archive_open_callback *a2, archive_read_callback *a3, archive_close_callback *a4)
{
	return arch()->archive_read_open(a0, a1, a2, a3, a4);
}

int archive_read_open_fd(struct archive *a0, int a1, size_t a2)
{
	return arch()->archive_read_open_fd(a0, a1, a2);
}

int archive_read_open_memory(struct archive *a0, const void *a1, size_t a2)
{
	return arch()->archive_read_open_memory(a0, a1, a2);
}

int archive_read_support_filter_bzip2(struct archive *a0)
{
	return arch()->archive_read_support_filter_bzip2(a0);
}

int archive_read_support_filter_gzip(struct archive *a0)
{
	return arch()->archive_read_support_filter_gzip(a0);
}

int archive_read_support_filter_xz(struct archive *a0)
{
	return arch()->archive_read_support_filter_xz(a0);
}

int archive_read_support_filter_zstd(struct archive *a0)
{
	return arch()->archive_read_support_filter_zstd(a0);
}

int archive_read_support_format_raw(struct archive *a0)
{
	return arch()->archive_read_support_format_raw(a0);
}

int archive_read_support_format_tar(struct archive *a0)
{
	return arch()->archive_read_support_format_tar(a0);
}

const char *archive_version_details(void)
{
	return arch()->archive_version_details();
}

int archive_write_add_filter_gzip(struct archive *a0)
{
	return arch()->archive_write_add_filter_gzip(a0);
}

int archive_write_add_filter_xz(struct archive *a0)
{
	return arch()->archive_write_add_filter_xz(a0);
}

int archive_write_close(struct archive *a0)
{
	return arch()->archive_write_close(a0);
}

la_ssize_t archive_write_data(struct archive *a0, const void *a1, size_t a2)
{
	return arch()->archive_write_data(a0, a1, a2);
}

int archive_write_free(struct archive *a0)
{
	return arch()->archive_write_free(a0);
}

int archive_write_header(struct archive *a0, struct archive_entry *a1)
{
	return arch()->archive_write_header(a0, a1);
}

struct archive *archive_write_new(void)
{
	return arch()->archive_write_new();
}

int archive_write_open(struct archive *a0, void *a1, archive_open_callback *a2, archive_write_callback *a3, archive_close_callback *a4)
{
	return arch()->archive_write_open(a0, a1, a2, a3, a4);
}

int archive_write_open_fd(struct archive *a0, int a1)
{
	return arch()->archive_write_open_fd(a0, a1);
}

int archive_write_set_bytes_in_last_block(struct archive *a0, int a1)
{
	return arch()->archive_write_set_bytes_in_last_block(a0, a1);
}

int archive_write_set_bytes_per_block(struct archive *a0, int a1)
{
	return arch()->archive_write_set_bytes_per_block(a0, a1);
}

int archive_write_set_format_cpio_newc(struct archive *a0)
{
	return arch()->archive_write_set_format_cpio_newc(a0);
}

int archive_write_set_format_option(struct archive *a0, const char *a1, const char *a2, const char *a3)
{
	return arch()->archive_write_set_format_option(a0, a1, a2, a3);
}

int archive_write_set_format_pax_restricted(struct archive *a0)
{
	return arch()->archive_write_set_format_pax_restricted(a0);
}

/* The one variadic function: formatted here, passed on as "%s". */
void archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (!fmt) {     /* clears the error */
		arch()->archive_set_error(a, err, NULL);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	arch()->archive_set_error(a, err, "%s", msg);
}
