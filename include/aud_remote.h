/* A key source (aud_key_source) whose keys come from a URL: a JWKS
 * (AudJwksUri) or the jwks_uri of an OpenID Connect / RFC 8414 discovery
 * document (AudDiscovery). It refreshes on a schedule, early when a token
 * names an unknown kid (at most once per refresh_min), keeps the last good
 * keys through failures for up to max_stale, and never fetches anything a
 * token names.
 *
 * Two halves, kept apart so that processes can share one fetch:
 * - the store: the last good document (JWKS text), when it was fetched and
 *   the fetch schedule. By default it lives in the process; the httpd module
 *   puts it in shared memory under a cross-process lock, so that one fetch
 *   serves every child.
 * - the source object: per process. It parses the stored document into a
 *   key set when the store's document changes and hands that set to checks,
 *   reference-counted, so that a new set can replace it while checks still
 *   use the old one.
 *
 * Time: the schedule uses the injected clock (config.now). Only the bounded
 * wait for a fetch in progress (and the fetch's own deadline) use the real
 * monotonic clock, since they bound real waiting. */
#ifndef AUD_REMOTE_H
#define AUD_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aud_fetch.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_verifier.h"

#define AUD_REMOTE_DEFAULT_REFRESH 3600.0
#define AUD_REMOTE_DEFAULT_REFRESH_MIN 60.0
#define AUD_REMOTE_DEFAULT_MAX_STALE 86400.0
#define AUD_REMOTE_DEFAULT_FETCH_TIMEOUT 5.0
/* The longest Cache-Control max-age honoured. */
#define AUD_REMOTE_MAX_AGE_CAP 86400.0

/* Fetches one URL. The default is aud_fetch_get; tests inject a fake. */
typedef bool aud_remote_fetch_fn(void *baton, const char *url, const aud_fetch_options *options,
                                 aud_fetch_response *out, aud_error *err);

/* Where the document and schedule live: mem is aud_remote_store_size()
 * bytes, prepared once with aud_remote_store_init() by whoever owns it (for
 * shared memory: the parent, before children exist). lock/unlock give
 * exclusive access across every user of mem (threads and processes alike);
 * they are held for memory copies only, never across a fetch. lock returns
 * false when the lock cannot be had: the caller then carries on with what it
 * has and does not fetch. */
typedef struct {
    void *mem;
    bool (*lock)(void *baton);
    void (*unlock)(void *baton);
    void *baton;
} aud_remote_store;

size_t aud_remote_store_size(void);
void aud_remote_store_init(void *mem);

typedef struct {
    /* Exactly one of the two. */
    const char *jwks_uri;
    /* An issuer URL (/.well-known/openid-configuration is appended) or a full
     * metadata URL (.../.well-known/openid-configuration or RFC 8414's
     * /.well-known/oauth-authorization-server/...). */
    const char *discovery;

    double refresh;       /* seconds; <= 0: default */
    double refresh_min;   /* the least time between two fetches; <= 0: default */
    double max_stale;     /* how long keys stay usable past their refresh time while fetches fail; < 0: default */
    double fetch_timeout; /* for one whole fetch (discovery and JWKS together); <= 0: default */
    const char *ca_file;  /* NULL: the system store */

    aud_now_fn *now; /* required */
    void *now_baton;
    aud_logger logger;

    aud_remote_fetch_fn *fetch; /* NULL: aud_fetch_get */
    void *fetch_baton;
    /* NULL: a store private to this object. Borrowed: must outlive it. */
    const aud_remote_store *store;
} aud_remote_config;

typedef struct aud_remote aud_remote;

void aud_remote_config_init(aud_remote_config *config);

/* Checks the URLs (a malformed or non-https one is an error here, at
 * configuration time) and copies the configuration. Fetches nothing. */
aud_remote *aud_remote_create(const aud_remote_config *config, aud_error *err);
/* Every key set handed out must have been released first. */
void aud_remote_destroy(aud_remote *r);

/* The aud_key_source to put in a verifier's configuration. */
aud_key_source aud_remote_key_source(aud_remote *r);

/* Fetches now unless a fetch happened less than refresh_min ago or is in
 * progress elsewhere (the start-up fetch). True when usable keys are held
 * afterwards. A failure is logged as a warning, not an error: start-up must
 * not fail because an identity provider is down. */
bool aud_remote_refresh(aud_remote *r);

/* The most refreshes aud_remote_refresh_all runs at once. */
#define AUD_REMOTE_REFRESH_THREADS 64

/* aud_remote_refresh of every source, at the same time, each in a thread of
 * its own (at most AUD_REMOTE_REFRESH_THREADS at once), returning when all
 * are done. Since each fetch keeps to its own fetch_timeout, up to
 * AUD_REMOTE_REFRESH_THREADS sources behind hung servers cost one such
 * timeout (the longest of theirs), not one each: start-up waits for the
 * slowest identity provider, not for the sum of them. A thread that cannot
 * be started leaves its share to the caller's thread. A source listed twice
 * is fetched once (the second finds the fetch in progress). */
void aud_remote_refresh_all(aud_remote *const *sources, size_t n);

/* What a discovery URL implies: the issuer its document must name exactly
 * (for Entra ID's tenant-independent /common, /organizations, /consumers
 * v2.0 paths, on any host: the template .../{tenantid}/v2.0)
 * and the URL of the document. Both malloc'd. */
bool aud_remote_discovery_urls(const char *discovery, char **issuer, char **metadata_url, aud_error *err);

/* The issuer the discovery document must name (for a location's default
 * AudIssuer), or NULL for a plain JWKS URI. Owned by r. */
const char *aud_remote_issuer(const aud_remote *r);
/* The URL as configured, for messages. */
const char *aud_remote_url(const aud_remote *r);

/* Seconds a client should wait before retrying a request refused for lack
 * of keys: until this source may fetch again, at least 1. */
unsigned aud_remote_retry_after(aud_remote *r);

/* Changes each time the stored document or fetch outcome changes, in any
 * process: a check that failed on an unknown kid can look whether a refresh
 * happened meanwhile and try once more. */
uint32_t aud_remote_generation(aud_remote *r);

/* Whether this process holds usable keys from r with nothing due (no
 * refresh to do, no change in the store it has not taken in). Then *doc_gen
 * identifies those keys: a verdict reached with them may be reused for as
 * long as this stays true with the same *doc_gen. Never fetches, never
 * waits, and while the answer stays yes, takes no lock. */
bool aud_remote_quiet(aud_remote *r, uint32_t *doc_gen);

typedef struct {
    unsigned long fetches;       /* fetch attempts made by this object */
    unsigned long fetch_failures;
    size_t keys;                 /* keys in the set this process holds */
    bool usable;                 /* acquire would hand out keys now */
    double fetched_at;           /* when the stored document was fetched; 0: never */
    double next_refresh;         /* when it is due again */
    char last_error[512];        /* the last failure's reason, or "" */
    char state[16];              /* "never fetched", "ok", "failing", "refused" */
} aud_remote_status;

void aud_remote_get_status(aud_remote *r, aud_remote_status *out);

#endif
