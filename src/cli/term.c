#include "cli/term.h"

#include <unistd.h>

void cli_term_raw(struct cli_term *t)
{
	struct termios raw;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->old) < 0)
		return;
	raw = t->old;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
		t->saved = true;
}

void cli_term_restore(struct cli_term *t)
{
	if (t->saved)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &t->old);
	t->saved = false;
}
