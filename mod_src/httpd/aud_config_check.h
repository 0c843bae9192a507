/* After the configuration is read: what the sections mean together. */
#ifndef AUD_CONFIG_CHECK_H
#define AUD_CONFIG_CHECK_H

#include "aud_config.h"
#include "aud_hint.h"

/* AudDiscovery names the issuer its document must carry; a section without
 * AudIssuer accepts that issuer (and only it). Before the verifiers are
 * built. */
void aud_config_use_discovery_issuers(apr_pool_t *pconf);

/* Every API on the server as hints see it (aud_api_view), read-only once
 * built: how a refusal can say "this token was minted for 'Users API'". */
void aud_config_build_api_views(apr_pool_t *pconf);
const apr_array_header_t *aud_config_api_views(void);

/* Start-up warnings (AUD0020) for settings that are legal but probably
 * not what the operator meant, naming file and line; also in httpd -t. */
void aud_config_lint(apr_pool_t *p, server_rec *s);
/* AUD0002 for each AudSecretFile others can read; at start-up. */
void aud_config_warn_readable_secrets(server_rec *s);

#endif
