/* The order compose works in, kept apart from the commands so it can be
 * tested alone: services as nodes, "needs" edges (depends_on for up, a
 * Dockerfile FROM of another service's image for build), a topological
 * order with cycles named, the services a selection pulls in, and the
 * next node a scheduler of parallel work may start. Pure: no I/O. */
#ifndef CMP_GRAPH_H
#define CMP_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"
#include "util/strv.h"

struct cmp_graph {
	size_t n;
	char **names;           /* node names, owned */
	cn_strv *needs;         /* per node: names of the nodes it needs */
};

void cmp_graph_init(struct cmp_graph *g, size_t n);
/* Node I is NAME (copied). */
void cmp_graph_name(struct cmp_graph *g, size_t i, const char *name);
/* Node I needs the node named DEP (copied; duplicates kept once). */
void cmp_graph_need(struct cmp_graph *g, size_t i, const char *dep);
void cmp_graph_free(struct cmp_graph *g);
/* The index of NAME, or -1. */
long cmp_graph_find(const struct cmp_graph *g, const char *name);

/* ORDER (n entries) gets every node after the nodes it needs, otherwise in
 * the nodes' own order (stable: the file's order stays where it can).
 * A need of an unknown node is an error when STRICT (compose's "depends on
 * undefined service"), else ignored (a FROM of a registry image). A cycle
 * is an error naming it: "a -> b -> a". */
int cmp_graph_order(const struct cmp_graph *g, bool strict, size_t *order, cn_err *err);

/* SEL (n flags, in/out): the nodes set plus every node they need,
 * transitively (up SERVICE starts what SERVICE depends on). */
void cmp_graph_closure(const struct cmp_graph *g, bool *sel);

/* Scheduling parallel work. STATE per node: */
enum cmp_node_state {
	CMP_NODE_SKIP,          /* not part of this run */
	CMP_NODE_PENDING,
	CMP_NODE_RUNNING,
	CMP_NODE_DONE,
	CMP_NODE_FAILED,
};
/* A pending node whose needs are all done (or skipped, or unknown), the
 * first in node order; -1 when none can start now. A node that needs a
 * failed one is marked FAILED too (its work cannot happen), and *blocked
 * (optional) counts them. */
long cmp_graph_next(const struct cmp_graph *g, enum cmp_node_state *state, size_t *blocked);
/* Whether any node is still pending or running. */
bool cmp_graph_busy(const struct cmp_graph *g, const enum cmp_node_state *state);

/* The image reference REF normalized so that two spellings of one image
 * compare equal ("busybox" and "docker.io/library/busybox:latest"); a
 * heap string, or NULL when REF does not parse. */
char *cmp_image_key(const char *ref);

#endif
