/* f2bsample.c: runs a pacto rule over one of fail2ban's sample logs and
 * compares every line with what fail2ban's own test suite expects of it.
 * Why: `pacto import-fail2ban` is measured against fail2ban's ground truth
 * (tests/integration/test_fail2ban_import.sh, docs/fail2ban.md).
 * The sample format (fail2ban/tests/samplestestcase.py): a line
 * "# failJSON: {...}" says what the next line must give ("match": true and
 * its "host"); a log line without one must not match; "# filterOptions:"
 * starts a block checked under those filter options only; "# addFILE:"
 * adds another sample file; lines whose failJSON has a "constraint" (a
 * Python expression) are not checked and are counted as skipped.
 * Each line goes through pacto's real path: the engine splits its syslog
 * header (lines without one are read whole, as `pacto replay --bare`
 * does), matches the rule and counts; a line "matches" when the engine
 * counted a failure for it (or would have, but for the allowlist or a
 * sanction in force).
 * usage: f2bsample [--opts JSON] [--verbose] RULE.yaml SAMPLE
 * --opts: the filter options the rule was converted with ({} by default).
 * Prints "checked N ok N missed N extra N wrong-host N skipped N" and
 * exits 0 only when every checked line is as fail2ban expects (lines
 * before the first filterOptions are checked only with {}). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "detect/engine.h"

struct result {
	bool matched;
	struct addr source;
};

struct tally {
	unsigned checked, ok, missed, extra, wrong_host, skipped;
};

struct sample {
	struct engine *e;
	json_t *opts;           /* the options under test */
	json_t *file_opts;      /* fileOptions, merged into each filterOptions entry */
	bool skip_block;
	bool verbose;
	struct result r;
	struct tally t;
	char **files;
	size_t nfiles;
};

static void on_trace(void *arg, const struct trace *t)
{
	struct sample *s = arg;
	if (t->verdict == VERDICT_COUNTED || t->verdict == VERDICT_SANCTIONED ||
	    t->verdict == VERDICT_WHILE_SANCTIONED || t->verdict == VERDICT_ALLOWLISTED) {
		s->r.matched = true;
		s->r.source = t->source;
	}
}

/* A filterOptions entry without its "test.*" keys, fileOptions merged in. */
static json_t *entry_opts(struct sample *s, json_t *entry)
{
	json_t *o = json_object();
	if (s->file_opts)
		json_object_update(o, s->file_opts);
	json_object_update(o, entry);
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o, tmp, k, v)
		if (strncmp(k, "test.", 5) == 0)
			json_object_del(o, k);
	return o;
}

/* The block is checked when one of its entries is the options under test. */
static void filter_options(struct sample *s, json_t *j)
{
	json_t *list = json_is_array(j) ? json_incref(j) : json_pack("[O]", j);
	size_t i;
	json_t *entry;
	s->skip_block = true;
	json_array_foreach(list, i, entry) {
		json_t *o = entry_opts(s, entry);
		if (json_equal(o, s->opts))
			s->skip_block = false;
		json_decref(o);
	}
	json_decref(list);
}

static void report(struct sample *s, const char *what, const char *file, unsigned lineno, const char *line)
{
	if (s->verbose)
		printf("%s %s:%u: %s\n", what, file, lineno, line);
}

static void check_line(struct sample *s, json_t *fail, const char *file, unsigned lineno, char *line)
{
	size_t len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (s->skip_block || json_object_get(fail, "constraint")) {
		s->t.skipped++;
		return;
	}
	s->r.matched = false;
	engine_feed_line(s->e, line, len, 1400000000LL * 1000000);
	s->t.checked++;
	bool want = json_is_true(json_object_get(fail, "match"));
	const char *host = json_string_value(json_object_get(fail, "host"));
	struct addr a;
	if (want && !s->r.matched) {
		s->t.missed++;
		report(s, "missed", file, lineno, line);
	} else if (!want && s->r.matched) {
		s->t.extra++;
		report(s, "extra", file, lineno, line);
	} else if (want && host && (addr_parse(host, strlen(host), &a) != 0 || !addr_equal(&a, &s->r.source))) {
		s->t.wrong_host++;
		char got[ADDR_STRLEN];
		if (s->verbose)
			printf("wrong-host %s:%u: want %s got %s: %s\n", file, lineno, host,
			       addr_format(&s->r.source, got, sizeof(got)), line);
	} else {
		s->t.ok++;
	}
}

/* Handles a "# failJSON:"-style line; returns the failJSON object (new
 * reference) when the next line is the one it describes. */
static json_t *directive(struct sample *s, const char *line, const char *dir)
{
	const char *p = line;
	while (*p == '#')
		p++;
	if (*p == ' ')
		p++;
	static const char *const names[] = {"failJSON:", "fileOptions:", "filterOptions:", "addFILE:"};
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(names[i]);
		if (strncmp(p, names[i], n) != 0)
			continue;
		json_t *j = json_loads(p + n, JSON_DECODE_ANY, NULL);
		if (!j)
			return NULL;
		if (i == 0)
			return j;
		if (i == 1) {
			json_decref(s->file_opts);
			s->file_opts = json_incref(j);
		} else if (i == 2) {
			filter_options(s, j);
		} else if (json_is_string(j)) {
			char *path = NULL;
			if (asprintf(&path, "%s/%s", dir, json_string_value(j)) > 0) {
				s->files = realloc(s->files, (s->nfiles + 1) * sizeof(*s->files));
				s->files[s->nfiles++] = path;
			}
		}
		json_decref(j);
		return NULL;
	}
	return NULL;
}

static int run_file(struct sample *s, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	json_t *pending = NULL;
	json_t *defaults = json_object();
	/* Lines before any filterOptions are checked with the filter's defaults. */
	s->skip_block = !json_equal(s->opts, defaults);
	json_decref(defaults);
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (pending) {
			check_line(s, pending, path, lineno, line);
			json_decref(pending);
			pending = NULL;
		} else if (line[0] == '#') {
			pending = directive(s, line, dir);
		} else if (line[strspn(line, " \t\r\n")] != '\0') {
			json_t *none = json_object();
			check_line(s, none, path, lineno, line);
			json_decref(none);
		}
	}
	json_decref(pending);
	free(line);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct sample s = {0};
	int i = 1;
	s.opts = json_object();
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--verbose") == 0) {
			s.verbose = true;
		} else if (strcmp(argv[i], "--opts") == 0 && i + 1 < argc) {
			json_decref(s.opts);
			s.opts = json_loads(argv[++i], 0, NULL);
			if (!json_is_object(s.opts))
				return 64;
		} else {
			return 64;
		}
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: f2bsample [--opts JSON] [--verbose] RULE.yaml SAMPLE\n");
		return 64;
	}
	struct errors errs = {0};
	struct ruleset *rs = NULL;
	if (ruleset_load(argv[i], &rs, &errs) != 0) {
		for (size_t k = 0; k < errs.n; k++)
			fprintf(stderr, "%s\n", errs.msgs[k]);
		return 78;
	}
	struct engine_config cfg = {.use_log_time = true, .trust_bare = true, .seed = 1, .on_trace = on_trace,
				    .arg = &s, .trace_all = true};
	s.e = engine_new(rs, &cfg);
	s.files = malloc(sizeof(*s.files));
	s.files[0] = strdup(argv[i + 1]);
	s.nfiles = 1;
	int rc = 0;
	for (size_t k = 0; k < s.nfiles; k++)
		rc |= run_file(&s, s.files[k]);
	printf("checked %u ok %u missed %u extra %u wrong-host %u skipped %u\n", s.t.checked, s.t.ok, s.t.missed,
	       s.t.extra, s.t.wrong_host, s.t.skipped);
	engine_free(s.e);
	ruleset_free(rs);
	for (size_t k = 0; k < s.nfiles; k++)
		free(s.files[k]);
	free(s.files);
	json_decref(s.opts);
	json_decref(s.file_opts);
	return rc == 0 && s.t.ok == s.t.checked ? 0 : 1;
}
