/* fuzz_report.c: signed report batches as they arrive from the broker
 * (src/alliance/report.c: size, signature, strict JSON, canonical form).
 * Input: one mode byte, then either (even mode) a whole wire message,
 * checked against the fixed fuzz key, or (odd mode) a payload that the
 * harness signs with that key first, so that the decoder past the
 * signature check is reached by random data too.
 * Properties: decoding never reads past the message; a refusal says why;
 * a decoded batch is within the bounds report_encode checks, and encoding
 * it again gives the very same bytes (Ed25519 signatures are
 * deterministic), so there is exactly one wire form per batch; the
 * hand-written decoder and jansson's agree on every payload (the first
 * accepts exactly what the second accepts, with the same batch). */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alliance/report.h"
#include "fuzz.h"

static void check_batch(const struct report_batch *b)
{
	FUZZ_CHECK(treaty_id_valid(b->alliance) && treaty_id_valid(b->member));
	FUZZ_CHECK(b->n >= 1 && b->n <= REPORT_MAX_ITEMS);
	for (size_t i = 0; i < b->n; i++) {
		const struct report *r = &b->items[i];
		FUZZ_CHECK(r->addr.family == AF_INET || r->addr.family == AF_INET6);
		FUZZ_CHECK(r->nlines <= REPORT_MAX_LINES);
		FUZZ_CHECK(i == 0 || r->seq > b->items[i - 1].seq);
		for (size_t j = 0; j < r->nlines; j++)
			FUZZ_CHECK(strlen(r->lines[j]) <= REPORT_MAX_LINE);
	}
}

/* The decoded batch encodes back to the message, byte for byte. */
static void check_reencode(const struct report_batch *b, const uint8_t *msg, size_t len)
{
	static uint8_t again[REPORT_MAX_MESSAGE];
	size_t n;
	char err[256];
	if (report_encode(b, fuzz_signer(), again, sizeof(again), &n, err, sizeof(err)) != 0)
		fuzz_fail(__FILE__, __LINE__, err);
	FUZZ_CHECK(n == len && memcmp(again, msg, len) == 0);
}


/* report_decode's two decoders on the payload past the signature. */
static void check_decoders(const uint8_t *msg, size_t len)
{
	static struct report_batch fast, slow;
	char why[256];
	if (len <= SIGNER_SIGNATURE_BYTES)
		return;
	const uint8_t *p = msg + SIGNER_SIGNATURE_BYTES;
	bool f = report_decode_fast(p, len - SIGNER_SIGNATURE_BYTES, &fast);
	enum report_error e = report_decode_json(p, len - SIGNER_SIGNATURE_BYTES, &slow, why, sizeof(why));
	FUZZ_CHECK(f == (e == REPORT_OK));
	if (f)
		FUZZ_CHECK(report_batch_same(&fast, &slow));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > REPORT_MAX_MESSAGE)
		return 0;
	const struct signer *s = fuzz_signer();
	size_t len = size - 1;
	uint8_t *msg;
	if (data[0] & 1) {   /* a payload: sign it here */
		len += SIGNER_SIGNATURE_BYTES;
		msg = malloc(len);
		FUZZ_CHECK(msg != NULL);
		memcpy(msg + SIGNER_SIGNATURE_BYTES, data + 1, size - 1);
		signer_sign(s, REPORT_CONTEXT, msg + SIGNER_SIGNATURE_BYTES, size - 1, msg);
	} else {
		msg = (uint8_t *)fuzz_copy(data + 1, len);
	}
	struct report_batch *b = malloc(sizeof(*b));
	FUZZ_CHECK(b != NULL);
	char why[256] = "";
	enum report_error e = report_decode(msg, len, signer_public_key(s), b, why, sizeof(why));
	FUZZ_CHECK(report_error_name(e) != NULL);
	check_decoders(msg, len);
	if (e == REPORT_OK) {
		check_batch(b);
		check_reencode(b, msg, len);
	} else {
		FUZZ_CHECK(why[0] != '\0');
	}
	free(b);
	free(msg);
	return 0;
}
