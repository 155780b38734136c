/* ctl_proto.c: encoding and strict checking of control messages (see ctl_proto.h). */
#include "ctl/ctl_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json_text.h"

json_t *ctl_request(const char *command, json_t *args)
{
	return json_pack("{s:i, s:s, s:o}", "version", CTL_VERSION, "command", command,
			 "args", args ? args : json_object());
}

int ctl_request_check(json_t *req, char command[CTL_MAX_COMMAND], json_t **args, char *err, size_t errlen)
{
	json_t *version = json_object_get(req, "version");
	json_t *name = json_object_get(req, "command");
	json_t *a = json_object_get(req, "args");
	if (!json_is_object(req) || !json_is_integer(version)) {
		snprintf(err, errlen, "not a pacto request");
		return -1;
	}
	if (json_integer_value(version) != CTL_VERSION) {
		snprintf(err, errlen, "protocol version %lld is not %d: pacto and pactod differ",
			 (long long)json_integer_value(version), CTL_VERSION);
		return -1;
	}
	if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) >= CTL_MAX_COMMAND) {
		snprintf(err, errlen, "no command");
		return -1;
	}
	if (a && !json_is_object(a)) {
		snprintf(err, errlen, "args is not an object");
		return -1;
	}
	snprintf(command, CTL_MAX_COMMAND, "%s", json_string_value(name));
	*args = a;
	return 0;
}

json_t *ctl_reply_ok(json_t *result)
{
	return json_pack("{s:i, s:b, s:o}", "version", CTL_VERSION, "ok", 1, "result", result ? result : json_object());
}

json_t *ctl_reply_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The message can quote what the client sent (jansson's error text
	 * quotes the bytes near the error) or be cut inside a character: a
	 * string jansson refuses would leave the client with no reply at all
	 * (found by fuzz_ctl). */
	return json_pack("{s:i, s:b, s:o}", "version", CTL_VERSION, "ok", 0, "error", json_text_cstr(msg));
}

int ctl_reply_check(json_t *reply, json_t **result, char *err, size_t errlen)
{
	json_t *ok = json_object_get(reply, "ok");
	json_t *version = json_object_get(reply, "version");
	if (!json_is_object(reply) || !json_is_boolean(ok) || !json_is_integer(version) ||
	    json_integer_value(version) != CTL_VERSION) {
		snprintf(err, errlen, "malformed reply from pactod");
		return -1;
	}
	if (json_is_false(ok)) {
		json_t *e = json_object_get(reply, "error");
		snprintf(err, errlen, "%s", json_is_string(e) ? json_string_value(e) : "unspecified error");
		return 1;
	}
	*result = json_object_get(reply, "result");
	return 0;
}

/* MSG_NOSIGNAL: a peer that went away must not kill the daemon with SIGPIPE. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int ctl_send(int fd, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	size_t len = strlen(text);
	int rc = len < CTL_MAX_REPLY ? write_all(fd, text, len) : (errno = EMSGSIZE, -1);
	if (rc == 0)
		rc = write_all(fd, "\n", 1);
	free(text);
	return rc;
}

/* Reads until a newline, the end of input, cap bytes or the deadline;
 * returns the length. */
static size_t read_line(int fd, char *buf, size_t cap, int64_t deadline)
{
	size_t len = 0;
	while (len < cap && !memchr(buf, '\n', len)) {
		int64_t left = deadline - clock_monotonic_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

int ctl_recv(int fd, size_t max, int deadline_ms, json_t **msg, char *err, size_t errlen)
{
	char *buf = malloc(max);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t len = read_line(fd, buf, max, clock_monotonic_ms() + deadline_ms);
	char *nl = memchr(buf, '\n', len);
	int rc = -1;
	if (!nl) {
		snprintf(err, errlen, len >= max ? "message too large" : "connection closed early or too slow");
	} else if (nl != buf + len - 1) {
		snprintf(err, errlen, "data after the message");
	} else {
		json_error_t je;
		*msg = json_loadb(buf, (size_t)(nl - buf), JSON_REJECT_DUPLICATES, &je);
		if (*msg)
			rc = 0;
		else
			snprintf(err, errlen, "malformed JSON: %s", je.text);
	}
	free(buf);
	return rc;
}
