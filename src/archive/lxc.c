/* `export --format lxc`: LXC's image format, as `lxc-create -t local -- -m
 * meta.tar.xz -f rootfs.tar.xz` takes it (and Incus/LXD's split images):
 * rootfs.tar.xz, the tree with numeric owners; meta.tar.xz with `config`
 * (lxc.* keys: the image's command, env, user, workdir, network) and
 * `templates` (files in the rootfs where the template puts the container's
 * name). Both must be xz: the template unpacks them with `tar -J`. */
#include "archive/export_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/userdb.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a config line can hold: one line, no NUL (the caller has C strings). */
static int check_value(const char *what, const char *v, cn_err *err)
{
	if (strpbrk(v, "\n\r"))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "lxc: %s '%s' has a line break: an LXC config "
				   "line cannot hold it", what, v);
	return 0;
}

/* lxc.execute.cmd / lxc.init.cmd: LXC splits the value at blanks, a word
 * that starts with ' or " running to the same quote (no escapes), after
 * dropping a pair of quotes around the whole value. So: every word in
 * double quotes, or single ones when it has a double quote, and the whole
 * in single quotes with a blank before the last (as lxc-oci writes it). */
static int cmd_value(const cn_strv *args, cn_buf *out, cn_err *err)
{
	cn_buf_addc(out, '\'');
	for (size_t i = 0; i < args->n; i++) {
		const char *a = args->v[i];
		char q = strchr(a, '"') ? '\'' : '"';
		if (check_value("command word", a, err) < 0)
			return -1;
		if (q == '\'' && strchr(a, '\''))
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "lxc: command word '%s' has both quote "
					   "characters: lxc.execute.cmd cannot hold it", a);
		cn_buf_addf(out, "%c%s%c ", q, a, q);
	}
	cn_buf_addc(out, '\'');
	return 0;
}

/* lxc.init.cmd (lxc-start) is split at spaces only, with no quotes: the
 * words go there as they are when none is empty or holds a blank or a
 * quote; otherwise it names LXC_INIT, a launcher the export writes into
 * the rootfs that execs the command (the image's /bin/sh runs it). */
#define LXC_INIT_NAME ".cairn-init"    /* relative to the root */
#define LXC_INIT "/" LXC_INIT_NAME

static bool plain_words(const cn_strv *args)
{
	for (size_t i = 0; i < args->n; i++)
		if (!*args->v[i] || strpbrk(args->v[i], " \t'\""))
			return false;
	return true;
}

static char *init_script(const struct store_image *img, const cn_strv *args)
{
	_cleanup_buf_ cn_buf b;
	cn_buf_init(&b, 0);
	cn_buf_addf(&b, "#!/bin/sh\n"
		    "# Image %s's command for lxc-start (lxc.init.cmd, which LXC splits at\n"
		    "# spaces without quotes), written by cairn export --format lxc.\nexec",
		    img->manifest_digest);
	for (size_t i = 0; i < args->n; i++) {
		cn_buf_addc(&b, ' ');
		arc_sh_quote(&b, args->v[i]);
	}
	cn_buf_addc(&b, '\n');
	return cn_buf_detach(&b);
}

/* LXC's names for the OCI architectures it runs (lxc.arch). */
static const char *lxc_arch(const char *oci)
{
	static const struct { const char *oci, *lxc; } map[] = {
		{ "amd64", "x86_64" }, { "arm64", "aarch64" }, { "386", "i686" }, { "arm", "armhf" },
		{ "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
	};
	for (size_t i = 0; oci && i < CN_ARRAY_SIZE(map); i++)
		if (!strcmp(oci, map[i].oci))
			return map[i].lxc;
	return NULL;
}

/* A signal name or number as LXC reads one ("SIGTERM", "15", "SIGRTMIN+3"). */
static bool plain_signal(const char *s)
{
	return s && *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-") == strlen(s);
}

/* INIT_CMD: lxc.init.cmd's value (NULL: none). */
static char *lxc_config(const struct store_image *img, const struct arc_process *p, const struct cn_user *u,
			const char *init_cmd, const struct arc_export_opts *opts, cn_err *err)
{
	_cleanup_buf_ cn_buf b;
	json_t *cfg = json_object_get(img->config, "config");
	const char *arch = lxc_arch(json_string_value(json_object_get(img->config, "architecture")));
	const char *stop = json_string_value(json_object_get(cfg, "StopSignal"));
	cn_buf_init(&b, 0);
	cn_buf_addf(&b, "# Image %s, written by cairn export --format lxc.\n"
		    "# lxc-create -t local puts its own config (lxc.uts.name, then its network:\n"
		    "# /etc/lxc/default.conf unless -f names another) after these lines.\n",
		    img->manifest_digest);
	cn_buf_adds(&b, "lxc.include = LXC_TEMPLATE_CONFIG/common.conf\n");
	if (arch)
		cn_buf_addf(&b, "lxc.arch = %s\n", arch);
	cn_buf_adds(&b, "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n");
	switch (opts->network) {
	case ARC_NET_NONE:
		cn_buf_adds(&b, "lxc.net.0.type = empty\n");
		break;
	case ARC_NET_HOST:
		cn_buf_adds(&b, "lxc.net.0.type = none\n");
		break;
	case ARC_NET_BRIDGE:
		if (check_value("bridge", opts->bridge ? opts->bridge : "", err) < 0)
			return NULL;
		cn_buf_addf(&b, "lxc.net.0.type = veth\nlxc.net.0.link = %s\nlxc.net.0.flags = up\n",
			    opts->bridge ? opts->bridge : "lxcbr0");
		break;
	}
	if (p->args.n) {
		_cleanup_buf_ cn_buf cmd;
		cn_buf_init(&cmd, 0);
		if (cmd_value(&p->args, &cmd, err) < 0)
			return NULL;
		/* lxc-execute runs it under its init; lxc-start as pid 1. */
		cn_buf_addf(&b, "lxc.execute.cmd = %s\n", cmd.data);
	}
	if (init_cmd)
		cn_buf_addf(&b, "lxc.init.cmd = %s\n", init_cmd);
	cn_buf_addf(&b, "lxc.init.uid = %u\nlxc.init.gid = %u\n", (unsigned)u->uid, (unsigned)u->gid);
	if (check_value("WorkingDir", p->cwd, err) < 0)
		return NULL;
	cn_buf_addf(&b, "lxc.init.cwd = %s\n", p->cwd);
	for (size_t i = 0; i < p->env.n; i++) {
		if (check_value("Env", p->env.v[i], err) < 0)
			return NULL;
		cn_buf_addf(&b, "lxc.environment = %s\n", p->env.v[i]);
	}
	if (plain_signal(stop))
		cn_buf_addf(&b, "lxc.signal.halt = %s\n", stop);
	return cn_buf_detach(&b);
}

static bool is_dir_at(int dirfd, const char *name)
{
	struct stat sb;
	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

static int write_archive(int dirfd, const char *name, const char *root, const struct arc_tree_extra *x,
			 size_t nx, cn_err *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return cn_err_sys(err, "create %s", name);
	if (arc_tree_write(root, ARC_TREE_TAR_XZ, x, nx, fd, err) < 0)
		return cn_err_wrap(err, "%s", name);
	if (fsync(fd) < 0)
		return cn_err_sys(err, "sync %s", name);
	return 0;
}

int arc_export_lxc(struct store *st, const struct store_image *img, const char *ref, const char *dest,
		   const struct arc_export_opts *opts, cn_err *err)
{
	static const char hosts[] = "127.0.0.1\tlocalhost\n127.0.1.1\tLXC_NAME\n"
				    "::1\tlocalhost ip6-localhost ip6-loopback\n";
	static const char hostname[] = "LXC_NAME\n";
	struct store_tmpdir td = { 0 };
	struct arc_process p = { 0 };
	struct cn_user u;
	struct arc_tree_extra rx[4], mx[3];
	size_t nrx = 0, nmx = 0;
	_cleanup_free_ char *tmp = NULL, *rootpath = NULL, *config = NULL, *message = NULL;
	_cleanup_free_ char *init_cmd = NULL, *script = NULL;
	_cleanup_buf_ cn_buf templates, words;
	_cleanup_close_ int root = -1, fd = -1;
	cn_err ignored;
	int rc = -1;

	cn_buf_init(&templates, 0);
	cn_buf_init(&words, 0);
	if (arc_check_dest_dir(dest, err) < 0 || arc_image_process(img, &p, err) < 0)
		return -1;
	if (arc_rootfs_tmp(st, img, &td, &root, err) < 0)
		goto out;
	if (cn_user_resolve(root, *p.user ? p.user : "0", &u, err) < 0) {
		cn_err_wrap(err, "image config: User");
		goto out;
	}
	if (p.args.n && plain_words(&p.args)) {
		cn_buf_adds(&words, p.args.v[0]);
		for (size_t i = 1; i < p.args.n; i++)
			cn_buf_addf(&words, " %s", p.args.v[i]);
		init_cmd = cn_buf_detach(&words);
	} else if (p.args.n && arc_root_has(root, "bin/sh", true)) {
		if (arc_root_has(root, LXC_INIT_NAME, false)) {
			cn_err_fail(err, CN_ERR_UNSUPPORTED, "lxc: the image has " LXC_INIT ", where the export "
				    "puts the launcher lxc-start runs");
			goto out;
		}
		script = init_script(img, &p.args);
		init_cmd = cn_xstrdup(LXC_INIT);
	}
	config = lxc_config(img, &p, &u, init_cmd, opts, err);
	if (!config)
		goto out;
	/* The name the container gets, where the image says none (as lxc-oci
	 * writes them): the template replaces LXC_NAME in the files listed. */
	if (!arc_root_has(root, "etc", false))
		rx[nrx++] = (struct arc_tree_extra){ .path = "etc", .mode = S_IFDIR | 0755 };
	if (nrx || is_dir_at(root, "etc")) {
		if (!arc_root_has(root, "etc/hostname", false)) {
			rx[nrx++] = (struct arc_tree_extra){ .path = "etc/hostname", .mode = S_IFREG | 0644,
							     .data = hostname, .len = strlen(hostname) };
			cn_buf_adds(&templates, "/etc/hostname\n");
		}
		if (!arc_root_has(root, "etc/hosts", false)) {
			rx[nrx++] = (struct arc_tree_extra){ .path = "etc/hosts", .mode = S_IFREG | 0644,
							     .data = hosts, .len = strlen(hosts) };
			cn_buf_adds(&templates, "/etc/hosts\n");
		}
	}
	if (script)
		rx[nrx++] = (struct arc_tree_extra){ .path = LXC_INIT_NAME, .mode = S_IFREG | 0755, .data = script,
						     .len = strlen(script) };
	message = cn_xasprintf("cairn image %s (%s).\n%s", strpbrk(ref, "\n\r") ? "" : ref, img->manifest_digest,
			       !p.args.n ? "It has no command: lxc-execute -n NAME -- CMD.\n" :
			       init_cmd ? "lxc-execute -n NAME runs its command; lxc-start -n NAME starts it as pid 1.\n"
					: "lxc-execute -n NAME runs its command; lxc-start -n NAME -- CMD (the image "
					  "has no /bin/sh to start its command as pid 1).\n");
	mx[nmx++] = (struct arc_tree_extra){ .path = "config", .mode = S_IFREG | 0644, .data = config,
					     .len = strlen(config) };
	mx[nmx++] = (struct arc_tree_extra){ .path = "templates", .mode = S_IFREG | 0644, .data = templates.data,
					     .len = templates.len };
	mx[nmx++] = (struct arc_tree_extra){ .path = "create-message", .mode = S_IFREG | 0644, .data = message,
					     .len = strlen(message) };

	tmp = arc_temp_sibling_dir(dest, err);
	if (!tmp)
		goto out;
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		cn_err_sys(err, "open '%s'", tmp);
		goto fail;
	}
	rootpath = cn_xasprintf("%s/rootfs", td.path);
	if (write_archive(fd, "rootfs.tar.xz", rootpath, rx, nrx, err) < 0 ||
	    write_archive(fd, "meta.tar.xz", NULL, mx, nmx, err) < 0)
		goto fail;
	/* Two archives: nothing in them is reachable as a file. */
	if (fchmod(fd, 0755) < 0) {
		cn_err_sys(err, "chmod '%s'", tmp);
		goto fail;
	}
	rc = arc_dir_commit(tmp, fd, dest, err);
	goto out;
fail:
	cn_rm_rf_at(AT_FDCWD, tmp, &ignored);
out:
	arc_process_free(&p);
	if (root >= 0)
		close(CN_TAKE_FD(root));
	store_tmpdir_remove(st, &td);
	return rc;
}
