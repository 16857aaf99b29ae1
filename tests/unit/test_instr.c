/* Typed instructions (bf_program_parse): every supported instruction, every
 * error, and the parser's own limits and error locations. Errors are
 * checked by prefix, so each asserts "FILE:LINE:COLUMN: KEYWORD: ...". */
#include "builder/instr.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Buildfile"

/* TEXT must parse; the program is left in *P (freed by the caller). */
static bool parse_ok(const char *text, struct bf_program *p, const char *what)
{
	cn_err err = { 0 };
	if (bf_program_parse(NAME, text, strlen(text), p, &err) < 0) {
		UNIT_CHECK(0, "%s (error: %s)", what, err.msg);
		return false;
	}
	return true;
}

/* TEXT must fail with a message starting with WANT. */
static void expect_err_len(const char *text, size_t len, const char *want)
{
	struct bf_program p;
	cn_err err = { 0 };
	int rc = bf_program_parse(NAME, text, len, &p, &err);
	if (rc == 0)
		bf_program_free(&p);
	UNIT_CHECK(rc < 0 && strncmp(err.msg, want, strlen(want)) == 0, "error: %s", want);
	if (rc == 0 || strncmp(err.msg, want, strlen(want)) != 0)
		printf("#   got: %s\n", rc < 0 ? err.msg : "(success)");
}

static void expect_err(const char *text, const char *want)
{
	expect_err_len(text, strlen(text), want);
}

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* ---- supported instructions ---- */

static void test_from(void)
{
	struct bf_program p;
	if (parse_ok("FROM alpine:3.19\nfrom busybox AS Build\n", &p, "FROM")) {
		UNIT_CHECK(p.ninstrs == 2 && p.instrs[0].kind == BF_FROM &&
			   streq(p.instrs[0].image, "alpine:3.19") && !p.instrs[0].stage &&
			   streq(p.instrs[1].name, "FROM") && streq(p.instrs[1].image, "busybox") &&
			   streq(p.instrs[1].stage, "build"),
			   "FROM image, FROM image AS name (name lower-cased, keyword upper-cased)");
		bf_program_free(&p);
	}
	if (parse_ok("ARG V=1\nARG a=1 b\nFROM alpine:$V\n", &p, "ARG before FROM")) {
		const struct bf_instr *a = &p.instrs[1];
		UNIT_CHECK(p.instrs[0].kind == BF_ARG && p.instrs[0].nkvs == 1 &&
			   streq(p.instrs[0].kvs[0].key, "V") && streq(p.instrs[0].kvs[0].value, "1") &&
			   a->nkvs == 2 && streq(a->kvs[0].key, "a") && streq(a->kvs[0].value, "1") &&
			   streq(a->kvs[1].key, "b") && !a->kvs[1].value &&
			   streq(p.instrs[2].image, "alpine:$V"),
			   "ARG before FROM; ARG a=1 b; FROM value kept raw");
		bf_program_free(&p);
	}
}

static void test_run(void)
{
	struct bf_program p;
	const char *text = "FROM a\n"
			   "RUN echo hi && \\\n    ls\n"
			   "RUN [\"/bin/sh\", \"-c\", \"x\"]\n"
			   "RUN --network=none true\n"
			   "RUN --network=host true\n"
			   "RUN --network=default true\n";
	if (!parse_ok(text, &p, "RUN"))
		return;
	const struct bf_instr *r = p.instrs;
	UNIT_CHECK(r[1].kind == BF_RUN && !r[1].json && r[1].argv.n == 1 &&
		   streq(r[1].argv.v[0], "echo hi &&     ls") && r[1].network == BF_NET_DEFAULT &&
		   r[1].node->start_line == 2 && r[1].node->end_line == 3,
		   "RUN shell form: one argv element, lines 2-3");
	UNIT_CHECK(r[2].json && r[2].argv.n == 3 && streq(r[2].argv.v[0], "/bin/sh") &&
		   streq(r[2].argv.v[2], "x"), "RUN exec form");
	UNIT_CHECK(r[3].network == BF_NET_NONE && r[4].network == BF_NET_HOST &&
		   r[5].network == BF_NET_DEFAULT && streq(r[3].argv.v[0], "true"),
		   "RUN --network=none|host|default");
	bf_program_free(&p);
}

static void test_copy(void)
{
	struct bf_program p;
	if (parse_ok("FROM a\nCOPY --chown=1:2 --chmod=644 a b /dst/\nCOPY [\"x y\", \"/d\"]\n"
		     "COPY c /e\n", &p, "COPY")) {
		const struct bf_instr *c = &p.instrs[1];
		UNIT_CHECK(c->kind == BF_COPY && c->srcs.n == 2 && streq(c->srcs.v[0], "a") &&
			   streq(c->srcs.v[1], "b") && streq(c->dest, "/dst/") &&
			   streq(c->chown, "1:2") && streq(c->chmod, "644"),
			   "COPY --chown --chmod sources dest");
		UNIT_CHECK(p.instrs[2].json && p.instrs[2].srcs.n == 1 &&
			   streq(p.instrs[2].srcs.v[0], "x y") && streq(p.instrs[2].dest, "/d") &&
			   !p.instrs[3].chown && !p.instrs[3].chmod, "COPY JSON form; no flags -> NULL");
		bf_program_free(&p);
	}
}

static void test_copy_flags(void)
{
	struct bf_program p;
	if (parse_ok("FROM --platform=$BUILDPLATFORM a\nCOPY --link --parents --exclude=*.o --exclude=x/ a b /d/\n"
		     "ADD --checksum=sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		     " https://example.com/f.tar /f\nADD --link=false --exclude=*.md x /y\n", &p, "COPY/ADD flags")) {
		const struct bf_instr *c = &p.instrs[1], *a = &p.instrs[2], *a2 = &p.instrs[3];
		UNIT_CHECK(streq(p.instrs[0].platform, "$BUILDPLATFORM"), "FROM --platform kept raw");
		UNIT_CHECK(c->link && c->parents && c->excludes.n == 2 && streq(c->excludes.v[0], "*.o") &&
			   streq(c->excludes.v[1], "x/"), "COPY --link --parents --exclude (repeated)");
		UNIT_CHECK(streq(a->checksum, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") &&
			   a->srcs.n == 1 && streq(a->srcs.v[0], "https://example.com/f.tar"), "ADD --checksum URL");
		UNIT_CHECK(!a2->link && a2->excludes.n == 1, "ADD --link=false --exclude");
		bf_program_free(&p);
	}
}

static void test_env_label(void)
{
	struct bf_program p;
	if (parse_ok("FROM a\nENV A 1 2\nENV B=x C=\"y z\" D=\nLABEL a=b \"c d\"=e\n", &p, "ENV")) {
		const struct bf_instr *e = p.instrs;
		UNIT_CHECK(e[1].kind == BF_ENV && e[1].nkvs == 1 && streq(e[1].kvs[0].key, "A") &&
			   streq(e[1].kvs[0].value, "1 2"), "ENV old form: key and the rest");
		UNIT_CHECK(e[2].nkvs == 3 && streq(e[2].kvs[0].value, "x") &&
			   streq(e[2].kvs[1].key, "C") && streq(e[2].kvs[1].value, "\"y z\"") &&
			   streq(e[2].kvs[2].value, ""), "ENV k=v pairs, values raw");
		UNIT_CHECK(e[3].kind == BF_LABEL && e[3].nkvs == 2 && streq(e[3].kvs[1].key, "\"c d\"") &&
			   streq(e[3].kvs[1].value, "e"), "LABEL pairs");
		bf_program_free(&p);
	}
}

static void test_values(void)
{
	struct bf_program p;
	const char *text = "FROM a\nWORKDIR /app\nUSER u:g\nSTOPSIGNAL SIGTERM\nMAINTAINER Me <me@x>\n"
			   "EXPOSE 80 443/tcp\nVOLUME /a /b\nVOLUME [\"/c\"]\n";
	if (!parse_ok(text, &p, "one-value instructions"))
		return;
	const struct bf_instr *v = p.instrs;
	UNIT_CHECK(v[1].kind == BF_WORKDIR && streq(v[1].value, "/app") && v[2].kind == BF_USER &&
		   streq(v[2].value, "u:g") && v[3].kind == BF_STOPSIGNAL &&
		   streq(v[3].value, "SIGTERM") && v[4].kind == BF_MAINTAINER &&
		   streq(v[4].value, "Me <me@x>"), "WORKDIR, USER, STOPSIGNAL, MAINTAINER");
	UNIT_CHECK(v[5].kind == BF_EXPOSE && v[5].words.n == 2 && streq(v[5].words.v[1], "443/tcp"),
		   "EXPOSE words");
	UNIT_CHECK(v[6].kind == BF_VOLUME && v[6].words.n == 2 && streq(v[6].words.v[1], "/b") &&
		   v[7].json && v[7].words.n == 1 && streq(v[7].words.v[0], "/c"),
		   "VOLUME words and JSON form");
	bf_program_free(&p);
}

static void test_commands(void)
{
	struct bf_program p;
	const char *text = "FROM a\nCMD [\"x\", \"y\"]\nCMD echo $HOME\nENTRYPOINT []\n"
			   "ENTRYPOINT [\"/e\"]\nSHELL [\"/bin/bash\", \"-c\"]\n";
	if (!parse_ok(text, &p, "CMD, ENTRYPOINT, SHELL"))
		return;
	const struct bf_instr *c = p.instrs;
	UNIT_CHECK(c[1].kind == BF_CMD && c[1].json && c[1].argv.n == 2 && !c[2].json &&
		   streq(c[2].argv.v[0], "echo $HOME"), "CMD exec and shell forms");
	UNIT_CHECK(c[3].kind == BF_ENTRYPOINT && c[3].json && c[3].argv.n == 0 &&
		   streq(c[4].argv.v[0], "/e"), "ENTRYPOINT [] and exec form");
	UNIT_CHECK(c[5].kind == BF_SHELL && c[5].argv.n == 2 && streq(c[5].argv.v[1], "-c"),
		   "SHELL JSON form");
	bf_program_free(&p);
}

static void test_parser_details(void)
{
	struct bf_program p;
	if (parse_ok("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\n  RUN a `\n  b\n", &p,
		     "directives")) {
		UNIT_CHECK(p.file.escape == '`' && streq(p.file.syntax, "docker/dockerfile:1") &&
			   streq(p.instrs[1].argv.v[0], "a   b") && p.instrs[1].node->column == 3,
			   "syntax and escape directives; column of an indented keyword");
		bf_program_free(&p);
	}
	if (parse_ok("\xEF\xBB\xBF" "FROM a\r\nRUN b\r\n", &p, "BOM and CRLF")) {
		UNIT_CHECK(streq(p.instrs[0].image, "a") && streq(p.instrs[1].argv.v[0], "b"),
			   "BOM dropped, CRLF line endings");
		bf_program_free(&p);
	}
	if (parse_ok("FROM a\nRUN a \\\n\n   b\n", &p, "empty continuation")) {
		UNIT_CHECK(p.file.warnings.n == 1 &&
			   streq(p.file.warnings.v[0], NAME ":3: Empty continuation line found in: RUN a    b"),
			   "empty continuation line: one warning with its line");
		bf_program_free(&p);
	}
	/* Dump quoting of what JSON and raw bytes can hold. */
	if (parse_ok("FROM a\nCMD [\"\\u00a0\\u0007\", \"\xe2\x98\x83\"]\nRUN \xff\n", &p, "dump")) {
		cn_buf d;
		cn_buf_init(&d, 0);
		bf_dump(&p.file, &d);
		UNIT_STREQ(d.data, "(from \"a\")\n(cmd \"\\u00a0\\a\" \"\xe2\x98\x83\")\n(run \"\\xff\")\n",
			   "dump: Go quoting of non-printable, printable and invalid UTF-8");
		cn_buf_free(&d);
		bf_program_free(&p);
	}
	/* Nesting past Go's JSON depth is not JSON: the text is shell form. */
	{
		cn_buf t;
		cn_buf_init(&t, 0);
		cn_buf_adds(&t, "FROM a\nCMD ");
		for (int i = 0; i < 20000; i++)
			cn_buf_addc(&t, '[');
		for (int i = 0; i < 20000; i++)
			cn_buf_addc(&t, ']');
		if (parse_ok(t.data, &p, "deep JSON")) {
			UNIT_CHECK(!p.instrs[1].json && p.instrs[1].argv.n == 1,
				   "JSON nested 20000 deep falls back to shell form");
			bf_program_free(&p);
		}
		cn_buf_free(&t);
	}
}

/* ---- errors ---- */

static void test_unsupported(void)
{
	expect_err("FROM a\nADD git@github.com:x/y.git /x\n", NAME ":2:5: ADD: 'git@github.com:x/y.git': git sources are not supported");
	expect_err("FROM a\nADD https://example.com/r.git /x\n", NAME ":2:5: ADD: 'https://example.com/r.git': git sources are not supported");
	expect_err("FROM a\nADD ftp://example.com/x /x\n", NAME ":2:5: ADD: 'ftp://example.com/x': only http:// and https:// URLs can be fetched");
	expect_err("FROM a\nADD --checksum=md5:00 https://e.com/x /x\n", NAME ":2:5: ADD: --checksum=md5:00: expected sha256:");
	expect_err("FROM a\nADD --checksum=sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa f /x\n", NAME ":2:5: ADD: --checksum needs exactly one source, a URL");
	expect_err("FROM a\nADD --keep-git-dir x /x\n", NAME ":2:5: ADD: flag --keep-git-dir is not supported yet");
	expect_err("FROM a\nONBUILD FROM x\n", NAME ":2:1: ONBUILD: from cannot be an ONBUILD trigger (expected any instruction but FROM, MAINTAINER and ONBUILD)");
	expect_err("FROM a\nONBUILD\n", NAME ":2:1: ONBUILD: requires an instruction to run later (expected: ONBUILD INSTRUCTION)");
	expect_err("FROM a\n\nHEALTHCHECK --interval=5x CMD true\n",
		   NAME ":3:24: HEALTHCHECK: --interval: '5x' is not a duration of at least 1ms (expected a duration like 30s, 1m30s)");
	expect_err("FROM a\nHEALTHCHECK --retries=2 NONE\n", NAME ":2:13: HEALTHCHECK: options cannot be given with NONE (expected: HEALTHCHECK NONE)");
	expect_err("FROM a\nHEALTHCHECK PING x\n", NAME ":2:13: HEALTHCHECK: unknown type 'PING' (expected CMD or NONE)");
	expect_err("FROM a\nCOPY <<EOF file /x\nhi\nEOF\n",
		   NAME ":2:1: COPY: heredocs mixed with other sources are not supported yet (expected only <<NAME sources)");
	expect_err("FROM a\nCOPY --from=b <<EOF /x\nhi\nEOF\n",
		   NAME ":2:1: COPY: heredocs cannot be copied --from another stage");
	expect_err("FROM --platform= a\n", NAME ":1:6: FROM: --platform needs a value");
	expect_err("FROM a\nRUN --device=/dev/x x\n", NAME ":2:5: RUN: flag --device is not supported yet");
	expect_err("FROM a\nRUN --security=insecure x\n", NAME ":2:5: RUN: flag --security is not supported yet");
	expect_err("FROM a\nCOPY --from= /x /y\n", NAME ":2:6: COPY: --from needs a stage name, a stage index or an image");
	expect_err("FROM a\nCOPY --exclude= x /y\n", NAME ":2:6: COPY: --exclude needs a pattern (expected --exclude=PATTERN)");
	expect_err("FROM a\nCOPY --link=maybe x /y\n", NAME ":2:6: COPY: expecting boolean value for flag --link, not: maybe");
	expect_err("FROM a\nRUN --mount=type=bind \\\n  --netwrk=none x\n", NAME ":2:1: RUN: unknown flag: --netwrk (did you mean --network?)");
}

static void test_structure_errors(void)
{
	expect_err("FROM a\nRUNN x\n", NAME ":2:1: unknown instruction 'RUNN' (did you mean 'RUN'?)");
	expect_err("FROM a\nFORM b\n", NAME ":2:1: unknown instruction 'FORM' (did you mean 'FROM'?)");
	expect_err("FROM a\nfrobnicate x\n", NAME ":2:1: unknown instruction 'frobnicate' (expected one of FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, LABEL, EXPOSE, CMD, ENTRYPOINT, SHELL, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER)");
	expect_err("RUN x\nFROM a\n", NAME ":1:1: RUN: only ARG can come before the first FROM (expected FROM here)");
	expect_err("ARG a\nARG b\n", NAME ":2:1: no FROM instruction (expected at least one FROM after the global ARGs)");
	expect_err("", NAME ":1:1: file with no instructions (expected at least FROM)");
	expect_err("# only a comment\n\n", NAME ":2:1: file with no instructions (expected at least FROM)");
}

static void test_argument_errors(void)
{
	expect_err("FROM\n", NAME ":1:1: FROM: requires either one or three arguments (expected: FROM [--platform=PLATFORM] IMAGE [AS NAME])");
	expect_err("FROM a b\n", NAME ":1:8: FROM: requires either one or three arguments (expected: FROM [--platform=PLATFORM] IMAGE [AS NAME])");
	expect_err("FROM a AS 1x\n", NAME ":1:11: FROM: invalid name for build stage: '1x', name can't start with a number or contain symbols (expected [a-z][a-z0-9-_.]*)");
	expect_err("FROM a\nRUN\n", NAME ":2:1: RUN: requires at least one argument (expected: RUN [--mount=...] [--network=...] COMMAND)");
	expect_err("FROM a\nRUN []\n", NAME ":2:1: RUN: requires at least one argument (expected: RUN [--mount=...] [--network=...] COMMAND)");
	expect_err("FROM a\nCMD\n", NAME ":2:1: CMD: requires at least one argument (expected: CMD [\"EXECUTABLE\", \"ARG\"...] or CMD COMMAND)");
	expect_err("FROM a\nCOPY a\n", NAME ":2:1: COPY: requires at least two arguments (expected: COPY [--from=...] [--chown=...] [--chmod=...] [--link] [--parents] [--exclude=PATTERN] SRC... DEST)");
	expect_err("FROM a\nCOPY\n", NAME ":2:1: COPY: requires at least two arguments (expected: COPY [--from=...] [--chown=...] [--chmod=...] [--link] [--parents] [--exclude=PATTERN] SRC... DEST)");
	expect_err("FROM a\nENV\n", NAME ":2:1: ENV: requires at least one argument (expected: ENV KEY=VALUE...)");
	expect_err("FROM a\nENV =x\n", NAME ":2:1: ENV: names can not be blank (expected: ENV KEY=VALUE...)");
	expect_err("FROM a\nLABEL\n", NAME ":2:1: LABEL: requires at least one argument (expected: LABEL KEY=VALUE...)");
	expect_err("FROM a\nARG\n", NAME ":2:1: ARG: requires at least one argument (expected: ARG NAME[=DEFAULT]...)");
	expect_err("FROM a\nARG =1\n", NAME ":2:1: ARG: names can not be blank (expected: ARG NAME[=DEFAULT]...)");
	expect_err("FROM a\nWORKDIR\n", NAME ":2:1: WORKDIR: requires exactly one argument (expected: WORKDIR PATH)");
	expect_err("FROM a\nUSER\n", NAME ":2:1: USER: requires exactly one argument (expected: USER USER[:GROUP])");
	expect_err("FROM a\nSTOPSIGNAL\n", NAME ":2:1: STOPSIGNAL: requires exactly one argument (expected: STOPSIGNAL SIGNAL)");
	expect_err("FROM a\nMAINTAINER\n", NAME ":2:1: MAINTAINER: requires exactly one argument (expected: MAINTAINER NAME)");
	expect_err("FROM a\nEXPOSE\n", NAME ":2:1: EXPOSE: requires at least one argument (expected: EXPOSE PORT[/PROTOCOL]...)");
	expect_err("FROM a\nVOLUME\n", NAME ":2:1: VOLUME: requires at least one argument (expected: VOLUME PATH...)");
	expect_err("FROM a\nVOLUME [\" \"]\n", NAME ":2:1: VOLUME: VOLUME specified can not be an empty string (expected: VOLUME PATH...)");
	expect_err("FROM a\nSHELL /bin/sh -c\n", NAME ":2:1: SHELL: requires the arguments to be in JSON form (expected: SHELL [\"/bin/sh\", \"-c\"])");
	expect_err("FROM a\nSHELL []\n", NAME ":2:1: SHELL: requires at least one argument (expected: SHELL [\"EXECUTABLE\", \"ARG\"...])");
	expect_err("FROM a\nCMD [\"a\\u0000b\"]\n", NAME ":2:1: CMD: argument 1 contains a NUL character (expected text without \\u0000)");
	expect_err("FROM a\nCOPY [\"a\", \"b\\u0000\"]\n", NAME ":2:1: COPY: argument 2 contains a NUL character (expected text without \\u0000)");
}

static void test_flag_errors(void)
{
	expect_err("FROM a\nRUN --foo x\n", NAME ":2:5: RUN: unknown flag: --foo (expected --network or --mount)");
	expect_err("FROM a\nRUN --netwrk=none x\n", NAME ":2:5: RUN: unknown flag: --netwrk (did you mean --network?)");
	expect_err("FROM a\nCOPY --chwn=1 a b\n", NAME ":2:6: COPY: unknown flag: --chwn (did you mean --chown?)");
	expect_err("FROM a\nRUN --network=bridge x\n", NAME ":2:5: RUN: invalid network mode 'bridge' (expected default, none or host)");
	expect_err("FROM a\nRUN --network x\n", NAME ":2:5: RUN: missing a value on flag: --network (expected --network=VALUE)");
	expect_err("FROM a\nRUN --network=none --network=host x\n",
		   NAME ":2:20: RUN: duplicate flag specified: --network (expected it once)");
	expect_err("FROM a\nCOPY --chown a b\n", NAME ":2:6: COPY: missing a value on flag: --chown (expected --chown=VALUE)");
	expect_err("FROM a\nWORKDIR --x=1 /w\n", NAME ":2:9: WORKDIR: unknown flag: --x (expected no flags: WORKDIR PATH)");
	expect_err("FROM a\nENV --x=1 a=b\n", NAME ":2:5: ENV: unknown flag: --x (expected no flags: ENV KEY=VALUE...)");
}

static void test_parse_errors(void)
{
	expect_err("FROM a\nENV PATH\n", NAME ":2:1: ENV: must have two arguments (expected ENV KEY=VALUE or ENV KEY VALUE)");
	expect_err("FROM a\nLABEL a=1 b\n", NAME ":2:1: LABEL: Syntax error - can't find = in \"b\". Must be of the form: name=value (expected LABEL KEY=VALUE...)");
	expect_err("FROM a\nCMD [\"a\", 1]\n", NAME ":2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only (expected [\"a\", \"b\"])");
	expect_err("FROM a\n\nRUN <<EOF\necho\n", NAME ":3:5: RUN: unterminated heredoc (expected a line 'EOF' ending it)");
	expect_err("# escape=`\n# escape=\\\nFROM a\n", NAME ":2:1: only one escape parser directive can be used (expected it once, at the top)");
	expect_err("# escape=x\nFROM a\n", NAME ":1:1: invalid escape token 'x' does not match ` or \\ (expected # escape=` or # escape=\\)");
	expect_err_len("FROM a\nRUN a\0b\n", 14, NAME ":2:6: NUL byte in the file (expected text)");
	{
		cn_buf t;
		cn_buf_init(&t, 0);
		cn_buf_adds(&t, "FROM a\n\n# long\nRUN ");
		for (int i = 0; i < BF_MAX_LINE; i++)
			cn_buf_addc(&t, 'x');
		expect_err(t.data, NAME ":4:65536: line is longer than the maximum of 65535 bytes (expected shorter lines; continue with the escape character)");
		cn_buf_reset(&t);
		cn_buf_adds(&t, "FROM a\n");
		for (int i = 0; i < BF_MAX_INSTRUCTIONS; i++)
			cn_buf_adds(&t, "RUN x\n");
		expect_err(t.data, NAME ":10001:1: more than 10000 instructions (expected at most that many)");
		cn_buf_reset(&t);
		cn_buf_adds(&t, "FROM a\nRUN ");
		for (int i = 0; i < 20; i++)
			cn_buf_adds(&t, "ONBUILD ");
		cn_buf_adds(&t, "RUN x\n");
		expect_err(t.data + 11, NAME ":1:1: ONBUILD: ONBUILD nested too deeply (expected ONBUILD INSTRUCTION)");
		cn_buf_free(&t);
	}
	{
		size_t n = BF_MAX_FILE + 1;
		_cleanup_free_ char *big = cn_xmalloc(n);
		memset(big, '\n', n);
		memcpy(big, "FROM a", 6);
		expect_err_len(big, n, NAME ":1:1: larger than the maximum of 16777216 bytes");
	}
}

int main(void)
{
	test_from();
	test_run();
	test_copy();
	test_copy_flags();
	test_env_label();
	test_values();
	test_commands();
	test_parser_details();
	test_unsupported();
	test_structure_errors();
	test_argument_errors();
	test_flag_errors();
	test_parse_errors();
	return UNIT_DONE();
}
