/* Counting records, and turning the counts into a summary.
 *
 * Each worker thread owns one aggregate, so counting takes no lock. An
 * aggregate holds interned values and tables keyed by value ids:
 * "combos" (one per distinct api, audience list, client, matched audience,
 * reason list and decision), hourly buckets per API, hint counts, and
 * refusals per unmet requirement with the scopes and roles seen. Their
 * size grows with the number of distinct keys, never with the number of
 * lines, which is what keeps memory bounded however long the log is. */
#include <stdlib.h>
#include <string.h>

#include "aud_audit_tool.h"
#include "aud_time.h"

/* Room for one more element in an array holding n: the capacity is
 * implied (the next power of two), so the lists need no capacity field, and
 * growing by doubling keeps long lists (hint texts name clients, which
 * tokens choose) from being copied once per element. */
static void *grow(void *p, size_t n, size_t size)
{
    if (n == 0)
        return xrealloc(p, size);
    if ((n & (n - 1)) == 0)
        return xrealloc(p, 2 * n * size);
    return p;
}

/* A multiply-xorshift hash, eight bytes at a time: values are short and
 * hashed several times per line, so this is on the hot path. */
static uint64_t hash_bytes(const void *data, size_t n)
{
    const unsigned char *s = data;
    uint64_t h = 0x9E3779B97F4A7C15u ^ (n * 0xD6E8FEB86659FD93u);

    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9u;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t v = 0;
        memcpy(&v, s, n);
        h = (h ^ v) * 0xBF58476D1CE4E5B9u;
        h ^= h >> 31;
    }
    h *= 0x94D049BB133111EBu;
    h ^= h >> 29;
    /* 0 marks an empty slot. */
    return h ? h : 1;
}

/* ---- interned values ---- */

typedef struct block {
    struct block *next;
    size_t used, cap;
    unsigned char data[];
} block;

typedef struct {
    uint64_t hash;
    uint32_t id;
} islot;

typedef struct {
    islot *slots;
    size_t cap; /* a power of two */
    aa_val *vals;
    size_t n, vals_cap;
    block *blocks;
} strtab;

static unsigned char *arena_alloc(strtab *t, size_t n)
{
    block *b = t->blocks;
    if (b == NULL || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = xmalloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = t->blocks;
        t->blocks = b;
    }
    unsigned char *p = b->data + b->used;
    b->used += n;
    return p;
}

static void strtab_grow(strtab *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    islot *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].hash == 0)
            continue;
        size_t j = t->slots[i].hash & (cap - 1);
        while (slots[j].hash != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

static uint32_t intern(strtab *t, const unsigned char *p, size_t n)
{
    uint64_t h = hash_bytes(p, n);

    if ((t->n + 1) * 4 > t->cap * 3)
        strtab_grow(t);
    size_t j = h & (t->cap - 1);
    while (t->slots[j].hash != 0) {
        if (t->slots[j].hash == h) {
            const aa_val *v = &t->vals[t->slots[j].id];
            if (v->n == n && memcmp(v->p, p, n) == 0)
                return t->slots[j].id;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->n == t->vals_cap) {
        t->vals_cap = t->vals_cap ? t->vals_cap * 2 : 1024;
        t->vals = xrealloc(t->vals, t->vals_cap * sizeof *t->vals);
    }
    unsigned char *copy = arena_alloc(t, n);
    memcpy(copy, p, n);
    t->vals[t->n].p = copy;
    t->vals[t->n].n = (uint32_t)n;
    t->slots[j].hash = h;
    t->slots[j].id = (uint32_t)t->n;
    return (uint32_t)t->n++;
}

static void strtab_free(strtab *t)
{
    while (t->blocks != NULL) {
        block *next = t->blocks->next;
        free(t->blocks);
        t->blocks = next;
    }
    free(t->slots);
    free(t->vals);
    memset(t, 0, sizeof *t);
}

/* ---- fixed-size tables ---- */

/* Open addressing; a slot is the hash, the key, then the value, each part a
 * multiple of 8 bytes so that the structs inside stay aligned. Keys are
 * compared bytewise, so key structs are zeroed (padding included) first. */
typedef struct {
    unsigned char *slots;
    size_t cap, count, ksize, vsize, stride;
} table;

static void table_init(table *t, size_t ksize, size_t vsize)
{
    memset(t, 0, sizeof *t);
    t->ksize = ksize;
    t->vsize = vsize;
    t->stride = 8 + ksize + vsize;
}

static void table_grow(table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    unsigned char *slots = xcalloc(cap, t->stride);
    for (size_t i = 0; i < t->cap; i++) {
        unsigned char *s = t->slots + i * t->stride;
        uint64_t h;
        memcpy(&h, s, 8);
        if (h == 0)
            continue;
        size_t j = h & (cap - 1);
        for (;;) {
            uint64_t o;
            memcpy(&o, slots + j * t->stride, 8);
            if (o == 0)
                break;
            j = (j + 1) & (cap - 1);
        }
        memcpy(slots + j * t->stride, s, t->stride);
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

/* The value for key, created zeroed when absent. */
static void *table_get(table *t, const void *key)
{
    uint64_t h = hash_bytes(key, t->ksize);

    if ((t->count + 1) * 4 > t->cap * 3)
        table_grow(t);
    size_t j = h & (t->cap - 1);
    for (;;) {
        unsigned char *s = t->slots + j * t->stride;
        uint64_t o;
        memcpy(&o, s, 8);
        if (o == 0) {
            memcpy(s, &h, 8);
            memcpy(s + 8, key, t->ksize);
            t->count++;
            return s + 8 + t->ksize;
        }
        if (o == h && memcmp(s + 8, key, t->ksize) == 0)
            return s + 8 + t->ksize;
        j = (j + 1) & (t->cap - 1);
    }
}

/* Iteration: returns the next used slot at or after *i, or NULL. */
static unsigned char *table_next(const table *t, size_t *i)
{
    for (; *i < t->cap; (*i)++) {
        unsigned char *s = t->slots + *i * t->stride;
        uint64_t h;
        memcpy(&h, s, 8);
        if (h != 0) {
            (*i)++;
            return s + 8;
        }
    }
    return NULL;
}

static void table_free(table *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->count = 0;
}

/* ---- the aggregate ---- */

typedef struct {
    uint32_t api, aud, client, matched, reasons;
    uint32_t decision;
} combo_key;

typedef struct {
    uint64_t n;
    int64_t tmin, tmax;
    uint64_t modes;
} combo_val;

typedef struct {
    uint32_t api, pad;
    int64_t hour;
} bucket_key;

typedef struct {
    uint64_t n[AA_NDECISIONS];
    uint64_t pad;
} bucket_val;

typedef struct {
    uint32_t api, aud, client, code, text, pad;
} hint_key;

typedef struct {
    uint64_t n;
} hint_val;

/* Refusals per unmet requirement, and what the refused tokens carried:
 * keyed by value ids, so they grow with distinct requirements and scopes,
 * not with lines. */
typedef struct {
    uint32_t api, req, decision, pad;
} req_key;

typedef struct {
    uint32_t api, req, kind, value; /* kind 0: scope, 1: role */
} reqtok_key;

struct aa_agg {
    strtab strings;
    table combos, buckets, hints, reqs, reqtoks;
    unsigned char *buf; /* for building list values */
    size_t buf_cap;
};

const char *const aa_decision_names[AA_NDECISIONS] = {"accept", "reject", "audit_reject", "preflight"};

uint64_t aa_total(const uint64_t n[AA_NDECISIONS])
{
    uint64_t t = 0;
    for (int d = 0; d < AA_NDECISIONS; d++)
        t += n[d];
    return t;
}

aa_agg *aa_agg_new(void)
{
    aa_agg *a = xcalloc(1, sizeof *a);
    table_init(&a->combos, sizeof(combo_key), sizeof(combo_val));
    table_init(&a->buckets, sizeof(bucket_key), sizeof(bucket_val));
    table_init(&a->hints, sizeof(hint_key), sizeof(hint_val));
    table_init(&a->reqs, sizeof(req_key), sizeof(hint_val));
    table_init(&a->reqtoks, sizeof(reqtok_key), sizeof(hint_val));
    return a;
}

void aa_agg_free(aa_agg *a)
{
    if (a == NULL)
        return;
    strtab_free(&a->strings);
    table_free(&a->combos);
    table_free(&a->buckets);
    table_free(&a->hints);
    table_free(&a->reqs);
    table_free(&a->reqtoks);
    free(a->buf);
    free(a);
}

static unsigned char *buf_reserve(aa_agg *a, size_t n)
{
    if (n > a->buf_cap) {
        a->buf_cap = n > 4096 ? n : 4096;
        a->buf = xrealloc(a->buf, a->buf_cap);
    }
    return a->buf;
}

static uint32_t intern_null(aa_agg *a)
{
    static const unsigned char tag = 'N';
    return intern(&a->strings, &tag, 1);
}

static uint32_t intern_str(aa_agg *a, const aa_str *s)
{
    unsigned char *b = buf_reserve(a, s->n + 1);
    b[0] = 'S';
    memcpy(b + 1, s->p, s->n);
    return intern(&a->strings, b, s->n + 1);
}

static uint32_t intern_opt(aa_agg *a, const aa_opt *o)
{
    return o->is_str ? intern_str(a, &o->s) : intern_null(a);
}

static uint32_t intern_list(aa_agg *a, const aa_str *items, size_t n)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++)
        need += items[i].n + 5;
    unsigned char *b = buf_reserve(a, need), *o = b;
    *o++ = 'A';
    for (size_t i = 0; i < n; i++) {
        size_t len = items[i].n;
        do {
            unsigned char byte = len & 0x7F;
            len >>= 7;
            *o++ = byte | (len ? 0x80 : 0);
        } while (len);
        memcpy(o, items[i].p, items[i].n);
        o += items[i].n;
    }
    return intern(&a->strings, b, (size_t)(o - b));
}

bool aa_list_next(aa_val list, uint32_t *pos, aa_str *elem)
{
    size_t len = 0;
    unsigned shift = 0;

    if (list.n == 0 || list.p[0] != 'A' || *pos >= list.n)
        return false;
    for (;;) {
        unsigned char byte = list.p[(*pos)++];
        len |= (size_t)(byte & 0x7F) << shift;
        shift += 7;
        if (!(byte & 0x80))
            break;
    }
    elem->p = (const char *)list.p + *pos;
    elem->n = len;
    *pos += (uint32_t)len;
    return true;
}

static const char *const req_words[] = {"", "scope", "role", "claim", "client"};

/* The requirement as an 'A' list: its kind word, a claim's name, then the
 * wanted values. */
static uint32_t intern_req(aa_agg *a, const aa_record *r)
{
    aa_str items[AA_MAX_LIST + 2];
    size_t n = 0;

    items[n].p = req_words[r->req_kind];
    items[n++].n = strlen(req_words[r->req_kind]);
    if (r->req_kind == AA_REQ_CLAIM)
        items[n++] = r->req_claim;
    for (size_t i = 0; i < r->n_req_values; i++)
        items[n++] = r->req_values[i];
    return intern_list(a, items, n);
}

/* Each distinct scope (kind 0) or role (kind 1) of the record once. */
static void count_token_words(aa_agg *a, uint32_t api, uint32_t req, uint32_t kind, const aa_str *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = w[j].n == w[i].n && memcmp(w[j].p, w[i].p, w[i].n) == 0;
        if (dup)
            continue;
        reqtok_key tk;
        memset(&tk, 0, sizeof tk);
        tk.api = api;
        tk.req = req;
        tk.kind = kind;
        tk.value = intern_str(a, &w[i]);
        hint_val *v = table_get(&a->reqtoks, &tk);
        v->n++;
    }
}

static int decision_of(const aa_opt *d)
{
    if (!d->is_str)
        return -1;
    for (int i = 0; i < AA_NDECISIONS; i++) {
        size_t n = strlen(aa_decision_names[i]);
        if (d->s.n == n && memcmp(d->s.p, aa_decision_names[i], n) == 0)
            return i;
    }
    return -1;
}

static bool str_is(const aa_str *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->p, lit, n) == 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

aa_outcome aa_agg_account(aa_agg *a, const aa_record *r, const aa_filter *f, const char **why)
{
    int64_t t;
    int d = decision_of(&r->decision);

    if (d < 0) {
        *why = r->decision.is_str ? "unknown \"decision\"" : "no \"decision\"";
        return AA_INVALID;
    }
    if (!r->time.is_str) {
        *why = "no \"time\"";
        return AA_INVALID;
    }
    if (!aud_time_parse_rfc3339(r->time.s.p, r->time.s.n, &t)) {
        *why = "\"time\" is not an RFC 3339 time";
        return AA_INVALID;
    }
    if (f->decisions && !(f->decisions & (1u << d)))
        return AA_FILTERED;
    if ((f->has_since && t < f->since_ms) || (f->has_until && t >= f->until_ms))
        return AA_FILTERED;
    if (f->n_apis > 0) {
        bool hit = false;
        for (size_t i = 0; r->api.is_str && i < f->n_apis && !hit; i++)
            hit = str_is(&r->api.s, f->apis[i]);
        if (!hit)
            return AA_FILTERED;
    }

    combo_key k;
    memset(&k, 0, sizeof k);
    k.api = intern_opt(a, &r->api);
    k.aud = r->aud_is_list ? intern_list(a, r->aud, r->n_aud) : intern_null(a);
    k.client = intern_opt(a, &r->client);
    k.matched = intern_opt(a, &r->matched);
    /* "ok" is the code for "no reason" (what AUD_REASON says for an
     * accepted request); a record that lists it has no failure to count. */
    aa_str reasons[AA_MAX_LIST];
    size_t n_reasons = 0;
    for (size_t i = 0; i < r->n_reasons; i++) {
        if (!str_is(&r->reasons[i], "ok"))
            reasons[n_reasons++] = r->reasons[i];
    }
    k.reasons = intern_list(a, reasons, n_reasons);
    k.decision = (uint32_t)d;
    combo_val *cv = table_get(&a->combos, &k);
    if (cv->n == 0 || t < cv->tmin)
        cv->tmin = t;
    if (cv->n == 0 || t > cv->tmax)
        cv->tmax = t;
    cv->n++;
    if (r->mode.is_str)
        cv->modes |= str_is(&r->mode.s, "enforce") ? AA_MODE_ENFORCE
                     : str_is(&r->mode.s, "audit") ? AA_MODE_AUDIT
                                                   : AA_MODE_OTHER;

    bucket_key bk;
    memset(&bk, 0, sizeof bk);
    bk.api = k.api;
    bk.hour = floor_div(t, 3600000);
    bucket_val *bv = table_get(&a->buckets, &bk);
    bv->n[d]++;

    for (size_t i = 0; i < r->n_hints; i++) {
        const aa_hint *h = &r->hints[i];
        bool dup = false;
        /* The same hint twice in one record still describes one request. */
        for (size_t j = 0; j < i && !dup; j++) {
            const aa_hint *o = &r->hints[j];
            dup = o->code.n == h->code.n && memcmp(o->code.p, h->code.p, h->code.n) == 0 &&
                  o->text.is_str == h->text.is_str &&
                  (!h->text.is_str ||
                   (o->text.s.n == h->text.s.n && memcmp(o->text.s.p, h->text.s.p, h->text.s.n) == 0));
        }
        if (dup)
            continue;
        hint_key hk;
        memset(&hk, 0, sizeof hk);
        hk.api = k.api;
        hk.aud = k.aud;
        hk.client = k.client;
        hk.code = intern_str(a, &h->code);
        hk.text = intern_opt(a, &h->text);
        hint_val *hv = table_get(&a->hints, &hk);
        hv->n++;
    }

    if (r->req_kind != AA_REQ_NONE && (d == AA_REJECT || d == AA_AUDIT_REJECT)) {
        req_key rk;
        memset(&rk, 0, sizeof rk);
        rk.api = k.api;
        rk.req = intern_req(a, r);
        rk.decision = (uint32_t)d;
        hint_val *rv = table_get(&a->reqs, &rk);
        rv->n++;
        count_token_words(a, k.api, rk.req, 0, r->scopes, r->n_scopes);
        count_token_words(a, k.api, rk.req, 1, r->roles, r->n_roles);
    }
    return AA_COUNTED;
}

void aa_agg_merge(aa_agg *dst, aa_agg *src)
{
    uint32_t *map = xmalloc((src->strings.n ? src->strings.n : 1) * sizeof *map);
    size_t i;
    unsigned char *s;

    for (size_t j = 0; j < src->strings.n; j++)
        map[j] = intern(&dst->strings, src->strings.vals[j].p, src->strings.vals[j].n);

    i = 0;
    while ((s = table_next(&src->combos, &i)) != NULL) {
        combo_key k;
        combo_val v;
        memcpy(&k, s, sizeof k);
        memcpy(&v, s + sizeof k, sizeof v);
        k.api = map[k.api];
        k.aud = map[k.aud];
        k.client = map[k.client];
        k.matched = map[k.matched];
        k.reasons = map[k.reasons];
        combo_val *d = table_get(&dst->combos, &k);
        if (d->n == 0 || v.tmin < d->tmin)
            d->tmin = v.tmin;
        if (d->n == 0 || v.tmax > d->tmax)
            d->tmax = v.tmax;
        d->n += v.n;
        d->modes |= v.modes;
    }
    i = 0;
    while ((s = table_next(&src->buckets, &i)) != NULL) {
        bucket_key k;
        bucket_val v;
        memcpy(&k, s, sizeof k);
        memcpy(&v, s + sizeof k, sizeof v);
        k.api = map[k.api];
        bucket_val *d = table_get(&dst->buckets, &k);
        for (int x = 0; x < AA_NDECISIONS; x++)
            d->n[x] += v.n[x];
    }
    i = 0;
    while ((s = table_next(&src->hints, &i)) != NULL) {
        hint_key k;
        hint_val v;
        memcpy(&k, s, sizeof k);
        memcpy(&v, s + sizeof k, sizeof v);
        k.api = map[k.api];
        k.aud = map[k.aud];
        k.client = map[k.client];
        k.code = map[k.code];
        k.text = map[k.text];
        hint_val *d = table_get(&dst->hints, &k);
        d->n += v.n;
    }
    i = 0;
    while ((s = table_next(&src->reqs, &i)) != NULL) {
        req_key k;
        hint_val v;
        memcpy(&k, s, sizeof k);
        memcpy(&v, s + sizeof k, sizeof v);
        k.api = map[k.api];
        k.req = map[k.req];
        hint_val *d = table_get(&dst->reqs, &k);
        d->n += v.n;
    }
    i = 0;
    while ((s = table_next(&src->reqtoks, &i)) != NULL) {
        reqtok_key k;
        hint_val v;
        memcpy(&k, s, sizeof k);
        memcpy(&v, s + sizeof k, sizeof v);
        k.api = map[k.api];
        k.req = map[k.req];
        k.value = map[k.value];
        hint_val *d = table_get(&dst->reqtoks, &k);
        d->n += v.n;
    }
    free(map);
    strtab_free(&src->strings);
    table_free(&src->combos);
    table_free(&src->buckets);
    table_free(&src->hints);
    table_free(&src->reqs);
    table_free(&src->reqtoks);
}

/* ---- the summary ---- */

static int val_cmp(aa_val a, aa_val b)
{
    size_t n = a.n < b.n ? a.n : b.n;
    int c = memcmp(a.p, b.p, n);
    if (c != 0)
        return c;
    return (a.n > b.n) - (a.n < b.n);
}

typedef struct {
    combo_key k;
    combo_val v;
    uint32_t api_rank;
} combo_row;

static const strtab *sort_strings; /* for the qsort comparators below */

static int api_order(uint32_t a, uint32_t b)
{
    aa_val va = sort_strings->vals[a], vb = sort_strings->vals[b];
    bool na = va.p[0] == 'N', nb = vb.p[0] == 'N';
    if (na != nb)
        return na ? 1 : -1;
    return val_cmp(va, vb);
}

static int cmp_api_ids(const void *x, const void *y)
{
    return api_order(*(const uint32_t *)x, *(const uint32_t *)y);
}

static int cmp_combo(const void *x, const void *y)
{
    const combo_row *a = x, *b = y;
    if (a->api_rank != b->api_rank)
        return a->api_rank < b->api_rank ? -1 : 1;
    if (a->k.aud != b->k.aud)
        return a->k.aud < b->k.aud ? -1 : 1;
    if (a->k.client != b->k.client)
        return a->k.client < b->k.client ? -1 : 1;
    return 0;
}

static void vcount_add(aa_vcount **list, size_t *n, aa_val v, uint64_t count)
{
    for (size_t i = 0; i < *n; i++) {
        if ((*list)[i].v.p == v.p) {
            (*list)[i].n += count;
            return;
        }
    }
    *list = grow(*list, *n, sizeof **list);
    (*list)[*n].v = v;
    (*list)[*n].n = count;
    (*n)++;
}

static int cmp_vcount(const void *x, const void *y)
{
    const aa_vcount *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return val_cmp(a->v, b->v);
}

static uint64_t rejected_of(const uint64_t n[AA_NDECISIONS])
{
    return n[AA_REJECT] + n[AA_AUDIT_REJECT];
}

static int cmp_client(const void *x, const void *y)
{
    const aa_client_sum *a = x, *b = y;
    uint64_t ra = rejected_of(a->n), rb = rejected_of(b->n);
    uint64_t ta = ra + a->n[AA_ACCEPT], tb = rb + b->n[AA_ACCEPT];
    if (ra != rb)
        return ra > rb ? -1 : 1;
    if (ta != tb)
        return ta > tb ? -1 : 1;
    return val_cmp(a->client, b->client);
}

static int cmp_aud(const void *x, const void *y)
{
    const aa_aud_sum *a = x, *b = y;
    if (a->requests != b->requests)
        return a->requests > b->requests ? -1 : 1;
    return val_cmp(a->aud, b->aud);
}

static int cmp_text(const void *x, const void *y)
{
    const aa_text_count *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return val_cmp(a->text, b->text);
}

static int cmp_hint(const void *x, const void *y)
{
    const aa_hint_sum *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return val_cmp(a->code, b->code);
}

static void sort_hints(aa_hint_sum *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sort_n(h[i].texts, h[i].n_texts, sizeof *h[i].texts, cmp_text);
    sort_n(h, n, sizeof *h, cmp_hint);
}

typedef struct {
    uint32_t api_rank, aud, client, code, text;
    uint64_t n;
} hint_row;

static int u32cmp(uint32_t a, uint32_t b)
{
    return (a > b) - (a < b);
}

/* Rows of one group (level 0: API, 1: audience, 2: client) compare equal. */
static int hint_row_cmp_level(const hint_row *a, const hint_row *b, int level)
{
    int c = u32cmp(a->api_rank, b->api_rank);
    if (c == 0 && level >= 1)
        c = u32cmp(a->aud, b->aud);
    if (c == 0 && level >= 2)
        c = u32cmp(a->client, b->client);
    return c;
}

static int hint_level; /* for cmp_hint_row, set before each qsort */

static int cmp_hint_row(const void *x, const void *y)
{
    const hint_row *a = x, *b = y;
    int c = hint_row_cmp_level(a, b, hint_level);
    if (c == 0)
        c = u32cmp(a->code, b->code);
    if (c == 0)
        c = u32cmp(a->text, b->text);
    return c;
}

/* One group's rows, sorted by code then text: runs become entries. */
static void build_hint_list(const aa_agg *a, const hint_row *r, size_t n, aa_hint_sum **list, size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || r[i].code != r[i - 1].code) {
            *list = grow(*list, *count, sizeof **list);
            aa_hint_sum *h = &(*list)[(*count)++];
            memset(h, 0, sizeof *h);
            h->code = a->strings.vals[r[i].code];
        }
        aa_hint_sum *h = &(*list)[*count - 1];
        h->n += r[i].n;
        if (h->n_texts == 0 || r[i].text != r[i - 1].text || r[i].code != r[i - 1].code) {
            h->texts = grow(h->texts, h->n_texts, sizeof *h->texts);
            h->texts[h->n_texts].text = a->strings.vals[r[i].text];
            h->texts[h->n_texts].n = 0;
            h->n_texts++;
        }
        h->texts[h->n_texts - 1].n += r[i].n;
    }
}

static int cmp_bucket(const void *x, const void *y)
{
    const aa_bucket *a = x, *b = y;
    return (a->start_ms > b->start_ms) - (a->start_ms < b->start_ms);
}

/* Bucket widths for the timeline: the first that keeps the chart readable.
 * Hours and days are what people ask for; the wider ones only keep a log
 * with a stray ancient timestamp from drawing thousands of bars. */
static int64_t bucket_width(int64_t first_hour, int64_t last_hour)
{
    static const int64_t hours[] = {1, 24, 24 * 7, 24 * 30, 24 * 365};
    int64_t span = last_hour - first_hour + 1;
    for (size_t i = 0; i < sizeof hours / sizeof hours[0]; i++) {
        if (span <= (i == 0 ? 24 * 7 : 400 * hours[i]))
            return hours[i] * 3600000;
    }
    return hours[4] * 3600000;
}

static int cmp_req(const void *x, const void *y)
{
    const aa_req_sum *a = x, *b = y;
    uint64_t ra = rejected_of(a->n), rb = rejected_of(b->n);
    if (ra != rb)
        return ra > rb ? -1 : 1;
    return val_cmp(a->req, b->req);
}

typedef struct {
    uint32_t api, req;
} req_at_key;

typedef struct {
    uint64_t index;
} req_at_val;

/* Unmet requirements per API, each with the scopes and roles its refused
 * tokens carried. Every (API, requirement, kind, value) row is distinct, so
 * entries are appended without searching and sorted afterwards. */
static void build_reqs(aa_agg *a, aa_summary *sum, const uint32_t *rank)
{
    table at;
    size_t i = 0;
    unsigned char *s;

    table_init(&at, sizeof(req_at_key), sizeof(req_at_val));
    while ((s = table_next(&a->reqs, &i)) != NULL) {
        req_key rk;
        hint_val v;
        memcpy(&rk, s, sizeof rk);
        memcpy(&v, s + sizeof rk, sizeof v);
        aa_api_sum *api = &sum->apis[rank[rk.api]];
        req_at_key ak;
        memset(&ak, 0, sizeof ak);
        ak.api = rk.api;
        ak.req = rk.req;
        req_at_val *pos = table_get(&at, &ak);
        if (pos->index == 0) {
            api->reqs = grow(api->reqs, api->n_reqs, sizeof *api->reqs);
            memset(&api->reqs[api->n_reqs], 0, sizeof *api->reqs);
            api->reqs[api->n_reqs].req = a->strings.vals[rk.req];
            pos->index = ++api->n_reqs;
        }
        api->reqs[pos->index - 1].n[rk.decision] += v.n;
    }
    i = 0;
    while ((s = table_next(&a->reqtoks, &i)) != NULL) {
        reqtok_key tk;
        hint_val v;
        memcpy(&tk, s, sizeof tk);
        memcpy(&v, s + sizeof tk, sizeof v);
        req_at_key ak;
        memset(&ak, 0, sizeof ak);
        ak.api = tk.api;
        ak.req = tk.req;
        req_at_val *pos = table_get(&at, &ak);
        if (pos->index == 0)
            continue; /* cannot happen: every token row has its requirement */
        aa_req_sum *q = &sum->apis[rank[tk.api]].reqs[pos->index - 1];
        aa_vcount **list = tk.kind == 0 ? &q->scopes : &q->roles;
        size_t *n = tk.kind == 0 ? &q->n_scopes : &q->n_roles;
        *list = grow(*list, *n, sizeof **list);
        (*list)[*n].v = a->strings.vals[tk.value];
        (*list)[*n].n = v.n;
        (*n)++;
    }
    table_free(&at);
    for (size_t x = 0; x < sum->n_apis; x++) {
        aa_api_sum *api = &sum->apis[x];
        for (size_t q = 0; q < api->n_reqs; q++) {
            sort_n(api->reqs[q].scopes, api->reqs[q].n_scopes, sizeof *api->reqs[q].scopes, cmp_vcount);
            sort_n(api->reqs[q].roles, api->reqs[q].n_roles, sizeof *api->reqs[q].roles, cmp_vcount);
        }
        sort_n(api->reqs, api->n_reqs, sizeof *api->reqs, cmp_req);
    }
}

aa_summary *aa_summary_build(aa_agg *a)
{
    aa_summary *sum = xcalloc(1, sizeof *sum);
    size_t n = a->combos.count, i = 0, k = 0;
    combo_row *rows = xcalloc(n, sizeof *rows);
    unsigned char *s;
    uint32_t *rank;
    uint32_t *api_ids;
    size_t n_apis = 0;
    uint32_t null_id = intern_null(a);

    (void)null_id;
    while ((s = table_next(&a->combos, &i)) != NULL) {
        memcpy(&rows[k].k, s, sizeof rows[k].k);
        memcpy(&rows[k].v, s + sizeof(combo_key), sizeof rows[k].v);
        k++;
    }

    /* Reason codes are interned one by one below, so the table may grow:
     * intern them first, before anything keeps pointers to value slots. */
    for (size_t r = 0; r < n; r++) {
        uint32_t pos = 1;
        aa_str e;
        aa_val list = a->strings.vals[rows[r].k.reasons];
        while (aa_list_next(list, &pos, &e))
            intern_str(a, &e);
    }

    rank = xcalloc(a->strings.n, sizeof *rank);
    api_ids = xcalloc(n, sizeof *api_ids);
    for (size_t r = 0; r < n; r++) {
        uint32_t id = rows[r].k.api;
        if (rank[id] == 0) {
            rank[id] = 1;
            api_ids[n_apis++] = id;
        }
    }
    sort_strings = &a->strings;
    sort_n(api_ids, n_apis, sizeof *api_ids, cmp_api_ids);
    for (size_t x = 0; x < n_apis; x++)
        rank[api_ids[x]] = (uint32_t)x;
    for (size_t r = 0; r < n; r++)
        rows[r].api_rank = rank[rows[r].k.api];
    sort_n(rows, n, sizeof *rows, cmp_combo);

    sum->n_apis = n_apis;
    sum->apis = xcalloc(n_apis, sizeof *sum->apis);
    for (size_t x = 0; x < n_apis; x++)
        sum->apis[x].api = a->strings.vals[api_ids[x]];

    /* One pass over the sorted rows: each API's rows, and within them each
     * audience's, are contiguous. */
    for (size_t r = 0; r < n;) {
        aa_api_sum *api = &sum->apis[rows[r].api_rank];
        size_t end = r;
        while (end < n && rows[end].api_rank == rows[r].api_rank)
            end++;
        api->first_ms = rows[r].v.tmin;
        api->last_ms = rows[r].v.tmax;
        for (size_t q = r; q < end;) {
            size_t aend = q;
            while (aend < end && rows[aend].k.aud == rows[q].k.aud)
                aend++;
            api->auds = grow(api->auds, api->n_auds, sizeof *api->auds);
            aa_aud_sum *au = &api->auds[api->n_auds++];
            memset(au, 0, sizeof *au);
            au->aud = a->strings.vals[rows[q].k.aud];
            au->id = rows[q].k.aud;
            for (size_t c = q; c < aend; c++) {
                const combo_row *row = &rows[c];
                uint64_t cnt = row->v.n;
                aa_val matched = a->strings.vals[row->k.matched];
                au->n[row->k.decision] += cnt;
                api->n[row->k.decision] += cnt;
                api->modes |= (unsigned)row->v.modes;
                if (row->v.tmin < api->first_ms)
                    api->first_ms = row->v.tmin;
                if (row->v.tmax > api->last_ms)
                    api->last_ms = row->v.tmax;
                if (matched.p[0] == 'S') {
                    au->allowed = true;
                    vcount_add(&au->matched, &au->n_matched, matched, cnt);
                    if (row->k.decision == AA_ACCEPT)
                        vcount_add(&api->allow, &api->n_allow, matched, cnt);
                }
                /* Each distinct reason of the record counts once. */
                uint32_t pos = 1;
                aa_str e;
                aa_val list = a->strings.vals[row->k.reasons];
                uint32_t seen[AA_MAX_LIST];
                size_t n_seen = 0;
                while (aa_list_next(list, &pos, &e)) {
                    uint32_t id = intern_str(a, &e);
                    bool dup = false;
                    for (size_t z = 0; z < n_seen && !dup; z++)
                        dup = seen[z] == id;
                    if (dup || n_seen >= AA_MAX_LIST)
                        continue;
                    seen[n_seen++] = id;
                    vcount_add(&au->reasons, &au->n_reasons, a->strings.vals[id], cnt);
                    vcount_add(&api->reasons, &api->n_reasons, a->strings.vals[id], cnt);
                }
                if (c == q || row->k.client != rows[c - 1].k.client) {
                    au->clients = grow(au->clients, au->n_clients, sizeof *au->clients);
                    memset(&au->clients[au->n_clients], 0, sizeof *au->clients);
                    au->clients[au->n_clients].client = a->strings.vals[row->k.client];
                    au->clients[au->n_clients].id = row->k.client;
                    au->n_clients++;
                }
                aa_client_sum *cl = &au->clients[au->n_clients - 1];
                cl->n[row->k.decision] += cnt;
                for (size_t z = 0; z < n_seen; z++)
                    vcount_add(&cl->reasons, &cl->n_reasons, a->strings.vals[seen[z]], cnt);
            }
            au->requests = aa_total(au->n);
            q = aend;
        }
        api->requests = aa_total(api->n);
        for (int d = 0; d < AA_NDECISIONS; d++)
            sum->n[d] += api->n[d];
        r = end;
    }
    sum->requests = aa_total(sum->n);

    /* Hints, grouped per API, per audience and per client. Hint texts name
     * clients, which tokens choose, so there may be very many: grouping is
     * done by sorting, never by searching lists. */
    size_t n_hints = a->hints.count;
    hint_row *hrows = xcalloc(n_hints, sizeof *hrows);
    i = 0;
    k = 0;
    while ((s = table_next(&a->hints, &i)) != NULL) {
        hint_key hk;
        hint_val hv;
        memcpy(&hk, s, sizeof hk);
        memcpy(&hv, s + sizeof hk, sizeof hv);
        hrows[k].api_rank = rank[hk.api];
        hrows[k].aud = hk.aud;
        hrows[k].client = hk.client;
        hrows[k].code = hk.code;
        hrows[k].text = hk.text;
        hrows[k].n = hv.n;
        k++;
    }
    uint32_t *aud_at = xcalloc(a->strings.n, sizeof *aud_at);
    uint32_t *client_at = xcalloc(a->strings.n, sizeof *client_at);
    for (int level = 0; level < 3; level++) {
        hint_level = level;
        sort_n(hrows, n_hints, sizeof *hrows, cmp_hint_row);
        for (size_t h = 0; h < n_hints;) {
            aa_api_sum *api = &sum->apis[hrows[h].api_rank];
            size_t end = h;
            while (end < n_hints && hint_row_cmp_level(&hrows[end], &hrows[h], level) == 0)
                end++;
            aa_hint_sum **list;
            size_t *count;
            if (level == 0) {
                list = &api->hints;
                count = &api->n_hints;
            } else {
                for (size_t z = 0; z < api->n_auds; z++)
                    aud_at[api->auds[z].id] = (uint32_t)z;
                aa_aud_sum *au = &api->auds[aud_at[hrows[h].aud]];
                if (level == 1) {
                    list = &au->hints;
                    count = &au->n_hints;
                } else {
                    for (size_t z = 0; z < au->n_clients; z++)
                        client_at[au->clients[z].id] = (uint32_t)z;
                    aa_client_sum *cl = &au->clients[client_at[hrows[h].client]];
                    list = &cl->hints;
                    count = &cl->n_hints;
                }
            }
            build_hint_list(a, hrows + h, end - h, list, count);
            h = end;
        }
    }
    free(aud_at);
    free(client_at);
    free(hrows);

    build_reqs(a, sum, rank);

    /* Timelines. */
    for (size_t x = 0; x < n_apis; x++) {
        aa_api_sum *api = &sum->apis[x];
        int64_t h0 = floor_div(api->first_ms, 3600000), h1 = floor_div(api->last_ms, 3600000);
        api->bucket_ms = bucket_width(h0, h1);
    }
    i = 0;
    while ((s = table_next(&a->buckets, &i)) != NULL) {
        bucket_key bk;
        bucket_val bv;
        memcpy(&bk, s, sizeof bk);
        memcpy(&bv, s + sizeof bk, sizeof bv);
        aa_api_sum *api = &sum->apis[rank[bk.api]];
        int64_t start = floor_div(bk.hour * 3600000, api->bucket_ms) * api->bucket_ms;
        api->buckets = grow(api->buckets, api->n_buckets, sizeof *api->buckets);
        api->buckets[api->n_buckets].start_ms = start;
        memcpy(api->buckets[api->n_buckets].n, bv.n, sizeof bv.n);
        api->n_buckets++;
    }

    for (size_t x = 0; x < n_apis; x++) {
        aa_api_sum *api = &sum->apis[x];
        /* Hourly entries that fell into one wider bucket become one. */
        sort_n(api->buckets, api->n_buckets, sizeof *api->buckets, cmp_bucket);
        size_t w = 0;
        for (size_t b = 0; b < api->n_buckets; b++) {
            if (w > 0 && api->buckets[w - 1].start_ms == api->buckets[b].start_ms) {
                for (int d = 0; d < AA_NDECISIONS; d++)
                    api->buckets[w - 1].n[d] += api->buckets[b].n[d];
            } else {
                api->buckets[w++] = api->buckets[b];
            }
        }
        api->n_buckets = w;
        sort_n(api->auds, api->n_auds, sizeof *api->auds, cmp_aud);
        for (size_t z = 0; z < api->n_auds; z++) {
            aa_aud_sum *au = &api->auds[z];
            sort_n(au->clients, au->n_clients, sizeof *au->clients, cmp_client);
            for (size_t k2 = 0; k2 < au->n_clients; k2++) {
                sort_n(au->clients[k2].reasons, au->clients[k2].n_reasons, sizeof *au->clients[k2].reasons,
                      cmp_vcount);
                sort_hints(au->clients[k2].hints, au->clients[k2].n_hints);
            }
            sort_n(au->reasons, au->n_reasons, sizeof *au->reasons, cmp_vcount);
            sort_n(au->matched, au->n_matched, sizeof *au->matched, cmp_vcount);
            sort_hints(au->hints, au->n_hints);
        }
        sort_n(api->reasons, api->n_reasons, sizeof *api->reasons, cmp_vcount);
        sort_n(api->allow, api->n_allow, sizeof *api->allow, cmp_vcount);
        sort_hints(api->hints, api->n_hints);
    }
    sort_strings = NULL;
    free(rank);
    free(api_ids);
    free(rows);
    return sum;
}

static void free_hints(aa_hint_sum *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(h[i].texts);
    free(h);
}

void aa_summary_free(aa_summary *s)
{
    if (s == NULL)
        return;
    for (size_t x = 0; x < s->n_apis; x++) {
        aa_api_sum *api = &s->apis[x];
        for (size_t z = 0; z < api->n_auds; z++) {
            aa_aud_sum *au = &api->auds[z];
            free(au->matched);
            free(au->reasons);
            for (size_t k = 0; k < au->n_clients; k++) {
                free(au->clients[k].reasons);
                free_hints(au->clients[k].hints, au->clients[k].n_hints);
            }
            free(au->clients);
            free_hints(au->hints, au->n_hints);
        }
        free(api->auds);
        free(api->reasons);
        free(api->allow);
        free_hints(api->hints, api->n_hints);
        free(api->buckets);
        for (size_t q = 0; q < api->n_reqs; q++) {
            free(api->reqs[q].scopes);
            free(api->reqs[q].roles);
        }
        free(api->reqs);
    }
    free(s->apis);
    free(s);
}
