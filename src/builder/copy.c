/* COPY with Dockerfile semantics, written against two hostile trees:
 *
 *  - the build context, which may hold symlinks out of it, fifos, devices
 *    and may change while we read it: named sources are resolved with
 *    openat2(RESOLVE_BENEATH), everything below them is walked by fd with
 *    O_NOFOLLOW, each open is checked against the lstat that chose it, and
 *    special files are recreated from their stat, never opened;
 *
 *  - the image root, whose symlinks may point anywhere: directories are
 *    resolved with openat2(RESOLVE_IN_ROOT), final names are handled with
 *    *at() calls that do not follow symlinks, and an existing entry is
 *    unlinked rather than written through.
 *
 * The walk over the context (expansion, resolution, order, refusals) is
 * written once and drives a "sink": bf_copy's writes entries into the root,
 * bf_copy_digest's hashes them for the build cache, so the two cannot
 * disagree on what a COPY takes from the context. The ignore file filters
 * that same walk, so both leave out the same entries.
 */
#include "builder/copy.h"
#include "builder/ignore.h"
#include "builder/statcache.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/strv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* Each level holds two fds (source and destination directory). */
#define COPY_MAX_DEPTH 128
#define MAX_SYMLINKS 40         /* as the kernel's path resolution */
#define COPY_CHUNK ((size_t)128 << 10)
#define XATTR_BUF ((size_t)64 << 10)   /* Linux caps lists and values at 64 KiB */
#define WH_PREFIX ".wh."

struct copier;

/* Where the entries of a walk go. bf_copy: an open directory of the image
 * root and its root-relative path. bf_copy_digest: no fd (-1) and the path
 * relative to the source root ("" for the root itself). */
struct dest {
	int fd;
	const char *rel;
};

/* What is done with each entry the walk over the context finds. The walk
 * itself (source expansion, which names in which order, what is refused,
 * how each entry is opened and checked, what is never opened) is one and
 * the same for bf_copy and bf_copy_digest; only the sink differs. REL is
 * the entry's path as placed (D->rel + name), CPATH its path in the
 * context, SHOW its name in errors. */
struct sink {
	/* Directory SFD becomes DNAME in D and receives the entries that
	 * follow: *DFD is set to where they go (or -1), *CREATED to whether it
	 * is new. */
	int (*dir_begin)(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
			 const char *dname, const char *rel, const char *show, int *dfd, bool *created);
	/* ...and all its entries are in. May be NULL. */
	int (*dir_end)(struct copier *c, int sfd, const struct stat *st, int dfd, bool created,
		       const char *show);
	/* A directory source whose entries go straight into D. May be NULL. */
	int (*contents)(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
			const char *show);
	/* A regular file, open at SFD. */
	int (*file)(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		    const char *dname, const char *rel, const char *cpath, const char *show);
	/* A symlink NAME in the context directory SDIRFD (inside a copied
	 * directory: a named source is followed). */
	int (*symlink)(struct copier *c, int sdirfd, const char *name, const struct stat *st,
		       const struct dest *d, const char *rel, const char *show);
	/* A FIFO or a device, never opened. */
	int (*special)(struct copier *c, const struct stat *st, const struct dest *d,
		       const char *dname, const char *rel, const char *show);
	/* Refuse a .wh. base name for a file source placed under its own name
	 * (where it is placed depends on the destination, which digests do not
	 * know). */
	bool check_top_name;
};

struct copier {
	const struct bf_copy_opts *o;
	const struct sink *sink;
	cn_err *err;
	/* The ignore file (NULL: none, or no patterns). A walk keeps, per
	 * directory, the bf_ignore state of NIGN bytes its entries are decided
	 * from. */
	const struct bf_ignore *ig;
	size_t nign;
	/* --exclude: patterns matched against paths relative to the source
	 * being walked (SRC_BASE: its resolved context path), NULL: none. */
	const struct bf_ignore *ex;
	const char *src_base;
	/* --parents: per expanded source, the directory (relative to DEST)
	 * it is placed in. */
	cn_strv places;
	uid_t uid;
	gid_t gid;
	/* Hard links among the copied files stay hard links (as BuildKit
	 * keeps them): per source inode with several links, where its first
	 * copy went (REL, and the copy's inode, checked before linking). */
	struct hardlink {
		dev_t sdev, ddev;
		ino_t sino, dino;
		char *rel;
	} *links;
	size_t nlinks, links_cap;
	char *chunk;
	char *xlist;
	char *xval;
	/* bf_copy_digest */
	cn_sha256 h;
	cn_sha256 fp;           /* bf_copy_digest: identity of every entry (inode, times) */
	struct bf_statcache *sc;
	const char *ctx_path;
};

/* Sources in a build context must not leave it (an error); in an image
 * (COPY --from) they are resolved as if it were the root, symlinks too. */
static unsigned long long src_resolve(const struct copier *c)
{
	return c->o->src_is_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH;
}


/* ---- wildcard matching (Go filepath.Match semantics, one component) ---- */

static bool has_wildcard(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		else if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

/* Length of the UTF-8 sequence at S (1 for an invalid byte, as Go does). */
static size_t utf8_len(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc0 ? 2 : 1;
	for (size_t i = 1; i < n; i++)
		if ((u[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

static uint32_t utf8_get(const char *s, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c;
	*len = utf8_len(s);
	if (*len == 1)
		return u[0];
	c = u[0] & (0x7f >> *len);
	for (size_t i = 1; i < *len; i++)
		c = (c << 6) | (u[i] & 0x3f);
	return c;
}

/* One class character at *P (escapes allowed; bare '-', ']' and the end of
 * the pattern are malformed). */
static bool class_char(const char **p, uint32_t *c)
{
	size_t n;
	if (**p == '-' || **p == ']' || !**p)
		return false;
	if (**p == '\\') {
		(*p)++;
		if (!**p)
			return false;
	}
	*c = utf8_get(*p, &n);
	*p += n;
	return true;
}

/* Evaluate "[...]" at P (just past '[') for character CH; *END is set past
 * the ']'. Returns 1 match, 0 no match, -1 malformed. */
static int match_class(const char *p, uint32_t ch, const char **end)
{
	bool neg = false, hit = false;
	if (*p == '^') {
		neg = true;
		p++;
	}
	for (int n = 0; ; n++) {
		uint32_t lo, hi;
		if (*p == ']' && n > 0) {
			*end = p + 1;
			return hit != neg;
		}
		if (!class_char(&p, &lo))
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (!class_char(&p, &hi))
				return -1;
		}
		if (lo <= ch && ch <= hi)
			hit = true;
	}
}

/* Syntax check, so that the matcher below never meets a bad pattern. */
static bool pattern_valid(const char *p)
{
	while (*p) {
		if (*p == '\\') {
			if (!p[1])
				return false;
			p += 2;
		} else if (*p == '[') {
			if (match_class(p + 1, 0, &p) < 0)
				return false;
		} else {
			p++;
		}
	}
	return true;
}

/* Match one non-'*' element of P against S: bytes of S consumed, 0 if none. */
static size_t match_elem(const char *p, const char *s, const char **pnext)
{
	size_t n;
	if (!*s)
		return 0;
	if (*p == '?') {
		*pnext = p + 1;
		return utf8_len(s);
	}
	if (*p == '[') {
		uint32_t ch = utf8_get(s, &n);
		return match_class(p + 1, ch, pnext) == 1 ? n : 0;
	}
	if (*p == '\\')
		p++;
	*pnext = p + 1;
	return *p == *s ? 1 : 0;
}

/* Iterative matcher with a single backtrack point (the last '*'): every
 * other element matches exactly one character, so this is O(len^2) at worst,
 * whatever the number of stars. */
static bool pattern_match(const char *pat, const char *name)
{
	const char *p = pat, *s = name, *star_p = NULL, *star_s = NULL;
	while (*s) {
		const char *pn;
		size_t n;
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*p && (n = match_elem(p, s, &pn)) > 0) {
			p = pn;
			s += n;
			continue;
		}
		if (!star_p)
			return false;
		star_s += utf8_len(star_s);
		s = star_s;
		p = star_p;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* ---- paths ---- */

/* Split PATH lexically into components. Sources (ROOTED false) may not climb
 * above the context ("..", "/.."), which is an error; a leading '/' means
 * the context root, as in docker. Destinations (ROOTED true) are absolute,
 * and ".." stops at "/" like filepath.Clean. */
static int split_clean(const char *path, bool rooted, cn_strv *out)
{
	const char *p = path;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (out->n > 0) {
				free(out->v[--out->n]);
				out->v[out->n] = NULL;
			} else if (!rooted) {
				return -1;
			}
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			cn_strv_push(out, cn_xstrndup(p, len));
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* Components 0..N-1 joined with '/', "." when empty (for openat2). */
static char *join(char *const *comps, size_t n)
{
	cn_buf b;
	cn_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cn_buf_addc(&b, '/');
		cn_buf_adds(&b, comps[i]);
	}
	if (n == 0)
		cn_buf_adds(&b, ".");
	return cn_buf_detach(&b);
}

static char *child_path(const char *parent, const char *name)
{
	if (!*parent || !strcmp(parent, "."))
		return cn_xstrdup(name);
	return cn_xasprintf("%s/%s", parent, name);
}

static int check_wh(struct copier *c, const char *name, const char *show)
{
	if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return cn_err_plain(c->err, EINVAL, "COPY: '%s': names starting with " WH_PREFIX
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
		return cn_err_plain(c->err, ENOENT, "COPY: '%s': no such file or directory in %s", show,
				    src_name(c));
	if (e == EXDEV)
		return cn_err_plain(c->err, EXDEV, "COPY: '%s': points outside %s", show, src_name(c));
	if (e == ELOOP)
		return cn_err_set(c->err, ELOOP, "COPY: '%s': points outside %s", show, src_name(c));
	return cn_err_set(c->err, e, "COPY: '%s': cannot open in %s", show, src_name(c));
}

/* Open PATH (context-relative, final symlink followed as docker does) with
 * FLAGS; the fd is checked to be the object a prior O_PATH lookup saw, so a
 * swap between the two opens is caught. */
static int ctx_open(struct copier *c, const char *path, uint64_t flags, const struct stat *want,
		    const char *show)
{
	struct stat st;
	int fd = cn_openat2(c->o->ctx_fd, *path ? path : ".", flags, src_resolve(c));
	if (fd < 0)
		return ctx_error(c, errno, show);
	if (want && (fstat(fd, &st) < 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino ||
		     (st.st_mode & S_IFMT) != (want->st_mode & S_IFMT))) {
		close(fd);
		return cn_err_plain(c->err, EAGAIN, "COPY: '%s': changed while being copied", show);
	}
	return fd;
}

static int ctx_stat(struct copier *c, const char *path, struct stat *st, const char *show)
{
	_cleanup_close_ int fd = ctx_open(c, path, O_PATH, NULL, show);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		return cn_err_sys(c->err, "COPY: '%s': stat", show);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the directory open at FD (which stays open). */
static int read_names(int fd, cn_strv *names, const char *show, cn_err *err)
{
	int dfd = dup(fd);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	if (dfd < 0)
		return cn_err_sys(err, "COPY: '%s': dup", show);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return cn_err_sys(err, "COPY: '%s': open directory", show);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			cn_strv_pushdup(names, de->d_name);
	}
	if (errno)
		return cn_err_sys(err, "COPY: '%s': read directory", show);
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), cmp_names);
	return 0;
}

static char *unescape(const char *s)
{
	char *out = cn_xmalloc(strlen(s) + 1), *q = out;
	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		*q++ = *s;
	}
	*q = '\0';
	return out;
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
static int ctx_resolve(struct copier *c, const char *path, char **real, const char *show)
{
	_cleanup_strv_ cn_strv done = { 0 }, todo = { 0 };
	int links = 0;

	/* TODO holds the components still to resolve, last one first. */
	for (const char *e = path + strlen(path); e > path;) {
		const char *b = e;
		while (b > path && b[-1] != '/')
			b--;
		if (b < e)
			cn_strv_push(&todo, cn_xstrndup(b, (size_t)(e - b)));
		e = b > path ? b - 1 : b;
	}
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
		cur = join(done.v, done.n);
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
		if (++links > MAX_SYMLINKS)
			return ctx_error(c, ELOOP, show);
		len = readlinkat(fd, "", target, sizeof(target) - 1);
		if (len < 0)
			return cn_err_sys(c->err, "COPY: '%s': read symlink", show);
		target[len] = '\0';
		if (target[0] == '/')
			return ctx_error(c, EXDEV, show);
		for (char *e = target + len; e > target;) {
			char *b = e;
			while (b > target && b[-1] != '/')
				b--;
			if (b < e)
				cn_strv_push(&todo, cn_xstrndup(b, (size_t)(e - b)));
			e = b > target ? b - 1 : b;
		}
	}
	*real = join(done.v, done.n);
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
		_cleanup_free_ char *cchild = child_path(cpath, names.v[k]);
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
			return cn_err_sys(c->err, "COPY: '%s': open", cchild);
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
		return cn_err_sys(c->err, "COPY: '%s': open", cpath);
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
	return cn_err_plain(c->err, ENOENT, "COPY: '%s': no such file or directory in the build "
			    "context (excluded by %s)", show, name ? name + 1 : bf_ignore_name(c->ig));
}

/* Expand components COMPS[I..N) below the context directory PREFIX ("" is
 * the context root), appending the existing matches to OUT in walk order
 * (names sorted within each directory). A missing directory on the way is
 * simply no match; a symlink leading out of the context is an error. */
static int glob_walk(struct copier *c, char *const *comps, size_t n, size_t i, const char *prefix,
		     cn_strv *out)
{
	_cleanup_strv_ cn_strv names = { 0 };
	_cleanup_close_ int fd = -1;

	if (i == n) {
		fd = cn_openat2(c->o->ctx_fd, *prefix ? prefix : ".", O_PATH, src_resolve(c));
		if (fd < 0)
			return errno == ENOENT || errno == ENOTDIR ? 0 : ctx_error(c, errno, prefix);
		cn_strv_pushdup(out, prefix);
		return 0;
	}
	if (!has_wildcard(comps[i])) {
		_cleanup_free_ char *lit = unescape(comps[i]);
		_cleanup_free_ char *next = child_path(prefix, lit);
		return glob_walk(c, comps, n, i + 1, next, out);
	}
	fd = cn_openat2(c->o->ctx_fd, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY,
			   src_resolve(c));
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : ctx_error(c, errno, prefix);
	if (read_names(fd, &names, *prefix ? prefix : ".", c->err) < 0)
		return -1;
	for (size_t k = 0; k < names.n; k++) {
		_cleanup_free_ char *next = NULL;
		if (!pattern_match(comps[i], names.v[k]))
			continue;
		next = child_path(prefix, names.v[k]);
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
	if (split_clean(prefix, false, &comps) < 0)
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

		if (split_clean(src, false, &comps) < 0)
			return ctx_error(c, EXDEV, src);
		if (!has_wildcard(src)) {
			cn_strv_push(&found, join(comps.v, comps.n));
		} else {
			*wild = true;
			for (size_t k = 0; k < comps.n; k++)
				if (!pattern_valid(comps.v[k]))
					return cn_err_plain(c->err, EINVAL, "COPY: '%s': malformed "
							  "wildcard pattern", src);
			if (glob_walk(c, comps.v, comps.n, 0, "", &found) < 0)
				return -1;
		}
		size_t lit = 0, strip = 0;
		while (lit < comps.n && !has_wildcard(comps.v[lit]))
			lit++;
		if (c->o->parents)
			strip = parents_root(src);
		for (size_t k = 0; k < found.n; k++) {
			char *real = NULL;
			const char *show = has_wildcard(src) ? found.v[k] : src;
			int vis = 1;
			/* --exclude filters what a pattern matched, relative to where it
			 * was expanded (a named source is never excluded). */
			if (c->ex && has_wildcard(src)) {
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
			if (vis == 0 && !has_wildcard(src)) {
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
		if (has_wildcard(src) && paths->n == before)
			return cn_err_plain(c->err, ENOENT, "COPY: '%s': no source files were specified "
					  "(no files in %s match)", src, src_name(c));
	}
	return 0;
}

/* ---- the image root ---- */

static int root_open_dir(struct copier *c, const char *rel)
{
	return cn_openat2(c->o->root_fd, rel, O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
}

static int not_dir_error(struct copier *c, const char *rel)
{
	return cn_err_plain(c->err, ENOTDIR, "COPY: cannot copy to non-directory '/%s'",
			  strcmp(rel, ".") ? rel : "");
}

/* A parent directory COPY had to create: 0755, owned like the copied files. */
static int init_parent_dir(struct copier *c, int fd, const char *rel)
{
	if (fchown(fd, c->uid, c->gid) < 0)
		return cn_err_sys(c->err, "COPY: chown '/%s'", rel);
	if (fchmod(fd, 0755) < 0)
		return cn_err_sys(c->err, "COPY: chmod '/%s'", rel);
	return 0;
}

static int read_target(struct copier *c, int sdirfd, const char *name, char target[PATH_MAX],
		       const char *show);

/* A dangling symlink at COMPS[I] (in the directory CUR) is followed as
 * BuildKit resolves a destination in the root, its target created: COMPS
 * becomes the link's target (absolute: from the root; relative: after
 * COMPS[0..I)) followed by COMPS[I+1..). 1: replaced, 0: not a symlink. */
static int follow_dangling(struct copier *c, int cur, cn_strv *comps, size_t i, int *hops)
{
	char target[PATH_MAX];
	cn_strv next = { 0 };
	struct stat st;
	const char *p;
	if (fstatat(cur, comps->v[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
		return 0;
	if (++*hops > MAX_SYMLINKS)
		return cn_err_plain(c->err, ELOOP, "COPY: '/%s': too many levels of symbolic links",
				  comps->v[i]);
	if (read_target(c, cur, comps->v[i], target, comps->v[i]) < 0)
		return -1;
	for (size_t k = 0; target[0] != '/' && k < i; k++)
		cn_strv_pushdup(&next, comps->v[k]);
	/* "..": kept for openat2, whose RESOLVE_IN_ROOT applies it physically
	 * and never above the root. */
	for (p = target; *p;) {
		size_t len = strcspn(p, "/");
		if (len > 0 && !(len == 1 && p[0] == '.'))
			cn_strv_push(&next, cn_xstrndup(p, len));
		p += len;
		if (*p == '/')
			p++;
	}
	for (size_t k = i + 1; k < comps->n; k++)
		cn_strv_pushdup(&next, comps->v[k]);
	cn_strv_free(comps);
	*comps = next;
	return 1;
}

/* mkdir -p of COMPS[0..N) inside the root: every existing component is
 * resolved from the root (its symlinks stay inside), every missing one is
 * created 0755 with the COPY owner, and a dangling symlink has its target
 * created (inside the root) as docker does. Returns the directory fd. */
static int mkdir_in_root(struct copier *c, char *const *comps_in, size_t n)
{
	_cleanup_strv_ cn_strv comps = { 0 };
	_cleanup_close_ int cur = -1;
	int hops = 0;
	for (size_t i = 0; i < n; i++)
		cn_strv_pushdup(&comps, comps_in[i]);
restart:
	if (cur >= 0)
		close(cur);
	cur = root_open_dir(c, ".");
	if (cur < 0)
		return cn_err_sys(c->err, "COPY: open the image root");
	for (size_t i = 0; i < comps.n; i++) {
		_cleanup_free_ char *rel = join(comps.v, i + 1);
		int fd = root_open_dir(c, rel);
		if (fd < 0 && errno == ENOTDIR)
			return not_dir_error(c, rel);
		if (fd < 0 && errno != ENOENT)
			return cn_err_sys(c->err, "COPY: open '/%s' in the image", rel);
		if (fd < 0) {
			int r = follow_dangling(c, cur, &comps, i, &hops);
			if (r < 0)
				return -1;
			if (r > 0)
				goto restart;
			if (check_wh(c, comps.v[i], rel) < 0)
				return -1;
			if (mkdirat(cur, comps.v[i], 0700) < 0)
				return errno == EEXIST ? not_dir_error(c, rel) :
					cn_err_sys(c->err, "COPY: create directory '/%s'", rel);
			fd = openat(cur, comps.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return cn_err_sys(c->err, "COPY: open '/%s'", rel);
			if (init_parent_dir(c, fd, rel) < 0) {
				close(fd);
				return -1;
			}
		}
		close(cur);
		cur = fd;
	}
	return CN_TAKE_FD(cur);
}

/* ---- metadata ---- */

static mode_t want_mode(const struct copier *c, const struct stat *st)
{
	return (c->o->chmod ? c->o->mode : st->st_mode) & 07777;
}

/* chmod that never follows a symlink: fchmodat2 (Linux 6.6) does it in the
 * kernel; glibc's fallback goes through an O_PATH fd. */
static int chmod_nofollow(int dirfd, const char *name, mode_t mode)
{
	if (syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW);
}

/* Extended attributes worth carrying into an image: user.* and file
 * capabilities. Not user.overlay.* nor trusted.*, which overlayfs would read
 * as whiteouts or opaque markers, nor security.selinux (a host label). */
static bool keep_xattr(const char *name)
{
	if (strncmp(name, "user.", 5) == 0)
		return strncmp(name, "user.overlay.", 13) != 0;
	return strcmp(name, "security.capability") == 0;
}

static int copy_xattrs(struct copier *c, int sfd, int dfd, const char *show)
{
	ssize_t len = flistxattr(sfd, c->xlist, XATTR_BUF);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return cn_err_sys(c->err, "COPY: '%s': list extended attributes", show);
	}
	for (const char *name = c->xlist; name < c->xlist + len; name += strlen(name) + 1) {
		ssize_t vlen;
		if (!keep_xattr(name))
			continue;
		vlen = fgetxattr(sfd, name, c->xval, XATTR_BUF);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;       /* removed since the listing */
			return cn_err_sys(c->err, "COPY: '%s': read extended attribute %s", show, name);
		}
		/* A destination file system without xattr support just loses them. */
		if (fsetxattr(dfd, name, c->xval, (size_t)vlen, 0) < 0 && errno != ENOTSUP)
			return cn_err_sys(c->err, "COPY: '%s': set extended attribute %s", show, name);
	}
	return 0;
}

/* Owner, mode, xattrs, times, in that order: chown clears setuid bits and
 * file capabilities, so it goes first, and nothing after futimens touches
 * the mtime. */
static int apply_meta(struct copier *c, int sfd, int dfd, const struct stat *st, const char *show)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (fchown(dfd, c->uid, c->gid) < 0)
		return cn_err_sys(c->err, "COPY: '%s': chown", show);
	if (fchmod(dfd, want_mode(c, st)) < 0)
		return cn_err_sys(c->err, "COPY: '%s': chmod", show);
	if (copy_xattrs(c, sfd, dfd, show) < 0)
		return -1;
	if (futimens(dfd, ts) < 0)
		return cn_err_sys(c->err, "COPY: '%s': set times", show);
	return 0;
}

/* The same for entries that cannot be opened (symlinks, special files). */
static int apply_meta_at(struct copier *c, int ddirfd, const char *dname, const struct stat *st,
			 const char *show)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (fchownat(ddirfd, dname, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return cn_err_sys(c->err, "COPY: '%s': chown", show);
	if (!S_ISLNK(st->st_mode) && chmod_nofollow(ddirfd, dname, want_mode(c, st)) < 0)
		return cn_err_sys(c->err, "COPY: '%s': chmod", show);
	if (utimensat(ddirfd, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cn_err_sys(c->err, "COPY: '%s': set times", show);
	return 0;
}

/* ---- copying one entry (the bf_copy sink) ---- */

/* Make room for a non-directory at DNAME: whatever is there (file, symlink,
 * special file) is unlinked, never written through; a directory stays and
 * is an error. */
static int clear_leaf(struct copier *c, int ddirfd, const char *dname, const char *rel)
{
	struct stat st;
	if (fstatat(ddirfd, dname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cn_err_sys(c->err, "COPY: stat '/%s'", rel);
	}
	if (S_ISDIR(st.st_mode))
		return cn_err_plain(c->err, EISDIR, "COPY: cannot overwrite directory '/%s' "
				  "with a non-directory", rel);
	if (unlinkat(ddirfd, dname, 0) < 0 && errno != ENOENT)
		return cn_err_sys(c->err, "COPY: remove '/%s'", rel);
	return 0;
}

/* copy_file_range where the kernel can, read/write in chunks otherwise.
 * Both paths advance the file offsets, so a fallback midway resumes. */
static int copy_data(struct copier *c, int sfd, int dfd, const char *show)
{
	bool fast = true;
	for (;;) {
		ssize_t n;
		if (fast) {
			n = copy_file_range(sfd, NULL, dfd, NULL, (size_t)1 << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP)) {
				fast = false;
				continue;
			}
		} else {
			n = read(sfd, c->chunk, COPY_CHUNK);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cn_err_sys(c->err, "COPY: '%s': copy data", show);
		}
		if (n == 0)
			return 0;
		if (!fast && cn_write_all(dfd, c->chunk, (size_t)n) < 0)
			return cn_err_sys(c->err, "COPY: '%s': write", show);
	}
}

/* An earlier copied file with the same source inode as ST, or NULL. */
static const struct hardlink *hardlink_find(const struct copier *c, const struct stat *st)
{
	if (st->st_nlink < 2)
		return NULL;
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].sdev == st->st_dev && c->links[i].sino == st->st_ino)
			return &c->links[i];
	return NULL;
}

static void hardlink_add(struct copier *c, const struct stat *st, const char *rel, const struct stat *dst)
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
}

static void hardlinks_free(struct copier *c)
{
	for (size_t i = 0; i < c->nlinks; i++)
		free(c->links[i].rel);
	free(c->links);
}

/* DNAME becomes a hard link to the first copy H, found again inside the
 * root and checked to be the inode made then. 1: linked, 0: that copy is
 * gone or replaced (the caller copies instead). */
static int link_copy(struct copier *c, const struct hardlink *h, const struct dest *d, const char *dname,
		     const char *rel)
{
	_cleanup_close_ int fd = cn_openat2(c->o->root_fd, h->rel, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != h->ddev || st.st_ino != h->dino)
		return 0;
	if (linkat(fd, "", d->fd, dname, AT_EMPTY_PATH) < 0)
		return cn_err_sys(c->err, "COPY: link '/%s' to '/%s'", rel, h->rel);
	return 1;
}

static int copy_file(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		     const char *dname, const char *rel, const char *cpath, const char *show)
{
	_cleanup_close_ int dfd = -1;
	const struct hardlink *h = hardlink_find(c, st);
	struct stat dst;
	(void)cpath;
	if (clear_leaf(c, d->fd, dname, rel) < 0)
		return -1;
	if (h) {
		int r = link_copy(c, h, d, dname, rel);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	dfd = openat(d->fd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0)
		return cn_err_sys(c->err, "COPY: create '/%s'", rel);
	if (copy_data(c, sfd, dfd, show) < 0)
		return -1;
	if (apply_meta(c, sfd, dfd, st, show) < 0)
		return -1;
	if (!h && fstat(dfd, &dst) == 0)
		hardlink_add(c, st, rel, &dst);
	return 0;
}

/* FIFOs and devices are recreated from their stat: opening them could
 * block forever or read without end. */
static int copy_special(struct copier *c, const struct stat *st, const struct dest *d,
			const char *dname, const char *rel, const char *show)
{
	dev_t rdev = S_ISFIFO(st->st_mode) ? 0 : st->st_rdev;
	if (clear_leaf(c, d->fd, dname, rel) < 0)
		return -1;
	if (mknodat(d->fd, dname, (st->st_mode & S_IFMT) | 0600, rdev) < 0)
		return cn_err_sys(c->err, "COPY: create '/%s'", rel);
	return apply_meta_at(c, d->fd, dname, st, show);
}

/* The target of the symlink NAME in SDIRFD, verbatim. */
static int read_target(struct copier *c, int sdirfd, const char *name, char target[PATH_MAX],
		       const char *show)
{
	ssize_t n = readlinkat(sdirfd, name, target, PATH_MAX);
	if (n < 0)
		return cn_err_sys(c->err, "COPY: '%s': read symlink", show);
	if ((size_t)n >= PATH_MAX)
		return cn_err_plain(c->err, ENAMETOOLONG, "COPY: '%s': symlink target too long", show);
	target[n] = '\0';
	return 0;
}

/* Symlinks are copied as symlinks, their target verbatim: it is only ever
 * interpreted inside the image. */
static int copy_symlink(struct copier *c, int sdirfd, const char *name, const struct stat *st,
			const struct dest *d, const char *rel, const char *show)
{
	char target[PATH_MAX];
	if (read_target(c, sdirfd, name, target, show) < 0)
		return -1;
	if (clear_leaf(c, d->fd, name, rel) < 0)
		return -1;
	if (symlinkat(target, d->fd, name) < 0)
		return cn_err_sys(c->err, "COPY: create symlink '/%s'", rel);
	return apply_meta_at(c, d->fd, name, st, show);
}

/* The directory DNAME under D, created (0700 until its metadata is
 * applied) when absent. An existing symlink is followed only when it
 * resolves, inside the root, to a directory (e.g. /lib -> usr/lib). */
static int open_dest_dir(struct copier *c, int sfd, const struct stat *sst, const struct dest *d,
			 const char *dname, const char *rel, const char *show, int *dfd, bool *created)
{
	struct stat st;
	int ddirfd = d->fd;
	(void)sfd;
	(void)sst;
	(void)show;
	*created = false;
	if (fstatat(ddirfd, dname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return cn_err_sys(c->err, "COPY: stat '/%s'", rel);
		if (mkdirat(ddirfd, dname, 0700) < 0)
			return cn_err_sys(c->err, "COPY: create directory '/%s'", rel);
		*created = true;
	} else if (S_ISLNK(st.st_mode)) {
		*dfd = root_open_dir(c, rel);
		if (*dfd < 0)
			return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
				not_dir_error(c, rel) : cn_err_sys(c->err, "COPY: open '/%s'", rel);
		return 0;
	} else if (!S_ISDIR(st.st_mode)) {
		return not_dir_error(c, rel);
	}
	*dfd = openat(ddirfd, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0)
		return cn_err_sys(c->err, "COPY: open '/%s'", rel);
	return 0;
}

/* Metadata goes only onto a directory COPY created: an existing one in the
 * image keeps its owner and mode (as BuildKit does). */
static int close_dest_dir(struct copier *c, int sfd, const struct stat *st, int dfd, bool created,
			  const char *show)
{
	return created ? apply_meta(c, sfd, dfd, st, show) : 0;
}

static const struct sink copy_sink = {
	.dir_begin = open_dest_dir,
	.dir_end = close_dest_dir,
	.file = copy_file,
	.symlink = copy_symlink,
	.special = copy_special,
	.check_top_name = true,
};

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
		return cn_err_plain(c->err, ELOOP, "COPY: '%s': directories nested deeper than %d levels",
				  cpath, COPY_MAX_DEPTH);
	if (c->sink->dir_begin(c, sfd, st, d, dname, rel, cpath, &dfd, &created) < 0)
		return -1;
	if (walk_contents(c, sfd, cpath, &(struct dest){ .fd = dfd, .rel = rel }, depth, state) < 0)
		return -1;
	return c->sink->dir_end ? c->sink->dir_end(c, sfd, st, dfd, created, cpath) : 0;
}

/* Open NAME under the context directory SDIRFD without following it, and
 * check it is still what lstat saw. */
static int open_child(struct copier *c, int sdirfd, const char *name, int flags,
		      const struct stat *want, const char *show)
{
	struct stat st;
	int fd = openat(sdirfd, name, flags | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == ENOENT))
		return cn_err_plain(c->err, EAGAIN, "COPY: '%s': changed while being copied", show);
	if (fd < 0)
		return cn_err_sys(c->err, "COPY: '%s': open", show);
	if (fstat(fd, &st) < 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino ||
	    (st.st_mode & S_IFMT) != (want->st_mode & S_IFMT)) {
		close(fd);
		return cn_err_plain(c->err, EAGAIN, "COPY: '%s': changed while being copied", show);
	}
	return fd;
}

/* One entry NAME of a copied directory (ignore state STATE); nothing here
 * follows a symlink. */
static int walk_child(struct copier *c, int sdirfd, const char *name, const char *cpath,
		      const struct dest *d, const char *rel, int depth, const unsigned char *state)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	if (fstatat(sdirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;       /* removed since readdir */
		return cn_err_sys(c->err, "COPY: '%s': stat", cpath);
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		fd = open_child(c, sdirfd, name, O_RDONLY | O_DIRECTORY, &st, cpath);
		if (fd < 0)
			return -1;
		return walk_dir(c, fd, &st, d, name, rel, cpath, depth + 1, state);
	case S_IFREG:
		/* O_NONBLOCK: should it have become a fifo, the open cannot hang. */
		fd = open_child(c, sdirfd, name, O_RDONLY | O_NONBLOCK, &st, cpath);
		if (fd < 0)
			return -1;
		return c->sink->file(c, fd, &st, d, name, rel, cpath, cpath);
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
	_cleanup_strv_ cn_strv names = { 0 };
	_cleanup_free_ unsigned char *cstate = c->ig ? cn_xmalloc(c->nign) : NULL;
	if (read_names(sfd, &names, cpath, c->err) < 0)
		return -1;
	for (size_t k = 0; k < names.n; k++) {
		_cleanup_free_ char *cchild = child_path(cpath, names.v[k]);
		_cleanup_free_ char *rel = NULL;
		int vis = c->ig ? child_visible(c, sfd, names.v[k], cchild, state, cstate) : 1;
		if (vis < 0)
			return -1;
		if (vis == 0 || (c->ex && excluded_entry(c, sfd, names.v[k], cchild)))
			continue;
		rel = child_path(d->rel, names.v[k]);
		if (check_wh(c, names.v[k], cchild) < 0 ||
		    walk_child(c, sfd, names.v[k], cchild, d, rel, depth, cstate) < 0)
			return -1;
	}
	return 0;
}

/* One expanded source (context path PATH, REAL with its symlinks
 * resolved, written SHOW by the user). With DNAME NULL it goes into D: a
 * file under its own name (PATH's), a directory's contents. Otherwise it
 * becomes DNAME in D. */
static int walk_source(struct copier *c, const char *path, const char *real, const char *show,
		       const struct dest *d, const char *dname)
{
	_cleanup_free_ unsigned char *state = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *rel = NULL;
	struct stat st;

	if (ctx_stat(c, real, &st, show) < 0)
		return -1;
	c->src_base = real;
	if (S_ISDIR(st.st_mode)) {
		fd = ctx_open(c, real, O_RDONLY | O_DIRECTORY, &st, show);
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
		rel = child_path(d->rel, dname);
		return walk_dir(c, fd, &st, d, dname, rel, real, 0, state);
	}
	if (!dname) {
		const char *slash = strrchr(path, '/');
		dname = slash ? slash + 1 : path;
		if (c->sink->check_top_name && check_wh(c, dname, show) < 0)
			return -1;
	}
	rel = child_path(d->rel, dname);
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		fd = ctx_open(c, real, O_RDONLY | O_NONBLOCK, &st, show);
		if (fd < 0)
			return -1;
		return c->sink->file(c, fd, &st, d, dname, rel, real, show);
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		return c->sink->special(c, &st, d, dname, rel, show);
	default:
		return cn_err_plain(c->err, EINVAL, "COPY: '%s': a socket cannot be copied", show);
	}
}

/* Sources -> context paths (PATHS, REALS: see expand_sources) and the
 * names to show in errors (SHOWS), every one resolved before anything is
 * done with any. *WILD is set when any source was a pattern. */
static int resolve_sources(struct copier *c, cn_strv *paths, cn_strv *reals, cn_strv *shows,
			   bool *wild)
{
	struct stat st;
	if (c->o->nsrcs == 0)
		return cn_err_plain(c->err, EINVAL, "COPY: no source files were specified");
	if (expand_sources(c, paths, reals, shows, wild) < 0)
		return -1;
	for (size_t i = 0; i < paths->n; i++)
		if (ctx_stat(c, reals->v[i], &st, shows->v[i]) < 0)
			return -1;
	return 0;
}

/* ---- bf_copy ---- */

/* A single source to a destination not written as a directory: an existing
 * directory there (also through a symlink resolving inside the root)
 * receives the source; otherwise the source takes that name. */
static int copy_to_name(struct copier *c, const char *path, const char *real, const char *show,
			const cn_strv *dc)
{
	_cleanup_free_ char *prel = join(dc->v, dc->n - 1), *rel = join(dc->v, dc->n);
	_cleanup_close_ int pfd = -1, dfd = -1;
	const char *name = dc->v[dc->n - 1];
	struct stat st;

	pfd = mkdir_in_root(c, dc->v, dc->n - 1);
	if (pfd < 0)
		return -1;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))) {
		dfd = root_open_dir(c, rel);
		if (dfd >= 0)
			return walk_source(c, path, real, show, &(struct dest){ .fd = dfd, .rel = rel },
					   NULL);
		if (S_ISDIR(st.st_mode))
			return cn_err_sys(c->err, "COPY: open '/%s'", rel);
	}
	/* As BuildKit: a directory copied to a new name becomes a new 0755
	 * directory owned like the copy; only what it holds keeps its metadata. */
	if (ctx_stat(c, real, &st, show) < 0)
		return -1;
	if (S_ISDIR(st.st_mode)) {
		dfd = mkdir_in_root(c, dc->v, dc->n);
		if (dfd < 0)
			return -1;
		return walk_source(c, path, real, show, &(struct dest){ .fd = dfd, .rel = rel }, NULL);
	}
	if (check_wh(c, name, rel) < 0)
		return -1;
	return walk_source(c, path, real, show, &(struct dest){ .fd = pfd, .rel = prel }, name);
}

/* "dir/", ".", "x/..", "": the destination is meant as a directory. */
bool bf_copy_dest_is_dir(const char *dest)
{
	size_t len = strlen(dest);
	const char *last = strrchr(dest, '/');
	last = last ? last + 1 : dest;
	return len == 0 || dest[len - 1] == '/' || !strcmp(last, ".") || !strcmp(last, "..");
}

/* --parents: PLACE (the source's path below the root marker) split into
 * the directories kept above it (*DIR, allocated) and its own name ("": a
 * directory whose contents go there). */
static const char *place_split(const char *place, char **dir)
{
	const char *slash = strrchr(place, '/');
	*dir = slash ? cn_xstrndup(place, (size_t)(slash - place)) : cn_xstrdup("");
	return slash ? slash + 1 : place;
}

/* --parents: the source becomes DEST/PLACE, PLACE's directories made as
 * COPY makes missing parents. */
static int place_source(struct copier *c, const cn_strv *dc, const char *path, const char *real,
			const char *show, const char *place)
{
	_cleanup_strv_ cn_strv comps = { 0 };
	_cleanup_free_ char *rel = NULL, *dir = NULL;
	_cleanup_close_ int fd = -1;
	const char *name = place_split(place, &dir);
	for (size_t i = 0; i < dc->n; i++)
		cn_strv_pushdup(&comps, dc->v[i]);
	split_clean(dir, true, &comps);
	fd = mkdir_in_root(c, comps.v, comps.n);
	if (fd < 0)
		return -1;
	rel = join(comps.v, comps.n);
	if (*name && check_wh(c, name, show) < 0)
		return -1;
	return walk_source(c, path, real, show, &(struct dest){ .fd = fd, .rel = rel }, *name ? name : NULL);
}

static int copy_all(struct copier *c)
{
	const struct bf_copy_opts *o = c->o;
	const char *dest = o->dest ? o->dest : "";
	_cleanup_strv_ cn_strv paths = { 0 }, reals = { 0 }, shows = { 0 }, dc = { 0 };
	_cleanup_free_ char *full = NULL, *drel = NULL;
	_cleanup_close_ int dfd = -1;
	bool wild = false;

	if (resolve_sources(c, &paths, &reals, &shows, &wild) < 0)
		return -1;
	full = dest[0] == '/' ? cn_xstrdup(dest) :
		cn_xasprintf("%s/%s", o->workdir ? o->workdir : "/", dest);
	split_clean(full, true, &dc);
	/* As docker: one source (a pattern matching one file included) may be
	 * copied to a name; several need a directory written with a final '/'. */
	if (paths.n > 1 && !bf_copy_dest_is_dir(dest))
		return cn_err_plain(c->err, EINVAL, "COPY: %s: with more than one source file the "
				 "destination must be a directory and end with a /",
				 wild ? "the pattern matches several files" : "several sources");
	if (dc.n > 0 && !bf_copy_dest_is_dir(dest) && paths.n == 1 && !o->parents)
		return copy_to_name(c, paths.v[0], reals.v[0], shows.v[0], &dc);

	dfd = mkdir_in_root(c, dc.v, dc.n);
	if (dfd < 0)
		return -1;
	drel = join(dc.v, dc.n);
	for (size_t i = 0; i < paths.n; i++) {
		if (o->parents && place_source(c, &dc, paths.v[i], reals.v[i], shows.v[i], c->places.v[i]) < 0)
			return -1;
		if (!o->parents && walk_source(c, paths.v[i], reals.v[i], shows.v[i],
					       &(struct dest){ .fd = dfd, .rel = drel }, NULL) < 0)
			return -1;
	}
	return 0;
}

int bf_copy(const struct bf_copy_opts *o, cn_err *err)
{
	struct copier c = {
		.o = o,
		.sink = &copy_sink,
		.err = err,
		.ig = !o->src_is_root && bf_ignore_count(o->ignore) ? o->ignore : NULL,
		.nign = bf_ignore_count(o->ignore),
		.uid = o->chown ? o->uid : 0,
		.gid = o->chown ? o->gid : 0,
		.chunk = cn_xmalloc(COPY_CHUNK),
		.xlist = cn_xmalloc(XATTR_BUF),
		.xval = cn_xmalloc(XATTR_BUF),
		.ex = bf_ignore_count(o->exclude) ? o->exclude : NULL,
	};
	int r = copy_all(&c);
	cn_strv_free(&c.places);
	hardlinks_free(&c);
	free(c.chunk);
	free(c.xlist);
	free(c.xval);
	return r;
}

/* ---- bf_copy_digest (the digest sink) ---- */

/* Bumped whenever the records below change meaning. */
#define DIGEST_VERSION "cairn COPY sources v1"

static void h_u64(struct copier *c, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (unsigned char)v;
	cn_sha256_update(&c->h, b, sizeof(b));
}

static void h_bytes(struct copier *c, const void *p, size_t len)
{
	h_u64(c, len);
	cn_sha256_update(&c->h, p, len);
}

static void h_str(struct copier *c, const char *s)
{
	h_bytes(c, s, strlen(s));
}

static void h_tag(struct copier *c, char tag)
{
	cn_sha256_update(&c->h, &tag, 1);
}

/* Every record starts with a tag byte naming its kind, which fixes the
 * fields that follow; variable-length fields carry their length first. An
 * entry: tag, placed path, permission bits (07777), then per kind:
 *   'd' directory        -             'f' regular file   size, content digest
 *   'l' symlink          target        'p' fifo           -
 *   'c', 'b' device      major, minor
 * followed (directories and files) by one 'x' record (name, value) per
 * extended attribute bf_copy carries over, in name order. 's' (index)
 * starts each expanded source. */
static void fp_u64(struct copier *c, uint64_t v)
{
	cn_sha256_update(&c->fp, &v, sizeof(v));
}

static void h_entry(struct copier *c, char tag, const char *rel, const struct stat *st)
{
	h_tag(c, tag);
	h_str(c, rel);
	h_u64(c, (uint64_t)(st->st_mode & 07777));
	/* The fingerprint changes whenever any entry is touched at all (a
	 * rename or write changes the inode at a path or its ctime), so equal
	 * fingerprints before and after a COPY prove it copied these entries. */
	cn_sha256_update(&c->fp, rel, strlen(rel) + 1);
	fp_u64(c, (uint64_t)st->st_dev);
	fp_u64(c, (uint64_t)st->st_ino);
	fp_u64(c, (uint64_t)st->st_ctim.tv_sec);
	fp_u64(c, (uint64_t)st->st_ctim.tv_nsec);
	fp_u64(c, (uint64_t)st->st_size);
}

static int cmp_xnames(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int h_xattrs(struct copier *c, int fd, const char *show)
{
	_cleanup_free_ char **names = NULL;
	size_t n = 0, cap = 0;
	ssize_t len = flistxattr(fd, c->xlist, XATTR_BUF);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return cn_err_sys(c->err, "COPY: '%s': list extended attributes", show);
	}
	for (char *name = c->xlist; name < c->xlist + len; name += strlen(name) + 1) {
		if (!keep_xattr(name))
			continue;
		cn_xgrow((void **)&names, &cap, n + 1, sizeof(*names));
		names[n++] = name;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_xnames);
	for (size_t i = 0; i < n; i++) {
		ssize_t vlen = fgetxattr(fd, names[i], c->xval, XATTR_BUF);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;       /* removed since the listing */
			return cn_err_sys(c->err, "COPY: '%s': read extended attribute %s", show,
					  names[i]);
		}
		h_tag(c, 'x');
		h_str(c, names[i]);
		h_bytes(c, c->xval, (size_t)vlen);
	}
	return 0;
}

static int digest_dir(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		      const char *dname, const char *rel, const char *show, int *dfd, bool *created)
{
	(void)d;
	(void)dname;
	*dfd = -1;
	*created = true;
	h_entry(c, 'd', rel, st);
	return h_xattrs(c, sfd, show);
}

/* The source directory itself: its mode and xattrs are what a directory
 * COPY creates from it gets. */
static int digest_root(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		       const char *show)
{
	h_entry(c, 'd', d->rel, st);
	return h_xattrs(c, sfd, show);
}

static int digest_file(struct copier *c, int sfd, const struct stat *st, const struct dest *d,
		       const char *dname, const char *rel, const char *cpath, const char *show)
{
	_cleanup_free_ char *key = cn_xasprintf("%s/%s", c->ctx_path, cpath);
	char md[CN_DIGEST_STR_SIZE];
	const struct hardlink *h = hardlink_find(c, st);
	(void)d;
	(void)dname;
	if (h) {
		/* A hard link to a file copied before: what it links to. */
		h_entry(c, 'l', rel, st);
		h_str(c, h->rel);
		return 0;
	}
	hardlink_add(c, st, rel, NULL);
	if (bf_statcache_file_digest(c->sc, sfd, key, md, c->err) < 0)
		return cn_err_wrap(c->err, "COPY: '%s'", show);
	h_entry(c, 'f', rel, st);
	h_u64(c, (uint64_t)st->st_size);
	h_str(c, md);
	return h_xattrs(c, sfd, show);
}

static int digest_symlink(struct copier *c, int sdirfd, const char *name, const struct stat *st,
			  const struct dest *d, const char *rel, const char *show)
{
	char target[PATH_MAX];
	(void)d;
	if (read_target(c, sdirfd, name, target, show) < 0)
		return -1;
	h_entry(c, 'l', rel, st);
	h_str(c, target);
	return 0;
}

static int digest_special(struct copier *c, const struct stat *st, const struct dest *d,
			  const char *dname, const char *rel, const char *show)
{
	(void)d;
	(void)dname;
	(void)show;
	if (S_ISFIFO(st->st_mode)) {
		h_entry(c, 'p', rel, st);
		return 0;
	}
	h_entry(c, S_ISCHR(st->st_mode) ? 'c' : 'b', rel, st);
	h_u64(c, major(st->st_rdev));
	h_u64(c, minor(st->st_rdev));
	return 0;
}

static const struct sink digest_sink = {
	.dir_begin = digest_dir,
	.contents = digest_root,
	.file = digest_file,
	.symlink = digest_symlink,
	.special = digest_special,
	.check_top_name = false,
};

int bf_copy_digest(const struct bf_copy_opts *o, const char *ctx_path, struct bf_statcache *sc,
		   char out[CN_DIGEST_STR_SIZE], char fingerprint[CN_DIGEST_STR_SIZE], cn_err *err)
{
	_cleanup_strv_ cn_strv paths = { 0 }, reals = { 0 }, shows = { 0 };
	struct bf_statcache *own = NULL;
	struct copier c = {
		.o = o,
		.sink = &digest_sink,
		.err = err,
		.ig = !o->src_is_root && bf_ignore_count(o->ignore) ? o->ignore : NULL,
		.nign = bf_ignore_count(o->ignore),
		.xlist = cn_xmalloc(XATTR_BUF),
		.xval = cn_xmalloc(XATTR_BUF),
		.sc = sc,
		.ctx_path = ctx_path,
		.ex = bf_ignore_count(o->exclude) ? o->exclude : NULL,
	};
	bool wild = false;
	int r = 0;

	/* Without a path there is no key to cache under: a private cache. */
	if (!sc || !ctx_path) {
		c.sc = own = bf_statcache_new();
		c.ctx_path = ctx_path ? ctx_path : "";
	}
	cn_sha256_init(&c.h);
	cn_sha256_init(&c.fp);
	h_str(&c, DIGEST_VERSION);
	if (resolve_sources(&c, &paths, &reals, &shows, &wild) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < paths.n; i++) {
		h_tag(&c, 's');
		h_u64(&c, i);
		/* --parents: each source as placed, under its kept parents. */
		if (o->parents) {
			_cleanup_free_ char *dir = NULL;
			const char *name = place_split(c.places.v[i], &dir);
			r = walk_source(&c, paths.v[i], reals.v[i], shows.v[i],
					&(struct dest){ .fd = -1, .rel = dir }, *name ? name : NULL);
		} else
			r = walk_source(&c, paths.v[i], reals.v[i], shows.v[i],
					&(struct dest){ .fd = -1, .rel = "" }, NULL);
	}
	cn_strv_free(&c.places);
	hardlinks_free(&c);
	if (r == 0) {
		cn_sha256_final(&c.h, out);
		if (fingerprint)
			cn_sha256_final(&c.fp, fingerprint);
	}
	cn_sha256_free(&c.h);
	cn_sha256_free(&c.fp);
	bf_statcache_free(own);
	free(c.xlist);
	free(c.xval);
	return r;
}
