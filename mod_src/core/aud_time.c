#include "aud_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char *put_digits(char *p, int value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + value % 10);
        value /= 10;
    }
    return p + width;
}

/* Every audit record carries its time: the digits are written here rather
 * than by snprintf, whose format parsing cost more than the rest of the
 * record's head. The callers keep the year within 0000..9999. */
static void format_parts(time_t secs, int millis, char *buf, size_t len)
{
    struct tm tm;
    char text[sizeof "YYYY-MM-DDTHH:MM:SS.mmmZ"], *p = text;
    if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        snprintf(buf, len, "(out of range)");
        return;
    }
    p = put_digits(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = put_digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = put_digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = put_digits(p, millis, 3);
    *p++ = 'Z';
    /* Truncated like snprintf when buf is short. */
    if (len == 0)
        return;
    size_t n = (size_t)(p - text) < len - 1 ? (size_t)(p - text) : len - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
}

void aud_time_format_rfc3339(double t, char *buf, size_t len)
{
    /* Claims are token-supplied: a huge or NaN exp must not reach the
     * double-to-time_t conversion, which is undefined out of range. */
    if (!(t > -62135596800.0 && t < 253402300800.0)) {
        snprintf(buf, len, "(out of range)");
        return;
    }
    /* Times carry microseconds in a binary double, where .123 may be
     * .12299999: half a microsecond keeps the digits the caller meant. */
    t += 0.0000005;
    double whole = floor(t);
    int millis = (int)((t - whole) * 1000.0);
    if (millis > 999)
        millis = 999;
    format_parts((time_t)whole, millis, buf, len);
}

void aud_time_format_ms(int64_t ms, char *buf, size_t len)
{
    /* The years RFC 3339 can write (0000-9999), which are exactly those
     * aud_time_parse_rfc3339 reads back. */
    if (ms < INT64_C(-62167219200000) || ms > INT64_C(253402300799999)) {
        snprintf(buf, len, "(out of range)");
        return;
    }
    /* Floor division: a time before 1970 still has a fraction in 0..999. */
    int64_t secs = ms >= 0 ? ms / 1000 : -((-(ms + 1)) / 1000) - 1;
    format_parts((time_t)secs, (int)(ms - secs * 1000), buf, len);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil reasoning: shift the year to start in March so the leap
 * day is last). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* The "YYYY-MM-DD" at s (at least 10 bytes) as days since the epoch. */
static bool full_date(const char *s, int64_t *days)
{
    int y, mo, d;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    *days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    return true;
}

bool aud_time_parse_rfc3339(const char *s, size_t n, int64_t *ms_out)
{
    int h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    int64_t days;
    size_t i;

    if (s == NULL || n < 10 || !full_date(s, &days))
        return false;
    if (n > 10) {
        if (n < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
            s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
            return false;
        /* 60 is a leap second, which counts as the last moment of :59. */
        if (h > 23 || mi > 59 || sec > 60)
            return false;
        i = 19;
        if (s[i] == '.') {
            size_t k = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (i - k < 3)
                    ms = ms * 10 + (s[i] - '0');
                i++;
            }
            if (i == k)
                return false;
            for (size_t pad = i - k; pad < 3; pad++)
                ms *= 10;
        }
        if (i >= n)
            return false;
        if (s[i] == 'Z' || s[i] == 'z') {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int oh, om;
            if (n - i < 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || !digits(s + i + 4, 2, &om) ||
                oh > 23 || om > 59)
                return false;
            off = (oh * 60 + om) * 60 * (s[i] == '+' ? 1 : -1);
            i += 6;
        } else {
            return false;
        }
        if (i != n)
            return false;
        if (sec == 60) {
            sec = 59;
            ms = 999;
        }
    }
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - off;
    *ms_out = secs * 1000 + ms;
    return true;
}

bool aud_time_parse_date(const char *s, double *day_start)
{
    int64_t days;
    if (s == NULL || strlen(s) != 10 || !full_date(s, &days))
        return false;
    *day_start = (double)(days * 86400);
    return true;
}

void aud_duration_format(double seconds, char *buf, size_t len)
{
    if (!(seconds >= 0))
        seconds = -seconds;
    if (!(seconds < 1e12)) {
        snprintf(buf, len, "a very long time");
        return;
    }
    long long s = (long long)seconds;
    long long d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
    /* Two units are enough for a person; seconds stop mattering past an hour. */
    if (d > 0 && h > 0)
        snprintf(buf, len, "%lld d %lld h", d, h);
    else if (d > 0)
        snprintf(buf, len, "%lld d", d);
    else if (h > 0 && m > 0)
        snprintf(buf, len, "%lld h %lld min", h, m);
    else if (h > 0)
        snprintf(buf, len, "%lld h", h);
    else if (m > 0)
        snprintf(buf, len, "%lld min", m);
    else
        snprintf(buf, len, "%lld s", s);
}
