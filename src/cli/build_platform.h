/* build --platform: the platform list as the user gave it, checked before
 * any work (an invalid one is a usage error, never ignored). */
#ifndef CLI_BUILD_PLATFORM_H
#define CLI_BUILD_PLATFORM_H

/* ARG (NULL: not given) -> *OUT, the platform to build (NULL: the
 * host's). 0, or the exit status after printing the error for CMD. */
int cli_build_platform(const char *cmd, const char *arg, const char **out);

#endif
