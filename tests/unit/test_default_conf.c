/* test_default_conf.c: the commented default configuration that packages
 * install as /etc/pacto/pacto.conf (contrib/pacto.conf).
 * Why: the file shows every option with its default; if it drifted from the
 * options table it would teach wrong defaults, or break pactod the day
 * someone uncomments a line. So: as shipped it loads as every default; it
 * names every option of the table, with the table's default where that
 * default is a value; and with those lines uncommented it still loads, to
 * the same values as the defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/yaml_util.h"
#include "config/config.h"

#define DEFAULT_CONF "contrib/pacto.conf"

static char *read_conf(void)
{
	size_t len;
	struct errors errs = {0};
	char *text = read_small_file(DEFAULT_CONF, 1 << 20, &len, &errs);
	if (!text)
		fail_msg("%s: %s", DEFAULT_CONF, errs.n ? errs.msgs[0] : "unreadable");
	return text;
}

/* A default written as a value (not "(automatic)", "(none)"...) can be
 * uncommented as it is. */
static bool literal_default(const struct config_option *o)
{
	return o->default_text[0] != '(';
}

/* The line "#name: default" (or "#name: " for a non-literal default), at
 * the start of a line; NULL when absent. */
static const char *option_line(const char *text, const struct config_option *o)
{
	char want[256];
	snprintf(want, sizeof(want), "\n#%s: %s", o->name, literal_default(o) ? o->default_text : "");
	const char *at = strstr(text, want);
	if (!at)
		return NULL;
	at += strlen(want);
	return literal_default(o) && *at != '\n' ? NULL : at;   /* the whole value, not a prefix of it */
}

static void load_ok(const char *path, struct config **cfg)
{
	struct errors errs = {0};
	if (config_load(path, cfg, &errs) != 0)
		fail_msg("%s does not load: %s", path, errs.n ? errs.msgs[0] : "?");
	errors_clear(&errs);   /* an empty file leaves an emptied list behind */
}

static void test_every_option_with_its_default(void **state)
{
	(void)state;
	char *text = read_conf();
	for (size_t i = 0; i < config_noptions; i++)
		if (!option_line(text, &config_options[i]))
			fail_msg("%s has no line '#%s: %s'", DEFAULT_CONF, config_options[i].name,
				 literal_default(&config_options[i]) ? config_options[i].default_text : "...");
	free(text);
}

/* The scalar field of option o in cfg, as text, for comparison. */
static void field_text(const struct config *cfg, const struct config_option *o, char *out, size_t len)
{
	const char *base = (const char *)cfg + o->offset;
	const char *s;
	switch (o->type) {
	case OPT_BOOL: snprintf(out, len, "%d", *(const bool *)base); break;
	case OPT_UINT: snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)base); break;
	case OPT_RETENTION: snprintf(out, len, "%lld us", (long long)*(const int64_t *)base); break;
	case OPT_JOURNAL: snprintf(out, len, "%d", (int)*(const enum journal_mode *)base); break;
	case OPT_PATH:
	case OPT_ENDPOINT:
		s = *(char *const *)base;
		snprintf(out, len, "%s", s ? s : "(null)");
		break;
	default:   /* lists: their length */
		snprintf(out, len, "n=%zu", *(const size_t *)((const char *)cfg + o->count_offset));
	}
}

/* Fails unless cfg holds the same as defaults for every option (lists by
 * length), skipping path and URL lists when lists_too is false. */
static void same_as_defaults(const struct config *cfg, const struct config *defaults, bool lists_too,
			     const char *what)
{
	for (size_t i = 0; i < config_noptions; i++) {
		const struct config_option *o = &config_options[i];
		char got[512], want[512];
		if (!lists_too && (o->type == OPT_PATH_LIST || o->type == OPT_URL_LIST))
			continue;
		field_text(cfg, o, got, sizeof(got));
		field_text(defaults, o, want, sizeof(want));
		if (strcmp(got, want) != 0)
			fail_msg("%s: %s is %s, the default is %s", what, o->name, got, want);
	}
}

/* As shipped: loads, and every value is the default. */
static void test_shipped_file_is_defaults(void **state)
{
	(void)state;
	struct config *cfg, *defaults;
	load_ok(DEFAULT_CONF, &cfg);
	load_ok("/dev/null", &defaults);   /* an empty file: every default */
	same_as_defaults(cfg, defaults, true, DEFAULT_CONF " as shipped");
	config_free(cfg);
	config_free(defaults);
}

/* Uncommenting every "#name: default" line gives a file pactod accepts,
 * holding the defaults. Lists are compared by length: "rules" names
 * /etc/pacto/rules explicitly (the default finds it implicitly), "nats"
 * its one default server. */
static void test_uncommented_defaults_load_as_defaults(void **state)
{
	(void)state;
	char *text = read_conf(), path[] = "/tmp/pacto-default-conf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	size_t uncommented = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		for (size_t i = 0; i < config_noptions; i++) {
			const struct config_option *o = &config_options[i];
			size_t n = strlen(o->name);
			if (literal_default(o) && line[0] == '#' && strncmp(line + 1, o->name, n) == 0 &&
			    line[n + 1] == ':') {
				fprintf(f, "%s\n", line + 1);
				uncommented++;
			}
		}
	}
	fclose(f);
	free(text);
	assert_true(uncommented > 0);
	struct config *cfg, *defaults;
	load_ok(path, &cfg);
	load_ok("/dev/null", &defaults);   /* an empty file: every default */
	same_as_defaults(cfg, defaults, false, "the defaults uncommented");
	assert_int_equal(cfg->nrules, 1);
	assert_string_equal(cfg->rules[0], "/etc/pacto/rules");
	assert_int_equal(cfg->nnats, defaults->nnats);
	assert_string_equal(cfg->nats[0], defaults->nats[0]);
	config_free(cfg);
	config_free(defaults);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_file_is_defaults),
		cmocka_unit_test(test_every_option_with_its_default),
		cmocka_unit_test(test_uncommented_defaults_load_as_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
