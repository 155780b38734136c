/* rules.c: reads scenario files with libyaml and compiles their patterns
 * with PCRE2 JIT (format: docs/rules.md).
 * Why libyaml's document API: it keeps each node's line, so every error can
 * name file, line and key without a hand-written parser.
 * Each pattern is compiled and JIT-compiled on its own; match.c decides
 * which of them a line is tried against.
 * Guarantees: see rules.h. Every error of a file is collected before the
 * file is rejected, so one run shows them all. */
#include "detect/rules.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "common/yaml_util.h"

#define RULE_FILE_MAX (1024 * 1024)

/* Defaults of docs/rules.md: 5 failures in 10 minutes, 10 minutes doubled
 * per repeat up to a week, offences remembered a week. */
#define DEFAULT_THRESHOLD 5
#define DEFAULT_WINDOW_US (600 * 1000000LL)
#define DEFAULT_SANCTION_US (600 * 1000000LL)
#define DEFAULT_FACTOR 2
#define DEFAULT_MAX_US (604800 * 1000000LL)
#define DEFAULT_MEMORY_US (604800 * 1000000LL)
#define DEFAULT_CONN_TIMEOUT_US (300 * 1000000LL)

static const char *const effect_names[] = {
	[EFFECT_IGNORE] = "ignore",
	[EFFECT_ATTEMPT] = "attempt",
	[EFFECT_PENDING] = "pending",
	[EFFECT_END] = "end",
	[EFFECT_END_ATTEMPT] = "end-attempt",
	[EFFECT_MARK] = "mark",
};

const char *effect_name(enum effect e)
{
	return (size_t)e < sizeof(effect_names) / sizeof(*effect_names) ? effect_names[e] : "?";
}

static int effect_from_name(const char *s)
{
	for (size_t i = 0; i < sizeof(effect_names) / sizeof(*effect_names); i++)
		if (strcmp(s, effect_names[i]) == 0)
			return (int)i;
	return -1;
}

static void want_unsigned(struct yaml_ctx *c, yaml_node_t *node, const char *key, unsigned min,
			  unsigned max, unsigned *out)
{
	uint64_t v = *out;
	yml_uint(c, node, key, min, max, &v);
	*out = (unsigned)v;
}

static void want_effect(struct yaml_ctx *c, yaml_node_t *node, const char *key, enum effect *out)
{
	const char *s = yml_scalar(c, node, key);
	if (!s)
		return;
	int e = effect_from_name(s);
	if (e < 0) {
		yml_error(c, node, key, "'%s' is not one of attempt, pending, end, end-attempt, mark, ignore", s);
		return;
	}
	*out = (enum effect)e;
}

/* ---- patterns ---- */

/* Pattern fields as read, before flags are resolved to numbers. */
struct pattern_text {
	struct pattern p;
	char *when, *flag, *otherwise_name;
	yaml_node_t *regex_node, *when_node, *flag_node;
	bool has_effect, has_otherwise;
};

static void pattern_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct pattern_text *pt = arg;
	if (strcmp(key, "name") == 0) {
		yml_string(c, v, key, &pt->p.name);
	} else if (strcmp(key, "regex") == 0) {
		yml_string(c, v, key, &pt->p.regex);
		pt->regex_node = v;
	} else if (strcmp(key, "effect") == 0) {
		want_effect(c, v, key, &pt->p.effect);
		pt->has_effect = true;
	} else if (strcmp(key, "otherwise") == 0) {
		want_effect(c, v, key, &pt->p.otherwise);
		pt->has_otherwise = true;
	} else if (strcmp(key, "when") == 0) {
		yml_string(c, v, key, &pt->when);
		pt->when_node = v;
	} else if (strcmp(key, "flag") == 0) {
		yml_string(c, v, key, &pt->flag);
		pt->flag_node = v;
	} else {
		yml_unknown_key(c, v, key, "a pattern");
	}
}

static int flag_index(struct scenario *s, const char *name, bool add)
{
	for (size_t i = 0; i < s->nflags; i++)
		if (strcmp(s->flags[i], name) == 0)
			return (int)i;
	if (!add || s->nflags == RULES_MAX_FLAGS)
		return -1;
	s->flags[s->nflags] = xstrdup(name);
	return (int)s->nflags++;
}

/* Compiles one pattern alone, to report its errors precisely and learn
 * its groups; its JIT code comes at its first match (pattern_jit_code). */
static pcre2_code *compile_alone(struct yaml_ctx *c, struct pattern_text *pt)
{
	int err;
	PCRE2_SIZE off;
	/* PCRE2_NEVER_UTF refuses (*UTF): log lines are bytes, often not valid
	 * UTF-8 (an attacker picks them), and pcre2_jit_match does not check
	 * UTF validity, so a UTF pattern read past the end of such a line
	 * (found by fuzz_match). */
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pt->p.regex, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &err, &off,
					 NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(err, msg, sizeof(msg));
		yml_error(c, pt->regex_node, "regex", "%s at offset %zu in '%s'", (char *)msg,
			   (size_t)off, pt->p.regex);
		return NULL;
	}
	return code;
}

/* The groups named addr: one, or several when the regex allows repeated
 * names with (?J) (an address written in one of several places); the
 * first that takes part in a match is the address. Returns the first's
 * number, or a negative PCRE2 code when there is none. */
static int addr_groups(struct yaml_ctx *c, struct pattern_text *pt, pcre2_code *code)
{
	PCRE2_SPTR first, last;
	uint32_t size = 0;
	int rc = pcre2_substring_nametable_scan(code, (PCRE2_SPTR) "addr", &first, &last);
	if (rc < 0)
		return rc;
	pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &size);
	for (PCRE2_SPTR e = first; e <= last; e += size) {
		if (pt->p.naddr_groups == RULES_MAX_ADDR_GROUPS) {
			yml_error(c, pt->regex_node, "regex", "more than %d groups named addr", RULES_MAX_ADDR_GROUPS);
			break;
		}
		pt->p.addr_groups[pt->p.naddr_groups++] = (uint32_t)(e[0] << 8 | e[1]);
	}
	return (int)pt->p.addr_groups[0];
}

static bool effect_needs_addr(enum effect e)
{
	return e != EFFECT_MARK && e != EFFECT_IGNORE;
}

static void check_pattern(struct yaml_ctx *c, struct scenario *s, struct pattern_text *pt, yaml_node_t *node)
{
	if (!pt->p.name)
		yml_error(c, node, "name", "every pattern needs a name");
	if (!pt->has_effect)
		yml_error(c, node, "effect", "every pattern needs an effect");
	if (!pt->p.regex) {
		yml_error(c, node, "regex", "every pattern needs a regex");
		return;
	}
	pcre2_code *code = compile_alone(c, pt);
	if (!code)
		return;
	int addr = addr_groups(c, pt, code);
	int port = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "port");
	int time = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "time");
	int nofail = pcre2_substring_number_from_name(code, (PCRE2_SPTR) "nofail");
	pt->p.has_addr = addr > 0;
	pt->p.addr_group = addr > 0 ? (uint32_t)addr : 0;
	pt->p.port_group = port > 0 ? (uint32_t)port : 0;
	pt->p.time_group = time > 0 ? (uint32_t)time : 0;
	pt->p.nofail_group = nofail > 0 ? (uint32_t)nofail : 0;
	pt->p.code = code;
	if (effect_needs_addr(pt->p.effect) || (pt->when && effect_needs_addr(pt->p.otherwise))) {
		if (!pt->p.has_addr)
			yml_error(c, pt->regex_node, "regex", "'%s' has no (?<addr>...) group for the source address",
				   pt->p.regex);
	}

	if (pt->p.effect == EFFECT_MARK) {
		if (!pt->flag)
			yml_error(c, node, "flag", "a mark pattern needs a flag name");
		else if ((pt->p.mark_flag = flag_index(s, pt->flag, true)) < 0)
			yml_error(c, pt->flag_node, "flag", "more than %d flags", RULES_MAX_FLAGS);
	} else if (pt->flag) {
		yml_error(c, pt->flag_node, "flag", "only a mark pattern sets a flag");
	}
	if (pt->has_otherwise && !pt->when)
		yml_error(c, node, "otherwise", "only meaningful with 'when'");
	if (pt->has_otherwise && pt->p.otherwise == EFFECT_MARK)
		yml_error(c, node, "otherwise", "cannot be mark (a mark needs its own pattern and flag)");
	if (pt->when && (pt->p.effect == EFFECT_MARK || pt->p.effect == EFFECT_IGNORE))
		yml_error(c, node, "when", "a %s pattern cannot be conditional", effect_name(pt->p.effect));
}

/* Resolves `when` after every mark pattern has declared its flag. */
static void resolve_when(struct yaml_ctx *c, struct scenario *s, struct pattern_text *pt)
{
	pt->p.when_flag = -1;
	if (!pt->when)
		return;
	pt->p.when_flag = flag_index(s, pt->when, false);
	if (pt->p.when_flag < 0)
		yml_error(c, pt->when_node, "when", "no mark pattern sets the flag '%s'", pt->when);
}

static void pattern_text_free(struct pattern_text *pt)
{
	free(pt->when);
	free(pt->flag);
	free(pt->otherwise_name);
}

static void load_patterns(struct yaml_ctx *c, struct scenario *s, yaml_node_t *seq)
{
	if (seq->type != YAML_SEQUENCE_NODE) {
		yml_error(c, seq, "patterns", "expected a list of patterns");
		return;
	}
	if (s->patterns) {
		yml_error(c, seq, "patterns", "given twice");
		return;
	}
	size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0 || n > RULES_MAX_PATTERNS) {
		yml_error(c, seq, "patterns", "expected 1 to %d patterns, found %zu", RULES_MAX_PATTERNS, n);
		return;
	}
	struct pattern_text *pts = xcalloc(n, sizeof(*pts));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *node = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
		pts[i].p.line = yml_line(node);
		pts[i].p.mark_flag = -1;
		yml_for_each_pair(c, node, "patterns", pattern_pair, &pts[i]);
		check_pattern(c, s, &pts[i], node);
	}
	s->patterns = xcalloc(n, sizeof(*s->patterns));
	s->npatterns = n;
	for (size_t i = 0; i < n; i++) {
		resolve_when(c, s, &pts[i]);
		s->patterns[i] = pts[i].p;
		s->patterns[i].file = s->file;
		s->patterns[i].jit = xcalloc(1, sizeof(*s->patterns[i].jit));
		pattern_text_free(&pts[i]);
	}
	free(pts);
}

/* ---- scenario ---- */

static void load_programs(struct yaml_ctx *c, struct scenario *s, yaml_node_t *seq)
{
	if (seq->type != YAML_SEQUENCE_NODE) {
		yml_error(c, seq, "programs", "expected a list of program names, e.g. [sshd, sshd-session]");
		return;
	}
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		const char *name = yml_scalar(c, yaml_document_get_node(c->doc, *it), "programs");
		if (!name)
			continue;
		s->programs = xreallocarray(s->programs, s->nprograms + 1, sizeof(*s->programs));
		s->program_lens = xreallocarray(s->program_lens, s->nprograms + 1, sizeof(*s->program_lens));
		s->program_lens[s->nprograms] = strlen(name);
		s->programs[s->nprograms++] = xstrdup(name);
	}
}

static void escalation_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct scenario *s = arg;
	if (strcmp(key, "factor") == 0)
		want_unsigned(c, v, key, 1, 16, &s->escalation_factor);
	else if (strcmp(key, "max") == 0)
		yml_duration(c, v, key, &s->escalation_max_us);
	else if (strcmp(key, "memory") == 0)
		yml_duration(c, v, key, &s->escalation_memory_us);
	else
		yml_unknown_key(c, v, key, "escalation");
}

static void connection_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct scenario *s = arg;
	if (strcmp(key, "timeout") == 0)
		yml_duration(c, v, key, &s->connection_timeout_us);
	else
		yml_unknown_key(c, v, key, "connection");
}

/* input: lines (the default) or sanctions (a scenario over the other
 * scenarios' sanctions: recidive). */
static void want_input(struct yaml_ctx *c, struct scenario *s, yaml_node_t *v)
{
	const char *text = yml_scalar(c, v, "input");
	if (!text)
		return;
	if (strcmp(text, "lines") == 0)
		s->counts_sanctions = false;
	else if (strcmp(text, "sanctions") == 0)
		s->counts_sanctions = true;
	else
		yml_error(c, v, "input", "'%s' is not lines or sanctions", text);
}

static void scenario_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct scenario *s = arg;
	if (strcmp(key, "scenario") == 0)
		yml_string(c, v, key, &s->name);
	else if (strcmp(key, "description") == 0)
		yml_string(c, v, key, &s->description);
	else if (strcmp(key, "programs") == 0)
		load_programs(c, s, v);
	else if (strcmp(key, "headerless") == 0)
		yml_bool(c, v, key, &s->headerless);
	else if (strcmp(key, "input") == 0)
		want_input(c, s, v);
	else if (strcmp(key, "threshold") == 0)
		want_unsigned(c, v, key, 1, RULES_MAX_THRESHOLD, &s->threshold);
	else if (strcmp(key, "window") == 0)
		yml_duration(c, v, key, &s->window_us);
	else if (strcmp(key, "sanction") == 0)
		yml_duration(c, v, key, &s->sanction_us);
	else if (strcmp(key, "escalation") == 0)
		yml_for_each_pair(c, v, key, escalation_pair, s);
	else if (strcmp(key, "connection") == 0)
		yml_for_each_pair(c, v, key, connection_pair, s);
	else if (strcmp(key, "patterns") == 0)
		load_patterns(c, s, v);
	else
		yml_unknown_key(c, v, key, "a scenario");
}

static void scenario_defaults(struct scenario *s, const char *file)
{
	memset(s, 0, sizeof(*s));
	s->file = xstrdup(file);
	s->threshold = DEFAULT_THRESHOLD;
	s->window_us = DEFAULT_WINDOW_US;
	s->sanction_us = DEFAULT_SANCTION_US;
	s->escalation_factor = DEFAULT_FACTOR;
	s->escalation_max_us = DEFAULT_MAX_US;
	s->escalation_memory_us = DEFAULT_MEMORY_US;
	s->connection_timeout_us = DEFAULT_CONN_TIMEOUT_US;
}

static void scenario_free(struct scenario *s)
{
	free(s->name);
	free(s->file);
	free(s->description);
	for (size_t i = 0; i < s->nprograms; i++)
		free(s->programs[i]);
	free(s->programs);
	free(s->program_lens);
	for (size_t i = 0; i < s->nflags; i++)
		free(s->flags[i]);
	for (size_t i = 0; i < s->npatterns; i++) {
		free(s->patterns[i].name);
		free(s->patterns[i].regex);
		pcre2_code_free(s->patterns[i].code);
		if (s->patterns[i].jit)
			pcre2_code_free(s->patterns[i].jit->code);
		free(s->patterns[i].jit);
	}
	free(s->patterns);
}

/* ---- files ---- */

static void check_scenario(struct yaml_ctx *c, struct scenario *s, yaml_node_t *root)
{
	/* An empty name ("scenario:" alone, or its value commented out) is
	 * no name: sanctions, `pacto why` and reports would show nothing
	 * (found by fuzz_rules). */
	if (!s->name || !s->name[0])
		yml_error(c, root, "scenario", "a rule file needs a 'scenario: NAME' key");
	else if (strlen(s->name) > RULES_MAX_NAME)
		/* The ledger would cut it, maybe inside a character. */
		yml_error(c, root, "scenario", "the name is longer than %d bytes", RULES_MAX_NAME);
	if (s->counts_sanctions) {
		/* It reads no line: what would select or match one is a mistake. */
		if (s->patterns)
			yml_error(c, root, "patterns", "a scenario with 'input: sanctions' reads no lines");
		if (s->nprograms || s->headerless)
			yml_error(c, root, "input", "'input: sanctions' reads no lines: no programs, no headerless");
	} else if (!s->patterns && c->errs->n == c->nerrs_at_start) {
		yml_error(c, root, "patterns", "a scenario needs at least one pattern");
	}
	if (s->escalation_max_us < s->sanction_us)
		yml_error(c, root, "escalation", "max is shorter than the sanction itself");
	if (s->escalation_max_us > 366 * 86400 * 1000000LL || s->sanction_us > 366 * 86400 * 1000000LL)
		yml_error(c, root, "escalation", "longer than 366 days: the kernel's timeout would cut it");
}

/* Parses one scenario from text into *s; returns 0 or -1 (errors added). */
static int load_scenario(const char *name, const char *text, size_t len, struct scenario *s,
			 struct errors *errs)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	bool loaded;
	struct yaml_ctx c = {.file = name, .doc = &doc, .errs = errs, .nerrs_at_start = errs->n};

	scenario_defaults(s, name);
	yaml_node_t *root = yml_open(&c, &parser, &doc, text, len, &loaded);
	if (root && root->type != YAML_MAPPING_NODE) {
		yml_error(&c, root, "scenario", "expected a mapping with scenario, patterns, ...");
	} else if (root) {
		yml_for_each_pair(&c, root, "scenario", scenario_pair, s);
		check_scenario(&c, s, root);
	}
	yml_close(&parser, &doc, loaded);
	return errs->n == c.nerrs_at_start ? 0 : -1;
}

static void ruleset_add(struct ruleset *rs, struct scenario *s, struct errors *errs)
{
	for (size_t i = 0; i < rs->nscenarios; i++)
		if (strcmp(rs->scenarios[i].name, s->name) == 0)
			errors_add(errs, "%s:1: scenario: '%s' is already defined in %s", s->file, s->name,
				 rs->scenarios[i].file);
	rs->scenarios = xreallocarray(rs->scenarios, rs->nscenarios + 1, sizeof(*rs->scenarios));
	rs->scenarios[rs->nscenarios++] = *s;
}

static int add_text(struct ruleset *rs, const char *name, const char *text, size_t len,
		    struct errors *errs)
{
	struct scenario s;
	if (load_scenario(name, text, len, &s, errs) != 0) {
		scenario_free(&s);
		return -1;
	}
	ruleset_add(rs, &s, errs);
	return 0;
}

static int add_file(struct ruleset *rs, const char *path, struct errors *errs)
{
	size_t len;
	char *text = read_small_file(path, RULE_FILE_MAX, &len, errs);
	if (!text)
		return -1;
	int rc = add_text(rs, path, text, len, errs);
	free(text);
	return rc;
}

static bool is_rule_name(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && ((n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
				  (n > 4 && strcmp(name + n - 4, ".yml") == 0));
}

static int add_dir(struct ruleset *rs, const char *dir, struct errors *errs)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		errors_add(errs, "%s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (is_rule_name(names[i]->d_name)) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			rc |= add_file(rs, path, errs);
		}
		free(names[i]);
	}
	free(names);
	if (rc == 0 && rs->nscenarios == 0) {
		errors_add(errs, "%s: no *.yaml rule files", dir);
		rc = -1;
	}
	return rc;
}

static int finish_load(struct ruleset *rs, struct ruleset **out, struct errors *errs, size_t nerrs)
{
	rules_jit_available();   /* said now, at start or reload, if it cannot run */
	if (errs->n != nerrs) {
		ruleset_free(rs);
		*out = NULL;
		return -1;
	}
	*out = rs;
	return 0;
}

static void add_path(struct ruleset *rs, const char *path, struct errors *errs)
{
	struct stat st;
	if (stat(path, &st) != 0)
		errors_add(errs, "%s: %s", path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		add_dir(rs, path, errs);
	else
		add_file(rs, path, errs);
}

int ruleset_load_paths(const char *const *paths, size_t n, struct ruleset **out, struct errors *errs)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));
	size_t nerrs = errs->n;
	for (size_t i = 0; i < n; i++)
		add_path(rs, paths[i], errs);
	return finish_load(rs, out, errs, nerrs);
}

int ruleset_load(const char *path, struct ruleset **out, struct errors *errs)
{
	return ruleset_load_paths(&path, 1, out, errs);
}

int ruleset_load_texts(const struct rule_text *texts, size_t n, struct ruleset **out,
		       struct errors *errs)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));
	size_t nerrs = errs->n;
	for (size_t i = 0; i < n; i++)
		add_text(rs, texts[i].name, texts[i].text, texts[i].len, errs);
	return finish_load(rs, out, errs, nerrs);
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nscenarios; i++)
		scenario_free(&rs->scenarios[i]);
	free(rs->scenarios);
	free(rs);
}

/* ---- JIT code, at first use ---- */

static pthread_once_t jit_tried = PTHREAD_ONCE_INIT;
static bool jit_runs;

static void try_jit(void)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR) "a", 1, 0, &err, &off, NULL);
	jit_runs = code && pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	pcre2_code_free(code);
	if (!jit_runs)
		log_warnx("PCRE2's JIT cannot run in this process (executable memory refused, e.g. "
			  "MemoryDenyWriteExecute=yes): every pattern is matched by PCRE2's interpreter, slower");
}

bool rules_jit_available(void)
{
	pthread_once(&jit_tried, try_jit);
	return jit_runs;
}

/* p's code copied and JIT-compiled; NULL (said) when that fails. */
static pcre2_code *jit_copy(const struct pattern *p)
{
	if (!rules_jit_available())
		return NULL;
	pcre2_code *copy = pcre2_code_copy(p->code);
	if (copy && pcre2_jit_compile(copy, PCRE2_JIT_COMPLETE) == 0)
		return copy;
	pcre2_code_free(copy);
	log_warnx("%s:%u: pattern '%s': PCRE2 JIT cannot compile it (out of memory?): matched by PCRE2's "
		  "interpreter from now on", p->file ? p->file : "?", p->line, p->name ? p->name : "?");
	return NULL;
}

/* One lock for every pattern: taken only the first time each pattern
 * matches, by whichever thread gets there first. */
static pthread_mutex_t jit_lock = PTHREAD_MUTEX_INITIALIZER;

const pcre2_code *pattern_jit_code(const struct pattern *p)
{
	struct pattern_jit *j = p->jit;
	int state = atomic_load_explicit(&j->state, memory_order_acquire);
	if (state == PATTERN_JIT_NOT_YET) {
		pthread_mutex_lock(&jit_lock);
		state = atomic_load_explicit(&j->state, memory_order_relaxed);
		if (state == PATTERN_JIT_NOT_YET) {
			j->code = jit_copy(p);
			state = j->code ? PATTERN_JIT_READY : PATTERN_JIT_FAILED;
			atomic_store_explicit(&j->state, state, memory_order_release);
		}
		pthread_mutex_unlock(&jit_lock);
	}
	return state == PATTERN_JIT_READY ? j->code : NULL;
}
