/* engine.c: split -> match -> connection -> counters -> policy (see engine.h).
 * Connections: the lines of one sshd connection share a pid (or, in bare
 * logs, an address and port). A connection remembers whether it has logged
 * an attempt, whether it owes a pending failure, and its flags, so that each
 * attempt is counted once however many lines describe it.
 * Invariant: a connection is in the table from its first matched line until
 * it ends, times out or is evicted; all three settle its pending failure. */
#include "detect/engine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "detect/counters.h"
#include "detect/dispatch.h"
#include "detect/lru.h"
#include "detect/match.h"

#define DEFAULT_IPV6_PREFIX 64
#define DEFAULT_MAX_SOURCES 262144
#define DEFAULT_MAX_CONNECTIONS 65536

/* A connection: (scenario, host, pid), or (scenario, address, port) for
 * lines without a pid, or "unkeyed" for a line with neither (bare logs: it
 * belongs to the next line). Three words, so hashing and comparing stay
 * cheap on the hot path (a 48-byte key showed in the profile). */
struct conn_key {
	uint64_t w[3];
};

struct conn {
	struct addr addr;       /* the source, once a line of the connection named it */
	int32_t port;
	bool has_addr, tried, pending;
	uint16_t flags;
	int64_t last_seen_us;
};

struct engine {
	const struct ruleset *rs;
	struct engine_config cfg;
	struct engine_scanner *scanner;   /* the engine's own, for engine_feed_line() */
	struct engine_hit *hits;          /* its hits, engine_max_hits() of them */
	struct counters **counters;
	struct policy *policy;
	struct lru *conns;
	struct year_guess year;
	int64_t now_us;
	struct engine_stats stats;
	struct dispatch *dispatch;   /* which scenarios read a line */
};

static const char *const verdict_texts[] = {
	[VERDICT_COUNTED] = "counted",
	[VERDICT_PENDING] = "pending: counts when the connection ends without an attempt",
	[VERDICT_PENDING_COUNTED] = "counted: the connection ended without an attempt",
	[VERDICT_ALREADY_TRIED] = "not counted: the connection's attempts were counted",
	[VERDICT_NOT_FAILURE] = "not a failure: the connection ends with nothing tried",
	[VERDICT_REDESCRIBES] = "not counted: re-describes an attempt counted by another line",
	[VERDICT_MARKED] = "noted on the connection",
	[VERDICT_ALLOWLISTED] = "not counted: the source is allowlisted",
	[VERDICT_WHILE_SANCTIONED] = "not counted: the source is already sanctioned",
	[VERDICT_SANCTIONED] = "counted: threshold reached, sanctioned",
	[VERDICT_BAD_ADDRESS] = "refused: the captured text is not an address",
};

const char *verdict_text(enum verdict v)
{
	return (size_t)v < sizeof(verdict_texts) / sizeof(*verdict_texts) ? verdict_texts[v] : "?";
}

/* ---- tracing (pacto replay --explain) ---- */

static bool tracing(const struct engine *e, const struct addr *source, const struct addr *key)
{
	if (e->cfg.trace_all)
		return true;
	if (!e->cfg.has_trace_source || !e->cfg.on_trace)
		return false;
	return addr_contains(&e->cfg.trace_source, source) || addr_contains(key, &e->cfg.trace_source);
}

struct line_ctx {
	size_t scenario;
	const struct scenario *s;
	const struct match *m;
	struct log_event *ev;
	uint64_t host_hash;      /* of ev's host, hashed when the line was scanned */
	const struct engine_hit *hit;   /* the line's match, with its lookups hashed when prepared */
	int64_t time_us;
};

static void trace(struct engine *e, const struct line_ctx *lc, enum verdict v, const struct addr *source,
		  unsigned in_window, int64_t until_us)
{
	if (!e->cfg.on_trace || (!e->cfg.trace_all && !e->cfg.has_trace_source))
		return;
	struct addr key = policy_key(e->policy, source);
	if (!tracing(e, source, &key))
		return;
	struct trace t = {
		.verdict = v, .scenario = lc->s, .pattern = lc->m ? lc->m->pattern : NULL,
		.event = lc->ev, .source = *source, .key = key, .in_window = in_window,
		.time_us = lc->time_us, .until_us = until_us,
	};
	e->cfg.on_trace(e->cfg.arg, &t);
}

/* ---- counting ---- */

/* Recidive: each sanction counts once in every scenario with `input:
 * sanctions`; when one reaches its threshold the sanction becomes that
 * scenario's, at least as long as its `sanction` (the first such scenario
 * in file order wins). The key is sanctioned once either way. */
static void recidive(struct engine *e, const struct addr *key, struct sanction *s)
{
	for (size_t i = 0; i < e->rs->nscenarios; i++) {
		const struct scenario *r = &e->rs->scenarios[i];
		if (!r->counts_sanctions)
			continue;
		struct window_result w = counters_hit(e->counters[i], key, s->created_us);
		if (!w.reached || s->scenario->counts_sanctions)
			continue;
		s->scenario = r;
		s->attempts = w.in_window;
		s->first_seen_us = w.first_us;
		if (s->duration_us < r->sanction_us)
			s->duration_us = r->sanction_us;
		policy_impose(e->policy, key, s->created_us, s->created_us + s->duration_us);
		e->stats.recidives++;
	}
}

static void sanction(struct engine *e, const struct line_ctx *lc, const struct addr *key,
		     const struct window_result *w)
{
	struct sanction s = {
		.addr = *key, .scenario = lc->s, .attempts = w->in_window,
		.first_seen_us = w->first_us, .last_seen_us = lc->time_us,
	};
	policy_sanction(e->policy, lc->s, key, lc->time_us, &s);
	recidive(e, key, &s);
	e->stats.sanctions++;
	if (e->cfg.on_sanction)
		e->cfg.on_sanction(e->cfg.arg, &s);
}

/* One failure of source. `counted` is the verdict to trace when it does not
 * reach the threshold. */
static void count_failure(struct engine *e, const struct line_ctx *lc, const struct addr *source,
			  enum verdict counted)
{
	/* The line's own source (not an older connection's, settled now):
	 * its key and hashes were prepared ahead. */
	const struct engine_hit *h = lc->hit;
	bool hinted = h && h->prepared && h->match.has_addr && addr_equal(source, &h->match.addr);
	struct addr key = hinted ? h->key : policy_key(e->policy, source);
	int64_t until;
	if (policy_allowlisted(e->policy, &key)) {
		e->stats.allowlisted++;
		trace(e, lc, VERDICT_ALLOWLISTED, source, 0, 0);
		return;
	}
	if (hinted ? policy_active_hashed(e->policy, &key, h->key_hash, lc->time_us, &until)
		   : policy_active(e->policy, &key, lc->time_us, &until)) {
		e->stats.while_sanctioned++;
		trace(e, lc, VERDICT_WHILE_SANCTIONED, source, 0, until);
		return;
	}
	e->stats.failures++;
	struct counters *c = e->counters[lc->scenario];
	struct window_result w = hinted ? counters_hit_hashed(c, &key, h->key_hash, lc->time_us)
					: counters_hit(c, &key, lc->time_us);
	trace(e, lc, w.reached ? VERDICT_SANCTIONED : counted, source, w.in_window, 0);
	if (w.reached)
		sanction(e, lc, &key, &w);
}

/* ---- connections ---- */

static uint64_t host_hash(const struct log_event *ev)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < ev->host_len; i++)
		h = (h ^ (unsigned char)ev->host[i]) * 0x100000001b3ULL;
	return h;
}

static struct conn_key conn_key_of(size_t scenario_index, int64_t pid, uint64_t host, const struct match *m)
{
	struct conn_key k = {{0, 0, 0}};
	uint64_t scenario = (uint64_t)scenario_index << 32;
	if (pid >= 0) {
		k.w[0] = host;
		k.w[1] = (uint64_t)pid;
		k.w[2] = scenario | 1;
	} else if (m->has_addr) {
		memcpy(&k.w[0], m->addr.bytes, 16);
		uint64_t port = (uint64_t)(m->port > 0 ? m->port : 0);
		k.w[2] = scenario | port << 8 | (uint64_t)m->addr.family << 24 | 2;
	} else {
		k.w[2] = scenario | 3;   /* unkeyed */
	}
	return k;
}

static struct conn_key conn_key_for(const struct line_ctx *lc)
{
	return conn_key_of(lc->scenario, lc->ev->pid, lc->host_hash, lc->m);
}

/* Bare logs: sshd -E writes some lines (the kex error) with neither pid
 * nor address; their flags go to the connection of the very next line
 * that names an address, and are dropped if that line continues an older
 * connection. Returns the flags to give a new connection. */
static uint16_t take_unkeyed_flags(struct engine *e, const struct line_ctx *lc)
{
	if (lc->ev->pid >= 0 || !lc->m->has_addr)
		return 0;
	struct conn_key k = {{0, 0, (uint64_t)lc->scenario << 32 | 3}};
	struct conn *u = lru_get(e->conns, &k, false, NULL);
	if (!u)
		return 0;
	uint16_t flags = u->flags;
	lru_remove(e->conns, &k);
	return flags;
}

static size_t conn_scenario(const struct conn_key *k)
{
	return (size_t)(k->w[2] >> 32);
}

/* Settles a connection that ends: its pending failure counts. */
static void conn_settle(struct engine *e, const struct line_ctx *lc, struct conn *c)
{
	if (c->pending && !c->tried && c->has_addr) {
		c->pending = false;
		count_failure(e, lc, &c->addr, VERDICT_PENDING_COUNTED);
	}
}

/* The table evicted a connection to make room: settle it now. */
static void conn_evicted(void *arg, const void *key, void *value)
{
	struct engine *e = arg;
	const struct conn_key *k = key;
	const struct conn *c = value;
	/* A pending failure happened when its connection was last seen, not now. */
	struct line_ctx lc = {.scenario = conn_scenario(k), .s = &e->rs->scenarios[conn_scenario(k)],
			      .time_us = c->last_seen_us};
	e->stats.connection_evictions++;
	conn_settle(e, &lc, value);
}

static struct conn *conn_get(struct engine *e, const struct line_ctx *lc)
{
	uint16_t inherited = take_unkeyed_flags(e, lc);
	struct conn_key k = conn_key_for(lc);
	bool created;
	struct conn *c = lc->hit && lc->hit->prepared ? lru_get_hashed(e->conns, &k, lc->hit->conn_hash, true, &created)
						      : lru_get(e->conns, &k, true, &created);
	const struct match *m = lc->m;
	/* A pid reused by a new connection, or two hosts in one log: start afresh. */
	if (!created && m->has_addr && c->has_addr &&
	    (!addr_equal(&c->addr, &m->addr) || (m->port >= 0 && c->port >= 0 && c->port != m->port))) {
		conn_settle(e, lc, c);
		created = true;
	}
	if (created) {
		memset(c, 0, sizeof(*c));
		c->port = -1;
		c->flags = inherited;
	}
	if (m->has_addr && !c->has_addr) {
		c->addr = m->addr;
		c->has_addr = true;
	}
	if (m->port >= 0)
		c->port = m->port;
	c->last_seen_us = lc->time_us;
	return c;
}

/* c was found for this line and nothing has touched the table since
 * (settling counts failures in other tables only): drop it without
 * hashing its key again. */
static void conn_end(struct engine *e, struct conn *c)
{
	lru_remove_value(e->conns, c);
}

static enum effect effective(const struct pattern *p, const struct conn *c)
{
	if (p->when_flag >= 0 && !(c->flags & (1u << p->when_flag)))
		return p->otherwise;
	return p->effect;
}

static void apply_effect(struct engine *e, const struct line_ctx *lc)
{
	const struct pattern *p = lc->m->pattern;
	if (p->effect == EFFECT_IGNORE || lc->m->nofail) {
		if (lc->m->has_addr)
			trace(e, lc, VERDICT_REDESCRIBES, &lc->m->addr, 0, 0);
		return;
	}
	struct conn *c = conn_get(e, lc);
	enum effect eff = effective(p, c);
	if (eff != EFFECT_MARK && eff != EFFECT_IGNORE && !c->has_addr) {
		e->stats.bad_address++;   /* an optional addr group that did not take part */
		return;
	}
	switch (eff) {
	case EFFECT_IGNORE:
		trace(e, lc, VERDICT_NOT_FAILURE, &c->addr, 0, 0);
		break;
	case EFFECT_MARK:
		c->flags |= (uint16_t)(1u << p->mark_flag);
		break;
	case EFFECT_ATTEMPT:
		if (c->pending)
			c->pending = false;
		c->tried = true;
		count_failure(e, lc, &c->addr, VERDICT_COUNTED);
		break;
	case EFFECT_PENDING:
		if (!c->tried) {
			c->pending = true;
			trace(e, lc, VERDICT_PENDING, &c->addr, 0, 0);
		}
		break;
	case EFFECT_END:
		if (c->pending && !c->tried)
			conn_settle(e, lc, c);
		else
			trace(e, lc, c->tried ? VERDICT_ALREADY_TRIED : VERDICT_NOT_FAILURE, &c->addr, 0, 0);
		conn_end(e, c);
		break;
	case EFFECT_END_ATTEMPT:
		if (c->tried) {
			trace(e, lc, VERDICT_ALREADY_TRIED, &c->addr, 0, 0);
		} else {
			c->pending = false;
			count_failure(e, lc, &c->addr, VERDICT_COUNTED);
		}
		conn_end(e, c);
		break;
	}
}

/* ---- lines ---- */

static int64_t event_time(struct engine *e, struct log_event *ev, int64_t now_us)
{
	if (!e->cfg.use_log_time)
		return now_us;
	if (ev->time_us == LOG_TIME_UNSET && ev->ts_format != TS_NONE &&
	    logline_time(ev, &e->year) != 0)
		e->stats.bad_time++;
	if (ev->time_us == LOG_TIME_UNSET)
		return e->now_us != INT64_MIN ? e->now_us : now_us;
	if (e->now_us != INT64_MIN && ev->time_us < e->now_us - 60 * 1000000LL)
		e->stats.backwards++;
	return ev->time_us;
}

/* A headerless line's time is where its server wrote it in the message
 * (the pattern's time capture); the first scenario to read it decides. */
static void text_time(struct engine *e, struct log_event *ev, const struct match *m)
{
	if (ev->time_us != LOG_TIME_UNSET)
		return;
	if (logline_text_time(m->time, m->time_len, e->now_us, &ev->time_us) != 0) {
		ev->time_us = LOG_TIME_UNSET;
		e->stats.bad_time++;
	}
}

/* ---- scanning: the pure half of feeding a line ---- */

struct engine_scanner {
	const struct ruleset *rs;
	const struct dispatch *dispatch;
	bool trust_bare;
	struct matcher **matchers;
	/* The scanner's own copies of what prepare_hit() reads: the engine's
	 * tables and policy sit beside what the applying thread writes on
	 * every line, and reading them from another CPU cost both threads
	 * (docs/performance.md, "Session 6"). */
	struct lru_hasher conn_hasher;
	struct lru_hasher key_hasher;   /* the offenders' and every scenario's counters' (engine_new) */
	struct policy_keying keying;
};

/* Hashes the lookups h will make, once (see struct engine_hit). Runs on a
 * scanning thread, from the scanner's own copies. */
static void prepare_hit(const struct engine_scanner *sc, const struct engine_scanned *line, struct engine_hit *h)
{
	struct conn_key k = conn_key_of(h->scenario, line->ev.pid, line->host_hash, &h->match);
	h->conn_hash = lru_hasher_hash(&sc->conn_hasher, &k);
	if (h->match.has_addr) {
		h->key = policy_keying_key(&sc->keying, &h->match.addr);
		h->key_hash = lru_hasher_hash(&sc->key_hasher, &h->key);
	}
	h->prepared = true;
}

struct engine_scanner *engine_scanner_new(const struct engine *e)
{
	struct engine_scanner *sc = xcalloc(1, sizeof(*sc));
	sc->conn_hasher = lru_hasher(e->conns);
	sc->key_hasher = policy_hasher(e->policy);
	sc->keying = policy_keying_copy(e->policy);
	for (size_t i = 0; i < e->rs->nscenarios; i++) {
		struct lru_hasher counter_hasher = counters_hasher(e->counters[i]);
		if (!lru_hasher_same(&counter_hasher, &sc->key_hasher))
			fatalx("scenario %zu's counters hash keys unlike the offenders", i);
	}
	sc->rs = e->rs;
	sc->dispatch = e->dispatch;
	sc->trust_bare = e->cfg.trust_bare;
	sc->matchers = xcalloc(e->rs->nscenarios ? e->rs->nscenarios : 1, sizeof(*sc->matchers));
	for (size_t i = 0; i < e->rs->nscenarios; i++)
		sc->matchers[i] = matcher_new(&e->rs->scenarios[i]);
	return sc;
}

void engine_scanner_free(struct engine_scanner *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->rs->nscenarios; i++)
		matcher_free(sc->matchers[i]);
	free(sc->matchers);
	policy_keying_free(&sc->keying);
	free(sc);
}

size_t engine_max_hits(const struct engine *e)
{
	return e->rs->nscenarios ? e->rs->nscenarios : 1;
}

/* Matches ev against the scenarios in r; returns how many matched (or
 * hit the match limit), their results in hits. */
static size_t scan_readers(struct engine_scanner *sc, struct reader_list r, const struct log_event *ev,
			   struct engine_hit *hits)
{
	size_t n = 0;
	for (size_t i = 0; i < r.n; i++) {
		struct engine_hit *h = &hits[n];
		h->result = matcher_run(sc->matchers[r.index[i]], ev->msg, ev->msg_len, &h->match);
		if (h->result == MATCH_NONE)
			continue;
		h->prepared = false;
		h->scenario = r.index[i];
		n++;
	}
	return n;
}

/* Whether some hit counts as a matched line (a match-limit error does not). */
static bool any_matched(const struct engine_hit *hits, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hits[i].result != MATCH_ERROR)
			return true;
	return false;
}

void engine_scan_line(struct engine_scanner *sc, const char *line, size_t len, struct engine_scanned *out,
		      struct engine_hit *hits)
{
	out->nhits = 0;
	out->bare_unread = false;
	if (len > ENGINE_MAX_LINE) {
		out->kind = SCANNED_OVERSIZED;
		return;
	}
	struct log_event *ev = &out->ev;
	/* Lines of programs no scenario reads stop in their program name
	 * (at its first byte that no listed name has there), before
	 * "[pid]: " is parsed. */
	logline_split_host(line, len, ev);
	struct reader_list r = dispatch_split_program(sc->dispatch, ev, sc->trust_bare);
	if (r.n == 0 || (ev->ts_format != TS_NONE && !logline_split_rest(ev))) {
		out->kind = SCANNED_UNREAD;
		out->bare_unread = ev->ts_format == TS_NONE;
		return;
	}
	out->kind = SCANNED_READ;
	out->nhits = scan_readers(sc, r, ev, hits);
	/* Hashed here, while the line is in this CPU's cache and off the
	 * applying thread: applying then reads no text but the time's. */
	out->host_hash = out->nhits ? host_hash(ev) : 0;
	for (size_t i = 0; i < out->nhits; i++)
		if (hits[i].result == MATCH_OK && hits[i].match.pattern->effect != EFFECT_IGNORE && !hits[i].match.nofail)
			prepare_hit(sc, out, &hits[i]);
	/* A bare line only headerless scenarios read, and none matched: maybe
	 * sshd -E output, which is read only when trusted. */
	out->bare_unread = ev->ts_format == TS_NONE && !sc->trust_bare && !any_matched(hits, out->nhits);
}

/* One fixed-size copy: the line holds at least ENGINE_TS_COPY bytes
 * from its time on when it is that long. */
void engine_scanned_keep_time(struct engine_scanned *s, const char *line, size_t len)
{
	struct log_event *ev = &s->ev;
	if (s->nhits && ev->ts && ev->ts_len <= ENGINE_TS_COPY && (size_t)(line + len - ev->ts) >= ENGINE_TS_COPY) {
		memcpy(s->ts_copy, ev->ts, ENGINE_TS_COPY);
		ev->ts = s->ts_copy;
	}
}

/* ---- applying: the stateful half, in line order ---- */

static void apply_hit(struct engine *e, const struct engine_hit *h, struct engine_scanned *line, int64_t now_us)
{
	struct log_event *ev = &line->ev;
	if (h->result == MATCH_ERROR) {
		e->stats.match_errors++;
		return;
	}
	e->stats.matched++;
	if (e->cfg.use_log_time && ev->ts_format == TS_NONE && h->match.time)
		text_time(e, ev, &h->match);
	struct line_ctx lc = {.scenario = h->scenario, .s = &e->rs->scenarios[h->scenario], .m = &h->match,
			      .ev = ev, .host_hash = line->host_hash, .hit = h, .time_us = event_time(e, ev, now_us)};
	engine_advance(e, lc.time_us);
	if (h->result == MATCH_BAD_ADDR) {
		e->stats.bad_address++;
		return;
	}
	apply_effect(e, &lc);
}

void engine_count_unmatched(struct engine_unmatched *sum, const struct engine_scanned *line)
{
	sum->lines++;
	sum->oversized += line->kind == SCANNED_OVERSIZED;
	sum->bare_ignored += line->bare_unread;
}

void engine_add_unmatched(struct engine *e, const struct engine_unmatched *sum)
{
	e->stats.lines += sum->lines;
	e->stats.oversized += sum->oversized;
	e->stats.bare_ignored += sum->bare_ignored;
}

void engine_apply_line(struct engine *e, struct engine_scanned *line, const struct engine_hit *hits,
		       int64_t now_us)
{
	e->stats.lines++;
	if (line->kind == SCANNED_OVERSIZED)
		e->stats.oversized++;
	for (size_t i = 0; i < line->nhits; i++)
		apply_hit(e, &hits[i], line, now_us);
	if (line->bare_unread)
		e->stats.bare_ignored++;
}

void engine_feed_event(struct engine *e, struct log_event *ev, int64_t now_us)
{
	struct engine_scanned line = {.ev = *ev, .kind = SCANNED_READ, .host_hash = host_hash(ev)};
	struct reader_list r = dispatch_readers(e->dispatch, ev, e->cfg.trust_bare);
	line.nhits = scan_readers(e->scanner, r, ev, e->hits);
	engine_apply_line(e, &line, e->hits, now_us);
	*ev = line.ev;
}

void engine_feed_line(struct engine *e, const char *line, size_t len, int64_t now_us)
{
	struct engine_scanned scanned;
	engine_scan_line(e->scanner, line, len, &scanned, e->hits);
	engine_apply_line(e, &scanned, e->hits, now_us);
}

/* ---- time ---- */

static bool conn_expired(const struct engine *e, const struct conn_key *k, const struct conn *c, int64_t now_us)
{
	return now_us - c->last_seen_us > e->rs->scenarios[conn_scenario(k)].connection_timeout_us;
}

/* Ends the least recently seen connection, settling its pending failure. */
static void conn_expire_oldest(struct engine *e, const struct conn_key *k, struct conn *c)
{
	struct conn_key key = *k;
	struct line_ctx lc = {.scenario = conn_scenario(&key), .s = &e->rs->scenarios[conn_scenario(&key)],
			      .time_us = c->last_seen_us};
	if (c->pending && !c->tried)
		e->stats.pending_expired++;
	conn_settle(e, &lc, c);
	lru_remove(e->conns, &key);
}

void engine_advance(struct engine *e, int64_t now_us)
{
	if (now_us <= e->now_us && e->now_us != INT64_MIN)
		return;
	e->now_us = now_us;
	const void *k;
	struct conn *c;
	while ((c = lru_oldest(e->conns, &k)) && conn_expired(e, k, c, now_us))
		conn_expire_oldest(e, k, c);
}

void engine_finish(struct engine *e)
{
	const void *k;
	struct conn *c;
	while ((c = lru_oldest(e->conns, &k)))
		conn_expire_oldest(e, k, c);
}

void engine_impose(struct engine *e, const struct addr *key, int64_t until_us)
{
	policy_impose(e->policy, key, e->now_us, until_us);
}

void engine_lift(struct engine *e, const struct addr *key)
{
	policy_lift(e->policy, key, e->now_us);
	for (size_t i = 0; i < e->rs->nscenarios; i++)
		counters_forget(e->counters[i], key);
}

bool engine_allowlisted(const struct engine *e, const struct addr *key)
{
	return policy_allowlisted(e->policy, key);
}

struct addr engine_key(const struct engine *e, const struct addr *source)
{
	return policy_key(e->policy, source);
}

void engine_set_reference(struct engine *e, int64_t reference_us)
{
	year_guess_init(&e->year, reference_us);
}

int64_t engine_now(const struct engine *e)
{
	return e->now_us;
}

/* ---- life cycle ---- */

static void config_defaults(struct engine_config *cfg)
{
	if (!cfg->ipv6_prefix)
		cfg->ipv6_prefix = DEFAULT_IPV6_PREFIX;
	if (!cfg->max_sources)
		cfg->max_sources = DEFAULT_MAX_SOURCES;
	if (!cfg->max_connections)
		cfg->max_connections = DEFAULT_MAX_CONNECTIONS;
}

struct engine *engine_new(const struct ruleset *rs, const struct engine_config *cfg)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	e->rs = rs;
	e->cfg = *cfg;
	config_defaults(&e->cfg);
	e->now_us = INT64_MIN;
	year_guess_init(&e->year, cfg->reference_us);
	e->counters = xcalloc(rs->nscenarios, sizeof(*e->counters));
	/* A failure comes at most a connection timeout behind the latest (a
	 * pending one counts at its connection's last line; a recidive, at
	 * the sanction's): counters may forget what lies further behind. */
	int64_t late_us = 0;
	for (size_t i = 0; i < rs->nscenarios; i++)
		if (rs->scenarios[i].connection_timeout_us > late_us)
			late_us = rs->scenarios[i].connection_timeout_us;
	for (size_t i = 0; i < rs->nscenarios; i++) {
		const struct scenario *s = &rs->scenarios[i];
		/* The offenders' seed: keyed by the same address, a line's
		 * lookups in both tables take one hash (prepare_hit). */
		e->counters[i] = counters_new(e->cfg.max_sources, s->threshold, s->window_us, late_us, cfg->seed);
	}
	struct policy_config pc = {
		.history = cfg->offence_history, .history_arg = cfg->arg,
		.allowlist = cfg->allowlist, .nallowlist = cfg->nallowlist,
		.ipv6_prefix = e->cfg.ipv6_prefix, .max_offenders = e->cfg.max_sources, .seed = cfg->seed,
	};
	e->policy = policy_new(&pc);
	e->conns = lru_new(e->cfg.max_connections, sizeof(struct conn_key), sizeof(struct conn),
			   cfg->seed ^ 0x5bd1e995, conn_evicted, e);
	e->dispatch = dispatch_new(rs);
	e->scanner = engine_scanner_new(e);
	e->hits = xcalloc(engine_max_hits(e), sizeof(*e->hits));
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->rs->nscenarios; i++) {
		counters_free(e->counters[i]);
	}
	engine_scanner_free(e->scanner);
	free(e->hits);
	free(e->counters);
	policy_free(e->policy);
	lru_free(e->conns);
	dispatch_free(e->dispatch);
	free(e);
}

void engine_get_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->stats;
	out->source_evictions = 0;
	out->memory_bytes = lru_memory(e->conns) + policy_memory(e->policy);
	out->memory_bound = lru_max_memory(e->conns) + policy_max_memory(e->policy);
	for (size_t i = 0; i < e->rs->nscenarios; i++) {
		out->source_evictions += counters_evictions(e->counters[i]);
		out->memory_bytes += counters_memory(e->counters[i]);
		out->memory_bound += counters_max_memory(e->counters[i]);
	}
	out->offender_evictions = policy_evictions(e->policy);
}
