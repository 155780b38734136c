/* fuzz_ctl.c: control-socket requests, served as pactod serves them: a
 * real ctl_server on a Unix socket in a private directory reads the bytes
 * from a connected client (ctl_recv: one bounded line, nothing after it),
 * checks the request (ctl_request_check) and dispatches it to a command
 * table; then the client reads the reply as `pacto` does (ctl_recv,
 * ctl_reply_check).
 * Input: the bytes the client sends (it then closes its sending side).
 * The table holds "echo" (replies with the args it got) and "fail" (an
 * error reply), so requests with any args reach a handler and back.
 * Properties: whatever was sent, the server answers with exactly one line
 * that the client accepts as a reply (ok or error, never malformed); a
 * handler runs only for a request that passes the checks, and then sees
 * an object; an ok reply to "echo" carries back the args that were sent.
 * The client reads on its own thread while the server writes, as `pacto`
 * does from its own process: a reply can outgrow the socket's buffer (an
 * echo of 12,000 reals "9e-9" is 4.4 times its request, found in CI). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl_proto.h"
#include "ctl/ctl_server.h"
#include "fuzz.h"

static struct ctl_server *server;
static char path[96];   /* fits sun_path */
static json_t *echoed;   /* the args the echo handler saw, for the check */

static json_t *cmd_echo(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	(void)ctx;
	(void)peer;
	FUZZ_CHECK(json_is_object(args));
	json_decref(echoed);
	echoed = json_deep_copy(args);
	return ctl_reply_ok(json_deep_copy(args));
}

static json_t *cmd_fail(void *ctx, json_t *args, const struct ctl_peer *peer)
{
	(void)ctx;
	(void)peer;
	FUZZ_CHECK(json_is_object(args));
	return ctl_reply_error("failed as asked (%zu args)", json_object_size(args));
}

static const struct ctl_command commands[] = {{"echo", cmd_echo}, {"fail", cmd_fail}};

static void close_server(void)
{
	ctl_server_close(server);
}

static void open_server(void)
{
	char err[256];
	snprintf(path, sizeof(path), "%s/ctl.sock", fuzz_tmpdir());
	if (ctl_server_open(path, (gid_t)-1, &server, err, sizeof(err)) != 0)
		fuzz_fail(__FILE__, __LINE__, err);
	atexit(close_server);
}

static int connect_client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

/* Sends what fits in the socket's buffer without blocking (the server
 * reads only when served): more than CTL_MAX_MESSAGE always fits. */
static void send_input(int fd, const uint8_t *data, size_t size)
{
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (size > 0) {
		ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		data += n;
		size -= (size_t)n;
	}
	fcntl(fd, F_SETFL, flags);
	shutdown(fd, SHUT_WR);
}

/* Re-encoding can grow a request: jansson writes reals with 17 digits, so
 * "0.1," (4 bytes) comes back as "0.10000000000000001," (20), the most per
 * byte; 8 times a request holds any echo. Not CTL_MAX_REPLY as pacto reads: a 64 MiB
 * buffer per input would cost more than the rest. */
#define REPLY_CAP (8 * CTL_MAX_MESSAGE)

struct reader {
	int fd;
	int rc;
	json_t *reply;
	char err[512];
};

static void *read_reply(void *arg)
{
	struct reader *r = arg;
	r->rc = ctl_recv(r->fd, REPLY_CAP, 10000, &r->reply, r->err, sizeof(r->err));
	return NULL;
}

static void check_reply(const struct reader *r, bool echo_ran)
{
	json_t *result = NULL;
	char err[512];
	if (r->rc != 0)
		fuzz_fail(__FILE__, __LINE__, r->err);
	int rc = ctl_reply_check(r->reply, &result, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == 1);
	if (rc == 0) {
		FUZZ_CHECK(echo_ran && json_is_object(result));
		FUZZ_CHECK(json_equal(result, echoed));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!server)
		open_server();
	json_decref(echoed);
	echoed = NULL;
	struct reader r = {.fd = connect_client(), .rc = -1};
	send_input(r.fd, data, size);
	pthread_t reader;
	FUZZ_CHECK(pthread_create(&reader, NULL, read_reply, &r) == 0);
	ctl_server_serve(server, commands, sizeof(commands) / sizeof(*commands), NULL);
	FUZZ_CHECK(pthread_join(reader, NULL) == 0);
	check_reply(&r, echoed != NULL);
	json_decref(r.reply);
	close(r.fd);
	return 0;
}
