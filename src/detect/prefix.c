/* prefix.c: a conservative reader of the fixed start of a regex (see prefix.h).
 * It understands only: `^` first, then plain characters, backslash-escaped
 * punctuation, and non-capturing groups `(?:a|b)` of the same, none of them
 * quantified. It stops at the first item it does not understand; what it
 * read up to there is still a prefix every match must start with, because
 * the regex is a sequence at top level (a top-level `|` gives no prefix).
 * Syntax that could change how the text reads (inline options such as
 * (?x) or (?i), verbs (*...), \Q...\E, comments) gives no prefix at all.
 * tests/unit/test_prefix.c checks it against PCRE2 itself. */
#include "detect/prefix.h"

#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Compile options that do not change what a plain character or an escaped
 * punctuation character matches. */
#define NEUTRAL_OPTIONS (PCRE2_UTF | PCRE2_NEVER_UTF | PCRE2_NO_UTF_CHECK | PCRE2_UCP | PCRE2_DOTALL | \
			 PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_POSSESS | PCRE2_NO_START_OPTIMIZE | \
			 PCRE2_NO_DOTSTAR_ANCHOR)

/* Characters that match themselves outside a class, whatever follows. */
static bool plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(" !\"#%&',-/:;<=>@_`~]}", c) != NULL);
}

static bool quantifier(char c)
{
	return c == '?' || c == '*' || c == '+' || c == '{';
}

/* A backslash followed by ASCII punctuation matches that character. */
static bool escaped_punct(const char *p)
{
	unsigned char c = (unsigned char)p[1];
	return p[0] == '\\' && c > ' ' && c < 0x7f &&
	       !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
}

/* Groups this reader can step over when it checks for top-level `|`. */
static bool known_group(const char *p)
{
	if (p[1] != '?')
		return p[1] != '*';                 /* (*VERB) changes the rules */
	switch (p[2]) {
	case ':': case '=': case '!': case '>': case '|':
		return true;
	case '<':                                   /* (?<name>, (?<=, (?<! */
		return true;
	}
	/* (?s:...) and the like: options for that group only. Not x: extended
	 * syntax reads # and whitespace differently inside. */
	p += 2;
	while (*p && strchr("imnsUJ-^", *p))
		p++;
	return *p == ':';                           /* else options for the rest, comments, calls... */
}

/* Skips a character class starting at p ('['); returns what follows, or NULL. */
static const char *skip_class(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;                                /* a ']' first is a member */
	for (; *p; p++) {
		if (p[0] == '\\' && (p[1] == 'Q' || p[1] == 'c'))
			return NULL;
		if (p[0] == '\\' && p[1])
			p++;
		else if (p[0] == '[' && p[1] == ':') {
			const char *end = strstr(p, ":]");
			if (!end)
				return NULL;
			p = end + 1;
		} else if (p[0] == ']')
			return p + 1;
	}
	return NULL;
}

/* True when the whole regex is one sequence of syntax this file knows how
 * to step over, with no `|` outside every group. */
static bool simple_sequence(const char *p)
{
	int depth = 0;
	while (*p) {
		if (p[0] == '\\') {
			/* \Q quotes, \cX eats any X: neither can be stepped over safely. */
			if (p[1] == 'Q' || p[1] == 'c' || p[1] == '\0')
				return false;
			p += 2;
		} else if (p[0] == '[') {
			if (!(p = skip_class(p)))
				return false;
		} else if (p[0] == '(') {
			if (!known_group(p))
				return false;
			depth++;
			p++;
		} else {
			if (p[0] == ')' && --depth < 0)
				return false;
			if (p[0] == '|' && depth == 0)
				return false;
			p++;
		}
	}
	return depth == 0;
}

/* Working set of texts while reading. */
struct texts {
	size_t n;
	uint8_t len[PREFIX_MAX_ALTS];
	char text[PREFIX_MAX_ALTS][PREFIX_MAX_LEN];
};

static bool append_char(struct texts *t, char c)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->len[i] + 1 >= PREFIX_MAX_LEN)
			return false;
	for (size_t i = 0; i < t->n; i++)
		t->text[i][t->len[i]++] = c;
	return true;
}

static bool add_all(struct texts *into, const struct texts *from)
{
	if (into->n + from->n > PREFIX_MAX_ALTS)
		return false;
	for (size_t i = 0; i < from->n; i++) {
		into->len[into->n] = from->len[i];
		memcpy(into->text[into->n], from->text[i], from->len[i]);
		into->n++;
	}
	return true;
}

enum stop { STOP_END, STOP_GROUP, STOP_OTHER };

static enum stop read_seq(const char **pp, struct texts *t);

/* Reads "(?:alt|alt...)" (or "(?:alt|alt...)?") at *pp into t, each text
 * extended by each alternative. Leaves t and *pp alone and returns false
 * when any part is not plain text, or when the group has another quantifier. */
static bool read_group(const char **pp, struct texts *t)
{
	const char *p = *pp + 3;
	struct texts out = {0};
	for (;;) {
		struct texts alt = *t;
		if (read_seq(&p, &alt) != STOP_GROUP || !add_all(&out, &alt))
			return false;
		if (*p++ == ')')
			break;                      /* else it was '|' */
	}
	/* (?:X)? reads as (?:X|): the texts so far may also go on without X.
	 * Not ?? or ?+: a possessive group can refuse what the texts allow. */
	if (p[0] == '?' && p[1] != '?' && p[1] != '+') {
		if (!add_all(&out, t))
			return false;
		p++;
	}
	if (quantifier(*p))
		return false;
	*t = out;
	*pp = p;
	return true;
}

/* Reads plain items into t until the end, a ')' or '|' (STOP_GROUP, left
 * at *pp), or anything else (STOP_OTHER). */
static enum stop read_seq(const char **pp, struct texts *t)
{
	const char *p = *pp;
	enum stop why = STOP_OTHER;
	for (;;) {
		char c;
		size_t width = 1;
		if (*p == '\0') {
			why = STOP_END;
			break;
		}
		if (*p == ')' || *p == '|') {
			why = STOP_GROUP;
			break;
		}
		if (p[0] == '(' && p[1] == '?' && p[2] == ':') {
			if (!read_group(&p, t))
				break;
			continue;
		}
		if (plain(*p)) {
			c = *p;
		} else if (escaped_punct(p)) {
			c = p[1];
			width = 2;
		} else {
			break;
		}
		if (quantifier(p[width]) || !append_char(t, c))
			break;
		p += width;
	}
	*pp = p;
	return why;
}

size_t prefix_of(const char *regex, uint32_t compile_options, struct prefix_set *out)
{
	memset(out, 0, sizeof(*out));
	if ((compile_options & ~(uint32_t)NEUTRAL_OPTIONS) || regex[0] != '^' || !simple_sequence(regex))
		return 0;
	struct texts t = {.n = 1};
	const char *p = regex + 1;
	enum stop why = read_seq(&p, &t);
	for (size_t i = 0; i < t.n; i++)
		if (t.len[i] == 0)
			return 0;                   /* an empty text allows everything anyway */
	out->n = t.n;
	out->whole = why == STOP_END;
	memcpy(out->len, t.len, sizeof(t.len));
	memcpy(out->text, t.text, sizeof(t.text));
	return out->n;
}
