/* enforce.c: the enforcer's front: validation, the queue, batching and the
 * command text (see enforce.h for the contract).
 * Why: the backends only carry text to the kernel; everything that decides
 * what the text says lives here, in pure functions the unit tests read.
 * Guarantees: only addresses enforce_check() accepts are queued; the text
 * is written from their binary form with inet_ntop, and names no table but
 * ours; a failed transaction never hides which of its operations failed.
 *
 * Design, measured on nft 1.0.6 / kernel 6.18 (tests/integration/
 * test_enforce_netns.sh prints the figures):
 *  - No interval sets. For every element command on a table that holds an
 *    interval set, libnftables first lists the elements of every interval
 *    set in the table (to check overlaps): with 50k elements each add took
 *    0.8 s, with 100k 2.3 s, even into another set. Plain hash sets are
 *    never listed: an add costs ~0.1 ms with 300k elements. So a prefix
 *    shorter than the address lives in a hash set of its own length, keyed
 *    by the masked address (v6_64 for /64), matched by one rule per chain
 *    "ip6 saddr & ffff:ffff:ffff:ffff:: @v6_64 drop", created on first use.
 *    Overlaps stop mattering too: 2001:db8::/64 and 2001:db8::1 are two
 *    elements of two sets, each dropped and lifted on its own.
 *  - Idempotent operations. Deleting a missing element fails the whole
 *    transaction, and nft 1.0.6 has no "destroy element". But "add element"
 *    of an existing element succeeds, so "add X; delete X" always succeeds
 *    and leaves X absent: that is a remove. An add is "add X; delete X;
 *    add X timeout D", which sets the new timeout on every kernel; when the
 *    kernel is known to re-time an element on re-add (enforce_reset probes
 *    it; 6.18 does) an add is the plain "add X timeout D", 3x faster in
 *    bulk (186k/s against 65k/s).
 *  - Element-only batches (all but a prefix length's first drop) go to the
 *    backend's element path (netlink for nft, no libnftables cache):
 *    one add+commit p50 11 us, p99 45 us; bulk ~450k adds/s and ~230k
 *    removes/s in transactions of ENFORCE_CHUNK (libnftables text: p50
 *    0.2 ms, 210k/s and 93k/s).
 *  - A failed transaction is retried operation by operation (unless our
 *    table is gone), so one bad element cannot sink a batch of good ones. */
#include "enforce/enforce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common/log.h"

/* The one enforcer of the process. queue holds checked operations in the
 * order they were queued; shape says which prefix sets exist in the kernel
 * (as far as our own successful transactions say). */
static struct {
	const struct enforce_ops *be;      /* NULL when closed */
	struct enforce_limits lim;
	struct enforce_op *queue;
	size_t nqueue, capqueue;
	struct enforce_shape shape;
	int refresh;                       /* -1 unknown, else what readd_refreshes said */
	struct enforce_stats stats;
} enf;

static const struct enforce_ops *const backends[] = {&enforce_nft_ops, &enforce_dryrun_ops};
static const struct enforce_limits default_limits = {ENFORCE_WIDEST_V4_DEFAULT, ENFORCE_WIDEST_V6_DEFAULT};

/* ---- Validation ------------------------------------------------------ */

static unsigned full_prefix(const struct addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

static bool bit_at(const uint8_t *bytes, unsigned i)
{
	return bytes[i / 8] & (0x80u >> (i % 8));
}

/* True when no bit at or past position from is set in all 16 bytes (an
 * IPv4 address must leave bytes 4..15 zero as well). */
static bool clear_from(const struct addr *a, unsigned from)
{
	for (unsigned i = from; i < 128; i++)
		if (bit_at(a->bytes, i))
			return false;
	return true;
}

/* True when a and the network net/len share an address. */
static bool overlaps(const struct addr *a, const uint8_t *net, unsigned len)
{
	unsigned common = a->prefix < len ? a->prefix : len;
	for (unsigned i = 0; i < common; i++)
		if (bit_at(a->bytes, i) != bit_at(net, i))
			return false;
	return true;
}

/* Networks no sanction may cover, nor any prefix that covers one: dropping
 * them would cut the host off from itself or from its own link, whoever
 * asked (an ally's report, or a log line naming fe80::x, counted per /64).
 * Each says why in enforce_check's answer. */
static const struct reserved_net {
	int family;
	unsigned len;
	uint8_t net[16];
	const char *why;
} reserved_nets[] = {
	{AF_INET, 8, {0}, "reserved network (this network, 0.0.0.0/8)"},
	{AF_INET, 8, {127}, "reserved network (loopback, 127.0.0.0/8)"},
	/* Addresses a host gives itself without DHCP; cloud metadata services. */
	{AF_INET, 16, {169, 254}, "reserved network (link-local, 169.254.0.0/16)"},
	{AF_INET, 4, {224}, "reserved network (multicast, 224.0.0.0/4)"},
	{AF_INET, 4, {240}, "reserved network (reserved and broadcast, 240.0.0.0/4)"},
	/* ::, ::1 and the IPv4-mapped and -compatible spaces. */
	{AF_INET6, 80, {0}, "reserved network (unspecified, loopback or IPv4-mapped, ::/80)"},
	/* Neighbour discovery and router advertisements travel here: without
	 * them the host loses its IPv6 neighbours. */
	{AF_INET6, 10, {0xfe, 0x80}, "reserved network (link-local, fe80::/10)"},
	{AF_INET6, 8, {0xff}, "reserved network (multicast, ff00::/8)"},
};

/* Why a may not be sanctioned as a reserved network, or NULL. */
static const char *reserved(const struct addr *a)
{
	for (size_t i = 0; i < sizeof(reserved_nets) / sizeof(reserved_nets[0]); i++) {
		const struct reserved_net *r = &reserved_nets[i];
		if (r->family == a->family && overlaps(a, r->net, r->len))
			return r->why;
	}
	return NULL;
}

const char *enforce_check(const struct addr *a, const struct enforce_limits *lim)
{
	if (!lim)
		lim = enf.be ? &enf.lim : &default_limits;
	if (a->family != AF_INET && a->family != AF_INET6)
		return "not an IPv4 or IPv6 address";
	if (a->prefix > full_prefix(a))
		return "prefix longer than the address";
	if (!clear_from(a, a->prefix))
		return "bits set past the prefix";
	if (a->prefix == 0)
		return "a /0 would drop every address";
	if (a->prefix < (a->family == AF_INET ? lim->widest_v4 : lim->widest_v6))
		return "prefix wider than the widest allowed";
	return reserved(a);
}

/* "192.0.2.1/32", or what is wrong with the family: for messages about
 * addresses that may be malformed. */
static void describe(const struct addr *a, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN];
	if (a->family != AF_INET && a->family != AF_INET6) {
		snprintf(buf, len, "(family %u)", a->family);
		return;
	}
	inet_ntop(a->family, a->bytes, text, sizeof(text));
	snprintf(buf, len, "%s/%u", text, a->prefix);
}

/* ---- Queue ----------------------------------------------------------- */

static int refuse(const struct addr *a, int err, const char *why)
{
	char text[ADDR_STRLEN + 16];
	describe(a, text, sizeof(text));
	enf.stats.refused++;
	log_warnx("enforce: refused %s: %s", text, why);
	errno = err;
	return -1;
}

static int push(enum enforce_kind kind, const struct addr *a, uint32_t duration_s)
{
	if (enf.nqueue == enf.capqueue) {
		size_t cap = enf.capqueue ? enf.capqueue * 2 : 64;
		struct enforce_op *q = reallocarray(enf.queue, cap, sizeof(*q));
		if (!q)
			return -1;  /* errno is ENOMEM */
		enf.queue = q;
		enf.capqueue = cap;
	}
	enf.queue[enf.nqueue++] = (struct enforce_op){.kind = kind, .duration_s = duration_s, .addr = *a};
	enf.stats.queued++;
	return 0;
}

/* What every queued operation must pass: an open enforcer, a valid address. */
static int accept_address(const struct addr *a)
{
	if (!enf.be) {
		errno = EBADF;
		return -1;
	}
	const char *why = enforce_check(a, NULL);
	return why ? refuse(a, EINVAL, why) : 0;
}

int enforce_add(const struct addr *a, uint32_t duration_s)
{
	if (accept_address(a) != 0)
		return -1;
	if (duration_s == 0 || duration_s > ENFORCE_MAX_DURATION_S) {
		char range[64];
		snprintf(range, sizeof(range), "duration %" PRIu32 " s out of 1..%u", duration_s,
			 ENFORCE_MAX_DURATION_S);
		return refuse(a, ERANGE, range);
	}
	return push(ENFORCE_ADD, a, duration_s);
}

int enforce_remove(const struct addr *a)
{
	if (accept_address(a) != 0)
		return -1;
	return push(ENFORCE_REMOVE, a, 0);
}

size_t enforce_pending(void)
{
	return enf.nqueue;
}

/* ---- Coalescing: the last operation per address wins ----------------- */

struct seq_op {
	struct enforce_op op;
	size_t seq;
};

/* Orders by set (family, prefix), then address, then queue position. */
static int cmp_seq_op(const void *pa, const void *pb)
{
	const struct seq_op *x = pa, *y = pb;
	if (x->op.addr.family != y->op.addr.family)
		return x->op.addr.family < y->op.addr.family ? -1 : 1;
	if (x->op.addr.prefix != y->op.addr.prefix)
		return x->op.addr.prefix < y->op.addr.prefix ? -1 : 1;
	int c = memcmp(x->op.addr.bytes, y->op.addr.bytes, 16);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts a copy of ops[0..n) and keeps the last operation for each address.
 * Returns the count left in *out (malloc'd, the caller frees), or -1 (ENOMEM). */
static ssize_t coalesce(const struct enforce_op *ops, size_t n, struct enforce_op **out)
{
	struct seq_op *s = calloc(n ? n : 1, sizeof(*s));
	struct enforce_op *o = calloc(n ? n : 1, sizeof(*o));
	if (!s || !o) {
		free(s);
		free(o);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (struct seq_op){.op = ops[i], .seq = i};
	qsort(s, n, sizeof(*s), cmp_seq_op);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || !addr_equal(&s[i].op.addr, &s[i + 1].op.addr))
			o[m++] = s[i].op;
	free(s);
	*out = o;
	return (ssize_t)m;
}

/* ---- Text ------------------------------------------------------------ */

/* A growing string; after a failed allocation it stays failed (oom). */
struct text {
	char *p;
	size_t len, cap;
	bool oom;
};

static void text_add(struct text *t, const char *fmt, ...) LOG_PRINTF(2, 3);

static void text_add(struct text *t, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !t->oom; tries++) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if (t->p && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap + (size_t)n + 1) * 2;
		char *p = realloc(t->p, cap);
		if (!p)
			t->oom = true;
		else
			t->p = p, t->cap = cap;
	}
}

/* Returns the string (never NULL unless out of memory: then frees it). */
static char *text_finish(struct text *t)
{
	if (!t->oom && !t->p)
		text_add(t, "%s", "");
	if (t->oom) {
		free(t->p);
		return NULL;
	}
	return t->p;
}

void enforce_set_name(const struct addr *a, char *buf, size_t len)
{
	const char *base = a->family == AF_INET ? "v4" : "v6";
	if (a->prefix == full_prefix(a))
		snprintf(buf, len, "%s", base);
	else
		snprintf(buf, len, "%s_%u", base, a->prefix);
}

static void put_addr(struct text *t, int family, const uint8_t *bytes)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(family, bytes, buf, sizeof(buf));
	text_add(t, "%s", buf);
}

const char *enforce_render_table(void)
{
	return "add table " ENFORCE_TABLE "\n"
	       "delete table " ENFORCE_TABLE "\n"
	       "table " ENFORCE_TABLE " {\n"
	       "\tset v4 { type ipv4_addr; flags timeout; }\n"
	       "\tset v6 { type ipv6_addr; flags timeout; }\n"
	       "\tchain input { type filter hook input priority filter - 10; policy accept; "
	       "ip saddr @v4 drop; ip6 saddr @v6 drop; }\n"
	       "\tchain forward { type filter hook forward priority filter - 10; policy accept; "
	       "ip saddr @v4 drop; ip6 saddr @v6 drop; }\n"
	       "}\n";
}

/* The set for prefix a->prefix and its drop rule in both chains. */
static void render_prefix_set(struct text *t, const struct addr *a)
{
	static const char *const chains[] = {"input", "forward"};
	struct addr mask = {.family = a->family};
	char name[16];
	const char *key = a->family == AF_INET ? "ip" : "ip6";

	memset(mask.bytes, 0xff, sizeof(mask.bytes));
	addr_mask(&mask, a->prefix);
	enforce_set_name(a, name, sizeof(name));
	text_add(t, "add set %s %s { type %s; flags timeout; }\n", ENFORCE_TABLE, name,
		 a->family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	for (size_t i = 0; i < 2; i++) {
		text_add(t, "add rule %s %s %s saddr & ", ENFORCE_TABLE, chains[i], key);
		put_addr(t, a->family, mask.bytes);
		text_add(t, " @%s drop\n", name);
	}
}

enum pick { PICK_REMOVES, PICK_ALL, PICK_ADDS };

static bool picked(const struct enforce_op *op, enum pick pick)
{
	return pick == PICK_ALL || (pick == PICK_ADDS) == (op->kind == ENFORCE_ADD);
}

/* "VERB element inet pacto SET { e1, e2 }" over the picked ops of one set
 * (with their timeouts for PICK_ADDS); nothing when none is picked. */
static void render_elements(struct text *t, const char *verb, const struct enforce_op *g, size_t n,
			    enum pick pick)
{
	char name[16];
	bool first = true;

	enforce_set_name(&g[0].addr, name, sizeof(name));
	for (size_t i = 0; i < n; i++) {
		if (!picked(&g[i], pick))
			continue;
		if (first)
			text_add(t, "%s element %s %s { ", verb, ENFORCE_TABLE, name);
		else
			text_add(t, ", ");
		put_addr(t, g[i].addr.family, g[i].addr.bytes);
		if (pick == PICK_ADDS)
			text_add(t, " timeout %us", (unsigned)g[i].duration_s);
		first = false;
	}
	if (!first)
		text_add(t, " }\n");
}

static bool *shape_slot(struct enforce_shape *shape, const struct addr *a)
{
	if (a->prefix == full_prefix(a))
		return NULL;  /* v4 and v6 always exist */
	return a->family == AF_INET ? &shape->v4[a->prefix] : &shape->v6[a->prefix];
}

static bool any_add(const struct enforce_op *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].kind == ENFORCE_ADD)
			return true;
	return false;
}

/* One set's operations g[0..n) (coalesced): see enforce_render_batch. */
static void render_group(struct text *t, const struct enforce_op *g, size_t n, bool refresh,
			 struct enforce_shape *shape)
{
	bool *have = shape_slot(shape, &g[0].addr);
	if (have && !*have) {
		if (!any_add(g, n))
			return;  /* removing from a set that does not exist: nothing to do */
		render_prefix_set(t, &g[0].addr);
		*have = true;
	}
	enum pick clear = refresh ? PICK_REMOVES : PICK_ALL;
	render_elements(t, "add", g, n, clear);
	render_elements(t, "delete", g, n, clear);
	render_elements(t, "add", g, n, PICK_ADDS);
}

static bool same_set(const struct addr *a, const struct addr *b)
{
	return a->family == b->family && a->prefix == b->prefix;
}

/* ops[0..n) coalesced and sorted: one group per set. */
static char *render_sorted(const struct enforce_op *ops, size_t n, bool refresh, struct enforce_shape *shape)
{
	struct text t = {0};
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && same_set(&ops[i].addr, &ops[j].addr); j++)
			;
		render_group(&t, ops + i, j - i, refresh, shape);
	}
	return text_finish(&t);
}

char *enforce_render_batch(const struct enforce_op *ops, size_t n, bool refresh, struct enforce_shape *shape)
{
	struct enforce_op *c;
	ssize_t m = coalesce(ops, n, &c);
	if (m < 0)
		return NULL;
	char *text = render_sorted(c, (size_t)m, refresh, shape);
	free(c);
	return text;
}

/* ---- Commit ---------------------------------------------------------- */

/* True when ops[0..n) (sorted) add to a prefix set that does not exist yet. */
static bool needs_new_set(const struct enforce_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool *have = shape_slot(&enf.shape, &ops[i].addr);
		if (have && !*have && ops[i].kind == ENFORCE_ADD)
			return true;
	}
	return false;
}

static bool in_missing_set(const struct enforce_op *op)
{
	bool *have = shape_slot(&enf.shape, &op->addr);
	return have && !*have;
}

/* The backend's element path, for a batch that creates no set: removals
 * from sets that do not exist are nothing to do, and are left out. */
static int apply_elements(const struct enforce_op *ops, size_t n, char *err, size_t errlen)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		m += !in_missing_set(&ops[i]);
	struct enforce_op *kept = m < n ? calloc(m ? m : 1, sizeof(*kept)) : NULL;
	if (m < n && !kept) {
		snprintf(err, errlen, "enforce: %zu operations: out of memory", n);
		return -1;
	}
	for (size_t i = 0, k = 0; kept && i < n; i++)
		if (!in_missing_set(&ops[i]))
			kept[k++] = ops[i];
	int rc = m ? enf.be->apply_elements(kept ? kept : ops, m, enf.refresh > 0, err, errlen) : 0;
	free(kept);
	if (rc == 0) {
		enf.stats.applied += n;
		enf.stats.transactions += m > 0;
	}
	return rc;
}

/* Applies sorted ops[0..n) as one transaction; on success records the sets
 * it created. Element-only batches take the backend's element path when it
 * has one; the others (a first add to a prefix set) go as text.
 * Returns 0, or -1 with err filled. */
static int apply_sorted(const struct enforce_op *ops, size_t n, char *err, size_t errlen)
{
	if (enf.be->apply_elements && !needs_new_set(ops, n))
		return apply_elements(ops, n, err, errlen);
	struct enforce_shape shape = enf.shape;
	char *text = render_sorted(ops, n, enf.refresh > 0, &shape);
	if (!text) {
		snprintf(err, errlen, "enforce: rendering %zu operations: out of memory", n);
		return -1;
	}
	bool structural = memcmp(&shape, &enf.shape, sizeof(shape)) != 0;
	bool empty = *text == '\0';
	int rc = empty ? 0 : enf.be->apply(text, structural, err, errlen);
	free(text);
	if (rc == 0) {
		enf.shape = shape;
		enf.stats.applied += n;
		enf.stats.transactions += !empty;
	}
	return rc;
}

static void report_failure(const struct enforce_op *op, const char *why, enforce_fail_fn *on_fail, void *arg)
{
	char text[ADDR_STRLEN + 16];
	describe(&op->addr, text, sizeof(text));
	enf.stats.failed++;
	log_warnx("enforce: %s %s failed: %s", op->kind == ENFORCE_ADD ? "add" : "remove", text, why);
	if (on_fail)
		on_fail(arg, op, why);
}

/* After a failed transaction over a live table: each operation alone, so
 * the good ones apply and each bad one is reported. Returns the failures. */
static size_t retry_each(const struct enforce_op *ops, size_t n, enforce_fail_fn *on_fail, void *arg,
			 char *err, size_t errlen)
{
	char why[ENFORCE_ERRLEN];
	size_t failed = 0;

	enf.stats.retries++;
	for (size_t i = 0; i < n; i++) {
		if (apply_sorted(ops + i, 1, why, sizeof(why)) == 0)
			continue;
		if (failed++ == 0)
			snprintf(err, errlen, "%s", why);
		report_failure(ops + i, why, on_fail, arg);
	}
	return failed;
}

/* After a failed transaction: is it our table that went away? */
static bool table_gone(void)
{
	char why[ENFORCE_ERRLEN];
	int p = enf.be->present(why, sizeof(why));
	if (p < 0)
		log_warnx("%s", why);
	return p == 0;
}

/* One chunk: returns 0, or -1 with errno ENOENT (table gone), EIO (some
 * failed, reported) or ENOMEM, and err filled. */
static int commit_chunk(const struct enforce_op *ops, size_t n, enforce_fail_fn *on_fail, void *arg,
			char *err, size_t errlen)
{
	struct enforce_op *c;
	ssize_t m = coalesce(ops, n, &c);
	if (m < 0) {
		snprintf(err, errlen, "enforce: coalescing %zu operations: out of memory", n);
		errno = ENOMEM;
		return -1;
	}
	int rc = 0;
	if (apply_sorted(c, (size_t)m, err, errlen) != 0) {
		if (table_gone()) {
			snprintf(err, errlen, "enforce: table %s is gone or was altered", ENFORCE_TABLE);
			errno = ENOENT;
			rc = -1;
		} else {
			if (retry_each(c, (size_t)m, on_fail, arg, err, errlen) > 0) {
				errno = EIO;
				rc = -1;
			}
		}
	}
	free(c);
	return rc;
}

int enforce_commit(enforce_fail_fn *on_fail, void *arg, char *err, size_t errlen)
{
	if (!enf.be) {
		snprintf(err, errlen, "enforce: commit: not open");
		errno = EBADF;
		return -1;
	}
	int rc = 0, saved = 0;
	size_t done = 0;
	while (done < enf.nqueue) {
		size_t n = enf.nqueue - done < ENFORCE_CHUNK ? enf.nqueue - done : ENFORCE_CHUNK;
		if (commit_chunk(enf.queue + done, n, on_fail, arg, err, errlen) != 0) {
			rc = -1;
			saved = errno;
			if (saved == ENOENT)
				break;  /* the rest would fail the same way */
		}
		done += n;
	}
	/* After ENOENT, the failed chunk and the rest: restored from the ledger after a reset. */
	enf.stats.dropped += enf.nqueue - done;
	enf.nqueue = 0;
	errno = saved;
	return rc;
}

/* ---- Life cycle ------------------------------------------------------- */

static int check_limits(const struct enforce_limits *lim, char *err, size_t errlen)
{
	if (lim->widest_v4 < 1 || lim->widest_v4 > 32 || lim->widest_v6 < 1 || lim->widest_v6 > 128) {
		snprintf(err, errlen, "enforce: widest prefixes /%u and /%u out of 1..32 and 1..128",
			 lim->widest_v4, lim->widest_v6);
		return -1;
	}
	return 0;
}

static const struct enforce_ops *find_backend(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

int enforce_open(const char *backend, const struct enforce_limits *lim, char *err, size_t errlen)
{
	const struct enforce_ops *be = find_backend(backend);

	if (enf.be) {
		snprintf(err, errlen, "enforce: open %s: already open (%s)", backend, enf.be->name);
		return -1;
	}
	if (!be) {
		snprintf(err, errlen, "enforce: open: unknown backend \"%s\" (nft, dryrun)", backend);
		return -1;
	}
	if (!lim)
		lim = &default_limits;
	if (check_limits(lim, err, errlen) != 0 || be->open(err, errlen) != 0)
		return -1;
	memset(&enf, 0, sizeof(enf));
	enf.be = be;
	enf.lim = *lim;
	enf.refresh = -1;
	return 0;
}

/* Once per process, right after a reset (the sets are empty). */
static void probe_refresh(void)
{
	char why[ENFORCE_ERRLEN];
	int r = enf.be->readd_refreshes(why, sizeof(why));
	if (r < 0)
		log_warnx("%s; assuming re-adding keeps the old timeout", why);
	enf.refresh = r > 0;
	log_info("enforce: re-adding an element %s its timeout: adds are %s", r > 0 ? "renews" : "keeps",
		 r > 0 ? "plain" : "add, delete, add");
}

int enforce_reset(char *err, size_t errlen)
{
	if (!enf.be) {
		snprintf(err, errlen, "enforce: reset: not open");
		return -1;
	}
	enf.stats.dropped += enf.nqueue;
	enf.nqueue = 0;
	if (enf.be->reset(enforce_render_table(), err, errlen) != 0)
		return -1;
	memset(&enf.shape, 0, sizeof(enf.shape));
	enf.stats.resets++;
	if (enf.refresh < 0)
		probe_refresh();
	return 0;
}

int enforce_table_present(char *err, size_t errlen)
{
	if (!enf.be) {
		snprintf(err, errlen, "enforce: present: not open");
		return -1;
	}
	return enf.be->present(err, errlen);
}

int enforce_table_changed(char *err, size_t errlen)
{
	if (!enf.be) {
		snprintf(err, errlen, "enforce: changed: not open");
		return -1;
	}
	return enf.be->changed ? enf.be->changed(err, errlen) : 0;
}

/* The backend's lookup of addrs[0..n), all checked. */
static int probe_checked(const struct addr *addrs, size_t n, bool *present, char *err, size_t errlen)
{
	if (!enf.be->probe) {
		for (size_t i = 0; i < n; i++)
			present[i] = true;
		return 0;
	}
	return n ? enf.be->probe(addrs, n, present, err, errlen) : 0;
}

/* A refused address is reported absent rather than failing the whole
 * probe: a ledger written before the reserved networks grew may still hold
 * one (fe80::/64), and it must not stop the others from being checked. */
int enforce_probe(const struct addr *addrs, size_t n, bool *present, char *err, size_t errlen)
{
	if (!enf.be) {
		snprintf(err, errlen, "enforce: probe: not open");
		return -1;
	}
	struct addr *ok = calloc(n ? n : 1, sizeof(*ok));
	bool *found = calloc(n ? n : 1, sizeof(*found));
	size_t m = 0;
	if (!ok || !found) {
		free(ok);
		free(found);
		snprintf(err, errlen, "enforce: probe: %zu addresses: out of memory", n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!enforce_check(&addrs[i], &enf.lim))
			ok[m++] = addrs[i];
	int rc = probe_checked(ok, m, found, err, errlen);
	for (size_t i = 0, k = 0; rc == 0 && i < n; i++)
		present[i] = enforce_check(&addrs[i], &enf.lim) ? false : found[k++];
	free(ok);
	free(found);
	return rc;
}

const struct enforce_stats *enforce_get_stats(void)
{
	return &enf.stats;
}

void enforce_close(void)
{
	if (enf.be)
		enf.be->close();
	free(enf.queue);
	memset(&enf, 0, sizeof(enf));
}
