# test_pactod_kill9.sh: kill -9 at random moments under load. A writer
# appends attack lines (5 failures from a new address of 198.18.0.0/15,
# ~40 attackers a second) to the watched log while pactod, in a network
# namespace of its own with real nftables, is killed with SIGKILL at a
# random moment (0.1-0.6 s into each round) and restarted, ROUNDS times
# (PACTO_KILL9_ROUNDS, default 25 here; bench/kill9 runs 100). After each
# restart, with the writer paused and pactod caught up:
#  - every sanction acknowledged before the kill (listed by pacto
#    sanctions) is still in the ledger;
#  - no address is sanctioned twice (a line is never counted again after
#    its sanction committed: the cursor commits with it);
#  - the ledger's active sanctions and the elements of nft set v4 are the
#    same addresses (the test-sized set may be listed).
. "$PACTO_TOP/tests/integration/lib.sh"

DEF="pacto-k9-$$"
STATE="$SCRATCH/state"
LOG="$SCRATCH/auth.log"
ROUNDS=${PACTO_KILL9_ROUNDS:-25}
WRITER=

cleanup() {
	[ -n "$WRITER" ] && kill -CONT "$WRITER" 2>/dev/null && kill "$WRITER" 2>/dev/null
	kill_namespace "$DEF"
	finish
}
trap cleanup EXIT

in_def() { ip netns exec "$DEF" "$@"; }
ctl() { in_def "$BUILD/pacto" --state-dir "$STATE" "$@"; }
pactod_pids() {
	for pid in $(ip netns pids "$DEF"); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = pactod ] && echo "$pid"; done
}
start_pactod() {
	in_def "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$LOG" >>"$SCRATCH/pactod.log" 2>&1 &
	for i in $(seq 100); do ctl status >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}
ledger_active() { ctl sanctions --json | jq -r '.sanctions[].address' | sort; }
nft_v4() {
	in_def nft -j list set inet pacto v4 |
		jq -r '.nftables[] | select(.set) | .set.elem[]? | if type == "object" then .elem.val else . end' | sort
}
# settled: the same active list twice, 0.3 s apart (pactod caught up).
settled() {
	prev=
	for i in $(seq 30); do
		cur=$(ledger_active | md5sum)
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		sleep 0.3
	done
	return 1
}

writer() {
	k=0
	while :; do
		a="198.18.$((k / 250)).$((k % 250 + 1))"
		t=$(date -u '+%Y-%m-%dT%H:%M:%S.000000+00:00')
		for i in 1 2 3 4 5; do
			echo "$t def sshd[$((k % 30000 + 1000))]: Failed password for root from $a port $((40000 + i)) ssh2"
		done >>"$LOG"
		k=$((k + 1))
		sleep 0.025
	done
}

if ! ip netns add "$DEF"; then
	not_ok "a network namespace could not be set up (root and iproute2 are required)"
	exit 0
fi
in_def ip link set lo up
: >"$LOG"
check "pactod starts" start_pactod
writer &
WRITER=$!

lost=0 twice=0 disagree=0 restarts=0 acked_total=0
for round in $(seq "$ROUNDS"); do
	sleep "0.$(shuf -i 1-6 -n 1)"
	ledger_active >"$SCRATCH/acked"
	kill -9 $(pactod_pids) 2>/dev/null
	while [ -n "$(pactod_pids)" ]; do sleep 0.01; done
	start_pactod && restarts=$((restarts + 1))
	kill -STOP "$WRITER"
	settled
	ledger_active >"$SCRATCH/after"
	ctl sanctions --json | jq -r '.sanctions[].address' | sort | uniq -d >"$SCRATCH/dups"
	nft_v4 >"$SCRATCH/nft"
	kill -CONT "$WRITER"
	acked_total=$((acked_total + $(wc -l <"$SCRATCH/acked")))
	if [ -n "$(comm -23 "$SCRATCH/acked" "$SCRATCH/after")" ]; then
		lost=$((lost + 1))
		comm -23 "$SCRATCH/acked" "$SCRATCH/after" | sed "s/^/# round $round lost: /" | head -5
	fi
	[ -s "$SCRATCH/dups" ] && { twice=$((twice + 1)); sed "s/^/# round $round twice: /" "$SCRATCH/dups" | head -5; }
	if ! cmp -s "$SCRATCH/after" "$SCRATCH/nft"; then
		disagree=$((disagree + 1))
		diff "$SCRATCH/after" "$SCRATCH/nft" | head -5 | sed "s/^/# round $round ledger vs nft: /"
	fi
done
kill "$WRITER"
WRITER=
echo "# $ROUNDS rounds, $(wc -l <"$SCRATCH/after") sanctions at the end, $acked_total acknowledged checks"
check "pactod restarted after each of the $ROUNDS kill -9" [ "$restarts" -eq "$ROUNDS" ]
check "no acknowledged sanction was lost in any round" [ "$lost" -eq 0 ]
check "no address was sanctioned twice" [ "$twice" -eq 0 ]
check "after each restart the ledger and nft set v4 held the same addresses" [ "$disagree" -eq 0 ]
check "the load was real: over $((ROUNDS * 5)) sanctions at the end" [ "$(wc -l <"$SCRATCH/after")" -gt $((ROUNDS * 5)) ]
