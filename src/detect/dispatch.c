/* dispatch.c: program name -> the scenarios that read it (see dispatch.h).
 * Layout: every distinct listed name gets a list of scenario indexes (its
 * own readers merged in file order with the "any program" readers); the
 * names form a trie walked one byte at a time, in a table of rows: a row
 * per state (a prefix of some name), a column per class of byte (each
 * byte found in some name has its own class; every other byte shares one,
 * which leads to a dead state). A line's program name is read through it
 * as it is split, so a name that no scenario lists (kernel, CRON) is
 * known to be read by nobody at its first byte that no name has there. */
#include "detect/dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

/* Classes of bytes: each byte found in a listed name has its own, from
 * FIRST_NAME_CLASS on; the others share CLASS_OTHER. Read from a line,
 * the bytes that end a program name there are CLASS_END instead. */
#define CLASS_OTHER 0u
#define CLASS_END 1u
#define FIRST_NAME_CLASS 2u

struct dispatch {
	uint16_t name_cls[256];        /* a byte's class in a name given whole */
	uint16_t line_cls[256];        /* in a name read from a header: CLASS_END ends it */
	unsigned shift;                /* a row is 1 << shift columns */
	uint32_t *next;                /* next[row + class]: the next row (a state << shift) */
	/* Moves to values from exit on leave the table: exit itself, the name
	 * left every listed name while no scenario reads others (when some
	 * do, dead_row is an ordinary state that stays dead until the name
	 * ends); exit + 1 + s, the name ended in state s. */
	uint32_t exit, dead_row;
	struct reader_list *named;     /* per state: its name's readers; n == 0: no name ends there */
	size_t nstates, max_states;
	struct reader_list other;      /* header lines of any other program */
	struct reader_list bare;       /* bare lines: headerless scenarios */
	struct reader_list bare_all;   /* bare lines when trusted: every line reader */
	uint32_t *lists;               /* the storage every list points into */
	size_t nlists_used;
};

static bool reads_lines(const struct scenario *s)
{
	return !s->counts_sanctions;
}

static bool lists_name(const struct scenario *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->nprograms; i++)
		if (s->program_lens[i] == len && memcmp(s->programs[i], name, len) == 0)
			return true;
	return false;
}

/* Appends to d->lists the scenarios for which wanted() holds; returns the
 * list (d->lists is sized for every list at once: it never moves). */
static struct reader_list collect(struct dispatch *d, const struct ruleset *rs,
				  bool (*wanted)(const struct scenario *s, const void *arg), const void *arg)
{
	struct reader_list r = {.index = d->lists + d->nlists_used, .n = 0};
	for (size_t i = 0; i < rs->nscenarios; i++) {
		if (!wanted(&rs->scenarios[i], arg))
			continue;
		d->lists[d->nlists_used++] = (uint32_t)i;
		r.n++;
	}
	return r;
}

struct name_arg {
	const char *name;
	size_t len;
};

static bool reads_program(const struct scenario *s, const void *arg)
{
	const struct name_arg *a = arg;
	return reads_lines(s) && (s->nprograms == 0 || lists_name(s, a->name, a->len));
}

static bool reads_other(const struct scenario *s, const void *arg)
{
	(void)arg;
	return reads_lines(s) && s->nprograms == 0;
}

static bool reads_bare(const struct scenario *s, const void *arg)
{
	(void)arg;
	return reads_lines(s) && s->headerless;
}

static bool reads_bare_trusted(const struct scenario *s, const void *arg)
{
	(void)arg;
	return reads_lines(s);
}

static size_t count_names(const struct ruleset *rs)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->nscenarios; i++)
		n += rs->scenarios[i].nprograms;
	return n;
}

/* Gives every byte found in a listed name its own class. */
static void assign_classes(struct dispatch *d, const struct ruleset *rs)
{
	unsigned nclasses = FIRST_NAME_CLASS;
	for (size_t i = 0; i < rs->nscenarios; i++)
		for (size_t j = 0; j < rs->scenarios[i].nprograms; j++)
			for (size_t k = 0; k < rs->scenarios[i].program_lens[j]; k++) {
				unsigned char c = (unsigned char)rs->scenarios[i].programs[j][k];
				if (d->name_cls[c] == CLASS_OTHER)
					d->name_cls[c] = (uint16_t)nclasses++;
			}
	for (unsigned c = 0; c < 256; c++)
		d->line_cls[c] = logline_ends_program((unsigned char)c) ? CLASS_END : d->name_cls[c];
	while ((1u << d->shift) < nclasses)
		d->shift++;
}

static uint32_t row_of(const struct dispatch *d, size_t state)
{
	return (uint32_t)(state << d->shift);
}

/* Sets a row's moves: every byte of a name to dead_row, the end of a name to its exit. */
static uint32_t new_state(struct dispatch *d)
{
	size_t state = d->nstates++;
	uint32_t row = row_of(d, state);
	for (uint32_t c = 0; c < (1u << d->shift); c++)
		d->next[row + c] = d->dead_row;
	d->next[row + CLASS_END] = d->exit + 1 + (uint32_t)state;
	return row;
}

/* The state name[0..len) leads to from the root, added as needed. */
static size_t add_path(struct dispatch *d, const char *name, size_t len)
{
	uint32_t row = 0;
	for (size_t k = 0; k < len; k++) {
		uint32_t *to = &d->next[row + d->name_cls[(unsigned char)name[k]]];
		if (*to == d->dead_row)
			*to = new_state(d);
		row = *to;
	}
	return row >> d->shift;
}

static void add_names(struct dispatch *d, const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->nscenarios; i++) {
		const struct scenario *s = &rs->scenarios[i];
		for (size_t j = 0; j < s->nprograms; j++) {
			struct name_arg a = {s->programs[j], s->program_lens[j]};
			if (a.len == 0 || !reads_lines(s))
				continue;               /* an empty name reads nothing */
			size_t state = add_path(d, a.name, a.len);
			if (d->named[state].n == 0)
				d->named[state] = collect(d, rs, reads_program, &a);
		}
	}
}

/* The root, a dead state when others are read, and at most one state per
 * byte of the names. */
static void alloc_trie(struct dispatch *d, const struct ruleset *rs, bool others_read)
{
	size_t bytes = 0;
	for (size_t i = 0; i < rs->nscenarios; i++)
		for (size_t j = 0; j < rs->scenarios[i].nprograms; j++)
			bytes += rs->scenarios[i].program_lens[j];
	d->max_states = bytes + 2;
	/* Rows and exits (at most exit + max_states) are numbered in 32 bits:
	 * names of gigabytes would not fit. */
	if (d->max_states + 1 > (UINT32_MAX >> (d->shift + 1)))
		fatalx("the rules list %zu bytes of program names: too many", bytes);
	d->next = xcalloc(d->max_states << d->shift, sizeof(*d->next));
	d->named = xcalloc(d->max_states, sizeof(*d->named));
	d->exit = row_of(d, d->max_states);
	/* Dead, when others are read: state 1, every byte of a name leading back to it. */
	d->dead_row = others_read ? row_of(d, 1) : d->exit;
	new_state(d);   /* the root, row 0 */
	if (others_read)
		new_state(d);
}

static bool reads_others(const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->nscenarios; i++)
		if (reads_other(&rs->scenarios[i], NULL))
			return true;
	return false;
}

struct dispatch *dispatch_new(const struct ruleset *rs)
{
	struct dispatch *d = xcalloc(1, sizeof(*d));
	assign_classes(d, rs);
	alloc_trie(d, rs, reads_others(rs));
	/* One list per name, plus other, bare and bare_all: each at most
	 * every scenario. */
	d->lists = xcalloc((count_names(rs) + 3) * rs->nscenarios + 1, sizeof(*d->lists));
	add_names(d, rs);
	d->other = collect(d, rs, reads_other, NULL);
	d->bare = collect(d, rs, reads_bare, NULL);
	d->bare_all = collect(d, rs, reads_bare_trusted, NULL);
	return d;
}

void dispatch_free(struct dispatch *d)
{
	if (!d)
		return;
	free(d->next);
	free(d->named);
	free(d->lists);
	free(d);
}

/* The readers of the name that ends in state (a listed one's, or other's). */
static struct reader_list readers_at(const struct dispatch *d, size_t state)
{
	const struct reader_list *named = &d->named[state];
	return named->n ? *named : d->other;
}

static struct reader_list no_readers(const struct dispatch *d)
{
	struct reader_list none = {d->lists, 0};
	return none;
}

struct reader_list dispatch_program(const struct dispatch *d, const char *prog, size_t len)
{
	uint32_t row = 0;
	for (size_t k = 0; k < len; k++) {
		row = d->next[row + d->name_cls[(unsigned char)prog[k]]];
		if (row == d->exit)
			return d->other;   /* no listed name, and no scenario reads others */
	}
	return readers_at(d, row >> d->shift);
}

struct reader_list dispatch_readers(const struct dispatch *d, const struct log_event *ev, bool trust_bare)
{
	if (ev->ts_format == TS_NONE)
		return trust_bare ? d->bare_all : d->bare;
	if (!ev->has_header)
		return no_readers(d);
	return dispatch_program(d, ev->prog, ev->prog_len);
}

/* The name is read through the trie as logline_split_program() would
 * split it; when no scenario reads other programs, the first byte that
 * leaves every listed name ends the walk (the line is read by nobody).
 * One compare a byte: every way out is a value from exit on. */
struct reader_list dispatch_split_program(const struct dispatch *d, struct log_event *ev, bool trust_bare)
{
	if (ev->ts_format == TS_NONE)
		return trust_bare ? d->bare_all : d->bare;
	if (!ev->prog)
		return no_readers(d);
	const unsigned char *prog = (const unsigned char *)ev->prog, *p = prog, *end = prog + ev->msg_len;
	const uint16_t *cls = d->line_cls;   /* locals: kept in registers */
	const uint32_t *next = d->next;
	size_t row = 0, exit = d->exit;
	do {
		if (p == end)
			return no_readers(d);   /* no end of the name: no header */
		row = next[row + cls[*p++]];
	} while (row < exit);
	const unsigned char *name_end = p - 1;
	if (row == exit || name_end == prog)
		return no_readers(d);   /* read by nobody, or an empty name */
	ev->has_header = true;
	ev->prog_len = (size_t)(name_end - prog);
	ev->msg = (const char *)name_end;
	ev->msg_len = (size_t)(end - name_end);
	return readers_at(d, row - exit - 1);
}
