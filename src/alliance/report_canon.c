/* report_canon.c: a report batch's canonical payload, by hand (see
 * report_canon.h for the contract and why).
 * How: the writer appends to a bounded buffer; the reader walks the payload
 * once, matching each fixed piece of the shape (keys in sorted order,
 * punctuation) as one literal and decoding values in between. Both follow
 * jansson's rules for JSON_ENSURE_ASCII strings: '"' and '\\' escaped,
 * \b \f \n \r \t for those controls and \u00XX (upper-case hex) for the
 * others, bytes 0x20-0x7f as they are, every other code point as \uXXXX
 * (a surrogate pair past U+FFFF), never an escaped '/'.
 * Never: trusts a length it has not compared with the end of its buffer. */
#include "alliance/report_canon.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- UTF-8 ---- */

/* The code point of the valid UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF) and its length, or 0. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, *cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, *cp = c & 0x0f, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, *cp = c & 0x07, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	return len;
}

/* Writes code point cp (0x80..0x10ffff, no surrogate) as UTF-8; its length. */
static size_t utf8_put(uint32_t cp, unsigned char *u)
{
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (unsigned char)(0xf0 | (cp >> 18));
	u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	u[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The short escape letter of control or quoting byte c, or 0. */
static char short_escape(unsigned char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '\b': return 'b';
	case '\f': return 'f';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	}
	return 0;
}

/* ---- writing ---- */

struct out {
	char *p, *end;
	bool bad;        /* out of room, or a line was not UTF-8: nothing more is written */
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->bad || (size_t)(o->end - o->p) < n) {
		o->bad = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

#define PUT_LIT(o, s) put((o), (s), sizeof(s) - 1)

/* As jansson writes a json_int_t. */
static void put_int(struct out *o, int64_t v)
{
	char buf[24];
	size_t n = sizeof(buf);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		buf[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[--n] = '-';
	put(o, buf + n, sizeof(buf) - n);
}

static void put_u16(struct out *o, uint32_t v)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[6] = {'\\', 'u', hex[(v >> 12) & 15], hex[(v >> 8) & 15], hex[(v >> 4) & 15], hex[v & 15]};
	put(o, e, sizeof(e));
}

/* One code point that jansson escapes. */
static void put_escape(struct out *o, uint32_t cp)
{
	char e[2] = {'\\', cp < 0x80 ? short_escape((unsigned char)cp) : 0};
	if (e[1])
		put(o, e, sizeof(e));
	else if (cp < 0x10000)
		put_u16(o, cp);
	else {
		put_u16(o, 0xd800 | ((cp - 0x10000) >> 10));
		put_u16(o, 0xdc00 | ((cp - 0x10000) & 0x3ff));
	}
}

static void put_str(struct out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0;
	PUT_LIT(o, "\"");
	while (i < n && !o->bad) {
		size_t run = i;   /* bytes written as they are, in one copy */
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
			run++;
		put(o, s + i, run - i);
		if ((i = run) == n)
			break;
		uint32_t cp;
		size_t len = utf8_next(s + i, n - i, &cp);
		if (len == 0) {
			o->bad = true;
			return;
		}
		put_escape(o, cp);
		i += len;
	}
	PUT_LIT(o, "\"");
}

static void put_report(struct out *o, const struct report *r)
{
	char text[ADDR_STRLEN];
	PUT_LIT(o, "{\"action\":");
	put_str(o, report_action_name(r->action));
	PUT_LIT(o, ",\"address\":");
	put_str(o, addr_format(&r->addr, text, sizeof(text)));
	PUT_LIT(o, ",\"duration_s\":");
	put_int(o, r->duration_s);
	PUT_LIT(o, ",\"evidence\":{\"attempts\":");
	put_int(o, r->attempts);
	PUT_LIT(o, ",\"first_seen\":");
	put_int(o, r->first_seen_us);
	PUT_LIT(o, ",\"last_seen\":");
	put_int(o, r->last_seen_us);
	PUT_LIT(o, ",\"lines\":[");
	for (size_t i = 0; i < r->nlines && i < REPORT_MAX_LINES; i++) {
		if (i)
			PUT_LIT(o, ",");
		put_str(o, r->lines[i]);
	}
	PUT_LIT(o, "]},\"scenario\":");
	put_str(o, r->scenario);
	PUT_LIT(o, ",\"seq\":");
	put_int(o, (int64_t)r->seq);
	PUT_LIT(o, ",\"time\":");
	put_int(o, r->time_us);
	PUT_LIT(o, "}");
}

size_t report_canon_write(const struct report_batch *b, char *out, size_t cap)
{
	struct out o = {out, out + cap, false};
	PUT_LIT(&o, "{\"alliance\":");
	put_str(&o, b->alliance);
	PUT_LIT(&o, ",\"member\":");
	put_str(&o, b->member);
	PUT_LIT(&o, ",\"reports\":[");
	for (size_t i = 0; i < b->n && i < REPORT_MAX_ITEMS; i++) {
		if (i)
			PUT_LIT(&o, ",");
		put_report(&o, &b->items[i]);
	}
	PUT_LIT(&o, "],\"treaty\":");
	put_int(&o, (int64_t)b->treaty_version);
	PUT_LIT(&o, ",\"v\":");
	put_int(&o, REPORT_VERSION);
	PUT_LIT(&o, "}");
	return o.bad ? 0 : (size_t)(o.p - out);
}

/* ---- reading ---- */

struct in {
	const char *p, *end;
};

static bool lit(struct in *c, const char *s, size_t n)
{
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}

#define LIT(c, s) lit((c), (s), sizeof(s) - 1)

/* A decimal integer in 0..max, shortest form (no sign, no leading zero). */
static bool read_int(struct in *c, uint64_t max, uint64_t *v)
{
	const char *q = c->p;
	uint64_t x = 0;
	if (q == c->end || *q < '0' || *q > '9')
		return false;
	if (*q == '0') {
		c->p = q + 1;
		*v = 0;
		return c->p == c->end || *c->p < '0' || *c->p > '9';
	}
	for (; q < c->end && *q >= '0' && *q <= '9'; q++) {
		unsigned d = (unsigned)(*q - '0');
		if (d > max || x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	c->p = q;
	*v = x;
	return true;
}

static bool hex4(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0') : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10) : 16;
		if (d == 16)
			return false;
		*v = (*v << 4) | d;
	}
	return true;
}

/* A \u escape at c->p (6 bytes, 12 for a surrogate pair) that the writer
 * would write; its UTF-8 into u. Returns the length, or 0. */
static size_t read_u_escape(struct in *c, unsigned char *u)
{
	uint32_t v, lo;
	if (c->end - c->p < 6 || !hex4(c->p + 2, &v))
		return 0;
	c->p += 6;
	if (v < 0x20) {   /* a control without a short form; NUL is never in a string */
		if (v == 0 || short_escape((unsigned char)v))
			return 0;
		u[0] = (unsigned char)v;
		return 1;
	}
	if (v < 0x80 || (v >= 0xdc00 && v <= 0xdfff))
		return 0;
	if (v >= 0xd800 && v <= 0xdbff) {
		if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || !hex4(c->p + 2, &lo) || lo < 0xdc00 ||
		    lo > 0xdfff)
			return 0;
		c->p += 6;
		v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
	}
	return utf8_put(v, u);
}

/* An escape at c->p; its bytes into u. Returns their number, or 0. */
static size_t read_escape(struct in *c, unsigned char *u)
{
	if (c->end - c->p < 2)
		return 0;
	char e = c->p[1];
	static const char letters[] = "\"\\bfnrt", bytes[] = "\"\\\b\f\n\r\t";
	const char *k = e ? strchr(letters, e) : NULL;
	if (k) {
		c->p += 2;
		u[0] = (unsigned char)bytes[k - letters];
		return 1;
	}
	return e == 'u' ? read_u_escape(c, u) : 0;
}

/* A string of at most max bytes once decoded, into out[max + 1]. */
static bool read_str(struct in *c, char *out, size_t max, size_t *len)
{
	size_t n = 0;
	if (!LIT(c, "\""))
		return false;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p, u[4];
		size_t k = 1;
		if (ch == '"') {
			c->p++;
			out[n] = '\0';
			*len = n;
			return true;
		}
		if (ch == '\\') {
			if ((k = read_escape(c, u)) == 0)
				return false;
		} else if (ch < 0x20 || ch >= 0x80) {
			return false;
		} else {
			u[0] = ch;
			c->p++;
		}
		if (n + k > max)
			return false;
		memcpy(out + n, u, k);
		n += k;
	}
	return false;
}

static bool read_lines(struct in *c, struct report *r)
{
	size_t n;
	r->nlines = 0;
	if (LIT(c, "]"))
		return true;
	do {
		if (r->nlines == REPORT_MAX_LINES || !read_str(c, r->lines[r->nlines++], REPORT_MAX_LINE, &n))
			return false;
	} while (LIT(c, ","));
	return LIT(c, "]");
}

static bool read_action(struct in *c, struct report *r)
{
	char action[9];
	size_t n;
	if (!read_str(c, action, sizeof(action) - 1, &n))
		return false;
	r->action = strcmp(action, "sanction") == 0 ? REPORT_SANCTION : strcmp(action, "lift") == 0 ? REPORT_LIFT : 0;
	return r->action != 0;
}

static bool read_evidence(struct in *c, struct report *r)
{
	uint64_t attempts, first, last;
	if (!LIT(c, ",\"evidence\":{\"attempts\":") || !read_int(c, UINT32_MAX, &attempts) ||
	    !LIT(c, ",\"first_seen\":") || !read_int(c, INT64_MAX, &first) || !LIT(c, ",\"last_seen\":") ||
	    !read_int(c, INT64_MAX, &last) || !LIT(c, ",\"lines\":[") || !read_lines(c, r) || !LIT(c, "}"))
		return false;
	r->attempts = (unsigned)attempts;
	r->first_seen_us = (int64_t)first;
	r->last_seen_us = (int64_t)last;
	return true;
}

static bool read_report(struct in *c, struct report *r)
{
	char text[ADDR_STRLEN];
	uint64_t duration, seq, time;
	size_t n;
	if (!LIT(c, "{\"action\":") || !read_action(c, r) || !LIT(c, ",\"address\":") ||
	    !read_str(c, text, sizeof(text) - 1, &n) || addr_parse_cidr(text, &r->addr) != 0 ||
	    !LIT(c, ",\"duration_s\":") || !read_int(c, REPORT_MAX_DURATION_S, &duration) || !read_evidence(c, r) ||
	    !LIT(c, ",\"scenario\":") || !read_str(c, r->scenario, REPORT_MAX_SCENARIO, &n) || n == 0 ||
	    !LIT(c, ",\"seq\":") || !read_int(c, INT64_MAX, &seq) || seq == 0 || !LIT(c, ",\"time\":") ||
	    !read_int(c, INT64_MAX, &time) || !LIT(c, "}"))
		return false;
	r->duration_s = (uint32_t)duration;
	r->seq = seq;
	r->time_us = (int64_t)time;
	return true;
}

int report_canon_read(const char *p, size_t len, struct report_batch *b)
{
	struct in c = {p, p + len};
	uint64_t version;
	size_t n;
	if (!LIT(&c, "{\"alliance\":") || !read_str(&c, b->alliance, TREATY_MAX_ID, &n) || n == 0 ||
	    !LIT(&c, ",\"member\":") || !read_str(&c, b->member, TREATY_MAX_ID, &n) || n == 0 ||
	    !LIT(&c, ",\"reports\":["))
		return -1;
	b->n = 0;
	do {
		if (b->n == REPORT_MAX_ITEMS || !read_report(&c, &b->items[b->n++]))
			return -1;
	} while (LIT(&c, ","));
	if (!LIT(&c, "],\"treaty\":") || !read_int(&c, REPORT_MAX_TREATY_VERSION, &version) || version == 0 ||
	    !LIT(&c, ",\"v\":1}") || c.p != c.end)
		return -1;
	b->treaty_version = version;
	return 0;
}
