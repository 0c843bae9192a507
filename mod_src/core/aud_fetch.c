#include "aud_fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aud_text.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void global_init(void)
{
    init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

bool aud_fetch_global_init(void)
{
    pthread_once(&init_once, global_init);
    return init_ok;
}

/* ------------------------------------------------------------- URL rules */

bool aud_fetch_addr_is_loopback(const char *address)
{
    struct in_addr v4;
    struct in6_addr v6;
    uint32_t a;

    if (address == NULL)
        return false;
    if (inet_pton(AF_INET, address, &v4) == 1) {
        a = ntohl(v4.s_addr);
    } else if (inet_pton(AF_INET6, address, &v6) == 1) {
        /* Connecting to :: reaches ::1 on Linux, just as 0.0.0.0 reaches
         * 127.0.0.1. */
        if (IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6))
            return true;
        /* IPv4-mapped (::ffff:a.b.c.d) and the old IPv4-compatible form
         * (::a.b.c.d) are the IPv4 address by another name. */
        if (!IN6_IS_ADDR_V4MAPPED(&v6) && !IN6_IS_ADDR_V4COMPAT(&v6))
            return false;
        memcpy(&a, v6.s6_addr + 12, 4);
        a = ntohl(a);
    } else {
        return false;
    }
    return (a >> 24) == 127 || a == 0;
}

/* RFC 6761 reserves localhost and every name under it for this host; a
 * trailing dot is the same name. */
static bool name_is_localhost(const char *host, size_t len)
{
    static const char name[] = "localhost";
    const size_t n = sizeof name - 1;

    if (len > 0 && host[len - 1] == '.')
        len--;
    if (len < n || strncasecmp(host + len - n, name, n) != 0)
        return false;
    return len == n || host[len - n - 1] == '.';
}

/* By name: libcurl's parser has already turned 0, 0x7f.1 or 2130706433
 * into dotted quads and hands IPv6 literals back in brackets. */
static bool host_is_loopback(const char *host)
{
    char buf[64];
    size_t len = strlen(host);

    if (name_is_localhost(host, len))
        return true;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof buf) {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
        return aud_fetch_addr_is_loopback(buf);
    }
    return aud_fetch_addr_is_loopback(host);
}

double aud_fetch_monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The URL's parts that the rules look at, or false with the reason. */
static bool url_parse(const char *url, bool *is_http, bool *loopback, aud_error *err)
{
    CURLU *h = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    bool ok = false;
    CURLUcode rc;
    aud_text_url shown;

    if (h == NULL) {
        aud_error_set(err, "out of memory");
        return false;
    }
    if (url == NULL || *url == '\0') {
        aud_error_set(err, "the URL is empty");
        goto out;
    }
    rc = curl_url_set(h, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        aud_error_set(err, "'%s' is not a valid URL: %s", aud_text_quote_url(url, &shown), curl_url_strerror(rc));
        goto out;
    }
    if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        aud_error_set(err, "'%s' is not a valid URL: it needs a scheme and a host", aud_text_quote_url(url, &shown));
        goto out;
    }
    if (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0) {
        aud_error_set(err, "'%s': only https (or http to a loopback host) is allowed", aud_text_quote_url(url, &shown));
        goto out;
    }
    /* Credentials in a URL end up in logs and error messages. */
    if (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(h, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
        /* Nor is this message the place to repeat one. */
        aud_error_set(err, "a key URL with a user name or password is not supported");
        goto out;
    }
    *is_http = strcasecmp(scheme, "http") == 0;
    *loopback = host_is_loopback(host);
    if (*is_http && !*loopback) {
        aud_error_set(err, "'%s': https is required (plain http is allowed only to 127.0.0.0/8, ::1 and localhost)",
                      aud_text_quote_url(url, &shown));
        goto out;
    }
    ok = true;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(h);
    return ok;
}

bool aud_fetch_url_check(const char *url, aud_error *err)
{
    bool is_http, loopback;
    return url_parse(url, &is_http, &loopback, err);
}

bool aud_fetch_redirect_check(const char *from, const char *to, aud_error *err)
{
    bool from_http, from_loopback, to_http, to_loopback;
    aud_error why;
    aud_text_url shown;

    if (!url_parse(from, &from_http, &from_loopback, &why) || !url_parse(to, &to_http, &to_loopback, &why)) {
        aud_error_set(err, "refused redirect: %s", why.text);
        return false;
    }
    if (!from_http && to_http) {
        aud_error_set(err, "refused redirect from https to plain http ('%s')", aud_text_quote_url(to, &shown));
        return false;
    }
    /* A remote server must not be able to point this server at its own
     * loopback services. */
    if (!from_loopback && to_loopback) {
        aud_error_set(err, "refused redirect from a remote host to a loopback address ('%s')",
                      aud_text_quote_url(to, &shown));
        return false;
    }
    return true;
}

bool aud_fetch_url_is_loopback(const char *url)
{
    bool is_http = false, loopback = false;
    aud_error err;
    return url_parse(url, &is_http, &loopback, &err) && loopback;
}

/* ------------------------------------------------------------ one request */

typedef struct {
    char *data;
    size_t len, cap;
    bool too_big;
    double max_age;
} sink;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;

    if (n > AUD_FETCH_MAX_BODY - s->len) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 8192;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *data = realloc(s->data, cap);
        if (data == NULL)
            return 0;
        s->data = data;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

/* The smallest freshness any Cache-Control header grants: max-age=N, or 0
 * for no-cache / no-store (then the caller's shortest interval applies). */
static void cache_control(sink *s, const char *value, size_t len)
{
    size_t i = 0;

    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t' || value[end - 1] == '\r' ||
                               value[end - 1] == '\n'))
            end--;
        const char *d = value + start;
        size_t dlen = end - start;
        double age = -1;
        if ((dlen == 8 && strncasecmp(d, "no-store", 8) == 0) || (dlen == 8 && strncasecmp(d, "no-cache", 8) == 0)) {
            age = 0;
        } else if (dlen > 8 && strncasecmp(d, "max-age=", 8) == 0) {
            const char *v = d + 8;
            size_t vlen = dlen - 8;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen > 0 && vlen <= 12 && strspn(v, "0123456789") >= vlen) {
                age = 0;
                for (size_t k = 0; k < vlen; k++)
                    age = age * 10 + (v[k] - '0');
            }
        }
        if (age >= 0 && (s->max_age < 0 || age < s->max_age))
            s->max_age = age;
    }
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    static const char name[] = "cache-control:";

    if (n > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0)
        cache_control(s, ptr + sizeof name - 1, n - (sizeof name - 1));
    return n;
}

typedef enum { HOP_FAIL, HOP_DONE, HOP_REDIRECT } hop_outcome;

/* The rules that names alone cannot enforce: 0.0.0.0, [::ffff:127.0.0.1] or
 * a DNS name can all lead to this host's own services. So each hop is
 * judged again by the address it is about to connect to, before a socket
 * for it exists: a refused address never sees a connection, let alone a
 * request. */
typedef struct {
    bool plain_http;      /* in: http, so the address must be loopback */
    bool refuse_loopback; /* in: the hop before was remote */
    bool loopback;        /* out: the address connected to is loopback */
    bool refused;         /* out: an address was refused */
    char address[INET6_ADDRSTRLEN]; /* out: the last one refused */
} hop_guard;

static bool sockaddr_text(const struct sockaddr *sa, char *out, size_t size)
{
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size);
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                         (socklen_t)size);
    return false;
}

/* libcurl calls this for every address it tries (with a proxy: the
 * proxy's); refusing one leaves it the others. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    hop_guard *g = clientp;
    char text[INET6_ADDRSTRLEN];

    if (purpose != CURLSOCKTYPE_IPCXN || !sockaddr_text(&address->addr, text, sizeof text)) {
        g->refused = true;
        snprintf(g->address, sizeof g->address, "%s", "an address of an unknown kind");
        return CURL_SOCKET_BAD;
    }
    bool loopback = aud_fetch_addr_is_loopback(text);
    if ((g->plain_http && !loopback) || (g->refuse_loopback && loopback)) {
        g->refused = true;
        snprintf(g->address, sizeof g->address, "%s", text);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

static hop_outcome fetch_hop(const char *url, bool loopback, hop_guard *guard, const aud_fetch_options *opt,
                             double remaining, sink *s, char **location, aud_error *err)
{
    CURL *c = curl_easy_init();
    char curl_err[CURL_ERROR_SIZE];
    long status = 0;
    hop_outcome outcome = HOP_FAIL;
    long ms = (long)ceil(remaining * 1000.0);
    CURLcode rc;

    if (c == NULL) {
        aud_error_set(err, "cannot start a transfer (out of memory)");
        return HOP_FAIL;
    }
    curl_err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* Redirects are followed by hand so that every hop meets the https rule
     * and the hop count includes all of them. */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms < 1 ? 1L : ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms < 1 ? 1L : ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (opt->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, opt->ca_file);
    /* A proxy from the environment must not see loopback traffic. */
    if (loopback)
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)AUD_FETCH_MAX_BODY);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mod_auth_aud");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, guard);

    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        aud_text_url shown;
        char why[CURL_ERROR_SIZE * 4 + 4];
        if (guard->refused && rc == CURLE_COULDNT_CONNECT && guard->plain_http)
            aud_error_set(err, "'%s': plain http is allowed only to a loopback address, and %s is not one",
                          aud_text_quote_url(url, &shown), guard->address);
        else if (guard->refused && rc == CURLE_COULDNT_CONNECT)
            aud_error_set(err, "refused redirect from a remote host to a loopback address ('%s' leads to %s)",
                          aud_text_quote_url(url, &shown), guard->address);
        else if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED)
            aud_error_set(err, "the answer is larger than %d bytes", AUD_FETCH_MAX_BODY);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            aud_error_set(err, "no complete answer within %.0f s", opt->timeout);
        else
            /* libcurl's detail can repeat a host name from a Location. */
            aud_error_set(err, "%s%s%s", curl_easy_strerror(rc), curl_err[0] ? ": " : "",
                          aud_text_quote(curl_err, strlen(curl_err), sizeof curl_err, why, sizeof why));
        goto out;
    }
    /* The address the answer came from, for the next hop's rule. */
    char *primary = NULL;
    guard->loopback = curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &primary) == CURLE_OK &&
                      aud_fetch_addr_is_loopback(primary);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
        char *target = NULL;
        if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &target) != CURLE_OK || target == NULL) {
            aud_error_set(err, "HTTP %ld without a usable Location", status);
            goto out;
        }
        *location = strdup(target);
        if (*location == NULL) {
            aud_error_set(err, "out of memory");
            goto out;
        }
        outcome = HOP_REDIRECT;
        goto out;
    }
    if (status != 200) {
        aud_error_set(err, "the server answered HTTP %ld", status);
        goto out;
    }
    outcome = HOP_DONE;
out:
    curl_easy_cleanup(c);
    return outcome;
}

bool aud_fetch_get(const char *url, const aud_fetch_options *options, aud_fetch_response *out, aud_error *err)
{
    aud_fetch_options opt = {AUD_FETCH_DEFAULT_TIMEOUT, NULL};
    char *current = NULL, *previous = NULL;
    double deadline;
    bool ok = false;
    /* Whether the hop before was local by name and by address alike: a
     * remote name that happens to resolve to loopback gets no trust. */
    bool previous_local = false;

    memset(out, 0, sizeof *out);
    out->max_age = -1;
    if (options != NULL) {
        opt = *options;
        if (!(opt.timeout > 0))
            opt.timeout = AUD_FETCH_DEFAULT_TIMEOUT;
    }
    if (!aud_fetch_global_init()) {
        aud_error_set(err, "libcurl cannot be initialised");
        return false;
    }
    deadline = aud_fetch_monotonic_now() + opt.timeout;
    current = strdup(url != NULL ? url : "");
    if (current == NULL) {
        aud_error_set(err, "out of memory");
        return false;
    }
    for (int hop = 0;; hop++) {
        bool is_http = false, loopback = false;
        aud_error why;
        sink s = {NULL, 0, 0, false, -1};
        char *location = NULL;
        double remaining;
        hop_outcome outcome;
        hop_guard guard;

        if (hop > 0 && !aud_fetch_redirect_check(previous, current, err))
            break;
        if (!url_parse(current, &is_http, &loopback, &why)) {
            aud_error_set(err, "%s", why.text);
            break;
        }
        remaining = deadline - aud_fetch_monotonic_now();
        if (remaining <= 0) {
            aud_error_set(err, "no complete answer within %.0f s", opt.timeout);
            break;
        }
        memset(&guard, 0, sizeof guard);
        guard.plain_http = is_http;
        guard.refuse_loopback = hop > 0 && !previous_local;
        outcome = fetch_hop(current, loopback, &guard, &opt, remaining, &s, &location, err);
        previous_local = loopback && guard.loopback;
        if (outcome == HOP_DONE) {
            if (s.data == NULL) {
                s.data = strdup("");
                if (s.data == NULL) {
                    aud_error_set(err, "out of memory");
                    break;
                }
            }
            out->body = s.data;
            out->len = s.len;
            out->max_age = s.max_age;
            out->local = previous_local;
            ok = true;
            break;
        }
        free(s.data);
        if (outcome == HOP_FAIL)
            break;
        if (hop == AUD_FETCH_MAX_REDIRECTS) {
            aud_error_set(err, "more than %d redirects", AUD_FETCH_MAX_REDIRECTS);
            free(location);
            break;
        }
        free(previous);
        previous = current;
        current = location;
    }
    free(previous);
    free(current);
    return ok;
}

void aud_fetch_response_free(aud_fetch_response *response)
{
    if (response == NULL)
        return;
    free(response->body);
    response->body = NULL;
    response->len = 0;
}
