/* fuzz_config.c: pacto.conf (YAML, src/config/config.c through the
 * options table), read with config_parse, the text entry point that
 * config_load uses after reading the file.
 * Properties: the parser never reads past its text; it loads with no
 * error or refuses with at least one error naming the file; a loaded
 * config keeps every documented bound (list sizes, allowlist entries valid
 * and masked, numbers within their option's range); comparing a config
 * with itself finds no change a reload could not apply. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "fuzz.h"

#define NAME "fuzz.conf"

static void check_uint_options(const struct config *cfg)
{
	for (size_t i = 0; i < config_noptions; i++) {
		const struct config_option *o = &config_options[i];
		if (o->type != OPT_UINT)
			continue;
		uint64_t v = *(const uint64_t *)((const char *)cfg + o->offset);
		FUZZ_CHECK(v >= o->min && v <= o->max);
	}
}

static void check_loaded(const struct config *cfg)
{
	FUZZ_CHECK(cfg->nfiles <= CONFIG_MAX_LIST && cfg->nrules <= CONFIG_MAX_LIST);
	FUZZ_CHECK(cfg->nallowlist <= CONFIG_MAX_LIST && cfg->nnats <= CONFIG_MAX_LIST);
	for (size_t i = 0; i < cfg->nfiles; i++)
		FUZZ_CHECK(cfg->files[i] && cfg->files[i][0] == '/');
	for (size_t i = 0; i < cfg->nallowlist; i++) {
		const struct addr *a = &cfg->allowlist[i];
		FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
		FUZZ_CHECK(a->prefix <= addr_max_prefix(a));
	}
	for (size_t i = 0; i < cfg->noverrides; i++)
		FUZZ_CHECK(cfg->overrides[i].scenario && cfg->overrides[i].has != 0);
	check_uint_options(cfg);
	const char *names[64];
	FUZZ_CHECK(config_unreloadable_changes(cfg, cfg, names, 64) == 0);
	FUZZ_CHECK(strcmp(cfg->path, NAME) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_copy(data, size);
	struct config *cfg = NULL;
	struct errors errs = {0};
	int rc = config_parse(NAME, text, size, &cfg, &errs);
	FUZZ_CHECK((rc == 0) == (errs.n == 0) && (rc == 0 || rc == -1));
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(strncmp(errs.msgs[i], NAME ":", strlen(NAME) + 1) == 0);
	if (rc == 0)
		check_loaded(cfg);
	else
		FUZZ_CHECK(cfg == NULL);
	config_free(cfg);
	errors_clear(&errs);
	free(text);
	return 0;
}
