/* The reference grammar is docker's (distribution/reference): see ref.h. */
#include "util/ref.h"

#include "util/digest.h"
#include "util/mem.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_NAME 255

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool component_ok(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= n || !lower_alnum(s[i]))
			return false;
	}
	return true;
}

static bool domain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == ':' ||
		      c == '[' || c == ']'))
			return false;
	}
	return s[0] != '.' && s[0] != '-' && s[0] != ':';
}

bool cn_ref_tag_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int cn_ref_parse(const char *s, struct cn_ref *ref, cn_err *err)
{
	const char *at = strchr(s, '@'), *slash, *name_end, *colon;
	char *name = NULL;
	size_t dlen = 0;
	memset(ref, 0, sizeof(*ref));
	if (!*s || strlen(s) > 512)
		return cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s'", s);
	if (at) {
		if (!cn_digest_valid(at + 1))
			return cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': bad digest "
					  "(want sha256: and 64 lower-case hex digits)", s);
		ref->digest = cn_xstrdup(at + 1);
	}
	name_end = at ? at : s + strlen(s);
	/* A ':' after the last '/' starts the tag (an earlier one is a port). */
	slash = memrchr(s, '/', (size_t)(name_end - s));
	colon = memrchr(slash ? slash : s, ':', (size_t)(name_end - (slash ? slash : s)));
	if (colon) {
		ref->tag = cn_xstrndup(colon + 1, (size_t)(name_end - colon - 1));
		if (!cn_ref_tag_valid(ref->tag)) {
			cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': bad tag '%s'", s, ref->tag);
			goto fail;
		}
		name_end = colon;
	}
	name = cn_xstrndup(s, (size_t)(name_end - s));
	if (strlen(name) > REF_MAX_NAME) {
		cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': name longer than %d bytes", s, REF_MAX_NAME);
		goto fail;
	}
	slash = strchr(name, '/');
	if (slash && (memchr(name, '.', (size_t)(slash - name)) || memchr(name, ':', (size_t)(slash - name)) ||
		      strncmp(name, "localhost/", 10) == 0)) {
		dlen = (size_t)(slash - name);
		if (!domain_ok(name, dlen)) {
			cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': bad registry '%.*s'", s, (int)dlen, name);
			goto fail;
		}
		ref->domain = cn_xstrndup(name, dlen);
		ref->path = cn_xstrdup(slash + 1);
	} else {
		ref->domain = cn_xstrdup("docker.io");
		if (!slash)
			ref->path = cn_xasprintf("library/%s", name);
		else
			ref->path = cn_xstrdup(name);
	}
	if (!*ref->path) {
		cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': no repository name", s);
		goto fail;
	}
	for (const char *c = ref->path; *c;) {
		const char *e = strchrnul(c, '/');
		if (!component_ok(c, (size_t)(e - c))) {
			bool upper = false;
			for (const char *p = c; p < e; p++)
				upper |= (*p >= 'A' && *p <= 'Z');
			cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': %s", s,
				   upper ? "repository names must be lower-case"
					 : "bad repository name (components are lower-case letters, "
					   "digits and separators . _ __ -)");
			goto fail;
		}
		c = *e ? e + 1 : e;
		if (*e && !*c) {
			cn_err_fail(err, CN_ERR_INVALID, "invalid reference '%s': trailing '/'", s);
			goto fail;
		}
	}
	if (!ref->tag && !ref->digest)
		ref->tag = cn_xstrdup("latest");
	if (ref->tag)
		ref->local = cn_xasprintf("%s:%s", name, ref->tag);
	free(name);
	return 0;
fail:
	free(name);
	cn_ref_free(ref);
	return -1;
}

void cn_ref_free(struct cn_ref *ref)
{
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	free(ref->local);
	memset(ref, 0, sizeof(*ref));
}
