#include "aud_log.h"

#include <stdio.h>

void aud_log_emit(const aud_logger *logger, aud_log_level level, const char *fmt, ...)
{
    if (logger == NULL || logger->fn == NULL)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    logger->fn(logger->baton, level, message);
}

void aud_error_set(aud_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}
