/* libFuzzer target: shell word splitting (words.h) on the input as a C string.
 *
 * Checks: success gives a NULL-terminated argv of argc words and failure a status with an
 * in-range position; words_join() of a split argv splits back to the same argv. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "words.h"

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
	char *s = malloc(size + 1), **argv = (char **)1, **again = NULL, *joined;
	struct words_error we = { WORDS_OK, 0 };
	size_t argc = 0, argc2 = 0, len;
	int r;

	FAIL_IF(!s);
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);
	r = words_split(s, &argv, &argc, &we);
	if (r != 0) {
		FAIL_IF((r != -EINVAL && r != -ENOMEM) || argv != NULL);
		FAIL_IF(r == -EINVAL && (we.status == WORDS_OK || we.status == WORDS_NOMEM ||
				     (unsigned)we.status >= WORDS_STATUS_COUNT));
		FAIL_IF(we.status != WORDS_EMPTY && we.status != WORDS_NOMEM && we.pos >= len);
		FAIL_IF(!words_strerror(we.status));
		free(s);
		return 0;
	}
	FAIL_IF(!argv || argc == 0 || argv[argc] != NULL);
	for (size_t i = 0; i < argc; i++) {
		FAIL_IF(!argv[i] || strlen(argv[i]) > len);
	}
	FAIL_IF(words_split(s, &again, NULL, NULL) != 0);
	words_free(again);
	joined = words_join(argv);
	FAIL_IF(!joined);
	FAIL_IF(words_split(joined, &again, &argc2, &we) != 0 || argc2 != argc);
	for (size_t i = 0; i < argc; i++) {
		FAIL_IF(strcmp(argv[i], again[i]) != 0);
	}
	words_free(again);
	free(joined);
	words_free(argv);
	free(s);
	return 0;
}
