# test_alliance_ledger_full.sh: the disk under the ledger fills up while an
# ally's reports arrive. bravo runs pactod with real nftables in its own
# network namespace (a nats-server on its loopback); its state directory is
# a 1 MiB tmpfs in a mount namespace of this test's own, which a file fills.
# alpha (allyprobe) publishes 800 reports of 10.50.0-3.x, one a message.
# A round whose ledger transaction fails is undone: the kernel keeps only
# what the ledger holds (the same addresses in nft as in `pacto
# sanctions`), the receipt forgets the round, and the messages, not acked,
# come again (JetStream, after its 30 s ack wait). As space returns, and
# before they come again, alpha sends newer reports (its highest sequence
# number moves past theirs): one of a new address, and the lift of
# 203.0.113.3, whose sanction was in the undone rounds. The undone ones are
# then applied when they come, none refused as a replay (each member's
# window of sequence numbers, receipt.c): all 800 in the ledger and in
# nft, and `pacto why` knows them; but the late sanction of 203.0.113.3
# does not override alpha's newer lift (superseded). After a restart the
# window holds (the ledger keeps it). Then bravo's own report is
# acknowledged by the broker in a round whose commit fails: it is marked in
# the ledger once space is back. Last, a window cut short in the ledger is
# found out at start. Addresses: 10.50.0.0/22, 203.0.113.1-6
# (reports only) and 192.0.2.77 (bravo's own), in namespaces this script
# creates.
if [ -z "${PACTO_MNTNS:-}" ]; then
	PACTO_MNTNS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host afull

cleanup() {
	kill_namespace "$NS"
	umount "$STATE" 2>/dev/null
	finish
}
trap cleanup EXIT

# in_nft / in_ledger: how many addresses of 10.50.0.0/22 the kernel drops,
# the ledger lists as sanctions in force.
in_nft() { in_ns nft -j list set inet pacto v4 | jq '[.. | strings | select(startswith("10.50."))] | length'; }
in_ledger() { ctl sanctions --json | jq '[.sanctions[].address | select(startswith("10.50."))] | length'; }
replays() { ctl allies --json | jq '.members[] | select(.id == "alpha") | .refused.replay // 0'; }
ledger_errors() { ctl status --json | jq '.ledger.errors'; }
received() { ctl allies --json | jq '.link.received'; }

start() {
	mkdir -p "$STATE" && mount -t tmpfs -o size=1m,mode=0750 pacto-test "$STATE" || return 1
	start_alliance_host
}
fill() { dd if=/dev/zero of="$STATE/filler" bs=4k >/dev/null 2>&1; sync; }
agree() { n=$(in_nft) && l=$(in_ledger) && [ -n "$n" ] && [ "$n" = "$l" ]; }
all_in() { [ "$(in_ledger)" = 800 ] && [ "$(in_nft)" = 800 ]; }

check "a treaty of alpha and bravo" make_treaty alpha bravo -- rate_per_min=100000 burst=100000
if ! check "bravo's pactod (state on a 1 MiB tmpfs) and a nats-server start in a namespace" start; then
	exit 0
fi
publish_as alpha --seq 1 --address 203.0.113.1 >/dev/null
check "with room, alpha's report is applied and recorded" wait_sanctioned "$STATE" 203.0.113.1
sleep 5.5   # the cursor save of the next tick commits before the disk fills

fill
check "the tmpfs is full" sh -c "[ \$(df --output=avail $STATE | tail -1) -eq 0 ]"
for k in 0 1 2 3; do
	publish_as alpha --seq $((100 + 1000 * k)) --address "10.50.$k.0" --count 200 || echo "# allyprobe failed"
done
publish_as alpha --seq 3400 --address 203.0.113.3 >/dev/null || echo "# allyprobe failed"
wait_for 20 sh -c "[ \$(ip netns exec $NS $BUILD/pacto --state-dir $STATE allies --json | jq .link.received) -ge 802 ]"
sleep 1
nft_full=$(in_nft) ledger_full=$(in_ledger)
check "disk full: ledger writes fail ($(ledger_errors) errors)" [ "$(ledger_errors)" -gt 0 ]
check "some reports could not be recorded ($ledger_full of 800 in the ledger)" [ "$ledger_full" -lt 800 ]
same_full() { [ -n "$nft_full" ] && [ "$nft_full" = "$ledger_full" ]; }
check "the kernel drops what the ledger holds, no more ($nft_full in nft, $ledger_full in the ledger)" same_full
check "the log says the firewall was set back to the ledger" \
	grep -q "set back to what the ledger holds" "$SCRATCH/pactod.log"

rm -f "$STATE/filler"
# At once, well within the 30 s before the undone messages come again.
publish_as alpha --seq 3500 --address 203.0.113.2 >/dev/null
publish_as alpha --seq 3501 --address 203.0.113.3 --lift >/dev/null
check "space back: alpha's newer report is applied first" wait_for 10 in_set 203.0.113.2
check "space back: the messages come again and all 800 are recorded and dropped" wait_for 60 all_in
check "none of them was refused as a replay ($(replays))" [ "$(replays)" = 0 ]
superseded() {
	ctl why 203.0.113.3 --json | jq -e '[.reports[] | select(.seq == 3400 and .verdict == "refused" and
		.reason == "superseded")] | length == 1' >/dev/null
}
check "the late sanction of 203.0.113.3 is refused: alpha's newer lift stands (superseded)" wait_for 40 superseded
check "and 203.0.113.3 is not dropped" sh -c "! ip netns exec $NS nft get element inet pacto v4 '{ 203.0.113.3 }' \
	>/dev/null 2>&1"
check "pacto why knows the last of them" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE why 10.50.3.199 |
	grep -q 'reported by alpha'"
check "the kernel still agrees with the ledger" agree

# The window is in the ledger: after a restart, a number taken is still a
# replay, one never taken (between two taken) is taken, and alpha's lift
# of 203.0.113.3 still supersedes its older sanction.
check "bravo's pactod restarts" restart_alliance_host
verdict() {
	ctl why "$1" --json | jq -e --argjson s "$2" --arg v "$3" --arg r "$4" \
		'[.reports[] | select(.seq == $s and .verdict == $v and .reason == $r)] | length == 1' >/dev/null
}
publish_as alpha --seq 150 --address 203.0.113.5 >/dev/null
publish_as alpha --seq 3450 --address 203.0.113.4 >/dev/null
publish_as alpha --seq 3399 --address 203.0.113.3 >/dev/null
check "after the restart, a number taken before is refused as a replay" wait_for 10 verdict 203.0.113.5 150 refused replay
check "one never taken, below the highest, is applied" wait_for 10 in_set 203.0.113.4
check "and alpha's older sanction of 203.0.113.3 is superseded by its lift" \
	wait_for 10 verdict 203.0.113.3 3399 refused superseded
check "203.0.113.3 and 203.0.113.5 are not dropped" sh -c "! ip netns exec $NS nft get element inet pacto v4 \
	'{ 203.0.113.3 }' >/dev/null 2>&1 && ! ip netns exec $NS nft get element inet pacto v4 '{ 203.0.113.5 }' \
	>/dev/null 2>&1"

# bravo's own report, published while its ledger refuses every commit: the
# broker's ack is taken in a round that is rolled back. It must still be
# marked once the ledger takes writes again (before, the row stayed pending
# until a restart published it again). pactod's checkpoints follow each
# of its commits, so SQLite starts its WAL over at the next write, into
# the space the file has already, and small commits succeed on a full
# disk; writes of the script's own (no checkpoint follows them), then a
# read transaction left open, keep the WAL from starting over: every
# commit then grows it, and fails.
outbox_pending() { ctl allies --json | jq '.outbox_pending'; }
link_acked() { ctl allies --json | jq '.link.acked'; }
acked_before=$(link_acked)
nats_stop
ctl sanction 192.0.2.77 --for 1h >/dev/null
check "bravo's own sanction is recorded, its report waits in the outbox (link down)" \
	[ "$(outbox_pending)" = 1 ]
hold_wal 20 "UPDATE ally SET last_time_us = last_time_us + 1;" "UPDATE ally SET last_time_us = last_time_us - 1;"
sleep 1
fill
nats_start "$NS" 127.0.0.1 4222
acked_more() { [ "$(link_acked)" -gt "$acked_before" ]; }
check "the link back, the broker acknowledges bravo's report" wait_for 20 acked_more
sleep 2
check "the ledger could not mark it ($(outbox_pending) pending)" [ "$(outbox_pending)" = 1 ]
wait "$reader"
rm -f "$STATE/filler"
none_pending() { [ "$(outbox_pending)" = 0 ]; }
wait_for 10 none_pending
check "space back: the acknowledged report is marked, the outbox is empty ($(outbox_pending) pending)" none_pending

# A damaged ledger: alpha's window cut short at a multiple of 4 bytes (a
# tag a number, as schema 4 kept it, took that for a shorter window and
# freed numbers taken). Found out at start and logged; every number up to
# alpha's highest then counts as taken: 3460, never taken, is refused.
restart_cut() {
	pid=$(host_pactod_pid)
	[ -n "$pid" ] && kill "$pid" || return 1
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	sqlite3 "$STATE/ledger.db" "UPDATE ally SET taken = substr(taken, 1, 1000) WHERE member = 'alpha';
		SELECT length(taken) FROM ally WHERE member = 'alpha'" | grep -qx 1000 || return 1
	in_ns "$BUILD/pactod" --foreground --state-dir "$STATE" --watch "$SCRATCH/auth.log" --treaty "$TREATY" \
		--key "$SCRATCH/bravo.key" --nats "$URL" >>"$SCRATCH/pactod.log" 2>&1 &
	wait_for 15 link_ready
}
check "bravo's pactod restarts, alpha's window in the ledger cut to 1000 bytes meanwhile" restart_cut
check "the log says alpha's window is damaged" grep -q "window of alpha's sequence numbers .* is damaged" \
	"$SCRATCH/pactod.log"
publish_as alpha --seq 3460 --address 203.0.113.6 >/dev/null
check "a number never taken below alpha's highest is refused as a replay" \
	wait_for 10 verdict 203.0.113.6 3460 refused replay
check "pactod's log holds no sanitizer report" sh -c "! grep -q 'Sanitizer\|runtime error' $SCRATCH/pactod.log"
