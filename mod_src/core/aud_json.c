#include "aud_json.h"

#include <stdbool.h>
#include <string.h>

#include "aud_text.h"

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
