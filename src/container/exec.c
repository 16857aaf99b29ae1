/* cairn exec: a command in a running detached container, with what its
 * state recorded (container.h's ctr_exec_conf). */
#include "container/container.h"
#include "util/cleanup.h"
#include "util/interrupt.h"
#include "util/mem.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Its pid 1 exited: the pidfd is readable. */
static bool ended(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	return poll(&p, 1, 0) != 0;
}

/* Whether this process is in PID's user namespace already: the supervisor
 * of a rootless container is (it runs in rootless cairn's namespace, which
 * the container shares), and setns into one's own fails. */
static bool in_userns_of(pid_t pid)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

int ctr_exec(const struct ctr_state *s, const struct ctr_exec *e, struct sb_exit *ex, cn_err *err)
{
	const struct ctr_exec_conf *c = &s->exec;
	_cleanup_strv_ cn_strv env = { 0 };
	_cleanup_close_ int pidfd = -1;
	struct sb_cgroup cg = { .ndirs = 0 };
	struct sb_process proc;
	struct sb_join join;

	if (!ctr_alive(s) || s->status != CTR_RUNNING)
		return 1;
	if (!c->recorded)
		return cn_err_fail(err, CN_ERR_UNSUPPORTED, "container %s was started by a cairn without exec: "
				   "run it again to exec into it", s->name);
	pidfd = ctr_init_pidfd(s);
	if (pidfd < 0)
		return 1;
	cn_strv_copy(&env, &c->env);
	for (size_t i = 0; e->env && i < e->env->n; i++) {
		const char *kv = e->env->v[i], *eq = strchr(kv, '=');
		_cleanup_free_ char *key = eq ? cn_xstrndup(kv, (size_t)(eq - kv)) : NULL;
		if (key)
			cn_env_set(&env, key, eq + 1);
	}
	for (size_t i = 0; i < c->cgroup_dirs.n && i < CN_ARRAY_SIZE(cg.dirs); i++)
		cg.dirs[cg.ndirs++] = c->cgroup_dirs.v[i];
	proc = (struct sb_process){
		.argv = e->argv,
		.env = cn_strv_array(&env),
		.cwd = e->workdir ? e->workdir : c->workdir,
		.cwd_must_exist = true,
		.user = e->user ? e->user : c->user,
		.out_fd = e->capture ? e->out_fd : STDOUT_FILENO,
		.err_fd = e->capture ? e->out_fd : STDERR_FILENO,
		.interactive = e->interactive,
		.in_fd = STDIN_FILENO,
		.tty = e->tty,
		/* Ctrl-C and SIGTERM go on to the command; a second one kills it. */
		.stop_signal = e->stop_kills_group ? SB_STOP_KILL_GROUP : SB_STOP_FORWARD,
		.stop_timeout = s->stop_timeout,
		.security = &c->security,
		.rlimits = c->rlimits,
		.nrlimits = c->nrlimits,
	};
	join = (struct sb_join){ .pid = s->init_pid, .pidfd = pidfd,
				 .userns = c->userns == SB_USERNS_FIRST && in_userns_of(s->init_pid) ? SB_USERNS_SAME
												       : c->userns,
				 .reaper = s->init_reaper, .cgroup = cg.ndirs ? &cg : NULL,
				 .has_oom_score_adj = c->has_oom_score_adj, .oom_score_adj = c->oom_score_adj };
	/* A command that stops reading its stdin must not kill cairn. */
	signal(SIGPIPE, SIG_IGN);
	cn_interrupt_install();
	if (sb_exec(&join, &proc, ex, err) < 0)
		return ended(pidfd) ? 1 : -1;
	return 0;
}
