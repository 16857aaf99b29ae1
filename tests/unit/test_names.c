/* store/tags.c and store/images.c: docker's names, image ids, created times. */
#include "store/images.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "unit.h"

#include <stdlib.h>

static void norm(const char *in, const char *want)
{
	cn_err err;
	_cleanup_free_ char *got = store_ref_normalize(in, &err);
	UNIT_STREQ(got, want, "normalize '%s'", in);
}

int main(void)
{
	cn_err err;
	norm("busybox", "busybox:latest");
	norm("library/busybox", "busybox:latest");
	norm("docker.io/library/busybox:latest", "busybox:latest");
	norm("index.docker.io/library/busybox:1", "busybox:1");
	norm("docker.io/busybox", "busybox:latest");
	norm("docker.io/team/app:2", "team/app:2");
	norm("docker.io/library/a/b:1", "library/a/b:1");  /* as docker: library/ only before one name */
	norm("localhost/hello:1", "localhost/hello:1");
	norm("localhost:5000/team/app", "localhost:5000/team/app:latest");
	norm("ghcr.io/o/r:v1", "ghcr.io/o/r:v1");
	UNIT_CHECK(store_ref_normalize("busybox@sha256:0123", &err) == NULL, "a digest names no tag");
	UNIT_CHECK(store_ref_normalize("Busybox", &err) == NULL, "upper case is refused");

	static const struct { const char *s; bool id; const char *what; } ids[] = {
		{ "4ab6", true, "4 hex digits are an id" },
		{ "sha256:4ab6406afb51", true, "sha256:PREFIX is an id" },
		{ "4ab", false, "3 are too few" },
		{ "sha256:", false, "sha256: alone is none" },
		{ "4AB6", false, "upper case is no id" },
		{ "4ab6:latest", false, "a tag is no id" },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true, "64 digits are an id" },
		{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", false, "65 are not" },
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		UNIT_CHECK(store_short_id(ids[i].s) == ids[i].id, "%s", ids[i].what);

	static const struct { const char *s; long long t; const char *what; } times[] = {
		{ "2024-01-02T03:04:05Z", 1704164645, "RFC 3339 UTC" },
		{ "2024-01-02T03:04:05.123456789Z", 1704164645, "with a fraction" },
		{ "2024-01-02T05:04:05+02:00", 1704164645, "with an offset" },
		{ "2024-01-02T01:04:05-02:00", 1704164645, "with a negative offset" },
		{ "2024-01-02 03:04:05", 0, "no zone: unknown" },
		{ "2024\x1b[2J", 0, "garbage: unknown" },
		{ NULL, 0, "absent: unknown" },
	};
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		UNIT_CHECK(store_parse_created(times[i].s) == times[i].t, "created: %s", times[i].what);
	return UNIT_DONE();
}
