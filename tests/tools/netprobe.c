/* netprobe.c: the TCP listener and client of the network tests.
 *   netprobe listen PORT            accept on every address (v4 and v6) of
 *                                   the namespace, greet and close, forever
 *   netprobe connect ADDR PORT [SOURCE] [TIMEOUT_MS]
 *                                   exit 0 when the greeting arrives in time,
 *                                   1 when the connection fails or times out
 * Why not nc or python: a fresh Debian has neither for sure, and a test tool
 * of our own has exact, documented exit codes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof(*v4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*v6);
		return AF_INET6;
	}
	return -1;
}

static int wait_for(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	return poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
}

static int probe(const char *addr, int port, const char *source, int timeout_ms)
{
	struct sockaddr_storage ss, src;
	socklen_t len, slen;
	int af = parse(addr, port, &ss, &len);
	if (af < 0 || (source && parse(source, 0, &src, &slen) != af))
		return 2;
	int fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || (source && bind(fd, (struct sockaddr *)&src, slen) != 0))
		return 2;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS)
		return 1;
	char buf[16];
	if (wait_for(fd, POLLIN, timeout_ms) != 0 || read(fd, buf, sizeof(buf)) <= 0)
		return 1;
	close(fd);
	return 0;
}

static int listen_all(int port)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0), no = 0, yes = 1;
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof(no));   /* v4 too, as mapped */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		perror("netprobe listen");
		return 2;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0) {
			ssize_t n = write(c, "hello\n", 6);
			(void)n;
			close(c);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "listen") == 0)
		return listen_all(atoi(argv[2]));
	if (argc >= 4 && argc <= 6 && strcmp(argv[1], "connect") == 0)
		return probe(argv[2], atoi(argv[3]), argc > 4 && argv[4][0] ? argv[4] : NULL,
			     argc > 5 ? atoi(argv[5]) : 1500);
	fprintf(stderr, "usage: netprobe listen PORT | connect ADDR PORT [SOURCE] [TIMEOUT_MS]\n");
	return 2;
}
