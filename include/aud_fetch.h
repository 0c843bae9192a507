/* Fetching key documents (a JWKS, an OpenID Connect discovery document) over
 * HTTP(S) with libcurl, under limits that a hostile or broken server cannot
 * stretch: a deadline for the whole exchange, a cap on the body, few
 * redirects, and https everywhere except on the loopback interface. */
#ifndef AUD_FETCH_H
#define AUD_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "aud_log.h"

/* A key set is a few kilobytes; anything this large is not one. */
#define AUD_FETCH_MAX_BODY (1024 * 1024)
#define AUD_FETCH_MAX_REDIRECTS 3
#define AUD_FETCH_DEFAULT_TIMEOUT 5.0

typedef struct {
    /* Seconds for the whole exchange, redirects included; <= 0: the default. */
    double timeout;
    /* PEM file of trusted CAs; NULL: the system store. Verification of the
     * peer and of the host name is always on either way. */
    const char *ca_file;
} aud_fetch_options;

typedef struct {
    char *body; /* NUL-terminated (the NUL is not counted in len); malloc'd */
    size_t len;
    /* Cache-Control max-age in seconds; 0 for no-cache or no-store; -1 when
     * the response says nothing about freshness. */
    double max_age;
    /* The answer came from a loopback host, by name and by the address
     * connected to alike. A URL it names may then be a loopback one. */
    bool local;
} aud_fetch_response;

/* Once per process, before threads that fetch exist (the module calls it in
 * post_config). Safe to call again; returns false if libcurl cannot start. */
bool aud_fetch_global_init(void);

/* Seconds on CLOCK_MONOTONIC: for bounding real waits (a fetch's deadline,
 * a wait for another's fetch), never for schedules, which use the injected
 * clock. */
double aud_fetch_monotonic_now(void);

/* Whether a numeric address ("127.0.0.1", "::1", no brackets) reaches this host's own services:
 * 127.0.0.0/8, ::1, the unspecified 0.0.0.0 and ::, and the IPv4-mapped
 * (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms of the IPv4 ones.
 * False for anything that is not an address. */
bool aud_fetch_addr_is_loopback(const char *address);

/* Whether url may be fetched at all: syntax (libcurl's parser), scheme http
 * or https, https unless the host is loopback by name (localhost and names
 * under it, with or without a trailing dot, or a literal address that
 * aud_fetch_addr_is_loopback accepts, in any spelling libcurl reads), no
 * user name or password in it. A configuration error when false. */
bool aud_fetch_url_check(const char *url, aud_error *err);

/* Whether a redirect from one URL to another may be followed: the target
 * must pass aud_fetch_url_check, and may neither go from https to plain
 * http nor from a remote host to a loopback one. */
bool aud_fetch_redirect_check(const char *from, const char *to, aud_error *err);

/* Whether url names a loopback host (http allowed). url must have passed
 * aud_fetch_url_check. */
bool aud_fetch_url_is_loopback(const char *url);

/* GET url and hand back a 200 answer's body. Every hop, the first included,
 * is also judged by each address it is about to connect to, before the
 * connection is made: plain http only to a loopback address
 * (aud_fetch_addr_is_loopback), and no hop to a loopback address after one
 * that was not local by name and by address. Fails (false, reason in err) on such a connection, on
 * a bad URL, a redirect that aud_fetch_redirect_check refuses, more than
 * AUD_FETCH_MAX_REDIRECTS redirects, a TLS failure, an answer other than
 * 200, a body over AUD_FETCH_MAX_BODY or when the timeout passes. Thread-safe;
 * never raises signals. */
bool aud_fetch_get(const char *url, const aud_fetch_options *options, aud_fetch_response *out, aud_error *err);

void aud_fetch_response_free(aud_fetch_response *response);

#endif
