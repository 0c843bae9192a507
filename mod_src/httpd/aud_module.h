/* What every file of the module's glue shares: the httpd headers, the
 * module record, the log tags, the bridge from core messages to the error
 * log, rate-limited operator errors and the clock.
 *
 * The glue's files, one job each (mod_src/README.md has the map):
 *   mod_auth_aud.c        the module record and its hooks, in start-up order
 *   aud_config.c          per-directory and server settings: merges, directives
 *   aud_config_keys.c     the directives for where keys come from
 *   aud_config_check.c    after the configuration is read: discovery issuers,
 *                         every API as hints see it, start-up lint
 *   aud_verifier_cache.c  the verifiers built from settings, per process
 *   aud_token_cache.c     accepted tokens remembered per process
 *   aud_remote_keys.c     AudJwksUri / AudDiscovery sources in shared memory
 *   aud_request.c         the check_authn hook: from header to response
 *   aud_request_state.h   what one request carries between hooks
 *   aud_authz.c           Require aud-*: authorization on what a token grants
 *   aud_audit_log.c       the audit record of each request, written at logging
 *   aud_audit_batch.c     audit records gathered per thread, written in batches
 *   aud_httpd_log.c       this header's shared functions */
#ifndef AUD_MODULE_H
#define AUD_MODULE_H

#include <stdbool.h>

/* configure passes PACKAGE_* on the command line and httpd's
 * ap_config_auto.h defines them again (as empty strings); ours are not
 * needed in the glue. */
#undef PACKAGE_BUGREPORT
#undef PACKAGE_NAME
#undef PACKAGE_STRING
#undef PACKAGE_TARNAME
#undef PACKAGE_URL
#undef PACKAGE_VERSION

#include "apr_atomic.h"
#include "apr_time.h"
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"

#include "aud_log.h"

extern module AP_MODULE_DECLARE_DATA auth_aud_module;

/* Every message the module writes starts with a stable tag, so that
 * operators can grep and alert on it: AUDLOGNO(0101) "rejected: ..." reads
 * "AUD0101: rejected: ...". aud_log_tags (aud_httpd_log.c) lists every tag
 * with its meaning; a test checks that the table, the sources and README's
 * list agree. */
#define AUDLOGNO(n) "AUD" #n ": "

typedef struct {
    const char *tag; /* "AUD0101" */
    const char *meaning;
} aud_log_tag;

extern const aud_log_tag aud_log_tags[];

/* A logger for the core that writes each message to the error log of s,
 * behind tag (an AUDLOGNO), at the httpd level matching the core's. */
aud_logger aud_httpd_logger(apr_pool_t *p, server_rec *s, const char *tag);

/* An operator mistake must show at the default log level, but a flood of
 * requests must not flood the log: true at most once a minute per process
 * for each last. */
bool aud_rate_limit_ok(volatile apr_uint32_t *last);

/* httpd's clock, in the core's unit (seconds since the epoch). */
static inline double aud_seconds(apr_time_t t)
{
    return (double)t / (double)APR_USEC_PER_SEC;
}

/* The clock for the core's verifiers and key sources (aud_now_fn). */
double aud_clock_now(void *baton);

#endif
