/* config.c: pacto.conf read with libyaml through the options table (see config.h). */
#include "config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "common/yaml_util.h"

#define CONFIG_FILE_MAX (64 * 1024)

#define F(field) offsetof(struct config, field)

const struct config_option config_options[] = {
	{"files", OPT_PATH_LIST, F(files), F(nfiles), 0, 0, "(automatic)", false,
	 "log files to follow; without it and without the journal: /var/log/auth.log, else /var/log/secure"},
	{"journal", OPT_JOURNAL, F(journal), 0, 0, 0, "auto", false,
	 "read sshd's messages from the systemd journal: auto (when it exists), yes or no"},
	{"read_from_start", OPT_BOOL, F(read_from_start), 0, 0, 0, "no", false,
	 "read a file seen for the first time from its start rather than its end"},
	{"rules", OPT_PATH_LIST, F(rules), F(nrules), 0, 0, "[/etc/pacto/rules]", true,
	 "rule files or directories; the stock rules built into pacto when none exists"},
	{"allowlist", OPT_CIDR_LIST, F(allowlist), F(nallowlist), 0, 0, "[]", true,
	 "networks never sanctioned (loopback always is)"},
	/* 48: the widest IPv6 prefix the enforcer accepts (enforce.h). */
	{"ipv6_prefix", OPT_UINT, F(ipv6_prefix), 0, 48, 128, "64", true,
	 "IPv6 sources are counted and sanctioned per prefix of this length"},
	{"max_sources", OPT_UINT, F(max_sources), 0, 1, 100000000, "262144", false,
	 "sources tracked per scenario; the least recently seen is forgotten first"},
	{"max_connections", OPT_UINT, F(max_connections), 0, 1, 10000000, "65536", false,
	 "open connections tracked; the least recently seen is settled first"},
	{"state_dir", OPT_PATH, F(state_dir), 0, 0, 0, "/var/lib/pacto", false, "where the ledger lives"},
	{"run_dir", OPT_PATH, F(run_dir), 0, 0, 0, "/run/pacto", false, "where the control socket lives"},
	{"dry_run", OPT_BOOL, F(dry_run), 0, 0, 0, "no", false, "log what would be done and touch no firewall"},
	{"scenarios", OPT_SCENARIOS, F(overrides), F(noverrides), 0, 0, "{}", true,
	 "per scenario: threshold, window, sanction, escalation (factor, max, memory) over its rule file"},
	{"treaty", OPT_PATH, F(treaty), 0, 0, 0, "(none: no alliance)", true,
	 "the alliance's signed treaty (pacto treaty); pactod then reports to and hears from its allies"},
	{"key", OPT_PATH, F(key), 0, 0, 0, "/etc/pacto/key", false,
	 "this member's secret key (pacto keygen); its public key must be in the treaty"},
	{"report", OPT_BOOL, F(report), 0, 0, 0, "yes", true,
	 "report this host's sanctions to the allies (manual ones can be kept local one by one)"},
	{"nats", OPT_URL_LIST, F(nats), F(nnats), 0, 0, "[nats://127.0.0.1:4222]", false,
	 "NATS servers carrying the alliance's JetStream stream"},
	{"nats_credentials", OPT_PATH, F(nats_credentials), 0, 0, 0, "(none)", false,
	 "NATS credentials file (JWT and nkey seed)"},
	{"nats_tls_ca", OPT_PATH, F(nats_tls_ca), 0, 0, 0, "(none)", false,
	 "CA certificates the NATS servers' certificates must chain to (turns TLS on)"},
	{"nats_tls_cert", OPT_PATH, F(nats_tls_cert), 0, 0, 0, "(none)", false,
	 "client certificate for NATS (with nats_tls_key)"},
	{"nats_tls_key", OPT_PATH, F(nats_tls_key), 0, 0, 0, "(none)", false, "client key for NATS"},
	{"nats_replicas", OPT_UINT, F(nats_replicas), 0, 1, 5, "1", false,
	 "copies of the alliance's stream kept by a NATS cluster when pactod creates it"},
	{"metrics_listen", OPT_ENDPOINT, F(metrics_listen), 0, 0, 0, "(none: off)", false,
	 "ADDR:PORT ([ADDR]:PORT for IPv6) where pactod serves Prometheus metrics and its sanctions page"},
	{"ledger_retention", OPT_RETENTION, F(ledger_retention_us), 0, 0, 0, "7d", true,
	 "how long the ledger keeps reports received and sanctions after they ended (never: for ever); "
	 "what is in force, and what escalation still reads, stays"},
	{"ledger_max_refusals", OPT_UINT, F(ledger_max_refusals), 0, 0, 100000000, "100000", true,
	 "refused reports kept in the ledger, the newest (0: no cap)"},
};

const size_t config_noptions = sizeof(config_options) / sizeof(*config_options);

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->journal = JOURNAL_AUTO;
	cfg->ipv6_prefix = 64;
	cfg->max_sources = 262144;
	cfg->max_connections = 65536;
	cfg->state_dir = xstrdup("/var/lib/pacto");
	cfg->run_dir = xstrdup("/run/pacto");
	cfg->key = xstrdup("/etc/pacto/key");
	cfg->report = true;
	cfg->nats = xcalloc(1, sizeof(*cfg->nats));
	cfg->nats[0] = xstrdup("nats://127.0.0.1:4222");
	cfg->nnats = 1;
	cfg->nats_replicas = 1;
	cfg->ledger_retention_us = CONFIG_LEDGER_RETENTION_US;
	cfg->ledger_max_refusals = 100000;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free_list(cfg->files, cfg->nfiles);
	free_list(cfg->rules, cfg->nrules);
	free(cfg->allowlist);
	free(cfg->state_dir);
	free(cfg->run_dir);
	for (size_t i = 0; i < cfg->noverrides; i++)
		free(cfg->overrides[i].scenario);
	free(cfg->overrides);
	free(cfg->treaty);
	free(cfg->key);
	free_list(cfg->nats, cfg->nnats);
	free(cfg->nats_credentials);
	free(cfg->nats_tls_ca);
	free(cfg->nats_tls_cert);
	free(cfg->nats_tls_key);
	free(cfg->metrics_listen);
	free(cfg);
}

/* ---- lists ---- */

struct path_list {
	char ***items;
	size_t *n;
	const char *key;
};

/* A NATS URL: nats://, tls:// (or bare host:port, which nats.c takes as
 * nats://); checked for its scheme only, the client says the rest. */
/* The port after a host: 1 to 5 digits, 1..65535, then the end or a path. */
static bool port_valid(const char *p)
{
	size_t n = strspn(p, "0123456789");
	if (n == 0 || n > 5 || (p[n] != '\0' && p[n] != '/'))
		return false;
	long v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535;
}

bool config_nats_url_valid(const char *s)
{
	const char *scheme_end = strstr(s, "://");
	if (!*s || strpbrk(s, " \t,"))
		return false;
	if (scheme_end && strncmp(s, "nats://", 7) != 0 && strncmp(s, "tls://", 6) != 0)
		return false;
	const char *host = scheme_end ? scheme_end + 3 : s;
	const char *at = strrchr(host, '@');   /* user:password@ */
	host = at ? at + 1 : host;
	const char *after;
	if (*host == '[') {
		const char *close = strchr(host, ']');
		if (!close || close == host + 1)
			return false;
		after = close + 1;
	} else {
		after = host + strcspn(host, ":/");
		if (after == host)
			return false;
	}
	if (*after == ':')
		return port_valid(after + 1);
	return *after == '\0' || *after == '/';
}

static void url_item(struct yaml_ctx *c, yaml_node_t *item, void *arg)
{
	struct path_list *pl = arg;
	const char *s = yml_scalar(c, item, pl->key);
	if (!s)
		return;
	if (!config_nats_url_valid(s)) {
		yml_error(c, item, pl->key, "'%s' is not a NATS URL (nats://host:port or tls://host:port)", s);
		return;
	}
	if (*pl->n == CONFIG_MAX_LIST) {
		yml_error(c, item, pl->key, "more than %d entries", CONFIG_MAX_LIST);
		return;
	}
	*pl->items = xreallocarray(*pl->items, *pl->n + 1, sizeof(**pl->items));
	(*pl->items)[(*pl->n)++] = xstrdup(s);
}

static void path_item(struct yaml_ctx *c, yaml_node_t *item, void *arg)
{
	struct path_list *pl = arg;
	const char *s = yml_scalar(c, item, pl->key);
	if (!s)
		return;
	if (s[0] != '/') {
		yml_error(c, item, pl->key, "'%s' is not an absolute path", s);
		return;
	}
	if (*pl->n == CONFIG_MAX_LIST) {
		yml_error(c, item, pl->key, "more than %d entries", CONFIG_MAX_LIST);
		return;
	}
	*pl->items = xreallocarray(*pl->items, *pl->n + 1, sizeof(**pl->items));
	(*pl->items)[(*pl->n)++] = xstrdup(s);
}

static void cidr_item(struct yaml_ctx *c, yaml_node_t *item, void *arg)
{
	struct config *cfg = arg;
	const char *s = yml_scalar(c, item, "allowlist");
	struct addr a;
	if (!s)
		return;
	int rc = addr_parse_cidr(s, &a);
	if (rc != 0) {
		yml_error(c, item, "allowlist", "'%s' %s", s,
			  rc == -2 ? "has bits set past its prefix length" : "is not an address or CIDR network");
		return;
	}
	if (cfg->nallowlist == CONFIG_MAX_LIST) {
		yml_error(c, item, "allowlist", "more than %d entries", CONFIG_MAX_LIST);
		return;
	}
	cfg->allowlist = xreallocarray(cfg->allowlist, cfg->nallowlist + 1, sizeof(*cfg->allowlist));
	cfg->allowlist[cfg->nallowlist++] = a;
}

/* ---- scenario overrides ---- */

static void escalation_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct scenario_override *o = arg;
	uint64_t factor = o->factor;
	if (strcmp(key, "factor") == 0) {
		yml_uint(c, v, key, 1, 16, &factor);
		o->factor = (unsigned)factor;
		o->has |= OVR_HAS_FACTOR;
	} else if (strcmp(key, "max") == 0) {
		yml_duration(c, v, key, &o->max_us);
		o->has |= OVR_HAS_MAX;
	} else if (strcmp(key, "memory") == 0) {
		yml_duration(c, v, key, &o->memory_us);
		o->has |= OVR_HAS_MEMORY;
	} else {
		yml_unknown_key(c, v, key, "escalation");
	}
}

static void override_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	struct scenario_override *o = arg;
	uint64_t threshold = o->threshold;
	if (strcmp(key, "threshold") == 0) {
		yml_uint(c, v, key, 1, RULES_MAX_THRESHOLD, &threshold);
		o->threshold = (unsigned)threshold;
		o->has |= OVR_HAS_THRESHOLD;
	} else if (strcmp(key, "window") == 0) {
		yml_duration(c, v, key, &o->window_us);
		o->has |= OVR_HAS_WINDOW;
	} else if (strcmp(key, "sanction") == 0) {
		yml_duration(c, v, key, &o->sanction_us);
		o->has |= OVR_HAS_SANCTION;
	} else if (strcmp(key, "escalation") == 0) {
		yml_for_each_pair(c, v, key, escalation_pair, o);
	} else {
		yml_unknown_key(c, v, key, "a scenario override");
	}
}

static void scenario_pair(struct yaml_ctx *c, const char *name, yaml_node_t *v, void *arg)
{
	struct config *cfg = arg;
	cfg->overrides = xreallocarray(cfg->overrides, cfg->noverrides + 1, sizeof(*cfg->overrides));
	struct scenario_override *o = &cfg->overrides[cfg->noverrides++];
	memset(o, 0, sizeof(*o));
	o->scenario = xstrdup(name);
	o->line = yml_line(c->key);
	yml_for_each_pair(c, v, name, override_pair, o);
}

/* ---- the table ---- */

static const struct config_option *find_option(const char *name)
{
	for (size_t i = 0; i < config_noptions; i++)
		if (strcmp(config_options[i].name, name) == 0)
			return &config_options[i];
	return NULL;
}

static void set_journal(struct yaml_ctx *c, yaml_node_t *v, struct config *cfg)
{
	const char *s = yml_scalar(c, v, "journal");
	if (!s)
		return;
	if (strcmp(s, "auto") == 0)
		cfg->journal = JOURNAL_AUTO;
	else if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0)
		cfg->journal = JOURNAL_YES;
	else if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0)
		cfg->journal = JOURNAL_NO;
	else
		yml_error(c, v, "journal", "'%s' is not auto, yes or no", s);
}

static void set_path(struct yaml_ctx *c, yaml_node_t *v, const char *key, char **out)
{
	const char *s = yml_scalar(c, v, key);
	if (s && s[0] != '/')
		yml_error(c, v, key, "'%s' is not an absolute path", s);
	else if (s)
		yml_string(c, v, key, out);
}

/* A listening endpoint, checked here so that a typo stops pactod -n. */
static void set_endpoint(struct yaml_ctx *c, yaml_node_t *v, const char *key, char **out)
{
	const char *s = yml_scalar(c, v, key);
	struct addr a;
	uint16_t port;
	if (s && addr_parse_endpoint(s, &a, &port) != 0)
		yml_error(c, v, key, "'%s' is not ADDR:PORT (127.0.0.1:9467, [::1]:9467)", s);
	else if (s)
		yml_string(c, v, key, out);
}

/* A duration of at least an hour, or "never" (or 0): kept for ever. */
static void set_retention(struct yaml_ctx *c, yaml_node_t *v, const char *key, int64_t *out)
{
	const char *s = yml_scalar(c, v, key);
	int64_t us = -1;
	if (s && (strcmp(s, "never") == 0 || strcmp(s, "0") == 0)) {
		*out = 0;
		return;
	}
	if (s)
		yml_duration(c, v, key, &us);
	if (us > 0 && us < CONFIG_LEDGER_RETENTION_MIN_US)
		yml_error(c, v, key, "'%s' is shorter than an hour (pactod prunes the ledger hourly; never: keep all)", s);
	else if (us > 0)
		*out = us;
}

static void *field_at(struct config *cfg, size_t offset)
{
	return (char *)cfg + offset;
}

/* Sets the field the table row names, by the row's type. */
static void set_option(struct yaml_ctx *c, const struct config_option *opt, yaml_node_t *v, struct config *cfg)
{
	void *field = field_at(cfg, opt->offset);
	switch (opt->type) {
	case OPT_BOOL:
		yml_bool(c, v, opt->name, field);
		break;
	case OPT_UINT:
		yml_uint(c, v, opt->name, opt->min, opt->max, field);
		break;
	case OPT_PATH:
		set_path(c, v, opt->name, field);
		break;
	case OPT_PATH_LIST: {
		struct path_list pl = {field, field_at(cfg, opt->count_offset), opt->name};
		yml_for_each_item(c, v, opt->name, path_item, &pl);
		break;
	}
	case OPT_CIDR_LIST:
		yml_for_each_item(c, v, opt->name, cidr_item, cfg);
		break;
	case OPT_JOURNAL:
		set_journal(c, v, cfg);
		break;
	case OPT_SCENARIOS:
		yml_for_each_pair(c, v, opt->name, scenario_pair, cfg);
		break;
	case OPT_ENDPOINT:
		set_endpoint(c, v, opt->name, field);
		break;
	case OPT_RETENTION:
		set_retention(c, v, opt->name, field);
		break;
	case OPT_URL_LIST: {
		struct path_list pl = {field, field_at(cfg, opt->count_offset), opt->name};
		free_list(*pl.items, *pl.n);
		*pl.items = NULL;
		*pl.n = 0;
		yml_for_each_item(c, v, opt->name, url_item, &pl);
		break;
	}
	}
}

static void config_pair(struct yaml_ctx *c, const char *key, yaml_node_t *v, void *arg)
{
	const struct config_option *opt = find_option(key);
	if (!opt) {
		yml_unknown_key(c, v, key, "pacto.conf (see pacto.conf(5))");
		return;
	}
	set_option(c, opt, v, arg);
}

int config_parse(const char *name, const char *text, size_t len, struct config **out, struct errors *errs)
{
	size_t nerrs = errs->n;
	struct config *cfg = xmalloc(sizeof(*cfg));
	config_defaults(cfg);
	cfg->path = xstrdup(name);
	yaml_parser_t parser;
	yaml_document_t doc;
	bool loaded;
	struct yaml_ctx c = {.file = name, .doc = &doc, .errs = errs, .nerrs_at_start = nerrs};
	yaml_node_t *root = yml_open(&c, &parser, &doc, text, len, &loaded);
	/* An empty file is a valid configuration: every default. */
	if (!root && loaded && errs->n == nerrs + 1 && strstr(errs->msgs[nerrs], "is empty")) {
		free(errs->msgs[--errs->n]);
	} else if (root) {
		yml_for_each_pair(&c, root, "pacto.conf", config_pair, cfg);
	}
	yml_close(&parser, &doc, loaded);
	if (errs->n != nerrs) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int config_load(const char *path, struct config **out, struct errors *errs)
{
	size_t len;
	char *text = read_small_file(path, CONFIG_FILE_MAX, &len, errs);
	if (!text)
		return -1;
	int rc = config_parse(path, text, len, out, errs);
	free(text);
	return rc;
}

/* ---- applying ---- */

static struct scenario *find_scenario(struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->nscenarios; i++)
		if (strcmp(rs->scenarios[i].name, name) == 0)
			return &rs->scenarios[i];
	return NULL;
}

static void apply_override(const struct scenario_override *o, struct scenario *s)
{
	if (o->has & OVR_HAS_THRESHOLD)
		s->threshold = o->threshold;
	if (o->has & OVR_HAS_WINDOW)
		s->window_us = o->window_us;
	if (o->has & OVR_HAS_SANCTION)
		s->sanction_us = o->sanction_us;
	if (o->has & OVR_HAS_FACTOR)
		s->escalation_factor = o->factor;
	if (o->has & OVR_HAS_MAX)
		s->escalation_max_us = o->max_us;
	if (o->has & OVR_HAS_MEMORY)
		s->escalation_memory_us = o->memory_us;
}

int config_apply_overrides(const struct config *cfg, struct ruleset *rs, struct errors *errs)
{
	size_t nerrs = errs->n;
	const char *file = cfg->path ? cfg->path : "pacto.conf";
	for (size_t i = 0; i < cfg->noverrides; i++) {
		const struct scenario_override *o = &cfg->overrides[i];
		struct scenario *s = find_scenario(rs, o->scenario);
		if (!s) {
			errors_add(errs, "%s:%u: scenarios: no loaded rule defines a scenario '%s'", file, o->line,
				   o->scenario);
			continue;
		}
		apply_override(o, s);
		if (s->escalation_max_us < s->sanction_us)
			errors_add(errs, "%s:%u: scenarios: %s: escalation max is shorter than the sanction", file,
				   o->line, o->scenario);
	}
	return errs->n == nerrs ? 0 : -1;
}

static bool same_list(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

size_t config_unreloadable_changes(const struct config *o, const struct config *n, const char **names, size_t max)
{
	const char *changed[24];
	size_t k = 0;
	if (!same_list(o->files, o->nfiles, n->files, n->nfiles))
		changed[k++] = "files";
	if (o->journal != n->journal)
		changed[k++] = "journal";
	if (o->read_from_start != n->read_from_start)
		changed[k++] = "read_from_start";
	if (o->max_sources != n->max_sources)
		changed[k++] = "max_sources";
	if (o->max_connections != n->max_connections)
		changed[k++] = "max_connections";
	if (strcmp(o->state_dir, n->state_dir) != 0)
		changed[k++] = "state_dir";
	if (strcmp(o->run_dir, n->run_dir) != 0)
		changed[k++] = "run_dir";
	if (o->dry_run != n->dry_run)
		changed[k++] = "dry_run";
	if (!same_text(o->key, n->key))
		changed[k++] = "key";
	if (!same_list(o->nats, o->nnats, n->nats, n->nnats))
		changed[k++] = "nats";
	if (!same_text(o->nats_credentials, n->nats_credentials))
		changed[k++] = "nats_credentials";
	if (!same_text(o->nats_tls_ca, n->nats_tls_ca) || !same_text(o->nats_tls_cert, n->nats_tls_cert) ||
	    !same_text(o->nats_tls_key, n->nats_tls_key))
		changed[k++] = "nats_tls";
	if (o->nats_replicas != n->nats_replicas)
		changed[k++] = "nats_replicas";
	if (!same_text(o->metrics_listen, n->metrics_listen))
		changed[k++] = "metrics_listen";
	/* Joining or leaving an alliance opens or closes its connection. */
	if ((o->treaty == NULL) != (n->treaty == NULL))
		changed[k++] = "treaty";
	for (size_t i = 0; i < k && i < max; i++)
		names[i] = changed[i];
	return k;
}
