/* What one request carries from hook to hook, in the module's slot of
 * r->request_config: the token check_authn accepted (for authorization and
 * claim headers), what authorization found, and, on the request the client
 * sent, the decision awaiting its audit record. */
#ifndef AUD_REQUEST_STATE_H
#define AUD_REQUEST_STATE_H

#include <jansson.h>

#include "aud_audit.h"
#include "aud_module.h"

typedef struct aud_request_state {
    /* check_authn, on the request it decided. */
    bool decided;
    bool accepted;
    bool preflight; /* a CORS preflight let through unauthenticated */
    aud_mode mode;
    const char *api;
    /* An accepted token's claims: held from the check, or parsed from a
     * cached verdict's text on first use; released with the request. */
    const char *claims_text;
    json_t *claims;

    /* Authorization. */
    bool authorized;        /* every Require passed (fixups ran) */
    const char *unmet;      /* the first aud-* requirement not met, as the record's "required" JSON */
    const char *unmet_scope; /* its scopes, space-separated, when it was aud-scope */
    /* For hints about it: an aud-scope or aud-role requirement's values. */
    bool unmet_wants_scope;
    const char *const *unmet_values;
    size_t n_unmet_values;

    /* On the request the client sent (the root of internal redirects). */
    bool kept;
    const char *token_fields;
    const char *record_api;
    aud_decision decision;
    aud_mode record_mode;
    const struct aud_request_state *record_from; /* the state of the request that decided */
    server_rec *server;
} aud_request_state;

/* r's state, created when create is true and there is none. */
static inline aud_request_state *aud_request_state_of(request_rec *r, bool create)
{
    aud_request_state *st = ap_get_module_config(r->request_config, &auth_aud_module);

    if (st == NULL && create) {
        st = apr_pcalloc(r->pool, sizeof *st);
        ap_set_module_config(r->request_config, &auth_aud_module, st);
    }
    return st;
}

/* The request the client sent, for r (internal redirects chain by prev). */
static inline request_rec *aud_request_root(request_rec *r)
{
    while (r->prev != NULL)
        r = r->prev;
    return r;
}

/* The state of the request whose token r goes by: r's own, or, when httpd
 * skipped authentication for an internal redirect with the same settings,
 * the one it was redirected from. NULL when this module decided none. */
static inline aud_request_state *aud_request_decided(request_rec *r)
{
    for (; r != NULL; r = r->prev) {
        aud_request_state *st = aud_request_state_of(r, false);
        if (st != NULL && st->decided)
            return st;
    }
    return NULL;
}

#endif
