/* sanction.c: allowlist, escalation and the offenders' memory (see sanction.h). */
#include "detect/sanction.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/xalloc.h"
#include "detect/lru.h"

struct offender {
	int64_t expires_us;        /* end of the current (or last) sanction */
	int64_t last_sanction_us;
	uint32_t offences;
};

struct policy {
	offence_history_fn history;
	void *history_arg;
	struct policy_keying keying;   /* its allowlist is the policy's own */
	struct lru *offenders;
};

/* Loopback is always on the allowlist: 127.0.0.0/8 and ::1. */
static void add_loopback(struct addr *allowlist)
{
	struct addr *v4 = &allowlist[0];
	struct addr *v6 = &allowlist[1];
	memset(v4, 0, sizeof(*v4));
	v4->family = AF_INET;
	v4->prefix = 8;
	v4->bytes[0] = 127;
	memset(v6, 0, sizeof(*v6));
	v6->family = AF_INET6;
	v6->prefix = 128;
	v6->bytes[15] = 1;
}

struct policy *policy_new(const struct policy_config *cfg)
{
	struct policy *p = xcalloc(1, sizeof(*p));
	p->history = cfg->history;
	p->history_arg = cfg->history_arg;
	struct addr *allowlist = xcalloc(cfg->nallowlist + 2, sizeof(*allowlist));
	add_loopback(allowlist);
	if (cfg->nallowlist)
		memcpy(allowlist + 2, cfg->allowlist, cfg->nallowlist * sizeof(*allowlist));
	p->keying = (struct policy_keying){
		.ipv6_prefix = cfg->ipv6_prefix ? cfg->ipv6_prefix : 128,
		.allowlist = allowlist, .nallowlist = cfg->nallowlist + 2,
	};
	p->offenders = lru_new(cfg->max_offenders, sizeof(struct addr), sizeof(struct offender),
			       cfg->seed, NULL, NULL);
	return p;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	lru_free(p->offenders);
	policy_keying_free(&p->keying);
	free(p);
}

static bool overlaps(const struct addr *a, const struct addr *b)
{
	return addr_contains(a, b) || addr_contains(b, a);
}

static bool overlaps_allowlist(const struct policy_keying *k, const struct addr *a)
{
	for (size_t i = 0; i < k->nallowlist; i++)
		if (overlaps(&k->allowlist[i], a))
			return true;
	return false;
}

struct policy_keying policy_keying_copy(const struct policy *p)
{
	struct policy_keying k = p->keying;
	struct addr *allowlist = xcalloc(k.nallowlist, sizeof(*allowlist));
	memcpy(allowlist, k.allowlist, k.nallowlist * sizeof(*allowlist));
	k.allowlist = allowlist;
	return k;
}

void policy_keying_free(struct policy_keying *k)
{
	free((void *)(uintptr_t)k->allowlist);
	k->allowlist = NULL;
	k->nallowlist = 0;
}

struct addr policy_keying_key(const struct policy_keying *k, const struct addr *source)
{
	struct addr key = *source;
	if (key.family != AF_INET6)
		return key;
	addr_mask(&key, k->ipv6_prefix);
	/* Never let a prefix cover an allowlisted address: narrow it to the source. */
	if (key.prefix < 128 && overlaps_allowlist(k, &key))
		return *source;
	return key;
}

struct addr policy_key(const struct policy *p, const struct addr *source)
{
	return policy_keying_key(&p->keying, source);
}

bool policy_allowlisted(const struct policy *p, const struct addr *key)
{
	return overlaps_allowlist(&p->keying, key);
}

struct lru_hasher policy_hasher(const struct policy *p)
{
	return lru_hasher(p->offenders);
}

bool policy_active(struct policy *p, const struct addr *key, int64_t now_us, int64_t *until_us)
{
	return policy_active_hashed(p, key, lru_hash(p->offenders, key), now_us, until_us);
}

bool policy_active_hashed(struct policy *p, const struct addr *key, uint32_t hash, int64_t now_us,
			  int64_t *until_us)
{
	struct offender *o = lru_get_hashed(p->offenders, key, hash, false, NULL);
	if (!o || o->expires_us <= now_us)
		return false;
	if (until_us)
		*until_us = o->expires_us;
	return true;
}

/* base * factor^(offence-1), capped at max, without overflowing. */
static int64_t escalate(const struct scenario *s, unsigned offence)
{
	int64_t d = s->sanction_us;
	for (unsigned i = 1; i < offence && d < s->escalation_max_us; i++)
		d *= s->escalation_factor;
	return d < s->escalation_max_us ? d : s->escalation_max_us;
}

void policy_sanction(struct policy *p, const struct scenario *s, const struct addr *key,
		     int64_t now_us, struct sanction *out)
{
	bool created;
	struct offender *o = lru_get(p->offenders, key, true, &created);
	unsigned past = 0;
	int64_t last_end = 0;
	/* Not in memory (a restart, an eviction): ask the record, if any. */
	if (created && p->history &&
	    p->history(p->history_arg, key, now_us - s->escalation_memory_us - s->escalation_max_us, &past, &last_end) == 0 &&
	    past) {
		o->offences = past;
		o->expires_us = last_end;
		o->last_sanction_us = last_end;
	}
	if (o->offences && now_us - o->expires_us > s->escalation_memory_us)
		o->offences = 0;   /* forgiven: calm for longer than the memory since the last sanction ended */
	o->offences++;
	o->last_sanction_us = now_us;
	out->offence = o->offences;
	out->duration_us = escalate(s, o->offences);
	out->created_us = now_us;
	o->expires_us = now_us + out->duration_us;
}

void policy_impose(struct policy *p, const struct addr *key, int64_t now_us, int64_t until_us)
{
	struct offender *o = lru_get(p->offenders, key, true, NULL);
	if (until_us > o->expires_us)
		o->expires_us = until_us;
	if (!o->last_sanction_us)
		o->last_sanction_us = now_us;
}

void policy_lift(struct policy *p, const struct addr *key, int64_t now_us)
{
	struct offender *o = lru_get(p->offenders, key, false, NULL);
	if (o && o->expires_us > now_us)
		o->expires_us = now_us;
}

uint64_t policy_evictions(const struct policy *p)
{
	return lru_evictions(p->offenders);
}

size_t policy_memory(const struct policy *p)
{
	return lru_memory(p->offenders);
}

size_t policy_max_memory(const struct policy *p)
{
	return lru_max_memory(p->offenders);
}
