/* cmd_replay.c: `pacto replay`, logs read as if they were live.
 * Why: the way to try rules on real logs before trusting them (what
 * fail2ban-regex is to fail2ban), and the benchmark of the detection path.
 * Time comes from the lines themselves; the sanctions printed are the ones
 * pactod would have issued, in the same order. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/cliopt.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/seed.h"
#include "common/xalloc.h"
#include "ctl/cli.h"
#include "detect/engine.h"
#include "detect/scan_pool.h"
#include "sources/reader.h"
#include "sources/reader_map.h"
#include "sources/replay_input.h"

#define MAX_ALLOW 1024

static const char replay_usage[] =
	"usage: pacto replay [--rules PATH] [--json] [--explain ADDRESS] [--allow CIDR]...\n"
	"                    [--ipv6-prefix N] [--max-sources N] [--year YYYY] [--threads N]\n"
	"                    [FILE... | -]\n"
	"Reads sshd logs (syslog, RFC 3339, bare sshd -E lines, journalctl -o json or\n"
	"-o export) as if they were live, and prints each sanction pactod would issue.\n"
	"Reads stdin without FILE.\n"
	"  --rules PATH        a rule file or directory (default: " PACTO_RULES_DIR " or the stock rules)\n"
	"  --json              one JSON object per sanction (or explained line)\n"
	"  --explain ADDRESS   show every line counted for ADDRESS (or prefix) and why\n"
	"  --allow CIDR        never sanction this network (repeatable; loopback always)\n"
	"  --ipv6-prefix N     count and sanction IPv6 sources per /N (default 64)\n"
	"  --max-sources N     per-scenario bound on sources tracked (default 262144)\n"
	"  --year YYYY         year of classic syslog times (default: from the file's date)\n"
	"  --threads N         threads that match lines (default: one per CPU, at most 16);\n"
	"                      counting stays in one, in log order, so N changes only the speed\n"
	"  --bare              also read lines without a syslog header as sshd's (sshd -E output).\n"
	"                      Unsafe on logs an attacker reaches: sshd writes control characters\n"
	"                      raw there, so a user name can forge a whole line.\n";

struct replay_opts {
	const char *rules;
	bool json;
	bool has_explain;
	struct addr explain;
	struct addr allow[MAX_ALLOW];
	size_t nallow;
	unsigned ipv6_prefix;
	size_t max_sources;
	int year;
	bool bare;
	unsigned threads;           /* 0: one per CPU */
};

struct replay {
	const struct replay_opts *opts;
	/* The engine, the pool (NULL: one thread) and the input being read
	 * (its line, for --explain). */
	struct replay_input in;
};

/* ---- output ---- */

static void print_sanction_json(const struct sanction *s)
{
	char addr[ADDR_STRLEN], t[32], first[32], last[32];
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:i}",
			      "time", format_time_utc(s->created_us, t, sizeof(t)),
			      "address", addr_format(&s->addr, addr, sizeof(addr)),
			      "scenario", s->scenario->name, "attempts", (int)s->attempts,
			      "first_seen", format_time_utc(s->first_seen_us, first, sizeof(first)),
			      "last_seen", format_time_utc(s->last_seen_us, last, sizeof(last)),
			      "duration_s", (json_int_t)(s->duration_us / 1000000), "offence", (int)s->offence);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}

static void print_sanction_text(const struct sanction *s)
{
	char addr[ADDR_STRLEN], t[32], first[32];
	printf("%s sanction %s for %llds: %s, %u failures since %s (offence %u)\n",
	       format_time_utc(s->created_us, t, sizeof(t)), addr_format(&s->addr, addr, sizeof(addr)),
	       (long long)(s->duration_us / 1000000), s->scenario->name, s->attempts,
	       format_time_utc(s->first_seen_us, first, sizeof(first)), s->offence);
}

static void on_sanction(void *arg, const struct sanction *s)
{
	struct replay *r = arg;
	if (r->opts->json)
		print_sanction_json(s);
	else
		print_sanction_text(s);
}

static void print_trace_json(const struct replay *r, const struct trace *t, const char *pattern)
{
	char src[ADDR_STRLEN], when[32];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o}",
			      "time", format_time_utc(t->time_us, when, sizeof(when)),
			      "source", addr_format(&t->source, src, sizeof(src)),
			      "scenario", t->scenario->name, "pattern", pattern,
			      "verdict", verdict_text(t->verdict), "in_window", (int)t->in_window,
			      "line", json_text(t->event ? r->in.line : "", t->event ? r->in.line_len : 0));
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	if (text)
		puts(text);
	free(text);
	json_decref(o);
}

static void on_trace(void *arg, const struct trace *t)
{
	struct replay *r = arg;
	const char *pattern = t->pattern ? t->pattern->name : "connection-timeout";
	if (r->opts->json) {
		print_trace_json(r, t, pattern);
		return;
	}
	char src[ADDR_STRLEN], when[32];
	printf("%s %s %s/%s: %s", format_time_utc(t->time_us, when, sizeof(when)),
	       addr_format(&t->source, src, sizeof(src)), t->scenario->name, pattern, verdict_text(t->verdict));
	if (t->in_window)
		printf(" (%u of %u in %llds)", t->in_window, t->scenario->threshold,
		       (long long)(t->scenario->window_us / 1000000));
	printf("\n");
	if (t->event) {
		fputs("    | ", stdout);
		put_printable_n(stdout, r->in.line, r->in.line_len);   /* the attacker's text */
		fputc('\n', stdout);
	}
}

/* ---- input ---- */

/* The time a log's undated lines are read against: its modification time. */
static int64_t file_reference_us(int fd, const struct replay_opts *o)
{
	if (o->year) {
		int64_t days = days_from_civil(o->year, 12, 31);
		return (days * 86400 + 86399) * 1000000LL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return (int64_t)st.st_mtim.tv_sec * 1000000LL;
	return (int64_t)time(NULL) * 1000000LL;
}

static int replay_fd(struct replay *r, int fd, const char *name, struct reader_stats *rs)
{
	int64_t reference_us = file_reference_us(fd, r->opts);
	engine_set_reference(r->in.engine, reference_us);
	replay_input_start(&r->in, rs, reference_us);
	/* A regular file is mapped, not copied by read() (reader_map.h); its
	 * bytes are shared past the call only with scanning threads to read
	 * them (without, each mapping would stay until the next move, and
	 * count twice in the RSS). */
	int rc = reader_run_file_shared(fd, replay_input_frame, &r->in, rs, r->in.pool ? &r->in.share : NULL);
	if (r->in.pool)
		scan_pool_flush(r->in.pool);    /* before the next input sets its own reference time */
	if (rc == READER_SHRANK) {
		log_warnx("%s: the file shrank while it was read (truncated, or rotated by copying?): "
			  "what followed its new end was not read", name);
		return -1;
	}
	if (rc != 0) {
		log_warn("%s", name);
		return -1;
	}
	return 0;
}

static int replay_path(struct replay *r, const char *path, struct reader_stats *rs)
{
	if (strcmp(path, "-") == 0)
		return replay_fd(r, STDIN_FILENO, "stdin", rs);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("%s", path);
		return -1;
	}
	int rc = replay_fd(r, fd, path, rs);
	close(fd);
	return rc;
}

/* ---- summary ---- */

static double seconds_since(int64_t start_us)
{
	return (double)(clock_monotonic_us() - start_us) / 1e6;
}

static void print_summary(const struct replay *r, const struct reader_stats *rs, double secs)
{
	struct engine_stats st;
	engine_get_stats(r->in.engine, &st);
	double rate = secs > 0 ? (double)rs->records / secs : 0;
	fprintf(stderr, "pacto replay: %llu lines read, %llu matched, %llu failures counted, "
		"%llu sanctions, %.3f s, %.0f lines/s\n",
		(unsigned long long)rs->records, (unsigned long long)st.matched,
		(unsigned long long)st.failures, (unsigned long long)st.sanctions, secs, rate);
	uint64_t oversized = rs->oversized + st.oversized;
	if (oversized || st.bad_address || st.match_errors || st.bad_time || r->in.bad_journal)
		fprintf(stderr, "pacto replay: refused: %llu oversized lines, %llu bad addresses, "
			"%llu match-limit lines, %llu bad times, %llu bad journal entries\n",
			(unsigned long long)oversized, (unsigned long long)st.bad_address,
			(unsigned long long)st.match_errors, (unsigned long long)st.bad_time,
			(unsigned long long)r->in.bad_journal);
	if (st.bare_ignored)
		fprintf(stderr, "pacto replay: %llu lines without a syslog header matched no headerless "
			"scenario (sshd -E output? that needs --bare)\n", (unsigned long long)st.bare_ignored);
	if (rs->eol_fallbacks)
		fprintf(stderr, "pacto replay: %llu input(s) began with a line ending in CR LF (as sshd -E "
			"writes) but end their lines in LF: read as LF lines once no CR LF came within %d bytes\n",
			(unsigned long long)rs->eol_fallbacks, ENGINE_MAX_LINE);
	if (st.backwards)
		fprintf(stderr, "pacto replay: %llu lines were older than lines read before them: "
			"give the files oldest first (auth.log.1 auth.log)\n", (unsigned long long)st.backwards);
	if (st.allowlisted || st.source_evictions || st.connection_evictions || st.offender_evictions)
		fprintf(stderr, "pacto replay: %llu allowlisted failures, evicted %llu sources, "
			"%llu connections, %llu offenders\n",
			(unsigned long long)st.allowlisted, (unsigned long long)st.source_evictions,
			(unsigned long long)st.connection_evictions, (unsigned long long)st.offender_evictions);
}

/* ---- options ---- */

static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_allow(struct replay_opts *o, const char *s)
{
	if (o->nallow == MAX_ALLOW) {
		fprintf(stderr, "pacto replay: more than %d --allow networks\n", MAX_ALLOW);
		return -1;
	}
	int rc = addr_parse_cidr(s, &o->allow[o->nallow]);
	if (rc != 0) {
		fprintf(stderr, "pacto replay: --allow '%s': %s\n", s,
			rc == -2 ? "bits are set past the prefix length" : "not an address or CIDR network");
		return -1;
	}
	o->nallow++;
	return 0;
}

static int parse_option(struct replay_opts *o, int opt, const char *arg)
{
	unsigned long v;
	switch (opt) {
	case 'r':
		o->rules = arg;
		return cliopt_nonempty("pacto replay", "--rules", arg, "path") ? 0 : -1;
	case 'j': o->json = true; return 0;
	case 'b': o->bare = true; return 0;
	case 'a': return parse_allow(o, arg);
	case 'e': {
		int rc = addr_parse_cidr(arg, &o->explain);
		if (rc != 0) {
			fprintf(stderr, "pacto replay: --explain '%s': %s\n", arg,
				rc == -2 ? "has bits set past its prefix length" : "not an address or prefix");
			return -1;
		}
		o->has_explain = true;
		return 0;
	}
	case '6':
		if (parse_ulong(arg, 48, 128, &v) != 0) {
			fprintf(stderr, "pacto replay: --ipv6-prefix '%s': expected 48 to 128\n", arg);
			return -1;
		}
		o->ipv6_prefix = (unsigned)v;
		return 0;
	case 'm':
		if (parse_ulong(arg, 1, 100000000, &v) != 0) {
			fprintf(stderr, "pacto replay: --max-sources '%s': expected 1 to 100000000\n", arg);
			return -1;
		}
		o->max_sources = v;
		return 0;
	case 't':
		if (parse_ulong(arg, 1, SCAN_POOL_MAX_THREADS, &v) != 0) {
			fprintf(stderr, "pacto replay: --threads '%s': expected 1 to %d\n", arg, SCAN_POOL_MAX_THREADS);
			return -1;
		}
		o->threads = (unsigned)v;
		return 0;
	case 'y':
		if (parse_ulong(arg, 1970, 9999, &v) != 0) {
			fprintf(stderr, "pacto replay: --year '%s': expected 1970 to 9999\n", arg);
			return -1;
		}
		o->year = (int)v;
		return 0;
	}
	return -1;
}

/* Returns the index of the first file argument, 0 after --help, -1 on error. */
static int parse_options(int argc, char **argv, struct replay_opts *o)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
		{"explain", required_argument, NULL, 'e'}, {"allow", required_argument, NULL, 'a'},
		{"ipv6-prefix", required_argument, NULL, '6'}, {"max-sources", required_argument, NULL, 'm'},
		{"year", required_argument, NULL, 'y'}, {"bare", no_argument, NULL, 'b'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "r:je:a:h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(replay_usage, stdout);
			return 0;
		}
		if (opt == '?' || parse_option(o, opt, optarg) != 0) {
			fputs(replay_usage, stderr);
			return -1;
		}
	}
	for (int i = optind; i < argc; i++)
		if (!cliopt_nonempty("pacto replay", "FILE", argv[i], "file name (- reads stdin)"))
			return -1;
	return optind;
}

static struct engine *replay_engine(struct replay *r, const struct ruleset *rs)
{
	const struct replay_opts *o = r->opts;
	struct engine_config cfg = {
		.allowlist = o->allow, .nallowlist = o->nallow, .ipv6_prefix = o->ipv6_prefix,
		.max_sources = o->max_sources, .use_log_time = true, .trust_bare = o->bare, .seed = random_seed(),
		.on_sanction = on_sanction, .on_trace = o->has_explain ? on_trace : NULL, .arg = r,
		.has_trace_source = o->has_explain, .trace_source = o->explain,
	};
	return engine_new(rs, &cfg);
}

/* Threads that scan lines: --threads, else one per CPU. One thread feeds
 * the engine line by line: through the pool it measured slower (8 of 10
 * interleaved runs: batching costs instructions and saves nothing on one
 * CPU). --explain stays on one (its trace names the line being applied,
 * which the pool does not keep for it). */
static struct scan_pool *replay_pool(struct replay *r, struct engine *e)
{
	unsigned n = r->opts->threads;
	if (n == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus < 1 ? 1 : cpus > SCAN_POOL_MAX_THREADS ? SCAN_POOL_MAX_THREADS : (unsigned)cpus;
	}
	if (n < 2 || r->opts->has_explain)
		return NULL;
	return scan_pool_new(e, n);
}

static int replay_inputs(struct replay *r, int nfiles, char **files, struct reader_stats *rs)
{
	if (nfiles == 0)
		return replay_path(r, "-", rs);
	int failed = 0;
	for (int i = 0; i < nfiles; i++)
		failed |= replay_path(r, files[i], rs) != 0;
	return failed ? -1 : 0;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_opts *o = xcalloc(1, sizeof(*o));
	int first = parse_options(argc, argv, o);
	if (first <= 0) {
		free(o);
		return first == 0 ? EXIT_OK : EXIT_USAGE;
	}
	const char *origin;
	struct ruleset *rs = cli_load_rules(o->rules, &origin);
	if (!rs) {
		free(o);
		return EXIT_CONFIG;
	}
	struct replay *r = xcalloc(1, sizeof(*r));
	r->opts = o;
	struct engine *e = replay_engine(r, rs);
	replay_input_init(&r->in, e, replay_pool(r, e));
	struct reader_stats st = {0};
	int64_t start_us = clock_monotonic_us();
	int rc = replay_inputs(r, argc - first, argv + first, &st);
	if (r->in.pool) {
		uint64_t records, oversized;
		scan_pool_flush(r->in.pool);
		scan_pool_counts(r->in.pool, &records, &oversized);
		st.records += records;
		st.oversized += oversized;
	}
	scan_pool_free(r->in.pool);
	engine_finish(r->in.engine);
	fflush(stdout);
	print_summary(r, &st, seconds_since(start_us));
	engine_free(r->in.engine);
	ruleset_free(rs);
	free(r);
	free(o);
	return rc == 0 ? EXIT_OK : EXIT_NOINPUT;
}
