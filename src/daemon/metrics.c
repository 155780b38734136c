/* metrics.c: /metrics in the Prometheus text format (see metrics.h). */
#include "daemon/metrics.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "daemon/alliance.h"
#include "daemon/daemon.h"
#include "daemon/web.h"
#include "ledger/ledger_prune.h"

/* Reaction is expected well under a millisecond; anything past a second
 * is a stall worth seeing. Propagation crosses a broker and two clocks. */
static const double reaction_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double propagation_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					    0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

#define NBOUNDS(a) (sizeof(a) / sizeof(*(a)))

void metrics_init(struct daemon_metrics *m)
{
	memset(m, 0, sizeof(*m));
	prom_histogram_init(&m->reaction, reaction_bounds, NBOUNDS(reaction_bounds));
	prom_histogram_init(&m->propagation, propagation_bounds, NBOUNDS(propagation_bounds));
}

void metrics_sanction(struct daemon_metrics *m, const char *scenario, const char *origin)
{
	/* "manual (uid 0)": one label value per kind, not per user. */
	if (strncmp(origin, "manual", 6) == 0)
		origin = "manual";
	prom_pairs_add(&m->sanctions, scenario ? scenario : "manual", origin);
}

static void counter(struct prom_buf *b, const char *name, const char *help, uint64_t v)
{
	prom_family(b, name, "counter", help);
	prom_u64(b, name, NULL, 0, v);
}

static void gauge(struct prom_buf *b, const char *name, const char *help, double v)
{
	prom_family(b, name, "gauge", help);
	prom_double(b, name, NULL, 0, v);
}

static void engine_metrics(struct daemon *d, struct prom_buf *b)
{
	struct engine_stats st;
	engine_get_stats(d->engine, &st);
	counter(b, "pacto_lines_read_total", "Log lines read from every source", st.lines);
	counter(b, "pacto_lines_matched_total", "Lines a scenario's pattern matched", st.matched);
	counter(b, "pacto_failures_total", "Failures counted against a source", st.failures);
	counter(b, "pacto_lines_oversized_total", "Lines dropped whole for their length", st.oversized);
	counter(b, "pacto_allowlisted_total", "Failures of allowlisted or loopback sources, not counted",
		st.allowlisted);
	prom_family(b, "pacto_evictions_total", "counter",
		    "Entries evicted from a full table (least recently seen first)");
	const char *names[] = {"sources", "connections", "offenders"};
	uint64_t values[] = {st.source_evictions, st.connection_evictions, st.offender_evictions};
	for (size_t i = 0; i < 3; i++)
		prom_u64(b, "pacto_evictions_total", &(struct prom_label){"table", names[i]}, 1, values[i]);
	gauge(b, "pacto_engine_memory_bytes", "Memory held by the detection tables", (double)st.memory_bytes);
	gauge(b, "pacto_engine_memory_bound_bytes", "The most the detection tables may hold", (double)st.memory_bound);
}

static void source_metrics(struct daemon *d, struct prom_buf *b)
{
	prom_family(b, "pacto_source_lines_total", "counter", "Lines read per followed file");
	for (size_t i = 0; i < d->nsources; i++) {
		struct follower_stats fs = {0};
		if (d->sources[i].journal)
			continue;
		follower_get_stats(d->sources[i].follower, &fs);
		prom_u64(b, "pacto_source_lines_total", &(struct prom_label){"source", d->sources[i].path}, 1, fs.lines);
	}
}

static double file_size(const char *path, const char *suffix)
{
	char p[4096];
	struct stat st;
	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &st) == 0 ? (double)st.st_size : 0;
}

static void ledger_metrics(struct daemon *d, struct prom_buf *b)
{
	struct ledger_counts lc = {0};
	char err[256];
	if (ledger_counts(d->ledger, daemon_now_us(), &lc, err, sizeof(err)) != 0)
		log_warnx("metrics: ledger: %s", err);
	gauge(b, "pacto_sanctions_active", "Sanctions in force (ledger)", (double)lc.active);
	gauge(b, "pacto_ledger_rows", "Sanctions in the ledger (ended ones go after ledger_retention)", (double)lc.sanctions);
	gauge(b, "pacto_ledger_bytes", "Size of the ledger's database and write-ahead log",
	      file_size(d->ledger_path, "") + file_size(d->ledger_path, "-wal"));
	counter(b, "pacto_ledger_errors_total", "Ledger writes that failed", d->ledger_errors);
	counter(b, "pacto_ledger_pruned_rows_total", "Ledger rows the retention deleted (ledger_retention)",
		ledger_pruned_total(d->ledger));
}

static void daemon_counters(struct daemon *d, struct prom_buf *b)
{
	struct ctl_server_stats cs;
	ctl_server_get_stats(d->ctl, &cs);
	gauge(b, "pacto_start_time_seconds", "When pactod started (Unix time)", (double)d->started_us / 1e6);
	prom_family(b, "pacto_sanctions_total", "counter", "Sanctions put in force since start, by scenario and origin");
	prom_pairs_write(b, "pacto_sanctions_total", "scenario", "origin", &d->metrics.sanctions);
	counter(b, "pacto_firewall_errors_total", "Sanctions the firewall refused", d->firewall_errors);
	counter(b, "pacto_table_restores_total", "Times pacto's nftables table was found gone and rebuilt",
		d->table_restores);
	counter(b, "pacto_reloads_total", "Configuration reloads", d->reloads);
	prom_family(b, "pacto_control_refusals_total", "counter", "Control socket refusals by reason");
	prom_u64(b, "pacto_control_refusals_total", &(struct prom_label){"reason", "peer"}, 1, cs.refused_peers);
	prom_u64(b, "pacto_control_refusals_total", &(struct prom_label){"reason", "bad_request"}, 1, cs.bad_requests);
}

void metrics_render(struct daemon *d, struct prom_buf *b)
{
	daemon_counters(d, b);
	engine_metrics(d, b);
	source_metrics(d, b);
	ledger_metrics(d, b);
	prom_histogram_write(b, "pacto_reaction_seconds",
			     "From a sanctioning log line's timestamp to the drop in force (local sanctions)",
			     &d->metrics.reaction);
	prom_histogram_write(b, "pacto_propagation_seconds",
			     "From an ally's report time (its clock) to the report in force here",
			     &d->metrics.propagation);
	web_metrics(d->web, b);
	if (d->alliance)
		alliance_metrics(d, b);
}
