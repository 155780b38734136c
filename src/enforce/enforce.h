/* enforce.h: the enforcer, the privileged edge between pacto's decisions
 * and the kernel firewall.
 * Why: a sanction means nothing until packets from its address are dropped,
 * and this is the only code that changes the firewall, so it trusts no
 * caller: it takes binary addresses, checks them again, and writes every
 * firewall command itself from the binary form.
 * Guarantees:
 *  - pactod owns one table, "inet pacto" (see enforce_render_table), and no
 *    command ever names another;
 *  - an address enforce_check() refuses never reaches the kernel;
 *  - enforce_add()/enforce_remove() only queue; enforce_commit() applies the
 *    queue in transactions of at most ENFORCE_CHUNK operations (one
 *    transaction for any ordinary queue), and the drops are in force when it
 *    returns;
 *  - every operation is idempotent (adding an element that exists sets its
 *    timeout anew, removing one that is missing is a no-op), so a batch never
 *    fails because of the table's contents; if a transaction fails anyway,
 *    its operations are retried one by one and each failure is reported;
 *  - the kernel expires elements by itself: a sanction ends on time even
 *    while pactod is down;
 *  - the enforcer never lists set elements (listing a large set is
 *    quadratic in the kernel); the ledger is the source of truth. To see
 *    elements deleted by hand it looks given keys up (enforce_probe), only
 *    after the ruleset generation says someone else changed something
 *    (enforce_table_changed).
 * Backends: enforce_nft.c (libnftables for the table itself, and
 * enforce_nftnl.c's netlink batches for elements: the hot path) and
 * enforce_dryrun.c (records the transactions it would apply, as nft text,
 * for tests and --dry-run).
 * State: one enforcer per process (module state, like the log). */
#ifndef PACTO_ENFORCE_H
#define PACTO_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

#define ENFORCE_TABLE "inet pacto"
/* Most operations per transaction: bulk loads run fastest with 1k-10k
 * elements per transaction (NOTES), and client memory stays bounded. */
#define ENFORCE_CHUNK 4096
/* Longest timeout accepted. nft 1.0.6 refuses 10^8 s and more; a year is
 * far inside that. Longer sanctions are renewed by the daemon. */
#define ENFORCE_MAX_DURATION_S (366u * 24 * 3600)
/* Room for a backend message in the err buffers below. */
#define ENFORCE_ERRLEN 512

#define ENFORCE_WUR __attribute__((warn_unused_result))

/* The widest prefixes the enforcer accepts: a last guard against a bug or a
 * bad report upstream dropping a whole network. */
struct enforce_limits {
	unsigned widest_v4;  /* 1..32 */
	unsigned widest_v6;  /* 1..128 */
};
#define ENFORCE_WIDEST_V4_DEFAULT 24
#define ENFORCE_WIDEST_V6_DEFAULT 48

enum enforce_kind { ENFORCE_ADD, ENFORCE_REMOVE };

struct enforce_op {
	enum enforce_kind kind;
	uint32_t duration_s;  /* ENFORCE_ADD: the remaining sanction, 1..ENFORCE_MAX_DURATION_S */
	struct addr addr;
};

/* Counters for status and metrics; monotonic since enforce_open(). */
struct enforce_stats {
	uint64_t queued;        /* operations accepted by enforce_add/enforce_remove */
	uint64_t refused;       /* refused by enforce_check or the duration bounds */
	uint64_t applied;       /* operations in a successful transaction */
	uint64_t failed;        /* operations that failed even alone (reported) */
	uint64_t dropped;       /* operations dropped because the table was gone */
	uint64_t transactions;  /* successful transactions */
	uint64_t retries;       /* failed transactions retried operation by operation */
	uint64_t resets;
};

/* Told about each operation that could not be applied, with the reason. */
typedef void enforce_fail_fn(void *arg, const struct enforce_op *op, const char *why);

/* Opens backend "nft" or "dryrun" with the given limits (NULL: the
 * defaults) and warms it up (the first nft command of a process costs
 * 3-4 ms). Does not touch the table: call enforce_reset() next.
 * Returns 0, or -1 with a message in err. */
int enforce_open(const char *backend, const struct enforce_limits *lim, char *err, size_t errlen) ENFORCE_WUR;

/* Deletes our table if it exists and creates it anew, empty, in one
 * transaction; drops anything queued. Use at start, before restoring the
 * ledger's sanctions, and when enforce_table_present() says 0.
 * Returns 0, or -1 with a message in err. */
int enforce_reset(char *err, size_t errlen) ENFORCE_WUR;

/* NULL when a may be enforced under lim (NULL: the limits of enforce_open,
 * or the defaults when closed),
 * else why not: a family other than IPv4/IPv6, a prefix out of bounds, bits
 * set past the prefix, /0, a prefix wider than lim allows, or one that is,
 * lies in or covers a reserved network: IPv4 0.0.0.0/8, 127.0.0.0/8,
 * 169.254.0.0/16 (link-local), 224.0.0.0/4 (multicast), 240.0.0.0/4
 * (reserved, with 255.255.255.255); IPv6 ::/80 (::, ::1 and the
 * IPv4-mapped space), fe80::/10 (link-local: neighbour discovery) and
 * ff00::/8 (multicast). The reason names the network. Pure. */
const char *enforce_check(const struct addr *a, const struct enforce_limits *lim);

/* Queue a drop of a (an address or a prefix) for duration_s seconds from
 * the commit, replacing any running one; or queue its removal. Nothing
 * changes until enforce_commit(). Return 0, or -1 with errno EINVAL (a
 * refused by enforce_check, logged with the reason), ERANGE (duration out of
 * bounds), ENOMEM, or EBADF (not open). */
int enforce_add(const struct addr *a, uint32_t duration_s) ENFORCE_WUR;
int enforce_remove(const struct addr *a) ENFORCE_WUR;

/* Operations queued and not yet committed. */
size_t enforce_pending(void);

/* Applies and empties the queue; for one address the last queued operation
 * wins. Returns 0 when everything was applied. Otherwise -1, a message in
 * err, and errno:
 *   ENOENT  our table is gone or was altered: nothing more was applied;
 *           call enforce_reset() and restore the ledger's sanctions;
 *   EIO     some operations failed even when retried alone: each was
 *           logged and passed to on_fail (may be NULL); the others applied;
 *   EBADF   not open. */
int enforce_commit(enforce_fail_fn *on_fail, void *arg, char *err, size_t errlen) ENFORCE_WUR;

/* 1 when our table is as this process last left it (sets, chains, rules),
 * 0 when it was deleted or altered, -1 on error (message in err). Cheap
 * (~0.3 ms with 100k elements loaded): it lists no set elements, so it
 * cannot see elements changed by hand ("nft flush set"). Call it
 * periodically; the daemon resets and restores on 0. */
int enforce_table_present(char *err, size_t errlen) ENFORCE_WUR;

/* 1 when some transaction not ours was committed since the previous call
 * (or since the first change of ours): an administrator or another
 * program touched nftables, maybe our sets' elements, which
 * enforce_table_present() cannot see. 0 when nothing but us changed
 * anything; -1 on error (message in err). Cheap: one netlink round trip
 * (the kernel's ruleset generation), whatever the sets hold. The answer is
 * per network namespace, not per table, so other programs' changes say 1
 * too: the caller then checks its elements with enforce_probe(). The
 * dry-run backend always says 0. */
int enforce_table_changed(char *err, size_t errlen) ENFORCE_WUR;

/* Whether each of addrs[0..n) (checked by enforce_check; a refused one is
 * reported absent) is in the set that holds it: present[i]. One key lookup
 * each in the kernel (no listing: cost linear in n, not in the set's size),
 * batched in round trips. The dry-run backend says present. Returns 0, or
 * -1 with err filled. */
int enforce_probe(const struct addr *addrs, size_t n, bool *present, char *err, size_t errlen) ENFORCE_WUR;

const struct enforce_stats *enforce_get_stats(void);

/* Closes the backend and frees the queue; the table stays in the kernel
 * (its timeouts keep running). Safe to call when not open. */
void enforce_close(void);

/* ---- Rendering: pure, exposed for tests and --dry-run ---------------- */

/* Which prefix sets exist besides "v4" (/32) and "v6" (/128): a drop of a
 * shorter prefix L lives in set v4_L or v6_L, keyed by the masked address,
 * with one rule per chain "ip saddr & MASK @v4_L drop", created on first use. */
struct enforce_shape {
	bool v4[33];
	bool v6[129];
};

/* The text that replaces our table with an empty one (one transaction):
 *   add table inet pacto
 *   delete table inet pacto
 *   table inet pacto {
 *   	set v4 { type ipv4_addr; flags timeout; }
 *   	set v6 { type ipv6_addr; flags timeout; }
 *   	chain input { type filter hook input priority filter - 10; policy accept; ip saddr @v4 drop; ip6 saddr @v6 drop; }
 *   	chain forward { type filter hook forward priority filter - 10; policy accept; ip saddr @v4 drop; ip6 saddr @v6 drop; }
 *   }
 * Static storage. */
const char *enforce_render_table(void);

/* Renders ops[0..n) (checked, in queue order) as one transaction: the last
 * operation per address wins, sets come in (family, prefix) order and
 * elements in address order. Each element to remove, and with refresh false
 * also each element to add, is first added and deleted, so that it exists
 * and then does not, whatever the table held; adds then carry their
 * timeouts. refresh is true when the kernel sets a new timeout on re-adding
 * an element (enforce_reset probes it). shape says which prefix sets exist;
 * sets this text creates are marked in it. Returns a malloc'd string ("" when
 * nothing is to be done, as when removing from a prefix set that does not
 * exist), or NULL when out of memory. */
char *enforce_render_batch(const struct enforce_op *ops, size_t n, bool refresh,
			   struct enforce_shape *shape);

/* The set holding a's drops: "v4", "v6", or "v4_24", "v6_64" for a
 * shorter prefix (see enforce_shape). */
void enforce_set_name(const struct addr *a, char *buf, size_t len);

/* ---- Backends -------------------------------------------------------- */

struct enforce_ops {
	const char *name;
	int (*open)(char *err, size_t errlen);
	/* Applies text (from enforce_render_table) as one transaction. */
	int (*reset)(const char *text, char *err, size_t errlen);
	/* Applies text as one transaction; structural when it adds sets or rules. */
	int (*apply)(const char *text, bool structural, char *err, size_t errlen);
	/* Optional (NULL: every batch goes through apply as text). Applies
	 * ops[0..n) as one transaction, all in sets that exist, with the
	 * element sequence enforce_render_batch() would write for them: checked,
	 * coalesced, sorted by set then address, n > 0. */
	int (*apply_elements)(const struct enforce_op *ops, size_t n, bool refresh, char *err, size_t errlen);
	/* 1, 0 or -1, as enforce_table_present(). */
	int (*present)(char *err, size_t errlen);
	/* Optional (NULL: never changed, always present), as
	 * enforce_table_changed() and enforce_probe() (addresses checked). */
	int (*changed)(char *err, size_t errlen);
	int (*probe)(const struct addr *addrs, size_t n, bool *present, char *err, size_t errlen);
	/* Right after a reset, while the sets are empty: 1 when re-adding an
	 * element sets its new timeout (newer kernels), 0 when not, -1 on error. */
	int (*readd_refreshes)(char *err, size_t errlen);
	void (*close)(void);
};

extern const struct enforce_ops enforce_nft_ops;
extern const struct enforce_ops enforce_dryrun_ops;

/* Dry-run backend controls, for tests. The last 4096 successful
 * transactions are recorded in order (resets included) until
 * enforce_dryrun_clear() or enforce_close(). */
size_t enforce_dryrun_count(void);
const char *enforce_dryrun_text(size_t i);  /* NULL past the end */
void enforce_dryrun_clear(void);
/* A transaction containing needle fails (NULL: none fails). Copied. */
void enforce_dryrun_fail_on(const char *needle);
/* false: as if an administrator deleted the table, until the next reset. */
void enforce_dryrun_set_present(bool present);
/* What the readd_refreshes probe answers (default false). */
void enforce_dryrun_set_refresh(bool refresh);

#endif
