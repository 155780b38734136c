/* metrics.h: what pactod counts for Prometheus beyond its plain counters,
 * and the rendering of /metrics from the daemon's state.
 * Why: operators watch pacto with the tools they already run; the numbers
 * that answer "is it working, how fast, what does it refuse" are read here
 * from the same state `pacto status` and `pacto allies` show.
 * Guarantees: recording costs a few comparisons (no allocation, no I/O) on
 * the sanction path; rendering runs on the loop's thread and reads the
 * ledger twice (two counts on indexes) and stats the ledger's files.
 * Ownership: struct daemon_metrics is embedded in struct daemon. */
#ifndef PACTO_DAEMON_METRICS_H
#define PACTO_DAEMON_METRICS_H

#include "common/prom.h"

struct daemon;

struct daemon_metrics {
	/* From a sanctioning line's own timestamp to the firewall commit. */
	struct prom_histogram reaction;
	/* From an ally's report time (its clock) to the report in force here. */
	struct prom_histogram propagation;
	struct prom_pairs sanctions;      /* by scenario and origin, since start */
};

void metrics_init(struct daemon_metrics *m);

/* Counts a sanction in force. origin: "local", "manual (...)" (counted as
 * "manual") or "ally:MEMBER". */
void metrics_sanction(struct daemon_metrics *m, const char *scenario, const char *origin);

/* Appends every pacto_* family to b. */
void metrics_render(struct daemon *d, struct prom_buf *b);

#endif
