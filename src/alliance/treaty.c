/* treaty.c: the alliance's treaty: load, check, amend, sign, save (see treaty.h).
 * Why: a report from an ally is trusted only through this document, so it
 * is read as strictly as a hostile input and written in one canonical form
 * that every member signs byte for byte.
 * Guarantees: a loaded or amended treaty keeps the invariants below (members
 * sorted by id, ids and keys unique, protected ranges canonical, sorted and
 * unique, every number inside its bounds); a file is refused whole, with
 * every error as "file:line: key: message".
 * Never: holds a secret key (signing goes through signer.c). */
#include "alliance/treaty.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/regfile.h"
#include "common/utf8.h"
#include "common/xalloc.h"
#include "common/yaml_util.h"

#define TREATY_CONTEXT "pacto-treaty-v1"
#define MAX_WEIGHT 1000
#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* ---- the rules: one table for the file, treaty_set and their bounds ---- */

struct rule {
	const char *key;        /* in the file */
	const char *name;       /* for treaty_set */
	bool duration;          /* treaty_set takes 600, 10m, 7d */
	uint32_t min, max;
	size_t off;             /* a uint32_t-sized field of struct treaty */
};

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "rule fields are 32-bit");

static const struct rule rules[] = {
	{"quorum", "quorum", false, 1, TREATY_MAX_MEMBERS * MAX_WEIGHT, offsetof(struct treaty, quorum)},
	{"max_duration_s", "max_duration", true, 1, 366u * 86400, offsetof(struct treaty, max_duration_s)},
	{"widest_v4", "widest_v4", false, 8, 32, offsetof(struct treaty, widest_v4)},
	{"widest_v6", "widest_v6", false, 16, 128, offsetof(struct treaty, widest_v6)},
	{"rate_per_min", "rate_per_min", false, 1, 1000000, offsetof(struct treaty, rate_per_min)},
	{"burst", "burst", false, 1, 1000000, offsetof(struct treaty, burst)},
	{"skew_s", "skew", true, 0, 3600, offsetof(struct treaty, skew_s)},
};
#define NRULES (sizeof(rules) / sizeof(*rules))

static uint32_t rule_get(const struct treaty *t, const struct rule *r)
{
	uint32_t v;
	memcpy(&v, (const char *)t + r->off, sizeof(v));
	return v;
}

static void rule_put(struct treaty *t, const struct rule *r, uint32_t v)
{
	memcpy((char *)t + r->off, &v, sizeof(v));
}

/* ---- small pieces ---- */

bool treaty_id_valid(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++) {
		char c = id[n];
		if (n == TREATY_MAX_ID ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

static uint64_t total_weight(const struct treaty *t)
{
	uint64_t w = 0;
	for (size_t i = 0; i < t->nmembers; i++)
		w += t->members[i].weight;
	return w;
}

/* Orders ranges by family, then bytes, then prefix: the canonical order. */
static int addr_cmp(const void *a, const void *b)
{
	const struct addr *x = a, *y = b;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	int c = memcmp(x->bytes, y->bytes, 16);
	if (c)
		return c;
	return (x->prefix > y->prefix) - (x->prefix < y->prefix);
}

static int member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct treaty_member *)a)->id, ((const struct treaty_member *)b)->id);
}

/* Sorts ranges in place; returns the index of a duplicate, or -1. */
static long sort_ranges(struct addr *r, size_t n)
{
	if (n > 1)
		qsort(r, n, sizeof(*r), addr_cmp);
	for (size_t i = 1; i < n; i++)
		if (addr_equal(&r[i - 1], &r[i]))
			return (long)i;
	return -1;
}

/* Every amendment goes through here: a new version, nobody's signature. */
static void amended(struct treaty *t)
{
	t->version++;
	for (size_t i = 0; i < t->nmembers; i++) {
		t->members[i].has_signature = false;
		t->members[i].signed_current = false;
	}
}

/* The members array is the treaty's even when t is const: these return it
 * writable for the amendments, without a cast. */
static struct treaty_member *find_member(const struct treaty *t, const char *id)
{
	struct treaty_member key;
	if (t->nmembers == 0 || strlen(id) > TREATY_MAX_ID)   /* members may be NULL then */
		return NULL;
	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, t->members, t->nmembers, sizeof(*t->members), member_cmp);
}

static struct treaty_member *find_key(const struct treaty *t, const uint8_t key[SIGNER_PUBLIC_BYTES])
{
	for (size_t i = 0; i < t->nmembers; i++)
		if (memcmp(t->members[i].key, key, SIGNER_PUBLIC_BYTES) == 0)
			return &t->members[i];
	return NULL;
}

const struct treaty_member *treaty_member_by_id(const struct treaty *t, const char *id)
{
	return find_member(t, id);
}

const struct treaty_member *treaty_member_by_key(const struct treaty *t, const uint8_t key[SIGNER_PUBLIC_BYTES])
{
	return find_key(t, key);
}

/* Overlap both ways: the report's address inside a protected range, or a
 * report's prefix covering one. Linear: fine for hundreds of ranges. */
const struct treaty_member *treaty_protector(const struct treaty *t, const struct addr *a)
{
	for (size_t i = 0; i < t->nmembers; i++)
		for (size_t j = 0; j < t->members[i].nprotect; j++) {
			const struct addr *p = &t->members[i].protect[j];
			if (addr_contains(p, a) || addr_contains(a, p))
				return &t->members[i];
		}
	return NULL;
}

/* ---- new, free ---- */

struct treaty *treaty_new(const char *alliance, char *err, size_t errlen)
{
	if (!treaty_id_valid(alliance)) {
		snprintf(err, errlen, "alliance name '%s': use 1 to %d characters of A-Z a-z 0-9 _ -", alliance,
			 TREATY_MAX_ID);
		return NULL;
	}
	struct treaty *t = xcalloc(1, sizeof(*t));
	snprintf(t->alliance, sizeof(t->alliance), "%s", alliance);
	t->version = 1;
	t->quorum = TREATY_DEFAULT_QUORUM;
	t->max_duration_s = TREATY_DEFAULT_MAX_DURATION_S;
	t->widest_v4 = TREATY_DEFAULT_WIDEST_V4;
	t->widest_v6 = TREATY_DEFAULT_WIDEST_V6;
	t->rate_per_min = TREATY_DEFAULT_RATE_PER_MIN;
	t->burst = TREATY_DEFAULT_BURST;
	t->skew_s = TREATY_DEFAULT_SKEW_S;
	return t;
}

void treaty_free(struct treaty *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nmembers; i++)
		free(t->members[i].protect);
	free(t->members);
	free(t);
}

/* ---- canonical encoding ---- */

static json_t *member_json(const struct treaty_member *m)
{
	char key[SIGNER_PUBLIC_TEXT], text[ADDR_STRLEN];
	json_t *protect = json_array();
	for (size_t i = 0; i < m->nprotect; i++)
		json_array_append_new(protect, json_string(addr_format(&m->protect[i], text, sizeof(text))));
	signer_key_format(m->key, key);
	return json_pack("{s:s, s:s, s:I, s:o}", "id", m->id, "key", key, "weight", (json_int_t)m->weight, "protect",
			 protect);
}

static json_t *body_json(const struct treaty *t)
{
	json_t *body = json_pack("{s:s, s:I}", "alliance", t->alliance, "version", (json_int_t)t->version);
	for (size_t i = 0; i < NRULES; i++)
		json_object_set_new(body, rules[i].key, json_integer(rule_get(t, &rules[i])));
	json_t *members = json_array();
	for (size_t i = 0; i < t->nmembers; i++)
		json_array_append_new(members, member_json(&t->members[i]));
	json_object_set_new(body, "members", members);
	return body;
}

int treaty_canonical(const struct treaty *t, char **out, size_t *len)
{
	json_t *body = body_json(t);
	*out = json_dumps(body, CANONICAL_FLAGS);
	json_decref(body);
	if (!*out)
		return -1;
	*len = strlen(*out);
	return 0;
}

/* Checks every member's signature against the current body. */
static void check_signatures(struct treaty *t)
{
	char *body;
	size_t len;
	bool ok = treaty_canonical(t, &body, &len) == 0;
	for (size_t i = 0; i < t->nmembers; i++) {
		struct treaty_member *m = &t->members[i];
		m->signed_current = ok && m->has_signature &&
				    signer_verify(m->key, TREATY_CONTEXT, body, len, m->signature);
	}
	free(ok ? body : NULL);
}

/* ---- in force, signing ---- */

bool treaty_in_force(const struct treaty *t, char *why, size_t whylen)
{
	size_t n = 0;
	if (t->nmembers == 0) {
		snprintf(why, whylen, "the treaty has no members");
		return false;
	}
	why[0] = '\0';
	for (size_t i = 0; i < t->nmembers; i++) {
		const struct treaty_member *m = &t->members[i];
		if (m->signed_current)
			continue;
		size_t used = strlen(why);
		snprintf(why + used, whylen - used, "%s%s%s", n++ ? ", " : "not signed by ", m->id,
			 m->has_signature ? " (signature of another version, or bad)" : "");
	}
	return n == 0;
}

int treaty_sign(struct treaty *t, const struct signer *s, char *err, size_t errlen)
{
	struct treaty_member *m = find_key(t, signer_public_key(s));
	char *body;
	size_t len;
	if (!m) {
		char key[SIGNER_PUBLIC_TEXT];
		signer_key_format(signer_public_key(s), key);
		snprintf(err, errlen, "key %s is not a member's key in this treaty", key);
		return -1;
	}
	if (treaty_canonical(t, &body, &len) != 0) {
		snprintf(err, errlen, "encoding the treaty failed");
		return -1;
	}
	signer_sign(s, TREATY_CONTEXT, body, len, m->signature);
	free(body);
	m->has_signature = m->signed_current = true;
	return 0;
}

/* ---- amendments ---- */

static int check_ranges(const struct addr *protect, size_t n, char *err, size_t errlen)
{
	if (n > TREATY_MAX_PROTECT) {
		snprintf(err, errlen, "%zu protected ranges: at most %d per member", n, TREATY_MAX_PROTECT);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct addr masked = protect[i];
		bool fam = protect[i].family == AF_INET || protect[i].family == AF_INET6;
		if (fam)
			addr_mask(&masked, protect[i].prefix);
		if (!fam || protect[i].prefix > addr_max_prefix(&protect[i]) || !addr_equal(&masked, &protect[i])) {
			snprintf(err, errlen, "protected range %zu is not a valid address or prefix", i + 1);
			return -1;
		}
	}
	return 0;
}

int treaty_add_member(struct treaty *t, const char *id, const uint8_t key[SIGNER_PUBLIC_BYTES], unsigned weight,
		      const struct addr *protect, size_t nprotect, char *err, size_t errlen)
{
	char text[ADDR_STRLEN];
	if (!treaty_id_valid(id)) {
		snprintf(err, errlen, "member id '%s': use 1 to %d characters of A-Z a-z 0-9 _ -", id, TREATY_MAX_ID);
		return -1;
	}
	const struct treaty_member *holder = treaty_member_by_key(t, key);
	if (find_member(t, id) || holder) {
		snprintf(err, errlen, holder ? "this key is already member %s's" : "member %s exists already",
			 holder ? holder->id : id);
		return -1;
	}
	if (weight < 1 || weight > MAX_WEIGHT || t->nmembers >= TREATY_MAX_MEMBERS) {
		if (t->nmembers >= TREATY_MAX_MEMBERS)
			snprintf(err, errlen, "the treaty has %d members already: the most it can hold",
				 TREATY_MAX_MEMBERS);
		else
			snprintf(err, errlen, "weight %u is out of range (1..%d)", weight, MAX_WEIGHT);
		return -1;
	}
	if (check_ranges(protect, nprotect, err, errlen) != 0)
		return -1;
	struct addr *copy = nprotect ? xreallocarray(NULL, nprotect, sizeof(*copy)) : NULL;
	if (nprotect)
		memcpy(copy, protect, nprotect * sizeof(*copy));
	long dup = sort_ranges(copy, nprotect);
	if (dup >= 0) {
		snprintf(err, errlen, "protected range %s is listed twice", addr_format(&copy[dup], text, sizeof(text)));
		free(copy);
		return -1;
	}
	t->members = xreallocarray(t->members, t->nmembers + 1, sizeof(*t->members));
	struct treaty_member *m = &t->members[t->nmembers++];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	memcpy(m->key, key, SIGNER_PUBLIC_BYTES);
	m->weight = weight;
	m->protect = copy;
	m->nprotect = nprotect;
	qsort(t->members, t->nmembers, sizeof(*t->members), member_cmp);
	amended(t);
	return 0;
}

int treaty_remove_member(struct treaty *t, const char *id, char *err, size_t errlen)
{
	struct treaty_member *m = find_member(t, id);
	if (!m) {
		snprintf(err, errlen, "no member %s in this treaty", id);
		return -1;
	}
	uint64_t left = total_weight(t) - m->weight;
	if (t->nmembers > 1 && t->quorum > left) {
		snprintf(err, errlen, "the quorum (%u) would exceed the remaining members' total weight (%llu): lower it first",
			 t->quorum, (unsigned long long)left);
		return -1;
	}
	free(m->protect);
	size_t i = (size_t)(m - t->members);
	memmove(m, m + 1, (t->nmembers - i - 1) * sizeof(*m));
	t->nmembers--;
	amended(t);
	return 0;
}

int treaty_set_key(struct treaty *t, const char *id, const uint8_t key[SIGNER_PUBLIC_BYTES], char *err,
		   size_t errlen)
{
	struct treaty_member *m = find_member(t, id);
	const struct treaty_member *holder = treaty_member_by_key(t, key);
	if (!m || holder) {
		if (!m)
			snprintf(err, errlen, "no member %s in this treaty", id);
		else
			snprintf(err, errlen, holder == m ? "member %s has this key already" : "this key is member %s's",
				 holder->id);
		return -1;
	}
	memcpy(m->key, key, SIGNER_PUBLIC_BYTES);
	amended(t);
	return 0;
}

/* a and b are the same name, '-' taken as '_' (--max-duration is max_duration). */
static bool same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if ((*a == '-' ? '_' : *a) != (*b == '-' ? '_' : *b))
			return false;
	return *a == *b;
}

static const struct rule *rule_by_name(const char *name)
{
	for (size_t i = 0; i < NRULES; i++)
		if (same_name(rules[i].name, name) || same_name(rules[i].key, name))
			return &rules[i];
	return NULL;
}

/* A decimal number or (for durations) 600, 90s, 10m, 2h, 7d, 1w, in
 * seconds. -1 when value is neither, -2 when it is one too large to hold. */
static int rule_value(const struct rule *r, const char *value, uint64_t *out)
{
	if (r->duration) {
		int64_t us;
		int rc = parse_duration(value, &us);
		if (rc != 0)
			return rc;
		*out = (uint64_t)(us / 1000000);
		return 0;
	}
	char *end;
	if (*value < '0' || *value > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (*end)
		return -1;
	if (errno)
		return -2;
	*out = v;
	return 0;
}

/* Text from the command line, shown whole in a message unless it is very
 * long: then its first SHOWN_MAX bytes, cut between characters, and "...". */
#define SHOWN_MAX 100

static const char *shown(const char *text, char out[SHOWN_MAX + 4])
{
	size_t n = utf8_prefix(text, SHOWN_MAX);
	snprintf(out, SHOWN_MAX + 4, "%.*s%s", (int)n, text, text[n] ? "..." : "");
	return out;
}

int treaty_set(struct treaty *t, const char *name, const char *value, char *err, size_t errlen)
{
	const struct rule *r = rule_by_name(name);
	char text[SHOWN_MAX + 4];
	uint64_t v;
	if (!r) {
		snprintf(err, errlen, "unknown setting '%s' (quorum, max_duration, widest_v4, widest_v6, rate_per_min, "
			 "burst, skew)", shown(name, text));
		return -1;
	}
	int rc = rule_value(r, value, &v);
	if (rc == -1) {
		snprintf(err, errlen, "%s: '%s' is not %s", r->name, shown(value, text),
			 r->duration ? "a duration (e.g. 600, 90s, 10m, 2h, 7d)" : "a whole number");
		return -1;
	}
	/* Past what a number or a duration can hold (-2) is out of range too. */
	if (rc == -2 || v < r->min || v > r->max) {
		if (rc == 0)
			snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
		snprintf(err, errlen, "%s: %s is out of range (%u..%u%s)", r->name, rc ? shown(value, text) : text,
			 r->min, r->max, r->duration ? " seconds" : "");
		return -1;
	}
	if (r->off == offsetof(struct treaty, quorum) && t->nmembers && v > total_weight(t)) {
		snprintf(err, errlen, "quorum: %llu is more than the members' total weight (%llu)",
			 (unsigned long long)v, (unsigned long long)total_weight(t));
		return -1;
	}
	if (rule_get(t, r) == v)   /* no change, no amendment: signatures stay */
		return 0;
	rule_put(t, r, (uint32_t)v);
	amended(t);
	return 0;
}

/* ---- saving ---- */

static json_t *file_json(const struct treaty *t)
{
	json_t *sigs = json_object();
	for (size_t i = 0; i < t->nmembers; i++) {
		char text[SIGNER_SIGNATURE_TEXT];
		if (!t->members[i].has_signature)
			continue;
		sodium_bin2base64(text, sizeof(text), t->members[i].signature, SIGNER_SIGNATURE_BYTES,
				  sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(sigs, t->members[i].id, json_string(text));
	}
	return json_pack("{s:o, s:o}", "treaty", body_json(t), "signatures", sigs);
}

/* Writes text to a temporary file beside path, then renames it over path,
 * so a reader sees the old treaty or the new one, never half of one. */
static int write_atomic(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
		return -1;
	}
	bool ok = fchmod(fd, 0644) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	int saved = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (!ok || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: write failed: %s", path, strerror(ok ? errno : saved));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int treaty_save(const struct treaty *t, const char *path, char *err, size_t errlen)
{
	json_t *root = file_json(t);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(root);
	if (!text) {
		snprintf(err, errlen, "%s: encoding the treaty failed", path);
		return -1;
	}
	size_t len = strlen(text);
	text = xreallocarray(text, len + 2, 1);
	text[len++] = '\n';
	int rc = write_atomic(path, text, len, err, errlen);
	free(text);
	return rc;
}

/* ---- loading ----
 * jansson gives a line only for syntax errors. For the others, locate()
 * walks the (already valid) text along the same path as the checks to find
 * the line of the value at fault: error messages then point where a person
 * would look. */

struct loader {
	const char *file, *text;
	size_t len;
	struct errors *errs;
	size_t nerrs_at_start;
};

static size_t skip_ws(const char *t, size_t len, size_t p)
{
	while (p < len && (t[p] == ' ' || t[p] == '\t' || t[p] == '\n' || t[p] == '\r'))
		p++;
	return p;
}

/* Offset just past the string or value starting at p. */
static size_t skip_value(const char *t, size_t len, size_t p)
{
	int depth = 0;
	bool in_string = false;
	for (; p < len; p++) {
		char c = t[p];
		if (in_string) {
			if (c == '\\')
				p++;
			else if (c == '"' && (in_string = false, depth == 0))
				return p + 1;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return p;     /* the end of the enclosing value: a scalar ended */
			if (--depth == 0)
				return p + 1;
		} else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r')) {
			return p;
		}
	}
	return p;
}

/* Offset of the value of key in the object at p, or SIZE_MAX. */
static size_t locate_key(const char *t, size_t len, size_t p, const char *key)
{
	if (p >= len || t[p] != '{')
		return SIZE_MAX;
	size_t klen = strlen(key);
	for (p = skip_ws(t, len, p + 1); p < len && t[p] == '"';) {
		size_t end = skip_value(t, len, p);
		bool match = end - p == klen + 2 && memcmp(t + p + 1, key, klen) == 0;
		p = skip_ws(t, len, skip_ws(t, len, end) + 1);   /* past the ':' */
		if (match)
			return p;
		p = skip_ws(t, len, skip_value(t, len, p));
		if (p < len && t[p] == ',')
			p = skip_ws(t, len, p + 1);
	}
	return SIZE_MAX;
}

/* Offset of item i of the array at p, or SIZE_MAX. */
static size_t locate_item(const char *t, size_t len, size_t p, size_t i)
{
	if (p >= len || t[p] != '[')
		return SIZE_MAX;
	for (p = skip_ws(t, len, p + 1); p < len && t[p] != ']'; i--) {
		if (i == 0)
			return p;
		p = skip_ws(t, len, skip_value(t, len, p));
		if (p < len && t[p] == ',')
			p = skip_ws(t, len, p + 1);
	}
	return SIZE_MAX;
}

static unsigned line_at(const struct loader *ld, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off && i < ld->len; i++)
		line += ld->text[i] == '\n';
	return line;
}

static void load_error(struct loader *ld, size_t off, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void load_error(struct loader *ld, size_t off, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errors_add(ld->errs, "%s:%u: %s: %s", ld->file, line_at(ld, off == SIZE_MAX ? 0 : off), key, msg);
}

/* Where in the text a checked value is: its offset, and its path for messages. */
struct at {
	size_t off;
	char path[96];
};

static struct at at_key(struct loader *ld, const struct at *obj, const char *key)
{
	struct at a;
	size_t off = locate_key(ld->text, ld->len, obj->off, key);
	a.off = off == SIZE_MAX ? obj->off : off;
	if ((size_t)snprintf(a.path, sizeof(a.path), "%s%s%s", obj->path, obj->path[0] ? "." : "", key) >= sizeof(a.path))
		a.path[sizeof(a.path) - 1] = '\0';   /* a long unknown key: its start is enough */
	return a;
}

static struct at at_item(struct loader *ld, const struct at *arr, size_t i)
{
	struct at a;
	size_t off = locate_item(ld->text, ld->len, arr->off, i);
	a.off = off == SIZE_MAX ? arr->off : off;
	if ((size_t)snprintf(a.path, sizeof(a.path), "%s[%zu]", arr->path, i) >= sizeof(a.path))
		a.path[sizeof(a.path) - 1] = '\0';
	return a;
}

/* Reports every key of obj not in allowed, and every allowed one missing. */
static void check_keys(struct loader *ld, json_t *obj, const struct at *where, const char *const *allowed, size_t n)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		size_t i = 0;
		while (i < n && strcmp(allowed[i], key) != 0)
			i++;
		if (i == n) {
			struct at a = at_key(ld, where, key);
			load_error(ld, a.off, a.path, "unknown key");
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, allowed[i]))
			load_error(ld, where->off, where->path[0] ? where->path : "(top)", "missing key '%s'", allowed[i]);
}

/* An integer in [min, max]; false (reported unless missing) otherwise. */
static bool get_uint(struct loader *ld, json_t *obj, const struct at *where, const char *key, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return false;   /* check_keys said it */
	struct at a = at_key(ld, where, key);
	json_int_t i = json_integer_value(v);
	if (!json_is_integer(v)) {
		load_error(ld, a.off, a.path, "not an integer");
		return false;
	}
	if (i < 0 || (uint64_t)i < min || (uint64_t)i > max) {
		load_error(ld, a.off, a.path, "%lld is out of range (%llu..%llu)", (long long)i, (unsigned long long)min,
			   (unsigned long long)max);
		return false;
	}
	*out = (uint64_t)i;
	return true;
}

static const char *get_string(struct loader *ld, json_t *obj, const struct at *where, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (v && !json_is_string(v)) {
		struct at a = at_key(ld, where, key);
		load_error(ld, a.off, a.path, "not a string");
	}
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool get_id(struct loader *ld, json_t *obj, const struct at *where, const char *key, char out[TREATY_MAX_ID + 1])
{
	const char *s = get_string(ld, obj, where, key);
	if (!s)
		return false;
	if (!treaty_id_valid(s)) {
		struct at a = at_key(ld, where, key);
		load_error(ld, a.off, a.path, "'%.80s' is not 1 to %d characters of A-Z a-z 0-9 _ -", s, TREATY_MAX_ID);
		return false;
	}
	snprintf(out, TREATY_MAX_ID + 1, "%s", s);
	return true;
}

static void load_ranges(struct loader *ld, json_t *arr, const struct at *where, struct treaty_member *m)
{
	if (!json_is_array(arr) || json_array_size(arr) > TREATY_MAX_PROTECT) {
		if (json_is_array(arr))
			load_error(ld, where->off, where->path, "more than %d ranges", TREATY_MAX_PROTECT);
		else
			load_error(ld, where->off, where->path, "not a list");
		return;
	}
	m->protect = xreallocarray(NULL, json_array_size(arr) + 1, sizeof(*m->protect));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		struct at a = at_item(ld, where, i);
		int rc = json_is_string(v) ? addr_parse_cidr(json_string_value(v), &m->protect[m->nprotect]) : -1;
		if (rc == 0)
			m->nprotect++;
		else
			load_error(ld, a.off, a.path, "'%.80s' %s", json_is_string(v) ? json_string_value(v) : "(not a string)",
				   rc == -2 ? "has bits set past its prefix length" : "is not an address or ADDRESS/LEN");
	}
	char text[ADDR_STRLEN];
	long dup = sort_ranges(m->protect, m->nprotect);
	if (dup >= 0)
		load_error(ld, where->off, where->path, "%s is listed twice",
			   addr_format(&m->protect[dup], text, sizeof(text)));
}

static void load_member(struct loader *ld, json_t *obj, const struct at *where, struct treaty_member *m)
{
	static const char *const keys[] = {"id", "key", "weight", "protect"};
	if (!json_is_object(obj)) {
		load_error(ld, where->off, where->path, "not an object");
		return;
	}
	check_keys(ld, obj, where, keys, 4);
	get_id(ld, obj, where, "id", m->id);
	const char *key = get_string(ld, obj, where, "key");
	if (key && signer_key_parse(key, m->key) != 0) {
		struct at a = at_key(ld, where, "key");
		load_error(ld, a.off, a.path, "'%.80s' is not a public key (44 characters of base64)", key);
	}
	uint64_t w;
	if (get_uint(ld, obj, where, "weight", 1, MAX_WEIGHT, &w))
		m->weight = (unsigned)w;
	if (json_object_get(obj, "protect")) {
		struct at a = at_key(ld, where, "protect");
		load_ranges(ld, json_object_get(obj, "protect"), &a, m);
	}
}

/* After sorting by id: neighbours with one id, and any two with one key. */
static void check_unique(struct loader *ld, struct treaty *t, const struct at *where)
{
	qsort(t->members, t->nmembers, sizeof(*t->members), member_cmp);
	for (size_t i = 0; i < t->nmembers; i++) {
		if (i && t->members[i].id[0] && strcmp(t->members[i - 1].id, t->members[i].id) == 0)
			load_error(ld, where->off, where->path, "member id %s appears twice", t->members[i].id);
		for (size_t j = 0; j < i; j++)
			if (memcmp(t->members[i].key, t->members[j].key, SIGNER_PUBLIC_BYTES) == 0)
				load_error(ld, where->off, where->path, "members %s and %s have the same key",
					   t->members[j].id, t->members[i].id);
	}
}

static void load_members(struct loader *ld, json_t *arr, const struct at *where, struct treaty *t)
{
	if (!json_is_array(arr) || json_array_size(arr) > TREATY_MAX_MEMBERS) {
		if (json_is_array(arr))
			load_error(ld, where->off, where->path, "more than %d members", TREATY_MAX_MEMBERS);
		else
			load_error(ld, where->off, where->path, "not a list");
		return;
	}
	t->members = xcalloc(json_array_size(arr) + 1, sizeof(*t->members));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v) {
		struct at a = at_item(ld, where, i);
		load_member(ld, v, &a, &t->members[t->nmembers++]);
	}
	check_unique(ld, t, where);
}

static void load_body(struct loader *ld, json_t *body, const struct at *where, struct treaty *t)
{
	static const char *const keys[] = {"alliance", "version", "quorum", "max_duration_s", "widest_v4",
					   "widest_v6", "rate_per_min", "burst", "skew_s", "members"};
	if (!json_is_object(body)) {
		load_error(ld, where->off, where->path, "not an object");
		return;
	}
	check_keys(ld, body, where, keys, sizeof(keys) / sizeof(*keys));
	get_id(ld, body, where, "alliance", t->alliance);
	get_uint(ld, body, where, "version", 1, (uint64_t)1 << 53, &t->version);
	for (size_t i = 0; i < NRULES; i++) {
		uint64_t v;
		if (get_uint(ld, body, where, rules[i].key, rules[i].min, rules[i].max, &v))
			rule_put(t, &rules[i], (uint32_t)v);
	}
	if (json_object_get(body, "members")) {
		struct at a = at_key(ld, where, "members");
		load_members(ld, json_object_get(body, "members"), &a, t);
	}
	if (t->nmembers && t->quorum > total_weight(t)) {
		struct at a = at_key(ld, where, "quorum");
		load_error(ld, a.off, a.path, "%u is more than the members' total weight (%llu)", t->quorum,
			   (unsigned long long)total_weight(t));
	}
}

static void load_signature(struct loader *ld, const char *id, json_t *v, const struct at *where, struct treaty *t)
{
	struct at a = at_key(ld, where, id);
	struct treaty_member *m = find_member(t, id);
	size_t got = 0;
	const char *end = NULL;
	const char *text = json_is_string(v) ? json_string_value(v) : "";
	if (!m) {
		load_error(ld, a.off, a.path, "signed by '%.80s', who is not a member", id);
	} else if (strlen(text) != SIGNER_SIGNATURE_TEXT - 1 ||
		   sodium_base642bin(m->signature, SIGNER_SIGNATURE_BYTES, text, strlen(text), NULL, &got, &end,
				     sodium_base64_VARIANT_ORIGINAL) != 0 ||
		   got != SIGNER_SIGNATURE_BYTES || *end) {
		load_error(ld, a.off, a.path, "not a signature (88 characters of base64)");
	} else {
		m->has_signature = true;
	}
}

static void load_root(struct loader *ld, json_t *root, struct treaty *t)
{
	static const char *const keys[] = {"treaty", "signatures"};
	struct at top = {.off = skip_ws(ld->text, ld->len, 0), .path = ""};
	if (!json_is_object(root)) {
		load_error(ld, top.off, "(top)", "not an object");
		return;
	}
	check_keys(ld, root, &top, keys, 2);
	json_t *body = json_object_get(root, "treaty"), *sigs = json_object_get(root, "signatures");
	struct at a = at_key(ld, &top, "treaty");
	if (body)
		load_body(ld, body, &a, t);
	a = at_key(ld, &top, "signatures");
	if (sigs && !json_is_object(sigs))
		load_error(ld, a.off, a.path, "not an object");
	const char *id;
	json_t *v;
	json_object_foreach(sigs, id, v)
		load_signature(ld, id, v, &a, t);
}

/* Reads path whole, refusing what is not a regular file, what group or
 * others may write (anyone could then rewrite the alliance), and what is
 * larger than TREATY_MAX_FILE. */
static char *read_treaty_file(const char *path, size_t *len, struct errors *errs)
{
	struct stat st;
	const char *why;
	int fd = regfile_open(path, 0, &st, &why);
	if (fd >= 0 && (st.st_mode & 022))
		why = "refused: group or others may write it (chmod 644)";
	else if (fd >= 0 && (size_t)st.st_size > TREATY_MAX_FILE)
		why = "too large";
	char *buf = why ? NULL : xmalloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size + 1) : 0;
	if (buf && n != st.st_size)
		why = n < 0 ? strerror(errno) : "changed while read";
	if (fd >= 0)
		close(fd);
	if (why) {
		errors_add(errs, "%s: %s", path, why);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

struct treaty *treaty_parse(const char *name, const char *text, size_t len, struct errors *errs)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		errors_add(errs, "%s:%d: %s", name, je.line, je.text);
		return NULL;
	}
	struct loader ld = {.file = name, .text = text, .len = len, .errs = errs, .nerrs_at_start = errs->n};
	struct treaty *t = xcalloc(1, sizeof(*t));
	load_root(&ld, root, t);
	json_decref(root);
	if (errs->n != ld.nerrs_at_start) {
		treaty_free(t);
		return NULL;
	}
	check_signatures(t);
	return t;
}

struct treaty *treaty_load(const char *path, struct errors *errs)
{
	size_t len;
	char *text = read_treaty_file(path, &len, errs);
	if (!text)
		return NULL;
	struct treaty *t = treaty_parse(path, text, len, errs);
	free(text);
	return t;
}
