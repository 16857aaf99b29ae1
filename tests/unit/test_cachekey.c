/* Cache keys (cachekey.c): the same inputs give the same key, across
 * builds and versions (pinned below: a change of the key scheme must bump
 * "cairn build cache vN"), and each input changes it; one network decision
 * for the sandbox and the key. */
#include "builder/build_internal.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static struct bf_program prog;

static const struct bf_instr *instr(const char *text, size_t idx)
{
	cn_err err = { 0 };
	bf_program_free(&prog);
	memset(&prog, 0, sizeof(prog));
	if (bf_program_parse("Buildfile", text, strlen(text), &prog, &err) < 0) {
		printf("# parse: %s\n", err.msg);
		exit(2);
	}
	return &prog.instrs[idx];
}

static void key_of(struct build *b, const char *text, const char *extra, char out[CN_DIGEST_STR_SIZE])
{
	bd_step_key(b, instr(text, 1), extra, out);
}

int main(void)
{
	struct bf_build_opts o = { .timestamp = -1, .network = SB_NET_HOST };
	struct stage st = { 0 };
	struct build b = { .o = &o, .cur = &st };
	char k1[CN_DIGEST_STR_SIZE], k2[CN_DIGEST_STR_SIZE], root[CN_DIGEST_STR_SIZE];

	b.prog.file.escape = '\\';
	bd_root_key(&b, "scratch");
	memcpy(root, st.key, sizeof(root));
	/* (zstd: changed when zstd layers became multithreaded-format blobs) */
	UNIT_STREQ(root, "sha256:c1be44ec8a5781984ea50d6b9a831e9c04c321735a90d8cdde57c70c0eb0a1be",
		   "the root key of scratch is stable (cache v5): the same on every machine");
	o.compression = LAYER_GZIP;
	bd_root_key(&b, "scratch");
	/* Changed on purpose when gzip layers became blocks deflated apart
	 * (layers/pgzip.c): an entry of the single-stream writer, whose
	 * blobs differ, is never reused. */
	UNIT_CHECK(strcmp(st.key, "sha256:20baa4187781ad2ffa92a3c677d92ae68929bc47ae5c629ce28ec8eca29e1fcf") != 0,
		   "gzip's root key is not the single-stream writer's");
	UNIT_STREQ(st.key, "sha256:79bf4409366bcf9948a0c4d80ce109142ee08a9340c2a656084cc778bbd9ff82",
		   "gzip's root key is stable (blocks of 128 KiB): the same on every machine");
	o.compression = LAYER_ZSTD;
	o.compression_level = 19;
	bd_root_key(&b, "scratch");
	UNIT_CHECK(strcmp(st.key, root) != 0, "another compression level, another root key");
	o.compression_level = 0;
	bd_root_key(&b, "scratch");
	UNIT_STREQ(st.key, root, "the same root key twice");
	o.timestamp = 1700000000;
	bd_root_key(&b, "scratch");
	UNIT_CHECK(strcmp(st.key, root) != 0, "a reproducible build's root key differs");
	o.timestamp = -1;
	memcpy(st.key, root, sizeof(root));

	key_of(&b, "FROM scratch\nRUN echo hi\n", "network=host", k1);
	key_of(&b, "FROM scratch\nRUN echo hi\n", "network=host", k2);
	UNIT_STREQ(k1, k2, "the same step, the same key");
	UNIT_STREQ(k1, "sha256:8d13ff4c8510126f696129cbbe07ed2a5f2e1199389ded143cd32e8b6244bd3e",
		   "a step key is stable across versions");
	key_of(&b, "FROM scratch\nRUN echo ho\n", "network=host", k2);
	UNIT_CHECK(strcmp(k1, k2) != 0, "other text, another key");
	key_of(&b, "FROM scratch\nRUN echo hi\n", "network=none", k2);
	UNIT_CHECK(strcmp(k1, k2) != 0, "another network, another key");

	cn_env_set(&st.args, "B", "2");
	cn_env_set(&st.args, "A", "1");
	key_of(&b, "FROM scratch\nRUN echo hi\n", "network=host", k1);
	cn_strv_free(&st.args);
	cn_env_set(&st.args, "A", "1");
	cn_env_set(&st.args, "B", "2");
	key_of(&b, "FROM scratch\nRUN echo hi\n", "network=host", k2);
	UNIT_STREQ(k1, k2, "build args in any order: the same key");
	cn_env_set(&st.args, "B", "3");
	key_of(&b, "FROM scratch\nRUN echo hi\n", "network=host", k2);
	UNIT_CHECK(strcmp(k1, k2) != 0, "another arg value, another key");
	cn_strv_free(&st.args);

	key_of(&b, "FROM scratch\nCOPY <<EOF /f\none\nEOF\n", NULL, k1);
	key_of(&b, "FROM scratch\nCOPY <<EOF /f\ntwo\nEOF\n", NULL, k2);
	UNIT_CHECK(strcmp(k1, k2) != 0, "heredoc bodies are in the key");
	key_of(&b, "FROM scratch\nCOPY a /f\n", "sources=x", k1);
	key_of(&b, "FROM scratch\nCOPY a /f\n", "sources=y", k2);
	UNIT_CHECK(strcmp(k1, k2) != 0, "the extra (sources) is in the key");
	key_of(&b, "FROM scratch\nCOPY a /f\n", NULL, k1);
	key_of(&b, "FROM scratch\nCOPY a /f\n", "", k2);
	UNIT_STREQ(k1, k2, "no extra is an empty extra");

	/* One decision for the sandbox and the key. */
	const struct bf_instr *in = instr("FROM scratch\nRUN true\n", 1);
	UNIT_CHECK(bd_step_network(&b, in) == SB_NET_HOST, "default: the build's network (host)");
	o.network = SB_NET_NONE;
	UNIT_CHECK(bd_step_network(&b, in) == SB_NET_NONE, "default: the build's network (none)");
	in = instr("FROM scratch\nRUN --network=host true\n", 1);
	UNIT_CHECK(bd_step_network(&b, in) == SB_NET_HOST, "--network=host");
	in = instr("FROM scratch\nRUN --network=none true\n", 1);
	o.network = SB_NET_HOST;
	UNIT_CHECK(bd_step_network(&b, in) == SB_NET_NONE, "--network=none");

	/* The default network (a bridge) has a key of its own. */
	{
		char *extra = NULL;
		bool cacheable;
		cn_err err;
		o.network = SB_NET_DEFAULT;
		in = instr("FROM scratch\nRUN true\n", 1);
		UNIT_CHECK(bd_step_network(&b, in) == SB_NET_DEFAULT, "default: the build's network (default)");
		UNIT_CHECK(bd_step_extra(&b, in, &extra, &cacheable, &err) == 0 && extra &&
			   strcmp(extra, "network=default") == 0, "the default network is keyed as 'default'");
		free(extra);
	}

	bf_program_free(&prog);
	return UNIT_DONE();
}
