/* allyprobe.c: publishes hand-made alliance reports to a NATS JetStream
 * stream, good or deliberately bad, for the tests of what pactod accepts.
 * Why: a hostile or broken member, a forger and a replayer have to be
 * played by something; this tool signs with the key it is given, can lie
 * about any field, and can send the very same bytes twice.
 * Usage:
 *   allyprobe --nats URL --alliance NAME --member ID --key FILE --version N
 *             --seq S --address CIDR [--duration S] [--count N] [--lift]
 *             [--time-offset SECONDS] [--claim-alliance NAME]
 *             [--claim-member ID] [--repeat] [--garbage] [--truncate N]
 *             [--oversize] [--reverse]
 * --count sends N reports (seq S.., addresses counting up in the last byte),
 * one message each; --repeat publishes each message twice, as a replay;
 * --garbage sends bytes that are not a report at all; --truncate N sends
 * only the first N bytes of each; --oversize appends bytes past the
 * largest message allowed; --reverse sends the N reports highest sequence
 * number first (a reordering broker). Exit 0 when every publish was
 * acknowledged by the stream. */
#include <getopt.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "alliance/report.h"
#include "alliance/signer.h"

struct probe {
	const char *url, *alliance, *member, *key, *address, *claim_alliance, *claim_member;
	uint64_t version, seq;
	uint32_t duration;
	unsigned count;
	long time_offset;
	bool lift, repeat, garbage, oversize, reverse;
	size_t truncate;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse(int argc, char **argv, struct probe *p)
{
	static const struct option opts[] = {
		{"nats", required_argument, NULL, 'n'}, {"alliance", required_argument, NULL, 'a'},
		{"member", required_argument, NULL, 'm'}, {"key", required_argument, NULL, 'k'},
		{"version", required_argument, NULL, 'v'}, {"seq", required_argument, NULL, 's'},
		{"address", required_argument, NULL, 'A'}, {"duration", required_argument, NULL, 'd'},
		{"count", required_argument, NULL, 'c'}, {"lift", no_argument, NULL, 'l'},
		{"time-offset", required_argument, NULL, 't'}, {"claim-alliance", required_argument, NULL, 'C'},
		{"claim-member", required_argument, NULL, 'M'}, {"repeat", no_argument, NULL, 'r'},
		{"garbage", no_argument, NULL, 'g'}, {"truncate", required_argument, NULL, 'x'},
		{"oversize", no_argument, NULL, 'o'}, {"reverse", no_argument, NULL, 'R'}, {NULL, 0, NULL, 0},
	};
	int o;
	*p = (struct probe){.version = 1, .seq = 1, .duration = 600, .count = 1};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': p->url = optarg; break;
		case 'a': p->alliance = optarg; break;
		case 'm': p->member = optarg; break;
		case 'k': p->key = optarg; break;
		case 'v': p->version = strtoull(optarg, NULL, 10); break;
		case 's': p->seq = strtoull(optarg, NULL, 10); break;
		case 'A': p->address = optarg; break;
		case 'd': p->duration = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'c': p->count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': p->lift = true; break;
		case 't': p->time_offset = strtol(optarg, NULL, 10); break;
		case 'C': p->claim_alliance = optarg; break;
		case 'M': p->claim_member = optarg; break;
		case 'r': p->repeat = true; break;
		case 'g': p->garbage = true; break;
		case 'x': p->truncate = (size_t)strtoul(optarg, NULL, 10); break;
		case 'o': p->oversize = true; break;
		case 'R': p->reverse = true; break;
		default: return -1;
		}
	}
	if (!p->url || !p->alliance || !p->member || !p->key || !p->address || optind != argc) {
		fprintf(stderr, "allyprobe: --nats, --alliance, --member, --key and --address are required\n");
		return -1;
	}
	return 0;
}

/* Report i of the run, as one batch of one. */
static int build(const struct probe *p, unsigned i, struct report_batch *b)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->alliance, sizeof(b->alliance), "%s", p->claim_alliance ? p->claim_alliance : p->alliance);
	snprintf(b->member, sizeof(b->member), "%s", p->claim_member ? p->claim_member : p->member);
	b->treaty_version = p->version;
	b->n = 1;
	struct report *r = &b->items[0];
	if (addr_parse_cidr(p->address, &r->addr) != 0) {
		fprintf(stderr, "allyprobe: bad address %s\n", p->address);
		return -1;
	}
	if (r->addr.family == AF_INET)
		r->addr.bytes[3] = (uint8_t)(r->addr.bytes[3] + i);
	r->seq = p->seq + i;
	r->time_us = now_us() + (int64_t)p->time_offset * 1000000;
	r->action = p->lift ? REPORT_LIFT : REPORT_SANCTION;
	r->duration_s = p->lift ? 0 : p->duration;
	r->attempts = 5;
	r->first_seen_us = r->last_seen_us = r->time_us;
	snprintf(r->scenario, sizeof(r->scenario), "sshd");
	r->nlines = 1;
	snprintf(r->lines[0], sizeof(r->lines[0]), "allyprobe report %llu", (unsigned long long)r->seq);
	return 0;
}

static int publish(jsCtx *js, const char *subject, const void *data, size_t len)
{
	jsErrCode jerr = 0;
	jsPubAck *ack = NULL;
	natsStatus s;
	/* The stream is made by the pactods: until one has, nothing answers. */
	for (int tries = 0;; tries++) {
		s = js_Publish(&ack, js, subject, data, (int)len, NULL, &jerr);
		jsPubAck_Destroy(ack);
		ack = NULL;
		if ((s != NATS_NO_RESPONDERS && s != NATS_TIMEOUT) || tries == 50)
			break;
		nats_Sleep(100);
	}
	if (s != NATS_OK) {
		fprintf(stderr, "allyprobe: publish: %s (%d)\n", natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct probe p;
	struct signer *signer = NULL;
	char err[256], subject[256];
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	int rc = 1;
	static struct report_batch batch;
	static uint8_t wire[REPORT_MAX_MESSAGE + 4096];
	if (parse(argc, argv, &p) != 0 || signer_init() != 0)
		return 2;
	if (signer_load(p.key, &signer, err, sizeof(err)) != 0) {
		fprintf(stderr, "allyprobe: %s\n", err);
		return 2;
	}
	snprintf(subject, sizeof(subject), "pacto.%s.reports.%s", p.alliance, p.member);
	if (natsConnection_ConnectTo(&nc, p.url) != NATS_OK || natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
		fprintf(stderr, "allyprobe: cannot reach %s\n", p.url);
		goto out;
	}
	for (unsigned k = 0; k < p.count; k++) {
		unsigned i = p.reverse ? p.count - 1 - k : k;
		size_t len;
		if (p.garbage) {
			len = 200;
			memset(wire, 'x', len);
		} else if (build(&p, i, &batch) != 0 ||
			   report_encode(&batch, signer, wire, sizeof(wire), &len, err, sizeof(err)) != 0) {
			fprintf(stderr, "allyprobe: %s\n", err);
			goto out;
		}
		if (p.truncate && p.truncate < len)
			len = p.truncate;
		if (p.oversize) {
			memset(wire + len, ' ', REPORT_MAX_MESSAGE + 1 - len);
			len = REPORT_MAX_MESSAGE + 1;
		}
		for (int r = 0; r < (p.repeat ? 2 : 1); r++)
			if (publish(js, subject, wire, len) != 0)
				goto out;
	}
	rc = 0;
out:
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_Close();
	signer_free(signer);
	return rc;
}
