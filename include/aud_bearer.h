/* RFC 6750 on the wire: reading the bearer credential from an Authorization
 * header and writing the WWW-Authenticate challenge. Plain text in, plain
 * text out, so that the rules are unit-tested without a web server. */
#ifndef AUD_BEARER_H
#define AUD_BEARER_H

#include <stddef.h>

typedef enum {
    AUD_CREDENTIAL_NONE,     /* no header, or another scheme: the client offered no bearer token */
    AUD_CREDENTIAL_TOKEN,    /* exactly one token */
    AUD_CREDENTIAL_MALFORMED /* "Bearer" with nothing, or more than one credential (400) */
} aud_credential;

/* Reads "Bearer <token>" (scheme in any case, spaces and tabs around it).
 * On AUD_CREDENTIAL_TOKEN, *token and *len point into header. header may be
 * NULL. */
aud_credential aud_bearer_parse(const char *header, const char **token, size_t *len);

/* The challenge: Bearer realm="..."[, error="..."[, error_description="..."]]
 * [, scope="..."]. realm is a quoted-string (RFC 9110 5.6.4: '"' and '\'
 * escaped, control characters dropped, so that no configured name can split
 * the header). error names an RFC 6750 error code and is written only when
 * not NULL, as are description and scope. description and scope are folded
 * into the characters RFC 6750 section 3 allows in them (printable ASCII
 * without '"' and '\'): they may carry token-derived hint text, which is
 * folded rather than escaped because clients need not unescape it. Returns
 * a malloc'd string, NULL on memory exhaustion. */
char *aud_bearer_challenge(const char *realm, const char *error, const char *description, const char *scope);

#endif
