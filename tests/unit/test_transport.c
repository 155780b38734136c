/* test_transport.c: the alliance transport against a real nats-server with
 * JetStream (loopback, free port, scratch store removed at the end): reports
 * arrive in order with their sender; acked ones never come back and unacked
 * ones do; a re-published seq is stored once; a member that was down, or is
 * new, catches up; the link starts with the server down; with the server
 * stopped mid-stream publishes fail fast and an outbox that re-publishes
 * loses nothing; bad ids and oversized messages are refused; the inbound
 * queue stays under its caps, in messages and in bytes; messages over the
 * size limit in a stream created by someone else are dropped unread and not
 * delivered again; other bytes under a seq already used are not taken for a
 * duplicate; the fd is readable exactly when work waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <nats/nats.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alliance/transport.h"
#include "common/log.h"
#include "../tools/natsserver.h"

#define WAIT_MS 10000        /* upper bound of any wait: polls end sooner */

static struct nats_server server;   /* shared by the tests that do not stop it */

/* ---- helpers -------------------------------------------------------------------- */

static struct transport_config config(const struct nats_server *s, const char *alliance,
				      const char *member, const char **url)
{
	*url = s->url;
	struct transport_config c = {
		.urls = url, .nurls = 1, .alliance = alliance, .member = member,
		.ack_wait_ms = 1000, .publish_timeout_ms = 1000, .reconnect_wait_ms = 100,
	};
	return c;
}

static int wait_ready(struct transport *t, long long ms)
{
	struct transport_status st;
	for (long long end = ns_now_ms() + ms; ns_now_ms() < end; usleep(5000)) {
		transport_status(t, &st);
		if (st.ready)
			return 0;
	}
	return -1;
}

static struct transport *open_ready(const struct transport_config *c)
{
	struct transport *t = NULL;
	char err[256];
	if (transport_open(c, &t, err, sizeof(err)) != 0)
		fail_msg("transport_open: %s", err);
	assert_int_equal(wait_ready(t, WAIT_MS), 0);
	return t;
}

static struct transport *member(const char *alliance, const char *id)
{
	const char *url;
	struct transport_config c = config(&server, alliance, id, &url);
	return open_ready(&c);
}

static bool readable(const struct transport *t, int ms)
{
	struct pollfd p = {.fd = transport_fd(t), .events = POLLIN};
	return poll(&p, 1, ms) == 1;
}

static void publish(struct transport *t, uint64_t seq)
{
	char body[32], err[256];
	int n = snprintf(body, sizeof(body), "report %llu", (unsigned long long)seq);
	if (transport_publish(t, seq, body, (size_t)n, err, sizeof(err)) != 0)
		fail_msg("publish %llu: %s", (unsigned long long)seq, err);
}

static uint64_t seq_in(const struct transport_msg *m)
{
	char body[32];
	snprintf(body, sizeof(body), "%.*s", (int)m->len, (const char *)m->data);
	return strtoull(body + 7, NULL, 10);
}

/* Waits for n acks, all ok; returns how many were duplicates. */
static size_t expect_acks(struct transport *t, size_t n)
{
	struct transport_ack acks[64];
	size_t got = 0, dups = 0;
	for (long long end = ns_now_ms() + WAIT_MS; got < n && ns_now_ms() < end;) {
		readable(t, 50);
		size_t k = transport_take_acks(t, acks, 64);
		for (size_t i = 0; i < k; i++) {
			if (!acks[i].ok)
				fail_msg("publish %llu failed: %s", (unsigned long long)acks[i].seq, acks[i].error);
			dups += acks[i].duplicate;
		}
		got += k;
	}
	assert_int_equal(got, n);
	return dups;
}

/* Takes messages until n are in out or ms pass; returns how many. */
static size_t take(struct transport *t, struct transport_msg **out, size_t n, long long ms)
{
	size_t got = 0;
	for (long long end = ns_now_ms() + ms; got < n && ns_now_ms() < end;) {
		readable(t, 20);
		got += transport_take_messages(t, out + got, n - got);
	}
	return got;
}

static void ack_all(struct transport *t, struct transport_msg **m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		transport_ack(t, m[i]);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_refused_ids(void **state)
{
	(void)state;
	const char *bad[] = {"", "a.b", "a b", "a*", "a>", "é",
			     "0123456789012345678901234567890123456789012345678901234567890123x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *url;
		char err[256] = "";
		struct transport *t = (struct transport *)1;
		struct transport_config c = config(&server, "ids", bad[i], &url);
		assert_int_equal(transport_open(&c, &t, err, sizeof(err)), -1);
		assert_null(t);
		assert_non_null(strstr(err, "member id"));
		c = config(&server, bad[i], "A", &url);
		assert_int_equal(transport_open(&c, &t, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "alliance id"));
	}
	assert_int_equal(transport_valid_id("0123456789012345678901234567890123456789012345678901234567890123"), 0);
	assert_int_equal(transport_valid_id("web-1_eu"), 0);
	const char *url;
	char err[256];
	struct transport *t;
	struct transport_config c = config(&server, "ids", "A", &url);
	c.nurls = 0;
	assert_int_equal(transport_open(&c, &t, err, sizeof(err)), -1);
}

static void test_oversized_refused(void **state)
{
	(void)state;
	const char *url;
	struct transport_config c = config(&server, "size", "A", &url);
	c.max_msg_size = 100;
	struct transport *a = open_ready(&c);
	char big[101] = {0}, err[256];
	assert_int_equal(transport_publish(a, 1, big, sizeof(big), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "limit"));
	assert_int_equal(transport_publish(a, 2, big, 100, err, sizeof(err)), 0);
	expect_acks(a, 1);
	transport_close(a);
}

/* N reports from A reach B in order, with sender A; A gets its own too. */
static void test_in_order_with_sender(void **state)
{
	(void)state;
	enum { N = 500 };
	struct transport *a = member("order", "A"), *b = member("order", "B");
	assert_false(readable(b, 0));
	for (uint64_t s = 1; s <= N; s++)
		publish(a, s);
	assert_int_equal(expect_acks(a, N), 0);
	static struct transport_msg *m[N];
	assert_int_equal(take(b, m, N, WAIT_MS), N);
	for (size_t i = 0; i < N; i++) {
		assert_string_equal(m[i]->sender, "A");
		assert_string_equal(m[i]->subject, "pacto.order.reports.A");
		assert_int_equal(seq_in(m[i]), i + 1);
		assert_int_equal(m[i]->stream_seq, i + 1);
		assert_false(m[i]->redelivered);
	}
	ack_all(b, m, N);
	assert_false(readable(b, 0));   /* drained: the fd is quiet again */
	assert_int_equal(take(a, m, N, WAIT_MS), N);
	assert_string_equal(m[0]->sender, "A");
	ack_all(a, m, N);
	struct transport_status st;
	transport_status(b, &st);
	assert_true(st.connected);
	assert_string_equal(st.server, server.url);
	assert_int_equal(st.received, N);
	assert_int_equal(st.inbound_held, 0);
	transport_status(a, &st);
	assert_int_equal(st.published, N);
	assert_int_equal(st.acked, N);
	assert_int_equal(st.in_flight, 0);
	transport_close(a);
	transport_close(b);
}

/* Acked messages never come back to the durable; released ones do, marked. */
static void test_acked_gone_unacked_redelivered(void **state)
{
	(void)state;
	struct transport *a = member("redeliver", "A"), *b = member("redeliver", "B");
	for (uint64_t s = 1; s <= 10; s++)
		publish(a, s);
	expect_acks(a, 10);
	struct transport_msg *m[16];
	assert_int_equal(take(b, m, 10, WAIT_MS), 10);
	for (size_t i = 0; i < 10; i++) {
		if (seq_in(m[i]) <= 5)
			transport_ack(b, m[i]);
		else
			transport_release(b, m[i]);
	}
	transport_close(b);

	b = member("redeliver", "B");   /* after its ack wait (1 s), the unacked come again */
	size_t n = take(b, m, 5, 2500);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(seq_in(m[i]), 6 + i);
		assert_true(m[i]->redelivered);
		assert_true(m[i]->deliveries >= 2);
	}
	ack_all(b, m, n);
	assert_int_equal(take(b, m, 1, 500), 0);   /* and 1..5 never */
	transport_close(b);
	transport_close(a);
}

/* A message not acked while the consumer stays up is redelivered after ack_wait. */
static void test_redelivered_after_ack_wait(void **state)
{
	(void)state;
	struct transport *a = member("ackwait", "A"), *b = member("ackwait", "B");
	publish(a, 1);
	expect_acks(a, 1);
	struct transport_msg *m[2];
	assert_int_equal(take(b, m, 1, WAIT_MS), 1);
	long long t0 = ns_now_ms();
	transport_release(b, m[0]);
	assert_int_equal(take(b, m, 1, 3000), 1);
	assert_true(ns_now_ms() - t0 >= 800);
	assert_true(m[0]->redelivered);
	transport_ack(b, m[0]);
	transport_close(a);
	transport_close(b);
}

/* The same seq published twice is stored once (Nats-Msg-Id). */
static void test_same_seq_deduplicated(void **state)
{
	(void)state;
	struct transport *a = member("dedup", "A"), *b = member("dedup", "B");
	publish(a, 7);
	assert_int_equal(expect_acks(a, 1), 0);
	publish(a, 7);
	assert_int_equal(expect_acks(a, 1), 1);
	publish(a, 8);
	expect_acks(a, 1);
	struct transport_msg *m[4];
	assert_int_equal(take(b, m, 2, WAIT_MS), 2);
	assert_int_equal(seq_in(m[0]), 7);
	assert_int_equal(seq_in(m[1]), 8);
	ack_all(b, m, 2);
	assert_int_equal(take(b, m, 1, 500), 0);   /* (under the 1 s ack wait) */
	struct transport_status st;
	transport_status(a, &st);
	assert_int_equal(st.duplicates, 1);
	transport_close(a);
	transport_close(b);
}

/* A member down while others publish catches up; so does a brand new member. */
static void test_catch_up(void **state)
{
	(void)state;
	enum { N = 50 };
	transport_close(member("catchup", "C"));   /* C's durable exists, C goes down */
	struct transport *a = member("catchup", "A");
	for (uint64_t s = 1; s <= N; s++)
		publish(a, s);
	expect_acks(a, N);
	const char *who[] = {"C", "D"};
	for (size_t w = 0; w < 2; w++) {
		struct transport *c = member("catchup", who[w]);
		struct transport_msg *m[N + 1];
		assert_int_equal(take(c, m, N, WAIT_MS), N);
		for (size_t i = 0; i < N; i++)
			assert_int_equal(seq_in(m[i]), i + 1);
		ack_all(c, m, N);
		assert_int_equal(take(c, m, 1, 300), 0);
		transport_close(c);
	}
	transport_close(a);
}

/* Held messages (queued + taken) never exceed max_inbound; fetching resumes
 * when the caller gives them back. */
static void test_bounded_inbound(void **state)
{
	(void)state;
	enum { N = 50, CAP = 8 };
	const char *url;
	struct transport_config c = config(&server, "bounded", "B", &url);
	c.max_inbound = CAP;
	/* Messages wait here on purpose (100 ms a batch, longer on a loaded
	 * machine): with the 1 s ack wait, JetStream redelivered one before
	 * its ack came (seen in a fresh-clone run beside other tests), which
	 * is not what this test is about. */
	c.ack_wait_ms = WAIT_MS;
	struct transport *b = open_ready(&c), *a = member("bounded", "A");
	for (uint64_t s = 1; s <= N; s++)
		publish(a, s);
	expect_acks(a, N);
	uint64_t next = 1;
	while (next <= N) {
		struct transport_msg *m[N];
		size_t want = N - next + 1 < CAP ? N - next + 1 : CAP;
		size_t n = take(b, m, want, WAIT_MS);
		assert_int_equal(n, want);
		usleep(100000);   /* room for the worker to (wrongly) fetch more */
		struct transport_status st;
		transport_status(b, &st);
		assert_true(st.inbound_held <= CAP);
		if (n == CAP)
			assert_int_equal(transport_take_messages(b, m + n, 1), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(seq_in(m[i]), next++);
		ack_all(b, m, n);
	}
	transport_close(a);
	transport_close(b);
}

/* The same seq with other bytes is other content (the daemon re-batches its
 * outbox after a failed publish: seq is the batch's last report): it must
 * be stored and delivered, not acked as a duplicate and lost. */
static void test_same_seq_other_bytes_stored(void **state)
{
	(void)state;
	struct transport *a = member("rebatch", "A"), *b = member("rebatch", "B");
	char err[256];
	assert_int_equal(transport_publish(a, 5, "report 4", 8, err, sizeof(err)), 0);
	assert_int_equal(expect_acks(a, 1), 0);
	assert_int_equal(transport_publish(a, 5, "report 5", 8, err, sizeof(err)), 0);
	assert_int_equal(expect_acks(a, 1), 0);   /* not a duplicate */
	struct transport_msg *m[4];
	assert_int_equal(take(b, m, 2, WAIT_MS), 2);
	assert_int_equal(seq_in(m[0]), 4);
	assert_int_equal(seq_in(m[1]), 5);
	ack_all(b, m, 2);
	transport_close(a);
	transport_close(b);
}

/* A raw nats.c connection to the test server, as another tool would use. */
struct raw {
	natsConnection *nc;
	jsCtx *js;
};

static void raw_open(struct raw *r)
{
	assert_int_equal(natsConnection_ConnectTo(&r->nc, server.url), NATS_OK);
	assert_int_equal(natsConnection_JetStream(&r->js, r->nc, NULL), NATS_OK);
}

static void raw_close(struct raw *r)
{
	jsCtx_Destroy(r->js);
	natsConnection_Destroy(r->nc);
}

/* Creates PACTO_<alliance> as someone else would: without MaxMsgSize. */
static void raw_stream(struct raw *r, const char *alliance)
{
	char name[64], subject[96];
	snprintf(name, sizeof(name), "PACTO_%s", alliance);
	snprintf(subject, sizeof(subject), "pacto.%s.reports.>", alliance);
	const char *subjects[] = {subject};
	jsStreamConfig sc;
	jsStreamConfig_Init(&sc);
	sc.Name = name;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	assert_int_equal(js_AddStream(NULL, r->js, &sc, NULL, NULL), NATS_OK);
}

static void raw_publish(struct raw *r, const char *subject, const void *data, size_t len)
{
	assert_int_equal(js_Publish(NULL, r->js, subject, data, (int)len, NULL, NULL), NATS_OK);
}

/* Runs while stderr goes to a file, to read what the transport logged. */
struct captured {
	char path[300];
	int saved;
};

static void capture_start(struct captured *c)
{
	snprintf(c->path, sizeof(c->path), "%s/captured.log", server.dir);
	fflush(stderr);
	c->saved = dup(2);
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && c->saved >= 0);
	dup2(fd, 2);
	close(fd);
	log_set_level(LOG_LEVEL_WARN);
}

/* Stops capturing; returns what was written (static buffer). */
static const char *capture_stop(struct captured *c)
{
	static char text[8192];
	log_set_level(LOG_LEVEL_ERROR);
	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	FILE *f = fopen(c->path, "r");
	size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	fputs(text, stderr);   /* still shown */
	return text;
}

/* A stream created without MaxMsgSize holds 1 MB messages between members'
 * reports: they are never handed over (nor held: the transport would hold
 * up to max_inbound of them), they are terminated, not delivered again,
 * and counted; the reports all come, in order; the stream is warned about. */
static void test_oversized_inbound_dropped(void **state)
{
	(void)state;
	enum { N = 20, BIG = 1000 * 1000 };
	struct raw r;
	raw_open(&r);
	raw_stream(&r, "big");
	char *big = malloc(BIG);
	assert_non_null(big);
	memset(big, 'x', BIG);
	for (uint64_t s = 1; s <= N; s++) {
		char body[32];
		int n = snprintf(body, sizeof(body), "report %llu", (unsigned long long)s);
		raw_publish(&r, "pacto.big.reports.A", body, (size_t)n);
		raw_publish(&r, "pacto.big.reports.M", big, BIG);
	}
	free(big);
	raw_close(&r);

	/* Nothing may fail while stderr is captured: the failure would not be shown. */
	struct captured cap;
	capture_start(&cap);
	const char *url;
	struct transport_config c = config(&server, "big", "B", &url);
	struct transport *b = NULL;
	char err[256];
	struct transport_msg *m[2 * N];
	size_t got = 0;
	if (transport_open(&c, &b, err, sizeof(err)) == 0 && wait_ready(b, WAIT_MS) == 0)
		got = take(b, m, N, WAIT_MS);
	const char *log = capture_stop(&cap);
	assert_non_null(b);
	for (size_t i = 0; i < got; i++)
		assert_true(m[i]->len <= 64 * 1024);
	assert_int_equal(got, N);
	for (size_t i = 0; i < N; i++) {
		assert_string_equal(m[i]->sender, "A");
		assert_int_equal(seq_in(m[i]), i + 1);
	}
	ack_all(b, m, N);
	assert_int_equal(take(b, m, 1, 1500), 0);   /* past the 1 s ack wait: none again */
	struct transport_status st;
	transport_status(b, &st);
	assert_int_equal(st.oversized, N);
	assert_int_equal(st.received, N);
	assert_int_equal(st.inbound_bytes, 0);
	transport_close(b);
	assert_non_null(strstr(log, "stream PACTO_big takes messages of any size"));
	assert_non_null(strstr(log, "nats stream edit PACTO_big --max-msg-size=66048"));
	assert_non_null(strstr(log, "message of 1000000 bytes from M (stream seq 2) dropped"));
}

/* Held payload stays under max_inbound_bytes: with room for four messages
 * of 60 kB, the fifth comes only once one is given back, and all come. */
static void test_bounded_inbound_bytes(void **state)
{
	(void)state;
	enum { N = 12, SIZE = 60000, CAP = 256 * 1024 };
	const char *url;
	struct transport_config c = config(&server, "bytes", "B", &url);
	c.max_inbound_bytes = CAP;
	c.ack_wait_ms = WAIT_MS;   /* no redelivery while messages wait on purpose */
	struct transport *b = open_ready(&c), *a = member("bytes", "A");
	char *body = calloc(1, SIZE), err[256];
	assert_non_null(body);
	for (uint64_t s = 1; s <= N; s++) {
		snprintf(body, SIZE, "report %llu", (unsigned long long)s);
		assert_int_equal(transport_publish(a, s, body, SIZE, err, sizeof(err)), 0);
	}
	free(body);
	expect_acks(a, N);
	uint64_t next = 1;
	while (next <= N) {
		struct transport_msg *m[N];
		size_t n = take(b, m, 1, WAIT_MS);
		assert_int_equal(n, 1);
		usleep(100000);   /* room for the worker to (wrongly) fetch more */
		n += transport_take_messages(b, m + 1, N - 1);
		struct transport_status st;
		transport_status(b, &st);
		assert_true(st.inbound_bytes <= CAP);
		assert_true(n <= CAP / SIZE);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(seq_in(m[i]), next++);
		ack_all(b, m, n);
	}
	transport_close(a);
	transport_close(b);
}

/* The link opens with no server, refuses publishes at once, and becomes ready
 * when the server comes. */
static void test_start_while_down(void **state)
{
	struct nats_server *s = *state;
	const char *url;
	struct transport_config c = config(s, "down", "A", &url);
	struct transport *a = NULL;
	char err[256];
	assert_int_equal(transport_open(&c, &a, err, sizeof(err)), 0);
	struct transport_status st;
	transport_status(a, &st);
	assert_false(st.connected);
	long long t0 = ns_now_ms();
	assert_int_equal(transport_publish(a, 1, "x", 1, err, sizeof(err)), -1);
	assert_true(ns_now_ms() - t0 < 50);
	assert_non_null(strstr(err, "not connected"));
	assert_int_equal(ns_start(s), 0);
	assert_int_equal(wait_ready(a, WAIT_MS), 0);
	publish(a, 1);
	expect_acks(a, 1);
	transport_close(a);
}

/* Outbox states for the outage test. */
enum { TODO, SENT, DONE };

struct outbox {
	unsigned char *state;
	uint64_t n, done, refused, failed;
	long long slowest_ms;
};

/* Publishes the lowest unsent seq; a refusal leaves it for later. */
static void outbox_send(struct transport *a, struct outbox *o)
{
	for (uint64_t s = 1; s <= o->n; s++) {
		if (o->state[s] != TODO)
			continue;
		char body[32], err[256];
		int len = snprintf(body, sizeof(body), "report %llu", (unsigned long long)s);
		long long t0 = ns_now_ms();
		int rc = transport_publish(a, s, body, (size_t)len, err, sizeof(err));
		long long spent = ns_now_ms() - t0;
		if (spent > o->slowest_ms)
			o->slowest_ms = spent;
		if (rc == 0)
			o->state[s] = SENT;
		else
			o->refused++;
		return;
	}
}

static void outbox_acks(struct transport *a, struct outbox *o)
{
	struct transport_ack acks[64];
	size_t k = transport_take_acks(a, acks, 64);
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(o->state[acks[i].seq], SENT);
		o->state[acks[i].seq] = acks[i].ok ? DONE : TODO;
		o->done += acks[i].ok;
		o->failed += !acks[i].ok;
	}
}

/* The server stops for 2 s while A publishes: calls never block, what was not
 * acked is reported, the outbox re-publishes after the restart, and B gets
 * every report. */
static void test_server_outage(void **state)
{
	enum { N = 400 };
	struct nats_server *s = *state;
	assert_int_equal(ns_start(s), 0);
	const char *url;
	struct transport_config c = config(s, "outage", "A", &url);
	struct transport *a = open_ready(&c);
	c.member = "B";
	struct transport *b = open_ready(&c);
	unsigned char st[N + 1] = {0};
	struct outbox o = {.state = st, .n = N};
	long long stopped = 0;
	for (long long end = ns_now_ms() + 4 * WAIT_MS; o.done < N && ns_now_ms() < end;) {
		outbox_send(a, &o);   /* about one a millisecond, so the outage falls mid-stream */
		usleep(1000);
		outbox_acks(a, &o);
		struct transport_msg *own[64];   /* A's own reports come back: ack them */
		ack_all(a, own, transport_take_messages(a, own, 64));
		if (!stopped && o.done >= N / 4) {
			ns_stop(s, SIGTERM);
			stopped = ns_now_ms();
		}
		if (stopped && s->pid == 0 && ns_now_ms() - stopped > 2000)
			assert_int_equal(ns_start(s), 0);
	}
	assert_int_equal(o.done, N);
	fprintf(stderr, "# outage: refused %llu failed %llu slowest %lld ms\n", (unsigned long long)o.refused, (unsigned long long)o.failed, o.slowest_ms);
	assert_true(o.refused + o.failed > 0);
	assert_true(o.slowest_ms < 100);
	struct transport_status sa;
	transport_status(a, &sa);
	assert_true(sa.reconnects >= 1);

	static bool seen[N + 1];
	size_t distinct = 0;
	for (long long end = ns_now_ms() + WAIT_MS; distinct < N && ns_now_ms() < end;) {
		struct transport_msg *m[64];
		size_t k = take(b, m, 64, 50);
		for (size_t i = 0; i < k; i++) {
			uint64_t q = seq_in(m[i]);
			assert_true(q >= 1 && q <= N);
			distinct += !seen[q];
			seen[q] = true;
		}
		ack_all(b, m, k);
	}
	assert_int_equal(distinct, N);
	transport_close(a);
	transport_close(b);
}

/* A server of the test's own (not started), stopped and removed afterwards. */
static int own_server(void **state)
{
	struct nats_server *s = calloc(1, sizeof(*s));
	*state = s;
	return s && ns_init(s) == 0 ? 0 : -1;
}

static int own_server_gone(void **state)
{
	ns_destroy(*state);
	free(*state);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	log_init("test_transport", LOG_LEVEL_ERROR);
	if (ns_init(&server) != 0 || ns_start(&server) != 0) {
		fprintf(stderr, "cannot start nats-server (log in %s)\n", server.dir);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	ns_destroy(&server);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_ids),
		cmocka_unit_test(test_oversized_refused),
		cmocka_unit_test(test_in_order_with_sender),
		cmocka_unit_test(test_acked_gone_unacked_redelivered),
		cmocka_unit_test(test_redelivered_after_ack_wait),
		cmocka_unit_test(test_same_seq_deduplicated),
		cmocka_unit_test(test_catch_up),
		cmocka_unit_test(test_bounded_inbound),
		cmocka_unit_test(test_same_seq_other_bytes_stored),
		cmocka_unit_test(test_oversized_inbound_dropped),
		cmocka_unit_test(test_bounded_inbound_bytes),
		cmocka_unit_test_setup_teardown(test_start_while_down, own_server, own_server_gone),
		cmocka_unit_test_setup_teardown(test_server_outage, own_server, own_server_gone),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
