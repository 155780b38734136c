/* enforce_nftnl.h: set elements straight to the kernel over netlink
 * (libnftnl + libmnl), the hot path of the nft backend (enforce_nft.c).
 * Why: libnftables refreshes its cache before every command (~0.3-0.5 ms
 * per sanction); one NFT_MSG_NEWSETELEM/DELSETELEM batch costs tens of µs.
 * Guarantees: one call is one kernel transaction (all or nothing); it
 * returns only after the kernel has answered every message of it (each
 * carries NLM_F_ACK), so the drops are in force on success and any error
 * is reported; the socket stays open from open to close.
 * Never: dumps set elements (it only looks up given keys), or creates sets or rules (the front
 * routes a batch that needs a new prefix set through libnftables).
 * State: one netlink socket per process (module state, like the enforcer). */
#ifndef PACTO_ENFORCE_NFTNL_H
#define PACTO_ENFORCE_NFTNL_H

#include <stdbool.h>
#include <stddef.h>

#include "enforce/enforce.h"

/* Opens and binds the netlink socket. Returns 0, or -1 with err filled. */
int enforce_nftnl_open(char *err, size_t errlen) ENFORCE_WUR;

/* Applies ops[0..n) (checked, coalesced, sorted by set then address, all
 * in sets that exist) to table ENFORCE_TABLE as one transaction, with the
 * element sequence of enforce_render_batch(): removals (and, unless
 * refresh, adds too) are first added then deleted, then adds carry their
 * timeouts. Returns 0, or -1 with err filled (and nothing applied). */
int enforce_nftnl_apply(const struct enforce_op *ops, size_t n, bool refresh, char *err, size_t errlen) ENFORCE_WUR;

/* Probes per request batch: their answers (~150 bytes each) must fit the
 * socket's receive buffer. */
#define ENFORCE_PROBE_CHUNK 2048

/* Whether each of addrs[0..n) is in its set (see enforce_set_name), one
 * key lookup each, ENFORCE_PROBE_CHUNK per round trip: present[i] says.
 * Returns 0, or -1 with err filled. */
int enforce_nftnl_probe(const struct addr *addrs, size_t n, bool *present, char *err, size_t errlen) ENFORCE_WUR;

/* Call after each transaction of ours that committed (element batches do
 * it themselves): it notes the ruleset generation it led to. */
void enforce_nftnl_own_change(void);

/* 1 when a transaction not ours was committed (in any table: the kernel
 * keeps one generation per network namespace) since the previous call or
 * the first change of ours, 0 when not, -1 with err filled. */
int enforce_nftnl_generation_changed(char *err, size_t errlen) ENFORCE_WUR;

/* Closes the socket; safe when not open. */
void enforce_nftnl_close(void);

#endif
