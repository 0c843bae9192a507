/* The audit log: one record per request, written when the request is
 * logged, so that the record's status is what the client got. */
#ifndef AUD_AUDIT_LOG_H
#define AUD_AUDIT_LOG_H

#include "aud_config.h"

/* Opens every server's AudAuditLog (file or piped logger); virtual hosts
 * that inherit one share it. Failing stops start-up. */
int aud_audit_log_open(apr_pool_t *pconf, server_rec *s);

/* Keeps the decision on r for its record. token_fields is the token's part
 * of the record (aud_audit_token_fields) and must live as long as r. What
 * authorization finds later (aud_request_state) completes the record. */
void aud_audit_log_keep(request_rec *r, const char *token_fields, const char *api, aud_decision decision,
                        aud_mode mode);

/* Whether r's server writes audit records: only then is the token's part
 * of the record worth building. */
bool aud_audit_log_wanted(const request_rec *r);

/* The log_transaction hook: writes the records kept for r. */
int aud_audit_log_write(request_rec *r);

#endif
