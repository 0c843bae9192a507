/* mod_auth_aud: AuthType Bearer for Apache httpd 2.4.
 *
 * Accepts a JWT access token only when its audience is one this location
 * allows (AudAllow), after the core (mod_src/core) has checked its signature
 * and claims. Everything httpd-specific lives here: configuration, the
 * check_authn hook, the HTTP responses, environment variables for backends,
 * the error-log lines and the audit log. Token handling itself is the core's.
 *
 * File order: configuration structures, create/merge, directive handlers,
 * verifiers, request handling, audit log, hooks, module record. The cache
 * of accepted tokens is in aud_token_cache.c. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_strings.h"

/* configure passes PACKAGE_* on the command line and httpd's
 * ap_config_auto.h defines them again (as empty strings); ours are not
 * needed here. */
#undef PACKAGE_BUGREPORT
#undef PACKAGE_NAME
#undef PACKAGE_STRING
#undef PACKAGE_TARNAME
#undef PACKAGE_URL
#undef PACKAGE_VERSION

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include <jansson.h>

#include "aud_alg.h"
#include "aud_audit.h"
#include "aud_hint.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_result.h"
#include "aud_verifier.h"

#include "aud_remote_keys.h"
#include "aud_token_cache.h"

module AP_MODULE_DECLARE_DATA auth_aud_module;

/* Message tags: stable, so operators can grep and alert on them.
 * AUD0001 core messages while loading keys      AUD0010 Bearer without AudAllow
 * AUD0002 secret file readable by others        AUD0011 Bearer without keys
 * AUD0003 audit log cannot be opened            AUD0012 verifier cannot be built
 * AUD0004 audit log write failed                AUD0101 token rejected (info)
 * AUD0102 audit mode: would have rejected       AUD0103 token accepted (debug)
 * AUD0020 start-up lint of a section's settings (warning)
 * AUD0030 remote keys: fetches, failures, stale keys (AudJwksUri, AudDiscovery)
 * AUD0031 a request refused because its remote keys are not available */

#define AUD_LEEWAY_MAX 3600.0
#define AUD_TOKEN_SIZE_MIN 64
#define AUD_TOKEN_SIZE_MAX (1024 * 1024)
#define AUD_RETRY_AFTER "30"
/* Verifiers built while serving requests (for nested sections that combine
 * settings) are kept per process up to this many; beyond it, a request builds
 * its own. Only a configuration with hundreds of nested sections gets there. */
#define AUD_VCACHE_MAX 256
/* Accepted tokens remembered per process (AudCacheEntries): a few hundred
 * bytes each. */
#define AUD_CACHE_DEFAULT 8192
#define AUD_CACHE_MAX 1000000

enum aud_mode { AUD_MODE_ENFORCE, AUD_MODE_AUDIT };

/* The settings that make up a verifier. Lists are config-time arrays that are
 * never modified after start-up and merged by pointer copy, so the identity
 * of this struct's members identifies the verifier: that is what lets a
 * merged per-request configuration find a verifier built earlier. */
typedef struct {
    const apr_array_header_t *allow;    /* const char * */
    /* double, parallel to allow: the end of an AudAllowUntil allowance, or 0
     * for AudAllow. Set, merged and replaced together with allow. */
    const apr_array_header_t *allow_until;
    const apr_array_header_t *issuers;  /* const char * */
    const apr_array_header_t *keyfiles; /* aud_keyset * */
    const apr_array_header_t *remotes;  /* aud_rk_source *: AudJwksUri, AudDiscovery */
    const aud_keyset *secret;
    aud_alg_set algorithms;
    double leeway;
    apr_size_t max_token_size;
} aud_vsettings;

/* One built verifier and the array of key sets it borrows. */
typedef struct aud_vnode {
    struct aud_vnode *next;
    aud_vsettings key;
    aud_verifier *verifier;
    const aud_keyset **keysets;
    size_t n_keys; /* keys across all key sets; 0 means keys_unavailable */
    /* Sources whose keys change at run time (they count as keys even when
     * they hold none at the moment). */
    aud_remote **remotes;
    size_t n_remotes;
    /* In the per-process list, so its address identifies it for as long as
     * the process serves this configuration; the token cache is keyed by
     * that address, so a verifier built for one request (and freed after
     * it) must not use the cache. */
    bool shared;
} aud_vnode;

typedef struct {
    const char *path; /* the section's path: the API's name of last resort */

    aud_vsettings vs;
    unsigned allow_set : 1, issuers_set : 1, keyfiles_set : 1, secret_set : 1, algorithms_set : 1,
        leeway_set : 1, max_token_size_set : 1, remotes_set : 1;
    /* AudKeyRefresh & co. given in this section: they apply to this
     * section's own AudJwksUri and AudDiscovery. */
    aud_rk_settings rk;
    unsigned registered : 1;

    const char *api_name;
    int api_name_set;
    enum aud_mode mode;
    int mode_set;
    const char *user_claim;
    int user_claim_set;
    int error_detail;
    int error_detail_set;

    /* Where this section's audiences and keys were configured, and the
     * section itself: for start-up lint messages and the API's name as other
     * sections' hints see it. */
    const char *allow_file;
    int allow_line;
    const char *keys_file;
    int keys_line;
    const ap_directive_t *section;

    /* The verifier for exactly vs, when known without a lookup. */
    const aud_vnode *node;
} aud_dir_conf;

typedef struct {
    const char *audit_log; /* path or "|command"; NULL: no audit log */
    int audit_log_set;
    apr_file_t *audit_fd;  /* opened in post_config */
    long cache_entries;    /* AudCacheEntries: main server only */
    int cache_entries_set;
    /* Remote keys: defaults for the sources of this server's sections. */
    aud_rk_settings rk;
    const char *ca_file; /* AudCAFile; NULL: the system store */
} aud_server_conf;

/* What a request needs from the core's result, copied into the request's
 * pool: the result itself is freed at once, and an accepted token's verdict
 * can come from the token cache instead. */
typedef struct {
    uint32_t reasons;        /* as in aud_result */
    bool signature_verified;
    aud_tc_verdict v;        /* token_fields always; the rest when known */
    const char *aud_json;    /* audiences for the rejection log line */
    double valid_until;      /* exp + leeway of an accepted token */
} aud_verdict;

/* One decision awaiting its audit record: written at log_transaction, when
 * the final status is known. */
typedef struct {
    const char *token_fields;
    const char *api;
    const char *decision;
    enum aud_mode mode;
    server_rec *server;
} aud_decision;

/* Per config cycle (reset in pre_config; only touched while the single
 * parent process reads configuration). */
static apr_array_header_t *registered_confs;     /* aud_dir_conf * */
static apr_array_header_t *readable_secrets;     /* const char *: warned at start-up */
/* Every API on the server as hints see it (aud_api_view), built in
 * post_config and read-only afterwards: how a refusal can say "this token
 * was minted for 'Users API'". */
static apr_array_header_t *api_views;

/* Per process: every verifier in use, a lock-free list (see vcache_insert). */
static aud_vnode *volatile vcache;
static volatile apr_uint32_t vcache_len;

static volatile apr_uint32_t last_no_allow_log, last_no_keys_log, last_write_fail_log, last_remote_keys_log;

/* ---------------------------------------------------------------- config */

static void *create_dir_config(apr_pool_t *p, char *dir)
{
    aud_dir_conf *conf = apr_pcalloc(p, sizeof *conf);

    conf->path = dir;
    conf->vs.leeway = AUD_DEFAULT_LEEWAY;
    conf->vs.max_token_size = AUD_DEFAULT_MAX_TOKEN_SIZE;
    conf->mode = AUD_MODE_ENFORCE;
    return conf;
}

static bool has_vsettings(const aud_dir_conf *c)
{
    return c->allow_set || c->issuers_set || c->keyfiles_set || c->secret_set || c->algorithms_set ||
           c->leeway_set || c->max_token_size_set || c->remotes_set;
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
static void *merge_dir_config(apr_pool_t *p, void *basev, void *addv)
{
    const aud_dir_conf *base = basev, *add = addv;
    aud_dir_conf *m = apr_palloc(p, sizeof *m);

    m->path = add->path ? add->path : base->path;
#define AUD_MERGE(field, flag)                                                                  \
    do {                                                                                        \
        m->flag = add->flag || base->flag;                                                      \
        m->vs.field = add->flag ? add->vs.field : base->vs.field;                               \
    } while (0)
    AUD_MERGE(allow, allow_set);
    AUD_MERGE(allow_until, allow_set);
    AUD_MERGE(issuers, issuers_set);
    AUD_MERGE(keyfiles, keyfiles_set);
    AUD_MERGE(remotes, remotes_set);
    AUD_MERGE(secret, secret_set);
    AUD_MERGE(algorithms, algorithms_set);
    AUD_MERGE(leeway, leeway_set);
    AUD_MERGE(max_token_size, max_token_size_set);
#undef AUD_MERGE
    m->registered = 0;
    /* Resolved per section in post_config; never read from a merged one. */
    m->rk = add->rk;

    m->api_name_set = add->api_name_set || base->api_name_set;
    m->api_name = add->api_name_set ? add->api_name : base->api_name;
    m->mode_set = add->mode_set || base->mode_set;
    m->mode = add->mode_set ? add->mode : base->mode;
    m->user_claim_set = add->user_claim_set || base->user_claim_set;
    m->user_claim = add->user_claim_set ? add->user_claim : base->user_claim;
    m->error_detail_set = add->error_detail_set || base->error_detail_set;
    m->error_detail = add->error_detail_set ? add->error_detail : base->error_detail;
    m->allow_file = add->allow_set ? add->allow_file : base->allow_file;
    m->allow_line = add->allow_set ? add->allow_line : base->allow_line;
    m->keys_file = add->keys_file ? add->keys_file : base->keys_file;
    m->keys_line = add->keys_file ? add->keys_line : base->keys_line;
    m->section = add->section ? add->section : base->section;

    if (!has_vsettings(add)) {
        m->node = base->node;
    } else if ((add->allow_set || !base->allow_set) && (add->issuers_set || !base->issuers_set) &&
               (add->keyfiles_set || !base->keyfiles_set) && (add->remotes_set || !base->remotes_set) &&
               (add->secret_set || !base->secret_set) &&
               (add->algorithms_set || !base->algorithms_set) && (add->leeway_set || !base->leeway_set) &&
               (add->max_token_size_set || !base->max_token_size_set)) {
        m->node = add->node;
    } else {
        m->node = NULL;
    }
    return m;
}

static void *create_server_config(apr_pool_t *p, server_rec *s)
{
    aud_server_conf *sconf = apr_pcalloc(p, sizeof *sconf);

    sconf->cache_entries = AUD_CACHE_DEFAULT;
    return sconf;
}

static void *merge_server_config(apr_pool_t *p, void *basev, void *addv)
{
    const aud_server_conf *base = basev, *add = addv;
    aud_server_conf *m = apr_pcalloc(p, sizeof *m);

    m->audit_log_set = add->audit_log_set || base->audit_log_set;
    m->audit_log = add->audit_log_set ? add->audit_log : base->audit_log;
    m->cache_entries_set = add->cache_entries_set || base->cache_entries_set;
    m->cache_entries = add->cache_entries_set ? add->cache_entries : base->cache_entries;
    m->rk.refresh = add->rk.refresh > 0 ? add->rk.refresh : base->rk.refresh;
    m->rk.refresh_min = add->rk.refresh_min > 0 ? add->rk.refresh_min : base->rk.refresh_min;
    m->rk.fetch_timeout = add->rk.fetch_timeout > 0 ? add->rk.fetch_timeout : base->rk.fetch_timeout;
    m->rk.max_stale_set = add->rk.max_stale_set || base->rk.max_stale_set;
    m->rk.max_stale = add->rk.max_stale_set ? add->rk.max_stale : base->rk.max_stale;
    m->ca_file = add->ca_file ? add->ca_file : base->ca_file;
    return m;
}

/* ---------------------------------------------------- directive handlers */

static void core_log(void *baton, aud_log_level level, const char *message)
{
    server_rec *s = baton;
    int ap_level;

    switch (level) {
    case AUD_LOG_ERROR:
        ap_level = APLOG_ERR;
        break;
    case AUD_LOG_WARNING:
        ap_level = APLOG_WARNING;
        break;
    case AUD_LOG_INFO:
        ap_level = APLOG_INFO;
        break;
    default:
        ap_level = APLOG_DEBUG;
        break;
    }
    ap_log_error(APLOG_MARK, ap_level, 0, s, "AUD0001: %s", message);
}

/* A verifier setting was given in this section: remember the section, so
 * that post_config builds its verifier. */
static void note_vsetting(cmd_parms *cmd, aud_dir_conf *conf)
{
    conf->section = cmd->directive->parent;
    if (!conf->registered && registered_confs != NULL) {
        conf->registered = 1;
        APR_ARRAY_PUSH(registered_confs, aud_dir_conf *) = conf;
    }
}

static void note_keys(cmd_parms *cmd, aud_dir_conf *conf)
{
    if (conf->keys_file == NULL) {
        conf->keys_file = cmd->directive->filename;
        conf->keys_line = cmd->directive->line_num;
    }
}

static apr_array_header_t *own_list(apr_pool_t *p, const apr_array_header_t *list, unsigned set)
{
    /* Lists start afresh in each section (they replace, not append, what a
     * parent section set); within one section a repeated directive adds. */
    if (set && list != NULL)
        return (apr_array_header_t *)list;
    return apr_array_make(p, 2, sizeof(void *));
}

/* Adds one audience, allowed for good (until 0) or until a time. The
 * audience list and its allowance ends start afresh together in each
 * section. */
static void add_audience(cmd_parms *cmd, aud_dir_conf *conf, const char *aud, double until)
{
    apr_array_header_t *list = own_list(cmd->pool, conf->vs.allow, conf->allow_set);
    apr_array_header_t *ends = (conf->allow_set && conf->vs.allow_until != NULL)
                                   ? (apr_array_header_t *)conf->vs.allow_until
                                   : apr_array_make(cmd->pool, 2, sizeof(double));

    APR_ARRAY_PUSH(list, const char *) = aud;
    APR_ARRAY_PUSH(ends, double) = until;
    conf->vs.allow = list;
    conf->vs.allow_until = ends;
    if (!conf->allow_set) {
        conf->allow_file = cmd->directive->filename;
        conf->allow_line = cmd->directive->line_num;
    }
    conf->allow_set = 1;
    note_vsetting(cmd, conf);
}

static const char *set_allow(cmd_parms *cmd, void *cfg, const char *arg)
{
    if (*arg == '\0')
        return "AudAllow: an empty audience can never match a token";
    add_audience(cmd, cfg, arg, 0);
    return NULL;
}

/* YYYY-MM-DD, a real calendar day; the allowance covers that whole day in
 * UTC, so it ends at the following midnight. */
static bool parse_allowance_end(const char *arg, double *end)
{
    struct tm tm;
    int y, m, d;
    char tail;

    if (strlen(arg) != 10 || sscanf(arg, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || arg[4] != '-' ||
        arg[7] != '-' || strspn(arg, "0123456789-") != 10)
        return false;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm normalises 2026-02-30 to March; a real date survives the
     * round trip unchanged. */
    if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_year != y - 1900 || back.tm_mon != m - 1 ||
        back.tm_mday != d)
        return false;
    *end = (double)t + 86400.0;
    return true;
}

static const char *set_allow_until(cmd_parms *cmd, void *cfg, int argc, char *const argv[])
{
    double end;

    if (argc < 2)
        return "AudAllowUntil: give a date (YYYY-MM-DD) and at least one audience";
    if (!parse_allowance_end(argv[0], &end))
        return apr_psprintf(cmd->pool, "AudAllowUntil: '%s' is not a date in the form YYYY-MM-DD", argv[0]);
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
    conf->error_detail_set = 1;
    return NULL;
}

static const char *set_issuer(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    apr_array_header_t *list;

    if (*arg == '\0')
        return "AudIssuer: an empty issuer can never match a token";
    list = own_list(cmd->pool, conf->vs.issuers, conf->issuers_set);
    APR_ARRAY_PUSH(list, const char *) = arg;
    conf->vs.issuers = list;
    conf->issuers_set = 1;
    note_vsetting(cmd, conf);
    return NULL;
}

static apr_status_t destroy_keyset(void *data)
{
    aud_keyset_destroy(data);
    return APR_SUCCESS;
}

/* Key sets live for one configuration cycle, shared by every section that
 * names the same file: a graceful restart re-reads the configuration into a
 * fresh pconf, so keys are reloaded then and only then. */
static aud_keyset *load_keyset(cmd_parms *cmd, const char *directive, const char *path, bool secret,
                               const char **errmsg)
{
    static const char cache_key[] = "mod_auth_aud:keysets";
    apr_hash_t *cache = NULL;
    const char *abs = ap_server_root_relative(cmd->temp_pool, path);
    const char *hkey;
    aud_keyset *set;
    aud_logger logger = {core_log, cmd->server};
    aud_error err;
    bool ok;

    *errmsg = NULL;
    if (abs == NULL) {
        *errmsg = apr_psprintf(cmd->pool, "%s %s: invalid file path", directive, path);
        return NULL;
    }
    apr_pool_userdata_get((void **)&cache, cache_key, cmd->pool);
    if (cache == NULL) {
        cache = apr_hash_make(cmd->pool);
        apr_pool_userdata_set(cache, cache_key, apr_pool_cleanup_null, cmd->pool);
    }
    hkey = apr_pstrcat(cmd->pool, secret ? "secret:" : "key:", abs, NULL);
    set = apr_hash_get(cache, hkey, APR_HASH_KEY_STRING);
    if (set != NULL)
        return set;

    set = aud_keyset_create();
    if (set == NULL) {
        *errmsg = apr_psprintf(cmd->pool, "%s %s: out of memory", directive, abs);
        return NULL;
    }
    memset(&err, 0, sizeof err);
    ok = secret ? aud_keyset_load_secret_file(set, abs, &err)
                : aud_keyset_load_file(set, abs, &logger, &err);
    if (!ok) {
        aud_keyset_destroy(set);
        /* The core's messages usually name the file already. */
        if (err.text[0] != '\0' && strstr(err.text, abs) != NULL)
            *errmsg = apr_psprintf(cmd->pool, "%s: %s", directive, err.text);
        else
            *errmsg = apr_psprintf(cmd->pool, "%s %s: %s", directive, abs,
                                   err.text[0] ? err.text : "cannot be loaded");
        return NULL;
    }
    apr_pool_cleanup_register(cmd->pool, set, destroy_keyset, apr_pool_cleanup_null);
    apr_hash_set(cache, hkey, APR_HASH_KEY_STRING, set);
    return set;
}

static const char *set_key_file(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    apr_array_header_t *list;
    const char *errmsg;
    aud_keyset *set = load_keyset(cmd, "AudKeyFile", arg, false, &errmsg);

    if (set == NULL)
        return errmsg;
    list = own_list(cmd->pool, conf->vs.keyfiles, conf->keyfiles_set);
    APR_ARRAY_PUSH(list, aud_keyset *) = set;
    conf->vs.keyfiles = list;
    conf->keyfiles_set = 1;
    note_keys(cmd, conf);
    note_vsetting(cmd, conf);
    return NULL;
}

static const char *set_secret_file(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    const char *errmsg;
    aud_keyset *set = load_keyset(cmd, "AudSecretFile", arg, true, &errmsg);
    struct stat st;
    const char *abs = ap_server_root_relative(cmd->pool, arg);

    if (set == NULL)
        return errmsg;
    if (abs != NULL && stat(abs, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0 &&
        readable_secrets != NULL)
        APR_ARRAY_PUSH(readable_secrets, const char *) = abs;
    conf->vs.secret = set;
    conf->secret_set = 1;
    note_keys(cmd, conf);
    note_vsetting(cmd, conf);
    return NULL;
}

/* AudJwksUri and AudDiscovery: the URL is checked now (a malformed or
 * plain-http non-loopback URL stops start-up); nothing is fetched until
 * post_config. */
static const char *add_remote(cmd_parms *cmd, aud_dir_conf *conf, bool discovery, const char *url)
{
    apr_array_header_t *list;
    aud_rk_source *src;
    const char *err = aud_rk_add(cmd, &conf->rk, discovery, url, &src);

    if (err != NULL)
        return err;
    list = own_list(cmd->pool, conf->vs.remotes, conf->remotes_set);
    APR_ARRAY_PUSH(list, aud_rk_source *) = src;
    conf->vs.remotes = list;
    conf->remotes_set = 1;
    /* A discovery document names its issuer, so only a bare JWKS URI
     * leaves the issuer open (start-up lint). */
    if (!discovery)
        note_keys(cmd, conf);
    note_vsetting(cmd, conf);
    return NULL;
}

static const char *set_jwks_uri(cmd_parms *cmd, void *cfg, const char *arg)
{
    return add_remote(cmd, cfg, false, arg);
}

static const char *set_discovery(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    for (int i = 0; conf->remotes_set && i < conf->vs.remotes->nelts; i++) {
        if (aud_rk_issuer(APR_ARRAY_IDX(conf->vs.remotes, i, aud_rk_source *)) != NULL)
            return "AudDiscovery: one per section (it names the section's issuer)";
    }
    return add_remote(cmd, cfg, true, arg);
}

/* A directive's whole number from min to max, in plain decimal digits (no
 * sign, spaces, hex or exponent). NULL, or the message naming the directive,
 * the value and the range. */
static const char *whole_number(cmd_parms *cmd, const char *arg, long min, long max, const char *unit, long *out)
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

enum rk_setting { RK_REFRESH, RK_REFRESH_MIN, RK_MAX_STALE, RK_FETCH_TIMEOUT };

/* In a section: for that section's sources; at server or virtual host
 * level: the default for every source of that server. */
static const char *set_rk_seconds(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);
    aud_rk_settings *rk = cmd->path != NULL ? &((aud_dir_conf *)cfg)->rk : &sconf->rk;
    enum rk_setting which = (enum rk_setting)(intptr_t)cmd->info;
    static const long max[] = {[RK_REFRESH] = 7 * 86400, [RK_REFRESH_MIN] = 86400, [RK_MAX_STALE] = 30 * 86400,
                               [RK_FETCH_TIMEOUT] = 60};
    long v;
    const char *err = whole_number(cmd, arg, which == RK_MAX_STALE ? 0 : 1, max[which], "seconds", &v);

    if (err != NULL)
        return err;
    switch (which) {
    case RK_REFRESH:
        rk->refresh = (double)v;
        break;
    case RK_REFRESH_MIN:
        rk->refresh_min = (double)v;
        break;
    case RK_MAX_STALE:
        rk->max_stale = (double)v;
        rk->max_stale_set = 1;
        break;
    case RK_FETCH_TIMEOUT:
        rk->fetch_timeout = (double)v;
        break;
    }
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);
    const char *abs = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t finfo;

    if (abs == NULL || apr_stat(&finfo, abs, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS ||
        finfo.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "AudCAFile: %s is not a readable file", arg);
    sconf->ca_file = abs;
    return NULL;
}

static const char *set_algorithms(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    aud_alg alg;

    if (aud_alg_name_is_none(arg))
        return apr_psprintf(cmd->pool, "AudAlgorithms: '%s' is never accepted: unsigned tokens prove nothing",
                            arg);
    if (!aud_alg_from_name(arg, &alg)) {
        char *known = "";
        for (int i = 0; i < AUD_ALG_COUNT; i++)
            known = apr_pstrcat(cmd->temp_pool, known, i ? " " : "", aud_alg_name((aud_alg)i), NULL);
        return apr_psprintf(cmd->pool, "AudAlgorithms: unknown algorithm '%s' (names are case-sensitive; known: %s)",
                            arg, known);
    }
    if (!conf->algorithms_set)
        conf->vs.algorithms = 0;
    conf->vs.algorithms |= AUD_ALG_BIT(alg);
    conf->algorithms_set = 1;
    note_vsetting(cmd, conf);
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
    conf->leeway_set = 1;
    note_vsetting(cmd, conf);
    return NULL;
}

static const char *set_max_token_size(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    long v;
    const char *err = whole_number(cmd, arg, AUD_TOKEN_SIZE_MIN, AUD_TOKEN_SIZE_MAX, "bytes", &v);

    if (err != NULL)
        return err;
    conf->vs.max_token_size = (apr_size_t)v;
    conf->max_token_size_set = 1;
    note_vsetting(cmd, conf);
    return NULL;
}

static const char *set_mode(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    if (strcasecmp(arg, "enforce") == 0)
        conf->mode = AUD_MODE_ENFORCE;
    else if (strcasecmp(arg, "audit") == 0)
        conf->mode = AUD_MODE_AUDIT;
    else
        return apr_psprintf(cmd->pool, "AudMode: '%s' is neither 'enforce' nor 'audit'", arg);
    conf->mode_set = 1;
    return NULL;
}

static const char *set_user_claim(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    if (*arg == '\0')
        return "AudUserClaim: the claim name is empty";
    conf->user_claim = arg;
    conf->user_claim_set = 1;
    return NULL;
}

static const char *set_api_name(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    if (*arg == '\0')
        return "AudApiName: the name is empty";
    conf->api_name = arg;
    conf->api_name_set = 1;
    return NULL;
}

static const char *set_audit_log(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);

    if (*arg == '\0' || (arg[0] == '|' && arg[1 + strspn(arg + 1, " \t")] == '\0'))
        return "AudAuditLog: give a file path or \"|command\"";
    sconf->audit_log = arg;
    sconf->audit_log_set = 1;
    return NULL;
}

static const char *set_cache_entries(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long v;

    if (err == NULL)
        err = whole_number(cmd, arg, 0, AUD_CACHE_MAX, "entries (0: off)", &v);
    if (err != NULL)
        return err;
    sconf->cache_entries = v;
    sconf->cache_entries_set = 1;
    return NULL;
}

static const command_rec auth_aud_cmds[] = {
    AP_INIT_ITERATE("AudAllow", set_allow, NULL, ACCESS_CONF,
                    "the token audiences this location accepts"),
    AP_INIT_TAKE_ARGV("AudAllowUntil", set_allow_until, NULL, ACCESS_CONF,
                      "a date (YYYY-MM-DD, UTC) and the audiences accepted until the end of that day"),
    AP_INIT_FLAG("AudErrorDetail", set_error_detail, NULL, ACCESS_CONF,
                 "on: tell the client the likely cause of a refusal (pre-production only; default off)"),
    AP_INIT_TAKE1("AudApiName", set_api_name, NULL, ACCESS_CONF,
                  "the API's name in audit records, logs and the realm"),
    AP_INIT_ITERATE("AudIssuer", set_issuer, NULL, ACCESS_CONF, "the accepted token issuers"),
    AP_INIT_ITERATE("AudKeyFile", set_key_file, NULL, ACCESS_CONF,
                    "verification keys: PEM key or certificate, JWK or JWKS files"),
    AP_INIT_TAKE1("AudSecretFile", set_secret_file, NULL, ACCESS_CONF,
                  "a file whose bytes are an HMAC secret (HS* must be listed in AudAlgorithms)"),
    AP_INIT_ITERATE("AudJwksUri", set_jwks_uri, NULL, ACCESS_CONF,
                    "URLs of key sets (JWKS) to fetch, refresh and follow through rotations"),
    AP_INIT_TAKE1("AudDiscovery", set_discovery, NULL, ACCESS_CONF,
                  "an issuer URL or OpenID Connect / RFC 8414 metadata URL: keys from its jwks_uri, and its "
                  "issuer unless AudIssuer is given"),
    AP_INIT_TAKE1("AudKeyRefresh", set_rk_seconds, (void *)RK_REFRESH, ACCESS_CONF | RSRC_CONF,
                  "seconds between refreshes of remote keys (default 3600; Cache-Control max-age wins)"),
    AP_INIT_TAKE1("AudKeyRefreshMin", set_rk_seconds, (void *)RK_REFRESH_MIN, ACCESS_CONF | RSRC_CONF,
                  "the least seconds between two fetches of one key source, whatever asks (default 60)"),
    AP_INIT_TAKE1("AudKeyMaxStale", set_rk_seconds, (void *)RK_MAX_STALE, ACCESS_CONF | RSRC_CONF,
                  "seconds remote keys stay in use past their refresh time while fetches fail (default 86400)"),
    AP_INIT_TAKE1("AudKeyFetchTimeout", set_rk_seconds, (void *)RK_FETCH_TIMEOUT, ACCESS_CONF | RSRC_CONF,
                  "seconds one whole fetch of remote keys may take (default 5)"),
    AP_INIT_TAKE1("AudCAFile", set_ca_file, NULL, RSRC_CONF,
                  "PEM file of the CAs trusted for fetching remote keys (default: the system store)"),
    AP_INIT_ITERATE("AudAlgorithms", set_algorithms, NULL, ACCESS_CONF,
                    "accepted JWS algorithms (default: every asymmetric one)"),
    AP_INIT_TAKE1("AudLeeway", set_leeway, NULL, ACCESS_CONF,
                  "allowed clock skew in seconds for exp, nbf and iat (default 60)"),
    AP_INIT_TAKE1("AudMaxTokenSize", set_max_token_size, NULL, ACCESS_CONF,
                  "longest accepted token in bytes (default 16384)"),
    AP_INIT_TAKE1("AudMode", set_mode, NULL, ACCESS_CONF,
                  "enforce (default) or audit: record decisions but let every request through"),
    AP_INIT_TAKE1("AudUserClaim", set_user_claim, NULL, ACCESS_CONF,
                  "the claim that becomes the user name (default sub)"),
    AP_INIT_TAKE1("AudAuditLog", set_audit_log, NULL, RSRC_CONF,
                  "where audit records go: a file path or \"|command\""),
    AP_INIT_TAKE1("AudCacheEntries", set_cache_entries, NULL, RSRC_CONF,
                  "accepted tokens each process remembers, so as not to verify them again (0: off)"),
    {NULL}};

/* ------------------------------------------------------------ verifiers */

static double clock_now(void *baton)
{
    return (double)apr_time_now() / (double)APR_USEC_PER_SEC;
}

static bool vsettings_equal(const aud_vsettings *a, const aud_vsettings *b)
{
    return a->allow == b->allow && a->allow_until == b->allow_until && a->issuers == b->issuers && a->keyfiles == b->keyfiles &&
           a->remotes == b->remotes && a->secret == b->secret && a->algorithms == b->algorithms && a->leeway == b->leeway &&
           a->max_token_size == b->max_token_size;
}

static void vnode_destroy(aud_vnode *n)
{
    if (n == NULL)
        return;
    aud_verifier_destroy(n->verifier);
    free(n->keysets);
    free(n->remotes);
    free(n);
}

static const char **string_list(const apr_array_header_t *a, size_t *n)
{
    *n = a ? (size_t)a->nelts : 0;
    return a ? (const char **)a->elts : NULL;
}

/* malloc'd rather than pool-allocated, so that a child can build one while
 * serving requests and keep it for the life of the process. */
static aud_vnode *vnode_build(const aud_vsettings *vs, server_rec *s, aud_error *err)
{
    aud_vnode *n = calloc(1, sizeof *n);
    size_t nfiles = vs->keyfiles ? (size_t)vs->keyfiles->nelts : 0;
    size_t nremotes = vs->remotes ? (size_t)vs->remotes->nelts : 0;
    size_t nsets = 0;
    aud_key_source *sources = NULL;
    aud_verifier_config vc;

    if (n == NULL || (n->keysets = calloc(nfiles + 1, sizeof *n->keysets)) == NULL ||
        (n->remotes = calloc(nremotes + 1, sizeof *n->remotes)) == NULL ||
        (sources = calloc(nremotes + 1, sizeof *sources)) == NULL) {
        aud_error_set(err, "out of memory");
        vnode_destroy(n);
        return NULL;
    }
    for (size_t i = 0; i < nremotes; i++) {
        n->remotes[i] = aud_rk_remote(APR_ARRAY_IDX(vs->remotes, i, aud_rk_source *));
        sources[i] = aud_remote_key_source(n->remotes[i]);
    }
    n->n_remotes = nremotes;
    n->key = *vs;
    for (size_t i = 0; i < nfiles; i++)
        n->keysets[nsets++] = APR_ARRAY_IDX(vs->keyfiles, i, aud_keyset *);
    if (vs->secret != NULL)
        n->keysets[nsets++] = vs->secret;
    for (size_t i = 0; i < nsets; i++)
        n->n_keys += aud_keyset_count(n->keysets[i]);

    aud_verifier_config_init(&vc);
    vc.keysets = n->keysets;
    vc.n_keysets = nsets;
    vc.sources = sources;
    vc.n_sources = nremotes;
    vc.algorithms = vs->algorithms;
    vc.issuers = string_list(vs->issuers, &vc.n_issuers);
    vc.audiences = string_list(vs->allow, &vc.n_audiences);
    vc.audience_until = vs->allow_until ? (const double *)vs->allow_until->elts : NULL;
    vc.leeway = vs->leeway;
    vc.max_token_size = vs->max_token_size;
    vc.now = clock_now;
    vc.now_baton = NULL;
    vc.logger.fn = core_log;
    vc.logger.baton = s;
    n->verifier = aud_verifier_create(&vc, err);
    free(sources); /* copied by the verifier */
    if (n->verifier == NULL) {
        vnode_destroy(n);
        return NULL;
    }
    return n;
}

static aud_vnode *vcache_find(const aud_vsettings *vs)
{
    for (aud_vnode *n = vcache; n != NULL; n = n->next) {
        if (vsettings_equal(&n->key, vs))
            return n;
    }
    return NULL;
}

/* Readers walk the list without a lock; a new node is pushed with a
 * compare-and-swap, and nodes are only freed when the configuration that
 * owns their key sets goes away (pconf cleanup), when no request runs. Two
 * threads that build the same verifier at once keep one and drop the other. */
static bool vcache_insert(aud_vnode *node, aud_vnode **winner)
{
    for (;;) {
        aud_vnode *head = vcache;
        for (aud_vnode *n = head; n != NULL; n = n->next) {
            if (vsettings_equal(&n->key, &node->key)) {
                *winner = n;
                return false;
            }
        }
        if (apr_atomic_read32(&vcache_len) >= AUD_VCACHE_MAX) {
            *winner = NULL;
            return false;
        }
        node->next = head;
        node->shared = true;
        if (apr_atomic_casptr((volatile void **)&vcache, node, head) == head) {
            apr_atomic_inc32(&vcache_len);
            *winner = node;
            return true;
        }
        node->shared = false;
    }
}

static apr_status_t vcache_clear(void *data)
{
    aud_vnode *n = vcache;

    vcache = NULL;
    apr_atomic_set32(&vcache_len, 0);
    while (n != NULL) {
        aud_vnode *next = n->next;
        vnode_destroy(n);
        n = next;
    }
    return APR_SUCCESS;
}

static apr_status_t vnode_cleanup(void *data)
{
    vnode_destroy(data);
    return APR_SUCCESS;
}

/* The verifier for a request's merged configuration; NULL only when one
 * cannot be built (memory exhaustion), which the caller answers with 503. */
static const aud_vnode *verifier_for(request_rec *r, const aud_dir_conf *conf)
{
    aud_vnode *n, *winner;
    aud_error err;

    if (conf->node != NULL)
        return conf->node;
    n = vcache_find(&conf->vs);
    if (n != NULL)
        return n;
    memset(&err, 0, sizeof err);
    n = vnode_build(&conf->vs, r->server, &err);
    if (n == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "AUD0012: cannot build a verifier for %s: %s",
                      conf->path ? conf->path : r->uri, err.text);
        return NULL;
    }
    if (vcache_insert(n, &winner))
        return n;
    if (winner != NULL) {
        vnode_destroy(n);
        return winner;
    }
    apr_pool_cleanup_register(r->pool, n, vnode_cleanup, apr_pool_cleanup_null);
    return n;
}

/* ------------------------------------------------------ request handling */

/* Once a minute per process at most: an operator mistake must show at the
 * default log level, but a flood of requests must not flood the log. */
static bool rate_limit_ok(volatile apr_uint32_t *last)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t prev = apr_atomic_read32(last);

    if (prev != 0 && now - prev < 60)
        return false;
    return apr_atomic_cas32(last, now, prev) == prev;
}

/* mod_authn_core stores AuthName with its quotes already backslash-escaped
 * (for mod_auth_basic to paste into a header); the API's name is the plain
 * text, which this module escapes itself where a header needs it. */
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

/* The contents of a quoted-string (RFC 9110 section 5.6.4): quote and
 * backslash escaped, control characters dropped so that no configuration
 * value can split the header. */
static const char *quoted_string_escape(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) * 2 + 1), *o = out;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            continue;
        if (c == '"' || c == '\\')
            *o++ = '\\';
        *o++ = (char)c;
    }
    *o = '\0';
    return out;
}

/* Every WWW-Authenticate this module sends comes from here: realm always,
 * error and its description only when there is something to report (no
 * error at all for a request that carried no token, RFC 6750 section 3.1). */
static void note_bearer_auth_failure(request_rec *r, const char *api, const char *error,
                                     const char *description)
{
    const char *header = (r->proxyreq == PROXYREQ_PROXY) ? "Proxy-Authenticate" : "WWW-Authenticate";
    const char *value = apr_pstrcat(r->pool, "Bearer realm=\"", quoted_string_escape(r->pool, api), "\"", NULL);

    if (error != NULL) {
        value = apr_pstrcat(r->pool, value, ", error=\"", error, "\"", NULL);
        if (description != NULL)
            value = apr_pstrcat(r->pool, value, ", error_description=\"",
                                quoted_string_escape(r->pool, description), "\"", NULL);
    }
    apr_table_setn(r->err_headers_out, header, value);
}

enum credential { CRED_NONE, CRED_TOKEN, CRED_MALFORMED };

/* Authorization: Bearer <token>, the scheme in any case and exactly one
 * credential. Another scheme counts as no token: this location asks for a
 * bearer token and the client did not offer one. */
static enum credential read_credential(const char *header, const char **token, size_t *len)
{
    const char *p = header, *start;

    if (header == NULL)
        return CRED_NONE;
    while (*p == ' ' || *p == '\t')
        p++;
    start = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if ((size_t)(p - start) != 6 || strncasecmp(start, "Bearer", 6) != 0)
        return CRED_NONE;
    while (*p == ' ' || *p == '\t')
        p++;
    start = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    *token = start;
    *len = (size_t)(p - start);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*len == 0 || *p != '\0')
        return CRED_MALFORMED;
    return CRED_TOKEN;
}

/* A token value for an environment variable: control characters become '?',
 * so that a claim cannot smuggle a line break into a header a backend
 * builds from it with mod_headers. */
static const char *env_value(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s);

    for (char *c = out; *c; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = '?';
    }
    return out;
}

static const char *scope_text(apr_pool_t *p, const aud_result *res)
{
    const char *scope = aud_result_claim_string(res, "scope");
    const json_t *scp;
    char *joined = NULL;

    if (scope != NULL)
        return scope;
    scope = aud_result_claim_string(res, "scp");
    if (scope != NULL)
        return scope;
    scp = res->claims ? json_object_get(res->claims, "scp") : NULL;
    if (!json_is_array(scp))
        return NULL;
    for (size_t i = 0; i < json_array_size(scp); i++) {
        const char *v = json_string_value(json_array_get(scp, i));
        if (v == NULL)
            continue;
        joined = joined ? apr_pstrcat(p, joined, " ", v, NULL) : apr_pstrdup(p, v);
    }
    return joined;
}

static void set_env(request_rec *r, const char *name, const char *value)
{
    if (value != NULL)
        apr_table_setn(r->subprocess_env, name, env_value(r->pool, value));
}

/* The user name: the configured claim, else whoever the token was issued to
 * (client-credentials tokens carry no sub). */
static const char *user_of(const aud_dir_conf *conf, const aud_result *res)
{
    const char *claim = conf->user_claim ? conf->user_claim : "sub";
    const char *user = aud_result_claim_string(res, claim);

    if (user == NULL || *user == '\0')
        user = aud_result_client(res);
    return (user != NULL && *user != '\0') ? user : NULL;
}

static void stash_decision(request_rec *r, const char *token_fields, const char *api, const char *decision,
                           enum aud_mode mode)
{
    request_rec *root = r;
    apr_array_header_t *list;
    aud_decision *d;

    /* Internal redirects are new request_recs chained by prev; the audit
     * record belongs to the request the client sent, written once it is
     * logged. */
    while (root->prev != NULL)
        root = root->prev;
    list = ap_get_module_config(root->request_config, &auth_aud_module);
    if (list == NULL) {
        list = apr_array_make(root->pool, 1, sizeof(aud_decision));
        ap_set_module_config(root->request_config, &auth_aud_module, list);
    }
    d = apr_array_push(list);
    d->token_fields = token_fields;
    d->api = api;
    d->decision = decision;
    d->mode = mode;
    d->server = r->server;
}

static const char *pool_copy(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

/* Hints at the likely cause, from this API's settings and every other API
 * on the server. Only refusals need them, and acceptances of an audience
 * whose allowance is running out; the common acceptance skips the work. */
static void add_hints(request_rec *r, const aud_dir_conf *conf, const char *api, double now, aud_result *res)
{
    aud_api_view self, *others = NULL;
    size_t n_others = 0;

    if (res->claims == NULL || (aud_result_accepted(res) && res->matched_until == 0))
        return;
    self.name = api;
    self.audiences = string_list(conf->vs.allow, &self.n_audiences);
    self.issuers = string_list(conf->vs.issuers, &self.n_issuers);
    if (api_views != NULL && api_views->nelts > 0) {
        others = apr_palloc(r->pool, sizeof *others * (size_t)api_views->nelts);
        for (int i = 0; i < api_views->nelts; i++) {
            const aud_api_view *v = &APR_ARRAY_IDX(api_views, i, aud_api_view);
            /* This API's own section (and sections inheriting its list). */
            if (v->audiences != self.audiences)
                others[n_others++] = *v;
        }
    }
    aud_hint_context ctx = {&self, others, n_others, now};
    aud_hints_add(res, &ctx);
}

/* Hint codes joined by "," and the first hint's sentence, for AUD_HINT,
 * AUD_HINT_TEXT and the log line. */
static void hint_summary(apr_pool_t *p, const aud_result *res, aud_tc_verdict *v)
{
    size_t i;
    json_t *hint;

    json_array_foreach(res->hints, i, hint) {
        const char *code = json_string_value(json_object_get(hint, "code"));
        v->hint_codes = v->hint_codes ? apr_pstrcat(p, v->hint_codes, ",", code, NULL) : apr_pstrdup(p, code);
    }
    v->hint_text = pool_copy(p, aud_hints_first_text(res));
}

/* Everything the request needs from a result, in the request's pool. */
static bool verdict_from_result(request_rec *r, const aud_dir_conf *conf, const aud_vnode *node,
                                const aud_result *res, aud_verdict *out)
{
    char *fields = aud_audit_token_fields(res, NULL);
    bool accepted = aud_result_accepted(res);

    if (fields == NULL)
        return false;
    memset(out, 0, sizeof *out);
    out->reasons = res->reasons;
    out->signature_verified = res->signature_verified;
    out->v.token_fields = apr_pstrdup(r->pool, fields);
    free(fields);
    out->v.token_id = res->token_id[0] ? apr_pstrdup(r->pool, res->token_id) : NULL;
    hint_summary(r->pool, res, &out->v);
    if (accepted || res->signature_verified)
        out->v.user = pool_copy(r->pool, user_of(conf, res));
    if (accepted) {
        const json_t *exp = res->claims ? json_object_get(res->claims, "exp") : NULL;
        out->v.matched = pool_copy(r->pool, res->matched_audience);
        out->v.iss = pool_copy(r->pool, aud_result_claim_string(res, "iss"));
        out->v.sub = pool_copy(r->pool, aud_result_claim_string(res, "sub"));
        out->v.client = pool_copy(r->pool, aud_result_client(res));
        out->v.scope = pool_copy(r->pool, scope_text(r->pool, res));
        /* Accepted means exp is a number the verifier checked. */
        out->valid_until = json_is_number(exp) && node != NULL ? json_number_value(exp) + node->key.leeway : 0;
        /* An audience allowed only until a date must not outlive its
         * allowance in the cache. */
        if (res->matched_until != 0 && res->matched_until < out->valid_until)
            out->valid_until = res->matched_until;
    } else {
        char *aud = aud_audit_audiences_json(res);
        out->aud_json = aud ? apr_pstrdup(r->pool, aud) : "null";
        free(aud);
    }
    return true;
}

/* Which remote keys a verdict rests on: the documents each of the node's
 * sources holds. False when some source has no usable keys, is due a
 * refresh or has news in its store: then the token is checked afresh and
 * nothing is cached, so that a removed key never lives on in the cache. */
static bool remote_epoch(const aud_vnode *node, uint32_t *epoch)
{
    *epoch = 0;
    for (size_t i = 0; i < node->n_remotes; i++) {
        uint32_t gen;
        if (!aud_remote_quiet(node->remotes[i], &gen))
            return false;
        *epoch = *epoch * 2654435761u + gen;
    }
    return true;
}

static uint32_t remote_generation(const aud_vnode *node)
{
    uint32_t g = 0;

    for (size_t i = 0; i < node->n_remotes; i++)
        g = g * 2654435761u + aud_remote_generation(node->remotes[i]);
    return g;
}

/* The verdict on a request's credential: from the token cache when this
 * token was accepted before under the same settings, else from the core. */
static bool decide(request_rec *r, const aud_dir_conf *conf, const char *api, const aud_vnode *node,
                   enum credential cred, const char *token, size_t token_len, aud_verdict *out)
{
    unsigned char digest[AUD_TC_DIGEST_LEN];
    bool cacheable = false;
    uint32_t epoch = 0, epoch_after;
    aud_result *res;
    bool ok;

    if (cred == CRED_NONE) {
        res = aud_result_new_reason(AUD_REASON_NO_TOKEN, "the request carries no bearer token");
    } else if (cred == CRED_MALFORMED) {
        res = aud_result_new_reason(AUD_REASON_MALFORMED,
                                    "the Authorization header is not exactly one bearer credential");
    } else if (node == NULL) {
        res = aud_result_new_reason(AUD_REASON_KEYS_UNAVAILABLE, "no verifier could be built");
    } else {
        double now = (double)apr_time_now() / (double)APR_USEC_PER_SEC;
        cacheable = node->shared && aud_tc_enabled() && remote_epoch(node, &epoch) &&
                    aud_tc_digest(token, token_len, digest);
        /* With remote keys, the entry is also keyed by the key documents it
         * was accepted under: a refresh starts afresh. */
        for (size_t i = 0; cacheable && node->n_remotes > 0 && i < 4; i++)
            digest[i] ^= (unsigned char)(epoch >> (8 * i));
        if (cacheable && aud_tc_lookup(node, conf->user_claim, digest, now, r->pool, &out->v)) {
            out->reasons = 0;
            out->signature_verified = true;
            out->aud_json = NULL;
            out->valid_until = 0;
            return true;
        }
        uint32_t generation = remote_generation(node);
        res = aud_verifier_check(node->verifier, token, token_len);
        /* An unknown kid made a source refresh (or another request's refresh
         * landed meanwhile): the new set may have it, so once more. */
        if (res != NULL && node->n_remotes > 0 && aud_result_has(res, AUD_REASON_UNKNOWN_KEY) &&
            remote_generation(node) != generation) {
            aud_result_free(res);
            res = aud_verifier_check(node->verifier, token, token_len);
        }
        if (cacheable && node->n_remotes > 0 && (!remote_epoch(node, &epoch_after) || epoch_after != epoch))
            cacheable = false;
        if (res != NULL && node->n_keys == 0 && node->n_remotes == 0 &&
            !aud_result_has(res, AUD_REASON_KEYS_UNAVAILABLE))
            aud_result_add_reason(res, AUD_REASON_KEYS_UNAVAILABLE,
                                  "no AudKeyFile or AudSecretFile applies to this location");
        if (res != NULL)
            add_hints(r, conf, api, now, res);
    }
    if (res == NULL)
        return false;
    ok = verdict_from_result(r, conf, node, res, out);
    if (ok && cacheable && out->reasons == 0 && out->valid_until > 0)
        aud_tc_insert(node, conf->user_claim, digest, out->valid_until, &out->v);
    aud_result_free(res);
    return ok;
}

/* RFC 6750 section 3 limits error_description to printable ASCII without
 * '"' and '\\'; a hint quotes token values, so it is folded into that set
 * rather than escaped. */
static const char *error_description(apr_pool_t *p, const aud_dir_conf *conf, aud_reason primary,
                                     const aud_verdict *vd)
{
    char *text, *c;

    if (!conf->error_detail || vd->v.hint_text == NULL)
        return aud_reason_summary(primary);
    text = apr_pstrcat(p, aud_reason_summary(primary), ": ", vd->v.hint_text, NULL);
    for (c = text; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u > 0x7e)
            *c = '?';
        else if (u == '"')
            *c = '\'';
        else if (u == '\\')
            *c = '/';
    }
    return text;
}

/* Names the source that has no keys and why, once a minute per process:
 * an outage must show at the default log level without flooding it. */
static void log_remote_keys_unavailable(request_rec *r, const aud_dir_conf *conf, const char *api,
                                        const aud_vnode *node)
{
    aud_remote_status st;

    if (!rate_limit_ok(&last_remote_keys_log))
        return;
    for (size_t i = 0; i < node->n_remotes; i++) {
        aud_remote_get_status(node->remotes[i], &st);
        if (st.usable)
            continue;
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AUD0031: %s (%s): the keys from %s are not available (%s%s%s): requests get 503 until a "
                      "fetch succeeds",
                      api, conf->path ? conf->path : r->uri, aud_remote_url(node->remotes[i]), st.state,
                      st.last_error[0] ? ": " : "", st.last_error);
        return;
    }
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

static int authenticate_bearer(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const aud_dir_conf *conf;
    const aud_vnode *node;
    const char *api, *token = NULL, *decision;
    const char *header_name;
    char reasons[256];
    size_t token_len = 0;
    enum credential cred;
    aud_verdict vd;
    aud_result summary;
    aud_reason primary;
    bool accepted;

    if (type == NULL || strcasecmp(type, "Bearer") != 0)
        return DECLINED;

    conf = ap_get_module_config(r->per_dir_config, &auth_aud_module);
    r->ap_auth_type = (char *)"Bearer";
    api = api_name(r, conf);

    header_name = (r->proxyreq == PROXYREQ_PROXY) ? "Proxy-Authorization" : "Authorization";
    cred = read_credential(apr_table_get(r->headers_in, header_name), &token, &token_len);
    node = verifier_for(r, conf);

    if (!decide(r, conf, api, node, cred, token, token_len, &vd)) {
        /* Only memory exhaustion gets here; refusing is all that is safe. */
        apr_table_setn(r->err_headers_out, "Retry-After", AUD_RETRY_AFTER);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    /* The reason helpers read nothing but the bitmask. */
    memset(&summary, 0, sizeof summary);
    summary.reasons = vd.reasons;

    if (conf->vs.allow == NULL || conf->vs.allow->nelts == 0) {
        if (rate_limit_ok(&last_no_allow_log))
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          "AUD0010: %s (%s) has AuthType Bearer but no AudAllow, so it accepts "
                          "nothing; list the audiences this API accepts with AudAllow",
                          api, conf->path ? conf->path : r->uri);
    }
    if (aud_result_has(&summary, AUD_REASON_KEYS_UNAVAILABLE) && node != NULL && node->n_remotes > 0)
        log_remote_keys_unavailable(r, conf, api, node);
    else if (aud_result_has(&summary, AUD_REASON_KEYS_UNAVAILABLE) && rate_limit_ok(&last_no_keys_log))
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "AUD0011: %s (%s) has AuthType Bearer but no verification keys: requests get "
                      "503; add AudKeyFile or AudSecretFile",
                      api, conf->path ? conf->path : r->uri);

    accepted = vd.reasons == 0;
    decision = accepted ? "accept" : conf->mode == AUD_MODE_AUDIT ? "audit_reject" : "reject";
    aud_audit_reasons_text(&summary, reasons, sizeof reasons);

    /* Backends get the decision on every request, and the token's facts
     * only when they are facts: an audit-mode request that would have been
     * refused must not hand a backend an unverified identity. */
    apr_table_setn(r->subprocess_env, "AUD_API", env_value(r->pool, api));
    apr_table_setn(r->subprocess_env, "AUD_DECISION", decision);
    apr_table_setn(r->subprocess_env, "AUD_REASON", apr_pstrdup(r->pool, reasons));
    set_env(r, "AUD_HINT", vd.v.hint_codes);
    set_env(r, "AUD_HINT_TEXT", vd.v.hint_text);
    if (accepted) {
        set_env(r, "AUD_AUD", vd.v.matched);
        set_env(r, "AUD_ISS", vd.v.iss);
        set_env(r, "AUD_SUB", vd.v.sub);
        set_env(r, "AUD_CLIENT", vd.v.client);
        set_env(r, "AUD_SCOPE", vd.v.scope);
    }

    if (r->main == NULL)
        stash_decision(r, vd.v.token_fields, api, decision, conf->mode);

    if (!accepted) {
        const char *line = apr_pstrcat(r->pool, "api=", api, " aud=", vd.aud_json ? vd.aud_json : "null",
                                       " reasons=", reasons, " hints=", vd.v.hint_codes ? vd.v.hint_codes : "-",
                                       " token_id=", vd.v.token_id ? vd.v.token_id : "-",
                                       vd.v.hint_text ? " hint: " : "", vd.v.hint_text ? vd.v.hint_text : "",
                                       NULL);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s: %s",
                      conf->mode == AUD_MODE_AUDIT ? "AUD0102 audit mode, would reject" : "AUD0101 rejected",
                      line);
    } else if (vd.v.hint_codes != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "AUD0104 accepted with hints: api=%s matched=%s hints=%s "
                      "token_id=%s hint: %s", api, vd.v.matched ? vd.v.matched : "-", vd.v.hint_codes,
                      vd.v.token_id ? vd.v.token_id : "-", vd.v.hint_text ? vd.v.hint_text : "");
    } else {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "AUD0103 accepted: api=%s matched=%s", api,
                      vd.v.matched ? vd.v.matched : "-");
    }

    if (accepted || conf->mode == AUD_MODE_AUDIT) {
        /* Audit mode lets every request through, as enforce mode would not;
         * the user name is set only when a configured key vouched for it
         * (vd.v.user is NULL otherwise), "-" standing in for none so that
         * Require valid-user passes. */
        r->user = (char *)(vd.v.user ? env_value(r->pool, vd.v.user) : "-");
        return OK;
    }

    primary = aud_audit_primary_reason(&summary);
    if (primary == AUD_REASON_KEYS_UNAVAILABLE) {
        apr_table_setn(r->err_headers_out, "Retry-After",
                       node != NULL && node->n_remotes > 0 ? remote_retry_after(r, node) : AUD_RETRY_AFTER);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    if (cred == CRED_NONE) {
        note_bearer_auth_failure(r, api, NULL, NULL);
        return HTTP_UNAUTHORIZED;
    }
    if (cred == CRED_MALFORMED) {
        note_bearer_auth_failure(r, api, "invalid_request",
                                 "the Authorization header must carry exactly one bearer token");
        return HTTP_BAD_REQUEST;
    }
    note_bearer_auth_failure(r, api, "invalid_token", error_description(r->pool, conf, primary, &vd));
    return HTTP_UNAUTHORIZED;
}

/* Authorization (Require ...) refused a user this module authenticated. */
static int hook_note_auth_failure(request_rec *r, const char *auth_type)
{
    const aud_dir_conf *conf;

    if (auth_type == NULL || strcasecmp(auth_type, "Bearer") != 0)
        return DECLINED;
    conf = ap_get_module_config(r->per_dir_config, &auth_aud_module);
    note_bearer_auth_failure(r, api_name(r, conf), "insufficient_scope",
                             "the token does not grant access to this resource");
    return OK;
}

/* ------------------------------------------------------------- audit log */

static void write_audit_records(request_rec *r)
{
    const apr_array_header_t *list = ap_get_module_config(r->request_config, &auth_aud_module);
    const request_rec *last = r;

    if (list == NULL)
        return;
    while (last->next != NULL)
        last = last->next;
    for (int i = 0; i < list->nelts; i++) {
        const aud_decision *d = &APR_ARRAY_IDX(list, i, aud_decision);
        const aud_server_conf *sconf = ap_get_module_config(d->server->module_config, &auth_aud_module);
        aud_audit_request req;
        char *line;
        size_t len = 0;
        apr_status_t rv;

        if (sconf->audit_fd == NULL)
            continue;
        req.time = (double)(r->request_time ? r->request_time : apr_time_now()) / (double)APR_USEC_PER_SEC;
        req.api = d->api;
        req.uri = r->parsed_uri.path ? r->parsed_uri.path : r->uri;
        req.method = r->method;
        req.client_ip = r->useragent_ip;
        req.status = last->status;
        req.mode = d->mode == AUD_MODE_AUDIT ? "audit" : "enforce";
        req.decision = d->decision;
        req.request_id = apr_table_get(r->subprocess_env, "UNIQUE_ID");
        line = aud_audit_record_with_fields(&req, d->token_fields, &len);
        if (line == NULL)
            continue;
        /* One write of the whole line to a file opened for appending: the
         * kernel places it at the end atomically, so records from other
         * threads and processes never interleave. */
        rv = apr_file_write_full(sconf->audit_fd, line, len, NULL);
        free(line);
        if (rv != APR_SUCCESS && rate_limit_ok(&last_write_fail_log))
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "AUD0004: cannot write to the audit log %s",
                          sconf->audit_log);
    }
}

static int hook_log_transaction(request_rec *r)
{
    write_audit_records(r);
    return DECLINED;
}

static int open_audit_logs(apr_pool_t *pconf, server_rec *s)
{
    apr_hash_t *opened = apr_hash_make(pconf);

    for (; s != NULL; s = s->next) {
        aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);
        apr_file_t *fd;

        if (sconf->audit_log == NULL)
            continue;
        /* Virtual hosts that inherit the main server's setting share its
         * file or pipe rather than opening another. */
        fd = apr_hash_get(opened, sconf->audit_log, APR_HASH_KEY_STRING);
        if (fd == NULL) {
            if (sconf->audit_log[0] == '|') {
                piped_log *pl = ap_open_piped_log(pconf, sconf->audit_log + 1);
                if (pl == NULL) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "AUD0003: AudAuditLog: cannot start the piped logger %s",
                                 sconf->audit_log + 1);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                fd = ap_piped_log_write_fd(pl);
            } else {
                const char *path = ap_server_root_relative(pconf, sconf->audit_log);
                apr_status_t rv;
                if (path == NULL) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "AUD0003: AudAuditLog: invalid path %s",
                                 sconf->audit_log);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                rv = apr_file_open(&fd, path, APR_FOPEN_WRITE | APR_FOPEN_APPEND | APR_FOPEN_CREATE,
                                   APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD, pconf);
                if (rv != APR_SUCCESS) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "AUD0003: AudAuditLog: cannot open %s", path);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
            apr_hash_set(opened, sconf->audit_log, APR_HASH_KEY_STRING, fd);
        }
        sconf->audit_fd = fd;
    }
    return OK;
}

/* ------------------------------------------------ views and start-up lint */

/* The name other sections' hints give this API: AudApiName, else the
 * section's AuthName (read from the configuration tree, since
 * mod_authn_core keeps its own per-directory data private), else the path. */
static const char *section_api_name(apr_pool_t *p, const aud_dir_conf *conf)
{
    if (conf->api_name != NULL)
        return conf->api_name;
    for (const ap_directive_t *d = conf->section ? conf->section->first_child : NULL; d != NULL; d = d->next) {
        if (strcasecmp(d->directive, "AuthName") == 0) {
            const char *args = d->args;
            const char *name = ap_getword_conf(p, &args);
            if (*name != '\0')
                return name;
        }
    }
    return conf->path ? conf->path : "(server)";
}

static void build_api_views(apr_pool_t *pconf)
{
    api_views = apr_array_make(pconf, 8, sizeof(aud_api_view));
    for (int i = 0; registered_confs != NULL && i < registered_confs->nelts; i++) {
        const aud_dir_conf *conf = APR_ARRAY_IDX(registered_confs, i, aud_dir_conf *);
        aud_api_view *v;
        if (!conf->allow_set || conf->vs.allow == NULL)
            continue;
        v = apr_array_push(api_views);
        v->name = section_api_name(pconf, conf);
        v->audiences = string_list(conf->vs.allow, &v->n_audiences);
        v->issuers = string_list(conf->vs.issuers, &v->n_issuers);
    }
}

typedef struct {
    server_rec *s;
    const char *file;
    int line;
    const char *section;
} lint_place;

static void lint_warn(void *baton, const char *message)
{
    const lint_place *at = baton;

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, at->s, "AUD0020: %s:%d: in %s: %s", at->file ? at->file : "?",
                 at->line, at->section, message);
}

/* Warnings for settings that are legal but probably not what the operator
 * meant; they name the file and line so that they can be fixed before
 * go-live. */
static void lint_configuration(apr_pool_t *p, server_rec *s)
{
    double now = (double)apr_time_now() / (double)APR_USEC_PER_SEC;

    for (int i = 0; registered_confs != NULL && i < registered_confs->nelts; i++) {
        const aud_dir_conf *conf = APR_ARRAY_IDX(registered_confs, i, aud_dir_conf *);
        const char *where = apr_psprintf(p, "<%s %s>", conf->section ? conf->section->directive + 1 : "Location",
                                         conf->path ? conf->path : "/");
        size_t n;
        if (conf->allow_set && conf->vs.allow != NULL) {
            lint_place at = {s, conf->allow_file, conf->allow_line, where};
            const char **values = string_list(conf->vs.allow, &n);
            aud_lint_audiences(values, n, (const double *)conf->vs.allow_until->elts, now, lint_warn, &at);
        }
        if (conf->allow_set && conf->keys_file != NULL && (conf->vs.issuers == NULL || conf->vs.issuers->nelts == 0)) {
            lint_place at = {s, conf->keys_file, conf->keys_line, where};
            lint_warn(&at, "keys but no AudIssuer: a token from any issuer that these keys verify is accepted; "
                           "name the issuer with AudIssuer");
        }
    }
}

static void hook_test_config(apr_pool_t *pconf, server_rec *s)
{
    lint_configuration(pconf, s);
}

/* ----------------------------------------------------------------- hooks */

static void server_rk_settings(server_rec *s, const aud_rk_settings **settings, const char **ca_file)
{
    const aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);

    *settings = &sconf->rk;
    *ca_file = sconf->ca_file;
}

/* AudDiscovery names the issuer its document must carry; a section without
 * AudIssuer accepts that issuer (and only it). */
static void use_discovery_issuers(apr_pool_t *pconf)
{
    for (int i = 0; registered_confs != NULL && i < registered_confs->nelts; i++) {
        aud_dir_conf *conf = APR_ARRAY_IDX(registered_confs, i, aud_dir_conf *);
        apr_array_header_t *list = NULL;
        if (!conf->remotes_set || conf->issuers_set)
            continue;
        for (int k = 0; k < conf->vs.remotes->nelts; k++) {
            const char *issuer = aud_rk_issuer(APR_ARRAY_IDX(conf->vs.remotes, k, aud_rk_source *));
            if (issuer == NULL)
                continue;
            if (list == NULL)
                list = apr_array_make(pconf, 1, sizeof(const char *));
            APR_ARRAY_PUSH(list, const char *) = issuer;
        }
        if (list != NULL)
            conf->vs.issuers = list;
    }
}

static int hook_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    /* jansson seeds its hash function on first use, which is not thread-safe;
     * do it now, while httpd is one thread. */
    json_object_seed(0);
    registered_confs = apr_array_make(pconf, 16, sizeof(aud_dir_conf *));
    readable_secrets = apr_array_make(pconf, 2, sizeof(const char *));
    aud_rk_pre_config(pconf);
    return OK;
}

static int hook_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    bool dry_run = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
    aud_vsettings defaults;
    aud_vnode *n, *winner;
    aud_error err;

    json_object_seed(0);
    apr_pool_cleanup_register(pconf, NULL, vcache_clear, apr_pool_cleanup_null);
    /* Remote key sources before the verifiers that use them. */
    if (aud_rk_post_config(pconf, s, server_rk_settings) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    use_discovery_issuers(pconf);

    /* Each section's verifier, for its own settings: what most requests use
     * (see merge_dir_config). Failing here stops start-up, not a request. */
    for (int i = 0; registered_confs != NULL && i <= registered_confs->nelts; i++) {
        aud_dir_conf *conf = i < registered_confs->nelts ? APR_ARRAY_IDX(registered_confs, i, aud_dir_conf *) : NULL;
        aud_vsettings *vs = conf ? &conf->vs : &defaults;
        if (conf == NULL) {
            memset(&defaults, 0, sizeof defaults);
            defaults.leeway = AUD_DEFAULT_LEEWAY;
            defaults.max_token_size = AUD_DEFAULT_MAX_TOKEN_SIZE;
        }
        n = vcache_find(vs);
        if (n == NULL) {
            memset(&err, 0, sizeof err);
            n = vnode_build(vs, s, &err);
            if (n == NULL) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "AUD0012: cannot build a verifier for %s: %s",
                             conf && conf->path ? conf->path : "the server", err.text);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            if (!vcache_insert(n, &winner)) {
                vnode_destroy(n);
                n = winner;
            }
        }
        if (conf != NULL)
            conf->node = n;
    }

    build_api_views(pconf);
    if (dry_run)
        return OK;
    aud_rk_fetch_all();
    lint_configuration(ptemp, s);
    for (int i = 0; readable_secrets != NULL && i < readable_secrets->nelts; i++)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "AUD0002: AudSecretFile %s is readable by group or others; an HMAC secret lets "
                     "its reader sign anything this server accepts: chmod 600 it",
                     APR_ARRAY_IDX(readable_secrets, i, const char *));
    return open_audit_logs(pconf, s);
}

static void hook_child_init(apr_pool_t *pchild, server_rec *s)
{
    const aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);

    aud_tc_init(pchild, (size_t)sconf->cache_entries);
    aud_rk_child_init(pchild, s);
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_child_init(hook_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_config(hook_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(hook_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(hook_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(authenticate_bearer, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(hook_note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(hook_log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(auth_aud) = {
    STANDARD20_MODULE_STUFF,
    create_dir_config,
    merge_dir_config,
    create_server_config,
    merge_server_config,
    auth_aud_cmds,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
