/* cn_signal_parse and cn_signal_name: docker's spellings, the real-time
 * range, and what must not parse. */
#include "util/signal.h"
#include "unit.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

static void test_parse(void)
{
	static const struct {
		const char *in;
		int want;
	} ok[] = {
		{ "SIGTERM", SIGTERM }, { "TERM", SIGTERM }, { "term", SIGTERM }, { "SigKill", SIGKILL },
		{ "15", SIGTERM }, { "9", SIGKILL }, { "1", SIGHUP }, { "64", 64 },
		{ "SIGHUP", SIGHUP }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "SIGWINCH", SIGWINCH },
		{ "STKFLT", SIGSTKFLT }, { "PWR", SIGPWR }, { "SYS", SIGSYS }, { "CHLD", SIGCHLD },
		/* both names of 29 (the builder knew IO, cairn run POLL) and docker's
		 * other aliases */
		{ "IO", SIGIO }, { "SIGPOLL", SIGIO }, { "SIGIOT", SIGABRT }, { "CLD", SIGCHLD },
		{ "ABRT", SIGABRT },
	};
	static const char *const bad[] = {
		"", "0", "65", "-1", "+15", " 15", "15 ", "15x", "99999999999999999999",
		"SIG", "TERMX", "SIGTERM2", "NOPE", "RTMIN+", "RTMIN-1", "RTMAX+1", "RTMINx",
		"RTMIN+-3", "RTMIN+ 3", "RTMIN+31", "RTMAX-31", "SIGSIGTERM", "SIGRTMIN+1x",
	};
	char rt[32];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		UNIT_CHECK(cn_signal_parse(ok[i].in) == ok[i].want, "'%s' is %d (got %d)", ok[i].in,
			   ok[i].want, cn_signal_parse(ok[i].in));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_CHECK(cn_signal_parse(bad[i]) == -1, "'%s' is no signal (got %d)", bad[i],
			   cn_signal_parse(bad[i]));
	UNIT_CHECK(cn_signal_parse(NULL) == -1, "NULL is no signal");
	UNIT_CHECK(cn_signal_parse("SIGRTMIN") == SIGRTMIN && cn_signal_parse("rtmin") == SIGRTMIN,
		   "RTMIN");
	UNIT_CHECK(cn_signal_parse("SIGRTMIN+3") == SIGRTMIN + 3, "SIGRTMIN+3");
	UNIT_CHECK(cn_signal_parse("RTMAX") == SIGRTMAX && cn_signal_parse("SIGRTMAX-2") == SIGRTMAX - 2,
		   "RTMAX and RTMAX-2");
	snprintf(rt, sizeof(rt), "RTMIN+%d", SIGRTMAX - SIGRTMIN);
	UNIT_CHECK(cn_signal_parse(rt) == SIGRTMAX, "%s is the last real-time signal", rt);
	snprintf(rt, sizeof(rt), "RTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
	UNIT_CHECK(cn_signal_parse(rt) == -1, "%s is past the range", rt);
}

static void test_name(void)
{
	char buf[CN_SIGNAL_NAME_SIZE];
	bool round_trip = true;
	UNIT_STREQ(cn_signal_name(SIGTERM, buf), "SIGTERM", "15 is SIGTERM");
	UNIT_STREQ(cn_signal_name(SIGKILL, buf), "SIGKILL", "9 is SIGKILL");
	UNIT_STREQ(cn_signal_name(SIGRTMIN, buf), "SIGRTMIN", "SIGRTMIN");
	UNIT_STREQ(cn_signal_name(SIGRTMIN + 3, buf), "SIGRTMIN+3", "SIGRTMIN+3");
	UNIT_STREQ(cn_signal_name(SIGRTMAX - 1, buf), "SIGRTMAX-1", "SIGRTMAX-1, from the nearer end");
	UNIT_STREQ(cn_signal_name(SIGRTMAX, buf), "SIGRTMAX", "SIGRTMAX");
	UNIT_CHECK(cn_signal_name(0, buf) == NULL && cn_signal_name(-1, buf) == NULL &&
		   cn_signal_name(SIGRTMAX + 1, buf) == NULL, "0, -1 and past SIGRTMAX have no name");
	for (int s = 1; s <= SIGRTMAX; s++) {
		const char *n = cn_signal_name(s, buf);
		if (n && cn_signal_parse(n) != s) {
			printf("# %d -> %s -> %d\n", s, n, cn_signal_parse(n));
			round_trip = false;
		}
	}
	UNIT_CHECK(round_trip, "every name parses back to its number");
}

int main(void)
{
	test_parse();
	test_name();
	return UNIT_DONE();
}
