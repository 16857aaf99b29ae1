/* Lexical slash-separated paths, as Go's package path handles them: no file
 * system access, so a result says nothing about symlinks on the way. */
#ifndef CN_PATH_H
#define CN_PATH_H

#include <stddef.h>

#include "util/strv.h"

/* Go's path.Clean of the N bytes at PATH: one '/' between elements, no "."
 * elements, ".." removed with the element before it (kept at the start of
 * a relative path, dropped after the root of an absolute one), no trailing
 * '/' but for "/" itself; "." when nothing is left. Returns a new string. */
char *cn_path_clean_n(const char *path, size_t n);
char *cn_path_clean(const char *path);

/* PATH as a clean path relative to a root (a context, a layer): leading
 * '/'s dropped, then cleaned; "." for the root itself. NULL when a ".."
 * would climb above the root (on the way or at the end). */
char *cn_path_clean_rel(const char *path);

/* NAME below the directory DIR: "DIR/NAME", or NAME alone when DIR is ""
 * or "." (the walks' root). Nothing is cleaned. Returns a new string. */
char *cn_path_join(const char *dir, const char *name);

/* The elements of PATH appended to OUT: empty ones and "." left out,
 * ".." kept (for openat2, which applies it physically). */
void cn_path_split(const char *path, cn_strv *out);

/* ELEMS[0..N) joined with '/'; "." when N is 0. Returns a new string. */
char *cn_path_join_all(char *const *elems, size_t n);

#endif
