#include "aud_bearer.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next blank-separated word at *p: its start and length; *p moves past
 * it and the blanks after it. */
static size_t next_word(const char **p, const char **start)
{
    const char *q = *p;
    size_t len;

    while (is_blank(*q))
        q++;
    *start = q;
    /* A token is hundreds of bytes: glibc's strcspn scans them a vector at a time. */
    q += strcspn(q, " \t");
    len = (size_t)(q - *start);
    while (is_blank(*q))
        q++;
    *p = q;
    return len;
}

/* Another scheme counts as no token: this location asks for a bearer token
 * and the client did not offer one. */
aud_credential aud_bearer_parse(const char *header, const char **token, size_t *len)
{
    const char *p = header, *scheme;

    if (header == NULL || next_word(&p, &scheme) != 6 || strncasecmp(scheme, "Bearer", 6) != 0)
        return AUD_CREDENTIAL_NONE;
    *len = next_word(&p, token);
    if (*len == 0 || *p != '\0')
        return AUD_CREDENTIAL_MALFORMED;
    return AUD_CREDENTIAL_TOKEN;
}

/* Appends name="value" with value escaped as a quoted-string (fold false)
 * or folded into RFC 6750's error_description/scope characters (fold true). */
static char *append_param(char *out, const char *name, const char *value, bool fold)
{
    for (const char *n = name; *n; n++)
        *out++ = *n;
    *out++ = '=';
    *out++ = '"';
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        unsigned char c = *v;
        if (fold) {
            *out++ = (char)(c < 0x20 || c > 0x7e ? '?' : c == '"' ? '\'' : c == '\\' ? '/' : c);
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            continue;
        if (c == '"' || c == '\\')
            *out++ = '\\';
        *out++ = (char)c;
    }
    *out++ = '"';
    return out;
}

char *aud_bearer_challenge(const char *realm, const char *error, const char *description, const char *scope)
{
    const char *values[] = {realm ? realm : "", error, error ? description : NULL, scope};
    /* Escaping at most doubles a value; names, quotes and separators fit
     * in 32 bytes each. */
    size_t cap = 8;
    for (size_t i = 0; i < 4; i++)
        cap += values[i] ? 2 * strlen(values[i]) + 32 : 0;
    char *text = malloc(cap), *out = text;

    if (text == NULL)
        return NULL;
    memcpy(out, "Bearer ", 7);
    out = append_param(out + 7, "realm", values[0], false);
    static const char *const names[] = {NULL, "error", "error_description", "scope"};
    for (size_t i = 1; i < 4; i++) {
        if (values[i] == NULL)
            continue;
        *out++ = ',';
        *out++ = ' ';
        out = append_param(out, names[i], values[i], i != 1);
    }
    *out = '\0';
    return text;
}
