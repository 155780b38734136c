/* report.c: signed report batches on the wire (see report.h).
 * Why: reports come through a broker nobody trusts, from allies whose
 * software may be buggy or taken over; they are checked in the cheapest
 * order that is still safe: size, then the signature over the exact bytes,
 * and only then parsing, every field bounded, and finally a byte for byte
 * comparison with our own re-encoding, so there is one wire form per batch.
 * The parse and the re-encoding are done first by hand (report_canon.c, a
 * tenth of jansson's cost); whatever that path does not take, jansson's
 * decides (report_decode_json), so what is accepted is exactly what
 * jansson's path accepts.
 * Guarantees: encode and decode apply the same checks (check_batch), so
 * report_decode(report_encode(b)) gives b back, and nothing that encode
 * would refuse is ever decoded.
 * Never: trusts a length, a type or a string it has not checked itself. */
#include "alliance/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alliance/report_canon.h"
#include "common/utf8.h"

#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define MAX_DURATION_S REPORT_MAX_DURATION_S
#define MAX_TREATY_VERSION ((json_int_t)REPORT_MAX_TREATY_VERSION)

const char *report_error_name(enum report_error e)
{
	switch (e) {
	case REPORT_OK: return "ok";
	case REPORT_TOO_BIG: return "too_big";
	case REPORT_BAD_SIGNATURE: return "bad_signature";
	case REPORT_MALFORMED: return "malformed";
	case REPORT_BAD_VERSION: return "bad_version";
	case REPORT_NOT_CANONICAL: return "not_canonical";
	}
	return "unknown";
}

const char *report_action_name(enum report_action a)
{
	return a == REPORT_SANCTION ? "sanction" : a == REPORT_LIFT ? "lift" : "unknown";
}

/* ---- UTF-8 ---- */

/* Copies at most REPORT_MAX_LINE bytes of in into out (NUL-terminated),
 * each byte that starts no valid sequence becoming '?', and never cutting a
 * sequence in two. Returns the length written. */
static size_t utf8_fix(const char *in, char out[REPORT_MAX_LINE + 1])
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strnlen(in, REPORT_MAX_LINE + 1), i = 0, o = 0;
	while (i < n) {
		size_t len = utf8_len(s + i, n - i);
		if (len == 0) {
			len = 1;
			if (o + 1 > REPORT_MAX_LINE)
				break;
			out[o++] = '?';
		} else {
			if (o + len > REPORT_MAX_LINE)
				break;
			memcpy(out + o, s + i, len);
			o += len;
		}
		i += len;
	}
	out[o] = '\0';
	return o;
}

/* ---- the checks both directions share ---- */

static bool scenario_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n == REPORT_MAX_SCENARIO || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
						  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return n > 0;
}

static bool addr_valid(const struct addr *a)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	/* An IPv4-mapped IPv6 address never comes out of addr_parse (it
	 * becomes IPv4), so the decoder would read it back as IPv4 and refuse
	 * the message as not canonical: refuse it here, in both directions
	 * (found by fuzz_report_rt). */
	if (a->family == AF_INET6 && memcmp(a->bytes, v4mapped, sizeof(v4mapped)) == 0)
		return false;
	if (a->prefix > addr_max_prefix(a))
		return false;
	struct addr masked = *a;
	addr_mask(&masked, a->prefix);
	return memcmp(masked.bytes, a->bytes, 16) == 0;
}

/* A report's fields within their bounds; what the struct can hold that the
 * wire form cannot. Returns NULL or what is wrong. */
static const char *check_report(const struct report *r)
{
	if (r->seq < 1 || r->seq > INT64_MAX)
		return "seq out of range";
	if (r->time_us < 0 || r->first_seen_us < 0 || r->last_seen_us < r->first_seen_us)
		return "times out of range (negative, or first_seen after last_seen)";
	if (r->action != REPORT_SANCTION && r->action != REPORT_LIFT)
		return "action is neither sanction nor lift";
	if (!addr_valid(&r->addr))
		return "address invalid (family, prefix, or bits past the prefix)";
	if (!scenario_valid(r->scenario))
		return "scenario is not 1 to 64 characters of A-Z a-z 0-9 _ . -";
	if (r->action == REPORT_SANCTION ? r->duration_s < 1 || r->duration_s > MAX_DURATION_S : r->duration_s != 0)
		return "duration_s out of range (1..366 days for a sanction, 0 for a lift)";
	if (r->nlines > REPORT_MAX_LINES)
		return "too many evidence lines";
	return NULL;
}

static int check_batch(const struct report_batch *b, char *err, size_t errlen)
{
	if (!treaty_id_valid(b->alliance) || !treaty_id_valid(b->member)) {
		snprintf(err, errlen, "alliance or member is not a valid id");
		return -1;
	}
	if (b->treaty_version < 1 || b->treaty_version > (uint64_t)MAX_TREATY_VERSION || b->n < 1 ||
	    b->n > REPORT_MAX_ITEMS) {
		snprintf(err, errlen, "treaty version or number of reports (%zu, 1..%d) out of range", b->n,
			 REPORT_MAX_ITEMS);
		return -1;
	}
	for (size_t i = 0; i < b->n; i++) {
		const char *why = check_report(&b->items[i]);
		if (!why && i && b->items[i].seq <= b->items[i - 1].seq)
			why = "seq not above the previous report's";
		if (why) {
			snprintf(err, errlen, "reports[%zu]: %s", i, why);
			return -1;
		}
	}
	return 0;
}

/* ---- building the canonical JSON ---- */

/* Keys are literals and strings are checked (ASCII ids and addresses, lines
 * made valid UTF-8), so jansson's own UTF-8 checks are skipped. */
static void put_int(json_t *o, const char *key, json_int_t v)
{
	json_object_set_new_nocheck(o, key, json_integer(v));
}

static void put_str(json_t *o, const char *key, const char *s, size_t len)
{
	json_object_set_new_nocheck(o, key, json_stringn_nocheck(s, len));
}

static json_t *evidence_json(const struct report *r, bool fix)
{
	json_t *ev = json_object(), *lines = json_array();
	char fixed[REPORT_MAX_LINE + 1];
	put_int(ev, "attempts", r->attempts);
	put_int(ev, "first_seen", r->first_seen_us);
	put_int(ev, "last_seen", r->last_seen_us);
	for (size_t i = 0; i < r->nlines; i++) {
		/* Decoded lines are valid already; encoded ones are made so. */
		const char *l = r->lines[i];
		size_t n = fix ? utf8_fix(l, fixed) : strlen(l);
		json_array_append_new(lines, json_stringn_nocheck(fix ? fixed : l, n));
	}
	json_object_set_new_nocheck(ev, "lines", lines);
	return ev;
}

static json_t *report_json(const struct report *r, bool fix)
{
	char text[ADDR_STRLEN];
	json_t *o = json_object();
	put_int(o, "seq", (json_int_t)r->seq);
	put_int(o, "time", r->time_us);
	const char *action = report_action_name(r->action);
	put_str(o, "action", action, strlen(action));
	addr_format(&r->addr, text, sizeof(text));
	put_str(o, "address", text, strlen(text));
	put_str(o, "scenario", r->scenario, strlen(r->scenario));
	put_int(o, "duration_s", r->duration_s);
	json_object_set_new_nocheck(o, "evidence", evidence_json(r, fix));
	return o;
}

static json_t *batch_json(const struct report_batch *b, bool fix)
{
	json_t *root = json_object(), *items = json_array();
	put_int(root, "v", REPORT_VERSION);
	put_str(root, "alliance", b->alliance, strlen(b->alliance));
	put_int(root, "treaty", (json_int_t)b->treaty_version);
	put_str(root, "member", b->member, strlen(b->member));
	for (size_t i = 0; i < b->n; i++)
		json_array_append_new(items, report_json(&b->items[i], fix));
	json_object_set_new_nocheck(root, "reports", items);
	return root;
}

int report_encode(const struct report_batch *b, const struct signer *s, uint8_t *out, size_t cap, size_t *len,
		  char *err, size_t errlen)
{
	if (check_batch(b, err, errlen) != 0) {
		errno = EINVAL;
		return -1;
	}
	size_t room = cap < REPORT_MAX_MESSAGE ? cap : REPORT_MAX_MESSAGE;
	if (room <= SIGNER_SIGNATURE_BYTES) {
		snprintf(err, errlen, "output buffer too small");
		errno = E2BIG;
		return -1;
	}
	json_t *root = batch_json(b, true);
	size_t n = json_dumpb(root, (char *)out + SIGNER_SIGNATURE_BYTES, room - SIGNER_SIGNATURE_BYTES, CANONICAL_FLAGS);
	json_decref(root);
	if (n == 0 || n > room - SIGNER_SIGNATURE_BYTES) {
		if (n)
			snprintf(err, errlen, "the batch takes %zu bytes, more than %zu: send fewer reports at once",
				 n + SIGNER_SIGNATURE_BYTES, room);
		else
			snprintf(err, errlen, "encoding failed");
		errno = n ? E2BIG : ENOMEM;
		return -1;
	}
	signer_sign(s, REPORT_CONTEXT, out + SIGNER_SIGNATURE_BYTES, n, out);
	*len = SIGNER_SIGNATURE_BYTES + n;
	return 0;
}

/* ---- decoding ---- */

struct decoder {
	char *why;
	size_t whylen;
};

static enum report_error refuse(struct decoder *d, enum report_error e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum report_error refuse(struct decoder *d, enum report_error e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->why, d->whylen, fmt, ap);
	va_end(ap);
	return e;
}

/* An integer member of o in [min, max]. */
static bool get_int(json_t *o, const char *key, json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return *out >= min && *out <= max;
}

/* A string member of o of 1..max bytes, copied into out[max + 1]. */
static bool get_str(json_t *o, const char *key, size_t max, char *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > max)
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static const char *decode_evidence(json_t *ev, struct report *r)
{
	json_int_t v;
	json_t *lines = json_object_get(ev, "lines"), *line;
	if (!json_is_object(ev) || json_object_size(ev) != 4)
		return "evidence: not an object of attempts, first_seen, last_seen, lines";
	if (!get_int(ev, "attempts", 0, UINT32_MAX, &v))
		return "evidence.attempts: missing, not an integer or out of range";
	r->attempts = (unsigned)v;
	json_int_t first, last;
	if (!get_int(ev, "first_seen", 0, INT64_MAX, &first) || !get_int(ev, "last_seen", 0, INT64_MAX, &last))
		return "evidence.first_seen/last_seen: missing, not an integer or negative";
	r->first_seen_us = first;
	r->last_seen_us = last;
	if (!json_is_array(lines) || json_array_size(lines) > REPORT_MAX_LINES)
		return "evidence.lines: not a list of at most 4 lines";
	size_t i;
	r->nlines = json_array_size(lines);
	json_array_foreach(lines, i, line) {
		if (!json_is_string(line) || json_string_length(line) > REPORT_MAX_LINE)
			return "evidence.lines: a line is not a string of at most 256 bytes";
		memcpy(r->lines[i], json_string_value(line), json_string_length(line) + 1);
	}
	return NULL;
}

static const char *decode_report(json_t *o, struct report *r)
{
	json_int_t v;
	char text[ADDR_STRLEN];
	if (!json_is_object(o) || json_object_size(o) != 7)
		return "not an object of exactly seq, time, action, address, scenario, duration_s, evidence";
	if (!get_int(o, "seq", 1, INT64_MAX, &v))
		return "seq: missing, not an integer or below 1";
	r->seq = (uint64_t)v;
	if (!get_int(o, "time", 0, INT64_MAX, &v))
		return "time: missing, not an integer or negative";
	r->time_us = v;
	const char *action = json_string_value(json_object_get(o, "action"));
	r->action = !action ? 0 : strcmp(action, "sanction") == 0 ? REPORT_SANCTION : strcmp(action, "lift") == 0 ? REPORT_LIFT : 0;
	if (!r->action)
		return "action: not \"sanction\" or \"lift\"";
	if (!get_str(o, "address", ADDR_STRLEN - 1, text) || addr_parse_cidr(text, &r->addr) != 0)
		return "address: not an address or prefix (or bits set past the prefix)";
	if (!get_str(o, "scenario", REPORT_MAX_SCENARIO, r->scenario))
		return "scenario: not a string of 1 to 64 bytes";
	if (!get_int(o, "duration_s", 0, MAX_DURATION_S, &v))
		return "duration_s: missing, not an integer or out of range";
	r->duration_s = (uint32_t)v;
	return decode_evidence(json_object_get(o, "evidence"), r);
}

static enum report_error decode_root(struct decoder *d, json_t *root, struct report_batch *b)
{
	json_int_t v;
	json_t *items = json_object_get(root, "reports"), *item;
	if (!json_is_object(root))
		return refuse(d, REPORT_MALFORMED, "not a JSON object");
	/* Before anything else: a later version may have other fields. */
	if (!get_int(root, "v", REPORT_VERSION, REPORT_VERSION, &v))
		return refuse(d, json_is_integer(json_object_get(root, "v")) ? REPORT_BAD_VERSION : REPORT_MALFORMED,
			      "v: not version %d", REPORT_VERSION);
	if (json_object_size(root) != 5 || !json_is_array(items))
		return refuse(d, REPORT_MALFORMED, "not an object of exactly v, alliance, treaty, member, reports");
	if (!get_str(root, "alliance", TREATY_MAX_ID, b->alliance) || !get_str(root, "member", TREATY_MAX_ID, b->member))
		return refuse(d, REPORT_MALFORMED, "alliance or member: missing or not an id");
	if (!get_int(root, "treaty", 1, MAX_TREATY_VERSION, &v))
		return refuse(d, REPORT_MALFORMED, "treaty: missing, not an integer or out of range");
	b->treaty_version = (uint64_t)v;
	if (json_array_size(items) < 1 || json_array_size(items) > REPORT_MAX_ITEMS)
		return refuse(d, REPORT_MALFORMED, "reports: %zu reports, not 1..%d", json_array_size(items),
			      REPORT_MAX_ITEMS);
	size_t i;
	b->n = json_array_size(items);
	json_array_foreach(items, i, item) {
		const char *why = decode_report(item, &b->items[i]);
		if (why)
			return refuse(d, REPORT_MALFORMED, "reports[%zu].%s", i, why);
	}
	char err[160];
	if (check_batch(b, err, sizeof(err)) != 0)
		return refuse(d, REPORT_MALFORMED, "%s", err);
	return REPORT_OK;
}

/* The payload must be exactly what report_encode writes for what it says. */
static enum report_error check_canonical(struct decoder *d, const struct report_batch *b, const uint8_t *payload,
					 size_t len)
{
	char *again = malloc(len);
	if (!again)
		return refuse(d, REPORT_MALFORMED, "out of memory");
	json_t *root = batch_json(b, false);
	size_t n = json_dumpb(root, again, len, CANONICAL_FLAGS);
	json_decref(root);
	bool same = n == len && memcmp(again, payload, len) == 0;
	free(again);
	return same ? REPORT_OK : refuse(d, REPORT_NOT_CANONICAL, "valid, but not in canonical form");
}

bool report_decode_fast(const uint8_t *payload, size_t len, struct report_batch *out)
{
	char err[160];
	if (report_canon_read((const char *)payload, len, out) != 0 || check_batch(out, err, sizeof(err)) != 0)
		return false;
	char *again = malloc(len);
	size_t n = again ? report_canon_write(out, again, len) : 0;
	bool same = n == len && memcmp(again, payload, len) == 0;
	free(again);
	return same;
}

enum report_error report_decode_json(const uint8_t *payload, size_t len, struct report_batch *out, char *why,
				     size_t whylen)
{
	struct decoder d = {why, whylen};
	json_error_t je;
	json_t *root = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return refuse(&d, REPORT_MALFORMED, "not JSON: %s at byte %d", je.text, je.position);
	enum report_error e = decode_root(&d, root, out);
	json_decref(root);
	if (e != REPORT_OK)
		return e;
	e = check_canonical(&d, out, payload, len);
	if (e == REPORT_OK && whylen)
		why[0] = '\0';
	return e;
}

enum report_error report_decode(const uint8_t *msg, size_t len, const uint8_t key[SIGNER_PUBLIC_BYTES],
				struct report_batch *out, char *why, size_t whylen)
{
	struct decoder d = {why, whylen};
	if (len > REPORT_MAX_MESSAGE)
		return refuse(&d, REPORT_TOO_BIG, "%zu bytes, more than %d", len, REPORT_MAX_MESSAGE);
	if (len <= SIGNER_SIGNATURE_BYTES)
		return refuse(&d, REPORT_BAD_SIGNATURE, "%zu bytes: too short for a signed report", len);
	const uint8_t *payload = msg + SIGNER_SIGNATURE_BYTES;
	size_t plen = len - SIGNER_SIGNATURE_BYTES;
	if (!signer_verify(key, REPORT_CONTEXT, payload, plen, msg))
		return refuse(&d, REPORT_BAD_SIGNATURE, "the signature does not verify with the member's key");
	/* The hand-written reader takes what is canonical, at a tenth of the
	 * cost; whatever it does not take, jansson decides, and says why. */
	if (report_decode_fast(payload, plen, out)) {
		if (whylen)
			why[0] = '\0';
		return REPORT_OK;
	}
	return report_decode_json(payload, plen, out, why, whylen);
}

static bool report_same(const struct report *x, const struct report *y)
{
	if (x->seq != y->seq || x->time_us != y->time_us || x->action != y->action ||
	    !addr_equal(&x->addr, &y->addr) || strcmp(x->scenario, y->scenario) != 0 ||
	    x->duration_s != y->duration_s || x->attempts != y->attempts ||
	    x->first_seen_us != y->first_seen_us || x->last_seen_us != y->last_seen_us || x->nlines != y->nlines)
		return false;
	for (size_t j = 0; j < x->nlines; j++)
		if (strcmp(x->lines[j], y->lines[j]) != 0)
			return false;
	return true;
}

bool report_batch_same(const struct report_batch *a, const struct report_batch *b)
{
	if (strcmp(a->alliance, b->alliance) != 0 || strcmp(a->member, b->member) != 0 ||
	    a->treaty_version != b->treaty_version || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!report_same(&a->items[i], &b->items[i]))
			return false;
	return true;
}
