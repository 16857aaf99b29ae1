/* Named volumes under <store>/volumes (volume.h). */
#include "container/container.h"
#include "container/volume.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/labels.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define META_FILE "cairn.json"
#define META_MAX (1u << 20)

bool ctr_volume_name_ok(const char *name)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = strlen(name);
	return n >= 2 && n <= 255 && strchr(alnum, name[0]) && name[0] &&
	       strspn(name + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n - 1;
}

static int bad_name(const char *name, cn_err *err)
{
	return cn_err_fail(err, CN_ERR_INVALID, "'%s' is not a valid volume name (letters, digits, '_', '.', "
			   "'-'; at least two, the first a letter or digit; a host directory is an "
			   "absolute path)", name);
}

char *ctr_volume_path(struct store *st, const char *name, cn_err *err)
{
	char *path;
	if (!ctr_volume_name_ok(name)) {
		bad_name(name, err);
		return NULL;
	}
	path = cn_xasprintf("%s/volumes/%s/_data", st->root, name);
	if (cn_mkdir_p(path, 0755, err) < 0) {
		cn_err_wrap(err, "volume '%s'", name);
		free(path);
		return NULL;
	}
	return path;
}

void ctr_volume_free(struct ctr_volume *v)
{
	free(v->name);
	free(v->mountpoint);
	free(v->meta_error);
	cn_strv_free(&v->labels);
	memset(v, 0, sizeof(*v));
}

/* <store>/volumes, created on first use. */
static int open_volumes(struct store *st, cn_err *err)
{
	int fd;
	if (mkdirat(st->root_fd, "volumes", 0700) < 0 && errno != EEXIST)
		return cn_err_sys(err, "create '%s/volumes'", st->root);
	fd = openat(st->root_fd, "volumes", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s/volumes'", st->root);
	return fd;
}

int ctr_volume_create(struct store *st, const char *name, const cn_strv *labels, cn_err *err)
{
	_cleanup_close_ int dir = -1, vol = -1;
	json_t *meta;
	_cleanup_strv_ cn_strv set = { 0 };
	char *text;
	int r;
	if (!ctr_volume_name_ok(name))
		return bad_name(name, err);
	dir = open_volumes(st, err);
	if (dir < 0)
		return -1;
	/* The directory's creation decides who made it: one create wins. */
	if (mkdirat(dir, name, 0700) < 0) {
		if (errno == EEXIST)
			return 1;
		return cn_err_sys(err, "create volume '%s'", name);
	}
	vol = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (vol < 0 || (mkdirat(vol, "_data", 0755) < 0 && errno != EEXIST))
		return cn_err_sys(err, "create volume '%s'", name);
	for (size_t i = 0; labels && i < labels->n; i++)
		cn_labels_set(&set, labels->v[i]);
	meta = json_pack("{s:I, s:o}", "CreatedAt", (json_int_t)time(NULL), "Labels", cn_labels_json(&set));
	text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
	json_decref(meta);
	if (!text)
		return cn_err_errno(err, ENOMEM, "volume '%s': encode its labels", name);
	r = cn_write_file_atomic(vol, META_FILE, text, strlen(text), 0600, err);
	free(text);
	return r < 0 ? -1 : 0;
}

static int load_at(struct store *st, int dir, const char *name, struct ctr_volume *v, cn_err *err)
{
	_cleanup_close_ int vol = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cn_buf buf = { 0 };
	struct stat sb;
	json_t *j = NULL, *val;
	memset(v, 0, sizeof(*v));
	if (vol < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return cn_err_sys(err, "volume '%s'", name);
	}
	if (fstat(vol, &sb) < 0)
		return cn_err_sys(err, "volume '%s'", name);
	v->name = cn_xstrdup(name);
	v->mountpoint = cn_xasprintf("%s/volumes/%s/_data", st->root, name);
	v->created = (long long)sb.st_mtime;
	/* Damaged metadata (a directory, too big, not JSON): no labels, said
	 * in meta_error, rather than every volume command failing. */
	if (cn_read_file_at(vol, META_FILE, META_MAX, &buf, err) == 0) {
		json_error_t je;
		j = json_loadb((const char *)buf.data, buf.len, 0, &je);
		cn_buf_free(&buf);
		if (!json_is_object(j))
			v->meta_error = cn_xasprintf("%s: %s", META_FILE, j ? "not a JSON object" : je.text);
	} else {
		cn_buf_free(&buf);      /* what was read before a failure */
		if (err->errnum != ENOENT)
			v->meta_error = cn_xstrdup(err->msg);
	}
	val = json_object_get(j, "CreatedAt");
	if (json_is_integer(val))
		v->created = (long long)json_integer_value(val);
	cn_labels_from_json(json_object_get(j, "Labels"), &v->labels);
	json_decref(j);
	return 1;
}

int ctr_volume_get(struct store *st, const char *name, struct ctr_volume *v, cn_err *err)
{
	_cleanup_close_ int dir = -1;
	memset(v, 0, sizeof(*v));
	if (!ctr_volume_name_ok(name))
		return 0;
	dir = open_volumes(st, err);
	if (dir < 0)
		return -1;
	return load_at(st, dir, name, v, err);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ctr_volume *)a)->name, ((const struct ctr_volume *)b)->name);
}

int ctr_volume_list(struct store *st, struct ctr_volume **out, size_t *n, cn_err *err)
{
	_cleanup_close_ int dir = open_volumes(st, err);
	_cleanup_closedir_ DIR *d = NULL;
	struct ctr_volume *list = NULL;
	size_t k = 0, cap = 0;
	struct dirent *de;
	int fd;
	*out = NULL;
	*n = 0;
	if (dir < 0)
		return -1;
	fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return cn_err_sys(err, "read '%s/volumes'", st->root);
	}
	while ((de = readdir(d))) {
		struct ctr_volume v;
		int r;
		if (!ctr_volume_name_ok(de->d_name))
			continue;
		r = load_at(st, dir, de->d_name, &v, err);
		if (r < 0) {
			ctr_volume_list_free(list, k);
			return -1;
		}
		if (r == 0)
			continue;
		cn_xgrow((void **)&list, &cap, k + 1, sizeof(*list));
		list[k++] = v;
	}
	if (k)
		qsort(list, k, sizeof(*list), by_name);
	*out = list;
	*n = k;
	return 0;
}

void ctr_volume_list_free(struct ctr_volume *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ctr_volume_free(&list[i]);
	free(list);
}

int ctr_volume_users(struct store *st, const char *name, cn_strv *users, cn_err *err)
{
	struct ctr_state *list;
	size_t n;
	if (ctr_list(st, &list, &n, err) < 0)
		return -1;
	/* docker's: every container that references it, stopped ones too (a
	 * state from a cairn without "volumes" references nothing). */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < list[i].volumes.n; j++)
			if (!strcmp(list[i].volumes.v[j], name)) {
				cn_strv_pushdup(users, list[i].name);
				break;
			}
	}
	ctr_list_free(list, n);
	return 0;
}

int ctr_volume_remove(struct store *st, const char *name, cn_err *err)
{
	_cleanup_close_ int dir = -1, lock = -1;
	_cleanup_strv_ cn_strv users = { 0 };
	struct ctr_volume v;
	int r;
	/* The containers lock spans the check and the removal: run -d records
	 * its volumes under it (ctr_create), so none starts using it between. */
	lock = ctr_lock(st, err);
	if (lock < 0)
		return -1;
	r = ctr_volume_get(st, name, &v, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "no such volume: %s", name);
	ctr_volume_free(&v);
	if (ctr_volume_users(st, name, &users, err) < 0)
		return -1;
	if (users.n) {
		cn_buf b;
		cn_buf_init(&b, 0);
		for (size_t i = 0; i < users.n; i++) {
			if (i)
				cn_buf_adds(&b, ", ");
			cn_buf_adds(&b, users.v[i]);
		}
		_cleanup_free_ char *list = cn_buf_detach(&b);
		return cn_err_fail(err, CN_ERR_BUSY, "remove %s: volume is in use - [%s]", name, list);
	}
	dir = open_volumes(st, err);
	if (dir < 0)
		return -1;
	if (cn_rm_rf_at(dir, name, err) < 0)
		return cn_err_wrap(err, "remove volume '%s'", name);
	return 0;
}
