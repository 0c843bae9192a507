/* Time in words, for people reading tokens and audit records, and back:
 * the one RFC 3339 reader and writer of the project. */
#ifndef AUD_TIME_H
#define AUD_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 3339 UTC with milliseconds: "2026-11-23T10:15:02.123Z". */
void aud_time_format_rfc3339(double t, char *buf, size_t len);

/* The same for whole milliseconds since the epoch (exact: no binary
 * fraction to round). "(out of range)" when the calendar cannot say it. */
void aud_time_format_ms(int64_t ms, char *buf, size_t len);

/* The n bytes at s as an RFC 3339 date-time ("2026-11-23T10:15:02.123Z",
 * 't' and ' ' accepted for 'T', 'z' for 'Z', any offset "+HH:MM"/"-HH:MM",
 * any number of fraction digits, truncated to milliseconds; a leap second
 * :60 counts as :59.999), or a full-date alone ("2026-11-23": its midnight
 * UTC). Strict: every field's range is checked against the real calendar
 * (2026-02-30 is refused) and nothing may follow. Sets *ms to milliseconds
 * since the epoch; false (and *ms untouched) when s is not such a time. */
bool aud_time_parse_rfc3339(const char *s, size_t n, int64_t *ms);

/* The NUL-terminated s as exactly "YYYY-MM-DD", a real calendar day; sets
 * *day_start to the start of that day in UTC, in seconds since the epoch.
 * False (and *day_start untouched) for anything else. */
bool aud_time_parse_date(const char *s, double *day_start);

/* A positive span, coarsened for people: "41 s", "12 min", "3 h 12 min",
 * "2 d 4 h". */
void aud_duration_format(double seconds, char *buf, size_t len);

#endif
