/* sandbox.c: capabilities (libcap-ng), user switch, Landlock write
 * confinement and the seccomp filter (libseccomp) of pactod (see sandbox.h).
 * The system call table below is what pactod and its libraries (glibc,
 * SQLite, libnftables/libnftnl/libmnl, sd-journal, PCRE2's JIT, nats.c,
 * libsodium) were seen to call over the whole test suite, built with
 * SANDBOX_AUDIT (docs/hardening.md says how to redo that). */
#include "common/sandbox.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"

static int fail(char *err, size_t errlen, const char *what, int e)
{
	snprintf(err, errlen, "sandbox: %s%s%s", what, e ? ": " : "", e ? strerror(e) : "");
	return -1;
}

int sandbox_user_lookup(const char *name, struct sandbox_user *u, char *err, size_t errlen)
{
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return fail(err, errlen, errno ? "getpwnam" : "no such user", errno);
	if (pw->pw_uid == 0)
		return fail(err, errlen, "the user to run as must not be root", 0);
	if (strlen(name) >= sizeof(u->name))
		return fail(err, errlen, "user name too long", 0);
	strcpy(u->name, name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

/* ---- capabilities and user ---- */

/* libcap-ng's own state is set to "CAP_NET_ADMIN only" (if held now). */
static bool keep_net_admin_only(void)
{
	capng_get_caps_process();
	bool had = capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN);
	bool setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_ALL);
	if (had)
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET, CAP_NET_ADMIN);
	return setpcap;
}

/* Trust, then verify [OpenSSH permanently_set_uid]: root must be out of reach. */
static int check_switched(const struct sandbox_user *u, char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0)
		return fail(err, errlen, "getresuid", errno);
	if (r != u->uid || e != u->uid || s != u->uid || rg != u->gid || eg != u->gid || sg != u->gid)
		return fail(err, errlen, "the user switch left another uid or gid", 0);
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0)
		return fail(err, errlen, "root could be regained after the user switch", 0);
	return 0;
}

static int change_user(const struct sandbox_user *u, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return fail(err, errlen, "switching to another user needs root", 0);
	/* The user's supplementary groups are kept from /etc/group, not dropped:
	 * they are how an administrator lets it read root-owned logs (adm,
	 * systemd-journal) without any capability. */
	int rc = capng_change_id((int)u->uid, (int)u->gid,
				 CAPNG_INIT_SUPP_GRP | CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT);
	if (rc != 0) {
		char what[128];
		snprintf(what, sizeof(what), "capng_change_id to %s (step %d)", u->name, -rc);
		return fail(err, errlen, what, errno);
	}
	return check_switched(u, err, errlen);
}

int sandbox_drop(const struct sandbox_user *u, char *err, size_t errlen)
{
	bool setpcap = keep_net_admin_only();
	bool already = u && getuid() == u->uid && geteuid() == u->uid && getgid() == u->gid;
	if (u && !already)
		return change_user(u, err, errlen);
	/* Without CAP_SETPCAP (started unprivileged, or by a unit that took it)
	 * the bounding set cannot shrink; the caller's already has. */
	if (capng_apply(setpcap ? CAPNG_SELECT_ALL : CAPNG_SELECT_CAPS | CAPNG_SELECT_AMBIENT) != 0)
		return fail(err, errlen, "capng_apply", errno);
	return 0;
}

/* ---- Landlock: writes only below the given directories ---- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

static bool writes_confined;

bool sandbox_writes_confined(void)
{
	return writes_confined;
}

/* Every way to change the filesystem this kernel's Landlock can refuse.
 * Reading and executing are left alone (execve is seccomp's). */
static uint64_t write_rights(int abi)
{
	uint64_t r = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
		     LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		     LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return r;
}

static int allow_writes_below(int ruleset, const char *dir, uint64_t rights, char *err, size_t errlen)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, dir, errno);
	/* REFER is granted only with a rule on both ends; keep it off: the
	 * ledger never moves files between directories. */
	struct landlock_path_beneath_attr pb = {.allowed_access = rights & ~LANDLOCK_ACCESS_FS_REFER, .parent_fd = fd};
	int rc = (int)syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	int e = errno;
	close(fd);
	return rc == 0 ? 0 : fail(err, errlen, "landlock_add_rule", e);
}

static int confine_writes(const char *const *dirs, size_t ndirs, char *err, size_t errlen)
{
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0 && (errno == ENOSYS || errno == EOPNOTSUPP)) {
		log_warnx("sandbox: this kernel has no Landlock (%s): writes are not confined to the state "
			  "directories; the system call filter still applies", strerror(errno));
		return 0;
	}
	if (abi < 0)
		return fail(err, errlen, "landlock_create_ruleset", errno);
	struct landlock_ruleset_attr attr = {.handled_access_fs = write_rights(abi)};
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		return fail(err, errlen, "landlock_create_ruleset", errno);
	int rc = 0;
	for (size_t i = 0; i < ndirs && rc == 0; i++)
		rc = allow_writes_below(rs, dirs[i], attr.handled_access_fs, err, errlen);
	if (rc == 0 && syscall(SYS_landlock_restrict_self, rs, 0) != 0)
		rc = fail(err, errlen, "landlock_restrict_self", errno);
	close(rs);
	writes_confined = rc == 0;
	return rc;
}

/* ---- seccomp ---- */

#ifdef SANDBOX_AUDIT
/* Everything outside the table is logged (the killers too: libseccomp
 * takes no rule whose action is the default one, so they get none). */
#define REFUSE SCMP_ACT_LOG
#define KILL SCMP_ACT_LOG
#else
#define REFUSE SCMP_ACT_ERRNO(EPERM)
#define KILL SCMP_ACT_KILL_PROCESS
#endif

/* Allowed without looking at the arguments. Names, not numbers: a name
 * this architecture lacks is skipped. */
static const char *const allowed[] = {
	/* files and descriptors (what may be written is Landlock's business) */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "open", "openat",
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getdents64", "getcwd", "fcntl", "dup", "dup2", "dup3",
	"pipe2", "fsync", "fdatasync", "ftruncate", "fallocate", "fadvise64", "unlink", "unlinkat",
	"fchown", "fchmod", "umask", "flock",
	/* memory (PCRE2's JIT maps code; nothing else does; libsodium locks
	 * the secret key's pages) */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore", "mlock", "munlock",
	/* signals and time */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	/* threads (the ledger's checkpointer, nats.c's) */
	"clone", "clone3", "futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"exit", "exit_group", "sched_yield", "sched_getaffinity", "gettid", "getpid", "getppid",
	/* identity, read only */
	"getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
	/* sockets (the families are checked in socket()) and waiting */
	"connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"sendmmsg", "recvmmsg", "shutdown", "getsockname", "getpeername", "setsockopt", "getsockopt",
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"eventfd2", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	/* misc */
	"getrandom", "uname", "sysinfo", "getrlimit", "membarrier",
};

#ifdef __SANITIZE_ADDRESS__
/* The sanitizer build only (make sanitize): LeakSanitizer stops every thread
 * at exit from a tracer process: it lists them (getdents), attaches with
 * ptrace and waits for them. The installed build never allows these. */
static const char *const allowed_for_lsan[] = {"ptrace", "wait4", "getdents"};
static const int prctls_for_lsan[] = {PR_SET_PTRACER, PR_SET_DUMPABLE, PR_SET_PDEATHSIG};
#define PTRACE_KILLS /* allowed above */
#else
#define PTRACE_KILLS "ptrace",
#endif

/* Only an attacker calls these: the process dies at the first one. */
static const char *const killers[] = {
	"execve", "execveat", PTRACE_KILLS "process_vm_readv", "process_vm_writev", "mount", "umount2",
	"pivot_root", "chroot", "setns", "unshare", "bpf", "init_module", "finit_module", "delete_module",
	"kexec_load", "kexec_file_load", "open_by_handle_at", "userfaultfd", "io_uring_setup",
	"perf_event_open", "keyctl", "add_key", "request_key", "setuid", "setgid", "setreuid", "setregid",
	"setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "capset",
};

static int add_names(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, action, nr, 0) != 0)
			return -1;
	}
	return 0;
}

/* Argument conditions written out field by field: libseccomp's SCMP_An()
 * macros leave datum_b out, which clang's -Wmissing-field-initializers
 * (the fuzzing build) refuses. */
static struct scmp_arg_cmp arg_eq(unsigned arg, scmp_datum_t value)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = value, .datum_b = 0};
}

static struct scmp_arg_cmp arg_masked_eq(unsigned arg, scmp_datum_t mask, scmp_datum_t value)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
}

/* Calls allowed with some arguments only: sockets of the families pactod
 * uses, ioctls of terminals and sockets, thread names, signals to itself,
 * resource limits read but not raised. */
static int add_narrow(scmp_filter_ctx ctx)
{
	static const int families[] = {AF_UNIX, AF_NETLINK, AF_INET, AF_INET6};
	static const unsigned long ioctls[] = {TCGETS, FIONREAD, FIONBIO, FIOCLEX};
	static const int prctls[] = {PR_SET_NAME, PR_GET_NAME, PR_GET_DUMPABLE, PR_CAPBSET_READ};
	int rc = 0;
	for (size_t i = 0; i < sizeof(families) / sizeof(*families); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, arg_eq(0, (scmp_datum_t)families[i]));
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(*ioctls); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       arg_masked_eq(1, 0xffffffffu, (scmp_datum_t)ioctls[i]));
	for (size_t i = 0; i < sizeof(prctls) / sizeof(*prctls); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, arg_eq(0, (scmp_datum_t)prctls[i]));
	scmp_datum_t self = (scmp_datum_t)getpid();
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, arg_eq(0, self));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, arg_eq(0, self));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, arg_eq(2, 0));
#ifdef __SANITIZE_ADDRESS__
	rc |= add_names(ctx, SCMP_ACT_ALLOW, allowed_for_lsan, sizeof(allowed_for_lsan) / sizeof(*allowed_for_lsan));
	for (size_t i = 0; i < sizeof(prctls_for_lsan) / sizeof(*prctls_for_lsan); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       arg_eq(0, (scmp_datum_t)prctls_for_lsan[i]));
#endif
	return rc ? -1 : 0;
}

static int install_filter(char *err, size_t errlen)
{
	scmp_filter_ctx ctx = seccomp_init(REFUSE);
	if (!ctx)
		return fail(err, errlen, "seccomp_init", ENOMEM);
	int rc = -1;
	/* OPTIMIZE 2: a binary tree of the ~100 rules, not a list walked on
	 * every call of the hot path. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) != 0)
		fail(err, errlen, "seccomp_attr_set", 0);
	else if (add_names(ctx, SCMP_ACT_ALLOW, allowed, sizeof(allowed) / sizeof(*allowed)) != 0 ||
		 (KILL != REFUSE && add_names(ctx, KILL, killers, sizeof(killers) / sizeof(*killers)) != 0) ||
		 add_narrow(ctx) != 0)
		fail(err, errlen, "seccomp_rule_add", 0);
	else if ((rc = seccomp_load(ctx)) != 0)
		fail(err, errlen, "seccomp_load", -rc);
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

int sandbox_enter(const char *const *write_dirs, size_t ndirs, char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail(err, errlen, "PR_SET_NO_NEW_PRIVS", errno);
	if (confine_writes(write_dirs, ndirs, err, errlen) != 0)
		return -1;
	return install_filter(err, errlen);
}
