/* The audit log writer (see aud_audit_log.h). */
#include "aud_audit_log.h"

#include <stdlib.h>

#include "apr_hash.h"
#include "apr_strings.h"
#include "http_log.h"
#include "http_protocol.h"

#include "aud_audit.h"
#include "aud_audit_batch.h"
#include "aud_hint.h"
#include "aud_request_state.h"

APLOG_USE_MODULE(auth_aud);

int aud_audit_log_open(apr_pool_t *pconf, server_rec *s)
{
    apr_hash_t *opened = apr_hash_make(pconf);
    aud_audit_sink *sink;

    for (; s != NULL; s = s->next) {
        aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);
        apr_file_t *fd;

        if (sconf->audit_log == NULL)
            continue;
        sink = apr_hash_get(opened, sconf->audit_log, APR_HASH_KEY_STRING);
        if (sink == NULL) {
            if (sconf->audit_log[0] == '|') {
                piped_log *pl = ap_open_piped_log(pconf, sconf->audit_log + 1);
                if (pl == NULL) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                                 AUDLOGNO(0003) "AudAuditLog: cannot start the piped logger %s", sconf->audit_log + 1);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                fd = ap_piped_log_write_fd(pl);
            } else {
                const char *path = ap_server_root_relative(pconf, sconf->audit_log);
                apr_status_t rv;
                if (path == NULL) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AUDLOGNO(0003) "AudAuditLog: invalid path %s",
                                 sconf->audit_log);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                rv = apr_file_open(&fd, path, APR_FOPEN_WRITE | APR_FOPEN_APPEND | APR_FOPEN_CREATE,
                                   APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD, pconf);
                if (rv != APR_SUCCESS) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AUDLOGNO(0003) "AudAuditLog: cannot open %s", path);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
            sink = aud_audit_sink_make(pconf, fd, sconf->audit_log, sconf->audit_log[0] == '|');
            apr_hash_set(opened, sconf->audit_log, APR_HASH_KEY_STRING, sink);
        }
        sconf->audit_sink = sink;
    }
    return OK;
}

/* One record per client request. Internal redirects are new request_recs
 * chained by prev, and their decision replaces the earlier one (a rewrite
 * to another API: the request went where the last one says) -- except an
 * error document's: the request the client sent was decided already, and
 * the page that explains the refusal must not make it two records or
 * another API's. */
void aud_audit_log_keep(request_rec *r, const char *token_fields, const char *api, aud_decision decision,
                        aud_mode mode)
{
    aud_request_state *st = aud_request_state_of(aud_request_root(r), true);

    if (st->kept && r->prev != NULL && ap_is_HTTP_ERROR(r->prev->status))
        return;
    st->kept = true;
    st->token_fields = token_fields;
    st->record_api = api;
    st->decision = decision;
    st->record_mode = mode;
    st->record_from = aud_request_state_of(r, true);
    st->server = r->server;
}

/* An accepted token that authorization refused (or, in audit mode, would
 * have): the record says so, with what was required. */
static aud_decision authz_outcome(request_rec *r, const aud_request_state *st, int status, const char **fields,
                                  const char **hints)
{
    const aud_request_state *from = st->record_from;
    json_t *claims = NULL;
    json_error_t jerr;
    char *text;

    *fields = NULL;
    *hints = NULL;
    if (st->decision != AUD_DECISION_ACCEPT)
        return st->decision;
    if (st->record_mode == AUD_MODE_AUDIT ? st->unmet == NULL : (st->authorized || status != HTTP_FORBIDDEN))
        return st->decision;
    if (from != NULL && from->claims != NULL)
        claims = json_incref(from->claims);
    else if (from != NULL && from->claims_text != NULL)
        claims = json_loads(from->claims_text, 0, &jerr);
    text = aud_audit_authz_fields(st->unmet, claims);
    if (st->n_unmet_values > 0) {
        json_t *list = aud_hints_for_requirement(st->unmet_wants_scope, st->unmet_values, st->n_unmet_values, claims);
        char *h = list && json_array_size(list) > 0 ? json_dumps(list, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (h != NULL)
            *hints = apr_pstrdup(r->pool, h);
        free(h);
        json_decref(list);
    }
    json_decref(claims);
    if (text != NULL) {
        *fields = apr_pstrdup(r->pool, text);
        free(text);
    }
    return st->record_mode == AUD_MODE_AUDIT ? AUD_DECISION_AUDIT_REJECT : AUD_DECISION_REJECT;
}

bool aud_audit_log_wanted(const request_rec *r)
{
    const aud_server_conf *sconf = ap_get_module_config(r->server->module_config, &auth_aud_module);

    return sconf->audit_sink != NULL;
}

int aud_audit_log_write(request_rec *r)
{
    const aud_request_state *st = aud_request_state_of(r, false);
    const request_rec *last = r;
    const aud_server_conf *sconf;
    aud_audit_request req;
    char *line;
    size_t len = 0;

    if (st == NULL || !st->kept)
        return DECLINED;
    sconf = ap_get_module_config(st->server->module_config, &auth_aud_module);
    if (sconf->audit_sink == NULL)
        return DECLINED;
    while (last->next != NULL)
        last = last->next;
    /* An error document that failed itself: httpd sends the error that
     * asked for it (with a note that a second one happened), not its own. */
    int status = last->status;
    if (last->prev != NULL && ap_is_HTTP_ERROR(last->prev->status) && ap_is_HTTP_ERROR(status))
        status = last->prev->status;
    req.time = aud_seconds(r->request_time ? r->request_time : apr_time_now());
    req.api = st->record_api;
    req.uri = r->parsed_uri.path ? r->parsed_uri.path : r->uri;
    req.method = r->method;
    req.client_ip = r->useragent_ip;
    req.status = status;
    req.mode = st->record_mode;
    req.decision = authz_outcome(r, st, status, &req.authz_fields, &req.authz_hints);
    req.request_id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    line = aud_audit_record_with_fields(&req, st->token_fields, &len);
    if (line == NULL)
        return DECLINED;
    aud_audit_sink_write(sconf->audit_sink, line, len);
    free(line);
    return DECLINED;
}
