/* The tables behind sandbox/defaults.h. */
#include "sandbox/defaults.h"
#include "util/cleanup.h"

#include <linux/capability.h>

/* Number and name from one token, so they cannot disagree. */
#define CAP(x) { CAP_##x, "CAP_" #x }

const struct sb_cap sb_default_caps[] = {
	CAP(CHOWN), CAP(DAC_OVERRIDE), CAP(FSETID), CAP(FOWNER), CAP(MKNOD),
	CAP(NET_RAW), CAP(SETGID), CAP(SETUID), CAP(SETFCAP), CAP(SETPCAP),
	CAP(NET_BIND_SERVICE), CAP(SYS_CHROOT), CAP(KILL), CAP(AUDIT_WRITE),
};
const size_t sb_default_ncaps = CN_ARRAY_SIZE(sb_default_caps);

uint64_t sb_default_caps_mask(void)
{
	uint64_t mask = 0;
	for (size_t i = 0; i < sb_default_ncaps; i++)
		mask |= 1ULL << sb_default_caps[i].num;
	return mask;
}

const char *const sb_masked_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};
const size_t sb_nmasked_paths = CN_ARRAY_SIZE(sb_masked_paths);

const char *const sb_readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
const size_t sb_nreadonly_paths = CN_ARRAY_SIZE(sb_readonly_paths);
