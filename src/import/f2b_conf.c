/* f2b_conf.c: reads fail2ban filter files (see f2b_conf.h).
 * Why a parser of our own: fail2ban files are Python ConfigParser INI, with
 * values continued on indented lines and lines of 200 to 2,700 characters
 * (29 lines of Debian 12's stock filter.d are longer than 200). Debian's
 * libinih is built with INI_MAX_LINE 200 and no realloc: it cuts those
 * lines (measured: a 500-character line came back as 187 characters), and
 * GLib's GKeyFile rejects continuation lines. The format is line based and
 * small, so this file reads it directly; what it accepts is ConfigParser's
 * subset that fail2ban relies on (sections, `=` or `:`, `#`/`;` comment
 * lines, ` ;` inline comments, indented continuation lines).
 * Guarantees: includes nest at most F2B_MAX_DEPTH deep; interpolation and
 * tag substitution stop with an error past a fixed depth (a loop), past
 * F2B_MAX_REFS references resolved for one option or past F2B_VALUE_MAX
 * bytes of value (a filter whose options each repeat the one before twice
 * grows as 2^n: 24 lines took 39 s and 1 GB before these bounds). */
#include "import/f2b_conf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/yaml_util.h"

#define F2B_FILE_MAX (1024 * 1024)
#define F2B_MAX_DEPTH 10         /* includes */
#define F2B_MAX_NEST 32          /* %(...)s and <...> within each other */
#define F2B_MAX_TAG_PASSES 4096  /* tag substitutions in one value */
/* Bounds on resolving one option, far above need: Debian 12's 95 stock
 * filters resolve at most 65 references and 3,085 bytes for one option
 * (measured through pacto import-fail2ban on each). */
#define F2B_MAX_REFS 100000
#define F2B_VALUE_MAX (256 * 1024)

/* One option as read: the last file that set it wins, and the value it
 * replaced is kept as `known` (fail2ban's %(known/name)s). */
struct opt {
	char *section;
	char *name;        /* lower case, as ConfigParser stores it */
	char *value;       /* continuation lines joined with '\n' */
	char *known;       /* the value an earlier file gave, or NULL */
	char *file;
	unsigned line;
};

struct f2b_conf {
	struct opt *opts;
	size_t n;
	char *path;
	const char *const *over;   /* borrowed "name=value" strings */
	size_t nover;
	size_t refs;               /* resolved for the option being read */
	const char *reading;       /* that option, for messages */
	unsigned reading_line;
};

/* ---- storing options ---- */

static struct opt *find_opt(struct f2b_conf *c, const char *section, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->opts[i].section, section) == 0 && strcmp(c->opts[i].name, name) == 0)
			return &c->opts[i];
	return NULL;
}

static void set_opt(struct f2b_conf *c, const struct opt *o)
{
	struct opt *old = find_opt(c, o->section, o->name);
	if (old) {
		free(old->known);
		old->known = old->value;
		old->value = o->value;
		free(old->file);
		old->file = o->file;
		old->line = o->line;
		free(o->section);
		free(o->name);
		return;
	}
	c->opts = xreallocarray(c->opts, c->n + 1, sizeof(*c->opts));
	c->opts[c->n++] = *o;
}

/* ---- reading one file ---- */

/* The options of one file, in order, before they are merged. */
struct file_opts {
	struct opt *v;
	size_t n;
};

static char *rstrip(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* ConfigParser's inline comment: ';' preceded by white space. */
static void cut_inline_comment(char *s)
{
	for (char *p = s + 1; *p; p++)
		if (*p == ';' && isspace((unsigned char)p[-1])) {
			*p = '\0';
			break;
		}
	rstrip(s);
}

static void append_line(struct opt *o, const char *text)
{
	size_t a = strlen(o->value), b = strlen(text);
	o->value = xreallocarray(o->value, a + b + 2, 1);
	o->value[a] = '\n';
	memcpy(o->value + a + 1, text, b + 1);
}

static int start_option(struct file_opts *fo, const char *section, char *t, const char *path,
			unsigned lineno, struct errors *errs)
{
	size_t k = strcspn(t, "=:");
	if (!t[k] || k == 0) {
		errors_add(errs, "%s:%u: expected 'name = value' or '[section]', found '%s'", path, lineno, t);
		return -1;
	}
	if (!section) {
		errors_add(errs, "%s:%u: '%s' comes before any [section]", path, lineno, t);
		return -1;
	}
	char *value = t + k + 1;
	while (isspace((unsigned char)*value))
		value++;
	t[k] = '\0';
	rstrip(t);
	for (char *p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	fo->v = xreallocarray(fo->v, fo->n + 1, sizeof(*fo->v));
	fo->v[fo->n++] = (struct opt){.section = xstrdup(section), .name = xstrdup(t), .value = xstrdup(value),
				      .file = xstrdup(path), .line = lineno};
	return 0;
}

/* Parses text (modified in place) into fo. Returns 0 or -1 (errs filled). */
static int parse_text(char *text, const char *path, struct file_opts *fo, struct errors *errs)
{
	char *section = NULL, *save = NULL;
	struct opt *cur = NULL;
	unsigned lineno = 0;
	int rc = 0;
	for (char *line = text; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		rstrip(line);
		char *t = line + strspn(line, " \t");
		if (!*t || *t == '#' || *t == ';')
			continue;
		cut_inline_comment(t);
		if (t != line && cur) {               /* an indented line continues the value */
			append_line(cur, t);
			continue;
		}
		cur = NULL;
		if (*t == '[') {
			char *end = strchr(t, ']');
			if (!end) {
				errors_add(errs, "%s:%u: '%s': a section name needs its ']'", path, lineno, t);
				rc = -1;
				continue;
			}
			*end = '\0';
			free(section);
			section = xstrdup(t + 1);
			continue;
		}
		if (start_option(fo, section, t, path, lineno, errs) != 0)
			rc = -1;
		else
			cur = &fo->v[fo->n - 1];
	}
	free(section);
	return rc;
}

static void file_opts_free(struct file_opts *fo)
{
	for (size_t i = 0; i < fo->n; i++) {
		free(fo->v[i].section);
		free(fo->v[i].name);
		free(fo->v[i].value);
		free(fo->v[i].file);
	}
	free(fo->v);
}

static int read_file(struct f2b_conf *c, const char *path, int depth, struct errors *errs);

/* Reads each file named in an [INCLUDES] before/after list, relative to
 * the including file's directory. A missing .local is normal (fail2ban's
 * stock includes name them for users to create). */
static int read_includes(struct f2b_conf *c, const struct file_opts *fo, const char *which,
			 const char *from, int depth, struct errors *errs)
{
	int rc = 0;
	for (size_t i = 0; i < fo->n; i++) {
		if (!fo->v[i].section || strcmp(fo->v[i].section, "INCLUDES") != 0 || strcmp(fo->v[i].name, which) != 0)
			continue;
		char *list = xstrdup(fo->v[i].value), *save = NULL;
		const char *slash = strrchr(from, '/');
		int dirlen = slash ? (int)(slash - from) : 1;
		for (char *name = strtok_r(list, " \t\n", &save); name; name = strtok_r(NULL, " \t\n", &save)) {
			char inc[4096];
			snprintf(inc, sizeof(inc), "%.*s/%s", dirlen, slash ? from : ".", name);
			size_t n = strlen(inc);
			if (n > 6 && strcmp(inc + n - 6, ".local") == 0 && access(inc, F_OK) != 0)
				continue;
			rc |= read_file(c, inc, depth + 1, errs);
		}
		free(list);
	}
	return rc;
}

/* Merges fo's options (not its [INCLUDES]) into c, taking them over. */
static void merge(struct f2b_conf *c, struct file_opts *fo)
{
	for (size_t i = 0; i < fo->n; i++) {
		if (strcmp(fo->v[i].section, "INCLUDES") == 0)
			continue;
		set_opt(c, &fo->v[i]);
		fo->v[i] = (struct opt){0};
	}
}

/* fail2ban reads NAME.conf, then NAME.local when it exists. */
static int read_local(struct f2b_conf *c, const char *path, int depth, struct errors *errs)
{
	size_t n = strlen(path);
	if (n < 5 || strcmp(path + n - 5, ".conf") != 0)
		return 0;
	char local[4096];
	snprintf(local, sizeof(local), "%.*s.local", (int)(n - 5), path);
	return access(local, F_OK) == 0 ? read_file(c, local, depth + 1, errs) : 0;
}

/* fail2ban reads filters as UTF-8 text (Python refuses other bytes), and
 * a NUL would end the text early here: either is refused with its line. */
static int check_text(const char *text, size_t len, const char *path, struct errors *errs)
{
	unsigned lineno = 1;
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)text + i;
		size_t n = *p ? utf8_len(p, len - i) : 0;
		if (n == 0) {
			errors_add(errs, "%s:%u: %s: fail2ban filters are UTF-8 text", path, lineno,
				   *p ? "bytes that are not UTF-8" : "a NUL byte");
			return -1;
		}
		lineno += *p == '\n';
		i += n;
	}
	return 0;
}

static int read_file(struct f2b_conf *c, const char *path, int depth, struct errors *errs)
{
	if (depth > F2B_MAX_DEPTH) {
		errors_add(errs, "%s: includes nest deeper than %d (a loop?)", path, F2B_MAX_DEPTH);
		return -1;
	}
	size_t len;
	char *text = read_small_file(path, F2B_FILE_MAX, &len, errs);
	if (!text)
		return -1;
	if (check_text(text, len, path, errs) != 0) {
		free(text);
		return -1;
	}
	struct file_opts fo = {0};
	int rc = parse_text(text, path, &fo, errs);
	free(text);
	if (rc == 0) {
		rc |= read_includes(c, &fo, "before", path, depth, errs);
		merge(c, &fo);
		rc |= read_local(c, path, depth, errs);
		rc |= read_includes(c, &fo, "after", path, depth, errs);
	}
	file_opts_free(&fo);
	return rc;
}

struct f2b_conf *f2b_conf_read(const char *path, const char *const *over, size_t n, struct errors *errs)
{
	struct f2b_conf *c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->over = over;
	c->nover = n;
	if (read_file(c, path, 0, errs) != 0) {
		f2b_conf_free(c);
		return NULL;
	}
	return c;
}

void f2b_conf_free(struct f2b_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->opts[i].section);
		free(c->opts[i].name);
		free(c->opts[i].value);
		free(c->opts[i].known);
		free(c->opts[i].file);
	}
	free(c->opts);
	free(c->path);
	free(c);
}

const char *f2b_conf_file(const struct f2b_conf *c)
{
	return c->path;
}

/* ---- resolving values ---- */

/* The value an option has in the filter's view: a jail's override, then
 * [Init], [Definition], [DEFAULT] (fail2ban's order for a filter). With a
 * section ("sec/name"), that section, then [DEFAULT]. */
static const struct opt *lookup(struct f2b_conf *c, const char *section, const char *name, const char **over)
{
	static const char *const view[] = {"Init", "Definition", "DEFAULT"};
	*over = NULL;
	if (!section) {
		size_t n = strlen(name);
		for (size_t i = 0; i < c->nover; i++)
			if (strncmp(c->over[i], name, n) == 0 && c->over[i][n] == '=') {
				*over = c->over[i] + n + 1;
				return NULL;
			}
		for (size_t i = 0; i < sizeof(view) / sizeof(*view); i++) {
			const struct opt *o = find_opt(c, view[i], name);
			if (o)
				return o;
		}
		return NULL;
	}
	const struct opt *o = find_opt(c, section, name);
	return o ? o : find_opt(c, "DEFAULT", name);
}

static char *resolve(struct f2b_conf *c, const char *section, const char *name, int depth, struct errors *errs);
static char *interpolate(struct f2b_conf *c, const struct opt *self, const char *text, int depth,
			 struct errors *errs);

/* %(known/name)s: the value name had before the file being read set it. */
static char *resolve_known(struct f2b_conf *c, const struct opt *self, const char *name, int depth,
			   struct errors *errs)
{
	const struct opt *o = self ? find_opt(c, self->section, name) : NULL;
	if (o && o->known)
		return interpolate(c, o, o->known, depth + 1, errs);
	if (o && strcmp(o->section, "DEFAULT") != 0 && (o = find_opt(c, "DEFAULT", name)))
		return interpolate(c, o, o->value, depth + 1, errs);
	return xstrdup("");
}

/* Splits "sec/name" (or "name") and resolves it. */
static char *resolve_ref(struct f2b_conf *c, const struct opt *self, const char *ref, int depth,
			 struct errors *errs)
{
	const char *slash = strchr(ref, '/');
	if (!slash)
		return resolve(c, NULL, ref, depth, errs);
	char *sec = xstrndup(ref, (size_t)(slash - ref));
	char *v = strcmp(sec, "known") == 0 ? resolve_known(c, self, slash + 1, depth, errs)
					    : resolve(c, sec, slash + 1, depth, errs);
	free(sec);
	return v;
}

/* Refuses a value that grew past F2B_VALUE_MAX: frees it, returns NULL. */
static char *bounded(struct f2b_conf *c, const char *name, struct strbuf *b, struct errors *errs)
{
	if (b->len <= F2B_VALUE_MAX)
		return b->s;
	errors_add(errs, "%s:%u: '%s': its value grows past %d bytes (at '%s': options that repeat each other?)",
		   c->path, c->reading_line, c->reading, F2B_VALUE_MAX, name ? name : "<tag>");
	free(b->s);
	return NULL;
}

/* ConfigParser's %(name)s and %% (fail2ban's BasicInterpolationWithName). */
static char *interpolate(struct f2b_conf *c, const struct opt *self, const char *text, int depth,
			 struct errors *errs)
{
	struct strbuf b = {0};
	strbuf_add(&b, "", 0);
	for (const char *p = text; *p;) {
		const char *pc = strchr(p, '%');
		if (!pc) {
			strbuf_add(&b, p, strlen(p));
			break;
		}
		strbuf_add(&b, p, (size_t)(pc - p));
		if (pc[1] == '%') {
			strbuf_add(&b, "%", 1);
			p = pc + 2;
			continue;
		}
		const char *end = pc[1] == '(' ? strstr(pc, ")s") : NULL;
		if (!end) {
			errors_add(errs, "%s:%u: %s: a '%%' that is neither %%%% nor %%(name)s",
				   self ? self->file : c->path, self ? self->line : 0, self ? self->name : "?");
			free(b.s);
			return NULL;
		}
		char *ref = xstrndup(pc + 2, (size_t)(end - pc - 2));
		char *v = resolve_ref(c, self, ref, depth + 1, errs);
		free(ref);
		if (!v) {
			free(b.s);
			return NULL;
		}
		strbuf_add(&b, v, strlen(v));
		free(v);
		p = end + 2;
		if (b.len > F2B_VALUE_MAX)
			break;
	}
	return bounded(c, self ? self->name : NULL, &b, errs);
}

/* Tags fail2ban fills in itself at match time, never from options. */
static bool reserved_tag(const char *name, size_t n)
{
	static const char *const tags[] = {"HOST", "ADDR", "IP4", "IP6", "DNS", "CIDR", "SUBNET", "SKIPLINES"};
	if ((n > 2 && strncmp(name, "F-", 2) == 0) || (n > 3 && strncmp(name, "/F-", 3) == 0))
		return true;
	for (size_t i = 0; i < sizeof(tags) / sizeof(*tags); i++)
		if (strlen(tags[i]) == n && strncmp(name, tags[i], n) == 0)
			return true;
	return false;
}

/* Whether ref names an option (fail2ban leaves unknown <...> alone). */
static bool tag_known(struct f2b_conf *c, const char *ref)
{
	const char *over, *slash = strchr(ref, '/');
	if (!slash)
		return lookup(c, NULL, ref, &over) || over;
	char *sec = xstrndup(ref, (size_t)(slash - ref));
	bool known = find_opt(c, sec, slash + 1) != NULL;
	free(sec);
	return known;
}

/* Replaces the first substitutable <name> in s; returns the new string, or NULL when none is left (or on error: *failed). */
static char *one_tag(struct f2b_conf *c, const char *s, int depth, bool *failed, struct errors *errs)
{
	for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
		size_t n = strcspn(p + 1, " <>");
		if (p[1 + n] != '>' || n == 0 || reserved_tag(p + 1, n))
			continue;
		char *ref = xstrndup(p + 1, n);
		bool known = tag_known(c, ref);
		char *v = known ? resolve_ref(c, NULL, ref, depth + 1, errs) : NULL;
		free(ref);
		if (!known)
			continue;
		if (!v) {
			*failed = true;
			return NULL;
		}
		struct strbuf b = {0};
		strbuf_add(&b, s, (size_t)(p - s));
		strbuf_add(&b, v, strlen(v));
		strbuf_add(&b, p + n + 2, strlen(p + n + 2));
		free(v);
		char *out = bounded(c, NULL, &b, errs);
		*failed = out == NULL;
		return out;
	}
	return NULL;
}

/* fail2ban's substituteRecursiveTags: <name> and <section/name> become the
 * option's value, innermost first, so <lt_<logtype>/x> works. */
static char *substitute_tags(struct f2b_conf *c, char *s, int depth, struct errors *errs)
{
	bool failed = false;
	for (int pass = 0; pass < F2B_MAX_TAG_PASSES; pass++) {
		char *next = one_tag(c, s, depth, &failed, errs);
		if (!next) {
			if (failed) {
				free(s);
				return NULL;
			}
			return s;
		}
		free(s);
		s = next;
	}
	errors_add(errs, "%s: more than %d <tag> substitutions in one value (a loop?)", c->path,
		   F2B_MAX_TAG_PASSES);
	free(s);
	return NULL;
}

static char *resolve(struct f2b_conf *c, const char *section, const char *name, int depth, struct errors *errs)
{
	if (depth > F2B_MAX_NEST) {
		errors_add(errs, "%s: '%s': interpolation nests deeper than %d (a loop?)", c->path, name,
			   F2B_MAX_NEST);
		return NULL;
	}
	if (++c->refs > F2B_MAX_REFS) {
		errors_add(errs, "%s:%u: '%s': more than %d references to resolve (options that repeat each other?)",
			   c->path, c->reading_line, c->reading, F2B_MAX_REFS);
		return NULL;
	}
	const char *over;
	const struct opt *o = lookup(c, section, name, &over);
	if (!o && !over) {
		errors_add(errs, "%s: '%s%s%s' is used but never set", c->path, section ? section : "",
			   section ? "/" : "", name);
		return NULL;
	}
	char *v = interpolate(c, o, o ? o->value : over, depth, errs);
	return v ? substitute_tags(c, v, depth, errs) : NULL;
}

char *f2b_conf_get(struct f2b_conf *c, const char *name, unsigned *line, struct errors *errs)
{
	const char *over;
	const struct opt *o = lookup(c, NULL, name, &over);
	*line = o ? o->line : 0;
	if (!o && !over)
		return NULL;
	c->refs = 0;
	c->reading = name;
	c->reading_line = *line;
	char *v = resolve(c, NULL, name, 0, errs);
	return v;
}
