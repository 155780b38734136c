# test_privdrop_netns.sh: pactod after it gives up its privileges.
# Started as root, pactod keeps CAP_NET_ADMIN alone and runs under its
# seccomp filter (read from /proc/PID/task/*/status, every thread); with
# --user it runs as that user and still drops an attacker's packets in
# real nftables (a defender and an attacker namespace over a veth pair),
# lifts, reloads and stops cleanly. The control socket serves root and the
# pacto group, and refuses another user, even one let through by a socket
# opened to everyone (pactod's own check of the peer's credentials).
# Temporary system users (and the pacto group, if the machine has none) are
# created here and removed on exit, under a lock: /etc/passwd is shared.
. "$PACTO_TOP/tests/integration/lib.sh"

DEF="pacto-pdef-$$"
ATT="pacto-patt-$$"
PORT=2222
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
PROBE="$BUILD/netprobe"
DUSER="ptd$$" OUSER="pto$$" IUSER="pti$$"
made_group=
PACTOD_PID=

cleanup() {
	kill_namespace "$DEF"
	kill_namespace "$ATT"
	for u in "$DUSER" "$OUSER" "$IUSER"; do id "$u" >/dev/null 2>&1 && userdel "$u" 2>/dev/null; done
	[ -n "$made_group" ] && groupdel pacto 2>/dev/null
	finish
}
trap cleanup EXIT

in_def() { ip netns exec "$DEF" "$@"; }
in_att() { ip netns exec "$ATT" "$@"; }
ctl() { $PACTO --state-dir "$STATE" "$@"; }
reaches() { in_att "$PROBE" connect 192.0.2.1 "$PORT" "$1" 1000; }
dropped() { ! in_att "$PROBE" connect 192.0.2.1 "$PORT" "$1" 1000; }

quiet() { "$@" >/dev/null; }

# as USER PACTO-ARGS...: pacto run by USER with its groups, as a login would.
as() {
	user=$1
	shift
	setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$BUILD/pacto" --state-dir "$STATE" "$@"
	rc=$?
	[ "$rc" -eq 86 ] && echo "pacto $* (as $user)" >>"$SCRATCH/sanitizer-reports"
	return "$rc"
}

make_users() {
	if ! getent group pacto >/dev/null; then
		groupadd --system pacto || return 1
		made_group=1
	fi
	useradd --system --no-create-home --shell /usr/sbin/nologin --gid pacto "$DUSER" &&
	useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$OUSER" &&
	useradd --system --no-create-home --shell /usr/sbin/nologin --user-group --groups pacto "$IUSER"
}

setup_namespaces() {
	ip netns add "$DEF" && ip netns add "$ATT" &&
	ip link add "qd$$" type veth peer name "qa$$" &&
	ip link set "qd$$" netns "$DEF" && ip link set "qa$$" netns "$ATT" &&
	in_def ip addr add 192.0.2.1/24 dev "qd$$" && in_att ip addr add 192.0.2.2/24 dev "qa$$" &&
	in_att ip addr add 192.0.2.3/24 dev "qa$$" &&
	in_def ip link set "qd$$" up && in_att ip link set "qa$$" up && in_def ip link set lo up
}

# start_pactod ARGS...: in the defender's namespace, until its socket answers.
# ip netns exec execs pactod itself (no function, no subshell): $! is
# pactod, so that its exit status can be checked.
start_pactod() {
	ip netns exec "$DEF" "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" "$@" >>"$SCRATCH/pactod.log" 2>&1 9>&- &
	PACTOD_PID=$!
	for i in $(seq 50); do [ -S "$STATE/pacto.sock" ] && ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	sed 's/^/# /' "$SCRATCH/pactod.log"
	return 1
}

start_pactod_as_unit() {
	ip netns exec "$DEF" setpriv --reuid="$DUSER" --regid=pacto --init-groups --inh-caps=+net_admin \
		--ambient-caps=+net_admin --bounding-set=-all,+net_admin \
		"$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 9>&- &
	PACTOD_PID=$!
	for i in $(seq 50); do
		[ "$(cat /proc/$PACTOD_PID/comm 2>/dev/null)" = pactod ] && ctl status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# stop_pactod: SIGTERM; ok only when pactod exits 0 (not killed by SIGSYS: 159).
stop_pactod() {
	kill "$PACTOD_PID"
	wait "$PACTOD_PID"
	rc=$?
	PACTOD_PID=
	[ "$rc" -eq 0 ] || { echo "# pactod exited with $rc"; sed 's/^/# /' "$SCRATCH/pactod.log"; }
	[ "$rc" -eq 0 ]
}

# status_is FIELD VALUE: every thread of pactod shows FIELD: VALUE.
status_is() {
	pid=$PACTOD_PID
	[ "$(cat /proc/"$pid"/comm 2>/dev/null)" = pactod ] || return 1
	for t in /proc/"$pid"/task/*; do
		got=$(awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "$t/status")
		[ "$got" = "$2" ] || { echo "# thread $(basename "$t"): $1: '$got', wanted '$2'"; return 1; }
	done
	[ "$(ls /proc/"$pid"/task | wc -l)" -ge 2 ]   # the ledger's checkpointer is there too
}

fail_lines() {
	for i in $(seq 5); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') def sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}

# Held until exit, and by no child: another run must not remove the pacto group under this one.
exec 9>/tmp/pacto-test-users.lock
flock 9
if ! setup_namespaces || ! make_users; then
	not_ok "namespaces or temporary users could not be made (root, iproute2, useradd are required)"
	exit 0
fi
chmod 0755 "$SCRATCH"
: >"$LOG"
chmod 0644 "$LOG"
in_def "$PROBE" listen "$PORT" 9>&- &

# As root, without --user.
check "pactod starts as root" start_pactod
check "its threads keep CAP_NET_ADMIN alone (effective)" status_is CapEff 0000000000001000
check "and permitted" status_is CapPrm 0000000000001000
check "its bounding set is CAP_NET_ADMIN alone" status_is CapBnd 0000000000001000
check "no ambient capability" status_is CapAmb 0000000000000000
check "no inheritable capability" status_is CapInh 0000000000000000
check "its threads are under the seccomp filter" status_is Seccomp 2
check "with no_new_privs" status_is NoNewPrivs 1
check "pactod as root stops cleanly" stop_pactod

# As a user of its own.
expect_exit 78 "pactod --user root is refused" in_def "$BUILD/pactod" --foreground --state-dir "$STATE" --user root
expect_exit 78 "pactod --user with an unknown user is refused" \
	in_def "$BUILD/pactod" --foreground --state-dir "$STATE" --user "no-such-$$"
check "pactod --user $DUSER starts" start_pactod --user "$DUSER"
duid=$(id -u "$DUSER")
pgid=$(getent group pacto | cut -d: -f3)
check "every thread runs as $DUSER" status_is Uid "$duid $duid $duid $duid"
check "with its primary group, pacto" status_is Gid "$pgid $pgid $pgid $pgid"
check "keeping CAP_NET_ADMIN alone" status_is CapEff 0000000000001000
check "with an empty bounding set" status_is CapBnd 0000000000000000
check "under the seccomp filter" status_is Seccomp 2
check "its state directory is its own" [ "$(stat -c %U "$STATE")" = "$DUSER" ]
check "and its ledger" [ "$(stat -c %U "$STATE/ledger.db")" = "$DUSER" ]

check "192.0.2.2 reaches the service before it attacks" reaches 192.0.2.2
fail_lines 192.0.2.2
check "five failures sanction 192.0.2.2 (recorded by the unprivileged pactod)" wait_sanctioned "$STATE" 192.0.2.2
check "and the kernel drops its packets" dropped 192.0.2.2
check "192.0.2.3 still gets through" reaches 192.0.2.3
check "pacto lift succeeds" sh -c "$BUILD/pacto --state-dir $STATE lift 192.0.2.2 >/dev/null"
check "and 192.0.2.2 gets through again" reaches 192.0.2.2
check "pacto reload is served (rules read again)" sh -c "$BUILD/pacto --state-dir $STATE reload >/dev/null"

# The control socket.
check "root is served" quiet ctl status
check "a member of the pacto group is served" quiet as "$IUSER" status
as "$OUSER" status >"$SCRATCH/out" 2>&1
check "a user outside root and the pacto group is refused" [ $? -ne 0 ]
ls -l "$STATE/pacto.sock" >"$SCRATCH/sock"
check "the socket is mode 0660, group pacto" grep -q '^srw-rw---- .* pacto ' "$SCRATCH/sock"
# Opened to everyone by mistake, the socket still serves only root and pacto.
chmod 0755 "$STATE"
chmod 0666 "$STATE/pacto.sock"
as "$OUSER" status >"$SCRATCH/out" 2>&1
rc=$?
check "behind a socket opened to all, pactod itself refuses the outsider" [ "$rc" -ne 0 ]
check "saying why" grep -q "only root and the pacto group" "$SCRATCH/out"
check "and counting it" sh -c "$BUILD/pacto --state-dir $STATE status --json | jq -e '.counters.control_refused >= 1' >/dev/null"
check "the group member is still served" quiet as "$IUSER" status

check "pactod --user stops cleanly (not killed by its filter)" stop_pactod
check "and removed its socket" [ ! -e "$STATE/pacto.sock" ]
check "pactod logged that it entered the sandbox" grep -q "sandboxed: CAP_NET_ADMIN only, as $DUSER, system calls filtered, writes confined" "$SCRATCH/pactod.log"

# As contrib/pactod.service starts it: already the user, CAP_NET_ADMIN
# given as an ambient capability, nothing else in the bounding set.
check "pactod started as $DUSER with an ambient CAP_NET_ADMIN (as systemd does)" start_pactod_as_unit
check "drops the inheritable and ambient CAP_NET_ADMIN it was given" status_is CapAmb 0000000000000000
check "keeps the effective one alone" status_is CapEff 0000000000001000
check "under the seccomp filter" status_is Seccomp 2
fail_lines 192.0.2.3
check "and still sanctions: 192.0.2.3 is recorded" wait_sanctioned "$STATE" 192.0.2.3
check "and the kernel drops it" dropped 192.0.2.3
check "its socket is still mode 0660, group pacto" sh -c "ls -l $STATE/pacto.sock | grep -q '^srw-rw---- .* pacto '"
check "the group member is served" quiet as "$IUSER" status
check "it stops cleanly" stop_pactod
