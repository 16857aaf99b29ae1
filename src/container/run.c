#include "container/health.h"
#include "container/rootfs.h"
#include "container/run.h"
#include "sandbox/cgroup.h"
#include "sandbox/defaults.h"
#include "sandbox/options.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/interrupt.h"
#include "util/labels.h"
#include "util/mem.h"
#include "util/rootless.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOSTNAME_MAX 256

int ctr_fail_status(const cn_err *err)
{
	if (cn_err_is(err, CN_ERR_EXEC))
		return err->errnum == ENOENT ? 127 : 126;
	return CTR_EXIT_FAIL;
}

/* docker's: the one given, else the host's name on the host's network,
 * else the container's name, else its id. BUF holds the host's. */
static const char *pick_hostname(const struct ctr_run *r, const char *id, char buf[HOSTNAME_MAX])
{
	if (r->hostname)
		return r->hostname;
	if (r->network == SB_NET_HOST && gethostname(buf, HOSTNAME_MAX) == 0)
		return buf;
	return r->name ? r->name : id;
}

static int rootfs_create(struct store *st, const struct ctr_run *r, const char *hostname,
			 struct ctr_rootfs *fs, cn_err *err)
{
	struct ctr_rootfs_opts o = {
		.prefix = "run", .layers = r->img->layers, .nlayers = r->img->nlayers, .hostname = hostname,
		.extra_hosts = r->extra_hosts, .dns = r->dns,
	};
	return ctr_rootfs_create(st, &o, fs, err);
}

/* --systemd: the spec an init system gets, with a fresh machine id as
 * container_uuid (systemd's name for it), unless the caller set one. */
static void systemd_spec(const struct ctr_run *r)
{
	unsigned char rnd[16];
	char id[33];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
		/* Unique enough for one host without urandom: time and pid. */
		unsigned long long t = (unsigned long long)time(NULL);
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)((i < 8 ? t >> (8 * i) : (unsigned long long)getpid() >> (8 * (i - 8))) ^ 0x5a);
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	ctr_spec_systemd(r->spec, id);
}

/* container_uuid when it can be a machine id (32 hex digits), else NULL:
 * systemd then makes one of its own. */
static const char *machine_id(const struct ctr_run *r)
{
	const char *v = r->systemd ? cn_env_get(&r->spec->env, "container_uuid") : NULL;
	return v && strlen(v) == 32 && strspn(v, "0123456789abcdef") == 32 ? v : NULL;
}

/* ---- the network: a lease held while the container runs (across
 * --restart), its published ports, and on a named network its names ---- */

struct run_net {
	struct net_lease lease;
	bool on;                /* SB_NET_DEFAULT: the lease is taken */
};

static int net_start(const struct ctr_run *r, struct run_net *n, cn_err *err)
{
	struct net_conf def;
	const struct net_conf *c = r->net;
	n->lease.lock_fd = -1;
	n->on = false;
	if (r->network != SB_NET_DEFAULT)
		return 0;
	if (!c) {
		if (net_conf_default(&def, err) < 0)
			return -1;
		c = &def;
	}
	/* The default bridge is made again if someone removed it; a created
	 * network removed since the caller prepared it is an error. */
	if (net_lease_acquire(c, &n->lease, err) < 0)
		return -1;
	n->on = true;
	/* Also sweeps the ports a killed run left on this address. */
	if (net_ports_add(&n->lease, r->ports, r->nports, err) < 0) {
		net_lease_release(&n->lease);
		n->on = false;
		return -1;
	}
	return 0;
}

/* Before each run of the process: the names in the members' hosts files
 * (HOSTS is this run's file), no veth left from the previous run. */
static int net_join(const struct ctr_run *r, struct run_net *n, const char *hosts, const char *name,
		    const char *hostname, cn_err *err)
{
	_cleanup_strv_ cn_strv names = { 0 };
	if (!n->on)
		return 0;
	net_nl_link_del(n->lease.host_if, err);
	cn_strv_pushdup(&names, name);
	cn_strv_pushdup(&names, hostname);
	for (size_t i = 0; r->aliases && i < r->aliases->n; i++)
		cn_strv_pushdup(&names, r->aliases->v[i]);
	return hosts ? net_member_join(&n->lease, hosts, &names, err) : 0;
}

static void net_stop(struct run_net *n)
{
	if (!n->on)
		return;
	net_member_leave(&n->lease);
	/* The port chain goes with the lease (net_lease_release). */
	net_lease_release(&n->lease);
	n->on = false;
}

/* What attached and detached runs share; the caller adds the fds. */
static struct sb_process process(const struct ctr_run *r, const struct ctr_rootfs *fs,
				 const char *hostname, const char *cgroup_id)
{
	return (struct sb_process){
		.argv = cn_strv_array(&r->spec->argv),
		.env = cn_strv_array(&r->spec->env),
		.cwd = r->spec->cwd,
		.user = r->spec->user,
		.hostname = hostname,
		.hosts_file = fs->hosts,
		.network = r->network,
		.net = r->net,
		.mounts = r->mounts,
		.nmounts = r->nmounts,
		.in_fd = -1,
		.tty = r->tty || r->systemd,    /* the console is a pty */
		.systemd = r->systemd,
		.machine_id = machine_id(r),
		.read_only = r->read_only,
		.as_pid1 = !r->init || r->systemd,
		.stop_signal = r->spec->stop_signal,
		.stop_timeout = r->stop_timeout,
		.limits = r->limits,
		.cgroup_id = cgroup_id,
		.idmap = r->idmap,
		.security = r->security,
		.rlimits = r->rlimits,
		.nrlimits = r->nrlimits,
		.shm_size = r->shm_size,
		.resolv_file = fs->resolv,
	};
}

int ctr_run_attached(struct store *st, const struct ctr_run *r, struct sb_exit *ex, cn_err *err)
{
	struct ctr_rootfs fs;
	_cleanup_free_ char *id = NULL, *cgroup_id = NULL;
	unsigned char rnd[6];
	char hostbuf[HOSTNAME_MAX];
	const char *hostname;
	struct sb_process proc;
	struct run_net net;
	_cleanup_close_ int null_fd = -1;
	int fd, ret;

	if (r->systemd)
		systemd_spec(r);
	/* Names this run's cgroup and, docker's way, its default hostname. */
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	if (fd >= 0)
		close(fd);
	id = cn_xasprintf("%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	hostname = pick_hostname(r, id, hostbuf);
	if (rootfs_create(st, r, hostname, &fs, err) < 0)
		return -1;
	if (net_start(r, &net, err) < 0 || net_join(r, &net, fs.hosts, r->name ? r->name : id, hostname, err) < 0) {
		net_stop(&net);
		ctr_rootfs_free(st, &fs);
		return -1;
	}
	cgroup_id = cn_xasprintf("run-%d-%s", (int)getpid(), id);
	proc = process(r, &fs, hostname, cgroup_id);
	proc.lease = net.on ? &net.lease : NULL;
	proc.out_fd = STDOUT_FILENO;
	proc.err_fd = STDERR_FILENO;
	if (r->mute_stdout || r->mute_stderr) {
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null_fd < 0) {
			net_stop(&net);
			ctr_rootfs_free(st, &fs);
			return cn_err_sys(err, "open /dev/null");
		}
		if (r->mute_stdout)
			proc.out_fd = null_fd;
		if (r->mute_stderr)
			proc.err_fd = null_fd;
	}
	proc.interactive = r->interactive;
	proc.in_fd = STDIN_FILENO;
	signal(SIGPIPE, SIG_IGN);
	cn_interrupt_install();
	ret = sb_run(&fs.sb, &proc, ex, err);
	net_stop(&net);
	ctr_rootfs_free(st, &fs);
	return ret;
}

/* ---- detached: the supervisor ---- */

struct supervisor {
	struct store *st;
	struct ctr_state *cs;
	int report_fd;          /* to the waiting cairn run; -1 once told */
};

/* cairn stop and rm -f tell the supervisor (SIGUSR1, ctr_no_restart) that
 * the container is not to be restarted. */
static volatile sig_atomic_t stop_requested;

static void on_stop_request(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* The process exec'd: it is running, and cairn run -d may return. */
static void supervisor_started(void *ctx, pid_t init_pid, const struct sb_cgroup *cg)
{
	struct supervisor *s = ctx;
	cn_err err;
	/* cairn exec joins it (each --restart makes it anew). */
	cn_strv_free(&s->cs->exec.cgroup_dirs);
	for (size_t i = 0; cg && i < cg->ndirs; i++)
		cn_strv_pushdup(&s->cs->exec.cgroup_dirs, cg->dirs[i]);
	s->cs->status = CTR_RUNNING;
	s->cs->init_pid = init_pid;
	s->cs->started = (long long)time(NULL);
	/* Unrecordable, so unstoppable: better not to run at all. A restart
	 * that raced with cairn stop ends at once. */
	if (ctr_proc_start_time(init_pid, &s->cs->init_start) < 0 || ctr_save(s->st, s->cs, &err) < 0 ||
	    stop_requested) {
		kill(init_pid, SIGKILL);
		return;
	}
	if (s->report_fd >= 0) {
		ctr_report_start(s->report_fd, NULL);
		close(s->report_fd);
		s->report_fd = -1;
	}
}

/* --restart: whether the run that ended with RET and EX goes again. */
static bool restart_due(const struct ctr_run *r, int ret, const struct sb_exit *ex, unsigned restarts)
{
	if (ret < 0 || stop_requested || cn_interrupted())
		return false;
	switch (r->restart) {
	case CTR_RESTART_ON_FAILURE:
		return ex->status != 0 && (r->restart_max == 0 || restarts < r->restart_max);
	case CTR_RESTART_ALWAYS:
		return true;
	default:
		return false;
	}
}

/* docker's back-off: 100 ms, doubling, at most a minute; cut short by a
 * stop request or SIGTERM. */
static void restart_delay(unsigned restarts)
{
	long long ms = 100LL << (restarts < 10 ? restarts : 10);
	struct timespec ts;
	if (ms > 60000)
		ms = 60000;
	ts = (struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (!stop_requested && !cn_interrupted() && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The supervisor's life: run the container with its output in the log
 * (again and again with --restart), record how it ended, clean up, and
 * exit. Never returns. */
static void __attribute__((noreturn)) supervise(struct store *st, const struct ctr_run *r,
						struct ctr_state *cs, int report_fd)
{
	struct supervisor sup = { .st = st, .cs = cs, .report_fd = report_fd };
	struct ctr_rootfs fs = { .td = { .fd = -1 } };
	_cleanup_free_ char *log = ctr_log_path(st, cs);
	_cleanup_free_ char *cgroup_id = cn_xasprintf("ctr-%.*s", CTR_SHORT_ID_LEN, cs->id);
	_cleanup_close_ int log_fd = -1;
	struct sb_exit ex = { 0 };
	struct run_net net = { .lease = { .lock_fd = -1 } };
	char hostbuf[HOSTNAME_MAX];
	const char *hostname;
	unsigned restarts = 0;
	pid_t monitor = -1;
	cn_err err;
	int ret = -1;

	signal(SIGUSR1, on_stop_request);
	/* The state names this process from now on; the image is in it, so
	 * prune keeps it without the gc lock the caller took. */
	store_gc_unlock(st);
	cs->supervisor_pid = getpid();
	if (ctr_proc_start_time(cs->supervisor_pid, &cs->supervisor_start) < 0) {
		cn_err_fail(&err, CN_ERR_NOT_FOUND, "read the supervisor's start time");
		goto failed;
	}
	if (ctr_save(st, cs, &err) < 0)
		goto failed;
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		cn_err_sys(&err, "open '%s'", log);
		goto failed;
	}
	hostname = pick_hostname(r, cs->name, hostbuf);
	if (net_start(r, &net, &err) < 0)
		goto failed;
	if (net.on) {
		char ip[INET_ADDRSTRLEN];
		net_ip_str(net.lease.addr, ip);
		cs->net.ip = cn_xstrdup(ip);
	}
	/* SIGTERM to the supervisor stops the container, as Ctrl-C does cairn run. */
	cn_interrupt_install();
	/* The check runs beside the container, from its first start on. */
	if (cs->healthcheck.test.n)
		monitor = ctr_health_monitor_start(st, cs, sup.report_fd);
	for (;;) {
		if (rootfs_create(st, r, hostname, &fs, &err) < 0 ||
		    net_join(r, &net, fs.hosts, cs->name, hostname, &err) < 0) {
			ret = -1;
		} else {
			struct sb_process proc = process(r, &fs, hostname, cgroup_id);
			proc.lease = net.on ? &net.lease : NULL;
			proc.out_fd = proc.err_fd = log_fd;
			proc.on_start = supervisor_started;
			proc.on_start_ctx = &sup;
			ret = sb_run(&fs.sb, &proc, &ex, &err);
		}
		/* Still a member between two runs (docker keeps the endpoint):
		 * the lease and its record stay until net_stop. */
		ctr_rootfs_free(st, &fs);
		if (sup.report_fd >= 0) {
			/* It never ran: nothing to keep, the caller says why. */
			if (ret == 0)
				cn_err_fail(&err, CN_ERR_FAILED, "the container ended before its process started "
					     "(exit status %d)", ex.status);
			goto failed;
		}
		if (!restart_due(r, ret, &ex, restarts))
			break;
		restarts++;
		cs->restart_count = restarts;
		cs->exit_code = ex.status;
		ctr_save(st, cs, &err);
		restart_delay(restarts - 1);
		if (stop_requested || cn_interrupted())
			break;
	}
	ctr_health_monitor_stop(monitor);
	net_stop(&net);
	cs->status = CTR_EXITED;
	cs->finished = (long long)time(NULL);
	cs->exit_code = ret < 0 ? CTR_EXIT_FAIL : ex.status;
	cs->oom_killed = ret == 0 && ex.oom_killed;
	if (ret < 0)
		(void)cn_write_all(log_fd, "cairn: ", 7), (void)cn_write_all(log_fd, err.msg, strlen(err.msg)),
			(void)cn_write_all(log_fd, "\n", 1);
	if (cs->auto_remove)
		ctr_remove(st, cs, &err);
	else
		ctr_save(st, cs, &err);
	sb_cgroup_release();    /* _exit runs no atexit handler */
	_exit(0);
failed:
	ctr_health_monitor_stop(monitor);
	net_stop(&net);
	ctr_rootfs_free(st, &fs);
	ctr_report_start(sup.report_fd, &err);
	ctr_remove(st, cs, &err);
	sb_cgroup_release();
	_exit(1);
}

/* What cairn exec needs to give its process no more than R's has. */
static void record_exec_conf(const struct ctr_run *r, struct ctr_exec_conf *e)
{
	FILE *oom;
	e->recorded = true;
	cn_strv_copy(&e->env, &r->spec->env);
	e->user = r->spec->user ? cn_xstrdup(r->spec->user) : NULL;
	e->workdir = cn_xstrdup(r->spec->cwd ? r->spec->cwd : "/");
	if (r->security) {
		e->security = *r->security;
		e->security.caps &= sb_caps_available();
	} else {
		e->security = (struct sb_security){ .caps = sb_default_caps_mask() };
	}
	e->userns = r->idmap ? SB_USERNS_LAST : cn_rootless() ? SB_USERNS_FIRST : SB_USERNS_SAME;
	/* The process inherits this process's limits and OOM score (the
	 * supervisor's are the same): exec's caller's may differ. */
	e->rlimits = cn_xcalloc(SB_RLIMITS_MAX + r->nrlimits, sizeof(*e->rlimits));
	e->nrlimits = sb_rlimits_own(e->rlimits);
	if (r->nrlimits)
		memcpy(e->rlimits + e->nrlimits, r->rlimits, r->nrlimits * sizeof(*e->rlimits));
	e->nrlimits += r->nrlimits;
	oom = fopen("/proc/self/oom_score_adj", "re");
	if (oom) {
		e->has_oom_score_adj = fscanf(oom, "%d", &e->oom_score_adj) == 1;
		fclose(oom);
	}
}

/* Labels (the last value of a key wins, docker's), volumes, the check. */
static void record_extra(const struct ctr_run *r, struct ctr_state *cs)
{
	for (size_t i = 0; r->labels && i < r->labels->n; i++)
		cn_labels_set(&cs->labels, r->labels->v[i]);
	for (size_t i = 0; r->volumes && i < r->volumes->n; i++)
		cn_strv_pushdup(&cs->volumes, r->volumes->v[i]);
	if (r->health && r->health->test.n) {
		cs->healthcheck = *r->health;
		cs->healthcheck.test = (cn_strv){ 0 };
		cn_strv_copy(&cs->healthcheck.test, &r->health->test);
	}
}

int ctr_run_detached(struct store *st, const struct ctr_run *r, char id[CTR_ID_LEN + 1], cn_err *err)
{
	struct ctr_state cs;
	cn_err ignored;
	int fd = -1, ret = -1;

	if (r->systemd)
		systemd_spec(r);    /* first: it sets the stop signal recorded below */
	cs = (struct ctr_state){
		.name = r->name ? cn_xstrdup(r->name) : NULL,
		.image = cn_xstrdup(r->ref),
		.created = (long long)time(NULL),
		.status = CTR_CREATED,
		.supervisor_pid = getpid(),
		.stop_signal = r->spec->stop_signal > 0 ? r->spec->stop_signal : SIGTERM,
		.stop_timeout = r->stop_timeout,
		.auto_remove = r->auto_remove,
		.init_reaper = r->init && !r->systemd,
	};

	memcpy(cs.image_digest, r->img->manifest_digest, sizeof(cs.image_digest));
	cs.net.network = r->network_name ? cn_xstrdup(r->network_name) : NULL;
	for (size_t i = 0; i < r->nports; i++)
		cn_strv_push(&cs.net.ports, net_port_str(&r->ports[i]));
	cn_strv_copy(&cs.command, &r->spec->argv);
	record_exec_conf(r, &cs.exec);
	record_extra(r, &cs);
	if (ctr_proc_start_time(cs.supervisor_pid, &cs.supervisor_start) < 0) {
		cn_err_fail(err, CN_ERR_NOT_FOUND, "cannot read this process's start time from /proc");
		goto out;
	}
	if (ctr_create(st, &cs, err) < 0)
		goto out;
	fflush(NULL);   /* nothing buffered may be written twice */
	switch (ctr_spawn_supervisor(&fd, err)) {
	case -1:
		ctr_remove(st, &cs, &ignored);
		goto out;
	case 0:
		supervise(st, r, &cs, fd);
	default:
		break;
	}
	ret = ctr_await_start(fd, err);
	if (ret == 0)
		memcpy(id, cs.id, sizeof(cs.id));
	close(fd);
out:
	ctr_state_free(&cs);
	return ret;
}
