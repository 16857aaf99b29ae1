/* Ctrl-C and SIGTERM: the CLI installs handlers that only record the signal;
 * long-running library code (RUN steps) polls cn_interrupted() and unwinds
 * through its normal error and cleanup paths. */
#ifndef CN_INTERRUPT_H
#define CN_INTERRUPT_H

#include <stdbool.h>

/* Installs handlers for SIGINT, SIGTERM and SIGHUP without SA_RESTART, so
 * blocking waits return EINTR and can check the flag. */
void cn_interrupt_install(void);
bool cn_interrupted(void);
/* The signal that arrived, 0 if none. */
int cn_interrupt_signal(void);
/* How many such signals arrived (a second Ctrl-C means "now"). */
int cn_interrupt_count(void);

#endif
