# test_pactod_tamper.sh: pacto's table altered behind pactod's back is
# repaired. An administrator deletes one element, flushes a set, deletes a
# chain's rule; each time the attacker's packets get through for a moment,
# and pactod's watchdog (every 5 s) puts back what its ledger says must be
# dropped, without listing the sets: the kernel's ruleset generation tells
# it someone else changed nftables, then one key lookup per active sanction
# finds what is missing (docs/ARCHITECTURE.md). A change to another table
# makes it look, and it finds nothing to repair. Addresses: 192.0.2.0/24,
# 198.51.100.0/24 and 2001:db8::/64, in namespaces this script creates.
. "$PACTO_TOP/tests/integration/lib.sh"

DEF="pacto-tdef-$$"
ATT="pacto-tatt-$$"
PORT=2222
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
PROBE="$BUILD/netprobe"

cleanup_netns() {
	kill_namespace "$DEF"
	kill_namespace "$ATT"
	finish
}
trap cleanup_netns EXIT

in_def() { ip netns exec "$DEF" "$@"; }
in_att() { ip netns exec "$ATT" "$@"; }
ctl() { in_def "$BUILD/pacto" --state-dir "$STATE" "$@"; }
reaches() { in_att "$PROBE" connect "$1" "$PORT" "$2" 800; }
dropped() { ! in_att "$PROBE" connect "$1" "$PORT" "$2" 800; }
counter() { ctl status --json | jq -r ".counters.$1"; }

setup_namespaces() {
	ip netns add "$DEF" && ip netns add "$ATT" &&
	ip link add "td$$" type veth peer name "ta$$" &&
	ip link set "td$$" netns "$DEF" && ip link set "ta$$" netns "$ATT" &&
	in_def ip addr add 192.0.2.1/24 dev "td$$" &&
	in_def ip addr add 198.51.100.1/24 dev "td$$" &&
	in_def ip addr add 2001:db8::1/64 dev "td$$" nodad &&
	in_att ip addr add 192.0.2.2/24 dev "ta$$" &&
	in_att ip addr add 192.0.2.3/24 dev "ta$$" &&
	in_att ip addr add 192.0.2.4/24 dev "ta$$" &&
	in_att ip addr add 198.51.100.7/24 dev "ta$$" &&
	in_att ip addr add 2001:db8::2/64 dev "ta$$" nodad &&
	in_def ip link set "td$$" up && in_att ip link set "ta$$" up &&
	in_def ip link set lo up && in_att ip link set lo up
}

start_pactod() {
	in_def "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 &
	for i in $(seq 50); do [ -S "$STATE/pacto.sock" ] && ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

fail_lines() {
	for i in $(seq "$2"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') def sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}

# wait_dropped DEST SOURCE: up to ~9 s (the watchdog's period is 5 s).
wait_dropped() {
	for i in $(seq 45); do dropped "$1" "$2" && return 0; sleep 0.2; done
	return 1
}

if ! setup_namespaces; then
	not_ok "network namespaces could not be set up (root and iproute2 are required)"
	exit 0
fi
in_def "$PROBE" listen "$PORT" &
: >"$LOG"
check "pactod starts" start_pactod
fail_lines 192.0.2.2 5
fail_lines 192.0.2.3 5
fail_lines 2001:db8::2 5
check "192.0.2.2, 192.0.2.3 and 2001:db8::/64 are sanctioned" sh -c "
	. $TOP/tests/integration/lib.sh; wait_sanctioned $STATE 192.0.2.2 && wait_sanctioned $STATE 192.0.2.3 &&
	wait_sanctioned $STATE 2001:db8::/64"
check "pacto sanction 198.51.100.0/24 (a prefix set)" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE sanction 198.51.100.0/24 >/dev/null"
check "all are dropped" sh -c "! ip netns exec $ATT $PROBE connect 192.0.2.1 $PORT 192.0.2.2 800 && ! ip netns exec $ATT $PROBE connect 198.51.100.1 $PORT 198.51.100.7 800"

# Nothing foreign happened: the watchdog finds nothing to repair.
sleep 6
check "with nobody else touching nftables, no repair and no restore" \
	[ "$(counter element_repairs)/$(counter table_restores)" = "0/0" ]

in_def nft delete element inet pacto v4 '{ 192.0.2.2 }'
check "an element deleted by hand: 192.0.2.2 gets through" reaches 192.0.2.1 192.0.2.2
check "and within the watchdog's period it is dropped again" wait_dropped 192.0.2.1 192.0.2.2
check "192.0.2.2 is back in set v4" sh -c "ip netns exec $DEF nft list set inet pacto v4 | grep -q '192.0.2.2 '"
check "status counts one element repaired, no table restore" [ "$(counter element_repairs)/$(counter table_restores)" = "1/0" ]
check "the log says what happened" grep -q "1 sanction was missing from pacto's sets" "$SCRATCH/pactod.log"

# One transaction, so that one watchdog pass sees all three.
in_def nft 'flush set inet pacto v4; flush set inet pacto v6_64; flush set inet pacto v4_24'
check "sets flushed by hand: 192.0.2.3 gets through" reaches 192.0.2.1 192.0.2.3
check "192.0.2.3 is dropped again" wait_dropped 192.0.2.1 192.0.2.3
check "so is 192.0.2.2" dropped 192.0.2.1 192.0.2.2
check "so is 198.51.100.7 (the /24 in its interval set)" dropped 198.51.100.1 198.51.100.7
check "so is 2001:db8::2 (its /64)" dropped 2001:db8::1 2001:db8::2
check "status counts 4 more repairs" [ "$(counter element_repairs)" = 5 ]

in_def nft add table inet someone_else
sleep 6
check "a change to another table: the elements are checked and nothing is repaired" [ "$(counter element_repairs)/$(counter table_restores)" = "5/0" ]
in_def nft delete table inet someone_else

handle=$(in_def nft -a list chain inet pacto input | sed -n 's/.*ip saddr @v4 drop # handle \([0-9]*\).*/\1/p')
check "the input chain's rule for set v4 has a handle" [ -n "$handle" ]
in_def nft delete rule inet pacto input handle "$handle"
check "a rule deleted by hand: 192.0.2.3 gets through" reaches 192.0.2.1 192.0.2.3
check "the table is restored and 192.0.2.3 dropped again" wait_dropped 192.0.2.1 192.0.2.3
check "status counts one table restore" [ "$(counter table_restores)" = 1 ]
check "the rule is back" sh -c "ip netns exec $DEF nft list chain inet pacto input | grep -q 'ip saddr @v4 drop'"
check "the service still answers unsanctioned addresses" reaches 192.0.2.1 192.0.2.4
