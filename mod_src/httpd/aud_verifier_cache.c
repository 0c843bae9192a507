/* Verifiers per process (see aud_verifier_cache.h). */
#include "aud_verifier_cache.h"

#include <stdlib.h>
#include <string.h>

APLOG_USE_MODULE(auth_aud);

/* Verifiers built while serving requests (for nested sections that combine
 * settings) are kept per process up to this many beyond the sections' own,
 * which are always kept (a server with 2,000 sections keeps 2,000, so that
 * every one of them has the token cache); beyond it, a request builds its
 * own. */
#define AUD_VCACHE_MAX 256

/* Every verifier in use in this process, a lock-free list (see insert). */
static aud_vnode *volatile vcache;
static volatile apr_uint32_t vcache_extra; /* built while serving requests */

static bool vsettings_equal(const aud_vsettings *a, const aud_vsettings *b)
{
    return a->allow == b->allow && a->allow_until == b->allow_until && a->issuers == b->issuers &&
           a->keyfiles == b->keyfiles && a->remotes == b->remotes && a->secret == b->secret &&
           a->algorithms == b->algorithms && a->leeway == b->leeway && a->max_token_size == b->max_token_size &&
           a->tenants == b->tenants && a->token_types == b->token_types;
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

/* malloc'd rather than pool-allocated, so that a child can build one while
 * serving requests and keep it for the life of the process. */
static aud_vnode *vnode_build(const aud_vsettings *vs, aud_error *err)
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
    vc.issuers = aud_config_strings(vs->issuers, &vc.n_issuers);
    vc.tenants = aud_config_strings(vs->tenants, &vc.n_tenants);
    if (vc.n_tenants == 1 && strcmp(vc.tenants[0], "*") == 0) {
        vc.any_tenant = true;
        vc.n_tenants = 0;
    }
    vc.token_types = aud_config_strings(vs->token_types, &vc.n_token_types);
    vc.audiences = aud_config_strings(vs->allow, &vc.n_audiences);
    vc.audience_until = vs->allow_until ? (const double *)vs->allow_until->elts : NULL;
    vc.leeway = vs->leeway;
    vc.max_token_size = vs->max_token_size;
    vc.now = aud_clock_now;
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
static bool vcache_insert(aud_vnode *node, bool bounded, aud_vnode **winner)
{
    for (;;) {
        aud_vnode *head = vcache;
        for (aud_vnode *n = head; n != NULL; n = n->next) {
            if (vsettings_equal(&n->key, &node->key)) {
                *winner = n;
                return false;
            }
        }
        if (bounded && apr_atomic_read32(&vcache_extra) >= AUD_VCACHE_MAX) {
            *winner = NULL;
            return false;
        }
        node->next = head;
        node->shared = true;
        if (apr_atomic_casptr((volatile void **)&vcache, node, head) == head) {
            if (bounded)
                apr_atomic_inc32(&vcache_extra);
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
    apr_atomic_set32(&vcache_extra, 0);
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

/* The verifier for exactly vs, from the cache or built and added to it. */
static aud_vnode *vcache_obtain(const aud_vsettings *vs, bool bounded, aud_error *err)
{
    aud_vnode *n = vcache_find(vs), *winner;

    if (n != NULL)
        return n;
    n = vnode_build(vs, err);
    if (n == NULL || vcache_insert(n, bounded, &winner))
        return n;
    if (winner != NULL) {
        vnode_destroy(n);
        return winner;
    }
    return n; /* not shared: the caller owns it */
}

/* Each section's verifier, for its own settings: what most requests use
 * (see aud_config_merge_dir). Failing here stops start-up, not a request. */
int aud_vcache_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *confs = aud_config_sections();
    aud_vsettings defaults;
    aud_error err;

    apr_pool_cleanup_register(pconf, NULL, vcache_clear, apr_pool_cleanup_null);
    memset(&defaults, 0, sizeof defaults);
    defaults.leeway = AUD_DEFAULT_LEEWAY;
    defaults.max_token_size = AUD_DEFAULT_MAX_TOKEN_SIZE;
    for (int i = 0; confs != NULL && i <= confs->nelts; i++) {
        aud_dir_conf *conf = i < confs->nelts ? APR_ARRAY_IDX(confs, i, aud_dir_conf *) : NULL;
        aud_vnode *n;

        memset(&err, 0, sizeof err);
        n = vcache_obtain(conf ? &conf->vs : &defaults, false, &err);
        if (n == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AUDLOGNO(0012) "cannot build a verifier for %s: %s",
                         conf && conf->path ? conf->path : "the server", err.text);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (!n->shared)
            apr_pool_cleanup_register(pconf, n, vnode_cleanup, apr_pool_cleanup_null);
        if (conf != NULL)
            conf->node = n;
    }
    return OK;
}

const aud_vnode *aud_vcache_for(request_rec *r, const aud_dir_conf *conf)
{
    aud_vnode *n;
    aud_error err;

    if (conf->node != NULL)
        return conf->node;
    memset(&err, 0, sizeof err);
    n = vcache_obtain(&conf->vs, true, &err);
    if (n == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, AUDLOGNO(0012) "cannot build a verifier for %s: %s",
                      conf->path ? conf->path : r->uri, err.text);
        return NULL;
    }
    if (!n->shared)
        apr_pool_cleanup_register(r->pool, n, vnode_cleanup, apr_pool_cleanup_null);
    return n;
}
