/* Fuzzes the JSON fast path against jansson, the authority it defers to.
 *
 * aud_json_parse_fast reads the plain subset of JSON that tokens and key
 * sets use without jansson's lexer, and gives up on anything else. Giving
 * up is always safe; accepting is the risk. The harness feeds the same
 * bytes to both readers and requires, whenever the fast path accepts:
 * - jansson, with the flags aud_json_parse_object uses, accepts too;
 * - both values are objects, json_equal, and dump to the same compact
 *   text (same member order, same string bytes);
 * - aud_json_parse_object returns that value too (so the nesting bound
 *   the fast path applies is the one the scan applies).
 * Whatever the fast path says, aud_json_parse_object's verdict must be
 * jansson's, less only what the nesting bound refuses. */
#include <jansson.h>

#include "aud_json.h"
#include "fuzz_support.h"

static char *dump(const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    FZ_REQUIRE(text != NULL, "json_dumps failed");
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_error_t jerr;
    json_t *authority = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    json_t *fast = aud_json_parse_fast(text, size);
    aud_error err;
    err.text[0] = '\0';
    json_t *parsed = aud_json_parse_object(text, size, &err);

    if (fast != NULL) {
        FZ_REQUIRE(authority != NULL, "fast path accepted what jansson refuses (%s): %.*s", jerr.text,
                   (int)(size < 200 ? size : 200), text);
        FZ_REQUIRE(json_is_object(fast) && json_is_object(authority), "fast path accepted a non-object");
        FZ_REQUIRE(json_equal(fast, authority), "fast path and jansson read different values");
        char *a = dump(fast), *b = dump(authority);
        FZ_REQUIRE(strcmp(a, b) == 0, "fast path read %s, jansson %s", a, b);
        FZ_REQUIRE(parsed != NULL, "fast path accepted what aud_json_parse_object refuses: %s", err.text);
        char *c = dump(parsed);
        FZ_REQUIRE(strcmp(a, c) == 0, "aud_json_parse_object gave %s, fast path %s", c, a);
        free(a);
        free(b);
        free(c);
    }
    if (parsed != NULL) {
        FZ_REQUIRE(authority != NULL && json_is_object(authority), "accepted what jansson refuses or a non-object");
        FZ_REQUIRE(json_equal(parsed, authority), "aud_json_parse_object and jansson read different values");
    } else {
        FZ_REQUIRE(err.text[0] != '\0', "refused without a reason");
        FZ_REQUIRE(fz_printable(err.text), "reason with a control character: %s", err.text);
    }
    json_decref(authority);
    json_decref(fast);
    json_decref(parsed);
    return 0;
}
