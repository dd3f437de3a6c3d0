/* libFuzzer target: one sd_notify(3) datagram through notify_parse() (notify.h).
 *
 * Checks: the result is -EINVAL exactly when a NUL comes before the trailing NULs, else the
 * number of understood assignments; msg->flags has only known bits and agrees with the result;
 * values are in range; STATUS= is NUL-terminated valid UTF-8 without control characters. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: name the line and the condition (abort() alone shows no line at -O1). */
#define FAIL_IF(c)                                                                   \
	do {                                                                         \
		if (c) {                                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#c);                                                 \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* Valid UTF-8 (RFC 3629) without C0 controls or DEL. */
static bool status_ok(const char *p)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t n = strlen(p);

	for (size_t i = 0; i < n;) {
		unsigned char b = s[i], lo = 0x80, hi = 0xbf;
		size_t need;

		if (b < 0x80) {
			if (b < 0x20 || b == 0x7f)
				return false;
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			need = 2;
		else if (b >= 0xe0 && b <= 0xef)
			need = 3, lo = b == 0xe0 ? 0xa0 : 0x80, hi = b == 0xed ? 0x9f : 0xbf;
		else if (b >= 0xf0 && b <= 0xf4)
			need = 4, lo = b == 0xf0 ? 0x90 : 0x80, hi = b == 0xf4 ? 0x8f : 0xbf;
		else
			return false;
		if (n - i < need || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		}
		i += need;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned all = NOTIFY_READY | NOTIFY_STOPPING | NOTIFY_WATCHDOG | NOTIFY_WATCHDOG_TRIGGER |
			     NOTIFY_HAS_STATUS | NOTIFY_HAS_MAINPID | NOTIFY_HAS_WATCHDOG_USEC | NOTIFY_HAS_ERRNO;
	char *buf = malloc(size ? size : 1);
	struct notify_msg *msg = malloc(sizeof *msg);
	size_t end = size;
	bool inner_nul;
	int r;

	FAIL_IF(!buf || !msg);
	memcpy(buf, data, size);
	memset(msg, 0xa5, sizeof *msg);
	while (end > 0 && buf[end - 1] == '\0')
		end--;
	inner_nul = memchr(buf, '\0', end) != NULL;
	r = notify_parse(buf, size, msg);
	FAIL_IF(inner_nul ? r != -EINVAL : r < 0);
	FAIL_IF(msg->pid != 0 || msg->uid != 0 || (msg->flags & ~all));
	FAIL_IF(r <= 0 && msg->flags != 0);
	FAIL_IF(r > 0 && msg->flags == 0);
	FAIL_IF((msg->flags & NOTIFY_HAS_MAINPID) && msg->mainpid <= 0);
	FAIL_IF((msg->flags & NOTIFY_HAS_ERRNO) && msg->err < 0);
	if (msg->flags & NOTIFY_HAS_STATUS) {
		FAIL_IF(!memchr(msg->status, '\0', sizeof msg->status) || !status_ok(msg->status));
	}
	free(msg);
	free(buf);
	return 0;
}
