/* base64url as JWS uses it: one accepted spelling for every byte string. */
#include <stdlib.h>
#include <string.h>

#include "aud_b64.h"
#include "suites.h"
#include "test_support.h"

static const char url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void assert_decodes_to(const char *in, const void *want, size_t want_len)
{
    unsigned char *out = NULL;
    size_t out_len = 12345;
    ck_assert_msg(aud_b64url_decode(in, strlen(in), &out, &out_len), "'%s' refused", in);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(out_len, want_len);
    ck_assert_mem_eq(out, want, want_len);
    ck_assert_msg(out[out_len] == '\0', "'%s' decoded without a terminating NUL", in);
    free(out);
}

static void assert_refused(const char *in, size_t len)
{
    unsigned char *out = NULL;
    size_t out_len = 0;
    ck_assert_msg(!aud_b64url_decode(in, len, &out, &out_len), "'%.*s' (%zu bytes) accepted", (int)len, in, len);
    free(out); /* harmless when the decoder left it NULL, and catches a leak */
}

/* RFC 4648 section 10, without the padding that base64url in JWS drops. */
START_TEST(rfc4648_vectors)
{
    static const struct {
        const char *plain, *encoded;
    } v[] = {
        {"", ""},           {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_decodes_to(v[i].encoded, v[i].plain, strlen(v[i].plain));
        char *enc = aud_b64url_encode((const unsigned char *)v[i].plain, strlen(v[i].plain));
        ck_assert_ptr_nonnull(enc);
        ck_assert_str_eq(enc, v[i].encoded);
        free(enc);
    }
}
END_TEST

/* The two characters where base64url differs from base64 (62 and 63). */
START_TEST(url_alphabet_values)
{
    static const unsigned char fbff[] = {0xfb, 0xff};
    static const unsigned char dashes[] = {0xfb, 0xef, 0xbe};
    static const unsigned char ones[] = {0xff, 0xff, 0xff};
    assert_decodes_to("-_8", fbff, sizeof fbff);
    assert_decodes_to("----", dashes, sizeof dashes);
    assert_decodes_to("____", ones, sizeof ones);
    char *enc = aud_b64url_encode(fbff, sizeof fbff);
    ck_assert_str_eq(enc, "-_8");
    free(enc);
}
END_TEST

START_TEST(refuses_padding)
{
    assert_refused("Zg==", 4);
    assert_refused("Zg=", 3);
    assert_refused("Zm8=", 4);
    assert_refused("Zm9v====", 8);
    assert_refused("=", 1);
    assert_refused("Zm9v=", 5);
}
END_TEST

START_TEST(refuses_standard_alphabet)
{
    /* "+w" and "/w" are what base64 (not base64url) writes for 0xfb / 0xff. */
    assert_refused("+w", 2);
    assert_refused("/w", 2);
    assert_refused("ab+c", 4);
    assert_refused("ab/c", 4);
    assert_refused("++++", 4);
    assert_refused("////", 4);
}
END_TEST

START_TEST(refuses_whitespace_and_strangers)
{
    static const char *const bad[] = {"Zm 9v", "Zm9v\n", "\nZm9v", "Zm9v\r\n", "\tZm9v", "Zm9v ", "Zm.9v",
                                      "Zm9!", "Zm9v*A", "Zm\\9v", "Zm9\x80", "Zm9\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(bad[i], strlen(bad[i]));
    /* A NUL inside the given length is a stranger too, not an end. */
    assert_refused("Zm9v\0Zm9v", 9);
    assert_refused("Zm\0v", 4);
}
END_TEST

START_TEST(refuses_nonzero_trailing_bits)
{
    /* "QQ" and "QR" differ only in bits past the last whole byte: accepting
     * both would give one byte string two spellings. */
    static const unsigned char a[] = {'A'};
    assert_decodes_to("QQ", a, 1);
    assert_refused("QR", 2);
    assert_refused("QT", 2);
    assert_refused("Qf", 2);
    assert_decodes_to("Zm8", "fo", 2);
    assert_refused("Zm9", 3);
    assert_refused("Zm-", 3);
}
END_TEST

START_TEST(refuses_impossible_length)
{
    /* Six bits cannot make a byte: length % 4 == 1 is never an encoding. */
    assert_refused("Z", 1);
    assert_refused("Zm9vY", 5);
    assert_refused("Zm9vYmFyZ", 9);
    /* 'A' carries six zero bits, so only the length rule refuses these. */
    assert_refused("A", 1);
    assert_refused("Zm9vA", 5);
    assert_refused("AAAAA", 5);
    assert_refused("Zm9vYmFyA", 9);
}
END_TEST

START_TEST(honours_length)
{
    /* The decoder must stop at in_len, not at a NUL: token segments are
     * decoded in place from the middle of a longer string. */
    unsigned char *out = NULL;
    size_t out_len = 0;
    ck_assert(aud_b64url_decode("Zm9vYmFy", 4, &out, &out_len));
    ck_assert_uint_eq(out_len, 3);
    ck_assert_mem_eq(out, "foo", 3);
    free(out);
    ck_assert(aud_b64url_decode("Zm9v.garbage", 4, &out, &out_len));
    ck_assert_uint_eq(out_len, 3);
    free(out);
    ck_assert(aud_b64url_decode("", 0, &out, &out_len));
    ck_assert_uint_eq(out_len, 0);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(out[0], '\0');
    free(out);
}
END_TEST

/* Every two- and three-character string over the alphabet: it decodes exactly
 * when encoding the result gives it back, so each byte string has one
 * accepted encoding and every accepted encoding round-trips. */
START_TEST(canonical_exhaustive)
{
    char in[4] = {0};
    size_t accepted2 = 0, accepted3 = 0;
    for (int a = 0; a < 64; a++) {
        for (int b = 0; b < 64; b++) {
            in[0] = url_alphabet[a];
            in[1] = url_alphabet[b];
            for (int c = -1; c < 64; c++) {
                size_t len = c < 0 ? 2 : 3;
                in[2] = c < 0 ? '\0' : url_alphabet[c];
                unsigned char *out = NULL;
                size_t out_len = 0;
                bool ok = aud_b64url_decode(in, len, &out, &out_len);
                /* Two characters carry one byte and four spare bits; three
                 * carry two bytes and two spare bits. */
                bool canonical = c < 0 ? (b & 0x0f) == 0 : (c & 0x03) == 0;
                ck_assert_msg(ok == canonical, "'%s': decoder says %d, spare bits say %d", in, ok, canonical);
                if (ok) {
                    ck_assert_uint_eq(out_len, len - 1);
                    char *back = aud_b64url_encode(out, out_len);
                    ck_assert_str_eq(back, in);
                    free(back);
                    if (len == 2)
                        accepted2++;
                    else
                        accepted3++;
                }
                free(out);
            }
        }
    }
    ck_assert_uint_eq(accepted2, 256);
    ck_assert_uint_eq(accepted3, 65536);
}
END_TEST

START_TEST(round_trip)
{
    unsigned char buf[300];
    /* A fixed pseudo-random sequence: reproducible, and it covers every byte
     * value at every position modulo 3. */
    uint32_t x = 2463534242u;
    for (size_t len = 0; len <= sizeof buf; len++) {
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (unsigned char)(len % 2 ? x : (i * 7 + len));
        }
        char *enc = aud_b64url_encode(buf, len);
        ck_assert_ptr_nonnull(enc);
        size_t enc_len = strlen(enc);
        ck_assert_uint_eq(enc_len, (len * 4 + 2) / 3);
        ck_assert_uint_eq(strspn(enc, url_alphabet), enc_len);
        unsigned char *dec = NULL;
        size_t dec_len = 0;
        ck_assert_msg(aud_b64url_decode(enc, enc_len, &dec, &dec_len), "own encoding of %zu bytes refused", len);
        ck_assert_uint_eq(dec_len, len);
        if (len > 0)
            ck_assert_mem_eq(dec, buf, len);
        free(dec);
        free(enc);
    }
}
END_TEST

START_TEST(all_byte_values)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *enc = aud_b64url_encode(all, sizeof all);
    ck_assert_ptr_nonnull(enc);
    ck_assert_ptr_null(strchr(enc, '='));
    ck_assert_ptr_null(strchr(enc, '+'));
    ck_assert_ptr_null(strchr(enc, '/'));
    assert_decodes_to(enc, all, sizeof all);
    free(enc);
}
END_TEST

/* The decoder takes four characters per step and tests the group at once:
 * one stranger at any place in a group or in the tail must still refuse the
 * whole input. */
START_TEST(stranger_at_every_position)
{
    unsigned char plain[30];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 1; len <= sizeof plain; len++) {
        char *enc = aud_b64url_encode(plain, len);
        ck_assert_ptr_nonnull(enc);
        size_t enc_len = strlen(enc);
        for (size_t at = 0; at < enc_len; at++) {
            char saved = enc[at];
            for (int byte = 0; byte < 256; byte++) {
                if (byte != 0 && strchr(url_alphabet, byte) != NULL)
                    continue;
                enc[at] = (char)byte;
                assert_refused(enc, enc_len);
            }
            enc[at] = saved;
        }
        free(enc);
    }
}
END_TEST

Suite *suite_b64(void)
{
    const TTest *tests[] = {
        rfc4648_vectors, url_alphabet_values, refuses_padding, refuses_standard_alphabet,
        refuses_whitespace_and_strangers, refuses_nonzero_trailing_bits, refuses_impossible_length,
        honours_length, canonical_exhaustive, round_trip, all_byte_values, stranger_at_every_position, NULL};
    return ts_suite("b64", "b64", tests);
}
