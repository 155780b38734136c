/* sanction.h: the policy between "this source reached a threshold" and
 * "drop it": what a sanction covers, who is never sanctioned, how long it
 * lasts and how repeat offenders escalate.
 * Why: local detections (and, later, allies' reports) end in this one step,
 * so the allowlist and escalation are applied the same way to all of them.
 * Guarantees: loopback and allowlisted networks are never sanctioned; the
 * offender table is bounded (least recently sanctioned forgotten first).
 * Never: does I/O or reads the clock. */
#ifndef PACTO_SANCTION_H
#define PACTO_SANCTION_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "detect/lru.h"
#include "detect/rules.h"

struct sanction {
	struct addr addr;                 /* an address, or an IPv6 prefix */
	const struct scenario *scenario;
	unsigned attempts;                /* failures in the window that decided it */
	int64_t first_seen_us, last_seen_us;
	int64_t created_us;
	int64_t duration_us;
	unsigned offence;                 /* 1 for a first sanction, 2 for the next... */
};

struct policy;

/* What policy_key() reads, as a value a scanning thread can own (see
 * lru_hasher): the IPv6 prefix and the allowlist, loopback first. */
struct policy_keying {
	unsigned ipv6_prefix;
	const struct addr *allowlist;
	size_t nallowlist;
};

/* Where the policy learns a key's past offences when it has none in memory
 * (after a restart): their number since since_us and when the last ended.
 * Returns 0 (found or not: *offences 0), -1 on error (treated as none). */
typedef int (*offence_history_fn)(void *arg, const struct addr *key, int64_t since_us, unsigned *offences,
				   int64_t *last_end_us);

struct policy_config {
	offence_history_fn history;       /* may be NULL */
	void *history_arg;
	const struct addr *allowlist;     /* networks never sanctioned (loopback is added) */
	size_t nallowlist;
	unsigned ipv6_prefix;             /* an IPv6 source is counted and dropped per prefix */
	size_t max_offenders;
	uint64_t seed;
};

struct policy *policy_new(const struct policy_config *cfg);
void policy_free(struct policy *p);  /* accepts NULL */

/* The key a source is counted and sanctioned under: IPv4 as is, IPv6
 * masked to the configured prefix, unless that prefix would cover an
 * allowlisted address (then the source address alone). */
struct addr policy_key(const struct policy *p, const struct addr *source);

/* policy_key() from a copy of p's keying (its allowlist copied too), for a
 * thread that keys sources ahead; release it with policy_keying_free(). */
struct policy_keying policy_keying_copy(const struct policy *p);
void policy_keying_free(struct policy_keying *k);
struct addr policy_keying_key(const struct policy_keying *k, const struct addr *source);

/* True when key is, contains or lies inside loopback or an allowlisted network. */
bool policy_allowlisted(const struct policy *p, const struct addr *key);

/* True while key has a sanction that has not expired at now_us;
 * *until_us is set to its end. */
bool policy_active(struct policy *p, const struct addr *key, int64_t now_us, int64_t *until_us);

/* policy_active() in two steps, for a caller that knows its keys ahead
 * (see lru_hasher): the hash (lru_hasher_hash with this hasher), then the
 * question with the hash known. */
struct lru_hasher policy_hasher(const struct policy *p);
bool policy_active_hashed(struct policy *p, const struct addr *key, uint32_t hash, int64_t now_us,
			  int64_t *until_us);

/* Records a sanction of key by scenario s at now_us and fills out->offence
 * and out->duration_us (escalated for repeat offenders). */
void policy_sanction(struct policy *p, const struct scenario *s, const struct addr *key,
		     int64_t now_us, struct sanction *out);

/* Records a sanction of key decided elsewhere (by hand, restored from the
 * ledger) as running until until_us, so its failures are not counted meanwhile. */
void policy_impose(struct policy *p, const struct addr *key, int64_t now_us, int64_t until_us);

/* Ends key's running sanction at now_us (a lift): its failures count again.
 * The offence history stays, so a repeat still escalates. */
void policy_lift(struct policy *p, const struct addr *key, int64_t now_us);

uint64_t policy_evictions(const struct policy *p);
size_t policy_memory(const struct policy *p);
size_t policy_max_memory(const struct policy *p);

#endif
