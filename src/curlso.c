#define CURLSO_IMPL
#include "curlso.h"

#include "log.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The resolved table and the outcome of the last load attempt: a cache of what the dynamic
 * linker answered. A failed dlopen is tried again after RETRY_MS: it fails for want of an fd or
 * memory too (EMFILE while nines is out of fds), which must not turn HTTP checks and webhooks
 * off for good. */
static struct curlso table;
static int load_result = 1; /* 1: not tried yet */
static uint64_t retry_at;   /* CLOCK_MONOTONIC ms after which a failed dlopen is tried again */
enum { RETRY_MS = 10000 };

static const struct {
    const char *name;
    size_t offset;
} symbols[] = {
#define SYM(field, name) {name, offsetof(struct curlso, field)}
    SYM(global_init, "curl_global_init"),       SYM(global_cleanup, "curl_global_cleanup"),
    SYM(version_info, "curl_version_info"),     SYM(easy_init, "curl_easy_init"),
    SYM(easy_setopt, "curl_easy_setopt"),       SYM(easy_getinfo, "curl_easy_getinfo"),
    SYM(easy_cleanup, "curl_easy_cleanup"),     SYM(easy_strerror, "curl_easy_strerror"),
    SYM(free, "curl_free"),                     SYM(getdate, "curl_getdate"),
    SYM(multi_init, "curl_multi_init"),         SYM(multi_setopt, "curl_multi_setopt"),
    SYM(multi_cleanup, "curl_multi_cleanup"),   SYM(multi_add_handle, "curl_multi_add_handle"),
    SYM(multi_remove_handle, "curl_multi_remove_handle"),
    SYM(multi_socket_action, "curl_multi_socket_action"),
    SYM(multi_info_read, "curl_multi_info_read"), SYM(multi_assign, "curl_multi_assign"),
    SYM(multi_strerror, "curl_multi_strerror"), SYM(slist_append, "curl_slist_append"),
    SYM(slist_free_all, "curl_slist_free_all"), SYM(url, "curl_url"),
    SYM(url_cleanup, "curl_url_cleanup"),       SYM(url_get, "curl_url_get"),
    SYM(url_set, "curl_url_set"),
#undef SYM
};
_Static_assert(sizeof symbols / sizeof symbols[0] == sizeof(struct curlso) / sizeof(void (*)(void)),
               "every curlso field needs its symbol");

int curlso_load(void)
{
    if (load_result == 0 || (load_result < 0 && now_ms() < retry_at))
        return load_result;
    /* RTLD_LOCAL: its symbols stay out of the global namespace; RTLD_NOW: a broken install
     * fails here, not in the middle of a health check. */
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        if (load_result == 1) /* once: a missing package would say it every minute */
            log_error("cannot load libcurl (libcurl4 package): %s; HTTP checks and webhooks are "
                      "off until it loads (tried again every %d s)", dlerror(), RETRY_MS / 1000);
        retry_at = now_ms() + RETRY_MS;
        return load_result = -ELIBACC;
    }
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        void *f = dlsym(h, symbols[i].name);
        if (!f) { /* a wrong library stays wrong: not tried again */
            log_error("libcurl lacks %s; HTTP checks and webhooks are off", symbols[i].name);
            dlclose(h);
            retry_at = UINT64_MAX;
            return load_result = -ELIBACC;
        }
        /* POSIX guarantees that a dlsym() result converts to a function pointer (dlsym(3)). */
        memcpy((char *)&table + symbols[i].offset, &f, sizeof f);
    }
    if (load_result < 0)
        log_info("libcurl loaded: HTTP checks and webhooks are on");
    return load_result = 0;
}

const struct curlso *curlso(void)
{
    return &table;
}
