/* libcurl and libnftables loaded on first use (see lazylib.h). These
 * definitions take the libraries' own names, so callers are unchanged; the
 * prototypes come from the libraries' headers, so a mismatch does not
 * compile. */
#define CURL_DISABLE_TYPECHECK  /* curl.h's setopt macros would wrap ours */
#include "util/lazylib.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Sonames of the ABI cairn is built against (curl 7/8: 4; nftables: 1). */
#define CURL_SONAME "libcurl.so.4"
#define NFT_SONAME "libnftables.so.1"

/* One reason per library: a libcurl failure is no reason for nftables'. */
static char load_error[CN_LAZY_N][256];
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

const char *cn_lazylib_error(enum cn_lazy_lib lib)
{
	static _Thread_local char copy[sizeof(load_error[0])];
	pthread_mutex_lock(&error_lock);
	memcpy(copy, load_error[lib], sizeof(copy));
	pthread_mutex_unlock(&error_lock);
	return copy;
}

/* Written only inside LIB's pthread_once, so stable once that returned. */
const char *cn_lazylib_error_raw(enum cn_lazy_lib lib)
{
	return load_error[lib];
}

/* The first reason is kept: it is the cause, later ones follow from it. */
static void note_error(enum cn_lazy_lib lib, const char *why, const char *what)
{
	pthread_mutex_lock(&error_lock);
	if (!load_error[lib][0])
		snprintf(load_error[lib], sizeof(load_error[lib]), "%s", why ? why : what);
	pthread_mutex_unlock(&error_lock);
}

/* dlopen(SONAME), or NULL with the reason kept for cn_lazylib_error(). */
void *cn_lazylib_open(enum cn_lazy_lib lib, const char *soname)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		note_error(lib, dlerror(), soname);
	return h;       /* kept open for the life of the process */
}

/* One symbol into a typed pointer (POSIX lets dlsym's result become a
 * function pointer); false when missing. */
bool cn_lazylib_sym(enum cn_lazy_lib lib, void *h, const char *name, void *fnp, size_t size)
{
	void *p = dlsym(h, name);
	if (!p) {
		note_error(lib, dlerror(), name);
		return false;
	}
	memcpy(fnp, &p, size);
	return true;
}

/* ---- libcurl ------------------------------------------------------------ */

#define CURL_FNS(X) \
	X(CURLcode, curl_global_init, (long flags)) \
	X(void, curl_global_cleanup, (void)) \
	X(CURL *, curl_easy_init, (void)) \
	X(void, curl_easy_cleanup, (CURL *curl)) \
	X(void, curl_easy_reset, (CURL *curl)) \
	X(CURLcode, curl_easy_perform, (CURL *curl)) \
	X(CURLcode, curl_easy_setopt, (CURL *curl, CURLoption option, ...)) \
	X(CURLcode, curl_easy_getinfo, (CURL *curl, CURLINFO info, ...)) \
	X(CURLHcode, curl_easy_header, (CURL *easy, const char *name, size_t index, unsigned int origin, \
					int request, struct curl_header **hout)) \
	X(const char *, curl_easy_strerror, (CURLcode code)) \
	X(char *, curl_easy_escape, (CURL *handle, const char *string, int length)) \
	X(char *, curl_easy_unescape, (CURL *handle, const char *string, int length, int *outlength)) \
	X(void, curl_free, (void *p)) \
	X(struct curl_slist *, curl_slist_append, (struct curl_slist *list, const char *data)) \
	X(void, curl_slist_free_all, (struct curl_slist *list)) \
	X(CURLU *, curl_url, (void)) \
	X(void, curl_url_cleanup, (CURLU *handle)) \
	X(CURLUcode, curl_url_get, (CURLU *handle, CURLUPart what, char **part, unsigned int flags)) \
	X(CURLUcode, curl_url_set, (CURLU *handle, CURLUPart what, const char *part, unsigned int flags)) \
	X(curl_version_info_data *, curl_version_info, (CURLversion v))

#define FIELD(ret, name, params) ret (*name) params;
#define LOAD(ret, name, params) &&cn_lazylib_sym(LIB, h, #name, &lib->name, sizeof(lib->name))
static struct { CURL_FNS(FIELD) } curl_lib;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* All or nothing: a missing symbol leaves every pointer NULL. */
static void curl_load(void)
{
	enum cn_lazy_lib LIB = CN_LAZY_CURL;
	__typeof__(curl_lib) *lib = &curl_lib;
	void *h = cn_lazylib_open(LIB, CURL_SONAME);
	if (!(h CURL_FNS(LOAD)))
		memset(lib, 0, sizeof(*lib));
}

/* Whether the library is loaded (the first call loads it). */
static bool curl_ok(void)
{
	pthread_once(&curl_once, curl_load);
	return curl_lib.curl_easy_init != NULL;
}

CURLcode curl_global_init(long flags)
{
	return curl_ok() ? curl_lib.curl_global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (curl_ok())
		curl_lib.curl_global_cleanup();
}

CURL *curl_easy_init(void)
{
	return curl_ok() ? curl_lib.curl_easy_init() : NULL;
}

/* The functions below take a handle or a list only the loaded library can
 * have made, so they need no check beyond curl_ok(). */
void curl_easy_cleanup(CURL *curl)
{
	if (curl_ok())
		curl_lib.curl_easy_cleanup(curl);
}

void curl_easy_reset(CURL *curl)
{
	if (curl_ok())
		curl_lib.curl_easy_reset(curl);
}

CURLcode curl_easy_perform(CURL *curl)
{
	return curl_ok() ? curl_lib.curl_easy_perform(curl) : CURLE_FAILED_INIT;
}

/* The option's number says its argument's type (curl.h's CURLOPTTYPE_*),
 * as libcurl itself reads it. */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;
	if (!curl_ok())
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = curl_lib.curl_easy_setopt(curl, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		rc = curl_lib.curl_easy_setopt(curl, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = curl_lib.curl_easy_setopt(curl, option, va_arg(ap, void (*)(void)));
	else if (option < CURLOPTTYPE_BLOB)
		rc = curl_lib.curl_easy_setopt(curl, option, va_arg(ap, curl_off_t));
	else
		rc = curl_lib.curl_easy_setopt(curl, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;
	if (!curl_ok())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = curl_lib.curl_easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLHcode curl_easy_header(CURL *easy, const char *name, size_t index, unsigned int origin, int request,
			   struct curl_header **hout)
{
	return curl_ok() ? curl_lib.curl_easy_header(easy, name, index, origin, request, hout)
			 : CURLHE_BAD_ARGUMENT;
}

const char *curl_easy_strerror(CURLcode code)
{
	if (curl_ok())
		return curl_lib.curl_easy_strerror(code);
	return cn_lazylib_error_raw(CN_LAZY_CURL);
}

char *curl_easy_escape(CURL *handle, const char *string, int length)
{
	return curl_ok() ? curl_lib.curl_easy_escape(handle, string, length) : NULL;
}

char *curl_easy_unescape(CURL *handle, const char *string, int length, int *outlength)
{
	return curl_ok() ? curl_lib.curl_easy_unescape(handle, string, length, outlength) : NULL;
}

void curl_free(void *p)
{
	if (p && curl_ok())
		curl_lib.curl_free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *data)
{
	return curl_ok() ? curl_lib.curl_slist_append(list, data) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && curl_ok())
		curl_lib.curl_slist_free_all(list);
}

CURLU *curl_url(void)
{
	return curl_ok() ? curl_lib.curl_url() : NULL;
}

void curl_url_cleanup(CURLU *handle)
{
	if (handle && curl_ok())
		curl_lib.curl_url_cleanup(handle);
}

CURLUcode curl_url_get(CURLU *handle, CURLUPart what, char **part, unsigned int flags)
{
	return curl_ok() ? curl_lib.curl_url_get(handle, what, part, flags) : CURLUE_BAD_HANDLE;
}

CURLUcode curl_url_set(CURLU *handle, CURLUPart what, const char *part, unsigned int flags)
{
	return curl_ok() ? curl_lib.curl_url_set(handle, what, part, flags) : CURLUE_BAD_HANDLE;
}

/* `cairn version` prints the version: say that it is missing instead. */
curl_version_info_data *curl_version_info(CURLversion v)
{
	static curl_version_info_data missing = { .version = "(not loadable)" };
	return curl_ok() ? curl_lib.curl_version_info(v) : &missing;
}

/* ---- libnftables -------------------------------------------------------- */

#define NFT_FNS(X) \
	X(struct nft_ctx *, nft_ctx_new, (uint32_t flags)) \
	X(void, nft_ctx_free, (struct nft_ctx *ctx)) \
	X(unsigned int, nft_ctx_output_get_flags, (struct nft_ctx *ctx)) \
	X(void, nft_ctx_output_set_flags, (struct nft_ctx *ctx, unsigned int flags)) \
	X(int, nft_ctx_buffer_output, (struct nft_ctx *ctx)) \
	X(int, nft_ctx_buffer_error, (struct nft_ctx *ctx)) \
	X(const char *, nft_ctx_get_output_buffer, (struct nft_ctx *ctx)) \
	X(const char *, nft_ctx_get_error_buffer, (struct nft_ctx *ctx)) \
	X(int, nft_run_cmd_from_buffer, (struct nft_ctx *nft, const char *buf))

static struct { NFT_FNS(FIELD) } nft_lib;
static pthread_once_t nft_once = PTHREAD_ONCE_INIT;

static void nft_load(void)
{
	enum cn_lazy_lib LIB = CN_LAZY_NFT;
	__typeof__(nft_lib) *lib = &nft_lib;
	void *h = cn_lazylib_open(LIB, NFT_SONAME);
	if (!(h NFT_FNS(LOAD)))
		memset(lib, 0, sizeof(*lib));
}

static bool nft_ok(void)
{
	pthread_once(&nft_once, nft_load);
	return nft_lib.nft_ctx_new != NULL;
}

/* Only nft_ctx_new can meet an unloaded library: the rest take its ctx. */
struct nft_ctx *nft_ctx_new(uint32_t flags)
{
	return nft_ok() ? nft_lib.nft_ctx_new(flags) : NULL;
}

void nft_ctx_free(struct nft_ctx *ctx)
{
	if (ctx && nft_ok())
		nft_lib.nft_ctx_free(ctx);
}

unsigned int nft_ctx_output_get_flags(struct nft_ctx *ctx)
{
	return nft_ok() ? nft_lib.nft_ctx_output_get_flags(ctx) : 0;
}

void nft_ctx_output_set_flags(struct nft_ctx *ctx, unsigned int flags)
{
	if (nft_ok())
		nft_lib.nft_ctx_output_set_flags(ctx, flags);
}

int nft_ctx_buffer_output(struct nft_ctx *ctx)
{
	return nft_ok() ? nft_lib.nft_ctx_buffer_output(ctx) : -1;
}

int nft_ctx_buffer_error(struct nft_ctx *ctx)
{
	return nft_ok() ? nft_lib.nft_ctx_buffer_error(ctx) : -1;
}

const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx)
{
	return nft_ok() ? nft_lib.nft_ctx_get_output_buffer(ctx) : NULL;
}

const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx)
{
	return nft_ok() ? nft_lib.nft_ctx_get_error_buffer(ctx) : NULL;
}

int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf)
{
	return nft_ok() ? nft_lib.nft_run_cmd_from_buffer(nft, buf) : -1;
}
