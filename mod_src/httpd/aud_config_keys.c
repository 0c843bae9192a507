/* Directives that say where a section's keys come from: key files, HMAC
 * secrets, remote key sets (AudJwksUri, AudDiscovery) and their timings,
 * and the CAs trusted to fetch them. Part of the configuration (the
 * command table is in aud_config.c). */
#include "aud_config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apr_hash.h"
#include "apr_strings.h"

APLOG_USE_MODULE(auth_aud);

static apr_status_t destroy_keyset(void *data)
{
    aud_keyset_destroy(data);
    return APR_SUCCESS;
}

/* Key sets live for one configuration cycle, shared by every section that
 * names the same file: a graceful restart re-reads the configuration into a
 * fresh pconf, so keys are reloaded then and only then. */
static aud_keyset *load_keyset(cmd_parms *cmd, const char *directive, const char *path, bool secret,
                               const char *kid, const char **errmsg)
{
    static const char cache_key[] = "mod_auth_aud:keysets";
    apr_hash_t *cache = NULL;
    const char *abs = ap_server_root_relative(cmd->temp_pool, path);
    const char *hkey;
    aud_keyset *set;
    aud_logger logger = aud_httpd_logger(cmd->temp_pool, cmd->server, AUDLOGNO(0001));
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
    hkey = apr_pstrcat(cmd->pool, secret ? "secret:" : "key:", kid ? kid : "", ":", abs, NULL);
    set = apr_hash_get(cache, hkey, APR_HASH_KEY_STRING);
    if (set != NULL)
        return set;

    set = aud_keyset_create();
    if (set == NULL) {
        *errmsg = apr_psprintf(cmd->pool, "%s %s: out of memory", directive, abs);
        return NULL;
    }
    memset(&err, 0, sizeof err);
    ok = secret ? aud_keyset_load_secret_file(set, abs, kid, &err) : aud_keyset_load_file(set, abs, &logger, &err);
    if (!ok) {
        aud_keyset_destroy(set);
        /* The core's messages usually name the file already. */
        if (err.text[0] != '\0' && strstr(err.text, abs) != NULL)
            *errmsg = apr_psprintf(cmd->pool, "%s: %s", directive, err.text);
        else
            *errmsg = apr_psprintf(cmd->pool, "%s %s: %s", directive, abs, err.text[0] ? err.text : "cannot be loaded");
        return NULL;
    }
    apr_pool_cleanup_register(cmd->pool, set, destroy_keyset, apr_pool_cleanup_null);
    apr_hash_set(cache, hkey, APR_HASH_KEY_STRING, set);
    return set;
}

const char *aud_config_set_key_file(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;
    apr_array_header_t *list;
    const char *errmsg;
    aud_keyset *set = load_keyset(cmd, "AudKeyFile", arg, false, NULL, &errmsg);

    if (set == NULL)
        return errmsg;
    list = aud_config_own_list(cmd->pool, conf, AUD_SET_KEYFILES, conf->vs.keyfiles, sizeof(aud_keyset *));
    APR_ARRAY_PUSH(list, aud_keyset *) = set;
    conf->vs.keyfiles = list;
    aud_config_note_keys(cmd, conf);
    aud_config_note_vsetting(cmd, conf, AUD_SET_KEYFILES);
    return NULL;
}

/* AudSecretFile PATH [KID]: a token that names a kid reaches only a key
 * with that kid, so an issuer that sets kid on HMAC tokens (Keycloak does)
 * needs the secret under that name. */
const char *aud_config_set_secret_file(cmd_parms *cmd, void *cfg, const char *arg, const char *kid)
{
    aud_dir_conf *conf = cfg;
    const char *errmsg;
    aud_keyset *set;

    if (kid != NULL && *kid == '\0')
        return "AudSecretFile: the key id (second argument) is empty";
    set = load_keyset(cmd, "AudSecretFile", arg, true, kid, &errmsg);
    struct stat st;
    const char *abs = ap_server_root_relative(cmd->pool, arg);

    if (set == NULL)
        return errmsg;
    if (abs != NULL && stat(abs, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
        aud_config_note_readable_secret(abs);
    conf->vs.secret = set;
    aud_config_note_keys(cmd, conf);
    aud_config_note_vsetting(cmd, conf, AUD_SET_SECRET);
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
    list = aud_config_own_list(cmd->pool, conf, AUD_SET_REMOTES, conf->vs.remotes, sizeof(aud_rk_source *));
    APR_ARRAY_PUSH(list, aud_rk_source *) = src;
    conf->vs.remotes = list;
    /* A discovery document names its issuer, so only a bare JWKS URI
     * leaves the issuer open (start-up lint). */
    if (!discovery)
        aud_config_note_keys(cmd, conf);
    aud_config_note_vsetting(cmd, conf, AUD_SET_REMOTES);
    return NULL;
}

const char *aud_config_set_jwks_uri(cmd_parms *cmd, void *cfg, const char *arg)
{
    return add_remote(cmd, cfg, false, arg);
}

const char *aud_config_set_discovery(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_dir_conf *conf = cfg;

    for (int i = 0; (conf->set & AUD_SET_REMOTES) && i < conf->vs.remotes->nelts; i++) {
        if (aud_rk_issuer(APR_ARRAY_IDX(conf->vs.remotes, i, aud_rk_source *)) != NULL)
            return "AudDiscovery: one per section (it names the section's issuer)";
    }
    aud_config_note_issuers(cmd, conf);
    return add_remote(cmd, cfg, true, arg);
}

/* In a section: for that section's sources; at server or virtual host
 * level: the default for every source of that server. */
const char *aud_config_set_rk_seconds(cmd_parms *cmd, void *cfg, const char *arg)
{
    aud_server_conf *sconf = ap_get_module_config(cmd->server->module_config, &auth_aud_module);
    aud_rk_settings *rk = cmd->path != NULL ? &((aud_dir_conf *)cfg)->rk : &sconf->rk;
    enum aud_rk_setting which = (enum aud_rk_setting)(intptr_t)cmd->info;
    static const long max[] = {[RK_REFRESH] = 7 * 86400, [RK_REFRESH_MIN] = 86400, [RK_MAX_STALE] = 30 * 86400,
                               [RK_FETCH_TIMEOUT] = 60};
    long v;
    const char *err = aud_config_whole_number(cmd, arg, which == RK_MAX_STALE ? 0 : 1, max[which], "seconds", &v);

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

const char *aud_config_set_ca_file(cmd_parms *cmd, void *cfg, const char *arg)
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
