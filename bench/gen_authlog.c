/* gen_authlog.c: deterministic generator of Debian 12 /var/log/auth.log
 * content (OpenSSH 9.x sshd through rsyslog) and of the sanctions pacto
 * must derive from it.
 * Why: benchmarks and end-to-end tests need big, realistic logs whose right
 * answer is known exactly, traps included: slow attackers, a botnet, user
 * names that embed a victim's address, IPv6 /64 rotation, IPv4-mapped
 * addresses, loopback, repeat offenders, sshd-like text from other programs.
 * Guarantees: the same arguments give byte-identical LOG and TRUTH on any
 * machine (own PRNG, integer-only arithmetic, own time and address
 * formatting; no locale, no TZ, no libm, no compiler builtins). Every line that counts under
 * docs/counting.md is fed, when it is written, to a model of the default
 * rule (5 failures in 600 s, 600 s doubling, one week of memory); TRUTH is
 * what that model sanctioned. The model aborts (exit 70) when 5 counted
 * failures of one source span more than 300 s yet less than 900 s, so no
 * verdict in TRUTH hangs on a borderline timing.
 * Never: writes an address outside 192.0.2.0/24, 198.51.100.0/24,
 * 203.0.113.0/24, 100.64.0.0/10, 2001:db8::/32 and loopback; reuses a
 * source address across classes.
 * Build: cc -std=c17 -O2 -D_GNU_SOURCE -o gen_authlog bench/gen_authlog.c
 * Usage: gen_authlog --lines N --out LOG --truth TRUTH [--seed S]
 *                    [--format syslog|rfc3339] [--start 2025-12-31T18:00:00Z]
 *                    [--classes CLASSES]
 * TRUTH: "KEY COUNT DURATIONS" per sanctioned source, sorted by strcmp(KEY);
 * then "# innocent KEY" per source that must never be sanctioned (IPv4
 * address, IPv6 /64 prefix, or the loopback address itself), also sorted.
 * CLASSES (optional): "KEY CLASS" for every source key, sorted by key, so
 * that other detectors' verdicts can be sorted into attackers, users and
 * framed victims (bench/compare). It changes neither LOG nor TRUTH. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sysexits codes, spelled out so the file needs nothing beyond ISO C. */
#define EXIT_USAGE	64
#define EXIT_SOFTWARE	70
#define EXIT_CANTCREAT	73
#define EXIT_IOERR	74

#define US		1000000ULL
#define MINUTE		(60 * US)
#define HOUR		(3600 * US)
#define HOST		"web1"
#define SERVER4		0xc0000201u		/* 192.0.2.1, never a source */
#define PID_MAX		4194304u	/* systemd raises kernel.pid_max to 2^22 */
#define PID_FIRST	300u		/* the kernel wraps to RESERVED_PIDS */
#define LOGIND_PID	612u
#define CONN_MAX	16384u
#define ACTOR_MAX	65536u
#define MAX_STEPS	24
#define USER_MAX	224
#define ADDR_TEXT	48
#define NONE		UINT32_MAX
#define OUTBUF		(1u << 20)
#define LINE_ROOM	4096u		/* no line is longer than this */
#define N_VICTIMS	16

/* The default rule of docs/counting.md and the margins the model enforces. */
#define RULE_COUNT	5
#define RULE_WINDOW	(600 * US)
#define RULE_BASE	600u
#define RULE_MAX	604800u
#define RULE_MEMORY	(604800 * US)
#define RECIDIVE_COUNT	3		/* rules/recidive.yaml */
#define RECIDIVE_WINDOW	(86400 * US)
#define RECIDIVE_SECS	604800u
#define LEVEL_RECIDIVE	15u
#define SAFE_FAST	(300 * US)	/* qualifying bursts must be this tight */
#define SAFE_SLOW	(900 * US)	/* everything else must stay this loose */
#define BURST_OPEN	(150 * US)	/* a burst opens no connection after this */

#define ARRAY_LEN(a)	(sizeof(a) / sizeof((a)[0]))
#define PRINTF(f, a)	__attribute__((format(printf, f, a)))

/* ---- classes of sources ------------------------------------------------ */

enum cls {
	C_NOISE, C_BENIGN, C_HEALTH, C_FAST, C_FAST6, C_MAPPED, C_ROT6,
	C_ENUM, C_KEYPROBE, C_SCAN, C_FEW, C_SLOW, C_BOT, C_INJECT, C_VICTIM,
	C_LOOP, C_REPEAT, NCLS
};

static const char *const CLS_NAME[NCLS] = {
	"noise", "benign", "health", "fast4", "fast6", "mapped", "rot6",
	"enum", "keyprobe", "scan", "few", "slow", "botnet", "inject",
	"victim", "loopback", "repeat",
};

/* Classes whose sources must never be sanctioned. */
static int cls_innocent(unsigned c)
{
	return c == C_BENIGN || c == C_HEALTH || c == C_FEW || c == C_SLOW ||
	    c == C_BOT || c == C_VICTIM || c == C_LOOP;
}

static int cls_attacker(unsigned c)
{
	return c != C_NOISE && c != C_BENIGN && c != C_HEALTH && c != C_VICTIM;
}

/* ---- fatal exits --------------------------------------------------------- */

static void die(int code, const char *fmt, ...) PRINTF(2, 3) __attribute__((noreturn));

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("gen_authlog: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

#define BUG(msg) die(EXIT_SOFTWARE, "bug at %s:%d: %s", __FILE__, __LINE__, msg)

/* ---- PRNG: xoshiro256** seeded by splitmix64 ----------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (unsigned i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Uniform in [0, n): multiply-shift; the bias (< n / 2^32) is irrelevant here. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi], both included. */
static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static int rng_chance(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

static const char *rng_pick(struct rng *r, const char *const *list, size_t n)
{
	return list[rng_below(r, (uint32_t)n)];
}

/* log2(x) in Q16, the top 10 fraction bits exact (plenty for arrival
 * gaps), by repeated squaring. Integer only, so that every machine and
 * compiler draws the same exponential gaps (no libm, no FMA). */
static uint32_t log2_q16(uint64_t x)
{
	uint32_t ip = 0, frac = 0;
	uint64_t y;

	while (x >> (ip + 1))
		ip++;
	y = ip >= 31 ? x >> (ip - 31) : x << (31 - ip);		/* Q31, [1,2) */

	for (int b = 15; b >= 6; b--) {
		y = (y * y) >> 31;
		if (y >= (1ULL << 32)) {
			y >>= 1;
			frac |= 1u << b;
		}
	}
	return (ip << 16) | frac;
}

/* Exponentially distributed gap with the given mean: Poisson arrivals. */
static uint64_t rng_exp(struct rng *r, uint64_t mean_us)
{
	uint64_t u = (rng_next(r) >> 32) | 1;		/* (0, 2^32) */
	uint64_t e = ((uint64_t)((32u << 16) - log2_q16(u)) * 45426u) >> 16;	/* -ln(u/2^32), Q16 */

	return mean_us * e >> 16;
}

/* ---- addresses --------------------------------------------------------- */

/* Writes v in base 10 or 16 at out, left-padded to width; returns the end. */
static char *str_uint(char *out, unsigned v, unsigned width, char pad, unsigned base)
{
	char tmp[12];
	unsigned n = 0;

	if (base == 16) {
		do {
			tmp[n++] = "0123456789abcdef"[v & 15];
			v >>= 4;
		} while (v);
	} else {
		do {			/* a constant divisor: no div instruction */
			tmp[n++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
	}
	for (; width > n; width--)
		*out++ = pad;
	while (n)
		*out++ = tmp[--n];
	return out;
}


struct addr {
	uint8_t v6;
	uint8_t b[16];		/* network order; IPv4 uses b[0..3] */
};

/* How an address is written: sshd prints PLAIN; the others test parsers. */
enum astyle { AS_PLAIN, AS_FULL, AS_NOCOMP, AS_MAPPED };

static void addr_v4(struct addr *a, uint32_t ip)
{
	memset(a, 0, sizeof(*a));
	a->b[0] = (uint8_t)(ip >> 24);
	a->b[1] = (uint8_t)(ip >> 16);
	a->b[2] = (uint8_t)(ip >> 8);
	a->b[3] = (uint8_t)ip;
}

static int addr_loopback(const struct addr *a)
{
	static const uint8_t one[16] = { [15] = 1 };

	return a->v6 ? !memcmp(a->b, one, 16) : a->b[0] == 127;
}

/* RFC 5952: longest run of two or more zero groups becomes "::". */
static void v6_compressed(const uint8_t *b, char *out)
{
	unsigned g[8];
	int best = -1, blen = 1;

	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
	for (int i = 0, j; i < 8; i = j + 1) {
		for (j = i; j < 8 && !g[j]; j++)
			;
		if (j - i > blen) {
			best = i;
			blen = j - i;
		}
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*out++ = ':';
			if (i == 0)
				*out++ = ':';
			i += blen - 1;
			continue;
		}
		out = str_uint(out, g[i], 0, '0', 16);
		if (i < 7)
			*out++ = ':';
	}
	*out = '\0';
}

/* All eight groups: zero-padded "0db8" (full) or bare "db8". */
static void v6_groups(const uint8_t *b, char *out, unsigned width)
{
	for (int i = 0; i < 8; i++) {
		out = str_uint(out, (unsigned)b[2 * i] << 8 | b[2 * i + 1], width, '0', 16);
		*out++ = i < 7 ? ':' : '\0';
	}
}

/* Writes a in style st into out (ADDR_TEXT bytes). */
static void addr_text(const struct addr *a, enum astyle st, char *out)
{
	if (!a->v6) {
		if (st == AS_MAPPED)
			out = strcpy(out, "::ffff:") + 7;
		for (int i = 0; i < 4; i++) {
			out = str_uint(out, a->b[i], 0, '0', 10);
			*out++ = i < 3 ? '.' : '\0';
		}
		return;
	}
	if (st == AS_FULL)
		v6_groups(a->b, out, 4);
	else if (st == AS_NOCOMP)
		v6_groups(a->b, out, 0);
	else
		v6_compressed(a->b, out);
}

/* The sanction key as the truth file writes it: "a.b.c.d" or "P::/64". */
static void key_text(const struct addr *a, char *out)
{
	addr_text(a, AS_PLAIN, out);
	if (a->v6 && !addr_loopback(a))
		strcat(out, "/64");
}

/* A permuted walk over the host numbers of one range: every address comes
 * out once, so no two sources ever share one. */
struct pool4 {
	uint32_t base, bits, limit, next, mult;
};

enum { P_INNOCENT, P_DOC1, P_DOC2, P_CGN, NPOOLS };

/* A bijection on [0, 2^bits): xor-shifts and odd multiplies are each
 * invertible modulo 2^bits, so the walk visits every value once, in an
 * order with no visible stride. */
static uint32_t permute(uint32_t x, uint32_t bits, uint32_t mult)
{
	uint32_t mask = (uint32_t)((1ULL << bits) - 1), sh = bits / 2 + 1;

	for (int r = 0; r < 3; r++) {
		x = (x + 0x9e3779b9u) & mask;
		x ^= x >> sh;
		x = (x * (mult | 1)) & mask;
		x ^= x >> (sh - 1 ? sh - 1 : 1);
	}
	return x;
}

static int pool_take(struct pool4 *p, struct addr *out)
{
	uint32_t mask = (1u << p->bits) - 1;

	while (p->next <= mask) {
		uint32_t v = permute(p->next++, p->bits, p->mult);
		uint32_t ip = p->base + v;

		if (v >= p->limit || (ip & 0xff) == 0 || (ip & 0xff) == 255 || ip == SERVER4)
			continue;
		addr_v4(out, ip);
		return 0;
	}
	return -1;
}

/* ---- per-source truth model ---------------------------------------------- */

enum { KEY_LISTED = 1, KEY_LOOPBACK = 2 };

/* One sanction key (IPv4 address or IPv6 /64). Invariant: ring holds the
 * counted failures since the last reset, n of them, oldest at head. */
struct keystate {
	uint64_t ring[RULE_COUNT];
	uint64_t banned_until, last_offence;
	uint32_t fails;
	uint32_t levels;	/* 4 bits per sanction: its doubling level, or LEVEL_RECIDIVE */
	uint64_t recent[RECIDIVE_COUNT - 1];	/* earlier sanctions within RECIDIVE_WINDOW */
	uint8_t nrecent;
	uint8_t n, head, nsanctions, level;
	uint8_t cls, flags;
	struct addr addr;	/* IPv6 keys are stored masked to /64 */
};

/* ---- scripted processes: connections, cron jobs, mail sessions ----------- */

enum step {
	/* sshd before authentication */
	S_INVALID, S_CHECKPASS, S_PAMFAIL, S_FAILPW, S_FAILKBD, S_FAILPK,
	S_FAILNONE, S_MAXAUTH, S_TOOMANY, S_PAMMORE, S_BYEBYE, S_DISC_PRE,
	S_CLOSED_PRE, S_UNABLE, S_BANNER, S_KEXRESET, S_CONNRESET,
	S_CLOSED_NOUSER, S_KEXCLOSED, S_CLOSED_PLAIN,
	/* a real user's session */
	S_ACC_PW, S_ACC_PK, S_SESS_OPEN, S_LOGIND_NEW, S_SUDO_CMD, S_SUDO_OPEN,
	S_SUDO_CLOSE, S_RECV_USER, S_DISC_USER, S_SESS_CLOSE, S_LOGIND_OUT,
	S_LOGIND_RM,
	/* other programs */
	S_CRON_OPEN, S_CRON_CLOSE, S_UFW, S_PF_CONNECT, S_PF_SASL, S_PF_LOST,
	S_PF_DISC, S_DOVECOT, S_DECOY
};

/* One process's worth of lines. The script is fixed when it opens; the
 * flags after it are the per-connection state docs/counting.md keys on. */
struct conn {
	uint32_t key;			/* model key, NONE for noise */
	uint32_t pid, pid2;		/* sshd monitor, post-auth child */
	uint32_t session;		/* logind session number */
	uint16_t port, uid;
	uint8_t cls, n, pos, variant;
	uint8_t valid;			/* user exists: "for root", "authenticating user" */
	uint8_t fails;			/* Failed lines so far, for "PAM n more" */
	uint8_t attempted, pending, marked;
	uint8_t step[MAX_STEPS];
	uint32_t delay_ms[MAX_STEPS];	/* before each step */
	char addr[ADDR_TEXT];
	char aux[72];			/* key fingerprint, victim address */
	char user[USER_MAX];		/* may hold an injection payload */
};

/* A source that opens connections over time, in one class. */
struct actor {
	uint8_t cls, variant, bursts_left, uses;
	uint16_t planned, target, idx;	/* idx: user (benign), victim (inject) */
	uint32_t key;
	uint64_t burst_start, until;
	struct addr addr;
};

/* ---- spawners: Poisson (or per-minute) sources of actors and noise -------- */

enum noise { N_UFW, N_POSTFIX, N_DOVECOT, N_CRON, N_DECOY };

struct spawn {
	uint8_t cls, kind;
	uint32_t mean_ms;	/* mean gap; 0 means once a minute */
	uint32_t first_s;	/* first one this long after the start */
};

/* Together about 3 lines/s, 45% of them noise (the summary shows the mix).
 * Every class starts within minutes so that short logs hold all of them.
 * For C_REPEAT, kind is the number of bursts after the first. */
static const struct spawn SPAWNS[] = {
	/* cls        kind       mean ms    first s      per hour */
	{ C_NOISE,    N_UFW,     1000,      0 },	/* 3600 */
	{ C_NOISE,    N_POSTFIX, 12000,     3 },	/* 300 */
	{ C_NOISE,    N_DOVECOT, 6000,      7 },	/* 600 */
	{ C_NOISE,    N_CRON,    0,         0 },	/* 60 */
	{ C_NOISE,    N_DECOY,   300000,    20 },	/* 12 */
	{ C_BOT,      0,         5000,      5 },	/* 720 addresses */
	{ C_FAST,     0,         300000,    30 },	/* 12 */
	{ C_FAST6,    0,         2400000,   90 },	/* 1.5 */
	{ C_MAPPED,   0,         5400000,   240 },	/* 0.7 */
	{ C_ROT6,     0,         9000000,   400 },	/* 0.4 */
	{ C_ENUM,     0,         2400000,   150 },	/* 1.5 */
	{ C_KEYPROBE, 0,         3600000,   200 },	/* 1 */
	{ C_SCAN,     0,         2400000,   100 },	/* 1.5 */
	{ C_FEW,      0,         300000,    60 },	/* 12 */
	{ C_SLOW,     0,         5400000,   45 },	/* 0.7 */
	{ C_INJECT,   0,         4800000,   300 },	/* 0.75 */
	{ C_REPEAT,   1,         10800000,  120 },	/* 0.33 */
	{ C_REPEAT,   2,         21600000,  180 },	/* 0.17 */
};

enum tkind { TK_SPAWN, TK_ACTOR, TK_CONN };

/* A pending wake-up; equal times run in the order they were scheduled. */
struct hent {
	uint64_t t, seq;
	uint32_t idx;
	uint8_t kind;
};

/* ---- real users ------------------------------------------------------------- */

struct user_def {
	const char *name;
	uint16_t uid;
	uint8_t v6, pubkey, typo_pct, sudo_pct;
	uint16_t gap_lo, gap_hi;	/* minutes between logins */
	uint16_t sess_lo, sess_hi;	/* session length, seconds */
};

/* At most one typo per login and logins at least 45 min apart: never near
 * 5 failures in 600 s. */
static const struct user_def USERS[] = {
	{ "alice",  1000, 0, 0, 12, 40,  45, 180, 120, 2400 },
	{ "bob",    1001, 1, 1,  0, 20,  60, 240,  60, 1800 },
	{ "carol",  1002, 1, 0, 10, 10,  60, 300, 300, 3600 },
	{ "deploy", 1003, 0, 1,  0, 90,   5,  15,   5,   90 },
	{ "backup", 1004, 0, 1,  0,  0,  55,  65,  30,  600 },
	{ "dave",   1005, 0, 0, 15, 30,  90, 480,  60, 1200 },
};
#define N_USERS ARRAY_LEN(USERS)

static const char *const BAD_USERS[] = {
	"admin", "test", "user", "oracle", "ubuntu", "postgres", "git",
	"ftpuser", "guest", "support", "pi", "hadoop", "minecraft", "steam",
	"debian", "centos", "jenkins", "ansible", "nagios", "tomcat", "www",
	"mysql", "user1", "administrator", "demo", "dev", "server", "vagrant",
	"elastic", "es", "odoo", "sol", "solana", "validator", "ubnt", "ts3",
	"mc", "kafka", "zabbix", "test1", "oracle1", "docker", "gitlab",
};

static const char *const SUDO_CMDS[] = {
	"/usr/bin/systemctl restart nginx", "/usr/bin/apt update",
	"/usr/bin/apt-get -y upgrade", "/usr/bin/journalctl -u nginx --since today",
	"/usr/bin/tail -n 100 /var/log/syslog", "/usr/sbin/ufw status",
	"/usr/bin/docker compose up -d", "/usr/bin/systemctl reload postfix",
};

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- the generator -------------------------------------------------------- */

struct opts {
	uint64_t lines, seed, start_s;
	const char *out, *truth, *classes;
	int rfc3339;
};

struct gen {
	struct opts opt;
	struct rng rng;
	uint64_t now, lines, seq;
	int draining;			/* --lines reached: only finish connections */

	FILE *out;
	char *buf;			/* output, flushed when LINE_ROOM is left */
	size_t len;
	uint64_t stamp_sec;
	char stamp[40];
	size_t stamp_len;
	uint8_t cur_cls;

	struct hent *heap;
	size_t heap_n, heap_cap;
	struct conn *conns;		/* fixed pools: pointers stay valid */
	uint32_t *conn_free, conn_nfree;
	struct actor *actors;
	uint32_t *actor_free, actor_nfree;

	struct pool4 pools[NPOOLS];
	uint32_t v6_next;		/* /64 prefixes handed out; 0 is pinned */
	uint32_t pid, session;
	struct keystate *keys;		/* grows; refer to keys by index */
	uint32_t nkeys, keys_cap;
	char user_fp[N_USERS][44];
	char victim_text[N_VICTIMS][ADDR_TEXT];
	int pinned6_used;

	uint64_t cls_lines[NCLS], cls_fails[NCLS];
	uint32_t cls_sources[NCLS];
	uint32_t skipped;
};

/* ---- output: a big buffer and a small printf of our own ------------------- */

static void sink_flush(struct gen *g)
{
	if (g->len && fwrite(g->buf, 1, g->len, g->out) != g->len)
		die(EXIT_IOERR, "%s: write: %s", g->opt.out, strerror(errno));
	g->len = 0;
}

static void put_ch(struct gen *g, char ch)
{
	if (g->len < OUTBUF)
		g->buf[g->len++] = ch;
}

/* Copies n bytes, clamped to the buffer (lines never come near that). */
static void put_mem(struct gen *g, const char *s, size_t n)
{
	if (n > OUTBUF - g->len)
		n = OUTBUF - g->len;
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

static void put_str(struct gen *g, const char *s, size_t max)
{
	put_mem(g, s, strnlen(s, max));
}

static void put_uint(struct gen *g, unsigned v, unsigned width, char pad, unsigned base)
{
	char tmp[48];

	if (width > 40)
		width = 40;
	if (OUTBUF - g->len >= sizeof(tmp)) {	/* the usual case: write in place */
		g->len = (size_t)(str_uint(g->buf + g->len, v, width, pad, base) - g->buf);
		return;
	}
	put_mem(g, tmp, (size_t)(str_uint(tmp, v, width, pad, base) - tmp));
}

/* Reads "[0][width][.prec|.*]" after '%'; returns the conversion letter. */
static const char *fmt_spec(const char *f, char *pad, unsigned *width, int *prec)
{
	*pad = ' ';
	*width = 0;
	*prec = -1;
	if (*f == '0') {
		*pad = '0';
		f++;
	}
	while (*f >= '0' && *f <= '9')
		*width = *width * 10 + (unsigned)(*f++ - '0');
	if (*f != '.')
		return f;
	if (*++f == '*') {
		*prec = -2;
		return f + 1;
	}
	for (*prec = 0; *f >= '0' && *f <= '9'; f++)
		*prec = *prec * 10 + (*f - '0');
	return f;
}

/* The subset of printf used by the templates below: %s %.Ns %.*s %u %0Nu
 * %Nu %x %c %%. Some ten times faster than vsnprintf on this workload. */
static void vfmt(struct gen *g, const char *f, va_list ap)
{
	char pad;
	unsigned width;
	int prec;

	for (; *f; f++) {
		const char *pct = strchr(f, '%');	/* vectorised: templates are long */
		size_t lit = pct ? (size_t)(pct - f) : strlen(f);

		put_mem(g, f, lit);
		f += lit;
		if (!*f)
			break;
		f = fmt_spec(f + 1, &pad, &width, &prec);
		if (prec == -2)
			prec = va_arg(ap, int);
		if (*f == 's')
			put_str(g, va_arg(ap, const char *), prec < 0 ? SIZE_MAX : (size_t)prec);
		else if (*f == 'u' || *f == 'x')
			put_uint(g, va_arg(ap, unsigned), width, pad, *f == 'u' ? 10 : 16);
		else if (*f == 'c')
			put_ch(g, (char)va_arg(ap, int));
		else if (*f == '%')
			put_ch(g, '%');
		else
			BUG("unsupported conversion");
	}
}

/* ---- time -------------------------------------------------------------------- */

static const char *const MONTHS[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

struct civil {
	unsigned y, m, d, hh, mm, ss;
};

/* Days since 1970-01-01 to a date (H. Hinnant's algorithm), no TZ involved. */
static struct civil civil_from_secs(uint64_t secs)
{
	struct civil c;
	uint64_t z = secs / 86400 + 719468, era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	c.d = doy - (153 * mp + 2) / 5 + 1;
	c.m = mp < 10 ? mp + 3 : mp - 9;
	c.y = (unsigned)(yoe + era * 400) + (c.m <= 2);
	c.hh = (unsigned)(secs % 86400 / 3600);
	c.mm = (unsigned)(secs % 3600 / 60);
	c.ss = (unsigned)(secs % 60);
	return c;
}

static uint64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
	unsigned yy = y - (m <= 2), era = yy / 400, yoe = yy - era * 400;
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (uint64_t)era * 146097 + doe - 719468;
}

/* The whole-second part of a timestamp, in the chosen format. */
static int stamp_format(const struct gen *g, uint64_t secs, char *out, size_t cap)
{
	struct civil c = civil_from_secs(secs);

	if (g->opt.rfc3339)
		return snprintf(out, cap, "%04u-%02u-%02uT%02u:%02u:%02u", c.y, c.m,
		    c.d, c.hh, c.mm, c.ss);
	return snprintf(out, cap, "%s %2u %02u:%02u:%02u", MONTHS[c.m - 1], c.d,
	    c.hh, c.mm, c.ss);
}

/* The log clock moves a few seconds per line: the date is formatted once
 * a day, the trailing "HH:MM:SS" (both formats end so) in place. */
static void stamp_refresh(struct gen *g, uint64_t sec)
{
	unsigned tod = (unsigned)(sec % 86400);
	char *p;

	if (sec / 86400 != g->stamp_sec / 86400)
		g->stamp_len = (size_t)stamp_format(g, sec, g->stamp, sizeof(g->stamp));
	p = g->stamp + g->stamp_len - 8;
	p = str_uint(p, tod / 3600, 2, '0', 10);
	*p++ = ':';
	p = str_uint(p, tod / 60 % 60, 2, '0', 10);
	*p++ = ':';
	str_uint(p, tod % 60, 2, '0', 10);
	g->stamp_sec = sec;
}

static void put_stamp(struct gen *g)
{
	uint64_t sec = g->now / US;

	if (sec != g->stamp_sec)
		stamp_refresh(g, sec);
	put_mem(g, g->stamp, g->stamp_len);
	if (!g->opt.rfc3339)
		return;
	put_ch(g, '.');
	put_uint(g, (unsigned)(g->now % US), 6, '0', 10);
	put_mem(g, "+00:00", 6);
}

/* ---- lines ------------------------------------------------------------------- */

static void say(struct gen *g, const char *prog, uint32_t pid, const char *fmt, ...) PRINTF(4, 5);

/* Writes one line "STAMP web1 PROG[PID]: MESSAGE" at the current time;
 * pid 0 means the program logs without one (sudo, dovecot, kernel). */
static void say(struct gen *g, const char *prog, uint32_t pid, const char *fmt, ...)
{
	va_list ap;

	if (OUTBUF - g->len < LINE_ROOM)
		sink_flush(g);
	put_stamp(g);
	put_str(g, " " HOST " ", SIZE_MAX);
	put_str(g, prog, SIZE_MAX);
	if (pid) {
		put_ch(g, '[');
		put_uint(g, pid, 0, ' ', 10);
		put_ch(g, ']');
	}
	put_str(g, ": ", SIZE_MAX);
	va_start(ap, fmt);
	vfmt(g, fmt, ap);
	va_end(ap);
	put_ch(g, '\n');
	g->cls_lines[g->cur_cls]++;
	if (++g->lines >= g->opt.lines)
		g->draining = 1;
}

/* ---- scheduling ------------------------------------------------------------- */

static int hent_less(const struct hent *a, const struct hent *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(struct gen *g, uint64_t t, enum tkind kind, uint32_t idx)
{
	size_t i;

	if (g->heap_n == g->heap_cap) {
		g->heap_cap = g->heap_cap ? 2 * g->heap_cap : 1024;
		g->heap = realloc(g->heap, g->heap_cap * sizeof(*g->heap));
		if (!g->heap)
			die(EXIT_SOFTWARE, "out of memory");
	}
	for (i = g->heap_n++; i > 0; i = (i - 1) / 2) {
		if (!hent_less(&(struct hent){ t, g->seq, idx, (uint8_t)kind }, &g->heap[(i - 1) / 2]))
			break;
		g->heap[i] = g->heap[(i - 1) / 2];
	}
	g->heap[i] = (struct hent){ t, g->seq++, idx, (uint8_t)kind };
}

static int heap_pop(struct gen *g, struct hent *out)
{
	struct hent last;
	size_t i = 0, c;

	if (!g->heap_n)
		return 0;
	*out = g->heap[0];
	last = g->heap[--g->heap_n];
	while ((c = 2 * i + 1) < g->heap_n) {
		if (c + 1 < g->heap_n && hent_less(&g->heap[c + 1], &g->heap[c]))
			c++;
		if (!hent_less(&g->heap[c], &last))
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	g->heap[i] = last;
	return 1;
}

/* ---- identities: pids, addresses, keys ---------------------------------------- */

/* Pids grow with other processes in between and wrap like the kernel's. */
static uint32_t pid_next(struct gen *g)
{
	g->pid += 1 + rng_below(&g->rng, 6);
	if (g->pid >= PID_MAX)
		g->pid = PID_FIRST + rng_below(&g->rng, 200);
	return g->pid;
}

static uint32_t key_new(struct gen *g, const struct addr *a, enum cls cls, unsigned flags)
{
	struct keystate *ks;

	if (g->nkeys == g->keys_cap) {
		g->keys_cap = g->keys_cap ? 2 * g->keys_cap : 4096;
		g->keys = realloc(g->keys, g->keys_cap * sizeof(*g->keys));
		if (!g->keys)
			die(EXIT_SOFTWARE, "out of memory");
	}
	ks = &g->keys[g->nkeys];
	memset(ks, 0, sizeof(*ks));
	ks->addr = *a;
	if (a->v6 && !addr_loopback(a))
		memset(ks->addr.b + 8, 0, 8);
	ks->cls = (uint8_t)cls;
	ks->flags = (uint8_t)(flags | (addr_loopback(a) ? KEY_LOOPBACK : 0));
	return g->nkeys++;
}

/* An attacker's IPv4 address: the documentation ranges first, then CGN space. */
static void attacker4(struct gen *g, struct addr *a, int prefer_203)
{
	if (prefer_203 && !pool_take(&g->pools[P_DOC2], a))
		return;
	if (!pool_take(&g->pools[P_DOC1], a) || !pool_take(&g->pools[P_DOC2], a) ||
	    !pool_take(&g->pools[P_CGN], a))
		return;
	die(EXIT_SOFTWARE, "address space exhausted: ask for fewer lines");
}

static void innocent4(struct gen *g, struct addr *a)
{
	if (pool_take(&g->pools[P_INNOCENT], a))
		BUG("192.0.2.0/24 exhausted");
}

/* The idx-th 2001:db8:X:Y::/64, X < 0x8000; idx 0 is 2001:db8::/64. */
static void prefix6(struct addr *a, uint32_t idx)
{
	uint32_t v = idx ? permute(idx, 31, 0x2545f491u) : 0;	/* 0x7fff < 0xffff: noise stays apart */

	memset(a, 0, sizeof(*a));
	a->v6 = 1;
	a->b[0] = 0x20, a->b[1] = 0x01, a->b[2] = 0x0d, a->b[3] = 0xb8;
	a->b[4] = (uint8_t)(v >> 24), a->b[5] = (uint8_t)(v >> 16);
	a->b[6] = (uint8_t)(v >> 8), a->b[7] = (uint8_t)v;
}

/* Interface id: often small ("::5"), else random, sometimes with a zero run. */
static void iid6(struct gen *g, struct addr *a)
{
	uint64_t r = rng_next(&g->rng);

	if (rng_chance(&g->rng, 35)) {
		memset(a->b + 8, 0, 8);
		a->b[15] = (uint8_t)(1 + r % 254);
		return;
	}
	for (int i = 0; i < 8; i++)
		a->b[8 + i] = (uint8_t)(r >> (8 * i));
	if (rng_chance(&g->rng, 25))
		memset(a->b + 10, 0, 4);
}

static void attacker6(struct gen *g, struct addr *a)
{
	if (g->v6_next >= 0x7fffffffu)
		die(EXIT_SOFTWARE, "IPv6 prefixes exhausted");
	do
		prefix6(a, ++g->v6_next);
	while (!(a->b[4] | a->b[5] | a->b[6] | a->b[7]));	/* 0 is pinned */
	iid6(g, a);
}

/* Addresses for lines that never count: kept out of every source's range. */
static void noise_addr(struct gen *g, char *out)
{
	struct addr a;

	if (rng_chance(&g->rng, 88)) {
		addr_v4(&a, 0x64700000u + rng_below(&g->rng, 1u << 20));	/* 100.112.0.0/12 */
		addr_text(&a, AS_PLAIN, out);
		return;
	}
	prefix6(&a, 0);
	a.b[4] = a.b[5] = 0xff;					/* 2001:db8:ffff::/48 */
	a.b[6] = (uint8_t)rng_below(&g->rng, 256);
	a.b[7] = (uint8_t)rng_below(&g->rng, 256);
	iid6(g, &a);
	addr_text(&a, AS_PLAIN, out);
}

static void fingerprint(struct gen *g, char *out)
{
	for (int i = 0; i < 43; i++)
		out[i] = B64[rng_below(&g->rng, 64)];
	out[43] = '\0';
}

/* ---- the model of docs/counting.md's default rule -------------------------- */

static void model_borderline(const struct gen *g, uint32_t k, uint64_t span)
{
	char text[ADDR_TEXT + 4];

	key_text(&g->keys[k].addr, text);
	die(EXIT_SOFTWARE, "bug: %s (%s) has 5 failures in %llu s, too close to "
	    "the rule to be a fair test", text, CLS_NAME[g->keys[k].cls],
	    (unsigned long long)(span / US));
}

static uint32_t sanction_secs(unsigned level)
{
	if (level == LEVEL_RECIDIVE)
		return RECIDIVE_SECS > RULE_MAX ? RECIDIVE_SECS : RULE_MAX;
	return level >= 10 ? RULE_MAX : (RULE_BASE << level > RULE_MAX ? RULE_MAX : RULE_BASE << level);
}

/* rules/recidive.yaml: the RECIDIVE_COUNT-th sanction within
 * RECIDIVE_WINDOW (earlier ones counted once) lasts a week at least;
 * reaching it starts the count afresh. */
static int model_recidive(struct keystate *ks, uint64_t now)
{
	uint8_t kept = 0;
	for (uint8_t i = 0; i < ks->nrecent; i++)
		if (now - ks->recent[i] < RECIDIVE_WINDOW)
			ks->recent[kept++] = ks->recent[i];
	ks->nrecent = kept;
	if (kept == RECIDIVE_COUNT - 1) {
		ks->nrecent = 0;
		return 1;
	}
	ks->recent[ks->nrecent++] = now;
	return 0;
}

/* Offences are remembered for a week: the level (and so the duration)
 * goes up while each offence comes within a week of the previous one. */
static void model_sanction(struct gen *g, uint32_t k)
{
	struct keystate *ks = &g->keys[k];

	if (ks->nsanctions && g->now - ks->last_offence < RULE_MEMORY)
		ks->level = (uint8_t)(ks->level < 10 ? ks->level + 1 : 10);
	else
		ks->level = 0;
	if (ks->nsanctions == 8)
		BUG("more than 8 sanctions for one source");
	ks->last_offence = g->now;
	if (model_recidive(ks, g->now)) {
		ks->levels |= (uint32_t)LEVEL_RECIDIVE << (4 * ks->nsanctions++);
		ks->banned_until = g->now + sanction_secs(LEVEL_RECIDIVE) * US;
	} else {
		ks->levels |= (uint32_t)ks->level << (4 * ks->nsanctions++);
		ks->banned_until = g->now + sanction_secs(ks->level) * US;
	}
	ks->n = ks->head = 0;
}

/* One counted failure of key k now. Sanctioned sources are not counted;
 * after the sanction counting restarts from zero (docs/counting.md). */
static void model_hit(struct gen *g, uint32_t k)
{
	struct keystate *ks = &g->keys[k];
	uint64_t span;

	ks->fails++;
	if ((ks->flags & KEY_LOOPBACK) || g->now < ks->banned_until)
		return;
	if (ks->n == RULE_COUNT) {
		ks->head = (ks->head + 1) % RULE_COUNT;
		ks->n--;
	}
	ks->ring[(ks->head + ks->n++) % RULE_COUNT] = g->now;
	if (ks->n < RULE_COUNT)
		return;
	span = g->now - ks->ring[ks->head];
	if (span > SAFE_FAST && span < SAFE_SLOW)
		model_borderline(g, k, span);
	if (span < RULE_WINDOW)
		model_sanction(g, k);
}

/* ---- connections ------------------------------------------------------------ */

static uint32_t conn_new(struct gen *g, enum cls cls, uint32_t key, int need_pid)
{
	struct conn *c;
	uint32_t ci;

	if (!g->conn_nfree) {
		g->skipped++;
		return NONE;
	}
	ci = g->conn_free[--g->conn_nfree];
	c = &g->conns[ci];
	memset(c, 0, offsetof(struct conn, step));
	c->cls = (uint8_t)cls;
	c->key = key;
	c->pid = need_pid ? pid_next(g) : 0;
	c->port = (uint16_t)rng_range(&g->rng, 1024, 65535);
	c->variant = (uint8_t)rng_below(&g->rng, 256);
	c->user[0] = c->aux[0] = c->addr[0] = '\0';
	return ci;
}

/* Appends a step to run delay [lo, hi] ms after the previous one; returns the delay. */
static uint32_t add(struct gen *g, struct conn *c, enum step s, uint32_t lo_ms, uint32_t hi_ms)
{
	if (c->n >= MAX_STEPS)
		BUG("script too long");
	c->step[c->n] = (uint8_t)s;
	c->delay_ms[c->n] = rng_range(&g->rng, lo_ms, hi_ms);
	return c->delay_ms[c->n++];
}

/* Schedules the connection's next step. Once --lines is reached, waits are
 * cut to 2 s so the tail of the log stays short. */
static void conn_wake(struct gen *g, uint32_t ci)
{
	const struct conn *c = &g->conns[ci];
	uint64_t d = c->delay_ms[c->pos] * 1000ULL + rng_below(&g->rng, 1000);

	if (g->draining && d > 2 * US)
		d = 2 * US;
	heap_push(g, g->now + d, TK_CONN, ci);
}

/* ---- rendering: one short case per message ---------------------------------- */

/* "PAM n more ..." and the pam_unix failure line name the user only when it exists. */
static void say_pam(struct gen *g, const struct conn *c, const char *head)
{
	say(g, "sshd", c->pid, "%slogname= uid=0 euid=0 tty=ssh ruser= rhost=%s%s%s",
	    head, c->addr, c->valid ? "  user=" : "", c->valid ? c->user : "");
}

static void render_pammore(struct gen *g, const struct conn *c)
{
	char head[64];
	unsigned n = c->fails ? c->fails - 1u : 0;

	snprintf(head, sizeof(head), "PAM %u more authentication failure%s; ", n,
	    n == 1 ? "" : "s");
	say_pam(g, c, head);
}

static void render_unable(struct gen *g, const struct conn *c)
{
	static const char *const what[3][2] = {
		{ "key exchange method", "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1" },
		{ "host key type", "ssh-rsa,ssh-dss" },
		{ "cipher", "aes128-cbc,3des-cbc,aes256-cbc" },
	};
	unsigned v = c->variant % 3;

	say(g, "sshd", c->pid, "Unable to negotiate with %s port %u: no matching %s "
	    "found. Their offer: %s [preauth]", c->addr, c->port, what[v][0], what[v][1]);
}

/* Lines sshd writes before authentication. User names go through sshd's
 * own truncation: "%.100s" in auth messages, "%.200s" for the whole
 * "invalid user NAME" preamble of connection-level messages. */
static void render_preauth(struct gen *g, struct conn *c, enum step s)
{
	const char *inv = c->valid ? "" : "invalid user ";
	const char *who = c->valid ? "authenticating" : "invalid";
	int wp = 200 - (int)strlen(who) - 6;
	static const char *const bye[] = { "Bye Bye", "Bye Bye", "Normal Shutdown, Thank you for playing" };
	static const char *const ktype[] = { "RSA", "ECDSA", "ED25519" };

	switch (s) {
	case S_INVALID: say(g, "sshd", c->pid, "Invalid user %.100s from %s port %u", c->user, c->addr, c->port); break;
	case S_CHECKPASS: say(g, "sshd", c->pid, "pam_unix(sshd:auth): check pass; user unknown"); break;
	case S_PAMFAIL: say_pam(g, c, "pam_unix(sshd:auth): authentication failure; "); break;
	case S_FAILPW: c->fails++; say(g, "sshd", c->pid, "Failed password for %s%.100s from %s port %u ssh2", inv, c->user, c->addr, c->port); break;
	case S_FAILKBD: c->fails++; say(g, "sshd", c->pid, "Failed keyboard-interactive/pam for %s%.100s from %s port %u ssh2", inv, c->user, c->addr, c->port); break;
	case S_FAILPK: c->fails++; say(g, "sshd", c->pid, "Failed publickey for %s%.100s from %s port %u ssh2: %s SHA256:%s", inv, c->user, c->addr, c->port, ktype[c->variant % 3], c->aux); break;
	case S_FAILNONE: say(g, "sshd", c->pid, "Failed none for %s%.100s from %s port %u ssh2", inv, c->user, c->addr, c->port); break;
	case S_MAXAUTH: say(g, "sshd", c->pid, "error: maximum authentication attempts exceeded for %s%.100s from %s port %u ssh2 [preauth]", inv, c->user, c->addr, c->port); break;
	case S_TOOMANY: say(g, "sshd", c->pid, "Disconnecting %s user %.*s %s port %u: Too many authentication failures [preauth]", who, wp, c->user, c->addr, c->port); break;
	case S_PAMMORE: render_pammore(g, c); break;
	case S_BYEBYE: say(g, "sshd", c->pid, "Received disconnect from %s port %u:11: %s [preauth]", c->addr, c->port, bye[c->variant % 3]); break;
	case S_DISC_PRE: say(g, "sshd", c->pid, "Disconnected from %s user %.*s %s port %u [preauth]", who, wp, c->user, c->addr, c->port); break;
	case S_CLOSED_PRE: say(g, "sshd", c->pid, "Connection closed by %s user %.*s %s port %u [preauth]", who, wp, c->user, c->addr, c->port); break;
	case S_UNABLE: render_unable(g, c); break;
	case S_BANNER: say(g, "sshd", c->pid, "banner exchange: Connection from %s port %u: invalid format", c->addr, c->port); break;
	case S_KEXRESET: say(g, "sshd", c->pid, "error: kex_exchange_identification: read: Connection reset by peer"); break;
	case S_CONNRESET: say(g, "sshd", c->pid, "Connection reset by %s port %u%s", c->addr, c->port, c->variant & 1 ? " [preauth]" : ""); break;
	case S_CLOSED_NOUSER: say(g, "sshd", c->pid, "Connection closed by %s port %u [preauth]", c->addr, c->port); break;
	case S_KEXCLOSED: say(g, "sshd", c->pid, "error: kex_exchange_identification: Connection closed by remote host"); break;
	case S_CLOSED_PLAIN: say(g, "sshd", c->pid, "Connection closed by %s port %u", c->addr, c->port); break;
	default: BUG("not a preauth step");
	}
}

/* A real user's session: sshd, its post-auth child (pid2), logind, sudo. */
static void render_session(struct gen *g, const struct conn *c, enum step s)
{
	switch (s) {
	case S_ACC_PW: say(g, "sshd", c->pid, "Accepted password for %s from %s port %u ssh2", c->user, c->addr, c->port); break;
	case S_ACC_PK: say(g, "sshd", c->pid, "Accepted publickey for %s from %s port %u ssh2: ED25519 SHA256:%s", c->user, c->addr, c->port, c->aux); break;
	case S_SESS_OPEN: say(g, "sshd", c->pid, "pam_unix(sshd:session): session opened for user %s(uid=%u) by (uid=0)", c->user, c->uid); break;
	case S_LOGIND_NEW: say(g, "systemd-logind", LOGIND_PID, "New session %u of user %s.", c->session, c->user); break;
	case S_SUDO_CMD: say(g, "sudo", 0, "   %s : TTY=pts/%u ; PWD=/home/%s ; USER=root ; COMMAND=%s", c->user, c->variant % 4u, c->user, rng_pick(&g->rng, SUDO_CMDS, ARRAY_LEN(SUDO_CMDS))); break;
	case S_SUDO_OPEN: say(g, "sudo", 0, "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%u)", c->user, c->uid); break;
	case S_SUDO_CLOSE: say(g, "sudo", 0, "pam_unix(sudo:session): session closed for user root"); break;
	case S_RECV_USER: say(g, "sshd", c->pid2, "Received disconnect from %s port %u:11: disconnected by user", c->addr, c->port); break;
	case S_DISC_USER: say(g, "sshd", c->pid2, "Disconnected from user %s %s port %u", c->user, c->addr, c->port); break;
	case S_SESS_CLOSE: say(g, "sshd", c->pid, "pam_unix(sshd:session): session closed for user %s", c->user); break;
	case S_LOGIND_OUT: say(g, "systemd-logind", LOGIND_PID, "Session %u logged out. Waiting for processes to exit.", c->session); break;
	case S_LOGIND_RM: say(g, "systemd-logind", LOGIND_PID, "Removed session %u.", c->session); break;
	default: BUG("not a session step");
	}
}

static void render_ufw(struct gen *g, const struct conn *c)
{
	static const unsigned dports[] = { 23, 3389, 445, 8080, 5900, 1433, 3306, 6379, 2323, 81, 8443, 5555 };
	unsigned dpt = dports[c->variant % ARRAY_LEN(dports)];
	unsigned win = c->variant & 8 ? 1024 : 65535;

	if (strchr(c->addr, ':'))
		say(g, "kernel", 0, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:6b:2a:11:f0:9f:c2:10:aa:01:86:dd "
		    "SRC=%s DST=2001:0db8:ffff:0000:0000:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=%u "
		    "FLOWLBL=%u PROTO=TCP SPT=%u DPT=%u WINDOW=%u RES=0x00 SYN URGP=0",
		    c->addr, 40 + c->variant % 20u, c->uid, c->port, dpt, win);
	else
		say(g, "kernel", 0, "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:6b:2a:11:f0:9f:c2:10:aa:01:08:00 "
		    "SRC=%s DST=192.0.2.1 LEN=%u TOS=0x00 PREC=0x00 TTL=%u ID=%u PROTO=TCP SPT=%u "
		    "DPT=%u WINDOW=%u RES=0x00 SYN URGP=0", c->addr, c->variant & 4 ? 44u : 40u,
		    40 + c->variant % 200u, c->uid, c->port, dpt, win);
}

static void render_dovecot(struct gen *g, const struct conn *c)
{
	if (c->variant & 1)
		say(g, "dovecot", 0, "imap-login: Login: user=<%s>, method=PLAIN, rip=%s, "
		    "lip=192.0.2.1, mpid=%u, TLS, session=<%.16s>", c->user, c->addr,
		    c->pid2, c->aux);
	else
		say(g, "dovecot", 0, "auth: pam_unix(dovecot:auth): authentication failure; "
		    "logname= uid=0 euid=0 tty=dovecot ruser=%s rhost=%s  user=%s", c->user,
		    c->addr, c->user);
}

/* Other programs whose text looks like sshd's and names a victim (aux):
 * none of it may count. */
static void render_decoy(struct gen *g, const struct conn *c)
{
	const char *v = c->aux;

	switch (c->variant % 6) {
	case 0: say(g, "sudo", 0, "   alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/grep -F Failed password for root from %s port 22 ssh2 /var/log/auth.log", v); break;
	case 1: say(g, "postfix/smtpd", c->pid, "warning: unknown[%s]: SASL PLAIN authentication failed: Failed password for root from %s port 22 ssh2", v, v); break;
	case 2: say(g, "alice", 0, "Failed password for invalid user admin from %s port 22 ssh2", v); break;
	case 3: say(g, "CRON", c->pid, "(root) CMD (/usr/local/bin/audit --note 'Invalid user test from %s port 22')", v); break;
	case 4: say(g, "sshd-audit", c->pid, "Connection closed by authenticating user root %s port 22 [preauth]", v); break;
	default: say(g, "dovecot", 0, "auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser= rhost=%s", v); break;
	}
}

static void render_other(struct gen *g, const struct conn *c, enum step s)
{
	switch (s) {
	case S_CRON_OPEN: say(g, "CRON", c->pid, "pam_unix(cron:session): session opened for user %s(uid=%u) by (uid=0)", c->user, c->uid); break;
	case S_CRON_CLOSE: say(g, "CRON", c->pid, "pam_unix(cron:session): session closed for user %s", c->user); break;
	case S_UFW: render_ufw(g, c); break;
	case S_PF_CONNECT: say(g, "postfix/smtpd", c->pid, "connect from unknown[%s]", c->addr); break;
	case S_PF_SASL: say(g, "postfix/smtpd", c->pid, "warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", c->addr); break;
	case S_PF_LOST: say(g, "postfix/smtpd", c->pid, "lost connection after AUTH from unknown[%s]", c->addr); break;
	case S_PF_DISC: say(g, "postfix/smtpd", c->pid, "disconnect from unknown[%s] ehlo=1 auth=0/1 %scommands=%u/%u", c->addr, c->fails ? "" : "quit=1 ", 2u - !!c->fails, 3u - !!c->fails); break;
	case S_DOVECOT: render_dovecot(g, c); break;
	case S_DECOY: render_decoy(g, c); break;
	default: BUG("unknown step");
	}
}

static void render(struct gen *g, struct conn *c, enum step s)
{
	if (s <= S_CLOSED_PLAIN)
		render_preauth(g, c, s);
	else if (s <= S_LOGIND_RM)
		render_session(g, c, s);
	else
		render_other(g, c, s);
}

/* ---- the counting contract, for the lines this generator writes ------------ */

/* What docs/counting.md adds to the source for line s, given what the
 * connection logged before it. Lines of other programs never reach here
 * with a counting step, and session lines are 0. */
static unsigned contract_count(struct conn *c, enum step s)
{
	switch (s) {
	case S_INVALID:
		c->pending = 1;
		return 0;
	case S_FAILPW: case S_FAILKBD: case S_FAILPK:
		c->attempted = 1;
		return 1;
	case S_CLOSED_PRE: case S_DISC_PRE: case S_UNABLE: case S_BANNER:
		return !c->attempted;	/* a pending "Invalid user" merges into it */
	case S_KEXRESET:
		c->marked = 1;
		return 0;
	case S_CONNRESET:
		return c->marked;
	case S_CLOSED_NOUSER:
		return c->pending && !c->attempted;
	default:
		return 0;
	}
}

static void conn_run(struct gen *g, uint32_t ci)
{
	struct conn *c = &g->conns[ci];
	enum step s = (enum step)c->step[c->pos++];

	g->cur_cls = c->cls;
	render(g, c, s);
	if (c->key != NONE && contract_count(c, s)) {
		g->cls_fails[c->cls]++;
		model_hit(g, c->key);
	}
	if (c->pos < c->n)
		conn_wake(g, ci);
	else
		g->conn_free[g->conn_nfree++] = ci;
}

/* ---- connection scripts ------------------------------------------------------ */

static void guess_end(struct gen *g, struct conn *c, unsigned n)
{
	if (n >= 6) {			/* MaxAuthTries 6 */
		add(g, c, S_MAXAUTH, 0, 2);
		add(g, c, S_TOOMANY, 0, 2);
		add(g, c, S_PAMMORE, 0, 8);
		return;
	}
	if (rng_chance(&g->rng, 60)) {
		add(g, c, S_BYEBYE, 80, 1500);
		add(g, c, S_DISC_PRE, 0, 2);
	} else {
		add(g, c, S_CLOSED_PRE, 100, 8000);
	}
	if (n >= 2)
		add(g, c, S_PAMMORE, 0, 8);
}

/* A password-guessing connection: n attempts (1-6) on one user, with the
 * pam_unix lines sshd 9.2 on Debian logs around them. Counts n. */
static unsigned script_guess(struct gen *g, struct conn *c, unsigned n, int kbd)
{
	if (!c->valid)
		add(g, c, S_INVALID, 150, 900);
	for (unsigned i = 0; i < n; i++) {
		if (!c->valid)
			add(g, c, S_CHECKPASS, i ? 80 : 300, i ? 900 : 2000);
		if (i == 0)
			add(g, c, S_PAMFAIL, c->valid ? 300 : 0, c->valid ? 2000 : 3);
		add(g, c, kbd ? S_FAILKBD : S_FAILPW, 1900, 3200);	/* pam_faildelay */
	}
	guess_end(g, c, n);
	return n;
}

/* "Invalid user" then a close without an attempt: counts 1. */
static unsigned script_enum(struct gen *g, struct conn *c)
{
	add(g, c, S_INVALID, 150, 900);
	switch (rng_below(&g->rng, 3)) {
	case 0:
		add(g, c, S_CLOSED_PRE, 100, 4000);
		break;
	case 1:
		add(g, c, S_FAILNONE, 50, 400);		/* not an attempt */
		add(g, c, S_CLOSED_PRE, 100, 4000);
		break;
	default:
		add(g, c, S_BYEBYE, 100, 2000);
		add(g, c, S_DISC_PRE, 0, 2);
		break;
	}
	return 1;
}

/* Key probes that give up: counts 1 each way. */
static unsigned script_keyprobe(struct gen *g, struct conn *c)
{
	unsigned v = rng_below(&g->rng, 3);

	if (v == 2) {
		c->valid = 0;
		snprintf(c->user, sizeof(c->user), "%s", rng_pick(&g->rng, BAD_USERS, ARRAY_LEN(BAD_USERS)));
		fingerprint(g, c->aux);
		add(g, c, S_INVALID, 150, 900);
		add(g, c, S_FAILPK, 50, 600);
		add(g, c, S_CLOSED_PRE, 100, 3000);
		return 1;
	}
	c->valid = 1;
	snprintf(c->user, sizeof(c->user), "root");
	if (v == 0) {
		add(g, c, S_CLOSED_PRE, 300, 6000);
	} else {
		add(g, c, S_BYEBYE, 300, 3000);
		add(g, c, S_DISC_PRE, 0, 2);
	}
	return 1;
}

/* Scanners that never reach authentication: counts 1. */
static unsigned script_scan(struct gen *g, struct conn *c)
{
	switch (rng_below(&g->rng, 3)) {
	case 0:
		add(g, c, S_UNABLE, 50, 400);
		break;
	case 1:
		add(g, c, S_BANNER, 5, 300);
		break;
	default:
		add(g, c, S_KEXRESET, 1, 2000);
		add(g, c, S_CONNRESET, 0, 1);
		break;
	}
	return 1;
}

static uint32_t script_sudo(struct gen *g, struct conn *c, uint32_t left_ms)
{
	uint32_t used = add(g, c, S_SUDO_CMD, 2000, 2000 + left_ms / 3);

	used += add(g, c, S_SUDO_OPEN, 0, 3);
	return used + add(g, c, S_SUDO_CLOSE, 50, 20000);
}

/* A real login, sometimes after one mistyped password: counts 0 or 1. */
static unsigned script_login(struct gen *g, struct conn *c, const struct user_def *u)
{
	unsigned typo = !u->pubkey && rng_chance(&g->rng, u->typo_pct);
	uint32_t left = rng_range(&g->rng, u->sess_lo, u->sess_hi) * 1000u, used;

	if (typo) {
		add(g, c, S_PAMFAIL, 1500, 6000);
		add(g, c, S_FAILPW, 1900, 3200);
	}
	add(g, c, u->pubkey ? S_ACC_PK : S_ACC_PW, typo ? 2500 : 200, typo ? 9000 : 3000);
	add(g, c, S_SESS_OPEN, 0, 3);
	add(g, c, S_LOGIND_NEW, 1, 25);
	for (int i = 0; i < 3 && rng_chance(&g->rng, u->sudo_pct); i++) {
		used = script_sudo(g, c, left);
		left = left > used + 1000 ? left - used : 1000;
	}
	add(g, c, S_RECV_USER, left, left);
	add(g, c, S_DISC_USER, 0, 2);
	add(g, c, S_SESS_CLOSE, 1, 15);
	add(g, c, S_LOGIND_OUT, 0, 10);
	add(g, c, S_LOGIND_RM, 1, 30);
	return typo;
}

/* ---- injected user names ----------------------------------------------------- */

/* A user name that embeds victim address v in the shapes naive parsers
 * trip over. sshd logs it verbatim (cut at a colon, truncated), so v
 * appears in lines that belong to the attacker. Up to ~200 characters. */
static void inject_name(struct gen *g, const char *v, char *out, size_t cap)
{
	static const char pad[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char st[40];
	int padlen = (int)rng_range(&g->rng, 100, 160);

	switch (rng_below(&g->rng, 12)) {
	case 0: snprintf(out, cap, "x from %s port 22 ssh2", v); break;
	case 1: snprintf(out, cap, "root from %s port 22", v); break;
	case 2: snprintf(out, cap, "a rhost=%s", v); break;
	case 3: snprintf(out, cap, "u [preauth]"); break;
	case 4: snprintf(out, cap, "v %s port 22 [preauth]", v); break;
	case 5:
		stamp_format(g, g->now / US, st, sizeof(st));
		snprintf(out, cap, "x#012%s " HOST " sshd[%u]: Failed password for root from %s port 22 ssh2",
		    st, g->pid > 7 ? g->pid - 7 : 4242, v);
		break;
	case 6: snprintf(out, cap, "\"root\" from %s port 22 ssh2 \"", v); break;
	case 7: snprintf(out, cap, "x from %s port 22 ssh2 %.*s", v, padlen, pad); break;
	case 8: snprintf(out, cap, "%.*s from %s port 22 ssh2", padlen, pad, v); break;
	case 9: snprintf(out, cap, "authenticating user root %s port 22 [preauth]", v); break;
	case 10: snprintf(out, cap, "#012Invalid user admin from %s port 22", v); break;
	default: snprintf(out, cap, "' or 1=1 -- rhost=%s user=root", v); break;
	}
}

/* ---- actors ------------------------------------------------------------------ */

static uint32_t actor_new(struct gen *g, enum cls cls)
{
	uint32_t ai;

	if (!g->actor_nfree) {
		g->skipped++;
		return NONE;
	}
	ai = g->actor_free[--g->actor_nfree];
	memset(&g->actors[ai], 0, sizeof(g->actors[ai]));
	g->actors[ai].cls = (uint8_t)cls;
	g->actors[ai].key = NONE;
	g->cls_sources[cls]++;
	return ai;
}

static void actor_wake(struct gen *g, uint32_t ai, uint64_t delay)
{
	heap_push(g, g->now + delay, TK_ACTOR, ai);
}

static void actor_free(struct gen *g, uint32_t ai)
{
	g->actor_free[g->actor_nfree++] = ai;
}

/* How this connection writes the actor's address: sshd writes PLAIN; the
 * other forms check that the parser reduces them to the same key. */
static void actor_addr_text(struct gen *g, const struct actor *a, char *out)
{
	unsigned r = rng_below(&g->rng, 100);
	enum astyle st = AS_PLAIN;

	if (a->cls == C_MAPPED && r < 70)
		st = AS_MAPPED;
	else if (a->addr.v6 && !addr_loopback(&a->addr) && a->cls == C_FAST6)
		st = r < 70 ? AS_PLAIN : r < 85 ? AS_FULL : AS_NOCOMP;
	else if (a->addr.v6 && !addr_loopback(&a->addr))
		st = r < 92 ? AS_PLAIN : AS_FULL;
	addr_text(&a->addr, st, out);
}

static struct conn *actor_conn(struct gen *g, const struct actor *a, uint32_t *ci)
{
	struct conn *c;

	*ci = conn_new(g, (enum cls)a->cls, a->key, 1);
	if (*ci == NONE)
		return NULL;
	c = &g->conns[*ci];
	actor_addr_text(g, a, c->addr);
	return c;
}

/* A one-line process with no delay (kernel, dovecot) is written at once:
 * it skips the heap, which is where half of all lines would otherwise go. */
static void conn_start(struct gen *g, uint32_t ci)
{
	struct conn *c = &g->conns[ci];

	c->pos = 0;
	if (c->n == 1 && !c->delay_ms[0])
		conn_run(g, ci);
	else
		conn_wake(g, ci);
}

/* Traits drawn once per actor from its variant byte: a third try root
 * only, one in ten uses keyboard-interactive instead of password. */
static int actor_root_only(const struct actor *a)
{
	return a->variant % 3 == 0;
}

static int actor_kbd(const struct actor *a)
{
	return a->variant / 3 % 10 == 0;
}

static void pick_user(struct gen *g, struct conn *c, const struct actor *a)
{
	c->valid = actor_root_only(a) || rng_chance(&g->rng, 25);
	snprintf(c->user, sizeof(c->user), "%s", c->valid ? "root" :
	    rng_pick(&g->rng, BAD_USERS, ARRAY_LEN(BAD_USERS)));
}

static unsigned open_guess(struct gen *g, const struct actor *a, unsigned n)
{
	uint32_t ci;
	struct conn *c = actor_conn(g, a, &ci);

	if (!c)
		return 0;
	pick_user(g, c, a);
	n = script_guess(g, c, n, actor_kbd(a));
	conn_start(g, ci);
	return n;
}

static unsigned open_kind(struct gen *g, const struct actor *a, enum cls kind)
{
	uint32_t ci;
	struct conn *c = actor_conn(g, a, &ci);
	unsigned n;

	if (!c)
		return 0;
	if (kind == C_ENUM) {
		snprintf(c->user, sizeof(c->user), "%s", rng_pick(&g->rng, BAD_USERS, ARRAY_LEN(BAD_USERS)));
		n = script_enum(g, c);
	} else if (kind == C_KEYPROBE) {
		n = script_keyprobe(g, c);
	} else {
		n = script_scan(g, c);
	}
	conn_start(g, ci);
	return n;
}

/* Each address of a rotating /64 is used for at most two failures. */
static unsigned open_rot6(struct gen *g, struct actor *a)
{
	if (!a->uses || a->uses >= 2 || rng_chance(&g->rng, 50)) {
		iid6(g, &a->addr);
		a->uses = 0;
	}
	a->uses++;
	return open_guess(g, a, 1);
}

static unsigned open_inject(struct gen *g, const struct actor *a)
{
	uint32_t ci;
	struct conn *c = actor_conn(g, a, &ci);
	unsigned n;

	if (!c)
		return 0;
	inject_name(g, g->victim_text[a->idx], c->user, sizeof(c->user));
	/* sshd cuts a user name at its first colon ("user:style"), so no name it
	 * logs holds one: an IPv6 victim or a copied "sshd[1]: ..." is cut there. */
	c->user[strcspn(c->user, ":")] = '\0';
	c->valid = 0;
	if (rng_chance(&g->rng, 30))
		n = script_enum(g, c);
	else
		n = script_guess(g, c, rng_range(&g->rng, 1, 3), 0);
	conn_start(g, ci);
	return n;
}

static unsigned burst_conn(struct gen *g, struct actor *a)
{
	switch (a->cls) {
	case C_ENUM: case C_KEYPROBE: case C_SCAN:
		return open_kind(g, a, (enum cls)a->cls);
	case C_ROT6:
		return open_rot6(g, a);
	case C_INJECT:
		return open_inject(g, a);
	case C_LOOP:
		return open_guess(g, a, rng_range(&g->rng, 3, 6));
	default:
		return open_guess(g, a, rng_range(&g->rng, 1, 6));
	}
}

static uint16_t burst_target(struct gen *g, const struct actor *a)
{
	if (a->cls == C_LOOP)
		return (uint16_t)rng_range(&g->rng, 8, 30);
	if (a->cls == C_ENUM || a->cls == C_KEYPROBE || a->cls == C_SCAN)
		return (uint16_t)rng_range(&g->rng, 6, 12);
	return (uint16_t)rng_range(&g->rng, 6, 20);
}

/* A burst: connections 1-20 s apart (enumeration and scans 1-12 s) until
 * the planned failures reach the target or BURST_OPEN has passed, so every
 * counted failure of the burst falls within ~190 s of its start. Repeat
 * offenders and loopback come back hours later for another one. */
static void burst_step(struct gen *g, uint32_t ai)
{
	struct actor *a = &g->actors[ai];
	int quick = a->cls == C_ENUM || a->cls == C_KEYPROBE || a->cls == C_SCAN;

	if (!a->planned)
		a->burst_start = g->now;
	a->planned = (uint16_t)(a->planned + burst_conn(g, a));
	if (a->planned < a->target && g->now - a->burst_start < BURST_OPEN) {
		actor_wake(g, ai, rng_range(&g->rng, 1000, quick ? 12000 : 20000) * 1000ULL);
		return;
	}
	if (!a->bursts_left) {
		actor_free(g, ai);
		return;
	}
	if (a->cls != C_LOOP)
		a->bursts_left--;
	a->planned = 0;
	a->target = burst_target(g, a);
	if (a->cls == C_LOOP)
		actor_wake(g, ai, HOUR + rng_below(&g->rng, 3 * 3600) * US);
	else
		actor_wake(g, ai, 2 * HOUR + rng_below(&g->rng, 3600) * US);
}

/* One counted failure every 250-600 s until `until`: 5 of them span at
 * least 1000 s minus a few seconds of in-connection jitter. */
static void slow_step(struct gen *g, uint32_t ai)
{
	struct actor *a = &g->actors[ai];
	unsigned r = rng_below(&g->rng, 10);

	if (r < 8)
		open_guess(g, a, 1);
	else
		open_kind(g, a, r == 8 ? C_ENUM : C_KEYPROBE);
	if (g->now >= a->until)
		actor_free(g, ai);
	else
		actor_wake(g, ai, rng_range(&g->rng, 250, 600) * US);
}

/* A bot address: one failure, sometimes a second one much later. */
static void bot_step(struct gen *g, uint32_t ai)
{
	struct actor *a = &g->actors[ai];

	open_guess(g, a, 1);
	if (!a->bursts_left) {
		actor_free(g, ai);
		return;
	}
	a->bursts_left = 0;
	actor_wake(g, ai, rng_range(&g->rng, 5 * 60, 3 * 3600) * US);
}

/* Enumeration, key probes or scans that stop at 1-3 connections. */
static void few_step(struct gen *g, uint32_t ai)
{
	struct actor *a = &g->actors[ai];
	static const enum cls kinds[3] = { C_ENUM, C_KEYPROBE, C_SCAN };

	open_kind(g, a, kinds[a->variant % 3]);
	if (++a->planned >= a->target)
		actor_free(g, ai);
	else
		actor_wake(g, ai, rng_range(&g->rng, 1, 120) * US);
}

/* A monitoring probe every 10-30 s, forever: counts 0. */
static void health_step(struct gen *g, uint32_t ai)
{
	struct actor *a = &g->actors[ai];
	uint32_t ci;
	struct conn *c = actor_conn(g, a, &ci);

	if (c) {
		if (a->variant == 1) {
			add(g, c, S_KEXCLOSED, 1, 40);
			add(g, c, S_CLOSED_PLAIN, 0, 1);
		} else {
			add(g, c, S_CLOSED_NOUSER, 1, 40);
		}
		conn_start(g, ci);
	}
	actor_wake(g, ai, rng_range(&g->rng, a->variant == 2 ? 30 : 10, a->variant == 2 ? 60 : 30) * US);
}

/* A benign user logs in; now and then a client resets before auth (0). */
static void benign_step(struct gen *g, uint32_t ai)
{
	struct actor *a = &g->actors[ai];
	const struct user_def *u = &USERS[a->idx];
	uint32_t ci;
	struct conn *c = actor_conn(g, a, &ci);

	if (c && rng_chance(&g->rng, 4)) {
		c->variant |= 1;
		add(g, c, S_CONNRESET, 100, 3000);	/* unmarked: 0 */
		conn_start(g, ci);
	} else if (c) {
		snprintf(c->user, sizeof(c->user), "%s", u->name);
		snprintf(c->aux, sizeof(c->aux), "%s", g->user_fp[a->idx]);
		c->uid = u->uid;
		c->valid = 1;
		c->pid2 = pid_next(g);
		c->session = ++g->session;
		script_login(g, c, u);
		conn_start(g, ci);
	}
	actor_wake(g, ai, rng_range(&g->rng, u->gap_lo * 60u, u->gap_hi * 60u) * US);
}

static void actor_run(struct gen *g, uint32_t ai)
{
	switch (g->actors[ai].cls) {
	case C_BENIGN: benign_step(g, ai); break;
	case C_HEALTH: health_step(g, ai); break;
	case C_SLOW: slow_step(g, ai); break;
	case C_BOT: bot_step(g, ai); break;
	case C_FEW: few_step(g, ai); break;
	default: burst_step(g, ai); break;
	}
}

/* ---- creating actors ----------------------------------------------------------- */

static void setup_fast6(struct gen *g, struct actor *a)
{
	if (g->pinned6_used) {
		attacker6(g, &a->addr);
		return;
	}
	prefix6(&a->addr, 0);		/* 2001:db8::5, key 2001:db8::/64 */
	a->addr.b[15] = 5;
	g->pinned6_used = 1;
}

/* Address, key and plan of a new actor of class s->cls. */
static void actor_setup(struct gen *g, struct actor *a, const struct spawn *s)
{
	unsigned flags = 0;

	a->variant = (uint8_t)rng_below(&g->rng, 256);
	switch (a->cls) {
	case C_FAST6: setup_fast6(g, a); break;
	case C_ROT6: attacker6(g, &a->addr); break;
	case C_MAPPED: attacker4(g, &a->addr, 1); break;
	case C_BOT:
		if (rng_chance(&g->rng, 8))
			attacker6(g, &a->addr);
		else if (pool_take(&g->pools[P_CGN], &a->addr))
			die(EXIT_SOFTWARE, "address space exhausted: ask for fewer lines");
		a->bursts_left = rng_chance(&g->rng, 40);
		flags = g->cls_sources[C_BOT] <= 64 ? KEY_LISTED : 0;
		break;
	case C_SCAN:
		if (rng_chance(&g->rng, 20))
			attacker6(g, &a->addr);
		else
			attacker4(g, &a->addr, 0);
		break;
	case C_SLOW:
		attacker4(g, &a->addr, 0);
		a->until = g->now + (3 + rng_below(&g->rng, 10)) * HOUR;
		flags = g->cls_sources[C_SLOW] <= 256 ? KEY_LISTED : 0;
		break;
	case C_FEW: attacker4(g, &a->addr, 0); a->target = (uint16_t)rng_range(&g->rng, 1, 3); break;
	case C_INJECT: attacker4(g, &a->addr, 0); a->idx = (uint16_t)rng_below(&g->rng, N_VICTIMS); break;
	case C_REPEAT: attacker4(g, &a->addr, 0); a->bursts_left = s->kind; break;
	default: attacker4(g, &a->addr, 0); break;
	}
	if (a->cls != C_FEW)
		a->target = burst_target(g, a);
	a->key = key_new(g, &a->addr, (enum cls)a->cls, flags);
}

/* ---- noise ---------------------------------------------------------------------- */

static void noise_ufw(struct gen *g)
{
	uint32_t ci = conn_new(g, C_NOISE, NONE, 0);
	struct conn *c;
	struct addr a;

	if (ci == NONE)
		return;
	c = &g->conns[ci];
	noise_addr(g, c->addr);
	if (strchr(c->addr, ':')) {		/* the kernel writes IPv6 in full */
		a.v6 = 1;
		memset(a.b, 0, sizeof(a.b));
		a.b[0] = 0x20, a.b[1] = 0x01, a.b[2] = 0x0d, a.b[3] = 0xb8, a.b[4] = a.b[5] = 0xff;
		a.b[6] = (uint8_t)rng_below(&g->rng, 256), a.b[15] = (uint8_t)rng_below(&g->rng, 256);
		addr_text(&a, AS_FULL, c->addr);
	}
	c->uid = (uint16_t)rng_below(&g->rng, 65536);
	add(g, c, S_UFW, 0, 0);
	conn_start(g, ci);
}

static void noise_postfix(struct gen *g)
{
	uint32_t ci = conn_new(g, C_NOISE, NONE, 1);
	struct conn *c;

	if (ci == NONE)
		return;
	c = &g->conns[ci];
	noise_addr(g, c->addr);
	add(g, c, S_PF_CONNECT, 0, 0);
	if (rng_chance(&g->rng, 55)) {
		c->fails = 1;
		add(g, c, S_PF_SASL, 800, 5000);
		add(g, c, S_PF_LOST, 0, 300);
	}
	add(g, c, S_PF_DISC, 100, 3000);
	conn_start(g, ci);
}

static void noise_dovecot(struct gen *g)
{
	static const char *const mailusers[] = { "alice", "bob", "carol", "info", "sales", "office" };
	uint32_t ci = conn_new(g, C_NOISE, NONE, 0);
	struct conn *c;

	if (ci == NONE)
		return;
	c = &g->conns[ci];
	noise_addr(g, c->addr);
	snprintf(c->user, sizeof(c->user), "%s", rng_pick(&g->rng, mailusers, ARRAY_LEN(mailusers)));
	fingerprint(g, c->aux);
	c->pid2 = pid_next(g);
	add(g, c, S_DOVECOT, 0, 0);
	conn_start(g, ci);
}

/* Per-minute cron jobs: root every minute, www-data now and then. */
static void noise_cron(struct gen *g)
{
	int www = rng_chance(&g->rng, 15);

	for (int i = 0; i <= www; i++) {
		uint32_t ci = conn_new(g, C_NOISE, NONE, 1);
		struct conn *c;

		if (ci == NONE)
			return;
		c = &g->conns[ci];
		snprintf(c->user, sizeof(c->user), "%s", i ? "www-data" : "root");
		c->uid = i ? 33 : 0;
		add(g, c, S_CRON_OPEN, 50, 1200);
		add(g, c, S_CRON_CLOSE, 20, 2500);
		conn_start(g, ci);
	}
}

static void noise_decoy(struct gen *g)
{
	uint32_t ci = conn_new(g, C_NOISE, NONE, 1);
	struct conn *c;

	if (ci == NONE)
		return;
	c = &g->conns[ci];
	snprintf(c->aux, sizeof(c->aux), "%s", g->victim_text[rng_below(&g->rng, N_VICTIMS)]);
	add(g, c, S_DECOY, 0, 0);
	conn_start(g, ci);
}

static void spawn_noise(struct gen *g, unsigned kind)
{
	g->cls_sources[C_NOISE]++;
	switch (kind) {
	case N_UFW: noise_ufw(g); break;
	case N_POSTFIX: noise_postfix(g); break;
	case N_DOVECOT: noise_dovecot(g); break;
	case N_CRON: noise_cron(g); break;
	default: noise_decoy(g); break;
	}
}

static void spawner_run(struct gen *g, uint32_t si)
{
	const struct spawn *s = &SPAWNS[si];
	uint32_t ai;
	uint64_t next;

	if (s->cls == C_NOISE) {
		spawn_noise(g, s->kind);
	} else if ((ai = actor_new(g, (enum cls)s->cls)) != NONE) {
		actor_setup(g, &g->actors[ai], s);
		actor_wake(g, ai, 0);
	}
	if (s->mean_ms)
		next = g->now + 1 + rng_exp(&g->rng, s->mean_ms * 1000ULL);
	else
		next = (g->now / MINUTE + 1) * MINUTE + rng_below(&g->rng, 800000);
	heap_push(g, next, TK_SPAWN, si);
}

/* ---- setup ------------------------------------------------------------------------ */

static void init_pools(struct gen *g)
{
	g->pools[P_INNOCENT] = (struct pool4){ 0xc0000200u, 8, 256, 0, 77 };	/* 192.0.2.0/24 */
	g->pools[P_DOC1] = (struct pool4){ 0xc6336400u, 8, 256, 0, 149 };	/* 198.51.100.0/24 */
	g->pools[P_DOC2] = (struct pool4){ 0xcb007100u, 8, 256, 0, 181 };	/* 203.0.113.0/24 */
	/* 100.64.0.0 - 100.111.255.255; 100.112.0.0/12 is left to noise. */
	g->pools[P_CGN] = (struct pool4){ 0x64400000u, 22, 3u << 20, 0, 0x9e3779b1u };
	g->pid = PID_MAX - 60000 - rng_below(&g->rng, 20000);
	g->session = rng_range(&g->rng, 1, 400);
}

static uint32_t fixed_actor(struct gen *g, enum cls cls, const struct addr *a,
    uint64_t first, unsigned flags)
{
	uint32_t ai = actor_new(g, cls);

	if (ai == NONE)
		BUG("pools too small at start");
	g->actors[ai].addr = *a;
	g->actors[ai].key = key_new(g, a, cls, flags);
	actor_wake(g, ai, first);
	return ai;
}

/* Real users, each with its own address and key fingerprint. */
static void init_users(struct gen *g)
{
	struct addr a;

	for (unsigned i = 0; i < N_USERS; i++) {
		if (USERS[i].v6)
			attacker6(g, &a);	/* a fresh /64, like any source */
		else
			innocent4(g, &a);
		fingerprint(g, g->user_fp[i]);
		g->actors[fixed_actor(g, C_BENIGN, &a, rng_below(&g->rng, 1800) * US,
		    KEY_LISTED)].idx = (uint16_t)i;
	}
}

/* Monitoring: a TCP check and a banner check over IPv4, a TCP check over IPv6. */
static void init_health(struct gen *g)
{
	struct addr a;

	for (uint8_t v = 0; v < 3; v++) {
		if (v == 2)
			attacker6(g, &a);
		else
			innocent4(g, &a);
		g->actors[fixed_actor(g, C_HEALTH, &a, rng_below(&g->rng, 20) * US,
		    KEY_LISTED)].variant = v;
	}
}

/* Addresses that only ever appear inside other sources' lines. */
static void init_victims(struct gen *g)
{
	struct addr a;

	for (unsigned i = 0; i < N_VICTIMS; i++) {
		if (i % 4 == 3) {
			attacker6(g, &a);
		} else {
			innocent4(g, &a);
		}
		addr_text(&a, AS_PLAIN, g->victim_text[i]);
		key_new(g, &a, C_VICTIM, KEY_LISTED);
		g->cls_sources[C_VICTIM]++;
	}
}

/* Local scripts hammering 127.0.0.1 and ::1 every few hours. */
static void init_loopback(struct gen *g)
{
	struct addr a;
	uint32_t ai;

	for (int v6 = 0; v6 < 2; v6++) {
		memset(&a, 0, sizeof(a));
		a.v6 = (uint8_t)v6;
		if (v6)
			a.b[15] = 1;
		else
			addr_v4(&a, 0x7f000001u);
		ai = fixed_actor(g, C_LOOP, &a, (600 + rng_below(&g->rng, 1800)) * US, KEY_LISTED);
		g->actors[ai].target = burst_target(g, &g->actors[ai]);
		g->actors[ai].bursts_left = 1;
	}
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die(EXIT_SOFTWARE, "out of memory");
	return p;
}

static void gen_init(struct gen *g)
{
	rng_seed(&g->rng, g->opt.seed);
	g->now = g->opt.start_s * US;
	g->stamp_sec = UINT64_MAX;
	g->buf = xcalloc(OUTBUF, 1);
	g->conns = xcalloc(CONN_MAX, sizeof(*g->conns));
	g->conn_free = xcalloc(CONN_MAX, sizeof(*g->conn_free));
	g->actors = xcalloc(ACTOR_MAX, sizeof(*g->actors));
	g->actor_free = xcalloc(ACTOR_MAX, sizeof(*g->actor_free));
	for (uint32_t i = 0; i < CONN_MAX; i++)
		g->conn_free[g->conn_nfree++] = CONN_MAX - 1 - i;
	for (uint32_t i = 0; i < ACTOR_MAX; i++)
		g->actor_free[g->actor_nfree++] = ACTOR_MAX - 1 - i;
	init_pools(g);
	init_users(g);
	init_health(g);
	init_victims(g);
	init_loopback(g);
	for (uint32_t i = 0; i < ARRAY_LEN(SPAWNS); i++)
		heap_push(g, g->now + SPAWNS[i].first_s * US + rng_below(&g->rng, 1000000),
		    TK_SPAWN, i);
}

/* ---- main loop ------------------------------------------------------------------ */

/* Runs every wake-up in time order. After --lines, spawners and actors
 * stop and only the connections already open run to their end, so no
 * connection is left half-logged. */
static void run(struct gen *g)
{
	struct hent e;

	while (heap_pop(g, &e)) {
		if (g->draining && e.kind != TK_CONN) {
			if (e.kind == TK_ACTOR)
				actor_free(g, e.idx);
			continue;	/* and log time stays at the last line */
		}
		g->now = e.t;
		if (e.kind == TK_CONN)
			conn_run(g, e.idx);
		else if (e.kind == TK_ACTOR)
			actor_run(g, e.idx);
		else
			spawner_run(g, e.idx);
	}
}

/* ---- truth -------------------------------------------------------------------- */

struct row {
	char text[ADDR_TEXT + 4];
	uint32_t k;
};

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->text, ((const struct row *)b)->text);
}

/* Sorted key texts of the keys that pass the filter. Caller frees. */
static struct row *collect(const struct gen *g, int listed, size_t *n)
{
	struct row *rows = xcalloc(g->nkeys ? g->nkeys : 1, sizeof(*rows));

	*n = 0;
	for (uint32_t k = 0; k < g->nkeys; k++) {
		const struct keystate *ks = &g->keys[k];

		if (listed ? !(ks->flags & KEY_LISTED) : !ks->nsanctions)
			continue;
		key_text(&ks->addr, rows[*n].text);
		rows[(*n)++].k = k;
	}
	qsort(rows, *n, sizeof(*rows), row_cmp);
	return rows;
}

static void print_sanctions(const struct gen *g, FILE *f)
{
	size_t n;
	struct row *rows = collect(g, 0, &n);

	for (size_t i = 0; i < n; i++) {
		const struct keystate *ks = &g->keys[rows[i].k];

		fprintf(f, "%s %u ", rows[i].text, ks->nsanctions);
		for (unsigned j = 0; j < ks->nsanctions; j++)
			fprintf(f, "%s%u", j ? "," : "", sanction_secs(ks->levels >> (4 * j) & 15));
		fputc('\n', f);
	}
	free(rows);
}

static void print_innocents(const struct gen *g, FILE *f)
{
	size_t n;
	struct row *rows = collect(g, 1, &n);

	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(rows[i].text, rows[i - 1].text))
			fprintf(f, "# innocent %s\n", rows[i].text);
	free(rows);
}

/* Every key with its class name, sorted like the truth file. */
static void write_classes(const struct gen *g)
{
	FILE *f = fopen(g->opt.classes, "w");
	struct row *rows = xcalloc(g->nkeys ? g->nkeys : 1, sizeof(*rows));

	if (!f)
		die(EXIT_CANTCREAT, "%s: %s", g->opt.classes, strerror(errno));
	for (uint32_t k = 0; k < g->nkeys; k++) {
		key_text(&g->keys[k].addr, rows[k].text);
		rows[k].k = k;
	}
	qsort(rows, g->nkeys, sizeof(*rows), row_cmp);
	for (uint32_t i = 0; i < g->nkeys; i++)
		fprintf(f, "%s %s\n", rows[i].text, CLS_NAME[g->keys[rows[i].k].cls]);
	free(rows);
	if (ferror(f) | fclose(f))
		die(EXIT_IOERR, "%s: write failed", g->opt.classes);
}

/* No source of an innocent class may have been sanctioned: if one was, the
 * generator, not the detector, is wrong. */
static void check_truth(const struct gen *g)
{
	char text[ADDR_TEXT + 4];

	for (uint32_t k = 0; k < g->nkeys; k++) {
		if (!g->keys[k].nsanctions || !cls_innocent(g->keys[k].cls))
			continue;
		key_text(&g->keys[k].addr, text);
		die(EXIT_SOFTWARE, "bug: innocent %s (%s) was sanctioned", text,
		    CLS_NAME[g->keys[k].cls]);
	}
}

static void write_truth(const struct gen *g)
{
	FILE *f = fopen(g->opt.truth, "w");

	if (!f)
		die(EXIT_CANTCREAT, "%s: %s", g->opt.truth, strerror(errno));
	print_sanctions(g, f);
	print_innocents(g, f);
	if (ferror(f) | fclose(f))
		die(EXIT_IOERR, "%s: write failed", g->opt.truth);
}

/* ---- summary -------------------------------------------------------------------- */

static void summary(const struct gen *g)
{
	uint64_t sanctions[NCLS] = { 0 }, total = 0, keys = 0, attackers = 0, listed = 0;
	uint64_t span = g->now / US - g->opt.start_s;
	char a[40], b[40];
	struct civil c0 = civil_from_secs(g->opt.start_s), c1 = civil_from_secs(g->now / US);

	for (uint32_t k = 0; k < g->nkeys; k++) {
		sanctions[g->keys[k].cls] += g->keys[k].nsanctions;
		total += g->keys[k].nsanctions;
		keys += !!g->keys[k].nsanctions;
		listed += !!(g->keys[k].flags & KEY_LISTED);
	}
	snprintf(a, sizeof(a), "%04u-%02u-%02uT%02u:%02u:%02uZ", c0.y, c0.m, c0.d, c0.hh, c0.mm, c0.ss);
	snprintf(b, sizeof(b), "%04u-%02u-%02uT%02u:%02u:%02uZ", c1.y, c1.m, c1.d, c1.hh, c1.mm, c1.ss);
	fprintf(stderr, "gen_authlog: %llu lines, %s .. %s (%.1f h, %.1f lines/s)\n",
	    (unsigned long long)g->lines, a, b, span / 3600.0, span ? (double)g->lines / span : 0.0);
	fprintf(stderr, "gen_authlog:   %-9s %8s %9s %9s %9s\n", "class", "sources", "lines", "failures", "sanctions");
	for (unsigned i = 0; i < NCLS; i++) {
		fprintf(stderr, "gen_authlog:   %-9s %8u %9llu %9llu %9llu\n", CLS_NAME[i], g->cls_sources[i],
		    (unsigned long long)g->cls_lines[i], (unsigned long long)g->cls_fails[i],
		    (unsigned long long)sanctions[i]);
		attackers += cls_attacker(i) ? g->cls_sources[i] : 0;
	}
	fprintf(stderr, "gen_authlog: attackers %llu, expected sanctions %llu on %llu keys, "
	    "innocents listed %llu%s\n", (unsigned long long)attackers, (unsigned long long)total,
	    (unsigned long long)keys, (unsigned long long)listed,
	    g->skipped ? " (some spawns skipped: pools full)" : "");
}

/* ---- command line ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: gen_authlog --lines N --out LOG --truth TRUTH [--seed S]\n"
	    "                   [--format syslog|rfc3339] [--start YYYY-MM-DDTHH:MM:SSZ]\n"
	    "                   [--classes CLASSES]\n"
	    "  --lines   about N lines (open connections are finished), default 100000\n"
	    "  --seed    PRNG seed, default 1; same arguments give the same bytes\n"
	    "  --format  syslog \"Dec 31 18:00:00\" (default) or rfc3339 with microseconds\n"
	    "  --start   log time of the first line, UTC, default 2025-12-31T18:00:00Z\n"
	    "  --classes also write \"KEY CLASS\" for every source to this file\n", f);
}

static void usage_error(const char *fmt, ...) PRINTF(1, 2) __attribute__((noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gen_authlog: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(EXIT_USAGE);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')	/* strtoull would take " 5" and "-5" */
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS" with "Z", "+00:00" or nothing: UTC seconds. */
static int parse_start(const char *s, uint64_t *out)
{
	unsigned y, mo, d, h, mi, sec;
	int used = -1;
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
	    used != 19)
		return -1;
	if (strcmp(s + used, "Z") && strcmp(s + used, "+00:00") && s[used])
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 59)
		return -1;
	if (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600u + mi * 60u + sec;
	return 0;
}

static void parse_opt(struct opts *o, const char *k, const char *v)
{
	if (!strcmp(k, "--lines")) {
		if (parse_u64(v, 1, 1000000000, &o->lines))
			usage_error("--lines: want an integer 1..1000000000, got '%s'", v);
	} else if (!strcmp(k, "--seed")) {
		if (parse_u64(v, 0, UINT64_MAX, &o->seed))
			usage_error("--seed: want an unsigned integer, got '%s'", v);
	} else if (!strcmp(k, "--out")) {
		o->out = v;
	} else if (!strcmp(k, "--truth")) {
		o->truth = v;
	} else if (!strcmp(k, "--classes")) {
		o->classes = v;
	} else if (!strcmp(k, "--format")) {
		if (strcmp(v, "syslog") && strcmp(v, "rfc3339"))
			usage_error("--format: want syslog or rfc3339, got '%s'", v);
		o->rfc3339 = !strcmp(v, "rfc3339");
	} else if (!strcmp(k, "--start")) {
		if (parse_start(v, &o->start_s))
			usage_error("--start: want YYYY-MM-DDTHH:MM:SSZ, got '%s'", v);
	} else {
		usage_error("unknown option '%s'", k);
	}
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	o->lines = 100000;
	o->seed = 1;
	if (parse_start("2025-12-31T18:00:00Z", &o->start_s))
		BUG("default start");
	for (int i = 1; i < argc; i += 2) {	/* every option takes a value */
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			exit(0);
		}
		if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
			usage_error("%s needs a value", argv[i]);
		parse_opt(o, argv[i], argv[i + 1]);
	}
	if (!o->out || !o->truth)
		usage_error("--out and --truth are required");
}

int main(int argc, char **argv)
{
	static struct gen g;

	parse_args(argc, argv, &g.opt);
	g.out = fopen(g.opt.out, "w");
	if (!g.out)
		die(EXIT_CANTCREAT, "%s: %s", g.opt.out, strerror(errno));
	gen_init(&g);
	run(&g);
	sink_flush(&g);
	if (ferror(g.out) | fclose(g.out))
		die(EXIT_IOERR, "%s: write failed", g.opt.out);
	check_truth(&g);
	write_truth(&g);
	if (g.opt.classes)
		write_classes(&g);
	summary(&g);
	return 0;
}
