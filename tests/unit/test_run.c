/* What cairn run (and, after the sweep, a build step) gets from container/:
 * the process from an image config (spec.c), the exit status of a failed
 * run, and the root file system's directory (rootfs.c). */
#include "container/rootfs.h"
#include "container/run.h"
#include "container/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/mem.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static json_t *image(const char *config_json)
{
	json_error_t je;
	json_t *cfg = json_loads(config_json, 0, &je);
	if (!cfg)
		printf("# bad test json: %s\n", je.text);
	return json_pack("{s:o}", "config", cfg);
}

/* V's strings joined with '|'. */
static char *joined(const cn_strv *v)
{
	size_t len = 1, at = 0;
	char *s;
	for (size_t i = 0; i < v->n; i++)
		len += strlen(v->v[i]) + 1;
	s = cn_xcalloc(len, 1);
	for (size_t i = 0; i < v->n; i++)
		at += (size_t)snprintf(s + at, len - at, "%s%s", i ? "|" : "", v->v[i]);
	return s;
}

#define JOINED_EQ(v, want, ...) do {                                      \
	char *joined_ = joined(v);                                        \
	UNIT_STREQ(joined_, want, __VA_ARGS__);                           \
	free(joined_);                                                    \
} while (0)

static void test_spec(void)
{
	struct ctr_overrides none = { 0 };
	struct ctr_spec s;
	cn_err err;
	json_t *img = image("{\"Entrypoint\":[\"/bin/ep\"],\"Cmd\":[\"a\",\"b\"],\"Env\":[\"A=1\",\"B=2\"],"
			    "\"WorkingDir\":\"/w\",\"User\":\"app\",\"StopSignal\":\"SIGUSR1\"}");

	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) == 0, "a spec from an image");
	JOINED_EQ(&s.argv, "/bin/ep|a|b", "Entrypoint then Cmd");
	JOINED_EQ(&s.env, "A=1|B=2", "the image's Env");
	UNIT_STREQ(s.cwd, "/w", "WorkingDir");
	UNIT_STREQ(s.user, "app", "User");
	UNIT_CHECK(s.stop_signal == SIGUSR1, "StopSignal by name");
	ctr_spec_free(&s);

	{
		char *args[] = { "x", "y" };
		cn_strv env = { 0 };
		struct ctr_overrides o = { .args = args, .nargs = 2, .env = &env, .workdir = "/o", .user = "0:0" };
		cn_strv_pushdup(&env, "B=3");
		cn_strv_pushdup(&env, "C=x=y");
		UNIT_CHECK(ctr_spec_from_image(img, "i:1", &o, &s, &err) == 0, "a spec with overrides");
		JOINED_EQ(&s.argv, "/bin/ep|x|y", "arguments replace Cmd, not Entrypoint");
		JOINED_EQ(&s.env, "A=1|B=3|C=x=y", "-e replaces in place and appends");
		UNIT_STREQ(s.cwd, "/o", "-w wins");
		UNIT_STREQ(s.user, "0:0", "-u wins");
		ctr_spec_free(&s);
		cn_strv_free(&env);
	}
	{
		/* --entrypoint: docker drops the image's Cmd with it; "" clears it only. */
		char *args[] = { "x" };
		struct ctr_overrides o = { .entrypoint = "/other" };
		UNIT_CHECK(ctr_spec_from_image(img, "i:1", &o, &s, &err) == 0, "--entrypoint");
		JOINED_EQ(&s.argv, "/other", "--entrypoint X: X alone, no Cmd");
		ctr_spec_free(&s);
		o.args = args;
		o.nargs = 1;
		UNIT_CHECK(ctr_spec_from_image(img, "i:1", &o, &s, &err) == 0, "--entrypoint with args");
		JOINED_EQ(&s.argv, "/other|x", "--entrypoint X ARGS");
		ctr_spec_free(&s);
		o.entrypoint = "";
		o.nargs = 0;
		UNIT_CHECK(ctr_spec_from_image(img, "i:1", &o, &s, &err) == 0, "--entrypoint \"\"");
		JOINED_EQ(&s.argv, "a|b", "--entrypoint \"\": the image's Cmd alone");
		ctr_spec_free(&s);
	}
	json_decref(img);

	img = image("{\"Cmd\":[\"sh\"],\"WorkingDir\":\"\",\"User\":\"\"}");
	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) == 0, "a minimal image");
	UNIT_STREQ(s.cwd, "/", "no WorkingDir: /");
	UNIT_CHECK(s.user == NULL, "an empty User is root");
	UNIT_CHECK(s.stop_signal == SB_STOP_FORWARD, "no StopSignal: forward what cairn gets");
	ctr_spec_free(&s);
	json_decref(img);

	img = image("{\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGRTMIN+3\"}");
	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) == 0 && s.stop_signal == SIGRTMIN + 3,
		   "a real-time StopSignal");
	ctr_spec_free(&s);
	json_decref(img);

	img = image("{\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGNOPE\"}");
	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) < 0, "an unknown StopSignal fails");
	UNIT_STREQ(err.msg, "image 'i:1' has an unknown StopSignal 'SIGNOPE'", "...saying which");
	json_decref(img);

	img = image("{\"Env\":[\"A=1\"]}");
	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) < 0, "no command fails");
	UNIT_STREQ(err.msg, "no command given and image 'i:1' has no Entrypoint or Cmd", "...saying so");
	json_decref(img);
}

static void test_fail_status(void)
{
	cn_err err;
	cn_err_errno(&err, ENOENT, "exec '%s'", "nope");
	err.kind = CN_ERR_EXEC;
	UNIT_CHECK(ctr_fail_status(&err) == 127, "a command not found: 127");
	cn_err_errno(&err, EACCES, "exec '%s'", "/etc");
	err.kind = CN_ERR_EXEC;
	UNIT_CHECK(ctr_fail_status(&err) == 126, "a command not executable: 126");
	cn_err_errno(&err, ENOENT, "exec '%s'", "x");
	UNIT_CHECK(ctr_fail_status(&err) == CTR_EXIT_FAIL, "the same text from elsewhere: 125");
	cn_err_errno(&err, ENOENT, "open '%s'", "x");
	UNIT_CHECK(ctr_fail_status(&err) == CTR_EXIT_FAIL, "cairn's own failure: 125");
}

static bool is_dir(const char *p)
{
	struct stat s;
	return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static void test_rootfs(void)
{
	char tmpl[] = "/tmp/cairn-unit-run.XXXXXX";
	struct store st;
	struct store_layer layers[3] = { 0 };
	struct ctr_rootfs fs;
	cn_err err;
	char buf[256], *path = NULL, *snap;
	ssize_t n;
	int fd;

	close(unit_tmpdir(tmpl));
	if (store_open(tmpl, &st, &err) < 0) {
		UNIT_CHECK(0, "a store to test in");
		return;
	}
	snprintf(layers[0].diff_id, sizeof(layers[0].diff_id), "sha256:%064d", 1);
	snprintf(layers[1].diff_id, sizeof(layers[1].diff_id), "sha256:%064d", 2);
	snprintf(layers[2].diff_id, sizeof(layers[2].diff_id), "sha256:%064d", 1);
	for (int i = 0; i < 2; i++) {
		snap = store_snapshot_path(&st, layers[i].diff_id);
		mkdir(snap, 0755);
		free(snap);
	}
	{
		struct ctr_rootfs_opts o = { .prefix = "run", .layers = layers, .nlayers = 3,
					     .extra_dir = "src", .hostname = "box" };
		UNIT_CHECK(ctr_rootfs_create(&st, &o, &fs, &err) == 0, "a rootfs dir");
	}
	UNIT_CHECK(fs.lowers.n == 2 && fs.sb.nlowers == 2, "a repeated layer is a lower once");
	snap = store_snapshot_path(&st, layers[0].diff_id);
	UNIT_CHECK(fs.lowers.n == 2 && !strcmp(fs.lowers.v[0], snap), "...its topmost copy, first");
	free(snap);
	UNIT_CHECK(is_dir(fs.upper) && is_dir(fs.work) && is_dir(fs.merged) && is_dir(fs.empty),
		   "upper, work, merged and empty exist");
	path = cn_xasprintf("%s/src", fs.td.path);
	UNIT_CHECK(is_dir(path), "the extra dir exists");
	fd = fs.hosts ? open(fs.hosts, O_RDONLY | O_CLOEXEC) : -1;
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	UNIT_STREQ(buf, "127.0.0.1\tlocalhost box\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		   "the hosts file names the hostname");
	ctr_rootfs_free(&st, &fs);
	UNIT_CHECK(!is_dir(path), "free removes the directory");
	free(path);
	ctr_rootfs_free(&st, &fs);
	UNIT_CHECK(1, "free twice is safe");

	{
		struct ctr_rootfs_opts o = { .prefix = "step", .layers = layers, .nlayers = 0 };
		UNIT_CHECK(ctr_rootfs_create(&st, &o, &fs, &err) == 0 && fs.hosts == NULL && fs.lowers.n == 0,
			   "no layers, no hostname: no lowers, no hosts file");
		ctr_rootfs_free(&st, &fs);
	}
	snprintf(layers[1].diff_id, sizeof(layers[1].diff_id), "sha256:%064d", 3);
	{
		struct ctr_rootfs_opts o = { .prefix = "run", .layers = layers, .nlayers = 2 };
		UNIT_CHECK(ctr_rootfs_create(&st, &o, &fs, &err) < 0 && strstr(err.msg, "has no snapshot"),
			   "a layer without a snapshot fails");
		UNIT_CHECK(fs.td.path == NULL && fs.upper == NULL, "...and leaves nothing");
		ctr_rootfs_free(&st, &fs);
	}
	store_close(&st);
	cn_rm_rf_at(AT_FDCWD, tmpl, &err);
}

/* --systemd: podman's rule for when a command is an init system, and what
 * its spec gets. */
static void test_systemd(void)
{
	static const struct { const char *cmd; bool init; } cases[] = {
		{ "/sbin/init", true }, { "/usr/sbin/init", true }, { "/usr/local/sbin/init", true },
		{ "/lib/systemd/systemd", true }, { "systemd", true }, { "/usr/lib/systemd/systemd", true },
		{ "init", false }, { "/opt/init", false }, { "/bin/sh", false }, { "systemd-nspawn", false },
		{ "/sbin/init2", false }, { "/usr/bin/systemdx", false },
	};
	_cleanup_strv_ cn_strv empty = { 0 };
	json_t *img = image("{\"Cmd\":[\"/sbin/init\"],\"Env\":[\"PATH=/bin\"]}");
	struct ctr_overrides none = { 0 };
	struct ctr_spec s;
	cn_err err;
	for (size_t i = 0; i < CN_ARRAY_SIZE(cases); i++) {
		_cleanup_strv_ cn_strv argv = { 0 };
		cn_strv_pushdup(&argv, cases[i].cmd);
		cn_strv_pushdup(&argv, "--arg");
		UNIT_CHECK(ctr_systemd_wanted(CTR_SYSTEMD_TRUE, &argv) == cases[i].init,
			   "--systemd=true: %s %s an init system", cases[i].cmd, cases[i].init ? "is" : "is not");
		UNIT_CHECK(ctr_systemd_wanted(CTR_SYSTEMD_ALWAYS, &argv), "--systemd=always: %s too", cases[i].cmd);
		UNIT_CHECK(!ctr_systemd_wanted(CTR_SYSTEMD_FALSE, &argv), "--systemd=false: %s never", cases[i].cmd);
	}
	UNIT_CHECK(!ctr_systemd_wanted(CTR_SYSTEMD_TRUE, &empty), "no command: not an init system");

	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) == 0, "an init image's spec");
	ctr_spec_systemd(&s, "0123456789abcdef0123456789abcdef");
	JOINED_EQ(&s.env, "PATH=/bin|container=cairn|container_uuid=0123456789abcdef0123456789abcdef",
		  "container=cairn and container_uuid are added");
	UNIT_CHECK(s.stop_signal == CTR_SYSTEMD_STOP_SIGNAL && CTR_SYSTEMD_STOP_SIGNAL == 37,
		   "no StopSignal: SIGRTMIN+3 (37)");
	ctr_spec_systemd(&s, "ffffffffffffffffffffffffffffffff");
	JOINED_EQ(&s.env, "PATH=/bin|container=cairn|container_uuid=0123456789abcdef0123456789abcdef",
		  "twice (a --restart): nothing changes");
	ctr_spec_free(&s);
	json_decref(img);

	img = image("{\"Cmd\":[\"/sbin/init\"],\"Env\":[\"container=lxc\"],\"StopSignal\":\"SIGUSR1\"}");
	UNIT_CHECK(ctr_spec_from_image(img, "i:1", &none, &s, &err) == 0, "an image with container= and StopSignal");
	ctr_spec_systemd(&s, "0123456789abcdef0123456789abcdef");
	JOINED_EQ(&s.env, "container=lxc|container_uuid=0123456789abcdef0123456789abcdef", "its container= stays");
	UNIT_CHECK(s.stop_signal == SIGUSR1, "its StopSignal stays");
	ctr_spec_free(&s);
	json_decref(img);
}

int main(void)
{
	test_spec();
	test_systemd();
	test_fail_status();
	test_rootfs();
	return UNIT_DONE();
}
