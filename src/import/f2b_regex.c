/* f2b_regex.c: one fail2ban regex as a PCRE2 regex for pacto (see f2b.h).
 * Why: fail2ban's regexes are Python `re` with tags (<HOST>, <F-USER>...),
 * matched against a line whose date fail2ban has cut out; pacto's patterns
 * are PCRE2, matched against the message with the date still in place and
 * must capture the source address as `addr`.
 * Guarantees: the address capture only ever matches address characters
 * (pacto then parses it strictly); a construct pacto cannot honour
 * (<DNS>, <CIDR>, <SUBNET>, <SKIPLINES>, a failure keyed by <F-ID>)
 * makes the regex unconvertible, never silently different. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/xalloc.h"
#include "import/f2b.h"

/* Addresses as fail2ban's <ADDR> finds them: IPv4 (optionally written as
 * ::ffff:a.b.c.d) or IPv6, optionally in brackets. A branch reset group
 * gives both the one name `addr`. Not host names: pacto never resolves. */
#define IPV4_RE "(?:\\d{1,3}\\.){3}\\d{1,3}"
#define IPV6_RE "[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
#define ADDR_RE "\\[?(?|(?:::f{4,6}:)?(?<addr>" IPV4_RE ")|(?<addr>" IPV6_RE "))\\]?"

/* The shapes of date fail2ban's default templates find at the start of a
 * line, for filters that name none: syslog and ctime ("Thu Jul 11
 * 01:21:41 2013"), ISO 8601 and its slashed forms, day/month/year (Apache's
 * access log), Unix epoch and TAI64N. */
#define MON_RE "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
#define GENERIC_DATE_RE \
	"(?:(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +)?" MON_RE " +\\d{1,2},?(?: +\\d{4})? +" \
	"\\d{1,2}:\\d{2}:\\d{2}(?:[.,]\\d+)?(?: +\\d{4})?" \
	"|\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}(?:[T ]|, ?)\\d{1,2}:\\d{2}:\\d{2}(?:[.,]\\d+)?(?: ?(?:Z|[+-]\\d{2}:?\\d{2}))?" \
	"|\\d{1,2}[-/.](?:\\d{1,2}|" MON_RE ")[-/.]\\d{2,4}[ :T]\\d{1,2}:\\d{2}:\\d{2}(?:[.,]\\d+)?(?: ?[+-]\\d{4})?" \
	"|\\d{10}(?:\\.\\d{1,6})?|@[0-9a-fA-F]{24})"

static void adds(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

/* ---- dates ---- */

/* strftime directives as fail2ban's datepattern uses them (%Ex.. are its
 * "exact" variants). Unknown ones make the pattern unreadable. */
static const char *directive_re(const char **p)
{
	static const struct { const char *d; const char *re; } map[] = {
		{"ExY", "\\d{4}"}, {"Exy", "\\d{2}"}, {"Exm", "\\d{2}"}, {"Exd", "\\d{2}"},
		{"ExH", "\\d{2}"}, {"ExM", "\\d{2}"}, {"ExS", "\\d{2}"}, {"Exb", MON_RE},
		{"Y", "\\d{4}"}, {"y", "\\d{2}"}, {"m", "\\d{1,2}"}, {"d", "\\d{1,2}"}, {"e", " ?\\d{1,2}"},
		{"H", "\\d{1,2}"}, {"I", "\\d{1,2}"}, {"k", " ?\\d{1,2}"}, {"l", " ?\\d{1,2}"},
		{"M", "\\d{1,2}"}, {"S", "\\d{1,2}"}, {"f", "\\d+"}, {"b", MON_RE}, {"B", "[A-Za-z]+"},
		{"h", MON_RE}, {"a", "[A-Za-z]{3}"}, {"A", "[A-Za-z]+"}, {"p", "[AaPp][Mm]"},
		{"z", "(?:Z|[+-]\\d{2}(?::?\\d{2})?)"}, {"Z", "[A-Z]+"}, {"j", "\\d{1,3}"}, {"s", "\\d{9,11}"},
		{"%", "%"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		size_t n = strlen(map[i].d);
		if (strncmp(*p, map[i].d, n) == 0) {
			*p += n;
			return map[i].re;
		}
	}
	return NULL;
}

/* The text of group 1 of a datepattern, if it has one: fail2ban cuts only
 * that part and leaves the rest for the failregex to match. */
static char *date_group(const char *dp)
{
	for (const char *p = dp; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != '(' || p[1] == '?')
			continue;
		int depth = 0;
		for (const char *q = p; *q; q++) {
			if (*q == '\\' && q[1])
				q++;
			else if (*q == '(')
				depth++;
			else if (*q == ')' && --depth == 0)
				return xstrndup(p + 1, (size_t)(q - p - 1));
		}
		return NULL;
	}
	return xstrdup(dp);
}

char *f2b_date_regex(const char *datepattern)
{
	const char *dp = datepattern;
	if (strncmp(dp, "{^LN-BEG}", 9) == 0)
		dp += 9;
	if (*dp == '\0')
		return xstrdup(GENERIC_DATE_RE);
	if (strcmp(dp, "Epoch") == 0 || strcmp(dp, "EPOCH") == 0)
		return xstrdup("\\d{10}(?:\\.\\d{1,6})?");
	if (strcmp(dp, "TAI64N") == 0)
		return xstrdup("@[0-9a-fA-F]{24}");
	char *group = date_group(dp);
	if (!group)
		return NULL;
	struct strbuf b = {0};
	adds(&b, "");
	for (const char *p = group + (group[0] == '^'); *p;) {
		if (*p == '%') {
			p++;
			const char *re = directive_re(&p);
			if (!re) {
				free(group);
				free(b.s);
				return NULL;
			}
			adds(&b, re);
		} else if (strncmp(p, "{DATE}", 6) == 0) {
			adds(&b, GENERIC_DATE_RE);
			p += 6;
		} else {
			strbuf_add(&b, p++, 1);
		}
	}
	free(group);
	return b.s;
}

/* A copy of a date regex whose named groups carry suffix n, so that the
 * date can appear twice in one regex. */
static char *date_instance(const char *date, int n)
{
	struct strbuf b = {0};
	adds(&b, "");
	for (const char *p = date; *p;) {
		if (strncmp(p, "(?P<", 4) == 0 || strncmp(p, "(?P=", 4) == 0) {
			size_t k = strcspn(p + 4, ">)");
			strbuf_add(&b, p, 4 + k);
			char sfx[16];
			snprintf(sfx, sizeof(sfx), "_d%d", n);
			adds(&b, sfx);
			p += 4 + k;
		} else {
			strbuf_add(&b, p++, 1);
		}
	}
	return b.s;
}

/* ---- tags ---- */

#define MAX_OPEN_TAGS 32

struct conv {
	struct strbuf out;
	bool nofail, has_addr, has_fid;
	const char *why;
	char open[MAX_OPEN_TAGS][32];   /* <F-NAME> tags opened, for their </F-NAME> */
	size_t nopen;
	unsigned naddr;                 /* groups named addr written */
};

/* Self-closing tags (fail2ban's RH4TAG): a group with a fixed regex. */
static bool self_closing(struct conv *c, const char **p)
{
	static const char *const tags[][2] = {
		{"<F-ID/>", "(?<fid>\\S+)"}, {"<F-PORT/>", "(?<fport>\\w+)"},
		{"<F-IP4/>", "(?<addr>" IPV4_RE ")"}, {"<F-IP6/>", "(?<addr>" IPV6_RE ")"},
		{"<F-ADDR/>", ADDR_RE},
	};
	for (size_t i = 0; i < sizeof(tags) / sizeof(*tags); i++) {
		size_t n = strlen(tags[i][0]);
		if (strncmp(*p, tags[i][0], n) != 0)
			continue;
		adds(&c->out, tags[i][1]);
		c->has_fid |= i == 0;
		c->has_addr |= i >= 2;
		c->naddr += i >= 2;
		*p += n;
		return true;
	}
	return false;
}

/* <F-NAME> opens the group fail2ban names `name` (id and port are fid and
 * fport there), so (?P=name) back-references keep working; F-NOFAIL and
 * F-MLFGAINED open the group pacto's engine reads as `nofail` (only the
 * first: a name appears once in a regex). </F-NAME> closes it, and is
 * ordinary text when no such tag is open, as in fail2ban. */
static void open_close(struct conv *c, const char *name, size_t n, bool close)
{
	char lower[32];
	snprintf(lower, sizeof(lower), "%.*s", (int)(n - 2), name + 2);
	for (char *q = lower; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	if (close) {
		for (size_t i = c->nopen; i-- > 0;)
			if (strcmp(c->open[i], lower) == 0) {
				c->open[i][0] = '\0';
				adds(&c->out, ")");
				return;
			}
		adds(&c->out, "</");
		strbuf_add(&c->out, name, n);
		adds(&c->out, ">");
		return;
	}
	if (c->nopen < MAX_OPEN_TAGS)
		snprintf(c->open[c->nopen++], sizeof(c->open[0]), "%s", lower);
	bool nofail = strcmp(lower, "nofail") == 0 || strcmp(lower, "mlfgained") == 0;
	const char *group = nofail && !c->nofail ? "nofail" : strcmp(lower, "id") == 0 ? "fid"
			  : strcmp(lower, "port") == 0 ? "fport" : lower;
	if (nofail && c->nofail)
		group = NULL;
	c->has_fid |= strcmp(lower, "id") == 0;
	c->nofail |= nofail;
	adds(&c->out, group ? "(?<" : "(?:");
	if (group) {
		adds(&c->out, group);
		adds(&c->out, ">");
	}
}

/* Translates one <...> tag at *p (p at '<'); returns false when it is not
 * a fail2ban tag (the '<' is then ordinary text). */
static bool tag(struct conv *c, const char **p)
{
	static const char *const refused[][2] = {
		{"<DNS>", "<DNS>: a host name; pacto sanctions addresses and never resolves names"},
		{"<CIDR>", "<CIDR>: a bare prefix length"},
		{"<SUBNET>", "<SUBNET>: a network as the failure's source"},
		{"<SKIPLINES>", "<SKIPLINES>: a failure spread over several lines (pacto matches one line at a time)"},
	};
	const char *s = *p;
	if (strncmp(s, "<HOST>", 6) == 0 || strncmp(s, "<ADDR>", 6) == 0) {
		adds(&c->out, ADDR_RE);
		c->has_addr = true;
		c->naddr++;               /* one group number: a branch reset */
		*p += 6;
		return true;
	}
	if (strncmp(s, "<IP4>", 5) == 0 || strncmp(s, "<IP6>", 5) == 0) {
		adds(&c->out, s[3] == '4' ? "(?<addr>" IPV4_RE ")" : "(?<addr>" IPV6_RE ")");
		c->has_addr = true;
		c->naddr++;
		*p += 5;
		return true;
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
		if (strncmp(s, refused[i][0], strlen(refused[i][0])) == 0) {
			c->why = refused[i][1];
			*p += strlen(refused[i][0]);
			return true;
		}
	if (self_closing(c, p))
		return true;
	bool close = s[1] == '/';
	const char *name = s + 1 + close;
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
	if (strncmp(name, "F-", 2) != 0 || name[n] != '>' || n < 3 || n > 30) {
		if (strncmp(name, "F-", 2) == 0 && name[n] == '/' && name[n + 1] == '>')
			c->why = "a self-closing <F-.../> tag pacto does not know (<F-DNS/>, <F-CIDR/>, <F-SUBNET/>)";
		return false;
	}
	open_close(c, name, n, close);
	*p = name + n + 1;
	return true;
}

/* Python re -> PCRE2 where they differ: \Z is PCRE2's \z, and "{,n}" is
 * {0,n} in Python but literal text in PCRE2 10.42. Tags are translated on
 * the way. */
static void translate(struct conv *c, const char *re)
{
	bool in_class = false;
	for (const char *p = re; *p && !c->why;) {
		if (*p == '\\' && p[1]) {
			strbuf_add(&c->out, p[1] == 'Z' ? "\\z" : p, 2);
			p += 2;
		} else if (in_class) {
			in_class = *p != ']';
			strbuf_add(&c->out, p++, 1);
		} else if (*p == '[') {
			in_class = true;
			strbuf_add(&c->out, p++, 1);
			if (*p == '^')
				strbuf_add(&c->out, p++, 1);
			if (*p == ']')             /* a ']' first in a class is literal */
				strbuf_add(&c->out, p++, 1);
		} else if (*p == '{' && p[1] == ',') {
			adds(&c->out, "{0");
			p++;
		} else if (*p == '<' && tag(c, &p)) {
			continue;
		} else {
			strbuf_add(&c->out, p++, 1);
		}
	}
}

/* A failregex without the '^' anchors at its alternatives' starts, to be
 * matched where prefregex's <F-CONTENT> was (fail2ban matches it against
 * that part alone, so its '^' is the content's start). */
static char *content_regex(const char *re)
{
	struct strbuf b = {0};
	bool anchored = re[0] == '^';
	adds(&b, anchored ? "(?:" : "(?:.*?(?:");
	bool in_class = false;
	for (const char *p = re; *p; p++) {
		char prev = b.len ? b.s[b.len - 1] : '\0';
		if (*p == '\\' && p[1]) {
			strbuf_add(&b, p++, 2);
			continue;
		}
		if (in_class)
			in_class = *p != ']';
		else if (*p == '[')
			in_class = true;
		else if (*p == '^' && (prev == '(' || prev == '|' || prev == ':'))
			continue;
		strbuf_add(&b, p, 1);
	}
	/* fail2ban searches the content: the failregex need not reach its end. */
	adds(&b, anchored ? ").*" : ")).*");
	return b.s;
}

/* prefregex with the failregex in place of <F-CONTENT>...</F-CONTENT>. */
static char *fold_prefix(const char *failregex, const char *prefregex)
{
	const char *open = strstr(prefregex, "<F-CONTENT>");
	const char *close = open ? strstr(open, "</F-CONTENT>") : NULL;
	if (!close)
		return NULL;
	char *content = content_regex(failregex);
	struct strbuf b = {0};
	strbuf_add(&b, prefregex, (size_t)(open - prefregex));
	adds(&b, content);
	adds(&b, close + strlen("</F-CONTENT>"));
	free(content);
	return b.s;
}

/* Lets the date be where fail2ban would have cut it: inside the "[]" that
 * fail2ban's own filters write for a cut bracketed date, and at the start. */
static char *place_date(const char *re, const char *date)
{
	struct strbuf b = {0};
	adds(&b, "");
	int n = 0;
	if (re[0] == '^') {
		char *d = date_instance(date, n++);
		adds(&b, "^(?:");
		adds(&b, d);
		adds(&b, ")?");
		free(d);
		re++;
	}
	bool in_class = false;
	for (const char *p = re; *p;) {
		if (!in_class && strncmp(p, "\\[\\]", 4) == 0) {
			char *d = date_instance(date, n++);
			adds(&b, "\\[(?:");
			adds(&b, d);
			adds(&b, ")?\\]");
			free(d);
			p += 4;
		} else if (*p == '\\' && p[1]) {
			strbuf_add(&b, p, 2);
			p += 2;
		} else if (!in_class && *p == '[') {
			in_class = true;
			strbuf_add(&b, p++, 1);
			if (*p == '^')
				strbuf_add(&b, p++, 1);
			if (*p == ']')             /* a ']' first in a class is literal */
				strbuf_add(&b, p++, 1);
		} else {
			if (*p == ']')
				in_class = false;
			strbuf_add(&b, p++, 1);
		}
	}
	return b.s;
}

char *f2b_regex(const char *failregex, const char *prefregex, const char *date_re, bool *nofail,
		bool *has_addr, const char **why)
{
	char *folded = NULL;
	if (prefregex && *prefregex) {
		folded = fold_prefix(failregex, prefregex);
		if (!folded) {
			*why = "prefregex without <F-CONTENT>...</F-CONTENT>";
			return NULL;
		}
	}
	char *dated = place_date(folded ? folded : failregex, date_re ? date_re : GENERIC_DATE_RE);
	free(folded);
	struct conv c = {0};
	adds(&c.out, "");
	translate(&c, dated);
	free(dated);
	if (!c.why && c.has_fid && !c.has_addr)
		c.why = "<F-ID>: failures keyed by something other than an address";
	if (c.naddr > 1) {             /* e.g. (?:IPv6:<IP6>|<IP4>): one name, several groups */
		char *j = xmalloc(c.out.len + 5);
		memcpy(j, "(?J)", 4);
		memcpy(j + 4, c.out.s, c.out.len + 1);
		free(c.out.s);
		c.out.s = j;
	}
	*nofail = c.nofail;
	*has_addr = c.has_addr;
	*why = c.why;
	if (c.why) {
		free(c.out.s);
		return NULL;
	}
	return c.out.s;
}
