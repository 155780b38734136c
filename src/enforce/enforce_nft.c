/* enforce_nft.c: the enforcer's nftables backend.
 * Why two libraries: libnftables turns nft text into one netlink batch that
 * the kernel applies as one transaction, synchronously (the drops are in
 * force when nft_run_cmd_from_buffer() returns), but it rebuilds its cache
 * before every command: ~0.3-0.5 ms even for one element. So the table, its
 * prefix sets and rules (reset, the first drop of a prefix length: rare)
 * go as text through libnftables, and element batches, the hot path, go
 * through enforce_nftnl.c straight to netlink (tens of µs).
 * Guarantees: each reset and structural apply is exactly one
 * nft_run_cmd_from_buffer() of the front's text, each element batch one
 * netlink transaction; the only other commands are constant: the terse
 * ruleset listing and the timeout probe, and they name no table but ours.
 * Never: lists the elements of a set that may be large. Presence is checked
 * on "list ruleset inet" in terse mode, which lists no elements of named sets
 * (~1 ms with 300k elements, where "list table inet pacto" takes 9 s and
 * even "list tables" 11 s: both fill the whole cache). Elements deleted by
 * hand are seen through the ruleset generation and key lookups
 * (enforce_nftnl.c), never a listing. The timeout probe
 * lists set v4 only right after a reset, when it holds the probe alone. */
#include "enforce/enforce.h"

#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "enforce/enforce_nftnl.h"

static struct nft_ctx *ctx;
/* Our table's block in the terse listing, taken after our last reset or
 * structural change: what enforce_table_present() compares against. */
static char *snapshot;

/* A caret line, such as "   ^^^^^~~~", points into the line above it. */
static bool is_caret_line(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '^' && s[i] != '~' && s[i] != '\t')
			return false;
	return true;
}

/* Writes "enforce: nft: LINE: LINE" from nft's multi-line error text,
 * without the caret lines; what does not fit in errlen is cut. */
static void format_error(const char *msg, char *err, size_t errlen)
{
	bool said = false;
	size_t off = (size_t)snprintf(err, errlen, "enforce: nft");
	while (msg && *msg && off < errlen) {
		size_t len = strcspn(msg, "\n");
		if (!is_caret_line(msg, len)) {
			off += (size_t)snprintf(err + off, errlen - off, ": %.*s", (int)len, msg);
			said = true;
		}
		msg += len + (msg[len] == '\n');
	}
	if (!said && off < errlen)
		snprintf(err + off, errlen - off, ": command failed");
}

/* Runs cmd as one transaction (or listing); its output stays in nft's
 * buffer for the caller to read. Returns 0, or -1 with err filled. */
static int run(const char *cmd, char *err, size_t errlen)
{
	int rc = nft_run_cmd_from_buffer(ctx, cmd);
	/* Reading a buffer rewinds it for the next command. */
	const char *msg = nft_ctx_get_error_buffer(ctx);
	if (rc == 0)
		return 0;
	format_error(msg, err, errlen);
	return -1;
}

/* Our table's block ("table inet pacto {" ... "}") in the terse listing of
 * inet tables, malloc'd; NULL in *out when there is no such table.
 * Returns 0, or -1 with err filled. */
static int list_ours(char **out, char *err, size_t errlen)
{
	static const char head[] = "table " ENFORCE_TABLE " {\n";
	*out = NULL;
	if (run("list ruleset inet", err, errlen) != 0)
		return -1;
	const char *o = nft_ctx_get_output_buffer(ctx);
	const char *start = strncmp(o, head, sizeof(head) - 1) == 0 ? o : strstr(o, "\n" "table " ENFORCE_TABLE " {\n");
	if (!start)
		return 0;
	start += *start == '\n';
	const char *end = strstr(start, "\n}\n");
	*out = end ? strndup(start, (size_t)(end + 3 - start)) : NULL;
	if (end && !*out) {
		snprintf(err, errlen, "enforce: nft: snapshot: out of memory");
		return -1;
	}
	return 0;
}

static int take_snapshot(char *err, size_t errlen)
{
	free(snapshot);
	snapshot = NULL;
	if (list_ours(&snapshot, err, errlen) != 0)
		return -1;
	if (!snapshot) {
		snprintf(err, errlen, "enforce: nft: table %s missing right after creating it", ENFORCE_TABLE);
		return -1;
	}
	return 0;
}

/* The first element command of a process costs 1-6 ms (a listing does not
 * warm that path): run one in check mode, which commits nothing. */
static void warm_up(void)
{
	static const char cmd[] = "add table " ENFORCE_TABLE "\n"
				  "add set " ENFORCE_TABLE " v4 { type ipv4_addr; flags timeout; }\n"
				  "add element " ENFORCE_TABLE " v4 { 0.0.0.1 timeout 1s }\n"
				  "delete element " ENFORCE_TABLE " v4 { 0.0.0.1 }\n";
	char why[ENFORCE_ERRLEN];
	nft_ctx_set_dry_run(ctx, true);
	if (run(cmd, why, sizeof(why)) != 0)
		log_debug("%s (warm-up, ignored)", why);
	nft_ctx_set_dry_run(ctx, false);
}

static int nft_open(char *err, size_t errlen)
{
	char *ours = NULL;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx || nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
		snprintf(err, errlen, "enforce: nft: nft_ctx_new: cannot create a context");
		goto fail;
	}
	/* Terse: listings leave out set elements (see the file comment). */
	nft_ctx_output_set_flags(ctx, nft_ctx_output_get_flags(ctx) | NFT_CTX_OUTPUT_TERSE);
	/* Fails early without CAP_NET_ADMIN. */
	if (list_ours(&ours, err, errlen) != 0)
		goto fail;
	free(ours);
	if (enforce_nftnl_open(err, errlen) != 0)
		goto fail;
	warm_up();
	return 0;
fail:
	if (ctx)
		nft_ctx_free(ctx);
	ctx = NULL;
	return -1;
}

static int nft_reset(const char *text, char *err, size_t errlen)
{
	if (run(text, err, errlen) != 0)
		return -1;
	enforce_nftnl_own_change();
	return take_snapshot(err, errlen);
}

static int nft_apply(const char *text, bool structural, char *err, size_t errlen)
{
	if (run(text, err, errlen) != 0)
		return -1;
	enforce_nftnl_own_change();
	if (structural && take_snapshot(err, errlen) != 0) {
		/* Applied, but unverifiable: the next presence check says 0 and
		 * the daemon resets, which is safe. */
		log_warnx("%s", err);
	}
	return 0;
}

static int nft_present(char *err, size_t errlen)
{
	char *ours;
	if (list_ours(&ours, err, errlen) != 0)
		return -1;
	int same = ours && snapshot && strcmp(ours, snapshot) == 0;
	free(ours);
	return same;
}

/* The timeout probe's element, 0.0.0.1: never a source on the wire (the
 * front refuses 0.0.0.0/8, so no sanction can collide with it). */
static struct enforce_op probe_op(enum enforce_kind kind, uint32_t duration_s)
{
	return (struct enforce_op){.kind = kind, .duration_s = duration_s,
				   .addr = {.family = AF_INET, .prefix = 32, .bytes = {0, 0, 0, 1}}};
}

/* Adds the probe element with a 1000 s timeout, re-adds it with 2000 s
 * (plain adds, through the same netlink path as sanctions, so the answer is
 * about the messages pactod sends) and reads which timeout it kept. */
static int nft_readd_refreshes(char *err, size_t errlen)
{
	struct enforce_op first = probe_op(ENFORCE_ADD, 1000), again = probe_op(ENFORCE_ADD, 2000);
	struct enforce_op cleanup = probe_op(ENFORCE_REMOVE, 0);
	unsigned flags = nft_ctx_output_get_flags(ctx);
	char why[ENFORCE_ERRLEN];
	int rc = -1;

	if (enforce_nftnl_apply(&first, 1, true, err, errlen) != 0 ||
	    enforce_nftnl_apply(&again, 1, true, err, errlen) != 0)
		goto out;
	nft_ctx_output_set_flags(ctx, flags & ~(unsigned)NFT_CTX_OUTPUT_TERSE);
	if (run("list set " ENFORCE_TABLE " v4", err, errlen) == 0)
		rc = strstr(nft_ctx_get_output_buffer(ctx), "timeout 33m20s") != NULL;
	nft_ctx_output_set_flags(ctx, flags);
out:
	/* Always, even after a failure: the probe must not stay in the set. */
	if (enforce_nftnl_apply(&cleanup, 1, true, why, sizeof(why)) != 0 && rc >= 0) {
		snprintf(err, errlen, "%s", why);
		rc = -1;
	}
	return rc;
}

static void nft_close(void)
{
	enforce_nftnl_close();
	if (ctx)
		nft_ctx_free(ctx);
	ctx = NULL;
	free(snapshot);
	snapshot = NULL;
}

const struct enforce_ops enforce_nft_ops = {
	.name = "nft",
	.open = nft_open,
	.reset = nft_reset,
	.apply = nft_apply,
	.apply_elements = enforce_nftnl_apply,
	.present = nft_present,
	.changed = enforce_nftnl_generation_changed,
	.probe = enforce_nftnl_probe,
	.readd_refreshes = nft_readd_refreshes,
	.close = nft_close,
};
