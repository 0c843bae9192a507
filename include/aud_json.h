/* Strict JSON for token headers, claims and key files. */
#ifndef AUD_JSON_H
#define AUD_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "aud_log.h"

/* Nesting deeper than this is refused before jansson sees the text; real
 * tokens and key sets stay well under it. */
#define AUD_JSON_MAX_DEPTH 20

/* Parses text that must be exactly one JSON object. Refuses duplicate member
 * names, \u0000 in strings, numbers that overflow, invalid UTF-8, trailing
 * data and nesting beyond AUD_JSON_MAX_DEPTH. Returns a new reference, or NULL
 * with the reason in err. */
json_t *aud_json_parse_object(const char *text, size_t len, aud_error *err);

/* The plain subset of what aud_json_parse_object accepts (strings without
 * surrogate escapes, integers of up to 18 digits, true, false, null, arrays
 * and objects), read without jansson's lexer. NULL means "not decided here",
 * never "invalid": aud_json_parse_object then asks jansson. Whatever this
 * accepts, aud_json_parse_object's jansson path accepts as an equal value
 * with the same member order. Exposed for the tests and the fuzzer. */
json_t *aud_json_parse_fast(const char *text, size_t len);

#endif
