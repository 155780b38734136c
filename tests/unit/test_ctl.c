/* test_ctl.c: the control socket and protocol with real sockets: a served
 * request, strict refusal of bad versions, garbage, oversized and trailing
 * data, a silent client that cannot hold the server, and a peer that is
 * neither root nor in the group (a child that drops to uid 65534). */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <cmocka.h>

#include "ctl/ctl_proto.h"
#include "ctl/ctl_server.h"

static char sock_path[64];

static json_t *cmd_echo(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	(void)ctx;
	return ctl_reply_ok(json_pack("{s:O, s:i}", "args", args, "uid", (int)peer->uid));
}

static const struct ctl_command commands[] = {{"echo", cmd_echo}};

static int connect_to(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends raw bytes from a child process, serves one connection, and returns
 * the reply line the child received (written back through a pipe). */
static char *exchange(struct ctl_server *s, const char *raw, size_t len, uid_t as_uid)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (as_uid && (setgroups(0, NULL) != 0 || setgid(as_uid) != 0 || setuid(as_uid) != 0))
			_exit(2);
		int fd = connect_to();
		if (fd < 0 || write(fd, raw, len) != (ssize_t)len)
			_exit(1);
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0 && write(p[1], buf, (size_t)n) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	struct pollfd pf = {.fd = ctl_server_fd(s), .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 2000), 1);
	ctl_server_serve(s, commands, 1, NULL);
	char *out = calloc(1, 4096);
	ssize_t n = read(p[0], out, 4095);
	(void)n;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return out;
}

static struct ctl_server *start(gid_t group)
{
	snprintf(sock_path, sizeof(sock_path), "/tmp/pacto-ctl-%d.sock", (int)getpid());
	struct ctl_server *s;
	char err[256];
	assert_int_equal(ctl_server_open(sock_path, group, &s, err, sizeof(err)), 0);
	return s;
}

static void test_request_served(void **state)
{
	(void)state;
	struct ctl_server *s = start((gid_t)-1);
	const char *req = "{\"version\":1,\"command\":\"echo\",\"args\":{\"x\":7}}\n";
	char *reply = exchange(s, req, strlen(req), 0);
	assert_non_null(strstr(reply, "\"ok\":true"));
	assert_non_null(strstr(reply, "\"x\":7"));
	free(reply);
	ctl_server_close(s);
	assert_int_equal(access(sock_path, F_OK), -1);   /* removed on close */
}

static void test_bad_requests_refused(void **state)
{
	(void)state;
	struct ctl_server *s = start((gid_t)-1);
	static const char *const bad[][2] = {
		{"{\"version\":2,\"command\":\"echo\"}\n", "protocol version 2"},
		{"{\"version\":1}\n", "no command"},
		{"{\"version\":1,\"command\":\"nope\"}\n", "unknown command"},
		{"{\"version\":1,\"command\":\"echo\",\"args\":[1]}\n", "args is not an object"},
		{"not json\n", "malformed JSON"},
		{"{\"version\":1,\"command\":\"echo\"}\nextra\n", "data after"},
		{"{\"version\":1,\"command\":\"echo\"", "closed early or too slow"},
		{"{\"version\":1,\"version\":1,\"command\":\"echo\"}\n", "malformed JSON"},
		/* jansson's error quotes the bytes near the error, here the
		 * first of a character cut short: still a reply (fuzz_ctl). */
		{"{\"versio\\\xd8\xb8\x94\xa9\x7f mm\n", "malformed JSON: invalid escape near '\\\"versio\\\\\\\\xd8'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char *reply = exchange(s, bad[i][0], strlen(bad[i][0]), 0);
		if (!strstr(reply, "\"ok\":false") || !strstr(reply, bad[i][1]))
			fail_msg("request %zu: got '%s'", i, reply);
		free(reply);
	}
	struct ctl_server_stats st;
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.bad_requests, sizeof(bad) / sizeof(*bad));
	ctl_server_close(s);
}

static void test_oversized_request(void **state)
{
	(void)state;
	struct ctl_server *s = start((gid_t)-1);
	size_t len = CTL_MAX_MESSAGE + 100;   /* requests are bounded far below replies */
	char *big = malloc(len);
	memset(big, 'x', len);
	char *reply = exchange(s, big, len, 0);
	assert_non_null(strstr(reply, "too large"));
	free(reply);
	free(big);
	ctl_server_close(s);
}

static void test_silent_client_cannot_hold_the_server(void **state)
{
	(void)state;
	struct ctl_server *s = start((gid_t)-1);
	int fd = connect_to();
	assert_true(fd >= 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ctl_server_serve(s, commands, 1, NULL);   /* the client never writes */
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	assert_true(ms < CTL_DEADLINE_MS * 3);
	close(fd);
	ctl_server_close(s);
}

/* A client dripping one byte at a time is cut at the deadline, which is
 * for the whole request, not for each read. */
static void test_dripping_client_cut_at_deadline(void **state)
{
	(void)state;
	struct ctl_server *s = start((gid_t)-1);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = connect_to();
		for (int i = 0; i < 30 && fd >= 0; i++) {
			if (write(fd, "{", 1) != 1)
				break;
			usleep(100000);
		}
		_exit(0);
	}
	struct pollfd pf = {.fd = ctl_server_fd(s), .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 2000), 1);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ctl_server_serve(s, commands, 1, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_true(ms < CTL_DEADLINE_MS * 2);
	ctl_server_close(s);
}

static void test_other_users_refused(void **state)
{
	(void)state;
	struct ctl_server *s = start(0);   /* group root: uid 65534 is not in it */
	chmod(sock_path, 0666);            /* so that only the credential check stands in the way */
	const char *req = "{\"version\":1,\"command\":\"echo\"}\n";
	char *reply = exchange(s, req, strlen(req), 65534);
	assert_non_null(strstr(reply, "permission denied"));
	free(reply);
	struct ctl_server_stats st;
	ctl_server_get_stats(s, &st);
	assert_int_equal(st.refused_peers, 1);
	assert_int_equal(st.served, 0);
	struct ctl_peer in_group = {.uid = 65534, .gid = 0};
	assert_true(ctl_peer_allowed(&in_group, 0));
	struct ctl_peer root = {.uid = 0, .gid = 1234};
	assert_true(ctl_peer_allowed(&root, (gid_t)-1));
	ctl_server_close(s);
}

static void test_refuses_to_replace_a_file(void **state)
{
	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/pacto-ctl-file-%d", (int)getpid());
	FILE *f = fopen(sock_path, "w");
	fputs("precious\n", f);
	fclose(f);
	struct ctl_server *s;
	char err[256];
	assert_int_equal(ctl_server_open(sock_path, (gid_t)-1, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	unlink(sock_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_served), cmocka_unit_test(test_bad_requests_refused),
		cmocka_unit_test(test_oversized_request), cmocka_unit_test(test_silent_client_cannot_hold_the_server),
		cmocka_unit_test(test_dripping_client_cut_at_deadline),
		cmocka_unit_test(test_other_users_refused), cmocka_unit_test(test_refuses_to_replace_a_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
