#include "authsrc.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads at most TOKEN_FILE_MAX bytes of the source into buf. Returns the length or -errno.
 * *mode gets the file's permission bits (0 for the environment). */
static ssize_t read_source(const struct config_auth *a, char *buf, size_t cap, mode_t *mode)
{
    *mode = 0;
    if (!a->token_file) {
        const char *v = a->token_env ? getenv(a->token_env) : NULL;
        if (!v)
            return -ENOENT;
        size_t n = strnlen(v, cap);
        memcpy(buf, v, n);
        return (ssize_t)n;
    }
    /* O_NONBLOCK: a FIFO put there by mistake must not hang the loop. */
    int fd = open(a->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    *mode = st.st_mode;
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    return (ssize_t)n;
}

static bool has_source(const struct config_auth *a)
{
    return a->token_file || (a->token_env && getenv(a->token_env));
}

/* Cleans raw[0..n) into out (TOKEN_MAX + 1 bytes). Returns the cleaned length or -errno. */
static ssize_t clean(const char *raw, size_t n, char *out, unsigned *steps)
{
    size_t len = 0;
    int rc = token_clean(raw, n, out, TOKEN_MAX + 1, &len, steps);
    return rc < 0 ? rc : (ssize_t)len;
}

int authsrc_load(struct authsrc *src, const struct config_auth *a, const char *service)
{
    src->problem[0] = '\0';
    if (!has_source(a))
        return 0;
    char *raw = malloc(TOKEN_FILE_MAX), *tok = malloc(TOKEN_MAX + 1);
    int rc = raw && tok ? 0 : -ENOMEM;
    mode_t mode = 0;
    ssize_t n = rc ? rc : read_source(a, raw, TOKEN_FILE_MAX, &mode);
    unsigned steps = 0;
    ssize_t len = n < 0 ? n : clean(raw, (size_t)n, tok, &steps);
    if (raw)
        token_wipe(raw, TOKEN_FILE_MAX);
    free(raw);
    if (len < 0) {
        rc = (int)len;
        snprintf(src->problem, sizeof src->problem, "cannot read token %s %s: %s",
                 a->token_file ? "file" : "variable", a->token_file ? a->token_file : a->token_env,
                 strerror(-rc));
        goto out;
    }
    token_sha256(tok, (size_t)len, src->seen);
    src->has_seen = true;
    if (a->token_file && (mode & 077))
        log_warn("%s: token file %s is readable by %s; chmod 600 it", service, a->token_file,
                 mode & 07 ? "everyone" : "its group");
    struct token_report rep;
    enum token_verdict v = token_validate(tok, (size_t)len, (enum token_format)a->format, &rep);
    token_steps_str(steps, src->steps, sizeof src->steps);
    if (steps)
        log_info("%s: token cleaned: %s", service, src->steps);
    if (v == TOKEN_REJECT) {
        rc = -EINVAL;
        snprintf(src->problem, sizeof src->problem, "token rejected (%s): %s",
                 token_rule_name(rep.rule), rep.message);
        goto out;
    }
    if (v == TOKEN_WARN)
        log_warn("%s: token looks unusual (%s): %s", service, token_rule_name(rep.rule), rep.message);
    authsrc_free(src);
    src->report = rep;
    src->token = tok;
    src->len = (size_t)len;
    tok = NULL;
    token_sha256(src->token, src->len, src->hash);
    src->has_hash = true;
    token_fingerprint(src->token, src->len, src->fingerprint, sizeof src->fingerprint);
out:
    if (tok) {
        token_wipe(tok, TOKEN_MAX + 1);
        free(tok);
    }
    return rc;
}

bool authsrc_changed(const struct config_auth *a, const struct authsrc *src)
{
    if (!has_source(a))
        return false;
    char *raw = malloc(TOKEN_FILE_MAX), *tok = malloc(TOKEN_MAX + 1);
    bool changed = false;
    mode_t mode;
    ssize_t n = raw && tok ? read_source(a, raw, TOKEN_FILE_MAX, &mode) : -ENOMEM;
    unsigned steps = 0;
    ssize_t len = n < 0 ? n : clean(raw, (size_t)n, tok, &steps);
    if (len >= 0) {
        uint8_t h[32];
        token_sha256(tok, (size_t)len, h);
        changed = !src->has_seen || memcmp(h, src->seen, sizeof h) != 0;
    }
    if (raw)
        token_wipe(raw, TOKEN_FILE_MAX);
    if (tok)
        token_wipe(tok, TOKEN_MAX + 1);
    free(raw);
    free(tok);
    return changed;
}

void authsrc_free(struct authsrc *src)
{
    if (src->token) {
        token_wipe(src->token, src->len);
        free(src->token);
    }
    src->token = NULL;
    src->len = 0;
}
