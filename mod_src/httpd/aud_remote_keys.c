#include "aud_remote_keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apr_global_mutex.h"
#include "apr_hash.h"
#include "apr_lib.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include "http_log.h"
#include "util_mutex.h"

#include "aud_fetch.h"

APLOG_USE_MODULE(auth_aud);

/* The name of the mutex for the Mutex directive. */
#define RK_MUTEX "auth-aud-keys"

struct aud_rk_source {
    bool discovery;
    const char *url;
    const char *issuer;
    const aud_rk_settings *section;
    server_rec *server;
    aud_remote *remote;
};

/* Per config cycle; only touched by the single-threaded parent while it
 * reads the configuration, then read-only. */
static apr_array_header_t *sources; /* aud_rk_source * */
static apr_global_mutex_t *rk_mutex;
static apr_shm_t *rk_shm;
static apr_array_header_t *distincts; /* distinct *: one per fetched source */

void aud_rk_pre_config(apr_pool_t *pconf)
{
    sources = apr_array_make(pconf, 4, sizeof(aud_rk_source *));
    rk_mutex = NULL;
    rk_shm = NULL;
    distincts = NULL;
    ap_mutex_register(pconf, RK_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

const char *aud_rk_add(cmd_parms *cmd, const aud_rk_settings *section, bool discovery, const char *url,
                       aud_rk_source **out)
{
    aud_rk_source *src = apr_pcalloc(cmd->pool, sizeof *src);
    aud_error err;

    memset(&err, 0, sizeof err);
    if (discovery) {
        char *issuer, *metadata;
        if (!aud_remote_discovery_urls(url, &issuer, &metadata, &err))
            return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err.text);
        src->issuer = apr_pstrdup(cmd->pool, issuer);
        free(issuer);
        free(metadata);
    } else if (!aud_fetch_url_check(url, &err)) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err.text);
    }
    src->discovery = discovery;
    src->url = url;
    src->section = section;
    src->server = cmd->server;
    if (sources != NULL)
        APR_ARRAY_PUSH(sources, aud_rk_source *) = src;
    *out = src;
    return NULL;
}

const char *aud_rk_issuer(const aud_rk_source *src)
{
    return src->issuer;
}

aud_remote *aud_rk_remote(const aud_rk_source *src)
{
    return src->remote;
}

/* ------------------------------------------------------------ the store */

static bool rk_lock(void *baton)
{
    apr_global_mutex_t *m = *(apr_global_mutex_t **)baton;
    return m != NULL && apr_global_mutex_lock(m) == APR_SUCCESS;
}

static void rk_unlock(void *baton)
{
    apr_global_mutex_unlock(*(apr_global_mutex_t **)baton);
}

static apr_status_t destroy_remote(void *data)
{
    aud_remote_destroy(data);
    return APR_SUCCESS;
}

typedef struct {
    aud_remote_config rc;
    aud_remote *remote;
} distinct;

/* A section's setting, else its server's, else the default. */
static double pick(double section, double server, double dflt)
{
    return section > 0 ? section : server > 0 ? server : dflt;
}

int aud_rk_post_config(apr_pool_t *pconf, server_rec *s, aud_rk_server_fn *server_settings)
{
    apr_hash_t *seen = apr_hash_make(pconf);
    apr_array_header_t *list = apr_array_make(pconf, 4, sizeof(distinct *));
    size_t size = aud_remote_store_size();
    apr_status_t rv;
    char *base;

    if (sources == NULL || sources->nelts == 0)
        return OK;
    if (!aud_fetch_global_init()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AUDLOGNO(0030) "libcurl cannot be initialised");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (int i = 0; i < sources->nelts; i++) {
        aud_rk_source *src = APR_ARRAY_IDX(sources, i, aud_rk_source *);
        const aud_rk_settings *srv = NULL;
        const char *ca = NULL;
        aud_remote_config rc;
        distinct *d;
        const char *key;

        server_settings(src->server, &srv, &ca);
        aud_remote_config_init(&rc);
        rc.refresh = pick(src->section->refresh, srv ? srv->refresh : 0, AUD_REMOTE_DEFAULT_REFRESH);
        rc.refresh_min = pick(src->section->refresh_min, srv ? srv->refresh_min : 0, AUD_REMOTE_DEFAULT_REFRESH_MIN);
        rc.fetch_timeout =
            pick(src->section->fetch_timeout, srv ? srv->fetch_timeout : 0, AUD_REMOTE_DEFAULT_FETCH_TIMEOUT);
        rc.max_stale = src->section->max_stale_set ? src->section->max_stale
                       : srv && srv->max_stale_set ? srv->max_stale
                                                   : AUD_REMOTE_DEFAULT_MAX_STALE;
        rc.ca_file = ca;
        if (src->discovery)
            rc.discovery = src->url;
        else
            rc.jwks_uri = src->url;
        /* Sections that name the same URL with the same settings share one
         * source: one schedule, one fetch. */
        key = apr_psprintf(pconf, "%d %.0f %.0f %.0f %.0f %s %s", src->discovery, rc.refresh, rc.refresh_min,
                           rc.max_stale, rc.fetch_timeout, ca ? ca : "-", src->url);
        d = apr_hash_get(seen, key, APR_HASH_KEY_STRING);
        if (d == NULL) {
            d = apr_pcalloc(pconf, sizeof *d);
            d->rc = rc;
            apr_hash_set(seen, key, APR_HASH_KEY_STRING, d);
            APR_ARRAY_PUSH(list, distinct *) = d;
        }
        /* Resolved below, once the distinct sources exist. */
        src->remote = (aud_remote *)d;
    }

    rv = ap_global_mutex_create(&rk_mutex, NULL, RK_MUTEX, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AUDLOGNO(0030) "cannot create the key store's mutex");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apr_shm_create(&rk_shm, size * (apr_size_t)list->nelts, NULL, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AUDLOGNO(0030) "cannot create shared memory for %d key source(s)",
                     list->nelts);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    base = apr_shm_baseaddr_get(rk_shm);
    for (int i = 0; i < list->nelts; i++) {
        distinct *d = APR_ARRAY_IDX(list, i, distinct *);
        aud_remote_store *store = apr_pcalloc(pconf, sizeof *store);
        aud_error err;

        store->mem = base + (size_t)i * size;
        store->lock = rk_lock;
        store->unlock = rk_unlock;
        store->baton = &rk_mutex;
        aud_remote_store_init(store->mem);
        d->rc.now = aud_clock_now;
        d->rc.logger = aud_httpd_logger(pconf, s, AUDLOGNO(0030));
        d->rc.store = store;
        memset(&err, 0, sizeof err);
        d->remote = aud_remote_create(&d->rc, &err);
        if (d->remote == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AUDLOGNO(0030) "%s", err.text);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_cleanup_register(pconf, d->remote, destroy_remote, apr_pool_cleanup_null);
    }
    for (int i = 0; i < sources->nelts; i++) {
        aud_rk_source *src = APR_ARRAY_IDX(sources, i, aud_rk_source *);
        src->remote = ((distinct *)src->remote)->remote;
    }
    distincts = list;
    return OK;
}

void aud_rk_fetch_all(void)
{
    /* Children start with keys in hand when the identity providers answer;
     * when one does not, this only warns, and requests retry later. All at
     * once: hung providers delay start-up by one AudKeyFetchTimeout, not one
     * each. Without memory for the list, children fetch on first use. */
    size_t n = distincts != NULL ? (size_t)distincts->nelts : 0;
    aud_remote **list = n > 0 ? malloc(n * sizeof *list) : NULL;
    for (size_t i = 0; list != NULL && i < n; i++)
        list[i] = APR_ARRAY_IDX(distincts, i, distinct *)->remote;
    aud_remote_refresh_all(list, list != NULL ? n : 0);
    free(list);
}

void aud_rk_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (rk_mutex == NULL)
        return;
    aud_fetch_global_init();
    rv = apr_global_mutex_child_init(&rk_mutex, apr_global_mutex_lockfile(rk_mutex), pchild);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     AUDLOGNO(0030) "cannot attach to the key store's mutex; remote keys are not refreshed in this process");
}
