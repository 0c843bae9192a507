/* Settings (see aud_config.h): create and merge, then the directive
 * handlers in the order of the command table at the end. Every value is
 * checked here, so that a mistake stops `httpd -t` naming the directive and
 * the file. */
#include "aud_config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "aud_authz.h"
#include "aud_claim.h"
#include "aud_time.h"

APLOG_USE_MODULE(auth_aud);

#define AUD_LEEWAY_MAX 3600.0
#define AUD_TOKEN_SIZE_MIN 64
#define AUD_TOKEN_SIZE_MAX (1024 * 1024)
/* Accepted tokens remembered per process (AudCacheEntries; a quarter as
 * many refusals on top): a few hundred bytes each. */
#define AUD_CACHE_DEFAULT 8192
#define AUD_CACHE_MAX 1000000
/* How long an audit record may wait in its thread's batch. */
#define AUD_AUDIT_BUFFER_DEFAULT 1
#define AUD_AUDIT_BUFFER_MAX 60

/* Per config cycle (reset in pre_config; only touched while the single
 * parent process reads configuration). */
static apr_array_header_t *registered_confs; /* aud_dir_conf * */
static apr_array_header_t *readable_secrets; /* const char *: warned at start-up */

void aud_config_pre_config(apr_pool_t *pconf)
{
    registered_confs = apr_array_make(pconf, 16, sizeof(aud_dir_conf *));
    readable_secrets = apr_array_make(pconf, 2, sizeof(const char *));
}

apr_array_header_t *aud_config_sections(void)
{
    return registered_confs;
}

void aud_config_note_readable_secret(const char *path)
{
    if (readable_secrets != NULL)
        APR_ARRAY_PUSH(readable_secrets, const char *) = path;
}

const apr_array_header_t *aud_config_readable_secrets(void)
{
    return readable_secrets;
}

/* ------------------------------------------------------- create/merge */

void *aud_config_create_dir(apr_pool_t *p, char *dir)
{
    aud_dir_conf *conf = apr_pcalloc(p, sizeof *conf);

    conf->path = dir;
    conf->vs.leeway = AUD_DEFAULT_LEEWAY;
    conf->vs.max_token_size = AUD_DEFAULT_MAX_TOKEN_SIZE;
    conf->mode = AUD_MODE_ENFORCE;
    return conf;
}

/* httpd merges <Location> sections for every request, so this only copies
 * pointers. Which verifier applies is decided here too, without building
 * anything:
 * - the child sets no verifier setting: the parent's verifier;
 * - every setting the parent has, the child overrides: the child's own
 *   verifier, built in post_config;
 * - otherwise the sections really combine (keys from /api, AudAllow from
 *   /api/users): node stays NULL and the request finds or builds the
 *   verifier for the combined settings in the per-process cache, keyed by
 *   the identity of those settings, so it is built once per process rather
 *   than once per request. */
void *aud_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const aud_dir_conf *base = basev, *add = addv;
    aud_dir_conf *m = apr_palloc(p, sizeof *m);

    m->set = base->set | add->set;
#define TAKE(flag, field) (m->field = (add->set & (flag)) ? add->field : base->field)
    TAKE(AUD_SET_ALLOW, vs.allow);
    TAKE(AUD_SET_ALLOW, vs.allow_until);
    TAKE(AUD_SET_ALLOW, allow_file);
    TAKE(AUD_SET_ALLOW, allow_line);
    TAKE(AUD_SET_ISSUERS, vs.issuers);
    TAKE(AUD_SET_TENANTS, vs.tenants);
    TAKE(AUD_SET_TOKEN_TYPES, vs.token_types);
    TAKE(AUD_SET_KEYFILES, vs.keyfiles);
    TAKE(AUD_SET_REMOTES, vs.remotes);
    TAKE(AUD_SET_SECRET, vs.secret);
    TAKE(AUD_SET_ALGORITHMS, vs.algorithms);
    TAKE(AUD_SET_LEEWAY, vs.leeway);
    TAKE(AUD_SET_MAX_TOKEN_SIZE, vs.max_token_size);
    TAKE(AUD_SET_MODE, mode);
    TAKE(AUD_SET_ERROR_DETAIL, error_detail);
    TAKE(AUD_SET_CLAIM_OUTS, claim_outs);
    TAKE(AUD_SET_PREFLIGHT, preflight_pass);
#undef TAKE
#define INHERIT(field) (m->field = add->field ? add->field : base->field)
    INHERIT(path);
    INHERIT(api_name);
    INHERIT(user_claim);
    INHERIT(section);
    INHERIT(keys_file);
    INHERIT(issuers_file);
#undef INHERIT
    m->keys_line = add->keys_file ? add->keys_line : base->keys_line;
    m->issuers_line = add->issuers_file ? add->issuers_line : base->issuers_line;
    m->registered = 0;
    m->forbid_on_failure = 0;
    /* Resolved per section in post_config; never read from a merged one. */
    m->rk = add->rk;

    if ((add->set & AUD_SET_VERIFIER) == 0)
        m->node = base->node;
    else if ((base->set & AUD_SET_VERIFIER & ~add->set) == 0)
        m->node = add->node;
    else
        m->node = NULL;
    return m;
}

void *aud_config_create_server(apr_pool_t *p, server_rec *s)
{
    aud_server_conf *sconf = apr_pcalloc(p, sizeof *sconf);

    sconf->cache_entries = AUD_CACHE_DEFAULT;
    sconf->audit_buffer = AUD_AUDIT_BUFFER_DEFAULT;
    return sconf;
}

/* Remote-key timings are 0 where not set, since 0 is never a valid one;
 * AudKeyMaxStale 0 is, so it has a flag of its own. */
void *aud_config_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const aud_server_conf *base = basev, *add = addv;
    aud_server_conf *m = apr_pcalloc(p, sizeof *m);

    m->set = base->set | add->set;
    m->cache_entries = (add->set & AUD_SRV_SET_CACHE_ENTRIES) ? add->cache_entries : base->cache_entries;
    m->audit_buffer = (add->set & AUD_SRV_SET_AUDIT_BUFFER) ? add->audit_buffer : base->audit_buffer;
    m->audit_log = add->audit_log ? add->audit_log : base->audit_log;
    m->ca_file = add->ca_file ? add->ca_file : base->ca_file;
    m->rk.refresh = add->rk.refresh > 0 ? add->rk.refresh : base->rk.refresh;
    m->rk.refresh_min = add->rk.refresh_min > 0 ? add->rk.refresh_min : base->rk.refresh_min;
    m->rk.fetch_timeout = add->rk.fetch_timeout > 0 ? add->rk.fetch_timeout : base->rk.fetch_timeout;
    m->rk.max_stale_set = add->rk.max_stale_set || base->rk.max_stale_set;
    m->rk.max_stale = add->rk.max_stale_set ? add->rk.max_stale : base->rk.max_stale;
    return m;
}

/* ---------------------------------------------------- directive handlers */

/* A verifier setting was given in this section: remember the section, so
 * that post_config builds its verifier. */
void aud_config_note_vsetting(cmd_parms *cmd, aud_dir_conf *conf, unsigned flag)
{
    conf->set |= flag;
    conf->section = cmd->directive->parent;
    aud_authz_forbid_on_failure(cmd);
    if (!conf->registered && registered_confs != NULL) {
        conf->registered = 1;
        APR_ARRAY_PUSH(registered_confs, aud_dir_conf *) = conf;
    }
}

void aud_config_note_keys(cmd_parms *cmd, aud_dir_conf *conf)
{
    if (conf->keys_file == NULL) {
        conf->keys_file = cmd->directive->filename;
        conf->keys_line = cmd->directive->line_num;
    }
}

/* Lists start afresh in each section (they replace, not append, what a
 * parent section set); within one section a repeated directive adds. */
apr_array_header_t *aud_config_own_list(apr_pool_t *p, const aud_dir_conf *conf, unsigned flag,
                                    const apr_array_header_t *list, int elt_size)
{
    if ((conf->set & flag) && list != NULL)
        return (apr_array_header_t *)list;
    return apr_array_make(p, 2, elt_size);
}

/* Adds one audience, allowed for good (until 0) or until a time. */
static void add_audience(cmd_parms *cmd, aud_dir_conf *conf, const char *aud, double until)
{
    apr_array_header_t *list = aud_config_own_list(cmd->pool, conf, AUD_SET_ALLOW, conf->vs.allow, sizeof(const char *));
    apr_array_header_t *ends = aud_config_own_list(cmd->pool, conf, AUD_SET_ALLOW, conf->vs.allow_until, sizeof(double));

    APR_ARRAY_PUSH(list, const char *) = aud;
    APR_ARRAY_PUSH(ends, double) = until;
    conf->vs.allow = list;
    conf->vs.allow_until = ends;
    if (!(conf->set & AUD_SET_ALLOW)) {
        conf->allow_file = cmd->directive->filename;
        conf->allow_line = cmd->directive->line_num;
    }
    aud_config_note_vsetting(cmd, conf, AUD_SET_ALLOW);
}

static const char *set_allow(cmd_parms *cmd, void *cfg, const char *arg)
{
    if (*arg == '\0')
        return "AudAllow: an empty audience can never match a token";
    add_audience(cmd, cfg, arg, 0);
    return NULL;
}

static const char *set_allow_until(cmd_parms *cmd, void *cfg, int argc, char *const argv[])
{
    double start, end;

    if (argc < 2)
        return "AudAllowUntil: give a date (YYYY-MM-DD) and at least one audience";
    if (!aud_time_parse_date(argv[0], &start))
        return apr_psprintf(cmd->pool, "AudAllowUntil: '%s' is not a date in the form YYYY-MM-DD", argv[0]);
    /* The allowance covers that whole day in UTC. */
    end = start + 86400.0;
    for (int i = 1; i < argc; i++) {
        if (*argv[i] == '\0')
            return "AudAllowUntil: an empty audience can never match a token";
        add_audience(cmd, cfg, argv[i], end);
    }
    return NULL;
}

static const char *set_error_detail(cmd_parms *cmd, void *cfg, int flag)
{
    aud_dir_conf *conf = cfg;

    conf->error_detail = flag;
    conf->set |= AUD_SET_ERROR_DETAIL;
    return NULL;
}

static const char *set_api_name(cmd_parms *cmd, void *cfg, const char *arg)
{
    if (*arg == '\0')
        return "AudApiName: the name is empty";
    ((aud_dir_conf *)cfg)->api_name = arg;
    return NULL;
}

void aud_config_note_issuers(cmd_parms *cmd, aud_dir_conf *conf)
{
    if (conf->issuers_file == NULL) {
        conf->issuers_file = cmd->directive->filename;
        conf->issuers_line = cmd->directive->line_num;
    }
}

#define TENANT_SLOT "{tenantid}"

static const char *set_issuer(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    apr_array_header_t *list;
    const char *slot = strstr(arg, TENANT_SLOT);

    if (*arg == '\0')
        return "AudIssuer: an empty issuer can never match a token";
    if (slot != NULL && strstr(slot + 1, TENANT_SLOT) != NULL)
        return apr_psprintf(cmd->pool, "AudIssuer: '%s' holds {tenantid} more than once", arg);
    /* Only the exact literal is a template; another spelling would be an
     * issuer no token carries. */
    if (slot == NULL && ap_strcasestr(arg, TENANT_SLOT) != NULL)
        return apr_psprintf(cmd->pool, "AudIssuer: '%s': write the tenant placeholder as {tenantid}", arg);
    aud_config_note_issuers(cmd, conf);
    list = aud_config_own_list(cmd->pool, conf, AUD_SET_ISSUERS, conf->vs.issuers, sizeof(const char *));
    APR_ARRAY_PUSH(list, const char *) = arg;
    conf->vs.issuers = list;
    aud_config_note_vsetting(cmd, conf, AUD_SET_ISSUERS);
    return NULL;
}

/* Entra ID's tid is the tenant's GUID in lower case, never its domain
 * name; a value of another form could never match a token. */
static bool tenant_id_form(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    if (strlen(s) != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == '-' ? s[i] != '-' : strchr("0123456789abcdef", s[i]) == NULL)
            return false;
    }
    return true;
}

static const char *set_tenant(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    apr_array_header_t *list = aud_config_own_list(cmd->pool, conf, AUD_SET_TENANTS, conf->vs.tenants, sizeof(const char *));
    bool any = strcmp(arg, "*") == 0;

    if ((any && list->nelts > 0) || (list->nelts > 0 && strcmp(APR_ARRAY_IDX(list, 0, const char *), "*") == 0))
        return "AudTenant: * (any tenant) stands alone, without tenant ids";
    if (!any && !tenant_id_form(arg))
        return apr_psprintf(cmd->pool,
                            "AudTenant: '%s' is not a tenant id: give the tenant's GUID in lower case, as tokens "
                            "carry it in tid (or * for any tenant)",
                            arg);
    APR_ARRAY_PUSH(list, const char *) = arg;
    conf->vs.tenants = list;
    aud_config_note_vsetting(cmd, conf, AUD_SET_TENANTS);
    return NULL;
}

static const char *set_token_type(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    apr_array_header_t *list;

    if (*arg == '\0' || strcspn(arg, " \t\",;") != strlen(arg))
        return apr_psprintf(cmd->pool, "AudTokenType: '%s' is not a media type such as at+jwt", arg);
    list = aud_config_own_list(cmd->pool, conf, AUD_SET_TOKEN_TYPES, conf->vs.token_types, sizeof(const char *));
    APR_ARRAY_PUSH(list, const char *) = arg;
    conf->vs.token_types = list;
    aud_config_note_vsetting(cmd, conf, AUD_SET_TOKEN_TYPES);
    return NULL;
}

int aud_config_check_tenants(server_rec *s)
{
    for (int i = 0; registered_confs != NULL && i < registered_confs->nelts; i++) {
        const aud_dir_conf *conf = APR_ARRAY_IDX(registered_confs, i, aud_dir_conf *);
        const char *template = NULL, *directive = "AudIssuer";

        if (conf->set & AUD_SET_TENANTS)
            continue;
        for (int k = 0; (conf->set & AUD_SET_ISSUERS) && template == NULL && k < conf->vs.issuers->nelts; k++) {
            const char *iss = APR_ARRAY_IDX(conf->vs.issuers, k, const char *);
            if (strstr(iss, TENANT_SLOT) != NULL)
                template = iss;
        }
        /* Without AudIssuer, AudDiscovery's issuer is the section's. */
        for (int k = 0; !(conf->set & AUD_SET_ISSUERS) && (conf->set & AUD_SET_REMOTES) && template == NULL &&
                        k < conf->vs.remotes->nelts;
             k++) {
            const char *iss = aud_rk_issuer(APR_ARRAY_IDX(conf->vs.remotes, k, aud_rk_source *));
            if (iss != NULL && strstr(iss, TENANT_SLOT) != NULL) {
                template = iss;
                directive = "AudDiscovery";
            }
        }
        if (template == NULL)
            continue;
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     AUDLOGNO(0012) "%s:%d: in <%s %s>: %s: the issuer '%s' is a multi-tenant template: tokens of "
                                    "every tenant of that identity provider would match it; list the accepted "
                                    "tenants with AudTenant TID [TID ...] in this section, or say AudTenant * for "
                                    "any tenant",
                     conf->issuers_file ? conf->issuers_file : "?", conf->issuers_line,
                     conf->section ? conf->section->directive + 1 : "Location", conf->path ? conf->path : "/",
                     directive, template);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* A directive's whole number from min to max, in plain decimal digits (no
 * sign, spaces, hex or exponent). NULL, or the message naming the directive,
 * the value and the range. */
const char *aud_config_whole_number(cmd_parms *cmd, const char *arg, long min, long max, const char *unit, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (!apr_isdigit(arg[0]) || *end != '\0' || errno != 0 || v < min || v > max)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number of %s from %ld to %ld", cmd->cmd->name, arg,
                            unit, min, max);
    *out = v;
    return NULL;
}

static const char *set_algorithms(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    aud_alg alg;

    if (aud_alg_name_is_none(arg))
        return apr_psprintf(cmd->pool, "AudAlgorithms: '%s' is never accepted: unsigned tokens prove nothing", arg);
    if (!aud_alg_from_name(arg, &alg)) {
        char *known = "";
        for (int i = 0; i < AUD_ALG_COUNT; i++)
            known = apr_pstrcat(cmd->temp_pool, known, i ? " " : "", aud_alg_name((aud_alg)i),
                                i == AUD_ALG_EDDSA ? " Ed25519" : "", NULL);
        return apr_psprintf(cmd->pool, "AudAlgorithms: unknown algorithm '%s' (names are case-sensitive; known: %s)",
                            arg, known);
    }
    if (!(conf->set & AUD_SET_ALGORITHMS))
        conf->vs.algorithms = 0;
    conf->vs.algorithms |= AUD_ALG_BIT(alg);
    aud_config_note_vsetting(cmd, conf, AUD_SET_ALGORITHMS);
    return NULL;
}

static const char *set_leeway(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    char *end;
    double v;

    /* Plain decimal only: strtod would also take " 1", "0x10", "1e3" and
     * "inf", none of which an operator means as a number of seconds. */
    errno = 0;
    v = strtod(arg, &end);
    if (!apr_isdigit(arg[0]) || strspn(arg, "0123456789.") != strlen(arg) || end == arg || *end != '\0' ||
        errno != 0 || !isfinite(v) || v < 0 || v > AUD_LEEWAY_MAX)
        return apr_psprintf(cmd->pool, "AudLeeway: '%s' is not a number of seconds from 0 to %.0f", arg,
                            AUD_LEEWAY_MAX);
    conf->vs.leeway = v;
    aud_config_note_vsetting(cmd, conf, AUD_SET_LEEWAY);
    return NULL;
}

static const char *set_max_token_size(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    long v;
    const char *err = aud_config_whole_number(cmd, arg, AUD_TOKEN_SIZE_MIN, AUD_TOKEN_SIZE_MAX, "bytes", &v);

    if (err != NULL)
        return err;
    conf->vs.max_token_size = (apr_size_t)v;
    aud_config_note_vsetting(cmd, conf, AUD_SET_MAX_TOKEN_SIZE);
    return NULL;
}

static const char *set_mode(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    if (!aud_mode_from_word(arg, &conf->mode))
        return apr_psprintf(cmd->pool, "AudMode: '%s' is neither 'enforce' nor 'audit'", arg);
    conf->set |= AUD_SET_MODE;
    return NULL;
}

static const char *set_preflight(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    if (strcasecmp(arg, "pass") == 0)
        conf->preflight_pass = 1;
    else if (strcasecmp(arg, "off") == 0)
        conf->preflight_pass = 0;
    else
        return apr_psprintf(cmd->pool, "AudPreflight: '%s' is neither 'pass' nor 'off'", arg);
    conf->set |= AUD_SET_PREFLIGHT;
    return NULL;
}

static const char *set_user_claim(cmd_parms *cmd, void *cfg, const char *arg)
{
    if (*arg == '\0')
        return "AudUserClaim: the claim name is empty";
    ((aud_dir_conf *)cfg)->user_claim = arg;
    return NULL;
}

static apr_status_t free_claim_ref(void *data)
{
    aud_claim_ref_free(data);
    return APR_SUCCESS;
}

/* AudClaimHeader CLAIM HEADER, AudClaimEnv CLAIM VAR: the claim (a name or
 * a JSON Pointer, as in Require aud-claim) for backends of accepted tokens.
 * Names are HTTP tokens or variable names, so that nothing configured can
 * split a header. */
static const char *add_claim_out(cmd_parms *cmd, void *cfg, const char *claim, const char *name)
{
    aud_dir_conf *conf = cfg;
    bool header = cmd->info != NULL;
    apr_array_header_t *list = aud_config_own_list(cmd->pool, conf, AUD_SET_CLAIM_OUTS, conf->claim_outs, sizeof(aud_claim_out));
    aud_claim_out *out;
    aud_error err = {{0}};
    aud_claim_ref *ref;
    static const char token_chars[] = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char var_chars[] = "_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    if (*name == '\0' || strspn(name, header ? token_chars : var_chars) != strlen(name))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a valid %s name", cmd->cmd->name, name,
                            header ? "header" : "variable");
    ref = aud_claim_ref_parse(claim, &err);
    if (ref == NULL)
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err.text);
    apr_pool_cleanup_register(cmd->pool, ref, free_claim_ref, apr_pool_cleanup_null);
    out = apr_array_push(list);
    out->claim = ref;
    out->name = name;
    out->header = header;
    conf->claim_outs = list;
    conf->set |= AUD_SET_CLAIM_OUTS | AUD_SET_NEEDS_CLAIMS;
    return NULL;
}

static const char *set_audit_log(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);

    if (*arg == '\0' || (arg[0] == '|' && arg[1 + strspn(arg + 1, " \t")] == '\0'))
        return "AudAuditLog: give a file path or \"|command\"";
    sconf->audit_log = arg;
    return NULL;
}

static const char *set_audit_buffer(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v = 0;

    if (err == NULL && strcasecmp(arg, "off") != 0)
        err = aud_config_whole_number(cmd, arg, 1, AUD_AUDIT_BUFFER_MAX, "seconds (or Off)", &v);
    if (err != NULL)
        return err;
    sconf->audit_buffer = v;
    sconf->set |= AUD_SRV_SET_AUDIT_BUFFER;
    return NULL;
}

static const char *set_cache_entries(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v;

    if (err == NULL)
        err = aud_config_whole_number(cmd, arg, 0, AUD_CACHE_MAX, "entries (0: off)", &v);
    if (err != NULL)
        return err;
    sconf->cache_entries = v;
    sconf->set |= AUD_SRV_SET_CACHE_ENTRIES;
    return NULL;
}

const command_rec aud_config_cmds[] = {
    AP_INIT_ITERATE("AudAllow", set_allow, NULL, ACCESS_CONF, "the token audiences this location accepts"),
    AP_INIT_TAKE_ARGV("AudAllowUntil", set_allow_until, NULL, ACCESS_CONF,
                      "a date (YYYY-MM-DD, UTC) and the audiences accepted until the end of that day"),
    AP_INIT_FLAG("AudErrorDetail", set_error_detail, NULL, ACCESS_CONF,
                 "on: tell the client the likely cause of a refusal (pre-production only; default off)"),
    AP_INIT_TAKE1("AudApiName", set_api_name, NULL, ACCESS_CONF, "the API's name in audit records, logs and the realm"),
    AP_INIT_ITERATE("AudIssuer", set_issuer, NULL, ACCESS_CONF,
                    "the accepted token issuers; one holding {tenantid} is a multi-tenant template (see AudTenant)"),
    AP_INIT_ITERATE("AudTenant", set_tenant, NULL, ACCESS_CONF,
                    "the tenant ids (tid) issuer templates accept, or * for any tenant"),
    AP_INIT_ITERATE("AudTokenType", set_token_type, NULL, ACCESS_CONF,
                    "the accepted JWS header typ values, e.g. at+jwt (default: typ not checked)"),
    AP_INIT_ITERATE("AudKeyFile", aud_config_set_key_file, NULL, ACCESS_CONF,
                    "verification keys: PEM key or certificate, JWK or JWKS files"),
    AP_INIT_TAKE12("AudSecretFile", aud_config_set_secret_file, NULL, ACCESS_CONF,
                   "a file whose bytes are an HMAC secret, and the kid tokens name it by (HS* must be listed in "
                   "AudAlgorithms)"),
    AP_INIT_ITERATE("AudJwksUri", aud_config_set_jwks_uri, NULL, ACCESS_CONF,
                    "URLs of key sets (JWKS) to fetch, refresh and follow through rotations"),
    AP_INIT_TAKE1("AudDiscovery", aud_config_set_discovery, NULL, ACCESS_CONF,
                  "an issuer URL or OpenID Connect / RFC 8414 metadata URL: keys from its jwks_uri, and its "
                  "issuer unless AudIssuer is given"),
    AP_INIT_TAKE1("AudKeyRefresh", aud_config_set_rk_seconds, (void *)RK_REFRESH, ACCESS_CONF | RSRC_CONF,
                  "seconds between refreshes of remote keys (default 3600; Cache-Control max-age wins)"),
    AP_INIT_TAKE1("AudKeyRefreshMin", aud_config_set_rk_seconds, (void *)RK_REFRESH_MIN, ACCESS_CONF | RSRC_CONF,
                  "the least seconds between two fetches of one key source, whatever asks (default 60)"),
    AP_INIT_TAKE1("AudKeyMaxStale", aud_config_set_rk_seconds, (void *)RK_MAX_STALE, ACCESS_CONF | RSRC_CONF,
                  "seconds remote keys stay in use past their refresh time while fetches fail (default 86400)"),
    AP_INIT_TAKE1("AudKeyFetchTimeout", aud_config_set_rk_seconds, (void *)RK_FETCH_TIMEOUT, ACCESS_CONF | RSRC_CONF,
                  "seconds one whole fetch of remote keys may take (default 5)"),
    AP_INIT_TAKE1("AudCAFile", aud_config_set_ca_file, NULL, RSRC_CONF,
                  "PEM file of the CAs trusted for fetching remote keys (default: the system store)"),
    AP_INIT_ITERATE("AudAlgorithms", set_algorithms, NULL, ACCESS_CONF,
                    "accepted JWS algorithms (default: every asymmetric one)"),
    AP_INIT_TAKE1("AudLeeway", set_leeway, NULL, ACCESS_CONF,
                  "allowed clock skew in seconds for exp, nbf and iat (default 60)"),
    AP_INIT_TAKE1("AudMaxTokenSize", set_max_token_size, NULL, ACCESS_CONF,
                  "longest accepted token in bytes (default 16384)"),
    AP_INIT_TAKE1("AudMode", set_mode, NULL, ACCESS_CONF,
                  "enforce (default) or audit: record decisions but let every request through"),
    AP_INIT_TAKE1("AudPreflight", set_preflight, NULL, ACCESS_CONF,
                  "pass: let CORS preflights (OPTIONS with Origin and Access-Control-Request-Method, no "
                  "Authorization) through unauthenticated; off (default)"),
    AP_INIT_TAKE1("AudUserClaim", set_user_claim, NULL, ACCESS_CONF,
                  "the claim that becomes the user name (default sub)"),
    AP_INIT_TAKE2("AudClaimHeader", add_claim_out, (void *)1, ACCESS_CONF,
                  "a claim (name or /json/pointer) and the request header that carries it to the backend"),
    AP_INIT_TAKE2("AudClaimEnv", add_claim_out, NULL, ACCESS_CONF,
                  "a claim (name or /json/pointer) and the environment variable that carries it to the backend"),
    AP_INIT_TAKE1("AudAuditLog", set_audit_log, NULL, RSRC_CONF, "where audit records go: a file path or \"|command\""),
    AP_INIT_TAKE1("AudAuditLogBuffer", set_audit_buffer, NULL, RSRC_CONF,
                  "the most seconds an audit record waits in its thread's batch (default 1), or Off: one write per record"),
    AP_INIT_TAKE1("AudCacheEntries", set_cache_entries, NULL, RSRC_CONF,
                  "accepted tokens each process remembers, so as not to verify them again (0: off)"),
    {NULL}};
