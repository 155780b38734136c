/* prom.c: Prometheus text format and its small state (see prom.h). */
#include "common/prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void prom_buf_free(struct prom_buf *b)
{
	free(b->text);
	*b = (struct prom_buf){0};
}

static void reserve(struct prom_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	b->text = xreallocarray(b->text, cap, 1);
	b->cap = cap;
}

static void put(struct prom_buf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
}

void prom_raw(struct prom_buf *b, const char *text, size_t len)
{
	put(b, text, len);
}

static void puts_(struct prom_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(struct prom_buf *b, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		put(b, small, (size_t)n);
		return;
	}
	reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->text + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The format's escapes: backslash and newline everywhere, the double
 * quote inside label values. A value therefore stays one token. */
static void put_escaped(struct prom_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (*s == '"' && quote)
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

void prom_family(struct prom_buf *b, const char *name, const char *type, const char *help)
{
	putf(b, "# HELP %s ", name);
	put_escaped(b, help, false);
	putf(b, "\n# TYPE %s %s\n", name, type);
}

static void put_labels(struct prom_buf *b, const struct prom_label *labels, size_t n)
{
	if (n == 0)
		return;
	puts_(b, "{");
	for (size_t i = 0; i < n; i++) {
		putf(b, "%s%s=\"", i ? "," : "", labels[i].name);
		put_escaped(b, labels[i].value ? labels[i].value : "", true);
		puts_(b, "\"");
	}
	puts_(b, "}");
}

void prom_u64(struct prom_buf *b, const char *name, const struct prom_label *labels, size_t nlabels, uint64_t v)
{
	puts_(b, name);
	put_labels(b, labels, nlabels);
	putf(b, " %llu\n", (unsigned long long)v);
}

void prom_double(struct prom_buf *b, const char *name, const struct prom_label *labels, size_t nlabels, double v)
{
	puts_(b, name);
	put_labels(b, labels, nlabels);
	putf(b, " %.9g\n", v);
}

/* ---- histograms ---- */

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t nbounds)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds < PROM_MAX_BUCKETS ? nbounds : PROM_MAX_BUCKETS;
}

void prom_histogram_observe(struct prom_histogram *h, double seconds)
{
	size_t i = 0;
	while (i < h->nbounds && seconds > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += seconds;
}

void prom_histogram_write(struct prom_buf *b, const char *name, const char *help, const struct prom_histogram *h)
{
	char bucket[128], le[32];
	uint64_t cumulative = 0;
	prom_family(b, name, "histogram", help);
	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	for (size_t i = 0; i <= h->nbounds; i++) {
		cumulative += h->counts[i];
		if (i < h->nbounds)
			snprintf(le, sizeof(le), "%g", h->bounds[i]);
		struct prom_label l = {"le", i < h->nbounds ? le : "+Inf"};
		prom_u64(b, bucket, &l, 1, cumulative);
	}
	putf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

/* ---- counters by two labels ---- */

bool prom_pairs_add(struct prom_pairs *p, const char *a, const char *b)
{
	char ca[PROM_PAIR_TEXT], cb[PROM_PAIR_TEXT];
	snprintf(ca, sizeof(ca), "%s", a);
	snprintf(cb, sizeof(cb), "%s", b);
	for (size_t i = 0; i < p->nrows; i++)
		if (strcmp(p->row[i].a, ca) == 0 && strcmp(p->row[i].b, cb) == 0) {
			p->row[i].n++;
			return true;
		}
	if (p->nrows == PROM_PAIRS_MAX) {
		p->dropped++;
		return false;
	}
	memcpy(p->row[p->nrows].a, ca, sizeof(ca));
	memcpy(p->row[p->nrows].b, cb, sizeof(cb));
	p->row[p->nrows++].n = 1;
	return true;
}

void prom_pairs_write(struct prom_buf *b, const char *name, const char *la, const char *lb,
		      const struct prom_pairs *p)
{
	for (size_t i = 0; i < p->nrows; i++) {
		struct prom_label l[2] = {{la, p->row[i].a}, {lb, p->row[i].b}};
		prom_u64(b, name, l, 2, p->row[i].n);
	}
}
