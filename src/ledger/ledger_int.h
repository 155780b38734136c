/* ledger_int.h: what ledger.c shares with the ledger's other files
 * (ledger_ally.c, ledger_prune.c); not for use outside src/ledger. */
#ifndef PACTO_LEDGER_INT_H
#define PACTO_LEDGER_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "common/addr.h"
#include "ledger/ledger.h"

struct ledger_ally;
struct ledger_prune;

sqlite3 *ledger_sqlite(struct ledger *l);
/* Where ledger_ally.c keeps its prepared statements; freed by ledger_close. */
struct ledger_ally **ledger_ally_slot(struct ledger *l);
void ledger_ally_free(struct ledger_ally *a);  /* accepts NULL */
/* Where ledger_prune.c keeps its pass and statements; freed by ledger_close. */
struct ledger_prune **ledger_prune_slot(struct ledger *l);
void ledger_prune_free(struct ledger_prune *p);  /* accepts NULL */

/* The busy timeout in force (ms), for a caller that changes it for a moment. */
int ledger_busy_timeout(const struct ledger *l);
/* "what: SQLite's message" into err; returns -1. */
int ledger_fail_db(sqlite3 *db, char *err, size_t errlen, const char *what);
/* Resets a statement and drops its bindings. */
void ledger_finish(sqlite3_stmt *st);
/* Binds family (4/6), prefix, net at idx..idx+2; returns an SQLite code. */
int ledger_bind_addr(sqlite3_stmt *st, int idx, const struct addr *a);
/* Reads family, prefix, net at col..col+2. */
void ledger_read_addr(sqlite3_stmt *st, int col, struct addr *a);
/* Refuses a family that is neither, a prefix too long, bits past the prefix. */
int ledger_check_addr(const struct addr *a, char *err, size_t errlen);
/* Longest length <= max that does not end inside a UTF-8 sequence. */
size_t ledger_cut_len(const char *s, size_t len, size_t max);

#endif
