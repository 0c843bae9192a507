/* The floor for bench/peer_bench.py: a location whose only work per
 * request is one signature verification, as OpenSSL alone does it (hash a
 * token-sized input, then EVP_PKEY_verify on a context set up once; one
 * EVP_DigestVerify for Ed25519), the same as verify_bench's "OpenSSL
 * alone". What a module adds to a new token beyond this is its own; what
 * this location adds over no authentication is what any verifying module
 * pays here, httpd's share of a longer request included.
 *
 *     <Location /floor-rs256>
 *         AuthType BenchVerify
 *         BenchVerify RS256        (or ES256, EdDSA)
 *         Require valid-user
 *     </Location>
 *
 * `BenchBurn 16` instead spends 16 µs of the thread's CPU and nothing else:
 * the bench's calibration, a known amount of work to set beside what the
 * bench reports for it.
 *
 * The keys are made at start-up and the signatures over a fixed input are
 * made once; a failed verification answers 500, so that the bench sees it.
 * Built by make bench only; never installed. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

/* The glue's header: httpd's headers, included the way this build needs
 * them (configure's PACKAGE_* against httpd's own). */
#include "aud_module.h"

#include "http_request.h"

module AP_MODULE_DECLARE_DATA bench_verify_module;

enum { ALG_NONE, ALG_RS256, ALG_ES256, ALG_EDDSA, N_ALGS, ALG_BURN = N_ALGS };

typedef struct {
    EVP_PKEY *key;
    EVP_PKEY_CTX *ready;     /* verify_init and SHA-256 done: duplicated per request */
    EVP_MD_CTX *ready_eddsa; /* DigestVerifyInit done: copied per request */
    unsigned char sig[512];
    size_t sig_len;
} floor_key;

/* About the signing input of the bench's tokens. */
static unsigned char input[300];
static floor_key keys[N_ALGS];
static EVP_MD *sha256;

typedef struct {
    int alg;
    long burn_ns; /* BenchBurn: thread CPU time to spend, the bench's calibration */
} dir_conf;

static void *create_dir(apr_pool_t *p, char *dir)
{
    (void)dir;
    return apr_pcalloc(p, sizeof(dir_conf));
}

static const char *set_alg(cmd_parms *cmd, void *cfg, const char *arg)
{
    dir_conf *conf = cfg;

    (void)cmd;
    conf->alg = strcmp(arg, "RS256") == 0 ? ALG_RS256 : strcmp(arg, "ES256") == 0 ? ALG_ES256
              : strcmp(arg, "EdDSA") == 0 ? ALG_EDDSA : ALG_NONE;
    return conf->alg == ALG_NONE ? "BenchVerify: RS256, ES256 or EdDSA" : NULL;
}

static const char *set_burn(cmd_parms *cmd, void *cfg, const char *arg)
{
    dir_conf *conf = cfg;
    char *end = NULL;
    long us;

    (void)cmd;
    errno = 0;
    us = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || us < 1 || us > 100000)
        return "BenchBurn: microseconds of CPU, 1 to 100000";
    conf->burn_ns = us * 1000;
    conf->alg = ALG_BURN;
    return NULL;
}

static bool make_key(floor_key *k, int alg)
{
    unsigned char hash[32];
    unsigned int hash_len = 0;
    EVP_PKEY_CTX *sign = NULL;
    EVP_MD_CTX *mctx = NULL;
    bool ok;

    k->key = alg == ALG_RS256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
           : alg == ALG_ES256 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                              : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (k->key == NULL)
        return false;
    k->sig_len = sizeof k->sig;
    if (alg == ALG_EDDSA) {
        mctx = EVP_MD_CTX_new();
        k->ready_eddsa = EVP_MD_CTX_new();
        ok = mctx != NULL && k->ready_eddsa != NULL && EVP_DigestSignInit(mctx, NULL, NULL, NULL, k->key) == 1 &&
             EVP_DigestSign(mctx, k->sig, &k->sig_len, input, sizeof input) == 1 &&
             EVP_DigestVerifyInit(k->ready_eddsa, NULL, NULL, NULL, k->key) == 1;
        EVP_MD_CTX_free(mctx);
        return ok;
    }
    sign = EVP_PKEY_CTX_new_from_pkey(NULL, k->key, NULL);
    k->ready = EVP_PKEY_CTX_new_from_pkey(NULL, k->key, NULL);
    ok = sign != NULL && k->ready != NULL && EVP_Digest(input, sizeof input, hash, &hash_len, sha256, NULL) == 1 &&
         EVP_PKEY_sign_init(sign) == 1 && EVP_PKEY_CTX_set_signature_md(sign, sha256) == 1 &&
         EVP_PKEY_sign(sign, k->sig, &k->sig_len, hash, hash_len) == 1 && EVP_PKEY_verify_init(k->ready) == 1 &&
         EVP_PKEY_CTX_set_signature_md(k->ready, sha256) == 1;
    EVP_PKEY_CTX_free(sign);
    return ok;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf, (void)plog, (void)ptemp;
    if (sha256 != NULL)
        return OK;
    memset(input, 'j', sizeof input);
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    for (int alg = ALG_RS256; alg < N_ALGS; alg++) {
        if (sha256 == NULL || !make_key(&keys[alg], alg)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_bench_verify: cannot make the keys");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

static bool verify_once(const floor_key *k, int alg)
{
    bool ok;

    if (alg == ALG_EDDSA) {
        EVP_MD_CTX *mctx = EVP_MD_CTX_new();
        ok = mctx != NULL && EVP_MD_CTX_copy_ex(mctx, k->ready_eddsa) == 1 &&
             EVP_DigestVerify(mctx, k->sig, k->sig_len, input, sizeof input) == 1;
        EVP_MD_CTX_free(mctx);
        return ok;
    }
    unsigned char hash[32];
    unsigned int hash_len = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_dup(k->ready);
    ok = ctx != NULL && EVP_Digest(input, sizeof input, hash, &hash_len, sha256, NULL) == 1 &&
         EVP_PKEY_verify(ctx, k->sig, k->sig_len, hash, hash_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static long thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* A known amount of work: what the bench reports for it, against what it
 * is, shows how much the bench itself adds to a longer request. */
static void burn(long ns)
{
    long until = thread_cpu_ns() + ns;

    while (thread_cpu_ns() < until)
        ;
}

/* At check_authn's stage, where the modules it stands beside do their
 * work; the request goes on as an anonymous one. */
static int check_authn(request_rec *r)
{
    const dir_conf *conf = ap_get_module_config(r->per_dir_config, &bench_verify_module);

    if (conf->alg == ALG_NONE)
        return DECLINED;
    if (conf->alg == ALG_BURN)
        burn(conf->burn_ns);
    else if (!verify_once(&keys[conf->alg], conf->alg))
        return HTTP_INTERNAL_SERVER_ERROR;
    r->user = (char *)"-";
    return OK;
}

static const command_rec cmds[] = {
    AP_INIT_TAKE1("BenchVerify", set_alg, NULL, ACCESS_CONF, "RS256, ES256 or EdDSA: one verification per request"),
    AP_INIT_TAKE1("BenchBurn", set_burn, NULL, ACCESS_CONF, "microseconds of thread CPU to spend per request"),
    {NULL},
};

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
}

AP_DECLARE_MODULE(bench_verify) = {
    STANDARD20_MODULE_STUFF, create_dir, NULL, NULL, NULL, cmds, register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
