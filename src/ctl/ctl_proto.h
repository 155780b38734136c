/* ctl_proto.h: the control protocol between `pacto` and pactod, shared by
 * both sides: one JSON object per line, one request and one reply per
 * connection.
 *   request: {"version": 1, "command": "lift", "args": {...}}
 *   reply:   {"version": 1, "ok": true, "result": {...}}
 *            {"version": 1, "ok": false, "error": "..."}
 * Why JSON (jansson): `pacto ... --json` prints the result as it came, and
 * a request is validated by one strict decoder instead of ad hoc parsing.
 * Guarantees: messages are at most CTL_MAX_MESSAGE bytes; a request with
 * another version, no command, or trailing data is refused, never guessed. */
#ifndef PACTO_CTL_PROTO_H
#define PACTO_CTL_PROTO_H

#include <jansson.h>
#include <stddef.h>

#define CTL_VERSION 1
#define CTL_MAX_MESSAGE (64 * 1024)            /* a request */
#define CTL_MAX_REPLY (64 * 1024 * 1024)       /* a reply (a long listing) */
#define CTL_MAX_COMMAND 32
#define CTL_MAX_SANCTION_S (366 * 86400)  /* a sanction by hand: the kernel's timeouts go no longer */
#define CTL_SOCKET_NAME "pacto.sock"

/* Builds a request; args is taken over (may be NULL). Caller frees. */
json_t *ctl_request(const char *command, json_t *args);

/* Checks a received request: version, command name, args an object.
 * Returns 0 with command copied and *args borrowed from req, or -1 with err. */
int ctl_request_check(json_t *req, char command[CTL_MAX_COMMAND], json_t **args, char *err, size_t errlen)
	__attribute__((warn_unused_result));

json_t *ctl_reply_ok(json_t *result);                       /* takes over result */
json_t *ctl_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks a received reply: 0 with *result borrowed (ok), 1 with the
 * server's error message copied into err (not ok), -1 malformed. */
int ctl_reply_check(json_t *reply, json_t **result, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Writes msg as one line of at most CTL_MAX_REPLY bytes. Returns 0 or -1
 * (errno). Does not take msg. */
int ctl_send(int fd, const json_t *msg) __attribute__((warn_unused_result));

/* Reads one line of at most max bytes within deadline_ms in all (one slow
 * peer cannot hold the reader longer), and decodes it. Returns 0 with *msg
 * (caller frees) or -1 with err. */
int ctl_recv(int fd, size_t max, int deadline_ms, json_t **msg, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
