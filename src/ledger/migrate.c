/* migrate.c: the ledger's schema, its versions, and how a file is recognised
 * (see migrate.h).
 * Why: the SQL lives here as C strings so the binary needs no file at run
 * time; a migration is appended, never edited, once released.
 * Guarantees: PRAGMA application_id marks a pacto ledger and PRAGMA
 * user_version is the number of the last migration applied; both are written
 * in the same transaction as the migration itself.
 * Never: writes to a file before migrate_check() accepted it. */
#include "ledger/migrate.h"

#include <stdio.h>

struct migration {
	int version;
	const char *sql;
};

/* Version 1, the first schema.
 * Addresses are binary: family 4 or 6 (not AF_*, which differ between
 * systems), prefix length, and the 16 network bytes with every bit past the
 * prefix cleared, so an address and a prefix are compared by equality.
 * prefix_len lists the (family, prefix) pairs in use (ledger.c adds one
 * with each sanction, in the same transaction): "which sanctions contain
 * address A" is then one indexed probe of sanction_net per prefix length in
 * use, instead of a scan. Not a trigger: an INSERT that fires one needs a
 * statement journal, a temporary file written for every sanction.
 * Times are microseconds since the epoch. A lift deletes nothing: it
 * sets lifted_us/lifted_by, so history answers "why, since when, whose word"
 * (only the retention deletes rows, see version 3). */
static const char schema_v1[] =
	"CREATE TABLE sanction ("
	"  id               INTEGER PRIMARY KEY,"
	"  family           INTEGER NOT NULL CHECK (family IN (4, 6)),"
	"  prefix           INTEGER NOT NULL"
	"                   CHECK (prefix BETWEEN 0 AND (CASE family WHEN 4 THEN 32 ELSE 128 END)),"
	"  net              BLOB NOT NULL CHECK (typeof(net) = 'blob' AND length(net) = 16),"
	"  scenario         TEXT NOT NULL,"
	"  origin           TEXT NOT NULL,"
	"  reason           TEXT NOT NULL,"
	"  attempts         INTEGER NOT NULL CHECK (attempts >= 0),"
	"  first_seen_us    INTEGER NOT NULL,"
	"  last_seen_us     INTEGER NOT NULL,"
	"  created_us       INTEGER NOT NULL,"
	"  expires_us       INTEGER NOT NULL,"
	"  offence          INTEGER NOT NULL CHECK (offence >= 1),"
	"  evidence_dropped INTEGER NOT NULL DEFAULT 0 CHECK (evidence_dropped >= 0),"
	"  lifted_us        INTEGER,"
	"  lifted_by        TEXT,"
	"  CHECK ((lifted_us IS NULL) = (lifted_by IS NULL))"
	");"
	/* Exact lookups (lift, offences) and containment (history). */
	"CREATE INDEX sanction_net ON sanction (family, prefix, net);"
	/* Active sanctions: only rows not lifted, in order of their end. */
	"CREATE INDEX sanction_active ON sanction (expires_us) WHERE lifted_us IS NULL;"
	/* Matched log lines, at most 16 per sanction, each at most 1024 bytes;
	 * orig_len > length(line) marks a truncated one. BLOB: logs are bytes. */
	"CREATE TABLE evidence ("
	"  sanction_id INTEGER NOT NULL REFERENCES sanction (id),"
	"  seq         INTEGER NOT NULL,"
	"  line        BLOB NOT NULL,"
	"  orig_len    INTEGER NOT NULL,"
	"  PRIMARY KEY (sanction_id, seq)"
	") WITHOUT ROWID;"
	"CREATE TABLE prefix_len ("
	"  family INTEGER NOT NULL,"
	"  prefix INTEGER NOT NULL,"
	"  PRIMARY KEY (family, prefix)"
	") WITHOUT ROWID;"
	/* Where each log source was read up to (inode+offset, journal cursor). */
	"CREATE TABLE source_cursor ("
	"  source   TEXT PRIMARY KEY,"
	"  position TEXT NOT NULL"
	") WITHOUT ROWID;";

/* Version 2, the alliance.
 * outbox: every report this member made for its allies, in sequence order
 * (AUTOINCREMENT: a sequence number is never given twice, even after old
 * rows are pruned, since allies refuse a number they have seen); acked_us
 * is set when the broker acknowledged it, and until then it is published
 * again. Evidence lines are a JSON array of strings.
 * ally: per ally, the last report sequence applied and its time, written
 * in the transaction that applies it, so a restart neither applies a
 * report twice nor accepts a replay.
 * report_in: every report received and what became of it (verdict
 * "applied", "pending" (counted toward the quorum), "unchanged" or
 * "refused", with the reason); the address is NULL for a message refused
 * before its reports could be read.
 * support: the allies' reports an ally's sanction rests on (with the
 * report's time and the end it asked for), so an expulsion can lift what
 * only the expelled member asked for; an applied report is recorded here,
 * not in report_in. */
static const char schema_v2[] =
	"CREATE TABLE outbox ("
	"  seq           INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time_us       INTEGER NOT NULL,"
	"  action        INTEGER NOT NULL CHECK (action IN (1, 2)),"
	"  family        INTEGER NOT NULL CHECK (family IN (4, 6)),"
	"  prefix        INTEGER NOT NULL,"
	"  net           BLOB NOT NULL CHECK (typeof(net) = 'blob' AND length(net) = 16),"
	"  scenario      TEXT NOT NULL,"
	"  duration_s    INTEGER NOT NULL CHECK (duration_s >= 0),"
	"  attempts      INTEGER NOT NULL CHECK (attempts >= 0),"
	"  first_seen_us INTEGER NOT NULL,"
	"  last_seen_us  INTEGER NOT NULL,"
	"  lines         TEXT NOT NULL,"
	"  acked_us      INTEGER"
	");"
	"CREATE INDEX outbox_pending ON outbox (seq) WHERE acked_us IS NULL;"
	"CREATE TABLE ally ("
	"  member       TEXT PRIMARY KEY,"
	"  last_seq     INTEGER NOT NULL,"
	"  last_time_us INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE report_in ("
	"  id          INTEGER PRIMARY KEY,"
	"  received_us INTEGER NOT NULL,"
	"  member      TEXT NOT NULL,"
	"  seq         INTEGER NOT NULL,"
	"  time_us     INTEGER NOT NULL,"
	"  action      INTEGER NOT NULL,"
	"  family      INTEGER CHECK (family IS NULL OR family IN (4, 6)),"
	"  prefix      INTEGER,"
	"  net         BLOB,"
	"  scenario    TEXT NOT NULL,"
	"  duration_s  INTEGER NOT NULL,"
	"  verdict     TEXT NOT NULL,"
	"  reason      TEXT NOT NULL,"
	"  sanction_id INTEGER"
	");"
	"CREATE INDEX report_in_net ON report_in (family, prefix, net);"
	"CREATE TABLE support ("
	"  sanction_id INTEGER NOT NULL REFERENCES sanction (id),"
	"  member      TEXT NOT NULL,"
	"  seq         INTEGER NOT NULL,"
	"  time_us     INTEGER NOT NULL,"
	"  until_us    INTEGER NOT NULL,"
	"  PRIMARY KEY (sanction_id, member)"
	") WITHOUT ROWID;";

/* Version 3, the retention (ledger_prune.c): the indexes it walks, so
 * that each of its batches looks at its rows only, never a whole table.
 * sanction_end: when a sanction ended (its lift if earlier than its
 * expiry), in every row, lifted or not; report_in_received: reports by
 * time received; report_in_refused: refusals in order, for their cap;
 * outbox_acked: acknowledged reports, which alone may go. ~20 bytes a
 * report_in row, ~15 a sanction. */
static const char schema_v3[] =
	"CREATE INDEX sanction_end ON sanction (min(expires_us, coalesce(lifted_us, expires_us)));"
	"CREATE INDEX report_in_received ON report_in (received_us);"
	"CREATE INDEX report_in_refused ON report_in (id) WHERE verdict = 'refused';"
	"CREATE INDEX outbox_acked ON outbox (time_us) WHERE acked_us IS NOT NULL;";

/* Version 4, the window of each ally's sequence numbers (receipt.c):
 * which of the numbers below ally.last_seq were taken, and a tag of the
 * address of each, as receipt_member_window gives them (at most 16 KiB a
 * member). NULL in a row of before: every number up to last_seq counts as
 * taken, as it did then. */
static const char schema_v4[] = "ALTER TABLE ally ADD COLUMN seen BLOB;";

/* Version 5, the window in a compact form (receipt_member_window: a bit a
 * number, the tags that can still be asked for, a count and a checksum;
 * 519 bytes for a member reporting steadily, where seen took 16 KiB in
 * each round). A column of its own, so a truncated blob is never taken
 * for one of version 4's form. seen is read back until the member's
 * next save, which sets it to NULL. */
static const char schema_v5[] = "ALTER TABLE ally ADD COLUMN taken BLOB;";

/* In order of version; the last one is the version this code knows. */
static const struct migration migrations[] = {
	{1, schema_v1},
	{2, schema_v2},
	{3, schema_v3},
	{4, schema_v4},
	{5, schema_v5},
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int migrate_schema_version(void)
{
	return migrations[NMIGRATIONS - 1].version;
}

static int fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return -1;
}

/* Runs sql, which returns one integer in its first row (a PRAGMA, a count). */
static int query_int(sqlite3 *db, const char *sql, int *out, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(db, err, errlen, sql);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		fail(db, err, errlen, sql);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, err, errlen, what);
	return 0;
}

/* PRAGMA values cannot be bound: the statement is formatted, but only from
 * our own constant names and integers, never from data. */
static int set_pragma_int(sqlite3 *db, const char *name, int value, char *err, size_t errlen)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA %s = %d", name, value);
	return exec(db, sql, sql, err, errlen);
}

/* The identity is read before anything else, so that SQLITE_NOTADB (or a
 * stranger's schema) is found without a byte being written. */
static int read_identity(sqlite3 *db, int *app_id, int *version, int *objects, char *err,
			 size_t errlen)
{
	if (query_int(db, "PRAGMA application_id", app_id, err, errlen) == 0 &&
	    query_int(db, "PRAGMA user_version", version, err, errlen) == 0 &&
	    query_int(db, "SELECT count(*) FROM sqlite_schema", objects, err, errlen) == 0)
		return 0;
	if (sqlite3_errcode(db) == SQLITE_NOTADB)
		snprintf(err, errlen, "not a SQLite database, not a pacto ledger; left untouched");
	return -1;
}

int migrate_check(sqlite3 *db, char *err, size_t errlen)
{
	int app_id, version, objects;
	if (read_identity(db, &app_id, &version, &objects, err, errlen) != 0)
		return -1;
	if (app_id == 0 && version == 0 && objects == 0)
		return 0;   /* empty: created by us a moment ago, or a bare new file */
	if (app_id != LEDGER_APPLICATION_ID) {
		snprintf(err, errlen,
			 "not a pacto ledger (SQLite application_id %#x, user_version %d, "
			 "%d schema objects); left untouched", (unsigned)app_id, version, objects);
		return -1;
	}
	if (version > migrate_schema_version()) {
		snprintf(err, errlen,
			 "ledger schema version %d is newer than this pacto knows (%d): "
			 "run the pacto that wrote it or a newer one; left untouched",
			 version, migrate_schema_version());
		return -1;
	}
	return 0;
}

/* One migration in one IMMEDIATE transaction. The version is read again
 * under the write lock: another process may have applied it meanwhile. */
static int migrate_one(sqlite3 *db, const struct migration *m, char *err, size_t errlen)
{
	int version;
	char what[48];
	snprintf(what, sizeof(what), "migration to schema version %d", m->version);
	if (exec(db, "BEGIN IMMEDIATE", what, err, errlen) != 0)
		return -1;
	if (query_int(db, "PRAGMA user_version", &version, err, errlen) != 0)
		goto fail;
	if (version >= m->version)
		return exec(db, "COMMIT", what, err, errlen);
	if (exec(db, m->sql, what, err, errlen) != 0 ||
	    set_pragma_int(db, "application_id", LEDGER_APPLICATION_ID, err, errlen) != 0 ||
	    set_pragma_int(db, "user_version", m->version, err, errlen) != 0 ||
	    exec(db, "COMMIT", what, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	/* Fails harmlessly when a failed COMMIT has already rolled back. */
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int migrate_run(sqlite3 *db, char *err, size_t errlen)
{
	for (size_t i = 0; i < NMIGRATIONS; i++)
		if (migrate_one(db, &migrations[i], err, errlen) != 0)
			return -1;
	return 0;
}
