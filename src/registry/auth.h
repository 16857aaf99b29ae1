/* Registry credentials, in the files people already have, read in the
 * order podman reads them: the containers auth file ($REGISTRY_AUTH_FILE,
 * else $XDG_RUNTIME_DIR/containers/auth.json, else for root
 * /run/containers/0/auth.json and for other users /run/user/UID/... when
 * that dir is theirs, else ~/.config/containers/auth.json), then
 * $XDG_CONFIG_HOME/containers/auth.json (~/.config/...), then docker's
 * ~/.docker/config.json (its "auths"; credential helpers are not run). All
 * hold {"auths": {"REGISTRY": {"auth": base64("user:pass")}}}; a file that
 * does not exist is skipped. */
#ifndef REG_AUTH_H
#define REG_AUTH_H

#include <stdbool.h>

#include "util/err.h"

struct reg_creds {
	char *user;
	char *pass;
};

/* "USER:PASS" (the password may contain ':'). */
int reg_creds_parse(const char *s, struct reg_creds *out, cn_err *err);
void reg_creds_free(struct reg_creds *c);

/* The file login writes (heap string). */
char *reg_auth_file_path(void);
/* Credentials for DOMAIN ("localhost:5000", "docker.io"): 1 found, 0 none,
 * -1 when a file is unreadable or malformed (the error names it). */
int reg_auth_lookup(const char *domain, struct reg_creds *out, cn_err *err);
/* Record credentials for DOMAIN in the auth file (mode 0600). */
int reg_auth_save(const char *domain, const struct reg_creds *c, cn_err *err);
/* Forget DOMAIN (every registry when ALL); 1 removed, 0 there was nothing. */
int reg_auth_remove(const char *domain, bool all, cn_err *err);

#endif
