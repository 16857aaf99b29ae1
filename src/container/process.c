/* The processes behind a detached container: the supervisor (spawned here),
 * the sandbox's pid 1 (signalled here), both identified by pid and start
 * time so that a recycled pid is never signalled. */
#include "container/container.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int ctr_proc_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024], *p;
	_cleanup_close_ int fd = -1;
	ssize_t n;
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	/* Field 3, the state: a zombie has exited already. */
	if (p[2] == 'Z' || p[2] == 'X')
		return -1;
	p++;
	/* starttime is field 22: 19 more fields after the state's. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -1;
	}
	*out = strtoull(p + 1, NULL, 10);
	return 0;
}

static bool same_process(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	return pid > 0 && ctr_proc_start_time(pid, &now) == 0 && now == start;
}

bool ctr_alive(const struct ctr_state *s)
{
	return s->status != CTR_EXITED && same_process(s->supervisor_pid, s->supervisor_start);
}

enum ctr_status ctr_effective_status(const struct ctr_state *s)
{
	if (s->status == CTR_EXITED || ctr_alive(s))
		return s->status;
	return CTR_EXITED;
}

/* A pidfd on PID if it is still the process that started at START. */
static int pidfd_checked(pid_t pid, unsigned long long start)
{
	int fd;
	if (pid <= 0)
		return -1;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	/* Checked after opening: the fd now pins this very process. */
	if (!same_process(pid, start)) {
		close(fd);
		return -1;
	}
	return fd;
}

int ctr_init_pidfd(const struct ctr_state *s)
{
	if (!ctr_alive(s) || s->status != CTR_RUNNING)
		return -1;
	return pidfd_checked(s->init_pid, s->init_start);
}

void ctr_no_restart(const struct ctr_state *s)
{
	_cleanup_close_ int fd = -1;
	if (!ctr_alive(s))
		return;
	fd = pidfd_checked(s->supervisor_pid, s->supervisor_start);
	if (fd >= 0)
		syscall(SYS_pidfd_send_signal, fd, SIGUSR1, NULL, 0);
}

int ctr_signal(const struct ctr_state *s, int sig, cn_err *err)
{
	_cleanup_close_ int fd = -1;
	/* A SIGKILL (rm -f) is final: no --restart after it. */
	if (sig == SIGKILL)
		ctr_no_restart(s);
	if (!ctr_alive(s) || s->status != CTR_RUNNING)
		return 1;
	fd = pidfd_checked(s->init_pid, s->init_start);
	if (fd < 0)
		return 1;
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) {
		if (errno == ESRCH)
			return 1;
		return cn_err_sys(err, "signal container %.12s", s->id);
	}
	return 0;
}

int ctr_wait(const struct ctr_state *s, long timeout_ms)
{
	_cleanup_close_ int fd = -1;
	struct pollfd p;
	struct timespec end, now;
	if (!ctr_alive(s))
		return 1;
	fd = pidfd_checked(s->supervisor_pid, s->supervisor_start);
	if (fd < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (timeout_ms % 1000) * 1000000;
	for (;;) {
		long left = -1;
		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
			if (left < 0)
				left = 0;
		}
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r == 0 && timeout_ms >= 0 && left == 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* How long the supervisor may take to clean up once the process is gone:
 * the cgroup's removal alone may wait ~5 s. */
#define CLEANUP_MS 30000

int ctr_stop(const struct ctr_state *s, unsigned timeout, cn_err *err)
{
	int r;
	ctr_no_restart(s);
	r = ctr_signal(s, s->stop_signal > 0 ? s->stop_signal : SIGTERM, err);
	if (r < 0)
		return -1;
	if (r == 0 && !ctr_wait(s, (long)timeout * 1000)) {
		if (ctr_signal(s, SIGKILL, err) < 0)
			return -1;
	}
	if (!ctr_wait(s, CLEANUP_MS))
		return cn_err_fail(err, CN_ERR_BUSY, "container %.12s: its supervisor (pid %d) did not finish",
				    s->id, (int)s->supervisor_pid);
	return 0;
}

/* Every inherited fd that is not close-on-exec belongs to the caller (a
 * shell's pipe, a test harness's fd): a supervisor holding it would keep
 * `$(cairn run -d ...)` waiting forever. */
static void close_foreign_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd;
	if (!d)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (fd > 2 && fd != dfd && fcntl(fd, F_GETFD) == 0)
			close(fd);
	}
	closedir(d);
}

int ctr_spawn_supervisor(int *fd, cn_err *err)
{
	int p[2];
	pid_t mid;
	int ws;
	if (pipe2(p, O_CLOEXEC) < 0)
		return cn_err_sys(err, "pipe");
	mid = fork();
	if (mid < 0) {
		cn_err_sys(err, "fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (mid == 0) {
		int null;
		pid_t sup;
		close(p[0]);
		/* A session of its own, and a grandchild of the caller: no
		 * controlling terminal can ever be reacquired, init reaps it. */
		setsid();
		sup = fork();
		if (sup != 0)
			_exit(sup < 0 ? 1 : 0);
		null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(1);
		close(null);
		close_foreign_fds();
		if (chdir("/") < 0)
			_exit(1);
		signal(SIGPIPE, SIG_IGN);
		*fd = p[1];
		return 0;
	}
	close(p[1]);
	while (waitpid(mid, &ws, 0) < 0 && errno == EINTR)
		;
	*fd = p[0];
	return 1;
}

void ctr_report_start(int fd, const cn_err *err)
{
	cn_err ok = { .errnum = 0, .msg = "" };
	(void)cn_write_all(fd, err ? err : &ok, sizeof(ok));
}

int ctr_await_start(int fd, cn_err *err)
{
	cn_err got;
	size_t have = 0;
	while (have < sizeof(got)) {
		ssize_t n = read(fd, (char *)&got + have, sizeof(got) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cn_err_fail(err, CN_ERR_FAILED, "the container's supervisor ended before it started the container");
		have += (size_t)n;
	}
	if (got.msg[0]) {
		got.msg[sizeof(got.msg) - 1] = '\0';
		*err = got;
		return -1;
	}
	return 0;
}
