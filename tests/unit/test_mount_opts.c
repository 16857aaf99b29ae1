/* RUN --mount options split once when the Buildfile is read
 * (bf_mount_parse, and through bf_program_parse with the error's place). */
#include "builder/instr.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Buildfile"

static void check_parse(const char *spec, enum bf_mount_opt opt, const char *want)
{
	struct bf_mount m;
	cn_err err = { 0 };
	int r = bf_mount_parse(spec, &m, &err);
	if (r < 0) {
		UNIT_CHECK(0, "'%s' parses (error: %s)", spec, err.msg);
		return;
	}
	if (want)
		UNIT_STREQ(m.opt[opt], want, "'%s': option %d is '%s'", spec, (int)opt, want);
	else
		UNIT_CHECK(m.opt[opt] == NULL, "'%s': option %d not given", spec, (int)opt);
	bf_mount_free(&m);
}

static void check_err(const char *spec, const char *want)
{
	struct bf_mount m;
	cn_err err = { 0 };
	int r = bf_mount_parse(spec, &m, &err);
	UNIT_CHECK(r < 0 && strcmp(err.msg, want) == 0, "'%s' is refused: %s", spec, want);
	if (r < 0 && strcmp(err.msg, want))
		printf("#   got: %s\n", err.msg);
	if (r == 0)
		bf_mount_free(&m);
}

static void check_program_err(const char *text, const char *want)
{
	struct bf_program p;
	cn_err err = { 0 };
	int r = bf_program_parse(NAME, text, strlen(text), &p, &err);
	UNIT_STREQ(r < 0 ? err.msg : "(success)", want, "program error: %s", want);
	if (r == 0)
		bf_program_free(&p);
}

int main(void)
{
	struct bf_mount m;
	cn_err err = { 0 };
	struct bf_program p;
	const char *text;

	check_parse("type=cache,target=/x", BF_MOUNT_TYPE, "cache");
	check_parse("type=cache,target=/x", BF_MOUNT_TARGET, "/x");
	check_parse("dst=/d", BF_MOUNT_TARGET, "/d");
	check_parse("destination=/d", BF_MOUNT_TARGET, "/d");
	check_parse("src=a,target=/b", BF_MOUNT_SOURCE, "a");
	check_parse("target=/a,target=/b", BF_MOUNT_TARGET, "/b");     /* the last wins */
	check_parse("target=$DIR/x", BF_MOUNT_TARGET, "$DIR/x");       /* raw: expanded per step */
	check_parse("type=bind,target=/x", BF_MOUNT_FROM, NULL);
	check_parse("from=base,target=/x", BF_MOUNT_FROM, "base");
	check_parse("required,type=secret,id=a", BF_MOUNT_REQUIRED, "true");  /* a bare name */
	check_parse("mode=0700,uid=1,gid=2", BF_MOUNT_MODE, "0700");

	UNIT_CHECK(bf_mount_parse("rw=true,ro", &m, &err) == 0 && m.rw_inverted &&
		   !strcmp(m.opt[BF_MOUNT_RW], "true"), "ro after rw: the last decides (inverted)");
	bf_mount_free(&m);
	UNIT_CHECK(bf_mount_parse("readonly=false,readwrite=true", &m, &err) == 0 && !m.rw_inverted,
		   "readwrite after readonly: not inverted");
	bf_mount_free(&m);

	check_err("type=bind,bind-propagation=shared", "--mount: option 'bind-propagation' is not supported yet");
	check_err("x", "--mount: option 'x' is not supported yet");
	check_err("from=$S,target=/m", "--mount: from=$S: from= does not expand variables "
		  "(name a stage 'FROM $S AS NAME' and use from=NAME)");

	/* In a Buildfile: the place of the --mount flag. */
	check_program_err("FROM a\nRUN --mount=type=bind,foo=1 true\n",
			  NAME ":2:5: RUN: --mount: option 'foo' is not supported yet");
	check_program_err("FROM a\nRUN --network=none --mount=from=$X,target=/m true\n",
			  NAME ":2:20: RUN: --mount: from=$X: from= does not expand variables "
			  "(name a stage 'FROM $X AS NAME' and use from=NAME)");
	/* Flag errors come first, as before. */
	check_program_err("FROM a\nRUN --mount=x --netwrk=none true\n",
			  NAME ":2:15: RUN: unknown flag: --netwrk (did you mean --network?)");

	text = "FROM a\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t true\n";
	if (bf_program_parse(NAME, text, strlen(text), &p, &err) == 0) {
		const struct bf_instr *in = &p.instrs[1];
		UNIT_CHECK(in->nmounts == 2, "two mounts");
		UNIT_STREQ(in->nmounts == 2 ? in->mounts[1].opt[BF_MOUNT_TYPE] : NULL, "tmpfs",
			   "the second mount's type");
		bf_program_free(&p);
	} else {
		UNIT_CHECK(0, "two mounts parse (%s)", err.msg);
	}
	return UNIT_DONE();
}
