/* enforce_probe.c: a test-only program that drives the enforcer API against
 * the real kernel, plus the TCP listener and connector the test needs.
 * Why: test_enforce_netns.sh checks real packets being dropped, using
 * nothing a fresh Debian may lack (no socat, nc or python needed).
 *   enforce_probe serve [WIDEST_V4 WIDEST_V6]   commands on stdin, one reply line each:
 *       reset | add CIDR SECONDS | remove CIDR | commit | present | stats
 *       bench N   (N single-element add+commit: "ok P50_US P99_US MEAN_US")
 *       portable add|remove CIDR [SECONDS]  (one operation straight to
 *                  enforce_nftnl in the form for kernels that keep the old
 *                  timeout on re-add: add, delete, then add with timeout)
 *       badbatch  (one netlink transaction, straight to enforce_nftnl: add
 *                  192.0.2.3 for 60 s and 2001:db8::/100, whose set does not
 *                  exist; "ok MESSAGE" when it is refused as a whole)
 *       bulk N    (N adds in one commit, then N removes:
 *                  "ok ADD_S ADD/S REMOVE_S REMOVE/S PRESENT_US", the last the
 *                  median enforce_table_present() with the N elements loaded)
 *       quit
 *     Replies start with "ok" or "err". Like pactod, one process keeps one
 *     enforcer open, so it knows the prefix sets it created.
 *   enforce_probe render add|remove CIDR [SECONDS]
 *     prints the text of that one operation as written for a kernel that
 *     does not renew timeouts on re-add (the portable form), to be fed to nft
 *   enforce_probe listen PORT                  accepts on [::]:PORT (IPv4 too), closes at once
 *   enforce_probe connect SRC DST PORT MS      exit 0 when connected within MS, 1 when not
 * Built by the test script, not by the Makefile. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "enforce/enforce.h"
#include "enforce/enforce_nftnl.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- TCP ----------------------------------------------------------------- */

/* Fills ss from a numeric address and port; returns its length or 0. */
static socklen_t sockaddr_of(const char *host, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof(*in6);
	}
	return 0;
}

static int cmd_listen(unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of("::", port, &ss);
	int fd = socket(AF_INET6, SOCK_STREAM, 0), off = 0, on = 1;
	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
		perror("enforce_probe: listen");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

/* Exit 0 when a TCP connection from src to dst:port completes within ms. */
static int cmd_connect(const char *src, const char *dst, unsigned port, int ms)
{
	struct sockaddr_storage from, to;
	socklen_t flen = sockaddr_of(src, 0, &from), tlen = sockaddr_of(dst, port, &to);
	if (!flen || !tlen || from.ss_family != to.ss_family) {
		fprintf(stderr, "enforce_probe: connect: bad addresses %s %s\n", src, dst);
		return 2;
	}
	int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, flen) != 0) {
		perror("enforce_probe: connect: bind");
		return 2;
	}
	if (connect(fd, (struct sockaddr *)&to, tlen) != 0 && errno != EINPROGRESS)
		return 1;
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, ms) != 1)
		return 1;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	close(fd);
	return soerr == 0 ? 0 : 1;
}

/* ---- Enforcer commands ------------------------------------------------------ */

static char err[ENFORCE_ERRLEN];

static void reply_err(const char *what)
{
	printf("err %s\n", what);
}

static void do_commit(void)
{
	if (enforce_commit(NULL, NULL, err, sizeof(err)) == 0)
		printf("ok\n");
	else
		printf("err %s %s\n", errno == ENOENT ? "ENOENT" : errno == EIO ? "EIO" : "other", err);
}

/* 2001:db8::X:Y:0 + i, one /128 per i: inside the test's documentation
 * /64 and away from the attackers' addresses. */
static struct addr nth_v6(unsigned high, unsigned i)
{
	struct addr a = {.family = AF_INET6, .prefix = 128, .bytes = {0x20, 0x01, 0x0d, 0xb8}};
	a.bytes[8] = (uint8_t)(high >> 8);
	a.bytes[9] = (uint8_t)high;
	a.bytes[12] = (uint8_t)(i >> 24);
	a.bytes[13] = (uint8_t)(i >> 16);
	a.bytes[14] = (uint8_t)(i >> 8);
	a.bytes[15] = (uint8_t)i;
	return a;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* n single-element add+commit round trips, then one commit removing them. */
static void do_bench(unsigned n)
{
	int64_t *lat = calloc(n ? n : 1, sizeof(*lat)), sum = 0;
	for (unsigned i = 0; i < n; i++) {
		struct addr a = nth_v6(0xbeef, i);
		int64_t t0 = now_ns();
		if (enforce_add(&a, 60) != 0 || enforce_commit(NULL, NULL, err, sizeof(err)) != 0) {
			free(lat);
			reply_err(err);
			return;
		}
		lat[i] = now_ns() - t0;
		sum += lat[i];
	}
	for (unsigned i = 0; i < n; i++) {
		struct addr a = nth_v6(0xbeef, i);
		if (enforce_remove(&a) != 0)
			break;
	}
	qsort(lat, n, sizeof(*lat), cmp_i64);
	if (n && enforce_commit(NULL, NULL, err, sizeof(err)) == 0)
		printf("ok %lld %lld %lld\n", (long long)lat[n / 2] / 1000, (long long)lat[n * 99 / 100] / 1000,
		       (long long)(sum / n) / 1000);
	else
		reply_err(err);
	free(lat);
}

/* Queues n operations on distinct addresses and commits them; returns seconds or -1. */
static double timed_commit(unsigned n, enum enforce_kind kind)
{
	int64_t t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		struct addr a = nth_v6(0x1, i);
		if ((kind == ENFORCE_ADD ? enforce_add(&a, 600) : enforce_remove(&a)) != 0)
			return -1;
	}
	if (enforce_commit(NULL, NULL, err, sizeof(err)) != 0)
		return -1;
	return (double)(now_ns() - t0) / 1e9;
}

/* Median cost of enforce_table_present() over 21 calls, in microseconds. */
static long long present_us(void)
{
	int64_t t[21];
	for (int i = 0; i < 21; i++) {
		int64_t t0 = now_ns();
		if (enforce_table_present(err, sizeof(err)) != 1)
			return -1;
		t[i] = now_ns() - t0;
	}
	qsort(t, 21, sizeof(t[0]), cmp_i64);
	return (long long)t[10] / 1000;
}

static void do_bulk(unsigned n)
{
	double add = timed_commit(n, ENFORCE_ADD);
	long long present = add < 0 ? -1 : present_us();
	double rm = present < 0 ? -1 : timed_commit(n, ENFORCE_REMOVE);
	if (add <= 0 || rm <= 0)
		reply_err(err);
	else
		printf("ok %.3f %.0f %.3f %.0f %lld\n", add, n / add, rm, n / rm, present);
}

/* A batch the kernel must refuse: the second element's set is missing.
 * The reply carries the backend's message, which names the failing set. */
static void do_badbatch(void)
{
	struct enforce_op ops[2] = {{.kind = ENFORCE_ADD, .duration_s = 60}, {.kind = ENFORCE_ADD, .duration_s = 60}};
	if (addr_parse_cidr("192.0.2.3", &ops[0].addr) != 0 || addr_parse_cidr("2001:db8::/100", &ops[1].addr) != 0) {
		reply_err("bad address");
		return;
	}
	if (enforce_nftnl_apply(ops, 2, true, err, sizeof(err)) == 0)
		reply_err("the kernel accepted a batch into a missing set");
	else
		printf("ok %s\n", err);
}

static void do_stats(void)
{
	const struct enforce_stats *s = enforce_get_stats();
	printf("ok queued=%llu applied=%llu failed=%llu dropped=%llu transactions=%llu retries=%llu resets=%llu\n",
	       (unsigned long long)s->queued, (unsigned long long)s->applied, (unsigned long long)s->failed,
	       (unsigned long long)s->dropped, (unsigned long long)s->transactions,
	       (unsigned long long)s->retries, (unsigned long long)s->resets);
}

static void reply(int rc, const char *why)
{
	if (rc == 0)
		printf("ok\n");
	else
		reply_err(why);
}

static void do_portable(const char *kind, const char *cidr, const char *secs)
{
	struct enforce_op op = {.kind = strcmp(kind, "add") == 0 ? ENFORCE_ADD : ENFORCE_REMOVE,
				.duration_s = secs ? (uint32_t)strtoul(secs, NULL, 10) : 0};
	if (!cidr || addr_parse_cidr(cidr, &op.addr) != 0 || enforce_check(&op.addr, NULL))
		reply_err("bad address");
	else
		reply(enforce_nftnl_apply(&op, 1, false, err, sizeof(err)), err);
}

static void do_queue(const char *cmd, const char *cidr, const char *secs)
{
	struct addr a;
	if (!cidr || addr_parse_cidr(cidr, &a) != 0)
		reply_err("bad address");
	else if (strcmp(cmd, "remove") != 0 && !secs)
		reply_err("add: no duration");
	else {
		/* The call first: errno is read after it returns. */
		int rc = strcmp(cmd, "remove") == 0 ? enforce_remove(&a)
						    : enforce_add(&a, (uint32_t)strtoul(secs, NULL, 10));
		reply(rc, strerror(errno));
	}
}

/* One command line; returns 1 on quit. */
static int serve_line(char *line)
{
	char *cmd = strtok(line, " \t\n"), *a1 = strtok(NULL, " \t\n"), *a2 = strtok(NULL, " \t\n");
	char *a3 = strtok(NULL, " \t\n");
	if (!cmd)
		reply_err("empty command");
	else if (strcmp(cmd, "quit") == 0)
		return 1;
	else if (strcmp(cmd, "reset") == 0)
		reply(enforce_reset(err, sizeof(err)), err);
	else if (strcmp(cmd, "add") == 0 || strcmp(cmd, "remove") == 0)
		do_queue(cmd, a1, a2);
	else if (strcmp(cmd, "commit") == 0)
		do_commit();
	else if (strcmp(cmd, "present") == 0)
		printf("ok %d\n", enforce_table_present(err, sizeof(err)));
	else if (strcmp(cmd, "bench") == 0 && a1)
		do_bench((unsigned)strtoul(a1, NULL, 10));
	else if (strcmp(cmd, "bulk") == 0 && a1)
		do_bulk((unsigned)strtoul(a1, NULL, 10));
	else if (strcmp(cmd, "portable") == 0 && a1)
		do_portable(a1, a2, a3);
	else if (strcmp(cmd, "badbatch") == 0)
		do_badbatch();
	else if (strcmp(cmd, "stats") == 0)
		do_stats();
	else
		reply_err("unknown command");
	fflush(stdout);
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct enforce_limits lim = {ENFORCE_WIDEST_V4_DEFAULT, ENFORCE_WIDEST_V6_DEFAULT};
	char line[256];
	if (argc >= 4) {
		lim.widest_v4 = (unsigned)atoi(argv[2]);
		lim.widest_v6 = (unsigned)atoi(argv[3]);
	}
	if (enforce_open("nft", &lim, err, sizeof(err)) != 0) {
		fprintf(stderr, "enforce_probe: %s\n", err);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin))
		if (serve_line(line))
			break;
	printf("ok bye\n");
	fflush(stdout);
	enforce_close();
	return 0;
}

/* The portable form of one operation on a /32 or /128 (a shorter prefix
 * would create its set and rules again). */
static int cmd_render(const char *kind, const char *cidr, const char *secs)
{
	struct enforce_shape shape = {0};
	struct enforce_op op = {.kind = strcmp(kind, "add") == 0 ? ENFORCE_ADD : ENFORCE_REMOVE};
	if (addr_parse_cidr(cidr, &op.addr) != 0 || enforce_check(&op.addr, NULL) ||
	    op.addr.prefix != addr_max_prefix(&op.addr)) {
		fprintf(stderr, "enforce_probe: render: bad address %s\n", cidr);
		return 2;
	}
	op.duration_s = secs ? (uint32_t)strtoul(secs, NULL, 10) : 0;
	char *text = enforce_render_batch(&op, 1, false, &shape);
	if (!text)
		return 2;
	fputs(text, stdout);
	free(text);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("enforce_probe", LOG_LEVEL_INFO);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc, argv);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "render") == 0)
		return cmd_render(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 3 && strcmp(argv[1], "listen") == 0)
		return cmd_listen((unsigned)atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "connect") == 0)
		return cmd_connect(argv[2], argv[3], (unsigned)atoi(argv[4]), atoi(argv[5]));
	fprintf(stderr, "usage: enforce_probe serve [W4 W6] | render add|remove CIDR [S] | listen PORT | "
			"connect SRC DST PORT MS\n");
	return 2;
}
