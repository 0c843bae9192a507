/* gen_audit_log: writes a realistic mod_auth_aud audit log for benchmarks.
 *
 * Records are written by the core's own builder (aud_audit_record), from a
 * result and request facts as the module would pass them, so they are the
 * module's records byte for byte in form: about 430 bytes a line. Four APIs (two enforcing, two in audit mode), dozens of
 * clients, a few of which send Microsoft Graph tokens or tokens for another
 * API, expired tokens, missing tokens, bad signatures; hints on the
 * rejections the diagnostics feature will explain. The output depends only
 * on the seed, so two runs give the same file.
 *
 *   gen_audit_log [-n RECORDS] [--seed N] [--start RFC3339] [--hours H]
 *                 [--summary FILE] [-o FILE]
 *
 * --summary writes the expected count per "api|decision", in the format of
 * `sort | uniq -c`, so that a benchmark can check both tools' answers. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aud_audit.h"
#include "aud_result.h"
#include "aud_time.h"
#include "aud_tool.h"

#define PROG "gen_audit_log"

const char tool_prog[] = PROG;

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    uint64_t v = 0;
    if (*s == '\0')
        usage_error("%s needs a number", opt);
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            usage_error("%s needs a whole number from %" PRIu64 " to %" PRIu64 ", not '%s'", opt, min, max, s);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        usage_error("%s needs a whole number from %" PRIu64 " to %" PRIu64 ", not '%s'", opt, min, max, s);
    return v;
}

/* Any RFC 3339 time, read as aud-audit reads --since. */
static int64_t parse_start(const char *s)
{
    int64_t ms;
    if (!aud_time_parse_rfc3339(s, strlen(s), &ms))
        usage_error("--start needs an RFC 3339 time like 2026-11-23T00:00:00Z, not '%s'", s);
    return ms;
}

/* xorshift64*: small, fast and reproducible; statistics quality is
 * irrelevant here. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static void hex(char *out, size_t digits)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i++)
        out[i] = h[rnd() & 15];
    out[digits] = '\0';
}

typedef struct {
    const char *name;
    const char *mode;
    const char *prefix; /* uri */
    const char *audiences[2];
    unsigned weight;
} api_def;

static const api_def apis[] = {
    {"Users API", "enforce", "/users/v1/", {"api://users-api", "https://users.contoso.example"}, 40},
    {"Invoices API", "audit", "/invoices/v2/", {"api://invoices", NULL}, 30},
    {"Orders API", "enforce", "/orders/v1/", {"api://orders", "api://orders-legacy"}, 20},
    {"Reports API", "audit", "/reports/", {"api://reports", NULL}, 10},
};
#define N_APIS (sizeof apis / sizeof apis[0])

#define N_CLIENTS 48
static char clients[N_CLIENTS][40];

#define GRAPH_AUD "https://graph.microsoft.com"

typedef enum { K_GOOD, K_GRAPH, K_OTHER_API, K_EXPIRED, K_NO_TOKEN, K_BAD_SIG, K_UNKNOWN_KEY } kind;

static kind pick_kind(unsigned client)
{
    unsigned r = pick(1000);
    /* Clients 0-2 mostly send Graph tokens, 3-4 tokens for another API:
     * the "clients that need fixing". Everyone else is mostly right. */
    if (client < 3)
        return r < 700 ? K_GRAPH : K_GOOD;
    if (client < 5)
        return r < 500 ? K_OTHER_API : K_GOOD;
    if (r < 20)
        return K_EXPIRED;
    if (r < 30)
        return K_NO_TOKEN;
    if (r < 34)
        return K_BAD_SIG;
    if (r < 36)
        return K_UNKNOWN_KEY;
    return K_GOOD;
}

typedef struct {
    uint64_t n[N_APIS][3];
} totals;

static const char *const decisions[3] = {"accept", "reject", "audit_reject"};

static void fail(aud_result *r, aud_reason reason)
{
    aud_result_add_reason(r, reason, "%s", aud_reason_summary(reason));
}

/* The token's part of a decision, as the verifier would leave it: the
 * record itself is then written by the core's builder, so that it has
 * exactly the module's fields, order and escaping. */
static aud_result *token_result(kind k, const api_def *api, unsigned a, unsigned client, const char *allowed,
                                int64_t ms, const char *sub, const char *kid, const char *token_id)
{
    aud_result *r = aud_result_new_reason(AUD_REASON_OK, NULL);
    if (r == NULL)
        die_oom();
    r->hints = json_array();
    const char *aud = allowed;
    switch (k) {
    case K_GOOD: r->matched_audience = xstrdup(allowed); break;
    case K_GRAPH: {
        char text[160];
        aud = GRAPH_AUD;
        fail(r, AUD_REASON_AUD_MISMATCH);
        snprintf(text, sizeof text, "Microsoft Graph token from %s: fix the client", clients[client]);
        json_array_append_new(r->hints, json_pack("{s:s,s:s}", "code", "graph_token", "text", text));
        break;
    }
    case K_OTHER_API: {
        const api_def *other = &apis[(a + 1) % N_APIS];
        char text[200];
        aud = other->audiences[0];
        fail(r, AUD_REASON_AUD_MISMATCH);
        snprintf(text, sizeof text, "token for %s (%s) sent to %s: the client requests the wrong scope",
                 other->audiences[0], other->name, api->name);
        json_array_append_new(r->hints, json_pack("{s:s,s:s}", "code", "other_api", "text", text));
        break;
    }
    case K_EXPIRED:
        r->matched_audience = xstrdup(allowed);
        fail(r, AUD_REASON_EXPIRED);
        break;
    case K_NO_TOKEN: fail(r, AUD_REASON_NO_TOKEN); return r;
    case K_BAD_SIG: fail(r, AUD_REASON_BAD_SIGNATURE); break;
    case K_UNKNOWN_KEY: fail(r, AUD_REASON_UNKNOWN_KEY); break;
    }
    r->header = json_pack("{s:s,s:s,s:s}", "typ", "JWT", "alg", "RS256", "kid", kid);
    r->claims = json_pack("{s:s,s:s,s:[s],s:s,s:I}", "iss", "https://idp.example/", "sub", sub, "aud", aud, "azp",
                          clients[client], "exp", (json_int_t)(ms / 1000 + 3600 - (k == K_EXPIRED ? 7200 : 0)));
    if (r->header == NULL || r->claims == NULL || r->hints == NULL)
        die_oom();
    snprintf(r->token_id, sizeof r->token_id, "%s", token_id);
    return r;
}

static int write_record(FILE *out, uint64_t i, uint64_t n, int64_t start_ms, uint64_t hours, totals *t)
{
    char uri[96], ip[32], sub[40], kid[40], token_id[17], req_id[40];
    unsigned w = pick(100), a = 0;
    while (w >= apis[a].weight) {
        w -= apis[a].weight;
        a++;
    }
    const api_def *api = &apis[a];
    unsigned client = pick(N_CLIENTS);
    kind k = pick_kind(client);
    bool audit = strcmp(api->mode, "audit") == 0;
    int64_t ms = start_ms + (int64_t)((double)i / (double)n * (double)hours * 3600000.0) + (int64_t)pick(1000);

    snprintf(uri, sizeof uri, "%s%u", api->prefix, pick(1000000));
    snprintf(ip, sizeof ip, "10.%u.%u.%u", pick(256), pick(256), 1 + pick(254));
    snprintf(sub, sizeof sub, "user-%07u", pick(10000000));
    snprintf(kid, sizeof kid, "key-2026-%02u", 1 + pick(2));
    hex(token_id, 16);
    hex(req_id, 24);

    const char *allowed = api->audiences[api->audiences[1] && pick(4) == 0 ? 1 : 0];
    aud_result *r = token_result(k, api, a, client, allowed, ms, sub, kid, token_id);
    int decision = aud_result_accepted(r) ? 0 : audit ? 2 : 1;
    t->n[a][decision]++;

    /* Drawn in this order, so that a seed gives the file it always gave. */
    const char *method = pick(5) == 0 ? "POST" : "GET";
    /* Debian does not load mod_unique_id by default: most logs have no id. */
    const char *request_id = pick(4) == 0 ? req_id : NULL;
    aud_audit_request req = {
        .time = (double)ms / 1000.0,
        .api = api->name,
        .uri = uri,
        .method = method,
        .client_ip = ip,
        .status = decision == 1 ? 401 : 200,
        .mode = audit ? AUD_MODE_AUDIT : AUD_MODE_ENFORCE,
        .decision = decision == 0 ? AUD_DECISION_ACCEPT : decision == 1 ? AUD_DECISION_REJECT : AUD_DECISION_AUDIT_REJECT,
        .request_id = request_id,
    };
    size_t len = 0;
    char *line = aud_audit_record(r, &req, &len);
    aud_result_free(r);
    if (line == NULL)
        die_oom();
    int rc = fwrite(line, 1, len, out) == len ? 0 : -1;
    free(line);
    return rc;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000, seed = 1, hours = 72;
    int64_t start_ms = INT64_C(1795392000000); /* 2026-11-23T00:00:00Z */
    const char *out_path = NULL, *summary_path = NULL;
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'}, {"start", required_argument, NULL, 't'},
        {"hours", required_argument, NULL, 'H'}, {"summary", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int ch;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":n:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': n = parse_u64("-n", optarg, 1, 1000000000); break;
        case 'o': out_path = optarg; break;
        case 's': seed = parse_u64("--seed", optarg, 1, UINT64_MAX - 1); break;
        case 'H': hours = parse_u64("--hours", optarg, 1, 24 * 366); break;
        case 't': start_ms = parse_start(optarg); break;
        case 'S': summary_path = optarg; break;
        case 'h':
            printf("usage: " PROG " [-n RECORDS] [--seed N] [--start 2026-11-23T00:00:00Z] [--hours H] "
                   "[--summary FILE] [-o FILE]\n");
            return 0;
        case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
        default: usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc)
        usage_error("unexpected argument '%s'", argv[optind]);

    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (unsigned c = 0; c < N_CLIENTS; c++)
        snprintf(clients[c], sizeof clients[c], "client-app-%u", c + 1);

    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    setvbuf(out, buf, _IOFBF, sizeof buf);
    totals t;
    memset(&t, 0, sizeof t);
    for (uint64_t i = 0; i < n; i++) {
        if (write_record(out, i, n, start_ms, hours, &t) != 0) {
            fprintf(stderr, PROG ": write failed\n");
            return 1;
        }
    }
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, PROG ": write failed\n");
        return 1;
    }
    if (summary_path != NULL) {
        FILE *s = fopen(summary_path, "w");
        if (s == NULL) {
            fprintf(stderr, PROG ": cannot write %s: %s\n", summary_path, strerror(errno));
            return 1;
        }
        /* The order `sort` gives in the C locale, for a plain diff. */
        const char *lines[N_APIS * 3];
        char store[N_APIS * 3][64];
        size_t k = 0;
        for (size_t a = 0; a < N_APIS; a++) {
            for (int d = 0; d < 3; d++) {
                if (t.n[a][d] == 0)
                    continue;
                snprintf(store[k], sizeof store[k], "%s|%s", apis[a].name, decisions[d]);
                lines[k] = store[k];
                k++;
            }
        }
        sort_n(lines, k, sizeof *lines, cmp_str);
        for (size_t x = 0; x < k; x++) {
            const char *bar = strchr(lines[x], '|');
            size_t a = 0;
            while (strncmp(apis[a].name, lines[x], (size_t)(bar - lines[x])) != 0 ||
                   apis[a].name[bar - lines[x]] != '\0')
                a++;
            int d = 0;
            while (strcmp(decisions[d], bar + 1) != 0)
                d++;
            fprintf(s, "%" PRIu64 " %s\n", t.n[a][d], lines[x]);
        }
        if (fclose(s) != 0)
            return 1;
    }
    return 0;
}
