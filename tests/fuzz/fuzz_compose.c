/* The compose.yaml loader (src/compose/): the input is up to three
 * NUL-separated parts, compose.yaml, a second -f file and .env, written
 * to a scratch directory and loaded as `cairn compose -f compose.yaml -f
 * override.yaml` would; the first part also goes to the YAML tree, the
 * interpolation and the env_file parser alone. A load either fails with a
 * message naming a file (or the project name) or gives a model whose
 * services, networks and positions hang together. */
#include "fuzz.h"

#include "compose/compose.h"
#include "compose/compose_internal.h"

static char *env_vars[] = { "HOME=/root", "SET=value", "EMPTY=", "PORT=8080", NULL };
static char dir[512], f1[600], f2[600], f3[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s", fuzz_tmpdir());
	snprintf(f1, sizeof(f1), "%s/compose.yaml", dir);
	snprintf(f2, sizeof(f2), "%s/override.yaml", dir);
	snprintf(f3, sizeof(f3), "%s/.env", dir);
	return 0;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	if (fclose(f) != 0)
		abort();
}

static void check_model(const struct cmp_project *p)
{
	if (!p->name || !*p->name || !p->workdir || p->files.n != 2)
		abort();
	for (size_t i = 0; i < p->nservices; i++) {
		const struct cmp_service *s = &p->services[i];
		if (!s->name || (!s->image && !s->build) || (!s->network_mode && !s->nnetworks))
			abort();
		if (s->pos.file != p->files.v[0] && s->pos.file != p->files.v[1])
			abort();
		if (cmp_service_find(p, s->name) != s && strcmp(cmp_service_find(p, s->name)->name, s->name) != 0)
			abort();
		for (size_t j = 0; j < s->nnetworks; j++)
			if (!cmp_network_find(p, s->networks[j].key))
				abort();
		for (size_t j = 0; j < s->ndepends; j++)
			if (s->depends_on[j].required && !cmp_service_find(p, s->depends_on[j].service))
				abort();
	}
	for (size_t i = 0; i < p->nnetworks; i++)
		if (!p->networks[i].name)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *d = data;
	size_t n = size;
	char *a = fuzz_part(&d, &n), *b = fuzz_part(&d, &n), *e = fuzz_part(&d, &n);
	const char *files[] = { f1, f2 };
	struct cmp_load_opts o = { .files = files, .nfiles = 2, .environ = env_vars };
	struct cmp_project p;
	struct cmp_node *root = NULL;
	cn_strv warnings = { 0 }, env = { 0 };
	struct cmp_lookup lk = { cmp_env_lookup, &env };
	char *out = NULL;
	cn_err err;
	int r;

	/* The parts alone. */
	r = cmp_yaml_parse("a.yaml", a, strlen(a), &root, &err);
	fuzz_debug("yaml", r, &err);
	if (r < 0 && strncmp(err.msg, "a.yaml", 6) != 0)
		abort();
	cmp_node_free(root);
	cn_env_set(&env, "SET", "value");
	if (cmp_interp_str(a, &lk, &out, NULL, &err) == 0)
		free(out);
	{
		/* The short port syntax (ports.c): what it accepts is in range. */
		struct cmp_port port;
		const char *why;
		if (cmp_port_parse(a, &port, &why) == 0) {
			if (port.ctr_lo < 1 || port.ctr_hi > 65535 || port.ctr_lo > port.ctr_hi ||
			    (port.host_lo && port.host_lo > port.host_hi) || port.host_hi > 65535)
				abort();
			free(cmp_port_key(&port));
		}
	}
	r = cmp_envfile_parse("e.env", e, strlen(e), false, &lk, &env, &err);
	if (r < 0 && strncmp(err.msg, "e.env", 5) != 0)
		abort();
	cn_strv_free(&env);

	/* The whole load. */
	put(f1, a);
	put(f2, b);
	put(f3, e);
	r = cmp_project_load(&o, &p, &warnings, &err);
	fuzz_debug("load", r, &err);
	if (r == 0) {
		check_model(&p);
		cmp_project_free(&p);
	} else if (!err.msg[0]) {
		abort();
	}
	cn_strv_free(&warnings);
	free(a);
	free(b);
	free(e);
	return 0;
}
