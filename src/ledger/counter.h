/* counter.h: the ledger's row counts, kept by a background thread
 * (ledger_count_in_background()). Internal to src/ledger/. */
#ifndef PACTO_LEDGER_COUNTER_H
#define PACTO_LEDGER_COUNTER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct counter;
struct ledger_counts;

/* Starts a thread that, on its own connection to db's file, runs the two
 * count statements (sql_all, and sql_active with ?1 bound to the time now
 * in µs) at once, after each change to the database (at most once per
 * second, or per ten times the last count's duration), and every ten
 * seconds anyway (sanctions expire with time). Returns NULL with err
 * filled. */
struct counter *counter_start(sqlite3 *db, const char *sql_all, const char *sql_active, char *err,
			      size_t errlen);

/* The last counts, without touching the database (waits only for the first
 * count after counter_start()). Returns 0, or -1 with err filled when the
 * last count failed. */
int counter_get(struct counter *c, struct ledger_counts *out, char *err, size_t errlen);

/* Stops the thread and closes its connection. Accepts NULL. */
void counter_stop(struct counter *c);

#endif
