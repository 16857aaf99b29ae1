/* Go durations ("30s", "1m30s", "1.5s", "500ms", "0"): HEALTHCHECK's
 * options in a Buildfile and cairn run's --health-* flags. */
#ifndef CN_DURATION_H
#define CN_DURATION_H

/* S in nanoseconds into *OUT: 0, or -1 when S is not one in Go's syntax
 * ([+-]?, then ([0-9]+(.[0-9]*)?|.[0-9]+) and a unit ns, us, µs, ms, s, m,
 * h, repeated; "0" alone), is negative or past ~292 years. */
int cn_duration_parse(const char *s, long long *out);

#endif
