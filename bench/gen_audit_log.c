/* gen_audit_log: writes a realistic mod_auth_aud audit log for benchmarks.
 *
 * Records have the module's fields in the module's order, compact and
 * ASCII-only as the module writes them (jansson, JSON_ENSURE_ASCII), about
 * 430 bytes a line. Four APIs (two enforcing, two in audit mode), dozens of
 * clients, a few of which send Microsoft Graph tokens or tokens for another
 * API, expired tokens, missing tokens, bad signatures; hints on the
 * rejections the diagnostics feature will explain. The output depends only
 * on the seed, so two runs give the same file.
 *
 *   gen_audit_log [-n RECORDS] [--seed N] [--start RFC3339-UTC] [--hours H]
 *                 [--summary FILE] [-o FILE]
 *
 * --summary writes the expected count per "api|decision", in the format of
 * `sort | uniq -c`, so that a benchmark can check both tools' answers. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "gen_audit_log"

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: " PROG " [-n RECORDS] [--seed N] [--start 2026-11-23T00:00:00Z] [--hours H] "
          "[--summary FILE] [-o FILE]\n",
          stderr);
    exit(2);
}

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

/* Only the UTC form the module writes: YYYY-MM-DDTHH:MM:SSZ. */
static int64_t parse_start(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        usage_error("--start needs a UTC time like 2026-11-23T00:00:00Z, not '%s'", s);
    return (int64_t)timegm(&tm);
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

static void format_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int write_record(FILE *out, uint64_t i, uint64_t n, int64_t start, uint64_t hours, totals *t)
{
    char when[80], uri[96], ip[32], sub[40], kid[40], token_id[17], req_id[40];
    unsigned w = pick(100), a = 0;
    while (w >= apis[a].weight) {
        w -= apis[a].weight;
        a++;
    }
    const api_def *api = &apis[a];
    unsigned client = pick(N_CLIENTS);
    kind k = pick_kind(client);
    bool audit = strcmp(api->mode, "audit") == 0;
    int64_t ms = start * 1000 + (int64_t)((double)i / (double)n * (double)hours * 3600000.0) + (int64_t)pick(1000);

    format_time(ms, when, sizeof when);
    snprintf(uri, sizeof uri, "%s%u", api->prefix, pick(1000000));
    snprintf(ip, sizeof ip, "10.%u.%u.%u", pick(256), pick(256), 1 + pick(254));
    snprintf(sub, sizeof sub, "user-%07u", pick(10000000));
    snprintf(kid, sizeof kid, "key-2026-%02u", 1 + pick(2));
    hex(token_id, 16);
    hex(req_id, 24);

    json_t *reasons = json_array(), *hints = json_array(), *aud = NULL, *matched = json_null();
    const char *allowed = api->audiences[api->audiences[1] && pick(4) == 0 ? 1 : 0];
    int status = 200, decision = 0;
    bool token = true;
    switch (k) {
    case K_GOOD:
        aud = json_pack("[s]", allowed);
        matched = json_string(allowed);
        break;
    case K_GRAPH:
        aud = json_pack("[s]", GRAPH_AUD);
        json_array_append_new(reasons, json_string("aud_mismatch"));
        {
            char text[160];
            snprintf(text, sizeof text, "Microsoft Graph token from %s: fix the client", clients[client]);
            json_array_append_new(hints, json_pack("{s:s,s:s}", "code", "graph_token", "text", text));
        }
        break;
    case K_OTHER_API: {
        const api_def *other = &apis[(a + 1) % N_APIS];
        aud = json_pack("[s]", other->audiences[0]);
        json_array_append_new(reasons, json_string("aud_mismatch"));
        char text[200];
        snprintf(text, sizeof text, "token for %s (%s) sent to %s: the client requests the wrong scope",
                 other->audiences[0], other->name, api->name);
        json_array_append_new(hints, json_pack("{s:s,s:s}", "code", "other_api", "text", text));
        break;
    }
    case K_EXPIRED:
        aud = json_pack("[s]", allowed);
        matched = json_string(allowed);
        json_array_append_new(reasons, json_string("expired"));
        break;
    case K_NO_TOKEN:
        token = false;
        json_array_append_new(reasons, json_string("no_token"));
        break;
    case K_BAD_SIG:
        aud = json_pack("[s]", allowed);
        json_array_append_new(reasons, json_string("bad_signature"));
        break;
    case K_UNKNOWN_KEY:
        aud = json_pack("[s]", allowed);
        json_array_append_new(reasons, json_string("unknown_key"));
        break;
    }
    if (json_array_size(reasons) > 0) {
        decision = audit ? 2 : 1;
        status = audit ? 200 : 401;
    }
    t->n[a][decision]++;

    const char *iss = "https://idp.example/";
    json_t *rec = json_object();
    json_object_set_new(rec, "time", json_string(when));
    json_object_set_new(rec, "api", json_string(api->name));
    json_object_set_new(rec, "uri", json_string(uri));
    json_object_set_new(rec, "method", json_string(pick(5) == 0 ? "POST" : "GET"));
    json_object_set_new(rec, "client_ip", json_string(ip));
    json_object_set_new(rec, "status", json_integer(status));
    json_object_set_new(rec, "mode", json_string(api->mode));
    json_object_set_new(rec, "decision", json_string(decisions[decision]));
    json_object_set_new(rec, "reasons", reasons);
    json_object_set_new(rec, "hints", hints);
    json_object_set_new(rec, "aud", aud ? aud : json_null());
    json_object_set_new(rec, "matched", matched);
    json_object_set_new(rec, "iss", token ? json_string(iss) : json_null());
    json_object_set_new(rec, "sub", token ? json_string(sub) : json_null());
    json_object_set_new(rec, "client", token ? json_string(clients[client]) : json_null());
    json_object_set_new(rec, "typ", token ? json_string("JWT") : json_null());
    json_object_set_new(rec, "alg", token ? json_string("RS256") : json_null());
    json_object_set_new(rec, "kid", token ? json_string(kid) : json_null());
    json_object_set_new(rec, "exp", token ? json_integer(ms / 1000 + 3600 - (k == K_EXPIRED ? 7200 : 0))
                                          : json_null());
    json_object_set_new(rec, "token_id", token ? json_string(token_id) : json_null());
    /* Debian does not load mod_unique_id by default: most logs have no id. */
    json_object_set_new(rec, "request_id", pick(4) == 0 ? json_string(req_id) : json_null());
    char *text = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(rec);
    if (text == NULL)
        return -1;
    int rc = fputs(text, out) == EOF || fputc('\n', out) == EOF ? -1 : 0;
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000, seed = 1, hours = 72;
    int64_t start = 1795392000; /* 2026-11-23T00:00:00Z */
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
        case 't': start = parse_start(optarg); break;
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
        if (write_record(out, i, n, start, hours, &t) != 0) {
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
        for (size_t x = 0; x < k; x++) {
            for (size_t y = x + 1; y < k; y++) {
                if (strcmp(lines[y], lines[x]) < 0) {
                    const char *tmp = lines[x];
                    lines[x] = lines[y];
                    lines[y] = tmp;
                }
            }
        }
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
