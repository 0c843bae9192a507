#include "aud_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aud_text.h"
#include "aud_utf8.h"

/* --- The fast path -------------------------------------------------------
 * A new token's claims are parsed on every verification, and jansson's
 * general lexer (a character stream, a growing buffer, a strtod for every
 * number) cost more than the rest of the claim checks together. Tokens and
 * key sets are objects of strings, small integers and shallow arrays, and
 * the reader below builds those directly. It only ever accepts: anything
 * outside that plain subset, valid or not, makes it give up, and jansson
 * decides; so jansson's verdict and error text stay the only ones a user
 * sees, and tests/fuzz/fuzz_json.c checks that whatever this reader
 * accepts, jansson accepts as the same value. */

typedef struct {
    const unsigned char *at, *end;
    unsigned depth;
} fast_reader;

/* Nineteen digits may overflow a 64-bit integer; jansson decides those. */
#define FAST_MAX_DIGITS 18

static json_t *fast_value(fast_reader *r);

static void fast_skip_space(fast_reader *r)
{
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r'))
        r->at++;
}

static int fast_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the escapes of the string body [from, to) into out, which has room
 * for to - from bytes (no escape decodes to more bytes than it spells).
 * \u0000 and surrogate escapes are left to jansson. */
static bool fast_unescape(const unsigned char *from, const unsigned char *to, char *out, size_t *out_len)
{
    size_t n = 0;
    while (from < to) {
        if (*from != '\\') {
            out[n++] = (char)*from++;
            continue;
        }
        unsigned char e = from[1]; /* the scan saw a character after every backslash */
        from += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            if (to - from < 4)
                return false;
            uint32_t cp = 0;
            for (int i = 0; i < 4; i++) {
                int h = fast_hex(from[i]);
                if (h < 0)
                    return false;
                cp = cp << 4 | (uint32_t)h;
            }
            from += 4;
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xc0 | cp >> 6);
                out[n++] = (char)(0x80 | (cp & 0x3f));
            } else {
                out[n++] = (char)(0xe0 | cp >> 12);
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[n++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            return false;
        }
    }
    *out_len = n;
    return true;
}

/* Reads the string whose opening quote is at r->at. Sets *start and *len to
 * its text in place when it has no escapes; otherwise *owned is a decoded
 * copy for the caller to free. */
static bool fast_string(fast_reader *r, const char **start, size_t *len, char **owned)
{
    const unsigned char *p = r->at + 1, *body = p;
    bool escaped = false;
    *owned = NULL;
    for (;;) {
        if (p >= r->end)
            return false;
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            if (p + 1 >= r->end)
                return false;
            escaped = true;
            p += 2;
        } else if (c < 0x20) {
            return false;
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = aud_utf8_char_length(p, (size_t)(r->end - p));
            if (n == 0)
                return false;
            p += n;
        }
    }
    r->at = p + 1;
    if (!escaped) {
        *start = (const char *)body;
        *len = (size_t)(p - body);
        return true;
    }
    char *copy = malloc((size_t)(p - body) + 1);
    if (copy == NULL || !fast_unescape(body, p, copy, len)) {
        free(copy);
        return false;
    }
    *owned = copy;
    *start = copy;
    return true;
}

static json_t *fast_string_value(fast_reader *r)
{
    const char *text;
    size_t len;
    char *owned;
    if (!fast_string(r, &text, &len, &owned))
        return NULL;
    /* Checked above: valid UTF-8, and no NUL since \u0000 gives up. */
    json_t *value = json_stringn_nocheck(text, len);
    free(owned);
    return value;
}

static json_t *fast_number(fast_reader *r)
{
    const unsigned char *p = r->at;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    const unsigned char *digits = p;
    long long value = 0;
    while (p < r->end && *p >= '0' && *p <= '9') {
        if (p - digits >= FAST_MAX_DIGITS)
            return NULL;
        value = value * 10 + (*p - '0');
        p++;
    }
    size_t count = (size_t)(p - digits);
    /* Fractions, exponents and leading zeros are jansson's to judge. */
    if (count == 0 || (digits[0] == '0' && count > 1))
        return NULL;
    if (p < r->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    r->at = p;
    return json_integer(negative ? -value : value);
}

static bool fast_word(fast_reader *r, const char *word, size_t len)
{
    if ((size_t)(r->end - r->at) < len || memcmp(r->at, word, len) != 0)
        return false;
    r->at += len;
    return true;
}

/* Reads one element of a container (at r->at, spaces skipped) into it. */
typedef bool (*fast_element_reader)(fast_reader *r, json_t *container);

static bool fast_array_item(fast_reader *r, json_t *array)
{
    json_t *item = fast_value(r);
    return item != NULL && json_array_append_new(array, item) == 0;
}

static bool fast_object_member(fast_reader *r, json_t *object)
{
    const char *key;
    size_t key_len;
    char *owned;
    if (r->at >= r->end || *r->at != '"' || !fast_string(r, &key, &key_len, &owned))
        return false;
    bool ok = json_object_getn(object, key, key_len) == NULL; /* duplicates: jansson refuses them */
    if (ok) {
        fast_skip_space(r);
        ok = r->at < r->end && *r->at == ':';
    }
    if (ok) {
        r->at++;
        json_t *member = fast_value(r);
        ok = member != NULL && json_object_setn_new_nocheck(object, key, key_len, member) == 0;
    }
    free(owned);
    return ok;
}

/* An array or object from its opening bracket at r->at to the closing one:
 * elements read by read_one, separated by commas. container is new and is
 * released when the reader gives up. */
static json_t *fast_container(fast_reader *r, json_t *container, char close, fast_element_reader read_one)
{
    if (container == NULL)
        return NULL;
    r->at++;
    fast_skip_space(r);
    if (r->at < r->end && *r->at == close) {
        r->at++;
        return container;
    }
    for (;;) {
        fast_skip_space(r);
        if (!read_one(r, container))
            break;
        fast_skip_space(r);
        if (r->at >= r->end)
            break;
        if (*r->at == close) {
            r->at++;
            return container;
        }
        if (*r->at != ',')
            break;
        r->at++;
    }
    json_decref(container);
    return NULL;
}

static json_t *fast_value(fast_reader *r)
{
    fast_skip_space(r);
    if (r->at >= r->end)
        return NULL;
    switch (*r->at) {
    case '"':
        return fast_string_value(r);
    case '{':
    case '[': {
        /* The same bound the nesting scan sets, so that giving up here
         * lets it give its own error. */
        if (++r->depth > AUD_JSON_MAX_DEPTH)
            return NULL;
        json_t *value = *r->at == '{' ? fast_container(r, json_object(), '}', fast_object_member)
                                      : fast_container(r, json_array(), ']', fast_array_item);
        r->depth--;
        return value;
    }
    case 't':
        return fast_word(r, "true", 4) ? json_true() : NULL;
    case 'f':
        return fast_word(r, "false", 5) ? json_false() : NULL;
    case 'n':
        return fast_word(r, "null", 4) ? json_null() : NULL;
    default:
        if (*r->at == '-' || (*r->at >= '0' && *r->at <= '9'))
            return fast_number(r);
        return NULL;
    }
}

json_t *aud_json_parse_fast(const char *text, size_t len)
{
    fast_reader r = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    fast_skip_space(&r);
    if (r.at >= r.end || *r.at != '{')
        return NULL;
    json_t *value = fast_value(&r);
    if (value == NULL)
        return NULL;
    fast_skip_space(&r);
    if (r.at != r.end) {
        json_decref(value);
        return NULL;
    }
    return value;
}

/* --- The authoritative path ---------------------------------------------- */

/* jansson's own limit (2048) is far above what a token needs; a cheap scan
 * first keeps hostile nesting from costing recursion at all. */
static bool nesting_within_bound(const char *text, size_t len)
{
    unsigned depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > AUD_JSON_MAX_DEPTH)
                return false;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        }
    }
    return true;
}

json_t *aud_json_parse_object(const char *text, size_t len, aud_error *err)
{
    json_t *fast = aud_json_parse_fast(text, len);
    if (fast != NULL)
        return fast;
    if (!nesting_within_bound(text, len)) {
        aud_error_set(err, "JSON nested deeper than %d levels", AUD_JSON_MAX_DEPTH);
        return NULL;
    }
    /* Without JSON_ALLOW_NUL jansson refuses \u0000; without
     * JSON_DECODE_ANY the top level must be an array or object; overflowing
     * numbers and trailing data are refused by default. */
    json_error_t jerr;
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        /* jansson's text quotes the offending input ("near '\x1b'"), so it
         * is token or document content like any other. */
        char quoted[JSON_ERROR_TEXT_LENGTH * 4 + 4];
        aud_text_quote(jerr.text, strlen(jerr.text), JSON_ERROR_TEXT_LENGTH, quoted, sizeof quoted);
        aud_error_set(err, "invalid JSON: %s (at byte %d)", quoted, jerr.position);
        return NULL;
    }
    if (!json_is_object(value)) {
        aud_error_set(err, "JSON is not an object");
        json_decref(value);
        return NULL;
    }
    return value;
}
