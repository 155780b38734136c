/* daemon.c: pactod's startup, sanction path and loop (see daemon.h). */
#include "daemon/daemon.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/seed.h"
#include "common/xalloc.h"
#include "ctl/cli.h"
#include "ctl/ctl_proto.h"
#include "daemon/alliance.h"
#include "daemon/web.h"
#include "ledger/ledger_ally.h"
#include "ledger/ledger_prune.h"

#define TICK_MS 1000
#define LEDGER_PRUNE_EVERY_US (3600 * 1000000LL)
#define CURSOR_SAVE_US (5 * 1000000LL)
#define TABLE_CHECK_US (5 * 1000000LL)
#define REPAIR_CHUNK 2048
#define LEDGER_LOCK_WAIT_MS 250
#define LOCK_TRIES 30
#define EVIDENCE_SOURCES 4096

int64_t daemon_now_us(void)
{
	return clock_realtime_us();
}

/* ---- the sanction path ---- */

struct in_force_read {
	struct daemon_in_force f;
	struct recorder *recorder;
	const struct addr *key;
};

static int note_active(void *arg, int64_t id, const char *origin, int64_t expires_us)
{
	struct in_force_read *r = arg;
	struct daemon_in_force *f = &r->f;
	/* Lifted by hand, the ledger refusing to record it yet. */
	if (recorder_lifted(r->recorder, r->key, id))
		return 0;
	if (expires_us > f->until_us)
		f->until_us = expires_us;
	if (strncmp(origin, ALLY_ORIGIN_PREFIX, strlen(ALLY_ORIGIN_PREFIX)) == 0)
		f->ally_id = id;
	else
		f->local = true;
	return 0;
}

struct daemon_in_force daemon_in_force(struct daemon *d, const struct addr *key, int64_t now)
{
	struct in_force_read r = {.recorder = d->recorder, .key = key};
	char err[256];
	if (ledger_each_active_exact(d->ledger, key, now, note_active, &r, err, sizeof(err)) != 0)
		log_warnx("ledger: %s", err);
	struct daemon_in_force f = r.f;
	/* This host's sanctions enforced but not in the ledger yet (held while
	 * it refuses writes, or in a transaction that may still roll back):
	 * left out, a lift or an undone round that follows the ledger would
	 * let the address through, and the late write would not drop it again. */
	int64_t pending = recorder_pending_until(d->recorder, key, now);
	if (pending > now) {
		f.local = true;
		if (pending > f.until_us)
			f.until_us = pending;
	}
	return f;
}

int daemon_follow_ledger(struct daemon *d, const struct addr *key, int64_t now, char *err, size_t errlen)
{
	struct daemon_in_force f = daemon_in_force(d, key, now);
	if (f.until_us <= now) {
		int rc = firewall_remove(d->fw, key, err, errlen);
		/* Nothing in force: its failures count again, whatever the firewall said. */
		engine_lift(d->engine, key);
		return rc;
	}
	/* Re-adding an element sets its timeout anew, shorter too (enforce.h). */
	if (firewall_add(d->fw, key, (f.until_us - now + 999999) / 1000000, err, errlen) != 0)
		return -1;
	/* engine_impose only lengthens: back to nothing first. */
	engine_lift(d->engine, key);
	engine_impose(d->engine, key, f.until_us);
	return 0;
}

int daemon_sanction(struct daemon *d, const struct sanction *s, const char *origin, const char *reason,
		    const struct evidence_lines *ev, bool report, char *err, size_t errlen)
{
	int64_t seconds = (s->duration_us + 999999) / 1000000;
	int64_t t0 = clock_monotonic_us(), now = daemon_now_us();
	/* An add sets the element's timeout anew, shorter too (enforce.h): a
	 * sanction shorter than one in force for the key (an ally's, or a
	 * longer one of this host's own) must not cut the drop short, so the
	 * element ends at the later of the two. An indexed read of the ledger,
	 * no write: the drop still waits for no fsync. */
	struct daemon_in_force f = daemon_in_force(d, &s->addr, now);
	int64_t drop_s = f.until_us - now > s->duration_us ? (f.until_us - now + 999999) / 1000000 : seconds;
	/* The firewall first: the drop must not wait for the ledger's fsync. */
	if (firewall_add(d->fw, &s->addr, drop_s, err, errlen) != 0 || firewall_commit(d->fw, err, errlen) != 0) {
		d->firewall_errors++;
		return -1;
	}
	log_debug("firewall: committed in %ld us", (long)(clock_monotonic_us() - t0));
	/* And the engine does not count the key's failures before that end
	 * either (it only lengthens: its own end may be later already). */
	if (drop_s > seconds)
		engine_impose(d->engine, &s->addr, f.until_us);
	d->sanctions++;
	metrics_sanction(&d->metrics, s->scenario ? s->scenario->name : "manual", origin);
	recorder_add(d, s, origin, reason, ev, report);
	char addr[ADDR_STRLEN], longer[80] = "";
	if (drop_s > seconds)
		snprintf(longer, sizeof(longer), "; dropped for %llds: a longer sanction is in force", (long long)drop_s);
	log_info("sanction %s for %llds: %s, %u failures (offence %u, %s)%s", addr_format(&s->addr, addr, sizeof(addr)),
		 (long long)seconds, s->scenario ? s->scenario->name : "manual", s->attempts, s->offence, origin, longer);
	return 0;
}

/* The line being fed, for evidence: the engine's trace points into it. */
static const char *current_line;
static size_t current_len;

/* Records how long the sanctioning line took from its own timestamp (the
 * logger's clock, this host's) to the drop being in force. */
static void record_reaction(struct daemon *d)
{
	struct log_event ev;
	struct year_guess yg;
	if (!current_line)
		return;
	year_guess_init(&yg, daemon_now_us());
	logline_split(current_line, current_len, &ev);
	if (ev.ts_format == TS_NONE || logline_time(&ev, &yg) != 0)
		return;
	int64_t r = daemon_now_us() - ev.time_us;
	if (r >= 0 && r < 60 * 1000000LL) {
		d->reaction_us[d->reactions++ % REACTION_SAMPLES] = r;
		prom_histogram_observe(&d->metrics.reaction, (double)r / 1e6);
	}
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

void daemon_reaction_percentiles(const struct daemon *d, int64_t *p50, int64_t *p99)
{
	size_t n = d->reactions < REACTION_SAMPLES ? d->reactions : REACTION_SAMPLES;
	int64_t sorted[REACTION_SAMPLES];
	*p50 = *p99 = 0;
	if (n == 0)
		return;
	memcpy(sorted, d->reaction_us, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_int64);
	*p50 = sorted[n / 2];
	*p99 = sorted[(size_t)((double)n * 0.99)];
}

static void on_sanction(void *arg, const struct sanction *s)
{
	struct daemon *d = arg;
	struct evidence_lines ev;
	char err[256];
	evidence_get(d->evidence, &s->addr, &ev);
	if (daemon_sanction(d, s, "local", NULL, &ev, true, err, sizeof(err)) != 0) {
		/* Not enforced, not recorded: the engine must not think it is. */
		log_warnx("firewall: %s", err);
		engine_lift(d->engine, &s->addr);
	} else {
		record_reaction(d);
	}
	evidence_forget(d->evidence, &s->addr);
}

static void on_trace(void *arg, const struct trace *t)
{
	struct daemon *d = arg;
	if (!t->event || !current_line)
		return;
	if (t->verdict == VERDICT_COUNTED || t->verdict == VERDICT_PENDING || t->verdict == VERDICT_SANCTIONED)
		evidence_add(d->evidence, &t->key, current_line, current_len);
}

static void on_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct daemon *d = arg;
	(void)offset;
	current_line = line;
	current_len = len;
	engine_feed_line(d->engine, line, len, daemon_now_us());
	current_line = NULL;
}

/* ---- sources ---- */

static void save_cursor(struct daemon *d, struct source *src)
{
	char text[LEDGER_MAX_CURSOR + 1], err[256];
	if (src->journal) {
		if (!journal_source_cursor(src->journal, text, sizeof(text)))
			return;
	} else {
		/* The text form is src_file.h's (with the rotated-away files). */
		_Static_assert(FILE_CURSOR_TEXT <= sizeof(text), "a file cursor fits the ledger");
		struct file_cursor c = follower_cursor(src->follower);
		if (!c.valid)
			return;
		follower_cursor_format(&c, text);
	}
	if (ledger_set_cursor(d->ledger, src->name, text, err, sizeof(err)) != 0) {
		d->ledger_errors++;
		recorder_error(d->recorder, daemon_now_us(), err);
		log_warnx("ledger: %s", err);
	}
}

/* Reads what is new in src. Sanctions open a ledger transaction; it is
 * committed here with the source's cursor, so both land together. */
static void read_source(struct daemon *d, struct source *src)
{
	char err[256];
	int rc = src->journal ? journal_source_process(src->journal, err, sizeof(err))
			      : follower_process(src->follower, err, sizeof(err));
	if (rc != 0)
		log_warnx("%s", err);
	if (!ledger_in_transaction(d->ledger))
		return;
	save_cursor(d, src);
	recorder_commit(d);
}

/* Commits a transaction left open by a sanction decided outside a source's
 * read (by hand, or a pending failure settled by the clock). */
static void commit_open(struct daemon *d)
{
	recorder_commit(d);
}

/* Also the retry of held sanctions: they are written first, so a cursor
 * never commits past lines whose sanctions are not recorded. */
static void save_all_cursors(struct daemon *d)
{
	commit_open(d);
	if (recorder_begin(d) != 0)
		return;
	for (size_t i = 0; i < d->nsources; i++)
		save_cursor(d, &d->sources[i]);
	recorder_commit(d);
}

static int open_source(struct daemon *d, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {   /* one that does not exist yet is awaited */
		snprintf(err, errlen, "%s: a directory, not a log file", path);
		return -1;
	}
	struct source *src = &d->sources[d->nsources];
	memset(src, 0, sizeof(*src));
	src->path = xstrdup(path);
	snprintf(src->name, sizeof(src->name), "file:%s", path);
	char text[LEDGER_MAX_CURSOR + 1];
	bool found = false;
	if (ledger_get_cursor(d->ledger, src->name, text, sizeof(text), &found, err, errlen) != 0)
		return -1;
	struct follower_config fc = {
		.path = path, .from_start = d->cfg->read_from_start, .cursor = found ? follower_cursor_parse(text) : (struct file_cursor){0},
		.max_line = ENGINE_MAX_LINE, .on_line = on_line, .arg = d,
	};
	if (follower_open(&fc, &src->follower, err, errlen) != 0) {
		free(src->path);
		return -1;
	}
	d->nsources++;
	log_info("following %s%s", path, found ? " from where it was left" : "");
	return 0;
}

static void on_journal_event(void *arg, struct log_event *ev, const char *line, size_t len)
{
	struct daemon *d = arg;
	current_line = line;
	current_len = len;
	engine_feed_event(d->engine, ev, daemon_now_us());
	current_line = NULL;
}

/* The programs the scenarios read: the journal is asked for those only. */
static size_t journal_identifiers(const struct ruleset *rs, const char **ids, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < rs->nscenarios; i++)
		for (size_t k = 0; k < rs->scenarios[i].nprograms && n < max; k++)
			ids[n++] = rs->scenarios[i].programs[k];
	return n;
}

static int open_journal(struct daemon *d, const char *directory, char *err, size_t errlen)
{
	struct source *src = &d->sources[d->nsources];
	memset(src, 0, sizeof(*src));
	src->path = xstrdup(directory ? directory : "system");
	snprintf(src->name, sizeof(src->name), "journal:%.140s", src->path);
	char cursor[LEDGER_MAX_CURSOR + 1];
	bool found = false;
	if (ledger_get_cursor(d->ledger, src->name, cursor, sizeof(cursor), &found, err, errlen) != 0)
		return -1;
	const char *ids[64];
	struct journal_config jc = {
		.directory = directory, .identifiers = ids, .nidentifiers = journal_identifiers(d->rs, ids, 64),
		.cursor = found ? cursor : NULL, .from_start = d->cfg->read_from_start,
		.on_event = on_journal_event, .arg = d,
	};
	if (journal_source_open(&jc, &src->journal, err, errlen) != 0) {
		free(src->path);
		return -1;
	}
	d->nsources++;
	log_info("reading the journal (%s)%s", src->path, found ? " from where it was left" : "");
	return 0;
}

/* Whether to read the journal: --journal-dir, journal: yes, or journal:
 * auto with no file given and a system journal present. */
static bool use_journal(const struct daemon *d, size_t nfiles)
{
	if (d->opts.journal_dir || d->cfg->journal == JOURNAL_YES)
		return true;
	return d->cfg->journal == JOURNAL_AUTO && nfiles == 0 && journal_source_available();
}

/* The earlier of paths[0..i) that names the same file as paths[i] (the
 * same text, or the same device and inode: a link, "/a/../a"), or -1.
 * Followed twice, a file's every line would count twice. */
static long same_file_before(const char *const *paths, size_t i)
{
	struct stat st, other;
	bool exists = stat(paths[i], &st) == 0;
	for (size_t k = 0; k < i; k++)
		if (strcmp(paths[k], paths[i]) == 0 ||
		    (exists && stat(paths[k], &other) == 0 && other.st_dev == st.st_dev && other.st_ino == st.st_ino))
			return (long)k;
	return -1;
}

/* The sources: --watch (and --journal-dir), else the configured files and
 * the journal, else the usual auth log. */
static int open_sources(struct daemon *d, char *err, size_t errlen)
{
	const char *defaults[] = {"/var/log/auth.log", "/var/log/secure"};
	const char *const *paths = d->opts.nwatch ? d->opts.watch : (const char *const *)d->cfg->files;
	size_t n = d->opts.nwatch ? d->opts.nwatch : (d->opts.journal_dir ? 0 : d->cfg->nfiles);
	bool journal = use_journal(d, n);
	for (size_t i = 0; i < 2 && n == 0 && !journal; i++)
		if (access(defaults[i], R_OK) == 0)
			paths = &defaults[i], n = 1;
	if (n == 0 && !journal) {
		snprintf(err, errlen, "no log to follow: no journal, no /var/log/auth.log or /var/log/secure; "
			 "set files in pacto.conf or use --watch");
		return -1;
	}
	d->sources = xcalloc(n + 1, sizeof(*d->sources));
	for (size_t i = 0; i < n; i++) {
		long same = same_file_before(paths, i);
		if (same >= 0)
			log_warnx("%s is %s again: followed once", paths[i], paths[same]);
		else if (open_source(d, paths[i], err, errlen) != 0)
			return -1;
	}
	return journal ? open_journal(d, d->opts.journal_dir, err, errlen) : 0;
}

/* ---- restore ---- */

static int reimpose_one(void *arg, const struct ledger_sanction *s)
{
	struct daemon *d = arg;
	if (!recorder_lifted(d->recorder, &s->addr, s->id))
		engine_impose(d->engine, &s->addr, s->expires_us);
	return 0;
}

static void reimpose_pending(void *arg, const struct addr *key, int64_t until_us)
{
	struct daemon *d = arg;
	engine_impose(d->engine, key, until_us);
}

/* After a reload the engine is new but the firewall is right: the engine
 * only relearns what is sanctioned (the kernel's sets are not touched):
 * the ledger's sanctions but those of a lift not recorded yet, and this
 * host's not recorded yet (held while the ledger refuses writes), without
 * which their addresses' failures would sanction them again. */
static int reimpose(struct daemon *d, char *err, size_t errlen)
{
	int64_t now = daemon_now_us();
	recorder_each_pending(d->recorder, now, reimpose_pending, d);
	return ledger_each_active(d->ledger, now, reimpose_one, d, err, errlen);
}


/* The ledger's active sanctions, probed in the kernel a chunk at a time;
 * the missing ones are queued again with what is left of them. */
struct repair {
	struct daemon *d;
	int64_t now_us;
	struct addr keys[REPAIR_CHUNK];
	int64_t expires_us[REPAIR_CHUNK];
	bool present[REPAIR_CHUNK];
	size_t n, missing;
	int failed;
	char err[256];
};

static int repair_flush(struct repair *r)
{
	if (r->n && firewall_probe(r->d->fw, r->keys, r->n, r->present, r->err, sizeof(r->err)) != 0) {
		r->failed = -1;
		return -1;
	}
	for (size_t i = 0; i < r->n; i++) {
		int64_t seconds = (r->expires_us[i] - r->now_us + 999999) / 1000000;
		if (r->present[i] || seconds <= 0)
			continue;
		if (firewall_add(r->d->fw, &r->keys[i], seconds, r->err, sizeof(r->err)) != 0)
			log_warnx("firewall: repair: %s", r->err);
		else
			r->missing++;
	}
	r->n = 0;
	return 0;
}

static int repair_one(void *arg, const struct ledger_sanction *s)
{
	struct repair *r = arg;
	/* Lifted by hand, the ledger refusing to record it yet: not put back. */
	if (s->id && recorder_lifted(r->d->recorder, &s->addr, s->id))
		return 0;
	r->keys[r->n] = s->addr;
	r->expires_us[r->n++] = s->expires_us;
	return r->n == REPAIR_CHUNK ? repair_flush(r) : 0;
}

/* A sanction enforced but not recorded yet (the recorder's): probed like
 * the ledger's, and if missing re-added to the latest end in force for
 * its key (queued after the ledger's, so the later add, the longer end,
 * is the one the kernel keeps). */
static void repair_pending(void *arg, const struct addr *key, int64_t until_us)
{
	struct repair *r = arg;
	(void)until_us;
	if (r->failed)
		return;
	struct ledger_sanction s = {.addr = *key, .expires_us = daemon_in_force(r->d, key, r->now_us).until_us};
	repair_one(r, &s);
}

/* Someone else changed nftables: every active sanction is looked up (one
 * key lookup each, never a listing: NOTES) and the missing ones, deleted
 * by hand or by "nft flush set", are added again with their remaining
 * time. Cost: linear in the active sanctions, paid only after a change
 * that was not ours. */
static void repair_elements(struct daemon *d, int64_t now_us)
{
	struct repair *r = xcalloc(1, sizeof(*r));
	char err[256];
	r->d = d;
	r->now_us = now_us;
	if (ledger_each_active(d->ledger, now_us, repair_one, r, err, sizeof(err)) != 0) {
		log_warnx("ledger: %s", err);
	} else {
		/* Held while the ledger refuses writes, they are enforced too. */
		recorder_each_pending(d->recorder, now_us, repair_pending, r);
		if (r->failed == 0)
			repair_flush(r);
	}
	if (r->failed)
		log_warnx("firewall: checking the sets: %s", r->err);
	if (r->missing && firewall_commit(d->fw, err, sizeof(err)) != 0)
		log_warnx("firewall: %s", err);
	else if (r->missing) {
		d->element_repairs += r->missing;
		log_warnx("firewall: %zu sanction%s missing from pacto's sets (deleted by hand?); added again",
			  r->missing, r->missing == 1 ? " was" : "s were");
	}
	free(r);
}

/* Every TABLE_CHECK_US: the table's sets, chains and rules as we left them
 * (else reset and restore from the ledger), then, only if someone else
 * committed anything since the last check, our elements. */
static void check_table(struct daemon *d, int64_t now_us)
{
	if (now_us - d->last_table_check_us < TABLE_CHECK_US)
		return;
	d->last_table_check_us = now_us;
	if (firewall_present(d->fw)) {
		if (firewall_changed(d->fw) != 0)
			repair_elements(d, now_us);
		return;
	}
	char err[256];
	log_warnx("firewall: pacto's table is gone or altered; restoring it");
	d->table_restores++;
	if (daemon_restore(d, err, sizeof(err)) != 0)
		log_warnx("firewall: %s", err);
	(void)firewall_changed(d->fw);   /* the restore is the new reference */
}

/* ---- configuration, rules, engine ---- */

static void log_errors(const struct errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_warnx("%s", errs->msgs[i]);
}

/* Reads the configuration: the given file, else the default one if it
 * exists, else every default. */
static struct config *load_config(const char *path, struct errors *errs)
{
	struct config *cfg = NULL;
	if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (path)
		return config_load(path, &cfg, errs) == 0 ? cfg : NULL;
	cfg = xmalloc(sizeof(*cfg));
	config_defaults(cfg);
	return cfg;
}

static struct ruleset *load_rules(const struct config *cfg, struct errors *errs)
{
	struct ruleset *rs = NULL;
	struct stat st;
	int rc;
	if (cfg->nrules)
		rc = ruleset_load_paths((const char *const *)cfg->rules, cfg->nrules, &rs, errs);
	else if (stat(PACTO_RULES_DIR, &st) == 0)
		rc = ruleset_load(PACTO_RULES_DIR, &rs, errs);
	else
		rc = ruleset_load_texts(stock_rules, nstock_rules, &rs, errs);
	if (rc == 0 && config_apply_overrides(cfg, rs, errs) != 0) {
		ruleset_free(rs);
		return NULL;
	}
	return rc == 0 ? rs : NULL;
}

/* The engine's memory of repeat offenders, after a restart: the ledger's. */
static int offence_history(void *arg, const struct addr *key, int64_t since_us, unsigned *offences,
			   int64_t *last_end_us)
{
	struct daemon *d = arg;
	struct ledger_offences lo;
	char err[256];
	if (ledger_offences(d->ledger, key, since_us, &lo, err, sizeof(err)) != 0) {
		log_warnx("ledger: %s", err);
		return -1;
	}
	*offences = lo.last_offence;
	*last_end_us = lo.last_end_us;
	return 0;
}

static struct engine *make_engine(struct daemon *d, const struct config *cfg, const struct ruleset *rs)
{
	struct engine_config ec = {
		.allowlist = cfg->allowlist, .nallowlist = cfg->nallowlist, .ipv6_prefix = (unsigned)cfg->ipv6_prefix,
		.max_sources = cfg->max_sources, .max_connections = cfg->max_connections, .use_log_time = false,
		.reference_us = daemon_now_us(), .seed = random_seed(), .on_sanction = on_sanction,
		.offence_history = offence_history,
		.on_trace = on_trace, .arg = d, .trace_all = true,
	};
	struct engine *e = engine_new(rs, &ec);
	engine_advance(e, daemon_now_us());
	return e;
}

int daemon_config_has_treaty(const struct daemon_options *opts)
{
	struct errors errs = {0};
	struct config *cfg = load_config(opts->config_path, &errs);
	int rc = cfg ? cfg->treaty != NULL : -1;
	errors_clear(&errs);
	config_free(cfg);
	return rc;
}

int daemon_check(const struct daemon_options *opts, struct errors *errs, size_t *nscenarios)
{
	struct config *cfg = load_config(opts->config_path, errs);
	struct ruleset *rs = cfg ? load_rules(cfg, errs) : NULL;
	*nscenarios = rs ? rs->nscenarios : 0;
	ruleset_free(rs);
	config_free(cfg);
	return rs ? 0 : -1;
}

/* ---- directories ---- */

static gid_t pacto_group(void)
{
	struct group *g = getgrnam("pacto");
	return g ? g->gr_gid : (gid_t)-1;
}

static int make_dir(const char *path, mode_t mode, char *err, size_t errlen)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: mkdir: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* lchown: a symbolic link planted in the directory is not followed. */
static int give(const struct daemon *d, const char *path, bool must_exist, char *err, size_t errlen)
{
	if (lchown(path, d->opts.owner_uid, d->opts.owner_gid) == 0 || (!must_exist && errno == ENOENT))
		return 0;
	snprintf(err, errlen, "%s: chown to uid %u: %s", path, (unsigned)d->opts.owner_uid, strerror(errno));
	return -1;
}

/* With --user, the user pactod will run as must write its ledger (and the
 * files SQLite creates beside it) and remove its socket: the directories
 * and the ledger's files become its own while pactod is still root. */
static int give_state(struct daemon *d, const char *state, const char *run, char *err, size_t errlen)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	if (!d->opts.has_owner)
		return 0;
	if (give(d, state, true, err, errlen) != 0 || give(d, run, true, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s%s", d->ledger_path, suffixes[i]);
		if (give(d, path, i == 0, err, errlen) != 0)
			return -1;
	}
	/* The lock too: a later start as that user (the systemd unit) opens it. */
	char lock[4096];
	snprintf(lock, sizeof(lock), "%s/pactod.lock", state);
	return give(d, lock, false, err, errlen);
}

static void choose_paths(struct daemon *d)
{
	const char *state = d->opts.state_dir ? d->opts.state_dir : d->cfg->state_dir;
	const char *run = d->opts.state_dir ? d->opts.state_dir : d->cfg->run_dir;
	if (asprintf(&d->ledger_path, "%s/ledger.db", state) < 0 ||
	    asprintf(&d->socket_path, "%s/%s", run, CTL_SOCKET_NAME) < 0)
		fatalx("out of memory");
}

/* ---- open, run, close ---- */

static int open_config_and_rules(struct daemon *d, char *err, size_t errlen)
{
	struct errors errs = {0};
	d->cfg = load_config(d->opts.config_path, &errs);
	if (d->cfg)
		d->rs = load_rules(d->cfg, &errs);
	if (!d->cfg || !d->rs) {
		log_errors(&errs);
		snprintf(err, errlen, "%zu error%s in the configuration or rules", errs.n, errs.n == 1 ? "" : "s");
		errors_clear(&errs);
		return -1;
	}
	if (d->opts.dry_run)
		d->cfg->dry_run = true;
	return 0;
}

/* One pactod per state directory: a second one would take over the
 * control socket and reset the same table. An flock on STATE/pactod.lock,
 * held until the process ends (the kernel releases it even after kill -9),
 * waited for LOCK_TRIES times 100 ms. */
static int lock_state(struct daemon *d, const char *state, char *err, size_t errlen)
{
	char path[4096], pid[32] = "";
	snprintf(path, sizeof(path), "%s/pactod.lock", state);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (d->lock_fd < 0) {
		snprintf(err, errlen, "%s: open: %s", path, strerror(errno));
		return -1;
	}
	/* A predecessor killed a moment ago may still hold it: the kernel
	 * releases a dead process's locks at the very end of its exit. */
	int rc;
	for (int tries = 1; (rc = flock(d->lock_fd, LOCK_EX | LOCK_NB)) != 0 && errno == EWOULDBLOCK && tries < LOCK_TRIES;
	     tries++)
		usleep(100 * 1000);
	if (rc != 0 && errno != EWOULDBLOCK) {
		snprintf(err, errlen, "%s: flock: %s", path, strerror(errno));
		return -1;
	}
	if (rc != 0) {
		ssize_t n = read(d->lock_fd, pid, sizeof(pid) - 1);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		snprintf(err, errlen, "%s: another pactod (pid %s) uses this state directory", path, pid[0] ? pid : "?");
		return -1;
	}
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(d->lock_fd, 0) != 0 || pwrite(d->lock_fd, pid, (size_t)len, 0) != len)
		log_warn("%s: writing the pid", path);
	return 0;
}

static int open_state(struct daemon *d, char *err, size_t errlen)
{
	choose_paths(d);
	const char *state = d->opts.state_dir ? d->opts.state_dir : d->cfg->state_dir;
	const char *run = d->opts.state_dir ? d->opts.state_dir : d->cfg->run_dir;
	/* The run directory is open to all: the socket's own mode (root and the
	 * pacto group) is the gate; a closed directory would shut the group out. */
	if (make_dir(state, 0750, err, errlen) != 0 || make_dir(run, 0755, err, errlen) != 0 ||
	    lock_state(d, state, err, errlen) != 0)
		return -1;
	if (ledger_open(d->ledger_path, &d->ledger, err, errlen) != 0 || give_state(d, state, run, err, errlen) != 0)
		return -1;
	/* Not for long on a lock held by another process: what cannot be
	 * written is held and retried (recorder.h). The deferred sync (a
	 * thread) starts in daemon_start, after the privilege drop. */
	ledger_set_busy_timeout(d->ledger, LEDGER_LOCK_WAIT_MS);
	if (firewall_open(d->cfg->dry_run, &d->fw, err, errlen) != 0)
		return -1;
	return daemon_restore(d, err, errlen);
}

static const char *treaty_path(const struct daemon *d)
{
	return d->opts.treaty ? d->opts.treaty : d->cfg->treaty;
}

/* Joins the alliance when a treaty is configured (or given). */
static int open_alliance(struct daemon *d, char *err, size_t errlen)
{
	if (!treaty_path(d))
		return 0;
	return alliance_open(d, treaty_path(d), d->opts.key ? d->opts.key : d->cfg->key, err, errlen);
}

int daemon_open(struct daemon *d, const struct daemon_options *opts, char *err, size_t errlen)
{
	d->opts = *opts;
	d->lock_fd = -1;
	d->started_us = daemon_now_us();
	metrics_init(&d->metrics);
	if (open_config_and_rules(d, err, errlen) != 0)
		return -1;
	d->engine = make_engine(d, d->cfg, d->rs);
	d->evidence = evidence_new(EVIDENCE_SOURCES, random_seed());
	d->recorder = recorder_new();
	if (open_state(d, err, errlen) != 0 || open_alliance(d, err, errlen) != 0 ||
	    open_sources(d, err, errlen) != 0)
		return -1;
	if (ctl_server_open(d->socket_path, pacto_group(), &d->ctl, err, errlen) != 0)
		return -1;
	const char *listen = d->opts.metrics_listen ? d->opts.metrics_listen : d->cfg->metrics_listen;
	if (listen && web_open(d, listen, &d->web, err, errlen) != 0)
		return -1;
	if (listen)
		log_info("metrics and sanctions page at http://%s/", listen);
	log_info("ready: %zu scenario%s, %zu source%s, firewall %s, control at %s", d->rs->nscenarios,
		 d->rs->nscenarios == 1 ? "" : "s", d->nsources, d->nsources == 1 ? "" : "s",
		 firewall_backend(d->fw), d->socket_path);
	return 0;
}

size_t daemon_write_dirs(const struct daemon *d, const char *dirs[2])
{
	dirs[0] = d->opts.state_dir ? d->opts.state_dir : d->cfg->state_dir;
	dirs[1] = d->opts.state_dir ? d->opts.state_dir : d->cfg->run_dir;
	return strcmp(dirs[0], dirs[1]) == 0 ? 1 : 2;
}

int daemon_start(struct daemon *d, char *err, size_t errlen)
{
	/* The loop reads the logs: it must not wait for the ledger's fsyncs. */
	if (ledger_defer_sync(d->ledger, err, errlen) != 0)
		log_warnx("ledger: %s", err);
	/* Nor for counting the ledger's rows at each status request or scrape. */
	if (ledger_count_in_background(d->ledger, err, errlen) != 0)
		log_warnx("ledger: %s", err);
	return d->alliance ? alliance_connect(d, err, errlen) : 0;
}

int daemon_reload(struct daemon *d, char *message, size_t len)
{
	struct errors errs = {0};
	struct config *cfg = load_config(d->cfg->path, &errs);
	struct ruleset *rs = cfg ? load_rules(cfg, &errs) : NULL;
	if (!cfg || !rs) {
		log_errors(&errs);
		snprintf(message, len, "reload refused, the running configuration stays: %s",
			 errs.n ? errs.msgs[0] : "unknown error");
		errors_clear(&errs);
		config_free(cfg);
		return -1;
	}
	const char *names[8];
	cfg->dry_run = d->cfg->dry_run;   /* set by the command line, not the file */
	size_t n = config_unreloadable_changes(d->cfg, cfg, names, 8);
	engine_free(d->engine);
	ruleset_free(d->rs);
	config_free(d->cfg);
	d->cfg = cfg;
	d->rs = rs;
	d->engine = make_engine(d, cfg, rs);
	d->reloads++;
	char restore_err[256], treaty[512] = "";
	if (reimpose(d, restore_err, sizeof(restore_err)) != 0)
		log_warnx("ledger: %s", restore_err);
	if (d->alliance)
		alliance_warn_renamed(d);
	if (d->alliance && treaty_path(d)) {
		char msg[400];
		alliance_reload(d, treaty_path(d), msg, sizeof(msg));
		snprintf(treaty, sizeof(treaty), "; %s", msg);
	}
	snprintf(message, len, "reloaded: %zu scenario%s%s%s%s", rs->nscenarios, rs->nscenarios == 1 ? "" : "s",
		 n ? "; a restart is needed for: " : "", n ? names[0] : "", treaty);
	log_info("%s", message);
	return 0;
}

static void tick(struct daemon *d)
{
	int64_t now = daemon_now_us();
	d->last_tick_us = now;
	engine_advance(d->engine, now);
	check_table(d, now);
	if (now - d->last_cursor_save_us >= CURSOR_SAVE_US) {
		d->last_cursor_save_us = now;
		save_all_cursors(d);
	}
	alliance_flush(d, true);
}

/* Each turn of the loop, as ever; but while a prune pass turns the loop
 * without waiting, once a tick: a forced outbox flush (a ledger read) at
 * each of its steps doubled what the pass cost. */
static void tick_when_due(struct daemon *d)
{
	int64_t now = daemon_now_us();
	if (!ledger_prune_running(d->ledger) || now - d->last_tick_us >= TICK_MS * 1000LL || now < d->last_tick_us)
		tick(d);
}

/* The time a retention pass judges by: the wall clock, unless it ran ahead
 * of the boot clock since the last pass (clock_steady_us), which is said. */
static int64_t prune_time(struct daemon *d, int64_t now)
{
	int64_t at = clock_steady_us(&d->prune_clock, now, clock_boottime_us());
	if (at < now)
		log_warnx("ledger: the wall clock ran %lld s ahead of the boot clock since the last prune: "
			  "this pass keeps what was not old at the boot clock's time",
			  (long long)((now - at) / 1000000));
	return at;
}

/* The ledger's retention (pacto.conf ledger_retention, ledger_prune.h): a
 * pass at start and hourly, one short transaction per turn of the loop
 * (which then polls without waiting). Sanctions are kept at least the
 * longest escalation memory, which reads them after a restart. */
static void prune_ledger(struct daemon *d, int64_t now)
{
	char err[256], text[320];
	if (!ledger_prune_running(d->ledger) && (!d->last_prune_us || now - d->last_prune_us >= LEDGER_PRUNE_EVERY_US)) {
		int64_t keep = d->cfg->ledger_retention_us, keep_sanctions = keep;
		for (size_t i = 0; i < d->rs->nscenarios && keep; i++)
			if (d->rs->scenarios[i].escalation_memory_us > keep_sanctions)
				keep_sanctions = d->rs->scenarios[i].escalation_memory_us;
		d->last_prune_us = now;
		int64_t at = prune_time(d, now);
		ledger_prune_start(d->ledger, &(struct ledger_retention){.now_us = at,
			.reports_before_us = keep ? at - keep : 0, .sanctions_before_us = keep ? at - keep_sanctions : 0,
			.max_refusals = d->cfg->ledger_max_refusals});
	}
	int rc = ledger_prune_step(d->ledger, &d->pruning, err, sizeof(err));
	if (rc < 0)
		log_warnx("ledger: prune: %s (the next pass is in an hour)", err);
	if (rc != 1 && ledger_pruned_rows(&d->pruning))
		log_info("ledger: %s", ledger_pruned_text(&d->pruning, text, sizeof(text)));
	if (rc != 1)
		d->pruning = (struct ledger_pruned){0};
}

int daemon_run(struct daemon *d)
{
	/* fds: the control socket, each source, the alliance's link, the web
	 * listener (one epoll descriptor for all its sockets). */
	struct pollfd *fds = xcalloc(d->nsources + 3, sizeof(*fds));
	size_t link = d->nsources + 1, web = d->nsources + 2;
	int64_t last_full_read = 0;
	while (!*d->stop) {
		if (*d->reload) {
			char msg[512];
			*d->reload = 0;
			daemon_reload(d, msg, sizeof(msg));
		}
		fds[0] = (struct pollfd){.fd = ctl_server_fd(d->ctl), .events = POLLIN};
		for (size_t i = 0; i < d->nsources; i++)
			fds[i + 1] = (struct pollfd){.fd = d->sources[i].journal ? journal_source_fd(d->sources[i].journal)
										  : follower_fd(d->sources[i].follower),
						     .events = POLLIN};
		fds[link] = (struct pollfd){.fd = alliance_fd(d->alliance), .events = POLLIN};
		fds[web] = (struct pollfd){.fd = web_fd(d->web), .events = POLLIN};
		int web_wait = web_timeout_ms(d->web, TICK_MS);
		int n = poll(fds, d->nsources + 3, ledger_prune_running(d->ledger) ? 0 : web_wait);
		if (n < 0 && errno != EINTR)
			log_warn("poll");
		/* Every source is also read at start and once a tick whatever else
		 * wakes the loop: what was there before any event (a journal read
		 * from its start), or an event lost to an inotify overflow, must
		 * not wait for the next change, nor be starved by control traffic. */
		int64_t now = daemon_now_us();
		bool full = now - last_full_read >= TICK_MS * 1000LL;
		if (full)
			last_full_read = now;
		for (size_t i = 0; i < d->nsources; i++)
			if (full || (n > 0 && (fds[i + 1].revents & POLLIN)))
				read_source(d, &d->sources[i]);
		if (n > 0 && (fds[0].revents & POLLIN))
			ctl_server_serve(d->ctl, daemon_commands, daemon_ncommands, d);
		if (n > 0 && (fds[link].revents & POLLIN))
			alliance_service(d);
		/* Also when libmicrohttpd has work left or timeouts to run (it
		 * said so through web_wait), and once a tick in any case. */
		if ((n > 0 && (fds[web].revents & POLLIN)) || n == 0 || web_wait == 0 || full)
			web_service(d->web);
		tick_when_due(d);
		commit_open(d);
		alliance_flush(d, false);
		prune_ledger(d, daemon_now_us());
	}
	free(fds);
	return 0;
}

void daemon_close(struct daemon *d)
{
	if (d->ledger && d->nsources)
		save_all_cursors(d);
	for (size_t i = 0; i < d->nsources; i++) {
		follower_close(d->sources[i].follower);
		journal_source_close(d->sources[i].journal);
		free(d->sources[i].path);
	}
	free(d->sources);
	ctl_server_close(d->ctl);
	web_close(d->web);
	alliance_close(d->alliance);
	engine_free(d->engine);
	evidence_free(d->evidence);
	recorder_free(d->recorder);
	firewall_close(d->fw);
	ledger_close(d->ledger);
	ruleset_free(d->rs);
	config_free(d->cfg);
	free(d->ledger_path);
	free(d->socket_path);
	if (d->lock_fd >= 0)
		close(d->lock_fd);   /* the lock goes last: everything it guarded is closed */
}
