/* Remote keys: the refresh policy of aud_remote at a fixed clock with a fake
 * network, and aud_fetch against a small HTTP server on 127.0.0.1 that each
 * test starts for itself. Nothing here talks to any other address. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aud_fetch.h"
#include "aud_remote.h"
#include "suites.h"
#include "test_support.h"

/* Generations of handed-out sets; these tests look at the sets themselves. */
static _Thread_local uint64_t ts_ignored_generation;

#define JWKS_URL "https://idp.test/keys"
#define OTHER_URL "https://elsewhere.test/keys"

/* ------------------------------------------------------------ fake net */

#define MAX_ROUTES 8

typedef struct {
    const char *url;
    char *body;      /* NULL: the fetch fails */
    double max_age;  /* -1: none */
} route;

typedef struct {
    pthread_mutex_t mu;
    route routes[MAX_ROUTES];
    int n_routes;
    int calls;
    char urls[16][128]; /* the first URLs asked for */
    /* For the concurrency tests: how long each fetch takes, and how many
     * were in flight at once at most. */
    long delay_ms;
    int in_flight, max_in_flight;
    /* Called once, from inside the first fetch, without the net's lock. */
    void (*during)(void *baton);
    void *during_baton;
} fake_net;

static void net_init(fake_net *net)
{
    memset(net, 0, sizeof *net);
    pthread_mutex_init(&net->mu, NULL);
}

static void net_free(fake_net *net)
{
    for (int i = 0; i < net->n_routes; i++)
        free(net->routes[i].body);
    pthread_mutex_destroy(&net->mu);
}

/* Sets what url answers (body NULL: a failure). */
static void net_route(fake_net *net, const char *url, const char *body, double max_age)
{
    pthread_mutex_lock(&net->mu);
    int i;
    for (i = 0; i < net->n_routes; i++)
        if (strcmp(net->routes[i].url, url) == 0)
            break;
    ck_assert_int_lt(i, MAX_ROUTES);
    if (i == net->n_routes)
        net->n_routes++;
    free(net->routes[i].body);
    net->routes[i].url = url;
    net->routes[i].body = body ? strdup(body) : NULL;
    net->routes[i].max_age = max_age;
    pthread_mutex_unlock(&net->mu);
}

static int net_calls(fake_net *net)
{
    pthread_mutex_lock(&net->mu);
    int n = net->calls;
    pthread_mutex_unlock(&net->mu);
    return n;
}

static bool fake_fetch(void *baton, const char *url, const aud_fetch_options *opt, aud_fetch_response *out,
                       aud_error *err)
{
    fake_net *net = baton;
    bool ok = false;

    memset(out, 0, sizeof *out);
    out->max_age = -1;
    pthread_mutex_lock(&net->mu);
    if (net->calls < 16)
        snprintf(net->urls[net->calls], sizeof net->urls[0], "%s", url);
    net->calls++;
    net->in_flight++;
    if (net->in_flight > net->max_in_flight)
        net->max_in_flight = net->in_flight;
    long delay = net->delay_ms;
    void (*during)(void *) = net->during;
    net->during = NULL;
    pthread_mutex_unlock(&net->mu);
    if (during != NULL)
        during(net->during_baton);
    if (delay > 0) {
        struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&net->mu);
    net->in_flight--;
    for (int i = 0; i < net->n_routes; i++) {
        if (strcmp(net->routes[i].url, url) != 0)
            continue;
        if (net->routes[i].body == NULL) {
            aud_error_set(err, "the server answered HTTP 500");
        } else {
            out->body = strdup(net->routes[i].body);
            out->len = strlen(out->body);
            out->max_age = net->routes[i].max_age;
            ok = true;
        }
        break;
    }
    if (!ok && err->text[0] == '\0')
        aud_error_set(err, "could not connect");
    pthread_mutex_unlock(&net->mu);
    return ok;
}

/* ---------------------------------------------------------------- keys */

static char *jwk_of(const char *fixture, const char *kid)
{
    EVP_PKEY *pkey = ts_load_public_key(fixture);
    char *jwk = ts_public_jwk(pkey, kid);
    EVP_PKEY_free(pkey);
    return jwk;
}

/* A JWKS of the RSA test key under kid1 (and the other RSA key under kid2
 * when given). */
static char *jwks_of(const char *kid1, const char *kid2)
{
    char *jwks[2] = {NULL, NULL};
    size_t n = 0;
    if (kid1 != NULL)
        jwks[n++] = jwk_of("test_rsa2048_public.pem", kid1);
    if (kid2 != NULL)
        jwks[n++] = jwk_of("test_rsa2048_other_public.pem", kid2);
    char *text = ts_jwks((const char *const *)jwks, n);
    for (size_t i = 0; i < n; i++)
        free(jwks[i]);
    return text;
}

static void route_jwks(fake_net *net, const char *url, const char *kid1, const char *kid2, double max_age)
{
    char *text = jwks_of(kid1, kid2);
    net_route(net, url, text, max_age);
    free(text);
}

/* Signed by the key that jwks_of puts under kid1 ("other": under kid2). */
static char *token_for(const char *kid, bool other, const char *extra_header)
{
    EVP_PKEY *priv = ts_load_private_key(other ? "test_rsa2048_other_private.pem" : "test_rsa2048_private.pem");
    char *claims = ts_good_claims();
    char *header = ts_fmt("{\"alg\":\"RS256\",\"kid\":\"%s\"%s}", kid, extra_header ? extra_header : "");
    char *token = ts_mint_key(priv, AUD_ALG_RS256, header, claims);
    free(header);
    free(claims);
    EVP_PKEY_free(priv);
    return token;
}

/* ------------------------------------------------------------- fixture */

typedef struct {
    fake_net net;
    double now; /* the remote's clock; the verifier's stays at TS_NOW */
    ts_log log;
    aud_remote_config rc;
    aud_remote *remote;
    aud_key_source src;
    ts_env env;
} rig;

static void rig_init(rig *g)
{
    memset(g, 0, sizeof *g);
    net_init(&g->net);
    ts_log_init(&g->log);
    g->now = TS_NOW;
    aud_remote_config_init(&g->rc);
    g->rc.jwks_uri = JWKS_URL;
    g->rc.now = ts_clock;
    g->rc.now_baton = &g->now;
    g->rc.logger = ts_log_logger(&g->log);
    g->rc.fetch = fake_fetch;
    g->rc.fetch_baton = &g->net;
}

static void rig_start(rig *g)
{
    aud_error err = {{0}};
    g->remote = aud_remote_create(&g->rc, &err);
    ck_assert_msg(g->remote != NULL, "aud_remote_create: %s", err.text);
    g->src = aud_remote_key_source(g->remote);
    ts_env_init_default(&g->env);
    g->env.config.sources = &g->src;
    g->env.config.n_sources = 1;
}

static void rig_free(rig *g)
{
    ts_env_free(&g->env);
    aud_remote_destroy(g->remote);
    ts_log_free(&g->log);
    net_free(&g->net);
}

/* The reasons a token signed for kid gets now. */
static uint32_t rig_check(rig *g, const char *kid, bool other)
{
    char *token = token_for(kid, other, NULL);
    aud_result *r = ts_env_check(&g->env, token);
    uint32_t reasons = r->reasons;
    aud_result_free(r);
    free(token);
    return reasons;
}

static void rig_status(rig *g, aud_remote_status *st)
{
    aud_remote_get_status(g->remote, st);
}

/* -------------------------------------------------------- policy tests */

START_TEST(first_use_fetches_once_then_serves_from_memory)
{
    rig g;
    rig_init(&g);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert_int_eq(net_calls(&g.net), 0); /* creating fetches nothing */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 1);
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert(st.usable);
    ck_assert_uint_eq(st.keys, 1);
    ck_assert(st.next_refresh - st.fetched_at == AUD_REMOTE_DEFAULT_REFRESH);
    rig_free(&g);
}
END_TEST

START_TEST(never_fetched_is_keys_unavailable_and_retried_after_min_interval)
{
    rig g;
    rig_init(&g);
    net_route(&g.net, JWKS_URL, NULL, -1);
    rig_start(&g);
    ck_assert(!aud_remote_refresh(g.remote));
    ck_assert_int_eq(net_calls(&g.net), 1);
    ck_assert(ts_log_contains(&g.log, AUD_LOG_WARNING, "no usable keys"));
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    ck_assert_int_eq(net_calls(&g.net), 1); /* within refresh_min: no new fetch */
    ck_assert_uint_eq(aud_remote_retry_after(g.remote), 60);
    g.now += 30;
    ck_assert_uint_eq(aud_remote_retry_after(g.remote), 30);
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    ck_assert_int_eq(net_calls(&g.net), 1);

    /* The identity provider comes back: the first check after the interval
     * fetches, and is served. */
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    g.now += 30;
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    rig_free(&g);
}
END_TEST

START_TEST(refresh_happens_when_due_and_not_before)
{
    rig g;
    rig_init(&g);
    g.rc.refresh = 600;
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert(aud_remote_refresh(g.remote));
    ck_assert_int_eq(net_calls(&g.net), 1);
    g.now += 599;
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 1);
    /* Due: the key set now holds k2 only, and k1 tokens stop working. */
    route_jwks(&g.net, JWKS_URL, NULL, "k2", -1);
    g.now += 1;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(UNKNOWN_KEY));
    ck_assert_int_eq(net_calls(&g.net), 2);
    ck_assert_uint_eq(rig_check(&g, "k2", true), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    rig_free(&g);
}
END_TEST

static double interval_for_max_age(double max_age)
{
    rig g;
    rig_init(&g);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, max_age);
    rig_start(&g);
    ck_assert(aud_remote_refresh(g.remote));
    aud_remote_status st;
    rig_status(&g, &st);
    rig_free(&g);
    return st.next_refresh - st.fetched_at;
}

START_TEST(cache_control_max_age_is_honoured_within_bounds)
{
    ck_assert(interval_for_max_age(-1) == 3600);   /* none: AudKeyRefresh */
    ck_assert(interval_for_max_age(300) == 300);   /* honoured */
    ck_assert(interval_for_max_age(7200) == 7200); /* longer than AudKeyRefresh too */
    ck_assert(interval_for_max_age(5) == 60);      /* below AudKeyRefreshMin */
    ck_assert(interval_for_max_age(0) == 60);      /* no-cache / no-store */
    ck_assert(interval_for_max_age(999999) == 86400);
}
END_TEST

/* What the module's token cache relies on: "quiet" holds only while the
 * same keys are current, usable and not due. */
START_TEST(quiet_only_while_the_same_keys_are_current)
{
    rig g;
    rig_init(&g);
    g.rc.refresh = 600;
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    uint32_t gen1, gen2, gen3;
    ck_assert(!aud_remote_quiet(g.remote, &gen1)); /* nothing fetched yet */
    ck_assert(aud_remote_refresh(g.remote));
    ck_assert(aud_remote_quiet(g.remote, &gen1));
    g.now += 599;
    ck_assert(aud_remote_quiet(g.remote, &gen2));
    ck_assert_uint_eq(gen1, gen2);
    g.now += 1;
    ck_assert(!aud_remote_quiet(g.remote, &gen2)); /* due */
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0); /* refreshes */
    ck_assert(aud_remote_quiet(g.remote, &gen2));
    ck_assert_uint_ne(gen1, gen2); /* a new document, even if the same keys */
    net_route(&g.net, JWKS_URL, NULL, -1);
    g.now += 600;
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0); /* the refresh fails; stale keys serve */
    ck_assert(!aud_remote_quiet(g.remote, &gen3)); /* stale keys: always check afresh */
    rig_free(&g);
}
END_TEST

START_TEST(refresh_below_min_interval_is_raised_to_it)
{
    rig g;
    rig_init(&g);
    g.rc.refresh = 10;
    g.rc.refresh_min = 30;
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert(aud_remote_refresh(g.remote));
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert(st.next_refresh - st.fetched_at == 30);
    rig_free(&g);
}
END_TEST

START_TEST(unknown_kid_refreshes_at_most_once_per_min_interval)
{
    rig g;
    rig_init(&g);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 1);

    /* Right after a fetch, even an unknown kid does not fetch again. */
    ck_assert_uint_eq(rig_check(&g, "random-0", false), TS_R(UNKNOWN_KEY));
    ck_assert_int_eq(net_calls(&g.net), 1);

    /* A flood: one fetch per interval, however many tokens. */
    g.now += 60;
    for (int i = 0; i < 200; i++) {
        char kid[32];
        snprintf(kid, sizeof kid, "random-%d", i);
        ck_assert_uint_eq(rig_check(&g, kid, false), TS_R(UNKNOWN_KEY));
        if (i % 50 == 49)
            g.now += 10;
    }
    ck_assert_int_eq(net_calls(&g.net), 2);
    g.now += 60;
    ck_assert_uint_eq(rig_check(&g, "random-x", false), TS_R(UNKNOWN_KEY));
    ck_assert_int_eq(net_calls(&g.net), 3);
    /* The known key kept working throughout. */
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    rig_free(&g);
}
END_TEST

/* A new key under an old kid (issue: rollover under one kid): the provider
 * replaced the key behind kid k1. A token signed with the new key failed as
 * bad_signature until the scheduled refresh, up to AudKeyRefresh later. A
 * failed signature from a source's key now triggers the same rate-limited
 * refresh as an unknown kid, and the token is checked again; a flood of bad
 * signatures still costs at most one fetch per interval. */
START_TEST(new_key_under_old_kid_is_accepted_after_the_refresh_it_triggers)
{
    rig g;
    rig_init(&g);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);

    route_jwks(&g.net, JWKS_URL, NULL, "k1", -1); /* k1 is now the other key */
    g.now += 61;
    ck_assert_uint_eq(rig_check(&g, "k1", true), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    ck_assert(ts_log_contains(&g.log, AUD_LOG_INFO, "did not verify a token's signature"));
    /* The old key is gone: its tokens now fail, and within the interval
     * that costs no further fetch however many arrive. */
    for (int i = 0; i < 50; i++)
        ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(BAD_SIGNATURE));
    ck_assert_int_eq(net_calls(&g.net), 2);
    g.now += 61;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(BAD_SIGNATURE));
    ck_assert_int_eq(net_calls(&g.net), 3);
    rig_free(&g);
}
END_TEST

START_TEST(rotation_new_kid_is_accepted_after_the_refresh_it_triggers)
{
    rig g;
    rig_init(&g);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);

    route_jwks(&g.net, JWKS_URL, "k1", "k2", -1);
    g.now += 61;
    uint32_t gen = aud_remote_generation(g.remote);
    /* The token that reveals the new kid triggers the fetch, and the
     * verifier, seeing the source's generation change, checks it once more
     * against the new set: it is accepted... */
    ck_assert_uint_eq(rig_check(&g, "k2", true), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    ck_assert_uint_ne(aud_remote_generation(g.remote), gen);
    ck_assert(ts_log_contains(&g.log, AUD_LOG_INFO, "key id not in the set"));
    /* ...and so are the next ones, old and new keys alike. */
    ck_assert_uint_eq(rig_check(&g, "k2", true), 0);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);

    /* Removal: once k1 is gone from the document, k1 tokens are refused. */
    route_jwks(&g.net, JWKS_URL, NULL, "k2", -1);
    g.now += 61;
    ck_assert(aud_remote_refresh(g.remote));
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(UNKNOWN_KEY));
    ck_assert_uint_eq(rig_check(&g, "k2", true), 0);
    rig_free(&g);
}
END_TEST

START_TEST(failures_keep_last_good_keys_until_max_stale)
{
    rig g;
    rig_init(&g);
    g.rc.refresh = 1000;
    g.rc.max_stale = 500;
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert(aud_remote_refresh(g.remote));
    double t0 = g.now;

    net_route(&g.net, JWKS_URL, NULL, -1);
    g.now = t0 + 1000; /* due; the fetch fails; stale keys serve */
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    ck_assert(ts_log_contains(&g.log, AUD_LOG_WARNING, "keeping the last good keys"));
    g.now = t0 + 1030; /* within refresh_min of the failure: no fetch */
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    g.now = t0 + 1499;
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 3);
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert_str_eq(st.state, "failing");
    ck_assert_ptr_nonnull(strstr(st.last_error, "HTTP 500"));

    g.now = t0 + 1500; /* max_stale past the refresh time: no more */
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    ck_assert(ts_log_contains(&g.log, AUD_LOG_ERROR, "no longer used"));

    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    g.now = t0 + 1560;
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    rig_status(&g, &st);
    ck_assert_str_eq(st.state, "ok");
    ck_assert_str_eq(st.last_error, "");
    rig_free(&g);
}
END_TEST

START_TEST(bad_documents_are_failures_and_keep_old_keys)
{
    static const char *const bad[] = {
        "this is not json",
        "{\"keys\":[",
        "[1,2,3]",
        "{\"no_keys\":[]}",
        "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
        /* A published HMAC secret is no key at all. */
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"}]}",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rig g;
        rig_init(&g);
        route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
        rig_start(&g);
        ck_assert(aud_remote_refresh(g.remote));
        net_route(&g.net, JWKS_URL, bad[i], -1);
        g.now += 3600;
        ck_assert_msg(rig_check(&g, "k1", false) == 0, "document %zu", i);
        aud_remote_status st;
        rig_status(&g, &st);
        ck_assert_msg(st.fetches == 2 && st.fetch_failures == 1, "document %zu: %lu fetches, %lu failures", i,
                      st.fetches, st.fetch_failures);
        ck_assert_str_eq(st.state, "failing");
        rig_free(&g);
    }
}
END_TEST

START_TEST(symmetric_keys_in_a_remote_set_are_skipped)
{
    rig g;
    rig_init(&g);
    char *rsa = jwk_of("test_rsa2048_public.pem", "k1");
    const char *oct = "{\"kty\":\"oct\",\"kid\":\"h1\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"}";
    const char *both[] = {rsa, oct};
    char *text = ts_jwks(both, 2);
    net_route(&g.net, JWKS_URL, text, -1);
    free(text);
    free(rsa);
    rig_start(&g);
    ts_env_algorithms(&g.env, AUD_ALG_BIT(AUD_ALG_RS256) | AUD_ALG_BIT(AUD_ALG_HS256));
    ck_assert(aud_remote_refresh(g.remote));
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert_uint_eq(st.keys, 1);
    ck_assert(ts_log_contains(&g.log, AUD_LOG_WARNING, "symmetric"));

    const char *secret = "secretsecretsecretsecretsecretsecret";
    char *claims = ts_good_claims();
    char *token = ts_mint_hmac(secret, strlen(secret), AUD_ALG_HS256, "{\"alg\":\"HS256\",\"kid\":\"h1\"}", claims);
    aud_result *r = ts_env_check(&g.env, token);
    ts_assert_reasons(r, TS_R(UNKNOWN_KEY));
    aud_result_free(r);
    free(token);
    free(claims);
    rig_free(&g);
}
END_TEST

START_TEST(max_stale_zero_means_no_stale_keys)
{
    rig g;
    rig_init(&g);
    g.rc.max_stale = 0;
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert(aud_remote_refresh(g.remote));
    net_route(&g.net, JWKS_URL, NULL, -1);
    g.now += 3600;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    rig_free(&g);
}
END_TEST

START_TEST(token_named_urls_are_never_fetched)
{
    rig g;
    rig_init(&g);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    route_jwks(&g.net, OTHER_URL, "evil", NULL, -1);
    rig_start(&g);
    char *token =
        token_for("evil", false, ",\"jku\":\"" OTHER_URL "\",\"x5u\":\"" OTHER_URL "\"");
    for (int i = 0; i < 3; i++) {
        aud_result *r = ts_env_check(&g.env, token);
        ts_assert_reasons(r, TS_R(UNKNOWN_KEY));
        aud_result_free(r);
        g.now += 120; /* each one may trigger a refresh of the configured URL */
    }
    free(token);
    ck_assert_int_ge(net_calls(&g.net), 1);
    for (int i = 0; i < net_calls(&g.net) && i < 16; i++)
        ck_assert_str_eq(g.net.urls[i], JWKS_URL);
    rig_free(&g);
}
END_TEST

/* ----------------------------------------------------------- discovery */

static void check_discovery(const char *given, const char *issuer, const char *metadata)
{
    char *iss = NULL, *meta = NULL;
    aud_error err = {{0}};
    ck_assert_msg(aud_remote_discovery_urls(given, &iss, &meta, &err), "%s: %s", given, err.text);
    ck_assert_str_eq(iss, issuer);
    ck_assert_str_eq(meta, metadata);
    free(iss);
    free(meta);
}

START_TEST(discovery_urls_from_issuer_or_metadata_url)
{
    check_discovery("https://idp.test", "https://idp.test", "https://idp.test/.well-known/openid-configuration");
    check_discovery("https://idp.test/", "https://idp.test/", "https://idp.test/.well-known/openid-configuration");
    check_discovery("https://idp.test/tenant/v2.0", "https://idp.test/tenant/v2.0",
                    "https://idp.test/tenant/v2.0/.well-known/openid-configuration");
    check_discovery("https://idp.test/realms/x/.well-known/openid-configuration", "https://idp.test/realms/x",
                    "https://idp.test/realms/x/.well-known/openid-configuration");
    check_discovery("https://idp.test/.well-known/openid-configuration", "https://idp.test",
                    "https://idp.test/.well-known/openid-configuration");
    check_discovery("https://idp.test/.well-known/oauth-authorization-server/tenant1", "https://idp.test/tenant1",
                    "https://idp.test/.well-known/oauth-authorization-server/tenant1");
    check_discovery("https://idp.test/.well-known/oauth-authorization-server", "https://idp.test",
                    "https://idp.test/.well-known/oauth-authorization-server");
    check_discovery("http://127.0.0.1:8080/t", "http://127.0.0.1:8080/t",
                    "http://127.0.0.1:8080/t/.well-known/openid-configuration");

    char *iss, *meta;
    aud_error err;
    ck_assert(!aud_remote_discovery_urls("http://idp.test", &iss, &meta, &err));
    ck_assert(!aud_remote_discovery_urls("https://idp.test/x?p=1", &iss, &meta, &err));
    ck_assert(!aud_remote_discovery_urls("https://idp.test/x#f", &iss, &meta, &err));
    ck_assert(!aud_remote_discovery_urls("not a url", &iss, &meta, &err));
}
END_TEST

#define ISSUER_URL "https://idp.test/tenant"
#define META_URL ISSUER_URL "/.well-known/openid-configuration"

START_TEST(discovery_takes_jwks_uri_from_the_document)
{
    rig g;
    rig_init(&g);
    g.rc.jwks_uri = NULL;
    g.rc.discovery = ISSUER_URL;
    net_route(&g.net, META_URL, "{\"issuer\":\"" ISSUER_URL "\",\"jwks_uri\":\"" JWKS_URL "\"}", -1);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, 120);
    rig_start(&g);
    ck_assert_str_eq(aud_remote_issuer(g.remote), ISSUER_URL);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    ck_assert_int_eq(net_calls(&g.net), 2);
    ck_assert_str_eq(g.net.urls[0], META_URL);
    ck_assert_str_eq(g.net.urls[1], JWKS_URL);
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert(st.next_refresh - st.fetched_at == 120); /* the key set's max-age */
    rig_free(&g);
}
END_TEST

START_TEST(discovery_with_a_foreign_issuer_uses_no_keys)
{
    rig g;
    rig_init(&g);
    g.rc.jwks_uri = NULL;
    g.rc.discovery = ISSUER_URL;
    net_route(&g.net, META_URL, "{\"issuer\":\"" ISSUER_URL "\",\"jwks_uri\":\"" JWKS_URL "\"}", -1);
    route_jwks(&g.net, JWKS_URL, "k1", NULL, -1);
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);

    /* Even a trailing slash is a different issuer. The good keys from
     * before are dropped too: the document no longer vouches for them. */
    net_route(&g.net, META_URL, "{\"issuer\":\"" ISSUER_URL "/\",\"jwks_uri\":\"" JWKS_URL "\"}", -1);
    g.now += 3600;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    ck_assert(ts_log_contains(&g.log, AUD_LOG_ERROR, "is not the configured issuer"));
    ck_assert_int_eq(net_calls(&g.net), 3); /* the key set was not fetched */
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert_str_eq(st.state, "refused");

    /* A jwks_uri over plain http to a non-loopback host is refused too. */
    net_route(&g.net, META_URL, "{\"issuer\":\"" ISSUER_URL "\",\"jwks_uri\":\"http://idp.test/keys\"}", -1);
    g.now += 60;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    rig_status(&g, &st);
    ck_assert_ptr_nonnull(strstr(st.last_error, "https is required"));

    net_route(&g.net, META_URL, "{\"jwks_uri\":\"" JWKS_URL "\"}", -1);
    g.now += 60;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    rig_status(&g, &st);
    ck_assert_ptr_nonnull(strstr(st.last_error, "(missing)"));
    rig_free(&g);
}
END_TEST

START_TEST(configuration_errors_are_reported_at_creation)
{
    static const char *const bad[] = {
        "http://idp.test/keys",   "ftp://127.0.0.1/keys",   "not a url", "", "https://",
        "https://user:pw@idp.test/keys", "http://127.0.0.1.example/keys", "http://localhost.evil.test/k",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aud_remote_config rc;
        aud_error err = {{0}};
        aud_remote_config_init(&rc);
        rc.jwks_uri = bad[i];
        rc.now = ts_clock;
        ck_assert_msg(aud_remote_create(&rc, &err) == NULL, "'%s' was accepted", bad[i]);
        ck_assert_msg(err.text[0] != '\0', "'%s': no reason", bad[i]);
    }
    aud_remote_config rc;
    aud_error err;
    aud_remote_config_init(&rc);
    rc.now = ts_clock;
    ck_assert_ptr_null(aud_remote_create(&rc, &err)); /* neither URL */
    rc.jwks_uri = JWKS_URL;
    rc.discovery = ISSUER_URL;
    ck_assert_ptr_null(aud_remote_create(&rc, &err)); /* both */
}
END_TEST

START_TEST(url_rules)
{
    static const char *const good[] = {
        "https://idp.test/keys", "http://127.0.0.1:8080/keys", "http://127.9.8.7/k", "http://[::1]:99/k",
        "http://localhost/k",    "http://LOCALHOST:1/k",       "HTTPS://IDP.TEST/k",
    };
    aud_error err;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(aud_fetch_url_check(good[i], &err), "%s: %s", good[i], err.text);
    ck_assert(aud_fetch_url_is_loopback("http://127.0.0.1:8080/keys"));
    ck_assert(aud_fetch_url_is_loopback("https://[::1]/keys"));
    ck_assert(!aud_fetch_url_is_loopback("https://idp.test/keys"));
    ck_assert(!aud_fetch_url_check("http://128.0.0.1/k", &err));
    ck_assert(!aud_fetch_url_check("http://[::2]/k", &err));
    ck_assert(!aud_fetch_url_check("file:///etc/passwd", &err));
    ck_assert(!aud_fetch_url_check("https://idp.test/a b", &err));

    ck_assert(aud_fetch_redirect_check("https://idp.test/k", "https://cdn.idp.test/k", &err));
    ck_assert(aud_fetch_redirect_check("http://127.0.0.1:1/k", "http://localhost:2/k", &err));
    ck_assert(aud_fetch_redirect_check("http://127.0.0.1:1/k", "https://idp.test/k", &err));
    ck_assert(!aud_fetch_redirect_check("https://idp.test/k", "http://idp.test/k", &err));
    ck_assert(!aud_fetch_redirect_check("https://127.0.0.1/k", "http://127.0.0.1/k", &err));
    ck_assert_ptr_nonnull(strstr(err.text, "https to plain http"));
    ck_assert(!aud_fetch_redirect_check("https://idp.test/k", "https://127.0.0.1/admin", &err));
    ck_assert_ptr_nonnull(strstr(err.text, "loopback"));
    ck_assert(!aud_fetch_redirect_check("https://idp.test/k", "file:///etc/passwd", &err));
}
END_TEST

/* ------------------------------------------------- shared store, threads */

typedef struct {
    pthread_mutex_t mu;
} test_lock;

static bool tl_lock(void *b)
{
    return pthread_mutex_lock(&((test_lock *)b)->mu) == 0;
}

static void tl_unlock(void *b)
{
    pthread_mutex_unlock(&((test_lock *)b)->mu);
}

/* Two source objects over one store, as two child processes over shared
 * memory, with a fake network serving a set with kid k1. */
typedef struct {
    fake_net net;
    void *mem;
    test_lock tl;
    aud_remote_store store;
    double now;
    aud_remote *a, *b;
} shared_pair;

static void shared_pair_open(shared_pair *sp)
{
    net_init(&sp->net);
    route_jwks(&sp->net, JWKS_URL, "k1", NULL, -1);
    sp->mem = malloc(aud_remote_store_size());
    ck_assert_ptr_nonnull(sp->mem);
    aud_remote_store_init(sp->mem);
    pthread_mutex_init(&sp->tl.mu, NULL);
    sp->store = (aud_remote_store){sp->mem, tl_lock, tl_unlock, &sp->tl};
    sp->now = TS_NOW;
    aud_remote_config rc;
    aud_remote_config_init(&rc);
    rc.jwks_uri = JWKS_URL;
    rc.now = ts_clock;
    rc.now_baton = &sp->now;
    rc.fetch = fake_fetch;
    rc.fetch_baton = &sp->net;
    rc.store = &sp->store;
    aud_error err;
    sp->a = aud_remote_create(&rc, &err);
    sp->b = aud_remote_create(&rc, &err);
    ck_assert_ptr_nonnull(sp->a);
    ck_assert_ptr_nonnull(sp->b);
}

static void shared_pair_close(shared_pair *sp)
{
    aud_remote_destroy(sp->a);
    aud_remote_destroy(sp->b);
    pthread_mutex_destroy(&sp->tl.mu);
    free(sp->mem);
    net_free(&sp->net);
}

/* Pins: aud_remote_quiet answers from a lock-free snapshot on the token
 * cache's hit path (issue 12); that snapshot must end the moment another
 * process changes the shared store, or cached verdicts would outlive a key
 * change made there. */
START_TEST(quiet_ends_when_another_process_changes_the_store)
{
    shared_pair sp;
    shared_pair_open(&sp);
    uint32_t first, again, later;

    ck_assert(aud_remote_refresh(sp.a));
    ck_assert(aud_remote_quiet(sp.a, &first));
    ck_assert(aud_remote_quiet(sp.a, &again)); /* from the snapshot */
    ck_assert_uint_eq(first, again);
    /* b sees a new kid once AudKeyRefreshMin has passed, long before the
     * scheduled refresh, and fetches the new set into the store. */
    route_jwks(&sp.net, JWKS_URL, "k2", NULL, -1);
    sp.now += 61;
    ck_assert(aud_remote_quiet(sp.a, &again));
    aud_key_source sb = aud_remote_key_source(sp.b);
    sb.kid_missing(sb.baton, "k2");
    ck_assert_int_eq(sp.net.calls, 2);
    ck_assert(!aud_remote_quiet(sp.a, &again));
    aud_key_source sa = aud_remote_key_source(sp.a);
    const aud_keyset *ka = sa.acquire(sa.baton, &ts_ignored_generation); /* takes the new document in */
    ck_assert_ptr_nonnull(ka);
    sa.release(sa.baton, ka);
    ck_assert(aud_remote_quiet(sp.a, &later));
    ck_assert_uint_ne(first, later);
    shared_pair_close(&sp);
}
END_TEST

/* One fetch serves both. */
START_TEST(one_store_one_fetch_for_every_user)
{
    shared_pair sp;
    shared_pair_open(&sp);
    aud_remote *a = sp.a, *b = sp.b;
    aud_key_source sa = aud_remote_key_source(a), sb = aud_remote_key_source(b);

    const aud_keyset *ka = sa.acquire(sa.baton, &ts_ignored_generation);
    ck_assert_ptr_nonnull(ka);
    const aud_keyset *kb = sb.acquire(sb.baton, &ts_ignored_generation);
    ck_assert_ptr_nonnull(kb);
    ck_assert_ptr_ne(ka, kb); /* each parsed its own copy */
    ck_assert_int_eq(sp.net.calls, 1);
    sa.release(sa.baton, ka);
    sb.release(sb.baton, kb);

    /* A kid miss in b right after a's fetch costs nothing. */
    sb.kid_missing(sb.baton, "nope");
    ck_assert_int_eq(sp.net.calls, 1);

    /* b refreshes on a kid miss later; a sees the new document. */
    route_jwks(&sp.net, JWKS_URL, "k1", "k2", -1);
    sp.now += 60;
    uint32_t gen = aud_remote_generation(a);
    sb.kid_missing(sb.baton, "k2");
    ck_assert_int_eq(sp.net.calls, 2);
    ck_assert_uint_ne(aud_remote_generation(a), gen);
    ka = sa.acquire(sa.baton, &ts_ignored_generation);
    ck_assert_uint_eq(aud_keyset_count(ka), 2);
    sa.release(sa.baton, ka);
    ck_assert_int_eq(sp.net.calls, 2);

    shared_pair_close(&sp);
}
END_TEST

typedef struct {
    double *now;
    aud_key_source src;
} late_reader;

/* Another user of the store whose clock reading is a little older than the
 * claim of the fetch in progress, as when it read the clock just before the
 * fetching thread took the lock. */
static void kid_miss_from_the_past(void *baton)
{
    late_reader *lr = baton;
    *lr->now -= 0.5;
    lr->src.kid_missing(lr->src.baton, "k9");
}

START_TEST(a_reading_taken_before_a_claim_does_not_start_a_second_fetch)
{
    shared_pair sp;
    shared_pair_open(&sp);
    aud_remote *a = sp.a, *b = sp.b;
    late_reader lr = {&sp.now, aud_remote_key_source(b)};
    sp.net.during = kid_miss_from_the_past;
    sp.net.during_baton = &lr;
    ck_assert(aud_remote_refresh(a));
    ck_assert_int_eq(sp.net.calls, 1);
    ck_assert_int_eq(sp.net.max_in_flight, 1);
    shared_pair_close(&sp);
}
END_TEST

/* A clock that moves on by a microsecond at every reading, shared by
 * threads: time passes with work done, not with the machine's speed. */
static _Atomic long ticks;
static double ticking_clock(void *baton)
{
    return TS_NOW + (double)atomic_fetch_add(&ticks, 1) / 1e6;
}

typedef struct {
    aud_key_source src;
    int rounds;
    int got, missed;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        const aud_keyset *set = w->src.acquire(w->src.baton, &ts_ignored_generation);
        if (set == NULL) {
            w->missed++;
            continue;
        }
        /* Use the set as a check would, while others may replace it. */
        if (aud_keyset_count(set) >= 1 && aud_key_kid(aud_keyset_key(set, 0)) != NULL)
            w->got++;
        if (i % 7 == 0)
            w->src.kid_missing(w->src.baton, "rotated");
        w->src.release(w->src.baton, set);
    }
    return NULL;
}

START_TEST(many_threads_share_one_fetch_at_a_time)
{
    fake_net net;
    net_init(&net);
    net.delay_ms = 2;
    route_jwks(&net, JWKS_URL, "k1", "k2", -1);
    atomic_store(&ticks, 0);
    aud_remote_config rc;
    aud_remote_config_init(&rc);
    rc.jwks_uri = JWKS_URL;
    rc.now = ticking_clock;
    rc.refresh_min = 0.001; /* a thousand clock readings */
    rc.fetch = fake_fetch;
    rc.fetch_baton = &net;
    aud_error err;
    aud_remote *r = aud_remote_create(&rc, &err);
    ck_assert_ptr_nonnull(r);
    ck_assert(aud_remote_refresh(r));

    enum { N = 8 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){aud_remote_key_source(r), 3000, 0, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    int got = 0, missed = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        got += w[i].got;
        missed += w[i].missed;
    }
    ck_assert_int_eq(missed, 0);
    ck_assert_int_eq(got, N * 3000);
    ck_assert_int_gt(net.calls, 1);     /* refreshes did happen meanwhile */
    ck_assert_int_eq(net.max_in_flight, 1); /* never two at once */
    /* Readings are at least 1000 per fetch (refresh_min). */
    ck_assert_int_le(net.calls, (int)(atomic_load(&ticks) / 1000) + 1);
    aud_remote_destroy(r);
    net_free(&net);
}
END_TEST

typedef struct {
    aud_key_source src;
    const aud_keyset *set;
    double elapsed;
} waiter;

static double real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *wait_for_keys(void *arg)
{
    waiter *w = arg;
    double t = real_now();
    w->set = w->src.acquire(w->src.baton, &ts_ignored_generation);
    w->elapsed = real_now() - t;
    return NULL;
}

/* Checks that arrive while the very first fetch is in progress wait for it
 * (rather than failing at once), but never longer than the fetch timeout. */
static void first_fetch_race(long delay_ms, double timeout, bool expect_keys)
{
    fake_net net;
    net_init(&net);
    net.delay_ms = delay_ms;
    route_jwks(&net, JWKS_URL, "k1", NULL, -1);
    double now = TS_NOW;
    aud_remote_config rc;
    aud_remote_config_init(&rc);
    rc.jwks_uri = JWKS_URL;
    rc.now = ts_clock;
    rc.now_baton = &now;
    rc.fetch = fake_fetch;
    rc.fetch_baton = &net;
    rc.fetch_timeout = timeout;
    aud_error err;
    aud_remote *r = aud_remote_create(&rc, &err);
    ck_assert_ptr_nonnull(r);

    enum { N = 4 };
    pthread_t th[N];
    waiter w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (waiter){aud_remote_key_source(r), NULL, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, wait_for_keys, &w[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int with_keys = 0;
    for (int i = 0; i < N; i++) {
        /* Generous: the bound is the timeout, the margin is for slow CI. */
        ck_assert_msg(w[i].elapsed < timeout + 5.0, "waited %.1f s", w[i].elapsed);
        if (w[i].set != NULL) {
            with_keys++;
            w[i].src.release(w[i].src.baton, w[i].set);
        }
    }
    ck_assert_int_eq(net.calls, 1);
    if (expect_keys)
        ck_assert_int_eq(with_keys, N);
    else
        ck_assert_int_le(with_keys, 1); /* only the fetching thread itself */
    aud_remote_destroy(r);
    net_free(&net);
}

START_TEST(checks_wait_for_the_first_fetch)
{
    first_fetch_race(300, 5.0, true);
}
END_TEST

START_TEST(waiting_for_a_hung_first_fetch_is_bounded)
{
    /* The fake fetch ignores its deadline and takes 3 s; waiters give up
     * after the 0.5 s timeout. */
    first_fetch_race(3000, 0.5, false);
}
END_TEST


/* Pins: every spelling of this host's own addresses is loopback, by name
 * (the config-time URL rules) and by address (what a connection reached).
 * Before, 0.0.0.0, [::], 0, [::ffff:127.0.0.1], [::ffff:7f00:1] and
 * localhost. counted as remote, so a remote server could redirect there. */
START_TEST(loopback_in_every_spelling)
{
    static const char *const addresses[] = {"127.0.0.1", "127.255.0.9", "0.0.0.0", "::1", "::", "::ffff:127.0.0.1",
                                            "::ffff:7f00:1", "::ffff:0.0.0.0", "::127.0.0.1", "0:0:0:0:0:0:0:1"};
    for (size_t i = 0; i < sizeof addresses / sizeof addresses[0]; i++)
        ck_assert_msg(aud_fetch_addr_is_loopback(addresses[i]), "%s", addresses[i]);
    static const char *const remote[] = {"192.0.2.7", "198.51.100.1", "1.0.0.0", "128.0.0.1", "0.0.0.1", "::2",
                                         "::ffff:192.0.2.7", "fe80::1", "2001:db8::1", "::ffff:128.0.0.1",
                                         "localhost", "", "127.0.0.1.", "[::1]", NULL};
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        ck_assert_msg(!aud_fetch_addr_is_loopback(remote[i]), "%s", remote[i] ? remote[i] : "NULL");

    static const char *const urls[] = {
        "https://127.0.0.1:8443/k", "https://0.0.0.0:8443/k", "https://0:8443/k", "https://[::]:8443/k",
        "https://[::1]/k", "https://[::ffff:127.0.0.1]:8443/k", "https://[::ffff:7f00:1]:8443/k",
        "https://localhost./k", "https://LOCALHOST/k", "https://keys.localhost/k", "https://keys.localhost./k",
        "https://0x7f.1/k", "https://2130706433/k", "https://127.1/k", "http://0.0.0.0:8080/k",
        "http://[::ffff:127.0.0.1]:8080/k", "http://localhost.:8080/k",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        aud_error err = {{0}};
        ck_assert_msg(aud_fetch_url_check(urls[i], &err), "%s: %s", urls[i], err.text);
        ck_assert_msg(aud_fetch_url_is_loopback(urls[i]), "%s", urls[i]);
        /* And so a remote host may not redirect there. */
        ck_assert_msg(!aud_fetch_redirect_check("https://idp.test/k", urls[i], &err), "%s", urls[i]);
    }
    static const char *const not_loopback[] = {"https://localhost.evil.test/k", "https://evillocalhost/k",
                                               "https://[::ffff:192.0.2.7]/k", "https://0.0.0.1/k",
                                               "https://localhost../k"};
    for (size_t i = 0; i < sizeof not_loopback / sizeof not_loopback[0]; i++)
        ck_assert_msg(!aud_fetch_url_is_loopback(not_loopback[i]), "%s", not_loopback[i]);
}
END_TEST

/* Fails the test if text holds a control, separator or bidi character. */
static void assert_printable(const char *what, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        ck_assert_msg(*p >= 0x20 && *p != 0x7f, "%s: control byte %u in: %s", what, *p, text);
        ck_assert_msg(!(p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae), "%s: bidi in: %s", what,
                      text);
    }
}

/* Pins: the strings a discovery document or a redirect supplies (issuer,
 * jwks_uri, Location) reach messages only through aud_text_quote; before,
 * the foreign issuer was quoted raw (up to 120 bytes). */
START_TEST(hostile_document_strings_are_sanitised_in_messages)
{
    char tail[1001];
    memset(tail, 'A', 1000);
    tail[1000] = '\0';
    char *doc = ts_fmt("{\"issuer\":\"x\\r\\nE forged\\u202e\\u2028%s\",\"jwks_uri\":\"" JWKS_URL "\"}", tail);
    rig g;
    rig_init(&g);
    g.rc.jwks_uri = NULL;
    g.rc.discovery = ISSUER_URL;
    net_route(&g.net, META_URL, doc, -1);
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert_msg(strstr(st.last_error, "issuer 'x??E forged??AAA") != NULL, "%s", st.last_error);
    assert_printable("status", st.last_error);
    for (size_t i = 0; i < g.log.count; i++)
        assert_printable("log", g.log.messages[i]);
    free(doc);

    /* A jwks_uri that libcurl takes but that holds a bidi override. */
    net_route(&g.net, META_URL, "{\"issuer\":\"" ISSUER_URL "\",\"jwks_uri\":\"https://idp.test/\\u202ekeys\"}", -1);
    g.now += 3600;
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    rig_status(&g, &st);
    ck_assert_msg(strstr(st.last_error, "https://idp.test/?keys: could not connect") != NULL, "%s", st.last_error);
    for (size_t i = 0; i < g.log.count; i++)
        assert_printable("log", g.log.messages[i]);
    rig_free(&g);

    /* URLs refused at configuration or in a redirect. */
    static const char *const urls[] = {"https://a\xe2\x80\xae.test/\x1b[31m", "http://idp.test/\xe2\x80\xaekeys",
                                       "ftp://x\r\nE forged"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        aud_error err = {{0}};
        ck_assert(!aud_fetch_url_check(urls[i], &err));
        assert_printable("url check", err.text);
        ck_assert(!aud_fetch_redirect_check("https://idp.test/k", urls[i], &err));
        assert_printable("redirect check", err.text);
    }
    aud_error err = {{0}};
    ck_assert(!aud_fetch_redirect_check("https://idp.test/k", "http://\xe2\x80\xae" "127.0.0.1/", &err));
    assert_printable("redirect to http", err.text);
    /* A password is never repeated. */
    ck_assert(!aud_fetch_url_check("https://user:s3cret@idp.test/keys", &err));
    ck_assert_msg(strstr(err.text, "s3cret") == NULL, "%s", err.text);
}
END_TEST

/* Pins: a discovery document from a remote host cannot name a loopback
 * jwks_uri (the redirect rule, for a URL inside a document). */
START_TEST(remote_discovery_document_cannot_name_a_loopback_jwks_uri)
{
    static const char *const uris[] = {"https://127.0.0.1:8443/keys", "https://0.0.0.0:8443/keys",
                                       "https://[::ffff:127.0.0.1]:8443/keys", "http://localhost.:8080/keys"};
    for (size_t i = 0; i < sizeof uris / sizeof uris[0]; i++) {
        rig g;
        rig_init(&g);
        g.rc.jwks_uri = NULL;
        g.rc.discovery = ISSUER_URL;
        char *doc = ts_fmt("{\"issuer\":\"" ISSUER_URL "\",\"jwks_uri\":\"%s\"}", uris[i]);
        net_route(&g.net, META_URL, doc, -1);
        route_jwks(&g.net, uris[i], "k1", NULL, -1);
        rig_start(&g);
        ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
        ck_assert_int_eq(net_calls(&g.net), 1); /* the loopback URL was never asked for */
        aud_remote_status st;
        rig_status(&g, &st);
        ck_assert_msg(strstr(st.last_error, "a document from a remote host names a loopback one") != NULL, "%s",
                      st.last_error);
        free(doc);
        rig_free(&g);
    }
}
END_TEST

/* --------------------------------------------- fetch over real loopback */

/* A one-connection-at-a-time HTTP server on 127.0.0.1 in a child process
 * that dies with the test. Paths:
 *   /jwks          200, a JWKS, Cache-Control: public, max-age=123
 *   /nostore       200, a JWKS, Cache-Control: no-store
 *   /big           200, 2 MiB without Content-Length
 *   /bigcl         200, Content-Length 2 MiB
 *   /500           500
 *   /garbage       200, not JSON
 *   /r/N           302 to /r/N-1; /r/0 302 to /jwks
 *   /away          302 to http://example.invalid/keys (not loopback)
 *   /slow          answers after 30 s
 */
typedef struct {
    pid_t pid;
    int port;
} server;

static void write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, const char *status, const char *headers, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nConnection: close\r\n%s\r\n", status, headers);
    write_all(fd, head, (size_t)n);
    if (body != NULL)
        write_all(fd, body, len);
}

static void serve(int lfd, const char *jwks)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        /* A client that sends no HTTP request (a TLS handshake) gets an
         * answer anyway, rather than holding the server. */
        struct timeval tv = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char req[4096];
        size_t have = 0;
        while (have < sizeof req - 1) {
            ssize_t n = read(fd, req + have, sizeof req - 1 - have);
            if (n <= 0)
                break;
            have += (size_t)n;
            req[have] = '\0';
            if (strstr(req, "\r\n\r\n") != NULL)
                break;
        }
        req[have] = '\0';
        char path[256] = "";
        sscanf(req, "GET %255s", path);
        char hdr[256];
        if (strcmp(path, "/jwks") == 0) {
            snprintf(hdr, sizeof hdr, "Content-Type: application/json\r\nCache-Control: public, max-age=123\r\n"
                                      "Content-Length: %zu\r\n", strlen(jwks));
            respond(fd, "200 OK", hdr, jwks, strlen(jwks));
        } else if (strcmp(path, "/nostore") == 0) {
            snprintf(hdr, sizeof hdr, "Cache-Control: no-store\r\nContent-Length: %zu\r\n", strlen(jwks));
            respond(fd, "200 OK", hdr, jwks, strlen(jwks));
        } else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigcl") == 0) {
            size_t len = 2 * 1024 * 1024;
            char *big = malloc(len);
            if (big != NULL) {
                memset(big, ' ', len);
                big[0] = '{';
                snprintf(hdr, sizeof hdr, "%s", "");
                if (strcmp(path, "/bigcl") == 0)
                    snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\n", len);
                respond(fd, "200 OK", hdr, big, len);
                free(big);
            }
        } else if (strcmp(path, "/500") == 0) {
            respond(fd, "500 Internal Server Error", "Content-Length: 5\r\n", "oops\n", 5);
        } else if (strcmp(path, "/garbage") == 0) {
            respond(fd, "200 OK", "Content-Length: 9\r\n", "<html>hi\n", 9);
        } else if (strncmp(path, "/r/", 3) == 0) {
            int n = atoi(path + 3);
            if (n > 0)
                snprintf(hdr, sizeof hdr, "Location: /r/%d\r\nContent-Length: 0\r\n", n - 1);
            else
                snprintf(hdr, sizeof hdr, "Location: /jwks\r\nContent-Length: 0\r\n");
            respond(fd, "302 Found", hdr, NULL, 0);
        } else if (strcmp(path, "/away") == 0) {
            respond(fd, "302 Found", "Location: http://example.invalid/keys\r\nContent-Length: 0\r\n", NULL, 0);
        } else if (strcmp(path, "/slow") == 0) {
            sleep(30);
            respond(fd, "200 OK", "Content-Length: 2\r\n", "{}", 2);
        } else {
            respond(fd, "404 Not Found", "Content-Length: 0\r\n", NULL, 0);
        }
        close(fd);
    }
}

static server server_start(void)
{
    server s = {0, 0};
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    socklen_t alen = sizeof addr;
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
    s.port = ntohs(addr.sin_port);
    char *jwks = jwks_of("k1", NULL); /* before fork: the child must not assert */
    s.pid = fork();
    ck_assert_int_ge(s.pid, 0);
    if (s.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        signal(SIGPIPE, SIG_IGN); /* clients that stop reading early */
        alarm(120); /* a backstop should the test process vanish oddly */
        serve(lfd, jwks);
        _exit(0);
    }
    free(jwks);
    close(lfd);
    return s;
}

static void server_stop(server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

static bool fetch_path(const server *s, const char *path, double timeout, aud_fetch_response *resp, aud_error *err)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    aud_fetch_options opt = {timeout, NULL};
    memset(err, 0, sizeof *err);
    return aud_fetch_get(url, &opt, resp, err);
}

START_TEST(fetch_gets_body_and_max_age)
{
    server s = server_start();
    aud_fetch_response resp;
    aud_error err;
    ck_assert_msg(fetch_path(&s, "/jwks", 10, &resp, &err), "%s", err.text);
    ck_assert_ptr_nonnull(strstr(resp.body, "\"keys\""));
    ck_assert_uint_eq(resp.len, strlen(resp.body));
    ck_assert(resp.max_age == 123);
    aud_fetch_response_free(&resp);

    ck_assert_msg(fetch_path(&s, "/nostore", 10, &resp, &err), "%s", err.text);
    ck_assert(resp.max_age == 0);
    aud_fetch_response_free(&resp);

    /* Three redirects are fine. */
    ck_assert_msg(fetch_path(&s, "/r/2", 10, &resp, &err), "%s", err.text);
    ck_assert_ptr_nonnull(strstr(resp.body, "\"keys\""));
    aud_fetch_response_free(&resp);
    server_stop(&s);
}
END_TEST

START_TEST(fetch_failures)
{
    server s = server_start();
    aud_fetch_response resp;
    aud_error err;

    ck_assert(!fetch_path(&s, "/500", 10, &resp, &err));
    ck_assert_ptr_nonnull(strstr(err.text, "HTTP 500"));
    ck_assert(!fetch_path(&s, "/nothing-here", 10, &resp, &err));
    ck_assert_ptr_nonnull(strstr(err.text, "HTTP 404"));
    ck_assert(!fetch_path(&s, "/big", 10, &resp, &err));
    ck_assert_msg(strstr(err.text, "larger than 1048576") != NULL, "%s", err.text);
    ck_assert(!fetch_path(&s, "/bigcl", 10, &resp, &err));
    ck_assert_msg(strstr(err.text, "larger than 1048576") != NULL, "%s", err.text);
    ck_assert(!fetch_path(&s, "/r/3", 10, &resp, &err));
    ck_assert_msg(strstr(err.text, "more than 3 redirects") != NULL, "%s", err.text);
    /* Refused before any connection is made to it. */
    ck_assert(!fetch_path(&s, "/away", 10, &resp, &err));
    ck_assert_msg(strstr(err.text, "refused redirect") != NULL && strstr(err.text, "https is required") != NULL,
                  "%s", err.text);

    /* TLS to a server that does not speak it fails; it is never downgraded. */
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/jwks", s.port);
    aud_fetch_options opt = {10, NULL};
    ck_assert(!aud_fetch_get(url, &opt, &resp, &err));

    /* Plain http to anything but loopback is refused without a connection. */
    ck_assert(!aud_fetch_get("http://example.invalid/keys", &opt, &resp, &err));
    ck_assert_ptr_nonnull(strstr(err.text, "https is required"));
    server_stop(&s);

    /* Nobody listening any more. */
    ck_assert(!fetch_path(&s, "/jwks", 10, &resp, &err));
}
END_TEST

START_TEST(fetch_of_a_slow_server_is_bounded_by_the_timeout)
{
    server s = server_start();
    aud_fetch_response resp;
    aud_error err;
    double t = real_now();
    ck_assert(!fetch_path(&s, "/slow", 0.5, &resp, &err));
    double elapsed = real_now() - t;
    ck_assert_msg(strstr(err.text, "no complete answer") != NULL, "%s", err.text);
    ck_assert_msg(elapsed < 10, "took %.1f s", elapsed); /* the server would take 30 */
    server_stop(&s);
}
END_TEST

/* The whole chain: the real fetcher, parsing, the verifier. */
START_TEST(remote_over_loopback_end_to_end)
{
    server s = server_start();
    char url[128], garbage[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks", s.port);
    snprintf(garbage, sizeof garbage, "http://127.0.0.1:%d/garbage", s.port);

    rig g;
    rig_init(&g);
    g.rc.fetch = NULL;
    g.rc.jwks_uri = url;
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), 0);
    aud_remote_status st;
    rig_status(&g, &st);
    ck_assert(st.next_refresh - st.fetched_at == 123);
    rig_free(&g);

    rig_init(&g);
    g.rc.fetch = NULL;
    g.rc.jwks_uri = garbage;
    rig_start(&g);
    ck_assert_uint_eq(rig_check(&g, "k1", false), TS_R(KEYS_UNAVAILABLE));
    rig_status(&g, &st);
    ck_assert_msg(strstr(st.last_error, "not a JSON object") != NULL, "%s", st.last_error);
    rig_free(&g);
    server_stop(&s);
}
END_TEST

/* Pins: start-up fetches every source at once (aud_remote_refresh_all), so
 * sources behind a server that accepts connections and never answers cost
 * about one fetch timeout in all, not one each. Before, 20 of them with a
 * 1 s timeout held start-up for 20 s. */
#define HUNG_SOURCES 20
START_TEST(refresh_all_waits_once_for_many_hung_sources)
{
    /* Listening, never accepting: connections complete in the backlog and
     * no answer ever comes. */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(lfd, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(lfd, 128), 0);
    socklen_t alen = sizeof addr;
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);

    static char urls[HUNG_SOURCES][64];
    aud_remote *remotes[HUNG_SOURCES];
    double now = TS_NOW;
    ts_log log;
    ts_log_init(&log);
    for (int i = 0; i < HUNG_SOURCES; i++) {
        aud_remote_config rc;
        aud_error err = {{0}};
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d/k%d", ntohs(addr.sin_port), i);
        aud_remote_config_init(&rc);
        rc.jwks_uri = urls[i];
        rc.fetch_timeout = 1.0;
        rc.now = ts_clock;
        rc.now_baton = &now;
        rc.logger = ts_log_logger(&log);
        remotes[i] = aud_remote_create(&rc, &err);
        ck_assert_msg(remotes[i] != NULL, "%s", err.text);
    }

    double t = real_now();
    aud_remote_refresh_all(remotes, HUNG_SOURCES);
    double elapsed = real_now() - t;

    /* One after the other would be 20 s; the slack is for a loaded host. */
    ck_assert_msg(elapsed < 6.0, "%d hung sources took %.1f s", HUNG_SOURCES, elapsed);
    for (int i = 0; i < HUNG_SOURCES; i++) {
        aud_remote_status st;
        aud_remote_get_status(remotes[i], &st);
        ck_assert_uint_eq(st.fetches, 1);
        ck_assert(!st.usable);
        ck_assert_msg(strstr(st.last_error, "no complete answer") != NULL, "source %d: %s", i, st.last_error);
        aud_remote_destroy(remotes[i]);
    }
    ck_assert_uint_eq(ts_log_count_level(&log, AUD_LOG_WARNING), HUNG_SOURCES);
    ts_log_free(&log);
    close(lfd);
}
END_TEST

/* The same with answers: every source gets its keys, the fetches overlap,
 * and a source listed twice is fetched once. */
START_TEST(refresh_all_fetches_every_source_concurrently)
{
    fake_net net;
    net_init(&net);
    net.delay_ms = 300;
    static const char *const urls[] = {"https://a.test/k", "https://b.test/k", "https://c.test/k",
                                       "https://d.test/k"};
    enum { N = sizeof urls / sizeof urls[0] };
    aud_remote *remotes[N + 1];
    double now = TS_NOW;
    for (int i = 0; i < N; i++) {
        aud_remote_config rc;
        aud_error err = {{0}};
        route_jwks(&net, urls[i], "k1", NULL, -1);
        aud_remote_config_init(&rc);
        rc.jwks_uri = urls[i];
        rc.now = ts_clock;
        rc.now_baton = &now;
        rc.fetch = fake_fetch;
        rc.fetch_baton = &net;
        remotes[i] = aud_remote_create(&rc, &err);
        ck_assert_msg(remotes[i] != NULL, "%s", err.text);
    }
    remotes[N] = remotes[0];
    aud_remote_refresh_all(remotes, N + 1);
    ck_assert_int_eq(net_calls(&net), N);
    ck_assert_int_gt(net.max_in_flight, 1);
    for (int i = 0; i < N; i++) {
        aud_remote_status st;
        aud_remote_get_status(remotes[i], &st);
        ck_assert_msg(st.usable && st.keys == 1, "source %d: %s", i, st.last_error);
        aud_remote_destroy(remotes[i]);
    }
    aud_remote_refresh_all(NULL, 0); /* nothing to do is fine */
    net_free(&net);
}
END_TEST

Suite *suite_remote(void)
{
    Suite *s = suite_create("remote");
    TCase *policy = tcase_create("policy");
    tcase_add_test(policy, first_use_fetches_once_then_serves_from_memory);
    tcase_add_test(policy, never_fetched_is_keys_unavailable_and_retried_after_min_interval);
    tcase_add_test(policy, refresh_happens_when_due_and_not_before);
    tcase_add_test(policy, cache_control_max_age_is_honoured_within_bounds);
    tcase_add_test(policy, refresh_below_min_interval_is_raised_to_it);
    tcase_add_test(policy, quiet_only_while_the_same_keys_are_current);
    tcase_add_test(policy, unknown_kid_refreshes_at_most_once_per_min_interval);
    tcase_add_test(policy, rotation_new_kid_is_accepted_after_the_refresh_it_triggers);
    tcase_add_test(policy, new_key_under_old_kid_is_accepted_after_the_refresh_it_triggers);
    tcase_add_test(policy, failures_keep_last_good_keys_until_max_stale);
    tcase_add_test(policy, bad_documents_are_failures_and_keep_old_keys);
    tcase_add_test(policy, symmetric_keys_in_a_remote_set_are_skipped);
    tcase_add_test(policy, max_stale_zero_means_no_stale_keys);
    tcase_add_test(policy, token_named_urls_are_never_fetched);
    tcase_add_test(policy, discovery_urls_from_issuer_or_metadata_url);
    tcase_add_test(policy, discovery_takes_jwks_uri_from_the_document);
    tcase_add_test(policy, discovery_with_a_foreign_issuer_uses_no_keys);
    tcase_add_test(policy, configuration_errors_are_reported_at_creation);
    tcase_add_test(policy, url_rules);
    tcase_add_test(policy, loopback_in_every_spelling);
    tcase_add_test(policy, hostile_document_strings_are_sanitised_in_messages);
    tcase_add_test(policy, remote_discovery_document_cannot_name_a_loopback_jwks_uri);
    suite_add_tcase(s, policy);

    TCase *threads = tcase_create("threads");
    tcase_add_test(threads, one_store_one_fetch_for_every_user);
    tcase_add_test(threads, quiet_ends_when_another_process_changes_the_store);
    tcase_add_test(threads, a_reading_taken_before_a_claim_does_not_start_a_second_fetch);
    tcase_add_test(threads, many_threads_share_one_fetch_at_a_time);
    tcase_add_test(threads, checks_wait_for_the_first_fetch);
    tcase_add_test(threads, waiting_for_a_hung_first_fetch_is_bounded);
    suite_add_tcase(s, threads);

    TCase *net = tcase_create("loopback");
    tcase_add_test(net, fetch_gets_body_and_max_age);
    tcase_add_test(net, fetch_failures);
    tcase_add_test(net, fetch_of_a_slow_server_is_bounded_by_the_timeout);
    tcase_add_test(net, remote_over_loopback_end_to_end);
    tcase_add_test(net, refresh_all_waits_once_for_many_hung_sources);
    tcase_add_test(threads, refresh_all_fetches_every_source_concurrently);
    suite_add_tcase(s, net);
    return s;
}
