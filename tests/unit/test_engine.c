/* test_engine.c: the detection engine over the stock sshd rule: one failure
 * per attempt for every OpenSSH message form, v4 and v6, injections that
 * must not frame anyone, escalation, allowlist and memory bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

#define A "203.0.113.66"     /* the attacker */
#define V "192.0.2.99"       /* an innocent the attacker tries to frame */
#define SEC 1000000LL

/* ---- one failure per attempt ---- */

static void test_failed_password_counts_each(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	h_line(&h, 0, 100, "Failed password for root from " A " port 4000 ssh2");
	h_line(&h, 1, 100, "Failed password for root from " A " port 4000 ssh2");
	h_line(&h, 2, 101, "Failed password for invalid user admin from " A " port 4001 ssh2");
	h_line(&h, 3, 102, "Failed keyboard-interactive/pam for root from " A " port 4002 ssh2");
	h_line(&h, 4, 103, "Failed publickey for git from " A " port 4003 ssh2: ED25519 SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ");
	assert_int_equal(h_failures(&h, A), 5);
	h_stop(&h);
}

static void test_invalid_user_then_try_counts_once(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	h_line(&h, 0, 200, "Invalid user admin from " A " port 5000");
	h_line(&h, 1, 200, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" A);
	h_line(&h, 1, 200, "Failed password for invalid user admin from " A " port 5000 ssh2");
	h_line(&h, 3, 200, "Failed password for invalid user admin from " A " port 5000 ssh2");
	h_line(&h, 4, 200, "error: maximum authentication attempts exceeded for invalid user admin from " A " port 5000 ssh2 [preauth]");
	h_line(&h, 4, 200, "Disconnecting invalid user admin " A " port 5000: Too many authentication failures [preauth]");
	h_line(&h, 4, 200, "PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" A);
	engine_finish(h.e);
	assert_int_equal(h_failures(&h, A), 2);
	h_stop(&h);
}

static void test_connection_ending_before_a_try_counts_once(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	/* user enumeration, closed with the user named, or by a plain close */
	h_line(&h, 0, 300, "Invalid user oracle from " A " port 6000");
	h_line(&h, 0, 300, "Connection closed by invalid user oracle " A " port 6000 [preauth]");
	h_line(&h, 1, 301, "Invalid user test from " A " port 6001");
	h_line(&h, 1, 301, "Connection closed by " A " port 6001 [preauth]");
	assert_int_equal(h_failures(&h, A), 2);
	/* key probes that give up */
	h_line(&h, 2, 302, "Connection closed by authenticating user root " A " port 6002 [preauth]");
	h_line(&h, 3, 303, "Received disconnect from " A " port 6003:11: Bye Bye [preauth]");
	h_line(&h, 3, 303, "Disconnected from authenticating user root " A " port 6003 [preauth]");
	h_line(&h, 4, 304, "Disconnected from invalid user x " A " port 6004 [preauth]");
	assert_int_equal(h_failures(&h, A), 5);
	/* scanners */
	h_line(&h, 5, 305, "Unable to negotiate with " A " port 6005: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]");
	h_line(&h, 6, 306, "banner exchange: Connection from " A " port 6006: invalid format");
	h_line(&h, 7, 307, "error: kex_exchange_identification: read: Connection reset by peer");
	h_line(&h, 7, 307, "Connection reset by " A " port 6007");
	assert_int_equal(h_failures(&h, A), 8);
	h_stop(&h);
}

static void test_lines_after_a_try_do_not_count_again(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	h_line(&h, 0, 400, "Failed password for root from " A " port 7000 ssh2");
	h_line(&h, 1, 400, "Connection closed by authenticating user root " A " port 7000 [preauth]");
	h_line(&h, 2, 401, "Failed password for invalid user bob from " A " port 7001 ssh2");
	h_line(&h, 2, 401, "Received disconnect from " A " port 7001:11: Bye Bye [preauth]");
	h_line(&h, 2, 401, "Disconnected from invalid user bob " A " port 7001 [preauth]");
	h_line(&h, 3, 402, "Failed none for invalid user carol from " A " port 7002 ssh2");
	h_line(&h, 3, 402, "Connection reset by invalid user carol " A " port 7002 [preauth]");
	engine_finish(h.e);
	assert_int_equal(h_failures(&h, A), 3);   /* two tries, and carol's connection once */
	h_stop(&h);
}

static void test_health_checks_are_not_failures(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 5);
	for (int i = 0; i < 50; i++) {
		h_line(&h, i, 500 + 2 * i, "Connection closed by " A " port 8000 [preauth]");
		h_line(&h, i, 501 + 2 * i, "error: kex_exchange_identification: Connection closed by remote host");
		h_line(&h, i, 501 + 2 * i, "Connection closed by " A " port 8001");
		h_line(&h, i, 501 + 2 * i, "Connection reset by " A " port 8002");  /* no reset before the banner */
	}
	engine_finish(h.e);
	assert_int_equal(h_total_failures(&h), 0);
	assert_int_equal(h.nsanctions, 0);
	h_stop(&h);
}

static void test_pending_counts_on_timeout_and_finish(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	h_line(&h, 0, 600, "Invalid user a from " A " port 9000");
	h_line(&h, 100, 601, "Accepted password for alice from 198.51.100.1 port 9001 ssh2");
	assert_int_equal(h_failures(&h, A), 0);             /* still connected */
	h_line(&h, 400, 602, "Invalid user b from " A " port 9002");   /* 400 s later: the first timed out */
	assert_int_equal(h_failures(&h, A), 1);
	engine_finish(h.e);
	assert_int_equal(h_failures(&h, A), 2);
	h_stop(&h);
}

/* Pending failures count at their connection's own time, not when they are
 * settled: five enumerations 4 minutes apart span 16 minutes, not one. */
static void test_pending_failures_keep_their_time(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	char msg[128];
	for (int i = 0; i < 5; i++) {
		snprintf(msg, sizeof(msg), "Invalid user u%d from " A " port %d", i, 5000 + i);
		h_line(&h, i * 240, 800 + i, msg);   /* none closes: each times out */
	}
	engine_finish(h.e);
	assert_int_equal(h_failures(&h, A), 5);
	assert_int_equal(h.nsanctions, 0);
	h_stop(&h);
}

static void test_bare_lines_ignored_by_default(void **state)
{
	(void)state;
	struct engine_config cfg = {.trust_bare = false};
	struct harness h;
	h_start_with(&h, 1, &cfg);
	const char *line = "Failed password for root from " A " port 1 ssh2";
	engine_feed_line(h.e, line, strlen(line), T0 * SEC);
	struct engine_stats st;
	engine_get_stats(h.e, &st);
	assert_int_equal(h_failures(&h, A), 0);
	assert_int_equal(st.bare_ignored, 1);
	h_stop(&h);
}

static void test_pid_reuse_starts_a_new_connection(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	h_line(&h, 0, 700, "Failed password for root from " A " port 1000 ssh2");
	/* same pid, another port: another connection; its pending is its own */
	h_line(&h, 50, 700, "Invalid user x from " A " port 1001");
	h_line(&h, 51, 700, "Connection closed by invalid user x " A " port 1001 [preauth]");
	assert_int_equal(h_failures(&h, A), 2);
	h_stop(&h);
}

static void test_bare_lines_without_pid(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	const char *lines[] = {
		"Invalid user z from " A " port 1100",
		"Failed password for invalid user z from " A " port 1100 ssh2",
		"Connection closed by invalid user z " A " port 1100 [preauth]",
		"Invalid user y from " A " port 1101",
		"Connection closed by invalid user y " A " port 1101 [preauth]",
	};
	for (size_t i = 0; i < 5; i++)
		engine_feed_line(h.e, lines[i], strlen(lines[i]), T0 * SEC);
	engine_finish(h.e);
	assert_int_equal(h_failures(&h, A), 2);
	h_stop(&h);
}

/* ---- other programs, bad input ---- */

static void test_only_sshd_lines(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	h_line_prog(&h, 0, "nginx", 5, "Failed password for root from " V " port 22 ssh2");
	h_line_prog(&h, 0, "sshd-session", 6, "Failed password for root from " A " port 22 ssh2");
	h_line_prog(&h, 0, "sshd", 7, "Failed password for root from 999.1.1.1 port 22 ssh2");
	char huge[ENGINE_MAX_LINE + 100];
	memset(huge, 'x', sizeof(huge));
	engine_feed_line(h.e, huge, sizeof(huge), T0 * SEC);
	struct engine_stats st;
	engine_get_stats(h.e, &st);
	assert_int_equal(h_failures(&h, V), 0);
	assert_int_equal(h_failures(&h, A), 1);
	assert_int_equal(st.bad_address, 1);
	assert_int_equal(st.oversized, 1);
	h_stop(&h);
}

/* ---- injections: the attacker A writes V into the text it controls ---- */

static const char *const injections[][2] = {
	{"Failed password for invalid user x from " V " port 22 ssh2 from " A " port 4242 ssh2", NULL},
	{"Failed password for invalid user a rhost=" V " from " A " port 4242 ssh2", NULL},
	{"Failed password for invalid user \"x\\\" from " V " port 22 ssh2\" from " A " port 4242 ssh2", NULL},
	/* a name "x#012Dec 31 18:00:00 web1 sshd[1]: Failed password ..." is cut by sshd at its first colon */
	{"Failed password for invalid user x#012Dec 31 18 from " A " port 4242 ssh2", NULL},
	{"Failed password for invalid user x\\012Failed password for root from " V " port 22 ssh2 from " A " port 4242 ssh2", NULL},
	{"Failed password for invalid user from " V " port 22 ssh2 from " V " port 22 ssh2 from " V " port 22 ssh2 from " V " port 22 from " A " port 4242 ssh2", NULL},
	/* "x from V port 22 ssh2: RSA SHA256:..." as a name: sshd cuts it at the colon */
	{"Failed publickey for x from " V " port 22 ssh2 from " A " port 4242 ssh2: ED25519 SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", NULL},
	/* a certificate key ID is free text, colons included */
	{"Failed publickey for root from " A " port 4242 ssh2: ED25519-CERT SHA256:abc ID x from " V " port 22 ssh2: RSA SHA256:def (serial 1) CA ED25519 SHA256:ghi", NULL},
	{"Invalid user root from " V " port 22 from " A " port 4242",
	 "Connection closed by invalid user root from " V " port 22 " A " port 4242 [preauth]"},
	{"Invalid user u [preauth] " V " port 22 [preauth] from " A " port 4242",
	 "Connection closed by invalid user u [preauth] " V " port 22 [preauth] " A " port 4242 [preauth]"},
	{"Invalid user v " V " port 22 [preauth] from " A " port 4242",
	 "Disconnected from invalid user v " V " port 22 [preauth] " A " port 4242 [preauth]"},
	{"Unable to negotiate with " A " port 4242: no matching key exchange method found. Their offer: x from " V " port 22 ssh2 [preauth]", NULL},
	{"Invalid user  from " A " port 4242", "Connection closed by invalid user  " A " port 4242 [preauth]"},
	{"Failed password for invalid user Connection closed by " V " port 22 [preauth] from " A " port 4242 ssh2", NULL},
	/* "banner exchange: Connection from V port 22: invalid format" as a name, cut at its colon */
	{"Failed password for invalid user banner exchange from " A " port 4242 ssh2", NULL},
};

/* Lines that name V only in attacker text and have no sshd part of their own,
 * and lines sshd cannot write (a user name with a colon) built to frame V. */
static const char *const framing_only[] = {
	"Failed password for invalid user x#012Dec 31 18:00:00 web1 sshd[1]: Failed password for root from " V " port 22 ssh2",
	"Failed publickey for root from " A " port 4242 ssh2: RSA-CERT SHA256:abc ID x from " V " port 22 ssh2",
	"Received disconnect from " A " port 4242:11: Failed password for root from " V " port 22 ssh2 [preauth]",
	"Failed publickey for root from " A " port 4242 ssh2: RSA-CERT SHA256:abc ID evil from " V " port 22 ssh2: RSA SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ (serial 1) CA ED25519 SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
	"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" V "  user=root",
	"Bad protocol version identification 'Failed password for root from " V " port 22 ssh2' from " A " port 4242",
};

static void test_injections_catch_the_attacker_frame_no_one(void **state)
{
	(void)state;
	size_t n = sizeof(injections) / sizeof(*injections);
	for (size_t i = 0; i < n; i++) {
		struct harness h;
		h_start(&h, 1000);
		h_line(&h, 0, 900, injections[i][0]);
		if (injections[i][1])
			h_line(&h, 1, 900, injections[i][1]);
		engine_finish(h.e);
		if (h_failures(&h, A) != 1 || h_failures(&h, V) != 0)
			fail_msg("injection %zu: attacker counted %u, victim %u: %s", i, h_failures(&h, A),
				 h_failures(&h, V), injections[i][0]);
		h_stop(&h);
	}
	assert_true(n >= 12);
}

/* sshd logs through syslog with "%.500s": a certificate key ID sized to
 * the cut ends the line with text the attacker chose. */
static void test_key_id_cut_at_500_bytes(void **state)
{
	(void)state;
	char line[512];
	const char *head = "Failed publickey for invalid user x from " A " port 4242 ssh2: ED25519-CERT SHA256:abc ID ";
	const char *tail = " from " V " port 22 ssh2";
	size_t pad = 500 - strlen(head) - strlen(tail);
	snprintf(line, sizeof(line), "%s%.*s%s", head, (int)pad,
		 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
		 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", tail);
	assert_int_equal(strlen(line), 500);
	struct harness h;
	h_start(&h, 1000);
	for (int i = 0; i < 5; i++)
		h_line(&h, i, 990 + i, line);
	assert_int_equal(h_failures(&h, V), 0);
	assert_int_equal(h_failures(&h, A), 5);
	h_stop(&h);
}

static void test_framing_only_lines_count_nothing(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	for (size_t i = 0; i < sizeof(framing_only) / sizeof(*framing_only); i++)
		h_line(&h, (long)i, 950 + (int)i, framing_only[i]);
	engine_finish(h.e);
	assert_int_equal(h_failures(&h, V), 0);
	h_stop(&h);
}

/* ---- addresses ---- */

static void test_ipv6_prefix_and_mapped(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	char msg[200];
	/* five addresses of one /64, in several written forms: one sanction of the /64 */
	const char *v6[] = {"2001:db8:0:7::1", "2001:db8:0:7:0:0:0:2", "2001:0db8:0000:0007::3",
			    "2001:db8:0:7:ffff::4", "2001:db8:0:7::5"};
	for (int i = 0; i < 5; i++) {
		snprintf(msg, sizeof(msg), "Failed password for root from %s port %d ssh2", v6[i], 1000 + i);
		h_line(&h, i, 1000 + i, msg);
	}
	/* mapped IPv4 is the IPv4 address */
	for (int i = 0; i < 5; i++)
		h_line(&h, 10 + i, 1100 + i, "Failed password for root from ::ffff:203.0.113.9 port 2000 ssh2");
	assert_int_equal(h.nsanctions, 2);
	char text[ADDR_STRLEN];
	assert_string_equal(addr_format(&h.sanctions[0].addr, text, sizeof(text)), "2001:db8:0:7::/64");
	assert_string_equal(addr_format(&h.sanctions[1].addr, text, sizeof(text)), "203.0.113.9");
	h_stop(&h);
}

static void test_allowlist(void **state)
{
	(void)state;
	struct addr net;
	assert_int_equal(addr_parse_cidr("198.51.100.0/24", &net), 0);
	struct engine_config cfg = {.allowlist = &net, .nallowlist = 1};
	struct harness h;
	h_start_with(&h, 0, &cfg);
	for (int i = 0; i < 20; i++) {
		h_line(&h, i, 1200 + i, "Failed password for root from 127.0.0.1 port 3000 ssh2");
		h_line(&h, i, 1300 + i, "Failed password for root from ::1 port 3000 ssh2");
		h_line(&h, i, 1400 + i, "Failed password for root from ::ffff:127.0.0.2 port 3000 ssh2");
		h_line(&h, i, 1500 + i, "Failed password for root from 198.51.100.200 port 3000 ssh2");
		h_line(&h, i, 1600 + i, "Failed password for root from ::2 port 3000 ssh2");
	}
	struct engine_stats st;
	engine_get_stats(h.e, &st);
	assert_int_equal(st.allowlisted, 80);
	/* ::2 shares ::/64 with ::1: only ::2 itself is sanctioned, never the /64. */
	assert_int_equal(h.nsanctions, 1);
	char text[ADDR_STRLEN];
	assert_string_equal(addr_format(&h.sanctions[0].addr, text, sizeof(text)), "::2");
	h_stop(&h);
}

/* ---- sanctions over time ---- */

static void burst(struct harness *h, long t, int pid_base)
{
	for (int i = 0; i < 5; i++)
		h_line(h, t + i, pid_base + i, "Failed password for root from " A " port 5555 ssh2");
}

static void test_sanction_fields_and_escalation(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	/* Escalation alone: recidive (test_recidive) would cut in at the third. */
	h_scenario(&h, "recidive")->threshold = 1000;
	engine_free(h.e);
	h.e = engine_new(h.rs, &h.cfg);
	burst(&h, 0, 2000);
	assert_int_equal(h.nsanctions, 1);
	struct sanction *s = &h.sanctions[0];
	assert_int_equal(s->attempts, 5);
	assert_int_equal(s->first_seen_us, T0 * SEC);
	assert_int_equal(s->last_seen_us, (T0 + 4) * SEC);
	assert_int_equal(s->duration_us, 600 * SEC);
	assert_int_equal(s->offence, 1);
	/* While sanctioned, failures are not counted... */
	burst(&h, 100, 2100);
	assert_int_equal(h.nsanctions, 1);
	/* ...after it expires they are, and the repeat doubles: 1200, 2400, ... */
	long t = 700;
	int64_t expect = 1200;
	for (unsigned offence = 2; offence <= 12; offence++) {
		burst(&h, t, 2200 + (int)offence * 10);
		assert_int_equal(h.nsanctions, offence);
		assert_int_equal(h.sanctions[offence - 1].offence, offence);
		assert_int_equal(h.sanctions[offence - 1].duration_us, expect * SEC);
		t += (long)(h.sanctions[offence - 1].duration_us / SEC) + 10;
		expect = expect * 2 > 604800 ? 604800 : expect * 2;
	}
	/* Capped at one week; after more than a week of calm since the last
	 * sanction ended, forgiven. */
	assert_int_equal(h.sanctions[11].duration_us, 604800 * SEC);
	int64_t last_end = h.sanctions[11].created_us / SEC + 604800 - T0;
	burst(&h, last_end + 604700, 2900);       /* within the memory: still escalated */
	assert_int_equal(h.sanctions[h.nsanctions - 1].offence, 13);
	last_end = h.sanctions[h.nsanctions - 1].created_us / SEC + 604800 - T0;
	burst(&h, last_end + 604800 + 100, 3000);
	assert_int_equal(h.sanctions[h.nsanctions - 1].offence, 1);
	assert_int_equal(h.sanctions[h.nsanctions - 1].duration_us, 600 * SEC);
	h_stop(&h);
}

/* The third sanction within a day, by any scenario, becomes recidive's:
 * one sanction, a week long; failures meanwhile count nothing. */
static void test_recidive(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	burst(&h, 0, 2000);                               /* sshd: 600 s */
	burst(&h, 700, 2100);                             /* sshd: 1200 s */
	assert_int_equal(h.nsanctions, 2);
	assert_string_equal(h.sanctions[1].scenario->name, "sshd");
	burst(&h, 700 + 1210, 2200);
	assert_int_equal(h.nsanctions, 3);
	struct sanction *s = &h.sanctions[2];
	assert_string_equal(s->scenario->name, "recidive");
	assert_int_equal(s->duration_us, 604800 * SEC);
	assert_int_equal(s->attempts, 3);
	assert_int_equal(s->offence, 3);
	assert_int_equal(s->first_seen_us, (T0 + 4) * SEC);   /* the first sanction's time */
	burst(&h, 700 + 1210 + 86400, 2300);              /* a day later: still sanctioned */
	assert_int_equal(h.nsanctions, 3);
	assert_int_equal(h.last_verdict, VERDICT_WHILE_SANCTIONED);
	struct engine_stats st;
	engine_get_stats(h.e, &st);
	assert_int_equal(st.recidives, 1);
	h_stop(&h);

	/* Three sanctions spread over more than a day: escalation only. */
	h_start(&h, 0);
	burst(&h, 0, 2000);
	burst(&h, 50000, 2100);
	burst(&h, 90000, 2200);
	assert_int_equal(h.nsanctions, 3);
	assert_string_equal(h.sanctions[2].scenario->name, "sshd");
	assert_int_equal(h.sanctions[2].duration_us, 2400 * SEC);
	h_stop(&h);
}

/* Sanctions by different scenarios count together; a web log's own time
 * is used (its lines carry no syslog header). */
static void test_recidive_across_scenarios(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	burst(&h, 0, 2000);                               /* sshd, at T0 */
	for (int i = 0; i < 3; i++)                       /* web-probe, at T0 + 1000 s */
		h_raw(&h, A " - - [27/Nov/2026:00:16:40 +0000] \"GET /.env HTTP/1.1\" 404 153 \"-\" \"x\"");
	assert_int_equal(h.nsanctions, 2);
	assert_string_equal(h.sanctions[1].scenario->name, "web-probe");
	assert_int_equal(h.sanctions[1].created_us, (T0 + 1000) * SEC);
	assert_int_equal(h.sanctions[1].offence, 2);          /* offences are the key's, any scenario */
	assert_int_equal(h.sanctions[1].duration_us, 2 * 3600 * SEC);
	h_line_prog(&h, 9000, "postfix/smtpd", 300, "warning: unknown[" A "]: SASL PLAIN authentication failed: x");
	for (int i = 0; i < 4; i++)
		h_line_prog(&h, 9001 + i, "postfix/smtpd", 300, "warning: unknown[" A "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6");
	assert_int_equal(h.nsanctions, 3);
	assert_string_equal(h.sanctions[2].scenario->name, "recidive");
	assert_int_equal(h.sanctions[2].duration_us, 604800 * SEC);
	h_stop(&h);
}

/* ProFTPD writes a user name's line feed raw into its own SystemLog file,
 * so a client writes lines there (tests/corpus/proftpd/). pactod reads no
 * line without a syslog header for proftpd (not headerless): only its
 * syslog or journal lines count. */
static void test_proftpd_reads_no_bare_line(void **state)
{
	(void)state;
	struct engine_config cfg = {.trust_bare = false};
	struct harness h;
	h_start_with(&h, 0, &cfg);
	h_raw(&h, "Debian (192.0.2.99[192.0.2.99]) - USER t: no such user found from 192.0.2.2 [192.0.2.2] to "
		  "::ffff:192.0.2.1:2121");
	assert_int_equal(h_total_failures(&h), 0);
	h_line_prog(&h, 1, "proftpd", 29867, "localhost (192.0.2.2[192.0.2.2]) - USER a#012Debian (192.0.2.99[192.0.2.99]) "
		    "- USER t: no such user found from 192.0.2.2 [192.0.2.2] to ::ffff:192.0.2.1:2122");
	assert_int_equal(h_failures(&h, "192.0.2.2"), 1);
	assert_int_equal(h_total_failures(&h), 1);
	h_stop(&h);
}

static void test_slow_attacker_never_reaches_threshold(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 0);
	for (int i = 0; i < 100; i++)
		h_line(&h, i * 151, 4000 + i, "Failed password for root from " A " port 5555 ssh2");
	assert_int_equal(h.nsanctions, 0);
	assert_int_equal(h_failures(&h, A), 100);
	h_stop(&h);
}

/* ---- bounds ---- */

static void test_memory_bounded_under_unique_sources(void **state)
{
	(void)state;
	struct engine_config cfg = {.max_sources = 1000, .max_connections = 500};
	struct harness h;
	h_start_with(&h, 0, &cfg);
	struct engine_stats before, after;
	char msg[128];
	for (int i = 0; i < 400000; i++) {
		if (i == 200000)
			engine_get_stats(h.e, &before);
		snprintf(msg, sizeof(msg), "Invalid user x from 100.%d.%d.%d port 4000", 64 + (i >> 16) % 64,
			 (i >> 8) & 255, i & 255);
		h_line(&h, i / 100, 10000 + i, msg);
	}
	engine_get_stats(h.e, &after);
	/* Full since long before the 200000th source: not a byte more since. */
	assert_int_equal(after.memory_bytes, before.memory_bytes);
	assert_true(after.memory_bytes <= after.memory_bound);
	assert_true(after.connection_evictions > 0);
	assert_true(after.source_evictions > 0);
	/* An evicted connection still settles its pending failure. */
	assert_true(after.failures >= after.connection_evictions);
	h_stop(&h);
}

static void test_journal_json_event(void **state)
{
	(void)state;
	struct harness h;
	h_start(&h, 1000);
	struct log_event ev;
	memset(&ev, 0, sizeof(ev));
	const char *msg = "Failed password for root from " A " port 1 ssh2";
	ev.msg = msg;
	ev.msg_len = strlen(msg);
	ev.prog = "sshd";
	ev.prog_len = 4;
	ev.has_header = true;
	ev.pid = 77;
	ev.ts_format = TS_EPOCH_US;
	ev.time_us = T0 * SEC;
	engine_feed_event(h.e, &ev, 0);
	assert_int_equal(h_failures(&h, A), 1);
	assert_int_equal(engine_now(h.e), T0 * SEC);
	h_stop(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failed_password_counts_each),
		cmocka_unit_test(test_invalid_user_then_try_counts_once),
		cmocka_unit_test(test_connection_ending_before_a_try_counts_once),
		cmocka_unit_test(test_lines_after_a_try_do_not_count_again),
		cmocka_unit_test(test_health_checks_are_not_failures),
		cmocka_unit_test(test_pending_counts_on_timeout_and_finish),
		cmocka_unit_test(test_pending_failures_keep_their_time),
		cmocka_unit_test(test_bare_lines_ignored_by_default),
		cmocka_unit_test(test_pid_reuse_starts_a_new_connection),
		cmocka_unit_test(test_bare_lines_without_pid),
		cmocka_unit_test(test_only_sshd_lines),
		cmocka_unit_test(test_injections_catch_the_attacker_frame_no_one),
		cmocka_unit_test(test_framing_only_lines_count_nothing),
		cmocka_unit_test(test_key_id_cut_at_500_bytes),
		cmocka_unit_test(test_ipv6_prefix_and_mapped),
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_sanction_fields_and_escalation),
		cmocka_unit_test(test_recidive),
		cmocka_unit_test(test_recidive_across_scenarios),
		cmocka_unit_test(test_proftpd_reads_no_bare_line),
		cmocka_unit_test(test_slow_attacker_never_reaches_threshold),
		cmocka_unit_test(test_memory_bounded_under_unique_sources),
		cmocka_unit_test(test_journal_json_event),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
