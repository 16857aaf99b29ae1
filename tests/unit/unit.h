/* Minimal unit-test harness: each check prints a TAP-style line that
 * tests/run.sh counts ("ok - ...", "not ok - ...", "ok - ... # SKIP ..."). */
#ifndef CN_UNIT_H
#define CN_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;

#define UNIT_CHECK(cond, ...) do {                                        \
	if (cond) {                                                       \
		printf("ok - ");                                          \
	} else {                                                          \
		printf("not ok - %s:%d: ", __FILE__, __LINE__);           \
		unit_failures++;                                          \
	}                                                                 \
	printf(__VA_ARGS__);                                              \
	printf("\n");                                                     \
	fflush(stdout);                                                   \
} while (0)

#define UNIT_STREQ(got, want, ...) do {                                   \
	const char *unit_g_ = (got), *unit_w_ = (want);                   \
	int unit_ok_ = unit_g_ && unit_w_ && strcmp(unit_g_, unit_w_) == 0; \
	UNIT_CHECK(unit_ok_, __VA_ARGS__);                                \
	if (!unit_ok_)                                                    \
		printf("#   got:  %s\n#   want: %s\n", unit_g_ ? unit_g_ : "(null)", \
		       unit_w_ ? unit_w_ : "(null)");                     \
} while (0)

#define UNIT_SKIP(reason, ...) do {                                       \
	printf("ok - ");                                                  \
	printf(__VA_ARGS__);                                              \
	printf(" # SKIP %s\n", reason);                                   \
} while (0)

#define UNIT_DONE() (unit_failures ? 1 : 0)

#endif
