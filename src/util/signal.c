#include "util/signal.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int sig;
} aliases[] = {
	{ "IO", SIGIO }, { "POLL", SIGPOLL }, { "IOT", SIGIOT }, { "CLD", SIGCHLD },
};

/* Decimal digits only (no sign, no spaces), at most 64: -1 otherwise. */
static long small_number(const char *s)
{
	long n = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > 64)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n > 64 ? -1 : n;
}

int cn_signal_parse(const char *s)
{
	long n;
	if (!s || !*s)
		return -1;
	if (*s >= '0' && *s <= '9') {
		n = small_number(s);
		return n < 1 || n >= NSIG ? -1 : (int)n;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	if (!strncasecmp(s, "RTMIN", 5) || !strncasecmp(s, "RTMAX", 5)) {
		bool min = !strncasecmp(s, "RTMIN", 5);
		n = 0;
		if (s[5]) {
			/* RTMIN counts up, RTMAX down. */
			if (s[5] != (min ? '+' : '-') || (n = small_number(s + 6)) < 0)
				return -1;
		}
		n = min ? SIGRTMIN + n : SIGRTMAX - n;
		return n < SIGRTMIN || n > SIGRTMAX ? -1 : (int)n;
	}
	/* Second names docker knows too; glibc's abbreviation table has one
	 * name a number (29 is POLL there, IO to the builder's old table). */
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcasecmp(aliases[i].name, s))
			return aliases[i].sig;
	/* glibc's names for the numbers below the real-time range. */
	for (int i = 1; i < SIGRTMIN; i++) {
		const char *abbrev = sigabbrev_np(i);
		if (abbrev && !strcasecmp(abbrev, s))
			return i;
	}
	return -1;
}

const char *cn_signal_name(int sig, char buf[CN_SIGNAL_NAME_SIZE])
{
	const char *abbrev;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		if (sig == SIGRTMIN)
			snprintf(buf, CN_SIGNAL_NAME_SIZE, "SIGRTMIN");
		else if (sig == SIGRTMAX)
			snprintf(buf, CN_SIGNAL_NAME_SIZE, "SIGRTMAX");
		else if (sig - SIGRTMIN <= SIGRTMAX - sig)
			snprintf(buf, CN_SIGNAL_NAME_SIZE, "SIGRTMIN+%d", sig - SIGRTMIN);
		else
			snprintf(buf, CN_SIGNAL_NAME_SIZE, "SIGRTMAX-%d", SIGRTMAX - sig);
		return buf;
	}
	abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;
	if (!abbrev)
		return NULL;
	snprintf(buf, CN_SIGNAL_NAME_SIZE, "SIG%s", abbrev);
	return buf;
}
