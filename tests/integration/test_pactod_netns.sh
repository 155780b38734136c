# test_pactod_netns.sh: pactod protecting a host, with real packets.
# A defender namespace runs pactod (real nftables, in that namespace only)
# and a TCP service; an attacker namespace connects over a veth pair. The
# attacker's connections work until failure lines for its address reach
# the watched log, are dropped after, and work again after `pacto lift`;
# the same over IPv6 (a /64 sanction); sanctions survive kill -9 and a
# deleted table is restored. Addresses: 192.0.2.0/24 and 2001:db8::/64 only,
# inside namespaces this script creates and removes.
. "$PACTO_TOP/tests/integration/lib.sh"

DEF="pacto-def-$$"
ATT="pacto-att-$$"
PORT=2222
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
PROBE="$BUILD/netprobe"
PACTOD_PID=

cleanup_netns() {
	kill_namespace "$DEF"
	kill_namespace "$ATT"
	finish
}
trap cleanup_netns EXIT

in_def() { ip netns exec "$DEF" "$@"; }
# The pactod processes of the defender's namespace (not any other test's).
pactod_pids() {
	for pid in $(ip netns pids "$DEF"); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = pactod ] && echo "$pid"; done
}
in_att() { ip netns exec "$ATT" "$@"; }
ctl() { in_def "$BUILD/pacto" --state-dir "$STATE" "$@"; }
reaches() { in_att "$PROBE" connect "$1" "$PORT" "${2:-}" 1500; }

setup_namespaces() {
	ip netns add "$DEF" && ip netns add "$ATT" &&
	ip link add "pd$$" type veth peer name "pa$$" &&
	ip link set "pd$$" netns "$DEF" && ip link set "pa$$" netns "$ATT" &&
	in_def ip addr add 192.0.2.1/24 dev "pd$$" &&
	in_def ip addr add 2001:db8::1/64 dev "pd$$" nodad &&
	in_att ip addr add 192.0.2.2/24 dev "pa$$" &&
	in_att ip addr add 192.0.2.3/24 dev "pa$$" &&
	in_att ip addr add 2001:db8::2/64 dev "pa$$" nodad &&
	in_def ip link set "pd$$" up && in_att ip link set "pa$$" up &&
	in_def ip link set lo up && in_att ip link set lo up
}

start_pactod() {
	in_def "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 &
	PACTOD_PID=$!
	for i in $(seq 50); do [ -S "$STATE/pacto.sock" ] && ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# fail_lines ADDRESS N: sshd lines of N failed passwords from ADDRESS, as rsyslog writes them.
fail_lines() {
	for i in $(seq "$2"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') def sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}


if ! setup_namespaces; then
	not_ok "network namespaces could not be set up (root and iproute2 are required)"
	exit 0
fi
in_def "$PROBE" listen "$PORT" &
: >"$LOG"
check "pactod starts in the defender's namespace" start_pactod
check "the attacker reaches the service over IPv4 before anything happens" reaches 192.0.2.1
check "and over IPv6" reaches 2001:db8::1

fail_lines 192.0.2.2 4
sleep 0.3
check "four failures are not enough: the attacker still gets through" reaches 192.0.2.1
fail_lines 192.0.2.2 1
check "the fifth failure sanctions 192.0.2.2" wait_sanctioned "$STATE" 192.0.2.2
check "192.0.2.2's next connection is dropped" sh -c "! ip netns exec $ATT $PROBE connect 192.0.2.1 $PORT 192.0.2.2 1000"
check "192.0.2.3, on the same attacker host but not sanctioned, still gets through" reaches 192.0.2.1 192.0.2.3
check "pacto why shows the evidence lines" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE why 192.0.2.2 | grep -c 'Failed password for root from 192.0.2.2 port 4000' | grep -qx 5"

check "pacto lift 192.0.2.2 succeeds" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE lift 192.0.2.2 >/dev/null"
check "after the lift 192.0.2.2 gets through again" reaches 192.0.2.1 192.0.2.2

fail_lines 2001:db8::2 5
check "five IPv6 failures sanction the attacker's /64" wait_sanctioned "$STATE" 2001:db8::/64
check "its next IPv6 connection is dropped" sh -c "! ip netns exec $ATT $PROBE connect 2001:db8::1 $PORT 2001:db8::2 1000"
check "pacto lift 2001:db8::/64 opens it again" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE lift 2001:db8::/64 >/dev/null && ip netns exec $ATT $PROBE connect 2001:db8::1 $PORT 2001:db8::2 1500"

# Crash and restart: the ledger rebuilds the firewall.
fail_lines 192.0.2.3 5
check "192.0.2.3 is sanctioned" wait_sanctioned "$STATE" 192.0.2.3
kill -9 $(pactod_pids) 2>/dev/null
wait "$PACTOD_PID" 2>/dev/null
PACTOD_PID=
check "after kill -9 the kernel still drops 192.0.2.3 (the set outlives the daemon)" \
	sh -c "! ip netns exec $ATT $PROBE connect 192.0.2.1 $PORT 192.0.2.3 1000"
in_def nft delete table inet pacto
check "with pacto's table deleted, 192.0.2.3 gets through" reaches 192.0.2.1 192.0.2.3
check "pactod restarts on the same state" start_pactod
check "the restart restores 192.0.2.3's sanction from the ledger" sh -c "! ip netns exec $ATT $PROBE connect 192.0.2.1 $PORT 192.0.2.3 1000"
check "and the ledger still lists it" wait_sanctioned "$STATE" 192.0.2.3
in_def nft list tables >"$SCRATCH/tables"
check "pactod made no table but its own" sh -c "! grep -v 'table inet pacto' $SCRATCH/tables | grep -q table"

# The table deleted behind pactod's back is restored within its check period.
in_def nft delete table inet pacto
restored=1
for i in $(seq 70); do
	in_def nft list table inet pacto >/dev/null 2>&1 && ! in_att "$PROBE" connect 192.0.2.1 "$PORT" 192.0.2.3 300 && { restored=0; break; }
	sleep 0.1
done
check "a table deleted behind pactod's back is restored with its sanctions" [ "$restored" -eq 0 ]
kill $(pactod_pids) 2>/dev/null
wait "$PACTOD_PID" 2>/dev/null
check "pactod stopped on SIGTERM left its control socket removed" [ ! -e "$STATE/pacto.sock" ]
