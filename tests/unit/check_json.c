/* The strict JSON reader that stands between token bytes and jansson. */
#include <stdlib.h>
#include <string.h>

#include "aud_json.h"
#include "suites.h"
#include "test_support.h"

static json_t *parse_n(const char *text, size_t len)
{
    aud_error err;
    memset(&err, 0, sizeof err);
    json_t *j = aud_json_parse_object(text, len, &err);
    if (j == NULL)
        ck_assert_msg(err.text[0] != '\0', "refused without saying why: %s", text);
    return j;
}

static json_t *accept(const char *text)
{
    json_t *j = parse_n(text, strlen(text));
    ck_assert_msg(j != NULL, "refused: %s", text);
    ck_assert_msg(json_is_object(j), "not an object: %s", text);
    return j;
}

#define refuse_n(text, len)                                                                                \
    do {                                                                                                   \
        json_t *refused_ = parse_n((text), (len));                                                         \
        ck_assert_msg(refused_ == NULL, "accepted: %.*s", (int)(len), (text));                             \
    } while (0)
#define refuse(text) refuse_n((text), strlen(text))

/* {"a": followed by depth-1 brackets, so that the whole text nests depth
 * levels deep counting the outer object. */
static char *nested(size_t depth, char open, char close)
{
    size_t inner = depth - 1;
    char *s = malloc(inner * 6 + 16);
    ck_assert_ptr_nonnull(s);
    char *p = s;
    memcpy(p, "{\"a\":", 5);
    p += 5;
    for (size_t i = 0; i < inner; i++) {
        if (open == '{') {
            memcpy(p, "{\"a\":", 5);
            p += 5;
        } else {
            *p++ = open;
        }
    }
    if (open == '{' && inner > 0)
        *p++ = '1';
    for (size_t i = 0; i < inner; i++)
        *p++ = close;
    if (inner == 0)
        *p++ = '1';
    *p++ = '}';
    *p = '\0';
    return s;
}

START_TEST(accepts_objects)
{
    json_t *j = accept("{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");
    ck_assert_str_eq(json_string_value(json_object_get(j, "iss")), "joe");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "exp")), 1300819380);
    ck_assert(json_is_true(json_object_get(j, "http://example.com/is_root")));
    json_decref(j);

    j = accept("{}");
    ck_assert_uint_eq(json_object_size(j), 0);
    json_decref(j);

    /* Fractions are legitimate times; big but finite numbers are not an
     * overflow. */
    j = accept("{\"exp\":1700000000.5,\"big\":1e300,\"max\":9223372036854775807,\"neg\":-9223372036854775808}");
    ck_assert(json_is_real(json_object_get(j, "exp")));
    ck_assert(json_real_value(json_object_get(j, "exp")) == 1700000000.5);
    json_decref(j);

    /* Escapes that are not NUL, and real UTF-8, pass. */
    j = accept("{\"s\":\"caf\\u00e9 \\ud83d\\ude00 \xc3\xa9 \xf0\x9f\x98\x80 \\\" \\\\ \\n\"}");
    json_decref(j);
}
END_TEST

START_TEST(honours_length)
{
    /* Text after len belongs to somebody else. */
    const char *text = "{\"a\":1}trailing";
    json_t *j = parse_n(text, 7);
    ck_assert_ptr_nonnull(j);
    json_decref(j);
    /* And the text need not be NUL-terminated at len. */
    refuse_n("{\"a\":1}", 6);
}
END_TEST

START_TEST(refuses_other_top_levels)
{
    refuse("[]");
    refuse("[{\"a\":1}]");
    refuse("\"text\"");
    refuse("1");
    refuse("1.5");
    refuse("true");
    refuse("null");
    refuse("");
    refuse("   ");
    refuse("Payload");
}
END_TEST

START_TEST(refuses_duplicate_members)
{
    /* jansson would keep the last of two equal names; another library in
     * the chain might keep the first, and the two would disagree on what the
     * token says. */
    refuse("{\"a\":1,\"a\":2}");
    refuse("{\"a\":1,\"a\":1}");
    refuse("{\"aud\":\"api://x\",\"sub\":\"s\",\"aud\":\"api://evil\"}");
    refuse("{\"o\":{\"k\":1,\"k\":2}}");
    refuse("{\"l\":[{\"k\":1,\"k\":2}]}");
    /* The same name after unescaping is the same name. */
    refuse("{\"alg\":\"RS256\",\"\\u0061lg\":\"none\"}");
    /* Names that merely look alike are different names. */
    json_t *j = accept("{\"a\":1,\"A\":2,\"a \":3,\"o\":{\"a\":4}}");
    ck_assert_uint_eq(json_object_size(j), 4);
    json_decref(j);
}
END_TEST

START_TEST(refuses_nul)
{
    /* "api://x\u0000.evil" would compare equal to "api://x" in any C code
     * that later handles it as a C string. */
    refuse("{\"aud\":\"api://x\\u0000.evil\"}");
    refuse("{\"iss\":\"\\u0000\"}");
    refuse("{\"a\\u0000b\":1}");
    refuse("{\"l\":[\"x\\u0000\"]}");
    /* A raw NUL byte inside the text is not JSON at all. */
    refuse_n("{\"a\":\"x\0y\"}", 11);
    refuse_n("{\"a\":1}\0", 8);
}
END_TEST

START_TEST(refuses_overflowing_numbers)
{
    refuse("{\"exp\":1e400}");
    refuse("{\"exp\":-1e400}");
    refuse("{\"exp\":99999999999999999999999}");
    refuse("{\"exp\":-99999999999999999999999}");
    refuse("{\"exp\":9223372036854775808}");
    refuse("{\"o\":{\"exp\":1e999}}");
}
END_TEST

START_TEST(depth_limit_boundary)
{
    ck_assert_int_eq(AUD_JSON_MAX_DEPTH, 20);
    const char brackets[][2] = {{'[', ']'}, {'{', '}'}};
    for (size_t b = 0; b < 2; b++) {
        char *ok = nested(AUD_JSON_MAX_DEPTH, brackets[b][0], brackets[b][1]);
        json_t *j = accept(ok);
        json_decref(j);
        free(ok);
        char *deep = nested(AUD_JSON_MAX_DEPTH + 1, brackets[b][0], brackets[b][1]);
        refuse(deep);
        free(deep);
    }
}
END_TEST

START_TEST(depth_limit_far_beyond)
{
    /* Deep enough to exhaust the stack of a recursive parser that had no
     * bound. */
    char *deep = nested(10000, '[', ']');
    refuse(deep);
    free(deep);
    deep = nested(100000, '{', '}');
    refuse(deep);
    free(deep);
}
END_TEST

START_TEST(depth_ignores_brackets_in_strings)
{
    /* The depth pre-scan must know strings, escaped quotes included, or a
     * harmless claim would be refused (or a deep one let through). */
    char text[256];
    strcpy(text, "{\"s\":\"");
    for (int i = 0; i < 50; i++)
        strcat(text, "[{");
    strcat(text, "\",\"t\":\"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[\"}");
    json_t *j = accept(text);
    json_decref(j);

    /* An escaped backslash does not escape the quote after it: that quote
     * ends the string, and the brackets after it count. */
    char *deep = nested(AUD_JSON_MAX_DEPTH + 1, '[', ']');
    char *tricky = ts_fmt("{\"s\":\"\\\\\",\"d\":%s}", deep);
    refuse(tricky);
    free(tricky);
    free(deep);
}
END_TEST

START_TEST(refuses_trailing_data)
{
    refuse("{\"a\":1}x");
    refuse("{\"a\":1}{\"b\":2}");
    refuse("{\"a\":1},");
    refuse("{\"a\":1}}");
    refuse("{\"a\":1}]");
    refuse("{\"a\":1} 1");
}
END_TEST

START_TEST(refuses_broken_json)
{
    refuse("{");
    refuse("{\"a\":}");
    refuse("{\"a\":1,}");
    refuse("{'a':1}");
    refuse("{a:1}");
    refuse("{\"a\":01}");
    refuse("{\"a\":NaN}");
    refuse("{\"a\":Infinity}");
    refuse("{\"a\":\"unterminated}");
    refuse("{\"a\":\"\\x41\"}");
}
END_TEST

START_TEST(refuses_invalid_utf8)
{
    refuse("{\"a\":\"\xff\"}");
    refuse("{\"a\":\"\xc0\xaf\"}");        /* overlong '/' */
    refuse("{\"a\":\"\xe0\x80\xaf\"}");    /* overlong, three bytes */
    refuse("{\"a\":\"\xed\xa0\x80\"}");    /* a surrogate spelled in UTF-8 */
    refuse("{\"a\":\"\xe2\x82\"}");        /* truncated sequence */
    refuse("{\"a\":\"\x80\"}");            /* lone continuation byte */
    refuse("{\"a\":\"\xf4\x90\x80\x80\"}"); /* beyond U+10FFFF */
    refuse("{\"\xff\":1}");                /* in a name too */
    refuse("{\"a\":\"\\ud800\"}");         /* lone surrogate escape */
}
END_TEST

/* Regression (found by tests/fuzz/fuzz_verifier, fuzz_keys and fuzz_remote):
 * jansson's error text quotes the byte it stopped at ("near '\x1a'"), and
 * that text went unfiltered into the malformed detail, key-file errors and
 * remote-key log lines. Pins that a refusal's message carries no control
 * character, no invalid UTF-8 and no bidi override from the input, and still
 * says what was wrong and where. */
START_TEST(refusal_message_is_sanitised)
{
    static const char *const hostile[] = {
        "{\"a\":1\x1a}", "{\"a\":\x01}", "{\"a\":1,\x1b[31m}", "{\"a\":1\n\"b\"}",
        "{\"a\":1\x7f}", "{\"a\":1\xc2\x85}", "{\"a\":1\xe2\x80\xae}", "{\"a\":1\xff}",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        aud_error err;
        memset(&err, 0, sizeof err);
        ck_assert_ptr_null(aud_json_parse_object(hostile[i], strlen(hostile[i]), &err));
        ck_assert_msg(strstr(err.text, "invalid JSON") != NULL && strstr(err.text, "at byte") != NULL,
                      "case %zu: %s", i, err.text);
        for (const unsigned char *p = (const unsigned char *)err.text; *p != '\0'; p++) {
            ck_assert_msg(*p >= 0x20 && *p < 0x7f, "case %zu: byte 0x%02x in '%s'", i, *p, err.text);
        }
    }
}
END_TEST

/* The fast path (aud_json_parse_fast) reads the plain JSON of tokens and
 * key sets without jansson's lexer and gives everything else to jansson.
 * Pins both halves: real token documents take it, and read exactly as
 * jansson reads them (same values, same member order); anything it does not
 * decide comes back NULL from it and gets jansson's verdict unchanged. */
static void assert_reads_as_jansson(const char *text, bool want_fast)
{
    size_t len = strlen(text);
    json_error_t jerr;
    json_t *authority = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *fast = aud_json_parse_fast(text, len);
    ck_assert_msg((fast != NULL) == want_fast, "fast path %s: %s", fast ? "took" : "gave up on", text);
    json_t *parsed = parse_n(text, len);
    ck_assert_msg((parsed != NULL) == (authority != NULL && json_is_object(authority)),
                  "verdict differs from jansson's (%s): %s", authority ? "accepts" : jerr.text, text);
    if (parsed != NULL) {
        char *a = json_dumps(parsed, JSON_COMPACT), *b = json_dumps(authority, JSON_COMPACT);
        ck_assert_msg(strcmp(a, b) == 0, "read %s, jansson %s", a, b);
        if (fast != NULL) {
            char *c = json_dumps(fast, JSON_COMPACT);
            ck_assert_str_eq(c, b);
            free(c);
        }
        free(a);
        free(b);
    }
    json_decref(authority);
    json_decref(fast);
    json_decref(parsed);
}

START_TEST(fast_path_takes_token_documents)
{
    static const char *const plain[] = {
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rsa1\"}",
        "{\"iss\":\"https://login.microsoftonline.com/72f988bf/v2.0\",\"aud\":[\"api://orders\",\"https://x\"],"
        "\"exp\":1700003600,\"nbf\":-5,\"scp\":\"a b\",\"roles\":[],\"ok\":true,\"no\":false,\"n\":null,"
        "\"cnf\":{\"jkt\":\"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I\"}}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"sXch\",\"e\":\"AQAB\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qY\"}]}",
        " \t\r\n{ \"a\" : [ 1 , { } , [ ] ] , \"\" : \"\" } \n",
        /* escapes that decode to one, two and three bytes */
        "{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\u20AC\",\"k\\u00e9\":1}",
        /* raw UTF-8 of every length */
        "{\"s\":\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
        "{\"max\":999999999999999999,\"min\":-999999999999999999,\"zero\":0,\"minus_zero\":-0}",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        assert_reads_as_jansson(plain[i], true);
    char *deep = nested(AUD_JSON_MAX_DEPTH, '[', ']');
    assert_reads_as_jansson(deep, true);
    free(deep);
}
END_TEST

START_TEST(fast_path_leaves_the_rest_to_jansson)
{
    static const char *const others[] = {
        /* valid, but outside the plain subset: jansson accepts them */
        "{\"exp\":1700000000.5}", "{\"e\":1e3}", "{\"e\":1E-3}", "{\"big\":1000000000000000000}",
        "{\"max\":9223372036854775807}", "{\"s\":\"\\ud83d\\ude00\"}",
        /* invalid: jansson refuses them, with its own message */
        "{\"a\":1,\"a\":2}", "{\"a\\u0000\":1}", "{\"s\":\"\\u0000\"}", "{\"s\":\"\\x41\"}",
        "{\"s\":\"\\u00g1\"}", "{\"s\":\"\\u00\"}", "{\"s\":\"\\ud800\"}", "{\"a\":01}", "{\"a\":-}",
        "{\"a\":- 1}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\"1}", "{\"a\":tru}", "{\"a\":truex}",
        "{\"a\":nul}", "{\"a\":1}x", "{\"a\":1} {}", "[{\"a\":1}]", "\"s\"", "{", "{\"a\"", "{\"a\":\"x",
        "{\"a\":\"x\\", "{1:2}", "{\"a\":1 \"b\":2}", "{\"a\":[1 2]}",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        assert_reads_as_jansson(others[i], false);
    char *deep = nested(AUD_JSON_MAX_DEPTH + 1, '{', '}');
    ck_assert_ptr_null(aud_json_parse_fast(deep, strlen(deep)));
    refuse(deep);
    free(deep);
}
END_TEST

Suite *suite_json(void)
{
    const TTest *tests[] = {
        accepts_objects, honours_length, refuses_other_top_levels, refuses_duplicate_members, refuses_nul,
        refuses_overflowing_numbers, depth_limit_boundary, depth_limit_far_beyond,
        depth_ignores_brackets_in_strings, refuses_trailing_data, refuses_broken_json, refuses_invalid_utf8,
        refusal_message_is_sanitised, fast_path_takes_token_documents, fast_path_leaves_the_rest_to_jansson, NULL};
    return ts_suite("json", "json", tests);
}
