# test_ledger_held.sh: a sanction enforced but held by the recorder (the
# ledger refuses writes) is in force like a recorded one. Two manual
# sanctions of an hour are held; alpha reports the first for 60 s (a
# shorter term must not cut the drop) and the second for 2 h (the round
# stretches the drop); both rounds fail and are undone, and the kernel
# elements follow what the ledger holds plus what waits to be recorded:
# both addresses stay dropped, to the held sanctions' end. When space
# returns and they are written late, the elements still end then, and
# alpha's reports, delivered again, are applied on top. An element of a
# held sanction deleted by hand is added again, as a recorded one's is.
# The table deleted with nft is restored with the held sanctions in it,
# and after pacto reload the engine still knows a held sanction (the
# address's failures do not sanction it again).
# bravo runs pactod with real nftables in its own network namespace (a
# nats-server on its loopback); its state directory is a 1 MiB tmpfs in a
# mount namespace of this test's own, which a file fills (as
# test_alliance_ledger_full).
# Addresses: 10.50.0.0/22, 10.60.0.1-2 and 203.0.113.1, in namespaces this
# script creates.
if [ -z "${PACTO_MNTNS:-}" ]; then
	PACTO_MNTNS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
. "$PACTO_TOP/tests/integration/lib.sh"
. "$PACTO_TOP/tests/integration/alliance_lib.sh"

alliance_host lheld

cleanup() {
	kill_namespace "$NS"
	umount "$STATE" 2>/dev/null
	finish
}
trap cleanup EXIT

SHORT=10.60.0.1   # alpha reports it for 60 s
LONG=10.60.0.2    # alpha reports it for 2 h
HOUR=3600

start() {
	mkdir -p "$STATE" && mount -t tmpfs -o size=1m,mode=0750 pacto-test "$STATE" || return 1
	start_alliance_host
}
fill() { dd if=/dev/zero of="$STATE/filler" bs=4k >/dev/null 2>&1; sync; }
ledger_errors() { ctl status --json | jq '.ledger.errors'; }
held() { ctl status --json | jq '.ledger.held'; }
received() { ctl allies --json | jq '.link.received'; }
# left_s ADDRESS: the seconds left to its kernel element (nothing when absent).
left_s() {
	in_ns nft -j list set inet pacto v4 | jq --arg a "$1" '[.. | objects | select(.val? == $a) | .expires][0] // empty'
}
# dropped_for ADDRESS MIN MAX: ADDRESS is dropped, for MIN to MAX seconds more.
dropped_for() { l=$(left_s "$1") && [ -n "$l" ] && [ "$l" -ge "$2" ] && [ "$l" -le "$3" ]; }
# about_an_hour ADDRESS: dropped to about the end of its manual sanction.
about_an_hour() { dropped_for "$1" $((HOUR - 300)) $HOUR; }
# in_ledger ADDRESS ORIGIN-PREFIX: the ledger lists a sanction of ADDRESS
# in force, from an origin starting so.
in_ledger() {
	ctl sanctions --json | jq -e --arg a "$1" --arg o "$2" \
		'[.sanctions[] | select(.address == $a and (.origin | startswith($o)))] | length > 0' >/dev/null
}
received_more_than() { [ "$(received)" -gt "$1" ]; }
# report ADDRESS SEQ DURATION: alpha's report; waits until it arrives and
# its round is undone (one more "delivered again" in the log).
report() {
	before=$(received) undone=$(grep -c "will be delivered again" "$SCRATCH/pactod.log")
	publish_as alpha --seq "$2" --address "$1" --duration "$3" >/dev/null &&
		wait_for 10 received_more_than "$before" && sleep 1 &&
		[ "$(grep -c "will be delivered again" "$SCRATCH/pactod.log")" -gt "$undone" ]
}

check "a treaty of alpha and bravo" make_treaty alpha bravo -- rate_per_min=100000 burst=100000
if ! check "bravo's pactod (state on a 1 MiB tmpfs) and a nats-server start in a namespace" start; then
	exit 0
fi
publish_as alpha --seq 1 --address 203.0.113.1 >/dev/null
check "with room, alpha's report is applied and recorded" wait_sanctioned "$STATE" 203.0.113.1
sleep 5.5   # the cursor save of the next tick commits before the disk fills

# Reports fill the ledger's free pages until its writes fail.
fill
for k in 0 1 2 3; do
	publish_as alpha --seq $((100 + 1000 * k)) --address "10.50.$k.0" --count 200 >/dev/null ||
		echo "# allyprobe failed"
done
wait_for 20 received_more_than 800
check "disk full: ledger writes fail ($(ledger_errors) errors)" [ "$(ledger_errors)" -gt 0 ]

ctl sanction "$SHORT" --for 1h >/dev/null
ctl sanction "$LONG" --for 1h >/dev/null
both_for_hour() { about_an_hour "$SHORT" && about_an_hour "$LONG"; }
check "pacto sanction $SHORT and $LONG --for 1h are held by the recorder (ledger.held $(held))" [ "$(held)" -ge 2 ]
check "and dropped for an hour ($(left_s $SHORT), $(left_s $LONG) s left)" both_for_hour

check "alpha's report of $SHORT for 60 s arrives, its round fails and is undone" report "$SHORT" 5000 60
check "$SHORT is still dropped for about an hour ($(left_s $SHORT) s left)" about_an_hour "$SHORT"
check "alpha's report of $LONG for 2 h arrives, its round fails and is undone" report "$LONG" 5001 7200
check "$LONG is dropped for about an hour again, the held sanction's end ($(left_s $LONG) s left)" about_an_hour "$LONG"

# nft's own change, not pactod's: the check every 5 s puts back what is
# missing, the held sanctions too.
in_ns nft delete element inet pacto v4 "{ $SHORT }"
gone() { ! in_set "$1"; }
check "$SHORT is deleted by hand from the set while held" gone "$SHORT"
check "$SHORT deleted by hand while held is added again to its end" wait_for 12 about_an_hour "$SHORT"

# The table deleted by hand: pactod restores it, the held sanctions in it.
restores() { ctl status --json | jq '.counters.table_restores'; }
restores_before=$(restores)
in_ns nft delete table inet pacto
restored() { [ "$(restores)" -gt "$restores_before" ] && in_set 203.0.113.1; }
check "the table deleted with nft is restored from the ledger" wait_for 12 restored
check "with the held $SHORT and $LONG, to their end ($(left_s $SHORT), $(left_s $LONG) s left)" both_for_hour

# pacto reload: the new engine knows the held sanctions, so their
# address's failures, read after it, do not sanction it again.
sanctions() { ctl status --json | jq '.counters.sanctions'; }
lines_read() { ctl status --json | jq '.engine.lines'; }
check "pacto reload" sh -c "ip netns exec $NS $BUILD/pacto --state-dir $STATE reload >/dev/null"
sanctions_before=$(sanctions) lines_before=$(lines_read)
sshd_failures "$SCRATCH/auth.log" bravo "$SHORT" 6
read_6() { [ "$(lines_read)" -ge $((lines_before + 6)) ]; }
check "after the reload, 6 failures of $SHORT are read" wait_for 5 read_6
sleep 0.5
check "and sanction it no more: it is in force ($(sanctions) sanctions, $sanctions_before before)" \
	[ "$(sanctions)" = "$sanctions_before" ]

rm -f "$STATE/filler"
none_held() { [ "$(held)" = 0 ]; }
check "space back: the held sanctions are recorded late" wait_for 20 none_held
manual_recorded() { in_ledger "$SHORT" manual && in_ledger "$LONG" manual; }
check "the ledger lists the manual sanctions" manual_recorded
check "and the kernel still drops both to their end ($(left_s $SHORT), $(left_s $LONG) s left)" both_for_hour
ally_recorded() { in_ledger "$SHORT" ally:alpha && in_ledger "$LONG" ally:alpha; }
check "alpha's reports, delivered again, are recorded" wait_for 60 ally_recorded
check "$SHORT's drop is not cut ($(left_s $SHORT) s left)" about_an_hour "$SHORT"
check "$LONG is dropped for alpha's 2 h ($(left_s $LONG) s left)" dropped_for "$LONG" $((2 * HOUR - 300)) $((2 * HOUR))
check "pactod's log holds no sanitizer report" no_sanitizer_report "$SCRATCH/pactod.log"
