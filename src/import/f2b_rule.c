/* f2b_rule.c: a whole fail2ban filter as a pacto rule file (see f2b.h).
 * Why: reads the filter's resolved options (f2b_conf.c), converts each
 * regex (f2b_regex.c) and writes the YAML that rules.c reads back.
 * Guarantees: an error names the filter file, the line of the option and
 * the construct; with --partial, each regex dropped is a warning in the
 * same form and a comment in the rule, and a rule with no failregex left
 * is still an error. Threshold, window and sanction are fail2ban's jail
 * defaults (maxretry 5, findtime 10m, bantime 10m), which are pacto's too. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "import/f2b.h"
#include "import/f2b_conf.h"

struct out {
	char *s;
	size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (o->len + (size_t)n + 1 > o->cap) {
		o->cap = (o->len + (size_t)n + 1) * 2;
		o->s = xreallocarray(o->s, o->cap, 1);
	}
	va_start(ap, fmt);
	vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* Whether the UTF-8 text at p (valid: f2b_conf checked it) starts with a
 * character a YAML single-quoted scalar cannot hold as it is: C0 and C1
 * controls, DEL, the line breaks NEL, U+2028 and U+2029 (YAML 1.1 would
 * fold them), U+FFFE and U+FFFF. Found by fuzz_f2b (a C1 control in a
 * regex made a rule the loader refused). */
static bool yaml_unprintable(const unsigned char *p)
{
	if (p[0] < 0x20 || p[0] == 0x7f)
		return true;
	if (p[0] == 0xc2)
		return p[1] >= 0x80 && p[1] <= 0x9f;
	if (p[0] == 0xe2 && p[1] == 0x80)
		return p[2] == 0xa8 || p[2] == 0xa9;
	return p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf);
}

/* A YAML single-quoted scalar: only ' needs escaping (doubled). What
 * yaml_unprintable() names cannot appear in one (-1), and no regex needs
 * it raw. */
static int put_quoted(struct out *o, const char *s)
{
	put(o, "'");
	for (const char *p = s; *p; p++) {
		if (yaml_unprintable((const unsigned char *)p))
			return -1;
		put(o, *p == '\'' ? "''" : "%c", *p);
	}
	put(o, "'");
	return 0;
}

/* Text from outside (a path, a --set) in a comment line, so that it cannot
 * end the line and the comment still says what the text was: the
 * backslash, what would end the line (LF, CR, NEL, U+2028, U+2029), the
 * other controls and the bytes that are not UTF-8 (libyaml refuses either
 * anywhere, comments included) are written as \\, \n, \r, \t and \xHH. */
static void put_escaped(struct out *o, const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		const unsigned char *p = (const unsigned char *)s + i;
		size_t n = utf8_len(p, len - i);
		if (n && *p != '\\' && !yaml_unprintable(p))
			put(o, "%.*s", (int)n, s + i);
		else if (*p == '\\' || *p == '\n' || *p == '\r' || *p == '\t')
			put(o, "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : *p == '\t' ? 't' : '\\');
		else
			for (size_t k = 0; k < (n ? n : 1); k++)
				put(o, "\\x%02x", p[k]);
		i += n ? n : 1;
	}
}

/* The filter's name: its file name without directory and ".conf". */
static char *filter_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
		n -= 5;
	return xstrndup(base, n);
}

/* The filter's name becomes the scenario's: refused when a YAML scalar
 * cannot hold it (a control character, a line break, bytes that are not
 * UTF-8), since a line feed in it would end the `scenario:` line. */
static int check_name(const char *name, const char *path, struct errors *errs)
{
	size_t len = strlen(name);
	for (size_t i = 0, n; i < len; i += n) {
		const unsigned char *p = (const unsigned char *)name + i;
		n = utf8_len(p, len - i);
		if (n == 0 || yaml_unprintable(p)) {
			struct out shown = {0};
			put_escaped(&shown, path);
			errors_add(errs, "%s: the file name holds a control character, a line break or bytes "
				   "that are not UTF-8, and would be the scenario's name: rename the file", shown.s);
			free(shown.s);
			return -1;
		}
	}
	return 0;
}

/* `key: prefix<name>`, the value plain when name holds only letters,
 * digits, '.', '_' and '-' (every fail2ban stock filter), single-quoted
 * otherwise (": " or " #" would end a plain scalar). check_name() has
 * refused what a quoted scalar cannot hold. */
static void put_named(struct out *o, const char *key, const char *prefix, const char *name)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
	if (strspn(name, plain) == strlen(name)) {
		put(o, "%s: %s%s\n", key, prefix, name);
		return;
	}
	size_t n = strlen(prefix) + strlen(name) + 1;
	char *v = xmalloc(n);
	snprintf(v, n, "%s%s", prefix, name);
	put(o, "%s: ", key);
	(void)put_quoted(o, v);
	put(o, "\n");
	free(v);
}

/* Program names from fail2ban's _daemon when it is a plain name or an
 * alternation of plain names ("sshd", "(?:dovecot|auth)"); otherwise none
 * (every program), and the prefix regex still matches what it can. */
static void put_programs(struct out *o, const char *daemon)
{
	if (!daemon)
		return;
	const char *s = daemon;
	size_t n = strlen(s);
	if (n > 4 && strncmp(s, "(?:", 3) == 0 && s[n - 1] == ')') {
		s += 3;
		n -= 4;
	}
	if (n == 0 || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-|") != n)
		return;
	put(o, "programs: [");
	for (size_t i = 0, k; i < n; i += k + 1) {
		k = strcspn(s + i, "|");
		if (k > n - i)
			k = n - i;
		put(o, "%s'%.*s'", i ? ", " : "", (int)k, s + i);
	}
	put(o, "]\n");
}

struct filter {
	const char *path;
	char *name;
	struct f2b_conf *conf;
	char *prefregex, *datepattern, *date_re;
	const struct f2b_options *o;
	struct errors *warns, *errs;
	struct out yaml;
	unsigned nfail;     /* failregexes converted */
};

/* Converts each line of a regex list option into patterns. */
static int put_patterns(struct filter *f, const char *key, const char *effect)
{
	unsigned line;
	size_t nerrs = f->errs->n;
	char *list = f2b_conf_get(f->conf, key, &line, f->errs);
	if (!list)
		return f->errs->n != nerrs ? -1 : 0;   /* unset is fine; unresolvable is not */
	int rc = 0, i = 0;
	char *save = NULL;
	for (char *re = strtok_r(list, "\n", &save); re; re = strtok_r(NULL, "\n", &save)) {
		while (isspace((unsigned char)*re))
			re++;
		if (!*re)
			continue;
		i++;
		bool nofail = false, has_addr = false;
		const char *why = NULL;
		bool is_fail = strcmp(key, "failregex") == 0;
		char *pcre = f2b_regex(re, is_fail ? f->prefregex : NULL, f->date_re, &nofail, &has_addr, &why);
		if (pcre && is_fail && !has_addr && !nofail)
			why = "no <HOST> or <ADDR>: its address would come from another line "
			      "(fail2ban's <F-MLFID> correlation), which pacto does not do";
		if (why) {
			errors_add(f->o->partial ? f->warns : f->errs, "%s:%u: %s #%d: %s", f->path, line, key, i, why);
			if (f->o->partial)
				put(&f->yaml, "  # %s #%d not converted: %s\n", key, i, why);
			else
				rc = -1;
			free(pcre);
			continue;
		}
		put(&f->yaml, "  - name: %s-%d\n    effect: %s\n    regex: ", key, i,
		    has_addr ? effect : "ignore");
		if (put_quoted(&f->yaml, pcre) != 0) {
			errors_add(f->errs, "%s:%u: %s #%d: a control character or line separator in the regex", f->path,
				   line, key, i);
			rc = -1;
		}
		put(&f->yaml, "\n");
		f->nfail += is_fail && has_addr;
		free(pcre);
	}
	free(list);
	return rc;
}

/* maxlines > 1: fail2ban joins lines before matching; pacto cannot. */
static int check_maxlines(struct filter *f)
{
	unsigned line;
	char *v = f2b_conf_get(f->conf, "maxlines", &line, f->errs);
	int rc = 0;
	if (v && strtol(v, NULL, 10) > 1) {
		errors_add(f->errs, "%s:%u: maxlines = %s: fail2ban matches several lines joined; "
			   "pacto matches one line at a time", f->path, line, v);
		rc = -1;
	}
	free(v);
	return rc;
}

static int read_dates(struct filter *f)
{
	unsigned line;
	f->prefregex = f2b_conf_get(f->conf, "prefregex", &line, f->errs);
	f->datepattern = f2b_conf_get(f->conf, "datepattern", &line, f->errs);
	if (!f->datepattern)
		return f->errs->n ? -1 : 0;
	/* Several datepatterns (one a line): fail2ban tries each. */
	char *alt = xstrdup(""), *save = NULL;
	for (char *dp = strtok_r(f->datepattern, "\n", &save); dp; dp = strtok_r(NULL, "\n", &save)) {
		char *re = f2b_date_regex(dp);
		if (!re) {
			errors_add(f->errs, "%s:%u: datepattern '%s': a directive pacto does not know", f->path,
				   line, dp);
			free(alt);
			return -1;
		}
		size_t n = strlen(alt) + strlen(re) + 8;
		char *next = xmalloc(n);
		snprintf(next, n, "%s%s(?:%s)", alt, *alt ? "|" : "", re);
		free(alt);
		free(re);
		alt = next;
	}
	f->date_re = alt;
	return 0;
}

static void put_header(struct filter *f)
{
	unsigned line;
	put(&f->yaml, "# Converted by `pacto import-fail2ban` from ");
	put_escaped(&f->yaml, f->path);
	for (size_t i = 0; i < f->o->nset; i++) {
		put(&f->yaml, "\n# with ");
		put_escaped(&f->yaml, f->o->set[i]);
	}
	put(&f->yaml, "\n# Threshold, window and sanction: fail2ban's jail defaults (maxretry 5, findtime 10m,\n"
		      "# bantime 10m). See docs/fail2ban.md for what was converted and how.\n");
	put_named(&f->yaml, "scenario", "f2b-", f->name);
	put_named(&f->yaml, "description", "fail2ban filter ", f->name);
	char *daemon = f2b_conf_get(f->conf, "_daemon", &line, f->errs);
	put_programs(&f->yaml, daemon);
	free(daemon);
	put(&f->yaml, "threshold: 5\nwindow: 10m\nsanction: 10m\npatterns:\n");
}

static void filter_free(struct filter *f)
{
	f2b_conf_free(f->conf);
	free(f->name);
	free(f->prefregex);
	free(f->datepattern);
	free(f->date_re);
}

char *f2b_convert(const char *path, const struct f2b_options *o, struct errors *warns, struct errors *errs)
{
	struct filter f = {.path = path, .o = o, .warns = warns, .errs = errs};
	size_t nerrs = errs->n;
	f.name = filter_name(path);
	int bad_name = check_name(f.name, path, errs);
	f.conf = f2b_conf_read(path, o->set, o->nset, errs);
	if (bad_name || !f.conf || check_maxlines(&f) != 0 || read_dates(&f) != 0)
		goto fail;
	put_header(&f);
	if (put_patterns(&f, "ignoreregex", "ignore") != 0 || put_patterns(&f, "failregex", "attempt") != 0)
		goto fail;
	if (f.nfail == 0) {
		errors_add(errs, "%s: no failregex could be converted", path);
		goto fail;
	}
	if (errs->n != nerrs)
		goto fail;
	filter_free(&f);
	return f.yaml.s;
fail:
	free(f.yaml.s);
	filter_free(&f);
	return NULL;
}
