/* gen_reports.c: writes the seed corpus of fuzz_report: real report
 * batches signed with the fixed fuzz key (fuzz.h), as whole wire messages
 * (mode byte 0) and as payloads for the harness to sign (mode byte 1).
 * Why: random bytes never pass the signature check; seeds that do let the
 * fuzzer start from the decoder's accepting paths.
 * Usage: gen_reports DIR (tests/fuzz/make-corpus builds and runs it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alliance/report.h"
#include "fuzz.h"

static void put(const char *dir, const char *name, uint8_t mode, const uint8_t *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL);
	fputc(mode, f);
	FUZZ_CHECK(fwrite(p, 1, n, f) == n);
	FUZZ_CHECK(fclose(f) == 0);
}

static void one(struct report *r, uint64_t seq, const char *addr, enum report_action action, const char *line)
{
	memset(r, 0, sizeof(*r));
	r->seq = seq;
	r->time_us = 1795737600000000LL + (int64_t)seq * 1000000;
	r->action = action;
	FUZZ_CHECK(addr_parse_cidr(addr, &r->addr) == 0);
	snprintf(r->scenario, sizeof(r->scenario), "sshd");
	r->duration_s = action == REPORT_SANCTION ? 600 : 0;
	r->attempts = action == REPORT_SANCTION ? 5 : 0;
	r->first_seen_us = r->time_us - 60000000;
	r->last_seen_us = r->time_us;
	if (line) {
		r->nlines = 1;
		snprintf(r->lines[0], sizeof(r->lines[0]), "%s", line);
	}
}

static void write_batch(const char *dir, const char *name, const struct report_batch *b)
{
	static uint8_t msg[REPORT_MAX_MESSAGE];
	size_t len;
	char err[256], file[128];
	if (report_encode(b, fuzz_signer(), msg, sizeof(msg), &len, err, sizeof(err)) != 0)
		fuzz_fail(__FILE__, __LINE__, err);
	snprintf(file, sizeof(file), "%s-signed", name);
	put(dir, file, 0, msg, len);
	snprintf(file, sizeof(file), "%s-payload", name);
	put(dir, file, 1, msg + SIGNER_SIGNATURE_BYTES, len - SIGNER_SIGNATURE_BYTES);
}

int main(int argc, char **argv)
{
	static struct report_batch b;
	if (argc != 2) {
		fprintf(stderr, "usage: gen_reports DIR\n");
		return 64;
	}
	snprintf(b.alliance, sizeof(b.alliance), "acme");
	snprintf(b.member, sizeof(b.member), "alice");
	b.treaty_version = 7;
	b.n = 1;
	one(&b.items[0], 1, "203.0.113.66", REPORT_SANCTION,
	    "2026-11-27T00:13:10.807341+00:00 vm sshd[26202]: Failed password for root from 203.0.113.66 port 36584 ssh2");
	write_batch(argv[1], "one-sanction", &b);
	one(&b.items[0], 9, "2001:db8::/64", REPORT_LIFT, NULL);
	write_batch(argv[1], "one-lift-v6", &b);
	b.n = 3;
	one(&b.items[0], 10, "192.0.2.7", REPORT_SANCTION, "Invalid user \xc3\xa9t\xc3\xa9 from 192.0.2.7 port 22");
	one(&b.items[1], 11, "198.51.100.0/24", REPORT_SANCTION, "bad utf-8 \xff\xfe made valid");
	one(&b.items[2], 12, "192.0.2.7", REPORT_LIFT, NULL);
	b.items[1].nlines = 2;
	snprintf(b.items[1].lines[1], sizeof(b.items[1].lines[1]), "a \"quoted\" \\ line\twith\ncontrols");
	write_batch(argv[1], "three-mixed", &b);
	return 0;
}
