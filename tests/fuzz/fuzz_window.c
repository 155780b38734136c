/* fuzz_window.c: a member's window of sequence numbers as the ledger keeps
 * it (receipt_member_window, receipt_restore_member and
 * receipt_restore_member_schema4: src/alliance/receipt.c), read back from
 * a ledger that may be damaged.
 * Input: a mode byte. Odd: the rest is a saved window as a ledger may hold
 * it (8 bytes of last_seq first; schema 4's form when bit 1 is set).
 * Even: the rest is a stream of reports of one member (a step of its
 * number, forward, back or far ahead, and an address), applied, then the
 * window saved, restored into another receipt, and the saved bytes cut
 * short or one of them changed, as the mode's other bits say.
 * Properties: a restore never reads past the bytes and says 0 or -1;
 * after -1, every number up to last_seq is a replay; a saved window read
 * back (0) saves the very same bytes; restored from an undamaged save, a
 * receipt answers every report of the window as the one saved did
 * (replay, superseded or taken), and a save cut short or with one byte
 * changed is found out (-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alliance/receipt.h"
#include "fuzz.h"

#define SEC 1000000LL
#define NOW (1795737600LL * SEC)
#define START 5000                /* above the window: numbers free below the first */
#define ADDRESSES 8               /* few, so that late reports are superseded */

static const struct treaty *alliance(void)
{
	static struct treaty *t;
	char err[256];
	if (t)
		return t;
	t = treaty_new("west", err, sizeof(err));
	uint8_t key[SIGNER_PUBLIC_BYTES] = {1};
	FUZZ_CHECK(t && treaty_add_member(t, "bravo", key, 1, NULL, 0, err, sizeof(err)) == 0);
	FUZZ_CHECK(treaty_set(t, "burst", "1000000", err, sizeof(err)) == 0);
	FUZZ_CHECK(treaty_set(t, "rate_per_min", "1000000", err, sizeof(err)) == 0);
	return t;
}

static struct receipt *fresh(void)
{
	struct receipt_config cfg = {.treaty = alliance(), .max_keys = 64, .seed = 1};
	return receipt_new(&cfg);
}

static struct receipt_decision report(struct receipt *r, uint64_t seq, unsigned address)
{
	struct report rep = {.seq = seq, .time_us = NOW, .action = REPORT_SANCTION, .duration_s = 600, .attempts = 5};
	char text[32];
	snprintf(text, sizeof(text), "203.0.113.%u", address % ADDRESSES + 1);
	FUZZ_CHECK(addr_parse_cidr(text, &rep.addr) == 0);
	snprintf(rep.scenario, sizeof(rep.scenario), "sshd");
	struct receipt_decision d;
	receipt_apply(r, "bravo", &rep, NOW, &d);
	return d;
}

static uint64_t last_seq(const struct receipt *r)
{
	uint64_t seq;
	int64_t when;
	FUZZ_CHECK(receipt_member_state(r, "bravo", &seq, &when));
	return seq;
}

/* Every number up to last's is a replay (a few of them: each report
 * takes what it does not refuse). */
static void all_taken(struct receipt *r, uint64_t last)
{
	for (uint64_t k = 0; k < RECEIPT_WINDOW + 2 && k < last; k = 2 * k + 1) {
		struct receipt_decision d = report(r, last - k, (unsigned)k);
		FUZZ_CHECK(d.verdict == RECEIPT_REFUSED && d.reason == RR_REPLAY);
	}
}

/* Bytes as a ledger may hold them. */
static void read_raw(struct fuzz_in *in, uint8_t mode)
{
	uint64_t seq = fuzz_u64(in);
	size_t len = in->left;
	uint8_t *bytes = (uint8_t *)fuzz_copy(in->p, len);
	struct receipt *r = fresh();
	int rc = mode & 2 ? receipt_restore_member_schema4(r, "bravo", seq, NOW, bytes, len)
			  : receipt_restore_member(r, "bravo", seq, NOW, bytes, len);
	FUZZ_CHECK(rc == 0 || rc == -1);
	uint64_t last = last_seq(r);
	FUZZ_CHECK(last == (seq > INT64_MAX ? (uint64_t)INT64_MAX : seq));
	if (rc == 0 && !(mode & 2) && last > 0) {
		static uint8_t again[RECEIPT_WINDOW_SAVED_MAX];
		FUZZ_CHECK(receipt_member_window(r, "bravo", again) == len && memcmp(again, bytes, len) == 0);
	}
	if (rc == -1)
		all_taken(r, last);
	receipt_free(r);
	free(bytes);
}

/* The member's reports, from the input: a step (forward 1..64, back into
 * the window, or past it) and an address each. */
static void apply_reports(struct receipt *r, struct fuzz_in *in)
{
	uint64_t seq = START;
	for (int i = 0; i < 512 && in->left >= 2; i++) {
		uint8_t step = fuzz_u8(in), address = fuzz_u8(in);
		uint64_t last = last_seq(r);
		if (step < 128)
			seq = (last ? last : START) + step % 64 + 1;
		else if (step < 250)
			seq = last > (uint64_t)(step - 127) * 33 ? last - (uint64_t)(step - 127) * 33 : 1;
		else
			seq = last + RECEIPT_WINDOW + step;
		(void)report(r, seq, address);
	}
}

/* a and b take or refuse the same reports the same way, across the
 * window (what a taken one does depends on the votes, which the window
 * does not hold). */
static void same_answers(struct receipt *a, struct receipt *b)
{
	uint64_t last = last_seq(a);
	for (uint64_t k = 0; k <= RECEIPT_WINDOW && k < last; k += 1 + k / 8) {
		struct receipt_decision x = report(a, last - k, (unsigned)k), y = report(b, last - k, (unsigned)k);
		FUZZ_CHECK((x.verdict == RECEIPT_REFUSED) == (y.verdict == RECEIPT_REFUSED));
		FUZZ_CHECK(x.verdict != RECEIPT_REFUSED || x.reason == y.reason);
	}
}

/* Input: mode, then where to cut (2 bytes) and which byte to change
 * (2 bytes), then the reports (apply_reports). */
static void build_and_damage(struct fuzz_in *in, uint8_t mode)
{
	static uint8_t saved[RECEIPT_WINDOW_SAVED_MAX], again[RECEIPT_WINDOW_SAVED_MAX];
	struct receipt *r = fresh(), *back = fresh();
	size_t cut = (size_t)fuzz_u8(in) << 8 | fuzz_u8(in), at = (size_t)fuzz_u8(in) << 8 | fuzz_u8(in);
	apply_reports(r, in);
	uint64_t last = last_seq(r);
	size_t len = receipt_member_window(r, "bravo", saved);
	FUZZ_CHECK((len == 0) == (last == 0) && len <= RECEIPT_WINDOW_SAVED_MAX);
	FUZZ_CHECK(receipt_restore_member(back, "bravo", last, NOW, len ? saved : NULL, len) == 0);
	FUZZ_CHECK(receipt_member_window(back, "bravo", again) == len && memcmp(again, saved, len) == 0);
	if (len && (mode & 6)) {
		struct receipt *damaged = fresh();
		if (mode & 2)
			len = cut % len;   /* cut short: anywhere, the last tag or the checksum too */
		else
			saved[at % len] ^= (uint8_t)(cut | 1);   /* one byte changed */
		FUZZ_CHECK(receipt_restore_member(damaged, "bravo", last, NOW, len ? saved : NULL, len) ==
			   (len ? -1 : 0));
		all_taken(damaged, last);
		receipt_free(damaged);
	}
	same_answers(r, back);
	receipt_free(r);
	receipt_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t mode = fuzz_u8(&in);
	if (mode & 1)
		read_raw(&in, mode);
	else
		build_and_damage(&in, mode);
	return 0;
}
