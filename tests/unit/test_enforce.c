/* test_enforce.c: the enforcer's front over the dry-run backend: what it
 * refuses, the exact nft text it writes for a batch, coalescing, chunking,
 * and recovery when a transaction fails or the table is gone. No root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/addr.h"
#include "common/log.h"
#include "enforce/enforce.h"

static const struct enforce_limits defaults = {ENFORCE_WIDEST_V4_DEFAULT, ENFORCE_WIDEST_V6_DEFAULT};

static struct addr cidr(const char *s)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(s, &a), 0);
	return a;
}

/* An address as a buggy or hostile caller might build it. */
static struct addr raw(uint8_t family, uint8_t prefix, const char *bytes_from)
{
	struct addr a = cidr(bytes_from);
	a.family = family;
	a.prefix = prefix;
	return a;
}

static struct enforce_op op_add(const char *s, uint32_t secs)
{
	return (struct enforce_op){.kind = ENFORCE_ADD, .duration_s = secs, .addr = cidr(s)};
}

static struct enforce_op op_remove(const char *s)
{
	return (struct enforce_op){.kind = ENFORCE_REMOVE, .addr = cidr(s)};
}

static int open_dryrun(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	enforce_dryrun_set_refresh(false);
	if (enforce_open("dryrun", NULL, err, sizeof(err)) != 0 || enforce_reset(err, sizeof(err)) != 0)
		return -1;
	enforce_dryrun_clear();  /* tests count their own transactions */
	return 0;
}

static int close_dryrun(void **state)
{
	(void)state;
	enforce_close();
	return 0;
}

static void assert_render(const struct enforce_op *ops, size_t n, bool refresh, struct enforce_shape *shape,
			  const char *want)
{
	char *text = enforce_render_batch(ops, n, refresh, shape);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

/* ---- Validation ---------------------------------------------------------- */

static void test_check_refuses(void **state)
{
	(void)state;
	struct addr bad[] = {
		raw(0, 32, "192.0.2.1"),                 /* no family */
		raw(AF_UNIX, 32, "192.0.2.1"),           /* another family */
		raw(AF_INET, 33, "192.0.2.1"),           /* prefix past the address */
		raw(AF_INET6, 129, "2001:db8::1"),
		raw(AF_INET, 24, "192.0.2.1"),           /* host bits set */
		raw(AF_INET6, 64, "2001:db8::1"),
		raw(AF_INET, 0, "0.0.0.0"),              /* /0 */
		raw(AF_INET6, 0, "::"),
		cidr("198.51.0.0/16"),                   /* wider than /24 */
		cidr("2001:db8::/32"),                   /* wider than /48 */
		cidr("127.0.0.1"),                       /* loopback */
		cidr("0.0.0.0"),                         /* this network */
		cidr("::1"),
		cidr("::"),
		raw(AF_INET6, 128, "::"),                /* made IPv4-mapped below */
	};
	bad[14].bytes[10] = bad[14].bytes[11] = 0xff;
	bad[14].bytes[15] = 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!enforce_check(&bad[i], &defaults))
			fail_msg("accepted bad address #%zu", i);
	}
	/* An IPv4 address must leave bytes 4..15 zero. */
	struct addr junk = cidr("192.0.2.1");
	junk.bytes[9] = 1;
	assert_non_null(enforce_check(&junk, &defaults));
	assert_string_equal(enforce_check(&bad[8], &defaults), "prefix wider than the widest allowed");
	assert_string_equal(enforce_check(&bad[4], &defaults), "bits set past the prefix");
}

static void test_check_accepts(void **state)
{
	(void)state;
	const char *good[] = {"192.0.2.1", "198.51.100.0/24", "203.0.113.128/25", "2001:db8::1",
			      "2001:db8::/64", "2001:db8:1::/48", "1.0.0.0/24"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct addr a = cidr(good[i]);
		const char *why = enforce_check(&a, &defaults);
		if (why)
			fail_msg("refused %s: %s", good[i], why);
	}
	struct addr a16closed = cidr("198.51.0.0/16");
	assert_non_null(enforce_check(&a16closed, NULL));  /* closed: the defaults */
	struct enforce_limits wide = {16, 32};
	struct addr a16 = cidr("198.51.0.0/16"), a32 = cidr("2001:db8::/32");
	assert_null(enforce_check(&a16, &wide));
	assert_null(enforce_check(&a32, &wide));
}

/* Each reserved network: an address in it, a prefix in it (the widest the
 * defaults allow), and the name the refusal gives. */
static void test_check_refuses_reserved(void **state)
{
	(void)state;
	static const struct {
		const char *addr, *named;
	} bad[] = {
		{"169.254.0.1", "link-local, 169.254.0.0/16"},
		{"169.254.169.254", "link-local"},
		{"169.254.255.0/24", "link-local"},
		{"224.0.0.1", "multicast, 224.0.0.0/4"},
		{"224.0.0.0/24", "multicast"},
		{"239.255.255.250", "multicast"},
		{"240.0.0.1", "reserved and broadcast, 240.0.0.0/4"},
		{"255.255.255.255", "broadcast"},
		{"255.255.255.0/24", "broadcast"},
		{"fe80::1", "link-local, fe80::/10"},
		{"fe80::/64", "link-local"},
		{"febf:ffff::/48", "link-local"},
		{"ff02::1", "multicast, ff00::/8"},
		{"ff02::/64", "multicast"},
		{"ff05::1:3", "multicast"},
		{"127.0.0.1", "loopback, 127.0.0.0/8"},
		{"0.0.0.5", "this network, 0.0.0.0/8"},
		{"::1", "::/80"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct addr a = cidr(bad[i].addr);
		const char *why = enforce_check(&a, &defaults);
		if (!why || !strstr(why, "reserved network") || !strstr(why, bad[i].named))
			fail_msg("%s: %s, wanted a reserved network naming %s", bad[i].addr, why ? why : "accepted",
				 bad[i].named);
	}
}

/* A prefix that covers a reserved network is refused too, when the limits
 * allow prefixes that wide; its neighbours are not reserved. */
static void test_check_refuses_covering(void **state)
{
	(void)state;
	const struct enforce_limits wide = {1, 1};
	const char *covering[] = {"169.0.0.0/8", "169.254.0.0/15", "224.0.0.0/3", "192.0.0.0/2", "240.0.0.0/5",
				  "fe80::/9", "fe00::/7", "f000::/4", "8000::/1", "ff00::/8"};
	for (size_t i = 0; i < sizeof(covering) / sizeof(covering[0]); i++) {
		struct addr a = cidr(covering[i]);
		const char *why = enforce_check(&a, &wide);
		if (!why || !strstr(why, "reserved network"))
			fail_msg("%s: %s, wanted a reserved network", covering[i], why ? why : "accepted");
	}
	const char *neighbours[] = {"169.253.255.255", "169.255.0.1", "223.255.255.255", "223.255.255.0/24",
				    "fe7f:ffff::1", "fec0::1", "fd00::/64", "fe00::1", "feff::/48", "2001:db8::/64"};
	for (size_t i = 0; i < sizeof(neighbours) / sizeof(neighbours[0]); i++) {
		struct addr a = cidr(neighbours[i]);
		const char *why = enforce_check(&a, &defaults);
		if (why)
			fail_msg("refused %s: %s", neighbours[i], why);
	}
}

/* A refused address in a probe is said absent; the others are looked up
 * (the dry-run backend says present): a ledger row from before the reserved
 * networks grew must not stop the repair of the rest. */
static void test_probe_refused_absent(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	struct addr addrs[] = {cidr("192.0.2.1"), cidr("fe80::/64"), cidr("2001:db8::1"), cidr("224.0.0.1")};
	bool present[4] = {false, true, false, true};
	assert_int_equal(enforce_probe(addrs, 4, present, err, sizeof(err)), 0);
	assert_true(present[0]);
	assert_false(present[1]);
	assert_true(present[2]);
	assert_false(present[3]);
	assert_int_equal(enforce_probe(addrs, 0, present, err, sizeof(err)), 0);
}

static void test_add_refuses(void **state)
{
	(void)state;
	struct addr ok = cidr("192.0.2.1"), loop = cidr("127.0.0.1");
	struct addr hostbits = raw(AF_INET, 24, "192.0.2.1");

	errno = 0;
	assert_int_equal(enforce_add(&loop, 60), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(enforce_remove(&hostbits), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(enforce_add(&ok, 0), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(enforce_add(&ok, ENFORCE_MAX_DURATION_S + 1), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(enforce_pending(), 0);
	assert_int_equal(enforce_get_stats()->refused, 4);
	assert_int_equal(enforce_add(&ok, ENFORCE_MAX_DURATION_S), 0);
	assert_int_equal(enforce_pending(), 1);
}

static void test_open_errors(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	struct addr a = cidr("192.0.2.1");
	struct enforce_limits zero = {0, 48};

	assert_int_equal(enforce_add(&a, 60), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(enforce_open("iptables", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown backend \"iptables\""));
	assert_int_equal(enforce_open("dryrun", &zero, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "widest prefixes"));
	assert_int_equal(enforce_open("dryrun", NULL, err, sizeof(err)), 0);
	assert_int_equal(enforce_open("dryrun", NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already open"));
	enforce_close();
	enforce_close();  /* harmless */
}

/* ---- Rendering ------------------------------------------------------------ */

static void test_render_table(void **state)
{
	(void)state;
	assert_string_equal(enforce_render_table(),
		"add table inet pacto\n"
		"delete table inet pacto\n"
		"table inet pacto {\n"
		"\tset v4 { type ipv4_addr; flags timeout; }\n"
		"\tset v6 { type ipv6_addr; flags timeout; }\n"
		"\tchain input { type filter hook input priority filter - 10; policy accept; "
		"ip saddr @v4 drop; ip6 saddr @v6 drop; }\n"
		"\tchain forward { type filter hook forward priority filter - 10; policy accept; "
		"ip saddr @v4 drop; ip6 saddr @v6 drop; }\n"
		"}\n");
}

/* Without the refresh probe: every element is added and deleted first, so
 * the transaction succeeds whatever the sets held. */
static void test_render_portable(void **state)
{
	(void)state;
	struct enforce_op ops[] = {op_add("192.0.2.7", 600), op_add("2001:db8::/64", 3600),
				   op_add("192.0.2.1", 60), op_remove("198.51.100.9")};
	struct enforce_shape shape = {0};
	assert_render(ops, 4, false, &shape,
		"add element inet pacto v4 { 192.0.2.1, 192.0.2.7, 198.51.100.9 }\n"
		"delete element inet pacto v4 { 192.0.2.1, 192.0.2.7, 198.51.100.9 }\n"
		"add element inet pacto v4 { 192.0.2.1 timeout 60s, 192.0.2.7 timeout 600s }\n"
		"add set inet pacto v6_64 { type ipv6_addr; flags timeout; }\n"
		"add rule inet pacto input ip6 saddr & ffff:ffff:ffff:ffff:: @v6_64 drop\n"
		"add rule inet pacto forward ip6 saddr & ffff:ffff:ffff:ffff:: @v6_64 drop\n"
		"add element inet pacto v6_64 { 2001:db8:: }\n"
		"delete element inet pacto v6_64 { 2001:db8:: }\n"
		"add element inet pacto v6_64 { 2001:db8:: timeout 3600s }\n");
	assert_true(shape.v6[64]);
	assert_false(shape.v6[128] || shape.v4[32] || shape.v4[24]);
}

/* When re-adding renews a timeout, only removals need add+delete; an
 * existing prefix set is not created again. */
static void test_render_refresh(void **state)
{
	(void)state;
	struct enforce_op ops[] = {op_add("192.0.2.7", 600), op_add("2001:db8::/64", 3600),
				   op_add("192.0.2.1", 60), op_remove("198.51.100.9"),
				   op_add("203.0.113.0/24", 120)};
	struct enforce_shape shape = {0};
	shape.v6[64] = true;
	assert_render(ops, 5, true, &shape,
		"add set inet pacto v4_24 { type ipv4_addr; flags timeout; }\n"
		"add rule inet pacto input ip saddr & 255.255.255.0 @v4_24 drop\n"
		"add rule inet pacto forward ip saddr & 255.255.255.0 @v4_24 drop\n"
		"add element inet pacto v4_24 { 203.0.113.0 timeout 120s }\n"
		"add element inet pacto v4 { 198.51.100.9 }\n"
		"delete element inet pacto v4 { 198.51.100.9 }\n"
		"add element inet pacto v4 { 192.0.2.1 timeout 60s, 192.0.2.7 timeout 600s }\n"
		"add element inet pacto v6_64 { 2001:db8:: timeout 3600s }\n");
	assert_true(shape.v4[24]);
}

/* For one address the last operation queued wins. */
static void test_render_coalesces(void **state)
{
	(void)state;
	struct enforce_op ops[] = {op_add("192.0.2.1", 10), op_add("192.0.2.2", 10), op_remove("192.0.2.3"),
				   op_add("192.0.2.1", 20), op_remove("192.0.2.2"), op_add("192.0.2.3", 30)};
	struct enforce_shape shape = {0};
	assert_render(ops, 6, true, &shape,
		"add element inet pacto v4 { 192.0.2.2 }\n"
		"delete element inet pacto v4 { 192.0.2.2 }\n"
		"add element inet pacto v4 { 192.0.2.1 timeout 20s, 192.0.2.3 timeout 30s }\n");
}

/* Removing from a prefix set that was never created is nothing to do. */
static void test_render_remove_missing_set(void **state)
{
	(void)state;
	struct enforce_op ops[] = {op_remove("198.51.100.0/24"), op_remove("2001:db8:1::/48")};
	struct enforce_shape shape = {0};
	assert_render(ops, 2, false, &shape, "");
	shape.v4[24] = true;
	assert_render(ops, 2, false, &shape,
		"add element inet pacto v4_24 { 198.51.100.0 }\n"
		"delete element inet pacto v4_24 { 198.51.100.0 }\n");
	assert_false(shape.v6[48]);
	assert_render(ops, 0, false, &shape, "");
}

/* ---- Commit over the dry-run backend ------------------------------------------ */

static void queue_add(const char *s, uint32_t secs)
{
	struct addr a = cidr(s);
	assert_int_equal(enforce_add(&a, secs), 0);
}

static void queue_remove(const char *s)
{
	struct addr a = cidr(s);
	assert_int_equal(enforce_remove(&a), 0);
}

static void commit_ok(void)
{
	char err[ENFORCE_ERRLEN];
	if (enforce_commit(NULL, NULL, err, sizeof(err)) != 0)
		fail_msg("commit: %s", err);
	assert_int_equal(enforce_pending(), 0);
}

static void test_reset_transaction(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	assert_int_equal(enforce_reset(err, sizeof(err)), 0);
	assert_int_equal(enforce_dryrun_count(), 1);
	assert_string_equal(enforce_dryrun_text(0), enforce_render_table());
	assert_int_equal(enforce_table_present(err, sizeof(err)), 1);
}

static void test_commit_one_transaction(void **state)
{
	(void)state;
	queue_add("192.0.2.9", 300);
	queue_add("2001:db8::/64", 300);
	assert_int_equal(enforce_pending(), 2);
	commit_ok();
	assert_int_equal(enforce_dryrun_count(), 1);
	assert_string_equal(enforce_dryrun_text(0),
		"add element inet pacto v4 { 192.0.2.9 }\n"
		"delete element inet pacto v4 { 192.0.2.9 }\n"
		"add element inet pacto v4 { 192.0.2.9 timeout 300s }\n"
		"add set inet pacto v6_64 { type ipv6_addr; flags timeout; }\n"
		"add rule inet pacto input ip6 saddr & ffff:ffff:ffff:ffff:: @v6_64 drop\n"
		"add rule inet pacto forward ip6 saddr & ffff:ffff:ffff:ffff:: @v6_64 drop\n"
		"add element inet pacto v6_64 { 2001:db8:: }\n"
		"delete element inet pacto v6_64 { 2001:db8:: }\n"
		"add element inet pacto v6_64 { 2001:db8:: timeout 300s }\n");
	/* The /64 set now exists: not created again, and a removal reaches it. */
	queue_remove("2001:db8::/64");
	commit_ok();
	assert_string_equal(enforce_dryrun_text(1),
		"add element inet pacto v6_64 { 2001:db8:: }\n"
		"delete element inet pacto v6_64 { 2001:db8:: }\n");
	/* An empty commit applies nothing. */
	commit_ok();
	assert_int_equal(enforce_dryrun_count(), 2);
	const struct enforce_stats *s = enforce_get_stats();
	assert_int_equal(s->queued, 3);
	assert_int_equal(s->applied, 3);
	assert_int_equal(s->transactions, 2);
}

/* A reset forgets the prefix sets: the next /64 creates its set again. */
static void test_reset_forgets_prefix_sets(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	queue_add("2001:db8::/64", 60);
	commit_ok();
	queue_add("2001:db8:0:1::/64", 60);
	assert_int_equal(enforce_reset(err, sizeof(err)), 0);
	assert_int_equal(enforce_pending(), 0);  /* the reset dropped the queue */
	queue_add("2001:db8::/64", 60);
	commit_ok();
	assert_int_equal(enforce_dryrun_count(), 3);
	assert_non_null(strstr(enforce_dryrun_text(2), "add set inet pacto v6_64"));
}

static char failed_addr[ADDR_STRLEN];
static int nfailed;

static void on_fail(void *arg, const struct enforce_op *op, const char *why)
{
	assert_ptr_equal(arg, &nfailed);
	assert_non_null(strstr(why, "injected failure"));
	addr_format(&op->addr, failed_addr, sizeof(failed_addr));
	nfailed++;
}

/* One element the kernel refuses: its batch is retried element by element,
 * the others apply, and only it is reported. */
static void test_commit_retries_alone(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	queue_add("192.0.2.65", 60);
	queue_add("192.0.2.66", 60);
	queue_add("192.0.2.67", 60);
	enforce_dryrun_fail_on("192.0.2.66");
	nfailed = 0;
	assert_int_equal(enforce_commit(on_fail, &nfailed, err, sizeof(err)), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(nfailed, 1);
	assert_string_equal(failed_addr, "192.0.2.66");
	assert_non_null(strstr(err, "injected failure"));
	assert_int_equal(enforce_dryrun_count(), 2);
	assert_non_null(strstr(enforce_dryrun_text(0), "{ 192.0.2.65 }"));
	assert_non_null(strstr(enforce_dryrun_text(1), "{ 192.0.2.67 }"));
	const struct enforce_stats *s = enforce_get_stats();
	assert_int_equal(s->failed, 1);
	assert_int_equal(s->retries, 1);
	assert_int_equal(s->applied, 2);
	enforce_dryrun_fail_on(NULL);
}

/* The table deleted behind our back: commit says ENOENT and drops the
 * queue; after a reset the enforcer works again. */
static void test_commit_table_gone(void **state)
{
	(void)state;
	char err[ENFORCE_ERRLEN];
	enforce_dryrun_set_present(false);
	assert_int_equal(enforce_table_present(err, sizeof(err)), 0);
	queue_add("192.0.2.5", 60);
	nfailed = 0;
	assert_int_equal(enforce_commit(on_fail, &nfailed, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(nfailed, 0);  /* not reported one by one: the table is the problem */
	assert_non_null(strstr(err, "inet pacto is gone"));
	assert_int_equal(enforce_pending(), 0);
	assert_int_equal(enforce_get_stats()->dropped, 1);
	assert_int_equal(enforce_get_stats()->retries, 0);
	assert_int_equal(enforce_reset(err, sizeof(err)), 0);
	assert_int_equal(enforce_table_present(err, sizeof(err)), 1);
	queue_add("192.0.2.5", 60);
	commit_ok();
}

/* A large queue goes in transactions of ENFORCE_CHUNK operations. */
static void test_commit_chunks(void **state)
{
	(void)state;
	enum { N = 2 * ENFORCE_CHUNK + 100 };
	for (unsigned i = 0; i < N; i++) {
		struct addr a = cidr("2001:db8::");
		a.bytes[14] = (uint8_t)(i >> 8);
		a.bytes[15] = (uint8_t)i;
		assert_int_equal(enforce_add(&a, 60), 0);
	}
	commit_ok();
	assert_int_equal(enforce_dryrun_count(), 3);
	for (size_t t = 0; t < 3; t++) {
		const char *text = enforce_dryrun_text(t);
		const char *adds = strrchr(text, '{');  /* the last command: the timed adds */
		size_t n = 0;
		for (const char *p = adds; (p = strstr(p, " timeout ")); p++)
			n++;
		assert_int_equal(n, t < 2 ? ENFORCE_CHUNK : 100);
	}
	assert_int_equal(enforce_get_stats()->applied, N);
}

/* A long --dry-run keeps only the last 4096 transactions. */
static void test_dryrun_keeps_last(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 4100; i++) {
		struct addr a = cidr("2001:db8::");
		a.bytes[14] = (uint8_t)(i >> 8);
		a.bytes[15] = (uint8_t)i;
		assert_int_equal(enforce_add(&a, 60), 0);
		commit_ok();
	}
	assert_int_equal(enforce_dryrun_count(), 4096);
	assert_non_null(strstr(enforce_dryrun_text(4095), "2001:db8::1003 timeout"));
	assert_non_null(strstr(enforce_dryrun_text(0), "2001:db8::4 timeout"));
	assert_null(enforce_dryrun_text(4096));
}

int main(void)
{
	log_init("test_enforce", LOG_LEVEL_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_refuses),
		cmocka_unit_test(test_check_accepts),
		cmocka_unit_test(test_check_refuses_reserved),
		cmocka_unit_test(test_check_refuses_covering),
		cmocka_unit_test_setup_teardown(test_probe_refused_absent, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_add_refuses, open_dryrun, close_dryrun),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_render_table),
		cmocka_unit_test(test_render_portable),
		cmocka_unit_test(test_render_refresh),
		cmocka_unit_test(test_render_coalesces),
		cmocka_unit_test(test_render_remove_missing_set),
		cmocka_unit_test_setup_teardown(test_reset_transaction, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_commit_one_transaction, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_reset_forgets_prefix_sets, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_commit_retries_alone, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_commit_table_gone, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_commit_chunks, open_dryrun, close_dryrun),
		cmocka_unit_test_setup_teardown(test_dryrun_keeps_last, open_dryrun, close_dryrun),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
