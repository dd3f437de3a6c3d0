/* words: POSIX-sh-like word splitting without expansion; see words.h. */
#include "words.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
	[WORDS_OK] = "ok",
	[WORDS_EMPTY] = "empty command",
	[WORDS_UNTERMINATED_SINGLE] = "unterminated single quote",
	[WORDS_UNTERMINATED_DOUBLE] = "unterminated double quote",
	[WORDS_TRAILING_BACKSLASH] = "backslash at end of command",
	[WORDS_NOMEM] = "out of memory",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == WORDS_STATUS_COUNT,
	       "status_names must name every words_status");

/* Growing buffers for the current word and the argv under construction. */
struct split {
	char *word;
	size_t len, cap;
	bool in_word; /* a word has started, even if empty ('' or "") */
	char **argv;
	size_t argc, argv_cap;
};

static int put_char(struct split *sp, char c)
{
	if (sp->len + 1 >= sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 32;
		char *w = realloc(sp->word, cap);

		if (!w)
			return -ENOMEM;
		sp->word = w;
		sp->cap = cap;
	}
	sp->word[sp->len++] = c;
	sp->in_word = true;
	return 0;
}

static int end_word(struct split *sp)
{
	char *w;

	if (!sp->in_word)
		return 0;
	if (sp->argc + 2 > sp->argv_cap) {
		size_t cap = sp->argv_cap ? sp->argv_cap * 2 : 8;
		char **v = realloc(sp->argv, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		v[sp->argc] = NULL; /* stays a valid vector for words_free() if strndup fails */
		sp->argv = v;
		sp->argv_cap = cap;
	}
	w = strndup(sp->word ? sp->word : "", sp->len);
	if (!w)
		return -ENOMEM;
	sp->argv[sp->argc++] = w;
	sp->argv[sp->argc] = NULL;
	sp->len = 0;
	sp->in_word = false;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* Single-quoted text starting after the quote at *i; *i ends on the closing quote. */
static enum words_status single_quoted(struct split *sp, const char *s, size_t *i)
{
	size_t open = *i;

	sp->in_word = true;
	for ((*i)++; s[*i] != '\''; (*i)++) {
		if (!s[*i]) {
			*i = open;
			return WORDS_UNTERMINATED_SINGLE;
		}
		if (put_char(sp, s[*i]) < 0)
			return WORDS_NOMEM;
	}
	return WORDS_OK;
}

/* Double-quoted text; backslash only escapes $ ` " \ and newline (XCU 2.2.3). */
static enum words_status double_quoted(struct split *sp, const char *s, size_t *i)
{
	size_t open = *i;

	sp->in_word = true;
	for ((*i)++; s[*i] != '"'; (*i)++) {
		char c = s[*i];

		if (!c) {
			*i = open;
			return WORDS_UNTERMINATED_DOUBLE;
		}
		if (c == '\\' && s[*i + 1] && strchr("$`\"\\\n", s[*i + 1])) {
			c = s[++*i];
			if (c == '\n')
				continue; /* line continuation */
		}
		if (put_char(sp, c) < 0)
			return WORDS_NOMEM;
	}
	return WORDS_OK;
}

/* Backslash outside quotes at *i: the next character is literal; backslash-newline vanishes. */
static enum words_status backslash(struct split *sp, const char *s, size_t *i)
{
	if (!s[*i + 1])
		return WORDS_TRAILING_BACKSLASH;
	(*i)++;
	if (s[*i] == '\n')
		return WORDS_OK;
	return put_char(sp, s[*i]) < 0 ? WORDS_NOMEM : WORDS_OK;
}

static enum words_status split_all(struct split *sp, const char *s, size_t *i)
{
	for (*i = 0; s[*i]; (*i)++) {
		char c = s[*i];
		enum words_status st;

		if (is_blank(c))
			st = end_word(sp) < 0 ? WORDS_NOMEM : WORDS_OK;
		else if (c == '\'')
			st = single_quoted(sp, s, i);
		else if (c == '"')
			st = double_quoted(sp, s, i);
		else if (c == '\\')
			st = backslash(sp, s, i);
		else
			st = put_char(sp, c) < 0 ? WORDS_NOMEM : WORDS_OK;
		if (st != WORDS_OK)
			return st; /* *i still points at the offending quote or backslash */
	}
	if (end_word(sp) < 0)
		return WORDS_NOMEM;
	return sp->argc == 0 ? WORDS_EMPTY : WORDS_OK;
}

int words_split(const char *line, char ***argv, size_t *argc, struct words_error *err)
{
	struct split sp = { 0 };
	size_t pos = 0;
	enum words_status st = split_all(&sp, line, &pos);

	free(sp.word);
	if (err) {
		err->status = st;
		err->pos = (st == WORDS_OK || st == WORDS_EMPTY || st == WORDS_NOMEM) ? 0 : pos;
	}
	if (st != WORDS_OK) {
		words_free(sp.argv);
		*argv = NULL;
		return st == WORDS_NOMEM ? -ENOMEM : -EINVAL;
	}
	*argv = sp.argv;
	if (argc)
		*argc = sp.argc;
	return 0;
}

void words_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

const char *words_strerror(enum words_status status)
{
	if ((unsigned)status >= WORDS_STATUS_COUNT)
		return "unknown error";
	return status_names[status];
}

/* Characters that never need quoting. */
static bool plain_word(const char *w)
{
	if (!*w)
		return false;
	for (; *w; w++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "@%+=:,./_-", *w))
			return false;
	}
	return true;
}

char *words_join(char *const *argv)
{
	size_t n = 1;
	char *out, *p;

	for (char *const *a = argv; *a; a++)
		n += 3 + 4 * strlen(*a); /* worst case: every char is ' -> '\'' */
	out = malloc(n);
	if (!out)
		return NULL;
	p = out;
	for (char *const *a = argv; *a; a++) {
		if (a != argv)
			*p++ = ' ';
		if (plain_word(*a)) {
			p = stpcpy(p, *a);
			continue;
		}
		*p++ = '\'';
		for (const char *c = *a; *c; c++) {
			if (*c == '\'')
				p = stpcpy(p, "'\\''");
			else
				*p++ = *c;
		}
		*p++ = '\'';
	}
	*p = '\0';
	return out;
}
