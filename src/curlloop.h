/* curlloop: libcurl's multi_socket API driven by nines' loop, shared by the modules that make HTTP
 * requests (probe.c: health checks; alert.c: the webhook). Owns one multi handle, an epoll watcher
 * per socket curl asks to watch (CURLMOPT_SOCKETFUNCTION), the one loop timer curl asks for
 * (CURLMOPT_TIMERFUNCTION), and one curl_global_init() (libcurl counts them, so every curlloop
 * may hold its own). No curl_multi_perform polling, no threads of ours, no blocking call.
 *
 * The owner creates, configures and cleans up its easy handles; a curlloop only adds and removes
 * them and reports each finished transfer to done(), always from the loop (a watcher or the
 * timer), never from inside curlloop_add(). done may remove and clean up that easy handle (and
 * others), and add new ones; it must not call curlloop_free().
 *
 * Types are void * and int here (CURLM *, CURL * and CURLcode in curlloop.c: CURL and CURLM are
 * typedefs of void in <curl/curl.h>) so that probe.h and alert.h, which embed a struct curlloop
 * and are included nearly everywhere, do not pull in libcurl's header and curlso's curl_* macros. */
#ifndef NINES_CURLLOOP_H
#define NINES_CURLLOOP_H

#include <stdbool.h>

#include "loop.h"

/* A transfer of easy (a CURL *) ended with result (a CURLcode; CURLE_OK = 0). */
typedef void (*curlloop_done_fn)(void *ctx, void *easy, int result);

struct curlloop_sock;

/* Zero-initialised means not set up. Fields are private; it must not move in memory after
 * curlloop_init() (curl and the loop hold pointers into it). */
struct curlloop {
    struct loop *loop;
    void *multi;                 /* CURLM *; NULL until curlloop_init() succeeds */
    struct curlloop_sock *socks; /* watchers of curl's sockets */
    struct timer timer;          /* the one timer curl asks for */
    bool global;                 /* curl_global_init() succeeded and needs its cleanup */
    bool async_dns;              /* libcurl resolves names off the loop (CURL_VERSION_ASYNCHDNS) */
    curlloop_done_fn done;
    void *ctx;
};

/* Sets c up on loop: loads libcurl (curlso_load), curl_global_init once per curlloop, creates the
 * multi handle and hooks it to the loop; done(ctx, ...) gets every finished transfer. Meant to be
 * called lazily, on first use (libcurl's init costs memory, bench/RESULTS.md); once it succeeded
 * later calls return 0 and change nothing. Returns 0 or -errno: -ENOENT (no libcurl installed),
 * -EIO (libcurl failed to initialise), -ENOMEM, -EINVAL (no done). After a failure c may be set
 * up again later; either way curlloop_free() releases what a failed call kept. */
int curlloop_init(struct curlloop *c, struct loop *loop, curlloop_done_fn done, void *ctx);

/* True once curlloop_init() succeeded (until curlloop_free()). */
static inline bool curlloop_ready(const struct curlloop *c)
{
    return c->multi != NULL;
}

/* Starts the transfer of easy (a CURL *, configured by the caller, who keeps owning it): its end
 * comes to done() from the loop. Returns 0, -ENOMEM, -EIO (curl refused it), or -EINVAL when c is
 * not set up; on error easy was not added and needs no curlloop_remove(). */
int curlloop_add(struct curlloop *c, void *easy);

/* Stops the transfer of easy (curl_multi_remove_handle); done() is not called for it. The caller
 * still owns easy and cleans it up. Safe from inside done(), and for NULL or an easy not added. */
void curlloop_remove(struct curlloop *c, void *easy);

/* Releases the multi handle, the watchers, the timer and the curl_global_init. Remove (and clean
 * up) every easy handle first: curl_multi_cleanup(3) does not free them. Leaves c zeroed: safe on
 * a never-initialised zeroed struct, after a failed curlloop_init(), and twice. Never fails. */
void curlloop_free(struct curlloop *c);

/* True when fetching url needs no getaddrinfo(3): its host is an IP literal or localhost. A
 * libcurl without an asynchronous resolver may only be given such URLs, since a blocking lookup
 * would stop the loop. Needs libcurl loaded (curlloop_init succeeded). */
bool curlloop_url_needs_no_dns(const char *url);

#endif
