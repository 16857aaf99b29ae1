/* Rootless cairn at the command line: the default store, entering the
 * user namespace before a command, the warnings, and `cairn info`. */
#include "cli/cli.h"
#include "cli/rootless.h"
#include "registry/auth.h"
#include "sandbox/cgroup.h"
#include "sandbox/rootless.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_ROOT "/var/lib/cairn"

const char *cli_default_root(void)
{
	static char *dir;
	cn_err ignored;
	if (getuid() == 0)
		return DEFAULT_ROOT;
	if (!dir)
		dir = cn_rootless_store_dir(&ignored);
	return dir;     /* NULL: cli_rootless_setup says why */
}

/* Commands that never touch the store or run anything. */
static bool needs_userns(const char *cmd)
{
	/* compose only reads the store itself; its cairn children (build,
	 * run, exec, ...) each enter the namespace they need. */
	static const char *const outside[] = { "parse", "login", "logout", "info", "compose" };
	for (size_t i = 0; i < CN_ARRAY_SIZE(outside); i++)
		if (!strcmp(cmd, outside[i]))
			return false;
	return true;
}

/* Commands for which unmapped ids matter (chown, USER, image owners). */
static bool ids_matter(const char *cmd)
{
	return !strcmp(cmd, "build") || !strcmp(cmd, "run") || !strcmp(cmd, "pull") ||
	       !strcmp(cmd, "load");
}

/* Said once per runtime dir (i.e. per login session, or per boot for the
 * /tmp fallback): a marker file records that it was. */
static void warn_single_once(void)
{
	cn_err err;
	_cleanup_free_ char *dir = cn_runtime_dir(&err);
	_cleanup_free_ char *marker = NULL;
	int fd;
	if (!dir) {
		fprintf(stderr, "warning: rootless: %s\n", cli_esc(cn_rootless_single_hint()));
		return;
	}
	marker = cn_xasprintf("%s/warned-no-subuid", dir);
	fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	close(fd);
	fprintf(stderr, "warning: rootless: no range for you in /etc/subuid and /etc/subgid: %s\n",
		cli_esc(cn_rootless_single_hint()));
}

int cli_rootless_setup(struct cli *cli, const char *cmd)
{
	struct cn_rootless r;
	cn_err err;
	if (!cli->root) {       /* no home: cli_default_root found no store */
		free(cn_rootless_store_dir(&err));
		cli_fail(&err);
		return -1;
	}
	if (getuid() == 0 || !needs_userns(cmd))
		return 0;
	if (!strcmp(cmd, "exec")) {
		/* exec joins the container's user namespace (sandbox/exec.c): no
		 * other, which could not reach it, may be entered first. */
		if (sb_rootless_probe(&r, &err) < 0)
			return cli_fail(&err), -1;
		cn_rootless_set(&r);
		return 0;
	}
	if (sb_rootless_probe(&r, &err) < 0 || sb_rootless_enter(&r, &err) < 0) {
		cli_fail(&err);
		return -1;
	}
	if (cn_rootless_single() && ids_matter(cmd))
		warn_single_once();
	return 0;
}

void cli_rootless_note(const cn_err *err)
{
	if (!cn_rootless_single())
		return;
	if (cn_err_is(err, CN_ERR_FAILED) || cn_err_is(err, CN_ERR_DENIED) || err->errnum == EINVAL)
		fprintf(stderr, "note: cairn runs rootless and %s\n", cli_esc(cn_rootless_single_hint()));
}

/* ---- cairn info ---- */

static void print_map(const char *what, unsigned long self, unsigned long start, unsigned long count)
{
	if (count)
		printf("%-13s 0 -> %lu, 1-%lu -> %lu-%lu\n", what, self, count, start, start + count - 1);
	else
		printf("%-13s 0 -> %lu only (no range in /etc/sub%cid)\n", what, self, what[0]);
}

int cmd_info(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_free_ char *run = NULL, *auth = NULL;
	struct cn_rootless r;
	bool rootless = getuid() != 0;
	enum sb_cgroup_version cgv = sb_cgroup_version();
	static const struct {
		const char *flag;
		struct sb_limits l;
	} limit[] = {
		{ "--memory", { .memory = 1 } }, { "--cpus", { .cpus_milli = 1 } }, { "--pids-limit", { .pids = 1 } },
	};
	cn_err limit_err[CN_ARRAY_SIZE(limit)];
	_cleanup_free_ char *cgdir = NULL;
	cn_err err;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: cairn info\n\nShow where cairn keeps things for you and how it runs: the\n"
			       "store, rootless or not (with the uid/gid maps from /etc/subuid and\n"
			       "/etc/subgid), the overlay mode, the cgroup version, and what is\n"
			       "unavailable here and why.\n");
			return 0;
		}
		return cli_usage_error("info", "invalid option");
	}
	if (optind < argc)
		return cli_usage_error("info", "unexpected argument '%s'", argv[optind]);
	run = cn_runtime_dir(&err);
	auth = reg_auth_file_path();
	printf("%-13s %s\n", "store:", cli_esc(cli->root));
	printf("%-13s %s\n", "runtime dir:", run ? cli_esc(run) : cli_esc(err.msg));
	printf("%-13s %s\n", "auth file:", cli_esc(auth));
	if (!rootless) {
		printf("%-13s no (root)\n", "rootless:");
		printf("%-13s kernel overlayfs, metadata in trusted.overlay.*\n", "overlay:");
	} else if (sb_rootless_probe(&r, &err) < 0) {
		printf("%-13s yes, but: %s\n", "rootless:", cli_esc(err.msg));
	} else {
		printf("%-13s yes (user %s, uid %u, gid %u): a user namespace of its own\n", "rootless:",
		       cli_esc(r.name), (unsigned)r.uid, (unsigned)r.gid);
		print_map("uid map:", (unsigned long)r.uid, r.uid_start, r.uid_count);
		print_map("gid map:", (unsigned long)r.gid, r.gid_start, r.gid_count);
		printf("%-13s kernel overlayfs in the user namespace (userxattr: metadata in "
		       "user.overlay.*)\n", "overlay:");
	}
	printf("%-13s v%d%s\n", "cgroups:", (int)cgv, cgv == SB_CGROUP_V1 ? " (hybrid or legacy)" : "");
	if (rootless) {
		/* Each limit on its own: a host may delegate memory and pids, not cpu. */
		bool any = false;
		for (size_t i = 0; i < CN_ARRAY_SIZE(limit); i++) {
			_cleanup_free_ char *dir = NULL;
			limit_err[i].msg[0] = '\0';
			if (sb_cgroup_user_check(&limit[i].l, (unsigned)getuid(), &dir, &limit_err[i]) < 0)
				continue;
			if (!any)
				printf("%-13s", "limits:");
			printf(" %s", limit[i].flag);
			if (!cgdir)
				cgdir = cn_xstrdup(dir);
			any = true;
		}
		if (any)
			printf(" (in %s, delegated to you)\n", cli_esc(cgdir));
	}
	printf("%-13s %s\n", "network:", rootless ? "RUN and run share the host's network by default; "
	       "none works" : "default: a private network on the cairn0 bridge; host and none work");
	if (!rootless)
		return 0;
	printf("unavailable:\n");
	printf("  --network default|bridge: a bridge needs root (slirp4netns is not supported yet)\n");
	for (size_t i = 0; i < CN_ARRAY_SIZE(limit); i++)
		if (limit_err[i].msg[0] && (i == 0 || strcmp(limit_err[i].msg, limit_err[i - 1].msg)))
			printf("  %s\n", cli_esc(limit_err[i].msg));
	printf("  run --userns=auto: needs root (rootless already uses a user namespace)\n");
	if (!r.uid_count)
		printf("  ids other than 0 (chown, USER, images owning files by other ids): add a range "
		       "such as '%s:100000:65536' to /etc/subuid and /etc/subgid\n", cli_esc(r.name));
	return 0;
}
