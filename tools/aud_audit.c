/* aud-audit: reads mod_auth_aud audit logs and says, per API, which
 * audiences arrived from which clients, what was rejected and why, and what
 * AudAllow should say.
 *
 * Input is cut into chunks of whole lines that worker threads parse and
 * count into their own tables, merged at the end. The main thread only
 * reads (and inflates) the input and collects per-chunk results in
 * input order, which is what lets malformed lines be reported with their
 * file and line number although they were found in parallel. A fixed ring
 * of chunk slots bounds what is in flight, so memory depends on the number
 * of distinct keys, not on the size of the input. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "aud_audit_tool.h"
#include "aud_time.h"

const char tool_prog[] = AA_PROG;

#define DEFAULT_CHUNK (4u * 1024 * 1024)
#define MAX_CHUNK (64u * 1024 * 1024)
#define MAX_THREADS 64
/* Relative times up to 100 years back. */
#define MAX_RELATIVE_MS (100LL * 366 * 86400 * 1000)

/* ---- options ---- */

typedef enum { OUT_TEXT, OUT_SUGGEST, OUT_JSON } out_mode;

typedef struct {
    const char **apis;
    size_t n_apis;
    unsigned decisions;
    const char *since_arg, *until_arg, *now_arg;
    out_mode mode;
    bool mode_given, text_given;
    const char *html_path;
    unsigned threads;
    size_t chunk;
    unsigned top;
    bool use_jansson;
    const char **files;
    size_t n_files;
} options;

static void print_usage(FILE *out)
{
    fputs("Usage: " AA_PROG " [OPTION]... [FILE]...\n"
          "Summarise mod_auth_aud audit logs per API: audiences, clients, decisions,\n"
          "reasons and hints; suggest AudAllow lines; write JSON or an HTML report.\n"
          "With no FILE, or when FILE is -, read standard input. Files may be gzip\n"
          "compressed; several files (rotated logs, several servers) are merged.\n"
          "\n"
          "Filters:\n"
          "  --api NAME            only this API (repeatable)\n"
          "  --since TIME          only records at or after TIME\n"
          "  --until TIME          only records before TIME\n"
          "                        TIME is RFC 3339 (2026-11-23T10:00:00Z, or a date)\n"
          "                        or relative to now: 90s, 30m, 24h, 7d, 2w\n"
          "  --decision LIST       only these decisions: accept, reject, audit_reject,\n"
          "                        preflight\n"
          "                        (comma-separated or repeated)\n"
          "Output (standard output; the default is the text report):\n"
          "  --suggest             the AudAllow line per API, and what not to allow\n"
          "  --json                the summary as one JSON document\n"
          "  --html FILE           also write a self-contained HTML report to FILE;\n"
          "                        standard output then stays empty unless --text,\n"
          "                        --suggest or --json is given\n"
          "  --text                the text report (with --html)\n"
          "  --top N               clients listed per audience (default 10)\n"
          "Other:\n"
          "  --now TIME            the time relative TIMEs count back from\n"
          "                        (RFC 3339; default: the current time)\n"
          "  --threads N           parsing threads (default: one per CPU, at most 8)\n"
          "  --chunk-size BYTES    input handed to a thread at once (default 4M;\n"
          "                        suffix K or M)\n"
          "  --parser fast|jansson the built-in scanner (default) or a full jansson\n"
          "                        parse of each line, to cross-check the scanner\n"
          "  -h, --help            this help\n"
          "\n"
          "Malformed lines are counted, reported (the first few, with file and line)\n"
          "and skipped. Exit status: 0 on success, 1 when an input could not be read\n"
          "(the report covers the rest), 2 for a usage error.\n",
          out);
}

/* Whole digits only: no sign, no spaces, no base prefixes. */
static bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static unsigned parse_count(const char *opt, const char *arg, unsigned min, unsigned max)
{
    uint64_t v;
    if (!parse_u64(arg, strlen(arg), max, &v) || v < min)
        usage_error("%s needs a whole number from %u to %u, not '%s'", opt, min, max, arg);
    return (unsigned)v;
}

static size_t parse_size(const char *arg)
{
    size_t n = strlen(arg);
    uint64_t mult = 1, v;
    if (n > 0 && (arg[n - 1] == 'K' || arg[n - 1] == 'k')) {
        mult = 1024;
        n--;
    } else if (n > 0 && (arg[n - 1] == 'M' || arg[n - 1] == 'm')) {
        mult = 1024 * 1024;
        n--;
    }
    if (!parse_u64(arg, n, MAX_CHUNK, &v) || v == 0 || v * mult > MAX_CHUNK)
        usage_error("--chunk-size needs a size from 1 byte to 64M (e.g. 4096, 512K, 4M), not '%s'", arg);
    return (size_t)(v * mult);
}

/* RFC 3339, or a span back from now ("24h"). */
static int64_t parse_time_arg(const char *opt, const char *arg, int64_t now_ms, bool allow_relative)
{
    int64_t ms;
    size_t n = strlen(arg);

    if (aud_time_parse_rfc3339(arg, n, &ms))
        return ms;
    if (allow_relative && n >= 2) {
        int64_t unit = 0;
        switch (arg[n - 1]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 86400 * 1000; break;
        case 'w': unit = 7LL * 86400 * 1000; break;
        default: break;
        }
        uint64_t v;
        if (unit && parse_u64(arg, n - 1, (uint64_t)(MAX_RELATIVE_MS / unit), &v))
            return now_ms - (int64_t)v * unit;
    }
    if (allow_relative)
        usage_error("%s needs an RFC 3339 time (2026-11-23T10:00:00Z, 2026-11-23) or a span back from now "
                    "(90s, 30m, 24h, 7d, 2w), not '%s'",
                    opt, arg);
    usage_error("%s needs an RFC 3339 time (2026-11-23T10:00:00Z), not '%s'", opt, arg);
}

static unsigned parse_decisions(const char *arg)
{
    unsigned bits = 0;
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;
        for (int d = 0; d < AA_NDECISIONS; d++) {
            if (strlen(aa_decision_names[d]) == n && memcmp(p, aa_decision_names[d], n) == 0)
                found = d;
        }
        if (found < 0)
            usage_error("--decision takes accept, reject or audit_reject (or preflight; comma-separated), not '%s'",
                        arg);
        bits |= 1u << found;
        if (!comma)
            break;
        p = comma + 1;
    }
    return bits;
}

enum {
    OPT_API = 256,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_DECISION,
    OPT_SUGGEST,
    OPT_JSON,
    OPT_HTML,
    OPT_TEXT,
    OPT_TOP,
    OPT_NOW,
    OPT_THREADS,
    OPT_CHUNK,
    OPT_PARSER,
};

static const struct option long_options[] = {
    {"api", required_argument, NULL, OPT_API},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"decision", required_argument, NULL, OPT_DECISION},
    {"suggest", no_argument, NULL, OPT_SUGGEST},
    {"json", no_argument, NULL, OPT_JSON},
    {"html", required_argument, NULL, OPT_HTML},
    {"text", no_argument, NULL, OPT_TEXT},
    {"top", required_argument, NULL, OPT_TOP},
    {"now", required_argument, NULL, OPT_NOW},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"chunk-size", required_argument, NULL, OPT_CHUNK},
    {"parser", required_argument, NULL, OPT_PARSER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void set_mode(options *o, out_mode m, const char *name)
{
    if (o->mode_given && o->mode != m)
        usage_error("%s cannot be combined with --%s", name, o->mode == OUT_JSON ? "json" : "suggest");
    o->mode = m;
    o->mode_given = true;
}

static void parse_options(int argc, char **argv, options *o)
{
    int ch;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    memset(o, 0, sizeof *o);
    o->threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned)ncpu;
    o->chunk = DEFAULT_CHUNK;
    o->top = 10;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (ch) {
        case OPT_API:
            if (*optarg == '\0')
                usage_error("--api needs an API name");
            o->apis = xrealloc(o->apis, (o->n_apis + 1) * sizeof *o->apis);
            o->apis[o->n_apis++] = optarg;
            break;
        case OPT_SINCE:
            if (o->since_arg)
                usage_error("--since may be given only once");
            o->since_arg = optarg;
            break;
        case OPT_UNTIL:
            if (o->until_arg)
                usage_error("--until may be given only once");
            o->until_arg = optarg;
            break;
        case OPT_NOW:
            if (o->now_arg)
                usage_error("--now may be given only once");
            o->now_arg = optarg;
            break;
        case OPT_DECISION: o->decisions |= parse_decisions(optarg); break;
        case OPT_SUGGEST: set_mode(o, OUT_SUGGEST, "--suggest"); break;
        case OPT_JSON: set_mode(o, OUT_JSON, "--json"); break;
        case OPT_TEXT: o->text_given = true; break;
        case OPT_HTML:
            if (o->html_path)
                usage_error("--html may be given only once");
            if (*optarg == '\0')
                usage_error("--html needs a file name");
            o->html_path = optarg;
            break;
        case OPT_TOP: o->top = parse_count("--top", optarg, 1, 100000); break;
        case OPT_THREADS: o->threads = parse_count("--threads", optarg, 1, MAX_THREADS); break;
        case OPT_CHUNK: o->chunk = parse_size(optarg); break;
        case OPT_PARSER:
            if (strcmp(optarg, "fast") == 0)
                o->use_jansson = false;
            else if (strcmp(optarg, "jansson") == 0)
                o->use_jansson = true;
            else
                usage_error("--parser takes fast or jansson, not '%s'", optarg);
            break;
        case 'h': print_usage(stdout); exit(TOOL_EXIT_OK);
        case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (o->text_given && o->mode_given)
        usage_error("--text cannot be combined with --%s", o->mode == OUT_JSON ? "json" : "suggest");
    if (o->html_path != NULL && strcmp(o->html_path, "-") == 0 && (o->text_given || o->mode_given))
        usage_error("--html - writes to standard output, which --%s also needs",
                    o->text_given ? "text" : o->mode == OUT_JSON ? "json" : "suggest");
    o->files = (const char **)(argv + optind);
    o->n_files = (size_t)(argc - optind);
}

/* ---- the pipeline ---- */

enum { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

typedef struct {
    uint64_t line; /* 0-based, within the chunk */
    char why[120];
} chunk_bad;

typedef struct {
    int state;
    uint64_t seq;
    size_t file;
    const char *data;
    size_t len;
    char *own; /* buffer for streamed input */
    size_t own_cap;
    bool too_long; /* stands for one line that exceeded AA_MAX_LINE */
    /* Results. */
    uint64_t lines, records, malformed, blank, filtered;
    size_t n_bad;
    chunk_bad bad[AA_MAX_BAD_EXAMPLES];
} slot;

typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    slot *slots;
    size_t n_slots;
    uint64_t next_seq, next_take, next_consume;
    bool finished;
    const aa_filter *filter;
    bool use_jansson;
    /* Consumer side (main thread). */
    aa_file_stat *files;
    aa_bad_line bad[AA_MAX_BAD_EXAMPLES];
    size_t n_bad;
} pipeline;

typedef struct {
    pipeline *pl;
    aa_agg *agg;
    char *scratch;
    size_t scratch_cap;
    aa_record rec;
    pthread_t thread;
} worker;

static void note_bad(slot *s, uint64_t line, const char *why)
{
    s->malformed++;
    if (s->n_bad < AA_MAX_BAD_EXAMPLES) {
        s->bad[s->n_bad].line = line;
        snprintf(s->bad[s->n_bad].why, sizeof s->bad[s->n_bad].why, "%s", why);
        s->n_bad++;
    }
}

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    }
    return true;
}

static void process_line(worker *w, slot *s, const char *p, size_t n, uint64_t line)
{
    const char *err;
    void *holder = NULL;
    char jerr[160];

    if (n > AA_MAX_LINE) {
        note_bad(s, line, "line longer than 1 MiB");
        return;
    }
    if (n == 0 || is_blank(p, n)) {
        s->blank++;
        return;
    }
    if (w->pl->use_jansson) {
        err = aa_scan_jansson(p, n, &w->rec, &holder, jerr, sizeof jerr);
    } else {
        if (n > w->scratch_cap) {
            free(w->scratch);
            w->scratch_cap = n < 65536 ? 65536 : n;
            w->scratch = xmalloc(w->scratch_cap);
        }
        err = aa_scan_fast(p, n, &w->rec, w->scratch);
    }
    if (err != NULL) {
        char why[120];
        snprintf(why, sizeof why, "not a JSON record: %s", err);
        note_bad(s, line, why);
    } else {
        const char *bad = NULL;
        switch (aa_agg_account(w->agg, &w->rec, w->pl->filter, &bad)) {
        case AA_COUNTED: s->records++; break;
        case AA_FILTERED:
            s->records++;
            s->filtered++;
            break;
        case AA_INVALID: note_bad(s, line, bad); break;
        }
    }
    if (holder != NULL)
        aa_scan_release(holder);
}

static void process_chunk(worker *w, slot *s)
{
    const char *p = s->data, *end = s->data + s->len;
    uint64_t line = 0;

    s->lines = s->records = s->malformed = s->blank = s->filtered = 0;
    s->n_bad = 0;
    if (s->too_long) {
        s->lines = 1;
        note_bad(s, 0, "line longer than 1 MiB");
        return;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        process_line(w, s, p, (size_t)(le - p), line);
        line++;
        p = nl ? nl + 1 : end;
    }
    s->lines = line;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    pipeline *pl = w->pl;

    pthread_mutex_lock(&pl->mu);
    for (;;) {
        slot *s = &pl->slots[pl->next_take % pl->n_slots];
        if (pl->next_take < pl->next_seq && s->state == SLOT_READY && s->seq == pl->next_take) {
            s->state = SLOT_BUSY;
            pl->next_take++;
            pthread_mutex_unlock(&pl->mu);
            process_chunk(w, s);
            pthread_mutex_lock(&pl->mu);
            s->state = SLOT_DONE;
            pthread_cond_broadcast(&pl->done);
            continue;
        }
        if (pl->finished && pl->next_take == pl->next_seq)
            break;
        pthread_cond_wait(&pl->work, &pl->mu);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* Takes in finished chunks in input order (lock held). */
static void consume_locked(pipeline *pl)
{
    for (;;) {
        slot *s = &pl->slots[pl->next_consume % pl->n_slots];
        if (pl->next_consume >= pl->next_seq || s->state != SLOT_DONE || s->seq != pl->next_consume)
            return;
        aa_file_stat *f = &pl->files[s->file];
        for (size_t i = 0; i < s->n_bad && pl->n_bad < AA_MAX_BAD_EXAMPLES; i++) {
            aa_bad_line *b = &pl->bad[pl->n_bad++];
            b->file = f->name;
            b->line = f->lines + s->bad[i].line + 1;
            memcpy(b->why, s->bad[i].why, sizeof b->why);
        }
        f->lines += s->lines;
        f->records += s->records;
        f->malformed += s->malformed;
        f->blank += s->blank;
        f->filtered += s->filtered;
        s->state = SLOT_FREE;
        pl->next_consume++;
    }
}

/* The slot that the next chunk goes into, once it is free. */
static slot *acquire_slot(pipeline *pl)
{
    pthread_mutex_lock(&pl->mu);
    slot *s = &pl->slots[pl->next_seq % pl->n_slots];
    for (;;) {
        consume_locked(pl);
        if (s->state == SLOT_FREE)
            break;
        pthread_cond_wait(&pl->done, &pl->mu);
    }
    pthread_mutex_unlock(&pl->mu);
    s->too_long = false;
    return s;
}

static void submit_slot(pipeline *pl, slot *s, size_t file)
{
    pthread_mutex_lock(&pl->mu);
    s->file = file;
    s->seq = pl->next_seq++;
    s->state = SLOT_READY;
    pthread_cond_broadcast(&pl->work);
    pthread_mutex_unlock(&pl->mu);
}

/* max_len: the largest chunk the caller can hand over. Buffers are made
 * that large at once, so that they are never replaced as chunk sizes vary
 * by a line (pages only count once they are written to). */
static void submit_copy(pipeline *pl, size_t file, const char *data, size_t len, size_t max_len, bool too_long)
{
    slot *s = acquire_slot(pl);
    if (s->own_cap < len) {
        size_t cap = len > max_len ? len : max_len;
        free(s->own);
        s->own_cap = cap;
        s->own = xmalloc(cap);
    }
    if (s->own == NULL) {
        s->own_cap = 1;
        s->own = xmalloc(1);
    }
    memcpy(s->own, data, len);
    s->data = s->own;
    s->len = len;
    s->too_long = too_long;
    submit_slot(pl, s, file);
}

/* The end of the chunk that starts at p: just past the first newline at
 * least chunk bytes in, or end. */
static const char *chunk_end(const char *p, const char *end, size_t chunk)
{
    if ((size_t)(end - p) <= chunk)
        return end;
    const char *nl = memchr(p + chunk - 1, '\n', (size_t)(end - (p + chunk - 1)));
    return nl ? nl + 1 : end;
}

/* ---- reading ---- */

typedef struct {
    int fd;
    bool gz, at_eof, z_live, trailing_garbage;
    z_stream z;
    unsigned char *in;
    size_t in_cap;
    size_t pending; /* plain input already read into in, not yet handed out */
    const char *error;
    const char *deferred_error;
} reader;

#define IN_CAP (256 * 1024)

/* At least two bytes (or EOF) so that a gzip header can be recognised, even
 * from a pipe that delivers a byte at a time. */
static bool reader_open(reader *r, int fd)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->in_cap = IN_CAP;
    r->in = xmalloc(r->in_cap);
    size_t got = 0;
    while (got < 2) {
        ssize_t n = read(fd, r->in + got, r->in_cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r->error = strerror(errno);
            return false;
        }
        if (n == 0) {
            r->at_eof = true;
            break;
        }
        got += (size_t)n;
    }
    if (got >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->gz = true;
        /* 16 + MAX_WBITS: a gzip wrapper, not zlib's. */
        if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
            r->error = "cannot start zlib";
            return false;
        }
        r->z_live = true;
        r->z.next_in = r->in;
        r->z.avail_in = (uInt)got;
    } else {
        r->pending = got;
    }
    return true;
}

static bool refill(reader *r)
{
    for (;;) {
        ssize_t n = read(r->fd, r->in, r->in_cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r->error = strerror(errno);
            return false;
        }
        if (n == 0)
            r->at_eof = true;
        r->z.next_in = r->in;
        r->z.avail_in = (uInt)n;
        return true;
    }
}

/* Up to cap bytes of (inflated) input; 0 at the end, -1 on an error (in
 * r->error). */
static ssize_t reader_read(reader *r, char *buf, size_t cap)
{
    if (!r->gz) {
        if (r->pending > 0) {
            size_t n = r->pending < cap ? r->pending : cap;
            memcpy(buf, r->in, n);
            memmove(r->in, r->in + n, r->pending - n);
            r->pending -= n;
            return (ssize_t)n;
        }
        for (;;) {
            ssize_t n = read(r->fd, buf, cap);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                r->error = strerror(errno);
            return n;
        }
    }
    if (r->deferred_error != NULL) {
        r->error = r->deferred_error;
        return -1;
    }
    if (!r->z_live)
        return 0;
    r->z.next_out = (unsigned char *)buf;
    r->z.avail_out = (uInt)(cap > (1u << 30) ? (1u << 30) : cap);
    while (r->z.avail_out > 0) {
        if (r->z.avail_in == 0 && !r->at_eof && !refill(r))
            return -1;
        if (r->z.avail_in == 0 && r->at_eof) {
            if (r->z.next_out == (unsigned char *)buf) {
                r->error = "the gzip data is truncated";
                return -1;
            }
            break;
        }
        int rc = inflate(&r->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            /* gzip files may be several members back to back (cat a.gz
             * b.gz); anything else after a member is ignored, as gzip does. */
            if (r->z.avail_in == 0 && !r->at_eof && !refill(r))
                return -1;
            if (r->z.avail_in == 0) {
                inflateEnd(&r->z);
                r->z_live = false;
                break;
            }
            if (r->z.avail_in >= 1 && r->z.next_in[0] != 0x1f) {
                r->trailing_garbage = true;
                inflateEnd(&r->z);
                r->z_live = false;
                break;
            }
            inflateReset(&r->z);
            continue;
        }
        if (rc == Z_BUF_ERROR)
            continue;
        if (rc != Z_OK) {
            const char *why = rc == Z_DATA_ERROR ? "the gzip data is corrupt" : "zlib failed";
            /* What was inflated before the damage is good data: hand it out
             * and report the error on the next call. */
            if (r->z.next_out != (unsigned char *)buf) {
                r->deferred_error = why;
                break;
            }
            r->error = why;
            return -1;
        }
    }
    return (ssize_t)((char *)r->z.next_out - buf);
}

static void reader_close(reader *r)
{
    if (r->z_live)
        inflateEnd(&r->z);
    free(r->in);
}

static void input_error(aa_file_stat *f, const char *what)
{
    fprintf(stderr, AA_PROG ": %s: %s\n", f->name, what);
    f->read_error = true;
}

/* A stream (pipe, gzip): read into a staging buffer, cut after the last
 * newline, copy whole lines into chunks. */
static void read_stream(pipeline *pl, size_t file, int fd, size_t chunk)
{
    aa_file_stat *f = &pl->files[file];
    reader r;
    size_t want = chunk < 65536 ? 65536 : chunk;
    size_t cap = AA_MAX_LINE + want + 1, have = 0;
    char *stage;
    bool skipping = false; /* dropping the rest of an overlong line */

    if (!reader_open(&r, fd)) {
        input_error(f, r.error);
        reader_close(&r);
        return;
    }
    stage = xmalloc(cap);
    bool need_more = false; /* a partial line waits for its newline */
    for (;;) {
        bool eof = false;
        /* Fill up to the chunk size, so that a pipe's small reads do not
         * become small chunks. */
        while (have < want || need_more) {
            need_more = false;
            ssize_t n = reader_read(&r, stage + have, cap - have);
            if (n < 0) {
                input_error(f, r.error);
                eof = true;
                break;
            }
            if (n == 0) {
                eof = true;
                break;
            }
            if (skipping) {
                char *nl = memchr(stage + have, '\n', (size_t)n);
                if (nl == NULL)
                    continue;
                size_t rest = (size_t)(stage + have + n - (nl + 1));
                memmove(stage + have, nl + 1, rest);
                n = (ssize_t)rest;
                skipping = false;
            }
            have += (size_t)n;
        }
        if (r.trailing_garbage) {
            fprintf(stderr, AA_PROG ": %s: ignoring data after the end of the gzip stream\n", f->name);
            r.trailing_garbage = false;
        }
        const char *last_nl = have ? memrchr(stage, '\n', have) : NULL;
        size_t done = eof ? have : last_nl ? (size_t)(last_nl + 1 - stage) : 0;
        for (const char *p = stage, *end = stage + done; p < end;) {
            const char *e = chunk_end(p, end, chunk);
            submit_copy(pl, file, p, (size_t)(e - p), cap, false);
            p = e;
        }
        memmove(stage, stage + done, have - done);
        have -= done;
        if (eof)
            break;
        if (have > AA_MAX_LINE) {
            submit_copy(pl, file, "", 0, cap, true);
            have = 0;
            skipping = true;
        } else if (done == 0) {
            need_more = true;
        }
    }
    free(stage);
    reader_close(&r);
}

/* Every input goes through read(), files included: a mapping would fault
 * (SIGBUS) if a live log were truncated under us by a copytruncate
 * rotation, and reading costs no more than mapping here. */
static void read_file(pipeline *pl, size_t file, const char *path, size_t chunk)
{
    aa_file_stat *f = &pl->files[file];
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;

    if (fd < 0) {
        input_error(f, strerror(errno));
        return;
    }
    if (fstat(fd, &st) != 0)
        input_error(f, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        input_error(f, "is a directory");
    else
        read_stream(pl, file, fd, chunk);
    if (!is_stdin)
        close(fd);
}

/* ---- main ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    options o;
    aa_filter filter;
    int64_t now;
    FILE *html = NULL;
    static const char *const stdin_only[] = {"-"};
    int status = TOOL_EXIT_OK;

    parse_options(argc, argv, &o);
    now = o.now_arg ? parse_time_arg("--now", o.now_arg, 0, false) : wall_ms();
    memset(&filter, 0, sizeof filter);
    filter.apis = o.apis;
    filter.n_apis = o.n_apis;
    filter.decisions = o.decisions;
    if (o.since_arg) {
        filter.has_since = true;
        filter.since_ms = parse_time_arg("--since", o.since_arg, now, true);
    }
    if (o.until_arg) {
        filter.has_until = true;
        filter.until_ms = parse_time_arg("--until", o.until_arg, now, true);
    }
    if (filter.has_since && filter.has_until && filter.since_ms >= filter.until_ms)
        usage_error("--since (%s) must be before --until (%s)", o.since_arg, o.until_arg);
    if (o.n_files == 0) {
        o.files = (const char **)stdin_only;
        o.n_files = 1;
    }
    if (o.html_path != NULL) {
        html = strcmp(o.html_path, "-") == 0 ? stdout : fopen(o.html_path, "w");
        if (html == NULL) {
            fprintf(stderr, AA_PROG ": cannot write %s: %s\n", o.html_path, strerror(errno));
            return TOOL_EXIT_USAGE;
        }
    }

    pipeline pl;
    memset(&pl, 0, sizeof pl);
    pthread_mutex_init(&pl.mu, NULL);
    pthread_cond_init(&pl.work, NULL);
    pthread_cond_init(&pl.done, NULL);
    pl.n_slots = 2 * (size_t)o.threads + 2;
    pl.slots = xcalloc(pl.n_slots, sizeof *pl.slots);
    pl.filter = &filter;
    pl.use_jansson = o.use_jansson;
    pl.files = xcalloc(o.n_files, sizeof *pl.files);
    for (size_t i = 0; i < o.n_files; i++)
        pl.files[i].name = strcmp(o.files[i], "-") == 0 ? "(standard input)" : o.files[i];

    worker *workers = xcalloc(o.threads, sizeof *workers);
    for (unsigned t = 0; t < o.threads; t++) {
        workers[t].pl = &pl;
        workers[t].agg = aa_agg_new();
        if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0) {
            fputs(AA_PROG ": cannot start a thread\n", stderr);
            return TOOL_EXIT_FAIL;
        }
    }
    for (size_t i = 0; i < o.n_files; i++)
        read_file(&pl, i, o.files[i], o.chunk);

    pthread_mutex_lock(&pl.mu);
    pl.finished = true;
    pthread_cond_broadcast(&pl.work);
    while (pl.next_consume < pl.next_seq) {
        consume_locked(&pl);
        if (pl.next_consume < pl.next_seq)
            pthread_cond_wait(&pl.done, &pl.mu);
    }
    pthread_mutex_unlock(&pl.mu);
    for (unsigned t = 0; t < o.threads; t++)
        pthread_join(workers[t].thread, NULL);
    for (unsigned t = 1; t < o.threads; t++) {
        aa_agg_merge(workers[0].agg, workers[t].agg);
        aa_agg_free(workers[t].agg);
        free(workers[t].scratch);
    }

    aa_report_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.filter = &filter;
    ctx.n_files = o.n_files;
    ctx.files = pl.files;
    for (size_t i = 0; i < o.n_files; i++) {
        ctx.lines += pl.files[i].lines;
        ctx.records += pl.files[i].records;
        ctx.malformed += pl.files[i].malformed;
        ctx.blank += pl.files[i].blank;
        ctx.filtered += pl.files[i].filtered;
        if (pl.files[i].read_error)
            status = TOOL_EXIT_FAIL;
    }
    ctx.n_bad = pl.n_bad;
    ctx.bad = pl.bad;
    ctx.top = o.top;
    ctx.generated_ms = now;

    if (ctx.malformed > 0) {
        for (size_t i = 0; i < ctx.n_bad; i++)
            fprintf(stderr, AA_PROG ": %s:%llu: skipped: %s\n", ctx.bad[i].file, (unsigned long long)ctx.bad[i].line,
                    ctx.bad[i].why);
        fprintf(stderr, AA_PROG ": %llu malformed line%s skipped in all\n", (unsigned long long)ctx.malformed,
                ctx.malformed == 1 ? "" : "s");
    }

    aa_summary *sum = aa_summary_build(workers[0].agg);
    int rc = 0;
    if (o.mode_given || o.text_given || html == NULL) {
        if (o.mode == OUT_JSON)
            rc = aa_report_json(stdout, sum, &ctx);
        else if (o.mode == OUT_SUGGEST)
            rc = aa_report_suggest(stdout, sum, &ctx);
        else
            rc = aa_report_text(stdout, sum, &ctx);
    }
    if (html != NULL) {
        int hrc = aa_report_html(html, sum, &ctx);
        if (html != stdout && fclose(html) != 0)
            hrc = -1;
        if (hrc != 0) {
            fprintf(stderr, AA_PROG ": cannot write %s\n", o.html_path);
            status = TOOL_EXIT_FAIL;
        }
    }
    if (rc != 0 || fflush(stdout) != 0) {
        fprintf(stderr, AA_PROG ": cannot write the report to standard output\n");
        status = TOOL_EXIT_FAIL;
    }
    aa_summary_free(sum);
    aa_agg_free(workers[0].agg);
    free(workers[0].scratch);
    for (size_t s = 0; s < pl.n_slots; s++)
        free(pl.slots[s].own);
    free(pl.slots);
    free(pl.files);
    free(workers);
    free(o.apis);
    pthread_mutex_destroy(&pl.mu);
    pthread_cond_destroy(&pl.work);
    pthread_cond_destroy(&pl.done);
    return status;
}
