#include "aud_digest.h"

#include <pthread.h>

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t context_key;
static bool key_made;

static void free_context(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void make_key(void)
{
    key_made = pthread_key_create(&context_key, free_context) == 0;
}

/* httpd unloads its modules and loads them again on a restart: the key
 * goes with this copy of the code, so that no thread ending later calls a
 * destructor that is no longer mapped (its context is left behind). */
__attribute__((destructor)) static void delete_key(void)
{
    if (key_made)
        pthread_key_delete(context_key);
}

/* A thread's own context, made at its first digest and freed when it ends;
 * NULL when one cannot be had (then EVP_Digest makes its own). */
static EVP_MD_CTX *thread_context(void)
{
    EVP_MD_CTX *ctx;

    if (pthread_once(&key_once, make_key) != 0 || !key_made)
        return NULL;
    ctx = pthread_getspecific(context_key);
    if (ctx == NULL && (ctx = EVP_MD_CTX_new()) != NULL && pthread_setspecific(context_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

bool aud_digest_compute(const EVP_MD *md, const void *in, size_t in_len, unsigned char *out, unsigned *out_len)
{
    if (md == NULL || in == NULL)
        return false;
    EVP_MD_CTX *ctx = thread_context();
    if (ctx == NULL)
        return EVP_Digest(in, in_len, out, out_len, md, NULL) == 1;
    return EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, in, in_len) == 1 &&
           EVP_DigestFinal_ex(ctx, out, out_len) == 1;
}
