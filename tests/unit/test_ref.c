/* Image references parse as docker parses them (its reference grammar and
 * normalisation: docker.io, library/, host:port, tags, digests), and the
 * store names tags by the same grammar (it had one of its own, which took
 * "a___b", "-a", "a-" and refused "[::1]:5000/app"). */
#include "registry/ref.h"
#include "store/store.h"
#include "unit.h"

#include <stdlib.h>

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct ok_case {
	const char *in, *domain, *path, *tag, *digest, *local;
};

static const struct ok_case ok_cases[] = {
	{ "alpine", "docker.io", "library/alpine", "latest", NULL, "alpine:latest" },
	{ "alpine:3.19", "docker.io", "library/alpine", "3.19", NULL, "alpine:3.19" },
	{ "team/app", "docker.io", "team/app", "latest", NULL, "team/app:latest" },
	{ "docker.io/library/busybox:1", "docker.io", "library/busybox", "1", NULL,
	  "docker.io/library/busybox:1" },
	{ "localhost/app", "localhost", "app", "latest", NULL, "localhost/app:latest" },
	{ "localhost:5000/team/app:1", "localhost:5000", "team/app", "1", NULL, "localhost:5000/team/app:1" },
	{ "127.0.0.1:5000/a/b/c:v1.2-rc_3", "127.0.0.1:5000", "a/b/c", "v1.2-rc_3", NULL,
	  "127.0.0.1:5000/a/b/c:v1.2-rc_3" },
	{ "ghcr.io/org/img@" D64, "ghcr.io", "org/img", NULL, D64, NULL },
	{ "ghcr.io/org/img:1@" D64, "ghcr.io", "org/img", "1", D64, "ghcr.io/org/img:1" },
	{ "Registry.Example.COM/x", "Registry.Example.COM", "x", "latest", NULL, "Registry.Example.COM/x:latest" },
	{ "a__b/c-d--e/f.g", "docker.io", "a__b/c-d--e/f.g", "latest", NULL, "a__b/c-d--e/f.g:latest" },
	{ "[::1]:5000/app", "[::1]:5000", "app", "latest", NULL, "[::1]:5000/app:latest" },
};

static const char *const bad_cases[] = {
	"", "Alpine", "team/App", "a//b", "a/", "/a", "a:", "a:-x", "a:.x", "-a", "a-", "a..b", "a___b",
	"a@sha256:abc", "a@md5:0123", "host:5000/", "a:b:c", "a b", "a/b:c/d",
	"_a", "a/_b", "a/b-", "a/.b", "a.-b", "host:5000/-x",
	"a/./b:1", "a/../b", "./a", "../a", "a/.", "a/b/.:1", "host:5000/./x", "./a/b", "a/./b",
};

/* Where the store's tag differs from what pull calls the name: docker's
 * short form (store_ref_normalize). */
static const char *const store_forms[][2] = {
	{ "docker.io/library/busybox:1", "busybox:1" },
	{ "docker.io/library/busybox", "busybox:latest" },
	{ "library/busybox", "busybox:latest" },
	{ "docker.io/team/app:2", "team/app:2" },
	{ "localhost/hello:1", "localhost/hello:1" },
};

static const char *store_form(const char *in, const char *local)
{
	for (size_t i = 0; i < sizeof(store_forms) / sizeof(store_forms[0]); i++)
		if (!strcmp(store_forms[i][0], in))
			return store_forms[i][1];
	return local;
}

/* A tag name for the store: a reference without a digest. */
static void store_agrees(const char *in, const char *want)
{
	cn_err err;
	char *got = store_ref_normalize(in, &err);
	if (want)
		UNIT_STREQ(got, want, "the store names '%s' %s%s%s", in, want, got ? "" : ": ",
			   got ? "" : err.msg);
	else
		UNIT_CHECK(!got, "the store refuses '%s' too (%s)", in, got ? got : err.msg);
	free(got);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct cn_ref r;
		cn_err err;
		int rc = cn_ref_parse(c->in, &r, &err);
		UNIT_CHECK(rc == 0, "'%s' parses%s%s", c->in, rc ? ": " : "", rc ? err.msg : "");
		if (rc)
			continue;
		UNIT_STREQ(r.domain, c->domain, "'%s': registry", c->in);
		UNIT_STREQ(r.path, c->path, "'%s': repository", c->in);
		UNIT_CHECK(c->tag ? r.tag && !strcmp(r.tag, c->tag) : !r.tag, "'%s': tag %s", c->in,
			   c->tag ? c->tag : "(none)");
		UNIT_CHECK(c->digest ? r.digest && !strcmp(r.digest, c->digest) : !r.digest, "'%s': digest",
			   c->in);
		UNIT_CHECK(c->local ? r.local && !strcmp(r.local, c->local) : !r.local, "'%s': stored as %s",
			   c->in, c->local ? c->local : "(untagged)");
		cn_ref_free(&r);
	}
	{
		struct cn_ref r;
		cn_err err;
		cn_ref_parse("alpine", &r, &err);
		UNIT_STREQ(reg_ref_api_host(&r), "registry-1.docker.io", "docker.io's API host");
		cn_ref_free(&r);
	}
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct cn_ref r;
		cn_err err;
		int rc = cn_ref_parse(bad_cases[i], &r, &err);
		UNIT_CHECK(rc < 0 && strstr(err.msg, "invalid reference"), "'%s' is refused (%s)", bad_cases[i],
			   rc < 0 ? err.msg : "accepted");
		if (rc == 0)
			cn_ref_free(&r);
	}
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++)
		store_agrees(ok_cases[i].in, ok_cases[i].digest ? NULL : store_form(ok_cases[i].in, ok_cases[i].local));
	for (size_t i = 0; i < sizeof(store_forms) / sizeof(store_forms[0]); i++)
		store_agrees(store_forms[i][0], store_forms[i][1]);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		store_agrees(bad_cases[i], NULL);
	store_agrees("alpine@" D64, NULL);           /* a digest is not a tag */
	return UNIT_DONE();
}
