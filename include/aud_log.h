/* Logging and error reporting for the core.
 *
 * The core never writes to stderr or to a log file itself: whoever embeds it
 * (the httpd module, a command-line tool, a unit test) installs a callback and
 * decides where messages go and at which level they are worth showing. */
#ifndef AUD_LOG_H
#define AUD_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    AUD_LOG_ERROR,
    AUD_LOG_WARNING,
    AUD_LOG_INFO,
    AUD_LOG_DEBUG
} aud_log_level;

typedef void aud_log_fn(void *baton, aud_log_level level, const char *message);

typedef struct {
    aud_log_fn *fn; /* NULL: messages are dropped */
    void *baton;
} aud_logger;

void aud_log_emit(const aud_logger *logger, aud_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error message for the caller to show; sized so that it never needs an
 * allocation on a failure path. */
typedef struct {
    char text[512];
} aud_error;

void aud_error_set(aud_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
