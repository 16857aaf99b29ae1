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

#include "util/err.h"

enum cn_lazy_lib { CN_LAZY_CURL, CN_LAZY_NFT, CN_LAZY_ARCHIVE, CN_LAZY_N };

/* Why LIB failed to load ("" when it loaded or was not tried). A copy
 * taken under the lock, valid in the calling thread until its next call. */
const char *cn_lazylib_error(enum cn_lazy_lib lib);

/* Load libarchive now (lazyarchive.c), -1 with why when it cannot be: for
 * code about to clone a child that must not run the dynamic loader (a raw
 * clone's child shares no lock state it could trust). Weak, so binaries
 * that link libarchive directly (unit tests, fuzzers) need no stub. */
int cn_lazyarchive_load(cn_err *err) __attribute__((weak));

/* For lazylib.c and lazyarchive.c: dlopen(SONAME) (NULL, the reason kept
 * for cn_lazylib_error(LIB)), and one symbol of it into the function
 * pointer at FNP (false when missing). */
void *cn_lazylib_open(enum cn_lazy_lib lib, const char *soname);
bool cn_lazylib_sym(enum cn_lazy_lib lib, void *h, const char *name, void *fnp, size_t size);
/* The error of LIB itself, for its own loader's code once loading ended. */
const char *cn_lazylib_error_raw(enum cn_lazy_lib lib);

#endif
