/* Several -f files into one tree, by the spec's rules (13-merge.md and
 * compose-go's override.go): mappings merge key by key, sequences append,
 * scalars are replaced; command, entrypoint and healthcheck.test are
 * replaced whole; ports, volumes, secrets and configs merge on their
 * unique key (a later entry for the same target replaces the earlier);
 * environment, labels, args, extra_hosts and the like merge by variable
 * whichever form (list or mapping) each file used; !reset removes a value,
 * !override replaces it without merging. */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MAX_DEPTH (CMP_YAML_MAX_DEPTH + 8)

static bool match(const char *const *path, size_t depth, const char *pattern)
{
	size_t i = 0;
	const char *p = pattern;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (i >= depth)
			return false;
		if (!(n == 1 && *p == '*') && (strlen(path[i]) != n || memcmp(path[i], p, n) != 0))
			return false;
		i++;
		p += n + (dot ? 1 : 0);
	}
	return i == depth;
}

static bool match_any(const char *const *path, size_t depth, const char *const *patterns, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (match(path, depth, patterns[i]))
			return true;
	return false;
}

static const char *const replaced[] = {
	"services.*.command", "services.*.entrypoint", "services.*.healthcheck.test",
};

/* KEY=VALUE lists that merge as mappings (the char after the key is the
 * separator a list item uses). */
static const struct {
	const char *pattern;
	char sep;
} kv_paths[] = {
	{ "services.*.environment", '=' },
	{ "services.*.labels", '=' },
	{ "services.*.annotations", '=' },
	{ "services.*.sysctls", '=' },
	{ "services.*.build.args", '=' },
	{ "services.*.build.labels", '=' },
	{ "services.*.extra_hosts", ':' },
	{ "services.*.build.extra_hosts", ':' },
	{ "services.*.depends_on", '\0' },
	{ "services.*.networks", '\0' },
	{ "services.*.deploy.labels", '=' },
	{ "networks.*.labels", '=' },
	{ "volumes.*.labels", '=' },
};

static const char *const unique_lists[] = {
	"services.*.ports", "services.*.volumes", "services.*.secrets", "services.*.configs",
};

static const char *const set_lists[] = {
	"services.*.cap_add", "services.*.cap_drop", "services.*.dns", "services.*.dns_search",
	"services.*.dns_opt", "services.*.expose", "services.*.security_opt", "services.*.tmpfs",
	"services.*.devices", "services.*.group_add", "services.*.external_links", "services.*.profiles",
	"services.*.env_file", "services.*.build.cache_from", "services.*.build.cache_to",
	"services.*.build.tags",
};

/* Remove the pairs marked in DROP (one flag per pair). */
static void map_compact(struct cmp_node *map, const bool *drop)
{
	size_t w = 0;
	for (size_t i = 0; i < map->n; i++) {
		if (drop[i]) {
			cmp_node_free(map->kids[2 * i]);
			cmp_node_free(map->kids[2 * i + 1]);
			continue;
		}
		map->kids[2 * w] = map->kids[2 * i];
		map->kids[2 * w + 1] = map->kids[2 * i + 1];
		w++;
	}
	map->n = w;
}

/* Duplicate keys (a list form naming a variable twice): the last value
 * at the first one's place. */
static void map_dedupe(struct cmp_node *map)
{
	_cleanup_free_ size_t *idx = cmp_map_sort(map);
	_cleanup_free_ bool *drop = cn_xcalloc(map->n + 1, sizeof(*drop));
	bool any = false;
	for (size_t g = 0; g < map->n;) {
		size_t e = g + 1;
		while (e < map->n && strcmp(cmp_map_key(map, idx[e])->str, cmp_map_key(map, idx[g])->str) == 0)
			e++;
		if (e - g > 1) {
			struct cmp_node **first = &map->kids[2 * idx[g] + 1], **last = &map->kids[2 * idx[e - 1] + 1];
			struct cmp_node *t = *first;
			*first = *last;
			*last = t;
			for (size_t k = g + 1; k < e; k++)
				drop[idx[k]] = true;
			any = true;
		}
		g = e;
	}
	if (any)
		map_compact(map, drop);
}

/* A list form turned into a mapping (a list with items that are no
 * strings stays a list: the conversion names them). */
static void list_to_map(struct cmp_node **n, char sep)
{
	struct cmp_node *seq = *n, *map;
	if (seq->kind != CMP_SEQ)
		return;
	for (size_t i = 0; i < seq->n; i++)
		if (seq->kids[i]->kind != CMP_SCALAR || cmp_is_null(seq->kids[i]))
			return;
	map = cmp_node_new(CMP_MAP, seq->pos);
	map->flags = seq->flags;
	for (size_t i = 0; i < seq->n; i++) {
		const struct cmp_node *it = seq->kids[i];
		const char *s = sep ? strchr(it->str, sep) : NULL;
		struct cmp_node *k, *v;
		if (sep == ':' && !s)
			s = strchr(it->str, '=');
		if (s) {
			_cleanup_free_ char *key = cn_xstrndup(it->str, (size_t)(s - it->str));
			k = cmp_node_scalar(key, it->pos);
			v = cmp_node_scalar(s + 1, it->pos);
			v->flags |= CMP_F_QUOTED;
		} else {
			k = cmp_node_scalar(it->str, it->pos);
			v = cmp_node_new(CMP_SCALAR, it->pos);
			v->str = cn_xstrdup("");
			v->flags = CMP_F_NULL;
		}
		cmp_map_push(map, k, v);
	}
	map_dedupe(map);
	cmp_node_free(seq);
	*n = map;
}

static void scalar_to_list(struct cmp_node **n)
{
	struct cmp_node *seq;
	if ((*n)->kind != CMP_SCALAR || cmp_is_null(*n))
		return;
	seq = cmp_node_new(CMP_SEQ, (*n)->pos);
	cmp_node_push(seq, *n);
	*n = seq;
}

/* The unique key of a ports/volumes/secrets/configs entry (heap). */
static char *unique_key(const char *list, const struct cmp_node *it)
{
	if (it->kind == CMP_MAP) {
		const struct cmp_node *t = cmp_map_get(it, "target"), *src = cmp_map_get(it, "source");
		if (strcmp(list, "ports") == 0) {
			const struct cmp_node *ip = cmp_map_get(it, "host_ip"), *pub = cmp_map_get(it, "published"),
					      *pr = cmp_map_get(it, "protocol");
			return cn_xasprintf("%s|%s|%s|%s", ip && ip->str ? ip->str : "",
					    pub && pub->str ? pub->str : "", t && t->str ? t->str : "",
					    pr && pr->str ? pr->str : "tcp");
		}
		if (t && t->str)
			return cn_xstrdup(t->str);
		return cn_xstrdup(src && src->str ? src->str : "");
	}
	if (it->kind != CMP_SCALAR)
		return NULL;
	if (strcmp(list, "ports") == 0) {
		struct cmp_port p;
		const char *why;
		/* A bad one keeps its text (the check of the service names it). */
		if (cmp_port_parse(it->str, &p, &why) < 0)
			return cn_xstrdup(it->str);
		return cmp_port_key(&p);
	}
	if (strcmp(list, "volumes") == 0) {
		const char *c = strchr(it->str, ':');
		if (!c)
			return cn_xstrdup(it->str);
		const char *e = strchr(c + 1, ':');
		return e ? cn_xstrndup(c + 1, (size_t)(e - c - 1)) : cn_xstrdup(c + 1);
	}
	return cn_xstrdup(it->str);
}

static void merge_unique(struct cmp_node *base, struct cmp_node *over, const char *list)
{
	for (size_t i = 0; i < over->n; i++) {
		struct cmp_node *it = over->kids[i];
		_cleanup_free_ char *k = unique_key(list, it);
		bool done = false;
		over->kids[i] = NULL;
		for (size_t j = 0; k && j < base->n && !done; j++) {
			_cleanup_free_ char *bk = unique_key(list, base->kids[j]);
			if (bk && strcmp(bk, k) == 0) {
				cmp_node_free(base->kids[j]);
				base->kids[j] = it;
				done = true;
			}
		}
		if (!done)
			cmp_node_push(base, it);
	}
	over->n = 0;
	cmp_node_free(over);
}

static void merge_set(struct cmp_node *base, struct cmp_node *over)
{
	for (size_t i = 0; i < over->n; i++) {
		struct cmp_node *it = over->kids[i];
		bool dup = false;
		for (size_t j = 0; it->kind == CMP_SCALAR && j < base->n && !dup; j++)
			dup = base->kids[j]->kind == CMP_SCALAR && strcmp(base->kids[j]->str, it->str) == 0;
		over->kids[i] = NULL;
		if (dup)
			cmp_node_free(it);
		else
			cmp_node_push(base, it);
	}
	over->n = 0;
	cmp_node_free(over);
}

static void merge_at(struct cmp_node **base, struct cmp_node *over, const char **path, size_t depth);

static void normalize(struct cmp_node **n, const char *const *path, size_t depth)
{
	for (size_t i = 0; i < CN_ARRAY_SIZE(kv_paths); i++)
		if (match(path, depth, kv_paths[i].pattern))
			list_to_map(n, kv_paths[i].sep);
	if (match(path, depth, "services.*.build") && (*n)->kind == CMP_SCALAR && !cmp_is_null(*n)) {
		struct cmp_node *m = cmp_node_new(CMP_MAP, (*n)->pos);
		cmp_map_push(m, cmp_node_scalar("context", (*n)->pos), *n);
		*n = m;
	}
	if (match(path, depth, "services.*.env_file") || match(path, depth, "services.*.dns") ||
	    match(path, depth, "services.*.tmpfs") || match(path, depth, "services.*.dns_search"))
		scalar_to_list(n);
}

/* OVER's keys are distinct (yaml.c refuses duplicates), so the index of
 * BASE's keys made before the loop stays right while new pairs are
 * appended; removals (!reset) wait for the end. */
static void merge_maps(struct cmp_node *base, struct cmp_node *over, const char **path, size_t depth)
{
	_cleanup_free_ size_t *idx = cmp_map_sort(base);
	_cleanup_free_ bool *drop = cn_xcalloc(base->n + over->n + 1, sizeof(*drop));
	size_t nbase = base->n;
	bool any = false;
	for (size_t i = 0; i < over->n; i++) {
		struct cmp_node *k = cmp_map_key(over, i), *v = cmp_map_val(over, i);
		long at = nbase ? cmp_map_find_sorted(base, idx, nbase, k->str) : -1;
		over->kids[2 * i] = over->kids[2 * i + 1] = NULL;
		if (v->flags & CMP_F_RESET) {
			if (at >= 0)
				drop[at] = any = true;
			cmp_node_free(k);
			cmp_node_free(v);
			continue;
		}
		if (at < 0) {
			cmp_strip_reset(v);
			cmp_map_push(base, k, v);
			continue;
		}
		cmp_node_free(k);
		path[depth] = cmp_map_key(base, (size_t)at)->str;
		merge_at(&base->kids[2 * at + 1], v, path, depth + 1);
	}
	over->n = 0;
	cmp_node_free(over);
	if (any)
		map_compact(base, drop);
}

static void merge_at(struct cmp_node **base, struct cmp_node *over, const char **path, size_t depth)
{
	if (depth >= MERGE_MAX_DEPTH || (over->flags & CMP_F_OVERRIDE)) {
		over->flags &= ~CMP_F_OVERRIDE;
		cmp_strip_reset(over);
		cmp_node_free(*base);
		*base = over;
		return;
	}
	/* A null in a later file keeps the value (compose-go's MergeYaml:
	 * an override "db:" whose body is commented out, or networks:
	 * [front] over front's aliases); only !reset removes. */
	if (cmp_is_null(over)) {
		cmp_node_free(over);
		return;
	}
	normalize(base, path, depth);
	normalize(&over, path, depth);
	if ((*base)->kind == CMP_MAP && over->kind == CMP_MAP) {
		merge_maps(*base, over, path, depth);
		return;
	}
	if ((*base)->kind == CMP_SEQ && over->kind == CMP_SEQ &&
	    !match_any(path, depth, replaced, CN_ARRAY_SIZE(replaced))) {
		cmp_strip_reset(over);
		if (match_any(path, depth, unique_lists, CN_ARRAY_SIZE(unique_lists)))
			merge_unique(*base, over, path[depth - 1]);
		else if (match_any(path, depth, set_lists, CN_ARRAY_SIZE(set_lists)))
			merge_set(*base, over);
		else {
			for (size_t i = 0; i < over->n; i++) {
				cmp_node_push(*base, over->kids[i]);
				over->kids[i] = NULL;
			}
			over->n = 0;
			cmp_node_free(over);
		}
		return;
	}
	cmp_strip_reset(over);
	cmp_node_free(*base);
	*base = over;
}

void cmp_merge(struct cmp_node **base, struct cmp_node *over)
{
	const char *path[MERGE_MAX_DEPTH + 1];
	if (!over)
		return;
	if (!*base) {
		*base = over;
		return;
	}
	merge_at(base, over, path, 0);
}

struct keyed {
	char *key;
	size_t i;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->i < y->i ? -1 : x->i > y->i);
}

/* One list's entries with the same unique key: the last one, at the first
 * one's place (compose-go's EnforceUnicity). */
static void dedupe_list(struct cmp_node *seq, const char *list)
{
	_cleanup_free_ struct keyed *k = cn_xcalloc(seq->n + 1, sizeof(*k));
	_cleanup_free_ bool *drop = cn_xcalloc(seq->n + 1, sizeof(*drop));
	size_t w = 0;
	bool any = false;
	for (size_t i = 0; i < seq->n; i++) {
		k[i].key = unique_key(list, seq->kids[i]);
		k[i].i = i;
		if (!k[i].key)
			k[i].key = cn_xasprintf("\x01%zu", i);       /* no key: unique */
	}
	qsort(k, seq->n, sizeof(*k), keyed_cmp);
	for (size_t g = 0; g < seq->n;) {
		size_t e = g + 1;
		while (e < seq->n && strcmp(k[e].key, k[g].key) == 0)
			e++;
		if (e - g > 1) {
			struct cmp_node *t = seq->kids[k[g].i];
			seq->kids[k[g].i] = seq->kids[k[e - 1].i];
			seq->kids[k[e - 1].i] = t;
			for (size_t j = g + 1; j < e; j++)
				drop[k[j].i] = any = true;
		}
		g = e;
	}
	for (size_t i = 0; i < seq->n; i++)
		free(k[i].key);
	if (!any)
		return;
	for (size_t i = 0; i < seq->n; i++) {
		if (drop[i])
			cmp_node_free(seq->kids[i]);
		else
			seq->kids[w++] = seq->kids[i];
	}
	seq->n = w;
}

void cmp_enforce_unicity(struct cmp_node *root)
{
	const struct cmp_node *svcs = cmp_map_get(root, "services");
	if (!svcs || svcs->kind != CMP_MAP)
		return;
	for (size_t i = 0; i < svcs->n; i++) {
		const struct cmp_node *svc = cmp_map_val(svcs, i);
		for (size_t j = 0; svc->kind == CMP_MAP && j < CN_ARRAY_SIZE(unique_lists); j++) {
			const char *list = strrchr(unique_lists[j], '.') + 1;
			struct cmp_node *l = cmp_map_get(svc, list);
			if (l && l->kind == CMP_SEQ && l->n > 1)
				dedupe_list(l, list);
		}
	}
}

void cmp_strip_reset(struct cmp_node *n)
{
	if (!n || n->kind == CMP_SCALAR)
		return;
	for (size_t i = n->n; i-- > 0;) {
		struct cmp_node *v = n->kind == CMP_MAP ? cmp_map_val(n, i) : n->kids[i];
		if (v->flags & CMP_F_RESET)
			cmp_node_remove(n, i);
		else
			cmp_strip_reset(v);
	}
}
