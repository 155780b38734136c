/* ledger.c: the sanction register on SQLite (see ledger.h for the contract,
 * migrate.c for the schema).
 * Why SQLite in WAL mode: a committed write survives kill -9 and power loss
 * (synchronous=FULL), readers (pacto why) never block the writer, and a
 * batch of writes costs one fsync.
 * How: every statement is prepared once at open and reset after each use,
 * so no statement holds a read snapshot between calls; values are bound with
 * explicit lengths, and no SQL is ever built from data.
 * Never: stores an address as text, deletes history (only the retention,
 * ledger_prune.c, deletes what nothing needs any more), or writes to a file
 * before it is known to be a pacto ledger. */
#include "ledger/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ledger/ledger_int.h"
#include "ledger/migrate.h"
#include "ledger/counter.h"
#include "ledger/syncer.h"

/* How long a write waits for another process's write lock (pacto CLI, a
 * second daemon by mistake) before failing with "database is locked". */
#define LEDGER_BUSY_TIMEOUT_MS 5000

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_ADD,
	ST_ADD_PREFIX,
	ST_ADD_LINE,
	ST_LIFT,
	ST_ACTIVE,
	ST_HISTORY,
	ST_RECENT,
	ST_LINES,
	ST_OFFENCES,
	ST_SET_CURSOR,
	ST_GET_CURSOR,
	ST_COUNT_ALL,
	ST_COUNT_ACTIVE,
	ST_NSTMT
};

/* Read by read_sanction() in this order. */
#define SANCTION_COLUMNS                                                               \
	"s.id, s.family, s.prefix, s.net, s.scenario, s.origin, s.reason, s.attempts, " \
	"s.first_seen_us, s.last_seen_us, s.created_us, s.expires_us, s.offence, "     \
	"s.evidence_dropped, s.lifted_us, s.lifted_by"

/* "Active" is spelt the same way as the partial index sanction_active, so
 * that SQLite uses it. */
#define ACTIVE_WHERE "s.lifted_us IS NULL AND s.expires_us > ?1"

static const char *const stmt_sql[ST_NSTMT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_ADD] = "INSERT INTO sanction (family, prefix, net, scenario, origin, reason, attempts,"
		   " first_seen_us, last_seen_us, created_us, expires_us, offence, evidence_dropped)"
		   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_ADD_PREFIX] = "INSERT OR IGNORE INTO prefix_len (family, prefix) VALUES (?1, ?2)",
	[ST_ADD_LINE] = "INSERT INTO evidence (sanction_id, seq, line, orig_len)"
			" VALUES (?1, ?2, ?3, ?4)",
	[ST_LIFT] = "UPDATE sanction AS s SET lifted_us = ?1, lifted_by = ?2"
		    " WHERE s.family = ?3 AND s.prefix = ?4 AND s.net = ?5 AND " ACTIVE_WHERE,
	[ST_ACTIVE] = "SELECT " SANCTION_COLUMNS " FROM sanction AS s WHERE " ACTIVE_WHERE
		      " ORDER BY s.expires_us, s.id",
	/* One indexed probe of sanction_net (family, prefix, net) per prefix
	 * length in use that is not longer than the address's own; CROSS JOIN
	 * keeps prefix_len outside. Trap: with a bare "s.prefix = p.prefix"
	 * SQLite derives "s.prefix <= ?2" from it and ranges over the index
	 * instead (a scan of the family); "+ 0" stops that derivation. */
	[ST_HISTORY] = "SELECT " SANCTION_COLUMNS " FROM prefix_len AS p CROSS JOIN sanction AS s"
		       " WHERE p.family = ?1 AND p.prefix <= ?2 AND s.family = ?1"
		       " AND s.prefix = p.prefix + 0 AND s.net = pacto_mask(?3, p.prefix)"
		       " ORDER BY s.created_us, s.id",
	[ST_RECENT] = "SELECT " SANCTION_COLUMNS " FROM sanction AS s ORDER BY s.id DESC LIMIT ?1",
	[ST_LINES] = "SELECT line, orig_len FROM evidence WHERE sanction_id = ?1 ORDER BY seq",
	/* count(*) OVER () counts every matching row before LIMIT keeps the latest. */
	[ST_OFFENCES] = "SELECT count(*) OVER (), s.offence, s.created_us, s.expires_us, s.lifted_us"
			" FROM sanction AS s WHERE s.family = ?1 AND s.prefix = ?2 AND s.net = ?3"
			" AND s.created_us >= ?4 ORDER BY s.created_us DESC, s.id DESC LIMIT 1",
	[ST_SET_CURSOR] = "INSERT INTO source_cursor (source, position) VALUES (?1, ?2)"
			  " ON CONFLICT (source) DO UPDATE SET position = excluded.position",
	[ST_GET_CURSOR] = "SELECT position FROM source_cursor WHERE source = ?1",
	[ST_COUNT_ALL] = "SELECT count(*) FROM sanction",
	[ST_COUNT_ACTIVE] = "SELECT count(*) FROM sanction AS s WHERE " ACTIVE_WHERE,
};

struct ledger {
	sqlite3 *db;
	sqlite3_stmt *st[ST_NSTMT];
	/* Evidence of the sanction ledger_each_history() is reporting, copied
	 * out because a statement's column memory changes at its next step. */
	char line_buf[LEDGER_MAX_EVIDENCE][LEDGER_MAX_LINE];
	struct ledger_line lines[LEDGER_MAX_EVIDENCE];
	struct ledger_ally *ally;   /* the alliance's statements (ledger_ally.c), prepared on first use */
	struct ledger_prune *prune; /* the retention's pass and statements (ledger_prune.c), on first use */
	int busy_ms;                /* ledger_set_busy_timeout's; 0: LEDGER_BUSY_TIMEOUT_MS */
	struct syncer *syncer;      /* NULL unless ledger_defer_sync() */
	struct counter *counter;    /* NULL unless ledger_count_in_background() */
	/* (family, prefix) pairs known to be in prefix_len: index 0..32 for
	 * IPv4, 33..161 for IPv6; pending ones become known at commit. */
	bool prefix_known[162], prefix_pending[162];
};

sqlite3 *ledger_sqlite(struct ledger *l)
{
	return l->db;
}

struct ledger_ally **ledger_ally_slot(struct ledger *l)
{
	return &l->ally;
}

struct ledger_prune **ledger_prune_slot(struct ledger *l)
{
	return &l->prune;
}

/* ---- small helpers ------------------------------------------------------ */

int ledger_fail_db(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
	return -1;
}

static int fail(char *err, size_t errlen, const char *what, const char *why)
{
	snprintf(err, errlen, "%s: %s", what, why);
	return -1;
}

/* Makes a statement ready for its next use, dropping bindings that point
 * into the caller's memory. */
void ledger_finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no row. */
static int step_done(struct ledger *l, enum stmt id, const char *what, char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[id];
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ledger_fail_db(l->db, err, errlen, what);
	ledger_finish(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Longest length not above max that does not end inside a UTF-8 sequence
 * (at most 3 bytes are given back, so bytes that are not UTF-8 still fit). */
size_t ledger_cut_len(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > max - 3 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return ((unsigned char)s[n] & 0xc0) == 0x80 ? max : n;
}

/* The ledger stores 4 and 6, not AF_INET/AF_INET6, whose values differ between systems. */
static int family_code(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 6;
}

int ledger_check_addr(const struct addr *a, char *err, size_t errlen)
{
	char text[ADDR_STRLEN];
	if (a->family != AF_INET && a->family != AF_INET6)
		return fail(err, errlen, "address", "family is neither IPv4 nor IPv6");
	if (a->prefix > addr_max_prefix(a))
		return fail(err, errlen, "address", "prefix longer than the family's");
	struct addr masked = *a;
	addr_mask(&masked, a->prefix);
	if (memcmp(masked.bytes, a->bytes, sizeof(a->bytes)) != 0) {
		snprintf(err, errlen, "address %s: bits set past the prefix",
			 addr_format(a, text, sizeof(text)));
		return -1;
	}
	return 0;
}

static int check_name(const char *what, const char *s, char *err, size_t errlen)
{
	size_t n = s ? strnlen(s, LEDGER_MAX_NAME + 1) : 0;
	if (n == 0 || n > LEDGER_MAX_NAME) {
		snprintf(err, errlen, "%s: empty or longer than %d bytes", what, LEDGER_MAX_NAME);
		return -1;
	}
	return 0;
}

/* Binds family, prefix and network bytes at idx, idx+1, idx+2. Returns an SQLite code. */
int ledger_bind_addr(sqlite3_stmt *st, int idx, const struct addr *a)
{
	int rc = sqlite3_bind_int(st, idx, family_code(a));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, idx + 1, a->prefix);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(st, idx + 2, a->bytes, sizeof(a->bytes), SQLITE_STATIC);
	return rc;
}

/* Binds a checked name or bounded text with its length. Returns an SQLite code. */
static int bind_text(sqlite3_stmt *st, int idx, const char *s, size_t len)
{
	return sqlite3_bind_text(st, idx, s ? s : "", (int)len, SQLITE_STATIC);
}

/* ---- opening ------------------------------------------------------------ */

/* fsync of the directory, so that a new file's name survives power loss
 * (SQLite does this for its -wal file, not for the database itself). */
static int sync_parent(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	if (!copy)
		return fail(err, errlen, "strdup", strerror(errno));
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (fd < 0 || fsync(fd) != 0)
		rc = fail(err, errlen, "fsync of directory", strerror(errno));
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

/* Creates the file if missing, mode 0640 rather than SQLite's 0644: it holds
 * log lines, which are often private (auth.log is 0640). The -wal and -shm
 * files take the database's mode. An existing file is left as it is. */
static int create_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return errno == EEXIST ? 0 : fail(err, errlen, "create", strerror(errno));
	close(fd);
	return sync_parent(path, err, errlen);
}

/* Settings that touch nothing on disk, safe before the file is identified. */
static void configure(sqlite3 *db)
{
	sqlite3_busy_timeout(db, LEDGER_BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
}

static int set_wal(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
		return ledger_fail_db(db, err, errlen, "PRAGMA journal_mode");
	int rc = sqlite3_step(st);
	const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	bool ok = mode && strcmp(mode, "wal") == 0;
	if (!ok && mode)
		snprintf(err, errlen, "PRAGMA journal_mode: WAL refused, mode stays %s", mode);
	else if (!ok)
		ledger_fail_db(db, err, errlen, "PRAGMA journal_mode");
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* Durability and integrity settings, once the file is known to be ours.
 * Temporary tables and indices stay in memory: pactod may write only in its
 * state directory (sandbox.h), never in /tmp or /var/tmp. */
static int set_pragmas(sqlite3 *db, char *err, size_t errlen)
{
	if (set_wal(db, err, errlen) != 0)
		return -1;
	if (sqlite3_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY",
			 NULL, NULL, NULL) != SQLITE_OK)
		return ledger_fail_db(db, err, errlen, "PRAGMA synchronous, foreign_keys, temp_store");
	return 0;
}

/* pacto_mask(net, prefix): net (16 bytes) with every bit past prefix
 * cleared, or NULL for anything else. For the history query only. */
static void sql_mask(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	const void *net = sqlite3_value_blob(argv[0]);
	int prefix = sqlite3_value_int(argv[1]);
	if (!net || sqlite3_value_bytes(argv[0]) != 16 || prefix < 0 || prefix > 128) {
		sqlite3_result_null(ctx);
		return;
	}
	struct addr a = {.family = AF_INET6};
	memcpy(a.bytes, net, sizeof(a.bytes));
	addr_mask(&a, (unsigned)prefix);
	sqlite3_result_blob(ctx, a.bytes, sizeof(a.bytes), SQLITE_TRANSIENT);
}

static int prepare_all(struct ledger *l, char *err, size_t errlen)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY;
	if (sqlite3_create_function_v2(l->db, "pacto_mask", 2, flags, NULL, sql_mask, NULL, NULL,
				       NULL) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "sqlite3_create_function_v2");
	for (int i = 0; i < ST_NSTMT; i++)
		if (sqlite3_prepare_v3(l->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &l->st[i],
				       NULL) != SQLITE_OK)
			return ledger_fail_db(l->db, err, errlen, stmt_sql[i]);
	return 0;
}

static bool has_wal(const char *path)
{
	char wal[PATH_MAX];
	size_t n = (size_t)snprintf(wal, sizeof(wal), "%s-wal", path);
	return n < sizeof(wal) && access(wal, F_OK) == 0;
}

/* PRAGMA quick_check, read only: a damaged file is refused whole at open
 * rather than found page by page while running (where a write into a
 * damaged b-tree could spread the damage). O(size of the file): about a
 * second for a million sanctions, once per start. */
static int check_integrity(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
		return ledger_fail_db(db, err, errlen, "the file is damaged (PRAGMA quick_check)");
	int rc = sqlite3_step(st);
	const char *r = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	bool ok = r && strcmp(r, "ok") == 0;
	/* The first problem, without quick_check's "*** in database main ***" line. */
	const char *first = r && strncmp(r, "*** ", 4) == 0 && strchr(r, '\n') ? strchr(r, '\n') + 1 : r;
	if (!ok && r)
		snprintf(err, errlen, "the file is damaged (%.*s); left untouched: move it aside to start with a new "
			 "ledger, or recover it with sqlite3's .recover", (int)strcspn(first, "\n"), first);
	else if (!ok)
		ledger_fail_db(db, err, errlen, "the file is damaged (PRAGMA quick_check); left untouched");
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* Identify before writing: migrate_check() reads only. A refused file must
 * be left as found: closing the last connection to a WAL database
 * checkpoints it and removes -wal and -shm, which is right when reading
 * created them and wrong when another program left a -wal behind (its
 * frames would be copied into its database), so then no checkpoint. */
static int open_db(struct ledger *l, const char *path, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	if (create_file(path, err, errlen) != 0)
		return -1;
	bool had_wal = has_wal(path);
	if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "sqlite3_open_v2");
	/* SQLite quietly opens a file it may not write read-only. */
	if (sqlite3_db_readonly(l->db, "main") == 1)
		return fail(err, errlen, "open", "not writable by this user");
	configure(l->db);
	if (migrate_check(l->db, err, errlen) != 0 || check_integrity(l->db, err, errlen) != 0) {
		sqlite3_db_config(l->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, had_wal, NULL);
		return -1;
	}
	if (set_pragmas(l->db, err, errlen) != 0 || migrate_run(l->db, err, errlen) != 0)
		return -1;
	return prepare_all(l, err, errlen);
}

/* A reader's connection: nothing is created, migrated or written. */
static int open_db_readonly(struct ledger *l, const char *path, char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	if (access(path, R_OK) != 0)
		return fail(err, errlen, "open", strerror(errno));
	if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "sqlite3_open_v2");
	configure(l->db);
	if (migrate_check(l->db, err, errlen) != 0)
		return -1;
	if (sqlite3_exec(l->db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "PRAGMA query_only");
	return prepare_all(l, err, errlen);
}

int ledger_open_readonly(const char *path, struct ledger **out, char *err, size_t errlen)
{
	char why[512];
	*out = NULL;
	struct ledger *l = calloc(1, sizeof(*l));
	if (!l)
		return fail(err, errlen, path, strerror(errno));
	if (open_db_readonly(l, path, why, sizeof(why)) != 0) {
		fail(err, errlen, path, why);
		ledger_close(l);
		return -1;
	}
	*out = l;
	return 0;
}

int ledger_open(const char *path, struct ledger **out, char *err, size_t errlen)
{
	char why[512];
	*out = NULL;
	struct ledger *l = calloc(1, sizeof(*l));
	if (!l)
		return fail(err, errlen, path, strerror(errno));
	if (open_db(l, path, why, sizeof(why)) != 0) {
		fail(err, errlen, path, why);
		ledger_close(l);
		return -1;
	}
	*out = l;
	return 0;
}

int ledger_defer_sync(struct ledger *l, char *err, size_t errlen)
{
	char why[256];
	if (l->syncer)
		return 0;
	l->syncer = syncer_start(l->db, why, sizeof(why));
	return l->syncer ? 0 : fail(err, errlen, "defer sync", why);
}

void ledger_set_busy_timeout(struct ledger *l, int ms)
{
	sqlite3_busy_timeout(l->db, ms);
	l->busy_ms = ms;
}

int ledger_busy_timeout(const struct ledger *l)
{
	return l->busy_ms ? l->busy_ms : LEDGER_BUSY_TIMEOUT_MS;
}

void ledger_wait_durable(struct ledger *l)
{
	if (l->syncer)
		syncer_wait(l->syncer);
}

void ledger_close(struct ledger *l)
{
	if (!l)
		return;
	if (l->db && !sqlite3_get_autocommit(l->db))
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	counter_stop(l->counter);
	syncer_stop(l->syncer, l->db);
	for (int i = 0; i < ST_NSTMT; i++)
		sqlite3_finalize(l->st[i]);
	ledger_ally_free(l->ally);
	ledger_prune_free(l->prune);
	sqlite3_close_v2(l->db);
	free(l);
}

/* ---- transactions ------------------------------------------------------- */

bool ledger_in_transaction(const struct ledger *l)
{
	return !sqlite3_get_autocommit(l->db);
}

int ledger_begin(struct ledger *l, char *err, size_t errlen)
{
	return step_done(l, ST_BEGIN, "begin transaction", err, errlen);
}

/* A COMMIT that fails (disk full, I/O error) may leave the transaction open
 * or may have rolled it back: roll back to make "nothing stored" certain. */
int ledger_commit(struct ledger *l, char *err, size_t errlen)
{
	if (!ledger_in_transaction(l))
		return fail(err, errlen, "commit",
			    "no transaction is open (rolled back after an earlier error?)");
	if (step_done(l, ST_COMMIT, "commit", err, errlen) == 0) {
		for (size_t i = 0; i < sizeof(l->prefix_known); i++)
			l->prefix_known[i] |= l->prefix_pending[i];
		memset(l->prefix_pending, 0, sizeof(l->prefix_pending));
		return 0;
	}
	ledger_rollback(l);
	return -1;
}

void ledger_rollback(struct ledger *l)
{
	memset(l->prefix_pending, 0, sizeof(l->prefix_pending));
	if (ledger_in_transaction(l))
		(void)step_done(l, ST_ROLLBACK, "rollback", NULL, 0);
}

/* ---- adding ------------------------------------------------------------- */

static int check_sanction(const struct ledger_sanction *s, char *err, size_t errlen)
{
	if (ledger_check_addr(&s->addr, err, errlen) != 0 ||
	    check_name("scenario", s->scenario, err, errlen) != 0 ||
	    check_name("origin", s->origin, err, errlen) != 0)
		return -1;
	if (s->offence < 1)
		return fail(err, errlen, "sanction", "offence number 0 (the first is 1)");
	if (s->nevidence && !s->evidence)
		return fail(err, errlen, "sanction", "evidence lines counted but not given");
	for (size_t i = 0; i < s->nevidence && i < LEDGER_MAX_EVIDENCE; i++)
		if (s->evidence[i].len && !s->evidence[i].text)
			return fail(err, errlen, "sanction", "evidence line without text");
	return 0;
}

/* Lines the caller dropped plus those past LEDGER_MAX_EVIDENCE, saturated. */
static int64_t dropped_lines(const struct ledger_sanction *s)
{
	uint64_t extra = 0;
	if (s->nevidence > LEDGER_MAX_EVIDENCE)
		extra = s->nevidence - LEDGER_MAX_EVIDENCE;
	uint64_t total = (uint64_t)s->evidence_dropped + (extra < UINT_MAX ? extra : UINT_MAX);
	return (int64_t)(total < UINT_MAX ? total : UINT_MAX);
}

/* Each bind runs only while the previous ones succeeded; returns an SQLite code. */
static int bind_sanction(sqlite3_stmt *st, const struct ledger_sanction *s)
{
	size_t reason_len = s->reason ? strnlen(s->reason, LEDGER_MAX_REASON + 1) : 0;
	reason_len = ledger_cut_len(s->reason, reason_len, LEDGER_MAX_REASON);
	int rc = ledger_bind_addr(st, 1, &s->addr);
	rc = rc ? rc : bind_text(st, 4, s->scenario, strlen(s->scenario));
	rc = rc ? rc : bind_text(st, 5, s->origin, strlen(s->origin));
	rc = rc ? rc : bind_text(st, 6, s->reason, reason_len);
	rc = rc ? rc : sqlite3_bind_int64(st, 7, s->attempts);
	rc = rc ? rc : sqlite3_bind_int64(st, 8, s->first_seen_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 9, s->last_seen_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 10, s->created_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 11, s->expires_us);
	rc = rc ? rc : sqlite3_bind_int64(st, 12, s->offence);
	return rc ? rc : sqlite3_bind_int64(st, 13, dropped_lines(s));
}

/* A line is cut to LEDGER_MAX_LINE bytes; orig_len keeps what it was. A
 * BLOB bound from NULL would be NULL, hence "" for an empty line. */
static int insert_line(struct ledger *l, int64_t id, int seq, const struct ledger_line *line,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_ADD_LINE];
	const char *text = line->text ? line->text : "";
	size_t len = ledger_cut_len(text, line->len, LEDGER_MAX_LINE);
	int rc = sqlite3_bind_int64(st, 1, id);
	rc = rc ? rc : sqlite3_bind_int(st, 2, seq);
	rc = rc ? rc : sqlite3_bind_blob(st, 3, text, (int)len, SQLITE_STATIC);
	rc = rc ? rc : sqlite3_bind_int64(st, 4, (int64_t)line->len);
	if (rc != SQLITE_OK) {
		ledger_finish(st);
		return ledger_fail_db(l->db, err, errlen, "bind evidence");
	}
	return step_done(l, ST_ADD_LINE, "insert evidence", err, errlen);
}

/* Records that this (family, prefix) is in use, for the history query.
 * Pairs already written in a committed transaction are remembered, so the
 * common case costs no statement (it was ~20% of writing a sanction). */
static int insert_prefix(struct ledger *l, const struct addr *a, char *err, size_t errlen)
{
	unsigned bit = (a->family == AF_INET ? 0 : 33) + a->prefix;
	if (l->prefix_known[bit])
		return 0;
	sqlite3_stmt *st = l->st[ST_ADD_PREFIX];
	int rc = sqlite3_bind_int(st, 1, family_code(a));
	rc = rc ? rc : sqlite3_bind_int(st, 2, a->prefix);
	if (rc != SQLITE_OK) {
		ledger_finish(st);
		return ledger_fail_db(l->db, err, errlen, "bind prefix");
	}
	if (step_done(l, ST_ADD_PREFIX, "insert prefix length", err, errlen) != 0)
		return -1;
	l->prefix_pending[bit] = true;
	return 0;
}

static int insert_sanction(struct ledger *l, const struct ledger_sanction *s, int64_t *id,
			   char *err, size_t errlen)
{
	if (bind_sanction(l->st[ST_ADD], s) != SQLITE_OK) {
		ledger_finish(l->st[ST_ADD]);
		return ledger_fail_db(l->db, err, errlen, "bind sanction");
	}
	if (step_done(l, ST_ADD, "insert sanction", err, errlen) != 0)
		return -1;
	*id = sqlite3_last_insert_rowid(l->db);
	if (insert_prefix(l, &s->addr, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < s->nevidence && i < LEDGER_MAX_EVIDENCE; i++)
		if (insert_line(l, *id, (int)i, &s->evidence[i], err, errlen) != 0)
			return -1;
	return 0;
}

/* No savepoint around one sanction inside the caller's transaction: it
 * made batched inserts 1.6x slower (every page it touches is copied first).
 * Input is checked before anything is written, so only a database failure
 * (disk full, I/O error) can stop a sanction half-written, and then the
 * whole transaction goes: SQLite rolls back by itself after some of those. */
int ledger_add_sanction(struct ledger *l, const struct ledger_sanction *s, int64_t *id, char *err,
			size_t errlen)
{
	int64_t rowid = 0;
	if (check_sanction(s, err, errlen) != 0)
		return -1;
	bool own = !ledger_in_transaction(l);
	if (own && ledger_begin(l, err, errlen) != 0)
		return -1;
	if (insert_sanction(l, s, &rowid, err, errlen) != 0) {
		ledger_rollback(l);
		return -1;
	}
	if (own && ledger_commit(l, err, errlen) != 0)
		return -1;
	if (id)
		*id = rowid;
	return 0;
}

/* ---- lifting ------------------------------------------------------------ */

int ledger_lift(struct ledger *l, const struct addr *a, int64_t now_us, const char *by,
		unsigned *lifted, char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_LIFT];
	if (ledger_check_addr(a, err, errlen) != 0 || check_name("lifted by", by, err, errlen) != 0)
		return -1;
	int rc = sqlite3_bind_int64(st, 1, now_us);
	rc = rc ? rc : bind_text(st, 2, by, strlen(by));
	rc = rc ? rc : ledger_bind_addr(st, 3, a);
	if (rc != SQLITE_OK) {
		ledger_finish(st);
		return ledger_fail_db(l->db, err, errlen, "bind lift");
	}
	if (step_done(l, ST_LIFT, "lift", err, errlen) != 0)
		return -1;
	if (lifted)
		*lifted = (unsigned)sqlite3_changes(l->db);
	return 0;
}

/* ---- reading ------------------------------------------------------------ */

static const char *column_str(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	return s ? s : "";
}

/* Reads family, prefix, net at col, col+1, col+2; a malformed row (only a
 * hand-edited file could hold one) still yields a well-formed address. */
void ledger_read_addr(sqlite3_stmt *st, int col, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = sqlite3_column_int(st, col) == 4 ? AF_INET : AF_INET6;
	const void *net = sqlite3_column_blob(st, col + 2);
	int n = sqlite3_column_bytes(st, col + 2);
	if (net)
		memcpy(a->bytes, net, n < 16 ? (size_t)n : 16);
	addr_mask(a, (unsigned)sqlite3_column_int(st, col + 1));
}

static void read_sanction(sqlite3_stmt *st, struct ledger_sanction *s)
{
	memset(s, 0, sizeof(*s));
	s->id = sqlite3_column_int64(st, 0);
	ledger_read_addr(st, 1, &s->addr);
	s->scenario = column_str(st, 4);
	s->origin = column_str(st, 5);
	s->reason = column_str(st, 6);
	s->attempts = (unsigned)sqlite3_column_int64(st, 7);
	s->first_seen_us = sqlite3_column_int64(st, 8);
	s->last_seen_us = sqlite3_column_int64(st, 9);
	s->created_us = sqlite3_column_int64(st, 10);
	s->expires_us = sqlite3_column_int64(st, 11);
	s->offence = (unsigned)sqlite3_column_int64(st, 12);
	s->evidence_dropped = (unsigned)sqlite3_column_int64(st, 13);
	s->lifted = sqlite3_column_type(st, 14) != SQLITE_NULL;
	s->lifted_us = sqlite3_column_int64(st, 14);
	s->lifted_by = s->lifted ? column_str(st, 15) : NULL;
}

static void copy_line(struct ledger *l, sqlite3_stmt *st, size_t i)
{
	const void *blob = sqlite3_column_blob(st, 0);
	size_t len = (size_t)sqlite3_column_bytes(st, 0);
	if (len > LEDGER_MAX_LINE)
		len = LEDGER_MAX_LINE;
	if (blob)
		memcpy(l->line_buf[i], blob, len);
	int64_t orig = sqlite3_column_int64(st, 1);
	size_t orig_len = orig > (int64_t)len ? (size_t)orig : len;
	l->lines[i] = (struct ledger_line){l->line_buf[i], len, orig_len};
}

static int read_evidence(struct ledger *l, struct ledger_sanction *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_LINES];
	size_t n = 0;
	int rc = sqlite3_bind_int64(st, 1, s->id);
	while (rc == SQLITE_OK && n < LEDGER_MAX_EVIDENCE) {
		if ((rc = sqlite3_step(st)) != SQLITE_ROW)
			break;
		copy_line(l, st, n++);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		ledger_fail_db(l->db, err, errlen, "read evidence");
	ledger_finish(st);
	s->evidence = l->lines;
	s->nevidence = n;
	return rc == SQLITE_OK || rc == SQLITE_DONE ? 0 : -1;
}

/* Steps st (bound by the caller) and hands each row to fn until fn stops it. */
static int each_row(struct ledger *l, sqlite3_stmt *st, bool evidence, ledger_sanction_fn fn,
		    void *arg, const char *what, char *err, size_t errlen)
{
	struct ledger_sanction s;
	int rc, ret = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		read_sanction(st, &s);
		if (evidence && (ret = read_evidence(l, &s, err, errlen)) != 0)
			break;
		if (fn(arg, &s) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = ledger_fail_db(l->db, err, errlen, what);
	ledger_finish(st);
	return ret;
}

int ledger_each_active(struct ledger *l, int64_t now_us, ledger_sanction_fn fn, void *arg,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_ACTIVE];
	if (sqlite3_bind_int64(st, 1, now_us) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "bind active");
	return each_row(l, st, false, fn, arg, "active sanctions", err, errlen);
}

int ledger_each_history(struct ledger *l, const struct addr *a, ledger_sanction_fn fn, void *arg,
			char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_HISTORY];
	if (ledger_check_addr(a, err, errlen) != 0)
		return -1;
	if (ledger_bind_addr(st, 1, a) != SQLITE_OK) {
		ledger_finish(st);
		return ledger_fail_db(l->db, err, errlen, "bind history");
	}
	return each_row(l, st, true, fn, arg, "history", err, errlen);
}

int ledger_each_recent(struct ledger *l, unsigned limit, ledger_sanction_fn fn, void *arg, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_RECENT];
	if (sqlite3_bind_int64(st, 1, limit) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "bind recent");
	return each_row(l, st, false, fn, arg, "recent sanctions", err, errlen);
}

static void read_offences(sqlite3_stmt *st, struct ledger_offences *out)
{
	out->count = (unsigned)sqlite3_column_int64(st, 0);
	out->last_offence = (unsigned)sqlite3_column_int64(st, 1);
	out->last_created_us = sqlite3_column_int64(st, 2);
	out->last_expires_us = sqlite3_column_int64(st, 3);
	out->last_end_us = out->last_expires_us;
	bool lifted = sqlite3_column_type(st, 4) != SQLITE_NULL;
	if (lifted && sqlite3_column_int64(st, 4) < out->last_end_us)
		out->last_end_us = sqlite3_column_int64(st, 4);
}

int ledger_offences(struct ledger *l, const struct addr *a, int64_t since_us,
		    struct ledger_offences *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_OFFENCES];
	memset(out, 0, sizeof(*out));
	if (ledger_check_addr(a, err, errlen) != 0)
		return -1;
	int rc = ledger_bind_addr(st, 1, a);
	rc = rc ? rc : sqlite3_bind_int64(st, 4, since_us);
	rc = rc ? rc : sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_offences(st, out);
	else if (rc != SQLITE_DONE)
		ledger_fail_db(l->db, err, errlen, "offences");
	ledger_finish(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* ---- cursors and counts ------------------------------------------------- */

int ledger_set_cursor(struct ledger *l, const char *source, const char *cursor, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_SET_CURSOR];
	size_t len = cursor ? strnlen(cursor, LEDGER_MAX_CURSOR + 1) : 0;
	if (check_name("source", source, err, errlen) != 0)
		return -1;
	if (len == 0 || len > LEDGER_MAX_CURSOR)
		return fail(err, errlen, source, "cursor empty or longer than LEDGER_MAX_CURSOR");
	int rc = bind_text(st, 1, source, strlen(source));
	rc = rc ? rc : bind_text(st, 2, cursor, len);
	if (rc != SQLITE_OK) {
		ledger_finish(st);
		return ledger_fail_db(l->db, err, errlen, "bind cursor");
	}
	return step_done(l, ST_SET_CURSOR, "set cursor", err, errlen);
}

static int copy_cursor(sqlite3_stmt *st, char *buf, size_t buflen, char *err, size_t errlen)
{
	const char *text = column_str(st, 0);
	size_t len = (size_t)sqlite3_column_bytes(st, 0);
	if (len >= buflen) {
		snprintf(err, errlen, "get cursor: %zu bytes do not fit in %zu", len, buflen);
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	return 0;
}

int ledger_get_cursor(struct ledger *l, const char *source, char *buf, size_t buflen, bool *found,
		      char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[ST_GET_CURSOR];
	*found = false;
	if (buflen)
		buf[0] = '\0';
	if (check_name("source", source, err, errlen) != 0)
		return -1;
	int rc = bind_text(st, 1, source, strlen(source));
	rc = rc ? rc : sqlite3_step(st);
	int ret = 0;
	if (rc == SQLITE_ROW && (ret = copy_cursor(st, buf, buflen, err, errlen)) == 0)
		*found = true;
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = ledger_fail_db(l->db, err, errlen, "get cursor");
	ledger_finish(st);
	return ret;
}

/* Runs a count(*) statement whose ?1 (if any) is already bound. */
static int count_rows(struct ledger *l, enum stmt id, uint64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = l->st[id];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	else
		ledger_fail_db(l->db, err, errlen, "count");
	ledger_finish(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

int ledger_counts(struct ledger *l, int64_t now_us, struct ledger_counts *out, char *err,
		  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (l->counter)
		return counter_get(l->counter, out, err, errlen);
	out->counted_us = now_us;
	if (sqlite3_bind_int64(l->st[ST_COUNT_ACTIVE], 1, now_us) != SQLITE_OK)
		return ledger_fail_db(l->db, err, errlen, "bind count");
	if (count_rows(l, ST_COUNT_ACTIVE, &out->active, err, errlen) != 0)
		return -1;
	return count_rows(l, ST_COUNT_ALL, &out->sanctions, err, errlen);
}

int ledger_count_in_background(struct ledger *l, char *err, size_t errlen)
{
	if (l->counter)
		return 0;
	l->counter = counter_start(l->db, stmt_sql[ST_COUNT_ALL], stmt_sql[ST_COUNT_ACTIVE], err, errlen);
	return l->counter ? 0 : -1;
}
