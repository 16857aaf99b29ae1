/* The compose loader's parts, shared by the files of src/compose and their tests:
 * the YAML node tree (yaml.c), interpolation (interp.c), .env and
 * env_file parsing (envfile.c), the merge of several files (merge.c) and
 * the conversion helpers (model.c, service.c). */
#ifndef CMP_COMPOSE_INTERNAL_H
#define CMP_COMPOSE_INTERNAL_H

#include "compose/compose.h"
#include "util/buf.h"

/* ---- yaml.c: a YAML document as a tree, positions kept ---- */

enum cmp_kind { CMP_SCALAR, CMP_SEQ, CMP_MAP };

#define CMP_F_NULL     1u  /* a plain null: empty, ~, null */
#define CMP_F_QUOTED   2u  /* quoted or block scalar: a string whatever it says */
#define CMP_F_RESET    4u  /* tagged !reset (merge.c) */
#define CMP_F_OVERRIDE 8u  /* tagged !override (merge.c) */

struct cmp_node {
	enum cmp_kind kind;
	unsigned flags;
	char *str;                      /* scalars: the value, NUL-terminated */
	size_t len;
	struct cmp_node **kids;         /* seq: items; map: key, value, key, value... */
	size_t n;                       /* seq: items; map: pairs */
	size_t cap;
	size_t size;                    /* nodes in the subtree, itself included */
	unsigned height;                /* 1 for a scalar */
	struct cmp_pos pos;
};

/* Limits: the file's size, the nesting depth, and the nodes alias
 * expansion may add (a billion-laughs document stops there, before any
 * copy is made). */
#define CMP_YAML_MAX_BYTES   (32u << 20)
#define CMP_YAML_MAX_DEPTH   128u
#define CMP_YAML_ALIAS_NODES 200000u

/* Parse one document. FILE names the input in positions and messages and
 * must outlive the tree. An empty stream gives *ROOT = NULL. */
int cmp_yaml_parse(const char *file, const char *data, size_t len, struct cmp_node **root, cn_err *err);
void cmp_node_free(struct cmp_node *n);
struct cmp_node *cmp_node_copy(const struct cmp_node *n);
struct cmp_node *cmp_node_scalar(const char *s, struct cmp_pos pos);
struct cmp_node *cmp_node_new(enum cmp_kind kind, struct cmp_pos pos);
void cmp_node_push(struct cmp_node *seq, struct cmp_node *item);
void cmp_map_push(struct cmp_node *map, struct cmp_node *key, struct cmp_node *value);
/* Remove pair I of MAP (freed) or item I of a sequence. */
void cmp_node_remove(struct cmp_node *n, size_t i);

static inline struct cmp_node *cmp_map_key(const struct cmp_node *m, size_t i)
{
	return m->kids[2 * i];
}

static inline struct cmp_node *cmp_map_val(const struct cmp_node *m, size_t i)
{
	return m->kids[2 * i + 1];
}

/* The value for KEY in MAP (NULL when absent or MAP is no mapping);
 * cmp_map_index gives its pair index or -1. */
struct cmp_node *cmp_map_get(const struct cmp_node *map, const char *key);
long cmp_map_index(const struct cmp_node *map, const char *key);
/* MAP's pair indexes sorted by key, for lookups in big mappings
 * (cmp_map_find_sorted over the first N: the first pair with KEY, or -1). */
size_t *cmp_map_sort(const struct cmp_node *map);
long cmp_map_find_sorted(const struct cmp_node *map, const size_t *sorted, size_t n, const char *key);
/* "a mapping", "a list", "a string", "null": for wrong-type messages. */
const char *cmp_node_what(const struct cmp_node *n);
static inline bool cmp_is_null(const struct cmp_node *n)
{
	return !n || (n->kind == CMP_SCALAR && (n->flags & CMP_F_NULL));
}

/* ---- interp.c: ${VAR} in every scalar value (keys stay) ---- */

struct cmp_lookup {
	/* The value of NAME (LEN bytes), or NULL when unset. */
	const char *(*get)(void *ctx, const char *name, size_t len);
	void *ctx;
};

/* Interpolate S. WARN gets "the X variable is not set" lines (may be
 * NULL: none). Errors name no position; callers prefix it. */
int cmp_interp_str(const char *s, const struct cmp_lookup *lk, char **out, cn_strv *unset, cn_err *err);
/* Every scalar value under N; WARNINGS gets "file:line: ..." once each. */
int cmp_interp_tree(struct cmp_node *n, const struct cmp_lookup *lk, cn_strv *warnings, cn_err *err);
/* A lookup over a KEY=VALUE vector (linear: small ones). */
const char *cmp_env_lookup(void *env, const char *name, size_t len);
/* An interpolated value's limit. */
#define CMP_INTERP_MAX (1u << 20)

/* An index of ENV's keys, for environments of any size: a later entry
 * for a key wins. ENV must outlive it; cmp_envmap_add indexes entry I
 * pushed since. cmp_envmap_get is a cmp_lookup (an entry without = is
 * unset); cmp_envmap_find gives the entry's index or -1. */
struct cmp_envmap {
	const cn_strv *env;
	size_t *slots, cap, used;
};
void cmp_envmap_init(struct cmp_envmap *m, const cn_strv *env);
void cmp_envmap_add(struct cmp_envmap *m, size_t i);
long cmp_envmap_find(const struct cmp_envmap *m, const char *name, size_t len);
const char *cmp_envmap_get(void *map, const char *name, size_t len);
void cmp_envmap_free(struct cmp_envmap *m);

/* ---- envfile.c: .env and env_file: ---- */

/* Parse dotenv TEXT (NAME for messages), appending KEY=VALUE entries to
 * ENV (cmp_env_settle then lets later ones win). Unquoted and
 * double-quoted values interpolate against what the file set so far, then
 * LK (may be NULL). A bare KEY takes LK's value when it has one, else is
 * skipped. RAW: lines are KEY=VALUE as written. */
int cmp_envfile_parse(const char *name, const char *text, size_t len, bool raw,
		      const struct cmp_lookup *lk, cn_strv *env, cn_err *err);
int cmp_envfile_read(const char *path, bool raw, const struct cmp_lookup *lk, cn_strv *env, cn_err *err);

/* ENV's entries in order, later ones for a key replacing earlier ones
 * (at the first one's place), a bare KEY removing it: O(n log n), for
 * environments of any size. */
void cmp_env_settle(cn_strv *env);

/* A user's file read whole (symlinks followed, unlike cn_read_file_at:
 * these are the user's own files, often linked). */
int cmp_read_file(const char *path, size_t max, cn_buf *out, cn_err *err);

/* ---- merge.c: -f a -f b ---- */

/* Merge OVER into *BASE (the spec's rules; OVER is consumed). */
void cmp_merge(struct cmp_node **base, struct cmp_node *over);
/* Drop !reset values left after merging (or in a single file). */
void cmp_strip_reset(struct cmp_node *n);
/* Repeated ports, volumes (by target), secrets and configs in a service:
 * the last one, at the first one's place. */
void cmp_enforce_unicity(struct cmp_node *root);

/* ---- ports.c: the short port syntax (merge.c and service.c) ---- */

struct cmp_port {
	char ip[48];                    /* without brackets; "": any */
	unsigned host_lo, host_hi;      /* 0: none given */
	unsigned ctr_lo, ctr_hi;
	char proto[8];                  /* tcp when none given */
};

/* [IP:][HOST[-END]:]CONTAINER[-END][/PROTOCOL] as docker reads it; on
 * error, WHY says what is wrong. */
int cmp_port_parse(const char *s, struct cmp_port *p, const char **why);
/* N or N-M (LEN bytes at S), 1-65535. */
int cmp_port_range(const char *s, size_t len, unsigned *lo, unsigned *hi, const char **why);
bool cmp_ip_valid(const char *s);
/* "ip|host|container|proto": what the merge compares. */
char *cmp_port_key(const struct cmp_port *p);
/* A service's ports: (short and long forms) as -p strings. */
struct cmp_ctx;
int cmp_service_ports(struct cmp_ctx *c, const char *path, const struct cmp_node *n, cn_strv *out);

/* ---- model.c / service.c: the typed model ---- */

struct cmp_ctx {
	struct cmp_project *p;
	cn_strv *warnings;
	cn_err *err;
	const struct cmp_node *secrets;     /* top-level secrets: (build secrets) */
	const struct cmp_envmap *envmap;    /* an index of p->env, or NULL */
};

void cmp_warn(struct cmp_ctx *c, const struct cmp_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cmp_fail(struct cmp_ctx *c, const struct cmp_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cmp_type_error(struct cmp_ctx *c, const char *path, const struct cmp_node *at, const char *want);
/* A warning for each key of MAP that is not in KNOWN (NULL-terminated)
 * and no x- extension. */
void cmp_warn_unknown(struct cmp_ctx *c, const char *path, const struct cmp_node *map,
		      const char *const *known);

/* Typed getters: each refuses a wrong type naming PATH and the node. */
int cmp_get_str(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char **out);
int cmp_get_bool(struct cmp_ctx *c, const char *path, const struct cmp_node *n, bool *out);
int cmp_get_int(struct cmp_ctx *c, const char *path, const struct cmp_node *n, long long *out);
int cmp_get_duration(struct cmp_ctx *c, const char *path, const struct cmp_node *n, long long *ns);
int cmp_get_bytes(struct cmp_ctx *c, const char *path, const struct cmp_node *n, long long *out);
/* A list of strings (or one string when ONE_OK). */
int cmp_get_strv(struct cmp_ctx *c, const char *path, const struct cmp_node *n, bool one_ok, cn_strv *out);
/* A mapping or a list of "K<SEP>V" as KEY=VALUE (a null value: KEY alone
 * when BARE_OK, else KEY=). */
int cmp_get_kv(struct cmp_ctx *c, const char *path, const struct cmp_node *n, char sep, bool bare_ok,
	       cn_strv *out);
int cmp_expect(struct cmp_ctx *c, const char *path, const struct cmp_node *n, enum cmp_kind kind);

/* Parsers without a node (also for tests). */
int cmp_parse_duration(const char *s, long long *ns);
int cmp_parse_bytes(const char *s, long long *out);
/* DIGITS[.DIGITS] at the start of S (no sign, exponent or hex): its
 * length, 0 when there is none. */
size_t cmp_parse_decimal(const char *s, double *out);
/* Split a command string as compose does (shell words, quotes). */
int cmp_split_words(const char *s, cn_strv *out);
/* Project names: valid as given (-p, COMPOSE_PROJECT_NAME), and the
 * normalization of a YAML name or a directory's. */
bool cmp_project_name_valid(const char *s);
char *cmp_project_name_normalize(const char *s);
/* An absolute path: S resolved against DIR (~ is $HOME). */
char *cmp_abspath(const char *dir, const char *s, const cn_strv *env);

int cmp_service_convert(struct cmp_ctx *c, const char *name, const struct cmp_node *key,
			const struct cmp_node *n, struct cmp_service *s);
void cmp_service_free(struct cmp_service *s);

#endif
