/* What a registry or a credentials file hands the client: the
 * WWW-Authenticate challenge (registry/client.c) and auth.json
 * (registry/auth.c). Input: the header, a NUL, then the auth file, which
 * is looked up for "example.com" through REGISTRY_AUTH_FILE. */
#include "fuzz.h"

#include "registry/auth.h"
#include "registry/internal.h"

static char *auth_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	auth_path = cn_xasprintf("%s/auth.json", fuzz_tmpdir());
	setenv("REGISTRY_AUTH_FILE", auth_path, 1);
	setenv("HOME", fuzz_tmpdir(), 1);   /* no ~/.docker/config.json of the host */
	unsetenv("DOCKER_CONFIG");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *www = fuzz_part(&data, &size);
	struct reg_challenge ch;
	struct reg_creds creds;
	cn_err err;
	int fd, r;

	if (reg_challenge_parse(www, &ch) == 0)
		reg_challenge_free(&ch);
	if (reg_creds_parse(www, &creds, &err) == 0)
		reg_creds_free(&creds);

	fd = open(auth_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || cn_write_all(fd, data, size) < 0)
		abort();
	close(fd);
	r = reg_auth_lookup("example.com", &creds, &err);
	fuzz_debug("reg_auth_lookup", r, &err);
	if (r > 0)
		reg_creds_free(&creds);
	unlink(auth_path);
	free(www);
	return 0;
}
