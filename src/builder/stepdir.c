/* Step directories (a step's overlay: upper, work, merged), made as cairn
 * run makes a container's (container/rootfs.h), and the commit of an upper
 * dir as a layer. */
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

int bd_step_rootfs(struct build *b, const char *hostname, struct ctr_rootfs *fs, cn_err *err)
{
	struct ctr_rootfs_opts o = {
		.prefix = "step", .layers = b->cur->layers, .nlayers = b->cur->nlayers,
		.extra_dir = "src", .hostname = hostname,
	};
	return ctr_rootfs_create(b->st, &o, fs, err);
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
int bd_commit_step(struct build *b, struct ctr_rootfs *s, const char *created_by, cn_err *err)
{
	struct layer_write_opts lo = { .compression = b->o->compression, .level = b->o->compression_level,
				       .clamp_mtime = b->o->timestamp };
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
	bd_trust_layers(b, l, 1);
	bf_config_add_layer(b->cur->cfg, info.diff_id);
	bd_history(b, created_by, false);
	bd_emit(b, BF_EV_LAYER, NULL, info.digest, info.size);
	return 0;
}
