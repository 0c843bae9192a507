/* The request path: the check_authn hook, from the Authorization header to
 * the response, and the note_auth_failure hook for Require refusals. */
#ifndef AUD_REQUEST_H
#define AUD_REQUEST_H

#include "aud_module.h"

int aud_request_authenticate(request_rec *r);
int aud_request_note_auth_failure(request_rec *r, const char *auth_type);

#endif
