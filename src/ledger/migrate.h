/* migrate.h: recognising a pacto ledger and bringing its schema up to date.
 * Why: the ledger outlives binaries; a file must be identified before it is
 * written to, and every schema change must be applied exactly once, in order.
 * Guarantees: a file that is not a pacto ledger (not SQLite, another
 * application's database, a newer schema) is refused before anything is
 * written to it; each migration commits whole or not at all.
 * Private to src/ledger/: the rest of pacto goes through ledger.h. */
#ifndef PACTO_LEDGER_MIGRATE_H
#define PACTO_LEDGER_MIGRATE_H

#include <stddef.h>
#include <sqlite3.h>

/* PRAGMA application_id of every pacto ledger: "PCTO" in ASCII. */
#define LEDGER_APPLICATION_ID 0x5043544f

/* Schema version this code writes and reads (PRAGMA user_version). */
int migrate_schema_version(void);

/* Reads the identity of the database behind db without writing to it.
 * Returns 0 when it is a pacto ledger of a version this code knows, or an
 * empty database that may become one; -1 with a message in err otherwise. */
int migrate_check(sqlite3 *db, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Applies every migration newer than the file's version, each in its own
 * IMMEDIATE transaction that re-reads the version (so two processes opening
 * one fresh file do not both apply it). Returns 0 or -1 with err filled;
 * a failed migration leaves the file at the previous version. */
int migrate_run(sqlite3 *db, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
