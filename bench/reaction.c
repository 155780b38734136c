/* reaction.c: pactod's reaction time, from a failure line appended to the
 * log until the address is in the kernel's set, over N aggressors.
 * It enters a new network namespace first, so pactod's nftables table is
 * created there, never in the host's firewall; aggressors come from the
 * benchmarking range 198.18.0.0/15. Prints p50, p99 and max as seen from
 * outside (polling the set with libnftables, which itself costs ~0.1 ms a
 * probe and competes for the kernel's lock), and pactod's own figure (the
 * sanctioning line's timestamp to the commit's return, `pacto status`).
 * Usage: reaction PACTOD_BINARY [N] (default 1000); run as root. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

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
	if (write(fd, line, (size_t)n) != n)
		exit(1);
}

static int in_set(struct nft_ctx *nft, const char *addr)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "get element inet pacto v4 { %s }", addr);
	return nft_run_cmd_from_buffer(nft, cmd) == 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static pid_t start_pactod(const char *pactod, const char *dir, const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(pactod, "pactod", "--foreground", "--state-dir", dir, "--watch", log, (char *)NULL);
		_exit(127);
	}
	char sock[512];
	snprintf(sock, sizeof(sock), "%s/pacto.sock", dir);
	for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
		usleep(50000);
	return access(sock, F_OK) == 0 ? pid : -1;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 1000;
	if (argc < 2 || n < 1 || n > 60000 || unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "usage: reaction PACTOD [N]  (as root: it needs a network namespace)\n");
		return 64;
	}
	char dir[] = "/tmp/pacto-reaction-XXXXXX", log[600];
	if (!mkdtemp(dir))
		return 1;
	snprintf(log, sizeof(log), "%s/auth.log", dir);
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	pid_t pactod = start_pactod(argv[1], dir, log);
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	double *lat = calloc((size_t)n, sizeof(double));
	int got = 0;
	for (int i = 0; pactod > 0 && i < n; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "198.18.%d.%d", i / 250, i % 250 + 1);
		for (int k = 0; k < 4; k++)
			append(fd, addr, 10000 + i * 5 + k, 40000 + k);
		usleep(2000);   /* let pactod count the first four */
		double t0 = now_us();
		append(fd, addr, 10000 + i * 5 + 4, 40004);
		/* 50 us between probes: a tight loop of nft dumps would compete with
		 * pactod's own commit for the kernel's nftables lock. */
		while (!in_set(nft, addr) && now_us() - t0 < 2e6)
			usleep(50);
		double t = now_us() - t0;
		if (t < 2e6)
			lat[got++] = t;
	}
	if (pactod > 0) {
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "%.500s/pacto --state-dir %s status --json | jq -r "
			 "'\"pactod itself (line timestamp -> commit returned): p50 \\(.reaction_us.p50) us, "
			 "p99 \\(.reaction_us.p99) us over the last \\(.reaction_us.samples)\"'",
			 dirname(strdup(argv[1])), dir);
		if (system(cmd) != 0)
			fprintf(stderr, "reaction: pacto status failed\n");
		kill(pactod, SIGTERM);
		waitpid(pactod, NULL, 0);
	}
	qsort(lat, (size_t)got, sizeof(double), cmp);
	if (got == 0) {
		fprintf(stderr, "reaction: no sanction observed\n");
		return 1;
	}
	printf("aggressors: %d of %d sanctioned\n", got, n);
	printf("reaction (5th failure line appended -> address in the nft set): p50 %.0f us, p99 %.0f us, max %.0f us\n",
	       lat[got / 2], lat[(int)((double)got * 0.99)], lat[got - 1]);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 && got == n ? 0 : 1;
}
