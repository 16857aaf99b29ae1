/* USER / --chown resolution against the image's own /etc/passwd and
 * /etc/group. The files are opened inside the root with openat2
 * (RESOLVE_IN_ROOT), so a symlinked /etc or /etc/passwd resolves within the
 * image; only regular files are read (a fifo or device would hang or never
 * end), and size and line length are capped. NSS is never involved. */
#include "util/userdb.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DB_MAX_SIZE ((size_t)4 << 20)
#define DB_MAX_LINE ((size_t)64 << 10)
#define PASSWD_PATH "etc/passwd"
#define GROUP_PATH "etc/group"

/* A database file read into memory; entries are split in place. */
struct db {
	cn_buf data;
	bool present;
	const char *name;       /* "/etc/passwd" for messages */
};

/* The fields of one passwd or group line (pointers into db.data). */
struct pw_ent {
	const char *name;
	uint32_t uid, gid;
	const char *home;
};

/* Read ROOT/PATH into db->data. A missing file (or a missing /etc) leaves
 * db->present false and is not an error. The file is first opened O_PATH,
 * which has no side effects even on a device, and is only opened for
 * reading once known to be a regular file (then checked to be the same one). */
static int db_load(int root_fd, const char *path, struct db *db, cn_err *err)
{
	_cleanup_close_ int pfd = -1, fd = -1;
	struct stat st, st2;
	char chunk[65536];

	cn_buf_init(&db->data, DB_MAX_SIZE);
	db->present = false;
	pfd = cn_openat2(root_fd, path, O_PATH, RESOLVE_IN_ROOT);
	if (pfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return cn_err_sys(err, "open %s in the image", db->name);
	}
	if (fstat(pfd, &st) < 0)
		return cn_err_sys(err, "stat %s in the image", db->name);
	if (!S_ISREG(st.st_mode))
		return cn_err_fail(err, CN_ERR_INVALID, "%s in the image is not a regular file", db->name);
	if ((size_t)st.st_size > DB_MAX_SIZE)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "%s in the image is larger than %zu bytes",
				  db->name, DB_MAX_SIZE);
	fd = cn_openat2(root_fd, path, O_RDONLY | O_NONBLOCK, RESOLVE_IN_ROOT);
	if (fd < 0)
		return cn_err_sys(err, "open %s in the image", db->name);
	if (fstat(fd, &st2) < 0)
		return cn_err_sys(err, "stat %s in the image", db->name);
	if (!S_ISREG(st2.st_mode) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino)
		return cn_err_fail(err, CN_ERR_BUSY, "%s in the image changed while being opened", db->name);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cn_err_sys(err, "read %s in the image", db->name);
		}
		if (n == 0)
			break;
		/* The file may grow after the fstat: the buffer's max enforces the cap. */
		if (cn_buf_add(&db->data, chunk, (size_t)n) < 0)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s in the image is larger than %zu bytes",
					  db->name, DB_MAX_SIZE);
	}
	db->present = true;
	return 0;
}

/* Iterates over the entries of a db, splitting each line on ':' in place. */
struct db_iter {
	struct db *db;
	size_t off;
	size_t lineno;
};

/* Fills up to NF fields of the next entry (missing ones are ""). Blank
 * lines, comments and NIS compat lines ("+", "-") are skipped.
 * Returns 1 for an entry, 0 at the end, -1 on error. */
static int db_next(struct db_iter *it, char **f, size_t nf, cn_err *err)
{
	cn_buf *b = &it->db->data;
	while (it->off < b->len) {
		char *line = b->data + it->off;
		char *nl = memchr(line, '\n', b->len - it->off);
		size_t len = nl ? (size_t)(nl - line) : b->len - it->off;
		size_t i = 0;
		char *p;

		it->lineno++;
		if (len > DB_MAX_LINE)
			return cn_err_fail(err, CN_ERR_TOO_BIG, "%s in the image: line %zu is longer than %zu bytes",
					  it->db->name, it->lineno, DB_MAX_LINE);
		it->off += len + (nl ? 1 : 0);
		line[len] = '\0';       /* the '\n', or the buffer's own terminator */
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-')
			continue;
		for (p = line; i < nf; i++) {
			char *colon = strchr(p, ':');
			f[i] = p;
			if (!colon) {
				for (i++; i < nf; i++)
					f[i] = line + len;      /* "" */
				break;
			}
			*colon = '\0';
			p = colon + 1;
		}
		return 1;
	}
	return 0;
}

/* Decimal id in [0, 2^32-2]; (uid_t)-1 means "no change" to the kernel. */
static bool parse_id(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX - 1)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Find a passwd entry by name (NAME != NULL) or by uid. Returns 1 found, 0 not. */
static int find_user(struct db *pw, const char *name, uint32_t uid, struct pw_ent *out, cn_err *err)
{
	struct db_iter it = { .db = pw };
	char *f[7];
	int r;
	if (!pw->present)
		return 0;
	while ((r = db_next(&it, f, CN_ARRAY_SIZE(f), err)) > 0) {
		uint32_t u, g;
		if (!parse_id(f[2], &u) || !parse_id(f[3], &g))
			continue;       /* malformed line: not an entry */
		if (name ? strcmp(f[0], name) != 0 : u != uid)
			continue;
		out->name = f[0];
		out->uid = u;
		out->gid = g;
		out->home = f[5];
		return 1;
	}
	return r;
}

/* Find a group's gid by name. Returns 1 found, 0 not. */
static int find_group(struct db *gr, const char *name, uint32_t *gid, cn_err *err)
{
	struct db_iter it = { .db = gr };
	char *f[4];
	int r;
	if (!gr->present)
		return 0;
	while ((r = db_next(&it, f, CN_ARRAY_SIZE(f), err)) > 0) {
		if (strcmp(f[0], name) == 0 && parse_id(f[2], gid))
			return 1;
	}
	return r;
}

static int add_group(struct cn_user *u, gid_t g, const char *user, cn_err *err)
{
	for (size_t i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return 0;
	if (u->ngroups == CN_USER_MAX_GROUPS)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "'%s' is a member of more than %d groups",
				  user, CN_USER_MAX_GROUPS);
	u->groups[u->ngroups++] = g;
	return 0;
}

static bool list_has(char *members, const char *name)
{
	for (char *tok = members; tok; ) {
		char *comma = strchr(tok, ',');
		size_t len = comma ? (size_t)(comma - tok) : strlen(tok);
		if (len == strlen(name) && memcmp(tok, name, len) == 0)
			return true;
		tok = comma ? comma + 1 : NULL;
	}
	return false;
}

/* Every group listing NAME as a member, appended after the primary gid. */
static int add_member_groups(struct db *gr, const char *name, struct cn_user *u, cn_err *err)
{
	struct db_iter it = { .db = gr };
	char *f[4];
	int r;
	if (!gr->present || !name)
		return 0;
	while ((r = db_next(&it, f, CN_ARRAY_SIZE(f), err)) > 0) {
		uint32_t g;
		if (!parse_id(f[2], &g) || !list_has(f[3], name))
			continue;
		if (add_group(u, g, name, err) < 0)
			return -1;
	}
	return r;
}

static int set_home(struct cn_user *u, const char *home, cn_err *err)
{
	size_t len = strlen(home);
	if (len == 0 || home[0] != '/') {
		memcpy(u->home, "/", 2);
		return 0;
	}
	if (len >= sizeof(u->home))
		return cn_err_fail(err, CN_ERR_TOO_BIG, "home directory in the image's /etc/passwd "
				  "is longer than %zu bytes", sizeof(u->home) - 1);
	memcpy(u->home, home, len + 1);
	return 0;
}

/* Resolve the user part into uid, primary gid, home and (for the group
 * lookup) the passwd name. NAME_OUT points into pw's buffer or is NULL. */
static int resolve_user(struct db *pw, const char *user, struct cn_user *out,
			const char **name_out, cn_err *err)
{
	struct pw_ent e;
	uint32_t uid;
	bool numeric = parse_id(user, &uid);
	int r;

	if (!numeric && strspn(user, "0123456789") == strlen(user))
		return cn_err_fail(err, CN_ERR_INVALID, "uid '%s' is out of range", user);
	r = find_user(pw, numeric ? NULL : user, numeric ? uid : 0, &e, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (!numeric)
			return cn_err_fail(err, CN_ERR_NOT_FOUND, "unknown user '%s' (no such entry "
					  "in the image's /etc/passwd)", user);
		out->uid = uid;
		out->gid = 0;
		memcpy(out->home, "/", 2);
		*name_out = NULL;
		return 0;
	}
	out->uid = e.uid;
	out->gid = e.gid;
	*name_out = e.name;
	return set_home(out, e.home, err);
}

static int resolve_group(struct db *gr, const char *group, gid_t *gid, cn_err *err)
{
	uint32_t g;
	int r;
	if (parse_id(group, &g)) {
		*gid = g;
		return 0;
	}
	if (strspn(group, "0123456789") == strlen(group))
		return cn_err_fail(err, CN_ERR_INVALID, "gid '%s' is out of range", group);
	r = find_group(gr, group, &g, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cn_err_fail(err, CN_ERR_NOT_FOUND, "unknown group '%s' (no such entry "
				  "in the image's /etc/group)", group);
	*gid = g;
	return 0;
}

int cn_user_resolve(int root_fd, const char *spec, struct cn_user *out, cn_err *err)
{
	struct db pw = { .name = "/etc/passwd" }, gr = { .name = "/etc/group" };
	_cleanup_free_ char *user = NULL;
	const char *colon, *group = NULL, *pwname = NULL;
	int ret = -1;

	cn_buf_init(&pw.data, DB_MAX_SIZE);
	cn_buf_init(&gr.data, DB_MAX_SIZE);
	memset(out, 0, sizeof(*out));
	if (!spec)
		spec = "";
	colon = strchr(spec, ':');
	/* An empty user part means root, as in runc ("" or ":gid"). */
	user = colon ? cn_xstrndup(spec, (size_t)(colon - spec)) : cn_xstrdup(spec);
	if (!*user) {
		free(user);
		user = cn_xstrdup("0");
	}
	if (colon && colon[1])
		group = colon + 1;

	if (db_load(root_fd, PASSWD_PATH, &pw, err) < 0 ||
	    resolve_user(&pw, user, out, &pwname, err) < 0)
		goto out;
	/* The group file is only needed for a group name or for membership. */
	if (!group || !parse_id(group, &(uint32_t){0})) {
		if (db_load(root_fd, GROUP_PATH, &gr, err) < 0)
			goto out;
	}
	if (group && resolve_group(&gr, group, &out->gid, err) < 0)
		goto out;
	/* groups[] is ready for setgroups(): the primary gid first. */
	out->groups[0] = out->gid;
	out->ngroups = 1;
	if (!group && add_member_groups(&gr, pwname, out, err) < 0)
		goto out;
	ret = 0;
out:
	cn_buf_free(&pw.data);
	cn_buf_free(&gr.data);
	return ret;
}
