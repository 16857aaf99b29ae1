/* libcurl and libnftables (and libarchive, lazyarchive.c), loaded when first
 * used rather than at start-up.
 *
 * Linked normally, the two (and the ~30 libraries they pull in: GnuTLS,
 * Kerberos, LDAP, nghttp2, libnftnl, GMP...) were mapped and relocated by
 * every cairn command, about half of the start-up of `cairn images` or
 * `--help`. lazylib.c defines the functions of their APIs that cairn calls;
 * each loads its library (dlopen by soname, once per process) and forwards.
 * Callers use <curl/curl.h> and <nftables/libnftables.h> as usual.
 *
 * When a library cannot be loaded, the functions fail as the library
 * itself reports failures (NULL handles, CURLE_FAILED_INIT), and
 * curl_easy_strerror() / cn_lazylib_error() say why. Loading happens in
 * the calling process's mount namespace: call these only where the host's
 * libraries are visible (never after pivoting into a container's root). */
#ifndef CAIRN_UTIL_LAZYLIB_H
#define CAIRN_UTIL_LAZYLIB_H

#include <stdbool.h>
#include <stddef.h>

/* Why the last library failed to load ("" when none failed). */
const char *cn_lazylib_error(void);

/* For lazylib.c and lazyarchive.c: dlopen(SONAME) (NULL, the reason kept
 * for cn_lazylib_error), and one symbol of it into the function pointer at
 * FNP (false when missing). */
void *cn_lazylib_open(const char *soname);
bool cn_lazylib_sym(void *h, const char *name, void *fnp, size_t size);

#endif
