/* Health checks (container/health.c): what comes from outside. Input: an
 * image config JSON, a NUL, a --health-cmd value, a NUL, a duration, a NUL,
 * a health.json text. A duration parses only in Go's syntax, to a value
 * >= 0. The config's Healthcheck merged with the flag either
 * fails with a message or gives a valid test; health.json (a container
 * directory's, possibly damaged) always loads to a known status and at
 * most 5 results, and its JSON form loads again. */
#include "fuzz.h"

#include "container/health.h"
#include "util/duration.h"

#include <sys/stat.h>

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *config = fuzz_part(&data, &size), *cmd = fuzz_part(&data, &size);
	char *dur = fuzz_part(&data, &size), *health = fuzz_part(&data, &size);
	json_t *cfg = json_loads(config, 0, NULL), *j;
	struct ctr_health_flags f = { .cmd = cmd };
	struct ctr_health_conf c;
	struct ctr_state s = { .health = NULL };
	long long ns;
	cn_err err;
	int r, root;

	r = ctr_health_resolve(cfg, &f, &c, &err);
	fuzz_debug("resolve", r, &err);
	if (r == 0 && c.test.n && strcmp(c.test.v[0], "CMD") && strcmp(c.test.v[0], "CMD-SHELL"))
		abort();
	ctr_health_conf_free(&c);
	/* Go's grammar only: no space, exponent, hex, nan or inf gets through. */
	if (cn_duration_parse(dur, &ns) == 0) {
		const char *body = dur + (*dur == '+' || *dur == '-');
		if (ns < 0 || strpbrk(body, "+-") || body[strspn(body, "0123456789.nsumh\xc2\xb5\xce\xbc")] ||
		    (strcmp(body, "0") && !strpbrk(body, "smh")))
			abort();
	}

	root = fuzz_tmpdir_fd();
	mkdirat(root, ID, 0700);
	{
		int fd = openat(root, ID "/health.json", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || cn_write_all(fd, health, strlen(health)) < 0)
			abort();
		close(fd);
	}
	memcpy(s.id, ID, sizeof(s.id));
	ctr_health_load(root, &s);
	if (!s.health || (strcmp(s.health, "starting") && strcmp(s.health, "healthy") &&
			  strcmp(s.health, "unhealthy")) || s.health_nlog > CTR_HEALTH_LOG_MAX)
		abort();
	j = ctr_health_json(&s);
	if (!j)
		abort();
	json_decref(j);
	ctr_health_results_free(&s);
	close(root);
	json_decref(cfg);
	free(config);
	free(cmd);
	free(dur);
	free(health);
	return 0;
}
