/* Per-thread batches of audit records (see aud_audit_batch.h). */
#include "aud_audit_batch.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apr_file_io.h"
#include "apr_tables.h"

APLOG_USE_MODULE(auth_aud);

/* Large enough that a busy thread writes a few times a second, small
 * enough that fifty threads hold little. */
#define BATCH_BYTES (32 * 1024)

struct aud_audit_sink {
    apr_file_t *fd;
    const char *name;
    bool is_pipe;
    size_t index;
};

typedef struct {
    char *data; /* BATCH_BYTES, malloc'd on first use */
    size_t len;
} batch;

/* One worker thread's batches, one per sink. */
typedef struct gatherer {
    struct gatherer *next;
    /* The thread's appends against the flusher's writes; uncontended but
     * once a second. */
    pthread_mutex_t lock;
    unsigned generation;
    batch batches[];
} gatherer;

static apr_array_header_t *sinks; /* aud_audit_sink *, this configuration cycle's */

/* This process's flusher, and the list of every thread's batches. Only the
 * flusher and a thread's first record take registry_lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_flusher;
static gatherer *gatherers;
static size_t n_sinks;
static long interval;
static bool stopping;
static unsigned generation; /* one per child_init, so that a thread's old batches are not taken for new ones */
static volatile apr_uint32_t batching;
/* A plain thread, not an APR one: an APR thread's pool is a subpool of the
 * one it is made in, and pchild destroys its subpools before it runs its
 * cleanups, so the flusher's own pool would be gone before this file's
 * cleanup had stopped it. Made after the MPM blocked signals for every
 * thread but its own, it inherits that mask. */
static pthread_t flusher;
static bool flusher_running;
static server_rec *main_server;
static volatile apr_uint32_t last_write_fail_log;

static _Thread_local gatherer *mine;

void aud_audit_batch_pre_config(apr_pool_t *pconf)
{
    sinks = apr_array_make(pconf, 2, sizeof(aud_audit_sink *));
}

aud_audit_sink *aud_audit_sink_make(apr_pool_t *pconf, apr_file_t *fd, const char *name, bool is_pipe)
{
    aud_audit_sink *sink = apr_pcalloc(pconf, sizeof *sink);

    sink->fd = fd;
    sink->name = name;
    sink->is_pipe = is_pipe;
    sink->index = (size_t)sinks->nelts;
    APR_ARRAY_PUSH(sinks, aud_audit_sink *) = sink;
    return sink;
}

static const char *last_newline(const char *data, size_t len)
{
    while (len > 0) {
        if (data[--len] == '\n')
            return data + len;
    }
    return NULL;
}

/* Whole records only. A file opened for appending takes each write at its
 * end in one piece, whatever its size; a pipe only up to PIPE_BUF bytes,
 * so a batch goes to a piped logger in pieces that end at a record's end
 * (a single record longer than that cannot be kept whole anyway). */
static void write_out(const aud_audit_sink *sink, const char *data, size_t len)
{
    while (len > 0) {
        size_t n = len;
        if (sink->is_pipe && n > PIPE_BUF) {
            const char *cut = last_newline(data, PIPE_BUF);
            if (cut == NULL)
                cut = memchr(data + PIPE_BUF, '\n', len - PIPE_BUF);
            n = cut != NULL ? (size_t)(cut - data) + 1 : len;
        }
        apr_status_t rv = apr_file_write_full(sink->fd, data, n, NULL);
        if (rv != APR_SUCCESS && aud_rate_limit_ok(&last_write_fail_log))
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, main_server, AUDLOGNO(0004) "cannot write to the audit log %s",
                         sink->name);
        data += n;
        len -= n;
    }
}

static void flush_gatherer(gatherer *g)
{
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < n_sinks; i++) {
        if (g->batches[i].len > 0)
            write_out(APR_ARRAY_IDX(sinks, i, aud_audit_sink *), g->batches[i].data, g->batches[i].len);
        g->batches[i].len = 0;
    }
    pthread_mutex_unlock(&g->lock);
}

/* Called with registry_lock held. */
static void flush_all(void)
{
    for (gatherer *g = gatherers; g != NULL; g = g->next)
        flush_gatherer(g);
}

static void *flusher_main(void *data)
{
    (void)data;
    pthread_mutex_lock(&registry_lock);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += interval;
        while (!stopping && pthread_cond_timedwait(&wake_flusher, &registry_lock, &until) != ETIMEDOUT)
            ;
        flush_all();
    }
    pthread_mutex_unlock(&registry_lock);
    return NULL;
}

/* The process is going: what is gathered goes out, and later records
 * (a worker still finishing after an ungraceful stop) are written one by
 * one. The batches themselves are not freed: such a worker may still hold
 * its own. */
static apr_status_t batch_cleanup(void *data)
{
    (void)data;
    apr_atomic_set32(&batching, 0);
    pthread_mutex_lock(&registry_lock);
    stopping = true;
    pthread_cond_signal(&wake_flusher);
    pthread_mutex_unlock(&registry_lock);
    if (flusher_running)
        pthread_join(flusher, NULL);
    flusher_running = false;
    pthread_mutex_lock(&registry_lock);
    flush_all();
    gatherers = NULL;
    pthread_mutex_unlock(&registry_lock);
    return APR_SUCCESS;
}

void aud_audit_batch_child_init(apr_pool_t *pchild, server_rec *s, long interval_seconds)
{
    pthread_condattr_t attr;

    main_server = s; /* for write errors, batched or not */
    if (interval_seconds <= 0 || sinks == NULL || sinks->nelts == 0)
        return;
    pthread_mutex_lock(&registry_lock);
    n_sinks = (size_t)sinks->nelts;
    interval = interval_seconds;
    stopping = false;
    gatherers = NULL;
    generation++;
    pthread_mutex_unlock(&registry_lock);
    if (pthread_condattr_init(&attr) != 0)
        return;
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&wake_flusher, &attr) == 0;
    pthread_condattr_destroy(&attr);
    /* Without a flusher every record is written as its request ends. */
    if (!ok || pthread_create(&flusher, NULL, flusher_main, NULL) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUDLOGNO(0004) "cannot start the audit log's flusher thread: records are written one by one");
        return;
    }
    flusher_running = true;
    apr_pool_cleanup_register(pchild, NULL, batch_cleanup, apr_pool_cleanup_null);
    apr_atomic_set32(&batching, 1);
}

/* This thread's batches, made on its first record; NULL when batching is
 * off or memory is short. */
static gatherer *gatherer_of_this_thread(void)
{
    gatherer *g = mine;

    if (!apr_atomic_read32(&batching))
        return NULL;
    if (g != NULL && g->generation == generation)
        return g;
    g = calloc(1, sizeof *g + n_sinks * sizeof(batch));
    if (g == NULL || pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g);
        return NULL;
    }
    pthread_mutex_lock(&registry_lock);
    if (stopping) {
        pthread_mutex_unlock(&registry_lock);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    g->generation = generation;
    g->next = gatherers;
    gatherers = g;
    pthread_mutex_unlock(&registry_lock);
    mine = g;
    return g;
}

void aud_audit_sink_write(aud_audit_sink *sink, const char *line, size_t len)
{
    gatherer *g = gatherer_of_this_thread();
    batch *b;

    if (g == NULL || sink->index >= n_sinks) {
        write_out(sink, line, len);
        return;
    }
    b = &g->batches[sink->index];
    pthread_mutex_lock(&g->lock);
    /* The process's last flush may have passed this thread's batches
     * while it was on its way here. */
    if (!apr_atomic_read32(&batching)) {
        pthread_mutex_unlock(&g->lock);
        write_out(sink, line, len);
        return;
    }
    if (b->data == NULL)
        b->data = malloc(BATCH_BYTES);
    if (b->data != NULL && b->len + len > BATCH_BYTES) {
        write_out(sink, b->data, b->len);
        b->len = 0;
    }
    if (b->data == NULL || len > BATCH_BYTES) {
        write_out(sink, line, len);
    } else {
        memcpy(b->data + b->len, line, len);
        b->len += len;
    }
    pthread_mutex_unlock(&g->lock);
}
