/* libFuzzer target: the persisted state file (statefile.h) through statefile_parse().
 *
 * Checks: parsing never fails on content (only -ENOMEM); the warning is NUL-terminated within
 * its size, also with a tiny buffer; every entry has a valid name, an in-range want and its
 * failure times; statefile_format() of the result parses back cleanly (no warning) to a state
 * that formats to the same text; statefile_get() finds every entry. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "statefile.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct statefile sf, again;
	char warn[512], *tiny, *text = malloc(size ? size : 1), *out = NULL, *out2 = NULL;
	size_t len = 0, len2 = 0, tiny_n;

	FAIL_IF(!text);
	memcpy(text, data, size); /* exact size, not NUL-terminated */
	statefile_init(&sf);
	statefile_init(&again);
	tiny_n = size ? (size_t)data[0] % 80 + 1 : 1;
	tiny = malloc(tiny_n); /* exact size: ASan sees a write past it */
	FAIL_IF(!tiny);
	FAIL_IF(statefile_parse(&sf, text, size, tiny, tiny_n) != 0);
	FAIL_IF(!memchr(tiny, '\0', tiny_n));
	free(tiny);
	FAIL_IF(statefile_parse(&sf, text, size, warn, sizeof warn) != 0);
	FAIL_IF(!memchr(warn, '\0', sizeof warn));
	FAIL_IF(statefile_parse(&sf, text, size, NULL, 0) != 0);
	for (size_t i = 0; i < sf.n; i++) {
		const struct statefile_entry *e = &sf.v[i];

		FAIL_IF(!statefile_name_valid(e->name) || (unsigned)e->want >= STATEFILE_WANT_COUNT);
		FAIL_IF(e->n_failures > BUDGET_MAX_LIMIT || (e->n_failures && !e->failures));
		FAIL_IF(statefile_get(&sf, e->name) != e);
	}
	FAIL_IF(statefile_format(&sf, &out, &len) != 0);
	FAIL_IF(strlen(out) != len);
	/* what we write must read back without a complaint */
	FAIL_IF(statefile_parse(&again, out, len, warn, sizeof warn) != 0 || warn[0] != '\0');
	FAIL_IF(again.n != sf.n);
	FAIL_IF(statefile_format(&again, &out2, &len2) != 0 || len2 != len || memcmp(out, out2, len) != 0);
	free(out2);
	free(out);
	statefile_free(&again);
	statefile_free(&sf);
	free(text);
	return 0;
}
