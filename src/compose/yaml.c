/* A YAML document as a tree of cmp_node (compose_internal.h), read with
 * libyaml's event parser. Aliases are expanded into copies (the later
 * passes, interpolation and merging, edit values in place); the nodes they
 * add are counted before copying and a document over the budget (a
 * billion-laughs bomb) is refused without expanding it. Merge keys (<<)
 * are applied when their mapping ends. Every node keeps its file:line:col. */
#include "compose/compose_internal.h"
#include "util/cleanup.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* A node an anchor points at: merge keys copy its pairs, never move them. */
#define F_ANCHORED 0x100u

struct anchor {
	char *name;
	struct cmp_node *node;          /* in the tree (or the graveyard) */
};

struct frame {
	struct cmp_node *node;
	char *anchor;                   /* registered when the node ends */
	size_t raw;                     /* children pushed (maps: keys and values) */
};

struct builder {
	const char *file;
	cn_err *err;
	struct frame *stack;
	size_t depth, cap;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	struct cmp_node *graveyard;     /* nodes anchors may point at, freed last */
	size_t alias_nodes;
	struct cmp_node *root;
	int docs;
};

struct cmp_node *cmp_node_new(enum cmp_kind kind, struct cmp_pos pos)
{
	struct cmp_node *n = cn_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	n->size = 1;
	n->height = 1;
	return n;
}

struct cmp_node *cmp_node_scalar(const char *s, struct cmp_pos pos)
{
	struct cmp_node *n = cmp_node_new(CMP_SCALAR, pos);
	n->str = cn_xstrdup(s);
	n->len = strlen(s);
	return n;
}

static size_t raw_count(const struct cmp_node *n)
{
	return n->kind == CMP_MAP ? 2 * n->n : n->n;
}

void cmp_node_free(struct cmp_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < raw_count(n); i++)
		cmp_node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

struct cmp_node *cmp_node_copy(const struct cmp_node *n)
{
	struct cmp_node *c = cmp_node_new(n->kind, n->pos);
	size_t raw = raw_count(n);
	c->flags = n->flags;
	c->size = n->size;
	c->height = n->height;
	if (n->str) {
		c->str = cn_xstrndup(n->str, n->len);
		c->len = n->len;
	}
	if (raw) {
		c->kids = cn_xmalloc(raw * sizeof(*c->kids));
		c->cap = raw;
		for (size_t i = 0; i < raw; i++)
			c->kids[i] = cmp_node_copy(n->kids[i]);
	}
	c->n = n->n;
	return c;
}

static void push_raw(struct cmp_node *parent, size_t raw, struct cmp_node *kid)
{
	cn_xgrow((void **)&parent->kids, &parent->cap, raw + 1, sizeof(*parent->kids));
	parent->kids[raw] = kid;
}

void cmp_node_push(struct cmp_node *seq, struct cmp_node *item)
{
	push_raw(seq, seq->n, item);
	seq->n++;
	seq->size += item->size;
	if (item->height + 1 > seq->height)
		seq->height = item->height + 1;
}

void cmp_map_push(struct cmp_node *map, struct cmp_node *key, struct cmp_node *value)
{
	push_raw(map, 2 * map->n, key);
	push_raw(map, 2 * map->n + 1, value);
	map->n++;
	map->size += key->size + value->size;
	if (value->height + 1 > map->height)
		map->height = value->height + 1;
}

void cmp_node_remove(struct cmp_node *n, size_t i)
{
	size_t w = n->kind == CMP_MAP ? 2 : 1, raw = raw_count(n);
	if (i >= n->n)
		return;
	for (size_t k = 0; k < w; k++)
		cmp_node_free(n->kids[i * w + k]);
	memmove(&n->kids[i * w], &n->kids[(i + 1) * w], (raw - (i + 1) * w) * sizeof(*n->kids));
	n->n--;
}

long cmp_map_index(const struct cmp_node *map, const char *key)
{
	if (!map || map->kind != CMP_MAP)
		return -1;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(cmp_map_key(map, i)->str, key) == 0)
			return (long)i;
	return -1;
}

struct cmp_node *cmp_map_get(const struct cmp_node *map, const char *key)
{
	long i = cmp_map_index(map, key);
	return i < 0 ? NULL : cmp_map_val(map, (size_t)i);
}

static int sorted_cmp(const void *a, const void *b, void *ctx)
{
	const struct cmp_node *m = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(cmp_map_key(m, i)->str, cmp_map_key(m, j)->str);
	return c ? c : (i < j ? -1 : i > j);
}

size_t *cmp_map_sort(const struct cmp_node *map)
{
	size_t *idx = cn_xmalloc((map->n + 1) * sizeof(*idx));
	for (size_t i = 0; i < map->n; i++)
		idx[i] = i;
	qsort_r(idx, map->n, sizeof(*idx), sorted_cmp, (void *)(uintptr_t)map);
	return idx;
}

long cmp_map_find_sorted(const struct cmp_node *map, const size_t *sorted, size_t n, const char *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(cmp_map_key(map, sorted[mid])->str, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && strcmp(cmp_map_key(map, sorted[lo])->str, key) == 0)
		return (long)sorted[lo];
	return -1;
}

const char *cmp_node_what(const struct cmp_node *n)
{
	if (cmp_is_null(n))
		return "null";
	switch (n->kind) {
	case CMP_MAP: return "a mapping";
	case CMP_SEQ: return "a list";
	default: return "a string";
	}
}

/* ---- building ---- */

static int fail_at(struct builder *b, size_t line, size_t col, enum cn_err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail_at(struct builder *b, size_t line, size_t col, enum cn_err_kind kind, const char *fmt, ...)
{
	char msg[CN_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cn_err_fail(b->err, kind, "%s:%zu:%zu: %s", b->file, line + 1, col + 1, msg);
}

static struct cmp_pos mark_pos(const struct builder *b, yaml_mark_t m)
{
	struct cmp_pos p = { b->file, (unsigned)(m.line + 1), (unsigned)(m.column + 1) };
	return p;
}

static void graveyard_add(struct builder *b, struct cmp_node *n)
{
	if (!b->graveyard)
		b->graveyard = cmp_node_new(CMP_SEQ, n->pos);
	push_raw(b->graveyard, b->graveyard->n, n);
	b->graveyard->n++;
}

struct pair_ref {
	struct cmp_node *key, *val;
	size_t rank;                    /* order of appearance; explicit keys first */
	bool explicit_key;
};

static int pair_cmp(const void *x, const void *y)
{
	const struct pair_ref *a = x, *b = y;
	int c = strcmp(a->key->str, b->key->str);
	if (c)
		return c;
	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

static bool is_merge_key(const struct cmp_node *k)
{
	return k->kind == CMP_SCALAR && !(k->flags & CMP_F_QUOTED) && strcmp(k->str, "<<") == 0;
}

/* Collect the pairs a merge value contributes (a mapping, or a list of
 * mappings where earlier ones win). SRCS gets each pair's mapping and
 * index, for moving it out. */
struct pair_src {
	struct cmp_node *map;
	size_t i;
	bool copy;                      /* an anchor points at the mapping or its list */
};

static int merge_sources(struct builder *b, struct cmp_node *v, struct pair_ref **refs, struct pair_src **srcs,
			 size_t *n, size_t *cap, size_t *scap)
{
	struct cmp_node **maps = &v;
	size_t nmaps = 1;
	if (v->kind == CMP_SEQ) {
		maps = v->kids;
		nmaps = v->n;
	}
	for (size_t m = 0; m < nmaps; m++) {
		struct cmp_node *src = maps[m];
		if (src->kind != CMP_MAP)
			return cn_err_fail(b->err, CN_ERR_INVALID, "%s:%u:%u: the merge key << takes a mapping "
					   "or a list of mappings, not %s", b->file, src->pos.line, src->pos.col,
					   cmp_node_what(src));
		for (size_t i = 0; i < src->n; i++) {
			cn_xgrow((void **)refs, cap, *n + 1, sizeof(**refs));
			cn_xgrow((void **)srcs, scap, *n + 1, sizeof(**srcs));
			(*refs)[*n] = (struct pair_ref){ cmp_map_key(src, i), cmp_map_val(src, i), *n, false };
			(*srcs)[*n] = (struct pair_src){ src, i, ((src->flags | v->flags) & F_ANCHORED) != 0 };
			(*n)++;
		}
	}
	return 0;
}

/* A merged pair goes into MAP: moved out of its source when no anchor
 * points at the source (nothing else can see it), else copied (the copies
 * were charged to the alias budget by copy_budget). */
static void merge_pair(struct cmp_node *map, const struct pair_src *s)
{
	struct cmp_node **kv = &s->map->kids[2 * s->i];
	if (!s->copy) {
		cmp_map_push(map, kv[0], kv[1]);
		kv[0] = kv[1] = NULL;
		return;
	}
	cmp_map_push(map, cmp_node_copy(kv[0]), cmp_node_copy(kv[1]));
}

/* The nodes merge_pair will copy count against the alias budget as an
 * alias's do: nested merge keys would otherwise copy a big mapping once
 * per level. */
static int copy_budget(struct builder *b, const struct cmp_node *map, const struct pair_src *srcs,
		       const bool *keep, size_t n)
{
	size_t size = 0;
	for (size_t r = 0; r < n; r++) {
		const struct cmp_node *m = srcs[r].map;
		if (!keep[r] || !m || !srcs[r].copy)
			continue;
		size += cmp_map_key(m, srcs[r].i)->size + cmp_map_val(m, srcs[r].i)->size;
		if (size > CMP_YAML_ALIAS_NODES - b->alias_nodes)
			return cn_err_fail(b->err, CN_ERR_TOO_BIG, "%s:%u:%u: the merge key << would expand the "
					   "document past %u nodes (a billion-laughs document?): refused", b->file,
					   map->pos.line, map->pos.col, CMP_YAML_ALIAS_NODES);
	}
	b->alias_nodes += size;
	return 0;
}

/* At a mapping's end: refuse duplicate keys, apply merge keys (explicit
 * keys win, then the merged mappings in order). */
static int finish_map(struct builder *b, struct cmp_node *map)
{
	_cleanup_free_ struct pair_ref *refs = NULL;
	_cleanup_free_ bool *keep = NULL;
	_cleanup_free_ struct pair_src *srcs = NULL;
	size_t n = 0, cap = 0, scap = 0, nexplicit = 0;
	bool merges = false;

	for (size_t i = 0; i < map->n; i++)
		if (is_merge_key(cmp_map_key(map, i)))
			merges = true;
	if (!merges && map->n <= 8) {
		for (size_t i = 0; i < map->n; i++)
			for (size_t j = 0; j < i; j++)
				if (strcmp(cmp_map_key(map, i)->str, cmp_map_key(map, j)->str) == 0)
					return cn_err_fail(b->err, CN_ERR_INVALID, "%s:%u:%u: mapping key \"%s\" "
							   "already defined at line %u", b->file,
							   cmp_map_key(map, i)->pos.line, cmp_map_key(map, i)->pos.col,
							   cmp_map_key(map, i)->str, cmp_map_key(map, j)->pos.line);
		return 0;
	}
	for (size_t i = 0; i < map->n; i++) {
		if (is_merge_key(cmp_map_key(map, i)))
			continue;
		cn_xgrow((void **)&refs, &cap, n + 1, sizeof(*refs));
		cn_xgrow((void **)&srcs, &scap, n + 1, sizeof(*srcs));
		refs[n] = (struct pair_ref){ cmp_map_key(map, i), cmp_map_val(map, i), n, true };
		srcs[n] = (struct pair_src){ NULL, 0, false };
		n++;
	}
	nexplicit = n;
	for (size_t i = 0; i < map->n; i++)
		if (is_merge_key(cmp_map_key(map, i)) && merge_sources(b, cmp_map_val(map, i), &refs, &srcs, &n, &cap,
										&scap) < 0)
			return -1;
	for (size_t i = nexplicit; i < n; i++)
		refs[i].rank = i;
	if (n > 1)
		qsort(refs, n, sizeof(*refs), pair_cmp);
	keep = cn_xcalloc(n + 1, sizeof(*keep));
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(refs[i].key->str, refs[i - 1].key->str) == 0) {
			if (refs[i].explicit_key)
				return cn_err_fail(b->err, CN_ERR_INVALID, "%s:%u:%u: mapping key \"%s\" already "
						   "defined at line %u", b->file, refs[i].key->pos.line,
						   refs[i].key->pos.col, refs[i].key->str, refs[i - 1].key->pos.line);
			continue;
		}
		keep[refs[i].rank] = true;
	}
	if (!merges)
		return 0;
	if (copy_budget(b, map, srcs, keep, n) < 0)
		return -1;
	/* Rebuild: explicit pairs as they were (rank order), then merged ones
	 * kept (moved or copied, see merge_pair). */
	{
		struct cmp_node *old = cn_xcalloc(1, sizeof(*old));
		size_t byrank_n = n;
		_cleanup_free_ struct pair_ref *byrank = cn_xmalloc((n + 1) * sizeof(*byrank));
		for (size_t i = 0; i < n; i++)
			byrank[refs[i].rank] = refs[i];
		*old = *map;
		map->kids = NULL;
		map->n = map->cap = 0;
		map->size = 1;
		map->height = 1;
		for (size_t r = 0; r < byrank_n; r++) {
			if (!keep[r])
				continue;
			if (byrank[r].explicit_key)
				cmp_map_push(map, byrank[r].key, byrank[r].val);
			else
				merge_pair(map, &srcs[r]);
		}
		/* The old list: explicit pairs moved out; the rest (merge keys,
		 * their values) to the graveyard. */
		for (size_t i = 0; i < old->n; i++) {
			if (!is_merge_key(cmp_map_key(old, i)))
				continue;
			graveyard_add(b, cmp_map_key(old, i));
			graveyard_add(b, cmp_map_val(old, i));
		}
		free(old->kids);
		free(old);
	}
	return 0;
}

/* A finished node goes to its parent (or becomes the root). */
static int attach(struct builder *b, struct cmp_node *n)
{
	struct frame *f;
	if (b->depth == 0) {
		b->root = n;
		return 0;
	}
	f = &b->stack[b->depth - 1];
	if (f->node->kind == CMP_MAP) {
		if (f->raw % 2 == 0 && n->kind != CMP_SCALAR) {
			int r = cn_err_fail(b->err, CN_ERR_INVALID, "%s:%u:%u: a mapping key must be a string, "
					    "not %s", b->file, n->pos.line, n->pos.col, cmp_node_what(n));
			cmp_node_free(n);
			return r;
		}
		push_raw(f->node, f->raw++, n);
		if (f->raw % 2 == 0) {
			f->node->n++;
			f->node->size += f->node->kids[f->raw - 2]->size + n->size;
			if (n->height + 1 > f->node->height)
				f->node->height = n->height + 1;
		}
	} else {
		cmp_node_push(f->node, n);
		f->raw++;
	}
	return 0;
}

static void add_anchor(struct builder *b, char *name, struct cmp_node *n)
{
	n->flags |= F_ANCHORED;
	cn_xgrow((void **)&b->anchors, &b->anchors_cap, b->nanchors + 1, sizeof(*b->anchors));
	b->anchors[b->nanchors].name = name;
	b->anchors[b->nanchors].node = n;
	b->nanchors++;
}

static unsigned tag_flags(const yaml_char_t *tag)
{
	if (!tag)
		return 0;
	if (strcmp((const char *)tag, "!reset") == 0)
		return CMP_F_RESET;
	if (strcmp((const char *)tag, "!override") == 0)
		return CMP_F_OVERRIDE;
	if (strcmp((const char *)tag, YAML_STR_TAG) == 0)
		return CMP_F_QUOTED;
	return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *e)
{
	const char *v = (const char *)e->data.scalar.value;
	size_t len = e->data.scalar.length;
	struct cmp_node *n = cmp_node_new(CMP_SCALAR, mark_pos(b, e->start_mark));
	n->str = cn_xstrndup(v, len);
	n->len = len;
	n->flags = tag_flags(e->data.scalar.tag);
	if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		n->flags |= CMP_F_QUOTED;
	else if (!(n->flags & CMP_F_QUOTED) && (len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
						strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0))
		n->flags |= CMP_F_NULL;
	if (strlen(n->str) != len) {
		int r = fail_at(b, e->start_mark.line, e->start_mark.column, CN_ERR_INVALID,
				"a NUL character in a string");
		cmp_node_free(n);
		return r;
	}
	if (e->data.scalar.anchor)
		add_anchor(b, cn_xstrdup((const char *)e->data.scalar.anchor), n);
	return attach(b, n);
}

static int on_alias(struct builder *b, const yaml_event_t *e)
{
	const char *name = (const char *)e->data.alias.anchor;
	struct cmp_node *target = NULL, *copy;
	for (size_t i = b->nanchors; i-- > 0;)
		if (strcmp(b->anchors[i].name, name) == 0) {
			target = b->anchors[i].node;
			break;
		}
	if (!target)
		return fail_at(b, e->start_mark.line, e->start_mark.column, CN_ERR_INVALID,
			       "unknown anchor \"%s\" referenced (anchors are defined before use)", name);
	if (target->size > CMP_YAML_ALIAS_NODES - b->alias_nodes)
		return fail_at(b, e->start_mark.line, e->start_mark.column, CN_ERR_TOO_BIG,
			       "alias *%s would expand the document past %u nodes (a billion-laughs "
			       "document?): refused", name, CMP_YAML_ALIAS_NODES);
	if (b->depth + target->height > CMP_YAML_MAX_DEPTH)
		return fail_at(b, e->start_mark.line, e->start_mark.column, CN_ERR_TOO_BIG,
			       "alias *%s nests deeper than %u levels", name, CMP_YAML_MAX_DEPTH);
	b->alias_nodes += target->size;
	copy = cmp_node_copy(target);
	copy->flags &= ~F_ANCHORED;
	copy->pos = mark_pos(b, e->start_mark);
	return attach(b, copy);
}

static int on_start(struct builder *b, const yaml_event_t *e, enum cmp_kind kind)
{
	const yaml_char_t *anchor = kind == CMP_MAP ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
	const yaml_char_t *tag = kind == CMP_MAP ? e->data.mapping_start.tag : e->data.sequence_start.tag;
	struct cmp_node *n;
	if (b->depth >= CMP_YAML_MAX_DEPTH)
		return fail_at(b, e->start_mark.line, e->start_mark.column, CN_ERR_TOO_BIG,
			       "nested deeper than %u levels", CMP_YAML_MAX_DEPTH);
	n = cmp_node_new(kind, mark_pos(b, e->start_mark));
	n->flags = tag_flags(tag) & (CMP_F_RESET | CMP_F_OVERRIDE);
	cn_xgrow((void **)&b->stack, &b->cap, b->depth + 1, sizeof(*b->stack));
	b->stack[b->depth++] = (struct frame){ n, anchor ? cn_xstrdup((const char *)anchor) : NULL, 0 };
	return 0;
}

static int on_end(struct builder *b)
{
	struct frame f = b->stack[--b->depth];
	if (f.node->kind == CMP_MAP && finish_map(b, f.node) < 0) {
		free(f.anchor);
		cmp_node_free(f.node);
		return -1;
	}
	if (f.anchor)
		add_anchor(b, f.anchor, f.node);
	return attach(b, f.node);
}

/* Line and column (0-based, in characters) of byte OFF. */
static void offset_pos(const char *data, size_t len, size_t off, size_t *line, size_t *col)
{
	*line = *col = 0;
	for (size_t i = 0; i < off && i < len;) {
		uint32_t cp;
		size_t w = cn_utf8_decode(data + i, len - i, &cp);
		if (data[i] == '\n') {
			(*line)++;
			*col = 0;
		} else {
			(*col)++;
		}
		i += w ? w : 1;
	}
}

/* libyaml would name the offset only; the line and column are friendlier. */
static int check_utf8(struct builder *b, const char *data, size_t len)
{
	size_t i = 0;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len) {
		uint32_t cp;
		size_t w = cn_utf8_decode(data + i, len - i, &cp);
		if (cn_utf8_invalid(cp, w)) {
			size_t line, col;
			offset_pos(data, len, i, &line, &col);
			return fail_at(b, line, col, CN_ERR_INVALID, "invalid UTF-8 (byte 0x%02x): compose files "
				       "are UTF-8 text", (unsigned char)data[i]);
		}
		i += w;
	}
	return 0;
}

static int parser_error(struct builder *b, const yaml_parser_t *p, const char *data, size_t len)
{
	size_t line = p->problem_mark.line, col = p->problem_mark.column;
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_MEMORY_ERROR)
		cn_fatal("libyaml: out of memory");
	if (p->error == YAML_READER_ERROR)
		offset_pos(data, len, p->problem_offset, &line, &col);
	if (p->context)
		return fail_at(b, line, col, CN_ERR_INVALID, "%s %s (line %zu)", problem, p->context,
			       p->context_mark.line + 1);
	return fail_at(b, line, col, CN_ERR_INVALID, "%s", problem);
}

static int handle(struct builder *b, const yaml_event_t *e)
{
	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->docs > 1)
			return fail_at(b, e->start_mark.line, e->start_mark.column, CN_ERR_INVALID,
				       "a second YAML document: a compose file has one");
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, e);
	case YAML_ALIAS_EVENT:
		return on_alias(b, e);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, e, CMP_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, e, CMP_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(b);
	default:
		return 0;
	}
}

int cmp_yaml_parse(const char *file, const char *data, size_t len, struct cmp_node **root, cn_err *err)
{
	struct builder b = { .file = file, .err = err };
	yaml_parser_t parser;
	int rc = 0;
	bool done = false;

	*root = NULL;
	if (len > CMP_YAML_MAX_BYTES)
		return cn_err_fail(err, CN_ERR_TOO_BIG, "%s: %zu bytes, over the %u MiB limit for a compose file",
				   file, len, CMP_YAML_MAX_BYTES >> 20);
	if (check_utf8(&b, data, len) < 0)
		return -1;
	if (!yaml_parser_initialize(&parser))
		cn_fatal("libyaml: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done && rc == 0) {
		yaml_event_t e;
		if (!yaml_parser_parse(&parser, &e)) {
			rc = parser_error(&b, &parser, data, len);
			break;
		}
		done = e.type == YAML_STREAM_END_EVENT;
		rc = handle(&b, &e);
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&parser);
	while (b.depth > 0) {
		b.depth--;
		free(b.stack[b.depth].anchor);
		/* A key still waiting for its value is no pair yet. */
		if (b.stack[b.depth].node->kind == CMP_MAP && b.stack[b.depth].raw % 2)
			cmp_node_free(b.stack[b.depth].node->kids[b.stack[b.depth].raw - 1]);
		cmp_node_free(b.stack[b.depth].node);
	}
	free(b.stack);
	for (size_t i = 0; i < b.nanchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	cmp_node_free(b.graveyard);
	if (rc < 0) {
		cmp_node_free(b.root);
		return -1;
	}
	*root = b.root;
	return 0;
}
