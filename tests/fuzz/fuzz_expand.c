/* Word and variable expansion (builder/expand.c): the input is the text to
 * expand; its first byte picks the escape character and the lexer flags.
 * The environment holds a few names, one of them long, so that ${V#p},
 * ${V/p/r} and friends have something to work on. */
#include "fuzz.h"

#include "builder/expand.h"

static cn_strv env;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char big[300];
	(void)argc;
	(void)argv;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cn_env_set(&env, "A", "alpha");
	cn_env_set(&env, "B", "b c  d");
	cn_env_set(&env, "EMPTY", "");
	cn_env_set(&env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	cn_env_set(&env, "Q", "'\"$A\\");
	cn_env_set(&env, "BIG", big);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cn_strv words = { 0 }, matched = { 0 }, unmatched = { 0 };
	struct bf_lex_opts opts = { .matched = &matched, .unmatched = &unmatched };
	char *text, *word = NULL;
	char escape;
	cn_err err;

	if (size < 1)
		return 0;
	escape = (data[0] & 0x80) ? '`' : '\\';
	opts.flags = data[0] & (BF_LEX_RAW_QUOTES | BF_LEX_RAW_ESCAPES | BF_LEX_SKIP_UNSET);
	text = fuzz_str(data + 1, size - 1);

	if (bf_expand(text, escape, &env, &opts, &word, &words, &err) == 0)
		free(word);
	word = NULL;
	cn_strv_free(&words);
	if (bf_expand_word(text, escape, &env, &word, NULL, &err) == 0)
		free(word);
	if (bf_expand_words(text, escape, NULL, &words, &err) < 0)
		cn_strv_free(&words);
	cn_strv_free(&words);
	cn_strv_free(&matched);
	cn_strv_free(&unmatched);
	free(text);
	return 0;
}
