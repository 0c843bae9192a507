/* The module's settings: per directory (<Location> and friends) and per
 * server, their merges and the directives that fill them. */
#ifndef AUD_CONFIG_H
#define AUD_CONFIG_H

#include "aud_module.h"

#include "apr_tables.h"

#include "aud_alg.h"
#include "aud_audit.h"
#include "aud_key.h"
#include "aud_remote_keys.h"

/* What a section set itself, one bit per setting. The verifier's settings
 * come first, so that AUD_SET_VERIFIER masks them all. */
enum {
    AUD_SET_ALLOW = 1u << 0, /* AudAllow, AudAllowUntil */
    AUD_SET_ISSUERS = 1u << 1,
    AUD_SET_KEYFILES = 1u << 2,
    AUD_SET_SECRET = 1u << 3,
    AUD_SET_ALGORITHMS = 1u << 4,
    AUD_SET_LEEWAY = 1u << 5,
    AUD_SET_MAX_TOKEN_SIZE = 1u << 6,
    AUD_SET_REMOTES = 1u << 7, /* AudJwksUri, AudDiscovery */
    AUD_SET_TENANTS = 1u << 8,
    AUD_SET_TOKEN_TYPES = 1u << 9,
    AUD_SET_VERIFIER = (1u << 10) - 1,
    AUD_SET_MODE = 1u << 10,
    AUD_SET_ERROR_DETAIL = 1u << 11,
    /* Require aud-* or claim headers need the accepted token's claims. */
    AUD_SET_NEEDS_CLAIMS = 1u << 12,
    AUD_SET_CLAIM_OUTS = 1u << 13, /* AudClaimHeader, AudClaimEnv */
    AUD_SET_PREFLIGHT = 1u << 14,
};

struct aud_claim_ref;

/* A claim handed to backends: as a request header (AudClaimHeader) or an
 * environment variable (AudClaimEnv). */
typedef struct {
    struct aud_claim_ref *claim;
    const char *name;
    bool header;
} aud_claim_out;

/* The settings that make up a verifier. Lists are config-time arrays that are
 * never modified after start-up and merged by pointer copy, so the identity
 * of this struct's members identifies the verifier: that is what lets a
 * merged per-request configuration find a verifier built earlier. */
typedef struct {
    const apr_array_header_t *allow;    /* const char * */
    /* double, parallel to allow: the end of an AudAllowUntil allowance, or 0
     * for AudAllow. Set, merged and replaced together with allow. */
    const apr_array_header_t *allow_until;
    const apr_array_header_t *issuers;  /* const char *; may hold {tenantid} templates */
    /* const char *: AudTenant, the tid values templates accept; a single
     * "*" means any tenant. */
    const apr_array_header_t *tenants;
    const apr_array_header_t *token_types; /* const char *: AudTokenType */
    const apr_array_header_t *keyfiles; /* aud_keyset * */
    const apr_array_header_t *remotes;  /* aud_rk_source *: AudJwksUri, AudDiscovery */
    const aud_keyset *secret;
    aud_alg_set algorithms;
    double leeway;
    apr_size_t max_token_size;
} aud_vsettings;

struct aud_vnode;

typedef struct {
    const char *path; /* the section's path: the API's name of last resort */
    unsigned set;     /* AUD_SET_* given in this section (merged: in it or above) */

    aud_vsettings vs;
    /* AudKeyRefresh & co. given in this section: they apply to this
     * section's own AudJwksUri and AudDiscovery. */
    aud_rk_settings rk;
    unsigned registered : 1;
    unsigned forbid_on_failure : 1; /* AuthzSendForbiddenOnFailure applied here */

    const char *api_name;   /* NULL: AuthName, else the path */
    aud_mode mode;
    const char *user_claim; /* NULL: sub */
    int error_detail;
    int preflight_pass; /* AudPreflight pass */
    const apr_array_header_t *claim_outs; /* aud_claim_out */

    /* Where this section's audiences and keys were configured, and the
     * section itself: for start-up lint messages and the API's name as other
     * sections' hints see it. */
    const char *allow_file;
    int allow_line;
    const char *keys_file;
    int keys_line;
    /* The first AudIssuer or AudDiscovery here: where a template without
     * AudTenant is refused. */
    const char *issuers_file;
    int issuers_line;
    const ap_directive_t *section;

    /* The verifier for exactly vs, when known without a lookup. */
    const struct aud_vnode *node;
} aud_dir_conf;

enum { AUD_SRV_SET_CACHE_ENTRIES = 1u << 0, AUD_SRV_SET_AUDIT_BUFFER = 1u << 1 };

typedef struct {
    unsigned set;          /* AUD_SRV_SET_* */
    const char *audit_log; /* path or "|command"; NULL: no audit log */
    struct aud_audit_sink *audit_sink; /* opened in post_config */
    long cache_entries;                /* AudCacheEntries: main server only */
    long audit_buffer;                 /* AudAuditLogBuffer seconds, 0: off; main server only */
    /* Remote keys: defaults for the sources of this server's sections. */
    aud_rk_settings rk;
    const char *ca_file; /* AudCAFile; NULL: the system store */
} aud_server_conf;

extern const command_rec aud_config_cmds[];

void *aud_config_create_dir(apr_pool_t *p, char *dir);
void *aud_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
void *aud_config_create_server(apr_pool_t *p, server_rec *s);
void *aud_config_merge_server(apr_pool_t *p, void *basev, void *addv);

/* A new configuration cycle begins (pre_config): forget the last one. */
void aud_config_pre_config(apr_pool_t *pconf);

/* After the configuration is read (check_config, so also in httpd -t):
 * refuses a section whose issuers hold a {tenantid} template (AudIssuer, or
 * what its AudDiscovery URL implies) without AudTenant in that same
 * section, naming the directive, file and line. OK or HTTP_INTERNAL_SERVER_ERROR. */
int aud_config_check_tenants(server_rec *s);

/* The sections that set verifier settings this cycle (aud_dir_conf *). */
apr_array_header_t *aud_config_sections(void);
/* AudSecretFile paths readable by group or others, for a start-up warning. */
const apr_array_header_t *aud_config_readable_secrets(void);

/* For the directive handlers, in aud_config.c and aud_config_keys.c. */
void aud_config_note_vsetting(cmd_parms *cmd, aud_dir_conf *conf, unsigned flag);
void aud_config_note_keys(cmd_parms *cmd, aud_dir_conf *conf);
void aud_config_note_issuers(cmd_parms *cmd, aud_dir_conf *conf);
apr_array_header_t *aud_config_own_list(apr_pool_t *p, const aud_dir_conf *conf, unsigned flag,
                                        const apr_array_header_t *list, int elt_size);
const char *aud_config_whole_number(cmd_parms *cmd, const char *arg, long min, long max, const char *unit,
                                    long *out);
void aud_config_note_readable_secret(const char *path);

enum aud_rk_setting { RK_REFRESH, RK_REFRESH_MIN, RK_MAX_STALE, RK_FETCH_TIMEOUT };
const char *aud_config_set_key_file(cmd_parms *cmd, void *cfg, const char *arg);
const char *aud_config_set_secret_file(cmd_parms *cmd, void *cfg, const char *arg, const char *kid);
const char *aud_config_set_jwks_uri(cmd_parms *cmd, void *cfg, const char *arg);
const char *aud_config_set_discovery(cmd_parms *cmd, void *cfg, const char *arg);
const char *aud_config_set_rk_seconds(cmd_parms *cmd, void *cfg, const char *arg);
const char *aud_config_set_ca_file(cmd_parms *cmd, void *cfg, const char *arg);

/* The configured lists as the core takes them. */
static inline const char *const *aud_config_strings(const apr_array_header_t *a, size_t *n)
{
    *n = a ? (size_t)a->nelts : 0;
    return a ? (const char *const *)a->elts : NULL;
}

#endif
