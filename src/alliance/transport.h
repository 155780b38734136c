/* transport.h: the alliance's link to NATS JetStream, moving opaque bytes.
 * Why: members publish reports to allies and catch up after downtime; this
 * module hides the broker (stream, durable consumer, reconnects, acks) from
 * the report codec and the daemon, which see only bytes, sequence numbers
 * and one file descriptor for their event loop.
 * Guarantees:
 *  - One stream per alliance, "PACTO_<alliance>", subjects
 *    "pacto.<alliance>.reports.<member>", file storage, bounded by age and
 *    bytes; created if missing, kept (and logged) if it exists otherwise:
 *    a warning says so if it takes messages larger than max_msg_size.
 *  - One durable pull consumer per member (durable name = member id), created
 *    with js_AddConsumer (never implicitly: see transport_nats.c), deliver-all
 *    when new, explicit acks. A member's own reports are delivered to it too:
 *    the caller compares transport_msg.sender with its own id.
 *  - Publishing never blocks on the network: it is refused at once (-1) while
 *    the link is not ready or too many publishes await their ack; each
 *    accepted publish yields exactly one transport_ack (ok or failed, by the
 *    caller's seq) unless transport_close comes first. The message id is
 *    "<member>:<seq>:<digest of the bytes>", so a re-publish of the same
 *    bytes within the dedup window is stored once, and other bytes under a
 *    seq already used are stored too (not dropped as a duplicate).
 *  - Inbound delivery is at least once: a message not transport_ack()ed is
 *    delivered again after ack_wait_ms (also across restarts).
 *  - Memory is bounded: at most max_inbound messages and max_inbound_bytes
 *    of payload are held (queued or taken and not yet acked/released);
 *    fetching stops while either is full, and a fetch asks the server for no
 *    more than the bytes left. A message over max_msg_size + 512 (the limit
 *    of a stream this module creates; one created by someone else may hold
 *    larger ones) is never handed over: it is terminated (never delivered
 *    again) and counted in oversized; receiving it costs one message's
 *    memory for a moment. At
 *    most max_in_flight publishes and their acks are held.
 *  - Runs while the server is down: connects and reconnects forever in the
 *    background and (re)creates the stream and consumer once connected.
 * Threads: nats.c runs its own threads; every transport_* function must be
 * called from one caller thread (the event loop); locking stays inside.
 * Ownership: the transport copies its configuration. Taken messages belong to
 * the caller until transport_ack() or transport_release(), which free them;
 * transport_close() frees everything, messages not yet given back included.
 * The last transport_close() of a process also tears down libnats
 * (nats_CloseAndWait), so that no nats.c thread outlives it. */
#ifndef PACTO_ALLIANCE_TRANSPORT_H
#define PACTO_ALLIANCE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRANSPORT_ID_MAX 64          /* alliance and member ids: [A-Za-z0-9_-]{1,64} */
#define TRANSPORT_ERR_MAX 128        /* error text of a failed publish */

/* Zero means "default" for every number. Strings are copied by transport_open. */
struct transport_config {
	const char *const *urls;     /* nats://host:port or tls://...; at least one */
	size_t nurls;
	const char *creds_file;      /* optional: NATS .creds (JWT + seed) */
	const char *user, *password; /* optional */
	const char *token;           /* optional */
	const char *tls_ca;          /* optional: CA bundle; any tls_* turns TLS on */
	const char *tls_cert, *tls_key; /* optional: client certificate and key */
	const char *alliance;        /* stream "PACTO_<alliance>" */
	const char *member;          /* this member: subject suffix and durable name */
	unsigned replicas;           /* stream replicas: 1 (default), 3 for a cluster */
	uint64_t max_age_s;          /* stream: drop reports older than this (7 days) */
	uint64_t max_bytes;          /* stream: oldest dropped past this (1 GiB) */
	uint64_t dedup_window_s;     /* stream: Nats-Msg-Id remembered this long (600 s) */
	size_t max_msg_size;         /* largest publish accepted (64 KiB) */
	unsigned ack_wait_ms;        /* consumer: redelivery after this without ack (30 s) */
	size_t max_inbound;          /* messages held at once, queued or taken (1024) */
	size_t max_inbound_bytes;    /* their payload bytes (8 MiB; at least max_msg_size + 512) */
	size_t max_in_flight;        /* publishes awaiting an ack not yet taken (1024) */
	unsigned publish_timeout_ms; /* no server ack by then: reported failed (2000) */
	unsigned reconnect_wait_ms;  /* between connection attempts (500) */
};

/* The outcome of one transport_publish, by the caller's sequence number. */
struct transport_ack {
	uint64_t seq;
	bool ok;                     /* stored by the stream (maybe as a duplicate) */
	bool duplicate;              /* the stream already had this message id */
	uint64_t stream_seq;         /* where it is stored, when ok */
	char error[TRANSPORT_ERR_MAX]; /* why not, when !ok */
};

/* One inbound message. Read only; valid until transport_ack/release. */
struct transport_msg {
	const char *subject;
	const char *sender;          /* member id taken from the subject */
	const void *data;
	size_t len;
	uint64_t stream_seq;
	uint64_t deliveries;         /* 1 the first time */
	bool redelivered;            /* deliveries > 1 */
};

struct transport_status {
	bool connected;              /* TCP session with a server */
	bool ready;                  /* connected and stream/consumer checked: publish accepted */
	char server[256];            /* URL of the server in use, "" if none */
	uint64_t published, acked, failed, duplicates;
	uint64_t received, redelivered, dropped; /* dropped: subject without a valid sender */
	uint64_t oversized;          /* messages over max_msg_size + 512, terminated unread */
	uint64_t reconnects, disconnects;
	size_t in_flight, inbound_held, inbound_bytes;
};

struct transport;

/* Validates the configuration, starts connecting in the background and
 * returns at once, connected or not (a server that is down is not an error).
 * Returns 0 and *out, or -1 with "what failed: why" in err. */
int transport_open(const struct transport_config *cfg, struct transport **out,
		   char *err, size_t errlen) __attribute__((warn_unused_result));

/* Readable (level-triggered) while acks or messages wait to be taken. */
int transport_fd(const struct transport *t);

/* Queues data for the stream, asynchronously. 0: accepted, its outcome comes
 * later as a transport_ack with this seq. -1: refused now (not ready, too
 * many in flight, too big), reason in err; nothing was sent. */
int transport_publish(struct transport *t, uint64_t seq, const void *data, size_t len,
		      char *err, size_t errlen) __attribute__((warn_unused_result));

/* Moves up to max waiting acks into out; returns how many. */
size_t transport_take_acks(struct transport *t, struct transport_ack *out, size_t max);

/* Moves up to max waiting messages into out, oldest first; returns how many.
 * Each must be given back with transport_ack or transport_release. */
size_t transport_take_messages(struct transport *t, struct transport_msg **out, size_t max);

/* Acknowledges m to the server (the caller has durably applied it) and frees it. */
void transport_ack(struct transport *t, struct transport_msg *m);

/* Frees m without acknowledging it: the server delivers it again after ack_wait. */
void transport_release(struct transport *t, struct transport_msg *m);

void transport_status(struct transport *t, struct transport_status *st);

/* Closes the connection and frees everything; accepts NULL. Publishes still
 * in flight get no ack: the caller's outbox still has them. */
void transport_close(struct transport *t);

/* 0 if id is 1..TRANSPORT_ID_MAX of [A-Za-z0-9_-]. */
int transport_valid_id(const char *id);

#endif
