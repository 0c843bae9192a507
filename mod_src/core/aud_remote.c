/* Remote key sources. See aud_remote.h for the split between the store
 * (document + schedule, possibly shared between processes) and the source
 * object (per process: the parsed key set, reference-counted). */
#include "aud_remote.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "aud_json.h"
#include "aud_text.h"

#define STORE_MAGIC 0x41554452u /* "AUDR" */
/* Someone that claimed a fetch and then vanished (a child killed mid-fetch)
 * must not block fetching for ever: after this many fetch timeouts the
 * claim lapses. */
#define LEASE_TIMEOUTS 2.0
/* How often a request waiting for another's first fetch looks again. */
#define WAIT_STEP_NS 20000000L

static const char WK_OIDC[] = "/.well-known/openid-configuration";
static const char WK_OAUTH[] = "/.well-known/oauth-authorization-server";

enum store_state { ST_NEVER, ST_OK, ST_FAILING, ST_REFUSED };

/* The store's memory. No pointers: it may be mapped at different addresses
 * (or be the same bytes seen by several processes). */
typedef struct {
    uint32_t magic;
    /* Bumped on every change below; read without the lock so that a check
     * can tell cheaply whether anything happened. */
    _Atomic uint32_t generation;
    /* Bumped when doc changes: users re-parse then and only then. */
    uint32_t doc_generation;
    uint32_t state;
    double last_attempt;   /* when the last fetch was claimed; 0: never */
    double fetching_since; /* a fetch is in progress since then; 0: none */
    double fetched_at;     /* when doc was fetched; 0: no doc */
    double next_refresh;   /* when doc is due again */
    double usable_until;   /* doc's keys are not used from then on */
    char last_error[512];
    size_t doc_len;
    char doc[AUD_FETCH_MAX_BODY + 1];
} store_mem;

size_t aud_remote_store_size(void)
{
    return sizeof(store_mem);
}

void aud_remote_store_init(void *mem)
{
    store_mem *m = mem;
    memset(m, 0, offsetof(store_mem, doc) + 1);
    m->magic = STORE_MAGIC;
    atomic_init(&m->generation, 1);
    m->state = ST_NEVER;
}

/* One parsed key set and the checks that hold it. */
typedef struct held {
    struct held *next;
    aud_keyset *set;
    unsigned long refs;
} held;

struct aud_remote {
    char *url;          /* as configured */
    char *metadata_url; /* discovery only */
    char *issuer;       /* discovery only */
    double refresh, refresh_min, max_stale, fetch_timeout;
    char *ca_file;
    aud_now_fn *now;
    void *now_baton;
    aud_logger logger;
    aud_remote_fetch_fn *fetch;
    void *fetch_baton;

    aud_remote_store store;
    void *own_mem;
    pthread_mutex_t own_lock;
    bool own_store;

    /* Guards everything below; held only for pointer and counter updates. */
    pthread_mutex_t mu;
    held *current;      /* NULL: no keys in this process */
    held *retired;      /* replaced sets still in use by some check */
    uint32_t seen_gen;  /* the store generation the fields below reflect */
    uint32_t seen_doc_gen;
    uint32_t state;
    double last_attempt, fetching_since, next_refresh, usable_until, fetched_at;
    bool expiry_logged;
    unsigned long fetches, failures;
    char last_error[512];

    /* aud_remote_quiet without mu, for the token cache's hit path (every
     * thread of the process asks on every request): what the last locked
     * answer found, good while the store's generation is still quiet_gen
     * (any change there bumps it) and until quiet_until (the next refresh or
     * the end of the keys' usability, whichever is sooner). Written under mu
     * between two increments of quiet_seq, which is odd meanwhile, so that a
     * reader never takes half of one answer and half of another. */
    _Atomic uint32_t quiet_seq;
    _Atomic uint32_t quiet_gen;
    _Atomic uint32_t quiet_doc_gen;
    _Atomic(double) quiet_until;
};

/* ------------------------------------------------------------ helpers */

static bool own_lock(void *baton)
{
    return pthread_mutex_lock(baton) == 0;
}

static void own_unlock(void *baton)
{
    pthread_mutex_unlock(baton);
}

static store_mem *mem_of(const aud_remote *r)
{
    return r->store.mem;
}

static bool gen_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static void bump(store_mem *m)
{
    atomic_fetch_add_explicit(&m->generation, 1, memory_order_release);
}

static const char *state_name(uint32_t state)
{
    switch (state) {
    case ST_OK:
        return "ok";
    case ST_FAILING:
        return "failing";
    case ST_REFUSED:
        return "refused";
    default:
        return "never fetched";
    }
}

void aud_remote_config_init(aud_remote_config *config)
{
    memset(config, 0, sizeof *config);
    config->refresh = AUD_REMOTE_DEFAULT_REFRESH;
    config->refresh_min = AUD_REMOTE_DEFAULT_REFRESH_MIN;
    config->max_stale = AUD_REMOTE_DEFAULT_MAX_STALE;
    config->fetch_timeout = AUD_REMOTE_DEFAULT_FETCH_TIMEOUT;
}

/* ------------------------------------------------------------ discovery */

static char *dup_range(const char *a, size_t alen, const char *b, size_t blen)
{
    char *s = malloc(alen + blen + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, a, alen);
    memcpy(s + alen, b, blen);
    s[alen + blen] = '\0';
    return s;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Entra ID's tenant-independent metadata (/common, /organizations and
 * /consumers, v2.0) names no issuer of its own but the template
 * https://login.microsoftonline.com/{tenantid}/v2.0 (Microsoft's access
 * token reference, "Validate the issuer"). The issuer such a URL implies
 * is therefore that template: the same origin and path with the tenant
 * part replaced, and nothing else. Only the path's shape decides, not the
 * host, so that a loopback server can stand in for Microsoft's; a document
 * can still only name an issuer of its own origin, and a template accepts
 * no tenant the operator did not list (AudTenant). False: out of memory. */
static bool multi_tenant_issuer(char **issuer)
{
    static const char *const aliases[] = {"common", "organizations", "consumers"};
    const char *sep = strstr(*issuer, "://");
    const char *path = sep != NULL ? sep + 3 + strcspn(sep + 3, "/") : NULL;
    for (size_t i = 0; path != NULL && i < sizeof aliases / sizeof *aliases; i++) {
        size_t al = strlen(aliases[i]);
        if (path[0] != '/' || strncmp(path + 1, aliases[i], al) != 0 || strcmp(path + 1 + al, "/v2.0") != 0)
            continue;
        size_t origin = (size_t)(path - *issuer);
        char *t = malloc(origin + sizeof "/{tenantid}/v2.0");
        if (t == NULL)
            return false;
        memcpy(t, *issuer, origin);
        strcpy(t + origin, "/{tenantid}/v2.0");
        free(*issuer);
        *issuer = t;
        return true;
    }
    return true;
}

/* The issuer is what the operator wrote, byte for byte, since the document
 * must repeat it exactly (OpenID Connect Discovery 4.3, RFC 8414 3.3). */
bool aud_remote_discovery_urls(const char *discovery, char **issuer, char **metadata_url, aud_error *err)
{
    const char *sep, *path, *path_end;
    size_t origin_len, path_len;

    *issuer = NULL;
    *metadata_url = NULL;
    if (!aud_fetch_url_check(discovery, err))
        return false;
    if (strchr(discovery, '#') != NULL) {
        aud_error_set(err, "'%s': a discovery URL has no fragment", discovery);
        return false;
    }
    sep = strstr(discovery, "://");
    if (sep == NULL) {
        aud_error_set(err, "'%s' is not a valid URL", discovery);
        return false;
    }
    path = sep + 3 + strcspn(sep + 3, "/?");
    origin_len = (size_t)(path - discovery);
    path_end = path + strcspn(path, "?");
    path_len = (size_t)(path_end - path);

    const char *wk = NULL;
    if (path_len >= sizeof WK_OIDC - 1 && memcmp(path, WK_OIDC, sizeof WK_OIDC - 1) == 0 &&
        (path_len == sizeof WK_OIDC - 1 || path[sizeof WK_OIDC - 1] == '/'))
        wk = WK_OIDC;
    else if (path_len >= sizeof WK_OAUTH - 1 && memcmp(path, WK_OAUTH, sizeof WK_OAUTH - 1) == 0 &&
             (path_len == sizeof WK_OAUTH - 1 || path[sizeof WK_OAUTH - 1] == '/'))
        wk = WK_OAUTH;

    if (wk != NULL) {
        /* RFC 8414 3.1: the well-known part sits between host and the
         * issuer's path (for an issuer without a path, it simply ends). */
        size_t wk_len = strlen(wk);
        *issuer = dup_range(discovery, origin_len, path + wk_len, path_len - wk_len);
        *metadata_url = strdup(discovery);
    } else if (ends_with(path, path_len, WK_OIDC) || ends_with(path, path_len, WK_OAUTH)) {
        /* OpenID Connect 4: the well-known part appended to the issuer. */
        size_t wk_len = ends_with(path, path_len, WK_OIDC) ? sizeof WK_OIDC - 1 : sizeof WK_OAUTH - 1;
        *issuer = dup_range(discovery, origin_len, path, path_len - wk_len);
        *metadata_url = strdup(discovery);
    } else {
        if (*path_end == '?') {
            aud_error_set(err, "'%s': an issuer URL has no query; give the full metadata URL instead", discovery);
            return false;
        }
        size_t len = strlen(discovery);
        size_t trimmed = len > origin_len && discovery[len - 1] == '/' ? len - 1 : len;
        *issuer = strdup(discovery);
        *metadata_url = dup_range(discovery, trimmed, WK_OIDC, sizeof WK_OIDC - 1);
    }
    if (*issuer != NULL && !multi_tenant_issuer(issuer)) {
        free(*issuer);
        *issuer = NULL;
    }
    if (*issuer == NULL || *metadata_url == NULL) {
        free(*issuer);
        free(*metadata_url);
        *issuer = *metadata_url = NULL;
        aud_error_set(err, "out of memory");
        return false;
    }
    return true;
}

/* ------------------------------------------------------- create/destroy */

aud_remote *aud_remote_create(const aud_remote_config *c, aud_error *err)
{
    aud_remote *r;

    if (c->now == NULL) {
        aud_error_set(err, "no clock given");
        return NULL;
    }
    if ((c->jwks_uri == NULL) == (c->discovery == NULL)) {
        aud_error_set(err, "give either a JWKS URI or a discovery URL");
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        aud_error_set(err, "out of memory");
        return NULL;
    }
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        aud_error_set(err, "cannot create a mutex");
        return NULL;
    }
    if (c->jwks_uri != NULL) {
        if (!aud_fetch_url_check(c->jwks_uri, err))
            goto fail;
        r->url = strdup(c->jwks_uri);
    } else {
        if (!aud_remote_discovery_urls(c->discovery, &r->issuer, &r->metadata_url, err))
            goto fail;
        r->url = strdup(c->discovery);
    }
    r->ca_file = c->ca_file ? strdup(c->ca_file) : NULL;
    if (r->url == NULL || (c->ca_file != NULL && r->ca_file == NULL)) {
        aud_error_set(err, "out of memory");
        goto fail;
    }
    r->refresh_min = c->refresh_min > 0 ? c->refresh_min : AUD_REMOTE_DEFAULT_REFRESH_MIN;
    r->refresh = c->refresh > 0 ? c->refresh : AUD_REMOTE_DEFAULT_REFRESH;
    if (r->refresh < r->refresh_min)
        r->refresh = r->refresh_min;
    r->max_stale = c->max_stale >= 0 ? c->max_stale : AUD_REMOTE_DEFAULT_MAX_STALE;
    r->fetch_timeout = c->fetch_timeout > 0 ? c->fetch_timeout : AUD_REMOTE_DEFAULT_FETCH_TIMEOUT;
    r->now = c->now;
    r->now_baton = c->now_baton;
    r->logger = c->logger;
    r->fetch = c->fetch;
    r->fetch_baton = c->fetch_baton;

    if (c->store != NULL) {
        r->store = *c->store;
    } else {
        r->own_mem = malloc(aud_remote_store_size());
        if (r->own_mem == NULL || pthread_mutex_init(&r->own_lock, NULL) != 0) {
            free(r->own_mem);
            r->own_mem = NULL;
            aud_error_set(err, "out of memory");
            goto fail;
        }
        r->own_store = true;
        aud_remote_store_init(r->own_mem);
        r->store = (aud_remote_store){r->own_mem, own_lock, own_unlock, &r->own_lock};
    }
    if (mem_of(r)->magic != STORE_MAGIC) {
        aud_error_set(err, "the key store was not prepared with aud_remote_store_init");
        goto fail;
    }
    /* Nothing seen yet: the first check reads the store. */
    r->seen_gen = atomic_load(&mem_of(r)->generation) - 1;
    return r;
fail:
    aud_remote_destroy(r);
    return NULL;
}

static void held_free(held *h)
{
    if (h != NULL) {
        aud_keyset_destroy(h->set);
        free(h);
    }
}

void aud_remote_destroy(aud_remote *r)
{
    if (r == NULL)
        return;
    held_free(r->current);
    while (r->retired != NULL) {
        held *next = r->retired->next;
        held_free(r->retired);
        r->retired = next;
    }
    if (r->own_store) {
        pthread_mutex_destroy(&r->own_lock);
        free(r->own_mem);
    }
    pthread_mutex_destroy(&r->mu);
    free(r->url);
    free(r->metadata_url);
    free(r->issuer);
    free(r->ca_file);
    free(r);
}

const char *aud_remote_issuer(const aud_remote *r)
{
    return r->issuer;
}

const char *aud_remote_url(const aud_remote *r)
{
    return r->url;
}

/* ------------------------------------------------------ local key sets */

static held *held_new(aud_keyset *set)
{
    held *h;
    if (set == NULL)
        return NULL;
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        aud_keyset_destroy(set);
        return NULL;
    }
    h->set = set;
    return h;
}

/* Under r->mu: makes h the set new checks get (NULL: none) if doc_gen is
 * newer than what this process has, and records that the store's state up
 * to gen is known here. Returns what the caller must free once the lock is
 * released (destroying keys is not a pointer update). */
static held *install_locked(aud_remote *r, held *h, uint32_t doc_gen, uint32_t gen)
{
    held *drop = h;

    if (gen_newer(doc_gen, r->seen_doc_gen)) {
        held *old = r->current;
        r->current = h;
        r->seen_doc_gen = doc_gen;
        r->expiry_logged = false;
        drop = NULL;
        if (old != NULL) {
            if (old->refs == 0) {
                drop = old;
            } else {
                old->next = r->retired;
                r->retired = old;
            }
        }
    }
    if (r->seen_doc_gen == doc_gen && gen_newer(gen, r->seen_gen))
        r->seen_gen = gen;
    return drop;
}

/* A remote JWKS must be a JWKS, and never yields HMAC secrets: a key that
 * anybody who can read the URL also has proves nothing. Returns the text to
 * store (only the keys kept) or NULL with the reason. */
static char *filter_jwks(const aud_remote *r, const char *body, size_t len, const char *origin, aud_error *err)
{
    aud_error why;
    json_t *doc = aud_json_parse_object(body, len, &why);
    json_t *keys, *kept;
    char *text = NULL;
    size_t i;
    json_t *k;

    if (doc == NULL) {
        aud_text_url q; /* the parser's message can repeat bytes of the document */
        aud_error_set(err, "%s: not a JSON object (%s)", origin, aud_text_quote_url(why.text, &q));
        return NULL;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        aud_error_set(err, "%s: not a JWKS (no \"keys\" array)", origin);
        json_decref(doc);
        return NULL;
    }
    kept = json_array();
    if (kept == NULL) {
        json_decref(doc);
        aud_error_set(err, "out of memory");
        return NULL;
    }
    json_array_foreach(keys, i, k)
    {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        if (kty != NULL && strcmp(kty, "oct") == 0) {
            aud_log_emit(&r->logger, AUD_LOG_WARNING,
                         "%s: key %zu is a symmetric (oct) key; a published secret proves nothing, skipped", origin,
                         i);
            continue;
        }
        json_array_append(kept, k);
    }
    json_t *out = json_pack("{sO}", "keys", kept);
    if (out != NULL)
        text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    json_decref(kept);
    json_decref(doc);
    if (text == NULL) {
        aud_error_set(err, "out of memory");
    } else if (strlen(text) > AUD_FETCH_MAX_BODY) {
        aud_error_set(err, "%s: the key set is larger than %d bytes", origin, AUD_FETCH_MAX_BODY);
        free(text);
        text = NULL;
    }
    return text;
}

/* ------------------------------------------------------------ fetching */

typedef struct {
    bool ok;
    bool refused; /* the document is not to be trusted at all (foreign issuer) */
    char *doc;    /* filtered JWKS text */
    aud_keyset *set;
    double max_age;
    aud_error err;
} fetch_result;

static bool fetch_one(aud_remote *r, const char *url, double deadline, aud_fetch_response *resp, aud_error *err)
{
    aud_fetch_options opt;
    double remaining = deadline - aud_fetch_monotonic_now();
    aud_error why;
    aud_text_url q; /* url may be a discovery document's jwks_uri */

    if (remaining <= 0.001) {
        aud_error_set(err, "%s: no time left within the fetch timeout of %.0f s", aud_text_quote_url(url, &q), r->fetch_timeout);
        return false;
    }
    opt.timeout = remaining;
    opt.ca_file = r->ca_file;
    memset(&why, 0, sizeof why);
    memset(resp, 0, sizeof *resp);
    bool ok = r->fetch != NULL ? r->fetch(r->fetch_baton, url, &opt, resp, &why) : aud_fetch_get(url, &opt, resp, &why);
    if (!ok)
        aud_error_set(err, "%s: %s", aud_text_quote_url(url, &q), why.text[0] ? why.text : "fetch failed");
    return ok;
}

static void do_fetch(aud_remote *r, fetch_result *res)
{
    double deadline = aud_fetch_monotonic_now() + r->fetch_timeout;
    aud_fetch_response resp;
    const char *jwks_url = r->url;
    char *discovered = NULL;
    aud_text_url origin, q;

    memset(res, 0, sizeof *res);
    res->max_age = -1;
    if (r->metadata_url != NULL) {
        aud_error why;
        if (!fetch_one(r, r->metadata_url, deadline, &resp, &res->err))
            return;
        bool meta_local = resp.local;
        json_t *meta = aud_json_parse_object(resp.body, resp.len, &why);
        aud_fetch_response_free(&resp);
        if (meta == NULL) {
            aud_error_set(&res->err, "%s: not a JSON object (%s)", r->metadata_url, aud_text_quote_url(why.text, &q));
            return;
        }
        const char *iss = json_string_value(json_object_get(meta, "issuer"));
        const char *uri = json_string_value(json_object_get(meta, "jwks_uri"));
        if (iss == NULL || strcmp(iss, r->issuer) != 0) {
            /* Only the first characters of a foreign value: it is the
             * server's, not ours, and may be anything. */
            char foreign[120 * 4 + 4];
            if (iss != NULL)
                aud_text_quote(iss, json_string_length(json_object_get(meta, "issuer")), 120, foreign,
                               sizeof foreign);
            aud_error_set(&res->err, "%s: the document's issuer %s%s%s is not the configured issuer '%s'",
                          r->metadata_url, iss ? "'" : "", iss ? foreign : "(missing)", iss ? "'" : "", r->issuer);
            res->refused = true;
            json_decref(meta);
            return;
        }
        if (uri == NULL) {
            aud_error_set(&res->err, "%s: the document has no jwks_uri", r->metadata_url);
            json_decref(meta);
            return;
        }
        if (!aud_fetch_url_check(uri, &why)) {
            aud_error_set(&res->err, "%s: its jwks_uri is refused: %s", r->metadata_url, why.text);
            json_decref(meta);
            return;
        }
        /* The redirect rule, for a URL that a document names: a remote
         * server must not point this one at its own loopback services. */
        if (!meta_local && aud_fetch_url_is_loopback(uri)) {
            aud_error_set(&res->err,
                          "%s: its jwks_uri '%s' is refused: a document from a remote host names a loopback one",
                          r->metadata_url, aud_text_quote_url(uri, &q));
            json_decref(meta);
            return;
        }
        discovered = strdup(uri);
        json_decref(meta);
        if (discovered == NULL) {
            aud_error_set(&res->err, "out of memory");
            return;
        }
        jwks_url = discovered;
    }
    if (!fetch_one(r, jwks_url, deadline, &resp, &res->err)) {
        free(discovered);
        return;
    }
    aud_text_quote_url(jwks_url, &origin);
    res->max_age = resp.max_age;
    res->doc = filter_jwks(r, resp.body, resp.len, origin.text, &res->err);
    aud_fetch_response_free(&resp);
    if (res->doc != NULL) {
        res->set = aud_keyset_create();
        if (res->set == NULL) {
            aud_error_set(&res->err, "out of memory");
        } else if (aud_keyset_load_buffer(res->set, res->doc, strlen(res->doc), origin.text, &r->logger,
                                          &res->err)) {
            res->ok = true;
        }
    }
    if (!res->ok) {
        aud_keyset_destroy(res->set);
        res->set = NULL;
        free(res->doc);
        res->doc = NULL;
    }
    free(discovered);
}

/* Copies the store's schedule into the local fields. Under both locks.
 * The generation is recorded as seen only when this process also has the
 * store's document parsed: until then other checks here must not take the
 * lock-free path, or they would answer from the old set (or none) while the
 * new one is being parsed. */
static void mirror(aud_remote *r, const store_mem *m, uint32_t gen)
{
    if (m->doc_generation == r->seen_doc_gen)
        r->seen_gen = gen;
    r->state = m->state;
    r->last_attempt = m->last_attempt;
    r->fetching_since = m->fetching_since;
    r->next_refresh = m->next_refresh;
    r->usable_until = m->usable_until;
    r->fetched_at = m->fetched_at;
    snprintf(r->last_error, sizeof r->last_error, "%s", m->last_error);
}

/* Threads read the clock before they take the lock, so a claim made a
 * moment "after" a caller's now is normal: differences either way count. */
static bool fetch_in_progress(const aud_remote *r, double since, double now)
{
    return since > 0 && fabs(now - since) < r->fetch_timeout * LEASE_TIMEOUTS + 1;
}

static bool attempt_allowed(const aud_remote *r, double last_attempt, double now)
{
    /* A clock set back by more than an interval must not stop fetching
     * until it catches up; a caller's slightly earlier reading must not
     * count as such. */
    return last_attempt <= 0 || now - last_attempt >= r->refresh_min || last_attempt - now > r->refresh_min;
}

static void log_outcome(aud_remote *r, const fetch_result *res, double now, size_t n_keys, bool had_keys,
                        double usable_until, double interval)
{
    if (res->ok) {
        aud_log_emit(&r->logger, AUD_LOG_INFO, "keys from %s: %zu key(s) fetched; next refresh in %.0f s", r->url,
                     n_keys, interval);
    } else if (res->refused) {
        aud_log_emit(&r->logger, AUD_LOG_ERROR,
                     "keys from %s: %s; these keys are not used and requests that need them get 503", r->url,
                     res->err.text);
    } else if (had_keys && now < usable_until) {
        aud_log_emit(&r->logger, AUD_LOG_WARNING,
                     "keys from %s: fetch failed (%s); keeping the last good keys for up to %.0f s more", r->url,
                     res->err.text, usable_until - now);
    } else {
        aud_log_emit(&r->logger, AUD_LOG_WARNING,
                     "keys from %s: fetch failed (%s); no usable keys: requests that need them get 503 until a "
                     "fetch succeeds (next try in %.0f s at the earliest)",
                     r->url, res->err.text, r->refresh_min);
    }
}

/* Does the fetch this caller claimed, then records the outcome in the store
 * and installs the new keys here. */
static void fetch_and_publish(aud_remote *r)
{
    fetch_result res;
    store_mem *m = mem_of(r);
    double now, interval = r->refresh, usable_until = 0;
    bool had_keys = false;
    uint32_t doc_gen = 0;
    size_t n_keys = 0;
    held *fresh, *drop = NULL;

    do_fetch(r, &res);
    now = r->now(r->now_baton);
    if (res.ok) {
        n_keys = aud_keyset_count(res.set);
        if (res.max_age >= 0)
            interval = fmin(fmax(res.max_age, r->refresh_min), AUD_REMOTE_MAX_AGE_CAP);
    }
    pthread_mutex_lock(&r->mu);
    r->fetches++;
    if (!res.ok) {
        r->failures++;
        snprintf(r->last_error, sizeof r->last_error, "%s", res.err.text);
    }
    pthread_mutex_unlock(&r->mu);

    fresh = held_new(res.set);
    if (res.ok && fresh == NULL) {
        res.ok = false;
        aud_error_set(&res.err, "out of memory");
    }
    if (!r->store.lock(r->store.baton)) {
        /* Nothing can be recorded; the claim lapses by itself
         * (LEASE_TIMEOUTS) and a later check fetches again. */
        held_free(fresh);
        free(res.doc);
        aud_log_emit(&r->logger, AUD_LOG_ERROR, "keys from %s: the key store's lock cannot be taken", r->url);
        return;
    }
    m->fetching_since = 0;
    had_keys = m->doc_len > 0;
    if (res.ok) {
        size_t len = strlen(res.doc);
        memcpy(m->doc, res.doc, len + 1);
        m->doc_len = len;
        m->doc_generation++;
        m->fetched_at = now;
        m->next_refresh = now + interval;
        m->usable_until = m->next_refresh + r->max_stale;
        m->state = ST_OK;
        m->last_error[0] = '\0';
    } else {
        if (res.refused) {
            m->doc_len = 0;
            m->doc_generation++;
            m->fetched_at = 0;
            m->next_refresh = 0;
            m->usable_until = 0;
            m->state = ST_REFUSED;
        } else if (m->state != ST_REFUSED) {
            m->state = m->doc_len > 0 ? ST_FAILING : ST_NEVER;
        }
        snprintf(m->last_error, sizeof m->last_error, "%s", res.err.text);
    }
    doc_gen = m->doc_generation;
    usable_until = m->usable_until;
    bump(m);
    uint32_t gen = atomic_load_explicit(&m->generation, memory_order_relaxed);
    pthread_mutex_lock(&r->mu);
    if (res.ok || res.refused)
        drop = install_locked(r, fresh, doc_gen, gen);
    mirror(r, m, gen);
    pthread_mutex_unlock(&r->mu);
    r->store.unlock(r->store.baton);
    held_free(drop);
    free(res.doc);
    log_outcome(r, &res, now, n_keys, had_keys, usable_until, interval);
}

enum sync_why { SYNC_USE, SYNC_KID, SYNC_SIGNATURE, SYNC_FORCE };

/* Brings this process up to date with the store and, when due and nobody
 * else is at it, fetches. Returns whether a fetch is in progress elsewhere
 * (so that a caller without keys may wait for it). */
static bool sync_store(aud_remote *r, double now, enum sync_why why, uint32_t *seen)
{
    store_mem *m = mem_of(r);
    char *doc = NULL;
    uint32_t doc_gen = 0, gen;
    bool copy_doc, claim = false, elsewhere;

    if (seen != NULL)
        *seen = atomic_load_explicit(&m->generation, memory_order_acquire);
    if (!r->store.lock(r->store.baton))
        return false;
    copy_doc = m->doc_generation != r->seen_doc_gen;
    if (copy_doc) {
        doc_gen = m->doc_generation;
        if (m->doc_len > 0) {
            doc = malloc(m->doc_len + 1);
            if (doc != NULL)
                memcpy(doc, m->doc, m->doc_len + 1);
            else
                copy_doc = false; /* try again on the next check */
        }
    }
    elsewhere = fetch_in_progress(r, m->fetching_since, now);
    bool due = m->doc_len == 0 || now >= m->next_refresh || why != SYNC_USE;
    if (due && !elsewhere && attempt_allowed(r, m->last_attempt, now)) {
        claim = true;
        m->fetching_since = now;
        m->last_attempt = now;
        bump(m);
    }
    gen = atomic_load_explicit(&m->generation, memory_order_relaxed);
    pthread_mutex_lock(&r->mu);
    mirror(r, m, gen);
    pthread_mutex_unlock(&r->mu);
    r->store.unlock(r->store.baton);

    if (seen != NULL)
        *seen = gen;
    if (copy_doc) {
        aud_keyset *set = NULL;
        held *drop;
        if (doc != NULL) {
            aud_error err;
            set = aud_keyset_create();
            /* The fetcher logged the document's warnings already. */
            if (set != NULL && !aud_keyset_load_buffer(set, doc, strlen(doc), r->url, NULL, &err)) {
                aud_keyset_destroy(set);
                set = NULL;
            }
            free(doc);
        }
        pthread_mutex_lock(&r->mu);
        drop = install_locked(r, held_new(set), doc_gen, gen);
        pthread_mutex_unlock(&r->mu);
        held_free(drop);
    }
    if (claim) {
        if (why == SYNC_SIGNATURE)
            aud_log_emit(&r->logger, AUD_LOG_INFO,
                         "keys from %s: a key in the set did not verify a token's signature (a new key under an old "
                         "key id?); refreshing",
                         r->url);
        else if (why == SYNC_KID)
            aud_log_emit(&r->logger, AUD_LOG_INFO, "keys from %s: a token named a key id not in the set; refreshing",
                         r->url);
        fetch_and_publish(r);
    }
    return elsewhere;
}

/* Waits (polling the lock-free generation) until the store changes or
 * fetch_timeout passes: a fetch is in progress in another thread or process
 * and this check has no keys to go on meanwhile. */
static void wait_for_change(aud_remote *r, uint32_t from)
{
    double deadline = aud_fetch_monotonic_now() + r->fetch_timeout;
    struct timespec step = {0, WAIT_STEP_NS};

    while (atomic_load_explicit(&mem_of(r)->generation, memory_order_acquire) == from && aud_fetch_monotonic_now() < deadline)
        nanosleep(&step, NULL);
}

/* ------------------------------------------------------------ the source */

/* Under r->mu. The set to hand out now, or NULL. */
static held *usable_locked(aud_remote *r, double now)
{
    if (r->current == NULL)
        return NULL;
    if (r->state == ST_REFUSED)
        return NULL;
    if (now >= r->usable_until) {
        if (!r->expiry_logged) {
            r->expiry_logged = true;
            aud_log_emit(&r->logger, AUD_LOG_ERROR,
                         "keys from %s: the last good keys are more than %.0f s past their refresh time and are no "
                         "longer used; requests that need them get 503 (last error: %s)",
                         r->url, r->max_stale, r->last_error[0] ? r->last_error : "none");
        }
        return NULL;
    }
    return r->current;
}

/* Whether this process can answer without the store's lock: nothing
 * changed there and nothing is due. */
static bool quiet_locked(const aud_remote *r, double now)
{
    if (atomic_load_explicit(&mem_of(r)->generation, memory_order_acquire) != r->seen_gen)
        return false;
    if (r->current != NULL && now < r->next_refresh)
        return true;
    /* Keys stale or missing: nothing new can happen before the next fetch
     * is allowed, unless a fetch in progress ends (which bumps the
     * generation). A check without keys waits for one in progress. */
    if (fetch_in_progress(r, r->fetching_since, now))
        return r->current != NULL;
    return !attempt_allowed(r, r->last_attempt, now);
}

/* Under r->mu. The set to hand out now, or NULL, and the generation of
 * this process's keys either way. */
static const aud_keyset *take_locked(aud_remote *r, double now, uint64_t *generation)
{
    held *h = usable_locked(r, now);
    *generation = r->seen_doc_gen;
    if (h == NULL)
        return NULL;
    h->refs++;
    return h->set;
}

static const aud_keyset *remote_acquire(void *baton, uint64_t *generation)
{
    aud_remote *r = baton;
    double now = r->now(r->now_baton);
    const aud_keyset *set;
    uint32_t seen;
    bool elsewhere;

    pthread_mutex_lock(&r->mu);
    if (quiet_locked(r, now)) {
        set = take_locked(r, now, generation);
        pthread_mutex_unlock(&r->mu);
        return set;
    }
    pthread_mutex_unlock(&r->mu);

    elsewhere = sync_store(r, now, SYNC_USE, &seen);
    pthread_mutex_lock(&r->mu);
    set = take_locked(r, now, generation);
    pthread_mutex_unlock(&r->mu);
    if (set != NULL || !elsewhere)
        return set;

    /* No keys, and another thread or process is fetching them: wait for
     * that fetch (bounded), then take whatever it brought. */
    wait_for_change(r, seen);
    now = r->now(r->now_baton);
    sync_store(r, now, SYNC_USE, NULL);
    pthread_mutex_lock(&r->mu);
    set = take_locked(r, now, generation);
    pthread_mutex_unlock(&r->mu);
    return set;
}

static void remote_release(void *baton, const aud_keyset *set)
{
    aud_remote *r = baton;
    held *drop = NULL;

    pthread_mutex_lock(&r->mu);
    if (r->current != NULL && r->current->set == set) {
        r->current->refs--;
    } else {
        for (held **p = &r->retired; *p != NULL; p = &(*p)->next) {
            if ((*p)->set == set) {
                if (--(*p)->refs == 0) {
                    drop = *p;
                    *p = drop->next;
                }
                break;
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
    held_free(drop);
}

/* Shared by an unknown kid and a failed signature: both may mean the
 * provider rotated, and both are the token's word, so they cost at most one
 * fetch per refresh_min however many tokens say so. */
static void refresh_suspected(aud_remote *r, enum sync_why why)
{
    double now = r->now(r->now_baton);
    bool maybe;

    pthread_mutex_lock(&r->mu);
    maybe = atomic_load_explicit(&mem_of(r)->generation, memory_order_acquire) != r->seen_gen ||
            (attempt_allowed(r, r->last_attempt, now) && !fetch_in_progress(r, r->fetching_since, now));
    pthread_mutex_unlock(&r->mu);
    /* A flood stops here, without the store's lock, for all but the first
     * token of each interval. */
    if (maybe)
        sync_store(r, now, why, NULL);
}

static void remote_kid_missing(void *baton, const char *kid)
{
    (void)kid; /* never fetched, never logged: it is the token's word */
    refresh_suspected(baton, SYNC_KID);
}

static void remote_signature_failed(void *baton, const char *kid)
{
    (void)kid;
    refresh_suspected(baton, SYNC_SIGNATURE);
}

static bool remote_quiet(void *baton, uint64_t *generation)
{
    uint32_t doc_gen = 0;
    bool quiet = aud_remote_quiet(baton, &doc_gen);

    *generation = doc_gen;
    return quiet;
}

aud_key_source aud_remote_key_source(aud_remote *r)
{
    aud_key_source s = {.acquire = remote_acquire,
                        .release = remote_release,
                        .kid_missing = remote_kid_missing,
                        .quiet = remote_quiet,
                        .signature_failed = remote_signature_failed,
                        .baton = r};
    return s;
}

bool aud_remote_refresh(aud_remote *r)
{
    double now = r->now(r->now_baton);
    bool ok;

    sync_store(r, now, SYNC_FORCE, NULL);
    pthread_mutex_lock(&r->mu);
    ok = usable_locked(r, now) != NULL;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

typedef struct {
    aud_remote *const *sources;
    size_t n;
    atomic_size_t next;
} refresh_queue;

static void *refresh_worker(void *baton)
{
    refresh_queue *q = baton;
    for (;;) {
        size_t i = atomic_fetch_add(&q->next, 1);
        if (i >= q->n)
            return NULL;
        if (q->sources[i] != NULL)
            aud_remote_refresh(q->sources[i]);
    }
}

void aud_remote_refresh_all(aud_remote *const *sources, size_t n)
{
    refresh_queue q = {sources, n, 0};
    pthread_t threads[AUD_REMOTE_REFRESH_THREADS];
    size_t started = 0;

    if (sources == NULL || n == 0)
        return;
    /* The caller's thread is one of the workers. */
    while (started + 1 < n && started < AUD_REMOTE_REFRESH_THREADS - 1 &&
           pthread_create(&threads[started], NULL, refresh_worker, &q) == 0)
        started++;
    refresh_worker(&q);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

unsigned aud_remote_retry_after(aud_remote *r)
{
    double now = r->now(r->now_baton);
    double wait;

    pthread_mutex_lock(&r->mu);
    if (fetch_in_progress(r, r->fetching_since, now))
        wait = r->fetch_timeout;
    else if (r->last_attempt > 0 && now >= r->last_attempt)
        wait = r->last_attempt + r->refresh_min - now;
    else
        wait = 1;
    pthread_mutex_unlock(&r->mu);
    if (!(wait >= 1))
        wait = 1;
    if (wait > r->refresh_min)
        wait = r->refresh_min;
    return (unsigned)ceil(wait);
}

bool aud_remote_quiet(aud_remote *r, uint32_t *doc_gen)
{
    double now = r->now(r->now_baton);
    bool quiet;
    uint32_t seq = atomic_load_explicit(&r->quiet_seq, memory_order_acquire);

    if ((seq & 1) == 0) {
        double until = atomic_load_explicit(&r->quiet_until, memory_order_relaxed);
        uint32_t gen = atomic_load_explicit(&r->quiet_gen, memory_order_relaxed);
        uint32_t doc = atomic_load_explicit(&r->quiet_doc_gen, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&r->quiet_seq, memory_order_relaxed) == seq && now < until &&
            atomic_load_explicit(&mem_of(r)->generation, memory_order_acquire) == gen) {
            *doc_gen = doc;
            return true;
        }
    }

    pthread_mutex_lock(&r->mu);
    quiet = r->current != NULL && now < r->next_refresh && quiet_locked(r, now) && usable_locked(r, now) != NULL;
    *doc_gen = r->seen_doc_gen;
    if (quiet) {
        uint32_t s = atomic_load_explicit(&r->quiet_seq, memory_order_relaxed);
        atomic_store_explicit(&r->quiet_seq, s + 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&r->quiet_until, r->next_refresh < r->usable_until ? r->next_refresh : r->usable_until,
                              memory_order_relaxed);
        atomic_store_explicit(&r->quiet_gen, r->seen_gen, memory_order_relaxed);
        atomic_store_explicit(&r->quiet_doc_gen, r->seen_doc_gen, memory_order_relaxed);
        atomic_store_explicit(&r->quiet_seq, s + 2, memory_order_release);
    }
    pthread_mutex_unlock(&r->mu);
    return quiet;
}

uint32_t aud_remote_generation(aud_remote *r)
{
    return atomic_load_explicit(&mem_of(r)->generation, memory_order_acquire);
}

void aud_remote_get_status(aud_remote *r, aud_remote_status *out)
{
    double now = r->now(r->now_baton);

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    out->fetches = r->fetches;
    out->fetch_failures = r->failures;
    out->keys = r->current ? aud_keyset_count(r->current->set) : 0;
    out->usable = r->current != NULL && r->state != ST_REFUSED && now < r->usable_until;
    out->fetched_at = r->fetched_at;
    out->next_refresh = r->next_refresh;
    snprintf(out->last_error, sizeof out->last_error, "%s", r->last_error);
    snprintf(out->state, sizeof out->state, "%s", state_name(r->state));
    pthread_mutex_unlock(&r->mu);
}
