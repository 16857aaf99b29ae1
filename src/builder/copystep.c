/* COPY and ADD steps: sources expanded, heredoc files, --from sources,
 * ADD URLs and archives, all copied inside the step's root. */
#include "builder/build_internal.h"
#include "builder/glob.h"
#include "builder/namedctx.h"
#include "builder/rootdir.h"
#include "util/lazylib.h"
#include "util/path.h"

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

struct copy_job {
	struct bf_copy_opts opts;
	const char *chown;
	bool users_in_extra;    /* COPY --link: the root is empty; names are looked up in the image */
	bool add;               /* ADD: local archives are unpacked into DEST */
	char *const *fetched;   /* ADD: per source, its download under fetch_fd ("" for none) */
	int fetch_fd;
	const char *dest_abs;   /* ADD: DEST as an absolute path in the image */
};

/* ADD unpacks a local tar (plain, gzip, zstd, bzip2 or xz, told by its
 * first bytes). Returns 1 for an archive, 0 for any other source, -1 on
 * error; *fd is the open file. */
static int add_archive(const struct copy_job *job, const char *src, int *fd, cn_err *err)
{
	unsigned char head[512];
	struct stat st;
	ssize_t n;
	*fd = -1;
	if (strpbrk(src, "*?[") || (job->opts.ignore && bf_ignore_match(job->opts.ignore, src)))
		return 0;       /* patterns and excluded names: COPY's rules and errors */
	*fd = cn_openat2(job->opts.ctx_fd, *src == '/' ? src + 1 : src, O_RDONLY | O_NONBLOCK,
			 RESOLVE_BENEATH);
	if (*fd < 0 || fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto not_archive;
	n = pread(*fd, head, sizeof(head), 0);
	(void)err;
	if ((n >= 3 && !memcmp(head, "BZh", 3)) || (n >= 6 && !memcmp(head, "\xfd" "7zXZ\0", 6)) ||
	    (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
	    (n >= 4 && !memcmp(head, "\x28\xb5\x2f\xfd", 4)) ||
	    (n >= 262 && !memcmp(head + 257, "ustar", 5)))
		return 1;
not_archive:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return 0;
}

/* ADD: sources in the order written (a later one overwrites an earlier
 * one, as in docker): archives unpacked into DEST (a directory), the others
 * copied as COPY copies them. With several sources DEST ends in '/', so
 * copying them one by one means the same as copying them together. */
static int add_in_root(int root_fd, struct copy_job *job, cn_err *err)
{
	const char *const *srcs = job->opts.srcs;
	size_t nsrcs = job->opts.nsrcs;
	for (size_t i = 0; i < nsrcs; i++) {
		const char *src = srcs[i];
		_cleanup_close_ int in = -1, dest = -1;
		struct layer_extract_opts xo = { .overlay_whiteouts = false, .bzip2_xz = true };
		int r;
		if (job->fetched && *job->fetched[i]) {
			/* A download: copied as a file (docker does not unpack it). */
			struct bf_copy_opts o = job->opts;
			const char *one[1] = { job->fetched[i] };
			o.ctx_fd = job->fetch_fd;
			o.src_is_root = false;
			o.ignore = NULL;
			o.exclude = NULL;
			o.srcs = one;
			o.nsrcs = 1;
			if (bf_copy(&o, err) < 0)
				return cn_err_wrap(err, "'%s'", src);
			continue;
		}
		r = add_archive(job, src, &in, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			job->opts.srcs = &srcs[i];
			job->opts.nsrcs = 1;
			if (bf_copy(&job->opts, err) < 0)
				return -1;
			continue;
		}
		if (job->chown || job->opts.chmod)
			return cn_err_fail(err, CN_ERR_UNSUPPORTED, "'%s': --chown and --chmod on an archive are not "
					  "supported yet", src);
		dest = bf_root_mkdir_p(root_fd, job->dest_abs, 0, 0, err);
		if (dest < 0)
			return -1;
		if (layer_extract(in, dest, &xo, NULL, err) < 0)
			return cn_err_wrap(err, "'%s'", src);
	}
	return 0;
}

static int copy_in_root(int root_fd, int src_fd, void *arg, cn_err *err)
{
	struct copy_job *job = arg;
	job->opts.root_fd = root_fd;
	if (src_fd >= 0 && !job->users_in_extra) {
		job->opts.ctx_fd = src_fd;
		job->opts.src_is_root = true;
	}
	if (job->chown) {
		struct cn_user u = { 0 };
		if (cn_user_resolve(job->users_in_extra ? src_fd : root_fd, job->chown, &u, err) < 0)
			return -1;
		job->opts.chown = true;
		job->opts.uid = u.uid;
		/* docker: a user without a group means the same number as gid. */
		job->opts.gid = strchr(job->chown, ':') ? u.gid : (gid_t)u.uid;
	}
	if (job->add)
		return add_in_root(root_fd, job, err);
	return bf_copy(&job->opts, err);
}

static int parse_chmod(const char *s, mode_t *out)
{
	char *end;
	unsigned long v;
	if (!*s || strlen(s) > 4)
		return -1;
	v = strtoul(s, &end, 8);
	if (*end || v > 07777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

int bd_expand_sources(struct build *b, const struct bf_instr *in, const cn_strv *env,
			  cn_strv *srcs, cn_err *err)
{
	for (size_t i = 0; i < in->srcs.n; i++) {
		char *x;
		if (bd_expand(b, env, in->srcs.v[i], &x, err) < 0)
			return -1;
		cn_strv_push(srcs, x);
	}
	return 0;
}

/* COPY <<NAME: the body (variables expanded unless the delimiter was
 * quoted; quotes kept, as BuildKit) becomes the file NAME, mode 0644. */
static int write_heredocs(struct build *b, const struct bf_instr *in, const cn_strv *env,
			  struct ctr_rootfs *s, cn_strv *names, cn_err *err)
{
	_cleanup_close_ int dir = -1;
	if (mkdirat(s->td.fd, "heredocs", 0755) < 0 ||
	    (dir = openat(s->td.fd, "heredocs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cn_err_sys(err, "create heredoc files");
	for (size_t i = 0; i < in->node->nheredocs; i++) {
		const struct bf_heredoc *hd = &in->node->heredocs[i];
		_cleanup_free_ char *body = bd_heredoc_body(hd), *text = NULL;
		struct bf_lex_opts lex = { .flags = BF_LEX_RAW_QUOTES | BF_LEX_RAW_ESCAPES };
		_cleanup_close_ int fd = -1;
		if (!*hd->name || strchr(hd->name, '/') || !strcmp(hd->name, ".") || !strcmp(hd->name, ".."))
			return cn_err_fail(err, CN_ERR_INVALID, "heredoc name '%s' cannot be a file name", hd->name);
		if (hd->expand) {
			if (bf_expand(body, b->prog.file.escape, env, &lex, &text, NULL, err) < 0)
				return -1;
		} else {
			text = CN_TAKE_PTR(body);
		}
		fd = openat(dir, hd->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 || cn_write_all(fd, text, strlen(text)) < 0 || fchmod(fd, 0644) < 0)
			return cn_err_sys(err, "write heredoc '%s'", hd->name);
		if (b->o->timestamp >= 0) {
			struct timespec t[2] = { { .tv_sec = b->o->timestamp }, { .tv_sec = b->o->timestamp } };
			if (futimens(fd, t) < 0)
				return cn_err_sys(err, "set the times of heredoc '%s'", hd->name);
		}
		cn_strv_pushdup(names, hd->name);
	}
	return 0;
}

/* What COPY --from names: an earlier stage (by name or index) or an image
 * in the store. Fills LAYERS/N (borrowed from the stage, or owned by IMG)
 * and STATE, the digest that identifies the source for the cache. */
int bd_copy_from_source(struct build *b, const struct bf_instr *in, struct store_image *img,
			    const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			    cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_free_ char *from = NULL;
	struct bd_named_dir nd;
	int r;
	memset(img, 0, sizeof(*img));
	/* --build-context NAME=DIR: what is copied from it decides the key. */
	r = bd_named_dir_open(b, in, &nd, err);
	if (r < 0)
		return -1;
	if (r > 0) {
		*layers = NULL;
		*n = 0;
		r = bd_named_dir_digest(b, in, &nd, state, err);
		bd_named_dir_close(&nd);
		return r;
	}
	bd_visible_env(b, &env);
	if (bd_expand(b, &env, in->from, &from, err) < 0)
		return -1;
	return bd_stage_or_image(b, from, img, layers, n, state, err);
}

/* An earlier stage (by name or index) or an image in the store, by FROM. */
int bd_stage_or_image(struct build *b, const char *from, struct store_image *img,
			  const struct store_layer **layers, size_t *n, char state[CN_DIGEST_STR_SIZE],
			  cn_err *err)
{
	struct stage *st;
	const char *named = bd_named_image(b, from);   /* --build-context NAME=docker-image://REF */
	int r;
	memset(img, 0, sizeof(*img));
	if (!named && bd_named_ctx(b, from))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--build-context %s: a directory is read by COPY --from "
				  "only", from);
	st = named ? NULL : bd_find_stage(b, from, true);
	if (st && !st->needed)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "--from=%s: that stage was skipped (cairn could not tell it "
				  "was needed)", from);
	/* A step that runs reads the stage's files: fetch what an imported
	 * cache only named (its key needed no more than the state's digest). */
	if (st && b->executing && bd_materialize(b, st, err) < 0)
		return cn_err_wrap(err, "--from=%s", from);
	if (st) {
		*layers = st->layers;
		*n = st->nlayers;
		memcpy(state, st->state, CN_DIGEST_STR_SIZE);
		return 0;
	}
	for (size_t i = 0; !named && i < b->nstages; i++)
		if (b->stages[i].name && strcasecmp(b->stages[i].name, from) == 0)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "--from=%s: no earlier stage or image has that name "
					  "(the stage '%s' comes later)", from, from);
	r = bd_load_image(b, named ? named : from, img, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "--from=%s: no earlier stage or image in the store has that name",
				  from);
	*layers = img->layers;
	*n = img->nlayers;
	memcpy(state, img->manifest_digest, CN_DIGEST_STR_SIZE);
	return 0;
}

/* ADD: download the URL sources not fetched yet for this step (the cache
 * key may have needed them already), verifying --checksum. */
int bd_fetch_urls(struct build *b, const struct bf_instr *in, const cn_strv *srcs, cn_err *err)
{
	bool any = false;
	for (size_t i = 0; i < srcs->n; i++)
		any |= bf_is_url(srcs->v[i]);
	if (!any)
		return 0;
	if (!b->fetch_td.path && store_tmpdir_create(b->st, "fetch", &b->fetch_td, err) < 0)
		return -1;
	while (b->fetched.n < srcs->n) {
		cn_strv_pushdup(&b->fetched, "");
		cn_strv_pushdup(&b->fetch_digests, "");
	}
	for (size_t i = 0; i < srcs->n; i++) {
		_cleanup_free_ char *name = NULL, *sub = NULL, *path = NULL;
		_cleanup_close_ int dir = -1;
		struct bf_fetch_result res;
		if (!bf_is_url(srcs->v[i]) || *b->fetched.v[i])
			continue;
		if (bf_url_file_name(srcs->v[i], &name, err) < 0)
			return cn_err_wrap(err, "'%s'", srcs->v[i]);
		sub = cn_xasprintf("%zu", i);
		if (mkdirat(b->fetch_td.fd, sub, 0755) < 0 ||
		    (dir = openat(b->fetch_td.fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return cn_err_sys(err, "create '%s/%s'", b->fetch_td.path, sub);
		if (!name)
			name = cn_xstrdup("unnamed");
		if (bf_fetch(srcs->v[i], dir, name, in->checksum, &res, err) < 0)
			return -1;
		path = bf_glob_escape(name);  /* a file name as a COPY source */
		free(b->fetched.v[i]);
		b->fetched.v[i] = cn_xasprintf("%s/%s", sub, path);
		free(b->fetch_digests.v[i]);
		b->fetch_digests.v[i] = cn_xstrdup(res.digest);
	}
	return 0;
}

/* Downloads are the step's alone. */
void bd_fetch_done(struct build *b)
{
	if (b->fetch_td.path)
		store_tmpdir_remove(b->st, &b->fetch_td);
	memset(&b->fetch_td, 0, sizeof(b->fetch_td));
	cn_strv_free(&b->fetched);
	cn_strv_free(&b->fetch_digests);
}

/* COPY/ADD --exclude: the patterns, expanded, as an ignore-file matcher
 * (*OUT NULL when there are none). */
int bd_exclude_matcher(struct build *b, const struct bf_instr *in, const cn_strv *env,
			   struct bf_ignore **out, cn_err *err)
{
	cn_buf text;
	*out = NULL;
	if (!in->excludes.n)
		return 0;
	cn_buf_init(&text, 0);
	for (size_t i = 0; i < in->excludes.n; i++) {
		_cleanup_free_ char *x = NULL;
		if (bd_expand(b, env, in->excludes.v[i], &x, err) < 0) {
			cn_buf_free(&text);
			return -1;
		}
		if (strchr(x, '\n')) {
			cn_buf_free(&text);
			return cn_err_fail(err, CN_ERR_INVALID, "--exclude='%s': a pattern cannot hold a line break", x);
		}
		cn_buf_adds(&text, x);
		cn_buf_addc(&text, '\n');
	}
	*out = bf_ignore_parse("--exclude", text.data, text.len, err);
	cn_buf_free(&text);
	return *out ? 0 : -1;
}

void bd_ignore_freep(struct bf_ignore **ig)
{
	bf_ignore_free(*ig);
}

int bd_do_copy(struct build *b, const struct bf_instr *in, cn_err *err)
{
	__attribute__((cleanup(bd_ignore_freep))) struct bf_ignore *exclude = NULL;
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_strv_ cn_strv srcs = { 0 };
	_cleanup_free_ char *dest = NULL, *chown = NULL, *dest_abs = NULL;
	struct copy_job job;
	const char *wd = bf_config_string(b->cur->cfg, "WorkingDir");
	struct ctr_rootfs s;
	struct bd_named_dir nd __attribute__((cleanup(bd_named_dir_close))) = { .fd = -1 };
	int r;

	bd_visible_env(b, &env);
	if (bd_expand_sources(b, in, &env, &srcs, err) < 0)
		return -1;
	if (bd_expand(b, &env, in->dest, &dest, err) < 0)
		return -1;
	if (in->chown && bd_expand(b, &env, in->chown, &chown, err) < 0)
		return -1;
	/* docker's rule: several sources need a directory destination. */
	if (srcs.n > 1 && !bf_copy_dest_is_dir(dest))
		return cn_err_fail(err, CN_ERR_INVALID, "with more than one source the destination must be "
				  "a directory and end with a /");
	memset(&job, 0, sizeof(job));
	job.chown = chown;
	if (in->chmod && parse_chmod(in->chmod, &job.opts.mode) < 0)
		return cn_err_fail(err, CN_ERR_INVALID, "invalid --chmod '%s': an octal mode is expected", in->chmod);
	job.opts.chmod = in->chmod != NULL;
	job.opts.ctx_fd = b->ctx_fd;
	job.opts.parents = in->parents;
	if (bd_exclude_matcher(b, in, &env, &exclude, err) < 0)
		return -1;
	job.opts.exclude = exclude;
	if (in->node->nheredocs) {
		/* The heredocs are the sources: files of their own in the step dir. */
		if (bd_step_rootfs(b, NULL, &s, err) < 0)
			return -1;
		cn_strv_free(&srcs);
		r = write_heredocs(b, in, &env, &s, &srcs, err);
		if (r == 0) {
			_cleanup_close_ int hd_fd = openat(s.td.fd, "heredocs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			job.opts.ctx_fd = hd_fd;
			job.opts.srcs = (const char *const *)cn_strv_array(&srcs);
			job.opts.nsrcs = srcs.n;
			job.opts.dest = dest;
			job.opts.workdir = wd && *wd ? wd : "/";
			r = hd_fd < 0 ? cn_err_sys(err, "open heredocs") :
				sb_with_rootfs(&s.sb, NULL, copy_in_root, &job, err);
		}
		if (r == 0)
			r = bd_commit_step(b, &s, in->node->original, err);
		ctr_rootfs_free(b->st, &s);
		return r;
	}
	job.opts.srcs = (const char *const *)cn_strv_array(&srcs);
	job.opts.nsrcs = srcs.n;
	job.opts.dest = dest;
	job.opts.workdir = wd && *wd ? wd : "/";
	/* --build-context NAME=DIR: that directory is the context, with its ignore file. */
	if (bd_named_dir_open(b, in, &nd, err) < 0)
		return -1;
	if (nd.fd >= 0)
		job.opts.ctx_fd = nd.fd;
	job.opts.ignore = in->from ? nd.ignore : b->ignore;  /* filters the build context only */
	job.add = in->kind == BF_ADD;
	for (size_t i = 0; job.add && i < srcs.n; i++) {
		_cleanup_free_ char *name = NULL;
		if (!bf_is_url(srcs.v[i]))
			continue;
		if (bf_url_file_name(srcs.v[i], &name, err) < 0)
			return cn_err_wrap(err, "'%s'", srcs.v[i]);
		if (!name && (!*dest || dest[strlen(dest) - 1] == '/'))
			return cn_err_fail(err, CN_ERR_INVALID, "'%s': the URL names no file (expected DEST to be "
					  "a file name, not a directory)", srcs.v[i]);
	}
	if (job.add && bd_fetch_urls(b, in, &srcs, err) < 0)
		return -1;
	/* ADD may unpack an archive in the sandbox's child: libarchive is
	 * loaded here, so that child never runs the dynamic loader. */
	if (job.add && cn_lazyarchive_load && cn_lazyarchive_load(err) < 0)
		return -1;
	if (b->fetched.n) {
		job.fetched = b->fetched.v;
		job.fetch_fd = b->fetch_td.fd;
	}
	dest_abs = bd_abs_path(job.opts.workdir, dest);
	job.dest_abs = dest_abs;
	if (in->link && in->from && chown && strspn(chown, "0123456789:") != strlen(chown))
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "--link with --from and --chown=%s: user and group "
				  "names cannot be looked up there (use numbers)", chown);
	if (bd_step_rootfs(b, NULL, &s, err) < 0)
		return -1;
	/* --link: the layer is made on an empty root, as BuildKit does, so it
	 * depends on nothing below it; names for --chown come from the image. */
	struct sb_rootfs below = s.sb;
	if (in->link)
		s.sb.nlowers = 0;
	if (in->from && nd.fd < 0) {
		/* The source stage or image, mounted read-only beside the root. */
		struct store_image img;
		const struct store_layer *layers;
		size_t n;
		char state[CN_DIGEST_STR_SIZE];
		_cleanup_strv_ cn_strv lowers = { 0 };
		_cleanup_free_ char *src = cn_xasprintf("%s/src", s.td.path);
		struct sb_rootfs from;
		r = bd_copy_from_source(b, in, &img, &layers, &n, state, err);
		if (r == 0 && n == 0)
			r = cn_err_fail(err, CN_ERR_INVALID, "--from=%s: the source has no files", in->from);
		if (r == 0)
			r = ctr_rootfs_lowers(b->st, layers, n, &lowers, err);
		if (r == 0) {
			from = (struct sb_rootfs){ .lowers = (const char *const *)lowers.v, .nlowers = lowers.n,
						   .merged = src, .empty = s.empty };
			r = sb_with_rootfs(&s.sb, &from, copy_in_root, &job, err);
		}
		store_image_free(&img);
	} else if (in->link && chown && below.nlowers > 0) {
		_cleanup_free_ char *merged = cn_xasprintf("%s/src", s.td.path);
		below.upper = NULL;
		below.merged = merged;
		job.users_in_extra = true;
		r = sb_with_rootfs(&s.sb, &below, copy_in_root, &job, err);
	} else {
		r = sb_with_rootfs(&s.sb, NULL, copy_in_root, &job, err);
	}
	if (r == 0)
		r = bd_commit_step(b, &s, in->node->original, err);
	ctr_rootfs_free(b->st, &s);
	return r;
}

/* PATH as an absolute, clean path in the image, a relative one taken from
 * the working directory CWD (NULL or "": the root), as BuildKit resolves a
 * destination, a WORKDIR or a mount target: "a/./b/../c//" in /w is
 * "/w/a/c", and ".." stops at the root. */
char *bd_abs_path(const char *cwd, const char *path)
{
	_cleanup_free_ char *rel = cn_path_join(*path == '/' || !cwd ? "" : cwd, path);
	_cleanup_free_ char *abs = cn_xasprintf("/%s", rel);
	return cn_path_clean(abs);
}

int bd_from_named_dir(struct build *b, const char *name, const char *dir, cn_err *err)
{
	struct bd_named_dir nd __attribute__((cleanup(bd_named_dir_close))) = { .fd = -1 };
	static const char *const all[] = { "." };
	char digest[CN_DIGEST_STR_SIZE], fp[CN_DIGEST_STR_SIZE], key[CN_DIGEST_STR_SIZE];
	struct copy_job job;
	struct ctr_rootfs s;
	cn_sha256 h;
	int r;
	if (bd_named_dir_open_name(name, dir, &nd, err) < 0)
		return -1;
	b->cur->cfg = bf_config_new();
	bd_root_key(b, "scratch");
	memset(&job, 0, sizeof(job));
	job.opts = (struct bf_copy_opts){ .ctx_fd = nd.fd, .root_fd = -1, .srcs = all, .nsrcs = 1,
					  .dest = "/", .workdir = "/", .ignore = nd.ignore };
	if (bf_copy_digest(&job.opts, nd.path, b->sc, digest, fp, err) < 0)
		return cn_err_wrap(err, "--build-context %s", name);
	cn_sha256_init(&h);
	bd_hash_field(&h, b->cur->key);
	bd_hash_field(&h, "FROM a --build-context directory");
	bd_hash_field(&h, digest);
	cn_sha256_final(&h, key);
	if (!b->o->no_cache && bd_cache_lookup(b, key) == 1)
		return 0;
	if (bd_step_rootfs(b, NULL, &s, err) < 0)
		return -1;
	r = sb_with_rootfs(&s.sb, NULL, copy_in_root, &job, err);
	if (r == 0) {
		_cleanup_free_ char *by = cn_xasprintf("FROM %s (a --build-context directory)", name);
		r = bd_commit_step(b, &s, by, err);
	}
	ctr_rootfs_free(b->st, &s);
	if (r < 0)
		return cn_err_wrap(err, "--build-context %s", name);
	return bd_commit_state(b, key, err);
}
