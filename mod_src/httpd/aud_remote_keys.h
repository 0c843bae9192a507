/* Remote key sources for the httpd module (AudJwksUri, AudDiscovery): the
 * configuration side, the shared memory that lets one fetch serve every
 * child process, and the start-up fetch.
 *
 * Each source's last good document and fetch schedule live in one
 * anonymous shared memory segment made by the parent in post_config, under
 * one global mutex (held only to copy memory, never across a fetch). Every
 * process parses the document itself, and again only when the document
 * changes, so keys stay plain OpenSSL objects in each process. */
#ifndef AUD_REMOTE_KEYS_H
#define AUD_REMOTE_KEYS_H

#include <stdbool.h>

#include "aud_module.h"

#include "aud_remote.h"

/* One section's or one server's settings; 0 means not set here. */
typedef struct {
    double refresh, refresh_min, max_stale, fetch_timeout;
    unsigned max_stale_set : 1;
} aud_rk_settings;

/* One AudJwksUri or AudDiscovery URL as configured in one section. */
typedef struct aud_rk_source aud_rk_source;

/* The server-level (virtual host) settings of s: AudKeyRefresh & co. and
 * AudCAFile. */
typedef void aud_rk_server_fn(server_rec *s, const aud_rk_settings **settings, const char **ca_file);

void aud_rk_pre_config(apr_pool_t *pconf);

/* Checks url (a malformed or plain-http non-loopback URL is an error now)
 * and records it for post_config. section: the section's own settings,
 * read in post_config (later lines of the section count). */
const char *aud_rk_add(cmd_parms *cmd, const aud_rk_settings *section, bool discovery, const char *url,
                       aud_rk_source **out);

/* The issuer an AudDiscovery URL implies, or NULL for AudJwksUri. */
const char *aud_rk_issuer(const aud_rk_source *src);
/* Valid from post_config on. */
aud_remote *aud_rk_remote(const aud_rk_source *src);

/* Gives every source recorded this cycle its aud_remote, one per distinct
 * URL and settings, its document kept in shared memory. Fetches nothing. */
int aud_rk_post_config(apr_pool_t *pconf, server_rec *s, aud_rk_server_fn *server_settings);
/* The start-up fetch of every source, in the parent before children exist;
 * a source that cannot be fetched is only warned about. */
void aud_rk_fetch_all(void);
void aud_rk_child_init(apr_pool_t *pchild, server_rec *s);

#endif
