/* cmd_control.c: the `pacto` commands that talk to pactod over its control
 * socket: status, sanctions, sanction, lift, why, reload, allies.
 * Why one file: they share the connection, the request and the choice
 * between --json (the daemon's reply as it came) and text for people. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/yaml_util.h"
#include "ctl/cli.h"
#include "ctl/ctl_emit.h"
#include "ctl/ctl_proto.h"
#include "detect/logline.h"
#include "ledger/ledger.h"

#define DEFAULT_RUN_DIR "/run/pacto"

const char *cli_state_dir;

static int connect_daemon(char *path, size_t len)
{
	snprintf(path, len, "%s/%s", cli_state_dir ? cli_state_dir : DEFAULT_RUN_DIR, CTL_SOCKET_NAME);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (fd >= 0 && strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		errno = ENAMETOOLONG;   /* the state directory's path is too long for a socket */
		return -1;
	}
	if (fd < 0)
		return -1;
	strcpy(sa.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Sends one request; on success *reply holds the daemon's answer (caller
 * frees) and *result points into it. Returns a sysexits code; quiet: says
 * nothing of a failure. */
static int ask_to(const char *command, json_t *args, json_t **reply, json_t **result, bool quiet)
{
	char path[512], err[512];
	json_t *req = ctl_request(command, args);
	int fd = connect_daemon(path, sizeof(path));
	if (fd < 0) {
		if (!quiet)
			fprintf(stderr, "pacto: cannot reach pactod at %s: %s\n", path, strerror(errno));
		json_decref(req);
		return EXIT_UNAVAILABLE;
	}
	/* pactod answers within its loop; a long listing takes a moment. */
	int rc = -1;
	if (ctl_send(fd, req) == 0)
		rc = ctl_recv(fd, CTL_MAX_REPLY, 60000, reply, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "the request was not sent: %s", strerror(errno));
	close(fd);
	json_decref(req);
	if (rc != 0) {
		if (!quiet)
			fprintf(stderr, "pacto: %s: no answer from pactod (%s)\n", path, rc < 0 ? err : "");
		return EXIT_UNAVAILABLE;
	}
	int ok = ctl_reply_check(*reply, result, err, sizeof(err));
	if (ok != 0) {
		if (!quiet)
			fprintf(stderr, "pacto %s: %s\n", command, err);
		json_decref(*reply);
		return ok > 0 ? EXIT_DATAERR : EXIT_UNAVAILABLE;
	}
	return EXIT_OK;
}

static int ask(const char *command, json_t *args, json_t **reply, json_t **result)
{
	return ask_to(command, args, reply, result, false);
}

static void print_json(json_t *result)
{
	char *text = json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		puts(text);
	free(text);
}

/* Text for a terminal: reasons and log lines come from others, so their
 * controls (C0, DEL, C1) and stray bytes are escaped as every message's
 * are (put_printable: \xHH), whatever their length. Rotating buffers:
 * several may be used in one printf; each is freed when its turn comes
 * again. */
static const char *safe(const char *s)
{
	static char *bufs[8];
	static unsigned next;
	char **out = &bufs[next++ % 8];
	size_t len;
	free(*out);
	*out = NULL;
	FILE *f = open_memstream(out, &len);
	if (!f)
		return "(out of memory)";
	put_printable(f, s);
	if (fclose(f) != 0 || !*out)
		return "(out of memory)";
	return *out;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return safe(json_is_string(v) ? json_string_value(v) : "");
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* ---- text output ---- */

static void print_status(json_t *r)
{
	json_t *e = json_object_get(r, "engine"), *l = json_object_get(r, "ledger");
	printf("pactod %s, up %llds, firewall: %s%s\n", str(r, "version"), num(r, "uptime_s"), str(r, "firewall"),
	       json_is_true(json_object_get(r, "table_present")) ? "" : " (table missing)");
	printf("lines %lld, matched %lld, failures %lld, sanctions %lld\n", num(e, "lines"), num(e, "matched"),
	       num(e, "failures"), num(e, "sanctions"));
	printf("ledger %s: %lld sanctions, %lld active\n", str(l, "path"), num(l, "sanctions"), num(l, "active"));
	if (num(l, "errors"))
		printf("ledger errors: %lld, the last at %s: %s\n", num(l, "errors"), str(l, "last_error_at"),
		       str(l, "last_error"));
	if (num(l, "held") || num(l, "recorded_late") || num(l, "lost"))
		printf("ledger: %lld sanctions enforced but not recorded yet (retried), %lld recorded late, %lld lost\n",
		       num(l, "held"), num(l, "recorded_late"), num(l, "lost"));
	if (num(l, "lifts_held"))
		printf("ledger: %lld lifts done but not recorded yet (retried)\n", num(l, "lifts_held"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(r, "sources"), i, s)
		printf("source %s: %lld lines, %lld rotations, %lld truncations\n", str(s, "path"), num(s, "lines"),
		       num(s, "rotations"), num(s, "truncations"));
}

static void print_sanction_line(json_t *s)
{
	json_t *lifted = json_object_get(s, "lifted");
	if (lifted)
		printf("%-28s %-10s %-20s lifted %s by %s\n", str(s, "address"), str(s, "scenario"), str(s, "origin"),
		       str(lifted, "at"), str(lifted, "by"));
	else if (num(s, "remaining_s") == 0)
		printf("%-28s %-10s %-20s ended %s (offence %lld)\n", str(s, "address"), str(s, "scenario"),
		       str(s, "origin"), str(s, "expires"), num(s, "offence"));
	else
		printf("%-28s %-10s %-20s until %s (%llds left, offence %lld)\n", str(s, "address"),
		       str(s, "scenario"), str(s, "origin"), str(s, "expires"), num(s, "remaining_s"), num(s, "offence"));
}

static void print_sanctions(json_t *r)
{
	json_t *list = json_object_get(r, "sanctions"), *s;
	size_t i;
	json_array_foreach(list, i, s)
		print_sanction_line(s);
	printf("%zu sanction%s\n", json_array_size(list), json_array_size(list) == 1 ? "" : "s");
}

static void print_why(json_t *r)
{
	json_t *list = json_object_get(r, "history"), *s, *line;
	size_t i, j;
	if (json_array_size(list) == 0)
		printf("%s: never sanctioned\n", str(r, "address"));
	json_array_foreach(list, i, s) {
		printf("%s sanction %s until %s: %s, %lld failures from %s (offence %lld), by %s\n", str(s, "created"),
		       str(s, "address"), str(s, "expires"), str(s, "scenario"), num(s, "attempts"),
		       str(s, "first_seen"), num(s, "offence"), str(s, "origin"));
		if (*str(s, "reason"))
			printf("    reason: %s\n", str(s, "reason"));
		json_array_foreach(json_object_get(s, "evidence"), j, line)
			printf("    | %s\n", safe(json_is_string(line) ? json_string_value(line) : ""));
		json_t *lifted = json_object_get(s, "lifted");
		if (lifted)
			printf("    lifted %s by %s\n", str(lifted, "at"), str(lifted, "by"));
	}
	json_array_foreach(json_object_get(r, "reports"), i, s) {
		printf("%s report %lld of %s: %s %s for %llds: %s%s%s\n", str(s, "received"), num(s, "seq"),
		       str(s, "member"), str(s, "action"), str(s, "scenario"), num(s, "duration_s"), str(s, "verdict"),
		       *str(s, "reason") ? ", " : "", str(s, "reason"));
	}
}

static void print_refusals(json_t *refused)
{
	const char *reason;
	json_t *v;
	bool any = false;
	json_object_foreach(refused, reason, v) {
		printf("%s %s %lld", any ? "," : "; refused:", safe(reason), (long long)json_integer_value(v));
		any = true;
	}
}

static void print_allies(json_t *r)
{
	json_t *link = json_object_get(r, "link"), *m;
	size_t i;
	printf("alliance %s, treaty version %lld, quorum %lld; we are %s\n", str(r, "alliance"),
	       num(r, "treaty_version"), num(r, "quorum"), str(r, "self"));
	printf("link: %s%s, published %lld, acknowledged %lld, failed %lld, received %lld; outbox %lld waiting\n",
	       json_is_true(json_object_get(link, "ready")) ? "ready" : "not ready",
	       *str(link, "server") ? "" : " (no server)", num(link, "published"), num(link, "acked"),
	       num(link, "failed"), num(link, "received"), num(r, "outbox_pending"));
	json_array_foreach(json_object_get(r, "members"), i, m) {
		if (json_is_true(json_object_get(m, "self"))) {
			printf("%-16s weight %lld (this host)\n", str(m, "id"), num(m, "weight"));
			continue;
		}
		printf("%-16s weight %lld, last report %lld at %s, lag %lld ms, accepted %lld", str(m, "id"),
		       num(m, "weight"), num(m, "last_seq"), json_is_string(json_object_get(m, "last_report"))
								? str(m, "last_report") : "never",
		       num(m, "lag_ms"), num(m, "accepted"));
		print_refusals(json_object_get(m, "refused"));
		printf("\n");
	}
	if (num(r, "unknown_senders"))
		printf("messages from non-members refused: %lld\n", num(r, "unknown_senders"));
	if (num(link, "oversized"))
		printf("messages over the stream's size limit dropped unread: %lld\n", num(link, "oversized"));
}

/* ---- commands ---- */

struct control_opts {
	bool json, all, local_only;
	const char *duration, *reason;
};

/* The long name of the option getopt_long returned as opt. */
static const char *option_name(const struct option *longopts, int opt)
{
	for (; longopts->name; longopts++)
		if (longopts->val == opt)
			return longopts->name;
	return "?";
}

/* Parses --json, and --for/--reason where allowed; returns the index of the
 * first operand, or -1. */
static int control_options(int argc, char **argv, struct control_opts *o, bool sanction_opts, const char *usage)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'}, {"for", required_argument, NULL, 'f'},
		{"reason", required_argument, NULL, 'r'}, {"local-only", no_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		if (opt == 'j')
			o->json = true;
		else if (opt == 'a' && !sanction_opts && strstr(usage, "--all"))
			o->all = true;
		else if (opt == 'f' && sanction_opts)
			o->duration = optarg;
		else if (opt == 'r' && sanction_opts)
			o->reason = optarg;
		else if (opt == 'l' && sanction_opts)
			o->local_only = true;
		else {
			if (opt != 'h' && opt != '?')   /* getopt named an unknown one itself */
				fprintf(stderr, "pacto: option '--%s' does not apply here\n", option_name(longopts, opt));
			fprintf(opt == 'h' ? stdout : stderr, "usage: pacto %s\n", usage);
			return opt == 'h' ? -2 : -1;
		}
	}
	return optind;
}

static int run(const char *command, json_t *args, bool json, void (*print)(json_t *))
{
	json_t *reply = NULL, *result = NULL;
	int rc = ask(command, args, &reply, &result);
	if (rc != EXIT_OK)
		return rc;
	if (json)
		print_json(result);
	else
		print(result);
	json_decref(reply);
	return EXIT_OK;
}

/* A command without operands; --all (where its usage offers it) is passed on. */
static int simple(int argc, char **argv, const char *command, const char *usage, void (*print)(json_t *))
{
	struct control_opts o = {0};
	int first = control_options(argc, argv, &o, false, usage);
	if (first < 0 || first != argc) {
		if (first >= 0) {   /* control_options already said it otherwise */
			fprintf(stderr, "pacto: unexpected operand '%s'\n", argv[first]);
			fprintf(stderr, "usage: pacto %s\n", usage);
		}
		return first == -2 ? EXIT_OK : EXIT_USAGE;
	}
	return run(command, o.all ? json_pack("{s:b}", "all", 1) : NULL, o.json, print);
}

static void print_message(json_t *r)
{
	printf("%s\n", str(r, "message"));
}

int cmd_status(int argc, char **argv)
{
	return simple(argc, argv, "status", "status [--json]", print_status);
}

/* ---- sanctions: read from the ledger itself ----
 * A listing of a million sanctions through pactod would hold its loop for
 * seconds and a reply of hundreds of megabytes; the ledger is SQLite in
 * WAL mode, so pacto reads it directly, beside the running writer, and
 * streams what it reads. pactod is asked only where the ledger is, and for
 * the list when the ledger cannot be opened (then at most 100000). */

#define DEFAULT_STATE_DIR "/var/lib/pacto"

static void find_ledger(char *buf, size_t len)
{
	char path[512];
	json_t *reply = NULL, *result = NULL;
	if (cli_state_dir) {
		snprintf(buf, len, "%s/ledger.db", cli_state_dir);
		return;
	}
	snprintf(buf, len, DEFAULT_STATE_DIR "/ledger.db");
	int fd = connect_daemon(path, sizeof(path));
	if (fd < 0)
		return;
	close(fd);
	if (ask("status", NULL, &reply, &result) != EXIT_OK)
		return;
	const char *p = json_string_value(json_object_get(json_object_get(result, "ledger"), "path"));
	if (p)
		snprintf(buf, len, "%s", p);
	json_decref(reply);
}

/* What the pactod reached holds that the ledger at path does not show yet
 * (its "held" command: sanctions it could not record yet, lifts it could
 * not record yet); NULL when no pactod answers, or it keeps another
 * ledger. Quiet: pacto sanctions reads the ledger without pactod too. */
static json_t *ask_held(const char *path)
{
	json_t *reply = NULL, *result = NULL;
	if (ask_to("held", NULL, &reply, &result, true) != EXIT_OK)
		return NULL;
	const char *theirs = json_string_value(json_object_get(result, "ledger"));
	struct stat a, b;
	if (!theirs || stat(theirs, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		json_decref(reply);
		return NULL;
	}
	json_t *held = json_incref(result);
	json_decref(reply);
	return held;
}

struct listing_out {
	bool json, all;
	size_t n;
	int64_t now_us;
	json_t *held;   /* ask_held()'s, or NULL */
};

/* The held lift (of ask_held()) that ends the ledger's sanction s, or NULL. */
static json_t *held_lift_of(const struct listing_out *o, const struct ledger_sanction *s)
{
	json_t *lift, *id;
	size_t i, j;
	json_array_foreach(json_object_get(o->held, "lifts"), i, lift)
		json_array_foreach(json_object_get(lift, "ids"), j, id)
			if (json_integer_value(id) == s->id)
				return lift;
	return NULL;
}

/* Whether the held sanction h is s, committed since pactod answered. */
static bool same_sanction(json_t *h, const struct ledger_sanction *s)
{
	char addr[ADDR_STRLEN], created[40];
	addr_format(&s->addr, addr, sizeof(addr));
	format_time_utc(s->created_us, created, sizeof(created));
	const char *a = json_string_value(json_object_get(h, "address"));
	const char *c = json_string_value(json_object_get(h, "created"));
	const char *sc = json_string_value(json_object_get(h, "scenario"));
	const char *or = json_string_value(json_object_get(h, "origin"));
	return a && c && sc && or && strcmp(a, addr) == 0 && strcmp(c, created) == 0 &&
	       strcmp(sc, s->scenario ? s->scenario : "") == 0 && strcmp(or, s->origin ? s->origin : "") == 0;
}

/* Marks the held sanctions that the ledger lists now ("shown"): pactod is
 * asked before the ledger is read, so one recorded in between would be
 * listed twice, never missed. */
static void mark_recorded(const struct listing_out *o, const struct ledger_sanction *s)
{
	json_t *h;
	size_t i;
	json_array_foreach(json_object_get(o->held, "sanctions"), i, h)
		if (same_sanction(h, s))
			json_object_set_new(h, "shown", json_true());
}

static void text_sanction(const struct ledger_sanction *s, int64_t now_us)
{
	char addr[ADDR_STRLEN], t1[40], t2[40];
	addr_format(&s->addr, addr, sizeof(addr));
	if (s->lifted)
		printf("%-28s %-10s %-20s lifted %s by %s\n", addr, safe(s->scenario), safe(s->origin),
		       format_time_utc(s->lifted_us, t1, sizeof(t1)), safe(s->lifted_by ? s->lifted_by : ""));
	else if (s->expires_us <= now_us)
		printf("%-28s %-10s %-20s ended %s (offence %u)\n", addr, safe(s->scenario), safe(s->origin),
		       format_time_utc(s->expires_us, t1, sizeof(t1)), s->offence);
	else
		printf("%-28s %-10s %-20s until %s (%llds left, offence %u)\n", addr, safe(s->scenario),
		       safe(s->origin), format_time_utc(s->expires_us, t2, sizeof(t2)),
		       (long long)((s->expires_us - now_us) / 1000000), s->offence);
}

static int list_sanction(void *arg, const struct ledger_sanction *in)
{
	struct listing_out *o = arg;
	struct ledger_sanction lifted;
	const struct ledger_sanction *s = in;
	json_t *lift = o->held && !in->lifted ? held_lift_of(o, in) : NULL;
	if (o->held)
		mark_recorded(o, in);
	if (lift && in->expires_us > o->now_us) {
		/* Lifted by hand, the lift not recorded yet: not in force. */
		if (!o->all)
			return 0;
		lifted = *in;
		lifted.lifted = true;
		lifted.lifted_us = json_integer_value(json_object_get(lift, "at_us"));
		lifted.lifted_by = json_string_value(json_object_get(lift, "by"));
		s = &lifted;
	}
	if (o->json) {
		fputs(o->n ? ",\n" : "\n", stdout);
		json_emit_sanction(stdout, s, o->now_us);
	} else {
		text_sanction(s, o->now_us);
	}
	o->n++;
	return 0;
}

/* After the ledger's: the sanctions pactod holds, not recorded yet (each
 * marked held), and in JSON the lifts it holds ("lifts_held"). */
static void list_held(struct listing_out *o)
{
	json_t *h;
	size_t i;
	json_array_foreach(json_object_get(o->held, "sanctions"), i, h) {
		if (json_is_true(json_object_get(h, "shown")))
			continue;
		if (o->json) {
			fputs(o->n ? ",\n" : "\n", stdout);
			json_dumpf(h, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		} else {
			printf("%-28s %-10s %-20s until %s (%llds left, offence %lld; held: not recorded yet)\n",
			       str(h, "address"), str(h, "scenario"), str(h, "origin"), str(h, "expires"),
			       num(h, "remaining_s"), num(h, "offence"));
		}
		o->n++;
	}
}

/* The lifts pactod holds, as a JSON array ([] when none, or no pactod). */
static void print_lifts_held(const struct listing_out *o)
{
	json_t *lifts = json_object_get(o->held, "lifts");
	if (json_is_array(lifts))
		json_dumpf(lifts, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	else
		fputs("[]", stdout);
}

static int list_from_ledger(const char *path, bool all, bool json)
{
	struct ledger *l;
	char err[512];
	if (ledger_open_readonly(path, &l, err, sizeof(err)) != 0) {
		fprintf(stderr, "pacto: cannot read the ledger: %s; asking pactod\n", err);
		return -1;
	}
	/* Asked first: see mark_recorded(). */
	struct listing_out o = {.json = json, .all = all, .now_us = clock_realtime_us(), .held = ask_held(path)};
	static char buf[1 << 20];
	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
	if (json)
		fputs("{\"sanctions\": [", stdout);
	int rc = all ? ledger_each_recent(l, 1000, list_sanction, &o, err, sizeof(err))
		     : ledger_each_active(l, o.now_us, list_sanction, &o, err, sizeof(err));
	list_held(&o);
	if (json) {
		fputs("\n], \"lifts_held\": ", stdout);
		print_lifts_held(&o);
		fputs("}\n", stdout);
	} else
		printf("%zu sanction%s\n", o.n, o.n == 1 ? "" : "s");
	fflush(stdout);
	json_decref(o.held);
	ledger_close(l);
	if (rc != 0) {
		fprintf(stderr, "pacto: ledger: %s\n", err);
		return EXIT_FAILURE_;
	}
	return EXIT_OK;
}

int cmd_sanctions(int argc, char **argv)
{
	static const char usage[] = "sanctions [--all] [--json]";
	struct control_opts o = {0};
	char path[1024];
	int first = control_options(argc, argv, &o, false, usage);
	if (first < 0 || first != argc) {
		if (first >= 0)
			fprintf(stderr, "usage: pacto %s\n", usage);
		return first == -2 ? EXIT_OK : EXIT_USAGE;
	}
	find_ledger(path, sizeof(path));
	int rc = list_from_ledger(path, o.all, o.json);
	if (rc >= 0)
		return rc;
	return run("sanctions", o.all ? json_pack("{s:b}", "all", 1) : NULL, o.json, print_sanctions);
}

int cmd_allies(int argc, char **argv)
{
	return simple(argc, argv, "allies", "allies [--json]", print_allies);
}

int cmd_reload(int argc, char **argv)
{
	return simple(argc, argv, "reload", "reload [--json]", print_message);
}

/* The one ADDRESS operand, checked here too so a typo fails before the daemon. */
static int address_operand(int argc, char **argv, int first, const char *usage)
{
	struct addr a;
	if (first < 0 || first + 1 != argc) {
		if (first >= 0) {
			if (first == argc)
				fprintf(stderr, "pacto: an ADDRESS is needed\n");
			else
				fprintf(stderr, "pacto: unexpected operand '%s' after the address\n", argv[first + 1]);
			fprintf(stderr, "usage: pacto %s\n", usage);
		}
		return first == -2 ? -2 : -1;
	}
	int rc = addr_parse_cidr(argv[first], &a);
	if (rc != 0) {
		fprintf(stderr, "pacto: '%s' %s\n", argv[first],
			rc == -2 ? "has bits set past its prefix length" : "is not an address or ADDRESS/LEN");
		return -1;
	}
	return 0;
}

static void print_sanctioned(json_t *r)
{
	printf("sanctioned %s for %llds", str(r, "address"), num(r, "duration_s"));
	if (json_object_get(r, "dropped_s"))
		printf(" (a longer sanction is in force: dropped for %llds)", num(r, "dropped_s"));
	putchar('\n');
}

static void print_lifted(json_t *r)
{
	printf("lifted %s\n", str(r, "address"));
}

static void print_why_or_never(json_t *r)
{
	print_why(r);
}

int cmd_sanction(int argc, char **argv)
{
	static const char usage[] = "sanction ADDRESS[/LEN] [--for DURATION] [--reason TEXT] [--local-only] [--json]";
	struct control_opts o = {0};
	int first = control_options(argc, argv, &o, true, usage);
	int rc = address_operand(argc, argv, first, usage);
	if (rc != 0)
		return rc == -2 ? EXIT_OK : EXIT_USAGE;
	json_t *args = json_pack("{s:s}", "address", argv[first]);
	if (o.duration) {
		int64_t us;
		int parsed = parse_duration(o.duration, &us);
		if (parsed == -1 || (parsed == 0 && us < 1000000)) {
			fprintf(stderr, "pacto: --for '%s' is not a duration (e.g. 90s, 10m, 2h, 1d, 1w)\n", o.duration);
			json_decref(args);
			return EXIT_USAGE;
		}
		if (parsed == -2 || us / 1000000 > CTL_MAX_SANCTION_S) {
			fprintf(stderr, "pacto: --for '%s' is longer than 366 days (the kernel's timeouts)\n", o.duration);
			json_decref(args);
			return EXIT_USAGE;
		}
		json_object_set_new(args, "duration_s", json_integer(us / 1000000));
	}
	json_t *reason = o.reason ? json_string(o.reason) : NULL;   /* NULL too when not UTF-8 */
	if (o.reason && (!reason || strlen(o.reason) > LEDGER_MAX_REASON)) {
		if (!reason)
			fprintf(stderr, "pacto: --reason must be UTF-8 text\n");
		else
			fprintf(stderr, "pacto: --reason is %zu bytes; the ledger keeps at most %d\n", strlen(o.reason),
				LEDGER_MAX_REASON);
		json_decref(reason);
		json_decref(args);
		return EXIT_USAGE;
	}
	if (reason)
		json_object_set_new(args, "reason", reason);
	if (o.local_only)
		json_object_set_new(args, "local_only", json_true());
	return run("sanction", args, o.json, print_sanctioned);
}

static int address_command(int argc, char **argv, const char *command, const char *usage, void (*print)(json_t *))
{
	struct control_opts o = {0};
	int first = control_options(argc, argv, &o, false, usage);
	int rc = address_operand(argc, argv, first, usage);
	if (rc != 0)
		return rc == -2 ? EXIT_OK : EXIT_USAGE;
	return run(command, json_pack("{s:s}", "address", argv[first]), o.json, print);
}

int cmd_lift(int argc, char **argv)
{
	return address_command(argc, argv, "lift", "lift ADDRESS[/LEN] [--json]", print_lifted);
}

int cmd_why(int argc, char **argv)
{
	return address_command(argc, argv, "why", "why ADDRESS[/LEN] [--json]", print_why_or_never);
}
