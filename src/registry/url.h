/* URLs of the registry client, through libcurl's URL API (CURLU) rather
 * than by hand: RFC 3986 reference resolution for Location headers, and
 * the host:port of a URL (IPv6 literals, ports, userinfo all handled by
 * the parser that also makes the requests). */
#ifndef REG_URL_H
#define REG_URL_H

#include <stdbool.h>
#include <stddef.h>

/* LOCATION (absolute, or a reference relative to BASE as RFC 3986 section
 * 5.2 resolves it: "x" next to BASE's last path segment, "/x" from the
 * root, "//h/x" on another host) as an absolute URL (heap), or NULL when
 * either does not parse. */
char *reg_url_resolve(const char *base, const char *location);

/* "host[:port]" of an http or https URL (heap; IPv6 in brackets, the port
 * only when the URL gives one), with *HTTPS set. NULL for another scheme,
 * an unparsable URL, or one with userinfo (never taken from a server). */
char *reg_url_host(const char *url, bool *https);

/* The length of URL's scheme when it names one other than http or https
 * ("file:///etc/shadow" gives 4), else 0 (http, https, or a relative
 * reference): a server's redirect to it is refused, never followed. */
size_t reg_url_other_scheme(const char *url);

#endif
