/* The sections together (see aud_config_check.h). */
#include "aud_config_check.h"

#include <string.h>
#include <strings.h>

#include "apr_strings.h"
#include "http_config.h"

APLOG_USE_MODULE(auth_aud);

static apr_array_header_t *api_views; /* aud_api_view; per config cycle */

void aud_config_use_discovery_issuers(apr_pool_t *pconf)
{
    apr_array_header_t *confs = aud_config_sections();

    for (int i = 0; confs != NULL && i < confs->nelts; i++) {
        aud_dir_conf *conf = APR_ARRAY_IDX(confs, i, aud_dir_conf *);
        apr_array_header_t *list = NULL;
        if (!(conf->set & AUD_SET_REMOTES) || (conf->set & AUD_SET_ISSUERS))
            continue;
        for (int k = 0; k < conf->vs.remotes->nelts; k++) {
            const char *issuer = aud_rk_issuer(APR_ARRAY_IDX(conf->vs.remotes, k, aud_rk_source *));
            if (issuer == NULL)
                continue;
            if (list == NULL)
                list = apr_array_make(pconf, 1, sizeof(const char *));
            APR_ARRAY_PUSH(list, const char *) = issuer;
        }
        /* It counts as set here, so that merged sections, hints, lint and
         * other sections' views all see it, as they see AudIssuer. */
        if (list != NULL) {
            conf->vs.issuers = list;
            conf->set |= AUD_SET_ISSUERS;
        }
    }
}

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

void aud_config_build_api_views(apr_pool_t *pconf)
{
    apr_array_header_t *confs = aud_config_sections();

    api_views = apr_array_make(pconf, 8, sizeof(aud_api_view));
    for (int i = 0; confs != NULL && i < confs->nelts; i++) {
        const aud_dir_conf *conf = APR_ARRAY_IDX(confs, i, aud_dir_conf *);
        aud_api_view *v;
        if (!(conf->set & AUD_SET_ALLOW) || conf->vs.allow == NULL)
            continue;
        v = apr_array_push(api_views);
        v->name = section_api_name(pconf, conf);
        v->audiences = aud_config_strings(conf->vs.allow, &v->n_audiences);
        v->issuers = aud_config_strings(conf->vs.issuers, &v->n_issuers);
    }
}

const apr_array_header_t *aud_config_api_views(void)
{
    return api_views;
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

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, at->s, AUDLOGNO(0020) "%s:%d: in %s: %s", at->file ? at->file : "?",
                 at->line, at->section, message);
}

void aud_config_lint(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *confs = aud_config_sections();
    double now = aud_seconds(apr_time_now());

    for (int i = 0; confs != NULL && i < confs->nelts; i++) {
        const aud_dir_conf *conf = APR_ARRAY_IDX(confs, i, aud_dir_conf *);
        const char *where = apr_psprintf(p, "<%s %s>", conf->section ? conf->section->directive + 1 : "Location",
                                         conf->path ? conf->path : "/");
        if ((conf->set & AUD_SET_ALLOW) && conf->vs.allow != NULL) {
            lint_place at = {s, conf->allow_file, conf->allow_line, where};
            /* The issuers include those discovery named (already in
             * vs.issuers by now), so an Entra v2.0 discovery URL counts. */
            aud_lint_location_input in = {.until = (const double *)conf->vs.allow_until->elts, .now = now};
            in.audiences = aud_config_strings(conf->vs.allow, &in.n_audiences);
            in.issuers = aud_config_strings(conf->vs.issuers, &in.n_issuers);
            aud_lint_location(&in, lint_warn, &at);
        }
        if ((conf->set & AUD_SET_ALLOW) && conf->keys_file != NULL &&
            (conf->vs.issuers == NULL || conf->vs.issuers->nelts == 0)) {
            lint_place at = {s, conf->keys_file, conf->keys_line, where};
            lint_warn(&at, "keys but no AudIssuer: a token from any issuer that these keys verify is accepted; "
                           "name the issuer with AudIssuer");
        }
    }
}

void aud_config_warn_readable_secrets(server_rec *s)
{
    const apr_array_header_t *secrets = aud_config_readable_secrets();

    for (int i = 0; secrets != NULL && i < secrets->nelts; i++)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUDLOGNO(0002) "AudSecretFile %s is readable by group or others; an HMAC secret lets "
                                    "its reader sign anything this server accepts: chmod 600 it",
                     APR_ARRAY_IDX(secrets, i, const char *));
}
