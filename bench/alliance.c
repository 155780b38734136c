/* alliance.c: the C half of bench/alliance (the script sets up the
 * namespaces, nats-server, the treaty and the pactods; this does the
 * timing-sensitive parts). Two commands:
 *
 *   bench_alliance propagate A_NETNS B_NETNS A_LOG N [NATS_URL SUBJECT]
 *     Propagation latency, from A's detection to the address in B's nft
 *     set. For each of N aggressors (198.18.0.0/15; default 1000): four
 *     failure lines appended to A's log, 2 ms for A to count them, the time
 *     taken, the fifth written; then the kernel of each namespace is asked,
 *     over a netlink socket opened inside it (setns), for that one element
 *     (NFT_MSG_GETSETELEM: a hash lookup under RCU, no nftables lock, never
 *     a listing of the set) every ~20 µs until both A's and B's sets hold
 *     it. Prints write() -> in A's set (A's own reaction), write() -> in
 *     B's set (propagation), p50/p99/max, against the targets (p99 < 10 ms
 *     must, < 5 ms wanted). Each figure overstates by at most one probe
 *     interval (printed). A_NETNS, B_NETNS: names under /run/netns.
 *
 *   bench_alliance rate A_NETNS B_NETNS A_LOG N RATE FIRST [NATS_URL SUBJECT]
 *     Propagation at a fixed rate of aggressions (open loop): aggressor
 *     FIRST + k (k < N) gets its fifth line at start + k / RATE, whatever
 *     became of the earlier ones (its first four lines went out ~4 ms
 *     before, with the fifth line of an earlier one). When each address
 *     enters A's and B's sets is read from nftables' own notifications
 *     (NFT_MSG_NEWSETELEM on the NFNLGRP_NFTABLES group, what `nft monitor`
 *     reads), one thread per namespace: no probing, however many are in
 *     flight. Prints p50/p99/max as propagate does, how late the writer
 *     was, and a last line "result rate R n N seen S p50 P p99 Q max M"
 *     (µs, propagation) for the script's sweep.
 *
 *   bench_alliance has NETNS ADDRESS...
 *     Exit 0 when every IPv4 ADDRESS is in that namespace's set (the same
 *     one-element question; `nft get element` would list the whole set).
 *
 *   bench_alliance publish --nats URL --alliance NAME --member ID --key FILE
 *                          --version V --count N [--batch K] [--seq S]
 *     Publishes N valid signed sanction reports of member ID into the
 *     alliance's stream (which must exist), K reports per message (1..32,
 *     as a member's outbox batches them), each about its own address
 *     (10.x.y.z from S on), 600 s, scenario sshd, with four sshd evidence
 *     lines as a real member sends. Asynchronous publishes, each message
 *     with the Nats-Msg-Id pactod would give it; exit 0 when the stream
 *     acknowledged all of them.
 *
 * Run as root (setns, netlink to nftables). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <nats/nats.h>
#include <pthread.h>
#include <linux/netfilter/nfnetlink.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alliance/report.h"
#include "alliance/signer.h"
#include "setelem.h"

#define TARGET_MUST_US 10000.0
#define TARGET_WANTED_US 5000.0
#define PROBE_INTERVAL_NS 20000
#define GIVE_UP_US 5e6

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- propagate ---------------------------------------------------------- */

static void append(int fd, const char *addr, int pid, int port)
{
	char line[256], when[64];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	int n = snprintf(line, sizeof(line), "%s.%06ld+00:00 h sshd[%d]: Failed password for root from %s port %d ssh2\n",
			 when, ts.tv_nsec / 1000, pid, addr, port);
	if (write(fd, line, (size_t)n) != n) {
		perror("bench_alliance: log");
		exit(1);
	}
}

/* A netlink socket of the namespace /run/netns/name (a socket stays in the
 * namespace it was created in, so we step in and back out). */
static struct mnl_socket *socket_in(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), other = open(path, O_RDONLY | O_CLOEXEC);
	struct mnl_socket *nl = NULL;
	if (self < 0 || other < 0 || setns(other, CLONE_NEWNET) != 0) {
		fprintf(stderr, "bench_alliance: namespace %s: %s\n", name, strerror(errno));
		exit(1);
	}
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("bench_alliance: netlink");
		exit(1);
	}
	if (setns(self, CLONE_NEWNET) != 0) {
		perror("bench_alliance: setns back");
		exit(1);
	}
	close(self);
	close(other);
	return nl;
}

static int in_set(struct mnl_socket *nl, const uint8_t v4[4])
{
	return setelem_has_v4(nl, v4);
}

/* ---- A's reports as the broker passes them on -------------------------- */

static double *seen_at;      /* by aggressor: µs (CLOCK_MONOTONIC) its report reached us */
static int seen_n;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

/* The aggressor an address of 198.18.0.0/15 stands for, or -1. */
static int aggressor_of(const char *text)
{
	unsigned a, b, c, d;
	if (sscanf(text, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a != 198 || b < 18 || b > 19 || c >= 250 || d < 1 ||
	    d > 250)
		return -1;
	return (int)((b - 18) * 62500 + c * 250 + d - 1);
}

/* On a nats.c thread: notes when each address of the message arrived. */
static void on_report(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	(void)nc;
	(void)sub;
	(void)closure;
	double t = now_us();
	const char *data = natsMsg_GetData(m), *end = data + natsMsg_GetDataLength(m);
	static const char key[] = "\"address\":\"";
	for (const char *q = data; (q = memmem(q, (size_t)(end - q), key, sizeof(key) - 1)) != NULL;) {
		q += sizeof(key) - 1;
		char text[40];
		size_t n = 0;
		while (q + n < end && q[n] != '"' && n < sizeof(text) - 1)
			n++;
		memcpy(text, q, n);
		text[n] = '\0';
		int i = aggressor_of(text);
		pthread_mutex_lock(&seen_mu);
		if (i >= 0 && i < seen_n && seen_at[i] == 0)
			seen_at[i] = t;
		pthread_mutex_unlock(&seen_mu);
	}
	natsMsg_Destroy(m);
}

static double seen(int i)
{
	pthread_mutex_lock(&seen_mu);
	double t = seen_at ? seen_at[i] : 0;
	pthread_mutex_unlock(&seen_mu);
	return t;
}

struct probe_stats {
	uint64_t rounds;
	double probing_us;
};

/* One aggressor: *ta, *tb = µs from the fifth line's write() to the
 * element in A's, B's set (-1: not within GIVE_UP_US). */
static void one_aggressor(int fd, int i, struct mnl_socket *na, struct mnl_socket *nb, double *ta, double *tb,
			  double *start, struct probe_stats *ps)
{
	const struct timespec pause = {0, PROBE_INTERVAL_NS};
	uint8_t v4[4] = {198, (uint8_t)(18 + i / 62500), (uint8_t)(i / 250 % 250), (uint8_t)(i % 250 + 1)};
	char addr[32];
	snprintf(addr, sizeof(addr), "%u.%u.%u.%u", v4[0], v4[1], v4[2], v4[3]);
	for (int k = 0; k < 4; k++)
		append(fd, addr, 10000 + i * 5 + k, 40000 + k);
	usleep(2000);
	*ta = *tb = -1;
	double t0 = *start = now_us();
	append(fd, addr, 10000 + i * 5 + 4, 40004);
	for (;;) {
		if (*ta < 0 && in_set(na, v4) == 1)
			*ta = now_us() - t0;
		int r = in_set(nb, v4);
		double t = now_us() - t0;
		ps->rounds++;
		if (r < 0)
			return;
		if (r == 1) {
			*tb = t;
			ps->probing_us += t;
			if (*ta < 0 && in_set(na, v4) == 1)
				*ta = now_us() - t0;
			return;
		}
		if (t > GIVE_UP_US)
			return;
		nanosleep(&pause, NULL);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
	int k = (int)((double)n * p);
	return v[k < n ? k : n - 1];
}

static void summary(const char *what, double *v, int got, int n)
{
	if (got == 0) {
		printf("%s: never seen (0 of %d)\n", what, n);
		return;
	}
	qsort(v, (size_t)got, sizeof(double), cmp);
	printf("%s: %d of %d, p50 %.0f us, p99 %.0f us, max %.0f us\n", what, got, n, pct(v, got, 0.5),
	       pct(v, got, 0.99), v[got - 1]);
}

static int propagate(int argc, char **argv)
{
	int n = argc > 4 ? atoi(argv[4]) : 1000;
	if (argc < 4 || argc == 6 || argc > 7 || n < 1 || n > 60000) {
		fprintf(stderr, "usage: bench_alliance propagate A_NETNS B_NETNS A_LOG N [NATS_URL SUBJECT]\n");
		return 64;
	}
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	double *lab = calloc((size_t)n, sizeof(double)), *lbb = calloc((size_t)n, sizeof(double));
	int gotab = 0, gotbb = 0;
	if (argc == 7) {
		seen_at = calloc((size_t)n, sizeof(double));
		seen_n = n;
		if (natsConnection_ConnectTo(&nc, argv[5]) != NATS_OK ||
		    natsConnection_Subscribe(&sub, nc, argv[6], on_report, NULL) != NATS_OK ||
		    natsConnection_Flush(nc) != NATS_OK) {
			fprintf(stderr, "bench_alliance: cannot subscribe to %s at %s\n", argv[6], argv[5]);
			return 1;
		}
	}
	/* nanosleep's default slack (50 µs) would make the probe coarse. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct mnl_socket *na = socket_in(argv[1]), *nb = socket_in(argv[2]);
	int fd = open(argv[3], O_WRONLY | O_APPEND);
	if (fd < 0) {
		perror(argv[3]);
		return 1;
	}
	double *la = calloc((size_t)n, sizeof(double)), *lb = calloc((size_t)n, sizeof(double));
	double *gap = calloc((size_t)n, sizeof(double));
	struct probe_stats ps = {0};
	int gota = 0, gotb = 0, gotgap = 0;
	for (int i = 0; i < n; i++) {
		double ta, tb, t0;
		one_aggressor(fd, i, na, nb, &ta, &tb, &t0, &ps);
		if (nc && tb >= 0) {
			/* The broker's copy to us and B's pull leave the server
			 * independently; give ours a moment if B's was faster. */
			for (int k = 0; k < 100 && seen(i) == 0; k++)
				usleep(1000);
			double at = seen(i);
			if (at > 0) {
				lab[gotab++] = at - t0;
				lbb[gotbb++] = t0 + tb - at;
			}
		}
		if (ta >= 0)
			la[gota++] = ta;
		if (tb >= 0)
			lb[gotb++] = tb;
		if (ta >= 0 && tb >= 0)
			gap[gotgap++] = tb - ta;
		if (ta < 0 || tb < 0)
			fprintf(stderr, "bench_alliance: aggressor %d not seen within %.0f s in %s%s\n", i, GIVE_UP_US / 1e6,
				ta < 0 ? "A's set " : "", tb < 0 ? "B's set" : "");
	}
	summary("A's own reaction (write() of the 5th line -> in A's set)", la, gota, n);
	summary("propagation      (write() of the 5th line -> in B's set)", lb, gotb, n);
	summary("alliance hop     (in A's set -> in B's set, per aggressor)", gap, gotgap, n);
	if (nc) {
		summary("  of which A     (write() of the 5th line -> A's report reaches a subscriber of the broker)", lab,
			gotab, n);
		summary("  and B          (the report at that subscriber -> in B's set)", lbb, gotbb, n);
	}
	printf("probe rounds every %.0f us on average (each figure overstates by at most one)\n",
	       ps.probing_us / (double)(ps.rounds ? ps.rounds : 1));
	if (gotb) {
		double p99 = pct(lb, gotb, 0.99);
		printf("target propagation p99 < %.0f ms (must): %s; p99 < %.0f ms (wanted): %s\n", TARGET_MUST_US / 1000,
		       p99 < TARGET_MUST_US ? "MET" : "NOT MET", TARGET_WANTED_US / 1000,
		       p99 < TARGET_WANTED_US ? "MET" : "NOT MET");
	}
	free(la);
	free(lb);
	free(gap);
	free(lab);
	free(lbb);
	if (nc) {
		natsSubscription_Destroy(sub);
		natsConnection_Destroy(nc);
		nats_Close();
	}
	mnl_socket_close(na);
	mnl_socket_close(nb);
	close(fd);
	return gotb == n ? 0 : 1;
}

/* ---- rate: open loop, timed by nftables' notifications ------------------ */

#define RATE_MAX_AGGRESSORS 125000   /* 198.18.0.0/15 as aggressor_of numbers it */
#define RATE_LEAD_US 4000.0          /* first four lines this long before the fifth */
#define RATE_WAIT_US 5e6             /* after the last write, for the last elements */

/* When each aggressor FIRST..FIRST+N-1 entered one namespace's set. */
struct watch {
	struct mnl_socket *nl;
	double *at;             /* µs (CLOCK_MONOTONIC), 0 until seen; by aggressor - first */
	int first, n;
	atomic_int got;
	atomic_bool stop;
	unsigned overruns;      /* ENOBUFS: notifications the socket could not hold */
	pthread_t thread;
};

/* A socket of namespace name that receives nftables' notifications. */
static struct mnl_socket *events_in(const char *name)
{
	struct mnl_socket *nl = socket_in(name);
	int group = NFNLGRP_NFTABLES, size = 32 << 20;
	struct timeval tv = {0, 100000};   /* recv wakes to look at stop */
	if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror("bench_alliance: nftables notifications");
		exit(1);
	}
	return nl;
}

static void note_key(struct watch *w, const uint8_t *k, double t)
{
	if (k[0] != 198 || k[1] < 18 || k[1] > 19 || k[2] >= 250 || k[3] < 1 || k[3] > 250)
		return;
	int i = (k[1] - 18) * 62500 + k[2] * 250 + k[3] - 1 - w->first;
	if (i >= 0 && i < w->n && w->at[i] == 0) {
		w->at[i] = t;
		atomic_fetch_add(&w->got, 1);
	}
}

/* The IPv4 keys of one NFT_MSG_NEWSETELEM of pacto's set v4. */
static void note_elements(struct watch *w, const struct nlmsghdr *h, double t)
{
	if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES || NFNL_MSG_TYPE(h->nlmsg_type) != NFT_MSG_NEWSETELEM)
		return;
	struct nftnl_set *s = nftnl_set_alloc();
	const char *table, *name;
	if (s && nftnl_set_elems_nlmsg_parse(h, s) == 0 && (table = nftnl_set_get_str(s, NFTNL_SET_TABLE)) &&
	    (name = nftnl_set_get_str(s, NFTNL_SET_NAME)) && strcmp(table, "pacto") == 0 && strcmp(name, "v4") == 0) {
		struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
		for (struct nftnl_set_elem *e = it ? nftnl_set_elems_iter_next(it) : NULL; e;
		     e = nftnl_set_elems_iter_next(it)) {
			uint32_t len = 0;
			const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
			if (k && len == 4)
				note_key(w, k, t);
		}
		nftnl_set_elems_iter_destroy(it);
	}
	nftnl_set_free(s);
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	static _Thread_local char buf[1 << 16] __attribute__((aligned(4)));
	while (!atomic_load(&w->stop)) {
		ssize_t len = recv(mnl_socket_get_fd(w->nl), buf, sizeof(buf), 0);
		double t = now_us();
		if (len < 0) {
			w->overruns += errno == ENOBUFS;
			continue;
		}
		int left = (int)len;
		for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
			note_elements(w, h, t);
	}
	return NULL;
}

static void watch_start(struct watch *w, const char *netns, int first, int n)
{
	w->nl = events_in(netns);
	w->at = calloc((size_t)n, sizeof(double));
	w->first = first;
	w->n = n;
	if (!w->at || pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		fprintf(stderr, "bench_alliance: cannot start a watcher\n");
		exit(1);
	}
}

static void watch_stop(struct watch *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	mnl_socket_close(w->nl);
}

/* Aggressor i's fifth line (its first four if first4) appended to
 * buf[at..]: at most 5 lines of 256 bytes, which buf must have room for. */
static size_t rate_lines(char *buf, size_t at, int i, bool first4)
{
	char addr[32], when[64];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(addr, sizeof(addr), "198.%d.%d.%d", 18 + i / 62500, i / 250 % 250, i % 250 + 1);
	for (int k = first4 ? 0 : 4; k < (first4 ? 4 : 5); k++)
		at += (size_t)snprintf(buf + at, 256, "%s.%06ld+00:00 h sshd[%d]: Failed password for root from %s port %d ssh2\n",
				       when, ts.tv_nsec / 1000, 10000 + i * 5 + k, addr, 40000 + k);
	return at;
}

static void sleep_until(double us)
{
	time_t sec = (time_t)(us / 1e6);
	struct timespec ts = {sec, (long)((us - (double)sec * 1e6) * 1e3)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Writes the N fifth lines on schedule; t0[k]: just before each write(). */
static double rate_write(int fd, int first, int n, double rate, double *t0)
{
	char buf[2048];
	double period = 1e6 / rate, late_max = 0;
	int lead = (int)(RATE_LEAD_US / period) + 1;
	size_t len;
	for (int k = 0; k < lead && k < n; k++) {
		len = rate_lines(buf, 0, first + k, true);
		if (write(fd, buf, len) != (ssize_t)len)
			return -1;
	}
	double start = now_us() + RATE_LEAD_US;
	for (int k = 0; k < n; k++) {
		sleep_until(start + k * period);
		len = rate_lines(buf, 0, first + k, false);
		if (k + lead < n)
			len = rate_lines(buf, len, first + k + lead, true);
		t0[k] = now_us();
		if (t0[k] - (start + k * period) > late_max)
			late_max = t0[k] - (start + k * period);
		if (write(fd, buf, len) != (ssize_t)len)
			return -1;
	}
	return late_max;
}

/* v[k] = to[k] - from[k] where both are known; the number kept. */
static int deltas(double *v, const double *to, const double *from, int n)
{
	int got = 0;
	for (int k = 0; k < n; k++)
		if (to[k] > 0 && from[k] > 0)
			v[got++] = to[k] - from[k];
	return got;
}

static void rate_report(const struct watch *a, const struct watch *b, const double *t0, int n, double rate,
			double late_max)
{
	double *v = calloc((size_t)n, sizeof(double)), *at = calloc((size_t)n, sizeof(double));
	summary("A's own reaction (write() of the 5th line -> in A's set)", v, deltas(v, a->at, t0, n), n);
	int got = deltas(v, b->at, t0, n);
	summary("propagation      (write() of the 5th line -> in B's set)", v, got, n);
	if (seen_at) {
		for (int k = 0; k < n; k++)
			at[k] = seen_at[a->first + k];
		summary("  of which A     (write() of the 5th line -> A's report reaches a subscriber of the broker)", v,
			deltas(v, at, t0, n), n);
		summary("  and B          (the report at that subscriber -> in B's set)", v, deltas(v, b->at, at, n), n);
	}
	printf("writer: at most %.0f us behind its schedule; notifications lost: A %u, B %u\n", late_max, a->overruns,
	       b->overruns);
	got = deltas(v, b->at, t0, n);
	qsort(v, (size_t)got, sizeof(double), cmp);
	printf("result rate %.0f n %d seen %d p50 %.0f p99 %.0f max %.0f\n", rate, n, got,
	       got ? pct(v, got, 0.5) : -1, got ? pct(v, got, 0.99) : -1, got ? v[got - 1] : -1);
	free(v);
	free(at);
}

static int rate_run(int argc, char **argv)
{
	int n = argc > 4 ? atoi(argv[4]) : 0, first = argc > 6 ? atoi(argv[6]) : -1;
	double rate = argc > 5 ? atof(argv[5]) : 0;
	if ((argc != 7 && argc != 9) || n < 1 || first < 0 || first + n > RATE_MAX_AGGRESSORS || rate < 1 ||
	    rate > 100000) {
		fprintf(stderr, "usage: bench_alliance rate A_NETNS B_NETNS A_LOG N RATE FIRST [NATS_URL SUBJECT]\n");
		return 64;
	}
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	if (argc == 9) {
		seen_at = calloc((size_t)(first + n), sizeof(double));
		seen_n = first + n;
		if (natsConnection_ConnectTo(&nc, argv[7]) != NATS_OK ||
		    natsConnection_Subscribe(&sub, nc, argv[8], on_report, NULL) != NATS_OK ||
		    natsConnection_Flush(nc) != NATS_OK) {
			fprintf(stderr, "bench_alliance: cannot subscribe to %s at %s\n", argv[8], argv[7]);
			return 1;
		}
	}
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	static struct watch a, b;
	watch_start(&a, argv[1], first, n);
	watch_start(&b, argv[2], first, n);
	int fd = open(argv[3], O_WRONLY | O_APPEND);
	double *t0 = calloc((size_t)n, sizeof(double));
	double late_max = fd >= 0 && t0 ? rate_write(fd, first, n, rate, t0) : -1;
	if (late_max < 0) {
		perror(argv[3]);
		return 1;
	}
	for (double end = now_us() + RATE_WAIT_US; now_us() < end && (atomic_load(&a.got) < n || atomic_load(&b.got) < n);)
		usleep(1000);
	usleep(100000);   /* the broker's copy to our subscriber may come after B's */
	watch_stop(&a);
	watch_stop(&b);
	rate_report(&a, &b, t0, n, rate, late_max);
	int ok = atomic_load(&b.got) == n;
	free(t0);
	free(a.at);
	free(b.at);
	close(fd);
	if (nc) {
		natsSubscription_Destroy(sub);
		natsConnection_Destroy(nc);
		nats_Close();
	}
	return ok ? 0 : 1;
}

static int has(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_alliance has NETNS ADDRESS...\n");
		return 64;
	}
	struct mnl_socket *nl = socket_in(argv[1]);
	int missing = 0;
	for (int i = 2; i < argc; i++) {
		struct addr a;
		if (addr_parse_cidr(argv[i], &a) != 0 || a.family != AF_INET || a.prefix != 32) {
			fprintf(stderr, "bench_alliance: not an IPv4 address: %s\n", argv[i]);
			return 64;
		}
		if (in_set(nl, a.bytes) != 1) {
			fprintf(stderr, "bench_alliance: %s is not in %s's set\n", argv[i], argv[1]);
			missing++;
		}
	}
	mnl_socket_close(nl);
	return missing ? 1 : 0;
}

/* ---- publish ------------------------------------------------------------ */

struct pub {
	const char *url, *alliance, *member, *key;
	uint64_t version, seq;
	unsigned count, batch;
};

static int parse_pub(int argc, char **argv, struct pub *p)
{
	static const struct option opts[] = {
		{"nats", required_argument, NULL, 'n'}, {"alliance", required_argument, NULL, 'a'},
		{"member", required_argument, NULL, 'm'}, {"key", required_argument, NULL, 'k'},
		{"version", required_argument, NULL, 'v'}, {"count", required_argument, NULL, 'c'},
		{"batch", required_argument, NULL, 'b'}, {"seq", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	int o;
	*p = (struct pub){.version = 1, .seq = 1, .count = 1000, .batch = 1};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': p->url = optarg; break;
		case 'a': p->alliance = optarg; break;
		case 'm': p->member = optarg; break;
		case 'k': p->key = optarg; break;
		case 'v': p->version = strtoull(optarg, NULL, 10); break;
		case 'c': p->count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b': p->batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': p->seq = strtoull(optarg, NULL, 10); break;
		default: return -1;
		}
	}
	if (!p->url || !p->alliance || !p->member || !p->key || optind != argc || p->batch < 1 ||
	    p->batch > REPORT_MAX_ITEMS || p->count < 1 || p->count > 16000000) {
		fprintf(stderr, "usage: bench_alliance publish --nats URL --alliance NAME --member ID --key FILE "
				"--version V --count N [--batch 1..32] [--seq S]\n");
		return -1;
	}
	return 0;
}

/* Report k of the run (0-based): address 10.0.0.0 + seq, four sshd lines. */
static void fill(struct report *r, uint64_t seq, int64_t now)
{
	memset(r, 0, sizeof(*r));
	uint32_t host = (uint32_t)seq;
	r->addr.family = AF_INET;
	r->addr.prefix = 32;
	r->addr.bytes[0] = 10;
	r->addr.bytes[1] = (uint8_t)(host >> 16);
	r->addr.bytes[2] = (uint8_t)(host >> 8);
	r->addr.bytes[3] = (uint8_t)host;
	r->seq = seq;
	r->time_us = now;
	r->action = REPORT_SANCTION;
	r->duration_s = 600;
	r->attempts = 5;
	r->first_seen_us = now - 4000;
	r->last_seen_us = now;
	snprintf(r->scenario, sizeof(r->scenario), "sshd");
	r->nlines = 4;
	for (int i = 0; i < 4; i++)
		snprintf(r->lines[i], sizeof(r->lines[i]),
			 "2026-11-27T00:13:10.%06d+00:00 web1 sshd[%d]: Failed password for root from 10.%u.%u.%u "
			 "port %d ssh2",
			 100000 + i, 20000 + i, r->addr.bytes[1], r->addr.bytes[2], r->addr.bytes[3], 41000 + i);
}

static void pub_failed(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	(void)js;
	if (++*(unsigned *)closure == 1)
		fprintf(stderr, "bench_alliance: publish refused: %s\n", pae->ErrText ? pae->ErrText : "?");
}

static int publish(int argc, char **argv)
{
	struct pub p;
	struct signer *signer = NULL;
	char err[256], subject[256], id[128];
	natsConnection *nc = NULL;
	natsOptions *no = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	int rc = 1;
	static struct report_batch batch;
	static uint8_t wire[REPORT_MAX_MESSAGE];
	if (parse_pub(argc, argv, &p) != 0 || signer_init() != 0)
		return 64;
	if (signer_load(p.key, &signer, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_alliance: %s\n", err);
		return 2;
	}
	snprintf(subject, sizeof(subject), "pacto.%s.reports.%s", p.alliance, p.member);
	jsOptions_Init(&jo);
	static unsigned failures;
	jo.PublishAsync.MaxPending = 4096;
	jo.PublishAsync.ErrHandler = pub_failed;
	jo.PublishAsync.ErrHandlerClosure = &failures;
	if (natsOptions_Create(&no) != NATS_OK || natsOptions_SetURL(no, p.url) != NATS_OK ||
	    natsConnection_Connect(&nc, no) != NATS_OK || natsConnection_JetStream(&js, nc, &jo) != NATS_OK) {
		fprintf(stderr, "bench_alliance: cannot reach %s\n", p.url);
		goto out;
	}
	/* The stream is pactod's to create: wait for it rather than publish
	 * into nothing. */
	char stream[256];
	snprintf(stream, sizeof(stream), "PACTO_%s", p.alliance);
	jsStreamInfo *si = NULL;
	for (int i = 0; i < 100 && js_GetStreamInfo(&si, js, stream, NULL, NULL) != NATS_OK; i++)
		usleep(100000);
	if (!si) {
		fprintf(stderr, "bench_alliance: no stream %s after 10 s\n", stream);
		goto out;
	}
	jsStreamInfo_Destroy(si);
	double t0 = now_us(), bytes = 0;
	unsigned messages = 0;
	for (unsigned done = 0; done < p.count;) {
		int64_t now = wall_us();
		memset(&batch, 0, sizeof(batch));
		snprintf(batch.alliance, sizeof(batch.alliance), "%s", p.alliance);
		snprintf(batch.member, sizeof(batch.member), "%s", p.member);
		batch.treaty_version = p.version;
		for (; batch.n < p.batch && done < p.count; batch.n++, done++)
			fill(&batch.items[batch.n], p.seq + done, now);
		size_t len;
		if (report_encode(&batch, signer, wire, sizeof(wire), &len, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_alliance: %s\n", err);
			goto out;
		}
		jsPubOptions po;
		jsPubOptions_Init(&po);
		snprintf(id, sizeof(id), "%s:%" PRIu64, p.member, batch.items[0].seq);
		po.MsgId = id;
		natsStatus s = js_PublishAsync(js, subject, wire, (int)len, &po);
		if (s != NATS_OK) {
			fprintf(stderr, "bench_alliance: publish: %s\n", natsStatus_GetText(s));
			goto out;
		}
		messages++;
		bytes += (double)len;
	}
	jsPubOptions done_opts;
	jsPubOptions_Init(&done_opts);
	done_opts.MaxWait = 60000;
	natsMsgList failed = {0};
	if (js_PublishAsyncComplete(js, &done_opts) != NATS_OK ||
	    (js_PublishAsyncGetPendingList(&failed, js) == NATS_OK && failed.Count > 0) || failures) {
		fprintf(stderr, "bench_alliance: %d publishes not acknowledged, %u refused\n", failed.Count, failures);
		natsMsgList_Destroy(&failed);
		goto out;
	}
	printf("published %u reports in %u messages of %u (%.0f bytes per message) in %.2f s\n", p.count, messages,
	       p.batch, bytes / messages, (now_us() - t0) / 1e6);
	rc = 0;
out:
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(no);
	nats_Close();
	signer_free(signer);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "propagate") == 0)
		return propagate(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "rate") == 0)
		return rate_run(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "has") == 0)
		return has(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "publish") == 0)
		return publish(argc - 1, argv + 1);
	fprintf(stderr, "usage: bench_alliance propagate A_NETNS B_NETNS A_LOG [N]\n"
			"       bench_alliance rate A_NETNS B_NETNS A_LOG N RATE FIRST [NATS_URL SUBJECT]\n"
			"       bench_alliance has NETNS ADDRESS...\n"
			"       bench_alliance publish --nats URL --alliance NAME --member ID --key FILE --version V "
			"--count N [--batch K] [--seq S]\n");
	return 64;
}
