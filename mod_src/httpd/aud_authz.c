/* Authorization (see aud_authz.h). The providers see only tokens this
 * module accepted; in audit mode they grant and record what they would
 * have refused, so that the audit log shows which callers would lose
 * access before go-live. */
#include "aud_authz.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_strings.h"
#include "ap_provider.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include "aud_bearer.h"
#include "aud_claim.h"
#include "aud_config.h"
#include "aud_request_state.h"
#include "aud_result.h"

APLOG_USE_MODULE(auth_aud);

typedef enum { REQ_SCOPE, REQ_ROLE, REQ_CLAIM, REQ_CLIENT } requirement_kind;

typedef struct {
    requirement_kind kind;
    aud_claim_ref *claim; /* aud-claim only */
    const char **values;
    size_t n_values;
    const char *required_json; /* the record's "required" */
    const char *scope_text;    /* aud-scope: the challenge's scope="..." */
} requirement;

static const char *const provider_names[] = {"aud-scope", "aud-role", "aud-claim", "aud-client"};

/* ------------------------------------------------------ configuration */

/* Blocks that shape Require lines inside a section rather than name one. */
static bool is_require_block(const ap_directive_t *d)
{
    static const char *const blocks[] = {"<Require", "<Limit", "<If", "<ElseIf", "<Else"};

    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
        if (strncasecmp(d->directive, blocks[i], strlen(blocks[i])) == 0)
            return true;
    }
    return false;
}

/* The <Location> (or other section) a directive is in, past <RequireAll>,
 * <Limit> and friends. */
static const ap_directive_t *enclosing_section(const ap_directive_t *d)
{
    d = d ? d->parent : NULL;
    while (d != NULL && is_require_block(d))
        d = d->parent;
    return d;
}

/* 1: the section itself says AuthType Bearer; -1: another AuthType; 0:
 * none (it may inherit one). */
static int section_auth_type(apr_pool_t *p, const ap_directive_t *section)
{
    for (const ap_directive_t *d = section ? section->first_child : NULL; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "AuthType") == 0) {
            const char *args = d->args;
            return strcasecmp(ap_getword_conf(p, &args), "Bearer") == 0 ? 1 : -1;
        }
    }
    return 0;
}

static const char *section_path(apr_pool_t *p, const ap_directive_t *section)
{
    const char *args = section->args;
    char *path = ap_getword_conf(p, &args);
    size_t n = strlen(path);

    if (n > 0 && path[n - 1] == '>')
        path[n - 1] = '\0';
    return path;
}

/* Whether tokens reach this section through this module: it says AuthType
 * Bearer, or it inherits that from a section of the same kind whose path
 * contains its own (a <Location /api/orders> under <Location /api>). */
static bool section_is_bearer(cmd_parms *cmd)
{
    const ap_directive_t *section = enclosing_section(cmd->directive);
    int own = section_auth_type(cmd->temp_pool, section);

    if (own != 0 || section == NULL)
        return own > 0;
    const char *path = section_path(cmd->temp_pool, section);
    for (const ap_directive_t *d = section->parent ? section->parent->first_child : ap_conftree; d != NULL;
         d = d->next) {
        if (d == section || strcasecmp(d->directive, section->directive) != 0)
            continue;
        const char *other = section_path(cmd->temp_pool, d);
        if (strncmp(path, other, strlen(other)) == 0 && section_auth_type(cmd->temp_pool, d) > 0)
            return true;
    }
    return false;
}

void aud_authz_forbid_on_failure(cmd_parms *cmd)
{
    aud_dir_conf *conf = ap_get_module_config(cmd->context, &auth_aud_module);
    ap_directive_t *saved = cmd->directive;
    ap_directive_t d;

    if (conf == NULL || conf->forbid_on_failure || cmd->path == NULL || !section_is_bearer(cmd))
        return;
    conf->forbid_on_failure = 1;
    memset(&d, 0, sizeof d);
    d.directive = "AuthzSendForbiddenOnFailure";
    d.args = "On";
    d.filename = saved->filename;
    d.line_num = saved->line_num;
    d.parent = saved->parent;
    ap_walk_config(&d, cmd, cmd->context);
    cmd->directive = saved;
}

static apr_status_t free_claim_ref(void *data)
{
    aud_claim_ref_free(data);
    return APR_SUCCESS;
}

static char *json_text(apr_pool_t *p, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    char *copy = text ? apr_pstrdup(p, text) : NULL;

    free(text);
    json_decref(value);
    return copy;
}

static const char *parse_requirement(cmd_parms *cmd, const char *line, const void **parsed,
                                     requirement_kind kind)
{
    const char *name = provider_names[kind];
    requirement *req = apr_pcalloc(cmd->pool, sizeof *req);
    apr_array_header_t *values = apr_array_make(cmd->pool, 4, sizeof(const char *));
    aud_dir_conf *conf = ap_get_module_config(cmd->context, &auth_aud_module);
    json_t *list = json_array(), *required;
    const char *word;

    if (!section_is_bearer(cmd))
        return apr_psprintf(cmd->pool, "Require %s: this section has no AuthType Bearer, so no token this module "
                                       "accepted can reach it", name);
    req->kind = kind;
    while (*(word = ap_getword_conf(cmd->pool, &line)) != '\0') {
        if (kind == REQ_CLAIM && req->claim == NULL) {
            aud_error err = {{0}};
            req->claim = aud_claim_ref_parse(word, &err);
            if (req->claim == NULL)
                return apr_psprintf(cmd->pool, "Require aud-claim: %s", err.text);
            apr_pool_cleanup_register(cmd->pool, req->claim, free_claim_ref, apr_pool_cleanup_null);
            continue;
        }
        APR_ARRAY_PUSH(values, const char *) = word;
        json_array_append_new(list, json_string(word));
    }
    if (values->nelts == 0) {
        json_decref(list);
        return apr_psprintf(cmd->pool, kind == REQ_CLAIM ? "Require %s: give a claim and at least one value"
                                                          : "Require %s: give at least one value",
                            name);
    }
    req->values = (const char **)values->elts;
    req->n_values = (size_t)values->nelts;
    if (kind == REQ_SCOPE)
        req->scope_text = apr_array_pstrcat(cmd->pool, values, ' ');
    if (kind == REQ_CLAIM)
        required = json_pack("{s:s,s:o}", "claim", aud_claim_ref_name(req->claim), "values", list);
    else
        required = json_pack("{s:o}", kind == REQ_SCOPE ? "scope" : kind == REQ_ROLE ? "role" : "client", list);
    req->required_json = json_text(cmd->pool, required);
    if (conf != NULL)
        conf->set |= AUD_SET_NEEDS_CLAIMS;
    aud_authz_forbid_on_failure(cmd);
    *parsed = req;
    return NULL;
}

#define PARSER(kind, fn)                                                                                        \
    static const char *fn(cmd_parms *cmd, const char *line, const void **parsed)                                \
    {                                                                                                           \
        return parse_requirement(cmd, line, parsed, kind);                                                      \
    }
PARSER(REQ_SCOPE, parse_scope)
PARSER(REQ_ROLE, parse_role)
PARSER(REQ_CLAIM, parse_claim)
PARSER(REQ_CLIENT, parse_client)
#undef PARSER

/* ----------------------------------------------------------- requests */

static apr_status_t release_claims(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

static const json_t *claims_of(request_rec *r, aud_request_state *st)
{
    json_error_t jerr;

    if (st->claims == NULL && st->claims_text != NULL) {
        st->claims = json_loads(st->claims_text, 0, &jerr);
        if (st->claims != NULL)
            apr_pool_cleanup_register(r->pool, st->claims, release_claims, apr_pool_cleanup_null);
    }
    return st->claims;
}

#define WORDS_MAX 256

static bool requirement_met(const requirement *req, const json_t *claims)
{
    aud_claim_word words[WORDS_MAX];
    const char *client;
    aud_result view;

    switch (req->kind) {
    case REQ_SCOPE:
        return aud_claim_has_any(words, aud_claim_scopes(claims, words, WORDS_MAX), req->values, req->n_values);
    case REQ_ROLE:
        return aud_claim_has_any(words, aud_claim_roles(claims, words, WORDS_MAX), req->values, req->n_values);
    case REQ_CLAIM:
        return aud_claim_value_matches(aud_claim_ref_get(req->claim, claims), req->values, req->n_values);
    case REQ_CLIENT:
        /* The client as everything else in the module names it. */
        memset(&view, 0, sizeof view);
        view.claims = (json_t *)claims;
        client = aud_result_client(&view);
        for (size_t i = 0; client != NULL && i < req->n_values; i++) {
            if (strcmp(client, req->values[i]) == 0)
                return true;
        }
        return false;
    }
    return false;
}

/* The first unmet requirement is what the record and the challenge name. */
static void set_unmet(aud_request_state *st, const requirement *req)
{
    if (st->unmet != NULL)
        return;
    st->unmet = req->required_json;
    st->unmet_scope = req->scope_text;
    if (req->kind == REQ_SCOPE || req->kind == REQ_ROLE) {
        st->unmet_wants_scope = req->kind == REQ_SCOPE;
        st->unmet_values = req->values;
        st->n_unmet_values = req->n_values;
    }
}

static void note_unmet(request_rec *r, aud_request_state *st, const requirement *req)
{
    set_unmet(st, req);
    if (r->main == NULL)
        set_unmet(aud_request_state_of(aud_request_root(r), true), req);
}

static authz_status check_requirement(request_rec *r, const char *line, const void *parsed)
{
    const requirement *req = parsed;
    aud_request_state *st = aud_request_decided(r);

    if (st == NULL)
        return r->user ? AUTHZ_DENIED : AUTHZ_DENIED_NO_USER;
    if (st->preflight)
        return AUTHZ_GRANTED;
    if (st->mode == AUD_MODE_AUDIT) {
        /* Audit mode lets every request through; a token that would be
         * refused is already recorded as such. */
        if (st->accepted && !requirement_met(req, claims_of(r, st)))
            note_unmet(r, st, req);
        return AUTHZ_GRANTED;
    }
    if (!st->accepted)
        return AUTHZ_DENIED;
    if (requirement_met(req, claims_of(r, st)))
        return AUTHZ_GRANTED;
    note_unmet(r, st, req);
    return AUTHZ_DENIED;
}

/* Authorization passed (fixups run only then), for the record. */
static int hook_fixups(request_rec *r)
{
    aud_request_state *st = aud_request_decided(r);

    if (st == NULL)
        return DECLINED;
    st->authorized = true;
    if (r->main == NULL && !(r->prev != NULL && ap_is_HTTP_ERROR(r->prev->status)))
        aud_request_state_of(aud_request_root(r), true)->authorized = true;
    return DECLINED;
}

/* A 403 before the handler ran, for a token this module accepted: the
 * requirements refused it (RFC 6750 3.1 insufficient_scope). */
static void hook_insert_error_filter(request_rec *r)
{
    const aud_request_state *st;
    char *value;

    if (r->status != HTTP_FORBIDDEN || (st = aud_request_decided(r)) == NULL || !st->accepted || st->authorized)
        return;
    value = aud_bearer_challenge(st->api, "insufficient_scope", aud_reason_summary(AUD_REASON_INSUFFICIENT_SCOPE),
                                 st->unmet_scope);
    if (value == NULL)
        return;
    apr_table_set(r->err_headers_out, r->proxyreq == PROXYREQ_PROXY ? "Proxy-Authenticate" : "WWW-Authenticate",
                  value);
    free(value);
}

static const authz_provider providers[] = {
    {check_requirement, parse_scope},
    {check_requirement, parse_role},
    {check_requirement, parse_claim},
    {check_requirement, parse_client},
};

void aud_authz_register(apr_pool_t *p)
{
    for (size_t i = 0; i < sizeof providers / sizeof *providers; i++)
        ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, provider_names[i], AUTHZ_PROVIDER_VERSION, &providers[i],
                                  AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(hook_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_insert_error_filter(hook_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
}
