/* The request path (see aud_request.h). It reads top-down: the hook first,
 * then each step in the order the hook takes it. Token handling itself is
 * the core's; what is here is httpd's side of it: which verifier, the token
 * cache, variables for backends, log lines and the response. */
#include "aud_request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apr_lib.h"
#include "apr_strings.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"

#include "aud_audit.h"
#include "aud_audit_log.h"
#include "aud_bearer.h"
#include "aud_claim.h"
#include "aud_config.h"
#include "aud_config_check.h"
#include "aud_hint.h"
#include "aud_request_state.h"
#include "aud_token_cache.h"
#include "aud_verifier_cache.h"

APLOG_USE_MODULE(auth_aud);

#define AUD_RETRY_AFTER "30"

/* What a request needs from the core's result, copied into the request's
 * pool: the result itself is freed at once, and a verdict can come from the
 * token cache instead. */
typedef struct {
    aud_tc_verdict v; /* reasons and token_fields always; the rest when known */
    json_t *claims;   /* an accepted token's claims, held for the request; NULL from the cache */
} aud_verdict;

static volatile apr_uint32_t last_no_allow_log, last_no_keys_log, last_remote_keys_log;

static const char *api_name(request_rec *r, const aud_dir_conf *conf);
static bool decide(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_vnode *node,
                   aud_credential cred, const char *token, size_t token_len, aud_verdict *out);
static void log_operator_mistakes(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_vnode *node,
                                  const aud_result *summary);
static void set_backend_env(request_rec *r, const char *api, aud_decision decision, const char *reasons,
                            const aud_verdict *vd);
static void log_decision(request_rec *r, const aud_dir_conf *conf, const char *api, const char *reasons,
                         const aud_verdict *vd);
static void remember(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_verdict *vd);
static void scrub_claim_headers(request_rec *r, const aud_dir_conf *conf);
static bool is_preflight(request_rec *r, const aud_dir_conf *conf);
static int pass_preflight(request_rec *r, const aud_dir_conf *conf, const char *api);
static void set_claim_outs(request_rec *r, const aud_dir_conf *conf);
static int refuse(request_rec *r, const aud_dir_conf *conf, const char *api, aud_credential cred,
                  const aud_vnode *node, const aud_result *summary, const aud_verdict *vd);

int aud_request_authenticate(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const aud_dir_conf *conf;
    const aud_vnode *node;
    const char *api, *token = NULL;
    char reasons[256];
    size_t token_len = 0;
    aud_credential cred;
    aud_decision decision;
    aud_verdict vd;
    aud_result summary;

    if (type == NULL || strcasecmp(type, "Bearer") != 0)
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &auth_aud_module);
    r->ap_auth_type = (char *)"Bearer";
    api = api_name(r, conf);
    scrub_claim_headers(r, conf);
    if (is_preflight(r, conf))
        return pass_preflight(r, conf, api);

    cred = aud_bearer_parse(apr_table_get(r->headers_in, r->proxyreq == PROXYREQ_PROXY ? "Proxy-Authorization"
                                                                                          : "Authorization"),
                            &token, &token_len);
    node = aud_vcache_for(r, conf);
    if (!decide(r, conf, api, node, cred, token, token_len, &vd)) {
        /* Only memory exhaustion gets here; refusing is all that is safe. */
        apr_table_setn(r->err_headers_out, "Retry-After", AUD_RETRY_AFTER);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    /* The reason helpers read nothing but the bitmask. */
    memset(&summary, 0, sizeof summary);
    summary.reasons = vd.v.reasons;
    log_operator_mistakes(r, conf, api, node, &summary);

    decision = aud_decision_of(&summary, conf->mode);
    aud_audit_reasons_text(&summary, reasons, sizeof reasons);
    set_backend_env(r, api, decision, reasons, &vd);
    remember(r, conf, api, &vd);
    if (decision == AUD_DECISION_ACCEPT)
        set_claim_outs(r, conf);
    if (r->main == NULL)
        aud_audit_log_keep(r, vd.v.token_fields, api, decision, conf->mode);
    log_decision(r, conf, api, reasons, &vd);

    if (decision != AUD_DECISION_REJECT) {
        /* Audit mode lets every request through, as enforce mode would not;
         * the user name is the token's only when the token was accepted
         * (vd.v.user is NULL otherwise): a token that would be refused, even
         * one whose signature verified, is nobody's, so that it satisfies no
         * Require user and reaches no backend as an identity. "-" stands in
         * so that Require valid-user passes. */
        r->user = (char *)(vd.v.user ? vd.v.user : "-");
        return OK;
    }
    return refuse(r, conf, api, cred, node, &summary, &vd);
}

/* ---------------------------------------------------- CORS preflight */

/* Browsers never send Authorization on a preflight (Fetch standard, CORS
 * preflight request), so a location that wants a token would refuse every
 * one; AudPreflight pass lets exactly those through. */
static bool is_preflight(request_rec *r, const aud_dir_conf *conf)
{
    return conf->preflight_pass && r->method_number == M_OPTIONS && apr_table_get(r->headers_in, "Origin") &&
           apr_table_get(r->headers_in, "Access-Control-Request-Method") &&
           !apr_table_get(r->headers_in, "Authorization");
}

static int pass_preflight(request_rec *r, const aud_dir_conf *conf, const char *api)
{
    aud_request_state *st = aud_request_state_of(r, true);
    char *fields = aud_audit_token_fields(NULL, NULL);

    st->decided = true;
    st->preflight = true;
    st->mode = conf->mode;
    st->api = api;
    set_backend_env(r, api, AUD_DECISION_PREFLIGHT, "ok", &(aud_verdict){0});
    if (r->main == NULL && fields != NULL)
        aud_audit_log_keep(r, apr_pstrdup(r->pool, fields), api, AUD_DECISION_PREFLIGHT, conf->mode);
    free(fields);
    r->user = (char *)"-";
    return OK;
}

/* ------------------------------------------------------------- the API */

/* mod_authn_core stores AuthName with its quotes already backslash-escaped
 * (for mod_auth_basic to paste into a header); the API's name is the plain
 * text, which the challenge escapes itself. */
static const char *unescape_auth_name(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (strchr(s, '\\') == NULL)
        return s;
    out = o = apr_palloc(p, strlen(s) + 1);
    for (; *s; s++) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

static const char *api_name(request_rec *r, const aud_dir_conf *conf)
{
    const char *name;

    if (conf->api_name != NULL)
        return conf->api_name;
    name = ap_auth_name(r);
    if (name != NULL && *name != '\0')
        return unescape_auth_name(r->pool, name);
    return conf->path ? conf->path : r->uri;
}

/* ---------------------------------------------------------- the verdict */

static bool verdict_from_result(request_rec *r, const aud_dir_conf *conf, const aud_vnode *node,
                                const aud_result *res, double now, bool want_fields, aud_verdict *out,
                                double *valid_until);

/* A token value for an environment variable or the user name: control
 * characters become '?', so that a claim cannot smuggle a line break into a
 * header a backend builds from it with mod_headers. */
static const char *env_value(apr_pool_t *p, const char *s)
{
    char *out;

    if (s == NULL)
        return NULL;
    out = apr_pstrdup(p, s);
    for (char *c = out; *c; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = '?';
    }
    return out;
}

/* Hints at the likely cause, from this API's settings and every other API
 * on the server. Only refusals need them, and acceptances of an audience
 * whose allowance is running out; the common acceptance skips the work. */
static void add_hints(request_rec *r, const aud_dir_conf *conf, const char *api, double now, aud_result *res)
{
    const apr_array_header_t *views = aud_config_api_views();
    aud_api_view self, *others = NULL;
    size_t n_others = 0;

    /* Malformed tokens have no claims but may have a shape worth a hint
     * (an encrypted or opaque token). */
    if (aud_result_accepted(res) && res->matched_until == 0)
        return;
    self.name = api;
    self.audiences = aud_config_strings(conf->vs.allow, &self.n_audiences);
    self.issuers = aud_config_strings(conf->vs.issuers, &self.n_issuers);
    if (views != NULL && views->nelts > 0) {
        others = apr_palloc(r->pool, sizeof *others * (size_t)views->nelts);
        for (int i = 0; i < views->nelts; i++) {
            const aud_api_view *v = &APR_ARRAY_IDX(views, i, aud_api_view);
            /* This API's own section (and sections inheriting its list). */
            if (v->audiences != self.audiences)
                others[n_others++] = *v;
        }
    }
    aud_hint_context ctx = {&self, others, n_others, now};
    aud_hints_add(res, &ctx);
}

/* The verdict on a request's credential: from the token cache when this
 * token was judged before under the same settings and keys, else from the
 * core. */
static bool decide(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_vnode *node,
                   aud_credential cred, const char *token, size_t token_len, aud_verdict *out)
{
    aud_tc_key key;
    bool cacheable = false;
    double now = aud_seconds(apr_time_now()), valid_until = 0;
    aud_result *res;
    /* The token's part of the audit record costs more to build than a
     * cached acceptance costs in all: only for a record that is written. */
    bool want_fields = r->main == NULL && aud_audit_log_wanted(r);

    memset(out, 0, sizeof *out);
    if (cred == AUD_CREDENTIAL_NONE) {
        res = aud_result_new_reason(AUD_REASON_NO_TOKEN, "the request carries no bearer token");
    } else if (cred == AUD_CREDENTIAL_MALFORMED) {
        res = aud_result_new_reason(AUD_REASON_MALFORMED, "the Authorization header is not exactly one bearer credential");
    } else if (node == NULL) {
        res = aud_result_new_reason(AUD_REASON_KEYS_UNAVAILABLE, "no verifier could be built");
    } else {
        bool digested = aud_token_digest(token, token_len, key.digest);
        key.verifier = node;
        key.user_claim = conf->user_claim;
        cacheable = digested && node->shared && aud_tc_enabled() &&
                    aud_verifier_key_generation(node->verifier, &key.key_generation);
        /* An acceptance without the claims a location's authorization reads
         * is checked afresh (and remembered with them). */
        if (cacheable && aud_tc_lookup(&key, now, r->pool, &out->v) &&
            (out->v.reasons != 0 || !(conf->set & AUD_SET_NEEDS_CLAIMS) || out->v.claims != NULL) &&
            (!want_fields || out->v.token_fields != NULL))
            return true;
        memset(out, 0, sizeof *out);
        res = aud_verifier_check_digested(node->verifier, token, token_len, digested ? key.digest : NULL);
        if (res != NULL && node->n_keys == 0 && node->n_remotes == 0 && !aud_result_has(res, AUD_REASON_KEYS_UNAVAILABLE))
            aud_result_add_reason(res, AUD_REASON_KEYS_UNAVAILABLE, "no AudKeyFile or AudSecretFile applies to this location");
        if (res != NULL)
            add_hints(r, conf, api, now, res);
        /* Remembered only under the keys the lookup would find it with. */
        cacheable = cacheable && res != NULL && res->key_generation == key.key_generation;
    }
    if (res == NULL)
        return false;
    if (!verdict_from_result(r, conf, node, res, now, want_fields, out, &valid_until)) {
        aud_result_free(res);
        return false;
    }
    if (cacheable && valid_until > now &&
        (out->v.reasons == 0 || aud_tc_refusal_cacheable(out->v.reasons, node->n_remotes > 0)))
        aud_tc_insert(&key, valid_until, &out->v);
    aud_result_free(res);
    return true;
}

static const char *pool_copy(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

/* Hint codes joined by "," and the first hint's sentence, for AUD_HINT,
 * AUD_HINT_TEXT and the log line. */
static void hint_summary(apr_pool_t *p, const aud_result *res, aud_tc_verdict *v)
{
    size_t i;
    json_t *hint;

    json_array_foreach(res->hints, i, hint) {
        const char *code = json_string_value(json_object_get(hint, "code"));
        v->hint_codes = v->hint_codes ? apr_pstrcat(p, v->hint_codes, ",", env_value(p, code), NULL) : env_value(p, code);
    }
    v->hint_text = env_value(p, aud_hints_first_text(res));
    v->detail_hint = pool_copy(p, aud_hints_text_for(res, aud_audit_primary_reason(res)));
}

static apr_status_t release_claims(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

static json_t *hold_claims(request_rec *r, json_t *claims)
{
    if (claims != NULL) {
        json_incref(claims);
        apr_pool_cleanup_register(r->pool, claims, release_claims, apr_pool_cleanup_null);
    }
    return claims;
}

/* Everything the request needs from a result, in the request's pool (the
 * record's token fields only if wanted); false on memory exhaustion. Token
 * values are kept as they will be used: cleaned for variables and the user
 * name once here, so that a verdict from the cache goes into the variables
 * as it is. */
static bool verdict_from_result(request_rec *r, const aud_dir_conf *conf, const aud_vnode *node,
                                const aud_result *res, double now, bool want_fields, aud_verdict *out,
                                double *valid_until)
{
    bool accepted = aud_result_accepted(res);
    const json_t *exp = res->claims ? json_object_get(res->claims, "exp") : NULL;
    double leeway = node != NULL ? node->key.leeway : 0;

    if (want_fields) {
        char *fields = aud_audit_token_fields(res, NULL);
        if (fields == NULL)
            return false;
        out->v.token_fields = apr_pstrdup(r->pool, fields);
        free(fields);
    }
    out->v.reasons = res->reasons;
    out->v.token_id = res->token_id[0] ? apr_pstrdup(r->pool, res->token_id) : NULL;
    hint_summary(r->pool, res, &out->v);
    if (accepted) {
        out->v.user = env_value(r->pool, aud_result_user(res, conf->user_claim));
        char *scope = aud_result_scope_text(res);
        out->v.matched = env_value(r->pool, res->matched_audience);
        out->v.iss = env_value(r->pool, aud_result_claim_string(res, "iss"));
        out->v.sub = env_value(r->pool, aud_result_claim_string(res, "sub"));
        out->v.client = env_value(r->pool, aud_result_client(res));
        out->v.scope = env_value(r->pool, scope);
        free(scope);
        out->claims = hold_claims(r, res->claims);
        if (conf->set & AUD_SET_NEEDS_CLAIMS) {
            char *claims = json_dumps(res->claims, JSON_COMPACT);
            out->v.claims = pool_copy(r->pool, claims);
            free(claims);
        }
        /* Accepted means exp is a number the verifier checked. */
        *valid_until = json_is_number(exp) && node != NULL ? json_number_value(exp) + leeway : 0;
        /* An audience allowed only until a date must not outlive its
         * allowance in the cache. */
        if (res->matched_until != 0 && res->matched_until < *valid_until)
            *valid_until = res->matched_until;
    } else {
        char *aud = aud_audit_audiences_json(res);
        out->v.aud_json = aud ? apr_pstrdup(r->pool, aud) : "null";
        free(aud);
        /* A refusal is kept no longer than the token's life: once it has
         * expired, the same token is refused for that too. */
        *valid_until = now + AUD_TC_REFUSAL_SECONDS;
        if (json_is_number(exp) && json_number_value(exp) + leeway < *valid_until)
            *valid_until = json_number_value(exp) + leeway;
    }
    return true;
}

/* ------------------------------------------------ operator mistakes, logs */

/* Names the source that has no keys and why. */
static void log_remote_keys_unavailable(request_rec *r, const aud_dir_conf *conf, const char *api,
                                        const aud_vnode *node)
{
    aud_remote_status st;

    for (size_t i = 0; i < node->n_remotes; i++) {
        aud_remote_get_status(node->remotes[i], &st);
        if (st.usable)
            continue;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      AUDLOGNO(0031) "%s (%s): the keys from %s are not available (%s%s%s): requests get 503 "
                                     "until a fetch succeeds",
                      api, conf->path ? conf->path : r->uri, aud_remote_url(node->remotes[i]), st.state,
                      st.last_error[0] ? ": " : "", st.last_error);
        return;
    }
}

/* At the default log level, once a minute per process for each kind. */
static void log_operator_mistakes(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_vnode *node,
                                  const aud_result *summary)
{
    if ((conf->vs.allow == NULL || conf->vs.allow->nelts == 0) && aud_rate_limit_ok(&last_no_allow_log))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      AUDLOGNO(0010) "%s (%s) has AuthType Bearer but no AudAllow, so it accepts nothing; list the "
                                     "audiences this API accepts with AudAllow",
                      api, conf->path ? conf->path : r->uri);
    if (!aud_result_has(summary, AUD_REASON_KEYS_UNAVAILABLE))
        return;
    if (node != NULL && node->n_remotes > 0) {
        if (aud_rate_limit_ok(&last_remote_keys_log))
            log_remote_keys_unavailable(r, conf, api, node);
    } else if (aud_rate_limit_ok(&last_no_keys_log)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      AUDLOGNO(0011) "%s (%s) has AuthType Bearer but no verification keys: requests get 503; add "
                                     "AudKeyFile or AudSecretFile",
                      api, conf->path ? conf->path : r->uri);
    }
}

static void set_env(request_rec *r, const char *name, const char *value)
{
    if (value != NULL)
        apr_table_setn(r->subprocess_env, name, env_value(r->pool, value));
}

/* Backends get the decision on every request, and the token's facts only
 * when they are facts: an audit-mode request that would have been refused
 * must not hand a backend an unverified identity. The verdict's values are
 * clean already (verdict_from_result) and live as long as the request. */
static void set_backend_env(request_rec *r, const char *api, aud_decision decision, const char *reasons,
                            const aud_verdict *vd)
{
    set_env(r, "AUD_API", api);
    apr_table_setn(r->subprocess_env, "AUD_DECISION", aud_decision_word(decision));
    set_env(r, "AUD_REASON", reasons);
    if (vd->v.hint_codes != NULL) {
        apr_table_setn(r->subprocess_env, "AUD_HINT", vd->v.hint_codes);
        if (vd->v.hint_text != NULL)
            apr_table_setn(r->subprocess_env, "AUD_HINT_TEXT", vd->v.hint_text);
    } else {
        apr_table_unset(r->subprocess_env, "AUD_HINT");
        apr_table_unset(r->subprocess_env, "AUD_HINT_TEXT");
    }
    static const char *const identity[] = {"AUD_AUD", "AUD_ISS", "AUD_SUB", "AUD_CLIENT", "AUD_SCOPE"};
    const char *values[] = {vd->v.matched, vd->v.iss, vd->v.sub, vd->v.client, vd->v.scope};

    for (size_t i = 0; i < sizeof identity / sizeof *identity; i++) {
        /* A subrequest starts with a copy of its main request's variables:
         * a refusal here must not leave the main request's identity. */
        if (decision == AUD_DECISION_ACCEPT && values[i] != NULL)
            apr_table_setn(r->subprocess_env, identity[i], values[i]);
        else
            apr_table_unset(r->subprocess_env, identity[i]);
    }
}

/* Client mistakes are never logged above info, so that a flood of bad
 * tokens cannot flood the log at the default level. */
static void log_decision(request_rec *r, const aud_dir_conf *conf, const char *api, const char *reasons,
                         const aud_verdict *vd)
{
    const char *token_id = vd->v.token_id ? vd->v.token_id : "-";

    if (vd->v.reasons != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%sapi=%s aud=%s reasons=%s hints=%s token_id=%s%s%s",
                      conf->mode == AUD_MODE_AUDIT ? AUDLOGNO(0102) "audit mode, would reject: "
                                                   : AUDLOGNO(0101) "rejected: ",
                      api, vd->v.aud_json ? vd->v.aud_json : "null", reasons, vd->v.hint_codes ? vd->v.hint_codes : "-",
                      token_id, vd->v.hint_text ? " hint: " : "", vd->v.hint_text ? vd->v.hint_text : "");
    } else if (vd->v.hint_codes != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      AUDLOGNO(0104) "accepted with hints: api=%s matched=%s hints=%s token_id=%s hint: %s", api,
                      vd->v.matched ? vd->v.matched : "-", vd->v.hint_codes, token_id,
                      vd->v.hint_text ? vd->v.hint_text : "");
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, AUDLOGNO(0103) "accepted: api=%s matched=%s", api,
                      vd->v.matched ? vd->v.matched : "-");
    }
}

/* What authorization and the audit record need later in the request. */
static void remember(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_verdict *vd)
{
    aud_request_state *st = aud_request_state_of(r, true);

    st->decided = true;
    st->accepted = vd->v.reasons == 0;
    st->mode = conf->mode;
    st->api = api;
    st->claims = st->accepted ? vd->claims : NULL;
    st->claims_text = st->accepted ? vd->v.claims : NULL;
    st->authorized = false;
    st->unmet = NULL;
    st->unmet_scope = NULL;
}

/* ------------------------------------------------ claims for backends */

/* Header names a backend could take for the configured one: any case, '-'
 * and '_' alike (CGI turns Aud-Sub, AUD_SUB and aud_sub all into
 * HTTP_AUD_SUB: CVE-2017-6062, CVE-2017-6413), and for a variable
 * HTTP_X, the header X. */
static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (char)apr_tolower(*a), y = (char)apr_tolower(*b);
        if ((x == '_' ? '-' : x) != (y == '_' ? '-' : y))
            return false;
    }
    return *a == *b;
}

typedef struct {
    const aud_dir_conf *conf;
    apr_array_header_t *doomed;
} scrub_walk;

static int find_spoofed(void *baton, const char *key, const char *value)
{
    scrub_walk *w = baton;

    (void)value;
    for (int i = 0; i < w->conf->claim_outs->nelts; i++) {
        const aud_claim_out *out = &APR_ARRAY_IDX(w->conf->claim_outs, i, aud_claim_out);
        const char *name = out->header ? out->name : strncasecmp(out->name, "HTTP_", 5) == 0 ? out->name + 5 : NULL;
        if (name != NULL && same_name(key, name)) {
            APR_ARRAY_PUSH(w->doomed, const char *) = key;
            break;
        }
    }
    return 1;
}

/* On every request to the location, accepted or not, with a token or
 * without, in both modes: nothing a client sent may pass for a claim. */
static void scrub_claim_headers(request_rec *r, const aud_dir_conf *conf)
{
    scrub_walk w = {conf, NULL};

    if (conf->claim_outs == NULL || conf->claim_outs->nelts == 0)
        return;
    w.doomed = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(find_spoofed, &w, r->headers_in, NULL);
    for (int i = 0; i < w.doomed->nelts; i++)
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(w.doomed, i, const char *));
    for (int i = 0; i < conf->claim_outs->nelts; i++) {
        const aud_claim_out *out = &APR_ARRAY_IDX(conf->claim_outs, i, aud_claim_out);
        if (!out->header)
            apr_table_unset(r->subprocess_env, out->name);
    }
}

/* Values percent-encoded (aud_claim_value_text): a header is never split
 * by CR, LF or NUL, nor made to carry raw non-ASCII. */
static void set_claim_outs(request_rec *r, const aud_dir_conf *conf)
{
    aud_request_state *st = aud_request_state_of(r, false);
    json_error_t jerr;

    if (conf->claim_outs == NULL || st == NULL)
        return;
    if (st->claims == NULL && st->claims_text != NULL) {
        st->claims = json_loads(st->claims_text, 0, &jerr);
        if (st->claims != NULL)
            apr_pool_cleanup_register(r->pool, st->claims, release_claims, apr_pool_cleanup_null);
    }
    for (int i = 0; st->claims != NULL && i < conf->claim_outs->nelts; i++) {
        const aud_claim_out *out = &APR_ARRAY_IDX(conf->claim_outs, i, aud_claim_out);
        char *text = aud_claim_value_text(aud_claim_ref_get(out->claim, st->claims));
        if (text == NULL)
            continue;
        apr_table_set(out->header ? r->headers_in : r->subprocess_env, out->name, text);
        free(text);
    }
}

/* ------------------------------------------------------------ responses */

/* Every WWW-Authenticate this module sends comes from here (RFC 6750
 * section 3.1: no error at all for a request that carried no token). */
static void note_bearer_auth_failure(request_rec *r, const char *api, const char *error, const char *description)
{
    char *value = aud_bearer_challenge(api, error, description, NULL);

    if (value == NULL)
        return;
    apr_table_set(r->err_headers_out, r->proxyreq == PROXYREQ_PROXY ? "Proxy-Authenticate" : "WWW-Authenticate",
                  value);
    free(value);
}

/* When the soonest of the node's sources may fetch again. */
static const char *remote_retry_after(request_rec *r, const aud_vnode *node)
{
    unsigned best = 0;

    for (size_t i = 0; i < node->n_remotes; i++) {
        unsigned s = aud_remote_retry_after(node->remotes[i]);
        if (best == 0 || s < best)
            best = s;
    }
    return apr_psprintf(r->pool, "%u", best ? best : 1);
}

/* The description names the first failed check; with AudErrorDetail, the
 * hint about that same check is added (never one about another check, so
 * the two halves read as one sentence), which the challenge folds into the
 * characters RFC 6750 allows. */
static const char *error_description(apr_pool_t *p, const aud_dir_conf *conf, aud_reason primary,
                                     const aud_verdict *vd)
{
    if (!conf->error_detail || vd->v.detail_hint == NULL)
        return aud_reason_summary(primary);
    return apr_pstrcat(p, aud_reason_summary(primary), ": ", vd->v.detail_hint, NULL);
}

static int refuse(request_rec *r, const aud_dir_conf *conf, const char *api, aud_credential cred,
                  const aud_vnode *node, const aud_result *summary, const aud_verdict *vd)
{
    aud_reason primary = aud_audit_primary_reason(summary);

    if (primary == AUD_REASON_KEYS_UNAVAILABLE) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       node != NULL && node->n_remotes > 0 ? remote_retry_after(r, node) : AUD_RETRY_AFTER);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (cred == AUD_CREDENTIAL_NONE) {
        note_bearer_auth_failure(r, api, NULL, NULL);
        return HTTP_UNAUTHORIZED;
    }
    if (cred == AUD_CREDENTIAL_MALFORMED) {
        note_bearer_auth_failure(r, api, "invalid_request", "the Authorization header must carry exactly one bearer token");
        return HTTP_BAD_REQUEST;
    }
    note_bearer_auth_failure(r, api, "invalid_token", error_description(r->pool, conf, primary, vd));
    return HTTP_UNAUTHORIZED;
}

/* Authorization (Require ...) refused a user this module authenticated. */
int aud_request_note_auth_failure(request_rec *r, const char *auth_type)
{
    const aud_dir_conf *conf;

    if (auth_type == NULL || strcasecmp(auth_type, "Bearer") != 0)
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &auth_aud_module);
    note_bearer_auth_failure(r, api_name(r, conf), "insufficient_scope", "the token does not grant access to this resource");
    return OK;
}
