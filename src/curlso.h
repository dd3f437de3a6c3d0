/* curlso: libcurl, loaded when the first HTTP request is made instead of at exec. Linking it
 * made every `nines -- CMD` map ~35 shared libraries (openssl, gnutls, krb5, ldap...) and take
 * ~12 ms instead of ~2 ms to start, and cost a supervisor without HTTP checks ~8 MB of RSS
 * (bench/RESULTS.md). Owns the one table of resolved entry points: process-wide by nature, like
 * the dynamic linker's own tables it caches. Include this instead of <curl/curl.h>; the usual
 * curl_* names then call through the table, which curlso_load() must have filled. */
#ifndef NINES_CURLSO_H
#define NINES_CURLSO_H

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

struct curlso {
    __typeof__(&curl_global_init) global_init;
    __typeof__(&curl_global_cleanup) global_cleanup;
    __typeof__(&curl_version_info) version_info;
    __typeof__(&curl_easy_init) easy_init;
    __typeof__(&curl_easy_setopt) easy_setopt;
    __typeof__(&curl_easy_getinfo) easy_getinfo;
    __typeof__(&curl_easy_cleanup) easy_cleanup;
    __typeof__(&curl_easy_strerror) easy_strerror;
    __typeof__(&curl_free) free;
    __typeof__(&curl_getdate) getdate;
    __typeof__(&curl_multi_init) multi_init;
    __typeof__(&curl_multi_setopt) multi_setopt;
    __typeof__(&curl_multi_cleanup) multi_cleanup;
    __typeof__(&curl_multi_add_handle) multi_add_handle;
    __typeof__(&curl_multi_remove_handle) multi_remove_handle;
    __typeof__(&curl_multi_socket_action) multi_socket_action;
    __typeof__(&curl_multi_info_read) multi_info_read;
    __typeof__(&curl_multi_assign) multi_assign;
    __typeof__(&curl_multi_strerror) multi_strerror;
    __typeof__(&curl_slist_append) slist_append;
    __typeof__(&curl_slist_free_all) slist_free_all;
    __typeof__(&curl_url) url;
    __typeof__(&curl_url_cleanup) url_cleanup;
    __typeof__(&curl_url_get) url_get;
    __typeof__(&curl_url_set) url_set;
};

/* Loads libcurl.so.4 (once it worked, later calls return 0 at once; a failed dlopen is tried
 * again at most every 10 s: it also fails for want of fds). Returns 0, or -ELIBACC when it is
 * not installed (for now) or lacks a function (logged once, naming what is missing). */
int curlso_load(void);

/* The table; valid only after curlso_load() returned 0. */
const struct curlso *curlso(void);

#ifndef CURLSO_IMPL
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init(...) (curlso()->global_init(__VA_ARGS__))
#define curl_global_cleanup(...) (curlso()->global_cleanup(__VA_ARGS__))
#define curl_version_info(...) (curlso()->version_info(__VA_ARGS__))
#define curl_easy_init(...) (curlso()->easy_init(__VA_ARGS__))
#define curl_easy_setopt(...) (curlso()->easy_setopt(__VA_ARGS__))
#define curl_easy_getinfo(...) (curlso()->easy_getinfo(__VA_ARGS__))
#define curl_easy_cleanup(...) (curlso()->easy_cleanup(__VA_ARGS__))
#define curl_easy_strerror(...) (curlso()->easy_strerror(__VA_ARGS__))
#define curl_free(...) (curlso()->free(__VA_ARGS__))
#define curl_getdate(...) (curlso()->getdate(__VA_ARGS__))
#define curl_multi_init(...) (curlso()->multi_init(__VA_ARGS__))
#define curl_multi_setopt(...) (curlso()->multi_setopt(__VA_ARGS__))
#define curl_multi_cleanup(...) (curlso()->multi_cleanup(__VA_ARGS__))
#define curl_multi_add_handle(...) (curlso()->multi_add_handle(__VA_ARGS__))
#define curl_multi_remove_handle(...) (curlso()->multi_remove_handle(__VA_ARGS__))
#define curl_multi_socket_action(...) (curlso()->multi_socket_action(__VA_ARGS__))
#define curl_multi_info_read(...) (curlso()->multi_info_read(__VA_ARGS__))
#define curl_multi_assign(...) (curlso()->multi_assign(__VA_ARGS__))
#define curl_multi_strerror(...) (curlso()->multi_strerror(__VA_ARGS__))
#define curl_slist_append(...) (curlso()->slist_append(__VA_ARGS__))
#define curl_slist_free_all(...) (curlso()->slist_free_all(__VA_ARGS__))
#define curl_url(...) (curlso()->url(__VA_ARGS__))
#define curl_url_cleanup(...) (curlso()->url_cleanup(__VA_ARGS__))
#define curl_url_get(...) (curlso()->url_get(__VA_ARGS__))
#define curl_url_set(...) (curlso()->url_set(__VA_ARGS__))
#endif

#endif
