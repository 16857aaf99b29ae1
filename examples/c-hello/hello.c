/* A static C program for the c-hello example: built in a Debian stage,
 * run in a busybox image that has no compiler and no C library. */
#include <stdio.h>
#include <sys/utsname.h>

int main(void)
{
	struct utsname u;

	if (uname(&u) != 0) {
		perror("uname");
		return 1;
	}
	printf("hello from a static C binary (built with gcc %d.%d, running on %s %s)\n",
	       __GNUC__, __GNUC_MINOR__, u.sysname, u.machine);
	return 0;
}
