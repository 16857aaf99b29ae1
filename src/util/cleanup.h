/* Scope-bound cleanup helpers (GCC/Clang cleanup attribute). */
#ifndef CN_CLEANUP_H
#define CN_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void cn_freep(void *p)
{
	free(*(void **)p);
}

static inline void cn_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cn_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cn_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_ _cleanup_(cn_freep)
#define _cleanup_close_ _cleanup_(cn_closep)
#define _cleanup_fclose_ _cleanup_(cn_fclosep)
#define _cleanup_closedir_ _cleanup_(cn_closedirp)

/* Hand ownership to the caller: the variable no longer frees it. */
#define CN_TAKE_PTR(p) ({ __typeof__(p) cn_tmp_ = (p); (p) = NULL; cn_tmp_; })
#define CN_TAKE_FD(fd) ({ int cn_tmp_ = (fd); (fd) = -1; cn_tmp_; })

#define CN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
