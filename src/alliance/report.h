/* report.h: what a member tells its allies, and its signed wire form.
 * Why: a report crosses a broker nobody has to trust, so it carries its own
 * proof (an Ed25519 signature by its member) and is decoded as hostile
 * input: strictly, with every field bounded, and only after the signature
 * has been checked against the key the receiver's treaty holds.
 * Wire form (one NATS message, at most REPORT_MAX_MESSAGE bytes):
 *   64-byte signature || PAYLOAD
 *   signature = signer_sign(context "pacto-report-v1", PAYLOAD)
 *   PAYLOAD = canonical JSON (jansson, JSON_COMPACT | JSON_SORT_KEYS |
 *   JSON_ENSURE_ASCII), version 1:
 *     {"v": 1, "alliance": NAME, "treaty": VERSION, "member": ID,
 *      "reports": [{"seq": N, "time": µs since the epoch,
 *                   "action": "sanction" | "lift", "address": "CIDR"
 *                   (addr_format's form: the prefix only when shorter than
 *                   the family's length), "scenario": NAME,
 *                   "duration_s": S (0 for a lift),
 *                   "evidence": {"attempts": N, "first_seen": µs,
 *                                "last_seen": µs, "lines": [TEXT, ...]}}, ...]}
 *   A message carries 1..REPORT_MAX_ITEMS reports of one member with
 *   strictly increasing sequence numbers (a sender batches what is waiting,
 *   so one signature check covers many reports under load).
 * Guarantees: report_decode accepts only what report_encode of the same
 * version produces: the payload must be byte for byte its own canonical
 * re-encoding, so there is exactly one wire form per report batch and
 * nothing unknown, duplicated or oversized gets through. Log lines that are
 * not valid UTF-8 are made so on encode (each invalid byte becomes '?'). */
#ifndef PACTO_REPORT_H
#define PACTO_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alliance/signer.h"
#include "alliance/treaty.h"
#include "common/addr.h"

#define REPORT_VERSION 1
#define REPORT_CONTEXT "pacto-report-v1"
#define REPORT_MAX_MESSAGE 65536
#define REPORT_MAX_ITEMS 32
#define REPORT_MAX_SCENARIO 64    /* bytes; [A-Za-z0-9_.-] */
#define REPORT_MAX_LINES 4        /* evidence lines per report */
#define REPORT_MAX_LINE 256       /* bytes per evidence line; longer lines are cut on encode */
#define REPORT_MAX_DURATION_S (366u * 86400)
#define REPORT_MAX_TREATY_VERSION (UINT64_C(1) << 53)

enum report_action { REPORT_SANCTION = 1, REPORT_LIFT = 2 };

struct report {
	uint64_t seq;                     /* per member, strictly increasing, from 1 */
	int64_t time_us;                  /* when the member decided it */
	enum report_action action;
	struct addr addr;                 /* an address or a prefix; bits past the prefix zero */
	char scenario[REPORT_MAX_SCENARIO + 1];
	uint32_t duration_s;              /* REPORT_SANCTION: 1..(366 days); REPORT_LIFT: 0 */
	unsigned attempts;
	int64_t first_seen_us, last_seen_us;
	size_t nlines;
	char lines[REPORT_MAX_LINES][REPORT_MAX_LINE + 1];  /* NUL-terminated, valid UTF-8 after decode */
};

struct report_batch {
	char alliance[TREATY_MAX_ID + 1];
	uint64_t treaty_version;
	char member[TREATY_MAX_ID + 1];
	size_t n;                         /* 1..REPORT_MAX_ITEMS */
	struct report items[REPORT_MAX_ITEMS];
};

/* Why a message was refused before any policy looked at it. */
enum report_error {
	REPORT_OK = 0,
	REPORT_TOO_BIG,        /* more than REPORT_MAX_MESSAGE bytes */
	REPORT_BAD_SIGNATURE,  /* too short for a signature, or it does not verify */
	REPORT_MALFORMED,      /* not JSON, a field missing, of the wrong type or out of range, unknown key */
	REPORT_BAD_VERSION,    /* "v" is not REPORT_VERSION */
	REPORT_NOT_CANONICAL,  /* valid, but not the canonical bytes */
};

/* Signs and encodes b into out[0..cap). Returns 0 and *len, or -1 with err
 * (a field out of bounds: errno EINVAL; out too small, or the message would
 * pass REPORT_MAX_MESSAGE: errno E2BIG, send fewer reports per batch).
 * Lines are cut to REPORT_MAX_LINE bytes (on a UTF-8 boundary) and made
 * valid UTF-8. Bounds, checked the same way by report_decode: treaty
 * version 1..2^53, seq 1..2^63-1, times >= 0 with first_seen <= last_seen,
 * attempts 0..2^32-1, scenario [A-Za-z0-9_.-]{1,64}, alliance and member
 * valid treaty ids, addresses with no bit past their prefix and never
 * IPv4-mapped IPv6 (pacto holds those as IPv4: see addr.h). */
int report_encode(const struct report_batch *b, const struct signer *s, uint8_t *out, size_t cap, size_t *len,
		  char *err, size_t errlen) __attribute__((warn_unused_result));

/* Checks the signature of msg against key (the key the receiver's treaty
 * holds for the member the message claims to come from: the transport's
 * subject names it), then decodes strictly into out. The caller then checks
 * that out->member is that member. On failure why says what was wrong. */
enum report_error report_decode(const uint8_t *msg, size_t len, const uint8_t key[SIGNER_PUBLIC_BYTES],
				struct report_batch *out, char *why, size_t whylen);

/* The two decoders report_decode() runs on a payload whose signature it has
 * checked, exposed for the tests. report_decode_fast(): the hand-written
 * reader (report_canon.h); true only for a batch within every bound whose
 * canonical bytes are the payload itself; false decides nothing.
 * report_decode_json(): jansson's parse, the same checks and jansson's
 * canonical re-encoding; the reference, which says why it refuses.
 * report_decode() asks the first, and the second when the first says false,
 * so it accepts exactly what the second accepts. */
bool report_decode_fast(const uint8_t *payload, size_t len, struct report_batch *out);
enum report_error report_decode_json(const uint8_t *payload, size_t len, struct report_batch *out, char *why,
				     size_t whylen);

/* Whether two batches say the same thing, field by field (what a decode of
 * an encode must give back; the tests and fuzzers compare with it). */
bool report_batch_same(const struct report_batch *a, const struct report_batch *b);

const char *report_error_name(enum report_error e);  /* "too_big", "bad_signature", ... */
const char *report_action_name(enum report_action a); /* "sanction", "lift" */

#endif
