/* status: how a service's state reads for people (`ninesctl status`, supervisorctl's shape) and
 * for programs (`--json`, a stable documented object; docs/status.md). Owns nothing: it renders
 * a service into a stdio stream (the caller uses open_memstream). */
#ifndef NINES_STATUS_H
#define NINES_STATUS_H

#include <stdint.h>
#include <stdio.h>

#include "service.h"

/* Column width for names: the longest name + 3, at least 12 (supervisorctl pads similarly). */
int status_name_width(const struct service *const *svcs, size_t n);

/* One line: name padded to name_width, state padded to 10, the description, newline. */
void status_line(FILE *f, const struct service *svc, int name_width, uint64_t now_mono,
                 uint64_t now_wall);

/* The description alone (why the service is in its state), into buf. Returns buf. */
const char *status_describe(const struct service *svc, uint64_t now_mono, uint64_t now_wall,
                            char *buf, size_t len);

/* The detail block of `status NAME` (after its line): definition, times, last exit, restarts,
 * restart budget, pid/lock files. */
void status_detail(FILE *f, const struct service *svc, uint64_t now_mono, uint64_t now_wall);

/* The last n output lines of svc, indented, for the detail block. */
void status_tail(FILE *f, const struct service *svc, size_t n);

/* One JSON object (no trailing newline) for `status --json`. */
void status_json(FILE *f, const struct service *svc, uint64_t now_mono, uint64_t now_wall);

/* Writes s as a JSON string literal (quoted and escaped) to f. */
void status_json_string(FILE *f, const char *s);

#endif
