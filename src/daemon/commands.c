/* commands.c: what `pacto` can ask pactod, one handler per command.
 * Why: the operator's questions (status, what is blocked, why) and actions
 * (sanction, lift, reload) reach the daemon's state only through here, and
 * every argument is checked again: the socket is a privileged edge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/json_text.h"
#include "common/log.h"
#include "common/version.h"
#include "common/xalloc.h"
#include "ctl/ctl_proto.h"
#include "daemon/alliance.h"
#include "daemon/daemon.h"
#include "detect/logline.h"
#include "ledger/ledger_ally.h"

#define DEFAULT_MANUAL_SANCTION_US (3600 * 1000000LL)
/* Rows in one listing: a reply must stay far under CTL_MAX_REPLY. */
#define MAX_LISTED 100000

static json_t *time_json(int64_t us)
{
	char buf[32];
	return json_string(format_time_utc(us, buf, sizeof(buf)));
}

static json_t *addr_json(const struct addr *a)
{
	char buf[ADDR_STRLEN];
	return json_string(addr_format(a, buf, sizeof(buf)));
}

/* ---- status ---- */

/* Paths come from the command line and may not be UTF-8 (json_text). */
static json_t *sources_json(const struct daemon *d)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < d->nsources; i++) {
		struct follower_stats fs = {0};
		json_t *path = json_text_cstr(d->sources[i].path);
		if (d->sources[i].journal) {
			json_array_append_new(arr, json_pack("{s:o, s:I, s:I}", "journal", path, "entries",
							     (json_int_t)journal_source_entries(d->sources[i].journal),
							     "oversized",
							     (json_int_t)journal_source_oversized(d->sources[i].journal)));
			continue;
		}
		follower_get_stats(d->sources[i].follower, &fs);
		json_array_append_new(arr, json_pack("{s:o, s:I, s:I, s:I, s:I}", "path", path, "lines",
						     (json_int_t)fs.lines, "oversized", (json_int_t)fs.oversized,
						     "rotations", (json_int_t)fs.rotations,
						     "truncations", (json_int_t)fs.truncations));
	}
	return arr;
}

static json_t *engine_json(const struct daemon *d)
{
	struct engine_stats st;
	engine_get_stats(d->engine, &st);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "lines", (json_int_t)st.lines, "matched", (json_int_t)st.matched,
			 "failures", (json_int_t)st.failures, "sanctions", (json_int_t)st.sanctions,
			 "allowlisted", (json_int_t)st.allowlisted, "bad_address", (json_int_t)st.bad_address,
			 "oversized", (json_int_t)st.oversized, "source_evictions", (json_int_t)st.source_evictions,
			 "connection_evictions", (json_int_t)st.connection_evictions,
			 "memory_bytes", (json_int_t)st.memory_bytes, "memory_bound", (json_int_t)st.memory_bound);
}

/* The ledger's counts and health: errors, the last one's message, the
 * sanctions enforced but not recorded yet (held), recorded late, or lost,
 * and the lifts not recorded yet (lifts_held). */
static json_t *ledger_json(const struct daemon *d, const struct ledger_counts *lc)
{
	struct recorder_stats rs;
	recorder_get_stats(d->recorder, &rs);
	json_t *j = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "path", json_text_cstr(d->ledger_path), "sanctions",
			      (json_int_t)lc->sanctions, "active", (json_int_t)lc->active, "errors",
			      (json_int_t)d->ledger_errors, "held", (json_int_t)rs.held, "recorded_late",
			      (json_int_t)rs.recorded_late, "lost", (json_int_t)rs.lost);
	json_object_set_new(j, "lifts_held", json_integer((json_int_t)rs.lifts_held));
	json_object_set_new(j, "counted_at", time_json(lc->counted_us));
	if (rs.last_error_us) {
		json_object_set_new(j, "last_error", json_string(rs.last_error));
		json_object_set_new(j, "last_error_at", time_json(rs.last_error_us));
	}
	return j;
}

static json_t *cmd_status(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	(void)args;
	(void)peer;
	struct ledger_counts lc = {0};
	struct ctl_server_stats cs;
	char err[256];
	if (ledger_counts(d->ledger, daemon_now_us(), &lc, err, sizeof(err)) != 0)
		return ctl_reply_error("ledger: %s", err);
	ctl_server_get_stats(d->ctl, &cs);
	json_t *r = json_pack("{s:s, s:o, s:I, s:s, s:b, s:b, s:o, s:o}", "version", PACTO_VERSION,
			      "started", time_json(d->started_us),
			      "uptime_s", (json_int_t)((daemon_now_us() - d->started_us) / 1000000),
			      "firewall", firewall_backend(d->fw), "dry_run", d->cfg->dry_run,
			      "table_present", firewall_present(d->fw), "sources", sources_json(d),
			      "engine", engine_json(d));
	json_object_set_new(r, "ledger", ledger_json(d, &lc));
	json_object_set_new(r, "alliance", alliance_status_json(d));
	int64_t p50, p99;
	daemon_reaction_percentiles(d, &p50, &p99);
	json_object_set_new(r, "reaction_us", json_pack("{s:I, s:I, s:I}", "samples",
							 (json_int_t)(d->reactions < REACTION_SAMPLES ? d->reactions : REACTION_SAMPLES),
							 "p50", (json_int_t)p50, "p99", (json_int_t)p99));
	json_object_set_new(r, "counters", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
						     "sanctions", (json_int_t)d->sanctions,
						     "firewall_errors", (json_int_t)d->firewall_errors,
						     "table_restores", (json_int_t)d->table_restores,
						     "element_repairs", (json_int_t)d->element_repairs,
						     "reloads", (json_int_t)d->reloads,
						     "control_refused", (json_int_t)cs.refused_peers,
						     "control_bad_requests", (json_int_t)cs.bad_requests));
	return ctl_reply_ok(r);
}

/* ---- sanctions and why ---- */

static json_t *sanction_json(const struct ledger_sanction *s, int64_t now_us)
{
	json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:I}", "id", (json_int_t)s->id,
			      "address", addr_json(&s->addr), "scenario", json_text_cstr(s->scenario), "origin",
			      json_text_cstr(s->origin),
			      "attempts", (int)s->attempts, "offence", (int)s->offence,
			      "first_seen", time_json(s->first_seen_us), "last_seen", time_json(s->last_seen_us),
			      "created", time_json(s->created_us), "expires", time_json(s->expires_us),
			      "remaining_s", (json_int_t)(s->expires_us > now_us && !s->lifted ?
							  (s->expires_us - now_us) / 1000000 : 0));
	if (s->reason)
		json_object_set_new(o, "reason", json_text_cstr(s->reason));
	if (s->lifted)
		json_object_set_new(o, "lifted", json_pack("{s:o, s:o}", "at", time_json(s->lifted_us), "by",
							   json_text_cstr(s->lifted_by ? s->lifted_by : "")));
	if (s->nevidence) {
		json_t *ev = json_array();
		for (size_t i = 0; i < s->nevidence; i++)
			json_array_append_new(ev, json_text(s->evidence[i].text, s->evidence[i].len));
		json_object_set_new(o, "evidence", ev);
	}
	return o;
}

struct listing {
	json_t *arr;
	int64_t now_us;
};

static int list_one(void *arg, const struct ledger_sanction *s)
{
	struct listing *l = arg;
	json_array_append_new(l->arr, sanction_json(s, l->now_us));
	return json_array_size(l->arr) >= MAX_LISTED;
}

#define RECENT_LISTED 1000

/* The sanctions in force; with "all", the latest RECENT_LISTED of any state. */
static json_t *cmd_sanctions(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	(void)peer;
	struct listing l = {json_array(), daemon_now_us()};
	char err[256];
	int rc = json_is_true(json_object_get(args, "all"))
			 ? ledger_each_recent(d->ledger, RECENT_LISTED, list_one, &l, err, sizeof(err))
			 : ledger_each_active(d->ledger, l.now_us, list_one, &l, err, sizeof(err));
	if (rc != 0) {
		json_decref(l.arr);
		return ctl_reply_error("ledger: %s", err);
	}
	return ctl_reply_ok(json_pack("{s:o}", "sanctions", l.arr));
}

/* The "address" argument, parsed strictly: an address or a prefix. */
static int address_arg(json_t *args, struct addr *out, char *err, size_t errlen)
{
	json_t *a = json_object_get(args, "address");
	if (!json_is_string(a)) {
		snprintf(err, errlen, "an address is needed");
		return -1;
	}
	int rc = addr_parse_cidr(json_string_value(a), out);
	if (rc != 0)
		snprintf(err, errlen, "'%s' %s", json_string_value(a),
			 rc == -2 ? "has bits set past its prefix length" : "is not an address or prefix");
	return rc == 0 ? 0 : -1;
}

static json_t *cmd_why(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	(void)peer;
	struct addr a;
	char err[256];
	if (address_arg(args, &a, err, sizeof(err)) != 0)
		return ctl_reply_error("%s", err);
	struct listing l = {json_array(), daemon_now_us()};
	if (ledger_each_history(d->ledger, &a, list_one, &l, err, sizeof(err)) != 0) {
		json_decref(l.arr);
		return ctl_reply_error("ledger: %s", err);
	}
	json_t *r = json_pack("{s:o, s:o}", "address", addr_json(&a), "history", l.arr);
	if (d->alliance)
		alliance_why(d, &a, r);
	return ctl_reply_ok(r);
}

/* ---- sanction, lift, reload ---- */

static int duration_arg(json_t *args, int64_t *us, char *err, size_t errlen)
{
	json_t *v = json_object_get(args, "duration_s");
	*us = DEFAULT_MANUAL_SANCTION_US;
	if (!v)
		return 0;
	/* A kernel timeout is at most 366 days (enforce.h): longer would lapse silently. */
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > CTL_MAX_SANCTION_S) {
		snprintf(err, errlen, "the duration must be 1 s to 366 days");
		return -1;
	}
	*us = json_integer_value(v) * 1000000LL;
	return 0;
}

static json_t *cmd_sanction(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	struct addr a;
	int64_t duration;
	char err[256], origin[64];
	if (address_arg(args, &a, err, sizeof(err)) != 0 || duration_arg(args, &duration, err, sizeof(err)) != 0)
		return ctl_reply_error("%s", err);
	if (a.prefix < (a.family == AF_INET ? 24 : 48))
		return ctl_reply_error("a prefix that wide would drop too much: at most /24 (IPv4) or /48 (IPv6)");
	if (engine_allowlisted(d->engine, &a))
		return ctl_reply_error("%s is or overlaps an allowlisted network (or loopback)",
				       json_string_value(json_object_get(args, "address")));
	json_t *reason = json_object_get(args, "reason");
	int64_t now = daemon_now_us();
	struct sanction s = {.addr = a, .created_us = now, .duration_us = duration, .offence = 1,
			     .first_seen_us = now, .last_seen_us = now};
	snprintf(origin, sizeof(origin), "manual (uid %u)", (unsigned)peer->uid);
	bool local_only = json_is_true(json_object_get(args, "local_only"));
	/* A longer sanction in force keeps the drop (daemon_sanction): the
	 * reply says so, instead of a term the kernel does not keep. */
	struct daemon_in_force before = daemon_in_force(d, &a, now);
	if (daemon_sanction(d, &s, origin, json_is_string(reason) ? json_string_value(reason) : NULL, NULL, !local_only, err,
			    sizeof(err)) != 0)
		return ctl_reply_error("firewall: %s", err);
	engine_impose(d->engine, &a, now + duration);
	json_t *reply = json_pack("{s:o, s:I}", "address", addr_json(&a), "duration_s", (json_int_t)(duration / 1000000));
	if (before.until_us > now + duration)
		json_object_set_new(reply, "dropped_s", json_integer((before.until_us - now + 999999) / 1000000));
	return ctl_reply_ok(reply);
}

/* The ledger's sanctions of exactly key in force, for a held lift. */
struct lift_rows {
	struct recorder *recorder;
	const struct addr *key;
	int64_t *ids;
	size_t n, cap;
};

static int lift_row(void *arg, int64_t id, const char *origin, int64_t expires_us)
{
	struct lift_rows *l = arg;
	(void)origin;
	(void)expires_us;
	if (recorder_lifted(l->recorder, l->key, id))
		return 0;   /* a held lift ends it already */
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->ids = xreallocarray(l->ids, l->cap, sizeof(*l->ids));
	}
	l->ids[l->n++] = id;
	return 0;
}

/* Lifts the ledger's sanctions of exactly a at now, at once; or, when the
 * ledger refuses the write, or a lift of a waits already (lifts of a key
 * are recorded in the order they were made), holds the lift: the
 * recorder writes it when the ledger takes writes again, after the
 * sanctions held before it, and reports it then (report). *lifted: how
 * many. Returns 0 when done, 1 when held, -1 when neither (err). */
static int lift_ledger(struct daemon *d, const struct addr *a, int64_t now, const char *by, bool report,
		       unsigned *lifted, char *err, size_t errlen)
{
	bool waits = recorder_lifted(d->recorder, a, -1);
	if (!waits && ledger_lift(d->ledger, a, now, by, lifted, err, errlen) == 0)
		return 0;
	if (!waits) {
		d->ledger_errors++;
		recorder_error(d->recorder, now, err);
	}
	struct lift_rows l = {.recorder = d->recorder, .key = a};
	char lerr[256];
	int rc = 1;
	if (ledger_each_active_exact(d->ledger, a, now, lift_row, &l, lerr, sizeof(lerr)) != 0) {
		snprintf(err, errlen, "%s", lerr);
		rc = -1;
	} else if (l.n && recorder_hold_lift(d->recorder, a, now, by, l.ids, l.n, report) != 0) {
		snprintf(err, errlen, "%d changes already wait for the ledger: nothing lifted", RECORDER_MAX_HELD);
		rc = -1;
	}
	*lifted = rc == 1 ? (unsigned)l.n : 0;
	free(l.ids);
	return rc;
}

static json_t *cmd_lift(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	struct addr a;
	char err[256], by[64];
	unsigned lifted = 0;
	if (address_arg(args, &a, err, sizeof(err)) != 0)
		return ctl_reply_error("%s", err);
	snprintf(by, sizeof(by), "manual (uid %u)", (unsigned)peer->uid);
	int64_t now = daemon_now_us();
	/* What a transaction still open holds (a sanction by hand of the same
	 * turn) is committed first, or held if that fails: the lift's own
	 * write below is then a transaction of its own, which no later
	 * failure takes back, and each of this host's sanctions not recorded
	 * yet waits where recorder_lift reaches it. */
	recorder_commit(d);
	/* Asked before the lift: afterwards nothing is active to tell. */
	bool ours = d->alliance && alliance_is_ours(d, &a);
	bool report = ours && d->cfg->report;
	/* pacto(8): a lift ends every sanction of exactly a in force here,
	 * this host's own and an ally's alike ("its failures count again"),
	 * and ledger_lift lifts them all, so the ledger records the ally's
	 * row as lifted by hand too. The ledger's first, then this host's
	 * not recorded yet (held while the ledger refuses writes): those are
	 * written late, each lifted at now in the same transaction, so the
	 * ledger ends the same with or without the outage. */
	int held = lift_ledger(d, &a, now, by, report, &lifted, err, sizeof(err));
	if (held < 0)
		return ctl_reply_error("ledger: %s", err);
	lifted += recorder_lift(d->recorder, &a, now, by);
	if (held == 0 && report && lifted) {
		struct sanction s = {.addr = a};
		if (alliance_report(d, &s, true, NULL, err, sizeof(err)) != 0)
			log_warnx("alliance: lift not reported: %s", err);
	}
	if (lifted == 0)
		return ctl_reply_error("no active sanction of exactly %s (see pacto sanctions)",
				       json_string_value(json_object_get(args, "address")));
	alliance_forget(d, &a);
	/* The kernel element and the engine follow what the ledger now holds
	 * for a (nothing: the element is removed and the failures counted
	 * again), through the step an ally's lift takes (alliance.c's
	 * fall_back), so that the ledger, the kernel and the engine cannot
	 * tell different stories about a. */
	if (daemon_follow_ledger(d, &a, now, err, sizeof(err)) != 0 || firewall_commit(d->fw, err, sizeof(err)) != 0)
		return ctl_reply_error("firewall: %s (the ledger records the lift)", err);
	char text[ADDR_STRLEN];
	log_info("lift %s (%s)%s", addr_format(&a, text, sizeof(text)), by,
		 held ? "; the ledger refuses writes: recorded when it takes them again" : "");
	return ctl_reply_ok(json_pack("{s:o, s:i, s:b}", "address", addr_json(&a), "lifted", (int)lifted, "held",
				      held == 1));
}

static json_t *cmd_allies(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	(void)args;
	(void)peer;
	if (!d->alliance)
		return ctl_reply_error("pactod is in no alliance (no treaty in pacto.conf nor --treaty)");
	return ctl_reply_ok(alliance_json(d));
}

static json_t *cmd_reload(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	(void)args;
	(void)peer;
	char msg[512];
	if (daemon_reload(ctx, msg, sizeof(msg)) != 0)
		return ctl_reply_error("%s", msg);
	return ctl_reply_ok(json_pack("{s:o}", "message", json_text_cstr(msg)));
}

struct waiting_listing {
	json_t *sanctions, *lifts;
	int64_t now_us;
};

static void list_waiting(void *arg, const struct recorder_waiting *w)
{
	struct waiting_listing *l = arg;
	if (!w->is_lift) {
		json_t *o = sanction_json(&w->s, l->now_us);
		json_object_set_new(o, "held", json_true());
		json_array_append_new(l->sanctions, o);
		return;
	}
	json_t *ids = json_array();
	for (size_t i = 0; i < w->nrows; i++)
		json_array_append_new(ids, json_integer(w->rows[i]));
	json_array_append_new(l->lifts, json_pack("{s:o, s:o, s:I, s:o, s:o}", "address", addr_json(&w->s.addr), "at",
						  time_json(w->s.lifted_us), "at_us", (json_int_t)w->s.lifted_us, "by",
						  json_text_cstr(w->s.lifted_by), "ids", ids));
}

/* What pactod holds that its ledger does not show yet (recorder.h): the
 * sanctions in force it could not record yet, the lifts it could not
 * record yet (with the ledger's sanctions they end); `pacto sanctions`
 * adds them to what it reads from the ledger. At most RECORDER_MAX_HELD. */
static json_t *cmd_held(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	struct daemon *d = ctx;
	(void)args;
	(void)peer;
	struct waiting_listing l = {json_array(), json_array(), daemon_now_us()};
	recorder_each_waiting(d->recorder, l.now_us, list_waiting, &l);
	return ctl_reply_ok(json_pack("{s:o, s:o, s:o}", "ledger", json_text_cstr(d->ledger_path), "sanctions",
				      l.sanctions, "lifts", l.lifts));
}

const struct ctl_command daemon_commands[] = {
	{"status", cmd_status}, {"sanctions", cmd_sanctions}, {"why", cmd_why},
	{"sanction", cmd_sanction}, {"lift", cmd_lift}, {"reload", cmd_reload}, {"allies", cmd_allies},
	{"held", cmd_held},
};

const size_t daemon_ncommands = sizeof(daemon_commands) / sizeof(*daemon_commands);
