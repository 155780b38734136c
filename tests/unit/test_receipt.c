/* test_receipt.c: the trust rules on allies' reports, one rule at a time:
 * membership, sender, alliance and treaty version, replays, clock skew,
 * expiry, rate (on the reports' own clock, so catching up is no burst),
 * protected ranges both ways, the local allowlist, prefix width, the
 * weighted quorum (and how long it holds), lifts only by reporters,
 * expulsion by a new treaty, a replaced key and a shorter max_duration_s
 * (in the receipt, and what an amendment leaves of a sanction in force),
 * restart state, the window of sequence numbers (out of order, once,
 * across a restart, in an undone round) and a late report superseded by
 * a later one about its address, bounded memory, a round undone when its ledger commit
 * failed, a removed member listed again, the registry's slots reused past
 * RECEIPT_MAX_IDS ids, and receipt_apply's two steps (admit, judge). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alliance/receipt.h"

#define SEC 1000000LL
#define NOW (1795737600LL * SEC)   /* 2026-11-27T00:00:00Z */

static struct addr cidr(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(text, &a), 0);
	return a;
}

static void add_member(struct treaty *t, const char *id, unsigned weight, const char *protect)
{
	uint8_t key[SIGNER_PUBLIC_BYTES];
	char err[256];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(id[0] * 31 + i);
	struct addr p;
	if (protect)
		p = cidr(protect);
	assert_int_equal(treaty_add_member(t, id, key, weight, protect ? &p : NULL, protect ? 1 : 0, err, sizeof(err)),
			 0);
}

static struct treaty *alliance(unsigned quorum)
{
	char err[256], q[16];
	struct treaty *t = treaty_new("west", err, sizeof(err));
	assert_non_null(t);
	add_member(t, "alpha", 1, "198.51.100.0/24");
	add_member(t, "bravo", 1, NULL);
	add_member(t, "charlie", 2, NULL);
	snprintf(q, sizeof(q), "%u", quorum);
	assert_int_equal(treaty_set(t, "quorum", q, err, sizeof(err)), 0);
	assert_int_equal(treaty_set(t, "rate_per_min", "60", err, sizeof(err)), 0);
	assert_int_equal(treaty_set(t, "burst", "5", err, sizeof(err)), 0);
	return t;
}

static bool allow_192_0_2(void *arg, const struct addr *a)
{
	(void)arg;
	struct addr net = cidr("192.0.2.0/24");
	return addr_contains(&net, a) || addr_contains(a, &net);
}

static struct receipt *receipt_for(const struct treaty *t)
{
	struct receipt_config cfg = {.treaty = t, .allowlisted = allow_192_0_2, .max_keys = 64, .seed = 1};
	return receipt_new(&cfg);
}

static struct report sanction_of(const char *address, uint64_t seq, int64_t time_us, uint32_t duration_s)
{
	struct report r = {.seq = seq, .time_us = time_us, .action = REPORT_SANCTION, .addr = cidr(address),
			   .duration_s = duration_s, .attempts = 5};
	snprintf(r.scenario, sizeof(r.scenario), "sshd");
	return r;
}

static struct report lift_of(const char *address, uint64_t seq, int64_t time_us)
{
	struct report r = {.seq = seq, .time_us = time_us, .action = REPORT_LIFT, .addr = cidr(address)};
	snprintf(r.scenario, sizeof(r.scenario), "sshd");
	return r;
}

static struct receipt_decision apply(struct receipt *r, const char *member, struct report rep, int64_t now)
{
	struct receipt_decision d;
	receipt_apply(r, member, &rep, now, &d);
	return d;
}

static uint64_t refusals(const struct receipt *r, const char *member, enum receipt_reason why)
{
	struct receipt_member_stats st;
	for (size_t i = 0; receipt_stats(r, i, &st); i++)
		if (strcmp(st.id, member) == 0)
			return st.refused[why];
	return 0;
}

static void assert_refused(struct receipt_decision d, enum receipt_reason why)
{
	assert_int_equal(d.verdict, RECEIPT_REFUSED);
	assert_string_equal(receipt_reason_name(d.reason), receipt_reason_name(why));
}

static void test_one_report_is_enough_by_default(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	struct receipt_decision d = apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW - SEC, 600), NOW);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	assert_int_equal(d.until_us, NOW - SEC + 600 * SEC);
	/* The same report again, or an older one: a replay. */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW - SEC, 600), NOW), RR_REPLAY);
	assert_int_equal(refusals(r, "bravo", RR_REPLAY), 1);
	/* A repeat with a longer sanction extends it. */
	d = apply(r, "bravo", sanction_of("203.0.113.5", 2, NOW, 1200), NOW);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	assert_int_equal(d.until_us, NOW + 1200 * SEC);
	receipt_free(r);
	treaty_free(t);
}

static void test_message_checks(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	struct report_batch b = {.treaty_version = t->version, .n = 1};
	snprintf(b.alliance, sizeof(b.alliance), "west");
	snprintf(b.member, sizeof(b.member), "bravo");
	assert_int_equal(receipt_check_batch(r, "bravo", &b), RR_NONE);
	assert_int_equal(receipt_check_batch(r, "mallory", &b), RR_NOT_MEMBER);
	assert_int_equal(receipt_check_batch(r, "alpha", &b), RR_WRONG_SENDER);
	snprintf(b.alliance, sizeof(b.alliance), "east");
	assert_int_equal(receipt_check_batch(r, "bravo", &b), RR_WRONG_ALLIANCE);
	snprintf(b.alliance, sizeof(b.alliance), "west");
	b.treaty_version = t->version - 1;
	assert_int_equal(receipt_check_batch(r, "bravo", &b), RR_WRONG_TREATY);

	receipt_refuse_message(r, "bravo", RR_BAD_SIGNATURE);
	receipt_refuse_message(r, "mallory", RR_NOT_MEMBER);
	assert_int_equal(refusals(r, "bravo", RR_BAD_SIGNATURE), 1);
	assert_int_equal(receipt_unknown_refusals(r), 1);
	assert_refused(apply(r, "mallory", sanction_of("203.0.113.5", 1, NOW, 600), NOW), RR_NOT_MEMBER);
	assert_int_equal(receipt_reason_from_report(REPORT_BAD_SIGNATURE), RR_BAD_SIGNATURE);
	assert_int_equal(receipt_reason_from_report(REPORT_NOT_CANONICAL), RR_NOT_CANONICAL);
	receipt_free(r);
	treaty_free(t);
}

static void test_time_rules(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	int64_t skew = (int64_t)t->skew_s * SEC;
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.1", 1, NOW + skew, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.2", 2, NOW + skew + 1, 600), NOW), RR_FUTURE);
	/* Decided 11 minutes ago for 10: over before it arrived. */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.3", 3, NOW - 660 * SEC, 600), NOW), RR_EXPIRED);
	/* Longer than the treaty allows: cut to its longest sanction. */
	struct receipt_decision d = apply(r, "bravo", sanction_of("203.0.113.4", 4, NOW, 400 * 24 * 3600), NOW);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	assert_int_equal(d.until_us, NOW + (int64_t)t->max_duration_s * SEC);
	receipt_free(r);
	treaty_free(t);
}

static void test_rate_on_report_time(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);   /* 60 a minute, burst 5 */
	struct receipt *r = receipt_for(t);
	char address[32];
	uint64_t seq = 0;
	/* Five at once pass, the sixth does not. */
	for (int i = 0; i < 5; i++) {
		snprintf(address, sizeof(address), "203.0.113.%d", i + 1);
		assert_int_equal(apply(r, "bravo", sanction_of(address, ++seq, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	}
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", ++seq, NOW, 600), NOW), RR_RATE);
	/* Dating a report in the past earns nothing. */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", ++seq, NOW - 100 * SEC, 600), NOW), RR_RATE);
	/* A backlog spread over 20 s of the member's clock, arriving at once
	 * (a member catching up), passes: one a second is the rate. */
	for (int i = 1; i <= 20; i++) {
		snprintf(address, sizeof(address), "203.0.114.%d", i);
		assert_int_equal(apply(r, "charlie", sanction_of(address, (uint64_t)i, NOW - 20 * SEC + i * SEC, 600),
				       NOW + 30 * SEC)
					 .verdict,
				 RECEIPT_SANCTION);
	}
	assert_int_equal(refusals(r, "bravo", RR_RATE), 2);
	assert_int_equal(refusals(r, "charlie", RR_RATE), 0);
	receipt_free(r);
	treaty_free(t);
}

static void test_addresses_never_sanctioned(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	/* alpha protects 198.51.100.0/24: inside it, or a prefix covering it. */
	assert_refused(apply(r, "bravo", sanction_of("198.51.100.7", 1, NOW, 600), NOW), RR_PROTECTED);
	assert_refused(apply(r, "bravo", sanction_of("198.51.96.0/20", 2, NOW, 600), NOW), RR_TOO_WIDE);
	assert_int_equal(treaty_set(t, "widest_v4", "16", NULL, 0), 0);
	receipt_set_treaty(r, t);
	assert_refused(apply(r, "bravo", sanction_of("198.51.96.0/20", 3, NOW, 600), NOW), RR_PROTECTED);
	/* The local allowlist, both ways too. */
	assert_refused(apply(r, "bravo", sanction_of("192.0.2.77", 4, NOW, 600), NOW), RR_ALLOWLISTED);
	assert_refused(apply(r, "bravo", sanction_of("192.0.0.0/22", 5, NOW, 600), NOW), RR_ALLOWLISTED);
	/* IPv6: wider than /48 refused, a /64 passes. */
	assert_refused(apply(r, "bravo", sanction_of("2001:db8::/32", 6, NOW, 600), NOW), RR_TOO_WIDE);
	assert_int_equal(apply(r, "bravo", sanction_of("2001:db8:1:2::/64", 7, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	assert_int_equal(refusals(r, "bravo", RR_PROTECTED), 2);
	receipt_free(r);
	treaty_free(t);
}

static void test_weighted_quorum(void **state)
{
	(void)state;
	struct treaty *t = alliance(2);   /* alpha 1, bravo 1, charlie 2 */
	struct receipt *r = receipt_for(t);
	struct receipt_decision d = apply(r, "alpha", sanction_of("203.0.113.5", 1, NOW, 600), NOW);
	assert_int_equal(d.verdict, RECEIPT_PENDING);
	assert_int_equal(d.weight, 1);
	/* The same member again does not make two votes. */
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.5", 2, NOW, 900), NOW).verdict, RECEIPT_PENDING);
	/* bravo's shorter report completes the quorum: it holds while both do. */
	d = apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 300), NOW + SEC);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	assert_int_equal(d.until_us, NOW + 300 * SEC);
	/* charlie weighs 2: alone enough, for its own length. */
	d = apply(r, "charlie", sanction_of("203.0.113.6", 1, NOW, 600), NOW);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	assert_int_equal(d.until_us, NOW + 600 * SEC);
	/* A vote that expired does not count. */
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.7", 3, NOW - 590 * SEC, 600), NOW).verdict,
			 RECEIPT_PENDING);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.7", 2, NOW + 20 * SEC, 600), NOW + 20 * SEC).verdict,
			 RECEIPT_PENDING);
	receipt_free(r);
	treaty_free(t);
}

static void test_lifts(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.5", 1, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 300), NOW).verdict, RECEIPT_UNCHANGED);
	/* charlie never reported it: it cannot lift it. */
	assert_refused(apply(r, "charlie", lift_of("203.0.113.5", 1, NOW), NOW), RR_NOT_REPORTER);
	/* alpha lifts: bravo's report still holds it, for bravo's length. */
	struct receipt_decision d = apply(r, "alpha", lift_of("203.0.113.5", 2, NOW + SEC), NOW + SEC);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	assert_int_equal(d.until_us, NOW + 300 * SEC);
	/* bravo lifts: nobody is left. */
	assert_int_equal(apply(r, "bravo", lift_of("203.0.113.5", 2, NOW + 2 * SEC), NOW + 2 * SEC).verdict,
			 RECEIPT_LIFT);
	/* And a lift of what is gone is refused. */
	assert_refused(apply(r, "bravo", lift_of("203.0.113.5", 3, NOW + 3 * SEC), NOW + 3 * SEC), RR_NOT_REPORTER);
	receipt_free(r);
	treaty_free(t);
}

static void test_expulsion(void **state)
{
	(void)state;
	char err[256];
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	const char *both[] = {"bravo", "alpha", "bravo"};
	assert_int_equal(receipt_support_weight(r, both, 3), 2);
	assert_int_equal(treaty_remove_member(t, "bravo", err, sizeof(err)), 0);
	receipt_set_treaty(r, t);
	assert_int_equal(receipt_support_weight(r, both, 3), 1);
	assert_int_equal(receipt_support_weight(r, both, 1), 0);
	/* bravo's reports are no longer taken, and its vote weighs nothing. */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.6", 2, NOW, 600), NOW), RR_NOT_MEMBER);
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.5", 1, NOW, 60), NOW).verdict, RECEIPT_SANCTION);
	receipt_free(r);
	treaty_free(t);
}

static void test_restart_state(void **state)
{
	(void)state;
	struct treaty *t = alliance(2);
	struct receipt *r = receipt_for(t);
	uint64_t seq;
	int64_t when;
	/* A ledger of before the window: every number up to 41 was taken. */
	receipt_restore_member(r, "bravo", 41, NOW - SEC, NULL, 0);
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	assert_int_equal(seq, 41);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.5", 41, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 600), NOW), RR_REPLAY);
	/* The support of a sanction in force is put back: a reporter can lift it. */
	struct addr key = cidr("203.0.113.9");
	receipt_restore_vote(r, "alpha", 3, NOW, &key, NOW + 600 * SEC, NOW);
	receipt_restore_vote(r, "bravo", 40, NOW, &key, NOW + 300 * SEC, NOW);
	struct receipt_support sup[RECEIPT_MAX_VOTES];
	assert_int_equal(receipt_supporters(r, &key, NOW, sup, RECEIPT_MAX_VOTES), 2);
	assert_int_equal(apply(r, "bravo", lift_of("203.0.113.9", 42, NOW), NOW).verdict, RECEIPT_LIFT);
	assert_int_equal(receipt_supporters(r, &key, NOW, sup, RECEIPT_MAX_VOTES), 1);
	assert_string_equal(sup[0].member, "alpha");
	assert_int_equal(sup[0].seq, 3);
	receipt_free(r);
	treaty_free(t);
}

/* The window: a number not taken yet is taken once, in any order; a
 * number taken, or below the window, is a replay. */
static void test_window_out_of_order(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	uint64_t seq;
	int64_t when;
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.10", 10, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.12", 12, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	/* 11 and 5 come late (delivered again after 12): taken, once. */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.11", 11, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 5, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	assert_int_equal(seq, 12);
	for (uint64_t again = 5; again <= 12; again += 1) {
		if (again > 5 && again < 10)
			continue;
		assert_refused(apply(r, "bravo", sanction_of("203.0.113.99", again, NOW, 600), NOW), RR_REPLAY);
	}
	assert_int_equal(refusals(r, "bravo", RR_REPLAY), 4);
	/* A replay costs nothing: a lift under a taken number lifts nothing. */
	struct addr key = cidr("203.0.113.11");
	assert_refused(apply(r, "bravo", lift_of("203.0.113.11", 11, NOW), NOW), RR_REPLAY);
	assert_true(receipt_has_vote(r, "bravo", &key, NOW));
	/* The window is RECEIPT_WINDOW numbers up to the highest: past it,
	 * a number never seen is refused as a replay too. */
	uint64_t top = 12 + 2 * RECEIPT_WINDOW;
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.20", top, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.21", top - RECEIPT_WINDOW, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.21", 11, NOW, 600), NOW), RR_REPLAY);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.21", top - RECEIPT_WINDOW + 1, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.22", top - RECEIPT_WINDOW + 1, NOW, 600), NOW),
		       RR_REPLAY);
	/* A step of less than the window keeps what it still covers, and the
	 * numbers skipped are free. */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.23", top + 100, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.24", top, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.24", top - RECEIPT_WINDOW + 1, NOW, 600), NOW),
		       RR_REPLAY);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.24", top + 50, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.25", top + 99, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	/* Each member has its own. */
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.26", 11, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_free(r);
	treaty_free(t);
}

/* Of one member's reports about one address, the highest number decides:
 * an older one taken late is refused (superseded), whatever it asks, and
 * a later lift or withdrawal stands. Reports of other addresses, and of
 * other members, taken late count as usual. */
static void test_late_report_superseded(void **state)
{
	(void)state;
	struct treaty *t = alliance(2);   /* alpha 1, bravo 1, charlie 2 */
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	struct receipt_support sup[RECEIPT_MAX_VOTES];
	struct addr x = cidr("203.0.113.7"), y = cidr("203.0.113.8"), z = cidr("203.0.113.9");
	/* A lift signed after a sanction it overtook: the sanction, late,
	 * is not applied. */
	assert_int_equal(apply(r, "charlie", sanction_of("203.0.113.7", 1, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "charlie", lift_of("203.0.113.7", 3, NOW), NOW).verdict, RECEIPT_LIFT);
	assert_refused(apply(r, "charlie", sanction_of("203.0.113.7", 2, NOW, 3600), NOW), RR_SUPERSEDED);
	assert_false(receipt_has_vote(r, "charlie", &x, NOW));
	assert_int_equal(refusals(r, "charlie", RR_SUPERSEDED), 1);
	/* Superseded is taken too: not taken again. */
	assert_refused(apply(r, "charlie", sanction_of("203.0.113.7", 2, NOW, 3600), NOW), RR_REPLAY);
	/* A lift refused (charlie had no vote: its sanction had not come)
	 * is still charlie's latest word about y. */
	assert_refused(apply(r, "charlie", lift_of("203.0.113.8", 11, NOW), NOW), RR_NOT_REPORTER);
	assert_refused(apply(r, "charlie", sanction_of("203.0.113.8", 10, NOW, 600), NOW), RR_SUPERSEDED);
	assert_false(receipt_has_vote(r, "charlie", &y, NOW));
	/* A withdrawal: alpha's lift leaves charlie's sanction in force; its
	 * older report, late, does not count it again. */
	assert_int_equal(apply(r, "charlie", sanction_of("203.0.113.9", 20, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.9", 1, NOW, 600), NOW).verdict, RECEIPT_UNCHANGED);
	assert_int_equal(apply(r, "alpha", lift_of("203.0.113.9", 3, NOW), NOW).verdict, RECEIPT_UNCHANGED);
	assert_refused(apply(r, "alpha", sanction_of("203.0.113.9", 2, NOW, 1200), NOW), RR_SUPERSEDED);
	assert_false(receipt_has_vote(r, "alpha", &z, NOW));
	assert_int_equal(receipt_supporters(r, &z, NOW, sup, RECEIPT_MAX_VOTES), 1);
	assert_string_equal(sup[0].member, "charlie");
	/* A lift late behind a newer sanction: the sanction stands, and an
	 * older sanction does not shorten the newer one. */
	assert_int_equal(apply(r, "charlie", sanction_of("203.0.113.7", 32, NOW, 1200), NOW).verdict, RECEIPT_SANCTION);
	assert_refused(apply(r, "charlie", lift_of("203.0.113.7", 31, NOW), NOW), RR_SUPERSEDED);
	assert_refused(apply(r, "charlie", sanction_of("203.0.113.7", 30, NOW, 60), NOW), RR_SUPERSEDED);
	assert_int_equal(receipt_supporters(r, &x, NOW, sup, RECEIPT_MAX_VOTES), 1);
	assert_int_equal(sup[0].seq, 32);
	assert_int_equal(sup[0].until_us, NOW + 1200 * SEC);
	/* Late, but nothing newer about its address: taken as usual. */
	assert_int_equal(apply(r, "charlie", sanction_of("203.0.113.6", 4, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	/* Another member's report is not superseded by charlie's. */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.8", 1, NOW, 600), NOW).verdict, RECEIPT_PENDING);
	receipt_free(r);
	treaty_free(t);
}

/* A restart: the window, as the ledger keeps it, gives the same answers;
 * the numbers taken still are, the late ones are still taken once, and a
 * later lift still supersedes. */
static void test_window_across_restart(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	static uint8_t window[RECEIPT_WINDOW_SAVED_MAX];
	uint64_t seq;
	int64_t when;
	assert_int_equal(receipt_member_window(r, "bravo", window), 0);   /* nothing taken */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.1", 5000, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.3", 5003, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_refused(apply(r, "bravo", lift_of("203.0.113.4", 5005, NOW), NOW), RR_NOT_REPORTER);
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	size_t len = receipt_member_window(r, "bravo", window);
	assert_int_equal(len, 519 + 3 * 4);   /* the bits, and the tags of 5000, 5003, 5005 */
	receipt_free(r);
	r = receipt_for(t);
	assert_int_equal(receipt_restore_member(r, "bravo", seq, when, window, len), 0);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5000, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5003, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5005, NOW, 600), NOW), RR_REPLAY);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.2", 5001, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 4000, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.4", 5004, NOW, 600), NOW), RR_SUPERSEDED);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.6", 5005 - RECEIPT_WINDOW, NOW, 600), NOW),
		       RR_REPLAY);
	/* Saved again and restored: what the late ones took is kept too. */
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	len = receipt_member_window(r, "bravo", window);
	assert_int_equal(len, 519 + 6 * 4);
	receipt_free(r);
	r = receipt_for(t);
	assert_int_equal(receipt_restore_member(r, "bravo", seq, when, window, len), 0);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 4000, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5001, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.3", 4500, NOW, 600), NOW), RR_SUPERSEDED);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.9", 5002, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_free(r);
	treaty_free(t);
}

/* A member reporting in order: its window is all taken, and saved as a
 * bit a number (519 bytes, not a 16 KiB tag a number); numbers skipped
 * keep the tags of the numbers above them, and only those, so a late
 * report is still checked against every later one. */
static void test_window_saved_compact(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "1000000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	static uint8_t window[RECEIPT_WINDOW_SAVED_MAX];
	char address[32];
	uint64_t seq;
	int64_t when;
	for (uint64_t s = 1; s <= 2 * RECEIPT_WINDOW; s++) {
		snprintf(address, sizeof(address), "10.0.%u.%u", (unsigned)(s / 256 % 256), (unsigned)(s % 256));
		assert_int_not_equal(apply(r, "bravo", sanction_of(address, s, NOW, 600), NOW).verdict, RECEIPT_REFUSED);
	}
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	assert_int_equal(receipt_member_window(r, "bravo", window), 519);
	/* Ten numbers skipped: the tags above them are kept. */
	uint64_t top = seq + 20;
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.7", seq + 11, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", lift_of("203.0.113.7", top, NOW), NOW).verdict, RECEIPT_LIFT);
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	size_t len = receipt_member_window(r, "bravo", window);
	assert_int_equal(len, 519 + 2 * 4);   /* seq + 11 and seq + 20, above the numbers skipped */
	receipt_free(r);
	r = receipt_for(t);
	assert_int_equal(receipt_restore_member(r, "bravo", seq, when, window, len), 0);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", top - 9, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", top - 20, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", top - RECEIPT_WINDOW + 1, NOW, 600), NOW),
		       RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.7", top - 11, NOW, 600), NOW), RR_SUPERSEDED);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.8", top - 12, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	receipt_free(r);
	treaty_free(t);
}

/* Bytes of a damaged ledger: cut short (at any length, a multiple of 4
 * too), a bit or a tag changed, or of another window than last_seq's:
 * found out (-1), and every number up to the highest counts as taken, as
 * without the window. */
static void test_window_damaged(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	static uint8_t window[RECEIPT_WINDOW_SAVED_MAX], bad[RECEIPT_WINDOW_SAVED_MAX];
	uint64_t seq;
	int64_t when;
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.1", 5000, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.3", 5003, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	size_t len = receipt_member_window(r, "bravo", window);
	struct {
		size_t len, flip;             /* flip: a byte changed (0: none) */
		uint64_t last_seq;
	} cases[] = {
		{len - 1, 0, seq}, {len - 3, 0, seq}, {len - 7, 0, seq}, {len - 4, 0, seq}, {100, 0, seq},
		{len, 3 + 1, seq}, {len, len - 6, seq}, {len, 1, seq}, {len, 0, seq + 1}, {len, 0, 10},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, window, len);
		if (cases[i].flip)
			bad[cases[i].flip] ^= 0x10;
		receipt_free(r);
		r = receipt_for(t);
		assert_int_equal(receipt_restore_member(r, "bravo", cases[i].last_seq, when, bad, cases[i].len), -1);
		assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", cases[i].last_seq - 2, NOW, 600), NOW),
			       RR_REPLAY);
		assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", cases[i].last_seq - 1, NOW, 600), NOW),
			       RR_REPLAY);
	}
	/* A number above any a report carries (-1 read back as a number) is
	 * taken as the highest a report can carry: no endless loop, no window
	 * written past its end, every number a replay. */
	assert_int_equal(receipt_restore_member(r, "bravo", UINT64_MAX, when, window, len), -1);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 12, NOW, 600), NOW), RR_REPLAY);
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	assert_int_equal(seq, INT64_MAX);
	assert_int_equal(receipt_member_window(r, "bravo", window), 519);
	receipt_free(r);
	treaty_free(t);
}

/* A ledger of schema 4 kept a tag a number from the lowest taken up: read
 * as it was, until the member's next save. */
static void test_window_schema4(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	struct addr x = cidr("203.0.113.1");
	uint32_t tag = 0x12345678u;   /* not x's: a report of x below 5003 is not superseded */
	uint8_t tags[4 * 4] = {0};    /* 5000..5003: 5000 and 5003 taken */
	tags[0] = tags[12] = (uint8_t)tag, tags[1] = tags[13] = (uint8_t)(tag >> 8);
	tags[2] = tags[14] = (uint8_t)(tag >> 16), tags[3] = tags[15] = (uint8_t)(tag >> 24);
	assert_int_equal(receipt_restore_member_schema4(r, "bravo", 5003, NOW, tags, sizeof(tags)), 0);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5000, NOW, 600), NOW), RR_REPLAY);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5003, NOW, 600), NOW), RR_REPLAY);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.1", 5001, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_true(receipt_has_vote(r, "bravo", &x, NOW));
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.2", 4000, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	/* Not of that form: every number up to the highest taken. */
	assert_int_equal(receipt_restore_member_schema4(r, "bravo", 5003, NOW, tags, sizeof(tags) - 1), -1);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 5002, NOW, 600), NOW), RR_REPLAY);
	assert_int_equal(receipt_restore_member_schema4(r, "bravo", 3, NOW, tags, sizeof(tags)), -1);   /* > 3 numbers */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 2, NOW, 600), NOW), RR_REPLAY);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.9", 4, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_free(r);
	treaty_free(t);
}

/* An undone round gives back the numbers it took, late ones and new ones,
 * and its window as it was. */
static void test_window_round_undone(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.1", 10, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_round_begin(r);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.2", 8, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 9, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	/* Past the window: every slot written again (9's twice in the round). */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.3", 10 + RECEIPT_WINDOW + 5, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	/* A member heard from first in the round: its window is new. */
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.4", 3, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_round_undo(r);
	uint64_t seq;
	int64_t when;
	assert_true(receipt_member_state(r, "bravo", &seq, &when));
	assert_int_equal(seq, 10);
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.9", 10, NOW, 600), NOW), RR_REPLAY);
	/* 10's address is back with it: an older report of it is superseded. */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.1", 5, NOW, 600), NOW), RR_SUPERSEDED);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.2", 8, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 9, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.4", 3, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.3", 10 + RECEIPT_WINDOW + 5, NOW, 600), NOW).verdict,
			 RECEIPT_SANCTION);
	receipt_free(r);
	treaty_free(t);
}

/* The receipt says when a member's state kept in the ledger changed: a
 * number taken does it, whatever the verdict (future, superseded, rate,
 * not_reporter take theirs); a replay does not, nor a message refused
 * before its reports were read. An undone round makes it as before. */
static void test_member_dirty(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	assert_false(receipt_member_dirty(r, "bravo"));
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.1", 10, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_true(receipt_member_dirty(r, "bravo"));
	assert_false(receipt_member_dirty(r, "alpha"));
	receipt_member_saved(r, "bravo");
	assert_false(receipt_member_dirty(r, "bravo"));
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.1", 10, NOW, 600), NOW), RR_REPLAY);
	receipt_refuse_message(r, "bravo", RR_BAD_SIGNATURE);
	assert_false(receipt_member_dirty(r, "bravo"));
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.2", 11, NOW + 3600 * SEC, 600), NOW), RR_FUTURE);
	assert_true(receipt_member_dirty(r, "bravo"));
	receipt_member_saved(r, "bravo");
	assert_refused(apply(r, "bravo", lift_of("203.0.113.3", 12, NOW), NOW), RR_NOT_REPORTER);
	assert_true(receipt_member_dirty(r, "bravo"));
	receipt_member_saved(r, "bravo");
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.3", 9, NOW, 600), NOW), RR_SUPERSEDED);
	assert_true(receipt_member_dirty(r, "bravo"));
	receipt_member_saved(r, "bravo");
	/* In a round: saved, then the round undone: clean, as before it. */
	receipt_round_begin(r);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.4", 13, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_member_saved(r, "bravo");
	receipt_round_undo(r);
	assert_false(receipt_member_dirty(r, "bravo"));
	/* Changed before the round and not saved: dirty again after the undo. */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.4", 13, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_round_begin(r);
	receipt_member_saved(r, "bravo");
	receipt_round_undo(r);
	assert_true(receipt_member_dirty(r, "bravo"));
	receipt_free(r);
	treaty_free(t);
}

static void test_bounded(void **state)
{
	(void)state;
	struct treaty *t = alliance(2);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);   /* 64 keys */
	char address[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(address, sizeof(address), "10.%d.%d.1", i / 256, i % 256);
		assert_int_equal(apply(r, "alpha", sanction_of(address, (uint64_t)i + 1, NOW, 600), NOW).verdict,
				 RECEIPT_PENDING);
	}
	assert_int_equal(receipt_evictions(r), 1000 - 64);
	receipt_free(r);
	treaty_free(t);
}

/* Applies the reports of a round: alpha lifts its vote for 203.0.113.5,
 * bravo fills the table (evicting 203.0.113.5 among others), alpha
 * completes the quorum of one of bravo's, charlie is refused twice (a
 * replay, a protected address). */
static void a_round(struct receipt *r, struct receipt_decision *out)
{
	char address[32];
	size_t k = 0;
	out[101] = apply(r, "alpha", lift_of("203.0.113.5", 6, NOW), NOW);
	for (int i = 0; i < 100; i++) {
		snprintf(address, sizeof(address), "10.1.%d.1", i);
		out[k++] = apply(r, "bravo", sanction_of(address, 10 + (uint64_t)i, NOW, 600), NOW);
	}
	out[k++] = apply(r, "alpha", sanction_of("10.1.99.1", 7, NOW, 600), NOW);
	k++;
	out[k++] = apply(r, "charlie", sanction_of("203.0.113.7", 2, NOW, 600), NOW);
	out[k++] = apply(r, "charlie", sanction_of("198.51.100.1", 4, NOW, 600), NOW);
}

static void assert_same_stats(const struct receipt *a, const struct receipt *b)
{
	struct receipt_member_stats x, y;
	for (size_t i = 0; receipt_stats(a, i, &x); i++) {
		assert_true(receipt_stats(b, i, &y));
		assert_int_equal(x.last_seq, y.last_seq);
		assert_int_equal(x.last_report_us, y.last_report_us);
		assert_int_equal(x.accepted, y.accepted);
		assert_memory_equal(x.refused, y.refused, sizeof(x.refused));
	}
	assert_int_equal(receipt_unknown_refusals(a), receipt_unknown_refusals(b));
	assert_int_equal(receipt_evictions(a), receipt_evictions(b));
}

/* The ledger commit of a round failed: undone, the receipt is as before
 * the round, and the same messages delivered again give the same
 * decisions (not replays), as on a receipt that never saw them. */
static void test_round_undone(void **state)
{
	(void)state;
	struct treaty *t = alliance(2);   /* alpha 1, bravo 1, charlie 2 */
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t), *fresh = receipt_for(t);   /* 64 keys each */
	struct receipt_decision first[104], again[104], ref[104];
	struct receipt_support sup[RECEIPT_MAX_VOTES];
	struct addr kept = cidr("203.0.113.5");
	/* Before the round, on both: a sanction in force (alpha, charlie),
	 * and a replay refused. */
	struct receipt *both[2] = {r, fresh};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(apply(both[i], "alpha", sanction_of("203.0.113.5", 1, NOW, 600), NOW).verdict,
				 RECEIPT_PENDING);
		assert_int_equal(apply(both[i], "charlie", sanction_of("203.0.113.5", 2, NOW, 600), NOW).verdict,
				 RECEIPT_SANCTION);
		assert_refused(apply(both[i], "charlie", sanction_of("203.0.113.6", 2, NOW, 600), NOW), RR_REPLAY);
		receipt_refuse_message(both[i], "mallory", RR_NOT_MEMBER);
	}
	receipt_round_begin(r);
	a_round(r, first);
	receipt_refuse_message(r, "mallory", RR_NOT_MEMBER);
	receipt_refuse_message(r, "bravo", RR_BAD_SIGNATURE);
	assert_true(receipt_evictions(r) > 0);
	assert_int_equal(receipt_supporters(r, &kept, NOW, sup, RECEIPT_MAX_VOTES), 0);   /* evicted */
	receipt_round_undo(r);
	assert_same_stats(r, fresh);
	assert_int_equal(receipt_supporters(r, &kept, NOW, sup, RECEIPT_MAX_VOTES), 2);
	/* Delivered again: decided as the first time, none a replay. */
	receipt_round_begin(r);
	a_round(r, again);
	receipt_round_keep(r);
	a_round(fresh, ref);
	for (size_t i = 0; i < 104; i++) {
		assert_int_equal(again[i].verdict, first[i].verdict);
		assert_int_equal(again[i].verdict, ref[i].verdict);
		assert_int_equal(again[i].reason, ref[i].reason);
		assert_int_equal(again[i].until_us, ref[i].until_us);
	}
	assert_int_equal(first[100].verdict, RECEIPT_SANCTION);   /* 10.1.99.1: bravo and alpha */
	assert_int_equal(first[101].verdict, RECEIPT_UNCHANGED);   /* alpha's lift: charlie's vote holds it */
	assert_refused(first[102], RR_REPLAY);
	assert_refused(first[103], RR_PROTECTED);
	receipt_refuse_message(r, "bravo", RR_BAD_SIGNATURE);
	receipt_refuse_message(fresh, "bravo", RR_BAD_SIGNATURE);
	assert_same_stats(r, fresh);
	/* Kept: an undo after the keep changes nothing. */
	receipt_round_undo(r);
	assert_same_stats(r, fresh);
	assert_refused(apply(r, "bravo", sanction_of("10.1.5.1", 15, NOW, 600), NOW), RR_REPLAY);
	receipt_free(r);
	receipt_free(fresh);
	treaty_free(t);
}

/* An address evicted from the table loses its votes: its reporter's lift
 * is refused until the votes are put back from the ledger (what pactod
 * does, receipt_restore_vote); in a round, that too is undone. */
static void test_lift_after_eviction(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	assert_int_equal(treaty_set(t, "burst", "100000", NULL, 0), 0);
	struct receipt *r = receipt_for(t);   /* 64 keys */
	struct addr key = cidr("203.0.113.9");
	char address[32];
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.9", 1, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_true(receipt_has_vote(r, "alpha", &key, NOW));
	assert_false(receipt_has_vote(r, "bravo", &key, NOW));
	for (int i = 0; i < 64; i++) {
		snprintf(address, sizeof(address), "10.2.%d.1", i);
		apply(r, "bravo", sanction_of(address, (uint64_t)i + 1, NOW, 600), NOW);
	}
	assert_int_equal(receipt_evictions(r), 1);
	assert_false(receipt_has_vote(r, "alpha", &key, NOW));
	assert_refused(apply(r, "alpha", lift_of("203.0.113.9", 2, NOW), NOW), RR_NOT_REPORTER);
	/* Put back in a round, then undone: gone again. */
	receipt_round_begin(r);
	receipt_restore_vote(r, "alpha", 1, NOW, &key, NOW + 600 * SEC, NOW);
	assert_true(receipt_has_vote(r, "alpha", &key, NOW));
	receipt_round_undo(r);
	assert_false(receipt_has_vote(r, "alpha", &key, NOW));
	/* Put back and kept: alpha's lift lifts the sanction. */
	receipt_round_begin(r);
	receipt_restore_vote(r, "alpha", 1, NOW, &key, NOW + 600 * SEC, NOW);
	assert_int_equal(apply(r, "alpha", lift_of("203.0.113.9", 3, NOW), NOW).verdict, RECEIPT_LIFT);
	receipt_round_keep(r);
	assert_false(receipt_has_vote(r, "alpha", &key, NOW));
	receipt_free(r);
	treaty_free(t);
}

/* receipt_apply in two steps (the daemon revives votes between them, for
 * an admitted lift only): a replay, a report from the future or over the
 * rate stops at receipt_admit; what it admits, receipt_judge decides. */
static void test_admit_then_judge(void **state)
{
	(void)state;
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);   /* burst 5 */
	struct receipt_decision d;
	struct report rep = sanction_of("203.0.113.9", 1, NOW, 600);
	assert_true(receipt_admit(r, "alpha", &rep, NOW, &d));
	receipt_judge(r, "alpha", &rep, NOW, &d);
	assert_int_equal(d.verdict, RECEIPT_SANCTION);
	rep = lift_of("203.0.113.9", 1, NOW);
	assert_false(receipt_admit(r, "alpha", &rep, NOW, &d));
	assert_refused(d, RR_REPLAY);
	rep = lift_of("203.0.113.9", 2, NOW + 3600 * SEC);
	assert_false(receipt_admit(r, "alpha", &rep, NOW, &d));
	assert_refused(d, RR_FUTURE);
	for (uint64_t seq = 3; seq < 7; seq++) {
		rep = sanction_of("203.0.113.10", seq, NOW, 600);
		assert_true(receipt_admit(r, "alpha", &rep, NOW, &d));
	}
	rep = lift_of("203.0.113.9", 7, NOW);
	assert_false(receipt_admit(r, "alpha", &rep, NOW, &d));
	assert_refused(d, RR_RATE);
	/* Nothing was judged: alpha's vote stands, and its lift in time lifts. */
	struct addr key = cidr("203.0.113.9");
	assert_true(receipt_has_vote(r, "alpha", &key, NOW));
	rep = lift_of("203.0.113.9", 8, NOW + 60 * SEC);
	assert_true(receipt_admit(r, "alpha", &rep, NOW + 60 * SEC, &d));
	receipt_judge(r, "alpha", &rep, NOW + 60 * SEC, &d);
	assert_int_equal(d.verdict, RECEIPT_LIFT);
	receipt_free(r);
	treaty_free(t);
}

/* A member removed, then listed again with the same key: what it reported
 * before the removal does not count again (its support rows ended at the
 * removal: a restart would not count them either). */
static void test_member_back(void **state)
{
	(void)state;
	char err[256];
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	struct addr key = cidr("203.0.113.5");
	struct receipt_support sup[RECEIPT_MAX_VOTES];
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(treaty_remove_member(t, "bravo", err, sizeof(err)), 0);
	receipt_set_treaty(r, t);
	add_member(t, "bravo", 1, NULL);
	receipt_set_treaty(r, t);
	assert_false(receipt_has_vote(r, "bravo", &key, NOW));
	assert_int_equal(receipt_supporters(r, &key, NOW, sup, RECEIPT_MAX_VOTES), 0);
	assert_refused(apply(r, "bravo", lift_of("203.0.113.5", 2, NOW), NOW), RR_NOT_REPORTER);
	/* Its sequence numbers are remembered: no replay. */
	assert_refused(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 600), NOW), RR_REPLAY);
	/* A member that stays keeps its votes over a reload. */
	assert_int_equal(apply(r, "alpha", sanction_of("203.0.113.6", 1, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	receipt_set_treaty(r, t);
	key = cidr("203.0.113.6");
	assert_true(receipt_has_vote(r, "alpha", &key, NOW));
	receipt_free(r);
	treaty_free(t);
}

/* A treaty of keep (and, unless NULL, other), fillers f<first>..
 * f<first+n-1>, quorum 2. Keys are unique: from the id's number. */
static struct treaty *treaty_of(const char *other, unsigned first, unsigned n)
{
	char err[256], id[16];
	uint8_t k[SIGNER_PUBLIC_BYTES];
	struct treaty *t = treaty_new("west", err, sizeof(err));
	assert_non_null(t);
	memset(k, 0xaa, sizeof(k));
	assert_int_equal(treaty_add_member(t, "keep", k, 1, NULL, 0, err, sizeof(err)), 0);
	if (other) {
		memset(k, 0xbb, sizeof(k));
		assert_int_equal(treaty_add_member(t, other, k, 1, NULL, 0, err, sizeof(err)), 0);
	}
	for (unsigned i = first; i < first + n; i++) {
		memset(k, 0, sizeof(k));
		k[0] = (uint8_t)i;
		k[1] = (uint8_t)(i >> 8);
		snprintf(id, sizeof(id), "f%04u", i);
		assert_int_equal(treaty_add_member(t, id, k, 1, NULL, 0, err, sizeof(err)), 0);
	}
	assert_int_equal(treaty_set(t, "quorum", "2", err, sizeof(err)), 0);
	return t;
}

/* RECEIPT_MAX_IDS ids seen: a new member takes the slot of one no longer
 * listed. The former's votes do not count for it (both were generation 0:
 * they did), and a slot of the new treaty's own is never taken (one whose
 * id sorts after the newcomer's was: its sequence numbers were lost). */
static void test_slot_reuse(void **state)
{
	(void)state;
	struct treaty *t = treaty_of("w", 0, 0), *next;
	struct receipt *r = receipt_for(t);
	struct addr key = cidr("203.0.113.5");
	/* w's vote: pending (quorum 2). */
	assert_int_equal(apply(r, "w", sanction_of("203.0.113.5", 1, NOW, 600), NOW).verdict, RECEIPT_PENDING);
	assert_int_equal(apply(r, "keep", sanction_of("203.0.113.7", 7, NOW, 600), NOW).verdict, RECEIPT_PENDING);
	/* 1022 fillers, in treaties of keep and 255 of them (w left): 1024 ids. */
	for (unsigned first = 0; first < 1022; first += 255) {
		next = treaty_of(NULL, first, first + 255 <= 1022 ? 255 : 1022 - first);
		receipt_set_treaty(r, next);
		treaty_free(t);
		t = next;
	}
	/* newbie takes w's slot (keep's is its own). */
	next = treaty_of("newbie", 0, 0);
	receipt_set_treaty(r, next);
	treaty_free(t);
	t = next;
	assert_false(receipt_has_vote(r, "newbie", &key, NOW));
	assert_int_equal(apply(r, "keep", sanction_of("203.0.113.5", 8, NOW, 600), NOW).verdict, RECEIPT_PENDING);
	/* "aaa" sorts before keep: it must not take keep's slot. */
	next = treaty_of("aaa", 0, 0);
	receipt_set_treaty(r, next);
	treaty_free(t);
	t = next;
	assert_refused(apply(r, "keep", sanction_of("203.0.113.9", 8, NOW, 600), NOW), RR_REPLAY);
	assert_true(receipt_has_vote(r, "keep", &key, NOW));
	receipt_free(r);
	treaty_free(t);
}


/* A set-key after a compromise: what the old key signed no longer counts,
 * in the quorum or for a lift; a shorter max_duration_s cuts the votes
 * already cast. */
static void test_key_replaced_and_duration_cut(void **state)
{
	(void)state;
	char err[256];
	uint8_t key[SIGNER_PUBLIC_BYTES];
	struct treaty *t = alliance(1);
	struct receipt *r = receipt_for(t);
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 1, NOW, 3600), NOW).verdict, RECEIPT_SANCTION);
	struct addr k = cidr("203.0.113.5");
	assert_true(receipt_has_vote(r, "bravo", &k, NOW));
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(treaty_set_key(t, "bravo", key, err, sizeof(err)), 0);
	receipt_set_treaty(r, t);
	struct receipt_support sup[RECEIPT_MAX_VOTES];
	assert_int_equal(receipt_supporters(r, &k, NOW, sup, RECEIPT_MAX_VOTES), 0);
	assert_false(receipt_has_vote(r, "bravo", &k, NOW));
	assert_refused(apply(r, "bravo", lift_of("203.0.113.5", 2, NOW), NOW), RR_NOT_REPORTER);
	/* bravo's new key counts, alone. */
	assert_int_equal(apply(r, "bravo", sanction_of("203.0.113.5", 3, NOW, 600), NOW).verdict, RECEIPT_SANCTION);
	assert_int_equal(receipt_supporters(r, &k, NOW, sup, RECEIPT_MAX_VOTES), 1);
	assert_true(sup[0].until_us == NOW + 600 * SEC);
	/* max_duration_s 60: the vote of 600 s counts for 60. */
	assert_int_equal(treaty_set(t, "max_duration_s", "60", err, sizeof(err)), 0);
	receipt_set_treaty(r, t);
	assert_int_equal(receipt_supporters(r, &k, NOW, sup, RECEIPT_MAX_VOTES), 1);
	assert_true(sup[0].until_us == NOW + 60 * SEC);
	assert_false(receipt_has_vote(r, "bravo", &k, NOW + 61 * SEC));
	receipt_free(r);
	treaty_free(t);
}

static struct receipt_recheck recheck(const struct treaty *old, const struct treaty *t, const char *address,
				      const struct receipt_vote_row *v, size_t n, int64_t expires)
{
	struct receipt_recheck rc;
	struct addr a = cidr(address);
	receipt_recheck(old, t, &a, v, n, expires, NOW, &rc, NULL);
	return rc;
}

/* What an amendment leaves of a sanction in force on the allies' word. */
static void test_recheck_after_amendment(void **state)
{
	(void)state;
	char err[256];
	uint8_t key[SIGNER_PUBLIC_BYTES];
	struct treaty *old = alliance(1);
	const struct receipt_vote_row bravo[] = {{"bravo", NOW - 10 * SEC, NOW + 3600 * SEC}};
	const struct receipt_vote_row two[] = {{"bravo", NOW - 10 * SEC, NOW + 3600 * SEC},
					       {"charlie", NOW - 10 * SEC, NOW + 600 * SEC}};
	int64_t end = NOW + 3600 * SEC;
	/* The same treaty, or another member added: it stands. */
	struct treaty *t = alliance(1);
	add_member(t, "delta", 1, NULL);
	assert_int_equal(recheck(old, t, "203.0.113.5", bravo, 1, end).verdict, RECHECK_STANDS);
	assert_int_equal(recheck(old, old, "203.0.113.0/24", two, 2, end).verdict, RECHECK_STANDS);
	/* A range newly protected, the sanction inside it or covering it. */
	assert_int_equal(treaty_remove_member(t, "delta", err, sizeof(err)), 0);
	add_member(t, "delta", 1, "203.0.113.64/26");
	struct receipt_recheck rc = recheck(old, t, "203.0.113.70", bravo, 1, end);
	assert_int_equal(rc.verdict, RECHECK_FALLS);
	assert_non_null(strstr(rc.why, "protected by delta"));
	assert_int_equal(recheck(old, t, "203.0.113.0/24", bravo, 1, end).verdict, RECHECK_FALLS);
	assert_int_equal(recheck(old, t, "203.0.113.5", bravo, 1, end).verdict, RECHECK_STANDS);
	treaty_free(t);
	/* widest_v4 narrower: the /24 falls, an address stands. */
	t = alliance(1);
	assert_int_equal(treaty_set(t, "widest_v4", "28", err, sizeof(err)), 0);
	rc = recheck(old, t, "203.0.113.0/24", bravo, 1, end);
	assert_int_equal(rc.verdict, RECHECK_FALLS);
	assert_non_null(strstr(rc.why, "widest_v4 28"));
	assert_int_equal(recheck(old, t, "203.0.113.16/28", bravo, 1, end).verdict, RECHECK_STANDS);
	treaty_free(t);
	/* max_duration_s 600: cut to report time + 600 s; 5 s: over, it falls. */
	t = alliance(1);
	assert_int_equal(treaty_set(t, "max_duration_s", "600", err, sizeof(err)), 0);
	rc = recheck(old, t, "203.0.113.5", bravo, 1, end);
	assert_int_equal(rc.verdict, RECHECK_CUT);
	assert_true(rc.until_us == NOW + 590 * SEC);
	assert_non_null(strstr(rc.why, "max_duration_s 600"));
	assert_int_equal(treaty_set(t, "max_duration_s", "5", err, sizeof(err)), 0);
	assert_int_equal(recheck(old, t, "203.0.113.5", bravo, 1, end).verdict, RECHECK_FALLS);
	treaty_free(t);
	/* bravo removed: alone, it falls ("its reporters left the alliance");
	 * with charlie, cut to charlie's end. */
	t = alliance(1);
	assert_int_equal(treaty_remove_member(t, "bravo", err, sizeof(err)), 0);
	rc = recheck(old, t, "203.0.113.5", bravo, 1, end);
	assert_int_equal(rc.verdict, RECHECK_FALLS);
	assert_non_null(strstr(rc.why, "its reporters left the alliance"));
	rc = recheck(old, t, "203.0.113.5", two, 2, end);
	assert_int_equal(rc.verdict, RECHECK_CUT);
	assert_true(rc.until_us == NOW + 600 * SEC);
	treaty_free(t);
	/* bravo's key replaced: its report no longer holds anything. */
	t = alliance(1);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(treaty_set_key(t, "bravo", key, err, sizeof(err)), 0);
	bool revoked[2];
	struct addr a = cidr("203.0.113.5");
	receipt_recheck(old, t, &a, two, 2, end, NOW, &rc, revoked);
	assert_int_equal(rc.verdict, RECHECK_CUT);
	assert_true(revoked[0] && !revoked[1]);
	assert_non_null(strstr(rc.why, "key was replaced"));
	assert_int_equal(recheck(old, t, "203.0.113.5", bravo, 1, end).verdict, RECHECK_FALLS);
	treaty_free(t);
	/* An end longer than the votes held under the old treaty (this host's
	 * own, or never shortened) is not the amendment's: it stands as long
	 * as the amendment takes nothing the votes held. */
	t = alliance(1);
	add_member(t, "delta", 1, NULL);
	assert_int_equal(recheck(old, t, "203.0.113.5", two, 2, NOW + 7200 * SEC).verdict, RECHECK_STANDS);
	treaty_free(t);
	treaty_free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_report_is_enough_by_default),
		cmocka_unit_test(test_message_checks),
		cmocka_unit_test(test_time_rules),
		cmocka_unit_test(test_rate_on_report_time),
		cmocka_unit_test(test_addresses_never_sanctioned),
		cmocka_unit_test(test_weighted_quorum),
		cmocka_unit_test(test_lifts),
		cmocka_unit_test(test_expulsion),
		cmocka_unit_test(test_key_replaced_and_duration_cut),
		cmocka_unit_test(test_recheck_after_amendment),
		cmocka_unit_test(test_restart_state),
		cmocka_unit_test(test_window_out_of_order),
		cmocka_unit_test(test_late_report_superseded),
		cmocka_unit_test(test_window_across_restart),
		cmocka_unit_test(test_window_saved_compact),
		cmocka_unit_test(test_window_damaged),
		cmocka_unit_test(test_window_schema4),
		cmocka_unit_test(test_window_round_undone),
		cmocka_unit_test(test_member_dirty),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_round_undone),
		cmocka_unit_test(test_lift_after_eviction),
		cmocka_unit_test(test_admit_then_judge),
		cmocka_unit_test(test_member_back),
		cmocka_unit_test(test_slot_reuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
