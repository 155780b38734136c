/* transport_nats.c: the alliance link (transport.h) over NATS JetStream (nats.c).
 * Why: reports must reach allies with low latency and survive broker and
 * member downtime, without the daemon's single-threaded loop ever waiting on
 * the network.
 * How: nats.c runs the connection in its own threads; one worker thread of
 * ours (re)creates the stream and durable consumer after each (re)connect and
 * pulls messages; nats.c's callbacks and the worker put acks and messages on
 * two bounded queues under one mutex, and an eventfd tells the caller's loop.
 * Guarantees: see transport.h. Everything blocking (JetStream API requests,
 * fetches) happens on the worker, never in the caller's functions.
 * Ownership: struct transport owns the nats objects, the queues and every
 * fetched message until the caller takes it. Because nats.c threads may call
 * back a little after their objects are destroyed, a closed transport is kept
 * until no transport is open and nats_CloseAndWait() has returned.
 * nats.c traps handled here (see docs/ARCHITECTURE.md):
 *  - js_PullSubscribe/js_Subscribe delete a consumer they created on
 *    unsubscribe: the durable is created with js_AddConsumer and only bound.
 *  - a waiting fetch of batch N returns only when N messages came or it
 *    expired: pull what is there with no_wait, and wait for one at a time.
 *  - js_PublishAsync stalls the caller when too many are pending, and a
 *    publish while reconnecting is buffered, not refused: this module refuses
 *    first (not ready, in-flight cap) and gives each publish a MaxWait.
 *  - a fetch's MaxBytes bounds what one pull brings, but a message larger
 *    than it is never delivered: the pull fails ("Message Size Exceeds
 *    MaxBytes") and the message stays first, forever. That one is fetched
 *    alone, without MaxBytes, and terminated (fetch_oversized). */
#include "alliance/transport.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define FETCH_BATCH 256            /* messages per no_wait pull */
#define IDLE_POLL_MS 1000          /* a waiting pull lasts this long */
#define SETUP_RETRY_MS 500         /* stream/consumer creation failed: retry after */
#define DOWN_POLL_MS 200           /* not connected: look again after */
#define API_WAIT_MS 2000           /* JetStream API requests (worker only) */
#define CLOSE_WAIT_MS 5000         /* nats_CloseAndWait bound */
#define RECONNECT_BUF (1 << 20)    /* bytes buffered while reconnecting */
#define MSG_HEADROOM 512           /* stream MaxMsgSize over the payload limit: headers */
#define MSG_DIGEST 16              /* bytes of the payload's digest in the message id */

#define DEFAULT_MAX_AGE_S (7 * 24 * 3600ULL)
#define DEFAULT_MAX_BYTES (1ULL << 30)
#define DEFAULT_DEDUP_S 600ULL
#define DEFAULT_MAX_MSG (64 * 1024)
#define DEFAULT_ACK_WAIT_MS 30000
#define DEFAULT_MAX_INBOUND 1024
#define DEFAULT_MAX_INBOUND_BYTES (8u << 20)
#define DEFAULT_MAX_IN_FLIGHT 1024
#define DEFAULT_PUBLISH_TIMEOUT_MS 2000
#define DEFAULT_RECONNECT_WAIT_MS 500

#define MSG_ID_HDR "Nats-Msg-Id"

/* A fetched message, from the fetch to transport_ack/release. */
struct held {
	struct transport_msg pub;  /* first member: the caller's pointer is this */
	natsMsg *nm;
	struct held *prev, *next;
	char sender[TRANSPORT_ID_MAX + 1];
};

/* Doubly linked, oldest at head. */
struct held_list {
	struct held *head, *tail;
};

struct transport {
	/* Immutable after transport_open. */
	struct transport_config cfg;  /* numbers only: the strings went to opts */
	char alliance[TRANSPORT_ID_MAX + 1], member[TRANSPORT_ID_MAX + 1];
	char stream[TRANSPORT_ID_MAX + 8];       /* PACTO_<alliance> */
	char subject[2 * TRANSPORT_ID_MAX + 32]; /* pacto.<alliance>.reports.<member> */
	char filter[TRANSPORT_ID_MAX + 32];      /* pacto.<alliance>.reports.> */
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;     /* bound once, kept until close: held messages ack through it */
	pthread_t worker;
	bool worker_started;
	int efd;

	pthread_mutex_t mu;
	pthread_cond_t cond;       /* worker waits: closing, setup needed, room freed */
	/* Under mu. */
	bool closing;
	bool need_setup;           /* connected since the last stream/consumer check */
	bool ready;                /* checked and still connected: publishes accepted */
	uint64_t link_gen;         /* +1 per disconnect: a setup that straddles one is void */
	bool signalled;            /* efd holds a count */
	/* Inbound invariant: nheld = messages in queued + in taken <= cfg.max_inbound,
	 * and held_bytes = their payload <= cfg.max_inbound_bytes (each fetch
	 * asks for no more than what is left). */
	struct held_list queued, taken;
	size_t nqueued, nheld, held_bytes;
	/* Acks: ring of cfg.max_in_flight; in_flight = publishes accepted whose
	 * ack is not yet taken, so nacks <= in_flight <= cfg.max_in_flight. */
	struct transport_ack *acks;
	size_t ack_head, nacks, in_flight;
	struct transport_status counters;

	struct transport *next_dead; /* on the graveyard, once closed */
};

/* ---- errors, ids, time ------------------------------------------------------ */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* nats.c's last error on this thread, or the status text. */
static const char *nats_why(natsStatus s)
{
	const char *text = nats_GetLastError(NULL);
	return text && *text ? text : natsStatus_GetText(s);
}

int transport_valid_id(const char *id)
{
	if (!id || !*id)
		return -1;
	size_t n = 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok || n >= TRANSPORT_ID_MAX)
			return -1;
	}
	return 0;
}

/* Waits on cond up to ms unless closing; mu held. */
static void wait_locked(struct transport *t, long ms)
{
	if (t->closing)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long ns = ts.tv_nsec + (long long)ms * NS_PER_MS;
	ts.tv_sec += (time_t)(ns / NS_PER_S);
	ts.tv_nsec = (long)(ns % NS_PER_S);
	pthread_cond_timedwait(&t->cond, &t->mu, &ts);
}

static void wait_ms(struct transport *t, long ms)
{
	pthread_mutex_lock(&t->mu);
	wait_locked(t, ms);
	pthread_mutex_unlock(&t->mu);
}

/* ---- the caller's eventfd: readable iff acks or messages wait ---------------- */

static void notify_locked(struct transport *t)
{
	if (t->signalled || t->closing)
		return;
	uint64_t one = 1;
	if (write(t->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		t->signalled = true;
}

static void drain_locked(struct transport *t)
{
	if (!t->signalled || t->nacks || t->nqueued)
		return;
	uint64_t n;
	if (read(t->efd, &n, sizeof(n)) == (ssize_t)sizeof(n) || errno == EAGAIN)
		t->signalled = false;
}

/* ---- held message lists ----------------------------------------------------- */

static void list_push(struct held_list *l, struct held *h)
{
	h->next = NULL;
	h->prev = l->tail;
	if (l->tail)
		l->tail->next = h;
	else
		l->head = h;
	l->tail = h;
}

static void list_unlink(struct held_list *l, struct held *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		l->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		l->tail = h->prev;
	h->prev = h->next = NULL;
}

static void held_free(struct held *h)
{
	natsMsg_Destroy(h->nm);
	free(h);
}

static void list_free(struct held_list *l)
{
	while (l->head) {
		struct held *h = l->head;
		list_unlink(l, h);
		held_free(h);
	}
}

/* url without its user:password@, if any: URLs are logged, passwords must not be. */
static void url_for_log(const char *url, char *out, size_t len)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	const char *at = strrchr(host, '@');
	if (at)
		snprintf(out, len, "%.*s%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, len, "%s", url);
}

/* The servers of c, for a log line: "URL, URL" (cut at len). */
static void servers_for_log(const struct transport_config *c, char *out, size_t len)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < c->nurls && n < len; i++) {
		char url[256];
		url_for_log(c->urls[i], url, sizeof(url));
		int w = snprintf(out + n, len - n, "%s%s", i ? ", " : "", url);
		n += w > 0 ? (size_t)w : 0;
	}
}

/* ---- nats.c callbacks (nats.c threads) --------------------------------------- */

static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	struct transport *t = closure;
	pthread_mutex_lock(&t->mu);
	t->need_setup = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
}

/* The server nc is connected to, without password, for a log line. */
static void connected_url(natsConnection *nc, char *shown, size_t len)
{
	char url[256];
	if (natsConnection_GetConnectedUrl(nc, url, sizeof(url)) != NATS_OK || !url[0])
		snprintf(url, sizeof(url), "(unknown)");
	url_for_log(url, shown, len);
}

/* The first connection, made in the background: nats.c calls this only
 * when no server answered at transport_open, which said so (connect_link);
 * the end of that silence is said once too. */
static void on_late_connect(natsConnection *nc, void *closure)
{
	struct transport *t = closure;
	char shown[256];
	connected_url(nc, shown, sizeof(shown));
	log_info("alliance %s: connected to the NATS server at %s", t->alliance, shown);
	on_connected(nc, closure);
}

/* Named, as the first connection is: with several servers, which one. */
static void on_reconnected(natsConnection *nc, void *closure)
{
	struct transport *t = closure;
	pthread_mutex_lock(&t->mu);
	t->counters.reconnects++;
	pthread_mutex_unlock(&t->mu);
	char shown[256];
	connected_url(nc, shown, sizeof(shown));
	log_info("alliance %s: reconnected to the NATS server at %s", t->alliance, shown);
	on_connected(nc, closure);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	(void)nc;
	struct transport *t = closure;
	pthread_mutex_lock(&t->mu);
	bool quiet = t->closing;
	t->ready = false;
	t->link_gen++;
	t->counters.disconnects++;
	pthread_mutex_unlock(&t->mu);
	if (!quiet)
		log_warnx("alliance %s: disconnected from the server; reconnecting", t->alliance);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
	(void)nc;
	(void)sub;
	struct transport *t = closure;
	log_warnx("alliance %s: nats: %s", t->alliance, natsStatus_GetText(s));
}

/* The caller's seq, from the message id "<member>:<seq>:<digest>" this
 * module set (member ids hold no ':'). */
static uint64_t seq_of(natsMsg *nm)
{
	const char *id = NULL;
	if (natsMsgHeader_Get(nm, MSG_ID_HDR, &id) != NATS_OK || !id)
		return 0;
	const char *colon = strchr(id, ':');
	return colon ? strtoull(colon + 1, NULL, 10) : 0;
}

static void fill_ack(struct transport_ack *a, uint64_t seq, jsPubAck *pa, jsPubAckErr *pae)
{
	memset(a, 0, sizeof(*a));
	a->seq = seq;
	if (pa) {
		a->ok = true;
		a->duplicate = pa->Duplicate;
		a->stream_seq = pa->Sequence;
	} else {
		snprintf(a->error, sizeof(a->error), "%s",
			 pae && pae->ErrText ? pae->ErrText : "publish failed");
	}
}

/* One per accepted publish: a positive ack, a server error or a timeout. */
static void on_pub_ack(jsCtx *js, natsMsg *nm, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	struct transport *t = closure;
	uint64_t seq = seq_of(nm);
	pthread_mutex_lock(&t->mu);
	if (!t->closing) {
		PACTO_ASSERT(t->nacks < t->cfg.max_in_flight);
		size_t slot = (t->ack_head + t->nacks++) % t->cfg.max_in_flight;
		fill_ack(&t->acks[slot], seq, pa, pae);
		if (pa)
			t->counters.acked++, t->counters.duplicates += pa->Duplicate;
		else
			t->counters.failed++;
		notify_locked(t);
	}
	pthread_mutex_unlock(&t->mu);
	natsMsg_Destroy(nm);
}

/* ---- stream and consumer (worker) --------------------------------------------- */

/* A setup failure, unless the transport is closing: closing cuts the
 * connection under a request in flight ("Connection Closed"), which is not
 * a fault worth a warning. */
static void setup_warnx(struct transport *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setup_warnx(struct transport *t, const char *fmt, ...)
{
	pthread_mutex_lock(&t->mu);
	bool quiet = t->closing;
	pthread_mutex_unlock(&t->mu);
	if (quiet)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
}

static void stream_config(const struct transport *t, jsStreamConfig *sc, const char **subjects)
{
	jsStreamConfig_Init(sc);
	subjects[0] = t->filter;
	sc->Name = t->stream;
	sc->Subjects = subjects;
	sc->SubjectsLen = 1;
	sc->Storage = js_FileStorage;
	sc->Retention = js_LimitsPolicy;
	sc->Discard = js_DiscardOld;
	sc->Replicas = t->cfg.replicas;
	sc->MaxAge = (int64_t)(t->cfg.max_age_s * NS_PER_S);
	sc->MaxBytes = (int64_t)t->cfg.max_bytes;
	sc->Duplicates = (int64_t)(t->cfg.dedup_window_s * NS_PER_S);
	sc->MaxMsgSize = (int32_t)(t->cfg.max_msg_size + MSG_HEADROOM);
}

/* A stream that takes larger messages than a member sends lets anyone with
 * publish rights fill it with them; they are dropped on receipt (held_new),
 * but each costs a fetch and its size in memory for a moment: say so, and
 * how to make the server refuse them. */
static void stream_check_size(const struct transport *t, const jsStreamConfig *have, int32_t want)
{
	if (have->MaxMsgSize > 0 && have->MaxMsgSize <= want)
		return;
	char what[64];
	if (have->MaxMsgSize > 0)
		snprintf(what, sizeof(what), "of up to %" PRId32 " bytes", have->MaxMsgSize);
	else
		snprintf(what, sizeof(what), "of any size");
	log_warnx("alliance %s: stream %s takes messages %s, and members send at most %zu bytes: larger "
		  "ones are dropped when received; to have the server refuse them, run: nats stream edit %s "
		  "--max-msg-size=%" PRId32, t->alliance, t->stream, what, t->cfg.max_msg_size, t->stream, want);
}

/* An existing stream is the alliance's: keep it, but say where it differs. */
static void stream_compare(const struct transport *t, const jsStreamConfig *have)
{
	jsStreamConfig want;
	const char *subjects[1];
	stream_config(t, &want, subjects);
	stream_check_size(t, have, want.MaxMsgSize);
	if (have->Replicas != want.Replicas || have->MaxAge != want.MaxAge ||
	    have->MaxBytes != want.MaxBytes || have->Storage != want.Storage ||
	    have->SubjectsLen != 1 || strcmp(have->Subjects[0], t->filter) != 0)
		log_info("alliance %s: stream %s exists with other settings (replicas %" PRId64
			 ", max age %" PRId64 " s, max bytes %" PRId64 ", %s storage); keeping it",
			 t->alliance, t->stream, have->Replicas, have->MaxAge / NS_PER_S,
			 have->MaxBytes, have->Storage == js_FileStorage ? "file" : "memory");
}

static int ensure_stream(struct transport *t)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, t->js, t->stream, NULL, &jerr);
	if (s == NATS_OK) {
		stream_compare(t, si->Config);
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
		setup_warnx(t, "alliance %s: stream %s: %s", t->alliance, t->stream, nats_why(s));
		return -1;
	}
	jsStreamConfig sc;
	const char *subjects[1];
	stream_config(t, &sc, subjects);
	s = js_AddStream(&si, t->js, &sc, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	if (s == NATS_OK)
		log_info("alliance %s: created stream %s (%" PRId64 " replicas)", t->alliance,
			 t->stream, sc.Replicas);
	else if (jerr != JSStreamNameExistErr) {  /* another member won the race: fine */
		setup_warnx(t, "alliance %s: creating stream %s: %s", t->alliance, t->stream, nats_why(s));
		return -1;
	}
	return 0;
}

static void consumer_config(const struct transport *t, jsConsumerConfig *cc)
{
	jsConsumerConfig_Init(cc);
	cc->Durable = t->member;
	cc->FilterSubject = t->filter;
	cc->DeliverPolicy = js_DeliverAll;
	cc->AckPolicy = js_AckExplicit;
	cc->AckWait = (int64_t)t->cfg.ack_wait_ms * NS_PER_MS;
}

static int ensure_consumer(struct transport *t)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetConsumerInfo(&ci, t->js, t->stream, t->member, NULL, &jerr);
	if (s == NATS_OK) {
		jsConsumerConfig *c = ci->Config;
		if (c->AckWait != (int64_t)t->cfg.ack_wait_ms * NS_PER_MS ||
		    !c->FilterSubject || strcmp(c->FilterSubject, t->filter) != 0)
			log_info("alliance %s: consumer %s exists with other settings (ack wait %" PRId64
				 " ms, filter %s); keeping it", t->alliance, t->member,
				 c->AckWait / NS_PER_MS, c->FilterSubject ? c->FilterSubject : "none");
		jsConsumerInfo_Destroy(ci);
		return 0;
	}
	if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
		setup_warnx(t, "alliance %s: consumer %s: %s", t->alliance, t->member, nats_why(s));
		return -1;
	}
	jsConsumerConfig cc;
	consumer_config(t, &cc);
	s = js_AddConsumer(&ci, t->js, t->stream, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK) {
		setup_warnx(t, "alliance %s: creating consumer %s: %s", t->alliance, t->member, nats_why(s));
		return -1;
	}
	log_info("alliance %s: created durable consumer %s", t->alliance, t->member);
	return 0;
}

/* What nats.c may queue for the subscription before a fetch takes it.
 * Fetches ask for at most the room left (fetch_some), so this matters only
 * with a server that ignores a pull's max_bytes: past it, nats.c drops
 * messages (delivered again after ack_wait) instead of growing. Room for
 * one message as large as the server allows, so that an oversized one can
 * still come in to be terminated. */
static void limit_pending(struct transport *t)
{
	int64_t bytes = (int64_t)t->cfg.max_inbound_bytes + natsConnection_GetMaxPayload(t->nc) + MSG_HEADROOM;
	if (bytes > INT_MAX)
		bytes = INT_MAX;
	natsStatus s = natsSubscription_SetPendingLimits(t->sub, 2 * FETCH_BATCH, (int)bytes);
	if (s != NATS_OK)
		setup_warnx(t, "alliance %s: limiting what the subscription queues: %s", t->alliance, nats_why(s));
}

/* Binds a pull subscription to the durable (never creating it: see top). */
static int bind_consumer(struct transport *t)
{
	if (t->sub)
		return 0;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = t->stream;
	so.Consumer = t->member;
	jsErrCode jerr = 0;
	natsStatus s = js_PullSubscribe(&t->sub, t->js, t->filter, t->member, NULL, &so, &jerr);
	if (s != NATS_OK) {
		t->sub = NULL;
		setup_warnx(t, "alliance %s: binding to consumer %s: %s", t->alliance, t->member, nats_why(s));
		return -1;
	}
	limit_pending(t);
	return 0;
}

static int link_setup(struct transport *t)
{
	pthread_mutex_lock(&t->mu);
	uint64_t gen = t->link_gen;
	pthread_mutex_unlock(&t->mu);
	if (ensure_stream(t) != 0 || ensure_consumer(t) != 0 || bind_consumer(t) != 0)
		return -1;
	pthread_mutex_lock(&t->mu);
	bool fresh = gen == t->link_gen;
	if (fresh) {
		t->need_setup = false;
		t->ready = true;
	}
	pthread_mutex_unlock(&t->mu);
	if (fresh)
		log_info("alliance %s: link ready (stream %s, consumer %s)", t->alliance, t->stream,
			 t->member);
	return 0;
}

/* ---- receiving (worker) ----------------------------------------------------- */

/* The sender is the last subject token, which must be a valid member id. */
static int parse_sender(const struct transport *t, const char *subject, char *out)
{
	size_t plen = strlen(t->filter) - 1;   /* "pacto.<alliance>.reports." */
	if (strncmp(subject, t->filter, plen) != 0 || transport_valid_id(subject + plen) != 0)
		return -1;
	snprintf(out, TRANSPORT_ID_MAX + 1, "%s", subject + plen);
	return 0;
}

/* The largest message handed over: what a stream created by this module
 * takes (stream_config). A report over max_msg_size but within it still
 * goes to the caller, which refuses it by its sender (too big); a larger
 * one can only be in a stream created otherwise, and is dropped here. */
static size_t inbound_limit(const struct transport *t)
{
	return t->cfg.max_msg_size + MSG_HEADROOM;
}

/* Why a fetched message is not handed over. */
enum refusal { KEPT, NO_SENDER, OVERSIZED };

/* Said for the 1st, 2nd, 4th, 8th... only: a flood must not flood the log. */
static void log_oversized(struct transport *t, natsMsg *nm, uint64_t count)
{
	if (count & (count - 1))
		return;
	char sender[TRANSPORT_ID_MAX + 1];
	uint64_t seq = 0;
	jsMsgMetaData *meta = NULL;
	if (natsMsg_GetMetaData(&meta, nm) == NATS_OK) {
		seq = meta->Sequence.Stream;
		jsMsgMetaData_Destroy(meta);
	}
	if (parse_sender(t, natsMsg_GetSubject(nm), sender) != 0)
		snprintf(sender, sizeof(sender), "an unknown sender");
	log_warnx("alliance %s: message of %d bytes from %s (stream seq %" PRIu64 ") dropped: over the "
		  "%zu-byte limit (%" PRIu64 " so far)", t->alliance, natsMsg_GetDataLength(nm), sender, seq,
		  inbound_limit(t), count);
}

/* Terminated, not acked: the server neither redelivers it nor counts it as
 * processed, which it was not. Counted before it is freed. */
static void drop_oversized(struct transport *t, natsMsg *nm)
{
	natsMsg_Term(nm, NULL);
	pthread_mutex_lock(&t->mu);
	uint64_t count = ++t->counters.oversized;
	pthread_mutex_unlock(&t->mu);
	log_oversized(t, nm, count);
}

/* Wraps a fetched message; NULL and why if it is not handed over (then it
 * is acked or terminated away and freed). */
static struct held *held_new(struct transport *t, natsMsg *nm, enum refusal *why)
{
	*why = KEPT;
	if ((size_t)natsMsg_GetDataLength(nm) > inbound_limit(t)) {
		*why = OVERSIZED;
		drop_oversized(t, nm);
		natsMsg_Destroy(nm);
		return NULL;
	}
	struct held *h = calloc(1, sizeof(*h));
	if (!h || parse_sender(t, natsMsg_GetSubject(nm), h->sender) != 0) {
		*why = NO_SENDER;
		if (h)  /* acked: a message nobody can attribute would come back forever */
			natsMsg_Ack(nm, NULL);
		free(h);
		natsMsg_Destroy(nm);
		return NULL;
	}
	jsMsgMetaData *meta = NULL;
	if (natsMsg_GetMetaData(&meta, nm) == NATS_OK) {
		h->pub.stream_seq = meta->Sequence.Stream;
		h->pub.deliveries = meta->NumDelivered;
		jsMsgMetaData_Destroy(meta);
	}
	h->nm = nm;
	h->pub.subject = natsMsg_GetSubject(nm);
	h->pub.sender = h->sender;
	h->pub.data = natsMsg_GetData(nm);
	h->pub.len = (size_t)natsMsg_GetDataLength(nm);
	h->pub.redelivered = h->pub.deliveries > 1;
	return h;
}

static void enqueue(struct transport *t, natsMsgList *list)
{
	for (int i = 0; i < list->Count; i++) {
		enum refusal why;
		struct held *h = held_new(t, list->Msgs[i], &why);
		list->Msgs[i] = NULL;
		pthread_mutex_lock(&t->mu);
		if (!h) {
			t->counters.dropped += why == NO_SENDER;
		} else {
			list_push(&t->queued, h);
			t->nqueued++;
			t->nheld++;
			t->held_bytes += h->pub.len;
			t->counters.received++;
			t->counters.redelivered += h->pub.redelivered;
			notify_locked(t);
		}
		pthread_mutex_unlock(&t->mu);
	}
	natsMsgList_Destroy(list);
}

/* max_bytes 0: no limit. */
static natsStatus pull(struct transport *t, natsMsgList *list, int batch, size_t max_bytes, bool no_wait)
{
	jsFetchRequest req;
	jsFetchRequest_Init(&req);
	req.Batch = batch;
	req.MaxBytes = (int64_t)max_bytes;
	req.NoWait = no_wait;
	req.Expires = IDLE_POLL_MS * NS_PER_MS;
	return natsSubscription_FetchRequest(list, t->sub, &req);
}

/* The pull failed because the next message is larger than its max_bytes,
 * which is at least inbound_limit(): it is none of a member's. */
static bool next_too_big(natsStatus s)
{
	const char *text = nats_GetLastError(NULL);
	return s == NATS_ERR && text && strcasestr(text, "Message Size Exceeds MaxBytes");
}

/* The message that no pull with max_bytes can deliver (see top), alone and
 * without a limit: it is as large as the server allows at most, once. */
static natsStatus fetch_oversized(struct transport *t, natsMsgList *list)
{
	natsStatus s = pull(t, list, 1, 0, false);
	if (s == NATS_OK)
		enqueue(t, list);   /* terminates it (or keeps it, were it a report now) */
	return s;
}

/* Takes what the consumer has (up to room messages and room_bytes), or else
 * waits for the next one: a waiting pull of N returns only once N came, so
 * it asks for one. */
static void fetch_some(struct transport *t, size_t room, size_t room_bytes)
{
	natsMsgList list = {0};
	int batch = room < FETCH_BATCH ? (int)room : FETCH_BATCH;
	natsStatus s = pull(t, &list, batch, room_bytes, true);
	if (s == NATS_NOT_FOUND || s == NATS_TIMEOUT)
		s = pull(t, &list, 1, room_bytes, false);
	if (next_too_big(s))
		s = fetch_oversized(t, &list);
	else if (s == NATS_OK) {
		enqueue(t, &list);
		return;
	}
	if (s == NATS_OK || s == NATS_TIMEOUT || s == NATS_NOT_FOUND)
		return;
	/* No responders, consumer deleted, connection closed: check it again. */
	pthread_mutex_lock(&t->mu);
	bool quiet = t->closing;
	t->need_setup = true;
	pthread_mutex_unlock(&t->mu);
	if (!quiet)
		log_warnx("alliance %s: fetching from consumer %s: %s", t->alliance, t->member,
			  nats_why(s));
	wait_ms(t, SETUP_RETRY_MS);
}

static void *worker_main(void *arg)
{
	struct transport *t = arg;
	for (;;) {
		pthread_mutex_lock(&t->mu);
		bool closing = t->closing, setup = t->need_setup;
		size_t room = t->cfg.max_inbound - t->nheld;
		size_t room_bytes = t->held_bytes < t->cfg.max_inbound_bytes ?
			t->cfg.max_inbound_bytes - t->held_bytes : 0;
		pthread_mutex_unlock(&t->mu);
		if (closing)
			break;
		if (natsConnection_Status(t->nc) != NATS_CONN_STATUS_CONNECTED)
			wait_ms(t, DOWN_POLL_MS);
		else if (setup) {
			if (link_setup(t) != 0)
				wait_ms(t, SETUP_RETRY_MS);
		} else if (room == 0 || room_bytes < inbound_limit(t))
			wait_ms(t, IDLE_POLL_MS);   /* woken when the caller gives messages back */
		else
			fetch_some(t, room, room_bytes);
	}
	return NULL;
}

/* ---- open and close ------------------------------------------------------------ */

static int check_config(const struct transport_config *c, char *err, size_t errlen)
{
	if (!c->urls || c->nurls == 0 || c->nurls > 64)
		return fail(err, errlen, "alliance transport: 1 to 64 server URLs needed");
	for (size_t i = 0; i < c->nurls; i++)
		if (!c->urls[i] || !*c->urls[i])
			return fail(err, errlen, "alliance transport: server URL %zu is empty", i + 1);
	if (transport_valid_id(c->alliance) != 0)
		return fail(err, errlen, "alliance transport: alliance id \"%.80s\" is not 1-%d of [A-Za-z0-9_-]",
			    c->alliance ? c->alliance : "", TRANSPORT_ID_MAX);
	if (transport_valid_id(c->member) != 0)
		return fail(err, errlen, "alliance transport: member id \"%.80s\" is not 1-%d of [A-Za-z0-9_-]",
			    c->member ? c->member : "", TRANSPORT_ID_MAX);
	if (c->replicas > 5)
		return fail(err, errlen, "alliance transport: %u replicas (at most 5)", c->replicas);
	if (c->max_msg_size > (8u << 20))
		return fail(err, errlen, "alliance transport: max message size %zu over 8 MiB", c->max_msg_size);
	if ((c->user && !c->password) || (!c->user && c->password))
		return fail(err, errlen, "alliance transport: user and password go together");
	if ((c->tls_cert && !c->tls_key) || (!c->tls_cert && c->tls_key))
		return fail(err, errlen, "alliance transport: TLS certificate and key go together");
	return 0;
}

#define DEFAULT(field, value) \
	do { if (!t->cfg.field) t->cfg.field = (value); } while (0)

static void apply_defaults(struct transport *t)
{
	DEFAULT(replicas, 1);
	DEFAULT(max_age_s, DEFAULT_MAX_AGE_S);
	DEFAULT(max_bytes, DEFAULT_MAX_BYTES);
	DEFAULT(dedup_window_s, DEFAULT_DEDUP_S);
	DEFAULT(max_msg_size, DEFAULT_MAX_MSG);
	DEFAULT(ack_wait_ms, DEFAULT_ACK_WAIT_MS);
	DEFAULT(max_inbound, DEFAULT_MAX_INBOUND);
	DEFAULT(max_inbound_bytes, DEFAULT_MAX_INBOUND_BYTES);
	/* Fetching waits for room for the largest message: less would wait forever. */
	if (t->cfg.max_inbound_bytes < inbound_limit(t))
		t->cfg.max_inbound_bytes = inbound_limit(t);
	DEFAULT(max_in_flight, DEFAULT_MAX_IN_FLIGHT);
	DEFAULT(publish_timeout_ms, DEFAULT_PUBLISH_TIMEOUT_MS);
	DEFAULT(reconnect_wait_ms, DEFAULT_RECONNECT_WAIT_MS);
	if (t->cfg.dedup_window_s > t->cfg.max_age_s)   /* the server refuses a longer window */
		t->cfg.dedup_window_s = t->cfg.max_age_s;
	/* Strings are handed to natsOptions (which copies them) and not kept. */
	t->cfg.urls = NULL;
	t->cfg.creds_file = t->cfg.user = t->cfg.password = t->cfg.token = NULL;
	t->cfg.tls_ca = t->cfg.tls_cert = t->cfg.tls_key = NULL;
	t->cfg.alliance = t->alliance;
	t->cfg.member = t->member;
}

static natsStatus set_servers(natsOptions *o, const struct transport_config *c)
{
	const char **urls = calloc(c->nurls, sizeof(*urls));
	if (!urls)
		return NATS_NO_MEMORY;
	for (size_t i = 0; i < c->nurls; i++)
		urls[i] = c->urls[i];
	natsStatus s = natsOptions_SetServers(o, urls, (int)c->nurls);
	free(urls);
	return s;
}

static natsStatus set_auth(natsOptions *o, const struct transport_config *c)
{
	natsStatus s = NATS_OK;
	if (c->creds_file)
		s = natsOptions_SetUserCredentialsFromFiles(o, c->creds_file, NULL);
	if (s == NATS_OK && c->user)
		s = natsOptions_SetUserInfo(o, c->user, c->password);
	if (s == NATS_OK && c->token)
		s = natsOptions_SetToken(o, c->token);
	if (s == NATS_OK && (c->tls_ca || c->tls_cert))
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && c->tls_ca)
		s = natsOptions_LoadCATrustedCertificates(o, c->tls_ca);
	if (s == NATS_OK && c->tls_cert)
		s = natsOptions_LoadCertificatesChain(o, c->tls_cert, c->tls_key);
	return s;
}

/* SendAsap: every publish, ack and pull request leaves at once (latency:
 * ~0.2 ms instead of ~1 ms, shared/NOTES.md). Retry forever, in the background. */
static natsStatus set_behaviour(natsOptions *o, struct transport *t)
{
	char name[TRANSPORT_ID_MAX * 2 + 16];
	snprintf(name, sizeof(name), "pacto %s/%s", t->alliance, t->member);
	natsStatus s = natsOptions_SetName(o, name);
	if (s == NATS_OK) s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(o, true, on_late_connect, t);
	if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, t->cfg.reconnect_wait_ms);
	if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, RECONNECT_BUF);
	if (s == NATS_OK) s = natsOptions_SetPingInterval(o, 5000);
	if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(o, 2);
	if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, on_disconnected, t);
	if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, on_reconnected, t);
	if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, on_async_error, t);
	return s;
}

static int connect_link(struct transport *t, const struct transport_config *c, char *err, size_t errlen)
{
	natsStatus s = natsOptions_Create(&t->opts);
	if (s == NATS_OK) s = set_servers(t->opts, c);
	if (s == NATS_OK) s = set_auth(t->opts, c);
	if (s == NATS_OK) s = set_behaviour(t->opts, t);
	if (s != NATS_OK)
		return fail(err, errlen, "alliance transport: options: %s", nats_why(s));
	s = natsConnection_Connect(&t->nc, t->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED)
		return fail(err, errlen, "alliance transport: connect: %s", nats_why(s));
	if (s == NATS_NOT_YET_CONNECTED) {
		/* Said here, once: nats.c retries in silence, every
		 * reconnect_wait_ms, and on_late_connect says when one answers. */
		char servers[1024];
		servers_for_log(c, servers, sizeof(servers));
		log_warnx("alliance %s: no NATS server answers at %s: the link is not ready; retrying in the "
			  "background", t->alliance, servers);
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = API_WAIT_MS;
	jo.PublishAsync.MaxPending = (int64_t)t->cfg.max_in_flight + 1; /* our cap comes first: never stalls */
	jo.PublishAsync.AckHandler = on_pub_ack;
	jo.PublishAsync.AckHandlerClosure = t;
	s = natsConnection_JetStream(&t->js, t->nc, &jo);
	if (s != NATS_OK)
		return fail(err, errlen, "alliance transport: JetStream context: %s", nats_why(s));
	return 0;
}

static int init_sync(struct transport *t, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->efd < 0)
		return fail(err, errlen, "alliance transport: eventfd: %s", strerror(errno));
	t->acks = calloc(t->cfg.max_in_flight, sizeof(*t->acks));
	if (!t->acks)
		return fail(err, errlen, "alliance transport: %zu acks: out of memory", t->cfg.max_in_flight);
	return 0;
}

/* Live transports and closed ones whose memory nats.c threads may still touch. */
static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t lib_live;
static struct transport *lib_graveyard;

static void transport_free(struct transport *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cond);
	free(t->acks);
	free(t);
}

/* The last close tears libnats down and waits for its threads, after which no
 * callback can run: only then are closed transports freed. */
static void lib_release(struct transport *t)
{
	pthread_mutex_lock(&lib_mu);
	t->next_dead = lib_graveyard;
	lib_graveyard = t;
	if (--lib_live == 0) {
		natsStatus s = nats_CloseAndWait(CLOSE_WAIT_MS);
		if (s == NATS_OK) {
			while (lib_graveyard) {
				struct transport *d = lib_graveyard;
				lib_graveyard = d->next_dead;
				transport_free(d);
			}
		} else
			log_warnx("alliance transport: nats library still busy at close: %s",
				  natsStatus_GetText(s));
	}
	pthread_mutex_unlock(&lib_mu);
}

int transport_open(const struct transport_config *cfg, struct transport **out, char *err, size_t errlen)
{
	*out = NULL;
	if (check_config(cfg, err, errlen) != 0)
		return -1;
	if (sodium_init() < 0)   /* message ids carry a digest */
		return fail(err, errlen, "alliance transport: libsodium: cannot initialise");
	struct transport *t = calloc(1, sizeof(*t));
	if (!t)
		return fail(err, errlen, "alliance transport: out of memory");
	t->cfg = *cfg;
	t->efd = -1;
	snprintf(t->alliance, sizeof(t->alliance), "%s", cfg->alliance);
	snprintf(t->member, sizeof(t->member), "%s", cfg->member);
	snprintf(t->stream, sizeof(t->stream), "PACTO_%s", t->alliance);
	snprintf(t->subject, sizeof(t->subject), "pacto.%s.reports.%s", t->alliance, t->member);
	snprintf(t->filter, sizeof(t->filter), "pacto.%s.reports.>", t->alliance);
	apply_defaults(t);
	t->need_setup = true;
	pthread_mutex_lock(&lib_mu);
	lib_live++;
	pthread_mutex_unlock(&lib_mu);
	if (init_sync(t, err, errlen) != 0 || connect_link(t, cfg, err, errlen) != 0)
		goto fail;
	if (pthread_create(&t->worker, NULL, worker_main, t) != 0) {
		fail(err, errlen, "alliance transport: worker thread: %s", strerror(errno));
		goto fail;
	}
	t->worker_started = true;
	*out = t;
	return 0;
fail:
	transport_close(t);
	return -1;
}

void transport_close(struct transport *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->closing = true;
	t->ready = false;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	if (t->nc)
		natsConnection_Close(t->nc);   /* also ends a pull the worker waits in */
	if (t->worker_started)
		pthread_join(t->worker, NULL);
	list_free(&t->queued);             /* before the subscription they refer to */
	list_free(&t->taken);
	natsSubscription_Destroy(t->sub);
	jsCtx_Destroy(t->js);
	natsConnection_Destroy(t->nc);
	natsOptions_Destroy(t->opts);
	if (t->efd >= 0)
		close(t->efd);
	t->efd = -1;
	lib_release(t);
}

/* ---- the caller's side ------------------------------------------------------- */

int transport_fd(const struct transport *t)
{
	return t->efd;
}

/* "<member>:<seq>:<digest of data>": the server's de-duplication drops a
 * message whose id it has seen; seq alone named different bytes when the
 * caller published other content under a seq again (the daemon re-batches
 * its outbox after a failed publish, under the new batch's last report),
 * and that content was acked as a duplicate and lost. Same bytes, same id. */
static void message_id(const struct transport *t, uint64_t seq, const void *data, size_t len, char *id,
		       size_t idlen)
{
	unsigned char digest[MSG_DIGEST];
	char hex[2 * MSG_DIGEST + 1];
	crypto_generichash(digest, sizeof(digest), data, len, NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	snprintf(id, idlen, "%s:%" PRIu64 ":%s", t->member, seq, hex);
}

/* Takes an in-flight slot, or says why not. */
static int reserve(struct transport *t, size_t len, char *err, size_t errlen)
{
	if (len > t->cfg.max_msg_size)
		return fail(err, errlen, "publish: %zu bytes is over the %zu-byte limit", len,
			    t->cfg.max_msg_size);
	pthread_mutex_lock(&t->mu);
	int rc = 0;
	if (!t->ready)
		rc = fail(err, errlen, "publish: not connected to the alliance server");
	else if (t->in_flight >= t->cfg.max_in_flight)
		rc = fail(err, errlen, "publish: %zu publishes already await their ack", t->in_flight);
	else
		t->in_flight++;
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int transport_publish(struct transport *t, uint64_t seq, const void *data, size_t len,
		      char *err, size_t errlen)
{
	if (reserve(t, len, err, errlen) != 0)
		return -1;
	char id[TRANSPORT_ID_MAX + 24 + 2 * MSG_DIGEST + 2];
	message_id(t, seq, data, len, id, sizeof(id));
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.ExpectStream = t->stream;
	po.MaxWait = t->cfg.publish_timeout_ms;   /* no ack by then: on_pub_ack gets a timeout */
	natsStatus s = js_PublishAsync(t->js, t->subject, data, (int)len, &po);
	pthread_mutex_lock(&t->mu);
	if (s == NATS_OK)
		t->counters.published++;
	else
		t->in_flight--;
	pthread_mutex_unlock(&t->mu);
	if (s != NATS_OK)
		return fail(err, errlen, "publish: %s", nats_why(s));
	return 0;
}

size_t transport_take_acks(struct transport *t, struct transport_ack *out, size_t max)
{
	pthread_mutex_lock(&t->mu);
	size_t n = 0;
	for (; n < max && t->nacks; n++) {
		out[n] = t->acks[t->ack_head];
		t->ack_head = (t->ack_head + 1) % t->cfg.max_in_flight;
		t->nacks--;
		t->in_flight--;
	}
	drain_locked(t);
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t transport_take_messages(struct transport *t, struct transport_msg **out, size_t max)
{
	pthread_mutex_lock(&t->mu);
	size_t n = 0;
	for (; n < max && t->queued.head; n++) {
		struct held *h = t->queued.head;
		list_unlink(&t->queued, h);
		t->nqueued--;
		list_push(&t->taken, h);
		out[n] = &h->pub;
	}
	drain_locked(t);
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* Gives a taken message's slot back and frees it. */
static void give_back(struct transport *t, struct held *h)
{
	pthread_mutex_lock(&t->mu);
	list_unlink(&t->taken, h);
	t->nheld--;
	t->held_bytes -= h->pub.len;
	pthread_cond_broadcast(&t->cond);   /* the worker may wait for room */
	pthread_mutex_unlock(&t->mu);
	held_free(h);
}

void transport_ack(struct transport *t, struct transport_msg *m)
{
	struct held *h = (struct held *)m;
	/* Not acked (disconnected): delivered again after ack_wait; harmless. */
	natsStatus s = natsMsg_Ack(h->nm, NULL);
	if (s != NATS_OK && log_enabled(LOG_LEVEL_DEBUG))
		log_debug("alliance %s: ack of stream seq %" PRIu64 ": %s", t->alliance,
			  m->stream_seq, natsStatus_GetText(s));
	give_back(t, h);
}

void transport_release(struct transport *t, struct transport_msg *m)
{
	give_back(t, (struct held *)m);
}

void transport_status(struct transport *t, struct transport_status *st)
{
	pthread_mutex_lock(&t->mu);
	*st = t->counters;
	st->ready = t->ready;
	st->in_flight = t->in_flight;
	st->inbound_held = t->nheld;
	st->inbound_bytes = t->held_bytes;
	pthread_mutex_unlock(&t->mu);
	st->connected = natsConnection_Status(t->nc) == NATS_CONN_STATUS_CONNECTED;
	st->server[0] = '\0';
	if (st->connected && natsConnection_GetConnectedUrl(t->nc, st->server, sizeof(st->server)) != NATS_OK)
		st->server[0] = '\0';
}
