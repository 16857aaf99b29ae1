/* Go durations, as docker reads HEALTHCHECK and --health-* values. */
#include "util/duration.h"
#include "util/cleanup.h"

#include <stdlib.h>
#include <string.h>

int cn_duration_parse(const char *s, long long *out)
{
	static const struct { const char *unit; double ns; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
		{ "m", 60e9 }, { "h", 3600e9 },
	};
	double total = 0;
	if (!*s)
		return -1;
	if (!strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		size_t best = 0, best_len = 0;
		if (end == s || v < 0 || *s == '-' || *s == '+')
			return -1;
		for (size_t i = 0; i < CN_ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].unit);
			if (!strncmp(end, units[i].unit, l) && l > best_len) {
				best = i;
				best_len = l;
			}
		}
		if (!best_len)
			return -1;
		total += v * units[best].ns;
		s = end + best_len;
	}
	if (total > 9.2e18)
		return -1;
	*out = (long long)total;
	return 0;
}
