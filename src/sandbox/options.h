/* docker's run flags for a process's privileges and limits, parsed into
 * what the sandbox applies: capability names (--cap-add, --cap-drop),
 * resource limits (--ulimit). Pure parsing plus one look at this process's
 * own bounding set, so they are unit-tested and shared by run and build. */
#ifndef SB_OPTIONS_H
#define SB_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "util/err.h"
#include "util/strv.h"

#define SB_CAP_ALL 64           /* "ALL" in --cap-add / --cap-drop */

/* NAME with or without "CAP_", any case: its number, SB_CAP_ALL, or -1. */
int sb_cap_parse(const char *name);
/* "CAP_CHOWN" for 0; NULL when unknown. */
const char *sb_cap_name(int cap);
/* Every capability this kernel knows and this process's bounding set holds. */
uint64_t sb_caps_available(void);
/* docker's rule: ALL added: every capability minus the drops; ALL dropped:
 * the adds alone; else the defaults minus the drops plus the adds (an add
 * wins). An added capability this process does not hold is an error that
 * says so; ALL gives what it holds. */
int sb_caps_compute(const cn_strv *add, const cn_strv *drop, uint64_t *caps, cn_err *err);

/* "nofile=SOFT[:HARD]" (HARD defaults to SOFT; -1 or "unlimited": none). */
int sb_ulimit_parse(const char *s, struct sb_rlimit *out, cn_err *err);
/* This process's own limits, every one --ulimit names (base: true), into
 * OUT (SB_RLIMITS_MAX of them); returns how many. */
#define SB_RLIMITS_MAX 16
size_t sb_rlimits_own(struct sb_rlimit *out);

#endif
