#include "util/interrupt.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught;
static volatile sig_atomic_t count;

static void on_signal(int sig)
{
	caught = sig;
	if (count < 1000)
		count++;
}

void cn_interrupt_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

bool cn_interrupted(void)
{
	return caught != 0;
}

int cn_interrupt_signal(void)
{
	return caught;
}

int cn_interrupt_count(void)
{
	return count;
}
