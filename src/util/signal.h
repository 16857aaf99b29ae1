/* Signal names as docker spells them (STOPSIGNAL, an image's StopSignal):
 * one parser for the builder and for cairn run, so a Buildfile's signal is
 * accepted exactly when the container can be stopped with it. */
#ifndef CN_SIGNAL_H
#define CN_SIGNAL_H

#include <stddef.h>

/* "SIGRTMIN+15" and its NUL fit. */
#define CN_SIGNAL_NAME_SIZE 16

/* "SIGTERM", "TERM", "term", "15", "SIGRTMIN+3", "RTMAX-1": the signal's
 * number, or -1 when S names none. Numbers are 1 to NSIG - 1; names are
 * glibc's abbreviations and docker's aliases (IO, POLL, IOT, CLD), with or
 * without "SIG", in any case; the real-time ones are RTMIN[+N] and
 * RTMAX[-N] within the range. */
int cn_signal_parse(const char *s);

/* SIG's name with "SIG" ("SIGTERM", "SIGRTMIN+3", "SIGRTMAX-2", real-time
 * ones counted from the nearer end as docker does) in BUF; NULL when SIG is
 * no signal. cn_signal_parse(name) gives SIG back. */
const char *cn_signal_name(int sig, char buf[CN_SIGNAL_NAME_SIZE]);

#endif
