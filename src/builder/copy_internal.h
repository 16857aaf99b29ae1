/* COPY's parts and what they share. One walk over the context
 * (copy_walk.c: source expansion, resolution, order, refusals, how each
 * entry is opened and checked) drives a "sink": bf_copy's writes entries
 * into the image root (copy_write.c), bf_copy_digest's hashes them for the
 * build cache (copy_digest.c). So the two cannot disagree on what a COPY
 * takes from the context, and the ignore file filters both alike. */
#ifndef BF_COPY_INTERNAL_H
#define BF_COPY_INTERNAL_H

#include "builder/copy.h"
#include "util/strv.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

/* Each level holds two fds (source and destination directory). */
#define COPY_MAX_DEPTH 128
#define COPY_MAX_SYMLINKS 40    /* as the kernel's path resolution */
#define COPY_CHUNK ((size_t)128 << 10)
#define COPY_XATTR_BUF ((size_t)64 << 10)   /* Linux caps lists and values at 64 KiB */

struct copier;

/* Where the entries of a walk go. bf_copy: an open directory of the image
 * root and its root-relative path. bf_copy_digest: no fd (-1) and the path
 * relative to the source root ("" for the root itself). */
struct dest {
	int fd;
	const char *rel;
};

/* What is done with each entry the walk over the context finds. REL is
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
	size_t *link_slots;     /* hash of (sdev, sino): index + 1, 0 empty */
	size_t link_slots_n;
	char *chunk;
	char *xlist;
	char *xval;
	/* bf_copy_digest */
	cn_sha256 h;
	cn_sha256 fp;           /* identity of every entry (inode, times) */
	struct bf_statcache *sc;
	const char *ctx_path;
};

/* ---- copy_walk.c ---- */

/* Sources -> context paths (PATHS), the same with symlinks resolved
 * (REALS: what the ignore file is matched against and what is opened) and
 * the names to show in errors (SHOWS), every one resolved before anything
 * is done with any. *WILD is set when any source was a pattern. */
int copy_resolve_sources(struct copier *c, cn_strv *paths, cn_strv *reals, cn_strv *shows,
			 bool *wild);
/* One expanded source (context path PATH, REAL with its symlinks
 * resolved, written SHOW by the user) through the sink. With DNAME NULL it
 * goes into D: a file under its own name (PATH's), a directory's contents.
 * Otherwise it becomes DNAME in D. */
int copy_walk_source(struct copier *c, const char *path, const char *real, const char *show,
		     const struct dest *d, const char *dname);
/* lstat of the context path PATH, final symlink followed as docker does. */
int copy_ctx_stat(struct copier *c, const char *path, struct stat *st, const char *show);
/* A .wh. name cannot be stored in a layer: an error. */
int copy_check_wh(struct copier *c, const char *name, const char *show);
/* Lexical split of a COPY path into OUT. Sources (ROOTED false) may not
 * climb above the context ("..", "/.."): -1; a leading '/' means the
 * context root, as in docker. Destinations (ROOTED true) are absolute, and
 * ".." stops at "/" like filepath.Clean. */
int copy_split_clean(const char *path, bool rooted, cn_strv *out);
/* --parents: PLACE (the source's path below the root marker) split into
 * the directories kept above it (*DIR, allocated) and its own name ("": a
 * directory whose contents go there). */
const char *copy_place_split(const char *place, char **dir);
/* The target of the symlink NAME in SDIRFD, verbatim. */
int copy_read_target(struct copier *c, int sdirfd, const char *name, char target[PATH_MAX],
		     const char *show);
/* Hard links: an earlier copied file with the same source inode as ST, or
 * NULL; recording a first copy (DST: its inode, NULL for digests). */
const struct hardlink *copy_hardlink_find(const struct copier *c, const struct stat *st);
void copy_hardlink_add(struct copier *c, const struct stat *st, const char *rel,
		       const struct stat *dst);
/* What every copier owns, freed. */
void copy_copier_free(struct copier *c);

#endif
