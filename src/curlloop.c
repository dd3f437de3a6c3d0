#include "curlloop.h"

#include "curlso.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <strings.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/* A watcher for one socket curl asked us to watch (CURLMOPT_SOCKETFUNCTION). */
struct curlloop_sock {
    struct watcher w;
    struct curlloop *c;
    struct curlloop_sock *prev, *next;
};

/* Hands every finished transfer to done(). The message is copied out first: it does not survive
 * curl_multi_remove_handle() or curl_easy_cleanup() (curl_multi_info_read(3)), which done may call. */
static void check_multi_info(struct curlloop *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        c->done(c->ctx, easy, (int)rc);
    }
}

static void on_sock(struct loop *loop, struct watcher *w, uint32_t events)
{
    (void)loop;
    struct curlloop_sock *cs = w->data;
    struct curlloop *c = cs->c;
    int flags = 0, running = 0;
    if (events & EPOLLIN)
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & (EPOLLERR | EPOLLHUP))
        flags |= CURL_CSELECT_ERR;
    /* cs may be freed inside (CURL_POLL_REMOVE); c outlives the call. */
    curl_multi_socket_action(c->multi, w->fd, flags, &running);
    check_multi_info(c);
}

static void sock_free(struct curlloop *c, struct curlloop_sock *cs)
{
    loop_unwatch(c->loop, &cs->w);
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        c->socks = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    free(cs);
}

/* CURLMOPT_SOCKETFUNCTION: mirror what curl wants to wait for into an epoll watcher. curl calls
 * CURL_POLL_REMOVE before it closes a socket, so the fd is still ours when it leaves epoll.
 * Returning -1 fails the transfers of this multi handle (only on ENOMEM here). */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct curlloop *c = userp;
    struct curlloop_sock *cs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (cs)
            sock_free(c, cs);
        return 0;
    }
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return -1;
        cs->c = c;
        watcher_init(&cs->w, s, on_sock, cs);
        cs->next = c->socks;
        if (c->socks)
            c->socks->prev = cs;
        c->socks = cs;
        curl_multi_assign(c->multi, s, cs);
    }
    uint32_t ev = 0;
    if (what & CURL_POLL_IN)
        ev |= EPOLLIN;
    if (what & CURL_POLL_OUT)
        ev |= EPOLLOUT;
    return loop_watch(c->loop, &cs->w, ev) < 0 ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: curl's single timeout lives on the loop's heap. curl must not be called
 * from here, so even 0 ms goes through the loop. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct curlloop *c = userp;
    if (timeout_ms < 0) {
        timer_stop(c->loop, &c->timer);
        return 0;
    }
    return timer_start(c->loop, &c->timer, (uint64_t)timeout_ms) < 0 ? -1 : 0;
}

static void on_timer(struct loop *loop, struct timer *t)
{
    (void)loop;
    struct curlloop *c = t->data;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(c);
}

int curlloop_init(struct curlloop *c, struct loop *loop, curlloop_done_fn done, void *ctx)
{
    if (c->multi)
        return 0;
    if (!done)
        return -EINVAL;
    c->loop = loop;
    c->done = done;
    c->ctx = ctx;
    timer_init(&c->timer, on_timer, c);
    int lr = curlso_load();
    if (lr < 0)
        return lr;
    if (!c->global) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -EIO;
        c->global = true;
    }
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    c->async_dns = vi && (vi->features & CURL_VERSION_ASYNCHDNS);
    CURLM *m = curl_multi_init();
    if (!m)
        return -ENOMEM;
    if (curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_SOCKETDATA, (void *)c) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(m, CURLMOPT_TIMERDATA, (void *)c) != CURLM_OK) {
        curl_multi_cleanup(m);
        return -EIO;
    }
    c->multi = m;
    return 0;
}

int curlloop_add(struct curlloop *c, void *easy)
{
    if (!c->multi)
        return -EINVAL;
    CURLMcode mc = curl_multi_add_handle(c->multi, easy);
    if (mc == CURLM_OK)
        return 0;
    return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

void curlloop_remove(struct curlloop *c, void *easy)
{
    if (c->multi && easy)
        curl_multi_remove_handle(c->multi, easy);
}

void curlloop_free(struct curlloop *c)
{
    if (c->multi)
        curl_multi_cleanup(c->multi); /* may still call sock_cb for sockets it closes */
    c->multi = NULL;
    while (c->socks)
        sock_free(c, c->socks);
    if (c->loop)
        timer_stop(c->loop, &c->timer);
    if (c->global)
        curl_global_cleanup(); /* c->global: libcurl was loaded */
    memset(c, 0, sizeof *c);
}

static bool host_is_literal(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

bool curlloop_url_needs_no_dns(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool ok = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        size_t n = strlen(host);
        if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
            host[n - 1] = '\0';
            ok = host_is_literal(host + 1);
        } else {
            ok = strcasecmp(host, "localhost") == 0 || host_is_literal(host);
        }
    }
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}
