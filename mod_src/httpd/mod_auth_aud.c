/* mod_auth_aud: AuthType Bearer for Apache httpd 2.4.
 *
 * Accepts a JWT access token only when its audience is one this location
 * allows (AudAllow), after the core (mod_src/core) has checked its signature
 * and claims. This file is the module record and its hooks, in the order
 * httpd runs them; each job has a file of its own (see aud_module.h). */
#include "aud_module.h"

#include <jansson.h>

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_auth.h"

#include "aud_audit_batch.h"
#include "aud_audit_log.h"
#include "aud_authz.h"
#include "aud_config.h"
#include "aud_config_check.h"
#include "aud_remote_keys.h"
#include "aud_request.h"
#include "aud_token_cache.h"
#include "aud_verifier_cache.h"

static int hook_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    /* jansson seeds its hash function on first use, which is not thread-safe;
     * do it now, while httpd is one thread. */
    json_object_seed(0);
    aud_config_pre_config(pconf);
    aud_rk_pre_config(pconf);
    aud_audit_batch_pre_config(pconf);
    return OK;
}

static int hook_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    return aud_config_check_tenants(s);
}

static void hook_test_config(apr_pool_t *pconf, server_rec *s)
{
    /* httpd -t stops before post_config: the issuers discovery URLs name
     * are taken in here so that the lint sees them too. */
    aud_config_use_discovery_issuers(pconf);
    aud_config_lint(pconf, s);
}

static void server_rk_settings(server_rec *s, const aud_rk_settings **settings, const char **ca_file)
{
    const aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);

    *settings = &sconf->rk;
    *ca_file = sconf->ca_file;
}

static int hook_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    bool dry_run = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;

    json_object_seed(0);
    /* Remote key sources before the verifiers that use them, and the
     * issuers their discovery documents name before the verifiers too. */
    if (aud_rk_post_config(pconf, s, server_rk_settings) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    aud_config_use_discovery_issuers(pconf);
    if (aud_vcache_post_config(pconf, s) != OK)
        return HTTP_INTERNAL_SERVER_ERROR;
    aud_config_build_api_views(pconf);
    if (dry_run)
        return OK;
    aud_rk_fetch_all();
    aud_config_lint(ptemp, s);
    aud_config_warn_readable_secrets(s);
    return aud_audit_log_open(pconf, s);
}

static void hook_child_init(apr_pool_t *pchild, server_rec *s)
{
    const aud_server_conf *sconf = ap_get_module_config(s->module_config, &auth_aud_module);

    aud_tc_init(pchild, (size_t)sconf->cache_entries);
    aud_audit_batch_child_init(pchild, s, sconf->audit_buffer);
    aud_rk_child_init(pchild, s);
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(hook_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(hook_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(hook_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(hook_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(hook_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(aud_request_authenticate, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(aud_request_note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(aud_audit_log_write, NULL, NULL, APR_HOOK_MIDDLE);
    aud_authz_register(p);
}

AP_DECLARE_MODULE(auth_aud) = {
    STANDARD20_MODULE_STUFF,
    aud_config_create_dir,
    aud_config_merge_dir,
    aud_config_create_server,
    aud_config_merge_server,
    aud_config_cmds,
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
