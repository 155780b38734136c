/* syncer.h: the ledger's background checkpointer (ledger_defer_sync()).
 * Internal to src/ledger/. */
#ifndef PACTO_LEDGER_SYNCER_H
#define PACTO_LEDGER_SYNCER_H

#include <sqlite3.h>
#include <stddef.h>

struct syncer;

/* Switches db (a WAL database) to commits without fsync and starts a thread
 * that, on its own connection, checkpoints after each commit: the WAL is
 * fsynced, copied into the database, and the database fsynced. Returns the
 * syncer, or NULL with err filled (db is then unchanged). */
struct syncer *syncer_start(sqlite3 *db, char *err, size_t errlen);

/* Waits until every commit made so far is on disk (or the thread gave up
 * after repeated failures). */
void syncer_wait(struct syncer *s);

/* Makes the last commits durable, stops the thread, closes its connection,
 * and puts db back to synchronous=FULL. Accepts NULL. */
void syncer_stop(struct syncer *s, sqlite3 *db);

#endif
