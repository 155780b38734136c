/* dispatch.c: program name -> the scenarios that read it (see dispatch.h).
 * Layout: every distinct listed name gets a list of scenario indexes (its
 * own readers merged in file order with the "any program" readers); the
 * names sit in an open-addressing table at most half full, so a lookup of
 * any name, listed or not, ends within a few probes. */
#include "detect/dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct name_slot {
	const char *name;       /* NULL: empty */
	size_t len;
	struct reader_list readers;
};

struct dispatch {
	struct name_slot *slots;
	size_t mask;
	struct reader_list other;      /* header lines of any other program */
	struct reader_list bare;       /* bare lines: headerless scenarios */
	struct reader_list bare_all;   /* bare lines when trusted: every line reader */
	uint32_t *lists;               /* the storage every list points into */
	size_t nlists_used;
};

/* Names are short and the table is fixed (nothing from a log goes in):
 * the length and the first and last two bytes spread the stock names, and
 * any collision costs only a probe. Runs on every line, so no loop. */
static size_t name_hash(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	uint32_t head = (uint32_t)(unsigned char)s[0] << 8 | (unsigned char)s[len > 1];
	uint32_t tail = (uint32_t)(unsigned char)s[len - 1] << 8 | (unsigned char)s[len - 1 - (len > 1)];
	uint64_t h = ((uint64_t)head << 32 | tail << 8 | (len & 0xff)) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 40);
}

/* Names are a few bytes: a loop beats a memcmp call here (profile). */
static bool same_name(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

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

static struct name_slot *slot_for(const struct dispatch *d, const char *name, size_t len)
{
	size_t pos = name_hash(name, len) & d->mask;
	while (d->slots[pos].name &&
	       !(d->slots[pos].len == len && same_name(d->slots[pos].name, name, len)))
		pos = (pos + 1) & d->mask;
	return &d->slots[pos];
}

static size_t count_names(const struct ruleset *rs)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->nscenarios; i++)
		n += rs->scenarios[i].nprograms;
	return n;
}

static void add_names(struct dispatch *d, const struct ruleset *rs)
{
	for (size_t i = 0; i < rs->nscenarios; i++) {
		const struct scenario *s = &rs->scenarios[i];
		for (size_t j = 0; j < s->nprograms; j++) {
			struct name_arg a = {s->programs[j], s->program_lens[j]};
			if (a.len == 0 || !reads_lines(s))
				continue;               /* an empty name reads nothing */
			struct name_slot *slot = slot_for(d, a.name, a.len);
			if (slot->name)
				continue;
			slot->name = a.name;
			slot->len = a.len;
			slot->readers = collect(d, rs, reads_program, &a);
		}
	}
}

struct dispatch *dispatch_new(const struct ruleset *rs)
{
	struct dispatch *d = xcalloc(1, sizeof(*d));
	size_t slots = 8;
	while (slots < 2 * count_names(rs) + 2)
		slots *= 2;
	d->slots = xcalloc(slots, sizeof(*d->slots));
	d->mask = slots - 1;
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
	free(d->slots);
	free(d->lists);
	free(d);
}

struct reader_list dispatch_program(const struct dispatch *d, const char *prog, size_t len)
{
	const struct name_slot *slot = slot_for(d, prog, len);
	return slot->name ? slot->readers : d->other;
}

struct reader_list dispatch_readers(const struct dispatch *d, const struct log_event *ev, bool trust_bare)
{
	if (ev->ts_format == TS_NONE)
		return trust_bare ? d->bare_all : d->bare;
	if (!ev->has_header) {
		struct reader_list none = {d->lists, 0};
		return none;
	}
	return dispatch_program(d, ev->prog, ev->prog_len);
}
