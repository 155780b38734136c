/* test_alliance.c: the alliance's trust pieces: member keys (files, modes,
 * tampering), signatures with context separation, the treaty (round trip,
 * canonical bytes, amendments, in force, strict loading, protected ranges)
 * and signed report batches (round trips and every refusal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "alliance/report.h"
#include "alliance/signer.h"
#include "alliance/treaty.h"

static char dir[64];
static char err[1024];

static const char *path_in(const char *name)
{
	static char bufs[4][256];
	static unsigned next;
	char *p = bufs[next++ % 4];
	snprintf(p, sizeof(bufs[0]), "%s/%s", dir, name);
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

/* A fresh key pair NAME in the scratch directory, loaded. */
static struct signer *new_signer(const char *name)
{
	char pub[SIGNER_PUBLIC_TEXT];
	struct signer *s;
	unlink(path_in(name));
	char pubpath[300];
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path_in(name));
	unlink(pubpath);
	assert_int_equal(signer_generate(path_in(name), pub, err, sizeof(err)), 0);
	assert_int_equal(signer_load(path_in(name), &s, err, sizeof(err)), 0);
	return s;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pacto-alliance.XXXXXX");
	if (!mkdtemp(dir) || signer_init() != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* ---- keys ---- */

static void test_keygen_files(void **state)
{
	(void)state;
	char pub[SIGNER_PUBLIC_TEXT], line[128];
	struct stat st;
	struct signer *s;
	assert_int_equal(signer_generate(path_in("k1"), pub, err, sizeof(err)), 0);
	assert_int_equal(stat(path_in("k1"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(line, sizeof(line), "%s\n", pub);
	char *text = read_text(path_in("k1.pub"));
	assert_string_equal(text, line);
	free(text);
	text = read_text(path_in("k1"));
	assert_int_equal(strncmp(text, "pacto-secret-key-v1 ", 20), 0);
	assert_int_equal(strlen(text), 20 + 88 + 1);
	free(text);
	assert_int_equal(signer_load(path_in("k1"), &s, err, sizeof(err)), 0);
	char again[SIGNER_PUBLIC_TEXT];
	signer_key_format(signer_public_key(s), again);
	assert_string_equal(again, pub);
	signer_free(s);
	/* Never overwritten: the secret, nor a public file left alone. */
	assert_int_equal(signer_generate(path_in("k1"), pub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists already"));
	write_text(path_in("k2.pub"), "x\n");
	assert_int_equal(signer_generate(path_in("k2"), pub, err, sizeof(err)), -1);
	assert_int_equal(access(path_in("k2"), F_OK), -1);
}

static void test_key_mode_and_tamper_refused(void **state)
{
	(void)state;
	char pub[SIGNER_PUBLIC_TEXT];
	struct signer *s = NULL;
	assert_int_equal(signer_generate(path_in("k3"), pub, err, sizeof(err)), 0);
	chmod(path_in("k3"), 0640);
	assert_int_equal(signer_load(path_in("k3"), &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "group or others"));
	chmod(path_in("k3"), 0602);
	assert_int_equal(signer_load(path_in("k3"), &s, err, sizeof(err)), -1);
	chmod(path_in("k3"), 0600);
	/* Flip one character of the base64: the public half no longer matches
	 * the seed (or the text is no longer base64). */
	char *text = read_text(path_in("k3"));
	text[30] = text[30] == 'A' ? 'B' : 'A';
	unlink(path_in("k3"));
	write_text(path_in("k3"), text);
	chmod(path_in("k3"), 0600);
	assert_int_equal(signer_load(path_in("k3"), &s, err, sizeof(err)), -1);
	/* Within the public half: damaged. */
	text[20 + 60] = text[20 + 60] == 'A' ? 'B' : 'A';
	text[30] = text[30] == 'A' ? 'B' : 'A';
	write_text(path_in("k3"), text);
	chmod(path_in("k3"), 0600);
	assert_int_equal(signer_load(path_in("k3"), &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not match"));
	free(text);
	write_text(path_in("k4"), "pacto-secret-key-v1 short\n");
	chmod(path_in("k4"), 0600);
	assert_int_equal(signer_load(path_in("k4"), &s, err, sizeof(err)), -1);
	assert_int_equal(signer_load(path_in("nonexistent"), &s, err, sizeof(err)), -1);
	assert_null(s);
}

static void test_key_text(void **state)
{
	(void)state;
	uint8_t key[SIGNER_PUBLIC_BYTES];
	char text[SIGNER_PUBLIC_TEXT];
	memset(key, 0xab, sizeof(key));
	signer_key_format(key, text);
	assert_int_equal(strlen(text), 44);
	uint8_t back[SIGNER_PUBLIC_BYTES];
	assert_int_equal(signer_key_parse(text, back), 0);
	assert_memory_equal(key, back, sizeof(key));
	char bad[64];
	snprintf(bad, sizeof(bad), "%s", text);
	bad[42] = 'B';    /* the last character's two spare bits set: not the canonical text */
	assert_int_equal(signer_key_parse(bad, back), -1);
	assert_int_equal(signer_key_parse("", back), -1);
	assert_int_equal(signer_key_parse("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s", back), -1);
	snprintf(bad, sizeof(bad), " %s", text);
	assert_int_equal(signer_key_parse(bad, back), -1);
}

static void test_sign_verify_context(void **state)
{
	(void)state;
	struct signer *a = new_signer("sa"), *b = new_signer("sb");
	uint8_t sig[SIGNER_SIGNATURE_BYTES];
	const char msg[] = "hello allies";
	signer_sign(a, "pacto-report-v1", msg, sizeof(msg), sig);
	assert_true(signer_verify(signer_public_key(a), "pacto-report-v1", msg, sizeof(msg), sig));
	assert_false(signer_verify(signer_public_key(a), "pacto-treaty-v1", msg, sizeof(msg), sig));
	assert_false(signer_verify(signer_public_key(b), "pacto-report-v1", msg, sizeof(msg), sig));
	/* The context ends at its NUL: moving bytes across it changes the signed text. */
	assert_false(signer_verify(signer_public_key(a), "pacto-report-v1h", msg + 1, sizeof(msg) - 1, sig));
	char flipped[sizeof(msg)];
	memcpy(flipped, msg, sizeof(msg));
	flipped[3] ^= 1;
	assert_false(signer_verify(signer_public_key(a), "pacto-report-v1", flipped, sizeof(msg), sig));
	sig[10] ^= 0x40;
	assert_false(signer_verify(signer_public_key(a), "pacto-report-v1", msg, sizeof(msg), sig));
	signer_free(a);
	signer_free(b);
}

/* ---- treaty ---- */

struct trio {
	struct signer *s[3];
	struct treaty *t;
};

static struct addr cidr(const char *text)
{
	struct addr a;
	assert_int_equal(addr_parse_cidr(text, &a), 0);
	return a;
}

static void trio_start(struct trio *x)
{
	static const char *const names[] = {"carol", "alice", "bob"};
	struct addr protect[2] = {cidr("2001:db8:aa::/48"), cidr("192.0.2.0/24")};
	x->t = treaty_new("acme", err, sizeof(err));
	assert_non_null(x->t);
	for (int i = 0; i < 3; i++) {
		x->s[i] = new_signer(names[i]);
		assert_int_equal(treaty_add_member(x->t, names[i], signer_public_key(x->s[i]), (unsigned)i + 1,
						   i == 1 ? protect : NULL, i == 1 ? 2 : 0, err, sizeof(err)),
				 0);
	}
}

static void trio_sign_all(struct trio *x)
{
	for (int i = 0; i < 3; i++)
		assert_int_equal(treaty_sign(x->t, x->s[i], err, sizeof(err)), 0);
}

static void trio_stop(struct trio *x)
{
	for (int i = 0; i < 3; i++)
		signer_free(x->s[i]);
	treaty_free(x->t);
}

static struct treaty *load_ok(const char *path)
{
	struct errors errs = {0};
	struct treaty *t = treaty_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "unexpected: %s\n", errs.msgs[i]);
	assert_non_null(t);
	errors_clear(&errs);
	return t;
}

/* Loads text as a treaty file: NULL expected, and one error containing want. */
static void assert_load_refused(const char *text, const char *want)
{
	struct errors errs = {0};
	write_text(path_in("bad.json"), text);
	struct treaty *t = treaty_load(path_in("bad.json"), &errs);
	bool found = false;
	for (size_t i = 0; i < errs.n; i++)
		found |= strstr(errs.msgs[i], want) != NULL;
	if (!found)
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "got: %s\n", errs.msgs[i]);
	assert_null(t);
	assert_true(found);
	errors_clear(&errs);
}

static void test_treaty_round_trip(void **state)
{
	(void)state;
	struct trio x;
	trio_start(&x);
	assert_int_equal(x.t->version, 4);   /* new, then three amendments */
	assert_string_equal(x.t->members[0].id, "alice");   /* sorted by id */
	trio_sign_all(&x);
	assert_true(treaty_in_force(x.t, err, sizeof(err)));
	assert_int_equal(treaty_save(x.t, path_in("t.json"), err, sizeof(err)), 0);
	struct treaty *back = load_ok(path_in("t.json"));
	assert_true(treaty_in_force(back, err, sizeof(err)));
	char *c1, *c2;
	size_t l1, l2;
	assert_int_equal(treaty_canonical(x.t, &c1, &l1), 0);
	assert_int_equal(treaty_canonical(back, &c2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(c1, c2, l1);
	assert_non_null(strstr(c1, "\"protect\":[\"192.0.2.0/24\",\"2001:db8:aa::/48\"]"));
	free(c1);
	free(c2);
	/* Save again: the very same bytes. */
	char *f1 = read_text(path_in("t.json"));
	assert_int_equal(treaty_save(back, path_in("t2.json"), err, sizeof(err)), 0);
	char *f2 = read_text(path_in("t2.json"));
	assert_string_equal(f1, f2);
	free(f1);
	free(f2);
	struct stat st;
	assert_int_equal(stat(path_in("t.json"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	treaty_free(back);
	trio_stop(&x);
}

static void test_treaty_amendments(void **state)
{
	(void)state;
	struct trio x;
	trio_start(&x);
	trio_sign_all(&x);
	uint64_t v = x.t->version;
	assert_int_equal(treaty_set(x.t, "quorum", "3", err, sizeof(err)), 0);
	assert_int_equal(x.t->version, v + 1);
	assert_false(treaty_in_force(x.t, err, sizeof(err)));
	assert_non_null(strstr(err, "alice, bob, carol"));
	/* The same value again is no amendment. */
	trio_sign_all(&x);
	assert_int_equal(treaty_set(x.t, "quorum", "3", err, sizeof(err)), 0);
	assert_true(treaty_in_force(x.t, err, sizeof(err)));
	/* Two of three: not in force, and the missing one is named. */
	assert_int_equal(treaty_set(x.t, "max_duration", "1d", err, sizeof(err)), 0);
	assert_int_equal(x.t->max_duration_s, 86400);
	assert_int_equal(treaty_sign(x.t, x.s[0], err, sizeof(err)), 0);
	assert_int_equal(treaty_sign(x.t, x.s[1], err, sizeof(err)), 0);
	assert_false(treaty_in_force(x.t, err, sizeof(err)));
	assert_string_equal(err, "not signed by bob");
	/* Out of range, bad numbers, unknown names. */
	assert_int_equal(treaty_set(x.t, "quorum", "7", err, sizeof(err)), -1);   /* total weight is 6 */
	assert_int_equal(treaty_set(x.t, "widest_v4", "4", err, sizeof(err)), -1);
	assert_int_equal(treaty_set(x.t, "widest_v6", "129", err, sizeof(err)), -1);
	assert_int_equal(treaty_set(x.t, "burst", "-1", err, sizeof(err)), -1);
	assert_int_equal(treaty_set(x.t, "burst", "12x", err, sizeof(err)), -1);
	assert_int_equal(treaty_set(x.t, "colour", "1", err, sizeof(err)), -1);
	assert_int_equal(treaty_set(x.t, "skew", "2h", err, sizeof(err)), -1);
	/* Key rotation and removal are amendments too; duplicates refused. */
	struct signer *d = new_signer("dave");
	v = x.t->version;
	assert_int_equal(treaty_set_key(x.t, "bob", signer_public_key(d), err, sizeof(err)), 0);
	assert_int_equal(x.t->version, v + 1);
	assert_int_equal(treaty_sign(x.t, x.s[2], err, sizeof(err)), -1);   /* bob's old key */
	assert_int_equal(treaty_set_key(x.t, "alice", signer_public_key(d), err, sizeof(err)), -1);
	assert_int_equal(treaty_add_member(x.t, "alice", signer_public_key(x.s[2]), 1, NULL, 0, err, sizeof(err)), -1);
	assert_int_equal(treaty_add_member(x.t, "erin", signer_public_key(d), 1, NULL, 0, err, sizeof(err)), -1);
	assert_int_equal(treaty_add_member(x.t, "bad id", signer_public_key(x.s[2]), 1, NULL, 0, err, sizeof(err)), -1);
	assert_int_equal(treaty_add_member(x.t, "erin", signer_public_key(x.s[2]), 0, NULL, 0, err, sizeof(err)), -1);
	assert_int_equal(treaty_remove_member(x.t, "nobody", err, sizeof(err)), -1);
	/* Weights: carol 1, alice 2, bob 3. Without bob, 3 is left: below a quorum of 4. */
	assert_int_equal(treaty_set(x.t, "quorum", "4", err, sizeof(err)), 0);
	assert_int_equal(treaty_remove_member(x.t, "bob", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lower it first"));
	assert_int_equal(treaty_set(x.t, "quorum", "1", err, sizeof(err)), 0);
	assert_int_equal(treaty_remove_member(x.t, "carol", err, sizeof(err)), 0);
	assert_int_equal(x.t->nmembers, 2);
	signer_free(d);
	trio_stop(&x);
}

/* A file with a signature by a removed member, or over an older version. */
static void test_treaty_stale_signatures(void **state)
{
	(void)state;
	struct trio x;
	trio_start(&x);
	trio_sign_all(&x);
	assert_int_equal(treaty_save(x.t, path_in("old.json"), err, sizeof(err)), 0);
	char *old = read_text(path_in("old.json"));
	/* Amend and re-sign by all but carol; then put carol's old signature back. */
	assert_int_equal(treaty_set(x.t, "burst", "99", err, sizeof(err)), 0);
	assert_int_equal(treaty_sign(x.t, x.s[1], err, sizeof(err)), 0);
	assert_int_equal(treaty_sign(x.t, x.s[2], err, sizeof(err)), 0);
	assert_int_equal(treaty_save(x.t, path_in("new.json"), err, sizeof(err)), 0);
	struct treaty *old_t = load_ok(path_in("old.json"));
	struct treaty *new_t = load_ok(path_in("new.json"));
	const struct treaty_member *carol_old = treaty_member_by_id(old_t, "carol");
	struct treaty_member *carol = (struct treaty_member *)(uintptr_t)treaty_member_by_id(new_t, "carol");
	if (!carol || !carol_old) {
		fail_msg("carol is not a member of both treaties");
		return;   /* and gcc then knows memcpy's pointers are not NULL */
	}
	memcpy(carol->signature, carol_old->signature, SIGNER_SIGNATURE_BYTES);
	carol->has_signature = true;
	assert_int_equal(treaty_save(new_t, path_in("mixed.json"), err, sizeof(err)), 0);
	struct treaty *mixed = load_ok(path_in("mixed.json"));
	assert_true(treaty_member_by_id(mixed, "carol")->has_signature);
	assert_false(treaty_member_by_id(mixed, "carol")->signed_current);
	assert_false(treaty_in_force(mixed, err, sizeof(err)));
	assert_non_null(strstr(err, "carol"));
	treaty_free(mixed);
	treaty_free(old_t);
	treaty_free(new_t);
	/* Remove carol: her signature in the file is now a non-member's. */
	assert_int_equal(treaty_set(x.t, "quorum", "1", err, sizeof(err)), 0);
	assert_int_equal(treaty_remove_member(x.t, "carol", err, sizeof(err)), 0);
	assert_int_equal(treaty_save(x.t, path_in("rm.json"), err, sizeof(err)), 0);
	char *text = read_text(path_in("rm.json"));
	char *sigs = strstr(old, "\"carol\": \"");
	assert_non_null(sigs);
	char carol_sig[120];
	snprintf(carol_sig, sizeof(carol_sig), "%.*s", (int)(strchr(sigs + 10, '"') - sigs + 1), sigs);
	char *at = strstr(text, "\"signatures\": {}");
	assert_non_null(at);
	char doc[65536];
	snprintf(doc, sizeof(doc), "%.*s\"signatures\": {%s}%s", (int)(at - text), text, carol_sig, at + 16);
	assert_load_refused(doc, "signatures.carol: signed by 'carol', who is not a member");
	free(text);
	free(old);
	trio_stop(&x);
}

static const char *const member_a = "{\"id\": \"a\", \"key\": \"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\", "
				    "\"weight\": 1, \"protect\": []}";
static const char *const member_b = "{\"id\": \"b\", \"key\": \"zM3MzM3MzM3MzM3MzM3MzM3MzM3MzM3MzM3MzM3MzM0=\", "
				    "\"weight\": 1, \"protect\": []}";

/* A treaty file around members and extra body keys. */
static const char *doc_with(const char *members, const char *extra)
{
	static char doc[8192];
	snprintf(doc, sizeof(doc),
		 "{\n  \"signatures\": {},\n  \"treaty\": {\n    \"alliance\": \"acme\",\n    \"burst\": 1200,\n"
		 "    \"max_duration_s\": 604800,\n    \"members\": [\n      %s\n    ],\n    \"quorum\": 1,\n"
		 "    \"rate_per_min\": 600,\n    \"skew_s\": 30,\n    \"version\": 2,\n    \"widest_v4\": 24,\n"
		 "    \"widest_v6\": 48%s\n  }\n}\n",
		 members, extra);
	return doc;
}

static void test_treaty_strict_load(void **state)
{
	(void)state;
	char members[1024];
	snprintf(members, sizeof(members), "%s,\n      %s", member_a, member_b);
	write_text(path_in("ok.json"), doc_with(members, ""));
	struct treaty *t = load_ok(path_in("ok.json"));
	assert_int_equal(t->nmembers, 2);
	assert_false(treaty_in_force(t, err, sizeof(err)));
	treaty_free(t);

	char bad[2048];
	assert_load_refused(doc_with(members, ",\n    \"colour\": 3"), "bad.json:17: treaty.colour: unknown key");
	assert_load_refused(doc_with(member_a, ",\n    \"burst\": 5"), "bad.json:16: duplicate object key");
	snprintf(bad, sizeof(bad), "%s,\n      %s", member_a, member_a);
	assert_load_refused(doc_with(bad, ""), "member id a appears twice");
	snprintf(bad, sizeof(bad), "%s,\n      {\"id\": \"c\", \"key\": \"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\", "
		 "\"weight\": 1, \"protect\": []}", member_a);
	assert_load_refused(doc_with(bad, ""), "members a and c have the same key");
	snprintf(bad, sizeof(bad), "%s,\n      {\"id\": \"c\", \"key\": \"x\", \"weight\": 1, \"protect\": []}", member_a);
	assert_load_refused(doc_with(bad, ""), "bad.json:9: treaty.members[1].key: 'x' is not a public key");
	snprintf(bad, sizeof(bad), "%s,\n      {\"id\": \"c\", \"key\": \"zM3MzM3MzM3MzM3MzM3MzM3MzM3MzM3MzM3MzM3MzM0=\", "
		 "\"weight\": 1001, \"protect\": [\"192.0.2.1/24\", \"nonsense\"]}", member_a);
	assert_load_refused(doc_with(bad, ""), "treaty.members[1].weight: 1001 is out of range (1..1000)");
	assert_load_refused(doc_with(bad, ""), "treaty.members[1].protect[0]: '192.0.2.1/24' has bits set past its prefix");
	assert_load_refused(doc_with(bad, ""), "treaty.members[1].protect[1]: 'nonsense' is not an address");
	snprintf(bad, sizeof(bad), "{\"id\": \"a\", \"key\": \"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\", "
		 "\"weight\": 1, \"protect\": [\"192.0.2.0/24\", \"::ffff:192.0.2.0/120\"]}");
	assert_load_refused(doc_with(bad, ""), "192.0.2.0/24 is listed twice");
	snprintf(bad, sizeof(bad), "{\"id\": \"a\", \"key\": \"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\", "
		 "\"weight\": \"1\", \"extra\": 1}");
	assert_load_refused(doc_with(bad, ""), "treaty.members[0].weight: not an integer");
	assert_load_refused(doc_with(bad, ""), "treaty.members[0].extra: unknown key");
	assert_load_refused(doc_with(bad, ""), "treaty.members[0]: missing key 'protect'");
	assert_load_refused("{\"treaty\": {}, \"signatures\": {}", "bad.json:1:");
	assert_load_refused("[1, 2]", "(top): not an object");
	assert_load_refused(doc_with(member_a, ",\n    \"quorum\": 2"), "duplicate object key");
	/* Quorum above the total weight. */
	const char *q = doc_with(member_a, "");
	char q2[8192];
	snprintf(q2, sizeof(q2), "%s", q);
	memcpy(strstr(q2, "\"quorum\": 1"), "\"quorum\": 5", 11);
	assert_load_refused(q2, "bad.json:10: treaty.quorum: 5 is more than the members' total weight (1)");
	/* Group-writable files are refused. */
	write_text(path_in("gw.json"), doc_with(member_a, ""));
	chmod(path_in("gw.json"), 0664);
	struct errors errs = {0};
	assert_null(treaty_load(path_in("gw.json"), &errs));
	assert_non_null(strstr(errs.msgs[0], "group or others may write"));
	errors_clear(&errs);
}

static void test_treaty_protector(void **state)
{
	(void)state;
	struct trio x;
	trio_start(&x);
	struct addr inside = cidr("192.0.2.77"), wide = cidr("192.0.0.0/16"), outside = cidr("198.51.100.1");
	struct addr v6in = cidr("2001:db8:aa:1::/64"), v6wide = cidr("2001:db8::/32"), v6out = cidr("2001:db8:bb::1");
	struct addr mapped = cidr("::ffff:192.0.2.1");
	const struct treaty_member *alice = treaty_member_by_id(x.t, "alice");
	assert_ptr_equal(treaty_protector(x.t, &inside), alice);
	assert_ptr_equal(treaty_protector(x.t, &wide), alice);    /* a prefix covering a protected range */
	assert_null(treaty_protector(x.t, &outside));
	assert_ptr_equal(treaty_protector(x.t, &v6in), alice);
	assert_ptr_equal(treaty_protector(x.t, &v6wide), alice);
	assert_null(treaty_protector(x.t, &v6out));
	assert_ptr_equal(treaty_protector(x.t, &mapped), alice);
	assert_null(treaty_member_by_id(x.t, "zed"));
	assert_true(treaty_id_valid("web-1_a"));
	assert_false(treaty_id_valid(""));
	assert_false(treaty_id_valid("a.b"));
	char long_id[80];
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	assert_false(treaty_id_valid(long_id));
	long_id[64] = '\0';
	assert_true(treaty_id_valid(long_id));
	trio_stop(&x);
}

/* ---- reports ---- */

static struct signer *rs;    /* the reporting member */
static struct signer *other;

static int report_setup(void **state)
{
	if (setup(state) != 0)
		return -1;
	rs = new_signer("reporter");
	other = new_signer("other");
	return 0;
}

static int report_teardown(void **state)
{
	signer_free(rs);
	signer_free(other);
	return teardown(state);
}

static void fill(struct report_batch *b, size_t n)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->alliance, sizeof(b->alliance), "acme");
	snprintf(b->member, sizeof(b->member), "web1");
	b->treaty_version = 7;
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		struct report *r = &b->items[i];
		char a[64];
		r->seq = 100 + i * 3;
		r->time_us = 1795737600000000LL + (int64_t)i;
		r->action = i % 5 == 4 ? REPORT_LIFT : REPORT_SANCTION;
		if (i % 3 == 0)
			snprintf(a, sizeof(a), "203.0.113.%zu", i);
		else if (i % 3 == 1)
			snprintf(a, sizeof(a), "2001:db8:%zx::/48", i);
		else
			snprintf(a, sizeof(a), "198.51.%zu.0/24", i);
		r->addr = cidr(a);
		snprintf(r->scenario, sizeof(r->scenario), "sshd");
		r->duration_s = r->action == REPORT_LIFT ? 0 : 600;
		r->attempts = 5;
		r->first_seen_us = 1795737500000000LL;
		r->last_seen_us = 1795737599000000LL;
		r->nlines = i % 3;
		for (size_t j = 0; j < r->nlines; j++)
			snprintf(r->lines[j], sizeof(r->lines[j]), "Failed password for root from %s port %zu ssh2", a, j);
	}
}

static uint8_t msg[REPORT_MAX_MESSAGE + 128];
static struct report_batch out;

static size_t encode(const struct report_batch *b)
{
	size_t len;
	assert_int_equal(report_encode(b, rs, msg, sizeof(msg), &len, err, sizeof(err)), 0);
	return len;
}

static enum report_error decode(size_t len)
{
	return report_decode(msg, len, signer_public_key(rs), &out, err, sizeof(err));
}

static void assert_same(const struct report_batch *a, const struct report_batch *b)
{
	assert_true(report_batch_same(a, b));
}

/* report_batch_same, which the round-trip tests rely on, sees a change in
 * any one field. */
static void test_report_batch_same(void **state)
{
	(void)state;
	static struct report_batch a, b;
	fill(&a, 6);
	for (int field = 0; field <= 14; field++) {
		fill(&b, 6);
		assert_true(report_batch_same(&a, &b));
		struct report *r = &b.items[5];
		switch (field) {
		case 0: b.alliance[0] = 'x'; break;
		case 1: b.member[0] = 'x'; break;
		case 2: b.treaty_version++; break;
		case 3: b.n--; break;
		case 4: r->seq++; break;
		case 5: r->time_us++; break;
		case 6: r->action = REPORT_LIFT; break;
		case 7: r->addr.bytes[15] ^= 1; break;
		case 8: r->scenario[0] = 'x'; break;
		case 9: r->duration_s++; break;
		case 10: r->attempts++; break;
		case 11: r->first_seen_us++; break;
		case 12: r->last_seen_us++; break;
		case 13: r->nlines--; break;
		case 14: r->lines[1][0] = 'x'; break;
		}
		assert_false(report_batch_same(&a, &b));
	}
}

static void test_report_round_trip(void **state)
{
	(void)state;
	static struct report_batch b;
	for (size_t n = 1; n <= REPORT_MAX_ITEMS; n += REPORT_MAX_ITEMS - 1) {
		fill(&b, n);
		size_t len = encode(&b);
		assert_int_equal(decode(len), REPORT_OK);
		assert_same(&b, &out);
	}
	assert_int_equal(out.items[4].action, REPORT_LIFT);
	assert_int_equal(out.items[1].addr.family, AF_INET6);
	assert_int_equal(out.items[1].addr.prefix, 48);
	assert_int_equal(out.items[2].addr.prefix, 24);
	assert_string_equal(report_error_name(REPORT_NOT_CANONICAL), "not_canonical");
	assert_string_equal(report_action_name(REPORT_LIFT), "lift");
}

/* Signs payload text as the reporter would: the signature is right, so
 * only the decoder's own checks can refuse it. */
static size_t signed_text(const char *payload)
{
	size_t n = strlen(payload);
	memcpy(msg + SIGNER_SIGNATURE_BYTES, payload, n);
	signer_sign(rs, REPORT_CONTEXT, payload, n, msg);
	return SIGNER_SIGNATURE_BYTES + n;
}

static const char *canonical_one(void)
{
	return "{\"alliance\":\"acme\",\"member\":\"web1\",\"reports\":[{\"action\":\"sanction\",\"address\":"
	       "\"203.0.113.0\",\"duration_s\":600,\"evidence\":{\"attempts\":5,\"first_seen\":1795737500000000,"
	       "\"last_seen\":1795737599000000,\"lines\":[]},\"scenario\":\"sshd\",\"seq\":100,\"time\":"
	       "1795737600000000}],\"treaty\":7,\"v\":1}";
}

/* The canonical payload with one substring replaced. */
static size_t signed_variant(const char *from, const char *to)
{
	char text[4096];
	const char *c = canonical_one(), *at = strstr(c, from);
	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - c), c, to, at + strlen(from));
	return signed_text(text);
}

static void test_report_signature_refusals(void **state)
{
	(void)state;
	static struct report_batch b;
	fill(&b, 3);
	size_t len = encode(&b);
	/* Exactly what the encoder writes for one report. */
	fill(&b, 1);
	assert_int_equal(decode(signed_text(canonical_one())), REPORT_OK);
	assert_same(&b, &out);
	fill(&b, 3);
	len = encode(&b);
	msg[SIGNER_SIGNATURE_BYTES + 20] ^= 0x01;   /* a bit flipped in the payload */
	assert_int_equal(decode(len), REPORT_BAD_SIGNATURE);
	msg[SIGNER_SIGNATURE_BYTES + 20] ^= 0x01;
	msg[5] ^= 0x80;                             /* in the signature */
	assert_int_equal(decode(len), REPORT_BAD_SIGNATURE);
	msg[5] ^= 0x80;
	assert_int_equal(report_decode(msg, len, signer_public_key(other), &out, err, sizeof(err)),
			 REPORT_BAD_SIGNATURE);        /* wrong key */
	assert_int_equal(decode(len - 1), REPORT_BAD_SIGNATURE);   /* truncated */
	assert_int_equal(decode(SIGNER_SIGNATURE_BYTES), REPORT_BAD_SIGNATURE);
	assert_int_equal(decode(10), REPORT_BAD_SIGNATURE);
	assert_int_equal(decode(REPORT_MAX_MESSAGE + 1), REPORT_TOO_BIG);
	/* A forgery: signed by another key, in the reporter's name. */
	size_t flen;
	assert_int_equal(report_encode(&b, other, msg, sizeof(msg), &flen, err, sizeof(err)), 0);
	assert_int_equal(decode(flen), REPORT_BAD_SIGNATURE);
	/* The same payload under the treaty's context does not pass either. */
	len = encode(&b);
	signer_sign(rs, "pacto-treaty-v1", msg + SIGNER_SIGNATURE_BYTES, len - SIGNER_SIGNATURE_BYTES, msg);
	assert_int_equal(decode(len), REPORT_BAD_SIGNATURE);
}

static void test_report_not_canonical(void **state)
{
	(void)state;
	char text[4096];
	snprintf(text, sizeof(text), "%s ", canonical_one());
	assert_int_equal(decode(signed_text(text)), REPORT_NOT_CANONICAL);   /* a trailing space */
	assert_int_equal(decode(signed_variant("\"member\":", "\"member\": ")), REPORT_NOT_CANONICAL);
	/* Reordered keys. */
	assert_int_equal(decode(signed_variant("\"treaty\":7,\"v\":1", "\"v\":1,\"treaty\":7")), REPORT_NOT_CANONICAL);
	/* Non-canonical forms of the same values. */
	assert_int_equal(decode(signed_variant("\"203.0.113.0\"", "\"203.0.113.0/32\"")), REPORT_NOT_CANONICAL);
	assert_int_equal(decode(signed_variant("\"203.0.113.0\"", "\"::ffff:203.0.113.0\"")), REPORT_NOT_CANONICAL);
	assert_int_equal(decode(signed_variant("\"sshd\"", "\"\\u0073shd\"")), REPORT_NOT_CANONICAL);
	assert_int_equal(decode(signed_variant("\"attempts\":5", "\"attempts\":5.0")), REPORT_MALFORMED);
	/* A duplicate key. */
	assert_int_equal(decode(signed_variant("\"treaty\":7", "\"treaty\":7,\"treaty\":7")), REPORT_MALFORMED);
}

static void test_report_malformed(void **state)
{
	(void)state;
	static const struct { const char *from, *to; enum report_error want; } cases[] = {
		{"\"v\":1", "\"v\":2", REPORT_BAD_VERSION},
		{"\"v\":1", "\"v\":\"1\"", REPORT_MALFORMED},
		{"\"v\":1", "\"v\":1,\"x\":0", REPORT_MALFORMED},                 /* unknown field */
		{"\"seq\":100", "\"seq\":100,\"z\":1", REPORT_MALFORMED},         /* unknown field in a report */
		{"\"lines\":[]", "\"lines\":[],\"more\":1", REPORT_MALFORMED},    /* and in the evidence */
		{"\"treaty\":7", "\"treaty\":0", REPORT_MALFORMED},
		{"\"seq\":100", "\"seq\":0", REPORT_MALFORMED},
		{"\"seq\":100", "\"seq\":-1", REPORT_MALFORMED},
		{"\"time\":1795737600000000", "\"time\":-5", REPORT_MALFORMED},
		{"\"203.0.113.0\"", "\"203.0.113.1/24\"", REPORT_MALFORMED},    /* bits past the prefix */
		{"\"203.0.113.0\"", "\"evil.example\"", REPORT_MALFORMED},
		{"\"203.0.113.0\"", "\"2001:db8::1/129\"", REPORT_MALFORMED},
		{"\"203.0.113.0\"", "7", REPORT_MALFORMED},
		{"\"sanction\"", "\"ban\"", REPORT_MALFORMED},
		{"\"duration_s\":600", "\"duration_s\":0", REPORT_MALFORMED},     /* a sanction of nothing */
		{"\"duration_s\":600", "\"duration_s\":99999999", REPORT_MALFORMED},
		{"\"sanction\"", "\"lift\"", REPORT_MALFORMED},                   /* a lift with a duration */
		{"\"sshd\"", "\"ss hd\"", REPORT_MALFORMED},
		{"\"sshd\"", "\"\"", REPORT_MALFORMED},
		{"\"acme\"", "\"ac/me\"", REPORT_MALFORMED},
		{"\"attempts\":5", "\"attempts\":4294967296", REPORT_MALFORMED},
		{"\"first_seen\":1795737500000000", "\"first_seen\":1795737600000000", REPORT_MALFORMED},
		{"\"lines\":[]", "\"lines\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", REPORT_MALFORMED},   /* too many lines */
		{"\"lines\":[]", "\"lines\":[1]", REPORT_MALFORMED},
		{"\"lines\":[]", "\"lines\":[\"a\\u0000b\"]", REPORT_MALFORMED},
		{"\"reports\":[", "\"reports\":[],\"r\":[", REPORT_MALFORMED},
		{"{\"alliance\"", "[{\"alliance\"", REPORT_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		enum report_error e = decode(signed_variant(cases[i].from, cases[i].to));
		if (e != cases[i].want)
			fprintf(stderr, "case %zu (%s -> %s): %s, %s\n", i, cases[i].from, cases[i].to, report_error_name(e), err);
		assert_int_equal(e, cases[i].want);
	}
	/* An over-long line, and garbage that is not JSON at all. */
	char line[600], to[700];
	memset(line, 'x', 257);
	line[257] = '\0';
	snprintf(to, sizeof(to), "\"lines\":[\"%s\"]", line);
	assert_int_equal(decode(signed_variant("\"lines\":[]", to)), REPORT_MALFORMED);
	line[256] = '\0';
	snprintf(to, sizeof(to), "\"lines\":[\"%s\"]", line);
	assert_int_equal(decode(signed_variant("\"lines\":[]", to)), REPORT_OK);
	assert_int_equal(decode(signed_text("not json at all")), REPORT_MALFORMED);
	assert_int_equal(decode(signed_text("{}")), REPORT_MALFORMED);
}

static void test_report_batch_rules(void **state)
{
	(void)state;
	static struct report_batch b;
	size_t len;
	fill(&b, 4);
	b.items[2].seq = b.items[1].seq;   /* seq not increasing: refused on encode */
	assert_int_equal(report_encode(&b, rs, msg, sizeof(msg), &len, err, sizeof(err)), -1);
	/* ... and on decode, from a sender that does not check. */
	fill(&b, 2);
	len = encode(&b);
	char text[8192];
	memcpy(text, msg + SIGNER_SIGNATURE_BYTES, len - SIGNER_SIGNATURE_BYTES);
	text[len - SIGNER_SIGNATURE_BYTES] = '\0';
	char *second = strstr(text, "\"seq\":103");
	assert_non_null(second);
	memcpy(second, "\"seq\":099", 9);   /* not canonical either, but refused as malformed first */
	assert_int_equal(decode(signed_text(text)), REPORT_MALFORMED);
	memcpy(second, "\"seq\":100", 9);
	assert_int_equal(decode(signed_text(text)), REPORT_MALFORMED);
	assert_non_null(strstr(err, "seq"));
	/* Too many items, none. */
	fill(&b, REPORT_MAX_ITEMS);
	b.n = REPORT_MAX_ITEMS + 1;
	assert_int_equal(report_encode(&b, rs, msg, sizeof(msg), &len, err, sizeof(err)), -1);
	b.n = 0;
	assert_int_equal(report_encode(&b, rs, msg, sizeof(msg), &len, err, sizeof(err)), -1);
	/* 33 reports, signed: the decoder refuses them itself. */
	fill(&b, REPORT_MAX_ITEMS);
	len = encode(&b);
	size_t plen = len - SIGNER_SIGNATURE_BYTES;
	static char big[REPORT_MAX_MESSAGE];
	memcpy(big, msg + SIGNER_SIGNATURE_BYTES, plen);
	big[plen] = '\0';
	char *last = strstr(big, "],\"treaty\"");
	assert_non_null(last);
	static char grown[REPORT_MAX_MESSAGE];
	snprintf(grown, sizeof(grown), "%.*s,{\"action\":\"lift\",\"address\":\"192.0.2.1\",\"duration_s\":0,"
		 "\"evidence\":{\"attempts\":0,\"first_seen\":0,\"last_seen\":0,\"lines\":[]},\"scenario\":\"x\","
		 "\"seq\":9999,\"time\":1}%s", (int)(last - big), big, last);
	assert_int_equal(decode(signed_text(grown)), REPORT_MALFORMED);
	assert_non_null(strstr(err, "33 reports"));
	/* A buffer too small, and a batch over REPORT_MAX_MESSAGE. */
	fill(&b, 1);
	assert_int_equal(report_encode(&b, rs, msg, 100, &len, err, sizeof(err)), -1);
	fill(&b, REPORT_MAX_ITEMS);
	for (size_t i = 0; i < b.n; i++) {
		b.items[i].nlines = REPORT_MAX_LINES;
		for (size_t j = 0; j < REPORT_MAX_LINES; j++) {
			memset(b.items[i].lines[j], 0x01, REPORT_MAX_LINE);   /* \u0001: six bytes each */
			b.items[i].lines[j][REPORT_MAX_LINE] = '\0';
		}
	}
	assert_int_equal(report_encode(&b, rs, msg, sizeof(msg), &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "send fewer"));
}

static void test_report_lines_made_valid(void **state)
{
	(void)state;
	static struct report_batch b;
	fill(&b, 1);
	b.items[0].nlines = 3;
	/* Invalid bytes, an overlong form, a surrogate: each byte becomes '?'. */
	snprintf(b.items[0].lines[0], REPORT_MAX_LINE + 1, "user \xff\xfe from \xc0\xaf x \xed\xa0\x80 caf\xc3\xa9");
	/* A line of 255 ASCII bytes then a 3-byte character: cut before it. */
	memset(b.items[0].lines[1], 'a', 255);
	memcpy(b.items[0].lines[1] + 255, "\xe2\x82", 2);   /* and truncated mid-sequence by the struct */
	b.items[0].lines[1][REPORT_MAX_LINE] = '\0';
	snprintf(b.items[0].lines[2], REPORT_MAX_LINE + 1, "\x01\x1b[31mred\t");
	size_t len = encode(&b);
	assert_int_equal(decode(len), REPORT_OK);
	assert_string_equal(out.items[0].lines[0], "user ?? from ?? x ??? caf\xc3\xa9");
	assert_int_equal(strlen(out.items[0].lines[1]), 256);
	assert_int_equal(out.items[0].lines[1][255], '?');
	assert_string_equal(out.items[0].lines[2], "\x01\x1b[31mred\t");
}

int main(void)
{
	const struct CMUnitTest key_tests[] = {
		cmocka_unit_test(test_keygen_files), cmocka_unit_test(test_key_mode_and_tamper_refused),
		cmocka_unit_test(test_key_text), cmocka_unit_test(test_sign_verify_context),
		cmocka_unit_test(test_treaty_round_trip), cmocka_unit_test(test_treaty_amendments),
		cmocka_unit_test(test_treaty_stale_signatures), cmocka_unit_test(test_treaty_strict_load),
		cmocka_unit_test(test_treaty_protector),
	};
	const struct CMUnitTest report_tests[] = {
		cmocka_unit_test(test_report_batch_same), cmocka_unit_test(test_report_round_trip), cmocka_unit_test(test_report_signature_refusals),
		cmocka_unit_test(test_report_not_canonical), cmocka_unit_test(test_report_malformed),
		cmocka_unit_test(test_report_batch_rules), cmocka_unit_test(test_report_lines_made_valid),
	};
	int failed = cmocka_run_group_tests_name("keys and treaty", key_tests, setup, teardown);
	return failed + cmocka_run_group_tests_name("reports", report_tests, report_setup, report_teardown);
}
