/* sandbox.h: what pactod gives up once everything that needs privilege is open.
 * Why: pactod parses hostile input (logs, allies' reports, control requests)
 * with the right to change the firewall; a bug there must not become a
 * root shell. After setup it keeps one capability, one user, one place to
 * write and a short list of system calls (STYLE.md: SMTPD's setresuid +
 * pledge, in Linux terms).
 * Guarantees (each call either does all of it or returns -1 with err set;
 * pactod treats -1 as fatal):
 *  - sandbox_drop: the process keeps CAP_NET_ADMIN (if it had it) and no other
 *    capability, effective, permitted, inheritable, ambient, and (when it
 *    may change it) in the bounding set; with a user, it runs as that user,
 *    its primary group and its supplementary groups from /etc/group, and
 *    cannot become root again (checked after the switch).
 *  - sandbox_enter: no_new_privs; with Landlock (Linux 5.13+) nothing is
 *    created, written, truncated, renamed or removed outside the given
 *    directories (reading stays allowed: configuration, rules, treaty and
 *    logs are read again on reload and rotation); a seccomp filter on every
 *    thread of the process allows only the calls in sandbox.c's table.
 *    Calls that only an attacker makes (exec, ptrace, mounts, namespaces,
 *    modules, bpf, identity changes) kill the whole process
 *    (SCMP_ACT_KILL_PROCESS, SIGSYS); any other call outside the table fails
 *    with EPERM, so a library taking an unexpected path gets an error it
 *    handles, not a dead firewall daemon.
 * Landlock and the per-thread parts of capabilities apply only to the
 * calling thread and the threads it starts afterwards: call both before any
 * thread exists. The seccomp filter is synchronised to all threads (TSYNC).
 * Build option: -DSANDBOX_AUDIT (make SANDBOX_AUDIT=1) logs refused calls
 * to the kernel log instead of refusing them, to find what a new library
 * version needs; it is a build of its own, never a runtime switch. */
#ifndef PACTO_SANDBOX_H
#define PACTO_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SANDBOX_NAME_MAX 64

struct sandbox_user {
	char name[SANDBOX_NAME_MAX];
	uid_t uid;
	gid_t gid;                      /* its primary group */
};

/* Looks a user up (NSS): 0, or -1 with err ("no such user", root refused). */
int sandbox_user_lookup(const char *name, struct sandbox_user *u, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Drops every capability but CAP_NET_ADMIN, and switches to u unless u is
 * NULL (then the uid stays). Switching needs root. */
int sandbox_drop(const struct sandbox_user *u, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Confines writes to the ndirs directories (each must exist) and installs
 * the system call filter. Irreversible. */
int sandbox_enter(const char *const *write_dirs, size_t ndirs, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* True when sandbox_enter confined writes (the kernel has Landlock). */
bool sandbox_writes_confined(void);

#endif
