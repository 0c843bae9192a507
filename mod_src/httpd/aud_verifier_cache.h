/* The verifiers built from sections' settings, per process. Each section's
 * own verifier is built in post_config; a request whose merged settings
 * combine several sections finds or builds its verifier here, once per
 * process, keyed by the identity of those settings. */
#ifndef AUD_VERIFIER_CACHE_H
#define AUD_VERIFIER_CACHE_H

#include "aud_config.h"
#include "aud_remote.h"
#include "aud_verifier.h"

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

/* Builds every registered section's verifier (and the server's default);
 * failing stops start-up. */
int aud_vcache_post_config(apr_pool_t *pconf, server_rec *s);

/* The verifier for a request's merged configuration; NULL only when one
 * cannot be built (memory exhaustion), which the caller answers with 503. */
const aud_vnode *aud_vcache_for(request_rec *r, const aud_dir_conf *conf);

#endif
