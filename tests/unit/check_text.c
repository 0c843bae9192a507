/* aud_text_quote: the one sanitiser for token- and document-derived text in
 * messages. Pins: control characters and line separators never pass, a cut
 * never splits a UTF-8 sequence (a split one made jansson refuse a hint, which
 * then vanished), and the bound holds in characters, not bytes. */
#include <stdbool.h>
#include <string.h>

#include "aud_text.h"
#include "suites.h"
#include "test_support.h"

START_TEST(plain_text_unchanged)
{
    char out[AUD_TEXT_QUOTE_SIZE];
    ck_assert_str_eq(aud_text_quote_str("api://orders", out), "api://orders");
    ck_assert_str_eq(aud_text_quote_str("caf\xc3\xa9", out), "caf\xc3\xa9");
    ck_assert_str_eq(aud_text_quote_str(NULL, out), "");
}
END_TEST

START_TEST(controls_and_separators_replaced)
{
    char out[AUD_TEXT_QUOTE_SIZE];
    ck_assert_str_eq(aud_text_quote_str("a\nb\rc\td\x7f" "e", out), "a?b?c?d?e");
    /* U+0085 (C1 NEL), U+2028, U+2029, U+202E (RLO), U+2066 (LRI). */
    ck_assert_str_eq(aud_text_quote_str("x\xc2\x85y\xe2\x80\xa8z\xe2\x80\xa9w\xe2\x80\xaev\xe2\x81\xa6u", out),
                     "x?y?z?w?v?u");
    /* Invalid UTF-8: a lone continuation byte, an overlong form, a surrogate. */
    ck_assert_str_eq(aud_text_quote_str("a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d", out), "a?b??c???d");
}
END_TEST

START_TEST(cut_in_characters_not_bytes)
{
    char in[256], out[AUD_TEXT_QUOTE_SIZE];
    /* "é" x 120: 240 bytes, cut at 100 characters = 200 bytes + "...". */
    for (int i = 0; i < 120; i++)
        memcpy(in + 2 * i, "\xc3\xa9", 2);
    in[240] = '\0';
    aud_text_quote_str(in, out);
    ck_assert_uint_eq(strlen(out), 203);
    ck_assert(ts_valid_utf8(out));
    ck_assert_str_eq(out + 200, "...");
    /* Exactly at the bound: no ellipsis. */
    in[200] = '\0';
    ck_assert_str_eq(aud_text_quote_str(in, out), in);
}
END_TEST

START_TEST(small_buffer_cuts_between_characters)
{
    char out[8];
    /* Room for 4 bytes before "...": "ab" then "é" fits, "€" (3 bytes) does not. */
    aud_text_quote("ab\xc3\xa9\xe2\x82\xac", 9, 100, out, sizeof out);
    ck_assert_str_eq(out, "ab\xc3\xa9...");
    ck_assert(ts_valid_utf8(out));
    char tiny[2];
    ck_assert_str_eq(aud_text_quote("abc", 3, 100, tiny, sizeof tiny), "");
}
END_TEST

START_TEST(length_not_nul_bounds_the_input)
{
    char out[AUD_TEXT_QUOTE_SIZE];
    ck_assert_str_eq(aud_text_quote("a\0b", 3, 10, out, sizeof out), "a?b");
    ck_assert_str_eq(aud_text_quote("abcdef", 3, 10, out, sizeof out), "abc");
    ck_assert_str_eq(aud_text_quote("abcdef", 6, 2, out, sizeof out), "ab...");
}
END_TEST

Suite *suite_text(void)
{
    const TTest *tests[] = {
        plain_text_unchanged, controls_and_separators_replaced, cut_in_characters_not_bytes,
        small_buffer_cuts_between_characters, length_not_nul_bounds_the_input, NULL};
    return ts_suite("text", "quote", tests);
}
