/* The images a Buildfile reads: see buildrefs.h. */
#include "builder/expand.h"
#include "builder/instr.h"
#include "compose/buildrefs.h"
#include "compose/graph.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cmp_buildfile_images(const char *name, const char *text, size_t len, const cn_strv *args, cn_strv *out,
			 cn_err *err)
{
	_cleanup_strv_ cn_strv env = { 0 }, stages = { 0 };
	struct bf_program prog = { 0 };
	bool seen_from = false;
	if (bf_program_parse(name, text, len, &prog, err) < 0)
		return -1;
	for (size_t i = 0; i < prog.ninstrs; i++) {
		const struct bf_instr *in = &prog.instrs[i];
		_cleanup_free_ char *word = NULL;
		const char *ref = NULL;
		cn_err ignored;
		if (in->kind == BF_ARG && !seen_from) {
			for (size_t k = 0; k < in->nkvs; k++) {
				const char *given = cn_env_get(args, in->kvs[k].key);
				char *v = NULL;
				if (given)
					cn_env_set(&env, in->kvs[k].key, given);
				else if (in->kvs[k].value &&
					 bf_expand_word(in->kvs[k].value, prog.file.escape, &env, &v, NULL, &ignored) == 0)
					cn_env_set(&env, in->kvs[k].key, v);
				free(v);
			}
			continue;
		}
		if (in->kind == BF_FROM) {
			seen_from = true;
			ref = in->image;
		} else if ((in->kind == BF_COPY || in->kind == BF_ADD) && in->from) {
			ref = in->from;
		}
		if (ref && bf_expand_word(ref, prog.file.escape, &env, &word, NULL, &ignored) == 0) {
			bool stage = !strcmp(word, "scratch") || strspn(word, "0123456789") == strlen(word);
			for (size_t k = 0; k < stages.n && !stage; k++)
				stage = !strcasecmp(stages.v[k], word);
			if (!stage) {
				char *key = cmp_image_key(word);
				if (key)
					cn_strv_push(out, key);
			}
		}
		if (in->kind == BF_FROM && in->stage)
			cn_strv_pushdup(&stages, in->stage);
	}
	bf_program_free(&prog);
	return 0;
}
