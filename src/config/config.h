/* config.h: pactod's configuration (/etc/pacto/pacto.conf, YAML).
 * Why: one table of options (name, type, bounds, default, reloadable,
 * meaning) is read by the parser, `pactod --help`, the man page check and
 * `pacto status --json`, so none of them can drift from the others.
 * Guarantees: a file with any error is refused whole, with every error as
 * "file:line: key: message"; a reload parses into a fresh struct and the
 * caller swaps only on success. Unknown keys are errors, not ignored.
 * Ownership: config_free() frees everything a config holds. */
#ifndef PACTO_CONFIG_H
#define PACTO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "detect/rules.h"

#define CONFIG_DEFAULT_PATH "/etc/pacto/pacto.conf"
#define CONFIG_MAX_LIST 1024

enum journal_mode { JOURNAL_AUTO, JOURNAL_YES, JOURNAL_NO };

/* Per-scenario overrides of what its rule file says; HAS_ flags tell set
 * from unset (STYLE.md), so 0 is never mistaken for "not given". */
#define OVR_HAS_THRESHOLD 0x01u
#define OVR_HAS_WINDOW 0x02u
#define OVR_HAS_SANCTION 0x04u
#define OVR_HAS_FACTOR 0x08u
#define OVR_HAS_MAX 0x10u
#define OVR_HAS_MEMORY 0x20u

struct scenario_override {
	char *scenario;
	unsigned has;
	unsigned threshold, factor;
	int64_t window_us, sanction_us, max_us, memory_us;
	unsigned line;      /* where it was set, for messages */
};

struct config {
	char *path;                       /* the file read, or NULL for defaults */
	char **files;                     /* log files to follow */
	size_t nfiles;
	enum journal_mode journal;
	bool read_from_start;
	char **rules;                     /* rule files or directories */
	size_t nrules;
	struct addr *allowlist;
	size_t nallowlist;
	uint64_t ipv6_prefix;
	uint64_t max_sources;
	uint64_t max_connections;
	char *state_dir;
	char *run_dir;
	bool dry_run;
	struct scenario_override *overrides;
	size_t noverrides;
	/* The alliance (none without a treaty). */
	char *treaty;                     /* the signed treaty file */
	char *key;                        /* this member's secret key file */
	bool report;                      /* report local sanctions to the allies */
	char **nats;                      /* NATS server URLs */
	size_t nnats;
	char *nats_credentials;           /* a .creds file (JWT + nkey seed) */
	char *nats_tls_ca, *nats_tls_cert, *nats_tls_key;
	uint64_t nats_replicas;           /* replicas of the alliance's stream */
	char *metrics_listen;             /* "ADDR:PORT" of /metrics and the page; NULL: off */
	/* The ledger's retention (ledger_prune.h): how long what has ended is
	 * kept (0: for ever), and how many refused reports at most (0: no cap). */
	int64_t ledger_retention_us;
	uint64_t ledger_max_refusals;
};

/* The default ledger_retention: a week, the stock escalation memory (sshd:
 * a repeat offender within a week escalates), as CrowdSec's usual flush
 * max_age. */
#define CONFIG_LEDGER_RETENTION_US (7 * 86400 * 1000000LL)
/* The shortest ledger_retention accepted: pactod prunes once an hour. */
#define CONFIG_LEDGER_RETENTION_MIN_US (3600 * 1000000LL)

/* One row of the options table. */
enum option_type { OPT_BOOL, OPT_UINT, OPT_PATH, OPT_PATH_LIST, OPT_CIDR_LIST, OPT_JOURNAL, OPT_SCENARIOS, OPT_URL_LIST,
		  OPT_ENDPOINT, OPT_RETENTION };

struct config_option {
	const char *name;
	enum option_type type;
	size_t offset;              /* of the field in struct config */
	size_t count_offset;        /* lists: of the size_t holding their length */
	uint64_t min, max;          /* OPT_UINT bounds */
	const char *default_text;   /* as shown in --help and the man page */
	bool reloadable;
	const char *meaning;
};

extern const struct config_option config_options[];
extern const size_t config_noptions;

/* Fills cfg with every default. */
void config_defaults(struct config *cfg);

/* Reads path into a fresh config. Returns 0, or -1 with errs filled (every
 * error of the file) and *out untouched. */
int config_load(const char *path, struct config **out, struct errors *errs)
	__attribute__((warn_unused_result));

/* The same for text[0..len) (need not end in NUL) read from elsewhere;
 * name stands for the file in messages and in cfg->path. */
int config_parse(const char *name, const char *text, size_t len, struct config **out, struct errors *errs)
	__attribute__((warn_unused_result));

void config_free(struct config *cfg);  /* accepts NULL */

/* A NATS server's URL as pactod takes it: nats:// or tls:// (or none: a
 * host), maybe user:password@, a host (or [IPv6]), maybe :PORT (1-65535).
 * One server: no spaces or commas. */
bool config_nats_url_valid(const char *s);

/* Applies the scenario overrides to a loaded ruleset; an override naming no
 * loaded scenario is an error (a typo would otherwise do nothing). */
int config_apply_overrides(const struct config *cfg, struct ruleset *rs, struct errors *errs)
	__attribute__((warn_unused_result));

/* Names of the options whose change a reload cannot apply (restart needed). */
size_t config_unreloadable_changes(const struct config *old, const struct config *new_cfg,
				   const char **names, size_t max);

#endif
