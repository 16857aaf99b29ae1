/* The walk over the context, shared by bf_copy and bf_copy_digest (see
 * copy_internal.h), written against a hostile tree: the build context may
 * hold symlinks out of it, fifos, devices and may change while we read it.
 * Named sources are resolved with openat2(RESOLVE_BENEATH), everything
 * below them is walked by fd with O_NOFOLLOW, each open is checked against
 * the lstat that chose it (an entry the directory lists as a regular file
 * is opened without one, O_NONBLOCK, and used only if its fstat says
 * regular file), and special files are handed to the sink, never opened.
 * What the sinks see of a file is the fstat of its open fd. An entry the
 * listing calls a regular file is opened by name straight away, so a
 * device node swapped in between would be opened (its driver's open runs;
 * the fstat then sends it the long way, it is never read; making one
 * needs CAP_MKNOD). Memory is
 * what one directory's names take, per level of depth, plus an entry per
 * file with st_nlink >= 2 (copy_hardlink_add, to link its other names):
 * a context of hard-linked files (pnpm's store) costs memory per file.
 * The ignore file filters this walk, so both sinks leave out the same
 * entries. */
#include "builder/copy_internal.h"
#include "builder/glob.h"
#include "builder/ignore.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WH_PREFIX ".wh."

/* Sources in a build context must not leave it (an error); in an image
 * (COPY --from) they are resolved as if it were the root, symlinks too. */
static unsigned long long src_resolve(const struct copier *c)
{
	return c->o->src_is_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH;
}

/* ---- paths ---- */

int copy_split_clean(const char *path, bool rooted, cn_strv *out)
{
	_cleanup_free_ char *clean = NULL;
	if (rooted) {
		_cleanup_free_ char *abs = cn_xasprintf("/%s", path);
		clean = cn_path_clean(abs);
	} else if (!(clean = cn_path_clean_rel(path))) {
		return -1;
	}
	cn_path_split(clean, out);
	return 0;
}

int copy_check_wh(struct copier *c, const char *name, const char *show)
{
	if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return cn_err_fail(c->err, CN_ERR_INVALID, "'%s': names starting with " WH_PREFIX
				  " cannot be stored in a layer", show);
	return 0;
}

/* ---- the build context ---- */

/* Where sources are read from, for messages. */
static const char *src_name(const struct copier *c)
{
	return c->o->src_is_root ? "the source stage or image" : "the build context";
}

static int ctx_error(struct copier *c, int e, const char *show)
{
	if (e == ENOENT || e == ENOTDIR)
		return cn_err_fail(c->err, CN_ERR_NOT_FOUND, "'%s': no such file or directory in %s", show,
				    src_name(c));
	if (e == EXDEV)
		return cn_err_fail(c->err, CN_ERR_INVALID, "'%s': points outside %s", show, src_name(c));
	if (e == ELOOP)     /* a loop, or a link that leaves the root: say which */
		return cn_err_errno(c->err, ELOOP, "'%s': points outside %s", show, src_name(c));
	return cn_err_errno(c->err, e, "'%s': cannot open in %s", show, src_name(c));
}

/* Open PATH (context-relative, final symlink followed as docker does) with
 * FLAGS; the fd is checked to be the object a prior O_PATH lookup saw, so a
 * swap between the two opens is caught. *GOT (may be NULL): its fstat. */
static int ctx_open(struct copier *c, const char *path, uint64_t flags, const struct stat *want,
		    const char *show, struct stat *got)
{
	struct stat st;
	int fd = cn_openat2(c->o->ctx_fd, *path ? path : ".", flags, src_resolve(c));
	if (fd < 0)
		return ctx_error(c, errno, show);
	if ((want || got) && fstat(fd, &st) < 0) {
		cn_err_sys(c->err, "'%s': stat", show);
		close(fd);
		return -1;
	}
	if (want && (st.st_dev != want->st_dev || st.st_ino != want->st_ino ||
		     (st.st_mode & S_IFMT) != (want->st_mode & S_IFMT))) {
		close(fd);
		return cn_err_fail(c->err, CN_ERR_BUSY, "'%s': changed while being copied", show);
	}
	if (got)
		*got = st;
	return fd;
}

int copy_ctx_stat(struct copier *c, const char *path, struct stat *st, const char *show)
{
	_cleanup_close_ int fd = ctx_open(c, path, O_PATH, NULL, show, NULL);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		return cn_err_sys(c->err, "'%s': stat", show);
	return 0;
}

/* A directory entry and its d_type (DT_UNKNOWN where the file system
 * does not say). */
struct dent {
	char *name;
	unsigned char type;
};

static int cmp_dents(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static void dents_free(struct dent *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The entries of the directory open at FD (which stays open), with their
 * types: *V (N entries, freed with dents_free even on failure) sorted by name. */
static int read_dents(int fd, struct dent **v, size_t *n, const char *show, cn_err *err)
{
	int dfd = dup(fd);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0;
	*v = NULL;
	*n = 0;
	if (dfd < 0)
		return cn_err_sys(err, "'%s': dup", show);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cn_err_sys(err, "'%s': open directory", show);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cn_xgrow((void **)v, &cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] = (struct dent){ .name = cn_xstrdup(de->d_name), .type = de->d_type };
	}
	if (errno)
		return cn_err_sys(err, "'%s': read directory", show);
	if (*n)
		qsort(*v, *n, sizeof(**v), cmp_dents);
	return 0;
}

/* Sorted names of the directory open at FD (which stays open). */
static int read_names(int fd, cn_strv *names, const char *show, cn_err *err)
{
	struct dent *v;
	size_t n;
	int r = read_dents(fd, &v, &n, show, err);
	for (size_t i = 0; r == 0 && i < n; i++) {
		cn_strv_push(names, v[i].name);     /* the name moves to NAMES */
		v[i].name = NULL;
	}
	dents_free(v, n);
	return r;
}

/* ---- the ignore file ---- */

/* PATH (context-relative) with every symlink in it resolved as
 * openat2(RESOLVE_BENEATH) resolves it, as a clean context path: the path
 * the ignore file is matched against (docker filters the context by real
 * paths, then follows links in what is left). A link out of the context
 * is the usual error; from a missing component on, the rest is kept as
 * written (opening it reports the missing file). Returns 1 (and no path)
 * when the way goes through a symlink the ignore file excludes: docker
 * would not have sent it. */
/* The components of PATH onto the stack TODO, last one first (so the
 * first is popped first). */
static void push_reversed(cn_strv *todo, const char *path)
{
	for (const char *e = path + strlen(path); e > path;) {
		const char *b = e;
		while (b > path && b[-1] != '/')
			b--;
		if (b < e)
			cn_strv_push(todo, cn_xstrndup(b, (size_t)(e - b)));
		e = b > path ? b - 1 : b;
	}
}

static int ctx_resolve(struct copier *c, const char *path, char **real, const char *show)
{
	_cleanup_strv_ cn_strv done = { 0 }, todo = { 0 };
	int links = 0;

	push_reversed(&todo, path);
	while (todo.n > 0) {
		_cleanup_free_ char *name = todo.v[--todo.n];
		_cleanup_free_ char *cur = NULL;
		_cleanup_close_ int fd = -1;
		char target[PATH_MAX];
		struct stat st;
		ssize_t len;

		todo.v[todo.n] = NULL;
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			if (done.n == 0)
				return ctx_error(c, EXDEV, show);
			free(done.v[--done.n]);
			done.v[done.n] = NULL;
			continue;
		}
		cn_strv_pushdup(&done, name);
		cur = cn_path_join_all(done.v, done.n);
		fd = cn_openat2(c->o->ctx_fd, cur, O_PATH | O_NOFOLLOW,
				RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
			/* Missing: the rest as written. */
			while (todo.n > 0) {
				char *rest = todo.v[--todo.n];
				todo.v[todo.n] = NULL;
				if (!strcmp(rest, "..") && done.n > 0) {
					free(done.v[--done.n]);
					done.v[done.n] = NULL;
				} else if (strcmp(rest, ".") && strcmp(rest, "..")) {
					cn_strv_pushdup(&done, rest);
				}
				free(rest);
			}
			break;
		}
		if (fd < 0 || fstat(fd, &st) < 0)
			return ctx_error(c, errno, show);
		if (!S_ISLNK(st.st_mode))
			continue;
		if (c->ig) {
			_cleanup_free_ unsigned char *state = cn_xmalloc(c->nign);
			if (bf_ignore_path(c->ig, cur, state))
				return 1;
		}
		free(done.v[--done.n]);
		done.v[done.n] = NULL;
		if (++links > COPY_MAX_SYMLINKS)
			return ctx_error(c, ELOOP, show);
		len = readlinkat(fd, "", target, sizeof(target) - 1);
		if (len < 0)
			return cn_err_sys(c->err, "'%s': read symlink", show);
		target[len] = '\0';
		if (target[0] == '/')
			return ctx_error(c, EXDEV, show);
		push_reversed(&todo, target);
	}
	*real = cn_path_join_all(done.v, done.n);
	return 0;
}

/* Does the excluded directory open at FD (context path CPATH, ignore
 * state STATE) hold an entry the ignore file lets through, at any depth?
 * Only directories are opened; directories nothing can be re-included
 * from are not entered. Returns 1, 0, or -1 on error. */
static int has_visible(struct copier *c, int fd, const char *cpath, const unsigned char *state,
		       int depth)
{
	_cleanup_strv_ cn_strv names = { 0 };
	_cleanup_free_ unsigned char *cstate = cn_xmalloc(c->nign);
	if (depth > COPY_MAX_DEPTH)
		return 1;       /* let the walk report it */
	if (read_names(fd, &names, cpath, c->err) < 0)
		return -1;
	for (size_t k = 0; k < names.n; k++) {
		_cleanup_free_ char *cchild = cn_path_join(cpath, names.v[k]);
		_cleanup_close_ int cfd = -1;
		struct stat st;
		int r;
		if (!bf_ignore_child(c->ig, cchild, state, cstate))
			return 1;
		if (!bf_ignore_may_reinclude(c->ig, cchild, cstate) ||
		    fstatat(fd, names.v[k], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		cfd = openat(fd, names.v[k], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
			continue;       /* changed since: the walk will see */
		if (cfd < 0)
			return cn_err_sys(c->err, "'%s': open", cchild);
		r = has_visible(c, cfd, cchild, cstate, depth + 1);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Is the entry NAME of the context directory SDIRFD (context path CPATH)
 * there for COPY, given its directory's ignore state PARENT (NULL: the
 * context root)? STATE receives its own. An excluded directory is there
 * when it holds an entry that is (docker sends it as that entry's
 * parent). Returns 1, 0, or -1 on error. */
static int child_visible(struct copier *c, int sdirfd, const char *name, const char *cpath,
			 const unsigned char *parent, unsigned char *state)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	if (!bf_ignore_child(c->ig, cpath, parent, state))
		return 1;
	/* Checked first: no stat at all for what nothing can re-include. */
	if (!bf_ignore_may_reinclude(c->ig, cpath, state))
		return 0;
	if (fstatat(sdirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return 0;
	fd = openat(sdirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
		return 0;
	if (fd < 0)
		return cn_err_sys(c->err, "'%s': open", cpath);
	return has_visible(c, fd, cpath, state, 0);
}

/* The same for a source at the resolved context path REAL. */
static int source_visible(struct copier *c, const char *real)
{
	_cleanup_free_ unsigned char *state = cn_xmalloc(c->nign);
	_cleanup_close_ int fd = -1;
	if (!bf_ignore_path(c->ig, real, state))
		return 1;
	if (!bf_ignore_may_reinclude(c->ig, real, state))
		return 0;
	fd = cn_openat2(c->o->ctx_fd, real, O_RDONLY | O_DIRECTORY, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return 0;
	return has_visible(c, fd, real, state, 0);
}

static int excluded_error(struct copier *c, const char *show)
{
	const char *name = strrchr(bf_ignore_name(c->ig), '/');
	return cn_err_fail(c->err, CN_ERR_NOT_FOUND, "'%s': no such file or directory in the build "
			    "context (excluded by %s)", show, name ? name + 1 : bf_ignore_name(c->ig));
}

static void glob_freep(struct bf_glob *g)
{
	bf_glob_free(g);
}

/* filepath.Match's syntax: COPY refuses a malformed pattern. */
static bool glob_valid(const char *pat)
{
	struct bf_glob g;
	if (bf_glob_compile(&g, pat, strlen(pat), 0))
		return false;
	bf_glob_free(&g);
	return true;
}

/* Expand components COMPS[I..N) below the context directory PREFIX ("" is
 * the context root), appending the existing matches to OUT in walk order
 * (names sorted within each directory). A missing directory on the way is
 * simply no match; a symlink leading out of the context is an error. */
static int glob_walk(struct copier *c, char *const *comps, size_t n, size_t i, const char *prefix,
		     cn_strv *out)
{
	_cleanup_strv_ cn_strv names = { 0 };
	_cleanup_(glob_freep) struct bf_glob g = { 0 };
	_cleanup_close_ int fd = -1;

	if (i == n) {
		fd = cn_openat2(c->o->ctx_fd, *prefix ? prefix : ".", O_PATH, src_resolve(c));
		if (fd < 0)
			return errno == ENOENT || errno == ENOTDIR ? 0 : ctx_error(c, errno, prefix);
		cn_strv_pushdup(out, prefix);
		return 0;
	}
	if (!bf_glob_has_meta(comps[i])) {
		_cleanup_free_ char *lit = bf_glob_unescape(comps[i]);
		_cleanup_free_ char *next = cn_path_join(prefix, lit);
		return glob_walk(c, comps, n, i + 1, next, out);
	}
	if (bf_glob_compile(&g, comps[i], strlen(comps[i]), 0))
		return cn_err_fail(c->err, CN_ERR_INVALID, "'%s': malformed wildcard pattern", comps[i]);
	fd = cn_openat2(c->o->ctx_fd, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY,
			   src_resolve(c));
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : ctx_error(c, errno, prefix);
	if (read_names(fd, &names, *prefix ? prefix : ".", c->err) < 0)
		return -1;
	for (size_t k = 0; k < names.n; k++) {
		_cleanup_free_ char *next = NULL;
		if (!bf_glob_match(&g, names.v[k], strlen(names.v[k])))
			continue;
		next = cn_path_join(prefix, names.v[k]);
		/* A directory excluded whole is not expanded into. */
		if (c->ig && i + 1 < n) {
			_cleanup_free_ unsigned char *state = cn_xmalloc(c->nign);
			_cleanup_free_ char *real = NULL;
			int r = ctx_resolve(c, next, &real, next);
			if (r < 0)
				return -1;
			if (r > 0 || (bf_ignore_path(c->ig, real, state) &&
				      !bf_ignore_may_reinclude(c->ig, real, state)))
				continue;
		}
		if (glob_walk(c, comps, n, i + 1, next, out) < 0)
			return -1;
	}
	return 0;
}

/* PATH without its first N components. */
static const char *skip_components(const char *path, size_t n)
{
	while (n-- > 0 && *path) {
		const char *slash = strchr(path, '/');
		path = slash ? slash + 1 : path + strlen(path);
	}
	return path;
}

/* COPY --parents: how many leading components of SRC are not kept: those
 * before the root marker "/./" (BuildKit's), else none. */
static size_t parents_root(const char *src)
{
	const char *mark = strstr(src, "/./");
	_cleanup_strv_ cn_strv comps = { 0 };
	_cleanup_free_ char *prefix = NULL;
	if (!mark)
		return 0;
	prefix = cn_xstrndup(src, (size_t)(mark - src));
	if (copy_split_clean(prefix, false, &comps) < 0)
		return 0;
	return comps.n;
}

/* Sources -> context paths (PATHS), the same with symlinks resolved
 * (REALS: what the ignore file is matched against and what is opened;
 * without an ignore file, PATHS again) and the names to show in errors
 * (SHOWS). Sources the ignore file excludes are left out of pattern
 * matches and an error when named. *WILD is set when any source was a
 * pattern. */
static int expand_sources(struct copier *c, cn_strv *paths, cn_strv *reals, cn_strv *shows,
			  bool *wild)
{
	for (size_t i = 0; i < c->o->nsrcs; i++) {
		const char *src = c->o->srcs[i];
		_cleanup_strv_ cn_strv comps = { 0 }, found = { 0 };
		size_t before = paths->n;

		if (copy_split_clean(src, false, &comps) < 0)
			return ctx_error(c, EXDEV, src);
		if (!bf_glob_has_meta(src)) {
			cn_strv_push(&found, cn_path_join_all(comps.v, comps.n));
		} else {
			*wild = true;
			for (size_t k = 0; k < comps.n; k++)
				if (!glob_valid(comps.v[k]))
					return cn_err_fail(c->err, CN_ERR_INVALID, "'%s': malformed "
							  "wildcard pattern", src);
			if (glob_walk(c, comps.v, comps.n, 0, "", &found) < 0)
				return -1;
		}
		size_t lit = 0, strip = 0;
		while (lit < comps.n && !bf_glob_has_meta(comps.v[lit]))
			lit++;
		if (c->o->parents)
			strip = parents_root(src);
		for (size_t k = 0; k < found.n; k++) {
			char *real = NULL;
			const char *show = bf_glob_has_meta(src) ? found.v[k] : src;
			int vis = 1;
			/* --exclude filters what a pattern matched, relative to where it
			 * was expanded (a named source is never excluded). */
			if (c->ex && bf_glob_has_meta(src)) {
				const char *rel = skip_components(found.v[k], lit);
				_cleanup_free_ unsigned char *xs = cn_xmalloc(bf_ignore_count(c->ex));
				if (bf_ignore_path(c->ex, rel, xs) && !bf_ignore_may_reinclude(c->ex, rel, xs))
					continue;
			}
			if (c->ig) {
				int r = ctx_resolve(c, found.v[k], &real, show);
				if (r < 0)
					return -1;
				vis = r > 0 ? 0 : source_visible(c, real);
			}
			if (vis < 0) {
				free(real);
				return -1;
			}
			if (vis == 0 && !bf_glob_has_meta(src)) {
				free(real);
				return excluded_error(c, src);
			}
			if (vis == 0) {
				free(real);
				continue;       /* not in the context docker would send */
			}
			cn_strv_pushdup(paths, found.v[k]);
			cn_strv_push(reals, real ? real : cn_xstrdup(found.v[k]));
			cn_strv_pushdup(shows, show);
			if (c->o->parents) {
				/* The path below the root marker ("" for a directory
				 * that is the marker itself: its contents go to DEST). */
				const char *from = skip_components(found.v[k], strip);
				cn_strv_pushdup(&c->places, strcmp(from, ".") ? from : "");
			}
		}
		if (bf_glob_has_meta(src) && paths->n == before)
			return cn_err_fail(c->err, CN_ERR_NOT_FOUND, "'%s': no source files were specified "
					  "(no files in %s match)", src, src_name(c));
	}
	return 0;
}
/* ---- shared with the sinks ---- */

/* The hard links table is searched by (device, inode): a hash table
 * (linear probing, at most half full) of indexes into c->links, so that a
 * context made of hard links (pnpm's node_modules) is not quadratic. */
static size_t link_slot(const struct copier *c, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32 | (uint64_t)dev >> 32)) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 16) & (c->link_slots_n - 1);
}

/* An earlier copied file with the same source inode as ST, or NULL. */
const struct hardlink *copy_hardlink_find(const struct copier *c, const struct stat *st)
{
	if (st->st_nlink < 2 || !c->link_slots_n)
		return NULL;
	for (size_t i = link_slot(c, st->st_dev, st->st_ino); c->link_slots[i];
	     i = (i + 1) & (c->link_slots_n - 1)) {
		const struct hardlink *h = &c->links[c->link_slots[i] - 1];
		if (h->sdev == st->st_dev && h->sino == st->st_ino)
			return h;
	}
	return NULL;
}

static void link_place(struct copier *c, size_t idx)
{
	size_t i = link_slot(c, c->links[idx].sdev, c->links[idx].sino);
	while (c->link_slots[i])
		i = (i + 1) & (c->link_slots_n - 1);
	c->link_slots[i] = idx + 1;
}

void copy_hardlink_add(struct copier *c, const struct stat *st, const char *rel, const struct stat *dst)
{
	if (st->st_nlink < 2)
		return;
	if (c->nlinks == c->links_cap) {
		c->links_cap = c->links_cap ? 2 * c->links_cap : 16;
		c->links = cn_xrealloc(c->links, c->links_cap * sizeof(*c->links));
	}
	c->links[c->nlinks++] = (struct hardlink){ .sdev = st->st_dev, .sino = st->st_ino,
						   .ddev = dst ? dst->st_dev : 0, .dino = dst ? dst->st_ino : 0,
						   .rel = cn_xstrdup(rel) };
	if (2 * c->nlinks > c->link_slots_n) {
		free(c->link_slots);
		c->link_slots_n = c->link_slots_n ? 2 * c->link_slots_n : 64;
		c->link_slots = cn_xcalloc(c->link_slots_n, sizeof(*c->link_slots));
		for (size_t i = 0; i < c->nlinks; i++)
			link_place(c, i);
	} else {
		link_place(c, c->nlinks - 1);
	}
}

void copy_copier_free(struct copier *c)
{
	for (size_t i = 0; i < c->nlinks; i++)
		free(c->links[i].rel);
	free(c->links);
	free(c->link_slots);
	cn_strv_free(&c->places);
	free(c->chunk);
	free(c->xlist);
	free(c->xval);
}

/* The target of the symlink NAME in SDIRFD, verbatim. */
int copy_read_target(struct copier *c, int sdirfd, const char *name, char target[PATH_MAX],
		       const char *show)
{
	ssize_t n = readlinkat(sdirfd, name, target, PATH_MAX);
	if (n < 0)
		return cn_err_sys(c->err, "'%s': read symlink", show);
	if ((size_t)n >= PATH_MAX)
		return cn_err_fail(c->err, CN_ERR_TOO_BIG, "'%s': symlink target too long", show);
	target[n] = '\0';
	return 0;
}

/* ---- the walk over the context (shared by bf_copy and bf_copy_digest) ---- */

static int walk_contents(struct copier *c, int sfd, const char *cpath, const struct dest *d,
			 int depth, const unsigned char *state);

/* Source directory SFD (context path CPATH, ignore state STATE) becomes
 * DNAME in D. */
static int walk_dir(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		    const char *dname, const char *rel, const char *cpath, int depth,
		    const unsigned char *state)
{
	_cleanup_close_ int dfd = -1;
	bool created = false;
	if (depth > COPY_MAX_DEPTH)
		return cn_err_fail(c->err, CN_ERR_INVALID, "'%s': directories nested deeper than %d levels",
				  cpath, COPY_MAX_DEPTH);
	if (c->sink->dir_begin(c, sfd, st, d, dname, rel, cpath, &dfd, &created) < 0)
		return -1;
	if (walk_contents(c, sfd, cpath, &(struct dest){ .fd = dfd, .rel = rel }, depth, state) < 0)
		return -1;
	return c->sink->dir_end ? c->sink->dir_end(c, sfd, st, dfd, created, cpath) : 0;
}

/* Open NAME under the context directory SDIRFD without following it, and
 * check it is still what lstat saw; *GOT: its fstat. */
static int open_child(struct copier *c, int sdirfd, const char *name, int flags,
		      const struct stat *want, const char *show, struct stat *got)
{
	int fd = openat(sdirfd, name, flags | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == ENOENT))
		return cn_err_fail(c->err, CN_ERR_BUSY, "'%s': changed while being copied", show);
	if (fd < 0)
		return cn_err_sys(c->err, "'%s': open", show);
	if (fstat(fd, got) < 0 || got->st_dev != want->st_dev || got->st_ino != want->st_ino ||
	    (got->st_mode & S_IFMT) != (want->st_mode & S_IFMT)) {
		close(fd);
		return cn_err_fail(c->err, CN_ERR_BUSY, "'%s': changed while being copied", show);
	}
	return fd;
}

/* One entry NAME of a copied directory (ignore state STATE, TYPE its
 * d_type); nothing here follows a symlink. */
static int walk_child(struct copier *c, int sdirfd, const char *name, unsigned char type,
		      const char *cpath, const struct dest *d, const char *rel, int depth,
		      const unsigned char *state)
{
	_cleanup_close_ int fd = -1;
	struct stat st, fst;
	/* Most entries are regular files: opened straight away (no lstat
	 * first), which is safe as the lstat-then-open below is: O_NOFOLLOW,
	 * O_NONBLOCK (a fifo put there cannot hang the open), and anything
	 * but a regular file on the fd goes the long way. */
	if (type == DT_REG) {
		fd = openat(sdirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &fst) == 0 && S_ISREG(fst.st_mode))
			return c->sink->file(c, fd, &fst, d, name, rel, cpath, cpath);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (fstatat(sdirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;       /* removed since readdir */
		return cn_err_sys(c->err, "'%s': stat", cpath);
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		fd = open_child(c, sdirfd, name, O_RDONLY | O_DIRECTORY, &st, cpath, &fst);
		if (fd < 0)
			return -1;
		return walk_dir(c, fd, &st, d, name, rel, cpath, depth + 1, state);
	case S_IFREG:
		/* O_NONBLOCK: should it have become a fifo, the open cannot hang. */
		fd = open_child(c, sdirfd, name, O_RDONLY | O_NONBLOCK, &st, cpath, &fst);
		if (fd < 0)
			return -1;
		return c->sink->file(c, fd, &fst, d, name, rel, cpath, cpath);
	case S_IFLNK:
		return c->sink->symlink(c, sdirfd, name, &st, d, rel, cpath);
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		return c->sink->special(c, &st, d, name, rel, cpath);
	default:
		return 0;       /* sockets have no place in a layer */
	}
}

/* --exclude: is the entry NAME of SDIRFD (context path CPATH) left out?
 * Matched relative to the source being walked. A directory an exception
 * may re-include from is walked, its entries decided one by one. */
static bool excluded_entry(struct copier *c, int sdirfd, const char *name, const char *cpath)
{
	_cleanup_free_ unsigned char *xs = cn_xmalloc(bf_ignore_count(c->ex));
	size_t blen = c->src_base ? strlen(c->src_base) : 0;
	const char *rel = cpath;
	struct stat st;
	if (blen && strcmp(c->src_base, ".") && !strncmp(cpath, c->src_base, blen) && cpath[blen] == '/')
		rel = cpath + blen + 1;
	if (!bf_ignore_path(c->ex, rel, xs))
		return false;
	if (!bf_ignore_may_reinclude(c->ex, rel, xs))
		return true;
	return fstatat(sdirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode);
}

/* The entries of the directory SFD (context path CPATH, ignore state
 * STATE) into D, sorted bytewise, but those the ignore file leaves out. */
static int walk_contents(struct copier *c, int sfd, const char *cpath, const struct dest *d,
			 int depth, const unsigned char *state)
{
	_cleanup_free_ unsigned char *cstate = c->ig ? cn_xmalloc(c->nign) : NULL;
	struct dent *v;
	size_t n;
	int r = 0;
	if (read_dents(sfd, &v, &n, cpath, c->err) < 0) {
		dents_free(v, n);
		return -1;
	}
	for (size_t k = 0; r == 0 && k < n; k++) {
		_cleanup_free_ char *cchild = cn_path_join(cpath, v[k].name);
		_cleanup_free_ char *rel = NULL;
		int vis = c->ig ? child_visible(c, sfd, v[k].name, cchild, state, cstate) : 1;
		if (vis < 0) {
			r = -1;
			break;
		}
		if (vis == 0 || (c->ex && excluded_entry(c, sfd, v[k].name, cchild)))
			continue;
		rel = cn_path_join(d->rel, v[k].name);
		if (copy_check_wh(c, v[k].name, cchild) < 0 ||
		    walk_child(c, sfd, v[k].name, v[k].type, cchild, d, rel, depth, cstate) < 0)
			r = -1;
	}
	dents_free(v, n);
	return r;
}

/* One expanded source: see copy_internal.h. */
int copy_walk_source(struct copier *c, const char *path, const char *real, const char *show,
		       const struct dest *d, const char *dname)
{
	_cleanup_free_ unsigned char *state = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *rel = NULL;
	struct stat st, fst;

	if (copy_ctx_stat(c, real, &st, show) < 0)
		return -1;
	c->src_base = real;
	if (S_ISDIR(st.st_mode)) {
		fd = ctx_open(c, real, O_RDONLY | O_DIRECTORY, &st, show, NULL);
		if (fd < 0)
			return -1;
		if (c->ig) {
			state = cn_xmalloc(c->nign);
			bf_ignore_path(c->ig, real, state);
		}
		if (!dname) {
			if (c->sink->contents && c->sink->contents(c, fd, &st, d, show) < 0)
				return -1;
			return walk_contents(c, fd, real, d, 0, state);
		}
		rel = cn_path_join(d->rel, dname);
		return walk_dir(c, fd, &st, d, dname, rel, real, 0, state);
	}
	if (!dname) {
		const char *slash = strrchr(path, '/');
		dname = slash ? slash + 1 : path;
		if (c->sink->check_top_name && copy_check_wh(c, dname, show) < 0)
			return -1;
	}
	rel = cn_path_join(d->rel, dname);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		fd = ctx_open(c, real, O_RDONLY | O_NONBLOCK, &st, show, &fst);
		if (fd < 0)
			return -1;
		return c->sink->file(c, fd, &fst, d, dname, rel, real, show);
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		return c->sink->special(c, &st, d, dname, rel, show);
	default:
		return cn_err_fail(c->err, CN_ERR_INVALID, "'%s': a socket cannot be copied", show);
	}
}

/* Sources -> PATHS, REALS (see expand_sources) and SHOWS, every one
 * resolved before anything is done with any. */
int copy_resolve_sources(struct copier *c, cn_strv *paths, cn_strv *reals, cn_strv *shows,
			   bool *wild)
{
	struct stat st;
	if (c->o->nsrcs == 0)
		return cn_err_fail(c->err, CN_ERR_INVALID, "no source files were specified");
	if (expand_sources(c, paths, reals, shows, wild) < 0)
		return -1;
	for (size_t i = 0; i < paths->n; i++)
		if (copy_ctx_stat(c, reals->v[i], &st, shows->v[i]) < 0)
			return -1;
	return 0;
}

/* --parents: PLACE (the source's path below the root marker) split into
 * the directories kept above it (*DIR, allocated) and its own name ("": a
 * directory whose contents go there). */
const char *copy_place_split(const char *place, char **dir)
{
	const char *slash = strrchr(place, '/');
	*dir = slash ? cn_xstrndup(place, (size_t)(slash - place)) : cn_xstrdup("");
	return slash ? slash + 1 : place;
}

