/* Go durations, as docker reads HEALTHCHECK and --health-* values: Go's
 * time.ParseDuration grammar, read by hand (strtod would take " 5s",
 * "1e3s", "0x10s", "nan"). */
#include "util/duration.h"
#include "util/cleanup.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#define LIMIT ((unsigned long long)LLONG_MAX)

int cn_duration_parse(const char *s, long long *out)
{
	static const struct { const char *unit; unsigned long long ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 },
		{ "ms", 1000000 }, { "s", 1000000000ULL }, { "m", 60000000000ULL }, { "h", 3600000000000ULL },
	};
	unsigned long long total = 0;
	bool neg = false;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	/* Go's: "0" alone needs no unit. */
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		unsigned long long v = 0, frac = 0, scale = 1, unit = 0;
		bool digits = false;
		size_t ulen;
		for (; *s >= '0' && *s <= '9'; s++, digits = true) {
			unsigned d = (unsigned)(*s - '0');
			if (v > (LIMIT - d) / 10)
				return -1;
			v = v * 10 + d;
		}
		if (*s == '.')
			for (s++; *s >= '0' && *s <= '9'; s++, digits = true)
				if (scale < 1000000000000000000ULL) {   /* finer digits: dropped (Go's) */
					frac = frac * 10 + (unsigned)(*s - '0');
					scale *= 10;
				}
		if (!digits)
			return -1;
		/* The unit: up to the next digit or '.', one of Go's exactly. */
		ulen = strcspn(s, ".0123456789");
		for (size_t i = 0; i < CN_ARRAY_SIZE(units); i++)
			if (strlen(units[i].unit) == ulen && !strncmp(s, units[i].unit, ulen))
				unit = units[i].ns;
		if (!unit)
			return -1;
		s += ulen;
		if (v > LIMIT / unit)
			return -1;
		v *= unit;
		/* frac < scale <= 1e18 and unit <= 3.6e12: finite, below unit. */
		if (frac)
			v += (unsigned long long)((double)frac * ((double)unit / (double)scale));
		if (v > LIMIT - total)
			return -1;
		total += v;
	}
	if (neg && total)
		return -1;      /* no negative durations here: the callers' are intervals */
	*out = (long long)total;
	return 0;
}
