/* net/ports.c: docker's -p syntax, and the docker form ps shows. */
#include "net/net.h"
#include "net/netdef.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A network removed and made again under the same name while a remover
 * held the old definition: the remover must not take the new one. */
static void stale_remove(void)
{
	char root[] = "/tmp/test_ports.XXXXXX";
	struct net_def old, cur;
	cn_err err;
	int r;
	if (!mkdtemp(root)) {
		UNIT_CHECK(0, "mkdtemp");
		return;
	}
	r = net_def_create(root, "stale", "10.89.251.0/24", false, NULL, "now", &old, &err);
	UNIT_CHECK(r == 0, "create (%s)", r ? err.msg : "ok");
	_cleanup_free_ char *file = cn_xasprintf("%s/networks/stale.json", root);
	unlink(file);
	r = net_def_create(root, "stale", "10.89.252.0/24", false, NULL, "now", &cur, &err);
	UNIT_CHECK(r == 0, "create again (%s)", r ? err.msg : "ok");
	r = net_def_remove(root, &old, &err);
	UNIT_CHECK(r < 0 && err.kind == CN_ERR_NOT_FOUND, "removing the old definition is refused (%s)",
		   r < 0 ? err.msg : "removed");
	UNIT_CHECK(access(file, F_OK) == 0, "the new definition stays");
	net_def_free(&old);
	net_def_free(&cur);
	_cleanup_free_ char *cmd = cn_xasprintf("rm -rf '%s'", root);
	UNIT_CHECK(system(cmd) == 0, "clean up");
}

/* SPEC parses and prints as WANT (NULL: refused with an error naming it). */
static void check(const char *spec, const char *want)
{
	struct net_port p;
	cn_err err;
	int r = net_port_parse(spec, &p, &err);
	if (!want) {
		UNIT_CHECK(r < 0 && strstr(err.msg, spec), "'%s' is refused, naming it (%s)", spec,
			   r < 0 ? err.msg : "accepted");
		return;
	}
	UNIT_CHECK(r == 0, "'%s' parses (%s)", spec, r < 0 ? err.msg : "ok");
	if (r == 0) {
		_cleanup_free_ char *got = net_port_str(&p);
		UNIT_STREQ(got, want, "'%s'", spec);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal while waiting for networks/lock (a supervisor's SIGCHLD, a
 * terminal's SIGWINCH) does not fail network create. */
static void lock_eintr(void)
{
	char root[] = "/tmp/test_ports.XXXXXX";
	int fd, ws = 0;
	pid_t pid;
	if (!mkdtemp(root)) {
		UNIT_CHECK(0, "mkdtemp");
		return;
	}
	_cleanup_free_ char *dir = cn_xasprintf("%s/networks", root);
	_cleanup_free_ char *lock = cn_xasprintf("%s/networks/lock", root);
	mkdir(dir, 0700);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	UNIT_CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "hold the lock");
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_alarm };   /* no SA_RESTART */
		close(fd);      /* the lock is held through the parent's file only */
		struct itimerval it = { .it_value = { .tv_usec = 100000 } };
		struct net_def d;
		cn_err err;
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
		_exit(net_def_create(root, "eintr", "10.89.253.0/24", false, NULL, "now", &d, &err) == 0 ? 0 : 1);
	}
	usleep(400000);
	close(fd);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	UNIT_CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "network create waits on through a signal");
	_cleanup_free_ char *cmd = cn_xasprintf("rm -rf '%s'", root);
	UNIT_CHECK(system(cmd) == 0, "clean up");
}

int main(void)
{
	struct net_port p;
	cn_err err;
	check("8080:80", "0.0.0.0:8080->80/tcp");
	check("127.0.0.1:8080:80", "127.0.0.1:8080->80/tcp");
	check("127.0.0.1:8080:80/udp", "127.0.0.1:8080->80/udp");
	check("5000-5002:6000-6002/tcp", "0.0.0.0:5000-5002->6000-6002/tcp");
	check("80", "0.0.0.0:0->80/tcp");           /* the host port is picked later */
	check("127.0.0.1::53/udp", "127.0.0.1:0->53/udp");
	check("80:x", NULL);
	check("0:80", NULL);
	check("80:65536", NULL);
	check("8080:80/sctp", NULL);
	check("5000-5001:80", NULL);                /* lengths differ */
	check("9-8:9-8", NULL);
	check("::1:80:80", NULL);                   /* IPv6 is not supported */
	check("host:80:80", NULL);
	check("", NULL);
	check(":80", NULL);
	{
		int *fds = NULL, *fds2 = NULL;
		size_t nfds = 0, nfds2 = 0;
		struct net_port two[2];
		char spec[64];
		UNIT_CHECK(net_port_parse("80", &p, &err) == 0 && net_ports_reserve(&p, 1, &fds, &nfds, &err) == 0 &&
			   p.host_port > 0 && nfds == 1, "a missing host port gets a free one, held");
		/* The port held above is taken for anyone else. */
		snprintf(spec, sizeof(spec), "%u:80", p.host_port);
		UNIT_CHECK(net_port_parse(spec, &two[0], &err) == 0 &&
			   net_ports_reserve(two, 1, &fds2, &nfds2, &err) < 0 && strstr(err.msg, "already in use"),
			   "a port in use on the host is refused (%s)", err.msg);
		net_ports_release(fds, nfds);
		UNIT_CHECK(net_ports_reserve(two, 1, &fds2, &nfds2, &err) == 0, "...and free once released");
		net_ports_release(fds2, nfds2);
		snprintf(spec, sizeof(spec), "127.0.0.1:%u:81", p.host_port);
		UNIT_CHECK(net_port_parse(spec, &two[1], &err) == 0 &&
			   net_ports_reserve(two, 2, &fds2, &nfds2, &err) < 0 && strstr(err.msg, "already in use"),
			   "a port given twice in one run is refused (%s)", err.msg);
		UNIT_CHECK(net_port_parse("192.0.2.1:8080:80", &p, &err) == 0 &&
			   net_ports_reserve(&p, 1, &fds2, &nfds2, &err) < 0 && strstr(err.msg, "not an address"),
			   "an address that is not the host's is refused (%s)", err.msg);
	}
	UNIT_CHECK(net_def_name_ok("app_default") && net_def_name_ok("a.b-c") && !net_def_name_ok("host") &&
		   !net_def_name_ok("-x") && !net_def_name_ok("a b") && !net_def_name_ok(""),
		   "network names");
	stale_remove();
	lock_eintr();
	return UNIT_DONE();
}
