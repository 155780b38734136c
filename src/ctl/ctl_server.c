/* ctl_server.c: the control socket (see ctl_server.h). */
#include "ctl/ctl_server.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "ctl/ctl_proto.h"

struct ctl_server {
	int fd;
	char *path;
	gid_t group;
	struct ctl_server_stats stats;
};

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", path, what, strerror(errno));
	return -1;
}

/* Removes a leftover socket from a previous run, refusing any other file. */
static int clear_path(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : fail(err, errlen, path, "lstat");
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket; not replacing it", path);
		return -1;
	}
	return unlink(path) == 0 ? 0 : fail(err, errlen, path, "unlink");
}

static int bind_socket(int fd, const char *path, gid_t group, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* Created with no access at all, then opened up: never briefly world-writable. */
	mode_t old = umask(0777);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc != 0)
		return fail(err, errlen, path, "bind");
	/* The owner stays pactod's user: one not root may still give its own
	 * file to a group it is in (systemd's User=pacto, Group=pacto). */
	if (group != (gid_t)-1 && chown(path, (uid_t)-1, group) != 0) {
		/* Neither in the group nor CAP_CHOWN: only the owner and root may use the socket. */
		log_warnx("%s: chown to the pacto group: %s; only root may use the socket", path, strerror(errno));
		group = (gid_t)-1;
	}
	if (chmod(path, group == (gid_t)-1 ? 0600 : 0660) != 0)
		return fail(err, errlen, path, "chmod");
	return listen(fd, 16) == 0 ? 0 : fail(err, errlen, path, "listen");
}

int ctl_server_open(const char *path, gid_t group, struct ctl_server **out, char *err, size_t errlen)
{
	if (clear_path(path, err, errlen) != 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(err, errlen, path, "socket");
	if (bind_socket(fd, path, group, err, errlen) != 0) {
		close(fd);
		return -1;
	}
	struct ctl_server *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->path = xstrdup(path);
	s->group = group;
	*out = s;
	return 0;
}

void ctl_server_close(struct ctl_server *s)
{
	if (!s)
		return;
	close(s->fd);
	unlink(s->path);
	free(s->path);
	free(s);
}

int ctl_server_fd(const struct ctl_server *s)
{
	return s->fd;
}

static bool user_in_group(uid_t uid, gid_t group)
{
	struct passwd *pw = getpwuid(uid);
	if (!pw)
		return false;
	gid_t groups[256];
	int n = 256;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == group)
			return true;
	return false;
}

bool ctl_peer_allowed(const struct ctl_peer *peer, gid_t group)
{
	if (peer->uid == 0)
		return true;
	if (group == (gid_t)-1)
		return false;
	return peer->gid == group || user_in_group(peer->uid, group);
}

static void set_deadline(int fd)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = CTL_DEADLINE_MS * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static json_t *dispatch(struct ctl_server *s, json_t *req, const struct ctl_command *cmds, size_t ncmds,
			void *ctx, const struct ctl_peer *peer)
{
	char command[CTL_MAX_COMMAND], err[256];
	json_t *args;
	if (ctl_request_check(req, command, &args, err, sizeof(err)) != 0) {
		s->stats.bad_requests++;
		return ctl_reply_error("%s", err);
	}
	for (size_t i = 0; i < ncmds; i++)
		if (strcmp(cmds[i].name, command) == 0) {
			/* Handlers borrow args: an empty object made for a request
			 * without "args" is ours to free (found by fuzz_ctl: every
			 * such request leaked it). */
			json_t *empty = args ? NULL : json_object();
			json_t *reply = cmds[i].handler(ctx, args ? args : empty, peer);
			json_decref(empty);
			return reply;
		}
	s->stats.bad_requests++;
	return ctl_reply_error("unknown command '%s'", command);
}

static void serve_client(struct ctl_server *s, int fd, const struct ctl_command *cmds, size_t ncmds, void *ctx)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		s->stats.refused_peers++;
		return;
	}
	struct ctl_peer peer = {.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
	json_t *reply, *req = NULL;
	char err[256];
	/* The request is read even from a peer about to be refused: closing a
	 * socket with unread data resets it, and the reset can destroy the reply. */
	int got = ctl_recv(fd, CTL_MAX_MESSAGE, CTL_DEADLINE_MS, &req, err, sizeof(err));
	if (!ctl_peer_allowed(&peer, s->group)) {
		s->stats.refused_peers++;
		log_warnx("control: refused uid %u (pid %d): not root nor in the socket's group",
			  (unsigned)peer.uid, (int)peer.pid);
		reply = ctl_reply_error("permission denied: only root and the pacto group may control pactod");
	} else if (got != 0) {
		s->stats.bad_requests++;
		reply = ctl_reply_error("%s", err);
	} else {
		reply = dispatch(s, req, cmds, ncmds, ctx, &peer);
		s->stats.served++;
	}
	if (reply && ctl_send(fd, reply) != 0)
		log_debug("control: reply not delivered: %s", strerror(errno));
	json_decref(reply);
	json_decref(req);
}

/* Ends a connection without a reset: what the peer sent beyond its request
 * (oversized or trailing data) is read away, within bounds, first. */
static void finish(int fd)
{
	char sink[4096];
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 64 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

void ctl_server_serve(struct ctl_server *s, const struct ctl_command *cmds, size_t ncmds, void *ctx)
{
	int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	set_deadline(fd);
	serve_client(s, fd, cmds, ncmds, ctx);
	finish(fd);
}

void ctl_server_get_stats(const struct ctl_server *s, struct ctl_server_stats *out)
{
	*out = s->stats;
}
