# test_ledger_full.sh: the disk under the ledger fills up. pactod's state
# directory is a 1 MiB tmpfs in a mount namespace of this test's own; a
# file fills it. Attacks go on: every attacker is still dropped (real nft,
# real packets across a veth), `pacto status` says the ledger fails, why,
# and how many sanctions wait to be recorded. When space returns, they are
# recorded late, with their times and evidence: no sanction lost. Then the
# same with kill -9 while some wait: the restart reads the lines whose
# sanctions were not recorded again (the cursor committed with them did not
# advance either) and derives them anew. Addresses: 192.0.2.0/24,
# 203.0.113.0/24 (log lines only), in namespaces this script creates.
if [ -z "${PACTO_MNTNS:-}" ]; then
	PACTO_MNTNS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$PACTO_TOP/tests/integration/lib.sh"

DEF="pacto-fdef-$$"
ATT="pacto-fatt-$$"
PORT=2222
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
PROBE="$BUILD/netprobe"

cleanup_netns() {
	kill_namespace "$DEF"
	kill_namespace "$ATT"
	umount "$STATE" 2>/dev/null
	finish
}
trap cleanup_netns EXIT

in_def() { ip netns exec "$DEF" "$@"; }
in_att() { ip netns exec "$ATT" "$@"; }
ctl() { in_def "$BUILD/pacto" --state-dir "$STATE" "$@"; }
ledger() { ctl status --json | jq -r ".ledger.$1"; }
dropped() { ! in_att "$PROBE" connect 192.0.2.1 "$PORT" "$1" 800; }

setup() {
	mkdir -p "$STATE" && mount -t tmpfs -o size=1m,mode=0750 pacto-test "$STATE" &&
	ip netns add "$DEF" && ip netns add "$ATT" &&
	ip link add "fd$$" type veth peer name "fa$$" &&
	ip link set "fd$$" netns "$DEF" && ip link set "fa$$" netns "$ATT" &&
	in_def ip addr add 192.0.2.1/24 dev "fd$$" &&
	in_att ip addr add 192.0.2.2/24 dev "fa$$" && in_att ip addr add 192.0.2.3/24 dev "fa$$" &&
	in_att ip addr add 192.0.2.4/24 dev "fa$$" &&
	in_def ip link set "fd$$" up && in_att ip link set "fa$$" up && in_def ip link set lo up
}

start_pactod() {
	in_def "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 &
	for i in $(seq 50); do [ -S "$STATE/pacto.sock" ] && ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
pactod_pids() {
	for pid in $(ip netns pids "$DEF"); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = pactod ] && echo "$pid"; done
}

fail_lines() {
	for i in $(seq "$2"); do
		echo "$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00') def sshd[$((7000 + i))]: Failed password for root from $1 port $((40000 + i)) ssh2"
	done >>"$LOG"
}
# many_attackers FROM TO: 5 failures from each of 203.0.113.FROM..TO.
many_attackers() {
	for k in $(seq "$1" "$2"); do fail_lines "203.0.113.$k" 5; done
}
fill() { dd if=/dev/zero of="$STATE/filler" bs=4k >/dev/null 2>&1; sync; }
# recorded: pacto sanctions --json's, less those pactod holds (not in the ledger yet).
recorded() { ctl sanctions --json | jq '[.sanctions[] | select(.held != true)]'; }
sanctions_listed() { [ "$(recorded | jq length)" -eq "$1" ]; }

if ! setup; then
	not_ok "a tmpfs and network namespaces could not be set up (root, util-linux and iproute2 are required)"
	exit 0
fi
in_def "$PROBE" listen "$PORT" &
: >"$LOG"
check "pactod starts with its ledger on a 1 MiB tmpfs" start_pactod
fail_lines 192.0.2.4 5
check "with room, a sanction is recorded" wait_sanctioned "$STATE" 192.0.2.4
sleep 5.5   # the cursor save of the next tick commits before the disk fills

fill
check "the tmpfs is full" sh -c "[ \$(df --output=avail $STATE | tail -1) -eq 0 ]"
fail_lines 192.0.2.2 5
many_attackers 1 60
check "disk full: the attacker 192.0.2.2 is still dropped" wait_for 8 dropped 192.0.2.2
check "pacto status counts ledger errors" wait_for 8 sh -c "[ \$(ip netns exec $DEF $BUILD/pacto --state-dir $STATE status --json | jq .ledger.errors) -gt 0 ]"
check "its last error says the disk is full" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE status --json | jq -r .ledger.last_error | grep -q 'database or disk is full'"
check "pacto status says sanctions are enforced but not recorded yet" \
	sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE status | grep -q 'sanctions enforced but not recorded yet'"
held=$(ledger held)
listed=$(recorded | jq length)
marked=$(ctl sanctions --json | jq '[.sanctions[] | select(.held == true)] | length')
check "some sanctions wait ($held), and with those the ledger has ($listed) none is missing" \
	[ "$held" -gt 0 -a $((held + listed)) -eq 62 ]
check "pacto sanctions lists the waiting ones too, marked held ($marked)" [ "$marked" -eq "$held" ]
check "the log says they are enforced and retried" grep -q "enforced but not recorded yet; retrying" "$SCRATCH/pactod.log"
check "pacto why still answers (reads need no space)" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE why 192.0.2.4 | grep -q 'Failed password'"

rm -f "$STATE/filler"
check "space back: the waiting sanctions are recorded" wait_for 8 sanctions_listed 62
check "none waits, all $held were recorded late, none lost" [ "$(ledger held)/$(ledger recorded_late)/$(ledger lost)" = "0/$held/0" ]
check "192.0.2.2's record keeps its evidence" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE why 192.0.2.2 | grep -c 'Failed password for root from 192.0.2.2' | grep -qx 5"
fail_lines 203.0.113.200 5
check "new sanctions are recorded again at once" wait_sanctioned "$STATE" 203.0.113.200
check "held no more" [ "$(ledger held)" = 0 ]

# Full again, then kill -9 while sanctions wait: re-derived at restart.
sleep 5.5
fill
many_attackers 61 180   # more than the WAL's room left from before
check "full again: sanctions wait" wait_for 8 sh -c "[ \$(ip netns exec $DEF $BUILD/pacto --state-dir $STATE status --json | jq .ledger.held) -gt 0 ]"
fail_lines 192.0.2.3 5
check "192.0.2.3 is dropped" wait_for 8 dropped 192.0.2.3
check "and waits to be recorded with the others" wait_for 8 sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE sanctions --json | jq -e '[.sanctions[] | select(.held != true) | .address] | index(\"192.0.2.3\") == null' >/dev/null"
kill -9 $(pactod_pids)
sleep 0.2
rm -f "$STATE/filler"
check "pactod restarts on the same ledger" start_pactod
check "the restart read 192.0.2.3's lines again and recorded its sanction" wait_sanctioned "$STATE" 192.0.2.3
check "192.0.2.3 is dropped" dropped 192.0.2.3
check "every sanction is in the ledger once: 184" sh -c "ip netns exec $DEF $BUILD/pacto --state-dir $STATE sanctions --json | jq -e '[.sanctions[].address] | (length == 184) and (unique | length == 184)' >/dev/null"
