/* fuzz_report_rt.c: report batches built from the fuzz input field by
 * field, encoded and signed, then decoded (src/alliance/report.c).
 * Why structure-aware: the signature check stops random messages at once
 * (fuzz_report gets past it only by signing its payloads); here every
 * field, in and out of its bounds, reaches the encoder and, when the
 * encoder accepts the batch, the whole decoder.
 * Properties: report_encode refuses only with EINVAL or E2BIG; what it
 * encodes, report_decode accepts, giving back every field (lines
 * that were valid UTF-8 of at most REPORT_MAX_LINE bytes unchanged, others
 * made valid and cut); and encoding the decoded batch gives the same bytes.
 * The hand-written decoder takes every payload the encoder writes (it is
 * report_decode's fast path: were it to miss one, jansson would still
 * decide, but slowly). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alliance/report.h"
#include "fuzz.h"

static const char *const ids[] = {"acme", "alice", "bob", "b", "x-_9", "", "bad id", "ünïcode"};

static void fill_id(struct fuzz_in *in, char out[TREATY_MAX_ID + 1])
{
	uint8_t k = fuzz_u8(in);
	if (k < 0xf0)
		snprintf(out, TREATY_MAX_ID + 1, "%s", ids[k % (sizeof(ids) / sizeof(*ids))]);
	else
		fuzz_bytes(in, out, TREATY_MAX_ID);
}

static void fill_addr(struct fuzz_in *in, struct addr *a)
{
	uint8_t k = fuzz_u8(in);
	memset(a, 0, sizeof(*a));
	a->family = (k & 3) == 3 ? (uint8_t)fuzz_u8(in) : (k & 1) ? AF_INET6 : AF_INET;
	unsigned n = a->family == AF_INET6 ? 16 : 4;
	for (unsigned i = 0; i < n; i++)
		a->bytes[i] = fuzz_u8(in);
	a->prefix = fuzz_u8(in);
	if (k & 4)   /* mostly valid: a masked prefix within the family */
		addr_mask(a, a->prefix % (n * 8 + 1));
}

static void fill_report(struct fuzz_in *in, struct report *r, uint64_t prev_seq)
{
	uint8_t k = fuzz_u8(in);
	memset(r, 0, sizeof(*r));
	r->seq = (k & 1) ? fuzz_u64(in) : prev_seq + 1 + fuzz_u8(in);
	r->time_us = (int64_t)((k & 2) ? fuzz_u64(in) : fuzz_u64(in) >> 12);
	r->action = (k & 4) ? (enum report_action)fuzz_u8(in) : (k & 8) ? REPORT_LIFT : REPORT_SANCTION;
	fill_addr(in, &r->addr);
	fuzz_bytes(in, r->scenario, (k & 16) ? REPORT_MAX_SCENARIO : 12);
	r->duration_s = r->action == REPORT_LIFT && !(k & 32) ? 0 : (uint32_t)fuzz_u64(in) % (k & 64 ? 40000000 : 86400);
	r->attempts = (unsigned)fuzz_u64(in);
	r->first_seen_us = (int64_t)(fuzz_u64(in) >> 12);
	r->last_seen_us = (k & 128) ? (int64_t)fuzz_u64(in) : r->first_seen_us + fuzz_u8(in);
	r->nlines = fuzz_u8(in) % (REPORT_MAX_LINES + 2);
	for (size_t i = 0; i < r->nlines && i < REPORT_MAX_LINES; i++) {
		fuzz_bytes(in, r->lines[i], REPORT_MAX_LINE);
	}
}

static void fill_batch(struct fuzz_in *in, struct report_batch *b)
{
	memset(b, 0, sizeof(*b));
	fill_id(in, b->alliance);
	fill_id(in, b->member);
	uint8_t k = fuzz_u8(in);
	b->treaty_version = (k & 1) ? fuzz_u64(in) : 1u + (uint64_t)fuzz_u8(in);
	b->n = (k >> 1) % (REPORT_MAX_ITEMS + 2);
	for (size_t i = 0; i < b->n && i < REPORT_MAX_ITEMS; i++)
		fill_report(in, &b->items[i], i ? b->items[i - 1].seq : 0);
}

/* Valid UTF-8 and no longer than REPORT_MAX_LINE: kept as it is. */
static bool utf8_valid(const char *s)
{
	size_t n = strlen(s);
	json_t *j = json_stringn(s, n);   /* NULL when not valid UTF-8 */
	json_decref(j);
	return n <= REPORT_MAX_LINE && j != NULL;
}

static void check_same(const struct report_batch *a, const struct report_batch *b)
{
	FUZZ_CHECK(strcmp(a->alliance, b->alliance) == 0 && strcmp(a->member, b->member) == 0);
	FUZZ_CHECK(a->treaty_version == b->treaty_version && a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct report *x = &a->items[i], *y = &b->items[i];
		FUZZ_CHECK(x->seq == y->seq && x->time_us == y->time_us && x->action == y->action);
		FUZZ_CHECK(addr_equal(&x->addr, &y->addr) && strcmp(x->scenario, y->scenario) == 0);
		FUZZ_CHECK(x->duration_s == y->duration_s && x->attempts == y->attempts);
		FUZZ_CHECK(x->first_seen_us == y->first_seen_us && x->last_seen_us == y->last_seen_us);
		FUZZ_CHECK(x->nlines == y->nlines);
		for (size_t j = 0; j < x->nlines; j++) {
			FUZZ_CHECK(strlen(y->lines[j]) <= REPORT_MAX_LINE && utf8_valid(y->lines[j]));
			if (utf8_valid(x->lines[j]))
				FUZZ_CHECK(strcmp(x->lines[j], y->lines[j]) == 0);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[REPORT_MAX_MESSAGE], again[REPORT_MAX_MESSAGE];
	static struct report_batch in_batch, out_batch;
	struct fuzz_in in = {data, size};
	const struct signer *s = fuzz_signer();
	fill_batch(&in, &in_batch);
	size_t len, len2;
	char err[256], why[256];
	if (report_encode(&in_batch, s, msg, sizeof(msg), &len, err, sizeof(err)) != 0) {
		FUZZ_CHECK(errno == EINVAL || errno == E2BIG);
		return 0;
	}
	FUZZ_CHECK(len > SIGNER_SIGNATURE_BYTES && len <= REPORT_MAX_MESSAGE);
	enum report_error e = report_decode(msg, len, signer_public_key(s), &out_batch, why, sizeof(why));
	if (e != REPORT_OK)
		fuzz_fail(__FILE__, __LINE__, why);
	check_same(&in_batch, &out_batch);
	FUZZ_CHECK(report_decode_fast(msg + SIGNER_SIGNATURE_BYTES, len - SIGNER_SIGNATURE_BYTES, &out_batch));
	check_same(&in_batch, &out_batch);
	FUZZ_CHECK(report_encode(&out_batch, s, again, sizeof(again), &len2, err, sizeof(err)) == 0);
	FUZZ_CHECK(len2 == len && memcmp(again, msg, len) == 0);
	return 0;
}
