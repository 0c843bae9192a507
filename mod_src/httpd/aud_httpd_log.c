/* The glue's shared functions (see aud_module.h). */
#include "aud_module.h"

APLOG_USE_MODULE(auth_aud);

const aud_log_tag aud_log_tags[] = {
    {"AUD0001", "a message of the core while loading keys"},
    {"AUD0002", "an AudSecretFile readable by group or others"},
    {"AUD0003", "the audit log cannot be opened (start-up fails)"},
    {"AUD0004", "a write to the audit log failed, or its flusher thread did not start"},
    {"AUD0010", "a location with AuthType Bearer and no AudAllow"},
    {"AUD0011", "a location with AuthType Bearer and no keys"},
    {"AUD0012", "a verifier cannot be built"},
    {"AUD0020", "start-up lint of a section's settings (warning)"},
    {"AUD0030", "remote keys: fetches, failures, stale keys"},
    {"AUD0031", "a location's remote keys are not available"},
    {"AUD0101", "a token rejected (info)"},
    {"AUD0102", "audit mode: a token that would be rejected (info)"},
    {"AUD0103", "a token accepted (debug)"},
    {"AUD0104", "a token accepted with hints (info)"},
    {NULL, NULL}};

typedef struct {
    server_rec *server;
    const char *tag;
} log_target;

static void log_to_httpd(void *baton, aud_log_level level, const char *message)
{
    const log_target *to = baton;
    int ap_level = level == AUD_LOG_ERROR     ? APLOG_ERR
                   : level == AUD_LOG_WARNING ? APLOG_WARNING
                   : level == AUD_LOG_INFO    ? APLOG_INFO
                                              : APLOG_DEBUG;

    ap_log_error(APLOG_MARK, ap_level, 0, to->server, "%s%s", to->tag, message);
}

aud_logger aud_httpd_logger(apr_pool_t *p, server_rec *s, const char *tag)
{
    log_target *to = apr_palloc(p, sizeof *to);
    aud_logger logger = {log_to_httpd, to};

    to->server = s;
    to->tag = tag;
    return logger;
}

bool aud_rate_limit_ok(volatile apr_uint32_t *last)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t prev = apr_atomic_read32(last);

    if (prev != 0 && now - prev < 60)
        return false;
    return apr_atomic_cas32(last, now, prev) == prev;
}

double aud_clock_now(void *baton)
{
    (void)baton;
    return aud_seconds(apr_time_now());
}
