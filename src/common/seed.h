/* seed.h: a random 64-bit seed for the hash tables.
 * Why: table hashes are keyed so that an attacker cannot choose addresses
 * that all collide; replay and pactod take their keys from here. */
#ifndef PACTO_SEED_H
#define PACTO_SEED_H

#include <stdint.h>

/* From getrandom(); the time and pid only if that fails. */
uint64_t random_seed(void);

#endif
