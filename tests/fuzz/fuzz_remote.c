/* Fuzzes what a remote key source makes of the documents an identity
 * provider serves: an OpenID Connect discovery document and the JWKS it
 * points to, or a JWKS alone.
 *
 * No network: aud_remote_config.fetch is a fake that serves the input.
 * Input layout: byte 0 picks the mode (bit 0: discovery or a plain JWKS URI)
 * and the response's Cache-Control max-age (bits 1-3); in discovery mode the
 * rest up to the first NUL byte is the discovery document and what follows
 * it the JWKS; otherwise the rest is the JWKS.
 *
 * Invariants, after a refresh and after a second one an hour later:
 * - a verifier using the source finds keys exactly when the status says
 *   usable (else keys_unavailable), and a usable source holds a key;
 * - status state is one of the documented four, and neither the last error,
 *   nor any log line, nor the verifier's details carry a control character
 *   (the documents are the provider's, quoted only through aud_text_quote);
 * - at most two fetches per refresh (discovery, then JWKS), each of a URL
 *   that aud_fetch_url_check allows and, the provider being remote, never of
 *   a loopback one (a document must not point the module at its own host). */
#include "aud_remote.h"
#include "fuzz_support.h"

#define FZ_ISSUER_URL "https://idp.fuzz"
#define FZ_JWKS_URL "https://idp.fuzz/jwks"

typedef struct {
    const char *discovery;
    size_t discovery_len;
    const char *jwks;
    size_t jwks_len;
    double max_age;
    unsigned calls;
} fake_idp;

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        if (n > 0)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static bool fake_fetch(void *baton, const char *url, const aud_fetch_options *options, aud_fetch_response *out,
                       aud_error *err)
{
    (void)options;
    fake_idp *idp = baton;
    idp->calls++;
    memset(out, 0, sizeof *out);
    aud_error why;
    /* The URL as libcurl will read it (a document may spell it oddly, as
     * "https:/host"): one the fetch layer allows, and, since the configured
     * provider is a remote host, never a loopback one. */
    FZ_REQUIRE(url != NULL && aud_fetch_url_check(url, &why), "fetch of a refused URL: %s", url ? url : "NULL");
    FZ_REQUIRE(!aud_fetch_url_is_loopback(url), "a remote provider's document made us fetch loopback %s", url);
    bool is_meta = strstr(url, "/.well-known/") != NULL && idp->discovery != NULL;
    const char *body = is_meta ? idp->discovery : idp->jwks;
    size_t len = is_meta ? idp->discovery_len : idp->jwks_len;
    if (body == NULL) {
        aud_error_set(err, "HTTP 404");
        return false;
    }
    out->body = dup_n(body, len);
    if (out->body == NULL) {
        aud_error_set(err, "out of memory");
        return false;
    }
    out->len = len;
    out->max_age = idp->max_age;
    return true;
}

/* {"alg":"RS256"}.{}.<3 bytes>: no key can verify it; what matters is
 * whether the verifier found keys to try. */
static const char probe_token[] = "eyJhbGciOiJSUzI1NiJ9.e30.AAAA";

static void check_state(aud_remote *r)
{
    /* Through a verifier, as the module uses a source: the source's own
     * acquire/release are the verifier's business. */
    aud_key_source src = aud_remote_key_source(r);
    aud_verifier_config vc;
    aud_verifier_config_init(&vc);
    static const char *const auds[] = {"api://fuzz"};
    vc.sources = &src;
    vc.n_sources = 1;
    vc.audiences = auds;
    vc.n_audiences = 1;
    vc.now = fz_clock;
    aud_error err;
    aud_verifier *v = aud_verifier_create(&vc, &err);
    FZ_REQUIRE(v != NULL, "aud_verifier_create: %s", err.text);
    aud_result *res = aud_verifier_check(v, probe_token, sizeof probe_token - 1);
    FZ_REQUIRE(res != NULL && !aud_result_accepted(res), "the probe token was accepted");

    aud_remote_status st;
    aud_remote_get_status(r, &st);
    FZ_REQUIRE(strcmp(st.state, "never fetched") == 0 || strcmp(st.state, "ok") == 0 ||
                   strcmp(st.state, "failing") == 0 || strcmp(st.state, "refused") == 0,
               "state '%s'", st.state);
    FZ_REQUIRE(memchr(st.last_error, '\0', sizeof st.last_error) != NULL, "last_error not terminated");
    FZ_REQUIRE(fz_printable(st.last_error), "last error with a control character: %s", st.last_error);
    FZ_REQUIRE(!st.usable || st.keys > 0, "usable with no keys");
    FZ_REQUIRE(aud_result_has(res, AUD_REASON_KEYS_UNAVAILABLE) == !st.usable,
               "usable %d but the verifier says keys_unavailable %d", st.usable,
               aud_result_has(res, AUD_REASON_KEYS_UNAVAILABLE));
    for (unsigned i = 0; i < AUD_REASON_COUNT; i++)
        if (res->details[i] != NULL)
            FZ_REQUIRE(fz_printable(res->details[i]), "detail with a control character: %s", res->details[i]);
    FZ_REQUIRE(aud_remote_retry_after(r) >= 1, "retry_after below 1");
    aud_result_free(res);
    aud_verifier_destroy(v);
}

/* One store for every input, prepared afresh each time, as the module's
 * shared-memory store is: a private store per aud_remote_create would cost
 * a megabyte's allocation (the document's room) per input. One thread, so
 * the lock is trivial. */
static void *store_mem;
static bool store_lock(void *baton)
{
    (void)baton;
    return true;
}
static void store_unlock(void *baton)
{
    (void)baton;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double max_ages[8] = {-1, 0, 1, 60, 300, 3600, 1e7, 1e300};
    if (size < 1)
        return 0;
    char *rest = fz_copy(data + 1, size - 1);
    size_t rest_len = size - 1;
    fake_idp idp = {0};
    idp.max_age = max_ages[(data[0] >> 1) & 7];
    bool discovery = (data[0] & 1) != 0;
    if (discovery) {
        const char *nul = memchr(rest, '\0', rest_len);
        idp.discovery = rest;
        idp.discovery_len = nul != NULL ? (size_t)(nul - rest) : rest_len;
        if (nul != NULL) {
            idp.jwks = nul + 1;
            idp.jwks_len = rest_len - idp.discovery_len - 1;
        }
    } else {
        idp.jwks = rest;
        idp.jwks_len = rest_len;
    }

    double now = FZ_NOW;
    aud_remote_config cfg;
    aud_remote_config_init(&cfg);
    if (discovery)
        cfg.discovery = FZ_ISSUER_URL;
    else
        cfg.jwks_uri = FZ_JWKS_URL;
    cfg.now = fz_clock;
    cfg.now_baton = &now;
    cfg.logger = fz_logger();
    cfg.fetch = fake_fetch;
    cfg.fetch_baton = &idp;
    if (store_mem == NULL && (store_mem = malloc(aud_remote_store_size())) == NULL)
        return 0;
    aud_remote_store_init(store_mem);
    aud_remote_store store = {store_mem, store_lock, store_unlock, NULL};
    cfg.store = &store;
    aud_error err;
    aud_remote *r = aud_remote_create(&cfg, &err);
    FZ_REQUIRE(r != NULL, "aud_remote_create: %s", err.text);

    aud_remote_refresh(r);
    FZ_REQUIRE(idp.calls >= 1 && idp.calls <= 2, "%u fetches for one refresh", idp.calls);
    check_state(r);
    aud_key_source src = aud_remote_key_source(r);
    src.kid_missing(src.baton, "no-such-kid");
    check_state(r);

    now += 3601;
    unsigned before = idp.calls;
    aud_remote_refresh(r);
    FZ_REQUIRE(idp.calls - before <= 2, "%u fetches for the second refresh", idp.calls - before);
    check_state(r);

    aud_remote_destroy(r);
    free(rest);
    return 0;
}
