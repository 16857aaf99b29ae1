/* The Buildfile parser (builder/parse*.c) and the instruction checker
 * (builder/instr.c) on arbitrary text: the AST, its dump and the typed
 * program, each built and freed. */
#include "fuzz.h"

#include "builder/instr.h"
#include "builder/parse.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_file f;
	struct bf_program prog;
	cn_err err;
	cn_buf dump;
	int r;

	if (bf_parse("Buildfile", (const char *)data, size, &f, &err) == 0) {
		cn_buf_init(&dump, 0);
		bf_dump(&f, &dump);
		for (size_t i = 0; i < f.nnodes; i++)
			(void)bf_node_column(&f.nodes[i], f.nodes[i].args.n ? f.nodes[i].args.v[0] : "x");
		cn_buf_free(&dump);
		bf_file_free(&f);
	}
	r = bf_program_parse("Buildfile", (const char *)data, size, &prog, &err);
	fuzz_debug("bf_program_parse", r, &err);
	if (r == 0)
		bf_program_free(&prog);
	return 0;
}
