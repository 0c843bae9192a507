/* Claim references, value matching, scopes and roles, and backend values.
 * See aud_claim.h for the rules; this file only keeps them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aud_buf.h"
#include "aud_claim.h"
#include "aud_text.h"

struct aud_claim_ref {
    char *name;
    /* For a plain name: one token, the name itself. For a pointer: its
     * decoded reference tokens (none for the pointer ""; not accepted). */
    size_t n_tokens;
    char **tokens;
};

void aud_claim_ref_free(aud_claim_ref *ref)
{
    if (ref == NULL)
        return;
    for (size_t i = 0; i < ref->n_tokens; i++)
        free(ref->tokens[i]);
    free(ref->tokens);
    free(ref->name);
    free(ref);
}

/* Decodes one reference token (len bytes at s) into a new string; NULL
 * when it holds a '~' that is not "~0" or "~1". */
static char *decode_token(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '~') {
            *o++ = s[i];
            continue;
        }
        if (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')) {
            free(out);
            return NULL;
        }
        *o++ = s[i + 1] == '0' ? '~' : '/';
        i++;
    }
    *o = '\0';
    return out;
}

aud_claim_ref *aud_claim_ref_parse(const char *name, aud_error *err)
{
    char quoted[AUD_TEXT_QUOTE_SIZE];
    aud_claim_ref *ref;

    if (name == NULL || name[0] == '\0') {
        aud_error_set(err, "a claim name must not be empty");
        return NULL;
    }
    ref = calloc(1, sizeof *ref);
    if (ref == NULL || (ref->name = strdup(name)) == NULL) {
        free(ref);
        aud_error_set(err, "out of memory");
        return NULL;
    }
    if (name[0] != '/') {
        ref->tokens = malloc(sizeof *ref->tokens);
        if (ref->tokens == NULL || (ref->tokens[0] = strdup(name)) == NULL) {
            aud_claim_ref_free(ref);
            aud_error_set(err, "out of memory");
            return NULL;
        }
        ref->n_tokens = 1;
        return ref;
    }
    size_t count = 0;
    for (const char *p = name; *p; p++)
        count += *p == '/';
    ref->tokens = calloc(count, sizeof *ref->tokens);
    if (ref->tokens == NULL) {
        aud_claim_ref_free(ref);
        aud_error_set(err, "out of memory");
        return NULL;
    }
    for (const char *p = name + 1;; ) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *tok = decode_token(p, len);
        if (tok == NULL) {
            aud_error_set(err,
                          "claim pointer '%s' is malformed: in a JSON Pointer '~' must be followed by "
                          "'0' (for '~') or '1' (for '/')",
                          aud_text_quote_str(name, quoted));
            aud_claim_ref_free(ref);
            return NULL;
        }
        ref->tokens[ref->n_tokens++] = tok;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return ref;
}

const char *aud_claim_ref_name(const aud_claim_ref *ref)
{
    return ref ? ref->name : NULL;
}

/* RFC 6901 array index: "0" or a digit 1-9 followed by digits. */
static bool array_index(const char *tok, size_t *out)
{
    size_t v = 0;

    if (tok[0] == '\0' || (tok[0] == '0' && tok[1] != '\0'))
        return false;
    for (const char *p = tok; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (v > (SIZE_MAX - 9) / 10)
            return false;
        v = v * 10 + (size_t)(*p - '0');
    }
    *out = v;
    return true;
}

const json_t *aud_claim_ref_get(const aud_claim_ref *ref, const json_t *claims)
{
    const json_t *v = claims;

    if (ref == NULL || !json_is_object(claims))
        return NULL;
    for (size_t i = 0; i < ref->n_tokens && v != NULL; i++) {
        size_t idx;
        if (json_is_object(v))
            v = json_object_get(v, ref->tokens[i]);
        else if (json_is_array(v) && array_index(ref->tokens[i], &idx))
            v = json_array_get(v, idx);
        else
            v = NULL;
    }
    return v;
}

/* Shortest %.Ng that reads back as d; ".0" keeps it a real. */
static bool real_text(double d, char *out, size_t out_size)
{
    char buf[AUD_CLAIM_SCALAR_SIZE];
    int len = 0;

    for (int prec = 1; prec <= 17; prec++) {
        len = snprintf(buf, sizeof buf - 2, "%.*g", prec, d);
        if (len < 0 || (size_t)len >= sizeof buf - 2)
            return false;
        if (strtod(buf, NULL) == d)
            break;
    }
    /* %g switches to an exponent once it is at least the precision, which
     * would write 100.0 as "1e+02": below 1e17 widen the precision so that
     * the digits stay positional (%g drops the zeros this adds after a
     * point). */
    const char *e = strchr(buf, 'e');
    if (e != NULL && e[1] == '+') {
        long exp10 = strtol(e + 2, NULL, 10);
        if (exp10 < 17) {
            len = snprintf(buf, sizeof buf - 2, "%.*g", (int)exp10 + 1, d);
            if (len < 0 || (size_t)len >= sizeof buf - 2)
                return false;
        }
    }
    if (strpbrk(buf, ".eE") == NULL && strpbrk(buf, "ni") == NULL) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    if ((size_t)len >= out_size)
        return false;
    memcpy(out, buf, (size_t)len + 1);
    return true;
}

bool aud_claim_scalar_text(const json_t *value, char *out, size_t out_size)
{
    int len;

    if (out_size > 0)
        out[0] = '\0';
    switch (json_typeof(value)) {
    case JSON_STRING:
        if (json_string_length(value) >= out_size)
            return false;
        memcpy(out, json_string_value(value), json_string_length(value) + 1);
        return true;
    case JSON_INTEGER:
        len = snprintf(out, out_size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        return len >= 0 && (size_t)len < out_size;
    case JSON_REAL: return real_text(json_real_value(value), out, out_size);
    case JSON_TRUE:
    case JSON_FALSE: {
        const char *w = json_is_true(value) ? "true" : "false";
        if (strlen(w) >= out_size)
            return false;
        memcpy(out, w, strlen(w) + 1);
        return true;
    }
    default: return false;
    }
}

static bool scalar_matches(const json_t *v, const char *const *wanted, size_t n)
{
    const char *s;
    size_t len;
    char buf[AUD_CLAIM_SCALAR_SIZE];

    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_number(v) || json_is_boolean(v)) {
        if (!aud_claim_scalar_text(v, buf, sizeof buf))
            return false;
        s = buf;
        len = strlen(buf);
    } else {
        return false;
    }
    /* A string with an embedded NUL (jansson keeps its length) must not
     * match its prefix. */
    for (size_t i = 0; i < n; i++) {
        if (wanted[i] != NULL && strlen(wanted[i]) == len && memcmp(wanted[i], s, len) == 0)
            return true;
    }
    return false;
}

bool aud_claim_value_matches(const json_t *value, const char *const *wanted, size_t n)
{
    size_t i;
    const json_t *e;

    if (value == NULL)
        return false;
    if (!json_is_array(value))
        return scalar_matches(value, wanted, n);
    json_array_foreach(value, i, e)
    {
        if (scalar_matches(e, wanted, n))
            return true;
    }
    return false;
}

static size_t split_words(const char *s, size_t len, aud_claim_word *out, size_t n, size_t max)
{
    size_t i = 0;

    while (i < len && n < max) {
        while (i < len && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && s[i] != ' ')
            i++;
        if (i > start) {
            out[n].p = s + start;
            out[n].n = i - start;
            n++;
        }
    }
    return n;
}

/* Strings of an array, or words of a string (split or whole). */
static size_t words_of(const json_t *v, bool split, aud_claim_word *out, size_t max)
{
    size_t n = 0, i;
    const json_t *e;

    if (json_is_string(v)) {
        if (split)
            return split_words(json_string_value(v), json_string_length(v), out, 0, max);
        if (max == 0 || json_string_length(v) == 0)
            return 0;
        out[0].p = json_string_value(v);
        out[0].n = json_string_length(v);
        return 1;
    }
    json_array_foreach(v, i, e)
    {
        if (n >= max)
            break;
        if (json_is_string(e) && json_string_length(e) > 0) {
            out[n].p = json_string_value(e);
            out[n].n = json_string_length(e);
            n++;
        }
    }
    return n;
}

size_t aud_claim_scopes(const json_t *claims, aud_claim_word *out, size_t max)
{
    const json_t *scope = json_object_get(claims, "scope");

    if (json_is_string(scope))
        return words_of(scope, true, out, max);
    return words_of(json_object_get(claims, "scp"), true, out, max);
}

size_t aud_claim_roles(const json_t *claims, aud_claim_word *out, size_t max)
{
    return words_of(json_object_get(claims, "roles"), false, out, max);
}

bool aud_claim_has_any(const aud_claim_word *list, size_t n, const char *const *wanted, size_t n_wanted)
{
    for (size_t w = 0; w < n_wanted; w++) {
        size_t len = wanted[w] ? strlen(wanted[w]) : 0;
        for (size_t i = 0; wanted[w] != NULL && i < n; i++) {
            if (list[i].n == len && memcmp(list[i].p, wanted[w], len) == 0)
                return true;
        }
    }
    return false;
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

bool aud_claim_case_near(const aud_claim_word *list, size_t n, const char *wanted, aud_claim_word *granted)
{
    size_t len = wanted ? strlen(wanted) : 0;

    for (size_t i = 0; wanted != NULL && i < n; i++) {
        if (list[i].n != len || memcmp(list[i].p, wanted, len) == 0)
            continue;
        size_t k = 0;
        while (k < len && ascii_lower((unsigned char)list[i].p[k]) == ascii_lower((unsigned char)wanted[k]))
            k++;
        if (k == len) {
            if (granted != NULL)
                *granted = list[i];
            return true;
        }
    }
    return false;
}

/* ---- values for backends ---- */

static void put_json_string(aud_buf *b, const char *s, size_t n)
{
    json_t *tmp = json_stringn(s, n);
    char *text = tmp ? json_dumps(tmp, JSON_ENCODE_ANY) : NULL;
    if (text == NULL)
        b->failed = true;
    else
        aud_buf_put(b, text, strlen(text));
    free(text);
    json_decref(tmp);
}

static void put_value(aud_buf *b, const json_t *v, int depth)
{
    char buf[AUD_CLAIM_SCALAR_SIZE];
    size_t i;
    const char *key;
    const json_t *e;

    /* Decoded claims are at most as deep as jansson's parser allows, but a
     * tree built by a caller is not: refuse rather than recurse without
     * end. */
    if (depth > 2048) {
        b->failed = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        bool first = true;
        aud_buf_put(b, "{", 1);
        json_object_foreach((json_t *)v, key, e)
        {
            if (!first)
                aud_buf_put(b, ",", 1);
            first = false;
            put_json_string(b, key, strlen(key));
            aud_buf_put(b, ":", 1);
            put_value(b, e, depth + 1);
        }
        aud_buf_put(b, "}", 1);
        break;
    }
    case JSON_ARRAY:
        aud_buf_put(b, "[", 1);
        json_array_foreach(v, i, e)
        {
            if (i > 0)
                aud_buf_put(b, ",", 1);
            put_value(b, e, depth + 1);
        }
        aud_buf_put(b, "]", 1);
        break;
    case JSON_STRING: put_json_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_NULL: aud_buf_put(b, "null", 4); break;
    default:
        if (aud_claim_scalar_text(v, buf, sizeof buf))
            aud_buf_put(b, buf, strlen(buf));
        else
            b->failed = true;
        break;
    }
}

static char *percent_encode(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 1;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        need += (c < 0x20 || c > 0x7E || c == '%') ? 3 : 1;
    }
    char *out = malloc(need), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7E || c == '%') {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    *o = '\0';
    return out;
}

char *aud_claim_value_text(const json_t *value)
{
    aud_buf b = {0};
    char *out;

    if (value == NULL)
        return NULL;
    if (json_is_string(value))
        return percent_encode(json_string_value(value), json_string_length(value));
    put_value(&b, value, 0);
    out = b.failed ? NULL : percent_encode(b.p ? b.p : "", b.len);
    free(b.p);
    return out;
}
