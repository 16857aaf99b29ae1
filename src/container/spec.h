/* What a container's process is, from its image's config and the caller's
 * overrides, by docker's rules: Entrypoint then the arguments given or Cmd;
 * the image's Env then the overrides; WorkingDir, User and StopSignal
 * unless overridden. Pure: no store, no processes, so it is unit-tested. */
#ifndef CTR_SPEC_H
#define CTR_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "util/err.h"
#include "util/strv.h"

struct ctr_overrides {
	char *const *args;      /* replace Cmd when NARGS > 0 (Entrypoint stays) */
	size_t nargs;
	const cn_strv *env;     /* KEY=VALUE, set in order over the image's Env */
	const char *workdir;    /* NULL: the image's WorkingDir */
	const char *user;       /* NULL: the image's User */
	const char *entrypoint; /* --entrypoint: replaces the image's Entrypoint, and
	                         * its Cmd too (docker's rule); "" clears the
	                         * Entrypoint only; NULL: the image's */
};

struct ctr_spec {
	cn_strv argv;
	cn_strv env;
	const char *cwd;        /* never NULL: "/" when neither names one */
	const char *user;       /* NULL: root. Points into the config or overrides */
	int stop_signal;        /* StopSignal's number; SB_STOP_FORWARD when unset */
};

/* cairn run --systemd, as podman defines it. */
enum ctr_systemd {
	CTR_SYSTEMD_TRUE,       /* when the command is systemd or an init (the default) */
	CTR_SYSTEMD_FALSE,      /* never */
	CTR_SYSTEMD_ALWAYS,     /* whatever the command */
};

/* SIGRTMIN+3, systemd's "halt", as glibc (and docker's table) number it;
 * not computed from this libc's SIGRTMIN, which musl puts elsewhere. */
#define CTR_SYSTEMD_STOP_SIGNAL 37

/* Whether MODE runs ARGV as an init system: always, or with true when
 * argv[0] is /sbin/init, /usr/sbin/init, /usr/local/sbin/init or any path
 * whose last component is systemd (podman's list). */
bool ctr_systemd_wanted(enum ctr_systemd mode, const cn_strv *argv);
/* An init system's spec: container=cairn and container_uuid=MACHINE_ID in
 * its environment unless they are set; SIGRTMIN+3 as its stop signal
 * unless the image names one. */
void ctr_spec_systemd(struct ctr_spec *s, const char *machine_id);

/* IMAGE_CONFIG is the whole image config document; REF names the image in
 * messages. An image without a command and a StopSignal that names no
 * signal are errors. S borrows from IMAGE_CONFIG and O: keep them alive. */
int ctr_spec_from_image(const json_t *image_config, const char *ref, const struct ctr_overrides *o,
			struct ctr_spec *s, cn_err *err);
void ctr_spec_free(struct ctr_spec *s);

#endif
