/* A verifier: built once from a location's configuration, then used to check
 * tokens from any number of threads at once, without locks. */
#ifndef AUD_VERIFIER_H
#define AUD_VERIFIER_H

#include <stddef.h>

#include "aud_alg.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_result.h"

#define AUD_DEFAULT_LEEWAY 60.0
#define AUD_DEFAULT_MAX_TOKEN_SIZE 16384

/* Seconds since the epoch. The core never reads a clock itself, so that a
 * test can fix time and the module can use the request's time. */
typedef double aud_now_fn(void *baton);

typedef struct {
    /* Borrowed: they must outlive the verifier. Several verifiers may share
     * one key set. */
    const aud_keyset *const *keysets;
    size_t n_keysets;
    /* 0 means every asymmetric algorithm; HS* only when listed. */
    aud_alg_set algorithms;
    /* None configured: iss is not checked. */
    const char *const *issuers;
    size_t n_issuers;
    /* None configured: every token is refused (no_audience_configured). */
    const char *const *audiences;
    size_t n_audiences;
    double leeway;
    size_t max_token_size;
    aud_now_fn *now; /* required */
    void *now_baton;
    aud_logger logger;
} aud_verifier_config;

typedef struct aud_verifier aud_verifier;

/* Sets the defaults (leeway, size limit); the caller fills in the rest. */
void aud_verifier_config_init(aud_verifier_config *config);

/* Copies everything it needs from config except the key sets. */
aud_verifier *aud_verifier_create(const aud_verifier_config *config, aud_error *err);
void aud_verifier_destroy(aud_verifier *v);

/* Checks a compact JWS. Never returns NULL except on memory exhaustion.
 * Every failing check is reported, not only the first; claims are checked
 * even when the signature is not valid, and the result says so. */
aud_result *aud_verifier_check(const aud_verifier *v, const char *token, size_t token_len);

#endif
