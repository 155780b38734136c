/* bench/transport.c: how fast the alliance transport moves reports on loopback.
 * Why: the design promises allies sanction an aggressor within milliseconds
 * of the first member; this measures the broker leg of that path with the
 * module's own settings, against a real nats-server it starts and removes.
 *   bench_transport [-r RATE] [-d SECONDS] [-n COUNT] [-s SIZE]
 * Prints: one-way publish -> take latency p50/p99/max at RATE msg/s for
 * SECONDS (one process, one event loop, like pactod); then async publish
 * throughput (COUNT messages until all acked) and the catch-up rate of a
 * member that consumes that backlog. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alliance/transport.h"
#include "common/log.h"
#include "../tests/tools/natsserver.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct transport *open_member(const char *url, const char *alliance, const char *member,
				     size_t in_flight)
{
	struct transport_config c = {.urls = &url, .nurls = 1, .alliance = alliance,
				     .member = member, .max_in_flight = in_flight, .max_inbound = 4096};
	struct transport *t = NULL;
	char err[256];
	if (transport_open(&c, &t, err, sizeof(err)) != 0)
		fatalx("%s", err);
	struct transport_status st;
	for (int i = 0; i < 1000; i++, usleep(10000)) {
		transport_status(t, &st);
		if (st.ready)
			return t;
	}
	fatalx("%s not ready after 10 s", member);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Acks and own messages are taken and dropped: we only count. */
static size_t drain(struct transport *t)
{
	struct transport_ack acks[256];
	size_t n = 0, k;
	while ((k = transport_take_acks(t, acks, 256)) > 0)
		for (size_t i = 0; i < k; i++)
			n += acks[i].ok;
	struct transport_msg *m[256];
	while ((k = transport_take_messages(t, m, 256)) > 0)
		for (size_t i = 0; i < k; i++)
			transport_ack(t, m[i]);
	return n;
}

/* Takes from the receiver, recording now - the send time in each payload. */
static void receive(struct transport *b, uint64_t *lat, size_t *nlat, size_t cap)
{
	struct transport_msg *m[256];
	size_t k;
	while ((k = transport_take_messages(b, m, 256)) > 0)
		for (size_t i = 0; i < k; i++) {
			uint64_t sent;
			memcpy(&sent, m[i]->data, sizeof(sent));
			if (*nlat < cap)
				lat[(*nlat)++] = now_ns() - sent;
			transport_ack(b, m[i]);
		}
}

static void latency(const char *url, unsigned rate, unsigned secs, size_t size)
{
	struct transport *a = open_member(url, "latency", "A", 1024);
	struct transport *b = open_member(url, "latency", "B", 1024);
	size_t total = (size_t)rate * secs, nlat = 0;
	uint64_t *lat = calloc(total, sizeof(*lat));
	char *body = calloc(1, size);
	uint64_t start = now_ns(), period = 1000000000u / rate;
	for (size_t sent = 0; nlat < total;) {
		uint64_t now = now_ns();
		if (sent < total && now >= start + sent * period) {
			memcpy(body, &now, sizeof(now));
			char err[256];
			if (transport_publish(a, sent + 1, body, size, err, sizeof(err)) == 0)
				sent++;
		}
		struct pollfd p[2] = {{.fd = transport_fd(a), .events = POLLIN},
				      {.fd = transport_fd(b), .events = POLLIN}};
		/* Sleep until the next send or a readable fd, as pactod's loop would. */
		uint64_t next = start + sent * period, t = now_ns();
		struct timespec wait = {0, sent < total && next > t ? (long)(next - t) : 1000000};
		ppoll(p, 2, &wait, NULL);
		drain(a);
		receive(b, lat, &nlat, total);
		if (now_ns() - start > (uint64_t)(secs + 10) * 1000000000u)
			break;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	if (nlat)
		printf("latency: %zu msgs of %zu B at %u msg/s: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		       nlat, size, rate, lat[nlat / 2] / 1e6, lat[nlat * 99 / 100] / 1e6, lat[nlat - 1] / 1e6);
	free(lat);
	free(body);
	transport_close(a);
	transport_close(b);
}

static void throughput(const char *url, size_t count, size_t size)
{
	struct transport *a = open_member(url, "throughput", "A", 4096);
	char *body = calloc(1, size);
	size_t acked = 0, sent = 0;
	uint64_t start = now_ns();
	while (acked < count) {
		char err[256];
		while (sent < count && transport_publish(a, sent + 1, body, size, err, sizeof(err)) == 0)
			sent++;
		struct pollfd p = {.fd = transport_fd(a), .events = POLLIN};
		poll(&p, 1, 10);
		acked += drain(a);
	}
	double s = (now_ns() - start) / 1e9;
	printf("publish: %zu msgs of %zu B acked in %.2f s: %.0f msg/s (in flight <= 4096)\n",
	       count, size, s, count / s);
	struct transport *b = open_member(url, "throughput", "B", 16);
	size_t got = 0;
	start = now_ns();
	while (got < count) {
		struct pollfd p = {.fd = transport_fd(b), .events = POLLIN};
		poll(&p, 1, 10);
		struct transport_msg *m[256];
		size_t k;
		while ((k = transport_take_messages(b, m, 256)) > 0)
			for (size_t i = 0; i < k; i++, got++)
				transport_ack(b, m[i]);
	}
	s = (now_ns() - start) / 1e9;
	printf("catch-up: %zu msgs taken and acked in %.2f s: %.0f msg/s\n", count, s, count / s);
	free(body);
	transport_close(b);
	transport_close(a);
}

int main(int argc, char **argv)
{
	unsigned rate = 1000, secs = 5;
	size_t count = 50000, size = 200;
	int c;
	while ((c = getopt(argc, argv, "r:d:n:s:")) != -1) {
		switch (c) {
		case 'r': rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'd': secs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 's': size = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bench_transport [-r RATE] [-d SECONDS] [-n COUNT] [-s SIZE]\n");
			return 64;
		}
	}
	if (!rate || !secs || !count || size < sizeof(uint64_t))
		return 64;
	log_init("bench_transport", LOG_LEVEL_WARN);
	struct nats_server s;
	if (ns_init(&s) != 0 || ns_start(&s) != 0)
		fatalx("cannot start nats-server");
	latency(s.url, rate, secs, size);
	throughput(s.url, count, size);
	ns_destroy(&s);
	return 0;
}
