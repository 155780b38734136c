/* natsserver.h: a real nats-server with JetStream for tests and benchmarks:
 * loopback only, a free port, its own store directory, stopped and removed
 * by the caller (and killed with its parent, so nothing is left running).
 * Why: the alliance transport is tested against the real broker, never a mock.
 * Header-only: each test program or tool owns its copy. */
#ifndef PACTO_TEST_NATSSERVER_H
#define PACTO_TEST_NATSSERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct nats_server {
	pid_t pid;                /* 0 when not running */
	int port;
	char dir[256];            /* scratch: store/ and server.log */
	char url[64];
};

/* A port the kernel just considered free on 127.0.0.1. */
static inline int ns_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static inline long long ns_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static inline int ns_accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Picks a port and a scratch directory; does not start the server. */
static inline int ns_init(struct nats_server *s)
{
	memset(s, 0, sizeof(*s));
	const char *tmp = getenv("TMPDIR");
	snprintf(s->dir, sizeof(s->dir), "%s/pacto-nats-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir))
		return -1;
	s->port = ns_free_port();
	snprintf(s->url, sizeof(s->url), "nats://127.0.0.1:%d", s->port);
	return s->port > 0 ? 0 : -1;
}

/* Starts nats-server -js on s->port with s->dir/store; waits until it accepts. */
static inline int ns_start(struct nats_server *s)
{
	char port[16], store[300], logf[300];
	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(store, sizeof(store), "%s/store", s->dir);
	snprintf(logf, sizeof(logf), "%s/server.log", s->dir);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(logf, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", port, "-js",
		       "-sd", store, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	for (long long end = ns_now_ms() + 10000; ns_now_ms() < end; usleep(10000)) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			s->pid = 0;
			return -1;
		}
		if (ns_accepts(s->port))
			return 0;
	}
	return -1;
}

/* Stops the server with sig (SIGTERM: clean; SIGKILL: crash) and reaps it. */
static inline void ns_stop(struct nats_server *s, int sig)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, sig);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static inline int ns_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Stops the server if running and removes its directory. */
static inline void ns_destroy(struct nats_server *s)
{
	ns_stop(s, SIGTERM);
	if (s->dir[0])
		nftw(s->dir, ns_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

#endif
