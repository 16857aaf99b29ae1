#include "container/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ctr_rootfs_lowers(struct store *st, const struct store_layer *layers, size_t n, cn_strv *out,
		      cn_err *err)
{
	for (size_t i = n; i-- > 0;) {
		bool seen = false;
		for (size_t j = i + 1; j < n && !seen; j++)
			seen = !strcmp(layers[j].diff_id, layers[i].diff_id);
		if (seen)
			continue;
		if (!store_snapshot_exists(st, layers[i].diff_id))
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "layer %s has no snapshot (run 'cairn fsck')",
					    layers[i].diff_id);
		cn_strv_push(out, store_snapshot_path(st, layers[i].diff_id));
	}
	return 0;
}

/* Its own hosts file: the container's hostname resolves, and the host's
 * names do not leak in. */
static int write_hosts(struct ctr_rootfs *r, const char *hostname, const cn_strv *extra, cn_err *err)
{
	_cleanup_free_ char *text = cn_xasprintf("127.0.0.1\tlocalhost %s\n"
						 "::1\tlocalhost ip6-localhost ip6-loopback\n", hostname);
	_cleanup_close_ int fd = openat(r->td.fd, "hosts", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	r->hosts = cn_xasprintf("%s/hosts", r->td.path);
	if (fd < 0 || cn_write_all(fd, text, strlen(text)) < 0)
		return cn_err_sys(err, "write '%s'", r->hosts);
	return extra ? ctr_rootfs_add_hosts(r, extra, err) : 0;
}

int ctr_rootfs_add_hosts(struct ctr_rootfs *r, const cn_strv *extra, cn_err *err)
{
	_cleanup_close_ int fd = -1;
	if (!r->hosts)
		return cn_err_fail(err, CN_ERR_INVALID, "--add-host: this root has no hosts file of its own");
	fd = open(r->hosts, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return cn_err_sys(err, "open '%s'", r->hosts);
	/* NAME:IP (split at the first ':', so IPv6 addresses stay whole),
	 * written as docker does: "IP<tab>NAME". */
	for (size_t i = 0; i < extra->n; i++) {
		const char *colon = strchr(extra->v[i], ':');
		_cleanup_free_ char *line = NULL;
		if (!colon)
			continue;
		line = cn_xasprintf("%s\t%.*s\n", colon + 1, (int)(colon - extra->v[i]), extra->v[i]);
		if (cn_write_all(fd, line, strlen(line)) < 0)
			return cn_err_sys(err, "write '%s'", r->hosts);
	}
	return 0;
}

/* --dns: the nameservers given, with the host's search and options lines. */
static int write_resolv(struct ctr_rootfs *r, const cn_strv *dns, cn_err *err)
{
	_cleanup_close_ int fd = openat(r->td.fd, "resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	_cleanup_free_ char *line = NULL;
	FILE *host;
	size_t cap = 0;
	int ret = 0;
	r->resolv = cn_xasprintf("%s/resolv.conf", r->td.path);
	if (fd < 0)
		return cn_err_sys(err, "write '%s'", r->resolv);
	for (size_t i = 0; i < dns->n; i++) {
		_cleanup_free_ char *ns = cn_xasprintf("nameserver %s\n", dns->v[i]);
		if (cn_write_all(fd, ns, strlen(ns)) < 0)
			return cn_err_sys(err, "write '%s'", r->resolv);
	}
	host = fopen("/etc/resolv.conf", "re");
	while (host && ret == 0 && getline(&line, &cap, host) >= 0)
		if ((!strncmp(line, "search", 6) || !strncmp(line, "options", 7)) &&
		    cn_write_all(fd, line, strlen(line)) < 0)
			ret = cn_err_sys(err, "write '%s'", r->resolv);
	if (host)
		fclose(host);
	return ret;
}

int ctr_rootfs_create(struct store *st, const struct ctr_rootfs_opts *o, struct ctr_rootfs *r,
		      cn_err *err)
{
	const char *subdirs[] = { "upper", "work", "merged", "empty", o->extra_dir };
	size_t nsub = CN_ARRAY_SIZE(subdirs) - (o->extra_dir ? 0 : 1);
	memset(r, 0, sizeof(*r));
	r->td.fd = -1;
	if (store_tmpdir_create(st, o->prefix, &r->td, err) < 0)
		return -1;
	for (size_t i = 0; i < nsub; i++)
		if (mkdirat(r->td.fd, subdirs[i], 0755) < 0) {
			cn_err_sys(err, "create '%s/%s'", r->td.path, subdirs[i]);
			goto fail;
		}
	r->upper = cn_xasprintf("%s/upper", r->td.path);
	r->work = cn_xasprintf("%s/work", r->td.path);
	r->merged = cn_xasprintf("%s/merged", r->td.path);
	r->empty = cn_xasprintf("%s/empty", r->td.path);
	if (o->hostname && write_hosts(r, o->hostname, o->extra_hosts, err) < 0)
		goto fail;
	if (o->dns && o->dns->n && write_resolv(r, o->dns, err) < 0)
		goto fail;
	if (ctr_rootfs_lowers(st, o->layers, o->nlayers, &r->lowers, err) < 0)
		goto fail;
	r->sb = (struct sb_rootfs){
		.lowers = (const char *const *)r->lowers.v, .nlowers = r->lowers.n,
		.upper = r->upper, .work = r->work, .merged = r->merged, .empty = r->empty,
		/* The directory goes with the run or step (or with a crash);
		 * only a step's commit keeps the upper, and syncs it first. */
		.scratch = true,
	};
	return 0;
fail:
	ctr_rootfs_free(st, r);
	return -1;
}

void ctr_rootfs_free(struct store *st, struct ctr_rootfs *r)
{
	store_tmpdir_remove(st, &r->td);
	free(r->upper);
	free(r->work);
	free(r->merged);
	free(r->empty);
	free(r->hosts);
	free(r->resolv);
	cn_strv_free(&r->lowers);
	memset(r, 0, sizeof(*r));
	r->td.fd = -1;
}
