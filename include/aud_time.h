/* Time in words, for people reading tokens and audit records. */
#ifndef AUD_TIME_H
#define AUD_TIME_H

#include <stddef.h>

/* RFC 3339 UTC with milliseconds: "2026-11-23T10:15:02.123Z". */
void aud_time_format_rfc3339(double t, char *buf, size_t len);

/* A positive span, coarsened for people: "41 s", "12 min", "3 h 12 min",
 * "2 d 4 h". */
void aud_duration_format(double seconds, char *buf, size_t len);

#endif
