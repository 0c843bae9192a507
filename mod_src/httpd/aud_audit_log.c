/* The audit log writer (see aud_audit_log.h). */
#include "aud_audit_log.h"

#include <stdlib.h>

#include "apr_hash.h"
#include "http_log.h"
#include "http_protocol.h"

#include "aud_audit.h"

APLOG_USE_MODULE(auth_aud);

/* One decision awaiting its audit record. */
typedef struct {
    const char *token_fields;
    const char *api;
    aud_decision decision;
    aud_mode mode;
    server_rec *server;
} kept_decision;

static volatile apr_uint32_t last_write_fail_log;

int aud_audit_log_open(apr_pool_t *pconf, server_rec *s)
{
    apr_hash_t *opened = apr_hash_make(pconf);

    for (; s != NULL; s = s->next) {
        aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);
        apr_file_t *fd;

        if (sconf->audit_log == NULL)
            continue;
        fd = apr_hash_get(opened, sconf->audit_log, APR_HASH_KEY_STRING);
        if (fd == NULL) {
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
            apr_hash_set(opened, sconf->audit_log, APR_HASH_KEY_STRING, fd);
        }
        sconf->audit_fd = fd;
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
    request_rec *root = r;
    kept_decision *d;

    while (root->prev != NULL)
        root = root->prev;
    d = ap_get_module_config(root->request_config, &auth_aud_module);
    if (d != NULL && r->prev != NULL && ap_is_HTTP_ERROR(r->prev->status))
        return;
    if (d == NULL) {
        d = apr_palloc(root->pool, sizeof *d);
        ap_set_module_config(root->request_config, &auth_aud_module, d);
    }
    d->token_fields = token_fields;
    d->api = api;
    d->decision = decision;
    d->mode = mode;
    d->server = r->server;
}

int aud_audit_log_write(request_rec *r)
{
    const kept_decision *d = ap_get_module_config(r->request_config, &auth_aud_module);
    const request_rec *last = r;
    const aud_server_conf *sconf;
    aud_audit_request req;
    char *line;
    size_t len = 0;
    apr_status_t rv;

    if (d == NULL)
        return DECLINED;
    sconf = ap_get_module_config(d->server->module_config, &auth_aud_module);
    if (sconf->audit_fd == NULL)
        return DECLINED;
    while (last->next != NULL)
        last = last->next;
    req.time = aud_seconds(r->request_time ? r->request_time : apr_time_now());
    req.api = d->api;
    req.uri = r->parsed_uri.path ? r->parsed_uri.path : r->uri;
    req.method = r->method;
    req.client_ip = r->useragent_ip;
    req.status = last->status;
    req.mode = d->mode;
    req.decision = d->decision;
    req.request_id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
    line = aud_audit_record_with_fields(&req, d->token_fields, &len);
    if (line == NULL)
        return DECLINED;
    /* One write of the whole line to a file opened for appending: the
     * kernel places it at the end atomically, so records from other threads
     * and processes never interleave. */
    rv = apr_file_write_full(sconf->audit_fd, line, len, NULL);
    free(line);
    if (rv != APR_SUCCESS && aud_rate_limit_ok(&last_write_fail_log))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, AUDLOGNO(0004) "cannot write to the audit log %s",
                      sconf->audit_log);
    return DECLINED;
}
