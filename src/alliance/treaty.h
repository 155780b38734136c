/* treaty.h: the alliance's treaty: who the members are, how much each is
 * trusted, what they protect, and the rules every report must keep.
 * Why: an ally's report is trusted only because every member signed the
 * same treaty; there is no central authority, only these signatures.
 * File: JSON (read and written with jansson), two keys:
 *   {"treaty": BODY, "signatures": {"MEMBER-ID": "BASE64-SIGNATURE", ...}}
 *   BODY = {"alliance": NAME, "version": N, "quorum": Q,
 *           "max_duration_s": S, "widest_v4": P4, "widest_v6": P6,
 *           "rate_per_min": R, "burst": B, "skew_s": K,
 *           "members": [{"id": ID, "key": BASE64-PUBLIC-KEY, "weight": W,
 *                        "protect": ["CIDR", ...]}, ...]}
 * Canonical encoding (what is signed): BODY dumped by jansson with
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII, members sorted by id,
 * each member's protected ranges in canonical CIDR form, sorted and unique.
 * Each signature is signer_sign(context "pacto-treaty-v1", canonical BODY).
 * Bounds: version 1..2^53, quorum 1..total weight, max_duration_s
 * 1..366 days, widest_v4 8..32, widest_v6 16..128, rate_per_min and burst
 * 1..1000000, skew_s 0..3600, weight 1..1000.
 * Guarantees: treaty_load refuses, with file:line: key: message for each
 * error (key is the JSON path, e.g. treaty.members[1].weight), anything
 * malformed, an unknown key, a duplicate member id or key, a protected
 * range listed twice, an out-of-range value, a signature by a non-member,
 * or a file that group or others may write; a treaty is in
 * force (treaty_in_force) only when every member has a valid signature of
 * its current body. Every amendment (treaty_amended) raises the version and
 * drops all signatures. */
#ifndef PACTO_TREATY_H
#define PACTO_TREATY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alliance/signer.h"
#include "common/addr.h"
#include "common/errors.h"

#define TREATY_MAX_ID 64          /* alliance names and member ids: [A-Za-z0-9_-]{1,64} */
#define TREATY_MAX_MEMBERS 256
#define TREATY_MAX_PROTECT 256    /* protected ranges per member */
#define TREATY_MAX_FILE (4u << 20)

/* Defaults of a new treaty (treaty init). */
#define TREATY_DEFAULT_QUORUM 1
#define TREATY_DEFAULT_WEIGHT 1
#define TREATY_DEFAULT_MAX_DURATION_S (7u * 24 * 3600)
#define TREATY_DEFAULT_WIDEST_V4 24
#define TREATY_DEFAULT_WIDEST_V6 48
#define TREATY_DEFAULT_RATE_PER_MIN 600
#define TREATY_DEFAULT_BURST 1200
#define TREATY_DEFAULT_SKEW_S 30

struct treaty_member {
	char id[TREATY_MAX_ID + 1];
	uint8_t key[SIGNER_PUBLIC_BYTES];
	unsigned weight;                  /* 1..1000 */
	struct addr *protect;             /* protected ranges; no report may sanction inside them */
	size_t nprotect;
	bool signed_current;              /* has a signature in the file that verifies against the body */
	uint8_t signature[SIGNER_SIGNATURE_BYTES];
	bool has_signature;               /* a signature is present (valid or not) */
};

struct treaty {
	char alliance[TREATY_MAX_ID + 1];
	uint64_t version;                 /* 1 for a new treaty; +1 per amendment */
	unsigned quorum;                  /* total weight of distinct reporters needed; 1..sum of weights */
	uint32_t max_duration_s;          /* longest sanction a report may ask; longer is cut to it */
	unsigned widest_v4, widest_v6;    /* shortest prefix length a report may name */
	unsigned rate_per_min;            /* reports per minute per member (token bucket on report time) */
	unsigned burst;                   /* bucket size */
	uint32_t skew_s;                  /* how far in the future a report's time may be */
	struct treaty_member *members;    /* sorted by id */
	size_t nmembers;
};

/* A new treaty (version 1, defaults above, no members). */
struct treaty *treaty_new(const char *alliance, char *err, size_t errlen);
void treaty_free(struct treaty *t);  /* accepts NULL */

/* Reads and checks path. Signatures are checked too (member->signed_current),
 * but a missing or stale one is not an error here: see treaty_in_force.
 * Returns NULL with every error in errs. */
struct treaty *treaty_load(const char *path, struct errors *errs);

/* The same checks on text[0..len) (need not end in NUL) read from
 * elsewhere; name stands for the file in messages. */
struct treaty *treaty_parse(const char *name, const char *text, size_t len, struct errors *errs);

/* Writes t atomically (temporary file + rename), mode 0644. */
int treaty_save(const struct treaty *t, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The canonical body (what members sign). *out is malloc'd, the caller's. */
int treaty_canonical(const struct treaty *t, char **out, size_t *len);

/* Amendments: each raises the version and drops every signature.
 * Return 0, or -1 with err (unknown id, duplicate, out of range).
 * remove_member refuses when the quorum would exceed the remaining
 * members' total weight (lower the quorum first). */
int treaty_add_member(struct treaty *t, const char *id, const uint8_t key[SIGNER_PUBLIC_BYTES], unsigned weight,
		      const struct addr *protect, size_t nprotect, char *err, size_t errlen);
int treaty_remove_member(struct treaty *t, const char *id, char *err, size_t errlen);
int treaty_set_key(struct treaty *t, const char *id, const uint8_t key[SIGNER_PUBLIC_BYTES], char *err,
		   size_t errlen);
/* name: quorum, max_duration (a duration: 600, 10m, 7d), widest_v4,
 * widest_v6, rate_per_min, burst, skew (a duration); the file's names
 * (max_duration_s, skew_s) are accepted too. Setting the value a rule
 * already has is no amendment: version and signatures stay. */
int treaty_set(struct treaty *t, const char *name, const char *value, char *err, size_t errlen);

/* Adds (or replaces) the signature of the member whose key is s's public key.
 * -1 when s's key is not a member's. */
int treaty_sign(struct treaty *t, const struct signer *s, char *err, size_t errlen);

/* True when every member has a valid signature of the current body; else
 * why names the members missing (or with a bad signature). */
bool treaty_in_force(const struct treaty *t, char *why, size_t whylen);

const struct treaty_member *treaty_member_by_id(const struct treaty *t, const char *id);
const struct treaty_member *treaty_member_by_key(const struct treaty *t, const uint8_t key[SIGNER_PUBLIC_BYTES]);

/* The member whose protected range overlaps a (contains it, or lies inside
 * it), or NULL. A prefix that merely covers a protected address is refused
 * too, so a wide report cannot drop a protected host. */
const struct treaty_member *treaty_protector(const struct treaty *t, const struct addr *a);

/* True when id is 1..TREATY_MAX_ID characters of [A-Za-z0-9_-]. */
bool treaty_id_valid(const char *id);

#endif
