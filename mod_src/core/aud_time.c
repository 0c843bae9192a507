#include "aud_time.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

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
    time_t secs = (time_t)whole;
    int millis = (int)((t - whole) * 1000.0);
    if (millis > 999)
        millis = 999;
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, len, "(out of range)");
        return;
    }
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
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
