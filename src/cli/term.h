/* The user's terminal in raw mode while a -it container (cairn run, cairn
 * exec) owns it: keys, Ctrl-C included, go to the container's pty. */
#ifndef CLI_TERM_H
#define CLI_TERM_H

#include <stdbool.h>
#include <termios.h>

struct cli_term {
	bool saved;
	struct termios old;
};

/* Raw mode on stdin when it is a terminal (else nothing). */
void cli_term_raw(struct cli_term *t);
/* Back to what it was. Safe to call twice. */
void cli_term_restore(struct cli_term *t);

#endif
