/* Named volumes (cairn run -v NAME:/path, --mount type=volume, cairn
 * volume), as docker's local driver keeps them: a directory
 * <store>/volumes/NAME/_data, created on first use or by volume create,
 * kept until removed (volume rm, volume prune -a, compose down -v). Labels
 * and the creation time are in <store>/volumes/NAME/cairn.json (absent for
 * a volume run -v made: no labels, the directory's time). A volume is in
 * use while a container references it, stopped ones too (docker's): the
 * container state records the names (ctr_state.volumes; a state from a
 * cairn without them references nothing). */
#ifndef CTR_VOLUME_H
#define CTR_VOLUME_H

#include <stdbool.h>

#include "store/store.h"
#include "util/err.h"
#include "util/strv.h"

/* docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
bool ctr_volume_name_ok(const char *name);
/* The volume's directory (heap string), created when missing. */
char *ctr_volume_path(struct store *st, const char *name, cn_err *err);

struct ctr_volume {
	char *name;
	char *mountpoint;               /* .../volumes/NAME/_data */
	long long created;              /* unix seconds */
	cn_strv labels;                 /* KEY=VALUE */
	char *meta_error;               /* its cairn.json could not be read (why):
	                                 * taken as no labels; NULL: fine */
};
void ctr_volume_free(struct ctr_volume *v);

/* volume create: NAME (valid) made with LABELS (KEY=VALUE; NULL: none).
 * An existing volume is left as it is (docker's): 1, else 0 made, -1. */
int ctr_volume_create(struct store *st, const char *name, const cn_strv *labels, cn_err *err);
/* NAME's record: 1 found, 0 no such volume, -1 error. */
int ctr_volume_get(struct store *st, const char *name, struct ctr_volume *v, cn_err *err);
/* Every volume, by name. */
int ctr_volume_list(struct store *st, struct ctr_volume **out, size_t *n, cn_err *err);
void ctr_volume_list_free(struct ctr_volume *list, size_t n);
/* Names of the containers (any status) that reference NAME. */
int ctr_volume_users(struct store *st, const char *name, cn_strv *users, cn_err *err);
/* Remove NAME and its data: CN_ERR_BUSY naming the containers while one
 * references it, CN_ERR_NOT_FOUND when there is none. Holds ctr_lock. */
int ctr_volume_remove(struct store *st, const char *name, cn_err *err);

#endif
