/* Compose's ordering: see graph.h. Projects have tens of services, so the
 * simple quadratic passes are enough and keep the order stable. */
#include "compose/graph.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/ref.h"

#include <stdlib.h>
#include <string.h>

void cmp_graph_init(struct cmp_graph *g, size_t n)
{
	g->n = n;
	g->names = cn_xcalloc(n ? n : 1, sizeof(*g->names));
	g->needs = cn_xcalloc(n ? n : 1, sizeof(*g->needs));
}

void cmp_graph_name(struct cmp_graph *g, size_t i, const char *name)
{
	free(g->names[i]);
	g->names[i] = cn_xstrdup(name);
}

void cmp_graph_need(struct cmp_graph *g, size_t i, const char *dep)
{
	for (size_t k = 0; k < g->needs[i].n; k++)
		if (!strcmp(g->needs[i].v[k], dep))
			return;
	cn_strv_pushdup(&g->needs[i], dep);
}

void cmp_graph_free(struct cmp_graph *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->names[i]);
		cn_strv_free(&g->needs[i]);
	}
	free(g->names);
	free(g->needs);
	*g = (struct cmp_graph){ 0 };
}

long cmp_graph_find(const struct cmp_graph *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->names[i] && !strcmp(g->names[i], name))
			return (long)i;
	return -1;
}

/* Follow needs among the unplaced nodes from START until one repeats: a
 * cycle exists when no unplaced node can be placed. */
static int cycle_error(const struct cmp_graph *g, const bool *placed, size_t start, cn_err *err)
{
	_cleanup_free_ size_t *path = cn_xcalloc(g->n + 1, sizeof(*path));
	_cleanup_free_ long *seen_at = cn_xcalloc(g->n, sizeof(*seen_at));
	size_t len = 0, cur = start;
	cn_buf b;
	for (size_t i = 0; i < g->n; i++)
		seen_at[i] = -1;
	for (;;) {
		long next = -1;
		seen_at[cur] = (long)len;
		path[len++] = cur;
		for (size_t k = 0; k < g->needs[cur].n && next < 0; k++) {
			long d = cmp_graph_find(g, g->needs[cur].v[k]);
			if (d >= 0 && !placed[d])
				next = d;
		}
		if (next < 0 || seen_at[next] >= 0) {
			size_t from = next < 0 ? 0 : (size_t)seen_at[next];
			cn_buf_init(&b, 0);
			for (size_t i = from; i < len; i++) {
				cn_buf_adds(&b, g->names[path[i]]);
				cn_buf_adds(&b, " -> ");
			}
			cn_buf_adds(&b, next < 0 ? "?" : g->names[next]);
			cn_err_fail(err, CN_ERR_INVALID, "dependency cycle: %s", b.data);
			cn_buf_free(&b);
			return -1;
		}
		cur = (size_t)next;
	}
}

int cmp_graph_order(const struct cmp_graph *g, bool strict, size_t *order, cn_err *err)
{
	_cleanup_free_ bool *placed = cn_xcalloc(g->n ? g->n : 1, sizeof(*placed));
	size_t done = 0;
	if (strict)
		for (size_t i = 0; i < g->n; i++)
			for (size_t k = 0; k < g->needs[i].n; k++)
				if (cmp_graph_find(g, g->needs[i].v[k]) < 0)
					return cn_err_fail(err, CN_ERR_INVALID,
							   "service \"%s\" depends on undefined service \"%s\"",
							   g->names[i], g->needs[i].v[k]);
	while (done < g->n) {
		size_t first_left = g->n;
		bool progress = false;
		for (size_t i = 0; i < g->n; i++) {
			bool ready = true;
			if (placed[i])
				continue;
			if (first_left == g->n)
				first_left = i;
			for (size_t k = 0; k < g->needs[i].n && ready; k++) {
				long d = cmp_graph_find(g, g->needs[i].v[k]);
				ready = d < 0 || placed[d];
			}
			if (ready) {
				placed[i] = true;
				order[done++] = i;
				progress = true;
				break;  /* restart: an earlier node may be ready now */
			}
		}
		if (!progress)
			return cycle_error(g, placed, first_left, err);
	}
	return 0;
}

void cmp_graph_closure(const struct cmp_graph *g, bool *sel)
{
	bool grew = true;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < g->n; i++) {
			if (!sel[i])
				continue;
			for (size_t k = 0; k < g->needs[i].n; k++) {
				long d = cmp_graph_find(g, g->needs[i].v[k]);
				if (d >= 0 && !sel[d])
					sel[d] = grew = true;
			}
		}
	}
}

long cmp_graph_next(const struct cmp_graph *g, enum cmp_node_state *state, size_t *blocked)
{
	bool changed = true;
	/* Failures spread first: a node below a failed one never starts. */
	while (changed) {
		changed = false;
		for (size_t i = 0; i < g->n; i++) {
			if (state[i] != CMP_NODE_PENDING)
				continue;
			for (size_t k = 0; k < g->needs[i].n; k++) {
				long d = cmp_graph_find(g, g->needs[i].v[k]);
				if (d >= 0 && state[d] == CMP_NODE_FAILED) {
					state[i] = CMP_NODE_FAILED;
					if (blocked)
						(*blocked)++;
					changed = true;
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < g->n; i++) {
		bool ready = state[i] == CMP_NODE_PENDING;
		for (size_t k = 0; k < g->needs[i].n && ready; k++) {
			long d = cmp_graph_find(g, g->needs[i].v[k]);
			ready = d < 0 || state[d] == CMP_NODE_DONE || state[d] == CMP_NODE_SKIP;
		}
		if (ready)
			return (long)i;
	}
	return -1;
}

bool cmp_graph_busy(const struct cmp_graph *g, const enum cmp_node_state *state)
{
	for (size_t i = 0; i < g->n; i++)
		if (state[i] == CMP_NODE_PENDING || state[i] == CMP_NODE_RUNNING)
			return true;
	return false;
}

char *cmp_image_key(const char *ref)
{
	struct cn_ref r;
	cn_err err;
	char *key;
	if (cn_ref_parse(ref, &r, &err) < 0)
		return NULL;
	key = cn_xasprintf("%s/%s%s%s%s%s", r.domain, r.path, r.tag ? ":" : "", r.tag ? r.tag : "",
			   r.digest ? "@" : "", r.digest ? r.digest : "");
	cn_ref_free(&r);
	return key;
}
