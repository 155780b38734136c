/* firewall.h: what the daemon needs from the enforcer, in its own words:
 * drop a key for a while, stop dropping it, start from a clean table, and
 * notice when an administrator removed the table.
 * Why an adapter: the daemon's sanction path stays the same whatever the
 * enforcer backend (nftables, or dry run that only logs). */
#ifndef PACTO_FIREWALL_H
#define PACTO_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

struct firewall;

int firewall_open(bool dry_run, struct firewall **out, char *err, size_t errlen) __attribute__((warn_unused_result));
void firewall_close(struct firewall *fw);  /* accepts NULL */

/* Recreates pacto's table empty. */
int firewall_reset(struct firewall *fw, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Queue a change; firewall_commit() applies the queue as one transaction. */
int firewall_add(struct firewall *fw, const struct addr *key, int64_t seconds, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int firewall_remove(struct firewall *fw, const struct addr *key, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int firewall_commit(struct firewall *fw, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Why firewall_add() would refuse key (not an address it may drop), or
 * NULL. Reads only settings fixed at reset: any thread may ask. */
const char *firewall_check(const struct firewall *fw, const struct addr *key);

/* False when pacto's table is gone (deleted behind our back). */
bool firewall_present(struct firewall *fw);

/* 1 when someone else committed a firewall change since the last call (our
 * elements may have been deleted: check them with firewall_probe), 0 when
 * not, -1 on error (logged). One netlink round trip. */
int firewall_changed(struct firewall *fw);

/* present[i]: whether keys[i] is dropped now (a key lookup each, never a
 * listing). Returns 0, or -1 with err filled. */
int firewall_probe(struct firewall *fw, const struct addr *keys, size_t n, bool *present, char *err, size_t errlen)
	__attribute__((warn_unused_result));

const char *firewall_backend(const struct firewall *fw);

#endif
