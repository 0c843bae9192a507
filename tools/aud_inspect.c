/* aud-inspect: shows what a bearer token says and, when given keys or
 * audiences, what mod_auth_aud would decide about it and why.
 *
 * It is a tool for the token's owner at a terminal: it prints token content,
 * but it never writes a log and never sends anything anywhere. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aud_alg.h"
#include "aud_hint.h"
#include "aud_key.h"
#include "aud_log.h"
#include "aud_result.h"
#include "aud_time.h"
#include "aud_token.h"
#include "aud_verifier.h"
#include "aud_tool.h"

#define PROG "aud-inspect"

const char tool_prog[] = PROG;

/* Far more than any real token; the cap only keeps a mistaken pipe (a whole
 * file, /dev/zero) from eating memory. */
#define MAX_TOKEN_INPUT (1024 * 1024)

/* Year 9999: past that, RFC 3339 output stops being four-digit years. */
#define MAX_AT_SECONDS 253402300799LL
#define MAX_LEEWAY_SECONDS 86400.0

typedef struct {
    const char **items;
    size_t n;
} str_list;

typedef struct {
    str_list audiences;
    str_list issuers;
    str_list key_files;
    const char *secret_file;
    aud_alg_set algorithms;
    bool algorithms_given;
    double leeway;
    bool at_given;
    long long at;
    bool json;
    const char *token_arg;
} options;

typedef struct {
    char *text;
    size_t len;
} token_buf;

/* ---- small utilities ---------------------------------------------------- */

static void str_list_push(str_list *list, const char *item)
{
    list->items = xrealloc(list->items, (list->n + 1) * sizeof *list->items);
    list->items[list->n++] = item;
}

/* Token content and key ids reach a terminal: control bytes (C0, DEL and the
 * UTF-8 encoding of C1) are shown as escapes so that a crafted token cannot
 * move the cursor, retitle the window or hide text. */
static void put_escaped(FILE *out, const char *s, bool keep_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; *p != '\0'; p++) {
        if (*p == '\n' && keep_newlines) {
            fputc('\n', out);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\x%02x", *p);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fprintf(out, "\\u%04x", p[1]);
            p++;
        } else {
            fputc(*p, out);
        }
    }
}

static void put_safe(FILE *out, const char *s)
{
    put_escaped(out, s, false);
}

static void print_usage(FILE *out)
{
    fputs("Usage: " PROG " [OPTION]... TOKEN|FILE|-\n"
          "Show what a JWT bearer token says and, with keys or audiences, whether\n"
          "mod_auth_aud would accept it and every reason why not.\n"
          "\n"
          "  TOKEN                the compact token, taken exactly as given; or, when\n"
          "                       TOKEN names an existing file, the token read from it\n"
          "                       (as from standard input)\n"
          "  -                    read the token from standard input (keeps it out of\n"
          "                       shell history); surrounding whitespace and a leading\n"
          "                       \"Bearer \" are ignored\n"
          "\n"
          "Checks (any of these turns decoding into verification):\n"
          "  --allow AUD          an accepted audience (AudAllow); repeatable\n"
          "  --issuer ISS         an accepted issuer (AudIssuer); repeatable\n"
          "  --key FILE           PEM public key, certificate, JWK or JWKS; repeatable\n"
          "  --secret-file FILE   HMAC secret (the file's bytes as they are)\n"
          "\n"
          "Tuning:\n"
          "  --alg ALG            an accepted algorithm, e.g. RS256; repeatable\n"
          "                       (default: every asymmetric one, plus HS256/384/512\n"
          "                       when --secret-file is given)\n"
          "  --leeway SECONDS     clock skew allowed for exp, nbf and iat (default 60)\n"
          "  --at UNIX_TIME       judge the token as of this time instead of now\n"
          "  --json               print one JSON object instead of text\n"
          "  --help               show this help and exit\n"
          "\n"
          "Exit status: 0 accepted (or decoded, when nothing was checked),\n"
          "1 rejected or undecodable, 2 usage or input file error, 3 out of memory.\n",
          out);
}

/* ---- option parsing ------------------------------------------------------ */

static double parse_leeway(const char *arg)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (end == arg || *end != '\0' || errno != 0 || !isfinite(v) || v < 0.0 || v > MAX_LEEWAY_SECONDS)
        usage_error("--leeway needs a number of seconds from 0 to 86400, not '%s'", arg);
    return v;
}

static long long parse_at(const char *arg)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (end == arg || *end != '\0' || errno != 0 || v < 0 || v > MAX_AT_SECONDS)
        usage_error("--at needs whole seconds since 1970 (0 to 253402300799), not '%s'", arg);
    return v;
}

static aud_alg_set parse_alg(const char *arg)
{
    aud_alg alg;
    if (!aud_alg_from_name(arg, &alg))
        usage_error("unknown algorithm '%s' for --alg (names are case-sensitive, e.g. RS256, ES256, EdDSA, Ed25519, HS256)",
                    arg);
    return AUD_ALG_BIT(alg);
}

enum { OPT_ALLOW = 256, OPT_ISSUER, OPT_KEY, OPT_SECRET_FILE, OPT_ALG, OPT_LEEWAY, OPT_AT, OPT_JSON, OPT_HELP };

static const struct option long_options[] = {
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"issuer", required_argument, NULL, OPT_ISSUER},
    {"key", required_argument, NULL, OPT_KEY},
    {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"alg", required_argument, NULL, OPT_ALG},
    {"leeway", required_argument, NULL, OPT_LEEWAY},
    {"at", required_argument, NULL, OPT_AT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void apply_option(options *o, int c, const char *arg)
{
    switch (c) {
    case OPT_ALLOW: str_list_push(&o->audiences, arg); break;
    case OPT_ISSUER: str_list_push(&o->issuers, arg); break;
    case OPT_KEY: str_list_push(&o->key_files, arg); break;
    case OPT_SECRET_FILE:
        if (o->secret_file != NULL)
            usage_error("--secret-file may be given only once");
        o->secret_file = arg;
        break;
    case OPT_ALG:
        o->algorithms |= parse_alg(arg);
        o->algorithms_given = true;
        break;
    case OPT_LEEWAY: o->leeway = parse_leeway(arg); break;
    case OPT_AT:
        o->at = parse_at(arg);
        o->at_given = true;
        break;
    case OPT_JSON: o->json = true; break;
    case OPT_HELP:
        print_usage(stdout);
        exit(fflush(stdout) == 0 ? TOOL_EXIT_OK : TOOL_EXIT_USAGE);
    default: usage_error("invalid option");
    }
}

static void parse_options(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->leeway = AUD_DEFAULT_LEEWAY;
    opterr = 0; /* our own message names the option and points to --help */
    int c;
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        if (c == '?') {
            if (optopt >= OPT_ALLOW)
                usage_error("option '%s' needs a value", argv[optind - 1]);
            if (optopt != 0)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
        apply_option(o, c, optarg);
    }
    if (optind >= argc)
        usage_error("no token given (pass it as an argument, or '-' to read it from standard input)");
    if (argc - optind > 1)
        usage_error("only one token may be given; unexpected '%s'", argv[optind + 1]);
    o->token_arg = argv[optind];
    if (o->secret_file != NULL && !o->algorithms_given)
        o->algorithms = AUD_ALG_SET_ASYMMETRIC | AUD_ALG_SET_HMAC;
}

static bool checks_requested(const options *o)
{
    return o->audiences.n > 0 || o->issuers.n > 0 || o->key_files.n > 0 || o->secret_file != NULL;
}

/* ---- reading the token --------------------------------------------------- */

/* Reports a problem with where the token was to come from and exits:
 * without the token there is nothing to judge. */
static void fail_source(const char *name, const char *what)
{
    fputs(PROG ": ", stderr);
    put_safe(stderr, name);
    fprintf(stderr, "%s\n", what);
    exit(TOOL_EXIT_USAGE);
}

/* All of f (standard input, or the file named by TOKEN); name is what the
 * messages call it. */
static void read_all(FILE *f, const char *name, token_buf *t)
{
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_TOKEN_INPUT)
                fail_source(name, " holds more than 1 MiB; that is not a token");
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        int err = errno;
        fputs(PROG ": cannot read ", stderr);
        put_safe(stderr, name);
        fprintf(stderr, ": %s\n", strerror(err));
        exit(TOOL_EXIT_USAGE);
    }
    buf[len] = '\0';
    t->text = buf;
    t->len = len;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* What people paste: the token with a newline, or a whole Authorization
 * value. Only the scheme word itself is removed, so anything else stays in
 * the token and is judged (and refused) by the core. */
static void trim_pasted(token_buf *t)
{
    size_t start = 0, end = t->len;
    while (start < end && is_space(t->text[start]))
        start++;
    while (end > start && is_space(t->text[end - 1]))
        end--;
    if (end - start > 7 && strncasecmp(t->text + start, "bearer", 6) == 0 &&
        (t->text[start + 6] == ' ' || t->text[start + 6] == '\t')) {
        start += 7;
        while (start < end && (t->text[start] == ' ' || t->text[start] == '\t'))
            start++;
    }
    memmove(t->text, t->text + start, end - start);
    t->len = end - start;
    t->text[t->len] = '\0';
}

/* A file named where the token goes: what a new user does with a token
 * saved to disk. A compact token (base64url and dots) is rarely also the
 * name of a file, and one that is would still be read from that file, so
 * only an argument naming nothing is taken as the token itself. */
static FILE *open_token_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    if (S_ISDIR(st.st_mode))
        fail_source(path, " is a directory, not a token or a file holding one");
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int err = errno;
        fputs(PROG ": cannot read ", stderr);
        put_safe(stderr, path);
        fprintf(stderr, ": %s\n", strerror(err));
        exit(TOOL_EXIT_USAGE);
    }
    return f;
}

static void read_token(const options *o, token_buf *t)
{
    if (strcmp(o->token_arg, "-") == 0) {
        /* Someone typing '-' at a prompt would otherwise face a silent wait. */
        if (isatty(STDIN_FILENO))
            fputs(PROG ": paste the token, then press Enter and Ctrl-D\n", stderr);
        read_all(stdin, "standard input", t);
        trim_pasted(t);
        return;
    }
    FILE *f = open_token_file(o->token_arg);
    if (f != NULL) {
        read_all(f, o->token_arg, t);
        fclose(f);
        trim_pasted(t);
        return;
    }
    t->text = xstrdup(o->token_arg);
    t->len = strlen(t->text);
}

/* ---- the decision -------------------------------------------------------- */

typedef struct {
    aud_result *result;
    bool verify_mode;
    double now;
    bool at_given;
} inspection;

static void log_to_stderr(void *baton, aud_log_level level, const char *message)
{
    (void)baton;
    if (level > AUD_LOG_WARNING)
        return;
    fputs(level == AUD_LOG_ERROR ? PROG ": error: " : PROG ": warning: ", stderr);
    put_safe(stderr, message);
    fputc('\n', stderr);
}

static const aud_logger stderr_logger = {log_to_stderr, NULL};

static void fail_input(const char *path, const aud_error *err)
{
    fputs(PROG ": ", stderr);
    if (strstr(err->text, path) == NULL) {
        put_safe(stderr, path);
        fputs(": ", stderr);
    }
    put_safe(stderr, err->text);
    fputc('\n', stderr);
    exit(TOOL_EXIT_USAGE);
}

static aud_keyset *load_keys(const options *o)
{
    aud_keyset *set = aud_keyset_create();
    if (set == NULL)
        die_oom();
    for (size_t i = 0; i < o->key_files.n; i++) {
        aud_error err = {{0}};
        if (!aud_keyset_load_file(set, o->key_files.items[i], &stderr_logger, &err))
            fail_input(o->key_files.items[i], &err);
    }
    if (o->secret_file != NULL) {
        aud_error err = {{0}};
        if (!aud_keyset_load_secret_file(set, o->secret_file, NULL, &err))
            fail_input(o->secret_file, &err);
    }
    return set;
}

static double fixed_now(void *baton)
{
    return *(const double *)baton;
}

static double wall_clock(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        fprintf(stderr, PROG ": cannot read the clock: %s\n", strerror(errno));
        exit(TOOL_EXIT_USAGE);
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static aud_verifier *build_verifier(const options *o, const aud_keyset *const *sets, double *now)
{
    aud_verifier_config config;
    aud_verifier_config_init(&config);
    config.keysets = sets;
    config.n_keysets = 1;
    config.algorithms = o->algorithms;
    config.issuers = o->issuers.items;
    config.n_issuers = o->issuers.n;
    config.audiences = o->audiences.items;
    config.n_audiences = o->audiences.n;
    config.leeway = o->leeway;
    config.now = fixed_now;
    config.now_baton = now;
    aud_error err = {{0}};
    aud_verifier *v = aud_verifier_create(&config, &err);
    if (v == NULL) {
        fputs(PROG ": cannot set up verification: ", stderr);
        put_safe(stderr, err.text);
        fputc('\n', stderr);
        exit(TOOL_EXIT_USAGE);
    }
    return v;
}

/* ---- decoding only --------------------------------------------------------- */

/* Without any check asked for there is no configuration to judge against,
 * so the token is only taken apart, by the same decoder the verifier uses;
 * the only verdict possible is that it cannot even be read. */
static aud_result *decode_only(const token_buf *t)
{
    aud_result *r = aud_token_decode(t->text, t->len, 0);
    if (r == NULL)
        die_oom();
    return r;
}

static void inspect(const options *o, const token_buf *t, inspection *in)
{
    in->at_given = o->at_given;
    in->now = o->at_given ? (double)o->at : wall_clock();
    in->verify_mode = checks_requested(o);
    if (!in->verify_mode) {
        in->result = decode_only(t);
        return;
    }
    aud_keyset *set = load_keys(o);
    const aud_keyset *sets[1] = {set};
    aud_verifier *v = build_verifier(o, sets, &in->now);
    in->result = aud_verifier_check(v, t->text, t->len);
    if (in->result == NULL)
        die_oom();
    /* The same hints the module writes to its audit record, so that a token
     * checked here is explained in the same words. */
    aud_api_view self = {"this API", o->audiences.items, o->audiences.n,
                         o->issuers.items, o->issuers.n};
    aud_hint_context hint_context = {&self, NULL, 0, in->now};
    aud_hints_add(in->result, &hint_context);
    aud_verifier_destroy(v);
    aud_keyset_destroy(set);
}

static const char *verdict_word(const inspection *in)
{
    if (!aud_result_accepted(in->result))
        return "reject";
    return in->verify_mode ? "accept" : "unverified";
}

static const char *reason_words(const aud_result *r, int reason)
{
    const char *d = r->details[reason];
    return d != NULL ? d : aud_reason_summary((aud_reason)reason);
}

/* ---- text output ----------------------------------------------------------- */

/* Each phrase is "<before> <span><after>". */
typedef struct {
    const char *name;
    const char *future_before, *future_after;
    const char *past_before, *past_after;
} time_claim;

static const time_claim time_claims[] = {
    {"exp", "expires in", "", "expired", " ago"},
    {"nbf", "becomes valid in", "", "valid since", " ago"},
    {"iat", "issued", " in the future", "issued", " ago"},
};

static void print_time_claim(const time_claim *tc, const json_t *claims, double now)
{
    const json_t *value = json_object_get(claims, tc->name);
    if (value == NULL)
        return;
    printf("  %s  ", tc->name);
    if (!json_is_number(value)) {
        puts("(not a number, so not a time)");
        return;
    }
    double t = json_number_value(value);
    /* Beyond this the calendar conversion itself would overflow. */
    if (!(fabs(t) < 1e14)) {
        puts("(too far from now to be a date)");
        return;
    }
    char date[64], span[64];
    aud_time_format_rfc3339(t, date, sizeof date);
    double delta = t - now;
    aud_duration_format(fabs(delta), span, sizeof span);
    bool future = delta > 0;
    printf("%s  (%s %s%s)\n", date, future ? tc->future_before : tc->past_before, span,
           future ? tc->future_after : tc->past_after);
}

static void print_times(const json_t *claims, double now, bool at_given)
{
    if (claims == NULL)
        return;
    bool any = false;
    for (size_t i = 0; i < sizeof time_claims / sizeof time_claims[0]; i++)
        any = any || json_object_get(claims, time_claims[i].name) != NULL;
    if (!any)
        return;
    char date[64];
    aud_time_format_rfc3339(now, date, sizeof date);
    printf("times (UTC, relative to %s%s):\n", date, at_given ? ", from --at" : ", now");
    for (size_t i = 0; i < sizeof time_claims / sizeof time_claims[0]; i++)
        print_time_claim(&time_claims[i], claims, now);
}

static void print_json_block(const char *title, const json_t *value)
{
    printf("%s:\n", title);
    if (value == NULL) {
        puts("  (could not be decoded)");
        return;
    }
    /* jansson keeps the token's member order and escapes C0 controls inside
     * strings, so every newline in its output is its own layout. */
    char *text = json_dumps(value, JSON_INDENT(2));
    if (text == NULL)
        die_oom();
    put_escaped(stdout, text, true);
    fputc('\n', stdout);
    free(text);
}

static void print_reasons(const aud_result *r)
{
    int width = 0;
    for (int i = 1; i < AUD_REASON_COUNT; i++)
        if (aud_result_has(r, (aud_reason)i) && (int)strlen(aud_reason_code((aud_reason)i)) > width)
            width = (int)strlen(aud_reason_code((aud_reason)i));
    for (int i = 1; i < AUD_REASON_COUNT; i++) {
        if (!aud_result_has(r, (aud_reason)i))
            continue;
        printf("  %-*s  ", width, aud_reason_code((aud_reason)i));
        put_safe(stdout, reason_words(r, i));
        fputc('\n', stdout);
    }
}

static void print_hints(const aud_result *r)
{
    if (json_array_size(r->hints) == 0)
        return;
    puts("hints:");
    size_t i;
    json_t *hint;
    json_array_foreach(r->hints, i, hint) {
        printf("  - %s: ", json_string_value(json_object_get(hint, "code")));
        put_safe(stdout, json_string_value(json_object_get(hint, "text")));
        fputc('\n', stdout);
    }
}

static void print_verdict_text(const inspection *in)
{
    const aud_result *r = in->result;
    if (!in->verify_mode) {
        if (aud_result_accepted(r))
            puts("NOTHING WAS VERIFIED: no --key, --secret-file, --allow or --issuer was given,\n"
                 "so this only shows what the token claims about itself.");
        else
            puts("REJECT (cannot be decoded; nothing was verified)");
        print_reasons(r);
        return;
    }
    puts(aud_result_accepted(r) ? "ACCEPT" : "REJECT");
    print_reasons(r);
    print_hints(r);
    if (r->matched_audience != NULL) {
        fputs("audience: matched '", stdout);
        put_safe(stdout, r->matched_audience);
        puts("'");
    } else {
        puts("audience: none matched");
    }
    if (!r->signature_verified) {
        puts("signature: NOT verified (the header and claims below are unverified)");
    } else {
        fputs("signature: verified with ", stdout);
        put_safe(stdout, r->verified_by != NULL ? r->verified_by : "a configured key");
        fputc('\n', stdout);
    }
}

static void print_text(const inspection *in)
{
    const aud_result *r = in->result;
    print_verdict_text(in);
    if (r->token_id[0] != '\0')
        printf("token id: %s\n", r->token_id);
    if (r->header == NULL && r->claims == NULL)
        return;
    print_json_block("header", r->header);
    print_json_block(r->signature_verified ? "claims" : "claims (unverified)", r->claims);
    print_times(r->claims, in->now, in->at_given);
}

/* ---- JSON output ------------------------------------------------------------ */

/* jansson refuses invalid UTF-8; the core's details may quote raw token
 * bytes, so such a string is carried with its odd bytes replaced rather than
 * dropping the whole report. */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    size_t len = strlen(s);
    char *copy = xmalloc(len + 1);
    for (size_t i = 0; i <= len; i++)
        copy[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    j = json_string(copy);
    free(copy);
    return j;
}

static void set_new(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        die_oom();
}

static json_t *json_or_null(json_t *value)
{
    return value != NULL ? json_incref(value) : json_null();
}

static json_t *build_json(const inspection *in)
{
    const aud_result *r = in->result;
    json_t *root = json_object(), *reasons = json_array(), *details = json_object();
    if (root == NULL || reasons == NULL || details == NULL)
        die_oom();
    for (int i = 1; i < AUD_REASON_COUNT; i++) {
        if (!aud_result_has(r, (aud_reason)i))
            continue;
        if (json_array_append_new(reasons, json_string(aud_reason_code((aud_reason)i))) != 0)
            die_oom();
        set_new(details, aud_reason_code((aud_reason)i), json_text(reason_words(r, i)));
    }
    set_new(root, "verdict", json_string(verdict_word(in)));
    set_new(root, "reasons", reasons);
    set_new(root, "details", details);
    set_new(root, "header", json_or_null(r->header));
    set_new(root, "claims", json_or_null(r->claims));
    set_new(root, "matched", r->matched_audience != NULL ? json_text(r->matched_audience) : json_null());
    set_new(root, "hints", r->hints != NULL ? json_incref(r->hints) : json_array());
    set_new(root, "signature_verified", json_boolean(r->signature_verified));
    set_new(root, "token_id", json_string(r->token_id));
    return root;
}

static void print_json(const inspection *in)
{
    json_t *root = build_json(in);
    char *text = json_dumps(root, JSON_INDENT(2));
    if (text == NULL)
        die_oom();
    puts(text);
    free(text);
    json_decref(root);
}

/* ---- main ------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    token_buf t = {NULL, 0};
    read_token(&o, &t);

    inspection in;
    inspect(&o, &t, &in);
    if (o.json)
        print_json(&in);
    else
        print_text(&in);

    int status = aud_result_accepted(in.result) ? TOOL_EXIT_OK : TOOL_EXIT_FAIL;
    aud_result_free(in.result);
    free(t.text);
    free(o.audiences.items);
    free(o.issuers.items);
    free(o.key_files.items);
    /* A verdict that did not fully reach its reader must not look like one. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs(PROG ": cannot write the report\n", stderr);
        return TOOL_EXIT_USAGE;
    }
    return status;
}
