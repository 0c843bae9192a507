/* The one RFC 3339 reader and writer (aud_time.h). Pins: every field range
 * is checked against the real calendar (2026-02-30 and 2025-02-29 refused),
 * fractions are truncated to milliseconds, never rounded, a date alone is
 * its midnight UTC, nothing may follow, and what aud_time_format_ms writes
 * reads back as the same millisecond. aud-audit's --since/--until and the
 * module's AudAllowUntil depend on these exact answers. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "aud_time.h"
#include "suites.h"
#include "test_support.h"

/* 2026-11-23T00:00:00Z, worked out by hand: 20,415 days after 1970-01-01. */
#define NOV23_MS INT64_C(1795392000000)

static bool parse(const char *s, int64_t *ms)
{
    return aud_time_parse_rfc3339(s, strlen(s), ms);
}

static int64_t parsed(const char *s)
{
    int64_t ms = INT64_MIN;
    ck_assert_msg(parse(s, &ms), "'%s' should parse", s);
    return ms;
}

START_TEST(parse_fixed_values)
{
    ck_assert_int_eq(parsed("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(parsed("2026-11-23T00:00:00Z"), NOV23_MS);
    ck_assert_int_eq(parsed("2026-11-23T10:15:02.123Z"), NOV23_MS + (10 * 3600 + 15 * 60 + 2) * 1000 + 123);
    ck_assert_int_eq(parsed("1969-12-31T23:59:59.999Z"), -1);
    ck_assert_int_eq(parsed("2000-02-29T12:00:00Z"), INT64_C(951825600000));
    /* Lower-case separators and a space for T, as RFC 3339 section 5.6 allows. */
    ck_assert_int_eq(parsed("2026-11-23t00:00:00z"), NOV23_MS);
    ck_assert_int_eq(parsed("2026-11-23 00:00:00Z"), NOV23_MS);
}
END_TEST

START_TEST(parse_offsets)
{
    ck_assert_int_eq(parsed("2026-11-23T01:00:00+01:00"), NOV23_MS);
    ck_assert_int_eq(parsed("2026-11-22T19:00:00-05:00"), NOV23_MS);
    ck_assert_int_eq(parsed("2026-11-23T05:30:00+05:30"), NOV23_MS);
    ck_assert_int_eq(parsed("2026-11-23T00:00:00-00:00"), NOV23_MS);
    ck_assert_int_eq(parsed("2026-11-23T23:59:00+23:59"), NOV23_MS);
}
END_TEST

START_TEST(parse_fractions_truncate)
{
    ck_assert_int_eq(parsed("2026-11-23T00:00:00.1Z"), NOV23_MS + 100);
    ck_assert_int_eq(parsed("2026-11-23T00:00:00.12Z"), NOV23_MS + 120);
    ck_assert_int_eq(parsed("2026-11-23T00:00:00.0009Z"), NOV23_MS);
    /* .9999999 is truncated, not rounded up into the next second. */
    ck_assert_int_eq(parsed("2026-11-22T23:59:59.9999999Z"), NOV23_MS - 1);
    ck_assert_int_eq(parsed("2026-11-23T00:00:00.123456789012345678901234567890Z"), NOV23_MS + 123);
}
END_TEST

START_TEST(parse_date_alone_is_midnight_utc)
{
    ck_assert_int_eq(parsed("2026-11-23"), NOV23_MS);
    ck_assert_int_eq(parsed("1970-01-01"), 0);
}
END_TEST

START_TEST(parse_boundaries)
{
    ck_assert_int_eq(parsed("2026-12-31T23:59:59.999Z"), INT64_C(1798761599999));
    ck_assert_int_eq(parsed("2024-02-29"), INT64_C(1709164800000));
    ck_assert_int_eq(parsed("2000-02-29"), INT64_C(951782400000));
    /* A leap second is the last moment of its minute. */
    ck_assert_int_eq(parsed("2016-12-31T23:59:60Z"), INT64_C(1483228799999));
    ck_assert_int_eq(parsed("0000-01-01T00:00:00Z"), INT64_C(-62167219200000));
    ck_assert_int_eq(parsed("9999-12-31T23:59:59.999Z"), INT64_C(253402300799999));
}
END_TEST

START_TEST(parse_refusals)
{
    static const char *const bad[] = {
        "", "2026", "2026-11", "2026-11-2", "2026-1-23", "26-11-23",
        "2026-02-30", "2025-02-29", "1900-02-29", "2026-04-31", "2026-13-01", "2026-00-10", "2026-11-00",
        "2026-11-32", "2026/11/23", "2026-11-23T", "2026-11-23T10:15Z", "2026-11-23T10:15:02",
        "2026-11-23T24:00:00Z", "2026-11-23T10:60:00Z", "2026-11-23T10:15:61Z", "2026-11-23X10:15:02Z",
        "2026-11-23T10:15:02.Z", "2026-11-23T10:15:02.123", "2026-11-23T10:15:02+0100",
        "2026-11-23T10:15:02+01", "2026-11-23T10:15:02+24:00", "2026-11-23T10:15:02+01:60",
        "2026-11-23T10:15:02Zjunk", "2026-11-23 ", " 2026-11-23", "2026-11-23T10:15:02 Z",
        "+2026-11-23", "2026-11-23T1:15:02Z", "2026-11-23T10:15:02,5Z", "２026-11-23",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        ck_assert_msg(!parse(bad[i], &ms), "'%s' should be refused", bad[i]);
        ck_assert_int_eq(ms, 42);
    }
    /* Only the n bytes given are read: a valid prefix of a longer buffer
     * counts, the same text cut short does not. */
    int64_t ms = 0;
    ck_assert(aud_time_parse_rfc3339("2026-11-23T00:00:00Zgarbage", 20, &ms));
    ck_assert_int_eq(ms, NOV23_MS);
    ck_assert(!aud_time_parse_rfc3339("2026-11-23T00:00:00Z", 19, &ms));
    ck_assert(!aud_time_parse_rfc3339(NULL, 0, &ms));
}
END_TEST

START_TEST(format_ms_fixed_values)
{
    char buf[64];
    aud_time_format_ms(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    aud_time_format_ms(NOV23_MS + 37 * 1000 + 7, buf, sizeof buf);
    ck_assert_str_eq(buf, "2026-11-23T00:00:37.007Z");
    aud_time_format_ms(-1, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
    aud_time_format_ms(-1000, buf, sizeof buf);
    ck_assert_str_eq(buf, "1969-12-31T23:59:59.000Z");
    aud_time_format_ms(INT64_C(253402300799999), buf, sizeof buf);
    ck_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
    /* RFC 3339 has four-digit years only; the text says so instead. */
    aud_time_format_ms(INT64_MIN, buf, sizeof buf);
    ck_assert_str_eq(buf, "(out of range)");
    aud_time_format_ms(INT64_C(253402300800000), buf, sizeof buf);
    ck_assert_str_eq(buf, "(out of range)");
    aud_time_format_ms(INT64_C(-62167219200001), buf, sizeof buf);
    ck_assert_str_eq(buf, "(out of range)");
    aud_time_format_ms(INT64_C(-62167219200000), buf, sizeof buf);
    ck_assert_str_eq(buf, "0000-01-01T00:00:00.000Z");
    /* A short buffer is cut, still terminated. */
    char small[8];
    aud_time_format_ms(0, small, sizeof small);
    ck_assert_str_eq(small, "1970-01");
}
END_TEST

START_TEST(format_and_parse_round_trip)
{
    static const int64_t values[] = {
        0, 1, -1, 999, 1000, NOV23_MS, NOV23_MS + 86399999, INT64_C(951825600000), INT64_C(1483228799999),
        INT64_C(-62167219200000), INT64_C(253402300799999), INT64_C(4102444800123),
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[64];
        int64_t back = 0;
        aud_time_format_ms(values[i], buf, sizeof buf);
        ck_assert_msg(parse(buf, &back), "'%s' should parse", buf);
        ck_assert_int_eq(back, values[i]);
    }
    /* The double formatter used for token claims agrees on whole ms. */
    char a[64], b[64];
    aud_time_format_rfc3339(1795392000.123, a, sizeof a);
    aud_time_format_ms(NOV23_MS + 123, b, sizeof b);
    ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(parse_date_real_days_only)
{
    double start = -1;
    ck_assert(aud_time_parse_date("2026-11-23", &start));
    ck_assert(start == 1795392000.0);
    ck_assert(aud_time_parse_date("2024-02-29", &start));
    ck_assert(start == 1709164800.0);
    ck_assert(aud_time_parse_date("1970-01-01", &start));
    ck_assert(start == 0.0);
    ck_assert(aud_time_parse_date("2026-12-31", &start));
    ck_assert(start == 1798675200.0);

    static const char *const bad[] = {
        "2026-02-30", "2025-02-29", "2100-02-29", "2026-04-31", "2026-13-01", "2026-00-01", "2026-01-00",
        "2026-11-23T00:00:00Z", "2026-11-23 ", " 2026-11-23", "2026-11-2", "20261123", "2026-11-23\n",
        "2026-1-023", "2026-11-+3", "", "yyyy-mm-dd",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        start = 42;
        ck_assert_msg(!aud_time_parse_date(bad[i], &start), "'%s' should be refused", bad[i]);
        ck_assert(start == 42);
    }
    ck_assert(!aud_time_parse_date(NULL, &start));
}
END_TEST

Suite *suite_time(void)
{
    const TTest *tests[] = {
        parse_fixed_values, parse_offsets, parse_fractions_truncate, parse_date_alone_is_midnight_utc,
        parse_boundaries, parse_refusals, format_ms_fixed_values, format_and_parse_round_trip,
        parse_date_real_days_only, NULL};
    return ts_suite("time", "rfc3339", tests);
}
