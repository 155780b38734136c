/* ledger_ally.c: the alliance's tables of the ledger (see ledger_ally.h;
 * schema versions 2 and 4 in migrate.c).
 * How: as ledger.c, every statement is prepared once (here on first use,
 * so a ledger used without an alliance prepares none) and reset after each
 * use; values are bound with explicit lengths, and no SQL is built from data. */
#include "ledger/ledger_ally.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "ledger/ledger_int.h"

enum ally_stmt {
	AS_OUTBOX_ADD,
	AS_OUTBOX_PENDING,
	AS_OUTBOX_ACK,
	AS_OUTBOX_COUNT,
	AS_ALLY_SAVE,
	AS_ALLY_EACH,
	AS_REPORT_IN_ADD,
	AS_REPORT_IN_EACH,
	AS_SUPPORT_ADD,
	AS_SUPPORT_EACH,
	AS_SUPPORT_ACTIVE,
	AS_SET_EXPIRY,
	AS_LIFT_ID,
	AS_ACTIVE_EXACT,
	AS_OUTBOX_SKIP,
	AS_OUTBOX_RENUMBER,
	AS_OUTBOX_RAISE,
	AS_SUPPORT_OF,
	AS_CUT,
	AS_OUTBOX_SHIFT_OUT,
	AS_OUTBOX_SHIFT_IN,
	AS_OUTBOX_RAISE_MAX,
	AS_OUTBOX_HOLE,
	AS_OUTBOX_LAST,
	AS_OUTBOX_FROM,
	AS_N
};

static const char *const ally_sql[AS_N] = {
	[AS_OUTBOX_ADD] = "INSERT INTO outbox (time_us, action, family, prefix, net, scenario, duration_s,"
			  " attempts, first_seen_us, last_seen_us, lines)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[AS_OUTBOX_PENDING] = "SELECT seq, time_us, action, family, prefix, net, scenario, duration_s, attempts,"
			      " first_seen_us, last_seen_us, lines FROM outbox"
			      " WHERE acked_us IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
	/* By the rowid: a range costs the rows in it, not a scan. */
	[AS_OUTBOX_ACK] = "UPDATE outbox SET acked_us = ?2 WHERE seq BETWEEN ?1 AND ?3 AND acked_us IS NULL",
	[AS_OUTBOX_COUNT] = "SELECT count(*) FROM outbox WHERE acked_us IS NULL",
	/* The window goes with the number it was taken up to (SET reads the
	 * row as it was); schema 4's form of it (seen) is replaced too. */
	[AS_ALLY_SAVE] = "INSERT INTO ally (member, last_seq, last_time_us, taken) VALUES (?1, ?2, ?3, ?4)"
			 " ON CONFLICT (member) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq),"
			 " last_time_us = max(last_time_us, excluded.last_time_us),"
			 " seen = CASE WHEN excluded.last_seq >= last_seq THEN NULL ELSE seen END,"
			 " taken = CASE WHEN excluded.last_seq >= last_seq THEN excluded.taken ELSE taken END",
	[AS_ALLY_EACH] = "SELECT member, last_seq, last_time_us, taken, seen FROM ally ORDER BY member",
	[AS_REPORT_IN_ADD] = "INSERT INTO report_in (received_us, member, seq, time_us, action, family, prefix, net,"
			     " scenario, duration_s, verdict, reason, sanction_id)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[AS_REPORT_IN_EACH] = "SELECT received_us, member, seq, time_us, action, family, prefix, net, scenario,"
			      " duration_s, verdict, reason, sanction_id FROM report_in"
			      " WHERE family = ?1 AND prefix = ?2 AND net = ?3 ORDER BY id LIMIT ?4",
	[AS_SUPPORT_ADD] = "INSERT OR REPLACE INTO support (sanction_id, member, seq, time_us, until_us)"
			   " VALUES (?1, ?2, ?3, ?4, ?5)",
	[AS_SUPPORT_EACH] = "SELECT p.sanction_id, s.family, s.prefix, s.net, s.expires_us, p.member, p.seq,"
			    " p.until_us, p.time_us, s.scenario FROM support AS p JOIN sanction AS s ON s.id = p.sanction_id"
			    " WHERE p.sanction_id = ?1 ORDER BY p.member",
	/* Spelt like the partial index sanction_active, so that SQLite uses it. */
	[AS_SUPPORT_ACTIVE] = "SELECT p.sanction_id, s.family, s.prefix, s.net, s.expires_us, p.member, p.seq,"
			      " p.until_us, p.time_us, s.scenario FROM sanction AS s JOIN support AS p ON p.sanction_id = s.id"
			      " WHERE s.lifted_us IS NULL AND s.expires_us > ?1 ORDER BY s.id, p.member",
	[AS_SET_EXPIRY] = "UPDATE sanction SET expires_us = ?2 WHERE id = ?1 AND lifted_us IS NULL",
	[AS_LIFT_ID] = "UPDATE sanction SET lifted_us = ?2, lifted_by = ?3"
		       " WHERE id = ?1 AND lifted_us IS NULL AND expires_us > ?2",
	[AS_ACTIVE_EXACT] = "SELECT id, origin, expires_us FROM sanction"
			    " WHERE family = ?1 AND prefix = ?2 AND net = ?3 AND lifted_us IS NULL AND expires_us > ?4"
			    " ORDER BY id",
	[AS_OUTBOX_SKIP] = "UPDATE sqlite_sequence SET seq = seq + ?1 WHERE name = 'outbox'",
	[AS_OUTBOX_RENUMBER] = "UPDATE outbox SET seq = ?2 WHERE seq = ?1",
	[AS_OUTBOX_RAISE] = "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'outbox'",
	[AS_SUPPORT_OF] = "SELECT p.sanction_id, s.family, s.prefix, s.net, s.expires_us, p.member, p.seq,"
			  " p.until_us, p.time_us, s.scenario FROM sanction AS s JOIN support AS p ON p.sanction_id = s.id"
			  " WHERE s.family = ?1 AND s.prefix = ?2 AND s.net = ?3 ORDER BY p.time_us, p.member",
	/* The reason keeps what it said and says why the end moved. */
	[AS_CUT] = "UPDATE sanction SET expires_us = ?2, reason = substr(reason || '; cut short, ' || ?3, 1, ?4)"
		   " WHERE id = ?1 AND lifted_us IS NULL AND expires_us > ?2",
	/* Two steps through negative numbers: an UPDATE of a primary key row
	 * by row could meet a row not moved yet (ledger_outbox_shift). */
	[AS_OUTBOX_SHIFT_OUT] = "UPDATE outbox SET seq = -(seq - ?1 + ?2) WHERE seq >= ?1 AND acked_us IS NULL",
	[AS_OUTBOX_SHIFT_IN] = "UPDATE outbox SET seq = -seq WHERE seq < 0",
	[AS_OUTBOX_RAISE_MAX] = "UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(seq), 0) FROM outbox))"
				" WHERE name = 'outbox'",
	/* The highest acknowledged: the table backwards by seq (the rowid)
	 * to the first acknowledged row; the pending ones below it by the
	 * partial index outbox_pending. */
	[AS_OUTBOX_HOLE] = "SELECT coalesce(min(seq), 0) FROM outbox WHERE acked_us IS NULL"
			   " AND seq < (SELECT coalesce(max(seq), 0) FROM outbox WHERE acked_us IS NOT NULL)",
	[AS_OUTBOX_LAST] = "SELECT coalesce(max(seq), 0) FROM"
			   " (SELECT seq FROM sqlite_sequence WHERE name = 'outbox' UNION ALL SELECT max(seq) FROM outbox)",
	[AS_OUTBOX_FROM] = "SELECT seq, family, prefix, net, acked_us IS NULL FROM outbox WHERE seq >= ?1",
};

struct ledger_ally {
	sqlite3_stmt *st[AS_N];
};

void ledger_ally_free(struct ledger_ally *a)
{
	if (!a)
		return;
	for (int i = 0; i < AS_N; i++)
		sqlite3_finalize(a->st[i]);
	free(a);
}

/* The statement id of l, prepared on first use. NULL with err on failure. */
static sqlite3_stmt *stmt(struct ledger *l, enum ally_stmt id, char *err, size_t errlen)
{
	struct ledger_ally **slot = ledger_ally_slot(l);
	if (!*slot && !(*slot = calloc(1, sizeof(**slot)))) {
		snprintf(err, errlen, "ledger: out of memory");
		return NULL;
	}
	sqlite3_stmt **st = &(*slot)->st[id];
	if (!*st && sqlite3_prepare_v3(ledger_sqlite(l), ally_sql[id], -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
			    SQLITE_OK) {
		ledger_fail_db(ledger_sqlite(l), err, errlen, ally_sql[id]);
		return NULL;
	}
	return *st;
}

/* Steps a bound statement that returns no row (rc: the binding's result). */
static int run(struct ledger *l, sqlite3_stmt *st, int rc, const char *what, char *err, size_t errlen)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ledger_fail_db(ledger_sqlite(l), err, errlen, what);
	ledger_finish(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	s = s ? s : "";
	return sqlite3_bind_text(st, idx, s, (int)strnlen(s, LEDGER_MAX_REASON), SQLITE_STATIC);
}

static int check_member(const char *member, char *err, size_t errlen)
{
	size_t n = member ? strnlen(member, LEDGER_MAX_NAME + 1) : 0;
	if (n == 0 || n > LEDGER_MAX_NAME) {
		snprintf(err, errlen, "member: empty or longer than %d bytes", LEDGER_MAX_NAME);
		return -1;
	}
	return 0;
}

/* ---- outbox ---- */

/* A line as a JSON string: jansson refuses bytes that are not UTF-8 (and
 * NUL would not be read back), so such a line is kept with every NUL and
 * every byte above 0x7f replaced by '?'. */
static json_t *line_string(const char *text, size_t len)
{
	json_t *s = memchr(text, 0, len) ? NULL : json_stringn(text, len);
	if (s)
		return s;
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t k = 0; k < len; k++)
		copy[k] = (text[k] & 0x80) || text[k] == 0 ? '?' : text[k];
	s = json_stringn(copy, len);
	free(copy);
	return s;
}

/* Evidence lines as a JSON array, each cut at LEDGER_MAX_LINE bytes. */
static char *lines_json(const struct ledger_line *lines, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n && i < LEDGER_REPORT_LINES; i++) {
		const char *text = lines[i].text ? lines[i].text : "";
		json_t *s = line_string(text, ledger_cut_len(text, lines[i].len, LEDGER_MAX_LINE));
		if (s)
			json_array_append_new(a, s);
	}
	char *text = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

int ledger_outbox_add(struct ledger *l, struct ledger_report *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_OUTBOX_ADD, err, errlen);
	if (!st || ledger_check_addr(&r->addr, err, errlen) != 0)
		return -1;
	char *lines = lines_json(r->lines, r->nlines);
	if (!lines) {
		snprintf(err, errlen, "outbox: out of memory");
		return -1;
	}
	int rc = sqlite3_bind_int64(st, 1, r->time_us);
	rc = rc ? rc : sqlite3_bind_int(st, 2, (int)r->action);
	rc = rc ? rc : ledger_bind_addr(st, 3, &r->addr);
	rc = rc ? rc : bind_text(st, 6, r->scenario);
	rc = rc ? rc : sqlite3_bind_int64(st, 7, r->duration_s);
	rc = rc ? rc : sqlite3_bind_int64(st, 8, r->attempts);
	rc = rc ? rc : sqlite3_bind_int64(st, 9, r->first_seen_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 10, r->last_seen_us);
	rc = rc ? rc : sqlite3_bind_text(st, 11, lines, -1, SQLITE_STATIC);
	int ret = run(l, st, rc, "outbox", err, errlen);
	free(lines);
	if (ret == 0)
		r->seq = (uint64_t)sqlite3_last_insert_rowid(ledger_sqlite(l));
	return ret;
}

/* Reads the JSON lines of an outbox row into lines[] (pointing into a). */
static size_t read_lines(json_t *a, struct ledger_line *lines)
{
	size_t n = 0, i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (n == LEDGER_REPORT_LINES || !json_is_string(v))
			break;
		lines[n++] = (struct ledger_line){.text = json_string_value(v), .len = json_string_length(v)};
	}
	return n;
}

static int emit_report(sqlite3_stmt *st, ledger_report_fn fn, void *arg)
{
	struct ledger_line lines[LEDGER_REPORT_LINES];
	const char *text = (const char *)sqlite3_column_text(st, 11);
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	struct ledger_report r = {
		.seq = (uint64_t)sqlite3_column_int64(st, 0), .time_us = sqlite3_column_int64(st, 1),
		.action = (enum ledger_action)sqlite3_column_int(st, 2),
		.scenario = (const char *)sqlite3_column_text(st, 6),
		.duration_s = (uint32_t)sqlite3_column_int64(st, 7), .attempts = (unsigned)sqlite3_column_int64(st, 8),
		.first_seen_us = sqlite3_column_int64(st, 9), .last_seen_us = sqlite3_column_int64(st, 10),
		.lines = lines, .nlines = a ? read_lines(a, lines) : 0,
	};
	ledger_read_addr(st, 3, &r.addr);
	if (!r.scenario)
		r.scenario = "";
	int ret = fn(arg, &r);
	json_decref(a);
	return ret;
}

int ledger_outbox_each_pending(struct ledger *l, uint64_t after_seq, unsigned limit, ledger_report_fn fn,
			       void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_OUTBOX_PENDING, err, errlen);
	if (!st)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, (int64_t)after_seq);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, limit);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if (emit_report(st, fn, arg) != 0) {
				rc = SQLITE_DONE;
				break;
			}
	int ret = rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "outbox");
	ledger_finish(st);
	return ret;
}

int ledger_outbox_skip(struct ledger *l, uint64_t gap, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_OUTBOX_SKIP, err, errlen);
	if (!st)
		return -1;
	return run(l, st, sqlite3_bind_int64(st, 1, (int64_t)gap), "outbox sequence", err, errlen);
}

int ledger_outbox_renumber(struct ledger *l, uint64_t seq, uint64_t new_seq, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_OUTBOX_RENUMBER, err, errlen), *raise = stmt(l, AS_OUTBOX_RAISE, err, errlen);
	if (!st || !raise)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, (int64_t)seq);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, (int64_t)new_seq);
	if (run(l, st, rc, "outbox renumber", err, errlen) != 0)
		return -1;
	return run(l, raise, sqlite3_bind_int64(raise, 1, (int64_t)new_seq), "outbox sequence", err, errlen);
}

/* An outbox report from the one a shift starts at: its number, address
 * and whether it is still owed. */
struct outbox_key {
	uint64_t seq;
	struct addr addr;
	bool pending;
};

/* By address (family, prefix, bytes), then number. */
static int by_address_then_seq(const void *x, const void *y)
{
	const struct outbox_key *a = x, *b = y;
	if (a->addr.family != b->addr.family)
		return a->addr.family < b->addr.family ? -1 : 1;
	if (a->addr.prefix != b->addr.prefix)
		return a->addr.prefix < b->addr.prefix ? -1 : 1;
	int c = memcmp(a->addr.bytes, b->addr.bytes, sizeof(a->addr.bytes));
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The reports from from_seq on, into *out (*n of them; freed by the caller). */
static int outbox_from(struct ledger *l, uint64_t from_seq, struct outbox_key **out, size_t *n, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_OUTBOX_FROM, err, errlen);
	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	size_t cap = 0;
	int rc = sqlite3_bind_int64(st, 1, (int64_t)from_seq);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			*out = xreallocarray(*out, cap, sizeof(**out));
		}
		struct outbox_key *k = &(*out)[(*n)++];
		k->seq = (uint64_t)sqlite3_column_int64(st, 0);
		ledger_read_addr(st, 1, &k->addr);
		k->pending = sqlite3_column_int(st, 4) != 0;
		rc = SQLITE_OK;
	}
	int ret = rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "outbox");
	ledger_finish(st);
	return ret;
}

/* Reports still owed from from_seq on that a later report of the same
 * address follows are marked done (acknowledged at now_us) instead of
 * being sent again: sent above that later one, as a shift would, an old
 * sanction would arrive after its own lift, or an old lift after a new
 * sanction. The allies' receipt refuses such a report (superseded) when
 * it keeps its number; renumbered, only the sender can tell. */
static int drop_superseded(struct ledger *l, uint64_t from_seq, int64_t now_us, char *err, size_t errlen)
{
	struct outbox_key *keys;
	size_t n;
	if (outbox_from(l, from_seq, &keys, &n, err, errlen) != 0)
		return -1;
	qsort(keys, n, sizeof(*keys), by_address_then_seq);
	int ret = 0;
	for (size_t i = 0; i + 1 < n && ret == 0; i++)
		if (keys[i].pending && addr_equal(&keys[i].addr, &keys[i + 1].addr))
			ret = ledger_outbox_ack(l, keys[i].seq, now_us, err, errlen);
	free(keys);
	return ret;
}

int ledger_outbox_shift(struct ledger *l, uint64_t from_seq, uint64_t new_seq, int64_t now_us, char *err,
			size_t errlen)
{
	sqlite3_stmt *out = stmt(l, AS_OUTBOX_SHIFT_OUT, err, errlen), *in = stmt(l, AS_OUTBOX_SHIFT_IN, err, errlen),
		     *raise = stmt(l, AS_OUTBOX_RAISE_MAX, err, errlen);
	if (!out || !in || !raise)
		return -1;
	if (new_seq < from_seq) {
		snprintf(err, errlen, "outbox shift: %llu below %llu", (unsigned long long)new_seq,
			 (unsigned long long)from_seq);
		return -1;
	}
	if (drop_superseded(l, from_seq, now_us, err, errlen) != 0)
		return -1;
	int rc = sqlite3_bind_int64(out, 1, (int64_t)from_seq);
	rc = rc ? rc : sqlite3_bind_int64(out, 2, (int64_t)new_seq);
	if (run(l, out, rc, "outbox shift", err, errlen) != 0 || run(l, in, SQLITE_OK, "outbox shift", err, errlen) != 0)
		return -1;
	return run(l, raise, SQLITE_OK, "outbox sequence", err, errlen);
}

/* The one integer a query gives (0 when NULL). */
static int query_u64(struct ledger *l, enum ally_stmt id, const char *what, uint64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, id, err, errlen);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else
		ledger_fail_db(ledger_sqlite(l), err, errlen, what);
	ledger_finish(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int ledger_outbox_hole(struct ledger *l, uint64_t *first_pending, uint64_t *last_given, char *err, size_t errlen)
{
	if (query_u64(l, AS_OUTBOX_HOLE, "outbox hole", first_pending, err, errlen) != 0)
		return -1;
	return query_u64(l, AS_OUTBOX_LAST, "outbox sequence", last_given, err, errlen);
}

int ledger_outbox_ack_range(struct ledger *l, uint64_t first, uint64_t last, int64_t now_us, char *err,
			    size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_OUTBOX_ACK, err, errlen);
	if (!st)
		return -1;
	/* Numbers are rowids: none is above INT64_MAX. */
	int rc = sqlite3_bind_int64(st, 1, first > INT64_MAX ? INT64_MAX : (int64_t)first);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, now_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 3, last > INT64_MAX ? INT64_MAX : (int64_t)last);
	return run(l, st, rc, "outbox ack", err, errlen);
}

int ledger_outbox_ack(struct ledger *l, uint64_t seq, int64_t now_us, char *err, size_t errlen)
{
	return ledger_outbox_ack_range(l, seq, seq, now_us, err, errlen);
}

static int count(struct ledger *l, enum ally_stmt id, uint64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, id, err, errlen);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	ledger_finish(st);
	return rc == SQLITE_ROW ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "count");
}

int ledger_outbox_pending(struct ledger *l, uint64_t *n, char *err, size_t errlen)
{
	return count(l, AS_OUTBOX_COUNT, n, err, errlen);
}

/* ---- allies ---- */

int ledger_ally_save_state(struct ledger *l, const struct ledger_ally_state *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_ALLY_SAVE, err, errlen);
	if (!st || check_member(s->member, err, errlen) != 0)
		return -1;
	if (s->taken_len > LEDGER_ALLY_TAKEN_MAX) {
		snprintf(err, errlen, "ally state: window of %zu bytes (at most %d)", s->taken_len, LEDGER_ALLY_TAKEN_MAX);
		return -1;
	}
	int rc = bind_text(st, 1, s->member);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, (int64_t)s->last_seq);
	rc = rc ? rc : sqlite3_bind_int64(st, 3, s->last_time_us);
	rc = rc ? rc
		: s->taken && s->taken_len ? sqlite3_bind_blob(st, 4, s->taken, (int)s->taken_len, SQLITE_STATIC)
					   : sqlite3_bind_null(st, 4);
	return run(l, st, rc, "ally state", err, errlen);
}

int ledger_ally_save(struct ledger *l, const char *member, uint64_t last_seq, int64_t last_time_us, char *err,
		     size_t errlen)
{
	struct ledger_ally_state s = {.member = member, .last_seq = last_seq, .last_time_us = last_time_us};
	return ledger_ally_save_state(l, &s, err, errlen);
}

int ledger_each_ally(struct ledger *l, ledger_ally_fn fn, void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_ALLY_EACH, err, errlen);
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *member = (const char *)sqlite3_column_text(st, 0);
		struct ledger_ally_state s = {
			.member = member ? member : "", .last_seq = (uint64_t)sqlite3_column_int64(st, 1),
			.last_time_us = sqlite3_column_int64(st, 2), .taken = sqlite3_column_blob(st, 3),
		};
		s.taken_len = s.taken ? (size_t)sqlite3_column_bytes(st, 3) : 0;
		s.seen = sqlite3_column_blob(st, 4);
		s.seen_len = s.seen ? (size_t)sqlite3_column_bytes(st, 4) : 0;
		if (fn(arg, &s)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	int ret = rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "allies");
	ledger_finish(st);
	return ret;
}

/* ---- reports received ---- */

int ledger_add_report_in(struct ledger *l, const struct ledger_report_in *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_REPORT_IN_ADD, err, errlen);
	if (!st || check_member(r->member, err, errlen) != 0)
		return -1;
	if (r->addr && ledger_check_addr(r->addr, err, errlen) != 0)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, r->received_us);
	rc = rc ? rc : bind_text(st, 2, r->member);
	rc = rc ? rc : sqlite3_bind_int64(st, 3, (int64_t)r->seq);
	rc = rc ? rc : sqlite3_bind_int64(st, 4, r->time_us);
	rc = rc ? rc : sqlite3_bind_int(st, 5, r->action);
	if (r->addr)
		rc = rc ? rc : ledger_bind_addr(st, 6, r->addr);
	rc = rc ? rc : bind_text(st, 9, r->scenario);
	rc = rc ? rc : sqlite3_bind_int64(st, 10, r->duration_s);
	rc = rc ? rc : bind_text(st, 11, r->verdict);
	rc = rc ? rc : bind_text(st, 12, r->reason);
	if (r->sanction_id)
		rc = rc ? rc : sqlite3_bind_int64(st, 13, r->sanction_id);
	return run(l, st, rc, "report received", err, errlen);
}

static const char *column_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	return s ? s : "";
}

int ledger_each_report_in(struct ledger *l, const struct addr *a, unsigned limit, ledger_report_in_fn fn, void *arg,
			  char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_REPORT_IN_EACH, err, errlen);
	if (!st || ledger_check_addr(a, err, errlen) != 0)
		return -1;
	int rc = ledger_bind_addr(st, 1, a);
	rc = rc ? rc : sqlite3_bind_int64(st, 4, limit);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		struct addr got;
		ledger_read_addr(st, 5, &got);
		struct ledger_report_in r = {
			.received_us = sqlite3_column_int64(st, 0), .member = column_text(st, 1),
			.seq = (uint64_t)sqlite3_column_int64(st, 2), .time_us = sqlite3_column_int64(st, 3),
			.action = sqlite3_column_int(st, 4), .addr = &got, .scenario = column_text(st, 8),
			.duration_s = (uint32_t)sqlite3_column_int64(st, 9), .verdict = column_text(st, 10),
			.reason = column_text(st, 11), .sanction_id = sqlite3_column_int64(st, 12),
		};
		if (fn(arg, &r) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	int ret = rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "reports received");
	ledger_finish(st);
	return ret;
}

/* ---- support of allies' sanctions ---- */

int ledger_add_support(struct ledger *l, int64_t sanction_id, const char *member, uint64_t seq, int64_t time_us,
		       int64_t until_us, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_SUPPORT_ADD, err, errlen);
	if (!st || check_member(member, err, errlen) != 0)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, sanction_id);
	rc = rc ? rc : bind_text(st, 2, member);
	rc = rc ? rc : sqlite3_bind_int64(st, 3, (int64_t)seq);
	rc = rc ? rc : sqlite3_bind_int64(st, 4, time_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 5, until_us);
	return run(l, st, rc, "support", err, errlen);
}

static int each_support(struct ledger *l, sqlite3_stmt *st, int rc, ledger_support_fn fn, void *arg, char *err,
			size_t errlen)
{
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		struct ledger_support s = {
			.sanction_id = sqlite3_column_int64(st, 0), .expires_us = sqlite3_column_int64(st, 4),
			.member = column_text(st, 5), .seq = (uint64_t)sqlite3_column_int64(st, 6),
			.until_us = sqlite3_column_int64(st, 7), .time_us = sqlite3_column_int64(st, 8),
			.scenario = column_text(st, 9),
		};
		ledger_read_addr(st, 1, &s.addr);
		if (fn(arg, &s) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	int ret = rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "support");
	ledger_finish(st);
	return ret;
}

int ledger_each_support(struct ledger *l, int64_t sanction_id, ledger_support_fn fn, void *arg, char *err,
			size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_SUPPORT_EACH, err, errlen);
	if (!st)
		return -1;
	return each_support(l, st, sqlite3_bind_int64(st, 1, sanction_id), fn, arg, err, errlen);
}

int ledger_each_support_of(struct ledger *l, const struct addr *a, ledger_support_fn fn, void *arg, char *err,
			   size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_SUPPORT_OF, err, errlen);
	if (!st || ledger_check_addr(a, err, errlen) != 0)
		return -1;
	return each_support(l, st, ledger_bind_addr(st, 1, a), fn, arg, err, errlen);
}

int ledger_each_active_support(struct ledger *l, int64_t now_us, ledger_support_fn fn, void *arg, char *err,
			       size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_SUPPORT_ACTIVE, err, errlen);
	if (!st)
		return -1;
	return each_support(l, st, sqlite3_bind_int64(st, 1, now_us), fn, arg, err, errlen);
}

int ledger_set_expiry(struct ledger *l, int64_t sanction_id, int64_t expires_us, char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_SET_EXPIRY, err, errlen);
	if (!st)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, sanction_id);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, expires_us);
	return run(l, st, rc, "sanction expiry", err, errlen);
}

int ledger_cut_sanction(struct ledger *l, int64_t sanction_id, int64_t expires_us, const char *why, char *err,
			size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_CUT, err, errlen);
	if (!st)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, sanction_id);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, expires_us);
	rc = rc ? rc : bind_text(st, 3, why);
	rc = rc ? rc : sqlite3_bind_int(st, 4, LEDGER_MAX_REASON);
	return run(l, st, rc, "sanction cut", err, errlen);
}

int ledger_lift_id(struct ledger *l, int64_t sanction_id, int64_t now_us, const char *by, bool *lifted, char *err,
		   size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_LIFT_ID, err, errlen);
	if (!st || check_member(by, err, errlen) != 0)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, sanction_id);
	rc = rc ? rc : sqlite3_bind_int64(st, 2, now_us);
	rc = rc ? rc : bind_text(st, 3, by);
	int ret = run(l, st, rc, "lift", err, errlen);
	if (lifted)
		*lifted = ret == 0 && sqlite3_changes(ledger_sqlite(l)) > 0;
	return ret;
}

int ledger_each_active_exact(struct ledger *l, const struct addr *a, int64_t now_us, ledger_active_fn fn, void *arg,
			     char *err, size_t errlen)
{
	sqlite3_stmt *st = stmt(l, AS_ACTIVE_EXACT, err, errlen);
	if (!st || ledger_check_addr(a, err, errlen) != 0)
		return -1;
	int rc = ledger_bind_addr(st, 1, a);
	rc = rc ? rc : sqlite3_bind_int64(st, 4, now_us);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		if (fn(arg, sqlite3_column_int64(st, 0), column_text(st, 1), sqlite3_column_int64(st, 2)) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	int ret = rc == SQLITE_DONE ? 0 : ledger_fail_db(ledger_sqlite(l), err, errlen, "active sanctions");
	ledger_finish(st);
	return ret;
}
