/* Per-container cgroups with memory, pids and cpu limits, for cgroup v1
 * (one hierarchy per controller, as on hybrid systems) and v2 (unified).
 *
 * v1: the cgroup is made under the one cairn runs in, per controller
 * (CONTROLLER/<own path>/cairn/<id>), so a container stays inside whatever
 * limits its caller has. v2: /sys/fs/cgroup/cairn/<id> (the layout docker's
 * cgroupfs driver uses), since a v2 cgroup holding processes (cairn's own)
 * cannot give controllers to children; rootless v2: OWN/cairn/<id> in the
 * cgroup delegated to the user (see below). */
#ifndef SB_CGROUP_H
#define SB_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct sb_limits {
	unsigned long long memory;      /* bytes; 0: no limit (swap is limited to none) */
	unsigned long cpus_milli;       /* CPUs x 1000; 0: no limit */
	long long pids;                 /* max processes; 0: no limit */
};

static inline bool sb_limits_any(const struct sb_limits *l)
{
	return l && (l->memory || l->cpus_milli || l->pids);
}

/* docker's units: a number with an optional b, k, m or g (powers of 1024). */
int sb_parse_memory(const char *s, unsigned long long *bytes);
/* "1", "0.5", "2.25": up to three decimals. */
int sb_parse_cpus(const char *s, unsigned long *milli);

enum sb_cgroup_version { SB_CGROUP_V1 = 1, SB_CGROUP_V2 = 2 };

/* One file write a limit needs; v1 CONTROLLER names the hierarchy, v2 ignores it. */
struct sb_cgroup_setting {
	const char *controller;         /* memory, pids, cpu */
	const char *file;
	char value[48];
	bool optional;                  /* skipped when the file does not exist (memsw, swap.max) */
};
/* The writes LIMITS take, in order. Returns their number (at most MAX stored). */
size_t sb_cgroup_settings(enum sb_cgroup_version v, const struct sb_limits *limits,
			  struct sb_cgroup_setting *out, size_t max);
/* From /proc/self/cgroup TEXT: the path of CONTROLLER's hierarchy (v1), or of
 * the unified one ("0::") when CONTROLLER is NULL. Heap string or NULL. */
char *sb_cgroup_own_path(const char *text, const char *controller);
/* The "oom_kill N" count in memory.oom_control (v1) or memory.events (v2). */
long long sb_cgroup_parse_oom_kills(const char *text);

struct sb_cgroup {
	enum sb_cgroup_version version;
	char *dirs[5];                  /* v1: one per controller or hierarchy used;
	                                 * v2: dirs[0] */
	const char *controllers[5];     /* v1: the controller of dirs[i] */
	size_t ndirs;
	char *memory_dir;               /* where the OOM count is read (a dirs[] entry) */
};

enum sb_cgroup_version sb_cgroup_version(void);

/* ---- rootless (cgroup_user.c): a cgroup v2 delegated to the user ----
 * An ordinary user may only make cgroups below a cgroup v2 directory that
 * is delegated to it: systemd's Delegate=yes chowns the directory, its
 * cgroup.procs and cgroup.subtree_control to the user, and the controllers
 * the parent passes down are listed in its cgroup.controllers. cairn then
 * works below its own cgroup OWN (OWN/cairn/<id>, as the v1 layout does).
 * Decisions are pure functions of the texts read, for the unit tests. */

/* The directory of this process's cgroup v2: the "0::" path of
 * /proc/self/cgroup SELF below the cgroup2 mount in /proc/self/mountinfo
 * MOUNTINFO whose root holds it (/sys/fs/cgroup; /sys/fs/cgroup/unified on
 * hybrid hosts). Heap string, or NULL when there is none. */
char *sb_cgroup2_dir(const char *mountinfo, const char *self);
/* Whether MOUNTINFO mounts a cgroup v1 hierarchy with CONTROLLER: a
 * controller is in one hierarchy only, so v2 cannot have it then. */
bool sb_cgroup_v1_bound(const char *mountinfo, const char *controller);
/* Whether the cgroup2 mount at POINT in MOUNTINFO has nsdelegate, without
 * which a cgroup namespace's root may be written from inside it. */
bool sb_cgroup2_nsdelegate(const char *mountinfo, const char *point);
/* Whether LIST (cgroup.controllers, cgroup.subtree_control: names
 * separated by white space) names NAME. */
bool sb_cgroup_list_has(const char *list, const char *name);

/* How many pids cgroup.procs text PROCS lists that are neither SELF nor
 * among the NGONE pids in GONE (processes already in their exit); *ONE
 * gets one of them. */
int sb_cgroup_others(const char *procs, long self, const long *gone, size_t ngone, long *one);

/* What decides whether limits can work rootless. */
struct sb_cgroup_facts {
	const char *mountinfo;          /* /proc/self/mountinfo */
	const char *dir;                /* sb_cgroup2_dir's answer; NULL: none */
	const char *controllers;        /* DIR/cgroup.controllers; NULL: unreadable */
	bool dir_writable;              /* the user may create cgroups in DIR */
	bool procs_writable;            /* ...move processes (DIR/cgroup.procs) */
	bool subtree_writable;          /* ...enable controllers (DIR/cgroup.subtree_control) */
	unsigned uid;                   /* the user's uid on the host, for the hints */
};
/* 0 when LIMITS can work rootless with F, else -1 and ERR saying why and
 * what would make it work. */
int sb_cgroup_user_verdict(const struct sb_cgroup_facts *f, const struct sb_limits *limits,
			   cn_err *err);
/* The verdict on this host for the user UID (from inside or outside its user
 * namespace: the kernel's access checks, not owners, decide); on success
 * *DIR (may be NULL) gets the delegated directory, a heap string. */
int sb_cgroup_user_check(const struct sb_limits *limits, unsigned uid, char **dir, cn_err *err);

/* 0 when this process may create cgroups for LIMITS: always as root;
 * rootless when sb_cgroup_user_check agrees, else -1 and ERR. */
int sb_cgroup_usable(const struct sb_limits *limits, cn_err *err);
/* Called once by the command before it forks anything, when limits are
 * asked for: sb_cgroup_usable, and rootless, the set-up that a cgroup v2
 * needs before children can get controllers (see cgroup_user.c); undone
 * at exit by the last process of cairn's own. */
int sb_cgroup_prepare(const struct sb_limits *limits, cn_err *err);
/* Rootless cairn exec: ERR, from sb_cgroup_enter refusing to move the
 * process into the container's cgroup (EACCES, EPERM), made to say why
 * and what to do: cgroup v2 moves a process only for who may write the
 * common ancestor of both cgroups, which an exec run from another
 * delegated cgroup than the container's cairn run is not. Any other error
 * is left as it is. Never skips the cgroup: exec fails. */
void sb_cgroup_user_exec_denied(cn_err *err);
/* Rootless: the delegated directory prepared above, else NULL. */
const char *sb_cgroup_user_base(void);
/* Undo that set-up if this process is the last of cairn's in its leaf
 * (else a later one will). atexit runs it; call it before _exit. */
void sb_cgroup_release(void);

/* Create the cgroup named ID with LIMITS applied. */
int sb_cgroup_create(const struct sb_limits *limits, const char *id, struct sb_cgroup *cg,
		     cn_err *err);
/* cairn run --systemd: add to CG (made by sb_cgroup_create, or zeroed) the
 * cgroups an init system in the container writes to, named ID. v1: in the
 * name=systemd hierarchy and, on a hybrid host, the unified one (below
 * cairn's own, as the limits' are); v2: the container's own cgroup (made
 * here when no limits made one). Root only. */
int sb_cgroup_add_init(struct sb_cgroup *cg, const char *id, cn_err *err);
/* Move PID (and the children it makes later) into the cgroup. */
int sb_cgroup_enter(const struct sb_cgroup *cg, pid_t pid, cn_err *err);
/* cairn exec: move PID into the container's cgroup CG, as sb_cgroup_enter;
 * where a cgroup v2 one refuses (EBUSY: an init system in it enabled
 * controllers for its children, so it may hold no process), into the
 * cgroup of the container's pid 1, INIT_PID, when that is below it. */
int sb_cgroup_join(const struct sb_cgroup *cg, pid_t pid, pid_t init_pid, cn_err *err);
/* That fallback's directory: the cgroup v2 dir of /proc/PID/cgroup text
 * INIT_CGROUP, per MOUNTINFO (as sb_cgroup2_dir), when it is strictly
 * below DIR. Heap string or NULL. */
char *sb_cgroup_exec_leaf(const char *dir, const char *mountinfo, const char *init_cgroup);
/* Whether the kernel's OOM killer killed a process in it. */
bool sb_cgroup_oom_killed(const struct sb_cgroup *cg);
/* Kill what is left in it, remove it with the cgroups made below it (an
 * init system's), and cairn/ when empty. Safe to call twice. */
void sb_cgroup_destroy(struct sb_cgroup *cg);

#endif
