/* ctl_server.h: pactod's control socket.
 * Why: the operator's `pacto` commands reach the daemon here, and nowhere
 * else; this is a privileged edge, so it trusts no peer and no request.
 * Guarantees: only root and members of the socket's group are served
 * (SO_PEERCRED, checked on every connection, refusals counted); a request
 * is one bounded line read with a deadline, so a slow or silent client
 * cannot hold the daemon; every request is checked (ctl_proto.h) before a
 * handler sees it. One request per connection, served in the caller's
 * loop: handlers must be quick.
 * Ownership: the server owns its socket file and removes it on close. */
#ifndef PACTO_CTL_SERVER_H
#define PACTO_CTL_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CTL_DEADLINE_MS 500

struct ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

/* Returns a reply made with ctl_reply_ok()/ctl_reply_error() (taken over). */
typedef json_t *(*ctl_handler_fn)(void *ctx, json_t *args, const struct ctl_peer *peer);

struct ctl_command {
	const char *name;
	ctl_handler_fn handler;
};

struct ctl_server_stats {
	uint64_t served, refused_peers, bad_requests;
};

struct ctl_server;

/* Creates the socket at path (mode 0660, owned by the caller's user and
 * `group`; with group (gid_t)-1 mode 0600: the caller's user and root). A stale socket file is replaced;
 * any other file there is an error. */
int ctl_server_open(const char *path, gid_t group, struct ctl_server **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void ctl_server_close(struct ctl_server *s);  /* accepts NULL */

int ctl_server_fd(const struct ctl_server *s);

/* Accepts one waiting connection and serves it. */
void ctl_server_serve(struct ctl_server *s, const struct ctl_command *cmds, size_t ncmds, void *ctx);

void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out);

/* True when peer may use the socket: root, or in `group` by primary or
 * supplementary membership. */
bool ctl_peer_allowed(const struct ctl_peer *peer, gid_t group);

#endif
