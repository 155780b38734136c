/* receipt.c: the trust rules applied to allies' reports (see receipt.h).
 * Members are known by id in a registry that outlives treaty changes (a
 * vote names its member by registry slot, so a reload does not have to
 * rewrite every vote; a slot whose member left the treaty weighs nothing).
 * Votes live in a bounded LRU keyed by the reported address.
 * Each member's sequence numbers: a window (below), so that a message
 * delivered again after later ones were applied (JetStream's ack wait
 * after a round was undone, or pactod stopped before its ack) is taken
 * once, not lost as a replay.
 * A round (receipt_round_begin .. _keep or _undo) keeps an undo log: the
 * state of each member and each address as it was before the round first
 * changed it, each slot of a window the round wrote with what it held,
 * and every address the table evicted meanwhile, so that a round whose
 * ledger commit failed can be put back whole. */
#include "alliance/receipt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/xalloc.h"
#include "detect/lru.h"

#define DEFAULT_MAX_KEYS 65536

/* A window's slot for number seq holds a tag: */
#define TAG_FREE 0u                       /* not taken */
#define TAG_UNKNOWN 1u                    /* taken, the address unknown (a ledger of before the window) */
#define TAG_SEED 0x7061637430726373ULL    /* fixed: tags are kept in the ledger */

struct member_state {
	char id[TREATY_MAX_ID + 1];
	uint8_t key[SIGNER_PUBLIC_BYTES]; /* its key in the latest treaty that listed it */
	bool has_key;
	uint16_t gen;                     /* +1 each time a treaty replaces its key */
	unsigned weight;                  /* 0 when not in the current treaty */
	size_t treaty_index;              /* valid when weight > 0 */
	uint64_t last_seq;                /* the highest number taken */
	/* The window, by seq % RECEIPT_WINDOW, for the numbers in
	 * (last_seq - RECEIPT_WINDOW, last_seq]: the tag of the address of
	 * the report that took it, TAG_FREE if none did yet. NULL until the
	 * member's first report (then last_seq is 0: nothing taken). */
	uint32_t *window;
	int64_t last_time_us;             /* latest report time seen (for the rate) */
	bool dirty;                       /* last_seq, last_time_us or the window changed since saved */
	double tokens;                    /* rate bucket */
	int64_t bucket_time_us;
	int64_t last_received_us, lag_us;
	uint64_t accepted;
	uint64_t refused[RR_COUNT];
};

struct vote {
	uint16_t slot;                    /* registry slot of the reporter */
	uint16_t gen;                     /* the reporter's key generation that signed it */
	uint64_t seq;                     /* of the report that cast it */
	int64_t time_us;                  /* of that report */
	int64_t until_us;                 /* the end this reporter asked for */
};

/* One reported address: who supports a sanction of it, and until when the
 * sanction we enforce runs (0: none enforced on the allies' word). */
struct entry {
	int64_t enforced_until_us;
	uint32_t round;                   /* the round that last saved it in the undo log */
	uint8_t nvotes;
	struct vote votes[RECEIPT_MAX_VOTES];
};

/* The undo log of a round: what to put back, newest last. */
struct undo_key {
	struct addr key;
	bool existed;                     /* false: the round created it (undo removes it) */
	struct entry old;
};

struct undo_member {
	uint16_t slot;
	struct member_state old;
};

/* A slot of a member's window as it was before the round wrote it: a
 * round of in-order reports writes one slot a report, so the log holds
 * that much (a whole 16 KiB copy of the window, the first time a round
 * touched its member, cost a sixth of the reports applied per second). */
struct undo_slot {
	uint16_t member;                  /* registry slot */
	uint16_t index;                   /* in its window */
	uint32_t old;                     /* the tag it held */
};

struct receipt {
	const struct treaty *treaty;
	receipt_allowlisted_fn allowlisted;
	void *allowlisted_arg;
	struct member_state *members;     /* registry; slots never move */
	size_t nmembers;
	uint16_t *slot_of;                /* treaty member index -> registry slot */
	struct lru *keys;                 /* struct addr -> struct entry */
	uint64_t unknown_refusals;
	uint64_t evictions;               /* addresses forgotten to make room */
	/* The round: recording while in_round; round numbers stamp what the
	 * log holds already (entry.round, member_round[slot]). */
	bool in_round;
	uint32_t round;
	uint32_t *member_round;           /* by registry slot */
	struct undo_key *ukeys;
	size_t nukeys, ukeys_cap;
	struct undo_member *umembers;
	size_t numembers, umembers_cap;
	struct undo_slot *uslots;
	size_t nuslots, uslots_cap;
	uint64_t round_unknown_refusals, round_evictions;
};

static const char *const reason_names[RR_COUNT] = {
	[RR_NONE] = "none",
	[RR_NOT_MEMBER] = "not_member",
	[RR_TOO_BIG] = "too_big",
	[RR_BAD_SIGNATURE] = "bad_signature",
	[RR_MALFORMED] = "malformed",
	[RR_BAD_VERSION] = "bad_version",
	[RR_NOT_CANONICAL] = "not_canonical",
	[RR_WRONG_SENDER] = "wrong_sender",
	[RR_WRONG_ALLIANCE] = "wrong_alliance",
	[RR_WRONG_TREATY] = "wrong_treaty",
	[RR_REPLAY] = "replay",
	[RR_FUTURE] = "future",
	[RR_EXPIRED] = "expired",
	[RR_RATE] = "rate",
	[RR_PROTECTED] = "protected",
	[RR_ALLOWLISTED] = "allowlisted",
	[RR_TOO_WIDE] = "too_wide",
	[RR_NOT_REPORTER] = "not_reporter",
	[RR_SUPERSEDED] = "superseded",
};

const char *receipt_reason_name(enum receipt_reason why)
{
	return (unsigned)why < RR_COUNT ? reason_names[why] : "unknown";
}

enum receipt_reason receipt_reason_from_report(enum report_error e)
{
	switch (e) {
	case REPORT_OK: return RR_NONE;
	case REPORT_TOO_BIG: return RR_TOO_BIG;
	case REPORT_BAD_SIGNATURE: return RR_BAD_SIGNATURE;
	case REPORT_BAD_VERSION: return RR_BAD_VERSION;
	case REPORT_NOT_CANONICAL: return RR_NOT_CANONICAL;
	case REPORT_MALFORMED: break;
	}
	return RR_MALFORMED;
}

static void on_evict(void *arg, const void *key, void *value);

/* ---- the member registry ---- */

static struct member_state *find_slot(const struct receipt *r, const char *id)
{
	for (size_t i = 0; i < r->nmembers; i++)
		if (strcmp(r->members[i].id, id) == 0)
			return &r->members[i];
	return NULL;
}

/* The registry slot of a current treaty member, or NULL. The treaty is
 * sorted by id, so this is a binary search, not a scan of the registry. */
static struct member_state *current_member(const struct receipt *r, const char *id)
{
	const struct treaty_member *m = treaty_member_by_id(r->treaty, id);
	if (!m)
		return NULL;
	return &r->members[r->slot_of[m - r->treaty->members]];
}

/* A slot for id, new to the registry (r->treaty lists it). */
static struct member_state *add_slot(struct receipt *r, const char *id)
{
	if (r->nmembers == RECEIPT_MAX_IDS) {
		/* Reuse the slot of a member not in the treaty (weights are being
		 * set: one of the treaty's own may still read 0). The votes in
		 * the table still name the slot: a generation past the former
		 * member's keeps them from counting for the new one (they did,
		 * both at generation 0). */
		for (size_t i = 0; i < r->nmembers; i++) {
			struct member_state *m = &r->members[i];
			if (m->weight != 0 || treaty_member_by_id(r->treaty, m->id))
				continue;
			uint16_t gen = (uint16_t)(m->gen + 1);
			free(m->window);
			memset(m, 0, sizeof(*m));
			m->gen = gen;
			snprintf(m->id, sizeof(m->id), "%s", id);
			return m;
		}
		return NULL;
	}
	struct member_state *m = &r->members[r->nmembers++];
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	return m;
}

void receipt_set_treaty(struct receipt *r, const struct treaty *t)
{
	r->treaty = t;
	free(r->slot_of);
	r->slot_of = xcalloc(t->nmembers ? t->nmembers : 1, sizeof(*r->slot_of));
	bool *listed = xcalloc(r->nmembers ? r->nmembers : 1, sizeof(*listed));   /* by the treaty before */
	for (size_t i = 0; i < r->nmembers; i++) {
		listed[i] = r->members[i].weight > 0;
		r->members[i].weight = 0;
	}
	size_t known = r->nmembers;
	for (size_t i = 0; i < t->nmembers; i++) {
		struct member_state *m = find_slot(r, t->members[i].id);
		if (!m)
			m = add_slot(r, t->members[i].id);
		if (!m)
			continue;   /* cannot happen: a treaty has at most TREATY_MAX_MEMBERS < RECEIPT_MAX_IDS */
		size_t slot = (size_t)(m - r->members);
		/* A replaced key (set-key after a compromise): what the old one
		 * signed no longer counts (vote_counts). Nor what a member
		 * removed before this treaty cast: its support rows ended at
		 * the removal (pacto reload), and a restart would not count
		 * them either. */
		if (m->has_key && (memcmp(m->key, t->members[i].key, sizeof(m->key)) != 0 ||
				   (slot < known && !listed[slot])))
			m->gen++;
		memcpy(m->key, t->members[i].key, sizeof(m->key));
		m->has_key = true;
		m->weight = t->members[i].weight;
		m->treaty_index = i;
		if (m->bucket_time_us == 0)
			m->tokens = t->burst;
		r->slot_of[i] = (uint16_t)slot;
	}
	free(listed);
}

struct receipt *receipt_new(const struct receipt_config *cfg)
{
	struct receipt *r = xcalloc(1, sizeof(*r));
	r->allowlisted = cfg->allowlisted;
	r->allowlisted_arg = cfg->allowlisted_arg;
	r->members = xcalloc(RECEIPT_MAX_IDS, sizeof(*r->members));
	r->member_round = xcalloc(RECEIPT_MAX_IDS, sizeof(*r->member_round));
	r->keys = lru_new(cfg->max_keys ? cfg->max_keys : DEFAULT_MAX_KEYS, sizeof(struct addr), sizeof(struct entry),
			  cfg->seed, on_evict, r);
	receipt_set_treaty(r, cfg->treaty);
	return r;
}

void receipt_free(struct receipt *r)
{
	if (!r)
		return;
	lru_free(r->keys);
	free(r->slot_of);
	for (size_t i = 0; i < r->nmembers; i++)
		free(r->members[i].window);
	free(r->members);
	free(r->member_round);
	free(r->ukeys);
	free(r->umembers);
	free(r->uslots);
	free(r);
}

/* ---- the round's undo log ---- */

/* Before the round first changes m: its state goes to the log (not its
 * window: set_slot logs what the round writes there). */
static void save_member(struct receipt *r, struct member_state *m)
{
	size_t slot = (size_t)(m - r->members);
	if (!r->in_round || r->member_round[slot] == r->round)
		return;
	r->member_round[slot] = r->round;
	if (r->numembers == r->umembers_cap) {
		r->umembers_cap = r->umembers_cap ? 2 * r->umembers_cap : 16;
		r->umembers = xreallocarray(r->umembers, r->umembers_cap, sizeof(*r->umembers));
	}
	r->umembers[r->numembers++] = (struct undo_member){.slot = (uint16_t)slot, .old = *m};
}

/* Puts member u->slot back as the log has it, but for its window (its
 * slots are put back by undo_slot; a window allocated in the round stays
 * allocated, and its slots free, as NULL meant: nothing taken). */
static void undo_member(struct receipt *r, size_t i)
{
	const struct undo_member *u = &r->umembers[i];
	struct member_state *m = &r->members[u->slot];
	uint32_t *window = m->window;
	*m = u->old;
	m->window = window;
}

/* Writes tag into slot i of m's window; in a round, what it held goes to
 * the log first. */
static void set_slot(struct receipt *r, struct member_state *m, size_t i, uint32_t tag)
{
	if (r->in_round && m->window[i] != tag) {
		if (r->nuslots == r->uslots_cap) {
			r->uslots_cap = r->uslots_cap ? 2 * r->uslots_cap : 256;
			r->uslots = xreallocarray(r->uslots, r->uslots_cap, sizeof(*r->uslots));
		}
		r->uslots[r->nuslots++] = (struct undo_slot){.member = (uint16_t)(m - r->members), .index = (uint16_t)i,
							     .old = m->window[i]};
	}
	m->window[i] = tag;
}

static void log_key(struct receipt *r, const struct addr *key, bool existed, const struct entry *old)
{
	if (r->nukeys == r->ukeys_cap) {
		r->ukeys_cap = r->ukeys_cap ? 2 * r->ukeys_cap : 64;
		r->ukeys = xreallocarray(r->ukeys, r->ukeys_cap, sizeof(*r->ukeys));
	}
	struct undo_key *u = &r->ukeys[r->nukeys++];
	u->key = *key;
	u->existed = existed;
	if (old)
		u->old = *old;
}

/* The LRU's eviction callback: counted, and in a round logged, so that an
 * undo puts the forgotten votes back. */
static void on_evict(void *arg, const void *key, void *value)
{
	struct receipt *r = arg;
	r->evictions++;
	if (r->in_round)
		log_key(r, key, true, value);
}

/* The entry of key for a change (created if create): before the round
 * first changes it, its state (or its absence) goes to the log. */
static struct entry *entry_to_change(struct receipt *r, const struct addr *key, bool create)
{
	bool created = false;
	struct entry *e = lru_get(r->keys, key, create, &created);
	if (!e || !r->in_round || (!created && e->round == r->round))
		return e;
	log_key(r, key, !created, created ? NULL : e);
	e->round = r->round;
	return e;
}

void receipt_round_begin(struct receipt *r)
{
	r->in_round = true;
	if (++r->round == 0)   /* wrapped: stamps of 0 would look saved */
		r->round = 1;
	r->nukeys = r->numembers = r->nuslots = 0;
	r->round_unknown_refusals = r->unknown_refusals;
	r->round_evictions = r->evictions;
}

void receipt_round_keep(struct receipt *r)
{
	r->in_round = false;
	r->nukeys = r->numembers = r->nuslots = 0;
}

void receipt_round_undo(struct receipt *r)
{
	if (!r->in_round)
		return;
	r->in_round = false;
	/* Newest first: an address changed, then evicted, then created again
	 * ends as it was before its first change. Each step reverses one
	 * step of the round, so the table never holds more than it did. */
	for (size_t i = r->nukeys; i-- > 0;) {
		const struct undo_key *u = &r->ukeys[i];
		if (!u->existed) {
			lru_remove(r->keys, &u->key);
			continue;
		}
		struct entry *e = lru_get(r->keys, &u->key, true, NULL);
		*e = u->old;
	}
	for (size_t i = r->numembers; i-- > 0;)
		undo_member(r, i);
	/* Newest first: a slot written twice ends as before the first. */
	for (size_t i = r->nuslots; i-- > 0;)
		r->members[r->uslots[i].member].window[r->uslots[i].index] = r->uslots[i].old;
	r->unknown_refusals = r->round_unknown_refusals;
	r->evictions = r->round_evictions;
	r->nukeys = r->numembers = r->nuslots = 0;
}

/* ---- refusals and checks ---- */

void receipt_refuse_message(struct receipt *r, const char *member, enum receipt_reason why)
{
	struct member_state *m = member ? current_member(r, member) : NULL;
	if (m) {
		save_member(r, m);
		m->refused[why]++;
	}
	else
		r->unknown_refusals++;
}

enum receipt_reason receipt_check_batch(const struct receipt *r, const char *member, const struct report_batch *b)
{
	if (!current_member(r, member))
		return RR_NOT_MEMBER;
	if (strcmp(b->member, member) != 0)
		return RR_WRONG_SENDER;
	if (strcmp(b->alliance, r->treaty->alliance) != 0)
		return RR_WRONG_ALLIANCE;
	if (b->treaty_version != r->treaty->version)
		return RR_WRONG_TREATY;
	return RR_NONE;
}

/* ---- sequence numbers: each member's window ----
 * A member numbers its reports in increasing order (gaps allowed: it skips
 * numbers at each start and after a failed publish), but they may arrive
 * out of order: JetStream delivers a message again only after its ack
 * wait (a round undone because the ledger commit failed, pactod stopped
 * before acking), and later messages of the same member may be applied
 * meanwhile. As IPsec's and DTLS's anti-replay windows do, the receipt
 * remembers which of the RECEIPT_WINDOW numbers up to the highest taken
 * were taken: a number is taken once, if above the highest or within the
 * window and free; a number below the window is refused whatever it is.
 * So a signed message replayed, however often and late, is never applied
 * twice, and the memory is 4 bytes a number of the window, whatever
 * comes. Each slot keeps a tag of the address its report named, so that
 * a report taken late can see whether a later one of the same member
 * about the same address was taken before it (superseded): each member's
 * word about an address is the report with its highest number, as if
 * they had come in order. */

/* A 32-bit tag of an address, never TAG_FREE or TAG_UNKNOWN. Two
 * addresses of one tag: a late report of one is taken as superseded by a
 * later report of the other from the same member (a chance of about
 * 1 in 2^32 for each report between them, and only the member's own
 * reports can collide). */
static uint32_t addr_tag(const struct addr *a)
{
	uint32_t t = (uint32_t)addr_hash(a, TAG_SEED);
	return t > TAG_UNKNOWN ? t : t + 2;
}

static uint32_t *window_of(struct member_state *m)
{
	if (!m->window)
		m->window = xcalloc(RECEIPT_WINDOW, sizeof(*m->window));
	return m->window;
}

/* Takes seq, for a report of the address of tag: RR_REPLAY if it is
 * below the window or was taken before (then nothing changes), else it is
 * taken, and RR_SUPERSEDED if a later number of this member about the
 * same address was taken before it, RR_NONE if not. */
static enum receipt_reason take_seq(struct receipt *r, struct member_state *m, uint64_t seq, uint32_t tag)
{
	if (seq == 0)
		return RR_REPLAY;   /* report_decode refuses it: never taken */
	uint32_t *w = window_of(m);
	if (seq > m->last_seq) {
		if (seq - m->last_seq >= RECEIPT_WINDOW) {
			for (size_t i = 0; i < RECEIPT_WINDOW; i++)
				if (w[i] != TAG_FREE)
					set_slot(r, m, i, TAG_FREE);
		} else {
			for (uint64_t s = m->last_seq + 1; s < seq; s++)
				set_slot(r, m, s % RECEIPT_WINDOW, TAG_FREE);   /* numbers skipped stay free */
		}
		set_slot(r, m, seq % RECEIPT_WINDOW, tag);
		m->last_seq = seq;
		m->dirty = true;
		return RR_NONE;
	}
	if (m->last_seq - seq >= RECEIPT_WINDOW || w[seq % RECEIPT_WINDOW] != TAG_FREE)
		return RR_REPLAY;
	set_slot(r, m, seq % RECEIPT_WINDOW, tag);
	m->dirty = true;
	/* Late: was a later report of this member about it taken first? A
	 * slot of unknown address may have been: assume it was. */
	for (uint64_t s = seq + 1; s <= m->last_seq; s++) {
		uint32_t t = w[s % RECEIPT_WINDOW];
		if (t == tag || t == TAG_UNKNOWN)
			return RR_SUPERSEDED;
	}
	return RR_NONE;
}

/* Token bucket on the reports' own times: a member that was down and
 * catches up, or whose reports were held by the broker, is not punished
 * for their arrival in a burst; a member cannot gain tokens by dating
 * reports in the past (time never refills backwards) nor far in the future
 * (refused before this, by the skew). */
static bool within_rate(const struct treaty *t, struct member_state *m, int64_t time_us)
{
	if (time_us > m->bucket_time_us) {
		if (m->bucket_time_us != 0)
			m->tokens += (double)(time_us - m->bucket_time_us) * t->rate_per_min / 60e6;
		if (m->tokens > t->burst)
			m->tokens = t->burst;
		m->bucket_time_us = time_us;
	}
	if (m->tokens < 1.0)
		return false;
	m->tokens -= 1.0;
	return true;
}

static bool too_wide(const struct treaty *t, const struct addr *a)
{
	return a->prefix < (a->family == AF_INET ? t->widest_v4 : t->widest_v6);
}

/* ---- votes and the quorum ---- */

static int cmp_until_desc(const void *a, const void *b)
{
	int64_t x = ((const struct vote *)a)->until_us, y = ((const struct vote *)b)->until_us;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The end a vote asks for under the current treaty: a shorter
 * max_duration_s than when it was cast cuts it. */
static int64_t vote_until(const struct receipt *r, const struct vote *v)
{
	int64_t longest = v->time_us + (int64_t)r->treaty->max_duration_s * 1000000;
	return v->until_us < longest ? v->until_us : longest;
}

/* Whether v still counts at now_us: unexpired, cast by a current member
 * with the key the treaty holds for it. */
static bool vote_counts(const struct receipt *r, const struct vote *v, int64_t now_us)
{
	const struct member_state *m = &r->members[v->slot];
	return m->weight > 0 && v->gen == m->gen && vote_until(r, v) > now_us;
}

/* The latest time at which the unexpired votes of current members still
 * add up to the quorum (0: they do not reach it now). *weight is the
 * weight of all unexpired votes. */
static int64_t supported_until(const struct receipt *r, const struct entry *e, int64_t now_us, unsigned *weight)
{
	struct vote live[RECEIPT_MAX_VOTES];
	size_t n = 0;
	for (size_t i = 0; i < e->nvotes; i++)
		if (vote_counts(r, &e->votes[i], now_us)) {
			live[n] = e->votes[i];
			live[n++].until_us = vote_until(r, &e->votes[i]);
		}
	qsort(live, n, sizeof(*live), cmp_until_desc);
	unsigned sum = 0;
	int64_t until = 0;
	for (size_t i = 0; i < n; i++) {
		sum += r->members[live[i].slot].weight;
		if (until == 0 && sum >= r->treaty->quorum)
			until = live[i].until_us;
	}
	*weight = sum;
	return until;
}

static struct vote *find_vote(struct entry *e, uint16_t slot)
{
	for (size_t i = 0; i < e->nvotes; i++)
		if (e->votes[i].slot == slot)
			return &e->votes[i];
	return NULL;
}

/* Records slot's vote; when the entry is full, the vote that ends first
 * (or has ended) gives way. */
static void put_vote(struct entry *e, uint16_t slot, uint16_t gen, uint64_t seq, int64_t time_us, int64_t until_us)
{
	struct vote *v = find_vote(e, slot);
	if (!v && e->nvotes < RECEIPT_MAX_VOTES)
		v = &e->votes[e->nvotes++];
	if (!v) {
		v = &e->votes[0];
		for (size_t i = 1; i < e->nvotes; i++)
			if (e->votes[i].until_us < v->until_us)
				v = &e->votes[i];
	}
	*v = (struct vote){.slot = slot, .gen = gen, .seq = seq, .time_us = time_us, .until_us = until_us};
}

static void drop_vote(struct entry *e, struct vote *v)
{
	*v = e->votes[--e->nvotes];
}

/* After the votes changed: what to do with what is enforced. */
static void decide(const struct receipt *r, struct entry *e, int64_t now_us, struct receipt_decision *out)
{
	int64_t until = supported_until(r, e, now_us, &out->weight);
	bool enforced = e->enforced_until_us > now_us;
	if (until > now_us) {
		out->verdict = until != e->enforced_until_us || !enforced ? RECEIPT_SANCTION : RECEIPT_UNCHANGED;
		out->until_us = until;
		e->enforced_until_us = until;
	} else if (enforced) {
		out->verdict = RECEIPT_LIFT;
		e->enforced_until_us = 0;
	} else {
		out->verdict = RECEIPT_PENDING;
		e->enforced_until_us = 0;
	}
}

static void refuse(struct member_state *m, struct receipt_decision *out, enum receipt_reason why)
{
	out->verdict = RECEIPT_REFUSED;
	out->reason = why;
	m->refused[why]++;
}

static void apply_sanction(struct receipt *r, struct member_state *m, const struct report *rep, int64_t now_us,
			   struct receipt_decision *out)
{
	const struct treaty *t = r->treaty;
	uint32_t duration = rep->duration_s < t->max_duration_s ? rep->duration_s : t->max_duration_s;
	int64_t until = rep->time_us + (int64_t)duration * 1000000;
	if (duration == 0 || until <= now_us)
		return refuse(m, out, RR_EXPIRED);
	if (too_wide(t, &rep->addr))
		return refuse(m, out, RR_TOO_WIDE);
	if (treaty_protector(t, &rep->addr))
		return refuse(m, out, RR_PROTECTED);
	if (r->allowlisted && r->allowlisted(r->allowlisted_arg, &rep->addr))
		return refuse(m, out, RR_ALLOWLISTED);
	struct entry *e = entry_to_change(r, &rep->addr, true);
	put_vote(e, (uint16_t)(m - r->members), m->gen, rep->seq, rep->time_us, until);
	m->accepted++;
	decide(r, e, now_us, out);
}

static void apply_lift(struct receipt *r, struct member_state *m, const struct report *rep, int64_t now_us,
		       struct receipt_decision *out)
{
	struct entry *e = lru_get(r->keys, &rep->addr, false, NULL);
	struct vote *v = e ? find_vote(e, (uint16_t)(m - r->members)) : NULL;
	if (!v || !vote_counts(r, v, now_us))
		return refuse(m, out, RR_NOT_REPORTER);
	e = entry_to_change(r, &rep->addr, false);
	v = find_vote(e, (uint16_t)(m - r->members));
	drop_vote(e, v);
	m->accepted++;
	decide(r, e, now_us, out);
	if (out->verdict == RECEIPT_PENDING)
		out->verdict = RECEIPT_UNCHANGED;   /* withdrawn before the quorum: nothing was enforced */
}

bool receipt_admit(struct receipt *r, const char *member, const struct report *rep, int64_t now_us,
		   struct receipt_decision *out)
{
	*out = (struct receipt_decision){.verdict = RECEIPT_REFUSED, .key = rep->addr};
	struct member_state *m = current_member(r, member);
	if (!m) {
		out->reason = RR_NOT_MEMBER;
		r->unknown_refusals++;
		return false;
	}
	save_member(r, m);
	enum receipt_reason taken = take_seq(r, m, rep->seq, addr_tag(&rep->addr));
	if (taken == RR_REPLAY) {
		refuse(m, out, RR_REPLAY);
		return false;
	}
	m->last_received_us = now_us;
	m->lag_us = now_us - rep->time_us;
	if (taken == RR_SUPERSEDED) {
		refuse(m, out, RR_SUPERSEDED);
		return false;
	}
	if (rep->time_us > now_us + (int64_t)r->treaty->skew_s * 1000000) {
		refuse(m, out, RR_FUTURE);
		return false;
	}
	if (rep->time_us > m->last_time_us)
		m->last_time_us = rep->time_us;
	if (!within_rate(r->treaty, m, rep->time_us)) {
		refuse(m, out, RR_RATE);
		return false;
	}
	return true;
}

void receipt_judge(struct receipt *r, const char *member, const struct report *rep, int64_t now_us,
		   struct receipt_decision *out)
{
	*out = (struct receipt_decision){.verdict = RECEIPT_REFUSED, .key = rep->addr};
	struct member_state *m = current_member(r, member);
	if (!m) {
		out->reason = RR_NOT_MEMBER;
		r->unknown_refusals++;
		return;
	}
	save_member(r, m);
	if (rep->action == REPORT_LIFT)
		apply_lift(r, m, rep, now_us, out);
	else
		apply_sanction(r, m, rep, now_us, out);
}

void receipt_apply(struct receipt *r, const char *member, const struct report *rep, int64_t now_us,
		   struct receipt_decision *out)
{
	if (receipt_admit(r, member, rep, now_us, out))
		receipt_judge(r, member, rep, now_us, out);
}

/* ---- state across restarts ---- */

bool receipt_member_state(const struct receipt *r, const char *member, uint64_t *last_seq, int64_t *last_time_us)
{
	const struct member_state *m = find_slot(r, member);
	if (!m)
		return false;
	*last_seq = m->last_seq;
	*last_time_us = m->last_time_us;
	return true;
}

bool receipt_member_dirty(const struct receipt *r, const char *member)
{
	const struct member_state *m = find_slot(r, member);
	return m && m->dirty;
}

void receipt_member_saved(struct receipt *r, const char *member)
{
	struct member_state *m = find_slot(r, member);
	if (!m)
		return;
	save_member(r, m);
	m->dirty = false;
}

/* The numbers of m's window, (last_seq - span, last_seq]. */
static uint64_t window_span(const struct member_state *m)
{
	return m->last_seq < RECEIPT_WINDOW ? m->last_seq : RECEIPT_WINDOW;
}

/* ---- the window in the ledger ----
 * Saved form (little endian; the ledger's ally.taken, schema 5):
 *   u8   SAVED_FORM
 *   u16  ntags
 *   RECEIPT_WINDOW / 8 bytes: bit i (byte i / 8, bit i % 8) set when
 *        number last_seq - i was taken
 *   ntags x u32: the tags of the numbers taken above the lowest free
 *        number of the window, lowest first
 *   u32  FNV-1a of last_seq (8 bytes, not stored: it is in the row) and
 *        of every byte before it
 * Only those tags are kept: a number can be taken late only where it is
 * free, and the superseded check reads only the numbers above it; below
 * the lowest free number every number is taken (new free numbers appear
 * only above the highest, when a report skips some), so a report there
 * is a replay: those numbers are read back as taken, address unknown, and
 * their tags are never asked. A member whose window holds no
 * free number costs 519 bytes, not the 16 KiB of a tag a number (schema
 * 4, below); one with free numbers low in it (for RECEIPT_WINDOW reports
 * after it skipped numbers) 4 bytes more a number taken above them. The
 * count, the length and the checksum make a truncated or damaged blob
 * known as such: then every number up to last_seq counts as taken. */
#define SAVED_FORM 2
#define SAVED_HEAD 3                      /* form, ntags */
#define SAVED_BITS (RECEIPT_WINDOW / 8)
#define SAVED_FIXED (SAVED_HEAD + SAVED_BITS + 4)
_Static_assert(RECEIPT_WINDOW_SAVED_MAX == SAVED_FIXED + 4 * (RECEIPT_WINDOW - 1), "receipt.h says the size");

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The checksum of a saved window: of its bytes, and of the number it was
 * saved with, so that the window of another number is found out too. */
static uint32_t checksum(uint64_t last_seq, const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;   /* FNV-1a */
	for (size_t i = 0; i < 8; i++)
		h = (h ^ (uint8_t)(last_seq >> (8 * i))) * 16777619u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The slot of number last_seq - i. */
static uint32_t *slot_at(const struct member_state *m, uint64_t i)
{
	return &m->window[(m->last_seq - i) % RECEIPT_WINDOW];
}

/* How many numbers from the top of m's window keep their tags: those
 * above its lowest free number (0 when none is free). */
static uint64_t tags_kept(const struct member_state *m, uint64_t span)
{
	for (uint64_t i = span; i-- > 0;)
		if (*slot_at(m, i) == TAG_FREE)
			return i;
	return 0;
}

size_t receipt_member_window(const struct receipt *r, const char *member, uint8_t *out)
{
	const struct member_state *m = find_slot(r, member);
	if (!m || !m->window || m->last_seq == 0)
		return 0;
	uint64_t span = window_span(m), kept = tags_kept(m, span);
	uint8_t *bits = out + SAVED_HEAD, *tags = bits + SAVED_BITS;
	size_t ntags = 0;
	memset(bits, 0, SAVED_BITS);
	for (uint64_t i = 0; i < span; i++)
		if (*slot_at(m, i) != TAG_FREE)
			bits[i / 8] |= (uint8_t)(1u << (i % 8));
	for (uint64_t i = kept; i-- > 0;)   /* the lowest number first */
		if (*slot_at(m, i) != TAG_FREE)
			put32(tags + 4 * ntags++, *slot_at(m, i));
	out[0] = SAVED_FORM;
	out[1] = (uint8_t)ntags;
	out[2] = (uint8_t)(ntags >> 8);
	size_t len = SAVED_HEAD + SAVED_BITS + 4 * ntags;
	put32(out + len, checksum(m->last_seq, out, len));
	return len + 4;
}

/* Reads the saved form into m's window (all free). false: the bytes are
 * not of it (truncated, damaged, or not of last_seq's window). */
static bool read_saved(struct member_state *m, const uint8_t *b, size_t len)
{
	uint64_t span = window_span(m);
	if (len < SAVED_FIXED || (len - SAVED_FIXED) % 4 != 0 || b[0] != SAVED_FORM)
		return false;
	size_t ntags = (size_t)b[1] | (size_t)b[2] << 8;
	if (len != SAVED_FIXED + 4 * ntags || get32(b + len - 4) != checksum(m->last_seq, b, len - 4))
		return false;
	const uint8_t *bits = b + SAVED_HEAD, *tags = bits + SAVED_BITS;
	for (uint64_t i = 0; i < RECEIPT_WINDOW; i++) {
		bool taken = bits[i / 8] >> (i % 8) & 1;
		if (i >= span ? taken : i == 0 && !taken)
			return false;   /* past the window, or last_seq not taken */
		if (i < span)
			*slot_at(m, i) = taken ? TAG_UNKNOWN : TAG_FREE;
	}
	uint64_t kept = tags_kept(m, span);
	for (uint64_t i = 0; i < kept; i++) {   /* the highest number first: the last tag */
		if (*slot_at(m, i) == TAG_FREE)
			continue;
		if (ntags == 0 || get32(tags + 4 * (ntags - 1)) == TAG_FREE)
			return false;
		*slot_at(m, i) = get32(tags + 4 * --ntags);
	}
	return ntags == 0;
}

/* Reads schema 4's form: for each number from the lowest taken in the
 * window up to last_seq, its tag (TAG_FREE: not taken). Its length is all
 * it says of itself: a blob cut short at a multiple of 4 bytes is not
 * found out (it is read once, after an upgrade, then saved in the form
 * above). false: not of that form. */
static bool read_schema4(struct member_state *m, const uint8_t *b, size_t len)
{
	uint64_t span = window_span(m), n = len / 4;
	if (len % 4 != 0 || n == 0 || n > span)
		return false;
	for (uint64_t i = 0; i < n; i++)
		*slot_at(m, i) = get32(b + 4 * (n - 1 - i));
	if (*slot_at(m, 0) == TAG_FREE)
		*slot_at(m, 0) = TAG_UNKNOWN;   /* last_seq was taken, whatever the bytes say */
	return true;
}

/* Puts back m's number, time and window: window of form read (read_saved
 * or read_schema4), NULL when none was saved. -1 when last_seq or the
 * bytes are damaged: then, as for NULL, every number up to last_seq counts
 * as taken (replays), and as a later one of any address (superseded). */
static int restore(struct receipt *r, const char *member, uint64_t last_seq, int64_t last_time_us,
		   const uint8_t *window, size_t len, bool (*read)(struct member_state *, const uint8_t *, size_t))
{
	struct member_state *m = current_member(r, member);
	if (!m)
		return 0;
	/* A number no report carries (reports' numbers are at most
	 * INT64_MAX) would never end the loops: every number a report can
	 * carry is then taken. */
	bool damaged = last_seq > INT64_MAX;
	if (damaged) {
		last_seq = INT64_MAX;
		window = NULL;
	}
	m->last_seq = last_seq;
	m->last_time_us = last_time_us;
	m->dirty = false;   /* as the ledger has it */
	if (!last_seq) {
		if (m->window)
			memset(m->window, 0, RECEIPT_WINDOW * sizeof(*m->window));
		return 0;
	}
	uint32_t *w = window_of(m);
	memset(w, 0, RECEIPT_WINDOW * sizeof(*w));
	if (window && !read(m, window, len))
		damaged = true;
	if (!window || damaged)
		for (uint64_t i = 0; i < window_span(m); i++)
			*slot_at(m, i) = TAG_UNKNOWN;
	return damaged ? -1 : 0;
}

int receipt_restore_member(struct receipt *r, const char *member, uint64_t last_seq, int64_t last_time_us,
			   const uint8_t *window, size_t len)
{
	return restore(r, member, last_seq, last_time_us, window, len, read_saved);
}

int receipt_restore_member_schema4(struct receipt *r, const char *member, uint64_t last_seq, int64_t last_time_us,
				   const uint8_t *tags, size_t len)
{
	return restore(r, member, last_seq, last_time_us, tags, len, read_schema4);
}

void receipt_restore_vote(struct receipt *r, const char *member, uint64_t seq, int64_t time_us,
			  const struct addr *key, int64_t until_us, int64_t now_us)
{
	struct member_state *m = current_member(r, member);
	if (!m || until_us <= now_us)
		return;
	struct entry *e = entry_to_change(r, key, true);
	put_vote(e, (uint16_t)(m - r->members), m->gen, seq, time_us, until_us);
	unsigned weight;
	int64_t until = supported_until(r, e, now_us, &weight);
	e->enforced_until_us = until > now_us ? until : 0;
}

bool receipt_has_vote(struct receipt *r, const char *member, const struct addr *key, int64_t now_us)
{
	const struct member_state *m = current_member(r, member);
	struct entry *e = m ? lru_get(r->keys, key, false, NULL) : NULL;
	const struct vote *v = e ? find_vote(e, (uint16_t)(m - r->members)) : NULL;
	return v && vote_counts(r, v, now_us);
}

void receipt_forget(struct receipt *r, const struct addr *key)
{
	lru_remove(r->keys, key);
}

size_t receipt_supporters(struct receipt *r, const struct addr *key, int64_t now_us, struct receipt_support *out,
			  size_t max)
{
	struct entry *e = lru_get(r->keys, key, false, NULL);
	size_t n = 0;
	for (size_t i = 0; e && i < e->nvotes && n < max; i++) {
		const struct member_state *m = &r->members[e->votes[i].slot];
		if (vote_counts(r, &e->votes[i], now_us))
			out[n++] = (struct receipt_support){.member = m->id, .seq = e->votes[i].seq,
							    .time_us = e->votes[i].time_us,
							    .until_us = vote_until(r, &e->votes[i])};
	}
	return n;
}

unsigned receipt_support_weight(const struct receipt *r, const char *const *ids, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		bool repeated = false;
		for (size_t j = 0; j < i && !repeated; j++)
			repeated = strcmp(ids[i], ids[j]) == 0;
		const struct member_state *m = repeated ? NULL : current_member(r, ids[i]);
		sum += m ? m->weight : 0;
	}
	return sum;
}

unsigned receipt_quorum(const struct receipt *r)
{
	return r->treaty->quorum;
}

bool receipt_stats(const struct receipt *r, size_t i, struct receipt_member_stats *out)
{
	if (i >= r->treaty->nmembers)
		return false;
	const struct member_state *m = &r->members[r->slot_of[i]];
	*out = (struct receipt_member_stats){
		.id = m->id, .last_seq = m->last_seq, .last_report_us = m->last_time_us,
		.last_received_us = m->last_received_us, .lag_us = m->lag_us, .accepted = m->accepted,
	};
	memcpy(out->refused, m->refused, sizeof(out->refused));
	return true;
}

uint64_t receipt_unknown_refusals(const struct receipt *r)
{
	return r->unknown_refusals;
}

uint64_t receipt_evictions(const struct receipt *r)
{
	return r->evictions;
}

void receipt_set_enforced(struct receipt *r, const struct addr *key, int64_t until_us)
{
	if (!lru_get(r->keys, key, false, NULL))
		return;
	struct entry *e = entry_to_change(r, key, false);
	e->enforced_until_us = until_us;
}

/* ---- a sanction in force under a new treaty ---- */

enum standing_loss {
	LOST_LEFT = 1,                    /* its member is not in the treaty */
	LOST_KEY = 2,                     /* its member's key was replaced */
	LOST_CUT = 4,                     /* max_duration_s cuts it */
};

/* The end votes[0..n) support for key under treaty t (0: not the quorum),
 * each member once. signed_under: the treaty the votes were taken under;
 * a vote of a member whose key t replaced does not count. Records in
 * *lost, for the votes that counted under signed_under, why they count
 * less under t, and in revoked[i] which no longer count at all. */
static int64_t standing_end(const struct treaty *t, const struct treaty *signed_under,
			    const struct receipt_vote_row *votes, size_t n, int64_t now_us, unsigned *lost, bool *revoked)
{
	int64_t ends[TREATY_MAX_MEMBERS];
	unsigned weights[TREATY_MAX_MEMBERS];
	size_t live = 0;
	for (size_t i = 0; i < n && live < TREATY_MAX_MEMBERS; i++) {
		bool repeated = false;
		for (size_t j = 0; j < i && !repeated; j++)
			repeated = strcmp(votes[i].member, votes[j].member) == 0;
		const struct treaty_member *m = treaty_member_by_id(t, votes[i].member);
		const struct treaty_member *was = treaty_member_by_id(signed_under, votes[i].member);
		bool counted = was && votes[i].until_us > now_us;
		unsigned why = !m ? LOST_LEFT : was && memcmp(was->key, m->key, sizeof(m->key)) != 0 ? LOST_KEY : 0;
		if (revoked)
			revoked[i] = why != 0;
		int64_t longest = votes[i].time_us + (int64_t)t->max_duration_s * 1000000;
		int64_t until = votes[i].until_us < longest ? votes[i].until_us : longest;
		if (!why && until < votes[i].until_us)
			why = LOST_CUT;
		if (counted && lost)
			*lost |= why;
		if (repeated || !m || (why & LOST_KEY) || until <= now_us)
			continue;
		ends[live] = until;
		weights[live++] = m->weight;
	}
	/* The latest end that members weighing the quorum reach together:
	 * the longest first, until the sum reaches it. */
	unsigned sum = 0;
	for (size_t k = 0; k < live; k++) {
		size_t best = k;
		for (size_t i = k + 1; i < live; i++)
			if (ends[i] > ends[best])
				best = i;
		int64_t e = ends[best];
		unsigned w = weights[best];
		ends[best] = ends[k], weights[best] = weights[k];
		ends[k] = e, weights[k] = w;
		if ((sum += w) >= t->quorum)
			return e;
	}
	return 0;
}

/* Why the votes no longer hold key as long: the amendment's rules that
 * cut them, in words for the ledger (`pacto why`). */
static void standing_why(const struct treaty *t, unsigned lost, char *out, size_t len)
{
	int n = snprintf(out, len, "treaty version %llu:", (unsigned long long)t->version);
	const char *sep = " ";
	if (n > 0 && (size_t)n < len && (lost & LOST_LEFT)) {
		n += snprintf(out + n, len - (size_t)n, "%sits reporters left the alliance", sep);
		sep = ", ";
	}
	if (n > 0 && (size_t)n < len && (lost & LOST_KEY)) {
		n += snprintf(out + n, len - (size_t)n, "%sa reporter's key was replaced", sep);
		sep = ", ";
	}
	if (n > 0 && (size_t)n < len && (lost & LOST_CUT)) {
		n += snprintf(out + n, len - (size_t)n, "%smax_duration_s %lu", sep, (unsigned long)t->max_duration_s);
		sep = ", ";
	}
	if (n > 0 && (size_t)n < len && !lost)
		snprintf(out + n, len - (size_t)n, " its reporters no longer reach the quorum");
}

void receipt_recheck(const struct treaty *old, const struct treaty *t, const struct addr *key,
		     const struct receipt_vote_row *votes, size_t n, int64_t expires_us, int64_t now_us,
		     struct receipt_recheck *out, bool *revoked)
{
	char text[ADDR_STRLEN];
	const struct treaty_member *p = treaty_protector(t, key);
	unsigned lost = 0;
	*out = (struct receipt_recheck){.verdict = RECHECK_STANDS, .until_us = expires_us};
	int64_t was = standing_end(old, old, votes, n, now_us, NULL, NULL);
	int64_t now_end = standing_end(t, old, votes, n, now_us, &lost, revoked);
	if (too_wide(t, key)) {
		out->verdict = RECHECK_FALLS;
		snprintf(out->why, sizeof(out->why), "treaty version %llu: %s is wider than widest_v%d %u",
			 (unsigned long long)t->version, addr_format(key, text, sizeof(text)),
			 key->family == AF_INET ? 4 : 6, key->family == AF_INET ? t->widest_v4 : t->widest_v6);
	} else if (p) {
		out->verdict = RECHECK_FALLS;
		snprintf(out->why, sizeof(out->why), "treaty version %llu: protected by %s",
			 (unsigned long long)t->version, p->id);
	} else if (now_end >= was || now_end >= expires_us) {
		return;   /* the amendment takes nothing from it */
	} else {
		out->verdict = now_end > now_us ? RECHECK_CUT : RECHECK_FALLS;
		out->until_us = now_end;
		standing_why(t, lost, out->why, sizeof(out->why));
	}
}
