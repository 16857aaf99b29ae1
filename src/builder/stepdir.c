/* Step directories (a step's overlay: upper, work, merged) and the
 * commit of an upper dir as a layer. */
#include "builder/build_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOSTS_FILE "127.0.0.1\tlocalhost cairn\n::1\tlocalhost ip6-localhost ip6-loopback\n"

void bd_step_dir_free(struct build *b, struct step_dir *s)
{
	store_tmpdir_remove(b->st, &s->td);
	for (size_t i = 0; i < s->nlowers; i++)
		free(s->lowers[i]);
	free(s->lowers);
	free(s->upper);
	free(s->work);
	free(s->merged);
	free(s->empty);
	free(s->hosts);
	memset(s, 0, sizeof(*s));
}

/* Snapshot paths of LAYERS for an overlay stack, topmost first. overlayfs
 * refuses a directory twice in one stack; a repeated layer needs only its
 * topmost copy, whose entries and whiteouts cover everything the lower copy
 * did. */
char **bd_lower_paths(struct build *b, const struct store_layer *layers, size_t n, size_t *out_n)
{
	char **lowers = cn_xcalloc(n + 1, sizeof(char *));
	*out_n = 0;
	for (size_t i = n; i-- > 0;) {
		bool seen = false;
		for (size_t j = i + 1; j < n && !seen; j++)
			seen = strcmp(layers[j].diff_id, layers[i].diff_id) == 0;
		if (!seen)
			lowers[(*out_n)++] = store_snapshot_path(b->st, layers[i].diff_id);
	}
	return lowers;
}

int bd_step_dir_create(struct build *b, struct step_dir *s, cn_err *err)
{
	static const char *const subdirs[] = { "upper", "work", "merged", "empty", "src" };
	memset(s, 0, sizeof(*s));
	if (store_tmpdir_create(b->st, "step", &s->td, err) < 0)
		return -1;
	for (size_t i = 0; i < CN_ARRAY_SIZE(subdirs); i++)
		if (mkdirat(s->td.fd, subdirs[i], 0755) < 0) {
			cn_err_sys(err, "create '%s/%s'", s->td.path, subdirs[i]);
			bd_step_dir_free(b, s);
			return -1;
		}
	s->upper = cn_xasprintf("%s/upper", s->td.path);
	s->work = cn_xasprintf("%s/work", s->td.path);
	s->merged = cn_xasprintf("%s/merged", s->td.path);
	s->empty = cn_xasprintf("%s/empty", s->td.path);
	s->hosts = cn_xasprintf("%s/hosts", s->td.path);
	s->lowers = bd_lower_paths(b, b->cur->layers, b->cur->nlayers, &s->nlowers);
	s->rootfs = (struct sb_rootfs){
		.lowers = (const char *const *)s->lowers, .nlowers = s->nlowers, .upper = s->upper,
		.work = s->work, .merged = s->merged, .empty = s->empty,
	};
	return 0;
}

int bd_write_hosts(struct step_dir *s, cn_err *err)
{
	_cleanup_close_ int fd = openat(s->td.fd, "hosts", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || cn_write_all(fd, HOSTS_FILE, strlen(HOSTS_FILE)) < 0)
		return cn_err_sys(err, "write '%s'", s->hosts);
	return 0;
}

static bool dir_is_empty(int dirfd)
{
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d)
		return false;
	fd = -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

void bd_history(struct build *b, const char *created_by, bool empty_layer)
{
	char now[32];
	bd_now_rfc3339(b, now);
	bf_config_add_history(b->cur->cfg, now, created_by, empty_layer);
}

/* The upper dir becomes a layer blob and, renamed, the layer's snapshot. */
int bd_commit_step(struct build *b, struct step_dir *s, const char *created_by, cn_err *err)
{
	struct layer_write_opts lo = { .compression = b->o->compression, .clamp_mtime = b->o->timestamp };
	struct layer_info info;
	struct store_ingest in;
	struct store_layer *l;
	_cleanup_close_ int upper_fd = openat(s->td.fd, "upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (upper_fd < 0)
		return cn_err_sys(err, "open '%s'", s->upper);
	if (dir_is_empty(upper_fd)) {
		bd_history(b, created_by, true);
		bd_emit(b, BF_EV_NO_LAYER, NULL, NULL, 0);
		return 0;
	}
	if (b->cur->nlayers >= STORE_MAX_LAYERS)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "more than %d layers", STORE_MAX_LAYERS);
	if (store_ingest_begin(b->st, &in, err) < 0)
		return -1;
	if (layer_write_dir(upper_fd, in.fd, &lo, &info, err) < 0) {
		store_ingest_abort(&in);
		return -1;
	}
	bd_crash_point("ingest");
	/* The snapshot must be on disk before anything points at it. */
	if (syncfs(upper_fd) < 0) {
		store_ingest_abort(&in);
		return cn_err_sys(err, "sync '%s'", s->upper);
	}
	if (store_ingest_commit(&in, info.digest, err) < 0)
		return -1;
	bd_crash_point("snapshot");
	if (store_snapshot_commit(b->st, s->td.fd, "upper", info.diff_id, err) < 0)
		return -1;
	cn_xgrow((void **)&b->cur->layers, &b->cur->cap, b->cur->nlayers + 1, sizeof(*b->cur->layers));
	l = &b->cur->layers[b->cur->nlayers++];
	memset(l, 0, sizeof(*l));
	memcpy(l->digest, info.digest, sizeof(l->digest));
	memcpy(l->diff_id, info.diff_id, sizeof(l->diff_id));
	l->size = info.size;
	snprintf(l->media_type, sizeof(l->media_type), "%s", layer_media_type(b->o->compression));
	bf_config_add_layer(b->cur->cfg, info.diff_id);
	bd_history(b, created_by, false);
	bd_emit(b, BF_EV_LAYER, NULL, info.digest, info.size);
	return 0;
}
