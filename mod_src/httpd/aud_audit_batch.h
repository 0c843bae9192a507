/* Audit records gathered per worker thread and written in batches.
 *
 * One write(2) per record to a file every process appends to serialises
 * all of them on the file's lock in the kernel and costs a system call per
 * request; a batch per thread, written when it fills and at least every
 * AudAuditLogBuffer seconds by one flusher thread per process, costs a
 * memcpy per request. Records of one thread stay in their order; records
 * of different threads may be up to that interval apart in the file. */
#ifndef AUD_AUDIT_BATCH_H
#define AUD_AUDIT_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "aud_module.h"

/* Where records go: one per distinct AudAuditLog. */
typedef struct aud_audit_sink aud_audit_sink;

/* A new configuration cycle (pre_config): forget the last one's sinks. */
void aud_audit_batch_pre_config(apr_pool_t *pconf);

/* In post_config, for each opened log; name is as configured. */
aud_audit_sink *aud_audit_sink_make(apr_pool_t *pconf, apr_file_t *fd, const char *name, bool is_pipe);

/* In child_init: starts this process's flusher when interval_seconds > 0
 * and there is a sink, and writes out what is left when pchild goes. */
void aud_audit_batch_child_init(apr_pool_t *pchild, server_rec *s, long interval_seconds);

/* Writes one record (a whole line with its newline), now or with the
 * thread's next batch. */
void aud_audit_sink_write(aud_audit_sink *sink, const char *line, size_t len);

#endif
