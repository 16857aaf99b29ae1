/* sandbox/overlay.c, the option-string mount older kernels take: a stack
 * whose options just fit in a page mounts (a read-only one as well), and a
 * scratch stack is volatile only when ",volatile" still fits. */
#include "sandbox/overlay.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/var/tmp/cairn-test_overlay-XXXXXX";

/* Lower dirs in ROOT/l whose relative names, ':'-joined, are JOINED
 * characters long (the form the legacy mount passes). */
static size_t make_lowers(const char *tag, size_t joined, char ***out)
{
	char **v = NULL;
	size_t n = 0, left = joined;
	while (left) {
		size_t len = left > 400 ? 199 : left > 200 ? left / 2 : left;
		char name[256];
		snprintf(name, sizeof(name), "%s%03zu", tag, n);
		memset(name + strlen(name), 'x', len - strlen(name));
		name[len] = '\0';
		v = cn_xrealloc(v, (n + 1) * sizeof(*v));
		v[n] = cn_xasprintf("%s/l/%s", root, name);
		if (mkdir(v[n], 0755) < 0)
			unit_fixture_fail("mkdir a lower dir");
		n++;
		left -= len + (left > len);
	}
	*out = v;
	return n;
}

static void free_lowers(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Whether the overlay on MERGED is mounted volatile (mountinfo's super
 * options); -1: not mounted. */
static int is_volatile(const char *merged)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[16384], mp[4096];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && !strcmp(mp, merged))
			return strstr(line, ",volatile") || strstr(line, ",fsync=volatile");   /* 6.x shows the latter */
	return -1;
}

/* A stack whose options are TOTAL characters long (without the NUL). */
static void stack(const char *what, size_t total, bool upper, int want_volatile)
{
	_cleanup_free_ char *u = cn_xasprintf("%s/u", root), *w = cn_xasprintf("%s/w", root);
	_cleanup_free_ char *m = cn_xasprintf("%s/m", root), *e = cn_xasprintf("%s/e", root);
	_cleanup_free_ char *tail = upper ? cn_xasprintf(",upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off,"
							 "index=off", u, w) : cn_xstrdup("");
	char **lowers, tag[8];
	static int k;
	snprintf(tag, sizeof(tag), "%c", 'a' + k++);
	size_t n = make_lowers(tag, total - strlen("lowerdir=") - strlen(tail), &lowers);
	struct sb_rootfs r = { .lowers = (const char *const *)lowers, .nlowers = n, .upper = upper ? u : NULL,
			       .work = w, .merged = m, .empty = e, .scratch = upper };
	cn_err err;
	int rc = sb_overlay_mount(&r, &err);
	UNIT_CHECK(rc == 0, "%s: options of %zu bytes mount (%s)", what, total, rc < 0 ? err.msg : "ok");
	if (rc == 0) {
		int v = is_volatile(m);
		UNIT_CHECK(v == want_volatile, "%s: %s", what, want_volatile ? "volatile" : "not volatile");
		umount2(m, MNT_DETACH);
	}
	free_lowers(lowers, n);
}

int main(void)
{
	_cleanup_free_ char *dirs = NULL;
	if (geteuid() != 0) {
		UNIT_SKIP("needs root", "the legacy overlay mount");
		return UNIT_DONE();
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		UNIT_SKIP("no mount namespace", "the legacy overlay mount");
		return UNIT_DONE();
	}
	if (!mkdtemp(root))
		unit_fixture_fail("mkdtemp");
	dirs = cn_xasprintf("mkdir -p %1$s/l %1$s/u %1$s/w %1$s/m %1$s/e", root);
	if (system(dirs) != 0)
		unit_fixture_fail("mkdir");
	setenv("CAIRN_TEST_OVERLAY_LEGACY", "1", 1);
	/* A page holds 4095 characters and the NUL. */
	stack("a read-only stack", 4095, false, 0);
	stack("a scratch stack with room for volatile", 4086, true, 1);
	stack("a scratch stack without room for volatile", 4090, true, 0);
	{
		_cleanup_free_ char *w = cn_xasprintf("%s/w", root);
		_cleanup_free_ char *m = cn_xasprintf("%s/m", root), *e = cn_xasprintf("%s/e", root);
		char **lowers;
		size_t n = make_lowers("z", 4096 - strlen("lowerdir="), &lowers);
		struct sb_rootfs r = { .lowers = (const char *const *)lowers, .nlowers = n, .work = w,
				       .merged = m, .empty = e };
		cn_err err;
		int rc = sb_overlay_mount(&r, &err);
		UNIT_CHECK(rc < 0 && err.kind == CN_ERR_TOO_BIG, "options of 4096 bytes are refused (%s)",
			   rc < 0 ? err.msg : "mounted");
		if (rc == 0)
			umount2(m, MNT_DETACH);
		free_lowers(lowers, n);
	}
	unit_rmtree(root);
	return UNIT_DONE();
}
