/* natsprobe.c: drives the alliance transport from shell tests.
 * Why: the cluster test (tests/integration/test_nats_cluster.sh) needs a
 * publisher with an outbox, a consumer that checks completeness, the name of
 * the stream leader to kill, and free ports, all through the real module.
 *   natsprobe ports N                         N free loopback TCP ports
 *   natsprobe pub -u URLS -a ALLIANCE -m MEMBER -n COUNT [-r RATE] [-R REPLICAS]
 *             [-t SECONDS] [-p PROGRESS_FILE]  publish 1..COUNT until all acked
 *   natsprobe sub -u URLS -a ALLIANCE -m MEMBER -n COUNT [-R REPLICAS] [-t SECONDS]
 *                                             receive and ack until 1..COUNT all seen
 *   natsprobe leader -u URLS -a ALLIANCE      server name of the stream leader
 *   natsprobe fill -u URLS -a ALLIANCE -m SENDER -n COUNT -s SIZE
 *                                             create the stream as someone else
 *                                             would (no message size limit) and
 *                                             store COUNT messages of SIZE bytes
 *   natsprobe pending -u URLS -a ALLIANCE -m MEMBER
 *                                             "NOT_DELIVERED ACK_PENDING" of MEMBER's consumer
 *   natsprobe limit -u URLS -a ALLIANCE -s SIZE
 *                                             the stream's largest message: SIZE bytes (created
 *                                             so if absent): larger publishes are refused
 * URLS is comma-separated. Exit 0 on success, 1 on failure or timeout, 64 on usage.
 * leader, fill, pending and limit use nats.c directly: they do what the module
 * never does (an operator's or an intruder's view of the stream). */
#include <getopt.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alliance/transport.h"
#include "common/log.h"
#include "natsserver.h"

#define MAX_URLS 8

struct probe {
	const char *urls[MAX_URLS];
	size_t nurls;
	char urlbuf[1024];
	const char *alliance, *member, *progress;
	uint64_t count;
	unsigned rate, replicas, timeout_s;
	size_t size;
};

static int usage(void)
{
	fprintf(stderr, "usage: natsprobe ports N | pub|sub|leader|fill|pending|limit -u URLS -a ALLIANCE [-m MEMBER] "
			"[-n COUNT] [-s SIZE] [-r RATE] [-R REPLICAS] [-t SECONDS] [-p FILE]\n");
	return 64;
}

static void split_urls(struct probe *p, const char *arg)
{
	snprintf(p->urlbuf, sizeof(p->urlbuf), "%s", arg);
	char *save = NULL;
	for (char *u = strtok_r(p->urlbuf, ",", &save); u && p->nurls < MAX_URLS; u = strtok_r(NULL, ",", &save))
		p->urls[p->nurls++] = u;
}

static int parse(struct probe *p, int argc, char **argv)
{
	*p = (struct probe){.member = "probe", .rate = 500, .replicas = 1, .timeout_s = 60};
	int c;
	while ((c = getopt(argc, argv, "u:a:m:n:s:r:R:t:p:")) != -1) {
		switch (c) {
		case 'u': split_urls(p, optarg); break;
		case 'a': p->alliance = optarg; break;
		case 'm': p->member = optarg; break;
		case 'n': p->count = strtoull(optarg, NULL, 10); break;
		case 's': p->size = strtoull(optarg, NULL, 10); break;
		case 'r': p->rate = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'R': p->replicas = (unsigned)strtoul(optarg, NULL, 10); break;
		case 't': p->timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'p': p->progress = optarg; break;
		default: return -1;
		}
	}
	return p->nurls && p->alliance && p->rate ? 0 : -1;
}

static struct transport *open_link(const struct probe *p)
{
	struct transport_config c = {
		.urls = p->urls, .nurls = p->nurls, .alliance = p->alliance, .member = p->member,
		.replicas = p->replicas, .ack_wait_ms = 2000, .publish_timeout_ms = 2000,
		.reconnect_wait_ms = 200,
	};
	struct transport *t = NULL;
	char err[256];
	if (transport_open(&c, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "natsprobe: %s\n", err);
		return NULL;
	}
	return t;
}

static void write_progress(const char *path, uint64_t done)
{
	if (!path)
		return;
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%" PRIu64 "\n", done);
	fclose(f);
	rename(tmp, path);
}

/* Outbox: 0 to send, 1 in flight, 2 acked. Sends at p->rate per second. */
static int cmd_pub(const struct probe *p)
{
	struct transport *t = open_link(p);
	unsigned char *state = calloc(p->count + 1, 1);
	if (!t || !state)
		return 1;
	uint64_t done = 0, refused = 0, failed = 0, next = 1;
	long long start = ns_now_ms(), end = start + p->timeout_s * 1000LL;
	double due = (double)start, period = 1000.0 / p->rate;   /* ms of the next send */
	while (done < p->count && ns_now_ms() < end) {
		long long now = ns_now_ms();
		if (due < now - 10)
			due = (double)now - 10;   /* refused a while: resume the rate, no burst */
		for (; due <= now; due += period) {
			while (next <= p->count && state[next] != 0)
				next++;
			if (next > p->count)
				break;
			char body[32], err[256];
			int len = snprintf(body, sizeof(body), "report %" PRIu64, next);
			if (transport_publish(t, next, body, (size_t)len, err, sizeof(err)) != 0) {
				refused++;
				break;
			}
			state[next] = 1;
		}
		struct pollfd pfd = {.fd = transport_fd(t), .events = POLLIN};
		poll(&pfd, 1, 1);
		struct transport_ack acks[256];
		size_t k = transport_take_acks(t, acks, 256);
		for (size_t i = 0; i < k; i++) {
			state[acks[i].seq] = acks[i].ok ? 2 : 0;
			done += acks[i].ok;
			failed += !acks[i].ok;
			if (!acks[i].ok && acks[i].seq < next)
				next = acks[i].seq;
		}
		struct transport_msg *own[256];   /* our own reports come back: ack them away */
		size_t n = transport_take_messages(t, own, 256);
		for (size_t i = 0; i < n; i++)
			transport_ack(t, own[i]);
		write_progress(p->progress, done);
	}
	struct transport_status st;
	transport_status(t, &st);
	printf("pub: acked %" PRIu64 "/%" PRIu64 " refused %" PRIu64 " failed %" PRIu64
	       " reconnects %" PRIu64 " in %lld ms\n", done, p->count, refused, failed,
	       st.reconnects, ns_now_ms() - start);
	transport_close(t);
	free(state);
	return done == p->count ? 0 : 1;
}

static int cmd_sub(const struct probe *p)
{
	struct transport *t = open_link(p);
	bool *seen = calloc(p->count + 1, sizeof(*seen));
	if (!t || !seen)
		return 1;
	uint64_t distinct = 0, total = 0, redelivered = 0, foreign = 0;
	long long start = ns_now_ms(), end = start + p->timeout_s * 1000LL;
	while (distinct < p->count && ns_now_ms() < end) {
		struct pollfd pfd = {.fd = transport_fd(t), .events = POLLIN};
		poll(&pfd, 1, 50);
		struct transport_msg *m[256];
		size_t n = transport_take_messages(t, m, 256);
		for (size_t i = 0; i < n; i++) {
			char body[32];
			snprintf(body, sizeof(body), "%.*s", (int)m[i]->len, (const char *)m[i]->data);
			uint64_t q = strtoull(body + 7, NULL, 10);
			total++;
			redelivered += m[i]->redelivered;
			if (q >= 1 && q <= p->count && !seen[q])
				seen[q] = true, distinct++;
			else if (q < 1 || q > p->count)
				foreign++;
			transport_ack(t, m[i]);
		}
	}
	printf("sub: distinct %" PRIu64 "/%" PRIu64 " total %" PRIu64 " redelivered %" PRIu64
	       " foreign %" PRIu64 " in %lld ms\n", distinct, p->count, total, redelivered, foreign,
	       ns_now_ms() - start);
	transport_close(t);
	free(seen);
	return distinct == p->count && !foreign ? 0 : 1;
}

/* A JetStream context on the servers of p, with nats.c directly. */
struct direct {
	natsOptions *o;
	natsConnection *nc;
	jsCtx *js;
	char stream[128];
};

static natsStatus direct_open(const struct probe *p, struct direct *d)
{
	*d = (struct direct){0};
	snprintf(d->stream, sizeof(d->stream), "PACTO_%s", p->alliance);
	const char *urls[MAX_URLS];
	for (size_t i = 0; i < p->nurls; i++)
		urls[i] = p->urls[i];
	natsStatus s = natsOptions_Create(&d->o);
	if (s == NATS_OK) s = natsOptions_SetServers(d->o, urls, (int)p->nurls);
	if (s == NATS_OK) s = natsConnection_Connect(&d->nc, d->o);
	if (s == NATS_OK) s = natsConnection_JetStream(&d->js, d->nc, NULL);
	return s;
}

static void direct_close(struct direct *d)
{
	jsCtx_Destroy(d->js);
	natsConnection_Destroy(d->nc);
	natsOptions_Destroy(d->o);
	nats_CloseAndWait(5000);
}

static int direct_failed(const char *what, const struct direct *d, natsStatus s, jsErrCode jerr)
{
	fprintf(stderr, "natsprobe: %s %s: %s (JetStream error %d)\n", what, d->stream, natsStatus_GetText(s),
		(int)jerr);
	return 1;
}

/* Prints the server name of the stream's leader. */
static int cmd_leader(const struct probe *p)
{
	struct direct d;
	jsStreamInfo *si = NULL;
	natsStatus s = direct_open(p, &d);
	if (s == NATS_OK) s = js_GetStreamInfo(&si, d.js, d.stream, NULL, NULL);
	int rc = 1;
	if (s == NATS_OK && si->Cluster && si->Cluster->Leader) {
		printf("%s\n", si->Cluster->Leader);
		rc = 0;
	} else
		direct_failed("leader of", &d, s, 0);
	jsStreamInfo_Destroy(si);
	direct_close(&d);
	return rc;
}

/* Creates the alliance's stream without a message size limit (as an
 * operator with the nats CLI might) and stores count messages of size
 * bytes on the sender's subject, each acknowledged. */
static int cmd_fill(const struct probe *p)
{
	struct direct d;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	char subjects[160], subject[160];
	const char *subject_list[1] = {subjects};
	snprintf(subjects, sizeof(subjects), "pacto.%s.reports.>", p->alliance);
	snprintf(subject, sizeof(subject), "pacto.%s.reports.%s", p->alliance, p->member);
	char *data = malloc(p->size ? p->size : 1);
	if (!data)
		return 1;
	memset(data, 'x', p->size);
	natsStatus s = direct_open(p, &d);
	if (s == NATS_OK) s = jsStreamConfig_Init(&cfg);
	if (s == NATS_OK) {
		cfg.Name = d.stream;
		cfg.Subjects = subject_list;
		cfg.SubjectsLen = 1;
		cfg.Storage = js_FileStorage;
		s = js_AddStream(NULL, d.js, &cfg, NULL, &jerr);
	}
	for (uint64_t i = 0; s == NATS_OK && i < p->count; i++)
		s = js_Publish(NULL, d.js, subject, data, (int)p->size, NULL, &jerr);
	int rc = s == NATS_OK ? 0 : direct_failed("fill", &d, s, jerr);
	free(data);
	direct_close(&d);
	return rc;
}

/* Prints the messages of the member's durable consumer not yet delivered,
 * and those delivered but neither acknowledged nor terminated. */
static int cmd_pending(const struct probe *p)
{
	struct direct d;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s = direct_open(p, &d);
	if (s == NATS_OK) s = js_GetConsumerInfo(&ci, d.js, d.stream, p->member, NULL, &jerr);
	int rc = 1;
	if (s == NATS_OK) {
		printf("%" PRIu64 " %" PRId64 "\n", ci->NumPending, (int64_t)ci->NumAckPending);
		rc = 0;
	} else
		direct_failed("consumer of", &d, s, jerr);
	jsConsumerInfo_Destroy(ci);
	direct_close(&d);
	return rc;
}

/* Sets the stream's message size limit to p->size, creating the stream
 * (pactod's subjects, file storage) if there is none: a publish over it is
 * refused by the server, a smaller one stored, which is how a test makes
 * one of pactod's publishes fail while a later one succeeds. */
static int cmd_limit(const struct probe *p)
{
	struct direct d;
	jsStreamInfo *si = NULL;
	jsStreamConfig cfg;
	jsErrCode jerr = 0;
	char subjects[160];
	const char *subject_list[1] = {subjects};
	snprintf(subjects, sizeof(subjects), "pacto.%s.reports.>", p->alliance);
	natsStatus s = direct_open(p, &d);
	if (s == NATS_OK) s = js_GetStreamInfo(&si, d.js, d.stream, NULL, &jerr);
	if (s == NATS_OK) {
		si->Config->MaxMsgSize = (int32_t)p->size;
		s = js_UpdateStream(NULL, d.js, si->Config, NULL, &jerr);
	} else if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		s = jsStreamConfig_Init(&cfg);
		cfg.Name = d.stream;
		cfg.Subjects = subject_list;
		cfg.SubjectsLen = 1;
		cfg.Storage = js_FileStorage;
		cfg.MaxMsgSize = (int32_t)p->size;
		if (s == NATS_OK) s = js_AddStream(NULL, d.js, &cfg, NULL, &jerr);
	}
	int rc = s == NATS_OK ? 0 : direct_failed("limit of", &d, s, jerr);
	jsStreamInfo_Destroy(si);
	direct_close(&d);
	return rc;
}

/* Holds every socket until all are bound, so the N ports differ. */
static int cmd_ports(int n)
{
	int fds[64];
	if (n < 1 || n > 64)
		return usage();
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&a, &len) != 0)
			return 1;
		printf("%d\n", ntohs(a.sin_port));
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("natsprobe", LOG_LEVEL_WARN);
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "ports") == 0)
		return argc == 3 ? cmd_ports(atoi(argv[2])) : usage();
	struct probe p;
	if (parse(&p, argc - 1, argv + 1) != 0)
		return usage();
	if (strcmp(argv[1], "pub") == 0 && p.count)
		return cmd_pub(&p);
	if (strcmp(argv[1], "sub") == 0 && p.count)
		return cmd_sub(&p);
	if (strcmp(argv[1], "leader") == 0)
		return cmd_leader(&p);
	if (strcmp(argv[1], "fill") == 0 && p.count && p.size)
		return cmd_fill(&p);
	if (strcmp(argv[1], "pending") == 0)
		return cmd_pending(&p);
	if (strcmp(argv[1], "limit") == 0 && p.size)
		return cmd_limit(&p);
	return usage();
}
