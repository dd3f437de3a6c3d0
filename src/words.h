/* words: split a command line into an argv the way POSIX sh splits words (XCU 2.2 Quoting,
 * 2.3 Token Recognition), without any expansion: no variables, globs, tilde, command
 * substitution, comments or operators (`|`, `;`, `>` are ordinary characters). Also the inverse,
 * quoting an argv for display. Pure: no global state, no printing. */
#ifndef NINES_WORDS_H
#define NINES_WORDS_H

#include <stddef.h>

enum words_status {
	WORDS_OK,
	WORDS_EMPTY,                /* no words at all */
	WORDS_UNTERMINATED_SINGLE,  /* ' without its closing ' */
	WORDS_UNTERMINATED_DOUBLE,  /* " without its closing " */
	WORDS_TRAILING_BACKSLASH,   /* \ as the last character */
	WORDS_NOMEM,
	WORDS_STATUS_COUNT
};

struct words_error {
	enum words_status status;
	size_t pos; /* byte offset of the opening quote or the backslash; 0 otherwise */
};

/* Split line into a NULL-terminated argv. Blanks (space, tab, newline) separate words; '...'
 * is literal; inside "..." a backslash escapes only $ ` " \ and newline; outside quotes a
 * backslash escapes any character and backslash-newline is removed. '' yields an empty word.
 * Returns 0 (and *argc when argc is not NULL), -EINVAL (err says why) or -ENOMEM. On success the
 * caller owns *argv and frees it with words_free(); on error *argv is NULL. err may be NULL. */
int words_split(const char *line, char ***argv, size_t *argc, struct words_error *err);

/* Free an argv from words_split() (NULL is fine). */
void words_free(char **argv);

/* Human-readable description of a status, e.g. "unterminated single quote"; never NULL. */
const char *words_strerror(enum words_status status);

/* Quote argv for display so that words_split() gives it back: plain words stay as they are,
 * others are single-quoted ('it'\''s'). Returns a malloc'd string (caller frees) or NULL on
 * allocation failure. */
char *words_join(char *const *argv);

#endif
