/* Container records: creation, names, lookup by name / id / prefix,
 * liveness by pid and start time, prune's roots; labels, volumes, the
 * health check and health.json read back; volumes in use. */
#include "container/container.h"
#include "container/volume.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void make(struct store *st, const char *name, struct ctr_state *s, int *rc)
{
	cn_err err;
	*s = (struct ctr_state){ .name = name ? cn_xstrdup(name) : NULL, .image = cn_xstrdup("img:1"),
				 .created = (long long)time(NULL), .status = CTR_CREATED,
				 .supervisor_pid = getpid(), .stop_signal = SIGTERM, .stop_timeout = 10 };
	snprintf(s->image_digest, sizeof(s->image_digest), "sha256:%064d", 1);
	cn_strv_pushdup(&s->command, "sh");
	ctr_proc_start_time(getpid(), &s->supervisor_start);
	*rc = ctr_create(st, s, &err);
	if (*rc < 0)
		printf("# %s\n", err.msg);
}

int main(void)
{
	char tmpl[] = "/tmp/cairn-unit-ctr.XXXXXX";
	struct ctr_state a, b, c, got;
	struct store st;
	cn_strv roots = { 0 };
	unsigned long long t;
	cn_err err;
	int rc;
	pid_t child;

	close(unit_tmpdir(tmpl));
	if (store_open(tmpl, &st, &err) < 0) {
		printf("not ok - store: %s\n", err.msg);
		return 1;
	}
	make(&st, "web", &a, &rc);
	UNIT_CHECK(rc == 0 && strlen(a.id) == CTR_ID_LEN, "a container gets a 64-hex id");
	make(&st, "web", &b, &rc);
	UNIT_CHECK(rc < 0, "a name in use is refused");
	ctr_state_free(&b);
	make(&st, NULL, &c, &rc);
	UNIT_CHECK(rc == 0 && strlen(c.name) == CTR_SHORT_ID_LEN && !strncmp(c.name, c.id, 12),
		   "without a name, the short id is the name");

	UNIT_CHECK(ctr_lookup(&st, "web", &got, &err) == 1 && !strcmp(got.id, a.id), "lookup by name");
	ctr_state_free(&got);
	UNIT_CHECK(ctr_lookup(&st, a.id, &got, &err) == 1 && !strcmp(got.name, "web"), "lookup by full id");
	ctr_state_free(&got);
	{
		char prefix[CTR_ID_LEN + 1];
		size_t n = 1;
		/* The shortest prefix of a's id that c's does not share. */
		while (!strncmp(a.id, c.id, n))
			n++;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)n, a.id);
		UNIT_CHECK(ctr_lookup(&st, prefix, &got, &err) == 1 && !strcmp(got.id, a.id),
			   "lookup by a unique id prefix");
		ctr_state_free(&got);
	}
	UNIT_CHECK(ctr_lookup(&st, "nope", &got, &err) == 0, "an unknown name is not found");
	UNIT_CHECK(ctr_lookup(&st, "", &got, &err) == 0, "an empty name matches nothing");

	/* Liveness: this process is alive; a reaped child's pid is not. */
	UNIT_CHECK(ctr_alive(&a), "a record naming a live process is alive");
	UNIT_CHECK(ctr_proc_start_time(getpid(), &t) == 0 && t == a.supervisor_start, "start time is stable");
	a.supervisor_start++;
	UNIT_CHECK(!ctr_alive(&a) && ctr_effective_status(&a) == CTR_EXITED,
		   "the same pid with another start time is not the supervisor (stale: exited)");
	a.supervisor_start--;
	child = fork();
	if (child == 0)
		_exit(0);
	ctr_proc_start_time(child, &t);
	waitpid(child, NULL, 0);
	b = a;
	b.supervisor_pid = child;
	b.supervisor_start = t;
	UNIT_CHECK(!ctr_alive(&b), "an exited supervisor is not alive");
	UNIT_CHECK(ctr_signal(&b, SIGTERM, &err) == 1, "signalling a dead container does nothing");
	UNIT_CHECK(ctr_wait(&b, 0) == 1, "waiting for a dead one returns at once");

	/* Prune's roots: containers not exited. */
	UNIT_CHECK(ctr_image_roots(&st, &roots, &err) == 0 && roots.n == 2, "two running containers, two roots");
	cn_strv_free(&roots);
	c.status = CTR_EXITED;
	UNIT_CHECK(ctr_save(&st, &c, &err) == 0, "save a record");
	UNIT_CHECK(ctr_image_roots(&st, &roots, &err) == 0 && roots.n == 1, "an exited one is no root");
	cn_strv_free(&roots);

	/* What cairn exec needs comes back as recorded; a record without it
	 * (an older cairn's) reads as not recorded. */
	UNIT_CHECK(ctr_lookup(&st, c.name, &got, &err) == 1 && !got.exec.recorded,
		   "a state without exec settings: not recorded");
	ctr_state_free(&got);
	c.exec.recorded = true;
	cn_strv_pushdup(&c.exec.env, "A=1");
	cn_strv_pushdup(&c.exec.env, "B=two words");
	c.exec.user = cn_xstrdup("1000:1000");
	c.exec.workdir = cn_xstrdup("/srv");
	c.exec.security = (struct sb_security){ .caps = 0xa80425fbULL, .unconfined = true };
	c.exec.userns = SB_USERNS_LAST;
	cn_strv_pushdup(&c.exec.cgroup_dirs, "/sys/fs/cgroup/pids/cairn/ctr-x");
	c.exec.rlimits = cn_xcalloc(2, sizeof(*c.exec.rlimits));
	c.exec.rlimits[0] = (struct sb_rlimit){ .resource = 7, .soft = 10, .hard = ~0ULL, .name = "nofile" };
	c.exec.rlimits[1] = (struct sb_rlimit){ .resource = 4, .soft = 0, .hard = 5, .name = "core",
						.base = true };
	c.exec.nrlimits = 2;
	c.exec.has_oom_score_adj = true;
	c.exec.oom_score_adj = -17;
	UNIT_CHECK(ctr_save(&st, &c, &err) == 0, "save exec settings");
	UNIT_CHECK(ctr_lookup(&st, c.name, &got, &err) == 1 && got.exec.recorded && got.exec.env.n == 2 &&
		   !strcmp(got.exec.env.v[1], "B=two words") && !strcmp(got.exec.user, "1000:1000") &&
		   !strcmp(got.exec.workdir, "/srv") && got.exec.security.caps == 0xa80425fbULL &&
		   got.exec.security.unconfined && !got.exec.security.new_privs &&
		   got.exec.userns == SB_USERNS_LAST && got.exec.cgroup_dirs.n == 1 && got.exec.nrlimits == 2 &&
		   got.exec.rlimits[0].soft == 10 && got.exec.rlimits[0].hard == ~0ULL &&
		   !strcmp(got.exec.rlimits[0].name, "nofile") && !got.exec.rlimits[0].base &&
		   got.exec.rlimits[1].base && got.exec.rlimits[1].hard == 5 &&
		   got.exec.has_oom_score_adj && got.exec.oom_score_adj == -17,
		   "exec settings read back as saved (unlimited too)");
	ctr_state_free(&got);
	free(c.exec.user);
	c.exec.user = NULL;
	UNIT_CHECK(ctr_save(&st, &c, &err) == 0 && ctr_lookup(&st, c.name, &got, &err) == 1 &&
		   got.exec.recorded && !got.exec.user, "no user: root, read back as none");
	ctr_state_free(&got);

	/* Labels, volumes and the health check (compose reads them back). */
	UNIT_CHECK(ctr_lookup(&st, c.name, &got, &err) == 1 && !got.labels.n && !got.health,
		   "no labels, no check: health NULL");
	ctr_state_free(&got);
	cn_strv_pushdup(&c.labels, "com.docker.compose.project=demo");
	cn_strv_pushdup(&c.labels, "empty=");
	cn_strv_pushdup(&c.volumes, "demo_data");
	cn_strv_pushdup(&c.healthcheck.test, "CMD-SHELL");
	cn_strv_pushdup(&c.healthcheck.test, "pg_isready");
	c.healthcheck.interval_ns = 1000000000;
	c.healthcheck.retries = 5;
	UNIT_CHECK(ctr_save(&st, &c, &err) == 0 && ctr_lookup(&st, c.name, &got, &err) == 1, "save labels");
	UNIT_STREQ(ctr_label(&got, "com.docker.compose.project"), "demo", "a label reads back");
	UNIT_STREQ(ctr_label(&got, "empty"), "", "an empty label reads back as \"\"");
	UNIT_CHECK(ctr_label(&got, "com.docker.compose") == NULL, "a key prefix is no label");
	UNIT_CHECK(got.volumes.n == 1 && !strcmp(got.volumes.v[0], "demo_data"), "volumes read back");
	UNIT_CHECK(got.healthcheck.test.n == 2 && !strcmp(got.healthcheck.test.v[1], "pg_isready") &&
		   got.healthcheck.interval_ns == 1000000000 && got.healthcheck.retries == 5 &&
		   got.healthcheck.timeout_ns == 0, "the health check reads back");
	UNIT_STREQ(got.health, "starting", "with a check and no result yet: starting");
	ctr_state_free(&got);
	{
		_cleanup_free_ char *hp = cn_xasprintf("%s/containers/%s/health.json", tmpl, c.id);
		for (int run = 0; run < 3; run++) {
			/* The results of this run (InitStart: its init's start), then
			 * of another one (a restart the monitor has not seen yet),
			 * then without InitStart (an older cairn's monitor): as it is. */
			FILE *f = fopen(hp, "we");
			if (f) {
				fprintf(f, "{\"Status\":\"unhealthy\",\"FailingStreak\":3,\"Log\":[{\"Start\":"
					"\"2026-01-02T03:04:05.000000006Z\",\"End\":\"2026-01-02T03:04:06Z\",\"ExitCode\":1,"
					"\"Output\":\"no\"}]%s%llu}", run < 2 ? ",\"InitStart\":" : ",\"X\":",
					c.init_start + (unsigned)(run == 1));
				fclose(f);
			}
			if (run != 1)
				UNIT_CHECK(ctr_lookup(&st, c.name, &got, &err) == 1 && got.health &&
					   !strcmp(got.health, "unhealthy") && got.health_failing_streak == 3 &&
					   got.health_nlog == 1 && got.health_log[0].exit_code == 1 &&
					   !strcmp(got.health_log[0].output, "no") &&
					   got.health_log[0].start_ns == 1767323045000000006LL,
					   "health.json is read into the state (%s)", run ? "no InitStart" : "this run's");
			else
				UNIT_CHECK(ctr_lookup(&st, c.name, &got, &err) == 1 && got.health &&
					   !strcmp(got.health, "starting") && got.health_failing_streak == 0 &&
					   got.health_nlog == 0, "another run's health.json reads as starting, no log");
			ctr_state_free(&got);
		}
	}
	{
		/* volume rm is refused while a container that has not exited mounts it */
		cn_strv users = { 0 };
		c.status = CTR_RUNNING;
		ctr_save(&st, &c, &err);
		free(ctr_volume_path(&st, "demo_data", &err));
		UNIT_CHECK(ctr_volume_users(&st, "demo_data", &users, &err) == 0 && users.n == 1,
			   "a running container uses its volume");
		cn_strv_free(&users);
		c.status = CTR_EXITED;
		ctr_save(&st, &c, &err);
		UNIT_CHECK(ctr_volume_users(&st, "demo_data", &users, &err) == 0 && users.n == 1,
			   "an exited one still does (docker's)");
		cn_strv_free(&users);
		UNIT_CHECK(ctr_volume_remove(&st, "demo_data", &err) < 0 && cn_err_is(&err, CN_ERR_BUSY) &&
			   strstr(err.msg, "volume is in use"), "so it cannot be removed");
	}
	UNIT_CHECK(ctr_remove(&st, &c, &err) == 0 && ctr_lookup(&st, c.name, &got, &err) == 0, "remove");
	UNIT_CHECK(ctr_volume_remove(&st, "demo_data", &err) == 0, "the volume can be once its container is removed");
	UNIT_CHECK(ctr_volume_remove(&st, "demo_data", &err) < 0 && cn_err_is(&err, CN_ERR_NOT_FOUND),
		   "twice: not found");

	ctr_state_free(&a);
	ctr_state_free(&c);
	{
		cn_err ignored;
		int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
		store_close(&st);
		cn_rm_rf_at(fd, strrchr(tmpl, '/') + 1, &ignored);
		close(fd);
	}
	return UNIT_DONE();
}
