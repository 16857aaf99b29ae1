/* Named networks (cairn network create): kept in the store as
 * networks/NAME.json in the shape `docker network inspect` prints (less
 * Containers, which are the live leases). The bridge ("cn-" and 8 hex
 * digits of the id) and its nft chains are made on first use by
 * net_prepare and removed with the network. */
#ifndef NET_NETDEF_H
#define NET_NETDEF_H

#include <stdbool.h>

#include <jansson.h>

#include "net/net.h"
#include "util/err.h"
#include "util/strv.h"

#define NET_DEF_POOL "10.89.0.0/16"     /* /24s taken in order (podman's pool) */

struct net_def {
	char *name;
	char id[65];
	char *created;                  /* RFC 3339 */
	char *file;                     /* ROOT/networks/NAME.json (conf.def_file) */
	struct net_conf conf;           /* named, internal */
	json_t *labels;                 /* object of strings */
};

/* docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, and not one of the
 * built-in modes (default, bridge, host, none, private). */
bool net_def_name_ok(const char *name);

/* Create NAME under the store ROOT: SUBNET ("A.B.C.D/N"; NULL: the first
 * /24 of NET_DEF_POOL that overlaps no network and no route of the host),
 * LABELS "K=V" (or "K": empty value). CREATED (RFC 3339) is the caller's.
 * An existing name is CN_ERR_CONFLICT. */
int net_def_create(const char *root, const char *name, const char *subnet, bool internal,
		   const cn_strv *labels, const char *created, struct net_def *out, cn_err *err);
/* The definition TEXT (LEN bytes) of the network NAME (its file's stem),
 * checked as net_def_list says; CN_ERR_CORRUPT when it is damaged. */
int net_def_parse(const char *text, size_t len, const char *name, struct net_def *d, cn_err *err);
/* By name, full id or unique id prefix: 1 found, 0 not, -1 error. */
int net_def_load(const char *root, const char *what, struct net_def *d, cn_err *err);
/* Every network, by name. A damaged file (not JSON, an Id that is not 64
 * hex digits, a bridge that is not "cn-" and the id's first 8, a Name that
 * is not valid or not the file's stem, a label that is not a string) is
 * skipped with a line on WARNINGS (may be NULL) for the caller to show. */
int net_def_list(const char *root, struct net_def **out, size_t *n, cn_strv *warnings, cn_err *err);
/* Remove networks/NAME.json when it is damaged (nothing of it is trusted:
 * no bridge, chain or lease directory is touched): 1 removed, 0 no such
 * damaged file, -1 error. */
int net_def_forget_damaged(const char *root, const char *name, cn_err *err);
void net_def_list_free(struct net_def *list, size_t n);
/* Tear the network down (net_teardown) and forget it. Refused, naming
 * them, while containers are on it (CN_ERR_BUSY). */
int net_def_remove(const char *root, const struct net_def *d, cn_err *err);
void net_def_free(struct net_def *d);

/* docker network inspect's object for D, with the live members. */
json_t *net_def_json(const struct net_def *d);
/* Whether D has label FILTER ("K" or "K=V"). */
bool net_def_has_label(const struct net_def *d, const char *filter);

#endif
