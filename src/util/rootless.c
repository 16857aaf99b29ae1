#include "util/rootless.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct cn_rootless state;
static bool active;

const struct cn_rootless *cn_rootless(void)
{
	return active ? &state : NULL;
}

void cn_rootless_set(const struct cn_rootless *r)
{
	state = *r;
	active = true;
}

bool cn_rootless_single(void)
{
	return active && (state.uid_count == 0 || state.gid_count == 0);
}

const char *cn_rootless_single_hint(void)
{
	static char buf[384];
	snprintf(buf, sizeof(buf),
		 "only your own id is mapped (as root): chown to other ids, USER of another uid and "
		 "images owning files by other ids fail; add a range such as '%s:100000:65536' to "
		 "/etc/subuid and /etc/subgid (useradd does this for new users)",
		 active ? state.name : "USER");
	return buf;
}

bool cn_userns_nested(void)
{
	char line[128] = "";
	unsigned long inside, outside, count;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, line, sizeof(line) - 1);
		line[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	/* The initial namespace maps every id to itself in one line. */
	if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) != 3)
		return false;
	return !(inside == 0 && outside == 0 && count == 4294967295UL);
}

static char *home_dir(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;
	if (h && *h == '/')
		return cn_xstrdup(h);
	pw = getpwuid(active ? state.uid : getuid());
	return pw && pw->pw_dir && *pw->pw_dir == '/' ? cn_xstrdup(pw->pw_dir) : NULL;
}

char *cn_rootless_store_dir(cn_err *err)
{
	const char *x = getenv("XDG_DATA_HOME");
	_cleanup_free_ char *home = NULL;
	if (x && *x == '/')     /* a relative value is invalid (XDG spec): ignored */
		return cn_xasprintf("%s/cairn", x);
	home = home_dir();
	if (!home) {
		cn_err_fail(err, CN_ERR_NOT_FOUND, "no home directory for the store: set HOME, "
			    "XDG_DATA_HOME, CAIRN_ROOT or --root");
		return NULL;
	}
	return cn_xasprintf("%s/.local/share/cairn", home);
}

/* DIR is a directory owned by us that nobody else may write into. Inside
 * our user namespace the user's own files show as owned by 0 = getuid(). */
static bool private_dir(const char *dir)
{
	struct stat st;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() &&
	       !(st.st_mode & 022);
}

char *cn_runtime_dir(cn_err *err)
{
	const char *x = getenv("XDG_RUNTIME_DIR");
	_cleanup_free_ char *base = NULL;
	char *dir;
	unsigned uid = active ? (unsigned)state.uid : (unsigned)getuid();
	if (!active && getuid() == 0)
		return cn_xstrdup("/run/cairn");
	if (x && *x == '/' && private_dir(x)) {
		base = cn_xstrdup(x);
	} else {
		_cleanup_free_ char *run = cn_xasprintf("/run/user/%u", uid);
		if (private_dir(run)) {
			base = run;
			run = NULL;
		}
	}
	dir = base ? cn_xasprintf("%s/cairn", base) : cn_xasprintf("/tmp/cairn-run-%u", uid);
	/* Made 0700 whatever the umask; one that exists must be ours and
	 * private (in /tmp anyone could have made it first). */
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		cn_err_sys(err, "create runtime directory '%s'", dir);
		free(dir);
		return NULL;
	}
	if (!private_dir(dir)) {
		cn_err_fail(err, CN_ERR_DENIED, "runtime directory '%s' is not a directory of yours that "
			    "only you can write (remove it, or set XDG_RUNTIME_DIR)", dir);
		free(dir);
		return NULL;
	}
	return dir;
}
