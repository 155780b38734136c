/* ledger_fill.c: writes N active sanctions (distinct IPv4 addresses from
 * 20.0.0.0 up, one hour each) into a new ledger, for bench/scale.
 * Usage: ledger_fill LEDGER N */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "ledger/ledger.h"

#define BATCH 10000

static struct ledger_sanction nth(long i, int64_t now)
{
	struct ledger_sanction s = {
		.scenario = "sshd", .origin = "local", .attempts = 5, .first_seen_us = now, .last_seen_us = now,
		.created_us = now, .expires_us = now + 3600LL * 1000000, .offence = 1,
	};
	s.addr.family = AF_INET;
	s.addr.prefix = 32;
	s.addr.bytes[0] = (uint8_t)(20 + (i >> 24));
	s.addr.bytes[1] = (uint8_t)(i >> 16);
	s.addr.bytes[2] = (uint8_t)(i >> 8);
	s.addr.bytes[3] = (uint8_t)i;
	return s;
}

int main(int argc, char **argv)
{
	struct ledger *l;
	char err[256];
	struct timespec ts;
	if (argc != 3) {
		fprintf(stderr, "usage: ledger_fill LEDGER N\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (ledger_open(argv[1], &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "ledger_fill: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000;
	for (long i = 0; i < n; i += BATCH) {
		if (ledger_begin(l, err, sizeof(err)) != 0)
			goto fail;
		for (long k = i; k < n && k < i + BATCH; k++) {
			struct ledger_sanction s = nth(k, now);
			if (ledger_add_sanction(l, &s, NULL, err, sizeof(err)) != 0)
				goto fail;
		}
		if (ledger_commit(l, err, sizeof(err)) != 0)
			goto fail;
	}
	ledger_close(l);
	return 0;
fail:
	fprintf(stderr, "ledger_fill: %s\n", err);
	ledger_close(l);
	return 1;
}
