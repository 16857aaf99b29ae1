/* The order compose builds and starts services in (compose/graph.h). */
#include "compose/buildrefs.h"
#include "compose/graph.h"
#include "unit.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* A graph from "a:b,c d e:a" (node:needs,...), space separated. */
static void make(struct cmp_graph *g, const char *spec)
{
	char *copy = cn_xstrdup(spec), *save = NULL, *tok;
	size_t n = *spec != '\0';
	for (const char *p = spec; *p; p++)
		n += *p == ' ';
	cmp_graph_init(g, n);
	n = 0;
	for (tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n++) {
		char *colon = strchr(tok, ':'), *s2 = NULL, *d;
		if (colon)
			*colon = '\0';
		cmp_graph_name(g, n, tok);
		if (!colon)
			continue;
		for (d = strtok_r(colon + 1, ",", &s2); d; d = strtok_r(NULL, ",", &s2))
			cmp_graph_need(g, n, d);
	}
	free(copy);
}

/* The order as "a b c", or the error message. */
static char *order(const char *spec, bool strict)
{
	struct cmp_graph g;
	size_t o[16];
	cn_err err;
	char *out;
	make(&g, spec);
	if (cmp_graph_order(&g, strict, o, &err) < 0) {
		out = cn_xstrdup(err.msg);
	} else {
		out = cn_xstrdup("");
		for (size_t i = 0; i < g.n; i++) {
			char *t = cn_xasprintf("%s%s%s", out, i ? " " : "", g.names[o[i]]);
			free(out);
			out = t;
		}
	}
	cmp_graph_free(&g);
	return out;
}

static void test_order(void)
{
	static const struct {
		const char *spec, *want;
		bool strict;
	} cases[] = {
		{ "a b c", "a b c", true },
		{ "web:db db", "db web", true },
		{ "lb:app1,app2 app1:db app2:db db", "db app1 app2 lb", true },
		{ "a:b b:c c", "c b a", true },
		{ "x y:x z", "x y z", true },           /* stable where free */
		{ "a:a", "dependency cycle: a -> a", true },
		{ "a:b b:c c:a", "dependency cycle: a -> b -> c -> a", true },
		{ "top:a a:b b:a", "dependency cycle: a -> b -> a", true },   /* the cycle, not the way in */
		{ "web:nope", "service \"web\" depends on undefined service \"nope\"", true },
		{ "app:busybox base", "app base", false },      /* FROM a registry image */
		{ "", "", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = order(cases[i].spec, cases[i].strict);
		UNIT_STREQ(got, cases[i].want, "order '%s'", cases[i].spec);
		free(got);
	}
}

static void test_closure(void)
{
	struct cmp_graph g;
	bool sel[4] = { false, false, false, true };
	make(&g, "db cache app:db lb:app");
	cmp_graph_closure(&g, sel);
	UNIT_CHECK(sel[0] && !sel[1] && sel[2] && sel[3], "up lb pulls in app and db, not cache");
	cmp_graph_free(&g);
}

/* What a scheduler with two slots does: base first, then a and b together,
 * then top; a failure stops what is below it only. */
static void test_schedule(void)
{
	struct cmp_graph g;
	enum cmp_node_state st[4];
	size_t blocked = 0;
	long a, b;
	make(&g, "top:a,b a:base b:base base");
	for (size_t i = 0; i < 4; i++)
		st[i] = CMP_NODE_PENDING;
	UNIT_CHECK(cmp_graph_next(&g, st, NULL) == 3, "base starts first");
	st[3] = CMP_NODE_RUNNING;
	UNIT_CHECK(cmp_graph_next(&g, st, NULL) == -1, "nothing else while base runs");
	st[3] = CMP_NODE_DONE;
	a = cmp_graph_next(&g, st, NULL);
	st[a] = CMP_NODE_RUNNING;
	b = cmp_graph_next(&g, st, NULL);
	UNIT_CHECK(a == 1 && b == 2, "a and b start together (got %ld %ld)", a, b);
	st[b] = CMP_NODE_RUNNING;
	UNIT_CHECK(cmp_graph_next(&g, st, NULL) == -1 && cmp_graph_busy(&g, st), "top waits for both");
	st[a] = CMP_NODE_DONE;
	st[b] = CMP_NODE_FAILED;
	UNIT_CHECK(cmp_graph_next(&g, st, &blocked) == -1 && st[0] == CMP_NODE_FAILED && blocked == 1,
		   "top is not built when b failed");
	UNIT_CHECK(!cmp_graph_busy(&g, st), "then nothing is left");
	for (size_t i = 0; i < 4; i++)
		st[i] = CMP_NODE_PENDING;
	st[3] = CMP_NODE_SKIP;
	UNIT_CHECK(cmp_graph_next(&g, st, NULL) == 1, "a skipped need does not block");
	cmp_graph_free(&g);
}

static void test_image_key(void)
{
	static const struct {
		const char *a, *b;
		bool same;
	} cases[] = {
		{ "busybox", "docker.io/library/busybox:latest", true },
		{ "busybox", "busybox:latest", true },
		{ "proj-base", "proj-base:latest", true },
		{ "proj-base:1", "proj-base:latest", false },
		{ "localhost:5000/x", "localhost:5000/x:latest", true },
		{ "a/b", "docker.io/a/b", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *ka = cmp_image_key(cases[i].a), *kb = cmp_image_key(cases[i].b);
		UNIT_CHECK(ka && kb && (strcmp(ka, kb) == 0) == cases[i].same, "image key %s %s %s", cases[i].a,
			   cases[i].same ? "==" : "!=", cases[i].b);
		free(ka);
		free(kb);
	}
	UNIT_CHECK(cmp_image_key("Not Valid") == NULL, "an invalid reference has no key");
}

/* The images a Buildfile reads, as "a b" of image keys, or the error. */
static char *refs(const char *text, const char *arg)
{
	cn_strv args = { 0 }, out = { 0 };
	cn_err err;
	char *s;
	if (arg)
		cn_strv_pushdup(&args, arg);
	if (cmp_buildfile_images("Buildfile", text, strlen(text), &args, &out, &err) < 0) {
		s = cn_xasprintf("error: %s", err.msg);
	} else {
		s = cn_xstrdup("");
		for (size_t i = 0; i < out.n; i++) {
			char *t = cn_xasprintf("%s%s%s", s, i ? " " : "", out.v[i]);
			free(s);
			s = t;
		}
	}
	cn_strv_free(&args);
	cn_strv_free(&out);
	return s;
}

static void test_buildfile_images(void)
{
	static const struct {
		const char *text, *arg, *want;
	} cases[] = {
		{ "FROM proj-base\nRUN true\n", NULL, "docker.io/library/proj-base:latest" },
		{ "ARG BASE=proj-base:1\nFROM ${BASE}\n", NULL, "docker.io/library/proj-base:1" },
		{ "ARG BASE=proj-base:1\nFROM ${BASE}\n", "BASE=other", "docker.io/library/other:latest" },
		{ "FROM busybox AS build\nRUN true\nFROM build\nCOPY --from=build /a /a\n", NULL,
		  "docker.io/library/busybox:latest" },                                /* stages are no images */
		{ "FROM scratch\nCOPY --from=0 /a /a\nCOPY --from=tools:2 /t /t\n", NULL,
		  "docker.io/library/tools:2" },
		{ "FROM localhost:5000/team/app\n", NULL, "localhost:5000/team/app:latest" },
		{ "FROM\n", NULL, "error: " },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = refs(cases[i].text, cases[i].arg);
		if (!strcmp(cases[i].want, "error: "))
			UNIT_CHECK(!strncmp(got, "error: Buildfile:1", 18), "a Buildfile that does not parse: %s", got);
		else
			UNIT_STREQ(got, cases[i].want, "images of case %zu", i);
		free(got);
	}
}

int main(void)
{
	test_buildfile_images();
	test_order();
	test_closure();
	test_schedule();
	test_image_key();
	return UNIT_DONE();
}
