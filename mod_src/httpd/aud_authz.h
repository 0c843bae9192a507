/* Authorization on what an accepted token grants: the providers behind
 * Require aud-scope, aud-role, aud-claim and aud-client (parsed once at
 * configuration time, as mod_authz_core parses Require), and the 403
 * insufficient_scope answer when requirements refuse an accepted token. */
#ifndef AUD_AUTHZ_H
#define AUD_AUTHZ_H

#include "aud_module.h"

/* Registers the providers and the hooks that finish authorization. */
void aud_authz_register(apr_pool_t *p);

/* mod_authz_core answers an authenticated user that Require refuses with
 * 401 unless AuthzSendForbiddenOnFailure is on; RFC 6750 wants 403
 * insufficient_scope. Applies that directive to the section cmd is in, once,
 * as if the section said it first (a later AuthzSendForbiddenOnFailure
 * in the section wins). */
void aud_authz_forbid_on_failure(cmd_parms *cmd);

#endif
