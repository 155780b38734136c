/* pactod.c: main() of the pacto daemon: the startup sequence, top to
 * bottom (STYLE.md, after OpenSMTPD's smtpd.c).
 *   1. options and logging;
 *   2. configuration and rules (pactod -n stops here, after checking them);
 *   3. ledger, firewall (restored from the ledger), log sources, control
 *      socket, the alliance's key (daemon_open): all that needs root;
 *   4. privileges dropped: CAP_NET_ADMIN only, and with --user that user;
 *      then the sandbox: writes confined to the state directories, the
 *      system call filter (common/sandbox.h). Failing either is fatal;
 *   5. the threads (ledger checkpointer, alliance link), which inherit
 *      all of it (daemon_start);
 *   6. the loop, until SIGTERM or SIGINT; SIGHUP reloads. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/cliopt.h"
#include "common/log.h"
#include "common/version.h"
#include "common/sandbox.h"
#include "config/config.h"
#include "daemon/daemon.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reload_requested = 1;
}

static const char usage_text[] =
	"usage: pactod [--config FILE] [--watch FILE]... [--journal-dir DIR] [--state-dir DIR] [--foreground]\n"
	"              [--dry-run] [--user USER] [--treaty FILE --key FILE [--nats URL]...]\n"
	"              [--metrics ADDR:PORT] [-n] [-v] [--version]\n"
	"  --config FILE     configuration (default " CONFIG_DEFAULT_PATH " if it exists; see pacto.conf(5))\n"
	"  --watch FILE      follow this log file (repeatable; replaces the configured files)\n"
	"  --journal-dir DIR read sshd's messages from the journal files in DIR\n"
	"  --state-dir DIR   keep the ledger and the control socket in DIR\n"
	"                    (default: state_dir and run_dir of the configuration)\n"
	"  --foreground      stay attached and log to stderr (default: detach, log to syslog)\n"
	"  --dry-run         log what would be dropped; touch no firewall\n"
	"  --user USER       run as USER (with CAP_NET_ADMIN only) once the logs, ledger and socket are open\n"
	"  --treaty FILE     join the alliance of this signed treaty (overrides treaty in the configuration)\n"
	"  --key FILE        this member's secret key (default: key in the configuration, /etc/pacto/key)\n"
	"  --nats URL        a NATS server of the alliance (repeatable; replaces nats in the configuration)\n"
	"                    (--key and --nats need a treaty: --treaty, or treaty in the configuration)\n"
	"  --metrics ADDR:PORT serve Prometheus metrics and the sanctions page there\n"
	"                    (overrides metrics_listen in the configuration; [ADDR]:PORT for IPv6)\n"
	"  -n                check the configuration and rules, then exit\n"
	"  -v                log debugging messages too\n";

struct cli {
	struct daemon_options opts;
	const char *user;
	bool check_only, verbose;
};

/* --metrics checked with the options, so that -n and a start fail alike,
 * before anything is opened. */
static bool endpoint_valid(const char *s)
{
	struct addr a;
	uint16_t port;
	if (addr_parse_endpoint(s, &a, &port) == 0)
		return true;
	fprintf(stderr, "pactod: --metrics '%s' is not ADDR:PORT (127.0.0.1:9467, [::1]:9467)\n", s);
	return false;
}

/* The options whose value is a path or a name: an empty one (an unset
 * shell variable) is refused here, naming the option, rather than later
 * as a missing file or user. */
static bool value_given(int opt, const char *arg)
{
	static const struct {
		int opt;
		const char *name, *what;
	} named[] = {
		{'c', "--config", "file name"}, {'w', "--watch", "file name"}, {'J', "--journal-dir", "directory name"},
		{'s', "--state-dir", "directory name"}, {'u', "--user", "user name"}, {'T', "--treaty", "file name"},
		{'K', "--key", "file name"},
	};
	for (size_t i = 0; i < sizeof(named) / sizeof(*named); i++)
		if (named[i].opt == opt)
			return cliopt_nonempty("pactod", named[i].name, arg, named[i].what);
	return true;
}

static int parse_args(int argc, char **argv, struct cli *c)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"watch", required_argument, NULL, 'w'},
		{"state-dir", required_argument, NULL, 's'}, {"foreground", no_argument, NULL, 'f'},
		{"journal-dir", required_argument, NULL, 'J'},
		{"dry-run", no_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'}, {"treaty", required_argument, NULL, 'T'},
		{"key", required_argument, NULL, 'K'}, {"nats", required_argument, NULL, 'N'},
		{"metrics", required_argument, NULL, 'M'}, {"user", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "c:w:s:fdnvh", longopts, NULL)) != -1) {
		if (!value_given(opt, optarg))
			return -1;
		switch (opt) {
		case 'c': c->opts.config_path = optarg; break;
		case 's': c->opts.state_dir = optarg; break;
		case 'J': c->opts.journal_dir = optarg; break;
		case 'f': c->opts.foreground = true; break;
		case 'd': c->opts.dry_run = true; break;
		case 'T': c->opts.treaty = optarg; break;
		case 'K': c->opts.key = optarg; break;
		case 'M':
			if (!endpoint_valid(optarg))
				return -1;
			c->opts.metrics_listen = optarg;
			break;
		case 'u': c->user = optarg; break;
		case 'N':
			if (c->opts.nnats == DAEMON_MAX_NATS) {
				fprintf(stderr, "pactod: --nats %s: at most %d servers\n", optarg, DAEMON_MAX_NATS);
				return -1;
			}
			if (!config_nats_url_valid(optarg)) {
				fprintf(stderr, "pactod: --nats '%s' is not a NATS URL (nats://host:port or tls://host:port)\n",
					optarg);
				return -1;
			}
			c->opts.nats[c->opts.nnats++] = optarg;
			break;
		case 'n': c->check_only = true; break;
		case 'v': c->verbose = true; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': printf("pactod %s\n", PACTO_VERSION); exit(0);
		case 'w':
			if (c->opts.nwatch == DAEMON_MAX_WATCH || optarg[0] != '/') {
				fprintf(stderr, "pactod: --watch %s: %s\n", optarg,
					optarg[0] != '/' ? "give an absolute path" : "too many files");
				return -1;
			}
			c->opts.watch[c->opts.nwatch++] = optarg;
			break;
		default: return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pactod: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* --key and --nats set up the alliance a treaty makes; without one
 * (--treaty, or treaty in the configuration) they did nothing, silently.
 * The configuration is read only in that case, to look for its treaty. */
static bool alliance_options_apply(const struct daemon_options *o)
{
	if (o->treaty || (!o->key && !o->nnats) || daemon_config_has_treaty(o) != 0)
		return true;
	fprintf(stderr, "pactod: %s%s%s without a treaty (--treaty FILE, or treaty in %s): there is no alliance to %s\n",
		o->key ? "--key" : "", o->key && o->nnats ? " and " : "", o->nnats ? "--nats" : "",
		o->config_path ? o->config_path : CONFIG_DEFAULT_PATH,
		o->key && o->nnats ? "use them in" : "use it in");
	return false;
}

static void set_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Leaves the terminal before anything is opened: SQLite's locks do not
 * survive a fork, so the ledger must be opened by the process that keeps
 * it. The parent waits on a pipe for the child's "started" or its error,
 * so a failed start is still reported where it was asked for. Returns the
 * pipe's write end in the child. */
static int detach(void)
{
	int p[2];
	if (pipe(p) != 0)
		fatal("pipe");
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		char msg[600] = "";
		close(p[1]);
		ssize_t n = read(p[0], msg, sizeof(msg) - 1);
		msg[n > 0 ? n : 0] = '\0';
		if (strcmp(msg, "ok") == 0)
			_exit(0);
		fprintf(stderr, "pactod: cannot start: %s\n", n > 0 ? msg : "the daemon died while starting");
		_exit(78);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir("/") != 0)
		fatal("chdir /");
	return p[1];
}

static void report_start(int fd, const char *msg)
{
	if (fd < 0)
		return;
	ssize_t n = write(fd, msg, strlen(msg));
	(void)n;
	close(fd);
}

/* pactod -n: every error of the configuration and rules, or OK. */
static int check_only(const struct daemon_options *opts)
{
	struct errors errs = {0};
	size_t n;
	if (daemon_check(opts, &errs, &n) != 0) {
		errors_print(&errs, "");
		fprintf(stderr, "pactod: %zu error%s; pactod would not start\n", errs.n, errs.n == 1 ? "" : "s");
		errors_clear(&errs);
		return 78;
	}
	errors_clear(&errs);   /* an empty pacto.conf leaves its withdrawn message's array */
	printf("pactod: configuration and rules OK (%zu scenario%s)\n", n, n == 1 ? "" : "s");
	return 0;
}

/* --user: resolved before anything is opened, so that daemon_open can give
 * the state directories to that user. */
static int lookup_user(const char *name, struct sandbox_user *u, struct daemon_options *opts)
{
	char err[256];
	if (sandbox_user_lookup(name, u, err, sizeof(err)) != 0) {
		fprintf(stderr, "pactod: --user %s: %s\n", name, err);
		return -1;
	}
	if (geteuid() != 0 && geteuid() != u->uid) {
		fprintf(stderr, "pactod: --user %s: only root may switch to another user\n", name);
		return -1;
	}
	opts->has_owner = true;
	opts->owner_uid = u->uid;
	opts->owner_gid = u->gid;
	return 0;
}

/* A failed privilege drop is fatal (STYLE.md): pactod never runs with more
 * than it asked to keep. */
static void sandbox(struct daemon *d, const struct sandbox_user *u, int started)
{
	char err[512];
	const char *dirs[2];
	size_t ndirs = daemon_write_dirs(d, dirs);
	if (sandbox_drop(u, err, sizeof(err)) != 0 || sandbox_enter(dirs, ndirs, err, sizeof(err)) != 0) {
		report_start(started, err);
		fatalx("%s", err);
	}
	log_info("sandboxed: CAP_NET_ADMIN only%s%s, system calls filtered, writes %s", u ? ", as " : "",
		 u ? u->name : "", sandbox_writes_confined() ? "confined to the state directories" : "not confined");
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	log_init("pactod", LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &c) != 0) {
		fputs(usage_text, stderr);
		return 64;
	}
	if (!alliance_options_apply(&c.opts))
		return 64;
	if (c.verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	if (c.check_only)
		return check_only(&c.opts);
	set_signals();
	struct sandbox_user user;
	if (c.user && lookup_user(c.user, &user, &c.opts) != 0)
		return 78;
	const struct sandbox_user *as = c.user ? &user : NULL;
	static struct daemon d;
	d.stop = &stop_requested;
	d.reload = &reload_requested;
	char err[512];
	int started = -1;
	if (!c.opts.foreground) {
		started = detach();
		log_to_syslog("pactod");
	}
	if (daemon_open(&d, &c.opts, err, sizeof(err)) != 0) {
		log_warnx("cannot start: %s", err);
		report_start(started, err);
		daemon_close(&d);
		return 78;
	}
	/* From here: CAP_NET_ADMIN on the netlink sockets already open, writes
	 * in the state directories, reads of logs, rules and treaty (reload,
	 * rotation), sockets to NATS. Nothing else. */
	sandbox(&d, as, started);
	if (daemon_start(&d, err, sizeof(err)) != 0) {
		log_warnx("cannot start: %s", err);
		report_start(started, err);
		daemon_close(&d);
		return 78;
	}
	report_start(started, "ok");
	daemon_run(&d);
	log_info("stopping");
	daemon_close(&d);
	return 0;
}
