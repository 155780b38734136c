/* prom.h: the Prometheus text exposition format (0.0.4), written into a
 * growing buffer, and the two kinds of state behind it that a counter
 * variable cannot hold: histograms and counters by a pair of labels.
 * Why: pactod's /metrics; kept apart from the daemon so that the format
 * (escaping, cumulative buckets) is unit-tested on its own.
 * Guarantees: label values and HELP text are escaped (\\, \", newline), so
 * no value (a scenario name from an ally, an origin) can forge a sample or
 * a line; a pair table holds at most PROM_PAIRS_MAX pairs and counts what
 * it could not hold. Metric and label names are the caller's constants.
 * Ownership: a prom_buf owns its text (prom_buf_free); the rest is plain
 * memory the caller embeds. Never does I/O. */
#ifndef PACTO_PROM_H
#define PACTO_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prom_buf {
	char *text;           /* NUL-terminated; NULL until the first write */
	size_t len, cap;
};

struct prom_label {
	const char *name, *value;
};

void prom_buf_free(struct prom_buf *b);

/* Appends text already in the format (another buffer's). */
void prom_raw(struct prom_buf *b, const char *text, size_t len);

/* The "# HELP" and "# TYPE" lines of a family (type: counter, gauge, histogram). */
void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help);

/* One sample: name{labels} value. */
void prom_u64(struct prom_buf *b, const char *name, const struct prom_label *labels, size_t nlabels, uint64_t v);
void prom_double(struct prom_buf *b, const char *name, const struct prom_label *labels, size_t nlabels, double v);

/* A histogram with fixed upper bounds (seconds, increasing). */
#define PROM_MAX_BUCKETS 24
struct prom_histogram {
	const double *bounds;
	size_t nbounds;
	uint64_t counts[PROM_MAX_BUCKETS + 1];  /* per bucket, not cumulative; the last is +Inf */
	uint64_t count;
	double sum;
};

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds);
void prom_histogram_observe(struct prom_histogram *h, double seconds);

/* Writes a whole histogram family: HELP, TYPE, cumulative _bucket lines
 * with "le", _sum and _count. */
void prom_histogram_write(struct prom_buf *b, const char *name, const char *help, const struct prom_histogram *h);

/* Counters keyed by two label values (sanctions by scenario and origin). */
#define PROM_PAIRS_MAX 256
#define PROM_PAIR_TEXT 64     /* longer values are cut */
struct prom_pairs {
	struct {
		char a[PROM_PAIR_TEXT], b[PROM_PAIR_TEXT];
		uint64_t n;
	} row[PROM_PAIRS_MAX];
	size_t nrows;
	uint64_t dropped;         /* additions that found the table full */
};

/* Adds 1 to the counter of (a, b). Returns false when the table is full. */
bool prom_pairs_add(struct prom_pairs *p, const char *a, const char *b);

/* Writes one sample per pair, labelled la=a, lb=b. */
void prom_pairs_write(struct prom_buf *b, const char *name, const char *la, const char *lb,
		      const struct prom_pairs *p);

#endif
