/* daemon.h: pactod's state and its one loop.
 * Why: pactod.c reads the command line and calls daemon_open, daemon_run
 * and daemon_close; everything between a log line and a dropped packet is
 * reached from here, in one direction (DESIGN.md data path):
 * followers -> engine -> sanction (ledger + firewall); control requests
 * read and change the same state.
 * Guarantees: a sanction is in the firewall before it is written to the
 * ledger (reaction first), and the ledger write and the source's cursor
 * commit together, so after a crash the restart re-reads the lines whose
 * sanctions were not committed, and the firewall is rebuilt from the ledger. */
#ifndef PACTO_DAEMON_H
#define PACTO_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/clock.h"
#include "config/config.h"
#include "ctl/ctl_server.h"
#include "daemon/evidence.h"
#include "daemon/firewall.h"
#include "daemon/recorder.h"
#include "daemon/metrics.h"
#include "detect/engine.h"
#include "ledger/ledger.h"
#include "ledger/ledger_prune.h"
#include "sources/src_file.h"
#include "sources/src_journal.h"

#define DAEMON_MAX_WATCH 64
#define DAEMON_MAX_NATS 16
#define REACTION_SAMPLES 1024

struct daemon_options {
	const char *config_path;        /* NULL: the default, if it exists */
	const char *watch[DAEMON_MAX_WATCH];
	size_t nwatch;                  /* overrides the configured files */
	const char *state_dir;          /* overrides state_dir and run_dir */
	const char *journal_dir;        /* read this journal directory (implies the journal) */
	bool dry_run;
	bool foreground;
	const char *treaty;             /* override the configured treaty, key, NATS URLs */
	const char *key;
	const char *nats[DAEMON_MAX_NATS];
	size_t nnats;
	const char *metrics_listen;     /* overrides metrics_listen: "ADDR:PORT" */
	/* The user pactod will run as (pactod --user): its state and socket
	 * directories and ledger files are given to it before the switch. */
	bool has_owner;
	uid_t owner_uid;
	gid_t owner_gid;
};

/* A log source: a followed file, or the journal (exactly one is set). */
struct source {
	char *path;                     /* the file, or the journal directory ("system") */
	char name[160];                 /* "file:PATH" or "journal:...", its cursor's key in the ledger */
	struct follower *follower;
	struct journal_source *journal;
};

struct daemon {
	struct daemon_options opts;
	struct config *cfg;
	struct ruleset *rs;
	struct engine *engine;
	struct ledger *ledger;
	struct firewall *fw;
	struct evidence *evidence;
	struct recorder *recorder;      /* the ledger side of the sanction path */
	struct ctl_server *ctl;
	struct alliance *alliance;      /* NULL without a treaty */
	struct web *web;                /* NULL without metrics_listen */
	struct source *sources;
	size_t nsources;
	char *ledger_path, *socket_path;
	int lock_fd;                    /* flock on STATE/pactod.lock: one pactod per state directory */
	int64_t started_us;
	int64_t last_table_check_us;
	int64_t last_tick_us, last_cursor_save_us;
	/* The ledger's retention: when the last pass started, and what the
	 * pass under way has deleted so far (logged when it ends); the time
	 * passes judge by (clock.h: a wall clock set ahead is not followed). */
	int64_t last_prune_us;
	struct ledger_pruned pruning;
	struct clock_steady prune_clock;
	uint64_t sanctions, firewall_errors, ledger_errors, table_restores, element_repairs, reloads;
	/* Reaction: from a sanctioning line's own timestamp to the firewall
	 * commit's return, in µs; the last REACTION_SAMPLES local sanctions. */
	int64_t reaction_us[REACTION_SAMPLES];
	uint64_t reactions;
	struct daemon_metrics metrics;
	volatile sig_atomic_t *stop, *reload;
};

/* Opens everything that needs privilege (ledger, firewall, logs, journal,
 * control socket, the alliance's key) and starts no thread: the caller
 * drops privileges and enters the sandbox next, which applies to threads
 * started later only. On failure err says what; daemon_close() cleans up. */
int daemon_open(struct daemon *d, const struct daemon_options *opts, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The directories pactod writes after daemon_open (ledger, control socket):
 * fills dirs[0..1] and returns how many (1 when they are the same). */
size_t daemon_write_dirs(const struct daemon *d, const char *dirs[2]);

/* Starts the threads (the ledger's checkpointer, the alliance's link), once
 * sandboxed. Returns 0, or -1 with err. */
int daemon_start(struct daemon *d, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Loads the configuration and rules as daemon_open() would, then frees
 * them (pactod -n). Returns 0 and the number of scenarios, or -1 with errs. */
int daemon_check(const struct daemon_options *opts, struct errors *errs, size_t *nscenarios)
	__attribute__((warn_unused_result));

/* Whether the configuration of opts (the default one without --config)
 * names a treaty: 1 or 0; -1 when it cannot be loaded (daemon_check and
 * daemon_open then say why). */
int daemon_config_has_treaty(const struct daemon_options *opts);

/* Loops until *d->stop is set. Returns 0. */
int daemon_run(struct daemon *d);

void daemon_close(struct daemon *d);

/* Wall clock in microseconds: the engine's time when live. */
int64_t daemon_now_us(void);

/* Rebuilds the firewall from the ledger's active sanctions and this
 * host's not recorded yet (the recorder's), less those a lift not recorded
 * yet ended (restore.c). */
int daemon_restore(struct daemon *d, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Reads the configuration and rules again; keeps the running ones if either
 * is bad. *message says what happened (for `pacto reload`). */
int daemon_reload(struct daemon *d, char *message, size_t len);

/* The origin of an ally's sanction in the ledger: "ally:MEMBER". */
#define ALLY_ORIGIN_PREFIX "ally:"

/* What is in force for exactly key at now: the latest end of its
 * sanctions (0: none), the allies' one in the ledger (its id; 0: none),
 * and whether one is this host's own. The ledger's sanctions (less those
 * a lift the ledger refused ended: recorder_lifted), and this host's
 * enforced but not recorded yet (the recorder's, held while the ledger
 * refuses writes: recorder_pending_until). A ledger that cannot be read is
 * logged and counts as nothing in force. */
struct daemon_in_force {
	int64_t until_us;
	int64_t ally_id;
	bool local;
};
struct daemon_in_force daemon_in_force(struct daemon *d, const struct addr *key, int64_t now);

/* Brings the kernel element of exactly key, and the engine's idea of it, to
 * what the ledger holds for key at now (with this host's sanctions not
 * recorded yet: daemon_in_force), once the ledger was changed (a
 * sanction lifted): re-added to the latest end in force (an add sets the
 * timeout anew, shorter too), or removed, and the engine's failures
 * counted again, when nothing is in force. Queues the firewall change: the
 * caller commits. Returns 0, or -1 with err when the firewall refused (the
 * engine is then lifted if nothing is in force, else left as it was). */
int daemon_follow_ledger(struct daemon *d, const struct addr *key, int64_t now, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Records and enforces a sanction decided by hand or by the engine, and
 * with report (and the configuration's "report") tells the allies too.
 * The drop ends at the sanction's end or at the latest end already in
 * force for the key (daemon_in_force), whichever is later: a shorter
 * sanction never cuts a longer one (an ally's, or an earlier one's). */
int daemon_sanction(struct daemon *d, const struct sanction *s, const char *origin, const char *reason,
		    const struct evidence_lines *ev, bool report, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* p50 and p99 of the recorded reaction times (0 when none). */
void daemon_reaction_percentiles(const struct daemon *d, int64_t *p50, int64_t *p99);

/* The control commands (commands.c). */
extern const struct ctl_command daemon_commands[];
extern const size_t daemon_ncommands;

#endif
